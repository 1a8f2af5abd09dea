//! keras-hub's `TransformerEncoder`: self-attention and a feed-forward
//! network, each with dropout, a residual connection and layer normalization.

use super::block::{Block, BlockConfig};
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::layers::{AttentionCall, AttentionMasks};
use crate::mask::{check_optional_mask, Mask, Masked};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;

/// keras-hub's `TransformerEncoder(intermediate_dim, num_heads, dropout,
/// activation, layer_norm_epsilon, kernel_initializer, bias_initializer,
/// normalize_first)` on `(batch, T, hidden)` inputs, output of the same shape:
///
/// ```text
/// x = x + Dropout(MHA(LN?(x), LN?(x)))      -> LN unless normalize_first
/// x = x + Dropout(Dense(hidden)(Dense(intermediate, activation)(LN?(x))))  -> LN unless normalize_first
/// ```
///
/// with `key_dim = hidden / num_heads` (integer division, as keras-hub) and
/// the MHA's dropout = `dropout`. Its sub-layers and their variables are
/// named under the block's name, as keras-hub's:
/// `<name>/self_attention_layer/{query,key,value,attention_output}.{kernel,bias}`,
/// `<name>/self_attention_layer_norm.{gamma,beta}`,
/// `<name>/feedforward_layer_norm.{gamma,beta}`,
/// `<name>/feedforward_intermediate_dense.{kernel,bias}`,
/// `<name>/feedforward_output_dense.{kernel,bias}`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::TransformerEncoder;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut enc = TransformerEncoder::new(32, 2).with_name("enc");
/// enc.build(&[10, 16], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((4, 10, 16)));
/// assert_eq!(enc.forward(&x, &mut ForwardContext::inference())?.shape(), vec![4, 10, 16]);
/// assert_eq!(enc.parameters()[0].name, "enc/self_attention_layer/query.kernel");
/// assert!(TransformerEncoder::new(32, 20).output_shape(&[10, 16]).is_err()); // key_dim 0
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TransformerEncoder {
    block: Block,
}

impl TransformerEncoder {
    /// A block with a feed-forward width of `intermediate_dim` and
    /// `num_heads` heads, keras-hub's defaults (no dropout, relu, epsilon
    /// 1e-5, post-normalization), named `"transformer_encoder"`.
    ///
    /// ```
    /// let e = neurite_nn::layers::TransformerEncoder::new(64, 2);
    /// assert_eq!(e.config_struct().layer_norm_epsilon, 1e-5);
    /// ```
    pub fn new(intermediate_dim: usize, num_heads: usize) -> Self {
        Self::from_config(BlockConfig::new(
            "transformer_encoder",
            intermediate_dim,
            num_heads,
        ))
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::TransformerEncoder;
    /// let e = TransformerEncoder::new(8, 2).dropout(0.1);
    /// assert_eq!(TransformerEncoder::from_config(e.config_struct().clone()).config_struct(), e.config_struct());
    /// ```
    pub fn from_config(cfg: BlockConfig) -> Self {
        TransformerEncoder {
            block: Block::new(cfg, false),
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::TransformerEncoder::new(8, 2).config_struct().num_heads, 2);
    /// ```
    pub fn config_struct(&self) -> &BlockConfig {
        &self.block.cfg
    }

    /// Sets the layer name (and its sub-layers' names under it).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::TransformerEncoder::new(8, 2).with_name("e").name(), "e");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.set_name(name.into());
        self
    }

    /// Sets the dropout rate (attention probabilities, and after each sub-block).
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::TransformerEncoder::new(8, 2).dropout(0.1).config_struct().dropout, 0.1);
    /// ```
    pub fn dropout(self, rate: f32) -> Self {
        let mut cfg = self.block.cfg;
        cfg.dropout = rate;
        Self::from_config(cfg)
    }

    /// Sets the feed-forward activation.
    ///
    /// ```
    /// use neurite_nn::Activation;
    /// let e = neurite_nn::layers::TransformerEncoder::new(8, 2).activation(Activation::Gelu);
    /// assert_eq!(e.config_struct().activation, Activation::Gelu);
    /// ```
    pub fn activation(self, activation: crate::Activation) -> Self {
        let mut cfg = self.block.cfg;
        cfg.activation = activation;
        Self::from_config(cfg)
    }

    /// Normalizes before each sub-block instead of after (pre-LN).
    ///
    /// ```
    /// assert!(neurite_nn::layers::TransformerEncoder::new(8, 2).normalize_first(true).config_struct().normalize_first);
    /// ```
    pub fn normalize_first(self, yes: bool) -> Self {
        let mut cfg = self.block.cfg;
        cfg.normalize_first = yes;
        Self::from_config(cfg)
    }

