/* rmask.c - Mosaic RMask and Create RMask Mosaic (mx_outlier.h). Per input
 * frame: the grid pixels flagged by the temporal, dual and box maps are
 * back-projected onto the frame's own pixels (exact overlap areas,
 * mx_backproject_flags) and combined with the Detect Radhit pixels into
 * one integer mask. */
#include "mopex/mopex.h"
#include "mopex/mx_outlier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAP_OUTLIER = 0, MAP_DUAL = 1, MAP_BOX = 2, NMAPS = 3 };

void mx_rmask_result_free(mx_rmask_result *r) {
    if (!r) return;
    if (r->rmasks)
        for (int i = 0; i < r->n; i++) free(r->rmasks[i]);
    free(r->rmasks);
    free(r->list);
    free(r);
}

/* ---- matching maps to frames by name -------------------------------------- */

typedef struct named {
    char *base;  /* base name without directory and .fits */
    int index;   /* position in its list */
} named;

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const named *)a)->base, ((const named *)b)->base);
}

static void named_free(named *v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i].base);
    free(v);
}

static int named_build(int n, const char *const *paths, named **out) {
    named *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    if (!v) return mx_seterr(MX_ERR_NOMEM, "map names");
    for (int i = 0; i < n; i++) {
        char buf[4096];
        mx_path_basename_noext(paths[i], buf, sizeof buf);
        size_t len = strlen(buf) + 1;
        if (!(v[i].base = malloc(len))) {
            named_free(v, n);
            return mx_seterr(MX_ERR_NOMEM, "map names");
        }
        memcpy(v[i].base, buf, len);
        v[i].index = i;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_named);
    *out = v;
    return MX_OK;
}

static int named_find(const named *v, int n, const char *base) {
    named key = {(char *)base, 0};
    const named *f = n > 0 ? bsearch(&key, v, (size_t)n, sizeof *v, cmp_named) : NULL;
    return f ? f->index : -1;
}

/* ---- per frame ---------------------------------------------------------------- */

typedef struct rm_ctx {
    const mx_rmask_inputs *in;
    const mx_rmask_opts *o;
    char **names;             /* <b> per frame */
    int *map_of[NMAPS];       /* index into the map list per frame, -1 none */
    const char *const *lists[NMAPS];
    int need_geom, want_dual;
    mx_fif grid;
    mx_wcs **gwcs;            /* one grid WCS per thread */
    char **outputs;
    long (*counts)[4];
} rm_ctx;

/* The region `box` of the grid from a map file on its own box (MINTOFFX/Y;
 * a file without them must cover the whole grid); outside it NaN. */
static int read_map_region(const char *path, const mx_box *box, long naxis1, long naxis2, float *buf) {
    mx_header *h = NULL;
    long nx, ny, ox = 0, oy = 0;
    int bitpix, st;
    if ((st = mx_fits_read_header(path, &h, &nx, &ny, &bitpix)) != MX_OK) return st;
    if (mx_header_has(h, "MINTOFFX") && mx_header_has(h, "MINTOFFY")) {
        st = mx_header_get_long(h, "MINTOFFX", &ox);
        if (st == MX_OK) st = mx_header_get_long(h, "MINTOFFY", &oy);
        if (st != MX_OK) mx_preferr(st, "'%s'", path);
    } else if (nx != naxis1 || ny != naxis2) {
        st = mx_seterr(MX_ERR_NOTFOUND, "'%s' has no MINTOFFX/MINTOFFY and its size %ld x %ld is not the "
                       "mosaic grid's (%ld x %ld)", path, nx, ny, naxis1, naxis2);
    }
    mx_header_free(h);
    if (st != MX_OK) return st;
    return mx_fits_read_region(path, box->x0 - ox, box->y0 - oy, box->w, box->h, buf);
}

static const char *map_role(int m) {
    return m == MAP_OUTLIER ? "temporal outlier map" : m == MAP_DUAL ? "dual outlier (Level) map" : "box outlier map";
}

static void expected_name(int m, const char *b, char *buf, size_t size) {
    if (m == MAP_OUTLIER) snprintf(buf, size, "interp_%s_outlier.fits", b);
    else if (m == MAP_BOX) snprintf(buf, size, "interp_%s_box_outlier.fits", b);
    else snprintf(buf, size, "proj_%s_detmap_dual_outlier_level.fits (or proj_%s_detmap_dual_outlier.fits)", b, b);
}

