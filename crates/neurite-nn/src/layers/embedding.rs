//! `Embedding`: integer indices to dense vectors, Keras semantics.

use super::{common_layer_methods, config_error, default_true, regularize, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use ndarray::{Array2, Ix2};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;
use serde::{Deserialize, Serialize};

fn uniform_005() -> Initializer {
    Initializer::RandomUniform {
        minval: -0.05,
        maxval: 0.05,
    }
}

/// Configuration of an [`Embedding`] layer (Keras' `get_config()` keys).
///
/// ```
/// let c: neurite_nn::layers::EmbeddingConfig =
///     serde_json::from_value(serde_json::json!({"name": "e", "input_dim": 100, "output_dim": 8})).unwrap();
/// assert_eq!((c.input_dim, c.output_dim, c.mask_zero), (100, 8, false));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Size of the vocabulary: indices are in `[0, input_dim)`.
    pub input_dim: usize,
    /// Length of each embedding vector.
    pub output_dim: usize,
    /// Initializer of the `(input_dim, output_dim)` table (default uniform in `[-0.05, 0.05)`).
    #[serde(default = "uniform_005")]
    pub embeddings_initializer: Initializer,
    /// Penalty on the table.
    #[serde(default)]
    pub embeddings_regularizer: Option<Regularizer>,
    /// Keras' `mask_zero`: index 0 is padding, and the layer's output carries
    /// the mask `ids != 0` (see [`crate::mask`]); `input_dim` stays as given,
    /// so index 0 still has a (never trained, as it is masked) row.
    #[serde(default)]
    pub mask_zero: bool,
    /// Whether the table is trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape (without the batch axis), e.g. `[sequence_length]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl EmbeddingConfig {
    /// Checks every field for values that can never work (input_dim or
    /// output_dim 0, bad initializer/regularizer
    /// parameters, a declared input shape with a 0 dimension); errors name
    /// the layer and the field. Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let c = neurite_nn::layers::Embedding::new(0, 8).config_struct().clone();
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("embedding") && e.contains("input_dim"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "input_dim", self.input_dim)?;
        checks::positive(n, "output_dim", self.output_dim)?;
        checks::initializer(n, "embeddings_initializer", &self.embeddings_initializer)?;
        checks::regularizer(n, "embeddings_regularizer", &self.embeddings_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// Turns integer indices into dense vectors, as Keras' `Embedding`:
/// `(batch, d1, ...)` indices (whole numbers stored as `f32`) give
/// `(batch, d1, ..., output_dim)` rows of the table `<name>.embeddings`
/// `(input_dim, output_dim)`. An index that is not a whole number in
/// `[0, input_dim)` is an error naming the layer, the value and `input_dim`.
/// The backward pass scatter-adds into the table; indices get no gradient.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::Embedding;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut e = Embedding::new(10, 4);
/// e.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let y = e.forward(&Var::from_array(ndarray::arr2(&[[1.0f32, 9.0, 1.0]])), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![1, 3, 4]);
/// assert!(e.forward(&Var::from_array(ndarray::arr2(&[[10.0f32]])), &mut ForwardContext::inference()).is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Embedding {
    cfg: EmbeddingConfig,
    embeddings: Option<Var>,
}

impl Embedding {
    /// An embedding of `input_dim` indices into vectors of `output_dim`, with Keras' defaults.
    ///
    /// ```
    /// let e = neurite_nn::layers::Embedding::new(1000, 64);
    /// assert_eq!((e.config_struct().input_dim, e.config_struct().output_dim), (1000, 64));
    /// ```
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        Self::from_config(EmbeddingConfig {
            name: "embedding".into(),
            input_dim,
            output_dim,
            embeddings_initializer: uniform_005(),
            embeddings_regularizer: None,
            mask_zero: false,
            trainable: true,
            input_shape: None,
        })
    }

    /// Treats index 0 as padding: the output's mask is `ids != 0` (Keras'
    /// `mask_zero`), so recurrent layers, attention, average pooling and the
    /// loss skip padded steps. The ids must then be `(batch, timesteps)`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{layers::Embedding, Layer};
    /// let e = Embedding::new(5, 2).mask_zero(true);
    /// let ids = Var::from_array(ndarray::arr2(&[[4.0f32, 0.0]]));
    /// assert_eq!(e.compute_mask(&ids, None)?, Some(ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn()));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn mask_zero(mut self, yes: bool) -> Self {
        self.cfg.mask_zero = yes;
        self
    }

    /// The layer from its configuration (unbuilt; checked when built).
    ///
    /// ```
    /// use neurite_nn::layers::Embedding;
    /// use neurite_nn::Layer;
    /// let a = Embedding::new(5, 2);
    /// assert_eq!(Embedding::from_config(a.config_struct().clone()).config(), a.config());
    /// ```
    pub fn from_config(cfg: EmbeddingConfig) -> Self {
        Embedding {
            cfg,
            embeddings: None,
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert!(!neurite_nn::layers::Embedding::new(5, 2).config_struct().mask_zero);
    /// ```
    pub fn config_struct(&self) -> &EmbeddingConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Embedding::new(5, 2).with_name("words").name(), "words");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.cfg.name = name.into();
        self
    }

    /// Sets the table initializer.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let e = neurite_nn::layers::Embedding::new(5, 2).embeddings_initializer(Initializer::Ones);
    /// assert_eq!(e.config_struct().embeddings_initializer, Initializer::Ones);
    /// ```
    pub fn embeddings_initializer(mut self, init: Initializer) -> Self {
        self.cfg.embeddings_initializer = init;
        self
    }

    /// Sets the penalty on the table.
    ///
    /// ```
    /// use neurite_nn::regularizers::Regularizer;
    /// let e = neurite_nn::layers::Embedding::new(5, 2).embeddings_regularizer(Regularizer::l2(0.1));
    /// assert_eq!(e.config_struct().embeddings_regularizer, Some(Regularizer::l2(0.1)));
    /// ```
    pub fn embeddings_regularizer(mut self, reg: Regularizer) -> Self {
        self.cfg.embeddings_regularizer = Some(reg);
        self
    }

    /// Declares the input shape (without the batch axis), as Keras' `input_shape=`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let e = neurite_nn::layers::Embedding::new(5, 2).input_shape([20]);
    /// assert_eq!(e.declared_input_shape(), Some(vec![20]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// Installs `table` `(input_dim, output_dim)` as the layer's embeddings (shared, not
    /// copied: gradients flow into it), marking the layer built.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{layers::Embedding, ForwardContext, Layer};
    /// let mut e = Embedding::new(3, 2);
    /// e.set_embeddings(Var::parameter(ndarray::arr2(&[[0.0f32, 0.0], [1.0, 2.0], [3.0, 4.0]]).into_dyn()))?;
    /// let y = e.forward(&Var::from_array(ndarray::arr1(&[2.0f32])), &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[3.0f32, 4.0]]).into_dyn());
    /// assert!(e.set_embeddings(Var::scalar(1.0)).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn set_embeddings(&mut self, table: Var) -> Result<()> {
        let want = [self.cfg.input_dim, self.cfg.output_dim];
        if table.shape() != want {
            return Err(shape_error(
                &self.cfg.name,
                format!("embeddings ({}, {})", want[0], want[1]),
                &table.shape(),
            ));
        }
        self.embeddings = Some(table);
        Ok(())
    }

    /// The variables `build(input_shape)` creates (see [`Layer::parameter_shapes`]).
    fn param_specs(&self, _input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        checks::variables(
            &self.cfg.name,
            vec![("embeddings", vec![self.cfg.input_dim, self.cfg.output_dim])],
        )
    }

    /// The indices of `x` as `usize`, or an error naming the first bad value.
    fn indices(&self, x: &Tensor) -> Result<Vec<usize>> {
        let n = self.cfg.input_dim;
        x.iter()
            .enumerate()
            .map(|(pos, &v)| {
                if v.is_finite() && v.fract() == 0.0 && v >= 0.0 && (v as usize) < n {
                    Ok(v as usize)
                } else {
                    Err(config_error(
                        &self.cfg.name,
                        format!(
                            "input value {v} (flat position {pos}) is not an integer index in [0, input_dim={n})"
                        ),
                    ))
                }
            })
            .collect()
    }
}

