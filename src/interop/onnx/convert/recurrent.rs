//! SimpleRNN, LSTM and GRU as ONNX's `RNN`, `LSTM` and `GRU` (time-major, one direction), and
//! Bidirectional over them. Keras' fused kernels `(in, gates * units)` become ONNX's
//! `(1, gates * units, in)` with the gates reordered (LSTM: Keras i, f, c, o; ONNX i, o, f, c;
//! GRU: z, r, h in both); Keras' one bias is ONNX's input bias with a zero recurrent bias
//! (GRU with `reset_after` has both, and is ONNX's `linear_before_reset = 1`).

use super::super::builder::{int, string, strings, GraphBuilder};
use super::super::error::OnnxError;
use super::super::layer_view::LayerView;
use super::super::value::Value;
use neurite_nn::layers::RecurrentConfig;
use neurite_nn::Activation;

/// The ONNX operator of a recurrent class and the Keras gate of each ONNX gate.
fn op_and_gates(class: &str) -> Option<(&'static str, &'static [usize])> {
    match class {
        "SimpleRNN" => Some(("RNN", &[0])),
        "LSTM" => Some(("LSTM", &[0, 3, 1, 2])),
        "GRU" => Some(("GRU", &[0, 1, 2])),
        _ => None,
    }
}

fn onnx_activation(layer: &LayerView, a: Activation) -> Result<&'static str, OnnxError> {
    match a {
        Activation::Sigmoid => Ok("Sigmoid"),
        Activation::Tanh => Ok("Tanh"),
        Activation::Relu => Ok("Relu"),
        other => Err(layer.unsupported(format!(
            "activation {:?} inside a recurrent cell; ONNX's cells take sigmoid, tanh or relu",
            other.name()
        ))),
    }
}

/// `w` of shape `(rows, gates * units)` as ONNX's `(gates * units, rows)` in ONNX's gate order.
fn gate_major(w: &[f32], rows: usize, units: usize, gates: &[usize]) -> Vec<f32> {
    let cols = gates.len() * units;
    let mut out = Vec::with_capacity(w.len());
    for &g in gates {
        for u in 0..units {
            let col = g * units + u;
            out.extend((0..rows).map(|r| w[r * cols + col]));
        }
    }
    out
}

/// The same reordering for one bias vector of `gates * units`.
fn reorder_bias(bias: &[f32], units: usize, gates: &[usize]) -> Vec<f32> {
    gates
        .iter()
        .flat_map(|&g| bias[g * units..(g + 1) * units].iter().copied())
        .collect()
}

/// One recurrent cell over the time-major input `x_tm` (`(T, n, in)`), forward. Returns ONNX's `Y` (`(T, 1, n, units)`) and `Y_h` (`(1, n, units)`).
pub(crate) fn cell(
    b: &mut GraphBuilder,
    layer: &LayerView,
    x_tm: &str,
    features: usize,
) -> Result<(String, String), OnnxError> {
    let Some((op, gates)) = op_and_gates(&layer.class) else {
        return Err(layer.unsupported("not a recurrent layer (SimpleRNN, LSTM or GRU)"));
    };
    let cfg: RecurrentConfig = layer.typed()?;
    let units = cfg.units;
    let g = gates.len() * units;
    let kernel = layer.param_data("kernel", &[features, g])?;
    let recurrent = layer.param_data("recurrent_kernel", &[units, g])?;
    let reset_after = layer.class == "GRU" && cfg.reset_after.unwrap_or(true);
    let (input_bias, recurrent_bias) = match layer.opt_param("bias") {
        None => (vec![0.0; g], vec![0.0; g]),
        Some(_) if reset_after => {
            let both = layer.param_data("bias", &[2, g])?;
            (both[..g].to_vec(), both[g..].to_vec())
        }
        Some(_) => (layer.param_data("bias", &[g])?, vec![0.0; g]),
    };
    let mut bias = reorder_bias(&input_bias, units, gates);
    bias.extend(reorder_bias(&recurrent_bias, units, gates));
    let w = b.constant_f32(
        &format!("{}.kernel", layer.name),
        &[1, g, features],
        &gate_major(&kernel, features, units, gates),
    );
    let r = b.constant_f32(
        &format!("{}.recurrent_kernel", layer.name),
        &[1, g, units],
        &gate_major(&recurrent, units, units, gates),
    );
    let bias = b.constant_f32(&format!("{}.bias", layer.name), &[1, 2 * g], &bias);
    let mut attrs = vec![int("hidden_size", units as i64), string("direction", "forward")];
    let (f, h) = (
        onnx_activation(layer, cfg.recurrent_activation)?,
        onnx_activation(layer, cfg.activation)?,
    );
    let defaults = match op {
        "RNN" => h == "Tanh",
        _ => f == "Sigmoid" && h == "Tanh",
    };
    if !defaults {
        attrs.push(match op {
            "RNN" => strings("activations", &[h]),
            "LSTM" => strings("activations", &[f, h, h]),
            _ => strings("activations", &[f, h]),
        });
    }
    if op == "GRU" {
        attrs.push(int("linear_before_reset", reset_after as i64));
    }
    let y = b.fresh(&format!("{}/Y", layer.name));
    let y_h = b.fresh(&format!("{}/Y_h", layer.name));
    b.node_with_outputs(op, &[x_tm, &w, &r, &bias], &[y.clone(), y_h.clone()], attrs);
    Ok((y, y_h))
}

