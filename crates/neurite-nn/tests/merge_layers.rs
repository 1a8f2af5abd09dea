//! The merge layers (issue #16): forward against plainly written loops on
//! random shapes (Keras' broadcasting of inputs of different ranks and size-1
//! axes, every concatenation axis, every pair of Dot axes, with and without
//! normalize), backward by the norm gradient check of `gc_util`, shapes that
//! do not merge as errors naming the layer, arity errors, and configs
//! through `layer_from_config`.

mod gc_util;

use gc_util::{ag, norm_gradcheck, zeroed_inputs_that_pass, NormCheck};
use ndarray::IxDyn;
use neurite_autograd::{Tensor, Var};
use neurite_nn::layers::{Add, Average, Concatenate, Dot, DotAxes, Maximum, Minimum, Multiply, Subtract};
use neurite_nn::{layer_from_config, ForwardContext, Layer};
use proptest::prelude::*;

/// The row-major index of `idx` in `shape`.
fn flat(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// All indices of `shape`, row-major.
fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in shape {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..d).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    out
}

/// Values on a grid of 0.1 plus a per-input offset: no two inputs are ever
/// within 0.013 of each other, so Maximum/Minimum have no tie inside the
/// finite-difference step.
fn separated(shape: Vec<usize>, input: usize) -> impl Strategy<Value = Tensor> {
    let n = shape.iter().product::<usize>();
    prop::collection::vec(-20i32..=20, n).prop_map(move |v| {
        let data = v.iter().map(|&k| k as f32 * 0.1 + input as f32 * 0.013).collect();
        Tensor::from_shape_vec(IxDyn(&shape), data).unwrap()
    })
}

/// A batch and `k` full shapes (with the batch axis) that merge under
/// Keras' rule: each is the base sample shape with some axes set to 1 and
/// some leading axes dropped.
fn mergeable(k: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..=3, prop::collection::vec(1usize..=4, 1..=3), k).prop_flat_map(|(batch, base, k)| {
        let r = base.len();
        prop::collection::vec((0..r, prop::collection::vec(any::<bool>(), r)), k).prop_map(move |specs| {
            specs
                .into_iter()
                .map(|(drop, ones)| {
                    let mut s = vec![batch];
                    s.extend((drop..r).map(|a| if ones[a] { 1 } else { base[a] }));
                    s
                })
                .collect()
        })
    })
}

fn inputs_for(shapes: Vec<Vec<usize>>) -> impl Strategy<Value = Vec<Tensor>> {
    shapes
        .into_iter()
        .enumerate()
        .map(|(i, s)| separated(s, i))
        .collect::<Vec<_>>()
}

/// Keras' elementwise merge, element by element: inputs aligned on their
/// last axes (missing leading sample axes and size-1 axes broadcast),
/// folded left to right with `op`.
fn elementwise_reference(xs: &[Tensor], op: &str) -> Tensor {
    let rank = xs.iter().map(|x| x.ndim()).max().unwrap();
    let mut out_shape = vec![xs[0].shape()[0]];
    for a in 1..rank {
        let d = xs
            .iter()
            .map(|x| {
                let off = rank - x.ndim();
                if a > off {
                    x.shape()[a - off]
                } else {
                    1
                }
            })
            .max()
            .unwrap();
        out_shape.push(d);
    }
    let mut out = Vec::new();
    for idx in indices(&out_shape) {
        let value = |x: &Tensor| {
            let off = rank - x.ndim();
            let xi: Vec<usize> = (0..x.ndim())
                .map(|a| {
                    let oa = if a == 0 { 0 } else { a + off };
                    if x.shape()[a] == 1 {
                        0
                    } else {
                        idx[oa]
                    }
                })
                .collect();
            x.as_slice().unwrap()[flat(&xi, x.shape())]
        };
        let mut acc = value(&xs[0]);
        for x in &xs[1..] {
            let v = value(x);
            acc = match op {
                "add" | "average" => acc + v,
                "subtract" => acc - v,
                "multiply" => acc * v,
                "maximum" => acc.max(v),
                "minimum" => acc.min(v),
                _ => unreachable!(),
            };
        }
        if op == "average" {
            acc *= 1.0 / xs.len() as f32;
        }
        out.push(acc);
    }
    Tensor::from_shape_vec(IxDyn(&out_shape), out).unwrap()
}

