#!/usr/bin/env bash
# `make soak`: the proof that CI is green every time, not once. Clones the committed HEAD afresh
# for each run (a clean clone is what CI sees: nothing left over from the working tree) and runs
# `bash .ci/run` in it, RUNS times in a row, optionally with BURNERS CPU-burning processes
# beside it (a loaded box, where wall-clock guesses flake). Stops at the first red run.
# Each run's result, time and pytest-randomly seed go to a table on stdout and to
# $SOAK_DIR/soak.md, ready for tests/README.md.
#
#   make soak                      # 5 quiet runs
#   RUNS=3 BURNERS=2 make soak     # 3 runs beside two busy loops
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
BURNERS="${BURNERS:-0}"
# CI's own steps by default; STEP='make test' soaks the suite alone.
STEP="${STEP:-bash .ci/run}"
SOAK_DIR="${SOAK_DIR:-$(mktemp -d -t dailies-soak-XXXXXX)}"
mkdir -p "$SOAK_DIR"
table="$SOAK_DIR/soak.md"

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  burners=()
}
trap stop_burners EXIT

# A run's seed and its closing pytest lines, from its log.
seeds() { grep -o 'randomly-seed=[0-9]*' "$1" | cut -d= -f2 | paste -sd, - || true; }
closing() { grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$1" | sed -E 's/^=+ | =+$//g' | paste -sd';' - || true; }

echo "| run | commit | load | result | wall | seeds | pytest |" | tee "$table"
echo "| --- | --- | --- | --- | --- | --- | --- |" | tee -a "$table"
for run in $(seq 1 "$RUNS"); do
  clone="$SOAK_DIR/run$run"
  rm -rf "$clone"
  git clone -q . "$clone"
  commit="$(git -C "$clone" rev-parse --short HEAD)"  # HEAD when this run began
  for _ in $(seq 1 "$BURNERS"); do
    # A plain busy loop: the load of another build on the box, bounded by this script.
    (while :; do :; done) &
    burners+=("$!")
  done
  log="$SOAK_DIR/run$run.log"
  # The box's load during the run, whatever made it (the burners, or anything else running):
  # the 1-minute load average every 15 s, averaged in the table.
  (while :; do cut -d' ' -f1 /proc/loadavg; sleep 15; done) >"$SOAK_DIR/run$run.load" &
  sampler=$!
  started=$(date +%s)
  if (cd "$clone" && CI=true $STEP) >"$log" 2>&1 < /dev/null; then result=pass; else result=FAIL; fi
  kill "$sampler" 2>/dev/null || true
  stop_burners
  took=$(($(date +%s) - started))
  load=$(awk '{ s += $1; n++ } END { if (n) printf "%.1f", s / n }' "$SOAK_DIR/run$run.load")
  printf '| %s | %s | %s busy loops, load %s | %s | %dm%02ds | %s | %s |\n' "$run" "$commit" \
    "$BURNERS" "$load" "$result" $((took / 60)) $((took % 60)) "$(seeds "$log")" \
    "$(closing "$log")" | tee -a "$table"
  if [ "$result" != pass ]; then
    echo "run $run failed: $log" >&2
    grep -E '^(FAILED|ERROR) ' "$log" | head -20 >&2 || true
    exit 1
  fi
  rm -rf "$clone"
done
echo "all $RUNS runs passed; table in $table"
