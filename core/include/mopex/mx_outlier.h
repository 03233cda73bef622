/* mx_outlier.h - the multi-frame outlier modules of the mosaic pipeline:
 * Mosaic Coverage, Mosaic Outlier (temporal), Mosaic Box Outlier, Mosaic
 * Dual Outlier, Mosaic RMask and Create RMask Mosaic.
 *
 * Guide: 000 l.2974-3506 (modules), l.3950-3986 (RMask mosaic), l.7735-8156
 * (chapter 8.2). Specs: mosaic.md 1.3, 5.6.11, 5.6.12, 5.6.14-5.6.16,
 * 5.6.22; algorithms.md 0, 2, 11; oracles O-2, O-3, O-4, O-18, O-20.
 *
 * Two layers:
 *  1. per-pixel kernels (in-memory, reentrant, no allocation): a pixel's
 *     stack comes in as arrays, the outlier values go out. outlier.c.
 *  2. file-level drivers over the interpolated stack (mx_stack.h), tile by
 *     tile, in parallel over tiles (outlier_mods.c), and Mosaic RMask /
 *     Create RMask Mosaic per input frame (rmask.c).
 *
 * THE STACK AT A GRID PIXEL p (algorithms.md 2): the values I_k(p) of the
 * interpolated images k whose box contains p and whose pixel there is
 * usable: value finite, coverage > 0 (and >= min_cover of the drivers, see
 * PARTIAL PIXELS) and, when uncertainties are given, uncertainty finite and
 * > 0 (algorithms.md 0). Stack order = list order.
 *
 * MEDIANS: median(v) = sorted(v)[floor(N/2)] (the upper middle element,
 * MX_MEDIAN_UPPER, the MOPEX convention) unless MX_MEDIAN_AVERAGE is asked
 * for; sigma_MAD = median(|v - M|) / 0.6745 with the same convention. All
 * selection is by quickselect (mx_stats.h), never a sort.
 *
 * DETERMINISM: every kernel result depends only on the values of the stack
 * (selection returns values, sums are not involved), so the drivers write
 * the same bytes for any tile size and any thread count.
 */
#ifndef MX_OUTLIER_H
#define MX_OUTLIER_H

#include <stddef.h>
#include <stdint.h>
#include "mx_pixmap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================
 * 1. Per-pixel kernels
 * ====================================================================== */

/* ---- temporal (Mosaic Outlier, THRESH_OPTION 1; algorithms.md 2.2) ---- */
typedef struct mx_temporal_opts {
    double bottom, top;  /* BOTTOM_THRESHOLD, TOP_THRESHOLD in sigma (>= 0) */
    int min_pix_num;     /* MIN_PIX_NUM: smaller stacks take sigma = min s_k */
    int median_mode;     /* MX_MEDIAN_UPPER or MX_MEDIAN_AVERAGE */
} mx_temporal_opts;

/* Centre M and scatter sigma of one stack v[0..n) with uncertainties
 * s[0..n) (s may be NULL):
 *   M = median(v), sigma = median(|v_k - M|) / 0.6745;
 *   with uncertainties (smin = the smallest finite s_k > 0):
 *     sigma = max(sigma, smin), and sigma = smin when n < min_pix_num
 *     (000 l.7847-7852);
 *   without uncertainties and n < min_pix_num: no estimate.
 * Returns 1 when a test can be made (sigma finite and > 0), else 0 (no
 * estimate, n == 0, or sigma == 0: identical values without
 * uncertainties). `work` holds n floats; v is not modified. */
int mx_temporal_stats(const float *v, const float *s, size_t n, const mx_temporal_opts *o,
                      float *work, double *m, double *sigma);

/* Outlier-map values of one stack (Eq 8.1): out[k] = (v_k - M)/sigma when
 * v_k < M - bottom sigma or v_k > M + top sigma, else 0; all 0 when
 * mx_temporal_stats finds no test. With bottom = top = 0 every value other
 * than M is stored (the decision is left to Mosaic RMask, 000 l.7886-7889).
 * Returns the number of values stored. out may not alias v. */
size_t mx_temporal_outliers(const float *v, const float *s, size_t n, const mx_temporal_opts *o,
                            float *work, float *out);

