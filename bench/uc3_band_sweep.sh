#!/usr/bin/env bash
# Sweeps the band executor with bench_uc3 on raw.tif (read + Sobel into GPU memory):
#   bench/uc3_band_sweep.sh BUILD_DIR SLIDES_DIR   (slides from bench/make_bench_slides.py)
# First the streamed reader's range size (SLIDESTREAM_BAND_TASK_MIB) per band height, then the
# row-at-a-time reader (--modes tiled-rows: pipeline::Options::band_stream = false) by tile-rows read at once
# (SLIDESTREAM_BAND_READERS), which JPEG levels use.
set -u
B=$1; S=$2
show() {
  python3 -c "
import json,sys
j=json.loads(sys.stdin.read().strip().splitlines()[-1])
print(' | '.join('%s %s med %.4f min %.4f peak %.2fGB'%(r['mode'],r['executor'],r['seconds_median'],r['seconds_min'],r['peak_gpu_bytes']/1e9) for r in j['results']))"
}
for t in 512 1024 2048; do for mib in 2 4 8 16; do
  printf "tile %s, streamed, %s MiB ranges: " $t $mib
  SLIDESTREAM_BAND_TASK_MIB=$mib $B/bench/bench_uc3 $S/raw.tif --device cuda --tile $t --repeats 5 \
    --modes tiled 2>/dev/null | show
done; done
for t in 512 1024 2048; do for r in 2 4 8; do
  printf "tile %s, rows, %s readers: " $t $r
  SLIDESTREAM_BAND_READERS=$r $B/bench/bench_uc3 $S/raw.tif --device cuda --tile $t --repeats 5 \
    --modes tiled-rows 2>/dev/null | show
done; done
