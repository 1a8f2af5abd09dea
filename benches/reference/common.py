"""Shared pieces of the reference workloads (see README.md in this directory).

The workloads, their data-set sizes and the output format are the same as
those of neurite's `e2e` binary (`benches/src/bin/e2e.rs`), so that the numbers
can be compared line by line by `cargo xtask bench --compare` (which passes the
same `--steps`, `--warmup` and `--repeats` to every framework).
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
    ("resnet-train", 64),
    ("resnet-predict", 256),
    ("text-conv-train", 32),
    ("bilstm-train", 32),
    ("transformer-train", 32),
]
TEXT_WORKLOADS = ("text-conv-train", "bilstm-train", "transformer-train")
WORKLOADS = ("cnn-train", "cnn-predict", "mlp-train", "lstm-train", "resnet-train", "resnet-predict") + TEXT_WORKLOADS
# Precision policies: float32 everywhere, or bf16 mixed precision (f32 weights,
# optimizer and loss; bf16 matrix products and convolutions).
DTYPE_POLICIES = ("float32", "mixed_bfloat16")

CLASSES = 10
LSTM_STEPS, LSTM_FEATURES, LSTM_UNITS = 20, 100, 64
MLP_INPUT, MLP_HIDDEN = 100, 64
# The residual network of issue 16 (examples/resnet.rs): stem channels, then
# (filters, stride) of its four blocks.
RESNET_STEM = 16
RESNET_BLOCKS = ((16, 1), (16, 1), (32, 2), (32, 1))
# The text classifiers of issue 17 (examples/text_classification.rs, benches/src/bin/e2e/text.rs):
# token ids per sample, vocabulary, embedding width, classes; Conv1D filters/kernel and the
# dense layer after the pooling; units per direction of the bidirectional LSTM; heads and
# feed-forward width of the transformer encoder (key_dim = 64 / 2) and its dropout. No masking.
TEXT_LEN, TEXT_VOCAB, TEXT_EMBED, TEXT_CLASSES = 100, 20000, 64, 6
TEXT_FILTERS, TEXT_KERNEL, TEXT_HIDDEN = 64, 5, 64
TEXT_LSTM = 64
TEXT_HEADS, TEXT_FF, TEXT_DROPOUT = 2, 128, 0.1

# Samples of one timed run (and of the warm-up run before it): long enough for the
# steady state (issue 22), the same numbers as `cargo xtask bench --e2e` uses.
MIN_SAMPLES = 16384
MLP_SAMPLES = 65536

# Consecutive chunks of batches timed inside each run (the slowdown check).
CHUNKS = 4


def default_steps(workload, batch):
    """Batches per timed run: the same formula as xtask's (at least 16,384 samples)."""
    samples = MLP_SAMPLES if workload == "mlp-train" else MIN_SAMPLES
    return max(-(-samples // batch), CHUNKS)


def text_data(n):
    """Token ids uniform in 1..TEXT_VOCAB-1 (int64, (n, TEXT_LEN)) and labels i*7 % 6, as e2e/text.rs."""
    import numpy as np

    rng = np.random.default_rng(42)
    ids = rng.integers(1, TEXT_VOCAB, size=(n, TEXT_LEN), dtype=np.int64)
    labels = (np.arange(n) * 7 % TEXT_CLASSES).astype(np.int64)
    return ids, labels


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
    p.add_argument("--workload", choices=WORKLOADS, help="one workload (default: all ten runs)")
    p.add_argument("--batch", type=int, help="batch size (required with --workload)")
    p.add_argument("--steps", type=int,
                   help="batches per timed run and per warm-up run (default: ceil(16384/batch), "
                        "ceil(65536/batch) for mlp-train)")
    p.add_argument("--warmup", type=int, default=1, help="discarded runs of the same length before timing")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype-policy", choices=DTYPE_POLICIES, default="float32",
                   help="mixed_bfloat16: bf16 mixed precision (PyTorch CPU autocast, Keras' policy)")
    args = p.parse_args()
    if args.workload is not None and args.batch is None:
        p.error("--batch is required with --workload")
    if args.workload is None and args.batch is not None:
        p.error("--batch needs --workload")
    for name in ("batch", "steps", "repeats", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name} must be at least 1, got {value}")
    if args.warmup < 0:
        p.error(f"--warmup must be at least 0, got {args.warmup}")
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


def chunk_ends(steps, chunks=CHUNKS):
    """0-based batch indices after which each of `chunks` near-equal chunks of a run ends."""
    chunks = min(chunks, steps)
    return [(k + 1) * steps // chunks - 1 for k in range(chunks)]


class ChunkClock:
    """Times the consecutive chunks of one run: `batch_end(i)` after every batch i."""

    def __init__(self, steps, sync=None):
        self.ends = set(chunk_ends(steps))
        self.sync = sync
        self.start = None
        self.marks = []

    def begin(self):
        """Starts a run's clock (also called again when the run's batches start)."""
        self.start = time.perf_counter()
        self.marks = []

    def batch_end(self, i, payload=None):
        if i in self.ends:
            if self.sync is not None:
                self.sync(payload)
            self.marks.append(time.perf_counter())

    def seconds(self):
        """Seconds of each chunk (empty if the run did not report its batches)."""
        out, prev = [], self.start
        for t in self.marks:
            out.append(t - prev)
            prev = t
        return out


def measure(run_once, n_samples, steps, warmup, repeats, sync=None):
    """`warmup` discarded calls of run_once(clock), then `repeats` timed ones.

    Each call is one long run over `steps` batches (one `fit`, one `predict`, one
    epoch loop), which calls `clock.batch_end(i)` after batch i. Returns the
    samples/s of each timed run and the seconds of each run's chunks.
    """
    clock = ChunkClock(steps, sync)
    for _ in range(warmup):
        clock.begin()
        run_once(clock)
    rates, chunks = [], []
    for _ in range(repeats):
        clock.begin()
        start = time.perf_counter()
        run_once(clock)
        rates.append(n_samples / (time.perf_counter() - start))
        chunks.append(clock.seconds())
    return rates, chunks


def emit(framework, version, workload, batch, steps, threads, rates, chunks, dtype_policy):
    """Prints the one JSON line of a finished workload."""
    line = {
        "framework": framework,
        "model": workload,
        "batch": batch,
        "samples_per_sec": round(statistics.median(rates), 1),
        "runs": [round(r, 1) for r in rates],
        "chunk_secs": [[round(s, 5) for s in run] for run in chunks],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "steps": steps,
        "threads": threads,
        "dtype_policy": dtype_policy,
        "version": version,
    }
    print(json.dumps(line), flush=True)
