//! `Conv2D`: 2-d convolution on NHWC batches with `(kh, kw, in, out)` kernels.

use super::{common_layer_methods, config_error, default_true, padding_serde, regularize, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::ops;
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::{conv_output_size, Conv2dParams, Padding, Pool2dParams};
use serde::{Deserialize, Serialize};

fn ones2() -> (usize, usize) {
    (1, 1)
}

fn zeros() -> Initializer {
    Initializer::Zeros
}

/// Configuration of a [`Conv2D`] layer (Keras' `Conv2D.get_config()` keys).
///
/// ```
/// let c: neurite_nn::layers::Conv2DConfig = serde_json::from_value(serde_json::json!(
///     {"name": "c", "filters": 8, "kernel_size": [3, 3], "padding": "same"})).unwrap();
/// assert_eq!(c.strides, (1, 1));
/// assert_eq!(c.padding, neurite_tensor::Padding::Same);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv2DConfig {
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

impl Conv2DConfig {
    /// Checks every field for values that can never work (filters,
    /// kernel_size, strides or dilation_rate 0, strides and dilation both
    /// above 1, bad initializer/regularizer parameters, a declared input
    /// shape with a 0 dimension); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::Conv2D::new(8, (3, 3)).with_name("conv").config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.strides = (0, 1);
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("conv") && e.contains("strides"), "{e}");
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
        checks::activation(n, "activation", &self.activation)?;
        checks::initializer(n, "kernel_initializer", &self.kernel_initializer)?;
        checks::initializer(n, "bias_initializer", &self.bias_initializer)?;
        checks::regularizer(n, "kernel_regularizer", &self.kernel_regularizer)?;
        checks::regularizer(n, "bias_regularizer", &self.bias_regularizer)?;
        checks::regularizer(n, "activity_regularizer", &self.activity_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// Keras' `Conv2D` (channels_last): inputs `(batch, h, w, c)`, kernel
/// `(kh, kw, c, filters)`, output `(batch, oh, ow, filters)` with
/// TensorFlow's `valid`/`same` padding arithmetic.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Conv2D;
/// use neurite_nn::{Activation, ForwardContext, Layer};
/// use neurite_tensor::Padding;
/// let mut c = Conv2D::new(4, (3, 3)).strides((2, 2)).padding(Padding::Same).activation(Activation::Relu);
/// c.build(&[7, 7, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(c.output_shape(&[7, 7, 2])?, vec![4, 4, 4]);
/// let y = c.forward(&Var::from_array(ndarray::Array4::<f32>::ones((1, 7, 7, 2))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![1, 4, 4, 4]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv2D {
    cfg: Conv2DConfig,
    kernel: Option<Var>,
    bias: Option<Var>,
}

impl Conv2D {
    /// A convolution with `filters` output channels and a `kernel_size`
    /// window, with Keras' defaults (stride 1, valid padding, no dilation,
    /// linear activation, bias, glorot_uniform kernel).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv2D::new(32, (3, 3)).config_struct().filters, 32);
    /// ```
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        Conv2D {
            cfg: Conv2DConfig {
                name: "conv2d".into(),
                filters,
                kernel_size,
                strides: (1, 1),
                padding: Padding::Valid,
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
            },
            kernel: None,
            bias: None,
        }
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::Conv2D;
    /// let c = Conv2D::new(2, (3, 3));
    /// assert_eq!(Conv2D::from_config(c.config_struct().clone()).config_struct(), c.config_struct());
    /// ```
    pub fn from_config(cfg: Conv2DConfig) -> Self {
        Conv2D {
            cfg,
            kernel: None,
            bias: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv2D::new(3, (5, 5)).config_struct().kernel_size, (5, 5));
    /// ```
    pub fn config_struct(&self) -> &Conv2DConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Conv2D::new(1, (1, 1)).with_name("c1").name(), "c1");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Sets the strides.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv2D::new(1, (3, 3)).strides((2, 1)).config_struct().strides, (2, 1));
    /// ```
    pub fn strides(mut self, strides: (usize, usize)) -> Self {
        self.cfg.strides = strides;
        self
    }

    /// Sets the padding.
    ///
    /// ```
    /// use neurite_tensor::Padding;
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).padding(Padding::Same);
    /// assert_eq!(c.config_struct().padding, Padding::Same);
    /// ```
    pub fn padding(mut self, padding: Padding) -> Self {
        self.cfg.padding = padding;
        self
    }

    /// Sets the dilation rates.
    ///
    /// ```
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).dilation_rate((2, 2));
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
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).activation(Activation::Relu);
    /// assert_eq!(c.config_struct().activation, Activation::Relu);
    /// ```
    pub fn activation(mut self, activation: Activation) -> Self {
        self.cfg.activation = activation;
        self
    }

    /// Whether to add a bias.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::Conv2D::new(1, (3, 3)).use_bias(false).config_struct().use_bias);
    /// ```
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.cfg.use_bias = use_bias;
        self
    }

    /// Sets the kernel initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).kernel_initializer(Initializer::HeUniform);
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
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).bias_initializer(Initializer::Ones);
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
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).kernel_regularizer(Regularizer::l2(0.1));
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
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).bias_regularizer(Regularizer::l2(0.1));
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
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).activity_regularizer(Regularizer::l1(0.1));
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
    /// let c = neurite_nn::layers::Conv2D::new(1, (3, 3)).input_shape([28, 28, 1]);
    /// assert_eq!(c.declared_input_shape(), Some(vec![28, 28, 1]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// Installs `kernel` `(kh, kw, in, filters)` and `bias` `(filters,)` as
    /// the layer's variables (shared, not copied: gradients flow into the
    /// given `Var`s), marking the layer built. `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Conv2D;
    /// let mut c = Conv2D::new(2, (1, 1)).use_bias(false);
    /// c.set_weights(Var::parameter(ndarray::Array4::<f32>::ones((1, 1, 3, 2)).into_dyn()), None)?;
    /// assert!(c.set_weights(Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 3, 2)).into_dyn()), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weights(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let ks = kernel.shape();
        let (kh, kw) = self.cfg.kernel_size;
        if ks.len() != 4 || ks[0] != kh || ks[1] != kw || ks[3] != self.cfg.filters || ks[2] == 0 {
            return Err(shape_error(
                &self.cfg.name,
                format!("a kernel of shape ({kh}, {kw}, in, {})", self.cfg.filters),
                &ks,
            ));
        }
        let out = self.cfg.filters;
        match (&bias, self.cfg.use_bias) {
            (Some(b), true) if b.shape() == [out] => {}
            (None, false) => {}
            (b, use_bias) => {
                return Err(config_error(
                    &self.cfg.name,
                    format!(
                        "use_bias is {use_bias} but the bias given has shape {:?} (expected {})",
                        b.as_ref().map(|b| b.shape()),
                        if use_bias {
                            format!("[{out}]")
                        } else {
                            "none".to_string()
                        }
                    ),
                ))
            }
        }
        self.kernel = Some(kernel);
        self.bias = bias;
        Ok(())
    }

    /// The kernel `(kh, kw, in, filters)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::Conv2D::new(4, (3, 2));
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.kernel().unwrap().shape(), vec![3, 2, 3, 4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn kernel(&self) -> Option<&Var> {
        self.kernel.as_ref()
    }

    /// The bias `(filters,)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::Conv2D::new(4, (3, 3));
    /// c.build(&[5, 5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.bias().unwrap().shape(), vec![4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// The kernel and the output shape `(batch, oh, ow, filters)` for the
    /// batch `x`, or the layer's error for an input it cannot take.
    fn checked_input(&self, x: &Var) -> Result<(&Var, Vec<usize>)> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let kernel = self
            .kernel
            .as_ref()
            .ok_or_else(|| NnError::NotBuilt(name.clone()))?;
        let shape = x.shape();
        if shape.len() != 4 {
            return Err(shape_error(
                name,
                format!("(batch, height, width, {})", kernel.shape()[2]),
                &shape,
            ));
        }
        let out = self
            .out_shape(&shape[1..])
            .map_err(|e| with_batch_axis(e, &shape))?;
        Ok((kernel, [&shape[..1], &out[..]].concat()))
    }

    /// The fused pass of [`Layer::forward_fused`]: convolution, ReLU and
    /// `pool` (the parameters of the layer `next`, which also checks the
    /// convolution's output shape and names itself in errors) in one node.
    fn forward_relu_max_pool(
        &self,
        next: &dyn Layer,
        pool: &Pool2dParams,
        x: &Var,
        ctx: &mut ForwardContext,
    ) -> Result<Var> {
        let (kernel, conv_shape) = self.checked_input(x)?;
        // The error the pooling layer's own forward would give on the conv output.
        next.output_shape(&conv_shape[1..])
            .map_err(|e| with_batch_axis(e, &conv_shape))?;
        let y = ops::conv2d_relu_max_pool2d(x, kernel, self.bias.as_ref(), &self.params(), pool)?;
        regularize(ctx, self.cfg.kernel_regularizer, kernel)?;
        if let Some(b) = &self.bias {
            regularize(ctx, self.cfg.bias_regularizer, b)?;
        }
        Ok(y)
    }

    /// In inference without a graph to record, this linear convolution
    /// followed by a layer with an [`Layer::inference_affine`] map
    /// (`BatchNormalization`) runs as one convolution with the map folded
    /// into its kernel and bias (kernel `W·s`, bias `b·s + t`; equal to the
    /// two layers up to rounding), and a plain `ReLU` after them in the same
    /// pass. `None` when that does not apply.
    fn folded_inference(
        &self,
        next: &[&dyn Layer],
        x: &Var,
        ctx: &ForwardContext,
    ) -> Option<(usize, Result<Var>)> {
        if ctx.is_training()
            || neurite_autograd::is_grad_enabled()
            || self.cfg.activation != Activation::Linear
        {
            return None;
        }
        let kernel = self.kernel.as_ref()?;
        let f = kernel.shape()[3];
        let (scale, shift) = next.first()?.inference_affine()?;
        if scale.len() != f || shift.len() != f {
            return None;
        }
        let relu = next.get(1).is_some_and(|l| l.is_plain_relu());
        let run = || -> Result<Var> {
            let (kernel, _) = self.checked_input(x)?;
            let mut k = kernel.to_tensor();
            for row in k
                .as_slice_mut()
                .expect("a kernel is contiguous")
                .chunks_exact_mut(f)
            {
                row.iter_mut().zip(&scale).for_each(|(w, s)| *w *= s);
            }
            let mut b = shift.clone();
            if let Some(bias) = &self.bias {
                let bias = bias.to_tensor();
                b.iter_mut()
                    .zip(bias.iter().zip(&scale))
                    .for_each(|(t, (v, s))| *t += v * s);
            }
            let (k, b) = (
                Var::constant(k),
                Var::constant(ndarray::Array1::from_vec(b).into_dyn()),
            );
            let p = self.params();
            Ok(if relu {
                ops::conv2d_relu(x, &k, Some(&b), &p)?
            } else {
                ops::conv2d(x, &k, Some(&b), &p)?
            })
        };
        Some((if relu { 2 } else { 1 }, run()))
    }

    fn params(&self) -> Conv2dParams {
        Conv2dParams {
            strides: self.cfg.strides,
            padding: self.cfg.padding,
            dilation: self.cfg.dilation_rate,
        }
    }

    /// Output shape for an `[h, w, c]` input, checking `c` against the kernel when built.
    fn out_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.out_shape_for(input_shape, self.kernel.as_ref().map(|k| k.shape()[2]))
    }

    /// Output shape for an `[h, w, c]` input whose `c` must equal `channels` if given
    /// (overflow-free: the output size of each axis comes from `conv_output_size`).
    fn out_shape_for(&self, input_shape: &[usize], channels: Option<usize>) -> Result<Vec<usize>> {
        let name = &self.cfg.name;
        let expected =
            |c: String| format!("(height, width, {c}) with the dilated kernel fitting for valid padding");
        if input_shape.len() != 3 {
            return Err(shape_error(name, "(height, width, channels)", input_shape));
        }
        let channels = match channels {
            Some(kc) => {
                if kc != input_shape[2] {
                    return Err(shape_error(name, format!("(height, width, {kc})"), input_shape));
                }
                kc
            }
            None => input_shape[2],
        };
        let c = &self.cfg;
        let axis = |i: usize, k: usize, s: usize, d: usize| {
            conv_output_size(input_shape[i], k, s, d, c.padding)
                .map(|(out, _, _)| out)
                .map_err(|_| shape_error(name, expected(channels.to_string()), input_shape))
        };
        let oh = axis(0, c.kernel_size.0, c.strides.0, c.dilation_rate.0)?;
        let ow = axis(1, c.kernel_size.1, c.strides.1, c.dilation_rate.1)?;
        Ok(vec![oh, ow, c.filters])
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        if input_shape.len() != 3 || input_shape[2] == 0 {
            return Err(shape_error(name, "(height, width, channels)", input_shape));
        }
        self.out_shape_for(input_shape, None)?;
        let (kh, kw) = self.cfg.kernel_size;
        let mut vars = vec![("kernel", vec![kh, kw, input_shape[2], self.cfg.filters])];
        if self.cfg.use_bias {
            vars.push(("bias", vec![self.cfg.filters]));
        }
        checks::variables(name, vars)
    }
}

