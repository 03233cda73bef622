/* mx_resample.h - per-frame resampling kernels of Mosaic Interpolate,
 * Mosaic Projection and Mosaic RMask (algorithms.md 4.2-4.6, 2.3(b), 2.5;
 * mosaic.md 5.6.8, 5.6.10, 5.6.16).
 *
 * In-memory only: the caller reads the frame, combines its masks and gives
 * the kernels borrowed arrays, a mapping (mx_pixmap.h: an mx_pixmap, or any
 * mx_map) and the output box (usually from mx_map_footprint_box). Each
 * call is single-threaded and reentrant (all scratch is allocated once per
 * call and freed before returning); parallelise over frames.
 *
 * PIXELS: 0-based, pixel (i, j) covers [i-0.5, i+0.5] x [j-0.5, j+0.5];
 * arrays are row-major (index j*nx + i). Output arrays are box->w *
 * box->h, pixel (p, q) being output-grid pixel (box->x0 + p, box->y0 + q).
 *
 * USABLE INPUT PIXELS: bad[i] == 0 and the value finite and, when a sigma
 * image is given, sigma finite and > 0 (algorithms.md section 0). Pixels
 * outside the frame are never usable.
 *
 * OUTPUTS: image and sigma are NaN and coverage is 0 where nothing usable
 * contributes. Sigma is the same weighted mean as the data (sum w s /
 * sum w: the literal reading of 000 l.8385-8388; one function in
 * resample.c decides this).
 *
 * METHODS (INTERP_METHOD):
 *  1 default: each output pixel's corner quad Q_j is mapped into the input
 *    frame; a_ji = exact area(Q_j intersect input pixel i) (mx_poly_cells);
 *    O_j = sum a_ji I_i / A_j, A_j = sum over usable i of a_ji;
 *    coverage = A_j / area(Q_j), the usable fraction of the output pixel.
 *    FINERES F >= 2: the input is first replaced by F x F sub-pixels per
 *    pixel, each the bilinear value at its centre (Eq 8.12); a sub-pixel is
 *    unusable if an in-frame input pixel with non-zero weight is unusable;
 *    out-of-frame neighbours are dropped and the weights renormalised, so
 *    the frame edge is extended rather than eroded.
 *  2 drizzle (DRIZ_FAC f): each usable input pixel's mapped quad is shrunk
 *    about its centre to the bilinear sub-quad of side f (f = 1: the quad
 *    itself); a_ji = area(drop_i intersect output pixel j), output-pixel
 *    units; O_j = sum a_ji I_i / sum a_ji; coverage = sum a_ji.
 *  3 grid (GRID_RATIO G): G x G points per usable input pixel at the
 *    sub-cell centres (bilinear inside the mapped quad), each landing in
 *    output pixel floor(x + 0.5) (a point on an edge goes to the higher
 *    index); O_j = mean of the values received; coverage = number of
 *    points received x (area of one grid cell in output pixels), i.e.
 *    N_j / (G^2 area(Q_j)).
 *  4 cubic (ALPHA a): the output pixel centre maps to (x, y); taps
 *    floor(x)-1 .. floor(x)+2 (same in y) with Keys weights h(x - x_i)
 *    h(y - y_j), h(t) = (a+2)|t|^3 - (a+3)|t|^2 + 1 for |t| < 1,
 *    a|t|^3 - 5a|t|^2 + 8a|t| - 4a for 1 <= |t| < 2 (+8a: the manual's -8a
 *    breaks h(1) = 0). NaN when the pixel nearest (x, y) is unusable or
 *    outside; otherwise renormalised over usable taps; coverage = sum of
 *    usable weights clipped to [0, 1].
 *
 * UNITS: surface brightness (counts = 0) is averaged. With counts = 1 the
 * image and sigma are multiplied by area(Q_j), the output pixel's area in
 * input pixels (algorithms.md 4.2 [PROPOSED]), so counts are conserved.
 *
 * FLUX CONSERVATION (method 1, surface brightness): O_j cov_j area(Q_j) =
 * sum_i a_ji I_i, and the quads tile the mapped plane, so summed over a box
 * that contains the footprint: sum_j O_j cov_j area(Q_j) = sum_i I_i (usable
 * i), in input-pixel units; since area(Q_j) = Omega_out,j / Omega_in to
 * first order this is sum_j O_j cov_j Omega_out,j = sum_i I_i Omega_in,i.
 */
#ifndef MX_RESAMPLE_H
#define MX_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include "mx_pixmap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MX_INTERP_DEFAULT = 1,
    MX_INTERP_DRIZZLE = 2,
    MX_INTERP_GRID = 3,
    MX_INTERP_CUBIC = 4
} mx_interp_method;

/* Every field must be set (defaults live in the Lua schema). */
typedef struct mx_resample_opts {
    int method;      /* mx_interp_method */
    int fineres;     /* method 1: 0 or 1 = off, F >= 2 sub-pixels per axis (<= 16) */
    double driz_fac; /* method 2: 0 < f <= 1 */
    int grid_ratio;  /* method 3: G >= 1 (<= 64) */
    double alpha;    /* method 4: Keys parameter, e.g. -0.5 */
    int counts;      /* 0 surface brightness, 1 counts (see UNITS) */
} mx_resample_opts;

/* An input frame (borrowed arrays of nx*ny). */
typedef struct mx_frame {
    long nx, ny;
    const float *image;
    const float *sigma;  /* NULL: no uncertainties */
    const uint8_t *bad;  /* NULL: every finite pixel usable; non-zero = unusable */
} mx_frame;

/* Where the results go: box->w * box->h values each, in float (what FITS
 * products hold) and/or double (exact sums, tests). Every non-NULL pointer
 * is written; at least one image and one coverage array are required. The
 * sigma arrays are written only when the frame has a sigma image. */
typedef struct mx_resample_out {
    float *image, *coverage, *sigma;
    double *image_d, *coverage_d, *sigma_d;
} mx_resample_out;

/* Interpolate one frame into the output box. Errors: MX_ERR_PARAM (bad
 * options or sizes, naming the parameter), MX_ERR_NOMEM, or whatever the
 * map returns. */
int mx_resample(const mx_resample_opts *o, const mx_frame *in, const mx_map *map,
                const mx_box *box, const mx_resample_out *out);

/* Mosaic Projection of a detection map (algorithms.md 2.3(b), oracle O-20):
 * method-1 geometry without weights and without masks. Per output pixel:
 * NaN if it overlaps no input pixel; else the cluster number (non-zero
 * label) with the largest total overlap area, ties going to the smaller
 * number; else 0. Overlaps below 1e-9 of the output pixel's area are
 * ignored (floating-point slivers). */
int mx_project_labels(const int32_t *labels, long nx, long ny, const mx_map *map,
                      const mx_box *box, float *out);

/* RMask back-projection (algorithms.md 2.5): `flags` (box->w * box->h, non-zero
 * = flagged output pixel) are projected back; frac[i] (nx*ny, overwritten)
 * is the fraction of input pixel i covered by flagged output pixels, in
 * input-pixel units (the caller sets the RMask bit where frac >= RM_THRESH). */
int mx_backproject_flags(const uint8_t *flags, const mx_box *box, const mx_map *map, long nx,
                         long ny, float *frac);

/* Keys cubic convolution kernel h(t) with parameter alpha (method 4). */
double mx_keys_kernel(double t, double alpha);

#ifdef __cplusplus
}
#endif
#endif
