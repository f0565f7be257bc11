#!/usr/bin/env bash
# Copies the header-only dependencies (Eigen, nlohmann-json, doctest, CLI11) and zlib from this Debian
# machine into .gpu-deps/ (git-ignored), for building on a GPU machine that has no apt and no network:
# pass it with the device tool's `carry` and build with -DDISMAX_DEPS_DIR=.gpu-deps (tools/gpu-check.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-deps
rm -rf "$out" && mkdir -p "$out/include" "$out/lib" "$out/cmake"
cp -r /usr/include/eigen3 /usr/include/nlohmann /usr/include/doctest /usr/include/CLI "$out/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$out/include/"
cp "$(find /usr/lib -name libz.a | head -1)" "$out/lib/"
cp /usr/lib/cmake/doctest/doctest.cmake /usr/lib/cmake/doctest/doctestAddTests.cmake "$out/cmake/"
du -sh "$out"
