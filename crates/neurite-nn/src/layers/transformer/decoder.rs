//! keras-hub's `TransformerDecoder`: causal self-attention, optional
//! cross-attention over an encoder's output, and a feed-forward network.

use super::block::{Block, BlockConfig};
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::layer::{InputArity, Layer, Parameter, ParameterShapes};
use crate::layers::{AttentionCall, AttentionMasks};
use crate::mask::{check_optional_mask, Mask, Masked};
use neurite_autograd::Var;
use neurite_rand::Generator;

/// keras-hub's `TransformerDecoder(intermediate_dim, num_heads, dropout,
/// activation, layer_norm_epsilon, kernel_initializer, bias_initializer,
/// normalize_first)`: called on `[decoder_sequence]` or `[decoder_sequence,
/// encoder_sequence]` (`(batch, T, hidden)` and `(batch, S, dim)`), it runs
/// causal self-attention (keras-hub's default `use_causal_mask=True`), then,
/// when built with an encoder sequence, cross-attention over it, then the
/// feed-forward network; each with dropout, a residual connection and layer
/// normalization (after, or before with `normalize_first`). Sub-layers and
/// variables are named as keras-hub's: `<name>/self_attention/*`,
/// `<name>/self_attention_layer_norm/*`, `<name>/cross_attention/*`,
/// `<name>/cross_attention_layer_norm/*`,
/// `<name>/feedforward_intermediate_dense/*`,
/// `<name>/feedforward_output_dense/*`, `<name>/feedforward_layer_norm/*`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::TransformerDecoder;
/// use neurite_nn::{ForwardContext, Layer};
/// let mut dec = TransformerDecoder::new(16, 2).with_name("dec");
/// dec.build_multi(&[vec![5, 8], vec![7, 8]], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 8)));
/// let enc = Var::from_array(ndarray::Array3::<f32>::ones((2, 7, 8)));
/// assert_eq!(dec.forward_multi(&[x, enc], &mut ForwardContext::inference())?.shape(), vec![2, 5, 8]);
/// assert_eq!(dec.parameters()[0].name, "dec/self_attention/query.kernel");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TransformerDecoder {
    block: Block,
}

impl TransformerDecoder {
    /// A block with keras-hub's defaults, named `"transformer_decoder"`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::TransformerDecoder::new(64, 2).config_struct().num_heads, 2);
    /// ```
    pub fn new(intermediate_dim: usize, num_heads: usize) -> Self {
        Self::from_config(BlockConfig::new(
            "transformer_decoder",
            intermediate_dim,
            num_heads,
        ))
    }

    /// The layer from its configuration (unbuilt).
    ///
    /// ```
    /// use neurite_nn::layers::TransformerDecoder;
    /// let d = TransformerDecoder::new(8, 2);
    /// assert_eq!(TransformerDecoder::from_config(d.config_struct().clone()).config_struct(), d.config_struct());
    /// ```
    pub fn from_config(cfg: BlockConfig) -> Self {
        TransformerDecoder {
            block: Block::new(cfg, true),
        }
    }

    /// The typed configuration.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::TransformerDecoder::new(8, 2).config_struct().intermediate_dim, 8);
    /// ```
    pub fn config_struct(&self) -> &BlockConfig {
        &self.block.cfg
    }

