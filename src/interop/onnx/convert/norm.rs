//! BatchNormalization (inference: the moving statistics) and LayerNormalization.

use super::super::builder::{float, int, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::{Layout, Value};
use neurite_nn::layers::{BatchNormalizationConfig, LayerNormalizationConfig};

/// BatchNormalization in inference. On a channels-first value normalized over its channels
/// it is ONNX's `BatchNormalization`; otherwise the equivalent per-feature `x * scale + shift`
/// (`scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`) broadcast along `axis`.
pub(crate) fn batch_norm(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg: BatchNormalizationConfig = layer.typed()?;
    let rank = x.shape.len() as isize;
    let axis = if cfg.axis < 0 {
        cfg.axis + rank
    } else {
        cfg.axis - 1
    };
    if axis < 0 || axis >= rank {
        return Err(layer.model_error(format!(
            "axis {} does not fit inputs of shape {:?}",
            cfg.axis, x.shape
        )));
    }
    let axis = axis as usize;
    let c = x.shape[axis];
    let read = |v: &str, default: f32| -> Result<Vec<f32>, OnnxError> {
        match layer.opt_param(v) {
            Some(_) => layer.param_data(v, &[c]),
            None => Ok(vec![default; c]),
        }
    };
    let gamma = if cfg.scale {
        read("gamma", 1.0)?
    } else {
        vec![1.0; c]
    };
    let beta = if cfg.center {
        read("beta", 0.0)?
    } else {
        vec![0.0; c]
    };
    let mean = layer.param_data("moving_mean", &[c])?;
    let var = layer.param_data("moving_variance", &[c])?;
    let channels_last = axis + 1 == x.shape.len();
    if x.layout == Layout::ChannelsFirst && channels_last && x.rank() >= 3 {
        let key = &layer.name;
        let g = b.weight(&format!("{key}.gamma/bn"), &format!("{key}.gamma"), || {
            (vec![c], gamma)
        });
        let be = b.weight(&format!("{key}.beta/bn"), &format!("{key}.beta"), || {
            (vec![c], beta)
        });
        let m = b.weight(
            &format!("{key}.moving_mean/bn"),
            &format!("{key}.moving_mean"),
            || (vec![c], mean),
        );
        let v = b.weight(
            &format!("{key}.moving_variance/bn"),
            &format!("{key}.moving_variance"),
            || (vec![c], var),
        );
        let y = b.node(
            "BatchNormalization",
            &[&x.name, &g, &be, &m, &v],
            vec![float("epsilon", cfg.epsilon)],
        );
        return Ok(Value::channels_first(y, x.shape));
    }
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + cfg.epsilon).sqrt())
        .collect();
    let shift: Vec<f32> = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    let mut bshape = vec![1; x.shape.len()];
    bshape[axis] = c;
    let input = x.in_native(b);
    let key = &layer.name;
    let s = b.weight(&format!("{key}/scale"), &format!("{key}.scale"), || {
        (bshape.clone(), scale)
    });
    let t = b.weight(&format!("{key}/shift"), &format!("{key}.shift"), || {
        (bshape, shift)
    });
    let y = b.node("Mul", &[&input, &s], vec![]);
    let y = b.node("Add", &[&y, &t], vec![]);
    Ok(Value::native(y, x.shape))
}

/// LayerNormalization over trailing axes: ONNX's `LayerNormalization` (opset 17).
pub(crate) fn layer_norm(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg: LayerNormalizationConfig = layer.typed()?;
    let rank = x.shape.len() as isize;
    let mut axes: Vec<isize> = cfg
        .axis
        .iter()
        .map(|&a| if a < 0 { a + rank } else { a - 1 })
        .collect();
    axes.sort_unstable();
    axes.dedup();
    let first = axes[0];
    let trailing: Vec<isize> = (first..rank).collect();
    if first < 0 || axes != trailing {
        return Err(layer.unsupported(format!(
            "axis {:?} on inputs of shape {:?}: ONNX's LayerNormalization normalizes over trailing axes only",
            cfg.axis, x.shape
        )));
    }
    let norm_shape: Vec<usize> = x.shape[first as usize..].to_vec();
    let n: usize = norm_shape.iter().product();
    let read = |v: &str, on: bool, default: f32| -> Result<Vec<f32>, OnnxError> {
        if on {
            layer.param_data(v, &norm_shape)
        } else {
            Ok(vec![default; n])
        }
    };
    let gamma = read("gamma", cfg.scale, 1.0)?;
    let beta = read("beta", cfg.center, 0.0)?;
    let key = &layer.name;
    let g = b.weight(&format!("{key}.gamma/ln"), &format!("{key}.gamma"), || {
        (norm_shape.clone(), gamma)
    });
    let be = b.weight(&format!("{key}.beta/ln"), &format!("{key}.beta"), || {
        (norm_shape.clone(), beta)
    });
    let input = x.in_native(b);
    let y = b.node(
        "LayerNormalization",
        &[&input, &g, &be],
        vec![int("axis", first as i64 + 1), float("epsilon", cfg.epsilon)],
    );
    Ok(Value::native(y, x.shape))
}
