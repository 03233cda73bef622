/* pixmap.c - input pixel <-> output pixel through two WCSs: the gnomonic
 * plane-to-plane fast path (Makovoz 2004) and the two-step wcslib path
 * (contracts in mx_pixmap.h; algorithms.md 4.1). */
#include "mopex/mx_pixmap.h"
#include "mopex/mx_error.h"
#include "scratch_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define D2R (M_PI / 180.0)
#define CHUNK 256 /* points per wcslib round trip: stack buffers */

/* Inverting the input SIP at every mapped point is the cost of the fast
 * path, so it is done in two ways (sip_solve):
 *  - Newton with the analytic Jacobian: a step d below NEWTON_ACCEPT ends
 *    it. Convergence is quadratic, the error left after the last step is
 *    about K d^2, K = |f''| / (2 |f'|) (2e-5 per pixel for IRAC; a
 *    distortion with K near 1 would fold the focal plane within a pixel),
 *    so <= 1e-12 px for any usable SIP.
 *  - chord steps with the inverse Jacobian of a recent neighbour (no
 *    derivatives: a third of the work): the error left after a step d is
 *    <= rho d, rho = |I - J_old^-1 J| <= |f''| x (distance to where J was
 *    taken). J is refreshed by a Newton solve every JAC_REFRESH points of
 *    at most NEIGHBOUR_PX each, so for IRAC rho <= 4e-5 x 64 x 4 ~ 1e-2
 *    (1e-3 on a lattice row). A chord step d <= CHORD_ACCEPT therefore
 *    leaves <= rho d <= 1e-9 px (1e-8 px for a distortion ten times
 *    IRAC's), and the step is applied: no second evaluation to confirm it.
 *    On a lattice row the cubic predictor is already within ~1e-9 px, so
 *    almost every point costs one evaluation of A and B. */
#define NEWTON_ACCEPT 1e-6
#define CHORD_ACCEPT 1e-7
#define NEWTON_MAXIT 20
#define CHORD_MAXIT 6
#define JAC_REFRESH 64
/* Consecutive points closer than this (pixels) are treated as neighbours
 * along a lattice row and predict each other's solution. */
#define NEIGHBOUR_PX 4.0

struct mx_pixmap {
    int fast;
    /* fast path */
    mx_tanplane tin, tout;
    double rin[2], rout[2]; /* 0-based reference pixels (CRPIX - 1) */
    double G[3][3], Gi[3][3];
    /* slow path */
    mx_wcs *win, *wout;
    int rotate;
    double R[3][3];
};

/* ---- SIP polynomial with derivatives (Horner, as in sip.c) ---------------- */
#define SIP_N (MX_SIP_MAXORDER + 1)

static inline void poly_d(const double c[SIP_N][SIP_N], int order, double u, double v, double *f,
                          double *fu, double *fv) {
    double r = 0.0, ru = 0.0, rv = 0.0;
    for (int p = order; p >= 0; p--) {
        const double *row = c[p];
        double s = 0.0, sv = 0.0;
        for (int q = order - p; q >= 0; q--) {
            sv = sv * v + s;
            s = s * v + row[q];
        }
        ru = ru * u + r;
        r = r * u + s;
        rv = rv * u + sv;
    }
    *f = r;
    *fu = ru;
    *fv = rv;
}

/* The value alone, the hot operation of the chord steps. With the order a
 * compile-time constant the loops unroll completely (twice as fast as the
 * generic loop for order 5), so each order gets its own instance. */
static inline __attribute__((always_inline)) double poly_n(const double c[SIP_N][SIP_N],
                                                           const int order, double u, double v) {
    double r = 0.0;
#pragma GCC unroll 10
    for (int p = order; p >= 0; p--) {
        double s = 0.0;
#pragma GCC unroll 10
        for (int q = order - p; q >= 0; q--) s = s * v + c[p][q];
        r = r * u + s;
    }
    return r;
}

static double poly(const double c[SIP_N][SIP_N], int order, double u, double v) {
    switch (order) {
    case 1: return poly_n(c, 1, u, v);
    case 2: return poly_n(c, 2, u, v);
    case 3: return poly_n(c, 3, u, v);
    case 4: return poly_n(c, 4, u, v);
    case 5: return poly_n(c, 5, u, v);
    case 6: return poly_n(c, 6, u, v);
    case 7: return poly_n(c, 7, u, v);
    case 8: return poly_n(c, 8, u, v);
    case 9: return poly_n(c, 9, u, v);
    default: return order == 0 ? c[0][0] : 0.0;
    }
}

