#!/usr/bin/python3
"""The PyTorch side of bench/compare_train.py: what `dismax-train --dataset fashion-mnist --model resnet20
--loss dismax --augment none` does, written as the plain PyTorch loop a researcher would write.

Same model (the CIFAR ResNet-20 of tests/reference/torch_models.py on 1-channel 28x28 input, DisMax head), same
data (the IDX files, normalised with Fashion-MNIST's mean and std, no augmentation, a new permutation each
epoch, the last partial batch kept), same optimiser (SGD, Nesterov momentum 0.9, weight decay 1e-4) and cosine
learning rate stepped per epoch. Prints one JSON line: train images/s (forward, loss, backward, step, data
included), and inference images/s over the test set (eval mode, no grad)."""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from torch_models import CifarResNet, DisMaxHead  # noqa: E402

ENTROPIC_SCALE = 10.0  # SPEC §1.5: DisMax trains on softmax(E * logits)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"torch_train.py: no {stem}[.gz] in {folder}")


def load(folder, split, limit):
    images = read_idx(find(folder, f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(folder, f"{split}-labels-idx1-ubyte"))
    if limit:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def normalise(batch_u8):
    return ((batch_u8.float() / 255.0 - 0.2860) / 0.3530).unsqueeze(1)


class Net(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        widths = [max(1, round(w * width)) for w in (16, 32, 64)]
        body = CifarResNet([3, 3, 3], widths, 10)
        body.conv1 = torch.nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        body.classifier = DisMaxHead(widths[-1], 10)
        self.body = body

    def forward(self, x):
        return self.body(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-subset", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    x_train, y_train = load(a.data_dir, "train", a.train_subset)
    x_test, y_test = load(a.data_dir, "t10k", 0)
    model = Net(a.width)
    decay = [q for n, q in model.named_parameters() if q.requires_grad]
    opt = torch.optim.SGD(decay, lr=a.lr, momentum=0.9, weight_decay=1e-4, nesterov=True)
    batches = (len(x_train) + a.batch_size - 1) // a.batch_size

    train_seconds, correct, seen = 0.0, 0, 0
    for epoch in range(a.epochs):
        for group in opt.param_groups:
            group["lr"] = 0.5 * a.lr * (1 + math.cos(math.pi * epoch / a.epochs))
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(x_train))
        for b in range(batches):
            idx = order[b * a.batch_size:(b + 1) * a.batch_size]
            x, y = normalise(x_train[idx]), y_train[idx]
            logits = model(x)
            loss = F.cross_entropy(ENTROPIC_SCALE * logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        train_seconds += time.perf_counter() - start

    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for b in range(0, len(x_test), a.batch_size):
            model(normalise(x_test[b:b + a.batch_size])).argmax(1)
    eval_seconds = time.perf_counter() - start
    print(json.dumps({"train_images": seen, "train_seconds": train_seconds,
                      "train_images_per_second": seen / train_seconds,
                      "train_accuracy": 100.0 * correct / max(seen, 1),
                      "eval_images": len(x_test), "eval_seconds": eval_seconds,
                      "eval_images_per_second": len(x_test) / eval_seconds, "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
