"""The five end-to-end workloads of issue 9 in PyTorch (reference for neurite's e2e bench).

    python torch_workloads.py                      # all five, one JSON line each
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


def adam(model):
    # Keras' defaults (lr 1e-3, eps 1e-7), as neurite's Adam::default().
    return torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def setup(workload, n):
    rng = np.random.default_rng(42)
    labels = torch.from_numpy((np.arange(n) * 7 % common.CLASSES).astype(np.int64))
    if workload.startswith("cnn"):
        x = torch.from_numpy(rng.random((n, 1, 28, 28), dtype=np.float32))
        model = cnn()
        return model, adam(model), nn.CrossEntropyLoss(), x, labels
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

        if workload == "cnn-predict":
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
