/* map.c - helpers on abstract point mappings (corner lattices, footprint
 * boxes) and the plane-to-plane algebra of Makovoz (2004): celestial
 * rotations and the gnomonic homography H = B_out^T R B_in. No WCS
 * library calls here (pixmap.c binds these to mx_wcs). */
#include "mopex/mx_pixmap.h"
#include "mopex/mx_error.h"
#include "mopex/mx_sky.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int mx_map_corners(const mx_map *m, mx_map_dir dir, long ox, long oy, long nx, long ny,
                   double *cx, double *cy) {
    if (!m || !cx || !cy || nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "mx_map_corners: need a map, output arrays and nx, ny >= 1 "
                                       "(got %ld x %ld)", nx, ny);
    mx_map_fn fn = dir == MX_MAP_FWD ? m->fwd : m->inv;
    if (!fn) return mx_seterr(MX_ERR_PARAM, "mx_map_corners: the map has no %s direction",
                              dir == MX_MAP_FWD ? "forward" : "inverse");
    size_t w = (size_t)nx + 1, h = (size_t)ny + 1;
    if (dir == MX_MAP_INV && m->lattice_inv) { /* the lattice the resampling kernels map */
        long *lo = calloc(h, sizeof *lo), *hi = malloc(h * sizeof *hi);
        int st = MX_OK;
        if (!lo || !hi) st = mx_seterr(MX_ERR_NOMEM, "mx_map_corners: %zu rows", h);
        for (size_t b = 0; st == MX_OK && b < h; b++) hi[b] = (long)w - 1;
        if (st == MX_OK)
            st = m->lattice_inv(m->ctx, (double)ox - 0.5, (double)oy - 0.5, (long)w, (long)h, lo, hi,
                                cx, cy);
        free(lo);
        free(hi);
        return st;
    }
    for (size_t b = 0; b < h; b++)
        for (size_t a = 0; a < w; a++) {
            cx[b * w + a] = (double)ox + (double)a - 0.5;
            cy[b * w + a] = (double)oy + (double)b - 0.5;
        }
    /* One call in row order: consecutive points are neighbours, which the
     * WCS mapping uses to warm-start its Newton solves. */
    return fn(m->ctx, w * h, cx, cy, cx, cy);
}

int mx_map_footprint_box(const mx_map *m, long nx_in, long ny_in, long nx_out, long ny_out,
                         mx_box *box) {
    int status = MX_OK;
    double *bx = NULL, *by = NULL;
    if (!m || !m->fwd || !box || nx_in < 1 || ny_in < 1 || nx_out < 1 || ny_out < 1) {
        status = mx_seterr(MX_ERR_PARAM, "mx_map_footprint_box: need a forward map, a box and "
                                         "positive sizes (input %ld x %ld, output %ld x %ld)",
                           nx_in, ny_in, nx_out, ny_out);
        goto exit;
    }
    box->x0 = box->y0 = box->w = box->h = 0;
    size_t np = 2 * ((size_t)nx_in + (size_t)ny_in);
    bx = malloc(np * sizeof *bx);
    by = malloc(np * sizeof *by);
    if (!bx || !by) {
        status = mx_seterr(MX_ERR_NOMEM, "footprint boundary of %zu points", np);
        goto exit;
    }
    /* The boundary of the corner lattice, counter-clockwise from (-0.5, -0.5). */
    size_t k = 0;
    for (long a = 0; a < nx_in; a++) bx[k] = a - 0.5, by[k++] = -0.5;
    for (long b = 0; b < ny_in; b++) bx[k] = nx_in - 0.5, by[k++] = b - 0.5;
    for (long a = nx_in; a > 0; a--) bx[k] = a - 0.5, by[k++] = ny_in - 0.5;
    for (long b = ny_in; b > 0; b--) bx[k] = -0.5, by[k++] = b - 0.5;
    if ((status = m->fwd(m->ctx, np, bx, by, bx, by)) != MX_OK) goto exit;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (k = 0; k < np; k++) {
        if (!isfinite(bx[k]) || !isfinite(by[k])) continue;
        xmin = fmin(xmin, bx[k]);
        xmax = fmax(xmax, bx[k]);
        ymin = fmin(ymin, by[k]);
        ymax = fmax(ymax, by[k]);
    }
    if (!(xmin <= xmax) || !(ymin <= ymax)) goto exit; /* nothing mappable */
    /* Clip in double first: a frame far off the grid must not overflow long. */
    double fx0 = fmax(floor(xmin + 0.5), 0.0), fx1 = fmin(ceil(xmax - 0.5), nx_out - 1.0);
    double fy0 = fmax(floor(ymin + 0.5), 0.0), fy1 = fmin(ceil(ymax - 0.5), ny_out - 1.0);
    if (fx1 < fx0 || fy1 < fy0) goto exit;
    box->x0 = (long)fx0;
    box->y0 = (long)fy0;
    box->w = (long)fx1 - box->x0 + 1;
    box->h = (long)fy1 - box->y0 + 1;
exit:
    free(bx);
    free(by);
    return status;
}

