//! `cargo xtask bench --e2e` and `cargo xtask bench --compare --python PATH` (issues 9, 22).
//!
//! **What runs.** The ten workloads of [`plan::RUNS`] (issue 9's five, issue 16's
//! `resnet-train/b64` and `resnet-predict/b256`, issue 17's `text-conv-train/b32`,
//! `bilstm-train/b32` and `transformer-train/b32`; filter with `--workloads`). For each
//! workload, `--rounds R` rounds (default 2); in each round every row runs once, in the
//! order of [`plan::ROWS`] — neurite, pytorch, keras-tensorflow, keras-jax,
//! pytorch-bf16, keras-tensorflow-mixed_bfloat16, keras-jax-mixed_bfloat16,
//! neurite-bf16 — so the frameworks of a workload are interleaved and a change in the
//! machine's load hits them alike. `--e2e` runs neurite's two rows, `--compare` all
//! (filter with `--frameworks`). Each run of a row is its own child process (the peak
//! resident set it reports belongs to that workload alone) with 2 threads
//! (`RAYON_NUM_THREADS`, `MATMUL_NUM_THREADS`, `OPENBLAS_NUM_THREADS`,
//! `OMP_NUM_THREADS` = 2 and `--threads 2`).
//!
//! **How long.** Every process runs `--warmup W` (default 1) discarded runs, then
//! `--repeats N` (default 3) timed runs, each of `--steps ceil(S / batch)` batches with
//! `S = --samples` (default [`plan::DEFAULT_SAMPLES`] = 16,384; `mlp-train` 4x as many,
//! [`plan::MLP_FACTOR`]): the steady state after a warm-up of the same length, not the
//! first steps. A training run is one long `fit`/epoch loop, a prediction run one
//! `predict` pass. `--quick` (smoke test, not for publishing) is 1 round, 1 warm-up,
//! 1 repeat, 2,048 samples, unless those options are given too.
//!
//! **Rows.** neurite's `e2e` binary (`benches/src/bin/e2e.rs`, built with `cargo build
//! --release -p neurite-benches --bin e2e [--features F]`); `neurite-bf16` is the same
//! binary with `--dtype-policy mixed_bfloat16`: if the binary rejects that flag (an
//! older e2e), the row is skipped with a printed note. The references are
//! `benches/reference/torch_workloads.py` and `keras_workloads.py`
//! (`KERAS_BACKEND=tensorflow`, `=jax`) with the interpreter given by `--python`, at
//! float32 and with `--dtype-policy mixed_bfloat16` (PyTorch CPU autocast, Keras'
//! `mixed_bfloat16` policy). A reference row that fails (package not installed, ...) is
//! reported and skipped for the rest of the run; neurite's float32 row failing is an
//! error.
//!
//! **What is reported.** Per row and workload: the median samples/s over all `R x N`
//! runs, min..max, each round's median, and the slowdown check of [`stats`] (each
//! run's last chunk against its first when the process reports `chunk_secs`, else a
//! process' last run against its first; flagged when > 10% slower in every round: a
//! `WARNING:` line and `SLOW` in the tables). Tables: neurite's rows (with GFLOP/s, share
//! of [`table::PEAK_GFLOPS`], peak memory, ratio to [`table::ISSUE_BEST`]), then with
//! `--compare` every row with neurite's and neurite-bf16's ratio to it (each
//! workload's rows are also printed as soon as its rounds are done). Records are
//! merged into `<target>/bench-report.json` (see [`measured::report_records`]; the
//! records of the rows and workloads that ran replace their old ones, all others are
//! kept). Not part of CI.

mod measured;
mod plan;
mod result;
mod stats;
mod table;

use measured::{merge_report, report_records, Measured};
use plan::{Row, RunLength};
use result::{rejects_flag, E2eResult};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `cargo xtask bench` passes on to the end-to-end run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct E2eConfig {
    /// Cargo features for the e2e binary (e.g. `openblas`).
    pub features: Vec<String>,
    /// Smoke-test defaults: 1 round, 1 warm-up, 1 repeat, 2,048 samples.
    pub quick: bool,
    /// Also run the Python references and compare.
    pub compare: bool,
    /// The Python interpreter of an environment with torch, tensorflow-cpu, jax, keras.
    pub python: Option<PathBuf>,
    /// Rounds over the rows per workload (default 2).
    pub rounds: Option<usize>,
    /// Timed runs per process (default 3).
    pub repeats: Option<usize>,
    /// Discarded runs per process before the timed ones (default 1).
    pub warmup: Option<usize>,
    /// Samples per run, before mlp-train's factor (default 16,384).
    pub samples: Option<usize>,
    /// Only these workloads (`cnn-train`) or keys (`cnn-train/b32`); empty: all.
    pub workloads: Vec<String>,
    /// Only these rows (labels); empty: all that the mode runs.
    pub frameworks: Vec<String>,
}

