//! `OptimizerState`: what an optimizer has learnt (iteration count and
//! per-parameter slot tensors), serialisable with serde and as safetensors.

use crate::error::{OptimError, Result};
use ndarray::{ArrayD, IxDyn};
use neurite_autograd::Var;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Marker written into the safetensors metadata under `"format"`.
pub const SAFETENSORS_FORMAT: &str = "neurite-optim-state";

/// The learnt state of an optimizer: its iteration count, one tensor per
/// parameter and slot (keys `"<parameter>/<slot>"`, e.g.
/// `"dense_1/kernel/momentum"`; the slot name is what follows the last `/`),
/// and optimizer-level scalars (e.g. Nadam's `u_product`).
///
/// ```
/// use neurite_optim::{Adam, Optimizer, OptimizerState};
/// use neurite_autograd::Var;
/// let w = Var::parameter(ndarray::arr1(&[1.0f32, -2.0]).into_dyn());
/// w.set_grad(Some(ndarray::arr1(&[0.5f32, 0.5]).into_dyn()));
/// let mut opt = Adam::default();
/// opt.step(&[("w", &w)])?;
/// let state = opt.state();
/// assert_eq!(state.iterations, 1);
/// assert!(state.slots.contains_key("w/momentum"));
/// let bytes = state.to_safetensors()?;
/// assert_eq!(OptimizerState::from_safetensors(&bytes)?, state);
/// # Ok::<(), neurite_optim::OptimError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Number of steps taken.
    pub iterations: u64,
    /// Slot tensors keyed `"<parameter>/<slot>"`.
    pub slots: BTreeMap<String, ArrayD<f32>>,
    /// Optimizer-level scalar variables (empty for most optimizers).
    #[serde(default)]
    pub globals: BTreeMap<String, f32>,
}

impl OptimizerState {
    /// The key of a slot tensor: `"<parameter>/<slot>"`.
    ///
    /// ```
    /// assert_eq!(neurite_optim::OptimizerState::slot_key("dense/kernel", "velocity"), "dense/kernel/velocity");
    /// ```
    pub fn slot_key(parameter: &str, slot: &str) -> String {
        format!("{parameter}/{slot}")
    }

    /// Splits a slot key at its last `/` into `(parameter, slot)`.
    ///
    /// ```
    /// assert_eq!(neurite_optim::OptimizerState::split_key("dense/kernel/m"), Some(("dense/kernel", "m")));
    /// assert_eq!(neurite_optim::OptimizerState::split_key("nokey"), None);
    /// ```
    pub fn split_key(key: &str) -> Option<(&str, &str)> {
        key.rsplit_once('/')
            .filter(|(p, s)| !p.is_empty() && !s.is_empty())
    }

    /// Checks that every parameter named in the slots is among `params` and
    /// that each slot has its parameter's shape.
    ///
    /// ```
    /// use neurite_optim::{OptimError, OptimizerState};
    /// let mut state = OptimizerState::default();
    /// state.slots.insert("ghost/momentum".into(), ndarray::ArrayD::zeros(ndarray::IxDyn(&[2])));
    /// let w = neurite_autograd::Var::parameter(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2])));
    /// assert_eq!(state.check_parameters(&[("w", &w)]), Err(OptimError::UnknownParameter("ghost".into())));
    /// ```
    pub fn check_parameters(&self, params: &[(&str, &Var)]) -> Result<()> {
        for (key, slot) in &self.slots {
            let (param, slot_name) = Self::split_key(key).ok_or_else(|| {
                OptimError::Serialization(format!("slot key `{key}` is not `<parameter>/<slot>`"))
            })?;
            let var = params
                .iter()
                .find(|(n, _)| *n == param)
                .map(|(_, v)| *v)
                .ok_or_else(|| OptimError::UnknownParameter(param.to_string()))?;
            let shape = var.shape();
            if slot.shape() != shape.as_slice() {
                return Err(OptimError::ShapeMismatch {
                    parameter: param.to_string(),
                    what: format!("slot `{slot_name}`"),
                    expected: shape,
                    actual: slot.shape().to_vec(),
                });
            }
        }
        Ok(())
    }

    /// Serialises to safetensors bytes: one little-endian `F32` tensor per
    /// slot (named by its key); iteration count and optimizer-level scalars
    /// (as exact `f32` bit patterns) in the header metadata. Python's
    /// `safetensors.numpy.load` reads the slots.
    ///
    /// ```
    /// let bytes = neurite_optim::OptimizerState::default().to_safetensors()?;
    /// assert!(bytes.len() > 8);
    /// # Ok::<(), neurite_optim::OptimError>(())
    /// ```
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let buffers: Vec<(&str, Vec<u8>, Vec<usize>)> = self
            .slots
            .iter()
            .map(|(k, a)| {
                let mut bytes = Vec::with_capacity(a.len() * 4);
                for x in a.iter() {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                (k.as_str(), bytes, a.shape().to_vec())
            })
            .collect();
        let views = buffers
            .iter()
            .map(|(k, b, s)| {
                TensorView::new(Dtype::F32, s.clone(), b)
                    .map(|v| (*k, v))
                    .map_err(|e| OptimError::Serialization(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), SAFETENSORS_FORMAT.to_string());
        meta.insert("iterations".to_string(), self.iterations.to_string());
        for (name, value) in &self.globals {
            meta.insert(format!("global.{name}"), value.to_bits().to_string());
        }
        safetensors::serialize(views, Some(meta)).map_err(|e| OptimError::Serialization(e.to_string()))
    }

    /// Reads bytes written by [`OptimizerState::to_safetensors`].
    ///
    /// ```
    /// assert!(neurite_optim::OptimizerState::from_safetensors(b"not safetensors").is_err());
    /// ```
    pub fn from_safetensors(bytes: &[u8]) -> Result<OptimizerState> {
        let ser = |e: safetensors::SafeTensorError| OptimError::Serialization(e.to_string());
        let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).map_err(ser)?;
        let tensors = safetensors::SafeTensors::deserialize(bytes).map_err(ser)?;
        let meta = metadata.metadata().clone().unwrap_or_default();
        match meta.get("format") {
            Some(f) if f == SAFETENSORS_FORMAT => {}
            other => {
                return Err(OptimError::Serialization(format!(
                    "metadata `format` is {other:?}, expected {SAFETENSORS_FORMAT:?}"
                )));
            }
        }
        let iterations = meta
            .get("iterations")
            .ok_or_else(|| OptimError::Serialization("metadata has no `iterations`".into()))?
            .parse::<u64>()
            .map_err(|e| OptimError::Serialization(format!("metadata `iterations`: {e}")))?;
        let mut globals = BTreeMap::new();
        for (k, v) in &meta {
            if let Some(name) = k.strip_prefix("global.") {
                let bits = v
                    .parse::<u32>()
                    .map_err(|e| OptimError::Serialization(format!("metadata `{k}`: {e}")))?;
                globals.insert(name.to_string(), f32::from_bits(bits));
            }
        }
        let mut slots = BTreeMap::new();
        for (name, view) in tensors.iter() {
            if view.dtype() != Dtype::F32 {
                return Err(OptimError::Serialization(format!(
                    "tensor `{name}` has dtype {:?}, expected F32",
                    view.dtype()
                )));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let array = ArrayD::from_shape_vec(IxDyn(view.shape()), data)
                .map_err(|e| OptimError::Serialization(format!("tensor `{name}`: {e}")))?;
            slots.insert(name.to_string(), array);
        }
        Ok(OptimizerState {
            iterations,
            slots,
            globals,
        })
    }
}
