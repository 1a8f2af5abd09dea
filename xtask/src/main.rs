//! Project automation, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! ## `cargo xtask bench [--quick] [--features F] [-- <criterion args / filter>]`
//!
//! 1. Runs `cargo bench -p neurite-benches --bench '*' [--features F] -- [--quick] [args]`: every
//!    criterion bench file of `benches/benches/` (new files are picked up by cargo; no
//!    list is kept here). `--quick` is criterion's own quick mode (few samples, short
//!    measurement): for smoke runs, not for numbers you publish.
//! 2. Reads back what criterion wrote under `<target>/criterion/`: for every benchmark
//!    directory holding `new/estimates.json` (median point estimate, in ns) and
//!    `new/benchmark.json` (its full id and declared throughput) **updated by this run**
//!    (older results of benchmarks filtered out are skipped).
//! 3. Prints a table and writes `<target>/bench-report.json`: a JSON array of
//!    `{"name": ..., "value": ..., "unit": ...}` records, one `"ns"` record (median time)
//!    per benchmark plus one throughput record when the benchmark declared one.
//!
//! **Throughput convention**: neurite's benches declare `Throughput::Elements(n)` with
//! `n` = the number of floating-point operations of one iteration (e.g. `2*m*n*k` for a
//! GEMM), so elements per second are reported as **GFLOP/s** (`n / median_ns`).
//! `Throughput::Bytes` is reported as GB/s. A benchmark without throughput gets only
//! its time.
//!
//! ## `cargo xtask check-docs [DOC.md ...]`
//!
//! Compiles every Rust block of `README.md` and `docs/*.md` with exactly the dependencies
//! the doc tells its reader to add. See the [`check_docs`] module.
//!
//! ## `cargo xtask bench --e2e [--features F] [--quick]` and `--compare --python PATH`
//!
//! End-to-end training/inference of the seed models instead of the criterion benches:
//! runs of at least 16,384 samples after a warm-up of the same length, `--rounds 2` x
//! `--repeats 3` per framework, frameworks interleaved per workload, spread and a
//! slowdown check reported (options `--rounds --repeats --warmup --samples --workloads
//! --frameworks`); results merged into the same `bench-report.json`. See the [`e2e`]
//! module.

mod check_docs;
mod e2e;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::SystemTime;

const USAGE: &str = "usage: cargo xtask bench [--quick] [--features F] [-- <criterion args/filter>]
       cargo xtask bench --e2e|--compare --python PATH [--quick] [--features F] [--rounds R]
             [--repeats N] [--warmup W] [--samples S] [--workloads W,..] [--frameworks F,..]
       cargo xtask check-docs [DOC.md ...]";

/// Options of `cargo xtask bench`.
#[derive(Debug, Default, PartialEq)]
struct BenchArgs {
    quick: bool,
    features: Vec<String>,
    e2e: bool,
    /// Also run the Python references of `benches/reference/` (implies `--e2e`).
    compare: bool,
    /// Python interpreter for `--compare`.
    python: Option<String>,
    /// `--rounds`, `--repeats`, `--warmup`, `--samples` of the end-to-end run.
    rounds: Option<usize>,
    repeats: Option<usize>,
    warmup: Option<usize>,
    samples: Option<usize>,
    /// `--workloads a,b` / `--frameworks a,b` of the end-to-end run.
    workloads: Vec<String>,
    frameworks: Vec<String>,
    passthrough: Vec<String>,
}

/// The value after `flag` as a count.
fn count(flag: &str, value: Option<&String>) -> Result<Option<usize>, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a number"))?;
    v.parse()
        .map(Some)
        .map_err(|_| format!("{flag}: expected a whole number, found {v:?}"))
}

