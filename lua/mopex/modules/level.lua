-- mopex.level: Level, the last step of dual outlier detection: every cluster
-- of a dual outlier map takes one sign (000 l.3092-3174, Eq 8.2-8.3
-- l.7987-8040; mosaic.md 5.6.13, algorithms.md 2.3(d), oracle O-4).
--
--   local l = mopex.level{ dual_maps = dual.dual_maps, output_dir = "out" }
--   l.dual_maps          -- { "out/DualOutlier-mosaic/proj_<b>_detmap_dual_outlier_level.fits", ... }
--   l.lists.dual_maps    -- "out/DualOutlier-mosaic/level_ImageList.txt"
--   l.changed, l.timings -- per map: pixels whose sign changed, seconds
--
-- In each map a cluster is every pixel carrying +c or -c for one cluster
-- number c (connected or not). With N pixels, N- of them negative and R =
-- THRESHOLD_RATIO: if N-/N < R the cluster becomes all positive (its dual
-- outliers were the wings of a real source); then, counting again, if N+/N <
-- R it becomes all negative. With R = 0.5 the majority sign wins and an exact
-- tie stays mixed. The two tests run in that order (algorithms.md); for R >
-- 0.5 mosaic.md's reading (counts before any flip, majority wins) differs:
-- an open point. NaN and 0 pixels are unchanged. The corrected maps replace
-- the dual outlier maps for Mosaic RMask (the flow's `dual_maps`).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local params = {
  S.param { "dual_maps", type = "list", input = true, required = true,
    doc = "Mosaic Dual Outlier's proj_<b>_detmap_dual_outlier.fits (list file or array)" },
  P.output_dir,
  S.param { "threshold_ratio", type = "number", key = "THRESHOLD_RATIO", default = 0.5, min = 0,
    max = 1, doc = "minority fraction below which a cluster's minority sign is flipped" },
  S.outdir { key = "DUAL_OUTLIER_DIR", mosaic = "DualOutlier-mosaic" },
}

local function run(o)
  local maps, desc = IO.paths(o.dual_maps, "dual outlier map list")
  if #maps == 0 then error("mopex.level: " .. desc .. " is empty (option 'dual_maps')", 0) end
  local dir = IO.outdir(o, o.out_dir)
  local r = core().level_files { images = maps, threshold_ratio = o.threshold_ratio, out_dir = dir }
  local changed, t = {}, {}
  for i, fr in ipairs(r.frames) do changed[i], t[i] = fr.pixels, fr.seconds end
  return { dual_maps = r.outputs, lists = { dual_maps = r.list }, changed = changed, timings = t }
end

return S.module {
  name = "level",
  title = "Level",
  doc = "Make every cluster of the dual outlier maps single-signed by the THRESHOLD_RATIO tests "
    .. "(000 l.3092-3174, l.7987-8040): proj_<b>_detmap_dual_outlier_level.fits and "
    .. "level_ImageList.txt. Returns { dual_maps =, lists = { dual_maps = }, changed =, timings = }.",
  pipelines = { "mosaic" },
  block = "LEVEL",
  triggers = { "run_level" },
  params = params,
  run = run,
}
