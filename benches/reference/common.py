"""Shared pieces of the reference workloads (see README.md in this directory).

The five workloads, their default data-set sizes and the output format are the
same as those of neurite's `e2e` binary (`benches/src/bin/e2e.rs`), so that the
numbers can be compared line by line by `cargo xtask bench --compare`.
"""

import argparse
import json
import os
import resource
import statistics
import time

# (workload, batch) of the comparison, in the order of the table.
DEFAULT_RUNS = [
    ("cnn-train", 32),
    ("cnn-train", 128),
    ("cnn-predict", 256),
    ("mlp-train", 32),
    ("lstm-train", 32),
]
WORKLOADS = ("cnn-train", "cnn-predict", "mlp-train", "lstm-train")

CLASSES = 10
LSTM_STEPS, LSTM_FEATURES, LSTM_UNITS = 20, 100, 64
MLP_INPUT, MLP_HIDDEN = 100, 64


def default_steps(workload, batch):
    """Batches per timed run: the same formula as the e2e binary's."""
    samples = {"cnn-train": 2048, "cnn-predict": 4096, "mlp-train": 65536}.get(workload, 4096)
    return max(samples // batch, 4)


def set_thread_env(threads):
    """Thread counts of the native libraries; call before importing the framework."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(var, str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault(
        "XLA_FLAGS",
        f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}",
    )
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--workload", choices=WORKLOADS, help="one workload (default: all five runs)")
    p.add_argument("--batch", type=int, help="batch size (required with --workload)")
    p.add_argument("--steps", type=int, help="batches per timed run (default: as the e2e binary)")
    p.add_argument("--warmup", type=int, default=1, help="discarded runs before timing")
    p.add_argument("--repeats", type=int, default=5, help="timed runs; the median is reported")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    if args.workload is not None and args.batch is None:
        p.error("--batch is required with --workload")
    if args.workload is None and args.batch is not None:
        p.error("--batch needs --workload")
    return args


def runs_of(args):
    """The (workload, batch, steps) list to run."""
    if args.workload is not None:
        pairs = [(args.workload, args.batch)]
    else:
        pairs = DEFAULT_RUNS
    return [(w, b, args.steps or default_steps(w, b)) for w, b in pairs]


def peak_rss_mb():
    """The process' peak resident set in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(run_once, n_samples, warmup, repeats):
    """`warmup` discarded calls of run_once(), then `repeats` timed ones: samples/s of each."""
    for _ in range(warmup):
        run_once()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        rates.append(n_samples / (time.perf_counter() - start))
    return rates


def emit(framework, version, workload, batch, steps, threads, rates):
    """Prints the one JSON line of a finished workload."""
    line = {
        "framework": framework,
        "model": workload,
        "batch": batch,
        "samples_per_sec": round(statistics.median(rates), 1),
        "runs": [round(r, 1) for r in rates],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "steps": steps,
        "threads": threads,
        "version": version,
    }
    print(json.dumps(line), flush=True)
