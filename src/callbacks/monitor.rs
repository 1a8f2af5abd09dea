//! Watching a logged value for improvement (shared by EarlyStopping,
//! ModelCheckpoint and ReduceLROnPlateau).

use super::Logs;

/// Whether a monitored value improves by going down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `min` for losses and errors, `max` for accuracies and AUC, from the name (Keras' `auto`).
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

/// Tracks the best value of one logged quantity.
#[derive(Debug, Clone)]
pub(crate) struct Monitor {
    pub(crate) key: String,
    pub(crate) lower_is_better: bool,
    pub(crate) min_delta: f64,
    pub(crate) best: Option<f64>,
    /// Whether the missing-value warning was printed.
    pub(crate) warned: bool,
}

impl Monitor {
    pub(crate) fn new(key: &str, mode: Mode, min_delta: f64) -> Self {
        let lower_is_better = match mode {
            Mode::Min => true,
            Mode::Max => false,
            Mode::Auto => {
                let k = key.trim_start_matches("val_");
                !(k.contains("acc")
                    || k.contains("auc")
                    || k.starts_with("r2")
                    || k.contains("precision")
                    || k.contains("recall")
                    || k.starts_with("f1"))
            }
        };
        Monitor {
            key: key.to_string(),
            lower_is_better,
            min_delta: min_delta.abs(),
            best: None,
            warned: false,
        }
    }

    /// The monitored value, or `None` after warning once on stderr (as Keras
    /// does) when it is not logged — e.g. `val_loss` without validation data.
    pub(crate) fn value_or_warn(&mut self, logs: &Logs, who: &str, consequence: &str) -> Option<f64> {
        let value = logs.get(&self.key).copied();
        if value.is_none() && !self.warned {
            self.warned = true;
            eprintln!(
                "neurite warning: {who} is conditioned on '{}', which is not available (logged: {}); {consequence}",
                self.key,
                logs.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        value
    }

    /// Whether `value` improves on the best so far by more than `min_delta`; records it if so.
    pub(crate) fn improved(&mut self, value: f64) -> bool {
        let better = match self.best {
            None => value.is_finite(),
            Some(best) => {
                if self.lower_is_better {
                    value < best - self.min_delta
                } else {
                    value > best + self.min_delta
                }
            }
        };
        if better {
            self.best = Some(value);
        }
        better
    }
}
