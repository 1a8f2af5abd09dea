//! keras-hub's `TokenAndPositionEmbedding`: a token `Embedding` plus a learned
//! `PositionEmbedding` of its output.

use super::{default_true, Embedding, PositionEmbedding};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use serde::{Deserialize, Serialize};

fn uniform() -> Initializer {
    Initializer::random_uniform()
}

/// Configuration of a [`TokenAndPositionEmbedding`] layer (keras-hub's keys).
///
/// ```
/// let c: neurite_nn::layers::TokenAndPositionEmbeddingConfig = serde_json::from_value(serde_json::json!({
///     "name": "emb", "vocabulary_size": 20000, "sequence_length": 100, "embedding_dim": 64})).unwrap();
/// assert!(c.tie_weights && !c.mask_zero);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenAndPositionEmbeddingConfig {
    /// Layer name (prefix of its sub-layers' names).
    pub name: String,
    /// Number of token ids (ids are in `0..vocabulary_size`).
    pub vocabulary_size: usize,
    /// The longest sequence the position table covers.
    pub sequence_length: usize,
    /// Size of each embedding.
    pub embedding_dim: usize,
    /// keras-hub's reversible-embedding flag (kept for round trips; neurite has no reverse projection).
    #[serde(default = "default_true")]
    pub tie_weights: bool,
    /// Initializer of both tables (default keras' "uniform", U(-0.05, 0.05)).
    #[serde(default = "uniform")]
    pub embeddings_initializer: Initializer,
    /// Masking of id 0 (keras-hub's `mask_zero`): the output carries the mask
    /// `ids != 0` (see [`crate::mask`]).
    #[serde(default)]
    pub mask_zero: bool,
    /// Whether the tables are trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape (without the batch axis), for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl TokenAndPositionEmbeddingConfig {
    /// Checks the fields (sizes >= 1, the initializer, a
    /// declared input shape); errors name the layer and the field.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::TokenAndPositionEmbedding::new(10, 4, 3).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.embedding_dim = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("token_and_position_embedding") && e.contains("embedding_dim"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "vocabulary_size", self.vocabulary_size)?;
        checks::positive(n, "sequence_length", self.sequence_length)?;
        checks::positive(n, "embedding_dim", self.embedding_dim)?;
        checks::initializer(n, "embeddings_initializer", &self.embeddings_initializer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// keras-hub's `TokenAndPositionEmbedding(vocabulary_size, sequence_length,
/// embedding_dim)`: integer ids `(batch, T)` (as `f32`, `T <=
/// sequence_length`) become `token(ids) + position(token(ids))`, shape
/// `(batch, T, embedding_dim)`. Variables `<name>/token_embedding.embeddings`
/// `(vocabulary_size, embedding_dim)` and
/// `<name>/position_embedding.embeddings` `(sequence_length, embedding_dim)`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::TokenAndPositionEmbedding;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut e = TokenAndPositionEmbedding::new(50, 10, 8).with_name("emb");
/// e.build(&[6], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let ids = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0]]));
/// assert_eq!(e.forward(&ids, &mut ForwardContext::inference())?.shape(), vec![1, 6, 8]);
/// assert_eq!(e.parameters()[1].name, "emb/position_embedding.embeddings");
/// assert!(e.output_shape(&[11]).is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenAndPositionEmbedding {
    cfg: TokenAndPositionEmbeddingConfig,
    token: Embedding,
    position: PositionEmbedding,
}

impl TokenAndPositionEmbedding {
    /// A layer with keras-hub's defaults, named `"token_and_position_embedding"`.
    ///
    /// ```
    /// let e = neurite_nn::layers::TokenAndPositionEmbedding::new(100, 20, 16);
    /// assert_eq!(e.config_struct().embedding_dim, 16);
    /// ```
    pub fn new(vocabulary_size: usize, sequence_length: usize, embedding_dim: usize) -> Self {
        Self::from_config(TokenAndPositionEmbeddingConfig {
            name: "token_and_position_embedding".into(),
            vocabulary_size,
            sequence_length,
            embedding_dim,
            tie_weights: true,
            embeddings_initializer: Initializer::random_uniform(),
            mask_zero: false,
            trainable: true,
            input_shape: None,
        })
    }