/* ---- box (Mosaic Box Outlier; algorithms.md 2.4) ------------------------- */
/* One grid pixel: the main stack mv[0..nmain) (uncertainties ms, may be
 * NULL) and the box stack box[0..nbox) (every usable value of the main-stack
 * images in the BOX_X x BOX_Y window around the pixel; reordered in place).
 * With idx = clamp(nbox/2 - bias, 0, nbox-1):
 *   M = sorted(box)[idx], sigma = sorted(|box - M|)[idx] / 0.6745;
 *   if every main value lies outside [M - sigma, M + sigma] (|v - M| >
 *   sigma for all k), M and sigma come from the temporal method on the
 *   main stack instead (median/MAD with the uncertainty floor, no
 *   MIN_PIX_NUM rule; 000 l.8092-8094) and *fallback = 1;
 *   sigma <= 0 (or not finite): the smallest main uncertainty when there
 *   is one, else no test.
 * out[k] = (mv_k - M)/sigma for every main value (0 when no test).
 * `work` holds max(nbox, nmain) floats. Returns 1 when tested, else 0.
 * m, sigma, fallback may be NULL. */
int mx_box_outlier_pixel(const float *mv, const float *ms, size_t nmain, float *box, size_t nbox,
                         int bias, float *work, float *out, double *m, double *sigma,
                         int *fallback);

/* ---- dual (Mosaic Dual Outlier; algorithms.md 2.3(c), Figure 8.8) ------- */
/* v[0..n): the projected detection-map values at one grid pixel of the maps
 * whose box contains it; NaN = the map does not cover the pixel. With
 * N = non-NaN values and n_det = values > 0: when n_det >= 1,
 * n_det <= max_image and n_det / N <= max_frac, every positive value is
 * negated in place (a dual outlier). Returns the number negated. */
size_t mx_dual_outlier_pixel(float *v, size_t n, int max_image, double max_frac);

/* ---- coverage (Mosaic Coverage) ------------------------------------------- */
/* Sum of the finite, positive coverage values c[0..n) (0 for none). */
double mx_coverage_sum(const float *c, size_t n);

/* ---- RMask (Mosaic RMask; mosaic.md 5.6.16, algorithms.md 2.5) ---------- */
/* RMask bits (000 l.3447-3450). */
enum {
    MX_RMASK_RADHIT = 1,    /* bit 0: single frame (Detect Radhit) */
    MX_RMASK_TEMPORAL = 2,  /* bit 1: multiframe temporal (Mosaic Outlier) */
    MX_RMASK_DUAL = 4,      /* bit 2: dual (Dual Outlier + Level) */
    MX_RMASK_BOX = 8        /* bit 3: box (Mosaic Box Outlier) */
};

/* Every field must be set (defaults live in lua/mopex/modules/rmask.lua). */
typedef struct mx_rmask_opts {
    double rm_thresh;          /* RM_THRESH: minimal covered fraction of an input pixel */
    double bottom, top;        /* BOTTOM_THRESHOLD, TOP_THRESHOLD (temporal maps, sigma) */
    double min_coverage;       /* MIN_COVERAGE: temporal maps used where covg >= this */
    double max_coverage;       /* MAX_COVERAGE: dual maps used where covg <= this */
    int refine;                /* REFINE_OUTLIER */
    double refine_thresh;      /* REFINE_OUTLIER_THRESH: top threshold on confirmed sources */
    double box_bottom, box_top;/* BOX_BOTTOM_THRESHOLD, BOX_TOP_THRESHOLD */
    double box_min_coverage;   /* BOX_MIN_COVERAGE */
    int use_outlier;           /* USE_OUTLIER_FOR_RMASK: bit 1 */
    int use_dual;              /* USE_DUAL_OUTLIER_FOR_RMASK: bit 2 */
    int use_box;               /* USE_BOX_OUTLIER_FOR_RMASK: bit 3 */
    int radhit_bit;            /* bit 0 source in a dmask without a RADHBIT card (Detect Radhit
                                  writes RADHBIT): 9 for masks known to come from Detect Radhit,
                                  -1 to ignore masks without the card (plain DCE masks) */
    const char *out_dir;       /* RMASK_DIR (created) */
} mx_rmask_opts;

/* Flag the grid pixels of one frame's box (n values each, NULL = no map):
 *   bit 1 (use_outlier, outlier map given): covg >= min_coverage and
 *         (O < -bottom or O > T), T = refine_thresh where refine is on and
 *         the dual (Level) map is > 0 (a confirmed source), else top;
 *   bit 2 (use_dual, dual map given): dual < 0 and covg <= max_coverage;
 *   bit 3 (use_box, box map given): covg >= box_min_coverage and
 *         (B < -box_bottom or B > box_top).
 * NaN map values never flag; NaN coverage counts as 0. covg may be NULL
 * only when no gate is needed (then every gate sees coverage 0).
 * flags[k] gets the OR of MX_RMASK_TEMPORAL/DUAL/BOX. */
