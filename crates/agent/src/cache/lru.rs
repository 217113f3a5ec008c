//! A small least-recently-used map with O(log n) touch and eviction.

use std::collections::{BTreeMap, HashMap};

struct Slot<V> {
    value: V,
    used: u64,
}

/// Keys are owned strings; reading with [`Lru::get`] marks the key as used.
pub(super) struct Lru<V> {
    capacity: usize,
    clock: u64,
    slots: HashMap<String, Slot<V>>,
    by_use: BTreeMap<u64, String>,
}

impl<V> Lru<V> {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            clock: 0,
            slots: HashMap::new(),
            by_use: BTreeMap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Reads and marks as most recently used.
    pub(super) fn get(&mut self, key: &str) -> Option<&V> {
        self.clock += 1;
        let slot = self.slots.get_mut(key)?;
        self.by_use.remove(&slot.used);
        slot.used = self.clock;
        self.by_use.insert(self.clock, key.to_owned());
        Some(&slot.value)
    }

    /// Reads without changing recency.
    pub(super) fn peek(&self, key: &str) -> Option<&V> {
        self.slots.get(key).map(|slot| &slot.value)
    }

    /// Mutable access without changing recency.
    pub(super) fn peek_mut(&mut self, key: &str) -> Option<&mut V> {
        self.slots.get_mut(key).map(|slot| &mut slot.value)
    }

    /// Inserts or replaces as most recently used; returns how many entries were evicted to stay
    /// within capacity.
    pub(super) fn insert(&mut self, key: String, value: V) -> usize {
        self.remove(&key);
        self.clock += 1;
        self.by_use.insert(self.clock, key.clone());
        self.slots.insert(
            key,
            Slot {
                value,
                used: self.clock,
            },
        );
        let mut evicted = 0;
        while self.slots.len() > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.slots.remove(&oldest);
            evicted += 1;
        }
        evicted
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<V> {
        let slot = self.slots.remove(key)?;
        self.by_use.remove(&slot.used);
        Some(slot.value)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.slots
            .iter()
            .map(|(key, slot)| (key.as_str(), &slot.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        assert_eq!(lru.insert("a".into(), 1), 0);
        assert_eq!(lru.insert("b".into(), 2), 0);
        assert_eq!(lru.get("a"), Some(&1));
        assert_eq!(lru.insert("c".into(), 3), 1);
        assert_eq!(lru.peek("b"), None);
        assert_eq!(lru.peek("a"), Some(&1));
        assert_eq!(lru.peek("c"), Some(&3));
        assert_eq!(lru.len(), 2);
    }

    #[test]
    fn peek_does_not_refresh_recency_and_replace_keeps_one_slot() {
        let mut lru = Lru::new(2);
        lru.insert("a".into(), 1);
        lru.insert("b".into(), 2);
        assert_eq!(lru.peek("a"), Some(&1));
        if let Some(value) = lru.peek_mut("a") {
            *value = 10;
        }
        lru.insert("c".into(), 3);
        assert_eq!(lru.peek("a"), None);
        assert_eq!(lru.insert("c".into(), 4), 0);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.remove("c"), Some(4));
        assert_eq!(lru.remove("c"), None);
        assert_eq!(lru.iter().count(), 1);
    }
}
