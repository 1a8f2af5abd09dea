//! Every field of a saved `config.json`, set to hostile values, for models
//! that hold every built-in layer class, Sequential and functional (issue #15:
//! "the classes they stand for, not only these instances"). A load never panics, aborts or takes long,
//! and an error names the file. A config that loads works: it predicts on data
//! of its saved input shape, it trains or fails with a named error, and
//! whatever it saves loads again to the same weights.

use neurite::prelude::*;
use neurite::Network;
use serde_json::{json, Value};
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A model holding several layer classes, data of its input shape, and its loss.
type Case<N> = (&'static str, Model<N>, Tensor, Tensor, Loss);

fn models() -> Vec<Case<LayerStack>> {
    let cnn = Sequential::new()
        .seed(1)
        .add(
            Conv2D::new(4, (3, 3))
                .activation(Activation::Relu)
                .input_shape([8, 8, 2]),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(BatchNormalization::new())
        .add(AveragePooling2D::new((1, 1)))
        .add(GlobalAveragePooling2D::new().keepdims(true))
        .add(Flatten::new())
        .add(Dense::new(3));
    let x = ndarray::Array4::<f32>::from_shape_fn((4, 8, 8, 2), |(a, b, c, d)| {
        ((a + b * 3 + c * 5 + d) % 7) as f32 / 7.0
    });
    let y = ndarray::arr1(&[0.0f32, 1.0, 2.0, 1.0]);
    let sparse = Loss::SparseCategoricalCrossentropy { from_logits: true };
    let rnn = Sequential::new()
        .seed(2)
        .add(Embedding::new(20, 4).input_shape([5]))
        .add(LSTM::new(3).return_sequences(true))
        .add(GRU::new(2).return_sequences(true))
        .add(SimpleRNN::new(2))
        .add(LayerNormalization::new())
        .add(Dense::new(2));
    let xr = ndarray::Array2::<f32>::from_shape_fn((4, 5), |(a, b)| ((a * 5 + b) % 20) as f32);
    let yr = ndarray::arr1(&[0.0f32, 1.0, 1.0, 0.0]);
    let reshaping = Sequential::new()
        .seed(3)
        .add(Reshape::new([4i64, 3]).input_shape([12]))
        .add(ActivationLayer::new(Activation::Tanh))
        .add(Dropout::new(0.2))
        .add(Reshape::new([2i64, 2, 3]))
        .add(GlobalMaxPooling2D::new())
        .add(Dense::new(2));
    let xs = ndarray::Array2::<f32>::from_shape_fn((4, 12), |(a, b)| ((a * 12 + b) % 9) as f32 / 9.0);
    let ys = ndarray::Array2::<f32>::from_shape_fn((4, 2), |(a, b)| (a + b) as f32 / 5.0);
    vec![
        ("cnn", cnn, x.into_dyn(), y.into_dyn(), sparse),
        ("rnn", rnn, xr.into_dyn(), yr.into_dyn(), sparse),
        (
            "reshaping",
            reshaping,
            xs.into_dyn(),
            ys.into_dyn(),
            Loss::MeanSquaredError,
        ),
    ]
}

/// JSON pointers of every value in `v` (objects and arrays included).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| pointers(c, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}

fn hostile_values() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(1),
        json!(3),
        json!(65536),
        json!(2_147_483_648u64),
        json!(4_000_000_000u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-1e308),
        json!(0.5),
        json!(1e-40),
        json!("x"),
        json!("same"),
        Value::Null,
        json!([]),
        json!({}),
        json!(true),
        json!([0, 0]),
        json!([1, 1]),
        json!([u64::MAX, u64::MAX]),
        json!([4_000_000_000u64, 4_000_000_000u64]),
        json!([3, 1_000_000_000]),
        json!([-1]),
    ]
}

/// Late errors a config that loads may still give, each for a reason outside
/// the config's own validity: the edit changed the output shape so the test's
/// targets no longer fit the loss, removed the compile settings, or set
/// hyper-parameters so large that an update overflows (named, with the step).
fn acceptable_training_error(e: &str) -> bool {
    e.contains("y_true")
        || e.contains("labels of shape")
        || e.contains("must be compiled")
        || e.contains("became non-finite")
}

/// A functional graph over the layer classes of issue #16 (merges, padding,
/// cropping, upsampling, the convolution variants, the ReLU layers), with a
/// residual and a concatenating branch.
fn functional_model() -> Case<Graph> {
    let x = Input::new([8, 8, 2]);
    let padded = ZeroPadding2D::new((1, 1)).call(&x).unwrap();
    let conv = Conv2D::new(3, (3, 3)).call(&padded).unwrap();
    let depthwise = DepthwiseConv2D::new((3, 3)).call(&conv).unwrap();
    let cropped = Cropping2D::new((1, 1)).call(&conv).unwrap();
    let sum = Add::new().call_many(&[&depthwise, &cropped]).unwrap();
    let sep = SeparableConv2D::new(4, (3, 3)).call(&sum).unwrap();
    let up = Conv2DTranspose::new(2, (3, 3)).call(&sep).unwrap();
    let big = UpSampling2D::new((2, 2)).call(&up).unwrap();
    let act = PReLU::new().call(&big).unwrap();
    let pooled = MaxPooling2D::new((4, 4)).call(&act).unwrap();
    let flat = Flatten::new().call(&pooled).unwrap();
    let leaky = LeakyReLU::new().call(&flat).unwrap();
    let side = Dense::new(4).call(&flat).unwrap();
    let relu = ReLU::new().call(&side).unwrap();
    let both = Concatenate::new().call_many(&[&leaky, &relu]).unwrap();
    let product = Multiply::new().call_many(&[&both, &both]).unwrap();
    let out = Dense::new(3).call(&product).unwrap();
    let model = Model::functional(&x, &out).unwrap().seed(4);
    let xs = ndarray::Array4::<f32>::from_shape_fn((4, 8, 8, 2), |(a, b, c, d)| {
        ((a * 3 + b + c * 7 + d) % 11) as f32 / 11.0
    });
    let ys = ndarray::arr1(&[0.0f32, 2.0, 1.0, 0.0]);
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
    ("functional", model, xs.into_dyn(), ys.into_dyn(), loss)
}

