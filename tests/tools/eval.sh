#!/usr/bin/env bash
# dismax-train + dismax-eval + dismax-aggregate end to end on a small Fashion-MNIST run (skips without
# Debian's dataset-fashion-mnist): results.json has the documented keys with values in range, the scores
# CSVs have one row per sample, ood_metrics.csv agrees with results.json, the Markdown table and PNG plots
# exist, every post-hoc method runs on a DisMax and a SoftMax head with near/far groups (OpenOOD's ood.csv,
# features.safetensors), --write-temperature rewrites the checkpoint, and bad input exits non-zero with one
# clear line.
set -euo pipefail
bin=$1
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "[skip] eval test: Fashion-MNIST not installed ($data)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/dismax-train" --dataset fashion-mnist --data-dir "$data" --model resnet20 --width 0.25 --loss dismax --fpr \
    --epochs 1 --batch-size 64 --train-subset 512 --validation-split 300 --threads 2 --out "$work/run" > /dev/null 2>&1
"$bin/dismax-eval" --checkpoint "$work/run/best.safetensors" --ood "fashion-mnist:$data" --ood "digits:$work/folder" \
    --max-samples 400 --out "$work/eval" > "$work/log" 2>&1 && { echo "a missing OOD folder must fail"; exit 1; }
test "$(grep -c 'dismax-eval: error' "$work/log")" = 1 || { echo "expected one error line:"; cat "$work/log"; exit 1; }
"$bin/dismax-eval" --checkpoint "$work/run/best.safetensors" --ood "fashion-mnist:$data" --max-samples 400 \
    --write-temperature --out "$work/eval" > /dev/null 2>&1
python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
r = json.load(open(os.path.join(w, "eval", "results.json")))
for key in ("accuracy", "nll", "ece", "temperature"):
    assert key in r, key
assert 0 <= r["accuracy"] <= 1 and 0 <= r["ece"] <= 1 and r["temperature"] > 0
assert r["calibration"]["split"] == "validation", r["calibration"]
assert r["metadata"]["checkpoint_sha256"] and r["metadata"]["git_revision"]
ood = r["ood"]["fashion-mnist"]
assert set(ood) == {"MPS", "ES", "MDS", "MMLS", "MMLES", "MMLEPS", "energy", "maxlogit"}, sorted(ood)
for score, m in ood.items():
    for k in ("auroc", "aupr_in", "aupr_out", "tnr_at_tpr95", "detection_accuracy", "fpr_at_tpr95"):
        assert 0 <= m[k] <= 1, (score, k, m[k])
rows = open(os.path.join(w, "eval", "scores", "in_fashion-mnist.csv")).read().splitlines()
assert len(open(os.path.join(w, "eval", "scores", "ood_fashion-mnist.csv")).read().splitlines()) == 401
assert rows[0].startswith("index,label,prediction,MPS") and len(rows) == 401, (rows[0], len(rows))
import csv
table = list(csv.DictReader(open(os.path.join(w, "eval", "ood_metrics.csv"))))
assert len(table) == len(ood), (len(table), len(ood))
for row in table:
    m = ood[row["method"]]
    assert row["ood_set"] == "fashion-mnist" and int(row["out_samples"]) == m["out_samples"] == 400, row
    for k, v in m.items():
        assert abs(float(row[k]) - v) <= 1e-8 * max(1, abs(v)), (row["method"], k, row[k], v)
assert {row["method"] for row in table if row["recommended"] == "1"} == set(r["recommended_scores"]), table
md = open(os.path.join(w, "eval", "results.md")).read()
assert "| method | TNR at TPR 95 | AUROC | DTACC | AUPR-in | AUPR-out | FPR at TPR 95 |" in md, md
for f in ("results.md", "logits.safetensors", "plots/roc_MMLES.png", "plots/hist_fashion-mnist_MMLES.png"):
    assert os.path.getsize(os.path.join(w, "eval", f)) > 0, f
