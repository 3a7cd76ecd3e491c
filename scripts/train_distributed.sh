#!/usr/bin/env bash
# Starts N local ranks of one `cadcrafter train` run (data-parallel over c10d Gloo on loopback):
#
#   scripts/train_distributed.sh N [--port P] [--cadcrafter PATH] -- train ae --data D -o RUN [...]
#
# Every rank gets the same arguments plus --world-size N --rank R --rendezvous 127.0.0.1:P, and
# --threads T where T = CPUs / N unless the arguments give --threads. Rank r is pinned to its own
# CPUs (taskset): with OMP_PROC_BIND=true libgomp pins each process's threads inside the CPUs it
# starts with, so unpinned local ranks would all share the first core. Rank 0 prints its progress
# and writes the run folder; the others log to RUN/rank<R>.log. When one rank fails, the others
# fail on their own with a message (c10d notices the lost peer), are stopped after 10 s if not,
# and the script exits with the first failing rank's code. For several machines, run
# `cadcrafter train ... --world-size N --rank R --rendezvous HOST0:PORT` on each instead
# (docs/training.md).
set -euo pipefail
usage() { echo "usage: $0 N [--port P] [--cadcrafter PATH] -- train STAGE ... -o RUN ..." >&2; exit 2; }
[[ $# -ge 1 && "$1" =~ ^[0-9]+$ && "$1" -ge 1 ]] || usage
N=$1; shift
PORT=29500
BIN="$(cd "$(dirname "$0")/.." && pwd)/build/cadcrafter"
while [[ $# -gt 0 && "$1" != "--" ]]; do
  case "$1" in
    --port) PORT=$2; shift 2 ;;
    --cadcrafter) BIN=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $# -gt 1 ]] || usage
shift  # --
ARGS=("$@")
[[ -x "$BIN" ]] || { echo "$0: $BIN is not built" >&2; exit 1; }
RUN=""
HAS_THREADS=0
for ((i = 0; i < ${#ARGS[@]}; ++i)); do
  case "${ARGS[i]}" in
    -o|--output) RUN=${ARGS[i+1]:-} ;;
    --threads) HAS_THREADS=1 ;;
  esac
done
[[ -n "$RUN" ]] || { echo "$0: the train arguments need -o RUN" >&2; exit 2; }
mkdir -p "$RUN"
CPUS=$(nproc)
PER=$(( CPUS / N )); (( PER >= 1 )) || PER=1
EXTRA=()
(( HAS_THREADS )) || EXTRA=(--threads "$PER")
export OMP_PROC_BIND=${OMP_PROC_BIND:-true}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup INT TERM
for ((r = 0; r < N; ++r)); do
  FIRST=$(( (r * PER) % CPUS )); LAST=$(( FIRST + PER - 1 ))
  PIN=()
  command -v taskset >/dev/null && PIN=(taskset -c "$FIRST-$LAST")
  CMD=("${PIN[@]}" "$BIN" "${ARGS[@]}" "${EXTRA[@]}" --world-size "$N" --rank "$r" --rendezvous "127.0.0.1:$PORT")
  if (( r == 0 )); then
    "${CMD[@]}" &
  else
    "${CMD[@]}" -q >"$RUN/rank$r.log" 2>&1 &
  fi
  PIDS+=($!)
done
# Wait for all. After the first failure the others fail on their own at once when the peer's
# connection drops (after --dist-timeout when it hangs); any still running after 10 s are stopped.
STATUS=0
declare -A RANK_OF=()
for ((r = 0; r < N; ++r)); do RANK_OF[${PIDS[r]}]=$r; done
while (( ${#RANK_OF[@]} > 0 )); do
  set +e
  wait -n -p DONE "${!RANK_OF[@]}"
  CODE=$?
  set -e
  [[ -n "${DONE:-}" && -n "${RANK_OF[$DONE]+x}" ]] || break
  R=${RANK_OF[$DONE]}
  unset "RANK_OF[$DONE]"
  if (( CODE != 0 && STATUS == 0 )); then
    STATUS=$CODE
    echo "$0: rank $R exited with $CODE$( (( R > 0 )) && echo " (see $RUN/rank$R.log)"); the others get 10 s to stop on their own" >&2
    # They notice the lost peer at once (and say so); a hung one is stopped.
    (sleep 10; kill "${!RANK_OF[@]}" 2>/dev/null) &
    KILLER=$!
  fi
done
[[ -n "${KILLER:-}" ]] && kill "$KILLER" 2>/dev/null || true
exit $STATUS
