/* resample.c - the four interpolation methods of Mosaic Interpolate, the
 * detection-map projection and the RMask back-projection (contracts in
 * mx_resample.h; algorithms.md 4.2-4.6, 2.3(b), 2.5). */
#include "mopex/mx_resample.h"
#include "mopex/mx_error.h"
#include "mopex/mx_geom.h"
#include "geom_priv.h"
#include "scratch_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* ---- sigma propagation --------------------------------------------------
 * The one place that decides how uncertainties combine. The guide says the
 * uncertainty images are "interpolated in an identical fashion" (000
 * l.8385-8388): the same weighted mean as the data, sum w s / sum w.
 * Propagation in quadrature would be sig_term = w*w*s*s and
 * sig_finish = sqrt(acc) * inv_sum_w (the callers pass 1 / sum w: one
 * division per pixel for the value and its sigma). */
static inline double sig_term(double w, double s) { return w * s; }
static inline double sig_finish(double acc, double inv_sum_w) { return acc * inv_sum_w; }

/* ---- prepared input -------------------------------------------------------
 * Values and sigmas as doubles plus one usable flag per pixel: every method
 * (and FINERES, which replaces the grid) reads the same structure. */
typedef struct {
    long nx, ny;
    double *v, *s; /* s NULL without uncertainties */
    uint8_t *ok;
} source;

static void source_free(source *src) {
    mx_scratch_free(src->v);
    mx_scratch_free(src->s);
    mx_scratch_free(src->ok);
    memset(src, 0, sizeof *src);
}

static int source_alloc(source *src, long nx, long ny, int with_sigma) {
    size_t n = (size_t)nx * (size_t)ny;
    src->nx = nx;
    src->ny = ny;
    src->v = mx_scratch_alloc(n * sizeof *src->v);
    src->s = with_sigma ? mx_scratch_alloc(n * sizeof *src->s) : NULL;
    src->ok = mx_scratch_alloc(n);
    if (!src->v || !src->ok || (with_sigma && !src->s)) {
        source_free(src);
        return mx_seterr(MX_ERR_NOMEM, "resample: work copy of a %ld x %ld frame", nx, ny);
    }
    return MX_OK;
}

static int source_from_frame(const mx_frame *in, source *src) {
    int status = source_alloc(src, in->nx, in->ny, in->sigma != NULL);
    if (status) return status;
    size_t n = (size_t)in->nx * (size_t)in->ny;
    for (size_t k = 0; k < n; k++) {
        double v = in->image[k];
        int ok = isfinite(v) && !(in->bad && in->bad[k]);
        if (in->sigma) {
            double s = in->sigma[k];
            ok = ok && isfinite(s) && s > 0;
            src->s[k] = ok ? s : 0.0;
        }
        src->v[k] = ok ? v : 0.0;
        src->ok[k] = (uint8_t)ok;
    }
    return MX_OK;
}

/* FINERES (Eq 8.12): sub-pixel (a, b) of an F-times finer grid is centred at
 * input coordinates u = (a + 0.5)/F - 0.5; its value is the overlap-weighted
 * (= bilinear) mean of the 4 nearest input pixels. An unusable in-frame
 * neighbour with non-zero weight makes the sub-pixel unusable (algorithms.md
 * 4.3); out-of-frame neighbours are dropped and the weights renormalised. */
static int source_fineres(const source *in, int F, source *fine) {
    int status = source_alloc(fine, in->nx * F, in->ny * F, in->s != NULL);
    if (status) return status;
    for (long b = 0; b < fine->ny; b++) {
        double v = (b + 0.5) / F - 0.5;
        long j0 = (long)floor(v);
        double fy = v - (double)j0;
        long jj[2] = {j0, j0 + 1};
        double wy[2] = {1.0 - fy, fy};
        for (long a = 0; a < fine->nx; a++) {
            double u = (a + 0.5) / F - 0.5;
            long i0 = (long)floor(u);
            double fx = u - (double)i0;
            long ii[2] = {i0, i0 + 1};
            double wx[2] = {1.0 - fx, fx};
            double num = 0, snum = 0, den = 0;
            int ok = 1;
            for (int q = 0; q < 2; q++) {
                if (jj[q] < 0 || jj[q] >= in->ny || wy[q] == 0) continue;
                for (int p = 0; p < 2; p++) {
                    if (ii[p] < 0 || ii[p] >= in->nx || wx[p] == 0) continue;
                    size_t k = (size_t)jj[q] * (size_t)in->nx + (size_t)ii[p];
                    double w = wx[p] * wy[q];
                    if (!in->ok[k]) ok = 0;
                    num += w * in->v[k];
                    if (in->s) snum += sig_term(w, in->s[k]);
                    den += w;
                }
            }
            size_t kf = (size_t)b * (size_t)fine->nx + (size_t)a;
            ok = ok && den > 0;
            fine->ok[kf] = (uint8_t)ok;
            fine->v[kf] = ok ? num / den : 0.0;
            if (fine->s) fine->s[kf] = ok ? sig_finish(snum, 1.0 / den) : 0.0;
        }
    }
    return MX_OK;
}

