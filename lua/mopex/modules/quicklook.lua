-- mopex.quicklook: Quicklook Mosaic of the Overlap pipeline (overlap.md 4.3.9;
-- 000 l.1795-1876).
--
--   mopex.quicklook{ interp_images = interp.images, interp_coverages = interp.coverages,
--                    interp_ids = interp.image_ids, offsets = corr.offsets, output_dir = "out" }
--
-- Browse-quality check of the background matching: the straight average
-- of (interpolated image - its offset), tiles and tables in Coadd-overlap/
-- (coadd_Tile_NNN_{Image,Cov}.fits, coadd_tile_bcd.txt, coadd_tiles.tbl),
-- the combined mosaic.fits in OUTPUT_DIR. No uncertainty mosaic, no
-- weighting (000 l.1852-1853).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local shared = require("mopex.modules.coadd").shared

local function core() return require("mopex").core end

local params = {
  shared.interp_images, shared.interp_coverages, shared.mosaic_fif, P.output_dir,
  S.param { "offsets", type = "any", scope = "global", input = true,
    doc = "per-frame offsets subtracted from the interpolated images: an array (one per image) or "
      .. "Compute Overlap Correction's offsets.tbl (columns Image_id, Offset); unset: no correction" },
  S.param { "interp_ids", type = "any", scope = "global",
    doc = "input-list id (Image_id) of each interpolated image (Interpolate's `image_ids`), to look "
      .. "offsets.tbl up by" },
  S.param { "interp_table", type = "path", scope = "global",
    doc = "or interp_ImageList.txt.tbl (columns image_id, file) for those ids (neither: the k-th image "
      .. "has Image_id k)" },
  S.outdir { key = "COADDER_DIR", overlap = "Coadd-overlap" },
  S.param { "tilemax_x", type = "int", key = "TILEMAX_X", min = 1, default = 2000, unit = "pixels",
    doc = "suggested tile width (000 l.1820-1823)" },
  S.param { "tilemax_y", type = "int", key = "TILEMAX_Y", min = 1, default = 2000, unit = "pixels",
    doc = "suggested tile height" },
  shared.memory_mb,
}

local function column(t, names, path)
  for _, n in ipairs(names) do
    if t:has_column(n) then return (t:column(n)) end
  end
  error(string.format("mopex.quicklook: table '%s' has no column %s", path, table.concat(names, " or ")), 0)
end

--- Offsets in stack order, or nil.
local function frame_offsets(o, images)
  local v = o.offsets
  if v == nil then return nil end
  if type(v) == "table" then
    if #v ~= #images then
      error(string.format("mopex.quicklook: offsets has %d values, interp_images has %d", #v, #images), 0)
    end
    for i, x in ipairs(v) do
      if type(x) ~= "number" then error(string.format("mopex.quicklook: offsets entry %d is not a number", i), 0) end
    end
    return v
  end
  if type(v) ~= "string" then
    error("mopex.quicklook: option 'offsets' must be an array of numbers or an offsets.tbl path", 0)
  end
  local mopex = require "mopex"
  local t <close> = mopex.read_table(v)
  local ids, offs = column(t, { "Image_id" }, v), column(t, { "Offset" }, v)
  local by_id = {}
  for r = 1, #ids do by_id[math.tointeger(ids[r]) or ids[r]] = offs[r] end
  local frame_id = {}
  if o.interp_ids then
    if type(o.interp_ids) ~= "table" or #o.interp_ids ~= #images then
      error(string.format("mopex.quicklook: interp_ids must be an array of %d ids (one per interpolated image)",
        #images), 0)
    end
    for k, id in ipairs(o.interp_ids) do frame_id[k] = math.tointeger(id) or id end
  elseif o.interp_table then
    local it <close> = mopex.read_table(o.interp_table)
    local iid, files = column(it, { "image_id", "Image_id" }, o.interp_table), column(it, { "file", "fname" }, o.interp_table)
    local by_name = {}
    for r = 1, #iid do by_name[IO.basename(files[r])] = math.tointeger(iid[r]) or iid[r] end
    for k, p in ipairs(images) do
      frame_id[k] = by_name[IO.basename(p)]
      if frame_id[k] == nil then
        error(string.format("mopex.quicklook: '%s' is not listed in '%s'", p, o.interp_table), 0)
      end
    end
  else
    for k = 1, #images do frame_id[k] = k end
  end
  local out = {}
  for k, id in ipairs(frame_id) do
    out[k] = by_id[id]
    if out[k] == nil then
      error(string.format("mopex.quicklook: '%s' has no offset for Image_id %s (%s)", v, tostring(id), images[k]), 0)
    end
    if out[k] ~= out[k] then out[k] = 0 end -- a null offset: no correction for that frame
  end
  return out
end

local function run(o)
  local where = "mopex.quicklook"
  local images, idesc = IO.paths(o.interp_images, "interpolated image list")
  if not images or #images == 0 then error(where .. ": no interpolated images (interp_images)", 0) end
  local covs = shared.parallel(o.interp_coverages, "coverage list", images, idesc)
  local offs = frame_offsets(o, images)
  local fif = shared.fif_path(o, where)
  local dir = IO.outdir(o, o.out_dir)
  local r = core().coadd {
    images = images, coverages = covs, offsets = offs, fif = fif, out_dir = dir,
    tilemax_x = o.tilemax_x, tilemax_y = o.tilemax_y, create_unc = false,
    memory_mb = o.memory_mb, program = "quicklook",
  }
  local top = IO.outdir(o)
  local tt = IO.join(dir, "coadd_tiles.tbl")
  local mosaic = core().combine_tiles(tt, "_Image.fits", fif, IO.join(top, "mosaic.fits"))
  return {
    mosaic = mosaic,
    quicklook_dir = dir,
    tiles = shared.tile_paths(dir, "Image", r.ntiles),
    tiles_table = tt,
    tile_bcd = IO.join(dir, "coadd_tile_bcd.txt"),
  }
end

return S.module {
  name = "quicklook",
  title = "Quicklook Mosaic",
  doc = "Straight average of the offset-corrected interpolated images: tiles in Coadd-overlap/, mosaic.fits "
    .. "in output_dir (browse quality).",
  pipelines = { "overlap" },
  block = "MOSAICCOADDIN",
  triggers = { "mosaic_corrected_images", "mosaic-corrected-images" },
  params = params,
  run = run,
}