fn layer_named(op: &str) -> Box<dyn Layer> {
    match op {
        "add" => Box::new(Add::new()),
        "subtract" => Box::new(Subtract::new()),
        "multiply" => Box::new(Multiply::new()),
        "average" => Box::new(Average::new()),
        "maximum" => Box::new(Maximum::new()),
        "minimum" => Box::new(Minimum::new()),
        _ => unreachable!(),
    }
}

fn check_forward_and_gradients(layer: &dyn Layer, xs: &[Tensor], want: &Tensor) -> Result<(), TestCaseError> {
    let vars: Vec<Var> = xs.iter().map(|x| Var::constant(x.clone())).collect();
    let y = layer
        .forward_multi(&vars, &mut ForwardContext::inference())
        .unwrap();
    let got = y.to_tensor();
    prop_assert_eq!(got.shape(), want.shape());
    for (a, b) in got.iter().zip(want) {
        prop_assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{} vs {}", a, b);
    }
    let samples: Vec<Vec<usize>> = xs.iter().map(|x| x.shape()[1..].to_vec()).collect();
    prop_assert_eq!(
        layer.output_shape_multi(&samples).unwrap(),
        want.shape()[1..].to_vec()
    );
    prop_assert_eq!(layer.parameter_shapes_multi(&samples).unwrap(), Some(vec![]));
    norm_gradcheck(
        |v| ag(layer.forward_multi(v, &mut ForwardContext::training(0))),
        xs,
        &NormCheck::default(),
    )
    .map_err(TestCaseError::fail)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn elementwise_layers_match_loops(
        (op, xs) in (0usize..6).prop_flat_map(|o| {
            let op = ["add", "subtract", "multiply", "average", "maximum", "minimum"][o];
            let k = if op == "subtract" { 2..=2 } else { 2..=4 };
            (Just(op), mergeable(k).prop_flat_map(inputs_for))
        })
    ) {
        let layer = layer_named(op);
        check_forward_and_gradients(layer.as_ref(), &xs, &elementwise_reference(&xs, op))?;
    }

    #[test]
    fn concatenate_matches_loops(
        (xs, axis, negative) in (1usize..=3, prop::collection::vec(1usize..=3, 1..=3), 2usize..=4)
            .prop_flat_map(|(batch, base, k)| {
                let r = base.len();
                (Just(batch), Just(base), prop::collection::vec(1usize..=3, k), 0..r, any::<bool>())
            })
            .prop_flat_map(|(batch, base, lens, axis, negative)| {
                let shapes: Vec<Vec<usize>> = lens.iter().map(|&l| {
                    let mut s = vec![batch];
                    s.extend(base.iter().enumerate().map(|(a, &d)| if a == axis { l } else { d }));
                    s
                }).collect();
                (inputs_for(shapes), Just(axis), Just(negative))
            })
    ) {
        let rank = xs[0].ndim();
        let full_axis = axis + 1;
        let keras_axis = if negative { full_axis as i64 - rank as i64 } else { full_axis as i64 };
        let layer = Concatenate::new().axis(keras_axis);
        // Reference: each output element from the input whose slice covers its position.
        let mut out_shape = xs[0].shape().to_vec();
        out_shape[full_axis] = xs.iter().map(|x| x.shape()[full_axis]).sum();
        let mut out = Vec::new();
        for idx in indices(&out_shape) {
            let (mut pos, mut k) = (idx[full_axis], 0);
            while pos >= xs[k].shape()[full_axis] {
                pos -= xs[k].shape()[full_axis];
                k += 1;
            }
            let mut xi = idx.clone();
            xi[full_axis] = pos;
            out.push(xs[k].as_slice().unwrap()[flat(&xi, xs[k].shape())]);
        }
        let want = Tensor::from_shape_vec(IxDyn(&out_shape), out).unwrap();
        check_forward_and_gradients(&layer, &xs, &want)?;
    }

    #[test]
    fn dot_matches_loops(
        (x, y, i, j, form, normalize) in
            (1usize..=3, prop::collection::vec(1usize..=3, 1..=3), prop::collection::vec(1usize..=3, 1..=3))
                .prop_flat_map(|(batch, s1, s2)| {
                    let (r1, r2) = (s1.len(), s2.len());
                    (Just(batch), Just(s1), Just(s2), 0..r1, 0..r2, 0usize..3, any::<bool>())
                })
                .prop_flat_map(|(batch, s1, mut s2, i, j, form, normalize)| {
                    s2[j] = s1[i];
                    let full = |s: &[usize]| { let mut f = vec![batch]; f.extend_from_slice(s); f };
                    let (f1, f2) = (full(&s1), full(&s2));
                    (separated(f1, 0), separated(f2, 1), Just(i), Just(j), Just(form), Just(normalize))
                })
    ) {
        let (r1, r2) = (x.ndim() as i64, y.ndim() as i64);
        let (a1, a2) = (i as i64 + 1, j as i64 + 1);
        let axes = match form {
            0 => DotAxes::Pair([a1, a2]),
            1 => DotAxes::Pair([a1 - r1, a2 - r2]),
            // One axis for both: only when it names the same position (from the start or the end).
            _ if a1 == a2 => DotAxes::One(a1),
            _ if a1 - r1 == a2 - r2 => DotAxes::One(a1 - r1),
            _ => DotAxes::Pair([a1, a2 - r2]),
        };
        let layer = Dot::new(axes).normalize(normalize);
        let (ax, ay) = (i + 1, j + 1);
        let norm = |t: &Tensor, axis: usize| -> Tensor {
            if !normalize {
                return t.clone();
            }
            let mut t = t.clone();
            for mut lane in t.lanes_mut(ndarray::Axis(axis)) {
                let n = lane.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
                lane.mapv_inplace(|v| if n > 0.0 { (v as f64 / n) as f32 } else { v * 1e7 });
            }
            t
        };
        let (xn, yn) = (norm(&x, ax), norm(&y, ay));
        let rest = |s: &[usize], a: usize| -> Vec<usize> { s.iter().enumerate().filter(|&(k, _)| k != a && k != 0).map(|(_, &d)| d).collect() };
        let (rx, ry) = (rest(x.shape(), ax), rest(y.shape(), ay));
        let batch = x.shape()[0];
        let mut out_shape = vec![batch];
        out_shape.extend(&rx);
        out_shape.extend(&ry);
        if out_shape.len() == 1 {
            out_shape.push(1);
        }
        let k = x.shape()[ax];
        let mut out = Vec::new();
        for b in 0..batch { for pi in indices(&rx) { for qi in indices(&ry) {
            let mut sum = 0.0f64;
            for kk in 0..k {
                let mut xi = vec![b];
                xi.extend(&pi);
                xi.insert(ax, kk);
                let mut yi = vec![b];
                yi.extend(&qi);
                yi.insert(ay, kk);
                sum += xn.as_slice().unwrap()[flat(&xi, x.shape())] as f64 * yn.as_slice().unwrap()[flat(&yi, y.shape())] as f64;
            }
            out.push(sum as f32);
        }}}
        let want = Tensor::from_shape_vec(IxDyn(&out_shape), out).unwrap();
        // Lanes of the separated grid can be all zero only with normalize off
        // the finite-difference path; keep normalized lanes away from zero.
        let away = |t: &Tensor, axis: usize| -> bool {
            t.lanes(ndarray::Axis(axis)).into_iter().all(|l| l.iter().map(|v| v * v).sum::<f32>() > 0.05)
        };
        prop_assume!(!normalize || (away(&x, ax) && away(&y, ay)));
        check_forward_and_gradients(&layer, &[x, y], &want)?;
    }
}

