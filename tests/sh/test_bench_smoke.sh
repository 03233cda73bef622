#!/bin/sh
# The benchmarks still run and still measure what they claim, at toy sizes
# (bench/ is not timed here: speed is judged by the full runs in docs/bench.md).
# The overlap bench broke once unseen when Interpolate's product names changed.
#   overlap_bench.lua 100 1000: offsets of 100 simulated frames and of a
#     synthetic 980-frame map against the truth (rms < 0.003 MJy/sr, truth 0.01);
#   mosaic_bench.lua --n 10 --peers none: the mosaic's flux against the
#     simulator's truth (|error| < 1%) and its peak RSS (< 300 MB).
EXE="${MOPEX_BUILD_DIR:?MOPEX_BUILD_DIR is not set}/mopexlua"
SRC="${MOPEX_SOURCE_DIR:?MOPEX_SOURCE_DIR is not set}"
TMP="${MOPEX_TEST_TMP:-/tmp}/test_bench_smoke"
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time (package time) is not installed"; exit 77; }

pass=0
fail=0
check() { # name, awk condition on $v, value
    if [ -n "$3" ] && awk -v v="$3" "BEGIN { exit !($2) }"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1: got [$3], want $2"
    fi
}

MOPEX_BENCH_DIR="$TMP/overlap" "$EXE" "$SRC/bench/overlap_bench.lua" 100 1000 >"$TMP/overlap.log" 2>&1 ||
    { cat "$TMP/overlap.log"; echo "FAIL: overlap_bench.lua exited with an error"; fail=$((fail + 1)); }
rms=$(sed -n 's/.*rms(offset - truth) = \([0-9.e+-]*\).*/\1/p' "$TMP/overlap.log")
check "overlap, 100 frames: rms(offset - truth)" "v > 0 && v < 0.003" "$(echo "$rms" | sed -n 1p)"
check "overlap, synthetic map: rms(offset - truth)" "v > 0 && v < 0.003" "$(echo "$rms" | sed -n 2p)"

"$EXE" "$SRC/bench/mosaic_bench.lua" --n 10 --peers none --scratch "$TMP/mosaic" >"$TMP/mosaic.log" 2>&1 ||
    { cat "$TMP/mosaic.log"; echo "FAIL: mosaic_bench.lua exited with an error"; fail=$((fail + 1)); }
row=$(grep '^| mopexlua |' "$TMP/mosaic.log" | head -1)
# | mopexlua | wall | CPU | RSS | ratio | flux err | ...
rss=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $5); print $5}')
flux=$(echo "$row" | awk -F'|' '{gsub(/[ %+]/, "", $7); print $7}')
check "mosaic, 10 frames: peak RSS (MB)" "v > 0 && v < 300" "$rss"
check "mosaic, 10 frames: flux error (%)" "v > -1 && v < 1" "$flux"

rm -rf "$TMP"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
