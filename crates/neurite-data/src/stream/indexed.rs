//! [`IndexedSource`]: samples that can be read by index, in any order.

use std::sync::Arc;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::loader::Batch;
use crate::rows::gather_rows;

/// A data set whose samples can be read by index without holding them all in memory (or
/// held in memory, for [`Dataset`]). Whoever batches it chooses the order: a training loop
/// can then follow exactly the order it would follow for arrays of the same data.
///
/// Implementations must be cheap to share between threads (`gather` takes `&self`) and return
/// errors, never panic, for indices out of range or unreadable data.
///
/// ```
/// use neurite_data::{stream::IndexedSource, Dataset};
/// use ndarray::array;
/// let ds = Dataset::new(array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]], array![0.0f32, 1.0, 2.0]).unwrap();
/// assert_eq!((ds.len(), ds.x_sample_shape(), ds.y_sample_shape()), (3, vec![2], vec![]));
/// let b = ds.gather(&[2, 0]).unwrap();
/// assert_eq!(b.x, array![[5.0f32, 6.0], [1.0, 2.0]].into_dyn());
/// assert_eq!(b.indices, vec![2, 0]);
/// assert!(ds.gather(&[3]).is_err());
/// ```
pub trait IndexedSource: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// `true` when there is no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one sample's features (without the batch axis).
    fn x_sample_shape(&self) -> Vec<usize>;

    /// Shape of one sample's targets (without the batch axis; `[]` for class labels).
    fn y_sample_shape(&self) -> Vec<usize>;

    /// The samples `indices`, in that order, as one batch (contiguous arrays).
    fn gather(&self, indices: &[usize]) -> Result<Batch>;
}

/// An error for the first index of `indices` that is not below `len`.
pub(crate) fn check_indices(indices: &[usize], len: usize, what: &str) -> Result<()> {
    match indices.iter().find(|&&i| i >= len) {
        Some(i) => Err(DataError::arg(format!(
            "sample index {i} is out of range for {what} of {len} samples"
        ))),
        None => Ok(()),
    }
}

impl IndexedSource for Dataset {
    fn len(&self) -> usize {
        Dataset::len(self)
    }

    fn x_sample_shape(&self) -> Vec<usize> {
        self.x.shape().get(1..).unwrap_or_default().to_vec()
    }

    fn y_sample_shape(&self) -> Vec<usize> {
        self.y.shape().get(1..).unwrap_or_default().to_vec()
    }

    fn gather(&self, indices: &[usize]) -> Result<Batch> {
        self.validate("gather")?;
        check_indices(indices, Dataset::len(self), "the dataset")?;
        Ok(Batch {
            x: gather_rows(&self.x, indices),
            y: gather_rows(&self.y, indices),
            indices: indices.to_vec(),
        })
    }
}

impl<S: IndexedSource + ?Sized> IndexedSource for Arc<S> {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn x_sample_shape(&self) -> Vec<usize> {
        (**self).x_sample_shape()
    }

    fn y_sample_shape(&self) -> Vec<usize> {
        (**self).y_sample_shape()
    }

    fn gather(&self, indices: &[usize]) -> Result<Batch> {
        (**self).gather(indices)
    }
}