/// The gradient check bites on these layers: a zeroed gradient of any
/// input fails it.
#[test]
fn checker_bites() {
    let x = neurite_tensor::random::uniform(
        &[2, 3, 4],
        -1.0,
        1.0,
        &mut neurite_tensor::random::rng_from_seed(1),
    );
    let y = neurite_tensor::random::uniform(
        &[2, 5, 4],
        -1.0,
        1.0,
        &mut neurite_tensor::random::rng_from_seed(2),
    );
    let dot = Dot::new(DotAxes::One(-1)).normalize(true);
    let f = |v: &[Var]| ag(dot.forward_multi(v, &mut ForwardContext::training(0)));
    norm_gradcheck(f, &[x.clone(), y.clone()], &NormCheck::default()).unwrap();
    assert!(zeroed_inputs_that_pass(f, &[x.clone(), y], &NormCheck::default()).is_empty());
    let add = Add::new();
    let f = |v: &[Var]| ag(add.forward_multi(v, &mut ForwardContext::training(0)));
    let z =
        neurite_tensor::random::uniform(&[2, 4], -1.0, 1.0, &mut neurite_tensor::random::rng_from_seed(3));
    assert!(zeroed_inputs_that_pass(f, &[x, z], &NormCheck::default()).is_empty());
}

