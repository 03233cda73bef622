/* outlier.c - per-pixel kernels of the multi-frame outlier modules
 * (mx_outlier.h section 1): temporal, box, dual, coverage sum, RMask flags
 * and back-projection. */
#include "mopex/mopex.h"
#include "mopex/mx_outlier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- temporal ---------------------------------------------------------- */

/* Smallest finite positive uncertainty of the stack; 0 when there is none. */
static double min_sigma(const float *s, size_t n) {
    double smin = 0.0;
    if (!s) return 0.0;
    for (size_t k = 0; k < n; k++) {
        double v = s[k];
        if (isfinite(v) && v > 0.0 && (smin == 0.0 || v < smin)) smin = v;
    }
    return smin;
}

/* median(v) and median(|v - M|)/0.6745 with the given convention; v is
 * copied into work (n floats). */
static void median_mad(const float *v, size_t n, int mode, float *work, double *m, double *mad) {
    memcpy(work, v, n * sizeof *work);
    double mm = mx_median_inplace(work, n, mode);
    for (size_t k = 0; k < n; k++) work[k] = (float)fabs((double)v[k] - mm);
    *m = mm;
    *mad = mx_median_inplace(work, n, mode) / MX_MAD_SCALE;
}

int mx_temporal_stats(const float *v, const float *s, size_t n, const mx_temporal_opts *o,
                      float *work, double *m, double *sigma) {
    double mm = NAN, sg = NAN;
    int ok = 0;
    if (n > 0) {
        median_mad(v, n, o->median_mode, work, &mm, &sg);
        double smin = min_sigma(s, n);
        if (smin > 0.0) {
            /* the scatter of a handful of values is unreliable: the
             * uncertainties bound it from below (000 l.7847-7852) */
            if (!(sg >= smin)) sg = smin;
            if ((long)n < (long)o->min_pix_num) sg = smin;
        } else if ((long)n < (long)o->min_pix_num) {
            sg = NAN;
        }
        ok = isfinite(sg) && sg > 0.0 && isfinite(mm);
    }
    if (m) *m = mm;
    if (sigma) *sigma = sg;
    return ok;
}

size_t mx_temporal_outliers(const float *v, const float *s, size_t n, const mx_temporal_opts *o,
                            float *work, float *out) {
    double mm, sg;
    size_t nf = 0;
    if (!mx_temporal_stats(v, s, n, o, work, &mm, &sg)) {
        for (size_t k = 0; k < n; k++) out[k] = 0.0f;
        return 0;
    }
    double lo = mm - o->bottom * sg, hi = mm + o->top * sg;
    for (size_t k = 0; k < n; k++) {
        double x = v[k];
        if (x < lo || x > hi) {
            out[k] = (float)((x - mm) / sg);
            nf++;
        } else {
            out[k] = 0.0f;
        }
    }
    return nf;
}

/* ---- box ---------------------------------------------------------------- */

int mx_box_outlier_pixel(const float *mv, const float *ms, size_t nmain, float *box, size_t nbox,
                         int bias, float *work, float *out, double *m, double *sigma,
                         int *fallback) {
    double mm = NAN, sg = NAN;
    int fb = 0, ok = 0;
    if (nmain > 0 && nbox > 0) {
        mm = mx_biased_median_inplace(box, nbox, bias);
        for (size_t j = 0; j < nbox; j++) work[j] = (float)fabs((double)box[j] - mm);
        sg = mx_biased_median_inplace(work, nbox, bias) / MX_MAD_SCALE;
        int inside = 0;
        for (size_t k = 0; k < nmain && !inside; k++) inside = fabs((double)mv[k] - mm) <= sg;
        if (!inside) {
            /* no main value agrees with the box statistics: the box is not
             * representative of this pixel (000 l.8092-8094) */
            fb = 1;
            median_mad(mv, nmain, MX_MEDIAN_UPPER, work, &mm, &sg);
            double smin = min_sigma(ms, nmain);
            if (smin > 0.0 && !(sg >= smin)) sg = smin;
        }
        if (!(isfinite(sg) && sg > 0.0)) sg = min_sigma(ms, nmain);
        ok = isfinite(mm) && sg > 0.0;
    }
    for (size_t k = 0; k < nmain; k++) out[k] = ok ? (float)(((double)mv[k] - mm) / sg) : 0.0f;
    if (m) *m = mm;
    if (sigma) *sigma = ok ? sg : NAN;
    if (fallback) *fallback = fb;
    return ok;
}

