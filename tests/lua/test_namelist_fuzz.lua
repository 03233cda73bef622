-- Random-mutation test of the namelist parser, runs everywhere (the libFuzzer harness in
-- tests/fuzz/ needs clang). 10000 mutated namelists, made from the real namelists, the
-- templates and the fixtures with a fixed seed: each must parse or raise a clean error
-- ("file:line: E1xx ..." on every line), parsed results must be consistent, and the whole
-- run must stay within a time limit (no pathological slowness).
local SRC = os.getenv("MOPEX_SOURCE_DIR")
if not SRC or SRC == "" then
  SRC = debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/[^/]*$") or "."
end
package.path = SRC .. "/namelist-compat/?.lua;" .. SRC .. "/namelist-compat/?/init.lua;"
  .. SRC .. "/tests/lua/lib/?.lua;" .. package.path
local T = require "testing"
local N = require "namelist"

local function slurp(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local seeds = {}
local DATA = os.getenv("MOPEX_TEST_DATA")
if not DATA or DATA == "" then DATA = SRC .. "/../shared/data" end
for _, rel in ipairs({ "gammit_grb120119a/cdf/120119A_ch1.nl", "irac_pipe_namelists/find_astrostars.nl",
                       "irac_pipe_namelists/subtract_stars.nl", "irac_pipe_namelists/irac_FIF.nl" }) do
  seeds[#seeds + 1] = slurp(DATA .. "/" .. rel)
end
for _, name in ipairs({ "mosaic_I1.nl", "apex_1frame_M1.nl", "apex_qa_I1.nl", "prf_estimate_M1.nl",
                        "overlap_I2.nl" }) do
  seeds[#seeds + 1] = slurp(SRC .. "/namelist-compat/templates/cdf/" .. name)
end
for _, name in ipairs({ "crlf.nl", "typographic.nl", "nested.nl", "nospace.nl", "several_errors.nl" }) do
  seeds[#seeds + 1] = slurp(SRC .. "/tests/data/namelists/" .. name)
end
local n_seeds = #seeds
assert(n_seeds >= 10, "need the templates and fixtures as seeds, found " .. n_seeds)

local TOKENS = { "&END", "&", "&MEDFILTER", " = ", "=", "'", '"', "#", ",", " and ", "\n", "\r\n",
  "\226\128\152", "\226\128\157", "\226\128", "\0", "-", "A", "1.0D-3", "&END,", "run_medfilter = 1\n",
  "\n&DETECT\n", "'a' and \"b\"", "  ", "\t", "=\n", "\255", "###-Meta-Data-###" }

math.randomseed(20240501)
local rnd = math.random

local function mutate(s)
  for _ = 1, rnd(1, 4) do
    local n = #s
    local k = rnd(1, 7)
    local p = rnd(1, n + 1)
    if k == 1 and n > 0 then
      s = s:sub(1, p - 1) .. string.char(rnd(0, 255)) .. s:sub(p + 1)
    elseif k == 2 then
      s = s:sub(1, p - 1) .. TOKENS[rnd(#TOKENS)] .. s:sub(p)
    elseif k == 3 then
      s = s:sub(1, p - 1) .. s:sub(p + rnd(1, 40))
    elseif k == 4 or k == 5 then
      local lines = {}
      for l in (s .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
      local a, b = rnd(#lines), rnd(#lines)
      if k == 4 then table.insert(lines, b, lines[a]) else lines[a], lines[b] = lines[b], lines[a] end
      s = table.concat(lines, "\n")
    elseif k == 6 then
      s = s:sub(1, p)
    else
      local t = {}
      for i = 1, rnd(1, 8) do t[i] = string.char(rnd(0, 255)) end
      s = s:sub(1, p - 1) .. table.concat(t) .. s:sub(p)
    end
  end
  return s
end

local function count_lines(s)
  local n = 0
  for _ in s:gmatch("\n") do n = n + 1 end
  if #s > 0 and s:sub(-1) ~= "\n" then n = n + 1 end
  return n
end

local function check_ok(nl, text)
  local nlines = count_lines(text)
  local function entry(e)
    assert(type(e.key) == "string" and e.key:match("^[%a_][%w_%-]*$"), "bad key")
    assert(e.value == nil or type(e.value) == "string", "bad value")
    assert(math.type(e.line) == "integer" and e.line >= 1 and e.line <= nlines, "bad line " .. tostring(e.line))
  end
  for _, e in pairs(nl.globals) do entry(e) end
  for _, e in pairs(nl.triggers) do entry(e) end
  for _, b in pairs(nl.blocks) do
    assert(b.end_line and b.end_line > b.line, "block without &END accepted")
    for _, e in pairs(b.entries) do entry(e); assert(e.line > b.line and e.line < b.end_line) end
  end
end

local accepted, rejected, slowest = 0, 0, 0
local t0 = os.clock()
local TOTAL = 10000
for i = 1, TOTAL do
  local text = mutate(seeds[(i % n_seeds) + 1])
  local c0 = os.clock()
  local ok, res = pcall(N.parse, text, { file = "m.nl", quiet = true, strict = (i % 5 == 0) })
  local dt = os.clock() - c0
  if dt > slowest then slowest = dt end
  if ok then
    local cok, cerr = pcall(check_ok, res, text)
    if not cok then error(string.format("input %d parsed to an inconsistent result: %s\n%q", i, cerr, text)) end
    accepted = accepted + 1
  else
    if type(res) ~= "string" then error(string.format("input %d raised a %s", i, type(res))) end
    for line in res:gmatch("[^\n]+") do
      if not line:match("^m%.nl:%d+: E1%d%d ") then
        error(string.format("input %d: unclean error line %q\ninput: %q", i, line, text))
      end
    end
    rejected = rejected + 1
  end
end
-- pathological sizes: one very long line, many quotes, many blocks
local big = { string.rep("a", 1000000) .. " = 1\n", string.rep("'", 200001) .. "\n",
              string.rep("&B\n x = 1,\n&END\n", 20000), string.rep("k = 'v' and ", 20000) .. "'z'\n" }
for i, text in ipairs(big) do
  local c0 = os.clock()
  local ok, res = pcall(N.parse, text, { file = "m.nl", quiet = true })
  local dt = os.clock() - c0
  assert(dt < 5, "big input " .. i .. " took " .. dt .. " s")
  assert(ok or (type(res) == "string" and res:match("^m%.nl:%d+: E1%d%d ")), "big input " .. i .. ": " .. tostring(res))
end
local total = os.clock() - t0
print(string.format("%d mutated namelists: %d parsed, %d rejected with file:line errors; "
  .. "%.2f s in all, slowest %.1f ms", TOTAL, accepted, rejected, total, slowest * 1000))
T.test("mutations", function()
  T.eq(accepted + rejected, TOTAL, "every input parsed or was rejected cleanly")
  T.ok(accepted > 1000 and rejected > 1000, "mutations should both pass and fail often")
  T.ok(slowest < 1.0, "one input took " .. slowest .. " s")
  T.ok(total < 120, "10000 inputs took " .. total .. " s")
end)
T.done()
