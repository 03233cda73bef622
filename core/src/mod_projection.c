/* mod_projection.c - Mosaic Projection at file level (mx_framemods.h): each
 * detection map onto its frame's box of the mosaic grid with
 * mx_project_labels, plus the list and offset table of the projected maps. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framemods_priv.h"

#define LABEL "projection"

typedef struct {
    const mx_projection_opts *o;
    const mx_fif *fif;
    const mx_wcs *fw;        /* the grid: read-only, each thread works on its own copy */
    mx_wcs **tw;
    const mx_header *base;   /* header with the grid's WCS (unshifted) */
    const mx_moving_ref *moving;
} pj_ctx;

/* The map as int32 labels: integer files as they are, float files whose
 * values are integers (NaN = 0, as an undetected pixel). *labels either
 * points into img or is a new array in *owned. */
static int map_labels(const mx_image *img, const char *path, const int32_t **labels,
                      int32_t **owned) {
    *owned = NULL;
    if (img->kind == MX_IMG_INT) {
        *labels = img->mask;
        return MX_OK;
    }
    size_t np = (size_t)img->nx * (size_t)img->ny;
    int32_t *l = malloc((np ? np : 1) * sizeof *l);
    if (!l) return mx_seterr(MX_ERR_NOMEM, "'%s': labels", path);
    for (size_t k = 0; k < np; k++) {
        float v = img->data[k];
        if (isnan(v)) {
            l[k] = 0;
            continue;
        }
        if (!(fabsf(v) < 2147483520.0f) || v != floorf(v)) {
            free(l);
            return mx_seterr(MX_ERR_FORMAT, "detection map '%s': pixel (%zu, %zu) = %g is not a "
                             "cluster number", path, k % (size_t)img->nx + 1,
                             k / (size_t)img->nx + 1, (double)v);
        }
        l[k] = (int32_t)v;
    }
    *labels = l;
    *owned = l;
    return MX_OK;
}

static int pj_frame(const fm_job *job, long i, int thread) {
    const pj_ctx *c = job->ctx;
    const char *mpath = job->in->images[i];
    const char *wpath = job->in->wcs_sources ? job->in->wcs_sources[i] : mpath;
    mx_fm_frame *fr = &job->res->frames[i];
    double t0 = fm_now();
    mx_image *dm = NULL, *out = NULL;
    int32_t *owned = NULL;
    mx_wcs *w = NULL;
    mx_pixmap *pm = NULL;
    char *opath = NULL;
    long nx, ny;
    int st;
    if (!c->tw[thread] && (st = mx_wcs_dup(c->fw, &c->tw[thread])) != MX_OK) goto exit;
    if ((st = mx_image_read_auto(mpath, &dm)) != MX_OK) goto exit;
    const int32_t *labels = NULL;
    if ((st = map_labels(dm, mpath, &labels, &owned)) != MX_OK) goto exit;
    if ((st = mx_frame_wcs_read(wpath, c->moving, &w, &nx, &ny, NULL)) != MX_OK) goto exit;
    if (nx != dm->nx || ny != dm->ny) {
        st = mx_seterr(MX_ERR_MISMATCH, "WCS source '%s' is %ld x %ld, detection map '%s' is %ld x %ld",
                       wpath, nx, ny, mpath, dm->nx, dm->ny);
        goto exit;
    }
    if ((st = mx_pixmap_new(w, c->tw[thread], MX_PIXMAP_AUTO, &pm)) != MX_OK) {
        st = mx_preferr(st, "'%s'", wpath);
        goto exit;
    }
    mx_map map = mx_pixmap_map(pm);
    mx_box box;
    if ((st = mx_map_footprint_box(&map, nx, ny, c->fif->naxis[0], c->fif->naxis[1], &box)) != MX_OK)
        goto exit;
    if (!(opath = fm_output_path(job, i, "proj_", ".fits"))) {
        st = MX_ERR_NOMEM;
        goto exit;
    }
    fr->box = box;
    if (box.w == 0 || box.h == 0) {
        mx_warn("projection: detection map '%s' does not overlap the mosaic grid '%s'; nothing "
                "written", mpath, c->o->fif_path);
        if (remove(opath) != 0 && errno != ENOENT) {
            st = mx_seterr(MX_ERR_IO, "cannot remove the stale '%s': %s", opath, strerror(errno));
            goto exit;
        }
        fm_frame_done(LABEL, mpath, fr, t0);
        goto exit;
    }
    if ((st = mx_image_new(box.w, box.h, MX_IMG_FLOAT, -32, 0.0f, &out)) != MX_OK) goto exit;
    if ((st = mx_project_labels(labels, nx, ny, &map, &box, out->data)) != MX_OK) {
        st = mx_preferr(st, "projecting '%s'", mpath);
        goto exit;
    }
    if ((st = fm_copy_header(out, c->base, mpath)) != MX_OK) goto exit;
    mx_header *h = out->hdr;
    st = mx_header_set_double(h, "CRPIX1", c->fif->crpix[0] - (double)box.x0, NULL);
    if (st == MX_OK) st = mx_header_set_double(h, "CRPIX2", c->fif->crpix[1] - (double)box.y0, NULL);
    if (st == MX_OK)
        st = mx_header_set_long(h, "MINTOFFX", box.x0, "x offset in the mosaic grid (0-based)");
    if (st == MX_OK)
        st = mx_header_set_long(h, "MINTOFFY", box.y0, "y offset in the mosaic grid (0-based)");
    char buf[1200];
    snprintf(buf, sizeof buf, "Mosaic Projection of %s (WCS from %s)", mpath, wpath);
    if (st == MX_OK) st = mx_header_add_history(h, buf);
    if (st != MX_OK) goto exit;
    if ((st = fm_write_frame(job, i, out, &opath)) != MX_OK) goto exit;
    fm_frame_done(LABEL, mpath, fr, t0);
exit:
    free(opath);
    mx_pixmap_free(pm);
    mx_wcs_free(w);
    free(owned);
    mx_image_free(out);
    mx_image_free(dm);
    return st;
}

