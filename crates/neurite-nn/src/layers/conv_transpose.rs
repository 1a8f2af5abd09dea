//! `Conv2DTranspose`: transposed 2-d convolution on NHWC batches with Keras'
//! `(kh, kw, filters, in_channels)` kernels.

use super::conv_family::{check_bias, check_kernel, image_shape, with_batch_axis};
use super::{common_layer_methods, config_error, default_true, padding_serde, regularize, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use neurite_tensor::{conv2d_transpose_output_shape, Conv2dTransposeParams, Padding};
use serde::{Deserialize, Serialize};

fn ones2() -> (usize, usize) {
    (1, 1)
}

fn zeros() -> Initializer {
    Initializer::Zeros
}

/// Configuration of a [`Conv2DTranspose`] layer (Keras'
/// `Conv2DTranspose.get_config()` keys and defaults).
///
/// ```
/// let c: neurite_nn::layers::Conv2DTransposeConfig = serde_json::from_value(serde_json::json!(
///     {"name": "up", "filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
///      "output_padding": [1, 1]})).unwrap();
/// assert_eq!(c.output_padding, Some((1, 1)));
/// assert_eq!(c.dilation_rate, (1, 1));
/// assert!(c.use_bias);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv2DTransposeConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Number of output channels.
    pub filters: usize,
    /// `(height, width)` of the kernel.
    pub kernel_size: (usize, usize),
    /// `(vertical, horizontal)` strides (default `(1, 1)`).
    #[serde(default = "ones2")]
    pub strides: (usize, usize),
    /// `"valid"` (default) or `"same"`.
    #[serde(default, with = "padding_serde")]
    pub padding: Padding,
    /// Extra rows/columns at the end of the output, each below its stride
    /// (default `None`: Keras' output size rule).
    #[serde(default)]
    pub output_padding: Option<(usize, usize)>,
    /// `(vertical, horizontal)` dilation rates (default `(1, 1)`).
    #[serde(default = "ones2")]
    pub dilation_rate: (usize, usize),
    /// Activation applied to the output.
    #[serde(default)]
    pub activation: Activation,
    /// Whether a bias per filter is added.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Initializer of the kernel (default glorot_uniform).
    #[serde(default)]
    pub kernel_initializer: Initializer,
    /// Initializer of the bias (default zeros).
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Penalty on the kernel.
    #[serde(default)]
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    #[serde(default)]
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the layer's output.
    #[serde(default)]
    pub activity_regularizer: Option<Regularizer>,
    /// Whether the weights are trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape `[h, w, c]`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl Conv2DTransposeConfig {
    /// Checks every field for values that can never work (filters,
    /// kernel_size, strides or dilation_rate 0, strides and dilation both
    /// above 1, an output_padding not below the strides, bad
    /// initializer/regularizer parameters, a declared input shape with a 0
    /// dimension); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// use neurite_nn::layers::Conv2DTranspose;
    /// let mut c = Conv2DTranspose::new(8, (3, 3)).strides((2, 2)).with_name("up").config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.output_padding = Some((2, 0));
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("up") && e.contains("output_padding"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "filters", self.filters)?;
        checks::positive_pair(n, "kernel_size", self.kernel_size)?;
        checks::positive_pair(n, "strides", self.strides)?;
        checks::positive_pair(n, "dilation_rate", self.dilation_rate)?;
        if self.strides != (1, 1) && self.dilation_rate != (1, 1) {
            return Err(config_error(
                n,
                format!(
                    "field \"strides\" {:?} > 1 together with field \"dilation_rate\" {:?} > 1 is not supported (as Keras)",
                    self.strides, self.dilation_rate
                ),
            ));
        }
        if let Some((a, b)) = self.output_padding {
            if a >= self.strides.0 || b >= self.strides.1 {
                return Err(checks::field_error(
                    n,
                    "output_padding",
                    format!("values strictly below the strides {:?}", self.strides),
                    format!("({a}, {b})"),
                ));
            }
        }
        checks::activation(n, "activation", &self.activation)?;
        checks::initializer(n, "kernel_initializer", &self.kernel_initializer)?;
        checks::initializer(n, "bias_initializer", &self.bias_initializer)?;
        checks::regularizer(n, "kernel_regularizer", &self.kernel_regularizer)?;
        checks::regularizer(n, "bias_regularizer", &self.bias_regularizer)?;
        checks::regularizer(n, "activity_regularizer", &self.activity_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// Keras' `Conv2DTranspose` (channels_last): inputs `(batch, h, w, c)`,
/// kernel `(kh, kw, filters, c)`, output `(batch, oh, ow, filters)` with
/// Keras 3's output sizes: `valid` gives `h * stride + max(k - stride, 0)`,
/// `same` gives `h * stride`; with `output_padding` `op`,
/// `(h - 1) * stride + k + op` and `(h - 1) * stride + k % 2 + op` (`k` the
/// dilated kernel extent).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Conv2DTranspose;
/// use neurite_nn::{ForwardContext, Layer};
/// use neurite_tensor::Padding;
/// let mut up = Conv2DTranspose::new(4, (3, 3)).strides((2, 2)).padding(Padding::Same);
/// up.build(&[7, 7, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(up.output_shape(&[7, 7, 2])?, vec![14, 14, 4]);
/// assert_eq!(up.kernel().unwrap().shape(), vec![3, 3, 4, 2]);
/// let y = up.forward(&Var::from_array(ndarray::Array4::<f32>::ones((1, 7, 7, 2))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![1, 14, 14, 4]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv2DTranspose {
    cfg: Conv2DTransposeConfig,
    kernel: Option<Var>,
    bias: Option<Var>,
}

impl Conv2DTranspose {
    /// A transposed convolution with `filters` output channels and a
    /// `kernel_size` window, with Keras' defaults (stride 1, valid padding,
    /// no output padding, no dilation, linear activation, bias,
    /// glorot_uniform kernel).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv2DTranspose::new(32, (3, 3)).config_struct().filters, 32);
    /// ```
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        Conv2DTranspose::from_config(Conv2DTransposeConfig {
            name: "conv2d_transpose".into(),
            filters,
            kernel_size,
            strides: (1, 1),
            padding: Padding::Valid,
            output_padding: None,
            dilation_rate: (1, 1),
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            trainable: true,
            input_shape: None,
        })
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::Conv2DTranspose;
    /// let c = Conv2DTranspose::new(2, (3, 3));
    /// assert_eq!(Conv2DTranspose::from_config(c.config_struct().clone()).config_struct(), c.config_struct());
    /// ```
    pub fn from_config(cfg: Conv2DTransposeConfig) -> Self {
        Conv2DTranspose {
            cfg,
            kernel: None,
            bias: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv2DTranspose::new(3, (5, 5)).config_struct().kernel_size, (5, 5));
    /// ```
    pub fn config_struct(&self) -> &Conv2DTransposeConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Conv2DTranspose::new(1, (1, 1)).with_name("up").name(), "up");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Sets the strides.
    ///
    /// ```
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).strides((2, 1));
    /// assert_eq!(c.config_struct().strides, (2, 1));
    /// ```
    pub fn strides(mut self, strides: (usize, usize)) -> Self {
        self.cfg.strides = strides;
        self
    }

    /// Sets the padding.
    ///
    /// ```
    /// use neurite_tensor::Padding;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).padding(Padding::Same);
    /// assert_eq!(c.config_struct().padding, Padding::Same);
    /// ```
    pub fn padding(mut self, padding: Padding) -> Self {
        self.cfg.padding = padding;
        self
    }

    /// Sets the output padding (each value below its stride).
    ///
    /// ```
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).strides((2, 2)).output_padding((1, 0));
    /// assert_eq!(c.config_struct().output_padding, Some((1, 0)));
    /// ```
    pub fn output_padding(mut self, output_padding: (usize, usize)) -> Self {
        self.cfg.output_padding = Some(output_padding);
        self
    }

    /// Sets the dilation rates.
    ///
    /// ```
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).dilation_rate((2, 2));
    /// assert_eq!(c.config_struct().dilation_rate, (2, 2));
    /// ```
    pub fn dilation_rate(mut self, rate: (usize, usize)) -> Self {
        self.cfg.dilation_rate = rate;
        self
    }

    /// Sets the activation.
    ///
    /// ```
    /// use neurite_nn::Activation;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).activation(Activation::Relu);
    /// assert_eq!(c.config_struct().activation, Activation::Relu);
    /// ```
    pub fn activation(mut self, activation: Activation) -> Self {
        self.cfg.activation = activation;
        self
    }

    /// Whether to add a bias.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).use_bias(false).config_struct().use_bias);
    /// ```
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.cfg.use_bias = use_bias;
        self
    }

    /// Sets the kernel initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).kernel_initializer(Initializer::HeUniform);
    /// assert_eq!(c.config_struct().kernel_initializer, Initializer::HeUniform);
    /// ```
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.cfg.kernel_initializer = init;
        self
    }

    /// Sets the bias initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).bias_initializer(Initializer::Ones);
    /// assert_eq!(c.config_struct().bias_initializer, Initializer::Ones);
    /// ```
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.cfg.bias_initializer = init;
        self
    }

    /// Sets the kernel regularizer.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).kernel_regularizer(Regularizer::l2(0.1));
    /// assert_eq!(c.config_struct().kernel_regularizer, Some(Regularizer::l2(0.1)));
    /// ```
    pub fn kernel_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.kernel_regularizer = Some(reg);
        self
    }

    /// Sets the bias regularizer.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).bias_regularizer(Regularizer::l2(0.1));
    /// assert_eq!(c.config_struct().bias_regularizer, Some(Regularizer::l2(0.1)));
    /// ```
    pub fn bias_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.bias_regularizer = Some(reg);
        self
    }

    /// Sets the activity (output) regularizer.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).activity_regularizer(Regularizer::l1(0.1));
    /// assert_eq!(c.config_struct().activity_regularizer, Some(Regularizer::l1(0.1)));
    /// ```
    pub fn activity_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.activity_regularizer = Some(reg);
        self
    }

    /// Declares the input shape `[h, w, c]` (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let c = neurite_nn::layers::Conv2DTranspose::new(1, (3, 3)).input_shape([7, 7, 16]);
    /// assert_eq!(c.declared_input_shape(), Some(vec![7, 7, 16]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// Installs `kernel` `(kh, kw, filters, in)` and `bias` `(filters,)` as
    /// the layer's variables (shared, not copied), marking the layer built.
    /// `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Conv2DTranspose;
    /// let mut c = Conv2DTranspose::new(2, (3, 3)).use_bias(false);
    /// c.set_weights(Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 2, 5)).into_dyn()), None)?;
    /// assert!(c.set_weights(Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 5, 2)).into_dyn()), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weights(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let (kh, kw) = self.cfg.kernel_size;
        let f = self.cfg.filters;
        let what = format!("a kernel of shape ({kh}, {kw}, {f}, in)");
        check_kernel(&self.cfg.name, &kernel, [Some(kh), Some(kw), Some(f), None], what)?;
        check_bias(&self.cfg.name, bias.as_ref(), self.cfg.use_bias, f)?;
        self.kernel = Some(kernel);
        self.bias = bias;
        Ok(())
    }

    /// The kernel `(kh, kw, filters, in)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::Conv2DTranspose::new(4, (3, 2));
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.kernel().unwrap().shape(), vec![3, 2, 4, 3]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn kernel(&self) -> Option<&Var> {
        self.kernel.as_ref()
    }

    /// The bias `(filters,)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::Conv2DTranspose::new(4, (3, 3));
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.bias().unwrap().shape(), vec![4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    fn params(&self) -> Conv2dTransposeParams {
        Conv2dTransposeParams {
            strides: self.cfg.strides,
            padding: self.cfg.padding,
            dilation: self.cfg.dilation_rate,
            output_padding: self.cfg.output_padding,
        }
    }

    /// Output shape for an `[h, w, c]` input whose `c` must equal `channels` if given.
    fn out_shape_for(&self, input_shape: &[usize], channels: Option<usize>) -> Result<Vec<usize>> {
        let name = &self.cfg.name;
        let c = image_shape(name, input_shape, channels)?;
        let (kh, kw) = self.cfg.kernel_size;
        let sample = [1, input_shape[0], input_shape[1], c];
        let out = conv2d_transpose_output_shape(&sample, &[kh, kw, self.cfg.filters, c], &self.params())
            .map_err(|e| {
                shape_error(
                    name,
                    format!(
                        "(height, width, {c}) whose transposed convolution has a representable size ({e})"
                    ),
                    input_shape,
                )
            })?;
        Ok(out[1..].to_vec())
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        self.out_shape_for(input_shape, None)?;
        let (kh, kw) = self.cfg.kernel_size;
        let mut vars = vec![("kernel", vec![kh, kw, self.cfg.filters, input_shape[2]])];
        if self.cfg.use_bias {
            vars.push(("bias", vec![self.cfg.filters]));
        }
        checks::variables(&self.cfg.name, vars)
    }
}

