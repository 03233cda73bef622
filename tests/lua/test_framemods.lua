-- test_framemods.lua: the per-frame modules through mopex.<name>{...}:
-- medfilter on a real IRAC frame against a window median computed here,
-- detect on simulated noise-free sources, detect_radhit against the
-- simulator's cosmic-ray truth, projection (oracle O-20) and level (oracle
-- O-4) through files, array_corr_files with the real SSC correction image,
-- and the schemas' classic vocabulary. Timings per frame are printed.
local T = require "testing"
local mopex = require "mopex"
local S = mopex.schema

local TMP = T.tmpdir("test_framemods")
local DATA = os.getenv("MOPEX_TEST_DATA")
local function exists(p) local f = io.open(p, "rb"); if f then f:close(); return true end; return false end
local GAMMIT = DATA and (DATA .. "/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_00")
local PHOTCORR = DATA and (DATA .. "/eas342_arrayloc/ch1_photcorr_rj.fits")
local HAVE_DATA = DATA and exists(PHOTCORR) and exists(GAMMIT .. "56_0000_2_cbcd.fits")

local function times(what, t)
  local parts = {}
  for i, s in ipairs(t) do parts[i] = string.format("%.4f", s) end
  print(string.format("  %s: seconds per frame %s", what, table.concat(parts, " ")))
end

local function lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = l end
  return out
end

local function rows_of(img)
  local nx, ny = img:size()
  local r = {}
  for y = 1, ny do r[y] = img:row(y) end
  return r, nx, ny
end

