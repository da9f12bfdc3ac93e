"""PyTorch's half of test/scripts/onnx_import_torch.sh.

Builds small models with fixed random weights (seeded), exports each with
torch.onnx.export (opset 17, the batch dim dynamic), runs it in torch at another batch
size than the exported example, and writes the input and torch's output as raw
little-endian float32 plus a manifest line "name input_dims... | output_dims...".
test/onnx_import_torch.cpp loads the .onnx files with tapegrad and compares.

Models: an MLP (Gemm with transB, BatchNormalization in eval with trained running
statistics, Relu, Dropout gone in eval, Sigmoid); a CNN (Conv with its BatchNorm, which torch
folds into the Conv's weights, Relu, MaxPool, then x.view(x.size(0), -1): the
Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain); a second CNN (strided Conv with
padding, LeakyReLU, AvgPool, nn.Flatten, LogSoftmax); a CNN with nn.Upsample (Resize, nearest);
a GRU classifier (batch_first, its
last hidden state) and a 2-layer bidirectional LSTM tagger (batch_first: import's dynamic
batch is the first dim).
"""
import os
import sys

import torch
import torch.nn as nn


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 7 * 7, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))
        x = x.view(x.size(0), -1)
        return self.fc2(torch.relu(self.fc1(x)))


class StridedCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 6, 5, stride=2, padding=2), nn.LeakyReLU(0.1), nn.AvgPool2d(2),
            nn.Conv2d(6, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 7 * 7, 10), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.body(x)


class UpsampleCnn(nn.Module):
    """A small decoder-style net: pooled, then nn.Upsample (a nearest Resize) back."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(1, 4, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.mix = nn.Conv2d(4, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 28 * 28, 10)

    def forward(self, x):
        x = self.up(nn.functional.max_pool2d(torch.relu(self.down(x)), 2))
        return self.fc(torch.flatten(torch.sigmoid(self.mix(x)), 1))


class GruClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(28, 24, batch_first=True)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):  # (N, 28, 28): rows as time steps
        _, h = self.gru(x)
        return self.fc(h[-1])


class LstmTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(12, 16, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(32, 5)

    def forward(self, x):  # (N, T, 12)
        out, _ = self.lstm(x)
        return torch.softmax(self.fc(out), dim=-1)


def write(path, t):
    t.detach().to(torch.float32).contiguous().numpy().tofile(path)


def main(out_dir):
    torch.manual_seed(20)
    mlp = nn.Sequential(nn.Linear(784, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 64),
                        nn.Sigmoid(), nn.Linear(64, 10))
    cnn = Cnn()
    with torch.no_grad():  # running statistics away from (0, 1), so eval mode uses them
        for model, shape in ((mlp, (16, 784)), (cnn, (8, 1, 28, 28))):
            model.train()
            for _ in range(3):
                model(torch.randn(*shape) * 0.5 + 0.3)
    models = [
        ("mlp", mlp, (1, 784), (5, 784)),
        ("cnn", cnn, (1, 1, 28, 28), (3, 1, 28, 28)),
        ("strided_cnn", StridedCnn(), (2, 1, 28, 28), (4, 1, 28, 28)),
        ("upsample_cnn", UpsampleCnn(), (1, 1, 28, 28), (2, 1, 28, 28)),
        ("gru", GruClassifier(), (1, 28, 28), (6, 28, 28)),
        ("lstm", LstmTagger(), (2, 7, 12), (3, 7, 12)),
    ]
    with open(os.path.join(out_dir, "manifest.txt"), "w") as manifest:
        for name, model, example_shape, input_shape in models:
            model.eval()
            path = os.path.join(out_dir, name + ".onnx")
            example = torch.randn(*example_shape)
            torch.onnx.export(model, (example,), path, opset_version=17, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
            x = torch.rand(*input_shape)
            with torch.no_grad():
                y = model(x)
            write(os.path.join(out_dir, name + ".in"), x)
            write(os.path.join(out_dir, name + ".out"), y)
            manifest.write(f"{name} {' '.join(map(str, x.shape))} | {' '.join(map(str, y.shape))}\n")
            print(f"exported {name}: input {list(x.shape)}, output {list(y.shape)}")


if __name__ == "__main__":
    main(sys.argv[1])
