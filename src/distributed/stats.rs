//! What the last data-parallel `fit` of this thread measured.

use std::cell::Cell;

/// Counters of the last data-parallel `fit` on this thread
/// ([`last_fit_stats`]): steps, time spent in collective operations, and
/// values all-reduced.
///
/// ```
/// let stats = neurite::distributed::FitStats::default();
/// assert_eq!(stats.communication_per_step(), 0.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FitStats {
    /// Processes in the world (1 when training was not distributed).
    pub world_size: usize,
    /// Training steps taken (gradient all-reduces, or local steps in federated averaging).
    pub steps: u64,
    /// Seconds spent in collective operations (all-reduce, broadcast, gather), waiting included;
    /// for gradient all-reduces that overlap the backward pass, only the
    /// time inside the calls (starting, progressing, and the final wait).
    pub communication_seconds: f64,
    /// f32 values all-reduced (gradients, losses, averaged weights).
    pub reduced_values: u64,
    /// Gradient buckets whose all-reduce started while their step's
    /// backward pass still had ops to run (overlapping them); see
    /// [`set_gradient_bucket_bytes`](super::set_gradient_bucket_bytes).
    pub buckets_sent_during_backward: u64,
}

impl FitStats {
    /// Mean seconds of communication per step (0 before any step).
    ///
    /// ```
    /// let s = neurite::distributed::FitStats { steps: 4, communication_seconds: 0.02, ..Default::default() };
    /// assert!((s.communication_per_step() - 0.005).abs() < 1e-12);
    /// ```
    pub fn communication_per_step(&self) -> f64 {
        if self.steps == 0 {
            0.0
        } else {
            self.communication_seconds / self.steps as f64
        }
    }
}

thread_local! {
    static LAST: Cell<FitStats> = Cell::new(FitStats::default());
}

pub(crate) fn record(stats: FitStats) {
    LAST.with(|l| l.set(stats));
}

/// The counters of the last data-parallel `fit` on this thread (all zero
/// if there was none: single-process training records nothing).
///
/// ```
/// assert_eq!(neurite::distributed::last_fit_stats().steps, 0);
/// ```
pub fn last_fit_stats() -> FitStats {
    LAST.with(Cell::get)
}
