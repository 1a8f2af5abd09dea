"""The end-to-end workloads of issues 9, 16 and 17 in Keras 3 (reference for neurite's e2e bench).

    KERAS_BACKEND=tensorflow python keras_workloads.py        # or KERAS_BACKEND=jax
    KERAS_BACKEND=jax python keras_workloads.py --workload cnn-train --batch 32

Same models, optimizers, losses, data shapes and sizes as `benches/src/bin/e2e.rs`
(NHWC images, softmax outputs, sparse or one-hot cross-entropy, Adam with Keras'
defaults, SGD(0.01, momentum 0.9, Nesterov) for the MLP; the residual network of
issue 16 written with the functional API, as `examples/resnet.rs`). A training run is one
`model.fit(x, y, batch_size=B, epochs=1, shuffle=True, verbose=0)` over the whole
synthetic set; a prediction run is one `model.predict(x, batch_size=B, verbose=0)`.
Keras' defaults are kept (`jit_compile="auto"`), i.e. what a Keras user gets; the
warm-up run (a `fit`/`predict` of the same length, in the same process) absorbs
tracing, compilation and the first `fit`'s start-up, and each timed run is one
long call, so Keras' per-call start-up is a small part of it. The framework is
reported as `keras-<backend>`.

The text classifiers of issue 17 (`text-conv-train`, `bilstm-train`,
`transformer-train`; `benches/src/bin/e2e/text.rs`) are those of
`examples/text_classification.rs` on int32 token ids, without `mask_zero`
(masking is not in these workloads). The transformer is keras-hub's
`TokenAndPositionEmbedding` + post-norm `TransformerEncoder(128, 2 heads,
dropout 0.1)` written with Keras' own layers (keras-hub is not needed): token
and learned position embeddings added, `MultiHeadAttention(2, key_dim 32,
dropout 0.1)` -> Dropout -> Add -> LayerNormalization(1e-5) -> Dense(128, relu)
-> Dense(64) -> Dropout -> Add -> LayerNormalization(1e-5).

`--dtype-policy mixed_bfloat16` sets `keras.mixed_precision.set_global_policy(
"mixed_bfloat16")` before the model is built (bf16 compute, float32 variables),
with the output softmax as a separate float32 `Activation` layer as Keras' mixed
precision guide does, so outputs and loss stay in float32; the framework is then
reported as `keras-<backend>-mixed_bfloat16`.

A callback notes the time at the end of each of 4 consecutive chunks of batches
of every run (`chunk_secs` in the JSON line), waiting for that batch's results
first (JAX dispatches asynchronously); it runs 4 times per run. The first chunk
starts at `on_train_begin`/`on_predict_begin`, after the call's own set-up (which
is in the run's time, not in the slowdown check).
"""

import os

import common

ARGS = common.parse_args(__doc__)
common.set_thread_env(ARGS.threads)
BACKEND = os.environ.setdefault("KERAS_BACKEND", "tensorflow")

