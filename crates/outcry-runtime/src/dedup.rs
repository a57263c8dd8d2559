//! A bounded window of recently seen ids, so a re-sent or replayed record is not counted twice.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// Remembers the last `capacity` ids (by 64-bit hash; a false duplicate needs a hash
/// collision, about 1 in 10^7 at a million ids).
#[derive(Debug)]
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
        let mut h = DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
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
}
