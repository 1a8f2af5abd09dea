//! MultiHeadAttention, decomposed into `MatMul`, `Softmax`, `Reshape` and `Transpose`
//! (ONNX has no attention operator in the default domain at opset 17).

use super::super::builder::{int, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::Value;
use neurite_nn::layers::MultiHeadAttentionConfig;

/// One projection (Keras' EinsumDense `(dim, heads, size)` kernel and `(heads, size)` bias)
/// of `x` (`(n, T, dim)`) as `(n, heads, T, size)`, or `(n, heads, size, T)` when `keys_last`.
#[allow(clippy::too_many_arguments)]
fn project(
    b: &mut GraphBuilder,
    layer: &LayerView,
    which: &str,
    x: &str,
    (steps, dim): (usize, usize),
    heads: usize,
    size: usize,
    use_bias: bool,
    keys_last: bool,
) -> Result<String, OnnxError> {
    let w = layer.weight(b, &format!("{which}.kernel"), None, Some(vec![dim, heads * size]))?;
    let bias = if use_bias {
        Some(layer.weight(b, &format!("{which}.bias"), None, Some(vec![heads * size]))?)
    } else {
        None
    };
    let y = b.matmul_add(x, &w, bias.as_deref());
    let y = b.reshape(&y, &[0, steps as i64, heads as i64, size as i64]);
    Ok(b.transpose(&y, if keys_last { &[0, 2, 3, 1] } else { &[0, 2, 1, 3] }))
}

/// MultiHeadAttention called on `[query, value]` or `[query, value, key]` (an attention mask
/// argument has no constant form and is refused), with `use_causal_mask` as a constant
/// `-1e9` above the diagonal of the scores.
pub(crate) fn multi_head_attention(
    b: &mut GraphBuilder,
    layer: &LayerView,
    xs: Vec<Value>,
) -> Result<Value, OnnxError> {
    let cfg: MultiHeadAttentionConfig = layer.typed()?;
    if xs.len() > 3 {
        return Err(layer.unsupported("an attention_mask input: export the model without it"));
    }
    if cfg.attention_axes.is_some() || cfg.sliding_window.is_some() || cfg.use_gate {
        return Err(layer.unsupported(
            "attention_axes, sliding_window and use_gate have no export; the default attention over the sequence does",
        ));
    }
    let (h, kd) = (cfg.num_heads, cfg.key_dim);
    let vd = cfg.value_dim.unwrap_or(kd);
    let (tq, dq) = (xs[0].shape[0], xs[0].shape[1]);
    let (tv, dv) = (xs[1].shape[0], xs[1].shape[1]);
    let key = xs.get(2).unwrap_or(&xs[1]);
    let dk = key.shape[1];
    let (q_in, v_in, k_in) = (xs[0].in_native(b), xs[1].in_native(b), key.in_native(b));
    let q = project(b, layer, "query", &q_in, (tq, dq), h, kd, cfg.use_bias, false)?;
    let k = project(b, layer, "key", &k_in, (tv, dk), h, kd, cfg.use_bias, true)?;
    let v = project(b, layer, "value", &v_in, (tv, dv), h, vd, cfg.use_bias, false)?;
    let scores = b.node("MatMul", &[&q, &k], vec![]);
    let scale = b.scalar_f32("scale", 1.0 / (kd as f32).sqrt());
    let mut scores = b.node("Mul", &[&scores, &scale], vec![]);
    if cfg.use_causal_mask {
        let mask: Vec<f32> = (0..tq)
            .flat_map(|i| (0..tv).map(move |j| if j > i { -1e9 } else { 0.0 }))
            .collect();
        let mask = b.constant_f32("causal_mask", &[tq, tv], &mask);
        scores = b.node("Add", &[&scores, &mask], vec![]);
    }
    let probs = b.node("Softmax", &[&scores], vec![int("axis", -1)]);
    let o = b.node("MatMul", &[&probs, &v], vec![]);
    let o = b.transpose(&o, &[0, 2, 1, 3]);
    let o = b.reshape(&o, &[0, tq as i64, (h * vd) as i64]);
    let out_shape = cfg.output_shape.clone().unwrap_or_else(|| vec![dq]);
    let out: usize = out_shape.iter().product();
    let w = layer.weight(b, "attention_output.kernel", None, Some(vec![h * vd, out]))?;
    let bias = if cfg.use_bias {
        Some(layer.weight(b, "attention_output.bias", None, Some(vec![out]))?)
    } else {
        None
    };
    let mut y = b.matmul_add(&o, &w, bias.as_deref());
    if out_shape.len() > 1 {
        let mut target = vec![0, tq as i64];
        target.extend(out_shape.iter().map(|&d| d as i64));
        y = b.reshape(&y, &target);
    }
    Ok(Value::native(y, layer.output_shape.clone()))
}
