//! Per-token highlights of a text sample's attributions (HTML).

use super::colors::color;
use super::svg::escape;
use crate::error::{Error, Result};

/// The tokens as an HTML page, each on a background coloured by its
/// attribution (red positive, blue negative, scaled to the largest absolute
/// value; the value in its tooltip), under the caption (e.g. the predicted
/// and true class). Errors when tokens and values differ in length or a
/// value is not finite.
///
/// ```
/// use neurite::explain::picture::token_highlights_html;
/// let html = token_highlights_html(&["a", "<great>", "film"], &[0.0, 2.0, -0.5], "pred positive, true positive")?;
/// assert!(html.contains("&lt;great&gt;") && html.contains("rgb(180,4,38)"));
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn token_highlights_html(tokens: &[impl AsRef<str>], values: &[f32], caption: &str) -> Result<String> {
    if tokens.len() != values.len() {
        return Err(Error::Input(format!(
            "token highlights: {} tokens for {} values",
            tokens.len(),
            values.len()
        )));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::Input(format!(
            "token highlights: the value of token {i} ({:?}) is {}",
            tokens[i].as_ref(),
            values[i]
        )));
    }
    let largest = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head>\n\
         <body style=\"font-family:sans-serif\">\n<p><b>{0}</b></p>\n<p style=\"line-height:2\">\n",
        escape(caption)
    );
    for (t, &v) in tokens.iter().zip(values) {
        let s = if largest > 0.0 { v / largest } else { 0.0 };
        let [r, g, b] = color(s, true);
        html.push_str(&format!(
            "<span title=\"{v:.5}\" style=\"background:rgb({r},{g},{b});padding:2px 3px;border-radius:3px\">{}</span>\n",
            escape(t.as_ref())
        ));
    }
    html.push_str("</p>\n</body></html>\n");
    Ok(html)
}
