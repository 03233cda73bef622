-- pipeline_runner: what scripts/mosaic.lua and scripts/overlap.lua share.
--
--   local R = require "pipeline_runner"
--   local cur = R.run(cfg, { handlers = { array_corr_mosaic = fn }, final = {...} })
--
-- R.run(cfg, spec) does what mopex.flow.run(cfg) does - check every step before any
-- work, start from cfg.start, call each step's module with flow.options(cur, step)
-- and merge its products into cur - and in addition:
--   * announces every step on standard error ("[3/8] Mosaic Interpolate ...", then
--     "... done in 1.2 s"); the modules draw their own progress bars;
--   * runs the steps a pipeline script implements itself (step.pipeline_step, see
--     namelist-compat/config.lua C.plan_steps) through spec.handlers[name](cur, step, cfg);
--   * lets spec.options(step, o, cur) complete a module's options (wiring a product
--     whose option name differs from the product key), and spec.products(step, p)
--     rename a module's products before they are merged;
--   * with cfg.delete_intermediate_files, deletes at the end the files the modules
--     reported as products, except inputs and final products (spec.final).
-- R.configure_and_run(script, args, opts) is the whole classic entry point without
-- os.exit, for the demo and the tests: configure, prepare OUTPUT_DIR, run; returns
-- cur and cfg (or raises).
local flow = require "mopex.flow"

local R = {}

local function mopex() return require "mopex" end

--- Wall-clock seconds on a monotonic clock (for step timings).
function R.now() return mopex().core.wallclock() end

local function log(spec, text)
  if spec.quiet then return end
  local out = spec.log or io.stderr
  out:write(text, "\n")
  if out.flush then out:flush() end
end

