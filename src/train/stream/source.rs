//! [`DataStream`]: what `fit_stream`, `evaluate_stream` and `predict_stream` read batches from.

use crate::error::{Error, Result};
use crate::train::batches::epoch_order;
use neurite_data::stream::{prefetch, EpochSource, IndexedSource, ShardStream};
use neurite_data::{Batch, DataLoader};
use neurite_tensor::Tensor;
use std::sync::Arc;

/// One batch of a stream: one array per model input and per output (samples along axis 0),
/// and optionally a weight per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamBatch {
    /// One array per model input, in the model's order.
    pub xs: Vec<Tensor>,
    /// One array per model output, in the model's order (empty for `predict_stream`).
    pub ys: Vec<Tensor>,
    /// Per-sample loss weights, shape `(batch,)`.
    pub sample_weight: Option<Tensor>,
}

/// What a user iterator may yield as a batch: a [`StreamBatch`], a neurite-data [`Batch`],
/// `(x, y)`, `(x, y, sample_weight)`, `(xs, ys)` with one array per input/output, or `x`
/// alone (for prediction) — or a `Result` of any of these, whose error ends the call.
///
/// ```
/// use neurite::{IntoStreamBatch, tensor::Tensor};
/// let x = Tensor::zeros(ndarray::IxDyn(&[2, 3]));
/// let b = (x.clone(), x.clone()).into_stream_batch().unwrap();
/// assert_eq!((b.xs.len(), b.ys.len()), (1, 1));
/// let failed: Result<(Tensor, Tensor), std::io::Error> = Err(std::io::Error::other("disk gone"));
/// assert!(failed.into_stream_batch().unwrap_err().to_string().contains("disk gone"));
/// ```
pub trait IntoStreamBatch {
    /// The batch, or the error the source reported.
    fn into_stream_batch(self) -> Result<StreamBatch>;
}

impl IntoStreamBatch for StreamBatch {
    fn into_stream_batch(self) -> Result<StreamBatch> {
        Ok(self)
    }
}

impl IntoStreamBatch for Batch {
    fn into_stream_batch(self) -> Result<StreamBatch> {
        Ok(StreamBatch {
            xs: vec![self.x],
            ys: vec![self.y],
            sample_weight: None,
        })
    }
}

impl IntoStreamBatch for (Tensor, Tensor) {
    fn into_stream_batch(self) -> Result<StreamBatch> {
        Ok(StreamBatch {
            xs: vec![self.0],
            ys: vec![self.1],
            sample_weight: None,
        })
    }
}

impl IntoStreamBatch for (Tensor, Tensor, Tensor) {
    fn into_stream_batch(self) -> Result<StreamBatch> {
        Ok(StreamBatch {
            xs: vec![self.0],
            ys: vec![self.1],
            sample_weight: Some(self.2),
        })
    }
}

impl IntoStreamBatch for (Vec<Tensor>, Vec<Tensor>) {
    fn into_stream_batch(self) -> Result<StreamBatch> {
        Ok(StreamBatch {
            xs: self.0,
            ys: self.1,
            sample_weight: None,
        })
    }
}

impl IntoStreamBatch for Tensor {
    fn into_stream_batch(self) -> Result<StreamBatch> {
        Ok(StreamBatch {
            xs: vec![self],
            ys: Vec::new(),
            sample_weight: None,
        })
    }
}

impl<B: IntoStreamBatch, E: std::fmt::Display> IntoStreamBatch for std::result::Result<B, E> {
    fn into_stream_batch(self) -> Result<StreamBatch> {
        match self {
            Ok(b) => b.into_stream_batch(),
            Err(e) => Err(Error::Input(format!("the data stream failed: {e}"))),
        }
    }
}

/// An epoch's batches, as the training loop reads them.
pub(crate) type BatchIter = Box<dyn Iterator<Item = Result<StreamBatch>> + Send>;

type Generator = Box<dyn FnMut(u64) -> BatchIter + Send>;

enum Kind {
    Indexed(Arc<dyn IndexedSource>),
    Epochs(Arc<dyn EpochSource>),
    Generator(Generator),
    Once(Option<BatchIter>),
}

