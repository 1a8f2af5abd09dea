//! SVG pictures drawn with plotters: confusion-matrix heatmap, ROC curve.

use std::path::Path;

use ndarray::Array2;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::atomic::write_atomic;
use super::check_render_classes;
use crate::confusion::ConfusionMatrix;
use crate::error::{MetricError, Result};
use crate::names::class_names;
use crate::ranking::RocCurve;

const HEATMAP: &str = "confusion matrix heatmap";
const ROC: &str = "ROC curve";

/// The widest picture (in pixels) [`confusion_matrix_svg`] draws; only
/// class names tens of thousands of characters long come near it.
///
/// ```
/// use neurite_metrics::{confusion_matrix_svg, ConfusionMatrix, MAX_PICTURE_SIDE};
/// let cm = ConfusionMatrix::new(2)?;
/// let long = "x".repeat(MAX_PICTURE_SIDE as usize);
/// assert!(confusion_matrix_svg(&cm, Some(&[long.as_str(), "b"]), false).is_err());
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub const MAX_PICTURE_SIDE: u32 = 100_000;

fn draw_err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> MetricError {
    move |e| MetricError::Render {
        what,
        target: "an SVG string".to_string(),
        message: e.to_string(),
    }
}

/// White to dark blue (matplotlib's "Blues" ends) for `t` in `[0, 1]`.
fn blues(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

/// Approximate width in pixels of `text` at `size` (plotters' estimate).
fn text_width(text: &str, size: f64) -> u32 {
    (size * 0.6 * text.chars().count() as f64).ceil() as u32
}

/// The confusion matrix as an SVG heatmap: one square per (true, predicted)
/// pair shaded by its value, the value written inside, class names on both
/// axes (true classes down the left, predicted along the bottom) and a
/// colour bar. With `normalize`, rows are normalised (see
/// [`ConfusionMatrix::normalized`]) and values printed with two digits.
///
/// At most [`MAX_RENDER_CLASSES`](crate::MAX_RENDER_CLASSES) classes, and
/// class names short enough for a picture under [`MAX_PICTURE_SIDE`] pixels
/// (else [`MetricError::InvalidArgument`]).
///
/// ```
/// use neurite_metrics::{confusion_matrix_svg, ConfusionMatrix};
/// let cm = ConfusionMatrix::from_labels(&[0, 1, 1, 2], &[0, 1, 2, 2], 3)?;
/// let svg = confusion_matrix_svg(&cm, Some(&["cat", "dog", "bird"]), false)?;
/// assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
/// assert!(svg.contains("\nbird\n</text>"));
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn confusion_matrix_svg(
    cm: &ConfusionMatrix,
    class_names: Option<&[&str]>,
    normalize: bool,
) -> Result<String> {
    check_render_classes(HEATMAP, cm.n_classes())?;
    let names = self::class_names(HEATMAP, class_names, cm.n_classes())?;
    let values: Array2<f64> = if normalize {
        cm.normalized()
    } else {
        cm.counts().mapv(|c| c as f64)
    };
    let labels: Array2<String> = if normalize {
        values.mapv(|v| format!("{v:.2}"))
    } else {
        cm.counts().mapv(|c| c.to_string())
    };
    let max = values.iter().copied().fold(0.0, f64::max);
    let scale = if max > 0.0 { max } else { 1.0 };

    let k = cm.n_classes() as u32;
    let font = 14.0;
    let longest_name = names.iter().map(|n| text_width(n, font)).max().unwrap_or(0);
    let longest_value = labels.iter().map(|l| text_width(l, font)).max().unwrap_or(0);
    // `k <= MAX_RENDER_CLASSES` and `cell <= 120` bound the grid; only a
    // very long class name can make the picture too wide.
    let cell = longest_value
        .saturating_add(12)
        .max(longest_name.saturating_add(8))
        .clamp(36, 120);
    let side = longest_name as u64
        + 50
        + u64::from(cell * k)
        + 56
        + u64::from(text_width(&format!("{max:.2}"), 12.0));
    if side > u64::from(MAX_PICTURE_SIDE) {
        return Err(MetricError::InvalidArgument {
            metric: HEATMAP,
            name: "class_names",
            expected: format!("names short enough for a picture at most {MAX_PICTURE_SIDE} pixels wide"),
            found: format!(
                "a longest name of {} characters",
                names.iter().map(|n| n.chars().count()).max().unwrap_or(0)
            ),
        });
    }
    let (left, top) = (longest_name + 50, 50);
    let grid = cell * k;
    let (bar_x, bar_w) = (left + grid + 20, 16);
    let width = bar_x + bar_w + text_width(&format!("{max:.2}"), 12.0) + 20;
    let height = top + grid + 60;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err(HEATMAP))?;
        let style = |size: f64, color: &'static RGBColor, h: HPos, v: VPos| {
            TextStyle::from(("sans-serif", size).into_font())
                .color(color)
                .pos(Pos::new(h, v))
        };
        let center = |i: u32| (i * cell + cell / 2) as i32;
        let title = style(18.0, &BLACK, HPos::Center, VPos::Center);
        root.draw(&Text::new(
            "Confusion matrix",
            ((left + grid / 2) as i32, 20),
            title,
        ))
        .map_err(draw_err(HEATMAP))?;

        for i in 0..k {
            for j in 0..k {
                let t = values[[i as usize, j as usize]] / scale;
                let (x0, y0) = ((left + j * cell) as i32, (top + i * cell) as i32);
                let rect = Rectangle::new(
                    [(x0, y0), (x0 + cell as i32, y0 + cell as i32)],
                    blues(t).filled(),
                );
                root.draw(&rect).map_err(draw_err(HEATMAP))?;
                let ink: &'static RGBColor = if t > 0.5 { &WHITE } else { &BLACK };
                let pos = (left as i32 + center(j), top as i32 + center(i));
                let text = Text::new(
                    labels[[i as usize, j as usize]].clone(),
                    pos,
                    style(font, ink, HPos::Center, VPos::Center),
                );
                root.draw(&text).map_err(draw_err(HEATMAP))?;
            }
        }
        for (c, name) in names.iter().enumerate() {
            let c = c as u32;
            let row = Text::new(
                name.clone(),
                (left as i32 - 6, (top + c * cell + cell / 2) as i32),
                style(font, &BLACK, HPos::Right, VPos::Center),
            );
            root.draw(&row).map_err(draw_err(HEATMAP))?;
            let col = Text::new(
                name.clone(),
                (left as i32 + center(c), (top + grid + 14) as i32),
                style(font, &BLACK, HPos::Center, VPos::Center),
            );
            root.draw(&col).map_err(draw_err(HEATMAP))?;
        }
        let axis = style(14.0, &BLACK, HPos::Center, VPos::Center);
        root.draw(&Text::new(
            "Predicted label",
            ((left + grid / 2) as i32, (top + grid + 40) as i32),
            axis.clone(),
        ))
        .map_err(draw_err(HEATMAP))?;
        let vertical = axis.transform(FontTransform::Rotate270);
        root.draw(&Text::new("True label", (14, (top + grid / 2) as i32), vertical))
            .map_err(draw_err(HEATMAP))?;

        // Colour bar: 32 bands from the maximum (top) to 0 (bottom).
        let bands = 32;
        for b in 0..bands {
            let y0 = top + grid * b / bands;
            let y1 = top + grid * (b + 1) / bands;
            let t = 1.0 - (b as f64 + 0.5) / bands as f64;
            let band = Rectangle::new(
                [(bar_x as i32, y0 as i32), ((bar_x + bar_w) as i32, y1 as i32)],
                blues(t).filled(),
            );
            root.draw(&band).map_err(draw_err(HEATMAP))?;
        }
        let tick = style(12.0, &BLACK, HPos::Left, VPos::Center);
        let top_label = if normalize {
            format!("{max:.2}")
        } else {
            format!("{max}")
        };
        root.draw(&Text::new(
            top_label,
            ((bar_x + bar_w + 4) as i32, top as i32),
            tick.clone(),
        ))
        .map_err(draw_err(HEATMAP))?;
        root.draw(&Text::new(
            "0",
            ((bar_x + bar_w + 4) as i32, (top + grid) as i32),
            tick,
        ))
        .map_err(draw_err(HEATMAP))?;
        root.present().map_err(draw_err(HEATMAP))?;
    }
    Ok(svg)
}

