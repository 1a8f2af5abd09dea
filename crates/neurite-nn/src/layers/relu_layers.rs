//! Rectifier layers: Keras' `ReLU` (with `max_value`, `negative_slope`,
//! `threshold`), `LeakyReLU` and `PReLU` (a learned slope).

use super::builders::{builder_methods, weightless_layer_methods};
use super::weighted::{named_parameters, zeros};
use super::{common_layer_methods, default_true, regularize, shape_error};
use crate::checks::{self, field_error};
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use neurite_tensor::rectifier::ReluParams;
use serde::{Deserialize, Serialize};

/// A finite `value >= 0`, else an error naming the layer and the field.
fn non_negative(layer: &str, field: &str, value: f32) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(field_error(layer, field, "a finite number >= 0", value));
    }
    Ok(())
}

/// Errors unless `x` has a batch axis.
pub(crate) fn batched(layer: &str, x: &Var) -> Result<()> {
    if x.ndim() == 0 {
        return Err(shape_error(layer, "(batch, ...)", &x.shape()));
    }
    Ok(())
}

/// Configuration of a [`ReLU`] layer (Keras' keys and defaults).
///
/// ```
/// let c: neurite_nn::layers::ReLUConfig = serde_json::from_value(serde_json::json!({"name": "re_lu"})).unwrap();
/// assert_eq!((c.max_value, c.negative_slope, c.threshold), (None, 0.0, 0.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReLUConfig {
    /// Layer name.
    pub name: String,
    /// Upper clip; `None` (default) for none.
    #[serde(default)]
    pub max_value: Option<f32>,
    /// Slope at and below the threshold (default 0).
    #[serde(default)]
    pub negative_slope: f32,
    /// Where the identity starts (default 0).
    #[serde(default)]
    pub threshold: f32,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl ReLUConfig {
    /// Checks every field: `max_value`, `negative_slope` and `threshold`
    /// finite and `>= 0` (Keras refuses negative ones); a declared input
    /// shape without a 0 dimension. Errors name the layer and the field.
    /// Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::ReLU::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.threshold = -1.0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("re_lu") && e.contains("threshold"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        if let Some(m) = self.max_value {
            non_negative(&self.name, "max_value", m)?;
        }
        non_negative(&self.name, "negative_slope", self.negative_slope)?;
        non_negative(&self.name, "threshold", self.threshold)?;
        checks::input_shape(&self.name, &self.input_shape)
    }

    fn params(&self) -> ReluParams {
        ReluParams {
            max_value: self.max_value,
            negative_slope: self.negative_slope,
            threshold: self.threshold,
        }
    }
}

/// Keras' `ReLU` layer: `min(x, max_value)` above `threshold`,
/// `negative_slope * (x - threshold)` at and below it. The plain ReLU
/// (defaults) runs `ops::relu`; any other setting one fused op
/// (`ops::relu_ext`) whose derivative at the threshold is `negative_slope`
/// and at `max_value` is 1 (TensorFlow's clip).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::ReLU;
/// use neurite_nn::{ForwardContext, Layer};
/// let r = ReLU::new().max_value(10.0).negative_slope(0.5);
/// let y = r.forward(&Var::from_array(ndarray::arr2(&[[-10.0f32, -5.0, 0.0, 5.0, 10.0]])), &mut ForwardContext::inference())?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[-5.0f32, -2.5, 0.0, 5.0, 10.0]]).into_dyn());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReLU {
    cfg: ReLUConfig,
}

impl Default for ReLU {
    fn default() -> Self {
        Self::new()
    }
}

