//! The blocked driver shared by the AMX and AVX512-BF16 kernels: pack both
//! operands (rounding to bf16), cut C into tasks of 32x32 blocks, run the
//! micro-kernel over K in cache-sized chunks into an f32 accumulator, then
//! write `alpha * acc + beta * C` into C. Tasks run on rayon when threaded.

use super::pack::{a_panel, pack_b, panels_for, Packed, TILE};
use super::Bf16Kernel;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use std::cell::RefCell;

/// K chunks (of 32) per pass of the micro-kernel: a 32 x 512 bf16 pair of
/// panels is 32 KiB, so the B pair stays in L1 while A streams from L2.
const K_CHUNKS: usize = 16;
/// Largest task, in 32x32 blocks per side (256 x 256 of C: a 256 KiB accumulator).
const MAX_TASK_BLOCKS: usize = 8;
/// Below this many multiply-adds a product runs on the calling thread.
const PARALLEL_WORK: usize = 1 << 20;

/// f32 values in the accumulator of one 32x32 block (four 16x16 tiles).
const BLOCK: usize = 1024;

/// The micro-kernel to run (only available kernels reach this module).
#[derive(Clone, Copy)]
pub(crate) enum Micro {
    Amx,
    Avx512,
}

impl Micro {
    pub(crate) fn for_kernel(kernel: Bf16Kernel) -> Option<Micro> {
        match kernel {
            Bf16Kernel::Amx => Some(Micro::Amx),
            Bf16Kernel::Avx512Bf16 => Some(Micro::Avx512),
            Bf16Kernel::Portable => None,
        }
    }
}

/// A rectangle of 32x32 blocks and a range of K chunks.
#[derive(Clone, Copy)]
struct Task {
    rows: (usize, usize),
    cols: (usize, usize),
    chunks: (usize, usize),
}

impl Task {
    fn blocks(&self) -> usize {
        (self.rows.1 - self.rows.0) * (self.cols.1 - self.cols.0)
    }
}

/// `acc = A * B` over the task's blocks and K range (accumulator layout: block
/// `(i, j)` of the task at `(i * cols + j) * BLOCK`), packing the task's rows
/// of A a K block at a time into `abuf` (so they are packed in cache, once per
/// task and K block).
fn compute(micro: Micro, a: &ArrayView2<f32>, pb: &Packed, t: Task, acc: &mut [f32], abuf: &mut Vec<u32>) {
    let ncols = t.cols.1 - t.cols.0;
    let panels = 2 * (t.rows.1 - t.rows.0);
    assert!(acc.len() >= t.blocks() * BLOCK && t.chunks.1 > t.chunks.0);
    if abuf.len() < panels * K_CHUNKS * TILE {
        abuf.resize(panels * K_CHUNKS * TILE, 0);
    }
    let mut run = |block: &dyn Fn(*const u16, *const u16, *const u16, *const u16, usize, *mut f32, bool)| {
        let mut q = t.chunks.0;
        while q < t.chunks.1 {
            let nq = (t.chunks.1 - q).min(K_CHUNKS);
            for (i, panel) in abuf.chunks_exact_mut(nq * TILE).take(panels).enumerate() {
                a_panel(a, 2 * t.rows.0 + i, q, panel);
            }
            for bj in t.cols.0..t.cols.1 {
                let (b0, b1) = (pb.tile(2 * bj, q), pb.tile(2 * bj + 1, q));
                for bi in 0..t.rows.1 - t.rows.0 {
                    let a0 = abuf[2 * bi * nq * TILE..].as_ptr().cast();
                    let a1 = abuf[(2 * bi + 1) * nq * TILE..].as_ptr().cast();
                    let dst = acc[(bi * ncols + (bj - t.cols.0)) * BLOCK..].as_mut_ptr();
                    block(a0, a1, b0, b1, nq, dst, q > t.chunks.0);
                }
            }
            q += nq;
        }
    };
    match micro {
        Micro::Amx => {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: `Micro::Amx` is only built for an available AMX kernel
                // (see the safety argument in detect.rs).
                let tiles = unsafe { super::amx::TileScope::enter() };
                // SAFETY: `abuf` holds the task's 2 * rows panels of `nq` tiles
                // each; panels 2bj, 2bj + 1 of B exist (the task lies inside the
                // padded grid) and hold `chunks` tiles, nq of them from q on;
                // `dst` is the block's 4 KiB in `acc`.
                run(&|a0, a1, b0, b1, nq, dst, accumulate| unsafe {
                    tiles.block(a0, a1, b0, b1, nq, dst, accumulate)
                });
            }
        }
        Micro::Avx512 => {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: `Micro::Avx512` is only built for an available
                // AVX512-BF16 kernel (detect.rs); pointers as for AMX above.
                run(&|a0, a1, b0, b1, nq, dst, accumulate| unsafe {
                    super::avx512::block(a0, a1, b0, b1, nq, dst, accumulate)
                });
            }
        }
    }
}

