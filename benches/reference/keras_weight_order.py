"""Keras 3's weight order for every layer class neurite has, for
crates/neurite-nn/tests/weights_api.rs.

Run (a venv with keras 3 and keras-hub):
  KERAS_BACKEND=jax /tmp/ref-venv/bin/python benches/reference/keras_weight_order.py \
      > crates/neurite-nn/tests/fixtures/keras_weight_order.json

Each case builds one layer on symbolic inputs of the given shapes (without
the batch axis) and lists `layer.weights` -- what `layer.get_weights()`
returns, in that order -- with each variable's path, shape and trainable
flag. The ids are matched by the Rust test, which builds the same layer in
neurite and compares its `get_weights()` with this list.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import keras_hub
from keras import layers as L

CASES = [
    ("dense", lambda: L.Dense(4, name="dense"), [[3]]),
    ("dense_no_bias", lambda: L.Dense(4, use_bias=False, name="dense_no_bias"), [[3]]),
    ("conv2d", lambda: L.Conv2D(4, (3, 3), name="conv2d"), [[6, 6, 2]]),
    ("max_pooling2d", lambda: L.MaxPooling2D((2, 2), name="max_pooling2d"), [[6, 6, 2]]),
    ("average_pooling2d", lambda: L.AveragePooling2D((2, 2), name="average_pooling2d"), [[6, 6, 2]]),
    ("global_average_pooling2d", lambda: L.GlobalAveragePooling2D(name="global_average_pooling2d"), [[6, 6, 2]]),
    ("global_max_pooling2d", lambda: L.GlobalMaxPooling2D(name="global_max_pooling2d"), [[6, 6, 2]]),
    ("flatten", lambda: L.Flatten(name="flatten"), [[2, 3]]),
    ("reshape", lambda: L.Reshape((6,), name="reshape"), [[2, 3]]),
    ("dropout", lambda: L.Dropout(0.5, name="dropout"), [[3]]),
    ("activation", lambda: L.Activation("relu", name="activation"), [[3]]),
    ("batch_normalization", lambda: L.BatchNormalization(name="batch_normalization"), [[4, 4, 3]]),
    ("layer_normalization", lambda: L.LayerNormalization(name="layer_normalization"), [[5]]),
    ("embedding", lambda: L.Embedding(10, 4, name="embedding"), [[3]]),
    ("simple_rnn", lambda: L.SimpleRNN(4, name="simple_rnn"), [[5, 3]]),
    ("lstm", lambda: L.LSTM(4, name="lstm"), [[5, 3]]),
    ("gru", lambda: L.GRU(4, name="gru"), [[5, 3]]),
    ("gru_reset_before", lambda: L.GRU(4, reset_after=False, name="gru_reset_before"), [[5, 3]]),
    ("add", lambda: L.Add(name="add"), [[3], [3]]),
    ("subtract", lambda: L.Subtract(name="subtract"), [[3], [3]]),
    ("multiply", lambda: L.Multiply(name="multiply"), [[3], [3]]),
    ("average", lambda: L.Average(name="average"), [[3], [3]]),
    ("maximum", lambda: L.Maximum(name="maximum"), [[3], [3]]),
    ("minimum", lambda: L.Minimum(name="minimum"), [[3], [3]]),
    ("concatenate", lambda: L.Concatenate(name="concatenate"), [[3], [2]]),
    ("dot", lambda: L.Dot(axes=1, name="dot"), [[3], [3]]),
    ("zero_padding2d", lambda: L.ZeroPadding2D(1, name="zero_padding2d"), [[4, 4, 2]]),
    ("cropping2d", lambda: L.Cropping2D(1, name="cropping2d"), [[4, 4, 2]]),
    ("up_sampling2d", lambda: L.UpSampling2D(2, name="up_sampling2d"), [[4, 4, 2]]),
    ("re_lu", lambda: L.ReLU(name="re_lu"), [[4]]),
    ("leaky_re_lu", lambda: L.LeakyReLU(name="leaky_re_lu"), [[4]]),
    ("p_re_lu", lambda: L.PReLU(name="p_re_lu"), [[4]]),
    ("conv2d_transpose", lambda: L.Conv2DTranspose(4, (3, 3), name="conv2d_transpose"), [[5, 5, 2]]),
    ("depthwise_conv2d", lambda: L.DepthwiseConv2D((3, 3), depth_multiplier=2, name="depthwise_conv2d"), [[5, 5, 2]]),
    ("separable_conv2d", lambda: L.SeparableConv2D(4, (3, 3), name="separable_conv2d"), [[5, 5, 2]]),
    ("conv1d", lambda: L.Conv1D(4, 3, name="conv1d"), [[6, 2]]),
    ("max_pooling1d", lambda: L.MaxPooling1D(2, name="max_pooling1d"), [[6, 2]]),
    ("average_pooling1d", lambda: L.AveragePooling1D(2, name="average_pooling1d"), [[6, 2]]),
    ("global_max_pooling1d", lambda: L.GlobalMaxPooling1D(name="global_max_pooling1d"), [[6, 2]]),
    ("global_average_pooling1d", lambda: L.GlobalAveragePooling1D(name="global_average_pooling1d"), [[6, 2]]),
    ("time_distributed", lambda: L.TimeDistributed(L.Dense(4), name="time_distributed"), [[5, 3]]),
    ("bidirectional_lstm", lambda: L.Bidirectional(L.LSTM(4), name="bidirectional_lstm"), [[5, 3]]),
    ("bidirectional_gru", lambda: L.Bidirectional(L.GRU(3), name="bidirectional_gru"), [[5, 3]]),
    ("multi_head_attention", lambda: L.MultiHeadAttention(2, 3, name="multi_head_attention"), [[4, 5], [4, 5]]),
    ("position_embedding", lambda: keras_hub.layers.PositionEmbedding(6, name="position_embedding"), [[6, 4]]),
    ("token_and_position_embedding",
     lambda: keras_hub.layers.TokenAndPositionEmbedding(10, 6, 4, name="token_and_position_embedding"), [[6]]),
    ("transformer_encoder", lambda: keras_hub.layers.TransformerEncoder(8, 2, name="transformer_encoder"), [[5, 6]]),
    ("transformer_decoder", lambda: keras_hub.layers.TransformerDecoder(8, 2, name="transformer_decoder"), [[5, 6]]),
    ("transformer_decoder_cross",
     lambda: keras_hub.layers.TransformerDecoder(8, 2, name="transformer_decoder_cross"), [[5, 6], [4, 6]]),
    ("masking", lambda: L.Masking(name="masking"), [[5, 3]]),
]


def build(layer, shapes):
    inputs = [keras.Input(shape=tuple(s)) for s in shapes]
    if isinstance(layer, (L.MultiHeadAttention, keras_hub.layers.TransformerDecoder)):
        layer(*inputs)
    elif len(inputs) == 1:
        layer(inputs[0])
    else:
        layer(inputs)


cases = []
for case_id, make, shapes in CASES:
    layer = make()
    build(layer, shapes)
    cases.append({
        "id": case_id,
        "class_name": type(layer).__name__,
        "input_shapes": shapes,
        "weights": [
            {"path": v.path, "shape": list(v.shape), "trainable": bool(v.trainable)}
            for v in layer.weights
        ],
    })
    # get_weights() is layer.weights' values, in that order.
    assert [list(w.shape) for w in layer.get_weights()] == [c["shape"] for c in cases[-1]["weights"]]

json.dump({"keras_version": keras.__version__, "keras_hub_version": keras_hub.__version__,
           "backend": keras.backend.backend(), "cases": cases}, fp=__import__("sys").stdout, indent=1)
