//! [`ShardStream`]: a data set split into shard files, read one shard at a time, shards in a
//! seeded per-epoch order, samples mixed by a [`ShuffleBuffer`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};

use super::epoch_source::EpochSource;
use super::shuffle_buffer::ShuffleBuffer;
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::loader::Batch;
use crate::rng::{self, STREAM_SHARD_ORDER, STREAM_SHUFFLE_BUFFER};

/// One shard file (or pair of files) of a [`ShardStream`].
#[derive(Clone, Debug)]
pub enum Shard {
    /// Features and targets in two `.npy` files.
    Npy {
        /// Features (samples along axis 0).
        x: PathBuf,
        /// Targets.
        y: PathBuf,
    },
    /// Two arrays of one `.npz` archive (needs the `npz` feature).
    Npz {
        /// The archive.
        path: PathBuf,
        /// Name of the features array.
        x_key: String,
        /// Name of the targets array.
        y_key: String,
    },
    /// Features and targets in two IDX files (raw or `.gz`).
    Idx {
        /// Features.
        x: PathBuf,
        /// Targets.
        y: PathBuf,
    },
    /// A CSV table (needs the `csv` feature): features and label columns as `options` say.
    #[cfg(feature = "csv")]
    #[cfg_attr(docsrs, doc(cfg(feature = "csv")))]
    Csv {
        /// The file.
        path: PathBuf,
        /// Columns, header, delimiter, label encoding.
        options: crate::csv::CsvOptions,
    },
}

impl Shard {
    /// An `.npy` pair.
    ///
    /// ```
    /// let s = neurite_data::stream::Shard::npy("x0.npy", "y0.npy");
    /// assert_eq!(s.name(), "x0.npy");
    /// ```
    pub fn npy(x: impl Into<PathBuf>, y: impl Into<PathBuf>) -> Self {
        Shard::Npy {
            x: x.into(),
            y: y.into(),
        }
    }

    /// An IDX pair.
    ///
    /// ```
    /// let s = neurite_data::stream::Shard::idx("images.idx", "labels.idx");
    /// assert_eq!(s.name(), "images.idx");
    /// ```
    pub fn idx(x: impl Into<PathBuf>, y: impl Into<PathBuf>) -> Self {
        Shard::Idx {
            x: x.into(),
            y: y.into(),
        }
    }

    /// Two arrays of an `.npz` archive.
    ///
    /// ```
    /// let s = neurite_data::stream::Shard::npz("part0.npz", "x", "y");
    /// assert_eq!(s.name(), "part0.npz");
    /// ```
    pub fn npz(path: impl Into<PathBuf>, x_key: &str, y_key: &str) -> Self {
        Shard::Npz {
            path: path.into(),
            x_key: x_key.to_string(),
            y_key: y_key.to_string(),
        }
    }

    /// The file that names this shard in errors (the features file of a pair).
    pub fn name(&self) -> String {
        self.path().display().to_string()
    }

    fn path(&self) -> &Path {
        match self {
            Shard::Npy { x, .. } | Shard::Idx { x, .. } => x,
            Shard::Npz { path, .. } => path,
            #[cfg(feature = "csv")]
            Shard::Csv { path, .. } => path,
        }
    }

    /// Reads the whole shard, with the dtype of its features where the format has one.
    fn load(&self, scale_u8: bool) -> Result<(Dataset, Option<String>)> {
        let pair = |x: ArrayD<f32>, y: ArrayD<f32>, yp: &Path| {
            Dataset::new(x, y).map_err(|e| DataError::format(yp, format!("does not fit its features: {e}")))
        };
        match self {
            Shard::Npy { x, y } => {
                let dtype = super::MmapNpy::open(x)?.dtype().to_string();
                let xa = crate::npy::read_with(x, scale_u8)?;
                Ok((pair(xa, crate::npy::read(y)?, y)?, Some(dtype)))
            }
            Shard::Idx { x, y } => {
                let xi = crate::idx::read(x)?;
                let dtype = xi.dtype().to_string();
                let xa = xi
                    .to_f32(scale_u8)
                    .map_err(|e| DataError::format(x, e.to_string()))?;
                let ya = crate::idx::read(y)?
                    .to_f32(false)
                    .map_err(|e| DataError::format(y, e.to_string()))?;
                Ok((pair(xa, ya, y)?, Some(dtype)))
            }
            #[cfg(feature = "npz")]
            Shard::Npz { path, x_key, y_key } => {
                Ok((crate::npy::load_npz_dataset(path, x_key, y_key, scale_u8)?, None))
            }
            #[cfg(not(feature = "npz"))]
            Shard::Npz { path, .. } => Err(DataError::feature_disabled(path, ".npz archives", "npz")),
            #[cfg(feature = "csv")]
            Shard::Csv { path, options } => Ok((crate::csv::load(path, options)?.dataset, None)),
        }
    }
}

