-- test_simulate.lua: mopex.simulate from Lua (schema, files, truth tables,
-- in-memory frames, determinism) and the scripts/simulate.lua front end.
local T = require "testing"
local mopex = require "mopex"

local src_dir = os.getenv("MOPEX_SOURCE_DIR") or "."
local UJY = 23.5044305

local function lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = l end
  return out
end

-- column values of an IPAC table as a Lua array
local function column(path, name)
  local t <close> = mopex.read_table(path)
  local values = t:column(name)
  return values
end

T.test("schema validation names the option", function()
  T.raises(function() mopex.simulate { out_dir = "x", nframe = 3 } end, "did you mean 'nframes'")
  T.raises(function() mopex.simulate { out_dir = "x", pattern = "spiral" } end,
    "option 'pattern' must be one of dither, map, two_groups, list")
  T.raises(function() mopex.simulate { nframes = 2 } end, "option 'out_dir' is required")
  T.raises(function() mopex.simulate { out_dir = "x", channel = 3 } end, "option 'channel' must be <= 2")
  T.raises(function() mopex.simulate { out_dir = "x", pattern = "list" } end, "needs option 'pointings'")
  T.raises(function() mopex.simulate { out_dir = "x", flux_min = 100, flux_max = 10 } end,
    "'flux_max' %(10%) must be >= flux_min")
  T.raises(function() mopex.simulate { render_frame = 1, nframes = 3, hdr = true } end, "even")
  local m = mopex.schema.get("simulate")
  local text = mopex.schema.help_text(m)
  T.ok(text:find("source_density", 1, true) and text:find("cosmic_flag_fraction", 1, true))
  T.ok(text:find("channel 1 0.1257, channel 2 0.1447", 1, true), "per-channel defaults are documented")
end)

