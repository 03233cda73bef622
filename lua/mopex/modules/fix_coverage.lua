-- mopex.fix_coverage: Fix Coverage (mosaic.md 5.6.18; 000 l.3565-3614).
--
--   local fc = mopex.fix_coverage{ interp_coverages = interp.coverages, output_dir = "out" }
--   mopex.coadd{ ..., interp_coverages = fc.interp_coverages }
--
-- Zeroes coverage where the pixel itself is below min_single or its 3 x 3
-- block sums to less than 9 min_block (both on the original map; neighbours
-- outside the map count 0). Writes Interp-mosaic/fixed_covg_<b>.fits (<b>:
-- the coverage map's name without "interp_" and "_covg") and the list
-- fixed_covg_list.txt; the fixed maps replace the coverage stack.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local shared = require("mopex.modules.coadd").shared

local function core() return require("mopex").core end

local function fraction(v)
  if v < 0 or v > 1 then return false, "must be between 0 and 1" end
  return true
end

local params = {
  shared.interp_coverages, P.output_dir,
  S.outdir { key = "INTERP_DIR", mosaic = "Interp-mosaic",
    doc = "where the fixed maps go (the interpolation directory, 000 l.3596-3598)" },
  S.param { "min_single", type = "number", key = "Min_Single_Coverage", default = 0.95, check = fraction,
    doc = "a pixel with coverage below this becomes 0" },
  S.param { "min_block", type = "number", key = "Min_Block_Coverage", default = 0.83, check = fraction,
    doc = "a pixel whose 3 x 3 block sums to less than 9 x this becomes 0" },
}

--- fixed_covg_<b>.fits for interp_<b>_covg.fits (or <x>.fits -> fixed_covg_<x>.fits).
local function fixed_name(path)
  local b = IO.basename(path)
  b = b:gsub("^interp_", ""):gsub("_covg$", "")
  return "fixed_covg_" .. b .. ".fits"
end

local function run(o)
  local covs = IO.paths(o.interp_coverages, "coverage list")
  if not covs or #covs == 0 then
    error("mopex.fix_coverage: no coverage maps (interp_coverages)", 0)
  end
  local dir = IO.outdir(o, o.out_dir)
  local outs, seen = {}, {}
  for i, p in ipairs(covs) do
    outs[i] = IO.join(dir, fixed_name(p))
    if seen[outs[i]] then
      error(string.format("mopex.fix_coverage: coverage maps %d and %d would both be written to '%s'",
        seen[outs[i]], i, outs[i]), 0)
    end
    seen[outs[i]] = i
  end
  core().fix_coverage { inputs = covs, outputs = outs, min_single = o.min_single, min_block = o.min_block }
  local list = IO.write_list(IO.join(dir, "fixed_covg_list.txt"), outs)
  return { interp_coverages = outs, lists = { coverages = list } }
end

return S.module {
  name = "fix_coverage",
  title = "Fix Coverage",
  doc = "Zero the coverage of pixels below Min_Single_Coverage or in 3 x 3 blocks below Min_Block_Coverage.",
  pipelines = { "mosaic" },
  block = "FIX_COVERAGE",
  block_aliases = { "FIXCOVERAGEIN" },
  triggers = { "run_fix_coverage" },
  params = params,
  run = run,
}
