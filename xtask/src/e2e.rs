//! `cargo xtask bench --e2e` and `cargo xtask bench --compare --python PATH` (issue 9).
//!
//! **`--e2e`** builds neurite's `e2e` binary (`benches/src/bin/e2e.rs`) in release
//! (`cargo build --release -p neurite-benches --bin e2e [--features F]`), runs each of
//! the five workloads of [`RUNS`] as its own child process (so the peak resident set it
//! reports belongs to that workload alone) with 2 threads (`RAYON_NUM_THREADS`,
//! `MATMUL_NUM_THREADS`, `OPENBLAS_NUM_THREADS`, `OMP_NUM_THREADS` = 2 and `--threads
//! 2`), prints a table (median samples/s, spread of the timed runs, GFLOP/s and share
//! of the machine's peak [`PEAK_GFLOPS`], peak memory, and the ratio to the best of the
//! numbers to beat of the issue, [`ISSUE_BEST`]) and merges records into
//! `<target>/bench-report.json`: existing records whose name starts with `e2e/` are
//! replaced, all others (the criterion micro-benchmarks) are kept. Record names:
//! `e2e/<workload>/b<batch>/samples_per_sec` (unit `samples/s`), `.../gflops`
//! (`GFLOP/s`) and `.../peak_rss_mb` (`MiB`).
//!
//! **`--compare --python PATH`** does the same, then runs the same five workloads from
//! `benches/reference/` with that Python interpreter: `torch_workloads.py` (PyTorch) and
//! `keras_workloads.py` with `KERAS_BACKEND=tensorflow` and `=jax`, each workload again
//! in its own process, and prints neurite's ratio to each framework (samples/s and peak
//! memory). A framework whose script fails (package not installed, ...) is reported
//! and skipped. Its records go to the report as `e2e-ref/<framework>/<workload>/
//! b<batch>/{samples_per_sec,peak_rss_mb}`. Not part of CI.
//!
//! With `--quick`, each workload is timed once after one warm-up run (smoke test, not
//! for publishing).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `(workload, batch)` pairs of the issue, in the order of its table.
pub const RUNS: [(&str, usize); 5] = [
    ("cnn-train", 32),
    ("cnn-train", 128),
    ("cnn-predict", 256),
    ("mlp-train", 32),
    ("lstm-train", 32),
];

/// Threads given to every benchmark process.
pub const THREADS: usize = 2;

/// f32 peak of the reference machine (2 cores of an AMD EPYC with AVX2 + FMA), GFLOP/s.
pub const PEAK_GFLOPS: f64 = 200.0;

/// The issue's numbers to beat (median samples/s measured on the 2-core machine):
/// `(workload, batch, TensorFlow 2.21, PyTorch 2.15, JAX 0.10 with Keras 3)`.
pub const ISSUE_BEST: [(&str, usize, f64, f64, f64); 5] = [
    ("cnn-train", 32, 2003.0, 1654.0, 1589.0),
    ("cnn-train", 128, 1454.0, 1970.0, 933.0),
    ("cnn-predict", 256, 5481.0, 6826.0, 12893.0),
    ("mlp-train", 32, 19935.0, 33755.0, 60012.0),
    ("lstm-train", 32, 4624.0, 5508.0, 7182.0),
];

/// The best of the issue's three reference numbers for a workload, if it has one.
pub fn issue_best(workload: &str, batch: usize) -> Option<f64> {
    ISSUE_BEST
        .iter()
        .find(|r| r.0 == workload && r.1 == batch)
        .map(|r| r.2.max(r.3).max(r.4))
}

/// What `cargo xtask bench` passes on to the end-to-end run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct E2eConfig {
    /// Cargo features for the e2e binary (e.g. `openblas`).
    pub features: Vec<String>,
    /// One timed run after one warm-up.
    pub quick: bool,
    /// Also run the Python references and compare.
    pub compare: bool,
    /// The Python interpreter of an environment with torch, tensorflow-cpu, jax, keras.
    pub python: Option<PathBuf>,
}

