//! Functional models with several inputs and outputs: what they compute and
//! how they train (against separate single-output models, by name and by
//! order), the weighted total loss, a Siamese gradient check, save/load/resume,
//! and the errors of every kind of bad data, compile argument and config.

use neurite::prelude::*;
use neurite::tensor::random::{normal, uniform};
use proptest::prelude::*;
use std::collections::HashMap;

const N: usize = 48;

/// Inputs `a` (6 features) and `b` (4), targets `class` (3 classes from `a`)
/// and `value` (a sum over `b`).
fn data() -> (Tensor, Tensor, Tensor, Tensor) {
    let a = uniform(&[N, 6], -1.0, 1.0, &mut rng_from_seed(1));
    let b = normal(&[N, 4], 0.0, 1.0, &mut rng_from_seed(2));
    let class = Tensor::from_shape_fn(ndarray::IxDyn(&[N]), |i| {
        let s: f32 = (0..3).map(|j| a[[i[0], j]]).sum();
        if s < -0.5 {
            0.0
        } else if s < 0.5 {
            1.0
        } else {
            2.0
        }
    });
    let value = Tensor::from_shape_fn(ndarray::IxDyn(&[N, 1]), |i| b[[i[0], 0]] - 0.5 * b[[i[0], 3]]);
    (a, b, class, value)
}

/// Branch A: a -> ha -> class; branch B: b -> hb -> value (no shared layer).
fn branch_a(a: &SymbolicTensor) -> SymbolicTensor {
    let h = Dense::new(8)
        .activation(Activation::Relu)
        .with_name("ha")
        .call(a)
        .unwrap();
    Dense::new(3)
        .activation(Activation::Softmax)
        .with_name("class")
        .call(&h)
        .unwrap()
}

fn branch_b(b: &SymbolicTensor) -> SymbolicTensor {
    let h = Dense::new(5)
        .activation(Activation::Tanh)
        .with_name("hb")
        .call(b)
        .unwrap();
    Dense::new(1).with_name("value").call(&h).unwrap()
}

fn two_headed(seed: u64) -> Functional {
    let (a, b) = (Input::named("a", [6]), Input::named("b", [4]));
    let (class, value) = (branch_a(&a), branch_b(&b));
    let mut m = Model::functional_many(&[&a, &b], &[&class, &value])
        .unwrap()
        .seed(seed);
    m.compile(
        Adam::new(0.01),
        Losses::from([
            ("class", Loss::sparse_categorical_crossentropy()),
            ("value", Loss::MeanSquaredError),
        ]),
        [("class", vec![Metric::Accuracy]), ("value", vec![Metric::Mae])],
    )
    .unwrap();
    m
}

fn opts<'a>() -> FitOptions<'a> {
    FitOptions::new().epochs(3).batch_size(16).verbose(0)
}

fn weights_with_prefix(m: &Functional, prefix: &str) -> Vec<(String, Tensor)> {
    m.get_weights_by_name()
        .into_iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .collect()
}

