//! `Trial`: one line of the results log — a configuration, its budget and
//! what came of it.

use super::values::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// Trained to the end; its objective counts.
    Complete,
    /// Stopped early by the pruner as hopeless; its objective is the best
    /// value it reported.
    Pruned,
    /// The model-building closure or training returned an error or
    /// panicked (the message is in [`Trial::error`]).
    Failed,
}

/// One trial of a search, as written to the results log (one JSON object
/// per line).
///
/// ```
/// use neurite::tune::{Trial, TrialStatus};
/// let line = r#"{"trial":0,"params":{"units":64},"seed":1,"epochs":3,"status":"complete","objective":0.9}"#;
/// let t: Trial = serde_json::from_str(line)?;
/// assert_eq!(t.status, TrialStatus::Complete);
/// assert_eq!(t.params["units"], neurite::tune::Value::Int(64));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Position in the search (0-based), the order trials were planned in.
    #[serde(rename = "trial")]
    pub index: usize,
    /// The value of every parameter.
    pub params: BTreeMap<String, Value>,
    /// The seed the trial's model was built with.
    pub seed: u64,
    /// Epochs the trial was trained for (its budget).
    pub epochs: usize,
    /// Hyperband's bracket, when the strategy is Hyperband.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bracket: Option<usize>,
    /// Hyperband's rung within the bracket (0 = first, smallest budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rung: Option<usize>,
    /// How it ended.
    pub status: TrialStatus,
    /// The objective's value (`None` for a failed trial).
    #[serde(default)]
    pub objective: Option<f64>,
    /// Every value the trial logged at its end (non-finite ones are left out).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// The objective at each step (epoch) it was reported, when a pruner
    /// watched the trial (non-finite values are written as `null`).
    #[serde(default, with = "finite_or_null")]
    pub intermediate: Vec<f64>,
    /// Why the trial failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall-clock seconds the trial took.
    #[serde(default)]
    pub seconds: f64,
}

impl Trial {
    /// The objective of a trial that counts for the best one (complete, finite).
    pub fn complete_objective(&self) -> Option<f64> {
        match (self.status, self.objective) {
            (TrialStatus::Complete, Some(v)) if v.is_finite() => Some(v),
            _ => None,
        }
    }
}

/// `Vec<f64>` with non-finite values as JSON `null` (read back as NaN).
mod finite_or_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let opts: Vec<Option<f64>> = v.iter().map(|x| x.is_finite().then_some(*x)).collect();
        opts.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let opts = Vec::<Option<f64>>::deserialize(d)?;
        Ok(opts.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}