/// The comma-separated list after `flag`.
fn list(flag: &str, value: Option<&String>) -> Result<Vec<String>, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a comma-separated list"))?;
    Ok(v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

fn parse_bench_args(args: &[String]) -> Result<BenchArgs, String> {
    let mut out = BenchArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => out.quick = true,
            "--e2e" => out.e2e = true,
            "--compare" => out.compare = true,
            "--python" => out.python = Some(it.next().ok_or("--python needs a path")?.clone()),
            "--rounds" => out.rounds = count(a, it.next())?,
            "--repeats" => out.repeats = count(a, it.next())?,
            "--warmup" => out.warmup = count(a, it.next())?,
            "--samples" => out.samples = count(a, it.next())?,
            "--workloads" => out.workloads.extend(list(a, it.next())?),
            "--frameworks" => out.frameworks.extend(list(a, it.next())?),
            "--features" => {
                let f = it
                    .next()
                    .ok_or("--features needs a value, e.g. --features openblas")?;
                out.features.push(f.clone());
            }
            "--" => {
                out.passthrough.extend(it.by_ref().cloned());
            }
            s if s.starts_with("--features=") => out.features.push(s["--features=".len()..].to_string()),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(out)
}

/// One benchmark result read back from criterion's output.
#[derive(Debug, Clone, PartialEq)]
struct BenchResult {
    name: String,
    median_ns: f64,
    /// `(amount per iteration, kind)`, kind `"flops"` (from `Elements`) or `"bytes"`.
    throughput: Option<(f64, &'static str)>,
}

impl BenchResult {
    /// The throughput record: `(value, unit)`.
    fn rate(&self) -> Option<(f64, &'static str)> {
        self.throughput.map(|(amount, kind)| {
            // amount / ns = G-amount / s
            let unit = if kind == "flops" { "GFLOP/s" } else { "GB/s" };
            (amount / self.median_ns, unit)
        })
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

fn parse_throughput(t: &Value) -> Option<(f64, &'static str)> {
    let obj = t.as_object()?;
    if let Some(n) = obj.get("Elements").and_then(Value::as_f64) {
        return Some((n, "flops"));
    }
    if let Some(n) = obj
        .get("ElementsAndBytes")
        .and_then(|v| v.get("elements"))
        .and_then(Value::as_f64)
    {
        return Some((n, "flops"));
    }
    for key in ["Bytes", "BytesDecimal"] {
        if let Some(n) = obj.get(key).and_then(Value::as_f64) {
            return Some((n, "bytes"));
        }
    }
    None
}

/// Reads one criterion benchmark directory (the one holding `new/`).
fn read_bench_dir(dir: &Path) -> Result<BenchResult, String> {
    let est = read_json(&dir.join("new/estimates.json"))?;
    let meta = read_json(&dir.join("new/benchmark.json"))?;
    let median_ns = est
        .pointer("/median/point_estimate")
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("{}: no median/point_estimate", dir.display()))?;
    let name = meta
        .get("full_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| dir.display().to_string());
    let throughput = meta.get("throughput").and_then(parse_throughput);
    Ok(BenchResult {
        name,
        median_ns,
        throughput,
    })
}

/// Every benchmark under `root` (criterion's directory) whose `new/estimates.json` was
/// modified at or after `since` (all of them when `since` is `None`), sorted by name.
fn collect_results(root: &Path, since: Option<SystemTime>) -> Result<Vec<BenchResult>, String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let est = path.join("new/estimates.json");
            if est.is_file() && path.join("new/benchmark.json").is_file() {
                let fresh = match since {
                    None => true,
                    Some(t) => std::fs::metadata(&est)
                        .and_then(|m| m.modified())
                        .map(|m| m >= t)
                        .unwrap_or(false),
                };
                if fresh {
                    out.push(read_bench_dir(&path)?);
                }
            } else if path.file_name().is_some_and(|n| n != "report") {
                stack.push(path);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The `bench-report.json` records: one `"ns"` record per benchmark plus its rate.
fn report_records(results: &[BenchResult]) -> Value {
    let mut recs = Vec::new();
    for r in results {
        recs.push(json!({"name": r.name, "value": r.median_ns, "unit": "ns"}));
        if let Some((v, unit)) = r.rate() {
            recs.push(json!({"name": r.name, "value": v, "unit": unit}));
        }
    }
    Value::Array(recs)
}

fn human_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn print_table(results: &[BenchResult]) {
    let w = results.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:<w$}  {:>12}  {:>14}", "name", "median", "throughput");
    println!("{}", "-".repeat(w + 30));
    for r in results {
        let rate = r.rate().map(|(v, u)| format!("{v:.2} {u}")).unwrap_or_default();
        println!("{:<w$}  {:>12}  {:>14}", r.name, human_time(r.median_ns), rate);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

fn bench(args: &[String]) -> Result<(), String> {
    let opts = parse_bench_args(args)?;
    let root = workspace_root();
    let target = target_dir(&root);
    if opts.e2e || opts.compare {
        let cfg = e2e::E2eConfig {
            features: opts.features,
            quick: opts.quick,
            compare: opts.compare,
            python: opts.python.map(PathBuf::from),
            rounds: opts.rounds,
            repeats: opts.repeats,
            warmup: opts.warmup,
            samples: opts.samples,
            workloads: opts.workloads,
            frameworks: opts.frameworks,
        };
        return e2e::run(&root, &target, &cfg);
    }
    // Criterion writes estimates after this instant; a 2 s margin covers coarse mtimes.
    let start = SystemTime::now() - std::time::Duration::from_secs(2);

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // `--bench '*'`: every bench target (not the lib's unit tests, whose libtest harness
    // would reject criterion's options such as `--quick`).
    cmd.current_dir(&root)
        .args(["bench", "-p", "neurite-benches", "--bench", "*"]);
    for f in &opts.features {
        cmd.args(["--features", f]);
    }
    cmd.arg("--");
    if opts.quick {
        cmd.arg("--quick");
    }
    cmd.args(&opts.passthrough);
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo bench failed ({status})"));
    }

    let results = collect_results(&target.join("criterion"), Some(start))?;
    if results.is_empty() {
        return Err(format!(
            "no criterion results updated under {} (did the filter match any benchmark?)",
            target.join("criterion").display()
        ));
    }
    print_table(&results);
    let report = target.join("bench-report.json");
    let text = serde_json::to_string_pretty(&report_records(&results)).expect("JSON values serialise");
    std::fs::write(&report, text + "\n").map_err(|e| format!("writing {}: {e}", report.display()))?;
    println!(
        "\nxtask: {} benchmarks, report written to {}",
        results.len(),
        report.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..]),
        Some("check-docs") => check_docs::run(&args[1..]),
        Some(other) => Err(format!("unknown task {other:?}\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_flags_features_and_passthrough() {
        let a = parse_bench_args(&s(&[
            "--quick",
            "--features",
            "openblas",
            "--",
            "gemm",
            "--exact",
        ]))
        .unwrap();
        assert_eq!(
            a,
            BenchArgs {
                quick: true,
                features: vec!["openblas".into()],
                passthrough: s(&["gemm", "--exact"]),
                ..BenchArgs::default()
            }
        );
        assert_eq!(
            parse_bench_args(&s(&["--features=x"])).unwrap().features,
            vec!["x".to_string()]
        );
        assert!(parse_bench_args(&s(&["--features"])).is_err());
        assert!(parse_bench_args(&s(&["--bogus"])).is_err());
    }

    #[test]
    fn parses_e2e_and_compare() {
        let a = parse_bench_args(&s(&["--e2e", "--compare", "--python", "/v/bin/python"])).unwrap();
        assert!(a.e2e && a.compare);
        assert_eq!(a.python.as_deref(), Some("/v/bin/python"));
        assert!(parse_bench_args(&s(&["--python"])).is_err());
        let a = parse_bench_args(&s(&[
            "--compare",
            "--rounds",
            "3",
            "--repeats",
            "5",
            "--warmup",
            "2",
            "--samples",
            "4096",
            "--workloads",
            "cnn-train/b32, lstm-train",
            "--frameworks",
            "neurite,pytorch-bf16",
        ]))
        .unwrap();
        assert_eq!(
            (a.rounds, a.repeats, a.warmup, a.samples),
            (Some(3), Some(5), Some(2), Some(4096))
        );
        assert_eq!(a.workloads, s(&["cnn-train/b32", "lstm-train"]));
        assert_eq!(a.frameworks, s(&["neurite", "pytorch-bf16"]));
        let e = parse_bench_args(&s(&["--rounds", "two"])).unwrap_err();
        assert!(e.contains("--rounds") && e.contains("\"two\""), "{e}");
        assert!(parse_bench_args(&s(&["--samples"])).is_err());
        assert!(parse_bench_args(&s(&["--workloads"])).is_err());
        let e = bench(&s(&["--compare"])).unwrap_err();
        assert!(e.contains("--python"), "{e}");
    }

    fn write_bench(root: &Path, dir: &str, full_id: &str, median: f64, throughput: Value) {
        let d = root.join(dir).join("new");
        std::fs::create_dir_all(&d).unwrap();
        let est = json!({"mean": {"point_estimate": median * 1.1}, "median": {"point_estimate": median}});
        std::fs::write(d.join("estimates.json"), est.to_string()).unwrap();
        let meta = json!({"group_id": "g", "full_id": full_id, "throughput": throughput});
        std::fs::write(d.join("benchmark.json"), meta.to_string()).unwrap();
    }

    #[test]
    fn collects_criterion_results_and_computes_gflops() {
        let root = std::env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        write_bench(
            &root,
            "sgemm_square/1024",
            "sgemm_square/1024",
            2.0e7,
            json!({"Elements": 2147483648u64}),
        );
        write_bench(&root, "other/plain", "other/plain", 500.0, Value::Null);
        write_bench(&root, "io/read", "io/read", 1000.0, json!({"Bytes": 4000}));
        // criterion's HTML report directory is not a benchmark.
        std::fs::create_dir_all(root.join("report")).unwrap();

        let results = collect_results(&root, None).unwrap();
        let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["io/read", "other/plain", "sgemm_square/1024"]);
        let (gflops, unit) = results[2].rate().unwrap();
        assert_eq!(unit, "GFLOP/s");
        assert!((gflops - 107.374_182_4).abs() < 1e-6, "{gflops}");
        assert_eq!(results[0].rate(), Some((4.0, "GB/s")));

        let recs = report_records(&results);
        let recs = recs.as_array().unwrap();
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[4]["name"], "sgemm_square/1024");
        assert_eq!(recs[4]["unit"], "GFLOP/s");
        assert_eq!(recs[3]["unit"], "ns");
        assert_eq!(recs[3]["value"], 2.0e7);

        // Results older than `since` are skipped.
        let later = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(collect_results(&root, Some(later)).unwrap().is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn human_times() {
        assert_eq!(human_time(12.0), "12.0 ns");
        assert_eq!(human_time(1.5e6), "1.500 ms");
    }
}
