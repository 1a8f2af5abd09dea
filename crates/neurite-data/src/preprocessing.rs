//! Label encoding and feature scaling, with the `fit` / `transform` / `inverse_transform`
//! protocol known from scikit-learn.
//!
//! The scalers treat the **last axis as the feature axis** and every other axis as samples, so
//! on `(n, features)` they behave exactly as scikit-learn's, and on NHWC images `(n, h, w, c)`
//! they scale per channel.

use ndarray::{Array1, Array2, ArrayBase, ArrayD, Axis, Data, Dimension, Ix2};

use crate::error::{DataError, Result};

/// Class labels as indices from `y`: `(n,)` or `(n, 1)` of non-negative whole numbers, or
/// one-hot / score rows `(n, k)` (arg-max per row).
pub fn class_indices(y: &ArrayD<f32>) -> Result<Vec<usize>> {
    match y.ndim() {
        1 => y.iter().enumerate().map(|(i, &v)| to_class(v, i)).collect(),
        2 if y.shape()[1] == 1 => y.iter().enumerate().map(|(i, &v)| to_class(v, i)).collect(),
        2 => {
            let y2 = y.view().into_dimensionality::<Ix2>().expect("2-D");
            // A NaN score would be skipped by the arg-max, silently picking another class.
            if let Some((i, _)) = y2
                .rows()
                .into_iter()
                .enumerate()
                .find(|(_, r)| r.iter().any(|v| v.is_nan()))
            {
                return Err(DataError::arg(format!(
                    "row {i} of the one-hot / score labels {:?} holds NaN: no class can be read from it",
                    y.shape()
                )));
            }
            Ok(argmax_rows(&y2))
        }
        _ => Err(DataError::shape(format!(
            "class labels must be (n,), (n, 1) or one-hot (n, k); got {:?}",
            y.shape()
        ))),
    }
}

fn to_class(v: f32, i: usize) -> Result<usize> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0 {
        Ok(v as usize)
    } else {
        Err(DataError::arg(format!(
            "label {v} of sample {i} is not a class index (a non-negative whole number)"
        )))
    }
}

