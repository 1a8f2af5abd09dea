//! Property tests of 2-d max/avg pooling and global pooling against naive loops
//! (padding arithmetic re-derived here from TensorFlow's formula).
//!
//! Max pooling is compared exactly (values and first-in-window argmax);
//! averages with tolerance 1e-5 * (1 + |value|).

use ndarray::{Array2, Array4};
use neurite_rand::Generator;
use neurite_tensor::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward, global_max_pool2d,
    global_max_pool2d_backward, max_pool2d, max_pool2d_backward, max_pool2d_values, Padding, Pool2dParams,
};
use proptest::prelude::*;
use rand::Rng;

/// (out, pad_before) of one axis, TensorFlow's rule.
fn tf_out(input: usize, k: usize, s: usize, same: bool) -> (usize, usize) {
    if same {
        let out = input.div_ceil(s);
        (out, ((out - 1) * s + k).saturating_sub(input) / 2)
    } else {
        ((input - k) / s + 1, 0)
    }
}

/// Real cells `(h, w)` of window `(i, j)`, in row-major order.
fn window(i: usize, j: usize, dims: (usize, usize), p: &Pool2dParams) -> Vec<(usize, usize)> {
    let same = p.padding == Padding::Same;
    let (_, pt) = tf_out(dims.0, p.pool_size.0, p.strides.0, same);
    let (_, pl) = tf_out(dims.1, p.pool_size.1, p.strides.1, same);
    let mut cells = Vec::new();
    for a in 0..p.pool_size.0 {
        for b in 0..p.pool_size.1 {
            let h = (i * p.strides.0 + a) as isize - pt as isize;
            let w = (j * p.strides.1 + b) as isize - pl as isize;
            if h >= 0 && w >= 0 && (h as usize) < dims.0 && (w as usize) < dims.1 {
                cells.push((h as usize, w as usize));
            }
        }
    }
    cells
}

fn out_dims(x: &Array4<f32>, p: &Pool2dParams) -> (usize, usize) {
    let same = p.padding == Padding::Same;
    let (_, h, w, _) = x.dim();
    (
        tf_out(h, p.pool_size.0, p.strides.0, same).0,
        tf_out(w, p.pool_size.1, p.strides.1, same).0,
    )
}

/// Naive max pooling: values and first-maximum flat index within the image.
fn naive_max(x: &Array4<f32>, p: &Pool2dParams) -> (Array4<f32>, Vec<u32>) {
    let (n, h, w, c) = x.dim();
    let (oh, ow) = out_dims(x, p);
    let mut y = Array4::<f32>::zeros((n, oh, ow, c));
    let mut idx = Vec::new();
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                let cells = window(i, j, (h, w), p);
                assert!(!cells.is_empty());
                for q in 0..c {
                    let mut best = f32::NEG_INFINITY;
                    let mut at = u32::MAX;
                    for &(hh, ww) in &cells {
                        let v = x[[b, hh, ww, q]];
                        // The first NaN of a window wins and stays.
                        if v > best || (v.is_nan() && !best.is_nan()) {
                            best = v;
                            at = ((hh * w + ww) * c + q) as u32;
                        }
                    }
                    y[[b, i, j, q]] = best;
                    idx.push(at);
                }
            }
        }
    }
    (y, idx)
}

fn naive_avg(x: &Array4<f32>, p: &Pool2dParams) -> Array4<f64> {
    let (n, h, w, c) = x.dim();
    let (oh, ow) = out_dims(x, p);
    let mut y = Array4::<f64>::zeros((n, oh, ow, c));
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                let cells = window(i, j, (h, w), p);
                for q in 0..c {
                    let s: f64 = cells.iter().map(|&(hh, ww)| x[[b, hh, ww, q]] as f64).sum();
                    y[[b, i, j, q]] = s / cells.len() as f64;
                }
            }
        }
    }
    y
}

