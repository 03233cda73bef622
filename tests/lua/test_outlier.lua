-- test_outlier.lua: the multi-frame outlier modules through mopex.<name>{...}:
-- the kernels on the oracles of algorithms.md 12 (O-2, O-3, O-4) through the
-- bindings, the schemas' classic vocabulary and defaults, the errors that
-- name the module to run first, and a small simulated run (interpolate ->
-- coverage -> outlier / box_outlier -> rmask -> rmask_mosaic) checked
-- against the files and the simulator's cosmic-ray truth.
local T = require "testing"
local mopex = require "mopex"
local S = mopex.schema
local core = mopex.core

local TMP = T.tmpdir("test_outlier")

---------------------------------------------------------------------------------------
T.test("kernels: O-2 temporal (both medians, uncertainty floor, {10, 30})", function()
  local v = { 10, 11, 9, 10, 12, 50, 10, 8 }
  for _, med in ipairs { "upper", "average" } do
    local o, m, s = core.temporal_stack(v, nil, { bottom = 3, top = 3, min_pix_num = 3, median = med })
    T.near(m, 10, 0)
    T.near(s, 1.4825796887, 1e-9)
    T.near(o[6], 26.98, 1e-5)
    T.eq(o[8], 0.0)
    o = core.temporal_stack(v, nil, { bottom = 0, top = 0, min_pix_num = 3, median = med })
    T.near(o[8], -1.349, 1e-5)
  end
  local o, _, s = core.temporal_stack(v, { 2.5, 2, 3, 2.2, 2.1, 4, 2.6, 2.9 }, { bottom = 3, top = 3 })
  T.near(s, 2.0, 0)
  T.near(o[6], 20.0, 1e-6)
  o = core.temporal_stack({ 10, 30 }, { 1, 1 }, { min_pix_num = 3, median = "upper" })
  T.near(o[1], -20, 1e-6); T.near(o[2], 0, 0)
  o = core.temporal_stack({ 10, 30 }, { 1, 1 }, { min_pix_num = 3, median = "average" })
  T.near(o[1], -10, 1e-6); T.near(o[2], 10, 1e-6)
  local _, m2 = core.temporal_stack({ 10, 30 }, nil, { min_pix_num = 3 })
  T.eq(m2, nil) -- no uncertainties, fewer than MIN_PIX_NUM values: no test
end)