/// Each thread's scratch: the task accumulator (up to 256 KiB) and its packed A block.
#[derive(Default)]
struct Scratch {
    acc: Vec<f32>,
    a: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with an accumulator of `len` floats and an A buffer (reused per thread).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32], &mut Vec<u32>) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let s = &mut *s;
            if s.acc.len() < len {
                s.acc.resize(len, 0.0);
            }
            f(&mut s.acc[..len], &mut s.a)
        }
        Err(_) => f(&mut vec![0.0; len], &mut Vec::new()),
    })
}

/// C's storage, shared by tasks that write disjoint blocks.
#[derive(Clone, Copy)]
struct CPtr {
    ptr: *mut f32,
    rs: isize,
    cs: isize,
    m: usize,
    n: usize,
}
// SAFETY: tasks write disjoint rectangles of C (each block of the grid belongs
// to exactly one task), and the `&mut` view it came from is borrowed for the
// whole call.
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}

/// `C[block] = alpha * acc + beta * C[block]` for the task's blocks (C read
/// only when `beta != 0`).
fn write_back(c: CPtr, t: Task, acc: &[f32], alpha: f32, beta: f32) {
    let ncols = t.cols.1 - t.cols.0;
    for bi in t.rows.0..t.rows.1 {
        for bj in t.cols.0..t.cols.1 {
            let blk = &acc[((bi - t.rows.0) * ncols + (bj - t.cols.0)) * BLOCK..][..BLOCK];
            let rows = c.m.saturating_sub(bi * 32).min(32);
            if c.rs == 1 && c.cs != 1 {
                write_block_transposed(c, bi, bj, blk, alpha, beta);
                continue;
            }
            for r in 0..rows {
                let i = bi * 32 + r;
                for half in 0..2 {
                    let j0 = bj * 32 + half * 16;
                    let cols = c.n.saturating_sub(j0).min(16);
                    if cols == 0 {
                        continue;
                    }
                    let src = &blk[((r / 16) * 2 + half) * 256 + (r % 16) * 16..][..cols];
                    // SAFETY: row i < m, columns j0..j0 + cols <= n: inside the view C
                    // came from; only this task touches this block.
                    let first = unsafe { c.ptr.offset(i as isize * c.rs + j0 as isize * c.cs) };
                    if c.cs == 1 {
                        // SAFETY: as above, `cols` consecutive elements of row i.
                        let dst = unsafe { std::slice::from_raw_parts_mut(first, cols) };
                        if beta == 0.0 {
                            dst.iter_mut().zip(src).for_each(|(d, &v)| *d = alpha * v);
                        } else {
                            dst.iter_mut()
                                .zip(src)
                                .for_each(|(d, &v)| *d = alpha * v + beta * *d);
                        }
                    } else {
                        for (s, &v) in src.iter().enumerate() {
                            // SAFETY: as above, element (i, j0 + s).
                            unsafe {
                                let d = first.offset(s as isize * c.cs);
                                *d = if beta == 0.0 {
                                    alpha * v
                                } else {
                                    alpha * v + beta * *d
                                };
                            }
                        }
                    }
                }
            }
        }
    }
}

/// [`write_back`] of one block into a C whose columns are contiguous: column
/// by column, so the stores are consecutive (the reads from the block are in cache).
fn write_block_transposed(c: CPtr, bi: usize, bj: usize, blk: &[f32], alpha: f32, beta: f32) {
    let rows = c.m.saturating_sub(bi * 32).min(32);
    let cols = c.n.saturating_sub(bj * 32).min(32);
    for s in 0..cols {
        let j = bj * 32 + s;
        // SAFETY: column j < n, rows bi * 32 .. + rows <= m, consecutive (row
        // stride 1): inside the view C came from; only this task touches the block.
        let dst = unsafe {
            std::slice::from_raw_parts_mut(c.ptr.offset((bi * 32) as isize + j as isize * c.cs), rows)
        };
        for (r, d) in dst.iter_mut().enumerate() {
            let v = alpha * blk[((r / 16) * 2 + s / 16) * 256 + (r % 16) * 16 + s % 16];
            *d = if beta == 0.0 { v } else { v + beta * *d };
        }
    }
}

/// Whether to compute `C^T = op(B)^T op(A)^T` instead of `C = op(A) op(B)`.
///
/// B is packed whole, up front, and stays in memory; A is packed a block at
/// a time inside each task, in cache. So the larger operand should be A. An
/// operand read across its contiguous axis costs about 3x one read along it;
/// B's full pack is written and read again, so it counts twice. C is written
/// along whichever of its axes is contiguous, either way.
fn transpose_pays(a: &ArrayView2<f32>, b: &ArrayView2<f32>) -> bool {
    let (m, k) = a.dim();
    let n = b.ncols();
    let along = |x: &[isize]| x[1].unsigned_abs() <= x[0].unsigned_abs();
    let (a_k, b_n) = (along(a.strides()), along(b.strides()));
    let cost = |good: bool, len: usize| if good { len } else { 3 * len };
    let as_is = cost(a_k, m * k) + 2 * cost(b_n, k * n);
    let swapped = cost(!b_n, n * k) + 2 * cost(!a_k, m * k);
    swapped < as_is
}

