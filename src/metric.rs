//! The metrics a model can be compiled with, mapped to streaming accumulators.

use neurite_metrics::streaming::{
    Accuracy, LogLoss, Mae, Mape, Mse, R2Score, Rmse, RocAuc, StreamingMetric, TopKAccuracy,
};
use serde::{Deserialize, Serialize};

/// A metric reported during `fit` and by `evaluate`, computed over whole
/// epochs by streaming accumulators (exactly the whole-set value).
///
/// ```
/// use neurite::Metric;
/// assert_eq!(Metric::Accuracy.accumulator().unwrap().name(), "accuracy");
/// assert_eq!(Metric::Mse.accumulator().unwrap().name(), "mse");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Metric {
    /// Keras' `"accuracy"`: binary, categorical or sparse, chosen from the shapes of the first batch.
    Accuracy,
    /// Binary accuracy with threshold 0.5.
    BinaryAccuracy,
    /// Accuracy against one-hot targets.
    CategoricalAccuracy,
    /// Accuracy against class-index targets.
    SparseCategoricalAccuracy,
    /// Whether the target class is among the `k` highest scores.
    TopKAccuracy(usize),
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    Mae,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute percentage error.
    Mape,
    /// Coefficient of determination R².
    R2,
    /// Log loss (cross-entropy) of the predicted probabilities.
    LogLoss,
    /// Area under the ROC curve (binary scores).
    Auc,
}

impl Metric {
    /// A fresh accumulator for this metric.
    pub fn accumulator(&self) -> crate::Result<Box<dyn StreamingMetric>> {
        Ok(match self {
            Metric::Accuracy => Box::new(Accuracy::auto()),
            Metric::BinaryAccuracy => Box::new(Accuracy::binary()),
            Metric::CategoricalAccuracy => Box::new(Accuracy::categorical()),
            Metric::SparseCategoricalAccuracy => Box::new(Accuracy::sparse()),
            Metric::TopKAccuracy(k) => Box::new(TopKAccuracy::new(*k)?),
            Metric::Mse => Box::new(Mse::new()),
            Metric::Mae => Box::new(Mae::new()),
            Metric::Rmse => Box::new(Rmse::new()),
            Metric::Mape => Box::new(Mape::new()),
            Metric::R2 => Box::new(R2Score::new()),
            Metric::LogLoss => Box::new(LogLoss::auto()),
            Metric::Auc => Box::new(RocAuc::new()),
        })
    }
}
