-- test_interpolate.lua: mopex.interpolate and mopex.reinterpolate from Lua
-- (schemas, list checks, product tables) on simulated frames with known
-- truth: noise-free frames of a constant sky c = sky + ZODY_EST - SKYDRKZB
-- with their defects masked by the default DCE pattern, so every
-- interpolated pixel with coverage > 0 must be c, whatever the method.
local T = require "testing"
local mopex = require "mopex"
local S = mopex.schema

mopex.log_level("warn")

local C = 0.05 + 0.0858 - 0.0339 -- simulate.lua defaults: sky + zody_est - skydrkzb

-- min, max and count of the pixels with coverage > 0; max coverage
local function scan(img_path, cov_path)
  local img <close> = mopex.read(img_path)
  local cov <close> = mopex.read(cov_path)
  local nx, ny = img:size()
  local lo, hi, n, cmax, nnan = math.huge, -math.huge, 0, 0, 0
  for j = 1, ny do
    local r, c = img:row(j), cov:row(j)
    for i = 1, nx do
      if c[i] > 0 then
        local v = r[i]
        if v ~= v then nnan = nnan + 1 else
          if v < lo then lo = v end
          if v > hi then hi = v end
          n = n + 1
        end
        if c[i] > cmax then cmax = c[i] end
      elseif r[i] == r[i] then
        nnan = nnan + 1 -- a value where nothing is covered: wrong
      end
    end
  end
  return lo, hi, n, cmax, nnan
end

local function lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = l end
  return out
end

local function write_fif(path)
  local f = assert(io.open(path, "w"))
  f:write([[
\char comment = hand-made FIF for test_interpolate
\real CRVAL1 = 120.03
\real CRVAL2 = -9.07
\real CRPIX1 = 60.5
\real CRPIX2 = 60.5
\real CDELT1 = -0.00034
\real CDELT2 = 0.00034
\real CROTA2 = 0
\int NAXIS1 = 120
\int NAXIS2 = 120
]])
  f:close()
end

T.test("schemas: defaults per pipeline, classic keys, option checks", function()
  local I, R = S.get("interpolate"), S.get("reinterpolate")
  local v = S.validate(I, {}, "overlap")
  T.eq(v.method, 3)
  T.eq(v.out_dir, "Interp-overlap")
  T.eq(v.mask_bright, false)
  v = S.validate(I, {}, "apex")
  T.eq(v.method, 1)
  T.eq(v.out_dir, "Interp-apex")
  v = S.validate(I, {})
  T.eq({ v.method, v.fineres, v.driz_fac, v.grid_ratio, v.alpha, v.out_dir },
    { 1, 0, 1, 4, -0.5, "Interp-mosaic" })
  v = S.validate(R, {})
  T.eq({ v.out_dir, v.interp_dir }, { "Reinterp-mosaic", "Interp-mosaic" })
  local idx = S.classic_index("mosaic")
  T.eq(idx.triggers.run_mosaic_int, I)
  T.eq(idx.triggers.run_mosaic_interp, I)
  T.eq(idx.triggers.run_mosaic_reint, R)
  T.eq(idx.triggers.run_mosaic_reinterp, R)
  T.ok(idx.blocks.mosaicintin.keys.interp_method == I.by_name.method)
  T.ok(idx.blocks.mosaicreintin ~= nil)
  local users = {}
  for _, e in ipairs(idx.globals.interp_dir) do users[e.module.name] = e.param.name end
  T.eq({ users.interpolate, users.reinterpolate }, { "out_dir", "interp_dir" })
  T.ok(S.classic_index("overlap").globals.mask_bright ~= nil)
  T.raises(function() mopex.interpolate { images = { "a.fits" }, metod = 2 } end, "did you mean 'method'")
  T.raises(function() mopex.interpolate { images = { "a.fits" }, method = 5 } end,
    "option 'method' must be <= 4")
  T.raises(function() mopex.interpolate { images = { "a.fits" }, driz_fac = 0 } end, "must be > 0")
end)

local dir = T.tmpdir("interpolate")
-- Cosmic rays are all flagged (bit 9, fatal in the default pattern) and the
-- one source lies far off the field: the sky stays constant where usable.
local sim = mopex.simulate { out_dir = dir .. "/sim", nframes = 4, nx = 64, ny = 64, seed = 3,
  noise = false, cosmics = 30, cosmic_flag_fraction = 1, sources = { { ra = 10, dec = 10, flux = 100 } },
  offset_sigma = 0, dither_scale = 15 }
local imgs, sigs, msks = mopex.read_list(sim.images), mopex.read_list(sim.sigmas),
  mopex.read_list(sim.dce_masks)
local fif = dir .. "/FIF.tbl"
write_fif(fif)

local first -- product of the method-1 run, reused below

