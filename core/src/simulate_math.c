/* simulate_math.c - the simulator's numerics: random streams, exact TAN-SIP
 * geometry and PSF integration over distorted pixels. No I/O here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sf_bessel.h>

#include "mopex/mx_error.h"
#include "simulate_priv.h"

/* ---- random numbers ---------------------------------------------------- */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void mx_rng_seed(mx_rng *r, uint64_t seed, uint64_t stream) {
    /* Hash seed and stream separately before combining so that nearby
     * (seed, stream) pairs give unrelated states. */
    uint64_t a = seed, b = stream ^ 0x6A09E667F3BCC908ULL;
    uint64_t x = splitmix64(&a) ^ (splitmix64(&b) * 0x9E3779B97F4A7C15ULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* never all zero */
    r->has_spare = 0;
    r->spare = 0.0;
}

void mx_rng_set_state(mx_rng *r, const uint64_t s[4]) {
    memcpy(r->s, s, sizeof r->s);
    r->has_spare = 0;
    r->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mx_rng_next(mx_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mx_rng_uniform(mx_rng *r) { return (double)(mx_rng_next(r) >> 11) * 0x1.0p-53; }

double mx_rng_gauss(mx_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * mx_rng_uniform(r) - 1.0;
        v = 2.0 * mx_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

/* log(k!) without lgamma(), which writes the global signgam (a data race
 * when frames render in parallel): exact sums below 10, Stirling's series
 * (error < 1e-12) above. */
static double log_factorial(long k) {
    if (k < 10) {
        double s = 0.0;
        for (long i = 2; i <= k; i++) s += log((double)i);
        return s;
    }
    double x = (double)k + 1.0, x2 = x * x;
    return (x - 0.5) * log(x) - x + 0.91893853320467274178 +
           (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * x2)) / x2) / x;
}

long mx_rng_poisson(mx_rng *r, double mean) {
    if (!(mean > 0.0)) return 0;
    if (mean < 30.0) {
        double L = exp(-mean), p = 1.0;
        long k = 0;
        for (;;) {
            p *= mx_rng_uniform(r);
            if (p <= L) return k;
            k++;
        }
    }
    /* PTRS, transformed rejection with squeeze (Hoermann 1993). */
    double slam = sqrt(mean), loglam = log(mean);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4);
    double vr = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
        double U = mx_rng_uniform(r) - 0.5;
        double V = mx_rng_uniform(r);
        double us = 0.5 - fabs(U);
        long k = (long)floor((2.0 * a / us + b) * U + mean + 0.43);
        if (us >= 0.07 && V <= vr) return k;
        if (k < 0 || (us < 0.013 && V > us)) continue;
        if (log(V) + log(invalpha) - log(a / (us * us) + b) <=
            -mean + (double)k * loglam - log_factorial(k))
            return k;
    }
}

/* ---- spherical helpers -------------------------------------------------- */
void sim_radec2vec(double ra, double dec, double v[3]) {
    double a = ra * SIM_D2R, d = dec * SIM_D2R;
    v[0] = cos(d) * cos(a);
    v[1] = cos(d) * sin(a);
    v[2] = sin(d);
}

void sim_vec2radec(const double v[3], double *ra, double *dec) {
    double a = atan2(v[1], v[0]) / SIM_D2R;
    if (a < 0) a += 360.0;
    *ra = a;
    *dec = atan2(v[2], hypot(v[0], v[1])) / SIM_D2R;
}

void sim_basis(double ra, double dec, double b[3][3]) {
    double a = ra * SIM_D2R, d = dec * SIM_D2R;
    double sa = sin(a), ca = cos(a), sd = sin(d), cd = cos(d);
    b[0][0] = -sa;      b[0][1] = ca;       b[0][2] = 0.0; /* east */
    b[1][0] = -sd * ca; b[1][1] = -sd * sa; b[1][2] = cd;  /* north */
    b[2][0] = cd * ca;  b[2][1] = cd * sa;  b[2][2] = sd;  /* tangent point */
}

