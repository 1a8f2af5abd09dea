//! The classification report, a text table like scikit-learn's.

use std::fmt;

use crate::confusion::ConfusionMatrix;
use crate::error::{MetricError, Result};
use crate::names::class_names;
use crate::prf::{ClassScores, ZeroDivision};

/// Precision, recall, F1 and support per class, with accuracy and the macro
/// and weighted averages. `Display` prints the table of scikit-learn's
/// `classification_report` (same layout, same numbers, `zero_division=0`).
///
/// ```
/// use neurite_metrics::classification_report;
///
/// // scikit-learn's `classification_report` documentation example
/// let report = classification_report(&[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1], 3, Some(&["class 0", "class 1", "class 2"]))?;
/// let expected = "              precision    recall  f1-score   support
///
///      class 0       0.50      1.00      0.67         1
///      class 1       0.00      0.00      0.00         1
///      class 2       1.00      0.67      0.80         3
///
///     accuracy                           0.60         5
///    macro avg       0.50      0.56      0.49         5
/// weighted avg       0.70      0.60      0.61         5
/// ";
/// assert_eq!(report.to_string(), expected);
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// Class names, one per class.
    pub class_names: Vec<String>,
    /// Per-class precision, recall, F1 and support.
    pub scores: ClassScores,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Unweighted means of precision, recall and F1.
    pub macro_avg: [f64; 3],
    /// Support-weighted means of precision, recall and F1.
    pub weighted_avg: [f64; 3],
    /// Number of samples.
    pub total: u64,
    /// Digits after the decimal point when printed (default 2); printing
    /// uses at most [`MAX_DIGITS`] even if this field is set higher.
    pub digits: usize,
}

/// The most digits after the decimal point a report or a normalised table
/// prints: an `f64` holds about 17 significant digits, so more print only
/// noise (and beyond 65535 Rust's formatter panics).
///
/// ```
/// use neurite_metrics::{classification_report, MAX_DIGITS};
/// let report = classification_report(&[0, 1], &[0, 1], 2, None)?;
/// assert!(report.clone().with_digits(MAX_DIGITS).is_ok());
/// assert!(report.with_digits(MAX_DIGITS + 1).is_err());
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub const MAX_DIGITS: usize = 17;

/// Checks a number of digits after the decimal point.
pub(crate) fn check_digits(metric: &'static str, digits: usize) -> Result<()> {
    if digits > MAX_DIGITS {
        return Err(MetricError::InvalidArgument {
            metric,
            name: "digits",
            expected: format!("at most {MAX_DIGITS} digits after the decimal point"),
            found: digits.to_string(),
        });
    }
    Ok(())
}

impl ClassificationReport {
    /// Sets the digits printed after the decimal point, at most
    /// [`MAX_DIGITS`] (else [`MetricError::InvalidArgument`]).
    ///
    /// ```
    /// use neurite_metrics::classification_report;
    /// let report = classification_report(&[0, 1, 1], &[0, 1, 0], 2, None)?.with_digits(4)?;
    /// assert!(report.to_string().contains("0.6667"));
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn with_digits(mut self, digits: usize) -> Result<Self> {
        check_digits("classification_report", digits)?;
        self.digits = digits;
        Ok(self)
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits.min(MAX_DIGITS);
        let longest = self
            .class_names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        let w = longest.max("weighted avg".len()).max(d);
        writeln!(
            f,
            "{:>w$}  {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        )?;
        writeln!(f)?;
        let s = &self.scores;
        for (c, name) in self.class_names.iter().enumerate() {
            let (p, r, f1, n) = (s.precision[c], s.recall[c], s.f_score[c], s.support[c]);
            writeln!(f, "{name:>w$}  {p:>9.d$} {r:>9.d$} {f1:>9.d$} {n:>9}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:>w$}  {:>9} {:>9} {:>9.d$} {:>9}",
            "accuracy", "", "", self.accuracy, self.total
        )?;
        for (name, [p, r, f1]) in [("macro avg", self.macro_avg), ("weighted avg", self.weighted_avg)] {
            writeln!(f, "{name:>w$}  {p:>9.d$} {r:>9.d$} {f1:>9.d$} {:>9}", self.total)?;
        }
        Ok(())
    }
}

impl ConfusionMatrix {
    /// The classification report of this matrix; `class_names` has one name
    /// per class (default `"0"`, `"1"`, ...). [`crate::MetricError::Empty`]
    /// when the matrix holds no sample.
    pub fn classification_report(&self, class_names: Option<&[&str]>) -> Result<ClassificationReport> {
        let names = self::class_names("classification_report", class_names, self.n_classes())?;
        let scores = self.class_scores(1.0, ZeroDivision::Zero)?;
        let k = self.n_classes() as f64;
        let total: u64 = scores.support.iter().sum();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / k;
        let weighted = |v: &[f64]| {
            v.iter()
                .zip(&scores.support)
                .map(|(x, &s)| x * s as f64)
                .sum::<f64>()
                / total as f64
        };
        Ok(ClassificationReport {
            class_names: names,
            accuracy: self.accuracy()?,
            macro_avg: [
                mean(&scores.precision),
                mean(&scores.recall),
                mean(&scores.f_score),
            ],
            weighted_avg: [
                weighted(&scores.precision),
                weighted(&scores.recall),
                weighted(&scores.f_score),
            ],
            scores,
            total,
            digits: 2,
        })
    }
}

/// The classification report of label vectors over `0..n_classes` (see
/// [`ClassificationReport`]).
pub fn classification_report(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
    class_names: Option<&[&str]>,
) -> Result<ClassificationReport> {
    ConfusionMatrix::from_labels_for("classification_report", y_true, y_pred, n_classes)?
        .classification_report(class_names)
}
