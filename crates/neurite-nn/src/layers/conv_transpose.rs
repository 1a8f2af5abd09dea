//! `Conv2DTranspose`: transposed 2-d convolution on NHWC batches with Keras'
//! `(kh, kw, filters, in_channels)` kernels.

use super::builders::{builder_methods, weight_methods};
use super::conv_family::{batch_output, image_shape};
use super::weighted::{
    check_bias, check_kernel, check_strides_or_dilation, check_weight_fields, ones2, regularize_each, zeros,
};
use super::{common_layer_methods, default_true, padding_serde, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::{ops, Var};
use neurite_tensor::{conv2d_transpose_output_shape, Conv2dTransposeParams, Padding};
use serde::{Deserialize, Serialize};

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
        check_strides_or_dilation(n, self.strides, self.dilation_rate, (1, 1))?;
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
        check_weight_fields(
            n,
            &self.activation,
            &[
                ("kernel_initializer", &self.kernel_initializer),
                ("bias_initializer", &self.bias_initializer),
            ],
            &[
                ("kernel_regularizer", &self.kernel_regularizer),
                ("bias_regularizer", &self.bias_regularizer),
                ("activity_regularizer", &self.activity_regularizer),
            ],
            &self.input_shape,
        )
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

    builder_methods! {
        example: "Conv2DTranspose::new(1, (3, 3))";
        with_name;
        /// Sets the strides.
        set strides: (usize, usize) = "(2, 1)";
        /// Sets the padding.
        set padding: Padding = "neurite_tensor::Padding::Same";
        /// Sets the dilation rates.
        set dilation_rate: (usize, usize) = "(2, 2)";
        activation;
        use_bias;
        /// Sets the kernel initializer.
        initializer kernel_initializer;
        /// Sets the bias initializer.
        initializer bias_initializer;
        /// Sets the kernel regularizer.
        regularizer kernel_regularizer;
        /// Sets the bias regularizer.
        regularizer bias_regularizer;
        /// Sets the activity (output) regularizer.
        regularizer activity_regularizer;
        /// Declares the input shape `[h, w, c]` (without the batch axis).
        input_shape = "[7, 7, 16]";
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

    /// Installs `kernel` `(kh, kw, filters, in)` and `bias` `(filters,)` as
    /// the layer's variables (shared, not copied), marking the layer built.
    /// `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Conv2DTranspose;
    /// let mut c = Conv2DTranspose::new(2, (3, 3)).use_bias(false);
    /// c.set_weight_vars(Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 2, 5)).into_dyn()), None)?;
    /// assert!(c.set_weight_vars(Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 5, 2)).into_dyn()), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weight_vars(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let (kh, kw) = self.cfg.kernel_size;
        let f = self.cfg.filters;
        let what = format!("a kernel of shape ({kh}, {kw}, {f}, in)");
        check_kernel(
            &self.cfg.name,
            &kernel,
            &[Some(kh), Some(kw), Some(f), None],
            what,
        )?;
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
    weight_methods!(
        (kernel, "kernel", kernel_initializer),
        (bias, "bias", bias_initializer)
    );

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
        let channels = kernel.shape()[3];
        batch_output(name, &x.shape(), channels, |s| {
            self.out_shape_for(s, Some(channels))
        })?;
        let y = ops::conv2d_transpose(x, kernel, self.bias.as_ref(), &self.params())?;
        let y = self.cfg.activation.apply(&y)?;
        regularize_each(
            ctx,
            &[
                (self.cfg.kernel_regularizer, Some(kernel)),
                (self.cfg.bias_regularizer, self.bias.as_ref()),
                (self.cfg.activity_regularizer, Some(&y)),
            ],
        )?;
        Ok(y)
    }
}
