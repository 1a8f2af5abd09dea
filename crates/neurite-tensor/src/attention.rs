//! Fused multi-head scaled dot-product attention, forward and backward.
//!
//! Layouts are those of Keras' `MultiHeadAttention` after its projections:
//! queries `(batch, Tq, heads, key_dim)`, keys `(batch, Tk, heads, key_dim)`,
//! values `(batch, Tk, heads, value_dim)`; the output is `(batch, Tq, heads,
//! value_dim)` and the attention probabilities `(batch, heads, Tq, Tk)`.
//! Per (sample, head) the kernel computes
//! `P = softmax(scale · Q Kᵀ, masked)`, `O = (P ⊙ D) V` (`D` the optional
//! dropout multipliers), as two single-threaded GEMMs on strided views (no
//! transposed copies of Q, K or V) and a softmax over each row while it is in
//! cache; the (sample, head) pairs run as rayon tasks. Masked scores are
//! replaced by [`MASKED_SCORE`] (Keras' `where(mask, x, -1e9)`), so a fully
//! masked row gets uniform weights here (the `MultiHeadAttention` layer then
//! zeroes such rows, as Keras 3.15 does), and masked scores get no gradient.
//!
//! The backward pass is fused the same way: `dV = (P ⊙ D)ᵀ dO`,
//! `dP = (dO Vᵀ) ⊙ D`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))` (0 where masked),
//! `dQ = scale · dS K`, `dK = scale · dSᵀ Q`.
//!
//! ```
//! use neurite_tensor::attention::{attention_forward, AttentionConfig};
//! let q = ndarray::Array4::<f32>::zeros((1, 2, 1, 3));
//! let v = ndarray::Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap();
//! let cfg = AttentionConfig { scale: 1.0, causal: false, mask: None };
//! let f = attention_forward(q.view(), q.view(), v.view(), &cfg, None)?;
//! // Equal scores: each query averages the values.
//! assert_eq!(f.output.iter().copied().collect::<Vec<_>>(), vec![2.0, 2.0]);
//! # Ok::<(), neurite_tensor::TensorError>(())
//! ```

use crate::error::{Result, TensorError};
use crate::exp::softmax_row_in_place;
use crate::gemm::gemm_single_thread;
use ndarray::{s, Array2, Array4, ArrayView2, ArrayView4, ArrayViewD, ArrayViewMut2};
use rayon::prelude::*;

/// The score a masked (query, key) pair gets before the softmax (Keras'
/// `_large_negative_number` for `float32`).
///
/// ```
/// assert_eq!(neurite_tensor::attention::MASKED_SCORE, -1e9);
/// ```
pub const MASKED_SCORE: f32 = -1e9;

const OP: &str = "attention";

/// Which (query, key) pairs may attend: a `(batch, Tq, Tk)` boolean array
/// whose axes may each be 1 (broadcast), built from a 0/1 tensor of rank 2
/// (`(Tq, Tk)`, for every sample) or 3. Non-zero entries attend (Keras
/// casts the mask to `bool`).
///
/// ```
/// use neurite_tensor::attention::AttentionMask;
/// let m = ndarray::arr3(&[[[1.0f32, 0.0]]]).into_dyn(); // (1, 1, 2): key 1 hidden everywhere
/// let mask = AttentionMask::from_tensor(m.view(), 4, 3, 2)?;
/// assert!(mask.allows(3, 2, 0) && !mask.allows(0, 1, 1));
/// assert!(AttentionMask::from_tensor(m.view(), 4, 3, 5).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionMask {
    allowed: Vec<bool>,
    dims: [usize; 3],
}

