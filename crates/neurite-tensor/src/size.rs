//! Checked element counts: the number of `f32`s a shape holds, or an error
//! naming the op when that number cannot be allocated (its product
//! overflows `usize`, or its size in bytes exceeds `isize::MAX`, the
//! largest allocation Rust allows).

use crate::error::{Result, TensorError};

/// The largest number of `f32`s one allocation can hold (`isize::MAX` bytes).
///
/// ```
/// assert_eq!(neurite_tensor::size::MAX_ELEMENTS, isize::MAX as usize / 4);
/// ```
pub const MAX_ELEMENTS: usize = isize::MAX as usize / std::mem::size_of::<f32>();

/// `dims.iter().product()`, or an error if the array could not be created:
/// its size exceeds [`MAX_ELEMENTS`], or (ndarray's own rule, which applies
/// to empty arrays too) the product of its non-zero axis lengths overflows
/// `isize`. `what` names the array in the message.
///
/// Kernels call it on every shape they allocate from parameters (not from
/// arrays that already exist), so that an absurd size is an error, never a
/// wrapped multiplication or an allocator panic.
///
/// ```
/// use neurite_tensor::size::checked_len;
/// assert_eq!(checked_len("reshape", "the target", &[2, 3, 4])?, 24);
/// assert_eq!(checked_len("reshape", "the target", &[0, 1 << 40])?, 0);
/// let e = checked_len("reshape", "the target", &[usize::MAX, 2]).unwrap_err();
/// assert!(e.to_string().starts_with("reshape: the target of shape"));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn checked_len(op: &'static str, what: &str, dims: &[usize]) -> Result<usize> {
    let non_zero = dims
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= isize::MAX as usize);
    let len = match non_zero {
        Some(_) if dims.contains(&0) => Some(0),
        Some(n) if n <= MAX_ELEMENTS => Some(n),
        _ => None,
    };
    len.ok_or_else(|| {
        TensorError::invalid(
            op,
            format!(
                "{what} of shape {dims:?} would hold more than {MAX_ELEMENTS} f32 elements \
                 (isize::MAX bytes), the most one array can hold"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_len_counts_and_refuses_overflow() {
        assert_eq!(checked_len("t", "x", &[2, 3, 4]).unwrap(), 24);
        assert_eq!(checked_len("t", "x", &[]).unwrap(), 1);
        assert_eq!(checked_len("t", "x", &[0, 1 << 40]).unwrap(), 0);
        // ndarray refuses an empty shape whose non-zero axes overflow isize.
        assert!(checked_len("t", "x", &[0, usize::MAX]).is_err());
        assert!(checked_len("t", "x", &[usize::MAX, 2]).is_err());
        assert!(checked_len("t", "x", &[MAX_ELEMENTS + 1]).is_err());
        let e = checked_len("conv2d", "the output", &[1 << 40, 1 << 40]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("conv2d: the output of shape [1099511627776, 1099511627776]"));
    }
}
