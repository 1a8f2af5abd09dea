//! `BatchNormalization`, Keras semantics, with a fused hand-written backward.
//!
//! Training (`ctx.is_training()` and the layer trainable): statistics of the
//! batch over every axis but the channel axis, `y = gamma * (x - mean) /
//! sqrt(var + epsilon) + beta` (biased variance), and the moving statistics
//! become `moving * momentum + batch * (1 - momentum)`. Inference (or a
//! frozen layer, as Keras): the moving statistics are used instead.

use super::norm_common::{expected_shape, resolve_axis, AxisMove};
use super::{common_layer_methods, config_error, default_true, regularize, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use ndarray::{Array1, Array2, Axis, Ix1};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;
use serde::{Deserialize, Serialize};

fn minus_one() -> isize {
    -1
}
fn momentum() -> f32 {
    0.99
}
fn epsilon() -> f32 {
    1e-3
}
fn zeros() -> Initializer {
    Initializer::Zeros
}
fn ones() -> Initializer {
    Initializer::Ones
}

/// Configuration of a [`BatchNormalization`] layer (Keras' `get_config()` keys).
///
/// ```
/// let c: neurite_nn::layers::BatchNormalizationConfig =
///     serde_json::from_value(serde_json::json!({"name": "bn"})).unwrap();
/// assert_eq!((c.axis, c.momentum, c.epsilon, c.center, c.scale), (-1, 0.99, 1e-3, true, true));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNormalizationConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// The channel (feature) axis, counted with the batch axis; negative from the end (default -1).
    #[serde(default = "minus_one")]
    pub axis: isize,
    /// Momentum of the moving averages (default 0.99).
    #[serde(default = "momentum")]
    pub momentum: f32,
    /// Added to the variance before the square root (default 1e-3).
    #[serde(default = "epsilon")]
    pub epsilon: f32,
    /// Whether to add the offset `beta`.
    #[serde(default = "default_true")]
    pub center: bool,
    /// Whether to multiply by `gamma`.
    #[serde(default = "default_true")]
    pub scale: bool,
    /// Initializer of `beta` (default zeros).
    #[serde(default = "zeros")]
    pub beta_initializer: Initializer,
    /// Initializer of `gamma` (default ones).
    #[serde(default = "ones")]
    pub gamma_initializer: Initializer,
    /// Initializer of the moving mean (default zeros).
    #[serde(default = "zeros")]
    pub moving_mean_initializer: Initializer,
    /// Initializer of the moving variance (default ones).
    #[serde(default = "ones")]
    pub moving_variance_initializer: Initializer,
    /// Penalty on `beta`.
    #[serde(default)]
    pub beta_regularizer: Option<Regularizer>,
    /// Penalty on `gamma`.
    #[serde(default)]
    pub gamma_regularizer: Option<Regularizer>,
    /// Whether `gamma`/`beta` are trained (a frozen layer also runs in inference mode, as Keras).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape (without the batch axis), for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl BatchNormalizationConfig {
    /// Checks every field for values that can never work (axis 0, the batch
    /// axis; momentum outside `[0, 1]` or NaN; epsilon not a finite number
    /// above 0; bad initializer/regularizer parameters; a declared input
    /// shape with a 0 dimension); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::BatchNormalization::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.epsilon = f32::NAN;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("batch_normalization") && e.contains("epsilon"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        if self.axis == 0 {
            return Err(checks::field_error(
                n,
                "axis",
                "a feature axis (not 0, the batch axis)",
                0,
            ));
        }
        if !(self.momentum.is_finite() && (0.0..=1.0).contains(&self.momentum)) {
            return Err(checks::field_error(
                n,
                "momentum",
                "a number in [0, 1]",
                self.momentum,
            ));
        }
        checks::positive_float(n, "epsilon", self.epsilon)?;
        checks::initializer(n, "beta_initializer", &self.beta_initializer)?;
        checks::initializer(n, "gamma_initializer", &self.gamma_initializer)?;
        checks::initializer(n, "moving_mean_initializer", &self.moving_mean_initializer)?;
        checks::initializer(
            n,
            "moving_variance_initializer",
            &self.moving_variance_initializer,
        )?;
        checks::regularizer(n, "beta_regularizer", &self.beta_regularizer)?;
        checks::regularizer(n, "gamma_regularizer", &self.gamma_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// Batch normalization, as Keras' `BatchNormalization`.
///
/// Variables: `<name>.gamma`, `<name>.beta` (trainable, shape `(channels)`),
/// `<name>.moving_mean`, `<name>.moving_variance` (non-trainable state,
/// updated by training passes).
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::BatchNormalization;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut bn = BatchNormalization::new();
/// bn.build(&[2], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let x = Var::from_array(ndarray::arr2(&[[1.0f32, 10.0], [3.0, 30.0]]));
/// let y = bn.forward(&x, &mut ForwardContext::training(0))?;
/// // Each column normalized with its batch mean and (biased) variance.
/// assert!((y.value()[[0, 0]] + 1.0).abs() < 1e-3 && (y.value()[[1, 1]] - 1.0).abs() < 1e-3);
/// // moving_mean = 0 * 0.99 + batch_mean * 0.01
/// assert!((bn.parameters()[2].var.value()[[1]] - 0.2).abs() < 1e-6);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchNormalization {
    cfg: BatchNormalizationConfig,
    gamma: Option<Var>,
    beta: Option<Var>,
    moving_mean: Option<Var>,
    moving_variance: Option<Var>,
    /// Rank of the inputs including the batch axis, and the resolved channel axis (0 before build).
    rank: usize,
    axis: usize,
    channels: usize,
}

