//! Weights as safetensors: one little-endian F32 tensor per parameter, keyed
//! by the parameter's full name (`dense_1.kernel`), layout row-major with
//! the shapes neurite uses (Dense kernel `(in, out)`, Conv2D kernel `(kh, kw, in, out)`).

use crate::error::{Error, Result};
use ndarray::Dimension;
use neurite_tensor::Tensor;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::Path;

/// Serialises named tensors to safetensors bytes with `metadata`.
///
/// Refuses a non-finite value (what an update that failed with
/// `NonFiniteUpdate` leaves behind), naming the parameter and the index: a
/// save must not replace the last good checkpoint with a broken model.
pub(crate) fn to_bytes(tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    for (name, t) in tensors {
        if let Some((index, value)) = t.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Model(format!(
                "save: parameter {name} holds {value} at index {:?}: the model is broken (a failed \
                 update?); nothing was written, restore good weights (load_weights, set_weights) first",
                index.slice()
            )));
        }
    }
    let buffers: Vec<(&str, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(name, t)| {
            let mut bytes = Vec::with_capacity(t.len() * 4);
            for x in t.iter() {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            (name.as_str(), bytes, t.shape().to_vec())
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, bytes, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (*name, v))
                .map_err(|e| Error::Model(format!("save: tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| Error::Model(format!("save: {e}")))
}

/// Reads every tensor of a safetensors file; errors name the file and the
/// tensor. A non-finite weight is refused (neurite never saves one).
pub(crate) fn from_bytes(bytes: &[u8], path: &Path) -> Result<HashMap<String, Tensor>> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = HashMap::new();
    for (name, view) in st.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::format(
                path,
                format!("tensor {name} has dtype {:?}, expected F32", view.dtype()),
            ));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let t = Tensor::from_shape_vec(ndarray::IxDyn(view.shape()), data)
            .map_err(|e| Error::format(path, format!("tensor {name}: {e}")))?;
        if let Some((index, value)) = t.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::format(
                path,
                format!(
                    "tensor {name} holds {value} at index {:?}: expected finite weights",
                    index.slice()
                ),
            ));
        }
        out.insert(name.to_string(), t);
    }
    Ok(out)
}
