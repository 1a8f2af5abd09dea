//! PyTorch state_dicts (fixtures under tests/fixtures/pytorch, written by
//! benches/reference/pytorch_weights.py with torch) loaded into neurite
//! models of the same architecture predict what PyTorch predicted, within
//! 1e-5; neurite -> PyTorch layout -> neurite is the identity for every layer
//! kind with weights; wrong files and models are errors naming both sides.

use neurite::autograd::Var;
use neurite::nn::ForwardContext;
use neurite::prelude::*;
use neurite::tensor::Tensor;
use proptest::prelude::*;
use std::path::PathBuf;

mod common;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch")
        .join(name)
}

/// `input` and `output` of `<name>_io.safetensors`.
fn io(name: &str) -> (Tensor, Tensor) {
    let bytes = std::fs::read(fixture(&format!("{name}_io.safetensors"))).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let get = |key: &str| {
        let v = st.tensor(key).unwrap();
        let data: Vec<f32> = v
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Tensor::from_shape_vec(ndarray::IxDyn(v.shape()), data).unwrap()
    };
    (get("input"), get("output"))
}

/// NCHW / NCW (PyTorch) as NHWC / NWC (neurite).
fn channels_last(x: &Tensor) -> Tensor {
    let axes: Vec<usize> = match x.ndim() {
        3 => vec![0, 2, 1],
        4 => vec![0, 2, 3, 1],
        _ => panic!("rank {}", x.ndim()),
    };
    x.clone().permuted_axes(axes).as_standard_layout().to_owned()
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    common::assert_close_relative(what, got, want, 1e-5);
}

fn check(name: &str, mut model: Sequential, input_shape: &[usize], modules: Option<&[&str]>, x: Tensor) {
    model.build(input_shape).unwrap();
    let file = fixture(&format!("{name}.safetensors"));
    match modules {
        Some(m) => model.load_pytorch_weights_with_modules(&file, m).unwrap(),
        None => model.load_pytorch_weights(&file).unwrap(),
    }
    let y = model.predict(&x).unwrap();
    assert_close(name, &y, &io(name).1);
    // Export: the state_dict neurite writes holds PyTorch's own tensors, module by module in
    // module order (neurite numbers only the modules with weights, where an nn.Sequential also
    // counts ReLU and Flatten), and each recurrent layer's bias_ih + bias_hh sum (neurite keeps
    // one bias, exported as bias_ih with a zero bias_hh). BatchNorm's `num_batches_tracked`, an
    // int64 counter, is not a weight. A 2-layer nn.LSTM is one PyTorch module that neurite
    // imports into two LSTM layers; its export is two single-layer modules, so it is checked by
    // the round-trip proptest below instead.
    if name == "lstm" {
        return;
    }
    let bytes = std::fs::read(&file).unwrap();
    let torch = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let read = |key: &str| {
        let t = torch.tensor(key).unwrap();
        let data: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Tensor::from_shape_vec(ndarray::IxDyn(t.shape()), data).unwrap()
    };
    let rank = |module: &str| match modules {
        Some(m) => m.iter().position(|n| *n == module).unwrap(),
        None => module.parse::<usize>().unwrap(),
    };
    let keyed = |key: &str, t: Tensor| {
        let (module, local) = key.rsplit_once('.').unwrap();
        (rank(module), local.to_string(), t)
    };
    let mut want: Vec<(usize, String, Tensor)> = torch
        .names()
        .into_iter()
        .filter(|n| !n.ends_with("num_batches_tracked"))
        .map(|n| keyed(n, read(n)))
        .collect();
    let mut got: Vec<(usize, String, Tensor)> = model
        .pytorch_state_dict(modules)
        .unwrap()
        .into_iter()
        .map(|(n, t)| keyed(&n, t))
        .collect();
    want.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    got.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let (want, got) = (group_modules(&want), group_modules(&got));
    assert_eq!(got.len(), want.len(), "{name}: modules with weights");
    for (g, w) in got.iter().zip(&want) {
        let names = |m: &[(String, Tensor)]| m.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>();
        assert_eq!(names(g), names(w), "{name}: parameters of a module");
        let value = |m: &[(String, Tensor)], l: &str| m.iter().find(|(n, _)| n == l).unwrap().1.clone();
        for (local, t) in g {
            if let Some(suffix) = local.strip_prefix("bias_ih") {
                let hh = format!("bias_hh{suffix}");
                let sum = |m: &[(String, Tensor)]| &value(m, local) + &value(m, &hh);
                assert_close(&format!("{name}: {local} + {hh}"), &sum(g), &sum(w));
            } else if !local.starts_with("bias_hh") {
                assert_eq!(t, &value(w, local), "{name}: {local}");
            }
        }
    }
}

