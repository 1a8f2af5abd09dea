//! Masking ops: `where_select` and inverted dropout.

use crate::error::Result;
use crate::ops::util::reduce_to;
use crate::var::Var;
use ndarray::{IxDyn, Zip};
use neurite_rand::Generator;
use neurite_tensor::broadcast::broadcast_shape;
use neurite_tensor::{Tensor, TensorError};

/// Picks `a` where `cond != 0` and `b` elsewhere; `cond` (a constant mask),
/// `a` and `b` broadcast together. The gradient flows to `a` where the
/// condition holds and to `b` elsewhere, summed back to each operand's shape.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let cond = ndarray::arr1(&[1.0f32, 0.0, 1.0]).into_dyn();
/// let a = Var::parameter(ndarray::arr1(&[1.0f32, 2.0, 3.0]).into_dyn());
/// let b = Var::parameter(ndarray::arr0(-1.0f32).into_dyn());
/// let y = ops::where_select(&cond, &a, &b)?;
/// assert_eq!(y.to_tensor(), ndarray::arr1(&[1.0f32, -1.0, 3.0]).into_dyn());
/// ops::sum_all(&y)?.backward()?;
/// assert_eq!(a.grad().unwrap(), ndarray::arr1(&[1.0f32, 0.0, 1.0]).into_dyn());
/// assert_eq!(b.grad().unwrap()[[]], 1.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn where_select(cond: &Tensor, a: &Var, b: &Var) -> Result<Var> {
    const OP: &str = "where_select";
    let value = neurite_tensor::compare::where_select(cond, &a.value(), &b.value())?;
    let (sa, sb) = (a.shape(), b.shape());
    let mask = cond.clone();
    let (needs_a, needs_b) = (a.requires_grad(), b.requires_grad());
    Ok(Var::from_op(
        value,
        OP,
        &[a, b],
        Box::new(move |g| {
            let shape = broadcast_shape(OP, mask.shape(), g.shape())?;
            if shape != g.shape() {
                return Err(TensorError::shape(
                    OP,
                    mask.shape(),
                    g.shape(),
                    "mask does not broadcast to the output",
                )
                .into());
            }
            let m = mask
                .broadcast(IxDyn(&shape))
                .ok_or_else(|| TensorError::shape(OP, mask.shape(), &shape, "mask does not broadcast"))?;
            let ga = if needs_a {
                let full = Zip::from(g)
                    .and(&m)
                    .map_collect(|&g, &c| if c != 0.0 { g } else { 0.0 });
                Some(reduce_to(full, &sa)?)
            } else {
                None
            };
            let gb = if needs_b {
                let full = Zip::from(g)
                    .and(&m)
                    .map_collect(|&g, &c| if c != 0.0 { 0.0 } else { g });
                Some(reduce_to(full, &sb)?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        }),
    ))
}

/// Inverted dropout: each element is zeroed with probability `rate` and the
/// kept ones are scaled by `1 / (1 - rate)`, so the expected value is
/// unchanged and inference needs no rescaling. The mask is drawn from `rng`
/// (one `f32` per element, so a seeded generator gives the same mask) and
/// kept for backward. `rate == 0` returns `x` itself; a rate outside `[0, 1)`
/// is an error. Call it only in training.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// use rand::SeedableRng;
/// let mut rng = neurite_rand::Generator::seed_from_u64(7);
/// let x = Var::parameter(ndarray::Array1::<f32>::ones(1000).into_dyn());
/// let y = ops::dropout(&x, 0.5, &mut rng)?;
/// let kept = y.value().iter().filter(|&&v| v != 0.0).count();
/// assert!(kept > 400 && kept < 600);
/// assert!(y.value().iter().all(|&v| v == 0.0 || v == 2.0));
/// assert!(ops::dropout(&x, 1.0, &mut rng).is_err());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn dropout(x: &Var, rate: f32, rng: &mut Generator) -> Result<Var> {
    if !(0.0..1.0).contains(&rate) {
        return Err(TensorError::invalid("dropout", format!("rate must be in [0, 1), found {rate}")).into());
    }
    if rate == 0.0 {
        return Ok(x.clone());
    }
    let mask = neurite_tensor::random::dropout_mask(&x.shape(), rate, rng);
    let value = &*x.value() * &mask;
    Ok(Var::from_op(
        value,
        "dropout",
        &[x],
        Box::new(move |g| Ok(vec![Some(g * &mask)])),
    ))
}
