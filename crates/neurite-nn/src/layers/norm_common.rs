//! Helpers shared by `BatchNormalization` and `LayerNormalization`: moving
//! chosen axes to the end so that the data is a row-major `[rows, cols]`
//! matrix (no copy when they already are the last axes), and back; creating
//! and checking `gamma` and `beta`.

use super::{config_error, shape_error};
use crate::error::Result;
use crate::initializers::Initializer;
use ndarray::{Array2, IxDyn};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;

/// An axis permutation that puts `trailing` (in the given order) after all other axes.
#[derive(Debug, Clone)]
pub(crate) struct AxisMove {
    perm: Vec<usize>,
    /// Shape after the permutation.
    permuted_shape: Vec<usize>,
    identity: bool,
}

impl AxisMove {
    pub(crate) fn new(shape: &[usize], trailing: &[usize]) -> Self {
        let mut perm: Vec<usize> = (0..shape.len()).filter(|a| !trailing.contains(a)).collect();
        perm.extend_from_slice(trailing);
        let identity = perm.iter().enumerate().all(|(i, &p)| i == p);
        let permuted_shape = perm.iter().map(|&p| shape[p]).collect();
        AxisMove {
            perm,
            permuted_shape,
            identity,
        }
    }

    /// Whether the trailing axes already are the last ones (no permutation).
    pub(crate) fn is_identity(&self) -> bool {
        self.identity
    }

    /// The data as `[rows, cols]`, `cols` the product of the trailing axes.
    pub(crate) fn to_rows(&self, t: &Tensor, cols: usize) -> Array2<f32> {
        let moved = if self.identity {
            t.view()
        } else {
            t.view().permuted_axes(IxDyn(&self.perm))
        };
        let rows = moved.len().checked_div(cols).unwrap_or(0);
        let data: Vec<f32> = if moved.is_standard_layout() {
            moved
                .as_slice()
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| moved.iter().copied().collect())
        } else {
            moved.iter().copied().collect()
        };
        Array2::from_shape_vec((rows, cols), data).expect("rows * cols == len")
    }

    /// Inverse of [`AxisMove::to_rows`]: back to the original shape (standard layout).
    pub(crate) fn back_from_rows(&self, m: Array2<f32>) -> Tensor {
        let t = m
            .into_shape_with_order(IxDyn(&self.permuted_shape))
            .expect("same number of elements");
        if self.identity {
            return t;
        }
        let mut inverse = vec![0; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inverse[p] = i;
        }
        t.permuted_axes(IxDyn(&inverse)).as_standard_layout().into_owned()
    }
}

/// Resolves a Keras axis (negative counts from the end) against a rank that
/// includes the batch axis; `None` if out of range or the batch axis.
pub(crate) fn resolve_axis(axis: isize, rank: usize) -> Option<usize> {
    let a = if axis < 0 { axis + rank as isize } else { axis };
    (a >= 1 && (a as usize) < rank).then_some(a as usize)
}

/// The expected-shape text of an error: `(batch, *, *, 16)` for channel 16 on axis 3 of a rank-4 input.
pub(crate) fn expected_shape(rank: usize, fixed: &[(usize, usize)]) -> String {
    let dims: Vec<String> = (0..rank)
        .map(|a| {
            if a == 0 {
                "batch".to_string()
            } else {
                fixed
                    .iter()
                    .find(|(ax, _)| *ax == a)
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_else(|| "*".to_string())
            }
        })
        .collect();
    format!("({})", dims.join(", "))
}

/// `gamma` (iff `scale`, from `gamma_init`) and `beta` (iff `center`, from
/// `beta_init`) of shape `shape`, drawn from `rng` in that order: what the
/// normalization layers build.
pub(crate) fn build_gamma_beta(
    layer: &str,
    (scale, gamma_init): (bool, &Initializer),
    (center, beta_init): (bool, &Initializer),
    shape: &[usize],
    rng: &mut Generator,
) -> Result<(Option<Var>, Option<Var>)> {
    let mut make = |wanted: bool, init: &Initializer, what: &str| -> Result<Option<Var>> {
        Ok(if wanted {
            Some(Var::parameter(init.initialize_variable(shape, rng, layer, what)?))
        } else {
            None
        })
    };
    let gamma = make(scale, gamma_init, "gamma")?;
    let beta = make(center, beta_init, "beta")?;
    Ok((gamma, beta))
}

/// Checks `gamma` and `beta` given to a normalization's `set_weight_vars`: each
/// given iff `scale` / `center`, with shape `shape` (worded `shape_words`
/// in the error).
pub(crate) fn check_gamma_beta(
    layer: &str,
    (gamma, scale): (&Option<Var>, bool),
    (beta, center): (&Option<Var>, bool),
    shape: &[usize],
    shape_words: &str,
) -> Result<()> {
    for (what, var, wanted) in [("gamma", gamma, scale), ("beta", beta, center)] {
        match var {
            Some(v) if wanted && v.shape() != shape => {
                return Err(shape_error(layer, format!("{what} {shape_words}"), &v.shape()))
            }
            Some(_) if wanted => {}
            None if !wanted => {}
            _ => {
                return Err(config_error(
                    layer,
                    format!(
                        "{what} must be given iff {}",
                        if what == "gamma" { "scale" } else { "center" }
                    ),
                ))
            }
        }
    }
    Ok(())
}
