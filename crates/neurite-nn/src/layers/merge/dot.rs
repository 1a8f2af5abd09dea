//! `Dot`: the per-sample dot product of two inputs along one axis of each
//! (Keras' `Dot(axes, normalize)`, through `batch_dot`).

use super::{check_count, merge_layer_methods, sample_shapes};
use crate::checks::field_error;
use crate::error::{NnError, Result};
use crate::layer::{InputArity, Layer};
use crate::layers::default_true;
use neurite_autograd::{ops, Var};
use serde::{Deserialize, Serialize};

/// Keras' `epsilon()` (1e-7), the floor of the norm in `Dot(normalize=True)`.
pub(crate) const KERAS_EPSILON: f32 = 1e-7;

/// The `axes` of a [`Dot`] layer, counted with the batch axis (negative
/// from the end): one axis for both inputs, or one per input. In JSON an
/// integer or a list of two integers, as Keras.
///
/// ```
/// use neurite_nn::layers::DotAxes;
/// let a: DotAxes = serde_json::from_value(serde_json::json!([1, 2])).unwrap();
/// assert_eq!(a, DotAxes::Pair([1, 2]));
/// assert_eq!(serde_json::to_value(DotAxes::One(-1)).unwrap(), serde_json::json!(-1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DotAxes {
    /// The same axis of both inputs (negative: counted from each input's end).
    One(i64),
    /// `[axis of the first input, axis of the second input]`.
    Pair([i64; 2]),
}

/// Configuration of a [`Dot`] layer (Keras' keys).
///
/// ```
/// let c: neurite_nn::layers::DotConfig =
///     serde_json::from_value(serde_json::json!({"name": "dot", "axes": 1})).unwrap();
/// assert!(!c.normalize);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DotConfig {
    /// Layer name.
    pub name: String,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// The axes to contract (required, as in Keras).
    pub axes: DotAxes,
    /// L2-normalize each input along its axis first (the result is then the cosine similarity).
    #[serde(default)]
    pub normalize: bool,
}

impl DotConfig {
    /// Checks the fields: no axis may be 0 (the batch axis); whether the
    /// axes fit the inputs is checked when the layer sees them. Run by
    /// [`crate::layer_from_config`].
    ///
    /// ```
    /// use neurite_nn::layers::{Dot, DotAxes};
    /// assert!(Dot::new(DotAxes::One(-1)).config_struct().validate().is_ok());
    /// let e = Dot::new(DotAxes::Pair([1, 0])).config_struct().validate().unwrap_err().to_string();
    /// assert!(e.contains("dot") && e.contains("axes"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let zero = match self.axes {
            DotAxes::One(a) => a == 0,
            DotAxes::Pair([a, b]) => a == 0 || b == 0,
        };
        if zero {
            return Err(field_error(
                &self.name,
                "axes",
                "non-batch axes (Keras cannot batch_dot over axis 0)",
                format!("{:?}", self.axes),
            ));
        }
        Ok(())
    }
}

/// Keras' `Dot`: for two inputs `x` `(batch, ...)` and `y` `(batch, ...)`,
/// the sum over `x`'s axis `axes[0]` times `y`'s axis `axes[1]` per sample
/// (Keras' `batch_dot`): the output has `x`'s other axes, then `y`'s other
/// non-batch axes, and is `(batch, 1)` when none is left. With `normalize`
/// both inputs are first scaled to unit L2 norm along those axes (Keras'
/// `ops.normalize`: `x * min(1/||x||, 1/1e-7)`), giving cosine similarities.
/// Axes are counted with the batch axis; negative ones from each input's end.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{Dot, DotAxes};
/// use neurite_nn::{ForwardContext, Layer};
/// let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]));
/// let y = Var::from_array(ndarray::arr2(&[[5.0f32, 6.0], [7.0, 8.0]]));
/// let d = Dot::new(DotAxes::One(1));
/// let out = d.forward_multi(&[x.clone(), y.clone()], &mut ForwardContext::inference())?;
/// assert_eq!(out.to_tensor(), ndarray::arr2(&[[17.0f32], [53.0]]).into_dyn());
/// let cos = Dot::new(DotAxes::One(-1)).normalize(true).forward_multi(&[x.clone(), x], &mut ForwardContext::inference())?;
/// assert!(cos.to_tensor().iter().all(|&c| (c - 1.0).abs() < 1e-6));
/// assert_eq!(Dot::new(DotAxes::Pair([1, 2])).output_shape_multi(&[vec![3, 5], vec![10, 3]])?, vec![5, 10]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dot {
    cfg: DotConfig,
}

impl Dot {
    /// Keras' `Dot.compute_mask`: no mask.
    fn merged_mask(&self, _xs: &[Var], _masks: &[Option<crate::mask::Mask>]) -> Option<crate::mask::Mask> {
        None
    }

    const ARITY: InputArity = InputArity::Exactly(2);

    /// A `Dot` layer over `axes`, without normalization, named `"dot"`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Dot::new(neurite_nn::layers::DotAxes::One(1)).name(), "dot");
    /// ```
    pub fn new(axes: DotAxes) -> Self {
        Dot {
            cfg: DotConfig {
                name: "dot".into(),
                trainable: true,
                axes,
                normalize: false,
            },
        }
    }

