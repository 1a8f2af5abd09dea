//! Functional models: what the graph computes, training, sharing, nesting,
//! save/load/resume, and the errors of malformed graphs and configs.

use ndarray::{Array2, ArrayD, Axis};
use neurite::prelude::*;
use neurite::tensor::random::{normal, uniform};

fn mnist_like_layers() -> Vec<Box<dyn Layer>> {
    vec![
        Box::new(Conv2D::new(8, (3, 3)).activation(Activation::Relu)),
        Box::new(MaxPooling2D::new((2, 2))),
        Box::new(Conv2D::new(8, (3, 3)).activation(Activation::Relu)),
        Box::new(Flatten::new()),
        Box::new(Dense::new(16).activation(Activation::Relu)),
        Box::new(Dense::new(3).activation(Activation::Softmax)),
    ]
}

fn data(n: usize) -> (Tensor, Tensor) {
    let x = uniform(&[n, 12, 12, 1], 0.0, 1.0, &mut rng_from_seed(4));
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| {
        let s: f32 = x.index_axis(Axis(0), i[0]).iter().take(72).sum();
        ((s / 12.0) as usize % 3) as f32
    });
    (x, y)
}

/// A chain written as a graph is the `Sequential` of the same layers: the
/// same initial weights (built in the same order from the same seed), the
/// same predictions and the same training, bit for bit.
#[test]
fn a_chain_graph_trains_exactly_as_the_sequential_of_its_layers() {
    let mut seq = Sequential::new().seed(9);
    for layer in mnist_like_layers() {
        seq.push(layer);
    }
    let inputs = Input::new([12, 12, 1]);
    let mut t = inputs.clone();
    for layer in mnist_like_layers() {
        t = SharedLayer::from_boxed(layer).call(&t).unwrap();
    }
    let mut graph = Model::functional(&inputs, &t).unwrap().seed(9);
    seq.build(&[12, 12, 1]).unwrap();
    graph.build(&[12, 12, 1]).unwrap();
    assert_eq!(seq.get_weights_by_name(), graph.get_weights_by_name());
    let (x, y) = data(96);
    for m in [&mut seq as &mut dyn Trainable, &mut graph as &mut dyn Trainable] {
        m.train(&x, &y);
    }
    assert_eq!(seq.get_weights_by_name(), graph.get_weights_by_name());
    assert_eq!(seq.predict(&x).unwrap(), graph.predict(&x).unwrap());
}

/// Both model kinds through one interface, for the test above.
trait Trainable {
    fn train(&mut self, x: &Tensor, y: &Tensor);
}

impl<N: Layer> Trainable for Model<N> {
    fn train(&mut self, x: &Tensor, y: &Tensor) {
        self.compile(
            Adam::new(0.01),
            Loss::sparse_categorical_crossentropy(),
            &[Metric::Accuracy],
        )
        .unwrap();
        self.fit(x, y, FitOptions::new().epochs(3).batch_size(16).verbose(0))
            .unwrap();
    }
}

/// `y = x + relu(x W + b)`, and the gradient reaches W through the branch
/// and x's path directly: checked against the formula by hand.
#[test]
fn a_residual_block_computes_its_formula() {
    let x_in = Input::new([5]);
    let h = Dense::new(5).activation(Activation::Relu).call(&x_in).unwrap();
    let y = Add::new().call_many(&[&x_in, &h]).unwrap();
    let mut model = Model::functional(&x_in, &y).unwrap().seed(1);
    model.build(&[5]).unwrap();
    let w = model.get_weights_by_name();
    let (kernel, bias) = (&w[0].1, &w[1].1);
    let x = normal(&[7, 5], 0.0, 1.0, &mut rng_from_seed(2));
    let got = model.predict(&x).unwrap();
    for i in 0..7 {
        for j in 0..5 {
            let mut z = bias[[j]];
            for k in 0..5 {
                z += x[[i, k]] * kernel[[k, j]];
            }
            let want = x[[i, j]] + z.max(0.0);
            assert!(
                (got[[i, j]] - want).abs() < 1e-5,
                "({i},{j}) {} vs {want}",
                got[[i, j]]
            );
        }
    }
}

