//! `SeparableConv2D`: a depthwise convolution followed by a pointwise (1x1)
//! convolution, with Keras' weights `depthwise_kernel`
//! `(kh, kw, in, depth_multiplier)`, `pointwise_kernel`
//! `(1, 1, in * depth_multiplier, filters)` and `bias` `(filters,)`.

use super::builders::{builder_methods, weight_methods};
use super::conv_family::batch_output;
use super::depthwise_conv::{depthwise_out_shape, DepthwiseConv2DConfig};
use super::weighted::{check_bias, check_kernel, check_weight_fields, one, ones2, regularize_each, zeros};
use super::{common_layer_methods, default_true, padding_serde};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::{ops, Var};
use neurite_tensor::{Conv2dParams, Padding};
use serde::{Deserialize, Serialize};

/// Configuration of a [`SeparableConv2D`] layer (Keras'
/// `SeparableConv2D.get_config()` keys and defaults).
///
/// ```
/// let c: neurite_nn::layers::SeparableConv2DConfig = serde_json::from_value(serde_json::json!(
///     {"name": "sep", "filters": 16, "kernel_size": [3, 3], "depth_multiplier": 2})).unwrap();
/// assert_eq!((c.filters, c.depth_multiplier), (16, 2));
/// assert!(c.use_bias);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeparableConv2DConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Output channels of the pointwise step.
    pub filters: usize,
    /// `(height, width)` of the depthwise kernel.
    pub kernel_size: (usize, usize),
    /// `(vertical, horizontal)` strides of the depthwise step (default `(1, 1)`).
    #[serde(default = "ones2")]
    pub strides: (usize, usize),
    /// `"valid"` (default) or `"same"`.
    #[serde(default, with = "padding_serde")]
    pub padding: Padding,
    /// Depthwise output channels per input channel (default 1).
    #[serde(default = "one")]
    pub depth_multiplier: usize,
    /// `(vertical, horizontal)` dilation rates (default `(1, 1)`).
    #[serde(default = "ones2")]
    pub dilation_rate: (usize, usize),
    /// Activation applied to the output.
    #[serde(default)]
    pub activation: Activation,
    /// Whether a bias per filter is added (after the pointwise step).
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Initializer of the depthwise kernel (default glorot_uniform).
    #[serde(default)]
    pub depthwise_initializer: Initializer,
    /// Initializer of the pointwise kernel (default glorot_uniform).
    #[serde(default)]
    pub pointwise_initializer: Initializer,
    /// Initializer of the bias (default zeros).
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Penalty on the depthwise kernel.
    #[serde(default)]
    pub depthwise_regularizer: Option<Regularizer>,
    /// Penalty on the pointwise kernel.
    #[serde(default)]
    pub pointwise_regularizer: Option<Regularizer>,
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

impl SeparableConv2DConfig {
    /// Checks every field for values that can never work (filters,
    /// kernel_size, strides, dilation_rate or depth_multiplier 0, bad
    /// initializer/regularizer parameters, a declared input shape with a 0
    /// dimension); errors name the layer and the field.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::SeparableConv2D::new(8, (3, 3)).with_name("sep").config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.filters = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("sep") && e.contains("filters"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "filters", self.filters)?;
        checks::positive_pair(n, "kernel_size", self.kernel_size)?;
        checks::positive_pair(n, "strides", self.strides)?;
        checks::positive_pair(n, "dilation_rate", self.dilation_rate)?;
        checks::positive(n, "depth_multiplier", self.depth_multiplier)?;
        check_weight_fields(
            n,
            &self.activation,
            &[
                ("depthwise_initializer", &self.depthwise_initializer),
                ("pointwise_initializer", &self.pointwise_initializer),
                ("bias_initializer", &self.bias_initializer),
            ],
            &[
                ("depthwise_regularizer", &self.depthwise_regularizer),
                ("pointwise_regularizer", &self.pointwise_regularizer),
                ("bias_regularizer", &self.bias_regularizer),
                ("activity_regularizer", &self.activity_regularizer),
            ],
            &self.input_shape,
        )
    }

    /// The depthwise step's configuration (shape arithmetic only).
    fn depthwise(&self) -> DepthwiseConv2DConfig {
        DepthwiseConv2DConfig {
            name: self.name.clone(),
            kernel_size: self.kernel_size,
            strides: self.strides,
            padding: self.padding,
            depth_multiplier: self.depth_multiplier,
            dilation_rate: self.dilation_rate,
            activation: Activation::Linear,
            use_bias: false,
            depthwise_initializer: self.depthwise_initializer,
            bias_initializer: Initializer::Zeros,
            depthwise_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            trainable: self.trainable,
            input_shape: None,
        }
    }
}

