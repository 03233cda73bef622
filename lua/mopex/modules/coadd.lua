-- mopex.coadd: Mosaic CoAdder (mosaic.md 5.6.19, apex.md 3.4; 000 l.3615-3797,
-- l.5197-5323; tiling l.7693-7734).
--
--   local i = mopex.interpolate{ images = "cbcd.lst", sigmas = "cbunc.lst", output_dir = "out" }
--   local t = mopex.coadd{ interp_images = i.images, interp_coverages = i.coverages,
--                          interp_sigmas = i.sigmas, mosaic_fif = i.mosaic_fif, output_dir = "out" }
--   mopex.combine{ output_dir = "out" }
--
-- Co-adds the interpolated stack tile by tile (straight average by default,
-- exposure-time or inverse-variance weighting, std, median, absolute minimum
-- and outlier mosaics; formulas in core/include/mopex/mx_coadd.h) into
-- Coadd-mosaic/coadd_Tile_NNN_{Image,Cov,Unc,Std_Unc,Time}.fits with
-- coadd_tile_bcd.txt and coadd_tiles.tbl. Mosaic Combine stitches the tiles.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

-- Parameters that Mosaic Combine, Quicklook and Mosaic MedFilter share with
-- the CoAdder (defined once here; those modules take them from `shared`).
local shared = {
  interp_images = S.param { "interp_images", type = "list", scope = "global", input = true,
    doc = "interpolated images interp_<b>.fits (list file or array): Mosaic Interpolate's `images`" },
  interp_coverages = S.param { "interp_coverages", type = "list", scope = "global", input = true,
    doc = "their coverage maps (Interpolate's `coverages`, or Fix Coverage's fixed_covg_<b>.fits); unset: 1" },
  interp_sigmas = S.param { "interp_sigmas", type = "list", scope = "global", input = true,
    doc = "their uncertainty images (Interpolate's `sigmas`); unset: no uncertainty mosaic" },
  mosaic_fif = S.param { "mosaic_fif", type = "path", scope = "global", input = true,
    doc = "the output grid (unset: <output_dir>/mosaic_fif.tbl, written by Mosaic Interpolate)" },
  outlier_dir = S.param { "outlier_dir", type = "path", key = "OUTLIER_DIR", scope = "global",
    default = "Outlier-mosaic",
    doc = "where the outlier mosaic's tiles, tile_bcd.txt and tiles.tbl go (under output_dir)" },
  dual_outlier_dir = S.param { "dual_outlier_dir", type = "path", key = "DUAL_OUTLIER_DIR", scope = "global",
    default = "DualOutlier-mosaic",
    doc = "where the dual outlier mosaic's tiles, tile_bcd.txt and tiles.tbl go (under output_dir)" },
  memory_mb = S.param { "memory_mb", type = "number", min = 0, default = 32, unit = "MB",
    doc = "stack pixels and sums held at once over all threads; tiles beyond it are done in bands of rows "
      .. "(0: whole tiles). Bands cost no extra reads, so a small budget keeps the peak memory flat in the "
      .. "number of frames (bench/mosaic_bench.lua, whole run: 48 MB at 200 frames, 49 MB at 1000)" },
}

--- The grid: mosaic_fif, else <output_dir>/mosaic_fif.tbl; must exist.
function shared.fif_path(o, where)
  local fif = o.mosaic_fif or IO.join(o.output_dir or ".", "mosaic_fif.tbl")
  if not IO.exists(fif) then
    error(string.format("%s: the mosaic grid '%s' does not exist (run mopex.interpolate first, or give "
      .. "mosaic_fif)", where, fif), 0)
  end
  return fif
end