/// Index of the largest value of each row (first one on ties).
pub fn argmax_rows<S: Data<Elem = f32>>(y: &ArrayBase<S, Ix2>) -> Vec<usize> {
    y.rows()
        .into_iter()
        .map(|r| {
            let mut best = 0;
            for (j, &v) in r.iter().enumerate() {
                if v > r[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// One-hot encoding: row `i` has a 1 in column `classes[i]`. Errors on a class
/// `>= num_classes`.
///
/// The `(n, num_classes)` matrix is allocated fallibly: a size that overflows or cannot be
/// allocated is an error, not an abort.
///
/// ```
/// use neurite_data::one_hot;
/// assert_eq!(one_hot(&[1, 0], 2).unwrap().row(0).to_vec(), vec![0.0, 1.0]);
/// assert!(one_hot(&[1, 0], usize::MAX).is_err());
/// ```
pub fn one_hot(classes: &[usize], num_classes: usize) -> Result<Array2<f32>> {
    let n = classes.len();
    let too_big = || {
        DataError::arg(format!(
            "one_hot: {n} samples x {num_classes} classes is too large to allocate"
        ))
    };
    let len = n
        .checked_mul(num_classes)
        .filter(|&l| l <= isize::MAX as usize / 4)
        .ok_or_else(too_big)?;
    let mut buf: Vec<f32> = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| too_big())?;
    buf.resize(len, 0.0);
    let mut out = Array2::from_shape_vec((n, num_classes), buf).map_err(|_| too_big())?;
    for (i, &c) in classes.iter().enumerate() {
        if c >= num_classes {
            return Err(DataError::arg(format!(
                "class {c} of sample {i} does not fit in {num_classes} classes"
            )));
        }
        out[(i, c)] = 1.0;
    }
    Ok(out)
}

/// Maps arbitrary labels (strings, integers, ...) to `0..n_classes`, classes sorted as by
/// scikit-learn's `LabelEncoder`.
///
/// ```
/// use neurite_data::LabelEncoder;
/// let enc = LabelEncoder::fit(&["cat", "dog", "cat", "bird"]);
/// assert_eq!(enc.classes(), &["bird", "cat", "dog"]);
/// assert_eq!(enc.transform(&["dog", "bird"]).unwrap(), vec![2, 0]);
/// assert_eq!(enc.inverse_transform(&[1]).unwrap(), vec!["cat"]);
/// assert!(enc.transform(&["cow"]).is_err()); // unknown label
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelEncoder<T> {
    classes: Vec<T>,
}

impl<T: Ord + Clone + std::fmt::Debug> LabelEncoder<T> {
    /// Learns the sorted set of distinct labels.
    pub fn fit(labels: &[T]) -> Self {
        let mut classes = labels.to_vec();
        classes.sort();
        classes.dedup();
        LabelEncoder { classes }
    }

    /// An encoder with a fixed class list (kept in the given order; duplicates are an error).
    pub fn with_classes(classes: Vec<T>) -> Result<Self> {
        let mut sorted = classes.clone();
        sorted.sort();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(DataError::arg(format!(
                "duplicate class in class list {classes:?}"
            )));
        }
        Ok(LabelEncoder { classes })
    }

    /// The classes; class `i` is `classes()[i]`.
    pub fn classes(&self) -> &[T] {
        &self.classes
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Index of one label, `None` when unknown.
    pub fn index_of(&self, label: &T) -> Option<usize> {
        self.classes.iter().position(|c| c == label)
    }

    /// Labels to indices; an unknown label is an error naming it and its position.
    pub fn transform(&self, labels: &[T]) -> Result<Vec<usize>> {
        let mut map: Vec<(&T, usize)> = self.classes.iter().zip(0..).collect();
        map.sort_by(|a, b| a.0.cmp(b.0));
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                map.binary_search_by(|(c, _)| (*c).cmp(l))
                    .map(|k| map[k].1)
                    .map_err(|_| {
                        DataError::arg(format!(
                            "unknown label {l:?} at position {i}; known classes: {:?}",
                            self.classes
                        ))
                    })
            })
            .collect()
    }

    /// `fit` then `transform`.
    pub fn fit_transform(labels: &[T]) -> (Self, Vec<usize>) {
        let enc = Self::fit(labels);
        let idx = enc.transform(labels).expect("every label was fitted");
        (enc, idx)
    }

    /// Indices back to labels.
    pub fn inverse_transform(&self, indices: &[usize]) -> Result<Vec<T>> {
        indices
            .iter()
            .map(|&i| {
                self.classes.get(i).cloned().ok_or_else(|| {
                    DataError::arg(format!(
                        "class index {i} out of range for {} classes",
                        self.classes.len()
                    ))
                })
            })
            .collect()
    }

    /// Indices as `f32` labels `(n,)`, ready for [`crate::Dataset::y`].
    pub fn transform_to_f32(&self, labels: &[T]) -> Result<Array1<f32>> {
        Ok(Array1::from_iter(
            self.transform(labels)?.into_iter().map(|i| i as f32),
        ))
    }
}

/// Rows `(m, f)` view of an array whose last axis is the feature axis.
fn as_rows<S: Data<Elem = f32>, D: Dimension>(x: &ArrayBase<S, D>) -> Result<Array2<f32>> {
    if x.ndim() == 0 {
        return Err(DataError::shape("a scaler needs at least one axis"));
    }
    let f = x.shape()[x.ndim() - 1];
    let m = x.len().checked_div(f).unwrap_or(0);
    let flat: Vec<f32> = x.as_standard_layout().iter().copied().collect();
    Ok(Array2::from_shape_vec((m, f), flat).expect("row count"))
}

fn back<D: Dimension>(rows: Array2<f32>, shape: D) -> Array<D> {
    ndarray::Array::from_shape_vec(shape, rows.into_raw_vec_and_offset().0).expect("same number of values")
}

type Array<D> = ndarray::Array<f32, D>;

fn check_features(what: &str, expected: usize, x_shape: &[usize]) -> Result<()> {
    let got = x_shape.last().copied().unwrap_or(0);
    if got != expected {
        return Err(DataError::shape(format!(
            "{what} was fitted on {expected} features but got shape {x_shape:?} ({got} features)"
        )));
    }
    Ok(())
}

/// Infinite values are an error naming the column and the sample (as scikit-learn's
/// "Input X contains infinity"); NaN is allowed: it is a missing value.
fn check_no_inf(what: &str, op: &str, rows: &Array2<f32>) -> Result<()> {
    for (i, r) in rows.rows().into_iter().enumerate() {
        if let Some(j) = r.iter().position(|v| v.is_infinite()) {
            return Err(DataError::arg(format!(
                "{what}.{op}: column {j} holds {} at sample {i}; only finite values and NaN \
                 (a missing value) are accepted",
                r[j]
            )));
        }
    }
    Ok(())
}

/// A scale of (almost) zero is replaced by 1, as in scikit-learn, so constant features pass
/// through centred instead of becoming NaN.
fn safe_scale(s: f64) -> f64 {
    if s.abs() < 10.0 * f64::EPSILON {
        1.0
    } else {
        s
    }
}

/// Standardises features to zero mean and unit variance (population variance, as in
/// scikit-learn): `z = (x - mean) / std`.
///
/// **Missing values and special columns**, as scikit-learn's `StandardScaler`:
/// * NaN is a missing value: `fit` ignores it (per-column `nanmean` / `nanvar` over the values
///   that are there) and `transform` / `inverse_transform` keep it as NaN.
/// * A constant column (variance zero, up to rounding as scikit-learn's
///   `_is_constant_feature` decides) gets scale 1, so it is centred, not divided by zero.
/// * A column that is all NaN has mean NaN and scale 1: its transformed values are NaN, as in
///   scikit-learn (with `with_mean = false` they pass through unchanged).
/// * An infinite value, in `fit` or later, is an error naming the column and the sample.
///
/// ```
/// use ndarray::array;
/// use neurite_data::StandardScaler;
/// let x = array![[1.0f32, f32::NAN], [3.0, 4.0], [f32::NAN, 8.0]];
/// let mut s = StandardScaler::new();
/// let z = s.fit_transform(&x).unwrap();
/// assert_eq!(s.mean().unwrap(), &array![2.0, 6.0]); // NaNs ignored
/// assert_eq!(z[[0, 0]], -1.0);
/// assert!(z[[0, 1]].is_nan()); // kept
/// assert!(s.fit(&array![[f32::INFINITY]]).is_err());
/// ```
///
/// ```
/// use ndarray::array;
/// use neurite_data::StandardScaler;
/// let x = array![[1.0f32, 10.0], [3.0, 10.0]];
/// let mut s = StandardScaler::new();
/// let z = s.fit_transform(&x).unwrap();
/// assert_eq!(z, array![[-1.0, 0.0], [1.0, 0.0]]);
/// assert_eq!(s.inverse_transform(&z).unwrap(), x);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StandardScaler {
    /// Subtract the mean (default true).
    pub with_mean: bool,
    /// Divide by the standard deviation (default true).
    pub with_std: bool,
    mean: Option<Array1<f32>>,
    scale: Option<Array1<f32>>,
}

impl Default for StandardScaler {
    fn default() -> Self {
        Self::new()
    }
}

impl StandardScaler {
    /// An unfitted scaler that centres and scales.
    pub fn new() -> Self {
        StandardScaler {
            with_mean: true,
            with_std: true,
            mean: None,
            scale: None,
        }
    }

    /// Learns the per-feature mean and standard deviation (last axis = features).
    pub fn fit<S: Data<Elem = f32>, D: Dimension>(&mut self, x: &ArrayBase<S, D>) -> Result<&mut Self> {
        let rows = as_rows(x)?;
        let m = rows.nrows();
        if m == 0 {
            return Err(DataError::shape(format!(
                "cannot fit StandardScaler on an empty array of shape {:?}",
                x.shape()
            )));
        }
        check_no_inf("StandardScaler", "fit", &rows)?;
        let f = rows.ncols();
        // nanmean / nanvar per column: NaN is a missing value.
        let mut count = vec![0u64; f];
        let mut mean = vec![0f64; f];
        for r in rows.rows() {
            for ((a, c), &v) in mean.iter_mut().zip(&mut count).zip(r) {
                if !v.is_nan() {
                    *a += v as f64;
                    *c += 1;
                }
            }
        }
        for (a, &c) in mean.iter_mut().zip(&count) {
            *a = if c == 0 { f64::NAN } else { *a / c as f64 };
        }
        let mut var = vec![0f64; f];
        for r in rows.rows() {
            for ((a, &v), mu) in var.iter_mut().zip(r).zip(&mean) {
                if !v.is_nan() {
                    let d = v as f64 - mu;
                    *a += d * d;
                }
            }
        }
        let scale: Vec<f32> = var
            .iter()
            .zip(&mean)
            .zip(&count)
            .map(|((&v, &mu), &c)| {
                if c == 0 {
                    return 1.0; // all NaN
                }
                let var = v / c as f64;
                // scikit-learn's _is_constant_feature: a variance within rounding of zero.
                let n = c as f64;
                let eps = f64::EPSILON;
                let bound = n * eps * var + (n * mu * eps).powi(2);
                if var <= bound {
                    1.0
                } else {
                    safe_scale(var.sqrt()) as f32
                }
            })
            .collect();
        self.mean = Some(Array1::from_iter(mean.into_iter().map(|v| v as f32)));
        self.scale = Some(Array1::from(scale));
        Ok(self)
    }

    /// Per-feature mean learnt by `fit`.
    pub fn mean(&self) -> Option<&Array1<f32>> {
        self.mean.as_ref()
    }

    /// Per-feature standard deviation learnt by `fit` (1 for constant features).
    pub fn scale(&self) -> Option<&Array1<f32>> {
        self.scale.as_ref()
    }

    fn params(&self, x_shape: &[usize]) -> Result<(Array1<f32>, Array1<f32>)> {
        let (Some(mean), Some(scale)) = (&self.mean, &self.scale) else {
            return Err(DataError::NotFitted("StandardScaler"));
        };
        check_features("StandardScaler", mean.len(), x_shape)?;
        let mean = if self.with_mean {
            mean.clone()
        } else {
            Array1::zeros(mean.len())
        };
        let scale = if self.with_std {
            scale.clone()
        } else {
            Array1::ones(scale.len())
        };
        Ok((mean, scale))
    }

    /// `(x - mean) / std`, same shape as `x`.
    pub fn transform<S: Data<Elem = f32>, D: Dimension>(&self, x: &ArrayBase<S, D>) -> Result<Array<D>> {
        let (mean, scale) = self.params(x.shape())?;
        let mut rows = as_rows(x)?;
        check_no_inf("StandardScaler", "transform", &rows)?;
        for mut r in rows.rows_mut() {
            for ((v, mu), s) in r.iter_mut().zip(&mean).zip(&scale) {
                *v = (*v - mu) / s;
            }
        }
        Ok(back(rows, x.raw_dim()))
    }

    /// `fit` then `transform`.
    pub fn fit_transform<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<D>> {
        self.fit(x)?;
        self.transform(x)
    }

    /// `z * std + mean`, undoing `transform`.
    pub fn inverse_transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<D>> {
        let (mean, scale) = self.params(x.shape())?;
        let mut rows = as_rows(x)?;
        check_no_inf("StandardScaler", "inverse_transform", &rows)?;
        for mut r in rows.rows_mut() {
            for ((v, mu), s) in r.iter_mut().zip(&mean).zip(&scale) {
                *v = *v * s + mu;
            }
        }
        Ok(back(rows, x.raw_dim()))
    }
}

/// Scales each feature linearly to `feature_range` (default `(0, 1)`), as scikit-learn's
/// `MinMaxScaler`: `x * scale + min` with `scale = (hi - lo) / (max - min)`.
///
/// Missing values as scikit-learn: NaN is ignored by `fit` (`nanmin` / `nanmax`) and kept by
/// `transform`; a constant column maps to the low end of the range; an all-NaN column has
/// minimum and maximum NaN and transforms to NaN; an infinite value is an error naming the
/// column; `feature_range` must be finite with `lo < hi`.
///
/// ```
/// use ndarray::array;
/// use neurite_data::MinMaxScaler;
/// let x = array![[0.0f32, -1.0], [5.0, 1.0], [10.0, 3.0]];
/// let mut s = MinMaxScaler::new();
/// let z = s.fit_transform(&x).unwrap();
/// assert_eq!(z, array![[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]);
/// assert_eq!(s.inverse_transform(&z).unwrap(), x);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MinMaxScaler {
    /// Target range `(lo, hi)`, `lo < hi`.
    pub feature_range: (f32, f32),
    /// Clip transformed values to `feature_range` (for data outside the fitted range).
    pub clip: bool,
    data_min: Option<Array1<f32>>,
    data_max: Option<Array1<f32>>,
    scale: Option<Array1<f64>>,
    min: Option<Array1<f64>>,
}

