//! Batch-normalization kernels over the channels of a row-major `[rows, c]`
//! buffer (NHWC activations with the channel axis last): per-channel moments,
//! the normalization as one scale-and-shift pass (optionally followed by a
//! ReLU), and the two passes of the backward (per-channel sums, then the
//! input gradient, optionally through the ReLU's mask).
//!
//! Every pass is split over rayon's pool in blocks of whole rows whose size
//! depends only on `c`. Per-channel sums are accumulated in `f32` within a
//! block and the blocks' partials added in `f64`, in block order, so the
//! results do not depend on the thread count.
//!
//! ```
//! use neurite_tensor::batch_norm::{channel_moments, scale_shift};
//! // Two channels over three rows.
//! let x = [1.0f32, 10.0, 2.0, 20.0, 3.0, 30.0];
//! let (mean, var) = channel_moments(&x, 2)?;
//! assert_eq!(mean, [2.0, 20.0]);
//! assert!((var[0] - 2.0 / 3.0).abs() < 1e-6 && (var[1] - 200.0 / 3.0).abs() < 1e-4);
//! let y = scale_shift(&x, &[1.0, 0.5], &[-2.0, -10.0], true)?;
//! assert_eq!(y, [0.0, 0.0, 0.0, 0.0, 1.0, 5.0]);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::error::{Result, TensorError};
use crate::fill::par_build;
use rayon::prelude::*;

/// Elements per block of rows (rounded down to whole rows, at least one row):
/// 64 KiB, so a block's rows stay in a core's L2 between the passes of a kernel.
const BLOCK_ELEMS: usize = 1 << 14;

/// Rows per block for `c` channels.
fn block_len(c: usize) -> usize {
    (BLOCK_ELEMS / c).max(1) * c
}

/// Checks that `len` elements are whole rows of `c > 0` channels and that each
/// per-channel slice has `c` entries.
fn check(op: &'static str, len: usize, c: usize, per_channel: &[(&str, usize)]) -> Result<()> {
    if c == 0 {
        return Err(TensorError::invalid(
            op,
            "the channel count must be at least 1, found 0",
        ));
    }
    if !len.is_multiple_of(c) {
        return Err(TensorError::shape(
            op,
            &[len],
            &[c],
            format!("{len} elements are not whole rows of {c} channels"),
        ));
    }
    for &(name, n) in per_channel {
        if n != c {
            return Err(TensorError::shape(
                op,
                &[n],
                &[c],
                format!("`{name}` must hold one value per channel ({c}), found {n}"),
            ));
        }
    }
    Ok(())
}

/// Checks that two buffers have the same length.
fn check_same(op: &'static str, a: (&str, usize), b: (&str, usize)) -> Result<()> {
    if a.1 != b.1 {
        return Err(TensorError::shape(
            op,
            &[a.1],
            &[b.1],
            format!("`{}` and `{}` must have the same length", a.0, b.0),
        ));
    }
    Ok(())
}

/// Per-channel sums of `row_terms` over all rows: each block of rows adds its rows'
/// terms in `f32` into `K` accumulators of `c` channels, then the blocks' partials
/// are added in `f64`, in block order.
fn channel_sums<const K: usize, F>(len: usize, c: usize, block_terms: F) -> [Vec<f64>; K]
where
    F: Fn(std::ops::Range<usize>, &mut [Vec<f32>; K]) + Sync,
{
    let block = block_len(c);
    let blocks = len.div_ceil(block);
    let partials: Vec<[Vec<f32>; K]> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut acc: [Vec<f32>; K] = std::array::from_fn(|_| vec![0.0f32; c]);
            block_terms(b * block..((b + 1) * block).min(len), &mut acc);
            acc
        })
        .collect();
    let mut total: [Vec<f64>; K] = std::array::from_fn(|_| vec![0.0f64; c]);
    for part in partials {
        for (t, p) in total.iter_mut().zip(part) {
            for (t, p) in t.iter_mut().zip(p) {
                *t += f64::from(p);
            }
        }
    }
    total
}

