//! The names most programs use, for one glob import: the dataset and its loader, the
//! splitters, the scalers and the error type.
//!
//! ```
//! use neurite_data::prelude::*;
//!
//! let x = ndarray::Array2::<f32>::zeros((6, 2)).into_dyn();
//! let y = ndarray::Array1::from(vec![0.0f32, 1.0, 0.0, 1.0, 0.0, 1.0]).into_dyn();
//! let ds = Dataset::new(x, y)?;
//! let folds = KFold::new(3).split(ds.len())?;
//! assert_eq!(folds.len(), 3);
//! let loader = DataLoader::new(ds, 4)?;
//! assert_eq!(loader.epoch(0).count(), 2);
//! # Ok::<(), DataError>(())
//! ```

pub use crate::augment::{Augment, Pipeline};
pub use crate::dataset::Dataset;
pub use crate::error::{DataError, Result};
pub use crate::loader::{Batch, DataLoader};
pub use crate::preprocessing::{one_hot, LabelEncoder, MinMaxScaler, StandardScaler};
pub use crate::split::{
    stratified_train_test_split, train_test_split, GroupKFold, KFold, LeaveOneOut, Split, StratifiedKFold,
};
pub use crate::Generator;
pub use ndarray::{Array1, Array2, ArrayD};
