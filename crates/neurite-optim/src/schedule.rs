//! Learning-rate schedules: the rate as a function of the optimizer's
//! iteration count (0 for the first step), with Keras 3 semantics
//! (PyTorch's for [`OneCycle`]). Rates are computed in `f64` and rounded
//! to `f32` once.

use crate::error::{check_non_negative, check_range, invalid, OptimError, Result};
use serde_json::{json, Value};
use std::f64::consts::PI;

/// A learning rate that depends on the step (the optimizer's iteration
/// count before the update: 0 for the first step).
///
/// ```
/// use neurite_optim::{ExponentialDecay, LearningRateSchedule};
/// let s = ExponentialDecay::new(0.1, 10, 0.5);
/// assert!((s.rate(10) - 0.05).abs() < 1e-8);
/// assert_eq!(s.config()["class_name"], "ExponentialDecay");
/// ```
pub trait LearningRateSchedule: Send + Sync {
    /// The learning rate at `step`.
    fn rate(&self, step: u64) -> f32;
    /// Keras-like serialisation: `{"class_name": ..., "config": {...}}`.
    fn config(&self) -> Value;
    /// Checks the hyper-parameters; optimizers call it before each step.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

fn wrap(class_name: &str, config: Value) -> Value {
    json!({ "class_name": class_name, "config": config })
}

/// A constant learning rate (what a plain number means to an optimizer).
///
/// ```
/// use neurite_optim::{Constant, LearningRateSchedule};
/// assert_eq!(Constant(0.01).rate(1_000_000), 0.01);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant(pub f32);

impl LearningRateSchedule for Constant {
    fn rate(&self, _step: u64) -> f32 {
        self.0
    }
    fn config(&self) -> Value {
        wrap("Constant", json!({ "learning_rate": self.0 }))
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("Constant", "learning_rate", self.0)
    }
}

/// Keras `PiecewiseConstantDecay`: `values[0]` while `step <= boundaries[0]`,
/// `values[i]` while `boundaries[i-1] < step <= boundaries[i]`, and the last
/// value after the last boundary. Needs `values.len() == boundaries.len() + 1`
/// and strictly increasing boundaries.
///
/// ```
/// use neurite_optim::{LearningRateSchedule, PiecewiseConstantDecay};
/// let s = PiecewiseConstantDecay::new(vec![100, 200], vec![1.0, 0.5, 0.1]);
/// assert_eq!((s.rate(100), s.rate(101), s.rate(201)), (1.0, 0.5, 0.1));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PiecewiseConstantDecay {
    boundaries: Vec<u64>,
    values: Vec<f32>,
}

impl PiecewiseConstantDecay {
    /// A step function over `boundaries` (see the type's doc).
    ///
    /// ```
    /// use neurite_optim::{LearningRateSchedule, PiecewiseConstantDecay};
    /// assert!(PiecewiseConstantDecay::new(vec![10], vec![1.0]).validate().is_err());
    /// ```
    pub fn new(boundaries: Vec<u64>, values: Vec<f32>) -> Self {
        Self { boundaries, values }
    }
}

impl LearningRateSchedule for PiecewiseConstantDecay {
    fn rate(&self, step: u64) -> f32 {
        let i = self.boundaries.partition_point(|&b| b < step);
        self.values.get(i).or(self.values.last()).copied().unwrap_or(0.0)
    }
    fn config(&self) -> Value {
        wrap(
            "PiecewiseConstantDecay",
            json!({ "boundaries": self.boundaries, "values": self.values }),
        )
    }
    fn validate(&self) -> Result<()> {
        const O: &str = "PiecewiseConstantDecay";
        if self.values.len() != self.boundaries.len() + 1 {
            return Err(invalid(
                O,
                "values",
                format!(
                    "needs one more value than boundaries: {} boundaries, {} values",
                    self.boundaries.len(),
                    self.values.len()
                ),
            ));
        }
        if self.boundaries.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(
                O,
                "boundaries",
                format!("must increase strictly, got {:?}", self.boundaries),
            ));
        }
        self.values
            .iter()
            .try_for_each(|&v| check_non_negative(O, "values", v))
    }
}

fn decay_exponent(step: u64, decay_steps: u64, staircase: bool) -> f64 {
    let p = step as f64 / decay_steps as f64;
    if staircase {
        p.floor()
    } else {
        p
    }
}

