//! Looking at a functional model: `summary()`'s "Connected to" column (Keras
//! 3's layout) and `to_svg`/`plot_model`, the picture of its graph.

use neurite::prelude::*;
use std::collections::BTreeSet;

/// x -> Dense(8) -> Add([x, dense]) -> Dense(2), built.
fn residual() -> Functional {
    let x = Input::new([8]);
    let h = Dense::new(8).activation(Activation::Relu).call(&x).unwrap();
    let y = Add::new().call_many(&[&x, &h]).unwrap();
    let out = Dense::new(2).call(&y).unwrap();
    let mut model = Model::functional(&x, &out).unwrap();
    model.build(&[8]).unwrap();
    model
}

/// x -> Conv 1x1 and Conv 3x3 side by side -> Concatenate -> GAP -> Dense(3), built.
fn two_branches() -> Functional {
    let x = Input::new([6, 6, 2]);
    let a = Conv2D::new(4, (1, 1)).call(&x).unwrap();
    let b = Conv2D::new(4, (3, 3)).padding(Padding::Same).call(&x).unwrap();
    let c = Concatenate::new().call_many(&[&a, &b]).unwrap();
    let g = GlobalAveragePooling2D::new().call(&c).unwrap();
    let out = Dense::new(3).activation(Activation::Softmax).call(&g).unwrap();
    let mut model = Model::functional(&x, &out).unwrap();
    model.build(&[6, 6, 2]).unwrap();
    model
}

/// The residual CNN of issue #16 (`examples/resnet.rs`), unbuilt: 3 stages
/// with identity and projection shortcuts.
fn resnet() -> Functional {
    let conv = |f: usize, k: usize, s: usize| {
        Conv2D::new(f, (k, k))
            .strides((s, s))
            .padding(Padding::Same)
            .use_bias(false)
    };
    let x_in = Input::new([28, 28, 1]);
    let x = conv(16, 3, 1).call(&x_in).unwrap();
    let x = BatchNormalization::new().call(&x).unwrap();
    let mut x = ReLU::new().call(&x).unwrap();
    let mut channels = 16;
    for (filters, stride) in [(16, 1), (16, 1), (32, 2), (32, 1)] {
        let y = conv(filters, 3, stride).call(&x).unwrap();
        let y = BatchNormalization::new().call(&y).unwrap();
        let y = ReLU::new().call(&y).unwrap();
        let y = conv(filters, 3, 1).call(&y).unwrap();
        let y = BatchNormalization::new().call(&y).unwrap();
        let s = if stride == 1 && channels == filters {
            x.clone()
        } else {
            let s = conv(filters, 1, stride).call(&x).unwrap();
            BatchNormalization::new().call(&s).unwrap()
        };
        x = ReLU::new()
            .call(&Add::new().call_many(&[&s, &y]).unwrap())
            .unwrap();
        channels = filters;
    }
    let x = GlobalAveragePooling2D::new().call(&x).unwrap();
    let out = Dense::new(10).activation(Activation::Softmax).call(&x).unwrap();
    Model::functional(&x_in, &out).unwrap()
}

/// Keras' own example of a shared layer with two inputs and two outputs:
/// `d = Dense(2)`, outputs `[Subtract()([d(a), d(b)]), d(a)]`.
fn siamese() -> Functional {
    let (a, b) = (Input::named("a", [3]), Input::named("b", [3]));
    let d = SharedLayer::new(Dense::new(2));
    let diff = Subtract::new()
        .call_many(&[&d.call(&a).unwrap(), &d.call(&b).unwrap()])
        .unwrap();
    let again = d.call(&a).unwrap();
    Model::functional_many(&[&a, &b], &[&diff, &again]).unwrap()
}

#[test]
fn several_inputs_and_a_shared_layer_in_the_summary() {
    // As keras 3.15.1 prints it (its names dense_4/subtract aside): the shared
    // layer once, with the inbound tensors of its three calls.
    let expected = "\
Model: \"functional\"
__________________________________________________________________________________________
 Layer (type)                       Output Shape                  Param #   Connected to
==========================================================================================
 a (InputLayer)                     (None, 3)                           0   -
 b (InputLayer)                     (None, 3)                           0   -
 dense_1 (Dense)                    (None, 2)                 0 (unbuilt)   a[0][0],
                                                                            b[0][0],
                                                                            a[0][0]
 subtract_1 (Subtract)              (None, 2)                           0   dense_1[0][0],
                                                                            dense_1[1][0]
==========================================================================================
Total params: 0
Trainable params: 0
Non-trainable params: 0
__________________________________________________________________________________________
";
    assert_eq!(siamese().summary(), expected);
}

#[test]
fn several_inputs_and_outputs_in_the_picture() {
    let svg = siamese().to_svg().unwrap();
    let p = parse(&svg);
    assert_eq!(
        p.labels,
        [
            "a (InputLayer)",
            "b (InputLayer)",
            "dense_1 (Dense)",
            "dense_1 (Dense), call 2",
            "subtract_1 (Subtract)",
            "dense_1 (Dense), call 3"
        ]
    );
    assert_eq!(p.edges, [(0, 2), (1, 3), (2, 4), (3, 4), (0, 5)]);
    assert_eq!(p.rects[0][1], p.rects[1][1], "both inputs at the top");
    assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2, "two outputs marked");
}

