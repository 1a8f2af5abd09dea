//! The machinery every optimizer shares: hyper-parameters common to all
//! (learning rate or schedule, clipping, weight decay, L1/L2 penalties),
//! per-parameter slot storage, validation, and the step driver that runs an
//! optimizer's element-wise rule in place with `ndarray::Zip`.

use crate::error::{check_non_negative, check_positive, invalid, OptimError, Result};
use crate::schedule::{Constant, LearningRateSchedule};
use crate::state::OptimizerState;
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, Zip};
use neurite_autograd::Var;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Tensors with at least this many elements are updated with
/// `Zip::par_for_each` (rayon); smaller ones on the calling thread.
/// Measured with `benches/benches/optim.rs` (see `docs/optim.md`).
pub const DEFAULT_PARALLEL_THRESHOLD: usize = 1 << 18;

/// The most steps an optimizer takes: `2^53 - 2`. Bias corrections and
/// schedules convert the step number `t` (and Nadam `t + 1`) to `f64`,
/// which is exact only up to `2^53`; a step that would pass this count, or
/// a restored state beyond it, is an [`OptimError::IterationLimit`] error
/// (at 10^4 steps a second the limit is 28,000 years away).
///
/// ```
/// use neurite_optim::{MAX_ITERATIONS, OptimError, Optimizer, OptimizerState, Sgd};
/// let mut opt = Sgd::new(0.1);
/// opt.load_state(OptimizerState { iterations: MAX_ITERATIONS, ..Default::default() })?;
/// assert!(matches!(opt.step(&[]), Err(OptimError::IterationLimit { .. })));
/// assert_eq!(opt.iterations(), MAX_ITERATIONS);
/// # Ok::<(), OptimError>(())
/// ```
pub const MAX_ITERATIONS: u64 = (1 << 53) - 2;

/// What happens to a gradient element before an optimizer's rule sees it,
/// and the decoupled weight decay applied to the weight first:
/// `g' = clip((g + l2*w + l1*sign(w)) * mul / div)`, `w' = w - w*wd*lr`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pre {
    l1: f32,
    l2: f32,
    scaled: bool,
    mul: f32,
    div: f32,
    clipvalue: Option<f32>,
    decay: Option<(f32, f32)>,
}

#[inline(always)]
pub(crate) fn sign0(w: f32) -> f32 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl Pre {
    /// The gradient with the L1/L2 penalty terms added (before clipping).
    #[inline(always)]
    fn penalised(&self, w: f32, g: f32) -> f32 {
        let mut g = g;
        if self.l2 != 0.0 {
            g += self.l2 * w;
        }
        if self.l1 != 0.0 {
            g += self.l1 * sign0(w);
        }
        g
    }

    /// Whether this does nothing (no penalty, clipping or decay).
    fn is_identity(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0 && !self.scaled && self.clipvalue.is_none() && self.decay.is_none()
    }
}

/// The gradient/weight preprocessing an update kernel is compiled with:
/// [`Pre`] in general, [`Identity`] for the common case where nothing is
/// configured (a branch-free loop body that LLVM vectorises: measured 6x
/// faster for Adam than the general body).
pub(crate) trait PreOp: Sync + Send {
    /// `(weight after decoupled decay, effective gradient)`.
    fn apply(&self, w: f32, g: f32) -> (f32, f32);
}

/// No penalty, clipping or decay.
pub(crate) struct Identity;

impl PreOp for Identity {
    #[inline(always)]
    fn apply(&self, w: f32, g: f32) -> (f32, f32) {
        (w, g)
    }
}

impl PreOp for Pre {
    #[inline(always)]
    fn apply(&self, w: f32, g: f32) -> (f32, f32) {
        let mut g = self.penalised(w, g);
        if self.scaled {
            g = g * self.mul / self.div;
        }
        if let Some(c) = self.clipvalue {
            // Not f32::clamp: its panic path blocks vectorisation; NaN stays NaN.
            g = if g < -c {
                -c
            } else if g > c {
                c
            } else {
                g
            };
        }
        let w = match self.decay {
            Some((wd, lr)) => w - w * wd * lr,
            None => w,
        };
        (w, g)
    }
}

/// 0 when `x` is finite, NaN when it is NaN or infinite (`inf - inf` is
/// NaN). Sums of these are NaN exactly when one of the terms is, so an
/// update loop checks all the values it wrote with one comparison.
#[inline(always)]
#[allow(clippy::eq_op)] // x - x is the point: NaN for NaN and infinities.
fn zero_if_finite(x: f32) -> f32 {
    x - x
}

