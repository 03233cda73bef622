/* mod_detect.c - Detect / Detect (Outlier) and Detect Radhit at file level
 * (mx_framemods.h): segmentation of background-subtracted frames into
 * detection maps, and single-frame radhits into new DCE masks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framemods_priv.h"

/* ---- Detect ----------------------------------------------------------------- */

static long count_finite(const float *v, size_t n) {
    long k = 0;
    for (size_t i = 0; i < n; i++) k += isfinite(v[i]) != 0;
    return k;
}

static int det_frame(const fm_job *job, long i, int thread) {
    (void)thread;
    const mx_detect_files_opts *o = job->ctx;
    const char *path = job->in->images[i];
    mx_fm_frame *fr = &job->res->frames[i];
    double t0 = fm_now();
    mx_image *img = NULL, *map = NULL;
    mx_detect_result dr;
    memset(&dr, 0, sizeof dr);
    int st;
    if ((st = mx_image_read(path, &img)) != MX_OK) goto exit;
    size_t np = (size_t)img->nx * (size_t)img->ny;
    if ((st = mx_image_new(img->nx, img->ny, MX_IMG_INT, 32, 0.0f, &map)) != MX_OK) goto exit;
    if ((st = fm_copy_header(map, img->hdr, path)) != MX_OK) goto exit;
    mx_header_delete(map->hdr, "BUNIT");
    if (count_finite(img->data, np) == 0) {
        /* a frame that is all NaN (fully masked) has nothing to detect; the
         * flow goes on with an empty map */
        mx_warn("detect: '%s' has no finite pixel; its detection map is empty", path);
        fr->mean = fr->sigma = fr->threshold = NAN;
    } else {
        if ((st = mx_detect(img->data, NULL, NULL, NULL, NULL, img->nx, img->ny, &o->detect,
                            &dr, map->mask, NULL, NULL)) != MX_OK) {
            st = mx_preferr(st, "Detect of '%s'", path);
            goto exit;
        }
        fr->n_clusters = dr.n;
        for (long k = 0; k < dr.n; k++) fr->n_pixels += dr.det[k].npix;
        fr->mean = dr.mean;
        fr->sigma = dr.sigma;
        fr->threshold = dr.threshold;
    }
    mx_header *h = map->hdr;
    st = mx_header_set_long(h, "NDETECT", fr->n_clusters, "detections (cluster numbers 1..NDETECT)");
    if (st == MX_OK && isfinite(fr->threshold)) {
        st = mx_header_set_double(h, "DETTHRSH", fr->threshold, "initial threshold T = M + D s");
        if (st == MX_OK) st = mx_header_set_double(h, "DETMEAN", fr->mean, "M: clipped mean");
        if (st == MX_OK) st = mx_header_set_double(h, "DETSIGMA", fr->sigma, "s: clipped std");
    }
    char buf[1200];
    snprintf(buf, sizeof buf, "Detect map of %s", path);
    if (st == MX_OK) st = mx_header_add_history(h, buf);
    if (st != MX_OK) goto exit;
    if ((st = fm_write_output(job, i, map, "", "_detmap.fits")) != MX_OK) goto exit;
    fm_frame_done(job->label, path, fr, t0);
exit:
    mx_detect_result_free(&dr);
    mx_image_free(map);
    mx_image_free(img);
    return st;
}

int mx_detect_files(const mx_fm_inputs *in, const mx_detect_files_opts *o, mx_fm_result **out) {
    int st;
    if (out) *out = NULL;
    if (!o) return mx_seterr(MX_ERR_PARAM, "detect: no options");
    if ((st = fm_check_inputs(in, o->out_dir, "detect")) != MX_OK) return st;
    return fm_run_module(in, o->out_dir, "detect", "_minback", det_frame, o, "detmap_ImageList.txt",
                         out);
}

/* ---- Detect Radhit ---------------------------------------------------------- */

/* Does [lo, hi] fit an integer FITS type of this BITPIX (signed or the
 * unsigned variant the writer chooses by itself)? */
static int fits_bitpix(int bitpix, int32_t lo, int32_t hi) {
    switch (bitpix) {
    case 8: return (lo >= 0 && hi <= 255) || (lo >= -128 && hi <= 127);
    case 16: return (lo >= -32768 && hi <= 32767) || (lo >= 0 && hi <= 65535);
    default: return 1;
    }
}

