//! Splitting a recurrent layer's batch into chunks that run on separate threads.
//!
//! The sequences of a batch are independent: the recurrence of rows
//! `0..16` never reads rows `16..32`. A fused recurrent op therefore cuts its
//! batch into one chunk per rayon thread ([`plan_chunks`]) and runs each
//! chunk's whole pass — input projection, the `T` sequential steps, and in
//! the backward the steps back through time and the chunk's share of `dW`,
//! `dU`, `db` — as one task ([`map_chunks`]). That turns `T` tiny,
//! latency-bound products per layer into two independent streams with a
//! single join, where splitting each step's product would join `T` times.
//! Inside a task every GEMM runs single-threaded
//! ([`neurite_tensor::gemm::gemm_single_thread`]); with one chunk (one
//! thread, or a batch under `2 * MIN_CHUNK_ROWS`) the op runs as before, with
//! the backend's threaded GEMM. Weight-gradient partials are summed in chunk
//! order ([`ChunkGrads::combine`]), so results depend on the thread count
//! only through f32 summation order.

use super::config::SeqOptions;
use super::layout::{column_sums, from_time_major, output_from_states};
use super::step_mask::{zero_masked_outputs, SeqMask, StepMask};
use ndarray::{s, Array2, ArrayView2, ArrayView3, ArrayViewMut2, Axis, Ix3};
use neurite_autograd::Var;
use neurite_tensor::small_gemm::PackedPanels;
use neurite_tensor::Tensor;
use rayon::prelude::*;
use std::ops::Range;

/// Fewest sequences a chunk gets (below this, a per-step product is too small to be worth a thread).
pub(crate) const MIN_CHUNK_ROWS: usize = 8;

/// The batch rows of each chunk: one chunk per rayon thread, each at least
/// [`MIN_CHUNK_ROWS`] rows, sizes as equal as possible; a single chunk `0..batch`
/// when the batch is too small or rayon has one thread.
pub(crate) fn plan_chunks(batch: usize) -> Vec<Range<usize>> {
    let n = rayon::current_num_threads().min(batch / MIN_CHUNK_ROWS).max(1);
    (0..n).map(|i| batch * i / n..batch * (i + 1) / n).collect()
}

/// `f` applied to every item, in order; on rayon's pool when there is more than one.
pub(crate) fn map_chunks<T, R, F>(items: Vec<T>, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync + Send,
{
    if items.len() <= 1 {
        items.into_iter().map(f).collect()
    } else {
        items.into_par_iter().map(f).collect()
    }
}

/// The rows `rows` of the input `(B, T, F)` as a time-major `[T*rows, F]`
/// matrix (row `t*rows + b`), with time reversed when `go_backwards`.
pub(crate) fn chunk_time_major(x: ArrayView3<f32>, rows: Range<usize>, go_backwards: bool) -> Array2<f32> {
    let x = x.slice(s![rows, .., ..]);
    let (b, t, f) = x.dim();
    let mut out = Array2::<f32>::zeros((t * b, f));
    for step in 0..t {
        let src = if go_backwards { t - 1 - step } else { step };
        out.slice_mut(s![step * b..(step + 1) * b, ..])
            .assign(&x.index_axis(Axis(1), src));
    }
    out
}

/// A chunk's input projection: its time-major input `X` (see
/// [`chunk_time_major`]) and `Z = X W + b` (`[T*rows, G]`) for every step at once.
pub(crate) fn input_projection(
    x: ArrayView3<f32>,
    rows: Range<usize>,
    w: &Array2<f32>,
    bias: Option<&ndarray::Array1<f32>>,
    go_backwards: bool,
    single_thread: bool,
) -> neurite_autograd::Result<(Array2<f32>, Array2<f32>)> {
    let x_tm = chunk_time_major(x, rows, go_backwards);
    let mut z = Array2::<f32>::zeros((x_tm.nrows(), w.ncols()));
    chunk_gemm(
        single_thread,
        x_tm.view(),
        false,
        w.view(),
        false,
        &mut z.view_mut(),
    )?;
    if let Some(b) = bias {
        z += b;
    }
    Ok((x_tm, z))
}

/// The rows `rows` (along the batch axis) of an output gradient, owned.
pub(crate) fn chunk_rows(grad: &Tensor, rows: Range<usize>) -> Tensor {
    grad.slice_axis(Axis(0), rows.into()).to_owned()
}

/// Per-chunk tensors joined back along the batch axis (in chunk order).
pub(crate) fn concat_batch(parts: Vec<Tensor>) -> Tensor {
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one part");
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(0), &views).expect("chunks agree on every axis but the batch")
}

