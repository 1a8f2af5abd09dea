//! Keras 3's `MultiHeadAttention._compute_attention_mask`: the query mask
//! `(B, T)` as `(B, T, 1)`, the value and key masks `(B, S)` as `(B, 1, S)`,
//! and-ed with each other and with the explicit `attention_mask`; and the
//! masked softmax's last step, which zeroes a row whose keys are all hidden
//! (`where(mask, softmax, 0)`), so such a query attends to nothing.

use crate::error::Result;
use crate::layers::shape_error;
use crate::mask::Mask;
use ndarray::{Array3, Array4, Ix3};
use neurite_tensor::Tensor;

/// The Keras masks of a call's query, value and key (see
/// [`super::MultiHeadAttention::attend_masked`]); `(batch, T)` or
/// `(batch, S)`, non-zero = valid.
///
/// ```
/// let m = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
/// let masks = neurite_nn::layers::AttentionMasks { query: Some(&m), ..Default::default() };
/// assert!(masks.value.is_none() && masks.key.is_none());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AttentionMasks<'a> {
    /// The query's mask `(batch, Tq)`: a masked query attends to nothing
    /// (and the output's mask is this one).
    pub query: Option<&'a Mask>,
    /// The value's mask `(batch, Tk)`: masked values are never attended to.
    pub value: Option<&'a Mask>,
    /// The key's mask `(batch, Tk)` (Keras ignores it when no key is given).
    pub key: Option<&'a Mask>,
}

impl AttentionMasks<'_> {
    /// Whether any mask is given.
    pub(crate) fn any(&self) -> bool {
        self.query.is_some() || self.value.is_some() || self.key.is_some()
    }
}

/// The combined 0/1 mask `(batch, tq, tk)` of `masks` and the explicit
/// `attention_mask` (broadcast from `(1 or batch, 1 or tq, 1 or tk)`), or
/// `None` when `masks` has none (the explicit mask is then used as given).
/// A mask of the wrong shape is an error naming `layer`.
pub(crate) fn combine(
    layer: &str,
    masks: &AttentionMasks,
    attention_mask: Option<&Tensor>,
    (b, tq, tk): (usize, usize, usize),
) -> Result<Option<Tensor>> {
    if !masks.any() {
        return Ok(None);
    }
    let check = |what: &str, m: &Mask, t: usize| {
        if m.shape() == [b, t] {
            Ok(())
        } else {
            Err(shape_error(
                layer,
                format!("a {what} mask of shape (batch, T) = ({b}, {t})"),
                m.shape(),
            ))
        }
    };
    let mut out = Array3::<f32>::ones((b, tq, tk));
    if let Some(q) = masks.query {
        check("query", q, tq)?;
        for ((i, j, _), v) in out.indexed_iter_mut() {
            if q[[i, j]] == 0.0 {
                *v = 0.0;
            }
        }
    }
    for (what, m) in [("value", masks.value), ("key", masks.key)] {
        if let Some(m) = m {
            check(what, m, tk)?;
            for ((i, _, k), v) in out.indexed_iter_mut() {
                if m[[i, k]] == 0.0 {
                    *v = 0.0;
                }
            }
        }
    }
    if let Some(a) = attention_mask {
        let a3 = a
            .view()
            .into_dimensionality::<Ix3>()
            .ok()
            .and_then(|a3| a3.broadcast((b, tq, tk)).map(|v| v.to_owned()))
            .ok_or_else(|| {
                shape_error(
                    layer,
                    format!("an attention_mask broadcastable to ({b}, {tq}, {tk})"),
                    a.shape(),
                )
            })?;
        out.zip_mut_with(&a3, |v, &m| {
            if m == 0.0 {
                *v = 0.0
            }
        });
    }
    Ok(Some(out.into_dyn()))
}

/// `(batch, tq, 1, 1)` with 0 for the queries whose keys are all hidden (by
/// `mask`, broadcast to `(batch, tq, tk)`, and the causal mask) and 1
/// elsewhere; `None` when every query sees a key (nothing to zero).
pub(crate) fn dead_rows(
    mask: Option<&Tensor>,
    causal: bool,
    (b, tq, tk): (usize, usize, usize),
) -> Option<Tensor> {
    let m = mask?;
    let m3 = m.view().into_dimensionality::<Ix3>().ok()?;
    let m3 = m3.broadcast((b, tq, tk))?;
    let mut keep = Array4::<f32>::ones((b, tq, 1, 1));
    let mut any_dead = false;
    for bi in 0..b {
        for i in 0..tq {
            let sees = (0..tk).any(|j| m3[[bi, i, j]] != 0.0 && (!causal || j <= i));
            if !sees {
                keep[[bi, i, 0, 0]] = 0.0;
                any_dead = true;
            }
        }
    }
    any_dead.then(|| keep.into_dyn())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_value_masks_combine_as_keras() {
        let q = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
        let v = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
        let masks = AttentionMasks {
            query: Some(&q),
            value: Some(&v),
            key: None,
        };
        let explicit = ndarray::arr3(&[[[0.0f32, 1.0, 1.0]]]).into_dyn();
        let m = combine("mha", &masks, Some(&explicit), (1, 2, 3))
            .unwrap()
            .unwrap();
        assert_eq!(
            m,
            ndarray::arr3(&[[[0.0f32, 1.0, 0.0], [0.0, 0.0, 0.0]]]).into_dyn()
        );
        let keep = dead_rows(Some(&m), false, (1, 2, 3)).unwrap();
        assert_eq!(keep.iter().copied().collect::<Vec<_>>(), vec![1.0, 0.0]);
        // Causal hides key 1 from query 0, whose only other key is masked.
        assert_eq!(
            dead_rows(Some(&m), true, (1, 2, 3))
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![0.0, 0.0]
        );
        let e = combine(
            "mha",
            &AttentionMasks {
                value: Some(&q),
                ..Default::default()
            },
            None,
            (1, 2, 3),
        );
        assert!(e.unwrap_err().to_string().contains("mha"));
    }
}