static int rh_frame(const fm_job *job, long i, int thread) {
    (void)thread;
    const mx_radhit_files_opts *o = job->ctx;
    const char *path = job->in->images[i];
    const char *mpath = job->in->dce_masks ? job->in->dce_masks[i] : NULL;
    mx_fm_frame *fr = &job->res->frames[i];
    double t0 = fm_now();
    mx_image *img = NULL, *mask = NULL;
    mx_radhit_result rr;
    memset(&rr, 0, sizeof rr);
    int st;
    const int bit = o->radhit.bit;
    if ((st = mx_image_read(path, &img)) != MX_OK) goto exit;
    size_t np = (size_t)img->nx * (size_t)img->ny;
    if (mpath) {
        if ((st = fm_read_mask_sized(mpath, "DCE mask", path, img->nx, img->ny, &mask)) != MX_OK)
            goto exit;
    } else {
        if ((st = mx_image_new(img->nx, img->ny, MX_IMG_INT, bit <= 14 ? 16 : 32, 0.0f, &mask)) != MX_OK)
            goto exit;
        if ((st = fm_copy_header(mask, img->hdr, path)) != MX_OK) goto exit;
        mx_header_delete(mask->hdr, "BUNIT");
    }
    if (count_finite(img->data, np) == 0) {
        mx_warn("detect_radhit: '%s' has no finite pixel; its mask is copied unchanged", path);
        fr->mean = fr->sigma = fr->threshold = NAN;
    } else {
        if ((st = mx_detect_radhit(img->data, NULL, img->nx, img->ny, &o->radhit, mask->mask, NULL,
                                   0, &rr)) != MX_OK) {
            st = mx_preferr(st, "Detect Radhit of '%s'", path);
            goto exit;
        }
        fr->n_clusters = rr.n_radhits;
        fr->n_pixels = rr.n_pixels;
        fr->mean = rr.mean;
        fr->sigma = rr.sigma;
        fr->threshold = rr.mean + o->radhit.seg_threshold * rr.sigma;
    }
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (size_t k = 0; k < np; k++) {
        lo = mask->mask[k] < lo ? mask->mask[k] : lo;
        hi = mask->mask[k] > hi ? mask->mask[k] : hi;
    }
    if (!fits_bitpix(mask->bitpix, lo, hi)) {
        int nb = fits_bitpix(16, lo, hi) ? 16 : 32;
        mx_warn("detect_radhit: DCE mask '%s' has BITPIX %d; bit %d needs BITPIX %d: widened",
                mpath ? mpath : path, mask->bitpix, bit, nb);
        mask->bitpix = nb;
    }
    mx_header *h = mask->hdr;
    st = mx_header_set_long(h, "NRADHIT", fr->n_pixels, "pixels flagged as radhits by Detect Radhit");
    if (st == MX_OK) st = mx_header_set_long(h, "RADHBIT", bit, "mask bit set on radhit pixels");
    char buf[1200];
    snprintf(buf, sizeof buf, "Detect Radhit: bit %d set on %ld pixels (%ld clusters) found in %s",
             bit, fr->n_pixels, fr->n_clusters, path);
    if (st == MX_OK) st = mx_header_add_history(h, buf);
    if (st != MX_OK) goto exit;
    if ((st = fm_write_output(job, i, mask, "", "_dmask.fits")) != MX_OK) goto exit;
    fm_frame_done(job->label, path, fr, t0);
exit:
    mx_radhit_result_free(&rr);
    mx_image_free(mask);
    mx_image_free(img);
    return st;
}

int mx_radhit_files(const mx_fm_inputs *in, const mx_radhit_files_opts *o, mx_fm_result **out) {
    int st;
    if (out) *out = NULL;
    if (!o) return mx_seterr(MX_ERR_PARAM, "detect_radhit: no options");
    if (o->radhit.bit < 0 || o->radhit.bit > 30)
        return mx_seterr(MX_ERR_PARAM, "detect_radhit: radhit bit %d must be 0..30", o->radhit.bit);
    if ((st = fm_check_inputs(in, o->out_dir, "detect_radhit")) != MX_OK) return st;
    return fm_run_module(in, o->out_dir, "detect_radhit", "_minback", rh_frame, o,
                         "dmask_ImageList.txt", out);
}