/* A(u, v) and B(u, v) together, one dispatch on the order. */
#define SIP_VALUE_CASE(o)                                                                     \
    case o:                                                                                   \
        *fa = poly_n(s->a, o, u, v);                                                          \
        *fb = poly_n(s->b, o, u, v);                                                          \
        return;
static inline __attribute__((always_inline)) void sip_value(const mx_sip *s, double u, double v,
                                                           double *fa, double *fb) {
    if (s->a_order == s->b_order) {
        switch (s->a_order) {
            SIP_VALUE_CASE(1)
            SIP_VALUE_CASE(2)
            SIP_VALUE_CASE(3)
            SIP_VALUE_CASE(4)
            SIP_VALUE_CASE(5)
            SIP_VALUE_CASE(6)
            SIP_VALUE_CASE(7)
            SIP_VALUE_CASE(8)
            SIP_VALUE_CASE(9)
        default: break;
        }
    }
    *fa = s->a_order > 0 ? poly(s->a, s->a_order, u, v) : 0.0;
    *fb = s->b_order > 0 ? poly(s->b, s->b_order, u, v) : 0.0;
}

/* State of the warm-started inverse along one vectorised call. */
#define CHAIN 4
typedef struct {
    int n;              /* usable history: 0..CHAIN */
    int age;            /* points solved since Ji was evaluated */
    double tl[2];       /* the last target (focal coordinates) */
    double c[CHAIN][2]; /* corrections (solution - target), most recent first */
    double xl[2];       /* the last solution */
    double Ji[2][2];    /* inverse Jacobian near a recent solution */
} sip_chain;

/* Newton from (x, y); sets ch->Ji at the last iterate. 1 on convergence. */
static int newton(const mx_sip *s, sip_chain *ch, double tu, double tv, double *x, double *y) {
    for (int it = 0; it < NEWTON_MAXIT; it++) {
        double fa = 0, fau = 0, fav = 0, fb = 0, fbu = 0, fbv = 0;
        if (s->a_order > 0) poly_d(s->a, s->a_order, *x, *y, &fa, &fau, &fav);
        if (s->b_order > 0) poly_d(s->b, s->b_order, *x, *y, &fb, &fbu, &fbv);
        double r1 = *x + fa - tu, r2 = *y + fb - tv;
        double j11 = 1.0 + fau, j12 = fav, j21 = fbu, j22 = 1.0 + fbv;
        double det = j11 * j22 - j12 * j21;
        if (!(fabs(det) > 1e-12) || !isfinite(det)) return 0;
        ch->Ji[0][0] = j22 / det, ch->Ji[0][1] = -j12 / det;
        ch->Ji[1][0] = -j21 / det, ch->Ji[1][1] = j11 / det;
        double dx = ch->Ji[0][0] * r1 + ch->Ji[0][1] * r2, dy = ch->Ji[1][0] * r1 + ch->Ji[1][1] * r2;
        *x -= dx;
        *y -= dy;
        if (!isfinite(*x) || !isfinite(*y)) return 0;
        if (fabs(dx) <= NEWTON_ACCEPT && fabs(dy) <= NEWTON_ACCEPT) return 1;
    }
    return 0;
}

/* Solve u + A(u, v) = tu, v + B(u, v) = tv. The start comes from the chain
 * of previous solutions: cubic extrapolation of the correction (solution -
 * target) from four equally spaced neighbours (a lattice row: error
 * h^4 c'''' ~ 1e-9 px for IRAC, so one chord step is final; a quadratic one
 * would leave h^3 c''' ~ 1e-7 px), the Jacobian predictor from one to three,
 * else the AP/BP polynomial or the target itself. */