/// One result line of a benchmark process (neurite's or a reference's).
#[derive(Debug, Clone, PartialEq)]
pub struct E2eResult {
    /// `neurite`, `pytorch`, `keras-tensorflow`, `keras-jax`.
    pub framework: String,
    /// Workload name, e.g. `cnn-train`.
    pub model: String,
    /// Batch size.
    pub batch: usize,
    /// Median samples per second.
    pub samples_per_sec: f64,
    /// Samples per second of every timed run.
    pub runs: Vec<f64>,
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
        Ok(E2eResult {
            framework: text("framework")?,
            model: text("model")?,
            batch: v
                .get("batch")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{line}: no integer field \"batch\""))? as usize,
            samples_per_sec: number("samples_per_sec")
                .ok_or_else(|| format!("{line}: no number field \"samples_per_sec\""))?,
            runs: v
                .get("runs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
            peak_rss_mb: number("peak_rss_mb"),
            flops_per_sample: number("flops_per_sample"),
            version: ["gemm_backend", "version"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
                .map(str::to_string),
        })
    }

    /// GFLOP/s at the median rate, when the FLOPs per sample are known.
    pub fn gflops(&self) -> Option<f64> {
        self.flops_per_sample.map(|f| f * self.samples_per_sec / 1e9)
    }

    fn key(&self) -> String {
        format!("{}/b{}", self.model, self.batch)
    }
}

/// The `bench-report.json` records of neurite's results and of the references'.
pub fn report_records(results: &[E2eResult]) -> Vec<Value> {
    let mut recs = Vec::new();
    for r in results {
        let prefix = if r.framework == "neurite" {
            format!("e2e/{}", r.key())
        } else {
            format!("e2e-ref/{}/{}", r.framework, r.key())
        };
        recs.push(json!({"name": format!("{prefix}/samples_per_sec"), "value": r.samples_per_sec, "unit": "samples/s"}));
        if let Some(g) = r.gflops() {
            recs.push(json!({"name": format!("{prefix}/gflops"), "value": g, "unit": "GFLOP/s"}));
        }
        if let Some(m) = r.peak_rss_mb {
            recs.push(json!({"name": format!("{prefix}/peak_rss_mb"), "value": m, "unit": "MiB"}));
        }
    }
    recs
}

/// Merges `new` into the report array `old` (if any): records named `e2e/...` or
/// `e2e-ref/...` are replaced, everything else is kept in place.
pub fn merge_report(old: Option<Value>, new: Vec<Value>) -> Value {
    let mut kept: Vec<Value> = match old {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter(|r| {
                let name = r.get("name").and_then(Value::as_str).unwrap_or("");
                !(name.starts_with("e2e/") || name.starts_with("e2e-ref/"))
            })
            .collect(),
        _ => Vec::new(),
    };
    kept.extend(new);
    Value::Array(kept)
}

fn thread_env(cmd: &mut Command) {
    for var in [
        "RAYON_NUM_THREADS",
        "MATMUL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
    ] {
        cmd.env(var, THREADS.to_string());
    }
}

/// Runs one benchmark process and parses its line; the error names the command.
fn run_child(mut cmd: Command) -> Result<E2eResult, String> {
    eprintln!("xtask: running {cmd:?}");
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("{cmd:?} failed ({}):\n{}", out.status, tail.join("\n")));
    }
    E2eResult::from_output(&String::from_utf8_lossy(&out.stdout))
}

fn repeat_args(cmd: &mut Command, quick: bool) {
    if quick {
        cmd.args(["--warmup", "1", "--repeats", "1"]);
    }
}

/// Builds the e2e binary and runs the five workloads with it.
fn run_neurite(root: &Path, target: &Path, cfg: &E2eConfig) -> Result<Vec<E2eResult>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args(["build", "--release", "-p", "neurite-benches", "--bin", "e2e"]);
    for f in &cfg.features {
        build.args(["--features", f]);
    }
    eprintln!("xtask: running {build:?}");
    let status = build.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the e2e binary failed ({status})"));
    }
    let exe = target
        .join("release")
        .join(format!("e2e{}", std::env::consts::EXE_SUFFIX));
    let mut results = Vec::new();
    for (workload, batch) in RUNS {
        let mut cmd = Command::new(&exe);
        cmd.args(["--workload", workload, "--batch", &batch.to_string()])
            .args(["--threads", &THREADS.to_string()]);
        repeat_args(&mut cmd, cfg.quick);
        thread_env(&mut cmd);
        results.push(run_child(cmd)?);
    }
    Ok(results)
}

