-- testing.lua: a small harness for the Lua tests (tests/lua, tests/e2e).
--
--   local T = require "testing"
--   T.test("pixel values", function()
--     T.near(img:get(1, 1), 0.0366554, 1e-6)
--     T.raises(function() img:get(0, 1) end, "x = 0 is outside")
--   end)
--   T.done()          -- prints "N passed, N failed"; exit status 1 on failure
--
-- Every check counts; a failed check ends its test case (the rest of the
-- cases still run) and prints where it failed. T.skip(reason) ends the whole
-- program with status 77 (ctest: skipped), e.g. when the real data folder
-- ($MOPEX_TEST_DATA) is absent.
local T = {}

local passed, failed, cases_failed = 0, 0, 0
local current = nil

local FAIL = setmetatable({}, { __tostring = function() return "check failed" end })

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if not info then return "?" end
  return (info.short_src or "?") .. ":" .. (info.currentline or 0)
end

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  if math.type(v) == "float" then return string.format("%.17g", v) end
  return tostring(v)
end

-- Callers must not tail-call fail(): `where` counts stack levels.
local function fail(msg, level)
  failed = failed + 1
  io.stderr:write(string.format("FAIL %s (%s): %s\n", current or "(top level)",
    where((level or 2) + 1), msg))
  if current then error(FAIL, 0) end
end

local function pass() passed = passed + 1 end

--- Run one test case; an error inside it is a failure, not a crash.
function T.test(name, fn)
  current = name
  local ok, err = xpcall(fn, function(e)
    if e == FAIL then return e end
    return debug.traceback(tostring(e), 2)
  end)
  if not ok then
    cases_failed = cases_failed + 1
    if err ~= FAIL then
      failed = failed + 1
      io.stderr:write(string.format("FAIL %s: error: %s\n", name, err))
    end
  end
  current = nil
end

local function deep_eq(a, b, seen)
  if a == b then return true end
  if type(a) == "number" and type(b) == "number" and a ~= a and b ~= b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do if not deep_eq(v, b[k], seen) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

--- Equality (tables compared deeply; NaN equals NaN).
function T.eq(a, b, msg)
  if deep_eq(a, b) then return pass() end
  fail(string.format("%sexpected %s, got %s", msg and (msg .. ": ") or "", describe(b), describe(a)))
end

--- |a - b| <= tol (NaN matches NaN only).
function T.near(a, b, tol, msg)
  if type(a) == "number" and type(b) == "number" then
    if (a ~= a and b ~= b) or math.abs(a - b) <= tol then return pass() end
    fail(string.format("%s%s vs %s (diff %.3g > tol %.3g)", msg and (msg .. ": ") or "",
      describe(a), describe(b), math.abs(a - b), tol))
    return
  end
  fail(string.format("%snear() needs numbers, got %s and %s", msg and (msg .. ": ") or "",
    type(a), type(b)))
end

--- A true value.
function T.ok(v, msg)
  if v then return pass() end
  fail(msg or ("expected a true value, got " .. describe(v)))
end

--- fn() must raise an error whose message matches the Lua pattern
--- (plain text when plain = true). Returns the message.
function T.raises(fn, pattern, plain)
  local ok, err = pcall(fn)
  if ok then
    fail("expected an error matching '" .. tostring(pattern) .. "', none raised")
    return nil
  end
  local msg = tostring(err)
  if pattern and not msg:find(pattern, 1, plain) then
    fail(string.format("error %q does not match '%s'", msg, pattern))
    return msg
  end
  pass()
  return msg
end

--- End the program as skipped (ctest SKIP_RETURN_CODE 77).
function T.skip(reason)
  io.stdout:write("SKIP: ", reason, "\n")
  io.stdout:flush()
  os.exit(77)
end

local function is_dir(p)
  local f = io.open(p .. "/.", "r")
  if f then f:close() return true end
  return false
end

--- The real data folder ($MOPEX_TEST_DATA), or skip.
function T.data_dir()
  local d = os.getenv("MOPEX_TEST_DATA")
  if not d or d == "" then T.skip("MOPEX_TEST_DATA is not set") end
  if not is_dir(d) then T.skip("test data folder " .. d .. " is absent") end
  return d
end

--- A file inside the data folder, or skip when it is missing.
function T.data_file(rel)
  local p = T.data_dir() .. "/" .. rel
  local f = io.open(p, "rb")
  if not f then T.skip("test data file " .. p .. " is absent") end
  f:close()
  return p
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- A fresh, empty scratch directory named `name` under $MOPEX_TEST_TMP.
function T.tmpdir(name)
  local base = os.getenv("MOPEX_TEST_TMP")
  if not base or base == "" then base = (os.getenv("TMPDIR") or "/tmp") .. "/mopexlua-tests" end
  -- "lua-": the C unit tests have scratch directories of the same names
  -- (test_coadd, test_image, test_table) and ctest -j runs both at once
  local dir = base .. "/lua-" .. name
  assert(not name:find("%.%."), "tmpdir: name must not climb out of the scratch space")
  os.execute("rm -rf " .. shell_quote(dir) .. " && mkdir -p " .. shell_quote(dir))
  assert(is_dir(dir), "tmpdir: cannot create " .. dir)
  return dir
end

--- Whole file as a string (nil when it cannot be read).
function T.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Bit-identical pixel arrays of two FITS images (NaN equals NaN): true, or
--- a message naming the first difference.
function T.same_pixels(pa, pb)
  local mopex = require "mopex"
  local a <close> = mopex.read(pa)
  local b <close> = mopex.read(pb)
  local ax, ay = a:size()
  local bx, by = b:size()
  if ax ~= bx or ay ~= by then return string.format("sizes %dx%d vs %dx%d", ax, ay, bx, by) end
  for y = 1, ay do
    local ra, rb = a:row(y), b:row(y)
    for x = 1, ax do
      local u, v = ra[x], rb[x]
      if u ~= v and not (u ~= u and v ~= v) then
        return string.format("pixel (%d, %d): %.9g vs %.9g", x, y, u, v)
      end
    end
  end
  return true
end

--- Rows of a simple CSV file (no quoted commas), '#' lines skipped; the
--- first row is the header: returns an array of {name = text}.
function T.read_csv(path)
  local rows, names = {}, nil
  for line in io.lines(path) do
    if line ~= "" and not line:match("^#") then
      local fields = {}
      for f in (line .. ","):gmatch("([^,]*),") do fields[#fields + 1] = f end
      if not names then
        names = fields
      else
        local r = {}
        for i, n in ipairs(names) do r[n] = fields[i] end
        rows[#rows + 1] = r
      end
    end
  end
  return rows
end

--- Print the summary and exit: status 0 when everything passed, else 1.
function T.done()
  io.stdout:write(string.format("%d passed, %d failed\n", passed, failed))
  io.stdout:flush()
  os.exit(failed == 0 and 0 or 1, true)
end

return T
