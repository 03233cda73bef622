/* mx_coadd.h - Mosaic CoAdder, Mosaic Combine, Quicklook Mosaic, Fix
 * Coverage and Mosaic MedFilter (mosaic.md 5.6.18-5.6.21, overlap.md
 * 4.3.9; guide 000 l.3565-3949, l.1795-1876, l.5287-5304, tiling
 * l.7693-7734).
 *
 * ---- CO-ADDITION (mx_coadd_run) ---------------------------------------------
 * Inputs: the interpolated stack (images, coverages, uncertainties and the
 * optional outlier maps, one file per frame on a sub-rectangle of the
 * mosaic grid, see mx_stack.h) and mosaic_fif.tbl (the grid). The grid is
 * tiled with the guide's rule (mx_tiling); each tile is computed from the
 * frames whose boxes intersect it, in bands of rows when the stack would
 * exceed the memory budget (mx_stack_band_rows), in parallel over tiles.
 *
 * Per pixel, entry j of the stack (stack order) COUNTS when its coverage
 * c_j > 0, its value I_j is finite and, with sigma weighting, its
 * uncertainty s_j is finite and > 0. I_j is the image value minus the
 * frame's offset when offsets are given (Quicklook). Over counted entries,
 * with K = I of the first counted entry (a shift that makes a constant
 * stack give exactly that constant; the sums are otherwise unchanged):
 *   weights      w_j = c_j (straight average, default; Eq. 5.5),
 *                w_j = c_j T_j (time weighting: T_j = the frame's
 *                      time_keyword value, e.g. EXPTIME),
 *                w_j = c_j / s_j^2 (sigma weighting; wins over time)
 *   mosaic       O = K + sum w_j (I_j - K) / W,  W = sum w_j
 *   coverage     C = sum c_j ("the number of good pixels", 000 l.3731)
 *   uncertainty  U = sqrt(sum w_j^2 s_j^2) / W, or 1 / sqrt(W) with sigma
 *                weighting (NaN where a counted s_j is not finite)
 *   std          S = sqrt(sum v_j (I_j - O)^2 / sum v_j), v_j = c_j T_j
 *                (T_j = 1 without time weighting); 0 for one entry
 *   time         sum c_j T_j (time weighting only)
 *   median       the upper median sorted[floor(m/2)] of the m counted I_j
 *                (unweighted, algorithms.md 0)
 *   abs. minimum I_j* and s_j* of the first counted entry with the
 *                smallest |I_j| (replaces the mosaic and uncertainty)
 *   outlier maps the straight average sum c_j M_j / sum c_j over counted
 *                entries whose map value M_j is finite (same c_j)
 * No counted entry (or W = 0): mosaic, uncertainty, std, median and outlier
 * values NaN, coverage (and time) 0. All sums are in double precision,
 * accumulated in stack order, so the result does not depend on the tile
 * size, the band height or the thread count (bit for bit).
 *
 * Memory, per thread: a band of b rows of a tile of width w holds the
 * stack pixels over it (4 bytes x layers x overlap area, at most 4 L b w D
 * for depth D) plus 56 bytes of sums and 4 bytes per product per band
 * pixel (16 more with std, 24 with the absolute minimum, 32 per outlier
 * mosaic); b is the whole tile height unless that exceeds memory_budget /
 * threads (mx_stack_band_rows). Tile files are written band by band
 * (mx_fits_writer), so no tile-sized output buffer exists either.
 *
 * Outputs in dirs->coadd (NNN = tile id, 3 digits, x fastest):
 *   coadd_tile_bcd.txt   per tile: "id count i1 i2 ..." (0-based stack
 *                        indices of the frames whose boxes intersect it)
 *   coadd_tiles.tbl      columns tile_id, fname, xoff, yoff, naxis1,
 *                        naxis2 (fname = "coadd_Tile_NNN", the stem of the
 *                        tile files; offsets 0-based in the grid); keyword
 *                        `products` lists what was written (manifest read
 *                        by Mosaic Combine): Image Cov [Unc] [Std_Unc]
 *                        [Time] [Median] [Outlier] [DualOutlier]
 *   coadd_Tile_NNN_Image.fits, _Cov.fits, _Unc.fits (uncertainties given
 *                        and create_unc), _Std_Unc.fits (create_std),
 *                        _Time.fits (time weighting)
 *   coadd_median_Tile_NNN_Image.fits, coadd_median_tile_bcd.txt,
 *                        coadd_median_tiles.tbl (create_median)
 * and in dirs->outlier / dirs->dual_outlier: Tile_NNN_Image.fits,
 * tile_bcd.txt, tiles.tbl (fname "Tile_NNN") when the maps are given and
 * requested. Tile headers: the mosaic_fif WCS with CRPIX shifted to the
 * tile, MINTOFFX/MINTOFFY = the tile offsets, TELESCOP, INSTRUME and
 * CHNLNUM of the first frame (APEX's defaults read them), BUNIT of the
 * inputs (coverage tiles carry none; time tiles "s").
 *
 * ---- COMBINE (mx_combine_run, mx_combine_tiles) -------------------------------
 * Pastes the tiles of one product into a full grid image, streaming: the
 * tiles of one row band (same yoff) are read 64 rows at a time and those
 * rows written with mx_fits_writer, so the peak memory is 2 x NAXIS1 x 64
 * floats per product, never a band of tiles or the mosaic; mx_combine_run
 * makes the products in parallel (one thread each). The tiles must partition the
 * grid exactly (checked). Header: the mosaic_fif WCS, then the first
 * tile's other cards (BUNIT, ...). mx_combine_run combines every product
 * of the manifest into outdir: mosaic.fits, mosaic_cov.fits,
 * mosaic_unc.fits, mosaic_std.fits, median_mosaic.fits,
 * mosaic_outlier.fits, mosaic_dual_outlier.fits (000 l.3827-3868); the time
 * tiles stay tiles (000 l.3731-3734). With delete_tiles it then removes
 * every tile file of the manifest (the tables stay).
 *
 * ---- FIX COVERAGE (mx_fix_coverage) -------------------------------------------
 * C5 <- 0 when C5 < min_single or when the sum of the 3 x 3 block around
 * it (C5 included; neighbours outside the map count 0) < 9 min_block; both
 * tests on the original map (000 l.3603-3611). NaN coverage counts as 0
 * and becomes 0.
 *
 * ---- MOSAIC MEDFILTER (mx_mosaic_medfilter_run) --------------------------------
 * mx_medfilter of the mosaic with NaN pixels and pixels of zero (or NaN)
 * coverage excluded; writes the background-subtracted mosaic
 * (mosaic_minback.fits, 000 l.3941-3944) with the mosaic's header.
 */
