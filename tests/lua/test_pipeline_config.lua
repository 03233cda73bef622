-- The pipeline side of namelist-compat/config.lua, with the real module schemas: the
-- built-in configurations of mosaic.lua / overlap.lua run without -n, --set with Lua
-- option names, and the planned steps (mosaic.md 1.4: Drizzle first pass Default and a
-- second Drizzle pass after RMask, Reinterpolate replaced with Grid/Drizzle; overlap.md
-- 1.1: zodiacal subtraction; Make Array Correction Mosaic run by the script). Also the
-- script entry points of scripts/mosaic.lua and scripts/overlap.lua.
local T = require "testing"
local mopex = require "mopex"
local C = require "config"
local TR = require "translate"

local wd = T.tmpdir("pipeline_config")
os.execute("mkdir -p '" .. wd .. "/cdf'")
local function write(path, text)
  local f = assert(io.open(wd .. "/" .. path, "wb"))
  f:write(text)
  f:close()
end
write("list.txt", "a.fits\n")

local function configure(script, args, opts)
  opts = opts or {}
  opts.workdir = wd
  opts.quiet = opts.quiet ~= false
  local diags = {}
  opts.log = function(d) diags[#diags + 1] = d end
  opts.quiet = false
  local cfg = C.configure(script, args, opts)
  return cfg, diags
end

local function titles(cfg)
  local t = {}
  for i, st in ipairs(cfg.steps) do t[i] = st.title end
  return t
end

local function codes(diags)
  local t = {}
  for _, d in ipairs(diags) do t[d.code] = (t[d.code] or 0) + 1 end
  return t
end

T.test("built-in configuration of mosaic.lua (no -n)", function()
  local cfg, d = configure("mosaic", { "-I", "list.txt" }, { default_namelist = true })
  T.eq(titles(cfg), { "Fiducial Image Frame", "Mosaic Interpolate", "Mosaic CoAdder", "Mosaic Combiner" })
  T.eq(cfg.namelist_name, "mosaic_default.nl")
  T.ok(cfg.namelist_text:find("run_mosaic_coadder = 1", 1, true), "namelist text kept for the copy")
  T.eq(cfg.start.create_unc, true, "create_unc_mosaic = 1")
  for _, x in ipairs(d) do T.ok(x.severity == "note", "no warning: " .. (x.code or "") .. " " .. (x.message or "")) end
  local cfg2 = configure("mosaic", { "-I", "list.txt", "-F", "my_fif.tbl" }, { default_namelist = true })
  T.eq(titles(cfg2), { "Mosaic Interpolate", "Mosaic CoAdder", "Mosaic Combiner" }, "-F: no FIF module")
  local cfg3 = configure("mosaic", { "-I", "list.txt", "--set", "run_mosaic_outlier=1", "--set", "run_mosaic_covg=1" },
    { default_namelist = true })
  T.eq(titles(cfg3), { "Fiducial Image Frame", "Mosaic Interpolate", "Mosaic Coverage", "Mosaic Outlier",
    "Mosaic CoAdder", "Mosaic Combiner" }, "--set switches modules on")
  local ok, e = pcall(C.configure, "mosaic", { "-I", "list.txt" }, { workdir = wd, quiet = true })
  T.ok(not ok and type(e) == "table" and e.usage and e.message:find("missing required flag %-n"),
    "mosaic.pl without -n stays a usage error")
end)

T.test("built-in configuration of overlap.lua (no -n)", function()
  local cfg = configure("overlap", { "-I", "list.txt" }, { default_namelist = true })
  T.eq(titles(cfg), { "Fiducial Image Frame", "Mosaic Interpolate", "Compute Overlap Correction" })
  T.eq(cfg.steps[3].opts.apply, true, "apply_overlap_correction = 1")
  T.eq(mopex.schema.validate(cfg.steps[2].module, cfg.steps[2].opts).method, 3, "Grid, the Overlap default")
end)

T.test("--set with Lua option names", function()
  local cfg = configure("mosaic", { "-I", "list.txt", "--set", "method=2", "--set", "interpolate.driz_fac=0.5",
    "--set", "pixel_size_x=-1e-4", "--set", "coadd.tilemax_x=300", "--set", "time_keyword=EXPTIME" },
    { default_namelist = true })
  local interp, coadd = cfg.steps[2], cfg.steps[3]
  T.eq(interp.opts.method, 2, "method -> MOSAICINTIN.INTERP_METHOD")
  T.eq(interp.opts.driz_fac, 0.5, "interpolate.driz_fac")
  T.eq(cfg.start.pixel_size_x, -1e-4, "pixel_size_x -> MOSAIC_PIXEL_SIZE_X")
  T.eq(coadd.opts.tilemax_x, 300, "coadd.tilemax_x")
  T.eq(coadd.opts.time_keyword, "EXPTIME", "time_keyword -> INTEG_TIME_KWD")
  local ok, e = pcall(C.configure, "mosaic", { "-I", "list.txt", "--set", "window_x=5" },
    { workdir = wd, quiet = true, default_namelist = true })
  T.ok(not ok and e.usage and e.message:find("medfilter.window_x", 1, true) and e.message:find("mosaic_medfilter.window_x", 1, true),
    "ambiguous name lists module.option: " .. tostring(e and e.message))
  ok, e = pcall(C.configure, "mosaic", { "-I", "list.txt", "--set", "interpolate.nonsense=5" },
    { workdir = wd, quiet = true, default_namelist = true })
  T.ok(not ok and e.usage and e.message:find("mopex.interpolate has no option 'nonsense'", 1, true),
    "unknown module option: " .. tostring(e and e.message))
  -- a Lua option that no namelist key carries is refused, not warned about and dropped
  ok, e = pcall(C.configure, "mosaic", { "-I", "list.txt", "--set", "memory_mb=64" },
    { workdir = wd, quiet = true, default_namelist = true })
  T.ok(not ok and e.usage and e.message:find("option 'memory_mb' of mopex.", 1, true)
    and e.message:find("has no classic key", 1, true), "option without a classic key: " .. tostring(e and e.message))
end)

local OUTLIERS = [[
run_fiducial_image_frame = 1
run_mosaic_interp = 1
run_mosaic_covg = 1
run_mosaic_outlier = 1
run_mosaic_rmask = 1
run_mosaic_reinterp = 1
run_mosaic_coadder = 1
run_mosaic_combiner = 1
USE_OUTLIER_FOR_RMASK = 1
&MOSAICINTIN
INTERP_METHOD = %d,
DRIZ_FAC = 0.7,
&END
]]

T.test("Drizzle with outlier detection: Default first pass, Drizzle pass after RMask (mosaic.md 1.4)", function()
  write("cdf/driz.nl", OUTLIERS:format(2))
  local cfg, d = configure("mosaic", { "-n", "driz.nl", "-I", "list.txt" })
  T.eq(titles(cfg), { "Fiducial Image Frame", "Mosaic Interpolate (Default method, for outlier detection)",
    "Mosaic Coverage", "Mosaic Outlier", "Mosaic RMask", "Mosaic Interpolate (Drizzle, with the RMasks)",
    "Mosaic CoAdder", "Mosaic Combiner" })
  T.eq(cfg.steps[2].opts.method, 1, "first pass Default")
  T.eq(cfg.steps[6].opts.method, 2, "second pass Drizzle")
  T.eq(cfg.steps[6].opts.driz_fac, 0.7, "with DRIZ_FAC")
  local has_rmasks = false
  for _, n in ipairs(cfg.steps[6].inputs) do if n == "rmasks" then has_rmasks = true end end
  T.ok(has_rmasks, "the second pass takes the current RMasks")
  local c = codes(cfg.diagnostics)
  T.eq(c.W014, 1, "Reinterpolate skipped with a warning")
  T.eq(c.N015, 1, "the two passes noted")
  local lua = TR.translate(cfg)
  local _, n = lua:gsub("mopex%.interpolate {", "")
  T.eq(n, 2, "the translation runs both passes")
  T.eq(lua:find("mopex.reinterpolate", 1, true), nil, "and no Reinterpolate")
end)

T.test("Grid with Reinterpolate: a full re-interpolation instead", function()
  write("cdf/grid.nl", OUTLIERS:format(3))
  local cfg, d = configure("mosaic", { "-n", "grid.nl", "-I", "list.txt" })
  T.eq(titles(cfg)[6], "Mosaic Interpolate (full re-interpolation with the RMasks, instead of Mosaic Reinterpolate)")
  T.eq(cfg.steps[6].name, "interpolate")
  T.eq(cfg.steps[6].opts.method, 3)
  T.eq(cfg.steps[2].opts.method, 3, "first pass stays Grid")
  T.eq(codes(cfg.diagnostics).W014, 1)
  write("cdf/def.nl", OUTLIERS:format(1))
  local cfg1 = configure("mosaic", { "-n", "def.nl", "-I", "list.txt" })
  T.eq(titles(cfg1)[6], "Mosaic Reinterpolate", "Default method: Reinterpolate runs")
end)

T.test("Overlap: zodiacal subtraction planned after S/N Estimator", function()
  write("cdf/ov.nl", "compute_uncertainties_internally = 1\nrun_fiducial_image_frame = 1\nrun_mosaic_interp = 1\n"
    .. "compute_overlap_correction = 1\napply_zodiacal_correction = 1\n&SNESTIMATORIN\n&END\n"
    .. "&FIDUCIALIMAGEFRAMEIN\n&END\n&MOSAICINTIN\n&END\n&COMPUTEOVRLAPCORRIN\n&END\n")
  local cfg = configure("overlap", { "-n", "ov.nl", "-I", "list.txt" })
  T.eq(titles(cfg), { "S/N Estimator", "Zodiacal Subtraction", "Fiducial Image Frame", "Mosaic Interpolate",
    "Compute Overlap Correction" })
  T.eq(cfg.steps[2].name, "zodi_subtract")
  T.eq(cfg.steps[2].opts.apply, true)
  T.ok(TR.translate(cfg):find("mopex.zodi_subtract {", 1, true), "in the translation")
end)

T.test("Make Array Correction Mosaic is run by mosaic.lua (no E120)", function()
  write("cdf/ac.nl", "run_fiducial_image_frame = 1\nrun_mosaic_interp = 1\nrun_mosaic_coadder = 1\n"
    .. "run_mosaic_combiner = 1\nmake_array_corr_files = 1\nmake_array_corr_mosaic = 1\n"
    .. "ARRAY_CORR_IMAGE = corr.fits\n")
  local cfg = configure("mosaic", { "-n", "ac.nl", "-I", "list.txt" })
  local last = cfg.steps[#cfg.steps]
  T.eq(last.title, "Make Array Correction Mosaic")
  T.eq(last.pipeline_step, "array_corr_mosaic")
  T.eq(#cfg.unimplemented, 0)
  local mosaic = assert(loadfile(os.getenv("MOPEX_SOURCE_DIR") .. "/scripts/mosaic.lua"))("mosaic", "mosaic.lua")
  T.eq(type(mosaic.array_corr_mosaic), "function", "mosaic.lua handles it")
end)

T.test("scripts as commands: mosaic.lua and overlap.lua", function()
  local bin = os.getenv("MOPEX_BUILD_DIR") .. "/mopexlua"
  local function run(args)
    local p = io.popen("cd '" .. wd .. "' && '" .. bin .. "' " .. args .. " 2>&1; echo \"rc=$?\"")
    local out = p:read("a")
    p:close()
    return tonumber(out:match("rc=(%d+)%s*$")), out
  end
  local rc, out = run("mosaic.lua --help")
  T.eq(rc, 0, "--help"); T.ok(out:find("Mosaic (classic mosaic.pl); flags:", 1, true), out)
  rc, out = run("mosaic.lua -O x")
  T.eq(rc, 1, "no -I"); T.ok(out:find("missing required input: IMAGE_STACK_FILE_NAME (-I)", 1, true), out)
  rc, out = run("overlap.lua -Z 1")
  T.eq(rc, 2, "usage error"); T.ok(out:find("unknown flag -Z for overlap.pl", 1, true), out)
  rc, out = run("mosaic.lua -I list.txt --dry-run")
  T.eq(rc, 0, "dry run"); T.ok(out:find("translated from mosaic_default.nl", 1, true), out)
end)

T.done()