impl Default for MinMaxScaler {
    fn default() -> Self {
        Self::new()
    }
}

impl MinMaxScaler {
    /// An unfitted scaler to `(0, 1)`.
    pub fn new() -> Self {
        Self::with_range(0.0, 1.0)
    }

    /// An unfitted scaler to `(lo, hi)`.
    pub fn with_range(lo: f32, hi: f32) -> Self {
        MinMaxScaler {
            feature_range: (lo, hi),
            clip: false,
            data_min: None,
            data_max: None,
            scale: None,
            min: None,
        }
    }

    /// Learns each feature's minimum and maximum (last axis = features).
    pub fn fit<S: Data<Elem = f32>, D: Dimension>(&mut self, x: &ArrayBase<S, D>) -> Result<&mut Self> {
        let (lo, hi) = self.feature_range;
        if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) || !lo.is_finite() || !hi.is_finite() {
            return Err(DataError::arg(format!(
                "MinMaxScaler feature_range ({lo}, {hi}) must be finite with lo < hi"
            )));
        }
        let rows = as_rows(x)?;
        if rows.nrows() == 0 {
            return Err(DataError::shape(format!(
                "cannot fit MinMaxScaler on an empty array of shape {:?}",
                x.shape()
            )));
        }
        check_no_inf("MinMaxScaler", "fit", &rows)?;
        // f32::min / max skip NaN; a column with no value at all stays at +-inf: make it NaN.
        let nan_if_empty = |v: f32| if v.is_infinite() { f32::NAN } else { v };
        let dmin = rows
            .fold_axis(Axis(0), f32::INFINITY, |a, &b| a.min(b))
            .mapv(nan_if_empty);
        let dmax = rows
            .fold_axis(Axis(0), f32::NEG_INFINITY, |a, &b| a.max(b))
            .mapv(nan_if_empty);
        let scale: Array1<f64> = dmin
            .iter()
            .zip(&dmax)
            .map(|(&a, &b)| {
                if a.is_nan() {
                    1.0 // all NaN: min is NaN, so the output is NaN
                } else {
                    (hi as f64 - lo as f64) / safe_scale(b as f64 - a as f64)
                }
            })
            .collect();
        let min: Array1<f64> = dmin
            .iter()
            .zip(&scale)
            .map(|(&a, &s)| lo as f64 - a as f64 * s)
            .collect();
        self.data_min = Some(dmin);
        self.data_max = Some(dmax);
        self.scale = Some(scale);
        self.min = Some(min);
        Ok(self)
    }

    /// Per-feature minimum seen by `fit`.
    pub fn data_min(&self) -> Option<&Array1<f32>> {
        self.data_min.as_ref()
    }

    /// Per-feature maximum seen by `fit`.
    pub fn data_max(&self) -> Option<&Array1<f32>> {
        self.data_max.as_ref()
    }

    fn params(&self, x_shape: &[usize]) -> Result<(&Array1<f64>, &Array1<f64>)> {
        let (Some(scale), Some(min)) = (&self.scale, &self.min) else {
            return Err(DataError::NotFitted("MinMaxScaler"));
        };
        check_features("MinMaxScaler", scale.len(), x_shape)?;
        Ok((scale, min))
    }

    /// `x * scale + min`, same shape as `x`.
    pub fn transform<S: Data<Elem = f32>, D: Dimension>(&self, x: &ArrayBase<S, D>) -> Result<Array<D>> {
        let (scale, min) = self.params(x.shape())?;
        let (lo, hi) = self.feature_range;
        let mut rows = as_rows(x)?;
        check_no_inf("MinMaxScaler", "transform", &rows)?;
        for mut r in rows.rows_mut() {
            for ((v, s), m) in r.iter_mut().zip(scale).zip(min) {
                let t = (*v as f64 * s + m) as f32;
                // Not `clamp`: it panics when `feature_range` was set to a reversed or NaN range
                // after `fit`; NaN (a missing value) passes through.
                *v = if self.clip && !t.is_nan() {
                    t.max(lo).min(hi)
                } else {
                    t
                };
            }
        }
        Ok(back(rows, x.raw_dim()))
    }

    /// `fit` then `transform`.
    pub fn fit_transform<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<D>> {
        self.fit(x)?;
        self.transform(x)
    }

    /// `(z - min) / scale`, undoing `transform`.
    pub fn inverse_transform<S: Data<Elem = f32>, D: Dimension>(
        &self,
        x: &ArrayBase<S, D>,
    ) -> Result<Array<D>> {
        let (scale, min) = self.params(x.shape())?;
        let mut rows = as_rows(x)?;
        check_no_inf("MinMaxScaler", "inverse_transform", &rows)?;
        for mut r in rows.rows_mut() {
            for ((v, s), m) in r.iter_mut().zip(scale).zip(min) {
                *v = ((*v as f64 - m) / s) as f32;
            }
        }
        Ok(back(rows, x.raw_dim()))
    }
}
