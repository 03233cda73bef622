-- test_fif.lua: mopex.fiducial_frame, mopex.mosaic_geometry and
-- mopex.sn_estimator from Lua (schemas, classic keys, products, numbers),
-- plus the helpers core.read_fif/write_fif/mosaic_fif/fif_wcs/tiling/
-- spitzer_gain/sky_convert. The real-data cases use the 30 IRAC ch1 frames
-- of $MOPEX_TEST_DATA/gammit_grb120119a and are skipped (not failed) when
-- that folder is absent; tests/c/test_fif.c checks the same frame in depth.
local T = require "testing"
local mopex = require "mopex"
local core = mopex.core
local S = mopex.schema

local function file_exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

local data = os.getenv("MOPEX_TEST_DATA")
local bcd = data and (data .. "/gammit_grb120119a/ch1/bcd") or nil
local frames, uncs, masks = {}, {}, {}
if bcd then
  for k = 56, 85 do
    local p = string.format("%s/SPITZER_I1_46291456_%04d_0000_2_cbcd.fits", bcd, k)
    if file_exists(p) then
      frames[#frames + 1] = p
      uncs[#uncs + 1] = (p:gsub("_cbcd%.fits$", "_cbunc.fits"))
      masks[#masks + 1] = (p:gsub("_cbcd%.fits$", "_bimsk.fits"))
    end
  end
end
local have_data = #frames == 30

local function lines(path)
  local out = {}
  for l in io.lines(path) do out[#out + 1] = l end
  return out
end

T.test("schemas: unknown options raise and list the valid ones", function()
  local msg = T.raises(function() mopex.fiducial_frame { images = { "x.fits" }, edge_pading = 5 } end,
    "unknown option 'edge_pading' (did you mean 'edge_padding'?)", true)
  T.ok(msg:find("valid options: crota2, edge_padding, images, margin, moving_object, output_dir, "
    .. "projection, system", 1, true), msg)
  msg = T.raises(function() mopex.sn_estimator { images = { "x.fits" }, gian = 3 } end,
    "did you mean 'gain'", true)
  T.ok(msg:find("confusion_sigma, gain, images, out_dir, output_dir, read_noise", 1, true), msg)
  msg = T.raises(function() mopex.mosaic_geometry { images = { "x.fits" }, tile_max = 3 } end,
    "unknown option 'tile_max'", true)
  T.ok(msg:find("dce_masks, fif, images, margin, moving_object, output_dir, rmasks, sigmas, "
    .. "tile_max_x, tile_max_y", 1, true), msg)
  T.raises(function() mopex.sn_estimator { images = { "x.fits" }, gain = 0 } end,
    "option 'gain' must be > 0", true)
  T.raises(function() mopex.sn_estimator { images = { "x.fits" }, read_noise = -1 } end,
    "option 'read_noise' must be >= 0", true)
  T.raises(function() mopex.fiducial_frame { images = { "x.fits" }, edge_padding = -1 } end,
    "option 'edge_padding' must be >= 0", true)
  T.raises(function() mopex.fiducial_frame { images = { "x.fits" }, crota2 = "B" } end,
    "option 'crota2' must be an angle", true)
  T.raises(function() mopex.fiducial_frame { images = { "/nonexistent/a.fits" } } end,
    "'/nonexistent/a.fits' does not exist", true)
  T.raises(function() mopex.mosaic_geometry { images = { "x.fits" } } end, "option 'fif' is required", true)
end)

T.test("help text lists the classic keys", function()
  local text = S.help_text(mopex.fiducial_frame)
  for _, k in ipairs { "Edge_Padding", "Projection_Type", "Coordinate_System", "CROTA2", "MARGIN",
                       "IMAGE_STACK_FILE_NAME", "OUTPUT_DIR", "MOVING_OBJECT_MOSAIC",
                       "FIDUCIALIMAGEFRAMEIN", "run_fiducial_image_frame" } do
    T.ok(text:find(k, 1, true), "fiducial_frame help lacks " .. k)
  end
  text = S.help_text(mopex.sn_estimator)
  for _, k in ipairs { "Gain", "Read_Noise", "Confusion_Sigma", "SIGMA_DIR", "SNESTIMATORIN",
                       "compute_uncertainties_internally", "spitzer_gain", "Sigma-overlap" } do
    T.ok(text:find(k, 1, true), "sn_estimator help lacks " .. k)
  end
  text = S.help_text(mopex.mosaic_geometry)
  for _, k in ipairs { "run_mosaic_geom", "FIF_FILE_NAME", "MARGIN", "SIGMALIST_FILE_NAME",
                       "DCE_STATUS_MASK_LIST", "RMASK_LIST" } do
    T.ok(text:find(k, 1, true), "mosaic_geometry help lacks " .. k)
  end
  T.ok(S.markdown(mopex.fiducial_frame):find("| `edge_padding` | number | 10 | Edge_Padding |", 1, true))
end)

T.test("classic index and per-pipeline defaults", function()
  for _, pl in ipairs { "mosaic", "overlap", "apex" } do
    local idx = S.classic_index(pl)
    T.eq(idx.triggers.run_fiducial_image_frame, mopex.fiducial_frame)
    T.eq(idx.triggers.compute_uncertainties_internally, mopex.sn_estimator)
    local b = idx.blocks.fiducialimageframein
    T.ok(b and b.keys.edge_padding and b.keys.edge_padding.name == "edge_padding")
    T.eq(b.keys.crota2.name, "crota2")
    T.eq(b.keys.coordinate_system.name, "system")
    T.eq(b.keys.projection_type.name, "projection")
    local sb = idx.blocks.snestimatorin
    T.eq(sb.keys.gain.name, "gain")
    T.eq(sb.keys.read_noise.name, "read_noise")
    T.eq(sb.keys.confusion_sigma.name, "confusion_sigma")
    T.ok(idx.globals.margin and idx.globals.sigma_dir)
  end
  T.eq(S.classic_index("mosaic").triggers.run_mosaic_geom, mopex.mosaic_geometry)
  local v = S.validate(mopex.sn_estimator, { images = { "x" } }, "overlap")
  T.eq(v.out_dir, "Sigma-overlap")
  T.eq(S.validate(mopex.sn_estimator, { images = { "x" } }, "apex").out_dir, "Sigma-apex")
  T.eq(S.validate(mopex.sn_estimator, { images = { "x" } }).out_dir, "Sigma-mosaic")
  v = S.validate(mopex.sn_estimator, { images = { "x" } })
  T.eq(v.gain, 66.8); T.eq(v.read_noise, 8.8); T.eq(v.confusion_sigma, 0)
  v = S.validate(mopex.fiducial_frame, { images = { "x" } })
  T.eq(v.edge_padding, 10); T.eq(v.projection, "TAN"); T.eq(v.system, "J2000")
  T.eq(v.crota2, "A"); T.eq(v.margin, 0)
  T.eq(S.validate(mopex.fiducial_frame, { images = { "x" }, crota2 = "-45.5" }).crota2, -45.5)
  T.eq(S.coerce(mopex.fiducial_frame.by_name.crota2, "A"), "A")
  T.eq(mopex.mosaic_geometry.by_name.margin, mopex.fiducial_frame.by_name.margin)
end)

T.test("FIF helpers: tables, pixel size, tiling, systems", function()
  local dir = T.tmpdir("lua_fif_helpers")
  local fif = dir .. "/guide.tbl"
  local f = assert(io.open(fif, "w"))
  -- the guide's table (000 l.1937-1954), typographic dash and negative CDELT2 included
  f:write("\\char comment = Output from fiducial_image_frame, version 1.4\n",
    "\\real CRVAL1 = 329.129598\n\\real CRVAL2 = 64.662007\n\\real CRPIX1 = 264.50\n",
    "\\real CRPIX2 = 382.50\n\\real CROTA2 = -71.01896\n\\real CDELT1 = -3.39817E-04\n",
    "\\real CDELT2 =  -3.39801E-04\n\\int  NAXIS1 = 528\n\\int  NAXIS2 = 764\n",
    "\\int  EQUINOX = 2000\n\\char PROJTYPE = TAN\n\\char COORDINATE_SYSTEM = J2000\n",
    "\\char CTYPE1 = RA---TAN\n\\char CTYPE2 = DEC\u{2014}TAN\n\\real EXTENT_X = 0.179423\n",
    "\\real EXTENT_Y = 0.259608\n")
  f:close()
  local fr = core.read_fif(fif)
  T.eq(fr.naxis1, 528); T.eq(fr.naxis2, 764); T.eq(fr.crpix1, 264.5); T.eq(fr.crpix2, 382.5)
  T.eq(fr.ctype2, "DEC--TAN"); T.eq(fr.cdelt2, -3.39801e-4); T.eq(fr.system, "J2000")
  T.near(fr.extent_x, 0.179423, 5e-7)
  -- pixel size: ratio 2 doubles NAXIS, size wins over ratio, positive X size is an error
  local m = core.mosaic_fif(fr, { pixel_ratio_x = 2, pixel_ratio_y = 2 })
  T.eq(m.naxis1, 1056); T.eq(m.naxis2, 1528); T.eq(m.crpix1, 528.5); T.eq(m.crpix2, 764.5)
  T.near(m.cdelt1, -3.39817e-4 / 2, 1e-20)
  m = core.mosaic_fif(fif, { pixel_size_x = -1.1111e-4, pixel_size_y = 1.1111e-4, pixel_ratio_x = 2 })
  T.eq(m.naxis1, 1615); T.eq(m.cdelt1, -1.1111e-4)
  T.eq(m.cdelt2, -1.1111e-4) -- the FIF is mirrored in y and stays so
  T.raises(function() core.mosaic_fif(fr, { pixel_size_x = 1e-4 }) end,
    "MOSAIC_PIXEL_SIZE_X = 0.0001 must be negative", true)
  -- a hand-written frame table, written and read back
  local sub = { crval1 = 10.5, crval2 = -3, cdelt1 = -1e-3, cdelt2 = 1e-3, naxis1 = 100, naxis2 = 100,
                crota2 = -45, system = "Galactic" }
  core.write_fif(dir .. "/sub.tbl", sub)
  local back = core.read_fif(dir .. "/sub.tbl")
  T.eq(back.crpix1, 50.5); T.eq(back.crota2, -45); T.eq(back.ctype1, "GLON-TAN"); T.eq(back.naxis2, 100)
  local t <close> = mopex.read_table(dir .. "/sub.tbl")
  T.eq(t:keywords(), { "comment", "Date-Time", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CROTA2",
    "CDELT1", "CDELT2", "NAXIS1", "NAXIS2", "EQUINOX", "PROJTYPE", "COORDINATE_SYSTEM", "CTYPE1",
    "CTYPE2", "EXTENT_X", "EXTENT_Y" })
  T.eq(t:keyword("COORDINATE_SYSTEM"), "Galactic")
  local w <close> = core.fif_wcs(back)
  local l, b = w:pix2sky(50.5, 50.5)
  T.near(l, 10.5, 1e-9); T.near(b, -3, 1e-9)
  -- tiling oracle O-1
  local tiles = core.tiling(4450, 1024, 500)
  T.eq(#tiles, 18)
  T.eq(tiles[9], { tile_id = 9, naxis1 = 498, naxis2 = 512, offset_x = 8 * 494, offset_y = 0 })
  T.eq(#core.tiling(749, 200, 500), 1)
  T.eq(core.tiling(751, 10, 500)[2].naxis1, 376)
  -- systems (astropy 5.2.1: SkyCoord(...).galactic)
  local gl, gb = core.sky_convert("J2000", "Galactic", 120.0289, -9.0816)
  T.near(gl, 229.092412327269, 1e-9); T.near(gb, 10.804390989995, 1e-9)
  -- SkyCoord(l=..., b=..., frame='galactic').icrs
  local ls, bs = core.sky_convert("Galactic", "icrs", { 0, 120.0289 }, { 0, -9.0816 })
  T.near(ls[1], 266.404988286545, 1e-9); T.near(bs[1], -28.936177761791, 1e-9)
  T.near(ls[2], 8.015796657754, 1e-9); T.near(bs[2], 53.680903660353, 1e-9)
  T.raises(function() core.sky_convert("B1950", "Galactic", 1, 2) end, "'B1950' is not one of", true)
end)

T.test("S/N estimator on a synthetic image", function()
  local dir = T.tmpdir("lua_snest")
  local img <close> = mopex.image(5, 4, 0)
  for y = 1, 4 do for x = 1, 5 do img:set(x, y, (x - 2) * 10 + y) end end
  img:set(3, 2, 0 / 0)
  img:set_header("BUNIT", "MJy/sr")
  img:write(dir .. "/frame_a.fits")
  img:write(dir .. "/frame_b.fits")
  local r = mopex.sn_estimator { images = { dir .. "/frame_a.fits", dir .. "/frame_b.fits" },
    output_dir = dir, pipeline = "overlap", gain = 66.8, read_noise = 8.8, confusion_sigma = 3 }
  T.eq(r.sigmas, { dir .. "/Sigma-overlap/frame_a_sigma.fits", dir .. "/Sigma-overlap/frame_b_sigma.fits" })
  T.eq(r.lists.sigmas, dir .. "/Sigma-overlap/sigma_ImageList.txt")
  T.eq(lines(r.lists.sigmas), r.sigmas)
  local s <close> = mopex.read(r.sigmas[2])
  for y = 1, 4 do
    for x = 1, 5 do
      local v = (x - 2) * 10 + y
      local e = math.sqrt((8.8 ^ 2 + 9) / 66.8 ^ 2 + math.max(v, 0) / 66.8)
      if x == 3 and y == 2 then
        local nv = s:get(x, y)
        T.ok(nv ~= nv, "NaN stays NaN")
      else
        T.near(s:get(x, y), e, 2e-7 * e)
      end
    end
  end
  T.eq(s:bunit(), "MJy/sr")
  -- by hand: I = -7 at (1, 3) has no Poisson term: sqrt(86.44 / 4462.24) = 0.139181...
  T.near(s:get(1, 3), 0.13918130897, 1e-7)
end)

T.test("FIF, geometry and S/N on the real IRAC frames", function()
  if not have_data then
    io.stdout:write("  (real-data case skipped: no gammit_grb120119a ch1 frames)\n")
    return
  end
  local dir = T.tmpdir("lua_fif_real")
  local list = dir .. "/cbcd.lst"
  core.write_list(list, frames)
  local r = mopex.fiducial_frame { images = list, output_dir = dir }
  T.eq(r.fif, dir .. "/FIF.tbl")
  T.eq(r.header_list, dir .. "/header_list.tbl")
  -- the same frame as the C engine computes directly (tests/c/test_fif.c)
  local c = core.fiducial_frame { images = frames, edge_padding = 10, projection = "TAN",
                                  system = "J2000", crota2 = "A" }
  local t <close> = mopex.read_table(r.fif)
  for _, k in ipairs { "crval1", "crval2", "crpix1", "crpix2", "crota2", "cdelt1", "cdelt2" } do
    T.eq(tonumber((t:keyword(k:upper()))), c[k], k)
    T.eq(r.frame[k], c[k], k)
  end
  T.eq(math.tointeger(tonumber((t:keyword("NAXIS1")))), c.naxis1)
  T.eq(math.tointeger(tonumber((t:keyword("NAXIS2")))), c.naxis2)
  T.eq(t:keyword("CTYPE1"), "RA---TAN"); T.eq(t:keyword("CTYPE2"), "DEC--TAN")
  T.eq(t:keyword("PROJTYPE"), "TAN"); T.eq(t:keyword("COORDINATE_SYSTEM"), "J2000")
  T.eq(t:keyword("EQUINOX"), "2000")
  T.ok(t:keyword("comment"):find("^Output from fiducial_image_frame, mopexlua "))
  T.near(tonumber((t:keyword("EXTENT_X"))), c.naxis1 * -c.cdelt1, 1e-15)
  -- the numbers of the C test: orientation = circular mean of the frames (76.75),
  -- scale 1.2233", CRPIX = (NAXIS + 1)/2, centred on the GRB field
  T.near(r.frame.crota2, 76.750174, 1e-5)
  T.near(-r.frame.cdelt1 * 3600, 1.223332, 1e-5)
  T.eq(r.frame.crpix1, (r.frame.naxis1 + 1) / 2)
  T.eq(r.frame.naxis1, 408); T.eq(r.frame.naxis2, 403)
  T.near(r.frame.crval1, 120.02868462, 1e-7); T.near(r.frame.crval2, -9.08244880, 1e-7)
  T.near(r.info.pixel_scale, 1.223332, 1e-5)
  local hl <close> = mopex.read_table(r.header_list)
  T.eq(hl:nrows(), 30)
  T.eq(hl:get(1, "fname"), frames[1])
  T.near(hl:get(1, "crval1"), 120.036320246642, 1e-12)
  -- CROTA2 = 0 and Galactic
  local z = mopex.fiducial_frame { images = frames, output_dir = dir .. "/north", crota2 = 0 }
  T.eq(z.frame.crota2, 0); T.eq(z.frame.naxis1, 458); T.eq(z.frame.naxis2, 452)
  local g = mopex.fiducial_frame { images = frames, output_dir = dir .. "/gal", system = "Galactic" }
  T.eq(g.frame.ctype1, "GLON-TAN"); T.eq(g.frame.system, "Galactic")
  T.near(g.frame.crval1, 229.09305197, 1e-7)

  -- Mosaic Geometry on the first 80 columns of that frame (the C test's sub-frame)
  local sub = {}
  for k, v in pairs(r.frame) do sub[k] = v end
  sub.naxis1 = 80
  core.write_fif(dir .. "/sub_FIF.tbl", sub)
  local geo = mopex.mosaic_geometry { images = list, sigmas = uncs, dce_masks = masks,
    fif = dir .. "/sub_FIF.tbl", output_dir = dir .. "/geom", tile_max_x = 50, tile_max_y = 50 }
  T.eq(#geo.images, 18)
  T.eq(#geo.sigmas, 18); T.eq(#geo.dce_masks, 18)
  T.eq(geo.rmasks, nil); T.eq(geo.lists.rmasks, nil)
  T.ok(not file_exists(dir .. "/geom/geom_rmask_ImageList.txt"))
  for k, i in ipairs(geo.selected) do
    T.eq(geo.images[k], frames[i]); T.eq(geo.sigmas[k], uncs[i]); T.eq(geo.dce_masks[k], masks[i])
  end
  T.eq(lines(geo.lists.images), geo.images)
  T.eq(lines(dir .. "/geom/geom_SigmaList.txt"), geo.sigmas)
  T.eq(lines(dir .. "/geom/geom_DmaskList.txt"), geo.dce_masks)
  T.eq(geo.fif, dir .. "/geom/geom_fif.tbl")
  T.eq(core.read_fif(geo.fif).naxis1, 80)
  local it <close> = mopex.read_table(geo.interp_table)
  T.eq(it:nrows(), 18)
  T.eq(it:columns(), { "image_id", "fname", "xoff", "yoff", "naxis1", "naxis2" })
  local tt <close> = mopex.read_table(geo.tiles)
  T.eq(tt:get(2, "xoff"), 40)
  -- a negative MARGIN keeps fewer frames (8 in the C test)
  local shr = mopex.mosaic_geometry { images = frames, fif = dir .. "/sub_FIF.tbl",
    output_dir = dir .. "/geom2", margin = -30 }
  T.eq(#shr.images, 8)
  T.raises(function()
    sub.crval1 = sub.crval1 + 1
    core.write_fif(dir .. "/far_FIF.tbl", sub)
    mopex.mosaic_geometry { images = frames, fif = dir .. "/far_FIF.tbl", output_dir = dir .. "/geom3" }
  end, "none of the 30 images overlaps the FIF", true)

  -- S/N estimator on a real frame with the gain of its header (Eq 4.1)
  local gain, rn = core.spitzer_gain(frames[1])
  T.near(gain, 93.6 * 3.7 / 0.1257, 1e-9); T.eq(rn, 21.0)
  local sn = mopex.sn_estimator { images = { frames[1] }, output_dir = dir, gain = gain, read_noise = rn }
  T.eq(sn.sigmas[1], dir .. "/Sigma-mosaic/SPITZER_I1_46291456_0056_0000_2_cbcd_sigma.fits")
  local a <close> = mopex.read(frames[1])
  local s <close> = mopex.read(sn.sigmas[1])
  for _, p in ipairs { { 128, 128 }, { 10, 200 }, { 250, 3 } } do
    local v = a:get(p[1], p[2])
    T.near(s:get(p[1], p[2]), math.sqrt(rn ^ 2 / gain ^ 2 + math.max(v, 0) / gain), 1e-7)
  end
end)

T.done()