/* ---- output ------------------------------------------------------------- */
static inline void put(const mx_resample_out *o, size_t k, double img, double cov, double sig) {
    if (o->image) o->image[k] = (float)img;
    if (o->coverage) o->coverage[k] = (float)cov;
    if (o->sigma) o->sigma[k] = (float)sig;
    if (o->image_d) o->image_d[k] = img;
    if (o->coverage_d) o->coverage_d[k] = cov;
    if (o->sigma_d) o->sigma_d[k] = sig;
}

static void put_all_empty(const mx_resample_out *o, size_t n) {
    for (size_t k = 0; k < n; k++) put(o, k, NAN, 0.0, NAN);
}

/* ---- cell buffer ---------------------------------------------------------- */
typedef struct {
    mx_cell *c;
    int cap;
} cellbuf;

/* mx_poly_cells into a buffer that grows when a polygon needs more room
 * (output pixels much larger than input pixels); -1 when out of memory. */
static int cells_of(const mx_vec2 *q, int n, const mx_cellwin *win, cellbuf *b) {
    for (;;) {
        int m = mx_poly_cells(q, n, win, b->c, b->cap);
        if (m >= 0) return m;
        int need = -m;
        mx_cell *c = realloc(b->c, (size_t)need * sizeof *c);
        if (!c) {
            mx_seterr(MX_ERR_NOMEM, "resample: overlap list of %d cells", need);
            return -1;
        }
        b->c = c;
        b->cap = need;
    }
}

/* ---- which output pixels can touch the frame ---------------------------
 * The input frame's boundary (its corner lattice boundary) is mapped
 * forward; for each output pixel row q the columns lo..hi that may overlap
 * the footprint are those spanned by boundary pieces inside the row's band
 * (a band that meets the interior of a bounded region also meets its
 * boundary on both sides), plus one pixel of margin. Only these pixels'
 * corners are mapped back into the frame: a rotated frame wastes half its
 * bounding box, and every mapped point costs a SIP solve. */
typedef struct {
    long lo, hi; /* box-relative columns, empty when lo > hi */
} span;

static int footprint_spans(const mx_map *map, long nx, long ny, const mx_box *box, span *rows) {
    int status = MX_OK;
    size_t np = 2 * ((size_t)nx + (size_t)ny);
    long w = box->w, h = box->h;
    double *bx = malloc(np * sizeof *bx), *by = malloc(np * sizeof *by);
    double *xlo = malloc((size_t)h * sizeof *xlo), *xhi = malloc((size_t)h * sizeof *xhi);
    if (!bx || !by || !xlo || !xhi) {
        status = mx_seterr(MX_ERR_NOMEM, "resample: frame boundary of %zu points", np);
        goto exit;
    }
    size_t k = 0;
    for (long a = 0; a < nx; a++) bx[k] = a - 0.5, by[k++] = -0.5;
    for (long b = 0; b < ny; b++) bx[k] = nx - 0.5, by[k++] = b - 0.5;
    for (long a = nx; a > 0; a--) bx[k] = a - 0.5, by[k++] = ny - 0.5;
    for (long b = ny; b > 0; b--) bx[k] = -0.5, by[k++] = b - 0.5;
    if ((status = map->fwd(map->ctx, np, bx, by, bx, by)) != MX_OK) goto exit;
    int all_finite = 1;
    for (k = 0; k < np; k++) {
        if (!isfinite(bx[k]) || !isfinite(by[k])) all_finite = 0;
        bx[k] -= (double)box->x0;
        by[k] -= (double)box->y0;
    }
    if (!all_finite) { /* cannot trust the outline: map everything */
        for (long q = 0; q < h; q++) rows[q].lo = 0, rows[q].hi = w - 1;
        goto exit;
    }
    /* Extent of the boundary inside each row band, unclipped (the footprint
     * may cover the whole box width with its boundary outside the box). */
    for (long q = 0; q < h; q++) xlo[q] = INFINITY, xhi[q] = -INFINITY;
    for (k = 0; k < np; k++) {
        double xa = bx[k], ya = by[k], xb = bx[(k + 1) % np], yb = by[(k + 1) % np];
        if (ya > yb) {
            double t = ya;
            ya = yb, yb = t;
            t = xa, xa = xb, xb = t;
        }
        double qa = floor(ya + 0.5), qb = floor(yb + 0.5);
        if (qb < 0 || qa > h - 1) continue;
        if (qa < 0) qa = 0;
        if (qb > h - 1) qb = (double)(h - 1);
        for (long q = (long)qa; q <= (long)qb; q++) {
            double x0 = xa, x1 = xb;
            if (yb > ya) { /* the piece of the edge inside the band */
                double t0 = fmin(fmax((q - 0.5 - ya) / (yb - ya), 0.0), 1.0);
                double t1 = fmin(fmax((q + 0.5 - ya) / (yb - ya), 0.0), 1.0);
                x0 = xa + t0 * (xb - xa);
                x1 = xa + t1 * (xb - xa);
            }
            xlo[q] = fmin(xlo[q], fmin(x0, x1));
            xhi[q] = fmax(xhi[q], fmax(x0, x1));
        }
    }
    for (long q = 0; q < h; q++) {
        rows[q].lo = w, rows[q].hi = -1;
        if (!(xlo[q] <= xhi[q])) continue;
        /* pixels containing the extremes, one more for rounding, clipped */
        double l = fmax(floor(xlo[q] + 0.5) - 1, 0.0), u = fmin(floor(xhi[q] + 0.5) + 1, w - 1.0);
        if (l > u) continue;
        rows[q].lo = (long)l;
        rows[q].hi = (long)u;
    }
exit:
    free(bx);
    free(by);
    free(xlo);
    free(xhi);
    return status;
}