    /// Sets the layer-normalization epsilon.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::TransformerEncoder::new(8, 2).layer_norm_epsilon(1e-6).config_struct().layer_norm_epsilon, 1e-6);
    /// ```
    pub fn layer_norm_epsilon(self, eps: f32) -> Self {
        let mut cfg = self.block.cfg;
        cfg.layer_norm_epsilon = eps;
        Self::from_config(cfg)
    }

    /// keras-hub's `call(inputs, attention_mask=...)`: the block on `x` with
    /// an optional 0/1 self-attention mask `(batch, T, T)` (broadcasting as
    /// [`crate::layers::MultiHeadAttention::attend`]).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::TransformerEncoder;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut enc = TransformerEncoder::new(8, 2);
    /// enc.build(&[3, 4], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 3, 4)));
    /// let mask = ndarray::Array3::<f32>::ones((1, 3, 3)).into_dyn();
    /// let y = enc.encode(&x, Some(&mask), &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor(), enc.forward(&x, &mut ForwardContext::inference())?.to_tensor());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn encode(&self, x: &Var, attention_mask: Option<&Tensor>, ctx: &mut ForwardContext) -> Result<Var> {
        self.encode_masked(x, None, attention_mask, ctx)
    }

    /// keras-hub's `call(inputs, padding_mask=..., attention_mask=...)`: a
    /// `(batch, T)` padding mask (what `Embedding(mask_zero)` brings) hides
    /// padded keys from every query, and-ed with the optional attention mask;
    /// padded queries attend to nothing (as Keras' MultiHeadAttention with a
    /// masked query). A mask of the wrong shape is an error naming the layer.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::TransformerEncoder;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut enc = TransformerEncoder::new(8, 2);
    /// enc.build(&[3, 4], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let x = Var::from_array(ndarray::Array3::<f32>::from_shape_fn((1, 3, 4), |(_, t, f)| (t + f) as f32));
    /// let pad = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
    /// let y = enc.encode_masked(&x, Some(&pad), None, &mut ForwardContext::inference())?;
    /// // The valid steps do not see the padded one: they equal the unpadded run.
    /// let x2 = Var::from_array(x.to_tensor().slice(ndarray::s![.., 0..2, ..]).to_owned());
    /// let y2 = enc.encode(&x2, None, &mut ForwardContext::inference())?;
    /// let d = (&y.to_tensor().slice(ndarray::s![.., 0..2, ..]) - &y2.to_tensor()).mapv(f32::abs);
    /// assert!(d.iter().all(|&v| v < 1e-5));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn encode_masked(
        &self,
        x: &Var,
        padding_mask: Option<&Mask>,
        attention_mask: Option<&Tensor>,
        ctx: &mut ForwardContext,
    ) -> Result<Var> {
        let b = &self.block;
        b.check_input(x)?;
        check_optional_mask(&b.cfg.name, &x.shape(), padding_mask)?;
        let call = AttentionCall {
            attention_mask,
            ..Default::default()
        };
        let masks = AttentionMasks {
            query: padding_mask,
            value: padding_mask,
            key: None,
        };
        let p = b.parts()?;
        let x = b.attention_sub_block(
            x,
            None,
            &p.self_attention,
            &p.self_attention_norm,
            call,
            masks,
            ctx,
        )?;
        b.feedforward_sub_block(&x, ctx)
    }
}

impl Layer for TransformerEncoder {
    fn class_name(&self) -> &'static str {
        "TransformerEncoder"
    }

    fn name(&self) -> &str {
        &self.block.cfg.name
    }

    fn set_name(&mut self, name: String) {
        self.block.set_name(name);
    }

    fn trainable(&self) -> bool {
        self.block.cfg.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.block.set_trainable(trainable);
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(&self.block.cfg).expect("layer configs serialize to JSON")
    }

    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.block.cfg.input_shape.clone()
    }

    fn parameter_shapes(&self, input_shape: &[usize]) -> Result<Option<ParameterShapes>> {
        self.block.param_specs(input_shape, None).map(Some)
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        self.block.build(input_shape, None, rng)
    }

    fn is_built(&self) -> bool {
        self.block.is_built()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.block.param_specs(input_shape, None)?;
        Ok(input_shape.to_vec())
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        self.encode(x, None, ctx)
    }

    /// The padding mask hides padded steps ([`TransformerEncoder::encode_masked`]) and passes on.
    fn supports_masking(&self) -> bool {
        true
    }

    fn forward_masked(&self, x: &Var, mask: Option<&Mask>, ctx: &mut ForwardContext) -> Result<Masked> {
        Ok((self.encode_masked(x, mask, None, ctx)?, mask.cloned()))
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.block.parameters()
    }
}
