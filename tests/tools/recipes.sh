#!/usr/bin/env bash
# Training recipes end to end: the recipe flags reach config.json; --config config.json replays a run to the
# same history (flags given override it); --recipe openood-v1.5 sets OpenOOD's CIFAR recipe except where a
# flag is given, on a tiny CIFAR-10 binary made here; bad recipe flags fail with one line naming the flag.
# Needs Debian's dataset-fashion-mnist (skips without it).
set -euo pipefail
bin=$1
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "[skip] recipes test: Fashion-MNIST not installed ($data)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
one_error() {
  local want=$1; shift
  if "$@" > "$work/log" 2>&1; then fail "expected a failure: $*"; fi
  test "$(grep -c 'error' "$work/log")" = 1 || { cat "$work/log"; fail "expected one error line: $*"; }
  grep -qF -- "$want" "$work/log" || { cat "$work/log"; fail "expected '$want' from: $*"; }
}
train=("$bin/dismax-train" --dataset fashion-mnist --data-dir "$data" --model resnet20 --width 0.25 --threads 2)

"${train[@]}" --loss softmax --epochs 2 --batch-size 32 --train-subset 128 --schedule cosine-iter --warmup-epochs 0.5 \
    --min-lr 0.001 --label-smoothing 0.1 --no-decay-bn-bias --augment cifar --crop-padding 2 --flip 0.3 \
    --random-erasing 0.5 --cutout 8 --out "$work/a" > /dev/null 2>&1 || fail "training with the recipe flags"
"$bin/dismax-train" --config "$work/a/config.json" --out "$work/b" > /dev/null 2>&1 || fail "replaying config.json"
"$bin/dismax-train" --config "$work/a/config.json" --lr 0.05 --epochs 1 --out "$work/c" > /dev/null 2>&1 ||
  fail "replaying with overrides"

python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
a, b, c = (json.load(open(os.path.join(w, r, "config.json"))) for r in "abc")
assert a["schedule"] == "cosine-iter" and a["warmup_epochs"] == 0.5 and a["min_lr"] == 0.001, a
assert a["label_smoothing"] == 0.1 and a["no_decay_bn_bias"] is True, a
assert a["augment"] == {"preset": "cifar", "crop_padding": 2, "flip": 0.3, "rrc_scale": [], "color_jitter": [],
                        "trivial_augment": False, "random_erasing": 0.5, "cutout": 8}, a["augment"]
for k in a:
    if k != "out":
        assert a[k] == b[k], (k, a[k], b[k])
    if k not in ("out", "lr", "epochs"):
        assert a[k] == c[k], (k, a[k], c[k])
assert c["lr"] == 0.05 and c["epochs"] == 1, c
ha = open(os.path.join(w, "a", "history.jsonl")).read()
hb = open(os.path.join(w, "b", "history.jsonl")).read()
timing = ("train_seconds", "train_images_per_second")  # wall time: the one thing a replay need not repeat
def results(history):
    return [{k: v for k, v in json.loads(line).items() if k not in timing} for line in history.splitlines()]
assert all(k in json.loads(line) for k in timing for line in ha.splitlines()), "history.jsonl lacks the timing"
assert results(ha) == results(hb), "the replayed run's history differs"
lrs = [json.loads(line)["lr"] for line in ha.splitlines()]
assert lrs[0] > lrs[1] > 0.001, lrs  # per-iteration cosine towards --min-lr
print("recipes: config.json records every choice; --config replays the run to the same history")
PY

# A tiny CIFAR-10 in its binary layout: --recipe openood-v1.5, with flags overriding the preset.
python3 - "$work/cifar10/cifar-10-batches-bin" <<'PY'
import os, random, sys
d = sys.argv[1]
os.makedirs(d)
rng = random.Random(0)
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    with open(os.path.join(d, name), "wb") as f:
        for k in range(8):
            f.write(bytes([k % 10]) + bytes(rng.randrange(256) for _ in range(3072)))
PY
"$bin/dismax-train" --dataset cifar10 --data-dir "$work/cifar10" --model resnet20 --width 0.25 --threads 2 \
    --recipe openood-v1.5 --epochs 1 --batch-size 8 --max-batches 2 --color-jitter 0.4,0.4,0.4,0.1 --trivial-augment \
    --random-erasing 0.25 --out "$work/openood" > /dev/null 2>&1 ||
  fail "--recipe openood-v1.5"
python3 - "$work/openood/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
want = {"recipe": "openood-v1.5", "epochs": 1, "batch_size": 8, "lr": 0.1, "momentum": 0.9, "nesterov": True,
        "weight_decay": 0.0005, "schedule": "cosine-iter", "min_lr": 1e-6}
for k, v in want.items():
    assert c[k] == v, (k, c[k], v)
a = c["augment"]
assert a["preset"] == "openood-cifar" and a["color_jitter"] == [0.4, 0.4, 0.4, 0.1], a
assert a["trivial_augment"] is True and a["random_erasing"] == 0.25, a
print("recipes: --recipe openood-v1.5 sets OpenOOD's recipe; --epochs and --batch-size override it")
PY

one_error "--recipe openood-v1.5 is OpenOOD's CIFAR recipe" "${train[@]}" --recipe openood-v1.5 --out "$work/x"
one_error "--rrc-scale needs RandomResizedCrop" "${train[@]}" --augment cifar --rrc-scale 0.2,1 --out "$work/x"
one_error "--label-smoothing must be in [0, 1)" "${train[@]}" --label-smoothing 1.5 --out "$work/x"
one_error "label smoothing is for the softmax loss" "${train[@]}" --loss dismax --label-smoothing 0.1 --epochs 1 \
    --max-batches 1 --out "$work/x"
one_error "--color-jitter needs RGB images" "${train[@]}" --color-jitter 0.4,0.4,0.4,0.1 --out "$work/x"
one_error "--schedule must be multistep, cosine or cosine-iter" "${train[@]}" --schedule linear --out "$work/x"
one_error "--config" "$bin/dismax-train" --config "$work/missing.json" --out "$work/x"
echo "recipes: all checks passed"
