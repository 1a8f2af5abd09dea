//! MultiHeadAttention, TransformerEncoder, TokenAndPositionEmbedding and
//! PositionEmbedding against Keras 3 / keras-hub themselves: outputs and the
//! gradients of `sum(output * proj)` with respect to the float inputs and
//! every weight, recorded by `fixtures/keras_attention.py` (Keras 3.15.1,
//! keras-hub 0.32, JAX backend; the script is next to its JSON). Each layer is
//! rebuilt from the config Keras wrote and given Keras' weights by their
//! Keras paths (`layer/sublayer/variable` = neurite's `layer.sublayer.variable`),
//! so config keys, defaults, weight layouts and names, masks (explicit and
//! causal) and pre/post normalization are all checked.

use neurite_autograd::{ops, Tensor, Var};
use neurite_nn::layers::{
    AttentionCall, MultiHeadAttention, PositionEmbedding, TokenAndPositionEmbedding, TransformerDecoder,
    TransformerEncoder,
};
use neurite_nn::{ForwardContext, Layer};
use serde_json::Value;

fn shape_of(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn tensor(data: &Value, shape: &[usize]) -> Tensor {
    let data: Vec<f32> = data
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_shape_vec(ndarray::IxDyn(shape), data).unwrap()
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tol,
        "{what}: largest relative difference {worst} > {tol}"
    );
}

/// Keras' serialized initializers (`{"class_name": "GlorotUniform", ...}`) in
/// neurite's snake-case form (`"glorot_uniform"`); every other key is Keras' own.
pub fn neurite_config(mut cfg: Value) -> Value {
    for (key, v) in cfg.as_object_mut().unwrap() {
        if key.ends_with("initializer") && v.is_object() {
            let class = v["class_name"].as_str().unwrap().to_string();
            let mut snake = String::new();
            for (i, ch) in class.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(ch.to_ascii_lowercase());
            }
            // Parameters other than Keras' seed/axes hints make it a struct variant.
            let mut params = v["config"].as_object().cloned().unwrap_or_default();
            params.retain(|k, _| !["seed", "input_axes", "output_axes"].contains(&k.as_str()));
            *v = if params.is_empty() {
                Value::String(snake)
            } else {
                serde_json::json!({ snake: params })
            };
        }
    }
    cfg
}

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/keras_attention.json")).unwrap()
}

/// A case's layer, typed where the test calls more than `Layer`'s methods.
enum Built {
    Mha(Box<MultiHeadAttention>),
    Encoder(Box<TransformerEncoder>),
    Decoder(Box<TransformerDecoder>),
    Other(Box<dyn Layer>),
}

impl Built {
    fn layer(&mut self) -> &mut dyn Layer {
        match self {
            Built::Mha(m) => m.as_mut(),
            Built::Encoder(e) => e.as_mut(),
            Built::Decoder(d) => d.as_mut(),
            Built::Other(b) => b.as_mut(),
        }
    }
}

