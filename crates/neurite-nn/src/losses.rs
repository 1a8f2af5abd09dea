//! Loss functions with Keras' names, formulas and reductions.
//!
//! [`Loss::per_sample`] gives one value per sample (shape `(n,)`): the
//! element-wise loss averaged over every axis but the batch axis (Keras
//! averages over the last axis; for rank-2 inputs this is the same).
//! [`Loss::compute`] weights and reduces it to a scalar.
//!
//! Probabilities are clipped to `[1e-7, 1 - 1e-7]` as Keras does (its
//! `epsilon()`); categorical cross-entropy on probabilities first divides
//! `y_pred` by its sum over the class axis. The `from_logits` variants use
//! the fused, numerically stable ops of `neurite_autograd`.
//!
//! ```
//! use neurite_autograd::Var;
//! use neurite_nn::losses::{Loss, Reduction};
//! let y_true = Var::from_array(ndarray::arr2(&[[0.0f32, 1.0], [0.0, 0.0]]));
//! let y_pred = Var::from_array(ndarray::arr2(&[[1.0f32, 1.0], [1.0, 0.0]]));
//! // Keras docs' MeanSquaredError example: 0.5.
//! let l = Loss::MeanSquaredError.compute(&y_true, &y_pred, None, Reduction::Mean)?;
//! assert!((l.item()? - 0.5).abs() < 1e-6);
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

use crate::error::{NnError, Result};
use neurite_autograd::{ops, Var};
use neurite_tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Keras' fuzz factor `epsilon()`: probabilities are clipped to `[EPSILON, 1 - EPSILON]`.
pub const EPSILON: f32 = 1e-7;

fn default_delta() -> f32 {
    1.0
}

/// A loss function (Keras' `keras.losses.*` classes).
///
/// Serialized as `{"name": "binary_crossentropy", "from_logits": true}`.
///
/// ```
/// use neurite_nn::losses::Loss;
/// let l = Loss::from_name("sparse_categorical_crossentropy")?;
/// assert_eq!(l, Loss::SparseCategoricalCrossentropy { from_logits: false });
/// let json = serde_json::to_value(Loss::Huber { delta: 1.0 }).unwrap();
/// assert_eq!(json, serde_json::json!({"name": "huber", "delta": 1.0}));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Loss {
    /// `mean((y_true - y_pred)^2)`.
    MeanSquaredError,
    /// `mean(|y_true - y_pred|)`.
    MeanAbsoluteError,
    /// `0.5 e^2` for `|e| <= delta`, `delta (|e| - 0.5 delta)` beyond, averaged.
    Huber {
        /// Switch point between the quadratic and linear parts (Keras default 1.0).
        #[serde(default = "default_delta")]
        delta: f32,
    },
    /// `-mean(y log p + (1 - y) log(1 - p))`, `p = sigmoid(y_pred)` when `from_logits`.
    BinaryCrossentropy {
        /// Whether `y_pred` holds logits rather than probabilities.
        #[serde(default)]
        from_logits: bool,
    },
    /// `-sum(y_true * log p)` over the class axis (one-hot or soft targets).
    CategoricalCrossentropy {
        /// Whether `y_pred` holds logits rather than probabilities.
        #[serde(default)]
        from_logits: bool,
    },
    /// `-log p[label]` with integer labels given as `f32` class indices.
    SparseCategoricalCrossentropy {
        /// Whether `y_pred` holds logits rather than probabilities.
        #[serde(default)]
        from_logits: bool,
    },
    /// `sum(y_true * log(y_true / y_pred))` over the class axis, both clipped to `[1e-7, 1]`.
    #[serde(rename = "kl_divergence")]
    KLDivergence,
    /// `mean(max(1 - y_true * y_pred, 0))`; 0/1 labels are mapped to -1/1 first.
    Hinge,
}

/// How [`Loss::compute`] reduces the per-sample losses to a scalar.
///
/// ```
/// assert_eq!(neurite_nn::losses::Reduction::default(), neurite_nn::losses::Reduction::Mean);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// Keras' `"sum_over_batch_size"`: the sum of the (weighted) per-sample losses divided by the batch size.
    #[default]
    Mean,
    /// The sum of the (weighted) per-sample losses.
    Sum,
}