/// Writes [`confusion_matrix_svg`] to `path` (through a temporary file
/// renamed into place).
pub fn write_confusion_matrix_svg(
    cm: &ConfusionMatrix,
    class_names: Option<&[&str]>,
    normalize: bool,
    path: impl AsRef<Path>,
) -> Result<()> {
    let svg = confusion_matrix_svg(cm, class_names, normalize)?;
    write_atomic(HEATMAP, path.as_ref(), &svg)
}

/// Checks that a curve can be drawn: as many `fpr` as `tpr` values, at
/// least one point, every rate a finite number in `[0, 1]`.
fn check_roc_points(curve: &RocCurve) -> Result<()> {
    if curve.fpr.is_empty() {
        return Err(MetricError::Empty { metric: ROC });
    }
    if curve.fpr.len() != curve.tpr.len() {
        return Err(MetricError::ShapeMismatch {
            metric: ROC,
            expected: format!("tpr with as many points as fpr ({})", curve.fpr.len()),
            found: format!("{} points", curve.tpr.len()),
        });
    }
    for rates in [&curve.fpr, &curve.tpr] {
        if let Some((index, &value)) = rates.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
            return Err(MetricError::InvalidValue {
                metric: ROC,
                index,
                value,
                expected: "a rate (fpr or tpr) in [0, 1]",
            });
        }
    }
    Ok(())
}

