-- Engine-wide bindings: statistics over arrays (hand-computed values),
-- list files, paths, threads, log level and collected warnings, interrupts.
local T = require "testing"
local mopex = require "mopex"

local TMP = T.tmpdir("test_core")

T.test("statistics of arrays, by hand", function()
  local v = { 1, 2, 3, 4, 100 }
  local s = mopex.stats(v)
  T.eq(s.n, 5)
  T.near(s.mean, 22, 1e-12)
  -- deviations -21 -20 -19 -18 78: squares 441 400 361 324 6084 = 7610
  T.near(s.stddev, math.sqrt(7610 / 5), 1e-9)
  T.near(mopex.std(v, 1), math.sqrt(7610 / 4), 1e-9)
  T.near(mopex.std(v, { ddof = 1 }), math.sqrt(7610 / 4), 1e-9)
  T.eq(s.median, 3); T.eq(s.min, 1); T.eq(s.max, 100)
  -- |v - 3| = 2 1 0 1 97 -> median 1 -> 1 / 0.6745
  T.near(s.mad_sigma, 1 / 0.6745, 1e-9)
  T.near(mopex.mad_sigma(v), 1 / 0.6745, 1e-9)
  T.eq(mopex.mean(v), 22)
  -- even count: upper middle element, or the average of the middle two
  T.eq(mopex.median { 4, 1, 3, 2 }, 3)
  T.eq(mopex.median({ 4, 1, 3, 2 }, "average"), 2.5)
  T.eq(mopex.median({ 4, 1, 3, 2 }, { average = true }), 2.5)
  -- NaN ignored; mask by booleans or by bits
  local nan = 0 / 0
  T.eq(mopex.stats({ 1, nan, 3 }).n, 2)
  T.eq(mopex.mean({ 1, nan, 3 }), 2)
  T.eq(mopex.mean({ 1, 2, 3, 10 }, { mask = { false, false, false, true } }), 2)
  T.eq(mopex.mean({ 1, 2, 3, 10 }, { mask = { 0, 4, 0, 8 }, fatal = 8 }), 2)
  T.eq(mopex.median({ 1, 2, 3, 10 }, { mask = { 0, 0, 0, 1 } }), 2)
  T.ok(mopex.mean {} ~= mopex.mean {}, "mean of nothing is NaN")
  -- sigma clipping: 20 values at 10 +- 1 and one at 1000
  local w = {}
  for i = 1, 20 do w[i] = 10 + (i % 2 == 0 and 1 or -1) end
  w[21] = 1000
  local c = mopex.sigma_clip(w, { nsig = 3 })
  T.eq(c.n, 20); T.eq(c.mean, 10); T.eq(c.stddev, 1)
  -- mean 57.1429, std 210.83: 1000 is 4.472 sigma from the mean, 4.691 from
  -- the median (11): a 4.5 sigma cut keeps it around the mean only
  T.eq(mopex.sigma_clip(w, { lo = 4.5, hi = 4.5, center = "mean" }).n, 21)
  T.eq(mopex.sigma_clip(w, { nsig = 4.5 }).n, 20)
  T.eq(mopex.sigma_clip(w, { lo = 1, hi = 4.5, maxiter = 1 }).n, 20)
  T.raises(function() mopex.stats { 1, "x" } end, "array entry 2 is not a number")
  T.raises(function() mopex.stats(5) end, "array of numbers or Image expected, got number")
  T.raises(function() mopex.stats({ 1 }, { ddof = 2 }) end, "'ddof' must be 0 or 1")
  T.raises(function() mopex.sigma_clip({ 1 }, { center = "mode" }) end, "'center' must be")
  T.raises(function() mopex.mean({ 1, 2 }, { mask = { 1 } }) end, "option 'mask' has 1 entries")
end)

