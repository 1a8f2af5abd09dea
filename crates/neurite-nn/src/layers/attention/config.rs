//! The configuration of `MultiHeadAttention` (Keras 3's `get_config()` keys and defaults).

use crate::checks;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layers::default_true;
use crate::regularizers::Regularizer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn zeros() -> Initializer {
    Initializer::Zeros
}

/// Keras writes `output_shape` (and `attention_axes`) as an int or a list of ints.
pub(crate) mod int_or_list {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr<T> {
        One(T),
        Many(Vec<T>),
    }

    pub fn serialize<S: Serializer, T: Serialize + Copy>(
        v: &Option<Vec<T>>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match v.as_deref() {
            None => s.serialize_none(),
            Some([one]) => Repr::One(*one).serialize(s),
            Some(many) => Repr::Many(many.to_vec()).serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> std::result::Result<Option<Vec<T>>, D::Error> {
        Ok(match Option::<Repr<T>>::deserialize(d)? {
            None => None,
            Some(Repr::One(a)) => Some(vec![a]),
            Some(Repr::Many(v)) => Some(v),
        })
    }
}

/// Configuration of a [`super::MultiHeadAttention`] layer (Keras 3's keys and defaults).
///
/// ```
/// let c: neurite_nn::layers::MultiHeadAttentionConfig = serde_json::from_value(serde_json::json!({
///     "name": "mha", "num_heads": 2, "key_dim": 32, "output_shape": 16})).unwrap();
/// assert_eq!((c.value_dim, c.dropout, c.use_bias), (None, 0.0, true));
/// assert_eq!(c.output_shape, Some(vec![16]));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiHeadAttentionConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Number of attention heads.
    pub num_heads: usize,
    /// Size of each head for queries and keys.
    pub key_dim: usize,
    /// Size of each head for values (default `key_dim`).
    #[serde(default)]
    pub value_dim: Option<usize>,
    /// Dropout rate on the attention probabilities, in `[0, 1)`.
    #[serde(default)]
    pub dropout: f32,
    /// Whether the four projections have biases.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// The output's feature shape (default: the query's last dimension).
    #[serde(default, with = "int_or_list", skip_serializing_if = "Option::is_none")]
    pub output_shape: Option<Vec<usize>>,
    /// The attended axes; only Keras' default (the sequence axis of rank-3
    /// inputs: `None`, `1` or `-2`) is supported.
    #[serde(default, with = "int_or_list")]
    pub attention_axes: Option<Vec<i64>>,
    /// Keras 3.15's sliding-window mask; only `None` is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<usize>,
    /// Keras 3.15's gated attention; only `false` is supported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_gate: bool,
    /// Keras' flash-attention switch: kept for round trips; neurite always runs its fused kernel.
    #[serde(default)]
    pub flash_attention: Option<bool>,
    /// Causal masking on every call (neurite: graphs have no per-call
    /// arguments, so the `use_causal_mask` of Keras' `call` can also live
    /// here; a call's own flag is or-ed with it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_causal_mask: bool,
    /// Initializer of the four kernels (default glorot_uniform, with Keras'
    /// fans of the 3-d kernel shapes).
    #[serde(default)]
    pub kernel_initializer: Initializer,
    /// Initializer of the biases (default zeros).
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Penalty on each kernel.
    #[serde(default)]
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on each bias.
    #[serde(default)]
    pub bias_regularizer: Option<Regularizer>,
    /// Penalty on the layer's output.
    #[serde(default)]
    pub activity_regularizer: Option<Regularizer>,
    /// Keras' dropout seed (kept for round trips; dropout draws from the pass's stream).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Whether the weights are trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
}

impl MultiHeadAttentionConfig {
    /// The value head size (`value_dim`, or `key_dim` when unset).
    ///
    /// ```
    /// let m = neurite_nn::layers::MultiHeadAttention::new(2, 8);
    /// assert_eq!(m.config_struct().value_dim(), 8);
    /// ```
    pub fn value_dim(&self) -> usize {
        self.value_dim.unwrap_or(self.key_dim)
    }

    /// Checks every field for values that can never work (0 heads or head
    /// sizes, a dropout rate outside `[0, 1)`, an empty or zero output
    /// shape, attention axes other than the sequence axis, a sliding window,
    /// gating, bad initializers/regularizers); errors name the layer and the
    /// field. Run by [`crate::layer_from_config`], `build`, `output_shape`
    /// and `parameter_shapes`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::MultiHeadAttention::new(2, 8).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.num_heads = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("multi_head_attention") && e.contains("num_heads"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "num_heads", self.num_heads)?;
        checks::positive(n, "key_dim", self.key_dim)?;
        if let Some(v) = self.value_dim {
            checks::positive(n, "value_dim", v)?;
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(checks::field_error(
                n,
                "dropout",
                "a number in [0, 1)",
                self.dropout,
            ));
        }
        if let Some(s) = &self.output_shape {
            if s.is_empty() || s.contains(&0) {
                return Err(checks::field_error(
                    n,
                    "output_shape",
                    "null, an integer >= 1 or a non-empty list of them",
                    format!("{s:?}"),
                ));
            }
        }
        if let Some(a) = &self.attention_axes {
            if !(a.as_slice() == [1] || a.as_slice() == [-2]) {
                return Err(checks::field_error(
                    n,
                    "attention_axes",
                    "null, 1 or -2 (attention over the sequence axis of (batch, T, dim) inputs; other axes are not supported)",
                    format!("{a:?}"),
                ));
            }
        }
        if let Some(w) = self.sliding_window {
            return Err(checks::field_error(
                n,
                "sliding_window",
                "null (sliding windows are not supported)",
                w,
            ));
        }
        if self.use_gate {
            return Err(checks::field_error(
                n,
                "use_gate",
                "false (gated attention is not supported)",
                true,
            ));
        }
        checks::initializer(n, "kernel_initializer", &self.kernel_initializer)?;
        checks::initializer(n, "bias_initializer", &self.bias_initializer)?;
        checks::regularizer(n, "kernel_regularizer", &self.kernel_regularizer)?;
        checks::regularizer(n, "bias_regularizer", &self.bias_regularizer)?;
        checks::regularizer(n, "activity_regularizer", &self.activity_regularizer)
    }
}