#[test]
fn single_input_calls_and_wrong_counts_are_errors() {
    let x = Var::constant(Tensor::zeros(IxDyn(&[2, 3])));
    let mut rng = neurite_tensor::random::rng_from_seed(0);
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Add::new()),
        Box::new(Subtract::new()),
        Box::new(Multiply::new()),
        Box::new(Average::new()),
        Box::new(Maximum::new()),
        Box::new(Minimum::new()),
        Box::new(Concatenate::new()),
        Box::new(Dot::new(DotAxes::One(1))),
    ];
    for mut l in layers {
        let class = l.class_name();
        let e = l
            .forward(&x, &mut ForwardContext::inference())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(l.name()) && e.contains(class) && e.contains("got one tensor"),
            "{e}"
        );
        assert!(l.output_shape(&[3]).is_err() && l.parameter_shapes(&[3]).is_err());
        assert!(l.build(&[3], &mut rng).is_err());
        assert!(!l.input_arity().accepts(1));
        let e = l
            .forward_multi(std::slice::from_ref(&x), &mut ForwardContext::inference())
            .unwrap_err()
            .to_string();
        assert!(e.contains("a list of 1 input"), "{e}");
        assert!(l.output_shape_multi(&[]).is_err());
        let three = [x.clone(), x.clone(), x.clone()];
        let r = l.forward_multi(&three, &mut ForwardContext::inference());
        assert_eq!(r.is_ok(), l.input_arity().accepts(3), "{class}");
    }
    let e = Add::new()
        .forward(&x, &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Add takes a list of 2 or more inputs, got one tensor"),
        "{e}"
    );
}

