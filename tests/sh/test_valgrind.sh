#!/bin/sh
# Memory: a session that opens, closes, abandons and fails on images, tables
# and WCSs under valgrind must lose nothing ("definitely lost: 0 bytes") and
# make no invalid access. Skipped in sanitizer builds (ASan and valgrind do
# not mix) and when valgrind is missing.
[ "${MOPEX_SANITIZED:-0}" = 1 ] && { echo "SKIP: sanitizer build"; exit 77; }
VG=$(command -v valgrind) || { echo "SKIP: valgrind is not installed"; exit 77; }
BIN="${MOPEX_BUILD_DIR:?MOPEX_BUILD_DIR is not set}/mopexlua"
TMP="${MOPEX_TEST_TMP:-/tmp}/test_valgrind"
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
MOPEX_THREADS=2
MOPEXLUA_HISTORY=""
export MOPEX_THREADS MOPEXLUA_HISTORY

cat >"$TMP/session.lua" <<'EOF'
local tmp = arg[1]
local data = os.getenv("MOPEX_TEST_DATA")
local frame = data and data .. "/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits"
local f = frame and io.open(frame, "rb")
if f then f:close() else frame = nil end

-- images: closed explicitly, by <close>, and left to the collector
local img
if frame then
  img = mopex.read(frame)
  local m <close> = mopex.read(frame:gsub("cbcd", "bimsk"))
  local s = img:stats { mask = m, fatal = 32520 }
  assert(s.n == 62902, s.n)
  local w <close> = img:wcs()
  local ra, dec = w:pix2sky({ 1, 128, 256 }, { 1, 128, 256 })
  local x = w:sky2pix(ra, dec)
  assert(math.abs(x[3] - 256) < 1e-6)
  local h = mopex.read_header(frame)
  assert(h.EXPTIME == 93.6)
else
  img = mopex.image(256, 256, 1)
  img:set_wcs(mopex.wcs_simple { crval = { 120, -9 }, crpix = { 128, 128 }, cdelt = { -3e-4, 3e-4 } })
end
do
  local r <close> = img:region(10, 10, 100, 60)
  local c = r:copy()            -- abandoned: freed by __gc
  c:set_header("NOTE", "copy")
  c:history("valgrind session")
  r:write(tmp .. "/region.fits")
end
local back = mopex.read(tmp .. "/region.fits")
assert(back:header("CRPIX1") ~= nil)
back:close()
img:close()
assert(not pcall(img.get, img, 1, 1))
for _ = 1, 20 do
  local i <close> = mopex.image(64, 64, 2)
  local k <close> = mopex.mask(64, 64, 16)
  i:fill(3)
  k:set(5, 5, 12)
  local _ = i:stats { mask = k }
end

-- failures must free what they had: missing file, empty file, not FITS
for _, p in ipairs { tmp .. "/missing.fits", tmp .. "/session.lua" } do
  assert(not pcall(mopex.read, p))
  assert(not pcall(mopex.read_table, p))
  assert(not pcall(mopex.read_wcs, p))
end
assert(not pcall(mopex.image(4, 4).wcs, mopex.image(4, 4)))
assert(not pcall(mopex.wcs_simple, { ctype = { "RA---XYZ", "DEC--XYZ" }, crval = { 0, 0 },
  crpix = { 1, 1 }, cdelt = { -1, 1 } }))

-- tables
local t = mopex.table()
t:add_column("id", "int", { 1, 2, 3 })
t:add_column("flux", "double", { 1.5, nil, 2.5 }, "uJy")
t:add_column("name", "string", { "a", "b", nil })
t:set_keyword("CRVAL1", 120.5)
t:append { id = 4, flux = 9, name = "d" }
assert(not pcall(t.append, t, { id = 5, bogus = 1 }))
assert(not pcall(t.append, t, { id = "x" }))
t:set_format("flux", "%.3f")
t:write(tmp .. "/t.tbl")
local u <close> = mopex.read_table(tmp .. "/t.tbl")
for _, row in u:rows() do assert(row.id) end
local vals, nulls = u:column("flux")
assert(nulls[2] and vals[4] == 9)
local p = mopex.parse_table(u:text(), "text") -- abandoned
t:close()

-- wcs objects and lists
local w = mopex.wcs_simple { ctype = { "RA--TAN", "DEC--TAN" }, crval = { 0, 0 }, crpix = { 1, 1 },
  cdelt = { -1e-3, 1e-3 } } -- warns: kept for mopex.warnings() until the state closes
local w2 = w:copy()
w:close()
local ras = w2:footprint(100, 100, 5)
assert(#ras == 24)
mopex.write_list(tmp .. "/l.lst", { tmp .. "/region.fits", tmp .. "/t.tbl" })
assert(#mopex.read_list(tmp .. "/l.lst") == 2)
assert(not pcall(mopex.read_list, tmp .. "/session.lua"))
assert(not pcall(mopex.check_lists, { "a", "b" }, "ImageList", { "c" }, "SigmaList"))
local s = mopex.sigma_clip({ 1, 2, 3, 1000 }, { nsig = 1.5 })
assert(s.n == 3)
print("session done")
EOF

status=0
vg_run() { # log, then the command
    log=$1
    shift
    "$VG" --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
        --log-file="$log" "$@"
}

out=$(vg_run "$TMP/vg_session.log" "$BIN" "$TMP/session.lua" "$TMP" 2>"$TMP/session.err"); st=$?
if [ "$st" != 0 ] || [ "$out" != "session done" ]; then
    echo "FAIL: session under valgrind (status $st, output [$out])"
    cat "$TMP/session.err"
    status=1
fi
out=$(printf 'local i = mopex.image(8, 8)\n1+2\nerror("x")\nmopex.read("none.fits")\n' |
    vg_run "$TMP/vg_repl.log" "$BIN" 2>/dev/null)
[ "$out" = 3 ] || { echo "FAIL: REPL under valgrind printed [$out]"; status=1; }
# the error of a failing script, with its traceback
vg_run "$TMP/vg_error.log" "$BIN" -e 'local i = mopex.image(8, 8); mopex.read("none.fits")' 2>/dev/null
[ $? = 1 ] || { echo "FAIL: failing script under valgrind: status not 1"; status=1; }

for log in "$TMP"/vg_*.log; do
    lost=$(grep "definitely lost:" "$log" | sed 's/.*definitely lost: *//')
    errors=$(grep "ERROR SUMMARY:" "$log" | sed 's/.*ERROR SUMMARY: *\([0-9]*\).*/\1/')
    name=$(basename "$log")
    if grep -q "All heap blocks were freed" "$log"; then lost="0 bytes in 0 blocks"; fi
    echo "$name: definitely lost: $lost; errors: $errors"
    case "$lost" in "0 bytes in 0 blocks") ;; *) status=1; grep -A12 "definitely lost in" "$log" | head -60 ;; esac
    [ "$errors" = 0 ] || { status=1; grep -B2 -A15 "Invalid\|uninitialised" "$log" | head -60; }
done
[ $status = 0 ] && echo "valgrind: clean"
exit $status