/// `C = op(A) op(B)` on the calling thread only (inside a chunk task) or with
/// the backend's threads (`single_thread == false`), mapping the kernel's error.
pub(crate) fn chunk_gemm(
    single_thread: bool,
    a: ArrayView2<f32>,
    ta: bool,
    b: ArrayView2<f32>,
    tb: bool,
    c: &mut ArrayViewMut2<f32>,
) -> neurite_autograd::Result<()> {
    if single_thread {
        neurite_tensor::gemm::gemm_single_thread(1.0, a, ta, b, tb, 0.0, c)?;
    } else {
        neurite_tensor::gemm::gemm(1.0, a, ta, b, tb, 0.0, c)?;
    }
    Ok(())
}

/// The weights of an LSTM or SimpleRNN op, owned by it: `W`, `U` (also
/// packed for the per-step products) and the 1-d bias.
pub(crate) struct SeqWeights {
    pub w: Array2<f32>,
    pub u: Array2<f32>,
    pub u_packed: PackedPanels,
    pub bias: Option<ndarray::Array1<f32>>,
}

impl SeqWeights {
    /// Copies the (already validated) operands.
    pub(crate) fn read(kernel: &Var, recurrent: &Var, bias: Option<&Var>) -> Self {
        let as2 = |v: &Var| {
            v.value()
                .view()
                .into_dimensionality::<ndarray::Ix2>()
                .expect("checked 2-d")
                .to_owned()
        };
        let u = as2(recurrent);
        SeqWeights {
            w: as2(kernel),
            u_packed: PackedPanels::pack(u.view()),
            u,
            bias: bias.map(|b| {
                b.value()
                    .view()
                    .into_dimensionality::<ndarray::Ix1>()
                    .expect("checked 1-d")
                    .to_owned()
            }),
        }
    }
}

/// Which gradients a fused recurrent op's backward computes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Needs {
    pub dx: bool,
    pub dw: bool,
    pub du: bool,
    pub db: bool,
}

/// What one chunk's backward produced: its rows of `dX` (`(rows, T, F)`)
/// and its partial sums of the weight gradients (`None` where not needed;
/// the bias gradient has the bias' shape, `(G)` or GRU's `(2, G)`).
pub(crate) struct ChunkGrads {
    pub dx: Option<Tensor>,
    pub dw: Option<Array2<f32>>,
    pub du: Option<Array2<f32>>,
    pub db: Option<Tensor>,
}

impl ChunkGrads {
    /// The op's gradients `[dx, dW, dU, (db)]` from the chunks' (in chunk
    /// order): `dx` joined along the batch, the others summed in order.
    pub(crate) fn combine(parts: Vec<ChunkGrads>, has_bias: bool) -> Vec<Option<Tensor>> {
        let mut dx = Vec::new();
        let (mut dw, mut du, mut db) = (None, None, None);
        for part in parts {
            dx.extend(part.dx);
            add_into(&mut dw, part.dw);
            add_into(&mut du, part.du);
            add_into(&mut db, part.db);
        }
        let dx = (!dx.is_empty()).then(|| concat_batch(dx));
        let mut grads = vec![dx, dw.map(|a| a.into_dyn()), du.map(|a| a.into_dyn())];
        if has_bias {
            grads.push(db);
        }
        grads
    }
}

/// `acc += part` (or `acc = part` at the first one).
fn add_into<D: ndarray::Dimension>(
    acc: &mut Option<ndarray::Array<f32, D>>,
    part: Option<ndarray::Array<f32, D>>,
) {
    match (acc.as_mut(), part) {
        (Some(a), Some(p)) => *a += &p,
        (None, Some(p)) => *acc = Some(p),
        _ => {}
    }
}

