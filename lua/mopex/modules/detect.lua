-- mopex.detect: Detect (Overlap, bright-object masking) and Detect (Outlier)
-- (Mosaic, step 1 of dual outlier detection): image segmentation of the
-- background-subtracted frames into detection maps (000 l.1544-1616,
-- l.2858-2926, segmentation l.8157-8363; overlap.md 4.3.6, mosaic.md 5.6.9,
-- algorithms.md 2.3(a), 3).
--
--   local d = mopex.detect{ minback = m.minback, output_dir = "out", pipeline = "mosaic" }
--   d.detmaps          -- { "out/Detect-mosaic/<b>_detmap.fits", ... }, input order
--   d.lists.detmaps    -- "out/Detect-mosaic/detmap_ImageList.txt"
--   d.detections, d.timings   -- per frame
--
-- Per frame: threshold T = M + D s from the iteratively clipped mean and
-- standard deviation, connected clusters above T (side neighbours unless
-- Neighbor_Type says otherwise), clusters above Detection_Max_Area
-- re-thresholded (Threshold_Type simple, combo or peak), smaller than
-- Detection_Min_Area dropped. The map holds each cluster's number 1..N on its
-- pixels and 0 elsewhere (BITPIX 32), in the original pixel grid; the header
-- is the input's (WCS kept, which Mosaic Projection reads) plus NDETECT,
-- DETTHRSH, DETMEAN, DETSIGMA. <b> is the input's base name without
-- "_minback".
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local function positive(v) if v > 0 then return true end return false, "must be > 0" end

local params = {
  S.param { "minback", type = "list", input = true, required = true,
    doc = "background-subtracted frames: MedFilter's *_minback.fits (list file or array; any images work)" },
  P.output_dir,
  S.param { "max_area", type = "int", key = "Detection_Max_Area", default = 1000, min = 1, unit = "pixels",
    doc = "larger clusters are re-thresholded (split or shrunk) per Threshold_Type" },
  S.param { "min_area", type = "int", key = "Detection_Min_Area", default = 0, min = 0, unit = "pixels",
    doc = "initial clusters with fewer pixels are dropped" },
  S.param { "threshold", type = "number", key = "Detection_Threshold", default = 3, unit = "sigma",
    check = positive, doc = "D of the initial threshold T = M + D s" },
  S.param { "threshold_type", type = "enum", key = "Threshold_Type", values = { "simple", "combo", "peak" },
    default = "simple", doc = "re-thresholding rule of large clusters (000 l.8206-8299)" },
  S.param { "input_type", type = "enum", key = "Input_Type", values = { "image_input", "snr_input" },
    default = "image_input", doc = "APEX extra: 'snr_input' takes T = D (an S/N image)" },
  S.param { "peaks_radius", type = "int", key = "Peaks_Radius", default = 1, min = 1, unit = "pixels",
    doc = "APEX extra: a peak is above every pixel within this (square) radius" },
  S.param { "max_seg_level", type = "int", key = "Max_Segmentation_Level", default = 50, min = 1,
    doc = "APEX extra: most threshold raises of one cluster (combo, peak)" },
  S.param { "extended_area", type = "int", key = "Extended_Object_Area", default = 500, min = 0,
    unit = "pixels", doc = "APEX extra: larger clusters are not split by 'peak' (0: no limit)" },
  S.param { "neighbor_type", type = "enum", key = "Neighbor_Type", values = { "sides_only", "sides_and_corners" },
    default = "sides_only", doc = "APEX extra: 4- or 8-connected clusters" },
  S.param { "n_edge", type = "int", key = "N_Edge", default = 0, min = 0, unit = "pixels",
    doc = "APEX extra: clusters whose centroid is within N_Edge pixels of the border are dropped" },
  S.param { "min_peak_fraction", type = "number", key = "Detection_Min_Peak_Fraction",
    aliases = { "Detect_Min_Peak_Fraction" }, default = 0, min = 0, max = 1,
    doc = "APEX extra: a sub-peak counts (peak) when its height above the threshold is at least "
      .. "this fraction of the cluster maximum's" },
  S.param { "ddof", type = "int", default = 1, min = 0, max = 1,
    doc = "standard deviations divide by N - ddof (spec: 1); not a classic key" },
  S.outdir { key = "DETECT_DIR", mosaic = "Detect-mosaic", overlap = "Detect-overlap" },
}

local function run(o)
  local images, desc = IO.paths(o.minback, "MedFilter image list")
  if #images == 0 then error("mopex.detect: " .. desc .. " is empty (option 'minback')", 0) end
  local dir = IO.outdir(o, o.out_dir)
  local r = core().detect_files {
    images = images, threshold = o.threshold, min_area = o.min_area, max_area = o.max_area,
    threshold_type = o.threshold_type, extended_area = o.extended_area,
    peaks_radius = o.peaks_radius, max_seg_level = o.max_seg_level,
    neighbor_type = o.neighbor_type, n_edge = o.n_edge, min_peak_fraction = o.min_peak_fraction,
    input_type = o.input_type, ddof = o.ddof, out_dir = dir,
  }
  local ndet, t = {}, {}
  for i, fr in ipairs(r.frames) do ndet[i], t[i] = fr.clusters, fr.seconds end
  return { detmaps = r.outputs, lists = { detmaps = r.list }, detections = ndet, timings = t }
end

return S.module {
  name = "detect",
  title = "Detect (Outlier)",
  doc = "Detection maps (<b>_detmap.fits: cluster numbers 1..N, background 0) of the "
    .. "background-subtracted frames, for Mosaic's dual outlier detection and Overlap's "
    .. "bright-object masking (000 l.1544-1616, l.2858-2926). Mosaic's trigger is "
    .. "run_detect_outlier; Overlap accepts run_detect and run_detect_outlier. "
    .. "Returns { detmaps =, lists = { detmaps = }, detections =, timings = }.",
  pipelines = { "mosaic", "overlap" },
  block = "DETECT",
  triggers = { "run_detect_outlier" },
  triggers_by_pipeline = { overlap = { "run_detect", "run_detect_outlier" } },
  params = params,
  run = run,
}