/* Map output-grid points back into the input frame, only where `rows` says
 * they are needed (the rest stay NaN). corners = 1: the (w+1)(h+1) corner
 * lattice, lattice row b serving pixel rows b-1 and b; corners = 0: the w*h
 * pixel centres. The map's lattice_inv when it has one (a pixmap: SIP
 * solves on coarse nodes), else one inv call per row (neighbours consecutive). */
static int map_back(const mx_map *map, const mx_box *box, const span *rows, int corners,
                    double *lx, double *ly) {
    long w = box->w, h = box->h, lw = corners ? w + 1 : w, lh = corners ? h + 1 : h;
    double off = corners ? -0.5 : 0.0;
    for (size_t k = 0; k < (size_t)lw * (size_t)lh; k++) lx[k] = ly[k] = NAN;
    long *lo = malloc((size_t)lh * sizeof *lo), *hi = malloc((size_t)lh * sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return mx_seterr(MX_ERR_NOMEM, "resample: lattice of %ld rows", lh);
    }
    for (long b = 0; b < lh; b++) {
        lo[b] = lw, hi[b] = -1;
        for (long q = corners ? b - 1 : b; q <= b; q++) {
            if (q < 0 || q >= h || rows[q].lo > rows[q].hi) continue;
            if (rows[q].lo < lo[b]) lo[b] = rows[q].lo;
            if (rows[q].hi + corners > hi[b]) hi[b] = rows[q].hi + corners;
        }
    }
    int status = MX_OK;
    double x0 = (double)box->x0 + off, y0 = (double)box->y0 + off;
    if (map->lattice_inv) {
        status = map->lattice_inv(map->ctx, x0, y0, lw, lh, lo, hi, lx, ly);
    } else {
        for (long b = 0; b < lh && status == MX_OK; b++) {
            if (lo[b] > hi[b]) continue;
            double *px = lx + (size_t)b * (size_t)lw + (size_t)lo[b];
            double *py = ly + (size_t)b * (size_t)lw + (size_t)lo[b];
            for (long a = lo[b]; a <= hi[b]; a++) {
                px[a - lo[b]] = x0 + (double)a;
                py[a - lo[b]] = y0 + (double)b;
            }
            status = map->inv(map->ctx, (size_t)(hi[b] - lo[b] + 1), px, py, px, py);
        }
    }
    free(lo);
    free(hi);
    return status;
}

/* The quad of output pixel (p, q) from the corner lattice (counter-clockwise
 * in the output grid; the mapping may mirror it, which the area functions
 * do not mind). 0 when a corner could not be mapped. */
static inline int quad_of(const double *lx, const double *ly, long w, long p, long q,
                          mx_vec2 *Q) {
    size_t lw = (size_t)w + 1, k0 = (size_t)q * lw + (size_t)p, k1 = k0 + lw;
    Q[0].x = lx[k0], Q[0].y = ly[k0];
    Q[1].x = lx[k0 + 1], Q[1].y = ly[k0 + 1];
    Q[2].x = lx[k1 + 1], Q[2].y = ly[k1 + 1];
    Q[3].x = lx[k1], Q[3].y = ly[k1];
    double probe = Q[0].x + Q[0].y + Q[1].x + Q[1].y + Q[2].x + Q[2].y + Q[3].x + Q[3].y;
    return isfinite(probe);
}

/* The commonest quads (output pixels not larger than the input's) lie in
 * one, two or four input pixels of the window: their overlaps come straight
 * from mx_small_cell_areas, without the general cell walk. Fills c (up to 4
 * cells, areas > 0) and returns their number; -1 when the quad is larger or
 * reaches outside the window (the general kernel decides). */
