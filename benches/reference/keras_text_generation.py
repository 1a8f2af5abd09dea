"""The character-level language models of `examples/text_generation.rs` (issue #17), in Keras 3, on the same split.

neurite's example writes the split it used (`--save-split FILE`: JSON {"train": [...], "validation": [...]},
paths relative to --data, training documents in the order their text is concatenated); this script trains
the same model on the same text and prints the validation loss per character as one JSON line:

    cargo run --release --example text_generation -- --data DIR --save-split /tmp/split.json
    python keras_text_generation.py --data DIR --split /tmp/split.json [--model lstm|transformer]

As the example: each document is its text without a leading byte-order mark and trailing whitespace, then a
blank line; the vocabulary is the training text's characters (id 0 padding, 1 unknown, then by count
descending, ties by character descending: neurite's and Keras' `TextVectorization` order); windows of
--seq-len characters predict the next character at every step; training windows do not overlap and start at
a random offset in 0..L each epoch (numpy's generator here, so not the same offsets as neurite's), validation
windows start at 0. Models:
  lstm:        Embedding(V, 64) -> LSTM(256, return_sequences) -> Dense(V, softmax)
  transformer: token + learned position embedding (128) -> 2 x keras-hub's TransformerDecoder without
               cross-attention (causal self-attention with 4 heads, key_dim 32; add; LayerNormalization(1e-5);
               Dense(256, relu) -> Dense(128); add; LayerNormalization(1e-5); no dropout), written with Keras'
               layers -> Dense(V, softmax)
Adam (1e-3), sparse categorical cross-entropy, batch 64, --epochs (10).

Backends and the Embedding's gradient (issue #17, session 13): on the TensorFlow backend the Embedding's
gradient is a `tf.IndexedSlices` holding one row per occurrence of an id in the batch, and Keras 3's Adam
squares those rows before adding them up (`ops.square` maps the slices' values), so the second moment `v` of
an embedding row gets the sum of the squares of its per-occurrence gradients instead of the square of their
sum. For a character seen n times in a batch with gradients of one sign that makes `v` up to n times smaller
and the row's step up to sqrt(n) times larger than Adam's. The JAX backend (dense gradients) runs plain Adam,
as neurite and PyTorch do. `--dense-gradients` densifies the slices before Adam on the TensorFlow backend
(plain Adam there too), for a like-for-like comparison with neurite.
"""
import argparse
import json
import math
import os
import time
from collections import Counter

import numpy as np


def read(data, rel_paths):
    docs = []
    for rel in rel_paths:
        with open(os.path.join(data, rel), "rb") as f:
            text = f.read().decode("utf-8")
        text = text.lstrip("\ufeff").rstrip()
        if text:
            docs.append(text + "\n\n")
    return docs


def vocabulary(text):
    """["", "[UNK]", then characters by count descending, ties by character descending]."""
    counts = Counter(text)
    ordered = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    return ["", "[UNK]"] + [c for c, _ in ordered]


def windows(ids, length, offset):
    starts = np.arange(offset, len(ids) - length, length)
    idx = starts[:, None] + np.arange(length)[None, :]
    return ids[idx], ids[idx + 1]


def dense_gradient_adam(learning_rate):
    """Keras' Adam with every `tf.IndexedSlices` gradient made dense first (duplicate ids summed)."""
    import keras
    import tensorflow as tf

    class DenseGradientAdam(keras.optimizers.Adam):
        def apply_gradients(self, grads_and_vars):
            return super().apply_gradients(
                [(tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g, v) for g, v in grads_and_vars]
            )

    return DenseGradientAdam(learning_rate)


def build(model, vocab, seq_len, dense_gradients=False):
    import keras
    from keras import layers

    inputs = keras.Input(shape=(seq_len,), dtype="int32")
    if model == "lstm":
        x = layers.Embedding(vocab, 64)(inputs)
        x = layers.LSTM(256, return_sequences=True)(x)
    else:
        class TokenAndPositionEmbedding(layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.tokens = layers.Embedding(vocab, 128)
                self.positions = layers.Embedding(seq_len, 128)

            def call(self, ids):
                return self.tokens(ids) + self.positions(keras.ops.arange(keras.ops.shape(ids)[1]))

        x = TokenAndPositionEmbedding()(inputs)
        for _ in range(2):
            a = layers.MultiHeadAttention(4, 32)(x, x, use_causal_mask=True)
            x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, a]))
            f = layers.Dense(128)(layers.Dense(256, activation="relu")(x))
            x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, f]))
    outputs = layers.Dense(vocab, activation="softmax")(x)
    m = keras.Model(inputs, outputs)
    optimizer = dense_gradient_adam(1e-3) if dense_gradients else keras.optimizers.Adam(1e-3)
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--model", default="lstm", choices=["lstm", "transformer"])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seq-len", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dense-gradients", action="store_true",
                    help="TensorFlow backend: densify the Embedding's IndexedSlices gradient before Adam")
    args = ap.parse_args()
    import keras

    if args.dense_gradients and keras.backend.backend() != "tensorflow":
        ap.error("--dense-gradients is for the TensorFlow backend (the other backends' gradients are dense)")

    keras.utils.set_random_seed(args.seed)
    with open(args.split) as f:
        split = json.load(f)
    train_text = "".join(read(args.data, split["train"]))
    val_text = "".join(read(args.data, split["validation"]))
    vocab = vocabulary(train_text)
    index = {c: i for i, c in enumerate(vocab)}
    train_ids = np.array([index[c] for c in train_text], dtype=np.int32)
    val_ids = np.array([index.get(c, 1) for c in val_text], dtype=np.int32)
    x_val, y_val = windows(val_ids, args.seq_len, 0)
    m = build(args.model, len(vocab), args.seq_len, args.dense_gradients)
    rng = np.random.default_rng(args.seed)
    losses, seconds = [], 0.0
    for epoch in range(args.epochs):
        x, y = windows(train_ids, args.seq_len, int(rng.integers(0, args.seq_len)))
        start = time.time()
        m.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=True, verbose=0)
        seconds += time.time() - start
        loss = float(m.evaluate(x_val, y_val, batch_size=args.batch_size, verbose=0))
        losses.append(round(loss, 4))
        print(f"epoch {epoch + 1}/{args.epochs}: val_loss {loss:.4f} (perplexity {math.exp(loss):.2f})", flush=True)
    print(json.dumps({
        "framework": "keras-" + keras.backend.backend(),
        "dense_gradients": args.dense_gradients,
        "model": args.model,
        "epochs": args.epochs,
        "vocabulary_size": len(vocab),
        "train_chars": len(train_ids),
        "val_chars": len(val_ids),
        "val_loss": losses[-1] if losses else None,
        "val_loss_per_epoch": losses,
        "fit_seconds": round(seconds, 1),
    }))


if __name__ == "__main__":
    main()