/* Bits 1-3 of one frame. */
static int frame_geometry(const rm_ctx *c, int i, const mx_header *hdr, long nx, long ny, int thread,
                          int32_t *rm) {
    const mx_rmask_inputs *in = c->in;
    const char *ipath = in->images[i];
    int st;
    mx_wcs *win = NULL;
    mx_pixmap *pm = NULL;
    float *covg = NULL, *maps[NMAPS] = {NULL, NULL, NULL};
    uint8_t *flags = NULL;
    if ((st = mx_wcs_from_header(hdr, ipath, &win)) != MX_OK) goto exit;
    if ((st = mx_pixmap_new(win, c->gwcs[thread], MX_PIXMAP_AUTO, &pm)) != MX_OK) {
        mx_preferr(st, "'%s'", ipath);
        goto exit;
    }
    mx_map map = mx_pixmap_map(pm);
    mx_box box;
    if ((st = mx_map_footprint_box(&map, nx, ny, c->grid.naxis[0], c->grid.naxis[1], &box)) != MX_OK)
        goto exit;
    if (box.w == 0 || box.h == 0) goto exit; /* not on the grid: no multi-frame evidence */
    size_t nb = (size_t)box.w * (size_t)box.h;
    int use[NMAPS] = {c->o->use_outlier, c->want_dual, c->o->use_box};
    for (int m = 0; m < NMAPS; m++) {
        if (!use[m] || !c->lists[m]) continue;
        int j = c->map_of[m][i];
        if (j < 0) {
            char want[8400];
            expected_name(m, c->names[i], want, sizeof want);
            st = mx_seterr(MX_ERR_NOTFOUND, "frame %d ('%s') overlaps the grid but has no %s: expected %s",
                           i + 1, ipath, map_role(m), want);
            goto exit;
        }
        if (!(maps[m] = malloc(nb * sizeof *maps[m]))) {
            st = mx_seterr(MX_ERR_NOMEM, "maps of '%s'", ipath);
            goto exit;
        }
        if ((st = read_map_region(c->lists[m][j], &box, c->grid.naxis[0], c->grid.naxis[1], maps[m])) != MX_OK)
            goto exit;
    }
    covg = malloc(nb * sizeof *covg);
    flags = malloc(nb);
    if (!covg || !flags) {
        st = mx_seterr(MX_ERR_NOMEM, "coverage of '%s'", ipath);
        goto exit;
    }
    if ((st = mx_fits_read_region(in->coverage_map, box.x0, box.y0, box.w, box.h, covg)) != MX_OK) goto exit;
    mx_rmask_flags(c->o, nb, covg, maps[MAP_OUTLIER], maps[MAP_DUAL], maps[MAP_BOX], flags);
    st = mx_rmask_backproject(c->o, flags, &box, &map, nx, ny, rm, NULL);
exit:
    free(flags);
    free(covg);
    for (int m = 0; m < NMAPS; m++) free(maps[m]);
    mx_pixmap_free(pm);
    mx_wcs_free(win);
    if (st != MX_OK) mx_preferr(st, "RMask of '%s'", ipath);
    return st;
}

