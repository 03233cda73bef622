-- mopex.dual_outlier: Mosaic Dual Outlier, the multiframe comparison of the
-- projected detection maps (000 l.3020-3091, l.7950-7984; mosaic.md 5.6.12,
-- algorithms.md 2.3(c), oracle O-4).
--
--   local d = mopex.dual_outlier{ proj_detmaps = p.proj_detmaps,
--                                 mosaic_fif = "out/mosaic_fif.tbl", output_dir = "out" }
--   d.dual_maps               -- { "out/DualOutlier-mosaic/proj_<b>_detmap_dual_outlier.fits", ... }
--   d.lists.dual_maps         -- "out/DualOutlier-mosaic/dual_outlier_ImageList.txt"
--
-- At every grid pixel: N maps cover it (not NaN), n of them detect something
-- (> 0). When n >= 1, n <= MAX_OUTL_IMAGE and n/N <= MAX_OUTL_FRAC those
-- detections become negative: dual outliers; the rest is unchanged. Level
-- (mopex.level) then makes each cluster single-signed and replaces dual_maps.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local COV = require "mopex.modules.coverage"
local OUT = require "mopex.modules.outlier"

local function core() return require("mopex").core end

local sh = COV.shared

local params = {
  S.param { "proj_detmaps", type = "list", input = true,
    doc = "Mosaic Projection's proj_<b>_detmap.fits (list file or array)" },
  sh.mosaic_fif, P.output_dir,
  S.outdir { key = "DUAL_OUTLIER_DIR", mosaic = "DualOutlier-mosaic" },
  S.param { "max_outl_image", type = "int", key = "MAX_OUTL_IMAGE", default = 2, min = 0,
    doc = "most images a detection may appear in and still be a dual outlier" },
  S.param { "max_outl_frac", type = "number", key = "MAX_OUTL_FRAC", default = 0.95, min = 0, max = 1,
    doc = "largest fraction of the maps covering the pixel that may detect it" },
  OUT.tile_x, OUT.tile_y, COV.shared.memory_mb,
}

local function run(o)
  local where = "mopex.dual_outlier"
  local maps, desc = IO.paths(o.proj_detmaps, "projected detection map list")
  if not maps or #maps == 0 then
    error(where .. ": no projected detection maps (proj_detmaps): run mopex.detect and "
      .. "mopex.projection (Detect (Outlier), Mosaic Projection) first", 0)
  end
  local fif = sh.fif_path(o, where)
  local dir = IO.outdir(o, o.out_dir)
  local r = core().mosaic_dual_outlier {
    images = maps, fif = fif, out_dir = dir, max_image = o.max_outl_image, max_frac = o.max_outl_frac,
    tile_x = o.tile_size_x, tile_y = o.tile_size_y, memory_mb = o.memory_mb,
  }
  return { dual_maps = r.outputs, lists = { dual_maps = r.list },
           dual_stats = { negated = r.flagged, pixels = r.pixels, ntiles = r.ntiles, source = desc } }
end

return S.module {
  name = "dual_outlier",
  title = "Mosaic Dual Outlier",
  doc = "Dual (spatial + temporal) outliers: proj_<b>_detmap_dual_outlier.fits with detections seen "
    .. "in few maps made negative; dual_outlier_ImageList.txt (000 l.3020-3091, l.7950-7984). "
    .. "Returns { dual_maps =, lists = { dual_maps = }, dual_stats = }.",
  pipelines = { "mosaic" },
  block = "MOSAICDUALOUTLIERIN",
  triggers = { "run_mosaic_dual_outlier" },
  params = params,
  run = run,
}
