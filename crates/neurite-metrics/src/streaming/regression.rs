//! Streaming regression metrics: MSE, RMSE, MAE, MAPE and R².

use ndarray::{ArrayView2, ArrayViewD};

use super::StreamingMetric;
use crate::error::{MetricError, Result};
use crate::input::{as_2d, check_finite, check_len, check_values_per_sample, shape_str};

/// Views both arrays as `(n, outputs)` and checks that the shapes agree
/// (`(n,)` and `(n, 1)` agree) and that every value is finite.
fn pairs<'a>(
    metric: &'static str,
    y_true: ArrayViewD<'a, f32>,
    y_pred: ArrayViewD<'a, f32>,
) -> Result<(ArrayView2<'a, f32>, ArrayView2<'a, f32>)> {
    let t = as_2d(metric, y_true)?;
    let p = as_2d(metric, y_pred)?;
    check_len(metric, t.nrows(), p.nrows())?;
    check_values_per_sample(metric, t.shape())?;
    if t.shape() != p.shape() {
        return Err(MetricError::ShapeMismatch {
            metric,
            expected: format!("y_pred of the shape of y_true {}", shape_str(t.shape())),
            found: shape_str(p.shape()),
        });
    }
    check_finite(metric, t.iter())?;
    check_finite(metric, p.iter())?;
    Ok((t, p))
}

/// Running sums of errors, added value by value in row-major order.
#[derive(Debug, Clone, Default)]
struct ErrorSums {
    count: u64,
    squared: f64,
    absolute: f64,
    percentage: f64,
}

impl ErrorSums {
    fn update(
        &mut self,
        metric: &'static str,
        y_true: ArrayViewD<f32>,
        y_pred: ArrayViewD<f32>,
    ) -> Result<()> {
        let (t, p) = pairs(metric, y_true, y_pred)?;
        for (&t, &p) in t.iter().zip(p.iter()) {
            let (t, p) = (t as f64, p as f64);
            let e = t - p;
            self.count += 1;
            self.squared += e * e;
            self.absolute += e.abs();
            self.percentage += e.abs() / t.abs().max(f64::EPSILON);
        }
        Ok(())
    }

    fn mean(&self, metric: &'static str, sum: f64) -> Result<f64> {
        if self.count == 0 {
            return Err(MetricError::Empty { metric });
        }
        Ok(sum / self.count as f64)
    }
}

macro_rules! error_metric {
    ($(#[$doc:meta])* $ty:ident, $name:literal, |$s:ident| $value:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $ty {
            sums: ErrorSums,
        }

        impl $ty {
            /// An empty accumulator.
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl StreamingMetric for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
                // `ErrorSums::update` checks everything before adding anything.
                self.sums.update($name, y_true, y_pred)
            }

            fn try_result(&self) -> Result<f64> {
                let $s = &self.sums;
                $value
            }

            fn reset(&mut self) {
                self.sums = ErrorSums::default();
            }
        }
    };
}

error_metric!(
    /// Streaming mean squared error. Name `"mse"`. See [`crate::mean_squared_error`].
    ///
    /// ```
    /// use ndarray::array;
    /// use neurite_metrics::streaming::{Mse, StreamingMetric};
    /// let mut mse = Mse::new();
    /// mse.update(array![3.0f32, -0.5].view().into_dyn(), array![2.5f32, 0.0].view().into_dyn())?;
    /// mse.update(array![2.0f32, 7.0].view().into_dyn(), array![2.0f32, 8.0].view().into_dyn())?;
    /// assert_eq!(mse.result(), 0.375);
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    Mse,
    "mse",
    |s| s.mean("mse", s.squared)
);

error_metric!(
    /// Streaming root mean squared error. Name `"rmse"`. See [`crate::root_mean_squared_error`].
    Rmse,
    "rmse",
    |s| s.mean("rmse", s.squared).map(f64::sqrt)
);

error_metric!(
    /// Streaming mean absolute error. Name `"mae"`. See [`crate::mean_absolute_error`].
    Mae,
    "mae",
    |s| s.mean("mae", s.absolute)
);

error_metric!(
    /// Streaming mean absolute percentage error, as a fraction. Name `"mape"`.
    /// See [`crate::mean_absolute_percentage_error`].
    Mape,
    "mape",
    |s| s.mean("mape", s.percentage)
);

/// Welford's running mean and sum of squared deviations of one output, and
/// its residual sum of squares.
#[derive(Debug, Clone, Copy, Default)]
struct R2Output {
    count: u64,
    mean: f64,
    m2: f64,
    ss_res: f64,
}

impl R2Output {
    fn push(&mut self, t: f64, p: f64) {
        self.count += 1;
        let d = t - self.mean;
        self.mean += d / self.count as f64;
        self.m2 += d * (t - self.mean);
        self.ss_res += (t - p) * (t - p);
    }

    fn value(&self) -> f64 {
        if self.m2 > 0.0 {
            1.0 - self.ss_res / self.m2
        } else if self.ss_res == 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

/// Streaming coefficient of determination R². Name `"r2_score"`. See
/// [`crate::r2_score`]. The number of outputs is fixed by the first batch
/// (until `reset`). The variance of the targets is accumulated with
/// Welford's method, so no cancellation spoils it on large offsets.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::streaming::{R2Score, StreamingMetric};
/// let mut r2 = R2Score::new();
/// r2.update(array![3.0f32, -0.5].view().into_dyn(), array![2.5f32, 0.0].view().into_dyn())?;
/// r2.update(array![2.0f32, 7.0].view().into_dyn(), array![2.0f32, 8.0].view().into_dyn())?;
/// // scikit-learn's `r2_score` documentation example: 0.948...
/// assert!((r2.result() - 0.9486081370449679).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct R2Score {
    outputs: Vec<R2Output>,
}

impl R2Score {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamingMetric for R2Score {
    fn name(&self) -> &str {
        "r2_score"
    }

    fn update(&mut self, y_true: ArrayViewD<f32>, y_pred: ArrayViewD<f32>) -> Result<()> {
        let metric = "r2_score";
        let (t, p) = pairs(metric, y_true, y_pred)?;
        if t.nrows() == 0 {
            return Ok(());
        }
        let mut next = if self.outputs.is_empty() {
            vec![R2Output::default(); t.ncols()]
        } else {
            self.outputs.clone()
        };
        if next.len() != t.ncols() {
            return Err(MetricError::ShapeMismatch {
                metric,
                expected: format!("{} outputs per sample, as in the first batch", next.len()),
                found: shape_str(t.shape()),
            });
        }
        for (tr, pr) in t.rows().into_iter().zip(p.rows()) {
            for ((state, &ti), &pi) in next.iter_mut().zip(tr).zip(pr) {
                state.push(ti as f64, pi as f64);
            }
        }
        self.outputs = next;
        Ok(())
    }

    fn try_result(&self) -> Result<f64> {
        if self.outputs.first().is_none_or(|o| o.count == 0) {
            return Err(MetricError::Empty { metric: "r2_score" });
        }
        Ok(self.outputs.iter().map(R2Output::value).sum::<f64>() / self.outputs.len() as f64)
    }

    fn reset(&mut self) {
        self.outputs.clear();
    }
}
