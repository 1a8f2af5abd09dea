//! Per-feature bar charts of a tabular sample's attributions (SVG).

use super::colors::color;
use super::svg::escape;
use crate::error::{Error, Result};

/// A horizontal bar per feature, positive attributions to the right in
/// red, negative to the left in blue, the features sorted by absolute
/// attribution (largest first) and cut to the `top` largest (`None`: all),
/// with the caption (e.g. the predicted and true class) as title. Errors
/// when names and values differ in length or a value is not finite.
///
/// ```
/// use neurite::explain::picture::feature_bars_svg;
/// let svg = feature_bars_svg(&["age", "income", "debt"], &[0.5, -1.0, 0.1], "pred 1 true 1", None)?;
/// assert!(svg.find("income").unwrap() < svg.find("age").unwrap()); // |−1.0| first
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn feature_bars_svg(
    names: &[impl AsRef<str>],
    values: &[f32],
    caption: &str,
    top: Option<usize>,
) -> Result<String> {
    if names.len() != values.len() {
        return Err(Error::Input(format!(
            "feature bars: {} names for {} values",
            names.len(),
            values.len()
        )));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::Input(format!(
            "feature bars: the value of feature {:?} is {}",
            names[i].as_ref(),
            values[i]
        )));
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
    order.truncate(top.unwrap_or(usize::MAX));
    let largest = order.first().map_or(0.0, |&i| values[i].abs());
    let (label_w, bar_w, row_h, top_margin) = (160.0, 360.0, 18.0, 30.0);
    let centre = label_w + bar_w / 2.0;
    let height = top_margin + row_h * order.len() as f64 + 10.0;
    let width = label_w + bar_w + 70.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"8\" y=\"16\" font-size=\"13\">{}</text>\n\
         <line x1=\"{centre}\" y1=\"{}\" x2=\"{centre}\" y2=\"{}\" stroke=\"#444\"/>\n",
        escape(caption),
        top_margin - 4.0,
        height - 6.0
    );
    for (k, &i) in order.iter().enumerate() {
        let v = values[i];
        let len = if largest > 0.0 {
            f64::from(v.abs() / largest) * bar_w / 2.0
        } else {
            0.0
        };
        let y = top_margin + k as f64 * row_h;
        let x = if v < 0.0 { centre - len } else { centre };
        let [r, g, b] = color(if v < 0.0 { -0.8 } else { 0.8 }, true);
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n\
             <rect x=\"{x:.2}\" y=\"{}\" width=\"{len:.2}\" height=\"{}\" fill=\"rgb({r},{g},{b})\"><title>{}</title></rect>\n\
             <text x=\"{}\" y=\"{}\" fill=\"#444\">{v:.4}</text>\n",
            label_w - 6.0,
            y + 12.0,
            escape(names[i].as_ref()),
            y + 2.0,
            row_h - 4.0,
            v,
            label_w + bar_w + 4.0,
            y + 12.0,
        ));
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}
