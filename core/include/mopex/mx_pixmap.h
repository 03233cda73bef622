/* mx_pixmap.h - input pixel <-> output pixel mappings for the mosaic engine.
 *
 * PIXEL CONVENTION: 0-based, pixel (i, j) covers [i-0.5, i+0.5] x
 * [j-0.5, j+0.5] (algorithms.md section 0), in both frames.
 *
 * Two layers:
 *
 * 1. mx_map: an abstract, vectorised point mapping between an input frame
 *    and an output grid (function pointers + context). The resampling
 *    kernels (mx_resample.h) only see an mx_map, so they run on any mapping:
 *    a WCS pair (below) or a plain affine map in tests. Helpers here map a
 *    pixel-corner lattice once and find the output bounding box of a frame.
 *
 * 2. mx_pixmap: the mapping between two WCSs (input: any mx_wcs, possibly
 *    TAN-SIP; output: usually an undistorted TAN grid from
 *    mx_wcs_new_simple).
 *      fast path (both gnomonic, mx_wcs_tanplane succeeds for both):
 *        input pixel -> SIP forward -> CD -> standard coordinates
 *        -> one 3x3 homography G = A_out^-1 H A_in, H = B_out^T R B_in
 *           (Makovoz 2004; algorithms.md 4.1; R rotates between celestial
 *           systems, identity when both frames share one)
 *        -> (SIP inverse of the output, if any) -> output pixel.
 *        The inverse runs through G^-1 and a solve of the input SIP,
 *        warm-started from the previous points of the same call: along a
 *        lattice row one evaluation of the SIP polynomials per point
 *        (results depend on the neighbours only at the 1e-11 px level, and
 *        a given call sequence always gives the same bits).
 *      slow path (any other projection, TPV, ...): mx_wcs_pix2sky on a
 *        private copy of the input WCS, rotation between celestial systems,
 *        mx_wcs_sky2pix on a private copy of the output WCS.
 *    Both paths agree to < 1e-9 pixel (tests/c/test_pixmap.c).
 *
 * THREADS: an mx_pixmap owns private copies (mx_wcs_dup) of both WCSs and
 * scratch space: use one pixmap per thread (typically one per frame inside
 * the worker of mx_parallel_for). mx_pixmap_new only reads its arguments.
 * The mx_map helpers are reentrant; they are as thread-safe as the map they
 * are given.
 */
#ifndef MX_PIXMAP_H
#define MX_PIXMAP_H

#include <stddef.h>
#include "mx_wcs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- abstract mapping ---------------------------------------------------- */
/* Map n points (x[k], y[k]) to (xo[k], yo[k]). Points that cannot be mapped
 * (outside a projection's domain, behind the tangent plane) come back as NaN
 * and the call still succeeds; a non-zero return is a real failure with
 * mx_errmsg() set. Outputs may alias the inputs. */
typedef int (*mx_map_fn)(void *ctx, size_t n, const double *x, const double *y, double *xo,
                         double *yo);

/* The inverse of a lattice of output points, row by row: point (a, b) is
 * (x0 + a, y0 + b) of the output grid, for a = lo[b]..hi[b] of every row
 * b = 0..h-1 (rows with lo[b] > hi[b] are skipped); its input position
 * lands in xo/yo[b*w + a], the other entries are left untouched. */
typedef int (*mx_map_lattice_fn)(void *ctx, double x0, double y0, long w, long h,
                                 const long *lo, const long *hi, double *xo, double *yo);

typedef struct mx_map {
    mx_map_fn fwd; /* input-frame pixel -> output-grid pixel */
    mx_map_fn inv; /* output-grid pixel -> input-frame pixel */
    void *ctx;
    /* optional (NULL: inv row by row): a faster inverse of whole lattices */
    mx_map_lattice_fn lattice_inv;
} mx_map;

typedef enum { MX_MAP_FWD = 0, MX_MAP_INV = 1 } mx_map_dir;

/* A rectangle of the output grid: pixels x0..x0+w-1, y0..y0+h-1. */
typedef struct mx_box {
    long x0, y0, w, h;
} mx_box;

