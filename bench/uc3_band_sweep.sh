#!/usr/bin/env bash
# Sweeps the band executor (tile-rows read at once x band height) with bench_uc3 on raw.tif:
#   bench/uc3_band_sweep.sh BUILD_DIR SLIDES_DIR   (slides from bench/make_bench_slides.py)
set -u
B=$1; S=$2
for t in 512 1024 2048; do for r in 2 4 8; do
  printf "tile %s readers %s: " $t $r
  SLIDESTREAM_BAND_READERS=$r $B/bench/bench_uc3 $S/raw.tif --device cuda --tile $t --repeats 5 2>/dev/null | python3 -c "
import json,sys
j=json.loads(sys.stdin.read().strip().splitlines()[-1])
print(' | '.join('%s %s med %.4f min %.4f peak %.2fGB'%(r['mode'],r['executor'],r['seconds_median'],r['seconds_min'],r['peak_gpu_bytes']/1e9) for r in j['results']))"
done; done
