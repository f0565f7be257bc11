#!/usr/bin/env bash
# The paper's run matrix (SPEC §5.2), as the original run_*.sh scripts ran it: for CIFAR-10 and CIFAR-100,
# DenseNet-BC-100, ResNet34 and WideResNet-28-10 with the five loss configurations (SoftMax, IsoMax, IsoMax+,
# DisMax without FPR, DisMax with FPR) and LogitNorm (t = 0.04, the strongest train-once baseline on OpenOOD's
# CIFAR-10 board; not in the paper), EXECUTIONS independent runs each (seeds SEED, SEED+1, ...), 300
# epochs with the paper's recipe; ImageNet ResNet18 once per loss (90 epochs, batch 256). Each run is then
# evaluated on the OOD sets the original used and everything is aggregated into mean ± std tables.
#   DATA=data OUT=runs/paper DEVICE=cuda EXECUTIONS=10 tools/run_matrix.sh [cifar10|cifar100|imagenet ...]
#   DRY_RUN=1 tools/run_matrix.sh      # print the commands only
# Data layout: docs/DATA.md. Runs that already finished (best.safetensors and eval/results.json present)
# are skipped, and an interrupted run is resumed, so the script can simply be started again.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data}
OUT=${OUT:-runs/paper}
DEVICE=${DEVICE:-cuda}
EXECUTIONS=${EXECUTIONS:-10}
SEED=${SEED:-42}
BIN=${BIN:-build/tools}
datasets=("$@")
[ ${#datasets[@]} -gt 0 ] || datasets=(cifar10 cifar100 imagenet)
losses=(softmax isomax isomaxplus dismax dismax_fpr logitnorm)

run() {
  echo "+ $*"
  [ -n "${DRY_RUN:-}" ] || "$@"
}

ood_sets() {  # the original detect.py lists (SPEC §6.2)
  case $1 in
    cifar10) echo "cifar100:$DATA/cifar100 imagenet_resize:$DATA/Imagenet_resize lsun_resize:$DATA/LSUN_resize svhn:$DATA/svhn" ;;
    cifar100) echo "cifar10:$DATA/cifar10 imagenet_resize:$DATA/Imagenet_resize lsun_resize:$DATA/LSUN_resize svhn:$DATA/svhn" ;;
    imagenet) echo "imagenet-o:$DATA/imagenet-o" ;;
  esac
}

for dataset in "${datasets[@]}"; do
  case $dataset in
    cifar10|cifar100) models=(densenetbc100 resnet34 wideresnet2810); executions=$EXECUTIONS ;;
    imagenet) models=(resnet18); executions=1 ;;
    *) echo "unknown dataset $dataset (cifar10, cifar100, imagenet)" >&2; exit 2 ;;
  esac
  for model in "${models[@]}"; do
    for loss in "${losses[@]}"; do
      for ((k = 0; k < executions; k++)); do
        dir="$OUT/$dataset/$model/$loss/run$((k + 1))"
        if [ -f "$dir/eval/results.json" ]; then continue; fi
        resume=()
        [ -f "$dir/last.state.safetensors" ] && resume=(--resume)
        if [ ! -f "$dir/best.safetensors" ] || [ ${#resume[@]} -gt 0 ]; then
          run "$BIN/dismax-train" --dataset "$dataset" --data-dir "$DATA/$dataset" --model "$model" --loss "$loss" \
              --seed $((SEED + k)) --device "$DEVICE" --out "$dir" "${resume[@]}"
        fi
        ood=()
        for o in $(ood_sets "$dataset"); do ood+=(--ood "$o"); done
        run "$BIN/dismax-eval" --checkpoint "$dir/best.safetensors" --calibrate-on test "${ood[@]}" \
            --device "$DEVICE" --out "$dir/eval"
      done
    done
  done
  run "$BIN/dismax-aggregate" "$OUT/$dataset" --out "$OUT/$dataset/table.md"
done