/// Reverses the time axis (0) of a time-major value of `steps` steps.
fn reverse_time(b: &mut GraphBuilder, x: &str, steps: usize) -> String {
    let idx: Vec<i64> = (0..steps as i64).rev().collect();
    let idx = b.constant_i64("reversed_steps", &idx);
    b.node("Gather", &[x, &idx], vec![int("axis", 0)])
}

fn check_supported(layer: &LayerView) -> Result<RecurrentConfig, OnnxError> {
    let cfg: RecurrentConfig = layer.typed()?;
    if layer.config.get("stateful").and_then(|s| s.as_bool()) == Some(true) {
        return Err(layer.unsupported("stateful=true: ONNX's cells start from zero state"));
    }
    Ok(cfg)
}

/// `Y` (`(T, 1, n, units)`) as neurite's `(n, T, units)`.
fn sequence_output(b: &mut GraphBuilder, y: &str, units: usize) -> String {
    let y = b.reshape(y, &[0, -1, units as i64]);
    b.transpose(&y, &[1, 0, 2])
}

/// SimpleRNN, LSTM, GRU. `go_backwards`: Keras returns the sequence in processing order (last
/// step first), which is a forward cell over the time-reversed input, so the input is reversed
/// (one `Gather`) and the cell runs forward.
pub(crate) fn recurrent(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let cfg = check_supported(layer)?;
    let (steps, features) = (x.shape[0], x.shape[1]);
    let input = x.in_native(b);
    let x_tm = b.transpose(&input, &[1, 0, 2]);
    let x_tm = if cfg.go_backwards {
        reverse_time(b, &x_tm, steps)
    } else {
        x_tm
    };
    let (y, y_h) = cell(b, layer, &x_tm, features)?;
    let out = if cfg.return_sequences {
        sequence_output(b, &y, cfg.units)
    } else {
        b.reshape(&y_h, &[-1, cfg.units as i64])
    };
    Ok(Value::native(out, layer.output_shape.clone()))
}

/// Bidirectional: the forward and backward layers as two cells, their outputs (the backward
/// sequence back in input order, as Keras) merged by `merge_mode`.
pub(crate) fn bidirectional(b: &mut GraphBuilder, layer: &LayerView, x: Value) -> Result<Value, OnnxError> {
    let merge: String = layer.get_or("merge_mode", "concat".to_string())?;
    let (steps, features) = (x.shape[0], x.shape[1]);
    let inner_out = |v: &LayerView| -> Result<(RecurrentConfig, Vec<usize>), OnnxError> {
        let cfg = check_supported(v)?;
        let shape = if cfg.return_sequences {
            vec![steps, cfg.units]
        } else {
            vec![cfg.units]
        };
        Ok((cfg, shape))
    };
    let fwd = layer.nested("layer", vec![x.shape.clone()], vec![])?;
    let bwd = layer.nested("backward_layer", vec![x.shape.clone()], vec![])?;
    let (fcfg, fshape) = inner_out(&fwd)?;
    let (bcfg, bshape) = inner_out(&bwd)?;
    if fshape != bshape {
        return Err(layer.unsupported("forward and backward layers of different sizes"));
    }
    let input = x.in_native(b);
    let x_tm = b.transpose(&input, &[1, 0, 2]);
    let mut outs = Vec::new();
    for (view, cfg) in [(&fwd, &fcfg), (&bwd, &bcfg)] {
        // A forward cell over the reversed input (not ONNX's `reverse` direction, which
        // tract 0.23 mis-runs), its sequence put back in input order as Keras does.
        let input = if cfg.go_backwards {
            reverse_time(b, &x_tm, steps)
        } else {
            x_tm.clone()
        };
        let (y, y_h) = cell(b, view, &input, features)?;
        outs.push(if cfg.return_sequences {
            let y = if cfg.go_backwards {
                reverse_time(b, &y, steps)
            } else {
                y
            };
            sequence_output(b, &y, cfg.units)
        } else {
            b.reshape(&y_h, &[-1, cfg.units as i64])
        });
    }
    let y = match merge.as_str() {
        "concat" => b.node("Concat", &[&outs[0], &outs[1]], vec![int("axis", -1)]),
        "sum" => b.node("Add", &[&outs[0], &outs[1]], vec![]),
        "mul" => b.node("Mul", &[&outs[0], &outs[1]], vec![]),
        "ave" => {
            let s = b.node("Add", &[&outs[0], &outs[1]], vec![]);
            let half = b.scalar_f32("half", 0.5);
            b.node("Mul", &[&s, &half], vec![])
        }
        other => return Err(layer.unsupported(format!("merge_mode {other:?}"))),
    };
    Ok(Value::native(y, layer.output_shape.clone()))
}
