/* mod_level.c - Level (mx_framemods.h): cluster-wise sign cleaning of the
 * dual outlier maps, in memory (mx_level_map) and at file level. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framemods_priv.h"

/* Largest cluster number accepted: float maps hold integers exactly up to
 * 2^24, and the per-cluster counters are indexed by it. */
#define LEVEL_MAX_LABEL 16777216.0f

/* The sign a cluster of n pixels, nneg of them negative, ends with: +1 all
 * positive, -1 all negative, 0 unchanged. The two tests run in sequence
 * (algorithms.md 2.3(d), Eq 8.2 then 8.3 on the counts after the first);
 * mosaic.md 5.6.13 reads them on the counts before any flip, which differs
 * only for ratios above 0.5 - this is the one place to change. */
static int level_cluster(long n, long nneg, double ratio) {
    int sign = 0;
    long npos = n - nneg;
    if ((double)nneg / (double)n < ratio) {
        sign = 1;
        npos = n;
    }
    if ((double)npos / (double)n < ratio) sign = -1;
    return sign;
}

int mx_level_map(float *map, long nx, long ny, double ratio, const char *source, long *nclusters,
                 long *nchanged) {
    if (!map || nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "level: no map or size %ld x %ld", nx, ny);
    if (!(ratio >= 0.0) || !isfinite(ratio))
        return mx_seterr(MX_ERR_PARAM, "level: THRESHOLD_RATIO = %g must be >= 0", ratio);
    const char *src = source ? source : "map";
    size_t np = (size_t)nx * (size_t)ny;
    long maxc = 0;
    for (size_t k = 0; k < np; k++) {
        float v = map[k];
        if (isnan(v) || v == 0.0f) continue;
        float a = fabsf(v);
        if (!(a < LEVEL_MAX_LABEL) || a != floorf(a))
            return mx_seterr(MX_ERR_FORMAT, "level: '%s' pixel (%zu, %zu) = %g is not a cluster "
                             "number (integers below 2^24, NaN or 0)", src,
                             k % (size_t)nx + 1, k / (size_t)nx + 1, (double)v);
        if ((long)a > maxc) maxc = (long)a;
    }
    long ncl = 0, nch = 0;
    if (maxc > 0) {
        /* per-cluster counters indexed by the cluster number (algorithms.md
         * 2.3: integer passes); 32 bits hold any map's pixel count */
        uint32_t *cnt = calloc(2 * ((size_t)maxc + 1), sizeof *cnt);
        signed char *sign = calloc((size_t)maxc + 1, 1);
        if (!cnt || !sign) {
            free(cnt);
            free(sign);
            return mx_seterr(MX_ERR_NOMEM, "level: counters of %ld clusters in '%s'", maxc, src);
        }
        uint32_t *all = cnt, *neg = cnt + maxc + 1;
        for (size_t k = 0; k < np; k++) {
            float v = map[k];
            if (isnan(v) || v == 0.0f) continue;
            long c = (long)fabsf(v);
            all[c]++;
            neg[c] += (uint32_t)(v < 0.0f);
        }
        for (long c = 1; c <= maxc; c++) {
            if (all[c] == 0) continue;
            ncl++;
            sign[c] = (signed char)level_cluster((long)all[c], (long)neg[c], ratio);
        }
        for (size_t k = 0; k < np; k++) {
            float v = map[k];
            if (isnan(v) || v == 0.0f) continue;
            int s = sign[(long)fabsf(v)];
            if ((s > 0 && v < 0.0f) || (s < 0 && v > 0.0f)) {
                map[k] = -v;
                nch++;
            }
        }
        free(cnt);
        free(sign);
    }
    if (nclusters) *nclusters = ncl;
    if (nchanged) *nchanged = nch;
    return MX_OK;
}

static int lv_frame(const fm_job *job, long i, int thread) {
    (void)thread;
    const mx_level_opts *o = job->ctx;
    const char *path = job->in->images[i];
    mx_fm_frame *fr = &job->res->frames[i];
    double t0 = fm_now();
    mx_image *img = NULL;
    int st;
    if ((st = mx_image_read(path, &img)) != MX_OK) goto exit;
    if ((st = mx_level_map(img->data, img->nx, img->ny, o->threshold_ratio, path, &fr->n_clusters,
                           &fr->n_pixels)) != MX_OK)
        goto exit;
    st = mx_header_set_double(img->hdr, "THRRATIO", o->threshold_ratio, "Level THRESHOLD_RATIO");
    char buf[1200];
    snprintf(buf, sizeof buf, "Level: %ld clusters, %ld pixels changed sign", fr->n_clusters,
             fr->n_pixels);
    if (st == MX_OK) st = mx_header_add_history(img->hdr, buf);
    if (st != MX_OK) goto exit;
    img->bitpix = -32;
    if ((st = fm_write_output(job, i, img, "", "_level.fits")) != MX_OK) goto exit;
    fm_frame_done(job->label, path, fr, t0);
exit:
    mx_image_free(img);
    return st;
}

int mx_level_files(const mx_fm_inputs *in, const mx_level_opts *o, mx_fm_result **out) {
    int st;
    if (out) *out = NULL;
    if (!o) return mx_seterr(MX_ERR_PARAM, "level: no options");
    if (!(o->threshold_ratio >= 0.0) || !isfinite(o->threshold_ratio))
        return mx_seterr(MX_ERR_PARAM, "level: THRESHOLD_RATIO = %g must be >= 0", o->threshold_ratio);
    if ((st = fm_check_inputs(in, o->out_dir, "level")) != MX_OK) return st;
    return fm_run_module(in, o->out_dir, "level", NULL, lv_frame, o, "level_ImageList.txt", out);
}