static int write_table(const mx_fm_result *r, const char *out_dir, char **path_out) {
    mx_table *t = NULL;
    char *path = NULL;
    int st = mx_offsets_table_new("image_id", "mosaic_proj", "pixels", &t);
    for (int i = 0; i < r->n && st == MX_OK; i++) {
        const mx_fm_frame *f = &r->frames[i];
        if (f->output)
            st = mx_offsets_table_add(t, i + 1, f->output, f->box.x0, f->box.y0, f->box.w, f->box.h);
    }
    if (st == MX_OK && !(path = fm_join(out_dir, "interp_detmap_ImageList.txt.tbl"))) st = MX_ERR_NOMEM;
    if (st == MX_OK) st = mx_table_write_ipac(t, path);
    mx_table_free(t);
    if (st == MX_OK)
        *path_out = path;
    else
        free(path);
    return st;
}

int mx_project_detmaps(const mx_fm_inputs *in, const mx_projection_opts *o, mx_fm_result **out) {
    mx_fm_result *res = NULL;
    mx_wcs *fw = NULL;
    mx_wcs **tw = NULL;
    mx_header *base = NULL;
    mx_fif fif;
    mx_moving_ref moving;
    int nt = mx_threads();
    int st;
    if (out) *out = NULL;
    if (!o || !o->fif_path) return mx_seterr(MX_ERR_PARAM, "projection: no mosaic grid (FIF table)");
    if ((st = fm_check_inputs(in, o->out_dir, LABEL)) != MX_OK) return st;
    const char *const *wsrc = in->wcs_sources ? in->wcs_sources : in->images;
    if ((st = mx_moving_ref_read(in->n, wsrc, o->moving_object, &moving)) != MX_OK) return st;
    if ((st = mx_fif_read(o->fif_path, &fif)) != MX_OK) return st;
    if ((st = mx_fif_wcs(&fif, &fw)) != MX_OK) return st;
    if (!(base = mx_header_new())) {
        st = mx_seterr(MX_ERR_NOMEM, "projection header");
        goto exit;
    }
    if ((st = mx_wcs_to_header(fw, base)) != MX_OK) goto exit;
    if (!(tw = calloc((size_t)nt, sizeof *tw))) {
        st = mx_seterr(MX_ERR_NOMEM, "projection: %d grid copies", nt);
        goto exit;
    }
    pj_ctx ctx = {o, &fif, fw, tw, base, &moving};
    /* fm_run_frames hands items to at most mx_threads() threads: the
     * per-thread grid copies above cover every thread index. The list
     * waits for the check that something was written. */
    if ((st = fm_run_module(in, o->out_dir, LABEL, NULL, pj_frame, &ctx, NULL, &res)) != MX_OK)
        goto exit;
    int nw = 0;
    for (int i = 0; i < in->n; i++) nw += res->frames[i].output != NULL;
    if (nw == 0) {
        st = mx_seterr(MX_ERR_PARAM, "projection: none of the %d detection maps overlaps the mosaic "
                       "grid '%s' (%ld x %ld pixels around %.6f, %.6f)", in->n, o->fif_path,
                       fif.naxis[0], fif.naxis[1], fif.crval[0], fif.crval[1]);
        goto exit;
    }
    if ((st = fm_write_list(res, o->out_dir, "interp_detmap_ImageList.txt")) != MX_OK) goto exit;
    st = write_table(res, o->out_dir, &res->table);
exit:
    if (tw)
        for (int t = 0; t < nt; t++) mx_wcs_free(tw[t]);
    free(tw);
    mx_wcs_free(fw);
    mx_header_free(base);
    if (st == MX_OK && out)
        *out = res;
    else
        mx_fm_result_free(res);
    return st;
}