static inline int small_quad_cells(const mx_vec2 *Q, double aq, const mx_cellwin *win,
                                   mx_cell *c) {
    double x0 = Q[0].x, x1 = Q[0].x, y0 = Q[0].y, y1 = Q[0].y;
    for (int k = 1; k < 4; k++) {
        x0 = Q[k].x < x0 ? Q[k].x : x0;
        x1 = Q[k].x > x1 ? Q[k].x : x1;
        y0 = Q[k].y < y0 ? Q[k].y : y0;
        y1 = Q[k].y > y1 ? Q[k].y : y1;
    }
    if (!(x0 > -1e15 && x1 < 1e15 && y0 > -1e15 && y1 < 1e15)) return -1;
    /* first and last cell touched with non-zero width (as mx_poly_cells) */
    long i0 = mx_lfloor(x0 + 0.5), i1 = mx_lceil(x1 - 0.5);
    long j0 = mx_lfloor(y0 + 0.5), j1 = mx_lceil(y1 - 0.5);
    if (i1 < i0) i1 = i0;
    if (j1 < j0) j1 = j0;
    if (i1 - i0 > 1 || j1 - j0 > 1) return -1;
    if (i0 < win->i0 || i1 > win->i1 || j0 < win->j0 || j1 > win->j1) return -1;
    if (i0 == i1 && j0 == j1) {
        c->i = i0, c->j = j0, c->area = aq;
        return 1;
    }
    mx_vec2 q[4];
    for (int k = 0; k < 4; k++) q[k].x = Q[k].x - (double)i0, q[k].y = Q[k].y - (double)j0;
    double a[2][2];
    mx_small_cell_areas(q, 4, i1 > i0, j1 > j0, a);
    int n = 0;
    for (int di = 0; di < 2; di++)
        for (int dj = 0; dj < 2; dj++)
            if (a[di][dj] > 0) c[n].i = i0 + di, c[n].j = j0 + dj, c[n++].area = a[di][dj];
    return n;
}

/* Area of a convex quad: half the cross product of its diagonals. */
static inline double quad_area(const mx_vec2 *Q) {
    return 0.5 * fabs((Q[2].x - Q[0].x) * (Q[3].y - Q[1].y) - (Q[3].x - Q[1].x) * (Q[2].y - Q[0].y));
}

/* Shared set-up of the output-driven methods: the spans and the (corner or
 * centre) lattice mapped into the input frame. */
typedef struct {
    span *rows;
    double *lx, *ly;
} backmap;

static void backmap_free(backmap *bm) {
    mx_scratch_free(bm->rows);
    mx_scratch_free(bm->lx);
    mx_scratch_free(bm->ly);
}

static int backmap_make(const mx_map *map, long nx, long ny, const mx_box *box, int corners,
                        const span *given_rows, backmap *bm) {
    memset(bm, 0, sizeof *bm);
    size_t npt = (size_t)(box->w + corners) * (size_t)(box->h + corners);
    bm->rows = mx_scratch_alloc((size_t)box->h * sizeof *bm->rows);
    bm->lx = mx_scratch_alloc(npt * sizeof *bm->lx);
    bm->ly = mx_scratch_alloc(npt * sizeof *bm->ly);
    if (!bm->rows || !bm->lx || !bm->ly)
        return mx_seterr(MX_ERR_NOMEM, "resample: lattice of %zu points", npt);
    int status;
    if (given_rows) memcpy(bm->rows, given_rows, (size_t)box->h * sizeof *bm->rows);
    else if ((status = footprint_spans(map, nx, ny, box, bm->rows)) != MX_OK) return status;
    return map_back(map, box, bm->rows, corners, bm->lx, bm->ly);
}

/* ---- method 1: exact area overlap (optionally on the FINERES grid) ------- */
static int resample_area(const mx_resample_opts *o, const source *src, int F, const mx_map *map,
                         long nx, long ny, const mx_box *box, const mx_resample_out *out) {
    backmap bm;
    cellbuf cb = {NULL, 0};
    int status = backmap_make(map, nx, ny, box, 1, NULL, &bm);
    if (status) goto exit;
    cb.cap = 64;
    if (!(cb.c = malloc((size_t)cb.cap * sizeof *cb.c))) {
        status = mx_seterr(MX_ERR_NOMEM, "resample: overlap list");
        goto exit;
    }
    long w = box->w, h = box->h;
    const mx_cellwin win = {0, src->nx - 1, 0, src->ny - 1};
    const double fs = (double)F, fo = 0.5 * (F - 1); /* input -> fine: x F + (F-1)/2 */
    for (long q = 0; q < h; q++) {
        size_t row = (size_t)q * (size_t)w;
        for (long p = 0; p < w; p++) {
            mx_vec2 Q[4];
            double aq;
            if (p < bm.rows[q].lo || p > bm.rows[q].hi || !quad_of(bm.lx, bm.ly, w, p, q, Q)) {
                put(out, row + (size_t)p, NAN, 0.0, NAN);
                continue;
            }
            if (F > 1)
                for (int c = 0; c < 4; c++) Q[c].x = Q[c].x * fs + fo, Q[c].y = Q[c].y * fs + fo;
            if (!((aq = quad_area(Q)) > 0)) {
                put(out, row + (size_t)p, NAN, 0.0, NAN);
                continue;
            }
            int n = small_quad_cells(Q, aq, &win, cb.c);
            if (n < 0) n = cells_of(Q, 4, &win, &cb);
            if (n < 0) {
                status = MX_ERR_NOMEM;
                goto exit;
            }
            double num = 0, den = 0, sacc = 0;
            for (int c = 0; c < n; c++) {
                size_t k = (size_t)cb.c[c].j * (size_t)src->nx + (size_t)cb.c[c].i;
                if (!src->ok[k]) continue;
                double a = cb.c[c].area;
                num += a * src->v[k];
                den += a;
                if (src->s) sacc += sig_term(a, src->s[k]);
            }
            if (!(den > 0)) {
                put(out, row + (size_t)p, NAN, 0.0, NAN);
                continue;
            }
            double rden = 1.0 / den, img = num * rden, sig = src->s ? sig_finish(sacc, rden) : NAN;
            if (o->counts) {
                double f = aq / (fs * fs); /* output pixel area in input pixels */
                img *= f;
                sig *= f;
            }
            put(out, row + (size_t)p, img, den / aq, sig);
        }
    }
exit:
    backmap_free(&bm);
    free(cb.c);
    return status;
}

