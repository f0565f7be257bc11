#!/usr/bin/env python3
"""Writes losses.safetensors for tests/test_losses.cpp: the losses of SPEC §1 written in PyTorch the way
the original code computes them (softmax then log; kl_div(log q, t, batchmean) for FPR), for batch sizes
1 to 9 and each loss, with the loss value and its gradients with respect to the features, the head's
parameters and the distance scale; plus the FPR quadrant mixing of a small image batch.
    python3 tests/reference/make_loss_fixtures.py"""
import math
import os
import sys

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io  # noqa: E402

torch.manual_seed(0)
E = 10.0
F_DIM, C = 6, 5
tensors = {}


def head_logits(kind, f, params):
    if kind == "softmax":
        return f @ params["weights"].t() + params["bias"]
    if kind == "isomax":
        return -torch.cdist(f, params["prototypes"], compute_mode="donot_use_mm_for_euclid_dist")
    d = torch.cdist(F.normalize(f), F.normalize(params["prototypes"]), compute_mode="donot_use_mm_for_euclid_dist")
    s = params["distance_scale"].abs()
    if kind == "isomaxplus":
        return -s * d
    D = s * d / math.sqrt(2.0)
    return -(D + D.mean(dim=1, keepdim=True))


def loss_of(kind, z, y, fpr_alpha, training):
    if kind == "softmax":
        return F.cross_entropy(z, y)
    if kind == "dismax" and not training:
        return -torch.log(F.softmax(z, dim=1)[torch.arange(len(y)), y]).mean()
    q = F.softmax(E * z, dim=1)
    if fpr_alpha is None:
        return -torch.log(q[torch.arange(len(y)), y]).mean()
    B = z.shape[0]
    h, n2 = B // 2, B - (B // 2)
    ce = -torch.log(q[:h][torch.arange(h), y[:h]]).mean() if h > 0 else z.sum() * 0
    y2 = y[h:]
    t = torch.zeros(n2, C)
    for m in range(n2):
        for k in range(4):
            t[m, y2[(m - k) % n2]] += 0.25
    kl = F.kl_div(torch.log(q[h:]), t, reduction="batchmean")
    return (ce + fpr_alpha * kl) / 2


CASES = [("softmax", None, True), ("isomax", None, True), ("isomaxplus", None, True), ("dismax", None, True),
         ("dismax", None, False), ("dismax_fpr", 1.0, True), ("dismax_fpr_0.5", 0.5, True),
         ("dismax_fpr_0.25", 0.25, True)]
for name, alpha, training in CASES:
    kind = name.split("_")[0]
    for B in range(1, 10):
        key = f"{name}{'' if training else '_eval'}.b{B}"
        f = torch.randn(B, F_DIM) * 2
        y = torch.randint(0, C, (B,))
        if kind == "softmax":
            params = {"weights": torch.randn(C, F_DIM) * 0.4, "bias": torch.randn(C) * 0.1}
        else:
            params = {"prototypes": torch.randn(C, F_DIM) * (0.3 if kind == "isomax" else 1.0)}
            if kind in ("isomaxplus", "dismax"):
                params["distance_scale"] = torch.tensor([1.7 if B % 2 else -1.3])
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        fl = f.clone().requires_grad_(True)
        z = head_logits(kind, fl, leaves)
        loss = loss_of(kind, z, y, alpha, training)
        loss.backward()
        tensors[f"{key}.features"] = f.numpy()
        tensors[f"{key}.targets"] = y.numpy()
        tensors[f"{key}.logits"] = z.detach().numpy()
        tensors[f"{key}.loss"] = loss.detach().reshape(1).numpy()
        tensors[f"{key}.grad.features"] = fl.grad.numpy()
        for k, v in params.items():
            tensors[f"{key}.{k}"] = v.numpy()
            tensors[f"{key}.grad.{k}"] = leaves[k].grad.numpy()

# FPR mixing of a batch: the second half's quadrants rolled by 1 (bottom-left), 2 (top-right), 3 (bottom-right).
for B, H, W in [(1, 4, 4), (2, 5, 4), (5, 4, 5), (8, 6, 6), (9, 7, 5)]:
    x = torch.randn(B, 2, H, W)
    out = x.clone()
    h, R, Cc = B // 2, H // 2, W // 2
    second = x[h:]
    out[h:, :, R:, :Cc] = torch.roll(second[:, :, R:, :Cc], 1, 0)
    out[h:, :, :R, Cc:] = torch.roll(second[:, :, :R, Cc:], 2, 0)
    out[h:, :, R:, Cc:] = torch.roll(second[:, :, R:, Cc:], 3, 0)
    tensors[f"fpr_mix.b{B}.input"] = x.numpy()
    tensors[f"fpr_mix.b{B}.output"] = out.numpy()

out_path = os.path.join(here, "losses.safetensors")
safetensors_io.save(out_path, tensors, {"generator": "make_loss_fixtures.py", "torch": torch.__version__})
print(f"wrote {len(tensors)} tensors to {out_path} ({os.path.getsize(out_path)} bytes)")
