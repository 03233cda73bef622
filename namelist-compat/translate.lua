-- translate: a merged classic configuration (config.configure) -> a readable Lua script
-- that runs the same modules with the same options (mopexlua --translate, --dry-run).
--
-- Shape of the output (docs/namelists.md "Translated scripts"):
--   local mopex = require "mopex"
--   local flow = require "mopex.flow"
--   flow.check { {module = mopex.x, title = ..., trigger = ...}, ... }   -- before any work
--   local cur = flow.start { pipeline = ..., output_dir = ..., <current inputs> }
--   flow.update(cur, mopex.x { pipeline = ..., images = cur.images, window_x = 45, ... })
-- Options carry their Lua names; the classic names are in the comments.
local T = {}

--- Shortest Lua literal that reads back as the same value (floats stay floats).
function T.literal(v)
  local t = type(v)
  if t == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "(0/0)" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    local s
    for prec = 15, 17 do
      s = string.format("%." .. prec .. "g", v)
      if tonumber(s) == v then break end
    end
    if not s:find("[%.eEn]") then s = s .. ".0" end
    return s
  end
  if t == "table" then
    local parts = {}
    for _, e in ipairs(v) do parts[#parts + 1] = T.literal(e) end
    return "{ " .. table.concat(parts, ", ") .. " }"
  end
  error("translate: cannot write a " .. t .. " as a Lua literal", 0)
end

local function is_ident(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not ({
    ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1, ["end"] = 1,
    ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1, ["if"] = 1, ["in"] = 1,
    ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1,
    ["then"] = 1, ["true"] = 1, ["until"] = 1, ["while"] = 1 })[s]
end

local function field(name)
  if is_ident(name) then return name end
  return "[" .. T.literal(name) .. "]"
end

-- Lines "  name = value,  -- comment" aligned on the comment column.
local function emit_fields(out, rows, indent)
  local w = 0
  for _, r in ipairs(rows) do
    r.code = indent .. field(r.name) .. " = " .. r.value .. ","
    if r.comment and #r.code > w then w = #r.code end
  end
  w = math.min(w, 60)
  for _, r in ipairs(rows) do
    if r.comment then
      out[#out + 1] = r.code .. string.rep(" ", math.max(1, w - #r.code + 1)) .. "-- " .. r.comment
    else
      out[#out + 1] = r.code
    end
  end
end

local function where_of(it)
  if not it then return nil end
  if it.source == "flag" then return "-" .. it.flag end
  if it.source == "set" then return "--set" end
  return nil
end

local function sorted_keys(t)
  local k = {}
  for n in pairs(t) do k[#k + 1] = n end
  table.sort(k)
  return k
end

--- The Lua text of a configuration.
function T.translate(cfg)
  local out = {}
  local function w(s) out[#out + 1] = s or "" end
  w(string.format("-- %s (classic %s.pl), translated from %s by mopexlua.", cfg.title, cfg.script,
    cfg.namelist_name))
  local cl = {}
  for _, c in ipairs({ "I", "i", "S", "s", "C", "D", "d", "M", "R", "F", "O", "u", "m", "p", "P", "E", "T" }) do
    if cfg.flags and cfg.flags[c] then cl[#cl + 1] = "-" .. c .. " " .. cfg.flags[c] end
  end
  for _, s in ipairs(cfg.sets or {}) do cl[#cl + 1] = "--set " .. s.arg end
  if #cl > 0 then w("-- Command line: " .. table.concat(cl, " ")) end
  w("-- Options carry their Lua names (help(mopex.<module>)); classic names are in the comments.")
  w("-- Run it with: mopexlua <this file>")
  w('local mopex = require "mopex"')
  w('local flow = require "mopex.flow"')
  w()

  -- modules, checked before any work
  w("-- Every module switched on in the namelist, in pipeline order; stops before any work")
  w("-- if one of them is not implemented.")
  w("flow.check {")
  for _, st in ipairs(cfg.steps) do
    local mod = st.name and ("module = mopex." .. st.name .. ", ") or ""
    w(string.format("  { %stitle = %s, trigger = %s },", mod, T.literal(st.title), T.literal(st.trigger)))
  end
  w("}")
  w()

  -- pipeline-wide values and current inputs
  w("-- Pipeline-wide settings and the current inputs (namelist globals and command line).")
  local rows = {}
  rows[#rows + 1] = { name = "pipeline", value = T.literal(cfg.start.pipeline),
                      comment = "per-pipeline defaults of every module" }
  local out_it = cfg.start_keys.output_dir
  rows[#rows + 1] = { name = "output_dir", value = T.literal(cfg.start.output_dir),
    comment = "OUTPUT_DIR" .. ((where_of(out_it) and (" (" .. where_of(out_it) .. ")")) or "") }
  if cfg.start.threads then
    local mp = cfg.globals.do_multiprocess
    if mp and cfg.do_multiprocess == "on" then
      rows[#rows + 1] = { name = "threads", value = "flow.threads(\"on\")",
                          comment = "do_multiprocess = on: 3/4 of the CPUs" }
    elseif mp and cfg.do_multiprocess == "manual" then
      rows[#rows + 1] = { name = "threads", value = T.literal(cfg.ncpu_multiprocess),
                          comment = "do_multiprocess = manual, ncpu_multiprocess" }
    else
      rows[#rows + 1] = { name = "threads", value = "1", comment = "do_multiprocess = off (classic default)" }
    end
  end
  if cfg.verbose then rows[#rows + 1] = { name = "verbose", value = "true", comment = "verbose" } end
  for _, name in ipairs(sorted_keys(cfg.start)) do
    if name ~= "pipeline" and name ~= "output_dir" and name ~= "threads" and name ~= "verbose" then
      local it = cfg.start_keys[name]
      local c = it and it.key or nil
      if c and where_of(it) then c = c .. " (" .. where_of(it) .. ")" end
      rows[#rows + 1] = { name = name, value = T.literal(cfg.start[name]), comment = c }
    end
  end
  w("local cur = flow.start {")
  emit_fields(out, rows, "  ")
  w("}")
  local notes = {}
  if cfg.nice then notes[#notes + 1] = "NICE = 1: run this script with `nice -n 19 mopexlua ...`" end
  if cfg.save_namelist then notes[#notes + 1] = "save_namelist = 1: the namelist copy is made by the classic entry point only" end
  if cfg.delete_intermediate_files then
    notes[#notes + 1] = "delete_intermediate_files = 1: intermediate products are kept by this script"
  end
  if #cfg.unused > 0 then
    notes[#notes + 1] = "Classic keys no mopexlua module uses (ignored):"
    for _, it in ipairs(cfg.unused) do
      notes[#notes + 1] = string.format("  %s = %s%s", it.key, it.text or "",
        it.line and ("  (line " .. it.line .. ")") or "")
    end
  end
  if #notes > 0 then
    w()
    for _, n in ipairs(notes) do w("-- " .. n) end
  end

  -- one call per module
  for i, st in ipairs(cfg.steps) do
    w()
    local head = string.format("-- %d. %s: %s = 1", i, st.title, st.trigger)
    if st.block then head = head .. string.format(", &%s (line %s)", st.block, tostring(st.block_line)) end
    w(head)
    if not st.name then
      w("--    no mopexlua module implements it yet; flow.check above stops the script.")
    else
      local rows2 = { { name = "pipeline", value = T.literal(st.opts.pipeline) } }
      for _, name in ipairs(st.inputs) do
        local p = st.module.by_name[name]
        rows2[#rows2 + 1] = { name = name, value = "cur." .. name, comment = p and p.key or nil }
        if not is_ident(name) then rows2[#rows2].value = "cur[" .. T.literal(name) .. "]" end
      end
      -- literal options in the schema's parameter order
      for _, p in ipairs(st.module.params) do
        local v = st.opts[p.name]
        if v ~= nil and p.name ~= "pipeline" then
          rows2[#rows2 + 1] = { name = p.name, value = T.literal(v), comment = st.keys[p.name] or p.key }
        end
      end
      w("flow.update(cur, mopex." .. st.name .. " {")
      emit_fields(out, rows2, "  ")
      w("})")
    end
  end
  w()
  w("return cur")
  return table.concat(out, "\n") .. "\n"
end

return T
