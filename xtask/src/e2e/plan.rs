//! What `cargo xtask bench --e2e/--compare` runs: the workloads, how long each run is,
//! the rows (framework x precision) and the command line of each.

use std::path::Path;
use std::process::Command;

/// The `(workload, batch)` pairs: issue 9's five, in the order of its table, then the
/// residual network of issue 16, then issue 17's three text classifiers (100 token ids,
/// embedding 64).
pub const RUNS: [(&str, usize); 10] = [
    ("cnn-train", 32),
    ("cnn-train", 128),
    ("cnn-predict", 256),
    ("mlp-train", 32),
    ("lstm-train", 32),
    ("resnet-train", 64),
    ("resnet-predict", 256),
    ("text-conv-train", 32),
    ("bilstm-train", 32),
    ("transformer-train", 32),
];

/// Threads given to every benchmark process.
pub const THREADS: usize = 2;

/// Default samples of one timed run (and of the warm-up run before it): the steady
/// state, not the first steps (issue 22).
pub const DEFAULT_SAMPLES: usize = 16_384;

/// `mlp-train` runs this many times more samples than the others: it is about 50 times
/// faster per sample, and 16,384 samples would take neurite ~30 ms.
pub const MLP_FACTOR: usize = 4;

/// Fewest batches in a run: the slowdown check cuts each run into 4 chunks.
pub const MIN_STEPS: usize = 4;

/// The label of a workload: `cnn-train/b32`.
pub fn key(workload: &str, batch: usize) -> String {
    format!("{workload}/b{batch}")
}

/// Samples of one run of `workload` when `samples` is asked for.
pub fn samples_for(workload: &str, samples: usize) -> usize {
    if workload == "mlp-train" {
        samples * MLP_FACTOR
    } else {
        samples
    }
}

/// Batches per run: at least `samples_for(workload, samples)` samples (rounded up to
/// whole batches) and at least [`MIN_STEPS`].
pub fn steps_for(workload: &str, batch: usize, samples: usize) -> usize {
    samples_for(workload, samples).div_ceil(batch).max(MIN_STEPS)
}

/// How a row's process is started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Engine {
    /// neurite's `e2e` binary.
    Neurite,
    /// A script of `benches/reference/` with the given `KERAS_BACKEND`, if any.
    Python {
        /// File name in `benches/reference/`.
        script: &'static str,
        /// `KERAS_BACKEND` of a Keras script.
        backend: Option<&'static str>,
    },
}

/// One row of the comparison: a framework at one precision policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// The row's name in the tables and the report.
    pub label: &'static str,
    /// What runs it.
    pub engine: Engine,
    /// `--dtype-policy` passed to the process (`None`: float32, the flag is not passed).
    pub dtype_policy: Option<&'static str>,
}

impl Row {
    /// Whether this row is one of neurite's.
    pub fn is_neurite(&self) -> bool {
        self.engine == Engine::Neurite
    }
}

const fn python(label: &'static str, script: &'static str, backend: Option<&'static str>, bf16: bool) -> Row {
    Row {
        label,
        engine: Engine::Python { script, backend },
        dtype_policy: if bf16 { Some("mixed_bfloat16") } else { None },
    }
}

/// Every row, in the order they run within a round of a workload.
pub const ROWS: [Row; 8] = [
    Row {
        label: "neurite",
        engine: Engine::Neurite,
        dtype_policy: None,
    },
    python("pytorch", "torch_workloads.py", None, false),
    python(
        "keras-tensorflow",
        "keras_workloads.py",
        Some("tensorflow"),
        false,
    ),
    python("keras-jax", "keras_workloads.py", Some("jax"), false),
    python("pytorch-bf16", "torch_workloads.py", None, true),
    python(
        "keras-tensorflow-mixed_bfloat16",
        "keras_workloads.py",
        Some("tensorflow"),
        true,
    ),
    python(
        "keras-jax-mixed_bfloat16",
        "keras_workloads.py",
        Some("jax"),
        true,
    ),
    Row {
        label: "neurite-bf16",
        engine: Engine::Neurite,
        dtype_policy: Some("mixed_bfloat16"),
    },
];

