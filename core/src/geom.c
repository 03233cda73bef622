/* geom.c - exact polygon clipping, polygon-grid overlap and circle-rectangle
 * overlap (algorithms.md 4.2 and 8). See mx_geom.h for the contracts. */
#include "mopex/mx_geom.h"
#include "geom_priv.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* A cell polygon is the input cut by at most four axis lines: n + 4
 * vertices; strips and remainders need fewer. */
#define WORKV (MX_POLY_MAXIN + 8)
/* Polygons spanning at most this many cells per axis take the clipping-free
 * path of cells_impl. */
#define SMALL_CELLS 4

double mx_poly_area_signed(const mx_vec2 *p, int n) {
    if (n < 3) return 0.0;
    /* Relative to the first vertex: the products stay small when the
     * polygon sits far from the origin. */
    double s = 0.0, x0 = p[0].x, y0 = p[0].y;
    for (int k = 1; k + 1 < n; k++)
        s += (p[k].x - x0) * (p[k + 1].y - y0) - (p[k + 1].x - x0) * (p[k].y - y0);
    return 0.5 * s;
}

double mx_poly_area(const mx_vec2 *p, int n) { return fabs(mx_poly_area_signed(p, n)); }

int mx_poly_clip_halfplane(const mx_vec2 *p, int n, mx_vec2 a, mx_vec2 b, mx_vec2 *out) {
    if (n < 1) return 0;
    double ex = b.x - a.x, ey = b.y - a.y;
    int m = 0;
    mx_vec2 prev = p[n - 1];
    double sp = ex * (prev.y - a.y) - ey * (prev.x - a.x);
    for (int k = 0; k < n; k++) {
        mx_vec2 cur = p[k];
        double sc = ex * (cur.y - a.y) - ey * (cur.x - a.x);
        if (sc >= 0) {
            if (sp < 0 && sc > 0) { /* sc == 0: cur itself is the crossing */
                double t = sp / (sp - sc);
                out[m].x = prev.x + t * (cur.x - prev.x);
                out[m].y = prev.y + t * (cur.y - prev.y);
                m++;
            }
            out[m++] = cur;
        } else if (sp >= 0) {
            /* sp == 0 means prev itself was emitted on the line: no new point. */
            if (sp > 0) {
                double t = sp / (sp - sc);
                out[m].x = prev.x + t * (cur.x - prev.x);
                out[m].y = prev.y + t * (cur.y - prev.y);
                m++;
            }
        }
        prev = cur;
        sp = sc;
    }
    return m < 3 ? 0 : m;
}

static void reverse_copy(const mx_vec2 *p, int n, mx_vec2 *out) {
    for (int k = 0; k < n; k++) out[k] = p[n - 1 - k];
}

