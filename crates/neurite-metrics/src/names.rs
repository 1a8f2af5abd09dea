//! Class names for reports and pictures (crate-private).

use crate::error::{MetricError, Result};

/// The given names (one per class) or `"0"`, `"1"`, ... when none are given.
pub(crate) fn class_names(
    metric: &'static str,
    names: Option<&[&str]>,
    n_classes: usize,
) -> Result<Vec<String>> {
    match names {
        None => Ok((0..n_classes).map(|c| c.to_string()).collect()),
        Some(names) if names.len() == n_classes => Ok(names.iter().map(|s| s.to_string()).collect()),
        Some(names) => Err(MetricError::InvalidArgument {
            metric,
            name: "class_names",
            expected: format!("{n_classes} names, one per class"),
            found: format!("{} names", names.len()),
        }),
    }
}
