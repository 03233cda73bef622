-- Overlap on the real IRAC ch1 AOR (30 frames of GRB 120119A, $MOPEX_TEST_DATA):
-- offsets.tbl is written, and the corrected frames overlap better than the
-- originals. "Better" is measured independently of the solve: the corrected
-- frames are interpolated again and their pairwise overlap differences
-- accumulated afresh; the RMS of the pairs' mean differences must drop, and a
-- second matching of the corrected frames must find (nearly) nothing left.
local T = require "testing"
local mopex = require "mopex"

local g = T.data_dir() .. "/gammit_grb120119a"
local function list(kind)
  local out = {}
  for _, rel in ipairs(mopex.read_list(g .. "/lists/ch1_" .. kind .. ".lst", false)) do
    out[#out + 1] = rel:sub(1, 1) == "/" and rel or (g .. "/" .. rel)
  end
  return out
end
local imgs, uncs, msks = list("cbcd"), list("cbunc"), list("bimsk")
local dir = T.tmpdir("e2e_overlap_real")

local function match(images, out)
  local fif = mopex.fiducial_frame { pipeline = "overlap", images = imgs, output_dir = dir }
  local it = mopex.interpolate { pipeline = "overlap", images = images, sigmas = uncs, dce_masks = msks,
    dce_fatal = 32520, fif = fif.fif, output_dir = out }
  return mopex.overlap_correction { pipeline = "overlap", images = images, interp_images = it.interp_images,
    interp_coverages = it.interp_coverages, interp_sigmas = it.interp_sigmas, interp_ids = it.interp_ids,
    output_dir = out, apply = true }
end

local first = match(imgs, dir .. "/first")
local second = match(first.corrected, dir .. "/second")

T.test("offsets.tbl: one row per frame, finite, zero-sum over non-outliers", function()
  local t <close> = mopex.read_table(first.offsets)
  T.eq(t:nrows(), 30)
  T.eq(t:columns(), { "Image_id", "Offset", "del_Offset", "outliers" })
  local off, del, out = t:column("Offset"), t:column("del_Offset"), t:column("outliers")
  local sum, lo, hi = 0, math.huge, -math.huge
  for k = 1, 30 do
    T.ok(off[k] == off[k] and del[k] == del[k] and del[k] > 0, "finite offset and error, frame " .. k)
    if out[k] == 0 then sum = sum + off[k] end
    lo, hi = math.min(lo, off[k]), math.max(hi, off[k])
  end
  T.near(sum, 0, 1e-9)
  print(string.format("real ch1: offsets from %.5f to %.5f MJy/sr (frames' median skies span "
    .. "0.070-0.102)", lo, hi))
  T.ok(hi - lo > 0.005 and hi - lo < 0.05, "offsets of the size of the sky differences")
end)

T.test("the corrected frames overlap better (measured again from scratch)", function()
  print(string.format("real ch1: RMS of the overlaps' mean differences: %.6f MJy/sr before, "
    .. "%.6f predicted after, %.6f measured on the corrected frames",
    first.overlap_rms_before, first.overlap_rms_after, second.overlap_rms_before))
  T.ok(second.overlap_rms_before < 0.5 * first.overlap_rms_before, "RMS at least halved")
  -- interpolation is linear, so the corrected stack shows what the solve predicted
  T.near(second.overlap_rms_before, first.overlap_rms_after, 1e-3 * first.overlap_rms_before)
  local t <close> = mopex.read_table(second.offsets)
  local worst = 0
  for _, v in ipairs(t:column("Offset")) do worst = math.max(worst, math.abs(v)) end
  print(string.format("real ch1: largest offset left after correction: %.2e MJy/sr", worst))
  T.ok(worst < 1e-3 * (first.overlap_rms_before), "nothing left to match")
end)

T.test("corrected frames = input - offset, with OVRLPDC", function()
  local t <close> = mopex.read_table(first.offsets)
  local off = t:column("Offset")
  for _, k in ipairs { 1, 17, 30 } do
    local a <close> = mopex.read(imgs[k])
    local b <close> = mopex.read(first.corrected[k])
    T.near(b:header("OVRLPDC"), off[k], 1e-12)
    T.near(b:get(100, 100), a:get(100, 100) - off[k], 1e-6)
  end
end)

T.done()
