//! The JSON line a benchmark process prints (neurite's `e2e` or a reference script).

use serde_json::Value;

/// One result line of a benchmark process (neurite's or a reference's).
#[derive(Debug, Clone, PartialEq)]
pub struct E2eResult {
    /// What the process calls itself: `neurite`, `pytorch`, `keras-tensorflow`, ...
    pub framework: String,
    /// Workload name, e.g. `cnn-train`.
    pub model: String,
    /// Batch size.
    pub batch: usize,
    /// Median samples per second of the process' timed runs.
    pub samples_per_sec: f64,
    /// Samples per second of every timed run, in order.
    pub runs: Vec<f64>,
    /// Per timed run, the seconds of its consecutive chunks of batches (empty when the
    /// process does not report them).
    pub chunk_secs: Vec<Vec<f64>>,
    /// Batches per run, when reported.
    pub steps: Option<usize>,
    /// Peak resident set of the process, MiB.
    pub peak_rss_mb: Option<f64>,
    /// FLOPs per sample (neurite's binary reports them).
    pub flops_per_sample: Option<f64>,
    /// neurite's GEMM backend, or the reference's framework version.
    pub version: Option<String>,
}

impl E2eResult {
    /// Parses the last JSON object line of a process' standard output.
    pub fn from_output(stdout: &str) -> Result<Self, String> {
        let line = stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('{'))
            .ok_or_else(|| format!("no JSON line in the output:\n{stdout}"))?;
        let v: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON line {line:?}: {e}"))?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("{line}: no string field {k:?}"))
        };
        let number = |k: &str| v.get(k).and_then(Value::as_f64);
        let numbers = |a: &Value| -> Option<Vec<f64>> { a.as_array()?.iter().map(Value::as_f64).collect() };
        let chunk_secs = match v.get("chunk_secs") {
            None | Some(Value::Null) => Vec::new(),
            Some(c) => c
                .as_array()
                .and_then(|runs| runs.iter().map(numbers).collect::<Option<Vec<_>>>())
                .ok_or_else(|| format!("{line}: \"chunk_secs\" is not an array of arrays of numbers"))?,
        };
        Ok(E2eResult {
            framework: text("framework")?,
            model: text("model")?,
            batch: v
                .get("batch")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{line}: no integer field \"batch\""))? as usize,
            samples_per_sec: number("samples_per_sec")
                .ok_or_else(|| format!("{line}: no number field \"samples_per_sec\""))?,
            runs: match v.get("runs") {
                None | Some(Value::Null) => Vec::new(),
                Some(r) => {
                    numbers(r).ok_or_else(|| format!("{line}: \"runs\" is not an array of numbers"))?
                }
            },
            chunk_secs,
            steps: v.get("steps").and_then(Value::as_u64).map(|s| s as usize),
            peak_rss_mb: number("peak_rss_mb"),
            flops_per_sample: number("flops_per_sample"),
            version: ["gemm_backend", "version"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
                .map(str::to_string),
        })
    }
}

