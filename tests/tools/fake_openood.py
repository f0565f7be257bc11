#!/usr/bin/env python3
"""Writes a small synthetic CIFAR-10 (binary batches, 60 images each) and a miniature of OpenOOD v1.5's data
layout for openood-cifar10 (benchmark_imglist/cifar10/*.txt with PNGs under images_classic/), so that
dismax-eval --benchmark runs end to end without the real data. Standard library only.
    fake_openood.py CIFAR_DIR OPENOOD_ROOT"""
import os
import random
import struct
import sys
import zlib


def png(path, w, h, pixels, channels):
    rows = b"".join(b"\x00" + bytes(pixels[y * w * channels:(y + 1) * w * channels]) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    colour = 2 if channels == 3 else 0
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main():
    cifar, root = sys.argv[1], sys.argv[2]
    rng = random.Random(5)
    os.makedirs(cifar, exist_ok=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        with open(os.path.join(cifar, name), "wb") as f:
            for k in range(60):
                label = k % 10
                f.write(bytes([label]) + bytes((label * 20 + rng.randrange(60)) % 256 for _ in range(3072)))
    lists = os.path.join(root, "benchmark_imglist", "cifar10")
    os.makedirs(lists, exist_ok=True)
    sets = {"train_cifar10": (3, 40, True), "test_cifar10": (3, 30, True), "test_cifar100": (3, 12, False),
            "test_tin": (3, 12, False), "test_mnist": (1, 12, False), "test_svhn": (3, 12, False),
            "test_texture": (3, 12, False), "test_places365": (3, 12, False)}
    for list_name, (channels, count, labelled) in sets.items():
        folder = os.path.join(root, "images_classic", list_name)
        os.makedirs(folder, exist_ok=True)
        size = 28 if channels == 1 else 32
        with open(os.path.join(lists, list_name + ".txt"), "w") as f:
            for i in range(count):
                label = i % 10 if labelled else -1
                png(os.path.join(folder, f"{i:03d}.png"), size, size,
                    [rng.randrange(256) for _ in range(size * size * channels)], channels)
                f.write(f"{list_name}/{i:03d}.png {label}\n")


if __name__ == "__main__":
    main()
