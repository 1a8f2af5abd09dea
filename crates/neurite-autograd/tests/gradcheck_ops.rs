//! Every op against finite differences on random shapes (including
//! broadcasting and size-1 axes), with inputs kept away from kinks and ties.
//! Discrete choices (axes, keepdims, strides, padding, dilation, bias, pool
//! sizes, activation slopes' signs) are enumerated in every case, continuous
//! values are random; no case is skipped without being counted as a reject.

use ndarray::IxDyn;
use neurite_autograd::{gradcheck, ops, GradcheckOptions, Tensor, Var};
use proptest::prelude::*;

fn opts() -> GradcheckOptions {
    GradcheckOptions::default()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    }
}

/// A shape of rank 0..=max_rank with axes of length 1..=4.
fn shape(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 0..=max_rank)
}

fn shape_min(min_rank: usize, max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, min_rank..=max_rank)
}

fn tensor_of(shape: Vec<usize>, lo: f32, hi: f32) -> impl Strategy<Value = Tensor> {
    let n = shape.iter().product::<usize>();
    prop::collection::vec(lo..hi, n).prop_map(move |v| Tensor::from_shape_vec(IxDyn(&shape), v).unwrap())
}

/// Values with magnitude in [0.1, 2] and a random sign: away from 0.
fn tensor_away_from_zero(shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    let n = shape.iter().product::<usize>();
    (
        prop::collection::vec(0.1f32..2.0, n),
        prop::collection::vec(any::<bool>(), n),
    )
        .prop_map(move |(m, s)| {
            let v = m
                .iter()
                .zip(&s)
                .map(|(&m, &neg)| if neg { -m } else { m })
                .collect();
            Tensor::from_shape_vec(IxDyn(&shape), v).unwrap()
        })
}

fn any_tensor(max_rank: usize) -> impl Strategy<Value = Tensor> {
    shape(max_rank).prop_flat_map(|s| tensor_of(s, -2.0, 2.0))
}

/// Two shapes that broadcast together: `b` is `a` with some axes set to 1
/// and possibly some leading axes dropped (or the reverse).
fn broadcast_pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    (
        shape(3),
        prop::collection::vec(any::<bool>(), 3),
        0usize..=3,
        any::<bool>(),
    )
        .prop_flat_map(|(full, ones, drop, swap)| {
            let drop = drop.min(full.len());
            let small: Vec<usize> = full
                .iter()
                .enumerate()
                .skip(drop)
                .map(|(i, &d)| if ones[i] { 1 } else { d })
                .collect();
            let (sa, sb) = if swap { (small, full) } else { (full, small) };
            (tensor_of(sa, -2.0, 2.0), tensor_of(sb, -2.0, 2.0))
        })
}