/// Keras `ExponentialDecay`:
/// `initial_learning_rate * decay_rate ^ (step / decay_steps)`, the exponent
/// floored when `staircase`.
///
/// ```
/// use neurite_optim::{ExponentialDecay, LearningRateSchedule};
/// let s = ExponentialDecay::new(1.0, 10, 0.5).staircase(true);
/// assert_eq!((s.rate(9), s.rate(10), s.rate(25)), (1.0, 0.5, 0.25));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExponentialDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    decay_rate: f32,
    staircase: bool,
}

impl ExponentialDecay {
    /// Smooth exponential decay (see the type's doc).
    ///
    /// ```
    /// use neurite_optim::{ExponentialDecay, LearningRateSchedule};
    /// assert!(ExponentialDecay::new(0.1, 0, 0.9).validate().is_err());
    /// ```
    pub fn new(initial_learning_rate: f32, decay_steps: u64, decay_rate: f32) -> Self {
        Self {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
        }
    }
    /// Decays in whole multiples of `decay_steps`.
    ///
    /// ```
    /// use neurite_optim::{ExponentialDecay, LearningRateSchedule};
    /// assert_eq!(ExponentialDecay::new(1.0, 10, 0.5).staircase(true).rate(19), 0.5);
    /// ```
    pub fn staircase(mut self, staircase: bool) -> Self {
        self.staircase = staircase;
        self
    }
}

