//! `ZeroPadding2D`: rows and columns of zeros around each image (NHWC).

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

fn one() -> SpatialMargins {
    SpatialMargins::from(1)
}

/// Configuration of a [`ZeroPadding2D`] layer (Keras' keys; `padding` is
/// written as `[[top, bottom], [left, right]]` and read in any of Keras' forms).
///
/// ```
/// let c: neurite_nn::layers::ZeroPadding2DConfig =
///     serde_json::from_value(serde_json::json!({"name": "zp", "padding": [2, 1]})).unwrap();
/// assert_eq!((c.padding.top, c.padding.left), (2, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZeroPadding2DConfig {
    /// Layer name.
    pub name: String,
    /// Rows and columns added on each side (Keras' default 1 everywhere).
    #[serde(default = "one")]
    pub padding: SpatialMargins,
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

impl ZeroPadding2DConfig {
    /// Checks every field (padding sums that overflow, a declared input
    /// shape with a 0 dimension); errors name the layer and the field. Run
    /// by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// use neurite_nn::layers::ZeroPadding2D;
    /// let mut c = ZeroPadding2D::new(1).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.padding.top = usize::MAX;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("zero_padding2d") && e.contains("padding"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_sums(&self.name, "padding", &self.padding)?;
        check_data_format(&self.name, &self.data_format)?;
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// Keras' `ZeroPadding2D` (channels_last): adds `top`/`bottom` rows and
/// `left`/`right` columns of zeros to each `(batch, h, w, c)` image. One
/// op (`ops::zero_pad2d`); its backward crops the gradient.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::ZeroPadding2D;
/// use neurite_nn::{ForwardContext, Layer};
/// let zp = ZeroPadding2D::new(((1, 0), (2, 2)));
/// assert_eq!(zp.output_shape(&[4, 4, 3])?, vec![5, 8, 3]);
/// let y = zp.forward(&Var::from_array(ndarray::Array4::<f32>::ones((2, 4, 4, 3))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 5, 8, 3]);
/// assert!(ZeroPadding2D::new(usize::MAX / 2).output_shape(&[4, 4, 3]).is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ZeroPadding2D {
    cfg: ZeroPadding2DConfig,
}

impl ZeroPadding2D {
    /// A `ZeroPadding2D` layer named `"zero_padding2d"`: `padding` is an
    /// int, `(rows, columns)` or `((top, bottom), (left, right))`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let zp = neurite_nn::layers::ZeroPadding2D::new((1, 2));
    /// assert_eq!(zp.name(), "zero_padding2d");
    /// assert_eq!(zp.config_struct().padding.right, 2);
    /// ```
    pub fn new(padding: impl Into<SpatialMargins>) -> Self {
        ZeroPadding2D {
            cfg: ZeroPadding2DConfig {
                name: "zero_padding2d".into(),
                padding: padding.into(),
                data_format: channels_last(),
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::ZeroPadding2D;
    /// let zp = ZeroPadding2D::new(3);
    /// assert_eq!(ZeroPadding2D::from_config(zp.config_struct().clone()).config_struct(), zp.config_struct());
    /// ```
    pub fn from_config(cfg: ZeroPadding2DConfig) -> Self {
        ZeroPadding2D { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::ZeroPadding2D::new(1).config_struct().padding.top, 1);
    /// ```
    pub fn config_struct(&self) -> &ZeroPadding2DConfig {
        &self.cfg
    }

    builder_methods! {
        example: "ZeroPadding2D::new(1)";
        with_name;
        /// Declares the input shape `[h, w, c]` (without the batch axis).
        input_shape = "[8, 8, 1]";
    }

    /// No variables; the errors of `build`.
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.output_shape(input_shape).map(|_| Vec::new())
    }
}

impl Layer for ZeroPadding2D {
    common_layer_methods!("ZeroPadding2D");
    weightless_layer_methods!();

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let [h, w, c] = hwc(name, input_shape)?;
        let p = &self.cfg.padding;
        let oh = h.checked_add(p.top).and_then(|v| v.checked_add(p.bottom));
        let ow = w.checked_add(p.left).and_then(|v| v.checked_add(p.right));
        checked_sample(name, "padded", [oh, ow, Some(c)], input_shape)
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        let shape = x.shape();
        image_batch(&self.cfg.name, &shape)?;
        self.output_shape(&shape[1..])?;
        Ok(ops::zero_pad2d(x, self.cfg.padding.kernel())?)
    }
}
