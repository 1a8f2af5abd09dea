"""The text classifiers of `examples/text_classification.rs` (issue #17), in Keras 3, on the same split.

neurite's example writes the split it used (`--save-split FILE`: JSON {"train": [...], "test": [...]}, paths
relative to --data); this script trains the same model on the same training files and prints its test
accuracy as one JSON line, so both accuracies come from the same data:

    cargo run --release --example text_classification -- --data DIR --save-split /tmp/split.json
    python keras_text_classification.py --data DIR --split /tmp/split.json [--model conv|lstm|transformer]

Models (as the example): TextVectorization(words, max_tokens 20000, sequence_length 100) ->
Embedding(20000, 64, mask_zero) ->
  conv:        Conv1D(64, 5, relu) -> GlobalMaxPooling1D -> Dense(64, relu) -> Dropout(0.5) -> Dense(classes, softmax)
  lstm:        Bidirectional(LSTM(64)) -> Dense(classes, softmax)
  transformer: + learned position embedding -> TransformerEncoder(2 heads, intermediate 128) ->
               GlobalAveragePooling1D -> Dense(classes, softmax)
Adam (1e-3), sparse categorical cross-entropy, batch 32, --epochs (10). Keras' default initialisers, as
neurite's: Embedding/TokenAndPositionEmbedding uniform(-0.05, 0.05); LSTM glorot_uniform kernel, orthogonal
recurrent kernel, unit forget bias; TransformerEncoder (keras-hub 0.32: post-norm, relu, epsilon 1e-5,
dropout 0.1 on the attention probabilities and after each sub-block) glorot_uniform kernels, zero biases.
`transformer` needs keras-hub (`pip install --no-deps keras-hub regex tokenizers kagglehub sentencepiece`
keeps the installed keras/tensorflow; keras-hub's full requirements pull tensorflow-text and with it the
`tensorflow` package next to `tensorflow_cpu`).
The mask of id 0 (padding) reaches the LSTMs, the attention and the average pooling; Conv1D drops it
(Keras' Conv1D does not support masking), as neurite's layers do.

`--threads N` (default 1) limits TensorFlow to N intra-op and N inter-op threads (set before TensorFlow
starts; also pass TF_NUM_INTRAOP_THREADS/TF_NUM_INTEROP_THREADS/OMP_NUM_THREADS to be sure), and with 1
sets XLA_FLAGS for one thread under `KERAS_BACKEND=jax`, so an accuracy run stays on one core as
neurite's `RAYON_NUM_THREADS=1` does.

Backends differ in one way that matters here: on TensorFlow the Embedding's gradient is a
`tf.IndexedSlices` with one slice per occurrence of a token, and Keras 3's Adam squares it slice by slice
(`ops.square` keeps the slices) before `scatter_add`, so a token seen k times in a batch gets
v += (1 - beta_2) * sum(g_i^2) instead of (sum g_i)^2, and its step differs from textbook Adam's: larger
(up to sqrt(k) times at the first step) when the occurrences' gradients agree in sign, and it can be
smaller when they disagree. JAX (and neurite) apply Adam to the dense gradient. With equal weights and
batches, neurite follows Keras-JAX (batch losses within 1e-6 over 40 Adam steps for lstm, 2e-5 over 20
for transformer without dropout), while Keras-TF's embedding table leaves it at the first step;
tests/text_adam_keras.rs pins this.
"""
import argparse
import json
import os
import time

import numpy as np


def read(data, rel_paths):
    texts, labels = [], []
    for rel in rel_paths:
        with open(os.path.join(data, rel), "rb") as f:
            text = f.read().decode("utf-8")
        texts.append(text[1:] if text.startswith("\ufeff") else text)
        labels.append(rel.split("/")[0])
    return texts, labels


def build(model, classes):
    import keras
    from keras import layers

    # The vectorizer runs outside the model (on any backend), as neurite's example does.
    inputs = keras.Input(shape=(100,), dtype="int32")
    x = inputs
    if model == "transformer":
        import keras_hub

        x = keras_hub.layers.TokenAndPositionEmbedding(20000, 100, 64, mask_zero=True)(x)
        x = keras_hub.layers.TransformerEncoder(intermediate_dim=128, num_heads=2, dropout=0.1)(x)
        x = layers.GlobalAveragePooling1D()(x)
    else:
        x = layers.Embedding(20000, 64, mask_zero=True)(x)
        if model == "conv":
            x = layers.Conv1D(64, 5, activation="relu")(x)
            x = layers.GlobalMaxPooling1D()(x)
            x = layers.Dense(64, activation="relu")(x)
            x = layers.Dropout(0.5)(x)
        else:
            x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    m = keras.Model(inputs, outputs)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--model", default="conv", choices=["conv", "lstm", "transformer"])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    if args.threads == 1:  # JAX backend (KERAS_BACKEND=jax): XLA's CPU client on one thread
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    keras.utils.set_random_seed(args.seed)
    with open(args.split) as f:
        split = json.load(f)
    train_x, train_names = read(args.data, split["train"])
    test_x, test_names = read(args.data, split["test"])
    classes = sorted(set(train_names) | set(test_names))
    train_y = np.array([classes.index(c) for c in train_names])
    test_y = np.array([classes.index(c) for c in test_names])
    vectorizer = keras.layers.TextVectorization(max_tokens=20000, output_sequence_length=100)
    vectorizer.adapt(train_x)
    train_ids = np.asarray(vectorizer(train_x))
    test_ids = np.asarray(vectorizer(test_x))
    m = build(args.model, len(classes))
    start = time.time()
    m.fit(train_ids, train_y, batch_size=32, epochs=args.epochs, verbose=0)
    seconds = time.time() - start
    _, accuracy = m.evaluate(test_ids, test_y, batch_size=32, verbose=0)
    print(json.dumps({
        "framework": "keras-" + keras.backend.backend(),
        "model": args.model,
        "epochs": args.epochs,
        "train_samples": len(train_x),
        "test_samples": len(test_x),
        "test_accuracy": round(float(accuracy), 4),
        "fit_seconds": round(seconds, 1),
        "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