fn naive_avg_backward(gy: &Array4<f32>, shape: [usize; 4], p: &Pool2dParams) -> Array4<f64> {
    let mut dx = Array4::<f64>::zeros(shape);
    let (n, oh, ow, c) = gy.dim();
    for b in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                let cells = window(i, j, (shape[1], shape[2]), p);
                for q in 0..c {
                    for &(hh, ww) in &cells {
                        dx[[b, hh, ww, q]] += gy[[b, i, j, q]] as f64 / cells.len() as f64;
                    }
                }
            }
        }
    }
    dx
}

#[derive(Debug, Clone)]
struct Case {
    x: Array4<f32>,
    p: Pool2dParams,
}

/// `case(NAN_LEVELS)`: uniform values with about one NaN in ten.
const NAN_LEVELS: u32 = u32::MAX;

prop_compose! {
    fn case(levels: u32)(
        // 15..36 channels exercise the kernel's 16-lane blocks and their tails.
        n in 1usize..3, c in prop_oneof![1usize..4, 15usize..36],
        ph in 1usize..4, pw in 1usize..4,
        sh in 1usize..4, sw in 1usize..4,
        same in any::<bool>(),
        eh in 0usize..5, ew in 0usize..5,
        seed in any::<u64>(),
    ) -> Case {
        let padding = if same { Padding::Same } else { Padding::Valid };
        // Valid: window as large as the input when eh = 0. Same: any size from 1.
        let (h, w) = if same { (1 + eh, 1 + ew * 2) } else { (ph + eh, pw + ew) };
        let mut rng = Generator::seed_from_u64(seed);
        let x = Array4::from_shape_simple_fn((n, h, w, c), || {
            match levels {
                0 => rng.random_range(-1.0f32..1.0),
                NAN_LEVELS => if rng.random_range(0..10) == 0 { f32::NAN } else { rng.random_range(-1.0f32..1.0) },
                _ => rng.random_range(0..levels) as f32 - 1.0,
            }
        });
        Case { x, p: Pool2dParams { pool_size: (ph, pw), strides: (sh, sw), padding } }
    }
}

