-- test_overlap.lua: Compute Overlap Correction and the zodiacal subtraction
-- through the Lua API: oracle O-14 through the bindings, the schema, and
-- whole runs on simulated frames with known offsets (mopex.simulate ->
-- fiducial_frame -> interpolate -> overlap_correction), covering checklist
-- items 16-24 of overlap.md.
local T = require "testing"
local mopex = require "mopex"
local core = mopex.core

core.log_level("error")

-- ---------------------------------------------------------------------
-- helpers
local function solve(pairs_, o, drop)
  local opts = { top_threshold = 3, bottom_threshold = 3, min_img_num = 4, weight = 0,
                 use_sparse = false, outlier_rule = "std" }
  for k, v in pairs(o or {}) do opts[k] = v end
  return core.bgmatch_solve(pairs_, opts, drop)
end

local BT, SKY = { 1.0, 3.0, -2.0 }, { 7.0, 8.5, 6.0, 9.0 }
local function three(chain)
  local p = core.bgpairs_new(3)
  local function add(m, n)
    for _, s in ipairs(SKY) do p:add(m, n, 0.5, 0.5 * ((s + BT[m]) - (s + BT[n]))) end
  end
  add(1, 2)
  if not chain then add(1, 3) end
  add(2, 3)
  return p
end

local function mean(t, skip)
  local s, n = 0, 0
  for k, v in ipairs(t) do
    if not (skip and skip[k]) then s, n = s + v, n + 1 end
  end
  return s / n
end

-- A simulated run up to the interpolated stack.
local function stack(name, sim_opts, interp_opts)
  local dir = T.tmpdir("overlap/" .. name)
  -- a flat sky: the one source lies 2 degrees away (the truth tables are never empty);
  -- the few cosmic rays are flagged (bit 9, fatal in the DCE pattern), so they are
  -- masked like on real data and leave the offsets exact
  local so = { out_dir = dir .. "/sim", sources = { { ra = 122.1, dec = -9.07, flux = 1 } },
               cosmics = 20, cosmic_flag_fraction = 1, hot_pixels = 0, nx = 128, ny = 128,
               dither_scale = 20, seed = 5 }
  for k, v in pairs(sim_opts or {}) do so[k] = v end
  local sim = mopex.simulate(so)
  local fif = mopex.fiducial_frame { images = sim.images, output_dir = dir }
  local io_ = { images = sim.images, sigmas = sim.sigmas, dce_masks = sim.dce_masks, output_dir = dir,
                pipeline = "overlap", fif = fif.fif }
  for k, v in pairs(interp_opts or {}) do io_[k] = v end
  local it = mopex.interpolate(io_)
  local truth = mopex.read_table(sim.offsets):column("Offset")
  return { dir = dir, sim = sim, it = it, truth = truth }
end

local function correct(s, extra)
  local o = { images = s.sim.images, interp_images = s.it.interp_images, interp_coverages = s.it.interp_coverages,
              interp_sigmas = s.it.interp_sigmas, interp_ids = s.it.interp_ids, output_dir = s.dir }
  for k, v in pairs(extra or {}) do o[k] = v end
  return mopex.overlap_correction(o)
end

-- offsets against the truth minus its mean over the non-outliers (of a group)
local function max_error(c, truth, group)
  local skip = {}
  for k, r in ipairs(c.table) do skip[k] = r.outlier or (group and r.group ~= group) end
  local mu = mean(truth, skip)
  local m = 0
  for k, r in ipairs(c.table) do
    if not group or r.group == group then m = math.max(m, math.abs(r.offset - (truth[k] - mu))) end
  end
  return m
end

