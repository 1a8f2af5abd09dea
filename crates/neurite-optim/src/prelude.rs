//! What a hand-written training loop needs from this crate, in one
//! `use neurite_optim::prelude::*;`: the [`Optimizer`] trait and every
//! optimizer, the learning-rate schedules with [`LearningRateSchedule`],
//! gradient clipping, [`zero_grad`], [`OptimizerState`], the config
//! readers and the error type [`OptimError`].
//!
//! The crate's `Result` alias is left out on purpose: a glob import would
//! shadow `std::result::Result` in the importing module.
//!
//! ```
//! use neurite_autograd::Var;
//! use neurite_optim::prelude::*;
//! // Minimise (w - 3)^2.
//! let w = Var::parameter(ndarray::arr1(&[0.0f32]).into_dyn());
//! let mut opt = Sgd::with_schedule(Box::new(ExponentialDecay::new(0.1, 100, 0.9))).build()?;
//! for _ in 0..200 {
//!     let loss = (&w - 3.0).and_then(|d| d.square()).and_then(|d| d.sum_all()).unwrap();
//!     loss.backward().unwrap();
//!     opt.step(&[("w", &w)])?;
//!     zero_grad(&[("w", &w)]);
//! }
//! assert!((w.value()[[0]] - 3.0).abs() < 1e-3);
//! # Ok::<(), OptimError>(())
//! ```

pub use crate::error::OptimError;
pub use crate::{
    clip_grad_global_norm, clip_grad_norm, clip_grad_value, global_grad_norm, optimizer_from_config,
    schedule_from_config, zero_grad, Adagrad, Adam, AdamW, Adamax, Anneal, Constant, CosineDecay,
    ExponentialDecay, InverseTimeDecay, LearningRateSchedule, Nadam, OneCycle, Optimizer, OptimizerState,
    PiecewiseConstantDecay, Rmsprop, Sgd,
};
