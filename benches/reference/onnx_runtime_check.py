"""Runs neurite's ONNX exports in onnxruntime, a second independent runtime beside tract.

    NEURITE_ONNX_DUMP=/tmp/neurite-onnx cargo test --release --test onnx_export
    /tmp/ref-venv/bin/python benches/reference/onnx_runtime_check.py /tmp/neurite-onnx

For every `<name>.onnx` in the folder (written by the Sequential checks of
tests/onnx_export.rs with `<name>.input<i>.npy` and neurite's predictions
`<name>.neurite.npy`), runs it in onnxruntime and prints the largest difference
to neurite's predictions, relative as in the test (|a - b| / (1 + |b|)); exits
non-zero if one exceeds 1e-5 or a file does not load.
"""

import glob
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def main(folder):
    results, failed = {}, False
    for path in sorted(glob.glob(os.path.join(folder, "*.onnx"))):
        name = os.path.basename(path)[: -len(".onnx")]
        try:
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - report every failure
            results[name] = f"load failed: {type(e).__name__}: {e}"[:300]
            failed = True
            continue
        feeds = {
            inp.name: np.load(os.path.join(folder, f"{name}.input{i}.npy"))
            for i, inp in enumerate(session.get_inputs())
        }
        got = session.run(None, feeds)[0]
        want = np.load(os.path.join(folder, f"{name}.neurite.npy"))
        diff = float(np.max(np.abs(got - want) / (1.0 + np.abs(want))))
        results[name] = diff
        failed |= not diff <= 1e-5
    print(json.dumps({"onnxruntime": ort.__version__, "max_rel_diff": results}, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1])
