//! `GRU(reset_after=false)`, the Keras 2 / original variant: the reset gate
//! scales the previous state *before* the recurrent product of the
//! candidate, and the bias `(3 units,)` is on the input side only:
//!
//! ```text
//! z = σ(x W_z + b_z + h U_z)    r = σ(x W_r + b_r + h U_r)
//! ĥ = act(x W_h + b_h + (r * h) U_h)
//! h_t = z * h_{t-1} + (1 - z) * ĥ
//! ```
//!
//! `(r * h) U_h` cannot share one product with the gates' `h U_zr`, so this
//! variant does not fit the fused cells' kernel (one `h·U` per step); it is
//! written with autograd ops, one input GEMM for all steps and two small
//! GEMMs per step. The common `reset_after=true` keeps the fused kernel.
//! Steps are taken one by one in processing order (`go_backwards` reads the
//! last step first); a masked step keeps the previous state
//! (`h_t = h_{t-1} + m_t (h_t' - h_{t-1})`), as the fused kernels.

use super::config::RecurrentOptions;
use super::step_mask::SeqMask;
use crate::error::{NnError, Result};
use neurite_autograd::{ops, Var};

/// The GRU with `reset_after=false` over `x` `(batch, timesteps, features)`:
/// `kernel (features, 3u)`, `recurrent (u, 3u)`, optional `bias (3u,)`, gate
/// order `[z, r, h]`; `(batch, u)` or, with `return_sequences`,
/// `(batch, timesteps, u)` in processing order (as the fused ops).
pub(crate) fn gru_reset_before(
    op: &str,
    x: &Var,
    kernel: &Var,
    recurrent: &Var,
    bias: Option<&Var>,
    o: &RecurrentOptions,
    mask: Option<SeqMask>,
) -> Result<Var> {
    let (xs, ks, rs) = (x.shape(), kernel.shape(), recurrent.shape());
    let u = rs.first().copied().unwrap_or(0);
    let g = 3 * u;
    let shape_err = |expected: String, found: Vec<usize>| NnError::Shape {
        layer: op.to_string(),
        expected,
        found,
    };
    if rs.len() != 2 || u == 0 || rs[1] != g {
        return Err(shape_err("recurrent_kernel (units, 3 * units)".into(), rs));
    }
    if ks.len() != 2 || ks[1] != g || ks[0] == 0 {
        return Err(shape_err(format!("kernel (features, {g})"), ks));
    }
    if let Some(b) = bias {
        if b.shape() != [g] {
            return Err(shape_err(format!("bias [{g}] (reset_after=false)"), b.shape()));
        }
    }
    if xs.len() != 3 || xs[2] != ks[0] || xs[1] == 0 {
        return Err(shape_err(
            format!("(batch, timesteps, {}) with timesteps >= 1", ks[0]),
            xs,
        ));
    }
    let (n, t, f) = (xs[0], xs[1], xs[2]);
    // Input side of every step at once: (n*t, f) x (f, 3u) + b.
    let mut xw = ops::matmul(&ops::reshape(x, &[n * t, f])?, kernel)?;
    if let Some(b) = bias {
        xw = ops::add(&xw, b)?;
    }
    let xw = ops::reshape(&xw, &[n, t, g])?;
    let u_zr = ops::slice_axis(recurrent, 1, 0, 2 * u)?;
    let u_h = ops::slice_axis(recurrent, 1, 2 * u, g)?;
    let mut h = Var::constant(ndarray::Array2::<f32>::zeros((n, u)).into_dyn());
    let mut states = Vec::with_capacity(if o.return_sequences { t } else { 1 });
    for i in 0..t {
        let step = if o.go_backwards { t - 1 - i } else { i };
        let xt = ops::squeeze(&ops::slice_axis(&xw, 1, step, step + 1)?, 1)?;
        let zr_in = ops::add(&ops::slice_axis(&xt, 1, 0, 2 * u)?, &ops::matmul(&h, &u_zr)?)?;
        let zr = o.recurrent_activation.apply(&zr_in)?;
        let z = ops::slice_axis(&zr, 1, 0, u)?;
        let r = ops::slice_axis(&zr, 1, u, 2 * u)?;
        let h_in = ops::add(
            &ops::slice_axis(&xt, 1, 2 * u, g)?,
            &ops::matmul(&ops::mul(&r, &h)?, &u_h)?,
        )?;
        let candidate = o.activation.apply(&h_in)?;
        // h = z * h + (1 - z) * ĥ = ĥ + z * (h - ĥ)
        let h_new = ops::add(&candidate, &ops::mul(&z, &ops::sub(&h, &candidate)?)?)?;
        let step_mask = mask.filter(|m| m.mask.slice(ndarray::s![.., step]).iter().any(|&v| v == 0.0));
        match step_mask {
            None => {
                h = h_new;
                if o.return_sequences {
                    states.push(h.clone());
                }
            }
            Some(m) => {
                let valid = m
                    .mask
                    .slice(ndarray::s![.., step])
                    .mapv(|v| if v != 0.0 { 1.0 } else { 0.0 });
                let mt = Var::constant(valid.into_shape_with_order((n, 1)).expect("n values").into_dyn());
                // A masked step keeps the previous state (and outputs it, or zero).
                h = ops::add(&h, &ops::mul(&mt, &ops::sub(&h_new, &h)?)?)?;
                if o.return_sequences {
                    states.push(if m.zero_output {
                        ops::mul(&h, &mt)?
                    } else {
                        h.clone()
                    });
                }
            }
        }
    }
    if o.return_sequences {
        let refs: Vec<&Var> = states.iter().collect();
        Ok(ops::stack(&refs, 1)?)
    } else {
        Ok(h)
    }
}