/* ---- methods 2 and 3: input-driven ---------------------------------------- */
/* Per output pixel, interleaved so that one contribution touches one cache
 * line: the sums of w I, of w, of the sigma terms, and an auxiliary sum
 * (drizzle: overlap in input-pixel units; grid: grid-cell area). */
typedef struct {
    double num, den, sacc, aux;
} accum;

/* Bilinear point of a quad at parameters (s, t) in [0, 1]^2. */
static inline mx_vec2 bilin(const mx_vec2 *P, double s, double t) {
    mx_vec2 r;
    double w00 = (1 - s) * (1 - t), w10 = s * (1 - t), w11 = s * t, w01 = (1 - s) * t;
    r.x = w00 * P[0].x + w10 * P[1].x + w11 * P[2].x + w01 * P[3].x;
    r.y = w00 * P[0].y + w10 * P[1].y + w11 * P[2].y + w01 * P[3].y;
    return r;
}

static int resample_forward(const mx_resample_opts *o, const source *src, const mx_map *map,
                            const mx_box *box, const mx_resample_out *out) {
    long nx = src->nx, ny = src->ny, w = box->w, h = box->h;
    size_t nout = (size_t)w * (size_t)h, lw = (size_t)nx + 1;
    double *cx = NULL, *cy = NULL;
    accum *acc = NULL;
    cellbuf cb = {NULL, 0};
    int status = MX_OK;
    if (!(acc = calloc(nout, sizeof *acc))) {
        status = mx_seterr(MX_ERR_NOMEM, "resample: accumulators for %zu output pixels", nout);
        goto exit;
    }
    size_t npt = lw * ((size_t)ny + 1);
    cx = malloc(npt * sizeof *cx);
    cy = malloc(npt * sizeof *cy);
    cb.cap = 64;
    cb.c = malloc((size_t)cb.cap * sizeof *cb.c);
    if (!cx || !cy || !cb.c) {
        status = mx_seterr(MX_ERR_NOMEM, "resample: corner lattice of %zu points", npt);
        goto exit;
    }
    if ((status = mx_map_corners(map, MX_MAP_FWD, 0, 0, nx, ny, cx, cy)) != MX_OK) goto exit;
    const mx_cellwin win = {box->x0, box->x0 + w - 1, box->y0, box->y0 + h - 1};
    const int G = o->grid_ratio;
    const double f = o->driz_fac, s0 = 0.5 * (1 - f), s1 = 0.5 * (1 + f);
    for (long j = 0; j < ny; j++) {
        for (long i = 0; i < nx; i++) {
            size_t k = (size_t)j * (size_t)nx + (size_t)i;
            if (!src->ok[k]) continue;
            mx_vec2 P[4];
            size_t c0 = (size_t)j * lw + (size_t)i, c1 = c0 + lw;
            P[0].x = cx[c0], P[0].y = cy[c0];
            P[1].x = cx[c0 + 1], P[1].y = cy[c0 + 1];
            P[2].x = cx[c1 + 1], P[2].y = cy[c1 + 1];
            P[3].x = cx[c1], P[3].y = cy[c1];
            if (!isfinite(P[0].x + P[0].y + P[1].x + P[1].y + P[2].x + P[2].y + P[3].x + P[3].y))
                continue;
            double ap = mx_poly_area(P, 4); /* input pixel area in output pixels */
            if (!(ap > 0)) continue;
            double v = src->v[k], s = src->s ? src->s[k] : 0.0;
            if (o->method == MX_INTERP_DRIZZLE) {
                mx_vec2 D[4];
                if (f == 1.0) memcpy(D, P, sizeof D);
                else {
                    D[0] = bilin(P, s0, s0);
                    D[1] = bilin(P, s1, s0);
                    D[2] = bilin(P, s1, s1);
                    D[3] = bilin(P, s0, s1);
                }
                int n = cells_of(D, 4, &win, &cb);
                if (n < 0) {
                    status = MX_ERR_NOMEM;
                    goto exit;
                }
                for (int c = 0; c < n; c++) {
                    size_t t = (size_t)(cb.c[c].j - box->y0) * (size_t)w +
                               (size_t)(cb.c[c].i - box->x0);
                    double a = cb.c[c].area;
                    acc[t].num += a * v;
                    acc[t].den += a;
                    acc[t].sacc += sig_term(a, s);
                    acc[t].aux += a / ap; /* overlap in input-pixel units */
                }
            } else { /* grid */
                double cell = ap / ((double)G * G);
                for (int b = 0; b < G; b++) {
                    double t = (b + 0.5) / G;
                    for (int a = 0; a < G; a++) {
                        mx_vec2 X = bilin(P, (a + 0.5) / G, t);
                        if (!(fabs(X.x) < 1e15 && fabs(X.y) < 1e15)) continue;
                        /* floor(x + 0.5): a point on an edge goes to the higher index */
                        long fx = mx_lfloor(X.x + 0.5) - box->x0, fy = mx_lfloor(X.y + 0.5) - box->y0;
                        if (fx < 0 || fx >= w || fy < 0 || fy >= h) continue;
                        size_t u = (size_t)fy * (size_t)w + (size_t)fx;
                        acc[u].num += v;
                        acc[u].den += 1.0;
                        acc[u].sacc += sig_term(1.0, s);
                        acc[u].aux += cell;
                    }
                }
            }
        }
    }
    for (size_t t = 0; t < nout; t++) {
        double den = acc[t].den;
        if (!(den > 0)) {
            put(out, t, NAN, 0.0, NAN);
            continue;
        }
        double img = acc[t].num / den, sig = src->s ? sig_finish(acc[t].sacc, 1.0 / den) : NAN;
        /* coverage: drizzle sum of drop areas; grid points x cell area */
        double cov = o->method == MX_INTERP_DRIZZLE ? den : acc[t].aux;
        if (o->counts) {
            /* output pixel area in input pixels, averaged over what arrived */
            double fa = o->method == MX_INTERP_DRIZZLE ? acc[t].aux / den
                                                       : den / ((double)G * G * acc[t].aux);
            img *= fa;
            sig *= fa;
        }
        put(out, t, img, cov, sig);
    }
exit:
    free(acc);
    free(cx);
    free(cy);
    free(cb.c);
    return status;
}

