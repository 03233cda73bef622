/* mod_arraycorr.c - Make Array Correction Files (mx_framemods.h): one
 * correction frame per BCD, with the BCD's header and WCS. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framemods_priv.h"

void mx_array_corr_values(const float *corr, const float *pixarea, size_t n, float *out) {
    /* Open question (mosaic.md 5.6.23): how the pixel-area image enters is
     * documented only in README_arraycorr, which we do not have. Until it
     * is known the correction is the array-location image as it is. */
    (void)pixarea;
    memcpy(out, corr, n * sizeof *out);
}

typedef struct {
    const mx_array_corr_opts *o;
    const mx_image *corr, *pixarea;
} ac_ctx;

static int check_size(const mx_image *aux, const char *role, const char *aux_path, const char *bcd,
                      long nx, long ny) {
    if (aux->nx == nx && aux->ny == ny) return MX_OK;
    return mx_seterr(MX_ERR_MISMATCH, "%s '%s' is %ld x %ld, image '%s' is %ld x %ld", role, aux_path,
                     aux->nx, aux->ny, bcd, nx, ny);
}


/* A file named in a keyword: its name (a string value holds 68 characters,
 * a full path often more: the last 68 of a longer name, after "..."), the
 * whole path in a HISTORY card. */
static int file_key(mx_header *h, const char *key, const char *path, const char *comment) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char v[69];
    size_t n = strlen(base);
    if (n > 68) snprintf(v, sizeof v, "...%s", base + n - 65);
    else snprintf(v, sizeof v, "%s", base);
    for (char *p = v; *p; p++) /* quotes would double; other characters FITS refuses */
        if (*p == '\'' || (unsigned char)*p < 32 || (unsigned char)*p > 126) *p = '_';
    int st = mx_header_set_string(h, key, v, comment);
    char hist[1200];
    snprintf(hist, sizeof hist, "%s = %s", key, path);
    if (st == MX_OK) st = mx_header_add_history(h, hist);
    return st;
}

static int ac_frame(const fm_job *job, long i, int thread) {
    (void)thread;
    const ac_ctx *c = job->ctx;
    const char *path = job->in->images[i];
    mx_fm_frame *fr = &job->res->frames[i];
    double t0 = fm_now();
    mx_header *hdr = NULL;
    mx_image *out = NULL;
    long nx, ny;
    int st;
    if ((st = mx_fits_read_header(path, &hdr, &nx, &ny, NULL)) != MX_OK) goto exit;
    if ((st = check_size(c->corr, "ARRAY_CORR_IMAGE", c->o->corr_image, path, nx, ny)) != MX_OK) goto exit;
    if (c->pixarea &&
        (st = check_size(c->pixarea, "ARRAY_PIXAREA_IMAGE", c->o->pixarea_image, path, nx, ny)) != MX_OK)
        goto exit;
    if ((st = mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &out)) != MX_OK) goto exit;
    mx_array_corr_values(c->corr->data, c->pixarea ? c->pixarea->data : NULL,
                         (size_t)nx * (size_t)ny, out->data);
    mx_header_free(out->hdr);
    out->hdr = hdr;
    hdr = NULL;
    char buf[1200];
    st = file_key(out->hdr, "ARRCORR", c->o->corr_image, "array-location correction image");
    if (st == MX_OK && c->pixarea) st = file_key(out->hdr, "PIXAREA", c->o->pixarea_image, "pixel-area image");
    snprintf(buf, sizeof buf, "Array correction frame of %s", path);
    if (st == MX_OK) st = mx_header_add_history(out->hdr, buf);
    if (st != MX_OK) goto exit;
    if ((st = fm_write_output(job, i, out, "corr_", ".fits")) != MX_OK) goto exit;
    fm_frame_done(job->label, path, fr, t0);
exit:
    mx_image_free(out);
    mx_header_free(hdr);
    return st;
}

int mx_array_corr_files(const mx_fm_inputs *in, const mx_array_corr_opts *o, mx_fm_result **out) {
    mx_image *corr = NULL, *pixarea = NULL;
    int st;
    if (out) *out = NULL;
    if (!o || !o->corr_image || !*o->corr_image)
        return mx_seterr(MX_ERR_PARAM, "array_corr_files: ARRAY_CORR_IMAGE is not set");
    if ((st = fm_check_inputs(in, o->out_dir, "array_corr_files")) != MX_OK) return st;
    if ((st = mx_image_read(o->corr_image, &corr)) != MX_OK) goto exit;
    if (o->pixarea_image && *o->pixarea_image) {
        if ((st = mx_image_read(o->pixarea_image, &pixarea)) != MX_OK) goto exit;
        if (pixarea->nx != corr->nx || pixarea->ny != corr->ny) {
            st = mx_seterr(MX_ERR_MISMATCH, "ARRAY_PIXAREA_IMAGE '%s' is %ld x %ld, ARRAY_CORR_IMAGE "
                           "'%s' is %ld x %ld", o->pixarea_image, pixarea->nx, pixarea->ny,
                           o->corr_image, corr->nx, corr->ny);
            goto exit;
        }
    }
    ac_ctx ctx = {o, corr, pixarea};
    st = fm_run_module(in, o->out_dir, "array_corr_files", NULL, ac_frame, &ctx, "corr_ImageList.txt",
                       out);
exit:
    mx_image_free(corr);
    mx_image_free(pixarea);
    return st;
}
