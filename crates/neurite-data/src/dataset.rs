//! [`Dataset`]: features and targets as two `ArrayD<f32>` sharing their first (sample) axis.

use crate::rows::gather_rows;
use ndarray::{ArrayD, ArrayView2, ArrayView4, Axis, Ix2, Ix4, IxDyn};

use crate::error::{DataError, Result};
use crate::preprocessing;
use crate::rng::{self, STREAM_SPLIT};
use crate::split;

/// An in-memory dataset: `x` holds the features, `y` the targets, both with the samples on
/// axis 0.
///
/// * Images are NHWC: `x` has shape `(n, height, width, channels)`.
/// * Tabular data: `x` has shape `(n, features)`.
/// * Class labels are stored as `f32` values `0.0, 1.0, ...` with `y` of shape `(n,)`;
///   one-hot or regression targets have shape `(n, k)`.
///
/// The fields are public so that a Keras-style `model.fit(&ds.x, &ds.y)` needs no conversion.
/// Keep `x.len_of(Axis(0)) == y.len_of(Axis(0))` when you change them by hand;
/// [`Dataset::new`] checks it.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Features, samples on axis 0.
    pub x: ArrayD<f32>,
    /// Targets, samples on axis 0.
    pub y: ArrayD<f32>,
}

impl Dataset {
    /// Builds a dataset, checking that `x` and `y` have at least one axis and the same number of
    /// samples. Accepts arrays of any dimension (`Array2`, `Array4`, ...).
    pub fn new<D1, D2>(x: ndarray::Array<f32, D1>, y: ndarray::Array<f32, D2>) -> Result<Self>
    where
        D1: ndarray::Dimension,
        D2: ndarray::Dimension,
    {
        let x = x.into_dyn();
        let y = y.into_dyn();
        if x.ndim() == 0 || y.ndim() == 0 {
            return Err(DataError::shape(format!(
                "x and y need a sample axis; got x {:?}, y {:?}",
                x.shape(),
                y.shape()
            )));
        }
        if x.len_of(Axis(0)) != y.len_of(Axis(0)) {
            return Err(DataError::shape(format!(
                "x has {} samples (shape {:?}) but y has {} (shape {:?})",
                x.len_of(Axis(0)),
                x.shape(),
                y.len_of(Axis(0)),
                y.shape()
            )));
        }
        Ok(Dataset { x, y })
    }

    /// Checks what [`Dataset::new`] checks, for a dataset whose public fields may have been
    /// changed by hand: both arrays have a sample axis and the same number of samples. Every
    /// method that reads the samples calls it, so a broken dataset is an error naming `op`,
    /// never a panic.
    ///
    /// ```
    /// use ndarray::{array, ArrayD, IxDyn};
    /// use neurite_data::Dataset;
    /// let mut d = Dataset::new(array![[1.0f32], [2.0]], array![0.0f32, 1.0]).unwrap();
    /// assert!(d.validate("example").is_ok());
    /// d.y = ArrayD::zeros(IxDyn(&[3]));
    /// assert!(d.subset(&[1]).unwrap_err().to_string().contains("subset"));
    /// ```
    pub fn validate(&self, op: &str) -> Result<()> {
        if self.x.ndim() == 0 || self.y.ndim() == 0 || self.x.len_of(Axis(0)) != self.y.len_of(Axis(0)) {
            return Err(DataError::shape(format!(
                "Dataset::{op}: x {:?} and y {:?} must both have a sample axis of the same length",
                self.x.shape(),
                self.y.shape()
            )));
        }
        Ok(())
    }

