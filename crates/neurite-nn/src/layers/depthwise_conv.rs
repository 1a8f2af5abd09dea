//! `DepthwiseConv2D`: a per-channel 2-d convolution on NHWC batches with
//! Keras' `(kh, kw, in_channels, depth_multiplier)` kernels.

use super::builders::{builder_methods, weight_methods};
use super::conv_family::{batch_output, image_shape};
use super::weighted::{check_bias, check_kernel, check_weight_fields, one, ones2, regularize_each, zeros};
use super::{common_layer_methods, default_true, padding_serde, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::{ops, Var};
use neurite_tensor::{depthwise_conv2d_output_shape, Conv2dParams, Padding};
use serde::{Deserialize, Serialize};

/// Configuration of a [`DepthwiseConv2D`] layer (Keras'
/// `DepthwiseConv2D.get_config()` keys and defaults).
///
/// ```
/// let c: neurite_nn::layers::DepthwiseConv2DConfig = serde_json::from_value(serde_json::json!(
///     {"name": "dw", "kernel_size": [3, 3], "padding": "same"})).unwrap();
/// assert_eq!((c.depth_multiplier, c.strides), (1, (1, 1)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthwiseConv2DConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// `(height, width)` of the kernel.
    pub kernel_size: (usize, usize),
    /// `(vertical, horizontal)` strides (default `(1, 1)`).
    #[serde(default = "ones2")]
    pub strides: (usize, usize),
    /// `"valid"` (default) or `"same"`.
    #[serde(default, with = "padding_serde")]
    pub padding: Padding,
    /// Output channels per input channel (default 1).
    #[serde(default = "one")]
    pub depth_multiplier: usize,
    /// `(vertical, horizontal)` dilation rates (default `(1, 1)`).
    #[serde(default = "ones2")]
    pub dilation_rate: (usize, usize),
    /// Activation applied to the output.
    #[serde(default)]
    pub activation: Activation,
    /// Whether a bias per output channel is added.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Initializer of the depthwise kernel (default glorot_uniform).
    #[serde(default)]
    pub depthwise_initializer: Initializer,
    /// Initializer of the bias (default zeros).
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Penalty on the depthwise kernel.
    #[serde(default)]
    pub depthwise_regularizer: Option<Regularizer>,
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

impl DepthwiseConv2DConfig {
    /// Checks every field for values that can never work (kernel_size,
    /// strides, dilation_rate or depth_multiplier 0, bad
    /// initializer/regularizer parameters, a declared input shape with a 0
    /// dimension); errors name the layer and the field. Strides and
    /// dilation may both exceed 1, as in Keras' `DepthwiseConv2D`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::DepthwiseConv2D::new((3, 3)).with_name("dw").config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.depth_multiplier = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("dw") && e.contains("depth_multiplier"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive_pair(n, "kernel_size", self.kernel_size)?;
        checks::positive_pair(n, "strides", self.strides)?;
        checks::positive_pair(n, "dilation_rate", self.dilation_rate)?;
        checks::positive(n, "depth_multiplier", self.depth_multiplier)?;
        check_weight_fields(
            n,
            &self.activation,
            &[
                ("depthwise_initializer", &self.depthwise_initializer),
                ("bias_initializer", &self.bias_initializer),
            ],
            &[
                ("depthwise_regularizer", &self.depthwise_regularizer),
                ("bias_regularizer", &self.bias_regularizer),
                ("activity_regularizer", &self.activity_regularizer),
            ],
            &self.input_shape,
        )
    }
}

/// Keras' `DepthwiseConv2D` (channels_last): inputs `(batch, h, w, c)`,
/// kernel `depthwise_kernel` `(kh, kw, c, depth_multiplier)`, bias
/// `(c * depth_multiplier,)`, output `(batch, oh, ow, c * depth_multiplier)`
/// (channel `ci * depth_multiplier + m` from input channel `ci`), with
/// TensorFlow's `valid`/`same` padding arithmetic.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::DepthwiseConv2D;
/// use neurite_nn::{ForwardContext, Layer};
/// use neurite_tensor::Padding;
/// let mut dw = DepthwiseConv2D::new((3, 3)).strides((2, 2)).padding(Padding::Same).depth_multiplier(2);
/// dw.build(&[8, 8, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(dw.output_shape(&[8, 8, 3])?, vec![4, 4, 6]);
/// let y = dw.forward(&Var::from_array(ndarray::Array4::<f32>::ones((2, 8, 8, 3))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 4, 4, 6]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DepthwiseConv2D {
    cfg: DepthwiseConv2DConfig,
    kernel: Option<Var>,
    bias: Option<Var>,
}

