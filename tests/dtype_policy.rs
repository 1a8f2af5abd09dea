//! `DtypePolicy::MixedBfloat16`: what the model computes, that it trains, and
//! that save/load keep it.

use ndarray::{Array2, Array4};
use neurite::prelude::*;
use neurite::tensor::bf16::round_to_bf16;
use neurite::tensor::random::uniform;

fn dense_model(policy: DtypePolicy) -> Sequential {
    let mut model = Sequential::new()
        .seed(3)
        .add(Dense::new(5).input_dim(37))
        .dtype_policy(policy);
    model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[]).unwrap();
    model
}

/// `predict` of a Dense layer is `round(x) · round(W) + b`, accumulated in
/// f32: checked against an f64 sum of the rounded operands.
#[test]
fn predict_multiplies_rounded_operands_and_accumulates_in_f32() {
    let model = dense_model(DtypePolicy::MixedBfloat16);
    let x = uniform(&[9, 37], -1.0, 1.0, &mut rng_from_seed(1));
    let got = model.predict(&x).unwrap();
    let weights = model.get_weights_by_name();
    let (w, b) = (&weights[0].1, &weights[1].1);
    let mut outside_exact = false;
    for i in 0..9 {
        for j in 0..5 {
            let (mut rounded, mut exact, mut mag) = (b[[j]] as f64, b[[j]] as f64, b[[j]].abs() as f64);
            for k in 0..37 {
                let (xv, wv) = (x[[i, k]], w[[k, j]]);
                rounded += round_to_bf16(xv) as f64 * round_to_bf16(wv) as f64;
                exact += xv as f64 * wv as f64;
                mag += (xv * wv).abs() as f64;
            }
            let g = got[[i, j]] as f64;
            assert!(
                (g - rounded).abs() <= 1e-5 * (1.0 + mag),
                "({i},{j}): {g} vs {rounded}"
            );
            outside_exact |= (g - exact).abs() > 1e-5 * (1.0 + mag);
        }
    }
    assert!(
        outside_exact,
        "the bf16 prediction equals the exact one: nothing was rounded"
    );
    // The f32 policy computes exactly.
    let exact = dense_model(DtypePolicy::Float32).predict(&x).unwrap();
    assert_ne!(exact, got);
}

/// A small CNN learns under mixed_bfloat16 about as well as under float32,
/// its weights stay full f32 values, and the caller's thread is back at f32.
#[test]
fn a_cnn_trains_under_mixed_bfloat16_with_f32_weights() {
    let n = 256;
    let x = uniform(&[n, 8, 8, 1], 0.0, 1.0, &mut rng_from_seed(5));
    // Class: whether the left half is brighter than the right half.
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| {
        let (mut l, mut r) = (0.0, 0.0);
        for h in 0..8 {
            for w in 0..8 {
                if w < 4 {
                    l += x[[i[0], h, w, 0]];
                } else {
                    r += x[[i[0], h, w, 0]];
                }
            }
        }
        if l > r {
            1.0
        } else {
            0.0
        }
    });
    let mut accuracy = Vec::new();
    for policy in DtypePolicy::ALL {
        let mut model = Sequential::new()
            .seed(7)
            .add(
                Conv2D::new(16, (3, 3))
                    .activation(Activation::Relu)
                    .input_shape([8, 8, 1]),
            )
            .add(MaxPooling2D::new((2, 2)))
            .add(Flatten::new())
            .add(Dense::new(2).activation(Activation::Softmax))
            .dtype_policy(policy);
        model
            .compile(
                Adam::new(0.01),
                Loss::sparse_categorical_crossentropy(),
                &[Metric::Accuracy],
            )
            .unwrap();
        let history = model
            .fit(&x, &y, FitOptions::new().epochs(15).batch_size(32).verbose(0))
            .unwrap();
        let loss = history.get("loss").unwrap();
        assert!(loss.iter().all(|l| l.is_finite()), "{policy}: {loss:?}");
        assert!(loss.last().unwrap() < &(0.5 * loss[0]), "{policy}: {loss:?}");
        accuracy.push(model.evaluate(&x, &y).unwrap()["accuracy"]);
        if policy == DtypePolicy::MixedBfloat16 {
            let has_low_bits = model
                .get_weights_by_name()
                .iter()
                .flat_map(|(_, t)| t.iter().copied().collect::<Vec<_>>())
                .any(|v| v.to_bits() & 0xffff != 0);
            assert!(has_low_bits, "the weights were stored as bf16");
        }
    }
    assert!(
        accuracy[1] > 0.9 && (accuracy[0] - accuracy[1]).abs() < 0.05,
        "{accuracy:?}"
    );
    assert_eq!(
        neurite::tensor::precision::current(),
        neurite::tensor::precision::Precision::F32
    );
}

