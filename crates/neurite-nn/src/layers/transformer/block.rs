//! What keras-hub's `TransformerEncoder` and `TransformerDecoder` share: the
//! configuration, the sub-layers (named under the block) and the two
//! residual sub-blocks.

use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::layers::{
    default_true, shape_error, AttentionCall, AttentionMasks, Dense, LayerNormalization, MultiHeadAttention,
};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use serde::{Deserialize, Serialize};

fn relu() -> Activation {
    Activation::Relu
}
fn epsilon() -> f32 {
    1e-5
}
fn zeros() -> Initializer {
    Initializer::Zeros
}

/// Configuration of a [`super::TransformerEncoder`] or
/// [`super::TransformerDecoder`] (keras-hub's keys and defaults).
///
/// ```
/// let c: neurite_nn::layers::TransformerBlockConfig = serde_json::from_value(serde_json::json!({
///     "name": "enc", "intermediate_dim": 64, "num_heads": 2})).unwrap();
/// assert_eq!((c.dropout, c.layer_norm_epsilon, c.normalize_first), (0.0, 1e-5, false));
/// assert_eq!(c.activation, neurite_nn::Activation::Relu);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockConfig {
    /// Layer name (prefix of its sub-layers' names).
    pub name: String,
    /// Width of the feed-forward network's hidden layer.
    pub intermediate_dim: usize,
    /// Attention heads (`key_dim` = hidden size / heads).
    pub num_heads: usize,
    /// Dropout on the attention probabilities and after each sub-block.
    #[serde(default)]
    pub dropout: f32,
    /// Activation of the feed-forward hidden layer (default relu).
    #[serde(default = "relu")]
    pub activation: Activation,
    /// Epsilon of the layer normalizations (default 1e-5).
    #[serde(default = "epsilon")]
    pub layer_norm_epsilon: f32,
    /// Initializer of every kernel (default glorot_uniform).
    #[serde(default)]
    pub kernel_initializer: Initializer,
    /// Initializer of every bias (default zeros).
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Normalize before each sub-block (pre-LN) instead of after.
    #[serde(default)]
    pub normalize_first: bool,
    /// Whether the weights are trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape (without the batch axis), for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl BlockConfig {
    /// keras-hub's defaults with the given name and sizes.
    ///
    /// ```
    /// let c = neurite_nn::layers::TransformerBlockConfig::new("enc", 64, 2);
    /// assert_eq!(c.intermediate_dim, 64);
    /// ```
    pub fn new(name: &str, intermediate_dim: usize, num_heads: usize) -> Self {
        BlockConfig {
            name: name.into(),
            intermediate_dim,
            num_heads,
            dropout: 0.0,
            activation: Activation::Relu,
            layer_norm_epsilon: 1e-5,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            normalize_first: false,
            trainable: true,
            input_shape: None,
        }
    }

    /// Checks every field (sizes >= 1, dropout in `[0, 1)`, epsilon > 0, the
    /// activation and initializers, a declared input shape); errors name the
    /// layer and the field.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::TransformerBlockConfig::new("enc", 64, 2);
    /// c.dropout = 1.5;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("enc") && e.contains("dropout"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "intermediate_dim", self.intermediate_dim)?;
        checks::positive(n, "num_heads", self.num_heads)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(checks::field_error(
                n,
                "dropout",
                "a number in [0, 1)",
                self.dropout,
            ));
        }
        checks::activation(n, "activation", &self.activation)?;
        checks::positive_float(n, "layer_norm_epsilon", self.layer_norm_epsilon)?;
        checks::initializer(n, "kernel_initializer", &self.kernel_initializer)?;
        checks::initializer(n, "bias_initializer", &self.bias_initializer)?;
        checks::input_shape(n, &self.input_shape)
    }
}

/// The sub-layers of a built block.
#[derive(Debug, Clone)]
pub(super) struct Parts {
    pub self_attention: MultiHeadAttention,
    pub self_attention_norm: LayerNormalization,
    pub cross: Option<(MultiHeadAttention, LayerNormalization)>,
    pub ff_norm: LayerNormalization,
    pub ff_inter: Dense,
    pub ff_out: Dense,
}

/// A transformer block: configuration, and its sub-layers once built.
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub cfg: BlockConfig,
    pub decoder: bool,
    pub parts: Option<Parts>,
}

impl Block {
    pub fn new(cfg: BlockConfig, decoder: bool) -> Self {
        Block {
            cfg,
            decoder,
            parts: None,
        }
    }

    fn sub_name(&self, part: &str) -> String {
        format!("{}/{part}", self.cfg.name)
    }