---------------------------------------------------------------------------------------
T.test("schemas: classic keys, aliases, per-pipeline defaults, triggers", function()
  local v = S.validate(mopex.medfilter, { images = { "x" } }, "overlap")
  T.eq(v.sbkg_filter_size, 3)
  T.eq(v.out_dir, "Medfilter-overlap")
  v = S.validate(mopex.medfilter, { images = { "x" } }, "mosaic")
  T.eq(v.sbkg_filter_size, 1)
  T.eq(v.out_dir, "Medfilter-mosaic")
  T.eq({ v.window_x, v.window_y, v.n_outliers, v.use_sbkg, v.min_good, v.min_good_neighbors,
         v.max_bad_pixels }, { 45, 45, 50, false, 9, 4, 100 })
  v = S.validate(mopex.detect, { minback = { "x" } }, "overlap")
  T.eq(v.out_dir, "Detect-overlap")
  T.eq({ v.max_area, v.min_area, v.threshold, v.threshold_type, v.input_type, v.peaks_radius,
         v.max_seg_level, v.neighbor_type, v.n_edge, v.min_peak_fraction, v.ddof },
       { 1000, 0, 3, "simple", "image_input", 1, 50, "sides_only", 0, 0, 1 })
  v = S.validate(mopex.detect_radhit, { minback = { "x" } }, "mosaic")
  T.eq({ v.seg_threshold, v.max_area, v.radhit_threshold, v.radhit_bit, v.out_dir },
       { 3, 3, 10, 9, "Dmask-mosaic" })
  T.eq(S.validate(mopex.level, { dual_maps = { "x" } }, "mosaic").threshold_ratio, 0.5)
  T.eq(S.validate(mopex.projection, { detmaps = { "x" } }, "mosaic").out_dir, "DualOutlier-mosaic")
  T.eq(S.validate(mopex.array_corr_files, { images = { "x" }, corr_image = "c" }).out_dir,
       "Array_Corr_Data")
  T.raises(function() mopex.detect { minback = { "x" }, threshold_type = "fancy" } end,
    "must be one of simple, combo, peak")
  T.raises(function() mopex.detect {} end, "option 'minback' is required")
  T.raises(function() mopex.array_corr_files { images = { "x" } } end,
    "option 'corr_image' is required %(classic ARRAY_CORR_IMAGE%)")

  local mo, ov = S.classic_index("mosaic"), S.classic_index("overlap")
  T.eq(mo.triggers.run_detect_outlier, mopex.detect)
  T.eq(mo.triggers.run_detect_radhit, mopex.detect_radhit)
  T.ok(mo.triggers.run_detect ~= mopex.detect, "run_detect is Overlap's spelling only")
  T.eq(ov.triggers.run_detect, mopex.detect)
  T.eq(ov.triggers.run_detect_outlier, mopex.detect)
  T.eq(mo.triggers.run_mosaic_proj, mopex.projection)
  T.eq(mo.triggers.run_level, mopex.level)
  T.eq(mo.triggers.make_array_corr_files, mopex.array_corr_files)
  T.eq(mo.triggers.run_medfilter, mopex.medfilter)
  T.eq(ov.triggers.run_medfilter, mopex.medfilter)
  -- the keys of the real namelists (shared/data) and of the guide's blocks
  T.eq(mo.blocks.detect.keys.detect_min_peak_fraction.name, "min_peak_fraction")
  T.eq(mo.blocks.detect.keys.detection_min_peak_fraction.name, "min_peak_fraction")
  T.eq(mo.blocks.detect.keys.neighbor_type.name, "neighbor_type")
  T.eq(mo.blocks.medfilter.keys.min_goodneighbours_number.name, "min_good_neighbors")
  T.eq(mo.blocks.medfilter.keys.max_badpixels_outputimage.name, "max_bad_pixels")
  T.eq(mo.blocks.medfilter.keys.sbkg_filt_size_for_med.name, "sbkg_filter_size")
  T.eq(mo.blocks.level.keys.threshold_ratio.name, "threshold_ratio")
  T.eq(mo.blocks.detect_radhit.keys.radhit_threshold.name, "radhit_threshold")
  T.ok(mo.blocks.mosaicprojin ~= nil, "&MOSAICPROJIN is Mosaic Projection's block")
  T.eq(mo.globals.dce_status_mask_radhit_bit[1].param.name, "radhit_bit")
  T.eq(mo.globals.array_corr_image[1].param.name, "corr_image")
  T.eq(mo.globals.dmask_dir[1].module, mopex.detect_radhit)
  -- products of earlier modules are inputs, never namelist keys
  T.ok(mopex.detect.by_name.minback.input and mopex.detect_radhit.by_name.minback.input
       and mopex.projection.by_name.detmaps.input and mopex.level.by_name.dual_maps.input)
  T.ok(S.help_text(mopex.detect_radhit):find("namelist layer decides", 1, true))
end)