assert open(os.path.join(w, "eval", "plots", "roc_MMLES.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
print("eval: results.json, scores, logits, Markdown and plots as documented")
PY
# Post-hoc methods on a DisMax head and on a SoftMax head, near/far groups, OpenOOD's ood.csv, saved features.
"$bin/dismax-train" --dataset fashion-mnist --data-dir "$data" --model resnet20 --width 0.25 --loss softmax \
    --epochs 1 --batch-size 64 --train-subset 512 --threads 2 --out "$work/softmax" > /dev/null 2>&1
mkdir -p "$work/digits/0"
python3 - "$work/digits/0" <<'PY'
import sys, zlib, struct
def png(path, w, h, seed):  # grey noise images, a tiny far-OOD folder
    rows = b"".join(b"\x00" + bytes(((x * 31 + y * 17 + seed * 7) * 2654435761 >> 13) & 255 for x in range(w)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
for i in range(40):
    png(f"{sys.argv[1]}/noise{i:02d}.png", 28, 28, i)
PY
for run in run softmax; do
  "$bin/dismax-eval" --checkpoint "$work/$run/best.safetensors" --near-ood "fashion-mnist:$data" \
      --far-ood "noise:$work/digits" --methods msp,energy,gen,odin,mahalanobis,knn,react,ash-s,ash-b,vim --fit-subset 300 \
      --knn-k 10 --max-samples 200 --save-features --calibrate-on test --no-plots --out "$work/posthoc_$run" \
      > "$work/posthoc_$run.log" 2>&1 || { cat "$work/posthoc_$run.log"; exit 1; }
done
python3 - "$work" <<'PY'
import csv, json, os, struct, sys
w = sys.argv[1]
for run, vim in (("run", False), ("softmax", True)):
    e = os.path.join(w, "posthoc_" + run)
    r = json.load(open(os.path.join(e, "results.json")))
    methods = ["MPS", "energy", "gen", "odin", "mahalanobis", "knn", "react", "ash-s", "ash-b"] + (["vim"] if vim else [])
    assert r["methods"] == methods, r["methods"]
    assert ("vim" in r["undefined_methods"]) != vim, r["undefined_methods"]
    assert r["ood_groups"] == {"near": ["fashion-mnist"], "far": ["noise"]}, r["ood_groups"]
    for name in ("fashion-mnist", "noise"):
        for m in methods:
            assert 0 <= r["ood"][name][m]["sklearn_auroc"] <= 1, (run, name, m)
    rows = list(csv.DictReader(open(os.path.join(e, "ood.csv"))))
    assert [x["dataset"] for x in rows[:4]] == ["fashion-mnist", "nearood", "noise", "farood"], rows[:4]
    assert len(rows) == 4 * len(methods)
    for x in rows:
        if x["dataset"] in ("fashion-mnist", "noise"):
            m = r["ood"][x["dataset"]][x["method"]]
            assert abs(float(x["AUROC"]) - 100 * m["sklearn_auroc"]) < 0.006, (x, m["sklearn_auroc"])
            assert abs(float(x["FPR@95"]) - 100 * m["fpr_at_tpr95"]) < 0.006, x
        assert abs(float(x["ACC"]) - 100 * r["accuracy"]) < 0.006
    md = open(os.path.join(e, "results.md")).read()
    assert "## OOD methods x sets" in md and ("not defined for this head" in md) != vim, md
    head = open(os.path.join(e, "features.safetensors"), "rb").read()
    n = struct.unpack("<Q", head[:8])[0]
    names = json.loads(head[8:8 + n])
    for key in ("in.fashion-mnist.features", "in.fashion-mnist.logits", "train.features", "ood.noise.features"):
        assert key in names, sorted(names)
    assert names["train.features"]["shape"][0] == 300, names["train.features"]
    scores = open(os.path.join(e, "scores", "ood_noise.csv")).read().splitlines()
    assert scores[0] == "index," + ",".join(methods) and len(scores) == 41, scores[:2]
print("eval: post-hoc methods, groups, ood.csv and features as documented")
PY
"$bin/dismax-aggregate" --leaderboard "$work/posthoc_run" "$work/posthoc_softmax" > "$work/board"
grep -Eq '^\| fashion-mnist \| resnet20 \| softmax \| vim \| 1 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' "$work/board" \
    || { echo "leaderboard row missing:"; cat "$work/board"; exit 1; }
"$bin/dismax-eval" --checkpoint "$work/softmax/best.safetensors" --methods mahalanobys --out "$work/x" 2> "$work/err" && exit 1
grep -q "\-\-methods: unknown OOD method 'mahalanobys'" "$work/err" || { cat "$work/err"; exit 1; }
# OpenOOD v1.5's benchmark layout (a miniature: synthetic CIFAR-10 and image lists).
python3 "$(dirname "$0")/fake_openood.py" "$work/cifar" "$work/openood"
"$bin/dismax-train" --dataset cifar10 --data-dir "$work/cifar" --model resnet20 --width 0.25 --epochs 1 \
    --batch-size 32 --threads 2 --out "$work/c10" > /dev/null 2>&1
"$bin/dismax-eval" --checkpoint "$work/c10/best.safetensors" --benchmark openood-cifar10 --data-root "$work/openood" \
    --methods msp,knn --knn-k 5 --no-plots --out "$work/bench" > "$work/bench.log" 2>&1 || { cat "$work/bench.log"; exit 1; }
python3 - "$work" <<'PY'
import csv, json, os, sys
e = os.path.join(sys.argv[1], "bench")
rows = [r["dataset"] for r in csv.DictReader(open(os.path.join(e, "ood.csv"))) if r["method"] == "MPS"]
assert rows == ["cifar100", "tin", "nearood", "mnist", "svhn", "texture", "places365", "farood"], rows
r = json.load(open(os.path.join(e, "results.json")))
assert r["samples"] == 30 and r["ood"]["mnist"]["knn"]["out_samples"] == 12, (r["samples"], r["ood"]["mnist"])
print("eval: --benchmark openood-cifar10 reads OpenOOD's image lists")
PY
"$bin/dismax-eval" --checkpoint "$work/c10/best.safetensors" --benchmark openood-cifar10 --data-root "$work/nowhere" \
    --out "$work/x" 2> "$work/err" && exit 1
grep -q "test_cifar10.txt" "$work/err" || { cat "$work/err"; exit 1; }
# A fitted method without the training data names the flag and the methods.
mkdir -p "$work/only_test"
cp "$data"/t10k-* "$work/only_test/"
"$bin/dismax-eval" --checkpoint "$work/softmax/best.safetensors" --data-dir "$work/only_test" --methods msp,knn \
    --max-samples 50 --out "$work/x" 2> "$work/err" && exit 1
grep -q -- "--methods knn fit on the in-distribution training features" "$work/err" || { cat "$work/err"; exit 1; }
# The calibrated temperature is now in the checkpoint's metadata.
grep -aq '"calibration_split":"validation"' "$work/run/best.safetensors" || { echo "temperature not written"; exit 1; }
"$bin/dismax-aggregate" "$work" | grep -q "dismax_fpr \[MMLES\]" || { echo "aggregate table missing the run"; exit 1; }
"$bin/dismax-eval" --checkpoint "$work/nope.safetensors" --out "$work/x" 2> "$work/err" && exit 1
grep -q "nope.safetensors: cannot open" "$work/err" || { cat "$work/err"; exit 1; }
echo "eval: errors name the file"
