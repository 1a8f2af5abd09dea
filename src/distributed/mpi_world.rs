//! The MPI transport (feature `mpi`, through the `mpi` crate, rsmpi):
//! initialization with its checks, the collectives, and ending the job on a
//! panic.

use super::collective::{Collective, PendingSum};
use super::launcher;
use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::{Count, Threading};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

/// Kept until the process exits, then finalized (dropping it calls MPI_Finalize).
static UNIVERSE: Mutex<Option<Universe>> = Mutex::new(None);
/// The outcome of the one initialization a process may do.
static WORLD: OnceLock<Result<WorldInfo, String>> = OnceLock::new();

/// This process's place in the MPI world.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorldInfo {
    pub(crate) rank: usize,
    pub(crate) size: usize,
    /// The thread that initialized MPI: the only one that may call it (FUNNELED).
    pub(crate) thread: ThreadId,
}

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
}

extern "C" fn finalize_at_exit() {
    if let Ok(mut universe) = UNIVERSE.lock() {
        drop(universe.take());
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Initializes MPI once per process (later calls return the first outcome).
/// With `only_if_launched`, does nothing (`None`) when no MPI launcher
/// started the process.
pub(crate) fn world(only_if_launched: bool) -> Result<Option<WorldInfo>, String> {
    if WORLD.get().is_none() && only_if_launched && !launcher::launched(env) {
        return Ok(None);
    }
    WORLD.get_or_init(initialize).clone().map(Some)
}

fn initialize() -> Result<WorldInfo, String> {
    if mpi::environment::is_initialized() {
        return Err(
            "MPI was initialized outside neurite: let neurite initialize it (neurite::distributed::init)"
                .into(),
        );
    }
    let (universe, granted) = mpi::initialize_with_threading(Threading::Funneled)
        .ok_or_else(|| "MPI could not be initialized (MPI_Init_thread failed)".to_string())?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    *UNIVERSE
        .lock()
        .map_err(|_| "the MPI universe lock is poisoned".to_string())? = Some(universe);
    // SAFETY: registers a plain function without captures; it runs once at exit.
    unsafe { atexit(finalize_at_exit) };
    if granted < Threading::Funneled {
        return Err(format!(
            "the MPI library granted thread level {granted:?}; neurite needs at least Funneled (its compute threads \
             never call MPI, but they exist): rebuild or configure MPI with thread support"
        ));
    }
    if let Some(message) = launcher::mismatch(size, env) {
        return Err(message);
    }
    if size > 1 {
        abort_on_panic(rank, size);
    }
    Ok(WorldInfo {
        rank,
        size,
        thread: std::thread::current().id(),
    })
}

/// A panic anywhere in the process prints its message (the previous hook),
/// then the rank, and ends the whole job: the other ranks would otherwise
/// wait for this one forever in their next collective.
fn abort_on_panic(rank: usize, size: usize) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        eprintln!("neurite: rank {rank} of {size} panicked; aborting the MPI job (MPI_Abort)");
        SimpleCommunicator::world().abort(101);
    }));
}

/// The world communicator, usable on the thread that initialized MPI.
pub(crate) struct MpiWorld {
    comm: SimpleCommunicator,
    info: WorldInfo,
}

impl MpiWorld {
    /// The world, or an error when called from another thread than the one that initialized MPI.
    pub(crate) fn new(info: WorldInfo) -> Result<Self, String> {
        if std::thread::current().id() != info.thread {
            return Err(format!(
                "rank {}: training ran on a thread other than the one that initialized MPI (thread level Funneled): \
                 call fit from that thread",
                info.rank
            ));
        }
        Ok(MpiWorld {
            comm: SimpleCommunicator::world(),
            info,
        })
    }
}

