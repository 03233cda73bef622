-- The Overlap pipeline (scripts/overlap.lua, built-in configuration: Fiducial Image
-- Frame, Mosaic Interpolate, Compute Overlap Correction with the corrected frames) on
-- simulated frames with known additive offsets: offsets.tbl written, the recovered
-- offsets equal the truth up to one constant, the corrected frames are the inputs
-- minus their offset. Then the same with zodiacal subtraction and a Quicklook mosaic
-- switched on through --set.
local T = require "testing"
local mopex = require "mopex"
local R = require "pipeline_runner"

local dir = T.tmpdir("e2e_overlap_pipeline")
local OFFS = { 0.031, -0.022, 0.0, 0.015, -0.040, 0.008, 0.026, -0.012, 0.019, -0.025 }
local N = #OFFS
-- a 2 x 5 map: every frame overlaps its neighbours, one connected group
local sim = mopex.simulate { out_dir = dir .. "/sim", pattern = "map", nframes = N, map_rows = 2, map_cols = 5,
  ndither = 1, map_overlap = 0.3, seed = 5, cosmics = 0, offsets = OFFS, zody_step = 0.002 }

local function offsets_of(path)
  local t <close> = mopex.read_table(path)
  local ids, off = t:column("Image_id"), t:column("Offset")
  local out = {}
  for r = 1, #ids do out[math.tointeger(ids[r])] = off[r] end
  return out
end

local function mean(v)
  local s = 0
  for _, x in ipairs(v) do s = s + x end
  return s / #v
end

local function run(name, extra)
  local args = { "-I", sim.images, "-S", sim.sigmas, "-d", sim.dce_masks, "-O", dir .. "/" .. name,
                 "--set", "DCE_Status_Mask_Fatal_BitPattern=32520" }
  for _, a in ipairs(extra or {}) do args[#args + 1] = "--set"; args[#args + 1] = a end
  local t0 = R.now()
  local cur = R.configure_and_run("overlap", args, { quiet = true })
  return cur, R.now() - t0
end

local base, t_base = run("base")
print(string.format("overlap.lua, %d frames, built-in configuration: %.2f s", N, t_base))

-- The frames also differ by ZODY_EST - SKYDRKZB (zody_step per frame): the background
-- of frame k is offset_k + zody_k - skydrkzb, all of it removed by the matching.
local truth = {}
do
  local t <close> = mopex.read_table(sim.frames)
  local bg = t:column("background")
  for k = 1, N do truth[k] = bg[k] end
end

T.test("offsets.tbl: recovered = truth up to a constant", function()
  T.ok(base.offsets and mopex.file_exists(base.offsets), "offsets.tbl written")
  T.ok(base.offsets:match("Overlap_corr/offsets%.tbl$"), "in Overlap_corr/")
  local got = offsets_of(base.offsets)
  local g, tt = {}, {}
  for k = 1, N do g[k], tt[k] = got[k], truth[k] end
  local c = mean(g) - mean(tt)
  local worst = 0
  for k = 1, N do
    worst = math.max(worst, math.abs(g[k] - tt[k] - c))
    T.near(g[k] - c, tt[k], 1e-3, "frame " .. k)
  end
  print(string.format("recovered offsets: max |offset - truth - constant| = %.2g MJy/sr", worst))
end)

T.test("corrected frames = input - offset", function()
  local got = offsets_of(base.offsets)
  local list = base.lists and base.lists.corrected
  T.ok(list and mopex.file_exists(list), "overlapCorrection_ImageList.txt")
  local corr = mopex.read_list(list)
  local inputs = mopex.read_list(sim.images)
  T.eq(#corr, N, "one corrected frame per input")
  for k = 1, N do
    T.ok(corr[k]:match("overlapCorrection_" .. mopex.basename_noext(inputs[k]) .. "%.fits$"), "name " .. k)
    local a <close> = mopex.read(inputs[k])
    local b <close> = mopex.read(corr[k])
    for _, p in ipairs({ { 10, 10 }, { 128, 128 }, { 200, 77 } }) do
      local u, v = a:get(p[1], p[2]), b:get(p[1], p[2])
      if u == u then T.near(v, u - got[k], 1e-6, string.format("frame %d pixel (%d, %d)", k, p[1], p[2])) end
    end
  end
end)

T.test("zodiacal subtraction and Quicklook through --set", function()
  local cur = run("zodi", { "apply_zodiacal_correction=1", "mosaic_corrected_images=1" })
  T.ok(cur.mosaic and mopex.file_exists(cur.mosaic), "quick-look mosaic.fits")
  T.eq(io.open(dir .. "/zodi/Zod_Sub") == nil, true, "Zod_Sub removed (save_zodiacal_subtracted_images = 0)")
  -- the zodi values were subtracted first: the offsets now follow offset_k alone
  local got = offsets_of(cur.offsets)
  local g = {}
  for k = 1, N do g[k] = got[k] end
  local c = mean(g) - mean(OFFS)
  local worst = 0
  for k = 1, N do
    worst = math.max(worst, math.abs(g[k] - OFFS[k] - c))
    T.near(g[k] - c, OFFS[k], 1e-3, "frame " .. k)
  end
  print(string.format("with zodiacal subtraction: max |offset - truth - constant| = %.2g MJy/sr", worst))
  -- the quick-look mosaic of the corrected frames is flat where only the sky is
  local m <close> = mopex.read(cur.mosaic)
  local s = m:sigma_clip { lo = 3, hi = 3 }
  T.ok(s.mad_sigma < 0.01, string.format("flat background after matching (MAD sigma %.4f)", s.mad_sigma))
end)

T.done()
