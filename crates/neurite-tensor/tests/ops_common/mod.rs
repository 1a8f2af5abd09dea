//! Shared helpers of the `ops_*` integration tests: proptest strategies for
//! shapes/tensors and plainly written (slow, obviously correct) references.
#![allow(dead_code)]

use ndarray::ShapeBuilder;
use neurite_tensor::Tensor;
use proptest::prelude::*;

/// Number of proptest cases per property (kept small: the suite must stay fast).
pub const CASES: u32 = 64;

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Multi-index of flat row-major position `flat` in `shape`.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for i in (0..shape.len()).rev() {
        idx[i] = flat % shape[i];
        flat /= shape[i];
    }
    idx
}

/// Element of `t` at `idx` (read by logical index, any layout).
pub fn at(t: &Tensor, idx: &[usize]) -> f32 {
    t[idx]
}

/// The NumPy broadcast result shape, written out by hand; `None` if incompatible.
pub fn naive_broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = Vec::new();
    for i in 0..r {
        let da = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
        let db = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
        if da == db || db == 1 {
            out.push(da);
        } else if da == 1 {
            out.push(db);
        } else {
            return None;
        }
    }
    Some(out)
}

/// Index into an operand of shape `shape` for the output multi-index `out_idx` (broadcast rules).
pub fn operand_index(out_idx: &[usize], shape: &[usize]) -> Vec<usize> {
    let off = out_idx.len() - shape.len();
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if d == 1 { 0 } else { out_idx[off + i] })
        .collect()
}

/// Naive broadcasting binary op, in row-major order.
pub fn naive_binary(a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32) -> Option<Tensor> {
    let shape = naive_broadcast_shape(a.shape(), b.shape())?;
    let n: usize = shape.iter().product();
    let mut v = Vec::with_capacity(n);
    for flat in 0..n {
        let idx = unravel(flat, &shape);
        v.push(f(
            at(a, &operand_index(&idx, a.shape())),
            at(b, &operand_index(&idx, b.shape())),
        ));
    }
    Some(Tensor::from_shape_vec(shape, v).unwrap())
}

/// A tensor of `shape` from row-major `values`, stored in standard layout or,
/// when `fortran` is set, in column-major layout (a non-contiguous-in-C-order input).
pub fn make(shape: &[usize], values: &[f32], fortran: bool) -> Tensor {
    let n: usize = shape.iter().product();
    let t = Tensor::from_shape_vec(shape.to_vec(), values[..n].to_vec()).unwrap();
    if fortran {
        let mut f = Tensor::zeros(ndarray::IxDyn(shape).f());
        f.assign(&t);
        f
    } else {
        t
    }
}

/// Random shape of rank 0..=4 with axes 1..=max_dim.
pub fn shape_strategy(max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..=max_dim, 0..=4)
}

/// Random tensor (random layout) with values in `[-lim, lim]`.
pub fn tensor_strategy(max_dim: usize, lim: f32) -> impl Strategy<Value = Tensor> {
    (shape_strategy(max_dim), any::<bool>()).prop_flat_map(move |(shape, fortran)| {
        let n: usize = shape.iter().product();
        prop::collection::vec(-lim..=lim, n).prop_map(move |v| make(&shape, &v, fortran))
    })
}

/// Two tensors whose shapes broadcast together: an output shape, and for each
/// operand a suffix of it with some axes set to 1. Random layouts.
pub fn broadcast_pair(lim: f32) -> impl Strategy<Value = (Tensor, Tensor)> {
    (
        shape_strategy(4),
        0..=4usize,
        0..=4usize,
        any::<u16>(),
        any::<u16>(),
        any::<(bool, bool)>(),
    )
        .prop_flat_map(move |(out, da, db, ma, mb, (fa, fb))| {
            let derive = |drop: usize, mask: u16| -> Vec<usize> {
                let drop = drop.min(out.len());
                out[drop..]
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if mask & (1 << i) != 0 { 1 } else { d })
                    .collect()
            };
            let (sa, sb) = (derive(da, ma), derive(db, mb));
            let (na, nb) = (sa.iter().product::<usize>(), sb.iter().product::<usize>());
            (
                prop::collection::vec(-lim..=lim, na),
                prop::collection::vec(-lim..=lim, nb),
            )
                .prop_map(move |(va, vb)| (make(&sa, &va, fa), make(&sb, &vb, fb)))
        })
}

/// Asserts equal shapes and element-wise `|x - y| <= atol + rtol * |y|` (NaN matches NaN).
pub fn assert_close(got: &Tensor, want: &Tensor, atol: f32, rtol: f32) {
    assert_eq!(got.shape(), want.shape(), "shape");
    for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "element {i}: got {g}, want NaN");
        } else if w.is_infinite() {
            assert_eq!(g, w, "element {i}");
        } else {
            assert!(
                (g - w).abs() <= atol + rtol * w.abs(),
                "element {i}: got {g}, want {w}"
            );
        }
    }
}