fn counts_displs(counts: &[usize]) -> (Vec<Count>, Vec<Count>) {
    let counts: Vec<Count> = counts.iter().map(|&c| c as Count).collect();
    let displs = counts
        .iter()
        .scan(0, |acc, &c| {
            let at = *acc;
            *acc += c;
            Some(at)
        })
        .collect();
    (counts, displs)
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.info.rank
    }
    fn size(&self) -> usize {
        self.info.size
    }
    fn sum_f32(&self, buf: &mut [f32]) {
        let send = buf.to_vec();
        self.comm.all_reduce_into(&send[..], buf, SystemOperation::sum());
    }
    fn begin_sum_f32(&self, values: Vec<f32>) -> Box<dyn PendingSum + '_> {
        Box::new(MpiPendingSum::start(&self.comm, values))
    }
    fn sum_f64(&self, buf: &mut [f64]) {
        let send = buf.to_vec();
        self.comm.all_reduce_into(&send[..], buf, SystemOperation::sum());
    }
    fn max_u64(&self, buf: &mut [u64]) {
        let send = buf.to_vec();
        self.comm.all_reduce_into(&send[..], buf, SystemOperation::max());
    }
    fn broadcast_f32(&self, buf: &mut [f32]) {
        self.comm.process_at_rank(0).broadcast_into(buf);
    }
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
        let mut len = bytes.len() as u64;
        self.comm.process_at_rank(0).broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        self.comm.process_at_rank(0).broadcast_into(&mut bytes[..]);
    }
    fn gather_f32(&self, local: &[f32], counts: &[usize]) -> Vec<f32> {
        let mut out = vec![0.0f32; counts.iter().sum()];
        let (counts, displs) = counts_displs(counts);
        let mut partition = PartitionMut::new(&mut out[..], counts, &displs[..]);
        self.comm.all_gather_varcount_into(local, &mut partition);
        out
    }
    fn gather_u64(&self, value: u64) -> Vec<u64> {
        let mut out = vec![0u64; self.info.size];
        self.comm.all_gather_into(&value, &mut out[..]);
        out
    }
    fn abort(&self, message: &str) -> ! {
        eprintln!(
            "neurite: rank {} of {}: {message}; aborting the MPI job (MPI_Abort)",
            self.info.rank, self.info.size
        );
        self.comm.abort(1)
    }
}

/// Values per nonblocking all-reduce call (MPI counts are C ints).
const MAX_CALL_VALUES: usize = 1 << 30;

/// A nonblocking all-reduce (MPI_Iallreduce, sum of f32) in flight: it owns
/// the send and receive buffers until MPI is done with them.
struct MpiPendingSum {
    send: Vec<f32>,
    recv: Vec<f32>,
    requests: Vec<mpi::ffi::MPI_Request>,
    complete: bool,
}

impl MpiPendingSum {
    fn start(comm: &SimpleCommunicator, send: Vec<f32>) -> Self {
        let mut recv = vec![0.0f32; send.len()];
        let mut requests = Vec::with_capacity(send.len().div_ceil(MAX_CALL_VALUES));
        for (s, r) in send.chunks(MAX_CALL_VALUES).zip(recv.chunks_mut(MAX_CALL_VALUES)) {
            let mut request = std::mem::MaybeUninit::<mpi::ffi::MPI_Request>::uninit();
            // SAFETY: the buffers are owned by `self` and neither moved (a
            // Vec's heap block stays put) nor freed until MPI reports the
            // request complete (or the job is ended, see Drop); the count fits
            // a C int; RSMPI_FLOAT/RSMPI_SUM are MPI's predefined handles.
            unsafe {
                mpi::ffi::MPI_Iallreduce(
                    s.as_ptr().cast(),
                    r.as_mut_ptr().cast(),
                    s.len() as Count,
                    mpi::ffi::RSMPI_FLOAT,
                    mpi::ffi::RSMPI_SUM,
                    comm.as_raw(),
                    request.as_mut_ptr(),
                );
                requests.push(request.assume_init());
            }
        }
        MpiPendingSum {
            complete: requests.is_empty(),
            send,
            recv,
            requests,
        }
    }
}

impl PendingSum for MpiPendingSum {
    fn progress(&mut self) -> bool {
        if !self.complete {
            let mut all = true;
            for request in &mut self.requests {
                let mut flag: std::os::raw::c_int = 0;
                // SAFETY: a request of this sum (MPI sets it to MPI_REQUEST_NULL
                // once complete; testing a null request reports it complete).
                unsafe { mpi::ffi::MPI_Test(request, &mut flag, mpi::ffi::RSMPI_STATUS_IGNORE) };
                all &= flag != 0;
            }
            self.complete = all;
        }
        self.complete
    }

    fn wait(mut self: Box<Self>) -> Vec<f32> {
        for request in &mut self.requests {
            // SAFETY: as in `progress`; waiting on a completed (null) request returns at once.
            unsafe { mpi::ffi::MPI_Wait(request, mpi::ffi::RSMPI_STATUS_IGNORE) };
        }
        self.complete = true;
        std::mem::take(&mut self.recv)
    }
}

impl Drop for MpiPendingSum {
    fn drop(&mut self) {
        if !self.complete {
            // Only when training failed on this rank, which then ends the job
            // (MPI_Abort): waiting could hang on ranks that will never join,
            // and freeing buffers MPI may still write is unsound, so they are
            // leaked instead.
            std::mem::forget(std::mem::take(&mut self.send));
            std::mem::forget(std::mem::take(&mut self.recv));
        }
    }
}