#[test]
fn residual_summary_has_keras_connected_to_column() {
    let expected = "\
Model: \"functional\"
_____________________________________________________________________________________________
 Layer (type)                       Output Shape                 Param #   Connected to
=============================================================================================
 input_layer (InputLayer)           (None, 8)                          0   -
 dense_1 (Dense)                    (None, 8)                         72   input_layer[0][0]
 add_1 (Add)                        (None, 8)                          0   input_layer[0][0],
                                                                           dense_1[0][0]
 dense_2 (Dense)                    (None, 2)                         18   add_1[0][0]
=============================================================================================
Total params: 90
Trainable params: 90
Non-trainable params: 0
_____________________________________________________________________________________________
";
    assert_eq!(residual().summary(), expected);
}

#[test]
fn two_branch_summary_has_keras_connected_to_column() {
    // The long name widens its column for every row.
    let expected = "\
Model: \"functional\"
_____________________________________________________________________________________________________________________________
 Layer (type)                                        Output Shape                 Param #   Connected to
=============================================================================================================================
 input_layer (InputLayer)                            (None, 6, 6, 2)                    0   -
 conv2d_1 (Conv2D)                                   (None, 6, 6, 4)                   12   input_layer[0][0]
 conv2d_2 (Conv2D)                                   (None, 6, 6, 4)                   76   input_layer[0][0]
 concatenate_1 (Concatenate)                         (None, 6, 6, 8)                    0   conv2d_1[0][0],
                                                                                            conv2d_2[0][0]
 global_average_pooling2d_1 (GlobalAveragePooling2D) (None, 8)                          0   concatenate_1[0][0]
 dense_1 (Dense)                                     (None, 3)                         27   global_average_pooling2d_1[0][0]
=============================================================================================================================
Total params: 115
Trainable params: 115
Non-trainable params: 0
_____________________________________________________________________________________________________________________________
";
    assert_eq!(two_branches().summary(), expected);
}

#[test]
fn a_chain_keeps_the_sequential_layout_and_sequential_is_unchanged() {
    // Keras 3 prints a functional chain without "Connected to", with its input row.
    let x = Input::new([3]);
    let h = Dense::new(4).call(&x).unwrap();
    let y = Dense::new(1).call(&h).unwrap();
    let chain = Model::functional(&x, &y).unwrap().summary();
    let expected = "\
Model: \"functional\"
________________________________________________________________________
 Layer (type)                       Output Shape                 Param #
========================================================================
 input_layer (InputLayer)           (None, 3)                          0
 dense_1 (Dense)                    (None, 4)                 0 (unbuilt)
 dense_2 (Dense)                    (None, 1)                 0 (unbuilt)
========================================================================
Total params: 0
Trainable params: 0
Non-trainable params: 0
________________________________________________________________________
";
    assert_eq!(chain, expected);

    let mut seq = Sequential::new()
        .add(Dense::new(4).input_dim(3))
        .add(Dense::new(1));
    seq.build(&[3]).unwrap();
    let expected = "\
Model: \"sequential\"
________________________________________________________________________
 Layer (type)                       Output Shape                 Param #
========================================================================
 dense_1 (Dense)                    (None, 4)                         16
 dense_2 (Dense)                    (None, 1)                          5
========================================================================
Total params: 21
Trainable params: 21
Non-trainable params: 0
________________________________________________________________________
";
    assert_eq!(seq.summary(), expected);
}

/// A parsed picture: boxes (label, shape, rect) in document order, and edges.
struct Picture {
    labels: Vec<String>,
    shapes: Vec<String>,
    rects: Vec<[f64; 4]>,
    edges: Vec<(usize, usize)>,
}

fn parse(svg: &str) -> Picture {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    let mut p = Picture {
        labels: Vec::new(),
        shapes: Vec::new(),
        rects: Vec::new(),
        edges: Vec::new(),
    };
    for node in root.descendants().filter(|n| n.is_element()) {
        match node.attribute("class") {
            Some("node") => {
                let texts: Vec<String> = node
                    .children()
                    .filter(|c| c.has_tag_name("text"))
                    .map(|c| c.text().unwrap_or_default().to_string())
                    .collect();
                assert_eq!(texts.len(), 2, "a box shows its name and its shape");
                let rect = node
                    .children()
                    .find(|c| c.has_tag_name("rect"))
                    .expect("a box has a rect");
                assert_eq!(rect.attribute("class"), Some("box"));
                let num = |a: &str| rect.attribute(a).unwrap().parse::<f64>().unwrap();
                p.rects.push([num("x"), num("y"), num("width"), num("height")]);
                p.labels.push(texts[0].clone());
                p.shapes.push(texts[1].clone());
            }
            Some("edge") => {
                let num = |a: &str| node.attribute(a).unwrap().parse::<usize>().unwrap();
                assert_eq!(node.attribute("marker-end"), Some("url(#arrow)"));
                p.edges.push((num("data-from"), num("data-to")));
            }
            Some("box") | None => {}
            Some(other) => panic!("unexpected class {other}"),
        }
    }
    p
}

