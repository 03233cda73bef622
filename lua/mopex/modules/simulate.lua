-- mopex.simulate: Spitzer/IRAC-like frames with known truth (the guide's
-- simulate.pl idea), for tests, demos and benchmarks.
--
--   local sim = mopex.simulate{ out_dir = "sim", nframes = 30, seed = 7 }
--   mopex.mosaic{ images = sim.images, sigmas = sim.sigmas, dce_masks = sim.dce_masks, ... }
--
-- Writes <prefix>_<EXPID>_0000_1_{cbcd,cbunc,bimsk}.fits, the lists cbcd.lst,
-- cbunc.lst and bimsk.lst, and the truth tables sources.tbl, offsets.tbl,
-- cosmics.tbl and frames.tbl (see core/include/mopex/mx_simulate.h for the
-- exact model: PSF integrated over each distorted pixel, noise from the
-- gain/read-noise model of 000 l.1250-1277, unflagged cosmic rays, IRAC
-- status-mask bits). With render_frame = i nothing is written: frame i comes
-- back in memory as Images.
local S = require "mopex.schema"

-- Per-channel values used when an option is left unset: the S19.2 headers
-- of AORKEY 46291456 (warm mission; ch2 HDR short-frame read noise for both)
-- and the IRAC handbook's warm PSF FWHM.
local CHANNEL = {
  [1] = { pixel_scale = 1.223, fwhm = 1.66, fluxconv = 0.1257, gain = 3.7, ronoise = 21.0,
          exptime = 93.6, framtime = 100.0, exptime_short = 0.4, framtime_short = 0.6,
          ronoise_short = 23.7 },
  [2] = { pixel_scale = 1.2156, fwhm = 1.72, fluxconv = 0.1447, gain = 3.71, ronoise = 16.0,
          exptime = 96.8, framtime = 100.0, exptime_short = 0.4, framtime_short = 0.6,
          ronoise_short = 23.7 },
}

local function per_channel(what, unit)
  return string.format("%s (unset: channel 1 %s, channel 2 %s%s)", what,
    tostring(CHANNEL[1][unit[1]]), tostring(CHANNEL[2][unit[1]]), unit[2] or "")
end

local function positive(v) if v > 0 then return true end return false, "must be > 0" end

