/* geom_priv.h - the small-polygon overlap kernel shared by geom.c
 * (mx_poly_cells) and resample.c (the exact-overlap method, which inlines
 * it for the commonest quads). Not part of the public API. */
#ifndef MX_GEOM_PRIV_H
#define MX_GEOM_PRIV_H

#include "mopex/mx_geom.h"

/* floor/ceil for |x| < 2^62 without a libm call (the hot loops would
 * otherwise pay a PLT call per bound); callers check the range. */
static inline long mx_lfloor(double x) {
    long i = (long)x;
    return i - (x < (double)i);
}
static inline long mx_lceil(double x) {
    long i = (long)x;
    return i + (x > (double)i);
}

/* Integral of min(x, X) dy along the segment a -> b (signed by direction). */
static inline double mx_int_minx(double ax, double ay, double bx, double by, double X) {
    double dy = by - ay;
    if (ax <= X && bx <= X) return 0.5 * (ax + bx) * dy;
    if (ax >= X && bx >= X) return X * dy;
    double yc = ay + (X - ax) * dy / (bx - ax); /* where the segment crosses x = X */
    if (ax < X) return 0.5 * (ax + X) * (yc - ay) + X * (by - yc);
    return X * (yc - ay) + 0.5 * (X + bx) * (by - yc);
}

/* Overlaps of a convex polygon q (n vertices, coordinates relative to the
 * centre of its lowest cell, so that it lies in x, y in [-0.5, 1.5]) with
 * the two or four cells it spans: wide = it crosses x = 0.5, tall = it
 * crosses y = 0.5. a[i][j] = the area in cell (i, j) (0 where the polygon
 * does not reach); by Green's theorem, the integral of min(x, 0.5) dy along
 * the edges (and along their parts with y <= 0.5) gives the cumulative
 * areas, and inclusion-exclusion the cells. */
static inline __attribute__((always_inline)) void mx_small_cell_areas(const mx_vec2 *q, const int n,
                                                                      int wide, int tall,
                                                                      double a[2][2]) {
    const double X = 0.5, Y = 0.5;
    double aq = 0, al = 0, ab = 0, all = 0;
#pragma GCC unroll 4
    for (int k = 0, l = n - 1; k < n; l = k++) {
        double ax = q[l].x, ay = q[l].y, bx = q[k].x, by = q[k].y;
        aq += 0.5 * (ax + bx) * (by - ay);
        if (wide) al += mx_int_minx(ax, ay, bx, by, X);
        if (tall) {
            /* the part of the edge with y <= Y */
            double cx0 = ax, cy0 = ay, cx1 = bx, cy1 = by;
            if (ay > Y && by > Y) continue;
            if (ay > Y) cx0 = ax + (Y - ay) * (bx - ax) / (by - ay), cy0 = Y;
            else if (by > Y) cx1 = ax + (Y - ay) * (bx - ax) / (by - ay), cy1 = Y;
            ab += 0.5 * (cx0 + cx1) * (cy1 - cy0);
            if (wide) all += mx_int_minx(cx0, cy0, cx1, cy1, X);
        }
    }
    double sg = aq < 0 ? -1.0 : 1.0;
    aq *= sg, al *= sg, ab *= sg, all *= sg;
    if (!tall) {
        a[0][0] = al, a[1][0] = aq - al, a[0][1] = a[1][1] = 0;
    } else if (!wide) {
        a[0][0] = ab, a[0][1] = aq - ab, a[1][0] = a[1][1] = 0;
    } else {
        a[0][0] = all, a[0][1] = al - all, a[1][0] = ab - all, a[1][1] = aq - al - ab + all;
    }
}

#endif