impl AttentionMask {
    /// The mask of `mask` for `batch` samples, `tq` queries and `tk` keys;
    /// an error naming both shapes when an axis is neither 1 nor its size,
    /// or the rank is not 2 or 3.
    ///
    /// ```
    /// use neurite_tensor::attention::AttentionMask;
    /// let m = ndarray::Array2::<f32>::ones((3, 2)).into_dyn();
    /// assert!(AttentionMask::from_tensor(m.view(), 8, 3, 2)?.allows(7, 2, 1));
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn from_tensor(mask: ArrayViewD<f32>, batch: usize, tq: usize, tk: usize) -> Result<Self> {
        let shape = mask.shape().to_vec();
        let dims: [usize; 3] = match shape.as_slice() {
            [q, k] => [1, *q, *k],
            [b, q, k] => [*b, *q, *k],
            _ => {
                return Err(TensorError::shape(
                    OP,
                    &shape,
                    &[batch, tq, tk],
                    "the attention mask must have rank 2 (Tq, Tk) or 3 (batch, Tq, Tk)",
                ))
            }
        };
        let fits = dims.iter().zip([batch, tq, tk]).all(|(&d, n)| d == 1 || d == n);
        if !fits {
            return Err(TensorError::shape(
                OP,
                &shape,
                &[batch, tq, tk],
                "each attention-mask axis must be 1 or equal (batch, Tq, Tk)",
            ));
        }
        Ok(AttentionMask {
            allowed: mask.iter().map(|&m| m != 0.0).collect(),
            dims,
        })
    }

    /// Whether query `i` of sample `b` may attend to key `j` (broadcast axes read index 0).
    ///
    /// ```
    /// use neurite_tensor::attention::AttentionMask;
    /// let m = ndarray::arr2(&[[1.0f32, 0.0], [1.0, 1.0]]).into_dyn();
    /// let mask = AttentionMask::from_tensor(m.view(), 2, 2, 2)?;
    /// assert!(!mask.allows(1, 0, 1) && mask.allows(1, 1, 1));
    /// # Ok::<(), neurite_tensor::TensorError>(())
    /// ```
    pub fn allows(&self, b: usize, i: usize, j: usize) -> bool {
        let [db, dq, dk] = self.dims;
        let (b, i, j) = (b % db, i % dq, j % dk);
        self.allowed[(b * dq + i) * dk + j]
    }

    /// Writes `value` into the entries of `row` (the keys of query `i` of
    /// sample `b`) that this mask hides.
    fn fill_hidden(&self, row: &mut [f32], b: usize, i: usize, value: f32) {
        let [db, dq, dk] = self.dims;
        let start = ((b % db) * dq + i % dq) * dk;
        let allowed = &self.allowed[start..start + dk];
        if dk == 1 {
            if !allowed[0] {
                row.fill(value);
            }
        } else {
            for (s, &a) in row.iter_mut().zip(allowed) {
                if !a {
                    *s = value;
                }
            }
        }
    }
}

/// How the scores are formed: `scale` (Keras: `1/sqrt(key_dim)`), the causal
/// mask (query `i` sees keys `j <= i`, Keras' `use_causal_mask`) and an
/// optional explicit mask; a pair attends when both allow it.
///
/// ```
/// let cfg = neurite_tensor::attention::AttentionConfig { scale: 0.5, causal: true, mask: None };
/// assert!(cfg.allows(0, 3, 2) && !cfg.allows(0, 2, 3));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionConfig {
    /// Factor of the dot products `q · k`.
    pub scale: f32,
    /// Hide keys after the query's position.
    pub causal: bool,
    /// Explicit mask (`None`: every pair attends unless `causal` hides it).
    pub mask: Option<AttentionMask>,
}

impl AttentionConfig {
    /// Whether query `i` of sample `b` attends to key `j`.
    ///
    /// ```
    /// let cfg = neurite_tensor::attention::AttentionConfig { scale: 1.0, causal: false, mask: None };
    /// assert!(cfg.allows(5, 0, 9));
    /// ```
    pub fn allows(&self, b: usize, i: usize, j: usize) -> bool {
        (!self.causal || j <= i) && self.mask.as_ref().is_none_or(|m| m.allows(b, i, j))
    }