static int frame_work(long li, void *vctx, int thread) {
    rm_ctx *c = vctx;
    const mx_rmask_inputs *in = c->in;
    const mx_rmask_opts *o = c->o;
    int i = (int)li, st, bitpix;
    const char *ipath = in->images[i];
    mx_header *hdr = NULL;
    mx_image *dm = NULL, *out = NULL;
    long nx, ny;
    if ((st = mx_check_interrupt()) != MX_OK) return st;
    if ((st = mx_fits_read_header(ipath, &hdr, &nx, &ny, &bitpix)) != MX_OK) goto exit;
    if ((st = mx_image_new(nx, ny, MX_IMG_INT, 16, 0.0f, &out)) != MX_OK) goto exit;
    size_t n = (size_t)nx * (size_t)ny;
    if (in->dmasks) {
        if ((st = mx_mask_read(in->dmasks[i], &dm)) != MX_OK) goto exit;
        if (dm->nx != nx || dm->ny != ny) {
            st = mx_seterr(MX_ERR_MISMATCH, "Detect Radhit mask '%s' is %ld x %ld, its image '%s' %ld x %ld",
                           in->dmasks[i], dm->nx, dm->ny, ipath, nx, ny);
            goto exit;
        }
        /* the bit Detect Radhit used is recorded in the mask (RADHBIT); a
         * mask without it (a plain DCE mask) counts only when a bit is given */
        long bit = o->radhit_bit;
        if (mx_header_has(dm->hdr, "RADHBIT") && mx_header_get_long(dm->hdr, "RADHBIT", &bit) != MX_OK) {
            st = mx_preferr(MX_ERR_FORMAT, "'%s'", in->dmasks[i]);
            goto exit;
        }
        if (!mx_header_has(dm->hdr, "RADHBIT") && o->radhit_bit < 0) bit = -1;
        if (bit > 30 || (bit < 0 && mx_header_has(dm->hdr, "RADHBIT"))) {
            st = mx_seterr(MX_ERR_FORMAT, "'%s': radhit bit %ld is not between 0 and 30", in->dmasks[i], bit);
            goto exit;
        }
        if (bit >= 0) {
            uint32_t b = 1u << bit;
            for (size_t k = 0; k < n; k++)
                if ((uint32_t)dm->mask[k] & b) out->mask[k] = MX_RMASK_RADHIT;
        }
    }
    if (c->need_geom && (st = frame_geometry(c, i, hdr, nx, ny, thread, out->mask)) != MX_OK) goto exit;
    for (int b = 0; b < 4; b++) c->counts[i][b] = 0;
    for (size_t k = 0; k < n; k++)
        for (int b = 0; b < 4; b++) c->counts[i][b] += (out->mask[k] >> b) & 1;
    /* the input's header, minus what would misdescribe an integer mask */
    mx_header_delete(hdr, "BSCALE");
    mx_header_delete(hdr, "BZERO");
    mx_header_delete(hdr, "BLANK");
    char bits[64] = "";
    if (dm && (o->radhit_bit >= 0 || mx_header_has(dm->hdr, "RADHBIT"))) strcat(bits, "0 radhit ");
    if (o->use_outlier) strcat(bits, "1 temporal ");
    if (o->use_dual) strcat(bits, "2 dual ");
    if (o->use_box) strcat(bits, "3 box ");
    if (!bits[0]) strcpy(bits, "none");
    else bits[strlen(bits) - 1] = '\0';
    st = mx_header_set_string(hdr, "RMBITS", bits, "RMask bits written (bit scheme)");
    if (st == MX_OK) st = mx_header_set_double(hdr, "RMTHRESH", o->rm_thresh, "RM_THRESH");
    if (st == MX_OK) {
        char buf[4400];
        snprintf(buf, sizeof buf, "Mosaic RMask of %s (bits 0 radhit, 1 temporal, 2 dual, 3 box), mopexlua %s",
                 ipath, mx_version());
        st = mx_header_add_history(hdr, buf);
    }
    if (st != MX_OK) goto exit;
    mx_header_free(out->hdr);
    out->hdr = hdr;
    hdr = NULL;
    st = mx_image_write(out, c->outputs[i]);
exit:
    mx_header_free(hdr);
    mx_image_free(dm);
    mx_image_free(out);
    return st;
}

