//! Data larger than memory: sources read lazily from disk, a shuffle buffer, per-epoch shard
//! order and background prefetch, with memory bounded by the batch and buffer sizes rather
//! than by the data set.
//!
//! Two kinds of source:
//!
//! * [`IndexedSource`]: random access to sample `i` ([`Dataset`], memory-mapped `.npy`
//!   files [`MmapNpyDataset`] (one pair or many shards), a lazily decoded image folder
//!   [`LazyImageFolder`], a text folder read and vectorized batch by batch
//!   [`LazyTextFolder`]). Whoever batches it chooses the order, so training from an indexed
//!   source can follow exactly the order training from arrays would.
//! * [`EpochSource`]: batches produced epoch by epoch, for data that cannot be indexed
//!   cheaply: [`ShardStream`] (`.npy`, `.npz`, IDX or CSV shard files, one shard in memory at a
//!   time, shards visited in a seeded per-epoch order, samples mixed by a [`ShuffleBuffer`]),
//!   and the [`DataLoader`].
//!
//! [`prefetch`] runs any iterator on a background thread, a bounded channel ahead of the
//! consumer. Everything random is seeded: the same seed gives the same batches.
//!
//! ```
//! use neurite_data::stream::{IndexedSource, ShuffleBuffer, prefetch};
//! use neurite_data::Dataset;
//! use ndarray::Array2;
//!
//! let ds = Dataset::new(Array2::<f32>::zeros((10, 3)), Array2::<f32>::zeros((10, 1))).unwrap();
//! let batch = ds.gather(&[4, 2]).unwrap();
//! assert_eq!(batch.x.shape(), &[2, 3]);
//!
//! // A permutation of 0..100, mixed within a window of 16, on a background thread.
//! let mut out: Vec<u32> = prefetch(ShuffleBuffer::new(0..100u32, 16, 7), 4).collect();
//! out.sort();
//! assert_eq!(out, (0..100).collect::<Vec<_>>());
//! ```

mod epoch_source;
mod indexed;
#[cfg(feature = "image")]
mod lazy_image_folder;
#[cfg(feature = "text")]
mod lazy_text_folder;
mod mmap_npy;
mod prefetch;
mod shards;
mod shuffle_buffer;

pub use epoch_source::EpochSource;
pub use indexed::IndexedSource;
#[cfg(feature = "image")]
#[cfg_attr(docsrs, doc(cfg(feature = "image")))]
pub use lazy_image_folder::LazyImageFolder;
#[cfg(feature = "text")]
#[cfg_attr(docsrs, doc(cfg(feature = "text")))]
pub use lazy_text_folder::LazyTextFolder;
pub use mmap_npy::{MmapNpy, MmapNpyDataset};
pub use prefetch::{prefetch, Prefetch};
pub use shards::{Shard, ShardStream};
pub use shuffle_buffer::ShuffleBuffer;

#[cfg(doc)]
use crate::{DataLoader, Dataset};
