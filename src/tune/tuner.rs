//! `Tuner`: a search whose trials build, train and score a model — on a
//! validation split, on validation data, or by cross-validation with any
//! splitter — and rebuilds the best model.

use super::context::{pruned_error, ReportCallback, TrialContext};
use super::results::TuneResults;
use super::search::Search;
use super::strategy::stream;
use super::values::HyperParameters;
use crate::callbacks::{Callback, Logs};
use crate::error::{Error, Result};
use crate::history::History;
use crate::model::Model;
use crate::train::batches::gather;
use crate::train::FitOptions;
use neurite_data::Split;
use neurite_nn::Layer;
use neurite_rand::derive_seed;
use neurite_tensor::Tensor;

/// Where a trial's objective comes from.
#[derive(Debug, Clone)]
pub enum Evaluation {
    /// `fit`'s `validation_split` (the last fraction of the samples, as
    /// Keras): the objective is a value of the last epoch's logs
    /// (`val_accuracy`, `val_loss`, ...).
    ValidationSplit(f32),
    /// Held-out data given to `fit` as `validation_data`.
    ValidationData(Tensor, Tensor),
    /// Cross-validation ([`crate::cross_validate`]) over these splits (from
    /// `KFold`, `StratifiedKFold`, `GroupKFold`...): each fold's model is
    /// scored on its held-out part, and the objective is the mean across
    /// folds of the held-out values, named `val_*` (`val_accuracy`, with
    /// its standard deviation as `val_accuracy_std`).
    CrossValidation(Vec<Split>),
}

type BuildFn<N> = dyn Fn(&HyperParameters) -> Result<Model<N>> + Sync;
type FitOptionsFn = dyn Fn(&HyperParameters) -> Result<FitOptions<'static>> + Sync;

/// Hyperparameter search for models, as keras-tuner's tuners: `build`
/// makes a compiled model from a trial's [`HyperParameters`] (seed it with
/// [`HyperParameters::seed`]); the tuner trains it for the trial's epochs
/// and scores it by the [`Evaluation`].
///
/// ```
/// use neurite::prelude::*;
/// use neurite::tune::{Evaluation, Objective, Param, Random, Search, SearchSpace, Tuner};
/// let x = ndarray::Array2::<f32>::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0).into_dyn();
/// let y = x.map_axis(ndarray::Axis(1), |r| if r[0] > r[1] { 1.0 } else { 0.0 }).into_dyn();
/// let space = SearchSpace::new()
///     .add(Param::int("units", 4, 16).step(4))?
///     .add(Param::float("learning_rate", 1e-3, 1e-1).log())?;
/// let search = Search::new(space, Objective::max("val_accuracy")).strategy(Random::new(3)).epochs(2).verbose(0);
/// let tuner = Tuner::new(search, |hp| {
///     let mut m = Sequential::new()
///         .seed(hp.seed())
///         .add(Dense::new(hp.get_usize("units")?).activation(Activation::Relu).input_dim(2))
///         .add(Dense::new(1).activation(Activation::Sigmoid));
///     m.compile(Adam::new(hp.get_f32("learning_rate")?), Loss::BinaryCrossentropy { from_logits: false }, &[Metric::Accuracy])?;
///     Ok(m)
/// })
/// .evaluation(Evaluation::ValidationSplit(0.25));
/// let results = tuner.search(&x, &y)?;
/// println!("{}", results.summary(10));
/// let (model, _history) = tuner.fit_best(&results, &x, &y)?;
/// assert_eq!(model.predict(&x)?.shape(), &[40, 1]);
/// # Ok::<(), neurite::Error>(())
/// ```
pub struct Tuner<N: Layer> {
    search: Search,
    build: Box<BuildFn<N>>,
    fit_options: Box<FitOptionsFn>,
    evaluation: Evaluation,
}

