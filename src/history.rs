//! `History`: per-epoch training and validation values returned by `fit`.

use std::collections::BTreeMap;

/// Per-epoch values logged by `fit`: `loss`, each metric, their `val_`
/// twins and `lr`, as Keras' `History.history`.
///
/// ```
/// let mut h = neurite::History::default();
/// h.push(0, &[("loss".to_string(), 0.5)].into_iter().collect());
/// assert_eq!(h.get("loss"), Some(&[0.5][..]));
/// assert_eq!(h.last("loss"), Some(0.5));
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// The epochs (0-based) that were run.
    pub epochs: Vec<usize>,
    /// Values by key, one per epoch.
    pub history: BTreeMap<String, Vec<f64>>,
}

impl History {
    /// Records one epoch's logs.
    pub fn push(&mut self, epoch: usize, logs: &BTreeMap<String, f64>) {
        self.epochs.push(epoch);
        for (k, v) in logs {
            self.history.entry(k.clone()).or_default().push(*v);
        }
    }

    /// All values of `key`, one per epoch.
    pub fn get(&self, key: &str) -> Option<&[f64]> {
        self.history.get(key).map(Vec::as_slice)
    }

    /// The last value of `key`.
    pub fn last(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|v| v.last().copied())
    }

    /// Appends another history (a resumed `fit`).
    pub fn extend(&mut self, other: History) {
        self.epochs.extend(other.epochs);
        for (k, v) in other.history {
            self.history.entry(k).or_default().extend(v);
        }
    }
}