impl LearningRateSchedule for ExponentialDecay {
    fn rate(&self, step: u64) -> f32 {
        let p = decay_exponent(step, self.decay_steps, self.staircase);
        (self.initial_learning_rate as f64 * (self.decay_rate as f64).powf(p)) as f32
    }
    fn config(&self) -> Value {
        wrap(
            "ExponentialDecay",
            json!({ "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                    "decay_rate": self.decay_rate, "staircase": self.staircase }),
        )
    }
    fn validate(&self) -> Result<()> {
        const O: &str = "ExponentialDecay";
        check_non_negative(O, "initial_learning_rate", self.initial_learning_rate)?;
        check_non_negative(O, "decay_rate", self.decay_rate)?;
        if self.decay_steps == 0 {
            return Err(invalid(O, "decay_steps", "must be > 0, got 0"));
        }
        Ok(())
    }
}

/// Keras `InverseTimeDecay`:
/// `initial_learning_rate / (1 + decay_rate * step / decay_steps)`, the
/// quotient `step / decay_steps` floored when `staircase`.
///
/// ```
/// use neurite_optim::{InverseTimeDecay, LearningRateSchedule};
/// let s = InverseTimeDecay::new(1.0, 10, 0.5);
/// assert_eq!(s.rate(20), 0.5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InverseTimeDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    decay_rate: f32,
    staircase: bool,
}

impl InverseTimeDecay {
    /// Inverse-time decay (see the type's doc).
    ///
    /// ```
    /// use neurite_optim::{InverseTimeDecay, LearningRateSchedule};
    /// assert!(InverseTimeDecay::new(-1.0, 10, 0.5).validate().is_err());
    /// ```
    pub fn new(initial_learning_rate: f32, decay_steps: u64, decay_rate: f32) -> Self {
        Self {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
        }
    }
    /// Decays in whole multiples of `decay_steps`.
    ///
    /// ```
    /// use neurite_optim::{InverseTimeDecay, LearningRateSchedule};
    /// assert_eq!(InverseTimeDecay::new(1.0, 10, 1.0).staircase(true).rate(19), 0.5);
    /// ```
    pub fn staircase(mut self, staircase: bool) -> Self {
        self.staircase = staircase;
        self
    }
}

impl LearningRateSchedule for InverseTimeDecay {
    fn rate(&self, step: u64) -> f32 {
        let p = decay_exponent(step, self.decay_steps, self.staircase);
        (self.initial_learning_rate as f64 / (1.0 + self.decay_rate as f64 * p)) as f32
    }
    fn config(&self) -> Value {
        wrap(
            "InverseTimeDecay",
            json!({ "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                    "decay_rate": self.decay_rate, "staircase": self.staircase }),
        )
    }
    fn validate(&self) -> Result<()> {
        const O: &str = "InverseTimeDecay";
        check_non_negative(O, "initial_learning_rate", self.initial_learning_rate)?;
        check_non_negative(O, "decay_rate", self.decay_rate)?;
        if self.decay_steps == 0 {
            return Err(invalid(O, "decay_steps", "must be > 0, got 0"));
        }
        Ok(())
    }
}

/// Keras 3 `CosineDecay`, with optional linear warmup.
///
/// Without warmup: `s = min(step, decay_steps)`,
/// `rate = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)`.
/// With `warmup(warmup_steps, warmup_target)`: for `step < warmup_steps`
/// the rate goes linearly from `initial` to `warmup_target`
/// (`initial + (target - initial) * step / warmup_steps`); afterwards it is
/// the cosine decay above started from `warmup_target` at
/// `step - warmup_steps` (step capped at `warmup_steps + decay_steps`).
///
/// ```
/// use neurite_optim::{CosineDecay, LearningRateSchedule};
/// let s = CosineDecay::new(0.0, 100).warmup(10, 1.0).alpha(0.1);
/// assert_eq!(s.rate(5), 0.5);             // half-way through the warmup
/// assert_eq!(s.rate(10), 1.0);            // peak
/// assert!((s.rate(60) - 0.55).abs() < 1e-6); // half-way through the decay
/// assert!((s.rate(500) - 0.1).abs() < 1e-7); // alpha * peak at the end
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CosineDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    alpha: f32,
    warmup_target: Option<f32>,
    warmup_steps: u64,
}

impl CosineDecay {
    /// Cosine decay from `initial_learning_rate` to `alpha * initial` over `decay_steps`.
    ///
    /// ```
    /// use neurite_optim::{CosineDecay, LearningRateSchedule};
    /// assert_eq!(CosineDecay::new(1.0, 10).rate(10), 0.0);
    /// ```
    pub fn new(initial_learning_rate: f32, decay_steps: u64) -> Self {
        Self {
            initial_learning_rate,
            decay_steps,
            alpha: 0.0,
            warmup_target: None,
            warmup_steps: 0,
        }
    }
    /// Final rate as a fraction of the decay's starting rate (in `[0, 1]`).
    ///
    /// ```
    /// use neurite_optim::{CosineDecay, LearningRateSchedule};
    /// assert_eq!(CosineDecay::new(1.0, 10).alpha(0.5).rate(10), 0.5);
    /// ```
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }
    /// Linear warmup over `warmup_steps` from the initial rate to `warmup_target`.
    ///
    /// ```
    /// use neurite_optim::{CosineDecay, LearningRateSchedule};
    /// assert_eq!(CosineDecay::new(0.0, 10).warmup(4, 1.0).rate(1), 0.25);
    /// ```
    pub fn warmup(mut self, warmup_steps: u64, warmup_target: f32) -> Self {
        self.warmup_steps = warmup_steps;
        self.warmup_target = Some(warmup_target);
        self
    }
}

impl LearningRateSchedule for CosineDecay {
    fn rate(&self, step: u64) -> f32 {
        let initial = self.initial_learning_rate as f64;
        let decay_steps = self.decay_steps as f64;
        let alpha = self.alpha as f64;
        let decay = |s: f64, from: f64| {
            let cosine = 0.5 * (1.0 + (PI * s / decay_steps).cos());
            from * ((1.0 - alpha) * cosine + alpha)
        };
        let r = match self.warmup_target {
            None => decay((step as f64).min(decay_steps), initial),
            Some(target) => {
                let target = target as f64;
                let warmup = self.warmup_steps as f64;
                let s = (step as f64).min(decay_steps + warmup);
                if s < warmup {
                    (target - initial) * (s / warmup) + initial
                } else {
                    decay(s - warmup, target)
                }
            }
        };
        r as f32
    }
    fn config(&self) -> Value {
        wrap(
            "CosineDecay",
            json!({ "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                    "alpha": self.alpha, "warmup_target": self.warmup_target,
                    "warmup_steps": self.warmup_steps }),
        )
    }
    fn validate(&self) -> Result<()> {
        const O: &str = "CosineDecay";
        check_non_negative(O, "initial_learning_rate", self.initial_learning_rate)?;
        check_range(O, "alpha", self.alpha, 0.0, 1.0, true)?;
        if let Some(t) = self.warmup_target {
            check_non_negative(O, "warmup_target", t)?;
        }
        if self.decay_steps == 0 {
            return Err(invalid(O, "decay_steps", "must be > 0, got 0"));
        }
        Ok(())
    }
}

/// How [`OneCycle`] moves between two rates within a phase.
///
/// ```
/// let a = neurite_optim::Anneal::Cos;
/// assert_ne!(a, neurite_optim::Anneal::Linear);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anneal {
    /// `end + (start - end) / 2 * (1 + cos(pi * pct))` (PyTorch's default).
    Cos,
    /// `start + (end - start) * pct`.
    Linear,
}