impl Default for BatchNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchNormalization {
    /// A layer with Keras' defaults (axis -1, momentum 0.99, epsilon 1e-3, center and scale).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::BatchNormalization::new().config_struct().momentum, 0.99);
    /// ```
    pub fn new() -> Self {
        Self::from_config(BatchNormalizationConfig {
            name: "batch_normalization".into(),
            axis: -1,
            momentum: 0.99,
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            moving_mean_initializer: Initializer::Zeros,
            moving_variance_initializer: Initializer::Ones,
            beta_regularizer: None,
            gamma_regularizer: None,
            trainable: true,
            input_shape: None,
        })
    }

    /// The layer from its configuration (unbuilt; checked when built).
    ///
    /// ```
    /// use neurite_nn::layers::BatchNormalization;
    /// use neurite_nn::Layer;
    /// let a = BatchNormalization::new().momentum(0.9);
    /// assert_eq!(BatchNormalization::from_config(a.config_struct().clone()).config(), a.config());
    /// ```
    pub fn from_config(cfg: BatchNormalizationConfig) -> Self {
        BatchNormalization {
            cfg,
            gamma: None,
            beta: None,
            moving_mean: None,
            moving_variance: None,
            rank: 0,
            axis: 0,
            channels: 0,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::BatchNormalization::new().config_struct().axis, -1);
    /// ```
    pub fn config_struct(&self) -> &BatchNormalizationConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::BatchNormalization::new().with_name("bn1").name(), "bn1");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// The channel axis, counted with the batch axis (negative from the end).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::BatchNormalization::new().axis(1).config_struct().axis, 1);
    /// ```
    pub fn axis(mut self, axis: isize) -> Self {
        self.cfg.axis = axis;
        self
    }

