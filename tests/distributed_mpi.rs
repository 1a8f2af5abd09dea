//! Data-parallel training on MPI (feature `mpi`): this test starts itself
//! under `mpirun -np 2` and `-np 3` (uneven shards), and each rank trains;
//! the parent then compares the ranks' weights with each other (bit for bit)
//! and with single-process training at the same global batch (1e-5
//! relative), checks the checkpoint and CSV log were written once and that a
//! run resumed from the checkpoint ends where an uninterrupted one does. It
//! also checks that a panic or an error of one rank ends the job promptly
//! with the rank and message, and that a launcher announcing more processes
//! than the MPI library sees is reported.
//!
//! Needs `mpirun` (OpenMPI or MPICH) on the PATH; as root, OpenMPI also
//! needs `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`, which
//! this test sets for its children.
#![cfg(feature = "mpi")]

mod distributed_models;

use distributed_models::{bits, bn_dropout_adam, data, dense_adam, relative_difference};
use neurite::callbacks::{Callback, CsvLogger, Logs, ModelCheckpoint, ModelHandle};
use neurite::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TEST: &str = "mpirun_data_parallel_training";
/// Set for the ranks: what to do, and where to write.
const SCENARIO: &str = "NEURITE_MPI_TEST_SCENARIO";
const OUT_DIR: &str = "NEURITE_MPI_TEST_DIR";

fn flat(model: &Sequential) -> Vec<f32> {
    distributed_models::flat(model)
}

fn write_weights(dir: &Path, name: &str, rank: usize, w: &[f32]) {
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join(format!("{name}_rank{rank}.bin")), bytes).unwrap();
}

fn read_weights(dir: &Path, name: &str, rank: usize) -> Vec<f32> {
    let path = dir.join(format!("{name}_rank{rank}.bin"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Fails the step it is told to on one rank: a panic or an error.
struct FailOn {
    rank: usize,
    panic: bool,
}

impl Callback for FailOn {
    fn on_batch_end(
        &mut self,
        _: usize,
        batch: usize,
        _: &Logs,
        _: &mut dyn ModelHandle,
    ) -> neurite::Result<()> {
        if batch == 2 && neurite::distributed::world()?.rank() == self.rank {
            if self.panic {
                panic!("deliberate panic on rank {}", self.rank);
            }
            return Err(neurite::Error::Input(format!(
                "deliberate error on rank {}",
                self.rank
            )));
        }
        Ok(())
    }
}

/// What one rank does.
fn rank_main(scenario: &str, dir: &Path) {
    if scenario == "mismatch" {
        let e = neurite::distributed::init().unwrap_err().to_string();
        assert!(e.contains("PMI_SIZE=2") && e.contains("world of 1"), "{e}");
        return;
    }
    let world = neurite::distributed::world().unwrap();
    assert!(world.size() > 1, "started without a launcher");
    let rank = world.rank();
    let (x, y) = data(47);
    if scenario == "panic" || scenario == "error" {
        let mut fail = FailOn {
            rank: 1,
            panic: scenario == "panic",
        };
        let mut model = dense_adam(7);
        let _ = model.fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(50)
                .batch_size(10)
                .verbose(0)
                .callback(&mut fail),
        );
        // Reached only if the job was not ended: the parent sees this rank exit normally and fails.
        return;
    }
    // Two epochs with a checkpoint and a CSV log, then resume to four; rank 0 alone loads the checkpoint.
    let ckpt = dir.join("ckpt");
    fn options<'a>() -> FitOptions<'a> {
        FitOptions::new().batch_size(10).verbose(1)
    }
    let mut model = dense_adam(7);
    let mut save = ModelCheckpoint::new(ckpt.to_string_lossy());
    let mut log = CsvLogger::new(dir.join("log.csv"));
    model
        .fit(&x, &y, options().epochs(2).callback(&mut save).callback(&mut log))
        .unwrap();
    write_weights(dir, "dense2", rank, &flat(&model));
    // The same two epochs with gradient buckets of 16 values: sent while the backward pass runs.
    neurite::distributed::set_gradient_bucket_bytes(64).unwrap();
    let mut small = dense_adam(7);
    small
        .fit(&x, &y, FitOptions::new().epochs(2).batch_size(10).verbose(0))
        .unwrap();
    let stats = neurite::distributed::last_fit_stats();
    assert!(
        stats.buckets_sent_during_backward >= stats.steps,
        "rank {rank}: {stats:?}: no bucket overlapped the backward pass"
    );
    neurite::distributed::set_gradient_bucket_bytes(25 << 20).unwrap();
    write_weights(dir, "buckets2", rank, &flat(&small));
    let mut resumed = if world.is_root() {
        Sequential::load(&ckpt).unwrap()
    } else {
        dense_adam(99)
    };
    resumed.fit(&x, &y, options().epochs(4).initial_epoch(2)).unwrap();
    write_weights(dir, "dense4", rank, &flat(&resumed));
    // Adam + Dropout + BatchNormalization.
    let (x, y) = data(60);
    let mut bn = bn_dropout_adam(3);
    let h = bn
        .fit(&x, &y, FitOptions::new().epochs(4).batch_size(12).verbose(0))
        .unwrap();
    let loss = h.get("loss").unwrap();
    assert!(loss[3] < loss[0], "rank {rank}: no progress {loss:?}");
    write_weights(dir, "bn", rank, &flat(&bn));
}

fn mpirun() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("mpirun"))
            .find(|p| p.is_file())
    })
}

