//! The row loops of [`upsample2d`](super::upsample2d) and its backward: one
//! call computes a block of consecutive rows of one image, so a batch of
//! few images still spreads over the threads.

use super::{linear_taps, Interpolation, LinearTap};
use crate::conv::MIN_TASKS;

/// Row blocks per image: enough that a batch of `n` images makes
/// [`MIN_TASKS`] tasks, at most one per row (of `rows`).
pub(super) fn row_blocks(n: usize, rows: usize) -> usize {
    let want = if n >= MIN_TASKS {
        1
    } else {
        MIN_TASKS.div_ceil(n.max(1))
    };
    want.clamp(1, rows.max(1))
}

/// One upsampling of `[h, w, c]` images by `(sh, sw)`.
pub(super) struct Kernel {
    mode: Interpolation,
    sh: usize,
    sw: usize,
    w: usize,
    c: usize,
    /// Linear taps of the rows and columns (bilinear only).
    ty: Vec<LinearTap>,
    tx: Vec<LinearTap>,
}

impl Kernel {
    pub(super) fn new(mode: Interpolation, (sh, sw): (usize, usize), [h, w, c]: [usize; 3]) -> Kernel {
        let bilinear = mode == Interpolation::Bilinear;
        Kernel {
            mode,
            sh,
            sw,
            w,
            c,
            ty: if bilinear { linear_taps(h, sh) } else { Vec::new() },
            tx: if bilinear { linear_taps(w, sw) } else { Vec::new() },
        }
    }

    /// Output rows `first..` of one image (`out` holds whole rows of `w * sw * c`).
    pub(super) fn forward_rows(&self, image: &[f32], first: usize, out: &mut [f32]) {
        match self.mode {
            Interpolation::Nearest => self.nearest_rows(image, first, out),
            Interpolation::Bilinear => self.bilinear_rows(image, first, out),
        }
    }

    /// Input-gradient rows `first..` of one image (`dx` holds whole rows of
    /// `w * c`, zeroed) from the image's output gradient `grad`.
    pub(super) fn backward_rows(&self, grad: &[f32], first: usize, dx: &mut [f32]) {
        match self.mode {
            Interpolation::Nearest => self.nearest_grad_rows(grad, first, dx),
            Interpolation::Bilinear => self.bilinear_grad_rows(grad, first, dx),
        }
    }

    /// Each input row is widened once; the `sh - 1` repeats are copies of it.
    fn nearest_rows(&self, image: &[f32], first: usize, out: &mut [f32]) {
        let (c, sw) = (self.c, self.sw);
        let (row, out_row) = (self.w * c, self.w * sw * c);
        let mut prev: Option<usize> = None;
        for r in 0..out.len() / out_row {
            let i = (first + r) / self.sh;
            if let Some(p) = prev.filter(|_| !(first + r).is_multiple_of(self.sh)) {
                out.copy_within(p * out_row..(p + 1) * out_row, r * out_row);
                continue;
            }
            let src = &image[i * row..][..row];
            let dst = &mut out[r * out_row..][..out_row];
            for (px, block) in src.chunks_exact(c).zip(dst.chunks_exact_mut(sw * c)) {
                for copy in block.chunks_exact_mut(c) {
                    copy.copy_from_slice(px);
                }
            }
            prev = Some(r);
        }
    }

    /// Input row `i` interpolated across its width into `dst` (`w * sw * c`).
    fn widen(&self, image: &[f32], i: usize, dst: &mut [f32]) {
        let c = self.c;
        let row = &image[i * self.w * c..][..self.w * c];
        for (px, u) in dst.chunks_exact_mut(c).zip(&self.tx) {
            let (a, b) = (&row[u.lo * c..][..c], &row[u.hi * c..][..c]);
            let fx = u.frac;
            for k in 0..c {
                px[k] = a[k] + fx * (b[k] - a[k]);
            }
        }
    }

    /// Two widened rows kept in `cache` (tagged with their input row), so
    /// consecutive output rows reading the same input rows widen them once.
    fn bilinear_rows(&self, image: &[f32], first: usize, out: &mut [f32]) {
        let out_row = self.w * self.sw * self.c;
        let mut cache = vec![0.0f32; 2 * out_row];
        let mut tags = [usize::MAX; 2];
        for (r, dst) in out.chunks_exact_mut(out_row).enumerate() {
            let t = self.ty[first + r];
            for (slot, i) in [(0, t.lo), (1, t.hi)] {
                if tags[slot] != i {
                    // The other slot may hold it already (the rows move down by one).
                    let other = 1 - slot;
                    if tags[other] == i {
                        let (a, b) = cache.split_at_mut(out_row);
                        if slot == 0 {
                            a.copy_from_slice(b);
                        } else {
                            b.copy_from_slice(a);
                        }
                    } else {
                        self.widen(image, i, &mut cache[slot * out_row..][..out_row]);
                    }
                    tags[slot] = i;
                }
            }
            let (top, bot) = cache.split_at(out_row);
            let fy = t.frac;
            for ((d, &a), &b) in dst.iter_mut().zip(top).zip(bot) {
                *d = a + fy * (b - a);
            }
        }
    }

    /// Each input-gradient row sums its `sh x sw` blocks, rows in order.
    fn nearest_grad_rows(&self, grad: &[f32], first: usize, dx: &mut [f32]) {
        let (c, sw) = (self.c, self.sw);
        let (row, out_row) = (self.w * c, self.w * sw * c);
        for (r, drow) in dx.chunks_exact_mut(row).enumerate() {
            let i = first + r;
            for grow in grad[i * self.sh * out_row..][..self.sh * out_row].chunks_exact(out_row) {
                for (d, block) in drow.chunks_exact_mut(c).zip(grow.chunks_exact(sw * c)) {
                    for px in block.chunks_exact(c) {
                        for (a, &b) in d.iter_mut().zip(px) {
                            *a += b;
                        }
                    }
                }
            }
        }
    }

