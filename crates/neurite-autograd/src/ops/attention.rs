//! Fused multi-head scaled dot-product attention (one graph node, forward and
//! backward through `neurite_tensor::attention`).

use crate::error::Result;
use crate::var::Var;
use ndarray::Ix4;
use neurite_rand::Generator;
use neurite_tensor::attention::{
    attention_backward, attention_forward, AttentionConfig, AttentionMask, NeedGrads,
};
use neurite_tensor::{Tensor, TensorError};

/// The settings of [`scaled_dot_product_attention`].
///
/// ```
/// let opts = neurite_autograd::ops::AttentionOptions::new(0.25).causal(true);
/// assert!(opts.causal && opts.mask.is_none() && opts.dropout == 0.0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AttentionOptions<'a> {
    /// Factor of the dot products (Keras: `1/sqrt(key_dim)`).
    pub scale: f32,
    /// Hide keys after each query's position (Keras' `use_causal_mask`).
    pub causal: bool,
    /// A 0/1 mask `(batch, Tq, Tk)` (axes of size 1 broadcast; rank 2 means
    /// `(Tq, Tk)` for every sample): 0 hides a key from a query.
    pub mask: Option<&'a Tensor>,
    /// Dropout rate on the attention probabilities (drawn only when an `rng`
    /// is passed, i.e. in training), in `[0, 1)`.
    pub dropout: f32,
    /// Also return the attention probabilities (Keras' `return_attention_scores`).
    pub return_scores: bool,
}

impl<'a> AttentionOptions<'a> {
    /// Options with `scale`, no mask, no dropout, no scores returned.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::ops::AttentionOptions::new(0.5).scale, 0.5);
    /// ```
    pub fn new(scale: f32) -> Self {
        AttentionOptions {
            scale,
            causal: false,
            mask: None,
            dropout: 0.0,
            return_scores: false,
        }
    }

    /// Sets the causal mask.
    ///
    /// ```
    /// assert!(neurite_autograd::ops::AttentionOptions::new(1.0).causal(true).causal);
    /// ```
    pub fn causal(mut self, causal: bool) -> Self {
        self.causal = causal;
        self
    }

    /// Sets the explicit 0/1 mask.
    ///
    /// ```
    /// let m = ndarray::Array3::<f32>::ones((1, 2, 2)).into_dyn();
    /// assert!(neurite_autograd::ops::AttentionOptions::new(1.0).mask(Some(&m)).mask.is_some());
    /// ```
    pub fn mask(mut self, mask: Option<&'a Tensor>) -> Self {
        self.mask = mask;
        self
    }

    /// Sets the dropout rate on the probabilities.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::ops::AttentionOptions::new(1.0).dropout(0.1).dropout, 0.1);
    /// ```
    pub fn dropout(mut self, rate: f32) -> Self {
        self.dropout = rate;
        self
    }

    /// Also returns the probabilities.
    ///
    /// ```
    /// assert!(neurite_autograd::ops::AttentionOptions::new(1.0).return_scores(true).return_scores);
    /// ```
    pub fn return_scores(mut self, yes: bool) -> Self {
        self.return_scores = yes;
        self
    }
}

/// A 4-d view of `t` (checked by `rank4` before).
fn view4(t: &Tensor) -> std::result::Result<ndarray::ArrayView4<'_, f32>, TensorError> {
    t.view()
        .into_dimensionality::<Ix4>()
        .map_err(|e| TensorError::invalid("attention", e.to_string()))
}

fn rank4(what: &str, x: &Var) -> Result<()> {
    if x.ndim() != 4 {
        return Err(TensorError::invalid(
            "attention",
            format!(
                "{what} must be 4-d (batch, T, heads, dim), found shape {:?}",
                x.shape()
            ),
        )
        .into());
    }
    Ok(())
}