    /// Momentum of the moving averages (in `[0, 1]`).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::BatchNormalization::new().momentum(0.9).config_struct().momentum, 0.9);
    /// ```
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.cfg.momentum = momentum;
        self
    }

    /// Added to the variance before the square root (positive).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::BatchNormalization::new().epsilon(1e-5).config_struct().epsilon, 1e-5);
    /// ```
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.cfg.epsilon = epsilon;
        self
    }

    /// Whether to add `beta`.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::BatchNormalization::new().center(false).config_struct().center);
    /// ```
    pub fn center(mut self, center: bool) -> Self {
        self.cfg.center = center;
        self
    }

    /// Whether to multiply by `gamma`.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::BatchNormalization::new().scale(false).config_struct().scale);
    /// ```
    pub fn scale(mut self, scale: bool) -> Self {
        self.cfg.scale = scale;
        self
    }

    /// Sets the penalty on `gamma`.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let bn = neurite_nn::layers::BatchNormalization::new().gamma_regularizer(Regularizer::l2(0.1));
    /// assert_eq!(bn.config_struct().gamma_regularizer, Some(Regularizer::l2(0.1)));
    /// ```
    pub fn gamma_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.gamma_regularizer = Some(reg);
        self
    }

    /// Sets the penalty on `beta`.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let bn = neurite_nn::layers::BatchNormalization::new().beta_regularizer(Regularizer::l1(0.1));
    /// assert_eq!(bn.config_struct().beta_regularizer, Some(Regularizer::l1(0.1)));
    /// ```
    pub fn beta_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.beta_regularizer = Some(reg);
        self
    }

    /// Declares the input shape (without the batch axis), as Keras' `input_shape=`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let bn = neurite_nn::layers::BatchNormalization::new().input_shape([8, 8, 3]);
    /// assert_eq!(bn.declared_input_shape(), Some(vec![8, 8, 3]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// Installs `gamma` and `beta` (shape `(channels)`; given iff `scale` / `center`) as the
    /// layer's trainable variables (shared, not copied: gradients flow into them). The layer
    /// must be built (its moving statistics exist).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{layers::BatchNormalization, Layer};
    /// let mut bn = BatchNormalization::new();
    /// bn.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let g = Var::parameter(ndarray::Array1::<f32>::from_elem(3, 2.0).into_dyn());
    /// bn.set_weights(Some(g.clone()), Some(Var::parameter(ndarray::Array1::<f32>::zeros(3).into_dyn())))?;
    /// assert!(bn.parameters()[0].var.same(&g));
    /// assert!(bn.set_weights(None, None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weights(&mut self, gamma: Option<Var>, beta: Option<Var>) -> Result<()> {
        if !self.is_built() {
            return Err(crate::NnError::NotBuilt(self.cfg.name.clone()));
        }
        for (what, var, wanted) in [
            ("gamma", &gamma, self.cfg.scale),
            ("beta", &beta, self.cfg.center),
        ] {
            match var {
                Some(v) if wanted && v.shape() != [self.channels] => {
                    return Err(shape_error(
                        &self.cfg.name,
                        format!("{what} ({})", self.channels),
                        &v.shape(),
                    ))
                }
                Some(_) if wanted => {}
                None if !wanted => {}
                _ => {
                    return Err(config_error(
                        &self.cfg.name,
                        format!(
                            "{what} must be given iff {}",
                            if what == "gamma" { "scale" } else { "center" }
                        ),
                    ))
                }
            }
        }
        self.gamma = gamma;
        self.beta = beta;
        Ok(())
    }

    /// The resolved feature axis (counting the batch axis) and its size for
    /// inputs of `input_shape`, and the variables `build` creates from them
    /// (see [`Layer::parameter_shapes`]).
    #[allow(clippy::type_complexity)]
    fn plan(&self, input_shape: &[usize]) -> Result<(usize, usize, ParameterShapes)> {
        self.cfg.validate()?;
        let rank = input_shape.len() + 1;
        let axis = resolve_axis(self.cfg.axis, rank).ok_or_else(|| {
            config_error(
                &self.cfg.name,
                format!(
                    "field \"axis\": expected a feature axis of inputs of shape (batch, {}), found {}",
                    input_shape
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.cfg.axis
                ),
            )
        })?;
        let c = input_shape[axis - 1];
        if c == 0 {
            let mut found = vec![0];
            found.extend_from_slice(input_shape);
            return Err(shape_error(
                &self.cfg.name,
                format!(
                    "{} with at least 1 feature on axis {axis}",
                    expected_shape(rank, &[])
                ),
                &found,
            ));
        }
        let mut vars = Vec::new();
        if self.cfg.scale {
            vars.push(("gamma", vec![c]));
        }
        if self.cfg.center {
            vars.push(("beta", vec![c]));
        }
        vars.push(("moving_mean", vec![c]));
        vars.push(("moving_variance", vec![c]));
        Ok((axis, c, checks::variables(&self.cfg.name, vars)?))
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.plan(input_shape).map(|(_, _, vars)| vars)
    }

    fn channel_vector(var: &Option<Var>, c: usize, default: f32) -> Array1<f32> {
        match var {
            Some(v) => v
                .value()
                .view()
                .into_dimensionality::<Ix1>()
                .expect("1-d")
                .to_owned(),
            None => Array1::from_elem(c, default),
        }
    }
}

