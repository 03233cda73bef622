-- mopex.medfilter: background subtraction of every input frame, for Detect
-- Radhit and dual outlier detection (Mosaic) or bright-object detection
-- (Overlap) (000 l.1462-1543, l.2595-2679, APEX text l.5330-5440;
-- overlap.md 4.3.5, mosaic.md 5.6.6).
--
--   local m = mopex.medfilter{ images = "cbcd.lst", dce_masks = "bimsk.lst",
--                              output_dir = "out", pipeline = "mosaic" }
--   m.minback          -- { "out/Medfilter-mosaic/<b>_minback.fits", ... }, input order
--   m.lists.minback    -- "out/Medfilter-mosaic/medfilter_ImageList.txt"
--   m.nan_pixels, m.timings   -- per frame: NaN output pixels, seconds
--
-- Median mode (default): for every pixel the good pixels of the Window_X x
-- Window_Y window (truncated at the edges), the N_Outliers_Per_Window highest
-- dropped, the upper median of the rest (an exact sliding order statistic);
-- windows with too few good pixels are filled from the nearest computed
-- backgrounds. Sbkg mode (Use_Sbkg_for_Med = 1): SExtractor-like panels,
-- optional panel median filter, spline interpolation. Bad pixels (NaN, fatal
-- DCE/PMask bits) never enter a window and are NaN in the output. The
-- products are for detection only; they are never mosaicked, so they do not
-- replace the current image list (the flow gets them as `minback`).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local params = {
  P.images, P.dce_masks, P.dce_fatal, P.pmask, P.pmask_fatal, P.output_dir,
  S.param { "window_x", type = "int", key = "Window_X", default = 45, min = 1, unit = "pixels",
    doc = "window (Median) or panel (Sbkg) width in input pixels" },
  S.param { "window_y", type = "int", key = "Window_Y", default = 45, min = 1, unit = "pixels",
    doc = "window (Median) or panel (Sbkg) height in input pixels" },
  S.param { "n_outliers", type = "int", key = "N_Outliers_Per_Window", default = 50, min = 0,
    doc = "highest pixels dropped from each window before the median (Median mode only)" },
  S.param { "sbkg_filter_size", type = "int", key = "Sbkg_Filt_Size_for_Med", default = 1,
    defaults = { overlap = 3, mosaic = 1 }, min = 0,
    doc = "median filter of the Sbkg panel grid, in panels (< 2: none; limited to the smaller panel count)" },
  S.param { "use_sbkg", type = "bool", key = "Use_Sbkg_for_Med", default = false,
    doc = "true: SExtractor-like panel background (fast); false: running median (the text's default)" },
  S.param { "min_good", type = "int", key = "Min_Good_Pixels_In_Window", default = 9, min = 0,
    doc = "fewer good pixels in a window (or panel) make its background missing (APEX extra)" },
  S.param { "min_good_neighbors", type = "int", key = "Min_GoodNeighbors_Number",
    aliases = { "Min_GoodNeighbours_Number" }, default = 4, min = 0,
    doc = "computed backgrounds averaged to fill a missing one (nearest rings first; APEX extra)" },
  S.param { "max_bad_pixels", type = "int", key = "Max_Bad_Pixels_OutputImage",
    aliases = { "Max_BadPixels_OutputImage" }, default = 100,
    doc = "warn when an output has more NaN pixels than this (informational; < 0 never warns)" },
  S.param { "median_average", type = "bool", default = false,
    doc = "averaging median instead of MOPEX's upper median (algorithms.md 0); not a classic key" },
  S.param { "sbkg_interp", type = "enum", values = { "spline", "bilinear" }, default = "spline",
    doc = "interpolation between Sbkg panel centres (SExtractor: spline); not a classic key" },
  S.outdir { key = "MEDFILTER_DIR", mosaic = "Medfilter-mosaic", overlap = "Medfilter-overlap" },
}

local function run(o)
  local f = IO.frames { images = o.images, dce_masks = o.dce_masks }
  if o.pmask and not IO.exists(o.pmask) then
    error(string.format("mopex.medfilter: PMask '%s' does not exist (option 'pmask', PMASK_FILE_NAME)",
      o.pmask), 0)
  end
  local dir = IO.outdir(o, o.out_dir)
  local r = core().medfilter_files {
    images = f.images, dce_masks = f.dce_masks, pmask = o.pmask,
    dce_fatal = o.dce_fatal, pmask_fatal = o.pmask_fatal,
    window_x = o.window_x, window_y = o.window_y, n_outliers = o.n_outliers,
    min_good = o.min_good, min_good_neighbors = o.min_good_neighbors, use_sbkg = o.use_sbkg,
    sbkg_filter_size = o.sbkg_filter_size, sbkg_interp = o.sbkg_interp,
    median_average = o.median_average, max_bad_pixels = o.max_bad_pixels, out_dir = dir,
  }
  local nan, t = {}, {}
  for i, fr in ipairs(r.frames) do nan[i], t[i] = fr.nan_pixels, fr.seconds end
  return { minback = r.outputs, lists = { minback = r.list }, nan_pixels = nan, timings = t }
end

return S.module {
  name = "medfilter",
  title = "MedFilter",
  doc = "Background-subtracted copies of the input frames (<b>_minback.fits) for Detect Radhit, "
    .. "Detect and dual outlier detection (000 l.1462-1543, l.2595-2679). "
    .. "Returns { minback =, lists = { minback = }, nan_pixels =, timings = }.",
  pipelines = { "mosaic", "overlap" },
  block = "MEDFILTER",
  triggers = { "run_medfilter" },
  params = params,
  run = run,
}