/// A source of batches for [`crate::Model::fit_stream`], [`crate::Model::evaluate_stream`] and
/// [`crate::Model::predict_stream`] — Keras' `fit(generator)`:
///
/// * [`DataStream::indexed`]: any [`IndexedSource`] (a [`neurite_data::Dataset`],
///   memory-mapped `.npy` files, a lazily read image folder). `fit_stream` batches it itself,
///   in the order `fit` gives arrays (the model seed, [`crate::FitOptions::shuffle`] and
///   [`crate::FitOptions::batch_size`]), so training from an indexed source of the same data
///   gives bit-identical weights to training from the arrays.
/// * a [`DataLoader`] or [`ShardStream`] (`.into()`), or any [`EpochSource`]
///   ([`DataStream::epochs`]): batches, shuffles and augmentation of its own, epoch `e`
///   reading the source's epoch `e`.
/// * [`DataStream::generator`]: a closure called with the epoch number that returns that
///   epoch's batches (a restartable generator).
/// * [`DataStream::from_iter`]: any iterator of batches, read once (a Python generator).
///
/// Batches are prepared on a background thread, [`DataStream::prefetch`] batches ahead
/// (default 2), so the next batch is ready when a step ends; memory holds those batches, not
/// the data set.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::DataStream;
/// let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
/// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
/// // Any iterator of (x, y) batches, e.g. read from a socket or a database.
/// let batches = (0..5).map(|_| (Tensor::ones(ndarray::IxDyn(&[4, 2])), Tensor::zeros(ndarray::IxDyn(&[4, 1]))));
/// let history = model.fit_stream(DataStream::from_iter(batches), FitOptions::new().verbose(0))?;
/// assert_eq!(history.get("loss").unwrap().len(), 1);
/// # Ok::<(), neurite::Error>(())
/// ```
pub struct DataStream {
    kind: Kind,
    prefetch: usize,
    batch_size: Option<usize>,
}