impl<N: Layer> Tuner<N> {
    /// A tuner running `search` with models from `build`; by default
    /// scored on a validation split of 0.2, trained with
    /// `FitOptions::new()` (batch 32) silently.
    pub fn new(
        search: Search,
        build: impl Fn(&HyperParameters) -> Result<Model<N>> + Sync + 'static,
    ) -> Self {
        Tuner {
            search,
            build: Box::new(build),
            fit_options: Box::new(|_| Ok(FitOptions::new())),
            evaluation: Evaluation::ValidationSplit(0.2),
        }
    }

    /// Where the objective comes from.
    pub fn evaluation(mut self, evaluation: Evaluation) -> Self {
        self.evaluation = evaluation;
        self
    }

    /// Each trial's fit options (batch size, shuffling, class weights,
    /// callbacks...), which may depend on the hyperparameters. The tuner
    /// sets `epochs` (the trial's budget), `verbose(0)` and the validation.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # use neurite::tune::{Objective, Param, Search, SearchSpace, Tuner};
    /// # let space = SearchSpace::new().add(Param::choice("batch_size", [16, 64]))?;
    /// # let search = Search::new(space, Objective::min("val_loss"));
    /// let tuner = Tuner::new(search, |_hp| Ok(Sequential::new()))
    ///     .fit_options(|hp| Ok(FitOptions::new().batch_size(hp.get_usize("batch_size")?)));
    /// # let _ = tuner;
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn fit_options(
        mut self,
        f: impl Fn(&HyperParameters) -> Result<FitOptions<'static>> + Sync + 'static,
    ) -> Self {
        self.fit_options = Box::new(f);
        self
    }

    /// The search settings.
    pub fn settings(&self) -> &Search {
        &self.search
    }

    /// Runs the search on `x`, `y` (see [`Search::run`]).
    pub fn search(&self, x: &Tensor, y: &Tensor) -> Result<TuneResults> {
        let n = crate::train::batches::check_pair("tune", x, y)?;
        let held_out: Vec<(Tensor, Tensor)> = match &self.evaluation {
            Evaluation::ValidationSplit(f) if !(*f > 0.0 && *f < 1.0) => {
                return Err(Error::Input(format!(
                    "tune: the validation split must be in (0, 1), found {f}"
                )))
            }
            Evaluation::CrossValidation(splits) => {
                if splits.is_empty() {
                    return Err(Error::Input(
                        "tune: cross-validation needs at least one split".into(),
                    ));
                }
                if let Some((fold, bad)) = splits
                    .iter()
                    .enumerate()
                    .find_map(|(f, (tr, te))| tr.iter().chain(te).find(|&&i| i >= n).map(|&i| (f, i)))
                {
                    return Err(Error::Input(format!(
                        "tune: cross-validation fold {fold} uses sample {bad} but there are {n} samples"
                    )));
                }
                // Each fold's held-out part as validation data, for the pruner's per-epoch reports.
                if self.search.pruner.is_some() {
                    splits
                        .iter()
                        .map(|(_, te)| (gather(x, te), gather(y, te)))
                        .collect()
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        };
        self.search.run(|ctx| self.run_trial(ctx, x, y, &held_out))
    }

    /// One trial: build, train, score.
    fn run_trial(
        &self,
        ctx: &TrialContext<'_>,
        x: &Tensor,
        y: &Tensor,
        held_out: &[(Tensor, Tensor)],
    ) -> Result<Logs> {
        match &self.evaluation {
            Evaluation::ValidationSplit(_) | Evaluation::ValidationData(..) => {
                let mut model = (self.build)(ctx.params())?;
                let mut report = ReportCallback { ctx };
                let mut options = self.options(ctx, ctx.params(), &mut report)?;
                match &self.evaluation {
                    Evaluation::ValidationSplit(f) => options.validation_split = *f,
                    Evaluation::ValidationData(xv, yv) => {
                        options.validation_data = Some((xv.into(), yv.into()))
                    }
                    Evaluation::CrossValidation(_) => {}
                }
                let history = model.fit(x, y, options)?;
                Ok(last_logs(&history))
            }
            Evaluation::CrossValidation(splits) => {
                let folds = splits.len();
                let mut reports: Vec<ReportCallback> = (0..folds).map(|_| ReportCallback { ctx }).collect();
                let mut seeds = Vec::with_capacity(folds);
                let mut per_fold = Vec::with_capacity(folds);
                for (fold, report) in reports.iter_mut().enumerate() {
                    let hp = ctx
                        .params()
                        .with_seed(derive_seed(ctx.seed(), &[stream::FOLD_SEED, fold as u64]));
                    let mut options = self.options(ctx, &hp, report)?;
                    if let Some((xv, yv)) = held_out.get(fold) {
                        options.validation_data = Some((xv.into(), yv.into()));
                    }
                    seeds.push(hp);
                    per_fold.push(Some(options));
                }
                let result = crate::cross_validate(
                    |fold| {
                        if ctx.is_pruned() {
                            return Err(pruned_error());
                        }
                        (self.build)(&seeds[fold])
                    },
                    x,
                    y,
                    splits,
                    |fold| per_fold_options(&mut per_fold, fold),
                );
                let cv = match result {
                    Err(_) if ctx.is_pruned() => return Ok(Logs::new()),
                    other => other?,
                };
                let mut logs = Logs::new();
                for (k, v) in &cv.mean {
                    logs.insert(format!("val_{k}"), *v);
                }
                for (k, v) in &cv.std {
                    logs.insert(format!("val_{k}_std"), *v);
                }
                Ok(logs)
            }
        }
    }

    /// The user's fit options for `hp`, with the trial's epochs, silent,
    /// reporting to the pruner when there is one.
    fn options<'c>(
        &self,
        ctx: &TrialContext<'_>,
        hp: &HyperParameters,
        report: &'c mut (dyn Callback + 'c),
    ) -> Result<FitOptions<'c>> {
        let user = (self.fit_options)(hp)?;
        let mut callbacks: Vec<&'c mut dyn Callback> = user
            .callbacks
            .into_iter()
            .map(|c| c as &'c mut dyn Callback)
            .collect();
        if ctx.is_pruning() {
            callbacks.push(report);
        }
        // A fresh FitOptions<'c> (the user's are FitOptions<'static>), field by field.
        let mut options = FitOptions::new();
        options.epochs = ctx.epochs();
        options.batch_size = user.batch_size;
        options.shuffle = user.shuffle;
        options.verbose = 0;
        options.class_weight = user.class_weight;
        options.sample_weight = user.sample_weight;
        options.augmentation = user.augmentation;
        options.callbacks = callbacks;
        Ok(options)
    }

