-- mopex.fiducial_frame: the Fiducial Image Frame (FIF), the output grid that
-- contains every input image (000 l.1346-1461, l.2430-2546; overlap.md 4.3.4).
--
--   local r = mopex.fiducial_frame{ images = "cbcd.lst", output_dir = "out" }
--   r.fif          -- "out/FIF.tbl"         (header keywords only, CDELT/CROTA2 form)
--   r.header_list  -- "out/header_list.tbl" (the WCS of every input)
--   r.frame        -- { crval1=, crval2=, crpix1=, ..., naxis1=, naxis2=, ctype1=, ... }
--
-- Method (core/include/mopex/mx_fif.h): footprints from the headers only
-- (corners and edge points through the full distortion), pixel scale = mean
-- distortion-corrected input scale, orientation = CROTA2 or the circular
-- mean of the inputs' orientations, centre = the footprint's centre, box +
-- Edge_Padding on every side rounded up to whole pixels, CRPIX = (NAXIS+1)/2.
-- FIF.tbl may be edited by hand afterwards (NAXIS, CRPIX, CROTA2, ...) and
-- given to later modules as `fif`; then switch this module off, or it
-- overwrites the edited table (000 l.1973-1985).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local margin, moving_object = P.margin, P.moving_object

local function nonneg(v) if v >= 0 then return true end return false, "must be >= 0" end

local params = {
  P.images,
  P.output_dir,
  S.param { "edge_padding", type = "number", key = "Edge_Padding", default = 10, unit = "arcsec",
    check = nonneg, doc = "sky added beyond the inputs on each of the four edges" },
  S.param { "projection", type = "string", key = "Projection_Type", default = "TAN",
    doc = "WCS projection code of the output: TAN (default), SIN, or another code wcslib knows "
      .. "without PV parameters (ARC, STG, ZEA, AIR, CAR, MER, CEA, CYP, AIT, MOL, ...); STR reads as STG" },
  S.param { "system", type = "string", key = "Coordinate_System", default = "J2000",
    doc = "celestial system of the output: J2000 (equatorial), Galactic or Ecliptic "
      .. "(ecliptic of J2000, obliquity 23.4392911 deg); inputs are rotated into it" },
  S.param { "crota2", type = "crota2", key = "CROTA2", default = "A", unit = "deg",
    doc = "orientation, degrees E of N (0: north up, east left); \"A\" = circular mean of the "
      .. "inputs' orientations" },
  margin,
  moving_object,
}

local function run(o)
  local f = IO.frames(o)
  local dir = IO.outdir(o)
  local fif = IO.join(dir, "FIF.tbl")
  local header_list = IO.join(dir, "header_list.tbl")
  local frame, info = core().fiducial_frame {
    images = f.images, fif_path = fif, header_list_path = header_list,
    edge_padding = o.edge_padding, projection = o.projection, system = o.system,
    crota2 = o.crota2, margin = o.margin, moving_object = o.moving_object,
  }
  return { fif = fif, header_list = header_list, frame = frame, info = info }
end

return S.module {
  name = "fiducial_frame",
  title = "Fiducial Image Frame",
  doc = "Define the output frame containing every input image and write FIF.tbl and "
    .. "header_list.tbl to output_dir (000 l.1346-1461). Returns { fif =, header_list =, frame =, info = }.",
  pipelines = { "mosaic", "overlap", "apex" },
  block = "FIDUCIALIMAGEFRAMEIN",
  triggers = { "run_fiducial_image_frame" },
  params = params,
  run = run,
}
