-- The schema system (lua/mopex/schema.lua): validation of options, per-pipeline
-- defaults, classic keys, coercion of namelist text, help text, and the
-- help() of the API (objects documented by lua/mopex/objects.lua).
local T = require "testing"
local mopex = require "mopex"
local S = mopex.schema

-- A throwaway module, registered only in this process.
local calls = {}
local m = S.module {
  name = "zz_schema_test", title = "Schema Test",
  doc = "A module that exists only in test_schema.lua.",
  pipelines = { "mosaic", "overlap" }, block = "ZZTESTIN", triggers = { "run_zz_test" },
  params = {
    S.param { "method", key = "ZZ_METHOD", type = "int", min = 1, max = 4, default = 1,
      defaults = { overlap = 3 }, doc = "1 default, 3 grid" },
    S.param { "threshold", key = "ZZ_THRESHOLD", aliases = { "ZZ_Thresh" }, type = "number",
      unit = "sigma", doc = "detection threshold" },
    S.param { "kind", type = "enum", values = { "mean", "median" }, codes = { [0] = "mean", [1] = "median" },
      default = "median" },
    S.param { "use_mask", type = "bool", default = false },
    S.param { "angle", type = "crota2", key = "ZZ_CROTA2", scope = "global" },
    S.param { "images", type = "list", required = true, key = "ZZ_LIST", scope = "global" },
  },
  run = function(opts) calls[#calls + 1] = opts; return "ran" end,
}

T.test("validation", function()
  T.eq(mopex.zz_schema_test, nil, "registered after mopex was built: not an API field")
  T.eq(m { images = { "a.fits" } }, "ran")
  local o = calls[#calls]
  T.eq(o.method, 1); T.eq(o.kind, "median"); T.eq(o.use_mask, false); T.eq(o.threshold, nil)
  local v = S.validate(m, { images = "list.txt" }, "overlap")
  T.eq(v.method, 3, "per-pipeline default")
  T.eq(S.validate(m, { images = "l", method = "2" }).method, 2, "numeric text accepted")
  T.eq(S.validate(m, { images = "l", kind = 0 }).kind, "mean", "classic integer code")
  T.eq(S.validate(m, { images = "l", use_mask = 1 }).use_mask, true)
  T.eq(S.validate(m, { images = "l", angle = "a" }).angle, "A")
  T.eq(S.validate(m, { images = "l", angle = "12.5" }).angle, 12.5)
  T.raises(function() m { images = "l", methd = 2 } end,
    "unknown option 'methd' %(did you mean 'method'%?%); valid options: angle, images, kind, method, threshold, use_mask")
  T.raises(function() m { images = "l", method = 5 } end, "option 'method' must be <= 4 %(got 5%)")
  T.raises(function() m { images = "l", method = 1.5 } end, "must be an integer")
  T.raises(function() m { images = "l", kind = "mode" } end, "must be one of mean, median")
  T.raises(function() m { images = { "a", 3 } } end, "entry 2")
  T.raises(function() m {} end, "option 'images' is required %(classic ZZ_LIST%)")
  T.raises(function() m "text" end, "expected a table of options, got string")
end)

T.test("classic keys and coercion", function()
  local idx = S.classic_index("mosaic")
  T.eq(idx.triggers.run_zz_test, m)
  local b = idx.blocks.zztestin
  T.eq(b.module, m)
  T.eq(b.keys.zz_method.name, "method")
  T.eq(b.keys.zz_thresh.name, "threshold", "alias")
  T.eq(idx.globals.zz_crota2[1].param.name, "angle")
  T.eq(S.coerce(m.by_name.threshold, "2.5D0"), 2.5, "Fortran exponent")
  T.eq(S.coerce(m.by_name.method, "3"), 3)
  T.eq(select(2, S.coerce(m.by_name.method, "3.5")), "expected an integer")
  T.eq(S.coerce(m.by_name.use_mask, "1"), true)
  T.eq(S.coerce(m.by_name.angle, "A"), "A")
  T.eq(S.suggest("threshhold", { "threshold", "method" }), "threshold")
  T.eq(S.suggest("zzzzzz", { "threshold", "method" }), nil)
  T.eq(S.distance("kitten", "sitting"), 3)
end)

T.test("help texts", function()
  local text = S.help_text(m)
  T.ok(text:find("mopex.zz_schema_test{...}  --  Schema Test", 1, true), text)
  T.ok(text:find("trigger run_zz_test", 1, true))
  T.ok(text:find("block &ZZTESTIN", 1, true))
  T.ok(text:find("method%s+int%s+default 1; overlap: 3"), "defaults listed")
  local md = S.markdown(m)
  T.ok(md:find("| `threshold` | number |", 1, true), md)
  -- help() of objects and functions prints the doc attached by objects.lua
  local out = {}
  local real_print = print
  print = function(s) out[#out + 1] = s end
  local img <close> = mopex.image(2, 2)
  mopex.help(img)
  mopex.help(mopex.read)
  mopex.help(img.get)
  mopex.help("read_table")
  mopex.help()
  mopex.help("raed")
  print = real_print
  T.ok(out[1]:match("^Image: a 2%-D FITS image"), out[1])
  T.ok(out[2]:match("^mopex%.read%(path%) %-> Image"), out[2])
  T.ok(out[3]:match("^img:get%(x, y%)"), out[3])
  T.ok(out[4]:match("^mopex%.read_table%(path%)"), out[4])
  T.ok(out[5]:find("functions:", 1, true) and out[5]:find("modules:", 1, true), out[5])
  T.ok(out[5]:find("read_table", 1, true))
  T.eq(out[6], "no help for 'raed' (did you mean 'read'?)")
  -- every function of the API has a doc
  local undocumented = {}
  for k, v in pairs(mopex) do
    if type(v) == "function" and not mopex._docs[v] and k ~= "help" and k ~= "doc" then
      undocumented[#undocumented + 1] = k
    end
  end
  table.sort(undocumented)
  T.eq(undocumented, {}, "functions without help")
end)

T.done()