/// A recurrent cell whose fused op runs in batch chunks ([`chunked_op`]):
/// its weights, and one chunk's forward and backward through time.
pub(crate) trait ChunkedCell: Send + Sync + 'static {
    /// What a chunk's forward keeps for its backward.
    type Chunk: Send + Sync + 'static;

    /// The recurrent kernel `U` (`[units, gates * units]`).
    fn recurrent(&self) -> &Array2<f32>;

    /// The forward recurrence of the batch rows `rows` of `x` (`(B, T, F)`).
    fn forward(
        &self,
        x: ArrayView3<f32>,
        rows: Range<usize>,
        opts: SeqOptions,
        single_thread: bool,
        mask: Option<&StepMask>,
    ) -> neurite_autograd::Result<Self::Chunk>;

    /// A chunk's batch rows and hidden states `[(T+1) * rows, units]` (block 0 the initial state).
    fn states(chunk: &Self::Chunk) -> (&Range<usize>, &Array2<f32>);

    /// One chunk's backward through time from `grad` (its rows of the output
    /// gradient), with `ut_packed` = `Uᵀ` packed: its rows of `dX` and its
    /// partial weight gradients.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        chunk: Self::Chunk,
        grad: &Tensor,
        ut_packed: &PackedPanels,
        needs: Needs,
        opts: SeqOptions,
        single_thread: bool,
        mask: Option<&StepMask>,
    ) -> neurite_autograd::Result<ChunkGrads>;
}

