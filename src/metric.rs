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
    /// Whether the target class is among the `k` highest scores. `k = 0` is
    /// refused by `compile`; `k` at least the number of classes (every
    /// prediction a hit, a meaningless 1.0) by the first batch of `fit` or
    /// `evaluate`, with an error naming the metric, `k` and the class count.
    ///
    /// ```
    /// use neurite::Metric;
    /// use ndarray::array;
    /// assert!(Metric::TopKAccuracy(0).accumulator().is_err());
    /// let mut top = Metric::TopKAccuracy(3).accumulator()?;
    /// let (y, p) = (array![0.0f32, 2.0], array![[0.6f32, 0.3, 0.1], [0.2, 0.3, 0.5]]);
    /// let err = top.update(y.view().into_dyn(), p.view().into_dyn()).unwrap_err();
    /// assert!(err.to_string().contains("top_k_accuracy") && err.to_string().contains("k < 3"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::{Activation, Adam, Dense, Loss};
    use crate::{FitOptions, Sequential};
    use ndarray::{array, Array1, Array2};
    use neurite_metrics::MetricError;

    #[test]
    fn top_k_of_at_least_the_class_count_is_an_error_at_the_first_update() {
        let y = array![0.0f32, 1.0, 2.0].into_dyn();
        let p = array![[0.6f32, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]].into_dyn();
        for k in [3, 99] {
            let mut top = Metric::TopKAccuracy(k).accumulator().unwrap();
            let err = top.update(y.view(), p.view()).unwrap_err();
            assert!(
                matches!(&err, MetricError::InvalidArgument { metric: "top_k_accuracy", name: "k", found, .. } if *found == k.to_string()),
                "{err}"
            );
            assert!(err.to_string().contains("k < 3"), "{err}");
        }
        let mut top2 = Metric::TopKAccuracy(2).accumulator().unwrap();
        top2.update(y.view(), p.view()).unwrap();
        assert_eq!(top2.result(), 1.0);
        assert!(matches!(
            Metric::TopKAccuracy(0).accumulator(),
            Err(crate::Error::Metric(MetricError::InvalidArgument {
                name: "k",
                ..
            }))
        ));
    }

    #[test]
    fn fit_reports_a_meaningless_top_k_instead_of_logging_1() {
        let mut model = Sequential::new()
            .seed(1)
            .add(Dense::new(3).activation(Activation::Softmax).input_dim(2));
        let x = Array2::<f32>::from_shape_fn((8, 2), |(i, j)| (i * 2 + j) as f32 / 16.0).into_dyn();
        let y = Array1::<f32>::from_shape_fn(8, |i| (i % 3) as f32).into_dyn();
        assert!(model
            .compile(
                Adam::new(0.01),
                Loss::SparseCategoricalCrossentropy { from_logits: false },
                &[Metric::TopKAccuracy(0)],
            )
            .is_err());
        model
            .compile(
                Adam::new(0.01),
                Loss::SparseCategoricalCrossentropy { from_logits: false },
                &[Metric::TopKAccuracy(99)],
            )
            .unwrap();
        let err = model
            .fit(&x, &y, FitOptions::new().epochs(1).batch_size(4).verbose(0))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("top_k_accuracy") && text.contains("99") && text.contains("k < 3"),
            "{text}"
        );
    }
}
