//! The search space: named parameters (a choice, an int range with a step,
//! a float range on a linear or log scale), checked when added.

use super::values::Value;
use crate::error::{Error, Result};
use neurite_rand::rand::Rng;
use neurite_rand::Generator;
use std::collections::BTreeMap;

/// The most points [`SearchSpace::grid`] enumerates.
pub const MAX_GRID_POINTS: usize = 1_000_000;

/// What a parameter ranges over.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// One of these values.
    Choice(Vec<Value>),
    /// Integers `low, low + step, ... <= high`; on a log scale sampled
    /// log-uniformly (then put on the step grid).
    Int {
        /// Smallest value.
        low: i64,
        /// Largest value.
        high: i64,
        /// Distance between values.
        step: i64,
        /// Sample on a log scale.
        log: bool,
    },
    /// Reals in `[low, high]`; with a step only `low + k*step` (linear) or
    /// `low * step^k` (log scale, keras-tuner's meaning), `<= high`.
    Float {
        /// Smallest value.
        low: f64,
        /// Largest value.
        high: f64,
        /// Grid step (added on a linear scale, multiplied on a log scale).
        step: Option<f64>,
        /// Sample on a log scale.
        log: bool,
    },
}

/// One named hyperparameter, as keras-tuner's `hp.Choice`, `hp.Int` and
/// `hp.Float`. Checked by [`SearchSpace::add`].
///
/// ```
/// use neurite::tune::Param;
/// let units = Param::int("units", 32, 256).step(32);
/// let lr = Param::float("learning_rate", 1e-4, 1e-2).log();
/// let opt = Param::choice("optimizer", ["adam", "sgd"]);
/// assert_eq!(units.name(), "units");
/// # let _ = (lr, opt);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    name: String,
    domain: Domain,
    /// A step given to a choice (refused by `add`).
    stray_step: bool,
    /// `log()` on a choice (refused by `add`).
    stray_log: bool,
}

impl Param {
    /// One of `values` (strings, ints, floats or bools).
    pub fn choice<V: Into<Value>>(name: &str, values: impl IntoIterator<Item = V>) -> Self {
        Param::with(name, Domain::Choice(values.into_iter().map(Into::into).collect()))
    }

    /// An integer in `[low, high]` (step 1 unless [`Param::step`]).
    pub fn int(name: &str, low: i64, high: i64) -> Self {
        Param::with(
            name,
            Domain::Int {
                low,
                high,
                step: 1,
                log: false,
            },
        )
    }

    /// A real in `[low, high]`, sampled uniformly unless [`Param::log`].
    pub fn float(name: &str, low: f64, high: f64) -> Self {
        Param::with(
            name,
            Domain::Float {
                low,
                high,
                step: None,
                log: false,
            },
        )
    }

    fn with(name: &str, domain: Domain) -> Self {
        Param {
            name: name.to_string(),
            domain,
            stray_step: false,
            stray_log: false,
        }
    }

    /// The grid step: added for an int or a linear float, a factor (> 1)
    /// for a log-scale float, as keras-tuner.
    pub fn step(mut self, step: impl Into<f64>) -> Self {
        let step: f64 = step.into();
        match &mut self.domain {
            Domain::Int { step: s, .. } => {
                // Kept as given when not integral, so that `add` can name it.
                *s = if step.fract() == 0.0 && step.abs() < 9e15 {
                    step as i64
                } else {
                    0
                };
            }
            Domain::Float { step: s, .. } => *s = Some(step),
            Domain::Choice(_) => self.stray_step = true,
        }
        self
    }

