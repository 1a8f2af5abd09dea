//! What a search optimises: a logged value and whether higher or lower is better.

use crate::callbacks::Logs;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Whether the objective is maximised or minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher is better (accuracy).
    Max,
    /// Lower is better (a loss).
    Min,
}

/// The value a search optimises (keras-tuner's `Objective`): the name of a
/// logged value (`"val_accuracy"`, `"val_loss"`, ...) and its direction.
///
/// ```
/// use neurite::tune::{Direction, Objective};
/// let o = Objective::max("val_accuracy");
/// assert_eq!(o.direction(), Direction::Max);
/// assert!(o.is_better(0.9, 0.8));
/// assert!(Objective::min("val_loss").is_better(0.1, 0.2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    name: String,
    direction: Direction,
}

impl Objective {
    /// Maximise the logged value `name`.
    pub fn max(name: &str) -> Self {
        Objective {
            name: name.to_string(),
            direction: Direction::Max,
        }
    }

    /// Minimise the logged value `name`.
    pub fn min(name: &str) -> Self {
        Objective {
            name: name.to_string(),
            direction: Direction::Min,
        }
    }

    /// The logged value's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Maximised or minimised.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Whether `a` is strictly better than `b`.
    pub fn is_better(&self, a: f64, b: f64) -> bool {
        match self.direction {
            Direction::Max => a > b,
            Direction::Min => a < b,
        }
    }

    /// The value as a loss (lower is better), for the strategies.
    pub(crate) fn as_loss(&self, v: f64) -> f64 {
        match self.direction {
            Direction::Max => -v,
            Direction::Min => v,
        }
    }

    /// The objective's value in `logs`, or an error naming it and listing
    /// what is logged.
    ///
    /// ```
    /// use neurite::tune::Objective;
    /// let logs = [("loss".to_string(), 0.3), ("accuracy".to_string(), 0.9)].into_iter().collect();
    /// let e = Objective::max("val_accuracy").value_in(&logs).unwrap_err().to_string();
    /// assert!(e.contains("'val_accuracy'") && e.contains("accuracy, loss"), "{e}");
    /// ```
    pub fn value_in(&self, logs: &Logs) -> Result<f64> {
        logs.get(&self.name).copied().ok_or_else(|| {
            let logged: Vec<&str> = logs.keys().map(String::as_str).collect();
            Error::Input(format!(
                "tune: the objective '{}' is not logged; the trial logs: {}{}",
                self.name,
                if logged.is_empty() {
                    "nothing".to_string()
                } else {
                    logged.join(", ")
                },
                if self.name.starts_with("val_") {
                    ""
                } else {
                    " (validation values are named val_*)"
                }
            ))
        })
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = match self.direction {
            Direction::Max => "max",
            Direction::Min => "min",
        };
        write!(f, "{} ({d})", self.name)
    }
}
