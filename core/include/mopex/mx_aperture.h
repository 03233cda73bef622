/* mx_aperture.h - exact circular-aperture photometry on one image.
 *
 * The sum of an image over a disc, each pixel weighted by the exact area of
 * its overlap with the disc (mx_circle_pixel_area, mx_geom.h), with an
 * optional local background: the median of the pixels whose centres lie in
 * an annulus. APEX's Aperture module builds on this function.
 *
 * PIXEL CONVENTION: 0-based, pixel (i, j) is the unit square centred at
 * (i, j) (mx_geom.h); the Lua binding converts from FITS 1-based positions.
 *
 * Bad pixels: a pixel is bad when its value is not finite (NaN, Inf) or when
 * a mask is given and (mask & fatal) != 0. Bad pixels contribute nothing to
 * the sum: their overlap area is reported apart (area_bad, nbad) so that a
 * caller can decide whether the measurement is usable or rescale it by
 * (area + area_bad) / area. Parts of the disc beyond the image contribute
 * nothing either and are reported as area_out.
 *
 * Background (annulus_out > annulus_in >= 0): the median (the average of the
 * two middle values for an even count, as numpy and photutils) of the good
 * pixels whose centre distance d satisfies annulus_in <= d < annulus_out.
 * Found by selection, not sorting. sum = sum_raw - background * area, so
 * the background is removed from the good part of the aperture only.
 *
 * Units are the image's: for surface-brightness images multiply sum by the
 * pixel solid angle (mx_unit_to_ujy, mx_image.h) to get a flux.
 *
 * Thread-safe and reentrant; one allocation per call (the annulus values).
 */
#ifndef MX_APERTURE_H
#define MX_APERTURE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_aperture_opts {
    double radius;          /* aperture radius in pixels, > 0 */
    double annulus_in;      /* background annulus radii in pixels; both 0: no */
    double annulus_out;     /*   background (annulus_out > annulus_in >= 0 else) */
    const int32_t *mask;    /* optional nx*ny mask (NULL: none) */
    uint32_t mask_fatal;    /* bits of mask that make a pixel bad */
} mx_aperture_opts;

/* Flag bits of mx_aperture_result.flags. */
#define MX_APER_EDGE 1u   /* part of the disc lies beyond the image */
#define MX_APER_BAD 2u    /* the disc overlaps bad pixels */
#define MX_APER_NOBKG 4u  /* an annulus was requested but holds no good pixel:
                           * background = 0, nbackground = 0 */

typedef struct mx_aperture_result {
    double sum;           /* background-subtracted sum over the good pixels */
    double sum_raw;       /* the same before subtracting the background */
    double area;          /* overlap area of the good pixels (pixels) */
    double area_bad;      /* overlap area of the bad pixels */
    double area_out;      /* area of the disc beyond the image */
    long nbad;            /* bad pixels with a non-zero overlap */
    double background;    /* per-pixel background (0 without an annulus) */
    long nbackground;     /* good annulus pixels used for it */
    unsigned flags;       /* MX_APER_* */
} mx_aperture_result;

/* Photometry of the nx*ny float image `data` (row-major) in the disc of
 * radius o->radius centred at (x, y). Errors (MX_ERR_PARAM): a radius that
 * is not > 0, an annulus with annulus_out <= annulus_in (unless both are 0),
 * a non-finite centre, an empty image. A disc entirely off the image is no
 * error (area 0, area_out = pi r^2, MX_APER_EDGE). */
int mx_aperture(const float *data, long nx, long ny, double x, double y,
                const mx_aperture_opts *o, mx_aperture_result *out);

#ifdef __cplusplus
}
#endif
#endif
