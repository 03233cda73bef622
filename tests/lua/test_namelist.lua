-- Classic namelist parser (namelist-compat/namelist.lua): every grammar rule and every
-- error of shared/spec/namelist_cli.md §2 (table-driven), the §8 checklist items that
-- need no pipeline, the fixtures in tests/data/namelists/, and every real namelist in
-- $MOPEX_TEST_DATA with asserted values.
local SRC = os.getenv("MOPEX_SOURCE_DIR")
if not SRC or SRC == "" then
  SRC = debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/[^/]*$") or "."
end
package.path = SRC .. "/namelist-compat/?.lua;" .. SRC .. "/namelist-compat/?/init.lua;"
  .. SRC .. "/tests/lua/lib/?.lua;" .. package.path
local T = require "testing"
local N = require "namelist"
local FIX = SRC .. "/tests/data/namelists/"

local test, eq = T.test, T.eq
local function parse(text, opts)
  opts = opts or {}
  opts.quiet = true
  opts.file = opts.file or "t.nl"
  return N.parse(text, opts)
end
local function fails(text, pattern, opts)
  local ok, e = pcall(parse, text, opts)
  if ok then error("expected an error matching " .. pattern, 2) end
  if type(e) ~= "string" or not e:find(pattern) then
    error("error '" .. tostring(e) .. "' does not match " .. pattern, 2)
  end
  return e