/// Two disjoint branches in one model train exactly as two separate models
/// of one branch each: the same weights, per-output losses and metrics, bit
/// for bit (the total loss adds the branches' losses, whose gradients do not
/// meet).
#[test]
fn disjoint_heads_train_exactly_as_two_separate_models() {
    let (a, b, class, value) = data();
    let mut both = two_headed(7);
    let in_a = Input::named("a", [6]);
    let mut only_a = Model::functional(&in_a, &branch_a(&in_a)).unwrap().seed(7);
    only_a
        .compile(
            Adam::new(0.01),
            Loss::sparse_categorical_crossentropy(),
            &[Metric::Accuracy],
        )
        .unwrap();
    let in_b = Input::named("b", [4]);
    let mut only_b = Model::functional(&in_b, &branch_b(&in_b)).unwrap().seed(7);
    only_b
        .compile(Adam::new(0.01), Loss::MeanSquaredError, &[Metric::Mae])
        .unwrap();
    only_a
        .set_weights_by_name(
            &[
                weights_with_prefix(&both, "ha."),
                weights_with_prefix(&both, "class."),
            ]
            .concat(),
        )
        .unwrap();
    only_b
        .set_weights_by_name(
            &[
                weights_with_prefix(&both, "hb."),
                weights_with_prefix(&both, "value."),
            ]
            .concat(),
        )
        .unwrap();

    let h = both.fit([&a, &b], [&class, &value], opts()).unwrap();
    let ha = only_a.fit(&a, &class, opts()).unwrap();
    let hb = only_b.fit(&b, &value, opts()).unwrap();
    assert_eq!(h.get("class_loss"), ha.get("loss"));
    assert_eq!(h.get("class_accuracy"), ha.get("accuracy"));
    assert_eq!(h.get("value_loss"), hb.get("loss"));
    assert_eq!(h.get("value_mae"), hb.get("mae"));
    for (e, total) in h.get("loss").unwrap().iter().enumerate() {
        let sum = ha.get("loss").unwrap()[e] + hb.get("loss").unwrap()[e];
        assert!(
            (total - sum).abs() <= 1e-6 * sum.abs(),
            "epoch {e}: {total} vs {sum}"
        );
    }
    assert_eq!(
        [
            weights_with_prefix(&both, "ha."),
            weights_with_prefix(&both, "class.")
        ]
        .concat(),
        only_a.get_weights_by_name()
    );
    assert_eq!(
        [
            weights_with_prefix(&both, "hb."),
            weights_with_prefix(&both, "value.")
        ]
        .concat(),
        only_b.get_weights_by_name()
    );
    let preds = both.predict_many([&a, &b]).unwrap();
    assert_eq!(preds[0], only_a.predict(&a).unwrap());
    assert_eq!(preds[1], only_b.predict(&b).unwrap());
    let scores = both.evaluate([&a, &b], [&class, &value]).unwrap();
    assert_eq!(scores["class_loss"], only_a.evaluate(&a, &class).unwrap()["loss"]);
    assert_eq!(scores["value_mae"], only_b.evaluate(&b, &value).unwrap()["mae"]);
}

/// Arrays given by name (in any order, or as a map) and by order train the
/// same model identically, validation and sample weights included.
#[test]
fn by_name_and_by_order_data_train_identically() {
    let (a, b, class, value) = data();
    let sw: Vec<f32> = (0..N).map(|i| 0.5 + (i % 3) as f32 * 0.25).collect();
    let fit_opts = || opts().sample_weight(&sw).validation_split(0.25);
    let mut by_order = two_headed(3);
    let h1 = by_order.fit([&a, &b], [&class, &value], fit_opts()).unwrap();
    let mut by_name = two_headed(3);
    let h2 = by_name
        .fit(
            [("b", &b), ("a", &a)],
            [("value", &value), ("class", &class)],
            fit_opts(),
        )
        .unwrap();
    let xs: HashMap<String, Tensor> = [("a".to_string(), a.clone()), ("b".to_string(), b.clone())].into();
    let ys: HashMap<String, Tensor> = [
        ("class".to_string(), class.clone()),
        ("value".to_string(), value.clone()),
    ]
    .into();
    let mut by_map = two_headed(3);
    let h3 = by_map.fit(&xs, &ys, fit_opts()).unwrap();
    assert_eq!(h1, h2);
    assert_eq!(h1, h3);
    assert_eq!(by_order.get_weights_by_name(), by_name.get_weights_by_name());
    assert_eq!(by_order.get_weights_by_name(), by_map.get_weights_by_name());
    for key in [
        "loss",
        "class_loss",
        "value_loss",
        "class_accuracy",
        "value_mae",
        "val_loss",
        "val_class_loss",
        "val_value_mae",
    ] {
        assert!(h1.get(key).is_some(), "{key} not logged: {:?}", h1.history.keys());
    }
    // A single-output functional model keeps the plain names.
    let x = Input::new([6]);
    let mut single = Model::functional(&x, &branch_a(&x)).unwrap();
    single
        .compile(
            Adam::default(),
            Loss::sparse_categorical_crossentropy(),
            &[Metric::Accuracy],
        )
        .unwrap();
    let h = single.fit(&a, &class, FitOptions::new().verbose(0)).unwrap();
    assert_eq!(
        h.history.keys().collect::<Vec<_>>(),
        vec!["accuracy", "loss", "lr"]
    );
}

/// Callbacks see the per-output names: EarlyStopping on `val_value_loss`
/// stops, and validation_data takes arrays by name.
#[test]
fn callbacks_monitor_per_output_logs() {
    let (a, b, class, value) = data();
    let mut m = two_headed(5);
    let mut stop = EarlyStopping::new("val_value_loss").patience(0);
    // Targets the training moves away from: the validation loss of `value` rises.
    let frozen = value.mapv(|v| -3.0 * v);
    let h = m
        .fit(
            [&a, &b],
            [&class, &value],
            FitOptions::new()
                .epochs(30)
                .verbose(0)
                .validation_data([("a", &a), ("b", &b)], [("class", &class), ("value", &frozen)])
                .callback(&mut stop),
        )
        .unwrap();
    assert!(
        h.epochs.len() < 30,
        "never stopped: {:?}",
        h.get("val_value_loss")
    );
}