/// All ones when `sum` (of [`zero_if_finite`] terms) is NaN, else 0;
/// branch-free, so the update loops that OR it into their result still
/// vectorise (all ones rather than 1: the comparison's own mask, one
/// instruction less per vector).
#[inline(always)]
fn flag(sum: f32) -> NonFiniteMask {
    (sum.is_nan() as u32).wrapping_neg()
}

/// Non-zero when an update left a NaN or an infinity in the weight or a
/// slot of the parameter it updated, else 0. (One flag rather than a bit per
/// tensor: measured cheaper; the error path finds which tensor it was.)
pub(crate) type NonFiniteMask = u32;

/// Elements per task of a parallel update: big enough that a task's
/// sequential, vectorised loop dominates its scheduling cost.
const PAR_LEAF: usize = 1 << 15;

/// Splits `z` in halves (`split`) until at most [`PAR_LEAF`] elements
/// (`size`), runs `leaf` on each part with `rayon::join`, and ORs the
/// masks. (`Zip::par_fold` would be simpler but folds element by element
/// through rayon's folder, which measured 4-5x slower than the vectorised
/// sequential loop on each part.)
fn par_split<Z: Send>(
    z: Z,
    size: &(impl Fn(&Z) -> usize + Sync),
    split: &(impl Fn(Z) -> (Z, Z) + Sync),
    leaf: &(impl Fn(Z) -> NonFiniteMask + Sync),
) -> NonFiniteMask {
    if size(&z) <= PAR_LEAF {
        leaf(z)
    } else {
        let (a, b) = split(z);
        let (x, y) = rayon::join(
            || par_split(a, size, split, leaf),
            || par_split(b, size, split, leaf),
        );
        x | y
    }
}

macro_rules! zip_run {
    ($par:expr, $f:expr, $w:expr, $g:expr $(, $s:expr)*) => {{
        let z = Zip::from($w).and($g) $(.and($s))*;
        if $par {
            par_split(z, &|z| z.size(), &|z| z.split(), &|z| z.fold(0, $f))
        } else {
            z.fold(0, $f)
        }
    }};
}

/// Runs `f(w, g)` over every element (parallel when `par`); returns the
/// [`NonFiniteMask`] of the new values, gathered while they are in registers.
pub(crate) fn run0(
    par: bool,
    w: ArrayViewMutD<f32>,
    g: ArrayViewD<f32>,
    f: impl Fn(&mut f32, f32) + Sync + Send,
) -> NonFiniteMask {
    zip_run!(
        par,
        |acc: NonFiniteMask, w: &mut f32, g: &f32| {
            f(w, *g);
            acc | flag(zero_if_finite(*w))
        },
        w,
        g
    )
}

/// Runs `f(w, g, s0)` over every element; see [`run0`].
pub(crate) fn run1(
    par: bool,
    w: ArrayViewMutD<f32>,
    g: ArrayViewD<f32>,
    s0: &mut ArrayD<f32>,
    f: impl Fn(&mut f32, f32, &mut f32) + Sync + Send,
) -> NonFiniteMask {
    zip_run!(
        par,
        |acc: NonFiniteMask, w: &mut f32, g: &f32, a: &mut f32| {
            f(w, *g, a);
            acc | flag(zero_if_finite(*w) + zero_if_finite(*a))
        },
        w,
        g,
        s0
    )
}

/// Runs `f(w, g, s0, s1)` over every element; see [`run0`].
pub(crate) fn run2(
    par: bool,
    w: ArrayViewMutD<f32>,
    g: ArrayViewD<f32>,
    s0: &mut ArrayD<f32>,
    s1: &mut ArrayD<f32>,
    f: impl Fn(&mut f32, f32, &mut f32, &mut f32) + Sync + Send,
) -> NonFiniteMask {
    zip_run!(
        par,
        |acc: NonFiniteMask, w: &mut f32, g: &f32, a: &mut f32, b: &mut f32| {
            f(w, *g, a, b);
            acc | flag(zero_if_finite(*w) + zero_if_finite(*a) + zero_if_finite(*b))
        },
        w,
        g,
        s0,
        s1
    )
}

