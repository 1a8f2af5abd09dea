//! Keras' weights API over a list of [`Parameter`]s: what the
//! [`Layer::get_weights`](crate::Layer::get_weights) /
//! [`Layer::set_weights`](crate::Layer::set_weights) defaults (and models)
//! use. Values are copied in and out; a set is all-or-nothing: every count,
//! name and shape is checked before the first variable changes.

use crate::error::{NnError, Result};
use crate::layer::Parameter;
use neurite_tensor::Tensor;

/// A copy of every variable's value, in the order of `params` (Keras'
/// `get_weights`).
///
/// ```
/// use neurite_nn::{layers::Dense, Layer};
/// let mut d = Dense::new(2);
/// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let w = neurite_nn::weights::values(&d.parameters());
/// assert_eq!((w[0].shape(), w[1].shape()), (&[3, 2][..], &[2][..]));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn values(params: &[Parameter]) -> Vec<Tensor> {
    params.iter().map(|p| p.var.to_tensor()).collect()
}

/// A copy of every variable's value with its full name, in the order of
/// `params`.
///
/// ```
/// use neurite_nn::{layers::Dense, Layer};
/// let mut d = Dense::new(2).with_name("d");
/// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let named = neurite_nn::weights::named_values(&d.parameters());
/// assert_eq!((named[0].0.as_str(), named[1].0.as_str()), ("d.kernel", "d.bias"));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn named_values(params: &[Parameter]) -> Vec<(String, Tensor)> {
    params
        .iter()
        .map(|p| (p.name.clone(), p.var.to_tensor()))
        .collect()
}

/// `name [d0, d1]` for every parameter, joined: how errors list what a layer has.
fn listing(params: &[Parameter]) -> String {
    if params.is_empty() {
        return "none".to_string();
    }
    params
        .iter()
        .map(|p| format!("{} {:?}", p.name, p.var.shape()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn weights_error(owner: &str, message: String) -> NnError {
    NnError::Weights {
        layer: owner.to_string(),
        message,
    }
}

/// Checks that `value` fits `param` (the `index`-th weight of `owner`).
fn check_shape(owner: &str, index: usize, param: &Parameter, value: &Tensor) -> Result<()> {
    let expected = param.var.shape();
    if value.shape() != expected.as_slice() {
        return Err(weights_error(
            owner,
            format!(
                "set_weights: weight #{index} {} expects shape {expected:?}, found shape {:?}",
                param.name,
                value.shape()
            ),
        ));
    }
    Ok(())
}

/// Sets the variables `params` of `owner` (a layer or model name, for
/// errors) to `weights`, one array per variable in the same order (Keras'
/// `set_weights`). A count or shape that differs is an error naming the
/// owner, the weight, and the expected and found count or shape; nothing
/// changes then.
///
/// ```
/// use neurite_nn::{layers::Dense, Layer};
/// let mut d = Dense::new(2).with_name("d");
/// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let mut w = neurite_nn::weights::values(&d.parameters());
/// w[1].fill(0.5);
/// neurite_nn::weights::assign("d", &d.parameters(), &w)?;
/// assert_eq!(d.parameters()[1].var.to_tensor()[[1]], 0.5);
/// let e = neurite_nn::weights::assign("d", &d.parameters(), &w[..1]).unwrap_err().to_string();
/// assert!(e.contains("given 1 array") && e.contains("has 2 weights"), "{e}");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn assign(owner: &str, params: &[Parameter], weights: &[Tensor]) -> Result<()> {
    if weights.len() != params.len() {
        let arrays = if weights.len() == 1 { "array" } else { "arrays" };
        let hint = if params.is_empty() {
            " (a layer has no weights before it is built)"
        } else {
            ""
        };
        return Err(weights_error(
            owner,
            format!(
                "set_weights was given {} {arrays}, but it has {} weights: {}{hint}",
                weights.len(),
                params.len(),
                listing(params)
            ),
        ));
    }
    for (index, (p, w)) in params.iter().zip(weights).enumerate() {
        check_shape(owner, index, p, w)?;
    }
    for (p, w) in params.iter().zip(weights) {
        p.var.set_value(w.clone());
    }
    Ok(())
}

/// Sets the variables `params` of `owner` by full name from `weights` (as
/// [`named_values`] returns them, in any order). Every variable must be
/// given once, with its shape, and nothing else; nothing changes when
/// anything is wrong (the error names the weight).
///
/// ```
/// use neurite_nn::{layers::Dense, Layer};
/// let mut d = Dense::new(2).with_name("d");
/// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// let mut named = neurite_nn::weights::named_values(&d.parameters());
/// named.reverse();
/// neurite_nn::weights::assign_by_name("d", &d.parameters(), &named)?;
/// named.push(("stowaway".into(), named[0].1.clone()));
/// let e = neurite_nn::weights::assign_by_name("d", &d.parameters(), &named).unwrap_err();
/// assert!(e.to_string().contains("stowaway"));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn assign_by_name(owner: &str, params: &[Parameter], weights: &[(String, Tensor)]) -> Result<()> {
    let mut given = std::collections::HashSet::new();
    for (name, _) in weights {
        if !given.insert(name.as_str()) {
            return Err(weights_error(
                owner,
                format!("set_weights: {name} is given twice"),
            ));
        }
        if !params.iter().any(|p| &p.name == name) {
            return Err(weights_error(
                owner,
                format!(
                    "set_weights: there is no weight {name} (the weights are {})",
                    listing(params)
                ),
            ));
        }
    }
    let mut ordered = Vec::with_capacity(params.len());
    for (index, p) in params.iter().enumerate() {
        let Some((_, w)) = weights.iter().find(|(n, _)| n == &p.name) else {
            return Err(weights_error(
                owner,
                format!(
                    "set_weights: no value given for weight {} {:?}",
                    p.name,
                    p.var.shape()
                ),
            ));
        };
        check_shape(owner, index, p, w)?;
        ordered.push(w.clone());
    }
    for (p, w) in params.iter().zip(ordered) {
        p.var.set_value(w);
    }
    Ok(())
}