    /// Writes `value` into the entries of `row` (the keys of query `i` of
    /// sample `b`) that may not be attended.
    fn fill_hidden(&self, row: &mut [f32], b: usize, i: usize, value: f32) {
        if self.causal {
            let first_hidden = (i + 1).min(row.len());
            row[first_hidden..].fill(value);
        }
        if let Some(m) = &self.mask {
            m.fill_hidden(row, b, i, value);
        }
    }
}

/// The result of [`attention_forward`].
///
/// ```
/// use neurite_tensor::attention::{attention_forward, AttentionConfig};
/// let x = ndarray::Array4::<f32>::ones((2, 3, 4, 5));
/// let cfg = AttentionConfig { scale: 1.0, causal: false, mask: None };
/// let f = attention_forward(x.view(), x.view(), x.view(), &cfg, None)?;
/// assert_eq!((f.output.dim(), f.probs.dim()), ((2, 3, 4, 5), (2, 4, 3, 3)));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct AttentionForward {
    /// `(batch, Tq, heads, value_dim)`.
    pub output: Array4<f32>,
    /// The attention probabilities before dropout, `(batch, heads, Tq, Tk)`.
    pub probs: Array4<f32>,
}

/// Gradients from [`attention_backward`]; `None` for those not asked for.
///
/// ```
/// let g = neurite_tensor::attention::AttentionGrads { dq: None, dk: None, dv: None };
/// assert!(g.dq.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct AttentionGrads {
    /// Gradient of the queries, `(batch, Tq, heads, key_dim)`.
    pub dq: Option<Array4<f32>>,
    /// Gradient of the keys, `(batch, Tk, heads, key_dim)`.
    pub dk: Option<Array4<f32>>,
    /// Gradient of the values, `(batch, Tk, heads, value_dim)`.
    pub dv: Option<Array4<f32>>,
}

/// `(batch, tq, tk, heads, key_dim, value_dim)` after checking that the
/// shapes agree and that `dropout` (if any) has one multiplier per probability.
fn dims(
    q: &ArrayView4<f32>,
    k: &ArrayView4<f32>,
    v: &ArrayView4<f32>,
    dropout: Option<&[f32]>,
) -> Result<[usize; 6]> {
    let (b, tq, h, dk) = q.dim();
    let (bk, tk, hk, dk2) = k.dim();
    let (bv, tv, hv, dv) = v.dim();
    if (bk, hk, dk2) != (b, h, dk) {
        return Err(TensorError::shape(
            OP,
            q.shape(),
            k.shape(),
            "queries (batch, Tq, heads, key_dim) and keys (batch, Tk, heads, key_dim) must agree on batch, heads and key_dim",
        ));
    }
    if (bv, tv, hv) != (b, tk, h) {
        return Err(TensorError::shape(
            OP,
            k.shape(),
            v.shape(),
            "keys (batch, Tk, heads, key_dim) and values (batch, Tk, heads, value_dim) must agree on batch, Tk and heads",
        ));
    }
    if tk == 0 || h == 0 || dk == 0 || dv == 0 {
        return Err(TensorError::invalid(
            OP,
            format!(
                "Tk, heads, key_dim and value_dim must be at least 1, found Tk {tk}, heads {h}, key_dim {dk}, value_dim {dv}"
            ),
        ));
    }
    let probs_len = [b, h, tq, tk]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| TensorError::invalid(OP, "the attention probabilities overflow usize"))?;
    if let Some(d) = dropout {
        if d.len() != probs_len {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "dropout needs one multiplier per probability (batch {b} x heads {h} x Tq {tq} x Tk {tk} = {probs_len}), found {}",
                    d.len()
                ),
            ));
        }
    }
    Ok([b, tq, tk, h, dk, dv])
}

