//! The confusion matrix as a text table.

use super::check_render_classes;
use crate::confusion::ConfusionMatrix;
use crate::error::Result;
use crate::names::class_names;
use crate::report::check_digits;

/// Lays out a table: a header of column names, then one row per class with
/// its name and the cells, every column right-aligned to its widest entry.
fn layout(names: &[String], cells: &[Vec<String>]) -> String {
    let corner = "true \\ pred";
    let first = names
        .iter()
        .map(|n| n.chars().count())
        .chain([corner.len()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = (0..names.len())
        .map(|j| {
            cells
                .iter()
                .map(|row| row[j].len())
                .chain([names[j].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("{corner:>first$}");
    for (name, w) in names.iter().zip(&widths) {
        out.push_str(&format!("  {name:>w$}"));
    }
    out.push('\n');
    for (name, row) in names.iter().zip(cells) {
        out.push_str(&format!("{name:>first$}"));
        for (cell, w) in row.iter().zip(&widths) {
            out.push_str(&format!("  {cell:>w$}"));
        }
        out.push('\n');
    }
    out
}

impl ConfusionMatrix {
    /// The counts as a text table, rows = true class, columns = predicted
    /// class, labelled with `class_names` (default `"0"`, `"1"`, ...).
    /// At most [`MAX_RENDER_CLASSES`](crate::MAX_RENDER_CLASSES) classes.
    ///
    /// ```
    /// use neurite_metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::from_labels(&[0, 0, 1, 2, 2], &[0, 1, 1, 2, 0], 3)?;
    /// let table = cm.to_table(Some(&["cat", "dog", "bird"]))?;
    /// assert_eq!(table, "\
    /// true \\ pred  cat  dog  bird
    ///         cat    1    1     0
    ///         dog    0    1     0
    ///        bird    1    0     1
    /// ");
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn to_table(&self, class_names: Option<&[&str]>) -> Result<String> {
        check_render_classes("confusion_matrix", self.n_classes())?;
        let names = self::class_names("confusion_matrix", class_names, self.n_classes())?;
        let cells: Vec<Vec<String>> = self
            .counts()
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        Ok(layout(&names, &cells))
    }

    /// The row-normalised matrix (see [`normalized`](Self::normalized)) as a
    /// text table with `digits` digits after the decimal point (at most
    /// [`MAX_DIGITS`](crate::MAX_DIGITS)), for at most
    /// [`MAX_RENDER_CLASSES`](crate::MAX_RENDER_CLASSES) classes.
    ///
    /// ```
    /// use neurite_metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::from_labels(&[0, 0, 1], &[0, 1, 1], 2)?;
    /// assert_eq!(cm.to_normalized_table(None, 2)?, "true \\ pred     0     1\n          0  0.50  0.50\n          1  0.00  1.00\n");
    /// # Ok::<(), neurite_metrics::MetricError>(())
    /// ```
    pub fn to_normalized_table(&self, class_names: Option<&[&str]>, digits: usize) -> Result<String> {
        check_render_classes("confusion_matrix", self.n_classes())?;
        check_digits("confusion_matrix", digits)?;
        let names = self::class_names("confusion_matrix", class_names, self.n_classes())?;
        let cells: Vec<Vec<String>> = self
            .normalized()
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| format!("{v:.digits$}")).collect())
            .collect();
        Ok(layout(&names, &cells))
    }
}
