//! Hyperparameter search (keras-tuner and Optuna in one module): a
//! [`SearchSpace`] of named parameters, strategies ([`Grid`], [`Random`],
//! [`Hyperband`] / successive halving, [`Tpe`]), a [`MedianPruner`] for
//! hopeless trials, trials in parallel within a thread budget, a
//! JSON-lines results log to resume from, a results table and SVG
//! pictures. [`Tuner`] trains models (on a validation split, validation
//! data or by cross-validation with any splitter); [`Search`] tunes any
//! function.
//!
//! ```
//! use neurite::tune::{Objective, Param, Search, SearchSpace, Grid};
//! let space = SearchSpace::new().add(Param::int("n", 1, 4))?;
//! let results = Search::new(space, Objective::max("score")).strategy(Grid::new()).verbose(0)
//!     .run(|t| Ok([("score".to_string(), -(t.params().get_int("n")? - 3).pow(2) as f64)].into_iter().collect()))?;
//! assert_eq!(results.best_hyperparameters()?.get_int("n")?, 3);
//! # Ok::<(), neurite::Error>(())
//! ```

mod context;
mod grid;
mod hyperband;
mod log;
mod objective;
mod pictures;
mod pruning;
mod random;
mod results;
mod search;
mod space;
mod strategy;
mod table;
mod tpe;
mod trial;
mod tuner;
mod values;

pub use context::TrialContext;
pub use grid::Grid;
pub use hyperband::Hyperband;
pub use neurite_rand::Generator;
pub use objective::{Direction, Objective};
pub use pruning::MedianPruner;
pub use random::Random;
pub use results::TuneResults;
pub use search::Search;
pub use space::{Domain, Param, SearchSpace, MAX_GRID_POINTS};
pub use strategy::{Strategy, TrialPlan, WaveContext};
pub use tpe::Tpe;
pub use trial::{Trial, TrialStatus};
pub use tuner::{Evaluation, Tuner};
pub use values::{HyperParameters, Value};