void mx_rmask_flags(const mx_rmask_opts *o, size_t n, const float *covg, const float *outlier,
                    const float *dual, const float *box_map, uint8_t *flags);

/* Back-project the flags of one frame (box->w * box->h values from
 * mx_rmask_flags, on the grid pixels of `box`) onto its nx*ny input pixels
 * through `map` (input frame -> grid) with mx_backproject_flags, one bit at
 * a time: the bit is set in rmask[i] where the fraction of input pixel i
 * covered by flagged grid pixels is >= rm_thresh - 1e-5 (the tolerance
 * absorbs the float rounding of exact overlap areas, so RM_THRESH = 1
 * marks a fully covered pixel). rmask holds bit 0 (or anything) already;
 * bits are OR-ed in. counts (may be NULL) gets, per bit 0..3, the input
 * pixels that have the bit set afterwards. */
int mx_rmask_backproject(const mx_rmask_opts *o, const uint8_t *flags, const mx_box *box,
                         const mx_map *map, long nx, long ny, int32_t *rmask, long counts[4]);

/* ========================================================================
 * 2. File-level drivers
 * ====================================================================== */

/* The interpolated stack: n frames in list order (paths borrowed). Each
 * file is a sub-rectangle of the grid with MINTOFFX/MINTOFFY (mx_stack.h). */
typedef struct mx_outlier_inputs {
    int n;
    const char *const *images;    /* interp_<b>.fits (Dual Outlier: proj_<b>_detmap.fits) */
    const char *const *coverages; /* interp_<b>_covg.fits; NULL: coverage 1 */
    const char *const *sigmas;    /* interp_unc_<b>_sigma.fits; NULL: none */
} mx_outlier_inputs;

/* Every field must be set (defaults live in the Lua schemas). */
typedef struct mx_outlier_run_opts {
    mx_temporal_opts temporal;  /* Mosaic Outlier (and the Box fallback's median mode) */
    int thresh_option;          /* THRESH_OPTION: 1; 2 is warned about and computed as 1 */
    int box_x, box_y;           /* BOX_X, BOX_Y (>= 1) */
    int box_bias;               /* BOX_MEDIAN_BIAS */
    int max_outl_image;         /* MAX_OUTL_IMAGE */
    double max_outl_frac;       /* MAX_OUTL_FRAC */
    long tile_x, tile_y;        /* TILE_XSIZ/TILE_YSIZ or TILEMAX_X/Y (>= 1): memory only */
    size_t memory_budget;       /* Outlier, Box, Dual: bytes of stack pixels in memory at once,
                                   all threads; a tile beyond its share is done in bands of
                                   rows (mx_stack_band_rows); 0: whole tiles */
    double min_cover;           /* Outlier, Box: an interpolated pixel enters the stack only
                                   when its coverage is >= this (and > 0); see PARTIAL PIXELS */
    const char *out_dir;        /* the module's directory (created) */
} mx_outlier_run_opts;

/* What a driver wrote. */
typedef struct mx_outlier_result {
    int n;              /* frames */
    char **outputs;     /* n written paths, list order (NULL for Coverage) */
    char *list;         /* the list file (Coverage: the tile table) */
    char *map;          /* Coverage: covg_map.fits; else NULL */
    int ntiles;
    long npixels;       /* grid pixels with a non-empty stack */
    long nflagged;      /* Outlier: values stored; Dual: values negated;
                           Box: values with |O| >= 10; Coverage: 0 */
    long nfallback;     /* Box: grid pixels that used the temporal fallback */
    double max;         /* Coverage: largest coverage; Box/Outlier: largest |O| */
} mx_outlier_result;

void mx_outlier_result_free(mx_outlier_result *r);