/// Runs `f(w, g, s0, s1, s2)` over every element; see [`run0`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn run3(
    par: bool,
    w: ArrayViewMutD<f32>,
    g: ArrayViewD<f32>,
    s0: &mut ArrayD<f32>,
    s1: &mut ArrayD<f32>,
    s2: &mut ArrayD<f32>,
    f: impl Fn(&mut f32, f32, &mut f32, &mut f32, &mut f32) + Sync + Send,
) -> NonFiniteMask {
    zip_run!(
        par,
        |acc: NonFiniteMask, w: &mut f32, g: &f32, a: &mut f32, b: &mut f32, c: &mut f32| {
            f(w, *g, a, b, c);
            acc | flag(zero_if_finite(*w) + zero_if_finite(*a) + zero_if_finite(*b) + zero_if_finite(*c))
        },
        w,
        g,
        s0,
        s1,
        s2
    )
}

/// An optimizer's own update rule (the part that differs between
/// optimizers). `t` is the 1-based step number (`iterations + 1`).
pub(crate) trait Rule: Send + Sync {
    /// Per-step constants (bias corrections, ...), computed once per step.
    type Consts: Sync;
    /// Keras' name of the optimizer (`"adam"`, `"SGD"`, ...).
    fn name(&self) -> &'static str;
    /// Names of the per-parameter slots, in storage order.
    fn slot_names(&self) -> &'static [&'static str];
    /// Initial value of slot `i` (zero except AdaGrad's accumulator).
    fn slot_init(&self, _i: usize) -> f32 {
        0.0
    }
    /// Checks this rule's hyper-parameters.
    fn validate(&self) -> Result<()>;
    /// Adds this rule's hyper-parameters to a Keras-like config.
    fn config(&self, map: &mut Map<String, Value>);
    /// Called once per step after all checks passed (may update
    /// optimizer-level variables such as Nadam's `u_product`).
    fn begin_step(&mut self, t: u64, lr: f32) -> Self::Consts;
    /// Updates one parameter in place; returns which of its tensors now
    /// hold a NaN or an infinity (from the `run*` helpers).
    #[allow(clippy::too_many_arguments)]
    fn update<P: PreOp>(
        &self,
        k: &Self::Consts,
        pre: &P,
        w: ArrayViewMutD<f32>,
        g: ArrayViewD<f32>,
        slots: &mut [ArrayD<f32>],
        par: bool,
    ) -> NonFiniteMask;
    /// Optimizer-level variables to save.
    fn globals(&self) -> BTreeMap<String, f32> {
        BTreeMap::new()
    }
    /// Checks optimizer-level variables restored after `iterations` steps
    /// (names, and values this rule can continue from; finiteness is
    /// checked by [`OptimizerState::validate`]).
    fn check_globals(&self, _iterations: u64, globals: &BTreeMap<String, f32>) -> Result<()> {
        match globals.keys().next() {
            Some(k) => Err(OptimError::InvalidState {
                optimizer: self.name().to_string(),
                message: format!("unknown optimizer variable `{k}` (this optimizer has none)"),
            }),
            None => Ok(()),
        }
    }
    /// Restores optimizer-level variables (checks them first).
    fn load_globals(&mut self, iterations: u64, globals: &BTreeMap<String, f32>) -> Result<()> {
        self.check_globals(iterations, globals)
    }
}

/// Hyper-parameters and state shared by every optimizer.
pub(crate) struct Common {
    pub(crate) schedule: Box<dyn LearningRateSchedule>,
    pub(crate) iterations: u64,
    pub(crate) clipnorm: Option<f32>,
    pub(crate) global_clipnorm: Option<f32>,
    pub(crate) clipvalue: Option<f32>,
    pub(crate) weight_decay: Option<f32>,
    pub(crate) l1: f32,
    pub(crate) l2: f32,
    pub(crate) parallel_threshold: usize,
    pub(crate) slots: BTreeMap<String, Vec<ArrayD<f32>>>,
}

impl Common {
    pub(crate) fn new(lr: f32) -> Self {
        Self::with_schedule(Box::new(Constant(lr)))
    }

    pub(crate) fn with_schedule(schedule: Box<dyn LearningRateSchedule>) -> Self {
        Common {
            schedule,
            iterations: 0,
            clipnorm: None,
            global_clipnorm: None,
            clipvalue: None,
            weight_decay: None,
            l1: 0.0,
            l2: 0.0,
            parallel_threshold: DEFAULT_PARALLEL_THRESHOLD,
            slots: BTreeMap::new(),
        }
    }

