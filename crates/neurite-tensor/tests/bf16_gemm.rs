//! bf16 GEMM (`neurite_tensor::bf16`): rounding against a plainly written
//! reference, and every kernel this CPU can run against an f64 triple loop on
//! bf16-rounded operands.
//!
//! Tolerance of one element of `C = alpha * op(A) op(B) + beta * C` (f32
//! accumulation against exact f64 on the same rounded operands):
//! `(k + 3) * eps_f32 * (|alpha| * sum_p |a_ip b_pj| + |beta c_ij|)` plus, for the
//! hardware kernels which treat subnormal inputs as zero and flush subnormal
//! sums (DAZ/FTZ, whatever MXCSR says), `|alpha| * 2^-126 * (sum_p (|a_ip| + |b_pj|) + 2k)`.

use ndarray::{s, Array2, ArrayView2};
use neurite_rand::Generator;
use neurite_tensor::bf16::{gemm_bf16, gemm_bf16_single_thread, gemm_bf16_with, round_to_bf16, Bf16Kernel};
use proptest::prelude::*;
use rand::Rng;

// ---------------------------------------------------------------- rounding

/// Round to nearest bf16, ties to even, written the long way: the two bf16
/// neighbours of `x` (truncation and the next one up in magnitude), compared in
/// f64. The next value above bf16's largest finite one is inf, which IEEE treats
/// as 2^128 when deciding whether to overflow.
fn reference_round(x: f32) -> f32 {
    if x.is_nan() {
        return f32::NAN;
    }
    if x.is_infinite() {
        return x;
    }
    let bits = x.to_bits();
    let low = bits & 0xffff_0000;
    let high = low + 0x1_0000; // next magnitude; 0x7f80_0000 (inf) past the largest finite
    let value = |b: u32| -> f64 {
        let v = f32::from_bits(b);
        if v.is_infinite() {
            2f64.powi(128).copysign(f64::from(v))
        } else {
            f64::from(v)
        }
    };
    let (x64, lo, hi) = (f64::from(x), value(low), value(high));
    let (d_lo, d_hi) = ((x64 - lo).abs(), (hi - x64).abs());
    let pick = if d_lo < d_hi {
        low
    } else if d_hi < d_lo {
        high
    } else if (low >> 16) & 1 == 0 {
        low
    } else {
        high
    };
    f32::from_bits(pick)
}

fn same_bf16(got: f32, want: f32) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

fn interesting_bits() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        // Exact ties: the dropped half is 0x8000.
        any::<u32>().prop_map(|b| (b & 0xffff_0000) | 0x8000),
        // Just below and above a tie.
        any::<u32>().prop_map(|b| (b & 0xffff_0000) | 0x7fff),
        any::<u32>().prop_map(|b| (b & 0xffff_0000) | 0x8001),
        // Subnormals and zeros.
        any::<u32>().prop_map(|b| b & 0x807f_ffff),
        // Near the top: rounding up overflows to inf.
        any::<u32>().prop_map(|b| (b & 0x8000_ffff) | 0x7f7f_0000),
        // inf and NaN patterns.
        any::<u32>().prop_map(|b| b | 0x7f80_0000),
        Just(0x7f80_0000u32),
        Just(0xff80_0000u32),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn round_to_bf16_matches_the_reference(bits in interesting_bits()) {
        let x = f32::from_bits(bits);
        let got = round_to_bf16(x);
        let want = reference_round(x);
        prop_assert!(same_bf16(got, want), "x = {x:e} ({bits:#010x}): got {:#010x}, want {:#010x}", got.to_bits(), want.to_bits());
        prop_assert_eq!(got.to_bits() & 0xffff, 0);
        if x.is_nan() {
            // Quiet NaN, same sign.
            prop_assert!(got.to_bits() & 0x0040_0000 != 0);
            prop_assert_eq!(got.is_sign_negative(), x.is_sign_negative());
        }
        // Idempotent.
        prop_assert!(same_bf16(round_to_bf16(got), got));
    }
}