    /// Sample on a log scale (the range must be positive).
    pub fn log(mut self) -> Self {
        match &mut self.domain {
            Domain::Int { log, .. } | Domain::Float { log, .. } => *log = true,
            Domain::Choice(_) => self.stray_log = true,
        }
        self
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it ranges over.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Whether it is sampled on a log scale.
    pub fn is_log(&self) -> bool {
        matches!(
            self.domain,
            Domain::Int { log: true, .. } | Domain::Float { log: true, .. }
        )
    }

    fn err(&self, what: &str, message: String) -> Error {
        Error::Input(format!("tune: {what} parameter '{}': {message}", self.name))
    }

    /// The checks of [`SearchSpace::add`].
    fn check(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::Input("tune: a parameter needs a non-empty name".into()));
        }
        match &self.domain {
            Domain::Choice(values) => {
                if self.stray_step || self.stray_log {
                    return Err(self.err("choice", "a choice takes no step and no log scale".into()));
                }
                if values.is_empty() {
                    return Err(self.err("choice", "no values to choose from; give at least one".into()));
                }
                for (i, v) in values.iter().enumerate() {
                    if matches!(v, Value::Float(x) if !x.is_finite()) {
                        return Err(self.err("choice", format!("value {i} is {v}, expected a finite number")));
                    }
                    if values[..i].contains(v) {
                        return Err(self.err("choice", format!("the value {v} is listed twice")));
                    }
                }
            }
            Domain::Int { low, high, step, log } => {
                if low > high {
                    return Err(self.err("int", format!("low {low} > high {high}")));
                }
                if *step <= 0 {
                    return Err(self.err("int", "the step must be a whole number >= 1".into()));
                }
                if *log && *low <= 0 {
                    return Err(self.err(
                        "int",
                        format!("a log scale needs 0 < low <= high, found low {low} (a log range cannot reach or cross zero)"),
                    ));
                }
            }
            Domain::Float { low, high, step, log } => {
                if !low.is_finite() || !high.is_finite() {
                    return Err(self.err("float", format!("low {low} and high {high} must be finite")));
                }
                if low > high {
                    return Err(self.err("float", format!("low {low} > high {high}")));
                }
                if *log && *low <= 0.0 {
                    return Err(self.err(
                        "float",
                        format!("a log scale needs 0 < low <= high, found low {low} (a log range cannot reach or cross zero)"),
                    ));
                }
                match step {
                    Some(s) if *log && !(s.is_finite() && *s > 1.0) => {
                        return Err(self.err("float", format!("a log-scale step is a factor > 1, found {s}")));
                    }
                    Some(s) if !(*log || (s.is_finite() && *s > 0.0)) => {
                        return Err(self.err("float", format!("the step must be > 0, found {s}")));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Number of grid points of a stepped range: `low + k*step` (or
    /// `low*step^k`) for `k < count`.
    fn stepped_count(&self) -> Option<usize> {
        match &self.domain {
            Domain::Choice(v) => Some(v.len()),
            Domain::Int { low, high, step, .. } => Some(((high - low) / step) as usize + 1),
            Domain::Float {
                low,
                high,
                step: Some(s),
                log,
            } => {
                let k = if *log {
                    ((high / low).ln() / s.ln()).floor()
                } else {
                    ((high - low) / s).floor()
                };
                // A few ulps short of a whole step still counts as one (0.1 * 5 < 0.5).
                let k = if *log {
                    if low * s.powf(k + 1.0) <= high * (1.0 + 1e-9) {
                        k + 1.0
                    } else {
                        k
                    }
                } else if low + s * (k + 1.0) <= high + (high - low).abs() * 1e-9 {
                    k + 1.0
                } else {
                    k
                };
                Some((k.max(0.0) as usize).saturating_add(1))
            }
            Domain::Float { step: None, .. } => None,
        }
    }

    /// The `k`-th grid point of a stepped range.
    fn stepped_value(&self, k: usize) -> Value {
        match &self.domain {
            Domain::Choice(v) => v[k].clone(),
            Domain::Int { low, step, .. } => Value::Int(low + k as i64 * step),
            Domain::Float { low, high, step, log } => {
                let s = step.unwrap_or(1.0);
                let v = if *log {
                    low * s.powi(k as i32)
                } else {
                    low + s * k as f64
                };
                Value::Float(v.clamp(*low, *high))
            }
        }
    }

    /// The value at `u` in `[0, 1)`: uniform over choices and steps,
    /// uniform (or log-uniform) over a real range.
    pub(crate) fn value_at_unit(&self, u: f64) -> Value {
        let u = u.clamp(0.0, 1.0);
        match &self.domain {
            Domain::Float { step: None, .. } | Domain::Int { log: true, .. } => {
                let (lo, hi) = self.internal_bounds();
                self.value_at_internal(lo + u * (hi - lo))
            }
            _ => {
                let n = self.stepped_count().unwrap_or(1);
                self.stepped_value(((u * n as f64) as usize).min(n - 1))
            }
        }
    }

    /// The range a numeric parameter is modelled on (TPE, pictures): the
    /// value itself, or its logarithm on a log scale; a choice's index
    /// range `[0, n-1]`.
    pub(crate) fn internal_bounds(&self) -> (f64, f64) {
        match &self.domain {
            Domain::Choice(v) => (0.0, (v.len() - 1) as f64),
            Domain::Int { low, high, log, .. } => {
                if *log {
                    (
                        (*low as f64 - 0.5).max(*low as f64 * 0.5).ln(),
                        (*high as f64 + 0.5).ln(),
                    )
                } else {
                    (*low as f64 - 0.5, *high as f64 + 0.5)
                }
            }
            Domain::Float { low, high, log, .. } => {
                if *log {
                    (low.ln(), high.ln())
                } else {
                    (*low, *high)
                }
            }
        }
    }

    /// A value's position on [`Param::internal_bounds`]' axis; `None` for
    /// a value of another type or a choice not listed.
    pub(crate) fn to_internal(&self, v: &Value) -> Option<f64> {
        match (&self.domain, v) {
            (Domain::Choice(values), v) => values.iter().position(|c| c == v).map(|i| i as f64),
            (Domain::Int { log, .. }, Value::Int(i)) => Some(if *log { (*i as f64).ln() } else { *i as f64 }),
            (Domain::Float { log, .. }, Value::Float(x)) => Some(if *log { x.ln() } else { *x }),
            _ => None,
        }
    }

    /// The value at position `t` of [`Param::internal_bounds`]' axis,
    /// put on the step grid and clamped into the range.
    pub(crate) fn value_at_internal(&self, t: f64) -> Value {
        match &self.domain {
            Domain::Choice(values) => values[(t.round().max(0.0) as usize).min(values.len() - 1)].clone(),
            Domain::Int { low, high, step, log } => {
                let x = if *log { t.exp() } else { t };
                let k = ((x - *low as f64) / *step as f64).round().max(0.0);
                let max_k = (high - low) / step;
                Value::Int(low + (k as i64).min(max_k) * step)
            }
            Domain::Float { low, high, step, log } => {
                let x = if *log { t.exp() } else { t };
                match step {
                    None => Value::Float(x.clamp(*low, *high)),
                    Some(s) => {
                        let k = if *log {
                            ((x / low).ln() / s.ln()).round()
                        } else {
                            ((x - low) / s).round()
                        };
                        let n = self.stepped_count().unwrap_or(1);
                        self.stepped_value((k.max(0.0) as usize).min(n - 1))
                    }
                }
            }
        }
    }

    /// Whether `v` is a value this parameter can take (type, range, step).
    ///
    /// ```
    /// use neurite::tune::{Param, Value};
    /// let p = Param::int("units", 16, 64).step(16);
    /// assert!(p.contains(&Value::Int(48)));
    /// assert!(!p.contains(&Value::Int(50)) && !p.contains(&Value::Int(80)));
    /// ```
    pub fn contains(&self, v: &Value) -> bool {
        match (&self.domain, v) {
            (Domain::Choice(values), v) => values.contains(v),
            (Domain::Int { low, high, step, .. }, Value::Int(i)) => {
                low <= i && i <= high && (i - low) % step == 0
            }
            (Domain::Float { low, high, step, .. }, Value::Float(x)) => {
                low <= x
                    && x <= high
                    && (step.is_none()
                        || (0..self.stepped_count().unwrap_or(0))
                            .any(|k| self.stepped_value(k) == Value::Float(*x)))
            }
            _ => false,
        }
    }
}

/// The named parameters a search draws from, in the order they were added
/// (the grid's order: the last parameter varies fastest).
///
/// ```
/// use neurite::tune::{Param, SearchSpace};
/// let space = SearchSpace::new()
///     .add(Param::int("units", 16, 64).step(16))?
///     .add(Param::float("learning_rate", 1e-4, 1e-2).log())?
///     .add(Param::choice("optimizer", ["adam", "sgd"]))?;
/// assert_eq!(space.len(), 3);
/// // Errors name the parameter:
/// let e = SearchSpace::new().add(Param::float("lr", 0.0, 1e-2).log()).unwrap_err();
/// assert!(e.to_string().contains("'lr'"), "{e}");
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchSpace {
    params: Vec<Param>,
}

impl SearchSpace {
    /// An empty space.
    pub fn new() -> Self {
        SearchSpace::default()
    }

    /// Adds a parameter after checking it: a non-empty, new name; a choice
    /// with values (none listed twice); `low <= high`; a step >= 1 for an
    /// int, > 0 for a float, a factor > 1 on a log scale; `low > 0` on a log
    /// scale. Every error names the parameter.
    #[allow(clippy::should_implement_trait)] // keras-tuner's verb; it can fail, unlike `Add::add`
    pub fn add(mut self, param: Param) -> Result<Self> {
        param.check()?;
        if self.params.iter().any(|p| p.name == param.name) {
            return Err(Error::Input(format!(
                "tune: parameter '{}' is defined twice in the search space",
                param.name
            )));
        }
        self.params.push(param);
        Ok(self)
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the space has no parameter.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// One value per parameter, each drawn independently (uniform, or
    /// log-uniform on a log scale).
    ///
    /// ```
    /// use neurite::tune::{Param, SearchSpace};
    /// use neurite::tune::Generator;
    /// let space = SearchSpace::new().add(Param::float("lr", 1e-4, 1e-1).log())?;
    /// let v = space.sample(&mut Generator::seed_from_u64(0));
    /// assert!(space.params()[0].contains(&v["lr"]));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn sample(&self, rng: &mut Generator) -> BTreeMap<String, Value> {
        self.params
            .iter()
            .map(|p| (p.name.clone(), p.value_at_unit(rng.random::<f64>())))
            .collect()
    }

    /// Every combination of values (the last parameter varying fastest);
    /// an error naming a float parameter without a step (it has no finite
    /// grid), or when there are more than [`MAX_GRID_POINTS`].
    ///
    /// ```
    /// use neurite::tune::{Param, SearchSpace};
    /// let space = SearchSpace::new()
    ///     .add(Param::choice("optimizer", ["adam", "sgd"]))?
    ///     .add(Param::int("units", 16, 48).step(16))?;
    /// assert_eq!(space.grid()?.len(), 6);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn grid(&self) -> Result<Vec<BTreeMap<String, Value>>> {
        let mut counts = Vec::with_capacity(self.params.len());
        let mut total: usize = 1;
        for p in &self.params {
            let n = p.stepped_count().ok_or_else(|| {
                Error::Input(format!(
                    "tune: grid search: float parameter '{}' has no step, so no finite grid; give it a step or use a choice",
                    p.name
                ))
            })?;
            total = total.checked_mul(n).filter(|&t| t <= MAX_GRID_POINTS).ok_or_else(|| {
                Error::Input(format!(
                    "tune: grid search: more than {MAX_GRID_POINTS} combinations (at parameter '{}' with {n} values)",
                    p.name
                ))
            })?;
            counts.push(n);
        }
        let mut points = Vec::with_capacity(total);
        for mut i in 0..total {
            let mut point = BTreeMap::new();
            for (p, &n) in self.params.iter().zip(&counts).rev() {
                point.insert(p.name.clone(), p.stepped_value(i % n));
                i /= n;
            }
            points.push(point);
        }
        Ok(points)
    }

    /// Checks that `values` has exactly this space's parameters, each a
    /// value it can take (e.g. a results log written by another search).
    pub(crate) fn check_values(&self, values: &BTreeMap<String, Value>) -> Result<()> {
        for p in &self.params {
            match values.get(&p.name) {
                Some(v) if p.contains(v) => {}
                Some(v) => {
                    return Err(Error::Input(format!(
                        "tune: parameter '{}' has the value {v}, which its range does not hold",
                        p.name
                    )))
                }
                None => return Err(Error::Input(format!("tune: parameter '{}' has no value", p.name))),
            }
        }
        if let Some(extra) = values.keys().find(|k| self.param(k).is_none()) {
            return Err(Error::Input(format!(
                "tune: '{extra}' is not a parameter of the search space"
            )));
        }
        Ok(())
    }
}
