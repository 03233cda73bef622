-- demo.lua - the main job on the default data (README: `build/mopexlua demo.lua`).
--
--   mopexlua demo.lua [--simulate] [OUTDIR]          (default ./demo-out)
--
-- When the real Spitzer/IRAC frames are beside the checkout ($MOPEX_TEST_DATA, else
-- <source dir>/../shared/data; folder gammit_grb120119a) it mosaics the 30 channel-1
-- frames of AOR 46291456 with their uncertainties (cbunc) and DCE masks (bimsk, fatal
-- pattern 32520) on a 0.6" grid, through the Mosaic pipeline (scripts/mosaic.lua).
-- Otherwise it simulates a small dithered IRAC-like set (mopex.simulate, noise on,
-- no cosmic rays) and mosaics that. Then it prints what came out: inputs, mosaic size,
-- coverage, sky level, and the aperture flux of the brightest isolated star against
-- the simulator's truth (or, for the real frames, against an independent photutils
-- measurement on one frame - not MOPEX output, so expect a few percent). --simulate
-- uses the simulated set even when the real frames are there.
local mopex = require "mopex"
local R = require "pipeline_runner"
local PH = require "photometry"

local argv = { ... }
local force_sim, out = false, nil
for _, a in ipairs(argv) do
  if a == "--simulate" then force_sim = true
  elseif a == "-h" or a == "--help" then
    print("usage: mopexlua demo.lua [--simulate] [OUTDIR]   (default OUTDIR: ./demo-out)")
    os.exit(0)
  elseif a:sub(1, 1) == "-" then
    io.stderr:write("demo.lua: unknown option ", a, " (usage: mopexlua demo.lua [--simulate] [OUTDIR])\n")
    os.exit(2)
  else out = a end
end
out = out or "demo-out"
local PIXEL = 0.6 / 3600

local function src_dir()
  local s = debug.getinfo(1, "S").source
  local d = s:sub(1, 1) == "@" and s:sub(2):match("^(.*)/scripts/[^/]*$")
  return d or "."
end

local function is_file(p) local f = io.open(p, "rb"); if f then f:close(); return true end return false end

