#!/usr/bin/env bash
# An interrupted-and-resumed dismax-train run (SIGINT mid-epoch, then --resume) must end with exactly the
# weights, optimizer state and logs of an uninterrupted run. Uses Debian's Fashion-MNIST; skips without it.
set -euo pipefail
train=$1
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "[skip] resume test: Fashion-MNIST not installed ($data; apt-get install dataset-fashion-mnist)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(--dataset fashion-mnist --data-dir "$data" --model resnet20 --width 0.25 --loss dismax --fpr --epochs 2
      --batch-size 32 --train-subset 640 --validation-split 256 --lr 0.05 --threads 2 --seed 7)
"$train" "${args[@]}" --workers 2 --out "$work/straight" > /dev/null 2>&1
set +e
DISMAX_TEST_STOP_AT=2:7 "$train" "${args[@]}" --workers 2 --out "$work/resumed" > "$work/log" 2>&1
code=$?
set -e
[ $code -eq 130 ] || { echo "expected exit code 130 after SIGINT, got $code"; cat "$work/log"; exit 1; }
grep -q "resumable checkpoint" "$work/log" || { echo "no resumable-checkpoint message"; cat "$work/log"; exit 1; }
"$train" "${args[@]}" --out "$work/resumed" --resume --workers 1 > "$work/log2" 2>&1 || { cat "$work/log2"; exit 1; }
for f in results_raw.csv results_best.csv; do
  cmp "$work/straight/$f" "$work/resumed/$f" || { echo "$f differs after resume"; exit 1; }
done
# Weights: identical tensors (the metadata holds a per-save token, so compare the data sections).
python3 - "$work/straight/last.safetensors" "$work/resumed/last.safetensors" <<'PY' || exit 1
import json, struct, sys
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return {k: data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in header.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
bad = [k for k in a if a[k] != b.get(k)]
if bad or a.keys() != b.keys():
    print("tensors differ after resume:", bad[:5]); sys.exit(1)
print(f"resume: {len(a)} tensors identical to the uninterrupted run")
PY
