-- mopex.sn_estimator: uncertainty images from a gain and read-noise model,
-- for data without their own (000 l.1228-1345, l.2323-2429; overlap.md
-- 4.3.3, mosaic.md 5.6.3).
--
--   local s = mopex.sn_estimator{ images = "bcd.lst", output_dir = "out", pipeline = "mosaic",
--                                 gain = 2755.1, read_noise = 21 }
--   s.sigmas          -- { "out/Sigma-mosaic/<b>_sigma.fits", ... }, same order as images
--   s.lists.sigmas    -- "out/Sigma-mosaic/sigma_ImageList.txt"
--
-- Per pixel: sigma = sqrt(Read_Noise^2/Gain^2 + Confusion_Sigma^2/Gain^2 + max(I,0)/Gain)
-- (Eq 4.2); NaN pixels stay NaN. The sigma images keep the input's header
-- (WCS, BUNIT). Spitzer gain (Eq 4.1): Gain = EXPTIME * GAIN / FLUXCONV,
-- mopex.core.spitzer_gain(path) computes it (and returns RONOISE) from a BCD.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local function positive(v) if v > 0 then return true end return false, "must be > 0" end
local function nonneg(v) if v >= 0 then return true end return false, "must be >= 0" end

local params = {
  P.images,
  P.output_dir,
  S.param { "gain", type = "number", key = "Gain", default = 66.8, unit = "e-/image unit",
    check = positive,
    doc = "electrons per image unit; Spitzer: EXPTIME * GAIN / FLUXCONV (Eq 4.1, "
      .. "mopex.core.spitzer_gain(path)), e.g. 2755.1 for IRAC ch1 100 s frames" },
  S.param { "read_noise", type = "number", key = "Read_Noise", default = 8.8, unit = "e-",
    check = nonneg, doc = "read noise in electrons (Spitzer header RONOISE)" },
  S.param { "confusion_sigma", type = "number", key = "Confusion_Sigma", default = 0, unit = "e-",
    check = nonneg, doc = "1-sigma confusion noise in electrons" },
  S.outdir { key = "SIGMA_DIR", default = "Sigma-mosaic", mosaic = "Sigma-mosaic",
    overlap = "Sigma-overlap", apex = "Sigma-apex",
    doc = "output directory of the sigma images (relative paths are under output_dir)" },
}

local function run(o)
  local f = IO.frames(o)
  local dir = IO.outdir(o, o.out_dir)
  local sigmas = {}
  for i, p in ipairs(f.images) do sigmas[i] = IO.derived(dir, p, "", "_sigma.fits") end
  local seen = {}
  for i, s in ipairs(sigmas) do
    if seen[s] then
      error(string.format("mopex.sn_estimator: images %d and %d have the same base name (%s)",
        seen[s], i, s), 0)
    end
    seen[s] = i
  end
  core().sn_estimator {
    images = f.images, outputs = sigmas, gain = o.gain, read_noise = o.read_noise,
    confusion_sigma = o.confusion_sigma,
  }
  local list = IO.write_list(IO.join(dir, "sigma_ImageList.txt"), sigmas)
  return { sigmas = sigmas, lists = { sigmas = list } }
end

return S.module {
  name = "sn_estimator",
  title = "S/N Estimator",
  doc = "Uncertainty images sigma = sqrt(RN^2/G^2 + CS^2/G^2 + max(I,0)/G) for data without "
    .. "their own (000 l.1228-1345); writes <SIGMA_DIR>/<b>_sigma.fits and sigma_ImageList.txt. "
    .. "Spitzer Gain = EXPTIME*GAIN/FLUXCONV: mopex.core.spitzer_gain(path) -> gain, read_noise.",
  pipelines = { "mosaic", "overlap", "apex" },
  block = "SNESTIMATORIN",
  triggers = { "compute_uncertainties_internally" },
  params = params,
  run = run,
}
