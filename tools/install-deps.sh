#!/usr/bin/env bash
# Installs what dismax needs to build and test on Debian 12 (apt). Safe to run again.
set -euo pipefail
packages=(cmake ninja-build g++ clang libclang-rt-14-dev libomp-dev libeigen3-dev doctest-dev nlohmann-json3-dev libcli11-dev zlib1g-dev pkg-config libzip-dev curl unzip libjpeg-dev libopencv-dev dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
