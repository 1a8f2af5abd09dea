//! # neurite-optim
//!
//! Optimizers for neurite's [`Var`] parameters — SGD (momentum, Nesterov),
//! AdaGrad, RMSprop, Adam (AMSGrad), AdamW, Adamax, Nadam — with the update
//! rules and defaults of Keras 3, learning-rate schedules, gradient
//! clipping, L1/L2 gradient penalties, and a state that saves to
//! safetensors and restores bit-exactly.
//!
//! Every update runs in place (one `ndarray::Zip` pass over weight, gradient
//! and slots per parameter; slots are allocated on a parameter's first
//! step), in parallel for tensors of at least
//! [`DEFAULT_PARALLEL_THRESHOLD`] elements.
//!
//! ```
//! use neurite_autograd::{ops, Var};
//! use neurite_optim::{zero_grad, Adam, CosineDecay, Optimizer};
//!
//! // Minimise (w - 3)^2.
//! let w = Var::parameter(ndarray::arr1(&[0.0f32]).into_dyn());
//! let target = Var::constant(ndarray::arr1(&[3.0f32]).into_dyn());
//! let mut opt = Adam::with_schedule(Box::new(CosineDecay::new(0.1, 500))).clipnorm(10.0).build()?;
//! for _ in 0..500 {
//!     let d = ops::sub(&w, &target)?;
//!     ops::sum_all(&ops::mul(&d, &d)?)?.backward()?; // graph errors convert with `?`
//!     opt.step(&[("w", &w)])?;
//!     zero_grad(&[("w", &w)]);
//! }
//! assert!((w.value()[[0]] - 3.0).abs() < 0.05);
//! # Ok::<(), neurite_optim::OptimError>(())
//! ```

#![warn(missing_docs)]

mod adagrad;
mod adam;
mod adamax;
mod clip;
mod core;
mod error;
mod nadam;
pub mod prelude;
mod rmsprop;
mod schedule;
mod sgd;
mod state;

pub use crate::adagrad::Adagrad;
pub use crate::adam::{Adam, AdamW};
pub use crate::adamax::Adamax;
pub use crate::clip::{clip_grad_global_norm, clip_grad_norm, clip_grad_value, global_grad_norm};
pub use crate::core::{DEFAULT_PARALLEL_THRESHOLD, MAX_ITERATIONS};
pub use crate::error::{OptimError, Result};
pub use crate::nadam::Nadam;
pub use crate::rmsprop::Rmsprop;
pub use crate::schedule::{
    schedule_from_config, Anneal, Constant, CosineDecay, ExponentialDecay, InverseTimeDecay,
    LearningRateSchedule, OneCycle, PiecewiseConstantDecay,
};
pub use crate::sgd::Sgd;
pub use crate::state::{OptimizerState, SAFETENSORS_FORMAT};
/// The array crate of [`OptimizerState`]'s tensors, re-exported so that
/// callers use the same version.
///
/// ```
/// let slot = neurite_optim::ndarray::ArrayD::<f32>::zeros(neurite_optim::ndarray::IxDyn(&[2]));
/// assert_eq!(slot.len(), 2);
/// ```
pub use ndarray;
/// The JSON value type of [`Optimizer::config`], [`optimizer_from_config`]
/// and [`schedule_from_config`], re-exported so that callers use the same
/// version.
///
/// ```
/// use neurite_optim::Optimizer;
/// let config: neurite_optim::serde_json::Value = neurite_optim::Sgd::default().config();
/// assert_eq!(config["name"], "SGD");
/// ```
pub use serde_json;

use neurite_autograd::Var;
use serde_json::Value;

