//! [`EpochSource`]: batches produced epoch by epoch, for sources that cannot be indexed.

use crate::error::Result;
use crate::loader::{Batch, DataLoader};

/// A source of batches that starts over every epoch: epoch `e`'s batches depend only on the
/// source's settings and `e` (its seed decides shuffles and augmentation). Implemented by
/// [`DataLoader`] (batches of an in-memory data set, augmented) and
/// [`super::ShardStream`] (shard files read lazily).
///
/// ```
/// use neurite_data::{stream::EpochSource, DataLoader, Dataset};
/// use ndarray::Array2;
/// let ds = Dataset::new(Array2::<f32>::zeros((10, 2)), Array2::<f32>::zeros((10, 1))).unwrap();
/// let loader = DataLoader::new(ds, 4).unwrap().shuffle(true).seed(3);
/// assert_eq!(EpochSource::batches_per_epoch(&loader), Some(3));
/// let sizes: Vec<usize> = loader.epoch_batches(0).map(|b| b.unwrap().len()).collect();
/// assert_eq!(sizes, vec![4, 4, 2]);
/// ```
pub trait EpochSource: Send + Sync {
    /// The batches of epoch `epoch`, in order. An error ends the epoch.
    fn epoch_batches(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<Batch>> + Send>;

    /// How many batches an epoch has, when known without reading the data.
    fn batches_per_epoch(&self) -> Option<usize>;
}

impl EpochSource for DataLoader {
    fn epoch_batches(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<Batch>> + Send> {
        Box::new(self.epoch(epoch).map(Ok))
    }

    fn batches_per_epoch(&self) -> Option<usize> {
        Some(self.len())
    }
}
