/* outlier_mods.c - the tile drivers of Mosaic Outlier, Mosaic Box Outlier,
 * Mosaic Dual Outlier and Mosaic Coverage (mx_outlier.h section 2).
 *
 * Each tile of the grid is loaded from the stack (mx_stack_load_rect), each
 * grid pixel's stack is gathered in stack order and handed to the kernel of
 * outlier.c, and the results go back to the slices they came from. A
 * frame's output is assembled in a raw scratch file by positional writes
 * (every tile writes a disjoint part, so threads need no lock), then
 * written as FITS once all tiles are done. */
#include "mopex/mopex.h"
#include "mopex/mx_outlier.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { KIND_TEMPORAL = 0, KIND_BOX = 1, KIND_DUAL = 2, KIND_COVERAGE = 3 };

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void mx_outlier_result_free(mx_outlier_result *r) {
    if (!r) return;
    if (r->outputs)
        for (int i = 0; i < r->n; i++) free(r->outputs[i]);
    free(r->outputs);
    free(r->list);
    free(r->map);
    free(r);
}

/* ---- per-frame scratch ("sink") ------------------------------------------- */

typedef struct sink {
    const mx_stack *s;
    int n;
    char **final;    /* output path per frame */
    char **scratch;  /* raw native floats, the frame's box, row-major */
} sink;

static void sink_free(sink *k) {
    for (int i = 0; i < k->n; i++) {
        if (k->scratch && k->scratch[i]) {
            unlink(k->scratch[i]);
            free(k->scratch[i]);
        }
        if (k->final) free(k->final[i]);
    }
    free(k->final);
    free(k->scratch);
    memset(k, 0, sizeof *k);
}

static int cmp_str_idx(const void *a, const void *b) {
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

/* Output names out_dir/<m><suffix>.fits; no two frames may share one. */
static int sink_open(sink *k, const mx_stack *s, const char *dir, const char *suffix) {
    int st = MX_OK, n = mx_stack_count(s);
    const char **sorted = NULL;
    memset(k, 0, sizeof *k);
    k->s = s;
    if ((st = mx_mkdir_p(dir)) != MX_OK) return st;
    k->final = calloc((size_t)n, sizeof *k->final);
    k->scratch = calloc((size_t)n, sizeof *k->scratch);
    sorted = malloc((size_t)n * sizeof *sorted);
    k->n = n;
    if (!k->final || !k->scratch || !sorted) {
        st = mx_seterr(MX_ERR_NOMEM, "outputs of %d frames", n);
        goto exit;
    }
    for (int i = 0; i < n && st == MX_OK; i++) {
        char base[4096], name[4200];
        mx_path_basename_noext(mx_stack_path(s, MX_LAYER_IMAGE, i), base, sizeof base);
        snprintf(name, sizeof name, "%s%s.fits", base, suffix);
        if (!(k->final[i] = mx_path_join(dir, name))) st = mx_seterr(MX_ERR_NOMEM, "output path");
        sorted[i] = k->final[i];
    }
    if (st != MX_OK) goto exit;
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str_idx);
    for (int i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) != 0) continue;
        int a = -1, b = -1;
        for (int j = 0; j < n; j++)
            if (strcmp(k->final[j], sorted[i]) == 0) {
                if (a < 0) a = j;
                else if (b < 0) b = j;
            }
        st = mx_seterr(MX_ERR_PARAM, "frames %d ('%s') and %d ('%s') would both write '%s': give "
                       "inputs with distinct file names", a + 1, mx_stack_path(s, MX_LAYER_IMAGE, a),
                       b + 1, mx_stack_path(s, MX_LAYER_IMAGE, b), sorted[i]);
        goto exit;
    }
    for (int i = 0; i < n; i++) {
        const mx_stack_frame *f = mx_stack_frame_at(s, i);
        if (!(k->scratch[i] = mx_temp_name_for(k->final[i]))) {
            st = mx_seterr(MX_ERR_NOMEM, "scratch path");
            goto exit;
        }
        int fd = open(k->scratch[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            st = mx_seterr(MX_ERR_IO, "cannot create '%s': %s", k->scratch[i], strerror(errno));
            free(k->scratch[i]);
            k->scratch[i] = NULL;
            goto exit;
        }
        off_t size = (off_t)f->nx * (off_t)f->ny * (off_t)sizeof(float);
        if (ftruncate(fd, size) != 0)
            st = mx_seterr(MX_ERR_IO, "cannot size '%s': %s", k->scratch[i], strerror(errno));
        close(fd);
        if (st != MX_OK) goto exit;
    }
exit:
    free(sorted);
    if (st != MX_OK) sink_free(k);
    return st;
}

/* Write the rectangle [x0, x0+w) x [y0, y0+h) (grid coordinates, inside the
 * frame's box) of frame i. */