impl Layer for Embedding {
    common_layer_methods!("Embedding");

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let specs = self.param_specs(input_shape)?;
        let cfg = &self.cfg;
        let table =
            cfg.embeddings_initializer
                .initialize_variable(&specs[0].1, rng, &cfg.name, "embeddings")?;
        self.embeddings = Some(Var::parameter(table));
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.embeddings.is_some()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        let mut out = input_shape.to_vec();
        out.push(self.cfg.output_dim);
        Ok(out)
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let Some(table) = &self.embeddings else {
            return Err(crate::NnError::NotBuilt(self.cfg.name.clone()));
        };
        let shape = x.shape();
        if shape.is_empty() {
            return Err(shape_error(
                &self.cfg.name,
                "(batch, ...) integer indices",
                &shape,
            ));
        }
        regularize(ctx, self.cfg.embeddings_regularizer, table)?;
        let idx = self.indices(&x.value())?;
        let d = self.cfg.output_dim;
        if crate::initializers::byte_size(&[idx.len(), d], std::mem::size_of::<f32>()).is_none() {
            let mut found = shape.clone();
            found.push(d);
            return Err(shape_error(
                &self.cfg.name,
                "an input whose output (indices x output_dim f32) fits in memory",
                &found,
            ));
        }
        let mut out = Array2::<f32>::zeros((idx.len(), d));
        {
            let t = table.value();
            let t = t.view().into_dimensionality::<Ix2>().expect("table is 2-d");
            for (mut row, &i) in out.rows_mut().into_iter().zip(&idx) {
                row.assign(&t.row(i));
            }
        }
        let mut out_shape = shape;
        out_shape.push(d);
        let value = out
            .into_shape_with_order(out_shape)
            .expect("same size")
            .into_dyn();
        let input_dim = self.cfg.input_dim;
        Ok(Var::from_op(
            value,
            "embedding",
            &[x, table],
            Box::new(move |grad: &Tensor| {
                let g = grad.as_standard_layout();
                let g = g
                    .to_shape((idx.len(), d))
                    .expect("gradient has the output's shape");
                let mut dt = Array2::<f32>::zeros((input_dim, d));
                for (row, &i) in g.rows().into_iter().zip(&idx) {
                    let mut target = dt.row_mut(i);
                    target += &row;
                }
                Ok(vec![None, Some(dt.into_dyn())])
            }),
        ))
    }

    fn supports_masking(&self) -> bool {
        self.cfg.mask_zero
    }

    fn compute_mask(&self, x: &Var, mask: Option<&crate::mask::Mask>) -> Result<Option<crate::mask::Mask>> {
        let _ = mask;
        mask_of_ids(&self.cfg.name, self.cfg.mask_zero, x)
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.embeddings
            .iter()
            .map(|v| Parameter {
                name: format!("{}.embeddings", self.cfg.name),
                var: v.clone(),
                trainable: self.cfg.trainable,
            })
            .collect()
    }
}

/// The mask `ids != 0` of `(batch, timesteps)` ids when `mask_zero`, else
/// `None`; ids of another rank are an error naming `layer` (a mask is
/// `(batch, timesteps)`). Shared with `TokenAndPositionEmbedding`.
pub(crate) fn mask_of_ids(layer: &str, mask_zero: bool, ids: &Var) -> Result<Option<crate::mask::Mask>> {
    if !mask_zero {
        return Ok(None);
    }
    let shape = ids.shape();
    if shape.len() != 2 {
        return Err(shape_error(
            layer,
            "(batch, timesteps) integer ids (mask_zero=true makes a (batch, timesteps) mask)",
            &shape,
        ));
    }
    Ok(Some(crate::mask::nonzero_ids(&ids.value())))
}
