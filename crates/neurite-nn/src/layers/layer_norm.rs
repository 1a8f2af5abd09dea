//! `LayerNormalization`, Keras semantics, with a fused hand-written backward.
//!
//! Each sample is normalized over the chosen axes (default the last):
//! `y = gamma * (x - mean) / sqrt(var + epsilon) + beta`, with the mean and
//! (biased) variance taken over those axes; `gamma`, `beta` have the shape of
//! those axes. Training and inference compute the same thing.

use super::builders::builder_methods;
use super::layer_norm_rows::{normalize_rows, normalize_rows_backward};
use super::norm_common::{build_gamma_beta, check_gamma_beta, expected_shape, resolve_axis, AxisMove};
use super::weighted::{named_parameters, ones, regularize_each, zeros};
use super::{common_layer_methods, config_error, default_true, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use ndarray::{Array1, Array2};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn last_axis() -> Vec<isize> {
    vec![-1]
}
fn epsilon() -> f32 {
    1e-3
}

/// Keras writes `axis` as an int or a list of ints.
mod axis_serde {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        One(isize),
        Many(Vec<isize>),
    }

    pub fn serialize<S: Serializer>(axes: &[isize], s: S) -> std::result::Result<S::Ok, S::Error> {
        match axes {
            [one] => Repr::One(*one).serialize(s),
            many => Repr::Many(many.to_vec()).serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<isize>, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::One(a) => vec![a],
            Repr::Many(v) => v,
        })
    }
}

/// Configuration of a [`LayerNormalization`] layer (Keras' `get_config()` keys).
///
/// ```
/// let c: neurite_nn::layers::LayerNormalizationConfig =
///     serde_json::from_value(serde_json::json!({"name": "ln", "axis": [1, 2]})).unwrap();
/// assert_eq!(c.axis, vec![1, 2]);
/// assert_eq!(c.epsilon, 1e-3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerNormalizationConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// The normalized axes, counted with the batch axis; negative from the end (default `[-1]`).
    #[serde(default = "last_axis", with = "axis_serde")]
    pub axis: Vec<isize>,
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
    /// Penalty on `beta`.
    #[serde(default)]
    pub beta_regularizer: Option<Regularizer>,
    /// Penalty on `gamma`.
    #[serde(default)]
    pub gamma_regularizer: Option<Regularizer>,
    /// Whether `gamma`/`beta` are trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape (without the batch axis), for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl LayerNormalizationConfig {
    /// Checks every field for values that can never work (an empty axis
    /// list, axis 0 (the batch axis) or an axis given twice; epsilon not a
    /// finite number > 0; bad initializer/regularizer parameters; a declared
    /// input shape with a 0 dimension); errors name the layer and the field.
    /// Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::LayerNormalization::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.epsilon = -1.0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("layer_normalization") && e.contains("epsilon"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        let axes = &self.axis;
        let twice = axes.iter().enumerate().any(|(i, a)| axes[..i].contains(a));
        if axes.is_empty() || axes.contains(&0) || twice {
            return Err(checks::field_error(
                n,
                "axis",
                "one or more distinct feature axes (not 0, the batch axis)",
                format!("{axes:?}"),
            ));
        }
        checks::positive_float(n, "epsilon", self.epsilon)?;
        checks::initializer(n, "beta_initializer", &self.beta_initializer)?;
        checks::initializer(n, "gamma_initializer", &self.gamma_initializer)?;
        checks::regularizer(n, "beta_regularizer", &self.beta_regularizer)?;
        checks::regularizer(n, "gamma_regularizer", &self.gamma_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// Layer normalization, as Keras' `LayerNormalization`.
///
/// Variables `<name>.gamma` and `<name>.beta`, shaped like the normalized axes.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::LayerNormalization;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut ln = LayerNormalization::new();
/// ln.build(&[4], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let y = ln.forward(&Var::from_array(ndarray::arr2(&[[1.0f32, 2.0, 3.0, 4.0]])), &mut ForwardContext::inference())?;
/// let mean: f32 = y.value().iter().sum::<f32>() / 4.0;
/// assert!(mean.abs() < 1e-6);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerNormalization {
    cfg: LayerNormalizationConfig,
    gamma: Option<Var>,
    beta: Option<Var>,
    /// Rank of the inputs with the batch axis, the resolved sorted axes and their sizes (empty before build).
    rank: usize,
    axes: Vec<usize>,
    sizes: Vec<usize>,
}

impl Default for LayerNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerNormalization {
    /// A layer with Keras' defaults (axis -1, epsilon 1e-3, center and scale).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::LayerNormalization::new().config_struct().axis, vec![-1]);
    /// ```
    pub fn new() -> Self {
        Self::from_config(LayerNormalizationConfig {
            name: "layer_normalization".into(),
            axis: vec![-1],
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            beta_regularizer: None,
            gamma_regularizer: None,
            trainable: true,
            input_shape: None,
        })
    }

