//! `Conv2D`: 2-d convolution on NHWC batches with `(kh, kw, in, out)` kernels.

use super::builders::{builder_methods, weight_methods};
use super::conv_family::{batch_output, with_batch_axis};
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
use neurite_autograd::ops;
use neurite_autograd::Var;
use neurite_tensor::{conv_output_size, Conv2dParams, Padding, Pool2dParams};
use serde::{Deserialize, Serialize};

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
        check_strides_or_dilation(n, self.strides, self.dilation_rate, (1, 1))?;
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

    builder_methods! {
        example: "Conv2D::new(1, (3, 3))";
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
        input_shape = "[28, 28, 1]";
    }

    /// Installs `kernel` `(kh, kw, in, filters)` and `bias` `(filters,)` as
    /// the layer's variables (shared, not copied: gradients flow into the
    /// given `Var`s), marking the layer built. `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Conv2D;
    /// let mut c = Conv2D::new(2, (1, 1)).use_bias(false);
    /// c.set_weight_vars(Var::parameter(ndarray::Array4::<f32>::ones((1, 1, 3, 2)).into_dyn()), None)?;
    /// assert!(c.set_weight_vars(Var::parameter(ndarray::Array4::<f32>::ones((3, 3, 3, 2)).into_dyn()), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weight_vars(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let (kh, kw) = self.cfg.kernel_size;
        let f = self.cfg.filters;
        let what = format!("a kernel of shape ({kh}, {kw}, in, {f})");
        check_kernel(
            &self.cfg.name,
            &kernel,
            &[Some(kh), Some(kw), None, Some(f)],
            what,
        )?;
        check_bias(&self.cfg.name, bias.as_ref(), self.cfg.use_bias, f)?;
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
        let out = batch_output(name, &shape, kernel.shape()[2], |s| self.out_shape(s))?;
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
        regularize_each(
            ctx,
            &[
                (self.cfg.kernel_regularizer, Some(kernel)),
                (self.cfg.bias_regularizer, self.bias.as_ref()),
            ],
        )?;
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

impl Layer for Conv2D {
    common_layer_methods!("Conv2D");
    weight_methods!(
        (kernel, "kernel", kernel_initializer),
        (bias, "bias", bias_initializer)
    );

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
}
