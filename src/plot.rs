//! `History::plot`: loss and metric curves, train vs validation, as SVG.
//!
//! Logged values can be anything a diverging run produces (NaN, ±inf,
//! ±1e308), and the plotting library's axis arithmetic overflows or loops
//! forever on such ranges. So every value is checked first: non-finite
//! values are left out (the line breaks there), values beyond
//! [`History::PLOT_LIMIT`] are drawn at that limit, each panel's caption says how
//! many values were treated so, and the axis ranges are always finite and
//! wide enough for their magnitude.

use crate::error::{Error, Result};
use crate::history::History;
use plotters::prelude::*;
use std::path::Path;

/// See [`History::PLOT_LIMIT`].
const PLOT_LIMIT: f64 = 1e300;

/// Height of one panel in pixels.
const PANEL_H: u32 = 300;
/// Width of the picture in pixels.
const WIDTH: u32 = 640;
/// At most this many panels (one per quantity): 100 000 pixels high.
const MAX_PANELS: usize = 333;

fn draw_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Model(format!("history plot: {e}"))
}

/// The finite points of one curve, cut into runs at non-finite values,
/// with counts of what was left out or clamped.
struct Curve {
    runs: Vec<Vec<(f64, f64)>>,
    non_finite: usize,
    clamped: usize,
}

impl Curve {
    fn new(xs: &[f64], values: &[f64]) -> Self {
        let mut curve = Curve {
            runs: Vec::new(),
            non_finite: 0,
            clamped: 0,
        };
        let mut run = Vec::new();
        for (&x, &v) in xs.iter().zip(values) {
            if !v.is_finite() {
                curve.non_finite += 1;
                if !run.is_empty() {
                    curve.runs.push(std::mem::take(&mut run));
                }
                continue;
            }
            if v.abs() > PLOT_LIMIT {
                curve.clamped += 1;
            }
            run.push((x, v.clamp(-PLOT_LIMIT, PLOT_LIMIT)));
        }
        if !run.is_empty() {
            curve.runs.push(run);
        }
        curve
    }

    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.runs.iter().flatten().map(|&(_, y)| y)
    }
}

/// A finite axis range around `[lo, hi]` (finite, `|.| <= PLOT_LIMIT`,
/// `lo <= hi`) that the axis code can divide into ticks: padded by `frac`
/// of its width, or, when it is narrow for its magnitude (a constant
/// curve, a range of 1e-300, two values a few ulps apart), widened to 5%
/// of the magnitude (at least 1e-6) on each side.
fn axis_range(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let mag = lo.abs().max(hi.abs());
    let span = hi - lo;
    if span > mag * 1e-9 && span > 1e-250 {
        (lo - span * frac, hi + span * frac)
    } else {
        let pad = (mag * 0.05).max(1e-6);
        (lo - pad, hi + pad)
    }
}

/// Tick labels: plain decimals for ordinary values, scientific notation
/// for very large or very small ones (which would not fit otherwise).
fn tick_label(v: &f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        format!("{v:.2e}")
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    }
}

/// What a panel's caption adds about values it could not draw as they are.
fn caption_note(non_finite: usize, clamped: usize) -> String {
    let mut notes = Vec::new();
    if non_finite > 0 {
        notes.push(format!("{non_finite} non-finite not drawn"));
    }
    if clamped > 0 {
        notes.push(format!("{clamped} beyond ±{PLOT_LIMIT:e} drawn at the edge"));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    }
}

impl History {
    /// The largest magnitude drawn by [`History::to_svg`]: a value beyond it
    /// (up to `±f64::MAX`) is drawn at `±PLOT_LIMIT`, and the panel says so.
    ///
    /// ```
    /// use neurite::History;
    /// let mut h = History::default();
    /// for v in [1.0, 1e308] {
    ///     h.push(h.epochs.len(), &[("loss".to_string(), v)].into_iter().collect());
    /// }
    /// let svg = h.to_svg()?;
    /// assert!(svg.contains("1 beyond"));
    /// assert!(History::PLOT_LIMIT < f64::MAX);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub const PLOT_LIMIT: f64 = PLOT_LIMIT;

    /// The quantities to plot, `loss` first then alphabetical: each base
    /// name (without `val_`) once, with its training and validation keys
    /// when present. `lr` is left out.
    fn panels(&self) -> Vec<(String, Option<&str>, Option<&str>)> {
        let mut bases: Vec<&str> = self
            .history
            .keys()
            .map(|k| k.strip_prefix("val_").unwrap_or(k))
            .filter(|&k| k != "lr")
            .collect();
        bases.sort_by_key(|&k| (k != "loss", k));
        bases.dedup();
        bases
            .into_iter()
            .map(|base| {
                let train = self.history.get_key_value(base).map(|(k, _)| k.as_str());
                let val = self
                    .history
                    .get_key_value(&format!("val_{base}"))
                    .map(|(k, _)| k.as_str());
                (base.to_string(), train, val)
            })
            .collect()
    }