    pub(crate) fn validate<R: Rule>(&self, rule: &R) -> Result<()> {
        let o = rule.name();
        self.schedule.validate()?;
        if let Some(c) = self.clipnorm {
            check_positive(o, "clipnorm", c)?;
        }
        if let Some(c) = self.global_clipnorm {
            check_positive(o, "global_clipnorm", c)?;
        }
        if let Some(c) = self.clipvalue {
            check_positive(o, "clipvalue", c)?;
        }
        let n_clip = [self.clipnorm, self.global_clipnorm, self.clipvalue]
            .iter()
            .filter(|c| c.is_some())
            .count();
        if n_clip > 1 {
            return Err(invalid(
                o,
                "clipnorm",
                "only one of `clipnorm`, `global_clipnorm` and `clipvalue` can be set",
            ));
        }
        if let Some(wd) = self.weight_decay {
            check_non_negative(o, "weight_decay", wd)?;
        }
        check_non_negative(o, "l1", self.l1)?;
        check_non_negative(o, "l2", self.l2)?;
        rule.validate()
    }

    pub(crate) fn learning_rate(&self) -> f32 {
        self.schedule.rate(self.iterations)
    }

    fn base_pre(&self, lr: f32) -> Pre {
        Pre {
            l1: self.l1,
            l2: self.l2,
            scaled: false,
            mul: 1.0,
            div: 1.0,
            clipvalue: self.clipvalue,
            decay: self.weight_decay.filter(|&wd| wd != 0.0).map(|wd| (wd, lr)),
        }
    }

    /// Sum of squares (in f64) of the penalised gradient of one parameter.
    fn penalised_sq_norm(&self, pre: &Pre, w: &ArrayD<f32>, g: &ArrayD<f32>) -> f64 {
        let z = Zip::from(w).and(g);
        let term = |w: &f32, g: &f32| {
            let e = pre.penalised(*w, *g) as f64;
            e * e
        };
        if w.len() >= self.parallel_threshold {
            z.par_fold(|| 0.0f64, |acc, w, g| acc + term(w, g), |a, b| a + b)
        } else {
            z.fold(0.0f64, |acc, w, g| acc + term(w, g))
        }
    }

