//! `Conv1D`: 1-d convolution of `(batch, steps, channels)` sequences with
//! `(kernel_size, in, filters)` kernels, on the 2-d convolution kernels
//! (see [`neurite_autograd::ops::conv1d`]).

use super::seq_serde::{conv1d_padding_serde, one_int};
use super::{common_layer_methods, config_error, default_true, regularize, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::ops::{self, Conv1dPadding, Conv1dParams};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::{conv_output_size, Padding};
use serde::{Deserialize, Serialize};

fn one() -> usize {
    1
}

fn zeros() -> Initializer {
    Initializer::Zeros
}

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
        if self.strides != 1 && self.dilation_rate != 1 {
            return Err(config_error(
                n,
                format!(
                    "field \"strides\" {} > 1 together with field \"dilation_rate\" {} > 1 is not supported (as Keras)",
                    self.strides, self.dilation_rate
                ),
            ));
        }
        checks::mul(n, "the dilated kernel", self.kernel_size - 1, self.dilation_rate)?;
        checks::activation(n, "activation", &self.activation)?;
        checks::initializer(n, "kernel_initializer", &self.kernel_initializer)?;
        checks::initializer(n, "bias_initializer", &self.bias_initializer)?;
        checks::regularizer(n, "kernel_regularizer", &self.kernel_regularizer)?;
        checks::regularizer(n, "bias_regularizer", &self.bias_regularizer)?;
        checks::regularizer(n, "activity_regularizer", &self.activity_regularizer)?;
        checks::input_shape(n, &self.input_shape)
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

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Conv1D::new(1, 1).with_name("c1").name(), "c1");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Sets the stride.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv1D::new(1, 3).strides(2).config_struct().strides, 2);
    /// ```
    pub fn strides(mut self, strides: usize) -> Self {
        self.cfg.strides = strides;
        self
    }

    /// Sets the padding (`Valid`, `Same` or `Causal`).
    ///
    /// ```
    /// use neurite_autograd::ops::Conv1dPadding;
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).padding(Conv1dPadding::Same);
    /// assert_eq!(c.config_struct().padding, Conv1dPadding::Same);
    /// ```
    pub fn padding(mut self, padding: Conv1dPadding) -> Self {
        self.cfg.padding = padding;
        self
    }

    /// Sets the dilation rate.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Conv1D::new(1, 3).dilation_rate(2).config_struct().dilation_rate, 2);
    /// ```
    pub fn dilation_rate(mut self, rate: usize) -> Self {
        self.cfg.dilation_rate = rate;
        self
    }

    /// Sets the activation.
    ///
    /// ```
    /// use neurite_nn::Activation;
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).activation(Activation::Relu);
    /// assert_eq!(c.config_struct().activation, Activation::Relu);
    /// ```
    pub fn activation(mut self, activation: Activation) -> Self {
        self.cfg.activation = activation;
        self
    }

    /// Whether to add a bias.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::Conv1D::new(1, 3).use_bias(false).config_struct().use_bias);
    /// ```
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.cfg.use_bias = use_bias;
        self
    }

    /// Sets the kernel initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).kernel_initializer(Initializer::HeUniform);
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
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).bias_initializer(Initializer::Ones);
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
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).kernel_regularizer(Regularizer::l2(0.1));
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
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).bias_regularizer(Regularizer::l2(0.1));
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
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).activity_regularizer(Regularizer::l1(0.1));
    /// assert_eq!(c.config_struct().activity_regularizer, Some(Regularizer::l1(0.1)));
    /// ```
    pub fn activity_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.activity_regularizer = Some(reg);
        self
    }

    /// Declares the input shape `[steps, channels]` (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let c = neurite_nn::layers::Conv1D::new(1, 3).input_shape([100, 64]);
    /// assert_eq!(c.declared_input_shape(), Some(vec![100, 64]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// Installs `kernel` `(kernel_size, in, filters)` and `bias` `(filters,)`
    /// as the layer's variables (shared, not copied), marking the layer
    /// built. `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Conv1D;
    /// let mut c = Conv1D::new(2, 3).use_bias(false);
    /// c.set_weights(Var::parameter(ndarray::Array3::<f32>::ones((3, 4, 2)).into_dyn()), None)?;
    /// assert!(c.set_weights(Var::parameter(ndarray::Array3::<f32>::ones((2, 4, 2)).into_dyn()), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weights(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let (ks, k, f) = (kernel.shape(), self.cfg.kernel_size, self.cfg.filters);
        if ks.len() != 3 || ks[0] != k || ks[2] != f || ks[1] == 0 {
            return Err(shape_error(
                &self.cfg.name,
                format!("a kernel of shape ({k}, in, {f})"),
                &ks,
            ));
        }
        match (&bias, self.cfg.use_bias) {
            (Some(b), true) if b.shape() == [f] => {}
            (None, false) => {}
            (b, use_bias) => {
                return Err(config_error(
                    &self.cfg.name,
                    format!(
                        "use_bias is {use_bias} but the bias given has shape {:?} (expected {})",
                        b.as_ref().map(|b| b.shape()),
                        if use_bias {
                            format!("[{f}]")
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
        regularize(ctx, self.cfg.kernel_regularizer, kernel)?;
        if let Some(b) = &self.bias {
            regularize(ctx, self.cfg.bias_regularizer, b)?;
        }
        regularize(ctx, self.cfg.activity_regularizer, &y)?;
        Ok(y)
    }

    fn parameters(&self) -> Vec<Parameter> {
        let mut out = Vec::new();
        for (what, v) in [("kernel", &self.kernel), ("bias", &self.bias)] {
            if let Some(v) = v {
                out.push(Parameter {
                    name: format!("{}.{what}", self.cfg.name),
                    var: v.clone(),
                    trainable: self.cfg.trainable,
                });
            }
        }
        out
    }
}
