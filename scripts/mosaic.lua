-- mosaic.lua - the Mosaic pipeline (classic mosaic.pl; shared/spec/mosaic.md).
--
--   mopexlua mosaic.lua -I images.lst [-S sigmas.lst] [-d|-D dmasks.lst] [-M pmask.fits]
--                       [-R rmasks.lst] [-F FIF.tbl] [-O outdir] [-n namelist.nl]
--                       [--set NAME=VALUE]...
--
-- Without -n the built-in configuration runs: the basic mosaic (Fiducial Image Frame,
-- Mosaic Interpolate, Mosaic CoAdder, Mosaic Combine, with the uncertainty mosaic when
-- sigmas are given); `--set run_mosaic_outlier=1` (any trigger, classic key, BLOCK.KEY,
-- Lua option name or module.option) changes it. Its namelist text is copied into the
-- output directory like a real one. mosaic.pl -n x.nl ... (a link to mopexlua) loads
-- this file through namelist-compat/classic.lua and calls run(cfg).
--
-- run(cfg) runs the planned steps of the configuration (namelist-compat/config.lua:
-- the switched-on modules in order, plus mosaic.md 1.4: a Default first pass and a
-- Drizzle second pass of Mosaic Interpolate around outlier detection, a full
-- re-interpolation instead of Mosaic Reinterpolate with Grid/Drizzle), chaining the
-- products through mopex.flow (Fix Coverage's coverages feed the CoAdder), and adds
-- what no module does: Make Array Correction Mosaic, and delete_intermediate_files.
local name, path = ...

local function run_as_script(argv)
  local classic = require "classic"
  return classic.main("mosaic", argv, { default_namelist = true })
end

if name ~= "mosaic" then
  -- `mopexlua mosaic.lua ...`: the chunk's arguments are the command line
  local argv = { ... }
  if #argv == 0 and type(arg) == "table" then
    for i = 1, #arg do argv[i] = arg[i] end
  end
  os.exit(run_as_script(argv))
end

local mopex = require "mopex"
local R = require "pipeline_runner"

-- Products that stay after delete_intermediate_files (mosaic.md 1.5); the CoAdder's
-- tiles too when keep_coadded_tiles = 1 (added in run).
local FINAL = {
  fiducial_frame = "*", mosaic_geometry = "*", combine = "*", mosaic_medfilter = "*",
  rmask_mosaic = "*", array_corr_mosaic = "*",
  interpolate = { "mosaic_fif" }, reinterpolate = { "mosaic_fif" },
  coverage = { "coverage_map" }, rmask = { "rmasks", "lists" },
}

-- The interpolated stack of a Mosaic Interpolate result (the agreed product keys, or
-- the older images/coverages/sigmas of the same files).
local function interp_stack(r)
  return r.interp_images or r.images, r.interp_coverages or r.coverages, r.interp_sigmas or r.sigmas
end

local function last_step(cfg, module_name)
  local found
  for _, st in ipairs(cfg.steps) do if st.name == module_name then found = st end end
  return found
end

-- Make Array Correction Mosaic (mosaic.md 5.6.24): the corr_<b>.fits frames of Make
-- Array Correction Files, interpolated like the science frames (same method, masks
-- and grid), co-added with the straight average, written as
-- Combine-mosaic/mosaic_arraycorr.fits on the science mosaic's grid.
local function array_corr_mosaic(cur, step, cfg)
  local top = cur.output_dir or "."
  local corr_dir = cfg:dir("ARRAY_CORR_DIR", "Array_Corr_Data")
  local corr = cur.array_corr
  if corr == nil then
    local list = mopex.path_join(corr_dir, "corr_ImageList.txt")
    if not mopex.file_exists(list) then
      error(string.format("Make Array Correction Mosaic needs the correction frames: switch on "
        .. "make_array_corr_files = 1 or keep %s from an earlier run", list), 0)
    end
    corr = list
  end
  local interp_step = last_step(cfg, "interpolate")
  local io_ = interp_step and interp_step.opts or {}
  local work = mopex.path_join(corr_dir, "Mosaic")
  local r = mopex.interpolate {
    pipeline = "mosaic", images = corr, dce_masks = cur.dce_masks, dce_fatal = cur.dce_fatal,
    pmask = cur.pmask, pmask_fatal = cur.pmask_fatal, rmasks = cur.rmasks,
    rmask_fatal = cur.rmask_fatal, fif = cur.fif, output_dir = top,
    pixel_size_x = cur.pixel_size_x, pixel_size_y = cur.pixel_size_y,
    pixel_ratio_x = cur.pixel_ratio_x, pixel_ratio_y = cur.pixel_ratio_y,
    method = io_.method, fineres = io_.fineres, driz_fac = io_.driz_fac,
    grid_ratio = io_.grid_ratio, alpha = io_.alpha,
    out_dir = mopex.path_join(work, "Interp"),
  }
  local imgs, covs = interp_stack(r)
  local coadd_step = last_step(cfg, "coadd")
  local co = coadd_step and coadd_step.opts or {}
  local coadd_dir = mopex.path_join(work, "Coadd")
  mopex.coadd {
    pipeline = "mosaic", interp_images = imgs, interp_coverages = covs,
    mosaic_fif = r.mosaic_fif or mopex.path_join(top, "mosaic_fif.tbl"), output_dir = top,
    out_dir = coadd_dir, tilemax_x = co.tilemax_x, tilemax_y = co.tilemax_y,
    use_time_keyword = false, sigma_weighted = false, create_unc = false, create_std = false,
    median = false, absolute_minimum = false,
  }
  local comb = mopex.combine {
    pipeline = "mosaic", output_dir = top, coadd_dir = coadd_dir,
    out_dir = mopex.path_join(work, "Combine"),
    mosaic_fif = r.mosaic_fif or mopex.path_join(top, "mosaic_fif.tbl"),
  }
  local combine_step = last_step(cfg, "combine")
  local cdir = (combine_step and combine_step.opts.out_dir) or cfg:get("COMBINER_DIR") or "Combine-mosaic"
  cdir = mopex.path_join(top, cdir)
  mopex.mkdir_p(cdir)
  local final = mopex.path_join(cdir, "mosaic_arraycorr.fits")
  local ok, err = os.rename(comb.mosaic, final)
  if not ok then error("cannot move " .. comb.mosaic .. " to " .. final .. ": " .. tostring(err), 0) end
  if cfg:get("delete_array_corr_intermediate_files") == true then
    R.delete_intermediate(cfg, { { name = "interpolate", products = r } }, {}, { final })
    os.execute("rm -rf -- '" .. corr_dir:gsub("'", "'\\''") .. "'")
  end
  return { array_corr_mosaic = final, array_corr_interp = imgs }
end

--- Run a configuration (config.configure("mosaic", ...)). ropts (optional): quiet,
--- log (file handle for the step lines). Returns the final current values.
local function run(cfg, ropts)
  ropts = ropts or {}
  local final = {}
  for k, v in pairs(FINAL) do final[k] = v end
  local keep_tiles = cfg:get("keep_coadded_tiles")
  if keep_tiles == nil or keep_tiles == true then final.coadd = "*" end
  local cur = R.run(cfg, {
    handlers = { array_corr_mosaic = array_corr_mosaic },
    final = final, quiet = ropts.quiet, log = ropts.log,
  })
  if not ropts.quiet and cur.mosaic then
    local h = mopex.read_header(cur.mosaic)
    io.stderr:write(string.format("mosaic.lua: %s (%d x %d) in %.1f s\n", cur.mosaic, h.nx, h.ny,
      cur.seconds))
  end
  return cur
end

return { run = run, array_corr_mosaic = array_corr_mosaic }