#[test]
fn save_and_load_keep_the_policy_and_refuse_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let mut model = dense_model(DtypePolicy::MixedBfloat16);
    let x = Array2::<f32>::ones((2, 37)).into_dyn();
    model
        .fit(
            &x,
            Array2::<f32>::zeros((2, 5)).into_dyn(),
            FitOptions::new().verbose(0),
        )
        .unwrap();
    model.save(&path).unwrap();
    let loaded = Sequential::load(&path).unwrap();
    assert_eq!(loaded.get_dtype_policy(), DtypePolicy::MixedBfloat16);
    assert_eq!(loaded.predict(&x).unwrap(), model.predict(&x).unwrap());

    let config_path = path.join("config.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(parsed["dtype_policy"], "mixed_bfloat16", "{config}");
    for (bad, says) in [
        ("\"mixed_float16\"", "mixed_float16"),
        ("16", "expected a policy name"),
    ] {
        let edited = config.replace("\"mixed_bfloat16\"", bad);
        std::fs::write(&config_path, &edited).unwrap();
        let Err(e) = Sequential::load(&path) else {
            panic!("a config with dtype_policy {bad} loads");
        };
        let e = e.to_string();
        assert!(
            e.contains("dtype_policy") && e.contains(says) && e.contains("config.json"),
            "{e}"
        );
    }
    // A config without the field (saved before policies existed) loads as float32.
    let old: serde_json::Value = serde_json::from_str(&config).unwrap();
    let mut old = old.as_object().unwrap().clone();
    old.remove("dtype_policy");
    std::fs::write(&config_path, serde_json::to_string(&old).unwrap()).unwrap();
    assert_eq!(
        Sequential::load(&path).unwrap().get_dtype_policy(),
        DtypePolicy::Float32
    );
}

/// A conv layer under the policy gives what the f32 policy gives on
/// bf16-rounded input and weights.
#[test]
fn conv_predict_equals_f32_on_rounded_input_and_weights() {
    let build = |policy| {
        let mut m = Sequential::new()
            .seed(11)
            .add(Conv2D::new(32, (3, 3)).input_shape([10, 10, 16]))
            .dtype_policy(policy);
        m.build(&[10, 10, 16]).unwrap();
        m
    };
    let x: Array4<f32> = uniform(&[3, 10, 10, 16], -1.0, 1.0, &mut rng_from_seed(2))
        .into_dimensionality()
        .unwrap();
    let bf16 = build(DtypePolicy::MixedBfloat16);
    let got = bf16.predict(x.clone().into_dyn()).unwrap();
    let mut f32_model = build(DtypePolicy::Float32);
    let rounded: Vec<(String, Tensor)> = bf16
        .get_weights_by_name()
        .into_iter()
        .map(|(n, t)| {
            if n.ends_with("kernel") {
                (n, t.mapv(round_to_bf16))
            } else {
                (n, t)
            }
        })
        .collect();
    f32_model.set_weights_by_name(&rounded).unwrap();
    let want = f32_model.predict(x.mapv(round_to_bf16).into_dyn()).unwrap();
    let worst = got
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "worst difference {worst}");
}