/* ---- method 4: bicubic convolution ---------------------------------------- */
static inline double keys(double t, double a) {
    t = fabs(t);
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    return 0.0;
}

double mx_keys_kernel(double t, double a) { return keys(t, a); }

static int resample_cubic(const mx_resample_opts *o, const source *src, const mx_map *map,
                          const mx_box *box, const mx_resample_out *out) {
    backmap bm, bq;
    memset(&bq, 0, sizeof bq);
    long nx = src->nx, ny = src->ny, w = box->w, h = box->h;
    int status = backmap_make(map, nx, ny, box, 0, NULL, &bm);
    /* counts need area(Q_j): the corner lattice too, on the same spans */
    if (!status && o->counts) status = backmap_make(map, nx, ny, box, 1, bm.rows, &bq);
    if (status) goto exit;
    for (long q = 0; q < h; q++) {
        size_t row = (size_t)q * (size_t)w;
        for (long p = 0; p < w; p++) put(out, row + (size_t)p, NAN, 0.0, NAN);
        for (long p = bm.rows[q].lo; p <= bm.rows[q].hi; p++) {
            double x = bm.lx[row + (size_t)p], y = bm.ly[row + (size_t)p];
            if (!isfinite(x) || !isfinite(y)) continue;
            if (!(x > -2 && x < nx + 1 && y > -2 && y < ny + 1)) continue;
            long ni = mx_lfloor(x + 0.5), nj = mx_lfloor(y + 0.5);
            if (ni < 0 || ni >= nx || nj < 0 || nj >= ny) continue;
            if (!src->ok[(size_t)nj * (size_t)nx + (size_t)ni]) continue;
            long i0 = mx_lfloor(x) - 1, j0 = mx_lfloor(y) - 1;
            double wx[4], wy[4];
            for (int k = 0; k < 4; k++) {
                wx[k] = keys(x - (double)(i0 + k), o->alpha);
                wy[k] = keys(y - (double)(j0 + k), o->alpha);
            }
            /* Taps outside the frame get weight 0; unusable ones hold v = s = 0
             * in the prepared source, so only the weight sum looks at ok. */
            int ia = i0 < 0 ? (int)-i0 : 0, ib = i0 + 3 >= nx ? (int)(nx - 1 - i0) : 3;
            int ja = j0 < 0 ? (int)-j0 : 0, jb = j0 + 3 >= ny ? (int)(ny - 1 - j0) : 3;
            double num = 0, den = 0, sacc = 0;
            for (int b = ja; b <= jb; b++) {
                size_t k0 = (size_t)(j0 + b) * (size_t)nx + (size_t)i0;
                double rn = 0, rd = 0, rs = 0;
                for (int a = ia; a <= ib; a++) {
                    rn += wx[a] * src->v[k0 + a];
                    rd += wx[a] * src->ok[k0 + a];
                    if (src->s) rs += sig_term(wx[a], src->s[k0 + a]);
                }
                num += wy[b] * rn;
                den += wy[b] * rd;
                sacc += sig_term(wy[b], rs);
            }
            /* The nearest tap alone weighs >= 0.316; a sum this small means
             * negative lobes cancelled it and the ratio is meaningless. */
            if (!(fabs(den) > 1e-6)) continue;
            double img = num / den, sig = src->s ? sig_finish(sacc, 1.0 / den) : NAN;
            if (o->counts) {
                mx_vec2 Q[4];
                if (!quad_of(bq.lx, bq.ly, w, p, q, Q)) continue;
                double fa = mx_poly_area(Q, 4);
                img *= fa;
                sig *= fa;
            }
            put(out, row + (size_t)p, img, fmin(fmax(den, 0.0), 1.0), sig);
        }
    }
exit:
    backmap_free(&bm);
    backmap_free(&bq);
    return status;
}