impl Loss {
    /// `MeanSquaredError`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::losses::Loss::mse(), neurite_nn::losses::Loss::MeanSquaredError);
    /// ```
    pub fn mse() -> Self {
        Loss::MeanSquaredError
    }

    /// `BinaryCrossentropy(from_logits=False)`.
    ///
    /// ```
    /// use neurite_nn::losses::Loss;
    /// assert_eq!(Loss::binary_crossentropy(), Loss::BinaryCrossentropy { from_logits: false });
    /// ```
    pub fn binary_crossentropy() -> Self {
        Loss::BinaryCrossentropy { from_logits: false }
    }

    /// `CategoricalCrossentropy(from_logits=False)`.
    ///
    /// ```
    /// use neurite_nn::losses::Loss;
    /// assert_eq!(Loss::categorical_crossentropy(), Loss::CategoricalCrossentropy { from_logits: false });
    /// ```
    pub fn categorical_crossentropy() -> Self {
        Loss::CategoricalCrossentropy { from_logits: false }
    }

    /// `SparseCategoricalCrossentropy(from_logits=False)`.
    ///
    /// ```
    /// use neurite_nn::losses::Loss;
    /// assert_eq!(Loss::sparse_categorical_crossentropy(),
    ///            Loss::SparseCategoricalCrossentropy { from_logits: false });
    /// ```
    pub fn sparse_categorical_crossentropy() -> Self {
        Loss::SparseCategoricalCrossentropy { from_logits: false }
    }