fn close(a: f32, b: f64) -> bool {
    (a as f64 - b).abs() <= 1e-5 * (1.0 + b.abs())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn max_pool_matches_naive(c in case(0)) {
        let (y, idx) = max_pool2d(c.x.view(), &c.p).unwrap();
        let (want, want_idx) = naive_max(&c.x, &c.p);
        prop_assert_eq!(&y, &want);
        prop_assert_eq!(idx.argmax(), want_idx.as_slice());
    }

    /// Few distinct values: many ties, which must go to the first cell of the window.
    #[test]
    fn max_pool_ties_pick_first(c in case(3)) {
        let (y, idx) = max_pool2d(c.x.view(), &c.p).unwrap();
        let (want, want_idx) = naive_max(&c.x, &c.p);
        prop_assert_eq!(&y, &want);
        prop_assert_eq!(idx.argmax(), want_idx.as_slice());
    }

    /// The inference variant returns the same values.
    #[test]
    fn max_pool_values_match_max_pool(c in case(NAN_LEVELS)) {
        let (y, _) = max_pool2d(c.x.view(), &c.p).unwrap();
        let v = max_pool2d_values(c.x.view(), &c.p).unwrap();
        prop_assert_eq!(y.shape(), v.shape());
        prop_assert!(y.iter().zip(v.iter()).all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
    }

    /// NaNs propagate: the first NaN of a window is its maximum.
    #[test]
    fn max_pool_nan_goes_to_first_nan(c in case(NAN_LEVELS)) {
        let (y, idx) = max_pool2d(c.x.view(), &c.p).unwrap();
        let (want, want_idx) = naive_max(&c.x, &c.p);
        for (a, b) in y.iter().zip(want.iter()) {
            prop_assert!(a == b || (a.is_nan() && b.is_nan()), "{} vs {}", a, b);
        }
        prop_assert_eq!(idx.argmax(), want_idx.as_slice());
    }

    #[test]
    fn max_pool_backward_routes_to_argmax(c in case(0), seed in any::<u64>()) {
        let (y, idx) = max_pool2d(c.x.view(), &c.p).unwrap();
        let mut rng = Generator::seed_from_u64(seed);
        let gy = Array4::from_shape_simple_fn(y.dim(), || rng.random_range(-1.0f32..1.0));
        let shape = [c.x.dim().0, c.x.dim().1, c.x.dim().2, c.x.dim().3];
        let dx = max_pool2d_backward(gy.view(), &idx, shape).unwrap();
        let (_, want_idx) = naive_max(&c.x, &c.p);
        let img = shape[1] * shape[2] * shape[3];
        let per = y.len() / shape[0];
        let mut want = vec![0.0f64; c.x.len()];
        for (o, (&i, g)) in want_idx.iter().zip(gy.iter()).enumerate() {
            want[(o / per) * img + i as usize] += *g as f64;
        }
        for (a, b) in dx.iter().zip(&want) {
            prop_assert!(close(*a, *b), "{} vs {}", a, b);
        }
    }

    #[test]
    fn avg_pool_matches_naive(c in case(0)) {
        let y = avg_pool2d(c.x.view(), &c.p).unwrap();
        let want = naive_avg(&c.x, &c.p);
        prop_assert_eq!(y.shape(), want.shape());
        for (a, b) in y.iter().zip(want.iter()) {
            prop_assert!(close(*a, *b), "{} vs {}", a, b);
        }
    }

    #[test]
    fn avg_pool_backward_matches_naive_and_is_adjoint(c in case(0), seed in any::<u64>()) {
        let y = avg_pool2d(c.x.view(), &c.p).unwrap();
        let mut rng = Generator::seed_from_u64(seed);
        let gy = Array4::from_shape_simple_fn(y.dim(), || rng.random_range(-1.0f32..1.0));
        let shape = [c.x.dim().0, c.x.dim().1, c.x.dim().2, c.x.dim().3];
        let dx = avg_pool2d_backward(gy.view(), shape, &c.p).unwrap();
        let want = naive_avg_backward(&gy, shape, &c.p);
        for (a, b) in dx.iter().zip(want.iter()) {
            prop_assert!(close(*a, *b), "{} vs {}", a, b);
        }
        let lhs: f64 = y.iter().zip(&gy).map(|(a, b)| *a as f64 * *b as f64).sum();
        let rhs: f64 = c.x.iter().zip(&dx).map(|(a, b)| *a as f64 * *b as f64).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "<avg(x), g> {} vs <x, avg'(g)> {}", lhs, rhs);
    }

    #[test]
    fn global_pools_match_naive(c in case(0), seed in any::<u64>()) {
        let x = &c.x;
        let (n, h, w, ch) = x.dim();
        let shape = [n, h, w, ch];
        let avg = global_avg_pool2d(x.view()).unwrap();
        let (mx, idx) = global_max_pool2d(x.view()).unwrap();
        let mut rng = Generator::seed_from_u64(seed);
        let gy = Array2::from_shape_simple_fn((n, ch), || rng.random_range(-1.0f32..1.0));
        let davg = global_avg_pool2d_backward(gy.view(), shape).unwrap();
        let dmax = global_max_pool2d_backward(gy.view(), &idx, shape).unwrap();
        for b in 0..n {
            for q in 0..ch {
                let mut sum = 0.0f64;
                let (mut best, mut at) = (f32::NEG_INFINITY, (0, 0));
                for i in 0..h {
                    for j in 0..w {
                        sum += x[[b, i, j, q]] as f64;
                        if x[[b, i, j, q]] > best {
                            best = x[[b, i, j, q]];
                            at = (i, j);
                        }
                    }
                }
                prop_assert!(close(avg[[b, q]], sum / (h * w) as f64));
                prop_assert_eq!(mx[[b, q]], best);
                for i in 0..h {
                    for j in 0..w {
                        prop_assert!(close(davg[[b, i, j, q]], gy[[b, q]] as f64 / (h * w) as f64));
                        let want = if (i, j) == at { gy[[b, q]] } else { 0.0 };
                        prop_assert_eq!(dmax[[b, i, j, q]], want);
                    }
                }
            }
        }
    }
}