/// A data set split into shard files that is read lazily, as an [`EpochSource`]:
///
/// * each epoch visits the shards in an order drawn from `(seed, epoch)` (the list order
///   without [`ShardStream::shuffle`]);
/// * one shard at a time is read whole and its samples pass through a [`ShuffleBuffer`] of
///   [`ShardStream::buffer_size`] samples (seeded by `(seed, epoch)`), which mixes samples
///   across shard boundaries;
/// * batches of `batch_size` samples (the last one smaller unless
///   [`ShardStream::drop_last`]).
///
/// Memory holds one shard, the buffer and a batch, whatever the number of shards. Every
/// shard must have the sample shapes (and, for `.npy` and IDX, the dtype) of the first one
/// read: a shard that differs is an error naming both files. `Batch::indices` hold
/// [`ShardStream::sample_index`]`(shard, row)`.
///
/// ```
/// use neurite_data::{npy, stream::{EpochSource, Shard, ShardStream}};
/// use ndarray::{Array1, Array2};
/// let dir = tempfile::tempdir().unwrap();
/// let mut shards = Vec::new();
/// for s in 0..3 {
///     let (x, y) = (dir.path().join(format!("x{s}.npy")), dir.path().join(format!("y{s}.npy")));
///     npy::write(&x, &Array2::from_elem((5, 2), s as f32).into_dyn()).unwrap();
///     npy::write(&y, &Array1::from_elem(5, s as f32).into_dyn()).unwrap();
///     shards.push(Shard::npy(x, y));
/// }
/// let stream = ShardStream::new(shards, 4).unwrap().shuffle(true).buffer_size(8).seed(1);
/// let batches: Vec<_> = stream.epoch_batches(0).collect::<Result<_, _>>().unwrap();
/// assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), 15);
/// ```
#[derive(Clone, Debug)]
pub struct ShardStream {
    shards: Arc<Vec<Shard>>,
    batch_size: usize,
    buffer_size: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    scale_u8: bool,
}

impl ShardStream {
    /// Batches of `batch_size` from `shards`, in order, no shuffling, seed 0, a buffer of
    /// 10,000 samples (used when shuffling).
    pub fn new(shards: Vec<Shard>, batch_size: usize) -> Result<Self> {
        if shards.is_empty() {
            return Err(DataError::arg("ShardStream needs at least one shard"));
        }
        if batch_size == 0 {
            return Err(DataError::arg("ShardStream: batch_size must be at least 1"));
        }
        Ok(ShardStream {
            shards: Arc::new(shards),
            batch_size,
            buffer_size: 10_000,
            shuffle: false,
            seed: 0,
            drop_last: false,
            scale_u8: false,
        })
    }

    /// Shuffle: a new shard order every epoch, and samples mixed by the buffer.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Samples the shuffle buffer holds (memory: this many samples; at least 1).
    pub fn buffer_size(mut self, samples: usize) -> Self {
        self.buffer_size = samples.max(1);
        self
    }

    /// The seed of the shard order and of the buffer (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Drop each epoch's last batch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Divide u8 features by 255 (`.npy`, `.npz`, IDX).
    pub fn scale_u8(mut self, scale: bool) -> Self {
        self.scale_u8 = scale;
        self
    }

    /// The shards.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The order in which epoch `epoch` reads the shards (positions in the list).
    ///
    /// ```
    /// use neurite_data::stream::{Shard, ShardStream};
    /// let shards = (0..5).map(|i| Shard::npy(format!("x{i}.npy"), format!("y{i}.npy"))).collect();
    /// let s = ShardStream::new(shards, 8).unwrap();
    /// assert_eq!(s.shard_order(3), vec![0, 1, 2, 3, 4]);
    /// let mut o = s.shuffle(true).shard_order(3);
    /// o.sort();
    /// assert_eq!(o, vec![0, 1, 2, 3, 4]);
    /// ```
    pub fn shard_order(&self, epoch: u64) -> Vec<usize> {
        let n = self.shards.len();
        if self.shuffle {
            rng::permutation(n, &mut rng::rng_for(self.seed, &[STREAM_SHARD_ORDER, epoch]))
        } else {
            (0..n).collect()
        }
    }