    /// L2-normalizes both inputs along their axes first (cosine similarity).
    ///
    /// ```
    /// use neurite_nn::layers::{Dot, DotAxes};
    /// assert!(Dot::new(DotAxes::One(1)).normalize(true).config_struct().normalize);
    /// ```
    pub fn normalize(mut self, normalize: bool) -> Self {
        self.cfg.normalize = normalize;
        self
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::{Dot, DotAxes};
    /// let d = Dot::new(DotAxes::Pair([2, 1]));
    /// assert_eq!(Dot::from_config(d.config_struct().clone()).config_struct(), d.config_struct());
    /// ```
    pub fn from_config(cfg: DotConfig) -> Self {
        Dot { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// use neurite_nn::layers::{Dot, DotAxes};
    /// assert_eq!(Dot::new(DotAxes::One(1)).config_struct().axes, DotAxes::One(1));
    /// ```
    pub fn config_struct(&self) -> &DotConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Dot::new(neurite_nn::layers::DotAxes::One(1)).with_name("sim").name(), "sim");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// The contracted axes of the two sample shapes (without the batch axis).
    fn sample_axes(&self, s1: &[usize], s2: &[usize]) -> Result<[usize; 2]> {
        self.cfg.validate()?;
        let [a1, a2] = match self.cfg.axes {
            DotAxes::One(a) => [a, a],
            DotAxes::Pair(p) => p,
        };
        let resolve = |a: i64, sample: &[usize]| -> Result<usize> {
            let full = sample.len() as i64 + 1;
            let r = if a < 0 { a + full } else { a };
            if r < 1 || r >= full {
                return Err(NnError::Shape {
                    layer: self.cfg.name.clone(),
                    expected: format!(
                        "inputs with a non-batch axis {a} (axes {:?}, counted with the batch axis) \
                         (input sample shapes {s1:?} and {s2:?})",
                        self.cfg.axes
                    ),
                    found: sample.to_vec(),
                });
            }
            Ok(r as usize - 1)
        };
        let (i, j) = (resolve(a1, s1)?, resolve(a2, s2)?);
        if s1[i] != s2[j] {
            return Err(NnError::Shape {
                layer: self.cfg.name.clone(),
                expected: format!(
                    "equal lengths on the contracted axes {:?}: {} (first input {s1:?}) != {} (second input)",
                    self.cfg.axes, s1[i], s2[j]
                ),
                found: s2.to_vec(),
            });
        }
        Ok([i, j])
    }

    fn merged_shape(&self, shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
        check_count(&self.cfg.name, "Dot", Self::ARITY, shapes.len())?;
        let (s1, s2) = (&shapes[0], &shapes[1]);
        let [i, j] = self.sample_axes(s1, s2)?;
        let mut out: Vec<usize> = s1
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != i)
            .map(|(_, &d)| d)
            .collect();
        out.extend(s2.iter().enumerate().filter(|&(k, _)| k != j).map(|(_, &d)| d));
        if out.is_empty() {
            out.push(1);
        }
        Ok(out)
    }

    fn merge(&self, xs: &[Var]) -> Result<Var> {
        check_count(&self.cfg.name, "Dot", Self::ARITY, xs.len())?;
        let shapes = sample_shapes(&self.cfg.name, xs)?;
        let out_sample = self.merged_shape(&shapes)?;
        let [i, j] = self.sample_axes(&shapes[0], &shapes[1])?;
        let (ax, ay) = (i + 1, j + 1);
        let (mut x, mut y) = (xs[0].clone(), xs[1].clone());
        if self.cfg.normalize {
            x = ops::l2_normalize(&x, ax, KERAS_EPSILON)?;
            y = ops::l2_normalize(&y, ay, KERAS_EPSILON)?;
        }
        let batch = x.shape()[0];
        let k = shapes[0][i];
        // x -> (batch, rest of x, k) -> (batch, m, k)
        let (rx, ry) = (x.ndim(), y.ndim());
        let px: Vec<usize> = std::iter::once(0)
            .chain((1..rx).filter(|&a| a != ax))
            .chain(std::iter::once(ax))
            .collect();
        // y -> (batch, k, rest of y) -> (batch, k, n)
        let py: Vec<usize> = [0, ay].into_iter().chain((1..ry).filter(|&a| a != ay)).collect();
        let permuted = |v: &Var, p: &[usize]| -> Result<Var> {
            if p.iter().enumerate().all(|(a, &b)| a == b) {
                Ok(v.clone())
            } else {
                Ok(ops::permute(v, p)?)
            }
        };
        let rest = |s: &[usize], c: usize| -> usize {
            s.iter()
                .enumerate()
                .filter(|&(a, _)| a != c)
                .map(|(_, &d)| d)
                .product()
        };
        let (m, n) = (rest(&shapes[0], i), rest(&shapes[1], j));
        let x3 = ops::reshape(&permuted(&x, &px)?, &[batch, m, k])?;
        let y3 = ops::reshape(&permuted(&y, &py)?, &[batch, k, n])?;
        let prod = ops::batched_matmul(&x3, &y3)?;
        let mut out_shape = vec![batch];
        out_shape.extend_from_slice(&out_sample);
        Ok(ops::reshape(&prod, &out_shape)?)
    }
}

impl Layer for Dot {
    merge_layer_methods!("Dot");
}
