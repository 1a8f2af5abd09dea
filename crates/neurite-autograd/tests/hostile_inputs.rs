//! Hostile inputs (issue #15, "Reliability"): graph building and
//! differentiation must answer bad shapes, parameters and misuse of the
//! graph with an `AutogradError` naming the op, never a panic or a silent
//! wrong result. Each call runs under `catch_unwind`, so a panic shows up as
//! a clear test failure naming the case.

use ndarray::{arr1, arr2, Array1, Array2, Array3, Array4, Dimension, IxDyn};
use neurite_autograd::{gradcheck, ops, AutogradError, GradcheckOptions, Tensor, Var};
use neurite_tensor::{Conv2dParams, Pool2dParams};
use proptest::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into a test failure that names `case`.
fn no_panic<T>(case: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{case}: panicked instead of returning an error: {msg}")
        }
    }
}

/// Asserts that `r` is an error whose message contains `needle` (the op, or the cause).
fn assert_err<T>(case: &str, needle: &str, r: Result<T, AutogradError>) {
    match r {
        Ok(_) => panic!("{case}: expected an error mentioning {needle:?}, got Ok"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "{case}: the error should mention {needle:?}: {e}"
        ),
    }
}

fn param(shape: &[usize]) -> Var {
    Var::parameter(Tensor::from_shape_fn(IxDyn(shape), |i| {
        i.slice()
            .iter()
            .enumerate()
            .map(|(k, &v)| (k + 1) as f32 * v as f32)
            .sum::<f32>()
            * 0.3
            - 0.7
    }))
}

// ------------------------------------------------------------- the graph

#[test]
fn backward_misuse_is_an_error() {
    let w = param(&[2, 3]);
    let y = ops::mul_scalar(&w, 2.0).unwrap();
    assert_err("non-scalar", "one-element", no_panic("backward", || y.backward()));
    let empty = ops::mul_scalar(&param(&[0, 3]), 2.0).unwrap();
    assert_err("empty", "one-element", no_panic("backward", || empty.backward()));
    assert_err(
        "wrong upstream shape",
        "upstream gradient",
        no_panic("backward_with", || y.backward_with(Tensor::ones(IxDyn(&[3, 2])))),
    );
    assert_err(
        "constant",
        "does not depend",
        no_panic("constant", || Var::scalar(1.0).backward()),
    );
    let loss = ops::sum_all(&y).unwrap();
    loss.backward().unwrap();
    assert_err("twice", "already consumed", no_panic("twice", || loss.backward()));
    // Through an intermediate result of the consumed graph too.
    assert_err(
        "intermediate after consumption",
        "already consumed",
        no_panic("twice", || y.backward_with(Tensor::ones(IxDyn(&[2, 3])))),
    );
}

#[test]
fn a_gradient_of_another_shape_in_the_slot_is_an_error() {
    // set_grad with a wrong shape used to make the next backward panic in
    // `acc += grad` ([2] += [3]); a broadcastable one ([3] += [1]) silently
    // broadcast instead.
    for (case, slot, shape) in [
        ("incompatible", vec![2], vec![3]),
        ("broadcastable", vec![3], vec![1]),
        ("rank", vec![1, 3], vec![3]),
    ] {
        let w = param(&shape);
        w.set_grad(Some(Tensor::zeros(IxDyn(&slot))));
        let loss = ops::sum_all(&ops::square(&w).unwrap()).unwrap();
        assert_err(case, "accumulated gradient", no_panic(case, || loss.backward()));
        // A leaf as its own root takes the same path.
        let w = param(&shape);
        w.set_grad(Some(Tensor::zeros(IxDyn(&slot))));
        assert_err(
            case,
            "accumulated gradient",
            no_panic(case, || w.backward_with(Tensor::ones(IxDyn(&shape)))),
        );
    }
    // zero_grad clears the way.
    let w = param(&[3]);
    w.set_grad(Some(Tensor::zeros(IxDyn(&[2]))));
    w.zero_grad();
    ops::sum_all(&w).unwrap().backward().unwrap();
    assert_eq!(w.grad().unwrap(), Tensor::ones(IxDyn(&[3])));
}

