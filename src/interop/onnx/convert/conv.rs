//! The convolutions: Conv2D, Conv1D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D,
//! as ONNX `Conv` / `ConvTranspose` on channels-first values with explicit pads.

use super::super::builder::{ints, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::Value;
use super::activation;
use neurite_autograd::ops::Conv1dPadding;
use neurite_nn::layers::{
    Conv1DConfig, Conv2DConfig, Conv2DTransposeConfig, DepthwiseConv2DConfig, SeparableConv2DConfig,
};
use neurite_tensor::{conv_output_size, conv_transpose_output_size, Padding};

/// ONNX `pads` (all begins, then all ends) of a window sliding over `spatial` with `padding`.
pub(crate) fn window_pads(
    layer: &LayerView,
    spatial: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    padding: Padding,
) -> Result<Vec<i64>, OnnxError> {
    let mut begins = Vec::new();
    let mut ends = Vec::new();
    for i in 0..spatial.len() {
        let (_, before, after) = conv_output_size(spatial[i], kernel[i], strides[i], dilations[i], padding)
            .map_err(|e| layer.model_error(e.to_string()))?;
        begins.push(before as i64);
        ends.push(after as i64);
    }
    begins.extend(ends);
    Ok(begins)
}

fn to_i64(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// One `Conv` node on a channels-first input, its attributes spelled out.
#[allow(clippy::too_many_arguments)]
fn conv_node(
    b: &mut GraphBuilder,
    x: &str,
    w: &str,
    bias: Option<&str>,
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    pads: Vec<i64>,
    group: usize,
) -> String {
    let mut inputs = vec![x, w];
    if let Some(bias) = bias {
        inputs.push(bias);
    }
    b.node(
        "Conv",
        &inputs,
        vec![
            ints("kernel_shape", to_i64(kernel)),
            ints("strides", to_i64(strides)),
            ints("dilations", to_i64(dilations)),
            ints("pads", pads),
            super::super::builder::int("group", group as i64),
        ],
    )
}

fn bias_of(b: &mut GraphBuilder, layer: &LayerView, use_bias: bool) -> Result<Option<String>, OnnxError> {
    if use_bias {
        Ok(Some(layer.weight(b, "bias", None, None)?))
    } else {
        Ok(None)
    }
}

/// Conv2D: kernel `(kh, kw, in, out)` becomes ONNX's `(out, in, kh, kw)`.
pub(crate) fn conv2d(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg: Conv2DConfig = layer.typed()?;
    let k = [cfg.kernel_size.0, cfg.kernel_size.1];
    let s = [cfg.strides.0, cfg.strides.1];
    let d = [cfg.dilation_rate.0, cfg.dilation_rate.1];
    let pads = window_pads(layer, &x.shape[..2], &k, &s, &d, cfg.padding)?;
    let input = x.in_channels_first(b);
    let w = layer.weight(b, "kernel", Some(&[3, 2, 0, 1]), None)?;
    let bias = bias_of(b, layer, cfg.use_bias)?;
    let y = conv_node(b, &input, &w, bias.as_deref(), &k, &s, &d, pads, 1);
    Ok(activation::apply(
        b,
        cfg.activation,
        Value::channels_first(y, layer.output_shape.clone()),
    ))
}

/// Conv1D: kernel `(k, in / groups, filters)` becomes `(filters, in / groups, k)`; causal padding
/// is `dilation * (k - 1)` zeros before the sequence.
pub(crate) fn conv1d(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg: Conv1DConfig = layer.typed()?;
    let (k, s, d) = ([cfg.kernel_size], [cfg.strides], [cfg.dilation_rate]);
    let pads = match cfg.padding {
        Conv1dPadding::Valid => window_pads(layer, &x.shape[..1], &k, &s, &d, Padding::Valid)?,
        Conv1dPadding::Same => window_pads(layer, &x.shape[..1], &k, &s, &d, Padding::Same)?,
        Conv1dPadding::Causal => vec![(cfg.dilation_rate * (cfg.kernel_size - 1)) as i64, 0],
    };
    let input = x.in_channels_first(b);
    let w = layer.weight(b, "kernel", Some(&[2, 1, 0]), None)?;
    let bias = bias_of(b, layer, cfg.use_bias)?;
    let y = conv_node(b, &input, &w, bias.as_deref(), &k, &s, &d, pads, cfg.groups);
    Ok(activation::apply(
        b,
        cfg.activation,
        Value::channels_first(y, layer.output_shape.clone()),
    ))
}

/// Conv2DTranspose: kernel `(kh, kw, out, in)` becomes `(in, out, kh, kw)`; the pads and
/// `output_padding` reproduce neurite's (Keras') output size and tap positions.
pub(crate) fn conv2d_transpose(
    b: &mut GraphBuilder,
    layer: &LayerView,
    x: Value,
) -> Result<Value, OnnxError> {
    let cfg: Conv2DTransposeConfig = layer.typed()?;
    let k = [cfg.kernel_size.0, cfg.kernel_size.1];
    let s = [cfg.strides.0, cfg.strides.1];
    let d = [cfg.dilation_rate.0, cfg.dilation_rate.1];
    let op = cfg.output_padding.map(|(a, b)| [a, b]);
    let (mut begins, mut ends, mut extra) = (vec![], vec![], vec![]);
    for i in 0..2 {
        let (out, before) =
            conv_transpose_output_size(x.shape[i], k[i], s[i], d[i], cfg.padding, op.map(|o| o[i]))
                .map_err(|e| layer.model_error(e.to_string()))?;
        // ONNX: out = s * (in - 1) + output_padding + K - pad_begin - pad_end.
        let raw = s[i] * (x.shape[i] - 1) + (k[i] - 1) * d[i] + 1 - before;
        begins.push(before as i64);
        if raw >= out {
            ends.push((raw - out) as i64);
            extra.push(0);
        } else {
            ends.push(0);
            extra.push((out - raw) as i64);
        }
    }
    begins.extend(ends);
    let input = x.in_channels_first(b);
    let w = layer.weight(b, "kernel", Some(&[3, 2, 0, 1]), None)?;
    let bias = bias_of(b, layer, cfg.use_bias)?;
    let mut inputs = vec![input.as_str(), w.as_str()];
    if let Some(bias) = &bias {
        inputs.push(bias);
    }
    let y = b.node(
        "ConvTranspose",
        &inputs,
        vec![
            ints("kernel_shape", to_i64(&k)),
            ints("strides", to_i64(&s)),
            ints("dilations", to_i64(&d)),
            ints("pads", begins),
            ints("output_padding", extra),
        ],
    );
    Ok(activation::apply(
        b,
        cfg.activation,
        Value::channels_first(y, layer.output_shape.clone()),
    ))
}

/// A depthwise kernel `(kh, kw, c, m)` as a grouped convolution's `(c * m, 1, kh, kw)`
/// (output channel `c * m + j`, as Keras).
fn depthwise_weight(
    b: &mut GraphBuilder,
    layer: &LayerView,
    variable: &str,
) -> Result<(String, usize), OnnxError> {
    let shape = layer.param(variable)?.shape().to_vec();
    if shape.len() != 4 {
        return Err(layer.model_error(format!(
            "'{variable}' has shape {shape:?}, expected (kh, kw, c, m)"
        )));
    }
    let (kh, kw, c, m) = (shape[0], shape[1], shape[2], shape[3]);
    let w = layer.weight(b, variable, Some(&[2, 3, 0, 1]), Some(vec![c * m, 1, kh, kw]))?;
    Ok((w, c))
}

/// DepthwiseConv2D: a `Conv` with one group per input channel.
pub(crate) fn depthwise_conv2d(
    b: &mut GraphBuilder,
    layer: &LayerView,
    x: Value,
) -> Result<Value, OnnxError> {
    let cfg: DepthwiseConv2DConfig = layer.typed()?;
    let k = [cfg.kernel_size.0, cfg.kernel_size.1];
    let s = [cfg.strides.0, cfg.strides.1];
    let d = [cfg.dilation_rate.0, cfg.dilation_rate.1];
    let pads = window_pads(layer, &x.shape[..2], &k, &s, &d, cfg.padding)?;
    let input = x.in_channels_first(b);
    let (w, groups) = depthwise_weight(b, layer, "depthwise_kernel")?;
    let bias = bias_of(b, layer, cfg.use_bias)?;
    let y = conv_node(b, &input, &w, bias.as_deref(), &k, &s, &d, pads, groups);
    Ok(activation::apply(
        b,
        cfg.activation,
        Value::channels_first(y, layer.output_shape.clone()),
    ))
}

/// SeparableConv2D: the depthwise `Conv` (no bias) then a 1x1 `Conv` with the bias.
pub(crate) fn separable_conv2d(
    b: &mut GraphBuilder,
    layer: &LayerView,
    x: Value,
) -> Result<Value, OnnxError> {
    let cfg: SeparableConv2DConfig = layer.typed()?;
    let k = [cfg.kernel_size.0, cfg.kernel_size.1];
    let s = [cfg.strides.0, cfg.strides.1];
    let d = [cfg.dilation_rate.0, cfg.dilation_rate.1];
    let pads = window_pads(layer, &x.shape[..2], &k, &s, &d, cfg.padding)?;
    let input = x.in_channels_first(b);
    let (dw, groups) = depthwise_weight(b, layer, "depthwise_kernel")?;
    let mid = conv_node(b, &input, &dw, None, &k, &s, &d, pads, groups);
    let pw = layer.weight(b, "pointwise_kernel", Some(&[3, 2, 0, 1]), None)?;
    let bias = bias_of(b, layer, cfg.use_bias)?;
    let y = conv_node(
        b,
        &mid,
        &pw,
        bias.as_deref(),
        &[1, 1],
        &[1, 1],
        &[1, 1],
        vec![0; 4],
        1,
    );
    Ok(activation::apply(
        b,
        cfg.activation,
        Value::channels_first(y, layer.output_shape.clone()),
    ))
}
