-- mopex.rmask: Mosaic RMask (000 l.3346-3506; mosaic.md 1.3, 5.6.16,
-- algorithms.md 2.5, oracles O-18, O-20): one outlier mask per input frame.
--
--   local r = mopex.rmask{ images = "cbcd.lst", dce_masks = radhit.dce_masks,
--                          outlier_maps = t.outlier_maps, dual_maps = l.dual_maps,
--                          box_outlier_maps = b.box_outlier_maps, coverage_map = c.coverage_map,
--                          mosaic_fif = "out/mosaic_fif.tbl", output_dir = "out",
--                          use_outlier = true, use_dual_outlier = true }
--   r.rmasks            -- { "out/Rmask-mosaic/<b>_rmask.fits", ... } (the new RMask list)
--   r.lists.rmasks      -- "out/Rmask-mosaic/rmask_ImageList.txt"
--   r.rmask_counts      -- { radhit =, temporal =, dual =, box = } input pixels per bit
--
-- Bits: 0 radhit (the Detect Radhit masks among dce_masks, recognised by
-- their RADHBIT card, or the masks given as dmasks), 1 temporal, 2 dual,
-- 3 box, each of 1-3 only when its USE_*_FOR_RMASK switch is on. A grid pixel
-- of a frame is flagged for bit 1 when coverage >= MIN_COVERAGE and its
-- outlier value < -BOTTOM or > TOP (REFINE_OUTLIER_THRESH instead of TOP
-- where the frame's Level map shows a confirmed source), for bit 2 when its
-- Level map is negative and coverage <= MAX_COVERAGE, for bit 3 when coverage
-- >= BOX_MIN_COVERAGE and its box value < -BOX_BOTTOM or > BOX_TOP. The
-- flagged grid pixels are projected back onto the frame's pixels (exact
-- overlap areas); the bit is set where they cover at least RM_THRESH of a
-- pixel. Maps are matched to frames by name (interp_<b>_outlier.fits, ...).
-- Without coverage_map but with interp_coverages, Mosaic Coverage runs first.
-- The bits reject pixels only when they are in RMask_Fatal_BitPattern
-- (000 l.3478-3497; the template's 7 leaves box outliers in).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local COV = require "mopex.modules.coverage"

local function core() return require("mopex").core end

local sh = COV.shared
local function nonneg(v) if v >= 0 then return true end return false, "must be >= 0" end

local function input_list(name, doc) return S.param { name, type = "list", input = true, doc = doc } end

local params = {
  P.images, P.dce_masks,
  input_list("dmasks", "Detect Radhit masks (<b>_dmask.fits), same order as images: bit 9 (or their "
    .. "RADHBIT) gives RMask bit 0; unset: the Detect Radhit masks among dce_masks"),
  input_list("outlier_maps", "Mosaic Outlier's interp_<b>_outlier.fits (any order, matched by name)"),
  input_list("dual_maps", "Level's proj_<b>_detmap_dual_outlier_level.fits (else Mosaic Dual Outlier's maps)"),
  input_list("box_outlier_maps", "Mosaic Box Outlier's interp_<b>_box_outlier.fits"),
  S.param { "coverage_map", type = "path", input = true,
    doc = "Mosaic Coverage's covg_map.fits (unset: computed from interp_coverages)" },
  sh.interp_coverages, sh.mosaic_fif, P.output_dir, sh.rmask_dir,
  S.param { "rm_thresh", type = "number", key = "RM_THRESH", default = 0.3, check = nonneg,
    doc = "smallest fraction of an input pixel covered by flagged grid pixels that sets the bit "
      .. "(the guide's text; its example uses 1)" },
  S.param { "bottom_threshold", type = "number", key = "BOTTOM_THRESHOLD", default = 10, unit = "sigma",
    doc = "temporal maps: flagged below -BOTTOM (text default; example 3)" },
  S.param { "top_threshold", type = "number", key = "TOP_THRESHOLD", default = 10, unit = "sigma",
    doc = "temporal maps: flagged above TOP (text default; example 3)" },
  S.param { "min_coverage", type = "number", key = "MIN_COVERAGE", default = 3,
    doc = "temporal maps are used where the coverage is >= this (text default; example 500)" },
  S.param { "max_coverage", type = "number", key = "MAX_COVERAGE", default = 100,
    doc = "dual maps are used where the coverage is <= this (text default; example 500)" },
  S.param { "refine_outlier", type = "bool", key = "REFINE_OUTLIER", default = true,
    doc = "use REFINE_OUTLIER_THRESH instead of TOP where the dual map confirms a source" },
  S.param { "refine_outlier_thresh", type = "number", key = "REFINE_OUTLIER_THRESH", default = 10,
    unit = "sigma", doc = "top threshold of the temporal maps on confirmed sources" },
  S.param { "box_bottom_threshold", type = "number", key = "BOX_BOTTOM_THRESHOLD", default = 10,
    unit = "sigma", doc = "box maps: flagged below -BOX_BOTTOM" },
  S.param { "box_top_threshold", type = "number", key = "BOX_TOP_THRESHOLD", default = 10,
    unit = "sigma", doc = "box maps: flagged above BOX_TOP" },
  S.param { "box_min_coverage", type = "number", key = "BOX_MIN_COVERAGE", default = 1,
    doc = "box maps are used where the coverage is >= this" },
  S.param { "use_outlier", type = "bool", key = "USE_OUTLIER_FOR_RMASK", scope = "global", default = false,
    doc = "write bit 1 from the temporal outlier maps (then add 2 to RMask_Fatal_BitPattern)" },
  S.param { "use_dual_outlier", type = "bool", key = "USE_DUAL_OUTLIER_FOR_RMASK", scope = "global",
    default = false, doc = "write bit 2 from the dual (Level) maps (then add 4 to the pattern)" },
  S.param { "use_box_outlier", type = "bool", key = "USE_BOX_OUTLIER_FOR_RMASK", scope = "global",
    default = false, doc = "write bit 3 from the box outlier maps (then add 8 to the pattern)" },
}

local function list(v, role)
  if v == nil then return nil end
  local l = IO.paths(v, role)
  return l
end

local function run(o)
  local where = "mopex.rmask"
  local f = IO.frames(o)
  local outl = list(o.outlier_maps, "outlier map list")
  local dual = list(o.dual_maps, "dual outlier map list")
  local box = list(o.box_outlier_maps, "box outlier map list")
  if o.use_outlier and not outl then
    error(where .. ": use_outlier (USE_OUTLIER_FOR_RMASK) needs the temporal outlier maps "
      .. "(outlier_maps): run mopex.outlier (Mosaic Outlier, run_mosaic_outlier) first", 0)
  end
  if o.use_dual_outlier and not dual then
    error(where .. ": use_dual_outlier (USE_DUAL_OUTLIER_FOR_RMASK) needs the dual outlier maps "
      .. "(dual_maps): run mopex.dual_outlier and mopex.level (Mosaic Dual Outlier, Level) first", 0)
  end
  if o.use_box_outlier and not box then
    error(where .. ": use_box_outlier (USE_BOX_OUTLIER_FOR_RMASK) needs the box outlier maps "
      .. "(box_outlier_maps): run mopex.box_outlier (Mosaic Box Outlier, run_mosaic_box_outlier) first", 0)
  end
  local need = o.use_outlier or o.use_dual_outlier or o.use_box_outlier
  local covg, fif, computed = o.coverage_map, nil, nil
  if need then
    fif = sh.fif_path(o, where)
    if covg == nil then
      if o.interp_coverages == nil then
        error(where .. ": the outlier bits need the coverage map (coverage_map): run mopex.coverage "
          .. "(Mosaic Coverage, run_mosaic_covg) first", 0)
      end
      computed = COV { interp_coverages = o.interp_coverages, mosaic_fif = fif,
                       output_dir = o.output_dir, pipeline = o.pipeline }
      covg = computed.coverage_map
    elseif not IO.exists(covg) then
      error(string.format("%s: coverage map '%s' does not exist (option 'coverage_map')", where, covg), 0)
    end
  end
  local dm, bit = nil, -1
  if o.dmasks ~= nil then
    dm = list(o.dmasks, "Detect Radhit mask list")
    if #dm ~= f.n then
      error(string.format("%s: Detect Radhit mask list has %d entries, ImageList has %d", where, #dm, f.n), 0)
    end
    bit = 9
  else
    dm = f.dce_masks
  end
  local r = core().mosaic_rmask {
    images = f.images, dmasks = dm, radhit_bit = bit, outlier_maps = outl, dual_maps = dual,
    box_maps = box, coverage_map = covg, fif = fif, out_dir = IO.outdir(o, o.out_dir),
    rm_thresh = o.rm_thresh, bottom = o.bottom_threshold, top = o.top_threshold,
    min_coverage = o.min_coverage, max_coverage = o.max_coverage, refine = o.refine_outlier,
    refine_thresh = o.refine_outlier_thresh, box_bottom = o.box_bottom_threshold,
    box_top = o.box_top_threshold, box_min_coverage = o.box_min_coverage,
    use_outlier = o.use_outlier, use_dual = o.use_dual_outlier, use_box = o.use_box_outlier,
  }
  local out = { rmasks = r.rmasks, lists = { rmasks = r.list }, rmask_counts = r.counts }
  if computed then out.coverage_map = covg end
  return out
end

return S.module {
  name = "rmask",
  title = "Mosaic RMask",
  doc = "Combine the outlier detections into one RMask per input frame (bits 0 radhit, 1 temporal, "
    .. "2 dual, 3 box): <b>_rmask.fits and rmask_ImageList.txt in RMASK_DIR (000 l.3346-3506). "
    .. "Returns { rmasks =, lists = { rmasks = }, rmask_counts = }.",
  pipelines = { "mosaic" },
  block = "MOSAICRMASKIN",
  triggers = { "run_mosaic_rmask" },
  params = params,
  run = run,
}
