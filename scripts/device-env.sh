# Sourced by the scripts that run on the lent GPU machine (scripts/device-check.sh,
# bench/before_after.sh): makes what the machine lacks usable from the carried folders.
#   .debs/   Debian 12 .deb files (libdeflate, libopenjp2, blosc, pugixml), unpacked into a private prefix
#   .whl/, .carry/whl/   Python wheels, installed into /tmp/site (PYTHONPATH); WHEEL_DIRS (paths
#            relative to the repository, space-separated) names other folders instead
# Expects ROOT (the repository) and LOGS (a folder for logs); defines nothing else.

device_env_libraries() {
  local prefix=/tmp/ss-deps need_debs=0 pc f
  for pc in libdeflate libopenjp2 blosc pugixml; do
    pkg-config --exists "$pc" || need_debs=1
  done
  if [ "$need_debs" = 1 ]; then
    if ls "$ROOT"/.debs/*.deb >/dev/null 2>&1; then
      mkdir -p "$prefix"
      for f in "$ROOT"/.debs/*.deb; do dpkg -x "$f" "$prefix"; done
      # The .pc files say prefix=/usr: point them at the private prefix.
      # libdeflate's names its directories outright (and libdir=/usr/lib, not the multiarch one).
      sed -i -e "s|^prefix=.*|prefix=$prefix/usr|" \
        -e "s|^libdir=/usr/lib.*|libdir=$prefix/usr/lib/x86_64-linux-gnu|" \
        -e "s|^includedir=/usr/include|includedir=$prefix/usr/include|" \
        "$prefix"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc
      export PKG_CONFIG_PATH="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}"
      export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
    else
      echo "missing libdeflate/libopenjp2/blosc and no .debs/ carried" | tee -a "$LOGS/steps.log"
    fi
  fi
  # libnvjpeg / libcufile are dlopen'ed: make the toolkit's copies findable.
  export LD_LIBRARY_PATH="/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  for pc in libjpeg libdeflate libzstd libopenjp2 blosc libpng; do
    echo "$pc: $(pkg-config --modversion $pc 2>&1)" >> "$LOGS/deps.log"
  done
  { uname -a; nvidia-smi; ls /dev/nvidia-fs* 2>&1; ls /usr/local/cuda/lib64 | grep -E "cufile|nvjpeg"; } \
    >> "$LOGS/machine.log" 2>&1
}

# Python peers and test references travel as wheels; .carry/whl/ may hold slimmed ones.
device_env_wheels() {
  local wheels d
  for wheels in ${WHEEL_DIRS:-.whl .carry/whl}; do
    wheels=$ROOT/$wheels
    ls "$wheels"/*.whl >/dev/null 2>&1 || continue
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site "$wheels"/*.whl >> "$LOGS/pip.log" 2>&1 || echo "some wheels failed (pip.log)"
  done
  if [ -d /tmp/site ]; then
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
    # The peers' own libraries (libkvikio, nvImageCodec, nvCOMP, nvJPEG2000) live in their wheels.
    for d in /tmp/site/libkvikio/lib64 /tmp/site/nvidia/nvimgcodec /tmp/site/nvidia/cu13/lib \
        /tmp/site/nvidia/libnvcomp/lib64 /tmp/site/nvidia/nvjpeg2k/lib; do
      [ -d "$d" ] && export LD_LIBRARY_PATH="$d:$LD_LIBRARY_PATH"
    done
  fi
  return 0
}