T.test("method 1 on simulated frames: constant sky, products, offsets", function()
  local out = dir .. "/out"
  local p = mopex.interpolate { images = sim.images, sigmas = sim.sigmas, dce_masks = sim.dce_masks,
    fif = fif, output_dir = out, pixel_ratio_x = 2, pixel_ratio_y = 2 }
  first = p
  T.eq(#p.interp_images, 4)
  T.eq(#p.interp_coverages, 4)
  T.eq(#p.interp_sigmas, 4)
  T.eq(p.interp_ids, { 1, 2, 3, 4 })
  T.eq(p.skipped, {})
  T.eq(p.reused, 0)
  T.eq(p.method.method, 1)
  T.eq(p.mosaic_fif, out .. "/mosaic_fif.tbl")
  T.eq(p.interp_images[2], out .. "/Interp-mosaic/interp_" .. mopex.basename_noext(imgs[2]) .. ".fits")
  T.eq(p.interp_sigmas[2], out .. "/Interp-mosaic/interp_unc_" .. mopex.basename_noext(imgs[2]) .. "_sigma.fits")
  local mf <close> = mopex.read_table(p.mosaic_fif)
  T.eq(tonumber((mf:keyword("NAXIS1"))), 240)
  T.near(tonumber((mf:keyword("CDELT2"))), 0.00017, 1e-15)
  T.near(tonumber((mf:keyword("CRPIX1"))), 120.5, 1e-12)
  T.eq(lines(p.lists.interp_images), p.interp_images)
  T.eq(lines(p.lists.interp_coverages), p.interp_coverages)
  T.eq(lines(p.lists.interp_sigmas), p.interp_sigmas)
  local t <close> = mopex.read_table(p.interp_table)
  T.eq(t:column("image_id"), { 1, 2, 3, 4 })
  T.eq(t:column("fname"), p.interp_images)
  for k = 1, 4 do
    local h = mopex.read_header(p.interp_images[k])
    local o = p.placements[k]
    T.eq({ h.MINTOFFX, h.MINTOFFY, h.nx, h.ny }, { o.x, o.y, o.w, o.h })
    T.eq({ t:column("xoff")[k], t:column("yoff")[k], t:column("naxis1")[k], t:column("naxis2")[k] },
      { o.x, o.y, o.w, o.h })
    T.near(h.CRPIX1, 120.5 - o.x, 1e-9)
    T.eq({ h.INTRPMTH, h.FINERES, h.DRIZFAC, h.GRIDRAT, h.INTALPHA }, { 1, 0, 1, 4, -0.5 })
    T.eq(h.BUNIT, "MJy/sr")
    T.eq(o.counts, false)
    -- usable: finite and no fatal bit (the simulator's sigmas are all positive)
    local img <close> = mopex.read(imgs[k])
    local m <close> = mopex.read_mask(msks[k])
    local usable = 0
    for j = 1, 64 do
      local r, mr = img:row(j), m:row(j)
      for i = 1, 64 do
        if r[i] == r[i] and (mr[i] & 32544) == 0 then usable = usable + 1 end
      end
    end
    T.eq(o.nusable, usable)
    T.ok(usable < 64 * 64 - 17, "NaN, dead, hot and cosmic-ray pixels are masked")
    T.eq(h.NUSABLE, o.nusable)
    local lo, hi, n, cmax, nnan = scan(p.interp_images[k], p.interp_coverages[k])
    T.near(lo, C, 2e-6)
    T.near(hi, C, 2e-6)
    T.ok(n > 64 * 64 * 3, "covered pixels")
    T.near(cmax, 1, 1e-5)
    T.eq(nnan, 0)
  end
  -- the product table feeds the next module as ordinary options
  T.ok(mopex.file_exists(p.interp_table))
end)

T.test("methods 2, 3, 4 keep the constant", function()
  for _, m in ipairs { 2, 3, 4 } do
    local p = mopex.interpolate { images = imgs, sigmas = sigs, dce_masks = msks, fif = fif,
      output_dir = dir .. "/m" .. m, method = m, driz_fac = 0.7, grid_ratio = 3 }
    T.eq(p.method.method, m)
    for k = 1, 4 do
      local lo, hi, n, _, nnan = scan(p.interp_images[k], p.interp_coverages[k])
      T.near(lo, C, 2e-6)
      T.near(hi, C, 2e-6)
      T.ok(n > 2000, "method " .. m .. " covers the frame")
      T.eq(nnan, 0)
    end
  end
end)

T.test("list checks, missing files and the overlap pipeline", function()
  T.raises(function()
    mopex.interpolate { images = imgs, sigmas = { sigs[1], sigs[2], sigs[3] }, fif = fif, output_dir = dir }
  end, "SigmaList has 3 entries, ImageList has 4", true)
  T.raises(function()
    mopex.interpolate { images = sim.images, dce_masks = { msks[1] }, fif = fif, output_dir = dir }
  end, "DCE status mask list has 1 entries, ImageList '" .. sim.images .. "' has 4", true)
  T.raises(function()
    mopex.interpolate { images = imgs, output_dir = dir .. "/nofif" }
  end, "FIF '" .. dir .. "/nofif/FIF.tbl' does not exist", true)
  T.raises(function()
    mopex.interpolate { images = imgs, fif = fif, output_dir = dir, pmask = dir .. "/none.fits" }
  end, "PMask '" .. dir .. "/none.fits' does not exist", true)
  T.raises(function()
    mopex.interpolate { images = imgs, fif = fif, output_dir = dir, pixel_size_x = -1e-4,
      pixel_size_y = -1e-4 }
  end, "pixel_size_y' must be >= 0")
  -- Overlap: Grid by default, into Interp-overlap; bright objects masked
  local det = mopex.image(64, 64, 0)
  for j = 20, 23 do for i = 10, 14 do det:set(i, j, 7) end end
  local dets = {}
  for k = 1, 4 do
    dets[k] = dir .. "/det_" .. k .. ".fits"
    det:write(dets[k])
  end
  T.raises(function()
    mopex.interpolate { pipeline = "overlap", images = imgs, fif = fif, output_dir = dir,
      mask_bright = true, detmaps = { dets[1] } }
  end, "Detection map list has 1 entries, ImageList has 4", true)
  local p = mopex.interpolate { pipeline = "overlap", images = imgs, sigmas = sigs, dce_masks = msks,
    fif = fif, output_dir = dir .. "/ov", mask_bright = 1, detmaps = dets }
  T.eq(p.method.method, 3)
  T.ok(p.interp_images[1]:find("/ov/Interp-overlap/interp_", 1, true) ~= nil)
  for k = 1, 4 do
    -- the 20 detected pixels that were usable before
    local img <close> = mopex.read(imgs[k])
    local m <close> = mopex.read_mask(msks[k])
    local lost = 0
    for j = 20, 23 do
      for i = 10, 14 do
        local v = img:get(i, j)
        if v == v and (m:get(i, j) & 32544) == 0 then lost = lost + 1 end
      end
    end
    T.ok(lost >= 16, "most detected pixels were usable")
    T.eq(p.placements[k].nusable, first.placements[k].nusable - lost)
  end
  T.eq(mopex.read_header(p.interp_images[1]).INTRPMTH, 3)
end)

T.test("reinterpolate equals a fresh interpolate with the RMasks", function()
  local out = dir .. "/out"
  local rms = {}
  for k = 1, 4 do
    local m = mopex.mask(64, 64, 16)
    if k == 2 then for j = 30, 31 do for i = 30, 31 do m:set(i, j, 2) end end end
    if k == 3 then m:set(5, 5, 8) end -- bit 3: not fatal in the default pattern 7
    rms[k] = dir .. "/rmask_" .. k .. ".fits"
    m:write(rms[k])
  end
  local r = mopex.reinterpolate { images = sim.images, sigmas = sim.sigmas, dce_masks = sim.dce_masks,
    rmasks = rms, output_dir = out }
  T.eq(r.reused, 3)
  T.eq(r.method.method, 1)
  T.eq(r.interp_images[1], out .. "/Reinterp-mosaic/" .. first.interp_images[1]:match("[^/]+$"))
  T.eq(r.placements[2].nusable, first.placements[2].nusable - 4)
  local f = mopex.interpolate { images = sim.images, sigmas = sim.sigmas, dce_masks = sim.dce_masks,
    rmasks = rms, fif = fif, output_dir = out, out_dir = "fresh", pixel_ratio_x = 2, pixel_ratio_y = 2 }
  for k = 1, 4 do
    T.ok(T.read_file(r.interp_images[k]) == T.read_file(f.interp_images[k]), "image " .. k .. " identical")
    T.ok(T.read_file(r.interp_coverages[k]) == T.read_file(f.interp_coverages[k]), "coverage " .. k .. " identical")
    T.ok(T.read_file(r.interp_sigmas[k]) == T.read_file(f.interp_sigmas[k]), "sigma " .. k .. " identical")
  end
  T.ok(T.read_file(r.interp_images[2]) ~= T.read_file(first.interp_images[2]), "frame 2 changed")
  T.ok(T.read_file(r.interp_images[3]) == T.read_file(first.interp_images[3]), "frame 3 copied")
  T.eq(lines(r.lists.interp_images), r.interp_images)
  -- no first pass
  T.raises(function()
    mopex.reinterpolate { images = sim.images, rmasks = rms, output_dir = out, interp_dir = "nothing" }
  end, "holds no interpolated image")
  T.raises(function()
    mopex.reinterpolate { images = sim.images, rmasks = rms, output_dir = dir .. "/none" }
  end, "mosaic_fif.tbl' does not exist")
end)

T.done()
