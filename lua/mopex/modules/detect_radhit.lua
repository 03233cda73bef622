-- mopex.detect_radhit: single-frame radhit (cosmic-ray) detection into new
-- DCE status masks (000 l.2680-2750, algorithm l.7789-7816; mosaic.md 5.6.7,
-- algorithms.md 2.1).
--
--   local r = mopex.detect_radhit{ minback = m.minback, dce_masks = "bimsk.lst",
--                                  output_dir = "out" }
--   r.dce_masks          -- { "out/Dmask-mosaic/<b>_dmask.fits", ... }: the new DCE masks
--   r.lists.dce_masks    -- "out/Dmask-mosaic/dmask_ImageList.txt"
--   r.radhits, r.radhit_pixels, r.timings   -- per frame
--
-- Per frame: M and s from the iteratively clipped statistics of the
-- background-subtracted frame (as Detect), 4-connected clusters above
-- M + Segmentation_Threshold s; a cluster is a radhit when it has at most
-- Detection_Max_Area pixels and a pixel above M + Radhit_Threshold s (a
-- bright star fails the area test, a faint one the peak test). Output: a copy
-- of the frame's DCE mask (its integer type; zeros if none was given) with
-- bit 9 (DCE_Status_Mask_Radhit_Bit) OR-ed on every radhit pixel. The new
-- masks replace the current DCE mask list for the rest of the pipeline; bit
-- 9 must be in DCE_Status_Mask_Fatal_BitPattern for the radhits to be
-- rejected (32544 includes it).
--
-- Trigger: run_detect_radhit (appendix B). The module page prints
-- run_detect_outlier, which is Detect (Outlier)'s trigger; the namelist layer
-- decides (mosaic.md 5.6.7: run_detect_outlier means Detect (Outlier), unless
-- the namelist has a &DETECT_RADHIT block and no &DETECT block, where it also
-- runs this module, with a warning).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local function positive(v) if v > 0 then return true end return false, "must be > 0" end

local params = {
  S.param { "minback", type = "list", input = true, required = true,
    doc = "background-subtracted frames: MedFilter's *_minback.fits (list file or array)" },
  P.dce_masks, P.output_dir,
  S.param { "seg_threshold", type = "number", key = "Segmentation_Threshold", default = 3,
    unit = "sigma", check = positive, doc = "clusters are the pixels above M + this x s" },
  S.param { "max_area", type = "int", key = "Detection_Max_Area", default = 3, min = 1,
    unit = "pixels", doc = "largest cluster that can be a radhit" },
  S.param { "radhit_threshold", type = "number", key = "Radhit_Threshold", default = 10,
    unit = "sigma", check = positive,
    doc = "a radhit has a pixel above M + this x s (set it well above the segmentation threshold)" },
  S.param { "radhit_bit", type = "int", key = "DCE_Status_Mask_Radhit_Bit", scope = "global",
    default = 9, min = 0, max = 30, doc = "DCE mask bit set on radhit pixels (IRAC/MIPS: 9, value 512)" },
  S.param { "ddof", type = "int", default = 1, min = 0, max = 1,
    doc = "standard deviations divide by N - ddof (spec: 1); not a classic key" },
  S.outdir { key = "DMASK_DIR", mosaic = "Dmask-mosaic" },
}

local function run(o)
  local images, desc = IO.paths(o.minback, "MedFilter image list")
  if #images == 0 then error("mopex.detect_radhit: " .. desc .. " is empty (option 'minback')", 0) end
  local masks
  if o.dce_masks ~= nil then
    local mdesc
    masks, mdesc = IO.paths(o.dce_masks, "DCE status mask list")
    if #masks ~= #images then
      error(string.format("mopex.detect_radhit: %s has %d entries, %s has %d", mdesc, #masks, desc,
        #images), 0)
    end
  end
  local dir = IO.outdir(o, o.out_dir)
  local r = core().radhit_files {
    images = images, dce_masks = masks, seg_threshold = o.seg_threshold, max_area = o.max_area,
    radhit_threshold = o.radhit_threshold, radhit_bit = o.radhit_bit, ddof = o.ddof, out_dir = dir,
  }
  local n, np, t = {}, {}, {}
  for i, fr in ipairs(r.frames) do n[i], np[i], t[i] = fr.clusters, fr.pixels, fr.seconds end
  return { dce_masks = r.outputs, lists = { dce_masks = r.list }, radhits = n, radhit_pixels = np,
           timings = t }
end

return S.module {
  name = "detect_radhit",
  title = "Detect Radhit",
  doc = "Single-frame radhit detection: new DCE masks (<b>_dmask.fits) with bit 9 set on small, "
    .. "bright clusters (000 l.2680-2750, l.7789-7816). The returned dce_masks replace the "
    .. "current DCE mask list. Trigger run_detect_radhit; the module page's run_detect_outlier "
    .. "belongs to Detect (Outlier): the namelist layer decides (mosaic.md 5.6.7). "
    .. "Returns { dce_masks =, lists = { dce_masks = }, radhits =, radhit_pixels =, timings = }.",
  pipelines = { "mosaic" },
  block = "DETECT_RADHIT",
  triggers = { "run_detect_radhit" },
  params = params,
  run = run,
}