#[test]
fn round_to_bf16_special_values() {
    assert_eq!(round_to_bf16(f32::MAX), f32::INFINITY);
    assert_eq!(round_to_bf16(-f32::MAX), f32::NEG_INFINITY);
    // The largest finite bf16 stays finite.
    let max_bf16 = f32::from_bits(0x7f7f_0000);
    assert_eq!(round_to_bf16(max_bf16), max_bf16);
    assert_eq!(round_to_bf16(f32::from_bits(0x7f7f_7fff)), max_bf16);
    assert_eq!(round_to_bf16(f32::from_bits(0x7f7f_8000)), f32::INFINITY);
    // The smallest subnormal rounds to zero (a tie would go to even, below it goes down).
    assert_eq!(round_to_bf16(f32::from_bits(1)).to_bits(), 0);
    assert_eq!(round_to_bf16(f32::from_bits(0x8000_8001)).to_bits(), 0x8001_0000);
    assert_eq!(round_to_bf16(-0.0).to_bits(), 0x8000_0000);
}

// ---------------------------------------------------------------- GEMM

/// A matrix of `rows x cols` as a view that is contiguous, transposed storage,
/// or every other element of a larger array, by `layout` (0, 1, 2).
struct Operand {
    storage: Array2<f32>,
    layout: u8,
    rows: usize,
    cols: usize,
}

impl Operand {
    fn new(rng: &mut Generator, rows: usize, cols: usize, layout: u8, tiny: bool) -> Operand {
        let (r, c) = match layout {
            0 => (rows, cols),
            1 => (cols, rows),
            _ => (2 * rows + 1, 2 * cols + 3),
        };
        let storage = Array2::from_shape_simple_fn((r, c), || {
            let v = rng.random_range(-2.0f32..2.0);
            if tiny && rng.random_range(0..8) == 0 {
                v * 1e-38
            } else {
                v
            }
        });
        Operand {
            storage,
            layout,
            rows,
            cols,
        }
    }

    fn view(&self) -> ArrayView2<'_, f32> {
        match self.layout {
            0 => self.storage.view(),
            1 => self.storage.t(),
            _ => self
                .storage
                .slice(s![1..2 * self.rows + 1;2, 2..2 * self.cols + 2;2]),
        }
    }
}

/// `op(X)` as passed to gemm: `X` (`[r, c]` or `[c, r]` when transposed).
fn as_argument(x: &Operand, transpose: bool) -> (Array2<f32>, bool) {
    if transpose {
        (x.view().t().to_owned(), true)
    } else {
        (x.view().to_owned(), false)
    }
}

/// f64 reference and per-element tolerance for `alpha * a b + beta * c`, on bf16-rounded a, b.
fn reference(
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    c0: &Array2<f32>,
) -> (Array2<f64>, Array2<f64>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let eps = f64::from(f32::EPSILON);
    let tiny = 2f64.powi(-126);
    let mut want = Array2::<f64>::zeros((m, n));
    let mut tol = Array2::<f64>::zeros((m, n));
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut abs, mut mags) = (0.0f64, 0.0f64, 0.0f64);
            for p in 0..k {
                let x = f64::from(round_to_bf16(a[[i, p]]));
                let y = f64::from(round_to_bf16(b[[p, j]]));
                sum += x * y;
                abs += (x * y).abs();
                mags += x.abs() + y.abs();
            }
            let cterm = if beta == 0.0 {
                0.0
            } else {
                f64::from(beta) * f64::from(c0[[i, j]])
            };
            let al = f64::from(alpha);
            want[[i, j]] = al * sum + cterm;
            tol[[i, j]] = (k as f64 + 3.0) * eps * (al.abs() * abs + cterm.abs())
                + al.abs() * tiny * (mags + 2.0 * k as f64)
                + f64::from(f32::MIN_POSITIVE);
        }
    }
    (want, tol)
}

#[derive(Debug, Clone)]
struct GemmCase {
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    la: u8,
    lb: u8,
    lc: u8,
    alpha: f32,
    beta: f32,
    tiny: bool,
    seed: u64,
}