/* PARTIAL PIXELS: an interpolated pixel only partly covered by its frame
 * (at the frame's edge, or next to a masked input pixel) holds the mean
 * over the covered part only. On a steep profile (the core of an
 * undersampled star) that differs from the full-pixel values of the other
 * frames by far more than the noise (half the value at coverage 0.13 in
 * the simulated IRAC frames), so testing it flags real star light.
 * algorithms.md 13.3 leaves open which pixels enter the stacks (proposing
 * coverage > 0); min_cover makes it a choice: such pixels are not in the
 * stack (their map value is NaN, like an unusable pixel). The Lua default
 * 0.5 lowered the star pixels rejected in tests/e2e/test_outliers_sim.lua
 * at MOSAIC_PIXEL_RATIO 1 (temporal, coverage 15: 0.112% -> 0.084%; box,
 * coverage 5: 0.167% -> 0.111%) and changed no cosmic-ray detection; at
 * ratio 2 a hit in a frame's edge pixel is still found, since the fully
 * covered grid pixels inside it cover at least half of it.
 *
 * COMMON RULES of the three per-frame drivers (Outlier, Box, Dual):
 *  - the grid is mosaic_fif.tbl (fif_path); it is tiled with the guide's
 *    rule (mx_tiling) from tile_x/tile_y; each tile (or band of rows of a
 *    tile, when the tile's load exceeds the thread's share of
 *    memory_budget) loads every frame's layers over itself (Box: plus a
 *    halo of the box half-widths) and nothing else. With at least as many
 *    tiles as threads the tiles run in parallel (mx_stack_run_tiles);
 *    otherwise (a small mosaic is one tile at the default 500) the tiles
 *    run one after the other and each one's rows run in parallel. Every
 *    pixel's result depends only on its own stack, so any tiling, band
 *    height and thread count writes the same bytes;
 *  - each frame gets one output file on its own box (the image's MINTOFFX,
 *    MINTOFFY, NAXIS1, NAXIS2): out_dir/<m><suffix>.fits, m = the image's
 *    base name; the header is the image's (WCS, MINTOFFX/Y) without BUNIT
 *    (Dual: with it untouched) plus cards naming the parameters and a
 *    HISTORY card. Tiles write their parts to a raw scratch file per frame
 *    (<output>.tmp-*, positional writes, no locks needed: parts are
 *    disjoint); after the last tile each frame is written as FITS
 *    atomically (parallel over frames) and the scratch removed, so the
 *    memory stays at one tile load per thread plus one frame per thread;
 *  - then the list file of the outputs (list order);
 *  - two frames whose outputs would share a name are MX_ERR_PARAM naming
 *    both images. Interrupts are checked per tile and per frame. */

/* Mosaic Outlier (mosaic.md 5.6.14): out_dir/<m>_outlier.fits holds
 * mx_temporal_outliers per stack value, 0 for other usable pixels, NaN
 * where the frame's pixel is not usable; list outlier_ImageList.txt.
 * Cards BOTTHRSH, TOPTHRSH, THROPT, MINPIXN. nflagged = values stored. */
int mx_outlier_run(const mx_outlier_inputs *in, const char *fif_path, const mx_outlier_run_opts *o,
                   mx_outlier_result **out);

/* Mosaic Box Outlier (mosaic.md 5.6.15): windows run from p - floor(B/2)
 * to p + ceil(B/2) - 1 along each axis, clipped to each image's box;
 * out_dir/<m>_box_outlier.fits holds mx_box_outlier_pixel's O for every
 * usable pixel, NaN elsewhere; list box_outlier_ImageList.txt. Cards
 * BOXX, BOXY, BOXBIAS. */
int mx_box_outlier_run(const mx_outlier_inputs *in, const char *fif_path,
                       const mx_outlier_run_opts *o, mx_outlier_result **out);

/* Mosaic Dual Outlier (mosaic.md 5.6.12): images = the projected detection
 * maps (proj_<b>_detmap.fits; coverages and sigmas unused);
 * out_dir/<m>_dual_outlier.fits = the map with mx_dual_outlier_pixel
 * applied at every grid pixel; list dual_outlier_ImageList.txt. Cards
 * MAXOUTIM, MAXOUTFR. */
int mx_dual_outlier_run(const mx_outlier_inputs *in, const char *fif_path,
                        const mx_outlier_run_opts *o, mx_outlier_result **out);

/* Mosaic Coverage (mosaic.md 5.6.11): coverages = the first-pass coverage
 * maps (in->coverages, or in->images when coverages is NULL). Per tile
 * (tile_x/tile_y = TILEMAX_X/Y): out_dir/covg_Tile_NNN.fits = sum of the
 * finite positive coverages (0 where none), header = the grid's WCS with
 * CRPIX shifted, MINTOFFX/MINTOFFY; out_dir/covg_TilesList.tbl (columns
 * tile_id, fname = "covg_Tile_NNN", xoff, yoff, naxis1, naxis2, as
 * coadd_tiles.tbl); then the tiles are pasted into covg_map_path
 * (mx_combine_tiles). */