/* ---- celestial rotations ------------------------------------------------- */

/* Matrix taking J2000 unit vectors to system `s`; 0 for an unknown system.
 * One convention for the whole project: the rotations of mx_sky.h. */
static int from_j2000(const char *s, double M[3][3]) {
    mx_sky_system sys;
    if (strcmp(s, "Other") == 0 || mx_sky_parse(s, &sys) != MX_OK) {
        mx_clearerr();
        return 0;
    }
    mx_sky_matrix(MX_SKY_ICRS, sys, M);
    return 1;
}

int mx_celestial_rotation(const char *from, const char *to, double R[3][3]) {
    if (!from || !to) return mx_seterr(MX_ERR_PARAM, "mx_celestial_rotation: NULL system name");
    double A[3][3], B[3][3];
    if (!strcmp(from, to)) {
        memset(R, 0, 9 * sizeof(double));
        R[0][0] = R[1][1] = R[2][2] = 1.0;
        return MX_OK;
    }
    if (!from_j2000(from, A) || !from_j2000(to, B))
        return mx_seterr(MX_ERR_UNSUPPORTED,
                         "no rotation between celestial systems '%s' and '%s' (supported: "
                         "J2000, Galactic, Ecliptic)", from, to);
    /* R = B A^T: back to J2000, then on to `to`. */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += B[r][k] * A[c][k];
            R[r][c] = s;
        }
    return MX_OK;
}

/* Columns e_xi (east), e_eta (north), t (tangent point) of a gnomonic plane. */
static void tan_basis(const double crval[2], double e[3][3]) {
    double a = crval[0] * M_PI / 180.0, d = crval[1] * M_PI / 180.0;
    double ca = cos(a), sa = sin(a), cd = cos(d), sd = sin(d);
    e[0][0] = -sa, e[0][1] = ca, e[0][2] = 0.0;
    e[1][0] = -sd * ca, e[1][1] = -sd * sa, e[1][2] = cd;
    e[2][0] = cd * ca, e[2][1] = cd * sa, e[2][2] = sd;
}

void mx_tan_homography(const double crval_in[2], const double crval_out[2],
                       const double R[3][3], double H[3][3]) {
    double bi[3][3], bo[3][3], rbi[3][3];
    tan_basis(crval_in, bi);
    tan_basis(crval_out, bo);
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 3; k++) {
            if (R) rbi[c][k] = R[k][0] * bi[c][0] + R[k][1] * bi[c][1] + R[k][2] * bi[c][2];
            else rbi[c][k] = bi[c][k];
        }
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            H[r][c] = bo[r][0] * rbi[c][0] + bo[r][1] * rbi[c][1] + bo[r][2] * rbi[c][2];
}
