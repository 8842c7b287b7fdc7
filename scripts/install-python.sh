#!/usr/bin/env bash
# Builds and installs the Python package `slidestream` into the project venv (.venv), as
# scripts/setup.sh and scripts/test.sh do: `pip install .` without build isolation (the venv has
# the build requirements from scripts/requirements.txt), into a persistent build folder
# (build/python) so that a rerun rebuilds only what changed. CUDA as for the C++ build: on when
# nvcc is found, unless SLIDESTREAM_CUDA=OFF. Log: build/python-install.log.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
log_file="$repo/build/python-install.log"
mkdir -p "$repo/build"
[[ -x "$venv/bin/python3" ]] || { echo "install-python.sh: no $venv (run scripts/setup.sh)" >&2; exit 1; }

defines=()
nvcc=""
if [[ "${SLIDESTREAM_CUDA:-auto}" != OFF ]]; then
  nvcc="$(command -v nvcc || true)"
  [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
fi
if [[ -n "$nvcc" ]]; then
  defines+=(-Ccmake.define.SLIDESTREAM_CUDA=ON -Ccmake.define.CMAKE_CUDA_COMPILER="$nvcc")
else
  defines+=(-Ccmake.define.SLIDESTREAM_CUDA=OFF)
fi

printf '==> %s\n' "installing the Python package into $venv (build/python; log: $log_file)" >&2
if ! CMAKE_BUILD_PARALLEL_LEVEL="${SLIDESTREAM_JOBS:-$(nproc)}" \
    "$venv/bin/python3" -m pip install --no-build-isolation --no-deps --disable-pip-version-check \
    --progress-bar off -Cbuild-dir="$repo/build/python" "${defines[@]}" "$repo" \
    >"$log_file" 2>&1; then
  grep -n -m 20 -E 'error|Error' "$log_file" >&2 || true
  tail -n 30 "$log_file" >&2
  echo "install-python.sh: error: pip install failed (full log: $log_file)" >&2
  exit 1
fi
