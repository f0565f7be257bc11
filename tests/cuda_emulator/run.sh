#!/usr/bin/env bash
# Builds the CUDA emulator and runs the CPU-vs-CUDA parity suite on it (see README.md):
#   tests/cuda_emulator/run.sh [--all] [doctest options, e.g. -tc="conv2d"]
# First the fakes' self-test, then dismax_emu_tests (the parity suite, the backend tests and the edge
# cases) with the default settings; --all repeats it under each of the settings below. Prints one PASS/FAIL
# line per run and exits non-zero if any failed. EMU_BUILD_DIR overrides the build folder (build-emu/),
# EMU_TIMEOUT the seconds one run may take (3600).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(realpath -m "${EMU_BUILD_DIR:-$root/build-emu}")

all=0
doctest_args=()
for arg in "$@"; do
  if [[ $arg == --all ]]; then all=1; else doctest_args+=("$arg"); fi
done

# name, then the environment it runs with and doctest options of its own (words starting with -). The
# last two are short: the float64 cases with no cuDNN float64 engine (the im2col + DGEMM fallback), and a
# cuDNN built for another CUDA major (the backend must refuse it with one line).
settings=("default"
          "no-float64-cudnn EMU_CUDNN_NO_DOUBLE=1 -tc=*float64*,*architecture*"
          "mismatched-cudnn EMU_CUDNN_CUDART=12090 -tc=*versions*")
if ((all)); then
  settings+=("sync EMU_SYNC=1"
             "no-autotune DISMAX_CUDNN_BENCHMARK=0"
             "reverse-thread-order EMU_REVERSE=1"
             "fp32-accumulating-cudnn EMU_CUDNN_FP32_ACCUM=1")
fi

started=$SECONDS
summary=()
failed=0

record() {  # status, name, details
  summary+=("$(printf '%-4s  %-24s %s' "$1" "$2" "$3")")
  [[ $1 == PASS ]] || failed=1
}

mkdir -p "$build"
echo "== building into $build (nice, -j2)"
if ! nice make -C "$here" -j2 BUILD="$build" >"$build/build.log" 2>&1; then
  tail -n 40 "$build/build.log"
  echo "FAIL: the build failed (full log: $build/build.log)"
  exit 1
fi
echo "   done in $((SECONDS - started)) s"

echo "== selftest"
if nice "$build/selftest" >"$build/selftest.log" 2>&1; then
  record PASS selftest "$(grep '^selftest:' "$build/selftest.log")"
else
  grep -E '^(FAIL|FAKE: [^0-9])' "$build/selftest.log" | head -n 20
  record FAIL selftest "log: $build/selftest.log"
fi

for setting in "${settings[@]}"; do
  read -r name words <<<"$setting"
  env_vars=() own_args=()
  for w in $words; do
    if [[ $w == -* ]]; then own_args+=("$w"); else env_vars+=("$w"); fi
  done
  log="$build/run-$name.log"
  echo "== $name${words:+ ($words)}"
  t0=$SECONDS
  env ${env_vars[@]+"${env_vars[@]}"} nice timeout "${EMU_TIMEOUT:-3600}" \
    "$build/dismax_emu_tests" ${own_args[@]+"${own_args[@]}"} ${doctest_args[@]+"${doctest_args[@]}"} >"$log" 2>&1
  rc=$?
  took=$((SECONDS - t0))
  counts=$(grep -E '^\[doctest\] (test cases|assertions):' "$log" |
           sed -E 's/^\[doctest\] //; s/ +/ /g; s/ ?\| ?$//' | paste -sd ';' | sed 's/;/; /')
  problems=$(sed -n 's/^FAKE: \([0-9]*\) problem(s) reported.*/\1/p' "$log")
  details="${took} s  ${counts:-no doctest summary}; fake problems: ${problems:-?}"
  why=""
  if ((rc == 124)); then
    why="timed out"
  elif ((rc != 0)); then
    why="exit code $rc"
  elif [[ $problems != 0 ]]; then
    why="the fakes reported problems"  # an API misuse the engine survived
  elif [[ $name != mismatched-cudnn ]] && grep -q '\[skip\]\|skipped:' "$log" && [[ -z ${EMU_NO_DEVICE:-} ]]; then
    why="cases skipped although the emulated device is present"
  fi
  if [[ -z $why ]]; then
    record PASS "$name" "$details"
  else
    grep -E 'ERROR|values:|logged:|EMU FAIL|FAKE: [^0-9]|\[skip\]|skipped:' "$log" | head -n 60
    record FAIL "$name" "$details ($why; log: $log)"
  fi
  grep '^EMU WARNING' "$log" | head -n 5
done

echo "== summary"
printf '%s\n' "${summary[@]}"
total=$((SECONDS - started))
if ((failed)); then
  echo "FAIL (${total} s)"
  exit 1
fi
echo "PASS (${total} s)"