/// The rows to run: neurite's two with `--e2e`, all with `--compare`, then narrowed to
/// `only` (labels) when it is not empty. Unknown labels are an error naming the known ones.
pub fn select_rows(compare: bool, only: &[String]) -> Result<Vec<Row>, String> {
    for name in only {
        if !ROWS.iter().any(|r| r.label == name) {
            let known: Vec<&str> = ROWS.iter().map(|r| r.label).collect();
            return Err(format!(
                "--frameworks: unknown framework {name:?}; expected some of {known:?}"
            ));
        }
    }
    Ok(ROWS
        .iter()
        .filter(|r| compare || r.is_neurite())
        .filter(|r| only.is_empty() || only.iter().any(|o| o == r.label))
        .copied()
        .collect())
}

/// The `(workload, batch)` pairs to run: all of [`RUNS`], or those matching `only`,
/// where each entry is a workload (`cnn-train`: every batch) or a key (`cnn-train/b32`).
/// An entry matching nothing is an error naming the known ones.
pub fn select_workloads(only: &[String]) -> Result<Vec<(&'static str, usize)>, String> {
    let matches = |o: &str, w: &str, b: usize| o == w || o == key(w, b);
    for o in only {
        if !RUNS.iter().any(|(w, b)| matches(o, w, *b)) {
            let known: Vec<String> = RUNS.iter().map(|(w, b)| key(w, *b)).collect();
            return Err(format!(
                "--workloads: {o:?} matches no workload; expected workloads or keys of {known:?}"
            ));
        }
    }
    Ok(RUNS
        .iter()
        .filter(|(w, b)| only.is_empty() || only.iter().any(|o| matches(o, w, *b)))
        .copied()
        .collect())
}

/// The run-length options every process of a round gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunLength {
    /// Samples of one run before [`samples_for`]'s factor.
    pub samples: usize,
    /// Discarded runs of the same length before the timed ones.
    pub warmup: usize,
    /// Timed runs per process.
    pub repeats: usize,
}

