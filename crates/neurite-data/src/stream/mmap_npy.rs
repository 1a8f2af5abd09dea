//! Memory-mapped `.npy` files ([`MmapNpy`]) and data sets of them ([`MmapNpyDataset`]): rows
//! are read from the page cache on demand, so a data set larger than memory can be indexed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use memmap2::Mmap;
use ndarray::{ArrayD, IxDyn};

use super::indexed::{check_indices, IndexedSource};
use crate::error::{DataError, Result};
use crate::loader::Batch;
use crate::npy::{self, Dtype, Kind};

/// After this many bytes read through a mapping, its pages are handed back to the kernel
/// (`madvise(MADV_DONTNEED)`; they stay in the page cache), so the process's resident memory
/// stays bounded however much of the file one epoch reads.
const RELEASE_EVERY_BYTES: usize = 64 << 20;

/// What one read of a row maps, at least: a page fault on a file mapping maps the pages around
/// it that are in the page cache too (Linux's fault-around, 64 KiB by default), so a shuffled
/// read of a 3 KiB row costs up to 64 KiB of resident memory. Counting rows at this size keeps
/// the release period honest (counting row bytes let a 1 GiB set become fully resident
/// between two releases).
const MAPPED_PER_ROW_READ: usize = 64 << 10;

/// One `.npy` file, memory-mapped: its header is checked when it is opened (dtype, C order,
/// a data size that matches the shape exactly, so a truncated file is an error naming it), and
/// rows (samples along axis 0) are converted to `f32` when read. Reads the same dtypes as
/// [`crate::npy::read`] (bool, ints, uints, float16/32/64, either byte order).
///
/// The file must not be changed while it is mapped (as for every memory-mapped reader).
///
/// ```
/// use neurite_data::{npy, stream::MmapNpy};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.npy");
/// let a = ndarray::Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f32).into_dyn();
/// npy::write(&path, &a).unwrap();
/// let m = MmapNpy::open(&path).unwrap();
/// assert_eq!((m.len(), m.sample_shape()), (5, &[3][..]));
/// assert_eq!(m.rows(&[4, 0]).unwrap(), vec![12.0, 13.0, 14.0, 0.0, 1.0, 2.0]);
/// ```
pub struct MmapNpy {
    path: PathBuf,
    map: Mmap,
    dtype: Dtype,
    descr: String,
    shape: Vec<usize>,
    data_start: usize,
    row_bytes: usize,
    scale_u8: bool,
    read_since_release: AtomicUsize,
}

impl std::fmt::Debug for MmapNpy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmapNpy")
            .field("path", &self.path)
            .field("descr", &self.descr)
            .field("shape", &self.shape)
            .finish()
    }
}

