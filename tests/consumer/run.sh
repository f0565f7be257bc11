#!/usr/bin/env bash
# Installs the built dismax into a scratch prefix, then builds examples/ against it as an outside
# project would (find_package(dismax)) and runs the example.
set -euo pipefail
build_dir=$1
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > /dev/null
cmake -S "$source_dir/examples" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$work/build" > /dev/null
cd "$work" && "$work/build/dismax-example-train" "$work/checkpoint.safetensors"
