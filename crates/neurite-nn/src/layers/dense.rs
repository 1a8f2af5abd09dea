//! `Dense`: `activation(x · kernel + bias)` on the last axis.

use super::{common_layer_methods, config_error, default_true, regularize, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use serde::{Deserialize, Serialize};

fn zeros() -> Initializer {
    Initializer::Zeros
}

/// Configuration of a [`Dense`] layer (Keras' `Dense.get_config()` keys).
///
/// ```
/// let c: neurite_nn::layers::DenseConfig = serde_json::from_value(serde_json::json!({"name": "d", "units": 3})).unwrap();
/// assert!(c.use_bias);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Number of output units.
    pub units: usize,
    /// Activation applied to the output.
    #[serde(default)]
    pub activation: Activation,
    /// Whether a bias vector is added.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Initializer of the `(in, units)` kernel (default glorot_uniform).
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
    /// Declared input shape (without the batch axis), for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl DenseConfig {
    /// Checks every field for values that can never work (units 0, bad
    /// initializer or regularizer parameters, a declared input shape with a
    /// 0 dimension, ...); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::Dense::new(3).with_name("dense_1").config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.units = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("dense_1") && e.contains("units"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "units", self.units)?;
        checks::activation(n, "activation", &self.activation)?;
        checks::initializer(n, "kernel_initializer", &self.kernel_initializer)?;
        checks::initializer(n, "bias_initializer", &self.bias_initializer)?;
        checks::regularizer(n, "kernel_regularizer", &self.kernel_regularizer)?;
        checks::regularizer(n, "bias_regularizer", &self.bias_regularizer)?;
        checks::regularizer(n, "activity_regularizer", &self.activity_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// A densely connected layer, Keras' `Dense`: `activation(x · kernel + bias)`
/// with `kernel` of shape `(in, units)`. On inputs of rank above 2 it applies
/// to the last axis (`(batch, d1, in) -> (batch, d1, units)`).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Dense;
/// use neurite_nn::{Activation, ForwardContext, Layer};
/// let mut d = Dense::new(2).activation(Activation::Relu);
/// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(d.parameters()[0].name, "dense.kernel");
/// let y = d.forward(&Var::from_array(ndarray::Array3::<f32>::ones((4, 5, 3))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![4, 5, 2]);
/// // A wrong feature count is an error naming the layer and both shapes.
/// let err = d.forward(&Var::from_array(ndarray::Array2::<f32>::ones((4, 7))), &mut ForwardContext::inference());
/// assert!(err.unwrap_err().to_string().contains("dense"));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dense {
    cfg: DenseConfig,
    kernel: Option<Var>,
    bias: Option<Var>,
}

impl Dense {
    /// A `Dense` layer with `units` outputs and Keras' defaults (linear
    /// activation, bias, glorot_uniform kernel, zero bias, no regularizers).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dense::new(8).units(), 8);
    /// ```
    pub fn new(units: usize) -> Self {
        Dense {
            cfg: DenseConfig {
                name: "dense".into(),
                units,
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
    /// use neurite_nn::layers::Dense;
    /// use neurite_nn::Layer;
    /// let d = Dense::new(3).activation(neurite_nn::Activation::Tanh);
    /// let again = Dense::from_config(d.config_struct().clone());
    /// assert_eq!(again.config(), d.config());
    /// ```
    pub fn from_config(cfg: DenseConfig) -> Self {
        Dense {
            cfg,
            kernel: None,
            bias: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dense::new(3).config_struct().units, 3);
    /// ```
    pub fn config_struct(&self) -> &DenseConfig {
        &self.cfg
    }

    /// Number of output units.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Dense::new(5).units(), 5);
    /// ```
    pub fn units(&self) -> usize {
        self.cfg.units
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Dense::new(1).with_name("out").name(), "out");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Sets the activation.
    ///
    /// ```
    /// let d = neurite_nn::layers::Dense::new(1).activation(neurite_nn::Activation::Sigmoid);
    /// assert_eq!(d.config_struct().activation, neurite_nn::Activation::Sigmoid);
    /// ```
    pub fn activation(mut self, activation: Activation) -> Self {
        self.cfg.activation = activation;
        self
    }

    /// Whether to add a bias.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::Dense::new(1).use_bias(false).config_struct().use_bias);
    /// ```
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.cfg.use_bias = use_bias;
        self
    }

    /// Sets the kernel initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let d = neurite_nn::layers::Dense::new(1).kernel_initializer(Initializer::HeNormal);
    /// assert_eq!(d.config_struct().kernel_initializer, Initializer::HeNormal);
    /// ```
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.cfg.kernel_initializer = init;
        self
    }

    /// Sets the bias initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let d = neurite_nn::layers::Dense::new(1).bias_initializer(Initializer::Ones);
    /// assert_eq!(d.config_struct().bias_initializer, Initializer::Ones);
    /// ```
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.cfg.bias_initializer = init;
        self
    }

    /// Sets the kernel regularizer.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let d = neurite_nn::layers::Dense::new(1).kernel_regularizer(Regularizer::l2(0.01));
    /// assert_eq!(d.config_struct().kernel_regularizer, Some(Regularizer::l2(0.01)));
    /// ```
    pub fn kernel_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.kernel_regularizer = Some(reg);
        self
    }

    /// Sets the bias regularizer.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let d = neurite_nn::layers::Dense::new(1).bias_regularizer(Regularizer::l1(0.01));
    /// assert_eq!(d.config_struct().bias_regularizer, Some(Regularizer::l1(0.01)));
    /// ```
    pub fn bias_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.bias_regularizer = Some(reg);
        self
    }

    /// Sets the activity (output) regularizer.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let d = neurite_nn::layers::Dense::new(1).activity_regularizer(Regularizer::l1(0.01));
    /// assert_eq!(d.config_struct().activity_regularizer, Some(Regularizer::l1(0.01)));
    /// ```
    pub fn activity_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.activity_regularizer = Some(reg);
        self
    }

    /// Declares the input shape (without the batch axis), as Keras' `input_shape=`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let d = neurite_nn::layers::Dense::new(1).input_shape([10, 5]);
    /// assert_eq!(d.declared_input_shape(), Some(vec![10, 5]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// Declares `(n,)` inputs, as Keras' `input_dim=n`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Dense::new(1).input_dim(100).declared_input_shape(), Some(vec![100]));
    /// ```
    pub fn input_dim(self, n: usize) -> Self {
        self.input_shape([n])
    }

    /// Installs `kernel` `(in, units)` and `bias` `(units,)` as the layer's
    /// variables (shared, not copied: gradients flow into the given `Var`s),
    /// marking the layer built. `bias` must be given iff `use_bias`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{layers::Dense, ForwardContext, Layer};
    /// let mut d = Dense::new(1);
    /// d.set_weights(Var::parameter(ndarray::arr2(&[[2.0f32], [3.0]]).into_dyn()),
    ///               Some(Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn())))?;
    /// let y = d.forward(&Var::from_array(ndarray::arr2(&[[1.0f32, 1.0]])), &mut ForwardContext::inference())?;
    /// assert_eq!(y.item()?, 6.0);
    /// assert!(d.set_weights(Var::scalar(1.0), None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weights(&mut self, kernel: Var, bias: Option<Var>) -> Result<()> {
        let ks = kernel.shape();
        if ks.len() != 2 || ks[1] != self.cfg.units || ks[0] == 0 {
            return Err(shape_error(
                &self.cfg.name,
                format!("a kernel of shape (in, {})", self.cfg.units),
                &ks,
            ));
        }
        let out = self.cfg.units;
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

    /// The kernel, once built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2);
    /// assert!(d.kernel().is_none());
    /// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(d.kernel().unwrap().shape(), vec![3, 2]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn kernel(&self) -> Option<&Var> {
        self.kernel.as_ref()
    }

    /// The bias, once built (none with `use_bias(false)`).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2);
    /// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(d.bias().unwrap().shape(), vec![2]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let Some(&input_dim) = input_shape.last() else {
            return Err(shape_error(
                name,
                "(..., features) with at least one axis",
                input_shape,
            ));
        };
        if input_dim == 0 {
            return Err(shape_error(
                name,
                "(..., features) with features >= 1",
                input_shape,
            ));
        }
        let units = self.cfg.units;
        let mut vars = vec![("kernel", vec![input_dim, units])];
        if self.cfg.use_bias {
            vars.push(("bias", vec![units]));
        }
        checks::variables(name, vars)
    }

    fn in_features(&self) -> Option<usize> {
        self.kernel.as_ref().map(|k| k.shape()[0])
    }
}