impl MmapNpy {
    /// Maps `path` and checks its header and size.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, false)
    }

    /// As [`MmapNpy::open`]; u8 data is divided by 255 when `scale_u8` (as [`npy::read_with`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("missing.npy");
    /// let e = neurite_data::stream::MmapNpy::open_with(&path, true).unwrap_err().to_string();
    /// assert!(e.contains("missing.npy"), "{e}");
    /// ```
    pub fn open_with(path: impl AsRef<Path>, scale_u8: bool) -> Result<Self> {
        let path = path.as_ref();
        let err = |m: String| DataError::format(path, m);
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
        if file_len == 0 {
            return Err(err("empty file: not an .npy file".into()));
        }
        // SAFETY: the map is read-only; the file must not be truncated while mapped (documented).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| DataError::io(path, e))?;
        let header = npy::parse_header(&map, path)?;
        if header.fortran && header.shape.len() > 1 {
            return Err(err(format!(
                "shape {:?} is stored in Fortran order, whose samples are not contiguous rows: save it \
                 in C order (np.ascontiguousarray) to memory-map it",
                header.shape
            )));
        }
        if header.shape.is_empty() {
            return Err(err(
                "a 0-d array has no sample axis: expected samples along axis 0".into(),
            ));
        }
        let body = map.len() - header.start;
        if body < header.need {
            return Err(err(format!(
                "truncated: shape {:?} of {} needs {} data bytes but only {body} follow the header",
                header.shape, header.descr, header.need
            )));
        }
        if body > header.need {
            return Err(err(format!(
                "{} unexpected bytes after the data of shape {:?}",
                body - header.need,
                header.shape
            )));
        }
        let row_bytes = header.shape[1..].iter().product::<usize>() * header.dt.size;
        Ok(MmapNpy {
            path: path.to_path_buf(),
            map,
            dtype: header.dt,
            descr: header.descr,
            shape: header.shape,
            data_start: header.start,
            row_bytes,
            scale_u8,
            read_since_release: AtomicUsize::new(0),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of rows (the length of axis 0).
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// `true` when axis 0 is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The shape of one row (axis 0 removed).
    pub fn sample_shape(&self) -> &[usize] {
        &self.shape[1..]
    }

    /// NumPy's dtype string of the file (`"<f4"`, `"|u1"`, ...).
    pub fn dtype(&self) -> &str {
        &self.descr
    }

    /// The rows `indices`, in that order, as `f32` values (row after row).
    pub fn rows(&self, indices: &[usize]) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.rows_into(indices, &mut out)?;
        Ok(out)
    }

    /// Appends the rows `indices` to `out` (see [`MmapNpy::rows`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("x.npy");
    /// # neurite_data::npy::write(&path, &ndarray::Array1::from(vec![1.0f32, 2.0]).into_dyn()).unwrap();
    /// let m = neurite_data::stream::MmapNpy::open(&path).unwrap();
    /// let mut out = vec![0.5];
    /// m.rows_into(&[1], &mut out).unwrap();
    /// assert_eq!(out, vec![0.5, 2.0]);
    /// assert!(m.rows_into(&[2], &mut out).unwrap_err().to_string().contains("out of range"));
    /// ```
    pub fn rows_into(&self, indices: &[usize], out: &mut Vec<f32>) -> Result<()> {
        check_indices(indices, self.len(), &self.path.display().to_string())?;
        let per_row = self.row_bytes / self.dtype.size;
        out.try_reserve(indices.len() * per_row)
            .map_err(|e| DataError::alloc(&self.path, (indices.len() * per_row * 4) as u64, "a batch", e))?;
        let fast_f32 = self.dtype.kind == Kind::Float && self.dtype.size == 4 && !self.dtype.big_endian;
        for &i in indices {
            let at = self.data_start + i * self.row_bytes;
            let bytes = &self.map[at..at + self.row_bytes];
            if fast_f32 {
                out.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
            } else {
                out.extend(npy::convert(bytes, self.dtype, self.scale_u8, &self.path)?);
            }
        }
        self.account(indices.len() * self.row_bytes.max(MAPPED_PER_ROW_READ));
        Ok(())
    }

    /// Counts bytes read and hands the mapped pages back to the kernel every
    /// [`RELEASE_EVERY_BYTES`], so that resident memory does not grow with the file.
    fn account(&self, bytes: usize) {
        let before = self.read_since_release.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes >= RELEASE_EVERY_BYTES {
            self.release();
        }
    }

    /// Hands the mapped pages back to the kernel now (they stay in the page cache).
    fn release(&self) {
        self.read_since_release.store(0, Ordering::Relaxed);
        #[cfg(unix)]
        {
            // SAFETY: the mapping is shared and read-only, so dropping its pages loses
            // nothing: the next read faults them back in from the file (page cache). Slices
            // of the map are only held inside `rows_into`, and a concurrent read there just
            // faults the page again.
            let _ = unsafe { self.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}

/// Features and targets in memory-mapped `.npy` files: one `(x, y)` pair, or many pairs
/// (shards) seen as one data set, shard after shard. Every shard must have the same sample
/// shapes and dtypes as the first (an error names the file that differs) and as many rows in
/// `x` as in `y`. An [`IndexedSource`]: batches can be gathered in any order, and memory holds
/// only the batch (plus a bounded number of mapped pages).
///
/// ```
/// use neurite_data::{npy, stream::{IndexedSource, MmapNpyDataset}};
/// use ndarray::{Array1, Array2};
/// let dir = tempfile::tempdir().unwrap();
/// let p = |n: &str| dir.path().join(n);
/// for (s, start) in [("0", 0.0f32), ("1", 3.0)] {
///     npy::write(p(&format!("x{s}.npy")), &Array2::from_elem((3, 2), start).into_dyn()).unwrap();
///     npy::write(p(&format!("y{s}.npy")), &Array1::from_elem(3, start).into_dyn()).unwrap();
/// }
/// let ds = MmapNpyDataset::open_shards(&[(p("x0.npy"), p("y0.npy")), (p("x1.npy"), p("y1.npy"))]).unwrap();
/// assert_eq!(ds.len(), 6);
/// let b = ds.gather(&[4, 1]).unwrap();
/// assert_eq!(b.y.as_slice().unwrap(), &[3.0, 0.0]);
/// ```
#[derive(Debug)]
pub struct MmapNpyDataset {
    shards: Vec<(MmapNpy, MmapNpy)>,
    /// Index of each shard's first sample, then the total.
    starts: Vec<usize>,
    /// Bytes read from all shards since every shard's pages were last handed back: each file
    /// counting only its own reads would let resident memory grow with the number of shards
    /// (a shuffled epoch over 17 shards of 256 MiB peaked at 4.3 GiB).
    read_since_release: AtomicUsize,
}

impl MmapNpyDataset {
    /// One pair of files: features `x` and targets `y`.
    pub fn open(x: impl AsRef<Path>, y: impl AsRef<Path>) -> Result<Self> {
        Self::open_shards(&[(x.as_ref(), y.as_ref())])
    }

    /// Many pairs of files, as one data set (see the type's docs).
    pub fn open_shards<P: AsRef<Path>>(pairs: &[(P, P)]) -> Result<Self> {
        Self::open_shards_with(pairs, false)
    }

    /// As [`MmapNpyDataset::open_shards`]; u8 data divided by 255 when `scale_u8` (both `x`
    /// and `y`, so keep u8 class labels in a wider integer type).
    pub fn open_shards_with<P: AsRef<Path>>(pairs: &[(P, P)], scale_u8: bool) -> Result<Self> {
        if pairs.is_empty() {
            return Err(DataError::arg(
                "MmapNpyDataset needs at least one (x, y) pair of files",
            ));
        }
        let mut shards: Vec<(MmapNpy, MmapNpy)> = Vec::with_capacity(pairs.len());
        let mut starts = vec![0usize];
        for (xp, yp) in pairs {
            let (x, y) = (
                MmapNpy::open_with(xp, scale_u8)?,
                MmapNpy::open_with(yp, scale_u8)?,
            );
            if x.len() != y.len() {
                return Err(DataError::format(
                    y.path(),
                    format!(
                        "has {} rows but its features {} have {}: x and y need one row per sample",
                        y.len(),
                        x.path().display(),
                        x.len()
                    ),
                ));
            }
            if let Some((x0, y0)) = shards.first() {
                for (new, first) in [(&x, x0), (&y, y0)] {
                    if new.sample_shape() != first.sample_shape() || new.dtype() != first.dtype() {
                        return Err(DataError::format(
                            new.path(),
                            format!(
                                "samples of shape {:?} and dtype {} do not match the first shard {} \
                                 (shape {:?}, dtype {})",
                                new.sample_shape(),
                                new.dtype(),
                                first.path().display(),
                                first.sample_shape(),
                                first.dtype()
                            ),
                        ));
                    }
                }
            }
            let end = starts[starts.len() - 1] + x.len();
            starts.push(end);
            shards.push((x, y));
        }
        Ok(MmapNpyDataset {
            shards,
            starts,
            read_since_release: AtomicUsize::new(0),
        })
    }

    /// Number of shards (pairs of files).
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }
}

impl IndexedSource for MmapNpyDataset {
    fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    fn x_sample_shape(&self) -> Vec<usize> {
        self.shards[0].0.sample_shape().to_vec()
    }

    fn y_sample_shape(&self) -> Vec<usize> {
        self.shards[0].1.sample_shape().to_vec()
    }

    fn gather(&self, indices: &[usize]) -> Result<Batch> {
        check_indices(indices, self.len(), "the memory-mapped data set")?;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for &i in indices {
            // The shard holding sample i: the last one starting at or before i.
            let s = self.starts.partition_point(|&start| start <= i) - 1;
            let (x, y) = &self.shards[s];
            let row = i - self.starts[s];
            x.rows_into(&[row], &mut xs)?;
            y.rows_into(&[row], &mut ys)?;
        }
        let bytes = indices.len() * 2 * MAPPED_PER_ROW_READ;
        let before = self.read_since_release.fetch_add(bytes, Ordering::Relaxed);
        if self.shards.len() > 1 && before + bytes >= RELEASE_EVERY_BYTES {
            self.read_since_release.store(0, Ordering::Relaxed);
            for (x, y) in &self.shards {
                x.release();
                y.release();
            }
        }
        let shape = |sample: Vec<usize>| {
            let mut s = vec![indices.len()];
            s.extend(sample);
            IxDyn(&s).clone()
        };
        let x = ArrayD::from_shape_vec(shape(self.x_sample_shape()), xs)
            .map_err(|e| DataError::shape(e.to_string()))?;
        let y = ArrayD::from_shape_vec(shape(self.y_sample_shape()), ys)
            .map_err(|e| DataError::shape(e.to_string()))?;
        Ok(Batch {
            x,
            y,
            indices: indices.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;
    use proptest::prelude::*;

    fn write_pair(dir: &Path, name: &str, x: &ArrayD<f32>, y: &ArrayD<f32>) -> (PathBuf, PathBuf) {
        let (xp, yp) = (
            dir.join(format!("{name}_x.npy")),
            dir.join(format!("{name}_y.npy")),
        );
        npy::write(&xp, x).unwrap();
        npy::write(&yp, y).unwrap();
        (xp, yp)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Gathering from memory-mapped shards equals gathering from the arrays read eagerly
        /// (`npy::read`) and concatenated.
        #[test]
        fn mmap_reader_equals_the_eager_reader(
            sizes in proptest::collection::vec(0usize..7, 1..4),
            width in 1usize..5,
            picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..20),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut pairs = Vec::new();
            let mut parts = Vec::new();
            let mut next = 0.0f32;
            for (s, &n) in sizes.iter().enumerate() {
                let x = ArrayD::from_shape_fn(IxDyn(&[n, width]), |_| { next += 0.5; next });
                let y = ArrayD::from_shape_fn(IxDyn(&[n, 1]), |i| (s * 100 + i[0]) as f32);
                pairs.push(write_pair(dir.path(), &s.to_string(), &x, &y));
                let (xe, ye) = (npy::read(&pairs[s].0).unwrap(), npy::read(&pairs[s].1).unwrap());
                parts.push(Dataset::new(xe, ye).unwrap());
            }
            let refs: Vec<&Dataset> = parts.iter().collect();
            let eager = Dataset::concat_all(&refs).unwrap();
            let mapped = MmapNpyDataset::open_shards(&pairs).unwrap();
            prop_assert_eq!(mapped.len(), eager.len());
            if !eager.is_empty() {
                let idx: Vec<usize> = picks.iter().map(|p| p.index(eager.len())).collect();
                prop_assert_eq!(mapped.gather(&idx).unwrap(), IndexedSource::gather(&eager, &idx).unwrap());
            }
        }
    }

    #[test]
    fn other_dtypes_convert_as_the_eager_reader() {
        let dir = tempfile::tempdir().unwrap();
        // A big-endian int16 file and a u8 file, written by hand.
        let write_raw = |name: &str, descr: &str, shape: &str, data: &[u8]| {
            let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
            while !(10 + header.len() + 1).is_multiple_of(64) {
                header.push(' ');
            }
            header.push('\n');
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(data);
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let p = write_raw("i2.npy", ">i2", "(2, 2)", &[0, 1, 255, 254, 1, 0, 0, 3]);
        let m = MmapNpy::open(&p).unwrap();
        let eager = npy::read(&p).unwrap();
        let e = eager.as_slice().unwrap();
        assert_eq!(m.rows(&[1, 0]).unwrap(), vec![e[2], e[3], e[0], e[1]]);
        let p = write_raw("u1.npy", "|u1", "(3,)", &[0, 51, 255]);
        let m = MmapNpy::open_with(&p, true).unwrap();
        assert_eq!(
            m.rows(&[0, 1, 2]).unwrap(),
            npy::read_with(&p, true).unwrap().as_slice().unwrap()
        );
    }

    #[test]
    fn truncated_and_mismatched_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let x = ArrayD::<f32>::zeros(IxDyn(&[4, 3]));
        let y = ArrayD::<f32>::zeros(IxDyn(&[4]));
        let (xp, yp) = write_pair(dir.path(), "a", &x, &y);
        let bytes = std::fs::read(&xp).unwrap();
        let cut = dir.path().join("cut.npy");
        std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
        let e = MmapNpy::open(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.npy") && e.contains("truncated"), "{e}");

        let (wide, _) = write_pair(dir.path(), "b", &ArrayD::zeros(IxDyn(&[4, 5])), &y);
        let e = MmapNpyDataset::open_shards(&[(xp.clone(), yp.clone()), (wide, yp.clone())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("b_x.npy") && e.contains("[5]") && e.contains("a_x.npy"),
            "{e}"
        );

        let (_, short_y) = write_pair(dir.path(), "c", &x, &ArrayD::zeros(IxDyn(&[3])));
        let e = MmapNpyDataset::open(&xp, &short_y).unwrap_err().to_string();
        assert!(e.contains("c_y.npy") && e.contains("3 rows"), "{e}");

        let e = MmapNpyDataset::open_shards::<PathBuf>(&[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least one"), "{e}");
        let ds = MmapNpyDataset::open(&xp, &yp).unwrap();
        assert!(ds.gather(&[4]).unwrap_err().to_string().contains("out of range"));
    }
}
