//! Which mention ids were written recently, and which are being written right now.
//!
//! A request claims the ids it is about to write while holding the lock in which it checked
//! them, so two requests carrying the same mention (a client that timed out and re-sent while
//! the first write was still waiting for the broker) cannot both write it. The second request
//! does not answer such an id as a duplicate at once: the first write may still fail, and a
//! 2xx must mean the mention is in Kafka. It waits until the first write is settled, then
//! counts the id as a duplicate if it was acknowledged, or claims and writes it itself if not.

use outcry_runtime::dedup::DedupWindow;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

struct Ids {
    written: DedupWindow,
    in_flight: HashSet<String>,
}

/// The dedup window and the ids being written, behind one lock.
pub struct Ledger {
    ids: Mutex<Ids>,
    settled: Notify,
}

/// What [`Ledger::claim`] made of a request's items.
pub struct Claimed<'a, T> {
    /// Claimed by this request: write them, then settle `reservation`.
    pub mine: Vec<T>,
    /// Being written by another request: wait for `settled`, then claim them again.
    pub busy: Vec<T>,
    /// Written recently.
    pub duplicates: usize,
    pub reservation: Reservation<'a>,
}

impl Ledger {
    /// A ledger that remembers the last `capacity` written ids.
    pub fn new(capacity: usize) -> Self {
        Ledger {
            ids: Mutex::new(Ids {
                written: DedupWindow::new(capacity),
                in_flight: HashSet::new(),
            }),
            settled: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ids> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A future that completes when some claimed id is next settled; pass it, pinned, to
    /// [`Ledger::claim`], which arms it under the lock so that no settlement is missed.
    pub fn settled(&self) -> Notified<'_> {
        self.settled.notified()
    }

    /// Sorts `items` (ids unique among them) into written, being written elsewhere, and
    /// claimed by the caller; arms `settled`.
    pub fn claim<'a, T>(
        &'a self,
        items: Vec<T>,
        id: impl Fn(&T) -> &str,
        settled: Pin<&mut Notified<'a>>,
    ) -> Claimed<'a, T> {
        let mut ids = self.lock();
        settled.enable();
        let mut claimed = Claimed {
            mine: Vec::with_capacity(items.len()),
            busy: Vec::new(),
            duplicates: 0,
            reservation: Reservation {
                ledger: self,
                ids: Vec::new(),
            },
        };
        for item in items {
            let key = id(&item);
            if ids.written.contains(key) {
                claimed.duplicates += 1;
            } else if ids.in_flight.contains(key) {
                claimed.busy.push(item);
            } else {
                ids.in_flight.insert(key.to_string());
                claimed.reservation.ids.push(key.to_string());
                claimed.mine.push(item);
            }
        }
        claimed
    }
}

/// The ids a request claimed. Settling moves the acknowledged ones into the dedup window and
/// frees the others for a retry; dropping it unsettled (the client went away mid-write) frees
/// them all, so an id is never left claimed.
pub struct Reservation<'a> {
    ledger: &'a Ledger,
    ids: Vec<String>,
}

impl Reservation<'_> {
    /// Settles the claimed ids, in claim order: `acknowledged[i]` says whether the i-th was
    /// written.
    pub fn settle(mut self, acknowledged: &[bool]) {
        self.release(acknowledged);
    }

    fn release(&mut self, acknowledged: &[bool]) {
        if self.ids.is_empty() {
            return;
        }
        {
            let mut ids = self.ledger.lock();
            for (i, id) in self.ids.drain(..).enumerate() {
                ids.in_flight.remove(&id);
                if acknowledged.get(i).copied().unwrap_or(false) {
                    ids.written.insert(&id);
                }
            }
        }
        self.ledger.settled.notify_waiters();
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.release(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<'a>(ledger: &'a Ledger, ids: &[&'a str]) -> Claimed<'a, &'a str> {
        let settled = std::pin::pin!(ledger.settled());
        ledger.claim(ids.to_vec(), |id| id, settled)
    }

    #[test]
    fn an_id_being_written_is_busy_for_everyone_else() {
        let ledger = Ledger::new(10);
        let first = claim(&ledger, &["a", "b"]);
        assert_eq!(first.mine, vec!["a", "b"]);
        let second = claim(&ledger, &["b", "c"]);
        assert_eq!((second.mine, second.busy), (vec!["c"], vec!["b"]));
    }

    #[test]
    fn acknowledged_ids_become_duplicates_and_failed_ones_free() {
        let ledger = Ledger::new(10);
        claim(&ledger, &["a", "b"])
            .reservation
            .settle(&[true, false]);
        let again = claim(&ledger, &["a", "b"]);
        assert_eq!((again.duplicates, again.mine), (1, vec!["b"]));
    }

    #[test]
    fn an_abandoned_write_frees_its_ids() {
        let ledger = Ledger::new(10);
        drop(claim(&ledger, &["a"]));
        assert_eq!(claim(&ledger, &["a"]).mine, vec!["a"]);
    }

    #[tokio::test]
    async fn waiters_wake_when_the_write_is_settled() {
        let ledger = Ledger::new(10);
        let first = claim(&ledger, &["a"]);
        let mut settled = std::pin::pin!(ledger.settled());
        let second = ledger.claim(vec!["a"], |id| id, settled.as_mut());
        assert_eq!(second.busy, vec!["a"]);
        // settled after the waiter was armed, before it awaits: the wake is not lost
        first.reservation.settle(&[true]);
        tokio::time::timeout(std::time::Duration::from_secs(5), settled)
            .await
            .unwrap();
        assert_eq!(claim(&ledger, &["a"]).duplicates, 1);
    }
}
