//! Stochastic gradient descent with optional (Nesterov) momentum.

use crate::core::{optimizer_impl, run0, run1, Common, NonFiniteMask, PreOp, Rule};
use crate::error::{check_range_f64, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use serde_json::{Map, Value};

pub(crate) struct SgdRule {
    momentum: f64,
    nesterov: bool,
}

pub(crate) struct SgdConsts {
    lr: f32,
    momentum: f32,
}

impl Rule for SgdRule {
    type Consts = SgdConsts;
    fn name(&self) -> &'static str {
        "SGD"
    }
    fn slot_names(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum"]
        } else {
            &[]
        }
    }
    fn validate(&self) -> Result<()> {
        check_range_f64("SGD", "momentum", self.momentum, 0.0, 1.0, true)
    }
    fn config(&self, map: &mut Map<String, Value>) {
        map.insert("momentum".into(), Value::from(self.momentum));
        map.insert("nesterov".into(), Value::from(self.nesterov));
    }
    fn begin_step(&mut self, _t: u64, lr: f32) -> SgdConsts {
        SgdConsts {
            lr,
            momentum: self.momentum as f32,
        }
    }
    fn update<P: PreOp>(
        &self,
        k: &SgdConsts,
        pre: &P,
        w: ArrayViewMutD<f32>,
        g: ArrayViewD<f32>,
        slots: &mut [ArrayD<f32>],
        par: bool,
    ) -> NonFiniteMask {
        let (lr, mom) = (k.lr, k.momentum);
        match slots {
            [] => run0(par, w, g, |w, g| {
                let (w0, g) = pre.apply(*w, g);
                *w = w0 - g * lr;
            }),
            [m] if self.nesterov => run1(par, w, g, m, |w, g, m| {
                let (w0, g) = pre.apply(*w, g);
                *m = *m * mom - g * lr;
                *w = w0 + (*m * mom - g * lr);
            }),
            [m] => run1(par, w, g, m, |w, g, m| {
                let (w0, g) = pre.apply(*w, g);
                *m = *m * mom - g * lr;
                *w = w0 + *m;
            }),
            _ => unreachable!("slot count checked before the step"),
        }
    }
}

/// Gradient descent, Keras 3 `SGD` (default `learning_rate` 0.01, no momentum).
///
/// With momentum (Keras formulation, velocity includes the rate):
/// `v = momentum * v - lr * g`, then `w += v`, or with Nesterov
/// `w += momentum * v - lr * g`. Without momentum `w -= lr * g`.
/// Slot: `momentum` (only when `momentum != 0`).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{Optimizer, Sgd};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32, -2.0]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[1.0f32, -1.0]).into_dyn()));
/// let mut opt = Sgd::new(0.1).momentum(0.9).nesterov(true).build()?;
/// opt.step(&[("w", &w)])?;
/// // v = -0.1 * g; w += 0.9 * v - 0.1 * g  =>  w = 1 - 0.19, -2 + 0.19
/// assert!((w.value()[[0]] - 0.81).abs() < 1e-6);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub struct Sgd {
    pub(crate) common: Common,
    rule: SgdRule,
}

impl Default for Sgd {
    fn default() -> Self {
        Self::new(0.01)
    }
}

impl Sgd {
    /// Plain SGD with a constant learning rate.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::Sgd::new(0.1).learning_rate(), 0.1);
    /// ```
    pub fn new(learning_rate: f32) -> Self {
        Sgd {
            common: Common::new(learning_rate),
            rule: SgdRule {
                momentum: 0.0,
                nesterov: false,
            },
        }
    }
    /// Momentum factor in `[0, 1]` (Keras default 0).
    ///
    /// ```
    /// assert!(neurite_optim::Sgd::new(0.1).momentum(1.5).build().is_err());
    /// ```
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.rule.momentum = momentum;
        self
    }
    /// Nesterov momentum (Keras default false).
    ///
    /// ```
    /// assert!(neurite_optim::Sgd::new(0.1).momentum(0.9).nesterov(true).build().is_ok());
    /// ```
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.rule.nesterov = nesterov;
        self
    }
}

optimizer_impl!(Sgd);
