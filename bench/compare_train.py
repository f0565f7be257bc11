#!/usr/bin/env python3
"""One epoch of `dismax-train` against the equivalent PyTorch loop (bench/torch_train.py), then inference
over the test set with `dismax-eval` against PyTorch's eval mode; prints images/s of both and the ratio.

The job is the quickstart's model (CIFAR ResNet-20 on Fashion-MNIST, DisMax head, batch 128, SGD with Nesterov
momentum, cosine per epoch, no augmentation), at --width 1 by default. Both sides get the same thread count;
dismax's loader threads are counted inside its time, as PyTorch's indexing of a uint8 tensor is inside its.
ratio = dismax images/s / PyTorch images/s (above 1: dismax is faster).

    python3 bench/compare_train.py --threads 2 [--width 1] [--train-subset 0] [--isa avx2] [--repeat 1]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.join(here, "..", "build", "tools")
p = argparse.ArgumentParser()
p.add_argument("--train", default=os.path.join(build, "dismax-train"))
p.add_argument("--eval", default=os.path.join(build, "dismax-eval"))
p.add_argument("--python", default="/usr/bin/python3")
p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--workers", type=int, default=1, help="dismax-train's loader threads")
p.add_argument("--width", type=float, default=1.0)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--train-subset", type=int, default=0, help="0: the whole 60000-image epoch")
p.add_argument("--isa", choices=["auto", "avx512", "avx2", "generic"], default="auto",
               help="dismax's CPU code path (DISMAX_ISA); PyTorch's follows ATEN_CPU_CAPABILITY where set")
p.add_argument("--repeat", type=int, default=1, help="runs of each side; the medians are reported")
p.add_argument("--markdown", action="store_true", help="print one table row per measurement")
p.add_argument("--before", help="build folder of another dismax checkout, timed in the same run (e.g. the last "
               "commit's, to measure a change)")
a = p.parse_args()

env = dict(os.environ, DISMAX_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads), DISMAX_ISA=a.isa)
if a.isa == "avx2":
    env.update(ATEN_CPU_CAPABILITY="avx2", DNNL_MAX_CPU_ISA="AVX2")


def run_dismax(tmp, train, evaluate):
    out = os.path.join(tmp, "run")
    cmd = [train, "--dataset", "fashion-mnist", "--data-dir", a.data_dir, "--model", "resnet20", "--width",
           str(a.width), "--loss", "dismax", "--augment", "none", "--epochs", "1", "--batch-size",
           str(a.batch_size), "--lr", "0.1", "--schedule", "cosine", "--seed", "1", "--threads", str(a.threads),
           "--workers", str(a.workers), "--out", out]
    if a.train_subset:
        cmd += ["--train-subset", str(a.train_subset)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "history.jsonl")) as f:
        epoch = json.loads(f.readline())
    subprocess.run([evaluate, "--checkpoint", os.path.join(out, "best.safetensors"), "--data-dir", a.data_dir,
                    "--threads", str(a.threads), "--batch-size", str(a.batch_size), "--out",
                    os.path.join(out, "eval")], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "eval", "results.json")) as f:
        ev = json.load(f)
    return epoch["train_images_per_second"], ev["forward_images_per_second"], epoch["train"]["ACC1"]


def run_torch():
    cmd = [a.python, os.path.join(here, "torch_train.py"), "--data-dir", a.data_dir, "--width", str(a.width),
           "--batch-size", str(a.batch_size), "--threads", str(a.threads)]
    if a.train_subset:
        cmd += ["--train-subset", str(a.train_subset)]
    r = json.loads(subprocess.run(cmd, check=True, env=env, capture_output=True, text=True).stdout)
    return r["train_images_per_second"], r["eval_images_per_second"], r["train_accuracy"]


ours, before, theirs = [], [], []
for _ in range(a.repeat):  # interleaved, so a slower spell of a shared host hits every side alike
    with tempfile.TemporaryDirectory() as tmp:
        ours.append(run_dismax(tmp, a.train, a.eval))
    if a.before:
        with tempfile.TemporaryDirectory() as tmp:
            before.append(run_dismax(tmp, os.path.join(a.before, "tools", "dismax-train"),
                                     os.path.join(a.before, "tools", "dismax-eval")))
    theirs.append(run_torch())
d = [statistics.median(v) for v in zip(*ours)]
t = [statistics.median(v) for v in zip(*theirs)]
b = [statistics.median(v) for v in zip(*before)] if before else None
label = f"resnet20 w{a.width:g} b{a.batch_size} {a.threads}T isa={a.isa}"
if a.markdown:
    for i, what in ((0, "train epoch"), (1, "inference")):
        extra = f" {b[i]:.0f} |" if b else ""
        print(f"| {label} {what} |{extra} {d[i]:.0f} | {t[i]:.0f} | **{d[i] / t[i]:.2f}** |")
else:
    print(f"{label}")
    for i, what in ((0, "train epoch"), (1, "inference  ")):
        extra = f", dismax before {b[i]:.0f} img/s ({b[i] / t[i]:.2f})" if b else ""
        print(f"  {what}: dismax {d[i]:.0f} img/s, PyTorch {t[i]:.0f} img/s, ratio {d[i] / t[i]:.2f}{extra}")
    print(f"  train accuracy after the epoch: dismax {d[2]:.1f}%, PyTorch {t[2]:.1f}%")