/// An optimizer: updates named parameters from their gradients and keeps
/// per-parameter state ("slots") under those names.
///
/// Optimizers are `Send + Sync`, so a model that owns a `Box<dyn Optimizer>`
/// can be shared between threads (e.g. for inference behind an `Arc`).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{Optimizer, Sgd};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
/// let frozen = Var::parameter(ndarray::arr1(&[5.0f32]).into_dyn()); // no gradient: skipped
/// w.set_grad(Some(ndarray::arr1(&[2.0f32]).into_dyn()));
/// let mut opt: Box<dyn Optimizer> = Box::new(Sgd::new(0.1));
/// opt.step(&[("w", &w), ("frozen", &frozen)])?;
/// assert!((w.value()[[0]] - 0.8).abs() < 1e-6);
/// assert_eq!(frozen.value()[[0]], 5.0);
/// assert_eq!(opt.iterations(), 1);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub trait Optimizer: Send + Sync {
    /// One update of every parameter that has a gradient (parameters
    /// without one are skipped). Increments the iteration count. Checks
    /// everything (hyper-parameters, the learning rate the schedule gives,
    /// duplicate names, gradient and slot shapes, the iteration limit
    /// [`MAX_ITERATIONS`]) before changing anything.
    ///
    /// Gradients are used as they are (NaN or infinite gradients are not
    /// refused, as in Keras and PyTorch), but an update that leaves a
    /// weight or a slot NaN or infinite is an
    /// [`OptimError::NonFiniteUpdate`] naming the first such parameter and
    /// the step: the step has then been applied to every parameter and
    /// counted (the update runs in place), so restore the weights from a
    /// checkpoint before going on.
    ///
    /// ```
    /// use neurite_optim::{OptimError, Optimizer, Sgd};
    /// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// w.set_grad(Some(ndarray::arr1(&[1e30f32]).into_dyn()));
    /// let err = Sgd::new(1e10).step(&[("w", &w)]).unwrap_err();
    /// assert!(matches!(err, OptimError::NonFiniteUpdate { ref parameter, step: 1, .. } if parameter == "w"));
    /// ```
    ///
    /// ```
    /// use neurite_optim::{Optimizer, Sgd};
    /// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// w.set_grad(Some(ndarray::arr1(&[1.0f32, 2.0]).into_dyn())); // wrong shape
    /// assert!(Sgd::new(0.1).step(&[("w", &w)]).is_err());
    /// assert_eq!(w.value()[[0]], 1.0);
    /// ```
    fn step(&mut self, params: &[(&str, &Var)]) -> Result<()>;
    /// The current rate (the schedule evaluated at the current iteration).
    ///
    /// ```
    /// use neurite_optim::{Adam, Optimizer};
    /// assert_eq!(Adam::default().learning_rate(), 0.001);
    /// ```
    fn learning_rate(&self) -> f32;
    /// Replaces the schedule by a constant rate.
    ///
    /// ```
    /// use neurite_optim::{Adam, ExponentialDecay, Optimizer};
    /// let mut opt = Adam::with_schedule(Box::new(ExponentialDecay::new(0.1, 10, 0.5)));
    /// opt.set_learning_rate(0.02);
    /// assert_eq!(opt.config()["learning_rate"].as_f64().unwrap() as f32, 0.02);
    /// ```
    fn set_learning_rate(&mut self, lr: f32);
    /// Number of steps taken.
    ///
    /// ```
    /// use neurite_optim::{Optimizer, Sgd};
    /// let mut opt = Sgd::default();
    /// opt.step(&[])?;
    /// assert_eq!(opt.iterations(), 1);
    /// # Ok::<(), neurite_optim::OptimError>(())
    /// ```
    fn iterations(&self) -> u64;
    /// Keras' name of the optimizer (`"adam"`, `"SGD"`, ...).
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::Sgd::default().name(), "SGD");
    /// ```
    fn name(&self) -> &str;
    /// Hyper-parameters with Keras-like keys (see [`optimizer_from_config`]).
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// let c = neurite_optim::Adam::default().config();
    /// assert_eq!((c["name"].as_str(), c["epsilon"].as_f64()), (Some("adam"), Some(1e-7)));
    /// ```
    fn config(&self) -> Value;
    /// Iteration count, per-parameter slot tensors and optimizer variables.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert!(neurite_optim::Adam::default().state().slots.is_empty());
    /// ```
    fn state(&self) -> OptimizerState;
    /// Restores a state from [`Optimizer::state`]. Refused, leaving the
    /// optimizer unchanged: slots this configuration does not have, missing
    /// slots, slots of one parameter with different shapes, NaN or infinite
    /// values ([`OptimError::NonFiniteState`]), an iteration count beyond
    /// [`MAX_ITERATIONS`], unknown or impossible optimizer-level variables.
    /// Parameters are matched by name at the next step, where a slot whose
    /// shape differs from its parameter is an error; check them now with
    /// [`Optimizer::load_state_checked`].
    ///
    /// ```
    /// use neurite_optim::{Optimizer, OptimizerState};
    /// let mut opt = neurite_optim::Adam::default();
    /// opt.load_state(OptimizerState { iterations: 7, ..Default::default() })?;
    /// assert_eq!(opt.iterations(), 7);
    /// # Ok::<(), neurite_optim::OptimError>(())
    /// ```
    fn load_state(&mut self, state: OptimizerState) -> Result<()>;
    /// Checks, without loading it, that `state` can be right for this
    /// optimizer and for a model whose trainable parameters have the names
    /// (as passed to [`Optimizer::step`]) and shapes `params`: everything
    /// [`OptimizerState::check_against`] checks, plus slot names this
    /// configuration uses (e.g. no `velocity_hat` for Adam without
    /// AMSGrad), a complete set of slots for every parameter that has one,
    /// and the optimizer-level variables (e.g. Nadam's `u_product`).
    ///
    /// The default implementation (for optimizers defined outside this
    /// crate) only does [`OptimizerState::check_against`].
    ///
    /// ```
    /// use neurite_optim::{Adam, OptimError, Optimizer, OptimizerState};
    /// let mut state = OptimizerState { iterations: 3, ..Default::default() };
    /// for slot in ["momentum", "velocity", "velocity_hat"] {
    ///     state.slots.insert(format!("w/{slot}"), ndarray::ArrayD::zeros(ndarray::IxDyn(&[2])));
    /// }
    /// let params: &[(&str, &[usize])] = &[("w", &[2])];
    /// assert!(Adam::default().amsgrad(true).check_state(&state, params).is_ok());
    /// let err = Adam::default().check_state(&state, params).unwrap_err();
    /// assert!(err.to_string().contains("velocity_hat"), "{err}");
    /// let err = Adam::default().amsgrad(true).check_state(&state, &[("w", &[3])]).unwrap_err();
    /// assert!(matches!(err, OptimError::ShapeMismatch { .. }));
    /// ```
    fn check_state(&self, state: &OptimizerState, params: &[(&str, &[usize])]) -> Result<()> {
        state.check_against(params)
    }
    /// [`Optimizer::load_state`] after [`Optimizer::check_state`] against
    /// the parameters it will be used with: every parameter it names must
    /// be among `params`, with the same shape.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_optim::{Adam, OptimError, Optimizer};
    /// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// w.set_grad(Some(ndarray::arr1(&[1.0f32]).into_dyn()));
    /// let mut a = Adam::default();
    /// a.step(&[("w", &w)])?;
    /// let other = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// let err = Adam::default().load_state_checked(a.state(), &[("v", &other)]).unwrap_err();
    /// assert_eq!(err, OptimError::UnknownParameter("w".into()));
    /// # Ok::<(), neurite_optim::OptimError>(())
    /// ```
    fn load_state_checked(&mut self, state: OptimizerState, params: &[(&str, &Var)]) -> Result<()> {
        let shapes: Vec<(&str, Vec<usize>)> = params.iter().map(|(n, v)| (*n, v.shape())).collect();
        let shapes: Vec<(&str, &[usize])> = shapes.iter().map(|(n, s)| (*n, s.as_slice())).collect();
        self.check_state(&state, &shapes)?;
        self.load_state(state)
    }
}

