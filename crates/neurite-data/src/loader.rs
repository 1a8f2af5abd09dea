//! [`DataLoader`]: mini-batches of a [`Dataset`], shuffled with a seed, assembled and augmented
//! in parallel ahead of the training step.
//!
//! # How it works
//!
//! * **Order.** Epoch `e` visits the samples in `0..n` order, or, with [`DataLoader::shuffle`],
//!   in a permutation drawn from `Generator` seeded by `(seed, e)`. Consecutive runs of
//!   `batch_size` indices form the batches; the last one is smaller unless
//!   [`DataLoader::drop_last`] drops it. Without `drop_last`, every sample appears exactly once
//!   per epoch.
//! * **Assembly.** A batch is copied from the dataset into a new contiguous (standard layout)
//!   array: `x` of shape `(batch, sample shape...)` (NHWC for images) and `y` likewise.
//!   Samples are copied — and augmented, if a pipeline was given — in parallel on the rayon
//!   thread pool, one task per few samples.
//! * **Prefetch.** [`DataLoader::epoch`] starts one background thread that assembles batches
//!   in order and hands them over through a bounded channel (`std::sync::mpsc::sync_channel`
//!   of capacity [`DataLoader::prefetch`], default 2), so the next batches are ready while the
//!   training step runs. Dropping the iterator stops the thread. `prefetch(0)` assembles each
//!   batch on the calling thread when it is asked for, with no background thread.
//! * **Determinism.** Sample `i` in epoch `e` is augmented with its own generator
//!   [`crate::augment::sample_rng`]`(seed, e, i)`. Neither the order nor the content of the
//!   batches depends on thread timing, the number of threads, the prefetch depth or even the
//!   batch size (for the augmentation): the same seed gives the same batches.
//!
//! ```
//! # #[cfg(all(feature = "csv", feature = "gzip"))] {
//! use neurite_data::{augment::{Pipeline, RandomFlip}, digits, DataLoader};
//!
//! let loader = DataLoader::new(digits::load(), 64)
//!     .unwrap()
//!     .shuffle(true)
//!     .seed(7)
//!     .augment(Pipeline::new().then(RandomFlip::horizontal()))
//!     .unwrap();
//! let mut seen = 0;
//! for batch in loader.epoch(0) {
//!     assert_eq!(&batch.x.shape()[1..], &[8, 8, 1]);
//!     seen += batch.len();
//! }
//! assert_eq!(seen, 1797);
//! # }
//! ```

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use ndarray::{ArrayD, ArrayViewMut3, IxDyn};
use rayon::prelude::*;

use crate::augment::{sample_rng, Augment};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::rng::{self, STREAM_SHUFFLE};
use crate::rows::gather_rows;

/// One mini-batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Features, `(batch, sample shape...)`, contiguous (NHWC for images).
    pub x: ArrayD<f32>,
    /// Targets, `(batch, target shape...)`, contiguous.
    pub y: ArrayD<f32>,
    /// Dataset indices of the samples, in batch order.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// `true` for an empty batch (never produced by the loader).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Batches of a dataset; see the [module docs](self).
#[derive(Clone)]
pub struct DataLoader {
    data: Arc<Dataset>,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    augment: Option<Arc<dyn Augment>>,
    prefetch: usize,
}

impl std::fmt::Debug for DataLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("samples", &self.data.len())
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("seed", &self.seed)
            .field("drop_last", &self.drop_last)
            .field("augment", &self.augment.is_some())
            .field("prefetch", &self.prefetch)
            .finish()
    }
}

impl DataLoader {
    /// A loader of `batch_size` samples per batch, in order, no augmentation, seed 0,
    /// prefetching 2 batches. Accepts a `Dataset` or an `Arc<Dataset>` (to share it).
    pub fn new(data: impl Into<Arc<Dataset>>, batch_size: usize) -> Result<Self> {
        let mut data: Arc<Dataset> = data.into();
        if batch_size == 0 {
            return Err(DataError::arg("batch_size must be at least 1"));
        }
        if data.x.ndim() == 0 || data.y.ndim() == 0 || data.x.shape()[0] != data.y.shape()[0] {
            return Err(DataError::shape(format!(
                "dataset x {:?} and y {:?} must share their first (sample) axis",
                data.x.shape(),
                data.y.shape()
            )));
        }
        if !data.x.is_standard_layout() || !data.y.is_standard_layout() {
            let d = Arc::make_mut(&mut data);
            d.x = d.x.as_standard_layout().into_owned();
            d.y = d.y.as_standard_layout().into_owned();
        }
        Ok(DataLoader {
            data,
            batch_size,
            shuffle: false,
            seed: 0,
            drop_last: false,
            augment: None,
            prefetch: 2,
        })
    }

    /// Shuffle the samples every epoch (a new permutation per epoch, given by the seed).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffling and the augmentation (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Drop the last batch of an epoch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// How many batches the background thread may prepare ahead (default 2). `0`: no
    /// background thread, batches are assembled on demand.
    pub fn prefetch(mut self, depth: usize) -> Self {
        self.prefetch = depth;
        self
    }