/// The reference frameworks: `(name, script, KERAS_BACKEND)`.
const REFERENCES: [(&str, &str, Option<&str>); 3] = [
    ("pytorch", "torch_workloads.py", None),
    ("keras-tensorflow", "keras_workloads.py", Some("tensorflow")),
    ("keras-jax", "keras_workloads.py", Some("jax")),
];

/// Runs the Python references; a framework that fails is reported and skipped.
fn run_references(root: &Path, python: &Path, quick: bool) -> Vec<E2eResult> {
    let dir = root.join("benches").join("reference");
    let mut results = Vec::new();
    for (framework, script, backend) in REFERENCES {
        for (workload, batch) in RUNS {
            let mut cmd = Command::new(python);
            cmd.current_dir(&dir)
                .arg(script)
                .args(["--workload", workload, "--batch", &batch.to_string()])
                .args(["--threads", &THREADS.to_string()]);
            repeat_args(&mut cmd, quick);
            thread_env(&mut cmd);
            if let Some(b) = backend {
                cmd.env("KERAS_BACKEND", b);
            }
            match run_child(cmd) {
                Ok(r) => results.push(r),
                Err(e) => {
                    eprintln!("xtask: skipping {framework}: {e}");
                    break;
                }
            }
        }
    }
    results
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_else(|| "-".into())
}

/// The table of neurite's results.
pub fn neurite_table(results: &[E2eResult]) -> String {
    let mut s = format!(
        "{:<12} {:>5} {:>11} {:>19} {:>8} {:>7} {:>9} {:>11}\n",
        "workload", "batch", "samples/s", "runs min..max", "GFLOP/s", "% peak", "peak MiB", "x best(9)"
    );
    s.push_str(&"-".repeat(90));
    s.push('\n');
    for r in results {
        let lo = r.runs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.runs.iter().copied().fold(0.0, f64::max);
        let spread = if r.runs.is_empty() {
            "-".to_string()
        } else {
            format!("{lo:.0}..{hi:.0}")
        };
        let g = r.gflops();
        s.push_str(&format!(
            "{:<12} {:>5} {:>11.1} {:>19} {:>8} {:>7} {:>9} {:>11}\n",
            r.model,
            r.batch,
            r.samples_per_sec,
            spread,
            fmt_opt(g, 1),
            fmt_opt(g.map(|g| 100.0 * g / PEAK_GFLOPS), 1),
            fmt_opt(r.peak_rss_mb, 1),
            fmt_opt(issue_best(&r.model, r.batch).map(|b| r.samples_per_sec / b), 2),
        ));
    }
    s
}

/// The comparison table: for every workload and reference framework, the reference's
/// samples/s and peak memory and neurite's ratios to them.
pub fn compare_table(neurite: &[E2eResult], refs: &[E2eResult]) -> String {
    let mut s = format!(
        "{:<12} {:>5} {:<17} {:>11} {:>11} {:>8} {:>9} {:>9}\n",
        "workload", "batch", "framework", "samples/s", "neurite", "ratio", "peak MiB", "neurite"
    );
    s.push_str(&"-".repeat(90));
    s.push('\n');
    for n in neurite {
        for r in refs.iter().filter(|r| r.model == n.model && r.batch == n.batch) {
            s.push_str(&format!(
                "{:<12} {:>5} {:<17} {:>11.1} {:>11.1} {:>7.2}x {:>9} {:>9}\n",
                n.model,
                n.batch,
                r.framework,
                r.samples_per_sec,
                n.samples_per_sec,
                n.samples_per_sec / r.samples_per_sec,
                fmt_opt(r.peak_rss_mb, 1),
                fmt_opt(n.peak_rss_mb, 1),
            ));
        }
    }
    s
}

