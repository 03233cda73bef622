/* mx_interp.h - Mosaic Interpolate and Mosaic Reinterpolate at file level:
 * input frames on disk -> interpolated image, coverage and uncertainty
 * files on the mosaic grid, with their lists and offset table.
 *
 * Guide: 000 l.2751-2857 (Mosaic), l.1617-1703 (Overlap, mask_bright),
 * l.3507-3564 (Reinterpolate), l.9150-9179 (fatal bits). Specs: mosaic.md
 * 1.2-1.4, 5.6.8, 5.6.17; overlap.md 4.3.7; algorithms.md 0, 4, 11;
 * formats.md 2, 4.10. The geometry and the four methods are mx_resample
 * (mx_resample.h); this layer reads, masks, names and writes.
 *
 * PER FRAME (frames run in parallel, mx_parallel_for; one mx_pixmap per
 * frame, nothing shared but read-only inputs, so any thread count writes
 * the same bytes):
 *  1. read the image and, when given, its sigma, DCE mask, RMask and
 *     bright-object detection map (each must have the image's size; the
 *     error names both files);
 *  2. bad map (algorithms.md 0 and 11): value NaN/Inf, or (dce & dce_fatal),
 *     (pmask & pmask_fatal), (rmask & rmask_fatal) non-zero, or sigma NaN,
 *     Inf or <= 0 (with sigmas), or detmap > 0 (mask_bright with maps);
 *  3. the input WCS from the header (SIP distortion included), the pixel
 *     mapping to the grid (mx_pixmap) and the footprint box
 *     (mx_map_footprint_box: MINTOFFX/MINTOFFY = box.x0/box.y0, 0-based);
 *  4. units: BUNIT recognised by mx_unit_parse -> surface brightness
 *     (averaged); anything else -> counts (resampled in counts mode, which
 *     conserves the sum) with a warning naming the file and the BUNIT;
 *  5. mx_resample, then, in out_dir:
 *       interp_<b>.fits            image
 *       interp_<b>_covg.fits       coverage (usable fraction of each pixel)
 *       interp_unc_<b>_sigma.fits  uncertainty (only when sigmas are given)
 *     Headers: the grid's WCS (CDELT/CROTA2 form) with CRPIX shifted by the
 *     box offsets, so each file is a valid image on its own; MINTOFFX,
 *     MINTOFFY; INTRPMTH, FINERES, DRIZFAC, GRIDRAT, INTALPHA (the method,
 *     read back by Reinterpolate, 000 l.3557-3563); NUSABLE (usable input
 *     pixels); INHASH (64-bit FNV-1a of the input values, sigmas and bad
 *     map, 16 hex digits: the fingerprint Reinterpolate compares); then the
 *     input's own keywords except its WCS/distortion and scaling cards
 *     (EXPTIME, BUNIT, FLUXCONV, GAIN, DATE_OBS, ... stay: the CoAdder
 *     reads INTEG_TIME_KWD from them) and a HISTORY card naming the input.
 *     The coverage file carries no BUNIT.
 * A frame whose footprint misses the grid writes nothing (stale outputs of
 * the same name are removed), gets no table row and a warning; when no
 * frame overlaps the grid the run fails (MX_ERR_PARAM naming the grid).
 *
 * NAMES: <b> is the image's base name without .fits (mx_path_basename_noext).
 * When several inputs share a base name (same file name in two
 * directories) every one of them is written as "<i>_<b>", i the 1-based
 * input position, so none overwrites another; a collision that remains
 * after this is MX_ERR_PARAM naming both inputs.
 *
 * RUN OUTPUTS (after all frames, in input order):
 *   interp_ImageList.txt, interp_covg_ImageList.txt, interp_unc_ImageList.txt
 *   (the last only with sigmas): one written file per line;
 *   interp_ImageList.txt.tbl: columns image_id (1-based input position),
 *   fname (the interpolated image), xoff, yoff (0-based offsets = MINTOFFX/Y),
 *   naxis1, naxis2, one row per written frame.
 *
 * REINTERPOLATE (mosaic.md 5.6.17): the same frames with new RMasks. The
 * method and its parameters come from the first pass's headers (the first
 * interp_<b>.fits found in interp_dir, in input order). For each frame the
 * header a fresh run would write is built (it contains INHASH, which covers
 * the new bad map); when the first pass has every file of the frame and the
 * same header card for card, its files are copied byte for byte (the RMask
 * added no newly fatal pixel); otherwise the frame is interpolated again in
 * full. Either way the result equals a fresh mx_interp_run with the new
 * RMasks (same bytes). With Drizzle or Grid (not allowed, 000 l.3553-3555,
 * mosaic.md 1.4) a warning says so and every frame is re-interpolated.
 *
 * Progress: mx_progress ("interpolate"/"reinterpolate", frames);
 * interrupts: mx_check_interrupt() before each frame.
 * Memory: each worker holds one frame's arrays and its outputs (heap).
 */