/// Per-channel mean and biased variance (`sum((x - mean)^2) / rows`, Keras'
/// batch statistics) of `x` viewed as `[rows, c]`: one pass for the mean, a
/// second for the squared deviations from it. Zero rows give zeros.
///
/// ```
/// let (mean, var) = neurite_tensor::batch_norm::channel_moments(&[1.0, 3.0], 1)?;
/// assert_eq!((mean, var), (vec![2.0], vec![1.0]));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn channel_moments(x: &[f32], c: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    check("batch_norm_moments", x.len(), c, &[])?;
    let rows = x.len() / c;
    if rows == 0 {
        return Ok((vec![0.0; c], vec![0.0; c]));
    }
    let [sum] = channel_sums::<1, _>(x.len(), c, |range, [acc]| {
        for row in x[range].chunks_exact(c) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    });
    let mean: Vec<f32> = sum.iter().map(|&s| (s / rows as f64) as f32).collect();
    let [sq] = channel_sums::<1, _>(x.len(), c, |range, [acc]| {
        for row in x[range].chunks_exact(c) {
            for ((a, &v), &m) in acc.iter_mut().zip(row).zip(&mean) {
                let d = v - m;
                *a += d * d;
            }
        }
    });
    let var = sq.iter().map(|&s| (s / rows as f64) as f32).collect();
    Ok((mean, var))
}

/// `y[r, j] = x[r, j] * scale[j] + shift[j]`, then `max(y, 0)` when `relu`: the
/// normalization `gamma * (x - mean) / sqrt(var + eps) + beta` with
/// `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale`, in one pass.
///
/// ```
/// let y = neurite_tensor::batch_norm::scale_shift(&[1.0, -4.0], &[2.0, 1.0], &[0.5, 1.0], false)?;
/// assert_eq!(y, [2.5, -3.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn scale_shift(x: &[f32], scale: &[f32], shift: &[f32], relu: bool) -> Result<Vec<f32>> {
    let c = scale.len();
    check("batch_norm", x.len(), c, &[("shift", shift.len())])?;
    let block = block_len(c);
    Ok(par_build(x.len(), block, 0.0f32, |b, out| {
        let src = &x[b * block..b * block + out.len()];
        for (o, r) in out.chunks_exact_mut(c).zip(src.chunks_exact(c)) {
            if relu {
                for (((o, &v), &s), &t) in o.iter_mut().zip(r).zip(scale).zip(shift) {
                    *o = (v * s + t).max(0.0);
                }
            } else {
                for (((o, &v), &s), &t) in o.iter_mut().zip(r).zip(scale).zip(shift) {
                    *o = v * s + t;
                }
            }
        }
    }))
}

/// The ReLU applied after a normalization, for the backward passes: the output
/// `x * scale + shift` was positive where the gradient passes (recomputed from the
/// input with the same operations as [`scale_shift`], so the mask is exact).
#[derive(Debug, Clone, Copy)]
pub struct ReluMask<'a> {
    /// The forward's `scale`, one per channel.
    pub scale: &'a [f32],
    /// The forward's `shift`, one per channel.
    pub shift: &'a [f32],
}

/// `dy` where the ReLU let the forward value through, else 0.
#[inline(always)]
fn masked(dy: f32, x: f32, s: f32, t: f32) -> f32 {
    if x * s + t > 0.0 {
        dy
    } else {
        0.0
    }
}

/// The per-channel sums of the backward: `sum(dy)` and `sum(dy * (x - mean))`
/// over all rows (`dy` first masked by `relu` when given), in `f64`.
///
/// ```
/// use neurite_tensor::batch_norm::backward_sums;
/// let (s, sx) = backward_sums(&[1.0, 2.0], &[0.0, 4.0], &[2.0], None)?;
/// assert_eq!((s, sx), (vec![3.0], vec![1.0 * -2.0 + 2.0 * 2.0]));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn backward_sums(
    dy: &[f32],
    x: &[f32],
    mean: &[f32],
    relu: Option<ReluMask<'_>>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let c = mean.len();
    let op = "batch_norm_backward";
    check_same(op, ("dy", dy.len()), ("x", x.len()))?;
    check(op, x.len(), c, &[])?;
    if let Some(m) = relu {
        check(
            op,
            x.len(),
            c,
            &[("scale", m.scale.len()), ("shift", m.shift.len())],
        )?;
    }
    let [s, sx] = channel_sums::<2, _>(x.len(), c, |range, [s, sx]| {
        let rows = dy[range.clone()].chunks_exact(c).zip(x[range].chunks_exact(c));
        match relu {
            None => {
                for (g, v) in rows {
                    for ((((a, b), &g), &v), &m) in s.iter_mut().zip(sx.iter_mut()).zip(g).zip(v).zip(mean) {
                        *a += g;
                        *b += g * (v - m);
                    }
                }
            }
            Some(mask) => {
                for (g, v) in rows {
                    let per_channel = mean.iter().zip(mask.scale).zip(mask.shift);
                    for ((((a, b), &g), &v), ((&m, &sc), &sh)) in
                        s.iter_mut().zip(sx.iter_mut()).zip(g).zip(v).zip(per_channel)
                    {
                        let g = masked(g, v, sc, sh);
                        *a += g;
                        *b += g * (v - m);
                    }
                }
            }
        }
    });
    Ok((s, sx))
}

