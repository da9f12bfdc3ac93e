"""The torch half of the single-op parity test (test/scripts/torch_parity.sh): reads
tg_ops.safetensors written by `torch_parity ops DIR` and recomputes every case with torch in
float64: the output, and the gradient of sum(output * r) for each input tapegrad
differentiated. Tolerance per tensor: max|diff| <= 1e-9 * max(1, max|torch|).
Run with /usr/bin/python3: ops_parity.py DIR
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

RTOL = 1e-9

# torch's form of each case in test/torch_parity.cpp's op_cases(), on the same inputs.
CASES = {
    "scatter": lambda x: torch.scatter(x[0], 0, x[1], x[2]),
    "scatter_value": lambda x: torch.scatter(x[0], 1, x[1], 1.5),
    "scatter_add": lambda x: torch.scatter_add(x[0], 0, x[1], x[2]),
    "index_add": lambda x: torch.index_add(x[0], 0, x[1], x[2], alpha=-2.0),
    "index_copy": lambda x: torch.index_copy(x[0], 1, x[1], x[2]),
    "index_put": lambda x: torch.index_put(x[0], (x[1], x[2]), x[3]),
    "index_put_accumulate": lambda x: torch.index_put(x[0], (x[1],), x[2], accumulate=True),
    "index_put_mask": lambda x: torch.index_put(x[0], (x[1],), x[2]),
    "triu": lambda x: torch.triu(x[0], 1),
    "tril": lambda x: torch.tril(x[0], -1),
    "outer": lambda x: torch.outer(x[0], x[1]),
    "baddbmm": lambda x: torch.baddbmm(x[0], x[1], x[2], beta=0.5, alpha=-1.5),
    "logcumsumexp": lambda x: torch.logcumsumexp(x[0], 1),
    "einsum_bmm": lambda x: torch.einsum("bij,bjk->bik", x[0], x[1]),
    "einsum_mixed": lambda x: torch.einsum("abc,cdb->ad", x[0], x[1]),
    "einsum_ellipsis": lambda x: torch.einsum("...ij,...jk->...ik", x[0], x[1]),
    "einsum_implicit": lambda x: torch.einsum("ij,jk,k", x[0], x[1], x[2]),
    "einsum_outer_sum": lambda x: torch.einsum("i,ji->", x[0], x[1]),
    "softplus": lambda x: F.softplus(x[0]),
    "softplus_beta": lambda x: F.softplus(x[0], beta=2.0, threshold=1.5),
    "logsigmoid": lambda x: F.logsigmoid(x[0]),
    "hardswish": lambda x: F.hardswish(x[0]),
    "mish": lambda x: F.mish(x[0]),
    "binary_cross_entropy": lambda x: F.binary_cross_entropy(x[0], x[1], weight=x[2], reduction="none"),
    "cosine_similarity": lambda x: F.cosine_similarity(x[0], x[1], dim=1),
    "pairwise_distance": lambda x: F.pairwise_distance(x[0], x[1], p=3.0, eps=1e-6, keepdim=True),
    "cosine_embedding_loss": lambda x: F.cosine_embedding_loss(x[0], x[1], x[2], margin=0.1, reduction="none"),
    "margin_ranking_loss": lambda x: F.margin_ranking_loss(x[0], x[1], x[2], margin=0.2, reduction="none"),
    "triplet_margin_loss": lambda x: F.triplet_margin_loss(x[0], x[1], x[2], margin=0.5, p=1.5, eps=1e-6, swap=True,
                                                           reduction="none"),
    # an independent form of TF's N-d loss: torch's cross_entropy on probabilities, classes in dim 1
    "softmax_cross_entropy_nd": lambda x: F.cross_entropy(x[0].movedim(-1, 1), (x[1] / x[1].sum(-1, keepdim=True)).movedim(-1, 1),
                                                          reduction="none"),
    "group_norm": lambda x: F.group_norm(x[0], 2, x[1], x[2]),
    "instance_norm": lambda x: F.instance_norm(x[0], weight=x[1], bias=x[2]),
    "bilinear_corners": lambda x: F.interpolate(x[0], size=(5, 7), mode="bilinear", align_corners=True),
    "bilinear": lambda x: F.interpolate(x[0], size=(5, 3), mode="bilinear", align_corners=False),
    "bilinear_scale": lambda x: F.interpolate(x[0], scale_factor=(1.5, 0.7), mode="bilinear", align_corners=False),
    "conv2d_groups": lambda x: F.conv2d(x[0], x[1], x[2], stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
    "conv2d_depthwise": lambda x: F.conv2d(x[0].transpose(2, 3), x[1], None, stride=1, padding=1, groups=3),
    "conv_transpose2d_groups": lambda x: F.conv_transpose2d(x[0], x[1], x[2], stride=(2, 1), padding=(1, 0),
                                                          output_padding=(1, 0), groups=2, dilation=(1, 2)),
    "max_pool2d_ceil": lambda x: F.max_pool2d(x[0], (3, 2), (2, 2), (1, 1), ceil_mode=True),
    "max_pool2d_dilation": lambda x: F.max_pool2d(x[0], (3, 2), (2, 1), 1, dilation=(2, 3), ceil_mode=True),
    "max_pool2d_ceil_rule": lambda x: F.max_pool2d(x[0], 2, 2, 1, ceil_mode=True),
    "avg_pool2d_ceil": lambda x: F.avg_pool2d(x[0], 3, 2, 1, ceil_mode=True),
    "avg_pool2d_ceil_nopad": lambda x: F.avg_pool2d(x[0], (2, 3), (2, 2), (0, 1), ceil_mode=True, count_include_pad=False),
    "unfold": lambda x: F.unfold(x[0], (2, 3), dilation=(2, 1), padding=(1, 0), stride=(1, 2)),
    "fold": lambda x: F.fold(x[0], (4, 5), (2, 2), dilation=(1, 2), padding=(0, 1), stride=(2, 1)),
}


def compare(label, mine, want):
    """mine: tapegrad's numpy array; want: torch's tensor. Prints a line; returns ok."""
    want = want.detach().numpy()
    if mine.shape != want.shape:
        print(f"FAIL ops {label}: shape {mine.shape} vs torch {want.shape}")
        return False
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    err = float(np.max(np.abs(mine - want))) if want.size else 0.0
    ok = err <= RTOL * scale
    print(f"{'ok  ' if ok else 'FAIL'} ops {label:<32} max|diff| {err:.3g}  scale {scale:.3g}")
    return ok


def main(directory):
    io, _ = safetensors_io.read(os.path.join(directory, "tg_ops.safetensors"))
    failures = 0
    for name, fn in CASES.items():
        count = len([k for k in io if k.startswith(name + "/in")])
        if count == 0:
            print(f"FAIL ops {name}: not in tapegrad's file")
            failures += 1
            continue
        inputs = []
        for k in range(count):
            t = torch.from_numpy(io[f"{name}/in{k}"])
            if f"{name}/grad{k}" in io:
                t.requires_grad_(True)
            inputs.append(t)
        out = fn(inputs)
        failures += not compare(f"{name} out", io[f"{name}/out"], out)
        wanted = [k for k in range(count) if f"{name}/grad{k}" in io]
        grads = torch.autograd.grad((out * torch.from_numpy(io[f"{name}/r"])).sum(), [inputs[k] for k in wanted])
        for k, g in zip(wanted, grads):
            failures += not compare(f"{name} grad{k}", io[f"{name}/grad{k}"], g)
    print("ops: all match" if failures == 0 else "ops: MISMATCH")
    return failures == 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: ops_parity.py DIR")
    torch.set_num_threads(1)
    sys.exit(0 if main(sys.argv[1]) else 1)