int sim_vec2plane(const double b[3][3], const double v[3], double *xi, double *eta) {
    double w = b[2][0] * v[0] + b[2][1] * v[1] + b[2][2] * v[2];
    if (!(w > 1e-9)) return 0;
    *xi = (b[0][0] * v[0] + b[0][1] * v[1] + b[0][2] * v[2]) / w;
    *eta = (b[1][0] * v[0] + b[1][1] * v[1] + b[1][2] * v[2]) / w;
    return 1;
}

void sim_plane2vec(const double b[3][3], double xi, double eta, double v[3]) {
    double n = 0.0;
    for (int k = 0; k < 3; k++) {
        v[k] = xi * b[0][k] + eta * b[1][k] + b[2][k];
        n += v[k] * v[k];
    }
    n = 1.0 / sqrt(n);
    for (int k = 0; k < 3; k++) v[k] *= n;
}

/* ---- SIP --------------------------------------------------------------- */
typedef double sip_coef[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1];

static void poly_eval(const sip_coef c, int order, const double *up, const double *vp, double *f,
                      double *fu, double *fv) {
    double s = 0.0, su = 0.0, sv = 0.0;
    for (int p = 0; p <= order; p++) {
        for (int q = 0; p + q <= order; q++) {
            double k = c[p][q];
            if (k == 0.0) continue;
            s += k * up[p] * vp[q];
            if (p > 0) su += k * p * up[p - 1] * vp[q];
            if (q > 0) sv += k * q * up[p] * vp[q - 1];
        }
    }
    *f = s;
    if (fu) *fu = su;
    if (fv) *fv = sv;
}

static void powers(double u, int n, double *out) {
    out[0] = 1.0;
    for (int k = 1; k <= n; k++) out[k] = out[k - 1] * u;
}

void sim_sip_forward(const mx_sip *s, double u, double v, double *U, double *V, double J[2][2]) {
    double up[MX_SIP_MAXORDER + 1], vp[MX_SIP_MAXORDER + 1];
    int n = s->a_order > s->b_order ? s->a_order : s->b_order;
    powers(u, n, up);
    powers(v, n, vp);
    double fa = 0, fau = 0, fav = 0, fb = 0, fbu = 0, fbv = 0;
    if (s->a_order > 0) poly_eval(s->a, s->a_order, up, vp, &fa, &fau, &fav);
    if (s->b_order > 0) poly_eval(s->b, s->b_order, up, vp, &fb, &fbu, &fbv);
    *U = u + fa;
    *V = v + fb;
    if (J) {
        J[0][0] = 1.0 + fau;
        J[0][1] = fav;
        J[1][0] = fbu;
        J[1][1] = 1.0 + fbv;
    }
}

int sim_sip_inverse(const mx_sip *s, double U, double V, double *u, double *v) {
    double x = U, y = V;
    if (s->ap_order > 0 || s->bp_order > 0) {
        double up[MX_SIP_MAXORDER + 1], vp[MX_SIP_MAXORDER + 1], fa = 0, fb = 0;
        int n = s->ap_order > s->bp_order ? s->ap_order : s->bp_order;
        powers(U, n, up);
        powers(V, n, vp);
        if (s->ap_order > 0) poly_eval(s->ap, s->ap_order, up, vp, &fa, NULL, NULL);
        if (s->bp_order > 0) poly_eval(s->bp, s->bp_order, up, vp, &fb, NULL, NULL);
        x = U + fa;
        y = V + fb;
    }
    for (int it = 0; it < 60; it++) {
        double fx, fy, J[2][2];
        sim_sip_forward(s, x, y, &fx, &fy, J);
        fx -= U;
        fy -= V;
        double det = J[0][0] * J[1][1] - J[0][1] * J[1][0];
        if (!(fabs(det) > 1e-12)) break;
        double dx = (J[1][1] * fx - J[0][1] * fy) / det;
        double dy = (-J[1][0] * fx + J[0][0] * fy) / det;
        x -= dx;
        y -= dy;
        if (fabs(dx) < 1e-12 && fabs(dy) < 1e-12) {
            *u = x;
            *v = y;
            return MX_OK;
        }
        if (!isfinite(x) || !isfinite(y)) break;
    }
    return mx_seterr(MX_ERR_WCS, "SIP inversion did not converge at (%.6g, %.6g) pixels from CRPIX",
                     U, V);
}

