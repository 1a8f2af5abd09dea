//! How the ranks combine their work: gradients every step, or weights every `k` local steps.

use crate::error::{Error, Result};
use std::cell::Cell;

/// How data-parallel training combines the ranks' work.
///
/// ```
/// use neurite::distributed::{set_strategy, strategy, Strategy};
/// set_strategy(Strategy::FederatedAveraging { every: 4 })?;
/// assert_eq!(strategy(), Strategy::FederatedAveraging { every: 4 });
/// assert!(set_strategy(Strategy::FederatedAveraging { every: 0 }).is_err());
/// set_strategy(Strategy::AllReduce)?;
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Synchronous data parallelism (the default): every global batch is
    /// split among the ranks, gradients are summed every step, and training
    /// follows single-process training at the same global batch.
    #[default]
    AllReduce,
    /// Federated averaging (local SGD): each rank trains on its own data
    /// (the arrays it passes to `fit` are its private shard; `batch_size` is
    /// per rank) and the ranks' weights are averaged every `every` local
    /// steps and at the end of every epoch. Optimizer states stay local.
    FederatedAveraging {
        /// Local steps between two averagings (at least 1).
        every: usize,
    },
}

thread_local! {
    static STRATEGY: Cell<Strategy> = const { Cell::new(Strategy::AllReduce) };
}

/// Sets the strategy of the following `fit` calls on this thread (every
/// rank must set the same). Refuses `FederatedAveraging { every: 0 }`.
pub fn set_strategy(strategy: Strategy) -> Result<()> {
    if let Strategy::FederatedAveraging { every: 0 } = strategy {
        return Err(Error::Distributed(
            "FederatedAveraging { every } must be at least 1 local step, found 0".into(),
        ));
    }
    STRATEGY.with(|s| s.set(strategy));
    Ok(())
}

/// The strategy `fit` uses on this thread ([`Strategy::AllReduce`] unless set).
pub fn strategy() -> Strategy {
    current_strategy()
}

pub(crate) fn current_strategy() -> Strategy {
    STRATEGY.with(Cell::get)
}
