#!/usr/bin/env bash
# tools/prepare-data.sh against real HTTP servers on 127.0.0.1 (tests/tools/flaky_http_server.py) serving small
# archives made here, through a test manifest (DISMAX_PREPARE_MANIFEST): a good download and its no-op rerun,
# a truncated file, a wrong pin, a server that dies mid-download and the resumed rerun, a server without
# Range support, a local and a file:// mirror with no server, no server at all, unpinned files, and folders
# left without (or with a stale) completion marker. Each case checks the exit status and what is on disk.
#   tests/tools/prepare_data.sh [path/to/tools/prepare-data.sh]
# Needs bash, curl, python3, tar, gzip, sha256sum (and unzip for the zip case, skipped without it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=${1:-$here/../../tools/prepare-data.sh}
server_py=$here/flaky_http_server.py
for tool in curl python3 tar gzip sha256sum md5sum; do
  command -v "$tool" >/dev/null || { echo "prepare_data test: missing $tool"; exit 1; }
done
[ -x "$script" ] || { echo "prepare_data test: $script is not an executable file"; exit 1; }

work=$(mktemp -d)
server_pids=()
cleanup() {
  local pid
  for pid in ${server_pids[@]+"${server_pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
started=$(date +%s.%N)

fail() {
  echo "FAIL [$case_name]: $*"
  for f in "$work/out" "$work/err"; do [ -s "$f" ] && { echo "--- ${f##*/}:"; cat "$f"; }; done
  exit 1
}

# ---------------------------------------------------------------------------------------------- fixtures

files=$work/files  # what the servers and the mirror serve
mkdir -p "$files" "$work/src/cifar-10-batches-py" "$work/src/LSUN_resize/LSUN_resize" \
  "$work/src/benchmark_imglist/cifar10"
for batch in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch batches.meta; do
  head -c 12000 /dev/urandom >"$work/src/cifar-10-batches-py/$batch"
done
tar -czf "$files/cifar-10-python.tar.gz" -C "$work/src" cifar-10-batches-py
for i in 0 1 2; do head -c 3000 /dev/urandom >"$work/src/LSUN_resize/LSUN_resize/$i.jpg"; done
tar -czf "$files/LSUN_resize.tar.gz" -C "$work/src" LSUN_resize
head -c 9000 /dev/urandom >"$files/test_32x32.mat"
echo "cifar10/test_cifar10.jpg 0" >"$work/src/benchmark_imglist/cifar10/test_cifar10.txt"
(cd "$work/src" && python3 -m zipfile -c "$files/benchmark_imglist.zip" benchmark_imglist)

sha() { sha256sum "$1" | cut -d' ' -f1; }
bytes() { wc -c <"$1" | tr -d ' '; }
cifar_sha=$(sha "$files/cifar-10-python.tar.gz")
cifar_bytes=$(bytes "$files/cifar-10-python.tar.gz")
lsun_sha=$(sha "$files/LSUN_resize.tar.gz")
lsun_md5=$(md5sum "$files/LSUN_resize.tar.gz" | cut -d' ' -f1)

# write_manifest PORT [CIFAR_SHA256] [LSUN_MD5]: the test manifest with every URL on 127.0.0.1:PORT.
write_manifest() {
  local base="http://127.0.0.1:$1" path="$work/manifest.$1.${2:-good}.${3:-good}"
  cat >"$path" <<EOF
# name folder layout file bytes sha256 md5 url
cifar10 cifar10 contains:cifar-10-batches-py cifar-10-python.tar.gz $cifar_bytes ${2:-$cifar_sha} $(md5sum "$files/cifar-10-python.tar.gz" | cut -d' ' -f1) $base/cifar-10-python.tar.gz
svhn svhn file test_32x32.mat $(bytes "$files/test_32x32.mat") $(sha "$files/test_32x32.mat") - $base/test_32x32.mat
lsun_resize LSUN_resize is:LSUN_resize LSUN_resize.tar.gz - UNPINNED ${3:-$lsun_md5} $base/LSUN_resize.tar.gz
openood-v1.5-lists benchmark_imglist is:benchmark_imglist benchmark_imglist.zip - $(sha "$files/benchmark_imglist.zip") - $base/benchmark_imglist.zip
EOF
  echo "$path"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server FOLDER [server options]: sets PORT, SERVER_LOG, SERVER_PID.
server_count=0
start_server() {
  local folder=$1
  shift
  server_count=$((server_count + 1))
  local port_file="$work/server$server_count.port"
  SERVER_LOG="$work/server$server_count.log"
  : >"$SERVER_LOG"
  python3 "$server_py" "$folder" --port-file "$port_file" --log "$SERVER_LOG" "$@" &
  SERVER_PID=$!
  server_pids+=("$SERVER_PID")
  local tries=0
  until [ -f "$port_file" ]; do
    tries=$((tries + 1))
    [ $tries -lt 200 ] || fail "the test server did not start"
    sleep 0.025
  done
  PORT=$(cat "$port_file")
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

# prepare ROOT MANIFEST ARGS...: runs the script; sets RC, output in $work/out and $work/err.
prepare() {
  local root=$1 manifest=$2
  shift 2
  RC=0
  DISMAX_PREPARE_MANIFEST=$manifest "$script" --root "$root" "$@" >"$work/out" 2>"$work/err" </dev/null || RC=$?
}

expect_rc() {
  if [ "$1" = nonzero ]; then [ "$RC" -ne 0 ] || fail "expected a non-zero exit, got 0"
  else [ "$RC" -eq "$1" ] || fail "expected exit $1, got $RC"; fi
}
expect_err() { grep -qF -- "$1" "$work/err" || fail "stderr lacks '$1'"; }
expect_out() { grep -qF -- "$1" "$work/out" || fail "stdout lacks '$1'"; }
expect_one_error_line() {
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "expected exactly one line on stderr"
  grep -q '^prepare-data: error: ' "$work/err" || fail "the stderr line is not an error line"
}
expect_file() { [ -f "$1" ] || fail "missing file $1"; }
expect_absent() { [ ! -e "$1" ] || fail "$1 should not exist"; }
expect_marker() { [ "$(cut -d' ' -f1 "$1/.complete" 2>/dev/null)" = "$2" ] || fail "$1/.complete does not hold $2"; }
expect_no_staging_left() { [ -z "$(ls -A "$1/.staging" 2>/dev/null)" ] || fail "$1/.staging is not empty"; }
expect_cifar_laid_out() {
  local batch
  for batch in data_batch_1 data_batch_5 test_batch; do expect_file "$1/cifar10/cifar-10-batches-py/$batch"; done
  cmp -s "$1/cifar10/cifar-10-batches-py/test_batch" "$work/src/cifar-10-batches-py/test_batch" ||
    fail "test_batch differs from the archived one"
  expect_marker "$1/cifar10" "$cifar_sha"
  expect_absent "$1/.downloads/cifar-10-python.tar.gz.part"
  expect_absent "$1/.downloads/cifar-10-python.tar.gz"
  expect_no_staging_left "$1"
}
passed() { echo "ok: $case_name"; }

# ------------------------------------------------------------------------------------------------- cases

case_name="good download, then a no-op rerun"
start_server "$files"
manifest=$(write_manifest "$PORT")
prepare "$work/r1" "$manifest" cifar10
expect_rc 0
expect_cifar_laid_out "$work/r1"
expect_out "cifar10: prepared in $work/r1/cifar10"
requests=$(wc -l <"$SERVER_LOG")
prepare "$work/r1" "$manifest" cifar10
expect_rc 0
expect_out "already prepared"
[ "$(wc -l <"$SERVER_LOG")" -eq "$requests" ] || fail "the rerun downloaded again"
prepare "$work/r1" "$manifest" --verify-only cifar10
expect_rc 0
passed

case_name="a folder without its marker is reported and redone"
rm "$work/r1/cifar10/.complete"
echo stale >"$work/r1/cifar10/stale-file"
prepare "$work/r1" "$manifest" cifar10
expect_rc 0
expect_err "no completion marker"
expect_absent "$work/r1/cifar10/stale-file"
expect_cifar_laid_out "$work/r1"
passed

case_name="a marker from another file is reported and redone"
echo "$(printf '1%.0s' {1..64})  cifar-10-python.tar.gz" >"$work/r1/cifar10/.complete"
prepare "$work/r1" "$manifest" --verify-only cifar10
expect_rc 1
expect_out "not prepared"
prepare "$work/r1" "$manifest" cifar10
expect_rc 0
expect_err "prepared from a file with SHA-256 1111"
expect_cifar_laid_out "$work/r1"
stop_server
passed

case_name="truncated file"
mkdir "$work/truncated"
head -c 30000 "$files/cifar-10-python.tar.gz" >"$work/truncated/cifar-10-python.tar.gz"
start_server "$work/truncated"
prepare "$work/r2" "$(write_manifest "$PORT")" cifar10
expect_rc nonzero
expect_one_error_line
expect_err "checksum mismatch for cifar-10-python.tar.gz"
expect_err "30000 bytes, expected $cifar_bytes"
expect_absent "$work/r2/cifar10"
expect_absent "$work/r2/.downloads/cifar-10-python.tar.gz.part"
expect_file "$work/r2/.downloads/cifar-10-python.tar.gz.bad"
expect_no_staging_left "$work/r2"
stop_server
passed

case_name="wrong checksum in the manifest"
start_server "$files"
wrong=$(printf '0%.0s' {1..64})
prepare "$work/r3" "$(write_manifest "$PORT" "$wrong")" cifar10
expect_rc nonzero
expect_one_error_line
expect_err "expected sha256 $wrong, got $cifar_sha"
expect_absent "$work/r3/cifar10"
expect_no_staging_left "$work/r3"
stop_server
passed

case_name="server dies mid-download, the rerun resumes"
start_server "$files" --cut-after 20000
prepare "$work/r4" "$(write_manifest "$PORT")" cifar10
expect_rc nonzero
expect_one_error_line
expect_err "cut short"
expect_err "rerun to resume"
wait "$SERVER_PID" 2>/dev/null || true  # it exits after cutting the download
part="$work/r4/.downloads/cifar-10-python.tar.gz.part"
expect_file "$part"
[ "$(bytes "$part")" -eq 20000 ] || fail "the .part holds $(bytes "$part") bytes, expected the 20000 sent"
expect_absent "$work/r4/cifar10"
start_server "$files"
prepare "$work/r4" "$(write_manifest "$PORT")" cifar10
expect_rc 0
expect_out "resuming"
grep -q "range=bytes=20000-" "$SERVER_LOG" || fail "the rerun did not ask for bytes 20000- ($(cat "$SERVER_LOG"))"
expect_cifar_laid_out "$work/r4"
stop_server
passed

case_name="a server without Range support: the partial file is dropped and downloaded whole"
mkdir -p "$work/r5/.downloads"
head -c 1000 "$files/cifar-10-python.tar.gz" >"$work/r5/.downloads/cifar-10-python.tar.gz.part"
start_server "$files" --no-ranges
prepare "$work/r5" "$(write_manifest "$PORT")" cifar10
expect_rc 0
expect_err "cannot resume"
expect_cifar_laid_out "$work/r5"
stop_server
passed

case_name="mirror folder, no server"
dead_port=$(free_port)
mirror_names=(cifar10 svhn)
command -v unzip >/dev/null && mirror_names+=(openood-v1.5-lists)
prepare "$work/r6" "$(write_manifest "$dead_port")" --mirror "$files" "${mirror_names[@]}"
expect_rc 0
expect_cifar_laid_out "$work/r6"
cmp -s "$work/r6/svhn/test_32x32.mat" "$files/test_32x32.mat" || fail "svhn/test_32x32.mat differs"
expect_marker "$work/r6/svhn" "$(sha "$files/test_32x32.mat")"
if command -v unzip >/dev/null; then
  expect_file "$work/r6/benchmark_imglist/cifar10/test_cifar10.txt"
  expect_marker "$work/r6/benchmark_imglist" "$(sha "$files/benchmark_imglist.zip")"
fi
prepare "$work/r6" "$(write_manifest "$dead_port")" --mirror "$files" --verify-only "${mirror_names[@]}"
expect_rc 0
expect_out "mirror: $files/test_32x32.mat matches its pin"
passed

case_name="file:// mirror, no server"
prepare "$work/r7" "$(write_manifest "$dead_port")" --mirror "file://$files" svhn
expect_rc 0
expect_marker "$work/r7/svhn" "$(sha "$files/test_32x32.mat")"
passed

case_name="no server at all"
url="http://127.0.0.1:$dead_port/cifar-10-python.tar.gz"
prepare "$work/r8" "$(write_manifest "$dead_port")" cifar10
expect_rc nonzero
expect_one_error_line
expect_err "server unreachable: $url"
expect_absent "$work/r8/cifar10"
passed

case_name="unpinned file: refused, then on trust (MD5 checked), then with --sha256"
start_server "$files"
manifest=$(write_manifest "$PORT")
prepare "$work/r9" "$manifest" lsun_resize
expect_rc nonzero
expect_one_error_line
expect_err "no SHA-256 pin for: lsun_resize"
[ ! -s "$SERVER_LOG" ] || fail "a refused unpinned file was downloaded"
expect_absent "$work/r9/LSUN_resize"
prepare "$work/r9" "$manifest" --trust-unpinned lsun_resize
expect_rc 0
expect_err "NOT PINNED"
expect_err "--sha256 lsun_resize=$lsun_sha"
expect_file "$work/r9/LSUN_resize/LSUN_resize/2.jpg"
expect_marker "$work/r9/LSUN_resize" "$lsun_sha"
prepare "$work/r12" "$(write_manifest "$PORT" "" "$(printf 'f%.0s' {1..32})")" --trust-unpinned lsun_resize
expect_rc nonzero
expect_one_error_line
expect_err "expected md5 $(printf 'f%.0s' {1..32}), got $lsun_md5 (its sha256 is $lsun_sha)"
expect_absent "$work/r12/LSUN_resize"
prepare "$work/r10" "$manifest" --sha256 "lsun_resize=$wrong" lsun_resize
expect_rc nonzero
expect_err "expected sha256 $wrong, got $lsun_sha"
expect_absent "$work/r10/LSUN_resize"
prepare "$work/r10" "$manifest" --sha256 "lsun_resize=$lsun_sha" lsun_resize
expect_rc 0
grep -q "NOT PINNED" "$work/err" && fail "a file pinned with --sha256 was reported unpinned"
expect_marker "$work/r10/LSUN_resize" "$lsun_sha"
stop_server
passed

case_name="unknown dataset, --list"
prepare "$work/r11" "$manifest" cifar11
expect_rc 2
expect_one_error_line
expect_err "unknown dataset 'cifar11'"
RC=0
"$script" --list >"$work/out" 2>"$work/err" || RC=$?
expect_rc 0
expect_out "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
expect_out "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
passed

echo "prepare_data: all cases passed in $(python3 -c "print(f'{$(date +%s.%N) - $started:.1f}')") s"