/* ---- entry points ----------------------------------------------------------- */
static int check_common(const mx_map *map, const mx_box *box, long nx, long ny,
                        const char *who) {
    if (!map || !map->fwd || !map->inv)
        return mx_seterr(MX_ERR_PARAM, "%s: the map needs both directions", who);
    if (!box || box->w < 0 || box->h < 0)
        return mx_seterr(MX_ERR_PARAM, "%s: output box missing or with negative size", who);
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "%s: input frame size %ld x %ld", who, nx, ny);
    return MX_OK;
}

int mx_resample(const mx_resample_opts *o, const mx_frame *in, const mx_map *map,
                const mx_box *box, const mx_resample_out *out) {
    source src = {0}, fine = {0};
    int status;
    if (!o || !in || !in->image || !out)
        return mx_seterr(MX_ERR_PARAM, "mx_resample: options, frame image and outputs required");
    if ((status = check_common(map, box, in->nx, in->ny, "mx_resample"))) return status;
    if ((!out->image && !out->image_d) || (!out->coverage && !out->coverage_d))
        return mx_seterr(MX_ERR_PARAM, "mx_resample: an image and a coverage output are required");
    switch (o->method) {
    case MX_INTERP_DEFAULT:
        if (o->fineres < 0 || o->fineres > 16)
            return mx_seterr(MX_ERR_PARAM, "FINERES must be 0..16 (got %d)", o->fineres);
        break;
    case MX_INTERP_DRIZZLE:
        if (!(o->driz_fac > 0 && o->driz_fac <= 1))
            return mx_seterr(MX_ERR_PARAM, "DRIZ_FAC must be in (0, 1] (got %g)", o->driz_fac);
        break;
    case MX_INTERP_GRID:
        if (o->grid_ratio < 1 || o->grid_ratio > 64)
            return mx_seterr(MX_ERR_PARAM, "GRID_RATIO must be 1..64 (got %d)", o->grid_ratio);
        break;
    case MX_INTERP_CUBIC:
        if (!isfinite(o->alpha))
            return mx_seterr(MX_ERR_PARAM, "ALPHA must be finite (got %g)", o->alpha);
        break;
    default:
        return mx_seterr(MX_ERR_PARAM, "INTERP_METHOD must be 1 (default), 2 (drizzle), 3 (grid) "
                                       "or 4 (cubic) (got %d)", o->method);
    }
    if (o->counts != 0 && o->counts != 1)
        return mx_seterr(MX_ERR_PARAM, "mx_resample: counts must be 0 or 1 (got %d)", o->counts);
    if (box->w == 0 || box->h == 0) return MX_OK;
    mx_resample_out o2 = *out;
    if (!in->sigma) o2.sigma = NULL, o2.sigma_d = NULL;
    if ((status = source_from_frame(in, &src))) goto exit;
    switch (o->method) {
    case MX_INTERP_DEFAULT:
        if (o->fineres >= 2) {
            if ((status = source_fineres(&src, o->fineres, &fine))) goto exit;
            status = resample_area(o, &fine, o->fineres, map, in->nx, in->ny, box, &o2);
        } else {
            status = resample_area(o, &src, 1, map, in->nx, in->ny, box, &o2);
        }
        break;
    case MX_INTERP_DRIZZLE:
    case MX_INTERP_GRID:
        status = resample_forward(o, &src, map, box, &o2);
        break;
    default:
        status = resample_cubic(o, &src, map, box, &o2);
        break;
    }
exit:
    if (status) put_all_empty(&o2, (size_t)box->w * (size_t)box->h);
    source_free(&src);
    source_free(&fine);
    return status;
}