/// Forgets the gradients of `params` (call after each step).
///
/// ```
/// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[1.0f32]).into_dyn()));
/// neurite_optim::zero_grad(&[("w", &w)]);
/// assert!(w.grad().is_none());
/// ```
pub fn zero_grad(params: &[(&str, &Var)]) {
    for (_, var) in params {
        var.zero_grad();
    }
}

fn opt_f32(config: &Value, key: &str) -> Result<Option<f32>> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(|f| Some(f as f32))
            .ok_or_else(|| error::invalid("optimizer config", key, format!("expected a number, got {v}"))),
    }
}

fn opt_f64(config: &Value, key: &str) -> Result<Option<f64>> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| error::invalid("optimizer config", key, format!("expected a number, got {v}"))),
    }
}

fn opt_bool(config: &Value, key: &str) -> Result<Option<bool>> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| error::invalid("optimizer config", key, format!("expected a boolean, got {v}"))),
    }
}

macro_rules! apply_common {
    ($opt:expr, $config:expr) => {{
        let mut o = $opt;
        if let Some(lr) = $config.get("learning_rate") {
            o.common.schedule = schedule_from_config(lr)?;
        }
        if let Some(v) = opt_f32($config, "clipnorm")? {
            o = o.clipnorm(v);
        }
        if let Some(v) = opt_f32($config, "global_clipnorm")? {
            o = o.global_clipnorm(v);
        }
        if let Some(v) = opt_f32($config, "clipvalue")? {
            o = o.clipvalue(v);
        }
        if let Some(v) = opt_f32($config, "weight_decay")? {
            o = o.weight_decay(v);
        }
        if let Some(v) = opt_f32($config, "l1")? {
            o = o.l1(v);
        }
        if let Some(v) = opt_f32($config, "l2")? {
            o = o.l2(v);
        }
        o
    }};
}