T.test("one frame in memory", function()
  local f = mopex.simulate { render_frame = 2, nframes = 3, seed = 4, noise = false, cosmics = 0,
    sources = { { ra = 120.03, dec = -9.07, flux = 3000 } }, dither_scale = 0, pointing_jitter = 0,
    offsets = { 0.0, 0.25, 0.0 }, hot_pixels = 0, dead_pixels = 0, nan_pixels = 0 }
  local img, sig, msk = f.image, f.sigma, f.mask
  T.eq({ img:size() }, { 256, 256 })
  T.eq(img:header("EXPTIME"), 93.6)
  T.eq(img:header("CTYPE1"), "RA---TAN-SIP")
  T.eq(img:header("AORKEY"), 40000000)
  T.eq(msk:bitpix(), 16)
  T.near(f.offset, 0.25, 0)
  -- the star sits at CRVAL = the target (no dither, no jitter): pixel 128,128
  local x, y = img:sky2pix(120.03, -9.07)
  T.near(x, 128, 1e-6)
  T.near(y, 128, 1e-6)
  -- flux: sum over 21x21 pixels of (I - background) * 23.5044305 * area
  local bg = 0.05 + 0.0858 - 0.0339 + 0.25
  local s = 0
  local w <close> = img:wcs()
  for j = 118, 138 do
    for i = 118, 138 do
      s = s + (img:get(i, j) - bg) * UJY * w:pixel_area(i, j)
    end
  end
  T.near(s / 3000, 1, 2e-4)
  -- sigma: the noise model of the noise-free value at a sky pixel
  local ge = 93.6 * 3.7 / 0.1257
  T.near(sig:get(10, 10), math.sqrt((21 / ge) ^ 2 + bg / ge), 1e-7)
  T.eq(#f.cosmics, 0)
  img:close(); sig:close(); msk:close()
end)

T.test("files, lists and truth tables", function()
  local dir = T.tmpdir("simulate_lua")
  local r = mopex.simulate { out_dir = dir .. "/a", nframes = 6, pattern = "map", ndither = 2, seed = 11,
    cosmics = 15, cosmic_flag_fraction = 0.5 }
  T.eq(r.nframes, 6)
  T.eq(r.images, dir .. "/a/cbcd.lst")
  local l = lines(r.images)
  T.eq(#l, 6)
  T.eq(l[6], "SPITZER_I1_40000000_0005_0000_1_cbcd.fits")
  T.eq(lines(r.sigmas)[6], "SPITZER_I1_40000000_0005_0000_1_cbunc.fits")
  T.eq(lines(r.dce_masks)[1], "SPITZER_I1_40000000_0000_0000_1_bimsk.fits")
  -- offsets: zero mean, one per frame, equal to frames.tbl's
  local off = column(r.offsets, "Offset")
  local off2 = column(r.frames, "offset")
  local sum = 0
  for i = 1, 6 do sum = sum + off[i]; T.eq(off[i], off2[i]) end
  T.near(sum, 0, 1e-15)
  T.eq(#column(r.sources, "id"), r.nsources)
  -- every cosmic entry: a flagged one carries bit 9 in its frame's bimsk,
  -- an unflagged one nothing
  local ids, xs, ys, fl = column(r.cosmics, "Image_id"), column(r.cosmics, "x"),
    column(r.cosmics, "y"), column(r.cosmics, "flagged")
  T.eq(#ids, r.ncosmics)
  T.ok(r.ncosmics > 30, "about 15 hits x 6 frames")
  local masks = {}
  for k = 1, #ids do
    local m = masks[ids[k]]
    if not m then
      m = mopex.read_mask(dir .. "/a/" .. lines(r.dce_masks)[ids[k]])
      masks[ids[k]] = m
    end
    T.eq(m:get(xs[k], ys[k]) & 512 ~= 0, fl[k] == 1)
  end
  for _, m in pairs(masks) do m:close() end
  -- same seed: the same bytes
  local r2 = mopex.simulate { out_dir = dir .. "/b", nframes = 6, pattern = "map", ndither = 2, seed = 11,
    cosmics = 15, cosmic_flag_fraction = 0.5 }
  for _, name in ipairs { "SPITZER_I1_40000000_0003_0000_1_cbcd.fits", "SPITZER_I1_40000000_0003_0000_1_bimsk.fits",
    "cosmics.tbl", "sources.tbl" } do
    T.ok(T.read_file(dir .. "/a/" .. name) == T.read_file(dir .. "/b/" .. name), name .. " differs")
  end
  T.eq(r2.ncosmics, r.ncosmics)
end)

T.test("explicit sources, pointings and HDR", function()
  local dir = T.tmpdir("simulate_lua")
  local r = mopex.simulate { out_dir = dir .. "/c", pattern = "list", hdr = true, seed = 2,
    pointings = { { ra = 10, dec = 20 }, { ra = 10.01, dec = 20, rotation = 15 } },
    sources = { { ra = 10.001, dec = 20.001, flux = 500 }, { 10.011, 20.0, 900 } }, prefix = "sim" }
  T.eq(r.nframes, 4)
  T.eq(lines(r.images)[4], "sim_0003_0000_1_cbcd.fits")
  T.eq(column(r.sources, "flux_ujy"), { 500, 900 })
  T.eq(column(r.frames, "hdrframe"), { "short", "long", "short", "long" })
  T.eq(column(r.frames, "exptime"), { 0.4, 93.6, 0.4, 93.6 })
  T.eq(column(r.frames, "rotation")[3], 15)
  local img <close> = mopex.read(dir .. "/c/sim_0000_0000_1_cbcd.fits")
  T.eq(img:header("HDRFRAME"), "short")
  -- a table of sources given by path, or as a Table
  local again = mopex.simulate { out_dir = dir .. "/d", nframes = 2, sources = r.sources, ra = 10, dec = 20 }
  T.eq(column(again.sources, "ra"), column(r.sources, "ra"))
  local t <close> = mopex.read_table(r.sources)
  local third = mopex.simulate { out_dir = dir .. "/e", nframes = 2, sources = t, ra = 10, dec = 20 }
  T.eq(column(third.sources, "flux_ujy"), { 500, 900 })
  T.raises(function() mopex.simulate { out_dir = dir .. "/f", nframes = 2, sources = { { ra = 1 } } } end,
    "entry 1 needs numbers ra, dec and flux")
  T.raises(function() mopex.simulate { out_dir = dir .. "/f", nframes = 2, sources = dir .. "/none.tbl" } end,
    "none.tbl")
end)

T.test("the command-line front end", function()
  local dir = T.tmpdir("simulate_lua")
  local script = src_dir .. "/scripts/simulate.lua"
  local chunk = assert(loadfile(script))
  local out = {}
  local real_print = print
  print = function(...) out[#out + 1] = table.concat({ ... }, " ") end
  local ok, r = pcall(chunk, "--out", dir .. "/cli", "--nframes", "4", "--seed", "9", "--pattern=map",
    "--ndither", "2", "--no-noise", "--offsets", "0.1,0.2,0.3,-0.6", "--hot-pixels", "0")
  print = real_print
  T.ok(ok, tostring(r))
  T.eq(r.nframes, 4)
  T.ok(out[1]:find("wrote 4 frames", 1, true), out[1])
  T.eq(column(r.offsets, "Offset"), { 0.1, 0.2, 0.3, -0.6 })
  -- the noise-free median of a frame is sky + ZODY_EST - SKYDRKZB + offset
  local img <close> = mopex.read(dir .. "/cli/" .. lines(r.images)[3])
  T.near(mopex.median(img), 0.05 + 0.0858 - 0.0339 + 0.3, 1e-7)
  -- through the host: a misspelt option exits with status 2 and a hint
  local host = (os.getenv("MOPEX_BUILD_DIR") or ".") .. "/mopexlua"
  if io.open(host) then
    local p = io.popen(host .. " " .. script .. " --out " .. dir .. "/cli2 --nframs 3 2>&1; echo rc=$?")
    local text = p:read("a")
    p:close()
    T.ok(text:find("did you mean --nframes", 1, true), text)
    T.ok(text:find("rc=2", 1, true), text)
  end
end)

T.done()
