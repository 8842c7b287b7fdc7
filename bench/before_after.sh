#!/usr/bin/env bash
# "No speed lost": builds two versions of slidestream on the lent GPU machine and runs the same
# benchmark drivers on both, in turns (A B A B ...), in one call, so that both meet the same
# machine, the same page cache and the same disk. Each version runs its own drivers from its own
# bench/ folder (a driver may pass options the other version names differently).
#
#   bench/before_after.sh [build] [uc1] [uc3] [uc2] [table]
#
#   build   unpack BEFORE_TAR (default .device/before.tar, made here with
#           `git archive <commit> -o .device/before.tar`) into .device/before-src and build it in
#           .device/before-build; build this working tree in build-after (tests off); both at once
#   uc1 / uc3 / uc2   ROUNDS rounds (default 2) of before then after, each driver with the
#           arguments UC1_ARGS / UC3_ARGS / UC2_ARGS (defaults below: our rows only, no peers)
#   table   bench/compare_runs.py over every JSON written so far: $OUT/before-after.md
#
# Carry: .device .debs .carry (cmu-1-small-region.svs: the scan the bench slides are tiled from).
# The build folders are ignored paths, so a warm machine keeps them between calls: build in one
# call, measure in the next. Results: $OUT/before-after-results.tar.gz (ba-<driver>-<side>-<round>.json)
# and $OUT/before-after.md; logs in $OUT/before-after-logs.tar.gz.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/out}
LOGS=/tmp/before-after-logs
RESULTS=/tmp/before-after-results  # at most 8 files come back from $OUT: these travel as a tarball
mkdir -p "$OUT" "$LOGS" "$RESULTS"
export PATH=/usr/local/cuda/bin:/opt/torch/.venv/bin:$PATH
export PYTHONUNBUFFERED=1
source "$ROOT/scripts/device-env.sh"
device_env_libraries
device_env_wheels

BEFORE_TAR=${BEFORE_TAR:-.device/before.tar}
BEFORE_SRC=$ROOT/.device/before-src
BEFORE_BUILD=$ROOT/.device/before-build
AFTER_BUILD=$ROOT/build-after
SLIDES=${BENCH_SLIDES:-/tmp/bench-slides}
ROUNDS=${ROUNDS:-2}
JOBS=${JOBS:-$(nproc)}
UC1_ARGS=${UC1_ARGS:---skip tifffile,kvikio,cucim --repeat 5}
UC3_ARGS=${UC3_ARGS:---parts read --repeats 5 --budget 200}
UC2_ARGS=${UC2_ARGS:---skip-peers --raw-rounds 1 --chunks 512,2048 --zarr-cases 512/0,2048/0,256/4096}
status=0
step() { echo "== $(date -u +%H:%M:%S) $*"; }

configure_and_build() {  # SRC BUILD LOG
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIDESTREAM_CUDA=ON \
    -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DSLIDESTREAM_BUILD_TESTS=OFF \
    -DSLIDESTREAM_BUILD_BENCHMARKS=ON -DSLIDESTREAM_PYTHON="$(command -v python3)" >"$3" 2>&1 &&
    ninja -C "$2" -j$((JOBS / 2)) >>"$3" 2>&1
}

build_both() {
  step "build before ($BEFORE_TAR) and after, -j$((JOBS / 2)) each"
  rm -rf "$BEFORE_SRC" && mkdir -p "$BEFORE_SRC" && tar -xf "$BEFORE_TAR" -C "$BEFORE_SRC" ||
    { echo "cannot unpack $BEFORE_TAR"; return 1; }
  configure_and_build "$BEFORE_SRC" "$BEFORE_BUILD" "$LOGS/build-before.log" &
  local before=$!
  configure_and_build "$ROOT" "$AFTER_BUILD" "$LOGS/build-after.log"
  local after_rc=$?
  wait $before
  local before_rc=$?
  for side in before after; do
    grep -E "error|FAILED" "$LOGS/build-$side.log" | head -20
  done
  [ $before_rc = 0 ] && [ $after_rc = 0 ]
}

make_slides() {
  [ -f "$SLIDES/raw.tif" ] && [ -f "$SLIDES/jpeg.tif" ] && return 0
  step "bench slides"
  python3 "$ROOT/bench/make_bench_slides.py" --source "$ROOT/.carry/cmu-1-small-region.svs" \
    --out "$SLIDES" >"$LOGS/make_bench_slides.log" 2>&1 || { tail -20 "$LOGS/make_bench_slides.log"; return 1; }
}

run_driver() {  # NAME ARGS: ROUNDS rounds, before then after, then after then before (ABBA)
  local name=$1 args=$2 round side src build sides
  for round in $(seq 1 "$ROUNDS"); do
    # Alternating the order cancels a drift of the machine (disk filling, clocks) over the call.
    sides="before after"
    [ $((round % 2)) = 0 ] && sides="after before"
    for side in $sides; do
      if [ $side = before ]; then src=$BEFORE_SRC build=$BEFORE_BUILD; else src=$ROOT build=$AFTER_BUILD; fi
      step "$name $side round $round"
      # shellcheck disable=SC2086
      python3 "$src/bench/$name.py" --cli "$build/slidestream" --build "$build" --slides "$SLIDES" \
        --out "$RESULTS/ba-$name-$side-$round.json" $args >"$LOGS/$name-$side-$round.log" 2>&1 ||
        { status=1; tail -15 "$LOGS/$name-$side-$round.log"; }
      save_results  # after every run: a call stopped at its time limit keeps what it measured
    done
  done
}

save_results() {
  tar -C "$RESULTS" --exclude='*scratch*' -czf "$OUT/before-after-results.tar.gz" . 2>/dev/null
  tar -C "$LOGS" -czf "$OUT/before-after-logs.tar.gz" . 2>/dev/null
}

for part in "$@"; do
  case "$part" in
    build) build_both || status=1 ;;
    uc1) make_slides && run_driver uc1 "$UC1_ARGS" ;;
    uc3) make_slides && run_driver uc3 "$UC3_ARGS" ;;
    uc2) run_driver uc2 "$UC2_ARGS" ;;
    table) python3 "$ROOT/bench/compare_runs.py" "$RESULTS" | tee "$OUT/before-after.md" ;;
    *) echo "unknown part: $part"; status=2 ;;
  esac
done
save_results
step "done (status $status)"
exit $status
