//! `BatchNormalization`, Keras semantics, with a fused hand-written backward.
//!
//! Training (`ctx.is_training()` and the layer trainable): statistics of the
//! batch over every axis but the channel axis, `y = gamma * (x - mean) /
//! sqrt(var + epsilon) + beta` (biased variance), and the moving statistics
//! become `moving * momentum + batch * (1 - momentum)`. Inference (or a
//! frozen layer, as Keras): the moving statistics are used instead.
//!
//! With a mask (Keras 3's `call(inputs, training, mask)`, see
//! `batch_norm_masked.rs`), a training pass takes the batch statistics over
//! the unmasked positions only; the layer passes the mask on.

use super::builders::builder_methods;
use super::norm_common::{build_gamma_beta, check_gamma_beta, expected_shape, resolve_axis, AxisMove};
use super::weighted::{named_parameters, ones, regularize_each, zeros};
use super::{common_layer_methods, config_error, default_true, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use ndarray::{Array1, Array2, Ix1};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::batch_norm;
use neurite_tensor::Tensor;
use serde::{Deserialize, Serialize};

#[path = "batch_norm_masked.rs"]
mod masked;

fn minus_one() -> isize {
    -1
}
fn momentum() -> f32 {
    0.99
}
fn epsilon() -> f32 {
    1e-3
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

    builder_methods! {
        example: "BatchNormalization::new()";
        with_name;
        /// The channel axis, counted with the batch axis (negative from the end).
        set axis: isize = "1";
        /// Momentum of the moving averages (in `[0, 1]`).
        set momentum: f32 = "0.9";
        /// Added to the variance before the square root (positive).
        set epsilon: f32 = "1e-5";
        /// Whether to add `beta`.
        set center: bool = "false";
        /// Whether to multiply by `gamma`.
        set scale: bool = "false";
        /// Sets the penalty on `gamma`.
        regularizer gamma_regularizer;
        /// Sets the penalty on `beta`.
        regularizer beta_regularizer;
        /// Declares the input shape (without the batch axis), as Keras' `input_shape=`.
        input_shape = "[8, 8, 3]";
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
    /// bn.set_weight_vars(Some(g.clone()), Some(Var::parameter(ndarray::Array1::<f32>::zeros(3).into_dyn())))?;
    /// assert!(bn.parameters()[0].var.same(&g));
    /// assert!(bn.set_weight_vars(None, None).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_weight_vars(&mut self, gamma: Option<Var>, beta: Option<Var>) -> Result<()> {
        if !self.is_built() {
            return Err(crate::NnError::NotBuilt(self.cfg.name.clone()));
        }
        check_gamma_beta(
            &self.cfg.name,
            (&gamma, self.cfg.scale),
            (&beta, self.cfg.center),
            &[self.channels],
            &format!("({})", self.channels),
        )?;
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

/// The input of a normalization as saved for the backward: the input itself when its
/// value is already the `[rows, channels]` buffer, else a copy with the channel axis last.
enum SavedInput {
    Same(Var),
    Rows(Vec<f32>),
}

/// `t` as a row-major `[rows, c]` slice: its own buffer when the channel axis is last
/// and `t` is contiguous, else a copy into `owned`.
fn as_rows<'a>(mv: &AxisMove, t: &'a Tensor, c: usize, owned: &'a mut Vec<f32>) -> &'a [f32] {
    match t.as_slice() {
        Some(s) if mv.is_identity() => s,
        _ => {
            *owned = mv.to_rows(t, c).into_raw_vec_and_offset().0;
            owned
        }
    }
}

impl BatchNormalization {
    /// Errors unless `shape` (with the batch axis) has the rank and the
    /// channel count the layer was built for.
    fn check_input_shape(&self, shape: &[usize]) -> Result<()> {
        if shape.len() != self.rank || shape[self.axis] != self.channels {
            return Err(shape_error(
                &self.cfg.name,
                expected_shape(self.rank, &[(self.axis, self.channels)]),
                shape,
            ));
        }
        Ok(())
    }

    /// The layer's pass (`relu`: with a ReLU after it): the statistics (the batch's in
    /// training, the moving ones otherwise), one scale-and-shift pass
    /// (`neurite_tensor::batch_norm`), and a hand-written backward that recomputes the
    /// normalized input from the saved input instead of keeping it.
    fn normalize(&self, x: &Var, ctx: &mut ForwardContext, relu: bool) -> Result<Var> {
        let (Some(moving_mean), Some(moving_variance)) = (&self.moving_mean, &self.moving_variance) else {
            return Err(crate::NnError::NotBuilt(self.cfg.name.clone()));
        };
        let shape = x.shape();
        self.check_input_shape(&shape)?;
        regularize_each(
            ctx,
            &[
                (self.cfg.gamma_regularizer, self.gamma.as_ref()),
                (self.cfg.beta_regularizer, self.beta.as_ref()),
            ],
        )?;
        let c = self.channels;
        let mv = AxisMove::new(&shape, &[self.axis]);
        let n = shape.iter().product::<usize>() / c;
        let gamma = Self::channel_vector(&self.gamma, c, 1.0);
        let beta = Self::channel_vector(&self.beta, c, 0.0);
        let eps = self.cfg.epsilon;
        let training = ctx.is_training() && self.cfg.trainable && n > 0;

        let mut copy = Vec::new();
        let (value, mean, inv_std, scale, shift) = {
            let xv = x.value();
            let xs = as_rows(&mv, &xv, c, &mut copy);
            let (mean, var) = if training {
                let (mean, var) = batch_norm::channel_moments(xs, c)?;
                let momentum = self.cfg.momentum;
                let blend = |moving: &Var, batch: &[f32]| {
                    let mut m = moving.value_mut();
                    for (m, &b) in m.iter_mut().zip(batch) {
                        *m = *m * momentum + b * (1.0 - momentum);
                    }
                };
                blend(moving_mean, &mean);
                blend(moving_variance, &var);
                (mean, var)
            } else {
                (
                    Self::channel_vector(&self.moving_mean, c, 0.0).to_vec(),
                    Self::channel_vector(&self.moving_variance, c, 1.0).to_vec(),
                )
            };
            let inv_std: Vec<f32> = var.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
            let scale: Vec<f32> = gamma.iter().zip(&inv_std).map(|(&g, &s)| g * s).collect();
            let shift: Vec<f32> = (0..c).map(|j| beta[j] - mean[j] * scale[j]).collect();
            let y = batch_norm::scale_shift(xs, &scale, &shift, relu)?;
            let rows = Array2::from_shape_vec((n, c), y).expect("scale_shift keeps the length");
            (mv.back_from_rows(rows), mean, inv_std, scale, shift)
        };
        let saved = if copy.is_empty() {
            SavedInput::Same(x.clone())
        } else {
            SavedInput::Rows(copy)
        };

        let mut parents = vec![x];
        if let Some(g) = &self.gamma {
            parents.push(g);
        }
        if let Some(b) = &self.beta {
            parents.push(b);
        }
        let (has_gamma, has_beta) = (self.gamma.is_some(), self.beta.is_some());
        let need_dx = x.requires_grad();
        let name = if relu {
            "batch_normalization_relu"
        } else {
            "batch_normalization"
        };
        Ok(Var::from_op(
            value,
            name,
            &parents,
            Box::new(move |grad: &Tensor| {
                let saved_value;
                let mut x_copy = Vec::new();
                let xs: &[f32] = match &saved {
                    SavedInput::Same(v) => {
                        saved_value = v.value();
                        as_rows(&mv, &saved_value, c, &mut x_copy)
                    }
                    SavedInput::Rows(r) => r,
                };
                let mut dy_copy = Vec::new();
                let dy = as_rows(&mv, grad, c, &mut dy_copy);
                let mask = relu.then_some(batch_norm::ReluMask {
                    scale: &scale,
                    shift: &shift,
                });
                let (sum_dy, sum_dy_xc) = batch_norm::backward_sums(dy, xs, &mean, mask)?;
                let dbeta: Vec<f32> = sum_dy.iter().map(|&s| s as f32).collect();
                let dgamma: Vec<f32> = sum_dy_xc
                    .iter()
                    .zip(&inv_std)
                    .map(|(&s, &is)| (s * f64::from(is)) as f32)
                    .collect();
                let dx = if need_dx {
                    // dx = gamma * inv_std * (dy - sum(dy) / N - xhat * sum(dy * xhat) / N)
                    //    = a * dy + b * (x - mean) + k with a = gamma * inv_std,
                    //      b = -a * inv_std^2 * sum(dy * (x - mean)) / N, k = -a * sum(dy) / N
                    //      (b = k = 0 with fixed statistics)
                    let a: Vec<f32> = gamma.iter().zip(&inv_std).map(|(&g, &s)| g * s).collect();
                    let (b, k): (Vec<f32>, Vec<f32>) = if training {
                        let inv_n = 1.0 / n as f64;
                        (0..c)
                            .map(|j| {
                                let (aj, is) = (f64::from(a[j]), f64::from(inv_std[j]));
                                (
                                    (-aj * is * is * sum_dy_xc[j] * inv_n) as f32,
                                    (-aj * sum_dy[j] * inv_n) as f32,
                                )
                            })
                            .unzip()
                    } else {
                        (vec![0.0; c], vec![0.0; c])
                    };
                    let dx = batch_norm::backward_input(dy, xs, &mean, &a, &b, &k, mask)?;
                    let rows = Array2::from_shape_vec((n, c), dx).expect("backward_input keeps the length");
                    Some(mv.back_from_rows(rows))
                } else {
                    None
                };
                let mut grads = vec![dx];
                if has_gamma {
                    grads.push(Some(Array1::from(dgamma).into_dyn()));
                }
                if has_beta {
                    grads.push(Some(Array1::from(dbeta).into_dyn()));
                }
                Ok(grads)
            }),
        ))
    }
}

impl Layer for BatchNormalization {
    common_layer_methods!("BatchNormalization");

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let (axis, c, _) = self.plan(input_shape)?;
        let rank = input_shape.len() + 1;
        let cfg = &self.cfg;
        let (gamma, beta) = build_gamma_beta(
            &cfg.name,
            (cfg.scale, &cfg.gamma_initializer),
            (cfg.center, &cfg.beta_initializer),
            &[c],
            rng,
        )?;
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
        self.normalize(x, ctx, false)
    }

    /// Keras' `BatchNormalization` supports masking: the mask is passed on.
    fn supports_masking(&self) -> bool {
        true
    }

    /// Keras 3's `call(inputs, training, mask)`: a mask must have one axis
    /// less than the input (`(batch, timesteps)` for `(batch, timesteps,
    /// features)`; else an error naming the layer and both shapes); in a
    /// training pass of a trainable layer, the batch mean and variance are
    /// taken over the unmasked positions only (each divided by the number of
    /// valid positions + `1e-7`, as Keras), the moving statistics are updated
    /// from them and every position is normalized with them. In inference
    /// the mask changes nothing; without a mask this is [`Layer::forward`].
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::BatchNormalization;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut bn = BatchNormalization::new().momentum(0.0);
    /// bn.build(&[3, 1], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let x = Var::from_array(ndarray::arr3(&[[[1.0f32], [3.0], [100.0]]]));
    /// let m = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
    /// let (y, out_mask) = bn.forward_masked(&x, Some(&m), &mut ForwardContext::training(0))?;
    /// assert_eq!(out_mask, Some(m.clone()));
    /// // Mean 2 and variance 1 of the two valid steps: the padded 100 is ignored.
    /// assert!((bn.get_weights()[2][[0]] - 2.0).abs() < 1e-5 && (bn.get_weights()[3][[0]] - 1.0).abs() < 1e-5);
    /// assert!((y.value()[[0, 0, 0]] + 1.0).abs() < 1e-3); // (1 - 2) / sqrt(1 + 1e-3)
    /// // A mask with as many axes as the input is refused.
    /// let e = bn.forward_masked(&x, Some(&ndarray::Array3::<f32>::ones((1, 3, 1)).into_dyn()), &mut ForwardContext::inference());
    /// assert!(e.unwrap_err().to_string().contains("batch_normalization"));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn forward_masked(
        &self,
        x: &Var,
        mask: Option<&crate::mask::Mask>,
        ctx: &mut ForwardContext,
    ) -> Result<crate::mask::Masked> {
        let Some(m) = mask else {
            return Ok((self.forward(x, ctx)?, None));
        };
        self.check_call_mask(&x.shape(), m)?;
        let training = ctx.is_training() && self.cfg.trainable && x.shape().iter().product::<usize>() > 0;
        let y = if training {
            self.normalize_masked(x, m, ctx)?
        } else {
            self.forward(x, ctx)?
        };
        Ok((y, Some(m.clone())))
    }

    /// A plain `ReLU` layer after this one runs in the same pass (`max(y, 0)` while
    /// the normalized value is in registers; the backward masks the gradient by
    /// recomputing the sign from the input), with the same values as the two layers.
    fn forward_fused(&self, next: &dyn Layer, x: &Var, ctx: &mut ForwardContext) -> Option<Result<Var>> {
        next.is_plain_relu().then(|| self.normalize(x, ctx, true))
    }

    /// `gamma / sqrt(moving_variance + epsilon)` and `beta - moving_mean * scale`
    /// when built with the channel axis last.
    fn inference_affine(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        self.moving_mean.as_ref()?;
        self.moving_variance.as_ref()?;
        if self.axis + 1 != self.rank {
            return None;
        }
        let c = self.channels;
        let gamma = Self::channel_vector(&self.gamma, c, 1.0);
        let beta = Self::channel_vector(&self.beta, c, 0.0);
        let mean = Self::channel_vector(&self.moving_mean, c, 0.0);
        let var = Self::channel_vector(&self.moving_variance, c, 1.0);
        let scale: Vec<f32> = (0..c)
            .map(|j| gamma[j] * (1.0 / (var[j] + self.cfg.epsilon).sqrt()))
            .collect();
        let shift = (0..c).map(|j| beta[j] - mean[j] * scale[j]).collect();
        Some((scale, shift))
    }

    fn parameters(&self) -> Vec<Parameter> {
        let name = &self.cfg.name;
        let mut out = named_parameters(
            name,
            self.cfg.trainable,
            &[("gamma", &self.gamma), ("beta", &self.beta)],
        );
        let stats = [
            ("moving_mean", &self.moving_mean),
            ("moving_variance", &self.moving_variance),
        ];
        out.extend(named_parameters(name, false, &stats));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::ReLU;
    use neurite_autograd::ops;
    use neurite_tensor::random::{rng_from_seed, uniform};
    use proptest::prelude::*;

    /// A built layer over `shape` (without the batch axis) with random gamma (some
    /// negative, so that the ReLU masks differ between channels) and beta.
    fn layer(shape: &[usize], axis: isize, seed: u64) -> BatchNormalization {
        let mut bn = BatchNormalization::new().axis(axis);
        let mut rng = rng_from_seed(seed);
        bn.build(shape, &mut rng).unwrap();
        let c = bn.channels;
        let gamma = Var::parameter(uniform(&[c], -1.5, 1.5, &mut rng));
        let beta = Var::parameter(uniform(&[c], -0.5, 0.5, &mut rng));
        bn.set_weight_vars(Some(gamma), Some(beta)).unwrap();
        bn
    }

    /// Output and the gradients of `sum(out * w)` w.r.t. x, gamma and beta.
    fn run(bn: &BatchNormalization, x: &Tensor, w: &Tensor, fused: bool, training: bool) -> Vec<Tensor> {
        let xv = Var::parameter(x.clone());
        let mut ctx = if training {
            ForwardContext::training(0)
        } else {
            ForwardContext::inference()
        };
        let relu = ReLU::new();
        let out = if fused {
            bn.forward_fused(&relu, &xv, &mut ctx)
                .expect("a plain ReLU fuses")
                .unwrap()
        } else {
            relu.forward(&bn.forward(&xv, &mut ctx).unwrap(), &mut ctx)
                .unwrap()
        };
        let loss = ops::sum_all(&ops::mul(&out, &Var::constant(w.clone())).unwrap()).unwrap();
        loss.backward().unwrap();
        let mut all = vec![out.value().clone(), xv.take_grad().unwrap()];
        for p in [&bn.gamma, &bn.beta] {
            all.push(p.as_ref().unwrap().take_grad().unwrap());
        }
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        // BN + ReLU in one pass computes the same operations as the two layers:
        // outputs and every gradient equal (bit-equal up to the sign of zeros), in
        // training and inference, with the
        // channel axis last (the input's own buffer) or not (a permuted copy).
        #[test]
        fn fused_relu_is_bit_equal_to_the_two_layers(n in 1usize..6, h in 1usize..7, c in 1usize..20,
                                                     last in any::<bool>(), training in any::<bool>(), seed in 0u64..500) {
            let (shape, axis) = if last { (vec![h, 3, c], -1) } else { (vec![c, h, 3], 1) };
            let bn = layer(&shape, axis, seed);
            let mut rng = rng_from_seed(seed + 1);
            let mut full = vec![n];
            full.extend_from_slice(&shape);
            let x = uniform(&full, -2.0, 3.0, &mut rng);
            let w = uniform(&full, -1.0, 1.0, &mut rng);
            let fused = run(&bn, &x, &w, true, training);
            let plain = run(&bn, &x, &w, false, training);
            for (f, p) in fused.iter().zip(&plain) {
                prop_assert_eq!(f.shape(), p.shape());
                // Equal as numbers; the only bit difference allowed is the sign of a
                // zero (the ReLU layer writes `0 * negative = -0` where the fused
                // pass writes `max(y, 0) = +0`).
                for (a, b) in f.iter().zip(p) {
                    prop_assert!(a == b && (a.to_bits() == b.to_bits() || *a == 0.0), "{} vs {}", a, b);
                }
            }
        }
    }

    #[test]
    fn only_a_plain_relu_fuses() {
        let bn = layer(&[2, 2, 3], -1, 1);
        let x = Var::constant(Tensor::zeros(ndarray::IxDyn(&[1, 2, 2, 3])));
        let mut ctx = ForwardContext::inference();
        assert!(bn.forward_fused(&ReLU::new(), &x, &mut ctx).is_some());
        for other in [
            ReLU::new().max_value(6.0),
            ReLU::new().negative_slope(0.1),
            ReLU::new().threshold(0.5),
        ] {
            assert!(bn.forward_fused(&other, &x, &mut ctx).is_none());
        }
        assert!(bn
            .forward_fused(&crate::layers::Dense::new(2), &x, &mut ctx)
            .is_none());
    }
}