#[test]
fn values_changed_between_forward_and_backward_are_an_error() {
    // A parent's value replaced by one of another shape: mul's backward
    // (g * b) used to panic on the shape mismatch.
    let (a, b) = (param(&[2, 3]), param(&[2, 3]));
    let loss = ops::sum_all(&ops::mul(&a, &b).unwrap()).unwrap();
    b.set_value(Tensor::ones(IxDyn(&[4])));
    assert_err(
        "mul parent",
        "op mul: input 1",
        no_panic("mul", || loss.backward()),
    );

    // The fused losses index the per-sample gradient by row: more rows now
    // used to read past its end.
    let logits = param(&[2, 3]);
    let targets = Var::constant(Tensor::ones(IxDyn(&[2, 3])));
    let l = ops::sigmoid_binary_cross_entropy(&logits, &targets).unwrap();
    let loss = ops::sum_all(&l).unwrap();
    logits.set_value(Tensor::ones(IxDyn(&[5, 3])));
    assert_err(
        "bce logits",
        "sigmoid_binary_cross_entropy",
        no_panic("bce", || loss.backward()),
    );

    // The output of an op that differentiates from its output, resized in
    // place: its consumers notice first, or the op itself when it is the root.
    let x = param(&[2, 3]);
    let s = ops::softmax(&x, 1).unwrap();
    let loss = ops::sum_all(&ops::mul(&s, &s).unwrap()).unwrap();
    *s.value_mut() = Tensor::ones(IxDyn(&[3, 2]));
    assert_err(
        "softmax output",
        "op mul: input 0",
        no_panic("softmax", || loss.backward()),
    );
    let s = ops::softmax(&x, 1).unwrap();
    *s.value_mut() = Tensor::ones(IxDyn(&[3, 2]));
    assert_err(
        "softmax root",
        "op softmax: its output",
        no_panic("softmax", || s.backward_with(Tensor::ones(IxDyn(&[3, 2])))),
    );

    // Same shape, other values: allowed (the closures read values at backward time).
    let (a, b) = (param(&[2]), param(&[2]));
    let loss = ops::sum_all(&ops::mul(&a, &b).unwrap()).unwrap();
    b.set_value(Tensor::from_elem(IxDyn(&[2]), 5.0));
    loss.backward().unwrap();
    assert_eq!(a.grad().unwrap(), Tensor::from_elem(IxDyn(&[2]), 5.0));
}

// ------------------------------------------------------------------- ops

#[test]
fn binary_ops_between_mismatched_shapes_are_errors() {
    let (a, b) = (param(&[2, 3]), param(&[4]));
    type Op = fn(&Var, &Var) -> neurite_autograd::Result<Var>;
    let binary: [(&str, Op); 8] = [
        ("add", ops::add),
        ("sub", ops::sub),
        ("mul", ops::mul),
        ("div", ops::div),
        ("maximum", ops::maximum),
        ("minimum", ops::minimum),
        ("pow", ops::pow),
        ("matmul", ops::matmul),
    ];
    for (name, op) in binary {
        assert_err(name, name, no_panic(name, || op(&a, &b)));
        assert_err(name, name, no_panic(name, || op(&b, &a)));
    }
    // matmul: inner mismatch, and rank 3.
    assert_err(
        "matmul inner",
        "matmul",
        ops::matmul(&param(&[2, 3]), &param(&[2, 3])),
    );
    assert_err(
        "matmul rank",
        "matmul",
        ops::matmul(&param(&[1, 2, 3]), &param(&[3, 2])),
    );
    assert_err(
        "batched_matmul inner",
        "batched_matmul",
        no_panic("bmm", || {
            ops::batched_matmul(&param(&[0, 2, 3]), &param(&[0, 4, 5]))
        }),
    );
    assert_err(
        "batched_matmul batch",
        "batched_matmul",
        ops::batched_matmul(&param(&[2, 2, 3]), &param(&[3, 3, 2])),
    );
    let cond = Tensor::ones(IxDyn(&[5]));
    assert_err(
        "where_select",
        "where_select",
        no_panic("where", || ops::where_select(&cond, &a, &a)),
    );
}

