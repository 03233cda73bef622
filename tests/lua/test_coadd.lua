-- mopex.coadd, mopex.combine, mopex.fix_coverage, mopex.mosaic_medfilter and
-- mopex.quicklook through the Lua API, on synthetic interpolated stacks with
-- known values and offsets (mosaic.md checklist 1-9, 33-35; overlap.md 4.3.9).
local T = require "testing"
local mopex = require "mopex"

local TMP = T.tmpdir("test_coadd")
local core = mopex.core

local function join(a, b) return a .. "/" .. b end

-- A mosaic_fif.tbl of n1 x n2 pixels (only what the FIF reader requires).
local function write_fif(path, n1, n2)
  local t <close> = mopex.table()
  t:set_keyword("CRVAL1", 120.0)
  t:set_keyword("CRVAL2", -9.0)
  t:set_keyword("CDELT1", -0.0003)
  t:set_keyword("CDELT2", 0.0003)
  t:set_keyword("CRPIX1", (n1 + 1) / 2)
  t:set_keyword("CRPIX2", (n2 + 1) / 2)
  t:set_keyword("NAXIS1", n1)
  t:set_keyword("NAXIS2", n2)
  t:write(path)
  return path
end

-- An interpolated-image-like frame: constant (or fn(x, y), 1-based local
-- pixel) on the box at 0-based offset (x0, y0).
local function frame(path, x0, y0, nx, ny, value, keys)
  local img <close> = mopex.image(nx, ny, type(value) == "number" and value or 0)
  if type(value) == "function" then
    for y = 1, ny do for x = 1, nx do img:set(x, y, value(x, y)) end end
  end
  img:set_header("MINTOFFX", x0)
  img:set_header("MINTOFFY", y0)
  for k, v in pairs(keys or {}) do img:set_header(k, v) end
  img:write(path)
  return path
end

local function pix(path, x, y)
  local img <close> = mopex.read(path)
  return img:get(x, y)
end