/// `C = alpha * a * b + beta * C` (`a` = op(A) `[m, k]`, `b` = op(B) `[k, n]`,
/// C `[m, n]`, all non-empty, shapes checked by the caller).
pub(crate) fn gemm(
    micro: Micro,
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
    single_thread: bool,
) {
    if transpose_pays(&a, &b) {
        let mut ct = c.view_mut().reversed_axes();
        return gemm_oriented(
            micro,
            alpha,
            b.reversed_axes(),
            a.reversed_axes(),
            beta,
            &mut ct,
            single_thread,
        );
    }
    gemm_oriented(micro, alpha, a, b, beta, c, single_thread)
}

/// [`gemm`] without the choice of orientation.
fn gemm_oriented(
    micro: Micro,
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
    single_thread: bool,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let threads = if single_thread {
        1
    } else {
        crate::threads::num_threads()
    };
    let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_WORK;
    let pb = pack_b(b, parallel);
    let (rb, cb, chunks) = (panels_for(m) / 2, panels_for(n) / 2, pb.chunks);
    let cp = CPtr {
        ptr: c.as_mut_ptr(),
        rs: c.strides()[0],
        cs: c.strides()[1],
        m,
        n,
    };
    let tasks = plan(rb, cb, chunks, if parallel { threads } else { 1 });
    let splits_k = tasks.first().is_some_and(|t| t.chunks != (0, chunks));
    if splits_k {
        // Too few blocks for the threads: each task sums part of K over all of C
        // (a few blocks), then the parts are added in order.
        let parts: Vec<Vec<f32>> = tasks
            .par_iter()
            .map(|&t| {
                let mut acc = vec![0.0; t.blocks() * BLOCK];
                compute(micro, &a, &pb, t, &mut acc, &mut Vec::new());
                acc
            })
            .collect();
        let mut total = parts[0].clone();
        for part in &parts[1..] {
            total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
        }
        write_back(cp, tasks[0], &total, alpha, beta);
        return;
    }
    let one = |t: &Task| {
        with_scratch(t.blocks() * BLOCK, |acc, abuf| {
            compute(micro, &a, &pb, *t, acc, abuf);
            write_back(cp, *t, acc, alpha, beta);
        })
    };
    if parallel && tasks.len() > 1 {
        tasks.par_iter().for_each(one);
    } else {
        tasks.iter().for_each(one);
    }
}

/// Cuts a grid of `rb x cb` blocks and `chunks` K chunks into tasks for `threads`
/// threads: rectangles of at most `MAX_TASK_BLOCKS` blocks a side, smaller
/// until there are at least two per thread (when the grid allows); a grid with
/// fewer blocks than threads is split along K instead (when K is long enough).
fn plan(rb: usize, cb: usize, chunks: usize, threads: usize) -> Vec<Task> {
    if threads > 1 && rb * cb < threads && chunks >= 2 * K_CHUNKS * threads {
        let per = chunks.div_ceil(threads);
        return (0..chunks)
            .step_by(per)
            .map(|q| Task {
                rows: (0, rb),
                cols: (0, cb),
                chunks: (q, (q + per).min(chunks)),
            })
            .collect();
    }
    let (mut tr, mut tc) = (rb.min(MAX_TASK_BLOCKS), cb.min(MAX_TASK_BLOCKS));
    let count = |tr: usize, tc: usize| rb.div_ceil(tr) * cb.div_ceil(tc);
    // Split rows first: each column task packs the task's rows of A again.
    while count(tr, tc) < 2 * threads && (tr > 1 || tc > 1) {
        if tr > 1 {
            tr = tr.div_ceil(2);
        } else {
            tc = tc.div_ceil(2);
        }
    }
    let mut tasks = Vec::with_capacity(count(tr, tc));
    for i in (0..rb).step_by(tr) {
        for j in (0..cb).step_by(tc) {
            tasks.push(Task {
                rows: (i, (i + tr).min(rb)),
                cols: (j, (j + tc).min(cb)),
                chunks: (0, chunks),
            });
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::plan;

    #[test]
    fn plans_cover_the_grid_exactly_once() {
        for (rb, cb, chunks, threads) in [
            (1, 1, 1, 1),
            (9, 2, 700, 2),
            (1, 1, 700, 2),
            (40, 3, 9, 2),
            (17, 33, 40, 4),
        ] {
            let tasks = plan(rb, cb, chunks, threads);
            let mut seen = vec![0u32; rb * cb * chunks];
            for t in &tasks {
                for i in t.rows.0..t.rows.1 {
                    for j in t.cols.0..t.cols.1 {
                        for q in t.chunks.0..t.chunks.1 {
                            seen[(i * cb + j) * chunks + q] += 1;
                        }
                    }
                }
            }
            assert!(seen.iter().all(|&s| s == 1), "{rb} {cb} {chunks} {threads}");
        }
    }
}
