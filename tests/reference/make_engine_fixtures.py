#!/usr/bin/env python3
"""Writes engine_ops.safetensors: inputs, outputs and input gradients of the engine's ops computed by
PyTorch (Debian's python3-torch), for tests/test_reference.cpp. Run from anywhere:
    python3 tests/reference/make_engine_fixtures.py
Each case <c> stores <c>.in<i> (inputs), <c>.out, <c>.gout (the upstream gradient), <c>.grad<i> (gradient of
sum(out * gout) with respect to input i) and case-specific extras."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
tensors = {}


def case(name, fn, *inputs, extras=None):
    leaves = [t.clone().requires_grad_(t.is_floating_point()) for t in inputs]
    out = fn(*leaves)
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    for i, (t, leaf) in enumerate(zip(inputs, leaves)):
        tensors[f"{name}.in{i}"] = t.numpy()
        if leaf.grad is not None:
            tensors[f"{name}.grad{i}"] = leaf.grad.numpy()
    tensors[f"{name}.out"] = out.detach().numpy()
    tensors[f"{name}.gout"] = gout.numpy()
    for k, v in (extras or {}).items():
        tensors[f"{name}.{k}"] = v.detach().numpy()


r = torch.randn
case("conv3x3_s1_p1", lambda x, w: F.conv2d(x, w, stride=1, padding=1), r(2, 3, 9, 9), r(4, 3, 3, 3))
case("conv3x3_s2_p1_bias", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), r(2, 3, 9, 8), r(5, 3, 3, 3), r(5))
case("conv1x1_s2", lambda x, w: F.conv2d(x, w, stride=2), r(2, 4, 8, 8), r(6, 4, 1, 1))
case("conv7x7_s2_p3", lambda x, w: F.conv2d(x, w, stride=2, padding=3), r(2, 3, 17, 17), r(4, 3, 7, 7))
case("conv3x3_wide", lambda x, w: F.conv2d(x, w, padding=1), r(3, 37, 6, 6), r(33, 37, 3, 3))

for name, shape, momentum in [("bn_train", (4, 3, 5, 5), 0.1), ("bn_train_2d_m09", (6, 5), 0.9)]:
    c = shape[1]
    rm, rv = r(c), torch.rand(c) + 0.5
    rm_after, rv_after = rm.clone(), rv.clone()
    x0 = r(*shape) * 2 + 1
    F.batch_norm(x0, rm_after, rv_after, training=True, momentum=momentum, eps=1e-5)
    case(name, lambda x, g, b, rm=rm.clone(), rv=rv.clone(), m=momentum: F.batch_norm(
        x, rm, rv, g, b, training=True, momentum=m, eps=1e-5), x0, r(c), r(c),
        extras={"running_mean_before": rm, "running_var_before": rv, "running_mean": rm_after, "running_var": rv_after})
rm, rv = r(3), torch.rand(3) + 0.5
case("bn_eval", lambda x, g, b: F.batch_norm(x, rm, rv, g, b, training=False, eps=1e-5), r(4, 3, 5, 5), r(3), r(3),
     extras={"running_mean": rm, "running_var": rv})

case("max_pool_3_2_1", lambda x: F.max_pool2d(x, 3, 2, 1), r(2, 3, 9, 9))
case("avg_pool_2_2", lambda x: F.avg_pool2d(x, 2, 2), r(2, 3, 8, 9))
case("avg_pool_3_2_1", lambda x: F.avg_pool2d(x, 3, 2, 1), r(2, 3, 9, 9))
case("avg_pool_3_2_1_nopad", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), r(2, 3, 9, 9))
case("global_avg_pool", lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1), r(3, 4, 5, 5))

case("softmax", lambda x: F.softmax(x, 1), r(5, 7) * 3)
case("log_softmax", lambda x: F.log_softmax(x, 1), r(5, 7) * 3)
case("matmul", lambda a, b: a @ b, r(5, 7), r(7, 3))
case("linear", lambda x, w, b: F.linear(x, w, b), r(6, 7), r(3, 7), r(3))
case("cdist", lambda a, b: torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"), r(5, 4), r(3, 4))
case("normalize", lambda x: F.normalize(x, dim=1), r(5, 4))
labels = torch.tensor([2, 0, 1, 2, 4])
case("cross_entropy", lambda x: F.cross_entropy(x, labels).reshape(1), r(5, 6) * 2,
     extras={"labels": labels})
case("relu", F.relu, r(4, 5))
case("exp_log_sqrt", lambda x: torch.log(torch.exp(x) + 1) + torch.sqrt(x.abs() + 0.1), r(4, 5))
case("clamp", lambda x: torch.clamp(x, -0.5, 0.5), r(4, 5))
case("sum_mean_max", lambda x: x.sum(1) + x.mean(1) * 2 + x.max(1).values, r(4, 6))
case("cat", lambda a, b: torch.cat([a, b], 1), r(2, 3, 4), r(2, 2, 4))
idx = torch.tensor([3, 0, 0, 2])
case("index_select", lambda x: torch.index_select(x, 0, idx), r(4, 3), extras={"index": idx})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "engine_ops.safetensors")
safetensors_io.save(out, tensors, {"generator": "make_engine_fixtures.py", "torch": torch.__version__})
print(f"wrote {len(tensors)} tensors to {out} ({os.path.getsize(out)} bytes)")
