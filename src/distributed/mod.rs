//! Data-parallel training across processes on MPI (cargo feature `mpi`).
//!
//! The same program runs on every process (`mpirun -np 4 ./train`, or
//! Slurm's `srun`); `fit` sees the MPI world and trains data-parallel:
//! rank 0's initial weights and optimizer state are broadcast, every rank
//! trains on its shard of each global batch (`batch_size` is the global
//! batch, drawn from the same seeded shuffle), the gradients are summed
//! across ranks and divided by the global batch, and every rank applies the
//! same optimizer step. Metrics and losses are those of the global batch on
//! every rank, so EarlyStopping, ReduceLROnPlateau and TerminateOnNaN decide
//! alike; only rank 0 writes checkpoints, CSV logs and progress bars. A
//! panic or an error of one rank inside training ends the job (MPI_Abort)
//! with the rank and the message. See `docs/distributed.md`.
//!
//! Without the `mpi` feature, or when no MPI launcher started the process,
//! the world is one process and `fit` is single-process training.
//!
//! ```
//! let world = neurite::distributed::world()?;
//! if world.is_root() {
//!     println!("rank {} of {}", world.rank(), world.size());
//! }
//! # Ok::<(), neurite::Error>(())
//! ```

mod collective;
mod gradient_buckets;
#[cfg(any(feature = "mpi", test))]
mod launcher;
mod local_group;
mod model_hooks;
#[cfg(feature = "mpi")]
mod mpi_world;
pub(crate) mod session;
mod shard;
mod stats;
mod strategy;

pub use gradient_buckets::{gradient_bucket_bytes, set_gradient_bucket_bytes};
pub use local_group::simulate;
pub use shard::{gradient_scale, shard_range};
pub use stats::{last_fit_stats, FitStats};
pub use strategy::{set_strategy, strategy, Strategy};

use crate::error::Result;

/// This process's place among the processes of a training job.
///
/// ```
/// let w = neurite::distributed::world()?;
/// assert!(w.rank() < w.size());
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct World {
    rank: usize,
    size: usize,
}

impl World {
    /// This process's rank, `0..size`.
    pub fn rank(&self) -> usize {
        self.rank
    }
    /// The number of processes.
    pub fn size(&self) -> usize {
        self.size
    }
    /// Whether this is rank 0, the process that writes files and prints.
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }
}

/// Initializes MPI now, even without a launcher (a world of one), with the
/// checks `fit` makes: the thread level granted (at least Funneled: only
/// this thread will call MPI) and the launcher/library match (a launcher
/// announcing N processes while MPI sees a world of 1 is an error). Without
/// the `mpi` feature: a world of one. MPI is finalized when the process exits.
///
/// ```
/// # #[cfg(not(feature = "mpi"))]
/// assert_eq!(neurite::distributed::init()?.size(), 1);
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn init() -> Result<World> {
    #[cfg(feature = "mpi")]
    {
        let info = mpi_world::world(false)
            .map_err(crate::Error::Distributed)?
            .expect("initialized on request");
        Ok(World {
            rank: info.rank,
            size: info.size,
        })
    }
    #[cfg(not(feature = "mpi"))]
    {
        Ok(World { rank: 0, size: 1 })
    }
}

/// The world `fit` trains in: MPI's when an MPI launcher started this
/// process (initializing MPI if needed; feature `mpi`), else one process.
///
/// ```
/// assert!(neurite::distributed::world()?.rank() < neurite::distributed::world()?.size());
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn world() -> Result<World> {
    if let Some(rank) = local_group::current() {
        use collective::Collective;
        return Ok(World {
            rank: rank.rank(),
            size: rank.size(),
        });
    }
    #[cfg(feature = "mpi")]
    {
        Ok(match mpi_world::world(true).map_err(crate::Error::Distributed)? {
            Some(info) => World {
                rank: info.rank,
                size: info.size,
            },
            None => World { rank: 0, size: 1 },
        })
    }
    #[cfg(not(feature = "mpi"))]
    {
        Ok(World { rank: 0, size: 1 })
    }
}

/// Whether this process is rank 0 (or the only process): the one that
/// should write files and print. `true` when the world cannot be set up.
///
/// ```
/// # #[cfg(not(feature = "mpi"))]
/// assert!(neurite::distributed::is_root());
/// ```
pub fn is_root() -> bool {
    world().map_or(true, |w| w.is_root())
}

/// Mean seconds one all-reduce (sum) of `values` f32 takes across the
/// world, as training reduces gradients (4 MiB buckets), over `repeats`
/// runs after a warm-up; every rank must call it alike. 0 in a world of
/// one. To size a job: the bytes moved per step are about `4 × parameters`.
///
/// ```
/// # #[cfg(not(feature = "mpi"))]
/// assert_eq!(neurite::distributed::time_all_reduce(1000, 3)?, 0.0);
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn time_all_reduce(values: usize, repeats: usize) -> Result<f64> {
    Ok(match session::Session::for_fit()? {
        Some(s) => s.time_sum(values, repeats),
        None => 0.0,
    })
}
