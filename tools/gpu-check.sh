#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: builds dismax with CUDA, runs the CPU-vs-CUDA parity suite
# (every op forward and backward, losses, a training step of each architecture) and the rest of the test
# binary, then times training images/s at batch 128 for ResNet34, WRN-28-10 and DenseNet-BC-100 against
# PyTorch eager on the same GPU and prints the two side by side. About 5 minutes on an H100.
#
#   tools/gpu-check.sh [build-dir]
#
# Without the Debian packages (no apt), make .gpu-deps/ with tools/gpu-bundle-deps.sh on a Debian machine
# and bring it along; cuDNN and cuBLAS are taken from the system or from PyTorch's nvidia-* wheels.
# Environment: CUDA_ARCH (default: the GPU's compute capability), BENCH_STEPS (30), SKIP_BENCH=1, SKIP_TESTS=1.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
t_start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t_start ))s"; }

python=$(command -v python3 || true)
wheel_dir() {  # site-packages/nvidia/<name>, if PyTorch's wheel provides it
  [ -n "$python" ] && "$python" -c "import nvidia.$1 as m; print(list(m.__path__)[0])" 2>/dev/null
}
cudnn_root=$(wheel_dir cudnn || true)
cublas_root=$(wheel_dir cublas || true)
arch=${CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')}
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DDISMAX_CUDA=ON -DDISMAX_BUILD_EXAMPLES=OFF
            -DCMAKE_CUDA_ARCHITECTURES="${arch:-90}")
[ -n "$cudnn_root" ] && cmake_args+=(-DCUDNN_ROOT="$cudnn_root")
[ -n "$cublas_root" ] && cmake_args+=(-DCUBLAS_ROOT="$cublas_root")
if ! [ -f /usr/include/eigen3/Eigen/Core ] && [ -d .gpu-deps ]; then
  cmake_args+=(-DDISMAX_DEPS_DIR="$PWD/.gpu-deps" -DDISMAX_OPENCV=OFF)
fi
for d in "$cudnn_root" "$cublas_root"; do
  [ -n "$d" ] && export LD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done

echo "== gpu-check: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"
echo "== nvcc: $(nvcc --version 2>/dev/null | tail -1)"
echo "== cuDNN: ${cudnn_root:-system}  cuBLAS: ${cublas_root:-toolkit}"
cmake -S . -B "$build" "${cmake_args[@]}" | grep -E "dismax:|Error|error" || true
cmake --build "$build" --target dismax_tests dismax-bench-gpu || { echo "== build FAILED ($(elapsed))"; exit 1; }
echo "== built ($(elapsed))"

status=0
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "== CPU-vs-CUDA parity suite"
  "$build/tests/dismax_tests" -ts=cuda -d || status=1
  echo "== the rest of the test binary (CUDA build)"
  "$build/tests/dismax_tests" -tse=cuda || status=1
  echo "== tests done ($(elapsed)), status $status"
fi

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  steps=${BENCH_STEPS:-30}
  tmp=$(mktemp -d)
  echo "== training images/s, batch 128, fp32 (TF32 off in both), $steps timed steps after 5 warm-up"
  "$build/bench/dismax-bench-gpu" --steps "$steps" --json "$tmp/dismax.json" || status=1
  if [ -n "$python" ] && "$python" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    "$python" bench/bench_gpu_torch.py --steps "$steps" --json "$tmp/torch.json" || status=1
  else
    echo "(PyTorch with CUDA not found: no comparison)"
  fi
  "$python" - "$tmp/dismax.json" "$tmp/torch.json" <<'EOF'
import json, os, sys
ours = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
theirs = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {}
print("| model | dismax images/s | PyTorch eager images/s | ratio (dismax / PyTorch) |")
print("|---|---:|---:|---:|")
for name in ours.keys() | theirs.keys():
    a, b = ours.get(name), theirs.get(name)
    ratio = f"{a / b:.2f}" if a and b else "-"
    print(f"| {name} | {a or 0:.0f} | {b or 0:.0f} | {ratio} |")
EOF
  rm -rf "$tmp"
fi
echo "== gpu-check finished in $(elapsed), status $status"
exit $status