#ifndef MX_COADD_H
#define MX_COADD_H

#include <stddef.h>
#include "mx_medfilter.h"
#include "mx_stack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Products of a co-addition (bits of mx_coadd_result.products). */
typedef enum {
    MX_PRODUCT_IMAGE = 0,     /* coadd_Tile_NNN_Image   -> mosaic.fits */
    MX_PRODUCT_COV,           /* coadd_Tile_NNN_Cov     -> mosaic_cov.fits */
    MX_PRODUCT_UNC,           /* coadd_Tile_NNN_Unc     -> mosaic_unc.fits */
    MX_PRODUCT_STD,           /* coadd_Tile_NNN_Std_Unc -> mosaic_std.fits */
    MX_PRODUCT_TIME,          /* coadd_Tile_NNN_Time    (not combined) */
    MX_PRODUCT_MEDIAN,        /* coadd_median_Tile_NNN_Image -> median_mosaic.fits */
    MX_PRODUCT_OUTLIER,       /* <outlier dir>/Tile_NNN_Image -> mosaic_outlier.fits */
    MX_PRODUCT_DUAL_OUTLIER,  /* <dual outlier dir>/Tile_NNN_Image -> mosaic_dual_outlier.fits */
    MX_PRODUCT_COUNT
} mx_product;

/* Manifest token ("Image", "Cov", "Unc", "Std_Unc", "Time", "Median",
 * "Outlier", "DualOutlier"), tile file suffix ("_Image.fits", ...,
 * "_Image.fits" for the median and outlier products) and mosaic file name
 * (NULL for MX_PRODUCT_TIME). NULL for an invalid product. */
const char *mx_product_token(int product);
const char *mx_product_suffix(int product);
const char *mx_product_mosaic(int product);