/// One layer called on two inputs (a Siamese encoder): one set of weights,
/// counted once, and a gradient that sums both calls' contributions.
#[test]
fn a_shared_layer_has_one_set_of_weights_and_both_calls_train_it() {
    let x_in = Input::new([4]);
    let encoder = SharedLayer::new(Dense::new(3).use_bias(false));
    let a = encoder.call(&x_in).unwrap();
    let b = encoder.call(&a).unwrap(); // the same layer again, on its own output
    assert!(
        Model::functional(&Input::new([4]), &b).is_err(),
        "an output of another input tensor must be refused"
    );
    // A 3-wide output fed to the kernel the first call makes for 4 inputs.
    let err = Model::functional(&x_in, &b).err().unwrap().to_string();
    assert!(err.contains("dense") && err.contains("same weights"), "{err}");
    // A square encoder can be applied twice.
    let x_in = Input::new([3]);
    let encoder = SharedLayer::new(Dense::new(3).use_bias(false));
    let b = encoder.call(&encoder.call(&x_in).unwrap()).unwrap();
    let mut model = Model::functional(&x_in, &b).unwrap().seed(3);
    model.build(&[3]).unwrap();
    assert_eq!(model.count_params(), (9, 0));
    let w = model.get_weights_by_name()[0]
        .1
        .clone()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let x = normal(&[4, 3], 0.0, 1.0, &mut rng_from_seed(8));
    let x2 = x.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let want = x2.dot(&w).dot(&w);
    let got = model
        .predict(&x)
        .unwrap()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    assert!(got.iter().zip(want.iter()).all(|(g, w)| (g - w).abs() < 1e-5));
    // d/dW sum(x W W) = xᵀ 1 Wᵀ + (x W)ᵀ 1: one SGD step of rate 1 on the sum.
    let ones = Array2::<f32>::ones((4, 3));
    let grad = x2.t().dot(&ones.dot(&w.t())) + x2.dot(&w).t().dot(&ones);
    let xv = Var::from_array(x2.clone());
    let out = model.forward(&xv, &mut ForwardContext::training(0)).unwrap();
    out.sum_all().unwrap().backward().unwrap();
    let g = model.parameters()[0].var.grad().unwrap();
    let g = g.into_dimensionality::<ndarray::Ix2>().unwrap();
    assert!(
        g.iter().zip(grad.iter()).all(|(a, b)| (a - b).abs() < 1e-4),
        "{g} vs {grad}"
    );
}

/// A graph called as a layer inside another graph, and an Inception-like
/// merge of branches, train and save/load/resume exactly.
#[test]
fn nested_graphs_and_branches_save_load_and_resume_exactly() {
    let build = || {
        let inner_in = Input::new([12, 12, 1]);
        let a = Conv2D::new(4, (1, 1)).call(&inner_in).unwrap();
        let b = Conv2D::new(4, (3, 3))
            .padding(Padding::Same)
            .call(&inner_in)
            .unwrap();
        let merged = Concatenate::new().call_many(&[&a, &b]).unwrap();
        let mut block = Graph::new(&[&inner_in], &[&merged]).unwrap();
        block.set_name("block".into());
        let x_in = Input::new([12, 12, 1]);
        let h = block.call(&x_in).unwrap();
        let h = MaxPooling2D::new((2, 2)).call(&h).unwrap();
        let h = GlobalAveragePooling2D::new().call(&h).unwrap();
        let y = Dense::new(3).activation(Activation::Softmax).call(&h).unwrap();
        let mut m = Model::functional(&x_in, &y).unwrap().seed(5);
        m.compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy(), &[])
            .unwrap();
        m
    };
    let (x, y) = data(64);
    let opts = || FitOptions::new().epochs(2).batch_size(16).verbose(0);
    let mut straight = build();
    straight.fit(&x, &y, opts()).unwrap();
    straight.fit(&x, &y, opts()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let mut first = build();
    first.fit(&x, &y, opts()).unwrap();
    first.save(&path).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["class_name"], "Functional");
    let layers = config["config"]["layers"].as_array().unwrap();
    assert_eq!(layers[1]["class_name"], "Functional");
    assert_eq!(layers[2]["inbound_nodes"][0][0][0], "block");
    let mut resumed = Functional::load(&path).unwrap();
    assert_eq!(resumed.predict(&x).unwrap(), first.predict(&x).unwrap());
    assert!(Sequential::load(&path).is_err());
    resumed.fit(&x, &y, opts()).unwrap();
    assert_eq!(resumed.get_weights_by_name(), straight.get_weights_by_name());
    assert!(
        resumed.summary().contains("block (Functional)"),
        "{}",
        resumed.summary()
    );
}