local function list_lines(path)
  local t = {}
  for l in io.lines(path) do if l ~= "" then t[#t + 1] = l end end
  return t
end

-- ---------------------------------------------------------------------
T.test("O-14 through the bindings", function()
  for _, sparse in ipairs { false, true } do
    local r = solve(three(false), { use_sparse = sparse })
    T.near(r.offset[1], 1 / 3, 1e-12)
    T.near(r.offset[2], 7 / 3, 1e-12)
    T.near(r.offset[3], -8 / 3, 1e-12)
    T.near(r.del_raw[1], 0.57735026918962573, 1e-12)
    T.near(r.del_raw[3], 0, 1e-15)
    T.near(r.del[2], 1 / 3, 1e-12)
    T.eq(r.used_sparse, sparse)
    r = solve(three(true), { use_sparse = sparse })
    T.near(r.offset[1], 1 / 3, 1e-12)
    T.near(r.del_raw[1], 1.0, 1e-12)
    T.near(r.del_raw[2], 0.70710678118654752, 1e-12)
    r = solve(three(false), { use_sparse = sparse, weight = 1 })
    T.near(r.offset[1], 0.285714285714, 1e-11)
    T.near(r.offset[2], 2.0, 1e-12)
    T.near(r.offset[3], -2.285714285714, 1e-11)
    -- inconsistent pair differences
    local p = core.bgpairs_new(3)
    p:add(1, 2, 0.5, 0.5 * (0 - 1.9))
    p:add(1, 3, 0.5, 0.5 * 3.0)
    p:add(2, 3, 0.5, 0.5 * 5.2)
    r = solve(p, { use_sparse = sparse })
    T.near(r.offset[1], 0.366667, 1e-6)
    T.near(r.offset[2], 2.366667, 1e-6)
    T.near(r.offset[3], -2.733333, 1e-6)
    -- 10-frame chain, frame 10 at +10
    p = core.bgpairs_new(10)
    for m = 1, 9 do p:add(m, m + 1, 0.5, 0.5 * (m == 9 and -10 or 0)) end
    for _, rule in ipairs { "std", "std_n" } do
      r = solve(p, { use_sparse = sparse, top_threshold = 2.5, bottom_threshold = 2.5, outlier_rule = rule })
      T.eq(r.outlier[10], 1)
      T.near(r.offset[10], 10, 1e-12)
      T.near(r.offset[1], 0, 1e-12)
      r = solve(p, { use_sparse = sparse, outlier_rule = rule })
      T.eq(r.outlier[10], 0)
      T.near(r.offset[10], 9, 1e-12)
      T.near(r.offset[5], -1, 1e-12)
    end
  end
end)

T.test("UNSUCCESSFUL_SOLUTION (checklist 23)", function()
  local p = core.bgpairs_new(3)
  p:add(1, 2, 1, 0.5)
  p:add(2, 3, math.huge, 0)
  T.raises(function() solve(p) end, "UNSUCCESSFUL_SOLUTION", true)
  T.eq(core.last_status(), "numeric")
  T.raises(function() solve(p, { use_sparse = true }) end, "UNSUCCESSFUL_SOLUTION: ", true)
end)

T.test("schema: classic names and defaults", function()
  local S = mopex.schema
  local idx = S.classic_index("overlap")
  local m = S.get("overlap_correction")
  T.eq(idx.blocks["computeovrlapcorrin"].module, m)
  T.eq(idx.blocks["computeoverlapcorrin"].module, m)
  T.eq(idx.triggers["compute_overlap_correction"], m)
  local b = idx.blocks["computeovrlapcorrin"].keys
  T.eq(b["top_threshold"].name, "top_threshold")
  T.eq(b["bottom_threshold"].name, "bottom_threshold")
  T.eq(b["min_img_num"].name, "min_img_num")
  T.eq(b["weight"].name, "weight")
  T.eq(b["use_sparse_for_many_files"].name, "use_sparse")
  T.eq(b["skip_bad_image_check"].name, "skip_bad_image_check")
  T.eq(idx.globals["apply_overlap_correction"][1].param.name, "apply")
  T.eq(idx.globals["overlap_corr_dir"][1].param.name, "out_dir")
  local z = S.get("zodi_subtract")
  local function has_global(key, mod)
    for _, e in ipairs(idx.globals[key] or {}) do if e.module == mod then return true end end
    return false
  end
  T.ok(has_global("apply_zodiacal_correction", z))
  T.ok(has_global("save_zodiacal_subtracted_images", z))
  T.ok(has_global("zodsub_dir", z))
  local v = S.validate(m, { interp_images = { "x.fits" } })
  T.eq(v.top_threshold, 3)
  T.eq(v.bottom_threshold, 3)
  T.eq(v.min_img_num, 4)
  T.eq(v.weight, 0)
  T.eq(v.use_sparse, false)
  T.eq(v.skip_bad_image_check, false)
  T.eq(v.apply, false)
  T.eq(v.out_dir, "Overlap_corr")
  -- the stack comes from the pipeline's current values (Interpolate's products)
  T.ok(m.by_name.interp_images.input and m.by_name.interp_coverages.input and m.by_name.interp_sigmas.input)
  T.raises(function() mopex.overlap_correction { images = { "x.fits" } } end,
    "option 'interp_images' is required")
  T.eq(S.validate(z, {}).out_dir, "Zod_Sub")
  T.raises(function() mopex.overlap_correction { interp_images = { "x.fits" }, top_treshold = 2 } end,
    "did you mean 'top_threshold'")
  T.raises(function() mopex.overlap_correction { interp_images = { "x.fits" }, weight = -1 } end,
    "'weight' must be >= 0")
end)

