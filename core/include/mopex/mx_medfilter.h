/* mx_medfilter.h - background estimation and subtraction (MedFilter) and the
 * sliding-window order statistics behind it.
 *
 * In-memory kernels on float arrays: no file I/O. The Overlap and Mosaic
 * MedFilter, Mosaic MedFilter, and the APEX Detect / Extract MedFilter
 * modules read their images and masks and call mx_medfilter; Gaussnoise can
 * call mx_window_quantiles directly (68 % range of the same windows).
 *
 * Images are row-major, nx columns (x, fastest) by ny rows, pixel (x, y) at
 * y*nx + x, 0-based. A pixel is BAD when its value is NaN or +-Inf or when
 * `bad` (optional, nx*ny bytes) is non-zero there; the caller builds `bad`
 * from the fatal mask bits. Bad pixels never enter a statistic.
 *
 * WINDOW (Median mode, overlap.md 4.3.5, apex.md 3.5): the window of pixel
 * (x, y) spans columns x-lo .. x+hi and rows y-lo' .. y+hi' with
 * lo = (Window_X-1)/2, hi = Window_X/2 (an even size puts the extra column on
 * the high side; same for rows), truncated at the image edges. Its good
 * pixels, n of them, minus the N_Outliers_Per_Window highest leave m = n - N
 * values; the background is their median with the MOPEX convention
 * sorted[floor(m/2)] (the upper middle element, algorithms.md section 0), or
 * the averaging median on request. The result equals this definition
 * exactly (bit for bit, for any thread count): it is an exact order
 * statistic, computed by a sliding window over ranks, not an approximation.
 *
 * MISSING pixels: when n < Min_Good_Pixels_In_Window or n <= N (nothing
 * would be left) the background is "missing". Afterwards each missing
 * background at a good input pixel is replaced by the mean of the computed
 * (non-missing) backgrounds found by scanning square rings of Chebyshev
 * radius 1, 2, ... around it, stopping after the first ring at which at
 * least Min_GoodNeighbors_Number values have been collected (000
 * l.5427-5436). Missing backgrounds at bad input pixels stay NaN (their
 * output is NaN anyway), which keeps the fill cheap on mosaics whose corners
 * are empty. If no background was computed anywhere, everything is NaN.
 *
 * SBKG mode (Use_Sbkg_for_Med = 1; SExtractor, Bertin & Arnouts 1996):
 *  - panels of Window_X x Window_Y from the image origin; a trailing partial
 *    panel at least half a window wide is a panel of its own, a narrower one
 *    is merged into its neighbour (one panel when the image is narrower than
 *    a window);
 *  - per panel: mx_mode_estimate of its good pixels (3-sigma clipping around
 *    the median to convergence, then 2.5 median - 1.5 mean, or the median
 *    when |mean - median| / sigma > 0.3; the absolute value as in
 *    SExtractor's back.c); a panel with fewer than max(1,
 *    Min_Good_Pixels_In_Window) good pixels takes the mean of the nearest
 *    valid panels (Euclidean distance on the panel grid, ties averaged, as
 *    SExtractor's filterback);
 *  - optional median filter of the panel grid: size f = Sbkg_Filt_Size_for_Med
 *    limited to the smaller panel count; f < 2 means none; otherwise the box
 *    has half-width f/2 (so 2 and 3 both give 3x3), shrunk symmetrically
 *    near the grid edges so that it stays centred (a linear gradient passes
 *    unchanged); upper median;
 *  - interpolation between panel centres (the centre of panel [a, b) is
 *    (a + b - 1) / 2): MX_SBKG_SPLINE = natural bicubic spline (along y per
 *    panel column, then along x, as SExtractor's backline), MX_SBKG_BILINEAR
 *    = bilinear; beyond the outer centres both extrapolate linearly with the
 *    end slope, so a linear gradient is reproduced exactly everywhere.
 *    N_Outliers_Per_Window is not used in this mode.
 *
 * OUTPUT: sub = input - background at good pixels, NaN at bad pixels;
 * bkg = the background image (NaN only where it could not be determined).
 *
 * Speed and threads: the Median mode is an exact sliding-window order
 * statistic over per-tile ranks (about 0.25 us per pixel and thread for
 * 45x45 windows, independent of N_Outliers); tiles (Median), panel rows
 * and image rows (Sbkg) go through mx_parallel_for, and results are
 * identical for any thread count.
 */