static inline __attribute__((always_inline)) int sip_solve(const mx_sip *s, sip_chain *ch,
                                                          double tu, double tv, double *u,
                                                          double *v) {
    double x, y;
    if (ch->n > 0 && fabs(tu - ch->tl[0]) + fabs(tv - ch->tl[1]) > NEIGHBOUR_PX) ch->n = 0;
    if (ch->n == CHAIN) {
        x = tu + 4 * ch->c[0][0] - 6 * ch->c[1][0] + 4 * ch->c[2][0] - ch->c[3][0];
        y = tv + 4 * ch->c[0][1] - 6 * ch->c[1][1] + 4 * ch->c[2][1] - ch->c[3][1];
    } else if (ch->n > 0) {
        double du = tu - ch->tl[0], dv = tv - ch->tl[1];
        x = ch->xl[0] + ch->Ji[0][0] * du + ch->Ji[0][1] * dv;
        y = ch->xl[1] + ch->Ji[1][0] * du + ch->Ji[1][1] * dv;
    } else {
        x = tu + (s->ap_order > 0 ? poly(s->ap, s->ap_order, tu, tv) : 0.0);
        y = tv + (s->bp_order > 0 ? poly(s->bp, s->bp_order, tu, tv) : 0.0);
    }
    int ok = 0;
    if (ch->n > 0 && ch->age < JAC_REFRESH) {
        for (int it = 0; it < CHORD_MAXIT; it++) {
            double fa, fb;
            sip_value(s, x, y, &fa, &fb);
            double r1 = x + fa - tu, r2 = y + fb - tv;
            double dx = ch->Ji[0][0] * r1 + ch->Ji[0][1] * r2;
            double dy = ch->Ji[1][0] * r1 + ch->Ji[1][1] * r2;
            x -= dx;
            y -= dy;
            if (!isfinite(x) || !isfinite(y)) break;
            if (fabs(dx) <= CHORD_ACCEPT && fabs(dy) <= CHORD_ACCEPT) {
                ok = 1;
                break;
            }
        }
        ch->age++;
    }
    if (!ok) {
        double x0 = x, y0 = y;
        ok = isfinite(x0) && isfinite(y0) && newton(s, ch, tu, tv, &x, &y);
        ch->age = 0;
    }
    if (!ok) { /* a hard spot: the careful solver, then a fresh Jacobian */
        ch->n = 0;
        if (mx_sip_inverse(s, tu, tv, &x, &y) != MX_OK || !newton(s, ch, tu, tv, &x, &y)) {
            mx_clearerr();
            *u = *v = NAN;
            return 0;
        }
    }
    ch->c[3][0] = ch->c[2][0], ch->c[3][1] = ch->c[2][1];
    ch->c[2][0] = ch->c[1][0], ch->c[2][1] = ch->c[1][1];
    ch->c[1][0] = ch->c[0][0], ch->c[1][1] = ch->c[0][1];
    ch->c[0][0] = x - tu, ch->c[0][1] = y - tv;
    ch->tl[0] = tu, ch->tl[1] = tv, ch->xl[0] = x, ch->xl[1] = y;
    if (ch->n < CHAIN) ch->n++;
    *u = x;
    *v = y;
    return 1;
}

/* ---- fast path ---------------------------------------------------------- */
static int fast_forward(mx_pixmap *pm, size_t n, const double *x, const double *y, double *xo,
                        double *yo) {
    const double(*G)[3] = pm->G;
    const int sin_ = pm->tin.has_sip, sout = pm->tout.has_sip;
    sip_chain ch;
    ch.n = ch.age = 0;
    for (size_t k = 0; k < n; k++) {
        double u = x[k] - pm->rin[0], v = y[k] - pm->rin[1];
        if (sin_) {
            double fa, fb;
            sip_value(&pm->tin.sip, u, v, &fa, &fb);
            u += fa;
            v += fb;
        }
        double W = G[2][0] * u + G[2][1] * v + G[2][2];
        if (!(W > 0)) { /* behind the output tangent plane (or NaN input) */
            xo[k] = yo[k] = NAN;
            ch.n = 0;
            continue;
        }
        double iW = 1.0 / W;
        double uo = (G[0][0] * u + G[0][1] * v + G[0][2]) * iW;
        double vo = (G[1][0] * u + G[1][1] * v + G[1][2]) * iW;
        if (sout) sip_solve(&pm->tout.sip, &ch, uo, vo, &uo, &vo);
        xo[k] = uo + pm->rout[0];
        yo[k] = vo + pm->rout[1];
    }
    return MX_OK;
}

/* Output pixel (x, y) -> the input focal-plane point (offsets from CRPIX
 * after the SIP distortion) that the input SIP must be solved for: the
 * output SIP forward, then G^-1. 0 when the point is behind the plane. */
