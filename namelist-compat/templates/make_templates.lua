-- make_templates.lua: writes the template namelists of templates/cdf/ (like MOPEX's own
-- cdf/ directory) and their INDEX. The .nl files are generated from the tables below,
-- so each guide value is written once, with its citation ("000 l.N" = MOPEX User's Guide,
-- shared/seeds/000_b1213eb459d7d411.txt; "001 l.N" = Spitzer cookbook recipe 7).
--
--   lua5.4 namelist-compat/templates/make_templates.lua [OUTDIR]    (default: templates/cdf)
--
-- tests/lua/test_classic_templates.lua regenerates them into a scratch directory and
-- checks the checked-in files are identical, and that every one parses.
--
-- What the guide gives per instrument is little: the mosaic pixel size, the default PRF,
-- its sampling and normalisation radius (Appendix C, 000 l.10585-10661) and, for IRAC,
-- the 0.6 arcsec mosaics of the GUI templates since release 18.4 (001 l.10). Everything
-- else is the module pages' COMMAND LINE INPUT example (mostly shown for IRAC ch1);
-- the templates say so where it matters. Tune them for your data.
local M = {}

local INST = {
  { id = "I1", title = "IRAC channel 1 (3.6 um)", irac = 1 },
  { id = "I2", title = "IRAC channel 2 (4.5 um)", irac = 2 },
  { id = "I3", title = "IRAC channel 3 (5.8 um)", irac = 3 },
  { id = "I4", title = "IRAC channel 4 (8.0 um)", irac = 4 },
  { id = "M1", title = "MIPS 24 um", pix = 2.45, prf = "mips24_prf_mosaic_2.45_4x.fits", norm = 57 },
  { id = "M2", title = "MIPS 70 um", pix = 4.0, prf = "mips70_prf_mosaic_4.0_4x.fits" },
  { id = "M3", title = "MIPS 160 um", pix = 8.0, prf = "mips160_prf_mosaic_8.0_4x.fits" },
  { id = "PUI_blue", title = "IRS peak-up imaging, blue", pix = 1.8, prf = "b0_prf_blue_new.fits", norm = 48 },
  { id = "PUI_red", title = "IRS peak-up imaging, red", pix = 1.8, norm = 52 },
}
for _, i in ipairs(INST) do
  if i.irac then
    i.pix = 0.6
    i.prf = string.format("apex_sh_IRAC%d_col129_row129_x100.fits", i.irac)
    i.sampling, i.norm = 100, 1000
    i.prfmap = string.format("cal/ch%d_prfmap.tbl", i.irac)
    i.detect_kernel = string.format("IRAC%d_06_mosaic_4x_detect_kernel.fits", i.irac)
  else
    i.sampling = 4
  end
end
M.INST = INST

-- pixel size in degrees, as the guide writes them (-0.00033889 for 1.22 arcsec)
local function deg(arcsec)
  local s = string.format("%.8f", arcsec / 3600):gsub("0+$", "")
  return s
end

---------------------------------------------------------------------------------------
-- Writer