#ifndef MX_MEDFILTER_H
#define MX_MEDFILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MX_SBKG_SPLINE = 0, MX_SBKG_BILINEAR = 1 } mx_sbkg_interp;

/* Every field must be set (defaults live in the Lua schema). */
typedef struct mx_medfilter_opts {
    int window_x, window_y;   /* Window_X, Window_Y (>= 1) */
    int n_outliers;           /* N_Outliers_Per_Window (>= 0), Median mode only */
    int min_good;             /* Min_Good_Pixels_In_Window (< 1 acts as 1) */
    int min_good_neighbors;   /* Min_GoodNeighbors_Number (< 1 acts as 1) */
    int use_sbkg;             /* Use_Sbkg_for_Med: 1 = Sbkg panels, else Median */
    int sbkg_filter_size;     /* Sbkg_Filt_Size_for_Med (< 2: no filtering) */
    int sbkg_interp;          /* mx_sbkg_interp */
    int median_average;       /* 0: MOPEX upper median; 1: averaging median */
} mx_medfilter_opts;

/* Background-subtract `img` (nx*ny). `sub` and `bkg` (nx*ny floats each)
 * are optional outputs (either may be NULL, not both); they must not alias
 * `img`. `n_nan` (optional) receives the number of NaN pixels in `sub`
 * (for the Max_Bad_Pixels_OutputImage warning, which is the caller's).
 * Errors: MX_ERR_PARAM (sizes, window, NULL), MX_ERR_NOMEM,
 * MX_ERR_INTERRUPTED. */
int mx_medfilter(const float *img, const uint8_t *bad, long nx, long ny,
                 const mx_medfilter_opts *opts, float *sub, float *bkg, long *n_nan);

/* ---- the window engine -------------------------------------------------- */

#define MX_WQ_MAX 4

/* Sliding-window quantiles. For every pixel: the m = n - n_drop_high values
 * defined above (window, truncation, good pixels, highest dropped), then for
 * each requested q[i] in [0, 1]:
 *   interpolate = 0: sorted[min(m-1, floor(q m))]  (q = 0.5: upper median)
 *   interpolate = 1: linear between sorted[floor(h)] and sorted[floor(h)+1],
 *                    h = q (m - 1)                   (q = 0.5: averaging median)
 * Pixels with n < max(1, min_good) or n <= n_drop_high get NaN in every
 * out[i] and missing[p] = 1 (missing optional; 0 elsewhere). */
typedef struct mx_window_opts {
    int window_x, window_y;
    int n_drop_high;
    int min_good;
    int nq;                   /* 1 .. MX_WQ_MAX */
    double q[MX_WQ_MAX];
    int interpolate;
} mx_window_opts;

int mx_window_quantiles(const float *img, const uint8_t *bad, long nx, long ny,
                        const mx_window_opts *opts, float *const *out, uint8_t *missing);

/* Replace every pixel with missing[p] != 0 and (skip == NULL or skip[p] == 0)
 * by the mean of the values at non-missing pixels on the square rings of
 * radius 1, 2, ... around it, stopping at the first ring where at least
 * max(1, min_neighbors) values have been collected; NaN when the whole image
 * has none. Only non-missing values are read, so the result does not depend
 * on the order of filling. Values at non-missing pixels that are NaN are not
 * counted. */
int mx_fill_missing(float *img, const uint8_t *missing, const uint8_t *skip, long nx, long ny,
                    int min_neighbors);

#ifdef __cplusplus
}
#endif
#endif