/// Multi-head scaled dot-product attention as one node:
/// `softmax(scale · Q Kᵀ, masked) V` per sample and head, with queries
/// `(batch, Tq, heads, key_dim)`, keys `(batch, Tk, heads, key_dim)`, values
/// `(batch, Tk, heads, value_dim)` (Keras' projected layouts) and output
/// `(batch, Tq, heads, value_dim)`. Masked pairs (the explicit mask's zeros,
/// and with `causal` the keys after a query's position) get the score −1e9
/// (Keras: a fully masked row attends uniformly) and no gradient. With
/// `dropout > 0` and an `rng`, probabilities are dropped (and the others
/// scaled by `1/(1-rate)`) after the softmax, as Keras.
///
/// Returns the output and, with `return_scores`, the probabilities
/// `(batch, heads, Tq, Tk)` before dropout (a plain tensor: no gradient
/// flows through it).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let q = Var::parameter(ndarray::Array4::<f32>::ones((2, 3, 2, 4)).into_dyn());
/// let kv = Var::from_array(ndarray::Array4::<f32>::ones((2, 5, 2, 4)));
/// let (out, probs) = ops::scaled_dot_product_attention(&q, &kv, &kv,
///     ops::AttentionOptions::new(0.5).return_scores(true), None)?;
/// assert_eq!(out.shape(), vec![2, 3, 2, 4]);
/// assert!((probs.unwrap()[[0, 0, 0, 0]] - 0.2).abs() < 1e-6);
/// ops::sum_all(&out)?.backward()?;
/// assert_eq!(q.grad().unwrap().shape(), &[2, 3, 2, 4]);
/// let bad = Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 8)));
/// assert!(ops::scaled_dot_product_attention(&q, &bad, &bad, ops::AttentionOptions::new(1.0), None).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn scaled_dot_product_attention(
    q: &Var,
    k: &Var,
    v: &Var,
    options: AttentionOptions<'_>,
    rng: Option<&mut Generator>,
) -> Result<(Var, Option<Tensor>)> {
    rank4("queries", q)?;
    rank4("keys", k)?;
    rank4("values", v)?;
    let rate = options.dropout;
    if !(0.0..1.0).contains(&rate) {
        return Err(
            TensorError::invalid("attention", format!("dropout must be in [0, 1), found {rate}")).into(),
        );
    }
    let (qs, ks) = (q.shape(), k.shape());
    let mask = match options.mask {
        Some(m) => Some(AttentionMask::from_tensor(m.view(), qs[0], qs[1], ks[1])?),
        None => None,
    };
    let cfg = AttentionConfig {
        scale: options.scale,
        causal: options.causal,
        mask,
    };
    let dropout: Option<Vec<f32>> = match rng {
        Some(rng) if rate > 0.0 => {
            let n = qs[0] * qs[2] * qs[1] * ks[1];
            Some(neurite_tensor::random::dropout_multipliers(n, rate, rng))
        }
        _ => None,
    };
    let forward = {
        let (qv, kv, vv) = (q.value(), k.value(), v.value());
        attention_forward(view4(&qv)?, view4(&kv)?, view4(&vv)?, &cfg, dropout.as_deref())?
    };
    let scores = options.return_scores.then(|| forward.probs.clone().into_dyn());
    let probs = forward.probs;
    let (qc, kc, vc) = (q.clone(), k.clone(), v.clone());
    let out = Var::from_op(
        forward.output.into_dyn(),
        "scaled_dot_product_attention",
        &[q, k, v],
        Box::new(move |g| {
            let need = NeedGrads {
                q: qc.requires_grad(),
                k: kc.requires_grad(),
                v: vc.requires_grad(),
            };
            let (qv, kv, vv) = (qc.value(), kc.value(), vc.value());
            let grads = attention_backward(
                view4(&qv)?,
                view4(&kv)?,
                view4(&vv)?,
                probs.view(),
                &cfg,
                dropout.as_deref(),
                view4(g)?,
                need,
            )?;
            Ok(vec![
                grads.dq.map(|a| a.into_dyn()),
                grads.dk.map(|a| a.into_dyn()),
                grads.dv.map(|a| a.into_dyn()),
            ])
        }),
    );
    Ok((out, scores))
}