T.test("2000 random frames: dense and sparse agree; two disconnected groups", function()
  local p, truth = core.bgpairs_synthetic { kind = "random", n = 2000, extra = 6000, same = 200,
                                             sigma = 0.1, offset_sigma = 1, noise = true, seed = 4 }
  local d = solve(p)
  local s = solve(p, { use_sparse = true })
  T.eq(d.used_sparse, false)
  T.eq(s.used_sparse, true)
  local m, md = 0, 0
  for k = 1, 2000 do
    m = math.max(m, math.abs(d.offset[k] - s.offset[k]))
    md = math.max(md, math.abs(d.del[k] - s.del[k]))
  end
  T.ok(m < 1e-9, "offsets differ by " .. m)
  T.ok(md < 1e-9, "del_Offset differ by " .. md)
  -- two maps side by side, noise-free: two groups, each at its own zero sum
  local a, ta = core.bgpairs_synthetic { kind = "map", rows = 6, cols = 5, ndither = 4, same = 800,
                                          side = 150, corner = 10, sigma = 0.02, noise = false, seed = 1 }
  local b, tb = core.bgpairs_synthetic { kind = "map", rows = 4, cols = 4, ndither = 3, same = 800,
                                          side = 150, corner = 0, sigma = 0.02, noise = false, seed = 2 }
  local na, nb = a:nframes(), b:nframes()
  local q = core.bgpairs_new(na + nb)
  for m1 = 1, na do
    for n1 = m1 + 1, na do
      local w, dd = a:get(m1, n1)
      if w > 0 then q:add(m1, n1, w, dd) end
    end
  end
  for m1 = 1, nb do
    for n1 = m1 + 1, nb do
      local w, dd = b:get(m1, n1)
      if w > 0 then q:add(na + m1, na + n1, w, dd) end
    end
  end
  for _, sparse in ipairs { false, true } do
    local r = solve(q, { use_sparse = sparse })
    T.eq(r.ngroups, 2)
    T.eq(r.group_sizes, { na, nb })
    local sa, sb = 0, 0
    for k = 1, na do if r.outlier[k] == 0 then sa = sa + r.offset[k] end end
    for k = 1, nb do if r.outlier[na + k] == 0 then sb = sb + r.offset[na + k] end end
    T.near(sa, 0, 1e-10)
    T.near(sb, 0, 1e-10)
    local skip = {}
    for k = 1, na do skip[k] = r.outlier[k] == 1 end
    local mua = mean(ta, skip)
    for k = 1, na do T.near(r.offset[k], ta[k] - mua, 1e-9) end
  end
  T.ok(tostring(q):match("BgPairs %(%d+ frames, %d+ pairs%)"))
  q:close()
  T.raises(function() q:count() end, "closed")
end)

