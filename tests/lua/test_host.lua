-- What the mopexlua host sets up for a script: the mopex and help globals,
-- the arg table, package.path over the data root, Ctrl-C handling.
local T = require "testing"

T.test("globals", function()
  T.eq(type(mopex), "table")
  T.eq(mopex, require("mopex"), "the global is the module")
  T.eq(type(help), "table")
  T.ok(tostring(help):match("^help%(%)"), tostring(help))
  local printed = {}
  local real = print
  print = function(s) printed[#printed + 1] = s end
  local r = table.pack(help(mopex.read))
  print = real
  T.eq(r.n, 0, "help returns nothing (the REPL prints no 'nil')")
  T.ok(printed[1]:match("^mopex%.read%(path%)"), printed[1])
end)

T.test("arg table", function()
  T.ok(arg[0]:match("test_host%.lua$"), arg[0])
  T.eq(#arg, 0)
  T.ok(arg[-1] ~= nil, "the interpreter is at arg[-1]")
end)

T.test("package.path and the data root", function()
  local src = os.getenv("MOPEX_SOURCE_DIR")
  if not src then T.skip("MOPEX_SOURCE_DIR is not set") end
  -- a build-tree executable uses its source tree
  local real = io.popen("cd '" .. src .. "' && pwd -P"):read("l")
  T.eq(mopex.root, real)
  T.ok(package.path:find(real .. "/scripts/lib/?.lua", 1, true), package.path)
  T.ok(package.path:find(real .. "/namelist-compat/?.lua", 1, true))
  T.ok(package.path:find(real .. "/namelist-compat/?/init.lua", 1, true))
  T.eq(package.searchpath("classic", package.path), real .. "/namelist-compat/classic.lua")
end)

T.test("Ctrl-C stops Lua code and raises the engine flag", function()
  mopex.clear_interrupt()
  -- system() ignores SIGINT while it waits, so the signal comes from a
  -- background job a moment later; the loop ends through the hook
  local t0 = os.time()
  local ok, err = pcall(function()
    os.execute("(sleep 0.3; kill -INT $PPID) &")
    while os.time() - t0 < 30 do end
  end)
  T.eq(ok, false)
  T.ok(tostring(err):match("interrupted by user$"), err)
  T.eq(mopex.interrupt_requested(), true, "kernels see the flag")
  T.raises(function() mopex.check_interrupt() end, "interrupted by user")
  mopex.clear_interrupt()
end)

T.done()
