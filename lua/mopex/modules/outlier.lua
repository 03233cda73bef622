-- mopex.outlier: Mosaic Outlier, multiframe temporal outlier detection
-- (000 l.3175-3262, l.7818-7897; mosaic.md 5.6.14, algorithms.md 2.2,
-- oracle O-2).
--
--   local t = mopex.outlier{ interp_images = i.images, interp_coverages = i.coverages,
--                            interp_sigmas = i.sigmas, mosaic_fif = i.mosaic_fif,
--                            output_dir = "out" }
--   t.outlier_maps            -- { "out/Outlier-mosaic/interp_<b>_outlier.fits", ... }
--   t.lists.outlier_maps      -- "out/Outlier-mosaic/outlier_ImageList.txt"
--
-- At every grid pixel the stack is the usable values of the interpolated
-- images there; M = median, sigma = MAD/0.6745, floored by the smallest
-- interpolated uncertainty (and equal to it below MIN_PIX_NUM values). A
-- value below M - BOTTOM sigma or above M + TOP sigma keeps (I - M)/sigma in
-- its frame's map; other usable pixels are 0, unusable ones NaN. With both
-- thresholds 0 (the default) every value other than M is kept and Mosaic
-- RMask decides (000 l.3258-3262). THRESH_OPTION 2 is accepted with a
-- warning and computed as 1 (mosaic.md 5.6.14). Tiles (TILE_XSIZ/YSIZ) only
-- bound the memory: the maps are the same for any tile size and thread count.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local COV = require "mopex.modules.coverage"

local function core() return require("mopex").core end

local sh = COV.shared
local function nonneg(v) if v >= 0 then return true end return false, "must be >= 0" end
local function positive(v) if v >= 1 then return true end return false, "must be >= 1" end

-- TILE_XSIZ/TILE_YSIZ of the three stack modules (Outlier, Box, Dual).
local tile_x = S.param { "tile_size_x", type = "int", key = "TILE_XSIZ", default = 500, unit = "pixels",
  check = positive, doc = "processing tile width (memory only: results do not depend on it)" }
local tile_y = S.param { "tile_size_y", type = "int", key = "TILE_YSIZ", default = 500, unit = "pixels",
  check = positive, doc = "processing tile height" }

-- Which interpolated pixels enter the stacks (shared with Box Outlier; not a
-- classic key: algorithms.md 13.3 leaves it open).
local min_cover = S.param { "min_cover", type = "number", default = 0.5, min = 0, max = 1,
  doc = "an interpolated pixel enters the stack only when its coverage is >= this: a pixel only "
    .. "partly covered by its frame (frame edge, next to a masked pixel) holds the mean of the "
    .. "covered part, which on a star's core is not comparable with full pixels; 0 = any coverage" }

local params = {
  sh.interp_images, sh.interp_coverages, sh.interp_sigmas, sh.mosaic_fif, P.output_dir,
  S.outdir { key = "OUTLIER_DIR", mosaic = "Outlier-mosaic" },
  S.param { "bottom_threshold", type = "number", key = "BOTTOM_THRESHOLD", default = 0, unit = "sigma",
    check = nonneg, doc = "low-side envelope M - BOTTOM sigma (0: keep every deviation, RMask decides; "
      .. "the guide's example uses 3)" },
  S.param { "top_threshold", type = "number", key = "TOP_THRESHOLD", default = 0, unit = "sigma",
    check = nonneg, doc = "high-side envelope M + TOP sigma (0: keep every deviation, RMask decides)" },
  S.param { "thresh_option", type = "int", key = "THRESH_OPTION", default = 1, min = 1, max = 2,
    doc = "sigma estimator: 1 median/MAD; 2 (undocumented, discouraged) is warned about and computed as 1" },
  S.param { "min_pix_num", type = "int", key = "MIN_PIX_NUM", default = 3, min = 0,
    doc = "smaller stacks take sigma = the smallest uncertainty (no test without uncertainties)" },
  tile_x, tile_y, min_cover, COV.shared.memory_mb,
  S.param { "median", type = "enum", values = { "upper", "average" }, default = "upper",
    doc = "median of an even stack: upper middle value (MOPEX) or the mean of the two; not a classic key" },
}

local function run(o)
  local where = "mopex.outlier"
  local images, covs, sigs = sh.stack(o, where, true)
  local fif = sh.fif_path(o, where)
  local dir = IO.outdir(o, o.out_dir)
  local r = core().mosaic_outlier {
    images = images, coverages = covs, sigmas = sigs, fif = fif, out_dir = dir,
    bottom = o.bottom_threshold, top = o.top_threshold, thresh_option = o.thresh_option,
    min_pix_num = o.min_pix_num, median = o.median, tile_x = o.tile_size_x, tile_y = o.tile_size_y,
    min_cover = o.min_cover,
    memory_mb = o.memory_mb,
  }
  return { outlier_maps = r.outputs, lists = { outlier_maps = r.list },
           outlier_stats = { flagged = r.flagged, pixels = r.pixels, max = r.max, ntiles = r.ntiles } }
end

return S.module {
  name = "outlier",
  title = "Mosaic Outlier",
  doc = "Multiframe temporal outliers: interp_<b>_outlier.fits with (I - M)/sigma where flagged, 0 "
    .. "elsewhere, NaN off the frame; outlier_ImageList.txt (000 l.3175-3262, l.7818-7897). "
    .. "Returns { outlier_maps =, lists = { outlier_maps = }, outlier_stats = }.",
  pipelines = { "mosaic" },
  block = "MOSAICOUTLIERIN",
  triggers = { "run_mosaic_outlier" },
  params = params,
  run = run,
  tile_x = tile_x,
  tile_y = tile_y,
  min_cover = min_cover,
}
