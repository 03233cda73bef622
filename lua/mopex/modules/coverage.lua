-- mopex.coverage: Mosaic Coverage (000 l.2974-3019, mosaic.md 5.6.11): the
-- preliminary coverage map of the first-pass stack, for Mosaic RMask's
-- coverage gates (MIN_COVERAGE, MAX_COVERAGE, BOX_MIN_COVERAGE).
--
--   local c = mopex.coverage{ interp_coverages = interp.coverages,
--                             mosaic_fif = "out/mosaic_fif.tbl", output_dir = "out" }
--   c.coverage_map           -- "out/covg_map.fits" (the whole grid)
--   c.coverage_tiles         -- { "out/Rmask-mosaic/covg_Tile_001.fits", ... }
--   c.lists.coverage_tiles   -- "out/Rmask-mosaic/covg_TilesList.tbl"
--
-- Coverage at a grid pixel = the sum of the finite positive values of the
-- interpolated coverage maps there (0 where no frame lies). The grid is tiled
-- with the guide's rule from TILEMAX_X/TILEMAX_Y (memory only: the map does
-- not depend on it). Also the home of the parameters the outlier modules
-- share (`M.shared`): the stack inputs and RMASK_DIR.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local C = require "mopex.modules.coadd"

local function core() return require("mopex").core end

-- The interpolated stack and the grid are products of Mosaic Interpolate:
-- the CoAdder's definitions, taken by the outlier modules from the
-- pipeline's current values (input = true), never from a namelist key.
local function as_input(p)
  local q = {}
  for k, v in pairs(p) do q[k] = v end
  q.input = true
  return S.param(q)
end

local shared = {
  interp_images = as_input(C.shared.interp_images),
  interp_coverages = as_input(C.shared.interp_coverages),
  interp_sigmas = as_input(C.shared.interp_sigmas),
  mosaic_fif = as_input(C.shared.mosaic_fif),
  rmask_dir = S.outdir { key = "RMASK_DIR", mosaic = "Rmask-mosaic",
    doc = "Mosaic RMask's directory (the guide's GUI text says RmaskMosaic-mosaic): RMasks, "
      .. "coverage tiles, the RMask mosaic (relative paths are under output_dir)" },
  fif_path = C.shared.fif_path,
  -- the CoAdder's memory budget (MB of stack pixels, all threads), used the same way
  memory_mb = C.shared.memory_mb,
}

local function positive(v) if v >= 1 then return true end return false, "must be >= 1" end

--- Resolve the interpolated stack of a module's options: images plus the
--- parallel coverage and uncertainty lists (same length, each path exists).
function shared.stack(o, where, need_images)
  local images, idesc = IO.paths(o.interp_images, "interpolated image list")
  if need_images and (not images or #images == 0) then
    error(where .. ": no interpolated images (interp_images): run mopex.interpolate first", 0)
  end
  local covs, sigs
  if images then
    covs = C.shared.parallel(o.interp_coverages, "coverage list", images, idesc)
    sigs = C.shared.parallel(o.interp_sigmas, "uncertainty list", images, idesc)
  end
  return images, covs, sigs
end

local params = {
  shared.interp_coverages, shared.mosaic_fif, P.output_dir, shared.rmask_dir,
  S.param { "tile_max_x", type = "int", key = "TILEMAX_X", default = 2000, unit = "pixels", check = positive,
    doc = "suggested tile width (the guide's text default; its example uses 500); memory only" },
  S.param { "tile_max_y", type = "int", key = "TILEMAX_Y", default = 2000, unit = "pixels", check = positive,
    doc = "suggested tile height" },
}

local function run(o)
  local where = "mopex.coverage"
  local covs = IO.paths(o.interp_coverages, "coverage list")
  if not covs or #covs == 0 then
    error(where .. ": no interpolated coverage maps (interp_coverages): run mopex.interpolate first", 0)
  end
  local fif = shared.fif_path(o, where)
  local top = IO.outdir(o)
  local dir = IO.outdir(o, o.out_dir)
  local r = core().mosaic_coverage {
    coverages = covs, fif = fif, tile_x = o.tile_max_x, tile_y = o.tile_max_y, out_dir = dir,
    covg_map = IO.join(top, "covg_map.fits"),
  }
  return { coverage_map = r.covg_map, coverage_tiles = r.tiles, lists = { coverage_tiles = r.table },
           coverage_max = r.max }
end

return S.module {
  name = "coverage",
  title = "Mosaic Coverage",
  doc = "Preliminary coverage map of the interpolated stack for Mosaic RMask: covg_map.fits in "
    .. "output_dir, covg_Tile_NNN.fits and covg_TilesList.tbl in RMASK_DIR (000 l.2974-3019). "
    .. "Returns { coverage_map =, coverage_tiles =, lists = { coverage_tiles = }, coverage_max = }.",
  pipelines = { "mosaic" },
  block = "MOSAICCOVGIN",
  triggers = { "run_mosaic_covg" },
  params = params,
  run = run,
  shared = shared,
}
