//! `OptimizerState`: what an optimizer has learnt (iteration count and
//! per-parameter slot tensors), serialisable with serde and as safetensors.

use crate::core::MAX_ITERATIONS;
use crate::error::{OptimError, Result};
use ndarray::{ArrayD, Dimension, IxDyn};
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

    /// Checks what can be checked without a model or an optimizer: every
    /// slot key is `"<parameter>/<slot>"`, the iteration count is at most
    /// [`MAX_ITERATIONS`], every slot value and optimizer-level variable is
    /// finite, and the slots of one parameter share a shape.
    ///
    /// ```
    /// use neurite_optim::{OptimError, OptimizerState};
    /// let mut state = OptimizerState::default();
    /// state.slots.insert("w/momentum".into(), ndarray::arr1(&[0.0f32, f32::NAN]).into_dyn());
    /// assert!(matches!(state.validate(), Err(OptimError::NonFiniteState { ref key, .. }) if key == "w/momentum"));
    /// let state = OptimizerState { iterations: u64::MAX, ..Default::default() };
    /// assert!(matches!(state.validate(), Err(OptimError::IterationLimit { .. })));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.iterations > MAX_ITERATIONS {
            return Err(OptimError::IterationLimit {
                context: "optimizer state".into(),
                iterations: self.iterations,
                limit: MAX_ITERATIONS,
            });
        }
        let mut first_shape: BTreeMap<&str, (&str, &[usize])> = BTreeMap::new();
        for (key, slot) in &self.slots {
            let (param, slot_name) = Self::split_key(key).ok_or_else(|| {
                OptimError::Serialization(format!("slot key `{key}` is not `<parameter>/<slot>`"))
            })?;
            if let Some((index, &value)) = slot.indexed_iter().find(|(_, x)| !x.is_finite()) {
                return Err(OptimError::NonFiniteState {
                    key: key.clone(),
                    index: index.slice().to_vec(),
                    value,
                });
            }
            let (first_slot, shape) = *first_shape.entry(param).or_insert((slot_name, slot.shape()));
            if slot.shape() != shape {
                return Err(OptimError::ShapeMismatch {
                    parameter: param.to_string(),
                    what: format!("slot `{slot_name}` (beside slot `{first_slot}`)"),
                    expected: shape.to_vec(),
                    actual: slot.shape().to_vec(),
                });
            }
        }
        if let Some((name, &value)) = self.globals.iter().find(|(_, v)| !v.is_finite()) {
            return Err(OptimError::NonFiniteState {
                key: format!("global.{name}"),
                index: Vec::new(),
                value,
            });
        }
        Ok(())
    }

    /// Checks the state against the model it will be used with, given as
    /// the names (as passed to [`crate::Optimizer::step`]) and shapes of
    /// its trainable parameters: [`OptimizerState::validate`], then every
    /// parameter named in the slots must be among `params`
    /// ([`OptimError::UnknownParameter`]) and each slot must have its
    /// parameter's shape ([`OptimError::ShapeMismatch`]). Parameters without
    /// slots are fine (not yet trained). Which slot names are right depends
    /// on the optimizer: [`crate::Optimizer::check_state`] checks those too.
    ///
    /// ```
    /// use neurite_optim::{OptimError, OptimizerState};
    /// let mut state = OptimizerState::default();
    /// state.slots.insert("dense/kernel/momentum".into(), ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3])));
    /// assert!(state.check_against(&[("dense/kernel", &[2, 3]), ("dense/bias", &[3])]).is_ok());
    /// let err = state.check_against(&[("dense/kernel", &[3, 2])]).unwrap_err();
    /// assert_eq!(err, OptimError::ShapeMismatch {
    ///     parameter: "dense/kernel".into(),
    ///     what: "slot `momentum`".into(),
    ///     expected: vec![3, 2],
    ///     actual: vec![2, 3],
    /// });
    /// assert_eq!(state.check_against(&[]), Err(OptimError::UnknownParameter("dense/kernel".into())));
    /// ```
    pub fn check_against(&self, params: &[(&str, &[usize])]) -> Result<()> {
        self.validate()?;
        let mut shapes: HashMap<&str, &[usize]> = HashMap::with_capacity(params.len());
        for (name, shape) in params {
            if shapes.insert(name, shape).is_some() {
                return Err(OptimError::DuplicateParameter(name.to_string()));
            }
        }
        for (key, slot) in &self.slots {
            // validate() has checked the key's form.
            let Some((param, slot_name)) = Self::split_key(key) else {
                continue;
            };
            let shape = *shapes
                .get(param)
                .ok_or_else(|| OptimError::UnknownParameter(param.to_string()))?;
            if slot.shape() != shape {
                return Err(OptimError::ShapeMismatch {
                    parameter: param.to_string(),
                    what: format!("slot `{slot_name}`"),
                    expected: shape.to_vec(),
                    actual: slot.shape().to_vec(),
                });
            }
        }
        Ok(())
    }

    /// [`OptimizerState::check_against`] with the parameters' shapes taken
    /// from the variables.
    ///
    /// ```
    /// use neurite_optim::{OptimError, OptimizerState};
    /// let mut state = OptimizerState::default();
    /// state.slots.insert("ghost/momentum".into(), ndarray::ArrayD::zeros(ndarray::IxDyn(&[2])));
    /// let w = neurite_autograd::Var::parameter(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2])));
    /// assert_eq!(state.check_parameters(&[("w", &w)]), Err(OptimError::UnknownParameter("ghost".into())));
    /// ```
    pub fn check_parameters(&self, params: &[(&str, &Var)]) -> Result<()> {
        let shapes: Vec<(&str, Vec<usize>)> = params.iter().map(|(n, v)| (*n, v.shape())).collect();
        let shapes: Vec<(&str, &[usize])> = shapes.iter().map(|(n, s)| (*n, s.as_slice())).collect();
        self.check_against(&shapes)
    }

    /// Serialises to safetensors bytes: one little-endian `F32` tensor per
    /// slot (named by its key); iteration count and optimizer-level scalars
    /// (as exact `f32` bit patterns) in the header metadata. Python's
    /// `safetensors.numpy.load` reads the slots.
    ///
    /// Refuses (with the error [`OptimizerState::validate`] gives) a state
    /// that [`OptimizerState::from_safetensors`] and a checked load would
    /// refuse: a non-finite slot or global (left by an update that failed
    /// with [`OptimError::NonFiniteUpdate`]), an iteration count past
    /// [`crate::MAX_ITERATIONS`], a malformed slot key. So whatever is written
    /// loads again, and a save never replaces a good state with a broken one.
    ///
    /// ```
    /// let bytes = neurite_optim::OptimizerState::default().to_safetensors()?;
    /// assert!(bytes.len() > 8);
    /// let mut broken = neurite_optim::OptimizerState::default();
    /// broken.slots.insert("w/m".into(), ndarray::arr1(&[f32::INFINITY]).into_dyn());
    /// assert!(broken.to_safetensors().unwrap_err().to_string().contains("w/m"));
    /// # Ok::<(), neurite_optim::OptimError>(())
    /// ```
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        self.validate()?;
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
