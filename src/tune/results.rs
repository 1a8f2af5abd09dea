//! `TuneResults`: the trials of a finished search, the best one, and the
//! failures.

use super::objective::Objective;
use super::space::SearchSpace;
use super::trial::{Trial, TrialStatus};
use super::values::HyperParameters;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What a search found: every trial in order, and views of them.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneResults {
    pub(crate) objective: Objective,
    pub(crate) strategy: String,
    pub(crate) space: SearchSpace,
    pub(crate) trials: Vec<Trial>,
    pub(crate) log_file: Option<PathBuf>,
}

impl TuneResults {
    pub(crate) fn new(
        objective: Objective,
        strategy: String,
        space: SearchSpace,
        trials: Vec<Trial>,
        log_file: Option<PathBuf>,
    ) -> Self {
        TuneResults {
            objective,
            strategy,
            space,
            trials,
            log_file,
        }
    }

    /// Every trial, in index order.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// The objective searched for.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// The strategy's name.
    pub fn strategy(&self) -> &str {
        &self.strategy
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// The results log, when the search had one.
    pub fn log_file(&self) -> Option<&Path> {
        self.log_file.as_deref()
    }

    /// Trials best first: complete ones by objective (ties by index), then
    /// pruned ones by objective, then failed ones by index.
    pub fn ranked(&self) -> Vec<&Trial> {
        let mut order: Vec<&Trial> = self.trials.iter().collect();
        let group = |t: &Trial| match t.status {
            TrialStatus::Complete => 0,
            TrialStatus::Pruned => 1,
            TrialStatus::Failed => 2,
        };
        order.sort_by(|a, b| {
            group(a).cmp(&group(b)).then_with(|| {
                let key = |t: &Trial| {
                    t.objective
                        .filter(|v| v.is_finite())
                        .map_or(f64::INFINITY, |v| self.objective.as_loss(v))
                };
                key(a).total_cmp(&key(b)).then(a.index.cmp(&b.index))
            })
        });
        order
    }

    /// The complete trial with the best objective (the first one on a tie).
    pub fn best_trial(&self) -> Option<&Trial> {
        self.ranked()
            .into_iter()
            .next()
            .filter(|t| t.complete_objective().is_some())
    }

    /// The best trial's hyperparameters and seed; an error when no trial
    /// completed, listing why the failed ones failed.
    pub fn best_hyperparameters(&self) -> Result<HyperParameters> {
        match self.best_trial() {
            Some(t) => Ok(HyperParameters::new(t.seed, t.params.clone())),
            None => {
                let failures: Vec<String> = self
                    .failures()
                    .iter()
                    .take(3)
                    .map(|t| format!("trial {}: {}", t.index, t.error.as_deref().unwrap_or("?")))
                    .collect();
                Err(Error::Model(format!(
                    "tune: no trial of {} completed{}",
                    self.trials.len(),
                    if failures.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", failures.join("; "))
                    }
                )))
            }
        }
    }

    /// The failed trials (their [`Trial::error`] says why).
    pub fn failures(&self) -> Vec<&Trial> {
        self.trials
            .iter()
            .filter(|t| t.status == TrialStatus::Failed)
            .collect()
    }

    /// The results table of the `rows` best trials (keras-tuner's
    /// `results_summary`), failures listed below it. See [`super::Tuner`].
    pub fn summary(&self, rows: usize) -> String {
        super::table::summary(self, rows)
    }
}
