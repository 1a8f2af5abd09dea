//! `Var`'s operators and methods compute exactly what the free functions of
//! `ops` compute (values and gradients, on random shapes with broadcasting),
//! and a shape mismatch is an `Err`, never a panic.

use ndarray::{Dimension, IxDyn};
use neurite_autograd::{ops, Result, Tensor, Var};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    }
}

fn tensor_of(shape: Vec<usize>, lo: f32, hi: f32) -> impl Strategy<Value = Tensor> {
    let n = shape.iter().product::<usize>();
    prop::collection::vec(lo..hi, n).prop_map(move |v| Tensor::from_shape_vec(IxDyn(&shape), v).unwrap())
}

/// Two tensors whose shapes broadcast: `b` is `a`'s shape with some axes
/// set to 1 and some leading axes dropped; the pair is swapped at random.
/// Values in [0.5, 2] (away from 0, so division is tame).
fn broadcast_pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    (
        prop::collection::vec(1usize..=4, 0..=3),
        prop::collection::vec(any::<bool>(), 3),
        0usize..=3,
        any::<bool>(),
    )
        .prop_flat_map(|(a_shape, ones, drop, swap)| {
            let mut b_shape: Vec<usize> = a_shape
                .iter()
                .zip(&ones)
                .map(|(&d, &one)| if one { 1 } else { d })
                .collect();
            b_shape.drain(..drop.min(b_shape.len()));
            let (x, y) = if swap {
                (b_shape, a_shape)
            } else {
                (a_shape, b_shape)
            };
            (tensor_of(x, 0.5, 2.0), tensor_of(y, 0.5, 2.0))
        })
}

/// Shapes `[n]` and `[m]` with `n != m`, both at least 2: they never broadcast.
fn mismatched_pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    (2usize..=5, 2usize..=5)
        .prop_filter("different lengths", |(n, m)| n != m)
        .prop_flat_map(|(n, m)| (tensor_of(vec![n], -1.0, 1.0), tensor_of(vec![m], -1.0, 1.0)))
}

/// The value of `f` on fresh parameters holding `inputs`, and the gradient
/// of each input after back-propagating `upstream(value shape)`.
fn value_and_grads(inputs: &[Tensor], f: impl Fn(&[Var]) -> Result<Var>) -> (Tensor, Vec<Option<Tensor>>) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::parameter(t.clone())).collect();
    let y = f(&vars).expect("forward");
    let value = y.to_tensor();
    // A non-uniform upstream gradient, so that a wrong reduction shows.
    let upstream = Tensor::from_shape_fn(IxDyn(value.shape()), |i| {
        let weighted: usize = (0..i.ndim()).map(|k| (k + 1) * i[k]).sum();
        1.0 + 0.25 * weighted as f32
    });
    y.backward_with(upstream).expect("backward");
    (value, vars.iter().map(Var::grad).collect())
}

fn assert_same(what: &str, a: &(Tensor, Vec<Option<Tensor>>), b: &(Tensor, Vec<Option<Tensor>>), rel: f32) {
    let close = |x: &Tensor, y: &Tensor| {
        x.shape() == y.shape()
            && x.iter()
                .zip(y)
                .all(|(p, q)| (p - q).abs() <= rel * (1.0 + q.abs()))
    };
    assert!(close(&a.0, &b.0), "{what}: values {:?} vs {:?}", a.0, b.0);
    assert_eq!(a.1.len(), b.1.len());
    for (i, (ga, gb)) in a.1.iter().zip(&b.1).enumerate() {
        match (ga, gb) {
            (Some(x), Some(y)) => assert!(close(x, y), "{what}: gradient {i}: {x:?} vs {y:?}"),
            (None, None) => {}
            _ => panic!("{what}: gradient {i} present on one side only: {ga:?} vs {gb:?}"),
        }
    }
}

type Binary = fn(&[Var]) -> Result<Var>;

