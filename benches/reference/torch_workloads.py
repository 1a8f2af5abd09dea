"""The end-to-end workloads of issues 9, 16 and 17 in PyTorch (reference for neurite's e2e bench).

    python torch_workloads.py                      # all ten, one JSON line each
    python torch_workloads.py --workload cnn-train --batch 32 [--steps N --warmup N --repeats R]

Same models, optimizers, losses, data shapes and sizes as `benches/src/bin/e2e.rs`:
the softmax + cross-entropy of the Keras models is PyTorch's usual fused
`CrossEntropyLoss` on logits (inference applies the softmax, as Keras' output
layer does). Images are NCHW, PyTorch's native layout. A training run is one
epoch: a fresh permutation, then for every batch gather -> zero_grad -> forward ->
loss -> backward -> step, the loop a PyTorch user writes. Prediction runs in
`torch.inference_mode()` with the model in eval mode.

`--dtype-policy mixed_bfloat16` is PyTorch's standard CPU mixed-precision recipe:
`torch.autocast("cpu", dtype=torch.bfloat16)` around forward + loss (and around
the forward pass of prediction), weights and the optimizer in float32, backward
outside the autocast region; the framework is then reported as `pytorch-bf16`.

The residual network (`resnet-train`, `resnet-predict`; issue 16's model, as
`examples/resnet.rs`) keeps Keras' initialisers (Glorot uniform kernels, zero
biases, BN gamma 1 / beta 0) and Keras' BatchNormalization defaults: PyTorch's
momentum 0.01 is Keras' 0.99 (PyTorch weighs the new batch by `momentum`), eps
1e-3. Its `same` padding is PyTorch's `padding=k//2` (for the stride-2 3x3
convolution this pads one row/column on both sides where Keras pads only
bottom/right: the same output shape and work).

The text classifiers of issue 17 (`text-conv-train`, `bilstm-train`,
`transformer-train`; `benches/src/bin/e2e/text.rs`) read int64 token ids (no
padding mask). `conv` is Embedding -> Conv1d over the (batch, 64, 100)
transpose -> ReLU -> max over time -> Linear(64) -> ReLU -> Dropout(0.5) ->
Linear(6); `bilstm` is `nn.LSTM(bidirectional=True)` whose two final hidden
states (forward after the last step, backward after the first) are
concatenated, as Keras' `Bidirectional(LSTM(64))`; `transformer` is keras-hub's
post-norm `TransformerEncoder` written with `nn.MultiheadAttention` (2 heads,
attention dropout 0.1) + dropout + residual + LayerNorm(eps 1e-5), then
Linear(128) -> ReLU -> Linear(64) -> dropout + residual + LayerNorm, after the
token embedding plus a learned position embedding, then the mean over time ->
Linear(6). Weights keep PyTorch's initialisers (the speed does not depend on them).

Each timed run is one call (one epoch loop, one pass of prediction) after a
warm-up run of the same length in the same process; the seconds of its 4
consecutive chunks of batches are reported too (`chunk_secs`).
"""

import contextlib

import common

ARGS = common.parse_args(__doc__)
common.set_thread_env(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(ARGS.threads)
torch.set_num_interop_threads(1)
torch.manual_seed(0)


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 3 * 64, 64), nn.ReLU(),
        nn.Linear(64, common.CLASSES),
    )


class LstmClassifier(nn.Module):
    """LSTM(64) over the sequence, its last output -> Dense(10)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(common.LSTM_FEATURES, common.LSTM_UNITS, batch_first=True)
        self.dense = nn.Linear(common.LSTM_UNITS, common.CLASSES)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.dense(h[-1])


class ConvBn(nn.Sequential):
    """Conv2d(k x k, stride, same, no bias) -> BatchNorm2d (Keras' defaults) [-> ReLU]."""

    def __init__(self, cin, cout, k, stride, relu):
        layers = [
            nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
            nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
        ]
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class Block(nn.Module):
    """ReLU(skip(x) + BN(Conv(ReLU(BN(Conv(x)))))), skip a 1x1 Conv-BN where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(ConvBn(cin, cout, 3, stride, True), ConvBn(cout, cout, 3, 1, False))
        self.skip = ConvBn(cin, cout, 1, stride, False) if stride != 1 or cin != cout else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.skip(x) + self.body(x))


class ResNet(nn.Module):
    """Issue 16's residual CNN: stem, four blocks, global average pooling, Linear(10)."""

    def __init__(self):
        super().__init__()
        layers, cin = [ConvBn(1, common.RESNET_STEM, 3, 1, True)], common.RESNET_STEM
        for filters, stride in common.RESNET_BLOCKS:
            layers.append(Block(cin, filters, stride))
            cin = filters
        self.features = nn.Sequential(*layers)
        self.dense = nn.Linear(cin, common.CLASSES)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)  # Keras' glorot_uniform
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.dense(self.features(x).mean(dim=(2, 3)))


