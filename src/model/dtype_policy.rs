//! `DtypePolicy`: Keras' mixed-precision policy of a model.

use crate::error::{Error, Result};
use neurite_tensor::precision::Precision;
use std::fmt;
use std::str::FromStr;

/// The precision a model computes in, named as Keras' dtype policies.
///
/// - `"float32"` (the default): everything in `f32`.
/// - `"mixed_bfloat16"` (Keras' `mixed_bfloat16`, PyTorch's CPU autocast to
///   bfloat16): the matrix products and convolutions of the forward and
///   backward passes (Dense, Conv2D, ...) take bf16 operands and accumulate in
///   `f32`; weights, optimizer state, losses, metrics and element-wise work
///   (activations, normalisation, pooling) stay `f32`. On CPUs with AMX or
///   AVX512-BF16 the products run on those units (see
///   [`neurite_tensor::bf16`]); elsewhere a portable path gives the same
///   values. Recurrent layers' step-by-step products stay `f32`.
///
/// The policy is part of the model: `fit`, `train_on_batch`, `evaluate` and
/// `predict` run under it, and `save` records it. Loss scaling is not needed:
/// bf16 has `f32`'s exponent range.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::DtypePolicy;
/// let mut model = Sequential::new()
///     .add(Dense::new(4).activation(Activation::Relu).input_shape([3]))
///     .add(Dense::new(1))
///     .dtype_policy(DtypePolicy::MixedBfloat16);
/// assert_eq!(model.get_dtype_policy().name(), "mixed_bfloat16");
/// assert_eq!("mixed_bfloat16".parse::<DtypePolicy>()?, DtypePolicy::MixedBfloat16);
/// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
/// let x = ndarray::Array2::<f32>::ones((8, 3)).into_dyn();
/// let y = model.predict(&x)?;
/// assert_eq!(y.shape(), &[8, 1]);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DtypePolicy {
    /// Everything in `f32` (Keras' `"float32"`).
    #[default]
    Float32,
    /// bf16 products with `f32` accumulation, `f32` variables (Keras' `"mixed_bfloat16"`).
    MixedBfloat16,
}

impl DtypePolicy {
    /// Every policy, in the order Keras lists them.
    ///
    /// ```
    /// assert_eq!(neurite::DtypePolicy::ALL.len(), 2);
    /// ```
    pub const ALL: [DtypePolicy; 2] = [DtypePolicy::Float32, DtypePolicy::MixedBfloat16];

    /// Keras' name of the policy (`"float32"`, `"mixed_bfloat16"`).
    ///
    /// ```
    /// assert_eq!(neurite::DtypePolicy::Float32.name(), "float32");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DtypePolicy::Float32 => "float32",
            DtypePolicy::MixedBfloat16 => "mixed_bfloat16",
        }
    }

    /// The dtype of the products (Keras' `compute_dtype`): `"float32"` or `"bfloat16"`.
    ///
    /// ```
    /// assert_eq!(neurite::DtypePolicy::MixedBfloat16.compute_dtype(), "bfloat16");
    /// ```
    pub fn compute_dtype(self) -> &'static str {
        match self {
            DtypePolicy::Float32 => "float32",
            DtypePolicy::MixedBfloat16 => "bfloat16",
        }
    }

    /// The dtype of the weights (Keras' `variable_dtype`): always `"float32"`.
    ///
    /// ```
    /// assert_eq!(neurite::DtypePolicy::MixedBfloat16.variable_dtype(), "float32");
    /// ```
    pub fn variable_dtype(self) -> &'static str {
        "float32"
    }

    /// The kernel precision this policy runs the products at.
    pub(crate) fn precision(self) -> Precision {
        match self {
            DtypePolicy::Float32 => Precision::F32,
            DtypePolicy::MixedBfloat16 => Precision::Bf16,
        }
    }
}

impl fmt::Display for DtypePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DtypePolicy {
    type Err = Error;

    /// Parses Keras' policy names; anything else is an error listing them.
    fn from_str(s: &str) -> Result<Self> {
        DtypePolicy::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let known: Vec<&str> = DtypePolicy::ALL.iter().map(|p| p.name()).collect();
            Error::Model(format!(
                "unknown dtype policy {s:?}: expected one of {known:?} (\"mixed_float16\" is not supported: CPUs have no fast f16 products)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for p in DtypePolicy::ALL {
            assert_eq!(p.name().parse::<DtypePolicy>().unwrap(), p);
            assert_eq!(p.to_string(), p.name());
        }
        let e = "mixed_float16".parse::<DtypePolicy>().unwrap_err().to_string();
        assert!(e.contains("mixed_float16") && e.contains("mixed_bfloat16"), "{e}");
        assert!("".parse::<DtypePolicy>().is_err());
    }
}