#ifndef MX_INTERP_H
#define MX_INTERP_H

#include <stdint.h>
#include "mx_fif.h"
#include "mx_pixmap.h"
#include "mx_resample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The frames: n images and optional parallel lists (NULL = not given; a
 * given list has n entries). Paths are borrowed. */
typedef struct mx_interp_inputs {
    int n;
    const char *const *images;
    const char *const *sigmas;       /* uncertainty images */
    const char *const *dce_masks;    /* DCE status masks */
    const char *const *rmasks;       /* RMasks (Mosaic RMask output) */
    const char *const *bright_masks; /* detection maps (Overlap's mask_bright) */
    const char *pmask;               /* one PMask for every frame, or NULL */
} mx_interp_inputs;

/* Every field must be set (defaults live in lua/mopex/modules/interpolate.lua). */
typedef struct mx_interp_opts {
    int method;          /* INTERP_METHOD: 1 default, 2 drizzle, 3 grid, 4 cubic */
    int fineres;         /* FINERES (method 1): 0 or 1 off, 2..16 */
    double driz_fac;     /* DRIZ_FAC (method 2): (0, 1] */
    int grid_ratio;      /* GRID_RATIO (method 3): 1..64 */
    double alpha;        /* ALPHA (method 4) */
    uint32_t dce_fatal, pmask_fatal, rmask_fatal; /* fatal bit patterns */
    int mask_bright;     /* 1: detmap > 0 is bad; 1 without maps warns */
    const char *out_dir; /* INTERP_DIR (created when missing) */
} mx_interp_opts;

typedef struct mx_reinterp_opts {
    uint32_t dce_fatal, pmask_fatal, rmask_fatal;
    int mask_bright;
    const char *interp_dir; /* the first pass (Mosaic Interpolate's INTERP_DIR) */
    const char *out_dir;    /* REINTERP_DIR (created when missing) */
} mx_reinterp_opts;

typedef struct mx_interp_frame {
    int written;      /* 0: the frame misses the grid (no files, no row) */
    int reused;       /* Reinterpolate: copied from the first pass */
    int counts;       /* 1: BUNIT not a surface brightness, resampled as counts */
    mx_box box;       /* offsets (MINTOFFX/Y) and size of the written images */
    long nusable;     /* usable input pixels */
    char *image, *coverage, *sigma; /* written paths (NULL when not written) */
} mx_interp_frame;

typedef struct mx_interp_result {
    int n;                    /* input frames */
    int nwritten, nreused;
    mx_interp_frame *frames;  /* n entries, input order */
    mx_resample_opts method;  /* what was used (counts: 0) */
    char *image_list, *coverage_list, *sigma_list; /* sigma_list NULL without sigmas */
    char *table;              /* interp_ImageList.txt.tbl */
} mx_interp_result;

void mx_interp_result_free(mx_interp_result *r);

/* The output grid: the FIF in `fif_path` at the requested pixel size
 * (mx_fif_rescale: size_x/size_y in degrees or NaN, ratios or NaN), written
 * to mosaic_fif_path (may be NULL) with the program name "mosaic_interp". */
int mx_interp_grid(const char *fif_path, double size_x, double size_y, double ratio_x,
                   double ratio_y, const char *mosaic_fif_path, mx_fif *grid);

/* The <b> of every input (duplicates prefixed, see NAMES); *names is an
 * array of n malloc'ed strings (free each, then the array). */
int mx_interp_names(int n, const char *const *images, char ***names);

/* Mosaic Interpolate of every frame onto `grid` (normally the output of
 * mx_interp_grid). *out (may be NULL) receives what was written. */
int mx_interp_run(const mx_interp_inputs *in, const mx_fif *grid, const mx_interp_opts *o,
                  mx_interp_result **out);

/* Mosaic Reinterpolate (see REINTERPOLATE). MX_ERR_NOTFOUND when interp_dir
 * holds no interpolated image of any input, MX_ERR_FORMAT naming the file and
 * keyword when its method keywords are missing or invalid. */
int mx_reinterp_run(const mx_interp_inputs *in, const mx_fif *grid, const mx_reinterp_opts *o,
                    mx_interp_result **out);

#ifdef __cplusplus
}
#endif
#endif