static int sink_put(const sink *k, int i, long x0, long y0, long w, long h, const float *v) {
    const mx_stack_frame *f = mx_stack_frame_at(k->s, i);
    int fd = open(k->scratch[i], O_WRONLY);
    if (fd < 0) return mx_seterr(MX_ERR_IO, "cannot open '%s': %s", k->scratch[i], strerror(errno));
    int st = MX_OK;
    for (long r = 0; r < h && st == MX_OK; r++) {
        const char *p = (const char *)(v + (size_t)r * (size_t)w);
        size_t left = (size_t)w * sizeof(float);
        off_t off = ((off_t)(y0 + r - f->y0) * (off_t)f->nx + (off_t)(x0 - f->x0)) * (off_t)sizeof(float);
        while (left > 0) {
            ssize_t got = pwrite(fd, p, left, off);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                st = mx_seterr(MX_ERR_IO, "cannot write '%s': %s", k->scratch[i],
                               got < 0 ? strerror(errno) : "short write");
                break;
            }
            p += got;
            off += got;
            left -= (size_t)got;
        }
    }
    close(fd);
    return st;
}

typedef int (*header_fn)(mx_header *h, const char *image, void *ctx);

typedef struct finish_ctx {
    sink *k;
    header_fn hfn;
    void *hctx;
    long naxis1, naxis2;
} finish_ctx;

static int read_all(const char *path, float *buf, size_t n) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return mx_seterr(MX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    char *p = (char *)buf;
    size_t left = n * sizeof(float);
    off_t off = 0;
    int st = MX_OK;
    while (left > 0) {
        ssize_t got = pread(fd, p, left, off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            st = mx_seterr(MX_ERR_IO, "cannot read '%s': %s", path, got < 0 ? strerror(errno) : "truncated");
            break;
        }
        p += got;
        off += got;
        left -= (size_t)got;
    }
    close(fd);
    return st;
}

static int finish_one(long li, void *vctx, int thread) {
    (void)thread;
    finish_ctx *c = vctx;
    int i = (int)li, st;
    const mx_stack_frame *f = mx_stack_frame_at(c->k->s, i);
    const char *image = mx_stack_path(c->k->s, MX_LAYER_IMAGE, i);
    mx_image *img = NULL;
    mx_header *h = NULL;
    long hx, hy;
    int bitpix;
    if ((st = mx_check_interrupt()) != MX_OK) return st;
    if ((st = mx_image_new(f->nx, f->ny, MX_IMG_FLOAT, 0, NAN, &img)) != MX_OK) return st;
    if ((st = read_all(c->k->scratch[i], img->data, (size_t)f->nx * (size_t)f->ny)) != MX_OK) goto exit;
    /* a part of the box beyond the grid belongs to no tile */
    for (long y = 0; y < f->ny; y++)
        for (long x = 0; x < f->nx; x++) {
            long gx = f->x0 + x, gy = f->y0 + y;
            if (gx < 0 || gy < 0 || gx >= c->naxis1 || gy >= c->naxis2) MX_PIX(img, x, y) = NAN;
        }
    if ((st = mx_fits_read_header(image, &h, &hx, &hy, &bitpix)) != MX_OK) goto exit;
    if ((st = c->hfn(h, image, c->hctx)) != MX_OK) goto exit;
    mx_header_free(img->hdr);
    img->hdr = h;
    h = NULL;
    if ((st = mx_image_write(img, c->k->final[i])) != MX_OK) goto exit;
    unlink(c->k->scratch[i]);
exit:
    mx_header_free(h);
    mx_image_free(img);
    return st;
}

static int sink_finish(sink *k, long naxis1, long naxis2, header_fn hfn, void *hctx) {
    finish_ctx c = {k, hfn, hctx, naxis1, naxis2};
    return mx_parallel_for(k->n, finish_one, &c);
}

/* ---- the tile functions ------------------------------------------------------ */

typedef struct run_ctx {
    const mx_outlier_run_opts *o;
    int kind;
    unsigned layers;
    int have_sig;
    sink *k;
    /* per tile (index id - 1): reductions happen after all tiles */
    long *npix, *nflag, *nfb;
    double *max;
    /* Coverage */
    const mx_header *tmpl;
    double crpix[2];
    const char *dir;
} run_ctx;

/* Unusable stack entries become NaN in the loaded images, so that every
 * later test is isfinite(value) (algorithms.md 0). */
static void mask_unusable(const mx_stack_load *ld, int have_sig, double min_cover) {
    for (int k = 0; k < ld->n; k++) {
        const mx_stack_slice *sl = &ld->slices[k];
        size_t a = (size_t)sl->nx * (size_t)sl->ny;
        float *v = sl->layer[MX_LAYER_IMAGE];
        const float *c = sl->layer[MX_LAYER_COVERAGE];
        const float *s = have_sig ? sl->layer[MX_LAYER_SIGMA] : NULL;
        for (size_t q = 0; q < a; q++) {
            int ok = c[q] > 0.0f && isfinite(c[q]) && c[q] >= min_cover;
            if (s) ok = ok && s[q] > 0.0f && isfinite(s[q]);
            if (!ok) v[q] = NAN;
        }
    }
}

/* The outputs of one loaded rectangle: each slice's part inside the tile
 * (slices of a Box load may lie partly or wholly in the halo). */
typedef struct outs {
    float *out;                   /* all parts, one block */
    float **outp;                 /* part of slice k */
    long *ox0, *oy0, *onx, *ony;  /* its rectangle (grid) */
} outs;

static void outs_free(outs *u) {
    free(u->out);
    free(u->outp);
    free(u->ox0);
    memset(u, 0, sizeof *u);
}

