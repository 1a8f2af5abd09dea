//! The seconds of consecutive chunks of batches inside one timed run (issue 22's
//! slowdown check): a run of `steps` batches is cut into `min(4, steps)` chunks, chunk
//! `k` ending after batch `(k + 1) * steps / chunks - 1` (0-based), the same cut as
//! `benches/reference/common.py`'s `chunk_ends`.

use neurite::callbacks::{Callback, Logs, ModelHandle};
use std::time::Instant;

/// Chunks per run (fewer when the run has fewer batches).
pub const CHUNKS: usize = 4;

/// 0-based indices of the batches after which each chunk of a `steps`-batch run ends.
pub fn chunk_ends(steps: usize) -> Vec<usize> {
    let chunks = CHUNKS.min(steps);
    (0..chunks).map(|k| (k + 1) * steps / chunks - 1).collect()
}

/// Notes the time at the end of every chunk of a training run: a `fit` callback whose
/// `on_batch_end` compares the batch index with the next chunk end (one comparison per
/// batch, an `Instant::now()` per chunk).
pub struct ChunkClock {
    ends: Vec<usize>,
    start: Instant,
    marks: Vec<Instant>,
}

impl ChunkClock {
    /// A clock for runs of `steps` batches, started now.
    pub fn new(steps: usize) -> Self {
        ChunkClock {
            ends: chunk_ends(steps),
            start: Instant::now(),
            marks: Vec::with_capacity(CHUNKS),
        }
    }

    /// Starts a run: the first chunk counts from now.
    pub fn begin(&mut self) {
        self.start = Instant::now();
        self.marks.clear();
    }

    /// Marks the end of batch `batch` (0-based within the run).
    pub fn batch_end(&mut self, batch: usize) {
        if self.ends.get(self.marks.len()) == Some(&batch) {
            self.marks.push(Instant::now());
        }
    }

    /// Seconds of each chunk that ended since [`ChunkClock::begin`].
    pub fn seconds(&self) -> Vec<f64> {
        let mut prev = self.start;
        self.marks
            .iter()
            .map(|&t| {
                let s = t.duration_since(prev).as_secs_f64();
                prev = t;
                s
            })
            .collect()
    }
}

impl Callback for ChunkClock {
    // As the Keras reference: the first chunk starts when fit starts its batches.
    fn on_train_begin(&mut self, _model: &mut dyn ModelHandle) -> neurite::Result<()> {
        self.begin();
        Ok(())
    }

    fn on_batch_end(
        &mut self,
        _epoch: usize,
        batch: usize,
        _logs: &Logs,
        _model: &mut dyn ModelHandle,
    ) -> neurite::Result<()> {
        self.batch_end(batch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_where_the_python_references_end_them() {
        // common.chunk_ends(steps) in benches/reference/common.py.
        assert_eq!(chunk_ends(8), [1, 3, 5, 7]);
        assert_eq!(chunk_ends(10), [1, 4, 6, 9]);
        assert_eq!(chunk_ends(3), [0, 1, 2]);
        assert_eq!(chunk_ends(1), [0]);
    }

    #[test]
    fn a_clock_marks_only_chunk_ends_in_order() {
        let mut clock = ChunkClock::new(8);
        clock.begin();
        for b in 0..8 {
            clock.batch_end(b);
        }
        let s = clock.seconds();
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|&x| x >= 0.0));
        // A second run starts afresh; batches past the ends add nothing.
        clock.begin();
        clock.batch_end(1);
        clock.batch_end(9);
        assert_eq!(clock.seconds().len(), 1);
    }
}