impl Layer for BatchNormalization {
    common_layer_methods!("BatchNormalization");

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let (axis, c, _) = self.plan(input_shape)?;
        let rank = input_shape.len() + 1;
        let cfg = &self.cfg;
        let gamma = if cfg.scale {
            Some(Var::parameter(cfg.gamma_initializer.initialize_variable(
                &[c],
                rng,
                &cfg.name,
                "gamma",
            )?))
        } else {
            None
        };
        let beta = if cfg.center {
            Some(Var::parameter(cfg.beta_initializer.initialize_variable(
                &[c],
                rng,
                &cfg.name,
                "beta",
            )?))
        } else {
            None
        };
        let moving_mean =
            cfg.moving_mean_initializer
                .initialize_variable(&[c], rng, &cfg.name, "moving_mean")?;
        let moving_variance =
            cfg.moving_variance_initializer
                .initialize_variable(&[c], rng, &cfg.name, "moving_variance")?;
        self.gamma = gamma;
        self.beta = beta;
        self.moving_mean = Some(Var::constant(moving_mean));
        self.moving_variance = Some(Var::constant(moving_variance));
        self.rank = rank;
        self.axis = axis;
        self.channels = c;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.moving_mean.is_some()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        if !self.is_built() {
            self.plan(input_shape)?;
        }
        if self.is_built()
            && (input_shape.len() + 1 != self.rank || input_shape[self.axis - 1] != self.channels)
        {
            let mut found = vec![0];
            found.extend_from_slice(input_shape);
            return Err(shape_error(
                &self.cfg.name,
                expected_shape(self.rank, &[(self.axis, self.channels)]),
                &found,
            ));
        }
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let (Some(moving_mean), Some(moving_variance)) = (&self.moving_mean, &self.moving_variance) else {
            return Err(crate::NnError::NotBuilt(self.cfg.name.clone()));
        };
        let shape = x.shape();
        if shape.len() != self.rank || shape[self.axis] != self.channels {
            return Err(shape_error(
                &self.cfg.name,
                expected_shape(self.rank, &[(self.axis, self.channels)]),
                &shape,
            ));
        }
        if let Some(g) = &self.gamma {
            regularize(ctx, self.cfg.gamma_regularizer, g)?;
        }
        if let Some(b) = &self.beta {
            regularize(ctx, self.cfg.beta_regularizer, b)?;
        }
        let c = self.channels;
        let mv = AxisMove::new(&shape, &[self.axis]);
        let x2 = mv.to_rows(&x.value(), c);
        let n = x2.nrows();
        let gamma = Self::channel_vector(&self.gamma, c, 1.0);
        let beta = Self::channel_vector(&self.beta, c, 0.0);
        let eps = self.cfg.epsilon;
        let training = ctx.is_training() && self.cfg.trainable && n > 0;