#[test]
fn malformed_graphs_are_errors_naming_the_problem() {
    let x = Input::new([4]);
    let e = |r: neurite::Result<SymbolicTensor>| r.unwrap_err().to_string();
    assert!(e(Add::new().call_many(&[&x])).contains("2 or more"));
    assert!(e(Dense::new(2).call_many(&[&x, &x])).contains("one tensor"));
    let y = Dense::new(2).call(&x).unwrap();
    let other = Input::named("other", [2]);
    let z = Add::new().call_many(&[&y, &other]).unwrap();
    let err = Model::functional(&x, &z).err().unwrap().to_string();
    assert!(err.contains("disconnected") && err.contains("other"), "{err}");
    let err = Model::functional(&y, &z).err().unwrap().to_string();
    assert!(err.contains("Input"), "{err}");
    let a = Dense::new(2).with_name("same").call(&x).unwrap();
    let b = Dense::new(2).with_name("same").call(&x).unwrap();
    let s = Add::new().call_many(&[&a, &b]).unwrap();
    let err = Model::functional(&x, &s).err().unwrap().to_string();
    assert!(err.contains("same") && err.contains("unique"), "{err}");
    assert!(Input::try_new([3, 0]).is_err());
    // The model checks its input shape.
    let mut m = Model::functional(&x, &y).unwrap();
    assert!(m.build(&[5]).is_err());
    let bad: ArrayD<f32> = ArrayD::zeros(ndarray::IxDyn(&[2, 5]));
    assert!(m.predict(&bad).is_err());
}

#[test]
fn hostile_graph_configs_are_errors_not_panics() {
    let x = Input::new([3]);
    let h = Dense::new(3).call(&x).unwrap();
    let y = Add::new().call_many(&[&x, &h]).unwrap();
    let mut model = Model::functional(&x, &y).unwrap();
    model.build(&[3]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    model.save(&path).unwrap();
    let cpath = path.join("config.json");
    let good: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cpath).unwrap()).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "a cycle",
            Box::new(|c| {
                c["config"]["layers"][1]["inbound_nodes"][0][0] = serde_json::json!(["add_1", 0, 0])
            }),
        ),
        (
            "unknown layer",
            Box::new(|c| {
                c["config"]["layers"][2]["inbound_nodes"][0][1] = serde_json::json!(["ghost", 0, 0])
            }),
        ),
        (
            "bad reference",
            Box::new(|c| c["config"]["layers"][2]["inbound_nodes"][0][1] = serde_json::json!("dense_1")),
        ),
        (
            "huge input",
            Box::new(|c| {
                c["config"]["layers"][0]["config"]["batch_shape"] =
                    serde_json::json!([null, 1_000_000_000_000u64, 1_000_000_000_000u64])
            }),
        ),
        (
            "zero input",
            Box::new(|c| c["config"]["layers"][0]["config"]["batch_shape"] = serde_json::json!([null, 0])),
        ),
        (
            "no layers",
            Box::new(|c| c["config"]["layers"] = serde_json::json!(7)),
        ),
        (
            "never called",
            Box::new(|c| c["config"]["layers"][1]["inbound_nodes"] = serde_json::json!([])),
        ),
        (
            "two outputs of one name",
            Box::new(|c| {
                c["config"]["output_layers"] = serde_json::json!([["add_1", 0, 0], ["add_1", 0, 0]])
            }),
        ),
        (
            "second output tensor",
            Box::new(|c| c["config"]["output_layers"] = serde_json::json!([["add_1", 0, 1]])),
        ),
        (
            "deep nesting",
            Box::new(|c| {
                let mut inner = c["config"].clone();
                for _ in 0..40 {
                    inner = serde_json::json!({"name": "n", "layers": [{"class_name": "Functional", "name": "n", "config": inner, "inbound_nodes": [[]]}], "input_layers": [], "output_layers": []});
                }
                c["config"] = inner;
            }),
        ),
    ];
    for (what, edit) in edits {
        let mut c = good.clone();
        edit(&mut c);
        std::fs::write(&cpath, serde_json::to_string(&c).unwrap()).unwrap();
        match Functional::load(&path) {
            Ok(_) => panic!("{what}: loaded"),
            Err(e) => assert!(e.to_string().contains("config.json"), "{what}: {e}"),
        }
    }
}
