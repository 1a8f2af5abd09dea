//! `TrialContext`: what a trial function is given — its parameters, seed
//! and budget — and how it reports progress to the pruner.

use super::objective::Objective;
use super::pruning::MedianPruner;
use super::values::HyperParameters;
use crate::callbacks::{Callback, Logs, ModelHandle};
use crate::error::{Error, Result};
use std::sync::Mutex;

/// What one trial reported.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    /// The objective at each step.
    pub(crate) values: Vec<f64>,
    /// The pruner stopped the trial.
    pub(crate) pruned: bool,
    /// The objective was missing from reported logs (a setup error that stops the search).
    pub(crate) missing: Option<String>,
}

/// One trial as the trial function sees it (Optuna's `Trial`): its
/// hyperparameters, seed and epoch budget, and [`TrialContext::report`]
/// for the pruner.
pub struct TrialContext<'a> {
    pub(crate) index: usize,
    pub(crate) params: HyperParameters,
    pub(crate) epochs: usize,
    pub(crate) objective: &'a Objective,
    pub(crate) pruner: Option<&'a MedianPruner>,
    /// The complete trials' reported values (earlier waves only).
    pub(crate) finished: &'a [Vec<f64>],
    pub(crate) reports: Mutex<Reports>,
}

impl<'a> TrialContext<'a> {
    /// The trial's position in the search (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The trial's hyperparameters (and model seed, [`HyperParameters::seed`]).
    pub fn params(&self) -> &HyperParameters {
        &self.params
    }

    /// The seed to build the model with.
    pub fn seed(&self) -> u64 {
        self.params.seed()
    }

    /// Epochs to train for (Hyperband's budget, else the search's `epochs`).
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The objective of the search.
    pub fn objective(&self) -> &Objective {
        self.objective
    }

    /// Whether a pruner watches the reports.
    pub fn is_pruning(&self) -> bool {
        self.pruner.is_some()
    }

    /// Reports one step's logs (an epoch's); returns `true` when the trial
    /// should stop because the pruner judged it hopeless (the trial is then
    /// recorded as pruned, whatever the function returns). An error naming
    /// the objective and listing the logs when they lack the objective
    /// (the search stops then: it is a setup error).
    pub fn report(&self, logs: &Logs) -> Result<bool> {
        let mut reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        let value = match self.objective.value_in(logs) {
            Ok(v) => v,
            Err(e) => {
                reports.missing = Some(e.to_string());
                return Err(e);
            }
        };
        reports.values.push(value);
        if let Some(p) = self.pruner {
            if !reports.pruned && p.should_prune(self.objective, self.finished, &reports.values) {
                reports.pruned = true;
            }
        }
        Ok(reports.pruned)
    }

    /// Whether the pruner has stopped this trial.
    pub fn is_pruned(&self) -> bool {
        self.reports.lock().unwrap_or_else(|e| e.into_inner()).pruned
    }

    pub(crate) fn into_reports(self) -> Reports {
        self.reports.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// A `fit` callback that reports every epoch's logs and stops training
/// when the trial is pruned.
pub(crate) struct ReportCallback<'c, 'a> {
    pub(crate) ctx: &'c TrialContext<'a>,
}

impl Callback for ReportCallback<'_, '_> {
    fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, model: &mut dyn ModelHandle) -> Result<()> {
        if self.ctx.report(logs)? {
            model.stop_training();
        }
        Ok(())
    }
}

/// The error a cross-validation fold returns after its trial was pruned.
pub(crate) fn pruned_error() -> Error {
    Error::Model("tune: trial pruned".into())
}
