#!/usr/bin/env bash
# Runs the test suite: installs/builds what is missing (scripts/setup.sh --no-demo), then ctest
# without the "slow" and "gpu" labels. Pass extra ctest arguments through, e.g. `-L slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-demo
export OMP_PROC_BIND=${OMP_PROC_BIND:-true}
if [ $# -eq 0 ]; then
  set -- -LE "slow|gpu"
fi
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900 "$@"