/// Keys every optimizer's config may have.
const COMMON_KEYS: &[&str] = &[
    "name",
    "learning_rate",
    "weight_decay",
    "clipnorm",
    "global_clipnorm",
    "clipvalue",
    "l1",
    "l2",
];

/// Keys of Keras 3 optimizer configs for features neurite does not have,
/// with the values that mean "off" (anything else is refused rather than
/// silently ignored). `None`: any value (only meaningful with another key).
const KERAS_ONLY_KEYS: &[(&str, Option<&[Value]>)] = &[
    ("use_ema", Some(&[Value::Null, Value::Bool(false)])),
    ("ema_momentum", None),
    ("ema_overwrite_frequency", None),
    ("loss_scale_factor", Some(&[Value::Null])),
    ("gradient_accumulation_steps", Some(&[Value::Null])),
    ("jit_compile", None),
    ("is_legacy_optimizer", Some(&[Value::Null, Value::Bool(false)])),
];

/// Refuses keys the optimizer `name` does not know (a misspelt key would
/// otherwise be silently ignored) and Keras-only features switched on.
fn check_keys(config: &serde_json::Map<String, Value>, name: &str, own: &[&str]) -> Result<()> {
    for (key, value) in config {
        if COMMON_KEYS.contains(&key.as_str()) || own.contains(&key.as_str()) {
            continue;
        }
        match KERAS_ONLY_KEYS.iter().find(|(k, _)| k == key) {
            Some((_, None)) => {}
            Some((_, Some(off))) if off.contains(value) => {}
            Some((_, Some(off))) => {
                return Err(error::invalid(
                    "optimizer config",
                    key,
                    format!(
                        "Keras' `{key}` is not supported by neurite: expected one of {off:?}, got {value}"
                    ),
                ));
            }
            None => {
                let mut known: Vec<&str> = COMMON_KEYS.iter().chain(own).copied().collect();
                known.sort_unstable();
                return Err(error::invalid(
                    "optimizer config",
                    key,
                    format!("unknown key for optimizer `{name}` (known keys: {known:?})"),
                ));
            }
        }
    }
    Ok(())
}

