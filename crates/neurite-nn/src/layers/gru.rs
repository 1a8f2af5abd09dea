//! `GRU`: gated recurrent unit (Cho et al. 2014), Keras 3 semantics
//! (`reset_after=true`, the cuDNN-compatible variant).
//!
//! With the input part `X = x_t W + b_in` and the recurrent part
//! `R = h_{t-1} U + b_rec`, each split in Keras' gate order `[z, r, h]`:
//!
//! ```text
//! z = σ(X_z + R_z)    r = σ(X_r + R_r)
//! ĥ = act(X_h + r * R_h)
//! h_t = z * h_{t-1} + (1 - z) * ĥ
//! ```
//!
//! The bias has shape `(2, 3 units)`: row 0 is `b_in`, row 1 `b_rec`.
//! One graph node per sequence, hand-written backward through time.

use super::recurrent::{
    add_output_grad, check_operands, column_sums, from_time_major, gemm, output_from_states,
    recurrent_layer_common, RecurrentOptions, RnnBase, RnnKind, SeqInputs, SeqOptions,
};
use super::small_gemm::{small_gemm, PackedPanels};
use crate::error::Result;
use ndarray::{s, Array2, Axis, Ix2};
use neurite_autograd::Var;
use neurite_tensor::Tensor;

/// Gated recurrent unit layer, as Keras 3's `GRU` (`reset_after=true`).
///
/// Input `(batch, timesteps, features)`; output `(batch, units)`, or
/// `(batch, timesteps, units)` with [`GRU::return_sequences`]. Weights:
/// `<name>.kernel` `(features, 3 units)`, `<name>.recurrent_kernel`
/// `(units, 3 units)`, `<name>.bias` `(2, 3 units)` (input bias, recurrent
/// bias), columns in Keras' gate order `[z, r, h]`. Initial state zero;
/// dropout, `return_state`, `stateful` and `reset_after=false` are not supported.
///
/// ```
/// use neurite_nn::{layers::GRU, ForwardContext, Layer};
/// let mut gru = GRU::new(4);
/// gru.build(&[6, 2], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(gru.parameters()[2].var.shape(), vec![2, 12]);
/// let x = neurite_autograd::Var::constant(ndarray::Array3::<f32>::zeros((3, 6, 2)).into_dyn());
/// assert_eq!(gru.forward(&x, &mut ForwardContext::inference())?.shape(), vec![3, 4]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone)]
pub struct GRU {
    base: RnnBase,
}

recurrent_layer_common!(GRU, RnnKind::Gru);

/// The GRU recurrence over a whole sequence as one differentiable op
/// (what the [`GRU`] layer runs): `x (batch, timesteps, features)`,
/// `kernel (features, 3 units)`, `recurrent_kernel (units, 3 units)` in gate order `[z, r, h]`,
/// optional `bias (2, 3 units)`. The graph gets a single node whose backward
/// runs through time by hand. Shape mismatches are [`crate::NnError::Shape`] errors.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{fused_gru, RecurrentOptions};
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 3)));
/// let kernel = Var::parameter(ndarray::Array2::<f32>::from_elem((3, 3 * 2), 0.1).into_dyn());
/// let recurrent = Var::parameter(ndarray::Array2::<f32>::from_elem((2, 3 * 2), 0.1).into_dyn());
/// let bias = Some(&Var::parameter(ndarray::Array2::<f32>::zeros((2, 6)).into_dyn()));
/// let opts = RecurrentOptions { return_sequences: true, ..Default::default() };
/// let y = fused_gru(&x, &kernel, &recurrent, bias, &opts)?;
/// assert_eq!(y.shape(), vec![2, 5, 2]);
/// neurite_autograd::ops::sum_all(&y)?.backward()?;
/// assert_eq!(kernel.grad().unwrap().shape(), &[3, 3 * 2]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn fused_gru(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
) -> Result<Var> {
    check_operands("fused_gru", RnnKind::Gru, x, kernel, recurrent_kernel, bias)?;
    let opts = SeqOptions::from_options("fused_gru", options)?;
    gru_op(x, kernel, recurrent_kernel, bias, opts)
}