#[test]
fn shape_ops_refuse_bad_sizes_axes_and_indices() {
    let x = param(&[2, 3]);
    assert_err("reshape size", "reshape", ops::reshape(&x, &[4, 2]));
    // 2^63 * 2 wraps to 0 = the size of an empty value: used to pass the size check.
    let empty = param(&[0]);
    assert_err(
        "reshape wrap",
        "reshape",
        no_panic("reshape", || ops::reshape(&empty, &[1 << 63, 2])),
    );
    assert_err(
        "reshape overflow",
        "reshape",
        no_panic("reshape", || ops::reshape(&x, &[usize::MAX, 3, 2])),
    );
    // A value of shape [1] broadcast to 2^62 elements: refused before allocating.
    assert_err(
        "broadcast_to huge",
        "broadcast_to",
        no_panic("broadcast_to", || {
            ops::broadcast_to(&param(&[1]), &[1 << 31, 1 << 31])
        }),
    );
    assert_err("broadcast_to", "broadcast_to", ops::broadcast_to(&x, &[3, 3]));
    assert_err(
        "index_select",
        "index_select",
        no_panic("index_select", || ops::index_select(&x, 1, &[0, 3])),
    );
    assert_err(
        "index_select axis",
        "index_select",
        ops::index_select(&x, 2, &[0]),
    );
    assert_err(
        "slice_axis end",
        "slice_axis",
        no_panic("slice", || ops::slice_axis(&x, 1, 1, 4)),
    );
    assert_err(
        "slice_axis reversed",
        "slice_axis",
        no_panic("slice", || ops::slice_axis(&x, 1, 2, 1)),
    );
    assert_err(
        "slice_axis axis",
        "slice_axis",
        ops::slice_axis(&x, usize::MAX, 0, 0),
    );
    assert_err("squeeze", "squeeze", ops::squeeze(&x, 0));
    assert_err("expand_dims", "expand_dims", ops::expand_dims(&x, 3));
    assert_err("permute repeat", "permute", ops::permute(&x, &[0, 0]));
    assert_err("permute rank", "permute", ops::permute(&x, &[1, 0, 2]));
    assert_err("transpose", "transpose", ops::transpose(&param(&[2, 3, 4])));
    assert_err("flatten", "flatten", ops::flatten(&Var::scalar(1.0)));
    assert_err("concat none", "concat", ops::concat(&[], 0));
    assert_err(
        "concat shapes",
        "concat",
        no_panic("concat", || ops::concat(&[&x, &param(&[3, 3])], 1)),
    );
    assert_err(
        "concat ranks",
        "concat",
        no_panic("concat", || ops::concat(&[&x, &param(&[2])], 0)),
    );
    assert_err(
        "stack shapes",
        "stack",
        no_panic("stack", || ops::stack(&[&x, &param(&[3, 2])], 0)),
    );
    assert_err("stack axis", "stack", ops::stack(&[&x, &x], 3));
}

#[test]
fn reductions_and_softmax_refuse_bad_axes_and_empty_input() {
    let e = param(&[2, 0]);
    assert_err("mean_all empty", "mean_all", ops::mean_all(&e));
    assert_err("mean_axis empty", "mean_axis", ops::mean_axis(&e, 1, false));
    assert_err("max_axis empty", "max_axis", ops::max_axis(&e, 1, true));
    assert_err("min_axis empty", "min_axis", ops::min_axis(&e, 1, false));
    assert_err(
        "variance empty",
        "variance_axis",
        ops::variance_axis(&e, 1, false),
    );
    assert_err("mean_axes empty", "mean_axes", ops::mean_axes(&e, &[0, 1], false));
    assert_err("sum_axis axis", "sum_axis", ops::sum_axis(&e, 2, false));
    assert_err("sum_axes repeat", "sum_axes", ops::sum_axes(&e, &[0, 0], false));
    assert_err("softmax axis", "softmax", ops::softmax(&e, 2));
    assert_err(
        "log_softmax axis",
        "log_softmax",
        ops::log_softmax(&Var::scalar(1.0), 0),
    );
    // Softmax over an empty axis is empty (as PyTorch) and differentiates.
    let s = ops::softmax(&e, 1).unwrap();
    assert_eq!(s.shape(), vec![2, 0]);
    let loss = ops::sum_all(&s).unwrap();
    loss.backward().unwrap();
    assert_eq!(e.grad().unwrap().shape(), &[2, 0]);
}