/// `(module rank, parameter, tensor)` sorted by rank, as one list per module.
fn group_modules(v: &[(usize, String, Tensor)]) -> Vec<Vec<(String, Tensor)>> {
    let mut out: Vec<Vec<(String, Tensor)>> = Vec::new();
    for (i, (m, local, t)) in v.iter().enumerate() {
        if i == 0 || v[i - 1].0 != *m {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push((local.clone(), t.clone()));
    }
    out
}

#[test]
fn mlp_with_layer_norm_predicts_as_torch() {
    let model = Sequential::new()
        .add(Dense::new(8))
        .add(LayerNormalization::new().epsilon(1e-5))
        .add(ReLU::new())
        .add(Dense::new(3));
    check("mlp", model, &[4], None, io("mlp").0);
}

#[test]
fn cnn_with_batch_norm_and_flatten_predicts_as_torch() {
    let model = Sequential::new()
        .add(Conv2D::new(4, (3, 3)))
        .add(BatchNormalization::new().epsilon(1e-5))
        .add(ReLU::new())
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dense::new(5));
    check("cnn_bn", model, &[8, 8, 2], None, channels_last(&io("cnn_bn").0));
}

#[test]
fn depthwise_and_transposed_convolutions_predict_as_torch() {
    let model = Sequential::new()
        .add(DepthwiseConv2D::new((3, 3)).depth_multiplier(2))
        .add(Conv2DTranspose::new(3, (3, 3)).strides((2, 2)))
        .add(GlobalAveragePooling2D::new())
        .add(Dense::new(2));
    check(
        "cnn_variants",
        model,
        &[6, 6, 2],
        None,
        channels_last(&io("cnn_variants").0),
    );
}

#[test]
fn conv1d_then_flatten_predicts_as_torch() {
    let model = Sequential::new()
        .add(Conv1D::new(4, 3).activation(Activation::Relu))
        .add(Flatten::new())
        .add(Dense::new(2));
    check("conv1d", model, &[6, 3], None, channels_last(&io("conv1d").0));
}

#[test]
fn two_layer_lstm_predicts_as_torch() {
    let model = Sequential::new()
        .add(LSTM::new(5).return_sequences(true))
        .add(LSTM::new(5))
        .add(Dense::new(2));
    check("lstm", model, &[6, 3], Some(&["rnn", "fc"]), io("lstm").0);
}

#[test]
fn bidirectional_gru_predicts_as_torch() {
    let model = Sequential::new()
        .add(Bidirectional::new(GRU::new(4)).unwrap())
        .add(Dense::new(2));
    check("gru", model, &[6, 3], Some(&["rnn", "fc"]), io("gru").0);
}

#[test]
fn embedding_then_lstm_predicts_as_torch() {
    let model = Sequential::new()
        .add(Embedding::new(10, 4))
        .add(LSTM::new(6))
        .add(Dense::new(3));
    check(
        "embedding_lstm",
        model,
        &[5],
        Some(&["embedding", "rnn", "fc"]),
        io("embedding_lstm").0,
    );
}

#[test]
fn multihead_attention_predicts_as_torch() {
    let mut model = Model::from_network(MultiHeadAttention::new(2, 3));
    model
        .network_mut()
        .build_multi(
            &[vec![4, 6], vec![4, 6]],
            &mut neurite::tensor::random::rng_from_seed(0),
        )
        .unwrap();
    model
        .load_pytorch_weights_with_modules(fixture("attention.safetensors"), &["attention"])
        .unwrap();
    let (x, want) = io("attention");
    let x = Var::constant(x);
    let y = model
        .network()
        .forward_multi(&[x.clone(), x], &mut ForwardContext::inference())
        .unwrap();
    assert_close("attention", &y.to_tensor(), &want);
}