/// Each operator form against its free function, exactly.
fn var_var_cases() -> Vec<(&'static str, Binary, Binary)> {
    vec![
        ("&a + &b", |v| &v[0] + &v[1], |v| ops::add(&v[0], &v[1])),
        (
            "a + b",
            |v| v[0].clone() + v[1].clone(),
            |v| ops::add(&v[0], &v[1]),
        ),
        ("&a - b", |v| &v[0] - v[1].clone(), |v| ops::sub(&v[0], &v[1])),
        ("a - &b", |v| v[0].clone() - &v[1], |v| ops::sub(&v[0], &v[1])),
        ("&a * &b", |v| &v[0] * &v[1], |v| ops::mul(&v[0], &v[1])),
        (
            "a * b",
            |v| v[0].clone() * v[1].clone(),
            |v| ops::mul(&v[0], &v[1]),
        ),
        ("&a / &b", |v| &v[0] / &v[1], |v| ops::div(&v[0], &v[1])),
        ("a / &b", |v| v[0].clone() / &v[1], |v| ops::div(&v[0], &v[1])),
        ("a.pow(&b)", |v| v[0].pow(&v[1]), |v| ops::pow(&v[0], &v[1])),
        (
            "a.maximum(&b)",
            |v| v[0].maximum(&v[1]),
            |v| ops::maximum(&v[0], &v[1]),
        ),
        (
            "a.minimum(&b)",
            |v| v[0].minimum(&v[1]),
            |v| ops::minimum(&v[0], &v[1]),
        ),
    ]
}

/// Operators with an `f32` (here 1.75) against the broadcasting free
/// function with a 0-dimensional constant.
fn scalar_cases() -> Vec<(&'static str, Binary, Binary)> {
    vec![
        (
            "&a + s",
            |v| &v[0] + 1.75,
            |v| ops::add(&v[0], &Var::scalar(1.75)),
        ),
        (
            "s + a",
            |v| 1.75 + v[0].clone(),
            |v| ops::add(&Var::scalar(1.75), &v[0]),
        ),
        (
            "a - s",
            |v| v[0].clone() - 1.75,
            |v| ops::sub(&v[0], &Var::scalar(1.75)),
        ),
        (
            "s - &a",
            |v| 1.75 - &v[0],
            |v| ops::sub(&Var::scalar(1.75), &v[0]),
        ),
        (
            "&a * s",
            |v| &v[0] * 1.75,
            |v| ops::mul(&v[0], &Var::scalar(1.75)),
        ),
        (
            "s * &a",
            |v| 1.75 * &v[0],
            |v| ops::mul(&Var::scalar(1.75), &v[0]),
        ),
        (
            "a / s",
            |v| v[0].clone() / 1.75,
            |v| ops::div(&v[0], &Var::scalar(1.75)),
        ),
        (
            "s / &a",
            |v| 1.75 / &v[0],
            |v| ops::div(&Var::scalar(1.75), &v[0]),
        ),
        ("-&a", |v| -&v[0], |v| ops::neg(&v[0])),
        ("-a", |v| -v[0].clone(), |v| ops::mul(&v[0], &Var::scalar(-1.0))),
        (
            "a.pow_scalar(s)",
            |v| v[0].pow_scalar(1.75),
            |v| ops::pow(&v[0], &Var::scalar(1.75)),
        ),
    ]
}

