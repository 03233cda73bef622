-- mopex.schema: one declarative parameter table per module.
--
-- Every module of the engine is described exactly once, here-style:
--
--   local S = require "mopex.schema"
--   local P = require "mopex.params"          -- parameters shared by modules
--   return S.module {
--     name = "interpolate",                   -- Lua function: mopex.interpolate{...}
--     title = "Mosaic Interpolate",           -- the guide's module name
--     doc = "Resample every frame onto the mosaic grid (000 l.2751-2857).",
--     pipelines = {"mosaic", "overlap", "apex"},
--     block = "MOSAICINTIN",                  -- classic &BLOCK (aliases: block_aliases)
--     triggers = {"run_mosaic_int", "run_mosaic_interp"},
--     params = {
--       P.images, P.sigmas, P.fif,            -- shared parameters, defined once in params.lua
--       S.param{ "method", key = "INTERP_METHOD", type = "int", min = 1, max = 4,
--                default = 1, defaults = {overlap = 3}, doc = "1 default, 2 drizzle, 3 grid, 4 cubic" },
--       S.outdir{ key = "INTERP_DIR", mosaic = "Interp-mosaic", overlap = "Interp-overlap" },
--     },
--     run = function(opts) ... return product end,   -- nil: not implemented (fails loudly)
--   }
--
-- That one table drives: validation of Lua options (unknown keys raise and
-- list the valid ones), per-pipeline defaults, the namelist translation
-- (classic keys, blocks, triggers), help(module) in the REPL and the
-- generated module reference in docs/. Never write a parameter's name or
-- default anywhere else.
--
-- Parameter fields:
--   [1] or name  Lua option name (snake_case)
--   type         "int" | "number" | "bool" | "string" | "path" | "enum" | "list"
--                | "crota2" | "any"   (list = a list-file path or an array of paths;
--                crota2 = a number or "A" meaning the average input orientation)
--   default      value when not given (nil: unset, the module decides)
--   defaults     per-pipeline overrides of default: { overlap = 3 }
--   required     true: must be given (after defaults)
--   min, max     numeric bounds (inclusive)
--   values       enum: array of allowed strings; a classic integer code may map
--                through `codes` = { [1] = "default", ... }
--   unit         "arcsec", "deg", "pixels", "sigma", ...
--   key          classic namelist key (the guide's main spelling)
--   aliases      other classic spellings
--   scope        "block" (inside the module's &BLOCK, default) or "global"
--   input        true: a product of an earlier module (interp_images, detmaps, ...),
--                taken by pipelines from their current values (mopex.flow), never
--                from a namelist key
--   flag         classic command-line flag ("-I"), for the docs
--   doc          one line
local S = {}

local modules = {}       -- name -> module
local order = {}         -- registration order

local VALID_TYPES = {
  int = true, number = true, bool = true, string = true, path = true, enum = true,
  list = true, crota2 = true, any = true,
}

local function norm_key(k) return (k:lower():gsub("%-", "_")) end
S.norm_key = norm_key

--- Declare a parameter. Returns a frozen description usable by many modules.
function S.param(spec)
  local p = {}
  for k, v in pairs(spec) do p[k] = v end
  p.name = p.name or p[1]
  p[1] = nil
  assert(type(p.name) == "string" and p.name:match("^[%a_][%w_]*$"),
         "schema: parameter needs a snake_case name")
  p.type = p.type or "number"
  assert(VALID_TYPES[p.type], "schema: parameter '" .. p.name .. "' has unknown type " .. tostring(p.type))
  assert(p.type ~= "enum" or type(p.values) == "table", "schema: enum '" .. p.name .. "' needs values")
  p.scope = p.scope or "block"
  p.aliases = p.aliases or {}
  p.doc = p.doc or ""
  return p
end

--- Declare a module's output directory parameter ("out_dir") with its classic
--- *_DIR key and per-pipeline defaults: S.outdir{ key = "INTERP_DIR", mosaic = "Interp-mosaic" };
--- `default` applies when no pipeline is named (a direct Lua call).
function S.outdir(spec)
  local defaults = {}
  for k, v in pairs(spec) do
    if k ~= "key" and k ~= "doc" and k ~= "aliases" and k ~= "default" then defaults[k] = v end
  end
  return S.param {
    "out_dir", type = "path", key = spec.key, aliases = spec.aliases, scope = "global",
    default = spec.default, defaults = defaults,
    doc = spec.doc or "output directory of this module (relative paths are under output_dir)",
  }
end

--- Levenshtein distance, for "did you mean" suggestions.
local function distance(a, b)
  a, b = a:lower(), b:lower()
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = a:sub(i, i)
    for j = 1, lb do
      local cost = (ca == b:sub(j, j)) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end
S.distance = distance

--- Closest candidate to `word` (or nil when nothing is reasonably close).
--- `key` (optional) maps word and candidates before comparing (e.g. a
--- namelist key normaliser); the candidate itself is returned.
function S.suggest(word, candidates, key)
  local best, bestd
  local w = key and key(word) or word
  for _, c in ipairs(candidates) do
    local d = distance(w, key and key(c) or c)
    if not bestd or d < bestd then best, bestd = c, d end
  end
  if best and bestd <= math.max(2, math.floor(#word / 3)) then return best end
  return nil
end

local function param_default(p, pipeline)
  if pipeline and p.defaults and p.defaults[pipeline] ~= nil then return p.defaults[pipeline] end
  if p.default ~= nil then return p.default end
  if p.defaults then
    -- a parameter with only per-pipeline defaults: the first pipeline listed wins
    -- when none is named (deterministic: sorted keys)
    local keys = {}
    for k in pairs(p.defaults) do keys[#keys + 1] = k end
    table.sort(keys)
    if #keys > 0 and pipeline == nil then return p.defaults[keys[1]] end
  end
  return nil
end
S.param_default = param_default

local function describe_value(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

--- Check one value against its parameter; returns the (possibly converted)
--- value or raises "<where>: option 'x' must be ...".
local function check_value(where, p, v)
  local function fail(msg)
    error(string.format("%s: option '%s' %s (got %s)", where, p.name, msg, describe_value(v)), 0)
  end
  local t = p.type
  if t == "int" then
    if type(v) == "string" and tonumber(v) then v = tonumber(v) end
    if type(v) ~= "number" or math.type(v) == "float" and v ~= math.floor(v) then
      fail("must be an integer")
    end
    v = math.tointeger(v) or v
  elseif t == "number" then
    if type(v) == "string" and tonumber(v) then v = tonumber(v) end
    if type(v) ~= "number" or v ~= v then fail("must be a number") end
  elseif t == "bool" then
    if v == 0 or v == "0" then v = false elseif v == 1 or v == "1" then v = true end
    if type(v) ~= "boolean" then fail("must be true/false (or 1/0)") end
  elseif t == "string" or t == "path" then
    if type(v) ~= "string" then fail("must be a string") end
  elseif t == "enum" then
    if type(v) == "number" and p.codes and p.codes[v] then v = p.codes[v] end
    local ok = false
    for _, a in ipairs(p.values) do if a == v then ok = true end end
    if not ok then fail("must be one of " .. table.concat(p.values, ", ")) end
  elseif t == "list" then
    if type(v) == "table" then
      for i, e in ipairs(v) do
        if type(e) ~= "string" then fail("must be a list file name or an array of paths (entry " .. i .. ")") end
      end
    elseif type(v) ~= "string" then
      fail("must be a list file name or an array of paths")
    end
  elseif t == "crota2" then
    if type(v) == "string" and (v == "A" or v == "a" or v:lower() == "average") then
      v = "A"
    elseif type(v) == "string" and tonumber(v) then
      v = tonumber(v)
    elseif type(v) ~= "number" then
      fail("must be an angle in degrees or \"A\" (average input orientation)")
    end
  end
  if (t == "int" or t == "number") then
    if p.min and v < p.min then fail("must be >= " .. p.min) end
    if p.max and v > p.max then fail("must be <= " .. p.max) end
    if p.check then
      local ok, msg = p.check(v)
      if not ok then fail(msg) end
    end
  end
  return v
end
S.check_value = check_value

--- Register a module description; returns it (callable: mod{opts}).
function S.module(spec)
  local m = {}
  for k, v in pairs(spec) do m[k] = v end
  assert(type(m.name) == "string", "schema: module needs a name")
  m.title = m.title or m.name
  m.params = m.params or {}
  m.triggers = m.triggers or {}
  m.block_aliases = m.block_aliases or {}
  m.pipelines = m.pipelines or {}
  m.by_name = {}
  for _, p in ipairs(m.params) do
    assert(not m.by_name[p.name], "schema: module " .. m.name .. " declares '" .. p.name .. "' twice")
    m.by_name[p.name] = p
  end
  if modules[m.name] == nil then order[#order + 1] = m.name end
  modules[m.name] = m
  return setmetatable(m, {
    __call = function(self, opts) return S.call(self, opts) end,
    __tostring = function(self) return "mopex module " .. self.name .. " (" .. self.title .. ")" end,
  })
end

function S.get(name) return modules[name] end
function S.names()
  local t = {}
  for i, n in ipairs(order) do t[i] = n end
  return t
end

--- Validate user options against a module: unknown keys raise and list the
--- valid ones; values are type-checked; defaults (per pipeline) filled in.
--- The pseudo-option `pipeline` selects per-pipeline defaults.
function S.validate(m, opts, pipeline)
  local where = "mopex." .. m.name
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(where .. ": expected a table of options, got " .. type(opts), 0)
  end
  pipeline = pipeline or opts.pipeline
  local out = { pipeline = pipeline }
  for k, v in pairs(opts) do
    if k ~= "pipeline" then
      local p = type(k) == "string" and m.by_name[k]
      if not p then
        local names = {}
        for _, q in ipairs(m.params) do names[#names + 1] = q.name end
        table.sort(names)
        local hint = type(k) == "string" and S.suggest(k, names)
        error(string.format("%s: unknown option '%s'%s; valid options: %s", where, tostring(k),
          hint and (" (did you mean '" .. hint .. "'?)") or "", table.concat(names, ", ")), 0)
      end
      out[k] = check_value(where, p, v)
    end
  end
  for _, p in ipairs(m.params) do
    if out[p.name] == nil then
      local d = param_default(p, pipeline)
      if d ~= nil then out[p.name] = check_value(where, p, d) end
    end
    if p.required and out[p.name] == nil then
      error(string.format("%s: option '%s' is required%s", where, p.name,
        p.key and (" (classic " .. p.key .. (p.flag and (", flag " .. p.flag) or "") .. ")") or ""), 0)
    end
  end
  return out
end

--- Validate and run. A module without `run` is not implemented yet: it
--- fails loudly and names itself and its classic trigger.
function S.call(m, opts)
  local v = S.validate(m, opts)
  if not m.run then
    error(string.format("module '%s' (%s%s) is not implemented yet", m.name, m.title,
      #m.triggers > 0 and (", trigger " .. m.triggers[1]) or ""), 0)
  end
  return m.run(v)
end

--- Coerce a classic/--set text value to a parameter's type (for the namelist
--- layer); returns value or nil, message.
function S.coerce(p, text)
  if type(text) ~= "string" then return text end
  local t = p.type
  if text == "" then return nil end
  if t == "int" or t == "number" then
    local s = text:gsub("[dD]([%+%-]?%d+)$", "e%1")
    local n = tonumber(s)
    if not n then return nil, "expected a number" end
    if t == "int" then
      if n ~= math.floor(n) then return nil, "expected an integer" end
      n = math.tointeger(n)
    end
    return n
  elseif t == "bool" then
    local l = text:lower()
    if l == "1" or l == "true" or l == "yes" or l == "on" then return true end
    if l == "0" or l == "false" or l == "no" or l == "off" then return false end
    return nil, "expected 0 or 1"
  elseif t == "crota2" then
    if text == "A" or text == "a" then return "A" end
    local n = tonumber((text:gsub("[dD]", "e")))
    if not n then return nil, "expected an angle or A" end
    return n
  elseif t == "enum" then
    local n = tonumber(text)
    if n and p.codes and p.codes[n] then return p.codes[n] end
    return text
  end
  return text
end

--- Index of classic keys for one pipeline: returns a table
--- key(normalised) -> { {module=m, param=p}, ... } for globals, and
--- blocks[BLOCK(normalised)] = { module=m, keys = {norm -> param} }.
function S.classic_index(pipeline)
  local globals, blocks, triggers = {}, {}, {}
  for _, name in ipairs(order) do
    local m = modules[name]
    local in_pipe = (#m.pipelines == 0)
    for _, pl in ipairs(m.pipelines) do if pl == pipeline then in_pipe = true end end
    if in_pipe or pipeline == nil then
      for _, t in ipairs(m.triggers) do
        triggers[norm_key(t)] = triggers[norm_key(t)] or m
      end
      if m.triggers_by_pipeline and m.triggers_by_pipeline[pipeline] then
        for _, t in ipairs(m.triggers_by_pipeline[pipeline]) do triggers[norm_key(t)] = m end
      end
      local b
      if m.block then
        b = blocks[norm_key(m.block)] or { module = m, keys = {} }
        blocks[norm_key(m.block)] = b
        for _, a in ipairs(m.block_aliases) do blocks[norm_key(a)] = b end
      end
      for _, p in ipairs(m.params) do
        if p.key then
          local names = { p.key }
          for _, a in ipairs(p.aliases) do names[#names + 1] = a end
          for _, k in ipairs(names) do
            if p.scope == "global" then
              local e = globals[norm_key(k)] or {}
              globals[norm_key(k)] = e
              e[#e + 1] = { module = m, param = p }
            elseif b then
              b.keys[norm_key(k)] = p
            end
          end
        end
      end
    end
  end
  return { globals = globals, blocks = blocks, triggers = triggers }
end

local function fmt_default(p, pipeline)
  local d = param_default(p, pipeline)
  if p.defaults then
    local parts = {}
    local keys = {}
    for k in pairs(p.defaults) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. ": " .. describe_value(p.defaults[k]) end
    if p.default ~= nil then table.insert(parts, 1, describe_value(p.default)) end
    return table.concat(parts, "; ")
  end
  if d == nil then return p.required and "required" or "unset" end
  return describe_value(d)
end

--- Plain-text help for the REPL.
function S.help_text(m)
  local lines = {}
  lines[#lines + 1] = string.format("mopex.%s{...}  --  %s", m.name, m.title)
  if m.doc and m.doc ~= "" then lines[#lines + 1] = "  " .. m.doc end
  local classic = {}
  if #m.triggers > 0 then classic[#classic + 1] = "trigger " .. table.concat(m.triggers, " / ") end
  if m.block then classic[#classic + 1] = "block &" .. m.block end
  if #classic > 0 then lines[#lines + 1] = "  classic: " .. table.concat(classic, ", ") end
  if not m.run then lines[#lines + 1] = "  (not implemented yet: calling it raises an error)" end
  lines[#lines + 1] = "  options:"
  for _, p in ipairs(m.params) do
    local key = p.key and (" [" .. p.key .. "]") or ""
    lines[#lines + 1] = string.format("    %-22s %-7s default %s%s", p.name, p.type, fmt_default(p), key)
    if p.doc ~= "" then lines[#lines + 1] = "        " .. p.doc end
  end
  return table.concat(lines, "\n")
end

--- Markdown reference of one module (docs/modules.md is generated from this).
function S.markdown(m)
  local out = {}
  out[#out + 1] = "## " .. m.title .. " — `mopex." .. m.name .. "`\n"
  if m.doc and m.doc ~= "" then out[#out + 1] = m.doc .. "\n" end
  local facts = {}
  if #m.pipelines > 0 then facts[#facts + 1] = "Pipelines: " .. table.concat(m.pipelines, ", ") end
  if #m.triggers > 0 then facts[#facts + 1] = "Classic trigger: `" .. table.concat(m.triggers, "`, `") .. "`" end
  if m.block then facts[#facts + 1] = "Classic block: `&" .. m.block .. "`" end
  if not m.run then facts[#facts + 1] = "**Not implemented yet** (calling it raises an error)" end
  if #facts > 0 then out[#out + 1] = table.concat(facts, ". ") .. ".\n" end
  out[#out + 1] = "| Option | Type | Default | Classic key | Meaning |"
  out[#out + 1] = "|---|---|---|---|---|"
  for _, p in ipairs(m.params) do
    local key = p.key or ""
    if #p.aliases > 0 then key = key .. " (also " .. table.concat(p.aliases, ", ") .. ")" end
    if p.scope == "global" and p.key then key = key .. " (global)" end
    local doc = p.doc .. (p.unit and (" [" .. p.unit .. "]") or "")
    out[#out + 1] = string.format("| `%s` | %s | %s | %s | %s |", p.name, p.type,
      (fmt_default(p):gsub("|", "\\|")), key, (doc:gsub("|", "\\|")))
  end
  return table.concat(out, "\n") .. "\n"
end

return S
