/* sip.c - Simple Imaging Polynomial (Shupe et al. 2005): forward
 * evaluation and exact inversion for the gnomonic fast path (mx_wcs.h).
 *
 * The mosaic engine calls these once per pixel corner, so both are written
 * for speed: Horner evaluation (no pow(), no allocation), and the inverse is
 * Newton's method on the forward polynomial with its analytic 2x2 Jacobian,
 * started from the AP/BP approximation when the header has one. Three
 * iterations usually reach the 1e-10 px tolerance for IRAC distortion.
 */
#include "mopex/mx_wcs.h"
#include "mopex/mx_error.h"

#include <math.h>

#define SIP_N (MX_SIP_MAXORDER + 1)
#define SIP_TOL 1e-10   /* px: Newton step below which we call it converged */
#define SIP_MAXIT 20

/* sum_{p+q<=order} c[p][q] u^p v^q, as nested Horner: outer in u, inner in v. */
static inline double sip_poly(const double c[SIP_N][SIP_N], int order, double u, double v) {
    double r = 0.0;
    for (int p = order; p >= 0; p--) {
        const double *row = c[p];
        double s = 0.0;
        for (int q = order - p; q >= 0; q--) s = s * v + row[q];
        r = r * u + s;
    }
    return r;
}

/* The polynomial and its partial derivatives, by the same Horner scheme. */
static inline void sip_poly_d(const double c[SIP_N][SIP_N], int order, double u, double v,
                              double *f, double *fu, double *fv) {
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

void mx_sip_forward(const mx_sip *s, double u, double v, double *uu, double *vv) {
    *uu = u + (s->a_order > 0 ? sip_poly(s->a, s->a_order, u, v) : 0.0);
    *vv = v + (s->b_order > 0 ? sip_poly(s->b, s->b_order, u, v) : 0.0);
}

int mx_sip_inverse(const mx_sip *s, double uu, double vv, double *u, double *v) {
    double x = uu, y = vv;
    if (!isfinite(uu) || !isfinite(vv)) {
        *u = *v = NAN;
        return mx_seterr(MX_ERR_NUMERIC, "SIP inverse: non-finite focal coordinates (%g, %g)",
                         uu, vv);
    }
    if (s->ap_order > 0) x += sip_poly(s->ap, s->ap_order, uu, vv);
    if (s->bp_order > 0) y += sip_poly(s->bp, s->bp_order, uu, vv);
    if (s->a_order <= 0 && s->b_order <= 0) {
        /* No forward distortion: the identity is its own exact inverse. */
        *u = uu;
        *v = vv;
        return MX_OK;
    }
    for (int it = 0; it < SIP_MAXIT; it++) {
        double fa = 0, fau = 0, fav = 0, fb = 0, fbu = 0, fbv = 0;
        if (s->a_order > 0) sip_poly_d(s->a, s->a_order, x, y, &fa, &fau, &fav);
        if (s->b_order > 0) sip_poly_d(s->b, s->b_order, x, y, &fb, &fbu, &fbv);
        double r1 = x + fa - uu, r2 = y + fb - vv;
        double j11 = 1.0 + fau, j12 = fav, j21 = fbu, j22 = 1.0 + fbv;
        double det = j11 * j22 - j12 * j21;
        if (!(fabs(det) > 1e-300) || !isfinite(det)) break;
        double dx = (j22 * r1 - j12 * r2) / det;
        double dy = (j11 * r2 - j21 * r1) / det;
        x -= dx;
        y -= dy;
        if (!isfinite(x) || !isfinite(y)) break;
        if (fabs(dx) <= SIP_TOL && fabs(dy) <= SIP_TOL) {
            *u = x;
            *v = y;
            return MX_OK;
        }
    }
    *u = *v = NAN;
    return mx_seterr(MX_ERR_NUMERIC,
                     "SIP inverse: Newton iteration did not converge to %g px in %d iterations "
                     "at focal coordinates (%g, %g)",
                     SIP_TOL, SIP_MAXIT, uu, vv);
}
