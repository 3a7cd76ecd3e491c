#!/usr/bin/env bash
# Builds cadcrafter against the GPU machine's PyTorch (torch 2.x + CUDA, Ubuntu 24.04; see
# DEVELOPERS.md) into build-gpu/ and runs the GPU smoke tests (ctest label "gpu").
#
#   scripts/device_build.sh [--debs DIR] [--no-test] [targets...]
#
# LibTorch: python3's torch (torch.utils.cmake_prefix_path). NCCL for data-parallel CUDA runs:
# nccl.h from the nvidia-nccl python package when it is there (CADCRAFTER_NCCL_INCLUDE).
# The other dependencies (OpenCASCADE, HDF5, CLI11, nlohmann-json, nanoflann, gtest, ...): the
# system's when CMake finds them, else Debian .debs in DIR (default .device-debs/, fetched on a
# Debian machine with `scripts/device_build.sh --fetch-debs DIR`), unpacked with dpkg -x into
# build-gpu/root and put on CMAKE_PREFIX_PATH / LD_LIBRARY_PATH (no root needed, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS=.device-debs
RUN_TESTS=1
TARGETS=()
DEB_PKGS=(libocct-foundation-dev libocct-modeling-data-dev libocct-modeling-algorithms-dev libocct-data-exchange-dev
  libocct-ocaf-dev libocct-visualization-dev libocct-foundation-7.6 libocct-modeling-data-7.6
  libocct-modeling-algorithms-7.6 libocct-data-exchange-7.6 libocct-ocaf-7.6 libocct-visualization-7.6
  libtbb-dev libtbb12 libhdf5-dev libhdf5-103-1 libsz2 libaec0 nlohmann-json3-dev libcli11-dev libnanoflann-dev
  libstb-dev libstb0 libgtest-dev libgmock-dev libcpp-httplib-dev libgloo-dev)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --debs) DEBS=$2; shift 2 ;;
    --no-test) RUN_TESTS=0; shift ;;
    --fetch-debs)  # on a Debian 12 machine with network: download the .debs to carry over
      mkdir -p "$2"; (cd "$2" && apt-get download "${DEB_PKGS[@]}"); exit 0 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(cadcrafter test_learn test_gpu)

TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
PREFIXES="$TORCH_PREFIX"
EXTRA=()
NCCL_INC=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2>/dev/null || true)
[[ -n "$NCCL_INC" && -f "$NCCL_INC/nccl.h" ]] && EXTRA+=("-DCADCRAFTER_NCCL_INCLUDE=$NCCL_INC")

ROOT=build-gpu/root
if [[ -d "$DEBS" ]] && compgen -G "$DEBS/*.deb" >/dev/null; then
  mkdir -p "$ROOT"
  for d in "$DEBS"/*.deb; do dpkg -x "$d" "$ROOT"; done
  PREFIXES="$PREFIXES;$PWD/$ROOT/usr;$PWD/$ROOT/usr/lib/x86_64-linux-gnu/cmake"
  export LD_LIBRARY_PATH="$PWD/$ROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CPATH="$PWD/$ROOT/usr/include${CPATH:+:$CPATH}"
  EXTRA+=("-DCMAKE_INCLUDE_PATH=$PWD/$ROOT/usr/include" "-DCMAKE_LIBRARY_PATH=$PWD/$ROOT/usr/lib/x86_64-linux-gnu")
fi
# pip's torch is built with the C++11 ABI on torch >= 2.x; its TorchConfig sets the flag itself.
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCADCRAFTER_BUILD_BENCH=OFF \
  "-DCMAKE_PREFIX_PATH=$PREFIXES" "${EXTRA[@]}"
cmake --build build-gpu -j"$(nproc)" --target "${TARGETS[@]}"
if (( RUN_TESTS )); then
  # The GPU smoke run, then the distributed tests (Gloo on CPU) against this torch.
  ctest --test-dir build-gpu --output-on-failure -L gpu --timeout 600
  ctest --test-dir build-gpu --output-on-failure -R 'learn\.Distributed' --timeout 300
fi