/// Declares `$cell($weights)` as a [`ChunkedCell`] whose chunks are `$chunk`
/// (a struct with `rows: Range<usize>` and `hs: Array2<f32>` fields), run by
/// the functions `$forward(x, rows, &weights, opts, single_thread, mask)` and
/// `$backward(chunk, grad, &weights, ut_packed, needs, opts, single_thread, mask)`.
macro_rules! chunked_cell {
    ($(#[$doc:meta])* $cell:ident($weights:ty), $chunk:ty, $forward:ident, $backward:ident) => {
        $(#[$doc])*
        struct $cell($weights);

        impl $crate::layers::recurrent::driver::ChunkedCell for $cell {
            type Chunk = $chunk;

            fn recurrent(&self) -> &ndarray::Array2<f32> {
                &self.0.u
            }

            fn forward(
                &self,
                x: ndarray::ArrayView3<f32>,
                rows: std::ops::Range<usize>,
                opts: $crate::layers::recurrent::config::SeqOptions,
                single_thread: bool,
                mask: Option<&$crate::layers::recurrent::step_mask::StepMask>,
            ) -> neurite_autograd::Result<$chunk> {
                $forward(x, rows, &self.0, opts, single_thread, mask)
            }

            fn states(chunk: &$chunk) -> (&std::ops::Range<usize>, &ndarray::Array2<f32>) {
                (&chunk.rows, &chunk.hs)
            }

            fn backward(
                &self,
                chunk: $chunk,
                grad: &neurite_tensor::Tensor,
                ut_packed: &neurite_tensor::small_gemm::PackedPanels,
                needs: $crate::layers::recurrent::driver::Needs,
                opts: $crate::layers::recurrent::config::SeqOptions,
                single_thread: bool,
                mask: Option<&$crate::layers::recurrent::step_mask::StepMask>,
            ) -> neurite_autograd::Result<$crate::layers::recurrent::driver::ChunkGrads> {
                $backward(chunk, grad, &self.0, ut_packed, needs, opts, single_thread, mask)
            }
        }
    };
}
pub(crate) use chunked_cell;

/// A fused recurrent op over a whole sequence, as one graph node `name` with
/// parents `[x, kernel, recurrent_kernel, (bias)]`: the batch is cut into
/// chunks ([`plan_chunks`]) whose forward and, later, backward run as
/// parallel tasks; the output joins the chunks' states along the batch.
/// With a `mask`, masked steps keep the previous states ([`super::step_mask`]).
pub(crate) fn chunked_op<C: ChunkedCell>(
    name: &'static str,
    cell: C,
    [x, kernel, recurrent]: [&Var; 3],
    bias: Option<&Var>,
    opts: SeqOptions,
    mask: Option<SeqMask>,
) -> crate::error::Result<Var> {
    let xv = x.value();
    let (batch, steps) = (xv.shape()[0], xv.shape()[1]);
    let rows = plan_chunks(batch);
    let single_thread = rows.len() > 1;
    let work: Vec<(Range<usize>, Option<StepMask>)> = rows
        .into_iter()
        .map(|r| {
            let m = mask.map(|m| StepMask::for_chunk(&m, r.clone(), opts.go_backwards));
            (r, m)
        })
        .collect();
    let chunks = {
        let (x3, cell) = (input_view(&xv), &cell);
        map_chunks(work, |(r, m)| {
            cell.forward(x3, r, opts, single_thread, m.as_ref())
                .map(|c| (c, m))
        })
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>()?
    };
    drop(xv);
    let value = concat_batch(
        chunks
            .iter()
            .map(|(c, m)| {
                let (r, hs) = C::states(c);
                let mut out = output_from_states(hs, r.len(), steps, opts.return_sequences);
                zero_masked_outputs(&mut out, m.as_ref(), opts.return_sequences);
                out
            })
            .collect(),
    );
    let needs = Needs {
        dx: x.requires_grad(),
        dw: kernel.requires_grad(),
        du: recurrent.requires_grad(),
        db: bias.is_some_and(|b| b.requires_grad()),
    };
    let has_bias = bias.is_some();
    let mut parents = vec![x, kernel, recurrent];
    parents.extend(bias);
    Ok(Var::from_op(
        value,
        name,
        &parents,
        Box::new(move |grad: &Tensor| {
            let ut_packed = PackedPanels::pack(cell.recurrent().t());
            let parts = map_chunks(chunks, |(chunk, m)| {
                let g = chunk_rows(grad, C::states(&chunk).0.clone());
                cell.backward(chunk, &g, &ut_packed, needs, opts, single_thread, m.as_ref())
            })
            .into_iter()
            .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(ChunkGrads::combine(parts, has_bias))
        }),
    ))
}

/// A chunk's input-side results of the backward through time, read by
/// [`ChunkGrads::from_gate_grads`].
pub(crate) struct ChunkBackward<'a> {
    /// The chunk's time-major input `[T*rows, F]`.
    pub x_tm: &'a Array2<f32>,
    /// Its hidden states `[(T+1)*rows, units]` (block 0 the initial state).
    pub hs: &'a Array2<f32>,
    /// Gradients of the input-side pre-activations `x W + b`, `[T*rows, G]`.
    pub dz_in: &'a Array2<f32>,
    /// Gradients of the recurrent-side pre-activations `h U`, `[T*rows, G]`
    /// (the same matrix as `dz_in` except for GRU's `reset_after` form).
    pub dz_rec: &'a Array2<f32>,
    /// Batch rows and steps of the chunk.
    pub rows: usize,
    pub steps: usize,
}

impl ChunkGrads {
    /// `dX = dZ_in Wᵀ` (back to `(rows, T, F)`), `dW = Xᵀ dZ_in`,
    /// `dU = H_{0..T-1}ᵀ dZ_rec`, each only if needed, and `db` as given.
    pub(crate) fn from_gate_grads(
        c: ChunkBackward,
        (w, u): (&Array2<f32>, &Array2<f32>),
        db: Option<Tensor>,
        needs: Needs,
        opts: SeqOptions,
        single_thread: bool,
    ) -> neurite_autograd::Result<ChunkGrads> {
        let (b, t) = (c.rows, c.steps);
        let product = |a: ArrayView2<f32>, ta: bool, m: &Array2<f32>, shape: (usize, usize), tb: bool| {
            let mut out = Array2::<f32>::zeros(shape);
            chunk_gemm(single_thread, a, ta, m.view(), tb, &mut out.view_mut()).map(|_| out)
        };
        let dx = if needs.dx {
            let dx_tm = product(c.dz_in.view(), false, w, (t * b, w.nrows()), true)?;
            Some(from_time_major(&dx_tm, b, t, opts.go_backwards))
        } else {
            None
        };
        let dw = needs
            .dw
            .then(|| product(c.x_tm.view(), true, c.dz_in, w.dim(), false))
            .transpose()?;
        let du = needs
            .du
            .then(|| product(c.hs.slice(s![..t * b, ..]), true, c.dz_rec, u.dim(), false))
            .transpose()?;
        Ok(ChunkGrads { dx, dw, du, db })
    }

    /// [`Self::from_gate_grads`] for a cell whose input- and recurrent-side
    /// pre-activations share one gradient `dz` (`[T*rows, G]`, LSTM and
    /// SimpleRNN), with `db = Σ dZ` when needed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_shared_gate_grads(
        x_tm: &Array2<f32>,
        hs: &Array2<f32>,
        dz: &Array2<f32>,
        (rows, steps): (usize, usize),
        weights: &SeqWeights,
        needs: Needs,
        opts: SeqOptions,
        single_thread: bool,
    ) -> neurite_autograd::Result<ChunkGrads> {
        let db = needs.db.then(|| column_sums(dz).into_dyn());
        let c = ChunkBackward {
            x_tm,
            hs,
            dz_in: dz,
            dz_rec: dz,
            rows,
            steps,
        };
        Self::from_gate_grads(c, (&weights.w, &weights.u), db, needs, opts, single_thread)
    }
}