static inline __attribute__((always_inline)) int inverse_target(const mx_pixmap *pm, double x,
                                                                double y, double *tu, double *tv) {
    const double(*Gi)[3] = pm->Gi;
    double uo = x - pm->rout[0], vo = y - pm->rout[1];
    if (pm->tout.has_sip) {
        double fa, fb;
        sip_value(&pm->tout.sip, uo, vo, &fa, &fb);
        uo += fa;
        vo += fb;
    }
    double W = Gi[2][0] * uo + Gi[2][1] * vo + Gi[2][2];
    if (!(W > 0)) return 0;
    double iW = 1.0 / W;
    *tu = (Gi[0][0] * uo + Gi[0][1] * vo + Gi[0][2]) * iW;
    *tv = (Gi[1][0] * uo + Gi[1][1] * vo + Gi[1][2]) * iW;
    return 1;
}

static int fast_inverse(mx_pixmap *pm, size_t n, const double *x, const double *y, double *xo,
                        double *yo) {
    const int sin_ = pm->tin.has_sip;
    sip_chain ch;
    ch.n = ch.age = 0;
    for (size_t k = 0; k < n; k++) {
        double u, v;
        if (!inverse_target(pm, x[k], y[k], &u, &v)) {
            xo[k] = yo[k] = NAN;
            ch.n = 0;
            continue;
        }
        if (sin_) sip_solve(&pm->tin.sip, &ch, u, v, &u, &v);
        xo[k] = u + pm->rin[0];
        yo[k] = v + pm->rin[1];
    }
    return MX_OK;
}

/* ---- lattice inverse ------------------------------------------------------
 * Mapping a whole lattice of output points back (every output pixel corner
 * of a frame's footprint) costs one input-SIP solve per point, about half
 * the time of an interpolation. The solve's correction c(t) = solution -
 * target is a smooth function of the target t (for IRAC its fourth
 * derivatives are ~2e-8 px^-3), so it is solved exactly on a coarse grid of
 * nodes, every S lattice points along both axes with S x (lattice step in
 * input pixels) <= LATTICE_NODE_PX, and interpolated between them by cubic
 * Lagrange polynomials in both directions (nodes at -1, 0, 1, 2 around each
 * interval). The error is <= max|c''''| H^4 (9/16) / 24 per direction with
 * H = LATTICE_NODE_PX: ~1e-8 px for IRAC; the target itself (homography)
 * stays exact. Neighbouring output pixels still share their corners
 * exactly, so flux conservation is untouched. A node that cannot be solved
 * makes the points that depend on it take the exact path. */
#define LATTICE_NODE_PX 2.0
#define LATTICE_MAX_STEP 16

/* Lagrange weights of the nodes -1, 0, 1, 2 at t in [0, 1). */
static void cubic_weights(double t, double w[4]) {
    w[0] = -t * (t - 1) * (t - 2) / 6.0;
    w[1] = (t + 1) * (t - 1) * (t - 2) / 2.0;
    w[2] = -(t + 1) * t * (t - 2) / 2.0;
    w[3] = (t + 1) * t * (t - 1) / 6.0;
}

/* Lattice step S for the box: the largest displacement in the input frame
 * of a unit step in the output, at the box centre and corners. 1 (exact
 * path) when it cannot be measured. */
static long lattice_step(const mx_pixmap *pm, double x0, double y0, long w, long h) {
    double worst = 0.0;
    for (int k = 0; k < 5; k++) {
        double x = x0 + (k == 0 ? 0.5 * (double)w : (k & 1 ? 0.0 : (double)w));
        double y = y0 + (k == 0 ? 0.5 * (double)h : (k & 2 ? (double)h : 0.0));
        double t0u, t0v, t1u, t1v, t2u, t2v;
        if (!inverse_target(pm, x, y, &t0u, &t0v) || !inverse_target(pm, x + 1, y, &t1u, &t1v) ||
            !inverse_target(pm, x, y + 1, &t2u, &t2v))
            return 1;
        worst = fmax(worst, fmax(hypot(t1u - t0u, t1v - t0v), hypot(t2u - t0u, t2v - t0v)));
    }
    if (!(worst > 0) || !isfinite(worst)) return 1;
    double s = floor(LATTICE_NODE_PX / worst);
    return s < 1 ? 1 : (s > LATTICE_MAX_STEP ? LATTICE_MAX_STEP : (long)s);
}