static int outs_alloc(outs *u, const mx_stack_load *ld, const mx_tile *t) {
    size_t d = (size_t)(ld->n > 0 ? ld->n : 1), total = 0;
    memset(u, 0, sizeof *u);
    u->outp = malloc(d * sizeof *u->outp);
    u->ox0 = malloc(4 * d * sizeof *u->ox0);
    if (!u->outp || !u->ox0) goto nomem;
    u->oy0 = u->ox0 + d;
    u->onx = u->ox0 + 2 * d;
    u->ony = u->ox0 + 3 * d;
    for (int k = 0; k < ld->n; k++) {
        const mx_stack_slice *sl = &ld->slices[k];
        long x0 = sl->x0 > t->x0 ? sl->x0 : t->x0, y0 = sl->y0 > t->y0 ? sl->y0 : t->y0;
        long x1 = sl->x0 + sl->nx < t->x0 + t->nx ? sl->x0 + sl->nx : t->x0 + t->nx;
        long y1 = sl->y0 + sl->ny < t->y0 + t->ny ? sl->y0 + sl->ny : t->y0 + t->ny;
        u->ox0[k] = x0;
        u->oy0[k] = y0;
        u->onx[k] = x1 > x0 ? x1 - x0 : 0;
        u->ony[k] = y1 > y0 ? y1 - y0 : 0;
        total += (size_t)u->onx[k] * (size_t)u->ony[k];
    }
    if (!(u->out = malloc((total ? total : 1) * sizeof *u->out))) goto nomem;
    total = 0;
    for (int k = 0; k < ld->n; k++) {
        u->outp[k] = u->out + total;
        total += (size_t)u->onx[k] * (size_t)u->ony[k];
    }
    return MX_OK;
nomem:
    outs_free(u);
    return mx_seterr(MX_ERR_NOMEM, "outputs of a stack of %d frames", ld->n);
}

/* Scratch of one thread: one pixel's stack. */
typedef struct scratch {
    float *vals, *sigs, *res, *work, *box;
    int *who, *rows;
    size_t *offs;
} scratch;

static void scratch_free(scratch *w) {
    free(w->vals);
    free(w->sigs);
    free(w->res);
    free(w->work);
    free(w->box);
    free(w->who);
    free(w->rows);
    free(w->offs);
    memset(w, 0, sizeof *w);
}

static int scratch_alloc(scratch *w, int D, size_t nbox) {
    size_t d = (size_t)(D > 0 ? D : 1), nw = nbox > d ? nbox : d;
    memset(w, 0, sizeof *w);
    w->vals = malloc(d * sizeof *w->vals);
    w->sigs = malloc(d * sizeof *w->sigs);
    w->res = malloc(d * sizeof *w->res);
    w->work = malloc(nw * sizeof *w->work);
    w->box = nbox ? malloc(nbox * sizeof *w->box) : NULL;
    w->who = malloc(d * sizeof *w->who);
    w->rows = malloc(d * sizeof *w->rows);
    w->offs = malloc(d * sizeof *w->offs);
    if (!w->vals || !w->sigs || !w->res || !w->work || (nbox && !w->box) || !w->who || !w->rows || !w->offs) {
        scratch_free(w);
        return mx_seterr(MX_ERR_NOMEM, "work space for a stack of %d frames", D);
    }
    return MX_OK;
}

static int put_outputs(const run_ctx *c, const mx_stack_load *ld, const outs *u) {
    int st = MX_OK;
    for (int k = 0; k < ld->n && st == MX_OK; k++)
        if (u->onx[k] > 0 && u->ony[k] > 0)
            st = sink_put(c->k, ld->slices[k].frame, u->ox0[k], u->oy0[k], u->onx[k], u->ony[k], u->outp[k]);
    return st;
}

/* Counters of one tile, summed over its bands. */
typedef struct counts {
    long npix, nflag, nfb;
    double max;
} counts;

#define ROWS_PER_ITEM 4

/* The rows of one loaded rectangle, in items of ROWS_PER_ITEM rows run by
 * mx_parallel_for (serial when the tiles themselves run in parallel): each
 * item writes only its rows' output pixels and its own counters. */
typedef struct rows_ctx {
    const run_ctx *c;
    const mx_stack_load *ld;
    const mx_tile *t;
    const outs *u;
    scratch *sc;                  /* one per thread */
    counts *cn;                   /* one per item */
    long hx0, hx1, hy0, hy1;      /* Box halo */
} rows_ctx;

