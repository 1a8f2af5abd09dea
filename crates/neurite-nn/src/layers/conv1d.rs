//! `Conv1D`: 1-d convolution of `(batch, steps, channels)` sequences with
//! `(kernel_size, in, filters)` kernels, on the 2-d convolution kernels
//! (see [`neurite_autograd::ops::conv1d`]).

use super::builders::{builder_methods, weight_methods};
use super::seq_serde::{conv1d_padding_serde, one_int};
use super::weighted::{
    check_bias, check_kernel, check_strides_or_dilation, check_weight_fields, one, regularize_each, zeros,
};
use super::{common_layer_methods, default_true, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Layer, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::ops::{self, Conv1dPadding, Conv1dParams};
use neurite_autograd::Var;
use neurite_tensor::{conv_output_size, Padding};
use serde::{Deserialize, Serialize};

/// Configuration of a [`Conv1D`] layer (Keras' `Conv1D.get_config()` keys;
/// `kernel_size`, `strides` and `dilation_rate` are read as an integer or a
/// one-element list and written as a list, as Keras).
///
/// ```
/// let c: neurite_nn::layers::Conv1DConfig = serde_json::from_value(serde_json::json!(
///     {"name": "c", "filters": 8, "kernel_size": [3], "padding": "causal"})).unwrap();
/// assert_eq!((c.kernel_size, c.strides, c.groups), (3, 1, 1));
/// assert_eq!(c.padding, neurite_autograd::ops::Conv1dPadding::Causal);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv1DConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Number of output channels.
    pub filters: usize,
    /// Taps of the kernel.
    #[serde(with = "one_int")]
    pub kernel_size: usize,
    /// Step between windows (default 1).
    #[serde(default = "one", with = "one_int")]
    pub strides: usize,
    /// `"valid"` (default), `"same"` or `"causal"`.
    #[serde(default, with = "conv1d_padding_serde")]
    pub padding: Conv1dPadding,
    /// Spacing of the taps (default 1).
    #[serde(default = "one", with = "one_int")]
    pub dilation_rate: usize,
    /// Channel groups; only 1 is supported.
    #[serde(default = "one")]
    pub groups: usize,
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
    /// Declared input shape `[steps, channels]`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl Conv1DConfig {
    /// Checks every field for values that can never work (filters,
    /// kernel_size, strides or dilation_rate 0, strides and dilation both
    /// above 1, groups other than 1, bad initializer/regularizer parameters,
    /// a declared input shape with a 0 dimension); errors name the layer and
    /// the field. Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::Conv1D::new(8, 3).with_name("conv").config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.groups = 2;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("conv") && e.contains("groups"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "filters", self.filters)?;
        checks::positive(n, "kernel_size", self.kernel_size)?;
        checks::positive(n, "strides", self.strides)?;
        checks::positive(n, "dilation_rate", self.dilation_rate)?;
        if self.groups != 1 {
            return Err(checks::field_error(
                n,
                "groups",
                "1 (grouped 1-d convolution is not supported)",
                self.groups,
            ));
        }
        check_strides_or_dilation(n, self.strides, self.dilation_rate, 1)?;
        checks::mul(n, "the dilated kernel", self.kernel_size - 1, self.dilation_rate)?;
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

    /// The op's parameters.
    fn params(&self) -> Conv1dParams {
        Conv1dParams {
            stride: self.strides,
            padding: self.padding,
            dilation: self.dilation_rate,
        }
    }

    /// Output length for `steps` input steps, or `None` when the dilated
    /// kernel does not fit (valid padding).
    fn out_len(&self, steps: usize) -> Option<usize> {
        let (padding, steps) = match self.padding {
            Conv1dPadding::Valid => (Padding::Valid, steps),
            Conv1dPadding::Same => (Padding::Same, steps),
            Conv1dPadding::Causal => (
                Padding::Valid,
                steps.checked_add((self.kernel_size - 1) * self.dilation_rate)?,
            ),
        };
        conv_output_size(steps, self.kernel_size, self.strides, self.dilation_rate, padding)
            .ok()
            .map(|(out, _, _)| out)
    }
}

/// Keras' `Conv1D` (channels_last): inputs `(batch, steps, c)`, kernel
/// `(kernel_size, c, filters)`, output `(batch, steps', filters)`; `causal`
/// padding puts `dilation_rate * (kernel_size - 1)` zeros before the first
/// step, so step `t` of the output sees only inputs up to `t`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_autograd::ops::Conv1dPadding;
/// use neurite_nn::layers::Conv1D;
/// use neurite_nn::{Activation, ForwardContext, Layer};
/// let mut c = Conv1D::new(4, 3).padding(Conv1dPadding::Causal).dilation_rate(2).activation(Activation::Relu);
/// c.build(&[10, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(c.output_shape(&[10, 2])?, vec![10, 4]);
/// let y = c.forward(&Var::from_array(ndarray::Array3::<f32>::ones((1, 10, 2))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![1, 10, 4]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv1D {
    cfg: Conv1DConfig,
    kernel: Option<Var>,
    bias: Option<Var>,
}