int mx_pixmap_inverse_lattice(mx_pixmap *pm, double x0, double y0, long w, long h,
                              const long *lo, const long *hi, double *xo, double *yo) {
    if (!pm) return mx_seterr(MX_ERR_PARAM, "mx_pixmap_inverse_lattice: NULL pixmap");
    long bmin = h, bmax = -1, amin = w, amax = -1;
    for (long b = 0; b < h; b++) {
        if (lo[b] > hi[b]) continue;
        if (b < bmin) bmin = b;
        bmax = b;
        if (lo[b] < amin) amin = lo[b];
        if (hi[b] > amax) amax = hi[b];
    }
    if (bmax < 0) return MX_OK;
    long S = pm->fast && pm->tin.has_sip
                 ? lattice_step(pm, x0 + (double)amin, y0 + (double)bmin, amax - amin, bmax - bmin)
                 : 1;
    if (S < 2) { /* no SIP to solve, or a coarse lattice: every point exactly */
        for (long b = bmin; b <= bmax; b++) {
            if (lo[b] > hi[b]) continue;
            long n = hi[b] - lo[b] + 1;
            double *px = xo + (size_t)b * (size_t)w + (size_t)lo[b];
            double *py = yo + (size_t)b * (size_t)w + (size_t)lo[b];
            for (long a = 0; a < n; a++) px[a] = x0 + (double)(lo[b] + a), py[a] = y0 + (double)b;
            int st = mx_pixmap_inverse(pm, (size_t)n, px, py, px, py);
            if (st != MX_OK) return st;
        }
        return MX_OK;
    }
    /* nodes: lattice columns amin + (I - 1) S, rows bmin + (J - 1) S */
    long ni = (amax - amin) / S + 4, nj = (bmax - bmin) / S + 4;
    size_t nn = (size_t)ni * (size_t)nj;
    double *cu = mx_scratch_alloc(nn * sizeof *cu), *cv = mx_scratch_alloc(nn * sizeof *cv);
    double *ru = malloc((size_t)ni * sizeof *ru), *rv = malloc((size_t)ni * sizeof *rv);
    if (!cu || !cv || !ru || !rv) {
        mx_scratch_free(cu), mx_scratch_free(cv), free(ru), free(rv);
        return mx_seterr(MX_ERR_NOMEM, "lattice inverse: %zu nodes", nn);
    }
    const mx_sip *sip = &pm->tin.sip;
    for (long J = 0; J < nj; J++) {
        sip_chain ch;
        ch.n = ch.age = 0;
        double y = y0 + (double)(bmin + (J - 1) * S);
        for (long I = 0; I < ni; I++) {
            double x = x0 + (double)(amin + (I - 1) * S), tu, tv, u, v;
            size_t k = (size_t)J * (size_t)ni + (size_t)I;
            if (inverse_target(pm, x, y, &tu, &tv) && sip_solve(sip, &ch, tu, tv, &u, &v)) {
                cu[k] = u - tu;
                cv[k] = v - tv;
            } else {
                cu[k] = cv[k] = NAN;
                ch.n = 0;
            }
        }
    }
    double wx[LATTICE_MAX_STEP][4];
    for (long p = 0; p < S; p++) cubic_weights((double)p / (double)S, wx[p]);
    for (long b = bmin; b <= bmax; b++) {
        if (lo[b] > hi[b]) continue;
        /* the corrections of this row at the node columns */
        long J = (b - bmin) / S + 1, pj = (b - bmin) % S;
        const double *wy = wx[pj];
        for (long I = 0; I < ni; I++) {
            double su = 0, sv = 0;
            for (int m = 0; m < 4; m++) {
                size_t k = (size_t)(J - 1 + m) * (size_t)ni + (size_t)I;
                su += wy[m] * cu[k];
                sv += wy[m] * cv[k];
            }
            ru[I] = su;
            rv[I] = sv;
        }
        double y = y0 + (double)b;
        double *px = xo + (size_t)b * (size_t)w, *py = yo + (size_t)b * (size_t)w;
        sip_chain ch;
        ch.n = ch.age = 0;
        /* node column I and phase pi of point a, stepped (no division per point) */
        long I = (lo[b] - amin) / S + 1, pi = (lo[b] - amin) % S;
        for (long a = lo[b]; a <= hi[b]; a++, (++pi == S ? (pi = 0, I++) : 0)) {
            const double *wa = wx[pi];
            double tu, tv;
            if (!inverse_target(pm, x0 + (double)a, y, &tu, &tv)) {
                px[a] = py[a] = NAN;
                continue;
            }
            double du = wa[0] * ru[I - 1] + wa[1] * ru[I] + wa[2] * ru[I + 1] + wa[3] * ru[I + 2];
            double dv = wa[0] * rv[I - 1] + wa[1] * rv[I] + wa[2] * rv[I + 1] + wa[3] * rv[I + 2];
            if (!isfinite(du) || !isfinite(dv)) { /* a node failed: this point exactly */
                double u, v;
                if (!sip_solve(sip, &ch, tu, tv, &u, &v)) {
                    px[a] = py[a] = NAN;
                    continue;
                }
                du = u - tu;
                dv = v - tv;
            }
            px[a] = tu + du + pm->rin[0];
            py[a] = tv + dv + pm->rin[1];
        }
    }
    mx_scratch_free(cu), mx_scratch_free(cv), free(ru), free(rv);
    return MX_OK;
}

