"""PyTorch state_dicts for tests/pytorch_weights.rs (neurite's PyTorch weights import).

Run (a venv with torch and safetensors):
  /tmp/ref-venv/bin/python benches/reference/pytorch_weights.py tests/fixtures/pytorch

For each small model it writes `<name>.safetensors` (the model's state_dict,
saved with safetensors.torch.save_file) and `<name>_io.safetensors` (`input`
in PyTorch's layout -- NCHW / NCW for convolutions, token ids as float32 --
and `output`, the model's output in eval mode). Batch-norm running
statistics are set to random values so that they matter.
"""
import os
import sys

import torch
from safetensors.torch import save_file
from torch import nn

torch.manual_seed(0)


class Last(nn.Module):
    """A recurrent module followed by a Linear on the last step's output."""

    def __init__(self, rnn, fc, embedding=None):
        super().__init__()
        if embedding is not None:
            self.embedding = embedding
        self.rnn = rnn
        self.fc = fc

    def forward(self, x):
        if hasattr(self, "embedding"):
            x = self.embedding(x.long())
        y, _ = self.rnn(x)
        return self.fc(y[:, -1, :])


class BiLast(nn.Module):
    """A bidirectional GRU whose two final states, concatenated, feed a Linear
    (Keras' Bidirectional(GRU) without return_sequences)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.fc(torch.cat([h[0], h[1]], dim=1))


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(6, 2, batch_first=True)

    def forward(self, x):
        return self.attention(x, x, x, need_weights=False)[0]


def randomize_batch_norm(model):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


MODELS = {
    "mlp": (nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3)), torch.randn(5, 4)),
    "cnn_bn": (
        nn.Sequential(
            nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 5)
        ),
        torch.randn(3, 2, 8, 8),
    ),
    "cnn_variants": (
        nn.Sequential(
            nn.Conv2d(2, 4, 3, groups=2),  # depthwise, multiplier 2
            nn.ConvTranspose2d(4, 3, 3, stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(3, 2),
        ),
        torch.randn(2, 2, 6, 6),
    ),
    "conv1d": (
        nn.Sequential(nn.Conv1d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2)),
        torch.randn(3, 3, 6),
    ),
    "lstm": (Last(nn.LSTM(3, 5, num_layers=2, batch_first=True), nn.Linear(5, 2)), torch.randn(4, 6, 3)),
    "gru": (BiLast(), torch.randn(4, 6, 3)),
    "embedding_lstm": (
        Last(nn.LSTM(4, 6, batch_first=True), nn.Linear(6, 3), embedding=nn.Embedding(10, 4)),
        torch.randint(0, 10, (4, 5)).float(),
    ),
    "attention": (SelfAttention(), torch.randn(2, 4, 6)),
}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, (model, x) in MODELS.items():
        randomize_batch_norm(model)
        model.eval()
        with torch.no_grad():
            y = model(x)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, os.path.join(out_dir, f"{name}.safetensors"))
        save_file({"input": x.contiguous(), "output": y.contiguous()}, os.path.join(out_dir, f"{name}_io.safetensors"))
        print(name, {k: list(v.shape) for k, v in state.items()}, "output", list(y.shape))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/pytorch")
