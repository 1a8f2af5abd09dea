//! LayerNormalization's row kernels: rows of `d` values normalized (forward)
//! and their gradients (backward), over rayon in fixed blocks of rows, so the
//! results do not depend on the thread count.

use rayon::prelude::*;

/// Rows per parallel task (fixed: the parameter-gradient partial sums are
/// added in block order, the same on any number of threads).
const ROWS_PER_TASK: usize = 64;

/// Normalizes each row of `x` (`n` rows of `d`) in place into `xhat =
/// (x - mean) / sqrt(var + eps)`, writes `y = gamma * xhat + beta` and the
/// rows' `1 / sqrt(var + eps)` into `inv_std`.
pub(crate) fn normalize_rows(
    x: &mut [f32],
    y: &mut [f32],
    inv_std: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    d: usize,
    eps: f32,
) {
    if d == 0 {
        return;
    }
    x.par_chunks_mut(d * ROWS_PER_TASK)
        .zip(y.par_chunks_mut(d * ROWS_PER_TASK))
        .zip(inv_std.par_chunks_mut(ROWS_PER_TASK))
        .for_each(|((xs, ys), is)| {
            for ((xr, yr), s) in xs.chunks_exact_mut(d).zip(ys.chunks_exact_mut(d)).zip(is) {
                let mean = ndarray::ArrayView1::from(&*xr).sum() / d as f32;
                let var = xr.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
                let inv = 1.0 / (var + eps).sqrt();
                *s = inv;
                for (((xv, yv), &g), &b) in xr.iter_mut().zip(yr.iter_mut()).zip(gamma).zip(beta) {
                    let h = (*xv - mean) * inv;
                    *xv = h;
                    *yv = g * h + b;
                }
            }
        });
}

/// Gradients of [`normalize_rows`] from the output gradient `dy`: writes
/// `dx = inv_std * (g - mean(g) - xhat * mean(g * xhat))` with `g = dy * gamma`
/// into `dx` when given, and returns `(dgamma, dbeta)`.
pub(crate) fn normalize_rows_backward(
    dy: &[f32],
    xhat: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    d: usize,
    dx: Option<&mut [f32]>,
) -> (Vec<f32>, Vec<f32>) {
    if d == 0 {
        return (Vec::new(), Vec::new());
    }
    let inv_d = 1.0 / d as f32;
    let block = |dys: &[f32], hs: &[f32], is: &[f32], mut dxs: Option<&mut [f32]>| {
        let mut dgamma = vec![0.0f32; d];
        let mut dbeta = vec![0.0f32; d];
        for (i, ((dr, hr), &s)) in dys.chunks_exact(d).zip(hs.chunks_exact(d)).zip(is).enumerate() {
            let mut sum_g = 0.0f32;
            let mut sum_gh = 0.0f32;
            for j in 0..d {
                dbeta[j] += dr[j];
                dgamma[j] += dr[j] * hr[j];
                let g = dr[j] * gamma[j];
                sum_g += g;
                sum_gh += g * hr[j];
            }
            if let Some(out) = dxs.as_deref_mut() {
                let out = &mut out[i * d..(i + 1) * d];
                for j in 0..d {
                    out[j] = s * (dr[j] * gamma[j] - inv_d * sum_g - hr[j] * inv_d * sum_gh);
                }
            }
        }
        (dgamma, dbeta)
    };
    let chunk = d * ROWS_PER_TASK;
    let partials: Vec<(Vec<f32>, Vec<f32>)> = match dx {
        Some(dx) => dy
            .par_chunks(chunk)
            .zip(xhat.par_chunks(chunk))
            .zip(inv_std.par_chunks(ROWS_PER_TASK))
            .zip(dx.par_chunks_mut(chunk))
            .map(|(((a, h), s), o)| block(a, h, s, Some(o)))
            .collect(),
        None => dy
            .par_chunks(chunk)
            .zip(xhat.par_chunks(chunk))
            .zip(inv_std.par_chunks(ROWS_PER_TASK))
            .map(|((a, h), s)| block(a, h, s, None))
            .collect(),
    };
    let mut dgamma = vec![0.0f32; d];
    let mut dbeta = vec![0.0f32; d];
    for (pg, pb) in partials {
        dgamma.iter_mut().zip(&pg).for_each(|(a, b)| *a += b);
        dbeta.iter_mut().zip(&pb).for_each(|(a, b)| *a += b);
    }
    (dgamma, dbeta)
}
