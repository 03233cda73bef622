/* mx_framemods.h - the per-frame modules of the outlier flow (Mosaic) and of
 * bright-object masking (Overlap), at file level: MedFilter, Detect /
 * Detect (Outlier), Detect Radhit, Mosaic Projection, Level, Make Array
 * Correction Files.
 *
 * Guide: 000 l.1462-1616 (Overlap MedFilter, Detect), l.2595-2750 (Mosaic
 * MedFilter, Detect Radhit), l.2858-2973 (Detect (Outlier), Mosaic
 * Projection), l.3092-3174 (Level), l.3987-4088 (array correction), chapter 8
 * l.7789-8040. Specs: mosaic.md 5.6.6, 5.6.7, 5.6.9, 5.6.10, 5.6.13, 5.6.23;
 * overlap.md 4.3.5, 4.3.6; algorithms.md 2.1, 2.3, 3. The numerics are the
 * in-memory kernels (mx_medfilter.h, mx_segment.h, mx_resample.h); this
 * layer reads, masks, names and writes.
 *
 * COMMON RULES
 *  - Frames run in parallel (mx_parallel_for over frames; each worker holds
 *    one frame's arrays only, nothing shared but read-only inputs), so any
 *    thread count writes the same bytes. The kernels inside may themselves
 *    use mx_parallel_for (MedFilter does).
 *  - Outputs go to opts->out_dir (created when missing), written atomically;
 *    after all frames, a list file of the written files in input order.
 *  - <b> (NAMES): the input's base name without directory and .fits
 *    (mx_path_basename_noext), minus the module's input suffix when present
 *    ("_minback" for Detect and Detect Radhit: Medfilter-mosaic/x_minback.fits
 *    gives Detect-mosaic/x_detmap.fits). When several inputs share a <b>
 *    (the same file name in two directories) each of them becomes "<i>_<b>",
 *    i the 1-based input position, so no output overwrites another.
 *  - Every auxiliary image (mask, PMask, WCS source, correction image) must
 *    have its frame's size: MX_ERR_MISMATCH naming both files and sizes.
 *  - Fatal bits (algorithms.md 11): a pixel is bad when
 *    (dce & dce_fatal) or (pmask & pmask_fatal) is non-zero.
 *  - mx_progress over frames; interrupts are checked between frames.
 *  - Each frame's wall-clock time is measured (mx_fm_frame.seconds) and
 *    logged at debug level.
 *
 * C option structs have no defaults: the schemas in lua/mopex/modules/
 * (medfilter, detect, detect_radhit, projection, level, array_corr_files)
 * fill every field.
 */
#ifndef MX_FRAMEMODS_H
#define MX_FRAMEMODS_H

#include <stdint.h>
#include "mx_medfilter.h"
#include "mx_pixmap.h"
#include "mx_segment.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The frames of one call: n inputs plus the optional parallel lists (NULL =
 * not given; a given list has n entries). Paths are borrowed. What
 * `images` holds depends on the module (see each function). */
typedef struct mx_fm_inputs {
    int n;
    const char *const *images;
    const char *const *dce_masks;   /* MedFilter (bad pixels), Detect Radhit (copied) */
    const char *pmask;              /* MedFilter: one PMask for every frame, or NULL */
    const char *const *wcs_sources; /* Mosaic Projection: files whose headers hold the WCS */
} mx_fm_inputs;

/* What one frame produced. */
typedef struct mx_fm_frame {
    char *output;          /* the written file; NULL when the frame wrote nothing */
    double seconds;        /* wall-clock time of the frame */
    long n_nan;            /* MedFilter: NaN pixels of the output */
    long n_clusters;       /* Detect: detections; Radhit: radhit clusters; Level: clusters */
    long n_pixels;         /* Radhit: radhit pixels; Level: pixels whose sign changed;
                              Detect: detected pixels */
    double mean, sigma;    /* Detect, Radhit: M and s of the image statistics */
    double threshold;      /* Detect: T; Radhit: M + Segmentation_Threshold s */
    mx_box box;            /* Projection: offsets (MINTOFFX/Y, 0-based) and size */
} mx_fm_frame;

typedef struct mx_fm_result {
    int n;                 /* input frames */
    int nwritten;          /* frames with an output */
    mx_fm_frame *frames;   /* n entries, input order */
    char *list;            /* the list file written */
    char *table;           /* Projection: interp_detmap_ImageList.txt.tbl; else NULL */
} mx_fm_result;

void mx_fm_result_free(mx_fm_result *r);