static int rows_item(long item, void *vctx, int thread) {
    rows_ctx *r = vctx;
    const run_ctx *c = r->c;
    const mx_outlier_run_opts *o = c->o;
    const mx_stack_load *ld = r->ld;
    const mx_tile *t = r->t;
    const outs *u = r->u;
    scratch *w = &r->sc[thread];
    counts *cn = &r->cn[item];
    const int D = ld->n;
    long ya = t->y0 + item * ROWS_PER_ITEM, yb = ya + ROWS_PER_ITEM;
    if (yb > t->y0 + t->ny) yb = t->y0 + t->ny;
    for (long y = ya; y < yb; y++) {
        int nr = 0;
        for (int k = 0; k < D; k++) {
            const mx_stack_slice *sl = &ld->slices[k];
            if (y >= sl->y0 && y < sl->y0 + sl->ny && u->onx[k] > 0) w->rows[nr++] = k;
        }
        if (nr == 0) continue;
        for (long x = t->x0; x < t->x0 + t->nx; x++) {
            size_t m = 0, nb = 0;
            for (int j = 0; j < nr; j++) {
                int k = w->rows[j];
                const mx_stack_slice *sl = &ld->slices[k];
                if (x < sl->x0 || x >= sl->x0 + sl->nx) continue;
                size_t off = (size_t)(y - sl->y0) * (size_t)sl->nx + (size_t)(x - sl->x0);
                size_t ooff = (size_t)(y - u->oy0[k]) * (size_t)u->onx[k] + (size_t)(x - u->ox0[k]);
                float v = sl->layer[MX_LAYER_IMAGE][off];
                if (c->kind == KIND_DUAL) {
                    /* NaN: the projected map does not cover p; it stays NaN */
                    u->outp[k][ooff] = v;
                    if (isnan(v)) continue;
                } else if (!isfinite(v)) {
                    u->outp[k][ooff] = NAN;
                    continue;
                }
                w->vals[m] = v;
                w->sigs[m] = c->have_sig ? sl->layer[MX_LAYER_SIGMA][off] : NAN;
                w->who[m] = k;
                w->offs[m] = ooff;
                m++;
                if (c->kind == KIND_BOX) {
                    long ya2 = y - r->hy0 > sl->y0 ? y - r->hy0 : sl->y0;
                    long yb2 = y + r->hy1 < sl->y0 + sl->ny - 1 ? y + r->hy1 : sl->y0 + sl->ny - 1;
                    long xa = x - r->hx0 > sl->x0 ? x - r->hx0 : sl->x0;
                    long xb = x + r->hx1 < sl->x0 + sl->nx - 1 ? x + r->hx1 : sl->x0 + sl->nx - 1;
                    for (long yy = ya2; yy <= yb2; yy++) {
                        const float *row = sl->layer[MX_LAYER_IMAGE] + (size_t)(yy - sl->y0) * (size_t)sl->nx;
                        for (long xx = xa; xx <= xb; xx++) {
                            float b = row[xx - sl->x0];
                            if (isfinite(b)) w->box[nb++] = b;
                        }
                    }
                }
            }
            if (m == 0) continue;
            cn->npix++;
            switch (c->kind) {
            case KIND_TEMPORAL:
                cn->nflag += (long)mx_temporal_outliers(w->vals, c->have_sig ? w->sigs : NULL, m,
                                                        &o->temporal, w->work, w->res);
                break;
            case KIND_BOX: {
                int fb = 0;
                mx_box_outlier_pixel(w->vals, c->have_sig ? w->sigs : NULL, m, w->box, nb, o->box_bias,
                                     w->work, w->res, NULL, NULL, &fb);
                cn->nfb += fb;
                for (size_t q = 0; q < m; q++) cn->nflag += fabsf(w->res[q]) >= 10.0f;
                break;
            }
            case KIND_DUAL:
                memcpy(w->res, w->vals, m * sizeof *w->res);
                cn->nflag += (long)mx_dual_outlier_pixel(w->res, m, o->max_outl_image, o->max_outl_frac);
                break;
            default:
                break;
            }
            for (size_t q = 0; q < m; q++) {
                u->outp[w->who[q]][w->offs[q]] = w->res[q];
                if (c->kind != KIND_DUAL && fabs(w->res[q]) > cn->max) cn->max = fabs(w->res[q]);
            }
        }
    }
    return MX_OK;
}

/* One rectangle of the grid (a tile, or a band of rows of one): load,
 * gather every pixel's stack, run the kernel, write the frames' parts. */
static int process_rect(const mx_stack *s, const mx_tile *t, mx_stack_load *ld, const run_ctx *c,
                        counts *cn) {
    const mx_outlier_run_opts *o = c->o;
    int st, nt = mx_threads();
    outs u;
    scratch *sc = NULL;
    counts *ic = NULL;
    memset(&u, 0, sizeof u);
    if (nt < 1) nt = 1;
    if ((st = mx_check_interrupt()) != MX_OK) return st;
    /* Box: the windows of the rectangle's edge pixels reach into the halo */
    rows_ctx r = {c, ld, t, &u, NULL, NULL, 0, 0, 0, 0};
    if (c->kind == KIND_BOX) {
        r.hx0 = o->box_x / 2;
        r.hx1 = o->box_x - 1 - r.hx0;
        r.hy0 = o->box_y / 2;
        r.hy1 = o->box_y - 1 - r.hy0;
    }
    long lx0 = t->x0 - r.hx0 > 0 ? t->x0 - r.hx0 : 0, ly0 = t->y0 - r.hy0 > 0 ? t->y0 - r.hy0 : 0;
    long lx1 = t->x0 + t->nx + r.hx1, ly1 = t->y0 + t->ny + r.hy1;
    if (lx1 > mx_stack_naxis1(s)) lx1 = mx_stack_naxis1(s);
    if (ly1 > mx_stack_naxis2(s)) ly1 = mx_stack_naxis2(s);
    if ((st = mx_stack_load_rect(s, lx0, ly0, lx1 - lx0, ly1 - ly0, c->layers, ld)) != MX_OK) goto exit;
    if (ld->n == 0) goto exit;
    if (c->kind != KIND_DUAL) mask_unusable(ld, c->have_sig, o->min_cover);
    if ((st = outs_alloc(&u, ld, t)) != MX_OK) goto exit;
    long nitems = (t->ny + ROWS_PER_ITEM - 1) / ROWS_PER_ITEM;
    size_t nbox = c->kind == KIND_BOX ? (size_t)ld->n * (size_t)o->box_x * (size_t)o->box_y : 0;
    sc = calloc((size_t)nt, sizeof *sc);
    ic = calloc((size_t)nitems, sizeof *ic);
    if (!sc || !ic) {
        st = mx_seterr(MX_ERR_NOMEM, "work space of %d threads", nt);
        goto exit;
    }
    for (int k = 0; k < nt && st == MX_OK; k++) st = scratch_alloc(&sc[k], ld->n, nbox);
    if (st != MX_OK) goto exit;
    r.sc = sc;
    r.cn = ic;
    if ((st = mx_parallel_for(nitems, rows_item, &r)) != MX_OK) goto exit;
    for (long i = 0; i < nitems; i++) {
        cn->npix += ic[i].npix;
        cn->nflag += ic[i].nflag;
        cn->nfb += ic[i].nfb;
        if (ic[i].max > cn->max) cn->max = ic[i].max;
    }
    st = put_outputs(c, ld, &u);
exit:
    if (sc)
        for (int k = 0; k < nt; k++) scratch_free(&sc[k]);
    free(sc);
    free(ic);
    outs_free(&u);
    return st;
}

