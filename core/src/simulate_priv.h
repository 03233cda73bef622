/* simulate_priv.h - internals shared by simulate.c and simulate_math.c. */
#ifndef MX_SIMULATE_PRIV_H
#define MX_SIMULATE_PRIV_H

#include <stddef.h>
#include "mopex/mx_simulate.h"

#define SIM_PI 3.14159265358979323846
#define SIM_D2R (SIM_PI / 180.0)
#define SIM_R2AS 206264.80624709636   /* arcsec per radian */
#define SIM_UJY_PER_MJYSR_AS2 23.5044305 /* microJy per (MJy/sr x arcsec^2), formats.md 1.3 */

/* A frame's geometry prepared for fast exact transforms. */
typedef struct sim_geom {
    mx_tanplane tp;
    double basis[3][3];   /* rows: east, north, pole (celestial unit vectors) */
    double cd[2][2];      /* CD in radians per pixel */
    double cdinv[2][2];
    double u0, v0;        /* 0-based reference pixel */
} sim_geom;

void sim_geom_init(sim_geom *g, const mx_tanplane *tp);
/* Unit vector of (ra, dec) in degrees and back. */
void sim_radec2vec(double ra, double dec, double v[3]);
void sim_vec2radec(const double v[3], double *ra, double *dec);
/* Tangent basis (rows east, north, pole) at (ra, dec) degrees. */
void sim_basis(double ra, double dec, double b[3][3]);
/* Standard coordinates (radians) of a celestial vector in a basis; 0 when the
 * point is on or behind the tangent plane's horizon. */
int sim_vec2plane(const double b[3][3], const double v[3], double *xi, double *eta);
void sim_plane2vec(const double b[3][3], double xi, double eta, double v[3]);

/* SIP forward with Jacobian (J may be NULL): (u,v) -> (U,V). */
void sim_sip_forward(const mx_sip *s, double u, double v, double *U, double *V, double J[2][2]);
int sim_sip_inverse(const mx_sip *s, double U, double V, double *u, double *v);
/* Pixel (0-based) -> standard coordinates (radians) with the Jacobian
 * d(xi,eta)/d(x,y) (J may be NULL). */
void sim_pix2plane(const sim_geom *g, double x, double y, double *xi, double *eta, double J[2][2]);
int sim_plane2pix(const sim_geom *g, double xi, double eta, double *x, double *y);

/* One image row (fixed y) with the SIP polynomials collapsed to polynomials
 * in u, so that each pixel of the row costs a few Horner steps. Exact: the
 * same polynomial, summed in another order. */
typedef struct sim_row {
    const sim_geom *g;
    int na, nb;                          /* degrees in u (0 without SIP) */
    double a[MX_SIP_MAXORDER + 1], av[MX_SIP_MAXORDER + 1]; /* A = sum a_p u^p; dA/dv = sum av_p u^p */
    double b[MX_SIP_MAXORDER + 1], bv[MX_SIP_MAXORDER + 1];
    double v;
} sim_row;
void sim_row_init(sim_row *r, const sim_geom *g, double y);
void sim_row_pix2plane(const sim_row *r, double x, double *xi, double *eta, double J[2][2]);

/* PSF prepared for evaluation. Values are per arcsec^2, normalised to a unit
 * integral over the whole plane (the renderer renormalises numerically). */
typedef struct sim_psf_eval {
    mx_sim_psf psf;
    double rmax, rmax2;       /* render radius, arcsec */
    double a1, n1, a2, n2;    /* Gaussian terms: n * exp(-a r^2) */
    double k2;                /* Airy: k^2 (1/arcsec^2) */
    double *table;            /* Airy: [2 J1(v)/v]^2 * k^2/4pi on a grid of v^2 */
    long ntable;
    double table_step;        /* in v^2 */
} sim_psf_eval;

int sim_psf_init(sim_psf_eval *pe, const mx_sim_psf *psf);
void sim_psf_free(sim_psf_eval *pe);

/* Growable scratch buffer for the render box. */
typedef struct sim_scratch {
    double *v;
    size_t cap;
} sim_scratch;

/* Add a source (unit vector `s`, flux in microJy) to the nx*ny frame image.
 * See mx_simulate.h for the integration. *xs, *ys: 0-based position (NaN when
 * the source is behind the plane). */
int sim_render_source(const sim_geom *g, const sim_psf_eval *pe, const double s[3], double ra,
                      double dec, double flux_ujy, long nx, long ny, float *img,
                      sim_scratch *scr, double *xs, double *ys);

#endif
