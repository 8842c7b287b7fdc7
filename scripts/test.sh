#!/usr/bin/env bash
# Command 2 of the README: the whole test suite. Builds first when needed (scripts/setup.sh
# --no-run when build/ has never been configured, an incremental build otherwise), then runs every
# test through ctest. GPU tests (label "gpu") skip themselves, with the reason, where no GPU is
# usable. Extra arguments go to ctest, e.g. `scripts/test.sh -L cpu` or `scripts/test.sh -R zarr`.
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
fi

log "running the tests (ctest, $jobs in parallel)"
exec ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "$@"