T.test("list files", function()
  local DATA = T.data_dir()
  local lst = T.data_file("gammit_grb120119a/lists/ch1_cbcd.lst")
  -- entries are relative to the data folder, not to the list nor the cwd
  local paths, lines = mopex.read_list(lst, false)
  T.eq(#paths, 30); T.eq(lines[30], 30)
  T.ok(paths[1]:match("ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd%.fits$"), paths[1])
  T.raises(function() mopex.read_list(lst) end, "ch1_cbcd%.lst")
  -- absolute paths, written and read back with the existence check
  local abs = {}
  for i = 1, 3 do abs[i] = DATA .. "/gammit_grb120119a/" .. paths[i] end
  local mine = TMP .. "/three.lst"
  mopex.write_list(mine, abs)
  local back = mopex.read_list(mine)
  T.eq(back, abs)
  -- comments and blank lines are skipped; line numbers kept
  local f = assert(io.open(TMP .. "/commented.lst", "w"))
  f:write("# a comment\n\n", abs[1], "\r\n   ", abs[2], "   \n")
  f:close()
  local p2, l2 = mopex.read_list(TMP .. "/commented.lst")
  T.eq(p2, { abs[1], abs[2] }); T.eq(l2, { 3, 4 })
  -- lengths must agree
  local ch2 = T.data_file("gammit_grb120119a/lists/ch2_cbcd.lst")
  mopex.check_lists(lst, "ImageList", T.data_file("gammit_grb120119a/lists/ch1_cbunc.lst"), "SigmaList")
  T.raises(function() mopex.check_lists(lst, "ImageList", ch2, "SigmaList") end,
    "SigmaList.*has 18 entries, ImageList.*has 30")
  T.raises(function() mopex.check_lists({ "a", "b" }, "ImageList", { "c" }, "DCE list") end,
    "has 1 entries, ImageList")
  mopex.check_lists({ "a" }, "ImageList", nil, "SigmaList") -- no second list: fine
  T.raises(function() mopex.check_lists({ "a", 3 }, "ImageList", { "b" }, "x") end,
    "ImageList: entry 2 is not a string")
end)

T.test("paths", function()
  T.eq(mopex.basename_noext("/a/b/SPITZER_I1_1_cbcd.fits"), "SPITZER_I1_1_cbcd")
  T.eq(mopex.basename_noext("x.fits.gz"), "x")
  T.eq(mopex.path_join("out", "Interp-mosaic"), "out/Interp-mosaic")
  T.eq(mopex.path_join("out", "/abs/x"), "/abs/x")
  local d = TMP .. "/a/b/c"
  mopex.mkdir_p(d)
  mopex.write_list(d .. "/l.txt", { "x" })
  T.ok(mopex.file_exists(d .. "/l.txt"))
  T.ok(not mopex.file_exists(d), "a directory is not a file")
end)

T.test("threads and log level", function()
  local n0 = mopex.threads()
  T.ok(n0 >= 1)
  T.eq(mopex.threads(3), 3)
  T.eq(mopex.threads(), 3)
  T.eq(mopex.threads(0), mopex.core.cpu_count(), "0 means one per CPU")
  mopex.threads(n0)
  T.raises(function() mopex.threads(100000) end, "more than 4096 threads")
  local lvl = mopex.log_level()
  T.eq(lvl, "info")
  T.eq(mopex.log_level("debug"), "debug")
  T.eq(mopex.log_level(1), "warn")
  T.raises(function() mopex.log_level("loud") end, "invalid option 'loud'")
  mopex.log_level(lvl)
end)

T.test("warnings are collected", function()
  mopex.warnings() -- start empty
  local w <close> = mopex.wcs_simple { ctype = { "RA--TAN", "DEC--TAN" }, crval = { 0, 0 },
    crpix = { 1, 1 }, cdelt = { -1e-3, 1e-3 } }
  T.eq(w:ctype(1), "RA---TAN")
  local list = mopex.warnings()
  T.eq(#list, 1)
  T.ok(list[1]:find("RA--TAN", 1, true) and list[1]:find("RA---TAN", 1, true), list[1])
  T.eq(#mopex.warnings(), 0, "cleared by the call")
  -- below the warn level nothing is printed nor kept
  mopex.log_level("error")
  local w2 <close> = mopex.wcs_simple { ctype = { "RA--TAN", "DEC--TAN" }, crval = { 0, 0 },
    crpix = { 1, 1 }, cdelt = { -1e-3, 1e-3 } }
  mopex.log_level("info")
  T.eq(#mopex.warnings(), 0)
end)

T.test("interrupt flag", function()
  mopex.clear_interrupt()
  T.eq(mopex.interrupt_requested(), false)
  mopex.check_interrupt()
  mopex.core.request_interrupt()
  T.eq(mopex.interrupt_requested(), true)
  T.raises(function() mopex.check_interrupt() end, "interrupted by user")
  T.eq(mopex.last_status(), "interrupted")
  mopex.clear_interrupt()
  mopex.check_interrupt()
  T.ok(mopex.version:match("^%d+%.%d+%.%d+"), mopex.version)
  T.eq(mopex.core.version(), mopex.version)
end)

T.done()
