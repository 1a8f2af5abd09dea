//! Layers that move or select values: Flatten, Reshape, the identities (Dropout, ...),
//! ZeroPadding2D (`Pad`), Cropping2D (`Slice`), UpSampling2D (nearest: `Reshape` + `Expand`;
//! bilinear: `Resize`).

use super::super::builder::{string, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::Value;
use neurite_nn::layers::{Cropping2DConfig, UpSampling2DConfig, ZeroPadding2DConfig};
use neurite_tensor::resize::Interpolation;

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

/// `x` reshaped to neurite's sample shape `shape` (the batch axis copied).
pub(crate) fn reshape_to(b: &mut GraphBuilder, x: &Value, shape: &[usize]) -> Value {
    let input = x.in_native(b);
    let mut target = vec![0];
    target.extend(dims(shape));
    let y = b.reshape(&input, &target);
    Value::native(y, shape.to_vec())
}

/// Flatten and Reshape: the elements in neurite's (row-major, channels-last) order.
pub(crate) fn reshape(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    if x.shape == layer.output_shape && x.layout == super::super::value::Layout::Native {
        return Ok(x);
    }
    Ok(reshape_to(b, &x, &layer.output_shape))
}

/// ZeroPadding2D: `Pad` with zeros on the height and width axes.
pub(crate) fn zero_padding2d(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let m = layer.typed::<ZeroPadding2DConfig>()?.padding;
    let input = x.in_native(b);
    let pads = b.constant_i64(
        "pads",
        &[
            0,
            m.top as i64,
            m.left as i64,
            0,
            0,
            m.bottom as i64,
            m.right as i64,
            0,
        ],
    );
    let y = b.node("Pad", &[&input, &pads], vec![string("mode", "constant")]);
    Ok(Value::native(y, layer.output_shape.clone()))
}

/// Cropping2D: `Slice` of the height and width axes.
pub(crate) fn cropping2d(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let m = layer.typed::<Cropping2DConfig>()?.cropping;
    let (h, w) = (x.shape[0], x.shape[1]);
    let input = x.in_native(b);
    let starts = b.constant_i64("starts", &[m.top as i64, m.left as i64]);
    let ends = b.constant_i64("ends", &[(h - m.bottom) as i64, (w - m.right) as i64]);
    let axes = b.constant_i64("axes", &[1, 2]);
    let y = b.node("Slice", &[&input, &starts, &ends, &axes], vec![]);
    Ok(Value::native(y, layer.output_shape.clone()))
}

/// UpSampling2D. Nearest: each pixel repeated `sh x sw` times through a broadcast
/// (`(n, h, 1, w, 1, c)` expanded to `(n, h, sh, w, sw, c)`), exact and layout-free.
/// Bilinear: `Resize` with half-pixel centers, as TensorFlow/JAX and neurite.
pub(crate) fn up_sampling2d(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg: UpSampling2DConfig = layer.typed()?;
    let (sh, sw) = cfg.size;
    let (h, w, c) = (x.shape[0], x.shape[1], x.shape[2]);
    match cfg.interpolation {
        Interpolation::Nearest => {
            let input = x.in_native(b);
            let split = b.reshape(&input, &[0, h as i64, 1, w as i64, 1, c as i64]);
            let target = b.constant_i64(
                "expand_shape",
                &[1, h as i64, sh as i64, w as i64, sw as i64, c as i64],
            );
            let wide = b.node("Expand", &[&split, &target], vec![]);
            let y = b.reshape(&wide, &[0, (h * sh) as i64, (w * sw) as i64, c as i64]);
            Ok(Value::native(y, layer.output_shape.clone()))
        }
        Interpolation::Bilinear => {
            let input = x.in_channels_first(b);
            let scales = b.constant_f32("scales", &[4], &[1.0, 1.0, sh as f32, sw as f32]);
            let y = b.node(
                "Resize",
                &[&input, "", &scales],
                vec![
                    string("mode", "linear"),
                    string("coordinate_transformation_mode", "half_pixel"),
                ],
            );
            Ok(Value::channels_first(y, layer.output_shape.clone()))
        }
    }
}
