//! PyTorch weights: a `state_dict` saved with `safetensors.torch.save_file`
//! loaded into a neurite model of the same architecture, and a neurite
//! model's weights written as such a `state_dict`.
//!
//! PyTorch modules are matched with neurite's layers **by order**: the
//! modules that hold parameters, in module order, against the model's layers
//! that hold weights, in layer order. A safetensors file does not keep the
//! order in which PyTorch listed its modules, so module paths that are
//! numbers (`0.weight`, `3.bias`, `features.2.weight` inside numbered
//! containers: an `nn.Sequential`) are ordered by number; any other names
//! (`embedding.weight`, `lstm.weight_ih_l0`) need their order given
//! ([`Model::load_pytorch_weights_with_modules`]).
//!
//! The layouts converted (PyTorch → neurite, reversed on export), as in
//! `docs/interop.md`:
//!
//! | neurite layer | PyTorch module | conversion |
//! |---|---|---|
//! | Dense | Linear | weight `(out, in)` → kernel `(in, out)`; a Dense after a Flatten of a channels-last `(…, C)` input has its kernel rows reordered from PyTorch's channels-first flattening |
//! | Conv1D | Conv1d | `(O, I, W)` → `(W, I, O)` |
//! | Conv2D | Conv2d | `(O, I, H, W)` → `(H, W, I, O)` |
//! | Conv2DTranspose | ConvTranspose2d | `(I, O, H, W)` → `(H, W, O, I)` |
//! | DepthwiseConv2D | Conv2d, groups = C | `(C·m, 1, H, W)` → `(H, W, C, m)` |
//! | SeparableConv2D | Conv2d groups = C (no bias), then Conv2d 1×1 | two modules |
//! | BatchNormalization | BatchNorm1d/2d | weight, bias, running_mean, running_var → gamma, beta, moving_mean, moving_variance (`num_batches_tracked` ignored) |
//! | LayerNormalization | LayerNorm | weight, bias → gamma, beta |
//! | Embedding | Embedding | same layout |
//! | PReLU | PReLU | weight → alpha (one value per channel) |
//! | SimpleRNN / LSTM | RNN / LSTM | `W_ih`ᵀ, `W_hh`ᵀ, bias = `b_ih + b_hh` (gate order i, f, g, o = Keras' i, f, c, o); on export `b_hh` = 0 |
//! | GRU (reset_after) | GRU | gates r, z, n → Keras' z, r, h; bias `(2, 3·units)` = [`b_ih`; `b_hh`] |
//! | Bidirectional | the same module with `bidirectional=True` | forward, then the `_reverse` weights |
//! | TimeDistributed | the wrapped layer's module | as the wrapped layer |
//! | MultiHeadAttention | MultiheadAttention | `in_proj_weight` split into query, key, value `(E, heads, head_dim)`; `out_proj` → `(heads, head_dim, E)` |
//!
//! A multi-layer PyTorch RNN/LSTM/GRU (`num_layers > 1`) matches as many
//! stacked neurite layers. Epsilons and activations are part of the
//! architecture, not of the weights: configure them as in PyTorch
//! (BatchNorm and LayerNorm `epsilon=1e-5`, Keras' default is `1e-3`).

use crate::error::{Error, Result};
use crate::functional::Graph;
use crate::model::{LayerStack, Model};
use ndarray::{Axis, Dimension, IxDyn};
use neurite_nn::{Layer, NnError, Parameter};
use neurite_tensor::Tensor;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// A layer of the model that holds weights, as the conversion sees it.
struct Unit {
    name: String,
    class: String,
    config: Value,
    params: Vec<Parameter>,
    /// For a Dense fed by a Flatten of a rank-2+ channels-last input: that input's shape.
    flattened_from: Option<Vec<usize>>,
}

impl Unit {
    /// The class whose layout the weights have (TimeDistributed's wrapped layer's).
    fn weight_class(&self) -> String {
        if self.class == "TimeDistributed" {
            if let Some(c) = self.config.pointer("/layer/class_name").and_then(Value::as_str) {
                return c.to_string();
            }
        }
        self.class.clone()
    }

    /// How many PyTorch modules hold this layer's weights.
    fn module_count(&self) -> usize {
        if self.weight_class() == "SeparableConv2D" {
            2
        } else {
            1
        }
    }

    fn describe(&self) -> String {
        format!("{} ({})", self.name, self.class)
    }

    fn error(&self, module: &str, message: impl std::fmt::Display) -> Error {
        Error::Nn(NnError::Weights {
            layer: self.name.clone(),
            message: format!("{} against PyTorch module '{module}': {message}", self.class),
        })
    }
}

/// One PyTorch module's parameters: its path (`0`, `encoder.lstm`) and its
/// tensors by local name (`weight`; recurrent `weight_ih` / `weight_ih_reverse`
/// with the layer suffix `_lK` taken off; attention's `out_proj.weight`).
#[derive(Debug, Clone, PartialEq)]
struct TorchModule {
    path: String,
    tensors: Vec<(String, Tensor)>,
}

impl TorchModule {
    fn get(&self, local: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == local).map(|(_, t)| t)
    }
}

/// Layers whose output PyTorch holds channels first (`(N, C, ...)`).
const SPATIAL: &[&str] = &[
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "MaxPooling1D",
    "AveragePooling1D",
    "MaxPooling2D",
    "AveragePooling2D",
    "ZeroPadding2D",
    "Cropping2D",
    "UpSampling2D",
];