/* ---- frame geometry ---------------------------------------------------- */
void sim_geom_init(sim_geom *g, const mx_tanplane *tp) {
    g->tp = *tp;
    sim_basis(tp->crval[0], tp->crval[1], g->basis);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) g->cd[i][j] = tp->cd[i][j] * SIM_D2R;
    double det = g->cd[0][0] * g->cd[1][1] - g->cd[0][1] * g->cd[1][0];
    g->cdinv[0][0] = g->cd[1][1] / det;
    g->cdinv[0][1] = -g->cd[0][1] / det;
    g->cdinv[1][0] = -g->cd[1][0] / det;
    g->cdinv[1][1] = g->cd[0][0] / det;
    g->u0 = tp->crpix[0] - 1.0;
    g->v0 = tp->crpix[1] - 1.0;
}

void sim_pix2plane(const sim_geom *g, double x, double y, double *xi, double *eta, double J[2][2]) {
    double u = x - g->u0, v = y - g->v0, U = u, V = v;
    double Js[2][2] = {{1.0, 0.0}, {0.0, 1.0}};
    if (g->tp.has_sip) sim_sip_forward(&g->tp.sip, u, v, &U, &V, Js);
    *xi = g->cd[0][0] * U + g->cd[0][1] * V;
    *eta = g->cd[1][0] * U + g->cd[1][1] * V;
    if (J) {
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) J[i][j] = g->cd[i][0] * Js[0][j] + g->cd[i][1] * Js[1][j];
    }
}

static void collapse(const sip_coef c, int order, double v, double *co, double *cv) {
    for (int p = 0; p <= order; p++) {
        double s = 0.0, sv = 0.0, vq = 1.0, vq1 = 0.0; /* v^q and v^(q-1) */
        for (int q = 0; p + q <= order; q++) {
            s += c[p][q] * vq;
            sv += c[p][q] * (double)q * vq1;
            vq1 = vq;
            vq *= v;
        }
        co[p] = s;
        cv[p] = sv;
    }
}

void sim_row_init(sim_row *r, const sim_geom *g, double y) {
    r->g = g;
    r->v = y - g->v0;
    r->na = r->nb = 0;
    if (!g->tp.has_sip) return;
    r->na = g->tp.sip.a_order;
    r->nb = g->tp.sip.b_order;
    if (r->na > 0) collapse(g->tp.sip.a, r->na, r->v, r->a, r->av);
    if (r->nb > 0) collapse(g->tp.sip.b, r->nb, r->v, r->b, r->bv);
}

/* value, d/du and the v-derivative polynomial at u, by Horner */
static inline void horner(const double *c, const double *cv, int n, double u, double *f, double *fu,
                          double *fv) {
    double s = c[n], su = 0.0, sv = cv[n];
    for (int p = n - 1; p >= 0; p--) {
        su = su * u + s;
        s = s * u + c[p];
        sv = sv * u + cv[p];
    }
    *f = s;
    *fu = su;
    *fv = sv;
}

void sim_row_pix2plane(const sim_row *r, double x, double *xi, double *eta, double J[2][2]) {
    const sim_geom *g = r->g;
    double u = x - g->u0, U = u, V = r->v;
    double Js[2][2] = {{1.0, 0.0}, {0.0, 1.0}};
    if (r->na > 0) {
        double f, fu, fv;
        horner(r->a, r->av, r->na, u, &f, &fu, &fv);
        U += f;
        Js[0][0] += fu;
        Js[0][1] = fv;
    }
    if (r->nb > 0) {
        double f, fu, fv;
        horner(r->b, r->bv, r->nb, u, &f, &fu, &fv);
        V += f;
        Js[1][0] = fu;
        Js[1][1] += fv;
    }
    *xi = g->cd[0][0] * U + g->cd[0][1] * V;
    *eta = g->cd[1][0] * U + g->cd[1][1] * V;
    if (J) {
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) J[i][j] = g->cd[i][0] * Js[0][j] + g->cd[i][1] * Js[1][j];
    }
}

