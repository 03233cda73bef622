-- mopex: the Lua API of mopexlua.
--
-- `require "mopex"` gives this table. It is assembled from
--   * the C bindings (`core`, filled by lua/l_*.c),
--   * mopex.objects: Image, Table, Wcs and the functions that open them,
--   * every module schema in mopex.modules.* (each becomes mopex.<name>{...},
--     validated against its one declarative parameter table),
--   * help(x) for the REPL.
local core, embedded = ...

local S = require "mopex.schema"

local M = {}
M.core = core
M.schema = S
M.version = core.version and core.version() or "unknown"

-- Documentation strings for plain functions, looked up by help().
local docs = setmetatable({}, { __mode = "k" })
--- Attach a one-paragraph description to a function or object for help().
function M.doc(obj, text) docs[obj] = text; return obj end
M._docs = docs

require("mopex.objects").install(M, core)
require("mopex.io").init(core)

-- Module schemas: every embedded mopex.modules.<x> registers itself.
local mods = {}
for _, name in ipairs(embedded or {}) do
  if name:match("^mopex%.modules%.") then mods[#mods + 1] = name end
end
table.sort(mods)
for _, name in ipairs(mods) do require(name) end
for _, n in ipairs(S.names()) do
  assert(M[n] == nil, "mopex: module name '" .. n .. "' clashes with an API function")
  M[n] = S.get(n)
end

--- help(x): describe a module, an object method, a function or the whole API.
function M.help(x)
  local text
  if x == nil then
    local names = S.names()
    table.sort(names)
    local fns = {}
    for k, v in pairs(M) do
      if type(v) == "function" and not k:match("^_") then fns[#fns + 1] = k end
    end
    table.sort(fns)
    text = "mopex " .. M.version .. "\n  functions: " .. table.concat(fns, ", ")
      .. "\n  modules:   " .. table.concat(names, ", ")
      .. "\n  help(mopex.<name>) or help(\"<name>\") for details."
  elseif type(x) == "string" then
    local m = S.get(x)
    if m then text = S.help_text(m)
    elseif M[x] ~= nil then return M.help(M[x])
    else
      local cands = S.names()
      for k in pairs(M) do cands[#cands + 1] = k end
      local hint = S.suggest(x, cands)
      text = "no help for '" .. x .. "'" .. (hint and (" (did you mean '" .. hint .. "'?)") or "")
    end
  elseif type(x) == "table" and getmetatable(x) and x.params and x.name and S.get(x.name) == x then
    text = S.help_text(x)
  elseif docs[x] then
    text = docs[x]
  else
    local mt = getmetatable(x)
    if mt and docs[mt] then text = docs[mt] else text = "no help for this " .. type(x) end
  end
  print(text)
  return  -- no value: the REPL then prints nothing after the text
end

return M