-- Every string inside a product table (paths, arrays of paths, lists = {...}).
local function strings(v, acc, depth)
  if type(v) == "string" then
    acc[#acc + 1] = v
  elseif type(v) == "table" and getmetatable(v) == nil and depth < 4 then
    for _, x in pairs(v) do strings(x, acc, depth + 1) end
  end
  return acc
end

local function norm_path(p)
  p = p:gsub("/%./", "/"):gsub("^%./", ""):gsub("/+", "/")
  return p
end

-- Is path inside directory dir (both as the modules spell them)?
local function under(path, dir)
  path, dir = norm_path(path), norm_path(dir)
  if dir == "." or dir == "" then return path:sub(1, 1) ~= "/" and not path:match("^%.%./") end
  dir = dir:gsub("/$", "")
  return path:sub(1, #dir + 1) == dir .. "/"
end
R.under = under

-- Files named by the current inputs at the start (lists, their entries, masks, FIF):
-- never deleted.
local function input_files(start)
  local m = mopex()
  local set = {}
  for k, v in pairs(start) do
    if type(v) == "string" and m.file_exists(v) then
      set[norm_path(v)] = true
      if k == "images" or k == "sigmas" or k == "dce_masks" or k == "rmasks" then
        local ok, paths = pcall(m.read_list, v, false)
        if ok then for _, p in ipairs(paths) do set[norm_path(p)] = true end end
      end
    elseif type(v) == "table" then
      for _, p in ipairs(v) do if type(p) == "string" then set[norm_path(p)] = true end end
    end
  end
  return set
end

--- Delete the intermediate files of a run: every file named in a product table that
--- is inside OUTPUT_DIR, is not an input, and is not final. `record` is the list of
--- { name = module name, products = table } of the run; final[name] is "*" (all of that
--- module's products are final) or an array of product keys that are. Directories
--- emptied by the deletion are removed. Returns the number of files deleted.
function R.delete_intermediate(cfg, record, final, extra_keep)
  local m = mopex()
  local inputs = input_files(cfg.start)
  local keep = {}
  for _, p in ipairs(extra_keep or {}) do keep[norm_path(p)] = true end
  for _, r in ipairs(record) do
    local f = final[r.name]
    if f == "*" then
      for _, p in ipairs(strings(r.products, {}, 0)) do keep[norm_path(p)] = true end
    elseif type(f) == "table" then
      for _, key in ipairs(f) do
        for _, p in ipairs(strings(r.products[key], {}, 0)) do keep[norm_path(p)] = true end
      end
    end
  end
  local dirs, n, seen = {}, 0, {}
  for _, r in ipairs(record) do
    for _, p in ipairs(strings(r.products, {}, 0)) do
      local np = norm_path(p)
      if not seen[np] and not keep[np] and not inputs[np] and under(p, cfg.output_dir)
         and m.file_exists(p) then
        seen[np] = true
        if os.remove(p) then
          n = n + 1
          local d = p:match("^(.*)/[^/]*$")
          if d then dirs[d] = true end
        end
      end
    end
  end
  -- deepest directories first; os.remove only removes empty ones
  local list = {}
  for d in pairs(dirs) do list[#list + 1] = d end
  table.sort(list, function(a, b) return #a > #b end)
  for _, d in ipairs(list) do
    if under(d, cfg.output_dir) and norm_path(d) ~= norm_path(cfg.output_dir) then os.remove(d) end
  end
  return n
end

--- Run the planned steps of a configuration (see the head of this file). spec:
--- handlers, options(step, o, cur), products(step, p) -> p, final, keep (extra paths never deleted), quiet,
--- log (a file handle), after(cur, record) called before the deletion.
--- Returns cur; cur is also given the field step_seconds = { {title, seconds} ... }.
function R.run(cfg, spec)
  spec = spec or {}
  local handlers = spec.handlers or {}
  local list = {}
  for _, st in ipairs(cfg.steps) do
    if st.pipeline_step then
      if not handlers[st.pipeline_step] then
        error(string.format("%s (%s) is not implemented by this pipeline script", st.title,
          tostring(st.trigger)), 0)
      end
    else
      list[#list + 1] = { module = st.module, title = st.title, trigger = st.trigger }
    end
  end
  flow.check(list)
  local cur = {}
  for k, v in pairs(cfg.start) do cur[k] = v end
  flow.start(cur)
  local n, record, times = #cfg.steps, {}, {}
  local t_start = R.now()
  for i, st in ipairs(cfg.steps) do
    log(spec, string.format("[%d/%d] %s ...", i, n, st.title))
    local t0 = R.now()
    local products
    if st.pipeline_step then
      products = handlers[st.pipeline_step](cur, st, cfg)
    else
      local o = flow.options(cur, st)
      if spec.options then spec.options(st, o, cur) end
      products = st.module(o)
    end
    if spec.products and type(products) == "table" then products = spec.products(st, products) end
    local dt = R.now() - t0
    times[#times + 1] = { st.title, dt }
    record[#record + 1] = { name = st.pipeline_step or st.name, products = products, step = st }
    flow.update(cur, products)
    log(spec, string.format("[%d/%d] %s done in %.1f s", i, n, st.title, dt))
  end
  if spec.after then spec.after(cur, record) end
  if cfg.delete_intermediate_files then
    local nd = R.delete_intermediate(cfg, record, spec.final or {}, spec.keep)
    log(spec, string.format("delete_intermediate_files = 1: %d intermediate file%s deleted", nd,
      nd == 1 and "" or "s"))
  end
  cur.step_seconds = times
  cur.seconds = R.now() - t_start
  return cur, record
end

--- The classic entry point without os.exit and without printing a usage text: parse
--- args as `script`.pl would (a missing -n uses the built-in configuration), create
--- OUTPUT_DIR with the namelist copy, run scripts/<script>.lua. opts: workdir, quiet
--- (no step lines), log. Returns cur, cfg; raises on any error.
function R.configure_and_run(script, args, opts)
  opts = opts or {}
  local C = require "config"
  local classic = require "classic"
  local cfg = C.configure(script, args, { workdir = opts.workdir, default_namelist = true,
                                          quiet = opts.quiet_config })
  if cfg.help then error("configure_and_run: --help given", 0) end
  classic.prepare_output(cfg)
  local path = classic.pipeline_path(script)
  if not path then error("pipeline '" .. script .. "' has no script", 0) end
  local mod = assert(loadfile(path))(script, path)
  return mod.run(cfg, { quiet = opts.quiet, log = opts.log }), cfg
end

return R
