-- mopex.rmask_mosaic: Create RMask Mosaic (000 l.3950-3986, mosaic.md
-- 5.6.22): a picture of where outliers were found.
--
--   local m = mopex.rmask_mosaic{ rmasks = r.rmasks, mosaic_fif = "out/mosaic_fif.tbl",
--                                 output_dir = "out" }
--   m.rmask_mosaic     -- "out/Rmask-mosaic/mosaic.fits"
--
-- Each RMask is interpolated as an ordinary float image (no masking) onto
-- the mosaic grid by Mosaic Interpolate's code (into Rmask-mosaic/Interp-rmask/)
-- and co-added with the straight average by the CoAdder's code (tiles in
-- Rmask-mosaic/Coadd-rmask/), then pasted into Rmask-mosaic/mosaic.fits:
-- bit values are averaged as numbers, so the bits are lost. Nothing is
-- written outside RMASK_DIR (Combine-mosaic/mosaic.fits is never touched).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local COV = require "mopex.modules.coverage"
local I = require "mopex.modules.interpolate"

local function core() return require("mopex").core end

local sh = COV.shared
local function positive(v) if v >= 1 then return true end return false, "must be >= 1" end

local params = {
  P.rmasks, sh.mosaic_fif, P.output_dir, sh.rmask_dir,
  I.by_name.method, I.by_name.fineres, I.by_name.driz_fac, I.by_name.grid_ratio, I.by_name.alpha,
  S.param { "tile_max_x", type = "int", default = 1000, unit = "pixels", check = positive,
    doc = "co-addition tile width (memory only); not a classic key" },
  S.param { "tile_max_y", type = "int", default = 1000, unit = "pixels", check = positive,
    doc = "co-addition tile height" },
}

local function run(o)
  local where = "mopex.rmask_mosaic"
  local rm = IO.paths(o.rmasks, "RMask list")
  if not rm or #rm == 0 then
    error(where .. ": no RMasks (rmasks): run mopex.rmask (Mosaic RMask) first", 0)
  end
  local fif = sh.fif_path(o, where)
  local path = core().rmask_mosaic {
    rmasks = rm, fif = fif, out_dir = IO.outdir(o, o.out_dir), method = o.method, fineres = o.fineres,
    driz_fac = o.driz_fac, grid_ratio = o.grid_ratio, alpha = o.alpha,
    tile_x = o.tile_max_x, tile_y = o.tile_max_y,
  }
  return { rmask_mosaic = path }
end

return S.module {
  name = "rmask_mosaic",
  title = "Create RMask Mosaic",
  doc = "Mosaic of the RMasks as plain images (interpolated, straight average; bits lost): "
    .. "Rmask-mosaic/mosaic.fits (000 l.3950-3986). Returns { rmask_mosaic = }.",
  pipelines = { "mosaic" },
  triggers = { "create_rmask_mosaic" },
  params = params,
  run = run,
}
