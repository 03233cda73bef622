-- simulate.lua - command-line front end of mopex.simulate.
--
--   mopexlua simulate.lua --out DIR [--nframes N] [--seed S] [--pattern map] [--<option> value ...]
--
-- Every option of mopex.simulate is accepted as --name value or --name=value
-- (dashes or underscores); a bool option alone means true, --no-<name> false.
-- --sources takes an IPAC table path, --offsets a comma-separated list,
-- --pointings "ra,dec[,rotation];ra,dec[,rotation];...". --help lists the
-- options with their defaults. Prints what it wrote.
local mopex = require "mopex"
local S = mopex.schema
local mod = S.get("simulate")

local argv = { ... }
if #argv == 0 and type(arg) == "table" then
  for i = 1, #arg do argv[i] = arg[i] end
end

local function usage()
  print("usage: mopexlua simulate.lua --out DIR [--nframes N] [--seed S] [--<option> value ...]\n")
  print(S.help_text(mod))
end

local function die(msg)
  io.stderr:write("simulate.lua: ", msg, "\n")
  os.exit(2)
end

local function numbers(text, what)
  local out = {}
  for item in text:gmatch("[^,]+") do
    local v = tonumber(item)
    if not v then die(what .. ": '" .. item .. "' is not a number") end
    out[#out + 1] = v
  end
  return out
end

local function convert(p, text)
  if p.name == "offsets" then return numbers(text, "--offsets") end
  if p.name == "pointings" then
    local out = {}
    for item in text:gmatch("[^;]+") do
      local v = numbers(item, "--pointings")
      if #v < 2 or #v > 3 then die("--pointings: each entry is ra,dec[,rotation]: '" .. item .. "'") end
      out[#out + 1] = { ra = v[1], dec = v[2], rotation = v[3] }
    end
    return out
  end
  if p.type == "any" then return text end
  local v, err = S.coerce(p, text)
  if v == nil then die("--" .. p.name .. ": " .. (err or "needs a value")) end
  return v
end

local opts = {}
local i = 1
while i <= #argv do
  local a = argv[i]
  if a == "-h" or a == "--help" then
    usage()
    os.exit(0)
  end
  local key, value = a:match("^%-%-([%w_%-]+)=(.*)$")
  if not key then key = a:match("^%-%-([%w_%-]+)$") end
  if not key then die("unexpected argument '" .. a .. "' (options are --name value)") end
  key = key:gsub("%-", "_")
  if key == "out" then key = "out_dir" end
  local negated = false
  if not mod.by_name[key] and key:match("^no_") and mod.by_name[key:sub(4)] then
    key, negated = key:sub(4), true
  end
  local p = mod.by_name[key]
  if not p then
    local names = {}
    for _, q in ipairs(mod.params) do names[#names + 1] = q.name end
    local hint = S.suggest(key, names)
    die("unknown option --" .. key .. (hint and (" (did you mean --" .. hint .. "?)") or "")
      .. "; --help lists them")
  end
  if negated then
    if p.type ~= "bool" then die("--no-" .. key .. ": only for true/false options") end
    opts[key] = false
  elseif value then
    opts[key] = convert(p, value)
  elseif p.type == "bool" and (argv[i + 1] == nil or argv[i + 1]:match("^%-%-")) then
    opts[key] = true
  else
    if argv[i + 1] == nil then die("--" .. key .. " needs a value") end
    i = i + 1
    opts[key] = convert(p, argv[i])
  end
  i = i + 1
end
if not opts.out_dir then
  usage()
  die("--out DIR is required")
end

local t0 = os.clock()
local r = mopex.simulate(opts)
print(string.format("simulate: wrote %d frames (cbcd, cbunc, bimsk) to %s in %.1f s CPU",
  r.nframes, r.out_dir, os.clock() - t0))
print("  images     " .. r.images)
print("  sigmas     " .. r.sigmas)
print("  dce_masks  " .. r.dce_masks)
print(string.format("  sources    %s (%d sources)", r.sources, r.nsources))
print("  offsets    " .. r.offsets)
print(string.format("  cosmics    %s (%d pixels)", r.cosmics, r.ncosmics))
print("  frames     " .. r.frames)
return r