class TextConv(nn.Module):
    """Embedding -> Conv1D(64, 5, relu) -> global max pooling -> Dense(64, relu) -> Dropout -> Dense(6)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(common.TEXT_VOCAB, common.TEXT_EMBED)
        self.conv = nn.Conv1d(common.TEXT_EMBED, common.TEXT_FILTERS, common.TEXT_KERNEL)
        self.head = nn.Sequential(
            nn.Linear(common.TEXT_FILTERS, common.TEXT_HIDDEN), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(common.TEXT_HIDDEN, common.TEXT_CLASSES),
        )

    def forward(self, ids):
        x = self.embedding(ids).transpose(1, 2)  # (batch, embed, time): Conv1d's layout
        return self.head(torch.relu(self.conv(x)).amax(dim=2))


class BiLstm(nn.Module):
    """Embedding -> Bidirectional(LSTM(64)) (the two final states, concatenated) -> Dense(6)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(common.TEXT_VOCAB, common.TEXT_EMBED)
        self.lstm = nn.LSTM(common.TEXT_EMBED, common.TEXT_LSTM, batch_first=True, bidirectional=True)
        self.dense = nn.Linear(2 * common.TEXT_LSTM, common.TEXT_CLASSES)

    def forward(self, ids):
        _, (h, _) = self.lstm(self.embedding(ids))
        return self.dense(torch.cat([h[0], h[1]], dim=1))


class TextTransformer(nn.Module):
    """Token + position embedding -> keras-hub's TransformerEncoder (post-norm) -> mean over time -> Dense(6)."""

    def __init__(self):
        super().__init__()
        d, rate = common.TEXT_EMBED, common.TEXT_DROPOUT
        self.tokens = nn.Embedding(common.TEXT_VOCAB, d)
        self.positions = nn.Embedding(common.TEXT_LEN, d)
        self.attention = nn.MultiheadAttention(d, common.TEXT_HEADS, dropout=rate, batch_first=True)
        self.attention_dropout = nn.Dropout(rate)
        self.attention_norm = nn.LayerNorm(d, eps=1e-5)
        self.feed_forward = nn.Sequential(
            nn.Linear(d, common.TEXT_FF), nn.ReLU(), nn.Linear(common.TEXT_FF, d), nn.Dropout(rate),
        )
        self.feed_forward_norm = nn.LayerNorm(d, eps=1e-5)
        self.dense = nn.Linear(d, common.TEXT_CLASSES)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions.weight[: ids.shape[1]]
        a, _ = self.attention(x, x, x, need_weights=False)
        x = self.attention_norm(x + self.attention_dropout(a))
        x = self.feed_forward_norm(x + self.feed_forward(x))
        return self.dense(x.mean(dim=1))


TEXT_MODELS = {"text-conv-train": TextConv, "bilstm-train": BiLstm, "transformer-train": TextTransformer}


def adam(model):
    # Keras' defaults (lr 1e-3, eps 1e-7), as neurite's Adam::default().
    return torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def setup(workload, n):
    rng = np.random.default_rng(42)
    labels = torch.from_numpy((np.arange(n) * 7 % common.CLASSES).astype(np.int64))
    if workload.startswith("cnn") or workload.startswith("resnet"):
        x = torch.from_numpy(rng.random((n, 1, 28, 28), dtype=np.float32))
        model = cnn() if workload.startswith("cnn") else ResNet()
        return model, adam(model), nn.CrossEntropyLoss(), x, labels
    if workload in common.TEXT_WORKLOADS:
        ids, text_labels = common.text_data(n)
        model = TEXT_MODELS[workload]()
        return model, adam(model), nn.CrossEntropyLoss(), torch.from_numpy(ids), torch.from_numpy(text_labels)
    if workload == "mlp-train":
        model = nn.Sequential(
            nn.Linear(common.MLP_INPUT, common.MLP_HIDDEN), nn.ReLU(),
            nn.Linear(common.MLP_HIDDEN, common.CLASSES),
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        x = torch.from_numpy(rng.standard_normal((n, common.MLP_INPUT), dtype=np.float32))
        one_hot = nn.functional.one_hot(labels, common.CLASSES).float()
        return model, opt, nn.CrossEntropyLoss(), x, one_hot
    model = LstmClassifier()
    shape = (n, common.LSTM_STEPS, common.LSTM_FEATURES)
    x = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
    return model, adam(model), nn.CrossEntropyLoss(), x, labels


def precision():
    """The autocast context of the chosen policy (a no-op for float32)."""
    if ARGS.dtype_policy == "mixed_bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def main():
    framework = "pytorch-bf16" if ARGS.dtype_policy == "mixed_bfloat16" else "pytorch"
    for workload, batch, steps in common.runs_of(ARGS):
        n = steps * batch
        model, opt, loss_fn, x, y = setup(workload, n)

        if workload.endswith("-predict"):
            model.eval()

            def run_once(clock):
                out = []
                with torch.inference_mode(), precision():
                    for step, i in enumerate(range(0, n, batch)):
                        out.append(torch.softmax(model(x[i:i + batch]), dim=1).float())
                        clock.batch_end(step)
                return torch.cat(out)
        else:
            model.train()

            def run_once(clock):
                perm = torch.randperm(n)
                for step, i in enumerate(range(0, n, batch)):
                    idx = perm[i:i + batch]
                    xb, yb = x[idx], y[idx]
                    opt.zero_grad(set_to_none=True)
                    with precision():
                        loss = loss_fn(model(xb), yb)
                    loss.backward()
                    opt.step()
                    clock.batch_end(step)

        rates, chunks = common.measure(run_once, n, steps, ARGS.warmup, ARGS.repeats)
        common.emit(framework, torch.__version__, workload, batch, steps, ARGS.threads, rates, chunks,
                    ARGS.dtype_policy)


if __name__ == "__main__":
    main()