    /// The curves as an SVG document: one panel per quantity (`loss`, then
    /// each metric), the training curve in blue and the validation curve
    /// (`val_*`) in orange, against the epoch (1-based).
    ///
    /// Any logged value is accepted: NaN and ±inf are left out (the curve
    /// breaks there), values beyond [`History::PLOT_LIMIT`] are drawn at the limit,
    /// and the panel's caption counts both. A single epoch is drawn as a
    /// dot. Errors: nothing recorded, a key whose number of values is not
    /// the number of epochs (a hand-built `History`), or more than 333
    /// quantities.
    ///
    /// ```
    /// let mut h = neurite::History::default();
    /// for (e, (l, v)) in [(0.9, 1.0), (0.5, f64::NAN), (0.3, 0.6)].into_iter().enumerate() {
    ///     h.push(e, &[("loss".to_string(), l), ("val_loss".to_string(), v)].into_iter().collect());
    /// }
    /// let svg = h.to_svg()?;
    /// assert!(svg.starts_with("<svg") && svg.contains("val_loss"));
    /// assert!(svg.contains("1 non-finite not drawn"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn to_svg(&self) -> Result<String> {
        let panels = self.panels();
        if panels.is_empty() || self.epochs.is_empty() {
            return Err(Error::Model(
                "history plot: nothing to plot (no epoch was recorded)".into(),
            ));
        }
        for (key, values) in &self.history {
            if values.len() != self.epochs.len() {
                return Err(Error::Model(format!(
                    "history plot: `{key}` holds {} values, expected one per epoch ({})",
                    values.len(),
                    self.epochs.len()
                )));
            }
        }
        if panels.len() > MAX_PANELS {
            return Err(Error::Model(format!(
                "history plot: {} quantities to plot, expected at most {MAX_PANELS} (one panel of {PANEL_H} pixels each)",
                panels.len()
            )));
        }
        let xs: Vec<f64> = self.epochs.iter().map(|&e| e as f64 + 1.0).collect();
        let (xlo, xhi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
        // Whole epochs: at least one epoch wide, no padding.
        let (xlo, xhi) = if xhi - xlo < 1.0 {
            (xlo - 0.5, xhi + 0.5)
        } else {
            (xlo, xhi)
        };
        let (x0, x1) = axis_range(xlo, xhi, 0.0);

        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (WIDTH, PANEL_H * panels.len() as u32)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let areas = root.split_evenly((panels.len(), 1));
            let orange = RGBColor(230, 120, 20);
            for (area, (base, train_key, val_key)) in areas.iter().zip(&panels) {
                let series: Vec<(&str, Curve, RGBColor)> = [(train_key, BLUE), (val_key, orange)]
                    .into_iter()
                    .filter_map(|(key, color)| key.map(|k| (k, Curve::new(&xs, &self.history[k]), color)))
                    .collect();
                let (lo, hi) = series
                    .iter()
                    .flat_map(|(_, c, _)| c.values())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                        (a.min(v), b.max(v))
                    });
                let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
                let (y0, y1) = axis_range(lo, hi, 0.05);
                let non_finite = series.iter().map(|(_, c, _)| c.non_finite).sum();
                let clamped = series.iter().map(|(_, c, _)| c.clamped).sum();
                let caption = format!("{base}{}", caption_note(non_finite, clamped));
                let mut chart = ChartBuilder::on(area)
                    .caption(caption, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(35)
                    .y_label_area_size(70)
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(draw_err)?;
                chart
                    .configure_mesh()
                    .x_desc("epoch")
                    .x_label_formatter(&tick_label)
                    .y_label_formatter(&tick_label)
                    .draw()
                    .map_err(draw_err)?;
                for (key, curve, color) in &series {
                    let style = color.stroke_width(2);
                    let legend_color = *color;
                    chart
                        .draw_series(curve.runs.iter().map(|run| PathElement::new(run.clone(), style)))
                        .map_err(draw_err)?
                        .label(*key)
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 16, y)], legend_color.stroke_width(2))
                        });
                    // A run of one point has no line: draw it as a dot.
                    chart
                        .draw_series(
                            curve
                                .runs
                                .iter()
                                .filter(|run| run.len() == 1)
                                .map(|run| Circle::new(run[0], 3, color.filled())),
                        )
                        .map_err(draw_err)?;
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

    /// Writes [`History::to_svg`] to `path` as a whole or not at all: into a
    /// uniquely named temporary file beside it (removed on failure), synced,
    /// then renamed into place.
    ///
    /// ```
    /// let mut h = neurite::History::default();
    /// h.push(0, &[("loss".to_string(), 0.5)].into_iter().collect());
    /// let dir = tempfile::tempdir()?;
    /// h.plot(dir.path().join("loss.svg"))?;
    /// // A directory in the way is an error, and nothing is left behind.
    /// assert!(h.plot(dir.path()).is_err());
    /// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(neurite_data::write_atomic(
            path.as_ref(),
            self.to_svg()?.as_bytes(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::mpsc;
    use std::time::Duration;

    /// `to_svg` of `h` on its own thread; fails if it has not returned
    /// within a few seconds (a hang check, not a speed test) or panicked.
    fn svg_within_seconds(what: &str, h: History) -> Result<String> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(h.to_svg());
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: history plot did not return within 10 s"),
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: history plot panicked"),
        }
    }

    /// A history of `loss` and `val_loss` over epochs `0..n`.
    fn history(train: &[f64], val: &[f64]) -> History {
        let mut h = History::default();
        for (e, (&t, &v)) in train.iter().zip(val).enumerate() {
            let logs: BTreeMap<String, f64> = [("loss".to_string(), t), ("val_loss".to_string(), v)]
                .into_iter()
                .collect();
            h.push(e, &logs);
        }
        h
    }

    #[test]
    fn degenerate_values_plot_without_hanging() {
        let max = f64::MAX;
        let cases: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
            ("±1e308", vec![1e308, -1e308, 0.5], vec![-1e308, 1e308, 1e308]),
            ("±f64::MAX", vec![max, -max], vec![-max, max]),
            ("all NaN", vec![f64::NAN; 3], vec![f64::NAN; 3]),
            (
                "inf and -inf",
                vec![f64::INFINITY, f64::NEG_INFINITY, 1.0],
                vec![f64::INFINITY; 3],
            ),
            ("single epoch", vec![0.7], vec![0.9]),
            ("single epoch at 1e308", vec![1e308], vec![-1e308]),
            ("identical values", vec![0.25; 5], vec![0.25; 5]),
            ("identical zeros", vec![0.0; 4], vec![0.0; 4]),
            ("identical 1e300", vec![1e300; 4], vec![1e300; 4]),
            (
                "1e-300 range",
                vec![0.0, 1e-300, 2e-300],
                vec![1e-300, 0.0, 3e-300],
            ),
            (
                "subnormals",
                vec![5e-324, 1e-320, 0.0],
                vec![-5e-324, 0.0, 1e-310],
            ),
            ("ulps apart", vec![1.0, 1.0 + f64::EPSILON, 1.0], vec![1.0; 3]),
            (
                "1e300 and its neighbour",
                vec![1e300, 1e300 * (1.0 + 4.0 * f64::EPSILON)],
                vec![1e300; 2],
            ),
            ("huge and tiny", vec![1e299, 1e-299, -1e299], vec![0.0, 1.0, 2.0]),
            (
                "NaN between",
                vec![1.0, f64::NAN, 0.5, f64::NAN],
                vec![f64::NAN, 0.8, f64::NAN, 0.4],
            ),
        ];
        for (what, train, val) in cases {
            let svg =
                svg_within_seconds(what, history(&train, &val)).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                "{what}"
            );
            assert!(
                !svg.contains("NaN") && !svg.contains("inf"),
                "{what}: a non-finite coordinate was written"
            );
        }
    }

    #[test]
    fn captions_say_what_was_not_drawn_as_is() {
        let svg = svg_within_seconds(
            "notes",
            history(&[1e308, f64::NAN, 1.0], &[0.5, 0.4, f64::INFINITY]),
        )
        .unwrap();
        assert!(svg.contains("2 non-finite not drawn"), "{svg}");
        assert!(svg.contains("1 beyond ±1e300 drawn at the edge"));
        let clean = svg_within_seconds("clean", history(&[1.0, 0.5], &[0.9, 0.6])).unwrap();
        assert!(!clean.contains("not drawn") && !clean.contains("beyond"));
        // a single epoch is a dot, not an invisible one-point line
        let one = svg_within_seconds("one", history(&[0.5], &[0.6])).unwrap();
        assert_eq!(one.matches("<circle").count(), 2, "{one}");
    }

    #[test]
    fn extreme_epoch_numbers_plot_without_hanging() {
        for epochs in [
            vec![usize::MAX],
            vec![usize::MAX - 1, usize::MAX],
            vec![0, usize::MAX],
            vec![5, 3, 9, 1],
            vec![1 << 53, (1 << 53) + 1],
        ] {
            let mut h = History::default();
            for (i, &e) in epochs.iter().enumerate() {
                h.push(e, &[("loss".to_string(), i as f64)].into_iter().collect());
            }
            svg_within_seconds(&format!("epochs {epochs:?}"), h).unwrap();
        }
        // many epochs
        let train: Vec<f64> = (0..100_000).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let svg = svg_within_seconds("100 000 epochs", history(&train, &train)).unwrap();
        assert!(svg.contains("val_loss"));
    }

    #[test]
    fn inconsistent_histories_are_errors() {
        let empty = svg_within_seconds("empty", History::default()).unwrap_err();
        assert!(empty.to_string().contains("nothing to plot"), "{empty}");
        let mut h = history(&[1.0, 0.5], &[0.9, 0.6]);
        h.history.get_mut("val_loss").unwrap().push(0.1);
        let err = svg_within_seconds("lengths", h).unwrap_err().to_string();
        assert!(
            err.contains("`val_loss` holds 3 values, expected one per epoch (2)"),
            "{err}"
        );
        let mut many = History::default();
        let logs: BTreeMap<String, f64> = (0..=MAX_PANELS).map(|i| (format!("m{i}"), 0.0)).collect();
        many.push(0, &logs);
        let err = svg_within_seconds("many panels", many).unwrap_err().to_string();
        assert!(err.contains(&format!("expected at most {MAX_PANELS}")), "{err}");
        // only `lr` is nothing to plot
        let mut lr = History::default();
        lr.push(0, &[("lr".to_string(), 0.1)].into_iter().collect());
        assert!(svg_within_seconds("lr", lr).is_err());
    }

    #[test]
    fn validation_only_quantities_get_a_panel() {
        let mut h = History::default();
        h.push(
            0,
            &[("loss".to_string(), 1.0), ("val_auc".to_string(), 0.7)]
                .into_iter()
                .collect(),
        );
        h.push(
            1,
            &[("loss".to_string(), 0.8), ("val_auc".to_string(), 0.8)]
                .into_iter()
                .collect(),
        );
        let svg = svg_within_seconds("val only", h).unwrap();
        assert!(svg.contains("val_auc"));
    }

    #[test]
    fn pushes_keep_every_key_aligned_with_the_epochs() {
        let mut h = History::default();
        h.push(0, &[("loss".to_string(), 1.0)].into_iter().collect());
        h.push(1, &[("val_loss".to_string(), 0.5)].into_iter().collect());
        h.push(2, &[("loss".to_string(), 0.25)].into_iter().collect());
        for values in h.history.values() {
            assert_eq!(values.len(), 3);
        }
        assert_eq!(h.get("loss").unwrap()[2], 0.25);
        assert!(h.get("loss").unwrap()[1].is_nan());
        assert_eq!(h.get("val_loss").unwrap()[1], 0.5);
        assert!(svg_within_seconds("aligned", h).is_ok());
    }

    #[test]
    fn tick_labels_are_short() {
        for v in [
            0.0,
            -0.0,
            0.5,
            1.0,
            12.25,
            -3.0,
            1e300,
            -1e-300,
            123456789.0,
            0.00001,
        ] {
            let s = tick_label(&v);
            assert!(s.len() <= 10, "{v}: {s}");
        }
        assert_eq!(tick_label(&0.5), "0.5");
        assert_eq!(tick_label(&-0.0), "0");
        assert_eq!(tick_label(&1e300), "1.00e300");
    }

    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::MAX),
            Just(-f64::MAX),
            Just(1e308),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(0.0),
            Just(1e-300),
            Just(f64::MIN_POSITIVE),
            -1.0f64..1.0,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the logged values and epoch numbers, the plot returns
        /// quickly, and writes no non-finite coordinate.
        #[test]
        fn any_history_plots(
            rows in prop::collection::vec((any::<usize>(), any_value(), any_value()), 1..12),
        ) {
            let mut h = History::default();
            for &(e, t, v) in &rows {
                let logs: BTreeMap<String, f64> =
                    [("loss".to_string(), t), ("val_loss".to_string(), v)].into_iter().collect();
                h.push(e, &logs);
            }
            let svg = svg_within_seconds("proptest", h).unwrap();
            prop_assert!(!svg.contains("NaN") && !svg.contains("inf"));
        }
    }
}