/// Mutates every field of `model`'s saved config in turn; returns the
/// failures and how many edits loaded and were refused.
fn probe_every_field<N: Network>(tmp: &std::path::Path, case: Case<N>) -> (Vec<String>, usize, usize) {
    let (name, mut model, x, y, loss) = case;
    let mut failures = Vec::new();
    let (mut loaded_count, mut refused_count) = (0, 0);
    model.compile(Adam::default(), loss, &[]).unwrap();
    model.train_on_batch(x.clone(), &y).unwrap();
    let dir = tmp.join(name);
    model.save(&dir).unwrap();
    let original: Value = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    let mut fields = Vec::new();
    pointers(&original, String::new(), &mut fields);
    // The manifest is checked by its own tests; the format marker and
    // class name are refused wholesale (malformed_config_files_are_errors).
    fields.retain(|p| !p.starts_with("/files") && p != "/format" && p != "/class_name");
    for field in &fields {
        for value in hostile_values() {
            let mut config = original.clone();
            *config.pointer_mut(field).unwrap() = value.clone();
            if config == original {
                continue;
            }
            let case = format!("{name} {field} = {value}");
            fs::write(dir.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
            let start = std::time::Instant::now();
            let loaded = catch_unwind(AssertUnwindSafe(|| Model::<N>::load(&dir)));
            if start.elapsed().as_secs_f64() > 2.0 {
                failures.push(format!("{case}: load took {:?}", start.elapsed()));
            }
            let mut m = match loaded {
                Err(_) => {
                    failures.push(format!("{case}: load panicked"));
                    continue;
                }
                Ok(Err(e)) => {
                    refused_count += 1;
                    let e = e.to_string();
                    if !e.contains("config.json") && !e.contains(".safetensors") {
                        failures.push(format!("{case}: the error names no file: {e}"));
                    }
                    continue;
                }
                Ok(Ok(m)) => m,
            };
            loaded_count += 1;
            match catch_unwind(AssertUnwindSafe(|| m.predict(&x))) {
                Err(_) => failures.push(format!("{case}: predict panicked")),
                Ok(Err(e)) => failures.push(format!("{case}: loaded, then predict failed: {e}")),
                Ok(Ok(_)) => {}
            }
            match catch_unwind(AssertUnwindSafe(|| m.train_on_batch(x.clone(), &y))) {
                Err(_) => failures.push(format!("{case}: train_on_batch panicked")),
                Ok(Err(e)) if !acceptable_training_error(&e.to_string()) => {
                    failures.push(format!("{case}: loaded, then training failed: {e}"))
                }
                _ => {}
            }
            // Whatever the (possibly failed) training left: a save either
            // refuses it or writes what loads again, to the same weights.
            let again = tmp.join(format!("{name}-again"));
            match catch_unwind(AssertUnwindSafe(|| m.save(&again))) {
                Err(_) => failures.push(format!("{case}: save panicked")),
                Ok(Err(_)) => {}
                Ok(Ok(())) => match Model::<N>::load(&again) {
                    Ok(l) if l.get_weights_by_name() == m.get_weights_by_name() => {}
                    Ok(_) => failures.push(format!("{case}: reloaded weights differ")),
                    Err(e) => failures.push(format!("{case}: saved, then the load failed: {e}")),
                },
            }
        }
    }
    (failures, loaded_count, refused_count)
}

#[test]
fn every_config_field_with_hostile_values_loads_cleanly_or_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let results: Vec<_> = std::thread::scope(|scope| {
        let mut handles: Vec<_> = models()
            .into_iter()
            .map(|case| scope.spawn(|| probe_every_field(tmp.path(), case)))
            .collect();
        handles.push(scope.spawn(|| probe_every_field(tmp.path(), functional_model())));
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failures: Vec<String> = results.iter().flat_map(|r| r.0.clone()).collect();
    let loaded: usize = results.iter().map(|r| r.1).sum();
    let refused: usize = results.iter().map(|r| r.2).sum();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Both sides were exercised (harmless values load, impossible ones are refused).
    assert!(
        loaded > 100 && refused > 1000,
        "loaded {loaded}, refused {refused}"
    );
    eprintln!("{loaded} edits loaded and worked, {refused} were refused");
}