/// PyTorch `OneCycleLR` (per-step, learning rate only): warm up from
/// `max_lr / div_factor` to `max_lr` until step `pct_start * total_steps - 1`,
/// then anneal to `max_lr / div_factor / final_div_factor` at step
/// `total_steps - 1` (three-phase: up, back down to the initial rate at
/// `2 * pct_start * total_steps - 2`, then down to the minimum). Steps past
/// `total_steps - 1` keep the final rate (PyTorch raises an error there).
///
/// ```
/// use neurite_optim::{LearningRateSchedule, OneCycle};
/// let s = OneCycle::new(1.0, 100);
/// assert!((s.rate(0) - 0.04).abs() < 1e-7);      // max_lr / 25
/// assert!((s.rate(29) - 1.0).abs() < 1e-7);      // peak at 0.3 * 100 - 1
/// assert!((s.rate(99) - 4e-6).abs() < 1e-10);   // initial / 1e4
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OneCycle {
    max_lr: f32,
    total_steps: u64,
    pct_start: f32,
    anneal: Anneal,
    div_factor: f32,
    final_div_factor: f32,
    three_phase: bool,
}

impl OneCycle {
    /// PyTorch defaults: `pct_start` 0.3, cosine annealing, `div_factor` 25,
    /// `final_div_factor` 1e4, two phases.
    ///
    /// ```
    /// use neurite_optim::{LearningRateSchedule, OneCycle};
    /// assert!(OneCycle::new(0.1, 1).validate().is_err()); // phases need at least one step each
    /// ```
    pub fn new(max_lr: f32, total_steps: u64) -> Self {
        Self {
            max_lr,
            total_steps,
            pct_start: 0.3,
            anneal: Anneal::Cos,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
    /// Fraction of the steps spent increasing the rate, in `(0, 1)`.
    ///
    /// ```
    /// use neurite_optim::{LearningRateSchedule, OneCycle};
    /// assert!((OneCycle::new(1.0, 10).pct_start(0.5).rate(4) - 1.0).abs() < 1e-7);
    /// ```
    pub fn pct_start(mut self, pct_start: f32) -> Self {
        self.pct_start = pct_start;
        self
    }
    /// Cosine or linear annealing.
    ///
    /// ```
    /// use neurite_optim::{Anneal, LearningRateSchedule, OneCycle};
    /// let s = OneCycle::new(1.0, 11).pct_start(0.5).anneal(Anneal::Linear).div_factor(2.0);
    /// assert!((s.rate(0) - 0.5).abs() < 1e-7);
    /// ```
    pub fn anneal(mut self, anneal: Anneal) -> Self {
        self.anneal = anneal;
        self
    }
    /// `initial_lr = max_lr / div_factor`.
    ///
    /// ```
    /// use neurite_optim::{LearningRateSchedule, OneCycle};
    /// assert_eq!(OneCycle::new(1.0, 100).div_factor(10.0).rate(0), 0.1);
    /// ```
    pub fn div_factor(mut self, div_factor: f32) -> Self {
        self.div_factor = div_factor;
        self
    }
    /// `min_lr = initial_lr / final_div_factor`.
    ///
    /// ```
    /// use neurite_optim::{LearningRateSchedule, OneCycle};
    /// assert_eq!(OneCycle::new(1.0, 100).div_factor(10.0).final_div_factor(10.0).rate(99), 0.01);
    /// ```
    pub fn final_div_factor(mut self, final_div_factor: f32) -> Self {
        self.final_div_factor = final_div_factor;
        self
    }
    /// PyTorch's `three_phase`.
    ///
    /// ```
    /// use neurite_optim::{LearningRateSchedule, OneCycle};
    /// let s = OneCycle::new(1.0, 100).pct_start(0.25).three_phase(true);
    /// assert!((s.rate(48) - 0.04).abs() < 1e-6); // back at the initial rate at 2 * 25 - 2
    /// ```
    pub fn three_phase(mut self, three_phase: bool) -> Self {
        self.three_phase = three_phase;
        self
    }

    fn phases(&self) -> Vec<(f64, f64, f64)> {
        let max = self.max_lr as f64;
        let initial = max / self.div_factor as f64;
        let min = initial / self.final_div_factor as f64;
        let up = self.pct_start as f64 * self.total_steps as f64 - 1.0;
        let last = self.total_steps as f64 - 1.0;
        if self.three_phase {
            vec![(up, initial, max), (2.0 * up, max, initial), (last, initial, min)]
        } else {
            vec![(up, initial, max), (last, max, min)]
        }
    }
}

impl LearningRateSchedule for OneCycle {
    fn rate(&self, step: u64) -> f32 {
        let step = step.min(self.total_steps.saturating_sub(1)) as f64;
        let phases = self.phases();
        let mut start_step = 0.0;
        for (i, &(end_step, start_lr, end_lr)) in phases.iter().enumerate() {
            if step <= end_step || i == phases.len() - 1 {
                let span = end_step - start_step;
                let pct = if span > 0.0 {
                    (step - start_step) / span
                } else {
                    1.0
                };
                let r = match self.anneal {
                    Anneal::Cos => end_lr + (start_lr - end_lr) / 2.0 * ((PI * pct).cos() + 1.0),
                    Anneal::Linear => (end_lr - start_lr) * pct + start_lr,
                };
                return r as f32;
            }
            start_step = end_step;
        }
        unreachable!("the last phase always matches")
    }
    fn config(&self) -> Value {
        let anneal = match self.anneal {
            Anneal::Cos => "cos",
            Anneal::Linear => "linear",
        };
        wrap(
            "OneCycle",
            json!({ "max_lr": self.max_lr, "total_steps": self.total_steps, "pct_start": self.pct_start,
                    "anneal_strategy": anneal, "div_factor": self.div_factor,
                    "final_div_factor": self.final_div_factor, "three_phase": self.three_phase }),
        )
    }
    fn validate(&self) -> Result<()> {
        const O: &str = "OneCycle";
        check_non_negative(O, "max_lr", self.max_lr)?;
        if !(self.pct_start > 0.0 && self.pct_start < 1.0) {
            return Err(invalid(
                O,
                "pct_start",
                format!("must be in (0, 1), got {}", self.pct_start),
            ));
        }
        if !(self.div_factor.is_finite() && self.div_factor > 0.0) {
            return Err(invalid(
                O,
                "div_factor",
                format!("must be > 0, got {}", self.div_factor),
            ));
        }
        if !(self.final_div_factor.is_finite() && self.final_div_factor > 0.0) {
            return Err(invalid(
                O,
                "final_div_factor",
                format!("must be > 0, got {}", self.final_div_factor),
            ));
        }
        let (max, initial) = (self.max_lr as f64, self.max_lr as f64 / self.div_factor as f64);
        let min = initial / self.final_div_factor as f64;
        for (key, rate) in [
            ("div_factor", initial),
            ("final_div_factor", min),
            ("max_lr", max),
        ] {
            if !(rate as f32).is_finite() {
                return Err(invalid(
                    O,
                    key,
                    format!("gives a rate {rate} that is not a finite f32"),
                ));
            }
        }
        let mut start = 0.0;
        for (end, _, _) in self.phases() {
            if end <= start {
                return Err(invalid(
                    O,
                    "total_steps",
                    format!(
                        "{} steps with pct_start {} leave a phase without steps",
                        self.total_steps, self.pct_start
                    ),
                ));
            }
            start = end;
        }
        Ok(())
    }
}

fn get_f32(c: &Value, key: &str, owner: &str) -> Result<f32> {
    match c.get(key) {
        Some(v) => v
            .as_f64()
            .map(|v| v as f32)
            .ok_or_else(|| invalid(owner, key, format!("expected a number in config, got {v}"))),
        None => Err(invalid(owner, key, "missing in config")),
    }
}

fn get_u64(c: &Value, key: &str, owner: &str) -> Result<u64> {
    // Integral floats (as some JSON writers emit) are accepted while exact.
    const EXACT: f64 = (1u64 << 53) as f64;
    match c.get(key) {
        Some(v) => v
            .as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| *f >= 0.0 && *f <= EXACT && f.fract() == 0.0)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| {
                invalid(
                    owner,
                    key,
                    format!("expected a non-negative integer in config, got {v}"),
                )
            }),
        None => Err(invalid(owner, key, "missing in config")),
    }
}