    /// The best trial's model, built and compiled by `build` with its
    /// hyperparameters and seed, untrained.
    pub fn build_best(&self, results: &TuneResults) -> Result<Model<N>> {
        (self.build)(&results.best_hyperparameters()?)
    }

    /// The best trial's model trained on all of `x`, `y` for the best
    /// trial's epochs (no data held out), with its fit options.
    pub fn fit_best(&self, results: &TuneResults, x: &Tensor, y: &Tensor) -> Result<(Model<N>, History)> {
        let hp = results.best_hyperparameters()?;
        let epochs = results.best_trial().map_or(self.search.epochs, |t| t.epochs);
        let mut model = (self.build)(&hp)?;
        let user = (self.fit_options)(&hp)?;
        let options = FitOptions {
            epochs,
            verbose: 0,
            validation_data: None,
            validation_split: 0.0,
            initial_epoch: None,
            ..user
        };
        let history = model.fit(x, y, options)?;
        Ok((model, history))
    }
}

/// Fold `fold`'s options, taken once (cross_validate asks once per fold).
fn per_fold_options<'c>(per_fold: &mut [Option<FitOptions<'c>>], fold: usize) -> FitOptions<'c> {
    per_fold
        .get_mut(fold)
        .and_then(Option::take)
        .unwrap_or_else(|| FitOptions::new().epochs(0).verbose(0))
}

/// The last epoch's value of every logged key (`lr` left out).
fn last_logs(history: &History) -> Logs {
    history
        .history
        .iter()
        .filter(|(k, _)| k.as_str() != "lr")
        .filter_map(|(k, v)| v.last().map(|x| (k.clone(), *x)))
        .collect()
}
