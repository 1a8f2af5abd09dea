//! AdaGrad.

use crate::core::{optimizer_impl, run1, Common, NonFiniteMask, PreOp, Rule};
use crate::error::{check_non_negative_f64, check_positive_f64, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use serde_json::{Map, Value};

pub(crate) struct AdagradRule {
    initial_accumulator_value: f64,
    epsilon: f64,
}

pub(crate) struct AdagradConsts {
    lr: f32,
    epsilon: f32,
}

impl Rule for AdagradRule {
    type Consts = AdagradConsts;
    fn name(&self) -> &'static str {
        "adagrad"
    }
    fn slot_names(&self) -> &'static [&'static str] {
        &["accumulator"]
    }
    fn slot_init(&self, _i: usize) -> f32 {
        self.initial_accumulator_value as f32
    }
    fn validate(&self) -> Result<()> {
        check_non_negative_f64(
            "adagrad",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check_positive_f64("adagrad", "epsilon", self.epsilon)
    }
    fn config(&self, map: &mut Map<String, Value>) {
        map.insert(
            "initial_accumulator_value".into(),
            Value::from(self.initial_accumulator_value),
        );
        map.insert("epsilon".into(), Value::from(self.epsilon));
    }
    fn begin_step(&mut self, _t: u64, lr: f32) -> AdagradConsts {
        AdagradConsts {
            lr,
            epsilon: self.epsilon as f32,
        }
    }
    fn update<P: PreOp>(
        &self,
        k: &AdagradConsts,
        pre: &P,
        w: ArrayViewMutD<f32>,
        g: ArrayViewD<f32>,
        slots: &mut [ArrayD<f32>],
        par: bool,
    ) -> NonFiniteMask {
        let (lr, eps) = (k.lr, k.epsilon);
        let [acc] = slots else {
            unreachable!("slot count checked before the step")
        };
        run1(par, w, g, acc, |w, g, acc| {
            let (w0, g) = pre.apply(*w, g);
            *acc += g * g;
            *w = w0 - (lr * g) / (*acc + eps).sqrt();
        })
    }
}

/// AdaGrad, Keras 3 `Adagrad` (defaults: `learning_rate` 0.001,
/// `initial_accumulator_value` 0.1, `epsilon` 1e-7):
/// `acc += g^2; w -= lr * g / sqrt(acc + epsilon)` (epsilon inside the
/// square root, as Keras). Slot: `accumulator`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_optim::{Adagrad, Optimizer};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[0.3f32]).into_dyn()));
/// let mut opt = Adagrad::new(0.1);
/// opt.step(&[("w", &w)])?;
/// // acc = 0.1 + 0.09 = 0.19;  w = 1 - 0.1 * 0.3 / sqrt(0.19 + 1e-7)
/// assert!((w.value()[[0]] - (1.0 - 0.03 / 0.19f32.sqrt())).abs() < 1e-6);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
pub struct Adagrad {
    pub(crate) common: Common,
    rule: AdagradRule,
}

impl Default for Adagrad {
    fn default() -> Self {
        Self::new(0.001)
    }
}

impl Adagrad {
    /// AdaGrad with a constant learning rate and Keras' other defaults.
    ///
    /// ```
    /// use neurite_optim::Optimizer;
    /// assert_eq!(neurite_optim::Adagrad::new(0.1).name(), "adagrad");
    /// ```
    pub fn new(learning_rate: f32) -> Self {
        Adagrad {
            common: Common::new(learning_rate),
            rule: AdagradRule {
                initial_accumulator_value: 0.1,
                epsilon: 1e-7,
            },
        }
    }
    /// Starting value of the accumulator (>= 0).
    ///
    /// ```
    /// assert!(neurite_optim::Adagrad::default().initial_accumulator_value(-1.0).build().is_err());
    /// ```
    pub fn initial_accumulator_value(mut self, value: f64) -> Self {
        self.rule.initial_accumulator_value = value;
        self
    }
    /// Small constant for numerical stability (> 0: with 0 and a zero
    /// accumulator the update would be `0 / 0`).
    ///
    /// ```
    /// assert!(neurite_optim::Adagrad::default().epsilon(1e-8).build().is_ok());
    /// assert!(neurite_optim::Adagrad::default().epsilon(0.0).build().is_err());
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
}

optimizer_impl!(Adagrad);