/* Every field must be set (defaults live in lua/mopex/modules/coadd.lua). */
typedef struct mx_coadd_opts {
    long tilemax_x, tilemax_y;  /* TILEMAX_X/Y, >= 1 */
    const char *time_keyword;   /* INTEG_TIME_KWD; NULL or "": no time weighting */
    int sigma_weighted;         /* sigma_weighted_coadd (needs uncertainties) */
    int create_unc;             /* create_unc_mosaic (only when uncertainties are given) */
    int create_std;             /* create_std_mosaic */
    int create_median;          /* run_median_mosaic */
    int absolute_minimum;       /* run_absolute_minimum_mosaic */
    int create_outlier;         /* create_outlier_mosaic (only when outlier maps are given) */
    int create_dual_outlier;    /* create_dual_outlier_mosaic (only when dual maps are given) */
    size_t memory_budget;       /* bytes of stack pixels in memory at once, all threads; 0: whole tiles */
    const double *offsets;      /* NULL, or one value per frame subtracted from its image */
    const char *program;        /* writer named in the tables, e.g. "mosaic_coadder" */
} mx_coadd_opts;

typedef struct mx_coadd_inputs {
    int n;
    const char *const *images;        /* interp_<b>.fits, required */
    const char *const *coverages;     /* interp_<b>_covg.fits or fixed_covg_<b>.fits; NULL: 1 */
    const char *const *sigmas;        /* interp_unc_<b>_sigma.fits; NULL: none */
    const char *const *outliers;      /* temporal outlier maps; NULL: none */
    const char *const *dual_outliers; /* Level (else Dual Outlier) maps; NULL: none */
} mx_coadd_inputs;

typedef struct mx_coadd_dirs {
    const char *coadd;          /* Coadd-mosaic (created) */
    const char *outlier;        /* Outlier-mosaic, needed when outlier tiles are written */
    const char *dual_outlier;   /* DualOutlier-mosaic, likewise */
} mx_coadd_dirs;

typedef struct mx_coadd_result {
    int ntiles;
    unsigned products;          /* bits (1u << MX_PRODUCT_*) of what was written */
    double seconds;             /* wall time of the tile computation */
} mx_coadd_result;

int mx_coadd_run(const mx_coadd_inputs *in, const char *fif_path, const mx_coadd_opts *opts,
                 const mx_coadd_dirs *dirs, mx_coadd_result *res);

/* Names of the tile files of a product for tile `id` (no directory):
 * e.g. "coadd_Tile_007_Std_Unc.fits". */
void mx_coadd_tile_name(int product, int id, char *buf, size_t size);

/* ---- Mosaic Combine -------------------------------------------------------------- */

/* Every field must be set. */
typedef struct mx_combine_opts {
    const char *outlier_dir;      /* where tiles.tbl of the outlier mosaic is; NULL: skip */
    const char *dual_outlier_dir; /* likewise for the dual outlier mosaic */
    int delete_tiles;             /* remove the tile files afterwards */
} mx_combine_opts;

/* Combine every product listed in <coadd_dir>/coadd_tiles.tbl into outdir
 * (created). *products (may be NULL) gets the bits of the mosaics written. */
int mx_combine_run(const char *coadd_dir, const char *fif_path, const char *outdir,
                   const mx_combine_opts *opts, unsigned *products);

/* Paste the tiles "<dir of tiles_table>/<fname><suffix>" listed in
 * tiles_table (columns tile_id, fname, xoff, yoff, naxis1, naxis2; the
 * formats.md 4.10 spelling file, offset_x, offset_y is read too) into
 * out_path, on the grid of fif_path. */
int mx_combine_tiles(const char *tiles_table, const char *suffix, const char *fif_path,
                     const char *out_path);

/* ---- Fix Coverage ------------------------------------------------------------------ */

/* In-memory kernel: out (nx*ny, may not alias in) from in. */
int mx_fix_coverage(const float *in, long nx, long ny, double min_single, double min_block,
                    float *out);
/* Each coverage map in[i] -> out[i] (same header), in parallel over maps. */
int mx_fix_coverage_run(int n, const char *const *in, const char *const *out, double min_single,
                        double min_block);

/* ---- Mosaic MedFilter ----------------------------------------------------------------- */

/* mosaic_path minus its median-filter background -> out_path. coverage_path
 * may be NULL (then only NaN pixels are excluded). */
int mx_mosaic_medfilter_run(const char *mosaic_path, const char *coverage_path,
                            const mx_medfilter_opts *opts, const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