impl E2eConfig {
    /// Rounds and the run length, after `--quick`'s defaults.
    fn effective(&self) -> Result<(usize, RunLength), String> {
        let (rounds, repeats, samples) = if self.quick {
            (1, 1, 2048)
        } else {
            (2, 3, plan::DEFAULT_SAMPLES)
        };
        let len = RunLength {
            samples: self.samples.unwrap_or(samples),
            warmup: self.warmup.unwrap_or(1),
            repeats: self.repeats.unwrap_or(repeats),
        };
        let rounds = self.rounds.unwrap_or(rounds);
        if rounds == 0 || len.repeats == 0 || len.samples == 0 {
            return Err("--rounds, --repeats and --samples must be at least 1".into());
        }
        Ok((rounds, len))
    }
}

/// Why a benchmark process gave no result.
#[derive(Debug)]
enum Failure {
    /// It does not know `--dtype-policy` (an e2e binary older than the flag).
    RejectedFlag(String),
    /// Anything else: the command, its status and the end of its standard error.
    Failed(String),
}

/// Runs one benchmark process and parses its line.
fn run_child(mut cmd: Command) -> Result<E2eResult, Failure> {
    eprintln!("xtask: running {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| Failure::Failed(format!("cannot run {cmd:?}: {e}")))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if !out.status.success() {
        let msg = format!("{cmd:?} failed ({}):\n{}", out.status, tail.join("\n"));
        return Err(if rejects_flag(&err, "--dtype-policy") {
            Failure::RejectedFlag(msg)
        } else {
            Failure::Failed(msg)
        });
    }
    E2eResult::from_output(&String::from_utf8_lossy(&out.stdout)).map_err(Failure::Failed)
}

/// Builds the e2e binary and returns its path.
fn build_e2e(root: &Path, target: &Path, features: &[String]) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args(["build", "--release", "-p", "neurite-benches", "--bin", "e2e"]);
    for f in features {
        build.args(["--features", f]);
    }
    eprintln!("xtask: running {build:?}");
    let status = build.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the e2e binary failed ({status})"));
    }
    Ok(target
        .join("release")
        .join(format!("e2e{}", std::env::consts::EXE_SUFFIX)))
}

/// Runs every selected row on every selected workload, `rounds` times, interleaved.
fn measure_all(
    rows: &[Row],
    workloads: &[(&str, usize)],
    rounds: usize,
    len: RunLength,
    e2e: &Path,
    python: Option<&Path>,
    reference_dir: &Path,
) -> Result<Vec<Measured>, String> {
    let mut skipped: Vec<&str> = Vec::new();
    let mut measured = Vec::new();
    for &(workload, batch) in workloads {
        let first = measured.len();
        for row in rows {
            measured.push(Measured {
                label: row.label.to_string(),
                workload: workload.to_string(),
                batch,
                rounds: Vec::new(),
            });
        }
        for round in 1..=rounds {
            for (i, row) in rows.iter().enumerate() {
                if skipped.contains(&row.label) {
                    continue;
                }
                let key = plan::key(workload, batch);
                eprintln!("xtask: {key} round {round}/{rounds}: {}", row.label);
                let cmd = plan::command(row, workload, batch, len, e2e, python, reference_dir);
                match run_child(cmd) {
                    Ok(r) if r.model != workload || r.batch != batch => {
                        return Err(format!(
                            "{}: asked for {key}, the process reported {}",
                            row.label,
                            plan::key(&r.model, r.batch)
                        ));
                    }
                    Ok(r) => {
                        eprintln!(
                            "xtask: {key} {}: {:.1} samples/s, runs {:?}",
                            row.label, r.samples_per_sec, r.runs
                        );
                        measured[first + i].rounds.push(r);
                    }
                    Err(Failure::RejectedFlag(msg)) if row.is_neurite() => {
                        eprintln!(
                            "xtask: NOTE: skipping {}: this e2e binary does not accept --dtype-policy yet:\n{msg}",
                            row.label
                        );
                        skipped.push(row.label);
                    }
                    Err(Failure::RejectedFlag(msg) | Failure::Failed(msg)) => {
                        if row.label == "neurite" {
                            return Err(msg);
                        }
                        eprintln!("xtask: NOTE: skipping {} from here on: {msg}", row.label);
                        skipped.push(row.label);
                    }
                }
            }
        }
        // Long runs: this workload's rows as soon as its rounds are done.
        let done: Vec<Measured> = measured[first..]
            .iter()
            .filter(|m| !m.rounds.is_empty())
            .cloned()
            .collect();
        println!("\n{} after {rounds} round(s):\n", plan::key(workload, batch));
        print!("{}", table::compare_table(&done));
        for w in done.iter().filter_map(Measured::slowdown_warning) {
            println!("{w}");
        }
    }
    measured.retain(|m| !m.rounds.is_empty());
    Ok(measured)
}

