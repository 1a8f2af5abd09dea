//! Layer converters, one file per family; [`convert`] picks one by class name.

pub(crate) mod activation;
mod attention;
mod conv;
mod dense;
mod merge;
mod norm;
mod pooling;
mod recurrent;
mod shape;

use super::builder::GraphBuilder;
use super::error::OnnxError;
use super::layer_view::LayerView;
use super::value::Value;

/// The layer classes the exporter converts, as listed in its errors.
pub const SUPPORTED_CLASSES: &[&str] = &[
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Cropping2D",
    "Dense",
    "DepthwiseConv2D",
    "Dot",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRU",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "LSTM",
    "LayerNormalization",
    "LeakyReLU",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "MultiHeadAttention",
    "Multiply",
    "PReLU",
    "ReLU",
    "Reshape",
    "SeparableConv2D",
    "SimpleRNN",
    "Subtract",
    "TimeDistributed",
    "UpSampling2D",
    "ZeroPadding2D",
];

fn one(layer: &LayerView, mut xs: Vec<Value>) -> Result<Value, OnnxError> {
    if xs.len() != 1 {
        return Err(layer.model_error(format!("takes one input, the graph gives it {}", xs.len())));
    }
    Ok(xs.remove(0))
}

/// Adds the nodes of `layer` called on `xs` and returns its output.
pub(crate) fn convert(b: &mut GraphBuilder, layer: &LayerView, xs: Vec<Value>) -> Result<Value, OnnxError> {
    b.layer = layer.name.clone();
    if xs.len() != layer.input_shapes.len() {
        return Err(layer.model_error(format!(
            "is called on {} values but was planned for {} inputs",
            xs.len(),
            layer.input_shapes.len()
        )));
    }
    match layer.class.as_str() {
        "Add" | "Subtract" | "Multiply" | "Average" | "Maximum" | "Minimum" => {
            merge::elementwise(b, layer, xs)
        }
        "Concatenate" => merge::concatenate(b, layer, xs),
        "Dot" => merge::dot(b, layer, xs),
        "MultiHeadAttention" => attention::multi_head_attention(b, layer, xs),
        _ => {
            let x = one(layer, xs)?;
            match layer.class.as_str() {
                "Dense" => dense::dense(b, layer, x),
                "Embedding" => dense::embedding(b, layer, x),
                "Conv2D" => conv::conv2d(b, layer, x),
                "Conv1D" => conv::conv1d(b, layer, x),
                "Conv2DTranspose" => conv::conv2d_transpose(b, layer, x),
                "DepthwiseConv2D" => conv::depthwise_conv2d(b, layer, x),
                "SeparableConv2D" => conv::separable_conv2d(b, layer, x),
                "MaxPooling2D" | "AveragePooling2D" => pooling::pooling2d(b, layer, x),
                "MaxPooling1D" | "AveragePooling1D" => pooling::pooling1d(b, layer, x),
                "GlobalMaxPooling2D"
                | "GlobalAveragePooling2D"
                | "GlobalMaxPooling1D"
                | "GlobalAveragePooling1D" => pooling::global_pooling(b, layer, x),
                "BatchNormalization" => norm::batch_norm(b, layer, x),
                "LayerNormalization" => norm::layer_norm(b, layer, x),
                "Activation" => activation::activation_layer(b, layer, x),
                "ReLU" => activation::relu_layer(b, layer, x),
                "LeakyReLU" => activation::leaky_relu_layer(b, layer, x),
                "PReLU" => activation::prelu_layer(b, layer, x),
                "Flatten" | "Reshape" => shape::reshape(b, layer, x),
                "Dropout" => Ok(x),
                "ZeroPadding2D" => shape::zero_padding2d(b, layer, x),
                "Cropping2D" => shape::cropping2d(b, layer, x),
                "UpSampling2D" => shape::up_sampling2d(b, layer, x),
                "SimpleRNN" | "LSTM" | "GRU" => recurrent::recurrent(b, layer, x),
                "Bidirectional" => recurrent::bidirectional(b, layer, x),
                "TimeDistributed" => time_distributed(b, layer, x),
                other => Err(OnnxError::UnsupportedLayer {
                    layer: layer.name.clone(),
                    class: other.to_string(),
                    supported: SUPPORTED_CLASSES.join(", "),
                }),
            }
        }
    }
}

/// TimeDistributed: batch and time merged into one axis, the inner layer converted on that,
/// and the axes split again.
fn time_distributed(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let steps = x.shape[0];
    let inner_in = x.shape[1..].to_vec();
    let inner_out = layer.output_shape[1..].to_vec();
    let inner = layer.nested("layer", vec![inner_in.clone()], inner_out.clone())?;
    let input = x.in_native(b);
    let mut merged = vec![-1];
    merged.extend(inner_in.iter().map(|&d| d as i64));
    let merged = b.reshape(&input, &merged);
    let y = convert(b, &inner, vec![Value::native(merged, inner_in)])?;
    b.layer = layer.name.clone();
    let y = y.in_native(b);
    let mut split = vec![-1, steps as i64];
    split.extend(inner_out.iter().map(|&d| d as i64));
    let y = b.reshape(&y, &split);
    Ok(Value::native(y, layer.output_shape.clone()))
}
