#!/usr/bin/env bash
# Builds, tests and (with "bench") benchmarks slidestream on the lent GPU machine, in one call:
#   scripts/device-check.sh [bench] [tests|no-tests]
# Logs and results go to $OUT (at most 8 files come back: logs are tarred). What the machine
# lacks travels with the working tree in ignored, carried folders:
#   .debs/      Debian 12 .deb files (libdeflate, libopenjp2, blosc, snappy), unpacked into a
#               private prefix, never into /  (made here with `apt-get download`, see below)
#   .carry/     fixtures/ (tests/fixtures made by a local `ctest -R make_fixtures`: no libvips
#               there), testdata/ (a copy of ../shared/testdata), cmu-1-small-region.svs (the
#               scan the benchmark slides are tiled from), whl/ (slimmed wheels)
#   .whl/       Python wheels of the peers (kvikio, cuCIM, nvImageCodec, ...), installed into
#               /tmp/site
# Environment: TARGETS (ninja targets; default: all), CTEST_ARGS (extra ctest arguments, e.g.
# "-R GpuRead"), PYTEST_TIMEOUT (seconds for the Python tests, default 400), FIXTURE_DIR (carried fixtures folder; default .carry/fixtures), BENCHES
# (drivers; default: bench/uc1.py uc2.py uc3.py cpu_read.py python.py, those present), BENCH_ARGS
# (extra arguments for every driver), BENCH_ARGS_<name> (for one driver, e.g. BENCH_ARGS_patches),
# BENCH_TIMEOUT (seconds per driver, so that one slow driver cannot eat the call; default none),
# JOBS (default: cores). Each driver is called as
#   python3 DRIVER --cli BUILD/slidestream --build BUILD --slides DIR --out $OUT/NAME.json
#
# Here (not on the GPU machine), `scripts/device-check.sh prepare [BUILD_DIR]` fills those
# folders: the .debs, a copy of ../shared/testdata, the fixtures of BUILD_DIR (default
# build-gpu; run `ctest -R make_fixtures` there first) minus the largest ones, and a slim
# nvImageCodec wheel from .whl/. Then carry: .carry .debs and, for the peers, .whl/cucim*,
# .whl/kvikio*, .whl/libkvikio*, .whl/rapids_logger* (all together stay under the 64 MiB that
# travel; the full .whl/ plus .carry does not).
# The Python package (python/, built on the machine) needs .whl/nanobind*, scikit_build_core*,
# pathspec*, packaging* and, for its tests, pytest*, pluggy*, iniconfig* (all pure Python, < 1 MiB).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "${1:-}" = prepare ]; then
  BUILD_DIR=${2:-build-gpu}
  mkdir -p .debs .carry/fixtures .carry/testdata .carry/whl
  (cd .debs && apt-get download libdeflate0 libdeflate-dev libopenjp2-7 libopenjp2-7-dev \
      libblosc1 libblosc-dev libsnappy1v5 libpugixml1v5 libpugixml-dev)
  cp ../shared/testdata/* .carry/testdata/
  cp ../shared/testdata/cmu-1-small-region.svs .carry/
  # One fixture of each kind (uncompressed 8-bit/float/BigTIFF, JPEG with and without tables,
  # grey JPEG, LZW, zstd, planar deflate, big-endian, J2K): about 19 MB of the 38.
  for f in manifest.json vips-none-256.tif vips-none-bigtiff-512.tif tf-float32-none-256.tif \
      tf-bigendian-rgb-256.tif tf-planar-deflate-256.tif tf-lzw-pred-256.tif tf-zstd-128.tif \
      tf-aperio-j2k-ycbcr-256.svs tf-grey16-zstd-256.tif vips-jpeg90-256.tif \
      vips-jpeg90-bigtiff-128.tif tf-jpeg-256.tif vips-grey-jpeg90-256.tif \
      tf-jpeg-ycbcr420-128.tif tf-jpeg-ycbcr422-128.tif tf-jpeg-ycbcr444-128.tif; do
    [ -f "$BUILD_DIR/tests/fixtures/$f" ] && cp "$BUILD_DIR/tests/fixtures/$f" .carry/fixtures/
  done
  # The NDPI fixtures (4 MB; test_gpu_ndpi reads them).
  [ -d "$BUILD_DIR/tests/fixtures/ndpi" ] && cp -r "$BUILD_DIR/tests/fixtures/ndpi" .carry/fixtures/
  # The vendor slides (Philips, Leica, Ventana, libvips JPEG 2000; 2.2 MB) for test_gpu_vendors.
  if [ -d "$BUILD_DIR/tests/fixtures/vendors" ]; then
    mkdir -p .carry/fixtures/vendors
    cp "$BUILD_DIR"/tests/fixtures/vendors/*.* .carry/fixtures/vendors/
  fi
  # The DICOM series (13 MB, without the malformed copies) for test_gpu_dicom: the fixture
  # script finds them up to date on the machine (which has no pydicom / wsidicomizer).
  if [ -d "$BUILD_DIR/tests/fixtures/dicom" ]; then
    mkdir -p .carry/fixtures/dicom
    cp "$BUILD_DIR"/tests/fixtures/dicom/manifest.json .carry/fixtures/dicom/
    cp -r "$BUILD_DIR"/tests/fixtures/dicom/dcm-* .carry/fixtures/dicom/
  fi
  wheel=$(ls .whl/nvidia_nvimgcodec_cu13-*.whl 2>/dev/null | head -1)
  if [ -n "$wheel" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && unzip -q "$ROOT/$wheel" &&
      find . -name 'nvimgcodec_impl.cpython-*' ! -name '*cpython-312-*' -delete &&
      rm -f nvidia/__init__.py nvidia/nvimgcodec/extensions/libopencv_ext* \
        nvidia/nvimgcodec/extensions/libnvpnm_ext* nvidia/nvimgcodec/extensions/libnvbmp_ext* &&
      rm -f "$ROOT/.carry/whl/$(basename "$wheel")" &&
      zip -q -r -9 "$ROOT/.carry/whl/$(basename "$wheel")" .)
    rm -rf "$tmp"
  fi
  du -sh .debs .carry
  exit 0
fi
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT" /tmp/device-logs
LOGS=/tmp/device-logs
MODE_BENCH=0
MODE_TESTS=1
for a in "$@"; do
  case "$a" in
    bench) MODE_BENCH=1 ;;
    no-tests) MODE_TESTS=0 ;;
    tests) MODE_TESTS=1 ;;
  esac
done
JOBS=${JOBS:-$(nproc)}
export PATH=/usr/local/cuda/bin:/opt/torch/.venv/bin:$PATH
export PYTHONUNBUFFERED=1
status=0
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOGS/steps.log"; }
# At most 8 files come back: the logs, charts and copies go into logs.tar.gz; the drivers'
# JSON and Markdown stay beside it (charts are redrawn from the JSON by bench/plot.py).
finish() {
  for f in "$OUT"/*.png "$OUT"/ctest-gpu.log "$OUT"/system.txt; do
    [ -f "$f" ] && mv "$f" "$LOGS/"
  done
  tar -C "$LOGS" -czf "$OUT/logs.tar.gz" . 2>/dev/null
  exit $status
}
trap finish EXIT

# 1. Dependencies. Check what the machine has first; unpack the carried .debs only for the rest.
step "dependencies"
source "$ROOT/scripts/device-env.sh"
device_env_libraries

# 2. Configure and build (GPU-only tests: no libtiff/OpenSlide there).
step "configure"
BUILD=$ROOT/build-device
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIDESTREAM_CUDA=ON \
  -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DSLIDESTREAM_TESTS_GPU_ONLY=ON \
  -DSLIDESTREAM_PYTHON="$(command -v python3)" > "$LOGS/configure.log" 2>&1 \
  || { status=1; tail -30 "$LOGS/configure.log"; exit; }
step "build (-j$JOBS ${TARGETS:-all})"
ninja -C "$BUILD" -j"$JOBS" ${TARGETS:-} > "$LOGS/build.log" 2>&1 \
  || { status=1; grep -E "error|FAILED" "$LOGS/build.log" | head -40; }
"$BUILD/slidestream" info --system | tee "$OUT/system.txt"
"$BUILD/slidestream" info --system --json > "$LOGS/system.json" 2>&1

device_env_wheels
# 2b. The Python package, built here for this machine's python3 (nanobind, scikit-build-core and
# pytest travel as wheels in .whl/), installed into /tmp/site-slidestream (PYTHONPATH).
if python3 -c "import nanobind, scikit_build_core" 2>/dev/null; then
  step "python package"
  CMAKE_BUILD_PARALLEL_LEVEL=$JOBS python3 -m pip install --no-build-isolation --no-deps \
    --no-cache-dir --target /tmp/site-slidestream --upgrade -Cbuild-dir="$ROOT/build-device-python" \
    -Ccmake.define.CMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc . > "$LOGS/python-install.log" 2>&1 \
    || { status=1; grep -E "error|Error" "$LOGS/python-install.log" | head -20; }
  export PYTHONPATH=/tmp/site-slidestream:${PYTHONPATH:-}
else
  echo "no nanobind / scikit-build-core wheels in .whl: the Python package is not built" \
    | tee -a "$LOGS/steps.log"
fi
# 3. GPU tests against carried fixtures (the make_fixtures setup needs libvips: excluded).
if [ "$MODE_TESTS" = 1 ]; then
  step "gpu tests"
  # FIXTURE_DIR (relative to the repo): another carried folder of fixtures, for a run that
  # carries only the ones it needs instead of .carry.
  if [ -n "${FIXTURE_DIR:-}" ]; then export SLIDESTREAM_FIXTURE_DIR=$ROOT/$FIXTURE_DIR
  elif [ -d .carry/fixtures ]; then export SLIDESTREAM_FIXTURE_DIR=$ROOT/.carry/fixtures; fi
  # ../shared/testdata does not travel: a copy in .carry/testdata does.
  if [ -d .carry/testdata ]; then export SLIDESTREAM_SHARED_TESTDATA=$ROOT/.carry/testdata; fi
  ctest --test-dir "$BUILD" -L gpu -FS slides --output-on-failure -j4 --timeout 600 ${CTEST_ARGS:-} \
    > "$LOGS/ctest-gpu.log" 2>&1 || status=1
  grep -E "tests passed|tests failed|\*\*\*|Failed|FAILED" "$LOGS/ctest-gpu.log" | tail -40
  cp "$LOGS/ctest-gpu.log" "$OUT/ctest-gpu.log"
  # The Python package's GPU tests, and its array / process tests with the machine's torch.
  if python3 -c "import slidestream, pytest" 2>/dev/null; then
    step "python tests"
    # The GPU tests, and the array / process / Zarr / error tests with the machine's torch/CuPy.
    GPU_PYTESTS="python/tests/test_gpu.py python/tests/test_arrays.py
      python/tests/test_threads_and_processes.py python/tests/test_zarr.py
      python/tests/test_errors.py python/tests/test_dask_gpu.py
      python/tests/test_read_regions.py python/tests/test_patches.py python/tests/test_loader.py
      python/tests/test_mirax.py"
    SLIDESTREAM_TESTDATA=$ROOT/.carry/testdata SLIDESTREAM_FIXTURES=${SLIDESTREAM_FIXTURE_DIR:-} \
      SLIDESTREAM_CLI=$BUILD/slidestream timeout "${PYTEST_TIMEOUT:-400}" python3 -m pytest ${PYTEST_FILES:-$GPU_PYTESTS} -p no:cacheprovider -rfEs \
      --tb=short -o faulthandler_timeout=100 ${PYTEST_ARGS:-} \
      > "$LOGS/pytest-gpu.log" 2>&1 || status=1
    # The whole log comes back (failures need their tracebacks, not a tail).
    cp "$LOGS/pytest-gpu.log" "$OUT/pytest-gpu.log"
    grep -E "^(FAILED|ERROR)|passed|failed" "$LOGS/pytest-gpu.log" | tail -30
  fi
fi

# 4. Benchmarks.
if [ "$MODE_BENCH" = 1 ]; then
  step "bench slides"
  SLIDES=${BENCH_SLIDES:-/tmp/bench-slides}
  python3 bench/make_bench_slides.py --source .carry/cmu-1-small-region.svs --out "$SLIDES" \
    > "$LOGS/make_bench_slides.log" 2>&1 || { status=1; tail -20 "$LOGS/make_bench_slides.log"; }
  for driver in ${BENCHES:-bench/uc1.py bench/uc2.py bench/uc3.py bench/cpu_read.py bench/python.py}; do
    [ -f "$driver" ] || continue
    name=$(basename "$driver" .py)
    step "bench $name"
    own_args_var="BENCH_ARGS_$name"
    # shellcheck disable=SC2086
    timeout "${BENCH_TIMEOUT:-0}" python3 "$driver" --cli "$BUILD/slidestream" --build "$BUILD" \
      --slides "$SLIDES" --out "$OUT/$name.json" ${BENCH_ARGS:-} ${!own_args_var:-} \
      > "$LOGS/bench-$name.log" 2>&1
    rc=$?
    [ "$rc" = 0 ] || { status=1; echo "bench $name: exit $rc (124: stopped at BENCH_TIMEOUT)"; }
    tail -40 "$LOGS/bench-$name.log"
  done
fi
step "done (status $status)"