#[test]
fn non_finite_parameters_are_errors() {
    let x = param(&[3]);
    for alpha in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert_err("leaky_relu alpha", "leaky_relu", ops::leaky_relu(&x, alpha));
        assert_err("elu alpha", "elu", ops::elu(&x, alpha));
    }
    assert_err("clip lo NaN", "clip", ops::clip(&x, f32::NAN, 1.0));
    assert_err("clip hi NaN", "clip", ops::clip(&x, 0.0, f32::NAN));
    assert_err("clip lo > hi", "clip", ops::clip(&x, 1.0, 0.0));
    let mut rng = neurite_rand::Generator::seed_from_u64(0);
    for rate in [f32::NAN, 1.0, -0.1, f32::INFINITY] {
        assert_err("dropout rate", "dropout", ops::dropout(&x, rate, &mut rng));
    }
}

#[test]
fn losses_refuse_mismatched_targets_and_labels() {
    let logits = param(&[2, 3]);
    let t = Var::constant(Tensor::zeros(IxDyn(&[3, 2])));
    assert_err(
        "softmax ce targets",
        "softmax_cross_entropy",
        ops::softmax_cross_entropy(&logits, &t),
    );
    assert_err(
        "bce targets",
        "sigmoid_binary_cross_entropy",
        ops::sigmoid_binary_cross_entropy(&logits, &t),
    );
    assert_err(
        "sparse count",
        "sparse_softmax_cross_entropy",
        ops::sparse_softmax_cross_entropy(&logits, &[0]),
    );
    assert_err(
        "sparse label",
        "sparse_softmax_cross_entropy",
        no_panic("sparse", || ops::sparse_softmax_cross_entropy(&logits, &[0, 3])),
    );
    assert_err(
        "no classes",
        "softmax_cross_entropy",
        ops::softmax_cross_entropy(&param(&[2, 0]), &Var::constant(Tensor::zeros(IxDyn(&[2, 0])))),
    );
    assert_err(
        "rank 1",
        "sparse_softmax_cross_entropy",
        ops::sparse_softmax_cross_entropy(&param(&[3]), &[0]),
    );
    assert_err(
        "0-d bce",
        "sigmoid_binary_cross_entropy",
        ops::sigmoid_binary_cross_entropy(&Var::scalar(0.0), &Var::scalar(1.0)),
    );
}

#[test]
fn conv_and_pool_ops_refuse_mismatches() {
    let x = Var::parameter(Array4::<f32>::ones((1, 5, 5, 2)).into_dyn());
    let k = Var::parameter(Array4::<f32>::ones((3, 3, 3, 4)).into_dyn());
    let p = Conv2dParams::default();
    assert_err(
        "channels",
        "conv2d",
        no_panic("conv2d", || ops::conv2d(&x, &k, None, &p)),
    );
    let k2 = Var::parameter(Array4::<f32>::ones((3, 3, 2, 4)).into_dyn());
    let b = Var::parameter(Array1::<f32>::ones(3).into_dyn());
    assert_err(
        "bias length",
        "conv2d",
        no_panic("conv2d", || ops::conv2d(&x, &k2, Some(&b), &p)),
    );
    let b2 = Var::parameter(Array2::<f32>::ones((1, 4)).into_dyn());
    assert_err(
        "bias rank",
        "conv2d_relu",
        no_panic("conv2d_relu", || ops::conv2d_relu(&x, &k2, Some(&b2), &p)),
    );
    assert_err(
        "rank 3 input",
        "conv2d",
        ops::conv2d(
            &Var::parameter(Array3::<f32>::ones((5, 5, 2)).into_dyn()),
            &k2,
            None,
            &p,
        ),
    );
    let s0 = Conv2dParams { strides: (0, 1), ..p };
    assert_err(
        "stride 0",
        "conv2d",
        no_panic("conv2d", || ops::conv2d(&x, &k2, None, &s0)),
    );
    let zero = Pool2dParams::new((0, 2));
    assert_err(
        "pool 0",
        "max_pool2d",
        no_panic("max_pool2d", || ops::max_pool2d(&x, &zero)),
    );
    assert_err(
        "avg pool 0",
        "avg_pool2d",
        no_panic("avg_pool2d", || ops::avg_pool2d(&x, &zero)),
    );
    assert_err(
        "fused pool larger than conv output",
        "max_pool2d",
        no_panic("fused", || {
            ops::conv2d_relu_max_pool2d(&x, &k2, None, &p, &Pool2dParams::new((4, 4)))
        }),
    );
    assert_err(
        "global rank",
        "global_avg_pool2d",
        ops::global_avg_pool2d(&param(&[2, 3])),
    );
    assert_err(
        "global empty",
        "global_max_pool2d",
        ops::global_max_pool2d(&param(&[1, 0, 2, 2])),
    );
}

