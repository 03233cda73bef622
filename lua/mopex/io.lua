-- mopex.io: what every module's run() needs around the C kernels:
-- resolving input lists (a list file or an array of paths), checking that
-- parallel lists have the same length, output directories and file names,
-- writing the list files that chain modules together.
local IO = {}

local core

--- Called once by init.lua with the C core table.
function IO.init(c) core = c end

local function is_list_file(v) return type(v) == "string" end

--- Resolve a "list" option: a list file name (entries resolved as the guide
--- says, each must exist) or an array of paths (each must exist).
--- Returns an array of paths and a description for messages.
function IO.paths(v, role)
  if v == nil then return nil end
  if is_list_file(v) then
    local paths = core.read_list(v, true)
    return paths, string.format("%s '%s'", role, v)
  end
  for i, p in ipairs(v) do
    if not core.file_exists(p) then
      error(string.format("%s entry %d: '%s' does not exist", role, i, p), 0)
    end
  end
  return v, role
end

--- The frame set of a module's options: images plus the optional parallel
--- lists (sigmas, dce_masks, rmasks), all of one length. Errors name the
--- lists: "SigmaList 'b.txt' has 99 entries, ImageList 'a.txt' has 100".
function IO.frames(o)
  local f = {}
  local images, idesc = IO.paths(o.images, "ImageList")
  if not images or #images == 0 then
    error("no input images (images / IMAGE_STACK_FILE_NAME / -I)", 0)
  end
  f.images, f.n = images, #images
  local function parallel(key, role)
    if o[key] == nil then return end
    local l, desc = IO.paths(o[key], role)
    if #l ~= #images then
      error(string.format("%s has %d entries, %s has %d", desc, #l, idesc, #images), 0)
    end
    f[key] = l
  end
  parallel("sigmas", "SigmaList")
  parallel("dce_masks", "DCE status mask list")
  parallel("rmasks", "RMask list")
  return f
end

--- Absolute-or-relative output directory of a module: out_dir under
--- output_dir (an absolute out_dir stands alone); created if missing.
function IO.outdir(o, sub)
  local top = o.output_dir or "."
  local dir = sub and core.path_join(top, sub) or top
  core.mkdir_p(dir)
  return dir
end

--- Output path "<dir>/<prefix><b><suffix>" for an input path, where <b> is
--- its base name without .fits.
function IO.derived(dir, input, prefix, suffix)
  return core.path_join(dir, (prefix or "") .. core.basename_noext(input) .. (suffix or ""))
end

function IO.basename(path) return core.basename_noext(path) end
function IO.join(a, b) return core.path_join(a, b) end
function IO.exists(p) return core.file_exists(p) end

--- Write a list file (atomically) and return its path.
function IO.write_list(path, paths)
  core.write_list(path, paths)
  return path
end

return IO
