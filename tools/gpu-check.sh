#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (an H100/H200 with nvcc, PyTorch and its nvidia-* wheels, no
# apt, no network): builds dismax with CUDA, runs the CPU-vs-CUDA parity suite and the rest of the test
# binary, runs compute-sanitizer (memcheck, racecheck) on a subset of the ops, prints the cuDNN engine chosen
# for each convolution shape of the benchmark models, and prints training images/s at batch 128 for
# ResNet34, WRN-28-10, DenseNet-BC-100 (CIFAR) and ResNet18 (ImageNet) against PyTorch eager on the same
# GPU, TF32 off and on. With TRAIN_DATA=DIR (CIFAR-10 in any layout dismax-train reads) it also trains a few
# epochs of DisMax+FPR on the GPU and on the CPU from one seed and evaluates both. Everything it prints
# also goes to $OUT/gpu-check.log when OUT is set (the device tool's output folder); the tables go to
# $OUT/gpu-results.md. About 6 minutes on an H200 from a clean tree.
#
#   tools/gpu-check.sh [build-dir]             the real thing
#   tools/gpu-check.sh --emulator              the same steps against tests/cuda_emulator (no GPU needed):
#                                              checks the script's logic, not the GPU
#
# Without the Debian packages (no apt), make .gpu-deps/ with tools/gpu-bundle-deps.sh on a Debian machine
# and bring it along. cuDNN and cuBLAS come from PyTorch's wheels when they were built for the CUDA major of
# nvcc, else from the toolkit (a mismatched cuDNN is refused at start-up anyway, with one line).
# Environment: CUDA_ARCH (default: the GPU's compute capability), JOBS (nproc), BENCH_STEPS (30),
# SKIP_TESTS=1, SKIP_SANITIZER=1, SKIP_BENCH=1, TEST_ARGS (extra doctest options for the parity run, e.g.
# -tc=conv2d), TRAIN_DATA, TRAIN_EPOCHS (2), TRAIN_SUBSET (10000).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

emulator=0
build=build-gpu
for arg in "$@"; do
  case $arg in
    --emulator) emulator=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    -*) echo "gpu-check: unknown option $arg (see --help)"; exit 2 ;;
    *) build=$arg ;;
  esac
done

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  exec > >(tee "$OUT/gpu-check.log") 2>&1
fi
results=${OUT:-$build}/gpu-results.md
t_start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t_start ))s"; }
status=0
fail() { echo "!! $*"; status=1; }
step() { echo; echo "== $* ($(elapsed))"; }

python=$(command -v python3 || true)
jobs=${JOBS:-$(nproc)}

# ---- where the binaries come from
if ((emulator)); then
  build=${EMU_BUILD_DIR:-$root/build-emu}
  results=${OUT:-$build}/gpu-results.md
  step "emulator build into $build"
  mkdir -p "$build"
  if ! nice make -C tests/cuda_emulator -j"$jobs" BUILD="$build" all "$build/dismax-bench-gpu" >"$build/build.log" 2>&1; then
    tail -n 30 "$build/build.log"; echo "== build FAILED ($(elapsed))"; exit 1
  fi
  tests_bin=$build/dismax_emu_tests
  bench_bin=$build/dismax-bench-gpu
  parity_filter="-ts=cuda,cuda_edge_cases"
  bench_args=(--model resnet20 --batch 2 --steps 1 --warmup 1)  # naive emulated convolutions: tiny
  torch_cuda=0