local function real_data()
  local env = os.getenv("MOPEX_TEST_DATA")
  local cands = {}
  if env and env ~= "" then cands[#cands + 1] = env .. "/gammit_grb120119a" end
  cands[#cands + 1] = src_dir() .. "/../shared/data/gammit_grb120119a"
  for _, d in ipairs(cands) do
    if is_file(d .. "/lists/ch1_cbcd.lst") then return d end
  end
  return nil
end

-- Lists with absolute paths (the data's own lists are relative to its folder).
local function abs_lists(data, dir)
  local function abs(p) return p:sub(1, 1) == "/" and p or (data .. "/" .. p) end
  local lists = {}
  for _, kind in ipairs({ "cbcd", "cbunc", "bimsk" }) do
    local paths = {}
    for line in io.lines(data .. "/lists/ch1_" .. kind .. ".lst") do
      if line:match("%S") and not line:match("^%s*#") then paths[#paths + 1] = abs(line:match("^%s*(.-)%s*$")) end
    end
    lists[kind] = mopex.write_list(dir .. "/ch1_" .. kind .. ".lst", paths) or (dir .. "/ch1_" .. kind .. ".lst")
    lists.n = #paths
  end
  return lists
end

local function reference_stars(data)
  local rows = {}
  local names
  for line in io.lines(data .. "/aperture_reference_photutils_ch1_0056.csv") do
    if not line:match("^#") and line:match("%S") then
      local f = {}
      for v in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
      if not names then names = f
      else
        local r = {}
        for i, n in ipairs(names) do r[n] = tonumber(f[i]) or f[i] end
        rows[#rows + 1] = { ra = r.ra_deg, dec = r.dec_deg, flux = r.flux_r5_ujy, id = r.id }
      end
    end
  end
  return rows
end

local t0 = R.now()
mopex.mkdir_p(out)
local data = not force_sim and real_data() or nil
local args, what, truth, scale_note
if data then
  local l = abs_lists(data, out)
  what = string.format("real IRAC data: %d ch1 frames of AOR 46291456 (%s) with cbunc + bimsk, "
    .. "DCE fatal pattern 32520", l.n, data)
  args = { "-I", l.cbcd, "-S", l.cbunc, "-d", l.bimsk }
  truth = reference_stars(data)
  scale_note = "photutils on frame 0056 (r = 5 frame px, annulus 12-20 px; not MOPEX output)"
else
  local sim = mopex.simulate { out_dir = out .. "/sim", nframes = 12, seed = 2024, cosmics = 0,
                               nsources = 60, flux_min = 50, flux_max = 5000 }
  what = string.format("simulated IRAC-like data: %d dithered ch1 frames, 256 x 256, noise on, no "
    .. "cosmic rays %s", sim.nframes,
    force_sim and "(--simulate)" or "(no IRAC frames found beside the checkout)")
  args = { "-I", sim.images, "-S", sim.sigmas, "-d", sim.dce_masks }
  truth = {}
  local t <close> = mopex.read_table(sim.sources)
  for _, r in t:rows() do truth[#truth + 1] = { ra = r.ra, dec = r.dec, flux = r.flux_ujy, id = r.id } end
  scale_note = "simulator truth"
end
for _, a in ipairs({ "-O", out, "--set", "DCE_Status_Mask_Fatal_BitPattern=32520",
                     "--set", "do_multiprocess=manual",
                     "--set", "ncpu_multiprocess=" .. math.max(1, mopex.core.cpu_count()),
                     "--set", string.format("MOSAIC_PIXEL_SIZE_X=%.12g", -PIXEL),
                     "--set", string.format("MOSAIC_PIXEL_SIZE_Y=%.12g", PIXEL) }) do
  args[#args + 1] = a
end

local cur = R.configure_and_run("mosaic", args, {})
local img <close> = mopex.read(cur.mosaic)
local cov <close> = mopex.read(cur.coverage)
local nx, ny = img:size()
local c, sky = PH.coverage_and_sky(img, cov)

-- The brightest isolated star well inside the mosaic (coverage at least half the
-- maximum, 2 annulus radii from the edges).
local w <close> = img:wcs()
local frame_px = data and 1.2232 or 1.223      -- arcsec, IRAC ch1 (PXSCAL)
local r_frame, a_in, a_out = 5, 12, 20           -- frame pixels, as the reference
local k = frame_px / 0.6
local r, ann = r_frame * k, { a_in * k, a_out * k }
local star, flux, res
for _, s in ipairs(PH.isolated(truth, a_out * frame_px, 0.02)) do
  local x, y = w:sky2pix(s.ra, s.dec)
  if x > ann[2] and y > ann[2] and x < nx - ann[2] and y < ny - ann[2]
     and cov:get(math.floor(x + 0.5), math.floor(y + 0.5)) >= 0.5 * c.max then
    flux, res = PH.flux(img, s.ra, s.dec, { r = r, annulus = ann })
    star = s
    break
  end
end
local dt = R.now() - t0

local function p(label, text) io.stdout:write(string.format("  %-10s %s\n", label, text)) end
io.stdout:write("mopexlua demo: ", what, "\n")
p("mosaic", string.format("%s  %d x %d px at 0.6\"/px  (with %s)", cur.mosaic, nx, ny,
  cur.uncertainty and "mosaic_cov.fits, mosaic_unc.fits" or "mosaic_cov.fits"))
p("coverage", string.format("min %.3g / median %.3g / max %.3g frames over the %d covered pixels",
  c.min, c.median, c.max, c.n))
p("sky", string.format("%.4f MJy/sr (sigma-clipped median of the covered pixels)", sky))
if star then
  p("star", string.format("brightest isolated %s at RA %.5f Dec %.5f, aperture r = %.1f\": %.1f uJy;",
    data and "reference star" or "star", star.ra, star.dec, r * 0.6, flux))
  p("", string.format("%s: %.1f uJy; ratio %.4f", scale_note, star.flux, flux / star.flux))
else
  p("star", "no isolated star inside the well-covered area")
end
local nt = mopex.threads()
p("time", string.format("%.1f s (mosaic %.1f s, %d thread%s)", dt, cur.seconds, nt, nt == 1 and "" or "s"))
io.stdout:flush()
