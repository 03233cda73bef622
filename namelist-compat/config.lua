-- config: classic command line + namelist -> one merged, typed configuration.
--
--   local C = require "config"
--   local cfg = C.configure("mosaic", {"-n", "mosaic_I1.nl", "-I", "list.txt"}, opts)
--
-- Precedence (namelist_cli.md §3.2): schema default < namelist < classic flag < --set.
-- Every value is typed by the module schemas (mopex.schema) before any work starts; a
-- switched-on module without an implementation is an error before any work starts.
-- Errors are raised as one string ("file:line: E1xx ...", one per line); usage errors
-- as a table { usage = true, message = ... } so the caller can print the usage line.
-- The configuration handed to a pipeline (its shape is documented in docs/namelists.md):
--   cfg.script, cfg.pipeline, cfg.mode, cfg.workdir, cfg.namelist, cfg.namelist_name,
--   cfg.strict, cfg.dry_run, cfg.force, cfg.verbose, cfg.nice, cfg.threads,
--   cfg.save_namelist, cfg.delete_intermediate_files, cfg.output_dir,
--   cfg.start   (pipeline-wide values and current inputs, keyed by Lua option name),
--   cfg.steps   (switched-on modules in pipeline order: module, opts, inputs, ...),
--   cfg.unused  (classic keys no implemented module consumes), cfg.diagnostics,
--   cfg.residual_namelist (apex_qa multiframe -u), and methods cfg:on, cfg:get,
--   cfg:block, cfg:dir, cfg:path.
local N = require "namelist"
local P = require "pipelines"

local C = {}
local norm = N.norm_key

local function usage_error(msg)
  error(setmetatable({ usage = true, message = msg },
    { __tostring = function(e) return e.message end }), 0)
end
C.usage_error = usage_error

local function load_schema()
  pcall(require, "mopex")          -- registers every module schema (lua/mopex/modules)
  local ok, S = pcall(require, "mopex.schema")
  if not ok then error("namelist-compat: cannot load mopex.schema: " .. tostring(S), 0) end
  return S
end
C.load_schema = load_schema

local function mopex_api()
  local m = package.loaded.mopex
  if type(m) == "table" then return m end
  return nil
end

---------------------------------------------------------------------------------------
-- Small file helpers (plain Lua: no lfs)

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close(); return true end
  return false
end
C.exists = exists

local function is_abs(p) return p:sub(1, 1) == "/" end

local function join(dir, p)
  if p == nil then return nil end
  if is_abs(p) or dir == nil or dir == "" or dir == "." then return p end
  return (dir:gsub("/+$", "")) .. "/" .. p
end
C.join = join

local function basename(p) return (p:match("([^/]*)$")) end

---------------------------------------------------------------------------------------
-- Command line

