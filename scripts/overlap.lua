-- overlap.lua - the Overlap pipeline (classic overlap.pl; shared/spec/overlap.md):
-- background matching of overlapping frames.
--
--   mopexlua overlap.lua -I images.lst [-S sigmas.lst] [-D|-d dmasks.lst] [-M pmask.fits]
--                        [-F FIF.tbl] [-O outdir] [-n namelist.nl] [--set NAME=VALUE]...
--
-- Without -n the built-in configuration runs: Fiducial Image Frame, Mosaic Interpolate
-- (Grid, the Overlap default), Compute Overlap Correction with apply_overlap_correction
-- = 1 (Overlap_corr/offsets.tbl and the corrected frames overlapCorrection_<b>.fits with
-- their list, ready to be mosaicked). overlap.pl -n x.nl ... runs the same through
-- namelist-compat/classic.lua.
--
-- Order (overlap.md 1.1): S/N Estimator, zodiacal subtraction (apply_zodiacal_correction,
-- a planned step, see namelist-compat/config.lua), MedFilter, Fiducial Image Frame,
-- Detect, Mosaic Interpolate (with mask_bright = 1 the detection maps of Detect mask
-- bright objects), Compute Overlap Correction, Quicklook Mosaic. The zodi-subtracted
-- copies are removed at the end unless save_zodiacal_subtracted_images = 1.
local name, path = ...

if name ~= "overlap" then
  local argv = { ... }
  if #argv == 0 and type(arg) == "table" then
    for i = 1, #arg do argv[i] = arg[i] end
  end
  os.exit(require("classic").main("overlap", argv, { default_namelist = true }))
end

local R = require "pipeline_runner"

local FINAL = {
  fiducial_frame = "*", overlap_correction = "*", quicklook = { "mosaic" },
  interpolate = { "mosaic_fif" },
}

-- Mosaic Interpolate takes Detect's maps as its bright-object masks when mask_bright is
-- on: wired here while its option and Detect's product have different names.
local function options(step, o, cur)
  if step.name == "interpolate" and o.mask_bright and cur.detmaps ~= nil then
    local by = step.module.by_name
    if by.detmaps and o.detmaps == nil then o.detmaps = cur.detmaps
    elseif by.bright_masks and o.bright_masks == nil then o.bright_masks = cur.detmaps end
  end
end

-- The zodi-subtracted frames are temporary unless save_zodiacal_subtracted_images = 1.
local function after(cur, record)
  for _, r in ipairs(record) do
    local p = r.products
    if r.name == "zodi_subtract" and type(p) == "table" and p.temporary then
      local dir
      for _, f in ipairs(p.images or {}) do
        os.remove(f)
        dir = dir or f:match("^(.*)/[^/]*$")
      end
      if p.lists and p.lists.images then os.remove(p.lists.images) end
      if dir then os.remove(dir) end
    end
  end
end

--- Run a configuration (config.configure("overlap", ...)); ropts: quiet, log.
local function run(cfg, ropts)
  ropts = ropts or {}
  local cur = R.run(cfg, { options = options, after = after, final = FINAL,
                           quiet = ropts.quiet, log = ropts.log })
  if not ropts.quiet and cur.offsets then
    io.stderr:write(string.format("overlap.lua: offsets in %s%s in %.1f s\n", cur.offsets,
      (cur.lists and cur.lists.corrected) and (", corrected frames listed in " .. cur.lists.corrected) or "",
      cur.seconds))
  end
  return cur
end

return { run = run }
