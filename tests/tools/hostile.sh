#!/usr/bin/env bash
# The binaries against hostile and unlucky use (the failures an outside probe found), on a tiny Fashion-MNIST
# run (skips without Debian's dataset-fashion-mnist): a locked --out, a finished run resumed or extended,
# nonsense flags, an empty training set, divergence, a NaN checkpoint, unreadable and bomb images in OOD
# folders. Every refusal exits non-zero with one line naming the flag, file or folder at fault.
set -euo pipefail
bin=$1
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "[skip] hostile-input test: Fashion-MNIST not installed ($data)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=("$bin/dismax-train" --dataset fashion-mnist --data-dir "$data" --model resnet20 --width 0.25 --batch-size 64
      --train-subset 256 --threads 2 --workers 1)
train=("${base[@]}" --loss dismax --fpr --validation-split 128)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# refuses CMD...: must exit non-zero with exactly one error line containing WANT.
refuses() {
  local want=$1; shift
  local code=0
  "$@" > "$work/out" 2> "$work/err" || code=$?
  if [ $code = 0 ]; then fail "accepted: $* (wanted: $want)"; return; fi
  grep -qF -- "$want" "$work/err" || { fail "$*: no '$want' in: $(tail -n 3 "$work/err")"; return; }
  local lines
  lines=$(grep -c 'error' "$work/err" || true)
  [ "$lines" -le 1 ] || fail "$*: $lines error lines"
}

"${train[@]}" --epochs 1 --out "$work/run" > /dev/null 2> "$work/log" || { cat "$work/log"; exit 1; }

# One run per folder: a second one exits at once naming the holder.
flock "$work/run/.dismax.lock" sleep 3 &
holder=$!
sleep 0.5
refuses "is in use by another run" "${train[@]}" --epochs 2 --out "$work/run" --resume
wait $holder

# A finished run is not "resumed" into nothing; --epochs extends it (and stale temporaries are cleaned).
refuses "has finished all 1 epochs; pass --epochs N" "${train[@]}" --out "$work/run" --resume
echo torn > "$work/run/last.safetensors.tmp.99999"
"${train[@]}" --epochs 2 --out "$work/run" --resume > /dev/null 2> "$work/log" || { cat "$work/log"; fail "extend"; }
grep -q "extending .* from 1 to 2 epochs" "$work/log" || fail "no extension message"
grep -q "removed 1 temporary file" "$work/log" || fail "stale temporary not removed"
[ "$(wc -l < "$work/run/history.jsonl")" = 2 ] || fail "history after extending has not 2 epochs"
[ ! -e "$work/run/last.state.safetensors" ] || fail "the old two-file layout is still written"
refuses "has already trained 2 epoch(s)" "${train[@]}" --epochs 1 --out "$work/run" --resume

# Nonsense flags.
refuses "--validation-split must be 0, a fraction" "${base[@]}" --epochs 1 --out "$work/x" --validation-split 1.5
refuses "--validation-split" "${base[@]}" --epochs 1 --out "$work/x" --validation-split=-0.5
refuses "--validation-split must be 0, a fraction" "${base[@]}" --epochs 1 --out "$work/x" --validation-split nan
refuses "--gamma must be in (0, 1]" "${train[@]}" --epochs 1 --out "$work/x" --gamma -1
refuses "--momentum must be in [0, 1)" "${train[@]}" --epochs 1 --out "$work/x" --momentum 2
refuses "--seed" "${train[@]}" --epochs 1 --out "$work/x" --seed -1
refuses "--threads" "${train[@]}" --epochs 1 --out "$work/x" --threads -1
refuses "--max-batches" "${train[@]}" --epochs 1 --out "$work/x" --max-batches -1
refuses "--train-subset" "${train[@]}" --epochs 1 --out "$work/x" --train-subset -1
refuses "--log-every" "${train[@]}" --epochs 1 --out "$work/x" --log-every -1
refuses "invalid loss 'dismax_std_std_xyz'" "${base[@]}" --epochs 1 --out "$work/x" --loss dismax_std_std_xyz
refuses "--dataset" "${train[@]}" --epochs 1 --out "$work/x" --dataset svhn
refuses "--batch-size must be >= 1" "$bin/dismax-eval" --checkpoint "$work/run/best.safetensors" --batch-size 0 \
  --out "$work/e0"

# An empty training set (IDX files with no images) is an error, not "1 epoch" of nothing.
mkdir -p "$work/empty"
python3 - "$work/empty" <<'PY'
import gzip, os, struct, sys
d = sys.argv[1]
for split in ("train", "t10k"):
    with gzip.open(os.path.join(d, f"{split}-images-idx3-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 0, 28, 28))
    with gzip.open(os.path.join(d, f"{split}-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">II", 0x801, 0))
PY
refuses "is empty" "$bin/dismax-train" --dataset fashion-mnist --data-dir "$work/empty" --model resnet20 --width 0.25 \
  --epochs 1 --out "$work/x"

# Divergence: the run stops naming the batch, and no checkpoint with non-finite weights is left behind.
refuses "non-finite" "${base[@]}" --epochs 2 --lr 1e8 --loss softmax --validation-split 128 --out "$work/diverged"
for f in "$work/diverged/best.safetensors" "$work/diverged/last.safetensors"; do
  [ ! -e "$f" ] || "$bin/dismax-eval" --checkpoint "$f" --max-samples 64 --no-plots --out "$work/dv" > /dev/null 2>&1 ||
    fail "$f was written but does not evaluate"
done

# A checkpoint with a NaN weight is refused, naming the tensor.
python3 - "$work/run/best.safetensors" "$work/nan.safetensors" <<'PY'
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
name = next(k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32" and k.endswith("conv1.weight"))
start = 8 + n + header[name]["data_offsets"][0]
data[start:start + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(data)
print(name, file=open(sys.argv[2] + ".name", "w"))
PY
refuses "tensor '$(cat "$work/nan.safetensors.name")' holds NaN" "$bin/dismax-eval" --checkpoint "$work/nan.safetensors" \
  --out "$work/e1"

# OOD folders: all unreadable names the folder; a bomb among good images is skipped and counted.
mkdir -p "$work/broken/x" "$work/mixed/x"
for i in 1 2 3; do echo "not an image" > "$work/broken/x/$i.jpg"; done
refuses "none of its images could be read" "$bin/dismax-eval" --checkpoint "$work/run/best.safetensors" \
  --ood "broken:$work/broken" --max-samples 64 --no-plots --out "$work/e2"
python3 - "$work/mixed/x" <<'PY'
import struct, sys, zlib
d = sys.argv[1]
def png(w, h, rows):
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    raw = b"".join(b"\0" + bytes(3 * w) for _ in range(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(f"{d}/bomb.png", "wb").write(png(65500, 65500, 1))
for i in range(4):
    open(f"{d}/good{i}.png", "wb").write(png(28, 28, 28))
PY
"$bin/dismax-eval" --checkpoint "$work/run/best.safetensors" --ood "mixed:$work/mixed" --max-samples 64 --no-plots \
  --out "$work/e3" > /dev/null 2> "$work/err" || { fail "a bomb in an OOD folder is fatal"; cat "$work/err"; }
grep -q "declares 65500x65500" "$work/err" || fail "the bomb was not reported"
grep -q "1 unreadable image(s) skipped" "$work/err" || fail "the bomb was not counted"

if [ $failures -gt 0 ]; then
  echo "hostile inputs: $failures failure(s)"
  exit 1
fi
echo "hostile inputs: every refusal named its flag, file or folder; no bad checkpoint written or loaded"
