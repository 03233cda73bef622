-- Template namelists (namelist-compat/templates/cdf): they are exactly what
-- make_templates.lua generates, every one parses without a diagnostic, uses only the
-- classic vocabulary of its pipeline, configures (dry run) and carries the
-- instrument values of the guide's Appendix C; mopexlua --templates lists and prints them.
local SRC = os.getenv("MOPEX_SOURCE_DIR")
if not SRC or SRC == "" then
  SRC = debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/[^/]*$") or "."
end
package.path = SRC .. "/namelist-compat/?.lua;" .. SRC .. "/namelist-compat/?/init.lua;"
  .. SRC .. "/tests/lua/lib/?.lua;" .. package.path
local T = require "testing"
-- An empty private schema registry: the test checks the classic vocabulary of
-- namelist-compat/pipelines.lua, whatever module schemas exist.
package.loaded["mopex.schema"] = dofile(SRC .. "/lua/mopex/schema.lua")
local N = require "namelist"
local C = require "config"
local classic = require "classic"
local gen = dofile(SRC .. "/namelist-compat/templates/make_templates.lua")
local DIR = SRC .. "/namelist-compat/templates/cdf"

local list = gen.all()

T.test("checked-in templates equal the generator's output", function()
  T.eq(#list, 75, "9 instruments: 4 IRAC x 10 + 5 others x 7")
  for _, t in ipairs(list) do
    T.eq(T.read_file(DIR .. "/" .. t.name), t.text, t.name .. " (regenerate with make_templates.lua)")
  end
  T.eq(T.read_file(DIR .. "/INDEX"), gen.index(list), "INDEX")
  local p = io.popen("ls " .. DIR)
  local n = 0
  for name in p:lines() do if name:match("%.nl$") then n = n + 1 end end
  p:close()
  T.eq(n, 75, "no stray .nl files")
end)

T.test("every template parses without any diagnostic and uses known keys", function()
  for _, t in ipairs(list) do
    local nl = N.parse(t.text, { file = t.name, quiet = true })
    T.eq(#nl.diagnostics, 0, t.name .. " parse diagnostics")
    local diags = {}
    local ok, cfg = pcall(C.configure, t.pipeline, { "-n", t.name }, { text = t.text, quiet = false,
      log = function(d) diags[#diags + 1] = d end, allow_unimplemented = true, check_required = false,
      cpu_count = 4 })
    T.ok(ok, t.name .. ": " .. tostring(cfg))
    for _, d in ipairs(diags) do
      T.ok(d.code ~= "W003" and d.code ~= "W006" and d.code ~= "W007" and d.severity ~= "error",
        t.name .. ": " .. N.format(d))
    end
    T.eq(classic.guess_pipeline(t.name, t.text), t.pipeline, t.name .. " pipeline from its name")
  end
end)

T.test("instrument values (Appendix C, 000 l.10585-10661)", function()
  local function get(name, block, key)
    local nl = N.parse(T.read_file(DIR .. "/" .. name), { file = name, quiet = true })
    local e = block and nl.blocks[block].entries[key] or nl.globals[key] or nl.triggers[key]
    return e and e.value
  end
  T.eq(get("mosaic_M1.nl", nil, "mosaic_pixel_size_x"), "-0.00068056", "MIPS 24 2.45 arcsec")
  T.near(tonumber(get("mosaic_M1.nl", nil, "mosaic_pixel_size_y")) * 3600, 2.45, 1e-4, "2.45 arcsec")
  T.near(tonumber(get("mosaic_M3.nl", nil, "mosaic_pixel_size_y")) * 3600, 8.0, 1e-4, "MIPS 160 8 arcsec")
  T.near(tonumber(get("mosaic_I2.nl", nil, "mosaic_pixel_size_y")) * 3600, 0.6, 1e-4, "IRAC 0.6 arcsec")
  T.near(tonumber(get("mosaic_PUI_blue.nl", nil, "mosaic_pixel_size_y")) * 3600, 1.8, 1e-4, "PUI 1.8 arcsec")
  T.eq(get("apex_1frame_M1.nl", nil, "prf_file_name"), "cal/mips24_prf_mosaic_2.45_4x.fits", "MIPS 24 PRF")
  T.eq(get("apex_1frame_M1.nl", "sourcestimate", "normalization_radius"), "57", "MIPS 24 radius")
  T.eq(get("apex_1frame_M1.nl", "sourcestimate", "prf_resamplex_factor"), "4", "4x")
  T.eq(get("apex_1frame_M2.nl", "sourcestimate", "normalization_radius"), nil, "MIPS 70: none")
  T.eq(get("apex_1frame_PUI_blue.nl", nil, "prf_file_name"), "cal/b0_prf_blue_new.fits", "PUI blue PRF")
  T.eq(get("apex_1frame_PUI_red.nl", "sourcestimate", "normalization_radius"), "52", "PUI red radius")
  T.eq(get("apex_1frame_PUI_red.nl", nil, "prf_file_name"), nil, "the guide names no red PRF")
  T.eq(get("apex_I1.nl", nil, "prf_file_name"), "cal/apex_sh_IRAC1_col129_row129_x100.fits", "IRAC 1 PRF")
  T.eq(get("apex_I1.nl", "sourcestimate", "prf_resamplex_factor"), "100", "100x")
  T.eq(get("apex_I1.nl", "sourcestimate", "normalization_radius"), "1000", "radius 1000")
  T.eq(get("apex_I1_have_mosaic.nl", nil, "run_mosaic_int"), "0", "have_mosaic: mosaic modules off")
  T.eq(get("apex_I1_have_mosaic.nl", nil, "combiner_dir"), "Combine-mosaic", "reads mosaic.pl's products")
  T.eq(get("apex_1frame_I1.nl", nil, "run_sourcestimate"), "0", "no PRF fitting on IRAC mosaics")
  T.eq(get("mosaic_I1.nl", nil, "rmask_fatal_bitpattern"), "15", "box outliers fatal")
  T.eq(get("mosaic_I1.nl", "fiducialimageframein", "crota2"), "A", "CROTA2 = A")
  T.eq(get("overlap_I1.nl", "mosaicintin", "interp_method"), "3", "Grid in Overlap")
  T.eq(get("apex_qa_I1.nl", nil, "create_residual_images"), "1", "QA multiframe")
  T.eq(get("apex_qa_1frame_M1.nl", nil, "create_residual_mosaic"), "1", "QA single frame")
  T.eq(get("apex_qa_1frame_M1.nl", "mosaic_pointsourceimage", "normalization_radius"), "57", "QA radius as fit")
  T.eq(get("apex_I1.nl", nil, "select_conditions"),
    "SNR > 5 and deblend ! NO and deblend ! PO and deblend ! AO and deblend ! PAO", "and-joined conditions")
end)

T.test("mopexlua --templates lists and prints", function()
  local function buf()
    local b = { p = {} }
    function b:write(...) for _, s in ipairs({ ... }) do self.p[#self.p + 1] = tostring(s) end; return self end
    function b:text() return table.concat(self.p) end
    return b
  end
  local o, e = buf(), buf()
  T.eq(classic.templates({}, { stdout = o, stderr = e }), 0, "list status")
  local lines = 0
  for _ in o:text():gmatch("\n") do lines = lines + 1 end
  T.eq(lines, 76, "header + 75 templates")
  T.ok(o:text():find("mosaic_I1.nl%s+Mosaic with dual, temporal and box outlier rejection, IRAC channel 1"), "entry")
  local o2 = buf()
  T.eq(classic.templates({ "apex_1frame_M1" }, { stdout = o2, stderr = e }), 0, "print status")
  T.eq(o2:text(), T.read_file(DIR .. "/apex_1frame_M1.nl"), "printed text")
  local o3, e3 = buf(), buf()
  T.eq(classic.templates({ "mosaic_l1.nl" }, { stdout = o3, stderr = e3 }), 1, "unknown")
  T.ok(e3:text():find("did you mean mosaic_I1.nl?", 1, true), e3:text())
end)

T.done()