/// `cargo xtask bench --e2e` / `--compare`: see the [module documentation](self).
pub fn run(root: &Path, target: &Path, cfg: &E2eConfig) -> Result<(), String> {
    let python = if cfg.compare {
        Some(cfg.python.clone().ok_or(
            "--compare needs --python PATH, the interpreter of an environment with torch, \
             tensorflow-cpu, jax and keras (see benches/reference/README.md)",
        )?)
    } else {
        None
    };
    let (rounds, len) = cfg.effective()?;
    let rows = plan::select_rows(cfg.compare, &cfg.frameworks)?;
    let workloads = plan::select_workloads(&cfg.workloads)?;
    if rows.is_empty() {
        return Err(
            "--frameworks selects no row that this mode runs (neurite's rows without --compare)".into(),
        );
    }
    let e2e = if rows.iter().any(Row::is_neurite) {
        build_e2e(root, target, &cfg.features)?
    } else {
        PathBuf::new()
    };
    let reference_dir = root.join("benches").join("reference");
    let started = std::time::Instant::now();
    let measured = measure_all(
        &rows,
        &workloads,
        rounds,
        len,
        &e2e,
        python.as_deref(),
        &reference_dir,
    )?;
    let minutes = started.elapsed().as_secs_f64() / 60.0;

    println!(
        "\n{} round(s) x {} timed run(s) per row, each run >= {} samples ({}x for mlp-train) after {} \
         warm-up run(s) of the same length; {} threads; {minutes:.1} min in all",
        rounds,
        len.repeats,
        len.samples,
        plan::MLP_FACTOR,
        len.warmup,
        plan::THREADS
    );
    let (ours, refs): (Vec<&Measured>, Vec<&Measured>) =
        measured.iter().partition(|m| m.label.starts_with("neurite"));
    if !ours.is_empty() {
        let backend = ours.iter().find_map(|m| m.version()).unwrap_or("?");
        println!(
            "\nneurite end-to-end (GEMM backend {backend}; x best9 = ratio to the best of issue 9's table; \
             slowdown = end/start time ratio, median of rounds)\n"
        );
        let ours: Vec<Measured> = ours.into_iter().cloned().collect();
        print!("{}", table::neurite_table(&ours));
    }
    if cfg.compare {
        if refs.is_empty() {
            return Err(format!(
                "no reference framework ran with {}",
                python.as_deref().unwrap_or(Path::new("?")).display()
            ));
        }
        println!("\nall rows (neurite / n-bf16 = neurite's / neurite-bf16's median over this row's)\n");
        let mut seen: Vec<&str> = Vec::new();
        for m in &refs {
            if !seen.contains(&m.label.as_str()) {
                println!("  {}: {}", m.label, m.version().unwrap_or("?"));
                seen.push(&m.label);
            }
        }
        println!();
        print!("{}", table::compare_table(&measured));
    }
    let warnings: Vec<String> = measured.iter().filter_map(Measured::slowdown_warning).collect();
    if !warnings.is_empty() {
        println!();
        for w in &warnings {
            println!("{w}");
        }
    }
    let report = target.join("bench-report.json");
    let old = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let merged = merge_report(old, report_records(&measured));
    let text = serde_json::to_string_pretty(&merged).expect("JSON values serialise");
    std::fs::write(&report, text + "\n").map_err(|e| format!("writing {}: {e}", report.display()))?;
    println!("\nxtask: end-to-end records merged into {}", report.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_without_python_is_a_clear_error() {
        let cfg = E2eConfig {
            compare: true,
            ..E2eConfig::default()
        };
        let e = run(Path::new("/nonexistent"), Path::new("/nonexistent"), &cfg).unwrap_err();
        assert!(e.contains("--python"), "{e}");
    }

    #[test]
    fn defaults_and_quick() {
        let (rounds, len) = E2eConfig::default().effective().unwrap();
        assert_eq!(
            (rounds, len),
            (
                2,
                RunLength {
                    samples: 16_384,
                    warmup: 1,
                    repeats: 3
                }
            )
        );
        let quick = E2eConfig {
            quick: true,
            repeats: Some(2),
            ..E2eConfig::default()
        };
        let (rounds, len) = quick.effective().unwrap();
        assert_eq!((rounds, len.samples, len.warmup, len.repeats), (1, 2048, 1, 2));
        let zero = E2eConfig {
            rounds: Some(0),
            ..E2eConfig::default()
        };
        assert!(zero.effective().unwrap_err().contains("--rounds"));
    }

    /// A stand-in benchmark process: a shell script printing what a process would.
    fn fake(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn rounds_interleave_rows_and_skip_a_rejected_flag() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // Logs each call; rejects --dtype-policy as lexopt does; otherwise prints a line
        // for the workload/batch it was given (arguments 2 and 4).
        let body = format!(
            "echo \"$@\" >> {log}\n\
             case \"$*\" in *--dtype-policy*) echo \"e2e: invalid option '--dtype-policy'\" >&2; exit 2;; esac\n\
             echo '{{\"framework\":\"neurite\",\"model\":\"'$2'\",\"batch\":'$4',\"samples_per_sec\":10.0,\"runs\":[11.0,10.0,9.0],\"steps\":4}}'",
            log = log.display()
        );
        let e2e = fake(dir.path(), "e2e", &body);
        let python = fake(
            dir.path(),
            "python",
            &body.replace("$2", "$3").replace("$4", "$5"),
        );
        let rows =
            plan::select_rows(true, &["neurite".into(), "pytorch".into(), "neurite-bf16".into()]).unwrap();
        let len = RunLength {
            samples: 64,
            warmup: 1,
            repeats: 3,
        };
        let workloads = [("cnn-train", 32), ("lstm-train", 32)];
        let m = measure_all(&rows, &workloads, 2, len, &e2e, Some(&python), dir.path()).unwrap();
        let got: Vec<(String, String, usize)> = m
            .iter()
            .map(|m| (m.label.clone(), m.key(), m.rounds.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("neurite".into(), "cnn-train/b32".into(), 2),
                ("pytorch".into(), "cnn-train/b32".into(), 2),
                ("neurite".into(), "lstm-train/b32".into(), 2),
                ("pytorch".into(), "lstm-train/b32".into(), 2),
            ]
        );
        // neurite-bf16 was tried once, then skipped; the rest alternate per round.
        let calls: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let kinds: Vec<&str> = calls
            .iter()
            .map(|c| {
                if c.contains("--dtype-policy") {
                    "bf16"
                } else if c.starts_with("torch_workloads.py") {
                    "torch"
                } else {
                    "neurite"
                }
            })
            .collect();
        assert_eq!(
            kinds,
            ["neurite", "torch", "bf16", "neurite", "torch", "neurite", "torch", "neurite", "torch"]
        );
        assert!(
            calls[0].contains("--steps 4 --warmup 1 --repeats 3"),
            "{}",
            calls[0]
        );
        // Every round's 11 -> 9 samples/s is 1.22x slower at the end: flagged.
        assert!(m[0].slowdown_warning().is_some());
    }

    #[test]
    fn a_failing_neurite_row_is_an_error_a_failing_reference_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let bad = fake(dir.path(), "bad", "echo 'panic: boom' >&2; exit 101");
        let rows = plan::select_rows(true, &["neurite".into()]).unwrap();
        let len = RunLength {
            samples: 64,
            warmup: 0,
            repeats: 1,
        };
        let e = measure_all(&rows, &[("cnn-train", 32)], 1, len, &bad, None, dir.path()).unwrap_err();
        assert!(e.contains("boom"), "{e}");
        let rows = plan::select_rows(true, &["keras-jax".into()]).unwrap();
        let m = measure_all(&rows, &[("cnn-train", 32)], 2, len, &bad, Some(&bad), dir.path()).unwrap();
        assert!(m.is_empty());
    }
}
