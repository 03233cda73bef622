/* aperture.c - exact circular-aperture photometry (mx_aperture.h).
 *
 * The disc is visited pixel by pixel over its bounding box clipped to the
 * image; mx_circle_pixel_area decides whole pixels inside or outside without
 * integration, so only the ~2 pi r boundary pixels cost an exact integral.
 */
#include "mopex/mx_aperture.h"
#include "mopex/mx_error.h"
#include "mopex/mx_geom.h"
#include "mopex/mx_stats.h"

#include <math.h>
#include <stdlib.h>

static int pixel_bad(const float *data, const mx_aperture_opts *o, size_t k) {
    if (!isfinite(data[k])) return 1;
    return o->mask && ((uint32_t)o->mask[k] & o->mask_fatal) != 0;
}

/* Inclusive pixel range [lo, hi] along one axis of length n that a span
 * [c - h, c + h] touches; 0 when it misses the axis. Computed in doubles
 * first so that a centre far off the image cannot overflow a long. */
static int span(double c, double h, long n, long *lo, long *hi) {
    double a = floor(c - h + 0.5), b = ceil(c + h - 0.5);
    if (b < 0 || a > (double)(n - 1)) return 0;
    *lo = a < 0 ? 0 : (long)a;
    *hi = b > (double)(n - 1) ? n - 1 : (long)b;
    return *lo <= *hi;
}

/* Median of the good pixels whose centres lie at annulus_in <= d < annulus_out. */
static int annulus_median(const float *data, long nx, long ny, double x, double y,
                          const mx_aperture_opts *o, double *median, long *count) {
    int status = MX_OK;
    float *v = NULL;
    long i0, i1, j0, j1;
    *median = 0.0;
    *count = 0;
    if (!span(x, o->annulus_out, nx, &i0, &i1) || !span(y, o->annulus_out, ny, &j0, &j1))
        goto exit;
    size_t cap = (size_t)(i1 - i0 + 1) * (size_t)(j1 - j0 + 1);
    v = malloc(cap * sizeof *v);
    if (!v) {
        status = mx_seterr(MX_ERR_NOMEM, "aperture: annulus buffer of %zu values", cap);
        goto exit;
    }
    double rin2 = o->annulus_in * o->annulus_in, rout2 = o->annulus_out * o->annulus_out;
    size_t n = 0;
    for (long j = j0; j <= j1; j++) {
        double dy = (double)j - y;
        for (long i = i0; i <= i1; i++) {
            double dx = (double)i - x, d2 = dx * dx + dy * dy;
            if (d2 < rin2 || d2 >= rout2) continue;
            size_t k = (size_t)j * (size_t)nx + (size_t)i;
            if (!pixel_bad(data, o, k)) v[n++] = data[k];
        }
    }
    if (n > 0) {
        *median = mx_median_inplace(v, n, MX_MEDIAN_AVERAGE);
        *count = (long)n;
    }
exit:
    free(v);
    return status;
}

int mx_aperture(const float *data, long nx, long ny, double x, double y,
                const mx_aperture_opts *o, mx_aperture_result *out) {
    int status = MX_OK;
    mx_aperture_result r = {0};
    if (!data || !o || !out || nx <= 0 || ny <= 0) {
        status = mx_seterr(MX_ERR_PARAM, "aperture: no image (%ld x %ld) or no options", nx, ny);
        goto exit;
    }
    if (!(o->radius > 0) || !isfinite(o->radius)) {
        status = mx_seterr(MX_ERR_PARAM, "aperture: radius must be > 0 (got %g)", o->radius);
        goto exit;
    }
    if (!isfinite(x) || !isfinite(y)) {
        status = mx_seterr(MX_ERR_PARAM, "aperture: centre (%g, %g) is not finite", x, y);
        goto exit;
    }
    int want_bkg = !(o->annulus_in == 0 && o->annulus_out == 0);
    if (want_bkg && !(o->annulus_in >= 0 && o->annulus_out > o->annulus_in &&
                      isfinite(o->annulus_out))) {
        status = mx_seterr(MX_ERR_PARAM,
                           "aperture: annulus needs 0 <= inner < outer (got %g, %g)",
                           o->annulus_in, o->annulus_out);
        goto exit;
    }

    const double rad = o->radius;
    double inside = 0.0; /* disc area over image pixels, good or bad */
    long i0, i1, j0, j1;
    if (span(x, rad, nx, &i0, &i1) && span(y, rad, ny, &j0, &j1)) {
        for (long j = j0; j <= j1; j++) {
            for (long i = i0; i <= i1; i++) {
                double a = mx_circle_pixel_area(x, y, rad, i, j);
                if (a <= 0) continue;
                inside += a;
                size_t k = (size_t)j * (size_t)nx + (size_t)i;
                if (pixel_bad(data, o, k)) {
                    r.area_bad += a;
                    r.nbad++;
                } else {
                    r.sum_raw += a * (double)data[k];
                    r.area += a;
                }
            }
        }
    }
    r.area_out = fmax(0.0, M_PI * rad * rad - inside);
    if (x - rad < -0.5 || x + rad > (double)nx - 0.5 || y - rad < -0.5 ||
        y + rad > (double)ny - 0.5)
        r.flags |= MX_APER_EDGE;
    if (r.nbad > 0) r.flags |= MX_APER_BAD;
    if (want_bkg) {
        if ((status = annulus_median(data, nx, ny, x, y, o, &r.background, &r.nbackground)) !=
            MX_OK)
            goto exit;
        if (r.nbackground == 0) r.flags |= MX_APER_NOBKG;
    }
    r.sum = r.sum_raw - r.background * r.area;
    *out = r;
exit:
    return status;
}
