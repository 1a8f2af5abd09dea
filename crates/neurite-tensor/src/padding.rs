//! Keras / TensorFlow padding arithmetic shared by convolution and pooling.
//!
//! * `Valid`: no padding; `out = floor((in - eff_k) / stride) + 1` where
//!   `eff_k = (k - 1) * dilation + 1` is the dilated kernel extent. The kernel
//!   must fit in the input.
//! * `Same`: `out = ceil(in / stride)`;
//!   `pad_total = max((out - 1) * stride + eff_k - in, 0)`;
//!   `pad_before = pad_total / 2` and the odd extra cell goes *after*
//!   (TensorFlow's asymmetric rule, which PyTorch does not follow).

use crate::error::{Result, TensorError};

/// How a sliding window treats the borders of its input (Keras' `padding=` argument).
///
/// ```
/// use neurite_tensor::Padding;
/// assert_ne!(Padding::Valid, Padding::Same);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// No padding: only windows lying entirely inside the input (Keras' default).
    #[default]
    Valid,
    /// Zero/ignored padding so that `out = ceil(in / stride)`, extra cell after.
    Same,
}

/// Output length and `(pad_before, pad_after)` of one spatial axis of a sliding window.
///
/// Returns `(out, pad_before, pad_after)`. Errors when `kernel`, `stride` or
/// `dilation` is zero, when `input` is zero, (for `Valid`) when the
/// dilated kernel is larger than the input, or when the dilated kernel or
/// the padded extent overflows `usize`.
///
/// ```
/// use neurite_tensor::{conv_output_size, Padding};
/// // TensorFlow: input 4, kernel 3, stride 2, same -> out 2, pad 0 before and 1 after.
/// assert_eq!(conv_output_size(4, 3, 2, 1, Padding::Same)?, (2, 0, 1));
/// assert_eq!(conv_output_size(5, 3, 1, 2, Padding::Valid)?, (1, 0, 0));
/// assert!(conv_output_size(2, 3, 1, 1, Padding::Valid).is_err());
/// assert!(conv_output_size(2, 2, 1, usize::MAX - 1, Padding::Same).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn conv_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Result<(usize, usize, usize)> {
    const OP: &str = "conv_output_size";
    if kernel == 0 {
        return Err(TensorError::invalid(OP, "kernel size must be at least 1, got 0"));
    }
    if stride == 0 {
        return Err(TensorError::invalid(OP, "stride must be at least 1, got 0"));
    }
    if dilation == 0 {
        return Err(TensorError::invalid(OP, "dilation must be at least 1, got 0"));
    }
    if input == 0 {
        return Err(TensorError::invalid(
            OP,
            "spatial input size must be at least 1, got 0",
        ));
    }
    let eff_k = (kernel - 1)
        .checked_mul(dilation)
        .and_then(|v| v.checked_add(1))
        .ok_or_else(|| TensorError::invalid(OP, "dilated kernel size overflows usize"))?;
    match padding {
        Padding::Valid => {
            if eff_k > input {
                return Err(TensorError::invalid(
                    OP,
                    format!(
                        "valid padding: dilated kernel extent {eff_k} (kernel {kernel}, dilation {dilation}) \
                         is larger than the input size {input}"
                    ),
                ));
            }
            Ok(((input - eff_k) / stride + 1, 0, 0))
        }
        Padding::Same => {
            let out = input.div_ceil(stride);
            // The last window's far edge; it must fit in usize, since the
            // kernels compute every index below it.
            let needed = (out - 1)
                .checked_mul(stride)
                .and_then(|v| v.checked_add(eff_k))
                .ok_or_else(|| {
                    TensorError::invalid(
                        OP,
                        format!(
                            "same padding: the padded extent for input {input}, stride {stride} and \
                             dilated kernel extent {eff_k} overflows usize"
                        ),
                    )
                })?;
            let total = needed.saturating_sub(input);
            let before = total / 2;
            Ok((out, before, total - before))
        }
    }
}