    /// The index a batch reports for row `row` of shard `shard`: `shard * 2^32 + row`.
    ///
    /// ```
    /// assert_eq!(neurite_data::stream::ShardStream::sample_index(2, 5), (2 << 32) + 5);
    /// ```
    pub fn sample_index(shard: usize, row: usize) -> usize {
        (shard << 32) | row
    }
}

impl EpochSource for ShardStream {
    fn epoch_batches(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<Batch>> + Send> {
        let samples = Samples {
            stream: self.clone(),
            order: self.shard_order(epoch),
            next_shard: 0,
            current: None,
            reference: None,
            failed: false,
        };
        let capacity = if self.shuffle { self.buffer_size } else { 1 };
        let rng = rng::rng_for(self.seed, &[STREAM_SHUFFLE_BUFFER, epoch]);
        Box::new(Batcher {
            inner: ShuffleBuffer::with_rng(samples, capacity, rng),
            batch_size: self.batch_size,
            drop_last: self.drop_last,
            done: false,
        })
    }

    fn batches_per_epoch(&self) -> Option<usize> {
        None // known only once every shard has been read
    }
}

/// One sample on its way from a shard to a batch.
struct Sample {
    x: Vec<f32>,
    y: Vec<f32>,
    index: usize,
    shapes: Arc<(Vec<usize>, Vec<usize>)>,
}

/// The sample shapes and dtype of the first shard read, and its name.
struct Reference {
    shapes: Arc<(Vec<usize>, Vec<usize>)>,
    dtype: Option<String>,
    name: String,
}

/// The samples of the shards in the epoch's order; ends after the first error.
struct Samples {
    stream: ShardStream,
    order: Vec<usize>,
    next_shard: usize,
    /// The shard being read: its data, its position in the list and the next row.
    current: Option<(Dataset, usize, usize)>,
    reference: Option<Reference>,
    failed: bool,
}

impl Samples {
    /// Reads shard `s` and checks it against the first shard read.
    fn open(&mut self, s: usize) -> Result<Dataset> {
        let shard = &self.stream.shards[s];
        let (mut ds, dtype) = shard.load(self.stream.scale_u8)?;
        for a in [&mut ds.x, &mut ds.y] {
            if !a.is_standard_layout() {
                *a = a.as_standard_layout().into_owned();
            }
        }
        let sample = |a: &ArrayD<f32>| a.shape()[1..].to_vec();
        let shapes = (sample(&ds.x), sample(&ds.y));
        if ds.len() >= 1 << 32 {
            return Err(DataError::format(
                shard.path(),
                format!("{} samples in one shard: split it (at most 2^32 - 1)", ds.len()),
            ));
        }
        match &self.reference {
            None => {
                self.reference = Some(Reference {
                    shapes: Arc::new(shapes),
                    dtype,
                    name: shard.name(),
                })
            }
            Some(r) => {
                if *r.shapes != shapes || (dtype.is_some() && r.dtype.is_some() && dtype != r.dtype) {
                    let show =
                        |d: &Option<String>| d.clone().map(|d| format!(", dtype {d}")).unwrap_or_default();
                    return Err(DataError::format(
                        shard.path(),
                        format!(
                            "shard samples of shape x {:?}, y {:?}{} do not match the shard {} read first \
                             (x {:?}, y {:?}{})",
                            shapes.0,
                            shapes.1,
                            show(&dtype),
                            r.name,
                            r.shapes.0,
                            r.shapes.1,
                            show(&r.dtype)
                        ),
                    ));
                }
            }
        }
        Ok(ds)
    }
}

impl Iterator for Samples {
    type Item = Result<Sample>;

