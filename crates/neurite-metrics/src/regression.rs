//! Whole-set regression metrics: MSE, RMSE, MAE, MAPE, R².
//!
//! `y_true` and `y_pred` have the same shape: `(n,)` or `(n, 1)` for one
//! target, `(n, outputs)` for several. MSE, RMSE, MAE and MAPE average over
//! all values; R² is computed per output and averaged with equal weights
//! (scikit-learn's `multioutput="uniform_average"`). Non-finite values and
//! empty inputs are errors.

use ndarray::{ArrayView, Dimension};

use crate::error::{MetricError, Result};
use crate::streaming::{Mae, Mape, Mse, R2Score, Rmse, StreamingMetric};

fn whole_set<M: StreamingMetric, D: Dimension>(
    mut metric: M,
    name: &'static str,
    y_true: ArrayView<f32, D>,
    y_pred: ArrayView<f32, D>,
) -> Result<f64> {
    metric.update(y_true.into_dyn(), y_pred.into_dyn())?;
    metric
        .try_result()
        .map_err(|_| MetricError::Empty { metric: name })
}

/// Mean squared error `mean((y - ŷ)²)`.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::mean_squared_error;
/// // scikit-learn's `mean_squared_error` documentation example: 0.375
/// let mse = mean_squared_error(array![3.0f32, -0.5, 2.0, 7.0].view(), array![2.5f32, 0.0, 2.0, 8.0].view())?;
/// assert_eq!(mse, 0.375);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn mean_squared_error<D: Dimension>(y_true: ArrayView<f32, D>, y_pred: ArrayView<f32, D>) -> Result<f64> {
    whole_set(Mse::new(), "mse", y_true, y_pred)
}

/// Root mean squared error `sqrt(mean((y - ŷ)²))` over all values (Keras'
/// convention; scikit-learn averages per-output RMSEs instead, which only
/// differs with several outputs).
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::root_mean_squared_error;
/// // scikit-learn's `root_mean_squared_error` documentation example: 0.612...
/// let rmse = root_mean_squared_error(array![3.0f32, -0.5, 2.0, 7.0].view(), array![2.5f32, 0.0, 2.0, 8.0].view())?;
/// assert!((rmse - 0.6123724356957945).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn root_mean_squared_error<D: Dimension>(
    y_true: ArrayView<f32, D>,
    y_pred: ArrayView<f32, D>,
) -> Result<f64> {
    whole_set(Rmse::new(), "rmse", y_true, y_pred)
}

/// Mean absolute error `mean(|y - ŷ|)`.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::mean_absolute_error;
/// // scikit-learn's `mean_absolute_error` documentation example: 0.5
/// let mae = mean_absolute_error(array![3.0f32, -0.5, 2.0, 7.0].view(), array![2.5f32, 0.0, 2.0, 8.0].view())?;
/// assert_eq!(mae, 0.5);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn mean_absolute_error<D: Dimension>(
    y_true: ArrayView<f32, D>,
    y_pred: ArrayView<f32, D>,
) -> Result<f64> {
    whole_set(Mae::new(), "mae", y_true, y_pred)
}

/// Mean absolute percentage error `mean(|y - ŷ| / max(|y|, f64::EPSILON))`,
/// as a fraction (scikit-learn's convention; Keras reports it ×100). A zero
/// target gives a huge but finite term, never infinity or NaN.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::mean_absolute_percentage_error;
/// // scikit-learn's `mean_absolute_percentage_error` documentation example: 0.327...
/// let y_true = array![3.0f32, -0.5, 2.0, 7.0];
/// let mape = mean_absolute_percentage_error(y_true.view(), array![2.5f32, 0.0, 2.0, 8.0].view())?;
/// assert!((mape - 0.3273809523809524).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn mean_absolute_percentage_error<D: Dimension>(
    y_true: ArrayView<f32, D>,
    y_pred: ArrayView<f32, D>,
) -> Result<f64> {
    whole_set(Mape::new(), "mape", y_true, y_pred)
}

/// Coefficient of determination `1 - SS_res / SS_tot`, per output then
/// averaged. For an output whose target is constant (`SS_tot = 0`) the
/// value is `1.0` if predictions are exact and `0.0` otherwise
/// (scikit-learn's `force_finite=True`). It can be negative.
///
/// ```
/// use ndarray::array;
/// use neurite_metrics::r2_score;
/// // scikit-learn's `r2_score` documentation examples: 0.948... and 0.936...
/// let r2 = r2_score(array![3.0f32, -0.5, 2.0, 7.0].view(), array![2.5f32, 0.0, 2.0, 8.0].view())?;
/// assert!((r2 - 0.9486081370449679).abs() < 1e-12);
/// let y_true = array![[0.5f32, 1.0], [-1.0, 1.0], [7.0, -6.0]];
/// let y_pred = array![[0.0f32, 2.0], [-1.0, 2.0], [8.0, -5.0]];
/// assert!((r2_score(y_true.view(), y_pred.view())? - 0.9368005266622779).abs() < 1e-12);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn r2_score<D: Dimension>(y_true: ArrayView<f32, D>, y_pred: ArrayView<f32, D>) -> Result<f64> {
    whole_set(R2Score::new(), "r2_score", y_true, y_pred)
}
