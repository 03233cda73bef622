#!/bin/sh
# The README's main job: `build/mopexlua demo.lua`, run from a clean directory, on the
# real IRAC frames when they are beside the checkout and on the simulated set
# (--simulate). Checks that it finishes well under a minute and that the summary's
# numbers are sane: a mosaic of hundreds of pixels with its coverage and uncertainty
# files, coverage between 0 and the frame count, the IRAC sky level, and the
# brightest isolated star's aperture flux within a few percent of its reference.
# Environment from tests/CMakeLists.txt: MOPEX_BUILD_DIR, MOPEX_TEST_TMP.
BIN="${MOPEX_BUILD_DIR:-}/mopexlua"
[ -n "${MOPEX_BUILD_DIR:-}" ] && [ -x "$BIN" ] || { echo "SKIP: no mopexlua (MOPEX_BUILD_DIR)"; exit 77; }
command -v awk >/dev/null 2>&1 || { echo "SKIP: no awk"; exit 77; }
TMP="${MOPEX_TEST_TMP:-/tmp}/test_readme_demo_sh"
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check NAME AWK-CONDITION VALUE...: the condition on $1, $2, ... holds
check() {
    name=$1; cond=$2; shift 2
    if echo "$@" | awk "{ exit !($cond) }"; then ok; else bad "$name: ($cond) fails for [$*]"; fi
}

# run_demo LABEL ARGS...: run in a clean directory, check the summary.
run_demo() {
    label=$1; shift
    dir="$TMP/$label"
    mkdir -p "$dir" || exit 1
    start=$(date +%s)
    (cd "$dir" && "$BIN" demo.lua "$@" >out.txt 2>err.txt)
    st=$?
    secs=$(( $(date +%s) - start ))
    out=$(cat "$dir/out.txt")
    echo "--- demo.lua $* ($label): exit $st in $secs s"
    cat "$dir/out.txt"
    if [ "$st" -ne 0 ]; then bad "$label: exit status $st"; tail -20 "$dir/err.txt"; return; fi
    ok
    check "$label: well under a minute" '$1 < 45' "$secs"
    for f in mosaic.fits mosaic_cov.fits mosaic_unc.fits; do
        if [ -s "$dir/demo-out/Combine-mosaic/$f" ]; then ok; else bad "$label: demo-out/Combine-mosaic/$f missing"; fi
    done
    size=$(printf '%s\n' "$out" | sed -n 's/.*mosaic\.fits  *\([0-9]*\) x \([0-9]*\) px.*/\1 \2/p')
    check "$label: mosaic size" '$1 >= 300 && $2 >= 300 && $1 <= 3000 && $2 <= 3000' "$size"
    cov=$(printf '%s\n' "$out" | sed -n 's/.*coverage *min \([^ ]*\) \/ median \([^ ]*\) \/ max \([^ ]*\) frames.*/\1 \2 \3/p')
    check "$label: coverage min <= median <= max <= frames" \
        "\$1 > 0 && \$1 <= \$2 && \$2 <= \$3 && \$3 <= $nframes + 1e-6 && \$3 >= $nframes - 1e-6" "$cov"
    sky=$(printf '%s\n' "$out" | sed -n 's/.*sky *\([0-9.]*\) MJy\/sr.*/\1/p')
    check "$label: sky level" "\$1 > $sky_lo && \$1 < $sky_hi" "$sky"
    ratio=$(printf '%s\n' "$out" | sed -n 's/.*; ratio \([0-9.]*\).*/\1/p')
    check "$label: star flux ratio" "\$1 > 1 - $ratio_tol && \$1 < 1 + $ratio_tol" "$ratio"
    rt=$(printf '%s\n' "$out" | sed -n 's/.*time *\([0-9.]*\) s.*/\1/p')
    check "$label: reported time" '$1 > 0 && $1 < 45' "$rt"
}

# Simulated: 12 frames, truth known exactly (noise only): 2% on the star.
nframes=12 sky_lo=0.095 sky_hi=0.110 ratio_tol=0.02
run_demo simulated --simulate
if printf '%s\n' "$out" | grep -q "simulator truth"; then ok; else bad "simulated: compared with the truth"; fi

# Real frames, when present beside the checkout: the sky is ~0.08-0.09 MJy/sr, the
# reference is photutils on one frame (5%).
DATA="${MOPEX_TEST_DATA:-}"
if [ -n "$DATA" ] && [ -f "$DATA/gammit_grb120119a/lists/ch1_cbcd.lst" ]; then
    nframes=30 sky_lo=0.07 sky_hi=0.10 ratio_tol=0.05
    run_demo real
    if printf '%s\n' "$out" | grep -q "real IRAC data: 30 ch1 frames"; then ok; else bad "real: says what it mosaicked"; fi
else
    echo "(no real IRAC frames in \$MOPEX_TEST_DATA: only the simulated demo was checked)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
