-- pipelines: the classic command-line interface of each MOPEX script, as data.
--
-- What lives here is the *classic vocabulary* of each pipeline (shared/spec/namelist_cli.md
-- §3 and §6): the command-line flags, the modules in execution order with every trigger
-- spelling and block name the guide or public namelists use, and the documented global
-- keys. Module *parameters* (Lua names, types, defaults) are not here: they live in one
-- place only, the module schemas (lua/mopex/modules/*.lua, mopex.schema). A step is
-- matched to its schema module through the triggers the schema declares.
--
-- Pure data plus small helpers; no dependency (the parser uses all_triggers()).
local P = {}

-- Flag -> classic key. Multi-image scripts and single-image scripts differ (§3.1).
local MULTI = {
  I = "IMAGE_STACK_FILE_NAME", S = "SIGMALIST_FILE_NAME", D = "DCE_STATUS_MASK_LIST",
  d = "DCE_STATUS_MASK_LIST", M = "PMASK_FILE_NAME", R = "RMASK_LIST", F = "FIF_FILE_NAME",
  O = "OUTPUT_DIR", m = "PRFMAP_FILE_NAME", p = "PRF_file_name", P = "MOSAIC_PRF_file_name",
  E = "EXTRACTION_TABLE", u = "INPUT_USER_LIST", T = "MOSAIC_FILE_NAME",
}
local SINGLE = {
  i = "INPUT_FILE_NAME", s = "SIGMA_FILE_NAME", C = "COVERAGE_MAP", d = "DCE_STATUS_MASK",
  M = "PMASK_FILE_NAME", R = "RMASK_FILE_NAME", O = "OUTPUT_DIR", m = "PRFMAP_FILE_NAME",
  p = "PRF_file_name", u = "INPUT_USER_LIST",
}
P.FLAG_HELP = {
  n = "namelist (read from cdf/)", I = "list of input images", i = "input image",
  S = "list of uncertainty images", s = "uncertainty image", C = "coverage map",
  D = "list of DCE status masks", d = "DCE status mask list (single image in 1-frame scripts)",
  M = "PMask image (cal/)", R = "RMask list (single image in 1-frame scripts)",
  F = "FIF table", O = "output directory", u = "user source list", m = "PRF map (cal/)",
  p = "PRF image (cal/)", P = "mosaic PRF image (cal/)", E = "point-source list", T = "input mosaic",
}

local function flags(keys, letters)
  local t = { n = { namelist = true } }
  for c in letters:gmatch("%a") do
    if c ~= "n" then t[c] = { key = assert(keys[c], c) } end
  end
  return t
end

-- Steps (modules in execution order). Fields: title, triggers (every spelling; the
-- first is the main one), blocks (accepted block names, first is the main one; {} =
-- the module has no block), optional_block (the guide documents no block, but
-- GUI-exported namelists carry an empty one), dir (its *_DIR key, if any).
local S_SN      = { title = "S/N Estimator", triggers = { "compute_uncertainties_internally" },
                    blocks = { "SNESTIMATORIN" }, dir = "SIGMA_DIR" }
local S_MEDF    = { title = "MedFilter", triggers = { "run_medfilter" }, blocks = { "MEDFILTER" },
                    dir = "MEDFILTER_DIR" }
local S_FIF     = { title = "Fiducial Image Frame", triggers = { "run_fiducial_image_frame" },
                    blocks = { "FIDUCIALIMAGEFRAMEIN" } }
local S_INTERP  = { title = "Mosaic Interpolate", triggers = { "run_mosaic_int", "run_mosaic_interp" },
                    blocks = { "MOSAICINTIN" }, dir = "INTERP_DIR" }
local S_COADD   = { title = "Mosaic CoAdder", triggers = { "run_mosaic_coadder" },
                    blocks = { "MOSAICCOADDIN" }, dir = "COADDER_DIR" }
local S_COMBINE = { title = "Mosaic Combiner", triggers = { "run_mosaic_combiner" },
                    blocks = { "MOSAICCOMBINER" }, optional_block = true,
                    dir = "COMBINER_DIR" }

local COMMON_INPUTS = {
  "IMAGE_STACK_FILE_NAME", "SIGMALIST_FILE_NAME", "DCE_STATUS_MASK_LIST", "RMASK_LIST",
  "PMASK_FILE_NAME", "FIF_FILE_NAME", "OUTPUT_DIR", "DCE_Status_Mask_Fatal_BitPattern",
  "RMask_Fatal_BitPattern", "RMask_Fatal_Bit_Pattern", "PMask_Fatal_BitPattern",
  "MOSAIC_PIXEL_SIZE_X", "MOSAIC_PIXEL_SIZE_Y", "MOSAIC_PIXEL_RATIO_X", "MOSAIC_PIXEL_RATIO_Y",
  "USE_REFINED_POINTING", "MARGIN",
}

local function list(...)
  local t = {}
  for _, l in ipairs({ ... }) do for _, v in ipairs(l) do t[#t + 1] = v end end
  return t
end

P.scripts = {}

P.scripts.overlap = {
  title = "Overlap (background matching)", schema = { "overlap" }, multiprocess = true,
  flags = flags(MULTI, "nISdDMFO"),
  required = { { "I" } },
  steps = {
    S_SN, S_MEDF, S_FIF,
    { title = "Detect", triggers = { "run_detect_outlier", "run_detect" }, blocks = { "DETECT" },
      dir = "DETECT_DIR" },
    S_INTERP,
    { title = "Compute Overlap Correction", triggers = { "compute_overlap_correction" },
      blocks = { "COMPUTEOVRLAPCORRIN" } },
    { title = "Quicklook Mosaic", triggers = { "mosaic_corrected_images" },
      blocks = { "MOSAICCOADDIN" }, dir = "COADDER_DIR" },
  },
  globals = list(COMMON_INPUTS, { "apply_zodiacal_correction", "save_zodiacal_subtracted_images",
    "apply_overlap_correction", "mask_bright" }),
}

P.scripts.mosaic = {
  title = "Mosaic", schema = { "mosaic" }, multiprocess = true,
  flags = flags(MULTI, "nISdDMRFO"),
  required = { { "I" } },
  steps = {
    S_SN, S_MEDF,
    { title = "Detect Radhit", triggers = { "run_detect_radhit" }, blocks = { "DETECT_RADHIT" },
      dir = "DMASK_DIR" },
    S_FIF,
    { title = "Mosaic Geometry", triggers = { "run_mosaic_geom" }, blocks = { "MOSAICGEOM" },
      optional_block = true },
    S_INTERP,
    { title = "Detect (Outlier)", triggers = { "run_detect_outlier" }, blocks = { "DETECT" },
      dir = "DETECT_DIR" },
    { title = "Mosaic Projection", triggers = { "run_mosaic_proj" }, blocks = { "MOSAICPROJIN" } },
    { title = "Mosaic Coverage", triggers = { "run_mosaic_covg" }, blocks = { "MOSAICCOVGIN" } },
    { title = "Mosaic Dual Outlier", triggers = { "run_mosaic_dual_outlier" },
      blocks = { "MOSAICDUALOUTLIERIN" }, dir = "DUAL_OUTLIER_DIR" },
    { title = "Level", triggers = { "run_level" }, blocks = { "LEVEL" } },
    { title = "Mosaic Outlier", triggers = { "run_mosaic_outlier" }, blocks = { "MOSAICOUTLIERIN" },
      dir = "OUTLIER_DIR" },
    { title = "Mosaic Box Outlier", triggers = { "run_mosaic_box_outlier" },
      blocks = { "MOSAICBOXOUTLIERIN" }, dir = "BOX_OUTLIER_DIR" },
    { title = "Mosaic RMask", triggers = { "run_mosaic_rmask" }, blocks = { "MOSAICRMASKIN" },
      dir = "RMASK_DIR" },
    { title = "Mosaic Reinterpolate", triggers = { "run_mosaic_reinterp", "run_mosaic_reint" },
      blocks = { "MOSAICREINTIN" }, dir = "REINTERP_DIR" },
    { title = "Fix Coverage", triggers = { "run_fix_coverage" }, blocks = { "FIX_COVERAGE" },
      optional_block = true },
    S_COADD, S_COMBINE,
    { title = "Mosaic MedFilter", triggers = { "run_mosaic_medfilter" }, blocks = { "MOSAIC_MEDFILTER" } },
    { title = "Create RMask Mosaic", triggers = { "create_rmask_mosaic" }, blocks = { "CREATERMASKMOSAIC" },
      optional_block = true },
    { title = "Make Array Correction Files", triggers = { "make_array_corr_files" },
      blocks = { "MAKEARRAYCORRFILES" }, optional_block = true },
    { title = "Make Array Correction Mosaic", triggers = { "make_array_corr_mosaic" },
      blocks = { "MAKEARRAYCORRMOSAIC" }, optional_block = true },
  },
  globals = list(COMMON_INPUTS, { "ARRAY_CORR_IMAGE", "ARRAY_PIXAREA_IMAGE", "MOVING_OBJECT_MOSAIC",
    "run_absolute_minimum_mosaic", "USE_OUTLIER_FOR_RMASK", "USE_DUAL_OUTLIER_FOR_RMASK",
    "USE_BOX_OUTLIER_FOR_RMASK", "keep_coadded_tiles", "sigma_weighted_coadd", "create_unc_mosaic",
    "create_std_mosaic", "create_outlier_mosaic", "create_dual_outlier_mosaic", "run_median_mosaic",
    "delete_array_corr_intermediate_files" }),
}

local APEX_STEPS = {
  S_SN, S_FIF, S_INTERP, S_COADD, S_COMBINE,
  { title = "Detect MedFilter", triggers = { "run_detect_medfilter" }, blocks = { "DETECT_MEDFILTER" },
    dir = "MEDFILTER_DIR" },
  { title = "Gaussnoise", triggers = { "run_gaussnoise" }, blocks = { "GAUSSNOISE", "PSP_GAUSSNOISE" } },
  { title = "Point Source Probability", triggers = { "run_pointsourceprob" }, blocks = { "POINTSOURCEPROB" } },
  { title = "Bright Detect", triggers = { "run_bright_detect" }, blocks = { "BRIGHT_DETECT", "DETECT" } },
  { title = "Detect", triggers = { "run_detect" }, blocks = { "DETECT", "PSP_GAUSSNOISE" } },
  { title = "Extract MedFilter", triggers = { "run_extract_medfilter" }, blocks = { "EXTRACT_MEDFILTER" } },
  { title = "Detection Map", triggers = { "run_detectionmap", "run_detection_map" },
    blocks = { "DETECTIONMAP" } },
  { title = "Fit Radius", triggers = { "run_fit_radius" }, blocks = { "FIT_RADIUS" } },
  { title = "Select Detect", triggers = { "run_select_detect" }, blocks = {} },
  { title = "Source Estimate", triggers = { "run_sourcestimate" }, blocks = { "SOURCESTIMATE" } },
  { title = "Aperture Photometry", triggers = { "run_aperture" }, blocks = { "APERTURE" } },
  { title = "Select", triggers = { "run_select" }, blocks = { "SELECT" }, optional_block = true },
}
local APEX_GLOBALS = list(COMMON_INPUTS, { "INPUT_USER_LIST", "use_input_list_type", "PRF_file_name",
  "PRFMAP_FILE_NAME", "MOSAIC_PRF_file_name", "PROBABILITY_THRESHOLD", "use_psp_to_detect",
  "use_background_subtracted_image_for_fitting", "use_background_subtracted_image_for_aperture",
  "use_data_unc_for_fitted_SNR", "create_std_mosaic", "create_unc_mosaic", "use_std_to_detect",
  "use_unc_to_detect", "sigma_weighted_coadd", "use_bright_object_mask", "DCE_STATUS_MASK",
  "use_extract_table_for_aperture", "INPUT_FILE_NAME", "SIGMA_FILE_NAME", "COVERAGE_MAP",
  "RMASK_FILE_NAME", "select_columns", "select_conditions", "select_detect_columns",
  "select_detect_conditions", "aponly_fixed", "keep_coadded_tiles" })

-- The four APEX scripts share modules and schema defaults ("apex"); a schema may also
-- name the exact script for script-specific defaults (looked up first).
local function apex(name, title, letters, required, mode)
  P.scripts[name] = {
    title = title, schema = { name, "apex" }, multiprocess = (mode.frames == "multi"),
    flags = flags(mode.frames == "multi" and MULTI or SINGLE, letters),
    required = required, steps = APEX_STEPS, globals = APEX_GLOBALS, mode = mode,
  }
end
apex("apex", "APEX multiframe", "nImpPSdDMRFO", { { "I" }, { "m", "p" }, { "P" } },
  { frames = "multi", source_list = "detect" })
apex("apex_user_list", "APEX user list multiframe", "nIumpPSdDMRFO",
  { { "I" }, { "u" }, { "m", "p" }, { "P" } }, { frames = "multi", source_list = "user" })
apex("apex_1frame", "APEX single frame", "nimpsCdMRO", { { "i" }, { "m", "p" } },
  { frames = "single", source_list = "detect" })
apex("apex_user_list_1frame", "APEX user list single frame", "nimpsCdMROu",
  { { "i" }, { "u" }, { "m", "p" } }, { frames = "single", source_list = "user" })
-- apex.pl and apex_1frame.pl know -u only to reject it with a clear message (§3.2).
P.scripts.apex.flags.u = { key = "INPUT_USER_LIST", user_list_only = true }
P.scripts.apex_1frame.flags.u = { key = "INPUT_USER_LIST", user_list_only = true }

P.scripts.apex_qa = {
  title = "APEX QA (residual images)", schema = { "apex_qa" }, multiprocess = false,
  -- The union of both modes; classic.lua checks the flags against the mode (Tables 9.4, 9.6).
  flags = (function()
    local t = flags(MULTI, "nEImpSdDMRFOTP")
    t.u = { namelist2 = true }
    return t
  end)(),
  modes = {
    multi = { letters = "nuEImpSdDMRFO", required = { { "u" }, { "E" }, { "I" }, { "m", "p" } } },
    single = { letters = "nTEPFO", required = { { "T" }, { "E" }, { "P" } } },
  },
  steps = {
    { title = "Point Source Image", triggers = { "create_residual_images", "run_pointsourceimage" },
      blocks = { "POINTSOURCEIMAGE" }, dir = "RESIDUAL_DIR", mode = "multi" },
    { title = "Mosaic Point Source Image",
      triggers = { "create_residual_mosaic", "run_mosaic_pointsourceimage" },
      blocks = { "MOSAIC_POINTSOURCEIMAGE" }, dir = "RESIDUAL_DIR", mode = "single" },
  },
  globals = list(COMMON_INPUTS, { "MOSAIC_FILE_NAME", "PRF_file_name", "PRFMAP_FILE_NAME",
    "EXTRACTION_TABLE", "MOSAIC_PRF_FILE_NAME", "create_pointsource_mosaic",
    "create_pointsource_images", "MOSAIC_DIR" }),
}

P.scripts.prf_estimate = {
  title = "PRF Estimate", schema = { "prf_estimate" }, multiprocess = false,
  flags = (function()
    local t = flags(MULTI, "nIMFdRO")
    t.i = { key = "INPUT_FILE_NAME" }
    t.E = { key = "POINT_SOURCE_LIST" }
    return t
  end)(),
  required = { { "I", "i" }, { "E" } },
  steps = {
    S_MEDF,
    { title = "Crop Stack", triggers = { "run_crop_stack" }, blocks = { "CROP_STACK" }, dir = "CROP_STACK_DIR" },
    { title = "Split By Array Position", triggers = { "split_by_array_position" }, blocks = {} },
    { title = "PRF Estimate", triggers = { "run_prf_estimate" }, blocks = { "PRF_ESTIMATE" } },
  },
  globals = list(COMMON_INPUTS, { "INPUT_FILE_NAME", "POINT_SOURCE_LIST", "AnnealStatus_file_name",
    "PRF_Coverage_file_name", "PRF_file_name", "PRF_Sigma_file_name", "Star_file_name",
    "StatusList_file_name", "PRFMAP_FILE_NAME" }),
}

-- Settings every script understands; classic.lua consumes them itself (§2.5).
P.settings = { "verbose", "NICE", "save_namelist", "do_multiprocess", "ncpu_multiprocess",
               "delete_intermediate_files" }

-- Keys found in real public namelists that no MOPEX document defines and that change
-- nothing in mopexlua: recognised (no W003), listed once at verbose.
P.legacy = { "have_uncertainties", "overwrite_dmask",
             "RMASK_MOSAIC_DIR", "IMask_Fatal_BitPattern", "delete_intermediate_files_array_corr",
             "IMAGELIST_FILE_NAME" }

-- Calibration-class keys: resolved against the working dir, then cal/ (§1 rule 2).
-- prf_estimate writes PRF_file_name / PRFMAP_FILE_NAME (they are outputs there).
P.calibration = { "PMASK_FILE_NAME", "PRF_file_name", "MOSAIC_PRF_file_name", "PRFMAP_FILE_NAME",
                  "ARRAY_CORR_IMAGE", "ARRAY_PIXAREA_IMAGE" }
P.scripts.prf_estimate.calibration = { "PMASK_FILE_NAME" }

-- Script-name spellings (§7 item 10) and the classic .pl names.
P.aliases = { apex_user_list_1_frame = "apex_user_list_1frame" }
P.order = { "overlap", "mosaic", "apex", "apex_user_list", "apex_1frame", "apex_user_list_1frame",
            "apex_qa", "prf_estimate" }

local function norm(k) return (k:lower():gsub("%-", "_")) end
P.norm = norm

--- Canonical script name for "mosaic", "mosaic.pl", "/usr/bin/mosaic.pl", "mosaic.lua".
function P.script_name(s)
  if type(s) ~= "string" then return nil end
  local base = s:match("([^/]*)$"):gsub("%.pl$", ""):gsub("%.lua$", "")
  base = P.aliases[base] or base
  if P.scripts[base] then return base end
  return nil
end

--- Set of every trigger spelling (normalised) of one script, or of all scripts.
function P.all_triggers(script)
  local t = {}
  for name, s in pairs(P.scripts) do
    if script == nil or script == name then
      for _, st in ipairs(s.steps) do
        for _, tr in ipairs(st.triggers) do t[norm(tr)] = tr end
      end
    end
  end
  return t
end

return P
