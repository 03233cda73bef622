-- mopex.box_outlier: Mosaic Box Outlier (000 l.3263-3345, l.8042-8156;
-- mosaic.md 5.6.15, algorithms.md 2.4, oracle O-3).
--
--   local b = mopex.box_outlier{ interp_images = i.images, interp_coverages = i.coverages,
--                                interp_sigmas = i.sigmas, mosaic_fif = i.mosaic_fif,
--                                output_dir = "out" }
--   b.box_outlier_maps        -- { "out/BoxOutlier-mosaic/interp_<b>_box_outlier.fits", ... }
--   b.lists.box_outlier_maps  -- "out/BoxOutlier-mosaic/box_outlier_ImageList.txt"
--
-- At every grid pixel the box stack holds every usable value of the images
-- of the stack in the BOX_X x BOX_Y window around it (clipped at each
-- image's edge; an even size runs from p - B/2 to p + B/2 - 1). With the
-- biased index i = N/2 - BOX_MEDIAN_BIAS (clamped), M = sorted(box)[i] and
-- sigma = sorted(|box - M|)[i] / 0.6745; when no value of the pixel's own
-- stack lies within M +- sigma the temporal median/MAD of that stack (with
-- the uncertainty floor) is used instead. Every usable pixel gets (I - M) /
-- sigma; thresholds are applied by Mosaic RMask (BOX_BOTTOM/TOP_THRESHOLD).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local COV = require "mopex.modules.coverage"
local OUT = require "mopex.modules.outlier"

local function core() return require("mopex").core end

local sh = COV.shared
local function positive(v) if v >= 1 then return true end return false, "must be >= 1" end

local params = {
  sh.interp_images, sh.interp_coverages, sh.interp_sigmas, sh.mosaic_fif, P.output_dir,
  S.outdir { key = "BOX_OUTLIER_DIR", mosaic = "BoxOutlier-mosaic" },
  S.param { "box_x", type = "int", key = "BOX_X", default = 3, unit = "pixels", check = positive,
    doc = "box width in grid pixels" },
  S.param { "box_y", type = "int", key = "BOX_Y", default = 3, unit = "pixels", check = positive,
    doc = "box height in grid pixels" },
  S.param { "box_median_bias", type = "number", key = "BOX_MEDIAN_BIAS", default = 1,
    doc = "index shift of the biased median sorted[N/2 - bias] (a float in the guide, used as an "
      .. "integer: the fraction is dropped)" },
  OUT.tile_x, OUT.tile_y, OUT.min_cover, COV.shared.memory_mb,
}

local function run(o)
  local where = "mopex.box_outlier"
  local images, covs, sigs = sh.stack(o, where, true)
  local fif = sh.fif_path(o, where)
  local dir = IO.outdir(o, o.out_dir)
  local b = o.box_median_bias
  local bias = math.tointeger(b >= 0 and math.floor(b) or math.ceil(b))
  local r = core().mosaic_box_outlier {
    images = images, coverages = covs, sigmas = sigs, fif = fif, out_dir = dir,
    box_x = o.box_x, box_y = o.box_y, bias = bias, tile_x = o.tile_size_x, tile_y = o.tile_size_y,
    min_cover = o.min_cover,
    memory_mb = o.memory_mb,
  }
  return { box_outlier_maps = r.outputs, lists = { box_outlier_maps = r.list },
           box_outlier_stats = { above10 = r.flagged, pixels = r.pixels, fallback = r.fallback,
                                 max = r.max, ntiles = r.ntiles } }
end

return S.module {
  name = "box_outlier",
  title = "Mosaic Box Outlier",
  doc = "Box (spatial + temporal) outliers: interp_<b>_box_outlier.fits with (I - M)/sigma of the "
    .. "biased box statistics for every usable pixel; box_outlier_ImageList.txt (000 l.3263-3345, "
    .. "l.8042-8156). Returns { box_outlier_maps =, lists = { box_outlier_maps = }, box_outlier_stats = }.",
  pipelines = { "mosaic" },
  block = "MOSAICBOXOUTLIERIN",
  triggers = { "run_mosaic_box_outlier" },
  params = params,
  run = run,
}