#[test]
fn non_standard_layout_values_give_the_standard_layout_results() {
    // The same logical values, once as a transposed (column-major) array.
    let base = Tensor::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 4 + i[1]) as f32 * 0.37 - 1.9);
    let transposed = base.t().as_standard_layout().into_owned().reversed_axes();
    assert!(!transposed.is_standard_layout());
    assert_eq!(transposed, base);
    let other = Tensor::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] + 2 * i[1]) as f32 * 0.21 - 0.5);
    let targets = Tensor::from_shape_fn(IxDyn(&[3, 4]), |i| if i[1] == i[0] { 1.0 } else { 0.0 });
    type Build = fn(&Var, &Tensor, &Tensor) -> neurite_autograd::Result<Var>;
    let cases: [(&str, Build); 12] = [
        ("add", |x, o, _| ops::add(x, &Var::constant(o.clone()))),
        ("mul", |x, o, _| ops::mul(x, &Var::constant(o.clone()))),
        ("div", |x, o, _| {
            ops::div(&Var::constant(o.clone()), &ops::add_scalar(x, 10.0)?)
        }),
        ("matmul", |x, o, _| {
            ops::matmul(x, &ops::transpose(&Var::constant(o.clone()))?)
        }),
        ("softmax", |x, _, _| ops::softmax(x, 1)),
        ("log_softmax", |x, _, _| ops::log_softmax(x, 0)),
        ("max_axis", |x, _, _| ops::max_axis(x, 1, false)),
        ("variance_axis", |x, _, _| ops::variance_axis(x, 0, true)),
        ("reshape", |x, o, _| {
            ops::mul(
                &ops::reshape(x, &[2, 6])?,
                &Var::constant(o.clone().into_shape_with_order(IxDyn(&[2, 6])).unwrap()),
            )
        }),
        ("softmax_cross_entropy", |x, _, t| {
            ops::softmax_cross_entropy(x, &Var::constant(t.clone()))
        }),
        ("sigmoid_binary_cross_entropy", |x, _, t| {
            ops::sigmoid_binary_cross_entropy(x, &Var::constant(t.clone()))
        }),
        ("index_select", |x, _, _| ops::index_select(x, 1, &[3, 0, 3])),
    ];
    for (name, build) in cases {
        let run = |value: &Tensor| {
            let x = Var::parameter(value.clone());
            let y = build(&x, &other, &targets).unwrap();
            let out = y.to_tensor();
            let weights =
                Tensor::from_shape_fn(out.raw_dim(), |i| i.slice().iter().sum::<usize>() as f32 + 1.0);
            y.backward_with(weights).unwrap();
            (out, x.grad().unwrap())
        };
        let (y1, g1) = no_panic(name, || run(&base));
        let (y2, g2) = no_panic(name, || run(&transposed));
        // Equal up to rounding: the kernels take a flat fast path for standard layouts.
        let close = |a: &Tensor, b: &Tensor| {
            a.shape() == b.shape()
                && a.iter()
                    .zip(b.iter())
                    .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + x.abs()))
        };
        assert!(
            close(&y1, &y2),
            "{name}: values differ between layouts: {y1} vs {y2}"
        );
        assert!(
            close(&g1, &g2),
            "{name}: gradients differ between layouts: {g1} vs {g2}"
        );
    }
}

// -------------------------------------------------------------- gradcheck

/// A custom op `y = v(x)` whose backward returns `d(x)`.
fn custom(x: &Var, v: fn(f32) -> f32, d: fn(f32) -> f32) -> Var {
    let value = x.value().mapv(v);
    let input = x.value().clone();
    Var::from_op(
        value,
        "custom",
        &[x],
        Box::new(move |g| Ok(vec![Some(g * &input.mapv(d))])),
    )
}