fn weighted_model(wc: f32, wv: f32) -> Functional {
    let (a, b) = (Input::named("a", [6]), Input::named("b", [4]));
    let h = Concatenate::new().call_many(&[&a, &b]).unwrap();
    let h = Dense::new(6).activation(Activation::Tanh).call(&h).unwrap();
    let class = Dense::new(3)
        .activation(Activation::Softmax)
        .with_name("class")
        .call(&h)
        .unwrap();
    let value = Dense::new(1)
        .kernel_regularizer(Regularizer::l2(0.01))
        .with_name("value")
        .call(&h)
        .unwrap();
    let mut m = Model::functional_many(&[&a, &b], &[&class, &value])
        .unwrap()
        .seed(11);
    m.compile(
        Sgd::new(0.05),
        Losses::from([Loss::sparse_categorical_crossentropy(), Loss::MeanSquaredError])
            .loss_weights([wc, wv]),
        &[],
    )
    .unwrap();
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// loss = Σ wᵢ·lossᵢ: evaluate's `<output>_loss` is the weight times the
    /// unweighted loss and `loss` their sum; train_on_batch's total adds the
    /// regularization penalty to the same sum.
    #[test]
    fn the_total_loss_is_the_weighted_sum_of_the_output_losses(wc in 0.0f32..4.0, wv in 0.0f32..4.0) {
        let (a, b, class, value) = data();
        let unit = weighted_model(1.0, 1.0).evaluate([&a, &b], [&class, &value]).unwrap();
        let mut m = weighted_model(wc, wv);
        let s = m.evaluate([&a, &b], [&class, &value]).unwrap();
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-5 * (1.0 + y.abs());
        prop_assert!(close(s["class_loss"], wc as f64 * unit["class_loss"]), "{} vs {}", s["class_loss"], unit["class_loss"]);
        prop_assert!(close(s["value_loss"], wv as f64 * unit["value_loss"]));
        prop_assert!(close(s["loss"], s["class_loss"] + s["value_loss"]));
        let w = m.get_weights_by_name();
        let kernel = &w.iter().find(|(n, _)| n == "value.kernel").unwrap().1;
        let penalty = 0.01 * kernel.iter().map(|v| (v * v) as f64).sum::<f64>();
        let (total, _) = m.train_on_batch([&a, &b], [&class, &value]).unwrap();
        let want = wc as f64 * unit["class_loss"] + wv as f64 * unit["value_loss"] + penalty;
        prop_assert!(close(total as f64, want), "{total} vs {want}");
    }
}

