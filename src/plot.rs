//! `History::plot`: loss and metric curves, train vs validation, as SVG.

use crate::error::{Error, Result};
use crate::history::History;
use plotters::prelude::*;
use std::path::Path;

fn draw_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Model(format!("history plot: {e}"))
}

impl History {
    /// The curves as an SVG document: one panel per quantity (`loss`, then
    /// each metric), the training curve in blue and the validation curve
    /// (`val_*`) in orange, against the epoch (1-based).
    ///
    /// ```
    /// let mut h = neurite::History::default();
    /// for (e, (l, v)) in [(0.9, 1.0), (0.5, 0.7), (0.3, 0.6)].into_iter().enumerate() {
    ///     h.push(e, &[("loss".to_string(), l), ("val_loss".to_string(), v)].into_iter().collect());
    /// }
    /// let svg = h.to_svg()?;
    /// assert!(svg.starts_with("<svg") && svg.contains("val_loss"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn to_svg(&self) -> Result<String> {
        let mut keys: Vec<&String> = self
            .history
            .keys()
            .filter(|k| !k.starts_with("val_") && k.as_str() != "lr")
            .collect();
        keys.sort_by_key(|k| (k.as_str() != "loss", k.to_string()));
        if keys.is_empty() || self.epochs.is_empty() {
            return Err(Error::Model(
                "history plot: nothing to plot (no epoch was recorded)".into(),
            ));
        }
        let panel_h = 300u32;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (640, panel_h * keys.len() as u32)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let panels = root.split_evenly((keys.len(), 1));
            let epochs: Vec<f64> = self.epochs.iter().map(|&e| e as f64 + 1.0).collect();
            let (x0, x1) = (epochs[0], epochs[epochs.len() - 1].max(epochs[0] + 1.0));
            for (panel, key) in panels.iter().zip(keys) {
                let train = &self.history[key];
                let val_key = format!("val_{key}");
                let val = self.history.get(&val_key);
                let all = train
                    .iter()
                    .chain(val.into_iter().flatten())
                    .copied()
                    .filter(|v| v.is_finite());
                let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
                let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
                let pad = ((hi - lo) * 0.05).max(1e-6);
                let mut chart = ChartBuilder::on(panel)
                    .caption(key.as_str(), ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(35)
                    .y_label_area_size(55)
                    .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
                    .map_err(draw_err)?;
                chart.configure_mesh().x_desc("epoch").draw().map_err(draw_err)?;
                let series = |v: &Vec<f64>| epochs.iter().copied().zip(v.iter().copied()).collect::<Vec<_>>();
                chart
                    .draw_series(LineSeries::new(series(train), BLUE.stroke_width(2)))
                    .map_err(draw_err)?
                    .label(key.as_str())
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
                if let Some(v) = val {
                    let orange = RGBColor(230, 120, 20);
                    chart
                        .draw_series(LineSeries::new(series(v), orange.stroke_width(2)))
                        .map_err(draw_err)?
                        .label(val_key.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 16, y)], orange.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(draw_err)?;
            }
            root.present().map_err(draw_err)?;
        }
        Ok(svg)
    }

    /// Writes [`History::to_svg`] to `path` (a temporary file renamed into place).
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let svg = self.to_svg()?;
        let tmp = path.with_extension("svg.partial");
        std::fs::write(&tmp, svg).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}