int mx_project_labels(const int32_t *labels, long nx, long ny, const mx_map *map,
                      const mx_box *box, float *out) {
    int status;
    if (!labels || !out) return mx_seterr(MX_ERR_PARAM, "mx_project_labels: labels and output required");
    if ((status = check_common(map, box, nx, ny, "mx_project_labels"))) return status;
    if (box->w == 0 || box->h == 0) return MX_OK;
    backmap bm;
    cellbuf cb = {NULL, 0};
    int32_t *lab = NULL;
    double *area = NULL;
    if ((status = backmap_make(map, nx, ny, box, 1, NULL, &bm))) goto exit;
    cb.cap = 64;
    cb.c = malloc((size_t)cb.cap * sizeof *cb.c);
    if (!cb.c) {
        status = mx_seterr(MX_ERR_NOMEM, "mx_project_labels: overlap list");
        goto exit;
    }
    const mx_cellwin win = {0, nx - 1, 0, ny - 1};
    long w = box->w, h = box->h;
    int labcap = 0;
    for (long q = 0; q < h; q++) {
        size_t row = (size_t)q * (size_t)w;
        for (long p = 0; p < w; p++) out[row + (size_t)p] = NAN;
        for (long p = bm.rows[q].lo; p <= bm.rows[q].hi; p++) {
            mx_vec2 Q[4];
            if (!quad_of(bm.lx, bm.ly, w, p, q, Q)) continue;
            double aq = mx_poly_area(Q, 4);
            int n = cells_of(Q, 4, &win, &cb);
            if (n < 0) {
                status = MX_ERR_NOMEM;
                goto exit;
            }
            if (n > labcap) {
                int32_t *l2 = realloc(lab, (size_t)n * sizeof *l2);
                double *a2 = l2 ? realloc(area, (size_t)n * sizeof *a2) : NULL;
                if (l2) lab = l2;
                if (a2) area = a2;
                if (!l2 || !a2) {
                    status = mx_seterr(MX_ERR_NOMEM, "mx_project_labels: %d labels", n);
                    goto exit;
                }
                labcap = n;
            }
            /* Sum the overlap per distinct non-zero label (a handful of cells). */
            int any = 0, nl = 0;
            for (int c = 0; c < n; c++) {
                if (!(cb.c[c].area > 1e-9 * aq)) continue;
                any = 1;
                int32_t L = labels[(size_t)cb.c[c].j * (size_t)nx + (size_t)cb.c[c].i];
                if (L == 0) continue;
                int m = 0;
                while (m < nl && lab[m] != L) m++;
                if (m == nl) lab[nl] = L, area[nl++] = 0.0;
                area[m] += cb.c[c].area;
            }
            if (!any) continue;
            int32_t best = 0;
            double besta = -1;
            for (int m = 0; m < nl; m++)
                if (area[m] > besta || (area[m] == besta && lab[m] < best)) best = lab[m], besta = area[m];
            out[row + (size_t)p] = (float)best;
        }
    }
exit:
    backmap_free(&bm);
    free(cb.c);
    free(lab);
    free(area);
    return status;
}

int mx_backproject_flags(const uint8_t *flags, const mx_box *box, const mx_map *map, long nx,
                         long ny, float *frac) {
    int status;
    if (!flags || !frac) return mx_seterr(MX_ERR_PARAM, "mx_backproject_flags: flags and output required");
    if ((status = check_common(map, box, nx, ny, "mx_backproject_flags"))) return status;
    size_t nin = (size_t)nx * (size_t)ny;
    for (size_t k = 0; k < nin; k++) frac[k] = 0.0f;
    if (box->w == 0 || box->h == 0) return MX_OK;
    long w = box->w, h = box->h;
    backmap bm;
    memset(&bm, 0, sizeof bm);
    cellbuf cb = {NULL, 0};
    double *acc = NULL;
    span *rows = malloc((size_t)h * sizeof *rows);
    acc = calloc(nin, sizeof *acc);
    cb.cap = 64;
    cb.c = malloc((size_t)cb.cap * sizeof *cb.c);
    if (!rows || !acc || !cb.c) {
        status = mx_seterr(MX_ERR_NOMEM, "mx_backproject_flags: work space for %ld x %ld", nx, ny);
        goto exit;
    }
    /* Only the corners of flagged pixels are needed. */
    int anyflag = 0;
    for (long q = 0; q < h; q++) {
        rows[q].lo = w, rows[q].hi = -1;
        const uint8_t *f = flags + (size_t)q * (size_t)w;
        for (long p = 0; p < w; p++)
            if (f[p]) {
                if (p < rows[q].lo) rows[q].lo = p;
                rows[q].hi = p;
                anyflag = 1;
            }
    }
    if (!anyflag) goto exit;
    if ((status = backmap_make(map, nx, ny, box, 1, rows, &bm))) goto exit;
    const mx_cellwin win = {0, nx - 1, 0, ny - 1};
    for (long q = 0; q < h; q++) {
        for (long p = rows[q].lo; p <= rows[q].hi; p++) {
            if (!flags[(size_t)q * (size_t)w + (size_t)p]) continue;
            mx_vec2 Q[4];
            if (!quad_of(bm.lx, bm.ly, w, p, q, Q)) continue;
            int n = cells_of(Q, 4, &win, &cb);
            if (n < 0) {
                status = MX_ERR_NOMEM;
                goto exit;
            }
            for (int c = 0; c < n; c++)
                acc[(size_t)cb.c[c].j * (size_t)nx + (size_t)cb.c[c].i] += cb.c[c].area;
        }
    }
    for (size_t k = 0; k < nin; k++) frac[k] = (float)acc[k];
exit:
    backmap_free(&bm);
    free(rows);
    free(acc);
    free(cb.c);
    return status;
}
