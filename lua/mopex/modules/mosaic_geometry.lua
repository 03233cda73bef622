-- mopex.mosaic_geometry: keep only the frames that overlap a (hand-edited)
-- FIF (000 l.2547-2594, procedure l.1921-1993; mosaic.md 5.6.5).
--
--   local g = mopex.mosaic_geometry{ images = "cbcd.lst", sigmas = "cbunc.lst",
--                                    dce_masks = "bimsk.lst", fif = "sub_FIF.tbl",
--                                    output_dir = "out", margin = -5 }
--   g.images, g.sigmas, g.dce_masks   -- the selected frames (arrays, list order kept)
--   g.lists.images                    -- "out/geom_ImageList.txt" (and geom_SigmaList.txt, ...)
--   g.fif                             -- "out/geom_fif.tbl"
--
-- A frame is kept when its pixel boundary, mapped through its full
-- distortion onto the FIF grid, overlaps the FIF grown by MARGIN pixels
-- (negative MARGIN shrinks it, dropping frames that only touch the edge).
-- Writes to output_dir: geom_ImageList.txt, geom_SigmaList.txt,
-- geom_DmaskList.txt, geom_rmask_ImageList.txt (for the lists given),
-- geom_fif.tbl (the FIF), geom_Tile.tbl (its tiling) and geom_Int_Img.tbl
-- (predicted box of each selected frame's interpolated image: image_id,
-- fname, xoff, yoff, naxis1, naxis2, offsets 0-based). An empty
-- selection is an error.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local FIF = require "mopex.modules.fiducial_frame"

local function core() return require("mopex").core end

local function positive(v) if v >= 1 then return true end return false, "must be >= 1" end

local params = {
  P.images, P.sigmas, P.dce_masks, P.rmasks,
  P.fif,
  P.output_dir,
  P.margin,
  P.moving_object,
  S.param { "tile_max_x", type = "int", default = 1000, unit = "pixels", check = positive,
    doc = "tile size for geom_Tile.tbl (the guide's tiling, 000 l.7716-7729); "
      .. "the Mosaic CoAdder's example TILEMAX_X" },
  S.param { "tile_max_y", type = "int", default = 1000, unit = "pixels", check = positive,
    doc = "tile size for geom_Tile.tbl along y" },
}

local LISTS = {
  { "images", "geom_ImageList.txt" },
  { "sigmas", "geom_SigmaList.txt" },
  { "dce_masks", "geom_DmaskList.txt" },
  { "rmasks", "geom_rmask_ImageList.txt" },
}

local function run(o)
  if o.fif == nil then
    error("mopex.mosaic_geometry: option 'fif' is required: the (hand-edited) FIF table whose "
      .. "area is to be mosaicked (FIF_FILE_NAME, -F)", 0)
  end
  if not IO.exists(o.fif) then
    error(string.format("mopex.mosaic_geometry: FIF '%s' does not exist (option 'fif', FIF_FILE_NAME)",
      o.fif), 0)
  end
  local f = IO.frames(o)
  local dir = IO.outdir(o)
  local selected = core().mosaic_geometry {
    images = f.images, fif = o.fif, out_dir = dir, margin = o.margin,
    moving_object = o.moving_object, tile_max_x = o.tile_max_x, tile_max_y = o.tile_max_y,
  }
  local out = {
    fif = IO.join(dir, "geom_fif.tbl"),
    tiles = IO.join(dir, "geom_Tile.tbl"),
    interp_table = IO.join(dir, "geom_Int_Img.tbl"),
    selected = selected,
    lists = {},
  }
  for _, l in ipairs(LISTS) do
    local key, name = l[1], l[2]
    if f[key] then
      local sel = {}
      for k, i in ipairs(selected) do sel[k] = f[key][i] end
      out[key] = sel
      out.lists[key] = IO.write_list(IO.join(dir, name), sel)
    end
  end
  return out
end

return S.module {
  name = "mosaic_geometry",
  title = "Mosaic Geometry",
  doc = "Select the frames that overlap a (hand-edited) FIF and write geom_*.txt lists, "
    .. "geom_fif.tbl, geom_Tile.tbl and geom_Int_Img.tbl (000 l.2547-2594, l.1921-1993). "
    .. "Returns { images =, sigmas =, dce_masks =, rmasks =, lists =, fif =, tiles =, interp_table =, selected = }.",
  pipelines = { "mosaic" },
  triggers = { "run_mosaic_geom" },
  params = params,
  run = run,
}
