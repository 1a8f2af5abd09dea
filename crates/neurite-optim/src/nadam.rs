//! Nadam.

use crate::core::{optimizer_impl, run2, Common, NonFiniteMask, PreOp, Rule};
use crate::error::{check_positive_f64, check_range_f64, OptimError, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub(crate) struct NadamRule {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    /// Keras' `_u_product`: the product of the momentum cache `u_1 ... u_t`.
    u_product: f32,
}

pub(crate) struct NadamConsts {
    lr: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    u_t: f32,
    u_t_1: f32,
    u_product_t: f32,
    u_product_t_1: f32,
    one_minus_beta_2_power: f32,
    epsilon: f32,
}

impl Rule for NadamRule {
    type Consts = NadamConsts;
    fn name(&self) -> &'static str {
        "nadam"
    }
    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum", "velocity"]
    }
    fn validate(&self) -> Result<()> {
        check_range_f64("nadam", "beta_1", self.beta_1, 0.0, 1.0, false)?;
        check_range_f64("nadam", "beta_2", self.beta_2, 0.0, 1.0, false)?;
        check_positive_f64("nadam", "epsilon", self.epsilon)
    }
    fn config(&self, map: &mut Map<String, Value>) {
        map.insert("beta_1".into(), Value::from(self.beta_1));
        map.insert("beta_2".into(), Value::from(self.beta_2));
        map.insert("epsilon".into(), Value::from(self.epsilon));
    }
    fn begin_step(&mut self, t: u64, lr: f32) -> NadamConsts {
        let cache = |step: u64| self.beta_1 * (1.0 - 0.5 * 0.96f64.powf(step as f64));
        let u_t = cache(t) as f32;
        let u_t_1 = cache(t + 1) as f32;
        // Keras: u_product = u_product * beta_1 * (1 - 0.5 * 0.96^t), kept in f32.
        self.u_product = self.u_product * self.beta_1 as f32 * (1.0 - 0.5 * 0.96f64.powf(t as f64)) as f32;
        NadamConsts {
            lr,
            one_minus_beta_1: (1.0 - self.beta_1) as f32,
            one_minus_beta_2: (1.0 - self.beta_2) as f32,
            u_t,
            u_t_1,
            u_product_t: self.u_product,
            u_product_t_1: self.u_product * u_t_1,
            one_minus_beta_2_power: (1.0 - self.beta_2.powf(t as f64)) as f32,
            epsilon: self.epsilon as f32,
        }
    }
    fn update<P: PreOp>(
        &self,
        k: &NadamConsts,
        pre: &P,
        w: ArrayViewMutD<f32>,
        g: ArrayViewD<f32>,
        slots: &mut [ArrayD<f32>],
        par: bool,
    ) -> NonFiniteMask {
        let [m, v] = slots else {
            unreachable!("slot count checked before the step")
        };
        run2(par, w, g, m, v, |w, g, m, v| {
            let (w0, g) = pre.apply(*w, g);
            *m += (g - *m) * k.one_minus_beta_1;
            *v += (g * g - *v) * k.one_minus_beta_2;
            let m_hat =
                (k.u_t_1 * *m) / (1.0 - k.u_product_t_1) + ((1.0 - k.u_t) * g) / (1.0 - k.u_product_t);
            let v_hat = *v / k.one_minus_beta_2_power;
            *w = w0 - (m_hat * k.lr) / (v_hat.sqrt() + k.epsilon);
        })
    }
    fn globals(&self) -> BTreeMap<String, f32> {
        BTreeMap::from([("u_product".to_string(), self.u_product)])
    }
    fn check_globals(&self, iterations: u64, globals: &BTreeMap<String, f32>) -> Result<()> {
        let bad = |message: String| OptimError::InvalidState {
            optimizer: "nadam".into(),
            message,
        };
        if let Some(k) = globals.keys().find(|k| *k != "u_product") {
            return Err(bad(format!(
                "unknown optimizer variable `{k}` (nadam has `u_product`)"
            )));
        }
        match globals.get("u_product") {
            // A product of momentum caches u_t = beta_1 (1 - 0.5 * 0.96^t) in [0, 1).
            Some(&u) if !(0.0..=1.0).contains(&u) => Err(bad(format!(
                "`u_product` must be in [0, 1] (a product of momentum caches), got {u}"
            ))),
            Some(&u) if iterations > 0 && u >= 1.0 => Err(bad(format!(
                "`u_product` must be < 1 after {iterations} iterations, got {u}"
            ))),
            Some(_) => Ok(()),
            None if iterations == 0 => Ok(()),
            None => Err(bad(format!(
                "`u_product` is missing after {iterations} iterations"
            ))),
        }
    }
    fn load_globals(&mut self, iterations: u64, globals: &BTreeMap<String, f32>) -> Result<()> {
        self.check_globals(iterations, globals)?;
        self.u_product = globals.get("u_product").copied().unwrap_or(1.0);
        Ok(())
    }
}

/// Nadam (Adam with Nesterov momentum), Keras 3 `Nadam` (defaults:
/// `learning_rate` 0.001, `beta_1` 0.9, `beta_2` 0.999, `epsilon` 1e-7),
/// with Keras' momentum cache `u_t = beta_1 (1 - 0.5 * 0.96^t)` and its
/// running product `U_t = u_1 ... u_t` (saved as the optimizer variable
/// `u_product`): `m += (g - m)(1 - beta_1)`, `v += (g^2 - v)(1 - beta_2)`,
/// `m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)`,
/// `v_hat = v / (1 - beta_2^t)`, `w -= lr * m_hat / (sqrt(v_hat) + epsilon)`.
/// Slots: `momentum`, `velocity`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{Nadam, Optimizer};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[1.0f32]).into_dyn()));
/// let mut opt = Nadam::new(0.01);
/// opt.step(&[("w", &w)])?;
/// assert!(w.value()[[0]] < 1.0);
/// assert!(opt.state().globals.contains_key("u_product"));
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub struct Nadam {
    pub(crate) common: Common,
    rule: NadamRule,
}

impl Default for Nadam {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Nadam {
    /// Nadam with a constant learning rate and Keras' other defaults.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::Nadam::new(0.01).name(), "nadam");
    /// ```
    pub fn new(learning_rate: f32) -> Self {
        Nadam {
            common: Common::new(learning_rate),
            rule: NadamRule {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-7,
                u_product: 1.0,
            },
        }
    }
    /// Decay rate of the first-moment estimate, in `[0, 1)`.
    ///
    /// ```
    /// assert!(neurite_optim::Nadam::default().beta_1(1.0).build().is_err());
    /// ```
    pub fn beta_1(mut self, beta_1: f64) -> Self {
        self.rule.beta_1 = beta_1;
        self
    }
    /// Decay rate of the second-moment estimate, in `[0, 1)`.
    ///
    /// ```
    /// assert!(neurite_optim::Nadam::default().beta_2(0.99).build().is_ok());
    /// ```
    pub fn beta_2(mut self, beta_2: f64) -> Self {
        self.rule.beta_2 = beta_2;
        self
    }
    /// Added to `sqrt(v_hat)` in the denominator (> 0).
    ///
    /// ```
    /// assert!(neurite_optim::Nadam::default().epsilon(-1.0).build().is_err());
    /// assert!(neurite_optim::Nadam::default().epsilon(0.0).build().is_err());
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
}

optimizer_impl!(Nadam);
