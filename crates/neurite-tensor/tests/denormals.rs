//! Tests of `neurite_tensor::denormals`: the scope restores the caller's mode,
//! rayon's threads keep it, the `Keep` policy changes nothing, and the kernels
//! (matmul, a dense layer's forward, conv2d) under the flush mode give exactly
//! the plain (non-flushing) result computed on the inputs with their denormals
//! replaced by zero (DAZ), with the denormals of that result replaced by zero
//! (FTZ).
//!
//! Why exact equality (bit for bit, except that +0 and -0 count as equal) is
//! the right check: the flushed and the reference runs do the same operations
//! in the same order on the same thread split; DAZ makes a denormal input
//! behave exactly like a zero of the same sign, which is what the reference
//! gets. The normal inputs are drawn from ±[1e-3, 2], so every product and
//! every partial sum of them is zero or far above `f32::MIN_POSITIVE`: no
//! intermediate can be denormal in one run and not in the other. The "tiny"
//! cases scale the inputs by 1e-21 so that every product *is* denormal
//! (below 4e-42): FTZ flushes each one to zero, and the reference's sums of at
//! most 144 of them (a 3x3x16 kernel) stay below 6e-40 < `f32::MIN_POSITIVE`,
//! so its outputs are all denormal and zeroed. On batches of 12 to 19 images
//! the convolution runs several tasks on rayon's threads, so those cases fail
//! if the pool is not flushing (checked by disabling the pool's flushing in
//! `DenormalScope::enter`).
//! Only the sign of a zero can depend on the order in which zeros and tiny
//! values met, hence "+0 equals -0".
//!
//! The rayon pool and the policy are process-wide, so every test holds `LOCK`.

use ndarray::{Array1, Array2, Array4};
use neurite_tensor::denormals::{
    denormals_flushed, flush_denormals, flush_denormals_on_workers, is_supported, policy, set_policy,
    DenormalPolicy, DenormalScope,
};
use neurite_tensor::{conv2d, conv2d_relu, elementwise, gemm, unary, Conv2dParams, Padding, Tensor};
use proptest::prelude::*;
use rayon::prelude::*;
use std::sync::{Mutex, MutexGuard};

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn is_denormal(v: f32) -> bool {
    v != 0.0 && v.abs() < f32::MIN_POSITIVE
}

/// What DAZ/FTZ make of a value: a denormal becomes a zero of the same sign.
fn flushed(v: f32) -> f32 {
    if is_denormal(v) {
        0.0f32.copysign(v)
    } else {
        v
    }
}

fn flush_all<D: ndarray::Dimension>(a: &ndarray::Array<f32, D>) -> ndarray::Array<f32, D> {
    a.mapv(flushed)
}

/// Equal bit patterns, or both zero (of either sign).
fn same_value(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a == 0.0 && b == 0.0)
}

fn assert_same<D: ndarray::Dimension>(got: &ndarray::Array<f32, D>, want: &ndarray::Array<f32, D>) {
    assert_eq!(got.shape(), want.shape());
    for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(
            same_value(g, w),
            "element {i}: flushed run {g:e} ({:#x}), reference {w:e} ({:#x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// Runs `f` with flushing off on this thread and every rayon thread.
fn without_flushing<T>(f: impl FnOnce() -> T) -> T {
    set_policy(DenormalPolicy::Keep);
    let previous = flush_denormals(false);
    let out = f();
    flush_denormals(previous);
    set_policy(DenormalPolicy::Flush);
    out
}

/// Runs `f` inside a `DenormalScope` under the default policy.
fn with_flushing<T>(f: impl FnOnce() -> T) -> T {
    set_policy(DenormalPolicy::Flush);
    // Start from no flushing anywhere: the scope alone must turn it on.
    flush_denormals_on_workers(false);
    let previous = flush_denormals(false);
    let out = {
        let _scope = DenormalScope::enter();
        f()
    };
    flush_denormals(previous);
    out
}

/// A denormal of either sign (every mantissa from the smallest to the largest).
fn denormal() -> impl Strategy<Value = f32> {
    (1u32..0x0080_0000, any::<bool>())
        .prop_map(|(m, neg)| f32::from_bits(m | if neg { 0x8000_0000 } else { 0 }))
}

/// Zero, a denormal, or a normal value in ±[1e-3, 2].
fn entry() -> impl Strategy<Value = f32> {
    prop_oneof![
        1 => Just(0.0f32),
        2 => denormal(),
        4 => (1e-3f32..2.0, any::<bool>()).prop_map(|(v, neg)| if neg { -v } else { v }),
    ]
}

/// Normal values scaled by 1e-21 (products are denormal), or a denormal.
fn tiny_entry() -> impl Strategy<Value = f32> {
    prop_oneof![
        1 => denormal(),
        3 => (1e-3f32..2.0, any::<bool>()).prop_map(|(v, neg)| 1e-21 * if neg { -v } else { v }),
    ]
}

fn matrix(rows: usize, cols: usize, value: BoxedStrategy<f32>) -> impl Strategy<Value = Array2<f32>> {
    proptest::collection::vec(value, rows * cols)
        .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).expect("rows * cols values"))
}