/* ---- MedFilter (overlap.md 4.3.5, mosaic.md 5.6.6) ------------------------ */
typedef struct mx_medfilter_files_opts {
    mx_medfilter_opts filter;      /* Window_X/Y, N_Outliers_Per_Window, ... */
    long max_bad_pixels;           /* Max_Bad_Pixels_OutputImage: warn above it; < 0 never */
    uint32_t dce_fatal, pmask_fatal;
    const char *out_dir;           /* MEDFILTER_DIR */
} mx_medfilter_files_opts;

/* images: the input frames; dce_masks and pmask optional. Per frame: bad
 * pixels (NaN/Inf or fatal bits) never enter a window and are NaN in the
 * output; out_dir/<b>_minback.fits = input - background (float, the input's
 * header plus HISTORY cards naming the filter), then medfilter_ImageList.txt.
 * A frame with more than max_bad_pixels NaN output pixels is warned about
 * (Max_Bad_Pixels_OutputImage is informational, 000 l.5390-5391).
 * frames[i].n_nan = NaN pixels written. */
int mx_medfilter_files(const mx_fm_inputs *in, const mx_medfilter_files_opts *o,
                       mx_fm_result **out);

/* ---- Detect / Detect (Outlier) (overlap.md 4.3.6, mosaic.md 5.6.9) ------- */
typedef struct mx_detect_files_opts {
    mx_detect_opts detect;         /* the segmentation (coverage fields unused) */
    const char *out_dir;           /* DETECT_DIR */
} mx_detect_files_opts;

/* images: background-subtracted frames (MedFilter's *_minback.fits; any
 * image works). Non-finite pixels are unusable. Per frame:
 * out_dir/<b>_detmap.fits, BITPIX 32: cluster number 1..N on the pixels of
 * each detection (mx_detect order), 0 elsewhere (000 l.2909-2913); header =
 * the input's (WCS kept, BUNIT removed) plus NDETECT, DETTHRSH (T), DETMEAN,
 * DETSIGMA; then detmap_ImageList.txt. A frame without a single usable
 * pixel gets an all-zero map and a warning. frames[i]: n_clusters,
 * n_pixels, mean, sigma, threshold. */
int mx_detect_files(const mx_fm_inputs *in, const mx_detect_files_opts *o, mx_fm_result **out);

/* ---- Detect Radhit (algorithms.md 2.1, mosaic.md 5.6.7) ------------------ */
typedef struct mx_radhit_files_opts {
    mx_radhit_opts radhit;         /* thresholds, Detection_Max_Area, bit (9), ddof */
    const char *out_dir;           /* DMASK_DIR */
} mx_radhit_files_opts;

/* images: background-subtracted frames; dce_masks: the current DCE masks
 * (optional). Per frame: out_dir/<b>_dmask.fits = a copy of the DCE mask
 * (its header and integer type; all zeros with the image's header minus
 * BUNIT when no mask is given, BITPIX 16, or 32 for a bit above 14) with
 * bit `radhit.bit` OR-ed into every radhit pixel; a BITPIX too small for the
 * new values is widened (8 -> 16 -> 32) with a warning; NRADHIT and RADHBIT
 * cards record what was done. Then dmask_ImageList.txt: the new DCE mask
 * list, which replaces the current one (mosaic.md 1.2). frames[i]:
 * n_clusters (radhits), n_pixels (flagged pixels), mean, sigma, threshold. */
int mx_radhit_files(const mx_fm_inputs *in, const mx_radhit_files_opts *o, mx_fm_result **out);

/* ---- Mosaic Projection (algorithms.md 2.3(b), mosaic.md 5.6.10) --------- */
typedef struct mx_projection_opts {
    const char *fif_path;          /* the mosaic grid: mosaic_fif.tbl (FIF format) */
    long moving_object;            /* MOVING_OBJECT_MOSAIC: 1-based reference frame, 0 off */
    const char *out_dir;           /* DUAL_OUTLIER_DIR */
} mx_projection_opts;

