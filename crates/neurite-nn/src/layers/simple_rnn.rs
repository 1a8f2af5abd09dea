//! `SimpleRNN`: the fully-connected recurrence `h_t = act(x_t W + h_{t-1} U + b)`, Keras semantics.
//! One graph node per sequence, hand-written backward through time.

use super::recurrent::{
    add_output_grad, check_operands, column_sums, from_time_major, gemm, output_from_states,
    recurrent_layer_common, RecurrentOptions, RnnBase, RnnKind, SeqInputs, SeqOptions,
};
use super::small_gemm::{small_gemm, PackedPanels};
use crate::error::Result;
use ndarray::{s, Array2};
use neurite_autograd::Var;
use neurite_tensor::Tensor;

/// Fully-connected recurrent layer, as Keras' `SimpleRNN`:
/// `h_t = act(x_t W + h_{t-1} U + b)` (tanh by default).
///
/// Input `(batch, timesteps, features)`; output `(batch, units)`, or
/// `(batch, timesteps, units)` with [`SimpleRNN::return_sequences`].
/// Weights `<name>.kernel` `(features, units)` (glorot uniform),
/// `<name>.recurrent_kernel` `(units, units)` (orthogonal), `<name>.bias` `(units)` (zeros).
///
/// ```
/// use neurite_nn::{layers::SimpleRNN, ForwardContext, Layer};
/// let mut rnn = SimpleRNN::new(3);
/// rnn.build(&[4, 2], &mut neurite_tensor::random::rng_from_seed(1))?;
/// let x = neurite_autograd::Var::constant(ndarray::Array3::<f32>::ones((5, 4, 2)).into_dyn());
/// let y = rnn.forward(&x, &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![5, 3]);
/// assert!(y.value().iter().all(|v| v.abs() < 1.0));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone)]
pub struct SimpleRNN {
    base: RnnBase,
}

recurrent_layer_common!(SimpleRNN, RnnKind::Simple);

/// The SimpleRNN recurrence over a whole sequence as one differentiable op
/// (what the [`SimpleRNN`] layer runs): `x (batch, timesteps, features)`,
/// `kernel (features, 1 units)`, `recurrent_kernel (units, 1 units)`,
/// optional `bias (units)`. The graph gets a single node whose backward
/// runs through time by hand. Shape mismatches are [`crate::NnError::Shape`] errors.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{fused_simple_rnn, RecurrentOptions};
/// let x = Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 3)));
/// let kernel = Var::parameter(ndarray::Array2::<f32>::from_elem((3, 1 * 2), 0.1).into_dyn());
/// let recurrent = Var::parameter(ndarray::Array2::<f32>::from_elem((2, 1 * 2), 0.1).into_dyn());
/// let bias = None;
/// let opts = RecurrentOptions { return_sequences: true, ..Default::default() };
/// let y = fused_simple_rnn(&x, &kernel, &recurrent, bias, &opts)?;
/// assert_eq!(y.shape(), vec![2, 5, 2]);
/// neurite_autograd::ops::sum_all(&y)?.backward()?;
/// assert_eq!(kernel.grad().unwrap().shape(), &[3, 1 * 2]);
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn fused_simple_rnn(
    x: &Var,
    kernel: &Var,
    recurrent_kernel: &Var,
    bias: Option<&Var>,
    options: &RecurrentOptions,
) -> Result<Var> {
    check_operands(
        "fused_simple_rnn",
        RnnKind::Simple,
        x,
        kernel,
        recurrent_kernel,
        bias,
    )?;
    let opts = SeqOptions::from_options("fused_simple_rnn", options)?;
    simple_rnn_op(x, kernel, recurrent_kernel, bias, opts)
}

/// The fused SimpleRNN over a whole sequence: one graph node with parents
/// `[x, kernel, recurrent_kernel, (bias)]`.
fn simple_rnn_op(
    x: &Var,
    kernel: &Var,
    recurrent: &Var,
    bias: Option<&Var>,
    opts: SeqOptions,
) -> Result<Var> {
    let SeqInputs {
        w,
        u: u_mat,
        x_tm,
        batch: b,
        steps: t,
    } = SeqInputs::read(x, kernel, recurrent, opts.go_backwards);
    let units = u_mat.nrows();
    let act = opts.activation;

    let mut z = Array2::<f32>::zeros((t * b, units));
    gemm(x_tm.view(), false, w.view(), false, 0.0, &mut z.view_mut())?;
    if let Some(bias) = bias {
        let bv = bias.value();
        z += &bv
            .view()
            .into_dimensionality::<ndarray::Ix1>()
            .expect("bias is 1-d");
    }
    let mut hs = Array2::<f32>::zeros(((t + 1) * b, units));
    let u_packed = PackedPanels::pack(u_mat.view()); // packed once for the per-step h_{t-1} U
    for step in 0..t {
        let r0 = step * b;
        if step > 0 {
            let h_prev = &hs.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
            let zt = &mut z.as_slice_mut().expect("standard layout")[r0 * units..(r0 + b) * units];
            small_gemm(b, h_prev, units, &u_packed, zt, units, true);
        }
        let zs = &z.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
        let hn = &mut hs.as_slice_mut().expect("standard layout")[(r0 + b) * units..(r0 + 2 * b) * units];
        hn.copy_from_slice(zs);
        act.apply_slice(hn);
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
        "simple_rnn",
        &parents,
        Box::new(move |grad: &Tensor| {
            let mut dz = z; // pre-activations no longer needed: reused for dZ
            let mut dh = Array2::<f32>::zeros((b, units));
            let ut_packed = PackedPanels::pack(u_mat.t());
            for step in (0..t).rev() {
                let r0 = step * b;
                add_output_grad(&mut dh, grad, step, t, opts.return_sequences);
                {
                    let h = &hs.as_slice().expect("standard layout")[(r0 + b) * units..(r0 + 2 * b) * units];
                    let dzs = &mut dz.as_slice_mut().expect("standard layout")[r0 * units..(r0 + b) * units];
                    let dhs = dh.as_slice().expect("standard layout");
                    for ((d, &hv), &dv) in dzs.iter_mut().zip(h).zip(dhs) {
                        *d = dv * act.derivative_from_output(hv);
                    }
                }
                if step > 0 {
                    let dz_t = &dz.as_slice().expect("standard layout")[r0 * units..(r0 + b) * units];
                    small_gemm(
                        b,
                        dz_t,
                        units,
                        &ut_packed,
                        dh.as_slice_mut().expect("standard layout"),
                        units,
                        false,
                    );
                }
            }
            let dx = if need_dx {
                let mut dx_tm = Array2::<f32>::zeros((t * b, w.nrows()));
                gemm(dz.view(), false, w.view(), true, 0.0, &mut dx_tm.view_mut())?;
                Some(from_time_major(&dx_tm, b, t, opts.go_backwards))
            } else {
                None
            };
            let dw = if need_dw {
                let mut dw = Array2::<f32>::zeros(w.dim());
                gemm(x_tm.view(), true, dz.view(), false, 0.0, &mut dw.view_mut())?;
                Some(dw.into_dyn())
            } else {
                None
            };
            let du = if need_du {
                let mut du = Array2::<f32>::zeros(u_mat.dim());
                gemm(
                    hs.slice(s![..t * b, ..]),
                    true,
                    dz.view(),
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
                grads.push(need_db.then(|| column_sums(&dz).into_dyn()));
            }
            Ok(grads)
        }),
    ))
}
