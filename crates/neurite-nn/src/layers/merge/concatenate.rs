//! `Concatenate`: joins 2 or more inputs along one axis (Keras' `axis`,
//! counted with the batch axis, default -1).

use super::{check_count, merge_layer_methods, sample_shapes};
use crate::checks::field_error;
use crate::error::{NnError, Result};
use crate::layer::{InputArity, Layer};
use crate::layers::default_true;
use crate::mask::Mask;
use neurite_autograd::{ops, Var};
use serde::{Deserialize, Serialize};

/// Configuration of a [`Concatenate`] layer (Keras' keys).
///
/// ```
/// let c: neurite_nn::layers::ConcatenateConfig =
///     serde_json::from_value(serde_json::json!({"name": "concatenate"})).unwrap();
/// assert_eq!(c.axis, -1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcatenateConfig {
    /// Layer name.
    pub name: String,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// The axis to join along, counted with the batch axis (negative counts
    /// from the end); it may not be the batch axis 0.
    #[serde(default = "minus_one")]
    pub axis: i64,
}

fn minus_one() -> i64 {
    -1
}

impl ConcatenateConfig {
    /// Checks the fields: `axis` may not be 0 (the batch axis); whether it
    /// fits the inputs' rank is checked when the layer sees them. Run by
    /// [`crate::layer_from_config`].
    ///
    /// ```
    /// let mut c = neurite_nn::layers::Concatenate::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.axis = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("concatenate") && e.contains("axis"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.axis == 0 {
            return Err(field_error(
                &self.name,
                "axis",
                "a non-batch axis (1.. or negative)",
                0,
            ));
        }
        Ok(())
    }
}

/// Keras' `Concatenate`: joins 2 or more inputs along `axis` (counted with
/// the batch axis; default -1, the channels); all inputs have the same rank
/// and agree on every other axis. The backward pass slices the gradient.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Concatenate;
/// use neurite_nn::{ForwardContext, Layer};
/// let a = Var::from_array(ndarray::Array3::<f32>::ones((2, 3, 4)));
/// let b = Var::from_array(ndarray::Array3::<f32>::zeros((2, 3, 1)));
/// let y = Concatenate::new().forward_multi(&[a, b], &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 3, 5]);
/// let c = Concatenate::new().axis(1);
/// assert_eq!(c.output_shape_multi(&[vec![3, 4], vec![2, 4]])?, vec![5, 4]);
/// assert!(c.output_shape_multi(&[vec![3, 4], vec![2, 5]]).is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Concatenate {
    cfg: ConcatenateConfig,
}

impl Default for Concatenate {
    fn default() -> Self {
        Self::new()
    }
}

impl Concatenate {
    const ARITY: InputArity = InputArity::AtLeast(2);

    /// A `Concatenate` layer on the last axis, named `"concatenate"`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Concatenate::new().name(), "concatenate");
    /// ```
    pub fn new() -> Self {
        Concatenate {
            cfg: ConcatenateConfig {
                name: "concatenate".into(),
                trainable: true,
                axis: -1,
            },
        }
    }

    /// Sets the axis (counted with the batch axis; negative from the end).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Concatenate::new().axis(1).config_struct().axis, 1);
    /// ```
    pub fn axis(mut self, axis: i64) -> Self {
        self.cfg.axis = axis;
        self
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::Concatenate;
    /// let c = Concatenate::new().axis(-2);
    /// assert_eq!(Concatenate::from_config(c.config_struct().clone()).config_struct(), c.config_struct());
    /// ```
    pub fn from_config(cfg: ConcatenateConfig) -> Self {
        Concatenate { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Concatenate::new().config_struct().axis, -1);
    /// ```
    pub fn config_struct(&self) -> &ConcatenateConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Concatenate::new().with_name("cat").name(), "cat");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// The axis of the sample shapes (rank `rank`, no batch axis) to join along.
    fn sample_axis(&self, rank: usize) -> Result<usize> {
        self.cfg.validate()?;
        let full = rank as i64 + 1;
        let a = self.cfg.axis;
        let resolved = if a < 0 { a + full } else { a };
        if resolved < 1 || resolved >= full {
            return Err(field_error(
                &self.cfg.name,
                "axis",
                format!(
                    "an axis of inputs of rank {full} other than the batch axis (1..{full} or -{rank}..-1)"
                ),
                a,
            ));
        }
        Ok(resolved as usize - 1)
    }

    fn merged_shape(&self, shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
        check_count(&self.cfg.name, "Concatenate", Self::ARITY, shapes.len())?;
        let first = &shapes[0];
        let axis = self.sample_axis(first.len())?;
        let mut out = first.clone();
        for s in &shapes[1..] {
            let same_rest = s.len() == first.len() && (0..s.len()).all(|i| i == axis || s[i] == first[i]);
            if !same_rest {
                return Err(NnError::Shape {
                    layer: self.cfg.name.clone(),
                    expected: format!(
                        "sample shapes of rank {} equal to {first:?} on every axis but the concatenation axis \
                         {} (all input shapes: {shapes:?})",
                        first.len(),
                        self.cfg.axis
                    ),
                    found: s.clone(),
                });
            }
            out[axis] = out[axis].checked_add(s[axis]).ok_or_else(|| NnError::Shape {
                layer: self.cfg.name.clone(),
                expected: "a concatenated length that fits in usize".into(),
                found: s.clone(),
            })?;
        }
        Ok(out)
    }

    fn merge(&self, xs: &[Var]) -> Result<Var> {
        check_count(&self.cfg.name, "Concatenate", Self::ARITY, xs.len())?;
        let shapes = sample_shapes(&self.cfg.name, xs)?;
        self.merged_shape(&shapes)?;
        let axis = self.sample_axis(shapes[0].len())? + 1;
        let parts: Vec<&Var> = xs.iter().collect();
        Ok(ops::concat(&parts, axis)?)
    }
}

impl Concatenate {
    /// Keras' `Concatenate.compute_mask`: `None` when no input has a mask;
    /// else an unmasked input counts as all valid, and the masks are joined
    /// along the time axis (axis 1 of `(batch, T, ...)` inputs) or or-ed
    /// (any other axis).
    fn merged_mask(&self, xs: &[Var], masks: &[Option<Mask>]) -> Option<Mask> {
        if masks.iter().all(Option::is_none) || xs.len() != masks.len() {
            return None;
        }
        let rank = xs[0].ndim().checked_sub(1)?;
        let axis = self.sample_axis(rank).ok()? + 1;
        let full: Vec<Mask> = xs
            .iter()
            .zip(masks)
            .map(|(x, m)| match m {
                Some(m) => crate::mask::normalized(m),
                None => Mask::ones(x.shape()[..2.min(x.ndim())].to_vec()),
            })
            .collect();
        if axis == 1 {
            let views: Vec<_> = full.iter().map(|m| m.view()).collect();
            ndarray::concatenate(ndarray::Axis(1), &views).ok()
        } else {
            let all: Vec<Option<Mask>> = full.into_iter().map(Some).collect();
            crate::mask::or_all(&all)
        }
    }
}

impl Layer for Concatenate {
    merge_layer_methods!("Concatenate");
}
