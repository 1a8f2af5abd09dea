//! Shared parser of the CIFAR-10 / CIFAR-100 binary formats.

use std::path::Path;

use ndarray::{Array1, ArrayD, IxDyn};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io;

/// Pixels per channel.
const PLANE: usize = 32 * 32;
/// Pixel bytes per record (R plane, G plane, B plane).
pub(crate) const PIXELS: usize = 3 * PLANE;

/// One record's layout: `labels` label bytes, then 3072 pixel bytes. `label_limits[i]` is the
/// number of classes of label byte `i`; `use_label` picks the byte that becomes `y`.
pub(crate) struct Layout {
    pub name: &'static str,
    pub label_limits: &'static [(u8, &'static str)],
    pub use_label: usize,
}

/// A size of zero, or one that is not a whole number of records, is an error naming the file.
fn check_size(len: u64, path: &Path, layout: &Layout) -> Result<()> {
    let record = (layout.label_limits.len() + PIXELS) as u64;
    if len == 0 {
        return Err(DataError::format(
            path,
            format!("empty file: no {} records", layout.name),
        ));
    }
    if !len.is_multiple_of(record) {
        return Err(DataError::format(
            path,
            format!(
                "size {len} bytes is not a whole number of {record}-byte {} records \
                 ({} complete records and {} bytes of record {}): truncated or not a {} batch",
                layout.name,
                len / record,
                len % record,
                len / record,
                layout.name
            ),
        ));
    }
    Ok(())
}

/// Parses CIFAR records into an NHWC dataset. The record count comes from the size.
pub(crate) fn parse(bytes: &[u8], path: &Path, layout: &Layout, scale: bool) -> Result<Dataset> {
    let nl = layout.label_limits.len();
    let record = nl + PIXELS;
    check_size(bytes.len() as u64, path, layout)?;
    let n = bytes.len() / record;
    let mut labels = Vec::with_capacity(n);
    let mut x: Vec<f32> = io::try_zeroed(n * PIXELS, path, &format!("{n} {} images", layout.name))?;
    for (i, (rec, out)) in bytes
        .chunks_exact(record)
        .zip(x.chunks_exact_mut(PIXELS))
        .enumerate()
    {
        for (b, &(limit, what)) in layout.label_limits.iter().enumerate() {
            if rec[b] >= limit {
                return Err(DataError::format(
                    path,
                    format!(
                        "record {i} (byte offset {}): {what} label {} is out of range 0..{limit}",
                        i * record + b,
                        rec[b]
                    ),
                ));
            }
        }
        labels.push(rec[layout.use_label] as f32);
        let px = &rec[nl..];
        // CHW planes -> HWC.
        for p in 0..PLANE {
            for ch in 0..3 {
                let v = px[ch * PLANE + p] as f32;
                out[p * 3 + ch] = if scale { v / 255.0 } else { v };
            }
        }
    }
    let x = ArrayD::from_shape_vec(IxDyn(&[n, 32, 32, 3]), x).expect("n * 3072 values");
    Dataset::new(x, Array1::from(labels))
}

/// Reads and parses one batch file (raw or gzip). A plain file whose size is not a whole
/// number of records is refused before it is read; a gzip file has no header to bound it, so
/// it is read with fallible allocation.
pub(crate) fn load(path: &Path, layout: &Layout, scale: bool) -> Result<Dataset> {
    let mut input = io::open(path)?;
    if let io::Origin::Raw { file_len } = input.origin() {
        check_size(file_len, path, layout)?;
    }
    let bytes = input.read_rest(&format!("the {} records", layout.name))?;
    parse(&bytes, path, layout, scale)
}

/// Loads the named files of `dir` (or of its `sub` folder, as unpacked from the official
/// archives) and concatenates them.
pub(crate) fn load_files(
    dir: &Path,
    sub: &str,
    names: &[&str],
    layout: &Layout,
    scale: bool,
) -> Result<Dataset> {
    let base = if !dir.join(names[0]).exists() && dir.join(sub).is_dir() {
        dir.join(sub)
    } else {
        dir.to_path_buf()
    };
    let parts = names
        .iter()
        .map(|n| load(&base.join(n), layout, scale))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Dataset> = parts.iter().collect();
    Dataset::concat_all(&refs)
}