/// The command of `row` on one workload. `e2e` is neurite's binary, `python` the
/// interpreter for the references (rows that need it are not selected without it).
pub fn command(
    row: &Row,
    workload: &str,
    batch: usize,
    len: RunLength,
    e2e: &Path,
    python: Option<&Path>,
    reference_dir: &Path,
) -> Command {
    let mut cmd = match row.engine {
        Engine::Neurite => Command::new(e2e),
        Engine::Python { script, backend } => {
            let mut c = Command::new(python.unwrap_or(Path::new("python3")));
            c.current_dir(reference_dir).arg(script);
            if let Some(b) = backend {
                c.env("KERAS_BACKEND", b);
            }
            c
        }
    };
    cmd.args(["--workload", workload, "--batch", &batch.to_string()])
        .args(["--steps", &steps_for(workload, batch, len.samples).to_string()])
        .args(["--warmup", &len.warmup.to_string()])
        .args(["--repeats", &len.repeats.to_string()])
        .args(["--threads", &THREADS.to_string()]);
    if let Some(p) = row.dtype_policy {
        cmd.args(["--dtype-policy", p]);
    }
    for var in [
        "RAYON_NUM_THREADS",
        "MATMUL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
    ] {
        cmd.env(var, THREADS.to_string());
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn runs_are_at_least_16384_samples() {
        assert_eq!(steps_for("cnn-train", 32, DEFAULT_SAMPLES), 512);
        assert_eq!(steps_for("cnn-train", 128, DEFAULT_SAMPLES), 128);
        assert_eq!(steps_for("cnn-predict", 256, DEFAULT_SAMPLES), 64);
        assert_eq!(steps_for("lstm-train", 32, DEFAULT_SAMPLES), 512);
        assert_eq!(steps_for("resnet-train", 64, DEFAULT_SAMPLES), 256);
        assert_eq!(steps_for("resnet-predict", 256, DEFAULT_SAMPLES), 64);
        for text in ["text-conv-train", "bilstm-train", "transformer-train"] {
            assert_eq!(steps_for(text, 32, DEFAULT_SAMPLES), 512);
        }
        assert_eq!(steps_for("mlp-train", 32, DEFAULT_SAMPLES), 2048);
        // Rounded up to whole batches, never below 4 batches.
        assert_eq!(steps_for("cnn-train", 100, DEFAULT_SAMPLES), 164);
        assert_eq!(steps_for("cnn-train", 128, 16), MIN_STEPS);
        for (w, b) in RUNS {
            assert!(
                steps_for(w, b, DEFAULT_SAMPLES) * b >= DEFAULT_SAMPLES,
                "{w} b{b}"
            );
        }
    }

    #[test]
    fn rows_run_in_the_issue_order() {
        let labels: Vec<&str> = ROWS.iter().map(|r| r.label).collect();
        assert_eq!(
            labels,
            [
                "neurite",
                "pytorch",
                "keras-tensorflow",
                "keras-jax",
                "pytorch-bf16",
                "keras-tensorflow-mixed_bfloat16",
                "keras-jax-mixed_bfloat16",
                "neurite-bf16"
            ]
        );
        let e2e_only: Vec<&str> = select_rows(false, &[]).unwrap().iter().map(|r| r.label).collect();
        assert_eq!(e2e_only, ["neurite", "neurite-bf16"]);
        assert_eq!(select_rows(true, &[]).unwrap().len(), 8);
        let some = select_rows(true, &s(&["pytorch-bf16", "neurite"])).unwrap();
        assert_eq!(
            some.iter().map(|r| r.label).collect::<Vec<_>>(),
            ["neurite", "pytorch-bf16"]
        );
        let e = select_rows(true, &s(&["tf"])).unwrap_err();
        assert!(e.contains("\"tf\"") && e.contains("keras-jax"), "{e}");
    }

    #[test]
    fn workload_filter() {
        assert_eq!(select_workloads(&[]).unwrap().len(), 10);
        assert_eq!(
            select_workloads(&s(&["transformer-train", "bilstm-train/b32", "text-conv-train"])).unwrap(),
            [
                ("text-conv-train", 32),
                ("bilstm-train", 32),
                ("transformer-train", 32)
            ]
        );
        assert_eq!(
            select_workloads(&s(&["resnet-train/b64", "resnet-predict"])).unwrap(),
            [("resnet-train", 64), ("resnet-predict", 256)]
        );
        assert_eq!(
            select_workloads(&s(&["cnn-train"])).unwrap(),
            [("cnn-train", 32), ("cnn-train", 128)]
        );
        assert_eq!(
            select_workloads(&s(&["lstm-train/b32", "cnn-train/b128"])).unwrap(),
            [("cnn-train", 128), ("lstm-train", 32)]
        );
        let e = select_workloads(&s(&["cnn-train/b64"])).unwrap_err();
        assert!(e.contains("cnn-train/b64") && e.contains("cnn-train/b32"), "{e}");
    }

    #[test]
    fn commands_carry_length_threads_and_policy() {
        let len = RunLength {
            samples: DEFAULT_SAMPLES,
            warmup: 1,
            repeats: 3,
        };
        let args = |c: &Command| {
            c.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        let dir = Path::new("/r");
        let bf16 = ROWS[7];
        let c = command(&bf16, "cnn-train", 32, len, Path::new("/t/e2e"), None, dir);
        assert_eq!(c.get_program(), "/t/e2e");
        assert_eq!(
            args(&c),
            s(&[
                "--workload",
                "cnn-train",
                "--batch",
                "32",
                "--steps",
                "512",
                "--warmup",
                "1",
                "--repeats",
                "3",
                "--threads",
                "2",
                "--dtype-policy",
                "mixed_bfloat16"
            ])
        );
        let keras = ROWS[5];
        let c = command(
            &keras,
            "mlp-train",
            32,
            len,
            Path::new("/t/e2e"),
            Some(Path::new("/v/python")),
            dir,
        );
        assert_eq!(c.get_program(), "/v/python");
        assert_eq!(c.get_current_dir(), Some(dir));
        let a = args(&c);
        assert_eq!(a[0], "keras_workloads.py");
        assert_eq!(a[6], "2048");
        assert_eq!(a.last().map(String::as_str), Some("mixed_bfloat16"));
        let envs: Vec<(String, String)> = c
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        assert!(
            envs.contains(&("KERAS_BACKEND".into(), "tensorflow".into())),
            "{envs:?}"
        );
        assert!(envs.contains(&("OMP_NUM_THREADS".into(), "2".into())), "{envs:?}");
        // float32 rows do not pass the flag at all (older binaries/scripts accept them).
        let c = command(&ROWS[0], "cnn-predict", 256, len, Path::new("/t/e2e"), None, dir);
        assert!(!args(&c).iter().any(|a| a == "--dtype-policy"));
    }
}