local function render(t)
  local L = {}
  local function w(s) L[#L + 1] = s or "" end
  w("# " .. t.name .. ": " .. t.title)
  w("# mopexlua template namelist (classic MOPEX format). Copy it into cdf/ and edit the")
  w("# input lists; run with " .. t.run .. ".")
  for _, n in ipairs(t.notes or {}) do w("# " .. n) end
  w()
  w("###### Modules to run (1 = on, 0 = off; a missing trigger is 0) ######")
  w()
  -- Comments go on their own lines: classic MOPEX documents no trailing comments.
  for _, e in ipairs(t.triggers) do
    if e[3] then w("# " .. e[3]) end
    w(e[1] .. " = " .. e[2])
  end
  for _, sec in ipairs(t.globals) do
    w()
    w("###### " .. sec.title .. " ######")
    w()
    for _, e in ipairs(sec) do
      if e[3] then w("# " .. e[3]) end
      w(e[1] .. " = " .. (e[2] or ""))
    end
  end
  w()
  w("###### Module parameter blocks (every line in a block ends with a comma) ######")
  for _, b in ipairs(t.blocks) do
    w()
    if b.comment then w("# " .. b.comment) end
    w("&" .. b.name)
    for _, e in ipairs(b) do
      if e[3] then w(" # " .. e[3] .. ",") end
      w(" " .. e[1] .. " = " .. e[2] .. ",")
    end
    w("&END")
  end
  w()
  w("#END")
  return table.concat(L, "\n") .. "\n"
end

---------------------------------------------------------------------------------------
-- Shared pieces (module pages' COMMAND LINE INPUT examples)

local function inputs(kind, inst)
  local sec = { title = "Input files and output directory (Initial Setup, 000 l.1092-1110)" }
  if kind == "multi" then
    sec[#sec + 1] = { "IMAGE_STACK_FILE_NAME", "ImageList.txt", "-I: one input image per line" }
    sec[#sec + 1] = { "SIGMALIST_FILE_NAME", "SigmaList.txt", "-S: uncertainty images, same order" }
    sec[#sec + 1] = { "DCE_STATUS_MASK_LIST", "MaskList.txt", "-d: DCE status masks, same order" }
    sec[#sec + 1] = { "RMASK_LIST", "", "-R: outlier masks from an earlier run (optional)" }
  end
  sec[#sec + 1] = { "PMASK_FILE_NAME", "", "-M: pick the PMask valid for your DATE_OBS, e.g. "
    .. (inst.irac and string.format("cal/sep07/sep07_ch%d_bcd_pmask.fits", inst.irac) or "cal/<date>/...")
    .. " (000 l.800-806)" }
  sec[#sec + 1] = { "FIF_FILE_NAME", "", "-F: empty = the Fiducial Image Frame module writes FIF.tbl" }
  sec[#sec + 1] = { "OUTPUT_DIR", "output", "-O" }
  return sec
end

local function masks(rmask)
  return { title = "Fatal bit patterns (000 l.9150-9179)",
    { "DCE_Status_Mask_Fatal_BitPattern", "32544", "bits 5, 8-14 (000 l.1099)" },
    { "PMask_Fatal_BitPattern", "32767", "bits 0-14" },
    { "RMask_Fatal_BitPattern", rmask or "7",
      rmask == "15" and "bits 0-3: radhit, temporal, dual and box outliers (the guide's 7 leaves box outliers non-fatal, 000 l.3493-3494)"
      or "bits 0-2" },
  }
end

local function run_options(parallel)
  local sec = { title = "Run options (command line only, 000 l.9421-9436)",
    { "verbose", "0", "1: print each module's progress and parameters" },
    { "NICE", "0", "1: run at nice 19" },
    { "save_namelist", "0", "1: copy this namelist into OUTPUT_DIR as HHhMMmSSs_<name>" },
    { "delete_intermediate_files", "0" },
  }
  if parallel then
    sec[#sec + 1] = { "do_multiprocess", "off", "on (3/4 of the CPUs) | off | manual (000 l.336-346)" }
    sec[#sec + 1] = { "ncpu_multiprocess", "1", "CPUs for do_multiprocess = manual" }
  end
  return sec
end

local function pixel(inst)
  local x = deg(inst.pix)
  return { "MOSAIC_PIXEL_SIZE_X", "-" .. x }, { "MOSAIC_PIXEL_SIZE_Y", x,
    string.format("%.2f arcsec%s", inst.pix, inst.irac and " (GUI templates since 18.4, 001 l.10)"
      or " (Appendix C, 000 l.10598-10606)") }
end

local function sn_block()
  return { name = "SNESTIMATORIN", comment = "S/N Estimator: example values (000 l.1300); Gain = EXPTIME*GAIN/FLUXCONV (000 l.1250-1263)",
    { "Gain", "66.8" }, { "Read_Noise", "8.8" }, { "Confusion_Sigma", "0" } }
end

local function fif_block()
  return { name = "FIDUCIALIMAGEFRAMEIN", comment = "Fiducial Image Frame (000 l.1406-1412); CROTA2 = A: mean input orientation",
    { "Edge_Padding", "10" }, { "Projection_Type", '"TAN"' }, { "Coordinate_System", '"J2000"' },
    { "CROTA2", "A" } }
end

local function interp_block(method, page)
  return { name = "MOSAICINTIN", comment = "Mosaic Interpolate (" .. page .. "); INTERP_METHOD 1 default, 2 drizzle, 3 grid, 4 cubic",
    { "INTERP_METHOD", tostring(method) }, { "FINERES", "0" }, { "DRIZ_FAC", "1" },
    { "GRID_RATIO", "4" }, { "ALPHA", "-0.5" } }
end

local function medfilter(name, page, n_out, sbkg_filt, extra)
  local b = { name = name, comment = page,
    { "Window_X", "45" }, { "Window_Y", "45" }, { "N_Outliers_Per_Window", tostring(n_out) } }
  if extra then
    b[#b + 1] = { "Min_Good_Pixels_In_Window", "9" }
    b[#b + 1] = { "Min_GoodNeighbors_Number", "4" }
    b[#b + 1] = { "Max_Bad_Pixels_OutputImage", "100" }
  end
  b[#b + 1] = { "Sbkg_Filt_Size_for_Med", tostring(sbkg_filt) }
  b[#b + 1] = { "Use_Sbkg_for_Med", "1" }
  return b
end

local function coadd_block(tile, page, integ)
  local b = { name = "MOSAICCOADDIN", comment = "Mosaic CoAdder (" .. page .. ")",
    { "TILEMAX_X", tostring(tile) }, { "TILEMAX_Y", tostring(tile) } }
  if integ then b[#b + 1] = { "INTEG_TIME_KWD", "'EXPTIME'", "exposure-time weighted coadd (000 l.3688-3693)" } end
  return b
end

---------------------------------------------------------------------------------------
-- Pipelines

local T = {}

function T.overlap(inst)
  local px, py = pixel(inst)
  return {
    name = "overlap_" .. inst.id .. ".nl", title = "Overlap (background matching), " .. inst.title,
    run = "overlap.pl -n overlap_" .. inst.id .. ".nl",
    notes = { "Modules of 000 l.547-571: Fiducial Image Frame, Mosaic Interpolate, Compute Overlap",
              "Correction. For bright-object masking turn on MedFilter and Detect and set mask_bright = 1." },
    triggers = {
      { "compute_uncertainties_internally", "0", "S/N Estimator" },
      { "run_medfilter", "0" }, { "run_fiducial_image_frame", "1" },
      { "run_detect", "0", "Detect (bright objects)" }, { "run_mosaic_int", "1" },
      { "compute_overlap_correction", "1" }, { "mosaic_corrected_images", "0", "Quicklook Mosaic" },
    },
    globals = {
      inputs("multi", inst), masks(),
      { title = "Overlap Settings (000 l.1200-1210)", px, py,
        { "MOSAIC_PIXEL_RATIO_X", "1" }, { "MOSAIC_PIXEL_RATIO_Y", "1" },
        { "USE_REFINED_POINTING", "0" }, { "apply_overlap_correction", "1", "write the corrected images (000 l.9364)" },
        { "mask_bright", "0", "1: ignore Detect's bright objects (000 l.1664-1672)" },
        { "apply_zodiacal_correction", "0" }, { "save_zodiacal_subtracted_images", "0" },
        { "MARGIN", "0", "FIF margin in pixels (000 l.1417-1424)" } },
      { title = "Module output directories (relative to OUTPUT_DIR)",
        { "SIGMA_DIR", "Sigma-overlap" }, { "MEDFILTER_DIR", "Medfilter-overlap" },
        { "DETECT_DIR", "Detect-overlap" }, { "INTERP_DIR", "Interp-overlap" } },
      run_options(true),
    },
    blocks = {
      sn_block(), medfilter("MEDFILTER", "MedFilter (000 l.1501-1507)", 50, 3), fif_block(),
      { name = "DETECT", comment = "Detect (000 l.1584-1589)",
        { "Detection_Max_Area", "1000" }, { "Detection_Min_Area", "0" },
        { "Detection_Threshold", "3" }, { "Threshold_Type", "'simple'" } },
      interp_block(3, "000 l.1664-1670: Grid is the Overlap default for speed"),
      { name = "COMPUTEOVRLAPCORRIN", comment = "Compute Overlap Correction (000 l.1743-1748)",
        { "TOP_THRESHOLD", "3" }, { "BOTTOM_THRESHOLD", "3" }, { "MIN_IMG_NUM", "4" }, { "WEIGHT", "0.0" } },
      coadd_block(2000, "Quicklook Mosaic, 000 l.1820-1823"),
    },
  }
end

local function mosaic_like(inst, qa)
  local px, py = pixel(inst)
  local on = qa and "0" or "1"
  local t = {
    name = (qa and "mosaic_qa_" or "mosaic_") .. inst.id .. ".nl",
    title = qa and ("Mosaic of APEX QA residual images (apex_qa.pl -u), " .. inst.title)
      or ("Mosaic with dual, temporal and box outlier rejection, " .. inst.title),
    run = qa and ("apex_qa.pl -n apex_qa_" .. inst.id .. ".nl -u mosaic_qa_" .. inst.id .. ".nl")
      or ("mosaic.pl -n mosaic_" .. inst.id .. ".nl"),
    notes = qa and { "Read by apex_qa.pl through -u: the residual images are interpolated, co-added and",
                     "combined on the FIF of the APEX run (000 l.6711-6713); no outlier rejection." }
      or { "Module set of 000 l.573-626 with all three main outlier methods, as the GUI IRAC",
           "template (001 l.133); RMask_Fatal_BitPattern includes the box-outlier bit." },
    triggers = {
      { "compute_uncertainties_internally", "0", "S/N Estimator" },
      { "run_medfilter", on }, { "run_detect_radhit", "0" },
      { "run_fiducial_image_frame", qa and "0" or "1", qa and "the FIF of the APEX run is used" or nil },
      { "run_mosaic_geom", "0" }, { "run_mosaic_int", "1" },
      { "run_detect_outlier", on }, { "run_mosaic_proj", on }, { "run_mosaic_covg", on },
      { "run_mosaic_dual_outlier", on }, { "run_level", on }, { "run_mosaic_outlier", on },
      { "run_mosaic_box_outlier", on }, { "run_mosaic_rmask", on }, { "run_mosaic_reinterp", on },
      { "run_fix_coverage", "0" }, { "run_mosaic_coadder", "1" }, { "run_mosaic_combiner", "1" },
      { "run_mosaic_medfilter", "0" }, { "create_rmask_mosaic", "0" },
      { "make_array_corr_files", "0" }, { "make_array_corr_mosaic", "0" },
    },
    globals = {
      inputs("multi", inst), masks(qa and "7" or "15"),
      { title = "Mosaic Settings (000 l.2294-2309)", px, py,
        { "MOSAIC_PIXEL_RATIO_X", "1" }, { "MOSAIC_PIXEL_RATIO_Y", "1" },
        { "USE_REFINED_POINTING", "0" }, { "MOVING_OBJECT_MOSAIC", "0", "index of the reference frame; 0 = normal mosaic" },
        { "run_absolute_minimum_mosaic", "0" },
        { "ARRAY_CORR_IMAGE", "", inst.irac and string.format("e.g. cal/ch%d_photcorr_rj.fits (000 l.4053-4061)", inst.irac) or nil },
        { "ARRAY_PIXAREA_IMAGE", "", inst.irac and string.format("e.g. cal/ch%drelpixarea.fits", inst.irac) or nil },
        { "MARGIN", "0" } },
      { title = "Outlier masks and coaddition (000 l.3422-3440, 3671-3685)",
        { "USE_OUTLIER_FOR_RMASK", on }, { "USE_DUAL_OUTLIER_FOR_RMASK", on },
        { "USE_BOX_OUTLIER_FOR_RMASK", on }, { "keep_coadded_tiles", "1" },
        { "sigma_weighted_coadd", "0" }, { "create_unc_mosaic", "1" }, { "create_std_mosaic", "0" },
        { "create_outlier_mosaic", on }, { "create_dual_outlier_mosaic", on }, { "run_median_mosaic", "0" } },
      { title = "Module output directories (relative to OUTPUT_DIR)",
        { "SIGMA_DIR", "Sigma-mosaic" }, { "MEDFILTER_DIR", "Medfilter-mosaic" },
        { "DMASK_DIR", "Dmask-mosaic" }, { "INTERP_DIR", "Interp-mosaic" },
        { "DETECT_DIR", "Detect-mosaic" }, { "DUAL_OUTLIER_DIR", "DualOutlier-mosaic" },
        { "OUTLIER_DIR", "Outlier-mosaic" }, { "BOX_OUTLIER_DIR", "BoxOutlier-mosaic" },
        { "RMASK_DIR", "Rmask-mosaic" }, { "REINTERP_DIR", "Reinterp-mosaic" },
        { "COADDER_DIR", "Coadd-mosaic" }, { "COMBINER_DIR", "Combine-mosaic" } },
      run_options(true),
    },
    blocks = {
      sn_block(), medfilter("MEDFILTER", "MedFilter (000 l.2634-2640)", 50, 1),
      { name = "DETECT_RADHIT", comment = "Detect Radhit (000 l.2715-2719)",
        { "Segmentation_Threshold", "3" }, { "Detection_Max_Area", "3" }, { "Radhit_Threshold", "10" } },
      fif_block(), interp_block(1, "000 l.2813-2819"),
      { name = "DETECT", comment = "Detect (Outlier) (000 l.2891-2896)",
        { "Detection_Max_Area", "1000" }, { "Detection_Min_Area", "0" },
        { "Detection_Threshold", "3" }, { "Threshold_Type", "'simple'" } },
      { name = "MOSAICPROJIN", comment = "Mosaic Projection: no parameters, but the block is required (000 l.2946-2950)" },
      { name = "MOSAICCOVGIN", comment = "Mosaic Coverage (000 l.2996-3000)", { "TILEMAX_X", "500" }, { "TILEMAX_Y", "500" } },
      { name = "MOSAICDUALOUTLIERIN", comment = "Mosaic Dual Outlier (000 l.3059-3065)",
        { "MAX_OUTL_IMAGE", "2" }, { "MAX_OUTL_FRAC", "0.95" }, { "TILE_XSIZ", "500" }, { "TILE_YSIZ", "500" } },
      { name = "LEVEL", comment = "Level (000 l.3129-3131)", { "THRESHOLD_RATIO", "0.5" } },
      { name = "MOSAICOUTLIERIN", comment = "Mosaic Outlier (000 l.3216-3223); raise the thresholds for coverage above ~50",
        { "BOTTOM_THRESHOLD", "3" }, { "TOP_THRESHOLD", "3" }, { "THRESH_OPTION", "1" },
        { "MIN_PIX_NUM", "3" }, { "TILE_XSIZ", "500" }, { "TILE_YSIZ", "500" } },
      { name = "MOSAICBOXOUTLIERIN", comment = "Mosaic Box Outlier (000 l.3312-3318)",
        { "BOX_X", "3" }, { "BOX_Y", "3" }, { "BOX_MEDIAN_BIAS", "1" }, { "TILE_XSIZ", "500" }, { "TILE_YSIZ", "500" } },
      { name = "MOSAICRMASKIN", comment = "Mosaic RMask (000 l.3422-3433)",
        { "BOTTOM_THRESHOLD", "3" }, { "TOP_THRESHOLD", "3" }, { "RM_THRESH", "1" },
        { "MIN_COVERAGE", "500" }, { "MAX_COVERAGE", "500" }, { "REFINE_OUTLIER", "1" },
        { "REFINE_OUTLIER_THRESH", "10" }, { "BOX_BOTTOM_THRESHOLD", "10" },
        { "BOX_TOP_THRESHOLD", "10" }, { "BOX_MIN_COVERAGE", "1" } },
      { name = "MOSAICREINTIN", comment = "Mosaic Reinterpolate: no parameters (000 l.3528-3530)" },
      coadd_block(1000, "000 l.3671-3676", true),
      medfilter("MOSAIC_MEDFILTER", "Mosaic MedFilter (000 l.3929-3935)", 500, 1),
    },
  }
  return t
end

function T.mosaic(inst) return mosaic_like(inst, false) end
function T.mosaic_qa(inst) return mosaic_like(inst, true) end

-- APEX ------------------------------------------------------------------------------
local function apex(inst, variant)
  local single = variant.single
  local user = variant.user
  local px, py = pixel(inst)
  local mosaic_on = (not single and not variant.have_mosaic) and "1" or "0"
  -- IRAC PRFs are frame PRFs: no PRF fitting on IRAC mosaics (000 l.4750-4751)
  local fit = not (single and inst.irac)
  local frame_prf = inst.irac and inst.prf or nil        -- no frame PRF is named for MIPS/PUI
  local prf = single and inst.prf or frame_prf
  local name = "apex_" .. (user and "user_list_" or "") .. (single and "1frame_" or "") .. inst.id
    .. (variant.have_mosaic and "_have_mosaic" or "") .. ".nl"
  local script = "apex" .. (user and "_user_list" or "") .. (single and "_1frame" or "") .. ".pl"
  local notes = {}
  if variant.have_mosaic then
    notes[#notes + 1] = "Uses the mosaic mosaic.pl made in the same OUTPUT_DIR: the APEX mosaicking"
    notes[#notes + 1] = "modules are off (Appendix C default for IRAC, 000 l.10604, 10709-10732)."
  elseif not single then
    notes[#notes + 1] = "Makes its own mosaic (no outlier rejection); apex_" .. inst.id
      .. "_have_mosaic.nl reuses a mosaic.pl run instead (000 l.10709-10732)."
  end
  if single and inst.irac then
    notes[#notes + 1] = "IRAC PRFs are for frames: no PRF fitting on IRAC mosaics (000 l.4750-4751), so"
    notes[#notes + 1] = "this template measures aperture photometry only; use apex.pl for PRF fitting."
  end
  if not prf and fit then
    notes[#notes + 1] = "The guide names no " .. (single and "mosaic" or "frame") .. " PRF for " .. inst.title
      .. ": give one with -p or PRF_file_name."
  end
  if not inst.irac and not single then
    notes[#notes + 1] = "For " .. inst.title .. " the guide fits on the mosaic: see apex_1frame_" .. inst.id .. ".nl (Appendix C)."
  end
  local trig = {
    { "compute_uncertainties_internally", "0", "S/N Estimator" },
  }
  if not single then
    trig[#trig + 1] = { "run_fiducial_image_frame", mosaic_on }
    trig[#trig + 1] = { "run_mosaic_int", mosaic_on }
    trig[#trig + 1] = { "run_mosaic_coadder", mosaic_on }
    trig[#trig + 1] = { "run_mosaic_combiner", mosaic_on }
  end
  local detect = user and "0" or "1"
  trig[#trig + 1] = { "run_detect_medfilter", detect }
  trig[#trig + 1] = { "run_gaussnoise", detect }
  trig[#trig + 1] = { "run_pointsourceprob", detect }
  trig[#trig + 1] = { "run_bright_detect", "0" }
  trig[#trig + 1] = { "run_detect", detect }
  trig[#trig + 1] = { "run_extract_medfilter", "1" }
  if user and not single then trig[#trig + 1] = { "run_detectionmap", "1", "needed by user-list multiframe (000 l.700-707)" } end
  trig[#trig + 1] = { "run_fit_radius", "0", "optional: fitting area from the noise (000 l.648-652)" }
  trig[#trig + 1] = { "run_select_detect", "0" }
  trig[#trig + 1] = { "run_sourcestimate", fit and "1" or "0", "PRF fitting" }
  trig[#trig + 1] = { "run_aperture", "1" }
  trig[#trig + 1] = { "run_select", fit and "1" or "0" }

  local files = { title = "Input files and output directory (Initial Setup, 000 l.4490-4507)" }
  if single then
    files[#files + 1] = { "INPUT_FILE_NAME", "output/Combine-mosaic/mosaic.fits", "-i: e.g. the mosaic of mosaic.pl" }
    files[#files + 1] = { "SIGMA_FILE_NAME", "output/Combine-mosaic/mosaic_unc.fits", "-s" }
    files[#files + 1] = { "COVERAGE_MAP", "output/Combine-mosaic/mosaic_cov.fits", "-C" }
    files[#files + 1] = { "DCE_STATUS_MASK", "", "-d (optional)" }
  else
    for _, e in ipairs(inputs("multi", inst)) do files[#files + 1] = e end
  end
  if single then
    files[#files + 1] = { "PMASK_FILE_NAME", "" }
    files[#files + 1] = { "OUTPUT_DIR", "output", "-O" }
  end
  if user then
    files[#files + 1] = { "INPUT_USER_LIST", "user_list.tbl", "-u: IPAC table of positions (000 l.9101-9148)" }
  end
  local settings = { title = "APEX Settings (000 l.4670-4710" .. (single and ", 4813-4833)" or ")") }
  if user then settings[#settings + 1] = { "use_input_list_type", "1", "0 x,y; 1 RA,Dec; 3 both" } end
  if not single then settings[#settings + 1] = px; settings[#settings + 1] = py end
  settings[#settings + 1] = { "PRF_file_name", prf and ("cal/" .. prf) or "",
    string.format("-p; %dx sampled%s", inst.sampling, inst.irac and " (Appendix C)" or (prf and " (Appendix C)" or "")) }
  if inst.irac and not single then
    settings[#settings + 1] = { "PRFMAP_FILE_NAME", "", "-m: e.g. " .. inst.prfmap
      .. " with the full PRF set, recommended (001 l.184-186)" }
    settings[#settings + 1] = { "MOSAIC_PRF_file_name", "cal/" .. inst.detect_kernel,
      "-P: detection kernel for 0.6 arcsec mosaics (001 l.189"
        .. (inst.irac > 1 and "; name by analogy with channel 1)" or ")") }
  elseif not single then
    settings[#settings + 1] = { "PRFMAP_FILE_NAME", "" }
    settings[#settings + 1] = { "MOSAIC_PRF_file_name", inst.prf and ("cal/" .. inst.prf) or "", "-P" }
  end
  settings[#settings + 1] = { "PROBABILITY_THRESHOLD", "0.0" }
  settings[#settings + 1] = { "use_psp_to_detect", "1" }
  settings[#settings + 1] = { "use_background_subtracted_image_for_fitting", "1" }
  settings[#settings + 1] = { "use_background_subtracted_image_for_aperture", "0" }
  settings[#settings + 1] = { "use_data_unc_for_fitted_SNR", "1" }
  if single then
    settings[#settings + 1] = { "use_extract_table_for_aperture", fit and "1" or "0" }
  else
    settings[#settings + 1] = { "create_std_mosaic", "0" }
    settings[#settings + 1] = { "create_unc_mosaic", "1" }
    settings[#settings + 1] = { "use_std_to_detect", "0" }
    settings[#settings + 1] = { "use_unc_to_detect", "1" }
    settings[#settings + 1] = { "sigma_weighted_coadd", "0" }
    settings[#settings + 1] = { "keep_coadded_tiles", "1" }
  end
  settings[#settings + 1] = { "USE_REFINED_POINTING", "0" }
  settings[#settings + 1] = { "use_bright_object_mask", "0" }
  settings[#settings + 1] = { "select_columns", '"srcid,RA,Dec,x,y,flux,SNR,chi2/dof,deblend"', "Select (000 l.6677-6684)" }
  settings[#settings + 1] = { "select_conditions", '"SNR > 5" and "deblend ! NO and deblend ! PO and deblend ! AO and deblend ! PAO"' }
  local dirs = { title = "Module output directories (relative to OUTPUT_DIR)", { "SIGMA_DIR", "Sigma-apex" },
                 { "MEDFILTER_DIR", "Medfilter-apex" } }
  if not single then
    -- with an existing mosaic APEX must read mosaic.pl's products (000 l.10724-10732)
    local suffix = variant.have_mosaic and "mosaic" or "apex"
    dirs[#dirs + 1] = { "INTERP_DIR", "Interp-" .. suffix }
    dirs[#dirs + 1] = { "COADDER_DIR", "Coadd-" .. suffix }
    dirs[#dirs + 1] = { "COMBINER_DIR", "Combine-" .. suffix }
  end
  local globals = { files }
  if not single then globals[#globals + 1] = masks() else
    globals[#globals + 1] = { title = "Fatal bit patterns (000 l.9150-9179)",
      { "DCE_Status_Mask_Fatal_BitPattern", "32544" }, { "PMask_Fatal_BitPattern", "32767" } }
  end
  globals[#globals + 1] = settings
  globals[#globals + 1] = dirs
  globals[#globals + 1] = run_options(not single)

  local blocks = { sn_block() }
  if not single then
    blocks[#blocks + 1] = fif_block()
    blocks[#blocks + 1] = interp_block(1, "000 l.5148-5154")
    blocks[#blocks + 1] = coadd_block(1000, "000 l.5234-5239", true)
  end
  blocks[#blocks + 1] = medfilter("DETECT_MEDFILTER", "Detect MedFilter (000 l.5373-5383)", 50, 1, true)
  blocks[#blocks + 1] = { name = "POINTSOURCEPROB", comment = "Point Source Probability (000 l.5480-5487)",
    { "PRF_ResampleX_Factor", "4" }, { "PRF_ResampleY_Factor", "4" }, { "PRF_Xsize", "3" },
    { "PRF_Ysize", "3" }, { "Noise_Type", "'external_noise'" }, { "Apriori_Probability", "0.1" } }
  blocks[#blocks + 1] = { name = "GAUSSNOISE", comment = "Gaussnoise (000 l.5577-5584)",
    { "Window_X", "45" }, { "Window_Y", "45" }, { "N_Outliers_Per_Window", "100" },
    { "Min_Good_Pixels_In_Window", "9" }, { "Min_GoodNeighbours_Number", "4" },
    { "Max_BadPixels_OutputImage", "100" } }
  blocks[#blocks + 1] = { name = "DETECT", comment = "Detect (000 l.5832-5842)",
    { "Input_Type", "'image_input'" }, { "Output_Type", '"centroids_only_output"' },
    { "Detection_Max_Area", "5" }, { "Detection_Min_Area", "2" }, { "Detection_Threshold", "10" },
    { "Threshold_Type", "'combo'" }, { "Extended_Object_Area", "500" }, { "Minimum_Coverage", "1.8" },
    { "Complete_Table_Out_Filename", '"completeout.tbl"' } }
  blocks[#blocks + 1] = medfilter("EXTRACT_MEDFILTER", "Extract MedFilter (000 l.6098-6108)", 50, 1, true)
  if user and not single then
    blocks[#blocks + 1] = { name = "DETECTIONMAP", comment = "Detection Map (000 l.6293-6295)", { "N_Edge", "4" } }
  end
  blocks[#blocks + 1] = { name = "FIT_RADIUS", comment = "Fit Radius: no parameters (000 l.6167-6168)" }
  if fit then
    local resample = tostring(inst.sampling)
    local norm = inst.norm and tostring(inst.norm) or nil
    local b = { name = "SOURCESTIMATE",
      comment = "Source Estimate (000 l.6426-6451); PRF sampling and Normalization_Radius from Appendix C",
      { "InputType", single and "'image_list'" or (user and "'detection_map'" or "'tile_map'"),
        "where the fitting images are (apex.md 3.18)" },
      { "Fitting_Area_X", "5" }, { "Fitting_Area_Y", "5" }, { "Max_Number_PS", "1" },
      { "Chi_Threshold", "3" }, { "N_Edge", "4" }, { "Max_N_Iteration", "1000" },
      { "Max_N_Success_Iteration", "0" }, { "MinimizeFtol", "0.001" }, { "MinimizeFtolSuccess", "0.00001" },
      { "DitherPixelFraction", "0.1" }, { "DitherFluxFraction", "0.8" },
      { "DeblendDitherPixelFraction", "1." }, { "Background_Fit", "0" }, { "Random_Fit", "0" },
      { "Chi2_Improvement", "1." }, { "PRF_ResampleX_Factor", resample }, { "PRF_ResampleY_Factor", resample },
      { "Normalization_Radius", norm or "", (not norm) and "empty: normalise over the whole PRF (Appendix C: none)" or nil },
      { "MaxShift_X", "3.0" }, { "MaxShift_Y", "3.0" }, { "Angular_Distance", "6.0" },
      { "Use_Photerr_for_SNR", "1" }, { "Gain_for_SNR", "1000.0" } }
    blocks[#blocks + 1] = b
  end
  local ap = inst.irac and not single
  blocks[#blocks + 1] = { name = "APERTURE",
    comment = ap and "Aperture Photometry on the 0.6 arcsec mosaic: radii 4, 6, 10 pixels = 2, 3, 5 BCD pixels (001 l.210)"
      or "Aperture Photometry (000 l.6531-6541)",
    { "N_Apertures", "3" }, { "Aperture_Radius_1", ap and "4.0" or "5.0" },
    { "Aperture_Radius_2", ap and "6.0" or "6.0" }, { "Aperture_Radius_3", ap and "10.0" or "7.0" },
    { "Min_Number_Pixels", "10" }, { "Annulus_Compute_Type", "'mode'" }, { "Inner_Radius", "15" },
    { "Outer_Radius", "25" }, { "Use_Annulus", "1" } }
  return { name = name, title = (single and "APEX single frame" or "APEX multiframe")
      .. (user and " on a user list" or "") .. (variant.have_mosaic and " on an existing mosaic" or "")
      .. ", " .. inst.title,
    run = script .. " -n " .. name, notes = notes, triggers = trig, globals = globals, blocks = blocks }
end

local function apex_qa(inst, single)
  local name = "apex_qa_" .. (single and "1frame_" or "") .. inst.id .. ".nl"
  local prf = inst.prf and ("cal/" .. inst.prf) or ""
  local files = { title = "Input files and output directory (APEX QA Initial Setup, 000 l.6781-6798)" }
  if single then
    files[#files + 1] = { "MOSAIC_FILE_NAME", "output/Combine-mosaic/mosaic.fits", "-T" }
  else
    for _, e in ipairs(inputs("multi", inst)) do files[#files + 1] = e end
  end
  if single then files[#files + 1] = { "OUTPUT_DIR", "output", "-O" } end
  local settings = { title = "APEX QA Settings (000 l." .. (single and "6941-6946" or "6890-6902") .. ")",
    { "EXTRACTION_TABLE", "output/extract.tbl", "-E: the extract table of the APEX run" } }
  if single then
    settings[#settings + 1] = { "MOSAIC_PRF_FILE_NAME", prf, "-P" }
  else
    local px, py = pixel(inst)
    settings[#settings + 1] = px
    settings[#settings + 1] = py
    settings[#settings + 1] = { "PRF_file_name", prf, "-p" }
    settings[#settings + 1] = { "PRFMAP_FILE_NAME", "", "-m: e.g. " .. (inst.prfmap or "") }
  end
  settings[#settings + 1] = { "USE_REFINED_POINTING", "0" }
  settings[#settings + 1] = { "RESIDUAL_DIR", "Residual-ApexQA", "residual images (000 l.7010-7011)" }
  local globals = { files }
  if not single then globals[#globals + 1] = masks() end
  globals[#globals + 1] = settings
  globals[#globals + 1] = run_options(false)
  local resample = tostring(inst.sampling)
  local block = { name = single and "MOSAIC_POINTSOURCEIMAGE" or "POINTSOURCEIMAGE",
    comment = "Point Source Image (000 l.7015-7034): resample factors and radius as in Source Estimate",
    { "PRF_ResampleX_Factor", resample }, { "PRF_ResampleY_Factor", resample },
    { "Input_RA_Dec", "1" }, { "X_Column_Name", "'RA'" }, { "Y_Column_Name", "'Dec'" },
    { "Normalization_Radius", inst.norm and tostring(inst.norm) or "" },
    { "Outer_Radius", inst.irac and "44" or "" }, { "Hole_Radius", inst.irac and "21" or "" } }
  local notes = {}
  if not single then
    notes[#notes + 1] = "The residual mosaic is made with the -u namelist, mosaic_qa_" .. inst.id .. ".nl (000 l.9648-9651)."
  end
  if not inst.irac then
    notes[#notes + 1] = "Outer_Radius and Hole_Radius are empty: the guide gives them for the IRAC example only."
  end
  if prf == "" then notes[#notes + 1] = "The guide names no PRF for " .. inst.title .. ": give it with -P / -p." end
  return { name = name, title = "APEX QA residual " .. (single and "mosaic (after apex_1frame.pl)" or "images (after apex.pl)")
      .. ", " .. inst.title,
    run = single and ("apex_qa.pl -n " .. name .. " -T mosaic.fits -E extract.tbl")
      or ("apex_qa.pl -n " .. name .. " -u mosaic_qa_" .. inst.id .. ".nl"),
    notes = notes,
    triggers = { { single and "create_residual_mosaic" or "create_residual_images", "1", "Point Source Image" } },
    globals = globals, blocks = { block } }
end

function T.prf_estimate(inst)
  local name = "prf_estimate_" .. inst.id .. ".nl"
  local notes = { "Module set of 000 l.725-738: MedFilter, Crop Stack, PRF Estimate (optionally",
                  "Split By Array Position for a PRF map)." }
  if inst.irac and inst.irac <= 2 then
    notes[#notes + 1] = "Not designed for undersampled data such as IRAC channels 1 and 2 (000 l.728-729);"
    notes[#notes + 1] = "use the PRFs shipped for IRAC."
  end
  return { name = name, title = "PRF Estimate, " .. inst.title, run = "prf_estimate.pl -n " .. name,
    notes = notes,
    triggers = { { "run_medfilter", "1" }, { "run_crop_stack", "1" }, { "split_by_array_position", "0" },
                 { "run_prf_estimate", "1" } },
    globals = {
      { title = "Input files and output directory (000 l.7286-7292)",
        { "INPUT_FILE_NAME", "", "-i: one image, or" },
        { "IMAGE_STACK_FILE_NAME", "ImageList.txt", "-I: a list of images" },
        { "POINT_SOURCE_LIST", "prf_stars.tbl", "-E: IPAC table of isolated stars (e.g. an edited extract.tbl)" },
        { "DCE_STATUS_MASK_LIST", "", "-d" }, { "RMASK_LIST", "", "-R" },
        { "PMASK_FILE_NAME", "", "-M" }, { "FIF_FILE_NAME", "", "-F" },
        { "OUTPUT_DIR", "output_prfestimate_" .. inst.id, "-O" } },
      { title = "PRF Estimate settings (000 l.7355-7362)",
        { "AnnealStatus_file_name", "FitStat.tbl" }, { "PRF_Coverage_file_name", "PRFCov.fits" },
        { "PRF_file_name", "PRF.fits", "output PRF" }, { "PRF_Sigma_file_name", "PRFSigma.fits" },
        { "Star_file_name", "star.fits" }, { "StatusList_file_name", "Status.txt" },
        { "PRFMAP_FILE_NAME", "prfmap.tbl", "output PRF map of Split By Array Position" },
        { "USE_REFINED_POINTING", "0" } },
      { title = "Module output directories (relative to OUTPUT_DIR)",
        { "MEDFILTER_DIR", "Medfilter-PRF-Estimate" }, { "CROP_STACK_DIR", "Crop_Stack" } },
      run_options(false),
    },
    blocks = {
      medfilter("MEDFILTER", "MedFilter (000 l.7415-7421)", 500, 3),
      { name = "CROP_STACK", comment = "Crop Stack (000 l.7487-7494)",
        { "PostStamp_Xsize", "21" }, { "PostStamp_Ysize", "21" }, { "X_Column_Name", "'RA'" },
        { "Y_Column_Name", "'Dec'" }, { "TransformationType", "'SkyToPlane'" } },
      { name = "PRF_ESTIMATE", comment = "PRF Estimate (000 l.7612-7629)",
        { "MinNumber_Replacement_Pixels", "8" }, { "Reject_NaNs", "0" }, { "Outlier_Threshold", "3" },
        { "Min_Outlier_Overlap", "0.5" }, { "Max_Ratio_Outliers", "0.1" }, { "Max_Number_Outliers", "0" },
        { "Flux_Column_Name", "'flux'" }, { "PRF_ResampleX_Factor", "4" }, { "PRF_ResampleY_Factor", "4" },
        { "Zero_Edge", "0" }, { "Fit_Seed", "0" }, { "Fit_X", "5" }, { "Fit_Y", "5" },
        { "Center_Box_X", "7" }, { "Center_Box_Y", "7" } },
    },
  }
end

--- Every template as { name, text, title, pipeline }.
function M.all()
  local out = {}
  local function add(t, pipeline)
    out[#out + 1] = { name = t.name, title = t.title, text = render(t), pipeline = pipeline }
  end
  for _, inst in ipairs(INST) do
    add(T.overlap(inst), "overlap")
    add(T.mosaic(inst), "mosaic")
    if inst.irac then
      add(apex(inst, {}), "apex")
      add(apex(inst, { have_mosaic = true }), "apex")
      add(apex(inst, { user = true }), "apex_user_list")
      add(apex_qa(inst, false), "apex_qa")
      add(T.mosaic_qa(inst), "mosaic")
    else
      add(apex(inst, {}), "apex")
      add(apex_qa(inst, true), "apex_qa")
    end
    add(apex(inst, { single = true }), "apex_1frame")
    add(apex(inst, { single = true, user = true }), "apex_user_list_1frame")
    add(T.prf_estimate(inst), "prf_estimate")
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- INDEX text: "<name> <pipeline> <title>" per line.
function M.index(list)
  local L = {}
  for _, t in ipairs(list) do L[#L + 1] = string.format("%-36s %s", t.name, t.title) end
  return table.concat(L, "\n") .. "\n"
end

function M.write(dir)
  local list = M.all()
  for _, t in ipairs(list) do
    local f = assert(io.open(dir .. "/" .. t.name, "wb"))
    f:write(t.text)
    f:close()
  end
  local f = assert(io.open(dir .. "/INDEX", "wb"))
  f:write(M.index(list))
  f:close()
  return #list
end

-- Run as a script: write the templates.
if arg and arg[0] and arg[0]:match("make_templates%.lua$") then
  local dir = arg[1] or (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/cdf"
  print(M.write(dir) .. " templates written to " .. dir)
end

return M