    /// The loss Keras names `name` (function names such as `"mse"`,
    /// `"categorical_crossentropy"` or class names such as `"Huber"`), with
    /// Keras' defaults (`from_logits = false`, `delta = 1.0`).
    ///
    /// ```
    /// use neurite_nn::losses::Loss;
    /// assert_eq!(Loss::from_name("mse")?, Loss::MeanSquaredError);
    /// assert_eq!(Loss::from_name("KLDivergence")?, Loss::KLDivergence);
    /// assert!(Loss::from_name("cosine").unwrap_err().to_string().contains("cosine"));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_name(name: &str) -> Result<Self> {
        let key: String = name
            .chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .to_lowercase();
        Ok(match key.as_str() {
            "meansquarederror" | "mse" => Loss::MeanSquaredError,
            "meanabsoluteerror" | "mae" => Loss::MeanAbsoluteError,
            "huber" | "huberloss" => Loss::Huber { delta: 1.0 },
            "binarycrossentropy" => Loss::binary_crossentropy(),
            "categoricalcrossentropy" => Loss::categorical_crossentropy(),
            "sparsecategoricalcrossentropy" => Loss::sparse_categorical_crossentropy(),
            "kldivergence" | "kld" | "kullbackleiblerdivergence" => Loss::KLDivergence,
            "hinge" => Loss::Hinge,
            _ => {
                return Err(NnError::Config {
                    layer: "loss".into(),
                    message: format!(
                        "unknown loss {name:?}; known: mean_squared_error (mse), mean_absolute_error (mae), \
                         huber, binary_crossentropy, categorical_crossentropy, \
                         sparse_categorical_crossentropy, kl_divergence (kld), hinge"
                    ),
                })
            }
        })
    }

    /// Keras' function name of the loss (`"sparse_categorical_crossentropy"`).
    ///
    /// ```
    /// assert_eq!(neurite_nn::losses::Loss::Hinge.name(), "hinge");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::Huber { .. } => "huber",
            Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
            Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
            Loss::KLDivergence => "kl_divergence",
            Loss::Hinge => "hinge",
        }
    }

    /// The loss of every sample: shape `(n,)` for a batch of `n`.
    ///
    /// `y_true` must have the shape of `y_pred` (a trailing axis of 1 may be
    /// missing on either side), except for sparse categorical cross-entropy
    /// whose labels have shape `(n,)` or `(n, 1)` (or, for `(n, t, c)`
    /// predictions, `(n, t)`): class indices as `f32`, validated to be
    /// integers in `[0, classes)`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::losses::Loss;
    /// let y_true = Var::from_array(ndarray::arr1(&[1.0f32, 0.0]));
    /// let y_pred = Var::from_array(ndarray::arr2(&[[0.1f32, 0.9], [0.8, 0.2]]));
    /// let l = Loss::sparse_categorical_crossentropy().per_sample(&y_true, &y_pred)?;
    /// assert_eq!(l.shape(), vec![2]);
    /// assert!((l.to_tensor()[[0]] - -(0.9f32).ln()).abs() < 1e-5);
    /// let bad = Var::from_array(ndarray::arr1(&[2.0f32, 0.0]));
    /// assert!(Loss::sparse_categorical_crossentropy().per_sample(&bad, &y_pred).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn per_sample(&self, y_true: &Var, y_pred: &Var) -> Result<Var> {
        if y_pred.ndim() == 0 {
            return Err(self.shape_error("y_pred with a batch axis", &y_pred.shape()));
        }
        if let Loss::SparseCategoricalCrossentropy { from_logits } = *self {
            return self.sparse_cce(y_true, y_pred, from_logits);
        }
        let y_true = self.align(y_true, y_pred)?;
        let t = &y_true;
        let p = y_pred;
        match *self {
            Loss::MeanSquaredError => {
                let d = ops::sub(t, p)?;
                mean_per_sample(&ops::mul(&d, &d)?)
            }
            Loss::MeanAbsoluteError => mean_per_sample(&ops::abs(&ops::sub(t, p)?)?),
            Loss::Huber { delta } => {
                if !(delta.is_finite() && delta > 0.0) {
                    return Err(NnError::Config {
                        layer: "huber".into(),
                        message: format!("delta must be a finite number > 0, got {delta}"),
                    });
                }
                let a = ops::abs(&ops::sub(p, t)?)?;
                let q = ops::clip(&a, 0.0, delta)?;
                let quad = ops::mul_scalar(&ops::mul(&q, &q)?, 0.5)?;
                let lin = ops::mul_scalar(&ops::sub(&a, &q)?, delta)?;
                mean_per_sample(&ops::add(&quad, &lin)?)
            }
            Loss::BinaryCrossentropy { from_logits: true } => {
                let (t2, p2) = (to_2d(t)?, to_2d(p)?);
                Ok(ops::sigmoid_binary_cross_entropy(&p2, &t2)?)
            }
            Loss::BinaryCrossentropy { from_logits: false } => {
                let pc = ops::clip(p, EPSILON, 1.0 - EPSILON)?;
                let pos = ops::mul(t, &ops::ln(&pc)?)?;
                let one_minus_t = ops::add_scalar(&ops::neg(t)?, 1.0)?;
                let one_minus_p = ops::add_scalar(&ops::neg(&pc)?, 1.0)?;
                let neg = ops::mul(&one_minus_t, &ops::ln(&one_minus_p)?)?;
                mean_per_sample(&ops::neg(&ops::add(&pos, &neg)?)?)
            }
            Loss::CategoricalCrossentropy { from_logits } => {
                self.require_class_axis(p)?;
                let c = *p.shape().last().expect("rank >= 2");
                let (t2, p2) = (rows(t, c)?, rows(p, c)?);
                let per_row = if from_logits {
                    ops::softmax_cross_entropy(&p2, &t2)?
                } else {
                    let sums = ops::sum_axis(&p2, 1, true)?;
                    let pn = ops::clip(&ops::div(&p2, &sums)?, EPSILON, 1.0 - EPSILON)?;
                    ops::neg(&ops::sum_axis(&ops::mul(&t2, &ops::ln(&pn)?)?, 1, false)?)?
                };
                rows_to_samples(&per_row, &p.shape())
            }
            Loss::KLDivergence => {
                self.require_class_axis(p)?;
                let c = *p.shape().last().expect("rank >= 2");
                let (t2, p2) = (rows(t, c)?, rows(p, c)?);
                let tc = ops::clip(&t2, EPSILON, 1.0)?;
                let pc = ops::clip(&p2, EPSILON, 1.0)?;
                let ratio = ops::ln(&ops::div(&tc, &pc)?)?;
                let per_row = ops::sum_axis(&ops::mul(&tc, &ratio)?, 1, false)?;
                rows_to_samples(&per_row, &p.shape())
            }
            Loss::Hinge => {
                let binary = t.value().iter().all(|&v| v == 0.0 || v == 1.0);
                let t = if binary {
                    ops::add_scalar(&ops::mul_scalar(t, 2.0)?, -1.0)?
                } else {
                    t.clone()
                };
                let margin = ops::add_scalar(&ops::neg(&ops::mul(&t, p)?)?, 1.0)?;
                mean_per_sample(&ops::relu(&margin)?)
            }
            Loss::SparseCategoricalCrossentropy { .. } => unreachable!("handled above"),
        }
    }

    /// The scalar loss of a batch: per-sample losses, multiplied by
    /// `sample_weight` (shape `(n,)` or `(n, 1)`) when given, then summed
    /// ([`Reduction::Sum`]) or summed and divided by the batch size
    /// ([`Reduction::Mean`], Keras' `sum_over_batch_size`).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::losses::{Loss, Reduction};
    /// let t = Var::from_array(ndarray::arr2(&[[0.0f32], [0.0]]));
    /// let p = Var::from_array(ndarray::arr2(&[[1.0f32], [2.0]]));
    /// let w = Var::from_array(ndarray::arr1(&[1.0f32, 0.0]));
    /// let l = Loss::MeanAbsoluteError.compute(&t, &p, Some(&w), Reduction::Mean)?;
    /// assert!((l.item()? - 0.5).abs() < 1e-6);
    /// let s = Loss::MeanAbsoluteError.compute(&t, &p, None, Reduction::Sum)?;
    /// assert!((s.item()? - 3.0).abs() < 1e-6);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn compute(
        &self,
        y_true: &Var,
        y_pred: &Var,
        sample_weight: Option<&Var>,
        reduction: Reduction,
    ) -> Result<Var> {
        let per = self.per_sample(y_true, y_pred)?;
        let n = per.shape()[0];
        let weighted = match sample_weight {
            None => per,
            Some(w) => {
                let ws = w.shape();
                let ok = ws == [n] || ws == [n, 1];
                if !ok {
                    return Err(NnError::Shape {
                        layer: self.name().into(),
                        expected: format!("sample_weight of shape [{n}] or [{n}, 1]"),
                        found: ws,
                    });
                }
                let w = if ws.len() == 2 {
                    ops::reshape(w, &[n])?
                } else {
                    w.clone()
                };
                ops::mul(&per, &w)?
            }
        };
        Ok(match reduction {
            Reduction::Sum => ops::sum_all(&weighted)?,
            Reduction::Mean => {
                if n == 0 {
                    Var::scalar(0.0)
                } else {
                    ops::mean_all(&weighted)?
                }
            }
        })
    }

    fn shape_error(&self, expected: impl Into<String>, found: &[usize]) -> NnError {
        NnError::Shape {
            layer: self.name().into(),
            expected: expected.into(),
            found: found.to_vec(),
        }
    }

    fn require_class_axis(&self, p: &Var) -> Result<()> {
        if p.ndim() < 2 {
            return Err(self.shape_error("y_pred of shape (batch, ..., classes)", &p.shape()));
        }
        Ok(())
    }

    /// `y_true` reshaped to `y_pred`'s shape when they differ only by a trailing axis of 1.
    fn align(&self, y_true: &Var, y_pred: &Var) -> Result<Var> {
        let (ts, ps) = (y_true.shape(), y_pred.shape());
        if ts == ps {
            return Ok(y_true.clone());
        }
        let trailing_one = |long: &[usize], short: &[usize]| {
            long.len() == short.len() + 1 && long[..short.len()] == *short && long[short.len()] == 1
        };
        if trailing_one(&ts, &ps) || trailing_one(&ps, &ts) {
            return Ok(ops::reshape(y_true, &ps)?);
        }
        Err(self.shape_error(format!("y_true of the shape of y_pred {ps:?}"), &ts))
    }

    fn sparse_cce(&self, y_true: &Var, y_pred: &Var, from_logits: bool) -> Result<Var> {
        let ps = y_pred.shape();
        if ps.len() < 2 {
            return Err(self.shape_error("y_pred of shape (batch, ..., classes)", &ps));
        }
        let c = ps[ps.len() - 1];
        let lead = &ps[..ps.len() - 1];
        let ts = y_true.shape();
        let ok =
            ts == lead || (ts.len() == lead.len() + 1 && ts[..lead.len()] == *lead && ts[lead.len()] == 1);
        if !ok {
            return Err(self.shape_error(
                format!(
                    "integer labels of shape {lead:?} or {:?} for y_pred {ps:?}",
                    [lead, &[1]].concat()
                ),
                &ts,
            ));
        }
        let labels: Vec<usize> = y_true
            .value()
            .iter()
            .map(|&v| {
                if v.fract() != 0.0 || !(v >= 0.0 && (v as usize) < c) {
                    Err(NnError::Config {
                        layer: self.name().into(),
                        message: format!("label {v} is not an integer class index in [0, {c}) ({c} classes)"),
                    })
                } else {
                    Ok(v as usize)
                }
            })
            .collect::<Result<_>>()?;
        let p2 = rows(y_pred, c)?;
        let per_row = if from_logits {
            ops::sparse_softmax_cross_entropy(&p2, &labels)?
        } else {
            let sums = ops::sum_axis(&p2, 1, true)?;
            let pn = ops::clip(&ops::div(&p2, &sums)?, EPSILON, 1.0 - EPSILON)?;
            let mut onehot = Tensor::zeros(vec![labels.len(), c]);
            for (i, &l) in labels.iter().enumerate() {
                onehot[[i, l]] = 1.0;
            }
            let picked = ops::mul(&ops::ln(&pn)?, &Var::constant(onehot))?;
            ops::neg(&ops::sum_axis(&picked, 1, false)?)?
        };
        rows_to_samples(&per_row, &ps)
    }
}

