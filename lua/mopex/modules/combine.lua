-- mopex.combine: Mosaic Combine (mosaic.md 5.6.20; 000 l.3798-3880).
--
--   local m = mopex.combine{ output_dir = "out" }   -- after mopex.coadd
--   print(m.mosaic, m.coverage, m.uncertainty)
--
-- Stitches the CoAdder's tiles into Combine-mosaic/mosaic.fits,
-- mosaic_cov.fits and, as produced, mosaic_unc.fits, mosaic_std.fits,
-- median_mosaic.fits, mosaic_outlier.fits, mosaic_dual_outlier.fits, with
-- the mosaic_fif WCS and BUNIT. What to combine comes from the manifest
-- (the products keyword of Coadd-mosaic/coadd_tiles.tbl), so it runs from
-- the files on disk. Streaming: memory is one row of tiles, never the
-- mosaic. Must run even for a single tile (000 l.3807-3808).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local shared = require("mopex.modules.coadd").shared

local function core() return require("mopex").core end

local KEYS = {
  Image = "mosaic", Cov = "coverage", Unc = "uncertainty", Std_Unc = "std", Median = "median_mosaic",
  Outlier = "outlier_mosaic", DualOutlier = "dual_outlier_mosaic",
}
local FILES = {
  Image = "mosaic.fits", Cov = "mosaic_cov.fits", Unc = "mosaic_unc.fits", Std_Unc = "mosaic_std.fits",
  Median = "median_mosaic.fits", Outlier = "mosaic_outlier.fits", DualOutlier = "mosaic_dual_outlier.fits",
}

local params = {
  P.output_dir,
  S.param { "coadd_dir", type = "path", key = "COADDER_DIR", scope = "global",
    default = "Coadd-mosaic", defaults = { apex = "Coadd-apex" },
    doc = "the CoAdder's directory (coadd_tiles.tbl and the tiles; relative paths are under output_dir)" },
  S.param { "coadd_path", type = "path", scope = "global", input = true,
    doc = "the CoAdder's directory as mopex.coadd returns it (used as is; wins over coadd_dir)" },
  S.param { "out_dir", type = "path", key = "COMBINER_DIR", scope = "global", default = "Combine-mosaic",
    defaults = { apex = "Combine-apex" }, doc = "output directory of the mosaics (under output_dir)" },
  shared.mosaic_fif, shared.outlier_dir, shared.dual_outlier_dir,
  S.param { "keep_coadded_tiles", type = "bool", key = "keep_coadded_tiles", scope = "global", default = true,
    doc = "keep the tiles even with delete_intermediate_files (APEX needs them, 000 l.3646-3649)" },
  S.param { "delete_intermediate_files", type = "bool", default = false,
    doc = "delete the tiles after combining, unless keep_coadded_tiles (the classic setting of that name)" },
}

local function run(o)
  local where = "mopex.combine"
  local fif = shared.fif_path(o, where)
  local cdir = o.coadd_path or shared.under(o, o.coadd_dir)
  local out = IO.outdir(o, o.out_dir)
  local r = core().combine {
    coadd_dir = cdir, fif = fif, out_dir = out,
    outlier_dir = shared.under(o, o.outlier_dir), dual_outlier_dir = shared.under(o, o.dual_outlier_dir),
    delete_tiles = o.delete_intermediate_files and not o.keep_coadded_tiles,
  }
  local products = { combine_dir = out }
  for _, tok in ipairs(r.products) do products[KEYS[tok]] = IO.join(out, FILES[tok]) end
  return products
end

return S.module {
  name = "combine",
  title = "Mosaic Combine",
  doc = "Stitch the co-added tiles into mosaic.fits, mosaic_cov.fits, mosaic_unc.fits, mosaic_std.fits, "
    .. "median_mosaic.fits and the outlier mosaics (streaming, one row of tiles in memory).",
  pipelines = { "mosaic", "apex" },
  triggers = { "run_mosaic_combiner" },
  params = params,
  run = run,
}
