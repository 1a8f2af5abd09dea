//! What one row measured on one workload over its rounds, and its `bench-report.json`
//! records.

use super::plan::key;
use super::result::E2eResult;
use super::stats::{Round, Summary, SLOWDOWN_LIMIT};
use serde_json::{json, Value};

/// The results of one row (framework x precision) on one workload, one per round.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The row's label (`neurite`, `pytorch-bf16`, ...).
    pub label: String,
    /// Workload name.
    pub workload: String,
    /// Batch size.
    pub batch: usize,
    /// One parsed process output per round that ran.
    pub rounds: Vec<E2eResult>,
}

impl Measured {
    /// `cnn-train/b32`.
    pub fn key(&self) -> String {
        key(&self.workload, self.batch)
    }

    /// The runs and chunk times of each round.
    pub fn stat_rounds(&self) -> Vec<Round> {
        self.rounds
            .iter()
            .map(|r| Round {
                runs: r.runs.clone(),
                chunk_secs: r.chunk_secs.clone(),
                steps: r.steps,
            })
            .collect()
    }

    /// Median, spread, round medians and the slowdown check; `None` if nothing ran.
    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.stat_rounds())
    }

    /// The largest peak resident set over the rounds' processes, MiB.
    pub fn peak_rss_mb(&self) -> Option<f64> {
        self.rounds.iter().filter_map(|r| r.peak_rss_mb).reduce(f64::max)
    }

    /// FLOPs per sample, if the process reported them.
    pub fn flops_per_sample(&self) -> Option<f64> {
        self.rounds.iter().find_map(|r| r.flops_per_sample)
    }

    /// The framework version / GEMM backend the process reported.
    pub fn version(&self) -> Option<&str> {
        self.rounds.iter().find_map(|r| r.version.as_deref())
    }

    /// GFLOP/s at the median rate, when the FLOPs per sample are known.
    pub fn gflops(&self) -> Option<f64> {
        Some(self.flops_per_sample()? * self.summary()?.median / 1e9)
    }

    /// The prefix of this row's record names.
    pub fn record_prefix(&self) -> String {
        match self.label.as_str() {
            "neurite" => format!("e2e/{}", self.key()),
            "neurite-bf16" => format!("e2e-bf16/{}", self.key()),
            other => format!("e2e-ref/{other}/{}", self.key()),
        }
    }

    /// The one-line warning of a flagged row, if it is flagged.
    pub fn slowdown_warning(&self) -> Option<String> {
        let s = self.summary()?;
        if !s.flagged {
            return None;
        }
        let ratios: Vec<String> = s.slowdowns.iter().flatten().map(|r| format!("{r:.2}")).collect();
        let what = if self.rounds.iter().any(|r| !r.chunk_secs.is_empty()) {
            "last chunk of a run over its first chunk, time per batch"
        } else {
            "last run over first run of a process, time"
        };
        Some(format!(
            "WARNING: {} {} slows down over time: {what}, per round: {} (> {SLOWDOWN_LIMIT} in every round)",
            self.label,
            self.key(),
            ratios.join(", ")
        ))
    }
}

/// The `bench-report.json` records of every measured row: `<prefix>/samples_per_sec`
/// (median, with `min`, `max`, `round_medians` and all `runs` per round), `/gflops`,
/// `/peak_rss_mb`, and `/slowdown` (median of the rounds' ratios, with each round's and
/// `flagged`). Prefixes: `e2e/<key>` (neurite), `e2e-bf16/<key>` (neurite's
/// mixed_bfloat16), `e2e-ref/<framework>/<key>` (references).
pub fn report_records(measured: &[Measured]) -> Vec<Value> {
    let mut recs = Vec::new();
    for m in measured {
        let Some(s) = m.summary() else { continue };
        let prefix = m.record_prefix();
        let runs: Vec<&Vec<f64>> = m.rounds.iter().map(|r| &r.runs).collect();
        recs.push(json!({
            "name": format!("{prefix}/samples_per_sec"), "value": s.median, "unit": "samples/s",
            "min": s.min, "max": s.max, "round_medians": s.round_medians, "runs": runs,
        }));
        if let Some(g) = m.gflops() {
            recs.push(json!({"name": format!("{prefix}/gflops"), "value": g, "unit": "GFLOP/s"}));
        }
        if let Some(p) = m.peak_rss_mb() {
            recs.push(json!({"name": format!("{prefix}/peak_rss_mb"), "value": p, "unit": "MiB"}));
        }
        if let Some(ratio) = s.slowdown() {
            recs.push(json!({
                "name": format!("{prefix}/slowdown"), "value": ratio, "unit": "x",
                "rounds": s.slowdowns, "flagged": s.flagged,
            }));
        }
    }
    recs
}

/// The part of a record name before its last `/` (`e2e/cnn-train/b32`).
fn prefix_of(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(p, _)| p)
}

