-- Wcs binding: real TAN-SIP headers against astropy (wcs_reference_astropy.csv,
-- 1-based pixels), arrays and scalars, inverse, scales, orientation,
-- footprints, simple WCSs, header text and tables, errors.
local T = require "testing"
local mopex = require "mopex"

local DATA = T.data_dir()
local CBCD1 = DATA .. "/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits"
local DEG_TOL = 1e-6 -- the reference is rounded to 1e-10 deg; wcslib vs wcslib

local ref = T.read_csv(T.data_file("wcs_reference_astropy.csv"))
local function rows_of(source)
  local out = {}
  for _, r in ipairs(ref) do if r.source == source then out[#out + 1] = r end end
  return out
end

local function check_against_reference(w, rows, label)
  T.eq(#rows, 49, label .. ": 7x7 reference grid")
  -- scalars
  local worst = 0
  for _, r in ipairs(rows) do
    local ra, dec = w:pix2sky(tonumber(r.x), tonumber(r.y))
    local d = math.max(math.abs(ra - tonumber(r.ra_sip)), math.abs(dec - tonumber(r.dec_sip)))
    if d > worst then worst = d end
  end
  T.ok(worst <= DEG_TOL, string.format("%s: worst scalar difference %.3g deg", label, worst))
  -- arrays give the same numbers
  local xs, ys = {}, {}
  for i, r in ipairs(rows) do xs[i], ys[i] = tonumber(r.x), tonumber(r.y) end
  local ras, decs = w:pix2sky(xs, ys)
  T.eq(#ras, 49); T.eq(#decs, 49)
  local ra1, dec1 = w:pix2sky(xs[20], ys[20])
  T.eq(ras[20], ra1); T.eq(decs[20], dec1)
  -- and the inverse returns the pixels (SIP inverse by iteration)
  local bx, by = w:sky2pix(ras, decs)
  local back = 0
  for i = 1, 49 do back = math.max(back, math.abs(bx[i] - xs[i]), math.abs(by[i] - ys[i])) end
  T.ok(back < 1e-6, string.format("%s: round trip within %.3g px", label, back))
end

T.test("cbcd frame (ch1 0056) against astropy", function()
  local img <close> = mopex.read(CBCD1)
  local w <close> = img:wcs()
  local rows = rows_of("gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits")
  check_against_reference(w, rows, "ch1 0056")
  -- pixel (1,1), the brief's headline number
  local ra, dec = w:pix2sky(1, 1)
  T.near(ra, 120.0885246484, DEG_TOL); T.near(dec, -9.0318944540, DEG_TOL)
  T.eq(w:ctype(1), "RA---TAN-SIP"); T.eq(w:ctype(2), "DEC--TAN-SIP")
  T.eq(w:projection(), "TAN")
  T.eq(w:system(), "J2000")
  T.eq(w:has_distortion(), true)
  local crval, crpix = w:reference()
  T.near(crval[1], 120.0363202466, 1e-9); T.near(crval[2], -9.0638740854, 1e-9)
  T.eq(crpix, { 128, 128 })
  -- local scale at CRPIX equals the header's PXSCAL1/2 (arcsec), to 1e-4
  local sx, sy = w:pixel_scale()
  T.near(sx, 1.22361484682187, 2e-3); T.near(sy, 1.22304236283526, 2e-3)
  local area = w:pixel_area(128, 128)
  T.near(area, sx * sy, 1e-3 * area)
  -- CROTA2 of the aligned undistorted frame: the header's PA is that of +y
  -- (E of N); in the FITS CROTA2 convention the angle is its negative
  local crota2, flipped = w:orientation()
  T.near(crota2, -img:header("PA"), 0.01)
  T.eq(flipped, false)
  T.eq(img:pix2sky(1, 1), ra, "Image:pix2sky goes through the same WCS")
end)

T.test("ch2 frame and header text files against astropy", function()
  local img <close> = mopex.read(DATA .. "/gammit_grb120119a/ch2/bcd/SPITZER_I2_46291456_0002_0000_2_cbcd.fits")
  local w <close> = img:wcs()
  check_against_reference(w, rows_of("gammit_grb120119a/ch2/bcd/SPITZER_I2_46291456_0002_0000_2_cbcd.fits"), "ch2 0002")

  local lines = T.data_file("astropy_irac_sip/irac_sip_lines.hdr")
  local w2 <close> = mopex.read_wcs(lines)
  check_against_reference(w2, rows_of("astropy_irac_sip/irac_sip_lines.hdr"), "irac_sip_lines")
  -- the same header as raw 80-character cards, through wcs_from_header(text)
  local cards = T.read_file(T.data_file("astropy_irac_sip/irac_sip_cards.hdr"))
  local w3 <close> = mopex.wcs_from_header(cards)
  local ra2, dec2 = w2:pix2sky(64, 192)
  local ra3, dec3 = w3:pix2sky(64, 192)
  T.eq(ra3, ra2); T.eq(dec3, dec2)

  local w4 <close> = mopex.read_wcs(T.data_file("golfir_bcd_headers/bcd_ch3.header"))
  check_against_reference(w4, rows_of("golfir_bcd_headers/bcd_ch3.header"), "golfir ch3")
end)

-- astropy.wcs on the same keywords (CDELT/CROTA2 form, EQUINOX 2000)
T.test("wcs_simple against astropy", function()
  local w <close> = mopex.wcs_simple { ctype = { "RA---TAN", "DEC--TAN" }, crval = { 120, -9 },
    crpix = { 50.5, 60.5 }, cdelt = { -1e-4, 1e-4 }, crota2 = 30 }
  local cases = {
    { 1, 1, 120.00735239970565, -9.002677778241285 },
    { 50.5, 60.5, 120.0, -9.0 },
    { 100, 120, 119.99264770914529, -8.997322075984247 },
    { 10, 90, 120.00205771099142, -8.995420219362304 },
  }
  for _, c in ipairs(cases) do
    local ra, dec = w:pix2sky(c[1], c[2])
    T.near(ra, c[3], 1e-10); T.near(dec, c[4], 1e-10)
  end
  local x, y = w:sky2pix(120.01, -8.99)
  T.near(x, -85.0380118, 1e-6); T.near(y, 97.71559215, 1e-6)
  T.near(w:orientation(), 30, 1e-6) -- from a numerical Jacobian
  local sx, sy = w:pixel_scale()
  T.near(sx, 0.36, 1e-9); T.near(sy, 0.36, 1e-9)
  T.eq(w:has_distortion(), false)
  -- outer corners, counter-clockwise from pixel corner (0.5, 0.5)
  local ras, decs = w:footprint(100, 120)
  local corners = {
    { 120.00742155324599, -9.002696078133333 }, { 119.99865326412932, -9.007696149928929 },
    { 119.99257855737967, -8.997303773337133 }, { 120.00134667856909, -8.992303845180334 } }
  T.eq(#ras, 4)
  for i, c in ipairs(corners) do
    T.near(ras[i], c[1], 1e-10); T.near(decs[i], c[2], 1e-10)
  end
  local r8 = w:footprint(100, 120, 3)
  T.eq(#r8, 16)
  T.near(r8[1], ras[1], 1e-12)
  T.near(r8[5], ras[2], 1e-12)
  local g <close> = mopex.wcs_simple { ctype = { "GLON-SIN", "GLAT-SIN" }, crval = { 10, 20 },
    crpix = { 1, 1 }, cdelt = { -0.001, 0.001 } }
  T.eq(g:system(), "Galactic")
  T.eq(g:projection(), "SIN")
  local l, b = g:pix2sky(11, 21)
  T.near(l, 9.989356869381856, 1e-10); T.near(b, 20.01999968274181, 1e-10)
  T.raises(function() mopex.wcs_simple { crval = { 1, 2 }, crpix = { 1, 1 } } end,
    "option 'cdelt' is required")
  T.raises(function() mopex.wcs_simple { crval = { 1 }, crpix = { 1, 1 }, cdelt = { 1, 1 } } end,
    "'crval' must hold 2 numbers")
  T.raises(function() mopex.wcs_simple { crval = { 1, 2 }, crpix = { 1, 1 }, cdelt = { 1, 1 }, rot = 3 } end,
    "unknown option 'rot'")
end)

T.test("wcs from a keyword table, set_wcs into an image", function()
  local w <close> = mopex.wcs_from_header { CTYPE1 = "RA---TAN", CTYPE2 = "DEC--TAN",
    CRVAL1 = 120, CRVAL2 = -9, CRPIX1 = 50.5, CRPIX2 = 60.5, CDELT1 = -1e-4, CDELT2 = 1e-4,
    CROTA2 = 30, EQUINOX = 2000 }
  local ra, dec = w:pix2sky(1, 1)
  T.near(ra, 120.00735239970565, 1e-10); T.near(dec, -9.002677778241285, 1e-10)
  local img <close> = mopex.image(100, 120)
  img:set_wcs(w)
  T.eq(img:header("CTYPE1"), "RA---TAN")
  T.near(img:header("CROTA2"), 30, 1e-12)
  local ra2, dec2 = img:pix2sky(1, 1)
  T.near(ra2, ra, 1e-12); T.near(dec2, dec, 1e-12)
  local x, y = img:sky2pix(ra, dec)
  T.near(x, 1, 1e-9); T.near(y, 1, 1e-9)
  local c <close> = w:copy()
  w:close()
  T.eq(tostring(w), "Wcs (closed)")
  T.raises(function() w:pix2sky(1, 1) end, "attempt to use a closed Wcs")
  T.near(select(1, c:pix2sky(1, 1)), ra, 1e-12, "the copy lives on")
  T.ok(tostring(c):match("^Wcs RA%-%-%-TAN/DEC%-%-TAN J2000"), tostring(c))
end)

T.test("errors", function()
  local img <close> = mopex.image(10, 10)
  T.raises(function() img:wcs() end, "no celestial WCS")
  T.raises(function() mopex.wcs_from_header { CTYPE1 = "RA---XYZ", CTYPE2 = "DEC--XYZ",
    CRVAL1 = 0, CRVAL2 = 0, CRPIX1 = 1, CRPIX2 = 1, CDELT1 = -1, CDELT2 = 1 } end, "XYZ")
  local w <close> = mopex.wcs_simple { crval = { 0, 0 }, crpix = { 1, 1 }, cdelt = { -1e-3, 1e-3 } }
  T.raises(function() w:pix2sky({ 1, 2 }, { 1 }) end, "differ in length %(2 and 1%)")
  T.raises(function() w:pix2sky({ 1, "a" }, { 1, 2 }) end, "entry 2 is not a number")
  T.raises(function() w:ctype(3) end, "axis must be 1 or 2")
  T.raises(function() mopex.wcs_from_header(42) end, "header table or header text expected")
  local xs, ys = w:pix2sky({}, {})
  T.eq(#xs, 0); T.eq(#ys, 0)
end)

T.done()