/// Each method against its free function, on a tensor of rank 2..=3 with
/// values in [0.1, 2] (inside every op's domain).
fn method_cases() -> Vec<(&'static str, Binary, Binary)> {
    vec![
        ("relu", |v| v[0].relu(), |v| ops::relu(&v[0])),
        ("sigmoid", |v| v[0].sigmoid(), |v| ops::sigmoid(&v[0])),
        ("tanh", |v| v[0].tanh(), |v| ops::tanh(&v[0])),
        (
            "leaky_relu",
            |v| v[0].leaky_relu(0.2),
            |v| ops::leaky_relu(&v[0], 0.2),
        ),
        ("elu", |v| v[0].elu(0.7), |v| ops::elu(&v[0], 0.7)),
        ("selu", |v| v[0].selu(), |v| ops::selu(&v[0])),
        ("gelu", |v| v[0].gelu(), |v| ops::gelu(&v[0])),
        ("softplus", |v| v[0].softplus(), |v| ops::softplus(&v[0])),
        ("swish", |v| v[0].swish(), |v| ops::swish(&v[0])),
        ("exp", |v| v[0].exp(), |v| ops::exp(&v[0])),
        ("ln", |v| v[0].ln(), |v| ops::ln(&v[0])),
        ("sqrt", |v| v[0].sqrt(), |v| ops::sqrt(&v[0])),
        ("abs", |v| v[0].abs(), |v| ops::abs(&v[0])),
        ("square", |v| v[0].square(), |v| ops::square(&v[0])),
        ("clip", |v| v[0].clip(0.5, 1.5), |v| ops::clip(&v[0], 0.5, 1.5)),
        ("sum_all", |v| v[0].sum_all(), |v| ops::sum_all(&v[0])),
        ("mean_all", |v| v[0].mean_all(), |v| ops::mean_all(&v[0])),
        (
            "sum_axis",
            |v| v[0].sum_axis(1, true),
            |v| ops::sum_axis(&v[0], 1, true),
        ),
        (
            "mean_axis",
            |v| v[0].mean_axis(0, false),
            |v| ops::mean_axis(&v[0], 0, false),
        ),
        (
            "max_axis",
            |v| v[0].max_axis(1, false),
            |v| ops::max_axis(&v[0], 1, false),
        ),
        (
            "min_axis",
            |v| v[0].min_axis(0, true),
            |v| ops::min_axis(&v[0], 0, true),
        ),
        (
            "sum_axes",
            |v| v[0].sum_axes(&[0, 1], false),
            |v| ops::sum_axes(&v[0], &[0, 1], false),
        ),
        (
            "mean_axes",
            |v| v[0].mean_axes(&[0, 1], true),
            |v| ops::mean_axes(&v[0], &[0, 1], true),
        ),
        (
            "variance_axis",
            |v| v[0].variance_axis(1, false),
            |v| ops::variance_axis(&v[0], 1, false),
        ),
        ("flatten", |v| v[0].flatten(), |v| ops::flatten(&v[0])),
        (
            "reshape",
            |v| v[0].reshape(&[v[0].len()]),
            |v| ops::reshape(&v[0], &[v[0].len()]),
        ),
        (
            "permute",
            |v| v[0].permute(&[1, 0]),
            |v| ops::permute(&v[0], &[1, 0]),
        ),
        (
            "slice_axis",
            |v| v[0].slice_axis(1, 0, 2),
            |v| ops::slice_axis(&v[0], 1, 0, 2),
        ),
        (
            "index_select",
            |v| v[0].index_select(0, &[1, 0, 1]),
            |v| ops::index_select(&v[0], 0, &[1, 0, 1]),
        ),
        (
            "expand_dims",
            |v| v[0].expand_dims(1),
            |v| ops::expand_dims(&v[0], 1),
        ),
        (
            "broadcast_to",
            |v| {
                v[0].expand_dims(0)?
                    .broadcast_to(&[3, v[0].shape()[0], v[0].shape()[1]])
            },
            |v| {
                ops::broadcast_to(
                    &ops::expand_dims(&v[0], 0)?,
                    &[3, v[0].shape()[0], v[0].shape()[1]],
                )
            },
        ),
        (
            "squeeze",
            |v| v[0].expand_dims(0)?.squeeze(0),
            |v| ops::squeeze(&ops::expand_dims(&v[0], 0)?, 0),
        ),
        ("softmax", |v| v[0].softmax(1), |v| ops::softmax(&v[0], 1)),
        (
            "log_softmax",
            |v| v[0].log_softmax(0),
            |v| ops::log_softmax(&v[0], 0),
        ),
    ]
}

