#!/usr/bin/env python3
"""PyTorch eager's training images/s for the models and step of dismax-bench-gpu (same architectures from
tests/reference/torch_models.py, batch, SGD settings, pinned batch uploaded each step, cross-entropy).
fp32 by default: TF32 off for cuDNN and cuBLAS unless --tf32; cudnn.benchmark on (dismax autotunes too).
    python3 bench/bench_gpu_torch.py --model resnet34 --batch 128 --json out.json"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import torch_models as tm  # noqa: E402

MODELS = {
    "resnet34": lambda: tm.CifarResNet([3, 4, 6, 3], [64, 128, 256, 512], 10),
    "wideresnet2810": lambda: tm.WideResNet(28, 10, 10),
    "densenetbc100": lambda: tm.DenseNet3(100, 12, 0.5, 10),
    "resnet18": lambda: tm.ImageNetResNet([2, 2, 2, 2], [64, 128, 256, 512], 10),
}
IMAGE = {"resnet18": 224}  # the ImageNet ResNet18 at ImageNet resolution; the CIFAR models at 32


def images_per_second(name, a):
    torch.manual_seed(1)
    model = MODELS[name]().cuda().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    size = IMAGE.get(name, 32)
    images = torch.randn(a.batch, 3, size, size).pin_memory()
    labels = (torch.arange(a.batch) % 10).pin_memory()
    loss_fn = nn.CrossEntropyLoss()

    def step():
        x = images.cuda(non_blocking=True)
        y = labels.cuda(non_blocking=True)
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    assert torch.isfinite(loss).item()
    return a.batch * a.steps / seconds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", action="append")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--tf32", action="store_true")
    p.add_argument("--json")
    a = p.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    results = {}
    for name in a.model or list(MODELS):
        results[name] = images_per_second(name, a)
        print(f"{name:16s} batch {a.batch}  torch {torch.__version__}  {results[name]:9.1f} images/s", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()