    /// Treats id 0 as padding (keras-hub's `mask_zero`): the output's mask is
    /// `ids != 0`, as the token embedding's.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{layers::TokenAndPositionEmbedding, Layer};
    /// let e = TokenAndPositionEmbedding::new(10, 4, 2).mask_zero(true);
    /// let ids = Var::from_array(ndarray::arr2(&[[3.0f32, 0.0]]));
    /// assert_eq!(e.compute_mask(&ids, None)?, Some(ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn()));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn mask_zero(mut self, yes: bool) -> Self {
        self.cfg.mask_zero = yes;
        self
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::TokenAndPositionEmbedding;
    /// let e = TokenAndPositionEmbedding::new(10, 5, 4);
    /// assert_eq!(TokenAndPositionEmbedding::from_config(e.config_struct().clone()).config_struct(), e.config_struct());
    /// ```
    pub fn from_config(cfg: TokenAndPositionEmbeddingConfig) -> Self {
        let token = Embedding::new(cfg.vocabulary_size, cfg.embedding_dim)
            .embeddings_initializer(cfg.embeddings_initializer)
            .with_name(format!("{}/token_embedding", cfg.name));
        let position = PositionEmbedding::new(cfg.sequence_length)
            .initializer(cfg.embeddings_initializer)
            .with_name(format!("{}/position_embedding", cfg.name));
        TokenAndPositionEmbedding { cfg, token, position }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::TokenAndPositionEmbedding::new(10, 5, 4).config_struct().sequence_length, 5);
    /// ```
    pub fn config_struct(&self) -> &TokenAndPositionEmbeddingConfig {
        &self.cfg
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::TokenAndPositionEmbedding::new(10, 5, 4).with_name("e").name(), "e");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.set_name(name.into());
        self
    }

    /// Sets both tables' initializer (before building).
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// let e = neurite_nn::layers::TokenAndPositionEmbedding::new(10, 5, 4).embeddings_initializer(Initializer::Ones);
    /// assert_eq!(e.config_struct().embeddings_initializer, Initializer::Ones);
    /// ```
    pub fn embeddings_initializer(mut self, init: Initializer) -> Self {
        self.cfg.embeddings_initializer = init;
        Self::from_config(self.cfg)
    }

    /// Declares the input shape `(T,)` (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let e = neurite_nn::layers::TokenAndPositionEmbedding::new(10, 5, 4).input_shape([5]);
    /// assert_eq!(e.declared_input_shape(), Some(vec![5]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.cfg.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        let mut specs = self.token.parameter_shapes(input_shape)?.unwrap_or_default();
        let embedded = self.token.output_shape(input_shape)?;
        if embedded.len() != 2 {
            let mut found = vec![0];
            found.extend_from_slice(input_shape);
            return Err(super::shape_error(&self.cfg.name, "(batch, T) token ids", &found));
        }
        specs.extend(self.position.parameter_shapes(&embedded)?.unwrap_or_default());
        Ok(specs)
    }
}

impl Layer for TokenAndPositionEmbedding {
    fn class_name(&self) -> &'static str {
        "TokenAndPositionEmbedding"
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn set_name(&mut self, name: String) {
        self.cfg.name = name;
        self.token.set_name(format!("{}/token_embedding", self.cfg.name));
        self.position
            .set_name(format!("{}/position_embedding", self.cfg.name));
    }

    fn trainable(&self) -> bool {
        self.cfg.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.cfg.trainable = trainable;
        self.token.set_trainable(trainable);
        self.position.set_trainable(trainable);
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).expect("layer configs serialize to JSON")
    }

    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.cfg.input_shape.clone()
    }

    fn parameter_shapes(&self, input_shape: &[usize]) -> Result<Option<ParameterShapes>> {
        self.param_specs(input_shape).map(Some)
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        self.param_specs(input_shape)?;
        self.token.build(input_shape, rng)?;
        let embedded = self.token.output_shape(input_shape)?;
        self.position.build(&embedded, rng)
    }

    fn is_built(&self) -> bool {
        self.token.is_built() && self.position.is_built()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.param_specs(input_shape)?;
        let embedded = self.token.output_shape(input_shape)?;
        self.position.output_shape(&embedded)
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let tokens = self.token.forward(x, ctx)?;
        let positions = self.position.forward(&tokens, ctx)?;
        Ok(ops::add(&tokens, &positions)?)
    }

    fn supports_masking(&self) -> bool {
        self.cfg.mask_zero
    }

    fn compute_mask(&self, x: &Var, mask: Option<&crate::mask::Mask>) -> Result<Option<crate::mask::Mask>> {
        let _ = mask;
        super::embedding::mask_of_ids(&self.cfg.name, self.cfg.mask_zero, x)
    }

    fn parameters(&self) -> Vec<Parameter> {
        let mut out = self.token.parameters();
        out.extend(self.position.parameters());
        out
    }
}
