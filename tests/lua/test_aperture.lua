-- core.aperture (lua/l_aperture.c): FITS 1-based positions, arrays of positions,
-- masks, the annulus, and misuse errors. The numerics are tested in
-- tests/c/test_aperture.c and against photutils in tests/e2e/test_mosaic_real.lua.
local T = require "testing"
local mopex = require "mopex"
local ap = mopex.core.aperture

T.test("1-based centre, exact sums", function()
  local img = mopex.image(31, 31, 0)
  img:set(16, 16, 1)      -- FITS (16, 16) = C (15, 15)
  img:set(17, 16, 1)      -- its right neighbour
  local r = ap(img, 16, 16, { r = 1 })
  T.near(r.sum, 1 + 0.456611477491, 1e-11, "centre pixel + edge neighbour (oracle O-15)")
  T.near(r.area, math.pi, 1e-12, "disc area")
  T.eq(r.edge, false); T.eq(r.bad, false); T.eq(r.nbad, 0)
  local flat = mopex.image(31, 31, 2)
  T.near(ap(flat, 10.3, 20.7, { r = 4 }).sum, 2 * math.pi * 16, 1e-10, "flat image")
end)

T.test("arrays of positions", function()
  local flat = mopex.image(41, 41, 1)
  local res = ap(flat, { 10, 20.5, 1 }, { 10, 21.25, 1 }, { r = 3 })
  T.eq(#res, 3)
  T.near(res[1].sum, 9 * math.pi, 1e-10)
  T.near(res[2].sum, 9 * math.pi, 1e-10)
  T.eq(res[3].edge, true, "corner pixel: disc beyond the image")
  T.near(res[3].area + res[3].area_out, 9 * math.pi, 1e-10, "inside + outside = disc")
  T.raises(function() ap(flat, { 1, 2 }, { 1 }, { r = 1 }) end, "x has 2 positions, y has 1")
end)

T.test("masks, NaN and the annulus", function()
  local img = mopex.image(41, 41, 3)
  img:set(21, 21, 103)
  img:set(22, 21, 0 / 0)
  local m = mopex.mask(41, 41)
  m:set(21, 22, 8)
  m:set(20, 21, 16)
  local r = ap(img, 21, 21, { r = 3, annulus = { 8, 14 }, mask = m, fatal = 8 })
  T.eq(r.nbad, 2, "the NaN and the bit-3 pixel")
  T.near(r.area_bad, 2, 1e-12)
  T.near(r.background, 3, 0)
  T.near(r.sum, 100, 1e-9, "delta of 100 above a sky of 3")
  T.eq(r.bad, true)
  local r2 = ap(img, 21, 21, { r = 3, mask = m })
  T.eq(r2.nbad, 3, "fatal defaults to every bit")
end)

T.test("misuse", function()
  local img = mopex.image(11, 11, 1)
  T.raises(function() ap(img, 5, 5, { r = 0 }) end, "radius must be > 0")
  T.raises(function() ap(img, 5, 5, {}) end, "'r'")
  T.raises(function() ap(img, 5, 5, { r = 1, annulus = { 5 } }) end, "annulus")
  T.raises(function() ap(img, 5, 5, { r = 1, annulus = { 5, 4 } }) end, "annulus needs")
  T.raises(function() ap(img, 5, 5, { r = 1, mask = mopex.image(11, 11) }) end, "integer image")
  T.raises(function() ap(img, 5, 5, { r = 1, mask = mopex.mask(10, 11) }) end, "is 10x11")
  T.raises(function() ap(mopex.mask(11, 11), 5, 5, { r = 1 }) end, "float image")
end)

T.done()