/// Row-wise masked softmax of `p` (`Tq` rows of `Tk` scores) in place.
fn masked_softmax_rows(p: &mut [f32], tk: usize, cfg: &AttentionConfig, b: usize) {
    for (i, row) in p.chunks_exact_mut(tk).enumerate() {
        cfg.fill_hidden(row, b, i, MASKED_SCORE);
        softmax_row_in_place(row);
    }
}

/// `dS = P ⊙ (dP − rowsum(dP ⊙ P))` in place of `dp` (`Tq` rows of `Tk`),
/// 0 where the pair is masked.
fn softmax_backward_rows(dp: &mut [f32], p: &[f32], tk: usize, cfg: &AttentionConfig, b: usize) {
    for (i, (row, prow)) in dp.chunks_exact_mut(tk).zip(p.chunks_exact(tk)).enumerate() {
        let dot = dot_lanes(row, prow);
        for (s, &pj) in row.iter_mut().zip(prow) {
            *s = pj * (*s - dot);
        }
        cfg.fill_hidden(row, b, i, 0.0);
    }
}

/// `Σ a_i b_i` over 8 partial sums (so the loop vectorizes).
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The `(T, D)` matrix of sample `b`, head `h` of a `(batch, T, heads, D)` array (a strided view).
fn head<'a>(x: &ArrayView4<'a, f32>, b: usize, h: usize) -> ArrayView2<'a, f32> {
    (*x).slice_move(s![b, .., h, ..])
}

/// Copies per-(sample, head) `(T, D)` blocks (task `t` = `b * heads + h`) into a `(batch, T, heads, D)` array.
fn scatter(blocks: Vec<Array2<f32>>, b: usize, t: usize, h: usize, d: usize) -> Array4<f32> {
    let mut out = Array4::<f32>::zeros((b, t, h, d));
    for (task, block) in blocks.into_iter().enumerate() {
        out.slice_mut(s![task / h, .., task % h, ..]).assign(&block);
    }
    out
}

/// Forward pass: the attention output `(batch, Tq, heads, value_dim)` and the
/// probabilities `(batch, heads, Tq, Tk)` (before dropout). `dropout`, when
/// given, holds one multiplier per probability (0 for a dropped one,
/// `1/(1-rate)` for a kept one) in the probabilities' order.
///
/// Errors name the op and the shapes when the inputs disagree (see the
/// module documentation for the layouts), when `Tk`, heads, `key_dim` or
/// `value_dim` is 0, or when `dropout` has the wrong length.
///
/// ```
/// use neurite_tensor::attention::{attention_forward, AttentionConfig};
/// let q = ndarray::Array4::<f32>::ones((1, 2, 1, 1));
/// let v = ndarray::Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap();
/// let cfg = AttentionConfig { scale: 1.0, causal: true, mask: None };
/// let f = attention_forward(q.view(), q.view(), v.view(), &cfg, None)?;
/// // The first query sees only the first key.
/// assert_eq!(f.output[[0, 0, 0, 0]], 1.0);
/// assert_eq!(f.probs[[0, 0, 0, 1]], 0.0);
/// let bad = ndarray::Array4::<f32>::ones((1, 2, 2, 1));
/// assert!(attention_forward(q.view(), bad.view(), v.view(), &cfg, None).is_err());
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
pub fn attention_forward(
    q: ArrayView4<f32>,
    k: ArrayView4<f32>,
    v: ArrayView4<f32>,
    cfg: &AttentionConfig,
    dropout: Option<&[f32]>,
) -> Result<AttentionForward> {
    let [b, tq, tk, h, _dk, dv] = dims(&q, &k, &v, dropout)?;
    let mut probs = Array4::<f32>::zeros((b, h, tq, tk));
    if b == 0 || tq == 0 {
        return Ok(AttentionForward {
            output: Array4::zeros((b, tq, h, dv)),
            probs,
        });
    }
    let block = tq * tk;
    let slice = probs.as_slice_mut().expect("a fresh array is in standard layout");
    let blocks: Vec<Result<Array2<f32>>> = slice
        .par_chunks_mut(block)
        .enumerate()
        .map(|(task, p)| {
            let (bi, hi) = (task / h, task % h);
            {
                let mut scores = ArrayViewMut2::from_shape((tq, tk), &mut *p).expect("block is tq x tk");
                gemm_single_thread(
                    cfg.scale,
                    head(&q, bi, hi),
                    false,
                    head(&k, bi, hi),
                    true,
                    0.0,
                    &mut scores,
                )?;
            }
            masked_softmax_rows(p, tk, cfg, bi);
            let mut o = Array2::<f32>::zeros((tq, dv));
            let probs = ArrayView2::from_shape((tq, tk), &*p).expect("block is tq x tk");
            match dropout {
                Some(d) => {
                    let d = ArrayView2::from_shape((tq, tk), &d[task * block..(task + 1) * block])
                        .expect("block is tq x tk");
                    let weights = &probs * &d;
                    gemm_single_thread(
                        1.0,
                        weights.view(),
                        false,
                        head(&v, bi, hi),
                        false,
                        0.0,
                        &mut o.view_mut(),
                    )?;
                }
                None => {
                    gemm_single_thread(1.0, probs, false, head(&v, bi, hi), false, 0.0, &mut o.view_mut())?
                }
            }
            Ok(o)
        })
        .collect();
    let blocks = blocks.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(AttentionForward {
        output: scatter(blocks, b, tq, h, dv),
        probs,
    })
}

