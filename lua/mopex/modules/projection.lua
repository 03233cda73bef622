-- mopex.projection: Mosaic Projection, step 2 of dual outlier detection:
-- every detection map onto the mosaic grid (000 l.2927-2973, algorithm
-- l.7937-7949; mosaic.md 5.6.10, algorithms.md 2.3(b), oracle O-20).
--
--   local p = mopex.projection{ detmaps = d.detmaps, fif = "out/mosaic_fif.tbl",
--                               output_dir = "out" }
--   p.proj_detmaps         -- { "out/DualOutlier-mosaic/proj_<b>_detmap.fits", ... }
--   p.lists.proj_detmaps   -- "out/DualOutlier-mosaic/interp_detmap_ImageList.txt"
--   p.proj_table           -- ".../interp_detmap_ImageList.txt.tbl" (offsets, sizes)
--   p.proj_offsets[i]      -- { xoff =, yoff =, naxis1 =, naxis2 =, written = } (0-based)
--
-- No weighting: each output pixel takes the cluster number of the input
-- pixels it overlaps (the one with the largest overlap when several do, ties
-- to the smaller number), 0 when it overlaps only undetected pixels, NaN when
-- it overlaps none; the pixel-overlap geometry of Mosaic Interpolate's
-- default method, distortion included. Each map covers the same box of the
-- grid as the frame's interpolated image (same offsets MINTOFFX/MINTOFFY,
-- same size); its header is the grid's WCS shifted to that box. The WCS of a
-- map is its own header's (Detect keeps the image header), or the header of
-- the matching entry of wcs_images.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local FIF = require "mopex.modules.fiducial_frame"

local function core() return require("mopex").core end

local params = {
  S.param { "detmaps", type = "list", input = true, required = true,
    doc = "detection maps in the original pixel grid: Detect's *_detmap.fits (list file or array)" },
  S.param { "wcs_images", type = "list",
    doc = "files whose headers give each map's WCS (the original images, same order); "
      .. "unset: each map's own header; not a classic key" },
  P.fif, P.output_dir,
  FIF.by_name.moving_object,
  S.outdir { key = "DUAL_OUTLIER_DIR", mosaic = "DualOutlier-mosaic" },
}

local function run(o)
  if o.fif == nil then
    error("mopex.projection: option 'fif' is required: the mosaic grid (mosaic_fif.tbl, written "
      .. "by Mosaic Interpolate; FIF_FILE_NAME, -F)", 0)
  end
  if not IO.exists(o.fif) then
    error(string.format("mopex.projection: FIF '%s' does not exist (option 'fif')", o.fif), 0)
  end
  local maps, desc = IO.paths(o.detmaps, "detection map list")
  if #maps == 0 then error("mopex.projection: " .. desc .. " is empty (option 'detmaps')", 0) end
  local wcs
  if o.wcs_images ~= nil then
    local wdesc
    wcs, wdesc = IO.paths(o.wcs_images, "WCS image list")
    if #wcs ~= #maps then
      error(string.format("mopex.projection: %s has %d entries, %s has %d", wdesc, #wcs, desc, #maps), 0)
    end
  end
  local dir = IO.outdir(o, o.out_dir)
  local r = core().project_detmaps {
    images = maps, wcs_images = wcs, fif = o.fif, moving_object = o.moving_object, out_dir = dir,
  }
  local offsets, t = {}, {}
  for i, fr in ipairs(r.frames) do
    offsets[i] = { xoff = fr.xoff, yoff = fr.yoff, naxis1 = fr.naxis1, naxis2 = fr.naxis2,
                   written = fr.output ~= nil }
    t[i] = fr.seconds
  end
  return { proj_detmaps = r.outputs, lists = { proj_detmaps = r.list }, proj_table = r.table,
           proj_offsets = offsets, timings = t }
end

return S.module {
  name = "projection",
  title = "Mosaic Projection",
  doc = "Project the detection maps onto the mosaic grid without weighting: proj_<b>_detmap.fits "
    .. "(cluster number, 0, or NaN where no input pixel is overlapped) on the box of each frame's "
    .. "interpolated image, interp_detmap_ImageList.txt and its .tbl of offsets and sizes "
    .. "(000 l.2927-2973, l.7937-7949). The &MOSAICPROJIN block has no parameters. Returns "
    .. "{ proj_detmaps =, lists = { proj_detmaps = }, proj_table =, proj_offsets =, timings = }.",
  pipelines = { "mosaic" },
  block = "MOSAICPROJIN",
  triggers = { "run_mosaic_proj" },
  params = params,
  run = run,
}