int mx_coverage_run(const mx_outlier_inputs *in, const char *fif_path, const mx_outlier_run_opts *o,
                    const char *covg_map_path, mx_outlier_result **out);

/* ---- Mosaic RMask (rmask.c) ------------------------------------------------- */
/* The frames and the maps. Map lists are matched to the frames by name, as
 * the modules write them: for the <b> of image i (mx_interp_names: base
 * name, "<i>_<b>" for duplicate names) the temporal map is
 * interp_<b>_outlier.fits, the box map interp_<b>_box_outlier.fits, the
 * dual map proj_<b>_detmap_dual_outlier_level.fits (a Level map) or
 * proj_<b>_detmap_dual_outlier.fits (comparison of base names, not
 * directories). A given map list without a map for a frame that overlaps
 * the grid is MX_ERR_NOTFOUND naming the expected file. */
typedef struct mx_rmask_inputs {
    int n;
    const char *const *images;      /* the input frames: size, header, WCS */
    const char *const *dmasks;      /* Detect Radhit's <b>_dmask.fits (n), NULL: no bit 0 */
    int n_outlier;
    const char *const *outlier_maps;/* Mosaic Outlier maps, any order; NULL: none */
    int n_dual;
    const char *const *dual_maps;   /* Level (else Dual Outlier) maps; NULL: none */
    int n_box;
    const char *const *box_maps;    /* Mosaic Box Outlier maps; NULL: none */
    const char *coverage_map;       /* covg_map.fits (grid size); needed for bits 1-3 */
    const char *fif_path;           /* mosaic_fif.tbl; needed for bits 1-3 */
} mx_rmask_inputs;

typedef struct mx_rmask_result {
    int n;
    char **rmasks;     /* n paths, list order */
    char *list;        /* rmask_ImageList.txt */
    long counts[4];    /* input pixels with bit 0..3 set, all frames */
} mx_rmask_result;

void mx_rmask_result_free(mx_rmask_result *r);

/* Per frame (in parallel over frames): bit 0 where the dmask has the
 * radhit bit (its RADHBIT card, else o->radhit_bit; none when that is -1,
 * so a plain DCE mask list can be given safely); for bits 1-3 (only
 * those requested and whose maps are given) the frame's WCS (header,
 * SIP included) is mapped onto the grid (mx_pixmap, the same mapping as
 * Mosaic Interpolate), the coverage and maps are read over the frame's
 * footprint box (each map through its own MINTOFFX/MINTOFFY; outside it
 * NaN), mx_rmask_flags + mx_rmask_backproject. Writes
 * out_dir/<b>_rmask.fits: BITPIX 16, the input's size and header plus
 * RMBITS/RMTHRESH cards and a HISTORY card; then rmask_ImageList.txt.
 * A requested bit whose maps are not given is MX_ERR_PARAM naming the
 * module that must run first; bits 1-3 need coverage_map and fif_path. */
int mx_rmask_run(const mx_rmask_inputs *in, const mx_rmask_opts *o, mx_rmask_result **out);

/* ---- Create RMask Mosaic (mosaic.md 5.6.22) --------------------------------- */
/* Every field must be set (defaults live in lua/mopex/modules/rmask_mosaic.lua). */
typedef struct mx_rmask_mosaic_opts {
    int method;                /* interpolation of the RMasks: 1 default, 2 drizzle, 3 grid, 4 cubic */
    int fineres;               /* method 1: FINERES (0 off) */
    double driz_fac;           /* method 2: DRIZ_FAC */
    int grid_ratio;            /* method 3: GRID_RATIO */
    double alpha;              /* method 4: ALPHA */
    long tilemax_x, tilemax_y; /* co-addition tiles */
    const char *out_dir;       /* RMASK_DIR (created) */
} mx_rmask_mosaic_opts;

/* The RMasks as float images (no masking: every value, bits summed as
 * numbers) interpolated onto the grid of fif_path with mx_interp_run
 * (into out_dir/Interp-rmask/) and co-added with the straight average by
 * mx_coadd_run (tiles in out_dir/Coadd-rmask/), then pasted by
 * mx_combine_tiles into out_dir/mosaic.fits, which *mosaic_path (may be
 * NULL; caller frees) names. Bit information is lost (000 l.3956-3957);
 * nothing is written outside out_dir, so Combine-mosaic/mosaic.fits is
 * never touched. */
int mx_rmask_mosaic_run(int n, const char *const *rmasks, const char *fif_path,
                        const mx_rmask_mosaic_opts *o, char **mosaic_path);

#ifdef __cplusplus
}
#endif
#endif