local P = S.param
local params = {
  -- output
  P{ "out_dir", type = "path", doc = "output directory (created); required unless render_frame is set" },
  P{ "prefix", type = "string", doc = "file name prefix (unset: SPITZER_I<channel>_<aorkey>)" },
  P{ "render_frame", type = "int", min = 1,
     doc = "render only this frame (1-based) in memory and return {image=, sigma=, mask=, cosmics=, file=, crval1=, crval2=, rotation=, offset=, exptime=, group=}; writes nothing" },
  -- pattern
  P{ "pattern", type = "enum", values = { "dither", "map", "two_groups", "list" }, default = "dither",
     doc = "dithered stare, raster map, two disconnected maps, or explicit pointings" },
  P{ "nframes", type = "int", min = 1, default = 20,
     doc = "frames written (ignored by pattern 'list'); even with hdr (short/long pairs)" },
  P{ "seed", type = "int", min = 0, default = 1,
     doc = "master seed: same seed, same files, for any thread count" },
  P{ "ra", type = "number", unit = "deg", default = 120.03, doc = "target: pattern centre and RA_REF" },
  P{ "dec", type = "number", unit = "deg", default = -9.07, min = -90, max = 90,
     doc = "target: pattern centre and DEC_REF" },
  P{ "rotation", type = "number", unit = "deg", default = -76.75,
     doc = "position angle of the frames' +y axis, east of north (CROTA2, PA)" },
  P{ "rotation_jitter", type = "number", unit = "deg", default = 0.005, min = 0,
     doc = "rms of the per-pointing rotation jitter" },
  P{ "pointing_jitter", type = "number", unit = "arcsec", default = 0.1, min = 0,
     doc = "rms per axis of the per-pointing position jitter" },
  P{ "dither", type = "enum", values = { "random", "cycle" }, default = "cycle",
     doc = "dither positions: uniform in a disc, or a cycling spiral of well-spread positions" },
  P{ "dither_scale", type = "number", unit = "arcsec", default = 25.0, min = 0,
     doc = "radius of the dither disc/spiral" },
  P{ "ndither", type = "int", min = 1, default = 5, doc = "dithers per map position (map, two_groups)" },
  P{ "map_rows", type = "int", min = 0, default = 0, doc = "map rows (0: from nframes, near square)" },
  P{ "map_cols", type = "int", min = 0, default = 0, doc = "map columns (0: from nframes, near square)" },
  P{ "map_overlap", type = "number", min = 0, max = 0.9, default = 0.2,
     doc = "fraction of a frame shared by neighbouring map positions" },
  P{ "group_separation", type = "number", unit = "arcmin", default = 20.0, min = 0,
     doc = "distance between the centres of the two groups (two_groups)" },
  P{ "pointings", type = "any",
     doc = "pattern 'list': array of {ra=, dec=[, rotation=]} (degrees), one pointing per frame (pair with hdr)" },
  -- detector and exposure
  P{ "nx", type = "int", min = 8, max = 16384, default = 256, doc = "frame width (NAXIS1)" },
  P{ "ny", type = "int", min = 8, max = 16384, default = 256, doc = "frame height (NAXIS2)" },
  P{ "channel", type = "int", min = 1, max = 2, default = 1, doc = "IRAC channel (CHNLNUM): SIP table and per-channel defaults" },
  P{ "distortion", type = "enum", values = { "irac", "none" }, default = "irac",
     doc = "real 5th-order IRAC SIP of the channel (TAN-SIP), or plain TAN" },
  P{ "pixel_scale", type = "number", unit = "arcsec", check = positive,
     doc = per_channel("pixel scale", { "pixel_scale", "\"/px" }) },
  P{ "exptime", type = "number", unit = "s", check = positive, doc = per_channel("EXPTIME", { "exptime", " s" }) },
  P{ "framtime", type = "number", unit = "s", check = positive, doc = per_channel("FRAMTIME", { "framtime", " s" }) },
  P{ "fluxconv", type = "number", check = positive,
     doc = per_channel("FLUXCONV, MJy/sr per DN/s", { "fluxconv" }) },
  P{ "gain", type = "number", unit = "e/DN", check = positive, doc = per_channel("GAIN", { "gain" }) },
  P{ "ronoise", type = "number", unit = "e", min = 0, doc = per_channel("RONOISE", { "ronoise" }) },
  P{ "hdr", type = "bool", default = false,
     doc = "HDR mode: a short and a long frame at every pointing (HDRMODE, HDRFRAME)" },
  P{ "exptime_short", type = "number", unit = "s", check = positive,
     doc = per_channel("EXPTIME of HDR short frames", { "exptime_short", " s" }) },
  P{ "framtime_short", type = "number", unit = "s", check = positive,
     doc = per_channel("FRAMTIME of HDR short frames", { "framtime_short", " s" }) },
  P{ "ronoise_short", type = "number", unit = "e", min = 0,
     doc = per_channel("RONOISE of HDR short frames", { "ronoise_short" }) },
  P{ "aorkey", type = "int", min = 0, default = 40000000, doc = "AORKEY (also in the file names)" },
  P{ "mjd_start", type = "number", unit = "d", default = 56293.7847044,
     doc = "MJD_OBS of the first frame; frames follow FRAMTIME + 12 s apart" },
  -- sky
  P{ "sky", type = "number", unit = "MJy/sr", default = 0.05, doc = "constant sky level" },
  P{ "sky_gradient_ra", type = "number", unit = "MJy/sr/deg", default = 0.0,
     doc = "sky slope towards east (standard coordinates about the pattern centre)" },
  P{ "sky_gradient_dec", type = "number", unit = "MJy/sr/deg", default = 0.0,
     doc = "sky slope towards north" },
  P{ "zody_est", type = "number", unit = "MJy/sr", default = 0.0858,
     doc = "ZODY_EST of the first frame; ZODY_EST - SKYDRKZB is in the pixels" },
  P{ "zody_step", type = "number", unit = "MJy/sr", default = 0.0, doc = "ZODY_EST change per frame" },
  P{ "skydrkzb", type = "number", unit = "MJy/sr", default = 0.0339, doc = "SKYDRKZB of every frame" },
  P{ "offset_sigma", type = "number", unit = "MJy/sr", default = 0.01, min = 0,
     doc = "rms of the random per-frame additive offsets (made zero-mean; truth in offsets.tbl)" },
  P{ "offsets", type = "any", doc = "explicit per-frame offsets (array, one per frame); wins over offset_sigma" },
  P{ "blob_peak", type = "number", unit = "MJy/sr", default = 0.0, doc = "peak of an extended Gaussian blob (0: none)" },
  P{ "blob_fwhm", type = "number", unit = "arcsec", default = 60.0, check = positive, doc = "FWHM of the blob" },
  P{ "blob_ra", type = "number", unit = "deg", doc = "blob centre (unset: the pattern centre)" },
  P{ "blob_dec", type = "number", unit = "deg", min = -90, max = 90, doc = "blob centre (unset: the pattern centre)" },
  -- point sources
  P{ "sources", type = "any",
     doc = "explicit truth catalogue: array of {ra=, dec=, flux=} (microJy) or an IPAC table path/Table with ra, dec, flux_ujy" },
  P{ "nsources", type = "int", min = 0, doc = "size of the random catalogue (unset: source_density x footprint)" },
  P{ "source_density", type = "number", unit = "1/arcmin^2", default = 2.0, min = 0,
     doc = "random sources per arcmin^2 (about 50 per 256x256 ch1 frame)" },
  P{ "flux_min", type = "number", unit = "microJy", default = 20.0, check = positive, doc = "faintest random source" },
  P{ "flux_max", type = "number", unit = "microJy", default = 20000.0, check = positive, doc = "brightest random source" },
  P{ "flux_slope", type = "number", default = 2.0, doc = "power law of the random fluxes: dN/dF ~ F^-slope" },
  P{ "psf", type = "enum", values = { "gaussian", "double_gaussian", "airy" }, default = "gaussian",
     doc = "PSF shape, integrated over each distorted pixel" },
  P{ "fwhm", type = "number", unit = "arcsec", check = positive, doc = per_channel("PSF (core) FWHM", { "fwhm", "\"" }) },
  P{ "wing_fwhm", type = "number", unit = "arcsec", default = 5.0, check = positive,
     doc = "FWHM of the double Gaussian's wing" },
  P{ "wing_fraction", type = "number", default = 0.1, min = 0, max = 1,
     doc = "flux fraction in the double Gaussian's wing" },
  P{ "psf_radius", type = "number", default = 4.0, check = positive,
     doc = "render radius in units of the widest FWHM (flux renormalised within it)" },
  P{ "oversample", type = "int", default = 8, min = 1, max = 64,
     doc = "n x n sub-samples per pixel for the PSF integral" },
  -- noise and defects
  P{ "noise", type = "bool", default = true,
     doc = "add Gaussian noise of the written sigma (false: noise-free values, same sigmas)" },
  P{ "cosmics", type = "number", default = 20.0, min = 0,
     doc = "mean cosmic-ray hits per frame of FRAMTIME framtime (scaled for short frames)" },
  P{ "cosmic_min_sigma", type = "number", unit = "sigma", default = 8.0, check = positive,
     doc = "faintest cosmic-ray pixel (significances log-uniform between min and max)" },
  P{ "cosmic_max_sigma", type = "number", unit = "sigma", default = 500.0, check = positive,
     doc = "brightest cosmic-ray pixel" },
  P{ "cosmic_flag_fraction", type = "number", default = 0.0, min = 0, max = 1,
     doc = "fraction of the hits flagged with bit 9 (radhit) in the bimsk" },
  P{ "nan_pixels", type = "int", default = 9, min = 0, doc = "NaN pixels (bit 14), the same in every frame" },
  P{ "dead_pixels", type = "int", default = 4, min = 0, doc = "dead pixels: value 0, bit 14, the same in every frame" },
  P{ "bad_columns", type = "int", default = 0, min = 0, doc = "bad columns: 1 MJy/sr low, bit 14" },
  P{ "stray_pixels", type = "int", default = 0, min = 0,
     doc = "pixels flagged with bit 3 (stray light; fatal only in patterns that include bit 3)" },
  P{ "hot_pixels", type = "int", default = 4, min = 0, doc = "latent pixels per frame: raised by hot_level, bit 10" },
  P{ "hot_level", type = "number", unit = "MJy/sr", default = 5.0, doc = "excess of the latent pixels" },
}