    fn next(&mut self) -> Option<Result<Sample>> {
        if self.failed {
            return None;
        }
        loop {
            if let Some((ds, s, row)) = &mut self.current {
                if *row < ds.len() {
                    let (xr, yr) = (ds.sample_size(), ds.y.len() / ds.len());
                    let (xs, ys) = (ds.x.as_slice()?, ds.y.as_slice()?);
                    let sample = Sample {
                        x: xs[*row * xr..(*row + 1) * xr].to_vec(),
                        y: ys[*row * yr..(*row + 1) * yr].to_vec(),
                        index: ShardStream::sample_index(*s, *row),
                        shapes: Arc::clone(&self.reference.as_ref()?.shapes),
                    };
                    *row += 1;
                    return Some(Ok(sample));
                }
                self.current = None; // frees the shard before the next one is read
            }
            let &s = self.order.get(self.next_shard)?;
            self.next_shard += 1;
            match self.open(s) {
                Ok(ds) => self.current = Some((ds, s, 0)),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Cuts samples into batches; an error ends the stream.
struct Batcher<I> {
    inner: I,
    batch_size: usize,
    drop_last: bool,
    done: bool,
}

impl<I: Iterator<Item = Result<Sample>>> Iterator for Batcher<I> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.done {
            return None;
        }
        let mut taken: Vec<Sample> = Vec::with_capacity(self.batch_size);
        while taken.len() < self.batch_size {
            match self.inner.next() {
                Some(Ok(s)) => taken.push(s),
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        if taken.is_empty() || (self.drop_last && taken.len() < self.batch_size) {
            return None;
        }
        let shapes = Arc::clone(&taken[0].shapes);
        let dims = |sample: &[usize]| {
            let mut d = vec![taken.len()];
            d.extend_from_slice(sample);
            IxDyn(&d)
        };
        let (x_dims, y_dims) = (dims(&shapes.0), dims(&shapes.1));
        let mut x = Vec::with_capacity(taken.len() * taken[0].x.len());
        let mut y = Vec::with_capacity(taken.len() * taken[0].y.len());
        let mut indices = Vec::with_capacity(taken.len());
        for s in taken {
            x.extend_from_slice(&s.x);
            y.extend_from_slice(&s.y);
            indices.push(s.index);
        }
        let built = ArrayD::from_shape_vec(x_dims, x)
            .and_then(|x| Ok((x, ArrayD::from_shape_vec(y_dims, y)?)))
            .map_err(|e| DataError::shape(format!("ShardStream batch: {e}")));
        Some(built.map(|(x, y)| Batch { x, y, indices }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy;
    use proptest::prelude::*;

    /// `n` shards of `rows[i]` samples; sample value = its global position in list order.
    fn shards(dir: &Path, rows: &[usize]) -> Vec<Shard> {
        let mut start = 0.0f32;
        rows.iter()
            .enumerate()
            .map(|(s, &n)| {
                let x = ArrayD::from_shape_fn(IxDyn(&[n, 2]), |i| start + i[0] as f32 + i[1] as f32 * 0.5);
                let y = ArrayD::from_shape_fn(IxDyn(&[n]), |i| start + i[0] as f32);
                start += n as f32;
                let (xp, yp) = (dir.join(format!("x{s}.npy")), dir.join(format!("y{s}.npy")));
                npy::write(&xp, &x).unwrap();
                npy::write(&yp, &y).unwrap();
                Shard::npy(xp, yp)
            })
            .collect()
    }

    fn labels(stream: &ShardStream, epoch: u64) -> Vec<f32> {
        stream
            .epoch_batches(epoch)
            .flat_map(|b| b.unwrap().y.into_raw_vec_and_offset().0)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn every_sample_once_per_epoch_and_deterministic(
            rows in proptest::collection::vec(0usize..12, 1..5),
            batch in 1usize..7,
            buffer in 1usize..20,
            seed in any::<u64>(),
            shuffle in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let stream = ShardStream::new(shards(dir.path(), &rows), batch).unwrap()
                .shuffle(shuffle).buffer_size(buffer).seed(seed);
            let total: usize = rows.iter().sum();
            for epoch in 0..2 {
                let a = labels(&stream, epoch);
                prop_assert_eq!(&a, &labels(&stream, epoch));
                let mut sorted = a.clone();
                sorted.sort_by(f32::total_cmp);
                prop_assert_eq!(sorted, (0..total).map(|v| v as f32).collect::<Vec<_>>());
                if !shuffle {
                    prop_assert_eq!(a, (0..total).map(|v| v as f32).collect::<Vec<_>>());
                }
            }
            // Batches: full ones, then the rest.
            let sizes: Vec<usize> = stream.epoch_batches(0).map(|b| b.unwrap().len()).collect();
            prop_assert_eq!(sizes.len(), total.div_ceil(batch));
            prop_assert!(sizes.iter().rev().skip(1).all(|&s| s == batch));
        }

        #[test]
        fn shard_order_is_a_seeded_permutation(n in 1usize..40, seed in any::<u64>(), epoch in 0u64..10) {
            let list: Vec<Shard> = (0..n).map(|i| Shard::npy(format!("x{i}"), format!("y{i}"))).collect();
            let s = ShardStream::new(list, 1).unwrap().shuffle(true).seed(seed);
            let o = s.shard_order(epoch);
            prop_assert_eq!(&o, &s.shard_order(epoch));
            let mut sorted = o.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn shard_orders_differ_between_epochs() {
        let list: Vec<Shard> = (0..20)
            .map(|i| Shard::npy(format!("x{i}"), format!("y{i}")))
            .collect();
        let s = ShardStream::new(list, 1).unwrap().shuffle(true).seed(4);
        assert_ne!(s.shard_order(0), s.shard_order(1));
    }

    #[test]
    fn mismatched_shards_are_errors_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut list = shards(dir.path(), &[3, 3]);
        let wide = dir.path().join("wide.npy");
        npy::write(&wide, &ArrayD::<f32>::zeros(IxDyn(&[3, 4]))).unwrap();
        list.push(Shard::npy(&wide, dir.path().join("y0.npy")));
        let stream = ShardStream::new(list, 2).unwrap();
        let last = stream.epoch_batches(0).find_map(|b| b.err()).unwrap().to_string();
        assert!(
            last.contains("wide.npy") && last.contains("x0.npy") && last.contains("[4]"),
            "{last}"
        );

        // Same shape, another dtype (float64 written by hand through the npz-free path).
        let f8 = dir.path().join("f8.npy");
        let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }".to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0u8; 16]);
        std::fs::write(&f8, bytes).unwrap();
        let y1 = dir.path().join("y1.npy");
        npy::write(&y1, &ArrayD::<f32>::zeros(IxDyn(&[1]))).unwrap();
        let stream =
            ShardStream::new(vec![shards(dir.path(), &[2])[0].clone(), Shard::npy(&f8, &y1)], 2).unwrap();
        let e = stream.epoch_batches(0).find_map(|b| b.err()).unwrap().to_string();
        assert!(
            e.contains("f8.npy") && e.contains("<f8") && e.contains("<f4"),
            "{e}"
        );

        // A truncated shard.
        let list = shards(dir.path(), &[4]);
        let Shard::Npy { x, .. } = &list[0] else {
            unreachable!()
        };
        let bytes = std::fs::read(x).unwrap();
        std::fs::write(x, &bytes[..bytes.len() - 3]).unwrap();
        let e = ShardStream::new(list, 2)
            .unwrap()
            .epoch_batches(0)
            .find_map(|b| b.err())
            .unwrap()
            .to_string();
        assert!(e.contains("x0.npy") && e.contains("truncated"), "{e}");
    }

    #[test]
    fn idx_and_csv_shards_read_like_npy() {
        let dir = tempfile::tempdir().unwrap();
        let (xp, yp) = (dir.path().join("x.idx"), dir.path().join("y.idx"));
        let arr = |shape: Vec<usize>, v: Vec<u8>| crate::idx::IdxArray {
            shape,
            data: crate::idx::IdxData::U8(v),
        };
        crate::idx::write(&xp, &arr(vec![3, 2], vec![0, 255, 1, 2, 3, 4])).unwrap();
        crate::idx::write(&yp, &arr(vec![3], vec![7, 8, 9])).unwrap();
        let s = ShardStream::new(vec![Shard::idx(&xp, &yp)], 2)
            .unwrap()
            .scale_u8(true);
        let b: Vec<Batch> = s.epoch_batches(0).collect::<Result<_>>().unwrap();
        assert_eq!(b[0].x.as_slice().unwrap(), &[0.0, 1.0, 1.0 / 255.0, 2.0 / 255.0]);
        assert_eq!(b[1].y.as_slice().unwrap(), &[9.0]);
        #[cfg(feature = "csv")]
        {
            let c = dir.path().join("t.csv");
            std::fs::write(&c, "a,b,label\n1,2,0\n3,4,1\n").unwrap();
            let opts = crate::csv::CsvOptions::new().label("label");
            let s = ShardStream::new(
                vec![Shard::Csv {
                    path: c,
                    options: opts,
                }],
                8,
            )
            .unwrap();
            let b: Vec<Batch> = s.epoch_batches(0).collect::<Result<_>>().unwrap();
            assert_eq!(b[0].x.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
        }
    }
}