    /// A dataset with class labels `classes` (stored in `y` as `f32`, shape `(n,)`).
    ///
    /// A class index of 2^24 or more cannot be stored exactly in an `f32` label (it would be
    /// rounded to another class) and is an error naming the sample.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use neurite_data::Dataset;
    /// let d = Dataset::from_classes(Array2::<f32>::zeros((2, 1)), &[0, 3]).unwrap();
    /// assert_eq!(d.class_indices().unwrap(), vec![0, 3]);
    /// assert!(Dataset::from_classes(Array2::<f32>::zeros((1, 1)), &[16_777_217]).is_err());
    /// ```
    pub fn from_classes<D: ndarray::Dimension>(x: ndarray::Array<f32, D>, classes: &[usize]) -> Result<Self> {
        if let Some((i, &c)) = classes.iter().enumerate().find(|(_, &c)| c >= 1 << 24) {
            return Err(DataError::arg(format!(
                "Dataset::from_classes: class {c} of sample {i} is 2^24 or more and cannot be stored \
                 exactly as an f32 label"
            )));
        }
        let y = ndarray::Array1::from_iter(classes.iter().map(|&c| c as f32));
        Dataset::new(x, y)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        if self.x.ndim() == 0 {
            0
        } else {
            self.x.len_of(Axis(0))
        }
    }

    /// `true` when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one sample of `x` (e.g. `[28, 28, 1]`).
    pub fn sample_shape(&self) -> &[usize] {
        self.x.shape().get(1..).unwrap_or(&[])
    }

    /// Number of values in one sample of `x`.
    pub fn sample_size(&self) -> usize {
        self.sample_shape().iter().product()
    }