end
local function diags(nl, code)
  local t = {}
  for _, d in ipairs(nl.diagnostics) do if d.code == code then t[#t + 1] = d end end
  return t
end
local function count(t) local n = 0; for _ in pairs(t) do n = n + 1 end; return n end

local EXAMPLE = "run_medfilter = 1\nOUTPUT_DIR = output\n&MEDFILTER\n Window_X = 45,\n"
  .. " Window_Y = 45,\n N_Outliers_Per_Window = 500,\n&END\n"

-- §8 item 1: the §2 example, and the same lines reordered
test("example of §2 (000 l.9333-9337)", function()
  local nl = parse(EXAMPLE)
  eq(nl.triggers.run_medfilter.value, "1", "run_medfilter")
  eq(nl.globals.output_dir.value, "output", "OUTPUT_DIR")
  eq(nl.globals.output_dir.key, "OUTPUT_DIR", "original spelling")
  local b = nl.blocks.medfilter
  eq(b.name, "MEDFILTER", "block name")
  eq(b.entries.window_x.value, "45", "Window_X")
  eq(b.entries.window_y.value, "45", "Window_Y")
  eq(b.entries.n_outliers_per_window.value, "500", "N_Outliers")
  eq(b.entries.window_x.line, 4, "line of Window_X")
  eq(b.line, 3, "block line")
  eq(b.end_line, 7, "&END line")
  eq(#nl.diagnostics, 0, "no diagnostics")
  local re = parse("&MEDFILTER\n N_Outliers_Per_Window = 500,\n Window_Y = 45,\n Window_X = 45,\n"
    .. "&END\nOUTPUT_DIR = output\nrun_medfilter = 1\n")
  for _, k in ipairs({ "window_x", "window_y", "n_outliers_per_window" }) do
    eq(re.blocks.medfilter.entries[k].value, b.entries[k].value, "reordered " .. k)
  end
  eq(re.triggers.run_medfilter.value, "1", "reordered trigger")
  eq(re.globals.output_dir.value, "output", "reordered global")
end)

test("§8 item 2: a missing trigger is absent; =0 keeps the block", function()
  local nl = parse("run_medfilter = 0\n&MEDFILTER\n Window_X = 45,\n&END\n")
  eq(nl.triggers.run_medfilter.value, "0", "trigger value")
  eq(nl.triggers.run_level, nil, "absent trigger")
  eq(nl.blocks.medfilter.entries.window_x.value, "45", "block parsed")
end)

test("§8 item 3: KEY=value accepted with W001; --strict-classic ignores it", function()
  local nl = N.load(FIX .. "nospace.nl", { quiet = true })
  eq(nl.blocks.medfilter.entries.window_x.value, "45", "Window_X used")
  local w = diags(nl, "W001")
  eq(#w, 1, "one W001")
  eq(w[1].line, 3, "W001 line")
  eq(N.format(w[1]), FIX .. "nospace.nl:3: W001 'Window_X=45' has no spaces around '='; "
    .. "classic MOPEX would ignore this line", "W001 text")
  local st = N.load(FIX .. "nospace.nl", { quiet = true, strict = true })
  eq(st.blocks.medfilter.entries.window_x, nil, "strict: Window_X ignored (default used)")
  eq(st.blocks.medfilter.entries.window_y.value, "45", "strict: spaced line read")
  eq(#st.ignored, 1, "one ignored entry")
  local sw = diags(st, "W001")
  eq(#sw, 1, "strict W001")
  assert(sw[1].message:find("ignored, as classic MOPEX does"), sw[1].message)
  -- the other no-space forms
  for _, l in ipairs({ "Window_X =45,", "Window_X= 45,", "Window_X\t=45," }) do
    local n2 = parse("&MEDFILTER\n" .. l .. "\n&END\n")
    eq(n2.blocks.medfilter.entries.window_x.value, "45", l)
    eq(#diags(n2, "W001"), 1, "W001 for " .. l)
  end
  -- an empty value has nothing to ignore: no warning (real namelists: 'INPUT_USER_LIST =')
  eq(#diags(parse("INPUT_USER_LIST =\nFIF_FILE_NAME=\n"), "W001"), 0, "empty values")
end)

test("§8 item 4: trailing commas and comments", function()
  local nl = parse("&MEDFILTER\n Window_X = 45\n # comment,\n # comment\n Window_Y = 46, # note\n"
    .. " N_Outliers_Per_Window = 7 # note, with comma\n&END\n")
  local e = nl.blocks.medfilter.entries
  eq(e.window_x.value, "45", "no trailing comma")
  eq(e.window_y.value, "46", "comment after the comma")
  eq(e.n_outliers_per_window.value, "7", "comment without comma")
  eq(#diags(nl, "N010"), 2, "notes for the two lines without comma")
  eq(#diags(nl, "W010"), 0, "no warning by default")
  local st = parse("&MEDFILTER\n Window_X = 45\n # comment\n # comment,\n&END\n", { strict = true })
  eq(#diags(st, "W010"), 2, "strict: line and comment without comma")
  eq(st.blocks.medfilter.entries.window_x.value, "45", "strict still reads it")
  -- outside blocks a trailing comma is removed too
  eq(parse("OUTPUT_DIR = out,\n").globals.output_dir.value, "out", "global trailing comma")
end)

test("§8 item 5: quoted, typographic and and-joined values", function()
  local nl = parse("&B\n a = 'simple',\n b = \"TAN\",\n c = \226\128\152RA\226\128\153,\n d = RA,\n"
    .. " e = \226\128\156Dec\226\128\157,\n f = \"srcid, x, y, flux\",\n g = '#not a comment',\n&END\n"
    .. "select_conditions = \"SNR > 5\" and \"deblend ! NO\"\n"
    .. "select_columns = 'a' AND 'b' and \"c\"\n")
  local e = nl.blocks.b.entries
  eq(e.a.value, "simple", "single quotes"); eq(e.a.quoted, true, "quoted flag")
  eq(e.b.value, "TAN", "double quotes")
  eq(e.c.value, "RA", "typographic single quotes")
  eq(e.d.value, "RA", "bare"); eq(e.d.quoted, false, "bare flag")
  eq(e.e.value, "Dec", "typographic double quotes")
  eq(e.f.value, "srcid, x, y, flux", "quoted list keeps its commas")
  eq(e.g.value, "#not a comment", "# inside quotes")
  eq(nl.globals.select_conditions.value, "SNR > 5 and deblend ! NO", "and-joined")
  eq(nl.globals.select_columns.value, "a and b and c", "three pieces, any case of 'and'")
end)

test("§8 item 6: CROTA2 = A stays the token A (typed later by the schema)", function()
  local nl = parse("&FIDUCIALIMAGEFRAMEIN\n CROTA2 = A,\n&END\n")
  eq(nl.blocks.fiducialimageframein.entries.crota2.value, "A", "CROTA2")
  eq(parse("&F\n CROTA2 = 12.5,\n&END\n").blocks.f.entries.crota2.value, "12.5", "numeric CROTA2")
end)

test("§8 item 7: case and hyphens", function()
  local nl = parse("PRF_file_name = a\n")
  eq(nl.globals.prf_file_name.value, "a", "PRF_file_name")
  eq(parse("prf_file_name = a\n").globals.prf_file_name.key, "prf_file_name", "lower")
  eq(parse("PRF_FILE_NAME = a\n").globals.prf_file_name.key, "PRF_FILE_NAME", "upper")
  local h = parse("compute-overlap-correction = 1\nmosaic-corrected-images = 0\n")
  eq(h.triggers.compute_overlap_correction.value, "1", "hyphenated trigger")
  eq(h.triggers.compute_overlap_correction.key, "compute-overlap-correction", "spelling kept")
  eq(h.triggers.mosaic_corrected_images.value, "0", "second hyphenated trigger")
  local c = parse("Run_MOSAIC_POINTSOURCEIMAGE = 1\n&medfilter\n WINDOW_x = 3,\n&End\n")
  eq(c.triggers.run_mosaic_pointsourceimage.value, "1", "mixed-case trigger")
  eq(c.blocks.medfilter.entries.window_x.value, "3", "lower-case block, &End")
end)

-- §8 item 8 and §2.4: every fatal error, with file:line
local ERRORS = {
  { "unterminated block", "run_medfilter = 1\n&MEDFILTER\n Window_X = 45,\n",
    "^t%.nl:2: E101 block &MEDFILTER is not closed by &END before the end of the file$" },
  { "&END outside a block", "a = 1\n&END\n", "^t%.nl:2: E102 &END without an open block$" },
  { "nested block", "&MEDFILTER\n Window_X = 45,\n&DETECT\n&END\n",
    "^t%.nl:3: E103 block &DETECT opened inside block &MEDFILTER %(line 1%); close it with &END first$" },
  { "unmatched single quote", "&F\n Projection_Type = 'TAN,\n&END\n",
    "^t%.nl:2: E104 unmatched single quote in: Projection_Type = 'TAN,$" },
  { "unmatched double quote", "OUTPUT_DIR = \"out\n", "^t%.nl:1: E104 unmatched double quote" },
  { "apostrophe in a bare value", "OUTPUT_DIR = Joe's data\n", "^t%.nl:1: E104 unmatched single quote" },
  { "text after a closing quote", "Projection_Type = 'TAN' extra\n",
    "^t%.nl:1: E104 value of 'Projection_Type': text after the closing quote: extra$" },
  { "malformed block line", "&MEDFILTER Window_X = 4\n&END\n",
    "^t%.nl:1: E106 malformed block line '&MEDFILTER Window_X = 4'" },
  { "bare &", "&\n", "^t%.nl:1: E106 malformed block line '&'" },
  { "block name starting with a digit", "&1ABC\n&END\n", "^t%.nl:1: E106" },
  { "strict: unparseable line", "Window_X 45\n",
    "^t%.nl:1: E107 line is neither 'KEY = value', '&BLOCK', '&END' nor a comment: Window_X 45$", { strict = true } },
}
for _, c in ipairs(ERRORS) do
  test("error: " .. c[1], function() fails(c[2], c[3], c[4]) end)
end

test("every error is reported, each with its line", function()
  local ok, e = pcall(N.load, FIX .. "several_errors.nl", { quiet = true })
  assert(not ok)
  local lines = {}
  for l in e:gmatch("[^\n]+") do lines[#lines + 1] = l end
  eq(#lines, 4, "four errors")
  assert(lines[1]:find("several_errors%.nl:1: E102"), lines[1])
  assert(lines[2]:find("several_errors%.nl:2: E104"), lines[2])
  assert(lines[3]:find("several_errors%.nl:4: E103"), lines[3])
  assert(lines[4]:find("several_errors%.nl:3: E101"), lines[4])
end)

test("fixtures: unterminated, nested, &END outside, unmatched quote", function()
  for name, pat in pairs({ unterminated = ":2: E101", nested = ":3: E103", end_outside = ":2: E102",
                           unmatched_quote = ":2: E104" }) do
    local ok, e = pcall(N.load, FIX .. name .. ".nl", { quiet = true })
    assert(not ok, name)
    assert(e:find(name .. ".nl" .. pat, 1, true), name .. ": " .. e)
  end
  local ok, e = pcall(N.load, FIX .. "does_not_exist.nl", { quiet = true })
  assert(not ok and e:find("cannot read namelist .*does_not_exist%.nl"), tostring(e))
end)

test("§2.4: unparseable line W002 (ignored) by default", function()
  local nl = parse("Window_X 45\nfoo.bar = 3\n= 5\nrun_level = 1\n")
  local w = diags(nl, "W002")
  eq(#w, 3, "three W002")
  eq(w[1].line, 1, "line"); eq(w[2].line, 2, "line"); eq(w[3].line, 3, "line")
  eq(N.format(w[1]), "t.nl:1: W002 unparseable line ignored: Window_X 45", "text")
  eq(nl.triggers.run_level.value, "1", "later lines still read")
end)

test("§8 item 9: empty value = unset", function()
  local nl = parse("&SOURCESTIMATE\n Fitting_Area_X = ,\n Fitting_Area_Y =,\n&END\nOUTPUT_DIR = \n"
    .. "RMASK_LIST =\nX = ''\n")
  local e = nl.blocks.sourcestimate.entries
  eq(e.fitting_area_x.value, nil, "Fitting_Area_X unset")
  assert(e.fitting_area_x.line == 2, "entry kept with its line")
  eq(e.fitting_area_y.value, nil, "Fitting_Area_Y unset")
  eq(nl.globals.output_dir.value, nil, "OUTPUT_DIR unset")
  eq(nl.globals.rmask_list.value, nil, "RMASK_LIST unset")
  eq(nl.globals.x.value, "", "'' is an empty string, not unset")
end)

test("§8 item 10: duplicate key, last wins, W004", function()
  local nl = parse("OUTPUT_DIR = a\nOutput_Dir = b\n&M\n W = 1,\n w = 2,\n&END\n")
  eq(nl.globals.output_dir.value, "b", "last global wins")
  eq(nl.blocks.m.entries.w.value, "2", "last block key wins")
  local w = diags(nl, "W004")
  eq(#w, 2, "two W004")
  eq(N.format(w[1]), "t.nl:2: W004 'Output_Dir' is set twice (first on line 1); the last value wins", "text")
  assert(w[2].message:find("in &M"), w[2].message)
end)

test("§2.3: same block twice is merged, W005", function()
  local nl = parse("&MEDFILTER\n Window_X = 1,\n Window_Y = 2,\n&END\n&medfilter\n Window_Y = 3,\n&END\n")
  local e = nl.blocks.medfilter.entries
  eq(e.window_x.value, "1", "kept"); eq(e.window_y.value, "3", "later wins")
  local w = diags(nl, "W005")
  eq(#w, 1, "one W005"); eq(w[1].line, 5, "W005 line")
  eq(#diags(nl, "W004"), 1, "the overridden key is a duplicate")
end)

test("lexical details", function()
  -- CRLF, no final newline, blank lines, tabs
  local c = N.load(FIX .. "crlf.nl", { quiet = true })
  eq(c.globals.output_dir.value, "out", "CRLF value has no \\r")
  eq(c.blocks.medfilter.entries.window_x.value, "45", "CRLF block")
  local n = N.load(FIX .. "no_final_newline.nl", { quiet = true })
  eq(n.blocks.medfilter.end_line, 4, "last line without newline")
  local t = parse("\t\n   \n\tOUTPUT_DIR\t=\tx y \t\n")
  eq(t.globals.output_dir.value, "x y", "inner spaces kept, ends trimmed")
  -- GUI meta-data lines and typographic quotes (fixture)
  local g = N.load(FIX .. "typographic.nl", { quiet = true })
  eq(#g.diagnostics, 0, "meta-data lines are comments")
  eq(g.blocks.mosaiccoaddin.entries.integ_time_kwd.value, "EXPTIME", "‘EXPTIME’")
  eq(g.blocks.mosaiccoaddin.entries.x_column_name.value, "RA", "“RA”")
  -- X_Column_Name = x , (space before the comma, irac_pipe_namelists)
  eq(parse("&A\n X_Column_Name = x ,\n&END\n").blocks.a.entries.x_column_name.value, "x", "x ,")
  -- &END with a comma, and the order of first appearance
  local o = parse("b = 1\n&X\n&END,\nrun_level = 1\n")
  eq(#o.order, 3, "three items")
  eq(o.order[1].kind, "global"); eq(o.order[2].kind, "block"); eq(o.order[3].kind, "trigger")
  -- empty text
  local e = parse("")
  eq(count(e.globals) + count(e.triggers) + count(e.blocks), 0, "empty namelist")
  -- Fortran D exponents and numbers stay text at this level
  eq(parse("MOSAIC_PIXEL_SIZE_X = -1.1111D-4\n").globals.mosaic_pixel_size_x.value, "-1.1111D-4", "D text")
end)

test("triggers are classified by the given set", function()
  local nl = parse("run_medfilter = 1\nverbose = 1\n", { triggers = { verbose = true } })
  eq(nl.triggers.verbose.value, "1", "custom trigger set")
  eq(nl.globals.run_medfilter.value, "1", "not a trigger for this set")
end)

test("check_keys: W003 with suggestion, W006 unknown block, legacy note", function()
  local nl = parse("IMAGE_STACK_FILE_NAME = l\nIMAGE_STACK_FILE = x\nhave_uncertainties = 1\n"
    .. "run_medfilter = 1\n&MEDFILTER\n Window_X = 4,\n Windw_Y = 4,\n&END\n&MEDFILTR\n&END\n&NOSCHEMA\n a = 1,\n&END\n")
  local known = {
    globals = { image_stack_file_name = "IMAGE_STACK_FILE_NAME" },
    triggers = { run_medfilter = "run_medfilter" },
    blocks = { medfilter = { window_x = "Window_X", window_y = "Window_Y" }, noschema = false },
    legacy = { have_uncertainties = "have_uncertainties" },
  }
  local out = N.check_keys(nl, known)
  eq(#out, 4, "W003 x2, W006, legacy note")
  eq(N.format(out[1]), "t.nl:2: W003 unknown key 'IMAGE_STACK_FILE' ignored (did you mean 'IMAGE_STACK_FILE_NAME'?)", "global")
  eq(N.format(out[2]), "t.nl:7: W003 unknown key 'Windw_Y' in &MEDFILTER ignored (did you mean 'Window_Y'?)", "block")
  eq(N.format(out[3]), "t.nl:9: W006 unknown block &MEDFILTR ignored (did you mean '&MEDFILTER'?)", "block name")
  eq(out[4].severity, "note", "legacy is a note (verbose only)")
  eq(out[4].message, "recognised but unused legacy keys: have_uncertainties (line 3)", "legacy text")
  eq(N.suggest("zzzzzzzz", { "IMAGE_STACK_FILE_NAME" }), nil, "no far suggestion")
end)

test("report prints warnings, notes only when verbose", function()
  local nl = parse("&M\n a = 1\n&END\nb = 1\nb = 2\n")
  local got = {}
  eq(N.report(nl.diagnostics, { log = function(d) got[#got + 1] = d.code end }), 1, "one warning")
  eq(got[1], "W004", "the warning")
  eq(N.report(nl.diagnostics, { verbose = true, log = function() end }), 2, "plus the note")
end)

-- Real namelists ($MOPEX_TEST_DATA)
local DATA = os.getenv("MOPEX_TEST_DATA")
if not DATA or DATA == "" then DATA = SRC .. "/../shared/data" end
local function have(p) local f = io.open(p, "rb"); if f then f:close(); return true end; return false end
local real_ok = have(DATA .. "/gammit_grb120119a/cdf/120119A_ch1.nl")
if real_ok then
  local P = require "pipelines"
  local function load(rel, script)
    return N.load(DATA .. "/" .. rel, { quiet = true, triggers = P.all_triggers(script) })
  end
  test("real: 120119A_ch1.nl (GammIT mosaic.pl namelist)", function()
    local nl = load("gammit_grb120119a/cdf/120119A_ch1.nl", "mosaic")
    eq(#nl.diagnostics, 0, "no diagnostics")
    local g, b = nl.globals, nl.blocks
    eq(g.dce_status_mask_fatal_bitpattern.value, "32520", "DCE fatal")
    eq(g.rmask_fatal_bitpattern.value, "15", "RMask fatal")
    eq(g.mosaic_pixel_size_x.value, "-1.1111E-4", "pixel size x")
    eq(tonumber(g.mosaic_pixel_size_x.value), -1.1111e-4, "pixel size x as number")
    eq(g.do_multiprocess.value, "on", "'on' unquoted"); eq(g.do_multiprocess.quoted, true, "was quoted")
    eq(g.rmask_list.value, nil, "RMASK_LIST = (empty)")
    eq(g.fif_file_name.value, nil, "FIF_FILE_NAME = (empty)")
    eq(b.fiducialimageframein.entries.crota2.value, "A", "CROTA2 = A")
    eq(b.fiducialimageframein.entries.projection_type.value, "TAN", "'TAN'")
    eq(b.mosaiccoaddin.entries.integ_time_kwd.value, "EXPTIME", "INTEG_TIME_KWD")
    eq(b.mosaicrmaskin.entries.rm_thresh.value, "0.8", "RM_THRESH")
    eq(b.mosaicintin.entries.interp_method.value, "2", "INTERP_METHOD")
    eq(count(nl.triggers), 22, "22 triggers")
    eq(count(nl.blocks), 22, "22 blocks")
    eq(count(nl.globals), 46, "46 globals")
    eq(nl.triggers.run_mosaic_interp.value, "1", "run_mosaic_interp spelling")
    eq(nl.blocks.mosaicgeom.line, 111, "&MOSAICGEOM line")
  end)
  test("real: 120119A_ch2.nl", function()
    local nl = load("gammit_grb120119a/cdf/120119A_ch2.nl", "mosaic")
    eq(#nl.diagnostics, 0, "no diagnostics")
    eq(nl.blocks.fiducialimageframein.entries.crota2.value, "A", "CROTA2")
    assert(nl.globals.image_stack_file_name.value:find("ch2"), "ch2 list")
  end)
  local IRAC = "irac_pipe_namelists/"
  test("real: irac_pipe_namelists subtract_stars.nl (apex_qa)", function()
    local nl = load(IRAC .. "subtract_stars.nl", "apex_qa")
    eq(#nl.diagnostics, 0, "no diagnostics")
    eq(nl.triggers.run_mosaic_pointsourceimage.key, "run_MOSAIC_POINTSOURCEIMAGE", "mixed-case trigger")
    eq(nl.triggers.run_mosaic_pointsourceimage.value, "1", "trigger on")
    eq(nl.triggers.create_residual_mosaic.value, "1", "create_residual_mosaic")
    eq(nl.globals.output_dir.value, nil, "empty OUTPUT_DIR")
    eq(nl.globals.mosaic_file_name.value, nil, "MOSAIC_FILE_NAME =")
    local e = nl.blocks.mosaic_pointsourceimage.entries
    eq(e.flux_column_name.value, "flux", "bare flux")
    eq(e.x_column_name.value, "ra", "bare ra")
    eq(e.input_ra_dec.value, "1", "Input_RA_Dec")
  end)
  test("real: find_astrostars.nl / find_brightstars.nl (apex_user_list_1frame)", function()
    local a = load(IRAC .. "find_astrostars.nl", "apex_user_list_1frame")
    local b = load(IRAC .. "find_brightstars.nl", "apex_user_list_1frame")
    eq(#a.diagnostics + #b.diagnostics, 0, "no diagnostics")
    eq(a.blocks.aperture.entries.x_column_name.value, "x", "X_Column_Name = x ,")
    eq(a.blocks.aperture.entries.y_column_name.value, "y", "Y_Column_Name")
    eq(a.blocks.sourcestimate.entries.n_edge.value, "4", "N_Edge astro")
    eq(b.blocks.sourcestimate.entries.n_edge.value, "-64", "N_Edge bright (negative)")
    eq(a.blocks.sourcestimate.entries.prf_resamplex_factor.value, "100", "resample 100")
    eq(b.blocks.sourcestimate.entries.prf_resamplex_factor.value, "5", "resample 5")
    eq(a.blocks.sourcestimate.entries.minimizeftol.value, "1.0E-4", "MinimizeFtol")
    eq(a.globals.input_user_list.value, nil, "INPUT_USER_LIST = (no space after =)")
    eq(a.globals.dce_status_mask_fatal_bitpattern.value, "32732", "DCE fatal")
    eq(a.triggers.run_sourcestimate.value, "1", "run_sourcestimate")
    eq(a.blocks.gaussnoise.entries.max_badpixels_outputimage.value, "1.0", "Max_BadPixels_OutputImage")
  end)
  test("real: irac_flag_outliers.nl, irac_mosaic.nl, quoted 'manual'", function()
    local f = load(IRAC .. "irac_flag_outliers.nl", "mosaic")
    eq(f.globals.do_multiprocess.value, "manual", "'manual'")
    eq(f.globals.ncpu_multiprocess.value, "10", "ncpu 10")
    eq(f.blocks.mosaiccoaddin.entries.integ_time_kwd.value, "EXPTIME", "quoted EXPTIME")
    eq(f.blocks.mosaiccoaddin.entries.use_int_time_kwd.value, "1", "USE_INT_TIME_KWD")
    eq(f.globals.imask_fatal_bitpattern.value, "32767", "IMask_Fatal_BitPattern")
    local m = load(IRAC .. "irac_mosaic.nl", "mosaic")
    eq(m.globals.ncpu_multiprocess.value, "24", "ncpu 24")
    eq(m.globals.run_median_mosaic, nil, "#run_median_mosaic = 1 is a comment")
    eq(m.blocks.mosaiccovgin.entries.tilemax_x.value, "500", "TILEMAX_X")
  end)
  test("real: every namelist of irac_pipe_namelists parses", function()
    local n = 0
    for _, name in ipairs({ "find_astrostars", "find_brightstars", "irac_FIF", "irac_flag_outliers",
                            "irac_mosaic", "make_full_mosaic", "mosaic_geom", "subtract_stars",
                            "tile_geom", "tile_par" }) do
      local nl = load(IRAC .. name .. ".nl")
      eq(nl.errors, 0, name)
      n = n + 1
    end
    eq(n, 10, "ten namelists")
    local fif = load(IRAC .. "irac_FIF.nl", "mosaic")
    eq(fif.globals.output_dir.value, nil, "empty OUTPUT_DIR")
    eq(fif.globals.fif_file_name.value, "FIF.tbl", "FIF.tbl")
    eq(fif.blocks.fiducialimageframein.entries.crota2.value, "0.0", "CROTA2 0.0")
    eq(fif.globals.rmask_fatal_bitpattern.value, "14", "RMask 14")
  end)
else
  io.stderr:write("note: real namelists not found under ", DATA, "; those tests skipped\n")
end

T.done()