/// Methods on a matrix `(2, n)` with `n >= 2` (transpose needs rank 2; the
/// losses take logits with a class axis).
fn matrix_method_cases() -> Vec<(&'static str, Binary, Binary)> {
    vec![
        (
            "sparse_softmax_cross_entropy",
            |v| v[0].sparse_softmax_cross_entropy(&[1, 0]),
            |v| ops::sparse_softmax_cross_entropy(&v[0], &[1, 0]),
        ),
        ("transpose", |v| v[0].transpose(), |v| ops::transpose(&v[0])),
        (
            "matmul",
            |v| v[0].matmul(&v[0].transpose()?),
            |v| ops::matmul(&v[0], &ops::transpose(&v[0])?),
        ),
        (
            "softmax_cross_entropy",
            |v| v[0].softmax_cross_entropy(&v[0].softmax(1)?.detach()),
            |v| ops::softmax_cross_entropy(&v[0], &ops::softmax(&v[0], 1)?.detach()),
        ),
        (
            "sigmoid_binary_cross_entropy",
            |v| v[0].sigmoid_binary_cross_entropy(&v[0].sigmoid()?.detach()),
            |v| ops::sigmoid_binary_cross_entropy(&v[0], &ops::sigmoid(&v[0])?.detach()),
        ),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn operators_equal_free_functions((a, b) in broadcast_pair()) {
        for (what, with_operator, with_function) in var_var_cases() {
            let inputs = [a.clone(), b.clone()];
            assert_same(what, &value_and_grads(&inputs, with_operator), &value_and_grads(&inputs, with_function), 0.0);
        }
        for (what, with_operator, with_function) in scalar_cases() {
            let inputs = [a.clone()];
            assert_same(what, &value_and_grads(&inputs, with_operator), &value_and_grads(&inputs, with_function), 1e-6);
        }
    }

    #[test]
    fn methods_equal_free_functions(
        x in (2usize..=4, 2usize..=4).prop_flat_map(|(n, m)| tensor_of(vec![n, m], 0.1, 2.0)),
        m in (2usize..=4).prop_flat_map(|n| tensor_of(vec![2, n], -2.0, 2.0)),
    ) {
        for (what, with_method, with_function) in method_cases() {
            let inputs = [x.clone()];
            assert_same(what, &value_and_grads(&inputs, with_method), &value_and_grads(&inputs, with_function), 0.0);
        }
        for (what, with_method, with_function) in matrix_method_cases() {
            let inputs = [m.clone()];
            assert_same(what, &value_and_grads(&inputs, with_method), &value_and_grads(&inputs, with_function), 0.0);
        }
    }

    #[test]
    fn shape_mismatches_are_errors_not_panics((a, b) in mismatched_pair()) {
        let (a, b) = (Var::parameter(a), Var::parameter(b));
        prop_assert!((&a + &b).is_err());
        prop_assert!((a.clone() - b.clone()).is_err());
        prop_assert!((&a * b.clone()).is_err());
        prop_assert!((a.clone() / &b).is_err());
        prop_assert!(a.pow(&b).is_err());
        prop_assert!(a.maximum(&b).is_err());
        prop_assert!(a.expand_dims(0)?.matmul(&b.expand_dims(0)?).is_err());
        prop_assert!(a.reshape(&[b.len()]).is_err());
        prop_assert!(a.sum_axis(1, false).is_err());
        prop_assert!(a.transpose().is_err());
    }
}

#[test]
fn the_issue_loss_reads_as_methods() -> Result<()> {
    let p = Var::parameter(ndarray::arr1(&[1.0f32, 2.0, 4.0]).into_dyn());
    let y = Var::from_array(ndarray::arr1(&[0.0f32, 2.0, 2.0]));
    let by_functions = ops::mean_all(&ops::square(&ops::sub(&p, &y)?)?)?;
    let by_methods = (&p - &y)?.square()?.mean_all()?;
    assert_eq!(by_functions.item()?, by_methods.item()?);
    assert_eq!(by_methods.item()?, 5.0 / 3.0);
    by_methods.backward()?;
    assert_eq!(
        p.grad().unwrap(),
        ndarray::arr1(&[2.0f32 / 3.0, 0.0, 4.0 / 3.0]).into_dyn()
    );
    Ok(())
}