impl Layer for Conv2DTranspose {
    common_layer_methods!("Conv2DTranspose");

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let specs = self.param_specs(input_shape)?;
        let cfg = &self.cfg;
        let (kernel, bias) = super::kernel_and_bias(
            &cfg.name,
            &specs,
            &cfg.kernel_initializer,
            &cfg.bias_initializer,
            cfg.use_bias,
            rng,
        )?;
        self.kernel = Some(kernel);
        self.bias = bias;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.kernel.is_some()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        if !self.is_built() {
            self.param_specs(input_shape)?;
        }
        self.cfg.validate()?;
        self.out_shape_for(input_shape, self.kernel.as_ref().map(|k| k.shape()[3]))
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let kernel = self
            .kernel
            .as_ref()
            .ok_or_else(|| NnError::NotBuilt(name.clone()))?;
        let shape = x.shape();
        let channels = kernel.shape()[3];
        if shape.len() != 4 {
            return Err(shape_error(
                name,
                format!("(batch, height, width, {channels})"),
                &shape,
            ));
        }
        self.out_shape_for(&shape[1..], Some(channels))
            .map_err(|e| with_batch_axis(e, &shape))?;
        let y = ops::conv2d_transpose(x, kernel, self.bias.as_ref(), &self.params())?;
        let y = self.cfg.activation.apply(&y)?;
        regularize(ctx, self.cfg.kernel_regularizer, kernel)?;
        if let Some(b) = &self.bias {
            regularize(ctx, self.cfg.bias_regularizer, b)?;
        }
        regularize(ctx, self.cfg.activity_regularizer, &y)?;
        Ok(y)
    }

    fn parameters(&self) -> Vec<Parameter> {
        let mut out = Vec::new();
        for (suffix, var) in [("kernel", &self.kernel), ("bias", &self.bias)] {
            if let Some(v) = var {
                out.push(Parameter {
                    name: format!("{}.{suffix}", self.cfg.name),
                    var: v.clone(),
                    trainable: self.cfg.trainable,
                });
            }
        }
        out
    }
}