#[test]
fn gradcheck_reports_a_non_finite_numeric_gradient() {
    let x = vec![arr1(&[0.0f32, 1.0]).into_dyn()];
    let opts = GradcheckOptions::default();
    // sqrt at 0: sqrt(-eps) is NaN, so the finite difference is NaN, while the
    // (wrong) analytic gradient claims 0. `|a - NaN| > tol` is false, so this passed.
    let r = gradcheck(|v| Ok(custom(&v[0], f32::sqrt, |_| 0.0)), &x, &opts);
    match r {
        Err(AutogradError::GradcheckFailed {
            input: 0,
            index: 0,
            numeric,
            ..
        }) => assert!(numeric.is_nan()),
        other => panic!("a NaN finite difference must fail, got {other:?}"),
    }
    // A step to infinity: the finite difference at 0 is +-inf (+-inf - 0);
    // `|0 - inf| > atol + rtol * inf` is `inf > inf`, false, so this passed too.
    let x = vec![arr1(&[0.0f32, -1.0]).into_dyn()];
    let r = gradcheck(
        |v| {
            Ok(custom(
                &v[0],
                |x| if x > 0.0 { f32::INFINITY } else { 0.0 },
                |_| 0.0,
            ))
        },
        &x,
        &opts,
    );
    match r {
        Err(AutogradError::GradcheckFailed {
            index: 0, numeric, ..
        }) => assert!(numeric.is_infinite()),
        other => panic!("an infinite finite difference must fail, got {other:?}"),
    }
}

#[test]
fn gradcheck_reports_a_non_finite_analytic_gradient() {
    let x = vec![arr2(&[[0.5f32, 1.0]]).into_dyn()];
    let opts = GradcheckOptions::default();
    for (case, bad) in [("NaN", f32::NAN), ("inf", f32::INFINITY)] {
        let r = gradcheck(
            |v| {
                let value = v[0].value().clone();
                Ok(Var::from_op(
                    value,
                    "bad_grad",
                    &[&v[0]],
                    Box::new(move |g| Ok(vec![Some(g.mapv(|_| bad))])),
                ))
            },
            &x,
            &opts,
        );
        match r {
            Err(AutogradError::GradcheckFailed { analytic, .. }) => assert!(!analytic.is_finite(), "{case}"),
            other => panic!("{case}: a non-finite analytic gradient must fail, got {other:?}"),
        }
    }
    // And a correct op still passes.
    gradcheck(|v| ops::square(&v[0]), &x, &opts).unwrap();
}

#[test]
fn gradcheck_refuses_invalid_options() {
    let x = vec![arr1(&[1.0f32]).into_dyn()];
    for (case, o) in [
        (
            "eps 0",
            GradcheckOptions {
                eps: 0.0,
                ..Default::default()
            },
        ),
        (
            "eps NaN",
            GradcheckOptions {
                eps: f32::NAN,
                ..Default::default()
            },
        ),
        (
            "eps < 0",
            GradcheckOptions {
                eps: -1e-3,
                ..Default::default()
            },
        ),
        (
            "atol NaN",
            GradcheckOptions {
                atol: f64::NAN,
                ..Default::default()
            },
        ),
        (
            "rtol inf",
            GradcheckOptions {
                rtol: f64::INFINITY,
                ..Default::default()
            },
        ),
        (
            "atol < 0",
            GradcheckOptions {
                atol: -1.0,
                ..Default::default()
            },
        ),
    ] {
        // A NaN tolerance would let every element pass: refused up front.
        assert_err(
            case,
            "gradcheck: options.",
            gradcheck(|v| ops::square(&v[0]), &x, &o),
        );
    }
}

// ------------------------------------------------------------ properties