impl ReLU {
    /// A plain `ReLU` layer named `"re_lu"` (Keras' default name).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::ReLU::new().name(), "re_lu");
    /// ```
    pub fn new() -> Self {
        ReLU {
            cfg: ReLUConfig {
                name: "re_lu".into(),
                max_value: None,
                negative_slope: 0.0,
                threshold: 0.0,
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// Sets the upper clip.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::ReLU::new().max_value(6.0).config_struct().max_value, Some(6.0));
    /// ```
    pub fn max_value(mut self, max_value: f32) -> Self {
        self.cfg.max_value = Some(max_value);
        self
    }

    /// Sets the slope at and below the threshold.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::ReLU::new().negative_slope(0.1).config_struct().negative_slope, 0.1);
    /// ```
    pub fn negative_slope(mut self, negative_slope: f32) -> Self {
        self.cfg.negative_slope = negative_slope;
        self
    }

    /// Sets the threshold.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::ReLU::new().threshold(1.0).config_struct().threshold, 1.0);
    /// ```
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.cfg.threshold = threshold;
        self
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::ReLU;
    /// let r = ReLU::new().max_value(6.0);
    /// assert_eq!(ReLU::from_config(r.config_struct().clone()).config_struct(), r.config_struct());
    /// ```
    pub fn from_config(cfg: ReLUConfig) -> Self {
        ReLU { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::ReLU::new().config_struct().threshold, 0.0);
    /// ```
    pub fn config_struct(&self) -> &ReLUConfig {
        &self.cfg
    }

    builder_methods! {
        example: "ReLU::new()";
        with_name;
        /// Declares the input shape (without the batch axis).
        input_shape = "[3]";
    }

    fn param_specs(&self, _input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate().map(|_| Vec::new())
    }
}

impl Layer for ReLU {
    /// Keras' ReLU passes the input's mask on (element-wise).
    fn supports_masking(&self) -> bool {
        true
    }

    common_layer_methods!("ReLU");
    weightless_layer_methods!();

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        batched(&self.cfg.name, x)?;
        let p = self.cfg.params();
        if p == ReluParams::default() {
            return Ok(ops::relu(x)?);
        }
        Ok(ops::relu_ext(x, &p)?)
    }
}

fn point_three() -> f32 {
    0.3
}

/// Configuration of a [`LeakyReLU`] layer (Keras 3's keys; Keras 2's
/// `alpha` is read as `negative_slope`).
///
/// ```
/// let c: neurite_nn::layers::LeakyReLUConfig = serde_json::from_value(serde_json::json!({"name": "l"})).unwrap();
/// assert_eq!(c.negative_slope, 0.3);
/// let c: neurite_nn::layers::LeakyReLUConfig =
///     serde_json::from_value(serde_json::json!({"name": "l", "alpha": 0.1})).unwrap();
/// assert_eq!(c.negative_slope, 0.1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakyReLUConfig {
    /// Layer name.
    pub name: String,
    /// Slope for `x < 0` (Keras 3's default 0.3).
    #[serde(default = "point_three", alias = "alpha")]
    pub negative_slope: f32,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl LeakyReLUConfig {
    /// Checks every field: `negative_slope` finite and `>= 0` (as Keras); a
    /// declared input shape without a 0 dimension. Errors name the layer
    /// and the field. Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::LeakyReLU::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.negative_slope = f32::NAN;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("leaky_re_lu") && e.contains("negative_slope"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        non_negative(&self.name, "negative_slope", self.negative_slope)?;
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// Keras' `LeakyReLU`: `x` for `x >= 0`, `negative_slope * x` otherwise
/// (default slope 0.3, Keras 3's). One op, `ops::leaky_relu`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::LeakyReLU;
/// use neurite_nn::{ForwardContext, Layer};
/// let y = LeakyReLU::new().forward(&Var::from_array(ndarray::arr2(&[[-1.0f32, 2.0]])), &mut ForwardContext::inference())?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[-0.3f32, 2.0]]).into_dyn());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LeakyReLU {
    cfg: LeakyReLUConfig,
}

impl Default for LeakyReLU {
    fn default() -> Self {
        Self::new()
    }
}

impl LeakyReLU {
    /// A `LeakyReLU` with slope 0.3, named `"leaky_re_lu"`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::LeakyReLU::new().name(), "leaky_re_lu");
    /// ```
    pub fn new() -> Self {
        LeakyReLU {
            cfg: LeakyReLUConfig {
                name: "leaky_re_lu".into(),
                negative_slope: 0.3,
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// Sets the slope for `x < 0`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::LeakyReLU::new().negative_slope(0.2).config_struct().negative_slope, 0.2);
    /// ```
    pub fn negative_slope(mut self, negative_slope: f32) -> Self {
        self.cfg.negative_slope = negative_slope;
        self
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::LeakyReLU;
    /// let l = LeakyReLU::new().negative_slope(0.1);
    /// assert_eq!(LeakyReLU::from_config(l.config_struct().clone()).config_struct(), l.config_struct());
    /// ```
    pub fn from_config(cfg: LeakyReLUConfig) -> Self {
        LeakyReLU { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::LeakyReLU::new().config_struct().negative_slope, 0.3);
    /// ```
    pub fn config_struct(&self) -> &LeakyReLUConfig {
        &self.cfg
    }

    builder_methods! {
        example: "LeakyReLU::new()";
        with_name;
        /// Declares the input shape (without the batch axis).
        input_shape = "[3]";
    }

    fn param_specs(&self, _input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate().map(|_| Vec::new())
    }
}

impl Layer for LeakyReLU {
    /// Keras' LeakyReLU passes the input's mask on (element-wise).
    fn supports_masking(&self) -> bool {
        true
    }

    common_layer_methods!("LeakyReLU");
    weightless_layer_methods!();

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        batched(&self.cfg.name, x)?;
        Ok(ops::leaky_relu(x, self.cfg.negative_slope)?)
    }
}

/// Configuration of a [`PReLU`] layer (Keras' keys; no `alpha_constraint`).
///
/// ```
/// let c: neurite_nn::layers::PReLUConfig =
///     serde_json::from_value(serde_json::json!({"name": "p", "shared_axes": [1, 2]})).unwrap();
/// assert_eq!(c.alpha_initializer, neurite_nn::Initializer::Zeros);
/// assert_eq!(c.shared_axes, Some(vec![1, 2]));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PReLUConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Initializer of `alpha` (default zeros, as Keras).
    #[serde(default = "zeros")]
    pub alpha_initializer: Initializer,
    /// Penalty on `alpha`.
    #[serde(default)]
    pub alpha_regularizer: Option<Regularizer>,
    /// Axes (counted with the batch axis, so `>= 1`) along which one slope
    /// is shared, e.g. `[1, 2]` for one slope per channel of an image.
    #[serde(default)]
    pub shared_axes: Option<Vec<usize>>,
    /// Whether `alpha` is trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl PReLUConfig {
    /// Checks every field: shared axes `>= 1` (0 is the batch axis), the
    /// initializer and regularizer parameters, a declared input shape
    /// without a 0 dimension. Errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::PReLU::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.shared_axes = Some(vec![0]);
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("p_re_lu") && e.contains("shared_axes"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        if let Some(axes) = &self.shared_axes {
            if axes.contains(&0) {
                return Err(field_error(
                    n,
                    "shared_axes",
                    "axes >= 1 (0 is the batch axis)",
                    format!("{axes:?}"),
                ));
            }
        }
        checks::initializer(n, "alpha_initializer", &self.alpha_initializer)?;
        checks::regularizer(n, "alpha_regularizer", &self.alpha_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// Keras' `PReLU`: `x` for `x >= 0`, `alpha * x` otherwise, with a learned
/// `alpha` of the input's sample shape, 1 on `shared_axes` (e.g. one slope
/// per channel of `(h, w, c)` images with `shared_axes = [1, 2]`).
/// `alpha` starts at zeros (Keras' default). One op, `ops::prelu`, whose
/// backward gives both the input and `alpha` gradients.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::PReLU;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut p = PReLU::new().shared_axes(vec![1, 2]).with_name("prelu");
/// assert_eq!(p.parameter_shapes(&[4, 4, 3])?, Some(vec![("prelu.alpha".to_string(), vec![1, 1, 3])]));
/// p.build(&[4, 4, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let y = p.forward(&Var::from_array(ndarray::Array4::<f32>::from_elem((2, 4, 4, 3), -1.0)), &mut ForwardContext::inference())?;
/// assert!(y.to_tensor().iter().all(|&v| v == 0.0)); // alpha = 0
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PReLU {
    cfg: PReLUConfig,
    alpha: Option<Var>,
}

impl Default for PReLU {
    fn default() -> Self {
        Self::new()
    }
}

impl PReLU {
    /// A `PReLU` with zeros-initialized `alpha` and no shared axes, named `"p_re_lu"`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::PReLU::new().name(), "p_re_lu");
    /// ```
    pub fn new() -> Self {
        PReLU {
            cfg: PReLUConfig {
                name: "p_re_lu".into(),
                alpha_initializer: Initializer::Zeros,
                alpha_regularizer: None,
                shared_axes: None,
                trainable: true,
                input_shape: None,
            },
            alpha: None,
        }
    }

    /// Sets the axes (counted with the batch axis) along which `alpha` is shared.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::PReLU::new().shared_axes(vec![1]).config_struct().shared_axes, Some(vec![1]));
    /// ```
    pub fn shared_axes(mut self, axes: Vec<usize>) -> Self {
        self.cfg.shared_axes = Some(axes);
        self
    }

    /// Sets the initializer of `alpha`.
    ///
    /// ```
    /// use neurite_nn::Initializer;
    /// let p = neurite_nn::layers::PReLU::new().alpha_initializer(Initializer::Constant { value: 0.25 });
    /// assert_eq!(p.config_struct().alpha_initializer, Initializer::Constant { value: 0.25 });
    /// ```
    pub fn alpha_initializer(mut self, init: Initializer) -> Self {
        self.cfg.alpha_initializer = init;
        self
    }

    /// Sets a penalty on `alpha`.
    ///
    /// ```
    /// let p = neurite_nn::layers::PReLU::new().alpha_regularizer(neurite_nn::Regularizer::l2(0.01));
    /// assert!(p.config_struct().alpha_regularizer.is_some());
    /// ```
    pub fn alpha_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.alpha_regularizer = Some(reg);
        self
    }

    /// The layer (unbuilt) from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::PReLU;
    /// let p = PReLU::new().shared_axes(vec![1, 2]);
    /// assert_eq!(PReLU::from_config(p.config_struct().clone()).config_struct(), p.config_struct());
    /// ```
    pub fn from_config(cfg: PReLUConfig) -> Self {
        PReLU { cfg, alpha: None }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::PReLU::new().config_struct().shared_axes, None);
    /// ```
    pub fn config_struct(&self) -> &PReLUConfig {
        &self.cfg
    }

    builder_methods! {
        example: "PReLU::new()";
        with_name;
        /// Declares the input shape (without the batch axis).
        input_shape = "[3]";
    }

    /// `alpha`: the sample shape with 1 on the shared axes.
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(shape_error(
                name,
                "(...) with at least one axis, none of length 0",
                input_shape,
            ));
        }
        let mut shape = input_shape.to_vec();
        for &a in self.cfg.shared_axes.iter().flatten() {
            if a > shape.len() {
                return Err(NnError::Shape {
                    layer: name.clone(),
                    expected: format!(
                        "inputs of rank at least {} (shared_axes {:?}, counted with the batch axis)",
                        a + 1,
                        self.cfg.shared_axes.as_deref().unwrap_or_default()
                    ),
                    found: input_shape.to_vec(),
                });
            }
            shape[a - 1] = 1;
        }
        checks::variables(name, vec![("alpha", shape)])
    }
}

impl Layer for PReLU {
    /// Keras' PReLU passes the input's mask on (element-wise).
    fn supports_masking(&self) -> bool {
        true
    }

    common_layer_methods!("PReLU");

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let specs = self.param_specs(input_shape)?;
        let alpha =
            self.cfg
                .alpha_initializer
                .initialize_variable(&specs[0].1, rng, &self.cfg.name, "alpha")?;
        self.alpha = Some(Var::parameter(alpha));
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.alpha.is_some()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.param_specs(input_shape)?;
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let alpha = self
            .alpha
            .as_ref()
            .ok_or_else(|| NnError::NotBuilt(self.cfg.name.clone()))?;
        let shape = x.shape();
        let a_shape = alpha.shape();
        let fits = shape.len() == a_shape.len() + 1
            && a_shape.iter().zip(&shape[1..]).all(|(&a, &s)| a == s || a == 1);
        if !fits {
            return Err(shape_error(
                &self.cfg.name,
                format!("(batch, ...) matching alpha of shape {a_shape:?} (1 on shared axes)"),
                &shape,
            ));
        }
        regularize(ctx, self.cfg.alpha_regularizer, alpha)?;
        Ok(ops::prelu(x, alpha)?)
    }

    fn parameters(&self) -> Vec<Parameter> {
        named_parameters(&self.cfg.name, self.cfg.trainable, &[("alpha", &self.alpha)])
    }
}