    /// The unbuilt sub-layers for a hidden size `hidden` (with cross-attention iff `cross`).
    fn make_parts(&self, hidden: usize, cross: bool) -> Result<Parts> {
        let cfg = &self.cfg;
        let key_dim = hidden / cfg.num_heads;
        if key_dim == 0 {
            return Err(checks::field_error(
                &cfg.name,
                "num_heads",
                format!("at most the hidden size {hidden} (key_dim = hidden / num_heads must be >= 1)"),
                cfg.num_heads,
            ));
        }
        let mha = |name: String| {
            MultiHeadAttention::new(cfg.num_heads, key_dim)
                .dropout(cfg.dropout)
                .kernel_initializer(cfg.kernel_initializer)
                .bias_initializer(cfg.bias_initializer)
                .with_name(name)
        };
        let norm = |name: String| {
            LayerNormalization::new()
                .epsilon(cfg.layer_norm_epsilon)
                .with_name(name)
        };
        let dense = |units: usize, name: String| {
            Dense::new(units)
                .kernel_initializer(cfg.kernel_initializer)
                .bias_initializer(cfg.bias_initializer)
                .with_name(name)
        };
        let attention_name = if self.decoder {
            "self_attention"
        } else {
            "self_attention_layer"
        };
        Ok(Parts {
            self_attention: mha(self.sub_name(attention_name)),
            self_attention_norm: norm(self.sub_name("self_attention_layer_norm")),
            cross: cross.then(|| {
                (
                    mha(self.sub_name("cross_attention")),
                    norm(self.sub_name("cross_attention_layer_norm")),
                )
            }),
            ff_norm: norm(self.sub_name("feedforward_layer_norm")),
            ff_inter: dense(
                cfg.intermediate_dim,
                self.sub_name("feedforward_intermediate_dense"),
            )
            .activation(cfg.activation),
            ff_out: dense(hidden, self.sub_name("feedforward_output_dense")),
        })
    }

    /// `(T, hidden)` of a sample shape, or the error naming the block.
    fn seq(&self, what: &str, s: &[usize]) -> Result<usize> {
        match s {
            [t, d] if *t >= 1 && *d >= 1 => Ok(*d),
            _ => {
                let mut found = vec![0];
                found.extend_from_slice(s);
                Err(shape_error(
                    &self.cfg.name,
                    format!("a {what} of shape (batch, T >= 1, hidden >= 1)"),
                    &found,
                ))
            }
        }
    }