impl DepthwiseConv2D {
    /// A depthwise convolution with a `kernel_size` window and Keras'
    /// defaults (stride 1, valid padding, multiplier 1, no dilation, linear
    /// activation, bias, glorot_uniform kernel).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::DepthwiseConv2D::new((3, 3)).config_struct().depth_multiplier, 1);
    /// ```
    pub fn new(kernel_size: (usize, usize)) -> Self {
        DepthwiseConv2D::from_config(DepthwiseConv2DConfig {
            name: "depthwise_conv2d".into(),
            kernel_size,
            strides: (1, 1),
            padding: Padding::Valid,
            depth_multiplier: 1,
            dilation_rate: (1, 1),
            activation: Activation::Linear,
            use_bias: true,
            depthwise_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            depthwise_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            trainable: true,
            input_shape: None,
        })
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::DepthwiseConv2D;
    /// let c = DepthwiseConv2D::new((3, 3));
    /// assert_eq!(DepthwiseConv2D::from_config(c.config_struct().clone()).config_struct(), c.config_struct());
    /// ```
    pub fn from_config(cfg: DepthwiseConv2DConfig) -> Self {
        DepthwiseConv2D {
            cfg,
            kernel: None,
            bias: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::DepthwiseConv2D::new((5, 5)).config_struct().kernel_size, (5, 5));
    /// ```
    pub fn config_struct(&self) -> &DepthwiseConv2DConfig {
        &self.cfg
    }

    builder_methods! {
        example: "DepthwiseConv2D::new((3, 3))";
        with_name;
        /// Sets the strides.
        set strides: (usize, usize) = "(2, 2)";
        /// Sets the padding.
        set padding: Padding = "neurite_tensor::Padding::Same";
        /// Sets the depth multiplier (output channels per input channel).
        set depth_multiplier: usize = "4";
        /// Sets the dilation rates.
        set dilation_rate: (usize, usize) = "(2, 2)";
        activation;
        use_bias;
        /// Sets the depthwise kernel initializer.
        initializer depthwise_initializer;
        /// Sets the bias initializer.
        initializer bias_initializer;
        /// Sets the depthwise kernel regularizer.
        regularizer depthwise_regularizer;
        /// Sets the bias regularizer.
        regularizer bias_regularizer;
        /// Sets the activity (output) regularizer.
        regularizer activity_regularizer;
        /// Declares the input shape `[h, w, c]` (without the batch axis).
        input_shape = "[28, 28, 8]";
    }

    /// Installs `depthwise_kernel` `(kh, kw, in, depth_multiplier)` and `bias`
    /// `(in * depth_multiplier,)` as the layer's variables (shared, not
    /// copied), marking the layer built. `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::DepthwiseConv2D;
    /// let mut c = DepthwiseConv2D::new((3, 3)).depth_multiplier(2);
    /// let k = Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 4, 2)).into_dyn());
    /// c.set_weight_vars(k.clone(), Some(Var::parameter(ndarray::Array1::<f32>::zeros(8).into_dyn())))?;
    /// assert!(c.set_weight_vars(k, Some(Var::parameter(ndarray::Array1::<f32>::zeros(4).into_dyn()))).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weight_vars(&mut self, depthwise_kernel: Var, bias: Option<Var>) -> Result<()> {
        let (kh, kw) = self.cfg.kernel_size;
        let m = self.cfg.depth_multiplier;
        let what = format!("a depthwise kernel of shape ({kh}, {kw}, in, {m})");
        check_kernel(
            &self.cfg.name,
            &depthwise_kernel,
            &[Some(kh), Some(kw), None, Some(m)],
            what,
        )?;
        let out = checks::mul(
            &self.cfg.name,
            "the output channels",
            depthwise_kernel.shape()[2],
            m,
        )?;
        check_bias(&self.cfg.name, bias.as_ref(), self.cfg.use_bias, out)?;
        self.kernel = Some(depthwise_kernel);
        self.bias = bias;
        Ok(())
    }

    /// The depthwise kernel `(kh, kw, in, depth_multiplier)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::DepthwiseConv2D::new((3, 2)).depth_multiplier(2);
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.depthwise_kernel().unwrap().shape(), vec![3, 2, 3, 2]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn depthwise_kernel(&self) -> Option<&Var> {
        self.kernel.as_ref()
    }

    /// The bias `(in * depth_multiplier,)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::DepthwiseConv2D::new((3, 3)).depth_multiplier(2);
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.bias().unwrap().shape(), vec![6]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    pub(crate) fn params(&self) -> Conv2dParams {
        Conv2dParams {
            strides: self.cfg.strides,
            padding: self.cfg.padding,
            dilation: self.cfg.dilation_rate,
        }
    }

    /// Output shape for an `[h, w, c]` input whose `c` must equal `channels` if given.
    fn out_shape_for(&self, input_shape: &[usize], channels: Option<usize>) -> Result<Vec<usize>> {
        depthwise_out_shape(&self.cfg.name, &self.cfg, input_shape, channels)
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        let out = self.out_shape_for(input_shape, None)?;
        let (kh, kw) = self.cfg.kernel_size;
        let mut vars = vec![(
            "depthwise_kernel",
            vec![kh, kw, input_shape[2], self.cfg.depth_multiplier],
        )];
        if self.cfg.use_bias {
            vars.push(("bias", vec![out[2]]));
        }
        checks::variables(&self.cfg.name, vars)
    }
}

/// `[oh, ow, c * multiplier]` of a depthwise convolution configured by `cfg`
/// on an `[h, w, c]` input (`c` must equal `channels` if given), or
/// `layer`'s shape error (SeparableConv2D's depthwise step uses it too).
pub(crate) fn depthwise_out_shape(
    layer: &str,
    cfg: &DepthwiseConv2DConfig,
    input_shape: &[usize],
    channels: Option<usize>,
) -> Result<Vec<usize>> {
    let c = image_shape(layer, input_shape, channels)?;
    let (kh, kw) = cfg.kernel_size;
    let p = Conv2dParams {
        strides: cfg.strides,
        padding: cfg.padding,
        dilation: cfg.dilation_rate,
    };
    let sample = [1, input_shape[0], input_shape[1], c];
    let out =
        depthwise_conv2d_output_shape(&sample, &[kh, kw, c, cfg.depth_multiplier], &p).map_err(|e| {
            shape_error(
                layer,
                format!("(height, width, {c}) with the dilated kernel fitting for valid padding ({e})"),
                input_shape,
            )
        })?;
    Ok(out[1..].to_vec())
}

impl Layer for DepthwiseConv2D {
    common_layer_methods!("DepthwiseConv2D");
    weight_methods!(
        (kernel, "depthwise_kernel", depthwise_initializer),
        (bias, "bias", bias_initializer)
    );

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        if !self.is_built() {
            self.param_specs(input_shape)?;
        }
        self.cfg.validate()?;
        self.out_shape_for(input_shape, self.kernel.as_ref().map(|k| k.shape()[2]))
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let kernel = self
            .kernel
            .as_ref()
            .ok_or_else(|| NnError::NotBuilt(name.clone()))?;
        let channels = kernel.shape()[2];
        batch_output(name, &x.shape(), channels, |s| {
            self.out_shape_for(s, Some(channels))
        })?;
        let y = ops::depthwise_conv2d(x, kernel, self.bias.as_ref(), &self.params())?;
        let y = self.cfg.activation.apply(&y)?;
        regularize_each(
            ctx,
            &[
                (self.cfg.depthwise_regularizer, Some(kernel)),
                (self.cfg.bias_regularizer, self.bias.as_ref()),
                (self.cfg.activity_regularizer, Some(&y)),
            ],
        )?;
        Ok(y)
    }
}
