//! `UpSampling2D`: repeats (nearest) or linearly interpolates (bilinear)
//! rows and columns by integer factors (NHWC).

use super::spatial_margins::{channels_last, check_data_format, checked_sample, hwc};
use super::{common_layer_methods, default_true};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use neurite_tensor::resize::Interpolation;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `size` of [`UpSampling2D`]: an int (both axes) or `(rows, columns)` in
/// JSON; written as a pair.
fn de_size<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<(usize, usize), D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        One(usize),
        Pair([usize; 2]),
    }
    match Form::deserialize(d)
        .map_err(|_| serde::de::Error::custom("expected an integer >= 1 or a pair [rows, columns]"))?
    {
        Form::One(s) => Ok((s, s)),
        Form::Pair([a, b]) => Ok((a, b)),
    }
}

fn two_by_two() -> (usize, usize) {
    (2, 2)
}

/// Serde of [`Interpolation`] as Keras' strings `"nearest"` / `"bilinear"`.
mod interpolation_serde {
    use super::*;

    pub fn serialize<S: Serializer>(i: &Interpolation, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(match i {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Interpolation, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_lowercase().as_str() {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            other => Err(serde::de::Error::custom(format!(
                "unsupported interpolation {other:?}; expected \"nearest\" or \"bilinear\""
            ))),
        }
    }
}

fn nearest() -> Interpolation {
    Interpolation::Nearest
}

/// Configuration of an [`UpSampling2D`] layer (Keras' keys).
///
/// ```
/// let c: neurite_nn::layers::UpSampling2DConfig =
///     serde_json::from_value(serde_json::json!({"name": "up", "size": 3, "interpolation": "bilinear"})).unwrap();
/// assert_eq!(c.size, (3, 3));
/// assert_eq!(c.interpolation, neurite_tensor::resize::Interpolation::Bilinear);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpSampling2DConfig {
    /// Layer name.
    pub name: String,
    /// Factors `(rows, columns)`; Keras' default `(2, 2)`.
    #[serde(default = "two_by_two", deserialize_with = "de_size")]
    pub size: (usize, usize),
    /// `"nearest"` (default) or `"bilinear"`.
    #[serde(default = "nearest", with = "interpolation_serde")]
    pub interpolation: Interpolation,
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

impl UpSampling2DConfig {
    /// Checks every field (a factor 0, a declared input shape with a 0
    /// dimension); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::UpSampling2D::new(2).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.size = (2, 0);
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("up_sampling2d") && e.contains("size"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::positive_pair(&self.name, "size", self.size)?;
        check_data_format(&self.name, &self.data_format)?;
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// Keras' `UpSampling2D` (channels_last): `(batch, h, w, c)` to
/// `(batch, h * size.0, w * size.1, c)`. `nearest` repeats rows and
/// columns; `bilinear` interpolates as Keras (`ops.image.resize`, i.e.
/// TensorFlow/JAX resize with half-pixel centers, no antialiasing): output
/// pixel `i` samples the input at `(i + 0.5) / size - 0.5`, clamped to the
/// image. One op (`ops::upsample2d`) with a fused backward.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::UpSampling2D;
/// use neurite_nn::{ForwardContext, Layer};
/// use neurite_tensor::resize::Interpolation;
/// let up = UpSampling2D::new((2, 3)).interpolation(Interpolation::Bilinear);
/// assert_eq!(up.output_shape(&[4, 5, 2])?, vec![8, 15, 2]);
/// let y = up.forward(&Var::from_array(ndarray::Array4::<f32>::ones((1, 4, 5, 2))), &mut ForwardContext::inference())?;
/// assert!(y.to_tensor().iter().all(|&v| (v - 1.0).abs() < 1e-6));
/// assert!(UpSampling2D::new(usize::MAX).output_shape(&[4, 5, 2]).is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct UpSampling2D {
    cfg: UpSampling2DConfig,
}

impl UpSampling2D {
    /// A nearest-neighbour `UpSampling2D` layer named `"up_sampling2d"`;
    /// `size` is an int (both axes) or `(rows, columns)`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let up = neurite_nn::layers::UpSampling2D::new(2);
    /// assert_eq!((up.name(), up.config_struct().size), ("up_sampling2d", (2, 2)));
    /// ```
    pub fn new(size: impl Into<UpSamplingSize>) -> Self {
        UpSampling2D {
            cfg: UpSampling2DConfig {
                name: "up_sampling2d".into(),
                size: size.into().0,
                interpolation: Interpolation::Nearest,
                data_format: channels_last(),
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// Sets the interpolation (`Nearest`, Keras' default, or `Bilinear`).
    ///
    /// ```
    /// use neurite_tensor::resize::Interpolation;
    /// let up = neurite_nn::layers::UpSampling2D::new(2).interpolation(Interpolation::Bilinear);
    /// assert_eq!(up.config_struct().interpolation, Interpolation::Bilinear);
    /// ```
    pub fn interpolation(mut self, interpolation: Interpolation) -> Self {
        self.cfg.interpolation = interpolation;
        self
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::UpSampling2D;
    /// let up = UpSampling2D::new((1, 2));
    /// assert_eq!(UpSampling2D::from_config(up.config_struct().clone()).config_struct(), up.config_struct());
    /// ```
    pub fn from_config(cfg: UpSampling2DConfig) -> Self {
        UpSampling2D { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::UpSampling2D::new(3).config_struct().size, (3, 3));
    /// ```
    pub fn config_struct(&self) -> &UpSampling2DConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::UpSampling2D::new(2).with_name("up").name(), "up");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Declares the input shape `[h, w, c]` (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let up = neurite_nn::layers::UpSampling2D::new(2).input_shape([7, 7, 1]);
    /// assert_eq!(up.declared_input_shape(), Some(vec![7, 7, 1]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// No variables; the errors of `build`.
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.output_shape(input_shape).map(|_| Vec::new())
    }
}

/// The `size` argument of [`UpSampling2D::new`]: an int or `(rows, columns)`.
///
/// ```
/// use neurite_nn::layers::UpSamplingSize;
/// assert_eq!(UpSamplingSize::from(2).0, (2, 2));
/// assert_eq!(UpSamplingSize::from((1, 3)).0, (1, 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpSamplingSize(pub (usize, usize));

impl From<usize> for UpSamplingSize {
    fn from(s: usize) -> Self {
        UpSamplingSize((s, s))
    }
}

impl From<(usize, usize)> for UpSamplingSize {
    fn from(s: (usize, usize)) -> Self {
        UpSamplingSize(s)
    }
}

impl Layer for UpSampling2D {
    common_layer_methods!("UpSampling2D");

    fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
        self.output_shape(input_shape).map(|_| ())
    }

    fn is_built(&self) -> bool {
        true
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let [h, w, c] = hwc(name, input_shape)?;
        let (sh, sw) = self.cfg.size;
        checked_sample(
            name,
            "upsampled",
            [h.checked_mul(sh), w.checked_mul(sw), Some(c)],
            input_shape,
        )
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        let shape = x.shape();
        if shape.len() != 4 {
            return Err(super::shape_error(
                &self.cfg.name,
                "(batch, height, width, channels)",
                &shape,
            ));
        }
        self.output_shape(&shape[1..])?;
        Ok(ops::upsample2d(x, self.cfg.size, self.cfg.interpolation)?)
    }

    fn parameters(&self) -> Vec<Parameter> {
        Vec::new()
    }
}