/// A Siamese pair (one encoder called on both inputs) with two heads: the
/// gradient of a scalar of both outputs with respect to every weight,
/// shared encoder included, matches central finite differences.
#[test]
fn siamese_gradients_match_finite_differences() {
    let (l, r) = (Input::named("left", [3]), Input::named("right", [3]));
    let encoder = SharedLayer::new(Dense::new(4).activation(Activation::Tanh).with_name("encoder"));
    let (el, er) = (encoder.call(&l).unwrap(), encoder.call(&r).unwrap());
    let diff = Subtract::new().call_many(&[&el, &er]).unwrap();
    let distance = Dense::new(1)
        .activation(Activation::Sigmoid)
        .with_name("distance")
        .call(&diff)
        .unwrap();
    let product = Multiply::new()
        .with_name("product")
        .call_many(&[&el, &er])
        .unwrap();
    let mut model = Model::functional_many(&[&l, &r], &[&distance, &product])
        .unwrap()
        .seed(4);
    model.build_inputs(&[vec![3], vec![3]]).unwrap();
    assert_eq!(model.count_params(), (3 * 4 + 4 + 4 + 1, 0));
    let xl = normal(&[5, 3], 0.0, 1.0, &mut rng_from_seed(21));
    let xr = normal(&[5, 3], 0.0, 1.0, &mut rng_from_seed(22));
    let objective = |m: &Functional| -> Var {
        let xs = [Var::constant(xl.clone()), Var::constant(xr.clone())];
        let outs = m.forward_many(&xs, &mut ForwardContext::training(0)).unwrap();
        let a = outs[0].sum_all().unwrap();
        let b = (&outs[1] * &outs[1]).unwrap().sum_all().unwrap();
        (&a + &(&b * 0.5).unwrap()).unwrap()
    };
    objective(&model).backward().unwrap();
    let params = model.parameters();
    let eps = 1e-2f32;
    let mut checked = 0;
    for p in &params {
        let grad = p.var.grad().unwrap();
        let base = p.var.to_tensor();
        for k in 0..base.len() {
            let at = |delta: f32| {
                let mut v = base.clone();
                *v.iter_mut().nth(k).unwrap() += delta;
                p.var.set_value(v);
                no_grad(|| objective(&model).item().unwrap()) as f64
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
            p.var.set_value(base.clone());
            let analytic = *grad.iter().nth(k).unwrap() as f64;
            assert!(
                (numeric - analytic).abs() <= 2e-2 * (1.0 + numeric.abs()),
                "{}[{k}]: numeric {numeric} vs analytic {analytic}",
                p.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 21);
}

/// Save -> load -> predict gives the same outputs; save -> load -> fit
/// continues exactly as an uninterrupted run (weights and logs), with the
/// per-output losses, weights and metrics restored from config.json.
#[test]
fn save_load_predict_and_resume_exactly() {
    let (a, b, class, value) = data();
    let build = || {
        let (ia, ib) = (Input::named("a", [6]), Input::named("b", [4]));
        let h = Concatenate::new().call_many(&[&ia, &ib]).unwrap();
        let h = Dense::new(8).activation(Activation::Relu).call(&h).unwrap();
        let h = Dropout::new(0.2).call(&h).unwrap();
        let class = Dense::new(3)
            .activation(Activation::Softmax)
            .with_name("class")
            .call(&h)
            .unwrap();
        let value = Dense::new(1).with_name("value").call(&h).unwrap();
        let mut m = Model::functional_many(&[&ia, &ib], &[&class, &value])
            .unwrap()
            .seed(9);
        m.compile(
            Adam::new(0.01),
            Losses::from([
                ("value", Loss::MeanAbsoluteError),
                ("class", Loss::sparse_categorical_crossentropy()),
            ])
            .loss_weights([("value", 0.5)]),
            [("class", vec![Metric::Accuracy])],
        )
        .unwrap();
        m
    };
    let fit = |m: &mut Functional| {
        m.fit(
            [&a, &b],
            [&class, &value],
            FitOptions::new().epochs(2).batch_size(8).verbose(0),
        )
        .unwrap()
    };
    let mut straight = build();
    fit(&mut straight);
    let h_straight = fit(&mut straight);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let mut first = build();
    fit(&mut first);
    first.save(&path).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["config"]["input_layers"],
        serde_json::json!([["a", 0, 0], ["b", 0, 0]])
    );
    assert_eq!(
        config["config"]["output_layers"],
        serde_json::json!([["class", 0, 0], ["value", 0, 0]])
    );
    assert_eq!(
        config["compile"]["loss_weights"],
        serde_json::json!({"value": 0.5})
    );
    assert_eq!(
        config["compile"]["metrics"],
        serde_json::json!({"class": ["Accuracy"]})
    );
    let mut resumed = Functional::load(&path).unwrap();
    assert_eq!(resumed.output_names(), vec!["class", "value"]);
    assert_eq!(resumed.config_json()["compile"], first.config_json()["compile"]);
    assert_eq!(
        resumed.predict_many([&a, &b]).unwrap(),
        first.predict_many([&a, &b]).unwrap()
    );
    let h_resumed = fit(&mut resumed);
    assert_eq!(resumed.get_weights_by_name(), straight.get_weights_by_name());
    assert_eq!(h_resumed, h_straight);
}

fn err<T: std::fmt::Debug>(r: neurite::Result<T>) -> String {
    r.unwrap_err().to_string()
}

/// Every kind of bad data is an error naming the input or output, what was
/// expected and what was found.
#[test]
fn bad_data_is_an_error_naming_the_array() {
    let (a, b, class, value) = data();
    let mut m = two_headed(1);
    let q = || FitOptions::new().verbose(0);
    let e = err(m.fit([("a", &a), ("c", &b)], [&class, &value], q()));
    assert!(e.contains("\"c\"") && e.contains("[\"a\", \"b\"]"), "{e}");
    let e = err(m.fit([("a", &a)], [&class, &value], q()));
    assert!(e.contains("no array for the input \"b\""), "{e}");
    let e = err(m.fit(&a, [&class, &value], q()));
    assert!(e.contains("2 input(s)") && e.contains("got 1"), "{e}");
    let e = err(m.fit([&a, &b], [("class", &class), ("values", &value)], q()));
    assert!(
        e.contains("\"values\"") && e.contains("[\"class\", \"value\"]"),
        "{e}"
    );
    let short = b.slice_axis(ndarray::Axis(0), (0..N - 1).into()).to_owned();
    let e = err(m.fit([&a, &short], [&class, &value], q()));
    assert!(
        e.contains(&format!("x[\"b\"] has {}", N - 1)) && e.contains(&format!("has {N}")),
        "{e}"
    );
    let e = err(m.evaluate(
        [&a, &b],
        [
            &class,
            &short.slice_axis(ndarray::Axis(0), (0..N - 1).into()).to_owned(),
        ],
    ));
    assert!(e.contains("y[\"value\"]"), "{e}");
    let wide = Tensor::zeros(ndarray::IxDyn(&[N, 5]));
    let e = err(m.fit([&a, &wide], [&class, &value], q()));
    assert!(
        e.contains("input \"b\"") && e.contains("[4]") && e.contains("[5]"),
        "{e}"
    );
    let e = err(m.predict_many([&wide, &b]));
    assert!(e.contains("input \"a\"") && e.contains("[6]"), "{e}");
    let e = err(m.predict([&a, &b]));
    assert!(e.contains("predict_many") && e.contains("2 outputs"), "{e}");
    let e = err(m.fit(
        [&a, &b],
        [&class, &value],
        q().validation_data([&a, &wide], [&class, &value]),
    ));
    assert!(e.contains("validation x[\"b\"]"), "{e}");
    let e = err(m.fit([&a, &b], [&class, &value], q().class_weight([(0, 2.0)].into())));
    assert!(e.contains("class_weight") && e.contains("one output"), "{e}");
    let flip = neurite::data::augment::RandomFlip::horizontal();
    let e = err(m.fit([&a, &b], [&class, &value], q().augmentation(&flip)));
    assert!(e.contains("augmentation") && e.contains("one input"), "{e}");
    let sw = vec![1.0f32; N - 2];
    let e = err(m.fit([&a, &b], [&class, &value], q().sample_weight(&sw)));
    assert!(e.contains("sample_weight"), "{e}");
    // A Sequential has no named inputs.
    let mut seq = Sequential::new().add(Dense::new(1).input_dim(6));
    seq.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[]).unwrap();
    let e = err(seq.fit([("x", &a)], &value, q()));
    assert!(e.contains("in order"), "{e}");
}

/// compile refuses losses, weights and metrics that do not fit the outputs.
#[test]
fn bad_compile_arguments_name_the_output() {
    let mut m = two_headed(1);
    let e = err(m.compile(
        Adam::default(),
        [("class", Loss::Hinge), ("price", Loss::Hinge)],
        &[],
    ));
    assert!(
        e.contains("\"price\"") && e.contains("[\"class\", \"value\"]"),
        "{e}"
    );
    let e = err(m.compile(Adam::default(), [Loss::Hinge], &[]));
    assert!(e.contains("1 value(s)") && e.contains("2 output(s)"), "{e}");
    let e = err(m.compile(Adam::default(), [("class", Loss::Hinge)], &[]));
    assert!(e.contains("\"value\" has no loss"), "{e}");
    let e = err(m.compile(
        Adam::default(),
        Losses::from(Loss::Hinge).loss_weights([("velue", 1.0)]),
        &[],
    ));
    assert!(e.contains("loss_weights") && e.contains("\"velue\""), "{e}");
    let e = err(m.compile(Adam::default(), Loss::Hinge, [vec![Metric::Mae]]));
    assert!(e.contains("metrics"), "{e}");
    let e = err(m.compile(
        Adam::default(),
        Loss::Hinge,
        [("value", vec![Metric::Mae, Metric::Mae])],
    ));
    assert!(e.contains("mae") && e.contains("overwrite"), "{e}");
}

/// Bad graphs: two outputs with one name, and a graph with several outputs
/// used as a layer; a graph with several inputs nests as a layer.
#[test]
fn graphs_with_several_inputs_nest_and_several_outputs_do_not() {
    let x = Input::new([4]);
    let shared = SharedLayer::new(Dense::new(4).with_name("twice"));
    let (p, q) = (shared.call(&x).unwrap(), shared.call(&x).unwrap());
    let e = err(Model::functional_many(&[&x], &[&p, &q]));
    assert!(e.contains("\"twice\"") && e.contains("outputs 0 and 1"), "{e}");

    let (a, b) = (Input::named("a", [3]), Input::named("b", [3]));
    let sum = Add::new().call_many(&[&a, &b]).unwrap();
    let diff = Subtract::new().call_many(&[&a, &b]).unwrap();
    let two_out = Graph::new(&[&a, &b], &[&sum, &diff]).unwrap();
    let (u, v) = (Input::named("u", [3]), Input::named("v", [3]));
    let e = err(SharedLayer::new(two_out).call_many(&[&u, &v]));
    assert!(e.contains("2 outputs") && e.contains("forward_many"), "{e}");

    let mut inner = Graph::new(&[&a, &b], &[&sum]).unwrap();
    inner.set_name("pair_sum".into());
    let s = inner.call_many(&[&u, &v]).unwrap();
    let out = Dense::new(2).call(&s).unwrap();
    let mut outer = Model::functional_many(&[&u, &v], &[&out]).unwrap();
    outer.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[]).unwrap();
    let (xu, xv) = (
        Tensor::ones(ndarray::IxDyn(&[2, 3])),
        Tensor::ones(ndarray::IxDyn(&[2, 3])),
    );
    assert_eq!(outer.predict([&xu, &xv]).unwrap().shape(), &[2, 2]);
    // Saved and loaded, the nested two-input graph predicts the same.
    let dir = tempfile::tempdir().unwrap();
    outer.save(dir.path().join("m")).unwrap();
    let loaded = Functional::load(dir.path().join("m")).unwrap();
    assert_eq!(
        loaded.predict([&xu, &xv]).unwrap(),
        outer.predict([&xu, &xv]).unwrap()
    );
}

