//! Median pruning: stop a trial whose best value so far is worse than the
//! median of the finished trials at the same step (Optuna's `MedianPruner`).

/// Stops hopeless trials early, as Optuna's `MedianPruner`: at step `s`
/// (an epoch; in cross-validation the epochs of the folds one after
/// another), a trial whose best reported objective so far is worse than
/// the median of the complete trials' values at step `s` is stopped —
/// once at least `startup_trials` trials are complete and after
/// `warmup_steps` steps. Only trials of earlier waves count, so decisions
/// do not depend on timing.
///
/// ```
/// use neurite::tune::{MedianPruner, Objective};
/// let p = MedianPruner::new().startup_trials(2);
/// let finished = vec![vec![0.5, 0.6, 0.7], vec![0.6, 0.7, 0.8], vec![0.7, 0.8, 0.9]];
/// let max = Objective::max("val_accuracy");
/// assert!(p.should_prune(&max, &finished, &[0.3, 0.4]));   // median at step 1 is 0.7
/// assert!(!p.should_prune(&max, &finished, &[0.3, 0.75]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MedianPruner {
    startup_trials: usize,
    warmup_steps: usize,
}

impl Default for MedianPruner {
    fn default() -> Self {
        MedianPruner::new()
    }
}

impl MedianPruner {
    /// Optuna's defaults: 5 start-up trials, no warm-up steps.
    pub fn new() -> Self {
        MedianPruner {
            startup_trials: 5,
            warmup_steps: 0,
        }
    }

    /// Complete trials needed before anything is pruned.
    pub fn startup_trials(mut self, n: usize) -> Self {
        self.startup_trials = n;
        self
    }

    /// Steps every trial runs before it may be pruned.
    pub fn warmup_steps(mut self, n: usize) -> Self {
        self.warmup_steps = n;
        self
    }

    /// Whether a trial that reported `values` (one per step so far) should
    /// stop, given the complete trials' reported values.
    pub fn should_prune(&self, objective: &super::Objective, finished: &[Vec<f64>], values: &[f64]) -> bool {
        let Some(step) = values.len().checked_sub(1) else {
            return false;
        };
        if finished.len() < self.startup_trials || step < self.warmup_steps {
            return false;
        }
        let mut at_step: Vec<f64> = finished
            .iter()
            .filter_map(|v| v.get(step).copied())
            .filter(|v| v.is_finite())
            .collect();
        if at_step.is_empty() {
            return false;
        }
        at_step.sort_by(f64::total_cmp);
        let mid = at_step.len() / 2;
        let median = if at_step.len() % 2 == 1 {
            at_step[mid]
        } else {
            (at_step[mid - 1] + at_step[mid]) / 2.0
        };
        let best = values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(None, |b: Option<f64>, v| match b {
                Some(b) if !objective.is_better(v, b) => Some(b),
                _ => Some(v),
            });
        // A trial that never reported a finite value is pruned.
        best.is_none_or(|b| objective.is_better(median, b))
    }
}
