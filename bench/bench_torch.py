#!/usr/bin/env python3
"""PyTorch side of dismax-bench: the same conv2d forward+backward shapes, the same GEMMs and the same CIFAR
ResNet18/34 and ResNet-20 training steps, timed the same way (median of --repeat runs after 2 warm-ups), same names.
Uses Debian's python3-torch; never a dependency of the engine."""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from torch_models import CifarResNet  # noqa: E402

CONVS = [(3, 64, 32, 3, 1, 1), (64, 64, 32, 3, 1, 1), (64, 128, 32, 3, 2, 1), (128, 128, 16, 3, 1, 1),
         (128, 256, 16, 3, 2, 1), (256, 256, 8, 3, 1, 1), (256, 512, 8, 3, 2, 1), (512, 512, 4, 3, 1, 1),
         (64, 128, 32, 1, 2, 0), (128, 256, 16, 1, 2, 0), (256, 512, 8, 1, 2, 0)]
# The quickstart's ResNet-20 on 28x28 Fashion-MNIST; the 1-channel stem computes no input gradient.
SMALL_CONVS = [(1, 16, 28, 3, 1, 1), (16, 16, 28, 3, 1, 1), (16, 32, 28, 3, 2, 1), (32, 32, 14, 3, 1, 1),
               (32, 64, 14, 3, 2, 1), (64, 64, 7, 3, 1, 1), (16, 32, 28, 1, 2, 0), (32, 64, 14, 1, 2, 0)]


def time_ms(fn, repeat, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for planes in (64, 128, 256, 512):
            for i in range(2):
                stride = 2 if i == 0 and planes != 64 else 1
                layers.append(Block(cin, planes, stride))
                cin = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--batch", type=int, action="append")
    p.add_argument("--only", choices=["conv", "gemm", "small", "step"])
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    batches = a.batch or [32, 128]
    results = {}

    def report(name, ms):
        print(f"{name:<40s} {ms:10.3f}", flush=True)
        results[name] = ms

    print(f"# torch {torch.__version__}: {torch.get_num_threads()} threads, median of {a.repeat} runs, ms")
    def time_conv(cin, cout, hw, k, s, pad, b):
        out = (hw + 2 * pad - k) // s + 1
        x = torch.randn(b, cin, hw, hw, requires_grad=cin > 1)
        w = torch.randn(cout, cin, k, k, requires_grad=True)
        gy = torch.randn(b, cout, out, out)

        def step():
            x.grad = None
            w.grad = None
            F.conv2d(x, w, None, s, pad).backward(gy)
        report(f"conv {k}x{k} {cin}->{cout} {hw}x{hw} s{s} b{b} fwd+bwd", time_ms(step, a.repeat))

    def time_step(label, net, b, channels, hw):
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        x = torch.randn(b, channels, hw, hw)
        y = torch.arange(b) % 10

        def train_step():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        report(f"{label} train step b{b}", time_ms(train_step, a.repeat))

    for b in batches:
        for cin, cout, hw, k, s, pad in CONVS:
            out = (hw + 2 * pad - k) // s + 1
            if a.only in (None, "conv"):
                time_conv(cin, cout, hw, k, s, pad, b)
            if a.only in (None, "gemm"):
                M, K, N = cout, cin * k * k, b * out * out
                A, B = torch.randn(M, K), torch.randn(K, N)
                report(f"gemm {M}x{K}x{N}", time_ms(lambda: A @ B, a.repeat))
    if a.only in (None, "small"):
        for shape in SMALL_CONVS:
            time_conv(*shape, 128)
        net = CifarResNet([3, 3, 3], [16, 32, 64], 10)
        net.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        time_step("resnet20 fmnist", net, 128, 1, 28)
    if a.only in (None, "step"):
        for b in batches:
            time_step("resnet18 cifar", ResNet18(10), b, 3, 32)
            time_step("resnet34 cifar", CifarResNet([3, 4, 6, 3], [64, 128, 256, 512], 10), b, 3, 32)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": torch.get_num_threads(), "results": results}, f)


if __name__ == "__main__":
    main()
