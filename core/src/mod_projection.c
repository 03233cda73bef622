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
    const mx_fm_inputs *in;
    const mx_projection_opts *o;
    const mx_fif *fif;
    const mx_wcs *fw;        /* the grid: read-only, each thread works on its own copy */
    mx_wcs **tw;
    const mx_header *base;   /* header with the grid's WCS (unshifted) */
    const mx_moving_ref *moving;
    char **names;
    mx_fm_result *res;
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

static int pj_frame(long i, void *vctx, int thread) {
    pj_ctx *c = vctx;
    const char *mpath = c->in->images[i];
    const char *wpath = c->in->wcs_sources ? c->in->wcs_sources[i] : mpath;
    mx_fm_frame *fr = &c->res->frames[i];
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
    char buf[1200];
    snprintf(buf, sizeof buf, "proj_%s.fits", c->names[i]);
    if (!(opath = fm_join(c->o->out_dir, buf))) {
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
    mx_header_free(out->hdr);
    if (!(out->hdr = mx_header_dup(c->base))) {
        st = mx_seterr(MX_ERR_NOMEM, "'%s': header", mpath);
        goto exit;
    }
    mx_header *h = out->hdr;
    st = mx_header_set_double(h, "CRPIX1", c->fif->crpix[0] - (double)box.x0, NULL);
    if (st == MX_OK) st = mx_header_set_double(h, "CRPIX2", c->fif->crpix[1] - (double)box.y0, NULL);
    if (st == MX_OK)
        st = mx_header_set_long(h, "MINTOFFX", box.x0, "x offset in the mosaic grid (0-based)");
    if (st == MX_OK)
        st = mx_header_set_long(h, "MINTOFFY", box.y0, "y offset in the mosaic grid (0-based)");
    snprintf(buf, sizeof buf, "Mosaic Projection of %s (WCS from %s)", mpath, wpath);
    if (st == MX_OK) st = mx_header_add_history(h, buf);
    if (st != MX_OK) goto exit;
    if ((st = mx_image_write(out, opath)) != MX_OK) goto exit;
    fr->output = opath;
    opath = NULL;
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
    int st;
    mx_table *t = mx_table_new();
    char *path = NULL;
    if (!t) return mx_seterr(MX_ERR_NOMEM, "projection table");
    char buf[160];
    snprintf(buf, sizeof buf, "Output from mosaic_proj, mopexlua %s", mx_version());
    st = mx_table_set_keyword(t, "comment", buf, 'c');
    static const char *const names[6] = {"image_id", "fname", "xoff", "yoff", "naxis1", "naxis2"};
    for (int k = 0; k < 6 && st == MX_OK; k++)
        st = mx_table_add_column(t, names[k], k == 1 ? MX_COL_STRING : MX_COL_INT,
                                 k >= 2 ? "pixels" : NULL, NULL);
    if (st == MX_OK) st = mx_table_set_nrows(t, r->nwritten);
    for (int i = 0, row = 0; i < r->n && st == MX_OK; i++) {
        const mx_fm_frame *f = &r->frames[i];
        if (!f->output) continue;
        st = mx_table_set_int(t, 0, row, i + 1);
        if (st == MX_OK) st = mx_table_set_string(t, 1, row, f->output);
        if (st == MX_OK) st = mx_table_set_int(t, 2, row, f->box.x0);
        if (st == MX_OK) st = mx_table_set_int(t, 3, row, f->box.y0);
        if (st == MX_OK) st = mx_table_set_int(t, 4, row, f->box.w);
        if (st == MX_OK) st = mx_table_set_int(t, 5, row, f->box.h);
        row++;
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
    char **names = NULL;
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
    if ((st = fm_names(in->n, in->images, NULL, &names)) != MX_OK) goto exit;
    if ((st = fm_result_new(in->n, &res)) != MX_OK) goto exit;
    pj_ctx ctx = {in, o, &fif, fw, tw, base, &moving, names, res};
    /* fm_run_frames hands items to at most mx_threads() threads: the
     * per-thread grid copies above cover every thread index */
    if ((st = fm_run_frames(in->n, pj_frame, &ctx, LABEL)) != MX_OK) goto exit;
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
    fm_free_names(in->n, names);
    if (st == MX_OK && out)
        *out = res;
    else
        mx_fm_result_free(res);
    return st;
}
