//! `cross_validate`: train and score a fresh model on each split.

use crate::callbacks::Logs;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::train::batches::{check_pair, gather};
use crate::train::FitOptions;
use neurite_nn::Layer;
use neurite_tensor::Tensor;

/// Scores of a cross-validation: one `evaluate` result per fold, and the
/// mean and (population) standard deviation of each value across folds.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// `evaluate` on each fold's held-out part.
    pub folds: Vec<Logs>,
    /// Mean across folds.
    pub mean: Logs,
    /// Standard deviation across folds.
    pub std: Logs,
}

/// k-fold (or any) cross-validation: for each `(train, test)` index split
/// (e.g. from `neurite::data`'s `KFold` / `StratifiedKFold`), builds a
/// fresh compiled model with `build_model(fold)`, fits it on the training
/// rows with `fit_options(fold)`, and evaluates it on the test rows.
///
/// ```
/// use neurite::prelude::*;
/// let x = ndarray::Array2::<f32>::from_shape_fn((20, 2), |(i, j)| (i * 2 + j) as f32 / 40.0).into_dyn();
/// let y = ndarray::Array1::<f32>::from_shape_fn(20, |i| (i % 2) as f32).into_dyn();
/// let splits: Vec<(Vec<usize>, Vec<usize>)> = (0..4)
///     .map(|k| ((0..20).filter(|i| i % 4 != k).collect(), (0..20).filter(|i| i % 4 == k).collect()))
///     .collect();
/// let cv = neurite::cross_validate(
///     |_| {
///         let mut m = Sequential::new().add(Dense::new(1).activation(Activation::Sigmoid).input_dim(2));
///         m.compile(Adam::default(), Loss::BinaryCrossentropy { from_logits: false }, &[Metric::Accuracy])?;
///         Ok(m)
///     },
///     &x, &y, &splits,
///     |_| FitOptions::new().epochs(2).verbose(0),
/// )?;
/// assert_eq!(cv.folds.len(), 4);
/// assert!(cv.mean.contains_key("accuracy"));
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn cross_validate<'a, N, B, O>(
    mut build_model: B,
    x: &Tensor,
    y: &Tensor,
    splits: &[(Vec<usize>, Vec<usize>)],
    mut fit_options: O,
) -> Result<CrossValidation>
where
    N: Layer,
    B: FnMut(usize) -> Result<Model<N>>,
    O: FnMut(usize) -> FitOptions<'a>,
{
    if splits.is_empty() {
        return Err(Error::Input("cross_validate: no splits given".into()));
    }
    let n = check_pair("cross_validate", x, y)?;
    let mut folds = Vec::with_capacity(splits.len());
    for (fold, (train, test)) in splits.iter().enumerate() {
        if let Some(bad) = train.iter().chain(test).find(|&&i| i >= n) {
            return Err(Error::Input(format!(
                "cross_validate: fold {fold} uses index {bad} but there are {n} samples"
            )));
        }
        if train.is_empty() || test.is_empty() {
            return Err(Error::Input(format!(
                "cross_validate: fold {fold} has an empty train or test part"
            )));
        }
        let mut model = build_model(fold)?;
        model.fit(gather(x, train), gather(y, train), fit_options(fold))?;
        folds.push(model.evaluate(gather(x, test), gather(y, test))?);
    }
    let mut mean = Logs::new();
    let mut std = Logs::new();
    for key in folds[0].keys() {
        let values: Vec<f64> = folds.iter().filter_map(|f| f.get(key).copied()).collect();
        let m = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64;
        mean.insert(key.clone(), m);
        std.insert(key.clone(), var.sqrt());
    }
    Ok(CrossValidation { folds, mean, std })
}