/// Whether a failed process' standard error says it does not know the option `flag`
/// (lexopt's `invalid option '--x'`, argparse's `unrecognized arguments: --x`, or any
/// message naming the flag as unknown/unexpected).
pub fn rejects_flag(stderr: &str, flag: &str) -> bool {
    stderr.lines().any(|l| {
        let l = l.to_lowercase();
        l.contains(flag)
            && ["invalid option", "unknown", "unexpected", "unrecognized"]
                .iter()
                .any(|w| l.contains(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"framework":"neurite","model":"cnn-train","batch":32,"samples_per_sec":1000.0,"runs":[990.0,1010.0],"peak_rss_mb":27.5,"steps":64,"threads":2,"flops_per_sample":16765440,"gemm_backend":"gemm"}"#;

    #[test]
    fn parses_the_last_json_line() {
        let r = E2eResult::from_output(&format!("noise\n{LINE}\n")).unwrap();
        assert_eq!(
            (r.framework.as_str(), r.model.as_str(), r.batch),
            ("neurite", "cnn-train", 32)
        );
        assert_eq!(r.runs, [990.0, 1010.0]);
        assert_eq!(r.peak_rss_mb, Some(27.5));
        assert_eq!(r.steps, Some(64));
        assert_eq!(r.version.as_deref(), Some("gemm"));
        assert!(r.chunk_secs.is_empty());
        let py = r#"{"framework": "pytorch", "model": "mlp-train", "batch": 32, "samples_per_sec": 7619.9}"#;
        let p = E2eResult::from_output(py).unwrap();
        assert_eq!((p.peak_rss_mb, p.flops_per_sample, p.steps), (None, None, None));
        assert!(E2eResult::from_output("no json").is_err());
        assert!(E2eResult::from_output(r#"{"framework":"x"}"#).is_err());
    }

    #[test]
    fn parses_the_line_serde_json_writes_in_the_e2e_binary() {
        // As printed by `e2e --workload mlp-train --batch 32 --steps 4` (serde_json writes
        // f64 fields with a fraction and a missing peak as null).
        let line = r#"{"framework":"neurite","model":"mlp-train","batch":32,"samples_per_sec":127970.8,"runs":[127970.8],"peak_rss_mb":null,"steps":4,"threads":2,"flops_per_sample":42240.0,"gemm_backend":"gemm"}"#;
        let r = E2eResult::from_output(line).unwrap();
        assert_eq!(
            (r.model.as_str(), r.batch, r.peak_rss_mb),
            ("mlp-train", 32, None)
        );
        assert_eq!(r.flops_per_sample, Some(42240.0));
        assert_eq!(r.runs, [127970.8]);
    }

    #[test]
    fn parses_the_chunk_times_of_the_reference_scripts() {
        // As printed by `torch_workloads.py --workload mlp-train --batch 32 --steps 8 --repeats 2`.
        let line = r#"{"framework": "pytorch-bf16", "model": "mlp-train", "batch": 32, "samples_per_sec": 9000.0, "runs": [9100.0, 8900.0], "chunk_secs": [[0.01, 0.011, 0.0105, 0.012], [0.0101, 0.01, 0.01, 0.0102]], "peak_rss_mb": 400.0, "steps": 8, "threads": 2, "dtype_policy": "mixed_bfloat16", "version": "2.15.0"}"#;
        let r = E2eResult::from_output(line).unwrap();
        assert_eq!(r.chunk_secs.len(), 2);
        assert_eq!(r.chunk_secs[0], [0.01, 0.011, 0.0105, 0.012]);
        assert_eq!(r.version.as_deref(), Some("2.15.0"));
        let bad = line.replace("[[0.01, 0.011", "[[\"x\", 0.011");
        let e = E2eResult::from_output(&bad).unwrap_err();
        assert!(e.contains("chunk_secs"), "{e}");
        let bad = line.replace("\"runs\": [9100.0", "\"runs\": [null");
        assert!(E2eResult::from_output(&bad).unwrap_err().contains("runs"));
    }

    #[test]
    fn recognises_a_rejected_flag() {
        // lexopt, as the e2e binary prints it before the flag exists.
        let lexopt = "e2e: invalid option '--dtype-policy'\nusage: e2e --workload ...";
        assert!(rejects_flag(lexopt, "--dtype-policy"));
        let argparse = "error: unrecognized arguments: --dtype-policy mixed_bfloat16";
        assert!(rejects_flag(argparse, "--dtype-policy"));
        // A failure that merely mentions the flag (e.g. a bad value) is not a rejection of it,
        // nor is an unknown *other* option.
        assert!(!rejects_flag(
            "e2e: --dtype-policy: expected float32 or mixed_bfloat16",
            "--dtype-policy"
        ));
        assert!(!rejects_flag("e2e: invalid option '--steps'", "--dtype-policy"));
        assert!(!rejects_flag("", "--dtype-policy"));
    }
}
