#!/bin/sh
# Bad input: every failure is one message line naming the file and the
# reason (the traceback follows it), a non-zero exit status, and no output
# file (nor temporary file) left behind.
BIN="${MOPEX_BUILD_DIR:?MOPEX_BUILD_DIR is not set}/mopexlua"
TMP="${MOPEX_TEST_TMP:-/tmp}/test_bad_input"
rm -rf "$TMP" && mkdir -p "$TMP/out" || exit 1
cd "$TMP" || exit 1

pass=0
fail=0
# case NAME PATTERN LUA-CODE: run the code, which reads its input and then
# writes out/result.*; it must fail with PATTERN on the first stderr line.
case_() {
    name=$1 pattern=$2 code=$3
    rm -f out/*
    "$BIN" -e "$code" >stdout.txt 2>stderr.txt
    st=$?
    first=$(head -1 stderr.txt)
    problems=""
    [ "$st" != 0 ] || problems="$problems exit status 0;"
    printf '%s\n' "$first" | grep -q "^mopexlua: " || problems="$problems no 'mopexlua:' prefix;"
    printf '%s\n' "$first" | grep -q -- "$pattern" || problems="$problems message does not match /$pattern/;"
    [ "$(sed -n 2p stderr.txt)" = "stack traceback:" ] || problems="$problems no traceback after the message;"
    [ -z "$(ls out)" ] || problems="$problems output left behind: $(ls out);"
    [ -s stdout.txt ] && problems="$problems unexpected stdout: $(cat stdout.txt);"
    if [ -z "$problems" ]; then
        pass=$((pass + 1))
        echo "ok   $name: $first"
    else
        fail=$((fail + 1))
        echo "FAIL $name:$problems"
        echo "     stderr: $first"
    fi
}

# inputs
"$BIN" -e 'local i <close> = mopex.image(100, 100, 1); i:write("good.fits")' || exit 1
: >empty.fits
printf 'this is a text file\nnot FITS\n' >text.fits
head -c 10000 good.fits >truncated.fits
head -c 2880 good.fits >header_only.fits
"$BIN" -e 'local i <close> = mopex.image(10, 10)
for k, v in pairs { CTYPE1 = "RA---XYZ", CTYPE2 = "DEC--XYZ", CRVAL1 = 1.5, CRVAL2 = 2.5,
  CRPIX1 = 5.0, CRPIX2 = 5.0, CDELT1 = -1e-3, CDELT2 = 1e-3 } do i:set_header(k, v) end
i:write("xyz_projection.fits")' || exit 1
printf 'good.fits\nmissing_frame.fits\n' >images.lst
printf 'good.fits\n' >sigmas.lst

COPY='local i <close> = mopex.read(IN); i:write("out/result.fits")'
c() { printf '%s' "$COPY" | sed "s|IN|\"$1\"|"; }

case_ "missing file" "'missing.fits'.*No such file" "$(c missing.fits)"
case_ "empty file" "'empty.fits' is empty" "$(c empty.fits)"
case_ "not FITS" "'text.fits' is not a FITS file" "$(c text.fits)"
case_ "truncated FITS" "'truncated.fits' is truncated" "$(c truncated.fits)"
case_ "header without data" "'header_only.fits' is truncated" "$(c header_only.fits)"
case_ "mask from a float image" "good.fits.*BITPIX -32" \
    'local m <close> = mopex.read_mask("good.fits"); m:write("out/result.fits")'
case_ "no celestial WCS" "'good.fits': no celestial WCS" \
    'local i <close> = mopex.read("good.fits"); local w = i:wcs(); i:write("out/result.fits")'
case_ "unsupported projection" "'xyz_projection.fits': unsupported projection 'XYZ'" \
    'local i <close> = mopex.read("xyz_projection.fits"); local w = i:wcs(); i:write("out/result.fits")'
case_ "list naming a missing image" "list 'images.lst' line 2: .*missing_frame.fits" \
    'local l = mopex.read_list("images.lst"); mopex.write_list("out/result.lst", l)'
case_ "lists of different lengths" "SigmaList 'sigmas.lst' has 1 entries, ImageList 'images.lst' has 2" \
    'mopex.check_lists("images.lst", "ImageList", "sigmas.lst", "SigmaList")
     mopex.write_list("out/result.lst", mopex.read_list("images.lst", false))'
case_ "table that is not IPAC" "'text.fits' line 1" \
    'local t <close> = mopex.read_table("text.fits"); t:write("out/result.tbl")'
case_ "missing table" "'none.tbl'" \
    'local t <close> = mopex.read_table("none.tbl"); t:write("out/result.tbl")'
case_ "header text without a WCS" "no celestial WCS" \
    'local w = mopex.read_wcs("images.lst"); mopex.write_list("out/result.lst", {"x"})'
# writing into a directory that does not exist: the error names the path,
# and nothing (not even a temporary file) appears anywhere
case_ "unwritable output" "out/no/such/dir/result.fits" \
    'local i <close> = mopex.read("good.fits"); i:write("out/no/such/dir/result.fits")'
left=$(find . -name '*.tmp*' | head -3)
if [ -z "$left" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL temporary files left: $left"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
