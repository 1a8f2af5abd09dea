//! Helpers shared by the 2-d convolutions (Conv2D, Conv2DTranspose,
//! DepthwiseConv2D, SeparableConv2D): the input shape checks and the
//! batch-axis wording of shape errors.

use super::shape_error;
use crate::error::{NnError, Result};

/// A per-sample shape error (`(height, width, channels) ...`, found
/// `[h, w, c]`) restated for the batch `shape` a forward pass received.
pub(crate) fn with_batch_axis(e: NnError, shape: &[usize]) -> NnError {
    match e {
        NnError::Shape { layer, expected, .. } => NnError::Shape {
            layer,
            expected: format!("(batch, {}", expected.trim_start_matches('(')),
            found: shape.to_vec(),
        },
        other => other,
    }
}

/// The input shape `[h, w, c]` of a 2-d layer (rank 3, `c` as `channels`
/// when given, at least 1 otherwise), or the layer's shape error.
pub(crate) fn image_shape(layer: &str, input_shape: &[usize], channels: Option<usize>) -> Result<usize> {
    let expected = |c: String| format!("(height, width, {c})");
    if input_shape.len() != 3 {
        return Err(shape_error(layer, expected("channels".into()), input_shape));
    }
    match channels {
        Some(c) if c != input_shape[2] => Err(shape_error(layer, expected(c.to_string()), input_shape)),
        None if input_shape[2] == 0 => Err(shape_error(layer, expected("channels >= 1".into()), input_shape)),
        _ => Ok(input_shape[2]),
    }
}

/// The per-sample output shape of a 2-d layer's pass over the batch `shape`
/// of images with `channels` channels: `out_shape_for` of the sample shape,
/// or the layer's shape error worded for the batch.
pub(crate) fn batch_output(
    layer: &str,
    shape: &[usize],
    channels: usize,
    out_shape_for: impl FnOnce(&[usize]) -> Result<Vec<usize>>,
) -> Result<Vec<usize>> {
    if shape.len() != 4 {
        return Err(shape_error(
            layer,
            format!("(batch, height, width, {channels})"),
            shape,
        ));
    }
    out_shape_for(&shape[1..]).map_err(|e| with_batch_axis(e, shape))
}