/// The input gradient `dx[r, j] = a[j] * dy[r, j] + b[j] * (x[r, j] - mean[j]) + k[j]`
/// (`dy` first masked by `relu` when given). For training-mode batch normalization
/// `a = gamma * inv_std`, `b = -a * inv_std^2 * sum(dy * (x - mean)) / rows` and
/// `k = -a * sum(dy) / rows`; with fixed statistics `b = k = 0`.
///
/// ```
/// use neurite_tensor::batch_norm::backward_input;
/// let dx = backward_input(&[1.0, 2.0], &[0.0, 4.0], &[2.0], &[0.5], &[0.25], &[-1.0], None)?;
/// assert_eq!(dx, [0.5 * 1.0 + 0.25 * -2.0 - 1.0, 0.5 * 2.0 + 0.25 * 2.0 - 1.0]);
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn backward_input(
    dy: &[f32],
    x: &[f32],
    mean: &[f32],
    a: &[f32],
    b: &[f32],
    k: &[f32],
    relu: Option<ReluMask<'_>>,
) -> Result<Vec<f32>> {
    let c = mean.len();
    let op = "batch_norm_backward";
    check_same(op, ("dy", dy.len()), ("x", x.len()))?;
    check(op, x.len(), c, &[("a", a.len()), ("b", b.len()), ("k", k.len())])?;
    if let Some(m) = relu {
        check(
            op,
            x.len(),
            c,
            &[("scale", m.scale.len()), ("shift", m.shift.len())],
        )?;
    }
    let block = block_len(c);
    Ok(par_build(x.len(), block, 0.0f32, |blk, out| {
        let start = blk * block;
        let range = start..start + out.len();
        let rows = out
            .chunks_exact_mut(c)
            .zip(dy[range.clone()].chunks_exact(c))
            .zip(x[range].chunks_exact(c));
        let coef = mean.iter().zip(a).zip(b).zip(k);
        match relu {
            None => {
                for ((o, g), v) in rows {
                    for (((o, &g), &v), (((&m, &a), &b), &k)) in o.iter_mut().zip(g).zip(v).zip(coef.clone())
                    {
                        *o = a * g + b * (v - m) + k;
                    }
                }
            }
            Some(mask) => {
                let coef = coef.zip(mask.scale).zip(mask.shift);
                for ((o, g), v) in rows {
                    for (((o, &g), &v), (((((&m, &a), &b), &k), &sc), &sh)) in
                        o.iter_mut().zip(g).zip(v).zip(coef.clone())
                    {
                        let g = masked(g, v, sc, sh);
                        *o = a * g + b * (v - m) + k;
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `rows x c` values from a seed, spread around `offset`.
    fn data(rows: usize, c: usize, seed: u64, offset: f32) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..rows * c)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                offset + ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    /// Plain f64 moments, column by column.
    fn moments_ref(x: &[f32], c: usize) -> (Vec<f64>, Vec<f64>) {
        let rows = x.len() / c;
        let mean: Vec<f64> = (0..c)
            .map(|j| (0..rows).map(|r| f64::from(x[r * c + j])).sum::<f64>() / rows as f64)
            .collect();
        let var = (0..c)
            .map(|j| {
                (0..rows)
                    .map(|r| (f64::from(x[r * c + j]) - mean[j]).powi(2))
                    .sum::<f64>()
                    / rows as f64
            })
            .collect();
        (mean, var)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        // Rows across several blocks (c = 3: 5461 rows per block) and channel counts
        // that are and are not a vector width.
        #[test]
        fn moments_match_a_plain_f64_reference(rows in 1usize..12_000, c in prop::sample::select(vec![1usize, 3, 16, 32]),
                                               seed in 0u64..1000, offset in -50.0f32..50.0) {
            let x = data(rows, c, seed, offset);
            let (mean, var) = channel_moments(&x, c).unwrap();
            let (mr, vr) = moments_ref(&x, c);
            for j in 0..c {
                prop_assert!(close(f64::from(mean[j]), mr[j], 1e-5), "mean[{j}] {} vs {}", mean[j], mr[j]);
                // Deviations are summed in f32 within a block of at most 16,384 values.
                prop_assert!(close(f64::from(var[j]), vr[j], 1e-4), "var[{j}] {} vs {}", var[j], vr[j]);
            }
        }

        // The same maths, element by element: bit-equal to the plain loop.
        #[test]
        fn scale_shift_and_backward_input_equal_plain_loops(rows in 1usize..3000, c in 1usize..40, seed in 0u64..1000,
                                                            relu in any::<bool>()) {
            let x = data(rows, c, seed, 0.3);
            let dy = data(rows, c, seed + 1, 0.0);
            let p = data(6, c, seed + 2, 0.5);
            let (scale, shift, mean, a, b, k) = (&p[..c], &p[c..2 * c], &p[2 * c..3 * c], &p[3 * c..4 * c], &p[4 * c..5 * c], &p[5 * c..]);
            let y = scale_shift(&x, scale, shift, relu).unwrap();
            let mask = relu.then_some(ReluMask { scale, shift });
            let dx = backward_input(&dy, &x, mean, a, b, k, mask).unwrap();
            for i in 0..x.len() {
                let j = i % c;
                let lin = x[i] * scale[j] + shift[j];
                let want_y = if relu { lin.max(0.0) } else { lin };
                prop_assert_eq!(y[i].to_bits(), want_y.to_bits());
                let g = if relu && lin <= 0.0 { 0.0 } else { dy[i] };
                let want_dx = a[j] * g + b[j] * (x[i] - mean[j]) + k[j];
                prop_assert_eq!(dx[i].to_bits(), want_dx.to_bits());
            }
        }

        #[test]
        fn backward_sums_match_a_plain_f64_reference(rows in 1usize..6000, c in prop::sample::select(vec![1usize, 5, 16]),
                                                     seed in 0u64..1000, relu in any::<bool>()) {
            let x = data(rows, c, seed, 0.2);
            let dy = data(rows, c, seed + 7, 0.0);
            let p = data(3, c, seed + 9, 0.0);
            let (mean, scale, shift) = (&p[..c], &p[c..2 * c], &p[2 * c..]);
            let mask = relu.then_some(ReluMask { scale, shift });
            let (s, sx) = backward_sums(&dy, &x, mean, mask).unwrap();
            for j in 0..c {
                let (mut rs, mut rsx, mut abs) = (0.0f64, 0.0f64, 0.0f64);
                for r in 0..rows {
                    let i = r * c + j;
                    let pass = !relu || x[i] * scale[j] + shift[j] > 0.0;
                    let g = if pass { f64::from(dy[i]) } else { 0.0 };
                    rs += g;
                    rsx += g * f64::from(x[i] - mean[j]);
                    abs += g.abs() * (1.0 + f64::from(x[i] - mean[j]).abs());
                }
                // f32 accumulation within blocks: error bounded by the sum of magnitudes.
                prop_assert!((s[j] - rs).abs() <= 1e-5 * (1.0 + abs), "sum {} vs {}", s[j], rs);
                prop_assert!((sx[j] - rsx).abs() <= 1e-5 * (1.0 + abs), "sum x {} vs {}", sx[j], rsx);
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (rows, c) = (20_000, 16);
        let x = data(rows, c, 3, 1.0);
        let dy = data(rows, c, 4, 0.0);
        let mean = vec![0.5f32; c];
        let run = || {
            let m = channel_moments(&x, c).unwrap();
            let s = backward_sums(&dy, &x, &mean, None).unwrap();
            (m, s)
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(run);
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(run);
        assert_eq!(one, three);
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_op() {
        let e = channel_moments(&[1.0; 5], 2).unwrap_err().to_string();
        assert!(
            e.starts_with("batch_norm_moments") && e.contains("5 elements"),
            "{e}"
        );
        assert!(channel_moments(&[1.0; 4], 0).is_err());
        let e = scale_shift(&[1.0; 4], &[1.0, 1.0], &[0.0], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("shift") && e.contains("found 1"), "{e}");
        let e = backward_sums(&[1.0; 4], &[1.0; 6], &[0.0, 0.0], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`dy` and `x`"), "{e}");
        let mask = ReluMask {
            scale: &[1.0],
            shift: &[0.0, 0.0],
        };
        assert!(backward_input(
            &[1.0; 4],
            &[1.0; 4],
            &[0.0; 2],
            &[1.0; 2],
            &[0.0; 2],
            &[0.0; 2],
            Some(mask)
        )
        .is_err());
        assert_eq!(channel_moments(&[], 3).unwrap(), (vec![0.0; 3], vec![0.0; 3]));
    }
}