int mx_rmask_run(const mx_rmask_inputs *in, const mx_rmask_opts *o, mx_rmask_result **out) {
    int st = MX_OK, nthreads = 0;
    rm_ctx c;
    named *lists[NMAPS] = {NULL, NULL, NULL};
    int nl[NMAPS] = {0, 0, 0};
    mx_wcs *gw = NULL;
    mx_rmask_result *r = NULL;
    memset(&c, 0, sizeof c);
    if (out) *out = NULL;
    if (!in || in->n < 1 || !in->images) return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: no input images");
    if (!o->out_dir || !*o->out_dir) return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: no output directory (RMASK_DIR)");
    if (o->use_outlier && !in->outlier_maps)
        return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: USE_OUTLIER_FOR_RMASK needs the temporal outlier maps: "
                         "run Mosaic Outlier (run_mosaic_outlier, mopex.outlier) first");
    if (o->use_dual && !in->dual_maps)
        return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: USE_DUAL_OUTLIER_FOR_RMASK needs the dual outlier maps: "
                         "run Mosaic Dual Outlier and Level (run_mosaic_dual_outlier, run_level; "
                         "mopex.dual_outlier, mopex.level) first");
    if (o->use_box && !in->box_maps)
        return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: USE_BOX_OUTLIER_FOR_RMASK needs the box outlier maps: "
                         "run Mosaic Box Outlier (run_mosaic_box_outlier, mopex.box_outlier) first");
    c.need_geom = o->use_outlier || o->use_dual || o->use_box;
    if (c.need_geom && !in->coverage_map)
        return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: the outlier bits need the coverage map covg_map.fits: "
                         "run Mosaic Coverage (run_mosaic_covg, mopex.coverage) first");
    if (c.need_geom && !in->fif_path)
        return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: the outlier bits need the mosaic grid mosaic_fif.tbl "
                         "(written by Mosaic Interpolate)");
    if (!(o->rm_thresh >= 0))
        return mx_seterr(MX_ERR_PARAM, "Mosaic RMask: RM_THRESH = %g must be >= 0", o->rm_thresh);
    c.in = in;
    c.o = o;
    /* the dual maps also serve REFINE_OUTLIER without bit 2 */
    c.want_dual = in->dual_maps && (o->use_dual || (o->use_outlier && o->refine));
    c.lists[MAP_OUTLIER] = o->use_outlier ? in->outlier_maps : NULL;
    c.lists[MAP_DUAL] = c.want_dual ? in->dual_maps : NULL;
    c.lists[MAP_BOX] = o->use_box ? in->box_maps : NULL;
    nl[MAP_OUTLIER] = in->n_outlier;
    nl[MAP_DUAL] = in->n_dual;
    nl[MAP_BOX] = in->n_box;
    if ((st = mx_interp_names(in->n, in->images, &c.names)) != MX_OK) goto exit;
    for (int m = 0; m < NMAPS; m++) {
        if (!c.lists[m]) continue;
        if ((st = named_build(nl[m], c.lists[m], &lists[m])) != MX_OK) goto exit;
        if (!(c.map_of[m] = malloc((size_t)in->n * sizeof *c.map_of[m]))) {
            st = mx_seterr(MX_ERR_NOMEM, "map index");
            goto exit;
        }
        for (int i = 0; i < in->n; i++) {
            char want[4200];
            if (m == MAP_OUTLIER) snprintf(want, sizeof want, "interp_%s_outlier", c.names[i]);
            else if (m == MAP_BOX) snprintf(want, sizeof want, "interp_%s_box_outlier", c.names[i]);
            else snprintf(want, sizeof want, "proj_%s_detmap_dual_outlier_level", c.names[i]);
            int j = named_find(lists[m], nl[m], want);
            if (j < 0 && m == MAP_DUAL) {
                snprintf(want, sizeof want, "proj_%s_detmap_dual_outlier", c.names[i]);
                j = named_find(lists[m], nl[m], want);
            }
            c.map_of[m][i] = j;
        }
    }
    if (c.need_geom) {
        if ((st = mx_fif_read(in->fif_path, &c.grid)) != MX_OK) goto exit;
        if ((st = mx_fif_wcs(&c.grid, &gw)) != MX_OK) goto exit;
        nthreads = mx_threads();
        if (nthreads < 1) nthreads = 1;
        if (!(c.gwcs = calloc((size_t)nthreads, sizeof *c.gwcs))) {
            st = mx_seterr(MX_ERR_NOMEM, "grid WCS copies");
            goto exit;
        }
        for (int t = 0; t < nthreads; t++)
            if ((st = mx_wcs_dup(gw, &c.gwcs[t])) != MX_OK) goto exit;
    }
    if ((st = mx_mkdir_p(o->out_dir)) != MX_OK) goto exit;
    r = calloc(1, sizeof *r);
    c.outputs = calloc((size_t)in->n, sizeof *c.outputs);
    c.counts = calloc((size_t)in->n, sizeof *c.counts);
    if (!r || !c.outputs || !c.counts) {
        st = mx_seterr(MX_ERR_NOMEM, "RMask outputs");
        goto exit;
    }
    for (int i = 0; i < in->n; i++) {
        char name[4200];
        snprintf(name, sizeof name, "%s_rmask.fits", c.names[i]);
        if (!(c.outputs[i] = mx_path_join(o->out_dir, name))) {
            st = mx_seterr(MX_ERR_NOMEM, "path");
            goto exit;
        }
    }
    /* thread count fixed while the per-thread WCS copies are in use */
    st = mx_parallel_for_n(in->n, c.need_geom ? nthreads : mx_threads(), frame_work, &c);
    if (st != MX_OK) goto exit;
    r->n = in->n;
    r->rmasks = c.outputs;
    c.outputs = NULL;
    for (int i = 0; i < in->n; i++)
        for (int b = 0; b < 4; b++) r->counts[b] += c.counts[i][b];
    if (!(r->list = mx_path_join(o->out_dir, "rmask_ImageList.txt"))) {
        st = mx_seterr(MX_ERR_NOMEM, "path");
        goto exit;
    }
    st = mx_list_write_paths(in->n, (const char *const *)r->rmasks, r->list);