else
  wheel_dir() {  # site-packages/nvidia/<name>, if PyTorch's wheel provides it
    [ -n "$python" ] && "$python" -c "import nvidia.$1 as m; print(list(m.__path__)[0])" 2>/dev/null
  }
  nvcc_major=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9]*\)\..*/\1/p' | head -1)
  torch_cuda=$([ -n "$python" ] && "$python" -c "import torch; print(torch.version.cuda or '')" 2>/dev/null || true)
  cudnn_root="" cublas_root=""
  if [ -n "$torch_cuda" ] && [ "${torch_cuda%%.*}" = "$nvcc_major" ]; then
    cudnn_root=$(wheel_dir cudnn || true)
    cublas_root=$(wheel_dir cublas || true)
  elif [ -n "$torch_cuda" ]; then
    echo "== PyTorch's wheels are for CUDA $torch_cuda but nvcc is CUDA $nvcc_major: using the toolkit's cuDNN/cuBLAS"
  fi
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
  echo "== nvcc: CUDA $nvcc_major; PyTorch CUDA: ${torch_cuda:-none}; cuDNN: ${cudnn_root:-toolkit}; cuBLAS: ${cublas_root:-toolkit}"
  step "build ($build, -j$jobs)"
  cmake -S . -B "$build" "${cmake_args[@]}" | grep -E "dismax:|Error|error" || true
  cmake --build "$build" -j "$jobs" --target dismax_tests dismax-bench-gpu dismax-train dismax-eval ||
    { echo "== build FAILED ($(elapsed))"; exit 1; }
  tests_bin=$build/tests/dismax_tests
  bench_bin=$build/bench/dismax-bench-gpu
  parity_filter="-ts=cuda"
  bench_args=(--steps "${BENCH_STEPS:-30}")
  torch_cuda=$([ -n "$python" ] && "$python" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
fi

# ---- tests
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  step "CPU-vs-CUDA parity suite"
  # shellcheck disable=SC2086  # TEST_ARGS is a list of doctest options
  "$tests_bin" "$parity_filter" ${TEST_ARGS:-} || fail "parity suite failed"
  if ((emulator)); then
    echo "(the rest of the test binary: not part of the emulator build)"
  else
    step "the rest of the test binary (CUDA build)"
    "$tests_bin" -tse=cuda || fail "test binary failed"
  fi
fi

if [ "${SKIP_SANITIZER:-0}" != 1 ]; then
  # Ops with every kind of kernel (grid-stride, shared-memory reductions, batch norm's two-level sums,
  # indexing, SGD's one-launch update); conv2d is cuDNN's, checked by its own suite.
  memcheck_cases='-tc=copies*,elementwise*,reductions*,batch norm*,pooling,views*,distances*,SGD*'
  racecheck_cases='-tc=reductions*,batch norm*'
  if ((emulator)); then
    step "compute-sanitizer: not run on the emulator (it checks a real GPU); the commands would be:"
    echo "compute-sanitizer --tool memcheck --error-exitcode 99 $tests_bin -ts=cuda '$memcheck_cases'"
    echo "compute-sanitizer --tool racecheck --error-exitcode 99 $tests_bin -ts=cuda '$racecheck_cases'"
  elif ! command -v compute-sanitizer >/dev/null; then
    fail "compute-sanitizer not found"
  else
    step "compute-sanitizer memcheck on an op subset"
    compute-sanitizer --tool memcheck --error-exitcode 99 "$tests_bin" -ts=cuda "$memcheck_cases" 2>&1 |
      grep -vE '^\[doctest\] (doctest|run with)' | tail -n 40
    [ "${PIPESTATUS[0]}" = 0 ] || fail "memcheck reported errors"
    step "compute-sanitizer racecheck on the shared-memory kernels"
    compute-sanitizer --tool racecheck --error-exitcode 99 "$tests_bin" -ts=cuda "$racecheck_cases" 2>&1 |
      grep -vE '^\[doctest\] (doctest|run with)' | tail -n 40
    [ "${PIPESTATUS[0]}" = 0 ] || fail "racecheck reported hazards"
  fi
fi

# ---- benchmark: the chosen cuDNN engines, then images/s against PyTorch eager
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  tmp=$(mktemp -d)
  for tf32 in off on; do
    flag=(); [ $tf32 = on ] && flag=(--tf32)
    step "training images/s, TF32 $tf32 (dismax ${bench_args[*]})"
    DISMAX_CUDNN_VERBOSE=1 "$bench_bin" "${bench_args[@]}" ${flag[@]+"${flag[@]}"} --json "$tmp/dismax-$tf32.json" \
      2>"$tmp/plans-$tf32.log" || { fail "dismax-bench-gpu failed (TF32 $tf32)"; tail -n 5 "$tmp/plans-$tf32.log"; }
    echo "-- cuDNN plans chosen (TF32 $tf32):"
    sed -n 's/^dismax cuDNN plan \(.*\); [0-9]* config(s) rejected.*/\1/p' "$tmp/plans-$tf32.log" | sort -u
    if [ "$torch_cuda" = 1 ]; then
      "$python" bench/bench_gpu_torch.py --steps "${BENCH_STEPS:-30}" ${flag[@]+"${flag[@]}"} --json "$tmp/torch-$tf32.json" ||
        fail "bench_gpu_torch.py failed (TF32 $tf32)"
    else
      echo "(PyTorch with CUDA not available here: no comparison)"
    fi
  done
  "${python:-python3}" - "$tmp" "$results" <<'EOF'
import json, os, sys
tmp, out = sys.argv[1], sys.argv[2]
def load(name):
    path = os.path.join(tmp, name)
    return json.load(open(path)) if os.path.exists(path) else {}
lines = []
for tf32 in ("off", "on"):
    ours, theirs = load(f"dismax-{tf32}.json"), load(f"torch-{tf32}.json")
    lines += ["", f"TF32 {tf32}, batch 128, fp32 weights and activations:", "",
              "| model | dismax images/s | PyTorch eager images/s | ratio (dismax / PyTorch) |", "|---|---:|---:|---:|"]
    for name in sorted(ours.keys() | theirs.keys()):
        a, b = ours.get(name), theirs.get(name)
        ratio = f"{a / b:.2f}" if a and b else "-"
        lines.append(f"| {name} | {a or 0:.0f} | {b or 0:.0f} | {ratio} |")
text = "\n".join(lines) + "\n"
print(text)
with open(out, "w") as f:
    f.write(text)
EOF
  echo "(tables written to $results)"
  rm -rf "$tmp"
fi

# ---- a real short training on both devices from one seed
if [ -n "${TRAIN_DATA:-}" ] && ((emulator == 0)); then
  runs=${OUT:-$build}/train
  common=(--dataset cifar10 --data-dir "$TRAIN_DATA" --model resnet34 --loss dismax --fpr --seed 1
          --epochs "${TRAIN_EPOCHS:-2}" --train-subset "${TRAIN_SUBSET:-10000}")
  for device in cuda cpu; do
    step "dismax-train --device $device (${common[*]})"
    "$build/tools/dismax-train" "${common[@]}" --device $device --out "$runs/$device" | tail -n 5 ||
      fail "dismax-train --device $device failed"
    "$build/tools/dismax-eval" --checkpoint "$runs/$device/last.safetensors" --data-dir "$TRAIN_DATA" \
      --device $device --out "$runs/$device/eval" | tail -n 5 || fail "dismax-eval --device $device failed"
  done
  step "training curves, GPU vs CPU (history.jsonl)"
  paste -d'\n' "$runs/cuda/history.jsonl" "$runs/cpu/history.jsonl" | head -n 20
fi

echo
echo "== gpu-check finished in $(elapsed), status $status"
exit $status
