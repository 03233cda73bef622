#!/bin/sh
# The compiled module works from a stock lua5.4: require "mopex" with only
# package.cpath set (the Lua layer is embedded in mopex.so).
LUA=$(command -v lua5.4 || command -v lua)
[ -n "$LUA" ] || { echo "SKIP: no lua5.4 binary"; exit 77; }
"$LUA" -v 2>&1 | grep -q "Lua 5\.4" || { echo "SKIP: $LUA is not Lua 5.4"; exit 77; }
SO="${MOPEX_BUILD_DIR:?MOPEX_BUILD_DIR is not set}/lua"
[ -f "$SO/mopex.so" ] || { echo "no $SO/mopex.so"; exit 1; }
# A sanitizer build of the module needs the ASan runtime loaded first.
if [ "${MOPEX_SANITIZED:-0}" = 1 ]; then
    ASAN=$(ldd "$SO/mopex.so" | sed -n 's/.*libasan[^ ]* => \([^ ]*\).*/\1/p' | head -1)
    [ -n "$ASAN" ] || { echo "SKIP: sanitizer build, ASan runtime not found"; exit 77; }
    LD_PRELOAD="$ASAN${LD_PRELOAD:+:$LD_PRELOAD}"
    export LD_PRELOAD
fi
TMP="${MOPEX_TEST_TMP:-/tmp}/test_stock_lua"
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1

pass=0
fail=0
expect_eq() {
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: got [$2], want [$3]"; fi
}

# only package.cpath: no LUA_PATH/LUA_CPATH from the test environment
unset LUA_PATH LUA_CPATH
run() { "$LUA" -e "package.cpath = '$SO/?.so;' .. package.cpath" "$@"; }

expect_eq "require" "$(run -e 'local m = require "mopex"; print(type(m), m.version == m.core.version(), type(m.help))')" \
    "table	true	function"
expect_eq "no global" "$(run -e 'require "mopex"; print(mopex)')" "nil"
expect_eq "stats" "$(run -e 'local m = require "mopex"; local s = m.stats{1, 2, 3, 4, 100}; print(s.n, s.median, s.mean)')" \
    "5	3.0	22.0"
expect_eq "image" "$(run -e 'local m = require "mopex"; local i <close> = m.image(3, 2, 1.5); i:set(3, 2, 4); print(i, i:get(3, 2), i:stats().mean)')" \
    "Image 3x2 float	4.0	1.9166666666667"
expect_eq "table round trip" "$(run -e 'local m = require "mopex"
local t = m.table(); t:add_column("a", "int", {1, 2}); t:add_column("b", "double", {0.25, nil})
t:write("'"$TMP"'/t.tbl"); local u = m.read_table("'"$TMP"'/t.tbl"); print(#u, u:get(1, "b"), u:get(2, "b"))')" \
    "2	0.25	nil"
expect_eq "wcs" "$(run -e 'local m = require "mopex"
local w = m.wcs_simple{crval = {120, -9}, crpix = {50.5, 60.5}, cdelt = {-1e-4, 1e-4}, crota2 = 30}
local ra, dec = w:pix2sky(1, 1); print(string.format("%.10f %.10f", ra, dec))')" \
    "120.0073523997 -9.0026777782"
# an error raised from C reaches stock lua as a plain message
out=$(run -e 'local m = require "mopex"; m.read("'"$TMP"'/none.fits")' 2>&1); st=$?
expect_eq "error status" "$st" 1
case "$out" in *none.fits*) pass=$((pass + 1)) ;; *) fail=$((fail + 1)); echo "FAIL: error text: $out" ;; esac
# warnings are collected under stock lua too, and the state closes cleanly
expect_eq "warnings" "$(run -e 'local m = require "mopex"
local w = m.wcs_simple{ctype = {"RA--TAN", "DEC--TAN"}, crval = {0, 0}, crpix = {1, 1}, cdelt = {-1, 1}}
print(#m.warnings())' 2>/dev/null)" "1"

# with the real data: the headline numbers
if [ -n "$MOPEX_TEST_DATA" ] && [ -d "$MOPEX_TEST_DATA/gammit_grb120119a" ]; then
    F="$MOPEX_TEST_DATA/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits"
    expect_eq "real frame" "$(run -e 'local m = require "mopex"
local img <close> = m.read("'"$F"'"); local w <close> = img:wcs(); local ra, dec = w:pix2sky(1, 1)
print(img:header("EXPTIME"), string.format("%.9f %.9f", ra, dec))')" "93.6	120.088524648 -9.031894454"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
