//! Helpers shared by Conv2DTranspose, DepthwiseConv2D and SeparableConv2D:
//! checks of user-given weights and the batch-axis wording of shape errors.

use super::{config_error, shape_error};
use crate::error::{NnError, Result};
use neurite_autograd::Var;

/// Errors unless `kernel` has shape `want`, where `None` entries are free
/// but must be at least 1 (`what` words the expected shape in the error).
pub(crate) fn check_kernel(layer: &str, kernel: &Var, want: [Option<usize>; 4], what: String) -> Result<()> {
    let ks = kernel.shape();
    let ok = ks.len() == 4 && ks.iter().zip(want).all(|(&k, w)| w.map_or(k >= 1, |w| w == k));
    if ok {
        Ok(())
    } else {
        Err(shape_error(layer, what, &ks))
    }
}

/// Errors unless `bias` is given iff `use_bias`, with shape `[n]`.
pub(crate) fn check_bias(layer: &str, bias: Option<&Var>, use_bias: bool, n: usize) -> Result<()> {
    match (bias, use_bias) {
        (Some(b), true) if b.shape() == [n] => Ok(()),
        (None, false) => Ok(()),
        (b, use_bias) => Err(config_error(
            layer,
            format!(
                "use_bias is {use_bias} but the bias given has shape {:?} (expected {})",
                b.map(|b| b.shape()),
                if use_bias {
                    format!("[{n}]")
                } else {
                    "none".to_string()
                }
            ),
        )),
    }
}

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
