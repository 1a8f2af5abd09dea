//! Comparisons and `where_select` against naive broadcasting references (exact).

mod ops_common;

use neurite_tensor::compare;
use neurite_tensor::Tensor;
use ops_common::*;
use proptest::prelude::*;

type Op = fn(&Tensor, &Tensor) -> neurite_tensor::Result<Tensor>;
type Pred = fn(f32, f32) -> bool;

fn b2f(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Values on a coarse grid so that ties (== / <=) actually happen.
fn grid_pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    broadcast_pair(3.0).prop_map(|(a, b)| (a.mapv(f32::round), b.mapv(f32::round)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn comparisons_match_naive((a, b) in grid_pair()) {
        let ops: [(Op, Pred); 6] = [
            (compare::greater, |x, y| x > y),
            (compare::greater_equal, |x, y| x >= y),
            (compare::less, |x, y| x < y),
            (compare::less_equal, |x, y| x <= y),
            (compare::equal, |x, y| x == y),
            (compare::not_equal, |x, y| x != y),
        ];
        for (op, f) in ops {
            let want = naive_binary(&a, &b, |x, y| b2f(f(x, y))).unwrap();
            assert_close(&op(&a, &b).unwrap(), &want, 0.0, 0.0);
        }
    }

    #[test]
    fn where_select_matches_naive((c, a) in grid_pair(), b in tensor_strategy(3, 5.0)) {
        let ca = naive_broadcast_shape(c.shape(), a.shape()).unwrap();
        let r = compare::where_select(&c, &a, &b);
        match naive_broadcast_shape(&ca, b.shape()) {
            None => prop_assert!(r.is_err()),
            Some(shape) => {
                let got = r.unwrap();
                let n: usize = shape.iter().product();
                let mut v = Vec::with_capacity(n);
                for flat in 0..n {
                    let idx = unravel(flat, &shape);
                    let cv = c[operand_index(&idx, c.shape()).as_slice()];
                    v.push(if cv != 0.0 {
                        a[operand_index(&idx, a.shape()).as_slice()]
                    } else {
                        b[operand_index(&idx, b.shape()).as_slice()]
                    });
                }
                assert_close(&got, &Tensor::from_shape_vec(shape, v).unwrap(), 0.0, 0.0);
            }
        }
    }
}

#[test]
fn nan_comparisons_follow_ieee() {
    let n = Tensor::from_elem(vec![1], f32::NAN);
    let one = Tensor::from_elem(vec![1], 1.0);
    assert_eq!(compare::greater(&n, &one).unwrap()[[0]], 0.0);
    assert_eq!(compare::less_equal(&n, &one).unwrap()[[0]], 0.0);
    assert_eq!(compare::equal(&n, &n).unwrap()[[0]], 0.0);
    assert_eq!(compare::not_equal(&n, &n).unwrap()[[0]], 1.0);
}

#[test]
fn where_select_shape_errors_name_the_op() {
    let e = compare::where_select(
        &Tensor::zeros(vec![2]),
        &Tensor::zeros(vec![3]),
        &Tensor::zeros(vec![1]),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("where_select"), "{e}");
    let e = compare::where_select(
        &Tensor::zeros(vec![2]),
        &Tensor::zeros(vec![1]),
        &Tensor::zeros(vec![3]),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("where_select"), "{e}");
}
