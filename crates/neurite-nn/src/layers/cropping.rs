//! `Cropping2D`: removes rows and columns at the borders of each image (NHWC).

use super::builders::{builder_methods, weightless_layer_methods};
use super::spatial_margins::{
    channels_last, check_data_format, check_sums, checked_sample, hwc, image_batch, SpatialMargins,
};
use super::{common_layer_methods, default_true};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, ParameterShapes};
use neurite_autograd::{ops, Var};
use serde::{Deserialize, Serialize};

fn zero() -> SpatialMargins {
    SpatialMargins::from(0)
}

/// Configuration of a [`Cropping2D`] layer (Keras' keys; `cropping` is
/// written as `[[top, bottom], [left, right]]` and read in any of Keras' forms).
///
/// ```
/// let c: neurite_nn::layers::Cropping2DConfig =
///     serde_json::from_value(serde_json::json!({"name": "cr", "cropping": [2, 1]})).unwrap();
/// assert_eq!((c.cropping.top, c.cropping.left), (2, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cropping2DConfig {
    /// Layer name.
    pub name: String,
    /// Rows and columns removed on each side (Keras' default 0 everywhere).
    #[serde(default = "zero")]
    pub cropping: SpatialMargins,
    /// `"channels_last"` (Keras' default), the only layout neurite runs;
    /// `"channels_first"` is refused by `validate`.
    #[serde(default = "channels_last")]
    pub data_format: String,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape `[h, w, c]`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl Cropping2DConfig {
    /// Checks every field (cropping sums that overflow, a declared input
    /// shape with a 0 dimension); errors name the layer and the field. Run
    /// by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// use neurite_nn::layers::Cropping2D;
    /// let mut c = Cropping2D::new(1).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.cropping.top = usize::MAX;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("cropping2d") && e.contains("cropping"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_sums(&self.name, "cropping", &self.cropping)?;
        check_data_format(&self.name, &self.data_format)?;
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// Keras' `Cropping2D` (channels_last): removes `top`/`bottom` rows and
/// `left`/`right` columns from each `(batch, h, w, c)` image; at least one
/// row and one column must be left (as Keras). One op (`ops::crop2d`); its
/// backward pads the gradient with zeros.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Cropping2D;
/// use neurite_nn::{ForwardContext, Layer};
/// let cr = Cropping2D::new(((1, 0), (1, 2)));
/// assert_eq!(cr.output_shape(&[4, 4, 3])?, vec![3, 1, 3]);
/// let y = cr.forward(&Var::from_array(ndarray::Array4::<f32>::ones((2, 4, 4, 3))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 3, 1, 3]);
/// assert!(Cropping2D::new((2, 0)).output_shape(&[4, 4, 3]).is_err()); // no row left
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cropping2D {
    cfg: Cropping2DConfig,
}

impl Cropping2D {
    /// A `Cropping2D` layer named `"cropping2d"`: `cropping` is an
    /// int, `(rows, columns)` or `((top, bottom), (left, right))`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let cr = neurite_nn::layers::Cropping2D::new((1, 2));
    /// assert_eq!(cr.name(), "cropping2d");
    /// assert_eq!(cr.config_struct().cropping.right, 2);
    /// ```
    pub fn new(cropping: impl Into<SpatialMargins>) -> Self {
        Cropping2D {
            cfg: Cropping2DConfig {
                name: "cropping2d".into(),
                cropping: cropping.into(),
                data_format: channels_last(),
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::Cropping2D;
    /// let cr = Cropping2D::new(3);
    /// assert_eq!(Cropping2D::from_config(cr.config_struct().clone()).config_struct(), cr.config_struct());
    /// ```
    pub fn from_config(cfg: Cropping2DConfig) -> Self {
        Cropping2D { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Cropping2D::new(1).config_struct().cropping.top, 1);
    /// ```
    pub fn config_struct(&self) -> &Cropping2DConfig {
        &self.cfg
    }

    builder_methods! {
        example: "Cropping2D::new(1)";
        with_name;
        /// Declares the input shape `[h, w, c]` (without the batch axis).
        input_shape = "[8, 8, 1]";
    }

    /// No variables; the errors of `build`.
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.output_shape(input_shape).map(|_| Vec::new())
    }
}

impl Layer for Cropping2D {
    common_layer_methods!("Cropping2D");
    weightless_layer_methods!();

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let [h, w, c] = hwc(name, input_shape)?;
        let m = &self.cfg.cropping;
        let keep = |len: usize, a: usize, b: usize| {
            a.checked_add(b)
                .and_then(|s| len.checked_sub(s))
                .filter(|&k| k > 0)
        };
        let (oh, ow) = (keep(h, m.top, m.bottom), keep(w, m.left, m.right));
        if oh.is_none() || ow.is_none() {
            return Err(super::shape_error(
                name,
                format!(
                    "an image larger than the cropping [[{}, {}], [{}, {}]] on both axes (at least one row and one column left)",
                    m.top, m.bottom, m.left, m.right
                ),
                input_shape,
            ));
        }
        checked_sample(name, "cropped", [oh, ow, Some(c)], input_shape)
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        let shape = x.shape();
        image_batch(&self.cfg.name, &shape)?;
        self.output_shape(&shape[1..])?;
        Ok(ops::crop2d(x, self.cfg.cropping.kernel())?)
    }
}