int sim_plane2pix(const sim_geom *g, double xi, double eta, double *x, double *y) {
    double U = g->cdinv[0][0] * xi + g->cdinv[0][1] * eta;
    double V = g->cdinv[1][0] * xi + g->cdinv[1][1] * eta;
    double u = U, v = V;
    if (g->tp.has_sip) {
        int st = sim_sip_inverse(&g->tp.sip, U, V, &u, &v);
        if (st != MX_OK) return st;
    }
    *x = u + g->u0;
    *y = v + g->v0;
    return MX_OK;
}

void mx_sim_cd_matrix(double scale_arcsec, double rotation_deg, double cd[2][2]) {
    double s = scale_arcsec / 3600.0, r = rotation_deg * SIM_D2R;
    cd[0][0] = -s * cos(r);
    cd[0][1] = s * sin(r);
    cd[1][0] = s * sin(r);
    cd[1][1] = s * cos(r);
}

void mx_sim_pix2sky(const mx_tanplane *tp, double x, double y, double *ra, double *dec) {
    sim_geom g;
    sim_geom_init(&g, tp);
    double xi, eta, v[3];
    sim_pix2plane(&g, x, y, &xi, &eta, NULL);
    sim_plane2vec(g.basis, xi, eta, v);
    sim_vec2radec(v, ra, dec);
}

int mx_sim_sky2pix(const mx_tanplane *tp, double ra, double dec, double *x, double *y) {
    sim_geom g;
    sim_geom_init(&g, tp);
    double v[3], xi, eta;
    sim_radec2vec(ra, dec, v);
    if (!sim_vec2plane(g.basis, v, &xi, &eta))
        return mx_seterr(MX_ERR_WCS, "(%.8g, %.8g) is 90 degrees or more from the tangent point", ra,
                         dec);
    return sim_plane2pix(&g, xi, eta, x, y);
}

double mx_sim_pixel_area(const mx_tanplane *tp, double x, double y) {
    sim_geom g;
    sim_geom_init(&g, tp);
    double xi, eta, J[2][2];
    sim_pix2plane(&g, x, y, &xi, &eta, J);
    double rho2 = xi * xi + eta * eta;
    /* gnomonic plane -> sphere: dOmega = dxi deta / (1 + rho^2)^(3/2) */
    return fabs(J[0][0] * J[1][1] - J[0][1] * J[1][0]) * pow(1.0 + rho2, -1.5) * SIM_R2AS * SIM_R2AS;
}

/* ---- PSF --------------------------------------------------------------- */
#define AIRY_TABLE 16384

static double airy_profile(double v) { /* [2 J1(v)/v]^2 */
    if (v < 1e-8) return 1.0;
    double t = 2.0 * gsl_sf_bessel_J1(v) / v;
    return t * t;
}