local function stack(dir, spec)
  core.mkdir_p(dir)
  local imgs, covs, sigs = {}, {}, {}
  for i, f in ipairs(spec) do
    imgs[i] = frame(join(dir, "interp_f" .. i .. ".fits"), f.x0, f.y0, f.nx, f.ny, f.v,
      { BUNIT = "MJy/sr", EXPTIME = f.t })
    covs[i] = frame(join(dir, "interp_f" .. i .. "_covg.fits"), f.x0, f.y0, f.nx, f.ny, f.c)
    if f.s then sigs[i] = frame(join(dir, "interp_unc_f" .. i .. "_sigma.fits"), f.x0, f.y0, f.nx, f.ny, f.s) end
  end
  return imgs, covs, (#sigs > 0) and sigs or nil
end

T.test("straight average, uncertainty and coverage by hand (3 frames)", function()
  local dir = join(TMP, "hand")
  local imgs, covs, sigs = stack(dir, {
    { x0 = 0, y0 = 0, nx = 4, ny = 2, v = 1, c = 0.5, s = 0.1 },
    { x0 = 1, y0 = 0, nx = 4, ny = 2, v = 2, c = 1.0, s = 0.2 },
    { x0 = 2, y0 = 0, nx = 4, ny = 2, v = 4, c = 0.25, s = 0.4 },
  })
  write_fif(join(dir, "mosaic_fif.tbl"), 6, 2)
  -- lists as list files, the way the pipeline chains them
  local il, cl = join(dir, "interp_ImageList.txt"), join(dir, "interp_CovgList.txt")
  core.write_list(il, imgs)
  core.write_list(cl, covs)
  local t = mopex.coadd { interp_images = il, interp_coverages = cl, interp_sigmas = sigs, output_dir = dir,
                          create_std = true }
  T.eq(t.coadd_path, join(dir, "Coadd-mosaic"))
  T.eq(t.ntiles, 1)
  T.eq(t.tiles, { join(dir, "Coadd-mosaic/coadd_Tile_001_Image.fits") })
  T.eq(t.tile_products.uncertainty, { join(dir, "Coadd-mosaic/coadd_Tile_001_Unc.fits") })
  T.eq(t.tile_products.std, { join(dir, "Coadd-mosaic/coadd_Tile_001_Std_Unc.fits") })
  T.eq(T.read_file(t.tile_bcd), "1 3 0 1 2\n")
  local m = mopex.combine { output_dir = dir, coadd_path = t.coadd_path }  -- chained as a pipeline does
  T.eq(m.mosaic, join(dir, "Combine-mosaic/mosaic.fits"))
  T.eq(m.uncertainty, join(dir, "Combine-mosaic/mosaic_unc.fits"))
  T.eq(m.std, join(dir, "Combine-mosaic/mosaic_std.fits"))
  T.eq(m.median_mosaic, nil)
  -- columns (1-based): 1 A; 2 A B; 3,4 A B C; 5 B C; 6 C
  local O = { 1, 2.5 / 1.5, 2, 2, 3 / 1.25, 4 }
  local U = { 0.1, math.sqrt(0.0425) / 1.5, math.sqrt(0.0525) / 1.75, math.sqrt(0.0525) / 1.75,
              math.sqrt(0.05) / 1.25, 0.4 }
  local C = { 0.5, 1.5, 1.75, 1.75, 1.25, 0.25 }
  for x = 1, 6 do
    T.near(pix(m.mosaic, x, 2), O[x], 1e-6 * O[x], "O column " .. x)
    T.near(pix(m.uncertainty, x, 1), U[x], 1e-6 * U[x], "U column " .. x)
    T.near(pix(m.coverage, x, 1), C[x], 1e-7, "C column " .. x)
  end
  T.near(pix(m.std, 3, 1), math.sqrt(1.5 / 1.75), 1e-6)
  T.eq(pix(m.std, 1, 1), 0.0)
  local img <close> = mopex.read(m.mosaic)
  T.eq(img:header("BUNIT"), "MJy/sr")
  T.eq(img:header("CRPIX1"), 3.5)
  T.eq(img:header("NAXIS1"), 6)
end)

T.test("time weighting pulls the mean towards the long exposure", function()
  local dir = join(TMP, "time")
  local imgs = stack(dir, {
    { x0 = 0, y0 = 0, nx = 3, ny = 3, v = 1, c = 1, t = 0.4 },
    { x0 = 0, y0 = 0, nx = 3, ny = 3, v = 2, c = 1, t = 10.4 },
    { x0 = 0, y0 = 0, nx = 3, ny = 3, v = 3, c = 1, t = 96.8 },
  })
  write_fif(join(dir, "mosaic_fif.tbl"), 3, 3)
  local t = mopex.coadd { interp_images = imgs, output_dir = dir, time_keyword = "EXPTIME" }
  T.eq(t.tile_products.time, { join(dir, "Coadd-mosaic/coadd_Tile_001_Time.fits") })
  local m = mopex.combine { output_dir = dir }
  T.near(pix(m.mosaic, 2, 2), (0.4 * 1 + 10.4 * 2 + 96.8 * 3) / 107.6, 2e-7)
  T.eq(pix(m.coverage, 2, 2), 3.0)
  T.near(pix(t.tile_products.time[1], 2, 2), 107.6, 1e-5)
  -- USE_INT_TIME_KWD = 0 switches it off again; = 1 alone means EXPTIME
  mopex.coadd { interp_images = imgs, output_dir = dir, time_keyword = "EXPTIME", use_time_keyword = false }
  T.near(pix(mopex.combine { output_dir = dir }.mosaic, 2, 2), 2.0, 0)
  mopex.coadd { interp_images = imgs, output_dir = dir, use_time_keyword = true }
  T.near(pix(mopex.combine { output_dir = dir }.mosaic, 2, 2), 311.6 / 107.6, 2e-7)
  -- a missing keyword names the file
  frame(imgs[2], 0, 0, 3, 3, 2)
  T.raises(function() mopex.coadd { interp_images = imgs, output_dir = dir, time_keyword = "EXPTIME" } end,
    "interp_f2.fits' %(frame 2%) has no EXPTIME keyword")
end)

T.test("median, absolute minimum, tiles kept or deleted", function()
  local dir = join(TMP, "median")
  local vals = { 5, -1.5, 3, 1.5 }
  local spec = {}
  for i, v in ipairs(vals) do spec[i] = { x0 = 0, y0 = 0, nx = 8, ny = 5, v = v, c = 1, s = 0.1 * i } end
  local imgs, covs, sigs = stack(dir, spec)
  write_fif(join(dir, "mosaic_fif.tbl"), 8, 5)
  local t = mopex.coadd { interp_images = imgs, interp_coverages = covs, interp_sigmas = sigs, output_dir = dir,
                          median = true, tilemax_x = 3, tilemax_y = 2 }
  T.eq(t.ntiles, 3 * 2)  -- 8 = 2 + 2 + 4 columns, 5 = 2 + 3 rows
  T.eq(t.median_tiles_table, join(dir, "Coadd-mosaic/coadd_median_tiles.tbl"))
  local m = mopex.combine { output_dir = dir }
  T.eq(m.median_mosaic, join(dir, "Combine-mosaic/median_mosaic.fits"))
  T.eq(pix(m.median_mosaic, 7, 4), 3.0) -- sorted -1.5 1.5 3 5: upper median
  mopex.coadd { interp_images = imgs, interp_coverages = covs, interp_sigmas = sigs, output_dir = dir,
                absolute_minimum = true }
  m = mopex.combine { output_dir = dir, keep_coadded_tiles = true, delete_intermediate_files = true }
  T.eq(pix(m.mosaic, 1, 1), -1.5)                    -- |-1.5| = |1.5|: the first in the stack
  T.near(pix(m.uncertainty, 1, 1), 0.2, 1e-7)        -- and its uncertainty
  T.ok(core.file_exists(join(dir, "Coadd-mosaic/coadd_Tile_001_Image.fits")), "kept with keep_coadded_tiles")
  mopex.combine { output_dir = dir, keep_coadded_tiles = false, delete_intermediate_files = true }
  T.ok(not core.file_exists(join(dir, "Coadd-mosaic/coadd_Tile_001_Image.fits")), "deleted")
  T.ok(core.file_exists(join(dir, "Combine-mosaic/mosaic.fits")))
end)

T.test("outlier mosaics from extra layers", function()
  local dir = join(TMP, "outlier")
  local imgs, covs = stack(dir, {
    { x0 = 0, y0 = 0, nx = 4, ny = 4, v = 1, c = 1 },
    { x0 = 2, y0 = 0, nx = 4, ny = 4, v = 1, c = 0.5 },
  })
  local om = { frame(join(dir, "o1.fits"), 0, 0, 4, 4, 0), frame(join(dir, "o2.fits"), 2, 0, 4, 4, 6) }
  local dm = { frame(join(dir, "d1.fits"), 0, 0, 4, 4, -2), frame(join(dir, "d2.fits"), 2, 0, 4, 4, 0) }
  write_fif(join(dir, "mosaic_fif.tbl"), 6, 4)
  local t = mopex.coadd { interp_images = imgs, interp_coverages = covs, outlier_maps = om,
                          dual_maps = dm, output_dir = dir }
  T.eq(t.outlier_tiles_table, join(dir, "Outlier-mosaic/tiles.tbl"))
  T.eq(T.read_file(join(dir, "DualOutlier-mosaic/tile_bcd.txt")), "1 2 0 1\n")
  local m = mopex.combine { output_dir = dir }
  T.near(pix(m.outlier_mosaic, 4, 1), 6 * 0.5 / 1.5, 1e-6)
  T.near(pix(m.dual_outlier_mosaic, 4, 1), -2 / 1.5, 1e-6)
  T.eq(pix(m.outlier_mosaic, 6, 1), 6.0)
end)

T.test("fix coverage, then coadd with the fixed maps", function()
  local dir = join(TMP, "fixcov")
  local imgs, covs = stack(dir, {
    { x0 = 0, y0 = 0, nx = 5, ny = 5, v = 2, c = function(x, y) return (x == 3 and y == 3) and 0.9 or 1 end },
  })
  write_fif(join(dir, "mosaic_fif.tbl"), 5, 5)
  local fc = mopex.fix_coverage { interp_coverages = covs, output_dir = dir }
  T.eq(fc.interp_coverages, { join(dir, "Interp-mosaic/fixed_covg_f1.fits") })
  T.eq(core.read_list(fc.lists.coverages), fc.interp_coverages)
  T.eq(pix(fc.interp_coverages[1], 3, 3), 0.0)   -- 0.9 < Min_Single_Coverage 0.95
  T.eq(pix(fc.interp_coverages[1], 1, 1), 0.0)   -- corner: block 4 < 9 x 0.83
  T.eq(pix(fc.interp_coverages[1], 2, 2), 1.0)   -- block 8.9: kept
  local img <close> = mopex.read(fc.interp_coverages[1])
  T.eq(img:header("MINTOFFX"), 0)
  -- a looser block threshold keeps the edges
  local fc2 = mopex.fix_coverage { interp_coverages = covs, output_dir = dir, min_block = 0.5 }
  T.eq(pix(fc2.interp_coverages[1], 3, 1), 1.0)  -- edge: 6 >= 4.5
  mopex.coadd { interp_images = imgs, interp_coverages = fc.interp_coverages, output_dir = dir }
  local m = mopex.combine { output_dir = dir }
  T.ok(pix(m.mosaic, 3, 3) ~= pix(m.mosaic, 3, 3), "zeroed coverage: NaN")
  T.eq(pix(m.coverage, 3, 3), 0.0)
  T.eq(pix(m.mosaic, 2, 2), 2.0)
end)

T.test("mosaic medfilter of a flat mosaic is zero", function()
  local dir = join(TMP, "medfilter")
  local imgs, covs = stack(dir, {
    { x0 = 0, y0 = 0, nx = 30, ny = 20, v = 7.5, c = 1 },
    { x0 = 20, y0 = 5, nx = 20, ny = 15, v = 7.5, c = 0.5 },
  })
  write_fif(join(dir, "mosaic_fif.tbl"), 40, 25)
  mopex.coadd { interp_images = imgs, interp_coverages = covs, output_dir = dir }
  mopex.combine { output_dir = dir }
  local mf = mopex.mosaic_medfilter { output_dir = dir, window_x = 15, window_y = 15, n_outliers = 10 }
  T.eq(mf.mosaic_minback, join(dir, "Combine-mosaic/mosaic_minback.fits"))
  local img <close> = mopex.read(mf.mosaic_minback)
  local zero, nan = 0, 0
  for y = 1, 25 do
    for x = 1, 40 do
      local v = img:get(x, y)
      if v ~= v then nan = nan + 1 elseif v == 0 then zero = zero + 1 end
    end
  end
  T.eq(zero, 30 * 20 + 20 * 15 - 10 * 15)
  T.eq(nan, 40 * 25 - zero)   -- uncovered pixels stay NaN
end)

T.test("quicklook: offsets from an array or offsets.tbl", function()
  local dir = join(TMP, "quicklook")
  local imgs, covs = stack(dir, {
    { x0 = 0, y0 = 0, nx = 6, ny = 4, v = 10, c = 1 },
    { x0 = 3, y0 = 0, nx = 6, ny = 4, v = 13, c = 1 },
  })
  write_fif(join(dir, "mosaic_fif.tbl"), 9, 4)
  local q = mopex.quicklook { interp_images = imgs, interp_coverages = covs, output_dir = dir, offsets = { 0, 3 } }
  T.eq(q.mosaic, join(dir, "mosaic.fits"))
  T.eq(q.tiles_table, join(dir, "Coadd-overlap/coadd_tiles.tbl"))
  T.ok(core.file_exists(join(dir, "Coadd-overlap/coadd_Tile_001_Cov.fits")))
  T.ok(not core.file_exists(join(dir, "Coadd-overlap/coadd_Tile_001_Unc.fits")))
  for x = 1, 9 do T.eq(pix(q.mosaic, x, 2), 10.0, "column " .. x) end
  -- offsets.tbl looked up through interp_ImageList.txt.tbl (input ids 4 and 7)
  local ot <close> = mopex.table()
  ot:add_column("Image_id", "int", { 7, 4 })
  ot:add_column("Offset", "double", { 1.0, -2.0 })
  ot:write(join(dir, "offsets.tbl"))
  local it <close> = mopex.table()
  it:add_column("image_id", "int", { 4, 7 })
  it:add_column("file", "string", { "interp_f1.fits", "interp_f2.fits" })
  it:write(join(dir, "interp_ImageList.txt.tbl"))
  q = mopex.quicklook { interp_images = imgs, interp_coverages = covs, output_dir = dir,
                        offsets = join(dir, "offsets.tbl"), interp_table = join(dir, "interp_ImageList.txt.tbl") }
  T.eq(pix(q.mosaic, 1, 1), 12.0)                 -- 10 - (-2)
  T.eq(pix(q.mosaic, 5, 1), (12 + 12) / 2)        -- 13 - 1 = 12
  T.raises(function()
    mopex.quicklook { interp_images = imgs, output_dir = dir, offsets = join(dir, "offsets.tbl") }
  end, "has no offset for Image_id 1")
  T.raises(function() mopex.quicklook { interp_images = imgs, output_dir = dir, offsets = { 1 } } end,
    "offsets has 1 values, interp_images has 2")
end)

T.test("errors name what is wrong", function()
  local dir = join(TMP, "errors")
  local imgs, covs = stack(dir, { { x0 = 0, y0 = 0, nx = 2, ny = 2, v = 1, c = 1 } })
  T.raises(function() mopex.coadd { interp_images = imgs, output_dir = dir } end,
    "mosaic grid '.*mosaic_fif.tbl' does not exist")
  write_fif(join(dir, "mosaic_fif.tbl"), 2, 2)
  T.raises(function() mopex.coadd { interp_images = imgs, interp_coverages = { covs[1], covs[1] }, output_dir = dir } end,
    "coverage list has 2 entries, interpolated image list has 1")
  T.raises(function() mopex.coadd { interp_images = imgs, tilemax = 3 } end, "unknown option 'tilemax'")
  T.raises(function() mopex.coadd { interp_images = imgs, tilemax_x = 0 } end, "tilemax_x' must be >= 1")
  T.raises(function() mopex.coadd { output_dir = dir } end, "no interpolated images")
  T.raises(function() mopex.combine { output_dir = join(dir, "nothing"), mosaic_fif = join(dir, "mosaic_fif.tbl") } end,
    "run the Mosaic CoAdder first")
  T.raises(function() mopex.coadd { interp_images = imgs, output_dir = dir, sigma_weighted = true } end,
    "sigma_weighted_coadd needs")
  T.raises(function() mopex.fix_coverage { interp_coverages = covs, min_single = 2 } end, "between 0 and 1")
  T.raises(function() mopex.mosaic_medfilter { output_dir = join(dir, "none") } end, "run mopex.combine first")
end)

T.test("schemas: per-pipeline defaults and classic keys", function()
  local S = mopex.schema
  T.eq(S.validate(mopex.coadd, {}).out_dir, "Coadd-mosaic")
  T.eq(S.validate(mopex.coadd, {}, "apex").out_dir, "Coadd-apex")
  T.eq(S.validate(mopex.combine, {}, "apex").out_dir, "Combine-apex")
  T.eq(S.validate(mopex.combine, {}, "apex").coadd_dir, "Coadd-apex")
  T.eq(S.validate(mopex.coadd, {}).tilemax_x, 1000)
  T.eq(S.validate(mopex.quicklook, {}).tilemax_x, 2000)
  T.eq(S.validate(mopex.quicklook, {}).out_dir, "Coadd-overlap")
  T.eq(S.validate(mopex.fix_coverage, {}).min_block, 0.83)
  T.eq(S.validate(mopex.mosaic_medfilter, {}).n_outliers, 500)
  local idx = S.classic_index("mosaic")
  T.eq(idx.triggers.run_mosaic_coadder, mopex.coadd)
  T.eq(idx.triggers.run_mosaic_combiner, mopex.combine)
  T.eq(idx.triggers.run_fix_coverage, mopex.fix_coverage)
  T.eq(idx.triggers.run_mosaic_medfilter, mopex.mosaic_medfilter)
  T.eq(idx.blocks.mosaiccoaddin.keys.integ_time_kwd.name, "time_keyword")
  T.eq(idx.blocks.fixcoveragein.keys.min_single_coverage.name, "min_single")
  T.eq(idx.blocks.mosaic_medfilter.keys.use_sbkg_for_med.name, "use_sbkg")
  local oidx = S.classic_index("overlap")
  T.eq(oidx.triggers.mosaic_corrected_images, mopex.quicklook)
  T.eq(oidx.blocks.mosaiccoaddin.keys.tilemax_x.default, 2000)
end)

T.done()
