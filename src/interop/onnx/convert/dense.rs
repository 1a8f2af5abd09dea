//! Dense (`MatMul` + `Add` over the last axis) and Embedding (`Gather`).

use super::super::builder::{int, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::Value;
use super::activation;

/// Dense: `x · kernel + bias` on the last axis, then the activation.
pub(crate) fn dense(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let input = x.in_native(b);
    let kernel = layer.weight(b, "kernel", None, None)?;
    let bias = match layer.opt_param("bias") {
        Some(_) => Some(layer.weight(b, "bias", None, None)?),
        None => None,
    };
    let y = b.matmul_add(&input, &kernel, bias.as_deref());
    Ok(activation::apply(
        b,
        activation::of_layer(layer)?,
        Value::native(y, layer.output_shape.clone()),
    ))
}

/// Embedding: the ids (floats, as neurite's inputs) cast to int64 and gathered from the table.
/// Ids outside the table are an error in the ONNX runtime, as in neurite.
pub(crate) fn embedding(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    if layer.get_or("mask_zero", false)? {
        return Err(layer.unsupported(
            "mask_zero=true: ONNX has no masks, so the layers reading the mask would compute \
             something else; export a copy built with mask_zero=false if no layer after it uses the mask",
        ));
    }
    let ids = x.in_native(b);
    let ids = b.node(
        "Cast",
        &[&ids],
        vec![int("to", super::super::proto::DATA_TYPE_INT64 as i64)],
    );
    let table = layer.weight(b, "embeddings", None, None)?;
    let y = b.node("Gather", &[&table, &ids], vec![int("axis", 0)]);
    Ok(Value::native(y, layer.output_shape.clone()))
}