int sim_psf_init(sim_psf_eval *pe, const mx_sim_psf *psf) {
    memset(pe, 0, sizeof *pe);
    pe->psf = *psf;
    if (!(psf->fwhm > 0.0))
        return mx_seterr(MX_ERR_PARAM, "psf fwhm must be > 0 arcsec (got %g)", psf->fwhm);
    if (!(psf->radius > 0.0))
        return mx_seterr(MX_ERR_PARAM, "psf radius must be > 0 FWHM (got %g)", psf->radius);
    if (psf->oversample < 1 || psf->oversample > 64)
        return mx_seterr(MX_ERR_PARAM, "psf oversample must be between 1 and 64 (got %d)",
                         psf->oversample);
    const double f2s = 1.0 / (2.0 * sqrt(2.0 * log(2.0)));
    double s1 = psf->fwhm * f2s, widest = psf->fwhm;
    switch (psf->kind) {
    case MX_SIM_PSF_GAUSSIAN:
        pe->a1 = 1.0 / (2.0 * s1 * s1);
        pe->n1 = 1.0 / (2.0 * SIM_PI * s1 * s1);
        break;
    case MX_SIM_PSF_DOUBLE_GAUSSIAN: {
        if (!(psf->wing_fwhm > 0.0))
            return mx_seterr(MX_ERR_PARAM, "psf wing_fwhm must be > 0 arcsec (got %g)",
                             psf->wing_fwhm);
        if (!(psf->wing_fraction >= 0.0 && psf->wing_fraction <= 1.0))
            return mx_seterr(MX_ERR_PARAM, "psf wing_fraction must be within [0, 1] (got %g)",
                             psf->wing_fraction);
        double s2 = psf->wing_fwhm * f2s, f = psf->wing_fraction;
        pe->a1 = 1.0 / (2.0 * s1 * s1);
        pe->n1 = (1.0 - f) / (2.0 * SIM_PI * s1 * s1);
        pe->a2 = 1.0 / (2.0 * s2 * s2);
        pe->n2 = f / (2.0 * SIM_PI * s2 * s2);
        if (psf->wing_fwhm > widest) widest = psf->wing_fwhm;
        break;
    }
    case MX_SIM_PSF_AIRY: {
        /* half maximum of [2 J1(v)/v]^2 by bisection: v = 1.6163... */
        double lo = 1.0, hi = 2.5;
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (airy_profile(mid) > 0.5) lo = mid; else hi = mid;
        }
        double k = 2.0 * 0.5 * (lo + hi) / psf->fwhm;
        pe->k2 = k * k;
        break;
    }
    default:
        return mx_seterr(MX_ERR_PARAM, "unknown psf kind %d", (int)psf->kind);
    }
    pe->rmax = psf->radius * widest;
    pe->rmax2 = pe->rmax * pe->rmax;
    if (psf->kind == MX_SIM_PSF_AIRY) {
        pe->ntable = AIRY_TABLE + 2;
        pe->table = malloc(sizeof *pe->table * (size_t)pe->ntable);
        if (!pe->table) return mx_seterr(MX_ERR_NOMEM, "Airy PSF table of %ld values", pe->ntable);
        double smax = pe->k2 * pe->rmax2, norm = pe->k2 / (4.0 * SIM_PI);
        pe->table_step = smax / AIRY_TABLE;
        for (long i = 0; i < pe->ntable; i++)
            pe->table[i] = norm * airy_profile(sqrt((double)i * pe->table_step));
    }
    return MX_OK;
}

void sim_psf_free(sim_psf_eval *pe) {
    free(pe->table);
    pe->table = NULL;
}

/* The Airy profile from its table, linear in r^2 (r2 in arcsec^2). */
static inline double airy_value(const sim_psf_eval *pe, double r2) {
    double t = pe->k2 * r2 / pe->table_step;
    long i = (long)t;
    if (i >= pe->ntable - 1) return 0.0;
    double f = t - (double)i;
    return pe->table[i] + f * (pe->table[i + 1] - pe->table[i]);
}

/* Sum of exp(-a r^2) over the n x n sub-samples q = q0 + i e + j b of one
 * pixel. On such a lattice the Gaussian obeys product recurrences
 * (E_{i+1} = E_i R_i, R_{i+1} = R_i Q, and likewise from row to row), so a
 * pixel costs six exp() whatever n is. Terms that underflow are below
 * 1e-300 of the peak; the ratios stay within exp(+-100) over a pixel. */
static double gauss_pixel(double a, double qx, double qy, double ex, double ey, double bx,
                          double by, int n) {
    double ee = ex * ex + ey * ey, bb = bx * bx + by * by, be = bx * ex + by * ey;
    double Es = exp(-a * (qx * qx + qy * qy));          /* first value of the row */
    double S = exp(-a * (2.0 * (qx * bx + qy * by) + bb)); /* row start -> next row start */
    double P = exp(-2.0 * a * bb);
    double R0 = exp(-a * (2.0 * (qx * ex + qy * ey) + ee)); /* along the row */
    double Q = exp(-2.0 * a * ee);
    double T = exp(-2.0 * a * be);
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        double E = Es, R = R0, s = 0.0;
        for (int i = 0; i < n; i++) {
            s += E;
            E *= R;
            R *= Q;
        }
        sum += s;
        Es *= S;
        S *= P;
        R0 *= T;
    }
    return sum;
}