/* ---- slow path -------------------------------------------------------- */
static void rotate_lonlat(const double R[3][3], size_t n, double *lon, double *lat) {
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(lon[k]) || !isfinite(lat[k])) continue;
        double a = lon[k] * D2R, d = lat[k] * D2R;
        double p[3] = {cos(d) * cos(a), cos(d) * sin(a), sin(d)}, q[3];
        for (int r = 0; r < 3; r++) q[r] = R[r][0] * p[0] + R[r][1] * p[1] + R[r][2] * p[2];
        double lo = atan2(q[1], q[0]) / D2R;
        lon[k] = lo < 0 ? lo + 360.0 : lo;
        lat[k] = atan2(q[2], hypot(q[0], q[1])) / D2R;
    }
}

static int slow_map(mx_pixmap *pm, int fwd, size_t n, const double *x, const double *y,
                    double *xo, double *yo) {
    mx_wcs *from = fwd ? pm->win : pm->wout, *to = fwd ? pm->wout : pm->win;
    double lon[CHUNK], lat[CHUNK], R[3][3];
    if (pm->rotate) {
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) R[r][c] = fwd ? pm->R[r][c] : pm->R[c][r];
    }
    for (size_t k0 = 0; k0 < n; k0 += CHUNK) {
        size_t m = n - k0 < CHUNK ? n - k0 : CHUNK;
        int st = mx_wcs_pix2sky(from, m, x + k0, y + k0, lon, lat);
        if (st) return st;
        if (pm->rotate) rotate_lonlat(R, m, lon, lat);
        if ((st = mx_wcs_sky2pix(to, m, lon, lat, xo + k0, yo + k0)) != MX_OK) return st;
    }
    return MX_OK;
}

/* ---- public ------------------------------------------------------------ */
int mx_pixmap_forward(mx_pixmap *pm, size_t n, const double *x, const double *y, double *xo,
                      double *yo) {
    if (!pm) return mx_seterr(MX_ERR_PARAM, "mx_pixmap_forward: NULL pixmap");
    return pm->fast ? fast_forward(pm, n, x, y, xo, yo) : slow_map(pm, 1, n, x, y, xo, yo);
}

int mx_pixmap_inverse(mx_pixmap *pm, size_t n, const double *x, const double *y, double *xo,
                      double *yo) {
    if (!pm) return mx_seterr(MX_ERR_PARAM, "mx_pixmap_inverse: NULL pixmap");
    return pm->fast ? fast_inverse(pm, n, x, y, xo, yo) : slow_map(pm, 0, n, x, y, xo, yo);
}

static int map_fwd(void *ctx, size_t n, const double *x, const double *y, double *xo, double *yo) {
    return mx_pixmap_forward(ctx, n, x, y, xo, yo);
}
static int map_inv(void *ctx, size_t n, const double *x, const double *y, double *xo, double *yo) {
    return mx_pixmap_inverse(ctx, n, x, y, xo, yo);
}

static int map_lattice(void *ctx, double x0, double y0, long w, long h, const long *lo,
                       const long *hi, double *xo, double *yo) {
    return mx_pixmap_inverse_lattice(ctx, x0, y0, w, h, lo, hi, xo, yo);
}

mx_map mx_pixmap_map(mx_pixmap *pm) {
    mx_map m = {map_fwd, map_inv, pm, map_lattice};
    return m;
}

int mx_pixmap_is_fast(const mx_pixmap *pm) { return pm && pm->fast; }