/// Rebuilds an optimizer from what [`Optimizer::config`] wrote (Keras-like
/// keys; missing keys take Keras' defaults; names as Keras spells them,
/// case-insensitive). The result is validated. Every refusal is an
/// [`OptimError::InvalidConfig`] naming the key: a config that is not an
/// object, a missing or non-string `name`, a value of the wrong type, a
/// value out of range, a key this optimizer does not have (e.g. a
/// misspelling), or a Keras-only feature switched on (`use_ema`, ...).
///
/// ```
/// use neurite_optim::{optimizer_from_config, OptimError, Optimizer, Rmsprop};
/// let opt = Rmsprop::new(0.01).momentum(0.5).centered(true);
/// let back = optimizer_from_config(&opt.config())?;
/// assert_eq!(back.config(), opt.config());
/// let typo = serde_json::json!({"name": "SGD", "momentun": 0.9});
/// let err = optimizer_from_config(&typo).err().unwrap();
/// assert!(matches!(err, OptimError::InvalidConfig { ref key, .. } if key == "momentun"));
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub fn optimizer_from_config(config: &Value) -> Result<Box<dyn Optimizer>> {
    let object = config.as_object().ok_or_else(|| {
        error::invalid(
            "optimizer config",
            "name",
            format!("expected a JSON object with a `name`, got {config}"),
        )
    })?;
    let name = match object.get("name") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(error::invalid(
                "optimizer config",
                "name",
                format!("expected a string, got {other}"),
            ));
        }
        None => return Err(error::invalid("optimizer config", "name", "missing")),
    };
    let own: &[&str] = match name.to_ascii_lowercase().as_str() {
        "sgd" => &["momentum", "nesterov"],
        "adagrad" => &["initial_accumulator_value", "epsilon"],
        "rmsprop" => &["rho", "momentum", "epsilon", "centered"],
        "adam" | "adamw" => &["beta_1", "beta_2", "epsilon", "amsgrad", "pytorch_epsilon"],
        "adamax" | "nadam" => &["beta_1", "beta_2", "epsilon"],
        _ => &[],
    };
    check_keys(object, name, own)?;
    match object.get("learning_rate") {
        None | Some(Value::Number(_)) | Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(error::invalid(
                "optimizer config",
                "learning_rate",
                format!("expected a number or a schedule object, got {other}"),
            ));
        }
    }
    let c = config;
    let f = |k: &str| opt_f64(c, k);
    let opt: Box<dyn Optimizer> = match name.to_ascii_lowercase().as_str() {
        "sgd" => {
            let mut o = apply_common!(Sgd::default(), c);
            if let Some(v) = f("momentum")? {
                o = o.momentum(v);
            }
            if let Some(v) = opt_bool(c, "nesterov")? {
                o = o.nesterov(v);
            }
            Box::new(o.build()?)
        }
        "adagrad" => {
            let mut o = apply_common!(Adagrad::default(), c);
            if let Some(v) = f("initial_accumulator_value")? {
                o = o.initial_accumulator_value(v);
            }
            if let Some(v) = f("epsilon")? {
                o = o.epsilon(v);
            }
            Box::new(o.build()?)
        }
        "rmsprop" => {
            let mut o = apply_common!(Rmsprop::default(), c);
            if let Some(v) = f("rho")? {
                o = o.rho(v);
            }
            if let Some(v) = f("momentum")? {
                o = o.momentum(v);
            }
            if let Some(v) = f("epsilon")? {
                o = o.epsilon(v);
            }
            if let Some(v) = opt_bool(c, "centered")? {
                o = o.centered(v);
            }
            Box::new(o.build()?)
        }
        "adam" | "adamw" => {
            macro_rules! adam_like {
                ($o:expr) => {{
                    let mut o = apply_common!($o, c);
                    if let Some(v) = f("beta_1")? {
                        o = o.beta_1(v);
                    }
                    if let Some(v) = f("beta_2")? {
                        o = o.beta_2(v);
                    }
                    if let Some(v) = f("epsilon")? {
                        o = o.epsilon(v);
                    }
                    if let Some(v) = opt_bool(c, "amsgrad")? {
                        o = o.amsgrad(v);
                    }
                    if let Some(v) = opt_bool(c, "pytorch_epsilon")? {
                        o = o.pytorch_epsilon(v);
                    }
                    Box::new(o.build()?)
                }};
            }
            if name.eq_ignore_ascii_case("adamw") {
                adam_like!(AdamW::default())
            } else {
                adam_like!(Adam::default())
            }
        }
        "adamax" | "nadam" => {
            macro_rules! betas {
                ($o:expr) => {{
                    let mut o = apply_common!($o, c);
                    if let Some(v) = f("beta_1")? {
                        o = o.beta_1(v);
                    }
                    if let Some(v) = f("beta_2")? {
                        o = o.beta_2(v);
                    }
                    if let Some(v) = f("epsilon")? {
                        o = o.epsilon(v);
                    }
                    Box::new(o.build()?)
                }};
            }
            if name.eq_ignore_ascii_case("adamax") {
                betas!(Adamax::default())
            } else {
                betas!(Nadam::default())
            }
        }
        other => {
            return Err(error::invalid(
                "optimizer config",
                "name",
                format!("unknown optimizer `{other}`"),
            ));
        }
    };
    Ok(opt)
}
