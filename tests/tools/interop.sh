#!/usr/bin/env bash
# PyTorch interop end to end on a small Fashion-MNIST run (skips without Debian's dataset-fashion-mnist or a
# build without libzip): dismax-convert writes a .pth with the original's names and reads it back to the
# same tensors; dismax-eval on the .pth (described by flags or a config string) gives exactly the results of
# the .safetensors; dismax-train --init-from starts from a .pth; missing descriptions and mismatched
# architectures fail with one line. With Debian's python3-torch, torch.load reads what we wrote and the
# original-style modules of tests/reference/torch_models.py load it strictly (--names orig) and give our
# logits; --names lib drops the original-only tensors.
set -euo pipefail
bin=$1
reference=$2
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "[skip] interop test: Fashion-MNIST not installed ($data)"
  exit 77
fi
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT; echo "work: $work"
fail() { echo "FAIL: $*"; exit 1; }
one_error() {  # command must fail with exactly one error line containing $1
  local want=$1; shift
  if "$@" > "$work/log" 2>&1; then fail "expected a failure: $*"; fi
  test "$(grep -c 'error' "$work/log")" = 1 || { cat "$work/log"; fail "expected one error line: $*"; }
  grep -qF -- "$want" "$work/log" || { cat "$work/log"; fail "expected '$want' from: $*"; }
}

if ! "$bin/dismax-convert" "$reference/pth/resnet20_dismax.pth" "$work/probe.safetensors" --width 0.25 \
       --config data~cifar10+model~resnet20+loss~dismax_std_std_fpr > "$work/log" 2>&1; then
  if grep -q 'needs libzip' "$work/log"; then echo "[skip] interop test: built without libzip"; exit 77; fi
  cat "$work/log"; fail "converting the original's fixture"
fi

"$bin/dismax-train" --dataset fashion-mnist --data-dir "$data" --model resnet20 --width 0.25 --loss dismax --fpr \
    --epochs 1 --batch-size 64 --train-subset 512 --validation-split 300 --threads 2 --out "$work/run" > /dev/null 2>&1
ckpt=$work/run/best.safetensors
"$bin/dismax-convert" "$ckpt" "$work/model.pth" > /dev/null
"$bin/dismax-convert" "$ckpt" "$work/lib.pth" --names lib > /dev/null
describe=(--model resnet20 --width 0.25 --loss dismax_std_std_fpr --dataset fashion-mnist)
"$bin/dismax-convert" "$work/model.pth" "$work/back.safetensors" "${describe[@]}" > /dev/null

one_error "carries no description of its model" "$bin/dismax-eval" --checkpoint "$work/model.pth" --data-dir "$data" --out "$work/e0"
one_error "conv1.weight [4, 1, 3, 3] (model: [16, 1, 3, 3])" "$bin/dismax-convert" "$work/model.pth" "$work/x.safetensors" \
    --model resnet20 --loss dismax --dataset fashion-mnist
one_error "must be .safetensors" "$bin/dismax-convert" "$ckpt" "$work/x.bin"
one_error "is a PyTorch .pth" "$bin/dismax-eval" --checkpoint "$work/model.pth" "${describe[@]}" --data-dir "$data" \
    --write-temperature --out "$work/e0"

common=(--data-dir "$data" --ood "fashion-mnist:$data" --max-samples 300 --calibrate-on test --no-plots --threads 2)
"$bin/dismax-eval" --checkpoint "$ckpt" "${common[@]}" --out "$work/e_ours" > /dev/null 2>&1
"$bin/dismax-eval" --checkpoint "$work/model.pth" "${describe[@]}" "${common[@]}" --out "$work/e_pth" > /dev/null 2>&1
"$bin/dismax-eval" --checkpoint "$work/back.safetensors" "${common[@]}" --out "$work/e_back" > /dev/null 2>&1

"$bin/dismax-train" --dataset fashion-mnist --data-dir "$data" --model resnet20 --width 0.25 --loss dismax --fpr \
    --epochs 1 --batch-size 64 --train-subset 256 --max-batches 2 --threads 2 --init-from "$work/model.pth" \
    --out "$work/finetune" > /dev/null 2>&1 || fail "--init-from a .pth"
grep -q '"init_from"' "$work/finetune/config.json" || fail "config.json does not record --init-from"
one_error "does not fit the model" "$bin/dismax-train" --dataset fashion-mnist --data-dir "$data" --model resnet20 \
    --loss dismax --epochs 1 --max-batches 1 --threads 2 --init-from "$work/model.pth" --out "$work/wrong"

python3 - "$work" <<'PY'
import json, os, struct, sys
w = sys.argv[1]
ours = json.load(open(os.path.join(w, "e_ours", "results.json")))
for other in ("e_pth", "e_back"):
    r = json.load(open(os.path.join(w, other, "results.json")))
    for key in ("accuracy", "nll", "ece", "temperature"):
        assert r[key] == ours[key], (other, key, r[key], ours[key])
    assert r["ood"] == ours["ood"], other


def tensors(path):  # name -> (dtype, shape, raw bytes), without numpy
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (e["dtype"], e["shape"], data[e["data_offsets"][0]:e["data_offsets"][1]]) for k, e in header.items()}


a = {k: v for k, v in tensors(os.path.join(w, "run", "best.safetensors")).items() if not k.startswith("training_state.")}
b = tensors(os.path.join(w, "back.safetensors"))
assert sorted(a) == sorted(b), set(a) ^ set(b)
for k in a:
    assert a[k] == b[k], k
print("interop: .pth and .safetensors evaluate identically; the round trip keeps every tensor bit for bit")
PY

if ! /usr/bin/python3 -c "import torch" 2> /dev/null; then
  echo "[note] python3-torch not installed: torch.load of the written .pth not checked"
  exit 0
fi
/usr/bin/python3 - "$work" "$reference" <<'PY'
import os, sys
import torch
w, reference = sys.argv[1], sys.argv[2]
sys.path.insert(0, reference)
import torch_models as tm
state = torch.load(os.path.join(w, "model.pth"))
assert state["classifier.validationset_available"].dtype == torch.bool
model = tm.CifarResNet([3, 3, 3], [4, 8, 16], 10)
model.conv1 = torch.nn.Conv2d(1, 4, 3, 1, 1, bias=False)  # Fashion-MNIST's one channel
model.classifier = tm.DisMaxHead(16, 10)
model.load_state_dict(state)  # strict: exactly the original's names and shapes
model.eval()
lib = torch.load(os.path.join(w, "lib.pth"))
assert set(state) - set(lib) == {"classifier.validationset_available", "classifier.precomputed_thresholds"}
assert set(lib) <= set(state)
x = torch.linspace(-2, 2, 2 * 28 * 28).reshape(2, 1, 28, 28)
with torch.no_grad():
    torch.save({"logits": model(x)}, os.path.join(w, "torch_logits.pth"))
print("interop: torch.load reads the .pth and the original's modules load it strictly")
PY
"$bin/dismax-convert" "$work/torch_logits.pth" "$work/never.safetensors" "${describe[@]}" > "$work/log" 2>&1 &&
  fail "a file of logits is not a model"
grep -q 'does not fit the model' "$work/log" || { cat "$work/log"; fail "logits file error"; }
echo "interop: all checks passed"
