-- mopex.flow: the small runtime shared by translated namelists (mopexlua --translate)
-- and by pipeline scripts that run a classic configuration.
--
-- A pipeline is a sequence of module calls. Pipeline-wide values and the "current
-- inputs" (the current image list, sigma list, masks, FIF, ... — mosaic.md §1.2) live
-- in one table, `cur`, keyed by the modules' Lua option names. Each module call takes
-- its inputs explicitly from `cur`; the table of products a module returns, keyed by
-- the same option names, replaces those inputs for every later module:
--
--   local cur = flow.start { pipeline = "mosaic", output_dir = "out", images = "list.txt" }
--   flow.update(cur, mopex.medfilter { pipeline = "mosaic", images = cur.images, window_x = 45 })
--
-- flow.run(cfg) does exactly what a translated script does, from a configuration built
-- by namelist-compat/config.lua, so a classic command line and its translation behave
-- the same by construction.
local F = {}

local function api()
  local m = package.loaded.mopex
  if type(m) == "table" then return m end
  local ok, mm = pcall(require, "mopex")
  if ok and type(mm) == "table" then return mm end
  return nil
end

local function cpu_count()
  local m = api()
  if m and m.core and m.core.cpu_count then return m.core.cpu_count() end
  return 1
end

--- Thread count for the classic do_multiprocess setting, evaluated on the machine that
--- runs the script: "on" = 3/4 of the CPUs (at least 1), "manual" = ncpu, "off" = 1.
function F.threads(mode, ncpu, cpus)
  cpus = cpus or cpu_count()
  if mode == "on" then return math.max(1, (cpus * 3) // 4) end
  if mode == "manual" then return ncpu or 1 end
  return 1
end

--- Apply a thread count to the engine, when the engine offers a way; returns true if applied.
function F.apply_threads(n)
  local m = api()
  if not m or not n then return false end
  local setter = (type(m.threads) == "function" and m.threads)
    or (m.core and type(m.core.set_threads) == "function" and m.core.set_threads)
  if setter then setter(n); return true end
  return false
end

--- Start a pipeline: applies `threads`, returns the table of current values.
function F.start(t)
  assert(type(t) == "table", "flow.start expects a table")
  if t.threads then F.apply_threads(t.threads) end
  return t
end

--- Fail before any work when a module of the flow has no implementation.
--- list = { { module = mopex.x | nil, title = "...", trigger = "run_x" }, ... }
function F.check(list)
  local missing = {}
  for _, e in ipairs(list) do
    local m = e.module
    if type(m) ~= "table" or type(m.run) ~= "function" then
      missing[#missing + 1] = string.format("%s (%s)%s", e.title or "?", e.trigger or "?",
        type(m) == "table" and (" [mopex." .. tostring(m.name) .. " has no run function]")
        or " [no mopexlua module]")
    end
  end
  if #missing > 0 then
    error("not implemented in mopexlua yet: " .. table.concat(missing, "; "), 0)
  end
  return true
end

--- Merge a module's products into the current values: every string key of the returned
--- table replaces the value of the same name (a module that produces a new image list
--- returns { images = ... }). Non-table results change nothing. Returns cur.
function F.update(cur, products)
  if type(products) == "table" and getmetatable(products) == nil then
    for k, v in pairs(products) do
      if type(k) == "string" then cur[k] = v end
    end
  end
  return cur
end

--- Options for one step: its literal options plus its inputs taken from cur.
function F.options(cur, step)
  local o = {}
  for k, v in pairs(step.opts or {}) do o[k] = v end
  for _, name in ipairs(step.inputs or {}) do
    if o[name] == nil then o[name] = cur[name] end
  end
  return o
end

--- Run a configuration from config.configure: check every step, start, then call each
--- module in order and merge its products. With cfg.verbose each step is announced
--- through log(text) (default: standard error). Returns the final current values.
function F.run(cfg, log)
  log = log or function(text) io.stderr:write(text, "\n") end
  local list = {}
  for _, st in ipairs(cfg.steps) do
    list[#list + 1] = { module = st.module, title = st.title, trigger = st.trigger }
  end
  F.check(list)
  local cur = {}
  for k, v in pairs(cfg.start) do cur[k] = v end
  F.start(cur)
  for i, st in ipairs(cfg.steps) do
    if cfg.verbose then log(string.format("[%d/%d] %s (mopex.%s)", i, #cfg.steps, st.title, st.name)) end
    F.update(cur, st.module(F.options(cur, st)))
  end
  return cur
end

return F