/// Which gradients [`attention_backward`] computes.
///
/// ```
/// let need = neurite_tensor::attention::NeedGrads { q: true, k: false, v: true };
/// assert!(need.q && !need.k);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedGrads {
    /// Compute `dq`.
    pub q: bool,
    /// Compute `dk`.
    pub k: bool,
    /// Compute `dv`.
    pub v: bool,
}

/// Backward pass of [`attention_forward`]: from the upstream gradient
/// `d_out` `(batch, Tq, heads, value_dim)`, the inputs, the saved
/// probabilities and the same `cfg` and `dropout`, the gradients of the
/// queries, keys and values that `need` asks for. Masked pairs pass no
/// gradient to their scores.
///
/// ```
/// use neurite_tensor::attention::{attention_backward, attention_forward, AttentionConfig, NeedGrads};
/// let x = ndarray::Array4::<f32>::ones((1, 3, 2, 4));
/// let cfg = AttentionConfig { scale: 0.5, causal: false, mask: None };
/// let f = attention_forward(x.view(), x.view(), x.view(), &cfg, None)?;
/// let g = attention_backward(x.view(), x.view(), x.view(), f.probs.view(), &cfg, None, f.output.view(),
///     NeedGrads { q: true, k: true, v: true })?;
/// // Equal keys: the softmax is flat, so the scores get no gradient.
/// assert!(g.dq.unwrap().iter().all(|&d| d.abs() < 1e-6));
/// # Ok::<(), neurite_tensor::TensorError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: ArrayView4<f32>,
    k: ArrayView4<f32>,
    v: ArrayView4<f32>,
    probs: ArrayView4<f32>,
    cfg: &AttentionConfig,
    dropout: Option<&[f32]>,
    d_out: ArrayView4<f32>,
    need: NeedGrads,
) -> Result<AttentionGrads> {
    let [b, tq, tk, h, dk, dv] = dims(&q, &k, &v, dropout)?;
    if probs.dim() != (b, h, tq, tk) {
        return Err(TensorError::shape(
            "attention_backward",
            probs.shape(),
            &[b, h, tq, tk],
            "the saved probabilities must be (batch, heads, Tq, Tk)",
        ));
    }
    if d_out.dim() != (b, tq, h, dv) {
        return Err(TensorError::shape(
            "attention_backward",
            d_out.shape(),
            &[b, tq, h, dv],
            "the output gradient must be (batch, Tq, heads, value_dim)",
        ));
    }
    if b == 0 || tq == 0 {
        return Ok(AttentionGrads {
            dq: need.q.then(|| Array4::zeros((b, tq, h, dk))),
            dk: need.k.then(|| Array4::zeros((b, tk, h, dk))),
            dv: need.v.then(|| Array4::zeros((b, tk, h, dv))),
        });
    }
    let block = tq * tk;
    let need_scores = need.q || need.k;
    type Blocks = (Option<Array2<f32>>, Option<Array2<f32>>, Option<Array2<f32>>);
    let tasks: Vec<Result<Blocks>> = (0..b * h)
        .into_par_iter()
        .map(|task| {
            let (bi, hi) = (task / h, task % h);
            let p = probs.slice(s![bi, hi, .., ..]);
            let g = head(&d_out, bi, hi);
            let drop = dropout.map(|d| {
                ArrayView2::from_shape((tq, tk), &d[task * block..(task + 1) * block])
                    .expect("block is tq x tk")
            });
            let dv_block = if need.v {
                let mut out = Array2::<f32>::zeros((tk, dv));
                match &drop {
                    Some(d) => {
                        let weights = &p * d;
                        gemm_single_thread(1.0, weights.view(), true, g, false, 0.0, &mut out.view_mut())?
                    }
                    None => gemm_single_thread(1.0, p, true, g, false, 0.0, &mut out.view_mut())?,
                }
                Some(out)
            } else {
                None
            };
            if !need_scores {
                return Ok((None, None, dv_block));
            }
            // dP = dO Vᵀ (⊙ D), then dS = P ⊙ (dP − rowsum(dP ⊙ P)), 0 where masked.
            let mut ds = Array2::<f32>::zeros((tq, tk));
            gemm_single_thread(1.0, g, false, head(&v, bi, hi), true, 0.0, &mut ds.view_mut())?;
            if let Some(d) = &drop {
                ds *= d;
            }
            let p_standard = p.as_standard_layout();
            let p_rows = p_standard
                .as_slice()
                .expect("a standard-layout array is contiguous");
            let ds_rows = ds.as_slice_mut().expect("a fresh array is contiguous");
            softmax_backward_rows(ds_rows, p_rows, tk, cfg, bi);
            let dq_block = if need.q {
                let mut out = Array2::<f32>::zeros((tq, dk));
                gemm_single_thread(
                    cfg.scale,
                    ds.view(),
                    false,
                    head(&k, bi, hi),
                    false,
                    0.0,
                    &mut out.view_mut(),
                )?;
                Some(out)
            } else {
                None
            };
            let dk_block = if need.k {
                let mut out = Array2::<f32>::zeros((tk, dk));
                gemm_single_thread(
                    cfg.scale,
                    ds.view(),
                    true,
                    head(&q, bi, hi),
                    false,
                    0.0,
                    &mut out.view_mut(),
                )?;
                Some(out)
            } else {
                None
            };
            Ok((dq_block, dk_block, dv_block))
        })
        .collect();
    let mut dq_blocks = Vec::new();
    let mut dk_blocks = Vec::new();
    let mut dv_blocks = Vec::new();
    for t in tasks {
        let (a, bk, c) = t?;
        dq_blocks.extend(a);
        dk_blocks.extend(bk);
        dv_blocks.extend(c);
    }
    let gather = |blocks: Vec<Array2<f32>>, wanted: bool, t: usize, d: usize| {
        wanted.then(|| scatter(blocks, b, t, h, d))
    };
    Ok(AttentionGrads {
        dq: gather(dq_blocks, need.q, tq, dk),
        dk: gather(dk_blocks, need.k, tk, dk),
        dv: gather(dv_blocks, need.v, tk, dv),
    })
}