    /// Checks names, gradient shapes and slot shapes of every parameter
    /// that has a gradient, before anything is changed.
    fn check_params<R: Rule>(&self, rule: &R, params: &[(&str, &Var)]) -> Result<()> {
        let nslots = rule.slot_names().len();
        for (i, (name, var)) in params.iter().enumerate() {
            if params[..i].iter().any(|(n, _)| n == name) {
                return Err(OptimError::DuplicateParameter(name.to_string()));
            }
            let value = var.value();
            let shape = value.shape();
            let grad_shape = var.with_grad(|g| g.map(|g| g.shape().to_vec()));
            let Some(grad_shape) = grad_shape else { continue };
            if grad_shape != shape {
                return Err(OptimError::ShapeMismatch {
                    parameter: name.to_string(),
                    what: "gradient".into(),
                    expected: shape.to_vec(),
                    actual: grad_shape,
                });
            }
            if let Some(slots) = self.slots.get(*name) {
                if slots.len() != nslots {
                    return Err(OptimError::InvalidState {
                        optimizer: rule.name().into(),
                        message: format!(
                            "parameter `{name}` has {} slots, this configuration needs {nslots} ({:?}); \
                             was the optimizer reconfigured after stepping?",
                            slots.len(),
                            rule.slot_names()
                        ),
                    });
                }
                for (slot, slot_name) in slots.iter().zip(rule.slot_names()) {
                    if slot.shape() != shape {
                        return Err(OptimError::ShapeMismatch {
                            parameter: name.to_string(),
                            what: format!("slot `{slot_name}`"),
                            expected: shape.to_vec(),
                            actual: slot.shape().to_vec(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn step<R: Rule>(&mut self, rule: &mut R, params: &[(&str, &Var)]) -> Result<()> {
        self.validate(rule)?;
        self.check_params(rule, params)?;
        let t = self
            .iterations
            .checked_add(1)
            .filter(|&t| t <= MAX_ITERATIONS)
            .ok_or_else(|| OptimError::IterationLimit {
                context: rule.name().to_string(),
                iterations: self.iterations.saturating_add(1),
                limit: MAX_ITERATIONS,
            })?;
        let lr = self.learning_rate();
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(invalid(
                rule.name(),
                "learning_rate",
                format!(
                    "the schedule gives {lr} at iteration {}, expected a finite rate >= 0",
                    self.iterations
                ),
            ));
        }
        let base = self.base_pre(lr);
        // Global norm of all (penalised) gradients, Keras `clip_by_global_norm`:
        // scale = c * min(1/norm, 1/c) + (norm - norm)  (NaN for a non-finite norm).
        let global_scale = match self.global_clipnorm {
            Some(c) => {
                let mut total = 0.0f64;
                for (_, var) in params {
                    let w = var.value();
                    total += var.with_grad(|g| g.map_or(0.0, |g| self.penalised_sq_norm(&base, &w, g)));
                }
                let norm = total.sqrt() as f32;
                Some(crate::clip::global_clip_scale(c, norm))
            }
            None => None,
        };
        let k = rule.begin_step(t, lr);
        // The first parameter an update left non-finite, and what in it.
        let mut broken: Option<(&str, String)> = None;
        for (name, var) in params {
            let mut w = var.value_mut();
            let par = w.len() >= self.parallel_threshold;
            let mask = var.with_grad(|g| {
                let Some(g) = g else { return 0 };
                let mut pre = base;
                if let Some(scale) = global_scale {
                    pre.scaled = true;
                    pre.mul = scale;
                } else if let Some(c) = self.clipnorm {
                    // Keras `_clip_by_norm`: g * c / max(norm, c).
                    let norm = self.penalised_sq_norm(&base, &w, g).sqrt() as f32;
                    pre.scaled = true;
                    pre.mul = c;
                    pre.div = norm.max(c);
                }
                if !self.slots.contains_key(*name) {
                    let shape = IxDyn(w.shape());
                    let fresh = (0..rule.slot_names().len())
                        .map(|i| ArrayD::from_elem(shape.clone(), rule.slot_init(i)));
                    self.slots.insert(name.to_string(), fresh.collect());
                }
                let slots = self.slots.get_mut(*name).expect("slots just ensured");
                if pre.is_identity() {
                    rule.update(&k, &Identity, w.view_mut(), g.view(), slots, par)
                } else {
                    rule.update(&k, &pre, w.view_mut(), g.view(), slots, par)
                }
            });
            if mask != 0 && broken.is_none() {
                // Error path only: find which tensor it was.
                let finite = |a: ArrayViewD<f32>| a.iter().all(|x| x.is_finite());
                let what = if !finite(w.view()) {
                    "weight".to_string()
                } else {
                    let slots = self.slots.get(*name).map(Vec::as_slice).unwrap_or(&[]);
                    let i = slots.iter().position(|s| !finite(s.view())).unwrap_or(0);
                    let slot = rule.slot_names().get(i).copied().unwrap_or("?");
                    format!("slot `{slot}`")
                };
                broken = Some((name, what));
            }
        }
        self.iterations = t;
        match broken {
            None => Ok(()),
            Some((name, what)) => Err(OptimError::NonFiniteUpdate {
                parameter: name.to_string(),
                what,
                step: t,
            }),
        }
    }

    pub(crate) fn config<R: Rule>(&self, rule: &R) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(rule.name()));
        let sched = self.schedule.config();
        let lr = if sched["class_name"] == "Constant" {
            sched["config"]["learning_rate"].clone()
        } else {
            sched
        };
        m.insert("learning_rate".into(), lr);
        let opt = |v: Option<f32>| v.map_or(Value::Null, Value::from);
        m.insert("weight_decay".into(), opt(self.weight_decay));
        m.insert("clipnorm".into(), opt(self.clipnorm));
        m.insert("global_clipnorm".into(), opt(self.global_clipnorm));
        m.insert("clipvalue".into(), opt(self.clipvalue));
        m.insert("l1".into(), Value::from(self.l1));
        m.insert("l2".into(), Value::from(self.l2));
        rule.config(&mut m);
        Value::Object(m)
    }

    pub(crate) fn state<R: Rule>(&self, rule: &R) -> OptimizerState {
        let mut slots = BTreeMap::new();
        for (param, arrays) in &self.slots {
            for (a, slot) in arrays.iter().zip(rule.slot_names()) {
                slots.insert(OptimizerState::slot_key(param, slot), a.clone());
            }
        }
        OptimizerState {
            iterations: self.iterations,
            slots,
            globals: rule.globals(),
        }
    }

    /// Checks `state` against this optimizer (slot names, complete slot
    /// sets, optimizer-level variables) and the model's parameters (see
    /// [`OptimizerState::check_against`]).
    pub(crate) fn check_state<R: Rule>(
        &self,
        rule: &R,
        state: &OptimizerState,
        params: &[(&str, &[usize])],
    ) -> Result<()> {
        state.check_against(params)?;
        let names = rule.slot_names();
        let bad = |message: String| OptimError::InvalidState {
            optimizer: rule.name().to_string(),
            message,
        };
        let mut present: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for key in state.slots.keys() {
            // check_against has checked the key's form.
            let Some((param, slot)) = OptimizerState::split_key(key) else {
                continue;
            };
            if !names.contains(&slot) {
                return Err(bad(format!(
                    "unknown slot `{slot}` for parameter `{param}` (this configuration has {names:?})"
                )));
            }
            present.entry(param).or_default().push(slot);
        }
        for (param, slots) in present {
            if let Some(missing) = names.iter().find(|n| !slots.contains(n)) {
                return Err(bad(format!(
                    "parameter `{param}` has no slot `{missing}` (this configuration has {names:?})"
                )));
            }
        }
        rule.check_globals(state.iterations, &state.globals)
    }

    pub(crate) fn load_state<R: Rule>(&mut self, rule: &mut R, state: OptimizerState) -> Result<()> {
        state.validate()?;
        rule.check_globals(state.iterations, &state.globals)?;
        let names = rule.slot_names();
        let bad = |message: String| OptimError::InvalidState {
            optimizer: rule.name().to_string(),
            message,
        };
        let mut grouped: BTreeMap<String, Vec<Option<ArrayD<f32>>>> = BTreeMap::new();
        for (key, array) in state.slots {
            let (param, slot) = OptimizerState::split_key(&key)
                .ok_or_else(|| bad(format!("slot key `{key}` is not `<parameter>/<slot>`")))?;
            let i = names.iter().position(|n| *n == slot).ok_or_else(|| {
                bad(format!(
                    "unknown slot `{slot}` for parameter `{param}` (this optimizer has {names:?})"
                ))
            })?;
            grouped
                .entry(param.to_string())
                .or_insert_with(|| vec![None; names.len()])[i] = Some(array);
        }
        let mut slots = BTreeMap::new();
        for (param, arrays) in grouped {
            let mut full = Vec::with_capacity(names.len());
            for (a, slot) in arrays.into_iter().zip(names) {
                full.push(a.ok_or_else(|| bad(format!("parameter `{param}` has no slot `{slot}`")))?);
            }
            let shape = full[0].shape().to_vec();
            for (a, slot) in full.iter().zip(names) {
                if a.shape() != shape.as_slice() {
                    return Err(OptimError::ShapeMismatch {
                        parameter: param.clone(),
                        what: format!("slot `{slot}`"),
                        expected: shape,
                        actual: a.shape().to_vec(),
                    });
                }
            }
            slots.insert(param, full);
        }
        rule.load_globals(state.iterations, &state.globals)?;
        self.slots = slots;
        self.iterations = state.iterations;
        Ok(())
    }
}

/// Implements the shared builder methods, `Debug` and [`crate::Optimizer`]
/// for an optimizer struct with fields `common: Common` and `rule: <Rule>`.
macro_rules! optimizer_impl {
    ($ty:ident) => {
        impl $ty {
            #[doc = concat!("A `", stringify!($ty), "` whose learning rate follows `schedule`.")]
            ///
            /// ```
            #[doc = concat!("use neurite_optim::{", stringify!($ty), ", ExponentialDecay, Optimizer};")]
            #[doc = concat!("let opt = ", stringify!($ty), "::with_schedule(Box::new(ExponentialDecay::new(0.1, 10, 0.5)));")]
            /// assert!((opt.learning_rate() - 0.1).abs() < 1e-9);
            /// ```
            pub fn with_schedule(schedule: Box<dyn $crate::LearningRateSchedule>) -> Self {
                let mut s = Self::default();
                s.common.schedule = schedule;
                s
            }

            /// Rescales each gradient tensor whose L2 norm exceeds `clipnorm`
            /// to that norm (Keras `clipnorm`: `g * c / max(|g|, c)`).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().clipnorm(1.0).build().is_ok());")]
            /// ```
            pub fn clipnorm(mut self, clipnorm: f32) -> Self {
                self.common.clipnorm = Some(clipnorm);
                self
            }

            /// Rescales all gradients together when their global L2 norm
            /// exceeds `global_clipnorm` (Keras `global_clipnorm`).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().global_clipnorm(1.0).clipnorm(1.0).build().is_err());")]
            /// ```
            pub fn global_clipnorm(mut self, global_clipnorm: f32) -> Self {
                self.common.global_clipnorm = Some(global_clipnorm);
                self
            }

            /// Clamps each gradient element to `[-clipvalue, clipvalue]` (Keras `clipvalue`).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().clipvalue(-1.0).build().is_err());")]
            /// ```
            pub fn clipvalue(mut self, clipvalue: f32) -> Self {
                self.common.clipvalue = Some(clipvalue);
                self
            }

            /// Decoupled weight decay (Keras 3 `weight_decay`, any optimizer):
            /// `w -= w * weight_decay * lr` before each update.
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().weight_decay(0.01).build().is_ok());")]
            /// ```
            pub fn weight_decay(mut self, weight_decay: f32) -> Self {
                self.common.weight_decay = Some(weight_decay);
                self
            }

            /// Adds `l2 * w` to every gradient before clipping and the update
            /// (coupled L2 penalty, PyTorch's `weight_decay`; Keras'
            /// `regularizers.L2(x)` corresponds to `l2 = 2x`).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().l2(1e-4).build().is_ok());")]
            /// ```
            pub fn l2(mut self, l2: f32) -> Self {
                self.common.l2 = l2;
                self
            }

            /// Adds `l1 * sign(w)` (0 at `w == 0`) to every gradient before
            /// clipping and the update (Keras' `regularizers.L1(l1)`).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().l1(-1.0).build().is_err());")]
            /// ```
            pub fn l1(mut self, l1: f32) -> Self {
                self.common.l1 = l1;
                self
            }

            /// Tensors with at least this many elements are updated in
            /// parallel (default [`crate::DEFAULT_PARALLEL_THRESHOLD`]).
            ///
            /// ```
            #[doc = concat!("let opt = neurite_optim::", stringify!($ty), "::default().parallel_threshold(usize::MAX);")]
            /// ```
            pub fn parallel_threshold(mut self, elements: usize) -> Self {
                self.common.parallel_threshold = elements;
                self
            }

            /// Checks every hyper-parameter (also done before each step).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().validate().is_ok());")]
            /// ```
            pub fn validate(&self) -> $crate::Result<()> {
                self.common.validate(&self.rule)
            }

            /// Validates and returns the optimizer.
            ///
            /// ```
            #[doc = concat!("let opt = neurite_optim::", stringify!($ty), "::default().build()?;")]
            /// # Ok::<(), neurite_optim::OptimError>(())
            /// ```
            pub fn build(self) -> $crate::Result<Self> {
                self.validate()?;
                Ok(self)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("config", &$crate::Optimizer::config(self))
                    .field("iterations", &self.common.iterations)
                    .finish()
            }
        }

        impl $crate::Optimizer for $ty {
            fn step(&mut self, params: &[(&str, &neurite_autograd::Var)]) -> $crate::Result<()> {
                self.common.step(&mut self.rule, params)
            }
            fn learning_rate(&self) -> f32 {
                self.common.learning_rate()
            }
            fn set_learning_rate(&mut self, lr: f32) {
                self.common.schedule = Box::new($crate::Constant(lr));
            }
            fn iterations(&self) -> u64 {
                self.common.iterations
            }
            fn name(&self) -> &str {
                $crate::core::Rule::name(&self.rule)
            }
            fn config(&self) -> serde_json::Value {
                self.common.config(&self.rule)
            }
            fn state(&self) -> $crate::OptimizerState {
                self.common.state(&self.rule)
            }
            fn load_state(&mut self, state: $crate::OptimizerState) -> $crate::Result<()> {
                self.common.load_state(&mut self.rule, state)
            }
            fn check_state(
                &self,
                state: &$crate::OptimizerState,
                params: &[(&str, &[usize])],
            ) -> $crate::Result<()> {
                self.common.check_state(&self.rule, state, params)
            }
        }
    };
}
pub(crate) use optimizer_impl;