/* ---- dual --------------------------------------------------------------- */

size_t mx_dual_outlier_pixel(float *v, size_t n, int max_image, double max_frac) {
    size_t cover = 0, det = 0;
    for (size_t k = 0; k < n; k++) {
        if (isnan(v[k])) continue;
        cover++;
        if (v[k] > 0.0f) det++;
    }
    if (det == 0 || (long)det > (long)max_image) return 0;
    /* det/cover <= max_frac without the rounding of the quotient deciding
     * exact fractions (0.5 of 10 is 5 of 10) */
    if ((double)det > max_frac * (double)cover * (1.0 + 1e-12)) return 0;
    for (size_t k = 0; k < n; k++)
        if (v[k] > 0.0f) v[k] = -v[k];
    return det;
}

/* ---- coverage ----------------------------------------------------------- */

double mx_coverage_sum(const float *c, size_t n) {
    double s = 0.0;
    for (size_t k = 0; k < n; k++)
        if (c[k] > 0.0f && isfinite(c[k])) s += c[k];
    return s;
}

/* ---- RMask -------------------------------------------------------------- */

void mx_rmask_flags(const mx_rmask_opts *o, size_t n, const float *covg, const float *outlier,
                    const float *dual, const float *box_map, uint8_t *flags) {
    for (size_t k = 0; k < n; k++) {
        double c = covg ? covg[k] : 0.0;
        if (!(c == c)) c = 0.0;
        uint8_t f = 0;
        if (o->use_outlier && outlier && c >= o->min_coverage) {
            double v = outlier[k];
            /* a pixel that the dual maps confirm as a real source needs the
             * larger refine threshold (000 l.3393-3398, l.3468-3476) */
            double top = (o->refine && dual && dual[k] > 0.0f) ? o->refine_thresh : o->top;
            if (v < -o->bottom || v > top) f |= MX_RMASK_TEMPORAL;
        }
        if (o->use_dual && dual && dual[k] < 0.0f && c <= o->max_coverage) f |= MX_RMASK_DUAL;
        if (o->use_box && box_map && c >= o->box_min_coverage) {
            double v = box_map[k];
            if (v < -o->box_bottom || v > o->box_top) f |= MX_RMASK_BOX;
        }
        flags[k] = f;
    }
}

int mx_rmask_backproject(const mx_rmask_opts *o, const uint8_t *flags, const mx_box *box,
                         const mx_map *map, long nx, long ny, int32_t *rmask, long counts[4]) {
    int st = MX_OK;
    size_t nin = (size_t)nx * (size_t)ny, nb = (size_t)box->w * (size_t)box->h;
    uint8_t *one = NULL;
    float *frac = NULL;
    uint8_t any = 0;
    for (size_t k = 0; k < nb; k++) any |= flags[k];
    if (any) {
        one = malloc(nb ? nb : 1);
        frac = malloc(nin * sizeof *frac);
        if (!one || !frac) {
            st = mx_seterr(MX_ERR_NOMEM, "RMask back-projection of %ld x %ld pixels", nx, ny);
            goto exit;
        }
    }
    const double thresh = o->rm_thresh - 1e-5;
    for (int bit = 1; bit <= 3 && any; bit++) {
        uint8_t b = (uint8_t)(1u << bit);
        if (!(any & b)) continue;
        for (size_t k = 0; k < nb; k++) one[k] = flags[k] & b;
        if ((st = mx_backproject_flags(one, box, map, nx, ny, frac)) != MX_OK) goto exit;
        for (size_t i = 0; i < nin; i++)
            if (frac[i] > 0.0f && frac[i] >= thresh) rmask[i] |= b;
    }
    if (counts) {
        for (int bit = 0; bit < 4; bit++) counts[bit] = 0;
        for (size_t i = 0; i < nin; i++)
            for (int bit = 0; bit < 4; bit++) counts[bit] += (rmask[i] >> bit) & 1;
    }
exit:
    free(one);
    free(frac);
    return st;
}