int mx_poly_clip_convex(const mx_vec2 *p, int np, const mx_vec2 *q, int nq, mx_vec2 *out) {
    if (np < 3 || nq < 3 || np > MX_POLY_MAXIN || nq > MX_POLY_MAXIN) return -1;
    mx_vec2 bufa[2 * MX_POLY_MAXIN + 1], bufb[2 * MX_POLY_MAXIN + 1], qq[MX_POLY_MAXIN];
    /* Both counter-clockwise, so "inside" is the left of every edge of q. */
    if (mx_poly_area_signed(p, np) < 0) reverse_copy(p, np, bufa);
    else memcpy(bufa, p, (size_t)np * sizeof *p);
    if (mx_poly_area_signed(q, nq) < 0) reverse_copy(q, nq, qq);
    else memcpy(qq, q, (size_t)nq * sizeof *q);
    mx_vec2 *cur = bufa, *nxt = bufb;
    int n = np;
    for (int e = 0; e < nq && n > 0; e++) {
        n = mx_poly_clip_halfplane(cur, n, qq[e], qq[(e + 1) % nq], nxt);
        mx_vec2 *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (n > 0) memcpy(out, cur, (size_t)n * sizeof *out);
    return n;
}

double mx_overlap_convex(const mx_vec2 *p, int np, const mx_vec2 *q, int nq) {
    mx_vec2 out[2 * MX_POLY_MAXIN];
    int n = mx_poly_clip_convex(p, np, q, nq, out);
    if (n < 0) return NAN;
    return mx_poly_area(out, n);
}

/* ---- polygon against the pixel grid ----------------------------------- */

typedef struct {
    mx_cell *cells;
    int cap, n;
    mx_cell_fn fn;
    void *ud;
} sink;

static inline __attribute__((always_inline)) void emit(sink *s, long i, long j, double a) {
    if (s->fn) s->fn(i, j, a, s->ud);
    else {
        s->cells[s->n].i = i;
        s->cells[s->n].j = j;
        s->cells[s->n].area = a;
    }
    s->n++;
}

/* Cut a convex polygon by the line (x or y, selected by `axis`) = v into the
 * part below (<= v) and the part above (>= v), in one Sutherland-Hodgman
 * pass. Points on the line go to both parts; crossing points are placed
 * exactly on the line. */
static inline void split(const mx_vec2 *p, int n, int axis, double v, mx_vec2 *lo, int *nlo,
                         mx_vec2 *hi, int *nhi) {
    int nl = 0, nh = 0;
    mx_vec2 prev = p[n - 1];
    double dp = (axis ? prev.y : prev.x) - v;
    for (int k = 0; k < n; k++) {
        mx_vec2 cur = p[k];
        double dc = (axis ? cur.y : cur.x) - v;
        if ((dp < 0 && dc > 0) || (dp > 0 && dc < 0)) {
            double t = dp / (dp - dc);
            mx_vec2 q;
            if (axis) {
                q.x = prev.x + t * (cur.x - prev.x);
                q.y = v;
            } else {
                q.x = v;
                q.y = prev.y + t * (cur.y - prev.y);
            }
            lo[nl++] = q;
            hi[nh++] = q;
        }
        if (dc <= 0) lo[nl++] = cur;
        if (dc >= 0) hi[nh++] = cur;
        prev = cur;
        dp = dc;
    }
    *nlo = nl;
    *nhi = nh;
}

/* Shoelace without the 1/2 and without orientation: cells keep the input's
 * orientation, so fabs at the end is enough. */
static inline double area2(const mx_vec2 *p, int n) {
    double s = 0.0;
    for (int k = 0, l = n - 1; k < n; l = k++) s += p[l].x * p[k].y - p[k].x * p[l].y;
    return s;
}


/* Cut polygon p (n vertices) row by row: rows ra..rb (relative to the local
 * origin), s0..s1 being the rows it touches; emits the cells of column c. */
static inline void cut_rows(const mx_vec2 *p, int n, long c, long r0, long s0, long s1, long ra,
                            long rb, sink *s) {
    if (s0 == s1) {
        double a = 0.5 * fabs(area2(p, n));
        if (a > 0) emit(s, c, r0 + s0, a);
        return;
    }
    mx_vec2 b1[WORKV], b2[WORKV], cell[WORKV], junk[WORKV];
    const mx_vec2 *rem = p;
    mx_vec2 *spare = b1;
    int nr = n, nn, nc;
    if (ra > s0) { /* drop what lies below the window */
        split(rem, nr, 1, (double)ra - 0.5, junk, &nc, spare, &nn);
        rem = spare;
        spare = b2; /* rem is b1 now */
        nr = nn;
    }
    for (long r = ra; r <= rb && nr >= 3; r++) {
        const mx_vec2 *cp;
        if (r < s1) {
            split(rem, nr, 1, (double)r + 0.5, cell, &nc, spare, &nn);
            cp = cell;
            rem = spare;
            spare = rem == b1 ? b2 : b1;
            nr = nn;
        } else {
            cp = rem;
            nc = nr;
            nr = 0;
        }
        if (nc < 3) continue;
        double a = 0.5 * fabs(area2(cp, nc));
        if (a > 0) emit(s, c, r0 + r, a);
    }
}

static inline __attribute__((always_inline)) int cells_impl(const mx_vec2 *p, const int n,
                                                           const mx_cellwin *win, sink *s) {
    double xmin = p[0].x, xmax = p[0].x, ymin = p[0].y, ymax = p[0].y;
    double probe = 0.0; /* NaN or Inf anywhere makes the sum non-finite */
#pragma GCC unroll 4
    for (int k = 0; k < n; k++) {
        probe += p[k].x + p[k].y;
        xmin = p[k].x < xmin ? p[k].x : xmin;
        xmax = p[k].x > xmax ? p[k].x : xmax;
        ymin = p[k].y < ymin ? p[k].y : ymin;
        ymax = p[k].y > ymax ? p[k].y : ymax;
    }
    if (!isfinite(probe) || xmin < -1e15 || xmax > 1e15 || ymin < -1e15 || ymax > 1e15) return 0;
    /* First and last cell touched with non-zero width: an extreme exactly on
     * a pixel edge does not enter the next pixel. */
    long c0 = mx_lfloor(xmin + 0.5), c1 = mx_lceil(xmax - 0.5);
    long r0 = mx_lfloor(ymin + 0.5), r1 = mx_lceil(ymax - 0.5);
    if (c1 < c0 || r1 < r0) return 0; /* zero width or height */
    long ca = c0, cb = c1, ra = r0, rb = r1;
    if (win) {
        if (win->i0 > ca) ca = win->i0;
        if (win->i1 < cb) cb = win->i1;
        if (win->j0 > ra) ra = win->j0;
        if (win->j1 < rb) rb = win->j1;
        if (ca > cb || ra > rb) return 0;
    }
    if (!s->fn) {
        double bound = (double)(cb - ca + 1) * (double)(rb - ra + 1);
        if (bound > s->cap) return bound >= INT_MAX ? -INT_MAX : -(int)bound;
    }

    /* Local origin at cell (c0, r0): exact integer shifts, small numbers. */
    mx_vec2 q[WORKV];
    double ox = (double)c0, oy = (double)r0;
#pragma GCC unroll 4
    for (int k = 0; k < n; k++) {
        q[k].x = p[k].x - ox;
        q[k].y = p[k].y - oy;
    }
    if (c0 == c1 && r0 == r1) {
        double a = 0.5 * fabs(area2(q, n));
        if (a > 0) emit(s, c0, r0, a);
        return s->n;
    }
    if (c1 - c0 <= 1 && r1 - r0 <= 1) {
        /* Two or four cells, the commonest case of resampling: the general
         * formula below written out for one grid line per axis. */
        double a[2][2];
        mx_small_cell_areas(q, n, c1 > c0, r1 > r0, a);
        /* column by column, rows ascending, inside the window */
        if (ca == c0 && ra == r0 && a[0][0] > 0) emit(s, c0, r0, a[0][0]);
        if (ca == c0 && rb == r1 && r1 > r0 && a[0][1] > 0) emit(s, c0, r1, a[0][1]);
        if (cb == c1 && c1 > c0) {
            if (ra == r0 && a[1][0] > 0) emit(s, c1, r0, a[1][0]);
            if (rb == r1 && r1 > r0 && a[1][1] > 0) emit(s, c1, r1, a[1][1]);
        }
        return s->n;
    }
    if (c1 - c0 < SMALL_CELLS && r1 - r0 < SMALL_CELLS) {
        /* A polygon over at most SMALL_CELLS x SMALL_CELLS cells (a resampled
         * pixel not much larger than the grid's): no clipping at all. By
         * Green's theorem area(P and x <= X and y <= Y) is the sum over the
         * edges of the integral of min(x, X) dy along their parts with
         * y <= Y; these cumulative areas F(i, j) for the grid lines
         * X_i = i + 0.5, Y_j = j + 0.5 (the last ones at infinity) give every
         * cell by inclusion-exclusion. All terms carry the orientation's sign. */
        const int nc = (int)(c1 - c0) + 1, nr = (int)(r1 - r0) + 1;
        double F[SMALL_CELLS][SMALL_CELLS] = {{0}};
        for (int k = 0, l = n - 1; k < n; l = k++) {
            double ax = q[l].x, ay = q[l].y, bx = q[k].x, by = q[k].y;
            for (int j = 0; j < nr; j++) {
                double sx0 = ax, sy0 = ay, sx1 = bx, sy1 = by; /* the part with y <= Y_j */
                if (j < nr - 1) {
                    double Y = j + 0.5;
                    if (ay > Y && by > Y) continue;
                    if (ay > Y) sx0 = ax + (Y - ay) * (bx - ax) / (by - ay), sy0 = Y;
                    else if (by > Y) sx1 = ax + (Y - ay) * (bx - ax) / (by - ay), sy1 = Y;
                }
                for (int i = 0; i < nc - 1; i++) F[i][j] += mx_int_minx(sx0, sy0, sx1, sy1, i + 0.5);
                F[nc - 1][j] += 0.5 * (sx0 + sx1) * (sy1 - sy0);
            }
        }
        double sg = F[nc - 1][nr - 1] < 0 ? -1.0 : 1.0;
        for (int i = 0; i < nc; i++) {
            long c = c0 + i;
            for (int j = 0; j < nr; j++) {
                double a = F[i][j];
                if (i > 0) a -= F[i - 1][j];
                if (j > 0) a -= F[i][j - 1];
                if (i > 0 && j > 0) a += F[i - 1][j - 1];
                a *= sg;
                long r = r0 + j;
                if (a > 0 && c >= ca && c <= cb && r >= ra && r <= rb) emit(s, c, r, a);
            }
        }
        return s->n;
    }

    /* Column strips; buffers are swapped, never copied. */
    mx_vec2 b1[WORKV], b2[WORKV], strip[WORKV], junk[WORKV];
    const mx_vec2 *rem = q;
    mx_vec2 *spare = b1;
    int nr = n, ns, nn;
    if (ca > c0) { /* drop everything left of the window */
        split(rem, nr, 0, (double)(ca - c0) - 0.5, junk, &ns, spare, &nn);
        rem = spare;
        spare = b2;
        nr = nn;
    }
    for (long c = ca; c <= cb && nr >= 3; c++) {
        const mx_vec2 *sp;
        if (c < c1) {
            split(rem, nr, 0, (double)(c - c0) + 0.5, strip, &ns, spare, &nn);
            sp = strip;
            rem = spare;
            spare = rem == b1 ? b2 : b1;
            nr = nn;
        } else {
            sp = rem;
            ns = nr;
            nr = 0;
        }
        if (ns < 3) continue;
        double symin = sp[0].y, symax = sp[0].y;
        for (int k = 1; k < ns; k++) {
            symin = sp[k].y < symin ? sp[k].y : symin;
            symax = sp[k].y > symax ? sp[k].y : symax;
        }
        long s0 = mx_lfloor(symin + 0.5), s1 = mx_lceil(symax - 0.5); /* relative rows */
        long sa = s0 > ra - r0 ? s0 : ra - r0, sb = s1 < rb - r0 ? s1 : rb - r0;
        if (sa > sb) continue;
        cut_rows(sp, ns, c, r0, s0, s1, sa, sb, s);
    }
    return s->n;
}

/* Quads (every pixel mapping) get their own copy with the vertex loops
 * unrolled. */
static int cells_core(const mx_vec2 *p, int n, const mx_cellwin *win, sink *s) {
    if (n == 4) return cells_impl(p, 4, win, s);
    if (n < 3 || n > MX_POLY_MAXIN) return 0;
    return cells_impl(p, n, win, s);
}

int mx_poly_cells(const mx_vec2 *p, int n, const mx_cellwin *win, mx_cell *cells, int cap) {
    sink s = {cells, cap < 0 ? 0 : cap, 0, NULL, NULL};
    return cells_core(p, n, win, &s);
}

int mx_poly_cells_foreach(const mx_vec2 *p, int n, const mx_cellwin *win, mx_cell_fn fn,
                          void *ud) {
    if (!fn) return 0;
    sink s = {NULL, 0, 0, fn, ud};
    return cells_core(p, n, win, &s);
}

/* ---- circles ------------------------------------------------------------ */

/* Integral of sqrt(r^2 - t^2) from a to b (-r <= a <= b <= r). The angle
 * difference comes from one atan2 rather than asin(b/r) - asin(a/r), which
 * would cancel for narrow intervals on large discs. */
static double chord_integral(double r, double a, double b) {
    double r2 = r * r;
    double ha = sqrt(fmax(r2 - a * a, 0.0)), hb = sqrt(fmax(r2 - b * b, 0.0));
    double dang = atan2(b * ha - a * hb, ha * hb + a * b);
    return 0.5 * (b * hb - a * ha + r2 * dang);
}

double mx_circle_rect_area(double r, double x0, double x1, double y0, double y1) {
    if (!(r > 0) || !(x1 > x0) || !(y1 > y0)) return 0.0;
    double X0 = fmax(x0, -r), X1 = fmin(x1, r);
    if (X1 <= X0 || y1 <= -r || y0 >= r) return 0.0;
    double bp[6];
    int nb = 0;
    bp[nb++] = X0;
    bp[nb++] = X1;
    const double ys[2] = {y0, y1};
    for (int k = 0; k < 2; k++) {
        if (fabs(ys[k]) < r) {
            double sx = sqrt(r * r - ys[k] * ys[k]);
            if (-sx > X0 && -sx < X1) bp[nb++] = -sx;
            if (sx > X0 && sx < X1) bp[nb++] = sx;
        }
    }
    for (int k = 1; k < nb; k++) /* insertion sort of at most 6 values */
        for (int l = k; l > 0 && bp[l - 1] > bp[l]; l--) {
            double t = bp[l];
            bp[l] = bp[l - 1];
            bp[l - 1] = t;
        }
    double area = 0.0;
    for (int k = 0; k + 1 < nb; k++) {
        double a = bp[k], b = bp[k + 1];
        if (!(b > a)) continue;
        /* On each sub-interval the bounds do not switch: decide at the midpoint. */
        double m = 0.5 * (a + b), hm = sqrt(fmax(r * r - m * m, 0.0));
        int top_h = hm <= y1, bot_h = -hm >= y0;
        double up = top_h ? hm : y1, lo = bot_h ? -hm : y0;
        if (up <= lo) continue;
        double g = (top_h || bot_h) ? chord_integral(r, a, b) : 0.0;
        double it = top_h ? g : y1 * (b - a);
        double ib = bot_h ? -g : y0 * (b - a);
        area += it - ib;
    }
    return area;
}

double mx_circle_pixel_area(double xc, double yc, double r, long i, long j) {
    if (!(r > 0)) return 0.0;
    double x0 = (double)i - 0.5 - xc, x1 = x0 + 1.0;
    double y0 = (double)j - 0.5 - yc, y1 = y0 + 1.0;
    /* Nearest and farthest points of the pixel from the centre. */
    double nx = x0 > 0 ? x0 : (x1 < 0 ? x1 : 0.0), ny = y0 > 0 ? y0 : (y1 < 0 ? y1 : 0.0);
    double r2 = r * r;
    if (nx * nx + ny * ny >= r2) return 0.0;
    double fx = fmax(fabs(x0), fabs(x1)), fy = fmax(fabs(y0), fabs(y1));
    if (fx * fx + fy * fy <= r2) return 1.0;
    return mx_circle_rect_area(r, x0, x1, y0, y1);
}