T.test("kernels: O-3 box (bias 1 and 0) and O-4 dual stacks A-D", function()
  local A = { 10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.3, 10.1, 10.2 }
  local B = { 60, 75, 80, 90, 100, 85, 70, 65, 95 }
  local box = {}
  for _, x in ipairs(A) do box[#box + 1] = x end
  for _, x in ipairs(B) do box[#box + 1] = x end
  local o, m, s, fb = core.box_stack({ 10.0, 100 }, nil, box, 1)
  T.near(m, 10.3, 1e-6); T.near(s, 0.7412898443, 2e-6); T.eq(fb, false)
  T.near(o[1], -0.4047, 1e-4); T.near(o[2], 121.0053, 2e-3)
  o, m, s = core.box_stack({ 10.0, 100 }, nil, box, 0)
  T.near(m, 60, 0); T.near(o[2], 0.5429, 1e-4)
  local r, n = core.dual_stack({ 0, 0, 12, 0, 0, 0 / 0 }, 3, 0.5)
  T.eq(n, 1); T.eq(r[3], -12.0); T.ok(r[6] ~= r[6])
  T.eq(select(2, core.dual_stack({ 1, 0, 12, 0, 5, 0, 8, 0, 0, 0 }, 3, 0.5)), 0)
  T.eq(select(2, core.dual_stack({ 3, 3, 0, 3, 0 }, 3, 0.5)), 0)
  T.eq(select(2, core.dual_stack({ 7, 7, 7, 7 }, 3, 0.5)), 0)
end)

---------------------------------------------------------------------------------------
T.test("schemas: defaults, classic keys, blocks, triggers, inputs", function()
  local v = S.validate(mopex.outlier, {}, "mosaic")
  T.eq({ v.bottom_threshold, v.top_threshold, v.thresh_option, v.min_pix_num, v.tile_size_x,
         v.tile_size_y, v.out_dir, v.median, v.min_cover }, { 0, 0, 1, 3, 500, 500, "Outlier-mosaic", "upper", 0.5 })
  v = S.validate(mopex.box_outlier, {}, "mosaic")
  T.eq({ v.box_x, v.box_y, v.box_median_bias, v.out_dir }, { 3, 3, 1, "BoxOutlier-mosaic" })
  v = S.validate(mopex.dual_outlier, {}, "mosaic")
  T.eq({ v.max_outl_image, v.max_outl_frac, v.out_dir }, { 2, 0.95, "DualOutlier-mosaic" })
  v = S.validate(mopex.coverage, {}, "mosaic")
  T.eq({ v.tile_max_x, v.tile_max_y, v.out_dir }, { 2000, 2000, "Rmask-mosaic" })
  v = S.validate(mopex.rmask, { images = { "x" } }, "mosaic")
  T.eq({ v.rm_thresh, v.bottom_threshold, v.top_threshold, v.min_coverage, v.max_coverage,
         v.refine_outlier, v.refine_outlier_thresh, v.box_bottom_threshold, v.box_top_threshold,
         v.box_min_coverage, v.use_outlier, v.use_dual_outlier, v.use_box_outlier, v.out_dir },
       { 0.3, 10, 10, 3, 100, true, 10, 10, 10, 1, false, false, false, "Rmask-mosaic" })
  v = S.validate(mopex.rmask_mosaic, {}, "mosaic")
  T.eq({ v.method, v.out_dir }, { 1, "Rmask-mosaic" })
  T.raises(function() mopex.outlier { thresh_option = 3 } end, "must be <= 2")
  T.raises(function() mopex.box_outlier { box_x = 0 } end, "must be >= 1")
  local idx = S.classic_index("mosaic")
  local blocks = {
    MOSAICOUTLIERIN = { "bottom_threshold", "top_threshold", "thresh_option", "min_pix_num",
                        "tile_xsiz", "tile_ysiz" },
    MOSAICBOXOUTLIERIN = { "box_x", "box_y", "box_median_bias", "tile_xsiz", "tile_ysiz" },
    MOSAICDUALOUTLIERIN = { "max_outl_image", "max_outl_frac", "tile_xsiz", "tile_ysiz" },
    MOSAICCOVGIN = { "tilemax_x", "tilemax_y" },
    MOSAICRMASKIN = { "rm_thresh", "bottom_threshold", "top_threshold", "min_coverage",
                      "max_coverage", "refine_outlier", "refine_outlier_thresh",
                      "box_bottom_threshold", "box_top_threshold", "box_min_coverage" },
  }
  for b, keys in pairs(blocks) do
    local blk = idx.blocks[b:lower()]
    T.ok(blk, "block " .. b)
    for _, k in ipairs(keys) do T.ok(blk.keys[k], b .. " key " .. k) end
  end
  for t, m in pairs { run_mosaic_covg = "coverage", run_mosaic_outlier = "outlier",
                      run_mosaic_box_outlier = "box_outlier", run_mosaic_dual_outlier = "dual_outlier",
                      run_mosaic_rmask = "rmask", create_rmask_mosaic = "rmask_mosaic" } do
    T.eq(idx.triggers[t] and idx.triggers[t].name, m)
  end
  for _, k in ipairs { "use_outlier_for_rmask", "use_dual_outlier_for_rmask", "use_box_outlier_for_rmask",
                       "rmask_dir", "outlier_dir", "box_outlier_dir", "dual_outlier_dir" } do
    T.ok(idx.globals[k], "global " .. k)
  end
  local function is_input(m, name) return m.by_name[name] and m.by_name[name].input == true end
  for _, p in ipairs { "interp_images", "interp_coverages", "interp_sigmas", "mosaic_fif" } do
    T.ok(is_input(mopex.outlier, p) and is_input(mopex.box_outlier, p), p)
  end
  T.ok(is_input(mopex.dual_outlier, "proj_detmaps"))
  for _, p in ipairs { "outlier_maps", "dual_maps", "box_outlier_maps", "coverage_map", "dmasks" } do
    T.ok(is_input(mopex.rmask, p), p)
  end
end)

T.test("errors name the module that must run first", function()
  T.raises(function() mopex.outlier { output_dir = TMP } end, "run mopex.interpolate first")
  T.raises(function() mopex.dual_outlier { output_dir = TMP } end, "mopex.projection")
  T.raises(function() mopex.coverage { output_dir = TMP } end, "run mopex.interpolate first")
  T.raises(function() mopex.rmask_mosaic { output_dir = TMP } end, "run mopex.rmask")
end)

---------------------------------------------------------------------------------------
-- A small simulated stack: 8 dithered 96 x 96 frames with cosmic rays.
local sim = mopex.simulate { out_dir = TMP .. "/sim", nframes = 8, nx = 96, ny = 96, seed = 11,
                             pattern = "dither", dither_scale = 6, cosmics = 12, source_density = 3 }
local out = TMP .. "/out"
local fif = mopex.fiducial_frame { images = sim.images, output_dir = out }
local interp = mopex.interpolate { images = sim.images, sigmas = sim.sigmas, dce_masks = sim.dce_masks,
                                   fif = fif.fif, output_dir = out }
local STACK = { interp_images = interp.interp_images, interp_coverages = interp.interp_coverages,
                interp_sigmas = interp.interp_sigmas, mosaic_fif = interp.mosaic_fif, output_dir = out }
local function with(t)
  local o = {}
  for k, v in pairs(STACK) do o[k] = v end
  for k, v in pairs(t) do o[k] = v end
  return o
end

local function covg_opts(t)
  local o = { interp_coverages = interp.interp_coverages, mosaic_fif = interp.mosaic_fif, output_dir = out }
  for k, v in pairs(t or {}) do o[k] = v end
  return o
end

local function same_images(a, b)
  for i = 1, #a do
    local x, y = mopex.read(a[i]), mopex.read(b[i])
    local nx, ny = x:size()
    for r = 1, ny do
      local ra, rb = x:row(r), y:row(r)
      for c = 1, nx do
        local u, w = ra[c], rb[c]
        if not (u == w or (u ~= u and w ~= w)) then return false, a[i], c, r end
      end
    end
  end
  return true
end

T.test("coverage: covg_map is the sum of the coverage maps, for any tiling", function()
  local c = mopex.coverage(covg_opts { tile_max_x = 40, tile_max_y = 30 })
  T.eq(c.coverage_map, out .. "/covg_map.fits")
  T.ok(#c.coverage_tiles > 1)
  local m = mopex.read(c.coverage_map)
  local nx, ny = m:size()
  local total, peak = 0, 0
  for y = 1, ny do
    for _, v in ipairs(m:row(y)) do total = total + v; peak = math.max(peak, v) end
  end
  local want = 0
  for _, p in ipairs(interp.interp_coverages) do
    local cv = mopex.read(p)
    local w, h = cv:size()
    for y = 1, h do for _, v in ipairs(cv:row(y)) do if v > 0 then want = want + v end end end
  end
  T.near(total, want, 1e-5 * want)
  T.near(peak, 8, 1e-4)
  T.near(c.coverage_max, peak, 1e-4)
  local c2 = mopex.coverage(covg_opts { output_dir = out .. "/c2" })
  T.ok(same_images({ c.coverage_map }, { c2.coverage_map }))
end)

local truth = mopex.read_table(sim.cosmics)

T.test("outlier + rmask: strong cosmic rays get bit 1, tiles and threads change nothing", function()
  local t1 = mopex.outlier(with { tile_size_x = 500, tile_size_y = 500 })
  T.eq(#t1.outlier_maps, 8)
  T.ok(t1.outlier_maps[1]:match("Outlier%-mosaic/interp_.*_outlier%.fits$"))
  local nthreads = mopex.threads()
  mopex.threads(3)
  local t2 = mopex.outlier(with { tile_size_x = 23, tile_size_y = 17, out_dir = "Outlier-b" })
  mopex.threads(nthreads)
  T.ok(same_images(t1.outlier_maps, t2.outlier_maps))
  -- THRESH_OPTION 2: accepted, warned about, computed as option 1 (mosaic.md 5.6.14)
  mopex.warnings()
  local t3 = mopex.outlier(with { thresh_option = 2, out_dir = "Outlier-c" })
  local warned = false
  for _, w in ipairs(mopex.warnings()) do warned = warned or w:find("THRESH_OPTION = 2", 1, true) ~= nil end
  T.ok(warned, "THRESH_OPTION 2 warning")
  T.ok(same_images(t1.outlier_maps, t3.outlier_maps))
  local cov = mopex.coverage(covg_opts())
  local r = mopex.rmask { images = sim.images, dce_masks = sim.dce_masks, outlier_maps = t1.outlier_maps,
                          coverage_map = cov.coverage_map, mosaic_fif = interp.mosaic_fif,
                          output_dir = out, use_outlier = true }
  T.eq(#r.rmasks, 8)
  T.ok(r.rmask_counts.temporal > 0)
  T.eq(r.rmask_counts.radhit, 0) -- no Detect Radhit masks among the BCD masks
  -- truth: hits of >= 60 sigma where the coverage is >= 6 must be flagged (a hit shared by four
  -- grid pixels keeps at least 1/4 of its significance in one of them: 15 > TOP = 10)
  local cmap = mopex.read(cov.coverage_map)
  local frames = mopex.read_list(sim.images)
  local masks, srcs = {}, {}
  local found, total = 0, 0
  for _, row in truth:rows() do
    local id = row.Image_id
    if row.significance >= 60 then
      srcs[id] = srcs[id] or mopex.read_wcs(frames[id])
      local ra, dec = srcs[id]:pix2sky(row.x, row.y)
      local gx, gy = cmap:sky2pix(ra, dec)
      if cmap:get(math.floor(gx + 0.5), math.floor(gy + 0.5)) >= 6 then
        masks[id] = masks[id] or mopex.read_mask(r.rmasks[id])
        total = total + 1
        if masks[id]:get(row.x, row.y) & 2 ~= 0 then found = found + 1 end
      end
    end
  end
  print(string.format("  temporal: %d of %d cosmics >= 60 sigma at coverage >= 6 flagged", found, total))
  T.ok(total >= 10)
  T.eq(found, total)
  -- RMask mosaic: positive where bit 1 was set, Combine-mosaic untouched
  local rm = mopex.rmask_mosaic { rmasks = r.rmasks, mosaic_fif = interp.mosaic_fif, output_dir = out }
  T.eq(rm.rmask_mosaic, out .. "/Rmask-mosaic/mosaic.fits")
  local mm = mopex.read(rm.rmask_mosaic)
  local pos = 0
  local w, h = mm:size()
  for y = 1, h do for _, v in ipairs(mm:row(y)) do if v > 0 then pos = pos + 1 end end end
  T.ok(pos > 0)
  T.ok(not mopex.file_exists(out .. "/Combine-mosaic/mosaic.fits"))
  -- a bit without its module
  T.raises(function()
    mopex.rmask { images = sim.images, mosaic_fif = interp.mosaic_fif, output_dir = out, use_box_outlier = true,
                  coverage_map = cov.coverage_map }
  end, "run mopex.box_outlier")
  T.raises(function()
    mopex.rmask { images = sim.images, outlier_maps = t1.outlier_maps, mosaic_fif = interp.mosaic_fif,
                  output_dir = out, use_outlier = true }
  end, "run mopex.coverage")
  -- without coverage_map but with interp_coverages, Mosaic Coverage runs first
  local r2 = mopex.rmask { images = sim.images, outlier_maps = t1.outlier_maps, mosaic_fif = interp.mosaic_fif,
                           interp_coverages = interp.interp_coverages, output_dir = out .. "/r2", use_outlier = true }
  T.eq(r2.rmask_counts.temporal, r.rmask_counts.temporal)
  T.eq(r2.coverage_map, out .. "/r2/covg_map.fits")
end)

T.test("box_outlier: same maps for any tiling; strong hits stand out", function()
  local b1 = mopex.box_outlier(with {})
  local b2 = mopex.box_outlier(with { tile_size_x = 31, tile_size_y = 29, out_dir = "Box-b" })
  T.ok(same_images(b1.box_outlier_maps, b2.box_outlier_maps))
  T.eq(b1.box_outlier_stats.above10, b2.box_outlier_stats.above10)
  T.ok(b1.box_outlier_stats.above10 > 0)
  T.ok(b1.box_outlier_maps[1]:match("BoxOutlier%-mosaic/interp_.*_box_outlier%.fits$"))
end)

T.done()
