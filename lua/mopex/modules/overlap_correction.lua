-- mopex.overlap_correction: Compute Overlap Correction, the background
-- matching of the Overlap pipeline (000 l.1704-1794, l.883-960, l.8580-8703;
-- overlap.md 4.3.8, algorithms.md 5).
--
--   local i = mopex.interpolate{ images = "cbcd.lst", sigmas = "cbunc.lst", output_dir = "out",
--                                pipeline = "overlap" }
--   local c = mopex.overlap_correction{ images = "cbcd.lst", interp_images = i.images,
--                                       interp_coverages = i.coverages, interp_sigmas = i.sigmas,
--                                       interp_ids = i.image_ids, output_dir = "out", apply = true }
--   c.offsets           "out/Overlap_corr/offsets.tbl"
--   c.table[k]          { offset =, del =, outlier = true|false, group = } for input frame k
--   c.corrected[k]      "out/Overlap_corr/overlapCorrection_<b>.fits" (apply = true)
--   c.lists.corrected   "out/Overlap_corr/overlapCorrection_ImageList.txt" (for Mosaic)
--   c.images            = c.corrected with apply (a chained flow mosaics them), else nil
--   c.groups            number of connected groups of overlapping frames
--
-- One streaming pass over the mosaic grid accumulates, for every pair of
-- overlapping frames, W = sum w and D = sum w (I_m - I_n) with w =
-- 1/(s_m^2 + s_n^2) (1 without uncertainties); the offsets solve the graph
-- Laplacian system per connected group (dense Cholesky, or conjugate
-- gradients with use_sparse / groups over 3000 frames), outliers are flagged
-- with mean +- TOP/BOTTOM sigma and the non-outliers of each group are
-- levelled to zero sum (WEIGHT > 0: (L + WEIGHT I) e = b instead). The
-- corrected copies are input - Offset on the input's own grid with OVRLPDC,
-- OVRLPDCD and OVRLPOUT in the header. With zodiacal subtraction, give the
-- subtracted images (mopex.zodi_subtract's product) as `images`.
-- Details: core/include/mopex/mx_bgmatch.h.
local S = require "mopex.schema"
local P = require "mopex.params"
local IO = require "mopex.io"

local function core() return require("mopex").core end

local where = "mopex.overlap_correction"

local shared = require("mopex.modules.coadd").shared

local params = {
  P.images, P.output_dir, shared.interp_images, shared.interp_coverages, shared.interp_sigmas,
  S.param { "interp_ids", type = "any",
    doc = "Image_id (1-based position in images) of each interpolated image (Mosaic "
      .. "Interpolate's image_ids); unset: from interp_table, or 1..n when the counts agree" },
  S.param { "interp_table", type = "path",
    doc = "interp_ImageList.txt.tbl (image_id, fname) mapping interpolated images to Image_id; "
      .. "looked up next to the interpolated images when their count differs from images" },
  S.param { "top_threshold", type = "number", key = "TOP_THRESHOLD", default = 3, min = 0,
    unit = "sigma", doc = "offsets above mean + TOP_THRESHOLD sigma are outliers" },
  S.param { "bottom_threshold", type = "number", key = "BOTTOM_THRESHOLD", default = 3, min = 0,
    unit = "sigma", doc = "offsets below mean - BOTTOM_THRESHOLD sigma are outliers" },
  S.param { "min_img_num", type = "int", key = "MIN_IMG_NUM", default = 4, min = 0,
    doc = "outliers are flagged only in groups of at least this many frames" },
  S.param { "weight", type = "number", key = "WEIGHT", default = 0, min = 0,
    doc = "0: zero-sum level; > 0: minimise WEIGHT * sum e^2 with the differences "
      .. "((L + WEIGHT I) e = b, unnormalised)" },
  S.param { "use_sparse", type = "bool", key = "USE_SPARSE_FOR_MANY_FILES", default = false,
    doc = "sparse solver (conjugate gradients) for every group; groups over 3000 frames always use it" },
  S.param { "skip_bad_image_check", type = "bool", key = "SKIP_BAD_IMAGE_CHECK", default = false,
    doc = "skip dropping frames without a usable interpolated pixel (they then count as isolated)" },
  S.param { "outlier_rule", type = "enum", values = { "std", "std_n", "mad" }, default = "std",
    doc = "outlier statistics: mean and sample std (N-1, the default), mean and population "
      .. "std (N), or median and MAD/0.6745" },
  S.param { "apply", type = "bool", key = "apply_overlap_correction", scope = "global",
    default = false, doc = "write the corrected images overlapCorrection_<b>.fits (input - Offset)" },
  S.param { "tile", type = "int", default = 512, min = 16,
    doc = "tile side (pixels) of the streaming pass over the mosaic grid" },
  shared.memory_mb,
  S.param { "out_dir", type = "path", key = "OVERLAP_CORR_DIR", scope = "global",
    default = "Overlap_corr",
    doc = "output directory of offsets.tbl and the corrected images (relative paths are under output_dir)" },
}

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function basename(p) return p:match("([^/]*)$") end

-- Image_id of every interpolated image (nil: the identity 1..n).
local function image_ids(o, interp, N)
  local ids
  if o.interp_ids ~= nil then
    if type(o.interp_ids) ~= "table" then
      error(where .. ": option 'interp_ids' must be an array of Image_id numbers", 0)
    end
    ids = o.interp_ids
    if #ids ~= #interp then
      error(string.format("%s: interp_ids has %d entries, interp_images has %d", where, #ids, #interp), 0)
    end
  else
    local tpath = o.interp_table
    if tpath == nil and #interp ~= N then
      local guess = IO.join(dirname(interp[1]), "interp_ImageList.txt.tbl")
      if IO.exists(guess) then tpath = guess end
    end
    if tpath == nil then
      if #interp ~= N then
        error(string.format("%s: %d interpolated images for %d input images: give interp_ids or "
          .. "interp_table (interp_ImageList.txt.tbl)", where, #interp, N), 0)
      end
      return nil
    end
    local t <close> = core().read_table(tpath)
    if not t:has_column("image_id") or not (t:has_column("fname") or t:has_column("file")) then
      error(string.format("%s: '%s' needs columns image_id and fname", where, tpath), 0)
    end
    local idcol = t:column("image_id")
    local fcol = t:column(t:has_column("fname") and "fname" or "file")
    local by_name = {}
    for r = 1, #idcol do by_name[basename(fcol[r])] = idcol[r] end
    ids = {}
    for k, p in ipairs(interp) do
      ids[k] = by_name[basename(p)]
      if ids[k] == nil then
        error(string.format("%s: interpolated image '%s' is not in '%s'", where, p, tpath), 0)
      end
    end
  end
  for k, v in ipairs(ids) do
    if type(v) ~= "number" or v ~= math.floor(v) or v < 1 or v > N then
      error(string.format("%s: Image_id %s of interpolated image %d is outside 1..%d", where,
        tostring(v), k, N), 0)
    end
  end
  return ids
end

local function run(o)
  if o.interp_images == nil then
    error(where .. ": option 'interp_images' is required (Mosaic Interpolate's interp_<b>.fits)", 0)
  end
  local interp, idesc = IO.paths(o.interp_images, "interpolated image list")
  if #interp == 0 then error(where .. ": no interpolated images (interp_images)", 0) end
  local function parallel(key, role)
    if o[key] == nil then return nil end
    local l, desc = IO.paths(o[key], role)
    if #l ~= #interp then
      error(string.format("%s has %d entries, %s has %d", desc, #l, idesc, #interp), 0)
    end
    return l
  end
  local covs = parallel("interp_coverages", "interpolated coverage list")
  local sigs = parallel("interp_sigmas", "interpolated uncertainty list")
  local images
  if o.images ~= nil then images = IO.paths(o.images, "ImageList") end
  if o.apply and (images == nil or #images == 0) then
    error(where .. ": apply_overlap_correction needs the original images (images / "
      .. "IMAGE_STACK_FILE_NAME)", 0)
  end
  local N = images and #images or #interp
  local ids = image_ids(o, interp, N)

  local c = core()
  local pairs_, usable, drop = c.bgmatch_accumulate {
    images = interp, coverages = covs, sigmas = sigs, ids = ids, nframes = N, tile = o.tile,
    budget = math.floor(o.memory_mb * 1048576), bad_image_check = not o.skip_bad_image_check,
  }
  local dir = IO.outdir(o, o.out_dir)
  local offsets = IO.join(dir, "offsets.tbl")
  local res = c.bgmatch_solve(pairs_, {
    top_threshold = o.top_threshold, bottom_threshold = o.bottom_threshold,
    min_img_num = o.min_img_num, weight = o.weight, use_sparse = o.use_sparse,
    outlier_rule = o.outlier_rule, offsets_path = offsets,
  }, drop)
  pairs_:close()

  local tbl, dropped = {}, {}
  for k = 1, N do
    tbl[k] = { offset = res.offset[k], del = res.del[k], outlier = res.outlier[k] == 1,
               group = res.group[k] }
    if drop[k] then dropped[#dropped + 1] = k end
  end
  local corrected, lists = {}, {}
  if o.apply then
    local seen = {}
    for k, p in ipairs(images) do
      corrected[k] = IO.derived(dir, p, "overlapCorrection_", ".fits")
      if seen[corrected[k]] then
        error(string.format("%s: images %d and %d have the same base name (%s)", where,
          seen[corrected[k]], k, corrected[k]), 0)
      end
      seen[corrected[k]] = k
    end
    c.bgmatch_apply { images = images, outputs = corrected, offset = res.offset, del = res.del,
                      outlier = res.outlier }
    lists.corrected = IO.write_list(IO.join(dir, "overlapCorrection_ImageList.txt"), corrected)
  end
  c.log("info", string.format("overlap correction: %d frames, %d group(s); RMS of the overlaps' "
    .. "mean differences %.4g before, %.4g after", N, res.ngroups, res.rms_before,
    res.rms_after))
  return {
    -- with apply, the corrected frames become the current images of a chained flow
    -- (overlap.md 1.4: Mosaic runs on them)
    images = o.apply and corrected or nil,
    offsets = offsets, table = tbl, corrected = corrected, lists = lists,
    groups = res.ngroups, group_sizes = res.group_sizes, isolated = res.nisolated,
    dropped = dropped, usable = usable, del_approx = res.del_approx,
    solver = res.used_sparse and "sparse" or "dense",
    cg_iterations = res.cg_iterations, cg_residual = res.cg_residual,
    -- weighted RMS of the overlapping pairs' mean differences, before and after
    overlap_rms_before = res.rms_before, overlap_rms_after = res.rms_after,
  }
end

return S.module {
  name = "overlap_correction",
  title = "Compute Overlap Correction",
  doc = "Background matching: one additive offset per frame from the pairwise differences of "
    .. "the interpolated frames (000 l.1704-1794, l.8580-8703); writes Overlap_corr/offsets.tbl "
    .. "and, with apply_overlap_correction, overlapCorrection_<b>.fits and their list.",
  pipelines = { "overlap" },
  block = "COMPUTEOVRLAPCORRIN",
  block_aliases = { "COMPUTEOVERLAPCORRIN" },
  triggers = { "compute_overlap_correction", "compute-overlap-correction" },
  params = params,
  run = run,
}
