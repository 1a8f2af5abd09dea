//! The collective operations data-parallel training needs, over any
//! transport (MPI when the `mpi` feature is on). Every rank calls the same
//! operations in the same order; only the thread that set up the world calls
//! them (never a rayon worker).

/// Collective operations over the processes of one training job.
pub(crate) trait Collective {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` by its element-wise sum over the ranks (the same bits on every rank).
    fn sum_f32(&self, buf: &mut [f32]);
    /// Starts the element-wise sum of `values` over the ranks without
    /// waiting for it (a nonblocking all-reduce); every rank starts the same
    /// sums in the same order. The caller drives it with
    /// [`PendingSum::progress`] and collects it with [`PendingSum::wait`].
    fn begin_sum_f32(&self, values: Vec<f32>) -> Box<dyn PendingSum + '_>;
    /// Replaces `buf` by its element-wise sum over the ranks.
    fn sum_f64(&self, buf: &mut [f64]);
    /// Replaces `buf` by its element-wise maximum over the ranks.
    fn max_u64(&self, buf: &mut [u64]);
    /// Rank 0's `buf` on every rank (same length everywhere).
    fn broadcast_f32(&self, buf: &mut [f32]);
    /// Rank 0's bytes on every rank (any length).
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>);
    /// Every rank's `local` values, in rank order; `counts[r]` is how many rank `r` sends.
    fn gather_f32(&self, local: &[f32], counts: &[usize]) -> Vec<f32>;
    /// Every rank's `value`, in rank order.
    fn gather_u64(&self, value: u64) -> Vec<u64>;
    /// Ends every process of the job now, after printing `message` with this rank.
    fn abort(&self, message: &str) -> !;
}

/// A sum started by [`Collective::begin_sum_f32`]. Dropped unfinished only
/// when training fails on this rank, right before the job is ended.
pub(crate) trait PendingSum {
    /// Lets the transport move the sum along (it may need the caller's
    /// thread to progress); true once it is complete.
    fn progress(&mut self) -> bool;
    /// Waits for the sum and returns it.
    fn wait(self: Box<Self>) -> Vec<f32>;
}

/// A sum that was complete when it was started (a transport without
/// nonblocking collectives).
pub(crate) struct Finished(pub(crate) Vec<f32>);

impl PendingSum for Finished {
    fn progress(&mut self) -> bool {
        true
    }
    fn wait(self: Box<Self>) -> Vec<f32> {
        self.0
    }
}
