-- mopex.mosaic_medfilter: Mosaic MedFilter (mosaic.md 5.6.21; 000 l.3881-3949).
--
--   local mf = mopex.mosaic_medfilter{ output_dir = "out" }   -- after mopex.combine
--   print(mf.mosaic_minback)
--
-- Subtracts the MedFilter background (core/include/mopex/mx_medfilter.h:
-- running upper median of each window after dropping its highest
-- N_Outliers_Per_Window pixels, or SExtractor-like panels) from the final
-- mosaic; NaN pixels and pixels of zero coverage never enter the
-- statistics. Writes Combine-mosaic/mosaic_minback.fits.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local params = {
  P.output_dir,
  S.param { "out_dir", type = "path", key = "COMBINER_DIR", scope = "global", default = "Combine-mosaic",
    doc = "Mosaic Combine's directory: the mosaic is read from and mosaic_minback.fits written to it" },
  S.param { "mosaic", type = "path", scope = "global", input = true,
    doc = "the mosaic (Mosaic Combine's `mosaic`; unset: <out_dir>/mosaic.fits)" },
  S.param { "coverage", type = "path", scope = "global", input = true,
    doc = "its coverage map; pixels of zero coverage are excluded (unset: <out_dir>/mosaic_cov.fits when it exists)" },
  S.param { "window_x", type = "int", key = "Window_X", min = 1, default = 45, unit = "pixels",
    doc = "window (or panel) width" },
  S.param { "window_y", type = "int", key = "Window_Y", min = 1, default = 45, unit = "pixels",
    doc = "window (or panel) height" },
  S.param { "n_outliers", type = "int", key = "N_Outliers_Per_Window", min = 0, default = 500,
    doc = "highest pixels dropped from each window before the median" },
  S.param { "sbkg_filter_size", type = "int", key = "Sbkg_Filt_Size_for_Med", min = 0, default = 1,
    doc = "median filter of the panel grid in Sbkg mode (< 2: none)" },
  S.param { "use_sbkg", type = "bool", key = "Use_Sbkg_for_Med", default = false,
    doc = "SExtractor-like panel background instead of the running median" },
  S.param { "min_good", type = "int", key = "Min_Good_Pixels_In_Window", min = 0, default = 9,
    doc = "good pixels a window needs (not in the guide's block; MedFilter's default)" },
  S.param { "min_good_neighbors", type = "int", key = "Min_GoodNeighbors_Number", min = 0, default = 4,
    doc = "computed neighbours that fill a window with too few good pixels (MedFilter's default)" },
  S.param { "sbkg_interp", type = "enum", values = { "spline", "bilinear" }, default = "spline",
    doc = "interpolation between panel centres in Sbkg mode" },
  S.param { "median_average", type = "bool", default = false,
    doc = "average the two middle values instead of the MOPEX upper median" },
}

local function run(o)
  local dir = IO.outdir(o, o.out_dir)
  local mosaic = o.mosaic or IO.join(dir, "mosaic.fits")
  if not IO.exists(mosaic) then
    error(string.format("mopex.mosaic_medfilter: mosaic '%s' does not exist (run mopex.combine first)", mosaic), 0)
  end
  local cov = o.coverage
  if cov == nil and o.mosaic == nil then
    local c = IO.join(dir, "mosaic_cov.fits")
    if IO.exists(c) then cov = c end
  end
  local out = IO.join(dir, "mosaic_minback.fits")
  core().mosaic_medfilter {
    mosaic = mosaic, coverage = cov, out = out, window_x = o.window_x, window_y = o.window_y,
    n_outliers = o.n_outliers, min_good = o.min_good, min_good_neighbors = o.min_good_neighbors,
    use_sbkg = o.use_sbkg, sbkg_filter_size = o.sbkg_filter_size, sbkg_interp = o.sbkg_interp,
    median_average = o.median_average,
  }
  return { mosaic_minback = out }
end

return S.module {
  name = "mosaic_medfilter",
  title = "Mosaic MedFilter",
  doc = "Background-subtracted mosaic (mosaic_minback.fits) by the MedFilter running median or Sbkg panels.",
  pipelines = { "mosaic" },
  block = "MOSAIC_MEDFILTER",
  triggers = { "run_mosaic_medfilter" },
  params = params,
  run = run,
}
