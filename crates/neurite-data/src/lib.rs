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
//!   [`cifar100`], [`csv`], [`npy`] (`.npy` / `.npz`), [`image_folder`] (PNG / JPEG).
//! * [`digits`]: scikit-learn's 1,797 8x8 digits, embedded.
//!
//! Every file error names the file and what was wrong (and the record or line where it helps);
//! the parsers never panic on bad input.
//!
//! ```
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
//! ```

#![warn(missing_docs)]

pub mod augment;
mod cifar;
pub mod cifar10;
pub mod cifar100;
pub mod csv;
mod dataset;
pub mod digits;
mod error;
pub mod idx;
pub mod image_folder;
mod io;
pub mod loader;
pub mod mnist;
pub mod npy;
pub mod preprocessing;
pub mod rng;
pub mod split;

pub use augment::{Augment, Pipeline};
pub use dataset::Dataset;
pub use error::{DataError, Result};
pub use image_folder::{ImageFolder, ImageFolderData};
pub use io::write_atomic;
pub use loader::{Batch, Batches, DataLoader};
pub use preprocessing::{one_hot, LabelEncoder, MinMaxScaler, StandardScaler};
pub use split::{
    stratified_train_test_split, train_test_split, GroupKFold, KFold, LeaveOneOut, Split, StratifiedKFold,
};
