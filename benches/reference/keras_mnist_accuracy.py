"""Accuracy reference: the mnist_cnn model in Keras 3 (TF backend), 5 epochs, batch 32.

Usage: python keras_mnist_accuracy.py SEED [MNIST_DIR]  (prints the test accuracy after each epoch)
"""
import gzip, json, sys, time, numpy as np, os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras
def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)
d = (sys.argv[2] if len(sys.argv) > 2 else "../shared/data/mnist").rstrip("/") + "/"
xtr = idx(d + "train-images-idx3-ubyte.gz")[..., None].astype("float32") / 255
ytr = idx(d + "train-labels-idx1-ubyte.gz").astype("int32")
xte = idx(d + "t10k-images-idx3-ubyte.gz")[..., None].astype("float32") / 255
yte = idx(d + "t10k-labels-idx1-ubyte.gz").astype("int32")
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
keras.utils.set_random_seed(seed)
m = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
m.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(), metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
t = time.time()
h = m.fit(xtr, ytr, epochs=5, batch_size=32, verbose=2, validation_data=(xte, yte))
print(json.dumps({"framework": "keras-tf", "seed": seed, "val_accuracy": h.history["val_accuracy"], "seconds": time.time() - t}))
