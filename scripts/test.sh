#!/usr/bin/env bash
# Command 2 of the README: the whole test suite. Builds first when needed (scripts/setup.sh
# --no-run when build/ has never been configured, an incremental build otherwise, and the Python
# package reinstalled from its persistent build folder), then runs every C++ test through ctest
# and the Python package's tests (python/tests) through pytest; fails when either fails. GPU
# tests (ctest label "gpu", python/tests/test_gpu.py) skip themselves, with the reason, where no
# GPU is usable. Extra arguments go to ctest, e.g. `scripts/test.sh -L cpu` or
# `scripts/test.sh -R zarr`; PYTEST_ARGS (e.g. "-k zarr") go to pytest, and SLIDESTREAM_PYTEST=0
# skips it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$repo/build"
jobs="${SLIDESTREAM_JOBS:-$(nproc)}"
log() { printf '==> %s\n' "$*" >&2; }

if [[ ! -f "$build_dir/build.ninja" || ! -x "$repo/.venv/bin/python3" ]]; then
  log "no configured build/ (or no .venv): running scripts/setup.sh --no-run"
  bash "$repo/scripts/setup.sh" --no-run
else
  log "building $build_dir (incremental; log: $build_dir/build.log)"
  if ! cmake --build "$build_dir" -j "$jobs" >"$build_dir/build.log" 2>&1; then
    grep -n -m 20 -E 'error|Error' "$build_dir/build.log" >&2 || true
    echo '...' >&2
    tail -n 30 "$build_dir/build.log" >&2
    echo "test.sh: error: build failed (full log: $build_dir/build.log)" >&2
    exit 1
  fi
  bash "$repo/scripts/install-python.sh"
fi

log "running the tests (ctest, $jobs in parallel)"
status=0
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "$@" || status=$?

if [[ "${SLIDESTREAM_PYTEST:-1}" != 0 ]]; then
  # ctest's fixture step has written build/tests/fixtures, which the Python tests compare too.
  log "running the Python tests (pytest python/tests)"
  # shellcheck disable=SC2086
  "$repo/.venv/bin/python3" -m pytest "$repo/python/tests" -p no:cacheprovider -q \
    ${PYTEST_ARGS:-} || status=$?
fi
exit "$status"
