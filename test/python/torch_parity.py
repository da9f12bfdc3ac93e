"""The PyTorch half of the parity test (test/scripts/torch_parity.sh); run with /usr/bin/python3.

  torch_parity.py check DIR   loads tapegrad's tg_<model>.safetensors into the equivalent torch
                              modules, feeds the same input and compares logits, loss,
                              parameter gradients and (train mode) the updated BatchNorm buffers
                              with tapegrad's tg_<model>_io.safetensors
  torch_parity.py export DIR  initialises the same models in torch and writes pt_<model>.safetensors
                              (state_dict) and pt_<model>_io.safetensors for `torch_parity import`

Tolerance, per tensor: max|a - b| <= 1e-5 * max|b|, float32 on both sides.
"""
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

RTOL = 1e-5
CASES = [("mlp", False), ("cnn_eval", False), ("cnn_train", True)]


def make_model(name):
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    # train-mode BatchNorm makes a conv bias's gradient exactly zero: that CNN has none
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=name != "cnn_train"), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 14 * 14, 10))


def run(model, train, x, target):
    model.train(train)
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    out = {"logits": logits.detach(), "loss": loss.detach()}
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.detach()
    for name, b in model.named_buffers():
        out["after." + name] = b.detach().clone()
    return out


def check(directory):
    failures = 0
    for name, train in CASES:
        weights, metadata = safetensors_io.read(os.path.join(directory, f"tg_{name}.safetensors"))
        assert metadata == {"format": "pt"}, metadata
        io, _ = safetensors_io.read(os.path.join(directory, f"tg_{name}_io.safetensors"))
        model = make_model(name)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
        got = run(model, train, torch.from_numpy(io["input"]), torch.from_numpy(io["target"]))
        for key, value in got.items():
            if key not in io:
                print(f"FAIL check {name} {key}: not in tapegrad's file")
                failures += 1
                continue
            want = io[key]
            mine = value.numpy()
            if mine.shape != want.shape:
                print(f"FAIL check {name} {key}: shape {mine.shape} vs tapegrad {want.shape}")
                failures += 1
                continue
            # here torch is the oracle: compare tapegrad's value against it
            scale = float(np.max(np.abs(mine.astype(np.float64)))) if mine.size else 0.0
            err = float(np.max(np.abs(want.astype(np.float64) - mine.astype(np.float64)))) if mine.size else 0.0
            ok = err <= RTOL * scale
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} check {name} {key:<22} max|diff| {err:.3g}  scale {scale:.3g}")
    print("check: all match" if failures == 0 else "check: MISMATCH")
    return failures == 0


def export(directory):
    for seed, (name, train) in enumerate(CASES):
        torch.manual_seed(seed)
        model = make_model(name)
        if name != "mlp":
            with torch.no_grad():
                bn = model[1]
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.5, 0.5)
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        safetensors_io.write(os.path.join(directory, f"pt_{name}.safetensors"), state, {"format": "pt"})
        x = torch.rand((16, 784) if name == "mlp" else (6, 1, 28, 28)) * 2 - 1
        target = torch.randint(0, 10, (x.shape[0],))
        io = {"input": x.numpy(), "target": target.numpy()}
        io.update({k: v.numpy() for k, v in run(model, train, x, target).items()})
        safetensors_io.write(os.path.join(directory, f"pt_{name}_io.safetensors"), io)
        print(f"export {name}: {len(io)} tensors")
    return True


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "export"):
        sys.exit("usage: torch_parity.py check|export DIR")
    torch.set_num_threads(1)
    ok = check(sys.argv[2]) if sys.argv[1] == "check" else export(sys.argv[2])
    sys.exit(0 if ok else 1)