/// `cargo xtask bench --e2e` / `--compare`: see the [module documentation](self).
pub fn run(root: &Path, target: &Path, cfg: &E2eConfig) -> Result<(), String> {
    let python = if cfg.compare {
        let p = cfg.python.clone().ok_or(
            "--compare needs --python PATH, the interpreter of an environment with torch, \
             tensorflow-cpu, jax and keras (see benches/reference/README.md)",
        )?;
        Some(p)
    } else {
        None
    };
    let neurite = run_neurite(root, target, cfg)?;
    let backend = neurite
        .first()
        .and_then(|r| r.version.clone())
        .unwrap_or_default();
    println!(
        "\nneurite end-to-end ({THREADS} threads, GEMM backend {backend}; \
         x best(9) = ratio to the best of issue 9's table)\n"
    );
    print!("{}", neurite_table(&neurite));
    let mut all = neurite.clone();
    if let Some(python) = python {
        let refs = run_references(root, &python, cfg.quick);
        if refs.is_empty() {
            return Err(format!("no reference framework ran with {}", python.display()));
        }
        println!("\nneurite vs references (ratio = neurite / framework samples/s)\n");
        let mut seen = Vec::new();
        for r in &refs {
            if !seen.contains(&r.framework) {
                println!("  {}: {}", r.framework, r.version.as_deref().unwrap_or("?"));
                seen.push(r.framework.clone());
            }
        }
        println!();
        print!("{}", compare_table(&neurite, &refs));
        all.extend(refs);
    }
    let report = target.join("bench-report.json");
    let old = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let merged = merge_report(old, report_records(&all));
    let text = serde_json::to_string_pretty(&merged).expect("JSON values serialise");
    std::fs::write(&report, text + "\n").map_err(|e| format!("writing {}: {e}", report.display()))?;
    println!("\nxtask: end-to-end records merged into {}", report.display());
    Ok(())
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
        assert_eq!(r.version.as_deref(), Some("gemm"));
        assert!((r.gflops().unwrap() - 16.76544).abs() < 1e-9);
        let py = r#"{"framework": "pytorch", "model": "mlp-train", "batch": 32, "samples_per_sec": 7619.9}"#;
        let p = E2eResult::from_output(py).unwrap();
        assert_eq!((p.peak_rss_mb, p.gflops()), (None, None));
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
    fn records_and_merge_keep_other_benchmarks() {
        let n = E2eResult::from_output(LINE).unwrap();
        let mut p = n.clone();
        p.framework = "pytorch".into();
        p.flops_per_sample = None;
        let recs = report_records(&[n, p]);
        let names: Vec<&str> = recs.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "e2e/cnn-train/b32/samples_per_sec",
                "e2e/cnn-train/b32/gflops",
                "e2e/cnn-train/b32/peak_rss_mb",
                "e2e-ref/pytorch/cnn-train/b32/samples_per_sec",
                "e2e-ref/pytorch/cnn-train/b32/peak_rss_mb",
            ]
        );
        let old = json!([
            {"name": "sgemm/1024", "value": 1.0, "unit": "ns"},
            {"name": "e2e/cnn-train/b32/samples_per_sec", "value": 5.0, "unit": "samples/s"},
        ]);
        let merged = merge_report(Some(old), recs);
        let merged = merged.as_array().unwrap();
        assert_eq!(merged.len(), 6);
        assert_eq!(merged[0]["name"], "sgemm/1024");
        assert_eq!(merged[1]["value"], 1000.0);
        assert_eq!(merge_report(None, vec![]).as_array().unwrap().len(), 0);
    }

    #[test]
    fn issue_numbers_and_tables() {
        assert_eq!(issue_best("cnn-predict", 256), Some(12893.0));
        assert_eq!(issue_best("cnn-train", 128), Some(1970.0));
        assert_eq!(issue_best("cnn-train", 64), None);
        let n = E2eResult::from_output(LINE).unwrap();
        let t = neurite_table(std::slice::from_ref(&n));
        assert!(
            t.contains("990..1010") && t.contains("16.8") && t.contains("8.4"),
            "{t}"
        );
        let mut p = n.clone();
        p.framework = "pytorch".into();
        p.samples_per_sec = 500.0;
        let c = compare_table(&[n], &[p]);
        assert!(c.contains("pytorch") && c.contains("2.00x"), "{c}");
    }

    #[test]
    fn compare_without_python_is_a_clear_error() {
        let cfg = E2eConfig {
            compare: true,
            ..E2eConfig::default()
        };
        let e = run(Path::new("/nonexistent"), Path::new("/nonexistent"), &cfg).unwrap_err();
        assert!(e.contains("--python"), "{e}");
    }
}
