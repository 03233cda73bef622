-- overlap_bench.lua: speed and memory of Compute Overlap Correction.
--
--   mopexlua bench/overlap_bench.lua [N [M]]
--
-- Part 1 (N frames, default 10000; 0 skips it): a raster map with 5 dithers
-- per position of N small frames (64 x 64, IRAC ch1 scale, noise, sources,
-- cosmic rays at the rate of a 256 x 256 frame scaled to 64 x 64, half of
-- them flagged), simulated, put on the FIF and interpolated (grid method, the
-- Overlap default); then the pair accumulation (one streaming pass over
-- the mosaic grid, mx_stack) and the solve are timed separately, each with
-- its own peak RSS (VmHWM, reset through /proc/self/clear_refs before it).
-- Part 2 (M frames, default 100000; 0 skips it): the solve alone on
-- synthetic pair statistics of an M-frame raster map (5 dithers, pairs and
-- weights like part 1), generated in C (core.bgpairs_synthetic): nobody
-- should wait for 100,000 frames to be interpolated to time a linear solve.
--
-- Scratch files go to $MOPEX_BENCH_DIR (default /tmp/mopexlua-overlap-bench)
-- and are removed at the end unless MOPEX_BENCH_KEEP is set. Wall times
-- come from /proc/uptime (10 ms resolution), CPU times (all threads) from
-- os.clock. Not part of the test run.
local mopex = require "mopex"
local core = mopex.core

local N = math.tointeger(tonumber(arg and arg[1] or "") or 10000)
local M = math.tointeger(tonumber(arg and arg[2] or "") or 100000)
local root = os.getenv("MOPEX_BENCH_DIR") or "/tmp/mopexlua-overlap-bench"
core.log_level("warn")

local function now()
  local f = assert(io.open("/proc/uptime"))
  local t = f:read("n")
  f:close()
  return t
end

local function hwm_reset()
  local f = io.open("/proc/self/clear_refs", "w")
  if f then f:write("5") f:close() end
end

local function status_mb(key)
  for l in io.lines("/proc/self/status") do
    local v = l:match("^" .. key .. ":%s+(%d+)")
    if v then return tonumber(v) / 1024 end
  end
  return 0 / 0
end

local results = {}
local function measure(label, fn)
  collectgarbage()
  collectgarbage()
  hwm_reset()
  local t0, c0 = now(), os.clock()
  local r = table.pack(fn())
  local dt, cpu = now() - t0, os.clock() - c0
  local peak = status_mb("VmHWM")
  results[#results + 1] = { label, dt, cpu, peak }
  -- CPU time (all threads) next to the wall time: on a shared machine the wall
  -- time also counts other processes
  io.stdout:write(string.format("  %-44s %8.2f s wall %8.2f s CPU   peak RSS %7.1f MB\n", label, dt,
    cpu, peak))
  io.stdout:flush()
  return table.unpack(r, 1, r.n)
end

local function solve_opts(sparse)
  return { top_threshold = 3, bottom_threshold = 3, min_img_num = 4, weight = 0,
           use_sparse = sparse, outlier_rule = "std" }
end

local function describe(res, pairs_)
  local maxsize = 0
  for _, s in ipairs(res.group_sizes) do maxsize = math.max(maxsize, s) end
  io.stdout:write(string.format("    %d pairs, %d group(s) (largest %d), %d isolated, solver %s, "
    .. "CG %d iterations (residual %.2g), del_Offset %s\n", pairs_:count(), res.ngroups, maxsize,
    res.nisolated, res.used_sparse and "sparse" or "dense", res.cg_iterations, res.cg_residual,
    res.del_approx and "approximate (1/sqrt(L_mm))" or "exact"))
end

local function errors_vs_truth(res, truth)
  local mu, k = 0, 0
  for i, t in ipairs(truth) do
    if res.outlier[i] == 0 and res.group[i] > 0 then mu, k = mu + t, k + 1 end
  end
  mu = mu / k
  local s2, n = 0, 0
  for i, t in ipairs(truth) do
    if res.group[i] > 0 then
      local e = res.offset[i] - (t - mu)
      s2, n = s2 + e * e, n + 1
    end
  end
  return math.sqrt(s2 / n)
end

io.stdout:write(string.format("overlap_bench: mopexlua %s, %d threads, %d CPUs\n", mopex.version,
  core.threads(), core.cpu_count()))

-- ---------------------------------------------------------------------------
if N > 0 then
  local dir = root .. "/map" .. N
  os.execute("rm -rf '" .. dir .. "'")
  io.stdout:write(string.format("part 1: %d interpolated 64x64 frames (raster map, 5 dithers)\n", N))
  local sim = measure("simulate", function()
    return mopex.simulate { out_dir = dir .. "/sim", pattern = "map", nframes = N, ndither = 5,
      nx = 64, ny = 64, dither_scale = 15, map_overlap = 0.2, source_density = 2.0, noise = true,
      cosmics = 1.25, cosmic_flag_fraction = 0.5, nan_pixels = 2, dead_pixels = 1, hot_pixels = 1,
      seed = 11 }
  end)
  local fif = measure("fiducial_frame", function()
    return mopex.fiducial_frame { images = sim.images, output_dir = dir }
  end)
  local it = measure("interpolate (grid)", function()
    return mopex.interpolate { images = sim.images, sigmas = sim.sigmas, dce_masks = sim.dce_masks,
      output_dir = dir, pipeline = "overlap", fif = fif.fif }
  end)
  local pairs_, usable, drop = measure("accumulate pair statistics", function()
    return core.bgmatch_accumulate { images = it.interp_images, coverages = it.interp_coverages,
      sigmas = it.interp_sigmas, ids = it.interp_ids, nframes = sim.nframes, bad_image_check = true }
  end)
  local res = measure("solve (offsets, outliers, exact del_Offset)", function()
    return core.bgmatch_solve(pairs_, solve_opts(false), drop)
  end)
  describe(res, pairs_)
  local truth = mopex.read_table(sim.offsets):column("Offset")
  io.stdout:write(string.format("    rms(offset - truth) = %.3g MJy/sr (truth rms 0.01)\n",
    errors_vs_truth(res, truth)))
  pairs_:close()
  if not os.getenv("MOPEX_BENCH_KEEP") then os.execute("rm -rf '" .. dir .. "'") end
end

-- ---------------------------------------------------------------------------
if M > 0 then
  local side = math.max(1, math.floor(math.sqrt(M / 5) + 0.5))
  local rows, cols = side, math.max(1, math.floor(M / 5 / side + 0.5))
  io.stdout:write(string.format("part 2: solve alone, synthetic pair statistics of %d frames "
    .. "(%d x %d positions x 5 dithers, generated in C)\n", rows * cols * 5, rows, cols))
  local pairs_, truth = measure("generate pair statistics", function()
    return core.bgpairs_synthetic { kind = "map", rows = rows, cols = cols, ndither = 5,
      same = 3000, side = 400, corner = 40, sigma = 0.01, offset_sigma = 0.01, noise = true, seed = 3 }
  end)
  local res = measure("solve (offsets, outliers, del_Offset)", function()
    return core.bgmatch_solve(pairs_, solve_opts(true))
  end)
  describe(res, pairs_)
  io.stdout:write(string.format("    rms(offset - truth) = %.3g (truth rms 0.01)\n",
    errors_vs_truth(res, truth)))
  pairs_:close()
end
