//! `Found`: the anomalies a check collects, by class, with a count of every one and at most
//! `KEEP` explained instances per class (a broken history can have a million lost updates).

use std::collections::BTreeMap;

use crate::checker::Anomaly;

/// How many instances of one class are kept with their explanation.
pub(crate) const KEEP: usize = 1000;

/// Anomalies by class.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub counts: BTreeMap<String, u64>,
    pub kept: BTreeMap<String, Vec<Anomaly>>,
}

impl Found {
    /// Counts one anomaly of `class`; `make` builds its explanation only if it is kept.
    pub fn add(&mut self, class: &str, make: impl FnOnce() -> Anomaly) {
        let n = self.counts.entry(class.to_string()).or_insert(0);
        *n += 1;
        if *n as usize <= KEEP {
            self.kept.entry(class.to_string()).or_default().push(make());
        }
    }
}
