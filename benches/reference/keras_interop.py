"""Makes the Keras 3 fixtures of neurite's `.keras` / `.weights.h5` import tests.

Run with the reference virtualenv (keras 3, TensorFlow backend, h5py):

    KERAS_BACKEND=tensorflow /tmp/ref-venv/bin/python benches/reference/keras_interop.py tests/fixtures/keras

For each model it writes `<name>.keras` (Keras' own `model.save`), `<name>.input*.npy`
(float32 inputs) and `<name>.output.npy` (Keras' `predict`, float32). `mlp.weights.h5` is
`model.save_weights` of the `mlp` model, `mlp.config.json` the `config.json` inside `mlp.keras`. The models together hold every layer class that
neurite and Keras both have (Sequential and functional models, a residual block, a model
with two inputs), with non-trivial weights (BatchNormalization's moving statistics too).
The script checks what it wrote: the saved file loads in Keras and predicts the same.
"""

import json
import os
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/keras"
RNG = np.random.default_rng(19)


def randomize(model):
    """Every weight redrawn (so biases and BN statistics are not trivially 0/1)."""
    for layer in model.layers:
        for w in layer.weights:
            shape = tuple(w.shape)
            if "moving_variance" in w.path:
                value = RNG.uniform(0.5, 1.5, shape)
            else:
                value = RNG.normal(0.0, 0.3, shape)
            w.assign(value.astype("float32"))


def mlp():
    m = keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01)),
            layers.BatchNormalization(),
            layers.Dropout(0.2),
            layers.Dense(12, activation="tanh", kernel_initializer="he_normal"),
            layers.LayerNormalization(),
            layers.PReLU(),
            layers.Dense(10, use_bias=False),
            layers.LeakyReLU(negative_slope=0.1),
            layers.ReLU(max_value=2.0),
            layers.Dense(4),
            layers.Activation("softmax"),
        ],
        name="mlp",
    )
    m.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.002),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return m, [RNG.normal(size=(5, 8))]


def cnn():
    m = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.ZeroPadding2D(1),
            layers.DepthwiseConv2D(3, depth_multiplier=2),
            layers.SeparableConv2D(5, 3, padding="same", activation="elu"),
            layers.Conv2DTranspose(3, 3, strides=2),
            layers.UpSampling2D(2),
            layers.Cropping2D(((1, 2), (2, 1))),
            layers.AveragePooling2D(3),
            layers.Conv2D(6, 2, strides=2, use_bias=False),
            layers.Flatten(),
            layers.Dense(3, activation="sigmoid"),
        ],
        name="cnn",
    )
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse", metrics=["mae"])
    return m, [RNG.normal(size=(2, 12, 12, 3))]


def rnn():
    m = keras.Sequential(
        [
            keras.Input((7,)),
            layers.Embedding(20, 6),
            layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
            layers.GRU(4, return_sequences=True),
            layers.SimpleRNN(3, return_sequences=True),
            layers.TimeDistributed(layers.Dense(2)),
            layers.LSTM(3, go_backwards=True),
            layers.Dense(2),
        ],
        name="rnn",
    )
    m.compile(optimizer="rmsprop", loss="mse")
    return m, [RNG.integers(0, 20, size=(3, 7)).astype("float32")]


def seq1d():
    m = keras.Sequential(
        [
            keras.Input((16, 3)),
            layers.Masking(mask_value=0.0),
            layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
            layers.MaxPooling1D(2),
            layers.Conv1D(5, 2, strides=1),
            layers.AveragePooling1D(2, padding="same"),
            layers.Reshape((4, 5)),
            layers.GlobalAveragePooling1D(),
            layers.Dense(3),
        ],
        name="seq1d",
    )
    return m, [RNG.normal(size=(2, 16, 3))]


def residual():
    x = keras.Input((8, 8, 3), name="image")
    y = layers.Conv2D(4, 3, padding="same", name="stem")(x)
    y = layers.BatchNormalization(name="stem_bn")(y)
    y = layers.ReLU(name="stem_relu")(y)
    z = layers.Conv2D(4, 3, padding="same")(y)
    z = layers.BatchNormalization()(z)
    z = layers.Add()([z, y])
    z = layers.Activation("relu")(z)
    a = layers.GlobalAveragePooling2D()(z)
    b = layers.GlobalMaxPooling2D()(z)
    out = layers.Dense(3, activation="softmax")(layers.Concatenate()([a, b]))
    m = keras.Model(x, out, name="residual")
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    return m, [RNG.normal(size=(2, 8, 8, 3))]


def two_inputs():
    a = keras.Input((4,), name="left")
    b = keras.Input((4,), name="right")
    da = layers.Dense(6, activation="tanh")(a)
    db = layers.Dense(6, activation="tanh")(b)
    merged = [
        layers.Add()([da, db]),
        layers.Subtract()([da, db]),
        layers.Multiply()([da, db]),
        layers.Average()([da, db]),
        layers.Maximum()([da, db]),
        layers.Minimum()([da, db]),
        layers.Dot(axes=1)([da, db]),
    ]
    out = layers.Dense(2)(layers.Concatenate()(merged))
    m = keras.Model([a, b], out, name="two_inputs")
    return m, [RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))]


def attention():
    x = keras.Input((5, 8), name="tokens")
    att = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x)
    y = layers.LayerNormalization()(layers.Add()([x, att]))
    y = layers.GlobalMaxPooling1D()(y)
    out = layers.Dense(2)(y)
    m = keras.Model(x, out, name="attention")
    return m, [RNG.normal(size=(2, 5, 8))]


def save_case(name, model, inputs):
    inputs = [i.astype("float32") for i in inputs]
    randomize(model)
    feed = inputs[0] if len(inputs) == 1 else inputs
    pred = model.predict(feed, verbose=0).astype("float32")
    path = os.path.join(OUT, f"{name}.keras")
    model.save(path)
    for i, x in enumerate(inputs):
        np.save(os.path.join(OUT, f"{name}.input{i}.npy"), x)
    np.save(os.path.join(OUT, f"{name}.output.npy"), pred)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(feed, verbose=0), pred, atol=1e-6)
    return pred


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        "mlp": mlp,
        "cnn": cnn,
        "rnn": rnn,
        "seq1d": seq1d,
        "residual": residual,
        "two_inputs": two_inputs,
        "attention": attention,
    }
    for name, make in cases.items():
        model, inputs = make()
        pred = save_case(name, model, inputs)
        if name == "mlp":
            model.save_weights(os.path.join(OUT, "mlp.weights.h5"))
            # The archive's config.json alone, for the fuzz target's valid half.
            with zipfile.ZipFile(os.path.join(OUT, "mlp.keras")) as z:
                with open(os.path.join(OUT, "mlp.config.json"), "wb") as f:
                    f.write(z.read("config.json"))
        print(name, pred.shape, file=sys.stderr)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(
            "Made by `benches/reference/keras_interop.py` with keras "
            f"{keras.__version__} ({keras.backend.backend()} backend); see that script.\n"
        )
    print(json.dumps({"keras": keras.__version__, "cases": list(cases)}))


if __name__ == "__main__":
    main()
