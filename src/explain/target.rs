//! Which output unit an attribution explains, per sample.

use crate::error::{Error, Result};
use ndarray::Axis;
use neurite_tensor::Tensor;

/// The output unit each sample's attribution explains.
///
/// ```
/// use neurite::explain::Target;
/// let outputs = ndarray::arr2(&[[0.1f32, 0.7, 0.2], [0.6, 0.3, 0.1]]).into_dyn();
/// assert_eq!(Target::Predicted.units(&outputs)?, vec![1, 0]);
/// assert_eq!(Target::Classes(vec![2, 2]).units(&outputs)?, vec![2, 2]);
/// assert!(Target::Class(3).units(&outputs).unwrap_err().to_string().contains("class 3"));
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// Each sample's predicted class (the largest output; unit 0 of a
    /// one-unit output such as a regression or a sigmoid).
    #[default]
    Predicted,
    /// The same class for every sample.
    Class(usize),
    /// One class per sample (e.g. the true labels).
    Classes(Vec<usize>),
    /// An output unit of a regression, the same for every sample.
    Unit(usize),
}

impl Target {
    /// The explained unit of every sample of `outputs` (the model's outputs,
    /// `(samples, units)`). Errors name a class or unit out of range, a
    /// class list of the wrong length, and a sample whose outputs are all NaN
    /// (no predicted class).
    pub fn units(&self, outputs: &Tensor) -> Result<Vec<usize>> {
        let &[n, k] = outputs.shape() else {
            return Err(Error::Input(format!(
                "explain: the model's output must have shape (samples, units), found {:?}",
                outputs.shape()
            )));
        };
        let in_range = |what: &str, unit: usize| {
            if unit < k {
                Ok(unit)
            } else {
                Err(Error::Input(format!(
                    "explain: {what} {unit} is out of range: the model has {k} output units (0..{k})"
                )))
            }
        };
        match self {
            Target::Predicted => outputs
                .axis_iter(Axis(0))
                .enumerate()
                .map(|(i, row)| {
                    row.iter()
                        .enumerate()
                        .filter(|(_, v)| !v.is_nan())
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .map(|(j, _)| j)
                        .ok_or_else(|| {
                            Error::Input(format!(
                                "explain: sample {i}'s outputs are all NaN, so it has no predicted class"
                            ))
                        })
                })
                .collect(),
            Target::Class(c) => Ok(vec![in_range("class", *c)?; n]),
            Target::Unit(u) => Ok(vec![in_range("output unit", *u)?; n]),
            Target::Classes(cs) => {
                if cs.len() != n {
                    return Err(Error::Input(format!(
                        "explain: Target::Classes has {} classes for {n} samples",
                        cs.len()
                    )));
                }
                cs.iter()
                    .enumerate()
                    .map(|(i, &c)| in_range(&format!("sample {i}'s class"), c))
                    .collect()
            }
        }
    }
}