if BACKEND == "tensorflow":
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(ARGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def backend_version():
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return f"keras {keras.__version__}, tensorflow {tf.__version__}"
    if BACKEND == "jax":
        import jax

        return f"keras {keras.__version__}, jax {jax.__version__}"
    return f"keras {keras.__version__}, {BACKEND}"


if ARGS.dtype_policy == "mixed_bfloat16":
    keras.mixed_precision.set_global_policy("mixed_bfloat16")


def output_layers(classes=common.CLASSES):
    """Dense(classes, softmax); under mixed precision its softmax in float32 (Keras' guide)."""
    if ARGS.dtype_policy == "mixed_bfloat16":
        return [layers.Dense(classes), layers.Activation("softmax", dtype="float32")]
    return [layers.Dense(classes, activation="softmax")]


def wait_for(logs):
    """Blocks until the values in a batch's logs are computed."""
    for value in (logs or {}).values():
        keras.ops.convert_to_numpy(value)


class Chunks(keras.callbacks.Callback):
    """Passes every batch end of fit/predict to a `common.ChunkClock`."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    # The first chunk starts when fit/predict starts its batches, not at the call:
    # the call's set-up (data adapter, iterator) is not a slowdown over time.
    def on_train_begin(self, logs=None):
        self.clock.begin()

    def on_predict_begin(self, logs=None):
        self.clock.begin()

    def on_train_batch_end(self, batch, logs=None):
        self.clock.batch_end(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self.clock.batch_end(batch, logs)


def cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        *output_layers(),
    ])


def conv_bn(x, filters, kernel, stride, relu):
    """Conv2D(k x k, strides, same, no bias) -> BatchNormalization (defaults) [-> ReLU]."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if relu else x


def resnet():
    """Issue 16's residual CNN: stem, four blocks, global average pooling, Dense(10)."""
    inputs = keras.Input((28, 28, 1))
    x = conv_bn(inputs, common.RESNET_STEM, 3, 1, True)
    channels = common.RESNET_STEM
    for filters, stride in common.RESNET_BLOCKS:
        y = conv_bn(x, filters, 3, stride, True)
        y = conv_bn(y, filters, 3, 1, False)
        skip = x if stride == 1 and channels == filters else conv_bn(x, filters, 1, stride, False)
        x = layers.ReLU()(layers.Add()([skip, y]))
        channels = filters
    x = layers.GlobalAveragePooling2D()(x)
    for layer in output_layers():
        x = layer(x)
    return keras.Model(inputs, x)


class TokenAndPositionEmbedding(layers.Layer):
    """keras-hub's layer of that name: a token embedding plus a learned position embedding."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tokens = layers.Embedding(common.TEXT_VOCAB, common.TEXT_EMBED)
        self.positions = layers.Embedding(common.TEXT_LEN, common.TEXT_EMBED)

    def call(self, ids):
        return self.tokens(ids) + self.positions(keras.ops.arange(keras.ops.shape(ids)[1]))


def transformer_encoder(x):
    """keras-hub's TransformerEncoder (post-norm, relu), from Keras' layers."""
    rate = common.TEXT_DROPOUT
    key_dim = common.TEXT_EMBED // common.TEXT_HEADS
    a = layers.MultiHeadAttention(common.TEXT_HEADS, key_dim, dropout=rate)(x, x)
    x = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, layers.Dropout(rate)(a)]))
    f = layers.Dense(common.TEXT_FF, activation="relu")(x)
    f = layers.Dropout(rate)(layers.Dense(common.TEXT_EMBED)(f))
    return layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, f]))


def text_model(workload):
    """The text classifier of `workload` on (TEXT_LEN,) int32 ids."""
    inputs = keras.Input((common.TEXT_LEN,), dtype="int32")
    if workload == "transformer-train":
        x = transformer_encoder(TokenAndPositionEmbedding()(inputs))
        x = layers.GlobalAveragePooling1D()(x)
    else:
        x = layers.Embedding(common.TEXT_VOCAB, common.TEXT_EMBED)(inputs)
        if workload == "text-conv-train":
            x = layers.Conv1D(common.TEXT_FILTERS, common.TEXT_KERNEL, activation="relu")(x)
            x = layers.GlobalMaxPooling1D()(x)
            x = layers.Dense(common.TEXT_HIDDEN, activation="relu")(x)
            x = layers.Dropout(0.5)(x)
        else:
            x = layers.Bidirectional(layers.LSTM(common.TEXT_LSTM))(x)
    for layer in output_layers(common.TEXT_CLASSES):
        x = layer(x)
    return keras.Model(inputs, x)


def setup(workload, n):
    keras.utils.set_random_seed(0)
    if workload in common.TEXT_WORKLOADS:
        ids, labels = common.text_data(n)
        model = text_model(workload)
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        return model, ids.astype(np.int32), labels.astype(np.int32)
    rng = np.random.default_rng(42)
    labels = (np.arange(n) * 7 % common.CLASSES).astype(np.int32)
    if workload.startswith("cnn") or workload.startswith("resnet"):
        model = cnn() if workload.startswith("cnn") else resnet()
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        return model, rng.random((n, 28, 28, 1), dtype=np.float32), labels
    if workload == "mlp-train":
        model = keras.Sequential([
            keras.Input((common.MLP_INPUT,)),
            layers.Dense(common.MLP_HIDDEN, activation="relu"),
            *output_layers(),
        ])
        sgd = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
        model.compile(optimizer=sgd, loss="categorical_crossentropy")
        x = rng.standard_normal((n, common.MLP_INPUT), dtype=np.float32)
        return model, x, np.eye(common.CLASSES, dtype=np.float32)[labels]
    model = keras.Sequential([
        keras.Input((common.LSTM_STEPS, common.LSTM_FEATURES)),
        layers.LSTM(common.LSTM_UNITS),
        *output_layers(),
    ])
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    x = rng.standard_normal((n, common.LSTM_STEPS, common.LSTM_FEATURES), dtype=np.float32)
    return model, x, labels


def main():
    version = backend_version()
    framework = f"keras-{BACKEND}"
    if ARGS.dtype_policy == "mixed_bfloat16":
        framework += "-mixed_bfloat16"
    for workload, batch, steps in common.runs_of(ARGS):
        n = steps * batch
        model, x, y = setup(workload, n)
        if workload.endswith("-predict"):
            def run_once(clock):
                return model.predict(x, batch_size=batch, verbose=0, callbacks=[Chunks(clock)])
        else:
            def run_once(clock):
                model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0,
                          callbacks=[Chunks(clock)])
        rates, chunks = common.measure(run_once, n, steps, ARGS.warmup, ARGS.repeats, sync=wait_for)
        common.emit(framework, version, workload, batch, steps, ARGS.threads, rates, chunks,
                    ARGS.dtype_policy)


if __name__ == "__main__":
    main()