    /// `x` as an NHWC 4-D view, or an error naming the actual shape.
    pub fn x4(&self) -> Result<ArrayView4<'_, f32>> {
        self.x.view().into_dimensionality::<Ix4>().map_err(|_| {
            DataError::shape(format!(
                "expected 4-D NHWC features, got shape {:?}",
                self.x.shape()
            ))
        })
    }

    /// `x` as a 2-D `(n, features)` view, or an error naming the actual shape.
    pub fn x2(&self) -> Result<ArrayView2<'_, f32>> {
        self.x.view().into_dimensionality::<Ix2>().map_err(|_| {
            DataError::shape(format!(
                "expected 2-D (samples, features) x, got shape {:?}",
                self.x.shape()
            ))
        })
    }

    /// The samples at `indices`, in that order (repeats allowed).
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        self.validate("subset")?;
        let n = self.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(DataError::arg(format!(
                "subset index {bad} out of range for a dataset of {n} samples"
            )));
        }
        Ok(Dataset {
            x: gather_rows(&self.x, indices),
            y: gather_rows(&self.y, indices),
        })
    }

    /// This dataset followed by `other` (sample shapes must agree).
    pub fn concat(&self, other: &Dataset) -> Result<Dataset> {
        Dataset::concat_all(&[self, other])
    }

    /// All the datasets one after the other (sample shapes must agree).
    pub fn concat_all(parts: &[&Dataset]) -> Result<Dataset> {
        let Some(first) = parts.first() else {
            return Err(DataError::arg("concat_all needs at least one dataset"));
        };
        for (i, p) in parts.iter().enumerate() {
            p.validate(&format!("concat_all (dataset {i})"))?;
        }
        for (i, p) in parts.iter().enumerate() {
            if p.x.shape()[1..] != first.x.shape()[1..] || p.y.shape()[1..] != first.y.shape()[1..] {
                return Err(DataError::shape(format!(
                    "cannot concatenate dataset {i} with x {:?}, y {:?} to dataset 0 with x {:?}, y {:?}",
                    p.x.shape(),
                    p.y.shape(),
                    first.x.shape(),
                    first.y.shape()
                )));
            }
        }
        let xs: Vec<_> = parts.iter().map(|p| p.x.view()).collect();
        let ys: Vec<_> = parts.iter().map(|p| p.y.view()).collect();
        let x = ndarray::concatenate(Axis(0), &xs).map_err(|e| DataError::shape(e.to_string()))?;
        let y = ndarray::concatenate(Axis(0), &ys).map_err(|e| DataError::shape(e.to_string()))?;
        Ok(Dataset { x, y })
    }

    /// The samples in a random order given by `seed` (an error only for a dataset whose
    /// fields were broken by hand, see [`Dataset::validate`]).
    pub fn shuffled(&self, seed: u64) -> Result<Dataset> {
        self.validate("shuffled")?;
        let perm = rng::permutation(self.len(), &mut rng::rng_for(seed, &[STREAM_SPLIT, 0]));
        Ok(Dataset {
            x: gather_rows(&self.x, &perm),
            y: gather_rows(&self.y, &perm),
        })
    }

    /// Random train/test split, `test_fraction` of the samples (rounded up, as in
    /// scikit-learn) going to the test set. Both parts keep the original sample order.
    pub fn train_test_split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        self.validate("train_test_split")?;
        let (train, test) = split::train_test_split(self.len(), test_fraction, seed)?;
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    /// Like [`Dataset::train_test_split`] but stratified by the class labels in `y`: each class
    /// gets (within one sample) the same share in train and test.
    pub fn stratified_train_test_split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        self.validate("stratified_train_test_split")?;
        let classes = self.class_indices()?;
        let (train, test) = split::stratified_train_test_split(&classes, test_fraction, seed)?;
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    /// The class labels of `y` as indices. `y` must be `(n,)` (or `(n, 1)`) holding
    /// non-negative whole numbers, or one-hot `(n, k)` (then the arg-max of each row).
    pub fn class_indices(&self) -> Result<Vec<usize>> {
        preprocessing::class_indices(&self.y)
    }

    /// `max(class) + 1` over the labels (0 for an empty dataset).
    pub fn num_classes(&self) -> Result<usize> {
        Ok(self.class_indices()?.iter().max().map_or(0, |&m| m + 1))
    }

    /// How many samples each class `0..num_classes` has.
    pub fn class_counts(&self) -> Result<Vec<usize>> {
        let c = self.class_indices()?;
        let k = c.iter().max().map_or(0, |&m| m + 1);
        let mut counts = vec![0; k];
        for i in c {
            counts[i] += 1;
        }
        Ok(counts)
    }

    /// The same dataset with `y` one-hot encoded to `(n, num_classes)`
    /// (`None`: [`Dataset::num_classes`]).
    pub fn one_hot(&self, num_classes: Option<usize>) -> Result<Dataset> {
        self.validate("one_hot")?;
        let c = self.class_indices()?;
        let k = match num_classes {
            Some(k) => k,
            None => c.iter().max().map_or(0, |&m| m + 1),
        };
        Ok(Dataset {
            x: self.x.clone(),
            y: preprocessing::one_hot(&c, k)?.into_dyn(),
        })
    }

    /// The same dataset with each sample of `x` flattened: `(n, h, w, c)` -> `(n, h*w*c)` (an
    /// error only for a dataset whose fields were broken by hand, see [`Dataset::validate`]).
    pub fn flatten(&self) -> Result<Dataset> {
        self.validate("flatten")?;
        let n = self.len();
        let f = self.sample_size();
        let x = self
            .x
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&[n, f]))
            .map_err(|e| DataError::shape(format!("Dataset::flatten: {e}")))?;
        Ok(Dataset { x, y: self.y.clone() })
    }

    /// The same dataset with every sample of `x` reshaped to `sample_shape`
    /// (e.g. `(n, 64)` -> `(n, 8, 8, 1)`).
    pub fn reshape_samples(&self, sample_shape: &[usize]) -> Result<Dataset> {
        self.validate("reshape_samples")?;
        let want = sample_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| DataError::shape(format!("sample shape {sample_shape:?} is too large")))?;
        if want != self.sample_size() {
            return Err(DataError::shape(format!(
                "cannot reshape samples of shape {:?} ({} values) to {:?} ({} values)",
                self.sample_shape(),
                self.sample_size(),
                sample_shape,
                want
            )));
        }
        let mut shape = vec![self.len()];
        shape.extend_from_slice(sample_shape);
        let x = self
            .x
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&shape))
            .map_err(|e| DataError::shape(e.to_string()))?;
        Ok(Dataset { x, y: self.y.clone() })
    }
}