/// A per-sample shape error (`(height, width, channels) ...`, found `[h, w, c]`)
/// restated for the batch `shape` a forward pass received, as the layers'
/// own forward checks word it.
fn with_batch_axis(e: NnError, shape: &[usize]) -> NnError {
    match e {
        NnError::Shape { layer, expected, .. } => NnError::Shape {
            layer,
            expected: format!("(batch, {}", expected.trim_start_matches('(')),
            found: shape.to_vec(),
        },
        other => other,
    }
}

impl Layer for Conv2D {
    common_layer_methods!("Conv2D");

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
            // The errors build would give (0 channels, bad config, kernel too large).
            self.param_specs(input_shape)?;
        }
        self.cfg.validate()?;
        self.out_shape(input_shape)
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let (kernel, _) = self.checked_input(x)?;
        let y = if self.cfg.activation == Activation::Relu {
            // One fused node: convolution, bias and ReLU.
            ops::conv2d_relu(x, kernel, self.bias.as_ref(), &self.params())?
        } else {
            self.cfg
                .activation
                .apply(&ops::conv2d(x, kernel, self.bias.as_ref(), &self.params())?)?
        };
        regularize(ctx, self.cfg.kernel_regularizer, kernel)?;
        if let Some(b) = &self.bias {
            regularize(ctx, self.cfg.bias_regularizer, b)?;
        }
        regularize(ctx, self.cfg.activity_regularizer, &y)?;
        Ok(y)
    }

    /// With ReLU activation and followed by `MaxPooling2D`: one node of
    /// [`ops::conv2d_relu_max_pool2d`], which never writes the convolution
    /// output to memory (the same values and gradients, as long as the
    /// convolution output holds no NaN). Not taken in training when an
    /// activity regularizer needs that output.
    fn forward_fused(&self, next: &dyn Layer, x: &Var, ctx: &mut ForwardContext) -> Option<Result<Var>> {
        let pool = next.max_pool_params()?;
        self.kernel.as_ref()?;
        let needs_conv_output = ctx.is_training() && self.cfg.activity_regularizer.is_some();
        if self.cfg.activation != Activation::Relu || needs_conv_output {
            return None;
        }
        Some(self.forward_relu_max_pool(next, &pool, x, ctx))
    }

    /// Also folds an inference `BatchNormalization` (and a `ReLU` after it)
    /// into the convolution: see [`Layer::forward_fused_chain`].
    fn forward_fused_chain(
        &self,
        next: &[&dyn Layer],
        x: &Var,
        ctx: &mut ForwardContext,
    ) -> Option<(usize, Result<Var>)> {
        if let Some(folded) = self.folded_inference(next, x, ctx) {
            return Some(folded);
        }
        let first = next.first()?;
        self.forward_fused(*first, x, ctx).map(|out| (1, out))
    }

    fn parameters(&self) -> Vec<Parameter> {
        let mut out = Vec::new();
        if let Some(k) = &self.kernel {
            out.push(Parameter {
                name: format!("{}.kernel", self.cfg.name),
                var: k.clone(),
                trainable: self.cfg.trainable,
            });
        }
        if let Some(b) = &self.bias {
            out.push(Parameter {
                name: format!("{}.bias", self.cfg.name),
                var: b.clone(),
                trainable: self.cfg.trainable,
            });
        }
        out
    }
}
