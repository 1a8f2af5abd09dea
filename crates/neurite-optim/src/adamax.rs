//! Adamax.

use crate::core::{optimizer_impl, run2, Common, NonFiniteMask, PreOp, Rule};
use crate::error::{check_positive_f64, check_range_f64, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use serde_json::{Map, Value};

pub(crate) struct AdamaxRule {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
}

pub(crate) struct AdamaxConsts {
    lr: f32,
    one_minus_beta_1: f32,
    beta_2: f32,
    one_minus_beta_1_power: f32,
    epsilon: f32,
}

impl Rule for AdamaxRule {
    type Consts = AdamaxConsts;
    fn name(&self) -> &'static str {
        "adamax"
    }
    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum", "norm"]
    }
    fn validate(&self) -> Result<()> {
        check_range_f64("adamax", "beta_1", self.beta_1, 0.0, 1.0, false)?;
        check_range_f64("adamax", "beta_2", self.beta_2, 0.0, 1.0, false)?;
        check_positive_f64("adamax", "epsilon", self.epsilon)
    }
    fn config(&self, map: &mut Map<String, Value>) {
        map.insert("beta_1".into(), Value::from(self.beta_1));
        map.insert("beta_2".into(), Value::from(self.beta_2));
        map.insert("epsilon".into(), Value::from(self.epsilon));
    }
    fn begin_step(&mut self, t: u64, lr: f32) -> AdamaxConsts {
        AdamaxConsts {
            lr,
            one_minus_beta_1: (1.0 - self.beta_1) as f32,
            beta_2: self.beta_2 as f32,
            one_minus_beta_1_power: (1.0 - self.beta_1.powf(t as f64)) as f32,
            epsilon: self.epsilon as f32,
        }
    }
    fn update<P: PreOp>(
        &self,
        k: &AdamaxConsts,
        pre: &P,
        w: ArrayViewMutD<f32>,
        g: ArrayViewD<f32>,
        slots: &mut [ArrayD<f32>],
        par: bool,
    ) -> NonFiniteMask {
        let [m, u] = slots else {
            unreachable!("slot count checked before the step")
        };
        run2(par, w, g, m, u, |w, g, m, u| {
            let (w0, g) = pre.apply(*w, g);
            *m += (g - *m) * k.one_minus_beta_1;
            *u = (k.beta_2 * *u).max(g.abs());
            *w = w0 - (k.lr * *m) / (k.one_minus_beta_1_power * (*u + k.epsilon));
        })
    }
}

/// Adamax (Adam with the infinity norm), Keras 3 `Adamax` (defaults:
/// `learning_rate` 0.001, `beta_1` 0.9, `beta_2` 0.999, `epsilon` 1e-7):
/// `m += (g - m)(1 - beta_1)`, `u = max(beta_2 * u, |g|)`,
/// `w -= lr * m / ((1 - beta_1^t) * (u + epsilon))`. Slots: `momentum`, `norm`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{Adamax, Optimizer};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[4.0f32]).into_dyn()));
/// let mut opt = Adamax::new(0.1);
/// opt.step(&[("w", &w)])?;
/// // m = 0.4, u = 4: w = 1 - 0.1 * 0.4 / (0.1 * (4 + 1e-7)) = 0.9
/// assert!((w.value()[[0]] - 0.9).abs() < 1e-6);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub struct Adamax {
    pub(crate) common: Common,
    rule: AdamaxRule,
}

impl Default for Adamax {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Adamax {
    /// Adamax with a constant learning rate and Keras' other defaults.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::Adamax::new(0.01).name(), "adamax");
    /// ```
    pub fn new(learning_rate: f32) -> Self {
        Adamax {
            common: Common::new(learning_rate),
            rule: AdamaxRule {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-7,
            },
        }
    }
    /// Decay rate of the first-moment estimate, in `[0, 1)`.
    ///
    /// ```
    /// assert!(neurite_optim::Adamax::default().beta_1(1.0).build().is_err());
    /// ```
    pub fn beta_1(mut self, beta_1: f64) -> Self {
        self.rule.beta_1 = beta_1;
        self
    }
    /// Decay rate of the infinity norm, in `[0, 1)`.
    ///
    /// ```
    /// assert!(neurite_optim::Adamax::default().beta_2(0.99).build().is_ok());
    /// ```
    pub fn beta_2(mut self, beta_2: f64) -> Self {
        self.rule.beta_2 = beta_2;
        self
    }
    /// Added to the norm in the denominator (> 0).
    ///
    /// ```
    /// assert!(neurite_optim::Adamax::default().epsilon(f64::NAN).build().is_err());
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
}

optimizer_impl!(Adamax);
