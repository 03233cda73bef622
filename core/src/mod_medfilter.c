/* mod_medfilter.c - MedFilter at file level (mx_framemods.h): read each
 * frame and its masks, mx_medfilter, write <b>_minback.fits and the list. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framemods_priv.h"

#define LABEL "medfilter"

typedef struct {
    const mx_medfilter_files_opts *o;
    const mx_image *pmask;
} mf_ctx;

static int add_history(mx_header *h, const mx_medfilter_files_opts *o, const char *input) {
    char buf[400];
    const mx_medfilter_opts *f = &o->filter;
    if (f->use_sbkg)
        snprintf(buf, sizeof buf, "MedFilter: Sbkg panels %d x %d, panel filter %d, %s "
                 "interpolation, Min_Good_Pixels_In_Window %d", f->window_x, f->window_y,
                 f->sbkg_filter_size, f->sbkg_interp == MX_SBKG_BILINEAR ? "bilinear" : "spline",
                 f->min_good);
    else
        snprintf(buf, sizeof buf, "MedFilter: running %s median, window %d x %d, "
                 "N_Outliers_Per_Window %d, Min_Good_Pixels_In_Window %d, "
                 "Min_GoodNeighbors_Number %d", f->median_average ? "averaging" : "upper",
                 f->window_x, f->window_y, f->n_outliers, f->min_good, f->min_good_neighbors);
    int st = mx_header_add_history(h, buf);
    snprintf(buf, sizeof buf, "MedFilter input: %s", input);
    if (st == MX_OK) st = mx_header_add_history(h, buf);
    return st;
}

static int mf_frame(const fm_job *job, long i, int thread) {
    (void)thread;
    const mf_ctx *c = job->ctx;
    const mx_fm_inputs *in = job->in;
    const char *path = in->images[i];
    mx_fm_frame *fr = &job->res->frames[i];
    double t0 = fm_now();
    mx_image *img = NULL, *dce = NULL, *outimg = NULL;
    uint8_t *bad = NULL;
    int st;
    if ((st = mx_image_read(path, &img)) != MX_OK) goto exit;
    size_t np = (size_t)img->nx * (size_t)img->ny;
    if (in->dce_masks &&
        (st = fm_read_mask_sized(in->dce_masks[i], "DCE mask", path, img->nx, img->ny, &dce)) != MX_OK)
        goto exit;
    if (c->pmask && (c->pmask->nx != img->nx || c->pmask->ny != img->ny)) {
        st = mx_seterr(MX_ERR_MISMATCH, "PMask '%s' is %ld x %ld, image '%s' is %ld x %ld",
                       in->pmask, c->pmask->nx, c->pmask->ny, path, img->nx, img->ny);
        goto exit;
    }
    if (dce || c->pmask) {
        if (!(bad = malloc(np))) {
            st = mx_seterr(MX_ERR_NOMEM, "'%s': bad-pixel map", path);
            goto exit;
        }
        uint32_t df = c->o->dce_fatal, pf = c->o->pmask_fatal;
        for (size_t k = 0; k < np; k++)
            bad[k] = (uint8_t)((dce && mx_mask_is_fatal(dce->mask[k], df)) ||
                               (c->pmask && mx_mask_is_fatal(c->pmask->mask[k], pf)));
    }
    /* the output keeps the input's header card for card */
    if ((st = mx_image_new(img->nx, img->ny, MX_IMG_FLOAT, -32, 0.0f, &outimg)) != MX_OK) goto exit;
    if ((st = fm_copy_header(outimg, img->hdr, path)) != MX_OK) goto exit;
    long n_nan = 0;
    if ((st = mx_medfilter(img->data, bad, img->nx, img->ny, &c->o->filter, outimg->data, NULL,
                           &n_nan)) != MX_OK) {
        st = mx_preferr(st, "MedFilter of '%s'", path);
        goto exit;
    }
    if ((st = add_history(outimg->hdr, c->o, path)) != MX_OK) goto exit;
    if ((st = fm_write_output(job, i, outimg, "", "_minback.fits")) != MX_OK) goto exit;
    if (c->o->max_bad_pixels >= 0 && n_nan > c->o->max_bad_pixels)
        mx_warn("medfilter: '%s' has %ld NaN pixels, more than Max_Bad_Pixels_OutputImage = %ld",
                fr->output, n_nan, c->o->max_bad_pixels);
    fr->n_nan = n_nan;
    fm_frame_done(job->label, path, fr, t0);
exit:
    free(bad);
    mx_image_free(outimg);
    mx_image_free(dce);
    mx_image_free(img);
    return st;
}

int mx_medfilter_files(const mx_fm_inputs *in, const mx_medfilter_files_opts *o,
                       mx_fm_result **out) {
    mx_image *pmask = NULL;
    int st;
    if (out) *out = NULL;
    if (!o) return mx_seterr(MX_ERR_PARAM, "medfilter: no options");
    if ((st = fm_check_inputs(in, o->out_dir, LABEL)) != MX_OK) return st;
    const mx_medfilter_opts *f = &o->filter;
    if (f->window_x < 1 || f->window_y < 1)
        return mx_seterr(MX_ERR_PARAM, "medfilter: Window_X = %d, Window_Y = %d: must be >= 1",
                         f->window_x, f->window_y);
    /* formats.md 2: a mask whose fatal pattern is 0 rejects nothing; say so */
    if (in->dce_masks && o->dce_fatal == 0)
        mx_warn("medfilter: DCE masks supplied but DCE_Status_Mask_Fatal_BitPattern is 0: the "
                "masks have no effect");
    if (in->pmask && o->pmask_fatal == 0)
        mx_warn("medfilter: PMask '%s' supplied but PMask_Fatal_BitPattern is 0: it has no effect",
                in->pmask);
    if (in->pmask && (st = mx_mask_read(in->pmask, &pmask)) != MX_OK) return st;
    mf_ctx ctx = {o, pmask};
    st = fm_run_module(in, o->out_dir, LABEL, NULL, mf_frame, &ctx, "medfilter_ImageList.txt", out);
    mx_image_free(pmask);
    return st;
}
