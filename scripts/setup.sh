#!/usr/bin/env bash
# Installs every Debian 12 package cadcrafter needs, then configures and builds it.
# Safe to re-run: apt skips what is installed, CMake rebuilds only what changed.
# Then runs the main job (scripts/demo.sh) unless --no-demo is given.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DEMO=1
for a in "$@"; do
  case "$a" in
    --no-demo) RUN_DEMO=0 ;;
    -h|--help) echo "usage: scripts/setup.sh [--no-demo]"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

PKGS=(
  build-essential cmake ninja-build pkg-config git nodejs chromium
  libocct-foundation-dev libocct-modeling-data-dev libocct-modeling-algorithms-dev
  libocct-data-exchange-dev libocct-ocaf-dev libocct-visualization-dev libtbb-dev
  libhdf5-dev nlohmann-json3-dev libcli11-dev libnanoflann-dev libstb-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libtorch-dev libopenblas0-openmp libcpp-httplib-dev
  libgloo-dev  # c10d Gloo headers: data-parallel training (src/learn/training/distributed.h)
)
# npm: Debian's package, unless an npm is already there (NodeSource's nodejs bundles its own and
# conflicts with Debian's npm).
command -v npm >/dev/null || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node packages, pinned by package-lock.json: web/ holds what the web page needs (three.js, served
# by `cadcrafter serve`: the page works offline) and playwright-core for the browser test (it
# drives Debian's chromium); tests/node the Khronos glTF validator used by tests.
if command -v npm >/dev/null; then
  for d in web tests/node; do
    [ -f "$d/package.json" ] || continue
    (cd "$d" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund >/dev/null)
  done
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

if [ "$RUN_DEMO" = 1 ]; then
  bash scripts/demo.sh
fi