/* A tile in bands of rows when its load would exceed the thread's share of
 * the memory budget (budget 0: the whole tile at once); the output parts
 * take about one more layer, hence the budget scaled by L / (L + 1). */
static int stack_tile(const mx_stack *s, const mx_tile *t, mx_stack_load *ld, size_t budget,
                      int thread, void *vctx) {
    (void)thread;
    run_ctx *c = vctx;
    int st = MX_OK, nl = 0;
    for (int l = 0; l < MX_LAYER_COUNT; l++) nl += (c->layers >> l) & 1u;
    size_t b = budget ? budget / (size_t)(nl + 1) * (size_t)nl : 0;
    long rows = mx_stack_band_rows(s, t, c->layers, 0, b ? b : (budget ? 1 : 0));
    if (rows < 1) rows = t->ny;
    counts cn = {0, 0, 0, 0.0};
    for (long by = 0; by < t->ny && st == MX_OK; by += rows) {
        mx_tile band = *t;
        band.y0 = t->y0 + by;
        band.ny = rows < t->ny - by ? rows : t->ny - by;
        st = process_rect(s, &band, ld, c, &cn);
    }
    int ti = t->id - 1;
    c->npix[ti] = cn.npix;
    c->nflag[ti] = cn.nflag;
    c->nfb[ti] = cn.nfb;
    c->max[ti] = cn.max;
    if (st != MX_OK) mx_preferr(st, "tile %d", t->id);
    return st;
}

/* ---- Coverage tiles ------------------------------------------------------------ */

static void covg_tile_name(int id, char *buf, size_t size) { snprintf(buf, size, "covg_Tile_%03d", id); }

static int coverage_tile(const mx_stack *s, const mx_tile *t, mx_stack_load *ld, size_t budget,
                         int thread, void *vctx) {
    (void)budget;
    (void)thread;
    run_ctx *c = vctx;
    int st, ti = t->id - 1;
    mx_image *img = NULL;
    float *vals = NULL;
    char name[64], *path = NULL;
    if ((st = mx_check_interrupt()) != MX_OK) return st;
    if ((st = mx_stack_load_rect(s, t->x0, t->y0, t->nx, t->ny, MX_STACK_IMAGE, ld)) != MX_OK) goto exit;
    if ((st = mx_image_new(t->nx, t->ny, MX_IMG_FLOAT, 0, 0.0f, &img)) != MX_OK) goto exit;
    if (!(vals = malloc((size_t)(ld->n > 0 ? ld->n : 1) * sizeof *vals))) {
        st = mx_seterr(MX_ERR_NOMEM, "coverage stack of %d frames", ld->n);
        goto exit;
    }
    long npix = 0;
    double vmax = 0.0;
    for (long y = 0; y < t->ny; y++)
        for (long x = 0; x < t->nx; x++) {
            long gx = t->x0 + x, gy = t->y0 + y;
            size_t m = 0;
            for (int k = 0; k < ld->n; k++) {
                const mx_stack_slice *sl = &ld->slices[k];
                if (gx < sl->x0 || gx >= sl->x0 + sl->nx || gy < sl->y0 || gy >= sl->y0 + sl->ny) continue;
                vals[m++] = sl->layer[MX_LAYER_IMAGE][(size_t)(gy - sl->y0) * (size_t)sl->nx +
                                                     (size_t)(gx - sl->x0)];
            }
            double cv = mx_coverage_sum(vals, m);
            MX_PIX(img, x, y) = (float)cv;
            if (cv > 0) npix++;
            if (cv > vmax) vmax = cv;
        }
    mx_header_free(img->hdr);
    if (!(img->hdr = mx_header_dup(c->tmpl))) {
        st = mx_seterr(MX_ERR_NOMEM, "tile header");
        goto exit;
    }
    st = mx_header_set_double(img->hdr, "CRPIX1", c->crpix[0] - (double)t->x0, NULL);
    if (st == MX_OK) st = mx_header_set_double(img->hdr, "CRPIX2", c->crpix[1] - (double)t->y0, NULL);
    if (st == MX_OK)
        st = mx_header_set_long(img->hdr, "MINTOFFX", t->x0, "0-based x offset of the tile in the mosaic grid");
    if (st == MX_OK)
        st = mx_header_set_long(img->hdr, "MINTOFFY", t->y0, "0-based y offset of the tile in the mosaic grid");
    if (st == MX_OK) {
        char buf[120];
        snprintf(buf, sizeof buf, "mosaic_covg tile %d: sum of the interpolated coverages, mopexlua %s",
                 t->id, mx_version());
        st = mx_header_add_history(img->hdr, buf);
    }
    if (st != MX_OK) goto exit;
    covg_tile_name(t->id, name, sizeof name);
    strcat(name, ".fits");
    if (!(path = mx_path_join(c->dir, name))) {
        st = mx_seterr(MX_ERR_NOMEM, "tile path");
        goto exit;
    }
    st = mx_image_write(img, path);
    c->npix[ti] = npix;
    c->max[ti] = vmax;
exit:
    free(path);
    free(vals);
    mx_image_free(img);
    if (st != MX_OK) mx_preferr(st, "coverage tile %d", t->id);
    return st;
}

