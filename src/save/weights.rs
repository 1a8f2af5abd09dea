//! Weights as safetensors: one little-endian F32 tensor per parameter, keyed
//! by the parameter's full name (`dense_1.kernel`), layout row-major with
//! the shapes neurite uses (Dense kernel `(in, out)`, Conv2D kernel `(kh, kw, in, out)`).

use crate::error::{Error, Result};
use neurite_tensor::Tensor;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::Path;

/// Serialises named tensors to safetensors bytes with `metadata`.
pub(crate) fn to_bytes(tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Result<Vec<u8>> {
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

/// Reads every tensor of a safetensors file; errors name the file and the tensor.
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
        out.insert(name.to_string(), t);
    }
    Ok(out)
}
