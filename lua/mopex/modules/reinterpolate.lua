-- mopex.reinterpolate: Mosaic Reinterpolate (000 l.3507-3564, mosaic.md
-- 5.6.17). The frames of a Mosaic Interpolate run, now with the RMasks of
-- Mosaic RMask, are interpolated again with the method and parameters
-- recorded in the first pass's headers (INTRPMTH, FINERES, DRIZFAC,
-- GRIDRAT, INTALPHA), onto the grid of OUTPUT_DIR/mosaic_fif.tbl.
--
--   local p = mopex.reinterpolate{ images = "cbcd.lst", sigmas = "cbunc.lst",
--                                  dce_masks = "bimsk.lst", rmasks = rm.rmasks,
--                                  output_dir = "out" }
--
-- The result equals a fresh mopex.interpolate with those RMasks, byte for
-- byte: a frame whose RMask makes no further pixel unusable is copied from
-- the first pass (p.reused counts them), the others are interpolated again.
-- After Drizzle or Grid (not allowed, 000 l.3553-3555) a warning says so
-- and every frame is interpolated again. The product table has the shape of
-- mopex.interpolate's (see lua/l_interp.c).
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"
local I = require "mopex.modules.interpolate"

local function core() return require("mopex").core end

local first_dir = I.by_name.out_dir

local params = {
  P.images, P.sigmas, P.dce_masks, P.dce_fatal, P.pmask, P.pmask_fatal, P.rmasks, P.rmask_fatal,
  P.output_dir, I.by_name.mask_bright, I.by_name.detmaps,
  S.param { "interp_dir", type = "path", key = first_dir.key, scope = "global",
    default = first_dir.default, defaults = first_dir.defaults,
    doc = "the first pass: Mosaic Interpolate's output directory (relative paths are under output_dir)" },
  S.param { "mosaic_fif", type = "path",
    doc = "grid of the first pass (unset: OUTPUT_DIR/mosaic_fif.tbl, written by Mosaic Interpolate)" },
  S.param { "out_dir", type = "path", key = "REINTERP_DIR", scope = "global", default = "Reinterp-mosaic",
    doc = "output directory of the re-interpolated images (relative paths are under output_dir)" },
}

local function run(o)
  local c = I.frame_inputs(o)
  local top = o.output_dir or "."
  local grid = o.mosaic_fif or IO.join(top, "mosaic_fif.tbl")
  if not IO.exists(grid) then
    error(string.format("mosaic FIF '%s' does not exist: run mopex.interpolate first or set mosaic_fif",
      grid), 0)
  end
  c.mosaic_fif = grid
  c.interp_dir = IO.join(top, o.interp_dir)
  c.out_dir = IO.outdir(o, o.out_dir)
  return I.products(core().reinterpolate(c))
end

return S.module {
  name = "reinterpolate",
  title = "Mosaic Reinterpolate",
  doc = "Interpolate the frames again with their RMasks, using the method recorded by Mosaic "
    .. "Interpolate; unchanged frames are copied (000 l.3507-3564).",
  pipelines = { "mosaic" },
  block = "MOSAICREINTIN",
  triggers = { "run_mosaic_reint", "run_mosaic_reinterp" },
  params = params,
  run = run,
}