/// The layer of a case, built for its inputs, with Keras' weights.
fn layer_of(case: &Value) -> Built {
    let cfg = neurite_config(case["config"].clone());
    let class = case["class_name"].as_str().unwrap();
    let mut built = match class {
        "MultiHeadAttention" => Built::Mha(Box::new(MultiHeadAttention::from_config(
            serde_json::from_value(cfg).unwrap(),
        ))),
        "TransformerEncoder" => Built::Encoder(Box::new(TransformerEncoder::from_config(
            serde_json::from_value(cfg).unwrap(),
        ))),
        "TransformerDecoder" => Built::Decoder(Box::new(TransformerDecoder::from_config(
            serde_json::from_value(cfg).unwrap(),
        ))),
        "TokenAndPositionEmbedding" => Built::Other(Box::new(TokenAndPositionEmbedding::from_config(
            serde_json::from_value(cfg).unwrap(),
        ))),
        "PositionEmbedding" => Built::Other(Box::new(PositionEmbedding::from_config(
            serde_json::from_value(cfg).unwrap(),
        ))),
        other => panic!("no case for {other}"),
    };
    let layer = built.layer();
    let shapes: Vec<Vec<usize>> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| shape_of(i)[1..].to_vec())
        .collect();
    let mut rng = neurite_tensor::random::rng_from_seed(0);
    if shapes.len() == 1 {
        layer.build(&shapes[0], &mut rng).unwrap();
    } else {
        layer.build_multi(&shapes, &mut rng).unwrap();
    }
    let params = layer.parameters();
    let weights = case["weights"].as_array().unwrap();
    assert_eq!(params.len(), weights.len(), "{class}: number of weights");
    for (p, w) in params.iter().zip(weights) {
        // Keras' path `layer/sub/weight` is neurite's `layer/sub.weight`.
        let path = w["path"].as_str().unwrap();
        let name = match path.rsplit_once('/') {
            Some((owner, weight)) => format!("{owner}.{weight}"),
            None => path.to_string(),
        };
        assert_eq!(p.name, name, "{class}: weight order and names");
        let t = tensor(&w["data"], &shape_of(w));
        assert_eq!(p.var.shape(), t.shape().to_vec(), "{name}: layout");
        p.var.set_value(t);
    }
    built
}

fn run_case(case: &Value) {
    let name = case["config"]["name"].as_str().unwrap().to_string();
    let mut built = layer_of(case);
    let float_inputs = !case["grad_inputs"].as_array().unwrap().is_empty();
    let inputs: Vec<Var> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let t = tensor(&i["data"], &shape_of(i));
            if float_inputs {
                Var::parameter(t)
            } else {
                Var::constant(t)
            }
        })
        .collect();
    let mask = (!case["mask"].is_null()).then(|| tensor(&case["mask"]["data"], &shape_of(&case["mask"])));
    let causal = case["causal"].as_bool().unwrap();
    let mut ctx = ForwardContext::inference();
    let call = AttentionCall {
        attention_mask: mask.as_ref(),
        use_causal_mask: causal,
        return_attention_scores: false,
    };
    let y = match &built {
        // Without mask or causal flag, through the list API functional graphs use.
        Built::Mha(m) if mask.is_none() && !causal => m.forward_multi(&inputs, &mut ctx).unwrap(),
        Built::Mha(m) => {
            m.attend(&inputs[0], &inputs[1], inputs.get(2), call, &mut ctx)
                .unwrap()
                .0
        }
        Built::Encoder(e) => e.encode(&inputs[0], mask.as_ref(), &mut ctx).unwrap(),
        Built::Decoder(d) => d.forward_multi(&inputs, &mut ctx).unwrap(),
        Built::Other(l) => l.forward(&inputs[0], &mut ctx).unwrap(),
    };
    let want = tensor(&case["output"]["data"], &shape_of(&case["output"]));
    assert_close(&format!("{name} output"), &y.to_tensor(), &want, 1e-5);
    let proj = tensor(&case["proj"], want.shape());
    ops::sum_all(&ops::mul(&y, &Var::constant(proj)).unwrap())
        .unwrap()
        .backward()
        .unwrap();
    for (i, (x, g)) in inputs
        .iter()
        .zip(case["grad_inputs"].as_array().unwrap())
        .enumerate()
    {
        // No gradient at all means zero (PositionEmbedding does not read its input's values).
        let got = x
            .grad()
            .unwrap_or_else(|| Tensor::zeros(ndarray::IxDyn(&x.shape())));
        assert_close(
            &format!("{name} input {i} gradient"),
            &got,
            &tensor(g, &x.shape()),
            1e-4,
        );
    }
    for (p, g) in built
        .layer()
        .parameters()
        .iter()
        .zip(case["grad_weights"].as_array().unwrap())
    {
        assert_close(
            &format!("{} gradient", p.name),
            &p.var.grad().unwrap(),
            &tensor(g, &p.var.shape()),
            1e-4,
        );
    }
}

#[test]
fn keras_cases_match() {
    let f = fixture();
    assert_eq!(f["keras_version"], "3.15.1");
    for case in f["cases"].as_array().unwrap() {
        run_case(case);
    }
}
