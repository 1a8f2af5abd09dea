//! CIFAR-10 binary batches (`data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`):
//! records of 1 label byte and 3072 pixel bytes (1024 R, 1024 G, 1024 B, rows in order).
//! The number of records is taken from the file size, so partial batches load too; a size
//! that is not a whole number of records, or a label above 9, is an error naming the file (and
//! the record).
//!
//! Images come out NHWC `(n, 32, 32, 3)`, scaled to `[0, 1]` by default; labels `(n,)`.

use std::path::Path;

use crate::cifar::{self, Layout};
use crate::dataset::Dataset;
use crate::error::Result;

/// Bytes per record.
pub const RECORD_BYTES: usize = 1 + cifar::PIXELS;

/// Class names by label.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

const LAYOUT: Layout = Layout {
    name: "CIFAR-10",
    label_limits: &[(10, "class")],
    use_label: 0,
};

/// One batch file, pixels scaled to `[0, 1]`.
pub fn load_batch(path: impl AsRef<Path>) -> Result<Dataset> {
    load_batch_with(path, true)
}

/// One batch file; `scale: false` keeps pixel values 0..255.
pub fn load_batch_with(path: impl AsRef<Path>, scale: bool) -> Result<Dataset> {
    cifar::load(path.as_ref(), &LAYOUT, scale)
}

/// Parses batch bytes; `path` names the source in errors.
pub fn parse_batch(bytes: &[u8], path: impl AsRef<Path>, scale: bool) -> Result<Dataset> {
    cifar::parse(bytes, path.as_ref(), &LAYOUT, scale)
}

/// Train (the five `data_batch_*.bin`, 50,000 images) and test (`test_batch.bin`) from `dir`
/// or `dir/cifar-10-batches-bin`.
pub fn load(dir: impl AsRef<Path>) -> Result<(Dataset, Dataset)> {
    let dir = dir.as_ref();
    let sub = "cifar-10-batches-bin";
    let train = cifar::load_files(
        dir,
        sub,
        &[
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin",
        ],
        &LAYOUT,
        true,
    )?;
    let test = cifar::load_files(dir, sub, &["test_batch.bin"], &LAYOUT, true)?;
    Ok((train, test))
}
