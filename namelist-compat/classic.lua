-- classic: the classic MOPEX entry points of mopexlua.
--
-- The host (lua/mopexlua.c) puts namelist-compat/ on package.path and calls
--   require("classic").main(script_name, args)   for overlap.pl, mosaic.pl, apex.pl, ...
--   require("classic").translate(args)           for mopexlua --translate x.nl
--   require("classic").templates(args)           for mopexlua --templates [NAME]
-- Each returns the process exit status (0 ok, 1 failure, 2 usage error) after printing
-- its messages; none of them calls os.exit and none raises for user errors.
--
-- main: parse and validate the classic flags, read the namelist (cdf/ rules), merge
-- default < namelist < flag < --set, check every switched-on module exists, then
-- (unless --dry-run) create OUTPUT_DIR, copy the namelist there (save_namelist naming),
-- write resolved_<name>.lua, and hand the configuration to scripts/<script>.lua's
-- run(cfg) through run_pipeline.
local C = require "config"
local T = require "translate"
local N = require "namelist"
local P = require "pipelines"

local M = {}

-- namelist-compat/ (this file's directory): templates live under it, pipelines beside it.
local function this_dir()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) == "@" then
    local d = src:sub(2):match("^(.*)/[^/]*$")
    if d then return d end
  end
  local p = package.searchpath("classic", package.path)
  return p and (p:match("^(.*)/[^/]*$") or ".") or "."
end
M.root = this_dir()

--- Directory of the pipeline scripts: $MOPEXLUA_SCRIPTS, else <namelist-compat>/../scripts.
function M.scripts_dir(opts)
  if opts and opts.scripts_dir then return opts.scripts_dir end
  local env = os.getenv("MOPEXLUA_SCRIPTS")
  if env and env ~= "" then return env end
  return M.root .. "/../scripts"
end

function M.templates_dir()
  return M.root .. "/templates/cdf"
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mkdir_p(dir)
  local m = package.loaded.mopex
  local f = type(m) == "table" and m.core and m.core.mkdir_p
  if type(f) == "function" then return f(dir) end
  local ok = os.execute("mkdir -p -- " .. shell_quote(dir))
  if not ok then error("cannot create directory " .. dir, 0) end
  return true
end
M.mkdir_p = mkdir_p

local function write_file(path, text)
  local f, e = io.open(path, "wb")
  if not f then error("cannot write " .. path .. ": " .. tostring(e), 0) end
  f:write(text)
  f:close()
end

--- Locate scripts/<name>.lua; returns its path or nil.
function M.pipeline_path(name, opts)
  local p = M.scripts_dir(opts) .. "/" .. name .. ".lua"
  if C.exists(p) then return p end
  return nil
end

--- Hand a configuration to a pipeline: load scripts/<name>.lua the way require loads a
--- module (its chunk receives name and path), take the returned table's run function
--- (or the returned function) and call it with cfg. Raises "pipeline 'x' is not
--- implemented yet ..." when the script does not exist.
function M.run_pipeline(name, cfg, opts)
  local path = M.pipeline_path(name, opts)
  if not path then
    error(string.format("pipeline '%s' is not implemented yet (no %s/%s.lua)", name,
      M.scripts_dir(opts), name), 0)
  end
  local chunk, e = loadfile(path)
  if not chunk then error("cannot load pipeline " .. path .. ": " .. tostring(e), 0) end
  local mod = chunk(name, path)
  local run = type(mod) == "function" and mod or (type(mod) == "table" and mod.run)
  if type(run) ~= "function" then
    error(string.format("pipeline script %s does not return a run function (return { run = function(cfg) ... end })",
      path), 0)
  end
  return run(cfg)
end

--- Name under which the namelist is copied into OUTPUT_DIR: <name> or, with
--- save_namelist = 1, <HH>h<MM>m<SS>s_<name> (local start time, 24-hour clock).
function M.saved_namelist_name(name, save, now)
  if save then return os.date("%Hh%Mm%Ss_", now or os.time()) .. name end
  return name
