//! The results table (keras-tuner's `results_summary`): one row per trial,
//! best first, a column per parameter, failures listed below.

use super::results::TuneResults;
use super::trial::TrialStatus;
use super::values::format_float;
use std::fmt::Write;

/// The table of `results`' `rows` best trials; deterministic (no timings),
/// so a resumed search prints the same table as an uninterrupted one.
pub(crate) fn summary(results: &TuneResults, rows: usize) -> String {
    let ranked = results.ranked();
    let with_budget = results.trials.iter().any(|t| t.bracket.is_some());
    let mut header: Vec<String> = vec![
        "rank".into(),
        "trial".into(),
        "status".into(),
        results.objective.name().to_string(),
    ];
    header.push("epochs".into());
    if with_budget {
        header.push("bracket".into());
        header.push("rung".into());
    }
    header.extend(results.space.params().iter().map(|p| p.name().to_string()));
    let mut table: Vec<Vec<String>> = vec![header];
    for (rank, t) in ranked.iter().take(rows).enumerate() {
        let status = match t.status {
            TrialStatus::Complete => "complete",
            TrialStatus::Pruned => "pruned",
            TrialStatus::Failed => "failed",
        };
        let mut row = vec![
            (rank + 1).to_string(),
            t.index.to_string(),
            status.to_string(),
            t.objective.map_or("-".to_string(), format_float),
            t.epochs.to_string(),
        ];
        if with_budget {
            row.push(t.bracket.map_or("-".into(), |b| b.to_string()));
            row.push(t.rung.map_or("-".into(), |r| r.to_string()));
        }
        for p in results.space.params() {
            row.push(t.params.get(p.name()).map_or("-".into(), |v| v.to_string()));
        }
        table.push(row);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let (complete, pruned, failed) = results
        .trials
        .iter()
        .fold((0, 0, 0), |(c, p, f), t| match t.status {
            TrialStatus::Complete => (c + 1, p, f),
            TrialStatus::Pruned => (c, p + 1, f),
            TrialStatus::Failed => (c, p, f + 1),
        });
    let mut out = String::new();
    let _ = writeln!(out, "Results summary");
    let _ = writeln!(
        out,
        "Objective: {}; strategy: {}",
        results.objective, results.strategy
    );
    let _ = writeln!(
        out,
        "{} trials: {complete} complete, {pruned} pruned, {failed} failed; showing the {} best",
        results.trials.len(),
        rows.min(results.trials.len())
    );
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c < 2 {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    if let Some(best) = results.best_trial() {
        let _ = writeln!(
            out,
            "Best: trial {} ({}) with {} = {}",
            best.index,
            super::values::HyperParameters::new(best.seed, best.params.clone()),
            results.objective.name(),
            format_float(best.objective.unwrap_or(f64::NAN))
        );
    }
    for t in results.failures() {
        let _ = writeln!(
            out,
            "trial {} failed: {}",
            t.index,
            t.error.as_deref().unwrap_or("no message")
        );
    }
    out
}
