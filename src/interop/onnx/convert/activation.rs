//! Activations (the `activation` argument of many layers, and the Activation, ReLU,
//! LeakyReLU, PReLU and Softmax layers).

use super::super::builder::{float, int, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::Value;
use neurite_nn::Activation;

/// Applies `activation` to `x`. Element-wise activations keep `x`'s layout; softmax works on
/// neurite's axis order.
pub(crate) fn apply(b: &mut GraphBuilder, activation: Activation, x: Value) -> Value {
    let elementwise = |b: &mut GraphBuilder, op: &str, attrs| {
        let y = b.node(op, &[&x.name], attrs);
        x.like(y, x.shape.clone())
    };
    match activation {
        Activation::Linear => x,
        Activation::Relu => elementwise(b, "Relu", vec![]),
        Activation::Sigmoid => elementwise(b, "Sigmoid", vec![]),
        Activation::Tanh => elementwise(b, "Tanh", vec![]),
        Activation::Softplus => elementwise(b, "Softplus", vec![]),
        Activation::Selu => elementwise(b, "Selu", vec![]),
        Activation::Elu => elementwise(b, "Elu", vec![float("alpha", 1.0)]),
        Activation::EluWith { alpha } => elementwise(b, "Elu", vec![float("alpha", alpha)]),
        Activation::LeakyRelu => elementwise(b, "LeakyRelu", vec![float("alpha", 0.2)]),
        Activation::LeakyReluWith { alpha } => elementwise(b, "LeakyRelu", vec![float("alpha", alpha)]),
        Activation::Swish => {
            let s = b.node("Sigmoid", &[&x.name], vec![]);
            let y = b.node("Mul", &[&x.name, &s], vec![]);
            x.like(y, x.shape.clone())
        }
        Activation::Gelu => {
            // Keras' exact form: x * (1 + erf(x / sqrt(2))) / 2.
            let inv_sqrt2 = b.scalar_f32("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2);
            let (one, half) = (b.scalar_f32("one", 1.0), b.scalar_f32("half", 0.5));
            let scaled = b.node("Mul", &[&x.name, &inv_sqrt2], vec![]);
            let erf = b.node("Erf", &[&scaled], vec![]);
            let plus = b.node("Add", &[&erf, &one], vec![]);
            let times = b.node("Mul", &[&x.name, &plus], vec![]);
            let y = b.node("Mul", &[&times, &half], vec![]);
            x.like(y, x.shape.clone())
        }
        Activation::Softmax => softmax(b, x, -1),
        Activation::SoftmaxWith { axis } => softmax(b, x, axis as i64),
    }
}

/// Softmax over neurite's `axis` (negative from the end; the batch axis is 0).
fn softmax(b: &mut GraphBuilder, x: Value, axis: i64) -> Value {
    let name = x.in_native(b);
    let y = b.node("Softmax", &[&name], vec![int("axis", axis)]);
    Value::native(y, x.shape)
}

/// The layer's `activation` config field.
pub(crate) fn of_layer(layer: &LayerView) -> Result<Activation, OnnxError> {
    layer.get_or("activation", Activation::Linear)
}

/// The Activation layer.
pub(crate) fn activation_layer(
    b: &mut GraphBuilder,
    layer: &LayerView,
    x: Value,
) -> Result<Value, OnnxError> {
    Ok(apply(b, of_layer(layer)?, x))
}

/// The ReLU layer: `max_value`, `negative_slope` and `threshold` as Keras:
/// `x >= threshold ? min(x, max_value) : negative_slope * (x - threshold)`.
pub(crate) fn relu_layer(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let max_value: Option<f32> = layer.get_or("max_value", None)?;
    let slope: f32 = layer.get_or("negative_slope", 0.0)?;
    let threshold: f32 = layer.get_or("threshold", 0.0)?;
    let mut y = if slope == 0.0 && threshold == 0.0 {
        b.node("Relu", &[&x.name], vec![])
    } else {
        let t = b.scalar_f32("threshold", threshold);
        let s = b.scalar_f32("negative_slope", slope);
        let below = b.node("Sub", &[&x.name, &t], vec![]);
        let scaled = b.node("Mul", &[&below, &s], vec![]);
        let keep = b.node("GreaterOrEqual", &[&x.name, &t], vec![]);
        b.node("Where", &[&keep, &x.name, &scaled], vec![])
    };
    if let Some(m) = max_value {
        let m = b.scalar_f32("max_value", m);
        y = b.node("Min", &[&y, &m], vec![]);
    }
    Ok(x.like(y, x.shape.clone()))
}

/// The LeakyReLU layer (`negative_slope`, Keras 3's name; 0.3 by default).
pub(crate) fn leaky_relu_layer(
    b: &mut GraphBuilder,
    layer: &LayerView,
    x: Value,
) -> Result<Value, OnnxError> {
    let slope: f32 = match layer.config.get("negative_slope") {
        Some(_) => layer.get("negative_slope")?,
        None => layer.get_or("alpha", 0.3)?,
    };
    Ok(apply(b, Activation::LeakyReluWith { alpha: slope }, x))
}

/// The PReLU layer: `PRelu` with the learned slopes, broadcast over neurite's axis order.
pub(crate) fn prelu_layer(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let alpha = layer.param("alpha")?;
    let shape = alpha.shape().to_vec();
    let data: Vec<f32> = alpha.iter().copied().collect();
    let key = format!("{}.alpha", layer.name);
    let slope = b.weight(&key, &key, || (shape, data));
    let input = x.in_native(b);
    let y = b.node("PRelu", &[&input, &slope], vec![]);
    Ok(Value::native(y, x.shape))
}