/// Keras' `SeparableConv2D` (channels_last): a depthwise convolution (no
/// bias) of each input channel with `depth_multiplier` kernels, then a 1x1
/// convolution to `filters` channels plus the bias, then the activation.
/// Inputs `(batch, h, w, c)`, output `(batch, oh, ow, filters)`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::SeparableConv2D;
/// use neurite_nn::{ForwardContext, Layer};
/// use neurite_tensor::Padding;
/// let mut sep = SeparableConv2D::new(8, (3, 3)).padding(Padding::Same).depth_multiplier(2);
/// sep.build(&[6, 6, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(sep.output_shape(&[6, 6, 3])?, vec![6, 6, 8]);
/// assert_eq!(sep.pointwise_kernel().unwrap().shape(), vec![1, 1, 6, 8]);
/// let y = sep.forward(&Var::from_array(ndarray::Array4::<f32>::ones((2, 6, 6, 3))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 6, 6, 8]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SeparableConv2D {
    cfg: SeparableConv2DConfig,
    depthwise: Option<Var>,
    pointwise: Option<Var>,
    bias: Option<Var>,
}

impl SeparableConv2D {
    /// A separable convolution with `filters` output channels and a
    /// `kernel_size` depthwise window, with Keras' defaults (stride 1, valid
    /// padding, multiplier 1, no dilation, linear activation, bias,
    /// glorot_uniform kernels).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::SeparableConv2D::new(32, (3, 3)).config_struct().filters, 32);
    /// ```
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        SeparableConv2D::from_config(SeparableConv2DConfig {
            name: "separable_conv2d".into(),
            filters,
            kernel_size,
            strides: (1, 1),
            padding: Padding::Valid,
            depth_multiplier: 1,
            dilation_rate: (1, 1),
            activation: Activation::Linear,
            use_bias: true,
            depthwise_initializer: Initializer::GlorotUniform,
            pointwise_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            depthwise_regularizer: None,
            pointwise_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            trainable: true,
            input_shape: None,
        })
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::SeparableConv2D;
    /// let c = SeparableConv2D::new(2, (3, 3));
    /// assert_eq!(SeparableConv2D::from_config(c.config_struct().clone()).config_struct(), c.config_struct());
    /// ```
    pub fn from_config(cfg: SeparableConv2DConfig) -> Self {
        SeparableConv2D {
            cfg,
            depthwise: None,
            pointwise: None,
            bias: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::SeparableConv2D::new(3, (5, 5)).config_struct().kernel_size, (5, 5));
    /// ```
    pub fn config_struct(&self) -> &SeparableConv2DConfig {
        &self.cfg
    }

    builder_methods! {
        example: "SeparableConv2D::new(1, (3, 3))";
        with_name;
        /// Sets the strides.
        set strides: (usize, usize) = "(2, 2)";
        /// Sets the padding.
        set padding: Padding = "neurite_tensor::Padding::Same";
        /// Sets the depth multiplier.
        set depth_multiplier: usize = "3";
        /// Sets the dilation rates.
        set dilation_rate: (usize, usize) = "(2, 2)";
        activation;
        use_bias;
        /// Sets the depthwise kernel initializer.
        initializer depthwise_initializer;
        /// Sets the pointwise kernel initializer.
        initializer pointwise_initializer;
        /// Sets the bias initializer.
        initializer bias_initializer;
        /// Sets the depthwise kernel regularizer.
        regularizer depthwise_regularizer;
        /// Sets the pointwise kernel regularizer.
        regularizer pointwise_regularizer;
        /// Sets the bias regularizer.
        regularizer bias_regularizer;
        /// Sets the activity (output) regularizer.
        regularizer activity_regularizer;
        /// Declares the input shape `[h, w, c]` (without the batch axis).
        input_shape = "[28, 28, 3]";
    }

    /// Installs `depthwise_kernel` `(kh, kw, in, depth_multiplier)`,
    /// `pointwise_kernel` `(1, 1, in * depth_multiplier, filters)` and `bias`
    /// `(filters,)` (given iff `use_bias`) as the layer's variables (shared,
    /// not copied), marking the layer built.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::SeparableConv2D;
    /// let mut c = SeparableConv2D::new(5, (3, 3)).use_bias(false);
    /// let d = Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 2, 1)).into_dyn());
    /// c.set_weight_vars(d.clone(), Var::parameter(ndarray::Array4::<f32>::ones((1, 1, 2, 5)).into_dyn()), None)?;
    /// assert!(c.set_weight_vars(d, Var::parameter(ndarray::Array4::<f32>::ones((1, 1, 3, 5)).into_dyn()), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weight_vars(
        &mut self,
        depthwise_kernel: Var,
        pointwise_kernel: Var,
        bias: Option<Var>,
    ) -> Result<()> {
        let name = &self.cfg.name;
        let (kh, kw) = self.cfg.kernel_size;
        let (m, f) = (self.cfg.depth_multiplier, self.cfg.filters);
        let what = format!("a depthwise kernel of shape ({kh}, {kw}, in, {m})");
        check_kernel(
            name,
            &depthwise_kernel,
            &[Some(kh), Some(kw), None, Some(m)],
            what,
        )?;
        let mid = checks::mul(
            name,
            "the depthwise output channels",
            depthwise_kernel.shape()[2],
            m,
        )?;
        let what = format!("a pointwise kernel of shape (1, 1, {mid}, {f})");
        check_kernel(
            name,
            &pointwise_kernel,
            &[Some(1), Some(1), Some(mid), Some(f)],
            what,
        )?;
        check_bias(name, bias.as_ref(), self.cfg.use_bias, f)?;
        self.depthwise = Some(depthwise_kernel);
        self.pointwise = Some(pointwise_kernel);
        self.bias = bias;
        Ok(())
    }

