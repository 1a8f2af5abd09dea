//! Grid search: every combination of the space's values, in order.

use super::strategy::{Strategy, TrialPlan, WaveContext};
use crate::error::Result;

/// Tries every combination of values ([`SearchSpace::grid`](super::SearchSpace::grid):
/// choices, int steps, stepped floats; the last parameter varies fastest),
/// as keras-tuner's `GridSearch`.
///
/// ```
/// use neurite::tune::{Grid, Objective, Param, Search, SearchSpace};
/// let space = SearchSpace::new().add(Param::int("a", 0, 2))?.add(Param::choice("b", ["x", "y"]))?;
/// let results = Search::new(space, Objective::min("loss")).strategy(Grid::new()).verbose(0)
///     .run(|t| Ok([("loss".to_string(), t.params().get_int("a")? as f64)].into_iter().collect()))?;
/// assert_eq!(results.trials().len(), 6);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Grid {
    max_trials: Option<usize>,
}

impl Grid {
    /// The whole grid.
    pub fn new() -> Self {
        Grid::default()
    }

    /// Stops after the first `n` combinations.
    pub fn max_trials(mut self, n: usize) -> Self {
        self.max_trials = Some(n);
        self
    }
}

impl Strategy for Grid {
    fn name(&self) -> String {
        "grid".into()
    }

    fn next_wave(&self, ctx: &WaveContext<'_>) -> Result<Vec<TrialPlan>> {
        let points = ctx.space.grid()?;
        let end = points.len().min(self.max_trials.unwrap_or(usize::MAX));
        let start = ctx.done.len().min(end);
        Ok(points[start..end.min(start + ctx.max_trials)]
            .iter()
            .cloned()
            .map(TrialPlan::new)
            .collect())
    }
}