    /// Sets the layer name (and its sub-layers' names under it).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::TransformerDecoder::new(8, 2).with_name("d").name(), "d");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.block.set_name(name.into());
        self
    }

    /// Normalizes before each sub-block instead of after (pre-LN).
    ///
    /// ```
    /// assert!(neurite_nn::layers::TransformerDecoder::new(8, 2).normalize_first(true).config_struct().normalize_first);
    /// ```
    pub fn normalize_first(self, yes: bool) -> Self {
        let mut cfg = self.block.cfg;
        cfg.normalize_first = yes;
        Self::from_config(cfg)
    }

    /// keras-hub's `call(decoder_sequence, encoder_sequence=None,
    /// use_causal_mask=True)`. The encoder sequence must be given iff the
    /// layer was built with one.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::TransformerDecoder;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut dec = TransformerDecoder::new(8, 2);
    /// dec.build(&[3, 4], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 3, 4)));
    /// assert_eq!(dec.decode(&x, None, true, &mut ForwardContext::inference())?.shape(), vec![1, 3, 4]);
    /// assert!(dec.decode(&x, Some(&x), true, &mut ForwardContext::inference()).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn decode(
        &self,
        x: &Var,
        encoder_sequence: Option<&Var>,
        use_causal_mask: bool,
        ctx: &mut ForwardContext,
    ) -> Result<Var> {
        self.decode_masked(x, None, encoder_sequence, None, use_causal_mask, ctx)
    }

    /// [`TransformerDecoder::decode`] with keras-hub's padding masks
    /// (`decoder_padding_mask`, `encoder_padding_mask`, `(batch, T)` and
    /// `(batch, S)`): padded decoder steps are hidden from the
    /// self-attention (and-ed with the causal mask), padded encoder steps
    /// from the cross-attention; padded queries attend to nothing. A mask of
    /// the wrong shape is an error naming the layer.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::TransformerDecoder;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut dec = TransformerDecoder::new(8, 2);
    /// dec.build(&[3, 4], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 3, 4)));
    /// let pad = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
    /// let y = dec.decode_masked(&x, Some(&pad), None, None, true, &mut ForwardContext::inference())?;
    /// assert_eq!(y.shape(), vec![1, 3, 4]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn decode_masked(
        &self,
        x: &Var,
        decoder_mask: Option<&Mask>,
        encoder_sequence: Option<&Var>,
        encoder_mask: Option<&Mask>,
        use_causal_mask: bool,
        ctx: &mut ForwardContext,
    ) -> Result<Var> {
        let b = &self.block;
        b.check_input(x)?;
        check_optional_mask(&b.cfg.name, &x.shape(), decoder_mask)?;
        if let Some(e) = encoder_sequence {
            check_optional_mask(&b.cfg.name, &e.shape(), encoder_mask)?;
        }
        let p = b.parts()?;
        if p.cross.is_some() != encoder_sequence.is_some() {
            return Err(NnError::Config {
                layer: b.cfg.name.clone(),
                message: format!(
                    "built {} an encoder sequence, called {} one",
                    if p.cross.is_some() { "with" } else { "without" },
                    if encoder_sequence.is_some() {
                        "with"
                    } else {
                        "without"
                    }
                ),
            });
        }
        let call = AttentionCall {
            use_causal_mask,
            ..Default::default()
        };
        let self_masks = AttentionMasks {
            query: decoder_mask,
            value: decoder_mask,
            key: None,
        };
        let mut x = b.attention_sub_block(
            x,
            None,
            &p.self_attention,
            &p.self_attention_norm,
            call,
            self_masks,
            ctx,
        )?;
        if let (Some((mha, norm)), Some(e)) = (&p.cross, encoder_sequence) {
            let cross_masks = AttentionMasks {
                query: decoder_mask,
                value: encoder_mask,
                key: None,
            };
            x = b.attention_sub_block(&x, Some(e), mha, norm, AttentionCall::default(), cross_masks, ctx)?;
        }
        b.feedforward_sub_block(&x, ctx)
    }

    fn count_check(&self, n: usize) -> Result<()> {
        if (1..=2).contains(&n) {
            return Ok(());
        }
        Err(NnError::Config {
            layer: self.block.cfg.name.clone(),
            message: format!(
                "TransformerDecoder takes [decoder_sequence] or [decoder_sequence, encoder_sequence], got a list of {n} inputs"
            ),
        })
    }
}

impl Layer for TransformerDecoder {
    fn class_name(&self) -> &'static str {
        "TransformerDecoder"
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

    fn input_arity(&self) -> InputArity {
        InputArity::AtLeast(1)
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
        self.decode(x, None, true, ctx)
    }

    fn build_multi(&mut self, input_shapes: &[Vec<usize>], rng: &mut Generator) -> Result<()> {
        self.count_check(input_shapes.len())?;
        self.block
            .build(&input_shapes[0], input_shapes.get(1).map(Vec::as_slice), rng)
    }

    fn output_shape_multi(&self, input_shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
        self.count_check(input_shapes.len())?;
        self.block
            .param_specs(&input_shapes[0], input_shapes.get(1).map(Vec::as_slice))?;
        Ok(input_shapes[0].clone())
    }

    fn parameter_shapes_multi(&self, input_shapes: &[Vec<usize>]) -> Result<Option<ParameterShapes>> {
        self.count_check(input_shapes.len())?;
        self.block
            .param_specs(&input_shapes[0], input_shapes.get(1).map(Vec::as_slice))
            .map(Some)
    }

    fn forward_multi(&self, xs: &[Var], ctx: &mut ForwardContext) -> Result<Var> {
        self.count_check(xs.len())?;
        self.decode(&xs[0], xs.get(1), true, ctx)
    }

    /// The decoder's mask (and the encoder sequence's) hide padded steps
    /// ([`TransformerDecoder::decode_masked`]); the decoder's passes on.
    fn supports_masking(&self) -> bool {
        true
    }

    fn forward_masked(&self, x: &Var, mask: Option<&Mask>, ctx: &mut ForwardContext) -> Result<Masked> {
        Ok((self.decode_masked(x, mask, None, None, true, ctx)?, mask.cloned()))
    }

    fn compute_mask_multi(&self, _xs: &[Var], masks: &[Option<Mask>]) -> Result<Option<Mask>> {
        Ok(masks.first().cloned().flatten())
    }

    fn forward_multi_masked(
        &self,
        xs: &[Var],
        masks: &[Option<Mask>],
        ctx: &mut ForwardContext,
    ) -> Result<Masked> {
        self.count_check(xs.len())?;
        if masks.len() != xs.len() {
            return Err(NnError::Config {
                layer: self.block.cfg.name.clone(),
                message: format!("{} inputs were given with {} masks", xs.len(), masks.len()),
            });
        }
        let enc_mask = masks.get(1).and_then(|m| m.as_ref());
        let y = self.decode_masked(&xs[0], masks[0].as_ref(), xs.get(1), enc_mask, true, ctx)?;
        Ok((y, masks[0].clone()))
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.block.parameters()
    }
}
