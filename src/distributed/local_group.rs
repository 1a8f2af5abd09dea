//! A world of threads in one process ([`simulate`]): the same collectives
//! as MPI's, so the data-parallel training code runs and is tested without
//! an MPI library or launcher.

use super::collective::{Collective, Finished, PendingSum};
use super::World;
use std::cell::RefCell;
use std::sync::{Arc, Barrier, Mutex};

/// What the ranks of a simulated world share: one slot per rank for the
/// values being exchanged, and a barrier.
struct Shared {
    size: usize,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<u8>>>,
}

/// One rank of a simulated world.
#[derive(Clone)]
pub(crate) struct LocalRank {
    rank: usize,
    shared: Arc<Shared>,
}

thread_local! {
    static CURRENT: RefCell<Option<LocalRank>> = const { RefCell::new(None) };
}

/// The simulated rank of this thread, if it runs inside [`simulate`].
pub(crate) fn current() -> Option<LocalRank> {
    CURRENT.with(|c| c.borrow().clone())
}

impl LocalRank {
    /// Every rank's bytes, in rank order: each rank puts its own in its
    /// slot, all wait, all read, all wait again (so no slot is overwritten
    /// before everyone has read it).
    fn exchange(&self, mine: Vec<u8>) -> Vec<Vec<u8>> {
        self.shared.slots.lock().expect("simulated world poisoned")[self.rank] = mine;
        self.shared.barrier.wait();
        let all = self
            .shared
            .slots
            .lock()
            .expect("simulated world poisoned")
            .clone();
        self.shared.barrier.wait();
        all
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(b: &[u8]) -> impl Iterator<Item = f32> + '_ {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fn f64s(b: &[u8]) -> impl Iterator<Item = f64> + '_ {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
}

fn u64s(b: &[u8]) -> impl Iterator<Item = u64> + '_ {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
}

impl Collective for LocalRank {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn sum_f32(&self, buf: &mut [f32]) {
        let all = self.exchange(f32_bytes(buf));
        buf.fill(0.0);
        for theirs in &all {
            for (b, x) in buf.iter_mut().zip(f32s(theirs)) {
                *b += x;
            }
        }
    }
    /// Threads sum at once (a blocking exchange): the order of the sums is
    /// what the simulation checks, not their overlap.
    fn begin_sum_f32(&self, mut values: Vec<f32>) -> Box<dyn PendingSum + '_> {
        self.sum_f32(&mut values);
        Box::new(Finished(values))
    }
    fn sum_f64(&self, buf: &mut [f64]) {
        let all = self.exchange(buf.iter().flat_map(|x| x.to_le_bytes()).collect());
        buf.fill(0.0);
        for theirs in &all {
            for (b, x) in buf.iter_mut().zip(f64s(theirs)) {
                *b += x;
            }
        }
    }
    fn max_u64(&self, buf: &mut [u64]) {
        let all = self.exchange(buf.iter().flat_map(|x| x.to_le_bytes()).collect());
        for theirs in &all {
            for (b, x) in buf.iter_mut().zip(u64s(theirs)) {
                *b = (*b).max(x);
            }
        }
    }
    fn broadcast_f32(&self, buf: &mut [f32]) {
        let all = self.exchange(f32_bytes(buf));
        for (b, x) in buf.iter_mut().zip(f32s(&all[0])) {
            *b = x;
        }
    }
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
        let all = self.exchange(bytes.clone());
        bytes.clone_from(&all[0]);
    }
    fn gather_f32(&self, local: &[f32], counts: &[usize]) -> Vec<f32> {
        debug_assert_eq!(counts[self.rank], local.len());
        self.exchange(f32_bytes(local))
            .iter()
            .flat_map(|b| f32s(b).collect::<Vec<_>>())
            .collect()
    }
    fn gather_u64(&self, value: u64) -> Vec<u64> {
        self.exchange(value.to_le_bytes().to_vec())
            .iter()
            .flat_map(|b| u64s(b).collect::<Vec<_>>())
            .collect()
    }
    fn abort(&self, message: &str) -> ! {
        eprintln!(
            "neurite: simulated rank {} of {}: {message}; aborting the process",
            self.rank, self.shared.size
        );
        std::process::abort()
    }
}

/// Runs `train` on `ranks` threads that form one simulated world, as
/// `mpirun -np ranks` would run the program: `fit` on each thread trains
/// data-parallel with the others, exactly as on MPI (same sharding, sums,
/// broadcasts and averaging; sums add the ranks in rank order). Returns each
/// rank's result, in rank order. For tests and for trying data-parallel
/// training without MPI; an error of one rank inside training aborts the
/// process, as MPI_Abort would end the job; so does a panic.
///
/// ```
/// use neurite::prelude::*;
/// let x = Tensor::from_shape_fn(ndarray::IxDyn(&[12, 2]), |i| (i[0] * 2 + i[1]) as f32 / 24.0);
/// let y = Tensor::from_shape_fn(ndarray::IxDyn(&[12, 1]), |i| i[0] as f32 / 12.0);
/// let weights = neurite::distributed::simulate(2, |world| {
///     let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
///     model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[]).unwrap();
///     model.fit(&x, &y, FitOptions::new().batch_size(6).verbose(0)).unwrap();
///     (world.rank(), model.get_weights())
/// });
/// assert_eq!(weights[0].1, weights[1].1); // the ranks end with the same weights
/// ```
pub fn simulate<T: Send>(ranks: usize, train: impl Fn(World) -> T + Sync) -> Vec<T> {
    assert!(ranks > 0, "simulate: at least one rank");
    let shared = Arc::new(Shared {
        size: ranks,
        barrier: Barrier::new(ranks),
        slots: Mutex::new(vec![Vec::new(); ranks]),
    });
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..ranks)
            .map(|rank| {
                let (shared, train) = (Arc::clone(&shared), &train);
                scope.spawn(move || {
                    CURRENT.with(|c| *c.borrow_mut() = Some(LocalRank { rank, shared }));
                    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        train(World { rank, size: ranks })
                    }));
                    CURRENT.with(|c| *c.borrow_mut() = None);
                    out.unwrap_or_else(|_| {
                        // The other ranks may wait for this one in a collective: end the process, as MPI_Abort would.
                        eprintln!("neurite: simulated rank {rank} of {ranks} panicked; aborting the process");
                        std::process::abort()
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulated rank's panic aborts the process"))
            .collect()
    })
}
