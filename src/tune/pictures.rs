//! SVG pictures of a search: the objective per trial (with the best so
//! far), and parallel coordinates of the parameters against the objective.

use super::results::TuneResults;
use super::space::Domain;
use super::trial::TrialStatus;
use super::values::format_float;
use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 400;

fn draw_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Model(format!("tune plot: {e}"))
}

/// A finite, non-empty range around `[lo, hi]`, padded by 5%.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 1e-12 * lo.abs().max(hi.abs()) && span > 0.0 {
        span * 0.05
    } else {
        (lo.abs() * 0.05).max(1e-6)
    };
    (lo - pad, hi + pad)
}

/// From blue (worst) to orange (best), for a rank in `[0, 1]` (1 = best).
fn ramp(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(40.0, 230.0), mix(90.0, 120.0), mix(200.0, 20.0))
}

impl TuneResults {
    /// The objective of every trial against its index (complete trials as
    /// filled dots, pruned as hollow ones; failed ones are counted in the
    /// caption), with a line through the best value so far.
    ///
    /// ```
    /// use neurite::tune::{Objective, Param, Random, Search, SearchSpace};
    /// let space = SearchSpace::new().add(Param::float("x", 0.0, 1.0))?;
    /// let r = Search::new(space, Objective::min("loss")).strategy(Random::new(5)).verbose(0)
    ///     .run(|t| Ok([("loss".to_string(), t.params().get_float("x")?)].into_iter().collect()))?;
    /// let svg = r.objective_svg()?;
    /// assert!(svg.starts_with("<svg") && svg.contains("best so far"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn objective_svg(&self) -> Result<String> {
        let points: Vec<(f64, f64, bool)> = self
            .trials
            .iter()
            .filter_map(|t| match (t.status, t.objective) {
                (TrialStatus::Failed, _) | (_, None) => None,
                (s, Some(v)) if v.is_finite() => Some((t.index as f64, v, s == TrialStatus::Complete)),
                _ => None,
            })
            .collect();
        if points.is_empty() {
            return Err(Error::Model(
                "tune plot: no trial has an objective to draw".into(),
            ));
        }
        let failed = self.trials.len() - points.len();
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        let (y0, y1) = padded(lo, hi);
        let n = self.trials.len() as f64;
        let mut best_line = Vec::new();
        let mut best: Option<f64> = None;
        for &(x, v, complete) in &points {
            if complete && best.is_none_or(|b| self.objective.is_better(v, b)) {
                best = Some(v);
            }
            if let Some(b) = best {
                best_line.push((x, b));
            }
        }
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let caption = format!(
                "{} per trial ({}){}",
                self.objective,
                self.strategy,
                if failed > 0 {
                    format!(", {failed} failed or without value not drawn")
                } else {
                    String::new()
                }
            );
            let mut chart = ChartBuilder::on(&root)
                .caption(caption, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(35)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.5..(n - 0.5).max(0.5), y0..y1)
                .map_err(draw_err)?;
            chart
                .configure_mesh()
                .x_desc("trial")
                .y_desc(self.objective.name())
                .y_label_formatter(&|v| format_float(*v))
                .draw()
                .map_err(draw_err)?;
            let orange = RGBColor(230, 120, 20);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    best_line,
                    orange.stroke_width(2),
                )))
                .map_err(draw_err)?
                .label("best so far")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], orange.stroke_width(2)));
            chart
                .draw_series(
                    points
                        .iter()
                        .filter(|p| p.2)
                        .map(|p| Circle::new((p.0, p.1), 4, BLUE.filled())),
                )
                .map_err(draw_err)?
                .label("complete")
                .legend(|(x, y)| Circle::new((x + 8, y), 4, BLUE.filled()));
            if points.iter().any(|p| !p.2) {
                chart
                    .draw_series(
                        points
                            .iter()
                            .filter(|p| !p.2)
                            .map(|p| Circle::new((p.0, p.1), 4, BLUE.stroke_width(1))),
                    )
                    .map_err(draw_err)?
                    .label("pruned")
                    .legend(|(x, y)| Circle::new((x + 8, y), 4, BLUE.stroke_width(1)));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(draw_err)?;
            root.present().map_err(draw_err)?;
        }
        Ok(svg)
    }

    /// Parallel coordinates: one vertical axis per parameter (on its own
    /// scale: log where it is sampled on a log scale, one tick per choice)
    /// and a last one for the objective; each complete trial is a line
    /// coloured from blue (worst) to orange (best).
    ///
    /// ```
    /// use neurite::tune::{Objective, Param, Random, Search, SearchSpace};
    /// let space = SearchSpace::new()
    ///     .add(Param::float("lr", 1e-4, 1e-1).log())?
    ///     .add(Param::choice("optimizer", ["adam", "sgd"]))?;
    /// let r = Search::new(space, Objective::min("loss")).strategy(Random::new(6)).verbose(0)
    ///     .run(|t| Ok([("loss".to_string(), t.params().get_float("lr")?)].into_iter().collect()))?;
    /// let svg = r.parameters_svg()?;
    /// assert!(svg.contains("optimizer") && svg.contains("adam") && svg.contains("lr (log)"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn parameters_svg(&self) -> Result<String> {
        let complete: Vec<_> = self
            .trials
            .iter()
            .filter(|t| t.complete_objective().is_some())
            .collect();
        if complete.is_empty() {
            return Err(Error::Model("tune plot: no complete trial to draw".into()));
        }
        let params = self.space.params();
        let axes = params.len() + 1;
        let (olo, ohi) = complete
            .iter()
            .filter_map(|t| t.objective)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let (olo, ohi) = padded(olo, ohi);
        // Position of a trial on each axis, in [0, 1].
        let position = |t: &super::trial::Trial, axis: usize| -> f64 {
            if axis == params.len() {
                return (t.objective.unwrap_or(olo) - olo) / (ohi - olo);
            }
            let p = &params[axis];
            let (lo, hi) = p.internal_bounds();
            let x = t
                .params
                .get(p.name())
                .and_then(|v| p.to_internal(v))
                .unwrap_or(lo);
            if hi > lo {
                (x - lo) / (hi - lo)
            } else {
                0.5
            }
        };
        let ranked: Vec<usize> = self.ranked().iter().map(|t| t.index).collect();
        let rank_of = |index: usize| ranked.iter().position(|&i| i == index).unwrap_or(0);
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (WIDTH.max(160 * axes as u32), HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(format!("parameters and {}", self.objective), ("sans-serif", 16))
                .margin(30)
                .build_cartesian_2d(-0.3..(axes as f64 - 0.7), -0.08..1.05)
                .map_err(draw_err)?;
            // Worst first, so the best lines are drawn on top.
            let mut order = complete.clone();
            order.sort_by_key(|t| std::cmp::Reverse(rank_of(t.index)));
            let n = complete.len().max(2) as f64 - 1.0;
            for t in &order {
                let color = ramp(1.0 - rank_of(t.index) as f64 / n);
                let line: Vec<(f64, f64)> = (0..axes).map(|a| (a as f64, position(t, a))).collect();
                chart
                    .draw_series(std::iter::once(PathElement::new(line, color.stroke_width(2))))
                    .map_err(draw_err)?;
            }
            let label = |x: f64, y: f64, text: String| {
                Text::new(text, (x, y), ("sans-serif", 12).into_font().color(&BLACK))
            };
            for a in 0..axes {
                let x = a as f64;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, 0.0), (x, 1.0)],
                        BLACK.stroke_width(1),
                    )))
                    .map_err(draw_err)?;
                let (name, low, high, ticks): (String, String, String, Vec<(f64, String)>) =
                    if a == params.len() {
                        (
                            self.objective.name().to_string(),
                            format_float(olo),
                            format_float(ohi),
                            Vec::new(),
                        )
                    } else {
                        let p = &params[a];
                        match p.domain() {
                            Domain::Choice(values) => {
                                let k = values.len();
                                let ticks = values
                                    .iter()
                                    .enumerate()
                                    .map(|(i, v)| {
                                        (if k > 1 { i as f64 / (k - 1) as f64 } else { 0.5 }, v.to_string())
                                    })
                                    .collect();
                                (p.name().to_string(), String::new(), String::new(), ticks)
                            }
                            _ => {
                                let (lo, hi) = p.internal_bounds();
                                let show = |t: f64| match p.value_at_internal(t) {
                                    v @ super::Value::Int(_) => v.to_string(),
                                    _ => format_float(if p.is_log() { t.exp() } else { t }),
                                };
                                let name = if p.is_log() {
                                    format!("{} (log)", p.name())
                                } else {
                                    p.name().to_string()
                                };
                                (name, show(lo), show(hi), Vec::new())
                            }
                        }
                    };
                chart
                    .draw_series(std::iter::once(label(x - 0.1, -0.03, name)))
                    .map_err(draw_err)?;
                if !low.is_empty() {
                    chart
                        .draw_series([label(x + 0.02, 0.02, low), label(x + 0.02, 1.03, high)])
                        .map_err(draw_err)?;
                }
                chart
                    .draw_series(ticks.into_iter().map(|(y, text)| label(x + 0.02, y, text)))
                    .map_err(draw_err)?;
            }
            root.present().map_err(draw_err)?;
        }
        Ok(svg)
    }

    /// Writes [`TuneResults::objective_svg`] to `path` atomically.
    pub fn plot_objective(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(neurite_data::write_atomic(
            path.as_ref(),
            self.objective_svg()?.as_bytes(),
        )?)
    }

    /// Writes [`TuneResults::parameters_svg`] to `path` atomically.
    pub fn plot_parameters(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(neurite_data::write_atomic(
            path.as_ref(),
            self.parameters_svg()?.as_bytes(),
        )?)
    }
}