/// Runs this test under `mpirun -np <np>` with `scenario`; returns whether
/// it succeeded, its stderr and how long it took. A run longer than
/// `limit` is killed and fails the test (a hang).
fn run_ranks(np: usize, scenario: &str, dir: &Path, limit: Duration) -> (bool, String, Duration) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(mpirun().unwrap());
    cmd.args(["-np", &np.to_string(), "--oversubscribe"]);
    for var in [SCENARIO, OUT_DIR, "RAYON_NUM_THREADS"] {
        cmd.args(["-x", var]);
    }
    cmd.arg(&exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(SCENARIO, scenario)
        .env(OUT_DIR, dir)
        .env("RAYON_NUM_THREADS", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("mpirun starts");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            panic!("mpirun -np {np} ({scenario}) still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = start.elapsed();
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    (status.success(), format!("{stdout}\n{stderr}"), took)
}

#[test]
fn mpirun_data_parallel_training() {
    if let Ok(scenario) = std::env::var(SCENARIO) {
        let dir = PathBuf::from(std::env::var(OUT_DIR).unwrap());
        return rank_main(&scenario, &dir);
    }
    if mpirun().is_none() {
        assert!(
            std::env::var_os("NEURITE_REQUIRE_MPI").is_none(),
            "NEURITE_REQUIRE_MPI is set but there is no mpirun on the PATH"
        );
        eprintln!("skipped: no mpirun on the PATH");
        return;
    }
    // Single-process references at the same global batch.
    let (x, y) = data(47);
    let reference = |epochs: usize| {
        let mut m = dense_adam(7);
        m.fit(&x, &y, FitOptions::new().epochs(epochs).batch_size(10).verbose(0))
            .unwrap();
        flat(&m)
    };
    let (two, four) = (reference(2), reference(4));
    for np in [2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let (ok, output, took) = run_ranks(np, "train", dir.path(), Duration::from_secs(300));
        assert!(ok, "mpirun -np {np} failed:\n{output}");
        eprintln!("mpirun -np {np}: {took:?}");
        for (name, reference) in [("dense2", &two), ("buckets2", &two), ("dense4", &four)] {
            let rank0 = read_weights(dir.path(), name, 0);
            for rank in 1..np {
                assert_eq!(
                    bits(&read_weights(dir.path(), name, rank)),
                    bits(&rank0),
                    "{name}: rank {rank} vs 0"
                );
            }
            let d = relative_difference(&rank0, reference);
            assert!(d <= 1e-5, "np {np}, {name}: {d:e} from single-process training");
        }
        let bn0 = read_weights(dir.path(), "bn", 0);
        for rank in 1..np {
            assert_eq!(
                bits(&read_weights(dir.path(), "bn", rank)),
                bits(&bn0),
                "bn: rank {rank} vs 0"
            );
        }
        let log = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
        assert_eq!(log.lines().count(), 3, "header and 2 epochs, once:\n{log}");
        assert!(dir.path().join("ckpt").join("config.json").is_file());
        // Only rank 0 prints its progress (verbose 1): one "Epoch 1/2" line, not np.
        assert_eq!(output.matches("Epoch 1/2").count(), 1, "{output}");
    }
    for scenario in ["panic", "error"] {
        let dir = tempfile::tempdir().unwrap();
        let (ok, output, took) = run_ranks(2, scenario, dir.path(), Duration::from_secs(120));
        assert!(!ok, "{scenario} on rank 1: the job did not fail:\n{output}");
        assert!(
            output.contains("rank 1 of 2"),
            "{scenario}: no rank in the message:\n{output}"
        );
        assert!(
            output.contains(&format!("deliberate {scenario} on rank 1")),
            "{output}"
        );
        eprintln!("{scenario} on rank 1 ended the job in {took:?}");
    }
    // A launcher announcing 2 processes to a program whose MPI sees 1.
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(SCENARIO, "mismatch")
        .env(OUT_DIR, std::env::temp_dir())
        .env("PMI_SIZE", "2")
        .env("PMI_RANK", "0")
        .status()
        .unwrap();
    assert!(status.success(), "the mismatch was not reported");
}
