#!/usr/bin/env bash
# Command 1 of the README. On a fresh Debian 12 machine: installs every build and test dependency
# (Debian packages + a Python venv in .venv), configures and builds slidestream into build/ (CUDA
# on when nvcc is found), then runs the main job on the sample slide from ../shared/testdata.
#
# Idempotent: packages already installed, an up-to-date venv and an up-to-date build are skipped.
#
#   scripts/setup.sh            everything
#   scripts/setup.sh --no-run   dependencies + build only (CI, scripts/test.sh)
#   scripts/setup.sh --no-apt   skip the Debian packages (no root, or you manage them yourself)
#
# Environment: SLIDESTREAM_CUDA=ON|OFF forces the CUDA build on or off (default: on when nvcc is
# found); SLIDESTREAM_JOBS=N parallel build jobs (default: nproc); PYTHON=... the interpreter the
# venv is made from (default: python3 on PATH, 3.10 or newer); SLIDESTREAM_DEVICE=cpu|cuda where
# the main job runs (default: cuda when a GPU is usable).
set -euo pipefail

usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

run_main_job=1
use_apt=1
for arg in "$@"; do
  case "$arg" in
    --no-run) run_main_job=0 ;;
    --no-apt) use_apt=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build_dir="$repo/build"
venv="$repo/.venv"
jobs="${SLIDESTREAM_JOBS:-$(nproc)}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }
# Any unexpected failure names the command and line, so a CI log says what broke.
trap 'rc=$?; printf "setup.sh: error: \"%s\" failed (exit %d, line %d)\n" "$BASH_COMMAND" "$rc" "$LINENO" >&2; exit $rc' ERR

# --- 1. Debian packages --------------------------------------------------------------------------
# Kept in step with cmake/SlidestreamDependencies.cmake (libraries), tests/ (references and fixture
# writers) and fuzz/ + scripts/tsan.sh (clang with its sanitizer runtimes). The CUDA toolkit is
# not installed here: our machines and CI have it, and the CPU-only build works without it.
apt_packages=(
  # toolchain
  cmake ninja-build g++ pkg-config git ca-certificates
  # libraries we link
  libjpeg62-turbo-dev libturbojpeg0-dev libdeflate-dev libzstd-dev libopenjp2-7-dev
  libblosc-dev liblz4-dev libpng-dev nlohmann-json3-dev libcli11-dev libpugixml-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # independent references (tests only) and fixture writers
  libtiff-dev libopenslide-dev openslide-tools libvips-tools
  # fuzzing and sanitizers (clang 14 + compiler-rt; llvm-symbolizer for readable reports)
  clang libclang-rt-14-dev llvm clang-format
  # a venv for the system python, when no other python3 is on PATH
  python3 python3-venv
)

if ((use_apt)); then
  missing=()
  for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]})); then
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null ||
        die "not root and no sudo: install these Debian packages, then rerun with --no-apt: ${missing[*]}"
      sudo_cmd=(sudo)
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
  else
    log "Debian packages: all ${#apt_packages[@]} present"
  fi
fi

# --- 2. Python venv (.venv) ----------------------------------------------------------------------
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || die "no '$python' on PATH (set PYTHON=/path/to/python3.11)"
if [[ -x "$venv/bin/python3" ]] && ! "$venv/bin/python3" -c 'import sys' 2>/dev/null; then
  log "removing a broken venv at $venv"
  rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python3" ]]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$python is $("$python" --version 2>&1); need Python 3.10 or newer (3.11 tested)"
  log "creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi
requirements="$repo/scripts/requirements.txt"
stamp="$venv/.slidestream-requirements"
want="$(cat "$requirements" <("$venv/bin/python3" --version 2>&1) | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  log "installing Python packages into $venv (scripts/requirements.txt)"
  "$venv/bin/python3" -m pip install -q --disable-pip-version-check --progress-bar off \
    -r "$requirements"
  echo "$want" >"$stamp"
else
  log "Python packages: up to date"
fi

# --- 3. Configure and build into build/ ----------------------------------------------------------
cuda_setting="${SLIDESTREAM_CUDA:-auto}"
nvcc=""
if [[ "$cuda_setting" != OFF ]]; then
  nvcc="$(command -v nvcc || true)"
  [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
  [[ -z "$nvcc" && "$cuda_setting" == ON ]] && die "SLIDESTREAM_CUDA=ON but no nvcc found"
fi
cmake_args=(-S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
            -DSLIDESTREAM_PYTHON="$venv/bin/python3")
if [[ -n "$nvcc" ]]; then
  cmake_args+=(-DSLIDESTREAM_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc")
  cuda_note="CUDA on ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
else
  cmake_args+=(-DSLIDESTREAM_CUDA=OFF)
  cuda_note="CUDA off (no nvcc)"
fi
if [[ -f "$build_dir/CMakeCache.txt" ]] &&
   ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$build_dir/CMakeCache.txt"; then
  die "$build_dir was configured with another generator; remove it and rerun"
fi

log "configuring $build_dir ($cuda_note)"
mkdir -p "$build_dir"
configure_log="$build_dir/configure.log"
if ! cmake "${cmake_args[@]}" >"$configure_log" 2>&1; then
  tail -n 40 "$configure_log" >&2
  die "cmake configure failed (full log: $configure_log)"
fi

log "building with $jobs jobs (log: $build_dir/build.log)"
build_log="$build_dir/build.log"
if ! cmake --build "$build_dir" -j "$jobs" >"$build_log" 2>&1; then
  # The first errors matter most; the tail shows which target stopped the build.
  grep -n -m 20 -E 'error|Error' "$build_log" >&2 || true
  echo '...' >&2
  tail -n 30 "$build_log" >&2
  die "build failed (full log: $build_log)"
fi
log "built: $build_dir/slidestream"

# --- 4. The Python package into .venv -------------------------------------------------------------
# `pip install .` (pyproject.toml at the root, python/CMakeLists.txt) builds the nanobind extension
# against a static copy of the library. Its build folder, build/python, persists, so reruns (and
# scripts/test.sh after a change) rebuild only what changed.
bash "$repo/scripts/install-python.sh"

# --- 5. The main job on the sample slide ---------------------------------------------------------
if ((run_main_job)); then
  sample="$(cd "$repo/.." && pwd)/shared/testdata/cmu-1-small-region.svs"
  [[ -f "$sample" ]] ||
    die "sample slide not found: $sample (../shared/testdata must sit beside the repository)"
  # The main job: the sample slide's level 0 through the tiled pipeline (Sobel magnitude,
  # float32) into OME-Zarr, on the GPU where one is usable.
  device=cpu
  if [[ -n "$nvcc" ]] && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    device=cuda
  fi
  device="${SLIDESTREAM_DEVICE:-$device}"
  output="$repo/out/sample-sobel.zarr"
  log "main job: slidestream process $sample $output --op sobel --device $device --overwrite"
  "$build_dir/slidestream" info "$sample" | sed -n '1,/^associated images/p'
  "$build_dir/slidestream" process "$sample" "$output" --op sobel --device "$device" --overwrite
  log "output: $output (OME-Zarr v3: Sobel magnitude, float32, (c, y, x)). To look inside:"
  log "  .venv/bin/python -c \"import zarr; g = zarr.open_group('$output', mode='r');" \
      "print({k: a.shape for k, a in g.arrays()})\""
fi
log "done. CLI: $build_dir/slidestream   Python: .venv/bin/python -c 'import slidestream'" \
    "  tests: scripts/test.sh"
