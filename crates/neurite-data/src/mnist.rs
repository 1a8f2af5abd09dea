//! MNIST and Fashion-MNIST (same IDX files): `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or
//! `.gz` (also the `train-images.idx3-ubyte` spelling).
//!
//! ```no_run
//! let (train, test) = neurite_data::mnist::load("data/mnist").unwrap();
//! assert_eq!(train.x.shape(), &[60000, 28, 28, 1]); // f32 in [0, 1]
//! assert_eq!(test.y.shape(), &[10000]);             // labels 0.0 ..= 9.0
//! ```

use std::path::{Path, PathBuf};

use ndarray::{Array1, ArrayD, IxDyn};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::idx;
use crate::io;

/// The classes of Fashion-MNIST, by label.
pub const FASHION_CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// How images are returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MnistOptions {
    /// Divide pixels by 255 to `[0, 1]` (default true); false keeps 0..255.
    pub scale: bool,
    /// `(n, 784)` instead of `(n, 28, 28, 1)` (default false).
    pub flatten: bool,
}

impl Default for MnistOptions {
    fn default() -> Self {
        MnistOptions {
            scale: true,
            flatten: false,
        }
    }
}

/// Train and test sets from a directory holding the four files (raw or `.gz`), images
/// `(n, 28, 28, 1)` in `[0, 1]`, labels `(n,)`.
pub fn load(dir: impl AsRef<Path>) -> Result<(Dataset, Dataset)> {
    load_with(dir, MnistOptions::default())
}

/// [`load`] with options.
pub fn load_with(dir: impl AsRef<Path>, opts: MnistOptions) -> Result<(Dataset, Dataset)> {
    let dir = dir.as_ref();
    let train = load_files(
        find(dir, "train-images", "idx3-ubyte")?,
        find(dir, "train-labels", "idx1-ubyte")?,
        opts,
    )?;
    let test = load_files(
        find(dir, "t10k-images", "idx3-ubyte")?,
        find(dir, "t10k-labels", "idx1-ubyte")?,
        opts,
    )?;
    Ok((train, test))
}

/// Finds `stem-suffix`, `stem.suffix`, with or without `.gz`.
fn find(dir: &Path, stem: &str, suffix: &str) -> Result<PathBuf> {
    let names = [
        format!("{stem}-{suffix}"),
        format!("{stem}-{suffix}.gz"),
        format!("{stem}.{suffix}"),
        format!("{stem}.{suffix}.gz"),
    ];
    for n in &names {
        let p = dir.join(n);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::io(
        dir.join(&names[1]),
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no MNIST file {} in {}", names.join(" / "), dir.display()),
        ),
    ))
}

/// One split from an image file and a label file (raw or `.gz`). Images must be u8 IDX with 3
/// dimensions `(n, rows, cols)`, labels u8 IDX with one `(n,)`, and the counts must agree.
pub fn load_files(images: impl AsRef<Path>, labels: impl AsRef<Path>, opts: MnistOptions) -> Result<Dataset> {
    let (ip, lp) = (images.as_ref(), labels.as_ref());
    let img = idx::read(ip)?;
    let lab = idx::read(lp)?;
    from_idx(&img, ip, &lab, lp, opts)
}

/// Builds a dataset from parsed IDX image and label arrays (paths only name them in errors).
pub fn from_idx(
    images: &idx::IdxArray,
    images_path: &Path,
    labels: &idx::IdxArray,
    labels_path: &Path,
    opts: MnistOptions,
) -> Result<Dataset> {
    let Some(pix) = images.as_u8() else {
        return Err(DataError::format(
            images_path,
            format!("MNIST images must be u8 (type 0x08), found {}", images.dtype()),
        ));
    };
    if images.shape.len() != 3 {
        return Err(DataError::format(
            images_path,
            format!(
                "MNIST images must have 3 dimensions (n, rows, cols), found {:?} (magic 0x{:08X}, expected 0x00000803)",
                images.shape,
                0x800 | images.shape.len()
            ),
        ));
    }
    let Some(lab) = labels.as_u8() else {
        return Err(DataError::format(
            labels_path,
            format!("MNIST labels must be u8 (type 0x08), found {}", labels.dtype()),
        ));
    };
    if labels.shape.len() != 1 {
        return Err(DataError::format(
            labels_path,
            format!(
                "MNIST labels must have 1 dimension (n,), found {:?} (magic 0x{:08X}, expected 0x00000801)",
                labels.shape,
                0x800 | labels.shape.len()
            ),
        ));
    }
    let (n, h, w) = (images.shape[0], images.shape[1], images.shape[2]);
    if labels.shape[0] != n {
        return Err(DataError::format(
            labels_path,
            format!(
                "{} labels but {} holds {n} images",
                labels.shape[0],
                images_path.display()
            ),
        ));
    }
    let x = io::u8_to_f32(pix, opts.scale, images_path)?;
    let shape = if opts.flatten {
        vec![
            n,
            h.checked_mul(w).ok_or_else(|| {
                DataError::shape(format!(
                    "MNIST images {:?} are too large to flatten",
                    images.shape
                ))
            })?,
        ]
    } else {
        vec![n, h, w, 1]
    };
    let x = ArrayD::from_shape_vec(IxDyn(&shape), x).map_err(|e| DataError::shape(e.to_string()))?;
    let y = Array1::from_iter(lab.iter().map(|&l| l as f32));
    Dataset::new(x, y)
}