exit:
    for (int m = 0; m < NMAPS; m++) {
        named_free(lists[m], nl[m]);
        free(c.map_of[m]);
    }
    if (c.names) {
        for (int i = 0; i < in->n; i++) free(c.names[i]);
        free(c.names);
    }
    if (c.outputs) {
        for (int i = 0; i < in->n; i++) free(c.outputs[i]);
        free(c.outputs);
    }
    free(c.counts);
    if (c.gwcs) {
        for (int t = 0; t < nthreads; t++) mx_wcs_free(c.gwcs[t]);
        free(c.gwcs);
    }
    mx_wcs_free(gw);
    if (st != MX_OK) {
        mx_rmask_result_free(r);
        return mx_preferr(st, "Mosaic RMask");
    }
    if (out) *out = r;
    else mx_rmask_result_free(r);
    return MX_OK;
}

/* ---- Create RMask Mosaic ---------------------------------------------------------- */

int mx_rmask_mosaic_run(int n, const char *const *rmasks, const char *fif_path,
                        const mx_rmask_mosaic_opts *o, char **mosaic_path) {
    int st = MX_OK, m = 0;
    mx_fif grid;
    mx_interp_result *ir = NULL;
    char *idir = NULL, *cdir = NULL, *table = NULL, *mosaic = NULL;
    const char **imgs = NULL, **covs = NULL;
    if (mosaic_path) *mosaic_path = NULL;
    if (n < 1 || !rmasks) return mx_seterr(MX_ERR_PARAM, "Create RMask Mosaic: no RMasks (run Mosaic RMask first)");
    if (!o->out_dir || !*o->out_dir) return mx_seterr(MX_ERR_PARAM, "Create RMask Mosaic: no output directory");
    if ((st = mx_fif_read(fif_path, &grid)) != MX_OK) goto exit;
    idir = mx_path_join(o->out_dir, "Interp-rmask");
    cdir = mx_path_join(o->out_dir, "Coadd-rmask");
    mosaic = mx_path_join(o->out_dir, "mosaic.fits");
    if (!idir || !cdir || !mosaic) {
        st = mx_seterr(MX_ERR_NOMEM, "paths");
        goto exit;
    }
    /* the RMasks as plain images: no mask of any kind */
    mx_interp_inputs ii = {n, rmasks, NULL, NULL, NULL, NULL, NULL};
    mx_interp_opts io = {o->method, o->fineres, o->driz_fac, o->grid_ratio, o->alpha, 0, 0, 0, 0, idir};
    if ((st = mx_interp_run(&ii, &grid, &io, &ir)) != MX_OK) goto exit;
    imgs = malloc((size_t)n * sizeof *imgs);
    covs = malloc((size_t)n * sizeof *covs);
    if (!imgs || !covs) {
        st = mx_seterr(MX_ERR_NOMEM, "RMask stack");
        goto exit;
    }
    for (int i = 0; i < n; i++)
        if (ir->frames[i].written) {
            imgs[m] = ir->frames[i].image;
            covs[m] = ir->frames[i].coverage;
            m++;
        }
    mx_coadd_inputs ci = {m, imgs, covs, NULL, NULL, NULL};
    mx_coadd_opts co;
    memset(&co, 0, sizeof co);
    co.tilemax_x = o->tilemax_x;
    co.tilemax_y = o->tilemax_y;
    co.program = "create_rmask_mosaic";
    mx_coadd_dirs dirs = {cdir, NULL, NULL};
    if ((st = mx_coadd_run(&ci, fif_path, &co, &dirs, NULL)) != MX_OK) goto exit;
    if (!(table = mx_path_join(cdir, "coadd_tiles.tbl"))) {
        st = mx_seterr(MX_ERR_NOMEM, "path");
        goto exit;
    }
    if ((st = mx_combine_tiles(table, mx_product_suffix(MX_PRODUCT_IMAGE), fif_path, mosaic)) != MX_OK) goto exit;
    if (mosaic_path) {
        *mosaic_path = mosaic;
        mosaic = NULL;
    }
exit:
    mx_interp_result_free(ir);
    free(imgs);
    free(covs);
    free(idir);
    free(cdir);
    free(table);
    free(mosaic);
    if (st != MX_OK) return mx_preferr(st, "Create RMask Mosaic");
    return MX_OK;
}
