-- mopex.array_corr_files: Make Array Correction Files (IRAC only): one
-- array-location-dependent correction frame per input BCD, carrying the
-- BCD's header and WCS, so that Make Array Correction Mosaic can put them on
-- the science mosaic's grid (000 l.3987-4030, l.4071-4081; mosaic.md 5.6.23).
--
--   local a = mopex.array_corr_files{ images = "cbcd.lst",
--                                     corr_image = "cal/ch1_photcorr_rj.fits",
--                                     output_dir = "out" }
--   a.array_corr          -- { "out/Array_Corr_Data/corr_<b>.fits", ... }, input order
--   a.lists.array_corr    -- "out/Array_Corr_Data/corr_ImageList.txt"
--
-- The correction values are ARRAY_CORR_IMAGE's. How ARRAY_PIXAREA_IMAGE
-- enters is an open question (the guide points to README_arraycorr, which is
-- not available): it is read and checked for size only, and the combination
-- is one replaceable C function (mx_array_corr_values). Both images must
-- have every BCD's size; an error names both files. The BCD header is kept
-- whole (WCS, distortion, BUNIT, exposure keywords).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local params = {
  P.images, P.output_dir,
  S.param { "corr_image", type = "path", key = "ARRAY_CORR_IMAGE", scope = "global", required = true,
    doc = "array-location-dependent correction image, e.g. cal/ch1_photcorr_rj.fits (calibration path)" },
  S.param { "pixarea_image", type = "path", key = "ARRAY_PIXAREA_IMAGE", scope = "global",
    doc = "pixel-area distortion image, e.g. cal/ch1relpixarea.fits (size-checked; see the module doc)" },
  S.param { "out_dir", type = "path", key = "ARRAY_CORR_DIR", scope = "global",
    default = "Array_Corr_Data",
    doc = "output directory (the guide's Array_Corr_Data; the key is a proposal of ours)" },
}

local function run(o)
  local f = IO.frames { images = o.images }
  for _, k in ipairs({ { "corr_image", "ARRAY_CORR_IMAGE" }, { "pixarea_image", "ARRAY_PIXAREA_IMAGE" } }) do
    local v = o[k[1]]
    if v ~= nil and v ~= "" and not IO.exists(v) then
      error(string.format("mopex.array_corr_files: %s '%s' does not exist (option '%s')", k[2], v, k[1]), 0)
    end
  end
  local dir = IO.outdir(o, o.out_dir)
  local r = core().array_corr_files {
    images = f.images, corr_image = o.corr_image, pixarea_image = o.pixarea_image, out_dir = dir,
  }
  local t = {}
  for i, fr in ipairs(r.frames) do t[i] = fr.seconds end
  return { array_corr = r.outputs, lists = { array_corr = r.list }, timings = t }
end

return S.module {
  name = "array_corr_files",
  title = "Make Array Correction Files",
  doc = "IRAC array-location correction frames corr_<b>.fits with each BCD's header and WCS "
    .. "(000 l.3987-4030). Returns { array_corr =, lists = { array_corr = }, timings = }.",
  pipelines = { "mosaic" },
  triggers = { "make_array_corr_files" },
  params = params,
  run = run,
}