/// `x` as `(n, rest)`; a rank-1 `(n,)` becomes `(n, 1)`.
fn to_2d(x: &Var) -> Result<Var> {
    let s = x.shape();
    let n = s[0];
    let rest: usize = s[1..].iter().product();
    if s.len() == 2 {
        return Ok(x.clone());
    }
    Ok(ops::reshape(x, &[n, rest])?)
}

/// The mean of every sample's elements: `(n, ...) -> (n,)`.
fn mean_per_sample(x: &Var) -> Result<Var> {
    let x2 = to_2d(x)?;
    if x2.shape()[1] == 0 {
        return Ok(Var::constant(Tensor::zeros(vec![x2.shape()[0]])));
    }
    Ok(ops::mean_axis(&x2, 1, false)?)
}

/// `(n, ..., c)` as `(rows, c)`.
fn rows(x: &Var, c: usize) -> Result<Var> {
    let s = x.shape();
    if s.len() == 2 {
        return Ok(x.clone());
    }
    let r: usize = s[..s.len() - 1].iter().product();
    Ok(ops::reshape(x, &[r, c])?)
}

/// Per-row losses `(rows,)` of a `(n, ..., c)` prediction, averaged to `(n,)`.
fn rows_to_samples(per_row: &Var, pred_shape: &[usize]) -> Result<Var> {
    if pred_shape.len() == 2 {
        return Ok(per_row.clone());
    }
    let n = pred_shape[0];
    let m: usize = pred_shape[1..pred_shape.len() - 1].iter().product();
    if m == 0 {
        return Ok(Var::constant(Tensor::zeros(vec![n])));
    }
    Ok(ops::mean_axis(&ops::reshape(per_row, &[n, m])?, 1, false)?)
}