end

--- Create OUTPUT_DIR, copy the namelist into it and write resolved_<stem>.lua (the
--- merged configuration as a runnable script). Returns the two paths.
function M.prepare_output(cfg, now)
  mkdir_p(cfg.output_dir)
  local copy = C.join(cfg.output_dir, M.saved_namelist_name(cfg.namelist_name, cfg.save_namelist, now))
  write_file(copy, cfg.namelist_text)
  local stem = cfg.namelist_name:gsub("%.nl$", "")
  local resolved = C.join(cfg.output_dir, "resolved_" .. stem .. ".lua")
  write_file(resolved, T.translate(cfg))
  return copy, resolved
end

--- Lower the priority of this process for NICE = 1, when the engine can; returns true if done.
function M.apply_nice(cfg)
  if not cfg.nice then return false end
  local m = package.loaded.mopex
  local core = type(m) == "table" and m.core or {}
  local f = core.setpriority or core.nice or (type(m) == "table" and m.setpriority)
  if type(f) == "function" then f(19); return true end
  return false
end

local function help_text(script)
  local sdef = P.scripts[script]
  local lines = { C.usage(script), "", sdef.title .. " (classic " .. script .. ".pl); flags:" }
  local letters = {}
  for c, f in pairs(sdef.flags) do if not f.user_list_only then letters[#letters + 1] = c end end
  table.sort(letters, function(a, b)
    if a:lower() ~= b:lower() then return a:lower() < b:lower() end
    return a > b
  end)
  for _, c in ipairs(letters) do
    local f = sdef.flags[c]
    lines[#lines + 1] = string.format("  -%s  %-28s %s", c, f.key or (f.namelist and "" or "namelist"),
      P.FLAG_HELP[c] or (f.namelist2 and "namelist for mosaicking the residual images" or ""))
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "  --set KEY=VALUE, --set BLOCK.KEY=VALUE  override the namelist and the flags"
  lines[#lines + 1] = "  --strict-classic  read the namelist exactly as classic MOPEX (KEY=value ignored)"
  lines[#lines + 1] = "  --cdf DIR, --cal DIR  namelist and calibration directories (default cdf/, cal/)"
  lines[#lines + 1] = "  --dry-run  print the merged configuration as a Lua script; run nothing"
  lines[#lines + 1] = "  --force    allow overwriting files in the calibration directory"
  return table.concat(lines, "\n") .. "\n"
end
M.help_text = help_text

local function writers(opts)
  local out = opts.stdout or io.stdout
  local err = opts.stderr or io.stderr
  return out, err, function(d) err:write(N.format(d), "\n") end
end

--- Classic entry point. opts (tests): workdir, stdout, stderr, cpu_count, now,
--- scripts_dir; default_namelist = true (a pipeline script run directly) lets a
--- command line without -n use the pipeline's built-in configuration
--- (config.default_namelist). Returns the exit status.
function M.main(script_name, args, opts)
  opts = opts or {}
  local out, err, log = writers(opts)
  local script = P.script_name(script_name)
  if not script then
    err:write("mopexlua: '", tostring(script_name), "' is not a classic MOPEX script (known: ",
      table.concat(P.order, ".pl, "), ".pl)\n")
    return 2
  end
  local ok, cfg = pcall(C.configure, script, args or {}, {
    workdir = opts.workdir, log = log, cpu_count = opts.cpu_count,
    default_namelist = opts.default_namelist })
  if not ok then
    if type(cfg) == "table" and cfg.usage then
      err:write(script, ".pl: ", cfg.message, "\n", C.usage(script), "\n")
      return 2
    end
    err:write(tostring(cfg), "\n")
    return 1
  end
  if cfg.help then out:write(help_text(script)); return 0 end
  if cfg.dry_run then out:write(T.translate(cfg)); return 0 end
  if not M.pipeline_path(script, opts) then
    err:write(string.format("%s.pl: pipeline '%s' is not implemented yet (no %s/%s.lua); "
      .. "nothing was run\n", script, script, M.scripts_dir(opts), script))
    return 1
  end
  if cfg.nice and not M.apply_nice(cfg) then
    log({ severity = "note", code = "N014", file = cfg.namelist,
          message = "NICE = 1: this build cannot lower its own priority; run it with nice -n 19" })
  end
  local pok, perr = pcall(M.prepare_output, cfg, opts.now)
  if not pok then err:write(script, ".pl: ", tostring(perr), "\n"); return 1 end
  local rok, rerr = xpcall(M.run_pipeline, function(e)
    if cfg.verbose and type(e) == "string" then return debug.traceback(e, 2) end
    return e
  end, script, cfg, opts)
  if not rok then
    err:write(script, ".pl: ", tostring(rerr), "\n")
    return 1
  end
  return 0
end

-- Which pipeline a namelist belongs to: by file name (mosaic_I1.nl), else by the
-- triggers it switches on and the single-frame / user-list keys it carries.
function M.guess_pipeline(path, text)
  local base = path:match("([^/]*)$"):lower()
  local names = {}
  for _, n in ipairs(P.order) do names[#names + 1] = n end
  table.sort(names, function(a, b) return #a > #b end)
  for _, n in ipairs(names) do
    if base:sub(1, #n) == n and not base:sub(#n + 1, #n + 1):match("[%w]") then return n end
  end
  if base:match("^mosaic_qa") then return "mosaic" end
  local nl = N.parse_all(text, { file = path })
  -- score: triggers switched on, then triggers present, then blocks the pipeline knows
  local best, bestscore, tie = nil, nil, false
  for _, n in ipairs({ "overlap", "mosaic", "apex", "apex_qa", "prf_estimate" }) do
    local trig = P.all_triggers(n)
    local blocks = {}
    for _, st in ipairs(P.scripts[n].steps) do
      for _, b in ipairs(st.blocks) do blocks[N.norm_key(b)] = true end
    end
    local on, present, nb = 0, 0, 0
    for k, e in pairs(nl.triggers) do
      if trig[k] then
        present = present + 1
        if e.value ~= nil and e.value ~= "0" then on = on + 1 end
      end
    end
    for k in pairs(nl.blocks) do if blocks[k] then nb = nb + 1 end end
    local score = { on, present, nb }
    local cmp = 0
    if bestscore then
      for i = 1, 3 do
        if score[i] ~= bestscore[i] then cmp = score[i] > bestscore[i] and 1 or -1; break end
      end
    end
    if on + present + nb > 0 then
      if not bestscore or cmp > 0 then best, bestscore, tie = n, score, false
      elseif cmp == 0 then tie = true end
    end
  end
  if not best or tie then return nil end
  if best == "apex" then
    local g = nl.globals
    local single = g.input_file_name ~= nil
    local user = g.input_user_list ~= nil or (nl.triggers.run_detectionmap ~= nil)
    best = "apex" .. (user and "_user_list" or "") .. (single and "_1frame" or "")
  end
  return best
end

--- mopexlua --translate NAMELIST [--pipeline NAME] [-o FILE] [classic flags, --set ...]
function M.translate(args, opts)
  opts = opts or {}
  local out, err, log = writers(opts)
  args = args or {}
  local path, pipeline, outfile = nil, nil, nil
  local rest = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--pipeline" then pipeline = args[i + 1]; i = i + 1
    elseif a:match("^%-%-pipeline=") then pipeline = a:match("=(.*)$")
    elseif a == "-o" or a == "--output" then outfile = args[i + 1]; i = i + 1
    elseif a == "--help" or a == "-h" then
      out:write("usage: mopexlua --translate NAMELIST [--pipeline NAME] [-o FILE] [classic flags]\n"
        .. "Prints the namelist (and any classic flags / --set overrides) as a Lua script\n"
        .. "calling one mopex module per switched-on classic module. Pipelines: "
        .. table.concat(P.order, ", ") .. "\n")
      return 0
    elseif path == nil and a:sub(1, 1) ~= "-" then path = a
    else rest[#rest + 1] = a end
    i = i + 1
  end
  if not path then
    err:write("usage: mopexlua --translate NAMELIST [--pipeline NAME] [-o FILE] [classic flags]\n")
    return 2
  end
  local workdir = opts.workdir or "."
  local real = C.join(workdir, path)
  if not C.exists(real) then
    local in_cdf = C.join(C.join(workdir, "cdf"), path)
    if C.exists(in_cdf) then real = in_cdf
    else err:write("mopexlua --translate: namelist not found: ", path, "\n"); return 1 end
  end
  local f = io.open(real, "rb")
  local text = f:read("a")
  f:close()
  if pipeline then
    pipeline = P.script_name(pipeline)
    if not pipeline then
      err:write("mopexlua --translate: unknown pipeline (known: ", table.concat(P.order, ", "), ")\n")
      return 2
    end
  else
    pipeline = M.guess_pipeline(real, text)
    if not pipeline then
      err:write("mopexlua --translate: cannot tell which pipeline ", path,
        " is for; add --pipeline NAME (", table.concat(P.order, ", "), ")\n")
      return 2
    end
  end
  local cargs = { "-n", path }
  for _, a in ipairs(rest) do cargs[#cargs + 1] = a end
  local ok, cfg = pcall(C.configure, pipeline, cargs, { workdir = workdir, namelist_path = real,
    text = text, check_required = false, allow_unimplemented = true, log = log,
    cpu_count = opts.cpu_count })
  if not ok then
    if type(cfg) == "table" and cfg.usage then
      err:write("mopexlua --translate: ", cfg.message, "\n")
      return 2
    end
    err:write(tostring(cfg), "\n")
    return 1
  end
  local lua = T.translate(cfg)
  if outfile then
    local wok, werr = pcall(write_file, outfile, lua)
    if not wok then err:write("mopexlua --translate: ", tostring(werr), "\n"); return 1 end
  else
    out:write(lua)
  end
  return #cfg.unimplemented > 0 and 1 or 0
end

--- The shipped template namelists: { {name = "mosaic_I1.nl", path = ..., title = ...}, ... }
function M.template_list()
  local dir = M.templates_dir()
  local idxf = io.open(dir .. "/INDEX", "rb")
  if not idxf then return {} end
  local list = {}
  for line in idxf:lines() do
    local name, title = line:match("^(%S+%.nl)%s+(.-)%s*$")
    if name then list[#list + 1] = { name = name, path = dir .. "/" .. name, title = title } end
  end
  idxf:close()
  return list
end

--- mopexlua --templates [NAME]: list the templates, or print one.
function M.templates(args, opts)
  opts = opts or {}
  local out, err = writers(opts)
  local list = M.template_list()
  local name = args and args[1]
  if not name then
    out:write("Template namelists (mopexlua --templates NAME prints one; copy it into cdf/):\n")
    for _, t in ipairs(list) do out:write(string.format("  %-36s %s\n", t.name, t.title)) end
    return 0
  end
  local want = name:gsub("%.nl$", "") .. ".nl"
  for _, t in ipairs(list) do
    if t.name == want then
      local f = io.open(t.path, "rb")
      if not f then err:write("mopexlua --templates: cannot read ", t.path, "\n"); return 1 end
      out:write(f:read("a"))
      f:close()
      return 0
    end
  end
  local names = {}
  for _, t in ipairs(list) do names[#names + 1] = t.name end
  local hint = N.suggest(want, names)
  err:write("mopexlua --templates: no template '", name, "'",
    hint and (" (did you mean " .. hint .. "?)") or "", "\n")
  return 1
end

return M
