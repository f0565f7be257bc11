#!/usr/bin/env python3
"""PyTorch counterpart of dismax-bench-loader: the same files, pipelines and worker counts through
torch.utils.data.DataLoader with torchvision transforms (Debian's python3-torch / python3-torchvision).
Run dismax-bench-loader first with the same --dir: it generates the files.
    /usr/bin/python3 bench/bench_loader_torch.py --dir /tmp/dismax_loader_bench --threads 1,2 [--json out.json]
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

p = argparse.ArgumentParser()
p.add_argument("--dir", default="/tmp/dismax_loader_bench")
p.add_argument("--threads", default="1,2")
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--only")
p.add_argument("--json")
a = p.parse_args()
torch.set_num_threads(1)


class CifarBinary(torch.utils.data.Dataset):
    """torchvision.datasets.CIFAR10's __getitem__ on a CIFAR binary batch held in memory."""

    def __init__(self, path, transform):
        raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
        self.targets = raw[:, 0].astype(np.int64).tolist()
        self.data = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def measure(dataset, batch, workers, epochs):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                         persistent_workers=True, prefetch_factor=2)
    for _ in loader:  # warm-up epoch (starts the workers)
        pass
    n, start = 0, time.perf_counter()
    for _ in range(epochs):
        for x, _y in loader:
            n += x.shape[0]
    return n / (time.perf_counter() - start)


results = []
threads = [int(t) for t in a.threads.split(",")]
if a.only in (None, "folder"):
    folder = torchvision.datasets.ImageFolder(
        os.path.join(a.dir, "imagenet_like"),
        T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                   T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]))
    for t in threads:
        results.append({"pipeline": "folder", "threads": t, "images_per_s": measure(folder, 32, t, a.epochs)})
if a.only in (None, "cifar"):
    cifar = CifarBinary(os.path.join(a.dir, "cifar-10-batches-bin", "data_batch_1.bin"),
                        T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                                   T.Normalize((0.491, 0.482, 0.446), (0.247, 0.243, 0.261))]))
    for t in threads:
        results.append({"pipeline": "cifar", "threads": t, "images_per_s": measure(cifar, 64, t, a.epochs)})

print(f"{'pipeline':<8} {'threads':>8} {'images/s':>14}   (PyTorch {torch.__version__}, torchvision {torchvision.__version__})")
for r in results:
    print(f"{r['pipeline']:<8} {r['threads']:>8} {r['images_per_s']:>14.1f}")
if a.json:
    with open(a.json, "w") as f:
        json.dump(results, f)
