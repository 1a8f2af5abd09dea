"""numpy + OpenBLAS sgemm reference for issue 2's GEMM target.

Usage: python np_sgemm.py [N] [THREADS]
Times np.matmul(a, b, out=c) on float32 N x N matrices (default 1024, 2 threads):
7 rounds of 20 calls after a warm-up, prints one JSON line with the median GFLOP/s.
The thread count goes to OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before numpy loads.
"""
import json
import os
import statistics
import sys
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
threads = sys.argv[2] if len(sys.argv) > 2 else "2"
os.environ["OPENBLAS_NUM_THREADS"] = threads
os.environ["OMP_NUM_THREADS"] = threads
import numpy as np  # noqa: E402  (after the thread variables)

rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = np.empty((n, n), dtype=np.float32)
for _ in range(5):
    np.matmul(a, b, out=c)
rounds = []
for _ in range(7):
    t = time.perf_counter()
    for _ in range(20):
        np.matmul(a, b, out=c)
    rounds.append((time.perf_counter() - t) / 20)
median = statistics.median(rounds)
print(json.dumps({"framework": "numpy", "numpy": np.__version__, "n": n, "threads": int(threads),
                  "median_s": median, "gflops": 2 * n**3 / median / 1e9}))