/* covg_TilesList.tbl: the tiles' offsets table (no units, unlike tiles.tbl). */
static int write_tile_table(const mx_tile *tiles, int ntiles, const char *path) {
    mx_table *t = NULL;
    int st = mx_offsets_table_new("tile_id", "mosaic_covg", NULL, &t);
    for (int k = 0; k < ntiles && st == MX_OK; k++) {
        char name[160];
        covg_tile_name(tiles[k].id, name, sizeof name);
        st = mx_offsets_table_add(t, tiles[k].id, name, tiles[k].x0, tiles[k].y0, tiles[k].nx,
                                  tiles[k].ny);
    }
    if (st == MX_OK) st = mx_table_write_ipac(t, path);
    mx_table_free(t);
    return st;
}

/* ---- headers of the per-frame outputs ------------------------------------------ */

static int history(mx_header *h, const char *what, const char *image) {
    char buf[4400];
    snprintf(buf, sizeof buf, "%s of %s, mopexlua %s", what, image, mx_version());
    return mx_header_add_history(h, buf);
}

static int temporal_header(mx_header *h, const char *image, void *vctx) {
    const mx_outlier_run_opts *o = vctx;
    mx_header_delete(h, "BUNIT");
    int st = mx_header_set_double(h, "BOTTHRSH", o->temporal.bottom, "Mosaic Outlier BOTTOM_THRESHOLD (sigma)");
    if (st == MX_OK) st = mx_header_set_double(h, "TOPTHRSH", o->temporal.top, "Mosaic Outlier TOP_THRESHOLD (sigma)");
    if (st == MX_OK) st = mx_header_set_long(h, "THROPT", o->thresh_option, "THRESH_OPTION (2 computed as 1)");
    if (st == MX_OK) st = mx_header_set_long(h, "MINPIXN", o->temporal.min_pix_num, "MIN_PIX_NUM");
    if (st == MX_OK) st = mx_header_set_double(h, "MINCOVER", o->min_cover, "smallest coverage of a stack entry");
    if (st == MX_OK)
        st = mx_header_set_string(h, "MEDIAN", o->temporal.median_mode == MX_MEDIAN_AVERAGE ? "average" : "upper",
                                  "median convention of the stack statistics");
    if (st == MX_OK) st = history(h, "Mosaic Outlier map (I - M)/sigma where flagged", image);
    return st;
}

static int box_header(mx_header *h, const char *image, void *vctx) {
    const mx_outlier_run_opts *o = vctx;
    mx_header_delete(h, "BUNIT");
    int st = mx_header_set_long(h, "BOXX", o->box_x, "BOX_X (grid pixels)");
    if (st == MX_OK) st = mx_header_set_long(h, "BOXY", o->box_y, "BOX_Y (grid pixels)");
    if (st == MX_OK) st = mx_header_set_long(h, "BOXBIAS", o->box_bias, "BOX_MEDIAN_BIAS");
    if (st == MX_OK) st = mx_header_set_double(h, "MINCOVER", o->min_cover, "smallest coverage of a stack entry");
    if (st == MX_OK) st = history(h, "Mosaic Box Outlier map (I - M)/sigma", image);
    return st;
}

static int dual_header(mx_header *h, const char *image, void *vctx) {
    const mx_outlier_run_opts *o = vctx;
    int st = mx_header_set_long(h, "MAXOUTIM", o->max_outl_image, "MAX_OUTL_IMAGE");
    if (st == MX_OK) st = mx_header_set_double(h, "MAXOUTFR", o->max_outl_frac, "MAX_OUTL_FRAC");
    if (st == MX_OK) st = history(h, "Mosaic Dual Outlier map (dual outliers negative)", image);
    return st;
}

/* ---- drivers ------------------------------------------------------------------- */

