-- mopex.interpolate: Mosaic Interpolate (000 l.2751-2857, l.1617-1703;
-- mosaic.md 5.6.8, overlap.md 4.3.7). Every frame is resampled onto the
-- mosaic grid: the FIF at the requested pixel size, written as
-- OUTPUT_DIR/mosaic_fif.tbl.
--
--   local p = mopex.interpolate{ images = "cbcd.lst", sigmas = "cbunc.lst",
--                                dce_masks = "bimsk.lst", output_dir = "out",
--                                pixel_size_x = -0.6/3600, pixel_size_y = 0.6/3600 }
--   p.images, p.coverages, p.sigmas      interp_<b>.fits, interp_<b>_covg.fits,
--                                        interp_unc_<b>_sigma.fits (input order)
--   p.lists.images / .coverages / .sigmas, p.table (interp_ImageList.txt.tbl),
--   p.mosaic_fif, p.offsets[k] = { image_id, x, y, w, h, nusable, counts }
--
-- Files, headers and names: core/include/mopex/mx_interp.h. Inputs with the
-- same file name in different directories are written as interp_<i>_<b>...
-- (i = 1-based input position) so they do not overwrite each other.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local function positive(v) if v > 0 then return true end return false, "must be > 0" end

local params = {
  P.images, P.sigmas, P.dce_masks, P.dce_fatal, P.pmask, P.pmask_fatal, P.rmasks, P.rmask_fatal,
  P.fif, P.output_dir, P.pixel_size_x, P.pixel_size_y, P.pixel_ratio_x, P.pixel_ratio_y,
  S.param { "method", type = "int", key = "INTERP_METHOD", min = 1, max = 4, default = 1,
    defaults = { overlap = 3 },
    doc = "1 default (area overlap), 2 drizzle, 3 grid, 4 bicubic (Overlap templates use 3)" },
  S.param { "fineres", type = "int", key = "FINERES", min = 0, max = 16, default = 0,
    doc = "method 1: sub-pixels per input pixel and axis first (0 = off; advised 0, 000 l.2778-2781)" },
  S.param { "driz_fac", type = "number", key = "DRIZ_FAC", min = 0, max = 1, default = 1,
    check = positive, doc = "method 2: linear shrink factor of the input pixels (drop size)" },
  S.param { "grid_ratio", type = "int", key = "GRID_RATIO", min = 1, max = 64, default = 4,
    doc = "method 3: grid points per input pixel along each axis" },
  S.param { "alpha", type = "number", key = "ALPHA", default = -0.5,
    doc = "method 4: bicubic (Keys) kernel parameter" },
  S.param { "mask_bright", type = "bool", key = "mask_bright", scope = "global", default = false,
    doc = "Overlap's bright-object masking: input pixels whose detection map is > 0 are bad" },
  S.param { "detmaps", type = "list", input = true,
    doc = "detection maps (*detmap.fits from Detect), same order as images; used only with "
      .. "mask_bright (Overlap's bright-object masking)" },
  S.param { "out_dir", type = "path", key = "INTERP_DIR", scope = "global", default = "Interp-mosaic",
    defaults = { overlap = "Interp-overlap", apex = "Interp-apex" },
    doc = "output directory of the interpolated images (relative paths are under output_dir)" },
}

-- The frame set shared with mopex.reinterpolate: lists resolved and checked
-- (IO.frames gives the guide's length messages), masks and their patterns.
local function frame_inputs(o)
  local f = IO.frames(o)
  local bright
  if o.mask_bright and o.detmaps ~= nil then
    local l, desc = IO.paths(o.detmaps, "Detection map list")
    if #l ~= f.n then
      local idesc = type(o.images) == "string" and ("ImageList '" .. o.images .. "'") or "ImageList"
      error(string.format("%s has %d entries, %s has %d", desc, #l, idesc, f.n), 0)
    end
    bright = l
  end
  if o.pmask and not IO.exists(o.pmask) then
    error(string.format("PMask '%s' does not exist (pmask / PMASK_FILE_NAME)", o.pmask), 0)
  end
  return {
    images = f.images, sigmas = f.sigmas, dce_masks = f.dce_masks, rmasks = f.rmasks,
    bright_masks = bright, pmask = o.pmask,
    dce_fatal = o.dce_fatal, pmask_fatal = o.pmask_fatal, rmask_fatal = o.rmask_fatal,
    mask_bright = o.mask_bright,
  }
end

-- The products of core.interpolate / core.reinterpolate, keyed by the option
-- names of the modules that consume them (mopex.flow): the interpolated stack
-- must not replace the input frames.
local function products(r)
  return { interp_images = r.images, interp_coverages = r.coverages, interp_sigmas = r.sigmas,
           mosaic_fif = r.mosaic_fif, interp_table = r.table, interp_ids = r.image_ids,
           lists = { interp_images = r.lists.images, interp_coverages = r.lists.coverages,
                     interp_sigmas = r.lists.sigmas },
           placements = r.offsets, skipped = r.skipped, method = r.method, reused = r.reused }
end

local function run(o)
  local c = frame_inputs(o)
  local top = IO.outdir(o)
  local fif = o.fif or IO.join(top, "FIF.tbl")
  if not IO.exists(fif) then
    error(string.format("FIF '%s' does not exist: run mopex.fiducial_frame first or set fif "
      .. "(FIF_FILE_NAME)", fif), 0)
  end
  c.method, c.fineres, c.driz_fac, c.grid_ratio, c.alpha =
    o.method, o.fineres, o.driz_fac, o.grid_ratio, o.alpha
  c.fif, c.mosaic_fif = fif, IO.join(top, "mosaic_fif.tbl")
  c.pixel_size_x, c.pixel_size_y = o.pixel_size_x, o.pixel_size_y
  c.pixel_ratio_x, c.pixel_ratio_y = o.pixel_ratio_x, o.pixel_ratio_y
  c.out_dir = IO.outdir(o, o.out_dir)
  return products(core().interpolate(c))
end

return S.module {
  name = "interpolate",
  title = "Mosaic Interpolate",
  doc = "Resample every frame onto the mosaic grid (FIF at the output pixel size): interpolated "
    .. "image, coverage and uncertainty per frame, lists, offsets table and mosaic_fif.tbl "
    .. "(000 l.2751-2857).",
  pipelines = { "mosaic", "overlap", "apex" },
  block = "MOSAICINTIN",
  triggers = { "run_mosaic_int", "run_mosaic_interp" },
  params = params,
  run = run,
  frame_inputs = frame_inputs,
  products = products,
}