/* Map the pixel-corner lattice of the nx*ny pixels starting at pixel
 * (ox, oy) of the source side of `dir` (the input frame for MX_MAP_FWD, the
 * output grid for MX_MAP_INV): corner (a, b), a = 0..nx, b = 0..ny, is the
 * point (ox + a - 0.5, oy + b - 0.5) and lands in cx/cy[b*(nx+1) + a].
 * Pixel (ox+a, oy+b) is the quad of corners (a,b), (a+1,b), (a+1,b+1),
 * (a,b+1); neighbouring quads share their corners exactly, so they tile the
 * mapped region without gaps (the basis of flux conservation). MX_MAP_INV
 * goes through m->lattice_inv when the map has one: the same lattice the
 * resampling kernels use for the same box. */
int mx_map_corners(const mx_map *m, mx_map_dir dir, long ox, long oy, long nx, long ny,
                   double *cx, double *cy);

/* Output bounding box of an nx_in*ny_in input frame on an nx_out*ny_out
 * output grid: the boundary of its corner lattice is mapped forward; the
 * box runs from the pixel containing the smallest projected corner
 * coordinate, floor(min + 0.5), to the pixel containing the largest,
 * ceil(max - 0.5), both inclusive (a corner exactly on a pixel edge does not
 * pull in the empty pixel beyond it), clipped to the output grid. box->x0,
 * box->y0 are the MINTOFFX/MINTOFFY offsets (0-based); w = h = 0 when the
 * frame misses the grid or no boundary point can be mapped. */
int mx_map_footprint_box(const mx_map *m, long nx_in, long ny_in, long nx_out, long ny_out,
                         mx_box *box);

/* ---- plane-to-plane algebra (Makovoz 2004) ------------------------------ */
/* Rotation R taking unit vectors of celestial system `from` to `to`, both
 * among "J2000" (ICRS/FK5 equatorial), "Galactic" (IAU 1958 pole and origin
 * in ICRS, Hipparcos matrix) and "Ecliptic" (mean ecliptic and equinox of
 * J2000, obliquity 84381.448"). MX_ERR_UNSUPPORTED for other pairs (equal
 * names give the identity, "Other" included). */
int mx_celestial_rotation(const char *from, const char *to, double R[3][3]);

/* H = B_out^T R B_in for gnomonic planes with tangent points crval_in and
 * crval_out (degrees, each in its own system), B = [e_xi e_eta t]; R may be
 * NULL (same system). Standard coordinates in radians map as
 * (xi', eta', 1)^T ~ H (xi, eta, 1)^T (oracle O-13). */
void mx_tan_homography(const double crval_in[2], const double crval_out[2],
                       const double R[3][3], double H[3][3]);

/* ---- mapping between two WCSs ------------------------------------------ */
typedef struct mx_pixmap mx_pixmap;

enum {
    MX_PIXMAP_AUTO = 0,       /* fast path when possible */
    MX_PIXMAP_FORCE_SLOW = 1  /* always the two-step wcslib path (tests, checks) */
};

/* Build the mapping from frame `in` to grid `out`. Fails with
 * MX_ERR_UNSUPPORTED when the celestial systems differ and one of them is
 * not J2000/Galactic/Ecliptic (message names both). */
int mx_pixmap_new(const mx_wcs *in, const mx_wcs *out, int flags, mx_pixmap **pm);
void mx_pixmap_free(mx_pixmap *pm);
/* 1 when the homography path is in use. */
int mx_pixmap_is_fast(const mx_pixmap *pm);
/* The homography G (input SIP-corrected offsets from CRPIX -> output
 * offsets from CRPIX, homogeneous); MX_ERR_UNSUPPORTED on the slow path. */
int mx_pixmap_homography(const mx_pixmap *pm, double G[3][3]);

/* Vectorised transforms (see mx_map_fn for NaN and aliasing rules). */
int mx_pixmap_forward(mx_pixmap *pm, size_t n, const double *x, const double *y, double *xo,
                      double *yo);
int mx_pixmap_inverse(mx_pixmap *pm, size_t n, const double *x, const double *y, double *xo,
                      double *yo);
/* mx_map_lattice_fn of a pixmap: exact without an input SIP; with one, the
 * SIP solve is exact on nodes about LATTICE_NODE_PX = 2 input pixels apart
 * and cubic between them (within ~1e-8 px of mx_pixmap_inverse for IRAC
 * distortions; tests/c/test_pixmap.c). */
int mx_pixmap_inverse_lattice(mx_pixmap *pm, double x0, double y0, long w, long h,
                              const long *lo, const long *hi, double *xo, double *yo);
/* The pixmap as an mx_map (valid while pm lives), lattice_inv included. */
mx_map mx_pixmap_map(mx_pixmap *pm);

#ifdef __cplusplus
}
#endif
#endif
