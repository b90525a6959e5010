//! `Uses`: the multisets of `info` effects a configuration has used up, interned to dense `u32`
//! ids. Configurations then stay small `Copy` values, hashed and compared as integers, instead
//! of each carrying (and copying) its own multiset; the step "one more use of class `c`" is
//! memoized per `(id, class)`, so the common transitions never touch a multiset at all.

use super::fx::FxHashMap;

/// Sorted `(class, count)` pairs with `count > 0`.
type Multiset = Box<[(u32, u32)]>;

/// Interned multisets of used `info` effect classes. Id `0` is the empty multiset.
#[derive(Debug)]
pub(crate) struct Uses {
    sets: Vec<(Multiset, u32)>,
    ids: FxHashMap<Multiset, u32>,
    plus: FxHashMap<(u32, u32), u32>,
}

impl Default for Uses {
    fn default() -> Self {
        let mut u = Uses { sets: Vec::new(), ids: FxHashMap::default(), plus: FxHashMap::default() };
        u.intern(Vec::new());
        u
    }
}

impl Uses {
    fn intern(&mut self, set: Vec<(u32, u32)>) -> u32 {
        if let Some(&id) = self.ids.get(set.as_slice()) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).expect("fewer than 2^32 distinct multisets of used info ops");
        let total = set.iter().map(|e| e.1).sum();
        let set: Multiset = set.into_boxed_slice();
        self.ids.insert(set.clone(), id);
        self.sets.push((set, total));
        id
    }

    /// How many copies of `class` multiset `id` holds.
    pub(crate) fn count(&self, id: u32, class: u32) -> u32 {
        let set = &self.sets[id as usize].0;
        set.binary_search_by_key(&class, |e| e.0).map_or(0, |k| set[k].1)
    }

    /// All copies in multiset `id`.
    pub(crate) fn total(&self, id: u32) -> u32 {
        self.sets[id as usize].1
    }

    /// Multiset `id` with one more copy of `class`.
    pub(crate) fn add(&mut self, id: u32, class: u32) -> u32 {
        if let Some(&next) = self.plus.get(&(id, class)) {
            return next;
        }
        let mut v = self.sets[id as usize].0.to_vec();
        match v.binary_search_by_key(&class, |e| e.0) {
            Ok(k) => v[k].1 += 1,
            Err(k) => v.insert(k, (class, 1)),
        }
        let next = self.intern(v);
        self.plus.insert((id, class), next);
        next
    }

    /// Multiset `id` without any copy of `class` (the class expired).
    pub(crate) fn without(&mut self, id: u32, class: u32) -> u32 {
        let mut v = self.sets[id as usize].0.to_vec();
        v.retain(|e| e.0 != class);
        self.intern(v)
    }

    /// Whether multiset `small` is contained in multiset `big`.
    pub(crate) fn within(&self, small: u32, big: u32) -> bool {
        let (small, big) = (&self.sets[small as usize], &self.sets[big as usize]);
        if small.1 > big.1 {
            return false;
        }
        let mut j = 0;
        for &(c, n) in small.0.iter() {
            while j < big.0.len() && big.0[j].0 < c {
                j += 1;
            }
            if j == big.0.len() || big.0[j].0 != c || big.0[j].1 < n {
                return false;
            }
        }
        true
    }

    /// Number of interned multisets.
    pub(crate) fn len(&self) -> usize {
        self.sets.len()
    }

    /// Estimated heap bytes.
    pub(crate) fn bytes(&self) -> usize {
        let entries: usize = self.sets.iter().map(|s| 8 * s.0.len()).sum();
        2 * entries + 64 * self.sets.len() + 24 * self.plus.len()
    }

    /// Keeps only the multisets `live` refers to, renumbering `live` in place.
    pub(crate) fn compact(&mut self, live: &mut [&mut u32]) {
        let old = std::mem::take(self);
        let mut map: FxHashMap<u32, u32> = FxHashMap::default();
        for id in live.iter_mut() {
            let new = *map.entry(**id).or_insert_with(|| self.intern(old.sets[**id as usize].0.to_vec()));
            **id = new;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_multisets_count_and_compare() {
        let mut u = Uses::default();
        let a = u.add(0, 3);
        let b = u.add(a, 1);
        let one = u.add(0, 1);
        let c = u.add(one, 3);
        assert_eq!(b, c, "the same multiset gets the same id whatever the order");
        let d = u.add(b, 3);
        assert_eq!((u.count(d, 3), u.count(d, 1), u.count(d, 2), u.total(d)), (2, 1, 0, 3));
        assert!(u.within(a, d) && u.within(0, a) && !u.within(d, a));
        assert_eq!(u.without(d, 3), one);
        let (mut x, mut y) = (d, a);
        u.compact(&mut [&mut x, &mut y]);
        assert_eq!(u.len(), 3);
        assert_eq!((u.count(x, 3), u.count(y, 3), u.total(x)), (2, 1, 3));
    }
}
