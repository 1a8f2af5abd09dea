//! Pictures of attributions: heatmaps over images (PNG and SVG), bar
//! charts of tabular features (SVG) and token highlights for text (HTML).
//! The `save_*` functions write their files atomically (a temporary file
//! renamed into place), so a crash never leaves half a picture.

mod bars;
mod colors;
mod font;
mod grid;
mod svg;
mod tokens;

pub use bars::feature_bars_svg;
pub use grid::HeatmapGrid;
pub use tokens::token_highlights_html;

use crate::error::Result;
use std::path::Path;

/// The caption of a sample: `"pred 7 true 7"`, or `"pred 7"` without a label.
///
/// ```
/// assert_eq!(neurite::explain::picture::caption(7, Some(1)), "pred 7 true 1");
/// assert_eq!(neurite::explain::picture::caption(3, None), "pred 3");
/// ```
pub fn caption(predicted: usize, truth: Option<usize>) -> String {
    match truth {
        Some(t) => format!("pred {predicted} true {t}"),
        None => format!("pred {predicted}"),
    }
}

/// Writes `text` (an SVG or HTML picture) to `path` atomically.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let svg = neurite::explain::picture::feature_bars_svg(&["a"], &[1.0], "pred 0", None)?;
/// neurite::explain::picture::save_text(dir.path().join("bars.svg"), &svg)?;
/// assert!(std::fs::read_to_string(dir.path().join("bars.svg"))?.starts_with("<svg"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_text(path: impl AsRef<Path>, text: &str) -> Result<()> {
    Ok(neurite_data::write_atomic(path.as_ref(), text.as_bytes())?)
}