int mx_pixmap_homography(const mx_pixmap *pm, double G[3][3]) {
    if (!pm || !pm->fast)
        return mx_seterr(MX_ERR_UNSUPPORTED, "mx_pixmap_homography: not a gnomonic pair");
    memcpy(G, pm->G, sizeof pm->G);
    return MX_OK;
}

static void mat3_mul(const double A[3][3], const double B[3][3], double C[3][3]) {
    double T[3][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) T[r][c] = A[r][0] * B[0][c] + A[r][1] * B[1][c] + A[r][2] * B[2][c];
    memcpy(C, T, sizeof T);
}

/* A = [[CD * pi/180, 0], [0 0 1]] (pixel offsets -> standard coordinates in
 * radians) and its inverse; 0 when CD is singular. */
static int plane_matrices(const mx_tanplane *t, double A[3][3], double Ai[3][3]) {
    double a = t->cd[0][0] * D2R, b = t->cd[0][1] * D2R, c = t->cd[1][0] * D2R,
           d = t->cd[1][1] * D2R, det = a * d - b * c;
    if (!(fabs(det) > 0) || !isfinite(det)) return 0;
    memset(A, 0, 9 * sizeof(double));
    memset(Ai, 0, 9 * sizeof(double));
    A[0][0] = a, A[0][1] = b, A[1][0] = c, A[1][1] = d, A[2][2] = 1;
    Ai[0][0] = d / det, Ai[0][1] = -b / det, Ai[1][0] = -c / det, Ai[1][1] = a / det, Ai[2][2] = 1;
    return 1;
}

int mx_pixmap_new(const mx_wcs *in, const mx_wcs *out, int flags, mx_pixmap **pmo) {
    int status = MX_OK;
    mx_pixmap *pm = NULL;
    if (!pmo) return mx_seterr(MX_ERR_PARAM, "mx_pixmap_new: NULL result pointer");
    *pmo = NULL;
    if (!in || !out) return mx_seterr(MX_ERR_PARAM, "mx_pixmap_new: NULL WCS");
    if (!(pm = calloc(1, sizeof *pm))) return mx_seterr(MX_ERR_NOMEM, "pixel mapping");
    const char *sin_ = mx_wcs_system(in), *sout = mx_wcs_system(out);
    if (strcmp(sin_, sout) != 0) {
        if ((status = mx_celestial_rotation(sin_, sout, pm->R)) != MX_OK) {
            status = mx_preferr(status, "mapping a %s frame (%s) onto a %s grid (%s)", sin_,
                                mx_wcs_ctype(in, 0), sout, mx_wcs_ctype(out, 0));
            goto exit;
        }
        pm->rotate = 1;
    }
    double A[3][3], Ai[3][3], Bo[3][3], Boi[3][3], H[3][3], Ht[3][3];
    if (!(flags & MX_PIXMAP_FORCE_SLOW) && mx_wcs_tanplane(in, &pm->tin) == MX_OK &&
        mx_wcs_tanplane(out, &pm->tout) == MX_OK && plane_matrices(&pm->tin, A, Ai) &&
        plane_matrices(&pm->tout, Bo, Boi)) {
        mx_tan_homography(pm->tin.crval, pm->tout.crval, pm->rotate ? pm->R : NULL, H);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) Ht[r][c] = H[c][r]; /* rotation: inverse = transpose */
        /* G = A_out^-1 H A_in ; G^-1 = A_in^-1 H^T A_out */
        mat3_mul(H, A, pm->G);
        mat3_mul(Boi, pm->G, pm->G);
        mat3_mul(Ht, Bo, pm->Gi);
        mat3_mul(Ai, pm->Gi, pm->Gi);
        for (int k = 0; k < 2; k++) {
            pm->rin[k] = pm->tin.crpix[k] - 1.0;
            pm->rout[k] = pm->tout.crpix[k] - 1.0;
        }
        pm->fast = 1;
    } else {
        if ((status = mx_wcs_dup(in, &pm->win)) != MX_OK) goto exit;
        if ((status = mx_wcs_dup(out, &pm->wout)) != MX_OK) goto exit;
    }
    mx_clearerr(); /* a declined fast path is not an error */
    *pmo = pm;
    pm = NULL;
exit:
    mx_pixmap_free(pm);
    return status;
}

void mx_pixmap_free(mx_pixmap *pm) {
    if (!pm) return;
    mx_wcs_free(pm->win);
    mx_wcs_free(pm->wout);
    free(pm);
}