/// The ROC curve as an SVG line chart, with the chance diagonal and the AUC
/// in the title. The curve's fields are public, so they are checked: `fpr`
/// and `tpr` of the same non-zero length, every rate a number in `[0, 1]`
/// (else [`MetricError::ShapeMismatch`], [`MetricError::Empty`] or
/// [`MetricError::InvalidValue`]).
///
/// ```
/// use neurite_metrics::{roc_curve, roc_curve_svg};
/// let roc = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8])?;
/// let svg = roc_curve_svg(&roc)?;
/// assert!(svg.contains("AUC = 0.750"));
/// # Ok::<(), neurite_metrics::MetricError>(())
/// ```
pub fn roc_curve_svg(curve: &RocCurve) -> Result<String> {
    check_roc_points(curve)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err(ROC))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("ROC curve (AUC = {:.3})", curve.auc()),
                ("sans-serif", 18),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(draw_err(ROC))?;
        chart
            .configure_mesh()
            .x_desc("False positive rate")
            .y_desc("True positive rate")
            .x_labels(6)
            .y_labels(6)
            .draw()
            .map_err(draw_err(ROC))?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                RGBColor(160, 160, 160).stroke_width(1),
            ))
            .map_err(draw_err(ROC))?
            .label("chance")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RGBColor(160, 160, 160)));
        let points: Vec<(f64, f64)> = curve.fpr.iter().copied().zip(curve.tpr.iter().copied()).collect();
        chart
            .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
            .map_err(draw_err(ROC))?
            .label("ROC")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err(ROC))?;
        root.present().map_err(draw_err(ROC))?;
    }
    Ok(svg)
}

/// Writes [`roc_curve_svg`] to `path` (through a temporary file renamed
/// into place).
pub fn write_roc_curve_svg(curve: &RocCurve, path: impl AsRef<Path>) -> Result<()> {
    let svg = roc_curve_svg(curve)?;
    write_atomic(ROC, path.as_ref(), &svg)
}
