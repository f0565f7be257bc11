#!/usr/bin/env bash
# dismax-train + dismax-eval + dismax-aggregate end to end on a small Fashion-MNIST run (skips without
# Debian's dataset-fashion-mnist): results.json has the documented keys with values in range, the scores
# CSVs have one row per sample, ood_metrics.csv agrees with results.json, the Markdown table and PNG plots
# exist, --write-temperature rewrites the
# checkpoint, and bad input exits non-zero with one clear line.
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
    m = ood[row["score"]]
    assert row["ood_set"] == "fashion-mnist" and int(row["out_samples"]) == m["out_samples"] == 400, row
    for k, v in m.items():
        assert abs(float(row[k]) - v) <= 1e-8 * max(1, abs(v)), (row["score"], k, row[k], v)
assert {row["score"] for row in table if row["recommended"] == "1"} == set(r["recommended_scores"]), table
md = open(os.path.join(w, "eval", "results.md")).read()
assert "| score | TNR at TPR 95 | AUROC | DTACC | AUPR-in | AUPR-out | FPR at TPR 95 |" in md, md
for f in ("results.md", "logits.safetensors", "plots/roc_MMLES.png", "plots/hist_fashion-mnist_MMLES.png"):
    assert os.path.getsize(os.path.join(w, "eval", f)) > 0, f
assert open(os.path.join(w, "eval", "plots", "roc_MMLES.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
print("eval: results.json, scores, logits, Markdown and plots as documented")
PY
# The calibrated temperature is now in the checkpoint's metadata.
grep -aq '"calibration_split":"validation"' "$work/run/best.safetensors" || { echo "temperature not written"; exit 1; }
"$bin/dismax-aggregate" "$work" | grep -q "dismax_fpr \[MMLES\]" || { echo "aggregate table missing the run"; exit 1; }
"$bin/dismax-eval" --checkpoint "$work/nope.safetensors" --out "$work/x" 2> "$work/err" && exit 1
grep -q "nope.safetensors: cannot open" "$work/err" || { cat "$work/err"; exit 1; }
echo "eval: errors name the file"