#[test]
fn a_named_state_dict_needs_its_module_order() {
    let mut model = Sequential::new()
        .add(Embedding::new(10, 4))
        .add(LSTM::new(6))
        .add(Dense::new(3));
    model.build(&[5]).unwrap();
    let e = model
        .load_pytorch_weights(fixture("embedding_lstm.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("embedding_lstm.safetensors") && e.contains("not numbered") && e.contains("rnn"),
        "{e}"
    );
    let e = model
        .load_pytorch_weights_with_modules(fixture("embedding_lstm.safetensors"), &["embedding", "fc"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'rnn'") && e.contains("not in the module order"),
        "{e}"
    );
}

#[test]
fn a_model_that_does_not_fit_is_an_error_naming_both_sides_and_changes_nothing() {
    // One layer short: counts and both lists named.
    let mut short = Sequential::new().add(Dense::new(8)).add(Dense::new(3));
    short.build(&[4]).unwrap();
    let before = short.get_weights();
    let e = short
        .load_pytorch_weights(fixture("mlp.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("2 layers")
            && e.contains("3 modules")
            && e.contains("dense_1 (Dense)")
            && e.contains("0, 1, 3"),
        "{e}"
    );
    // Same count, a wrong width: the layer, the module, the parameter and both shapes.
    let mut wide = Sequential::new()
        .add(Dense::new(8))
        .add(LayerNormalization::new())
        .add(Dense::new(4));
    wide.build(&[4]).unwrap();
    let e = wide
        .load_pytorch_weights(fixture("mlp.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("module '3'") && e.contains("weight has shape [3, 8]") && e.contains("[4, 8]"),
        "{e}"
    );
    assert_eq!(short.get_weights(), before);
    // A GRU PyTorch cannot hold.
    let mut gru = Sequential::new().add(GRU::new(2).reset_after(false));
    gru.build(&[3, 2]).unwrap();
    let e = gru.pytorch_state_dict(None).unwrap_err().to_string();
    assert!(e.contains("reset_after=False"), "{e}");
}

#[test]
fn hostile_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    let mut model = Sequential::new().add(Dense::new(2));
    model.build(&[3]).unwrap();
    let e = model.load_pytorch_weights(&junk).unwrap_err().to_string();
    assert!(
        e.contains("junk.safetensors") && e.contains("not a valid safetensors"),
        "{e}"
    );
    let e = model
        .load_pytorch_weights(dir.path().join("missing.safetensors"))
        .unwrap_err();
    assert!(e.to_string().contains("missing.safetensors"), "{e}");
}

/// A built model with one layer of `kind` (and random weights from `seed`),
/// with the input shape it was built for.
fn one_layer(kind: usize, seed: u64) -> (Box<dyn FnOnce() -> Sequential>, Vec<usize>) {
    let make: Box<dyn FnOnce() -> Sequential> = match kind {
        0 => Box::new(|| Sequential::new().add(Dense::new(3))),
        1 => Box::new(|| Sequential::new().add(Conv1D::new(3, 2))),
        2 => Box::new(|| Sequential::new().add(Conv2D::new(3, (2, 3)))),
        3 => Box::new(|| Sequential::new().add(Conv2DTranspose::new(3, (3, 2)))),
        4 => Box::new(|| Sequential::new().add(DepthwiseConv2D::new((2, 2)).depth_multiplier(3))),
        5 => Box::new(|| Sequential::new().add(SeparableConv2D::new(4, (2, 2)))),
        6 => Box::new(|| Sequential::new().add(BatchNormalization::new())),
        7 => Box::new(|| Sequential::new().add(LayerNormalization::new())),
        8 => Box::new(|| Sequential::new().add(PReLU::new())),
        9 => Box::new(|| Sequential::new().add(SimpleRNN::new(3))),
        10 => Box::new(|| Sequential::new().add(LSTM::new(3))),
        11 => Box::new(|| Sequential::new().add(GRU::new(3))),
        12 => Box::new(|| Sequential::new().add(Bidirectional::new(LSTM::new(2)).unwrap())),
        13 => Box::new(|| Sequential::new().add(TimeDistributed::new(Dense::new(2)))),
        14 => Box::new(|| Sequential::new().add(Embedding::new(7, 3))),
        15 => Box::new(|| {
            Sequential::new()
                .add(Conv2D::new(2, (2, 2)))
                .add(Flatten::new())
                .add(Dense::new(3))
        }),
        _ => Box::new(|| Sequential::new().add(Bidirectional::new(GRU::new(2)).unwrap())),
    };
    let shape = match kind {
        0 | 6 | 7 | 8 => vec![4],
        1 | 9..=13 | 16 => vec![5, 4],
        14 => vec![5],
        _ => vec![5, 4, 2],
    };
    let _ = seed;
    (make, shape)
}

fn randomized(model: &mut Sequential, seed: u64) {
    let mut rng = neurite::tensor::random::rng_from_seed(seed);
    let w: Vec<Tensor> = model
        .get_weights()
        .iter()
        .map(|w| neurite::tensor::random::uniform(w.shape(), -1.0, 1.0, &mut rng))
        .collect();
    model.set_weights(&w).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 34, ..ProptestConfig::default() })]

    /// neurite -> PyTorch layout -> neurite gives back the same weights, for
    /// every kind of layer with weights (through a safetensors file for some).
    #[test]
    fn neurite_to_pytorch_to_neurite_is_the_identity(kind in 0usize..17, seed in any::<u64>(), via_file in any::<bool>()) {
        let (make, shape) = one_layer(kind, seed);
        let mut a = make();
        a.build(&shape).unwrap();
        randomized(&mut a, seed);
        let (make_b, _) = one_layer(kind, seed);
        let mut b = make_b().seed(seed.wrapping_add(1));
        b.build(&shape).unwrap();
        if via_file {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("w.safetensors");
            a.save_pytorch_weights(&file, None).unwrap();
            b.load_pytorch_weights(&file).unwrap();
        } else {
            let state = a.pytorch_state_dict(None).unwrap();
            b.set_pytorch_state_dict(&state, None).unwrap();
        }
        prop_assert_eq!(b.get_weights(), a.get_weights());
    }
}
