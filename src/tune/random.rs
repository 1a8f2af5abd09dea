//! Random search: independent draws from the space.

use super::strategy::{stream, Strategy, TrialPlan, WaveContext};
use crate::error::Result;
use neurite_rand::Generator;

/// `max_trials` configurations drawn independently (uniform, log-uniform
/// on a log scale), as keras-tuner's `RandomSearch`. Trial `i` draws from
/// its own stream of the search seed, so it is the same in every run.
///
/// ```
/// use neurite::tune::{Objective, Param, Random, Search, SearchSpace};
/// let space = SearchSpace::new().add(Param::float("x", -1.0, 1.0))?;
/// let results = Search::new(space, Objective::min("loss")).strategy(Random::new(8)).verbose(0)
///     .run(|t| Ok([("loss".to_string(), t.params().get_float("x")?.powi(2))].into_iter().collect()))?;
/// assert_eq!(results.trials().len(), 8);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Random {
    max_trials: usize,
}

impl Random {
    /// `max_trials` random configurations.
    pub fn new(max_trials: usize) -> Self {
        Random { max_trials }
    }
}

impl Strategy for Random {
    fn name(&self) -> String {
        "random".into()
    }

    fn next_wave(&self, ctx: &WaveContext<'_>) -> Result<Vec<TrialPlan>> {
        let start = ctx.done.len();
        let end = self.max_trials.min(start + ctx.max_trials);
        Ok((start..end)
            .map(|i| {
                let mut rng = Generator::for_purpose(ctx.seed, &[stream::SAMPLE, i as u64]);
                TrialPlan::new(ctx.space.sample(&mut rng))
            })
            .collect())
    }
}
