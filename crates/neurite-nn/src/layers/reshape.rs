//! `Reshape`: gives each sample a new shape with the same number of elements.

use super::{common_layer_methods, default_true, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use serde::{Deserialize, Serialize};

/// Configuration of a [`Reshape`] layer.
///
/// ```
/// let c: neurite_nn::layers::ReshapeConfig =
///     serde_json::from_value(serde_json::json!({"name": "r", "target_shape": [-1, 4]})).unwrap();
/// assert_eq!(c.target_shape, vec![-1, 4]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReshapeConfig {
    /// Layer name.
    pub name: String,
    /// Target shape without the batch axis; at most one entry may be `-1` (inferred).
    pub target_shape: Vec<i64>,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl ReshapeConfig {
    /// Checks every field for values that can never work (a target_shape
    /// with more than one -1, a size below -1 or of 0, or whose known sizes
    /// overflow; a declared input shape with a 0 dimension); errors name the
    /// layer and the field. Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::Reshape::new([-1, 4]).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.target_shape = vec![-1, -1];
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("reshape") && e.contains("target_shape"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let (n, t) = (&self.name, &self.target_shape);
        let expected = "sizes >= 1 with at most one -1 (inferred)";
        if t.iter().filter(|&&d| d == -1).count() > 1 || t.iter().any(|&d| d == 0 || d < -1) {
            return Err(checks::field_error(n, "target_shape", expected, format!("{t:?}")));
        }
        let known: Vec<usize> = t.iter().filter(|&&d| d > 0).map(|&d| d as usize).collect();
        if crate::initializers::byte_size(&known, std::mem::size_of::<f32>()).is_none() {
            return Err(checks::field_error(
                n,
                "target_shape",
                "a shape whose per-sample size fits in memory",
                format!("{t:?}"),
            ));
        }
        checks::input_shape(n, &self.input_shape)
    }
}

/// Keras' `Reshape`: `(batch, ...) -> (batch, *target_shape)`, one `-1`
/// entry inferred from the element count.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Reshape;
/// use neurite_nn::{ForwardContext, Layer};
/// let r = Reshape::new([-1, 3]);
/// assert_eq!(r.output_shape(&[2, 6])?, vec![4, 3]);
/// let y = r.forward(&Var::from_array(ndarray::Array2::<f32>::zeros((5, 12))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![5, 4, 3]);
/// assert!(r.output_shape(&[5]).is_err()); // 5 is not a multiple of 3
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reshape {
    cfg: ReshapeConfig,
}

impl Reshape {
    /// A `Reshape` to `target_shape` (without the batch axis; one `-1` allowed).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Reshape::new([7, 7, 64]).config_struct().target_shape, vec![7, 7, 64]);
    /// ```
    pub fn new<S: AsRef<[i64]>>(target_shape: S) -> Self {
        Reshape {
            cfg: ReshapeConfig {
                name: "reshape".into(),
                target_shape: target_shape.as_ref().to_vec(),
                trainable: true,
                input_shape: None,
            },
        }
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::Reshape;
    /// let r = Reshape::new([2, -1]);
    /// assert_eq!(Reshape::from_config(r.config_struct().clone()).config_struct(), r.config_struct());
    /// ```
    pub fn from_config(cfg: ReshapeConfig) -> Self {
        Reshape { cfg }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::Reshape::new([4]).config_struct().name, "reshape");
    /// ```
    pub fn config_struct(&self) -> &ReshapeConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Reshape::new([4]).with_name("r").name(), "r");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Declares the input shape (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Reshape::new([4]).input_shape([2, 2]).declared_input_shape(), Some(vec![2, 2]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// The concrete target for an input with `count` elements per sample.
    fn resolve(&self, count: usize, found: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        let name = &self.cfg.name;
        let target = &self.cfg.target_shape;
        let unknown: Vec<usize> = target
            .iter()
            .enumerate()
            .filter(|(_, &d)| d == -1)
            .map(|(i, _)| i)
            .collect();
        let known_dims: Vec<usize> = target.iter().filter(|&&d| d >= 0).map(|&d| d as usize).collect();
        let known = checks::product(name, "target_shape", &known_dims)?;
        let mut out: Vec<usize> = target.iter().map(|&d| d.max(0) as usize).collect();
        let expected = || format!("a shape with {known}·k elements to reshape to {target:?}");
        match unknown.first() {
            Some(&i) => {
                if known == 0 || !count.is_multiple_of(known) {
                    return Err(shape_error(name, expected(), found));
                }
                out[i] = count / known;
            }
            None => {
                if known != count {
                    return Err(shape_error(
                        name,
                        format!("a shape with {known} elements to reshape to {target:?}"),
                        found,
                    ));
                }
            }
        }
        Ok(out)
    }
}

impl Reshape {
    /// No variables; the errors of `build`.
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.output_shape(input_shape).map(|_| Vec::new())
    }
}

impl Layer for Reshape {
    common_layer_methods!("Reshape");

    fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
        self.output_shape(input_shape).map(|_| ())
    }

    fn is_built(&self) -> bool {
        true
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.resolve(
            checks::product(&self.cfg.name, "an input", input_shape)?,
            input_shape,
        )
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        let shape = x.shape();
        if shape.is_empty() {
            return Err(shape_error(&self.cfg.name, "(batch, ...)", &shape));
        }
        let per_sample: usize = shape[1..].iter().product();
        let target = self.resolve(per_sample, &shape)?;
        let mut full = vec![shape[0]];
        full.extend(target);
        Ok(ops::reshape(x, &full)?)
    }

    fn parameters(&self) -> Vec<Parameter> {
        Vec::new()
    }
}