fn get_bool(c: &Value, key: &str, owner: &str) -> Result<bool> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(invalid(
            owner,
            key,
            format!("expected a boolean in config, got {other}"),
        )),
    }
}

/// Rebuilds a schedule from what [`LearningRateSchedule::config`] wrote (or
/// a plain number, meaning [`Constant`]). Accepts Keras' class names.
///
/// ```
/// use neurite_optim::{schedule_from_config, CosineDecay, LearningRateSchedule};
/// let s = CosineDecay::new(0.1, 50).alpha(0.2);
/// let back = schedule_from_config(&s.config())?;
/// assert_eq!(back.rate(17), s.rate(17));
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub fn schedule_from_config(value: &Value) -> Result<Box<dyn LearningRateSchedule>> {
    if let Some(lr) = value.as_f64() {
        let s = Constant(lr as f32);
        s.validate()?;
        return Ok(Box::new(s));
    }
    let class = value
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("schedule", "class_name", "missing in config"))?;
    let empty = json!({});
    let c = match value.get("config") {
        None | Some(Value::Null) => &empty,
        Some(c @ Value::Object(_)) => c,
        Some(other) => {
            return Err(invalid(
                class,
                "config",
                format!("expected a JSON object, got {other}"),
            ));
        }
    };
    let s: Box<dyn LearningRateSchedule> = match class {
        "Constant" => Box::new(Constant(get_f32(c, "learning_rate", class)?)),
        "PiecewiseConstantDecay" => {
            let boundaries = c
                .get("boundaries")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(class, "boundaries", "missing in config"))?
                .iter()
                .map(|v| {
                    v.as_u64()
                        .ok_or_else(|| invalid(class, "boundaries", "not an integer"))
                })
                .collect::<Result<Vec<_>>>()?;
            let values = c
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(class, "values", "missing in config"))?
                .iter()
                .map(|v| {
                    v.as_f64()
                        .map(|f| f as f32)
                        .ok_or_else(|| invalid(class, "values", "not a number"))
                })
                .collect::<Result<Vec<_>>>()?;
            Box::new(PiecewiseConstantDecay::new(boundaries, values))
        }
        "ExponentialDecay" => Box::new(
            ExponentialDecay::new(
                get_f32(c, "initial_learning_rate", class)?,
                get_u64(c, "decay_steps", class)?,
                get_f32(c, "decay_rate", class)?,
            )
            .staircase(get_bool(c, "staircase", class)?),
        ),
        "InverseTimeDecay" => Box::new(
            InverseTimeDecay::new(
                get_f32(c, "initial_learning_rate", class)?,
                get_u64(c, "decay_steps", class)?,
                get_f32(c, "decay_rate", class)?,
            )
            .staircase(get_bool(c, "staircase", class)?),
        ),
        "CosineDecay" => {
            let mut s = CosineDecay::new(
                get_f32(c, "initial_learning_rate", class)?,
                get_u64(c, "decay_steps", class)?,
            );
            if c.get("alpha").is_some() {
                s = s.alpha(get_f32(c, "alpha", class)?);
            }
            if c.get("warmup_target").is_some_and(|v| !v.is_null()) {
                let steps = if c.get("warmup_steps").is_some() {
                    get_u64(c, "warmup_steps", class)?
                } else {
                    0
                };
                s = s.warmup(steps, get_f32(c, "warmup_target", class)?);
            }
            Box::new(s)
        }
        "OneCycle" | "OneCycleLR" => {
            let mut s = OneCycle::new(get_f32(c, "max_lr", class)?, get_u64(c, "total_steps", class)?);
            if c.get("pct_start").is_some() {
                s = s.pct_start(get_f32(c, "pct_start", class)?);
            }
            if c.get("div_factor").is_some() {
                s = s.div_factor(get_f32(c, "div_factor", class)?);
            }
            if c.get("final_div_factor").is_some() {
                s = s.final_div_factor(get_f32(c, "final_div_factor", class)?);
            }
            match c.get("anneal_strategy") {
                None | Some(Value::Null) => {}
                Some(Value::String(a)) if a == "cos" => {}
                Some(Value::String(a)) if a == "linear" => s = s.anneal(Anneal::Linear),
                Some(other) => {
                    return Err(invalid(
                        class,
                        "anneal_strategy",
                        format!("expected cos or linear, got {other}"),
                    ));
                }
            }
            Box::new(s.three_phase(get_bool(c, "three_phase", class)?))
        }
        other => {
            return Err(OptimError::InvalidConfig {
                owner: "schedule".into(),
                key: "class_name".into(),
                message: format!("unknown schedule `{other}`"),
            });
        }
    };
    s.validate()?;
    Ok(s)
}