fn gemm_case(max_mn: usize, ks: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = GemmCase> {
    (
        (0..=max_mn, 0..=max_mn, ks),
        (any::<bool>(), any::<bool>(), 0u8..3, 0u8..3, 0u8..3),
        (
            prop_oneof![Just(1.0f32), Just(-0.5), -3.0f32..3.0],
            prop_oneof![Just(0.0f32), Just(1.0), -2.0f32..2.0],
            any::<bool>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |((m, n, k), (ta, tb, la, lb, lc), (alpha, beta, tiny, seed))| GemmCase {
                m,
                n,
                k,
                ta,
                tb,
                la,
                lb,
                lc,
                alpha,
                beta,
                tiny,
                seed,
            },
        )
}

/// Runs `case` through `run` and checks it against the f64 reference.
fn check_case(
    case: &GemmCase,
    what: &str,
    run: impl Fn(
        f32,
        ArrayView2<f32>,
        bool,
        ArrayView2<f32>,
        bool,
        f32,
        &mut ndarray::ArrayViewMut2<f32>,
    ) -> neurite_tensor::Result<()>,
) -> Result<Array2<f32>, TestCaseError> {
    let mut rng = Generator::seed_from_u64(case.seed);
    let a = Operand::new(&mut rng, case.m, case.k, case.la, case.tiny);
    let b = Operand::new(&mut rng, case.k, case.n, case.lb, case.tiny);
    // op(A) = a, so A itself is a^T when transposed (a strided view of a^T's storage).
    let (a_arg, b_arg) = (as_argument(&a, case.ta), as_argument(&b, case.tb));
    let a_view = if case.ta { a_arg.0.view() } else { a.view() };
    let b_view = if case.tb { b_arg.0.view() } else { b.view() };
    let mut c_store = Operand::new(&mut rng, case.m, case.n, case.lc, false);
    if case.beta == 0.0 {
        c_store.storage.fill(f32::NAN); // beta = 0 must not read C
    }
    let c0 = c_store.view().to_owned();
    let (want, tol) = reference(case.alpha, a.view(), b.view(), case.beta, &c0);
    let mut c = match case.lc {
        0 => c_store.storage.view_mut(),
        1 => c_store.storage.view_mut().reversed_axes(),
        _ => c_store
            .storage
            .slice_mut(s![1..2 * case.m + 1;2, 2..2 * case.n + 2;2]),
    };
    run(case.alpha, a_view, case.ta, b_view, case.tb, case.beta, &mut c)
        .map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
    for ((i, j), &got) in c.indexed_iter() {
        let err = (f64::from(got) - want[[i, j]]).abs();
        prop_assert!(
            err <= tol[[i, j]],
            "{what} {case:?}: C[{i}, {j}] = {got:e}, want {:e} (error {err:e} > tolerance {:e})",
            want[[i, j]],
            tol[[i, j]]
        );
    }
    Ok(c.to_owned())
}

fn available_kernels() -> Vec<Bf16Kernel> {
    let mut out = Vec::new();
    for k in Bf16Kernel::ALL {
        match k.unavailable_reason() {
            None => out.push(k),
            Some(why) => eprintln!("skipped: the {} bf16 kernel cannot run here ({why})", k.name()),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn every_kernel_matches_the_f64_reference(case in gemm_case(70, 0..=70)) {
        for kernel in available_kernels() {
            check_case(&case, kernel.name(), |al, a, ta, b, tb, be, c| gemm_bf16_with(kernel, al, a, ta, b, tb, be, c))?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_kernel_matches_the_f64_reference_for_large_k(case in gemm_case(40, 600..=1500)) {
        for kernel in available_kernels() {
            check_case(&case, kernel.name(), |al, a, ta, b, tb, be, c| gemm_bf16_with(kernel, al, a, ta, b, tb, be, c))?;
        }
    }

    #[test]
    fn kernels_agree_with_each_other(case in gemm_case(100, 0..=400)) {
        let kernels = available_kernels();
        let results: Vec<Array2<f32>> = kernels
            .iter()
            .map(|&kernel| check_case(&case, kernel.name(), |al, a, ta, b, tb, be, c| gemm_bf16_with(kernel, al, a, ta, b, tb, be, c)))
            .collect::<Result<_, _>>()?;
        // Each is within the tolerance of the reference, so two are within twice
        // of each other; check that directly too.
        let mut rng = Generator::seed_from_u64(case.seed);
        let a = Operand::new(&mut rng, case.m, case.k, case.la, case.tiny);
        let b = Operand::new(&mut rng, case.k, case.n, case.lb, case.tiny);
        let c0 = Operand::new(&mut rng, case.m, case.n, case.lc, false).view().to_owned();
        let (_, tol) = reference(case.alpha, a.view(), b.view(), case.beta, &c0);
        for (r, kernel) in results.iter().zip(&kernels).skip(1) {
            for ((i, j), &got) in r.indexed_iter() {
                let other = results[0][[i, j]];
                prop_assert!((f64::from(got) - f64::from(other)).abs() <= 2.0 * tol[[i, j]],
                    "{} vs {} at [{i}, {j}]: {got:e} vs {other:e}", kernel.name(), kernels[0].name());
            }
        }
    }

    #[test]
    fn threaded_and_single_thread_agree(case in gemm_case(300, 0..=300)) {
        let threaded = check_case(&case, "gemm_bf16", gemm_bf16)?;
        let single = check_case(&case, "gemm_bf16_single_thread", gemm_bf16_single_thread)?;
        let mut rng = Generator::seed_from_u64(case.seed);
        let a = Operand::new(&mut rng, case.m, case.k, case.la, case.tiny);
        let b = Operand::new(&mut rng, case.k, case.n, case.lb, case.tiny);
        let c0 = Operand::new(&mut rng, case.m, case.n, case.lc, false).view().to_owned();
        let (_, tol) = reference(case.alpha, a.view(), b.view(), case.beta, &c0);
        for ((i, j), &t) in threaded.indexed_iter() {
            prop_assert!((f64::from(t) - f64::from(single[[i, j]])).abs() <= 2.0 * tol[[i, j]]);
        }
    }
}

#[test]
fn big_products_on_every_kernel() {
    // Bigger than one task, with edges: exercises the blocking and the threads.
    for (m, n, k) in [(515, 130, 700), (64, 1030, 96), (2048, 64, 288), (288, 64, 3000)] {
        for (ta, tb) in [(false, false), (true, false), (false, true)] {
            let case = GemmCase {
                m,
                n,
                k,
                ta,
                tb,
                la: 0,
                lb: 0,
                lc: 0,
                alpha: 1.0,
                beta: 0.0,
                tiny: false,
                seed: (m * n + k) as u64,
            };
            for kernel in available_kernels() {
                check_case(&case, kernel.name(), |al, a, ta, b, tb, be, c| {
                    gemm_bf16_with(kernel, al, a, ta, b, tb, be, c)
                })
                .unwrap();
            }
            check_case(&case, "gemm_bf16_single_thread", gemm_bf16_single_thread).unwrap();
        }
    }
}

#[test]
fn nan_and_inf_propagate_into_their_rows_only() {
    let mut a = Array2::<f32>::ones((40, 50));
    a[[3, 7]] = f32::NAN;
    a[[20, 1]] = f32::INFINITY;
    let b = Array2::<f32>::ones((50, 40));
    for kernel in available_kernels() {
        let mut c = Array2::<f32>::zeros((40, 40));
        gemm_bf16_with(
            kernel,
            1.0,
            a.view(),
            false,
            b.view(),
            false,
            0.0,
            &mut c.view_mut(),
        )
        .unwrap();
        for ((i, _), &v) in c.indexed_iter() {
            match i {
                3 => assert!(v.is_nan(), "{}", kernel.name()),
                20 => assert_eq!(v, f32::INFINITY, "{}", kernel.name()),
                _ => assert_eq!(v, 50.0, "{}", kernel.name()),
            }
        }
    }
}

#[test]
fn unavailable_kernels_are_errors_and_shapes_are_checked() {
    let a = Array2::<f32>::ones((2, 3));
    let mut c = Array2::<f32>::zeros((2, 2));
    for kernel in Bf16Kernel::ALL {
        let r = gemm_bf16_with(
            kernel,
            1.0,
            a.view(),
            false,
            a.view(),
            true,
            0.0,
            &mut c.view_mut(),
        );
        match kernel.unavailable_reason() {
            None => assert!(r.is_ok()),
            Some(why) => {
                eprintln!(
                    "skipped: running the {} kernel ({why}); checked that it is refused",
                    kernel.name()
                );
                let msg = r.unwrap_err().to_string();
                assert!(msg.contains(kernel.name()) && msg.contains(why), "{msg}");
            }
        }
    }
    let e = gemm_bf16(1.0, a.view(), false, a.view(), false, 0.0, &mut c.view_mut()).unwrap_err();
    assert!(
        e.to_string().contains("gemm_bf16") && e.to_string().contains("[2, 3]"),
        "{e}"
    );
    let mut wrong = Array2::<f32>::zeros((3, 2));
    let e = gemm_bf16(1.0, a.view(), false, a.view(), true, 0.0, &mut wrong.view_mut()).unwrap_err();
    assert!(
        e.to_string().contains("[3, 2]") && e.to_string().contains("[2, 2]"),
        "{e}"
    );
    assert!(Bf16Kernel::detected().available());
}