/* Mean PSF (per arcsec^2) over one pixel: centre offset c (arcsec, in the
 * source's tangent plane) and the pixel's Jacobian J (arcsec per pixel). */
static double pixel_mean_psf(const sim_psf_eval *pe, const double c[2], const double J[2][2]) {
    int n = pe->psf.oversample;
    double h = 1.0 / n, sum = 0.0;
    double ex = J[0][0] * h, ey = J[1][0] * h; /* one sub-step along x */
    if (!pe->table) {
        /* every sub-sample of a pixel that reaches within rmax counts (no
         * sub-pixel truncation); the renormalisation keeps the flux exact */
        double d0 = 0.5 * h - 0.5;
        double qx = c[0] + (J[0][0] + J[0][1]) * d0, qy = c[1] + (J[1][0] + J[1][1]) * d0;
        double bx = J[0][1] * h, by = J[1][1] * h;
        sum = pe->n1 * gauss_pixel(pe->a1, qx, qy, ex, ey, bx, by, n);
        if (pe->n2 > 0.0) sum += pe->n2 * gauss_pixel(pe->a2, qx, qy, ex, ey, bx, by, n);
        return sum * h * h;
    }
    for (int j = 0; j < n; j++) {
        double dy = (j + 0.5) * h - 0.5, dx0 = 0.5 * h - 0.5;
        double qx = c[0] + J[0][1] * dy + J[0][0] * dx0;
        double qy = c[1] + J[1][1] * dy + J[1][0] * dx0;
        for (int i = 0; i < n; i++, qx += ex, qy += ey) {
            double r2 = qx * qx + qy * qy;
            if (r2 < pe->rmax2) sum += airy_value(pe, r2);
        }
    }
    return sum * h * h;
}