impl Layer for Dense {
    common_layer_methods!("Dense");

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
            // The errors build would give (0 features, no axis, bad config).
            self.param_specs(input_shape)?;
        }
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let Some(&last) = input_shape.last() else {
            return Err(shape_error(
                name,
                "(..., features) with at least one axis",
                input_shape,
            ));
        };
        if let Some(k) = self.in_features() {
            if k != last {
                return Err(shape_error(name, format!("(..., {k})"), input_shape));
            }
        }
        let mut out = input_shape.to_vec();
        *out.last_mut().expect("non-empty") = self.cfg.units;
        Ok(out)
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let kernel = self
            .kernel
            .as_ref()
            .ok_or_else(|| NnError::NotBuilt(name.clone()))?;
        let in_dim = kernel.shape()[0];
        let shape = x.shape();
        if shape.len() < 2 || shape[shape.len() - 1] != in_dim {
            return Err(shape_error(name, format!("(batch, ..., {in_dim})"), &shape));
        }
        let mut y = if shape.len() == 2 {
            ops::matmul(x, kernel)?
        } else {
            let rows: usize = shape[..shape.len() - 1].iter().product();
            let flat = ops::reshape(x, &[rows, in_dim])?;
            let mut out_shape = shape.clone();
            *out_shape.last_mut().expect("rank >= 2") = self.cfg.units;
            ops::reshape(&ops::matmul(&flat, kernel)?, &out_shape)?
        };
        if let Some(b) = &self.bias {
            y = ops::add(&y, b)?;
        }
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