#[test]
fn shapes_that_do_not_merge_are_errors_naming_the_layer_and_shapes() {
    let add = Add::new().with_name("add_7");
    let e = add
        .output_shape_multi(&[vec![4, 3], vec![4, 2]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("add_7") && e.contains("[4, 3]") && e.contains("[4, 2]"),
        "{e}"
    );
    // Keras' rule: ranks may differ, trailing axes aligned, 1 broadcasts.
    assert_eq!(
        add.output_shape_multi(&[vec![3, 1], vec![1, 4]]).unwrap(),
        vec![3, 4]
    );
    assert_eq!(
        add.output_shape_multi(&[vec![2, 3, 4], vec![4], vec![3, 1]])
            .unwrap(),
        vec![2, 3, 4]
    );
    assert_eq!(add.output_shape_multi(&[vec![], vec![5]]).unwrap(), vec![5]);
    // Different batch sizes.
    let a = Var::constant(Tensor::zeros(IxDyn(&[2, 3])));
    let b = Var::constant(Tensor::zeros(IxDyn(&[3, 3])));
    let e = add
        .forward_multi(&[a.clone(), b], &mut ForwardContext::inference())
        .unwrap_err()
        .to_string();
    assert!(e.contains("add_7") && e.contains("batch size 2"), "{e}");
    // No batch axis.
    assert!(add
        .forward_multi(&[a.clone(), Var::scalar(1.0)], &mut ForwardContext::inference())
        .is_err());

    let cat = Concatenate::new().with_name("cat");
    let e = cat
        .output_shape_multi(&[vec![3, 4], vec![2, 4]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cat") && e.contains("[3, 4]") && e.contains("[2, 4]"),
        "{e}"
    );
    assert!(cat.output_shape_multi(&[vec![3, 4], vec![3, 4, 1]]).is_err()); // ranks differ
    let e = Concatenate::new()
        .axis(3)
        .output_shape_multi(&[vec![3, 4], vec![3, 4]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("axis"), "{e}");
    assert!(Concatenate::new()
        .axis(-3)
        .output_shape_multi(&[vec![3, 4], vec![3, 4]])
        .is_err());
    assert!(Concatenate::new()
        .axis(0)
        .output_shape_multi(&[vec![3, 4], vec![3, 4]])
        .is_err());
    assert!(Concatenate::new()
        .axis(-2)
        .output_shape_multi(&[vec![3, 4], vec![5, 4]])
        .is_ok());

    let dot = Dot::new(DotAxes::Pair([1, 2])).with_name("dot_3");
    let e = dot
        .output_shape_multi(&[vec![3, 5], vec![10, 4]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("dot_3") && e.contains("3") && e.contains("4"), "{e}");
    assert!(dot.output_shape_multi(&[vec![3], vec![10, 3]]).is_ok());
    assert!(Dot::new(DotAxes::One(3))
        .output_shape_multi(&[vec![3, 5], vec![3, 5]])
        .is_err());
    assert!(Dot::new(DotAxes::One(-3))
        .output_shape_multi(&[vec![3, 5], vec![3, 5]])
        .is_err());
    assert!(Dot::new(DotAxes::One(0))
        .output_shape_multi(&[vec![3, 5], vec![3, 5]])
        .is_err());
    assert_eq!(
        Dot::new(DotAxes::One(1))
            .output_shape_multi(&[vec![4], vec![4]])
            .unwrap(),
        vec![1]
    );
}

#[test]
fn configs_round_trip_and_bad_fields_are_refused() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Add::new().with_name("a")),
        Box::new(Subtract::new()),
        Box::new(Multiply::new()),
        Box::new(Average::new()),
        Box::new(Maximum::new()),
        Box::new(Minimum::new()),
        Box::new(Concatenate::new().axis(-2)),
        Box::new(Dot::new(DotAxes::Pair([2, -1])).normalize(true)),
        Box::new(Dot::new(DotAxes::One(1))),
    ];
    for l in layers {
        let again = layer_from_config(l.class_name(), &l.config()).unwrap();
        assert_eq!(again.config(), l.config());
        assert_eq!(again.name(), l.name());
        assert_eq!(again.input_arity(), l.input_arity());
    }
    let cfg = Dot::new(DotAxes::Pair([1, 2])).config();
    assert_eq!(cfg["axes"], serde_json::json!([1, 2]));
    let e = layer_from_config("Dot", &serde_json::json!({"name": "d", "axes": [1, 0]}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("d") && e.contains("axes"), "{e}");
    let e = layer_from_config("Dot", &serde_json::json!({"name": "d", "axes": "last"}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("axes"), "{e}");
    assert!(layer_from_config("Dot", &serde_json::json!({"name": "d"})).is_err()); // axes required
    let e = layer_from_config("Concatenate", &serde_json::json!({"name": "c", "axis": 0}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("c") && e.contains("axis"), "{e}");
    let c = layer_from_config("Concatenate", &serde_json::json!({"name": "c"})).unwrap();
    assert_eq!(c.config()["axis"], -1);
}

fn every_merge_layer() -> Vec<Box<dyn Layer>> {
    vec![
        Box::new(Add::new()),
        Box::new(Subtract::new()),
        Box::new(Multiply::new()),
        Box::new(Average::new()),
        Box::new(Maximum::new()),
        Box::new(Minimum::new()),
        Box::new(Concatenate::new()),
        Box::new(Concatenate::new().axis(1).with_name("concatenate_axis1")),
        Box::new(Dot::new(DotAxes::One(-1)).normalize(true)),
        Box::new(Dot::new(DotAxes::Pair([1, 2])).with_name("dot_pair")),
    ]
}

fn hostile_dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..4,
        Just(usize::MAX),
        Just(usize::MAX / 2 + 1),
        Just(1usize << 46),
        Just(1usize << 62)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Shape queries on lists of absurd shapes: a result or an error naming
    /// the layer, never a panic or a wrapped sum (Concatenate's lengths).
    #[test]
    fn merge_shape_queries_never_panic(
        shapes in prop::collection::vec(prop::collection::vec(hostile_dim(), 0..4), 0..4)
    ) {
        for mut layer in every_merge_layer() {
            let name = layer.name().to_string();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (
                    layer.output_shape_multi(&shapes),
                    layer.parameter_shapes_multi(&shapes),
                    layer.build_multi(&shapes, &mut neurite_tensor::random::rng_from_seed(0)),
                )
            }));
            let (o, p, b) = out.map_err(|_| TestCaseError::fail(format!("{name} panicked on {shapes:?}")))?;
            if let Ok(s) = &o {
                // A concatenated length (last axis) is the exact sum, never a wrapped one.
                if name == "concatenate" {
                    let sum = shapes.iter().map(|s| *s.last().unwrap() as u128).sum::<u128>();
                    prop_assert_eq!(*s.last().unwrap() as u128, sum);
                }
            }
            for e in [o.err(), p.err(), b.err()].into_iter().flatten() {
                prop_assert!(e.to_string().contains(&name), "{}: {}", name, e);
            }
        }
    }

    /// `forward_multi` on lists of any small shapes and hostile values: a
    /// result or an error naming the layer, never a panic.
    #[test]
    fn merge_forward_never_panics(
        shapes in prop::collection::vec(prop::collection::vec(0usize..4, 0..4), 0..4),
        value in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(0.0f32), Just(1e30f32), -3.0f32..3.0],
    ) {
        let xs: Vec<Var> = shapes.iter().map(|s| Var::parameter(Tensor::from_elem(IxDyn(s), value))).collect();
        for layer in every_merge_layer() {
            let name = layer.name().to_string();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                layer.forward_multi(&xs, &mut ForwardContext::training(0)).map(|y| {
                    let _ = neurite_autograd::ops::sum_all(&y).map(|s| s.backward());
                    y.shape()
                })
            }))
            .map_err(|_| TestCaseError::fail(format!("{name} panicked on {shapes:?}")))?;
            match r {
                Ok(out) => {
                    let samples: Vec<Vec<usize>> = shapes.iter().map(|s| s[1..].to_vec()).collect();
                    prop_assert_eq!(out[1..].to_vec(), layer.output_shape_multi(&samples).unwrap());
                }
                Err(e) => prop_assert!(e.to_string().contains(&name), "{}: {}", name, e),
            }
        }
    }
}