/// The fused GRU over a whole sequence: one graph node with parents
/// `[x, kernel, recurrent_kernel, (bias)]`.
fn gru_op(x: &Var, kernel: &Var, recurrent: &Var, bias: Option<&Var>, opts: SeqOptions) -> Result<Var> {
    let SeqInputs {
        w,
        u: u_mat,
        x_tm,
        batch: b,
        steps: t,
    } = SeqInputs::read(x, kernel, recurrent, opts.go_backwards);
    let units = u_mat.nrows();
    let g = 3 * units;
    let act = opts.activation;
    let ract = opts.recurrent_activation;
    let (b_in, b_rec) = match bias {
        Some(bias) => {
            let bv = bias
                .value()
                .view()
                .into_dimensionality::<Ix2>()
                .expect("bias is 2-d")
                .to_owned();
            (bv.row(0).to_owned(), bv.row(1).to_owned())
        }
        None => (ndarray::Array1::zeros(g), ndarray::Array1::zeros(g)),
    };

    let mut xz = Array2::<f32>::zeros((t * b, g));
    gemm(x_tm.view(), false, w.view(), false, 0.0, &mut xz.view_mut())?;
    xz += &b_in;

    let mut hs = Array2::<f32>::zeros(((t + 1) * b, units));
    let mut rh = Array2::<f32>::zeros((t * b, units)); // R_h per step, for backward
    let mut inner = Array2::<f32>::zeros((b, g));
    let u_packed = PackedPanels::pack(u_mat.view()); // packed once for the per-step h_{t-1} U
    for step in 0..t {
        let r0 = step * b;
        inner.assign(&b_rec.broadcast((b, g)).expect("bias row has 3 units"));
        if step > 0 {
            let h_prev = &hs.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
            small_gemm(
                b,
                h_prev,
                units,
                &u_packed,
                inner.as_slice_mut().expect("standard layout"),
                g,
                true,
            );
        }
        let xs = &mut xz.as_slice_mut().expect("standard layout")[r0 * g..(r0 + b) * g];
        let (h_before, h_after) = hs
            .as_slice_mut()
            .expect("standard layout")
            .split_at_mut((r0 + b) * units);
        let h_prev = &h_before[r0 * units..];
        let h_new = &mut h_after[..b * units];
        let rhs = &mut rh.as_slice_mut().expect("standard layout")[r0 * units..(r0 + b) * units];
        let ins = inner.as_slice().expect("standard layout");
        for bi in 0..b {
            let row = &mut xs[bi * g..(bi + 1) * g];
            let (xzr, xh) = row.split_at_mut(2 * units);
            let (xzg, xrg) = xzr.split_at_mut(units);
            let irow = &ins[bi * g..(bi + 1) * g];
            let o_range = bi * units..(bi + 1) * units;
            let hp = &h_prev[o_range.clone()];
            let hn = &mut h_new[o_range.clone()];
            let rr = &mut rhs[o_range];
            for j in 0..units {
                xzg[j] += irow[j];
                xrg[j] += irow[units + j];
            }
            ract.apply_slice(xzg);
            ract.apply_slice(xrg);
            for j in 0..units {
                let ih = irow[2 * units + j];
                rr[j] = ih;
                xh[j] += xrg[j] * ih;
            }
            act.apply_slice(xh);
            for j in 0..units {
                hn[j] = xzg[j] * hp[j] + (1.0 - xzg[j]) * xh[j];
            }
        }
    }
    let value = output_from_states(&hs, b, t, opts.return_sequences);

    let need_dx = x.requires_grad();
    let need_dw = kernel.requires_grad();
    let need_du = recurrent.requires_grad();
    let need_db = bias.is_some_and(|b| b.requires_grad());
    let has_bias = bias.is_some();
    let mut parents = vec![x, kernel, recurrent];
    if let Some(bias) = bias {
        parents.push(bias);
    }
    Ok(Var::from_op(
        value,
        "gru",
        &parents,
        Box::new(move |grad: &Tensor| {
            let mut dzx = xz; // gate values, overwritten with the input-side gate gradients
            let mut dzr = Array2::<f32>::zeros((t * b, g)); // recurrent-side gate gradients
            let mut dh = Array2::<f32>::zeros((b, units));
            let ut_packed = PackedPanels::pack(u_mat.t());
            for step in (0..t).rev() {
                let r0 = step * b;
                add_output_grad(&mut dh, grad, step, t, opts.return_sequences);
                {
                    let xs = &mut dzx.as_slice_mut().expect("standard layout")[r0 * g..(r0 + b) * g];
                    let rs = &mut dzr.as_slice_mut().expect("standard layout")[r0 * g..(r0 + b) * g];
                    let h_prev = &hs.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
                    let rhs = &rh.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
                    let dhs = dh.as_slice_mut().expect("standard layout");
                    for bi in 0..b {
                        let row = &mut xs[bi * g..(bi + 1) * g];
                        let (xzr, xh) = row.split_at_mut(2 * units);
                        let (xzg, xrg) = xzr.split_at_mut(units);
                        let rrow = &mut rs[bi * g..(bi + 1) * g];
                        let o_range = bi * units..(bi + 1) * units;
                        let hp = &h_prev[o_range.clone()];
                        let ihs = &rhs[o_range.clone()];
                        let dhr = &mut dhs[o_range];
                        for j in 0..units {
                            let (zg, r, hh) = (xzg[j], xrg[j], xh[j]);
                            let d = dhr[j];
                            let dz_pre = d * (hp[j] - hh) * ract.derivative_from_output(zg);
                            let dhh_pre = d * (1.0 - zg) * act.derivative_from_output(hh);
                            let dr_pre = dhh_pre * ihs[j] * ract.derivative_from_output(r);
                            xzg[j] = dz_pre;
                            xrg[j] = dr_pre;
                            xh[j] = dhh_pre;
                            rrow[j] = dz_pre;
                            rrow[units + j] = dr_pre;
                            rrow[2 * units + j] = dhh_pre * r;
                            dhr[j] = d * zg; // direct path h_{t-1} -> h_t
                        }
                    }
                }
                if step > 0 {
                    let dzr_t = &dzr.as_slice().expect("standard layout")[r0 * g..(r0 + b) * g];
                    small_gemm(
                        b,
                        dzr_t,
                        g,
                        &ut_packed,
                        dh.as_slice_mut().expect("standard layout"),
                        units,
                        true,
                    );
                }
            }
            let dx = if need_dx {
                let mut dx_tm = Array2::<f32>::zeros((t * b, w.nrows()));
                gemm(dzx.view(), false, w.view(), true, 0.0, &mut dx_tm.view_mut())?;
                Some(from_time_major(&dx_tm, b, t, opts.go_backwards))
            } else {
                None
            };
            let dw = if need_dw {
                let mut dw = Array2::<f32>::zeros(w.dim());
                gemm(x_tm.view(), true, dzx.view(), false, 0.0, &mut dw.view_mut())?;
                Some(dw.into_dyn())
            } else {
                None
            };
            let du = if need_du {
                let mut du = Array2::<f32>::zeros(u_mat.dim());
                gemm(
                    hs.slice(s![..t * b, ..]),
                    true,
                    dzr.view(),
                    false,
                    0.0,
                    &mut du.view_mut(),
                )?;
                Some(du.into_dyn())
            } else {
                None
            };
            let mut grads = vec![dx, dw, du];
            if has_bias {
                grads.push(need_db.then(|| {
                    ndarray::stack(Axis(0), &[column_sums(&dzx).view(), column_sums(&dzr).view()])
                        .expect("two rows of 3 units")
                        .into_dyn()
                }));
            }
            Ok(grads)
        }),
    ))
}