/// Layers that keep the layout of their input (channels first or last).
const KEEPS_LAYOUT: &[&str] = &[
    "BatchNormalization",
    "Dropout",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "PReLU",
];

/// The layers of `net` that hold weights, in Keras' order: a Sequential's or a
/// functional graph's layers, or the network itself.
fn units<N: Layer + 'static>(net: &N, input_shape: Option<Vec<usize>>) -> Result<Vec<Unit>> {
    let any: &dyn std::any::Any = net;
    let mut layers = Vec::new();
    if let Some(stack) = any.downcast_ref::<LayerStack>() {
        // Follow the shapes to find a Dense fed by a Flatten of a multi-axis input.
        let mut shape = input_shape;
        let mut before_flatten: Option<Vec<usize>> = None;
        // Whether PyTorch holds the current value channels first (after a convolution or pooling).
        let mut channels_first = false;
        for l in stack.layers() {
            let class = l.class_name();
            let fed = if class == "Dense" {
                before_flatten.take()
            } else {
                None
            };
            if class == "Flatten" {
                before_flatten = shape.clone().filter(|s| channels_first && s.len() >= 2);
            } else if !KEEPS_LAYOUT.contains(&class) {
                before_flatten = None;
            }
            if SPATIAL.contains(&class) {
                channels_first = true;
            } else if !KEEPS_LAYOUT.contains(&class) {
                channels_first = false;
            }
            layers.push(Unit {
                name: l.name().to_string(),
                class: l.class_name().to_string(),
                config: l.config(),
                params: l.parameters(),
                flattened_from: fed,
            });
            shape = match shape {
                Some(s) => l.output_shape(&s).ok(),
                None => None,
            };
        }
    } else if let Some(graph) = any.downcast_ref::<Graph>() {
        for name in graph.layer_names() {
            let Some(shared) = graph.layer(&name) else {
                continue;
            };
            let l = shared.read()?;
            layers.push(Unit {
                name: l.name().to_string(),
                class: l.class_name().to_string(),
                config: l.config(),
                params: l.parameters(),
                flattened_from: None,
            });
        }
    } else {
        layers.push(Unit {
            name: net.name().to_string(),
            class: net.class_name().to_string(),
            config: net.config(),
            params: net.parameters(),
            flattened_from: None,
        });
    }
    let units: Vec<Unit> = layers.into_iter().filter(|u| !u.params.is_empty()).collect();
    if let Some(u) = units
        .iter()
        .find(|u| matches!(u.class.as_str(), "Sequential" | "Functional"))
    {
        return Err(Error::Model(format!(
            "PyTorch weights: nested model {} is not supported; use a flat Sequential or functional model",
            u.describe()
        )));
    }
    Ok(units)
}

// ---------------------------------------------------------------- tensor helpers

fn permute(t: &Tensor, axes: &[usize]) -> Tensor {
    t.clone()
        .permuted_axes(IxDyn(axes))
        .as_standard_layout()
        .to_owned()
}

fn reshape(t: &Tensor, shape: &[usize]) -> Tensor {
    let data: Vec<f32> = t.as_standard_layout().iter().copied().collect();
    Tensor::from_shape_vec(IxDyn(shape), data).expect("reshape keeps the element count")
}

fn zeros_like(t: &Tensor) -> Tensor {
    Tensor::zeros(t.raw_dim())
}

/// The `parts` equal blocks of `t` along axis 0, reordered as `order`.
fn reorder_blocks(t: &Tensor, parts: usize, order: &[usize]) -> Tensor {
    let n = t.shape()[0] / parts;
    let blocks: Vec<_> = order
        .iter()
        .map(|&b| t.slice_axis(Axis(0), ndarray::Slice::from(b * n..(b + 1) * n)))
        .collect();
    ndarray::concatenate(Axis(0), &blocks).expect("equal blocks")
}

/// The rows of a Dense kernel `(in, out)` for an input flattened channels-last
/// from `shape` (`(…, C)`), reordered for a channels-first flattening
/// (`to_torch`) or back.
fn reorder_flatten_rows(kernel: &Tensor, shape: &[usize], to_torch: bool) -> Tensor {
    let c = *shape.last().expect("rank >= 2");
    let spatial: usize = shape[..shape.len() - 1].iter().product();
    let rows = kernel.shape()[0];
    let mut order = vec![0; rows];
    for s in 0..spatial {
        for ch in 0..c {
            let neurite = s * c + ch;
            let torch = ch * spatial + s;
            if to_torch {
                order[torch] = neurite;
            } else {
                order[neurite] = torch;
            }
        }
    }
    kernel.select(Axis(0), &order)
}

// ---------------------------------------------------------------- neurite -> PyTorch

fn leaf(p: &Parameter) -> &str {
    p.name.rsplit('.').next().unwrap_or(&p.name)
}

/// `(sub, leaf)` of an attention weight name `mha/query.kernel`.
fn attention_part(p: &Parameter) -> (&str, &str) {
    let (head, leaf) = p.name.rsplit_once('.').unwrap_or(("", &p.name));
    (head.rsplit('/').next().unwrap_or(head), leaf)
}

const GRU_GATES_TO_TORCH: [usize; 3] = [1, 0, 2]; // Keras z, r, h -> PyTorch r, z, n (an involution)