/* images: detection maps (integer, or float with integer values; NaN = 0);
 * wcs_sources (optional): files whose headers give each map's WCS (the
 * original images), else the map's own header (Detect keeps the input
 * header, which MedFilter kept from the image). The moving-object
 * adjustment (Eq 5.1) applies as in Mosaic Interpolate, with the reference
 * frame's RA_REF/DEC_REF read from the WCS sources.
 * Per map: the output box is the one of the frame's interpolated image
 * (mx_map_footprint_box of the same mapping); mx_project_labels fills it
 * (NaN where no input pixel is overlapped, 0 where only zeros are, else the
 * cluster with the largest overlap, ties to the smaller number);
 * out_dir/proj_<m>.fits (m = the map's base name, so <b>_detmap.fits gives
 * proj_<b>_detmap.fits), float, header = the grid's WCS with CRPIX shifted
 * by the box offsets, MINTOFFX, MINTOFFY (0-based, as interpolated images),
 * a HISTORY card naming the map. A map whose footprint misses the grid
 * writes nothing (a stale file of that name is removed) and is warned
 * about; when no map overlaps the grid the call fails (MX_ERR_PARAM).
 * Then interp_detmap_ImageList.txt (one written file per line) and
 * interp_detmap_ImageList.txt.tbl with the columns of
 * interp_ImageList.txt.tbl: image_id (1-based input position), fname,
 * xoff, yoff (0-based), naxis1, naxis2. frames[i].box = the box. */
int mx_project_detmaps(const mx_fm_inputs *in, const mx_projection_opts *o, mx_fm_result **out);

/* ---- Level (algorithms.md 2.3(d), mosaic.md 5.6.13) ---------------------- */
/* In-memory Level of one dual-outlier map (n values; NaN and 0 untouched).
 * A cluster is every pixel whose |value| is the same cluster number c,
 * connected or not. With N pixels, N- negative, R = ratio, two sequential
 * tests (algorithms.md 2.3(d)):
 *   if N-/N < R: the cluster becomes all positive (Eq 8.2);
 *   then, with N+ counted after that step: if N+/N < R: all negative (Eq 8.3).
 * For R <= 0.5 this is "the majority sign wins, an exact tie stays mixed";
 * for R > 0.5 the order matters (mosaic.md 5.6.13 reads both tests on the
 * counts before any flip and lets the majority win: an open point, isolated
 * in level_cluster() of mod_level.c).
 * Values must be integers of magnitude below 2^24 (float maps of cluster
 * numbers); anything else is MX_ERR_FORMAT naming `source` and the pixel.
 * nclusters / nchanged (optional): clusters seen, pixels whose sign changed. */
int mx_level_map(float *map, long nx, long ny, double ratio, const char *source, long *nclusters,
                 long *nchanged);

typedef struct mx_level_opts {
    double threshold_ratio;        /* THRESHOLD_RATIO */
    const char *out_dir;           /* DUAL_OUTLIER_DIR */
} mx_level_opts;

/* images: Mosaic Dual Outlier's proj_<b>_detmap_dual_outlier.fits. Per map:
 * mx_level_map, written as out_dir/<m>_level.fits (m = the map's base name:
 * proj_<b>_detmap_dual_outlier_level.fits), float, the input's header plus
 * THRRATIO; then level_ImageList.txt. frames[i]: n_clusters, n_pixels
 * (pixels whose sign changed). */
int mx_level_files(const mx_fm_inputs *in, const mx_level_opts *o, mx_fm_result **out);

/* ---- Make Array Correction Files (mosaic.md 5.6.23) ----------------------- */
/* The correction values of one frame from the array-location correction
 * image `corr` and the pixel-area image `pixarea` (NULL when not given), n
 * pixels each. OPEN QUESTION (mosaic.md 5.6.23): the manual does not say how
 * ARRAY_PIXAREA_IMAGE enters (it points to README_arraycorr, not
 * available); until the customer answers, out = corr unchanged and pixarea
 * is only checked for its size. This is the one function to replace. */
void mx_array_corr_values(const float *corr, const float *pixarea, size_t n, float *out);

typedef struct mx_array_corr_opts {
    const char *corr_image;        /* ARRAY_CORR_IMAGE (required) */
    const char *pixarea_image;     /* ARRAY_PIXAREA_IMAGE, or NULL */
    const char *out_dir;           /* Array_Corr_Data */
} mx_array_corr_opts;

/* images: the current input images (BCDs). Both correction images are read
 * once and must have every BCD's size (MX_ERR_MISMATCH naming both files).
 * Per BCD (header only, no pixels): out_dir/corr_<b>.fits, float, with the
 * BCD's whole header (WCS and distortion, BUNIT and exposure keywords, so
 * the correction mosaic is interpolated like the science frames) plus
 * ARRCORR / PIXAREA naming the correction files and a HISTORY card; values
 * from mx_array_corr_values. Then corr_ImageList.txt. */
int mx_array_corr_files(const mx_fm_inputs *in, const mx_array_corr_opts *o, mx_fm_result **out);

#ifdef __cplusplus
}
#endif
#endif
