//! The `Strategy` trait: which trials to run next, given the finished ones.

use super::objective::Objective;
use super::space::SearchSpace;
use super::trial::Trial;
use super::values::Value;
use crate::error::Result;
use std::collections::BTreeMap;

/// One trial a strategy asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialPlan {
    /// The value of every parameter.
    pub params: BTreeMap<String, Value>,
    /// Epochs to train for; `None`: the search's `epochs`.
    pub epochs: Option<usize>,
    /// The seed to build the model with; `None`: derived from the search
    /// seed and the trial index (Hyperband keeps a promoted configuration's seed).
    pub seed: Option<u64>,
    /// Hyperband's bracket.
    pub bracket: Option<usize>,
    /// Hyperband's rung.
    pub rung: Option<usize>,
}

impl TrialPlan {
    /// A plan with the search's budget and seed.
    pub fn new(params: BTreeMap<String, Value>) -> Self {
        TrialPlan {
            params,
            epochs: None,
            seed: None,
            bracket: None,
            rung: None,
        }
    }
}

/// What a strategy sees when planning.
pub struct WaveContext<'a> {
    /// The search space.
    pub space: &'a SearchSpace,
    /// The objective (for ranking finished trials).
    pub objective: &'a Objective,
    /// Every finished trial, in index order (`done[i].index == i`).
    pub done: &'a [Trial],
    /// The search seed.
    pub seed: u64,
    /// At most this many trials may be planned (the parallel trial budget).
    pub max_trials: usize,
}

/// A search strategy: plans the next trials ("a wave", run in parallel)
/// from the finished ones. Plans must depend only on the context (never on
/// timing or state kept between calls), so that a search is reproducible
/// and an interrupted one resumes exactly: trial `i` of the results log is
/// planned again as it was the first time.
pub trait Strategy: Send + Sync {
    /// A short name for the results table (`"random"`, `"tpe"`, ...).
    fn name(&self) -> String;

    /// The next trials (at least 1 and at most `ctx.max_trials`), or none
    /// when the search is over.
    fn next_wave(&self, ctx: &WaveContext<'_>) -> Result<Vec<TrialPlan>>;
}

/// Tags of the random streams, so no two purposes share one.
pub(crate) mod stream {
    /// A random configuration for trial `i`.
    pub const SAMPLE: u64 = 0x7475_6e65_0001;
    /// TPE's candidates for trial `i`.
    pub const TPE: u64 = 0x7475_6e65_0002;
    /// A trial's model seed.
    pub const TRIAL_SEED: u64 = 0x7475_6e65_0003;
    /// Hyperband's configurations: bracket, iteration, config.
    pub const HYPERBAND: u64 = 0x7475_6e65_0004;
    /// A fold's model seed within a trial.
    pub const FOLD_SEED: u64 = 0x7475_6e65_0005;
}