--- A list option parallel to the images: nil, or an array of #images paths.
function shared.parallel(v, role, images, idesc)
  if v == nil then return nil end
  local l, desc = IO.paths(v, role)
  if #l ~= #images then
    error(string.format("%s has %d entries, %s has %d", desc, #l, idesc, #images), 0)
  end
  return l
end

--- Directory under output_dir (an absolute path stands alone); not created.
function shared.under(o, sub)
  return IO.join(o.output_dir or ".", sub)
end

--- Paths of the tiles of one product token for ntiles tiles in dir.
function shared.tile_paths(dir, token, ntiles)
  local t = {}
  for id = 1, ntiles do t[id] = IO.join(dir, core().coadd_tile_name(token, id)) end
  return t
end

local TOKEN_KEY = {
  Image = "image", Cov = "coverage", Unc = "uncertainty", Std_Unc = "std", Time = "time",
  Median = "median", Outlier = "outlier", DualOutlier = "dual_outlier",
}
shared.TOKEN_KEY = TOKEN_KEY

local params = {
  shared.interp_images, shared.interp_coverages, shared.interp_sigmas,
  S.param { "outlier_maps", type = "list", scope = "global", input = true,
    doc = "temporal outlier maps of the stack (Mosaic Outlier's `outlier_maps`), for the outlier mosaic" },
  S.param { "dual_maps", type = "list", scope = "global", input = true,
    doc = "Level's (else Mosaic Dual Outlier's) `dual_maps` of the stack, for the dual outlier mosaic" },
  shared.mosaic_fif, P.output_dir,
  S.param { "out_dir", type = "path", key = "COADDER_DIR", scope = "global", default = "Coadd-mosaic",
    defaults = { apex = "Coadd-apex" }, doc = "output directory of the tiles and tables (under output_dir)" },
  shared.outlier_dir, shared.dual_outlier_dir,
  S.param { "tilemax_x", type = "int", key = "TILEMAX_X", min = 1, default = 1000, unit = "pixels",
    doc = "suggested tile width (guide's tiling rule, 000 l.7716-7729)" },
  S.param { "tilemax_y", type = "int", key = "TILEMAX_Y", min = 1, default = 1000, unit = "pixels",
    doc = "suggested tile height" },
  S.param { "time_keyword", type = "string", key = "INTEG_TIME_KWD",
    doc = "weight by this header keyword (e.g. EXPTIME): w = c T; unset = straight average" },
  S.param { "use_time_keyword", type = "bool", key = "USE_INT_TIME_KWD",
    doc = "GUI-exported switch: 0 turns time weighting off even with INTEG_TIME_KWD set; "
      .. "1 without INTEG_TIME_KWD weights by EXPTIME (the GUI default)" },
  S.param { "sigma_weighted", type = "bool", key = "sigma_weighted_coadd", scope = "global", default = false,
    doc = "inverse-variance weights w = c / sigma^2, U = 1/sqrt(sum w) (not recommended with sources)" },
  S.param { "create_unc", type = "bool", key = "create_unc_mosaic", scope = "global", default = true,
    doc = "uncertainty tiles/mosaic U = sqrt(sum w^2 sigma^2) / sum w (when uncertainties are given)" },
  S.param { "create_std", type = "bool", key = "create_std_mosaic", scope = "global", default = false,
    doc = "standard-deviation tiles (Std_Unc) and mosaic_std.fits: sqrt(sum cT (I-O)^2 / sum cT)" },
  S.param { "create_outlier", type = "bool", key = "create_outlier_mosaic", scope = "global", default = true,
    doc = "outlier mosaic from outlier_maps (when given): straight average with the same coverages" },
  S.param { "create_dual_outlier", type = "bool", key = "create_dual_outlier_mosaic", scope = "global",
    default = true, doc = "dual outlier mosaic from dual_maps (when given)" },
  S.param { "median", type = "bool", key = "run_median_mosaic", scope = "global", default = false,
    doc = "median mosaic (unweighted upper median; flux not conserved) with its own tiles and tables" },
  S.param { "absolute_minimum", type = "bool", key = "run_absolute_minimum_mosaic", scope = "global",
    default = false,
    doc = "mosaic = stack value of smallest |I|, uncertainty = its sigma (replaces mosaic.fits, mosaic_unc.fits)" },
  shared.memory_mb,
}

local function run(o)
  local where = "mopex.coadd"
  local images, idesc = IO.paths(o.interp_images, "interpolated image list")
  if not images or #images == 0 then error(where .. ": no interpolated images (interp_images)", 0) end
  local covs = shared.parallel(o.interp_coverages, "coverage list", images, idesc)
  local sigs = shared.parallel(o.interp_sigmas, "uncertainty list", images, idesc)
  local outl = shared.parallel(o.outlier_maps, "outlier map list", images, idesc)
  local dual = shared.parallel(o.dual_maps, "dual outlier map list", images, idesc)
  local fif = shared.fif_path(o, where)
  local dir = IO.outdir(o, o.out_dir)
  local tk = o.time_keyword
  if tk == "" then tk = nil end
  if o.use_time_keyword == false then tk = nil elseif o.use_time_keyword and not tk then tk = "EXPTIME" end
  local odir = shared.under(o, o.outlier_dir)
  local ddir = shared.under(o, o.dual_outlier_dir)
  local r = core().coadd {
    images = images, coverages = covs, sigmas = sigs, outliers = outl, dual_outliers = dual,
    fif = fif, out_dir = dir, outlier_dir = odir, dual_outlier_dir = ddir,
    tilemax_x = o.tilemax_x, tilemax_y = o.tilemax_y, time_keyword = tk,
    sigma_weighted = o.sigma_weighted, create_unc = o.create_unc, create_std = o.create_std,
    create_median = o.median, absolute_minimum = o.absolute_minimum,
    create_outlier = o.create_outlier, create_dual_outlier = o.create_dual_outlier,
    memory_mb = o.memory_mb, program = "mosaic_coadder",
  }
  local tiles = {}
  local has = {}
  for _, tok in ipairs(r.products) do
    has[tok] = true
    local d = (tok == "Outlier" and odir) or (tok == "DualOutlier" and ddir) or dir
    tiles[TOKEN_KEY[tok]] = shared.tile_paths(d, tok, r.ntiles)
  end
  return {
    coadd_path = dir,     -- the directory itself (Combine's coadd_dir is relative to output_dir)
    tiles = tiles.image,
    tile_products = tiles,
    tiles_table = IO.join(dir, "coadd_tiles.tbl"),
    tile_bcd = IO.join(dir, "coadd_tile_bcd.txt"),
    median_tiles_table = has.Median and IO.join(dir, "coadd_median_tiles.tbl") or nil,
    outlier_tiles_table = has.Outlier and IO.join(odir, "tiles.tbl") or nil,
    dual_outlier_tiles_table = has.DualOutlier and IO.join(ddir, "tiles.tbl") or nil,
    ntiles = r.ntiles,
    coadd_seconds = r.seconds,
  }
end

return S.module {
  name = "coadd",
  title = "Mosaic CoAdder",
  doc = "Co-add the interpolated stack tile by tile (straight average, exposure-time or sigma weighting; "
    .. "uncertainty, std, median, absolute-minimum and outlier tiles).",
  pipelines = { "mosaic", "apex" },
  block = "MOSAICCOADDIN",
  triggers = { "run_mosaic_coadder" },
  params = params,
  shared = shared,
  run = run,
}