fn matmul_case(value: fn() -> BoxedStrategy<f32>) -> impl Strategy<Value = (Array2<f32>, Array2<f32>)> {
    (1usize..24, 1usize..17, 1usize..24)
        .prop_flat_map(move |(m, k, n)| (matrix(m, k, value()), matrix(k, n, value())))
}

fn any_entry() -> BoxedStrategy<f32> {
    entry().boxed()
}

fn any_tiny_entry() -> BoxedStrategy<f32> {
    tiny_entry().boxed()
}

/// A dense layer's forward, written with the tensor kernels: relu(x·W + b).
fn dense_forward(x: &Array2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Tensor {
    let xw = gemm::matmul(x.view(), w.view()).expect("shapes agree").into_dyn();
    let z = elementwise::add(&xw, &b.clone().into_dyn()).expect("bias broadcasts");
    unary::relu(&z)
}

#[derive(Debug, Clone)]
struct ConvCase {
    x: Array4<f32>,
    w: Array4<f32>,
    b: Array1<f32>,
    same: bool,
}

/// Channel counts that reach the three forward kernels: 1 (direct, at most 32
/// taps), 16 (Winograd on a 3x3 kernel with outputs of at least 8x8) and 5
/// (im2col + GEMM).
/// `batch` images (small batches run as one task, on the calling thread).
/// The bias is drawn from `bias` (a zero bias for the tiny cases: a normal
/// bias plus a denormal sum would round differently from the bias plus 0).
fn conv_case(
    batch: std::ops::Range<usize>,
    value: fn() -> BoxedStrategy<f32>,
    bias: fn() -> BoxedStrategy<f32>,
) -> impl Strategy<Value = ConvCase> {
    (
        batch,
        prop_oneof![Just(1usize), Just(5), Just(16)],
        1usize..5,
        8usize..12,
        any::<bool>(),
    )
        .prop_flat_map(move |(n, c, f, hw, same)| {
            (
                proptest::collection::vec(value(), n * hw * hw * c),
                proptest::collection::vec(value(), 9 * c * f),
                proptest::collection::vec(bias(), f),
            )
                .prop_map(move |(x, w, b)| ConvCase {
                    x: Array4::from_shape_vec((n, hw, hw, c), x).expect("input values"),
                    w: Array4::from_shape_vec((3, 3, c, f), w).expect("kernel values"),
                    b: Array1::from_vec(b),
                    same,
                })
        })
}

fn zero() -> BoxedStrategy<f32> {
    Just(0.0f32).boxed()
}

fn check_conv(case: &ConvCase) {
    let p = Conv2dParams {
        padding: if case.same { Padding::Same } else { Padding::Valid },
        ..Default::default()
    };
    for relu in [false, true] {
        let run = |x: &Array4<f32>, w: &Array4<f32>, b: &Array1<f32>| {
            let op = if relu { conv2d_relu } else { conv2d };
            op(x.view(), w.view(), Some(b.view()), &p).expect("valid convolution")
        };
        let got = with_flushing(|| run(&case.x, &case.w, &case.b));
        let want = without_flushing(|| run(&flush_all(&case.x), &flush_all(&case.w), &flush_all(&case.b)));
        let want = if is_supported() { flush_all(&want) } else { want };
        assert_same(&got, &want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matmul_flushed_equals_plain_on_flushed_inputs((a, b) in matmul_case(any_entry)) {
        let _l = lock();
        let got = with_flushing(|| gemm::matmul(a.view(), b.view()).expect("shapes agree"));
        let want = without_flushing(|| gemm::matmul(flush_all(&a).view(), flush_all(&b).view()).expect("shapes agree"));
        let want = if is_supported() { flush_all(&want) } else { want };
        assert_same(&got, &want);
    }

    #[test]
    fn matmul_of_tiny_values_flushes_every_denormal_product((a, b) in matmul_case(any_tiny_entry)) {
        let _l = lock();
        let got = with_flushing(|| gemm::matmul(a.view(), b.view()).expect("shapes agree"));
        let plain = without_flushing(|| gemm::matmul(flush_all(&a).view(), flush_all(&b).view()).expect("shapes agree"));
        if is_supported() {
            assert_same(&got, &flush_all(&plain));
            prop_assert!(got.iter().all(|&v| v == 0.0), "every product is denormal, so every sum flushes to 0");
        } else {
            assert_same(&got, &plain);
        }
    }

    #[test]
    fn dense_forward_flushed_equals_plain_on_flushed_inputs(
        (x, w) in matmul_case(any_entry),
        bias_seed in proptest::collection::vec(entry(), 24),
    ) {
        let _l = lock();
        let b = Array1::from_iter(bias_seed.iter().copied().cycle().take(w.ncols()));
        let got = with_flushing(|| dense_forward(&x, &w, &b));
        let want = without_flushing(|| dense_forward(&flush_all(&x), &flush_all(&w), &flush_all(&b)));
        let want = if is_supported() { flush_all(&want) } else { want };
        assert_same(&got, &want);
    }

    #[test]
    fn conv2d_flushed_equals_plain_on_flushed_inputs(case in conv_case(1..3, any_entry, any_entry)) {
        let _l = lock();
        check_conv(&case);
    }

    #[test]
    fn conv2d_of_tiny_values_flushes_every_denormal_product(case in conv_case(12..20, any_tiny_entry, zero)) {
        let _l = lock();
        check_conv(&case);
    }
}

/// A denormal times 2 computed on every rayon thread: 0 when that thread
/// flushes (DAZ), 2x the denormal otherwise.
fn doubled_denormal_on_each_worker() -> Vec<f32> {
    rayon::broadcast(|_| std::hint::black_box(1.0e-39f32) * std::hint::black_box(2.0f32))
}

#[test]
fn scope_restores_the_callers_mode_and_workers_keep_flushing() {
    let _l = lock();
    set_policy(DenormalPolicy::Flush);
    for callers_mode in [false, true] {
        let previous = flush_denormals(callers_mode);
        flush_denormals_on_workers(false);
        {
            let _scope = DenormalScope::enter();
            assert_eq!(denormals_flushed(), is_supported(), "on inside the scope");
            {
                let _inner = DenormalScope::enter();
                assert_eq!(denormals_flushed(), is_supported());
            }
            assert_eq!(
                denormals_flushed(),
                is_supported(),
                "an inner scope restores the outer one's mode"
            );
            // Kernels run on the pool: a denormal read there is 0.
            let v = vec![1.0e-39f32; 64];
            let doubled: Vec<f32> = v.par_iter().map(|&x| std::hint::black_box(x) * 2.0).collect();
            assert!(
                doubled.iter().all(|&d| (d == 0.0) == is_supported()),
                "{doubled:?}"
            );
        }
        assert_eq!(
            denormals_flushed(),
            callers_mode && is_supported(),
            "caller's mode restored"
        );
        assert!(rayon::broadcast(|_| denormals_flushed())
            .iter()
            .all(|&on| on == is_supported()));
        assert!(doubled_denormal_on_each_worker()
            .iter()
            .all(|&d| (d == 0.0) == is_supported()));
        flush_denormals(previous);
    }
}

#[test]
fn scope_leaves_normal_arithmetic_alone_and_the_caller_makes_denormals_after_it() {
    let _l = lock();
    set_policy(DenormalPolicy::Flush);
    let previous = flush_denormals(false);
    {
        let _scope = DenormalScope::enter();
        // Flushing must not change ordinary arithmetic.
        let third = std::hint::black_box(1.0f32) / std::hint::black_box(3.0f32);
        assert_eq!(third, 1.0 / 3.0);
        assert_eq!(
            std::hint::black_box(f32::MIN_POSITIVE) * std::hint::black_box(1.0f32),
            f32::MIN_POSITIVE
        );
    }
    // Denormals are produced again on the caller after the scope.
    let half = std::hint::black_box(f32::MIN_POSITIVE) * std::hint::black_box(0.5f32);
    assert!(is_denormal(half), "{half:e}");
    flush_denormals(previous);
}

#[test]
fn keep_policy_changes_no_thread() {
    let _l = lock();
    set_policy(DenormalPolicy::Flush);
    flush_denormals_on_workers(true);
    set_policy(DenormalPolicy::Keep);
    assert_eq!(policy(), DenormalPolicy::Keep);
    assert!(
        rayon::broadcast(|_| denormals_flushed()).iter().all(|&on| !on),
        "Keep clears what Flush set on the pool"
    );
    let previous = flush_denormals(false);
    {
        let _scope = DenormalScope::enter();
        assert!(!denormals_flushed(), "Keep leaves the caller alone");
        assert!(rayon::broadcast(|_| denormals_flushed()).iter().all(|&on| !on));
        let v = vec![1.0e-39f32; 64];
        let doubled: Vec<f32> = v.par_iter().map(|&x| std::hint::black_box(x) * 2.0).collect();
        let twice = f32::from_bits(2 * 1.0e-39f32.to_bits());
        assert!(doubled.iter().all(|&d| d == twice), "{doubled:?}");
    }
    // Keep does not clear a mode the program set itself either.
    flush_denormals(true);
    {
        let _scope = DenormalScope::enter();
    }
    assert_eq!(denormals_flushed(), is_supported());
    flush_denormals(previous);
    set_policy(DenormalPolicy::Flush);
}

#[test]
fn flush_denormals_reports_the_previous_mode() {
    let _l = lock();
    let original = flush_denormals(false);
    assert!(!flush_denormals(true));
    assert_eq!(flush_denormals(false), is_supported());
    assert!(!denormals_flushed());
    flush_denormals(original);
}
