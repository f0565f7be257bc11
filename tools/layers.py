#!/usr/bin/env python3
"""The project's layering, written down and checked against the #include lines.

Folders depend one way (tools -> experiment -> posthoc -> models / losses -> layers -> engine; metrics and
datasets -> engine), and
inside engine/ every file has a level: a file may include files of its own level or lower, never higher.

  tools/layers.py            check; print every include that breaks the rules, exit 1 if any
  tools/layers.py --graph    also print which folder includes which (engine: which level), with counts
"""
import argparse
import collections
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What each library folder may include, besides itself.
FOLDER_USES = {
    "engine": set(),
    "layers": {"engine"},
    "datasets": {"engine"},
    "metrics": {"engine"},
    "losses": {"engine", "layers"},
    "models": {"engine", "layers"},
    "posthoc": {"engine", "layers", "losses", "models"},
    "experiment": {"engine", "layers", "losses", "models", "metrics", "datasets", "posthoc"},
    "tools": {"engine", "layers", "losses", "models", "metrics", "datasets", "posthoc", "experiment"},
}

# Levels inside engine/, lowest first: (name, paths relative to engine/, a folder ending in "/").
ENGINE_LEVELS = [
    ("base", ["error.h", "dtype.", "device.", "shape.", "parallel.", "math_mode.", "grad_mode.", "version.h",
              "generator."]),
    ("memory", ["allocator.", "storage."]),
    ("tensor", ["tensor."]),
    ("seam", ["kernels.h", "kernel_support.h", "binary_math.h", "backend.cpp"]),
    ("autograd", ["autograd/"]),
    ("ops", ["ops.h", "ops/"]),
    ("io", ["io/"]),
    ("backends", ["cpu/", "cuda/"]),
]
SOURCE = re.compile(r"\.(h|hpp|cpp|cc|cu|cuh)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def engine_level(path):
    rel = path[len("engine/"):]
    for rank, (name, members) in enumerate(ENGINE_LEVELS):
        for m in members:
            if (m.endswith("/") and rel.startswith(m)) or (not m.endswith("/") and rel.startswith(m) and "/" not in rel):
                return rank, name
    return None, None


def sources():
    for folder in FOLDER_USES:
        base = os.path.join(ROOT, folder)
        for dirpath, _, files in os.walk(base):
            for f in sorted(files):
                if SOURCE.search(f):
                    full = os.path.join(dirpath, f)
                    yield os.path.relpath(full, ROOT)


def resolve(including, target):
    """The repository path an include names (project includes are rooted at the top), or None."""
    if os.path.exists(os.path.join(ROOT, target)):
        return target
    local = os.path.normpath(os.path.join(os.path.dirname(including), target))
    return local if os.path.exists(os.path.join(ROOT, local)) else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", action="store_true", help="print the include counts between folders and levels")
    args = parser.parse_args()
    problems = []
    folder_edges = collections.Counter()
    level_edges = collections.Counter()
    for path in sources():
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        top = path.split("/")[0]
        for target in INCLUDE.findall(text):
            dest = resolve(path, target)
            if dest is None:
                continue  # a generated or third-party header
            other = dest.split("/")[0]
            if other not in FOLDER_USES:
                problems.append(f"{path}: includes {dest}, outside the library folders")
                continue
            folder_edges[(top, other)] += 1
            if other != top and other not in FOLDER_USES[top]:
                problems.append(f"{path}: includes {dest}, but {top}/ may use only "
                                f"{', '.join(sorted(FOLDER_USES[top])) or 'itself'}")
            if top == "engine" and other == "engine":
                (rank, name), (drank, dname) = engine_level(path), engine_level(dest)
                if rank is None or drank is None:
                    problems.append(f"{path} -> {dest}: a file of engine/ without a level in tools/layers.py")
                    continue
                level_edges[(name, dname)] += 1
                if drank > rank:
                    problems.append(f"{path} ({name}) includes {dest} ({dname}), a higher level")
                if name == "backends" and path.split("/")[1] != dest.split("/")[1] and dname == "backends":
                    problems.append(f"{path}: a backend includes another backend's {dest}")
    if args.graph:
        print("folder -> folder (includes)")
        for (a, b), n in sorted(folder_edges.items()):
            if a != b:
                print(f"  {a:>10} -> {b:<10} {n}")
        print("engine level -> level (includes), levels lowest first: " + ", ".join(n for n, _ in ENGINE_LEVELS))
        for (a, b), n in sorted(level_edges.items(), key=lambda e: ([n for n, _ in ENGINE_LEVELS].index(e[0][0]), e[0][1])):
            if a != b:
                print(f"  {a:>10} -> {b:<10} {n}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) break the layering", file=sys.stderr)
        return 1
    print(f"layering holds ({sum(folder_edges.values())} project includes read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