/// Hostile edits of a multi-I/O model's config.json are errors naming the
/// file and the field, never panics.
#[test]
fn hostile_multi_io_configs_are_errors_naming_the_field() {
    let (a, b, class, value) = data();
    let mut m = two_headed(2);
    m.fit([&a, &b], [&class, &value], FitOptions::new().verbose(0))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    m.save(&path).unwrap();
    let cpath = path.join("config.json");
    let good: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cpath).unwrap()).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, &str, Edit)> = vec![
        (
            "output naming a missing node",
            "output_layers",
            Box::new(|c| c["config"]["output_layers"][1] = serde_json::json!(["ghost", 0, 0])),
        ),
        (
            "input naming a layer",
            "Input tensors",
            Box::new(|c| c["config"]["input_layers"][1] = serde_json::json!(["class", 0, 0])),
        ),
        (
            "duplicate output",
            "outputs 0 and 1",
            Box::new(|c| c["config"]["output_layers"][1] = serde_json::json!(["class", 0, 0])),
        ),
        (
            "loss for an unknown output",
            "\"ghost\"",
            Box::new(|c| {
                c["compile"]["loss"] =
                    serde_json::json!({"class": {"name": "hinge"}, "ghost": {"name": "hinge"}})
            }),
        ),
        (
            "a loss that is not one",
            "compile.loss.value",
            Box::new(|c| c["compile"]["loss"]["value"] = serde_json::json!({"name": "nope"})),
        ),
        (
            "too many losses by order",
            "3 value(s)",
            Box::new(|c| {
                c["compile"]["loss"] =
                    serde_json::json!([{"name": "hinge"}, {"name": "hinge"}, {"name": "hinge"}])
            }),
        ),
        (
            "a weight that is not a number",
            "compile.loss_weights",
            Box::new(|c| c["compile"]["loss_weights"] = serde_json::json!({"class": "heavy"})),
        ),
        (
            "metrics for an unknown output",
            "\"ghost\"",
            Box::new(|c| c["compile"]["metrics"] = serde_json::json!({"ghost": ["Mae"]})),
        ),
        (
            "metrics of the wrong kind",
            "compile.metrics",
            Box::new(|c| c["compile"]["metrics"] = serde_json::json!(3)),
        ),
    ];
    for (what, needle, edit) in edits {
        let mut c = good.clone();
        edit(&mut c);
        std::fs::write(&cpath, serde_json::to_string(&c).unwrap()).unwrap();
        match Functional::load(&path) {
            Ok(_) => panic!("{what}: loaded"),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("config.json") && e.contains(needle), "{what}: {e}");
            }
        }
    }
}