    /// Output-gradient row `o` reduced across its width into `dst` (`w * c`,
    /// overwritten): each pixel's gradient split onto its two columns.
    fn narrow(&self, grad: &[f32], o: usize, dst: &mut [f32]) {
        let c = self.c;
        let out_row = self.w * self.sw * c;
        dst.fill(0.0);
        for (g, u) in grad[o * out_row..][..out_row].chunks_exact(c).zip(&self.tx) {
            let fx = u.frac;
            let lo = &mut dst[u.lo * c..][..c];
            for k in 0..c {
                lo[k] += (1.0 - fx) * g[k];
            }
            if fx != 0.0 {
                let hi = &mut dst[u.hi * c..][..c];
                for k in 0..c {
                    hi[k] += fx * g[k];
                }
            }
        }
    }

    /// Input-gradient rows `first..`: every output row that reads one of
    /// them (in output order) is narrowed once and added with its row weight.
    fn bilinear_grad_rows(&self, grad: &[f32], first: usize, dx: &mut [f32]) {
        let row = self.w * self.c;
        let last = first + dx.len() / row;
        let mut narrowed = vec![0.0f32; row];
        // Output rows read input rows in non-decreasing order: skip to the first that touches `first`.
        let start = self.ty.partition_point(|t| t.hi < first);
        for (o, t) in self.ty.iter().enumerate().skip(start) {
            if t.lo >= last {
                break;
            }
            self.narrow(grad, o, &mut narrowed);
            let fy = t.frac;
            for (i, wgt) in [(t.lo, 1.0 - fy), (t.hi, fy)] {
                if wgt == 0.0 || !(first..last).contains(&i) {
                    continue;
                }
                let d = &mut dx[(i - first) * row..][..row];
                for (a, &b) in d.iter_mut().zip(&narrowed) {
                    *a += wgt * b;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{upsample2d, upsample2d_backward};
    use super::*;
    use crate::Tensor;
    use proptest::prelude::*;

    /// The input gradient by the definition: every output pixel's gradient
    /// added (in f64) to the input pixels it reads, with their weights.
    fn grad_reference(
        g: &Tensor,
        [n, h, w, c]: [usize; 4],
        (sh, sw): (usize, usize),
        mode: Interpolation,
    ) -> Vec<f64> {
        let mut dx = vec![0.0f64; n * h * w * c];
        let taps = |len: usize, s: usize, o: usize| -> Vec<(usize, f64)> {
            match mode {
                Interpolation::Nearest => vec![(o / s, 1.0)],
                Interpolation::Bilinear => {
                    let t = linear_taps(len, s)[o];
                    vec![(t.lo, 1.0 - t.frac as f64), (t.hi, t.frac as f64)]
                }
            }
        };
        for ((b, oi, oj, k), &v) in g
            .view()
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap()
            .indexed_iter()
        {
            for (i, wy) in taps(h, sh, oi) {
                for (j, wx) in taps(w, sw, oj) {
                    dx[((b * h + i) * w + j) * c + k] += wy * wx * v as f64;
                }
            }
        }
        dx
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Both modes' backward element by element against the f64
        /// definition, batches of 1 to 9 (row blocks and whole images),
        /// channel counts off the vector width, factors 1 to 4; and the
        /// forward and backward bit-identical on 1 and 3 threads.
        #[test]
        fn backward_matches_the_definition_on_any_thread_count(
            n in 1usize..10, h in 1usize..12, w in 1usize..9, c in 1usize..21,
            sh in 1usize..5, sw in 1usize..5, bilinear in any::<bool>(), seed in 0u64..1000,
        ) {
            let mode = if bilinear { Interpolation::Bilinear } else { Interpolation::Nearest };
            let mut rng = crate::random::rng_from_seed(seed);
            let x = crate::random::uniform(&[n, h, w, c], -1.0, 1.0, &mut rng);
            let g = crate::random::uniform(&[n, h * sh, w * sw, c], -1.0, 1.0, &mut rng);
            let dx = upsample2d_backward(&g, x.shape(), (sh, sw), mode).unwrap();
            let want = grad_reference(&g, [n, h, w, c], (sh, sw), mode);
            for (i, (a, b)) in dx.iter().zip(&want).enumerate() {
                prop_assert!((*a as f64 - b).abs() <= 1e-5 * (1.0 + (sh * sw) as f64), "[{}] {} vs {}", i, a, b);
            }
            let y = upsample2d(&x, (sh, sw), mode).unwrap();
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let (y2, dx2) = pool.install(|| {
                    (upsample2d(&x, (sh, sw), mode).unwrap(), upsample2d_backward(&g, x.shape(), (sh, sw), mode).unwrap())
                });
                prop_assert_eq!(&y2, &y);
                prop_assert_eq!(&dx2, &dx);
            }
        }
    }

    #[test]
    fn row_blocks_fill_the_tasks_but_never_exceed_the_rows() {
        assert_eq!(row_blocks(64, 28), 1);
        assert_eq!(row_blocks(1, 28), MIN_TASKS);
        assert_eq!(row_blocks(3, 28), MIN_TASKS.div_ceil(3));
        assert_eq!(row_blocks(1, 2), 2);
        assert_eq!(row_blocks(0, 0), 1);
    }
}