-- ---------------------------------------------------------------------
-- whole runs
local flat = stack("flat", { nframes = 12, noise = false })

T.test("noise-free dither: offsets = truth - mean to 1e-6 (checklist 16, 21, 22)", function()
  local c = correct(flat, { apply = false })
  T.eq(c.groups, 1)
  T.eq(c.solver, "dense")
  T.ok(max_error(c, flat.truth) < 1e-6, "max error " .. max_error(c, flat.truth))
  -- offsets.tbl: columns, types, one row per input, in list order
  local t <close> = mopex.read_table(c.offsets)
  T.eq(t:nrows(), 12)
  T.eq(t:columns(), { "Image_id", "Offset", "del_Offset", "outliers" })
  T.eq(t:type("Image_id"), "int")
  T.eq(t:type("Offset"), "double")
  T.eq(t:type("del_Offset"), "double")
  T.eq(t:type("outliers"), "int")
  local ids, offs, dels = t:column("Image_id"), t:column("Offset"), t:column("del_Offset")
  for k = 1, 12 do
    T.eq(ids[k], k)
    T.near(offs[k], c.table[k].offset, 0)
    T.near(dels[k], c.table[k].del, 0)
    T.ok(c.table[k].del > 0 and c.table[k].del < 1e-3)
  end
  T.eq(t:keyword("DEL_OFFSET"), "exact")
  -- without apply: no corrected images (checklist 21)
  T.eq(#c.corrected, 0)
  T.eq(c.lists.corrected, nil)
  T.eq(c.images, nil)
  T.ok(not mopex.core.file_exists(flat.dir .. "/Overlap_corr/overlapCorrection_ImageList.txt"))
  -- the sparse solver gives the same offsets (checklist 22)
  local s = correct(flat, { use_sparse = true })
  T.eq(s.solver, "sparse")
  for k = 1, 12 do
    T.near(s.table[k].offset, c.table[k].offset, 1e-9)
    T.near(s.table[k].del, c.table[k].del, 1e-9)
  end
  -- any thread count: the same bits
  core.threads(1)
  local c1 = correct(flat)
  core.threads(2)
  local c2 = correct(flat)
  core.threads(0)
  for k = 1, 12 do
    T.eq(c1.table[k].offset, c2.table[k].offset)
    T.eq(c1.table[k].del, c2.table[k].del)
  end
  -- the list files of Mosaic Interpolate give the same answer
  local l = mopex.overlap_correction { images = flat.sim.images, interp_images = flat.it.lists.interp_images,
    interp_coverages = flat.it.lists.interp_coverages, interp_sigmas = flat.it.lists.interp_sigmas,
    output_dir = flat.dir }
  for k = 1, 12 do T.eq(l.table[k].offset, c1.table[k].offset) end
end)

T.test("apply: corrected copies and header keywords (checklist 21)", function()
  local c = correct(flat, { apply = true })
  local inputs = core.read_list(flat.sim.images)
  T.eq(#c.corrected, 12)
  T.eq(c.images, c.corrected)
  T.eq(list_lines(c.lists.corrected), c.corrected)
  T.ok(c.corrected[3]:match("Overlap_corr/overlapCorrection_[^/]+_cbcd%.fits$"), c.corrected[3])
  for _, k in ipairs { 1, 7, 12 } do
    local a <close> = mopex.read(inputs[k])
    local b <close> = mopex.read(c.corrected[k])
    T.near(b:header("OVRLPDC"), c.table[k].offset, 0)
    T.near(b:header("OVRLPDCD"), c.table[k].del, 0)
    T.eq(b:header("OVRLPOUT"), 0)
    T.eq(b:header("BUNIT"), a:header("BUNIT"))
    local nx, ny = a:size()
    T.eq({ b:size() }, { nx, ny })
    local maxd, nan_ok = 0, true
    for y = 1, ny, 9 do
      local ra, rb = a:row(y), b:row(y)
      for x = 1, nx do
        if ra[x] ~= ra[x] then
          nan_ok = nan_ok and rb[x] ~= rb[x]
        else
          maxd = math.max(maxd, math.abs(rb[x] - (ra[x] - c.table[k].offset)))
        end
      end
    end
    T.ok(maxd < 1e-6, "corrected pixel off by " .. maxd)
    T.ok(nan_ok, "NaN pixels must stay NaN")
  end
end)

T.test("adding a constant to every input changes no offset (checklist 18)", function()
  local dir = T.tmpdir("overlap/plus1")
  local noisy = stack("noisy12", { nframes = 12, noise = true, seed = 9 })
  local inputs = core.read_list(noisy.sim.images)
  local raised = {}
  for k, p in ipairs(inputs) do
    local img <close> = mopex.read(p)
    local nx, ny = img:size()
    for y = 1, ny do
      local r = img:row(y)
      for x = 1, nx do r[x] = r[x] + 1.0 end
      img:set_row(y, r)
    end
    raised[k] = dir .. "/" .. p:match("([^/]*)$")
    img:write(raised[k])
  end
  local fif = mopex.fiducial_frame { images = raised, output_dir = dir }
  local it = mopex.interpolate { images = raised, sigmas = noisy.sim.sigmas, dce_masks = noisy.sim.dce_masks,
                                 output_dir = dir, pipeline = "overlap", fif = fif.fif }
  local a = correct(noisy)
  local b = mopex.overlap_correction { images = raised, interp_images = it.interp_images,
    interp_coverages = it.interp_coverages, interp_sigmas = it.interp_sigmas, interp_ids = it.interp_ids,
    output_dir = dir }
  for k = 1, 12 do T.near(b.table[k].offset, a.table[k].offset, 1e-6) end
end)

T.test("with noise: error below 1% of the pixel noise", function()
  -- a frame's offset error is about the mean of its own pixel noise, sigma/sqrt(N_pix):
  -- 512 x 512 frames put it near 0.002 sigma, the largest of 12 near 0.004 sigma
  local s = stack("noise", { nframes = 12, noise = true, nx = 512, ny = 512, seed = 21 })
  local c = correct(s)
  -- the pixel noise: the median of a simulated uncertainty image
  local sig <close> = mopex.read(core.read_list(s.sim.sigmas)[1])
  local st = sig:stats()
  local err = max_error(c, s.truth)
  T.ok(st.median > 0.005 and st.median < 0.05)
  T.ok(err < 0.01 * st.median, string.format("max error %.3g vs 1%% of sigma %.3g", err, st.median))
  -- and the errors are real, not zero
  T.ok(err > 1e-7)
end)

T.test("two disconnected groups from the simulator, each levelled", function()
  local s = stack("groups", { pattern = "two_groups", nframes = 16, ndither = 4, noise = false,
                              group_separation = 8, map_overlap = 0.3 })
  local c = correct(s)
  T.eq(c.groups, 2)
  local frames <close> = mopex.read_table(s.sim.frames)
  local grp = frames:column("grp")
  local g1 = c.table[1].group
  for k = 1, #grp do
    -- the solver numbers groups by their first frame; the simulator by its plan
    T.eq(c.table[k].group == g1, grp[k] == grp[1])
  end
  for g = 1, 2 do
    local sum = 0
    for _, r in ipairs(c.table) do if r.group == g and not r.outlier then sum = sum + r.offset end end
    T.near(sum, 0, 1e-9)
    T.ok(max_error(c, s.truth, g) < 1e-6, "group " .. g .. ": " .. max_error(c, s.truth, g))
  end
end)

T.test("two identical frames, one raised by d (checklist 17)", function()
  local d = 0.3
  local s = stack("pair", { pattern = "list", pointings = { { ra = 120.03, dec = -9.07 }, { ra = 120.03, dec = -9.07 } },
                            offsets = { d, 0 }, noise = false, pointing_jitter = 0, rotation_jitter = 0,
                            dead_pixels = 0 })
  local c = correct(s, { apply = true })
  T.near(c.table[1].offset, d / 2, 1e-6)
  T.near(c.table[2].offset, -d / 2, 1e-6)
  local a <close> = mopex.read(c.corrected[1])
  local b <close> = mopex.read(c.corrected[2])
  local masks = core.read_list(s.sim.dce_masks)
  local ma <close> = mopex.read_mask(masks[1])
  local mb <close> = mopex.read_mask(masks[2])
  local nx, ny = a:size()
  local m, used = 0, 0
  for y = 1, ny do
    local ra, rb, fa, fb = a:row(y), b:row(y), ma:row(y), mb:row(y)
    for x = 1, nx do
      -- pixels the DCE masks flag (cosmic rays, defects) are not data
      if ra[x] == ra[x] and fa[x] & 32544 == 0 and fb[x] & 32544 == 0 then
        m = math.max(m, math.abs(ra[x] - rb[x]))
        used = used + 1
      end
    end
  end
  T.ok(used > 0.95 * nx * ny)
  T.ok(m < 1e-6, "corrected frames differ by " .. m)
end)

T.test("MIN_IMG_NUM and outliers (checklist 19, 20)", function()
  -- three frames, one far off: fewer than MIN_IMG_NUM, so no outlier; zero sum
  local s3 = stack("three", { nframes = 3, noise = false, offsets = { 0.0, 0.01, 5.0 } })
  local c = correct(s3)
  local sum = 0
  for _, r in ipairs(c.table) do
    T.eq(r.outlier, false)
    sum = sum + r.offset
  end
  T.near(sum, 0, 1e-9)
  -- twelve frames, one 1 MJy/sr off: flagged, outside the zero sum, still applied
  local offs = { 0.01, -0.02, 0.0, 0.015, -0.01, 0.005, -0.005, 0.02, 1.0, -0.015, 0.0, 0.012 }
  local s = stack("outlier", { nframes = 12, noise = false, offsets = offs })
  c = correct(s, { apply = true })
  local nout, sum_in = 0, 0
  for k, r in ipairs(c.table) do
    if r.outlier then nout = nout + 1 else sum_in = sum_in + r.offset end
  end
  T.eq(nout, 1)
  T.eq(c.table[9].outlier, true)
  T.near(sum_in, 0, 1e-9)
  local mu = 0
  for k, v in ipairs(offs) do if k ~= 9 then mu = mu + v / 11 end end
  T.near(c.table[9].offset, 1.0 - mu, 1e-6)
  local img <close> = mopex.read(c.corrected[9])
  T.eq(img:header("OVRLPOUT"), 1)
  T.near(img:header("OVRLPDC"), c.table[9].offset, 0)
  local t <close> = mopex.read_table(c.offsets)
  T.eq(t:column("outliers")[9], 1)
end)

T.test("bad image check and Image_id mapping", function()
  -- leave frame 3 out of the interpolated stack
  local ids, im, cv, sg = {}, {}, {}, {}
  for k = 1, 12 do
    if k ~= 3 then
      ids[#ids + 1], im[#im + 1] = k, flat.it.interp_images[k]
      cv[#cv + 1], sg[#sg + 1] = flat.it.interp_coverages[k], flat.it.interp_sigmas[k]
    end
  end
  local o = { images = flat.sim.images, interp_images = im, interp_coverages = cv, interp_sigmas = sg,
              output_dir = flat.dir, interp_ids = ids }
  local c = mopex.overlap_correction(o)
  T.eq(c.dropped, { 3 })
  T.eq(c.table[3].group, -1)
  T.eq(c.table[3].offset, 0)
  T.ok(c.table[3].del ~= c.table[3].del)
  T.ok(max_error(c, flat.truth, 1) < 1e-6)
  -- the same through interp_ImageList.txt.tbl, given or found beside the images
  o.interp_ids, o.interp_table = nil, flat.it.table
  local c2 = mopex.overlap_correction(o)
  for k = 1, 12 do T.eq(c2.table[k].offset, c.table[k].offset) end
  o.interp_table = nil
  c2 = mopex.overlap_correction(o)
  for k = 1, 12 do T.eq(c2.table[k].offset, c.table[k].offset) end
  -- counts that differ with no table to say which frame is which
  local lone = T.tmpdir("overlap/lone")
  local copies = {}
  for k = 1, 2 do
    local img <close> = mopex.read(flat.it.interp_images[k])
    copies[k] = lone .. "/i" .. k .. ".fits"
    img:write(copies[k])
  end
  T.raises(function()
    mopex.overlap_correction { images = flat.sim.images, interp_images = copies, output_dir = lone }
  end, "2 interpolated images for 12 input images: give interp_ids or interp_table")
  -- without the check the frame is just isolated
  o.skip_bad_image_check = true
  local c3 = mopex.overlap_correction(o)
  T.eq(c3.dropped, {})
  T.eq(c3.isolated, 1)
  T.eq(c3.table[3].group, 0)
  -- mismatched parallel lists
  o.interp_sigmas = { sg[1] }
  T.raises(function() mopex.overlap_correction(o) end, "has 1 entries")
end)

T.test("zodiacal subtraction (checklist 24)", function()
  local dir = T.tmpdir("overlap/zodi")
  local sim = mopex.simulate { out_dir = dir .. "/sim", nframes = 3, nx = 32, ny = 32,
                               zody_est = 0.09, zody_step = 0.01, skydrkzb = 0.03 }
  local off = mopex.zodi_subtract { images = sim.images, output_dir = dir }
  T.eq(off.applied, false)
  T.eq(off.images, core.read_list(sim.images))
  T.ok(not core.file_exists(dir .. "/Zod_Sub/zodsub_ImageList.txt"))
  local z = mopex.zodi_subtract { images = sim.images, output_dir = dir, apply = true, save = true }
  T.eq(z.temporary, false)
  T.eq(#z.images, 3)
  T.eq(list_lines(z.lists.images), z.images)
  local inputs = core.read_list(sim.images)
  for k = 1, 3 do
    T.ok(z.images[k]:match("/Zod_Sub/[^/]+%.fits$"), z.images[k])
    local a <close> = mopex.read(inputs[k])
    local b <close> = mopex.read(z.images[k])
    local v = a:header("ZODY_EST") - a:header("SKYDRKZB")
    T.near(v, 0.09 + 0.01 * (k - 1) - 0.03, 1e-12)
    T.near(z.values[k], v, 1e-15)
    T.near(b:header("ZODYSUB"), v, 0)
    local ra, rb = a:row(16), b:row(16)
    for x = 1, 32 do
      if ra[x] == ra[x] then T.near(rb[x], ra[x] - v, 1e-6) end
    end
  end
  -- without SKYDRKZB (not IRAC) only ZODY_EST; without ZODY_EST the error names the file
  local img <close> = mopex.read(inputs[1])
  img:delete_header("SKYDRKZB")
  img:write(dir .. "/noirac.fits")
  img:delete_header("ZODY_EST")
  img:write(dir .. "/nozody.fits")
  local z2 = mopex.zodi_subtract { images = { dir .. "/noirac.fits" }, output_dir = dir, apply = true,
                                   out_dir = "Z2" }
  T.near(z2.values[1], 0.09, 1e-12)
  T.eq(z2.temporary, true)
  T.raises(function()
    mopex.zodi_subtract { images = { dir .. "/nozody.fits" }, output_dir = dir, apply = true, out_dir = "Z3" }
  end, "nozody.fits' has neither ZODY_EST nor ZODI_EST", true)
end)

T.done()