impl std::fmt::Debug for DataStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Indexed(s) => format!("indexed ({} samples)", s.len()),
            Kind::Epochs(_) => "epoch source".into(),
            Kind::Generator(_) => "generator".into(),
            Kind::Once(_) => "iterator".into(),
        };
        f.debug_struct("DataStream")
            .field("kind", &kind)
            .field("prefetch", &self.prefetch)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl DataStream {
    fn new(kind: Kind) -> Self {
        DataStream {
            kind,
            prefetch: 2,
            batch_size: None,
        }
    }

    /// Samples read by index (see the type's docs).
    ///
    /// ```
    /// let ds = neurite::data::Dataset::new(ndarray::Array2::<f32>::zeros((8, 2)), ndarray::Array1::<f32>::zeros(8)).unwrap();
    /// let stream = neurite::DataStream::indexed(ds).batch_size(4);
    /// assert_eq!(stream.batches_per_epoch(32), Some(2));
    /// ```
    pub fn indexed(source: impl IndexedSource + 'static) -> Self {
        Self::new(Kind::Indexed(Arc::new(source)))
    }

    /// Batches from an [`EpochSource`] (see the type's docs).
    ///
    /// ```
    /// let ds = neurite::data::Dataset::new(ndarray::Array2::<f32>::zeros((8, 2)), ndarray::Array1::<f32>::zeros(8)).unwrap();
    /// let stream = neurite::DataStream::epochs(neurite::data::DataLoader::new(ds, 3).unwrap());
    /// assert_eq!(stream.batches_per_epoch(32), Some(3));
    /// ```
    pub fn epochs(source: impl EpochSource + 'static) -> Self {
        Self::new(Kind::Epochs(Arc::new(source)))
    }

    /// A restartable generator: `make(epoch)` returns the batches of one pass over the data
    /// (epoch numbers count the passes, from the model's [`crate::Model::epochs_done`]).
    ///
    /// ```
    /// use neurite::tensor::Tensor;
    /// let stream = neurite::DataStream::generator(|epoch| {
    ///     (0..3).map(move |_| (Tensor::from_elem(ndarray::IxDyn(&[2, 1]), epoch as f32), Tensor::zeros(ndarray::IxDyn(&[2, 1]))))
    /// });
    /// assert_eq!(stream.batches_per_epoch(32), None);
    /// ```
    pub fn generator<F, I, B>(mut make: F) -> Self
    where
        F: FnMut(u64) -> I + Send + 'static,
        I: IntoIterator<Item = B>,
        I::IntoIter: Send + 'static,
        B: IntoStreamBatch + 'static,
    {
        Self::new(Kind::Generator(Box::new(move |epoch| {
            Box::new(make(epoch).into_iter().map(IntoStreamBatch::into_stream_batch)) as BatchIter
        })))
    }

    /// An iterator of batches, read once: with [`crate::FitOptions::steps_per_epoch`] the
    /// epochs share it; without, the first epoch reads it to its end and a later epoch finds it
    /// empty, which stops training with Keras' "ran out of data" warning.
    ///
    /// ```
    /// use neurite::tensor::Tensor;
    /// let stream = neurite::DataStream::from_iter(vec![Tensor::zeros(ndarray::IxDyn(&[2, 1]))]);
    /// assert_eq!(stream.batches_per_epoch(32), None);
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn from_iter<I, B>(batches: I) -> Self
    where
        I: IntoIterator<Item = B>,
        I::IntoIter: Send + 'static,
        B: IntoStreamBatch + 'static,
    {
        let iter = batches.into_iter().map(IntoStreamBatch::into_stream_batch);
        Self::new(Kind::Once(Some(Box::new(iter))))
    }

    /// How many batches the background thread prepares ahead (default 2; `0` reads each
    /// batch on the training thread when it is needed).
    ///
    /// ```
    /// let s = neurite::DataStream::from_iter(Vec::<neurite::tensor::Tensor>::new()).prefetch(0);
    /// assert!(format!("{s:?}").contains("prefetch: 0"));
    /// ```
    pub fn prefetch(mut self, depth: usize) -> Self {
        self.prefetch = depth;
        self
    }

    /// Samples per batch for an indexed source (default: the `batch_size` of `fit`'s
    /// options, 32 for `evaluate_stream` / `predict_stream`). Other sources batch themselves.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = Some(batch_size);
        self
    }

    /// Batches per pass over the data, when known without reading it; `default_batch_size`
    /// applies to an indexed source without [`DataStream::batch_size`].
    pub fn batches_per_epoch(&self, default_batch_size: usize) -> Option<usize> {
        match &self.kind {
            Kind::Indexed(s) => Some(
                s.len()
                    .div_ceil(self.batch_size.unwrap_or(default_batch_size).max(1)),
            ),
            Kind::Epochs(s) => s.batches_per_epoch(),
            Kind::Generator(_) | Kind::Once(_) => None,
        }
    }

    /// Whether a new pass can be started after one ended.
    pub(crate) fn restartable(&self) -> bool {
        !matches!(self.kind, Kind::Once(_))
    }

    /// Starts pass `data_epoch` over the data (`None`: a read-once iterator already used).
    /// An indexed source is visited in `epoch_order(n, shuffle, seed, data_epoch)`, the
    /// order `fit` gives arrays.
    pub(crate) fn start(
        &mut self,
        data_epoch: u64,
        seed: u64,
        shuffle: bool,
        default_batch_size: usize,
    ) -> Result<Option<BatchIter>> {
        let iter: BatchIter = match &mut self.kind {
            Kind::Indexed(source) => {
                let batch_size = self.batch_size.unwrap_or(default_batch_size);
                crate::train::batches::check_batch_size("the indexed data stream", batch_size)?;
                let order = epoch_order(source.len(), shuffle, seed, data_epoch as usize);
                let chunks: Vec<Vec<usize>> = order.chunks(batch_size).map(<[usize]>::to_vec).collect();
                let source = Arc::clone(source);
                Box::new(
                    chunks
                        .into_iter()
                        .map(move |idx| source.gather(&idx).map_err(Error::from)?.into_stream_batch()),
                )
            }
            Kind::Epochs(source) => Box::new(
                source
                    .epoch_batches(data_epoch)
                    .map(|b| b.map_err(Error::from)?.into_stream_batch()),
            ),
            Kind::Generator(make) => make(data_epoch),
            Kind::Once(slot) => match slot.take() {
                Some(iter) => iter,
                None => return Ok(None),
            },
        };
        Ok(Some(Box::new(prefetch(iter, self.prefetch))))
    }
}

impl From<DataLoader> for DataStream {
    fn from(loader: DataLoader) -> Self {
        DataStream::epochs(loader)
    }
}

impl From<ShardStream> for DataStream {
    fn from(shards: ShardStream) -> Self {
        DataStream::epochs(shards)
    }
}