    /// Augments each batch with `aug` (usually a [`crate::augment::Pipeline`]). Needs 4-D NHWC
    /// features; settings that can never work are refused here ([`Augment::validate`]).
    pub fn augment(mut self, aug: impl Augment + 'static) -> Result<Self> {
        aug.validate()?;
        if self.data.x.ndim() != 4 {
            return Err(DataError::shape(format!(
                "augmentation needs NHWC images (4-D x), got x of shape {:?}",
                self.data.x.shape()
            )));
        }
        self.augment = Some(Arc::new(aug));
        Ok(self)
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Number of batches per epoch.
    pub fn len(&self) -> usize {
        let n = self.data.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// `true` when an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The order in which epoch `epoch` visits the samples (before cutting into batches).
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let n = self.data.len();
        if self.shuffle {
            rng::permutation(n, &mut rng::rng_for(self.seed, &[STREAM_SHUFFLE, epoch]))
        } else {
            (0..n).collect()
        }
    }

    /// Batch `index` of epoch `epoch`, assembled on the calling thread (random access; the
    /// same batch the iterator yields).
    pub fn batch(&self, epoch: u64, index: usize) -> Option<Batch> {
        if index >= self.len() {
            return None;
        }
        let order = self.epoch_order(epoch);
        let start = index * self.batch_size;
        let end = (start + self.batch_size).min(order.len());
        Some(self.assemble(&order[start..end], epoch))
    }

    /// The batches of epoch `epoch`, prepared ahead in a background thread (see the
    /// [module docs](self)).
    pub fn epoch(&self, epoch: u64) -> Batches {
        let order = self.epoch_order(epoch);
        let n_batches = self.len();
        if self.prefetch == 0 || n_batches == 0 {
            return Batches {
                remaining: n_batches,
                inner: Inner::OnDemand {
                    loader: self.clone(),
                    order,
                    epoch,
                    next: 0,
                },
            };
        }
        // No more slots than batches: `prefetch(usize::MAX)` must not allocate a huge channel.
        let (tx, rx) = sync_channel::<Batch>(self.prefetch.min(n_batches));
        let loader = self.clone();
        let handle = std::thread::Builder::new()
            .name("neurite-data-loader".into())
            .spawn(move || {
                for b in 0..n_batches {
                    let start = b * loader.batch_size;
                    let end = (start + loader.batch_size).min(order.len());
                    let batch = loader.assemble(&order[start..end], epoch);
                    if tx.send(batch).is_err() {
                        return; // the consumer is gone
                    }
                }
            });
        match handle {
            Ok(handle) => Batches {
                remaining: n_batches,
                inner: Inner::Thread {
                    rx: Some(rx),
                    handle: Some(handle),
                },
            },
            // No thread could be started: fall back to assembling on demand.
            Err(_) => Batches {
                remaining: n_batches,
                inner: Inner::OnDemand {
                    loader: self.clone(),
                    order: self.epoch_order(epoch),
                    epoch,
                    next: 0,
                },
            },
        }
    }

    /// Copies (and augments) the samples `idx` into a new batch.
    fn assemble(&self, idx: &[usize], epoch: u64) -> Batch {
        let d = &*self.data;
        let row = d.sample_size();
        let mut shape = d.x.shape().to_vec();
        shape[0] = idx.len();
        let mut out = vec![0f32; idx.len() * row];
        if row > 0 {
            let src = d.x.as_slice().expect("standard layout checked in new");
            let aug = self.augment.as_deref();
            let hwc = if shape.len() == 4 {
                Some((shape[1], shape[2], shape[3]))
            } else {
                None
            };
            let seed = self.seed;
            out.par_chunks_mut(row)
                .zip(idx.par_iter())
                .with_min_len(4)
                .for_each(|(dst, &i)| {
                    dst.copy_from_slice(&src[i * row..(i + 1) * row]);
                    if let (Some(a), Some(dims)) = (aug, hwc) {
                        let mut rng = sample_rng(seed, epoch, i as u64);
                        let view = ArrayViewMut3::from_shape(dims, dst).expect("sample shape");
                        a.apply(view, &mut rng);
                    }
                });
        }
        let x = ArrayD::from_shape_vec(IxDyn(&shape), out).expect("batch shape");
        Batch {
            x,
            y: gather_rows(&d.y, idx),
            indices: idx.to_vec(),
        }
    }
}

enum Inner {
    OnDemand {
        loader: DataLoader,
        order: Vec<usize>,
        epoch: u64,
        next: usize,
    },
    Thread {
        rx: Option<Receiver<Batch>>,
        handle: Option<JoinHandle<()>>,
    },
}

/// Iterator over the batches of one epoch, from [`DataLoader::epoch`].
pub struct Batches {
    inner: Inner,
    remaining: usize,
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.remaining == 0 {
            return None;
        }
        let batch = match &mut self.inner {
            Inner::OnDemand {
                loader,
                order,
                epoch,
                next,
            } => {
                let start = *next * loader.batch_size;
                let end = (start + loader.batch_size).min(order.len());
                *next += 1;
                loader.assemble(&order[start..end], *epoch)
            }
            Inner::Thread { rx, handle } => {
                match rx.as_ref().map(|r| r.recv()) {
                    Some(Ok(b)) => b,
                    _ => {
                        // The worker stopped before sending every batch: it panicked (e.g. in a
                        // user augmentation). Re-raise its panic here rather than end early.
                        self.remaining = 0;
                        if let Some(h) = handle.take() {
                            if let Err(p) = h.join() {
                                std::panic::resume_unwind(p);
                            }
                        }
                        panic!("neurite-data loader thread stopped early");
                    }
                }
            }
        };
        self.remaining -= 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Batches {}

impl Drop for Batches {
    fn drop(&mut self) {
        if let Inner::Thread { rx, handle } = &mut self.inner {
            drop(rx.take()); // unblocks a worker waiting in `send`
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}
