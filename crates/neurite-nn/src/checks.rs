//! Checks shared by the layers' `validate()` methods, `parameter_shapes`
//! and `build`: configuration fields (named in errors, expected vs found)
//! and overflow-free shape arithmetic.

use crate::activation::Activation;
use crate::error::{NnError, Result};
use crate::initializers::{byte_size, Initializer};
use crate::layer::ParameterShapes;
use crate::regularizers::Regularizer;

/// A configuration error of `layer` naming `field`: `field "units": expected
/// an integer >= 1, found 0`.
pub(crate) fn field_error(
    layer: &str,
    field: &str,
    expected: impl std::fmt::Display,
    found: impl std::fmt::Display,
) -> NnError {
    NnError::Config {
        layer: layer.to_string(),
        message: format!("field \"{field}\": expected {expected}, found {found}"),
    }
}

/// `value >= 1`.
pub(crate) fn positive(layer: &str, field: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(field_error(layer, field, "an integer >= 1", 0));
    }
    Ok(())
}

/// Both entries of a `(height, width)` pair `>= 1`.
pub(crate) fn positive_pair(layer: &str, field: &str, (a, b): (usize, usize)) -> Result<()> {
    if a == 0 || b == 0 {
        return Err(field_error(
            layer,
            field,
            "integers >= 1 on both axes",
            format!("({a}, {b})"),
        ));
    }
    Ok(())
}

/// A declared `input_shape` has no 0 dimension and a countable number of elements.
pub(crate) fn input_shape(layer: &str, shape: &Option<Vec<usize>>) -> Result<()> {
    if let Some(s) = shape {
        if s.contains(&0) {
            return Err(field_error(
                layer,
                "input_shape",
                "dimensions >= 1",
                format!("{s:?}"),
            ));
        }
        if byte_size(s, std::mem::size_of::<f32>()).is_none() {
            return Err(field_error(
                layer,
                "input_shape",
                "a shape whose per-sample size fits in memory (element count times 4 bytes <= isize::MAX)",
                format!("{s:?}"),
            ));
        }
    }
    Ok(())
}

/// An initializer whose parameters can work.
pub(crate) fn initializer(layer: &str, field: &str, init: &Initializer) -> Result<()> {
    match init.problem() {
        Some(p) => Err(NnError::Config {
            layer: layer.to_string(),
            message: format!("field \"{field}\": {p}"),
        }),
        None => Ok(()),
    }
}

/// A regularizer with finite, non-negative factors (Keras refuses negative ones).
pub(crate) fn regularizer(layer: &str, field: &str, reg: &Option<Regularizer>) -> Result<()> {
    if let Some(r) = reg {
        let (l1, l2) = r.factors();
        for (what, v) in [("l1", l1), ("l2", l2)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(field_error(
                    layer,
                    &format!("{field}.{what}"),
                    "a finite factor >= 0",
                    v,
                ));
            }
        }
    }
    Ok(())
}

/// An activation whose parameters can work (finite alpha; leaky_relu's >= 0).
pub(crate) fn activation(layer: &str, field: &str, a: &Activation) -> Result<()> {
    match *a {
        Activation::LeakyReluWith { alpha } if !(alpha.is_finite() && alpha >= 0.0) => Err(field_error(
            layer,
            &format!("{field}.alpha"),
            "a finite number >= 0",
            alpha,
        )),
        Activation::EluWith { alpha } if !alpha.is_finite() => Err(field_error(
            layer,
            &format!("{field}.alpha"),
            "a finite number",
            alpha,
        )),
        _ => Ok(()),
    }
}

/// A finite `value > 0` that is a normal `f32` (an epsilon): a denormal such
/// as `1e-40` is read as 0 while denormals are flushed (as training does, see
/// `neurite_tensor::denormals`), and `1 / sqrt(variance + 0)` is infinite for
/// a constant feature.
pub(crate) fn positive_float(layer: &str, field: &str, value: f32) -> Result<()> {
    if !(value.is_finite() && value >= f32::MIN_POSITIVE) {
        return Err(field_error(
            layer,
            field,
            format_args!(
                "a finite number > 0 that is a normal f32 (at least {:e}; smaller ones are flushed to 0)",
                f32::MIN_POSITIVE
            ),
            value,
        ));
    }
    Ok(())
}

/// The product of `dims`, or an error naming the layer and the shape.
pub(crate) fn product(layer: &str, what: &str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| overflow(layer, what, dims))
}

/// `a * b`, or an error naming the layer and the operands.
pub(crate) fn mul(layer: &str, what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| overflow(layer, what, &[a, b]))
}

fn overflow(layer: &str, what: &str, dims: &[usize]) -> NnError {
    NnError::Shape {
        layer: layer.to_string(),
        expected: format!("{what} whose size fits in usize (the product of {dims:?} overflows)"),
        found: dims.to_vec(),
    }
}

/// The shapes of `variables` (suffix, shape) of `layer` each fit in memory
/// (element count times 4 bytes at most `isize::MAX`); returns them with full names.
pub(crate) fn variables(layer: &str, variables: Vec<(&str, Vec<usize>)>) -> Result<ParameterShapes> {
    variables
        .into_iter()
        .map(|(suffix, shape)| {
            if byte_size(&shape, std::mem::size_of::<f32>()).is_none() {
                return Err(NnError::Config {
                    layer: layer.to_string(),
                    message: format!(
                        "{layer}.{suffix} of shape {shape:?} would take more than isize::MAX bytes \
                         (element count times 4); cannot create it"
                    ),
                });
            }
            Ok((format!("{layer}.{suffix}"), shape))
        })
        .collect()
}
