-- The real module schemas (lua/mopex/modules/*) against the classic vocabulary of
-- namelist-compat/pipelines.lua: every trigger a module declares for a pipeline must be a
-- step of that pipeline (so it runs in the guide's order, not appended at the end), its
-- block must be one the step accepts, and its classic keys must not collide with the
-- pipeline-level settings classic.lua consumes itself. Skipped while no module with a
-- classic trigger is registered.
local SRC = os.getenv("MOPEX_SOURCE_DIR")
if not SRC or SRC == "" then
  SRC = debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/[^/]*$") or "."
end
package.path = SRC .. "/namelist-compat/?.lua;" .. SRC .. "/namelist-compat/?/init.lua;"
  .. SRC .. "/tests/lua/lib/?.lua;" .. package.path
local T = require "testing"
local ok, mopex = pcall(require, "mopex")
if not ok or type(mopex) ~= "table" or not mopex.schema then T.skip("the mopex module is not available") end
local S = mopex.schema
local P = require "pipelines"
local norm = P.norm

local checked = 0
T.test("module triggers and blocks are classic steps of their pipelines", function()
  for script, sdef in pairs(P.scripts) do
    local steps_by_trigger = {}
    for _, st in ipairs(sdef.steps) do
      for _, t in ipairs(st.triggers) do steps_by_trigger[norm(t)] = st end
    end
    local settings = {}
    for _, k in ipairs(P.settings) do settings[norm(k)] = true end
    for _, name in ipairs(S.names()) do
      local m = S.get(name)
      local in_pipe = #m.pipelines == 0
      for _, pl in ipairs(m.pipelines) do
        for _, sn in ipairs(sdef.schema) do if pl == sn then in_pipe = true end end
      end
      if in_pipe and #m.triggers > 0 then
        checked = checked + 1
        local st
        for _, t in ipairs(m.triggers) do
          local s2 = steps_by_trigger[norm(t)]
          T.ok(s2 ~= nil, string.format("%s: mopex.%s trigger %s is not a classic step "
            .. "(add it to namelist-compat/pipelines.lua)", script, name, t))
          st = st or s2
        end
        if st and m.block then
          local okb = false
          for _, b in ipairs(st.blocks) do if norm(b) == norm(m.block) then okb = true end end
          T.ok(okb, string.format("%s: mopex.%s block &%s is not accepted by step %s", script, name,
            m.block, st.title))
        end
        for _, p in ipairs(m.params) do
          if p.key then
            T.ok(not settings[norm(p.key)], string.format("mopex.%s option %s uses %s, a setting "
              .. "classic.lua consumes itself", name, p.name, p.key))
          end
        end
      end
    end
  end
end)
if checked == 0 then T.skip("no module schema with a classic trigger is registered yet") end
print(checked .. " (pipeline, module) pairs checked")
T.done()