/// Merges `new` into the report array `old` (if any): an old record is dropped when a
/// new record has the same prefix (the same row and workload), so a run limited by
/// `--workloads`/`--frameworks` keeps the other rows' records; everything else (the
/// criterion micro-benchmarks) is kept in place.
pub fn merge_report(old: Option<Value>, new: Vec<Value>) -> Value {
    let fresh: Vec<String> = new
        .iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .map(|n| prefix_of(n).to_string())
        .collect();
    let mut kept: Vec<Value> = match old {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter(|r| {
                let name = r.get("name").and_then(Value::as_str).unwrap_or("");
                !fresh.iter().any(|p| p == prefix_of(name))
            })
            .collect(),
        _ => Vec::new(),
    };
    kept.extend(new);
    Value::Array(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn result(framework: &str, runs: &[f64], chunks: &[&[f64]]) -> E2eResult {
        E2eResult {
            framework: framework.into(),
            model: "cnn-train".into(),
            batch: 32,
            samples_per_sec: runs[runs.len() / 2],
            runs: runs.to_vec(),
            chunk_secs: chunks.iter().map(|c| c.to_vec()).collect(),
            steps: Some(512),
            peak_rss_mb: Some(runs.len() as f64 * 10.0),
            flops_per_sample: (framework == "neurite").then_some(16_765_440.0),
            version: Some("v".into()),
        }
    }

    fn measured(label: &str, rounds: Vec<E2eResult>) -> Measured {
        Measured {
            label: label.into(),
            workload: "cnn-train".into(),
            batch: 32,
            rounds,
        }
    }

    #[test]
    fn records_per_row() {
        let n = measured(
            "neurite",
            vec![
                result("neurite", &[1000.0, 990.0, 1010.0], &[]),
                result("neurite", &[900.0, 950.0], &[]),
            ],
        );
        let slow: &[f64] = &[1.0, 1.0, 1.0, 1.5];
        let p = measured("pytorch-bf16", vec![result("pytorch-bf16", &[500.0], &[slow])]);
        let b = measured("neurite-bf16", vec![result("neurite", &[2000.0], &[])]);
        let empty = measured("keras-jax", vec![]);
        let recs = report_records(&[n.clone(), p.clone(), b, empty]);
        let names: Vec<&str> = recs.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "e2e/cnn-train/b32/samples_per_sec",
                "e2e/cnn-train/b32/gflops",
                "e2e/cnn-train/b32/peak_rss_mb",
                "e2e/cnn-train/b32/slowdown",
                "e2e-ref/pytorch-bf16/cnn-train/b32/samples_per_sec",
                "e2e-ref/pytorch-bf16/cnn-train/b32/peak_rss_mb",
                "e2e-ref/pytorch-bf16/cnn-train/b32/slowdown",
                "e2e-bf16/cnn-train/b32/samples_per_sec",
                "e2e-bf16/cnn-train/b32/gflops",
                "e2e-bf16/cnn-train/b32/peak_rss_mb",
            ]
        );
        assert_eq!(recs[0]["value"], 990.0);
        assert_eq!(
            (recs[0]["min"].as_f64(), recs[0]["max"].as_f64()),
            (Some(900.0), Some(1010.0))
        );
        assert_eq!(recs[0]["round_medians"], json!([1000.0, 925.0]));
        assert_eq!(recs[0]["runs"], json!([[1000.0, 990.0, 1010.0], [900.0, 950.0]]));
        assert_eq!(recs[2]["value"], 30.0, "the largest peak of the rounds");
        assert_eq!(recs[3]["flagged"], false);
        assert_eq!(recs[6]["value"], 1.5);
        assert_eq!(recs[6]["flagged"], true);
        assert!(n.slowdown_warning().is_none());
        let w = p.slowdown_warning().unwrap();
        assert!(
            w.starts_with("WARNING: pytorch-bf16 cnn-train/b32") && w.contains("1.50"),
            "{w}"
        );
    }

    #[test]
    fn merge_replaces_only_the_rows_that_ran() {
        let old = json!([
            {"name": "sgemm/1024", "value": 1.0, "unit": "ns"},
            {"name": "e2e/cnn-train/b32/samples_per_sec", "value": 5.0, "unit": "samples/s"},
            {"name": "e2e/cnn-train/b32/gflops", "value": 5.0, "unit": "GFLOP/s"},
            {"name": "e2e/lstm-train/b32/samples_per_sec", "value": 7.0, "unit": "samples/s"},
        ]);
        let new =
            vec![json!({"name": "e2e/cnn-train/b32/samples_per_sec", "value": 9.0, "unit": "samples/s"})];
        let merged = merge_report(Some(old), new);
        let names: Vec<&str> = merged
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "sgemm/1024",
                "e2e/lstm-train/b32/samples_per_sec",
                "e2e/cnn-train/b32/samples_per_sec"
            ]
        );
        assert_eq!(merge_report(None, vec![]).as_array().unwrap().len(), 0);
    }
}