/// Two shapes with one aligned axis deliberately incompatible (lengths >= 2 that differ).
fn incompatible_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        prop::collection::vec(1usize..4, 1..=4),
        prop::collection::vec(1usize..4, 1..=4),
        any::<prop::sample::Index>(),
        2usize..5,
        1usize..3,
    )
        .prop_map(|(mut a, mut b, i, len, delta)| {
            let k = i.index(a.len().min(b.len()));
            let (ia, ib) = (a.len() - 1 - k, b.len() - 1 - k);
            a[ia] = len;
            b[ib] = len + delta;
            (a, b)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incompatible_var_shapes_are_errors_never_panics((sa, sb) in incompatible_shapes()) {
        let (a, b) = (param(&sa), param(&sb));
        type Op = fn(&Var, &Var) -> neurite_autograd::Result<Var>;
        let binary: [(&str, Op); 7] = [
            ("add", ops::add), ("sub", ops::sub), ("mul", ops::mul), ("div", ops::div),
            ("maximum", ops::maximum), ("minimum", ops::minimum), ("pow", ops::pow),
        ];
        for (name, op) in binary {
            let r = no_panic(name, || op(&a, &b));
            prop_assert!(r.is_err(), "{}({:?}, {:?}) should fail", name, sa, sb);
            prop_assert!(no_panic(name, || op(&b, &a)).is_err());
        }
        prop_assert!(no_panic("broadcast_to", || ops::broadcast_to(&a, &sb)).is_err());
    }

    #[test]
    fn conv_and_pool_ops_never_panic_on_any_parameters(
        (kh, kw) in (0usize..4, 0usize..4),
        (sh, sw) in (prop_oneof![0usize..3, Just(usize::MAX)], prop_oneof![0usize..3, Just(1usize << 40)]),
        (dh, dw) in (prop_oneof![0usize..3, Just(usize::MAX / 2)], 0usize..3),
        same in any::<bool>(),
        (h, w) in (1usize..6, 1usize..6),
    ) {
        let padding = if same { neurite_tensor::Padding::Same } else { neurite_tensor::Padding::Valid };
        let p = Conv2dParams { strides: (sh, sw), padding, dilation: (dh, dw) };
        let x = param(&[2, h, w, 2]);
        let k = param(&[kh, kw, 2, 3]);
        let expected = neurite_tensor::conv2d_output_shape(&[2, h, w, 2], &[kh, kw, 2, 3], &p);
        let y = no_panic("conv2d", || ops::conv2d_relu(&x, &k, None, &p));
        prop_assert_eq!(y.is_ok(), expected.is_ok(), "{:?}", p);
        if let Ok(y) = y {
            let loss = ops::sum_all(&y).unwrap();
            prop_assert!(no_panic("conv2d backward", || loss.backward()).is_ok());
            prop_assert_eq!(x.grad().unwrap().shape().to_vec(), vec![2, h, w, 2]);
        }
        let pp = Pool2dParams { pool_size: (kh, kw), strides: (sh, sw), padding };
        let expected = neurite_tensor::pool2d_output_shape(&[2, h, w, 2], &pp);
        for (name, r) in [
            ("max_pool2d", no_panic("max_pool2d", || ops::max_pool2d(&x, &pp))),
            ("avg_pool2d", no_panic("avg_pool2d", || ops::avg_pool2d(&x, &pp))),
        ] {
            prop_assert_eq!(r.is_ok(), expected.is_ok(), "{} {:?}", name, pp);
            if let Ok(y) = r {
                let loss = ops::sum_all(&y).unwrap();
                prop_assert!(no_panic(name, || loss.backward()).is_ok());
            }
        }
    }

    #[test]
    fn reshape_succeeds_exactly_when_sizes_match(
        from in prop::collection::vec(0usize..4, 0..4),
        to in prop::collection::vec(prop_oneof![0usize..5, Just(usize::MAX), Just(1usize << 63)], 0..4),
    ) {
        let x = param(&from);
        let r = no_panic("reshape", || ops::reshape(&x, &to));
        let same = to.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) == Some(from.iter().product::<usize>())
            && to.iter().all(|&d| d < 1 << 40);
        prop_assert_eq!(r.is_ok(), same, "reshape {:?} -> {:?}", from, to);
        if let Ok(y) = r {
            prop_assert_eq!(y.shape(), to);
        }
    }

    #[test]
    fn a_parent_resized_after_the_forward_pass_is_an_error(
        shape in prop::collection::vec(1usize..4, 1..4),
        other in prop::collection::vec(1usize..4, 1..4),
        which in 0usize..6,
    ) {
        prop_assume!(shape != other);
        let x = param(&shape);
        let y = no_panic("forward", || match which {
            0 => ops::mul(&x, &x),
            1 => ops::softmax(&x, 0),
            2 => ops::sum_axis(&x, 0, false),
            3 => ops::sigmoid(&x),
            4 => ops::div(&x, &param(&shape)),
            _ => ops::reshape(&x, &[shape.iter().product()]),
        })
        .unwrap();
        let loss = ops::sum_all(&y).unwrap();
        x.set_value(Tensor::ones(IxDyn(&other)));
        let r = no_panic("backward", || loss.backward());
        prop_assert!(r.is_err(), "op {} after a resize {:?} -> {:?}", which, shape, other);
    }
}