    /// The layer from its configuration (unbuilt; checked when built).
    ///
    /// ```
    /// use neurite_nn::layers::LayerNormalization;
    /// use neurite_nn::Layer;
    /// let a = LayerNormalization::new().epsilon(1e-5);
    /// assert_eq!(LayerNormalization::from_config(a.config_struct().clone()).config(), a.config());
    /// ```
    pub fn from_config(cfg: LayerNormalizationConfig) -> Self {
        LayerNormalization {
            cfg,
            gamma: None,
            beta: None,
            rank: 0,
            axes: Vec::new(),
            sizes: Vec::new(),
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::LayerNormalization::new().config_struct().epsilon, 1e-3);
    /// ```
    pub fn config_struct(&self) -> &LayerNormalizationConfig {
        &self.cfg
    }

    builder_methods! {
        example: "LayerNormalization::new()";
        with_name;
    }

    /// The normalized axes (counted with the batch axis, negative from the end).
    ///
    /// ```
    /// let ln = neurite_nn::layers::LayerNormalization::new().axis([-2, -1]);
    /// assert_eq!(ln.config_struct().axis, vec![-2, -1]);
    /// ```
    pub fn axis<A: AsRef<[isize]>>(mut self, axes: A) -> Self {
        self.cfg.axis = axes.as_ref().to_vec();
        self
    }

    builder_methods! {
        example: "LayerNormalization::new()";
        /// Added to the variance before the square root (positive).
        set epsilon: f32 = "1e-6";
        /// Whether to add `beta`.
        set center: bool = "false";
        /// Whether to multiply by `gamma`.
        set scale: bool = "false";
        /// Sets the penalty on `gamma`.
        regularizer gamma_regularizer;
        /// Sets the penalty on `beta`.
        regularizer beta_regularizer;
        /// Declares the input shape (without the batch axis), as Keras' `input_shape=`.
        input_shape = "[10, 16]";
    }

    /// Installs `gamma` and `beta` (shaped like the normalized axes; given iff `scale` /
    /// `center`) as the layer's variables (shared, not copied: gradients flow into them).
    /// The layer must be built.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{layers::LayerNormalization, Layer};
    /// let mut ln = LayerNormalization::new();
    /// ln.build(&[5, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let g = Var::parameter(ndarray::Array1::<f32>::ones(3).into_dyn());
    /// ln.set_weight_vars(Some(g.clone()), Some(Var::parameter(ndarray::Array1::<f32>::zeros(3).into_dyn())))?;
    /// assert!(ln.parameters()[0].var.same(&g));
    /// assert!(ln.set_weight_vars(Some(g), None).is_err());
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
            &self.sizes,
            &format!("{:?}", self.sizes),
        )?;
        self.gamma = gamma;
        self.beta = beta;
        Ok(())
    }

    /// The resolved normalized axes (counting the batch axis, sorted), their
    /// sizes for inputs of `input_shape`, and the variables `build` creates
    /// (see [`Layer::parameter_shapes`]).
    #[allow(clippy::type_complexity)]
    fn plan(&self, input_shape: &[usize]) -> Result<(Vec<usize>, Vec<usize>, ParameterShapes)> {
        let cfg = &self.cfg;
        cfg.validate()?;
        let rank = input_shape.len() + 1;
        let mut axes = Vec::new();
        for &a in &cfg.axis {
            let r = resolve_axis(a, rank).ok_or_else(|| {
                config_error(
                    &cfg.name,
                    format!(
                        "field \"axis\": expected feature axes of inputs of shape (batch, {input_shape:?}), found {a}"
                    ),
                )
            })?;
            if axes.contains(&r) {
                return Err(config_error(
                    &cfg.name,
                    format!("field \"axis\": axis {a} is given twice in {:?}", cfg.axis),
                ));
            }
            axes.push(r);
        }
        axes.sort_unstable();
        let sizes: Vec<usize> = axes.iter().map(|&a| input_shape[a - 1]).collect();
        if sizes.contains(&0) {
            let mut found = vec![0];
            found.extend_from_slice(input_shape);
            return Err(shape_error(
                &cfg.name,
                format!(
                    "{} with at least 1 feature on each normalized axis {axes:?}",
                    expected_shape(rank, &[])
                ),
                &found,
            ));
        }
        let mut vars = Vec::new();
        if cfg.scale {
            vars.push(("gamma", sizes.clone()));
        }
        if cfg.center {
            vars.push(("beta", sizes.clone()));
        }
        let vars = checks::variables(&cfg.name, vars)?;
        checks::product(&cfg.name, "normalized axes", &sizes)?;
        Ok((axes, sizes, vars))
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.plan(input_shape).map(|(_, _, vars)| vars)
    }

    fn expected(&self) -> String {
        let fixed: Vec<(usize, usize)> = self
            .axes
            .iter()
            .copied()
            .zip(self.sizes.iter().copied())
            .collect();
        expected_shape(self.rank, &fixed)
    }

    fn vector(var: &Option<Var>, d: usize, default: f32) -> Array1<f32> {
        match var {
            Some(v) => Array1::from_iter(v.value().iter().copied()),
            None => Array1::from_elem(d, default),
        }
    }
}