    /// The sub-layers' variables, in keras-hub's build order (checks the config and shapes).
    pub fn param_specs(&self, input: &[usize], encoder: Option<&[usize]>) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        let hidden = self.seq("sequence", input)?;
        if let Some(e) = encoder {
            self.seq("encoder sequence", e)?;
        }
        let p = self.make_parts(hidden, encoder.is_some())?;
        let some = |r: Result<Option<ParameterShapes>>| r.map(Option::unwrap_or_default);
        let inter_out = vec![input[0], self.cfg.intermediate_dim];
        let mut specs = some(
            p.self_attention
                .parameter_shapes_multi(&[input.to_vec(), input.to_vec()]),
        )?;
        specs.extend(some(p.self_attention_norm.parameter_shapes(input))?);
        let ff = |specs: &mut ParameterShapes| -> Result<()> {
            specs.extend(some(p.ff_inter.parameter_shapes(input))?);
            specs.extend(some(p.ff_out.parameter_shapes(&inter_out))?);
            Ok(())
        };
        if self.decoder {
            if let (Some((mha, norm)), Some(e)) = (&p.cross, encoder) {
                specs.extend(some(mha.parameter_shapes_multi(&[input.to_vec(), e.to_vec()]))?);
                specs.extend(some(norm.parameter_shapes(input))?);
            }
            ff(&mut specs)?;
            specs.extend(some(p.ff_norm.parameter_shapes(input))?);
        } else {
            specs.extend(some(p.ff_norm.parameter_shapes(input))?);
            ff(&mut specs)?;
        }
        Ok(specs)
    }

    /// Builds the sub-layers in keras-hub's order.
    pub fn build(&mut self, input: &[usize], encoder: Option<&[usize]>, rng: &mut Generator) -> Result<()> {
        self.param_specs(input, encoder)?;
        let hidden = input[1];
        let mut p = self.make_parts(hidden, encoder.is_some())?;
        let inter_out = vec![input[0], self.cfg.intermediate_dim];
        p.self_attention
            .build_multi(&[input.to_vec(), input.to_vec()], rng)?;
        p.self_attention_norm.build(input, rng)?;
        if self.decoder {
            if let (Some((mha, norm)), Some(e)) = (p.cross.as_mut(), encoder) {
                mha.build_multi(&[input.to_vec(), e.to_vec()], rng)?;
                norm.build(input, rng)?;
            }
            p.ff_inter.build(input, rng)?;
            p.ff_out.build(&inter_out, rng)?;
            p.ff_norm.build(input, rng)?;
        } else {
            p.ff_norm.build(input, rng)?;
            p.ff_inter.build(input, rng)?;
            p.ff_out.build(&inter_out, rng)?;
        }
        if !self.cfg.trainable {
            set_parts_trainable(&mut p, false);
        }
        self.parts = Some(p);
        Ok(())
    }

    pub fn is_built(&self) -> bool {
        self.parts.is_some()
    }

    pub fn parts(&self) -> Result<&Parts> {
        self.parts
            .as_ref()
            .ok_or_else(|| NnError::NotBuilt(self.cfg.name.clone()))
    }

    pub fn set_name(&mut self, name: String) {
        self.cfg.name = name;
        if let Some(p) = self.parts.as_mut() {
            let attention_name = if self.decoder {
                "self_attention"
            } else {
                "self_attention_layer"
            };
            let n = self.cfg.name.clone();
            let sub = |part: &str| format!("{n}.{part}");
            p.self_attention.set_name(sub(attention_name));
            p.self_attention_norm.set_name(sub("self_attention_layer_norm"));
            if let Some((mha, norm)) = p.cross.as_mut() {
                mha.set_name(sub("cross_attention"));
                norm.set_name(sub("cross_attention_layer_norm"));
            }
            p.ff_norm.set_name(sub("feedforward_layer_norm"));
            p.ff_inter.set_name(sub("feedforward_intermediate_dense"));
            p.ff_out.set_name(sub("feedforward_output_dense"));
        }
    }

    pub fn set_trainable(&mut self, trainable: bool) {
        self.cfg.trainable = trainable;
        if let Some(p) = self.parts.as_mut() {
            set_parts_trainable(p, trainable);
        }
    }

    /// The variables in keras-hub's order (as `param_specs`).
    pub fn parameters(&self) -> Vec<Parameter> {
        let Some(p) = &self.parts else {
            return Vec::new();
        };
        let mut out = p.self_attention.parameters();
        out.extend(p.self_attention_norm.parameters());
        if self.decoder {
            if let Some((mha, norm)) = &p.cross {
                out.extend(mha.parameters());
                out.extend(norm.parameters());
            }
            out.extend(p.ff_inter.parameters());
            out.extend(p.ff_out.parameters());
            out.extend(p.ff_norm.parameters());
        } else {
            out.extend(p.ff_norm.parameters());
            out.extend(p.ff_inter.parameters());
            out.extend(p.ff_out.parameters());
        }
        out
    }

    /// Checks a `(batch, T, hidden)` input against the built hidden size.
    pub fn check_input(&self, x: &Var) -> Result<()> {
        let p = self.parts()?;
        let hidden = p.ff_out.config_struct().units;
        let s = x.shape();
        if s.len() != 3 || s[1] == 0 || s[2] != hidden {
            return Err(shape_error(
                &self.cfg.name,
                format!("(batch, T >= 1, {hidden}) (the hidden size it was built for)"),
                &s,
            ));
        }
        Ok(())
    }

    /// Dropout after a sub-block, in training passes.
    fn dropout(&self, x: Var, ctx: &mut ForwardContext) -> Result<Var> {
        if ctx.is_training() && self.cfg.dropout > 0.0 {
            Ok(ops::dropout(&x, self.cfg.dropout, ctx.rng())?)
        } else {
            Ok(x)
        }
    }

    /// `x + Dropout(MHA(LN?(x), kv))` then LN unless `normalize_first`; `kv`
    /// `None` means self-attention on the (normalized) `x`; `masks` are the
    /// query's and value's padding masks (keras-hub's padding masks).
    #[allow(clippy::too_many_arguments)]
    pub fn attention_sub_block(
        &self,
        x: &Var,
        kv: Option<&Var>,
        mha: &MultiHeadAttention,
        norm: &LayerNormalization,
        call: AttentionCall<'_>,
        masks: AttentionMasks<'_>,
        ctx: &mut ForwardContext,
    ) -> Result<Var> {
        let first = self.cfg.normalize_first;
        let q = if first { norm.forward(x, ctx)? } else { x.clone() };
        let kv = kv.unwrap_or(&q).clone();
        let (y, _) = mha.attend_masked(&q, &kv, None, call, masks, ctx)?;
        let y = self.dropout(y, ctx)?;
        let y = ops::add(&y, x)?;
        if first {
            Ok(y)
        } else {
            norm.forward(&y, ctx)
        }
    }

    /// `x + Dropout(Dense(hidden)(Dense(intermediate, act)(LN?(x))))` then LN unless `normalize_first`.
    pub fn feedforward_sub_block(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let p = self.parts()?;
        let first = self.cfg.normalize_first;
        let h = if first {
            p.ff_norm.forward(x, ctx)?
        } else {
            x.clone()
        };
        let h = p.ff_inter.forward(&h, ctx)?;
        let h = p.ff_out.forward(&h, ctx)?;
        let h = self.dropout(h, ctx)?;
        let y = ops::add(&h, x)?;
        if first {
            Ok(y)
        } else {
            p.ff_norm.forward(&y, ctx)
        }
    }
}

fn set_parts_trainable(p: &mut Parts, trainable: bool) {
    p.self_attention.set_trainable(trainable);
    p.self_attention_norm.set_trainable(trainable);
    if let Some((mha, norm)) = p.cross.as_mut() {
        mha.set_trainable(trainable);
        norm.set_trainable(trainable);
    }
    p.ff_norm.set_trainable(trainable);
    p.ff_inter.set_trainable(trainable);
    p.ff_out.set_trainable(trainable);
}