/// The input `(B, T, F)` of a recurrent op as a 3-d view.
pub(crate) fn input_view(x: &Tensor) -> ArrayView3<'_, f32> {
    x.view()
        .into_dimensionality::<Ix3>()
        .expect("rank checked by the op")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use proptest::prelude::*;

    proptest! {
        /// The chunks cover `0..batch` in order, without gaps or overlap, and
        /// (when there is more than one) each has at least `MIN_CHUNK_ROWS` rows.
        #[test]
        fn chunks_partition_the_batch(batch in 1usize..300) {
            let chunks = plan_chunks(batch);
            prop_assert_eq!(chunks[0].start, 0);
            prop_assert_eq!(chunks.last().unwrap().end, batch);
            for w in chunks.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start);
            }
            if chunks.len() > 1 {
                prop_assert!(chunks.iter().all(|r| r.len() >= MIN_CHUNK_ROWS));
            }
        }

        /// Time-major chunks of every chunk's rows, put side by side per step,
        /// are the time-major layout of the whole batch.
        #[test]
        fn chunk_time_major_matches_whole_batch(b in 1usize..20, t in 1usize..6, f in 1usize..4, back: bool) {
            let x = ndarray::Array3::from_shape_fn((b, t, f), |(i, j, k)| (i * 100 + j * 10 + k) as f32);
            let whole = chunk_time_major(x.view(), 0..b, back);
            let split = b / 2;
            for (rows, part) in [(0..split, chunk_time_major(x.view(), 0..split, back)),
                                 (split..b, chunk_time_major(x.view(), split..b, back))] {
                let n = rows.len();
                for step in 0..t {
                    for (r, row) in rows.clone().enumerate() {
                        prop_assert_eq!(part.row(step * n + r), whole.row(step * b + row));
                    }
                }
            }
            // And the whole-batch layout is the plain definition.
            for step in 0..t {
                let src = if back { t - 1 - step } else { step };
                for i in 0..b {
                    for k in 0..f {
                        prop_assert_eq!(whole[[step * b + i, k]], x[[i, src, k]]);
                    }
                }
            }
        }
    }

    #[test]
    fn combine_joins_dx_and_sums_weights() {
        let part = |v: f32, rows: usize| ChunkGrads {
            dx: Some(ndarray::Array3::from_elem((rows, 2, 3), v).into_dyn()),
            dw: Some(Array2::from_elem((3, 4), v)),
            du: None,
            db: Some(Array1::from_elem(4, v).into_dyn()),
        };
        let g = ChunkGrads::combine(vec![part(1.0, 2), part(2.0, 1)], true);
        assert_eq!(g.len(), 4);
        let dx = g[0].as_ref().unwrap();
        assert_eq!(dx.shape(), &[3, 2, 3]);
        assert_eq!(dx[[1, 0, 0]], 1.0);
        assert_eq!(dx[[2, 1, 2]], 2.0);
        assert!(g[1].as_ref().unwrap().iter().all(|&v| v == 3.0));
        assert!(g[2].is_none());
        assert!(g[3].as_ref().unwrap().iter().all(|&v| v == 3.0));
    }
}