---------------------------------------------------------------------------------------
T.test("medfilter on a real frame = the window median computed here", function()
  if not HAVE_DATA then print("  (skipped: no real data)"); return end
  local img_path, msk_path = GAMMIT .. "56_0000_2_cbcd.fits", GAMMIT .. "56_0000_2_bimsk.fits"
  local dir = TMP .. "/medfilter"
  local m = mopex.medfilter { images = { img_path }, dce_masks = { msk_path }, output_dir = dir }
  times("medfilter", m.timings)
  T.eq(m.minback[1], dir .. "/Medfilter-mosaic/SPITZER_I1_46291456_0056_0000_2_cbcd_minback.fits")
  T.eq(lines(m.lists.minback), { m.minback[1] })
  T.eq(m.images, nil, "MedFilter does not replace the current image list")
  local img <close> = mopex.read(img_path)
  local msk <close> = mopex.read_mask(msk_path)
  local sub <close> = mopex.read(m.minback[1])
  local I, nx, ny = rows_of(img)
  local B = rows_of(msk)
  local O = rows_of(sub)
  local function good(x, y)
    local v = I[y][x]
    return v == v and v ~= math.huge and v ~= -math.huge and (B[y][x] & 32544) == 0
  end
  -- NaN exactly at the bad pixels
  local nbad, mismatch = 0, 0
  for y = 1, ny do
    for x = 1, nx do
      local bad = not good(x, y)
      if bad then nbad = nbad + 1 end
      local isnan = O[y][x] ~= O[y][x]
      if bad ~= isnan then mismatch = mismatch + 1 end
    end
  end
  T.eq(mismatch, 0)
  T.eq(m.nan_pixels[1], nbad)
  T.ok(nbad > 9, "the 9 NaN pixels and the fatal DCE bits")
  -- window 45 x 45 (22 on each side), 50 highest dropped, upper median
  local function background(x0, y0)
    local v = {}
    for y = math.max(1, y0 - 22), math.min(ny, y0 + 22) do
      for x = math.max(1, x0 - 22), math.min(nx, x0 + 22) do
        if good(x, y) then v[#v + 1] = I[y][x] end
      end
    end
    table.sort(v)
    local m2 = #v - 50
    return v[m2 // 2 + 1], #v
  end
  for _, p in ipairs({ { 128, 128 }, { 1, 1 }, { 256, 256 }, { 30, 200 }, { 200, 17 }, { 77, 140 } }) do
    local x, y = p[1], p[2]
    if good(x, y) then
      local bg = background(x, y)
      T.near(O[y][x], I[y][x] - bg, 1e-6 * math.max(1, math.abs(I[y][x])),
        string.format("pixel (%d, %d)", x, y))
    end
  end
  local hist = table.concat(sub:header("HISTORY"), "\n")
  T.ok(hist:find("MedFilter: running upper median, window 45 x 45", 1, true), hist)
  T.eq(sub:header("BUNIT"), "MJy/sr")
end)

---------------------------------------------------------------------------------------
T.test("medfilter: masks, PMask, warnings, Sbkg mode", function()
  local dir = TMP .. "/medfilter_small"
  mopex.mkdir_p(dir)
  -- a 60 x 50 ramp 0.01 x + 2 with a bright pixel; mask bit 3 on one pixel,
  -- PMask bit 14 on another
  local img = mopex.image(60, 50, 0.0)
  for y = 1, 50 do for x = 1, 60 do img:set(x, y, 0.01 * x + 2) end end
  img:set(30, 25, 500)
  img:write(dir .. "/a.fits")
  img:close()
  local msk = mopex.mask(60, 50, 16)
  msk:set(10, 10, 8)
  msk:write(dir .. "/a_bimsk.fits")
  msk:close()
  local pm = mopex.mask(60, 50, 16)
  pm:set(40, 40, 16384)
  pm:write(dir .. "/pmask.fits")
  pm:close()
  mopex.warnings()
  local m = mopex.medfilter { images = { dir .. "/a.fits" }, dce_masks = { dir .. "/a_bimsk.fits" },
    pmask = dir .. "/pmask.fits", dce_fatal = 8, output_dir = dir, window_x = 5, window_y = 5,
    n_outliers = 1, max_bad_pixels = 1 }
  local o <close> = mopex.read(m.minback[1])
  T.ok(o:get(10, 10) ~= o:get(10, 10), "DCE bit 3 is fatal with pattern 8")
  T.ok(o:get(40, 40) ~= o:get(40, 40), "PMask bit 14 is fatal with 32767")
  T.eq(m.nan_pixels, { 2 })
  -- a linear ramp minus its running median (window 5, the highest dropped):
  -- the bright pixel is dropped, so its neighbours see the ramp: 0 residual
  -- but for the one-sided shift of the dropped value
  T.near(o:get(20, 20), 0.0, 1e-5)
  T.near(o:get(30, 25), 500 - (0.01 * 30 + 2), 1e-4)
  local w = table.concat(mopex.warnings(), "\n")
  T.ok(w:find("has 2 NaN pixels, more than Max_Bad_Pixels_OutputImage = 1", 1, true), w)
  mopex.medfilter { images = { dir .. "/a.fits" }, dce_masks = { dir .. "/a_bimsk.fits" }, dce_fatal = 0,
    output_dir = dir, out_dir = "zero" }
  w = table.concat(mopex.warnings(), "\n")
  T.ok(w:find("DCE_Status_Mask_Fatal_BitPattern is 0", 1, true), w)
  -- Sbkg panels of 15 x 25 (an odd count of distinct values, so the upper
  -- median is the mean) reproduce the linear ramp (spline, linear
  -- extrapolation); the panel with the clipped bright pixel is off by 3e-4
  local s = mopex.medfilter { images = { dir .. "/a.fits" }, output_dir = dir, out_dir = "sbkg",
    use_sbkg = true, window_x = 15, window_y = 25, sbkg_filter_size = 1 }
  local so <close> = mopex.read(s.minback[1])
  T.near(so:get(5, 45), 0.0, 1e-3)
  T.near(so:get(58, 3), 0.0, 1e-3)
  T.near(so:get(30, 25), 500 - (0.01 * 30 + 2), 2e-3)
  T.raises(function()
    mopex.medfilter { images = { dir .. "/a.fits" }, dce_masks = { dir .. "/a_bimsk.fits", dir .. "/a.fits" },
      output_dir = dir }
  end, "DCE status mask list has 2 entries")
  T.raises(function() mopex.medfilter { images = { dir .. "/a.fits" }, pmask = dir .. "/none.fits" } end,
    "PMask '" .. dir .. "/none.fits' does not exist", true)
end)

---------------------------------------------------------------------------------------
-- A grid of sources, in sky coordinates, inside every frame of a small dither.
local function source_grid(n_side, lo, hi, flux_of)
  local f = mopex.simulate { render_frame = 1, nframes = 1, cosmics = 0, noise = false,
    sources = {}, hot_pixels = 0, dead_pixels = 0, nan_pixels = 0, dither_scale = 0,
    pointing_jitter = 0 }
  local src = {}
  local step = (hi - lo) / (n_side - 1)
  for j = 0, n_side - 1 do
    for i = 0, n_side - 1 do
      local ra, dec = f.image:pix2sky(lo + i * step + 0.3, lo + j * step - 0.2)
      src[#src + 1] = { ra = ra, dec = dec, flux = flux_of(#src + 1) }
    end
  end
  f.image:close(); f.sigma:close(); f.mask:close()
  return src
end

T.test("detect labels every simulated source once", function()
  local src = source_grid(5, 40, 216, function(k) return 200 + 150 * k end)
  local dir = TMP .. "/detect"
  -- frames rendered in memory (no truth tables: there are no cosmic rays)
  mopex.mkdir_p(dir)
  local frames, masks = {}, {}
  for k = 1, 3 do
    local f = mopex.simulate { render_frame = k, nframes = 3, seed = 5, noise = false, cosmics = 0,
      hot_pixels = 0, dead_pixels = 0, nan_pixels = 0, sources = src, dither_scale = 6 }
    frames[k] = string.format("%s/frame%d_cbcd.fits", dir, k)
    masks[k] = string.format("%s/frame%d_bimsk.fits", dir, k)
    f.image:write(frames[k]); f.mask:write(masks[k])
    f.image:close(); f.sigma:close(); f.mask:close()
  end
  local m = mopex.medfilter { images = frames, dce_masks = masks, output_dir = dir }
  local d = mopex.detect { minback = m.minback, output_dir = dir, pipeline = "mosaic" }
  times("detect", d.timings)
  T.eq(#d.detmaps, 3)
  T.eq(lines(d.lists.detmaps), d.detmaps)
  for k, path in ipairs(d.detmaps) do
    T.eq(path, string.format("%s/Detect-mosaic/frame%d_cbcd_detmap.fits", dir, k))
    T.eq(d.detections[k], #src, "one cluster per source, nothing else")
    local map <close> = mopex.read(path)
    local cb <close> = mopex.read(frames[k])
    T.eq(map:bitpix(), 32)
    T.eq(map:header("NDETECT"), #src)
    T.eq(map:header("BUNIT"), nil)
    T.eq(map:header("CTYPE1"), "RA---TAN-SIP", "the WCS is kept for Mosaic Projection")
    local seen = {}
    for s, e in ipairs(src) do
      local x, y = cb:sky2pix(e.ra, e.dec)
      local lab = map:get(math.floor(x + 0.5), math.floor(y + 0.5))
      T.ok(lab >= 1 and lab <= #src, string.format("source %d at (%.1f, %.1f): label %d", s, x, y, lab))
      T.ok(not seen[lab], "label " .. lab .. " used twice")
      seen[lab] = s
    end
    -- every detected pixel is near its source
    local R, nx, ny = rows_of(map)
    local far = 0
    for y = 1, ny do
      for x = 1, nx do
        local lab = R[y][x]
        if lab > 0 then
          local e = src[seen[lab]]
          local sx, sy = cb:sky2pix(e.ra, e.dec)
          if math.abs(sx - x) > 8 or math.abs(sy - y) > 8 then far = far + 1 end
        end
      end
    end
    T.eq(far, 0)
  end
end)

---------------------------------------------------------------------------------------
T.test("detect_radhit flags the simulated cosmic rays, not the stars", function()
  local src = source_grid(3, 50, 200, function() return 400 end)
  local dir = TMP .. "/radhit"
  local sim = mopex.simulate { out_dir = dir .. "/sim", nframes = 3, seed = 21, cosmics = 40,
    cosmic_min_sigma = 12, cosmic_max_sigma = 400, hot_pixels = 0, dead_pixels = 0,
    sources = src, dither_scale = 6 }
  local m = mopex.medfilter { images = sim.images, dce_masks = sim.dce_masks, output_dir = dir }
  local r = mopex.detect_radhit { minback = m.minback, dce_masks = sim.dce_masks, output_dir = dir }
  times("detect_radhit", r.timings)
  T.eq(#r.dce_masks, 3)
  T.eq(lines(r.lists.dce_masks), r.dce_masks)
  T.ok(r.dce_masks[1]:find("/Dmask%-mosaic/SPITZER_I1_40000000_0000_0000_1_cbcd_dmask%.fits$"))
  -- truth: hits grouped by frame
  local t <close> = mopex.read_table(sim.cosmics)
  local ids, hits, xs, ys = t:column("Image_id"), t:column("hit"), t:column("x"), t:column("y")
  local sig = t:column("significance")
  local frames = mopex.read_list(sim.images)
  local bimsk = mopex.read_list(sim.dce_masks)
  local checked_small, checked_big = 0, 0
  for k = 1, 3 do
    local cb <close> = mopex.read(frames[k])
    local stars = {}
    for _, e in ipairs(src) do
      local x, y = cb:sky2pix(e.ra, e.dec)
      stars[#stars + 1] = { x, y }
    end
    local byhit = {}
    for i = 1, #ids do
      if ids[i] == k then
        local h = byhit[hits[i]] or {}
        byhit[hits[i]] = h
        h[#h + 1] = { xs[i], ys[i], sig[i] }
      end
    end
    local allpix = {}
    for _, h in pairs(byhit) do for _, p in ipairs(h) do allpix[#allpix + 1] = p end end
    local dm <close> = mopex.read_mask(r.dce_masks[k])
    local bm <close> = mopex.read_mask(bimsk[k])
    T.eq(dm:bitpix(), 16)
    local D, nx, ny = rows_of(dm)
    local Bm = rows_of(bm)
    local function flagged(x, y) return (D[y][x] & 512) ~= 0 end
    local function near_star(x, y, d)
      for _, s in ipairs(stars) do
        if math.abs(s[1] - x) <= d and math.abs(s[2] - y) <= d then return true end
      end
      return false
    end
    for _, h in pairs(byhit) do
      local isolated = true
      for _, p in ipairs(h) do
        if near_star(p[1], p[2], 8) then isolated = false end
        for _, q in ipairs(allpix) do
          local own = false
          for _, o in ipairs(h) do if o[1] == q[1] and o[2] == q[2] then own = true end end
          if not own and math.abs(q[1] - p[1]) <= 2 and math.abs(q[2] - p[2]) <= 2 then isolated = false end
        end
      end
      if isolated then
        -- a track may run diagonally: Detect Radhit sees its side-connected pieces
        local comp, ncomp = {}, 0
        for i = 1, #h do
          if not comp[i] then
            ncomp = ncomp + 1
            comp[i] = ncomp
            local stack = { i }
            while #stack > 0 do
              local a = table.remove(stack)
              for b = 1, #h do
                if not comp[b] and math.abs(h[a][1] - h[b][1]) + math.abs(h[a][2] - h[b][2]) == 1 then
                  comp[b] = ncomp
                  stack[#stack + 1] = b
                end
              end
            end
          end
        end
        for c = 1, ncomp do
          local size, nfl, smax = 0, 0, 0
          for i = 1, #h do
            if comp[i] == c then
              size = size + 1
              smax = math.max(smax, h[i][3])
              if flagged(h[i][1], h[i][2]) then nfl = nfl + 1 end
            end
          end
          -- above 15 sigma, noise cannot pull a piece under Radhit_Threshold
          -- (10); every hit pixel is above 12 sigma, so far above the
          -- segmentation threshold (3)
          if size <= 3 and smax >= 15 then
            T.eq(nfl, size, string.format("frame %d: cosmic-ray piece of %d pixels near (%d, %d)", k,
              size, h[1][1], h[1][2]))
            checked_small = checked_small + 1
          elseif size > 3 then
            T.eq(nfl, 0, string.format("frame %d: a 4-pixel track is larger than Detection_Max_Area", k))
            checked_big = checked_big + 1
          end
        end
      end
    end
    -- no star core, no pixel away from a hit; every other bit is the bimsk's
    local stray, core, copy, n512 = 0, 0, 0, 0
    for y = 1, ny do
      for x = 1, nx do
        if flagged(x, y) then
          n512 = n512 + 1
          if near_star(x, y, 3) then core = core + 1 end
          local nearhit = false
          for _, q in ipairs(allpix) do
            if math.abs(q[1] - x) <= 1 and math.abs(q[2] - y) <= 1 then nearhit = true end
          end
          if not nearhit then stray = stray + 1 end
        end
        if (D[y][x] & ~512) ~= Bm[y][x] then copy = copy + 1 end
      end
    end
    T.eq(core, 0, "star cores are not radhits")
    T.eq(stray, 0, "no flagged pixel away from a cosmic ray")
    T.eq(copy, 0, "the DCE mask is copied")
    T.eq(n512, r.radhit_pixels[k])
    T.eq(dm:header("NRADHIT"), n512)
  end
  print(string.format("  detect_radhit: %d isolated small cosmic-ray pieces flagged, %d 4-pixel tracks left",
    checked_small, checked_big))
  T.ok(checked_small >= 40, "enough small hits checked")
  -- a Radhit_Threshold above every hit flags nothing
  local r2 = mopex.detect_radhit { minback = m.minback, output_dir = dir .. "/high", radhit_threshold = 5000 }
  T.eq(r2.radhit_pixels, { 0, 0, 0 })
end)

---------------------------------------------------------------------------------------
T.test("projection: oracle O-20 through files", function()
  local dir = TMP .. "/projection"
  mopex.mkdir_p(dir)
  local map = mopex.mask(2, 2, 32)
  map:set(1, 1, 7)
  map:set_wcs(mopex.wcs_simple { ctype = { "RA---TAN", "DEC--TAN" }, crval = { 150, 2 },
    crpix = { 1, 1 }, cdelt = { -1e-4, 1e-4 }, crota2 = 0 })
  map:write(dir .. "/a_detmap.fits")
  map:close()
  -- grid = map + 1.5 pixels
  mopex.core.write_fif(dir .. "/mosaic_fif.tbl", { crval1 = 150, crval2 = 2, crpix1 = 2.5, crpix2 = 2.5,
    cdelt1 = -1e-4, cdelt2 = 1e-4, crota2 = 0, naxis1 = 6, naxis2 = 6 })
  local p = mopex.projection { detmaps = { dir .. "/a_detmap.fits" }, fif = dir .. "/mosaic_fif.tbl",
    output_dir = dir }
  times("projection", p.timings)
  T.eq(p.proj_detmaps, { dir .. "/DualOutlier-mosaic/proj_a_detmap.fits" })
  T.eq(lines(p.lists.proj_detmaps), p.proj_detmaps)
  T.eq(p.proj_offsets[1], { xoff = 1, yoff = 1, naxis1 = 3, naxis2 = 3, written = true })
  local o <close> = mopex.read(p.proj_detmaps[1])
  -- output pixel centred on map (0.5, 0.5) -> 7; on (1.5, 1.5) -> 0 (0-based)
  T.eq(o:get(2, 2), 7.0)
  T.eq(o:get(3, 3), 0.0)
  T.eq({ o:row(1), o:row(2), o:row(3) }, { { 7, 7, 0 }, { 7, 7, 0 }, { 0, 0, 0 } })
  T.eq(o:header("MINTOFFX"), 1)
  T.eq(o:header("MINTOFFY"), 1)
  T.near(o:header("CRPIX1"), 1.5, 1e-12)
  local tb <close> = mopex.read_table(p.proj_table)
  T.eq(tb:column("xoff"), { 1 })
  T.eq(tb:column("naxis1"), { 3 })
  T.eq(tb:column("fname"), p.proj_detmaps)
  -- the same with the WCS from a separate "original image" header, and a
  -- grid that misses the map: an error that names the grid
  local img = mopex.image(2, 2, 1.0)
  img:set_wcs(mopex.wcs_simple { ctype = { "RA---TAN", "DEC--TAN" }, crval = { 150, 2 },
    crpix = { 2, 2 }, cdelt = { -1e-4, 1e-4 }, crota2 = 0 })
  img:write(dir .. "/orig.fits")
  img:close()
  local p2 = mopex.projection { detmaps = { dir .. "/a_detmap.fits" }, wcs_images = { dir .. "/orig.fits" },
    fif = dir .. "/mosaic_fif.tbl", output_dir = dir, out_dir = "shifted" }
  T.eq(p2.proj_offsets[1].xoff, 0, "map pixel (1,1) now at CRVAL: one pixel further left")
  mopex.core.write_fif(dir .. "/far.tbl", { crval1 = 150, crval2 = 2, crpix1 = 900, crpix2 = 900,
    cdelt1 = -1e-4, cdelt2 = 1e-4, crota2 = 0, naxis1 = 6, naxis2 = 6 })
  T.raises(function()
    mopex.projection { detmaps = { dir .. "/a_detmap.fits" }, fif = dir .. "/far.tbl", output_dir = dir }
  end, "far.tbl", true)
  T.raises(function() mopex.projection { detmaps = { dir .. "/a_detmap.fits" }, output_dir = dir } end,
    "option 'fif' is required")
end)

---------------------------------------------------------------------------------------
T.test("level: oracle O-4 through files", function()
  local dir = TMP .. "/level"
  mopex.mkdir_p(dir)
  -- row 1: cluster 1 (8 px, 2 negative); row 2: cluster 2 (10 px, 9 negative);
  -- row 3: cluster 3 (4 negative, 4 positive), NaN and 0 around
  local img = mopex.image(10, 3, 0.0)
  for x = 1, 8 do img:set(x, 1, x <= 2 and -1 or 1) end
  for x = 1, 10 do img:set(x, 2, x <= 9 and -2 or 2) end
  for x = 1, 8 do img:set(x, 3, x <= 4 and -3 or 3) end
  img:set(9, 1, 0 / 0)
  img:write(dir .. "/proj_a_detmap_dual_outlier.fits")
  local l = mopex.level { dual_maps = { dir .. "/proj_a_detmap_dual_outlier.fits" }, output_dir = dir }
  times("level", l.timings)
  T.eq(l.dual_maps, { dir .. "/DualOutlier-mosaic/proj_a_detmap_dual_outlier_level.fits" })
  T.eq(l.changed, { 3 })
  local o <close> = mopex.read(l.dual_maps[1])
  T.eq(o:row(1), { 1, 1, 1, 1, 1, 1, 1, 1, 0 / 0, 0 })  -- 25 % negative -> all positive
  T.eq(o:row(2), { -2, -2, -2, -2, -2, -2, -2, -2, -2, -2 })  -- 90 % negative -> all negative
  T.eq(o:row(3), { -3, -3, -3, -3, 3, 3, 3, 3, 0, 0 })  -- tie: unchanged
  T.eq(o:header("THRRATIO"), 0.5)
  -- in memory
  local n, c = mopex.core.level_map(img, 0.5)
  T.eq({ n, c }, { 3, 3 })
  T.eq(img:get(1, 1), 1.0)
  img:close()
end)

---------------------------------------------------------------------------------------
T.test("array_corr_files: the BCD's WCS and the correction values", function()
  if not HAVE_DATA then print("  (skipped: no real data)"); return end
  local dir = TMP .. "/arraycorr"
  local bcds = { GAMMIT .. "56_0000_2_cbcd.fits", GAMMIT .. "63_0000_2_cbcd.fits",
                 GAMMIT .. "85_0000_2_cbcd.fits" }
  local a = mopex.array_corr_files { images = bcds, corr_image = PHOTCORR, output_dir = dir }
  times("array_corr_files", a.timings)
  T.eq(#a.array_corr, 3)
  T.eq(a.array_corr[2], dir .. "/Array_Corr_Data/corr_SPITZER_I1_46291456_0063_0000_2_cbcd.fits")
  T.eq(lines(a.lists.array_corr), a.array_corr)
  local corr <close> = mopex.read(PHOTCORR)
  local C = rows_of(corr)
  for k, path in ipairs(a.array_corr) do
    local f <close> = mopex.read(path)
    local b <close> = mopex.read(bcds[k])
    local F, nx, ny = rows_of(f)
    T.eq({ nx, ny }, { 256, 256 })
    local diff = 0
    for y = 1, ny do for x = 1, nx do if F[y][x] ~= C[y][x] then diff = diff + 1 end end end
    T.eq(diff, 0)
    for _, key in ipairs({ "CRVAL1", "CRVAL2", "CD1_1", "CD1_2", "A_ORDER", "A_3_0", "BP_0_2", "EXPTIME", "BUNIT" }) do
      T.eq(f:header(key), b:header(key), key)
    end
    T.eq(f:header("ARRCORR"), "ch1_photcorr_rj.fits")  -- the name; the whole path in HISTORY
    local ra1, de1 = f:pix2sky(10, 240)
    local ra2, de2 = b:pix2sky(10, 240)
    T.eq({ ra1, de1 }, { ra2, de2 })
  end
  local small = mopex.image(128, 128, 1.0)
  small:write(dir .. "/small.fits")
  small:close()
  T.raises(function()
    mopex.array_corr_files { images = { bcds[1], dir .. "/small.fits" }, corr_image = PHOTCORR, output_dir = dir }
  end, "ARRAY_CORR_IMAGE '" .. PHOTCORR .. "' is 256 x 256, image '" .. dir .. "/small.fits' is 128 x 128", true)
  T.raises(function()
    mopex.array_corr_files { images = bcds, corr_image = dir .. "/nope.fits", output_dir = dir }
  end, "ARRAY_CORR_IMAGE '" .. dir .. "/nope.fits' does not exist", true)
end)

T.done()
