//! # neurite-data
//!
//! Datasets, a parallel prefetching batch loader, image augmentation, cross-validation
//! splitters and readers for the standard dataset files, on plain [`ndarray`] (no other
//! neurite crate needed).
//!
//! * [`Dataset`]: `x` and `y` as `ArrayD<f32>` (images NHWC, class labels as `0.0, 1.0, ...`),
//!   with subset / concat / train-test split (stratified too) / one-hot.
//! * [`preprocessing`]: [`LabelEncoder`], [`StandardScaler`], [`MinMaxScaler`] with
//!   scikit-learn's `fit` / `transform` / `inverse_transform`.
//! * [`DataLoader`]: batches with seeded shuffling and `drop_last`, assembled and augmented in
//!   parallel by a background thread ahead of the training step; deterministic under its seed.
//! * [`augment`]: flips, random crop (zero / reflect padding), translation, rotation,
//!   brightness / contrast jitter, gaussian noise, random erasing, cutout; composable into a
//!   [`augment::Pipeline`].
//! * [`split`]: [`KFold`], [`StratifiedKFold`], [`GroupKFold`], [`LeaveOneOut`].
//! * Files: [`idx`] / [`mnist`] (MNIST, Fashion-MNIST, any IDX, raw or `.gz`), [`cifar10`],
//!   [`cifar100`], `csv`, [`npy`] (`.npy` / `.npz`), `image_folder` (PNG / JPEG).
//! * `text`: Keras' `TextVectorization` (standardize, split, vocabulary, padded integer
//!   sequences; UTF-8 throughout) and a folder-per-class `.txt` loader.
//! * `digits`: scikit-learn's 1,797 8x8 digits, embedded.
//!
//! Every file error names the file and what was wrong (and the record or line where it helps);
//! the parsers never panic on bad input.
//!
//! ## Cargo features
//!
//! All on by default; turn them off (`default-features = false`) to build only the
//! in-memory parts (datasets, splitters, loader, augmentation, IDX / CIFAR / `.npy`)
//! on `ndarray`, `rand` and `rayon`:
//!
//! | feature | gives | pulls in |
//! |---------|-------|----------|
//! | `image` | the `image_folder` module (PNG / JPEG decoding) | `image` |
//! | `npz`   | `.npz` archives in [`npy`] (`read_npz`, `write_npz`, ...) | `zip`, `flate2` |
//! | `gzip`  | reading gzip-compressed files, writing `.gz` | `flate2` |
//! | `csv`   | the `csv` module; with `gzip`, the embedded `digits` set | `csv` |
//! | `text`  | the `text` module (`TextVectorization`, the `.txt` folder loader) | `serde_json` |
//!
//! Without `gzip`, reading a gzip file or writing a `.gz` one is a
//! [`DataError::FeatureDisabled`] naming the feature; the other features' items are absent.
//!
//! The crate re-exports [`ndarray`], and [`prelude`] holds the names most programs use.
//!
//! ```
//! # #[cfg(all(feature = "csv", feature = "gzip"))] {
//! use neurite_data::{digits, DataLoader, StratifiedKFold};
//!
//! let ds = digits::load(); // x (1797, 8, 8, 1) in [0, 1], y (1797,)
//! let (train, test) = ds.stratified_train_test_split(0.2, 42).unwrap();
//! assert_eq!(test.len(), 360);
//!
//! let folds = StratifiedKFold::new(5).shuffle(0).split(&train.class_indices().unwrap()).unwrap();
//! assert_eq!(folds.len(), 5);
//!
//! let loader = DataLoader::new(train, 32).unwrap().shuffle(true).seed(1);
//! for batch in loader.epoch(0) {
//!     assert_eq!(batch.x.ndim(), 4);
//! }
//! # }
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use ndarray;
/// The `rand` version [`Generator`] implements (`rand::Rng` draws from it).
pub use neurite_rand::rand;
/// The seeded generator [`Augment::apply`] takes (from `neurite-rand`), so a
/// custom augmentation needs no other dependency.
pub use neurite_rand::Generator;

pub mod augment;
mod cifar;
pub mod cifar10;
pub mod cifar100;
#[cfg(feature = "csv")]
#[cfg_attr(docsrs, doc(cfg(feature = "csv")))]
pub mod csv;
mod dataset;
#[cfg(all(feature = "csv", feature = "gzip"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "csv", feature = "gzip"))))]
pub mod digits;
mod error;
pub mod idx;
#[cfg(feature = "image")]
#[cfg_attr(docsrs, doc(cfg(feature = "image")))]
pub mod image_folder;
mod io;
pub mod loader;
pub mod mnist;
pub mod npy;
pub mod prelude;
pub mod preprocessing;
pub mod rng;
mod rows;
pub mod split;
pub mod stream;
#[cfg(feature = "text")]
#[cfg_attr(docsrs, doc(cfg(feature = "text")))]
pub mod text;

pub use augment::{Augment, Pipeline};
pub use dataset::Dataset;
pub use error::{DataError, Result};
#[cfg(feature = "image")]
#[cfg_attr(docsrs, doc(cfg(feature = "image")))]
pub use image_folder::{ImageFolder, ImageFolderData};
pub use io::write_atomic;
pub use loader::{Batch, Batches, DataLoader};
pub use preprocessing::{one_hot, LabelEncoder, MinMaxScaler, StandardScaler};
pub use rows::gather_rows;
pub use split::{
    stratified_train_test_split, train_test_split, GroupKFold, KFold, LeaveOneOut, Split, StratifiedKFold,
};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
