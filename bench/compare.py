#!/usr/bin/env python3
"""Runs dismax-bench and bench_torch.py with the same arguments and prints their times side by side.
ratio = dismax time / PyTorch time (below 1.0: dismax is faster); speed = its inverse, dismax's images/s over
PyTorch's (above 1.0: dismax is faster).
    python3 bench/compare.py --bench build/bench/dismax-bench --threads 2 [--only step] [--batch 32]"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser()
p.add_argument("--bench", default=os.path.join(here, "..", "build", "bench", "dismax-bench"))
p.add_argument("--python", default="/usr/bin/python3")
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--repeat", type=int, default=5)
p.add_argument("--batch", type=int)
p.add_argument("--only")
p.add_argument("--isa", choices=["auto", "avx512", "avx2"], default="auto",
               help="CPU code path: DISMAX_ISA for dismax, DNNL_MAX_CPU_ISA and ATEN_CPU_CAPABILITY for PyTorch")
a = p.parse_args()

common = ["--threads", str(a.threads), "--repeat", str(a.repeat)]
if a.batch:
    common += ["--batch", str(a.batch)]
if a.only:
    common += ["--only", a.only]
with tempfile.TemporaryDirectory() as tmp:
    ours, theirs = os.path.join(tmp, "dismax.json"), os.path.join(tmp, "torch.json")
    env = dict(os.environ, DISMAX_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads), DISMAX_ISA=a.isa)
    if a.isa == "avx2":
        env.update(DNNL_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2")
    subprocess.run([a.bench, *common, "--json", ours], check=True, env=env, stdout=sys.stderr)
    subprocess.run([a.python, os.path.join(here, "bench_torch.py"), *common, "--json", theirs], check=True, env=env,
                   stdout=sys.stderr)
    d, t = json.load(open(ours))["results"], json.load(open(theirs))["results"]

print(f"| measurement ({a.threads} threads, isa {a.isa}) | dismax ms | PyTorch ms | ratio | speed |")
print("|---|---:|---:|---:|---:|")
for name, ms in d.items():
    if name in t:
        print(f"| {name} | {ms:.2f} | {t[name]:.2f} | {ms / t[name]:.2f} | {t[name] / ms:.2f} |")