--- Parse the arguments of a classic script. Returns
--- { flags = {c = value}, flag_order = {c...}, sets = {{key, block, text}}, strict,
---   dry_run, force, help, cdf, cal, diagnostics }.
function C.parse_args(script, args)
  local sdef = P.scripts[script]
  local res = { flags = {}, flag_order = {}, sets = {}, strict = false, dry_run = false,
                force = false, help = false, diagnostics = {} }
  local function warn(code, msg)
    res.diagnostics[#res.diagnostics + 1] = { severity = "warning", code = code,
      file = "command line", message = msg }
  end
  local seen_key = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if type(a) ~= "string" then usage_error("argument " .. i .. " is not a string") end
    if a:sub(1, 2) == "--" then
      local name, val = a:match("^%-%-([%w%-]+)=(.*)$")
      if not name then name = a:sub(3) end
      local function value()
        if val ~= nil then return val end
        i = i + 1
        if args[i] == nil then usage_error("option --" .. name .. " needs a value") end
        return args[i]
      end
      if name == "set" then
        local s = value()
        local k, text = s:match("^%s*([%a_][%w_%-%.]*)%s*=(.*)$")
        if not k then usage_error("--set expects KEY=VALUE or BLOCK.KEY=VALUE, got '" .. s .. "'") end
        local block, key = k:match("^([%a_][%w_]*)%.([%a_][%w_%-]*)$")
        if not block then
          if k:find(".", 1, true) then usage_error("--set: bad name '" .. k .. "' (use KEY or BLOCK.KEY)") end
          key = k
        end
        local ok, v = pcall(N.decode_value, (text:match("^%s*(.-)%s*$")))
        if not ok then usage_error("--set " .. k .. ": " .. tostring(v)) end
        res.sets[#res.sets + 1] = { key = key, block = block, text = v, arg = s }
      elseif name == "strict-classic" then res.strict = true
      elseif name == "dry-run" then res.dry_run = true
      elseif name == "force" then res.force = true
      elseif name == "help" then res.help = true
      elseif name == "cdf" then res.cdf = value()
      elseif name == "cal" then res.cal = value()
      else
        usage_error("unknown option '" .. a .. "'")
      end
    elseif a:match("^%-%a") then
      local c, val = a:sub(2, 2), a:sub(3)
      if c == "h" and val == "" then
        res.help = true
      else
        local f = sdef.flags[c]
        if not f then usage_error("unknown flag -" .. c .. " for " .. script .. ".pl") end
        if f.user_list_only then
          usage_error("flag -u (user source list) is only for the user-list scripts "
            .. "apex_user_list.pl and apex_user_list_1frame.pl; use one of them, or set "
            .. "INPUT_USER_LIST there")
        end
        if val == "" then
          local nxt = args[i + 1]
          if nxt == nil or nxt:match("^%-%a$") or nxt:sub(1, 2) == "--" then
            usage_error("flag -" .. c .. " (" .. (P.FLAG_HELP[c] or "value") .. ") needs a value")
          end
          val = nxt
          i = i + 1
        end
        local id = f.key and norm(f.key) or ("-" .. c)
        if seen_key[id] then
          warn("W012", string.format("-%s given more than once (also as -%s); the last value, '%s', wins",
            c, seen_key[id], val))
          res.flags[seen_key[id]] = nil
          for j, x in ipairs(res.flag_order) do
            if x == seen_key[id] then table.remove(res.flag_order, j); break end
          end
        end
        seen_key[id] = c
        res.flags[c] = val
        res.flag_order[#res.flag_order + 1] = c
      end
    else
      usage_error("unexpected argument '" .. a .. "' (every value follows its flag)")
    end
    i = i + 1
  end
  return res
end

--- The usage line(s) of a script (apex_qa.pl: one per mode).
function C.usage(script)
  local sdef = P.scripts[script]
  local function line(letters_allowed, required, label)
    local req = {}
    for _, g in ipairs(required or {}) do
      if #g == 1 then req[g[1]] = true end       -- either-or groups are shown as optional
    end
    local parts = { script .. ".pl" .. (label and (" (" .. label .. ")") or "") .. " -n NAMELIST" }
    local letters = {}
    for c, f in pairs(sdef.flags) do
      if c ~= "n" and not f.user_list_only and (not letters_allowed or letters_allowed:find(c, 1, true)) then
        letters[#letters + 1] = c
      end
    end
    table.sort(letters, function(a, b)
      if a:lower() ~= b:lower() then return a:lower() < b:lower() end
      return a > b
    end)
    for _, c in ipairs(letters) do
      local f = sdef.flags[c]
      local key = f.key or ""
      local meta = (f.namelist2 and "NAMELIST") or (key == "OUTPUT_DIR" and "DIR")
        or ((key:match("_LIST$") or key == "IMAGE_STACK_FILE_NAME" or key == "SIGMALIST_FILE_NAME") and "LIST")
        or "FILE"
      local arg = "-" .. c .. " " .. meta
      parts[#parts + 1] = req[c] and arg or ("[" .. arg .. "]")
    end
    return table.concat(parts, " ")
  end
  local tail = "  [--set KEY=VALUE] [--set BLOCK.KEY=VALUE] [--strict-classic] [--cdf DIR] [--cal DIR]"
    .. " [--dry-run] [--force] [--help]"
  if sdef.modes then
    return "usage: " .. line(sdef.modes.multi.letters, sdef.modes.multi.required, "multiframe") .. "\n"
      .. "       " .. line(sdef.modes.single.letters, sdef.modes.single.required, "single frame") .. "\n" .. tail
  end
  return "usage: " .. line(nil, sdef.required) .. "\n" .. tail
end

---------------------------------------------------------------------------------------
-- Schema index over the pipeline's schema names

local function merged_index(S, names)
  local idx = { globals = {}, blocks = {}, triggers = {} }
  for _, name in ipairs(names) do
    local one = S.classic_index(name)
    for k, list in pairs(one.globals) do
      local dst = idx.globals[k] or {}
      idx.globals[k] = dst
      for _, e in ipairs(list) do
        local dup = false
        for _, d in ipairs(dst) do if d.module == e.module and d.param == e.param then dup = true end end
        if not dup then dst[#dst + 1] = e end
      end
    end
    for k, b in pairs(one.blocks) do if idx.blocks[k] == nil then idx.blocks[k] = b end end
    for k, m in pairs(one.triggers) do if idx.triggers[k] == nil then idx.triggers[k] = m end end
  end
  return idx
end
C.merged_index = merged_index

-- The schema pipeline name a module is called with: the first of the script's schema
-- names the module lists; a module for every pipeline gets the most general one.
local function module_pipeline(sdef, m)
  for _, name in ipairs(sdef.schema) do
    for _, pl in ipairs(m.pipelines) do if pl == name then return name end end
  end
  return sdef.schema[#sdef.schema]
end

local function param_keys(p)
  local t = {}
  if p.key then t[#t + 1] = p.key end
  for _, a in ipairs(p.aliases or {}) do t[#t + 1] = a end
  return t
end

---------------------------------------------------------------------------------------
-- Namelist location (§1 rule 1)

local function locate_namelist(name, workdir, cdf, diags)
  local cdf_dir = join(workdir, cdf or "cdf")
  if not is_abs(name) then
    local p = join(cdf_dir, name)
    if exists(p) then return p end
  end
  local direct = join(workdir, name)
  if exists(direct) then
    diags[#diags + 1] = { severity = "warning", code = "W009", file = name,
      message = "classic MOPEX only reads namelists from " .. (cdf or "cdf") .. "/; using " .. direct }
    return direct
  end
  error(string.format("namelist not found: %s/%s", cdf or "cdf", name), 0)
end
C.locate_namelist = locate_namelist

---------------------------------------------------------------------------------------
-- Threads (§2.5 do_multiprocess)

local function cpu_count()
  local m = mopex_api()
  for _, f in ipairs({ m and m.cpu_count, m and m.core and m.core.cpu_count }) do
    if type(f) == "function" then
      local ok, n = pcall(f)
      if ok and math.type(n) == "integer" and n > 0 then return n end
    end
  end
  local p = io.popen("getconf _NPROCESSORS_ONLN 2>/dev/null")
  if p then
    local n = tonumber(p:read("l") or "")
    p:close()
    if n and n >= 1 then return math.tointeger(n) end
  end
  return 1
end
C.cpu_count = cpu_count

--- Thread count for do_multiprocess: on = 3/4 of the CPUs (at least 1), manual =
--- ncpu_multiprocess, off = 1.
function C.threads_for(mode, ncpu, cpus)
  if mode == "on" then return math.max(1, (cpus * 3) // 4) end
  if mode == "manual" then return ncpu end
  return 1
end

---------------------------------------------------------------------------------------
-- The configuration object

local Cfg = {}
Cfg.__index = Cfg

--- Is a module switched on? (any trigger spelling; absent = off)
function Cfg:on(trigger) return self.triggers[norm(trigger)] == true end

--- Merged value of a global key (typed when a schema types it, else its text).
function Cfg:get(key)
  local it = self.globals[norm(key)]
  if it == nil then return nil end
  if it.value ~= nil then return it.value end
  return it.text
end

--- Merged block entries { [normalised key] = text } (namelist + --set), or nil.
function Cfg:block(name)
  return self.blocks[norm(name)]
end

--- A module output directory: its *_DIR key (relative values under OUTPUT_DIR), else default.
function Cfg:dir(key, default)
  local v = self:get(key)
  if v == nil or v == "" then v = default end
  if v == nil then return self.output_dir end
  return join(self.output_dir, v)
end

--- A path-valued global key resolved as §1 prescribes (calibration keys against ./
--- then cal/; FIF_FILE_NAME defaults to <OUTPUT_DIR>/FIF.tbl).
function Cfg:path(key)
  local v = self:get(key)
  if (v == nil or v == "") and norm(key) == "fif_file_name" then return join(self.output_dir, "FIF.tbl") end
  return v
end

---------------------------------------------------------------------------------------
-- configure

local SETTINGS

local function settings_params(S)
  if SETTINGS then return SETTINGS end
  SETTINGS = {
    verbose = S.param { "verbose", type = "bool", key = "verbose", scope = "global", default = false },
    nice = S.param { "nice", type = "bool", key = "NICE", scope = "global", default = false },
    save_namelist = S.param { "save_namelist", type = "bool", key = "save_namelist",
      scope = "global", default = false },
    do_multiprocess = S.param { "do_multiprocess", type = "enum", values = { "on", "off", "manual" },
      key = "do_multiprocess", scope = "global", default = "off" },
    ncpu_multiprocess = S.param { "ncpu_multiprocess", type = "int", min = 1,
      key = "ncpu_multiprocess", scope = "global", default = 1 },
    delete_intermediate_files = S.param { "delete_intermediate_files", type = "bool",
      key = "delete_intermediate_files", scope = "global", default = false },
  }
  return SETTINGS
end

local RANK = { default = 0, namelist = 1, flag = 2, set = 3 }

local function where(it)
  if it.source == "namelist" then return (it.file or "namelist") .. ":" .. (it.line or "?") end
  if it.source == "flag" then return "command line -" .. it.flag end
  if it.source == "set" then return "command line --set " .. it.arg end
  return "default"
end

--- Build the configuration. opts: workdir (default "."), quiet, log(diag),
--- cpu_count, text (namelist text instead of reading -n; name from -n),
--- check_required (default true), allow_unimplemented (dry run / translation:
--- unimplemented modules become warnings), namelist_path (skip the cdf/ lookup).
function C.configure(script, args, opts)
  opts = opts or {}
  local sname = P.script_name(script)
  if not sname then error("unknown classic script '" .. tostring(script) .. "'", 0) end
  script = sname
  local sdef = P.scripts[script]
  local S = load_schema()
  local workdir = opts.workdir or "."
  local cli = C.parse_args(script, args or {})
  if cli.help then return { help = true, script = script } end
  local diags = {}
  for _, d in ipairs(cli.diagnostics) do diags[#diags + 1] = d end
  local errs = {}
  local function err(loc, code, msg) errs[#errs + 1] = loc .. ": " .. code .. " " .. msg end
  local function add(sev, code, file, line, msg)
    diags[#diags + 1] = { severity = sev, code = code, file = file, line = line, message = msg }
  end

  -- 1. namelist
  local nlname = cli.flags.n
  local text = opts.text
  local nlpath
  if not nlname and not opts.namelist_path and not text and opts.default_namelist
     and C.DEFAULT_NAMELISTS[script] then
    -- a pipeline script run without -n: its built-in basic configuration (C.default_namelist)
    nlname = script .. "_default.nl"
    nlpath = nlname
    text = C.default_namelist(script, cli)
  end
  if not nlname and not opts.namelist_path then
    usage_error("missing required flag -n (namelist)")
  end
  nlpath = nlpath or opts.namelist_path or (opts.text and join(join(workdir, cli.cdf or "cdf"), nlname))
    or locate_namelist(nlname, workdir, cli.cdf, diags)
  if not text then
    local f, e = io.open(nlpath, "rb")
    if not f then error("cannot read namelist " .. nlpath .. ": " .. tostring(e), 0) end
    text = f:read("a")
    f:close()
  end
  local idx = merged_index(S, sdef.schema)
  local trig_set = P.all_triggers(script)
  for k, m in pairs(idx.triggers) do trig_set[k] = trig_set[k] or k end
  local nl = N.parse_all(text, { file = nlpath, strict = cli.strict, triggers = trig_set })
  for _, d in ipairs(nl.diagnostics) do diags[#diags + 1] = d end
  if nl.errors > 0 then
    if not opts.quiet then N.report(diags, { log = opts.log }) end
    error(N.error_message(diags), 0)
  end

  -- 2. vocabulary and unknown keys
  local known = { globals = {}, triggers = trig_set, blocks = {}, legacy = {} }
  local function know(k) known.globals[norm(k)] = k end
  for _, k in ipairs(sdef.globals) do know(k) end
  for _, k in ipairs(P.settings) do know(k) end
  for _, f in pairs(sdef.flags) do if f.key then know(f.key) end end
  for k, list in pairs(idx.globals) do known.globals[k] = list[1].param.key or k end
  for _, k in ipairs(P.legacy) do known.legacy[norm(k)] = k end
  local steps = {}
  for _, st in ipairs(sdef.steps) do steps[#steps + 1] = st end
  -- schema modules whose triggers no classic step names (new modules) run after the others
  local claimed = {}
  for _, st in ipairs(steps) do for _, t in ipairs(st.triggers) do claimed[norm(t)] = true end end
  for _, name in ipairs(S.names()) do            -- registration order: deterministic
    local m = S.get(name)
    for _, t in ipairs(m.triggers) do
      if idx.triggers[norm(t)] == m and not claimed[norm(t)] then
        steps[#steps + 1] = { title = m.title, triggers = m.triggers, blocks = { m.block } }
        for _, t2 in ipairs(m.triggers) do claimed[norm(t2)] = true end
        break
      end
    end
  end
  for _, st in ipairs(steps) do
    if st.dir then know(st.dir) end
    for _, b in ipairs(st.blocks) do
      local bn = norm(b)
      if known.blocks[bn] == nil then
        local sb = idx.blocks[bn]
        if sb then
          local keys = {}
          for k, p in pairs(sb.keys) do keys[k] = p.key end
          known.blocks[bn] = keys
        else
          known.blocks[bn] = false          -- no schema yet: keys cannot be checked
        end
      end
    end
  end
  for bn, sb in pairs(idx.blocks) do
    if known.blocks[bn] == nil then
      local keys = {}
      for k, p in pairs(sb.keys) do keys[k] = p.key end
      known.blocks[bn] = keys
    end
  end
  for _, d in ipairs(N.check_keys(nl, known)) do diags[#diags + 1] = d end

  -- 3. merge: namelist < flag < --set
  local G, T, B = {}, {}, {}
  local function put(tbl, k, it)
    local old = tbl[k]
    if old and RANK[old.source] > RANK[it.source] then return end
    if old and old.source ~= it.source then
      add("note", "N011", "command line", nil,
        string.format("%s = %s (%s) overridden by %s", it.key, tostring(old.text), where(old), where(it)))
    end
    tbl[k] = it
  end
  for k, e in pairs(nl.globals) do
    G[k] = { key = e.key, text = e.value, line = e.line, file = nlpath, source = "namelist" }
  end
  for k, e in pairs(nl.triggers) do
    T[k] = { key = e.key, text = e.value, line = e.line, file = nlpath, source = "namelist" }
  end
  for bn, b in pairs(nl.blocks) do
    local t = { name = b.name, line = b.line, entries = {} }
    for k, e in pairs(b.entries) do
      t.entries[k] = { key = e.key, text = e.value, line = e.line, file = nlpath, source = "namelist" }
    end
    B[bn] = t
  end
  for _, c in ipairs(cli.flag_order) do
    local f = sdef.flags[c]
    if f.key then
      put(G, norm(f.key), { key = f.key, text = cli.flags[c], source = "flag", flag = c })
    end
  end
  for _, s in ipairs(cli.sets) do C.resolve_lua_set(s, S, sdef, known) end
  for _, s in ipairs(cli.sets) do
    local it = { key = s.key, text = s.text, source = "set", arg = s.arg }
    if s.block then
      local bn = norm(s.block)
      if known.blocks[bn] == nil then
        local names = {}
        for k in pairs(known.blocks) do names[#names + 1] = k:upper() end
        table.sort(names)
        local hint = N.suggest(s.block, names)
        usage_error("--set " .. s.arg .. ": unknown block &" .. s.block
          .. (hint and (" (did you mean &" .. hint .. "?)") or ""))
      end
      B[bn] = B[bn] or { name = s.block:upper(), entries = {}, from_set = true }
      put(B[bn].entries, norm(s.key), it)
    elseif trig_set[norm(s.key)] then
      put(T, norm(s.key), it)
    else
      if not known.globals[norm(s.key)] and not known.legacy[norm(s.key)] then
        local names = {}
        for _, v in pairs(known.globals) do names[#names + 1] = v end
        table.sort(names)
        local hint = N.suggest(s.key, names)
        add("warning", "W003", "command line", nil, string.format("--set: unknown key '%s'%s", s.key,
          hint and (" (did you mean '" .. hint .. "'?)") or ""))
      end
      put(G, norm(s.key), it)
    end
  end

  -- 4. typing helper
  local function coerce(p, it, what)
    if it == nil or it.text == nil then return nil end
    local text = it.text
    if p.type == "enum" and p.name == "do_multiprocess" then text = text:lower() end
    local v, msg = S.coerce(p, text)
    local loc = where(it)
    if v == nil then
      if msg then
        err(loc, "E105", string.format("%s = '%s': %s%s", it.key, text, msg, what or ""))
      end
      return nil
    end
    if p.type == "bool" and text ~= "0" and text ~= "1" then
      add("warning", "W008", it.file or "command line", it.line, string.format(
        "%s = %s: read as %s; classic MOPEX expects 0 or 1", it.key, text, tostring(v)))
    end
    local ok, res = pcall(S.check_value, loc .. ": E105 " .. it.key, p, v)
    if not ok then errs[#errs + 1] = tostring(res) .. (what or ""); return nil end
    return res
  end
  local function lookup(tbl, keys)
    local best
    for _, k in ipairs(keys) do
      local it = tbl[norm(k)]
      if it and (not best or RANK[it.source] > RANK[best.source]
                 or (RANK[it.source] == RANK[best.source] and (it.line or 0) > (best.line or 0))) then
        best = it
      end
    end
    return best
  end

  -- 5. pipeline-level settings
  local SP = settings_params(S)
  local set = {}
  for name, p in pairs(SP) do
    local it = G[norm(p.key)]
    local v = coerce(p, it)
    if v == nil then v = p.default end
    set[name] = v
  end

  -- 6. paths (§1): calibration keys against the working dir, then cal/
  local cal = cli.cal or "cal"
  local calib = {}
  for _, k in ipairs(sdef.calibration or P.calibration) do calib[k] = true end
  for _, k in ipairs(sdef.calibration or P.calibration) do
    local it = G[norm(k)]
    if it and it.text and it.text ~= "" and not is_abs(it.text) then
      local here = join(workdir, it.text)
      local in_cal = join(join(workdir, cal), it.text)
      if not exists(here) and exists(in_cal) then
        add("note", "N012", it.file or "command line", it.line,
          string.format("%s = %s resolved to %s", it.key, it.text, in_cal))
        it.text = in_cal
      else
        it.text = here
      end
    end
  end
  local path_keys = { OUTPUT_DIR = true, FIF_FILE_NAME = true }
  for _, f in pairs(sdef.flags) do if f.key then path_keys[f.key] = true end end
  for k in pairs(path_keys) do
    local it = G[norm(k)]
    if it and it.text and it.text ~= "" and not calib[k] then
      it.text = join(workdir, it.text)
    end
  end
  local out_it = G.output_dir
  local output_dir = (out_it and out_it.text and out_it.text ~= "") and out_it.text or workdir

  -- 7. apex_qa mode (§3.2)
  local mode = sdef.mode
  local required = sdef.required
  if sdef.modes then
    local on = {}
    for _, st in ipairs(sdef.steps) do
      for _, t in ipairs(st.triggers) do
        local it = T[norm(t)]
        if it and it.text and S.coerce({ type = "bool" }, it.text) == true then on[st.mode] = it end
      end
    end
    local m
    if on.multi and on.single then
      err(where(on.single), "E110", string.format("%s and %s are both on: apex_qa.pl runs either "
        .. "multiframe or single frame", on.multi.key, on.single.key))
    elseif on.multi then m = "multi"
    elseif on.single then m = "single"
    elseif cli.flags.T and cli.flags.I then
      usage_error("apex_qa.pl: -T (single frame) and -I (multiframe) contradict each other")
    elseif cli.flags.T then m = "single"
    elseif cli.flags.I then m = "multi"
    else
      err(nlpath, "E110", "apex_qa.pl cannot tell the mode: set create_residual_images = 1 "
        .. "(multiframe) or create_residual_mosaic = 1 (single frame), or give -I or -T")
    end
    if m then
      mode = { frames = m }
      required = sdef.modes[m].required
      local allowed = {}
      for c in sdef.modes[m].letters:gmatch("%a") do allowed[c] = true end
      for c in pairs(cli.flags) do
        if not allowed[c] then
          usage_error(string.format("flag -%s is not valid for apex_qa.pl in %s mode", c,
            m == "multi" and "multiframe" or "single-frame"))
        end
      end
    end
  end

  -- 8. steps: triggers, blocks, modules, options
  local shared_keys = {}
  for _, list in pairs(idx.globals) do
    for _, e in ipairs(list) do
      local p = e.param
      shared_keys[p.name] = shared_keys[p.name] or {}
      shared_keys[p.name][norm(p.key or p.name)] = true
    end
  end
  local function is_shared(p)
    local n = 0
    for _ in pairs(shared_keys[p.name] or {}) do n = n + 1 end
    return p.scope == "global" and n == 1
  end
  local consumed = {}
  local trig_state = {}
  local cfg_steps, unimplemented = {}, {}
  local start = { pipeline = sdef.schema[#sdef.schema] }
  local start_keys = {}
  for _, st in ipairs(steps) do
    if st.mode == nil or mode == nil or st.mode == mode.frames then
      local on_it, off_it
      local on = false
      for _, t in ipairs(st.triggers) do
        local it = T[norm(t)]
        if it then
          consumed[norm(t)] = true
          local v = true
          if it.text == nil then v = false
          else
            v = coerce({ type = "bool", name = norm(t) }, it, " (a trigger is 0 or 1)")
          end
          trig_state[norm(t)] = v == true
          if v == true then
            if on_it == nil or (it.line or 0) > (on_it.line or 0) then on_it = it end
            on = true
          elseif v == false then off_it = it end
        end
      end
      if on and off_it then
        add("warning", "W013", off_it.file, off_it.line, string.format(
          "%s = 0 but %s = 1 (line %s): both switch %s; it runs", off_it.key, on_it.key,
          tostring(on_it.line), st.title))
      end
      local m
      for _, t in ipairs(st.triggers) do m = m or idx.triggers[norm(t)] end
      -- block present? (also the schema's own block names)
      local cands = {}
      for _, b in ipairs(st.blocks) do cands[#cands + 1] = b end
      if m and m.block then cands[#cands + 1] = m.block end
      for _, b in ipairs(m and m.block_aliases or {}) do cands[#cands + 1] = b end
      local blk
      for _, b in ipairs(cands) do blk = blk or B[norm(b)] end
      if on then
        for _, t in ipairs(st.triggers) do trig_state[norm(t)] = true end
        if #st.blocks > 0 and not blk and not st.optional_block and not (m and not m.block) then
          local msg = string.format("%s (%s = 1, line %s) has no &%s block; built-in defaults are used",
            st.title, on_it.key, tostring(on_it.line), st.blocks[1])
          if cli.strict then err(where(on_it), "E109", msg)
          else add("warning", "W007", on_it.file, on_it.line, msg) end
        end
        local step = { title = st.title, trigger = on_it.key, line = on_it.line,
                       block = blk and blk.name or nil, block_line = blk and blk.line or nil,
                       opts = {}, inputs = {}, keys = {} }
        step.pipeline_step = C.pipeline_step(script, st, m)
        if (not m or not m.run) and not step.pipeline_step then
          unimplemented[#unimplemented + 1] = string.format(
            "%s: E120 %s (%s = 1) is not implemented in mopexlua yet%s",
            where(on_it), st.title, on_it.key,
            m and (" (mopex." .. m.name .. " has no run function)") or " (no module schema)")
        end
        if m then
          step.module, step.name = m, m.name
          step.pipeline = module_pipeline(sdef, m)
          step.opts.pipeline = step.pipeline
          for _, p in ipairs(m.params) do
            if p.input then
              -- a product of an earlier module (interp_images, detmaps, ...): always
              -- taken from the current values, never from the namelist
              step.inputs[#step.inputs + 1] = p.name
            elseif p.scope == "global" then
              local it = lookup(G, param_keys(p))
              if is_shared(p) then
                step.inputs[#step.inputs + 1] = p.name
              else
                local v = coerce(p, it, " (mopex." .. m.name .. " option " .. p.name .. ")")
                if v ~= nil then step.opts[p.name] = v; step.keys[p.name] = it.key end
              end
              for _, k in ipairs(param_keys(p)) do consumed[norm(k)] = true end
            elseif blk then
              local it = lookup(blk.entries, param_keys(p))
              local v = coerce(p, it, " (mopex." .. m.name .. " option " .. p.name .. ")")
              if v ~= nil then step.opts[p.name] = v; step.keys[p.name] = it.key end
            end
          end
        end
        cfg_steps[#cfg_steps + 1] = step
      elseif blk and not blk.from_set then
        add("note", "N007", nlpath, blk.line, string.format("&%s is parsed but %s is switched off",
          blk.name, st.title))
      end
      -- type-check blocks of switched-off modules too (namelist_cli.md §2.3)
      if not on and m and blk then
        for _, p in ipairs(m.params) do
          if p.scope ~= "global" then
            coerce(p, lookup(blk.entries, param_keys(p)), " (mopex." .. m.name .. " option " .. p.name .. ")")
          end
        end
      end
    end
  end

  -- 9. shared values (current inputs) and globals typed by the schema
  for k, list in pairs(idx.globals) do
    local it = G[k]
    if it then
      consumed[k] = true
      local p = list[1].param
      local v = coerce(p, it, " (mopex." .. list[1].module.name .. " option " .. p.name .. ")")
      it.value = v
      if v ~= nil and is_shared(p) then
        local cur = start[p.name]
        local prev = start_keys[p.name]
        if cur == nil or RANK[it.source] > RANK[prev.source]
           or (RANK[it.source] == RANK[prev.source] and (it.line or 0) > (prev.line or 0)) then
          start[p.name] = v
          start_keys[p.name] = it
        end
      end
    end
  end
  for name, p in pairs(SP) do
    local it = G[norm(p.key)]
    if it then consumed[norm(p.key)] = true; it.value = set[name] end
  end
  consumed.output_dir = true
  start.output_dir = output_dir
  start_keys.output_dir = out_it

  -- 10. threads
  local cpus = opts.cpu_count or cpu_count()
  local threads
  local mp_it = G.do_multiprocess
  if sdef.multiprocess then
    if mp_it or not os.getenv("MOPEX_THREADS") then
      threads = C.threads_for(set.do_multiprocess, set.ncpu_multiprocess, cpus)
    end
  elseif mp_it and set.do_multiprocess ~= "off" then
    add("note", "N013", mp_it.file, mp_it.line, script .. ".pl does not run in parallel in classic "
      .. "MOPEX; do_multiprocess is accepted and ignored")
  end
  start.threads = threads
  start.verbose = set.verbose

  -- 11. unused classic keys (W011) and required inputs
  local unused = {}
  for k, it in pairs(G) do
    if not consumed[k] and it.text ~= nil and known.globals[k] then unused[#unused + 1] = it end
  end
  table.sort(unused, function(a, b)
    if (a.line or 1e9) ~= (b.line or 1e9) then return (a.line or 1e9) < (b.line or 1e9) end
    return a.key < b.key
  end)
  if #unused > 0 then
    local parts = {}
    for _, it in ipairs(unused) do
      parts[#parts + 1] = it.key .. (it.line and (" (line " .. it.line .. ")") or "")
    end
    add("warning", "W011", nlpath, nil, string.format(
      "%d classic key%s not used by any module mopexlua implements for %s.pl: %s",
      #unused, #unused == 1 and " is" or "s are", script, table.concat(parts, ", ")))
  end
  local residual_namelist
  if opts.check_required ~= false and required then
    for _, group in ipairs(required) do
      local ok = false
      local names = {}
      for _, c in ipairs(group) do
        local f = sdef.flags[c]
        if f.namelist2 then
          if cli.flags[c] then ok = true end
          names[#names + 1] = "the residual-mosaic namelist (-" .. c .. ")"
        else
          local it = G[norm(f.key)]
          if it and it.text and it.text ~= "" then ok = true end
          names[#names + 1] = f.key .. " (-" .. c .. ")"
        end
      end
      if not ok then
        errs[#errs + 1] = "missing required input: " .. table.concat(names, " or ")
      end
    end
  end
  if sdef.flags.u and sdef.flags.u.namelist2 and cli.flags.u then
    local ok, p = pcall(locate_namelist, cli.flags.u, workdir, cli.cdf, diags)
    if ok then residual_namelist = p else errs[#errs + 1] = "-u: " .. tostring(p) end
  end

  -- 11b. what a pipeline does beyond a straight module sequence (C.plan_steps)
  cfg_steps = C.plan_steps(script, cfg_steps, {
    S = S, add = add, file = nlpath, is_shared = is_shared, module_pipeline = function(m) return module_pipeline(sdef, m) end,
    get = function(key)
      local it = G[norm(key)]
      if it == nil then return nil end
      if it.value ~= nil then return it.value end
      return it.text
    end })

  -- 12. unimplemented modules: an error before any work (a warning for dry runs)
  local allow = opts.allow_unimplemented or cli.dry_run
  for _, msg in ipairs(unimplemented) do
    if allow then
      local loc, rest = msg:match("^(.-): E120 (.*)$")
      add("warning", "W120", loc, nil, rest)
    else
      errs[#errs + 1] = msg
    end
  end

  local cfg = setmetatable({
    script = script, pipeline = sdef.schema[#sdef.schema], mode = mode, title = sdef.title,
    workdir = workdir, namelist = nlpath, namelist_name = basename(nlname or nlpath),
    namelist_text = text, strict = cli.strict, dry_run = cli.dry_run, force = cli.force,
    cdf = cli.cdf or "cdf", cal = cal,
    verbose = set.verbose, nice = set.nice, save_namelist = set.save_namelist,
    delete_intermediate_files = set.delete_intermediate_files, do_multiprocess = set.do_multiprocess,
    ncpu_multiprocess = set.ncpu_multiprocess, threads = threads, cpus = cpus,
    output_dir = output_dir, start = start, start_keys = start_keys, steps = cfg_steps,
    unimplemented = unimplemented, unused = unused, globals = G, triggers = trig_state,
    blocks = {}, residual_namelist = residual_namelist, diagnostics = diags, ast = nl,
    flags = cli.flags, sets = cli.sets,
  }, Cfg)
  for bn, b in pairs(B) do
    local t = {}
    for k, it in pairs(b.entries) do t[k] = it.text end
    cfg.blocks[bn] = t
  end

  -- 13. report, then fail on errors
  if not opts.quiet then N.report(diags, { verbose = set.verbose, log = opts.log }) end
  if #errs > 0 then error(table.concat(errs, "\n"), 0) end
  return cfg
end

---------------------------------------------------------------------------------------
-- Pipeline scripts: built-in configurations, Lua option names in --set, and the steps a
-- pipeline runs beyond the straight module sequence of its namelist (mosaic.md 1.4,
-- overlap.md 1.1). Used by configure; scripts/mosaic.lua and scripts/overlap.lua run
-- the planned steps (translate.lua prints them, so translations follow the same plan).

-- What `mopexlua mosaic.lua -I list` runs without -n (mosaic.md 1.1 "Basic mosaic";
-- overlap.md 1.1 "Required set"): triggers and globals; every block of the pipeline is
-- written out empty, so `--set run_xxx=1` switches any other module on with its
-- defaults and without a missing-block warning.
C.DEFAULT_NAMELISTS = {
  mosaic = {
    title = "the basic mosaic: Fiducial Image Frame, Mosaic Interpolate, Mosaic CoAdder, "
      .. "Mosaic Combine (000 l.580-597)",
    fif = "run_fiducial_image_frame",
    lines = { "run_mosaic_interp = 1", "run_mosaic_coadder = 1", "run_mosaic_combiner = 1",
              "create_unc_mosaic = 1" },
  },
  overlap = {
    title = "background matching: Fiducial Image Frame, Mosaic Interpolate, Compute Overlap "
      .. "Correction with the corrected images written (000 l.556-571)",
    fif = "run_fiducial_image_frame",
    lines = { "run_mosaic_interp = 1", "compute_overlap_correction = 1",
              "apply_overlap_correction = 1" },
  },
}

--- The text of the built-in namelist of `script` for the parsed command line `cli`
--- (C.parse_args): the Fiducial Image Frame runs unless -F (or --set FIF_FILE_NAME)
--- names a FIF.
function C.default_namelist(script, cli)
  local d = C.DEFAULT_NAMELISTS[script]
  local has_fif = cli.flags.F ~= nil and cli.flags.F ~= ""
  for _, s in ipairs(cli.sets) do
    local k = norm(s.key)
    if not s.block and (k == "fif_file_name" or k == "fif") and s.text ~= nil then has_fif = true end
  end
  local out = {
    "# mopexlua built-in configuration of " .. script .. ".lua run without -n:",
    "# " .. d.title .. ".",
    "# Switch other modules on with --set run_xxx=1; --set also takes any classic key,",
    "# BLOCK.KEY, a module option's Lua name or module.option (e.g. interpolate.method=2).",
    "",
    d.fif .. " = " .. (has_fif and "0" or "1"),
  }
  for _, l in ipairs(d.lines) do out[#out + 1] = l end
  local seen = {}
  for _, st in ipairs(P.scripts[script].steps) do
    local b = st.blocks[1]
    if b and not seen[b] then
      seen[b] = true
      out[#out + 1] = ""
      out[#out + 1] = "&" .. b
      out[#out + 1] = "&END"
    end
  end
  return table.concat(out, "\n") .. "\n"
end

local function module_in(m, sdef)
  if #m.pipelines == 0 then return true end
  for _, pl in ipairs(m.pipelines) do
    for _, name in ipairs(sdef.schema) do if pl == name then return true end end
  end
  return false
end

--- --set with Lua names: `--set method=2` (a module option of this pipeline, when only one
--- classic key has that name) and `--set interpolate.method=2` (module.option) become the
--- classic key or BLOCK.KEY. Classic names are left alone. Rewrites s in place.
function C.resolve_lua_set(s, S, sdef, known)
  local function target(m, p)
    if not p.key then
      usage_error(string.format("--set %s: option '%s' of mopex.%s has no classic key; set it in a "
        .. "Lua script", s.arg, p.name, m.name))
    end
    if p.scope == "global" then return { key = p.key } end
    if not m.block then
      usage_error(string.format("--set %s: mopex.%s has no classic block for option '%s'", s.arg,
        m.name, p.name))
    end
    return { block = m.block, key = p.key }
  end
  local function apply(t)
    s.block, s.key = t.block, t.key
  end
  if s.block then
    if known.blocks[norm(s.block)] ~= nil then return end
    local m = S.get(s.block)
    if m == nil or not module_in(m, sdef) then return end   -- configure reports the block
    local p = m.by_name[s.key]
    if not p then
      local names = {}
      for _, q in ipairs(m.params) do if q.key then names[#names + 1] = q.name end end
      table.sort(names)
      usage_error(string.format("--set %s: mopex.%s has no option '%s' (options with a classic key: %s)",
        s.arg, m.name, s.key, table.concat(names, ", ")))
    end
    return apply(target(m, p))
  end
  local k = norm(s.key)
  if known.globals[k] or known.legacy[k] or known.triggers[k] then return end
  local found, order = {}, {}
  for _, name in ipairs(S.names()) do
    local m = S.get(name)
    local p = m.by_name[s.key]
    -- only options a namelist can set: global keys, or block keys of a module with a block
    if p and p.key and module_in(m, sdef) and not p.input and (p.scope == "global" or m.block) then
      local t = target(m, p)
      local id = (t.block or "") .. "." .. norm(t.key)
      if not found[id] then
        found[id] = { t = t, modules = { m.name } }
        order[#order + 1] = id
      else
        table.insert(found[id].modules, m.name)
      end
    end
  end
  if #order == 0 then
    -- a Lua option of this pipeline that no namelist can carry: say so rather
    -- than warn about an unknown key and run without it
    for _, name in ipairs(S.names()) do
      local m = S.get(name)
      local p = m.by_name[s.key]
      if p and not p.key and not p.input and module_in(m, sdef) then target(m, p) end
    end
  end
  if #order == 1 then return apply(found[order[1]].t) end
  if #order > 1 then
    local alts = {}
    for _, id in ipairs(order) do
      alts[#alts + 1] = found[id].modules[1] .. "." .. s.key
    end
    usage_error(string.format("--set %s: '%s' is an option of several modules; say which: %s", s.arg,
      s.key, table.concat(alts, ", ")))
  end
end

-- Steps that no module schema implements but the pipeline script does (by trigger).
C.PIPELINE_STEPS = { mosaic = { make_array_corr_mosaic = "array_corr_mosaic" } }

--- The pipeline-script step name of a classic step without a module run function, or nil.
function C.pipeline_step(script, st, m)
  if m and m.run then return nil end
  local t = C.PIPELINE_STEPS[script]
  if not t then return nil end
  for _, tr in ipairs(st.triggers) do
    if t[norm(tr)] then return t[norm(tr)] end
  end
  return nil
end

local function copy_step(st, changes)
  local c = {}
  for k, v in pairs(st) do c[k] = v end
  c.opts, c.inputs, c.keys = {}, {}, {}
  for k, v in pairs(st.opts) do c.opts[k] = v end
  for i, v in ipairs(st.inputs) do c.inputs[i] = v end
  for k, v in pairs(st.keys) do c.keys[k] = v end
  for k, v in pairs(changes or {}) do c[k] = v end
  return c
end

-- A step for module m that the namelist switches on through a global key: options
-- from the typed globals, shared values and products from the current values.
local function module_step(ctx, m, title, trigger, literal)
  local step = { title = title, trigger = trigger, opts = {}, inputs = {}, keys = {}, module = m,
                 name = m.name, planned = true }
  step.pipeline = ctx.module_pipeline(m)
  step.opts.pipeline = step.pipeline
  for _, p in ipairs(m.params) do
    if p.input or (p.scope == "global" and ctx.is_shared(p)) then
      step.inputs[#step.inputs + 1] = p.name
    elseif literal[p.name] ~= nil then
      step.opts[p.name], step.keys[p.name] = literal[p.name], p.key
    elseif p.scope == "global" and p.key then
      local v = ctx.get(p.key)
      if v ~= nil and v ~= "" then step.opts[p.name], step.keys[p.name] = v, p.key end
    end
  end
  return step
end

local function find_title(steps, title)
  for i, st in ipairs(steps) do if st.title == title then return i, st end end
  return nil
end

-- Mosaic modules that detect outliers on the first interpolation (1.3) and RMask.
local MOSAIC_OUTLIER_TITLES = {
  ["Detect (Outlier)"] = true, ["Mosaic Projection"] = true, ["Mosaic Coverage"] = true,
  ["Mosaic Dual Outlier"] = true, ["Level"] = true, ["Mosaic Outlier"] = true,
  ["Mosaic Box Outlier"] = true, ["Mosaic RMask"] = true,
}

local function plan_mosaic(steps, ctx)
  local ii, interp = find_title(steps, "Mosaic Interpolate")
  -- the plan is about mopex.interpolate's methods (INTERP_METHOD 1-4)
  if not interp or interp.name ~= "interpolate" or not interp.module.by_name.method then return steps end
  local method = interp.opts.method
  if method == nil then method = ctx.S.param_default(interp.module.by_name.method, "mosaic") end
  local drizzle, grid = method == 2, method == 3
  local last_outlier, rmask_at
  for i = ii + 1, #steps do
    if MOSAIC_OUTLIER_TITLES[steps[i].title] then last_outlier = i end
    if steps[i].title == "Mosaic RMask" then rmask_at = i end
  end
  local ri, reint = find_title(steps, "Mosaic Reinterpolate")
  local out = {}
  if drizzle and last_outlier then
    -- mosaic.md 1.4: outliers from a Default interpolation, then Drizzle with the RMasks
    local at = rmask_at or last_outlier
    ctx.add("note", "N015", ctx.file, interp.line, string.format("INTERP_METHOD = 2 with outlier detection: "
      .. "the first Mosaic Interpolate pass uses the Default method, a Drizzle pass with the new RMasks "
      .. "follows %s (000 l.2786-2792)", steps[at].title))
    for i, st in ipairs(steps) do
      if i == ii then
        out[#out + 1] = copy_step(st, { title = "Mosaic Interpolate (Default method, for outlier detection)" })
        out[#out].opts.method = 1
      elseif i ~= ri then
        out[#out + 1] = st
      end
      if i == at then
        out[#out + 1] = copy_step(interp, { title = "Mosaic Interpolate (Drizzle, with the RMasks)",
                                            planned = true })
      end
    end
    if reint then
      ctx.add("warning", "W014", ctx.file, reint.line, "Mosaic Reinterpolate is not run with INTERP_METHOD = 2 "
        .. "(Drizzle): the second Drizzle pass of Mosaic Interpolate applies the RMasks (000 l.3499-3505)")
    end
    return out
  end
  if reint and (drizzle or grid) then
    ctx.add("warning", "W014", ctx.file, reint.line, string.format("Mosaic Reinterpolate is not allowed with "
      .. "INTERP_METHOD = %s (000 l.2798-2799, l.3553-3555): a full %s re-interpolation with the RMasks "
      .. "replaces it", tostring(method), grid and "Grid" or "Drizzle"))
    for i, st in ipairs(steps) do
      if i == ri then
        out[#out + 1] = copy_step(interp, { title = "Mosaic Interpolate (full re-interpolation with the "
          .. "RMasks, instead of Mosaic Reinterpolate)", trigger = st.trigger, line = st.line, planned = true })
      else
        out[#out + 1] = st
      end
    end
    return out
  end
  return steps
end

local function plan_overlap(steps, ctx)
  local z = ctx.S.get("zodi_subtract")
  if not (ctx.get("apply_zodiacal_correction") == true and z and z.run) then return steps end
  -- overlap.md 1.1: zodiacal light off every frame after S/N Estimator, before the rest
  local step = module_step(ctx, z, "Zodiacal Subtraction", "apply_zodiacal_correction", { apply = true })
  local out, placed = {}, false
  for _, st in ipairs(steps) do
    if not placed and st.title ~= "S/N Estimator" then out[#out + 1] = step; placed = true end
    out[#out + 1] = st
  end
  if not placed then out[#out + 1] = step end
  return out
end

--- The steps a pipeline runs for its switched-on modules: the straight sequence of the
--- namelist plus what mosaic.md 1.4 and overlap.md 1.1 add (a Default first pass and a
--- Drizzle second pass of Mosaic Interpolate around outlier detection; a full
--- re-interpolation instead of Mosaic Reinterpolate for Grid/Drizzle; zodiacal
--- subtraction). ctx: S, add(sev, code, file, line, msg), get(KEY) -> typed global,
--- is_shared(p), module_pipeline(m).
function C.plan_steps(script, steps, ctx)
  if script == "mosaic" then return plan_mosaic(steps, ctx) end
  if script == "overlap" then return plan_overlap(steps, ctx) end
  return steps
end

return C
