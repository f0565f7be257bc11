#!/usr/bin/env python3
"""The KNN method's exact search with Debian's faiss (python3-faiss, IndexFlatL2), the baseline that
dismax-bench-posthoc's knn row is compared with: the same shapes (50,000 training features of 512 dimensions,
10,000 queries, K = 50), L2-normalised as OpenOOD's KNN postprocessor, on all threads.
    /usr/bin/python3 bench/bench_knn_faiss.py [--train N] [--queries N] [--dim F]"""
import argparse
import time

import faiss
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--train", type=int, default=50000)
p.add_argument("--queries", type=int, default=10000)
p.add_argument("--dim", type=int, default=512)
p.add_argument("--k", type=int, default=50)
a = p.parse_args()
rng = np.random.default_rng(1)
train = np.maximum(rng.standard_normal((a.train, a.dim), dtype=np.float32), 0)
queries = np.maximum(rng.standard_normal((a.queries, a.dim), dtype=np.float32), 0)
normalize = lambda x: x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-10)
t0 = time.perf_counter()
index = faiss.IndexFlatL2(a.dim)
index.add(normalize(train))
fit = time.perf_counter() - t0
t0 = time.perf_counter()
d, _ = index.search(normalize(queries), a.k)
score = -d[:, -1]
search = time.perf_counter() - t0
print(f"faiss {faiss.__version__} IndexFlatL2, {faiss.omp_get_max_threads()} threads: fit {fit:.3f} s, "
      f"score {a.queries} queries {search:.3f} s")
