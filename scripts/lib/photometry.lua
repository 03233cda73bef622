-- photometry: small measurements on mosaics for the demo and the end-to-end tests.
--
--   local ph = require "photometry"
--   local f = ph.flux(img, ra, dec, { r = 5, annulus = { 12, 20 } })   -- microJy
--
-- Aperture sums come from the engine's exact-overlap aperture (core.aperture,
-- core/include/mopex/mx_aperture.h); surface brightness (MJy/sr) becomes a flux with
-- the pixel's solid angle from the image's own WCS: 1 MJy/sr = 23.5044305 microJy per
-- arcsec^2 (formats.md 1.3).
local mopex = require "mopex"

local PH = {}

PH.UJY_PER_MJYSR_ARCSEC2 = 23.5044305

--- Aperture flux in microJy of a surface-brightness image at sky position (ra, dec):
--- opts.r (pixels), opts.annulus = {inner, outer} (pixels; median background),
--- opts.mask, opts.fatal. Returns flux, the aperture result, x, y (1-based).
function PH.flux(img, ra, dec, opts)
  local w <close> = img:wcs()
  local x, y = w:sky2pix(ra, dec)
  local r = mopex.core.aperture(img, x, y, opts)
  local area = w:pixel_area(x, y)
  return r.sum * PH.UJY_PER_MJYSR_ARCSEC2 * area, r, x, y
end

--- Statistics of the pixels of `img` where `cov` > 0 (both the same size):
--- { n, min, median, max } of the coverage, and the sigma-clipped median of the image
--- there (its sky level).
function PH.coverage_and_sky(img, cov)
  local nx, ny = cov:size()
  local covs, vals = {}, {}
  for y = 1, ny do
    local crow, irow = cov:row(y), img:row(y)
    for x = 1, nx do
      local c = crow[x]
      if c > 0 then
        covs[#covs + 1] = c
        local v = irow[x]
        if v == v then vals[#vals + 1] = v end
      end
    end
  end
  local cs = mopex.stats(covs)
  local sky = mopex.sigma_clip(vals, { lo = 3, hi = 3 })
  return { n = cs.n, min = cs.min, median = cs.median, max = cs.max }, sky.median
end

--- Sources of a truth or reference list that no brighter-than-`frac` neighbour comes
--- within `radius` arcsec of, brightest first. list: array of {ra=, dec=, flux=}.
function PH.isolated(list, radius, frac)
  local out = {}
  for i, s in ipairs(list) do
    local ok = true
    local cosd = math.cos(math.rad(s.dec))
    for j, t in ipairs(list) do
      if i ~= j and t.flux > frac * s.flux then
        local dx = (t.ra - s.ra) * cosd * 3600
        local dy = (t.dec - s.dec) * 3600
        if dx * dx + dy * dy < radius * radius then ok = false; break end
      end
    end
    if ok then out[#out + 1] = s end
  end
  table.sort(out, function(a, b) return a.flux > b.flux end)
  return out
end

-- Polygon clipping for PH.reproject (Sutherland-Hodgman against one axis-parallel line).
local function clip(poly, axis, bound, keep_below)
  local out = {}
  local n = #poly
  for k = 1, n do
    local a, b = poly[k], poly[k % n + 1]
    local ina, inb
    if keep_below then ina, inb = a[axis] <= bound, b[axis] <= bound
    else ina, inb = a[axis] >= bound, b[axis] >= bound end
    if ina then out[#out + 1] = a end
    if ina ~= inb then
      local t = (bound - a[axis]) / (b[axis] - a[axis])
      out[#out + 1] = { a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2]) }
    end
  end
  return out
end

local function area(poly)
  local s = 0
  for k = 1, #poly do
    local a, b = poly[k], poly[k % #poly + 1]
    s = s + a[1] * b[2] - b[1] * a[2]
  end
  return math.abs(s) / 2
end

--- Overlap area of a convex polygon {{x, y}, ...} with pixel (i, j) (FITS 1-based:
--- the unit square centred on (i, j)).
function PH.pixel_overlap(poly, i, j)
  local p = clip(poly, 1, i - 0.5, false)
  if #p > 0 then p = clip(p, 1, i + 0.5, true) end
  if #p > 0 then p = clip(p, 2, j - 0.5, false) end
  if #p > 0 then p = clip(p, 2, j + 0.5, true) end
  return #p >= 3 and area(p) or 0
end

--- An independent re-projection of one output pixel (the guide's area-overlap rule,
--- Eq. 8.11), slow and plain, for checking mosaics: output pixel (X, Y) of the grid
--- `ow` (a Wcs) projected through the sky into the input frame `iw` (corners mapped,
--- edges straight), value = sum a_i v(i, j) / sum a_i over the input pixels it
--- overlaps. value(i, j) gives the input pixel's value, bad(i, j) (optional) true for
--- a bad pixel. Returns nil when the pixel is not wholly inside the nx x ny frame or
--- touches a bad pixel.
function PH.reproject(ow, iw, nx, ny, X, Y, value, bad)
  local quad = {}
  for k, c in ipairs({ { -0.5, -0.5 }, { 0.5, -0.5 }, { 0.5, 0.5 }, { -0.5, 0.5 } }) do
    local ra, dec = ow:pix2sky(X + c[1], Y + c[2])
    local x, y = iw:sky2pix(ra, dec)
    quad[k] = { x, y }
  end
  local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
  for _, q in ipairs(quad) do
    xmin, xmax = math.min(xmin, q[1]), math.max(xmax, q[1])
    ymin, ymax = math.min(ymin, q[2]), math.max(ymax, q[2])
  end
  if xmin < 0.5 or ymin < 0.5 or xmax > nx + 0.5 or ymax > ny + 0.5 then return nil end
  local sw, s = 0, 0
  for j = math.floor(ymin + 0.5), math.floor(ymax + 0.5) do
    for i = math.floor(xmin + 0.5), math.floor(xmax + 0.5) do
      local a = PH.pixel_overlap(quad, i, j)
      if a > 0 then
        if bad and bad(i, j) then return nil end
        s, sw = s + a * value(i, j), sw + a
      end
    end
  end
  return s / sw
end

return PH
