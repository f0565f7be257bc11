#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, CUDA off) and fuzzes each parser for a bounded time
# from the seed corpus in tests/fuzz/corpus/<target>/ (never modified: new inputs go to a scratch folder).
# Prints executions, corpus growth and crashes per target; exits non-zero on any crash, leak, timeout or
# sanitizer report, leaving the input that triggered it as <build>/crash-<target>-*.
#   tests/fuzz/run.sh [seconds per target (60)] [build dir (build-fuzz)]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-60}
build=$(realpath -m "${2:-$root/build-fuzz}")
targets=(fuzz_safetensors fuzz_idx fuzz_cifar fuzz_svhn_mat fuzz_image fuzz_torch_file)

cxx=${FUZZ_CXX:-$(command -v clang++ || true)}
if [ -z "$cxx" ]; then
  echo "[skip] fuzzing: clang++ not found (apt-get install clang libclang-rt-14-dev)"
  exit 0
fi
probe=$(mktemp -d)
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
  > "$probe/p.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2> "$probe/err"; then
  echo "[skip] fuzzing: $cxx cannot link libFuzzer ($(head -n 1 "$probe/err"); apt-get install libclang-rt-14-dev)"
  rm -rf "$probe"
  exit 0
fi
rm -rf "$probe"

echo "== building the fuzz targets with $cxx into $build"
t0=$SECONDS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISMAX_FUZZ=ON \
  -DDISMAX_CUDA=OFF -DDISMAX_BUILD_TESTS=OFF -DDISMAX_BUILD_BENCH=OFF -DDISMAX_BUILD_EXAMPLES=OFF > "$build.configure.log" 2>&1 ||
  { tail -n 20 "$build.configure.log"; echo "FAIL: configure"; exit 1; }
cmake --build "$build" --target "${targets[@]}" > "$build.build.log" 2>&1 ||
  { grep -E "error" -A3 "$build.build.log" | head -n 40; echo "FAIL: build (log: $build.build.log)"; exit 1; }
echo "   built in $((SECONDS - t0)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
printf '%-18s %10s %8s %10s  %s\n' target executions exec/s "new inputs" result
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  log="$build/$t.log"
  "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$build/crash-$t-" -print_final_stats=1 "$work" "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  added=$(find "$work" -type f | wc -l)
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc; log $log)"
    failed=1
  fi
  printf '%-18s %10s %8s %10s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "$added" "$result"
  if [ $rc -ne 0 ]; then
    # libFuzzer's own verdict (crash, leak, out-of-memory = exit 71, timeout = exit 70) and the sanitizers'
    grep -E "==[0-9]+== ?ERROR|ERROR: libFuzzer|SUMMARY|runtime error|Test unit written|malloc\(" "$log" | head -n 10
  fi
  rm -rf "$work"
done
if ((failed)); then
  echo "FAIL: a fuzz target found a crash (inputs under $build/crash-*)"
  exit 1
fi
echo "PASS: no crash in ${#targets[@]} targets x ${seconds} s"