        let (mean, var) = if training {
            let mean = x2.sum_axis(Axis(0)) / n as f32;
            let mut var = Array1::<f32>::zeros(c);
            for row in x2.rows() {
                for ((v, &xi), &m) in var.iter_mut().zip(row).zip(&mean) {
                    let d = xi - m;
                    *v += d * d;
                }
            }
            var /= n as f32;
            let momentum = self.cfg.momentum;
            {
                let mut mm = moving_mean.value_mut();
                mm.zip_mut_with(&mean, |m, &b| *m = *m * momentum + b * (1.0 - momentum));
            }
            {
                let mut mvar = moving_variance.value_mut();
                mvar.zip_mut_with(&var, |m, &b| *m = *m * momentum + b * (1.0 - momentum));
            }
            (mean, var)
        } else {
            (
                Self::channel_vector(&self.moving_mean, c, 0.0),
                Self::channel_vector(&self.moving_variance, c, 1.0),
            )
        };
        let inv_std = var.mapv(|v| 1.0 / (v + eps).sqrt());
        let mut xhat = x2;
        let mut y = Array2::<f32>::zeros((n, c));
        for (mut xr, mut yr) in xhat.rows_mut().into_iter().zip(y.rows_mut()) {
            for j in 0..c {
                let h = (xr[j] - mean[j]) * inv_std[j];
                xr[j] = h;
                yr[j] = gamma[j] * h + beta[j];
            }
        }
        let value = mv.back_from_rows(y);

        let mut parents = vec![x];
        if let Some(g) = &self.gamma {
            parents.push(g);
        }
        if let Some(b) = &self.beta {
            parents.push(b);
        }
        let (has_gamma, has_beta) = (self.gamma.is_some(), self.beta.is_some());
        let need_dx = x.requires_grad();
        Ok(Var::from_op(
            value,
            "batch_normalization",
            &parents,
            Box::new(move |grad: &Tensor| {
                let dy = mv.to_rows(grad, c);
                let mut dbeta = Array1::<f32>::zeros(c);
                let mut dgamma = Array1::<f32>::zeros(c);
                for (dr, hr) in dy.rows().into_iter().zip(xhat.rows()) {
                    for j in 0..c {
                        dbeta[j] += dr[j];
                        dgamma[j] += dr[j] * hr[j];
                    }
                }
                let dx = if need_dx {
                    let mut dx = Array2::<f32>::zeros((n, c));
                    if training {
                        // dx = gamma * inv_std / N * (N dy - sum(dy) - xhat * sum(dy * xhat))
                        let inv_n = 1.0 / n as f32;
                        for ((mut out, dr), hr) in dx.rows_mut().into_iter().zip(dy.rows()).zip(xhat.rows()) {
                            for j in 0..c {
                                out[j] = gamma[j]
                                    * inv_std[j]
                                    * (dr[j] - inv_n * dbeta[j] - hr[j] * inv_n * dgamma[j]);
                            }
                        }
                    } else {
                        for (mut out, dr) in dx.rows_mut().into_iter().zip(dy.rows()) {
                            for j in 0..c {
                                out[j] = gamma[j] * inv_std[j] * dr[j];
                            }
                        }
                    }
                    Some(mv.back_from_rows(dx))
                } else {
                    None
                };
                let mut grads = vec![dx];
                if has_gamma {
                    grads.push(Some(dgamma.into_dyn()));
                }
                if has_beta {
                    grads.push(Some(dbeta.into_dyn()));
                }
                Ok(grads)
            }),
        ))
    }

    fn parameters(&self) -> Vec<Parameter> {
        let name = &self.cfg.name;
        let mut out = Vec::new();
        for (suffix, var, trainable) in [
            ("gamma", &self.gamma, self.cfg.trainable),
            ("beta", &self.beta, self.cfg.trainable),
            ("moving_mean", &self.moving_mean, false),
            ("moving_variance", &self.moving_variance, false),
        ] {
            if let Some(var) = var {
                out.push(Parameter {
                    name: format!("{name}.{suffix}"),
                    var: var.clone(),
                    trainable,
                });
            }
        }
        out
    }
}
