#!/usr/bin/env bash
# ThreadSanitizer on the concurrent paths: builds the library and the tests with
# -DSLIDESTREAM_SANITIZE=thread (CPU only: TSan cannot see into CUDA) into build-tsan/, then runs
# the tests of the paths that use threads (reads and decodes over the thread pool, Zarr writes,
# the pipeline). Any report fails the run (halt_on_error). Needs .venv (scripts/setup.sh --no-run).
#
#   scripts/tsan.sh                 the default selection
#   scripts/tsan.sh -R 'Zarr'       another ctest regex (any ctest arguments)
#
# Environment: CC / CXX pick the compiler (default g++; clang++ works too), SLIDESTREAM_JOBS.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$repo/build-tsan"
jobs="${SLIDESTREAM_JOBS:-$(nproc)}"
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'tsan.sh: error: %s\n' "$*" >&2; exit 1; }

[[ -x "$repo/.venv/bin/python3" ]] || die "no .venv: run scripts/setup.sh --no-run first"

# ctest names tests after their GoogleTest suites and cases (and fixtures), so match both
# spellings. Covers thread-pool, I/O backend, read/region/level/decode, Zarr and pipeline tests.
default_regex='[Tt]hread|[Ii]oBackend|[Cc]oncurren|[Pp]arallel|[Rr]ead|[Rr]egion|[Ll]evel|[Dd]ecode|[Zz]arr|[Ss]hard|[Pp]ipeline|[Pp]rocess|[Tt]iled|[Ss]lot|[Ee]ngine'
ctest_args=("$@")
if ((${#ctest_args[@]} == 0)); then
  ctest_args=(-R "$default_regex")
fi

log "configuring $build_dir (TSan, CUDA off, RelWithDebInfo)"
mkdir -p "$build_dir"
if ! cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DSLIDESTREAM_SANITIZE=thread -DSLIDESTREAM_CUDA=OFF -DSLIDESTREAM_BUILD_BENCHMARKS=OFF \
     -DSLIDESTREAM_PYTHON="$repo/.venv/bin/python3" >"$build_dir/configure.log" 2>&1; then
  tail -n 30 "$build_dir/configure.log" >&2
  die "configure failed (log: $build_dir/configure.log)"
fi

# Only the CPU test binaries: GPU tests cannot run without CUDA, and TSan cannot see into it.
targets=(slidestream_cli)
for src in "$repo"/tests/test_*.cpp; do
  name="$(basename "$src" .cpp)"
  [[ "$name" == test_gpu_* ]] || targets+=("$name")
done
log "building ${#targets[@]} targets with $jobs jobs (log: $build_dir/build.log)"
# The build runs each test binary once to list its tests: that too must run under TSan's options.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
if ! cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}" >"$build_dir/build.log" 2>&1; then
  grep -n -m 20 -E 'error|Error|ThreadSanitizer' "$build_dir/build.log" >&2 || true
  tail -n 30 "$build_dir/build.log" >&2
  die "build failed (log: $build_dir/build.log)"
fi

log "running under ThreadSanitizer: ctest ${ctest_args[*]}"
# A race report ends the test process with a non-zero status, so ctest lists it as failed and
# prints the report (--output-on-failure).
# GPU tests, binaries left unbuilt (ctest's *_NOT_BUILT placeholders), the single-threaded
# kernel tests (Ops*: long under TSan, no threads of their own) and the tests whose children
# start threads after fork() (ThreadPoolFork, ZarrManyWriters: TSan does not follow a
# multi-threaded fork and ends the child) are excluded.
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" \
  -E '^Gpu|^Ops|^test_gpu_|_NOT_BUILT$|^ThreadPoolFork\.|ZarrManyWriters\.' \
  "${ctest_args[@]}"
