#!/usr/bin/env bash
# The main job for now: turn each example part in examples/ into an exact STEP model and a
# GLB preview in out/, and say where they are. (Photos -> CAD arrives with the learning layer.)
# Uses build/cadcrafter (scripts/setup.sh builds it); CADCRAFTER_BIN overrides the path.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CADCRAFTER_BIN:-build/cadcrafter}
if [ ! -x "$BIN" ]; then
  echo "demo.sh: $BIN not found; run scripts/setup.sh first" >&2
  exit 1
fi
mkdir -p out
shopt -s nullglob
examples=(examples/*.json)
if [ ${#examples[@]} -eq 0 ]; then
  echo "demo.sh: no examples/*.json" >&2
  exit 1
fi
written=()
for json in "${examples[@]}"; do
  name=$(basename "$json" .json)
  # out/ belongs to the demo, so its own earlier results are replaced (--force).
  "$BIN" convert "$json" -o "out/$name.step" --force
  "$BIN" convert "$json" -o "out/$name.glb" --force
  written+=("out/$name.step" "out/$name.glb")
done
echo
echo "demo: done. Files:"
for f in "${written[@]}"; do
  echo "  $(pwd)/$f"
done
echo "Open the .step in any CAD tool (FreeCAD, Fusion 360, Onshape), the .glb in a glTF viewer."
