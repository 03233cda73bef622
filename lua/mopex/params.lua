-- mopex.params: parameters shared by several modules, each defined once.
--
-- These are the guide's "Initial Setup" and "<Pipeline> Settings" globals
-- (000 l.1033-1227, l.2088-2322): input lists, masks and their fatal bit
-- patterns, the FIF, the output pixel size. A module lists the ones it uses
-- in its own params, so validation, namelist translation and docs see them.
local S = require "mopex.schema"

local P = {}

local function bitpattern(v)
  if v < 0 or v > 0xFFFFFFFF then return false, "must be a bit pattern between 0 and 2^32-1" end
  return true
end

P.images = S.param { "images", type = "list", key = "IMAGE_STACK_FILE_NAME", scope = "global",
  flag = "-I", doc = "input images: a list file (one FITS path per line) or an array of paths" }
P.sigmas = S.param { "sigmas", type = "list", key = "SIGMALIST_FILE_NAME", scope = "global",
  flag = "-S", doc = "uncertainty images, same order as images (list file or array)" }
P.dce_masks = S.param { "dce_masks", type = "list", key = "DCE_STATUS_MASK_LIST", scope = "global",
  flag = "-d", doc = "DCE status masks, same order as images (list file or array)" }
P.dce_fatal = S.param { "dce_fatal", type = "int", key = "DCE_Status_Mask_Fatal_BitPattern",
  scope = "global", default = 32544, check = bitpattern,
  doc = "fatal bits of the DCE status masks (sum of 2^bit; template 32544 = bits 5, 8-14)" }
P.pmask = S.param { "pmask", type = "path", key = "PMASK_FILE_NAME", scope = "global", flag = "-M",
  doc = "permanent bad-pixel mask applied to every frame (same size as the frames)" }
P.pmask_fatal = S.param { "pmask_fatal", type = "int", key = "PMask_Fatal_BitPattern",
  scope = "global", default = 32767, check = bitpattern,
  doc = "fatal bits of the PMask (template 32767 = bits 0-14)" }
P.rmasks = S.param { "rmasks", type = "list", key = "RMASK_LIST", scope = "global", flag = "-R",
  doc = "outlier masks (RMasks), same order as images (list file or array)" }
P.rmask_fatal = S.param { "rmask_fatal", type = "int", key = "RMask_Fatal_BitPattern",
  aliases = { "RMask_Fatal_Bit_Pattern" }, scope = "global", default = 7, check = bitpattern,
  doc = "fatal bits of the RMasks: bit 0 radhit, 1 temporal, 2 dual, 3 box (template 7 = bits 0-2)" }
P.fif = S.param { "fif", type = "path", key = "FIF_FILE_NAME", scope = "global", flag = "-F",
  doc = "Fiducial Image Frame table (FIF.tbl) defining the output grid" }
P.output_dir = S.param { "output_dir", type = "path", key = "OUTPUT_DIR", scope = "global",
  flag = "-O", default = ".", doc = "top output directory (created if missing)" }
P.pixel_size_x = S.param { "pixel_size_x", type = "number", key = "MOSAIC_PIXEL_SIZE_X",
  scope = "global", unit = "deg", max = 0,
  doc = "output pixel size along x (must be negative); wins over pixel_ratio_x" }
P.pixel_size_y = S.param { "pixel_size_y", type = "number", key = "MOSAIC_PIXEL_SIZE_Y",
  scope = "global", unit = "deg", min = 0, doc = "output pixel size along y (positive)" }
P.pixel_ratio_x = S.param { "pixel_ratio_x", type = "number", key = "MOSAIC_PIXEL_RATIO_X",
  scope = "global", default = 1, min = 0, doc = "input pixel size / output pixel size along x" }
P.pixel_ratio_y = S.param { "pixel_ratio_y", type = "number", key = "MOSAIC_PIXEL_RATIO_Y",
  scope = "global", default = 1, min = 0, doc = "input pixel size / output pixel size along y" }
P.margin = S.param { "margin", type = "int", key = "MARGIN", scope = "global", default = 0,
  unit = "pixels",
  doc = "pixels around the FIF: > 0 grows the FIF on every side; with Mosaic Geometry the test "
    .. "region (negative there drops frames that only touch the edge, 000 l.1417-1424)" }
P.moving_object = S.param { "moving_object", type = "int", key = "MOVING_OBJECT_MOSAIC",
  scope = "global", default = 0, min = 0,
  doc = "moving-object mosaic: 1-based frame whose RA_REF/DEC_REF is the stationary reference; "
    .. "every frame's CRVAL shifts by (RA_REF_s - RA_REF_i, DEC_REF_s - DEC_REF_i) "
    .. "(Eq 5.1, 000 l.1994-2020); 0 = off" }

return P
