//! The merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum (element-wise, in
//! whatever layout their inputs share), Concatenate (`Concat`) and Dot (`MatMul`).

use super::super::builder::{int, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::{Layout, Value};
use neurite_nn::layers::{ConcatenateConfig, DotAxes, DotConfig};

/// The inputs' names in one common layout: theirs if they all share it and have one shape,
/// else neurite's order.
fn common(b: &mut GraphBuilder, xs: &[Value]) -> (Vec<String>, Layout) {
    let layout = xs[0].layout;
    if xs.iter().all(|x| x.layout == layout && x.shape == xs[0].shape) {
        (xs.iter().map(|x| x.name.clone()).collect(), layout)
    } else {
        (xs.iter().map(|x| x.in_native(b)).collect(), Layout::Native)
    }
}

fn chain(b: &mut GraphBuilder, op: &str, names: &[String]) -> String {
    let mut acc = names[0].clone();
    for n in &names[1..] {
        acc = b.node(op, &[&acc, n], vec![]);
    }
    acc
}

/// Add, Subtract, Multiply, Average, Maximum, Minimum.
pub(crate) fn elementwise(
    b: &mut GraphBuilder,
    layer: &LayerView,
    xs: Vec<Value>,
) -> Result<Value, OnnxError> {
    let (names, layout) = common(b, &xs);
    let y = match layer.class.as_str() {
        "Add" => chain(b, "Add", &names),
        "Subtract" => {
            if names.len() != 2 {
                return Err(layer.model_error(format!("Subtract takes 2 inputs, got {}", names.len())));
            }
            b.node("Sub", &[&names[0], &names[1]], vec![])
        }
        "Multiply" => chain(b, "Mul", &names),
        "Maximum" => chain(b, "Max", &names),
        "Minimum" => chain(b, "Min", &names),
        "Average" => {
            let sum = chain(b, "Add", &names);
            let inv = b.scalar_f32("inverse_count", 1.0 / names.len() as f32);
            b.node("Mul", &[&sum, &inv], vec![])
        }
        other => unreachable!("merge converter called for {other}"),
    };
    Ok(Value {
        name: y,
        shape: layer.output_shape.clone(),
        layout,
    })
}

/// Concatenate along Keras' `axis` (negative from the end; positive counts the batch axis).
pub(crate) fn concatenate(
    b: &mut GraphBuilder,
    layer: &LayerView,
    xs: Vec<Value>,
) -> Result<Value, OnnxError> {
    let cfg: ConcatenateConfig = layer.typed()?;
    let rank = xs[0].rank() as i64;
    let axis = if cfg.axis < 0 { cfg.axis + rank } else { cfg.axis };
    if axis < 1 || axis >= rank {
        return Err(layer.model_error(format!("axis {} does not fit inputs of rank {rank}", cfg.axis)));
    }
    let all_first = xs.iter().all(|x| x.layout == Layout::ChannelsFirst);
    if all_first {
        // Channels (the last native axis) sit at 1; spatial axis a at a + 1.
        let onnx_axis = if axis == rank - 1 { 1 } else { axis + 1 };
        let names: Vec<&str> = xs.iter().map(|x| x.name.as_str()).collect();
        let y = b.node("Concat", &names, vec![int("axis", onnx_axis)]);
        return Ok(Value::channels_first(y, layer.output_shape.clone()));
    }
    let names: Vec<String> = xs.iter().map(|x| x.in_native(b)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let y = b.node("Concat", &refs, vec![int("axis", axis)]);
    Ok(Value::native(y, layer.output_shape.clone()))
}

/// `x / sqrt(max(sum(x^2, axis), 1e-12))`, Keras' `l2_normalize`.
fn l2_normalize(b: &mut GraphBuilder, x: &str, axis: i64) -> String {
    let sq = b.node("Mul", &[x, x], vec![]);
    let axes = b.constant_i64("axes", &[axis]);
    let sum = b.node("ReduceSum", &[&sq, &axes], vec![int("keepdims", 1)]);
    let eps = b.scalar_f32("epsilon", 1e-12);
    let floor = b.node("Max", &[&sum, &eps], vec![]);
    let norm = b.node("Sqrt", &[&floor], vec![]);
    b.node("Div", &[x, &norm], vec![])
}

/// Dot of two 2-d or two 3-d inputs (Keras' `batch_dot`), as one batched `MatMul`.
pub(crate) fn dot(b: &mut GraphBuilder, layer: &LayerView, xs: Vec<Value>) -> Result<Value, OnnxError> {
    let cfg: DotConfig = layer.typed()?;
    let rank = xs[0].rank() as i64;
    if xs.len() != 2 || xs[1].rank() as i64 != rank || !(rank == 2 || rank == 3) {
        return Err(layer.unsupported(format!(
            "Dot exports for two inputs of rank 2 or 3 (batch included); got shapes {:?}",
            xs.iter().map(|x| &x.shape).collect::<Vec<_>>()
        )));
    }
    let norm = |a: i64| if a < 0 { a + rank } else { a };
    let (ax, ay) = match cfg.axes {
        DotAxes::One(a) => (norm(a), norm(a)),
        DotAxes::Pair([a, c]) => (norm(a), norm(c)),
    };
    let (mut x, mut y) = (xs[0].in_native(b), xs[1].in_native(b));
    if cfg.normalize {
        x = l2_normalize(b, &x, ax);
        y = l2_normalize(b, &y, ay);
    }
    let out = if rank == 2 {
        // (n, k) . (n, k) -> (n, 1, k) x (n, k, 1) -> (n, 1).
        let xk = b.reshape(&x, &[0, 1, -1]);
        let yk = b.reshape(&y, &[0, -1, 1]);
        let p = b.node("MatMul", &[&xk, &yk], vec![]);
        b.reshape(&p, &[0, 1])
    } else {
        // Contracted axis last in x, second in y.
        let xt = if ax == 2 { x } else { b.transpose(&x, &[0, 2, 1]) };
        let yt = if ay == 1 { y } else { b.transpose(&y, &[0, 2, 1]) };
        b.node("MatMul", &[&xt, &yt], vec![])
    };
    Ok(Value::native(out, layer.output_shape.clone()))
}