impl Layer for LayerNormalization {
    /// Keras' LayerNormalization passes the input's mask on (each step is normalized on its own).
    fn supports_masking(&self) -> bool {
        true
    }

    common_layer_methods!("LayerNormalization");

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let (axes, sizes, _) = self.plan(input_shape)?;
        let cfg = &self.cfg;
        let (gamma, beta) = build_gamma_beta(
            &cfg.name,
            (cfg.scale, &cfg.gamma_initializer),
            (cfg.center, &cfg.beta_initializer),
            &sizes,
            rng,
        )?;
        self.gamma = gamma;
        self.beta = beta;
        self.rank = input_shape.len() + 1;
        self.axes = axes;
        self.sizes = sizes;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.rank > 0
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        if !self.is_built() {
            self.plan(input_shape)?;
        }
        if self.is_built()
            && (input_shape.len() + 1 != self.rank
                || self
                    .axes
                    .iter()
                    .zip(&self.sizes)
                    .any(|(&a, &s)| input_shape[a - 1] != s))
        {
            let mut found = vec![0];
            found.extend_from_slice(input_shape);
            return Err(shape_error(&self.cfg.name, self.expected(), &found));
        }
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        if !self.is_built() {
            return Err(crate::NnError::NotBuilt(self.cfg.name.clone()));
        }
        let shape = x.shape();
        if shape.len() != self.rank || self.axes.iter().zip(&self.sizes).any(|(&a, &s)| shape[a] != s) {
            return Err(shape_error(&self.cfg.name, self.expected(), &shape));
        }
        regularize_each(
            ctx,
            &[
                (self.cfg.gamma_regularizer, self.gamma.as_ref()),
                (self.cfg.beta_regularizer, self.beta.as_ref()),
            ],
        )?;
        let d: usize = self.sizes.iter().product();
        let mv = AxisMove::new(&shape, &self.axes);
        let mut xhat = mv.to_rows(&x.value(), d);
        let n = xhat.nrows();
        let gamma = Self::vector(&self.gamma, d, 1.0);
        let beta = Self::vector(&self.beta, d, 0.0);
        let eps = self.cfg.epsilon;
        let mut inv_std = vec![0.0f32; n];
        let mut y = Array2::<f32>::zeros((n, d));
        normalize_rows(
            xhat.as_slice_mut()
                .expect("to_rows returns a standard-layout matrix"),
            y.as_slice_mut().expect("a fresh matrix is contiguous"),
            &mut inv_std,
            gamma.as_slice().expect("a vector"),
            beta.as_slice().expect("a vector"),
            d,
            eps,
        );
        let value = mv.back_from_rows(y);

        let mut parents = vec![x];
        if let Some(g) = &self.gamma {
            parents.push(g);
        }
        if let Some(b) = &self.beta {
            parents.push(b);
        }
        let (has_gamma, has_beta) = (self.gamma.is_some(), self.beta.is_some());
        let param_shape = self.sizes.clone();
        let need_dx = x.requires_grad();
        Ok(Var::from_op(
            value,
            "layer_normalization",
            &parents,
            Box::new(move |grad: &Tensor| {
                let dy = mv.to_rows(grad, d);
                let mut dx = need_dx.then(|| Array2::<f32>::zeros((n, d)));
                let (dgamma, dbeta) = normalize_rows_backward(
                    dy.as_slice().expect("to_rows returns a standard-layout matrix"),
                    xhat.as_slice().expect("to_rows returns a standard-layout matrix"),
                    &inv_std,
                    gamma.as_slice().expect("a vector"),
                    d,
                    dx.as_mut()
                        .map(|m| m.as_slice_mut().expect("a fresh matrix is contiguous")),
                );
                let (dgamma, dbeta) = (Array1::from(dgamma), Array1::from(dbeta));
                let mut grads = vec![dx.map(|dx| mv.back_from_rows(dx))];
                let to_param =
                    |v: Array1<f32>| v.into_shape_with_order(param_shape.clone()).map(|a| a.into_dyn());
                if has_gamma {
                    grads.push(Some(to_param(dgamma).expect("d elements")));
                }
                if has_beta {
                    grads.push(Some(to_param(dbeta).expect("d elements")));
                }
                Ok(grads)
            }),
        ))
    }

    fn parameters(&self) -> Vec<Parameter> {
        let vars = [("gamma", &self.gamma), ("beta", &self.beta)];
        named_parameters(&self.cfg.name, self.cfg.trainable, &vars)
    }
}