int sim_render_source(const sim_geom *g, const sim_psf_eval *pe, const double s[3], double ra,
                      double dec, double flux_ujy, long nx, long ny, float *img,
                      sim_scratch *scr, double *xs, double *ys) {
    *xs = *ys = NAN;
    double xi_s, eta_s;
    if (!sim_vec2plane(g->basis, s, &xi_s, &eta_s)) return MX_OK;
    /* cheap rejection before the SIP inversion, with a linear position */
    double U = g->cdinv[0][0] * xi_s + g->cdinv[0][1] * eta_s;
    double V = g->cdinv[1][0] * xi_s + g->cdinv[1][1] * eta_s;
    double scale_as = sqrt(fabs(g->cd[0][0] * g->cd[1][1] - g->cd[0][1] * g->cd[1][0])) * SIM_R2AS;
    double half = pe->rmax / (0.8 * scale_as) + 1.0; /* render half-box, pixels */
    double margin = half + 16.0;                     /* SIP moves IRAC pixels < 3 px */
    if (U + g->u0 < -margin || U + g->u0 > nx - 1 + margin || V + g->v0 < -margin ||
        V + g->v0 > ny - 1 + margin)
        return MX_OK;
    double x0, y0;
    int st = sim_plane2pix(g, xi_s, eta_s, &x0, &y0);
    if (st != MX_OK) return st;
    *xs = x0;
    *ys = y0;
    long i0 = (long)floor(x0 - half), i1 = (long)ceil(x0 + half);
    long j0 = (long)floor(y0 - half), j1 = (long)ceil(y0 + half);
    if (i1 < 0 || j1 < 0 || i0 > nx - 1 || j0 > ny - 1) return MX_OK;
    size_t bw = (size_t)(i1 - i0 + 1), bh = (size_t)(j1 - j0 + 1);
    if (bw * bh > scr->cap) {
        double *nv = realloc(scr->v, sizeof *nv * bw * bh);
        if (!nv) return mx_seterr(MX_ERR_NOMEM, "render box of %zu x %zu pixels", bw, bh);
        scr->v = nv;
        scr->cap = bw * bh;
    }
    /* Homography from the frame's tangent plane to the source's own one:
     * M = B_s B_f^T; at arcsec offsets gnomonic distances are angular
     * distances to 1e-10. */
    double Bs[3][3], M[3][3];
    sim_basis(ra, dec, Bs);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            M[a][b] = Bs[a][0] * g->basis[b][0] + Bs[a][1] * g->basis[b][1] + Bs[a][2] * g->basis[b][2];
    double norm = 0.0;
    for (long j = j0; j <= j1; j++) {
        sim_row row;
        sim_row_init(&row, g, (double)j);
        for (long i = i0; i <= i1; i++) {
            double xi, eta, J1[2][2];
            sim_row_pix2plane(&row, (double)i, &xi, &eta, J1);
            double p0 = M[0][0] * xi + M[0][1] * eta + M[0][2];
            double p1 = M[1][0] * xi + M[1][1] * eta + M[1][2];
            double p2 = M[2][0] * xi + M[2][1] * eta + M[2][2];
            double c[2] = {p0 / p2 * SIM_R2AS, p1 / p2 * SIM_R2AS};
            double H[2][2] = {
                {(M[0][0] * p2 - p0 * M[2][0]) / (p2 * p2), (M[0][1] * p2 - p0 * M[2][1]) / (p2 * p2)},
                {(M[1][0] * p2 - p1 * M[2][0]) / (p2 * p2), (M[1][1] * p2 - p1 * M[2][1]) / (p2 * p2)}};
            double J[2][2];
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    J[a][b] = (H[a][0] * J1[0][b] + H[a][1] * J1[1][b]) * SIM_R2AS;
            /* half the longer pixel diagonal bounds the footprint's reach */
            double d1 = (J[0][0] + J[0][1]) * (J[0][0] + J[0][1]) + (J[1][0] + J[1][1]) * (J[1][0] + J[1][1]);
            double d2 = (J[0][0] - J[0][1]) * (J[0][0] - J[0][1]) + (J[1][0] - J[1][1]) * (J[1][0] - J[1][1]);
            double reach = pe->rmax + 0.5 * sqrt(d1 > d2 ? d1 : d2);
            double val = 0.0;
            if (c[0] * c[0] + c[1] * c[1] < reach * reach) {
                val = pixel_mean_psf(pe, c, J);
                norm += val * fabs(J[0][0] * J[1][1] - J[0][1] * J[1][0]);
            }
            scr->v[(size_t)(j - j0) * bw + (size_t)(i - i0)] = val;
        }
    }
    if (!(norm > 0.0)) return MX_OK; /* PSF entirely between sub-samples: cannot happen for n >= 1 */
    /* pixel value = F * (mean PSF * A) / norm / (23.5 A): the area cancels */
    double scale = flux_ujy / norm / SIM_UJY_PER_MJYSR_AS2;
    long ia = i0 < 0 ? 0 : i0, ib = i1 > nx - 1 ? nx - 1 : i1;
    long ja = j0 < 0 ? 0 : j0, jb = j1 > ny - 1 ? ny - 1 : j1;
    for (long j = ja; j <= jb; j++) {
        const double *row = scr->v + (size_t)(j - j0) * bw;
        float *out = img + (size_t)j * (size_t)nx;
        for (long i = ia; i <= ib; i++) {
            double v = row[i - i0];
            if (v != 0.0) out[i] = (float)((double)out[i] + scale * v);
        }
    }
    return MX_OK;
}

int mx_sim_render_source(const mx_tanplane *tp, const mx_sim_psf *psf, double ra, double dec,
                         double flux_ujy, long nx, long ny, float *img, double *x, double *y) {
    sim_geom g;
    sim_psf_eval pe;
    sim_scratch scr = {NULL, 0};
    double s[3], xs, ys;
    int st = sim_psf_init(&pe, psf);
    if (st != MX_OK) return st;
    sim_geom_init(&g, tp);
    sim_radec2vec(ra, dec, s);
    st = sim_render_source(&g, &pe, s, ra, dec, flux_ujy, nx, ny, img, &scr, &xs, &ys);
    if (x) *x = xs;
    if (y) *y = ys;
    free(scr.v);
    sim_psf_free(&pe);
    return st;
}