local function core() return require("mopex").core end

local function run(o)
  local ch = CHANNEL[o.channel]
  for k, v in pairs(ch) do
    if o[k] == nil then o[k] = v end
  end
  if o.flux_max < o.flux_min then
    error(string.format("mopex.simulate: option 'flux_max' (%g) must be >= flux_min (%g)",
      o.flux_max, o.flux_min), 0)
  end
  if o.cosmic_max_sigma < o.cosmic_min_sigma then
    error(string.format("mopex.simulate: option 'cosmic_max_sigma' (%g) must be >= cosmic_min_sigma (%g)",
      o.cosmic_max_sigma, o.cosmic_min_sigma), 0)
  end
  if o.pattern == "list" and o.pointings == nil then
    error("mopex.simulate: pattern 'list' needs option 'pointings' (array of {ra=, dec=})", 0)
  end
  if o.render_frame == nil and o.out_dir == nil then
    error("mopex.simulate: option 'out_dir' is required (or render_frame for one frame in memory)", 0)
  end
  return core().simulate(o)
end

return S.module {
  name = "simulate",
  title = "Simulator",
  doc = "Simulated IRAC-like frames (cbcd, cbunc, bimsk) with lists and truth tables of sources, offsets and cosmic rays.",
  params = params,
  run = run,
}