/// PyTorch's recurrent tensors (local names) for one direction's Keras weights.
fn recurrent_to_torch(
    unit: &Unit,
    class: &str,
    values: &[(&str, &Tensor)],
    suffix: &str,
) -> Result<Vec<(String, Tensor)>> {
    let gru = class == "GRU";
    let fix = |t: Tensor| {
        if gru {
            reorder_blocks(&t, 3, &GRU_GATES_TO_TORCH)
        } else {
            t
        }
    };
    let mut out = Vec::new();
    for (leaf, t) in values {
        match *leaf {
            "kernel" => out.push((format!("weight_ih{suffix}"), fix(t.t().to_owned()))),
            "recurrent_kernel" => out.push((format!("weight_hh{suffix}"), fix(t.t().to_owned()))),
            "bias" if gru && t.ndim() == 2 => {
                out.push((
                    format!("bias_ih{suffix}"),
                    fix(t.index_axis(Axis(0), 0).to_owned()),
                ));
                out.push((
                    format!("bias_hh{suffix}"),
                    fix(t.index_axis(Axis(0), 1).to_owned()),
                ));
            }
            "bias" if gru => {
                return Err(Error::Model(format!(
                    "PyTorch weights: {} is a GRU with reset_after=False, which PyTorch's GRU (reset gate \
                     applied after the recurrent product, Keras' reset_after=True) cannot hold",
                    unit.describe()
                )))
            }
            "bias" => {
                out.push((format!("bias_ih{suffix}"), fix((*t).clone())));
                out.push((format!("bias_hh{suffix}"), zeros_like(t)));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn recurrent_class(unit: &Unit) -> String {
    if unit.class == "Bidirectional" {
        unit.config
            .pointer("/layer/class_name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    } else {
        unit.weight_class()
    }
}

/// The PyTorch modules (local names) holding `unit`'s weights `values`
/// (in `unit.params` order), and an error for a layer PyTorch has no
/// counterpart for.
fn to_torch(unit: &Unit, values: &[Tensor]) -> Result<Vec<Vec<(String, Tensor)>>> {
    let by_leaf: Vec<(&str, &Tensor)> = unit.params.iter().map(leaf).zip(values).collect();
    let get = |name: &str| {
        by_leaf
            .iter()
            .find(|(l, _)| *l == name)
            .map(|(_, t)| (*t).clone())
    };
    let class = unit.weight_class();
    let single = |pairs: Vec<(&str, Option<Tensor>)>| {
        vec![pairs
            .into_iter()
            .filter_map(|(n, t)| t.map(|t| (n.to_string(), t)))
            .collect::<Vec<_>>()]
    };
    Ok(match class.as_str() {
        "Dense" => {
            let mut kernel = get("kernel").expect("Dense has a kernel");
            if let Some(shape) = &unit.flattened_from {
                kernel = reorder_flatten_rows(&kernel, shape, true);
            }
            single(vec![("weight", Some(kernel.t().to_owned())), ("bias", get("bias"))])
        }
        "Conv1D" => single(vec![("weight", get("kernel").map(|k| permute(&k, &[2, 1, 0]))), ("bias", get("bias"))]),
        "Conv2D" | "Conv2DTranspose" => single(vec![
            ("weight", get("kernel").map(|k| permute(&k, &[3, 2, 0, 1]))),
            ("bias", get("bias")),
        ]),
        "DepthwiseConv2D" => {
            let k = get("kernel").or_else(|| get("depthwise_kernel")).expect("depthwise kernel");
            single(vec![("weight", Some(depthwise_to_torch(&k))), ("bias", get("bias"))])
        }
        "SeparableConv2D" => {
            let d = get("depthwise_kernel").expect("depthwise kernel");
            let p = get("pointwise_kernel").expect("pointwise kernel");
            vec![
                vec![("weight".to_string(), depthwise_to_torch(&d))],
                single(vec![("weight", Some(permute(&p, &[3, 2, 0, 1]))), ("bias", get("bias"))]).remove(0),
            ]
        }
        "BatchNormalization" => single(vec![
            ("weight", get("gamma")),
            ("bias", get("beta")),
            ("running_mean", get("moving_mean")),
            ("running_var", get("moving_variance")),
        ]),
        "LayerNormalization" => single(vec![("weight", get("gamma")), ("bias", get("beta"))]),
        "Embedding" => single(vec![("weight", get("embeddings"))]),
        "PReLU" => single(vec![("weight", get("alpha").map(|a| reshape(&a, &[a.len()])))]),
        "SimpleRNN" | "LSTM" | "GRU" => vec![recurrent_to_torch(unit, &class, &by_leaf, "")?],
        "Bidirectional" => {
            let inner = recurrent_class(unit);
            let half = by_leaf.len() / 2;
            let mut out = recurrent_to_torch(unit, &inner, &by_leaf[..half], "")?;
            out.extend(recurrent_to_torch(unit, &inner, &by_leaf[half..], "_reverse")?);
            vec![out]
        }
        "MultiHeadAttention" => vec![attention_to_torch(unit, values)?],
        other => {
            return Err(Error::Model(format!(
                "PyTorch weights: layer {} has no PyTorch counterpart here ({other} is not one of Dense, Conv1D, \
                 Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, BatchNormalization, \
                 LayerNormalization, Embedding, PReLU, SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed, \
                 MultiHeadAttention)",
                unit.describe()
            )))
        }
    })
}

/// Keras' depthwise kernel `(H, W, C, m)` as PyTorch's grouped weight `(C·m, 1, H, W)`.
fn depthwise_to_torch(k: &Tensor) -> Tensor {
    let s = k.shape();
    let (h, w, c, m) = (s[0], s[1], s[2], s[3]);
    reshape(&permute(k, &[2, 3, 0, 1]), &[c * m, 1, h, w])
}

fn attention_to_torch(unit: &Unit, values: &[Tensor]) -> Result<Vec<(String, Tensor)>> {
    let mut parts: HashMap<(String, String), Tensor> = HashMap::new();
    for (p, v) in unit.params.iter().zip(values) {
        let (sub, leaf) = attention_part(p);
        parts.insert((sub.to_string(), leaf.to_string()), v.clone());
    }
    let kernel = |sub: &str| parts.get(&(sub.to_string(), "kernel".to_string()));
    let bias = |sub: &str| parts.get(&(sub.to_string(), "bias".to_string()));
    let (Some(q), Some(k), Some(v), Some(o)) = (
        kernel("query"),
        kernel("key"),
        kernel("value"),
        kernel("attention_output"),
    ) else {
        return Err(Error::Model(format!(
            "PyTorch weights: {} lacks a projection kernel",
            unit.describe()
        )));
    };
    let e = q.shape()[1] * q.shape()[2];
    let (vh, vd) = (v.shape()[1], v.shape()[2]);
    let e_out = o.shape()[2];
    if q.shape()[0] != e || vh * vd != e || e_out != e {
        return Err(Error::Model(format!(
            "PyTorch weights: {} cannot be a PyTorch MultiheadAttention: it needs num_heads·key_dim = \
             num_heads·value_dim = the query's and the output's size, found query {:?}, value {:?}, output {:?}",
            unit.describe(),
            q.shape(),
            v.shape(),
            o.shape()
        )));
    }
    let proj = |t: &Tensor| reshape(t, &[t.shape()[0], e]).t().to_owned(); // (E_in, h, d) -> (E, E_in)
    let mut out = Vec::new();
    if k.shape()[0] == e && v.shape()[0] == e {
        let w = ndarray::concatenate(Axis(0), &[proj(q).view(), proj(k).view(), proj(v).view()])
            .expect("same width");
        out.push(("in_proj_weight".to_string(), w));
    } else {
        out.push(("q_proj_weight".to_string(), proj(q)));
        out.push(("k_proj_weight".to_string(), proj(k)));
        out.push(("v_proj_weight".to_string(), proj(v)));
    }
    if let (Some(bq), Some(bk), Some(bv)) = (bias("query"), bias("key"), bias("value")) {
        let flat = |t: &Tensor| reshape(t, &[e]);
        let b = ndarray::concatenate(Axis(0), &[flat(bq).view(), flat(bk).view(), flat(bv).view()])
            .expect("same");
        out.push(("in_proj_bias".to_string(), b));
    }
    out.push((
        "out_proj.weight".to_string(),
        reshape(o, &[e, e_out]).t().to_owned(),
    ));
    if let Some(bo) = bias("attention_output") {
        out.push(("out_proj.bias".to_string(), bo.clone()));
    }
    Ok(out)
}

// ---------------------------------------------------------------- PyTorch -> neurite

/// `unit`'s weights (in `unit.params` order) from its PyTorch modules, whose
/// tensors were checked against `expected` (what `to_torch` gives for the
/// layer's current weights): same names and shapes.
fn from_torch(unit: &Unit, modules: &[&TorchModule]) -> Result<Vec<Tensor>> {
    let current: Vec<Tensor> = unit.params.iter().map(|p| p.var.to_tensor()).collect();
    let expected = to_torch(unit, &current)?;
    for (module, want) in modules.iter().zip(&expected) {
        for (local, t) in want {
            match module.get(local) {
                None => {
                    return Err(unit.error(
                        &module.path,
                        format!(
                            "parameter {local} {:?} is missing (the module has {})",
                            t.shape(),
                            listing(&module.tensors)
                        ),
                    ))
                }
                Some(found) if found.shape() != t.shape() => {
                    return Err(unit.error(
                        &module.path,
                        format!(
                            "{local} has shape {:?}, the layer needs {:?}",
                            found.shape(),
                            t.shape()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some((extra, t)) = module
            .tensors
            .iter()
            .find(|(n, _)| !want.iter().any(|(w, _)| w == n))
        {
            return Err(unit.error(
                &module.path,
                format!(
                    "parameter {extra} {:?} has no place in the layer (it takes {})",
                    t.shape(),
                    listing(want)
                ),
            ));
        }
    }
    let class = unit.weight_class();
    let take = |m: usize, local: &str| modules[m].get(local).cloned();
    let mut out = Vec::with_capacity(unit.params.len());
    match class.as_str() {
        "Bidirectional" | "SimpleRNN" | "LSTM" | "GRU" => {
            let inner = recurrent_class(unit);
            let half = if unit.class == "Bidirectional" {
                unit.params.len() / 2
            } else {
                unit.params.len()
            };
            for (i, p) in unit.params.iter().enumerate() {
                let suffix = if i >= half { "_reverse" } else { "" };
                out.push(recurrent_from_torch(
                    &inner,
                    leaf(p),
                    &p.var.shape(),
                    modules[0],
                    suffix,
                ));
            }
        }
        "MultiHeadAttention" => {
            let m = modules[0];
            let e = m.get("out_proj.weight").expect("checked").shape()[0];
            let weights: Vec<Tensor> = match m.get("in_proj_weight") {
                Some(w) => (0..3)
                    .map(|i| {
                        w.slice_axis(Axis(0), ndarray::Slice::from(i * e..(i + 1) * e))
                            .to_owned()
                    })
                    .collect(),
                None => ["q_proj_weight", "k_proj_weight", "v_proj_weight"]
                    .iter()
                    .map(|n| m.get(n).expect("checked").clone())
                    .collect(),
            };
            let biases = m.get("in_proj_bias");
            for p in &unit.params {
                let shape = p.var.shape();
                let (sub, lf) = attention_part(p);
                let index = ["query", "key", "value"].iter().position(|s| *s == sub);
                out.push(match (index, lf) {
                    (Some(i), "kernel") => reshape(&weights[i].t().to_owned(), &shape),
                    (Some(i), _) => {
                        let b = biases.expect("checked");
                        reshape(
                            &b.slice_axis(Axis(0), ndarray::Slice::from(i * e..(i + 1) * e))
                                .to_owned(),
                            &shape,
                        )
                    }
                    (None, "kernel") => {
                        reshape(&m.get("out_proj.weight").expect("checked").t().to_owned(), &shape)
                    }
                    (None, _) => m.get("out_proj.bias").expect("checked").clone(),
                });
            }
        }
        _ => {
            for p in &unit.params {
                let shape = p.var.shape();
                let value = match (class.as_str(), leaf(p)) {
                    ("Dense", "kernel") => {
                        let k = take(0, "weight").expect("checked").t().to_owned();
                        match &unit.flattened_from {
                            Some(s) => reorder_flatten_rows(&k, s, false),
                            None => k,
                        }
                    }
                    ("Conv1D", "kernel") => permute(&take(0, "weight").expect("checked"), &[2, 1, 0]),
                    ("Conv2D" | "Conv2DTranspose", "kernel") => {
                        permute(&take(0, "weight").expect("checked"), &[2, 3, 1, 0])
                    }
                    ("DepthwiseConv2D", "kernel" | "depthwise_kernel")
                    | ("SeparableConv2D", "depthwise_kernel") => {
                        let w = take(0, "weight").expect("checked");
                        let (h, wd, c, m) = (shape[0], shape[1], shape[2], shape[3]);
                        permute(&reshape(&w, &[c, m, h, wd]), &[2, 3, 0, 1])
                    }
                    ("SeparableConv2D", "pointwise_kernel") => {
                        permute(&take(1, "weight").expect("checked"), &[2, 3, 1, 0])
                    }
                    ("SeparableConv2D", "bias") => take(1, "bias").expect("checked"),
                    (_, "bias" | "beta") => take(0, "bias").expect("checked"),
                    (_, "gamma") => take(0, "weight").expect("checked"),
                    (_, "moving_mean") => take(0, "running_mean").expect("checked"),
                    (_, "moving_variance") => take(0, "running_var").expect("checked"),
                    (_, "embeddings") => take(0, "weight").expect("checked"),
                    (_, "alpha") => reshape(&take(0, "weight").expect("checked"), &shape),
                    (c, l) => {
                        return Err(Error::Model(format!(
                            "PyTorch weights: {c} weight {l} is not mapped"
                        )))
                    }
                };
                out.push(value);
            }
        }
    }
    Ok(out)
}

fn recurrent_from_torch(class: &str, leaf: &str, shape: &[usize], m: &TorchModule, suffix: &str) -> Tensor {
    let gru = class == "GRU";
    let fix = |t: &Tensor| {
        if gru {
            reorder_blocks(t, 3, &GRU_GATES_TO_TORCH)
        } else {
            t.clone()
        }
    };
    let get = |n: &str| m.get(&format!("{n}{suffix}")).expect("checked").clone();
    match leaf {
        "kernel" => fix(&get("weight_ih")).t().to_owned(),
        "recurrent_kernel" => fix(&get("weight_hh")).t().to_owned(),
        _ if gru && shape.len() == 2 => {
            let rows = [fix(&get("bias_ih")), fix(&get("bias_hh"))];
            ndarray::stack(Axis(0), &[rows[0].view(), rows[1].view()]).expect("same length")
        }
        _ => fix(&(&get("bias_ih") + &get("bias_hh"))),
    }
}

fn listing(tensors: &[(String, Tensor)]) -> String {
    if tensors.is_empty() {
        return "no parameters".to_string();
    }
    tensors
        .iter()
        .map(|(n, t)| format!("{n} {:?}", t.shape()))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- state dict <-> modules

/// `(base, layer, reverse)` of a recurrent parameter name `weight_ih_l0_reverse`.
fn recurrent_name(local: &str) -> Option<(&str, usize, bool)> {
    let (body, reverse) = match local.strip_suffix("_reverse") {
        Some(b) => (b, true),
        None => (local, false),
    };
    let (base, layer) = body.rsplit_once("_l")?;
    if !matches!(base, "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh") {
        return None;
    }
    Some((base, layer.parse().ok()?, reverse))
}

/// The modules of a state dict: tensors grouped by module path, attention's
/// `out_proj` joined to its module, a multi-layer RNN split into one module per
/// layer (`lstm[l1]`), `num_batches_tracked` dropped.
fn modules_of(state: Vec<(String, Tensor)>) -> Vec<TorchModule> {
    let mut by_path: Vec<TorchModule> = Vec::new();
    let mut push = |path: String, local: String, t: Tensor| match by_path.iter_mut().find(|m| m.path == path)
    {
        Some(m) => m.tensors.push((local, t)),
        None => by_path.push(TorchModule {
            path,
            tensors: vec![(local, t)],
        }),
    };
    for (name, t) in state {
        let (path, local) = name
            .rsplit_once('.')
            .map_or((String::new(), name.clone()), |(p, l)| {
                (p.to_string(), l.to_string())
            });
        if local == "num_batches_tracked" {
            continue;
        }
        push(path, local, t);
    }
    // Attention: `<m>.out_proj.*` belongs to `<m>` when `<m>` has the input projections.
    let attention: Vec<String> = by_path
        .iter()
        .filter(|m| m.get("in_proj_weight").is_some() || m.get("q_proj_weight").is_some())
        .map(|m| m.path.clone())
        .collect();
    for a in attention {
        let out_path = if a.is_empty() {
            "out_proj".to_string()
        } else {
            format!("{a}.out_proj")
        };
        if let Some(i) = by_path.iter().position(|m| m.path == out_path) {
            let out = by_path.remove(i);
            let target = by_path.iter_mut().find(|m| m.path == a).expect("listed");
            for (local, t) in out.tensors {
                target.tensors.push((format!("out_proj.{local}"), t));
            }
        }
    }
    // Recurrent layers: one module per `_lK`.
    let mut out = Vec::new();
    for m in by_path {
        let layers: Vec<usize> = m
            .tensors
            .iter()
            .filter_map(|(n, _)| recurrent_name(n).map(|r| r.1))
            .collect();
        let Some(&top) = layers.iter().max() else {
            out.push(m);
            continue;
        };
        let mut split: Vec<TorchModule> = (0..=top)
            .map(|k| TorchModule {
                path: if top == 0 {
                    m.path.clone()
                } else {
                    format!("{}[l{k}]", m.path)
                },
                tensors: Vec::new(),
            })
            .collect();
        let mut rest = Vec::new();
        for (n, t) in m.tensors {
            match recurrent_name(&n) {
                Some((base, k, reverse)) => {
                    let local = if reverse {
                        format!("{base}_reverse")
                    } else {
                        base.to_string()
                    };
                    split[k].tensors.push((local, t));
                }
                None => rest.push((n, t)),
            }
        }
        // Anything else (not a recurrent weight) stays with layer 0 and is reported there.
        split[0].tensors.extend(rest);
        out.extend(split);
    }
    out
}

/// The module path with the `[lK]` of a split RNN taken off.
fn base_path(path: &str) -> &str {
    path.split_once('[').map_or(path, |(p, _)| p)
}

/// `modules` in module order: as `order` gives (every module named once), or
/// by number when every path is made of numbers.
fn ordered(mut modules: Vec<TorchModule>, order: Option<&[&str]>) -> Result<Vec<TorchModule>> {
    let paths: Vec<String> = {
        let mut p: Vec<String> = modules.iter().map(|m| base_path(&m.path).to_string()).collect();
        p.dedup();
        p
    };
    match order {
        Some(order) => {
            if let Some(unknown) = order.iter().find(|o| !paths.iter().any(|p| p == *o)) {
                return Err(Error::Model(format!(
                    "PyTorch weights: module '{unknown}' is not in the state dict (its modules are {})",
                    paths.join(", ")
                )));
            }
            if let Some(unlisted) = paths.iter().find(|p| !order.contains(&p.as_str())) {
                return Err(Error::Model(format!(
                    "PyTorch weights: module '{unlisted}' of the state dict is not in the module order given ({})",
                    order.join(", ")
                )));
            }
            let rank = |m: &TorchModule| {
                order
                    .iter()
                    .position(|o| *o == base_path(&m.path))
                    .unwrap_or(usize::MAX)
            };
            modules.sort_by_key(|m| (rank(m), m.path.clone()));
        }
        None => {
            let numbers = |p: &str| -> Option<Vec<u64>> {
                if p.is_empty() {
                    return Some(Vec::new());
                }
                p.split('.').map(|s| s.parse().ok()).collect()
            };
            if let Some(named) = paths.iter().find(|p| numbers(p).is_none()) {
                return Err(Error::Model(format!(
                    "PyTorch weights: module '{named}' is not numbered, so the module order is not known (a \
                     safetensors file does not keep it); give it with load_pytorch_weights_with_modules(path, \
                     &[...]) -- the modules are {}",
                    paths.join(", ")
                )));
            }
            let layer_of = |m: &TorchModule| {
                m.path
                    .split_once("[l")
                    .and_then(|(_, k)| k.trim_end_matches(']').parse::<usize>().ok())
                    .unwrap_or(0)
            };
            modules.sort_by_key(|m| (numbers(base_path(&m.path)).unwrap_or_default(), layer_of(m)));
        }
    }
    Ok(modules)
}

// ---------------------------------------------------------------- the model API

impl<N: Layer + 'static> Model<N> {
    /// The layers with weights and the values for them from a PyTorch state dict.
    fn match_state_dict(
        &self,
        state: Vec<(String, Tensor)>,
        order: Option<&[&str]>,
    ) -> Result<(Vec<Parameter>, Vec<Tensor>)> {
        let units = units(&self.net, self.input_shape())?;
        let modules = ordered(modules_of(state), order)?;
        let needed: usize = units.iter().map(Unit::module_count).sum();
        if needed != modules.len() {
            return Err(Error::Model(format!(
                "PyTorch weights: the model has {} layers with weights taking {needed} PyTorch modules ({}), \
                 the state dict has {} modules with parameters ({})",
                units.len(),
                units.iter().map(Unit::describe).collect::<Vec<_>>().join(", "),
                modules.len(),
                modules.iter().map(|m| m.path.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let (mut params, mut values) = (Vec::new(), Vec::new());
        let mut next = 0;
        for unit in &units {
            let mine: Vec<&TorchModule> = modules[next..next + unit.module_count()].iter().collect();
            next += unit.module_count();
            values.extend(from_torch(unit, &mine)?);
            params.extend(unit.params.iter().cloned());
        }
        Ok((params, values))
    }

    /// Sets the model's weights from a PyTorch `state_dict` given as named
    /// tensors (`0.weight`, `lstm.weight_ih_l0`, ...), converting the layouts
    /// (see [the module](crate::interop::pytorch)). `modules` gives the
    /// PyTorch module order when the module paths are not all numbers. The
    /// model must be built. Every shape is checked before anything changes;
    /// an error names the neurite layer and the PyTorch module and parameter.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.build(&[3])?;
    /// let w = ndarray::Array2::<f32>::from_shape_fn((2, 3), |(o, i)| (o * 3 + i) as f32).into_dyn();
    /// let b = ndarray::arr1(&[0.5f32, -0.5]).into_dyn();
    /// model.set_pytorch_state_dict(&[("0.weight".into(), w.clone()), ("0.bias".into(), b)], None)?;
    /// assert_eq!(model.get_weights()[0], w.t().to_owned()); // Linear (out, in) -> Dense (in, out)
    /// let bad = model.set_pytorch_state_dict(&[("0.weight".into(), w.t().to_owned())], None).unwrap_err();
    /// assert!(bad.to_string().contains("dense_1"), "{bad}");
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn set_pytorch_state_dict(
        &mut self,
        state: &[(String, Tensor)],
        modules: Option<&[&str]>,
    ) -> Result<()> {
        if !self.is_built() {
            return Err(Error::Model(
                "PyTorch weights: build the model first (model.build(input_shape))".into(),
            ));
        }
        let (params, values) = self.match_state_dict(state.to_vec(), modules)?;
        neurite_nn::weights::assign(self.net.name(), &params, &values)?;
        Ok(())
    }

    /// The model's weights as a PyTorch `state_dict` (named tensors in
    /// PyTorch's layouts): module `i` is named `modules[i]` when given (one
    /// name per PyTorch module: a SeparableConv2D takes two), else `"0"`,
    /// `"1"`, ... in layer order.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3)).add(BatchNormalization::new());
    /// model.build(&[3])?;
    /// let state = model.pytorch_state_dict(Some(&["fc", "bn"]))?;
    /// let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    /// assert_eq!(names, ["fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"]);
    /// assert_eq!(state[0].1.shape(), &[2, 3]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn pytorch_state_dict(&self, modules: Option<&[&str]>) -> Result<Vec<(String, Tensor)>> {
        let units = units(&self.net, self.input_shape())?;
        let needed: usize = units.iter().map(Unit::module_count).sum();
        if let Some(names) = modules {
            if names.len() != needed {
                return Err(Error::Model(format!(
                    "PyTorch weights: {} module names were given, the model's layers with weights ({}) take {needed}",
                    names.len(),
                    units.iter().map(Unit::describe).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let mut out = Vec::new();
        let mut index = 0;
        for unit in &units {
            let values: Vec<Tensor> = unit.params.iter().map(|p| p.var.to_tensor()).collect();
            for module in to_torch(unit, &values)? {
                let path = match modules {
                    Some(names) => names[index].to_string(),
                    None => index.to_string(),
                };
                index += 1;
                for (local, t) in module {
                    out.push((torch_name(&path, &local), t));
                }
            }
        }
        Ok(out)
    }

    /// Loads a PyTorch `state_dict` saved with `safetensors.torch.save_file`
    /// (float32) whose module paths are numbers (an `nn.Sequential`: `0.weight`,
    /// `2.bias`), as [`Model::set_pytorch_state_dict`]. Errors name the file.
    ///
    /// ```no_run
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(10).input_dim(784));
    /// model.build(&[784])?;
    /// model.load_pytorch_weights("mlp.safetensors")?;
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn load_pytorch_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.load_pytorch_file(path.as_ref(), None)
    }

    /// [`Model::load_pytorch_weights`] for modules with names: `modules` lists
    /// the PyTorch module paths in module order (as `model.named_children()`),
    /// e.g. `&["embedding", "lstm", "fc"]`.
    ///
    /// ```no_run
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Embedding::new(100, 8)).add(LSTM::new(16)).add(Dense::new(2));
    /// model.build(&[12])?;
    /// model.load_pytorch_weights_with_modules("text.safetensors", &["embedding", "lstm", "fc"])?;
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn load_pytorch_weights_with_modules(
        &mut self,
        path: impl AsRef<Path>,
        modules: &[&str],
    ) -> Result<()> {
        self.load_pytorch_file(path.as_ref(), Some(modules))
    }

    fn load_pytorch_file(&mut self, path: &Path, modules: Option<&[&str]>) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let state = read_state_dict(&bytes, path)?;
        self.set_pytorch_state_dict(&state, modules).map_err(|e| match e {
            Error::Model(m) => Error::format(path, m),
            Error::Nn(n) => Error::format(path, n.to_string()),
            other => other,
        })
    }

    /// Writes the model's weights as a PyTorch `state_dict` safetensors file
    /// (what `safetensors.torch.load_file` reads and `module.load_state_dict`
    /// takes), atomically; module names as [`Model::pytorch_state_dict`].
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.build(&[3])?;
    /// let dir = tempfile::tempdir()?;
    /// let file = dir.path().join("mlp.safetensors");
    /// model.save_pytorch_weights(&file, None)?;
    /// let mut again = Sequential::new().add(Dense::new(2).input_dim(3)).seed(9);
    /// again.build(&[3])?;
    /// again.load_pytorch_weights(&file)?;
    /// assert_eq!(again.get_weights(), model.get_weights());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_pytorch_weights(&self, path: impl AsRef<Path>, modules: Option<&[&str]>) -> Result<()> {
        let path = path.as_ref();
        let state = self.pytorch_state_dict(modules)?;
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "pt".to_string());
        let bytes = state_dict_bytes(&state, meta)?;
        Ok(neurite_data::write_atomic(path, &bytes)?)
    }
}

/// The safetensors bytes of `state` (F32), refusing a non-finite value (a
/// model broken by a failed update) with the tensor's name and index.
fn state_dict_bytes(state: &[(String, Tensor)], meta: HashMap<String, String>) -> Result<Vec<u8>> {
    use safetensors::tensor::{Dtype, TensorView};
    for (name, t) in state {
        if let Some((index, v)) = t.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Model(format!(
                "PyTorch weights: {name} holds {v} at index {:?}; nothing was written",
                index.slice()
            )));
        }
    }
    let buffers: Vec<(&str, Vec<u8>, Vec<usize>)> = state
        .iter()
        .map(|(name, t)| {
            let bytes = t
                .as_standard_layout()
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            (name.as_str(), bytes, t.shape().to_vec())
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, bytes, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (*name, v))
                .map_err(|e| Error::Model(format!("PyTorch weights: tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(meta)).map_err(|e| Error::Model(format!("PyTorch weights: {e}")))
}

/// The float tensors of a safetensors state dict (F32, F64, F16 or BF16, as
/// f32), without `num_batches_tracked` (an integer counter PyTorch saves with
/// batch norms). Errors name the file and the tensor.
fn read_state_dict(bytes: &[u8], path: &Path) -> Result<Vec<(String, Tensor)>> {
    use safetensors::tensor::Dtype;
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let mut names: Vec<String> = st.names().into_iter().map(|n| n.to_string()).collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if name.rsplit('.').next() == Some("num_batches_tracked") {
            continue;
        }
        let view = st
            .tensor(&name)
            .map_err(|e| Error::format(path, format!("tensor {name}: {e}")))?;
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            other => {
                return Err(Error::format(
                    path,
                    format!(
                        "tensor {name} has dtype {other:?}; PyTorch weights must be F32, F64, F16 or BF16"
                    ),
                ))
            }
        };
        let t = Tensor::from_shape_vec(IxDyn(view.shape()), values)
            .map_err(|e| Error::format(path, format!("tensor {name}: {e}")))?;
        if let Some((index, v)) = t.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::format(
                path,
                format!(
                    "tensor {name} holds {v} at index {:?}: expected finite weights",
                    index.slice()
                ),
            ));
        }
        out.push((name, t));
    }
    Ok(out)
}

/// An IEEE half-precision number as f32.
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

fn torch_name(path: &str, local: &str) -> String {
    // A split RNN layer `lstm[l1]` writes `lstm.weight_ih_l1`; otherwise `_l0`.
    let (base, layer) = match path.split_once("[l") {
        Some((b, k)) => (b, k.trim_end_matches(']')),
        None => (path, "0"),
    };
    let local = match local.strip_suffix("_reverse") {
        Some(b) if recurrent_base(b) => format!("{b}_l{layer}_reverse"),
        _ if recurrent_base(local) => format!("{local}_l{layer}"),
        _ => local.to_string(),
    };
    if base.is_empty() {
        local
    } else {
        format!("{base}.{local}")
    }
}

fn recurrent_base(local: &str) -> bool {
    matches!(local, "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurrent_names_split_into_base_layer_and_direction() {
        assert_eq!(recurrent_name("weight_ih_l0"), Some(("weight_ih", 0, false)));
        assert_eq!(recurrent_name("bias_hh_l12_reverse"), Some(("bias_hh", 12, true)));
        assert_eq!(recurrent_name("weight"), None);
        assert_eq!(
            torch_name("lstm[l1]", "weight_ih_reverse"),
            "lstm.weight_ih_l1_reverse"
        );
        assert_eq!(torch_name("3", "weight"), "3.weight");
        assert_eq!(torch_name("", "bias_hh"), "bias_hh_l0");
    }

    #[test]
    fn half_precision_numbers_decode() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn flatten_rows_reorder_is_a_permutation_and_its_inverse() {
        let k = Tensor::from_shape_fn(IxDyn(&[12, 2]), |i| (i[0] * 2 + i[1]) as f32);
        let there = reorder_flatten_rows(&k, &[2, 2, 3], true);
        assert_ne!(there, k);
        assert_eq!(reorder_flatten_rows(&there, &[2, 2, 3], false), k);
        // neurite row (h=0, w=1, c=2) = 1*3+2 = 5 is PyTorch row c*4 + 1 = 9.
        assert_eq!(
            there.index_axis(ndarray::Axis(0), 9),
            k.index_axis(ndarray::Axis(0), 5)
        );
    }
}