/// `(a, offset)`: `a` broadcasts to `offset`'s shape and `|offset| >= 0.1`,
/// so `a` and `b = a + offset` differ everywhere by more than the step (no ties).
fn separated_pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    broadcast_pair().prop_flat_map(|(a, b)| {
        let out = neurite_tensor::broadcast::broadcast_shape("t", a.shape(), b.shape()).unwrap();
        tensor_away_from_zero(out).prop_map(move |offset| (a.clone(), offset))
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn add_sub_mul_broadcast((a, b) in broadcast_pair()) {
        gradcheck(|v| ops::add(&v[0], &v[1]), &[a.clone(), b.clone()], &opts()).unwrap();
        gradcheck(|v| ops::sub(&v[0], &v[1]), &[a.clone(), b.clone()], &opts()).unwrap();
        gradcheck(|v| ops::mul(&v[0], &v[1]), &[a, b], &opts()).unwrap();
    }

    #[test]
    fn div_broadcast((a, b) in broadcast_pair()) {
        // The divisor kept at |b| >= 0.5 (signum(0.0) is 1.0).
        let b = b.mapv(|v| v.signum() * (v.abs() + 0.5));
        gradcheck(|v| ops::div(&v[0], &v[1]), &[a, b], &opts()).unwrap();
    }

    #[test]
    fn maximum_minimum_no_ties((a, offset) in separated_pair()) {
        // a broadcasts to offset's shape; b = a + offset differs from a everywhere.
        let b = &a + &offset;
        gradcheck(|v| ops::maximum(&v[0], &v[1]), &[a.clone(), b.clone()], &opts()).unwrap();
        gradcheck(|v| ops::minimum(&v[0], &v[1]), &[a, b], &opts()).unwrap();
    }

    #[test]
    fn pow_both_operands((a, b) in broadcast_pair()) {
        let base = a.mapv(|v| v.abs() + 0.5);
        let exponent = b.mapv(|v| v * 0.75);
        gradcheck(|v| ops::pow(&v[0], &v[1]), &[base, exponent], &opts()).unwrap();
    }

    #[test]
    fn scalar_ops(x in any_tensor(3), s in -2.0f32..2.0) {
        gradcheck(|v| ops::mul_scalar(&v[0], s), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::add_scalar(&v[0], s), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::neg(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        let pos = x.mapv(|v| v.abs() + 0.5);
        gradcheck(|v| ops::pow_scalar(&v[0], s), &[pos], &opts()).unwrap();
    }

    #[test]
    fn matmul_shapes(m in 1usize..5, k in 1usize..5, n in 1usize..5, seed in any::<u64>()) {
        let mut rng = neurite_tensor::random::rng_from_seed(seed);
        let a = neurite_tensor::random::uniform(&[m, k], -1.0, 1.0, &mut rng);
        let b = neurite_tensor::random::uniform(&[k, n], -1.0, 1.0, &mut rng);
        gradcheck(|v| ops::matmul(&v[0], &v[1]), &[a, b], &opts()).unwrap();
        let a3 = neurite_tensor::random::uniform(&[2, m, k], -1.0, 1.0, &mut rng);
        let b3 = neurite_tensor::random::uniform(&[2, k, n], -1.0, 1.0, &mut rng);
        gradcheck(|v| ops::batched_matmul(&v[0], &v[1]), &[a3, b3], &opts()).unwrap();
    }

    #[test]
    fn reductions(x in shape_min(1, 3).prop_flat_map(|s| tensor_of(s, -2.0, 2.0))) {
        gradcheck(|v| ops::sum_all(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::mean_all(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        let rank = x.ndim();
        for keep in [false, true] {
            for axis in 0..rank {
                gradcheck(|v| ops::sum_axis(&v[0], axis, keep), std::slice::from_ref(&x), &opts()).unwrap();
                gradcheck(|v| ops::mean_axis(&v[0], axis, keep), std::slice::from_ref(&x), &opts()).unwrap();
                gradcheck(|v| ops::variance_axis(&v[0], axis, keep), std::slice::from_ref(&x), &opts()).unwrap();
            }
            // Every non-empty subset of the axes.
            for mask in 1usize..(1 << rank) {
                let axes: Vec<usize> = (0..rank).filter(|a| mask & (1 << a) != 0).collect();
                gradcheck(|v| ops::sum_axes(&v[0], &axes, keep), std::slice::from_ref(&x), &opts()).unwrap();
                gradcheck(|v| ops::mean_axes(&v[0], &axes, keep), std::slice::from_ref(&x), &opts()).unwrap();
            }
        }
    }

    #[test]
    fn max_min_axis_distinct(s in shape_min(1, 3), seed in any::<u64>()) {
        // Distinct values spaced 0.1 apart, shuffled: no ties within eps.
        use rand::seq::SliceRandom;
        let n: usize = s.iter().product();
        let mut vals: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - 1.0).collect();
        vals.shuffle(&mut neurite_tensor::random::rng_from_seed(seed));
        let x = Tensor::from_shape_vec(IxDyn(&s), vals).unwrap();
        for (axis, keep) in (0..x.ndim()).flat_map(|a| [(a, false), (a, true)]) {
            gradcheck(|v| ops::max_axis(&v[0], axis, keep), std::slice::from_ref(&x), &opts()).unwrap();
            gradcheck(|v| ops::min_axis(&v[0], axis, keep), std::slice::from_ref(&x), &opts()).unwrap();
        }
    }

    #[test]
    fn smooth_activations(x in any_tensor(3)) {
        gradcheck(|v| ops::sigmoid(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::tanh(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::gelu(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::softplus(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::swish(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::exp(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::square(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        let pos = x.mapv(|v| v.abs() + 0.5);
        gradcheck(|v| ops::ln(&v[0]), std::slice::from_ref(&pos), &opts()).unwrap();
        gradcheck(|v| ops::sqrt(&v[0]), &[pos], &opts()).unwrap();
    }

    #[test]
    fn kinked_activations(x in shape(3).prop_flat_map(tensor_away_from_zero), alpha in 0.05f32..1.5) {
        gradcheck(|v| ops::relu(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::abs(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        for a in [alpha, -alpha, 0.2, 1.0, 0.0] {
            gradcheck(|v| ops::leaky_relu(&v[0], a), std::slice::from_ref(&x), &opts()).unwrap();
            gradcheck(|v| ops::elu(&v[0], a), std::slice::from_ref(&x), &opts()).unwrap();
        }
        gradcheck(|v| ops::selu(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        // Bounds placed between the magnitudes 0.05 and 0.1 never hit an input.
        gradcheck(|v| ops::clip(&v[0], -0.05, 0.07), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::clip(&v[0], -3.0, 3.0), &[x], &opts()).unwrap();
    }

    #[test]
    fn reshape_like(x in shape_min(1, 3).prop_flat_map(|s| tensor_of(s, -2.0, 2.0))) {
        let n = x.len();
        gradcheck(|v| ops::reshape(&v[0], &[n]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::flatten(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        for axis in 0..=x.ndim() {
            gradcheck(|v| ops::squeeze(&ops::expand_dims(&v[0], axis)?, axis), std::slice::from_ref(&x), &opts()).unwrap();
            gradcheck(|v| ops::expand_dims(&v[0], axis), std::slice::from_ref(&x), &opts()).unwrap();
        }
        // Every permutation of the axes.
        for perm in permutations(x.ndim()) {
            gradcheck(|v| ops::permute(&v[0], &perm), std::slice::from_ref(&x), &opts()).unwrap();
        }
        let rows = x.shape()[0];
        gradcheck(|v| ops::transpose(&ops::reshape(&v[0], &[rows, n / rows])?), std::slice::from_ref(&x), &opts()).unwrap();
        let mut bshape = vec![2];
        bshape.extend_from_slice(x.shape());
        gradcheck(|v| ops::broadcast_to(&v[0], &bshape), &[x], &opts()).unwrap();
    }

    #[test]
    fn slicing_joining(s in shape_min(1, 3), seed in any::<u64>()) {
        let mut rng = neurite_tensor::random::rng_from_seed(seed);
        let x = neurite_tensor::random::uniform(&s, -1.0, 1.0, &mut rng);
        for axis in 0..s.len() {
            let len = s[axis];
            gradcheck(|v| ops::slice_axis(&v[0], axis, len / 2, len), std::slice::from_ref(&x), &opts()).unwrap();
            gradcheck(|v| ops::slice_axis(&v[0], axis, 0, len.div_ceil(2)), std::slice::from_ref(&x), &opts()).unwrap();
            let mut s2 = s.clone();
            s2[axis] = 3;
            let y = neurite_tensor::random::uniform(&s2, -1.0, 1.0, &mut rng);
            gradcheck(|v| ops::concat(&[&v[0], &v[1]], axis), &[x.clone(), y], &opts()).unwrap();
            let z = neurite_tensor::random::uniform(&s, -1.0, 1.0, &mut rng);
            gradcheck(|v| ops::stack(&[&v[0], &v[1]], axis), &[x.clone(), z], &opts()).unwrap();
            // Repeated indices: their gradients add up.
            let idx: Vec<usize> = (0..5).map(|i| (i * 7 + seed as usize) % len).collect();
            gradcheck(|v| ops::index_select(&v[0], axis, &idx), std::slice::from_ref(&x), &opts()).unwrap();
        }
        // stack may also add a last axis.
        let z = neurite_tensor::random::uniform(&s, -1.0, 1.0, &mut rng);
        gradcheck(|v| ops::stack(&[&v[0], &v[1]], s.len()), &[x, z], &opts()).unwrap();
    }
}

#[test]
fn size_one_axes_and_scalars_broadcast() {
    let a = Tensor::from_shape_vec(IxDyn(&[1, 3, 1]), vec![0.5, -1.0, 2.0]).unwrap();
    let b =
        Tensor::from_shape_vec(IxDyn(&[2, 1, 4]), (0..8).map(|i| i as f32 * 0.3 - 1.0).collect()).unwrap();
    let s = ndarray::arr0(1.5f32).into_dyn();
    for f in [ops::add, ops::sub, ops::mul] {
        gradcheck(|v| f(&v[0], &v[1]), &[a.clone(), b.clone()], &opts()).unwrap();
        gradcheck(|v| f(&v[0], &v[1]), &[s.clone(), b.clone()], &opts()).unwrap();
    }
    gradcheck(|v| ops::div(&v[0], &v[1]), &[b.clone(), s.clone()], &opts()).unwrap();
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // A deliberately wrong backward (2x instead of 3x) must be rejected.
    let wrong = |v: &[Var]| {
        let x = &v[0];
        Ok(Var::from_op(
            x.value().mapv(|t| 3.0 * t),
            "wrong",
            &[x],
            Box::new(|g| Ok(vec![Some(g * 2.0)])),
        ))
    };
    let x = ndarray::arr1(&[1.0f32, 2.0]).into_dyn();
    assert!(gradcheck(wrong, &[x], &opts()).is_err());
}

fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    neurite_tensor::random::uniform(shape, lo, hi, &mut neurite_tensor::random::rng_from_seed(seed))
}

/// Distinct values 0.1 apart in random order: no ties for max pooling.
fn distinct(shape: &[usize], seed: u64) -> Tensor {
    use rand::seq::SliceRandom;
    let n: usize = shape.iter().product();
    let mut vals: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - 0.05 * n as f32).collect();
    vals.shuffle(&mut neurite_tensor::random::rng_from_seed(seed));
    Tensor::from_shape_vec(IxDyn(shape), vals).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn softmax_log_softmax(x in shape_min(1, 3).prop_flat_map(|s| tensor_of(s, -3.0, 3.0))) {
        for axis in 0..x.ndim() {
            gradcheck(|v| ops::softmax(&v[0], axis), std::slice::from_ref(&x), &opts()).unwrap();
            gradcheck(|v| ops::log_softmax(&v[0], axis), std::slice::from_ref(&x), &opts()).unwrap();
        }
    }

    #[test]
    fn cross_entropies(n in 1usize..4, t in 1usize..3, c in 1usize..5, seed in any::<u64>()) {
        // Per-sample and per-timestep (sequence) logits.
        for shape in [vec![n, c], vec![n, t, c]] {
            let rows: usize = shape[..shape.len() - 1].iter().product();
            let logits = uniform(&shape, -3.0, 3.0, seed);
            let targets = uniform(&shape, 0.0, 1.0, seed ^ 1);
            gradcheck(|v| ops::softmax_cross_entropy(&v[0], &v[1]), &[logits.clone(), targets.clone()], &opts()).unwrap();
            let labels: Vec<usize> = (0..rows).map(|r| (r * 5 + seed as usize % 7) % c).collect();
            gradcheck(|v| ops::sparse_softmax_cross_entropy(&v[0], &labels), std::slice::from_ref(&logits), &opts()).unwrap();
            gradcheck(|v| ops::sigmoid_binary_cross_entropy(&v[0], &v[1]), &[logits.clone(), targets.clone()], &opts()).unwrap();
            // Hard (0/1) targets, as from one-hot labels.
            let hard = targets.mapv(|v| v.round());
            gradcheck(|v| ops::softmax_cross_entropy(&v[0], &v[1]), &[logits.clone(), hard.clone()], &opts()).unwrap();
            gradcheck(|v| ops::sigmoid_binary_cross_entropy(&v[0], &v[1]), &[logits, hard], &opts()).unwrap();
        }
    }

    /// Every stride, padding, dilation and bias option; the fused ReLU at
    /// points whose pre-activation is farther from the kink than a step can
    /// move it (|dy| <= eps * max|w|,|x| <= 1e-3), counted as a reject otherwise.
    #[test]
    fn conv2d_and_fused_relu(n in 1usize..3, h in 3usize..6, w in 3usize..6, cin in 1usize..3, cout in 1usize..3,
                             k in 1usize..4, seed in any::<u64>()) {
        use neurite_autograd::ops::{Conv2dParams, Padding};
        let x = uniform(&[n, h, w, cin], -1.0, 1.0, seed);
        let kern = uniform(&[k, k, cin, cout], -1.0, 1.0, seed ^ 1);
        let b = uniform(&[cout], -0.5, 0.5, seed ^ 2);
        let mut relu_checked = 0;
        for (stride, dil, same) in (1..=2).flat_map(|s| (1..=2).flat_map(move |d| [(s, d, false), (s, d, true)])) {
            if (k - 1) * dil >= h.min(w) {
                continue; // a dilated kernel larger than the image: refused (tested in hostile_inputs.rs)
            }
            let p = Conv2dParams { strides: (stride, stride), padding: if same { Padding::Same } else { Padding::Valid }, dilation: (dil, dil) };
            gradcheck(|v| ops::conv2d(&v[0], &v[1], Some(&v[2]), &p), &[x.clone(), kern.clone(), b.clone()], &opts()).unwrap();
            gradcheck(|v| ops::conv2d(&v[0], &v[1], None, &p), &[x.clone(), kern.clone()], &opts()).unwrap();
            let y = neurite_autograd::no_grad(|| ops::conv2d(&Var::constant(x.clone()), &Var::constant(kern.clone()), Some(&Var::constant(b.clone())), &p)).unwrap();
            if y.value().iter().all(|v| v.abs() > 5e-3) {
                relu_checked += 1;
                let fused = |v: &[Var]| ops::conv2d_relu(&v[0], &v[1], Some(&v[2]), &p);
                gradcheck(fused, &[x.clone(), kern.clone(), b.clone()], &opts()).unwrap();
            }
        }
        prop_assume!(relu_checked > 0);
    }

    /// The fused conv+relu+pool node: the same value and the same three
    /// gradients, bit for bit, as `max_pool2d(conv2d_relu(..))` (whose nodes
    /// are gradchecked above and below), with and without a bias and an
    /// input gradient.
    #[test]
    fn fused_conv_relu_max_pool_equals_chain(n in 1usize..4, h in 3usize..8, w in 3usize..8, cin in 1usize..3, cout in 1usize..5,
                                             k in 1usize..4, seed in any::<u64>()) {
        use neurite_autograd::ops::{Conv2dParams, Padding, Pool2dParams};
        prop_assume!(k <= h.min(w));
        // Every pool size that fits, stride, padding, bias and input-gradient choice.
        let fits = (h - k + 1).min(w - k + 1);
        for (ps, pstride, same, with_bias, input_grad) in (1..=fits.min(3)).flat_map(|ps| (1..=2).flat_map(move |st| {
            [false, true].into_iter().flat_map(move |sm| [(false, false), (false, true), (true, false), (true, true)].map(|(b, g)| (ps, st, sm, b, g)))
        })) {
            let cp = Conv2dParams::default();
            let pp = Pool2dParams { pool_size: (ps, ps), strides: (pstride, pstride), padding: if same { Padding::Same } else { Padding::Valid } };
            let x = uniform(&[n, h, w, cin], -1.0, 1.0, seed);
            let kern = uniform(&[k, k, cin, cout], -1.0, 1.0, seed ^ 1);
            let b = uniform(&[cout], -0.5, 0.5, seed ^ 2);
            let upstream = |y: &Var| -> Var {
                // A weighted sum, so each pooled output gets its own gradient.
                let wts = uniform(&y.shape(), -1.0, 1.0, seed ^ 3);
                ops::sum_all(&ops::mul(y, &Var::constant(wts)).unwrap()).unwrap()
            };
            let run = |fused: bool| {
                let xv = if input_grad { Var::parameter(x.clone()) } else { Var::constant(x.clone()) };
                let (kv, bv) = (Var::parameter(kern.clone()), Var::parameter(b.clone()));
                let bias = with_bias.then_some(&bv);
                let y = if fused {
                    ops::conv2d_relu_max_pool2d(&xv, &kv, bias, &cp, &pp).unwrap()
                } else {
                    ops::max_pool2d(&ops::conv2d_relu(&xv, &kv, bias, &cp).unwrap(), &pp).unwrap()
                };
                upstream(&y).backward().unwrap();
                (y.to_tensor(), xv.grad(), kv.grad(), bv.grad())
            };
            prop_assert_eq!(run(true), run(false));
            // Without a graph: the inference kernel, the same values.
            let y = neurite_autograd::no_grad(|| ops::conv2d_relu_max_pool2d(&Var::constant(x.clone()), &Var::constant(kern.clone()), Some(&Var::constant(b.clone())), &cp, &pp)).unwrap();
            let y2 = ops::max_pool2d(&ops::conv2d_relu(&Var::constant(x), &Var::constant(kern), Some(&Var::constant(b)), &cp).unwrap(), &pp).unwrap();
            prop_assert!(!y.requires_grad());
            prop_assert_eq!(y.to_tensor(), y2.to_tensor());
        }
    }

    #[test]
    fn pooling(n in 1usize..3, h in 3usize..6, w in 3usize..6, c in 1usize..3, seed in any::<u64>()) {
        use neurite_autograd::ops::{Padding, Pool2dParams};
        let x = distinct(&[n, h, w, c], seed);
        // Every window (square and not), stride and padding.
        for (ph, pw, stride, same) in (1..=3).flat_map(|a| (1..=3).flat_map(move |b| (1..=3).flat_map(move |s| [(a, b, s, false), (a, b, s, true)]))) {
            let p = Pool2dParams { pool_size: (ph, pw), strides: (stride, stride), padding: if same { Padding::Same } else { Padding::Valid } };
            gradcheck(|v| ops::max_pool2d(&v[0], &p), std::slice::from_ref(&x), &opts()).unwrap();
            gradcheck(|v| ops::avg_pool2d(&v[0], &p), std::slice::from_ref(&x), &opts()).unwrap();
        }
        gradcheck(|v| ops::global_avg_pool2d(&v[0]), std::slice::from_ref(&x), &opts()).unwrap();
        gradcheck(|v| ops::global_max_pool2d(&v[0]), &[x], &opts()).unwrap();
    }

    #[test]
    fn where_select_broadcast((a, b) in broadcast_pair(), seed in any::<u64>()) {
        let out = neurite_tensor::broadcast::broadcast_shape("t", a.shape(), b.shape()).unwrap();
        let cond = uniform(&out, 0.0, 1.0, seed).mapv(|v| if v > 0.5 { 1.0 } else { 0.0 });
        gradcheck(|v| ops::where_select(&cond, &v[0], &v[1]), &[a, b], &opts()).unwrap();
    }

    #[test]
    fn dropout_is_linear_in_its_mask(x in any_tensor(3), rate in 0.0f32..0.9, seed in any::<u64>()) {
        // The same seed gives the same mask, so the op is a fixed linear map.
        gradcheck(|v| ops::dropout(&v[0], rate, &mut neurite_rand::Generator::seed_from_u64(seed)), &[x], &opts()).unwrap();
    }
}

#[test]
fn loss_values_match_the_unfused_composition() {
    let logits = uniform(&[3, 4], -2.0, 2.0, 5);
    let targets = uniform(&[3, 4], 0.0, 1.0, 6);
    let (x, t) = (Var::constant(logits.clone()), Var::constant(targets.clone()));
    let fused = ops::softmax_cross_entropy(&x, &t).unwrap().to_tensor();
    let composed = ops::neg(
        &ops::sum_axis(
            &ops::mul(&t, &ops::log_softmax(&x, 1).unwrap()).unwrap(),
            1,
            false,
        )
        .unwrap(),
    )
    .unwrap()
    .to_tensor();
    for (a, b) in fused.iter().zip(composed.iter()) {
        approx::assert_abs_diff_eq!(a, b, epsilon = 1e-5);
    }
    let sparse = ops::sparse_softmax_cross_entropy(&x, &[0, 3, 1])
        .unwrap()
        .to_tensor();
    let ls = neurite_tensor::softmax::log_softmax(&logits, 1).unwrap();
    for (i, l) in [0usize, 3, 1].into_iter().enumerate() {
        approx::assert_abs_diff_eq!(sparse[[i]], -ls[[i, l]], epsilon = 1e-5);
    }
    let bce = ops::sigmoid_binary_cross_entropy(&x, &t).unwrap().to_tensor();
    for i in 0..3 {
        let expect: f32 = (0..4)
            .map(|j| {
                let p = 1.0 / (1.0 + (-logits[[i, j]]).exp());
                -(targets[[i, j]] * p.ln() + (1.0 - targets[[i, j]]) * (1.0 - p).ln())
            })
            .sum::<f32>()
            / 4.0;
        approx::assert_abs_diff_eq!(bce[[i]], expect, epsilon = 1e-5);
    }
}

#[test]
fn loss_argument_errors_name_the_problem() {
    let x = Var::constant(Tensor::zeros(IxDyn(&[2, 3])));
    let e = ops::sparse_softmax_cross_entropy(&x, &[0, 3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("label 3") && e.contains("3 classes"), "{e}");
    assert!(ops::sparse_softmax_cross_entropy(&x, &[0]).is_err());
    assert!(ops::softmax_cross_entropy(&x, &Var::constant(Tensor::zeros(IxDyn(&[2, 2])))).is_err());
    assert!(ops::sigmoid_binary_cross_entropy(&x, &Var::constant(Tensor::zeros(IxDyn(&[3, 2])))).is_err());
    assert!(ops::softmax_cross_entropy(&Var::scalar(1.0), &Var::scalar(1.0)).is_err());
}

/// All permutations of `0..n` (n <= 3 here).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// `f`'s value with its gradient multiplied by `scale` on the way back: a
/// backward that is missing (0), halved (0.5) or of the wrong sign (-1).
fn tampered(y: Var, scale: f32) -> Var {
    Var::from_op(
        y.value().clone(),
        "tampered",
        &[&y],
        Box::new(move |g| Ok(vec![Some(g * scale)])),
    )
}

type Family = (
    &'static str,
    Box<dyn Fn(&[Var]) -> neurite_autograd::Result<Var>>,
    Vec<Tensor>,
);

/// One op of each family with its inputs.
fn families() -> Vec<Family> {
    use neurite_autograd::ops::{Conv2dParams, Padding, Pool2dParams};
    let x23 = uniform(&[2, 3], -1.0, 1.0, 11);
    let y23 = uniform(&[2, 3], 0.5, 1.5, 12);
    let img = distinct(&[1, 4, 4, 2], 13);
    let kern = uniform(&[3, 3, 2, 2], -1.0, 1.0, 14);
    let same = Conv2dParams {
        padding: Padding::Same,
        ..Conv2dParams::default()
    };
    let cond = ndarray::arr2(&[[1.0f32, 0.0, 1.0], [0.0, 1.0, 0.0]]).into_dyn();
    vec![
        (
            "arith",
            Box::new(|v: &[Var]| ops::div(&v[0], &v[1])),
            vec![x23.clone(), y23.clone()],
        ),
        (
            "matmul",
            Box::new(|v: &[Var]| ops::matmul(&v[0], &ops::transpose(&v[1])?)),
            vec![x23.clone(), y23.clone()],
        ),
        (
            "reduce",
            Box::new(|v: &[Var]| ops::variance_axis(&v[0], 1, true)),
            vec![x23.clone()],
        ),
        (
            "activation",
            Box::new(|v: &[Var]| ops::gelu(&v[0])),
            vec![x23.clone()],
        ),
        (
            "softmax",
            Box::new(|v: &[Var]| ops::log_softmax(&v[0], 1)),
            vec![x23.clone()],
        ),
        (
            "loss",
            Box::new(|v: &[Var]| ops::softmax_cross_entropy(&v[0], &v[1])),
            vec![x23.clone(), y23.clone()],
        ),
        (
            "shape",
            Box::new(|v: &[Var]| ops::index_select(&ops::permute(&v[0], &[1, 0])?, 0, &[2, 0, 2])),
            vec![x23.clone()],
        ),
        (
            "select",
            Box::new(move |v: &[Var]| ops::where_select(&cond, &v[0], &v[1])),
            vec![x23, y23],
        ),
        (
            "conv",
            Box::new(move |v: &[Var]| ops::conv2d(&v[0], &v[1], None, &same)),
            vec![img.clone(), kern],
        ),
        (
            "pool",
            Box::new(|v: &[Var]| ops::max_pool2d(&v[0], &Pool2dParams::new((2, 2)))),
            vec![img],
        ),
    ]
}

/// The largest element of the gradient `gradcheck` compares, with its
/// projection (ChaCha8 seed 0, uniform in [-1, 1)).
fn largest_gradient(f: &dyn Fn(&[Var]) -> neurite_autograd::Result<Var>, inputs: &[Tensor]) -> f32 {
    use rand::Rng;
    let params: Vec<Var> = inputs.iter().map(|t| Var::parameter(t.clone())).collect();
    let y = f(&params).unwrap();
    let mut rng = neurite_rand::Generator::seed_from_u64(opts().seed);
    y.backward_with(y.value().mapv(|_| rng.random_range(-1.0f32..1.0)))
        .unwrap();
    params
        .iter()
        .flat_map(|p| p.grad().unwrap().iter().map(|g| g.abs()).collect::<Vec<_>>())
        .fold(0.0, f32::max)
}

/// Each family's output scaled so that its largest true gradient element
/// is 0.009, below the default `atol` (0.01): there the per-element
/// tolerance alone lets a zeroed, halved or flipped gradient pass, and only
/// the norm criterion rejects it.
#[test]
fn small_gradients_that_are_missing_halved_or_flipped_fail() {
    for (family, f, inputs) in families() {
        let s = 0.009 / largest_gradient(&*f, &inputs);
        let scaled = |v: &[Var]| ops::mul_scalar(&f(v)?, s);
        let largest = largest_gradient(&scaled, &inputs);
        assert!(largest < 0.01, "{family}: {largest}");
        gradcheck(|v| Ok(tampered(scaled(v)?, 1.0)), &inputs, &opts())
            .unwrap_or_else(|e| panic!("{family}: the correct gradient fails: {e}"));
        for scale in [0.0f32, 0.5, -1.0] {
            let r = gradcheck(|v| Ok(tampered(scaled(v)?, scale)), &inputs, &opts());
            assert!(
                matches!(r, Err(neurite_autograd::AutogradError::GradcheckFailed { .. })),
                "{family}: a gradient scaled by {scale} passes: {r:?}"
            );
        }
    }
}
