//! A bounded window of recently seen ids, so a re-sent or replayed record is not counted twice.

use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};

/// Remembers the last `capacity` ids (by 64-bit hash; a false duplicate needs a hash
/// collision, about 1 in 10^7 at a million ids). It serializes as its capacity and the
/// hashes, oldest first; the hash is FNV-1a, fixed, so that a window saved by one build is
/// read right by the next (the standard library's `DefaultHasher` may change between Rust
/// releases).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Saved")]
pub struct DedupWindow {
    capacity: usize,
    seen: HashSet<u64>,
    order: VecDeque<u64>,
}

impl DedupWindow {
    pub fn new(capacity: usize) -> Self {
        DedupWindow {
            capacity,
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn key(id: &str) -> u64 {
        id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains(&Self::key(id))
    }

    /// Records an id; the oldest one is forgotten past capacity.
    pub fn insert(&mut self, id: &str) {
        if self.capacity == 0 {
            return;
        }
        let key = Self::key(id);
        if self.seen.insert(key) {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The window as it is saved: the hashes, oldest first, as base64 of their little-endian
/// bytes (10.7 characters a hash, where JSON numbers take 20).
#[derive(Deserialize)]
struct Saved {
    capacity: usize,
    ids: String,
}

impl Serialize for DedupWindow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        use serde::ser::SerializeStruct;
        let bytes: Vec<u8> = self.order.iter().flat_map(|k| k.to_le_bytes()).collect();
        let mut saved = s.serialize_struct("Saved", 2)?;
        saved.serialize_field("capacity", &self.capacity)?;
        saved.serialize_field(
            "ids",
            &base64::engine::general_purpose::STANDARD.encode(bytes),
        )?;
        saved.end()
    }
}

impl TryFrom<Saved> for DedupWindow {
    type Error = String;

    fn try_from(saved: Saved) -> Result<DedupWindow, String> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(saved.ids.as_bytes())
            .map_err(|e| format!("dedup window ids: {e}"))?;
        if bytes.len() % 8 != 0 {
            return Err(format!(
                "dedup window ids: {} bytes, not a whole number of 8-byte hashes",
                bytes.len()
            ));
        }
        let mut w = DedupWindow::new(saved.capacity);
        for key in bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        {
            if w.capacity > 0 && w.seen.insert(key) {
                w.order.push_back(key);
            }
        }
        while w.order.len() > w.capacity {
            if let Some(old) = w.order.pop_front() {
                w.seen.remove(&old);
            }
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_capacity_then_forgets_the_oldest() {
        let mut w = DedupWindow::new(2);
        w.insert("a");
        w.insert("b");
        w.insert("a");
        assert!(w.contains("a") && w.contains("b"));
        w.insert("c");
        assert!(!w.contains("a"));
        assert!(w.contains("b") && w.contains("c"));
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn a_saved_window_reads_back_the_same_and_goes_on_forgetting_in_order() {
        let mut w = DedupWindow::new(3);
        for id in ["a", "b", "c"] {
            w.insert(id);
        }
        let json = serde_json::to_string(&w).unwrap();
        let mut back: DedupWindow = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        back.insert("d");
        assert!(
            !back.contains("a"),
            "the oldest goes first, as before the save"
        );
        assert!(back.contains("b") && back.contains("c") && back.contains("d"));
    }

    #[test]
    fn the_hash_is_fixed_across_builds() {
        // FNV-1a 64 of "a" (a published test vector): a saved window must mean the same ids
        // to the next build
        assert_eq!(DedupWindow::key("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_saved_window_that_is_not_whole_hashes_is_an_error_not_a_panic() {
        for json in [
            r#"{"capacity": 3, "ids": "not base64!"}"#,
            r#"{"capacity": 3, "ids": "AAAA"}"#,
        ] {
            let err = serde_json::from_str::<DedupWindow>(json).unwrap_err();
            assert!(err.to_string().contains("dedup window ids"), "{err}");
        }
    }
}
