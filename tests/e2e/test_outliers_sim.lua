-- test_outliers_sim.lua: outlier rejection end to end on simulated IRAC
-- ch1 frames with cosmic rays and noise, against the simulator's truth
-- (cosmics.tbl, the source catalogue), through the modules of mopex:
--
--   interpolate -> (temporal: outlier | dual: medfilter, detect, projection,
--   dual_outlier, level | box: box_outlier | single frame: medfilter,
--   detect_radhit) -> coverage -> rmask -> reinterpolate -> coadd -> combine
--
-- Two skies, each also simulated without cosmic rays (same seed: the same
-- noise and sources; only the hit pixels differ) and without noise (to know
-- where the sources are):
--   A  'dither', 15 frames: coverage 12-15 over the measured field;
--   B  'map', 2 x 2 positions x 5 dithers: coverage 4-6 (10 and 20 where
--      the positions overlap, not measured).
-- The mosaic grid has 0.6" pixels (MOSAIC_PIXEL_RATIO 2, the usual IRAC
-- mosaic): at the native 1.2" a hit shared by four grid pixels keeps only a
-- quarter of its significance in each, and 10-sigma hits are lost.
--
-- Measured per method: the detection rate of cosmic-ray pixels above 10
-- sigma (the method's RMask bit set on the truth pixel), split into hits
-- on the background and hits on a source (within one pixel of where the
-- noise-free source signal exceeds 3 sigma: there a hit merges with the
-- source's detection cluster, and on an undersampled core it is no larger
-- than the frame-to-frame scatter of the core), and the false-rejection
-- rate on star pixels (within 2 FWHM of the 100-10000 microJy sources, 40
-- to 4000 times the pixel noise at the peak; the simulator does not
-- saturate), pixels next to a hit excluded.
--
-- Asserted (the issue's targets, and margins below what was measured for
-- box and single frame): see the T.test cases at the end. The final mosaic
-- uses the multi-frame methods together (temporal + dual + box, RMask
-- pattern 14 = bits 1-3, REFINE_OUTLIER on), as the guide's example
-- namelist does.
local T = require "testing"
local mopex = require "mopex"

mopex.log_level("warn")
local TMP = T.tmpdir("test_outliers_sim")
local VERBOSE = os.getenv("MOPEX_TEST_VERBOSE")  -- set: list each residual and aperture

---------------------------------------------------------------------------------------
-- parameters of the runs
local RA, DEC = 120.03, -9.07
local NX = 128
local FWHM_PIX = 1.66 / 1.223             -- the simulator's ch1 PSF FWHM in pixels
-- Temporal maps: flag above 4 sigma (cosmic rays are positive) and below
-- 10 (the phase of an undersampled star makes its core low in some frames).
local TEMPORAL = { bottom_threshold = 10, top_threshold = 4, rm_thresh = 0.3 }
local BOX = { box_bottom_threshold = 10, box_top_threshold = 5 }
local RATIO = 2                         -- MOSAIC_PIXEL_RATIO_X/Y
local COSMICS = 20                      -- hits per 128 x 128 frame: 16 times the IRAC rate
local COSMIC_MIN = 10                   -- sigma: cosmics counted
local RESIDUAL_MAX = 5                  -- sigma of the mosaic: residual cosmic allowed

-- Explicit catalogue: bright sources (100-10000 microJy, log-uniform; 1.4
-- per arcmin^2, about the IRAC 3.6 micron counts) on a jittered grid
-- (spacing 50", jitter +-4": isolated, nearest bright neighbour >= 42" = 34
-- pixels, beyond the photometry annulus) plus faint ones (20-100 microJy,
-- dN/dF ~ F^-2, 2 per arcmin^2) at random positions, over a square of
-- half-size half_deg around the pattern centre.
local function catalogue(half_deg, seed)
  local st = seed
  local function rnd() st = (st * 1103515245 + 12345) % 2147483648; return st / 2147483648 end
  local src, step = {}, 50 / 3600
  local n = math.floor(2 * half_deg / step)
  local cosd = math.cos(math.rad(DEC))
  for i = 0, n - 1 do
    for j = 0, n - 1 do
      local dx = (i - (n - 1) / 2) * step + (rnd() - 0.5) * 8 / 3600
      local dy = (j - (n - 1) / 2) * step + (rnd() - 0.5) * 8 / 3600
      src[#src + 1] = { ra = RA + dx / cosd, dec = DEC + dy, flux = 100 * 100 ^ rnd() }
    end
  end
  local nfaint = math.floor(2 * (2 * half_deg * 60) ^ 2 + 0.5)
  for _ = 1, nfaint do
    local dx, dy = (2 * rnd() - 1) * half_deg, (2 * rnd() - 1) * half_deg
    src[#src + 1] = { ra = RA + dx / cosd, dec = DEC + dy, flux = 1 / (1 / 20 - rnd() * (1 / 20 - 1 / 100)) }
  end
  return src
end

local function simulate(name, t, cosmics, noise)
  local o = { out_dir = TMP .. "/" .. name, nx = NX, ny = NX, ra = RA, dec = DEC, seed = t.seed,
              pattern = t.pattern, nframes = t.nframes, dither_scale = t.dither_scale,
              map_rows = t.map_rows, map_cols = t.map_cols, ndither = t.ndither, noise = noise ~= false,
              sources = t.sources, cosmics = cosmics, cosmic_min_sigma = 8, cosmic_max_sigma = 500,
              offset_sigma = 0 } -- no per-frame sky offsets: matching them is Overlap's job
  return mopex.simulate(o)
end

local RUNS = {
  A = { pattern = "dither", nframes = 15, dither_scale = 6, seed = 101, sources = catalogue(0.022, 7),
        cover = { 12, 15 } },
  B = { pattern = "map", map_rows = 2, map_cols = 2, ndither = 5, nframes = 20, dither_scale = 6,
        seed = 202, sources = catalogue(0.045, 9), cover = { 4, 6 } },
}

---------------------------------------------------------------------------------------
-- helpers

local function rows(path, mask)
  local img = mask and mopex.read_mask(path) or mopex.read(path)
  local nx, ny = img:size()
  local r = {}
  for y = 1, ny do r[y] = img:row(y) end
  return { rows = r, nx = nx, ny = ny, img = img }
end
local function at(im, x, y)
  if x < 1 or y < 1 or x > im.nx or y > im.ny then return nil end
  return im.rows[y][x]
end
local function round(v) return math.floor(v + 0.5) end

-- Everything a run needs to measure: frames, their WCS and masks, truth.
-- `on_source[i]` holds the pixels of frame i within one pixel of a pixel
-- where the sources' noise-free signal exceeds 3 sigma (from the run
-- without noise: image minus its median): a cosmic ray there merges with a
-- source for any spatial method.
local function truth_of(s, nf)
  local t = { frames = mopex.read_list(s.images), masks = mopex.read_list(s.dce_masks), wcs = {},
              cosmics = {}, near_cosmic = {}, on_source = {}, sources = {} }
  local clean, sig = mopex.read_list(nf.images), mopex.read_list(s.sigmas)
  for i, f in ipairs(t.frames) do
    t.wcs[i] = mopex.read_wcs(f)
    t.near_cosmic[i] = {}
    local im, sg = mopex.read(clean[i]), mopex.read(sig[i])
    local med = mopex.median(im)
    local on = {}
    for y = 1, NX do
      local r, e = im:row(y), sg:row(y)
      for x = 1, NX do
        if r[x] - med > 3 * e[x] then
          for dy = -1, 1 do for dx = -1, 1 do on[(y + dy) * 100000 + x + dx] = true end end
        end
      end
    end
    t.on_source[i] = on
  end
  for _, row in mopex.read_table(s.cosmics):rows() do
    t.cosmics[#t.cosmics + 1] = row
    local nc = t.near_cosmic[row.Image_id]
    for dy = -1, 1 do for dx = -1, 1 do nc[(row.y + dy) * 100000 + row.x + dx] = true end end
  end
  for _, row in mopex.read_table(s.sources):rows() do t.sources[#t.sources + 1] = row end
  return t
end

-- Coverage (covg_map.fits) at the grid pixel of a frame pixel.
local function coverage_at(cov, gw, w, x, y)
  local ra, dec = w:pix2sky(x, y)
  local gx, gy = gw:sky2pix(ra, dec)
  return at(cov, round(gx), round(gy)) or 0
end

-- Detection and false-rejection rates of one RMask bit.
local function rates(t, rmasks, bit, cov, gw, cover)
  local rm = {}
  local function mask(i) rm[i] = rm[i] or rows(rmasks[i], true); return rm[i] end
  local det, ncos, sdet, nsrc = 0, 0, 0, 0
  for _, c in ipairs(t.cosmics) do
    if c.significance > COSMIC_MIN then
      local cv = coverage_at(cov, gw, t.wcs[c.Image_id], c.x, c.y)
      if cv >= cover[1] and cv <= cover[2] then
        local hit = at(mask(c.Image_id), c.x, c.y) & bit ~= 0
        if t.on_source[c.Image_id][c.y * 100000 + c.x] then
          nsrc = nsrc + 1
          if hit then sdet = sdet + 1 end
        else
          ncos = ncos + 1
          if hit then det = det + 1 end
        end
      end
    end
  end
  local rej, nstar = 0, 0
  local r = 2 * FWHM_PIX
  for i, w in ipairs(t.wcs) do
    local dm = nil
    for _, s in ipairs(t.sources) do
      local sx, sy = w:sky2pix(s.ra, s.dec)
      if sx > 3 and sy > 3 and sx < NX - 2 and sy < NX - 2 then
        local cv = coverage_at(cov, gw, w, sx, sy)
        if cv >= cover[1] and cv <= cover[2] then
          dm = dm or rows(t.masks[i], true)
          for y = math.ceil(sy - r), math.floor(sy + r) do
            for x = math.ceil(sx - r), math.floor(sx + r) do
              if (x - sx) ^ 2 + (y - sy) ^ 2 <= r * r and not t.near_cosmic[i][y * 100000 + x]
                 and at(dm, x, y) & 32544 == 0 then
                nstar = nstar + 1
                if at(mask(i), x, y) & bit ~= 0 then rej = rej + 1 end
              end
            end
          end
        end
      end
    end
  end
  return { det = det, ncos = ncos, drate = det / math.max(ncos, 1), rej = rej, nstar = nstar,
           frate = rej / math.max(nstar, 1), sdet = sdet, nsrc = nsrc, srate = sdet / math.max(nsrc, 1),
           arate = (det + sdet) / math.max(ncos + nsrc, 1) }
end

local function report(name, r)
  print(string.format("  %-9s cosmics > %d sigma: background %d/%d (%.2f%%), on sources %d/%d (%.1f%%), "
    .. "all %.2f%%; star pixels rejected %d/%d (%.3f%%)", name, COSMIC_MIN, r.det, r.ncos, 100 * r.drate,
    r.sdet, r.nsrc, 100 * r.srate, 100 * r.arate, r.rej, r.nstar, 100 * r.frate))
end

---------------------------------------------------------------------------------------
-- the pipelines

local function first_pass(s, out)
  local fif = mopex.fiducial_frame { images = s.images, output_dir = out }
  local ip = mopex.interpolate { images = s.images, sigmas = s.sigmas, dce_masks = s.dce_masks,
                                 fif = fif.fif, output_dir = out, pixel_ratio_x = RATIO, pixel_ratio_y = RATIO }
  local cov = mopex.coverage { interp_coverages = ip.interp_coverages, mosaic_fif = ip.mosaic_fif, output_dir = out }
  return ip, cov
end

local function stack(ip, out, t)
  local o = { interp_images = ip.interp_images, interp_coverages = ip.interp_coverages, interp_sigmas = ip.interp_sigmas,
              mosaic_fif = ip.mosaic_fif, output_dir = out }
  for k, v in pairs(t or {}) do o[k] = v end
  return o
end

local function rmask(s, ip, cov, out, dir, t)
  local o = { images = s.images, coverage_map = cov.coverage_map, mosaic_fif = ip.mosaic_fif,
              output_dir = out, out_dir = dir }
  for k, v in pairs(t) do o[k] = v end
  return mopex.rmask(o)
end

-- Reinterpolate with the RMasks, co-add, combine; returns the Combine directory.
local function final(s, ip, r, out, name, fatal)
  local re = mopex.reinterpolate { images = s.images, sigmas = s.sigmas, dce_masks = s.dce_masks,
                                   rmasks = r.rmasks, rmask_fatal = fatal, mosaic_fif = ip.mosaic_fif,
                                   output_dir = out, out_dir = "Reinterp-" .. name }
  mopex.coadd { interp_images = re.interp_images, interp_coverages = re.interp_coverages, interp_sigmas = re.interp_sigmas,
                mosaic_fif = ip.mosaic_fif, output_dir = out, out_dir = "Coadd-" .. name }
  mopex.combine { output_dir = out, coadd_dir = "Coadd-" .. name, out_dir = "Combine-" .. name }
  return out .. "/Combine-" .. name
end

local function plain_mosaic(ip, out, name)
  mopex.coadd { interp_images = ip.interp_images, interp_coverages = ip.interp_coverages, interp_sigmas = ip.interp_sigmas,
                mosaic_fif = ip.mosaic_fif, output_dir = out, out_dir = "Coadd-" .. name }
  mopex.combine { output_dir = out, coadd_dir = "Coadd-" .. name, out_dir = "Combine-" .. name }
  return out .. "/Combine-" .. name
end

-- Residuals (sigma of the mosaic) at the truth cosmic positions covered
-- within `cover`, against the mosaic of the run without cosmics: the
-- largest over the grid pixels around the hit (3 x 3). Returned per class
-- (background, on a source): largest, count, count above RESIDUAL_MAX. On a
-- source the difference also holds the rejection's own effect: a frame left
-- out of a steep, undersampled core changes the mean.
local function residuals(t, dir, clean_dir, cov, gw, cover)
  local m, c, u = rows(dir .. "/mosaic.fits"), rows(clean_dir .. "/mosaic.fits"), rows(dir .. "/mosaic_unc.fits")
  local r = { bg = { worst = 0, n = 0, bad = 0 }, src = { worst = 0, n = 0, bad = 0 } }
  for _, h in ipairs(t.cosmics) do
    local w = t.wcs[h.Image_id]
    local cv = coverage_at(cov, gw, w, h.x, h.y)
    if cv >= cover[1] and cv <= cover[2] then
      local g = r[t.on_source[h.Image_id][h.y * 100000 + h.x] and "src" or "bg"]
      g.n = g.n + 1
      local ra, dec = w:pix2sky(h.x, h.y)
      local gx, gy = gw:sky2pix(ra, dec)
      local hit = 0
      for y = round(gy) - 1, round(gy) + 1 do
        for x = round(gx) - 1, round(gx) + 1 do
          local a, b, s = at(m, x, y), at(c, x, y), at(u, x, y)
          if a and b and s and a == a and b == b and s > 0 then hit = math.max(hit, (a - b) / s) end
        end
      end
      g.worst = math.max(g.worst, hit)
      if hit > RESIDUAL_MAX then
        g.bad = g.bad + 1
        if VERBOSE then
          print(string.format("    residual %.1f sigma: frame %d (%d, %d) hit %d, %.1f sigma, coverage %.1f%s",
            hit, h.Image_id, h.x, h.y, h.hit, h.significance, cv, g == r.src and ", on a source" or ""))
        end
      end
    end
  end
  return r
end

-- Background-subtracted aperture flux (radius 3.7", annulus 7.3"-12.2": 3, 6
-- and 10 input pixels) of every source of 300 microJy or more at coverage
-- within `cover`, in the mosaic of dir.
local function apertures(t, dir, cov, gw, cover)
  local m = rows(dir .. "/mosaic.fits")
  local f = {}
  for k, s in ipairs(t.sources) do
    local gx, gy = gw:sky2pix(s.ra, s.dec)
    local cv = at(cov, round(gx), round(gy)) or 0
    if cv >= cover[1] and cv <= cover[2] and s.flux_ujy >= 300 then
      local sum, n, ann = 0, 0, {}
      local ok = true
      local r1, r2, r3 = 3 * RATIO, 6 * RATIO, 10 * RATIO
      for y = round(gy) - r3, round(gy) + r3 do
        for x = round(gx) - r3, round(gx) + r3 do
          local d2 = (x - gx) ^ 2 + (y - gy) ^ 2
          local v = at(m, x, y)
          if d2 <= r1 * r1 then
            if not v or v ~= v then ok = false else sum = sum + v; n = n + 1 end
          elseif d2 >= r2 * r2 and d2 <= r3 * r3 and v and v == v then
            ann[#ann + 1] = v
          end
        end
      end
      if ok and #ann > 50 then
        table.sort(ann)
        f[k] = sum - n * ann[#ann // 2 + 1]
      end
    end
  end
  return f
end

---------------------------------------------------------------------------------------
local result = {}

for _, name in ipairs { "A", "B" } do
  local run = RUNS[name]
  local s = simulate(name, run, COSMICS)
  local s0 = simulate(name .. "0", run, 0)
  local t = truth_of(s, simulate(name .. "nf", run, 0, false))
  local out = TMP .. "/out" .. name
  local ip, cov = first_pass(s, out)
  local covm = rows(cov.coverage_map)
  local gw = mopex.read(cov.coverage_map):wcs()
  local R = { s = s, t = t, ip = ip, cov = cov, covm = covm, gw = gw, out = out }
  result[name] = R

  -- temporal
  local tm = mopex.outlier(stack(ip, out))
  R.temporal = rmask(s, ip, cov, out, "Rmask-temporal",
    { outlier_maps = tm.outlier_maps, use_outlier = true, bottom_threshold = TEMPORAL.bottom_threshold,
      top_threshold = TEMPORAL.top_threshold, rm_thresh = TEMPORAL.rm_thresh })
  -- dual
  local mf = mopex.medfilter { images = s.images, dce_masks = s.dce_masks, output_dir = out }
  local dt = mopex.detect { minback = mf.minback, output_dir = out }
  local pj = mopex.projection { detmaps = dt.detmaps, fif = ip.mosaic_fif, output_dir = out }
  local du = mopex.dual_outlier { proj_detmaps = pj.proj_detmaps, mosaic_fif = ip.mosaic_fif, output_dir = out }
  local lv = mopex.level { dual_maps = du.dual_maps, output_dir = out }
  R.dual = rmask(s, ip, cov, out, "Rmask-dual", { dual_maps = lv.dual_maps, use_dual_outlier = true })
  -- box
  local bx = mopex.box_outlier(stack(ip, out))
  R.box = rmask(s, ip, cov, out, "Rmask-box",
    { box_outlier_maps = bx.box_outlier_maps, use_box_outlier = true, box_bottom_threshold = BOX.box_bottom_threshold,
      box_top_threshold = BOX.box_top_threshold, rm_thresh = TEMPORAL.rm_thresh })
  -- single frame
  local rh = mopex.detect_radhit { minback = mf.minback, dce_masks = s.dce_masks, output_dir = out }
  R.radhit = rmask(s, ip, cov, out, "Rmask-radhit", { dce_masks = rh.dce_masks })
  -- the multi-frame methods together, as the guide's example namelist sets them
  R.all = rmask(s, ip, cov, out, "Rmask-all",
    { outlier_maps = tm.outlier_maps, refine_outlier = true, refine_outlier_thresh = 10,
      dual_maps = lv.dual_maps,
      box_outlier_maps = bx.box_outlier_maps, use_outlier = true, use_dual_outlier = true,
      use_box_outlier = true, bottom_threshold = TEMPORAL.bottom_threshold,
      top_threshold = TEMPORAL.top_threshold, box_bottom_threshold = BOX.box_bottom_threshold,
      box_top_threshold = BOX.box_top_threshold, rm_thresh = TEMPORAL.rm_thresh })

  R.rates = {
    temporal = rates(t, R.temporal.rmasks, 2, covm, gw, run.cover),
    dual = rates(t, R.dual.rmasks, 4, covm, gw, run.cover),
    box = rates(t, R.box.rmasks, 8, covm, gw, run.cover),
    radhit = rates(t, R.radhit.rmasks, 1, covm, gw, run.cover),
    all = rates(t, R.all.rmasks, 14, covm, gw, run.cover),
  }
  print(string.format("run %s (%s, coverage %d-%d):", name, run.pattern, run.cover[1], run.cover[2]))
  for _, m in ipairs { "temporal", "dual", "box", "radhit", "all" } do report(m, R.rates[m]) end

  -- the final mosaics: with rejection, without, and the run without cosmics
  local ip0 = first_pass(s0, TMP .. "/out" .. name .. "0")
  R.clean = plain_mosaic(ip0, TMP .. "/out" .. name .. "0", "clean")
  R.none = plain_mosaic(ip, out, "none")
  R.final = final(s, ip, R.all, out, "all", 14)
  R.res = residuals(t, R.final, R.clean, covm, gw, run.cover)
  R.res_none = residuals(t, R.none, R.clean, covm, gw, run.cover)
  -- The frames without cosmics, reinterpolated with the same RMasks: the
  -- final mosaic minus this one is what the cosmic rays left, alone. Against
  -- the plain clean mosaic, a rejected pixel on an undersampled core also
  -- shows the rejection itself (the mean of the other frames' phases).
  R.same = final(s0, ip, R.all, TMP .. "/out" .. name .. "0", "same", 14)
  R.res_cr = residuals(t, R.final, R.same, covm, gw, run.cover)
  print(string.format("  final mosaic: residuals at %d background hits: largest %.2f sigma (%d above %d; "
    .. "%.1f sigma without rejection); at %d hits on sources: largest %.1f sigma (%d above %d); "
    .. "against the clean frames with the same rejection: %.2f sigma (%d above %d) and %.1f sigma (%d above %d)",
    R.res.bg.n, R.res.bg.worst, R.res.bg.bad, RESIDUAL_MAX, R.res_none.bg.worst, R.res.src.n,
    R.res.src.worst, R.res.src.bad, RESIDUAL_MAX, R.res_cr.bg.worst, R.res_cr.bg.bad, RESIDUAL_MAX,
    R.res_cr.src.worst, R.res_cr.src.bad, RESIDUAL_MAX))
  -- apertures: a source with a hit on it (in some frame, within the
  -- aperture) is kept apart: that hit cannot be told from the source
  local hit = {}
  for _, h in ipairs(t.cosmics) do
    if t.on_source[h.Image_id][h.y * 100000 + h.x] then
      local w = t.wcs[h.Image_id]
      for k, src in ipairs(t.sources) do
        local sx, sy = w:sky2pix(src.ra, src.dec)
        if (sx - h.x) ^ 2 + (sy - h.y) ^ 2 <= 3.5 ^ 2 then hit[k] = true end
      end
    end
  end
  local fa, fc = apertures(t, R.final, covm, gw, run.cover), apertures(t, R.clean, covm, gw, run.cover)
  local fn, fs = apertures(t, R.none, covm, gw, run.cover), apertures(t, R.same, covm, gw, run.cover)
  R.flux = { clean = { n = 0, worst = 0, none = 0, same = 0 }, hit = { n = 0, worst = 0, none = 0, same = 0 } }
  for k, v in pairs(fc) do
    if fa[k] and fn[k] and fs[k] then
      local g = R.flux[hit[k] and "hit" or "clean"]
      g.n = g.n + 1
      g.worst = math.max(g.worst, math.abs(fa[k] / v - 1))
      g.none = math.max(g.none, math.abs(fn[k] / v - 1))
      g.same = math.max(g.same, math.abs(fa[k] / fs[k] - 1))
      if VERBOSE then
        print(string.format("    source %d, %.0f microJy%s: %.3f%% (without rejection %.3f%%; against the same "
          .. "rejection of the clean frames %.3f%%)", k, t.sources[k].flux_ujy, hit[k] and " (a hit on it)" or "",
          100 * (fa[k] / v - 1), 100 * (fn[k] / v - 1), 100 * (fa[k] / fs[k] - 1)))
      end
    end
  end
  print(string.format("  aperture fluxes against the run without cosmics, largest difference: %d sources "
    .. "%.3f%% (%.3f%% without rejection); %d sources with a hit on them %.3f%% (%.3f%%; %.3f%% against the "
    .. "clean frames with the same rejection)", R.flux.clean.n, 100 * R.flux.clean.worst, 100 * R.flux.clean.none,
    R.flux.hit.n, 100 * R.flux.hit.worst, 100 * R.flux.hit.none, 100 * R.flux.hit.same))
end

---------------------------------------------------------------------------------------
local function pct(x) return string.format("%.3f%%", 100 * x) end

T.test("temporal at coverage 15: >= 99% of the cosmics, < 0.1% of the star pixels", function()
  local r = result.A.rates.temporal
  T.ok(r.ncos + r.nsrc >= 400, "cosmics counted: " .. r.ncos + r.nsrc)
  T.ok(r.nstar >= 5000, "star pixels counted: " .. r.nstar)
  T.ok(r.arate >= 0.99, pct(r.arate))        -- measured 99.80% (every background hit)
  T.ok(r.drate >= 0.995, pct(r.drate))
  T.ok(r.frate < 0.001, pct(r.frate))        -- measured 0
end)

T.test("dual at coverage 5: >= 99% of the cosmics off sources, < 0.1% of the star pixels", function()
  local r = result.B.rates.dual
  T.ok(r.ncos >= 400, "cosmics counted: " .. r.ncos)
  T.ok(r.nstar >= 4000, "star pixels counted: " .. r.nstar)
  T.ok(r.drate >= 0.99, pct(r.drate))        -- measured 99.30%
  T.ok(r.frate < 0.001, pct(r.frate))        -- measured 0.074%
  -- a hit on a source joins the source's detection cluster, which the other
  -- frames confirm: the dual method cannot see it (measured 1 of 17)
  T.ok(r.arate >= 0.94, pct(r.arate))        -- measured 95.74%
end)

T.test("box and single-frame radhit: measured rates (asserted with a margin)", function()
  for _, name in ipairs { "A", "B" } do
    local b, s = result[name].rates.box, result[name].rates.radhit
    T.ok(b.drate >= 0.995, name .. " box background " .. pct(b.drate))   -- measured 100%, 100%
    T.ok(b.arate >= 0.985, name .. " box all " .. pct(b.arate))          -- 99.80%, 99.33%
    T.ok(b.frate < 0.0005, name .. " box stars " .. pct(b.frate))        -- 0, 0
    T.ok(s.drate >= 0.88, name .. " radhit background " .. pct(s.drate)) -- 90.33%, 91.84%
    T.ok(s.arate >= 0.85, name .. " radhit all " .. pct(s.arate))        -- 88.10%, 88.57%
    T.ok(s.frate < 0.0005, name .. " radhit stars " .. pct(s.frate))     -- 0, 0
  end
end)

T.test("final mosaics: no residual cosmic above 5 sigma off sources, fluxes within 1%", function()
  for _, name in ipairs { "A", "B" } do
    local R = result[name]
    T.ok(R.res.bg.n >= 400, name .. ": background positions " .. R.res.bg.n)
    T.eq(R.res.bg.bad, 0, name .. ": background residuals above 5 sigma")
    T.ok(R.res_none.bg.worst > 20 * RESIDUAL_MAX, name .. ": the cosmics are there without rejection")
    T.ok(R.res.src.bad <= 5, name .. ": residuals on sources " .. R.res.src.bad)  -- measured 2, 4
    -- what the cosmic rays alone left (against the clean frames with the same
    -- rejection): nothing off sources; on sources the hits no method saw
    -- (a few percent of a bright undersampled core, within its phase scatter)
    T.ok(R.res_cr.bg.worst < 0.5, name .. ": cosmic residue off sources " .. R.res_cr.bg.worst)  -- measured 0.00
    T.ok(R.res_cr.src.bad <= 3, name .. ": missed hits on sources " .. R.res_cr.src.bad)        -- measured 1, 3
    T.ok(R.flux.clean.n >= 3, name .. ": sources measured " .. R.flux.clean.n)
    T.ok(R.flux.clean.worst < 0.01, name .. ": " .. pct(R.flux.clean.worst))
  end
end)

T.done()
