//! L2 normalization along one axis as a single op (Keras'
//! `ops.normalize(x, axis, order=2)`, used by `Dot(normalize=True)`).

use crate::error::Result;
use crate::ops::util::check_axis;
use crate::var::Var;
use ndarray::{Axis, Zip};
use neurite_tensor::Tensor;

/// `x * min(1 / sqrt(sum(x^2, axis)), 1 / epsilon)`: `x` scaled to unit L2
/// norm along `axis`, as Keras' `ops.normalize` (which uses `epsilon =
/// 1e-7`, `keras.config.epsilon()`); a lane whose norm is below `epsilon`
/// is multiplied by `1 / epsilon` instead, so all-zero lanes stay zero.
///
/// Backward, with `s` the scale and `y = s x`: `dx = s (g - y <g, y>)` on
/// lanes with norm `>= epsilon` (on the tie the first operand of Keras'
/// minimum, the norm, gets the gradient, as TensorFlow's `minimum`), and
/// `dx = g / epsilon` on the others. Errors if `axis` is out of range or
/// `epsilon` is not a finite number `> 0`.
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr2(&[[3.0f32, 4.0], [0.0, 0.0]]).into_dyn());
/// let y = ops::l2_normalize(&x, 1, 1e-7)?;
/// assert_eq!(y.to_tensor(), ndarray::arr2(&[[0.6f32, 0.8], [0.0, 0.0]]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub fn l2_normalize(x: &Var, axis: usize, epsilon: f32) -> Result<Var> {
    const OP: &str = "l2_normalize";
    check_axis(OP, x.ndim(), axis)?;
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(neurite_tensor::TensorError::invalid(
            OP,
            format!("epsilon must be a finite number > 0, found {epsilon}"),
        )
        .into());
    }
    let cap = 1.0 / epsilon;
    let (value, rsqrt) = {
        let xv = x.value();
        let sq = xv.map_axis(Axis(axis), |lane| lane.iter().map(|&v| v * v).sum::<f32>());
        // rsqrt(S), capped at 1/eps below; rsqrt(0) = inf, so all-zero lanes take the cap.
        let rsqrt = sq.mapv(|s| 1.0 / s.sqrt()).insert_axis(Axis(axis));
        let value: Tensor = Zip::from(&*xv)
            .and_broadcast(&rsqrt)
            .map_collect(|&v, &r| v * r.min(cap));
        (value, rsqrt)
    };
    Ok(Var::from_op_with_output(
        value,
        OP,
        &[x],
        Box::new(move |g, y| {
            // <g, y> per lane, then dx = s (g - y <g, y>) where the norm wins the minimum.
            let gy = (g * y).sum_axis(Axis(axis)).insert_axis(Axis(axis));
            let mut dx = g.to_owned();
            Zip::from(&mut dx)
                .and(y)
                .and_broadcast(&gy)
                .and_broadcast(&rsqrt)
                .for_each(|d, &yv, &dot, &r| {
                    *d = if r <= cap { r * (*d - yv * dot) } else { cap * *d };
                });
            Ok(vec![Some(dx)])
        }),
    ))
}