fn overlap(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

#[test]
fn residual_picture_has_a_box_per_node_and_an_arrow_per_edge() {
    let p = parse(&residual().to_svg().unwrap());
    assert_eq!(
        p.labels,
        [
            "input_layer (InputLayer)",
            "dense_1 (Dense)",
            "add_1 (Add)",
            "dense_2 (Dense)"
        ]
    );
    assert_eq!(p.shapes, ["(None, 8)", "(None, 8)", "(None, 8)", "(None, 2)"]);
    let edges: BTreeSet<_> = p.edges.iter().copied().collect();
    assert_eq!(p.edges.len(), 4);
    assert_eq!(edges, BTreeSet::from([(0, 1), (0, 2), (1, 2), (2, 3)]));
    // Inputs at the top, each call below what it reads.
    for &(from, to) in &p.edges {
        assert!(p.rects[to][1] > p.rects[from][1] + p.rects[from][3]);
    }
}

#[test]
fn two_branch_picture_puts_the_branches_side_by_side() {
    let p = parse(&two_branches().to_svg().unwrap());
    assert_eq!(p.labels.len(), 6);
    assert_eq!(p.edges.len(), 6);
    let (a, b) = (p.rects[1], p.rects[2]);
    assert_eq!(a[1], b[1], "both branches on one level");
    assert!(a[0] + a[2] < b[0], "the first-called branch on the left");
    let center = |r: [f64; 4]| r[0] + r[2] / 2.0;
    assert!(
        (center(p.rects[0]) - center(p.rects[3])).abs() < 0.2,
        "the merge under the split"
    );
}

#[test]
fn resnet_picture_is_tidy() {
    let model = resnet();
    let svg = model.to_svg().unwrap();
    let p = parse(&svg);
    // 1 input + 3 stem calls + 4 blocks of 5 calls + 2 add/relu each + 2 projection calls + GAP + Dense.
    assert_eq!(p.labels.len(), 1 + 3 + 4 * 7 + 2 + 2);
    let layer_names = model.network().layer_names();
    assert_eq!(
        p.labels.len(),
        layer_names.len() + 1,
        "no shared layer: one box per layer"
    );
    for (label, name) in p.labels[1..].iter().zip(&layer_names) {
        assert!(label.starts_with(&format!("{name} (")), "{label} / {name}");
    }
    // One arrow per inbound tensor: every call reads one tensor but the 4 Adds read two.
    assert_eq!(p.edges.len(), p.labels.len() - 1 + 4);
    for (i, a) in p.rects.iter().enumerate() {
        for b in &p.rects[i + 1..] {
            assert!(!overlap(a, b), "boxes overlap: {a:?} {b:?}");
        }
    }
    assert!(p.shapes.contains(&"(None, 14, 14, 32)".to_string()));
    assert_eq!(p.shapes.last().unwrap(), "(None, 10)");
}

#[test]
fn names_are_escaped() {
    let name = "a<b>&\"c'd";
    let x = Input::named("in&put", [4]);
    let y = Dense::new(2).with_name(name).call(&x).unwrap();
    let svg = Model::functional(&x, &y).unwrap().to_svg().unwrap();
    assert!(!svg.contains(name), "the raw name is never written");
    let p = parse(&svg);
    assert_eq!(
        p.labels,
        ["in&put (InputLayer)".to_string(), format!("{name} (Dense)")]
    );
}

#[test]
fn pictures_are_deterministic() {
    // Two separately built models of the same code give the same text.
    assert_eq!(resnet().to_svg().unwrap(), resnet().to_svg().unwrap());
    let m = two_branches();
    assert_eq!(m.to_svg().unwrap(), m.to_svg().unwrap());
}

#[test]
fn plot_model_writes_the_picture_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let model = residual();
    let path = dir.path().join("model.svg");
    model.plot_model(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), model.to_svg().unwrap());
    // A directory in the way: an error naming it, nothing left behind.
    let err = model.plot_model(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["model.svg"]);
    // A missing parent directory too.
    assert!(model.plot_model(dir.path().join("no/such/dir/m.svg")).is_err());
}

#[test]
fn sequential_pictures_are_chains() {
    let model = Sequential::new()
        .add(
            Conv2D::new(4, (3, 3))
                .activation(Activation::Relu)
                .input_shape([8, 8, 1]),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dense::new(10).activation(Activation::Softmax));
    let p = parse(&model.to_svg().unwrap());
    assert_eq!(p.labels[0], "input_layer (InputLayer)");
    assert_eq!(p.labels.len(), 5);
    assert_eq!(p.edges, [(0, 1), (1, 2), (2, 3), (3, 4)]);
    assert_eq!(
        p.shapes,
        [
            "(None, 8, 8, 1)",
            "(None, 6, 6, 4)",
            "(None, 3, 3, 4)",
            "(None, 36)",
            "(None, 10)"
        ]
    );
}
