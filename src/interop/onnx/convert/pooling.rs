//! Pooling: MaxPooling/AveragePooling 1D and 2D (`MaxPool`, `AveragePool` without counting the
//! padding, as Keras), and the global poolings (`GlobalMaxPool`, `GlobalAveragePool`).

use super::super::builder::{int, ints, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::Value;
use super::conv::window_pads;
use neurite_nn::layers::{GlobalPooling1DConfig, GlobalPooling2DConfig, Pooling1DConfig, Pooling2DConfig};
use neurite_tensor::Padding;

fn pool(
    b: &mut GraphBuilder,
    layer: &LayerView,
    x: Value,
    op: &str,
    (kernel, strides, padding): (Vec<usize>, Vec<usize>, Padding),
) -> Result<Value, OnnxError> {
    let spatial = &x.shape[..kernel.len()];
    let dilations = vec![1; kernel.len()];
    let pads = window_pads(layer, spatial, &kernel, &strides, &dilations, padding)?;
    let input = x.in_channels_first(b);
    let mut attrs = vec![
        ints("kernel_shape", kernel.iter().map(|&k| k as i64)),
        ints("strides", strides.iter().map(|&s| s as i64)),
        ints("pads", pads),
    ];
    if op == "AveragePool" {
        attrs.push(int("count_include_pad", 0));
    }
    let y = b.node(op, &[&input], attrs);
    Ok(Value::channels_first(y, layer.output_shape.clone()))
}

fn op_of(layer: &LayerView) -> &'static str {
    if layer.class.starts_with("Max") || layer.class.starts_with("GlobalMax") {
        "Max"
    } else {
        "Average"
    }
}

/// MaxPooling2D / AveragePooling2D.
pub(crate) fn pooling2d(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg: Pooling2DConfig = layer.typed()?;
    let k = vec![cfg.pool_size.0, cfg.pool_size.1];
    let s = cfg.strides.map_or(k.clone(), |(a, b)| vec![a, b]);
    pool(b, layer, x, &format!("{}Pool", op_of(layer)), (k, s, cfg.padding))
}

/// MaxPooling1D / AveragePooling1D.
pub(crate) fn pooling1d(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg: Pooling1DConfig = layer.typed()?;
    let s = cfg.strides.unwrap_or(cfg.pool_size);
    pool(
        b,
        layer,
        x,
        &format!("{}Pool", op_of(layer)),
        (vec![cfg.pool_size], vec![s], cfg.padding),
    )
}

/// The global poolings (1D and 2D): channels-first `Global*Pool` keeps size-1 spatial axes,
/// which `keepdims` keeps and otherwise `Flatten` drops.
pub(crate) fn global_pooling(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let keepdims = if layer.class.ends_with("1D") {
        layer.typed::<GlobalPooling1DConfig>()?.keepdims
    } else {
        layer.typed::<GlobalPooling2DConfig>()?.keepdims
    };
    let input = x.in_channels_first(b);
    let y = b.node(&format!("Global{}Pool", op_of(layer)), &[&input], vec![]);
    if keepdims {
        Ok(Value::channels_first(y, layer.output_shape.clone()))
    } else {
        let flat = b.node("Flatten", &[&y], vec![int("axis", 1)]);
        Ok(Value::native(flat, layer.output_shape.clone()))
    }
}