static int check_common(const mx_outlier_inputs *in, const mx_outlier_run_opts *o, const char *who) {
    if (!in || in->n < 1 || !in->images) return mx_seterr(MX_ERR_PARAM, "%s: no input images", who);
    if (!o->out_dir || !*o->out_dir) return mx_seterr(MX_ERR_PARAM, "%s: no output directory", who);
    if (o->tile_x < 1 || o->tile_y < 1)
        return mx_seterr(MX_ERR_PARAM, "%s: tile size %ld x %ld must be >= 1 (TILE_XSIZ/TILE_YSIZ)", who,
                         o->tile_x, o->tile_y);
    return MX_OK;
}

static int run_driver(int kind, const mx_outlier_inputs *in, const char *fif_path,
                      const mx_outlier_run_opts *o, const char *covg_map, mx_outlier_result **out) {
    static const char *const who[4] = {"Mosaic Outlier", "Mosaic Box Outlier", "Mosaic Dual Outlier",
                                       "Mosaic Coverage"};
    static const char *const label[4] = {"outlier", "box_outlier", "dual_outlier", "coverage"};
    static const char *const suffix[3] = {"_outlier", "_box_outlier", "_dual_outlier"};
    static const char *const list[3] = {"outlier_ImageList.txt", "box_outlier_ImageList.txt",
                                        "dual_outlier_ImageList.txt"};
    int st = MX_OK, ntiles = 0;
    mx_fif fif;
    mx_stack *s = NULL;
    mx_tile *tiles = NULL;
    mx_wcs *w = NULL;
    mx_header *tmpl = NULL;
    mx_outlier_result *r = NULL;
    sink k;
    run_ctx c;
    memset(&k, 0, sizeof k);
    memset(&c, 0, sizeof c);
    if (out) *out = NULL;
    if ((st = check_common(in, o, who[kind])) != MX_OK) return st;
    if (!fif_path) return mx_seterr(MX_ERR_PARAM, "%s: no mosaic grid (mosaic_fif.tbl)", who[kind]);
    if ((kind == KIND_TEMPORAL || kind == KIND_BOX) && !(o->min_cover >= 0.0 && o->min_cover <= 1.0))
        return mx_seterr(MX_ERR_PARAM, "%s: min_cover = %g must be between 0 and 1", who[kind], o->min_cover);
    if (kind == KIND_BOX && (o->box_x < 1 || o->box_y < 1))
        return mx_seterr(MX_ERR_PARAM, "%s: BOX_X/BOX_Y = %d/%d must be >= 1", who[kind], o->box_x, o->box_y);
    if (kind == KIND_TEMPORAL) {
        if (o->thresh_option == 2)
            mx_warn("Mosaic Outlier: THRESH_OPTION = 2 (minimum difference of consecutive stack values) is "
                    "undocumented and discouraged by the guide; computed as THRESH_OPTION = 1 (median/MAD)");
        else if (o->thresh_option != 1)
            return mx_seterr(MX_ERR_PARAM, "Mosaic Outlier: THRESH_OPTION = %d (1 or 2)", o->thresh_option);
        if (o->temporal.bottom < 0 || o->temporal.top < 0)
            return mx_seterr(MX_ERR_PARAM, "Mosaic Outlier: BOTTOM_THRESHOLD/TOP_THRESHOLD = %g/%g must be >= 0",
                             o->temporal.bottom, o->temporal.top);
    }
    if (kind == KIND_DUAL && (o->max_outl_image < 0 || !(o->max_outl_frac >= 0)))
        return mx_seterr(MX_ERR_PARAM, "Mosaic Dual Outlier: MAX_OUTL_IMAGE/MAX_OUTL_FRAC = %d/%g must be >= 0",
                         o->max_outl_image, o->max_outl_frac);
    if ((st = mx_fif_read(fif_path, &fif)) != MX_OK) return st;

    mx_stack_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = in->n;
    spec.naxis1 = fif.naxis[0];
    spec.naxis2 = fif.naxis[1];
    if (kind == KIND_COVERAGE) {
        spec.images = in->coverages ? in->coverages : in->images;
    } else {
        spec.images = in->images;
        if (kind != KIND_DUAL) {
            spec.coverages = in->coverages;
            spec.sigmas = in->sigmas;
        }
    }
    if ((st = mx_stack_open(&spec, &s)) != MX_OK) goto exit;
    if ((st = mx_stack_tiling(s, o->tile_x, o->tile_y, &tiles, &ntiles)) != MX_OK) goto exit;
    if (!(r = calloc(1, sizeof *r))) {
        st = mx_seterr(MX_ERR_NOMEM, "result");
        goto exit;
    }
    r->n = in->n;
    r->ntiles = ntiles;
    c.o = o;
    c.kind = kind;
    c.have_sig = kind != KIND_DUAL && kind != KIND_COVERAGE && in->sigmas != NULL;
    c.layers = MX_STACK_IMAGE;
    if (kind == KIND_TEMPORAL || kind == KIND_BOX) {
        c.layers |= MX_STACK_COVERAGE;
        if (c.have_sig) c.layers |= MX_STACK_SIGMA;
    }
    c.npix = calloc((size_t)ntiles, sizeof *c.npix);
    c.nflag = calloc((size_t)ntiles, sizeof *c.nflag);
    c.nfb = calloc((size_t)ntiles, sizeof *c.nfb);
    c.max = calloc((size_t)ntiles, sizeof *c.max);
    if (!c.npix || !c.nflag || !c.nfb || !c.max) {
        st = mx_seterr(MX_ERR_NOMEM, "%d tiles", ntiles);
        goto exit;
    }
    if ((st = mx_mkdir_p(o->out_dir)) != MX_OK) goto exit;
    if (kind == KIND_COVERAGE) {
        if ((st = mx_fif_wcs(&fif, &w)) != MX_OK) goto exit;
        if (!(tmpl = mx_header_new())) {
            st = mx_seterr(MX_ERR_NOMEM, "header");
            goto exit;
        }
        if ((st = mx_wcs_to_header(w, tmpl)) != MX_OK) goto exit;
        c.tmpl = tmpl;
        c.crpix[0] = fif.crpix[0];
        c.crpix[1] = fif.crpix[1];
        c.dir = o->out_dir;
        if ((st = mx_stack_run_tiles(s, tiles, ntiles, 0, label[kind], coverage_tile, &c)) != MX_OK) goto exit;
        if (!(r->list = mx_path_join(o->out_dir, "covg_TilesList.tbl"))) {
            st = mx_seterr(MX_ERR_NOMEM, "path");
            goto exit;
        }
        if ((st = write_tile_table(tiles, ntiles, r->list)) != MX_OK) goto exit;
        if (covg_map) {
            if ((st = mx_combine_tiles(r->list, ".fits", fif_path, covg_map)) != MX_OK) goto exit;
            if (!(r->map = dup_str(covg_map))) {
                st = mx_seterr(MX_ERR_NOMEM, "path");
                goto exit;
            }
        }
    } else {
        if ((st = sink_open(&k, s, o->out_dir, suffix[kind])) != MX_OK) goto exit;
        c.k = &k;
        if (ntiles >= mx_threads()) {
            st = mx_stack_run_tiles(s, tiles, ntiles, o->memory_budget, label[kind], stack_tile, &c);
        } else {
            /* fewer tiles than threads: one tile at a time, its rows in parallel */
            mx_progress *pg = mx_progress_start(label[kind], ntiles, "tiles");
            for (int t = 0; t < ntiles && st == MX_OK; t++) {
                st = mx_stack_run_tiles(s, &tiles[t], 1, o->memory_budget, NULL, stack_tile, &c);
                mx_progress_step(pg, 1);
            }
            mx_progress_done(pg);
        }
        if (st != MX_OK) goto exit;
        header_fn hf = kind == KIND_TEMPORAL ? temporal_header : kind == KIND_BOX ? box_header : dual_header;
        if ((st = sink_finish(&k, fif.naxis[0], fif.naxis[1], hf, (void *)o)) != MX_OK) goto exit;
        if (!(r->outputs = calloc((size_t)in->n, sizeof *r->outputs))) {
            st = mx_seterr(MX_ERR_NOMEM, "outputs");
            goto exit;
        }
        for (int i = 0; i < in->n; i++) {
            r->outputs[i] = k.final[i];
            k.final[i] = NULL;
        }
        if (!(r->list = mx_path_join(o->out_dir, list[kind]))) {
            st = mx_seterr(MX_ERR_NOMEM, "path");
            goto exit;
        }
        if ((st = mx_list_write_paths(in->n, (const char *const *)r->outputs, r->list)) != MX_OK) goto exit;
    }
    for (int t = 0; t < ntiles; t++) {
        r->npixels += c.npix[t];
        r->nflagged += c.nflag[t];
        r->nfallback += c.nfb[t];
        if (c.max[t] > r->max) r->max = c.max[t];
    }
exit:
    if (k.n) sink_free(&k);
    free(c.npix);
    free(c.nflag);
    free(c.nfb);
    free(c.max);
    free(tiles);
    mx_header_free(tmpl);
    mx_wcs_free(w);
    mx_stack_free(s);
    if (st != MX_OK) {
        mx_outlier_result_free(r);
        return mx_preferr(st, "%s", who[kind]);
    }
    if (out) *out = r;
    else mx_outlier_result_free(r);
    return MX_OK;
}

int mx_outlier_run(const mx_outlier_inputs *in, const char *fif_path, const mx_outlier_run_opts *o,
                   mx_outlier_result **out) {
    return run_driver(KIND_TEMPORAL, in, fif_path, o, NULL, out);
}

int mx_box_outlier_run(const mx_outlier_inputs *in, const char *fif_path,
                       const mx_outlier_run_opts *o, mx_outlier_result **out) {
    return run_driver(KIND_BOX, in, fif_path, o, NULL, out);
}

int mx_dual_outlier_run(const mx_outlier_inputs *in, const char *fif_path,
                        const mx_outlier_run_opts *o, mx_outlier_result **out) {
    return run_driver(KIND_DUAL, in, fif_path, o, NULL, out);
}

int mx_coverage_run(const mx_outlier_inputs *in, const char *fif_path, const mx_outlier_run_opts *o,
                    const char *covg_map_path, mx_outlier_result **out) {
    return run_driver(KIND_COVERAGE, in, fif_path, o, covg_map_path, out);
}
