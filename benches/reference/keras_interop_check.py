"""Checks that Keras 3 loads neurite's `.keras` exports and predicts what neurite predicted.

    NEURITE_KERAS_EXPORT_DIR=/tmp/neurite-keras-export cargo test --release --test keras_interop exports_import_back
    KERAS_BACKEND=tensorflow /tmp/ref-venv/bin/python benches/reference/keras_interop_check.py /tmp/neurite-keras-export

For every `<name>.keras` in the folder (written by the test above, with `<name>.input<i>.npy`
and neurite's predictions `<name>.neurite.npy`), loads it with `keras.saving.load_model`,
predicts on the inputs and prints the largest absolute difference to neurite's predictions;
exits non-zero if one exceeds 1e-5 or a file does not load. Also builds each model afresh from
the archive's config and loads `<name>.weights.h5` (neurite's `save_keras_weights`) into it with
`model.load_weights`, and compares its predictions the same way.
"""

import glob
import json
import os
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def main(folder):
    results, weight_results = {}, {}
    failed = False
    for path in sorted(glob.glob(os.path.join(folder, "*.keras"))):
        name = os.path.basename(path)[: -len(".keras")]
        try:
            model = keras.saving.load_model(path)
        except Exception as e:  # noqa: BLE001 - report every failure
            results[name] = f"load failed: {type(e).__name__}: {e}"[:400]
            failed = True
            continue
        inputs = []
        i = 0
        while os.path.exists(os.path.join(folder, f"{name}.input{i}.npy")):
            inputs.append(np.load(os.path.join(folder, f"{name}.input{i}.npy")))
            i += 1
        feed = inputs[0] if len(inputs) == 1 else inputs
        got = model.predict(feed, verbose=0)
        want = np.load(os.path.join(folder, f"{name}.neurite.npy"))
        diff = float(np.max(np.abs(got - want)))
        results[name] = diff
        failed |= not diff <= 1e-5
        weights = os.path.join(folder, f"{name}.weights.h5")
        if os.path.exists(weights):
            # A fresh model from the same config, weights from neurite's .weights.h5.
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
            fresh = keras.saving.deserialize_keras_object(config)
            try:
                fresh.load_weights(weights)
                diff = float(np.max(np.abs(fresh.predict(feed, verbose=0) - want)))
                weight_results[name] = diff
                failed |= not diff <= 1e-5
            except Exception as e:  # noqa: BLE001 - report every failure
                weight_results[name] = f"load_weights failed: {type(e).__name__}: {e}"[:400]
                failed = True
    print(json.dumps({"keras": keras.__version__, "max_abs_diff": results,
                      "load_weights_max_abs_diff": weight_results}, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1])