impl Conv1D {
    /// A convolution with `filters` output channels and `kernel_size` taps,
    /// with Keras' defaults (stride 1, valid padding, no dilation, linear
    /// activation, bias, glorot_uniform kernel).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv1D::new(32, 5).config_struct().kernel_size, 5);
    /// ```
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        Conv1D::from_config(Conv1DConfig {
            name: "conv1d".into(),
            filters,
            kernel_size,
            strides: 1,
            padding: Conv1dPadding::Valid,
            dilation_rate: 1,
            groups: 1,
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
    /// use neurite_nn::layers::Conv1D;
    /// let c = Conv1D::new(2, 3);
    /// assert_eq!(Conv1D::from_config(c.config_struct().clone()).config_struct(), c.config_struct());
    /// ```
    pub fn from_config(cfg: Conv1DConfig) -> Self {
        Conv1D {
            cfg,
            kernel: None,
            bias: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv1D::new(3, 5).config_struct().filters, 3);
    /// ```
    pub fn config_struct(&self) -> &Conv1DConfig {
        &self.cfg
    }

    builder_methods! {
        example: "Conv1D::new(1, 3)";
        with_name;
        /// Sets the stride.
        set strides: usize = "2";
        /// Sets the padding (`Valid`, `Same` or `Causal`).
        set padding: Conv1dPadding = "neurite_autograd::ops::Conv1dPadding::Same";
        /// Sets the dilation rate.
        set dilation_rate: usize = "2";
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
        /// Declares the input shape `[steps, channels]` (without the batch axis).
        input_shape = "[100, 64]";
    }

    /// Installs `kernel` `(kernel_size, in, filters)` and `bias` `(filters,)`
    /// as the layer's variables (shared, not copied), marking the layer
    /// built. `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Conv1D;
    /// let mut c = Conv1D::new(2, 3).use_bias(false);
    /// c.set_weight_vars(Var::parameter(ndarray::Array3::<f32>::ones((3, 4, 2)).into_dyn()), None)?;
    /// assert!(c.set_weight_vars(Var::parameter(ndarray::Array3::<f32>::ones((2, 4, 2)).into_dyn()), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weight_vars(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let (k, f) = (self.cfg.kernel_size, self.cfg.filters);
        let what = format!("a kernel of shape ({k}, in, {f})");
        check_kernel(&self.cfg.name, &kernel, &[Some(k), None, Some(f)], what)?;
        check_bias(&self.cfg.name, bias.as_ref(), self.cfg.use_bias, f)?;
        self.kernel = Some(kernel);
        self.bias = bias;
        Ok(())
    }

    /// The kernel `(kernel_size, in, filters)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::Conv1D::new(4, 3);
    /// c.build(&[5, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.kernel().unwrap().shape(), vec![3, 2, 4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn kernel(&self) -> Option<&Var> {
        self.kernel.as_ref()
    }

    /// The bias `(filters,)`, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut c = neurite_nn::layers::Conv1D::new(4, 3);
    /// c.build(&[5, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(c.bias().unwrap().shape(), vec![4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// Output shape for a `[steps, c]` input whose `c` must equal `channels` if given.
    fn out_shape_for(&self, input_shape: &[usize], channels: Option<usize>) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let c = channels.map_or("channels".to_string(), |c| c.to_string());
        let expected = format!("(steps, {c}) with the dilated kernel fitting for valid padding");
        if input_shape.len() != 2 || input_shape[1] == 0 || channels.is_some_and(|c| c != input_shape[1]) {
            return Err(shape_error(name, expected, input_shape));
        }
        let out = self
            .cfg
            .out_len(input_shape[0])
            .ok_or_else(|| shape_error(name, expected, input_shape))?;
        Ok(vec![out, self.cfg.filters])
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.out_shape_for(input_shape, None)?;
        let mut vars = vec![(
            "kernel",
            vec![self.cfg.kernel_size, input_shape[1], self.cfg.filters],
        )];
        if self.cfg.use_bias {
            vars.push(("bias", vec![self.cfg.filters]));
        }
        checks::variables(&self.cfg.name, vars)
    }
}

impl Layer for Conv1D {
    common_layer_methods!("Conv1D");
    weight_methods!(
        (kernel, "kernel", kernel_initializer),
        (bias, "bias", bias_initializer)
    );

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.out_shape_for(input_shape, self.kernel.as_ref().map(|k| k.shape()[1]))
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let name = &self.cfg.name;
        let kernel = self
            .kernel
            .as_ref()
            .ok_or_else(|| crate::NnError::NotBuilt(name.clone()))?;
        let shape = x.shape();
        let channels = kernel.shape()[1];
        if shape.len() != 3 || self.out_shape_for(&shape[1..], Some(channels)).is_err() {
            self.cfg.validate()?;
            return Err(shape_error(
                name,
                format!("(batch, steps, {channels}) with the dilated kernel fitting for valid padding"),
                &shape,
            ));
        }
        let p = self.cfg.params();
        let y = if self.cfg.activation == Activation::Relu {
            ops::conv1d_relu(x, kernel, self.bias.as_ref(), &p)?
        } else {
            self.cfg
                .activation
                .apply(&ops::conv1d(x, kernel, self.bias.as_ref(), &p)?)?
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
}
