//! Adam and AdamW.

use crate::core::{optimizer_impl, run2, run3, Common, NonFiniteMask, PreOp, Rule};
use crate::error::{check_positive_f64, check_range_f64, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use serde_json::{Map, Value};

pub(crate) struct AdamRule {
    name: &'static str,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    amsgrad: bool,
    pytorch_epsilon: bool,
}

impl AdamRule {
    fn keras_defaults(name: &'static str) -> Self {
        AdamRule {
            name,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
            pytorch_epsilon: false,
        }
    }
}

pub(crate) struct AdamConsts {
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
}

impl Rule for AdamRule {
    type Consts = AdamConsts;
    fn name(&self) -> &'static str {
        self.name
    }
    fn slot_names(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["momentum", "velocity", "velocity_hat"]
        } else {
            &["momentum", "velocity"]
        }
    }
    fn validate(&self) -> Result<()> {
        check_range_f64(self.name, "beta_1", self.beta_1, 0.0, 1.0, false)?;
        check_range_f64(self.name, "beta_2", self.beta_2, 0.0, 1.0, false)?;
        check_positive_f64(self.name, "epsilon", self.epsilon)
    }
    fn config(&self, map: &mut Map<String, Value>) {
        map.insert("beta_1".into(), Value::from(self.beta_1));
        map.insert("beta_2".into(), Value::from(self.beta_2));
        map.insert("epsilon".into(), Value::from(self.epsilon));
        map.insert("amsgrad".into(), Value::from(self.amsgrad));
        map.insert("pytorch_epsilon".into(), Value::from(self.pytorch_epsilon));
    }
    fn begin_step(&mut self, t: u64, lr: f32) -> AdamConsts {
        let t = t as f64;
        let beta_1_power = self.beta_1.powf(t);
        let beta_2_power = self.beta_2.powf(t);
        AdamConsts {
            alpha: (lr as f64 * (1.0 - beta_2_power).sqrt() / (1.0 - beta_1_power)) as f32,
            one_minus_beta_1: (1.0 - self.beta_1) as f32,
            one_minus_beta_2: (1.0 - self.beta_2) as f32,
            // PyTorch adds epsilon to sqrt(v / (1 - beta_2^t)); moved onto
            // Keras' sqrt(v) that is epsilon * sqrt(1 - beta_2^t).
            epsilon: if self.pytorch_epsilon {
                (self.epsilon * (1.0 - beta_2_power).sqrt()) as f32
            } else {
                self.epsilon as f32
            },
        }
    }
    fn update<P: PreOp>(
        &self,
        k: &AdamConsts,
        pre: &P,
        w: ArrayViewMutD<f32>,
        g: ArrayViewD<f32>,
        slots: &mut [ArrayD<f32>],
        par: bool,
    ) -> NonFiniteMask {
        let (alpha, c1, c2, eps) = (k.alpha, k.one_minus_beta_1, k.one_minus_beta_2, k.epsilon);
        match slots {
            [m, v] => run2(par, w, g, m, v, |w, g, m, v| {
                let (w0, g) = pre.apply(*w, g);
                *m += (g - *m) * c1;
                *v += (g * g - *v) * c2;
                *w = w0 - (*m * alpha) / (v.sqrt() + eps);
            }),
            [m, v, vhat] => run3(par, w, g, m, v, vhat, |w, g, m, v, vhat| {
                let (w0, g) = pre.apply(*w, g);
                *m += (g - *m) * c1;
                *v += (g * g - *v) * c2;
                *vhat = vhat.max(*v);
                *w = w0 - (*m * alpha) / (vhat.sqrt() + eps);
            }),
            _ => unreachable!("slot count checked before the step"),
        }
    }
}

