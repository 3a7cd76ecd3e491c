#!/usr/bin/env bash
# The main job: photos of a part in, an editable CAD model out. Reconstructs the part shown in
# the two example photos examples/photos/bracket_{1,2}.jpg with the shipped weights (models/)
# into out/bracket/ (ranked candidates, each with model.step, .glb, .stl, build123d .py,
# DeepCAD sequence), and converts the example sequence examples/l_bracket.json into an exact
# STEP model and a GLB preview in out/.
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

# Photos -> CAD (needs the LibTorch build, which setup.sh makes).
if "$BIN" reconstruct --help > /dev/null 2>&1; then
  "$BIN" reconstruct examples/photos/bracket_1.jpg examples/photos/bracket_2.jpg -o out/bracket --samples 4 --seed 0 --force
  written+=("out/bracket/index.md")
  best=$(ls out/bracket/candidate_*/model.step 2> /dev/null | head -n 1 || true)
  if [ -n "$best" ]; then
    written+=("$best")
  else
    echo "demo.sh: no candidate built a valid solid this time; see out/bracket/index.md" >&2
  fi
else
  echo "demo.sh: this build has no LibTorch (reconstruct unavailable); skipped photos -> CAD" >&2
fi
echo
echo "demo: done. Files:"
for f in "${written[@]}"; do
  echo "  $(pwd)/$f"
done
echo "Open the .step in any CAD tool (FreeCAD, Fusion 360, Onshape), the .glb in a glTF viewer;"
echo "out/bracket/index.md ranks the reconstructed candidates (each folder has its preview.png)."
