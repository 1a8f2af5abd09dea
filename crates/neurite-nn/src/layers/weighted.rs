//! Helpers shared by the layers with weights (Dense, the convolutions,
//! the normalizations, PReLU): serde defaults, configuration checks, checks
//! of user-given weights, creating, listing and regularizing the weights.

use super::{config_error, regularize, shape_error};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::layer::{Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use neurite_autograd::Var;
use neurite_rand::Generator;
use std::fmt::Debug;

/// Serde default of bias (and beta) initializers.
pub(crate) fn zeros() -> Initializer {
    Initializer::Zeros
}

/// Serde default of gamma initializers.
pub(crate) fn ones() -> Initializer {
    Initializer::Ones
}

/// Serde default of integer strides, dilations and multipliers.
pub(crate) fn one() -> usize {
    1
}

/// Serde default of 2-d strides and dilations.
pub(crate) fn ones2() -> (usize, usize) {
    (1, 1)
}

/// The checks a weighted layer's `validate` ends with, in this order: the
/// activation, each initializer, each regularizer (by field name), the
/// declared input shape.
pub(crate) fn check_weight_fields(
    layer: &str,
    activation: &Activation,
    initializers: &[(&str, &Initializer)],
    regularizers: &[(&str, &Option<Regularizer>)],
    input_shape: &Option<Vec<usize>>,
) -> Result<()> {
    checks::activation(layer, "activation", activation)?;
    for (field, init) in initializers {
        checks::initializer(layer, field, init)?;
    }
    for (field, reg) in regularizers {
        checks::regularizer(layer, field, reg)?;
    }
    checks::input_shape(layer, input_shape)
}

/// Errors when both `strides` and `dilation_rate` differ from `one` (no stride
/// above 1 together with a dilation above 1, as Keras).
pub(crate) fn check_strides_or_dilation<T: PartialEq + Debug>(
    layer: &str,
    strides: T,
    dilation_rate: T,
    one: T,
) -> Result<()> {
    if strides != one && dilation_rate != one {
        return Err(config_error(
            layer,
            format!(
                "field \"strides\" {strides:?} > 1 together with field \"dilation_rate\" {dilation_rate:?} > 1 is not supported (as Keras)"
            ),
        ));
    }
    Ok(())
}

/// Errors unless `kernel` has the rank of `want` and each axis its entry,
/// where `None` entries are free but must be at least 1 (`what` words the
/// expected shape in the error).
pub(crate) fn check_kernel(layer: &str, kernel: &Var, want: &[Option<usize>], what: String) -> Result<()> {
    let ks = kernel.shape();
    let ok = ks.len() == want.len() && ks.iter().zip(want).all(|(&k, w)| w.map_or(k >= 1, |w| w == k));
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

/// `build`'s variables: one trainable `Var` per entry of `specs` (the shapes
/// `param_specs` gave, in order), drawn from `rng` in that order with the
/// initializer paired with it in `inits` (`(variable suffix, initializer)`,
/// in the same order; entries past the end of `specs`, e.g. an unused
/// bias, are skipped).
pub(crate) fn initialize(
    layer: &str,
    specs: &ParameterShapes,
    inits: &[(&str, &Initializer)],
    rng: &mut Generator,
) -> Result<Vec<Var>> {
    specs
        .iter()
        .zip(inits)
        .map(|((_, shape), (suffix, init))| {
            Ok(Var::parameter(
                init.initialize_variable(shape, rng, layer, suffix)?,
            ))
        })
        .collect()
}

/// The variables among `vars` (`(suffix, variable)`) that exist, in order,
/// named `<layer>.<suffix>`, all with the same `trainable` flag.
pub(crate) fn named_parameters(
    layer: &str,
    trainable: bool,
    vars: &[(&str, &Option<Var>)],
) -> Vec<Parameter> {
    vars.iter()
        .filter_map(|(suffix, var)| {
            var.as_ref().map(|v| Parameter {
                name: format!("{layer}.{suffix}"),
                var: v.clone(),
                trainable,
            })
        })
        .collect()
}

/// Adds the penalty of each regularizer on its variable, in order, in
/// training passes (a missing variable, e.g. no bias, adds none).
pub(crate) fn regularize_each(
    ctx: &mut ForwardContext,
    pairs: &[(Option<Regularizer>, Option<&Var>)],
) -> Result<()> {
    for (reg, var) in pairs {
        if let Some(v) = var {
            regularize(ctx, *reg, v)?;
        }
    }
    Ok(())
}
