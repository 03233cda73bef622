/* mx_wcs.h - celestial WCS through wcslib (TAN-SIP, TPV and every wcslib
 * projection), vectorised pixel <-> sky, local pixel scale/area, footprints.
 *
 * PIXEL CONVENTION: all functions here take 0-based pixel coordinates
 * (pixel (0,0) is the centre of the first pixel; FITS pixel = ours + 1).
 * Sky coordinates are degrees in the image's own celestial frame.
 *
 * Headers are parsed with wcspih (which understands SIP A/B/AP/BP and TPV
 * PVi_m), fixed with wcsfix, and set with wcsset. A header without a usable
 * celestial WCS gives MX_ERR_WCS with a message naming the source and the
 * missing keywords ("'x.fits': no celestial WCS: missing CTYPE2, CRVAL2");
 * an unknown projection code gives MX_ERR_UNSUPPORTED naming it.
 *
 * THREADS: an mx_wcs caches work space inside wcslib and must not be used
 * by two threads at once. Give each thread its own mx_wcs_dup().
 */
#ifndef MX_WCS_H
#define MX_WCS_H

#include <stddef.h>
#include "mx_header.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_wcs mx_wcs;

/* Parse the celestial WCS of a header. `source` (file name) is used in
 * messages and may be NULL. */
int mx_wcs_from_header(const mx_header *h, const char *source, mx_wcs **out);
/* A simple, undistorted WCS in CDELT/CROTA2 form (the kind MOPEX writes for
 * FIFs and mosaics). ctype1/ctype2 like "RA---TAN"/"DEC--TAN",
 * "GLON-SIN"/"GLAT-SIN". crpix is FITS 1-based as in headers. */
int mx_wcs_new_simple(const char *ctype1, const char *ctype2, const double crval[2],
                      const double crpix[2], const double cdelt[2], double crota2,
                      double equinox, mx_wcs **out);
int mx_wcs_dup(const mx_wcs *w, mx_wcs **out);
void mx_wcs_free(mx_wcs *w);

/* Vectorised transforms; n points. Points that fail (outside the projection
 * domain) come back as NaN and the call still returns MX_OK; only a broken
 * WCS is an error. */
int mx_wcs_pix2sky(mx_wcs *w, size_t n, const double *x, const double *y, double *lon,
                   double *lat);
int mx_wcs_sky2pix(mx_wcs *w, size_t n, const double *lon, const double *lat, double *x,
                   double *y);

/* Local scale at a pixel from the Jacobian of pix2sky (distortion
 * included): |d(sky)/dx| and |d(sky)/dy| in arcsec per pixel, and the
 * pixel's solid angle in arcsec^2. */
int mx_wcs_pixel_scale(mx_wcs *w, double x, double y, double *sx_arcsec, double *sy_arcsec);
int mx_wcs_pixel_area(mx_wcs *w, double x, double y, double *area_arcsec2);

/* Orientation at (x, y): the CROTA2 (FITS convention, degrees) of the
 * undistorted frame aligned with this one at (x, y); this is minus the
 * position angle (E of N) of the +y pixel axis, e.g. minus Spitzer's PA
 * keyword. Also tells whether the frame is flipped (det > 0 after the usual
 * RA-increases-left convention). */
int mx_wcs_orientation(mx_wcs *w, double x, double y, double *crota2_deg, int *flipped);

/* Sky positions of the 4 outer corners of an nx*ny image, counter-clockwise
 * from pixel corner (-0.5,-0.5); with `nedge` > 0 also nedge points along
 * each edge (to follow distortion). lon/lat hold 4*(nedge+1) values. */
int mx_wcs_footprint(mx_wcs *w, long nx, long ny, int nedge, double *lon, double *lat);

/* Write the WCS of an undistorted frame into a header in CDELT/CROTA2 form
 * (CTYPE, CRVAL, CRPIX, CDELT, CROTA2, EQUINOX, RADESYS); removes CD/PC,
 * SIP and PV cards first. Fails with MX_ERR_PARAM on a distorted WCS. */
int mx_wcs_to_header(const mx_wcs *w, mx_header *h);

/* Descriptive accessors. */
const char *mx_wcs_ctype(const mx_wcs *w, int axis);  /* axis 0 or 1, e.g. "RA---TAN-SIP" */
const char *mx_wcs_projection(const mx_wcs *w);        /* "TAN", "SIN", ... */
/* "J2000" (equatorial ICRS/FK5), "Galactic", "Ecliptic" or "Other". */
const char *mx_wcs_system(const mx_wcs *w);
int mx_wcs_has_distortion(const mx_wcs *w);
/* Reference values (crpix 1-based, as in the header). */
void mx_wcs_reference(const mx_wcs *w, double crval[2], double crpix[2]);

/* ---- fast path for the gnomonic (TAN) case ----------------------------- */
/* When the WCS is TAN with the standard native pole (LONPOLE 180, LATPOLE
 * irrelevant) and at most a SIP distortion, the mosaic engine avoids
 * per-pixel spherical trigonometry: pixel -> (SIP) -> CD -> standard
 * coordinates (xi, eta) -> homography to another TAN plane (Makovoz 2004).
 * This exposes what that needs. Returns MX_OK and fills `out`, or
 * MX_ERR_UNSUPPORTED when the WCS is anything else (use the slow path). */
#define MX_SIP_MAXORDER 9
typedef struct mx_sip {
    int a_order, b_order;      /* forward: 0 when absent */
    int ap_order, bp_order;    /* inverse: 0 when absent */
    double a[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1];   /* a[p][q] multiplies u^p v^q */
    double b[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1];
    double ap[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1];
    double bp[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1];
} mx_sip;

typedef struct mx_tanplane {
    double crval[2];       /* tangent point, degrees, in the image's frame */
    double crpix[2];       /* FITS 1-based reference pixel */
    double cd[2][2];       /* degrees per pixel (CD, or PC*CDELT) */
    int has_sip;
    mx_sip sip;            /* u = x - (crpix1-1), v = y - (crpix2-1), 0-based x, y */
} mx_tanplane;
int mx_wcs_tanplane(const mx_wcs *w, mx_tanplane *out);

/* SIP helpers (u, v relative to CRPIX, pixels): forward distortion
 * (u, v) -> (u + A(u,v), v + B(u,v)), and its exact inverse by Newton
 * iteration started from AP/BP when present (converges to < 1e-10 px). */
void mx_sip_forward(const mx_sip *s, double u, double v, double *uu, double *vv);
int mx_sip_inverse(const mx_sip *s, double uu, double vv, double *u, double *v);

#ifdef __cplusplus
}
#endif
#endif
