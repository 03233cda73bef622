-- docs/modules.md is generated from the module schemas: it must be current
-- (regenerate with `mopexlua docs/gen_modules.lua > docs/modules.md`).
local T = require "testing"
local src = os.getenv("MOPEX_SOURCE_DIR") or "."

T.test("docs/modules.md matches the schemas", function()
  local gen = assert(loadfile(src .. "/docs/gen_modules.lua"))
  local chunks = {}
  local real_write = io.write
  io.write = function(...) for _, s in ipairs({ ... }) do chunks[#chunks + 1] = s end end
  local ok, err = pcall(gen)
  io.write = real_write
  assert(ok, err)
  local f = assert(io.open(src .. "/docs/modules.md", "rb"))
  local current = f:read("a")
  f:close()
  T.ok(table.concat(chunks) == current,
    "docs/modules.md is out of date: run mopexlua docs/gen_modules.lua > docs/modules.md")
end)

T.test("every module has a doc line and every option a doc string", function()
  local S = require("mopex").schema
  for _, n in ipairs(S.names()) do
    local m = S.get(n)
    T.ok(m.doc and #m.doc > 0, n .. " has a doc line")
    for _, p in ipairs(m.params) do
      T.ok(p.doc and #p.doc > 0, n .. "." .. p.name .. " has a doc string")
    end
  end
end)

T.done()
