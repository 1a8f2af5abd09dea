//! keras-hub's `PositionEmbedding`: a learned `(sequence_length, dim)` table
//! whose first `T` rows are the output for inputs `(batch, T, dim)`.

use super::{default_true, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use ndarray::{s, Axis, Ix2};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Configuration of a [`PositionEmbedding`] layer (keras-hub's keys).
///
/// ```
/// let c: neurite_nn::layers::PositionEmbeddingConfig =
///     serde_json::from_value(serde_json::json!({"name": "pos", "sequence_length": 100})).unwrap();
/// assert_eq!(c.initializer, neurite_nn::initializers::Initializer::GlorotUniform);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionEmbeddingConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// The longest sequence the table covers.
    pub sequence_length: usize,
    /// Initializer of the table (default glorot_uniform).
    #[serde(default)]
    pub initializer: Initializer,
    /// Whether the table is trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape (without the batch axis), for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl PositionEmbeddingConfig {
    /// Checks the fields (sequence_length >= 1, the initializer, a declared
    /// input shape); errors name the layer and the field.
    ///
    /// ```
    /// let e = neurite_nn::layers::PositionEmbedding::new(0).config_struct().validate().unwrap_err().to_string();
    /// assert!(e.contains("position_embedding") && e.contains("sequence_length"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::positive(&self.name, "sequence_length", self.sequence_length)?;
        checks::initializer(&self.name, "initializer", &self.initializer)?;
        checks::input_shape(&self.name, &self.input_shape)
    }
}

/// keras-hub's `PositionEmbedding(sequence_length)`: for inputs `(batch, T,
/// dim)` with `T <= sequence_length` the output is rows `0..T` of the
/// learned table `<name>.embeddings` `(sequence_length, dim)`, the same for
/// every sample (the input's values are not used; add the result to the
/// input yourself, as keras-hub does). Gradients reach the table only.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::PositionEmbedding;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut p = PositionEmbedding::new(10);
/// p.build(&[4, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let x = Var::from_array(ndarray::Array3::<f32>::zeros((2, 4, 3)));
/// let y = p.forward(&x, &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 4, 3]);
/// let table = p.parameters()[0].var.to_tensor();
/// assert_eq!(y.to_tensor().slice(ndarray::s![1, .., ..]), table.slice(ndarray::s![..4, ..]));
/// assert!(p.output_shape(&[11, 3]).is_err()); // longer than sequence_length
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PositionEmbedding {
    cfg: PositionEmbeddingConfig,
    embeddings: Option<Var>,
}

impl PositionEmbedding {
    /// A layer covering sequences of up to `sequence_length` steps, glorot_uniform table.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::PositionEmbedding::new(100).config_struct().sequence_length, 100);
    /// ```
    pub fn new(sequence_length: usize) -> Self {
        Self::from_config(PositionEmbeddingConfig {
            name: "position_embedding".into(),
            sequence_length,
            initializer: Initializer::GlorotUniform,
            trainable: true,
            input_shape: None,
        })
    }

    /// The layer from its configuration.
    ///
    /// ```
    /// use neurite_nn::layers::PositionEmbedding;
    /// let p = PositionEmbedding::new(5);
    /// assert_eq!(PositionEmbedding::from_config(p.config_struct().clone()).config_struct(), p.config_struct());
    /// ```
    pub fn from_config(cfg: PositionEmbeddingConfig) -> Self {
        PositionEmbedding {
            cfg,
            embeddings: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::PositionEmbedding::new(5).config_struct().name, "position_embedding");
    /// ```
    pub fn config_struct(&self) -> &PositionEmbeddingConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::PositionEmbedding::new(5).with_name("pos").name(), "pos");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Sets the table's initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let p = neurite_nn::layers::PositionEmbedding::new(5).initializer(Initializer::Zeros);
    /// assert_eq!(p.config_struct().initializer, Initializer::Zeros);
    /// ```
    pub fn initializer(mut self, init: Initializer) -> Self {
        self.cfg.initializer = init;
        self
    }

    /// Declares the input shape (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let p = neurite_nn::layers::PositionEmbedding::new(5).input_shape([5, 8]);
    /// assert_eq!(p.declared_input_shape(), Some(vec![5, 8]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    fn expected(&self) -> String {
        format!(
            "(batch, T <= sequence_length {}, dim >= 1)",
            self.cfg.sequence_length
        )
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        match input_shape {
            [t, d] if *t >= 1 && *t <= self.cfg.sequence_length && *d >= 1 => checks::variables(
                &self.cfg.name,
                vec![("embeddings", vec![self.cfg.sequence_length, *d])],
            ),
            _ => {
                let mut found = vec![0];
                found.extend_from_slice(input_shape);
                Err(shape_error(&self.cfg.name, self.expected(), &found))
            }
        }
    }
}

impl Layer for PositionEmbedding {
    super::common_layer_methods!("PositionEmbedding");

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let specs = self.param_specs(input_shape)?;
        let table =
            self.cfg
                .initializer
                .initialize_variable(&specs[0].1, rng, &self.cfg.name, "embeddings")?;
        self.embeddings = Some(Var::parameter(table));
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.embeddings.is_some()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let specs = self.param_specs(input_shape)?;
        if let Some(e) = &self.embeddings {
            if e.shape() != specs[0].1 {
                let mut found = vec![0];
                found.extend_from_slice(input_shape);
                return Err(shape_error(
                    &self.cfg.name,
                    format!("{} with dim {} (as built)", self.expected(), e.shape()[1]),
                    &found,
                ));
            }
        }
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
        let Some(table) = &self.embeddings else {
            return Err(NnError::NotBuilt(self.cfg.name.clone()));
        };
        let shape = x.shape();
        let (len, dim) = (table.shape()[0], table.shape()[1]);
        let (b, t) = match shape.as_slice() {
            [b, t, d] if *t >= 1 && *t <= len && *d == dim => (*b, *t),
            _ => {
                return Err(shape_error(
                    &self.cfg.name,
                    format!("{} with dim {dim} (as built)", self.expected()),
                    &shape,
                ))
            }
        };
        let rows = table.value().slice(s![..t, ..]).to_owned();
        let value = rows
            .insert_axis(Axis(0))
            .broadcast((b, t, dim))
            .expect("(1, t, dim) broadcasts to (b, t, dim)")
            .to_owned()
            .into_dyn();
        Ok(Var::from_op(
            value,
            "position_embedding",
            &[table],
            Box::new(move |g: &Tensor| {
                let summed = g.sum_axis(Axis(0));
                let summed = summed
                    .into_dimensionality::<Ix2>()
                    .map_err(|e| neurite_tensor::TensorError::invalid("position_embedding", e.to_string()))?;
                let mut grad = ndarray::Array2::<f32>::zeros((len, dim));
                grad.slice_mut(s![..t, ..]).assign(&summed);
                Ok(vec![Some(grad.into_dyn())])
            }),
        ))
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.embeddings
            .iter()
            .map(|e| Parameter {
                name: format!("{}.embeddings", self.cfg.name),
                var: e.clone(),
                trainable: self.cfg.trainable,
            })
            .collect()
    }
}
