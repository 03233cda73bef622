-- mopex.zodi_subtract: the zodiacal subtraction of the Overlap Settings
-- (000 l.1190-1196, l.1218-1219, l.969-971; overlap.md 4.3.2).
--
--   local z = mopex.zodi_subtract{ images = "cbcd.lst", output_dir = "out", apply = true,
--                                  save = true }
--   z.images          "out/Zod_Sub/<b>.fits" (input - value), same order as the inputs
--   z.values[k]       the value subtracted from frame k
--   z.lists.images    "out/Zod_Sub/zodsub_ImageList.txt"
--   z.temporary       true when save is off: the pipeline removes Zod_Sub at the end
--
-- The value of a frame is its header's ZODY_EST (ZODI_EST when ZODY_EST is
-- absent: the overview's spelling) minus SKYDRKZB when that keyword is
-- present (IRAC: the zodiacal light already removed with the sky dark). A
-- frame with neither keyword is an error naming the file. Run it before
-- everything else that reads the images (the offsets are then computed on
-- the subtracted frames, and the corrected copies start from them). With
-- apply off nothing is written and the inputs come back unchanged.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local where = "mopex.zodi_subtract"

local params = {
  P.images, P.output_dir,
  S.param { "apply", type = "bool", key = "apply_zodiacal_correction", scope = "global",
    default = false, doc = "subtract ZODY_EST (- SKYDRKZB for IRAC) from every frame" },
  S.param { "save", type = "bool", key = "save_zodiacal_subtracted_images", scope = "global",
    default = false, doc = "keep the subtracted images in Zod_Sub/ after the run" },
  S.param { "out_dir", type = "path", key = "ZODSUB_DIR", scope = "global", default = "Zod_Sub",
    doc = "directory of the subtracted images (relative paths are under output_dir)" },
}

local function run(o)
  local images, desc = IO.paths(o.images, "ImageList")
  if images == nil or #images == 0 then
    error(where .. ": no input images (images / IMAGE_STACK_FILE_NAME / -I)", 0)
  end
  if not o.apply then
    return { images = images, lists = {}, applied = false, temporary = false }
  end
  local dir = IO.outdir(o, o.out_dir)
  local outputs, seen = {}, {}
  for k, p in ipairs(images) do
    local out = IO.derived(dir, p, "", ".fits")
    if out == p or IO.join(".", out) == IO.join(".", p) then
      error(string.format("%s: '%s' would overwrite its input: choose another out_dir (ZODSUB_DIR)",
        where, out), 0)
    end
    if seen[out] then
      error(string.format("%s: %s entries %d and %d have the same base name (%s)", where, desc,
        seen[out], k, out), 0)
    end
    seen[out] = k
    outputs[k] = out
  end
  local values = core().zodi_subtract { images = images, outputs = outputs }
  local list = IO.write_list(IO.join(dir, "zodsub_ImageList.txt"), outputs)
  return { images = outputs, values = values, lists = { images = list }, applied = true,
           temporary = not o.save }
end

return S.module {
  name = "zodi_subtract",
  title = "Zodiacal Subtraction (Overlap Settings)",
  doc = "Subtract each frame's ZODY_EST (or ZODI_EST), minus SKYDRKZB for IRAC, before background "
    .. "matching (000 l.1190-1196); writes Zod_Sub/<b>.fits and zodsub_ImageList.txt.",
  pipelines = { "overlap" },
  params = params,
  run = run,
}
