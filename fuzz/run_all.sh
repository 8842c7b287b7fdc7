#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan + UBSan) and runs each for SECONDS with WORKERS
# processes, one target after another, then prints one line per target:
#   <target> executions=<N> crashes=<K> seconds=<S> workers=<W>
# and a total. New inputs go to BUILD/corpus-run/<target> (the committed seeds in
# fuzz/corpus/<target> are read, never written); findings go to BUILD/artifacts/<target>/.
# Exit status 1 when any target left a crash, leak, timeout or OOM artifact.
#
# Usage: fuzz/run_all.sh [SECONDS_PER_TARGET=300] [WORKERS=nproc] [BUILD_DIR=build-fuzz]
#   NICE=19 fuzz/run_all.sh 600 1     # a shared machine: one process, lowest priority
#   TARGETS="fuzz_zstd fuzz_lzw" fuzz/run_all.sh 60 4
# A machine without clang (the lent GPU machine) runs binaries built elsewhere:
#   PACK=.carry/fuzz fuzz/run_all.sh          # here: build, copy the targets and the library
#   BIN_DIR=.carry/fuzz fuzz/run_all.sh 300 16   # there (after scripts/device-env.sh's libraries)
set -euo pipefail

seconds=${1:-300}
workers=${2:-$(nproc)}
build=${3:-build-fuzz}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

all_targets=$(cd fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//')
targets=${TARGETS:-$all_targets}
if [[ -n ${BIN_DIR:-} ]]; then
  bin=$BIN_DIR
  export LD_LIBRARY_PATH="$BIN_DIR:${LD_LIBRARY_PATH:-}"
else
  bin=$build/fuzz
fi

if [[ -z ${BIN_DIR:-} && ! -f $build/build.ninja ]]; then
  CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$build" -G Ninja \
    -DSLIDESTREAM_BUILD_FUZZERS=ON -DSLIDESTREAM_SANITIZE=address,undefined \
    -DSLIDESTREAM_CUDA=OFF -DSLIDESTREAM_BUILD_TESTS=OFF -DSLIDESTREAM_BUILD_BENCHMARKS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if [[ -z ${BIN_DIR:-} ]]; then
  # shellcheck disable=SC2086
  nice -n "${NICE:-0}" ninja -C "$build" -j "${BUILD_JOBS:-$(nproc)}" $targets >/dev/null
fi
if [[ -n ${PACK:-} ]]; then
  mkdir -p "$PACK"
  for target in $targets; do cp "$build/fuzz/$target" "$PACK/"; done
  cp -L "$build"/src/libslidestream.so* "$PACK/"
  du -sh "$PACK"
  exit 0
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
total=0
failed=0
summary=()
for target in $targets; do
  name=${target#fuzz_}
  run="$build/corpus-run/$name"
  artifacts="$build/artifacts/$name"
  logs="$build/logs/$name"
  mkdir -p "$run" "$artifacts" "$logs"
  rm -f "$logs"/*.log
  seeds="fuzz/corpus/$name"
  [[ -d $seeds ]] || seeds=""
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  start=$(date +%s)
  if ((workers > 1)); then
    # -fork keeps going after a finding (each worker a child process) and counts executions
    # over all of them in its final "stat::number_of_executed_units".
    nice -n "${NICE:-0}" "$bin/$target" "$run" $seeds "${args[@]}" -fork="$workers" \
      -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 >"$logs/run.log" 2>&1 || true
  else
    nice -n "${NICE:-0}" "$bin/$target" "$run" $seeds "${args[@]}" \
      >"$logs/run.log" 2>&1 || true
  fi
  elapsed=$(($(date +%s) - start))
  if ((workers > 1)); then
    # The fork parent's progress lines "#N: cov: ..." count executions over all its workers.
    execs=$(grep -ho '^#[0-9]*' "$logs/run.log" | tr -d '#' | sort -n | tail -1 || true)
  else
    execs=$(grep -ho 'stat::number_of_executed_units: *[0-9]*' "$logs/run.log" | awk '{print $2}' || true)
  fi
  execs=${execs:-0}
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  # The fork parent also counts them: "oom/timeout/crash: A/B/C" on its progress lines.
  counted=$(grep -ho 'oom/timeout/crash: *[0-9]*/[0-9]*/[0-9]*' "$logs/run.log" | tail -1 |
    awk -F'[ /]' '{print $(NF-2) + $(NF-1) + $NF}' || true)
  ((${counted:-0} > crashes)) && crashes=$counted
  ((crashes > 0)) && failed=1
  total=$((total + execs))
  line="$target executions=$execs crashes=$crashes seconds=$elapsed workers=$workers"
  summary+=("$line")
  echo "$line"
done
echo "----"
printf '%s\n' "${summary[@]}"
echo "total executions=$total targets=$(echo $targets | wc -w) host=$(hostname) cores=$(nproc) date=$(date -u +%FT%TZ)"
exit $failed
