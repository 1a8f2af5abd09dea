//! [`Cursor`]: reads a [`DataStream`] epoch after epoch with Keras' `steps_per_epoch`
//! semantics.

use super::source::{BatchIter, DataStream, StreamBatch};
use crate::error::{Error, Result};

/// The position in a stream across the epochs of one `fit` (or one evaluation).
///
/// * Without `steps_per_epoch`, every epoch starts a new pass over the data and reads it to
///   its end ([`Cursor::end_pass`]).
/// * With `steps_per_epoch`, a pass goes on across epochs; one that is used up at the start
///   of an epoch starts over (Keras 3's `EpochIterator`); one that runs out in the middle
///   ends that epoch early.
///
/// A pass that yields no batch at all is an error (zero steps); a read-once iterator that is
/// used up yields `None`.
pub(crate) struct Cursor<'s> {
    stream: &'s mut DataStream,
    current: Option<BatchIter>,
    /// The current pass has yielded nothing yet.
    fresh: bool,
    next_pass: u64,
    seed: u64,
    shuffle: bool,
    batch_size: usize,
    what: &'static str,
}

impl<'s> Cursor<'s> {
    /// Passes are numbered from `first_pass`; an indexed source is shuffled with `seed` when
    /// `shuffle` and cut into `batch_size` batches (unless the stream sets its own size).
    pub(crate) fn new(
        stream: &'s mut DataStream,
        first_pass: u64,
        seed: u64,
        shuffle: bool,
        batch_size: usize,
        what: &'static str,
    ) -> Self {
        Cursor {
            stream,
            current: None,
            fresh: false,
            next_pass: first_pass,
            seed,
            shuffle,
            batch_size,
            what,
        }
    }

    /// The next batch. `epoch_start`: no batch of this epoch has been read yet, so a used-up
    /// pass may start over. `Ok(None)`: the data ran out.
    pub(crate) fn next(&mut self, epoch_start: bool) -> Result<Option<StreamBatch>> {
        loop {
            if self.current.is_none() {
                let pass = self.next_pass;
                match self
                    .stream
                    .start(pass, self.seed, self.shuffle, self.batch_size)?
                {
                    Some(iter) => {
                        self.current = Some(iter);
                        self.fresh = true;
                        self.next_pass += 1;
                    }
                    None => return Ok(None),
                }
            }
            let Some(iter) = self.current.as_mut() else {
                return Ok(None);
            };
            match iter.next() {
                Some(batch) => {
                    self.fresh = false;
                    return batch.map(Some);
                }
                None => {
                    self.current = None;
                    if self.fresh {
                        return Err(Error::Input(format!(
                            "{}: the data stream yielded no batches (zero steps): check that its files or \
                             generator hold data",
                            self.what
                        )));
                    }
                    if !(epoch_start && self.stream.restartable()) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Ends the current pass: the next batch starts a new one.
    pub(crate) fn end_pass(&mut self) {
        self.current = None;
    }
}

/// Checks that every batch of a stream has the same layout as the first one: the same number
/// of arrays, the same sample shapes, one row count per batch.
/// The sample shapes of a batch's inputs and of its targets.
type Layout = (Vec<Vec<usize>>, Vec<Vec<usize>>);

pub(crate) struct BatchShapes {
    first: Option<Layout>,
}

impl BatchShapes {
    pub(crate) fn new() -> Self {
        BatchShapes { first: None }
    }

    /// The batch's row count, or an error naming the call, the epoch and the batch.
    pub(crate) fn check(&mut self, what: &str, epoch: usize, batch: usize, b: &StreamBatch) -> Result<usize> {
        let at = format!("{what}: batch {batch} of epoch {epoch}");
        let rows = match b.xs.first() {
            Some(x) if x.ndim() > 0 => x.shape()[0],
            Some(x) => {
                return Err(Error::Input(format!(
                    "{at}: x needs a batch axis, found shape {:?}",
                    x.shape()
                )))
            }
            None => return Err(Error::Input(format!("{at}: the batch has no input array"))),
        };
        if rows == 0 {
            return Err(Error::Input(format!("{at}: an empty batch (0 samples)")));
        }
        let arrays = b.xs.iter().map(|a| ("x", a)).chain(b.ys.iter().map(|a| ("y", a)));
        for (role, a) in arrays.chain(b.sample_weight.iter().map(|w| ("sample_weight", w))) {
            if a.ndim() == 0 || a.shape()[0] != rows {
                return Err(Error::Input(format!(
                    "{at}: {role} has shape {:?} but x has {rows} samples: every array of a batch needs \
                     the same number of samples",
                    a.shape()
                )));
            }
        }
        if let Some(w) = &b.sample_weight {
            if w.ndim() != 1 {
                return Err(Error::Input(format!(
                    "{at}: sample_weight must have shape ({rows},), found {:?}",
                    w.shape()
                )));
            }
        }
        let samples =
            |v: &[neurite_tensor::Tensor]| v.iter().map(|a| a.shape()[1..].to_vec()).collect::<Vec<_>>();
        let shapes = (samples(&b.xs), samples(&b.ys));
        match &self.first {
            None => self.first = Some(shapes),
            Some(first) if *first != shapes => {
                return Err(Error::Input(format!(
                    "{at}: samples of shape x {:?}, y {:?} differ from the first batch's x {:?}, y {:?}: a \
                     stream must yield batches of one layout",
                    shapes.0, shapes.1, first.0, first.1
                )));
            }
            Some(_) => {}
        }
        Ok(rows)
    }
}