    /// The depthwise kernel `(kh, kw, in, depth_multiplier)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::SeparableConv2D::new(4, (3, 3));
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.depthwise_kernel().unwrap().shape(), vec![3, 3, 3, 1]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn depthwise_kernel(&self) -> Option<&Var> {
        self.depthwise.as_ref()
    }

    /// The pointwise kernel `(1, 1, in * depth_multiplier, filters)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::SeparableConv2D::new(4, (3, 3)).depth_multiplier(2);
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.pointwise_kernel().unwrap().shape(), vec![1, 1, 6, 4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn pointwise_kernel(&self) -> Option<&Var> {
        self.pointwise.as_ref()
    }

    /// The bias `(filters,)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::SeparableConv2D::new(4, (3, 3));
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.bias().unwrap().shape(), vec![4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// Output shape for an `[h, w, c]` input whose `c` must equal `channels` if given.
    fn out_shape_for(&self, input_shape: &[usize], channels: Option<usize>) -> Result<Vec<usize>> {
        let mid = depthwise_out_shape(&self.cfg.name, &self.cfg.depthwise(), input_shape, channels)?;
        checks::product(&self.cfg.name, "the output", &[mid[0], mid[1], self.cfg.filters])?;
        Ok(vec![mid[0], mid[1], self.cfg.filters])
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        self.out_shape_for(input_shape, None)?;
        let (kh, kw) = self.cfg.kernel_size;
        let (c, m, f) = (input_shape[2], self.cfg.depth_multiplier, self.cfg.filters);
        let mid = checks::mul(&self.cfg.name, "the depthwise output channels", c, m)?;
        let mut vars = vec![
            ("depthwise_kernel", vec![kh, kw, c, m]),
            ("pointwise_kernel", vec![1, 1, mid, f]),
        ];
        if self.cfg.use_bias {
            vars.push(("bias", vec![f]));
        }
        checks::variables(&self.cfg.name, vars)
    }
}

impl Layer for SeparableConv2D {
    common_layer_methods!("SeparableConv2D");
    weight_methods!(
        (depthwise, "depthwise_kernel", depthwise_initializer),
        (pointwise, "pointwise_kernel", pointwise_initializer),
        (bias, "bias", bias_initializer)
    );

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        if !self.is_built() {
            self.param_specs(input_shape)?;
        }
        self.cfg.validate()?;
        self.out_shape_for(input_shape, self.depthwise.as_ref().map(|k| k.shape()[2]))
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let (Some(depthwise), Some(pointwise)) = (&self.depthwise, &self.pointwise) else {
            return Err(NnError::NotBuilt(name.clone()));
        };
        let channels = depthwise.shape()[2];
        batch_output(name, &x.shape(), channels, |s| {
            self.out_shape_for(s, Some(channels))
        })?;
        let p = Conv2dParams {
            strides: self.cfg.strides,
            padding: self.cfg.padding,
            dilation: self.cfg.dilation_rate,
        };
        let mid = ops::depthwise_conv2d(x, depthwise, None, &p)?;
        // The pointwise step is a 1x1 stride-1 convolution: one GEMM per task.
        let y = ops::conv2d(&mid, pointwise, self.bias.as_ref(), &Conv2dParams::default())?;
        let y = self.cfg.activation.apply(&y)?;
        regularize_each(
            ctx,
            &[
                (self.cfg.depthwise_regularizer, Some(depthwise)),
                (self.cfg.pointwise_regularizer, Some(pointwise)),
                (self.cfg.bias_regularizer, self.bias.as_ref()),
                (self.cfg.activity_regularizer, Some(&y)),
            ],
        )?;
        Ok(y)
    }
}
