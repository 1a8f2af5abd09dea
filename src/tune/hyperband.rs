//! Hyperband (Li et al. 2018) and successive halving: many configurations
//! on a small epoch budget, the best ones promoted to larger budgets.

use super::strategy::{stream, Strategy, TrialPlan, WaveContext};
use super::trial::Trial;
use super::values::Value;
use crate::error::{Error, Result};
use neurite_rand::{derive_seed, Generator};
use std::collections::BTreeMap;

/// Hyperband with the budget in epochs, as keras-tuner's `Hyperband`:
/// brackets `s = s_max..=0` (`s_max = floor(log_factor(max_epochs))`), each
/// starting `ceil((s_max+1)/(s+1) * factor^s)` random configurations at
/// `max_epochs / factor^s` epochs, then keeping the best `1/factor` of them
/// at `factor` times the epochs (successive halving) until `max_epochs`.
/// A promoted configuration is trained again from the start with its
/// larger budget and the same seed (keras-tuner continues from a
/// checkpoint instead), so each row of the log is one complete training.
/// [`Hyperband::successive_halving`] runs the most aggressive bracket only.
///
/// ```
/// use neurite::tune::Hyperband;
/// // max_epochs 9, factor 3: brackets of 9 (x1 epoch) -> 3 (x3) -> 1 (x9), 5 (x3) -> 1 (x9), 3 (x9).
/// assert_eq!(Hyperband::new(9).schedule()?.iter().map(|b| b.len()).collect::<Vec<_>>(), [3, 2, 1]);
/// assert_eq!(Hyperband::new(9).schedule()?[0], [(9, 1), (3, 3), (1, 9)]);
/// assert_eq!(Hyperband::new(9).schedule()?[1], [(5, 3), (1, 9)]);
/// assert_eq!(Hyperband::successive_halving(9).schedule()?.len(), 1);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Hyperband {
    max_epochs: usize,
    factor: usize,
    iterations: usize,
    only_first_bracket: bool,
}

impl Hyperband {
    /// Hyperband up to `max_epochs` per configuration, factor 3, one iteration.
    pub fn new(max_epochs: usize) -> Self {
        Hyperband {
            max_epochs,
            factor: 3,
            iterations: 1,
            only_first_bracket: false,
        }
    }

    /// Successive halving: only Hyperband's largest bracket
    /// (`factor^s_max` configurations from `max_epochs / factor^s_max` epochs).
    pub fn successive_halving(max_epochs: usize) -> Self {
        Hyperband {
            only_first_bracket: true,
            ..Hyperband::new(max_epochs)
        }
    }

    /// The reduction factor (keras-tuner's `factor`, at least 2).
    pub fn factor(mut self, factor: usize) -> Self {
        self.factor = factor;
        self
    }

    /// Times the whole set of brackets is run (keras-tuner's `hyperband_iterations`).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Per bracket, its rungs as `(configurations, epochs)` (one iteration).
    pub fn schedule(&self) -> Result<Vec<Vec<(usize, usize)>>> {
        if self.factor < 2 {
            return Err(Error::Input(format!(
                "tune: Hyperband's factor must be at least 2, found {}",
                self.factor
            )));
        }
        if self.max_epochs == 0 || self.iterations == 0 {
            return Err(Error::Input(format!(
                "tune: Hyperband needs max_epochs >= 1 and iterations >= 1, found {} and {}",
                self.max_epochs, self.iterations
            )));
        }
        let eta = self.factor as f64;
        let mut s_max = 0usize;
        while self
            .factor
            .checked_pow(s_max as u32 + 1)
            .is_some_and(|p| p <= self.max_epochs)
        {
            s_max += 1;
        }
        let brackets = if self.only_first_bracket {
            s_max..=s_max
        } else {
            0..=s_max
        };
        Ok(brackets
            .rev()
            .map(|s| {
                let n = ((s_max + 1) as f64 / (s + 1) as f64 * eta.powi(s as i32)).ceil();
                let r = self.max_epochs as f64 / eta.powi(s as i32);
                (0..=s)
                    .map(|i| {
                        let n_i = ((n / eta.powi(i as i32)).floor() as usize).max(1);
                        let r_i = ((r * eta.powi(i as i32)).round() as usize).clamp(1, self.max_epochs);
                        (n_i, r_i)
                    })
                    .collect()
            })
            .collect())
    }
}

/// The configurations of a rung, best first: complete trials by objective,
/// then the others in trial order.
fn ranked<'a>(rung: &'a [Trial], ctx: &WaveContext<'_>) -> Vec<&'a Trial> {
    let mut order: Vec<&Trial> = rung.iter().collect();
    order.sort_by(|a, b| match (a.complete_objective(), b.complete_objective()) {
        (Some(x), Some(y)) => ctx.objective.as_loss(x).total_cmp(&ctx.objective.as_loss(y)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.index.cmp(&b.index),
    });
    order
}

impl Strategy for Hyperband {
    fn name(&self) -> String {
        if self.only_first_bracket {
            format!(
                "successive halving (max_epochs {}, factor {})",
                self.max_epochs, self.factor
            )
        } else {
            format!(
                "hyperband (max_epochs {}, factor {})",
                self.max_epochs, self.factor
            )
        }
    }

    fn next_wave(&self, ctx: &WaveContext<'_>) -> Result<Vec<TrialPlan>> {
        let schedule = self.schedule()?;
        let mut pos = 0usize;
        let mut bracket_id = 0usize;
        for _iteration in 0..self.iterations {
            for rungs in &schedule {
                let b = bracket_id;
                bracket_id += 1;
                let mut configs: Vec<(BTreeMap<String, Value>, u64)> = (0..rungs[0].0)
                    .map(|j| {
                        let mut rng =
                            Generator::for_purpose(ctx.seed, &[stream::HYPERBAND, b as u64, j as u64]);
                        let seed = derive_seed(ctx.seed, &[stream::TRIAL_SEED, b as u64, j as u64]);
                        (ctx.space.sample(&mut rng), seed)
                    })
                    .collect();
                for (i, &(_, epochs)) in rungs.iter().enumerate() {
                    let m = configs.len();
                    let have = ctx.done.len().saturating_sub(pos);
                    if have < m {
                        return Ok(configs[have..m.min(have + ctx.max_trials)]
                            .iter()
                            .map(|(params, seed)| TrialPlan {
                                params: params.clone(),
                                epochs: Some(epochs),
                                seed: Some(*seed),
                                bracket: Some(b),
                                rung: Some(i),
                            })
                            .collect());
                    }
                    let results = &ctx.done[pos..pos + m];
                    pos += m;
                    if let Some(&(keep, _)) = rungs.get(i + 1) {
                        configs = ranked(results, ctx)
                            .into_iter()
                            .take(keep)
                            .map(|t| (t.params.clone(), t.seed))
                            .collect();
                    }
                }
            }
        }
        Ok(Vec::new())
    }
}