macro_rules! adam_setters {
    ($ty:ident) => {
        impl $ty {
            /// Decay rate of the first-moment estimate, in `[0, 1)` (default 0.9).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().beta_1(1.5).build().is_err());")]
            /// ```
            pub fn beta_1(mut self, beta_1: f64) -> Self {
                self.rule.beta_1 = beta_1;
                self
            }
            /// Decay rate of the second-moment estimate, in `[0, 1)` (default 0.999).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().beta_2(-0.1).build().is_err());")]
            /// ```
            pub fn beta_2(mut self, beta_2: f64) -> Self {
                self.rule.beta_2 = beta_2;
                self
            }
            /// Added to `sqrt(v)` in the denominator, `> 0` (default 1e-7;
            /// PyTorch uses 1e-8). Zero is refused: a gradient that is 0 from
            /// the start would make the update `0 / 0`.
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().epsilon(1e-8).build().is_ok());")]
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().epsilon(0.0).build().is_err());")]
            /// ```
            pub fn epsilon(mut self, epsilon: f64) -> Self {
                self.rule.epsilon = epsilon;
                self
            }
            /// AMSGrad: divide by the running maximum of `v` (slot `velocity_hat`).
            ///
            /// ```
            #[doc = concat!("assert!(neurite_optim::", stringify!($ty), "::default().amsgrad(true).build().is_ok());")]
            /// ```
            pub fn amsgrad(mut self, amsgrad: bool) -> Self {
                self.rule.amsgrad = amsgrad;
                self
            }
            /// PyTorch's epsilon placement: `w -= lr * m_hat / (sqrt(v_hat) + epsilon)`
            /// with bias-corrected `m_hat`, `v_hat` (Keras adds epsilon to the
            /// uncorrected `sqrt(v)`). Combine with `.epsilon(1e-8)` for PyTorch's default.
            ///
            /// ```
            /// use neurite_optim::Optimizer;
            #[doc = concat!("let opt = neurite_optim::", stringify!($ty), "::default().pytorch_epsilon(true).epsilon(1e-8);")]
            /// assert_eq!(opt.config()["pytorch_epsilon"], true);
            /// ```
            pub fn pytorch_epsilon(mut self, pytorch_epsilon: bool) -> Self {
                self.rule.pytorch_epsilon = pytorch_epsilon;
                self
            }
        }
    };
}

/// Adam, Keras 3 `Adam` (defaults: `learning_rate` 0.001, `beta_1` 0.9,
/// `beta_2` 0.999, `epsilon` 1e-7, no AMSGrad), with Keras' placement of
/// epsilon: `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`,
/// `m += (g - m)(1 - beta_1)`, `v += (g^2 - v)(1 - beta_2)`,
/// `w -= alpha * m / (sqrt(v) + epsilon)`. Slots: `momentum`, `velocity`
/// (and `velocity_hat` with AMSGrad).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{Adam, Optimizer};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32, -2.0]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[0.5f32, -0.5]).into_dyn()));
/// let mut opt = Adam::default();
/// opt.step(&[("w", &w)])?;
/// // The first Adam step moves each weight by about lr against its gradient's sign.
/// assert!((w.value()[[0]] - 0.999).abs() < 1e-6 && (w.value()[[1]] + 1.999).abs() < 1e-6);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub struct Adam {
    pub(crate) common: Common,
    rule: AdamRule,
}

impl Default for Adam {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Adam {
    /// Adam with a constant learning rate and Keras' other defaults.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::Adam::new(0.01).learning_rate(), 0.01);
    /// ```
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            common: Common::new(learning_rate),
            rule: AdamRule::keras_defaults("adam"),
        }
    }
}

adam_setters!(Adam);
optimizer_impl!(Adam);

/// AdamW, Keras 3 `AdamW`: Adam plus decoupled weight decay
/// `w -= w * weight_decay * lr` before each update (default `weight_decay`
/// 0.004; PyTorch's default is 0.01, same formula). Other defaults as
/// [`Adam`]; change the decay with `.weight_decay(..)`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{AdamW, Optimizer};
/// let w = Var::parameter(ndarray::arr1(&[2.0f32]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[0.0f32]).into_dyn()));
/// let mut opt = AdamW::new(0.1).weight_decay(0.5);
/// opt.step(&[("w", &w)])?;
/// // zero gradient: only the decay acts, w = 2 - 2 * 0.5 * 0.1
/// assert!((w.value()[[0]] - 1.9).abs() < 1e-6);
/// assert_eq!(opt.config()["weight_decay"], 0.5);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub struct AdamW {
    pub(crate) common: Common,
    rule: AdamRule,
}

impl Default for AdamW {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl AdamW {
    /// AdamW with a constant learning rate and Keras' other defaults.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::AdamW::new(0.01).config()["weight_decay"].as_f64().unwrap() as f32, 0.004);
    /// ```
    pub fn new(learning_rate: f32) -> Self {
        let mut common = Common::new(learning_rate);
        common.weight_decay = Some(0.004);
        AdamW {
            common,
            rule: AdamRule::keras_defaults("adamw"),
        }
    }
}

adam_setters!(AdamW);
optimizer_impl!(AdamW);
