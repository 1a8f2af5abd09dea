//! RMSprop.

use crate::core::{optimizer_impl, run1, run2, run3, Common, NonFiniteMask, PreOp, Rule};
use crate::error::{check_positive_f64, check_range_f64, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use serde_json::{Map, Value};

pub(crate) struct RmspropRule {
    rho: f64,
    momentum: f64,
    epsilon: f64,
    centered: bool,
}

pub(crate) struct RmspropConsts {
    lr: f32,
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
}

impl RmspropConsts {
    /// Velocity update and the increment `lr * g / sqrt(denominator)`.
    #[inline(always)]
    fn increment(&self, g: f32, v: &mut f32, avg: Option<&mut f32>) -> f32 {
        *v = self.rho * *v + self.one_minus_rho * (g * g);
        let denominator = match avg {
            Some(a) => {
                *a = self.rho * *a + self.one_minus_rho * g;
                *v - *a * *a + self.epsilon
            }
            None => *v + self.epsilon,
        };
        (self.lr * g) / denominator.sqrt()
    }
}

impl Rule for RmspropRule {
    type Consts = RmspropConsts;
    fn name(&self) -> &'static str {
        "rmsprop"
    }
    fn slot_names(&self) -> &'static [&'static str] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &["velocity"],
            (true, false) => &["velocity", "momentum"],
            (false, true) => &["velocity", "average_gradient"],
            (true, true) => &["velocity", "momentum", "average_gradient"],
        }
    }
    fn validate(&self) -> Result<()> {
        check_range_f64("rmsprop", "rho", self.rho, 0.0, 1.0, false)?;
        check_range_f64("rmsprop", "momentum", self.momentum, 0.0, 1.0, false)?;
        check_positive_f64("rmsprop", "epsilon", self.epsilon)
    }
    fn config(&self, map: &mut Map<String, Value>) {
        map.insert("rho".into(), Value::from(self.rho));
        map.insert("momentum".into(), Value::from(self.momentum));
        map.insert("epsilon".into(), Value::from(self.epsilon));
        map.insert("centered".into(), Value::from(self.centered));
    }
    fn begin_step(&mut self, _t: u64, lr: f32) -> RmspropConsts {
        RmspropConsts {
            lr,
            rho: self.rho as f32,
            one_minus_rho: (1.0 - self.rho) as f32,
            momentum: self.momentum as f32,
            epsilon: self.epsilon as f32,
        }
    }
    fn update<P: PreOp>(
        &self,
        k: &RmspropConsts,
        pre: &P,
        w: ArrayViewMutD<f32>,
        g: ArrayViewD<f32>,
        slots: &mut [ArrayD<f32>],
        par: bool,
    ) -> NonFiniteMask {
        let mom = k.momentum;
        match (slots, self.momentum > 0.0) {
            ([v], _) => run1(par, w, g, v, |w, g, v| {
                let (w0, g) = pre.apply(*w, g);
                *w = w0 - k.increment(g, v, None);
            }),
            ([v, m], true) => run2(par, w, g, v, m, |w, g, v, m| {
                let (w0, g) = pre.apply(*w, g);
                *m = mom * *m + k.increment(g, v, None);
                *w = w0 - *m;
            }),
            ([v, a], false) => run2(par, w, g, v, a, |w, g, v, a| {
                let (w0, g) = pre.apply(*w, g);
                *w = w0 - k.increment(g, v, Some(a));
            }),
            ([v, m, a], _) => run3(par, w, g, v, m, a, |w, g, v, m, a| {
                let (w0, g) = pre.apply(*w, g);
                *m = mom * *m + k.increment(g, v, Some(a));
                *w = w0 - *m;
            }),
            _ => unreachable!("slot count checked before the step"),
        }
    }
}

/// RMSprop, Keras 3 `RMSprop` (defaults: `learning_rate` 0.001, `rho` 0.9,
/// `momentum` 0, `epsilon` 1e-7, not centered):
/// `v = rho*v + (1-rho)*g^2`; centered: `a = rho*a + (1-rho)*g`,
/// `d = v - a^2 + eps`, else `d = v + eps`; `inc = lr*g/sqrt(d)`; with
/// momentum `m = momentum*m + inc; w -= m`, else `w -= inc`. Slots:
/// `velocity`, `momentum` (momentum > 0), `average_gradient` (centered).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{Optimizer, Rmsprop};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[2.0f32]).into_dyn()));
/// let mut opt = Rmsprop::new(0.01);
/// opt.step(&[("w", &w)])?;
/// // v = 0.1 * 4 = 0.4;  w = 1 - 0.01 * 2 / sqrt(0.4 + 1e-7)
/// assert!((w.value()[[0]] - (1.0 - 0.02 / 0.4f32.sqrt())).abs() < 1e-6);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub struct Rmsprop {
    pub(crate) common: Common,
    rule: RmspropRule,
}

impl Default for Rmsprop {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Rmsprop {
    /// RMSprop with a constant learning rate and Keras' other defaults.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::Rmsprop::new(0.1).config()["rho"], 0.9);
    /// ```
    pub fn new(learning_rate: f32) -> Self {
        Rmsprop {
            common: Common::new(learning_rate),
            rule: RmspropRule {
                rho: 0.9,
                momentum: 0.0,
                epsilon: 1e-7,
                centered: false,
            },
        }
    }
    /// Discounting factor of the squared-gradient average, in `[0, 1)`.
    ///
    /// ```
    /// assert!(neurite_optim::Rmsprop::default().rho(1.0).build().is_err());
    /// ```
    pub fn rho(mut self, rho: f64) -> Self {
        self.rule.rho = rho;
        self
    }
    /// Momentum factor in `[0, 1)`.
    ///
    /// ```
    /// assert!(neurite_optim::Rmsprop::default().momentum(0.9).build().is_ok());
    /// ```
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.rule.momentum = momentum;
        self
    }
    /// Small constant inside the square root (> 0).
    ///
    /// ```
    /// assert!(neurite_optim::Rmsprop::default().epsilon(-1.0).build().is_err());
    /// assert!(neurite_optim::Rmsprop::default().epsilon(0.0).build().is_err());
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
    /// Normalise by the estimated variance instead of the second moment.
    ///
    /// ```
    /// assert!(neurite_optim::Rmsprop::default().centered(true).build().is_ok());
    /// ```
    pub fn centered(mut self, centered: bool) -> Self {
        self.rule.centered = centered;
        self
    }
}

optimizer_impl!(Rmsprop);
