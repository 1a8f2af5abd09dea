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
    /// Records one epoch's logs. Every key keeps exactly one value per
    /// epoch: a key missing from these logs gets `NaN` for this epoch, and
    /// a key seen for the first time gets `NaN` for the epochs before (so
    /// values stay aligned with [`History::epochs`], e.g. a `val_loss`
    /// logged only on some epochs).
    ///
    /// ```
    /// let mut h = neurite::History::default();
    /// h.push(0, &[("loss".to_string(), 0.9)].into_iter().collect());
    /// h.push(1, &[("loss".to_string(), 0.5), ("val_loss".to_string(), 0.7)].into_iter().collect());
    /// h.push(2, &[("val_loss".to_string(), 0.6)].into_iter().collect());
    /// assert!(h.get("val_loss").unwrap()[0].is_nan());
    /// assert_eq!(h.get("val_loss").unwrap()[1..], [0.7, 0.6]);
    /// assert!(h.last("loss").unwrap().is_nan());
    /// ```
    pub fn push(&mut self, epoch: usize, logs: &BTreeMap<String, f64>) {
        let before = self.epochs.len();
        self.epochs.push(epoch);
        for (k, v) in logs {
            let values = self.history.entry(k.clone()).or_default();
            if values.len() < before {
                values.resize(before, f64::NAN);
            }
            values.push(*v);
        }
        for values in self.history.values_mut() {
            if values.len() < before + 1 {
                values.resize(before + 1, f64::NAN);
            }
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

    /// Appends another history (a resumed `fit`), epoch by epoch as
    /// [`History::push`] does, so keys present in only one of them stay
    /// aligned with the epochs (`NaN` where a key has no value).
    ///
    /// ```
    /// let mut a = neurite::History::default();
    /// a.push(0, &[("loss".to_string(), 0.9)].into_iter().collect());
    /// let mut b = neurite::History::default();
    /// b.push(1, &[("loss".to_string(), 0.5), ("val_loss".to_string(), 0.7)].into_iter().collect());
    /// a.extend(b);
    /// assert_eq!(a.epochs, [0, 1]);
    /// assert_eq!(a.get("loss"), Some(&[0.9, 0.5][..]));
    /// assert!(a.get("val_loss").unwrap()[0].is_nan());
    /// ```
    pub fn extend(&mut self, other: History) {
        for (i, &epoch) in other.epochs.iter().enumerate() {
            let logs: BTreeMap<String, f64> = other
                .history
                .iter()
                .filter_map(|(k, v)| v.get(i).map(|&x| (k.clone(), x)))
                .collect();
            self.push(epoch, &logs);
        }
    }
}
