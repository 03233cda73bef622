/* coadd.c - Mosaic CoAdder and Quicklook co-addition, Fix Coverage
 * (mx_coadd.h; mosaic.md 5.6.18-5.6.19, overlap.md 4.3.9). */
#include "mopex/mopex.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const TOKENS[MX_PRODUCT_COUNT] = {
    "Image", "Cov", "Unc", "Std_Unc", "Time", "Median", "Outlier", "DualOutlier"};
static const char *const SUFFIXES[MX_PRODUCT_COUNT] = {
    "_Image.fits", "_Cov.fits", "_Unc.fits", "_Std_Unc.fits", "_Time.fits",
    "_Image.fits", "_Image.fits", "_Image.fits"};
static const char *const MOSAICS[MX_PRODUCT_COUNT] = {
    "mosaic.fits", "mosaic_cov.fits", "mosaic_unc.fits", "mosaic_std.fits", NULL,
    "median_mosaic.fits", "mosaic_outlier.fits", "mosaic_dual_outlier.fits"};

const char *mx_product_token(int p) { return p >= 0 && p < MX_PRODUCT_COUNT ? TOKENS[p] : NULL; }
const char *mx_product_suffix(int p) { return p >= 0 && p < MX_PRODUCT_COUNT ? SUFFIXES[p] : NULL; }
const char *mx_product_mosaic(int p) { return p >= 0 && p < MX_PRODUCT_COUNT ? MOSAICS[p] : NULL; }

/* Stem of a product's tile files: the median and outlier mosaics have
 * their own tile sets (000 l.3832-3858). */
static const char *tile_prefix(int p) {
    if (p == MX_PRODUCT_MEDIAN) return "coadd_median_";
    if (p == MX_PRODUCT_OUTLIER || p == MX_PRODUCT_DUAL_OUTLIER) return "";
    return "coadd_";
}

void mx_coadd_tile_name(int product, int id, char *buf, size_t size) {
    snprintf(buf, size, "%sTile_%03d%s", tile_prefix(product), id,
             mx_product_suffix(product) ? mx_product_suffix(product) : "");
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the per-tile computation --------------------------------------------------- */

typedef struct accum accum;

typedef struct {
    const mx_coadd_opts *o;
    const mx_header *tmpl;     /* FIF WCS header */
    double crpix[2];
    const char *bunit;
    const char *dir[MX_PRODUCT_COUNT];
    unsigned want;             /* product bits */
    unsigned layers;           /* stack layers to load */
    accum *acc;                /* one per thread */
    int sigma_w, time_w, have_sig;
    int extra_outlier, extra_dual;  /* extra layer index, or -1 */
    size_t acc_bytes;          /* work bytes per band pixel */
} coadd_ctx;

/* Per-band-pixel accumulators. The hot loop touches one pxacc (one cache
 * line) per stack entry; the optional sums live in their own arrays. */
typedef struct {
    double K;                  /* shift: I of the first counted entry */
    double W, S1;              /* sum w, sum w (I - K); S1 then holds O */
    double C;                  /* sum c */
    double V;                  /* sum w^2 s^2 */
    double T;                  /* sum c T */
    int32_t n, pad;            /* counted entries */
} pxacc;
typedef struct {
    double SV, SQ;             /* std: sum v, sum v (I - O)^2 */
} pxstd;
typedef struct {
    double best, v;            /* abs. minimum: |I|, I */
    float s;                   /* its sigma */
} pxmin;
typedef struct {
    double K, W, S;            /* outlier maps: shift, sum c, sum c (M - K) */
    int32_t n;
} pxout;

struct accum {
    pxacc *px;
    pxstd *sd;                 /* NULL without std */
    pxmin *mn;                 /* NULL without abs. minimum */
    pxout *ol[2];              /* outlier, dual outlier; NULL when not made */
    float *out[MX_PRODUCT_COUNT]; /* output band of each product made */
    double *med;               /* median scratch (stack depth) */
    size_t med_cap;
    size_t cap;                /* band pixels the arrays hold */
};

static void accum_free(accum *a) {
    free(a->px);
    free(a->sd);
    free(a->mn);
    free(a->ol[0]);
    free(a->ol[1]);
    for (int p = 0; p < MX_PRODUCT_COUNT; p++) free(a->out[p]);
    free(a->med);
}

static int want_outlier(const coadd_ctx *c, int e) {
    return (c->want & (1u << (e == 0 ? MX_PRODUCT_OUTLIER : MX_PRODUCT_DUAL_OUTLIER))) != 0;
}

/* Arrays for n band pixels, zeroed; kept from tile to tile (one set per
 * thread), so that pages are faulted in once, not once per tile. The sums
 * are zeroed again by finalize() as it reads them. */
static int accum_reserve(accum *a, const coadd_ctx *c, size_t n) {
    if (a->cap >= n) return MX_OK;
    double *med = a->med;
    size_t med_cap = a->med_cap;
    a->med = NULL;
    accum_free(a);
    memset(a, 0, sizeof *a);
    a->med = med;
    a->med_cap = med_cap;
    int ok = (a->px = calloc(n, sizeof *a->px)) != NULL;
    if (ok && (c->want & (1u << MX_PRODUCT_STD))) ok = (a->sd = calloc(n, sizeof *a->sd)) != NULL;
    if (ok && c->o->absolute_minimum) ok = (a->mn = malloc(n * sizeof *a->mn)) != NULL;
    for (int e = 0; e < 2 && ok; e++)
        if (want_outlier(c, e)) ok = (a->ol[e] = calloc(n, sizeof *a->ol[e])) != NULL;
    for (int p = 0; p < MX_PRODUCT_COUNT && ok; p++)
        if (c->want & (1u << p)) ok = (a->out[p] = malloc(n * sizeof *a->out[p])) != NULL;
    if (!ok) {
        accum_free(a);
        memset(a, 0, sizeof *a);
        return mx_seterr(MX_ERR_NOMEM, "coadd: work arrays of %zu pixels", n);
    }
    a->cap = n;
    return MX_OK;
}

/* Bytes per band pixel of the arrays above. */
static size_t accum_bytes(const coadd_ctx *c) {
    size_t b = sizeof(pxacc);
    for (int p = 0; p < MX_PRODUCT_COUNT; p++)
        if (c->want & (1u << p)) b += sizeof(float);
    if (c->want & (1u << MX_PRODUCT_STD)) b += sizeof(pxstd);
    if (c->o->absolute_minimum) b += sizeof(pxmin);
    for (int e = 0; e < 2; e++)
        if (want_outlier(c, e)) b += sizeof(pxout);
    return b;
}

/* Does this entry count? (c > 0 finite, I finite, and with sigma weighting
 * s finite and > 0) */
static inline int counts(float c, float v, float s, int sigma_w) {
    if (!(c > 0.0f) || !isfinite(c) || !isfinite(v)) return 0;
    if (sigma_w && !(s > 0.0f && isfinite(s))) return 0;
    return 1;
}

/* The loops below visit the band in strips of rows whose accumulators fit
 * in the L2 cache, and within a strip every slice in stack order: each
 * pixel still sees its entries in stack order, but the accumulators are
 * not streamed from memory once per frame. */
#define STRIP_BYTES (512 * 1024)

static long strip_rows(const mx_stack_load *ld) {
    size_t per_row = (size_t)ld->nx * sizeof(pxacc);
    long r = per_row ? (long)(STRIP_BYTES / per_row) : ld->ny;
    return r < 1 ? 1 : (r > ld->ny ? ld->ny : r);
}

/* Rows [*r0, *r1) of slice sl (its own row numbers) inside band rows [b0, b1). */
static int slice_rows(const mx_stack_load *ld, const mx_stack_slice *sl, long b0, long b1, long *r0,
                      long *r1) {
    long s0 = sl->y0 - ld->y0, s1 = s0 + sl->ny;
    long a = s0 > b0 ? s0 : b0, b = s1 < b1 ? s1 : b1;
    if (a >= b) return 0;
    *r0 = a - s0;
    *r1 = b - s0;
    return 1;
}

/* Pass 1 over the slices in stack order. */
static void accumulate(const coadd_ctx *c, const mx_stack_load *ld, accum *a) {
    const double *off = c->o->offsets;
    const int sigma_w = c->sigma_w, time_w = c->time_w;
    const long strip = strip_rows(ld);
    for (long b0 = 0; b0 < ld->ny; b0 += strip) {
        long b1 = b0 + strip < ld->ny ? b0 + strip : ld->ny;
        for (int k = 0; k < ld->n; k++) {
            const mx_stack_slice *sl = &ld->slices[k];
            long r0, r1;
            if (!slice_rows(ld, sl, b0, b1, &r0, &r1)) continue;
            const float *im = sl->layer[MX_LAYER_IMAGE], *cv = sl->layer[MX_LAYER_COVERAGE];
            const float *sg = c->have_sig ? sl->layer[MX_LAYER_SIGMA] : NULL;
            const float *ex[2] = {c->extra_outlier >= 0 ? sl->layer[MX_LAYER_EXTRA0 + c->extra_outlier] : NULL,
                                  c->extra_dual >= 0 ? sl->layer[MX_LAYER_EXTRA0 + c->extra_dual] : NULL};
            const double offset = off ? off[sl->frame] : 0.0;
            const double T = time_w ? sl->time : 1.0;
            for (long r = r0; r < r1; r++) {
                size_t src = (size_t)r * (size_t)sl->nx;
                size_t dst = (size_t)(sl->y0 - ld->y0 + r) * (size_t)ld->nx + (size_t)(sl->x0 - ld->x0);
                pxacc *P = a->px + dst;
                for (long i = 0; i < sl->nx; i++) {
                    float cf = cv[src + i], vf = im[src + i], sf = sg ? sg[src + i] : NAN;
                    if (!counts(cf, vf, sf, sigma_w)) continue;
                    pxacc *q = P + i;
                    double cc = cf, I = (double)vf - offset, sd = sf;
                    if (q->n == 0) q->K = I;
                    q->n++;
                    double w = sigma_w ? cc / (sd * sd) : (time_w ? cc * T : cc);
                    q->W += w;
                    q->S1 += w * (I - q->K);
                    q->C += cc;
                    q->V += w * w * sd * sd;
                    q->T += cc * T;
                    if (a->mn) {
                        pxmin *m = a->mn + dst + i;
                        double av = fabs(I);
                        if (q->n == 1 || av < m->best) {
                            m->best = av;
                            m->v = I;
                            m->s = sf;
                        }
                    }
                    for (int e = 0; e < 2; e++) {
                        if (!a->ol[e]) continue;
                        float mf = ex[e][src + i];
                        if (!isfinite(mf)) continue;
                        pxout *u = a->ol[e] + dst + i;
                        if (u->n == 0) u->K = mf;
                        u->n++;
                        u->W += cc;
                        u->S += cc * ((double)mf - u->K);
                    }
                }
            }
        }
    }
}

/* Pass 2 (std): sum v (I - O)^2 with O kept in px[].S1. */
static void accumulate_std(const coadd_ctx *c, const mx_stack_load *ld, accum *a) {
    const double *off = c->o->offsets;
    const long strip = strip_rows(ld);
    for (long b0 = 0; b0 < ld->ny; b0 += strip) {
        long b1 = b0 + strip < ld->ny ? b0 + strip : ld->ny;
        for (int k = 0; k < ld->n; k++) {
            const mx_stack_slice *sl = &ld->slices[k];
            long r0, r1;
            if (!slice_rows(ld, sl, b0, b1, &r0, &r1)) continue;
            const float *im = sl->layer[MX_LAYER_IMAGE], *cv = sl->layer[MX_LAYER_COVERAGE];
            const float *sg = c->have_sig ? sl->layer[MX_LAYER_SIGMA] : NULL;
            const double offset = off ? off[sl->frame] : 0.0;
            const double T = c->time_w ? sl->time : 1.0;
            for (long r = r0; r < r1; r++) {
                size_t src = (size_t)r * (size_t)sl->nx;
                size_t dst = (size_t)(sl->y0 - ld->y0 + r) * (size_t)ld->nx + (size_t)(sl->x0 - ld->x0);
                for (long i = 0; i < sl->nx; i++) {
                    float cf = cv[src + i], vf = im[src + i], sf = sg ? sg[src + i] : NAN;
                    if (!counts(cf, vf, sf, c->sigma_w)) continue;
                    size_t p = dst + (size_t)i;
                    double v = (double)cf * T, d = ((double)vf - offset) - a->px[p].S1;
                    a->sd[p].SV += v;
                    a->sd[p].SQ += v * d * d;
                }
            }
        }
    }
}

/* Upper median of the counted values at each band pixel, into a->out. */
static int band_median(const coadd_ctx *c, const mx_stack_load *ld, accum *a) {
    if ((size_t)ld->n > a->med_cap) {
        double *m = realloc(a->med, (size_t)ld->n * sizeof *m);
        if (!m) return mx_seterr(MX_ERR_NOMEM, "coadd: median scratch of %d values", ld->n);
        a->med = m;
        a->med_cap = (size_t)ld->n;
    }
    const double *off = c->o->offsets;
    for (long y = 0; y < ld->ny; y++) {
        long gy = ld->y0 + y;
        for (long x = 0; x < ld->nx; x++) {
            long gx = ld->x0 + x;
            size_t m = 0;
            for (int k = 0; k < ld->n; k++) {
                const mx_stack_slice *sl = &ld->slices[k];
                if (gx < sl->x0 || gx >= sl->x0 + sl->nx || gy < sl->y0 || gy >= sl->y0 + sl->ny) continue;
                size_t q = (size_t)(gy - sl->y0) * (size_t)sl->nx + (size_t)(gx - sl->x0);
                float sf = c->have_sig ? sl->layer[MX_LAYER_SIGMA][q] : NAN;
                float vf = sl->layer[MX_LAYER_IMAGE][q];
                if (!counts(sl->layer[MX_LAYER_COVERAGE][q], vf, sf, c->sigma_w)) continue;
                a->med[m++] = (double)vf - (off ? off[sl->frame] : 0.0);
            }
            a->out[MX_PRODUCT_MEDIAN][(size_t)y * (size_t)ld->nx + (size_t)x] =
                m ? (float)mx_select_inplace_d(a->med, m, m / 2) : NAN;
        }
    }
    return MX_OK;
}

/* O = K + S1 / W into S1 (for the std pass). */
static void mosaic_values(accum *a, size_t n) {
    for (size_t q = 0; q < n; q++) {
        pxacc *P = &a->px[q];
        P->S1 = (P->n && P->W != 0.0) ? P->K + P->S1 / P->W : NAN;
    }
}

/* One pass over the band: every product's output (the median apart) from
 * the sums, which are zeroed for the next band as they are read. With
 * o_ready, S1 already holds O. */
static void finalize(const coadd_ctx *c, accum *a, size_t n, int o_ready) {
    float *oi = a->out[MX_PRODUCT_IMAGE], *oc = a->out[MX_PRODUCT_COV], *ou = a->out[MX_PRODUCT_UNC];
    float *os = a->out[MX_PRODUCT_STD], *ot = a->out[MX_PRODUCT_TIME];
    float *oo[2] = {a->out[MX_PRODUCT_OUTLIER], a->out[MX_PRODUCT_DUAL_OUTLIER]};
    const pxacc zero = {0};
    for (size_t q = 0; q < n; q++) {
        pxacc *P = &a->px[q];
        int cnt = P->n;
        double O = o_ready ? P->S1 : ((cnt && P->W != 0.0) ? P->K + P->S1 / P->W : NAN);
        if (oi) oi[q] = a->mn ? (cnt ? (float)a->mn[q].v : NAN) : (float)O;
        if (oc) oc[q] = (float)P->C;
        if (ou) {
            if (a->mn) ou[q] = cnt ? a->mn[q].s : NAN;
            else if (!cnt || P->W == 0.0) ou[q] = NAN;
            else if (c->sigma_w) ou[q] = (float)(1.0 / sqrt(P->W));
            else ou[q] = (float)(sqrt(P->V) / P->W);
        }
        if (os) {
            pxstd *d = &a->sd[q];
            if (!cnt || isnan(O) || !(d->SV > 0.0)) os[q] = NAN;
            else if (cnt == 1) os[q] = 0.0f;
            else os[q] = (float)sqrt(d->SQ / d->SV);
            d->SV = d->SQ = 0.0;
        }
        if (ot) ot[q] = (float)P->T;
        for (int e = 0; e < 2; e++) {
            if (!oo[e]) continue;
            pxout *u = &a->ol[e][q];
            oo[e][q] = (u->n && u->W > 0.0) ? (float)(u->K + u->S / u->W) : NAN;
            u->n = 0;
            u->K = u->W = u->S = 0.0;
        }
        *P = zero;
    }
}

/* The header of a tile of product p. */
static int tile_header(const coadd_ctx *c, const mx_tile *t, int p, mx_header **out) {
    mx_header *h = mx_header_dup(c->tmpl);
    if (!h) return mx_seterr(MX_ERR_NOMEM, "tile header");
    int st = mx_header_set_double(h, "CRPIX1", c->crpix[0] - (double)t->x0, NULL);
    if (st == MX_OK) st = mx_header_set_double(h, "CRPIX2", c->crpix[1] - (double)t->y0, NULL);
    if (st == MX_OK)
        st = mx_header_set_long(h, "MINTOFFX", t->x0, "0-based x offset of the tile in the mosaic grid");
    if (st == MX_OK)
        st = mx_header_set_long(h, "MINTOFFY", t->y0, "0-based y offset of the tile in the mosaic grid");
    int has_unit = p == MX_PRODUCT_IMAGE || p == MX_PRODUCT_UNC || p == MX_PRODUCT_STD ||
                   p == MX_PRODUCT_MEDIAN;
    if (st == MX_OK && has_unit && c->bunit[0])
        st = mx_header_set_string(h, "BUNIT", c->bunit, "units of the input images");
    if (st == MX_OK && p == MX_PRODUCT_TIME)
        st = mx_header_set_string(h, "BUNIT", "s", "exposure time sum c T of the stack");
    if (st == MX_OK) {
        char buf[160];
        snprintf(buf, sizeof buf, "%s tile %d (%s), mopexlua %s",
                 c->o->program && *c->o->program ? c->o->program : "mosaic_coadder", t->id,
                 mx_product_token(p), mx_version());
        st = mx_header_add_history(h, buf);
    }
    if (st != MX_OK) {
        mx_header_free(h);
        return st;
    }
    *out = h;
    return MX_OK;
}

static int coadd_tile(const mx_stack *s, const mx_tile *t, mx_stack_load *ld, size_t budget,
                      int thread, void *vctx) {
    const coadd_ctx *c = vctx;
    int st = MX_OK;
    mx_fits_writer *wr[MX_PRODUCT_COUNT] = {0};
    accum *ap = &c->acc[thread];
    long rows = mx_stack_band_rows(s, t, c->layers, c->acc_bytes, budget);
    if ((st = accum_reserve(ap, c, (size_t)rows * (size_t)t->nx)) != MX_OK) return st;
    accum a = *ap; /* a copy of the pointers; the median scratch may grow */
    for (int p = 0; p < MX_PRODUCT_COUNT && st == MX_OK; p++) {
        if (!(c->want & (1u << p))) continue;
        char name[96];
        mx_coadd_tile_name(p, t->id, name, sizeof name);
        char *path = mx_path_join(c->dir[p], name);
        mx_header *h = NULL;
        if (!path) st = mx_seterr(MX_ERR_NOMEM, "tile path");
        if (st == MX_OK) st = tile_header(c, t, p, &h);
        if (st == MX_OK) st = mx_fits_writer_open(path, t->nx, t->ny, -32, h, &wr[p]);
        mx_header_free(h);
        free(path);
    }
    for (long by = 0; by < t->ny && st == MX_OK; by += rows) {
        long h = rows < t->ny - by ? rows : t->ny - by;
        size_t n = (size_t)h * (size_t)t->nx;
        if ((st = mx_check_interrupt()) != MX_OK) break;
        if ((st = mx_stack_load_rect(s, t->x0, t->y0 + by, t->nx, h, c->layers, ld)) != MX_OK) break;
        accumulate(c, ld, &a);
        if (a.sd) {
            mosaic_values(&a, n);
            accumulate_std(c, ld, &a);
        }
        if (a.out[MX_PRODUCT_MEDIAN]) st = band_median(c, ld, &a);
        finalize(c, &a, n, a.sd != NULL);
        for (int p = 0; p < MX_PRODUCT_COUNT && st == MX_OK; p++)
            if (wr[p]) st = mx_fits_writer_put_rows(wr[p], by, h, a.out[p]);
    }
    for (int p = 0; p < MX_PRODUCT_COUNT; p++) {
        if (!wr[p]) continue;
        if (st == MX_OK) st = mx_fits_writer_commit(wr[p]);
        else mx_fits_writer_abort(wr[p]);
    }
    if (st == MX_OK) {
        ap->med = a.med;
        ap->med_cap = a.med_cap;
    } else {
        /* sums may be left half-made: the next tile of this thread starts afresh */
        accum_free(&a);
        memset(ap, 0, sizeof *ap);
        mx_preferr(st, "coadd tile %d", t->id);
    }
    return st;
}

/* ---- tables ------------------------------------------------------------------------ */

static int write_text_atomic(const char *path, const char *text, size_t len) {
    char *tmp = mx_temp_name_for(path);
    if (!tmp) return mx_seterr(MX_ERR_NOMEM, "temporary name for '%s'", path);
    FILE *f = fopen(tmp, "w");
    int st = MX_OK;
    if (!f) {
        st = mx_seterr(MX_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    } else {
        if (fwrite(text, 1, len, f) != len) st = mx_seterr(MX_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        if (fclose(f) != 0 && st == MX_OK) st = mx_seterr(MX_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    if (st == MX_OK) st = mx_commit_temp(tmp, path);
    else remove(tmp);
    free(tmp);
    return st;
}

/* coadd_tile_bcd.txt: "id count i1 i2 ..." per tile (0-based indices). */
static int write_bcd(const mx_stack *s, const mx_tile *tiles, int ntiles, const char *path) {
    int n = mx_stack_count(s), st = MX_OK;
    int *idx = malloc((size_t)n * sizeof *idx);
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    if (!idx || !text) {
        st = mx_seterr(MX_ERR_NOMEM, "tile list '%s'", path);
        goto exit;
    }
    for (int k = 0; k < ntiles; k++) {
        int m = mx_stack_select(s, tiles[k].x0, tiles[k].y0, tiles[k].nx, tiles[k].ny, idx);
        size_t need = len + 32 + (size_t)m * 12;
        if (need > cap) {
            while (cap < need) cap *= 2;
            char *nt = realloc(text, cap);
            if (!nt) {
                st = mx_seterr(MX_ERR_NOMEM, "tile list '%s'", path);
                goto exit;
            }
            text = nt;
        }
        len += (size_t)sprintf(text + len, "%d %d", tiles[k].id, m);
        for (int j = 0; j < m; j++) len += (size_t)sprintf(text + len, " %d", idx[j]);
        text[len++] = '\n';
    }
    st = write_text_atomic(path, text, len);
exit:
    free(idx);
    free(text);
    return st;
}

/* tiles.tbl: mx_tiles_table plus the manifest of the tiles' products. */
static int write_tiles_table(const mx_tile *tiles, int ntiles, const char *stem_prefix,
                             const char *program, const char *products, const char *path) {
    mx_table *t = NULL;
    int st = mx_tiles_table(tiles, ntiles, stem_prefix, NULL, program, &t);
    if (st == MX_OK && products) st = mx_table_set_keyword(t, "products", products, 'c');
    if (st == MX_OK) st = mx_table_write_ipac(t, path);
    mx_table_free(t);
    return st;
}

static int write_in(const char *dir, const char *name, char **out) {
    *out = mx_path_join(dir, name);
    return *out ? MX_OK : mx_seterr(MX_ERR_NOMEM, "path in '%s'", dir);
}

/* ---- the driver -------------------------------------------------------------------- */

/* The instrument's identity from the first frame (APEX chooses its default
 * Angular_Distance by INSTRUME and CHNLNUM, formats.md 1.4). */
static int identity_cards(const char *path, mx_header *dst) {
    static const char *const keys[] = {"TELESCOP", "INSTRUME", "CHNLNUM"};
    mx_header *h = NULL;
    long nx, ny;
    int bitpix, st = mx_fits_read_header(path, &h, &nx, &ny, &bitpix);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && st == MX_OK; k++) {
        int i = mx_header_find(h, keys[k]);
        if (i >= 0) st = mx_header_append_card(dst, h->cards[i]);
    }
    mx_header_free(h);
    return st;
}

int mx_coadd_run(const mx_coadd_inputs *in, const char *fif_path, const mx_coadd_opts *o,
                 const mx_coadd_dirs *dirs, mx_coadd_result *res) {
    int st = MX_OK, ntiles = 0, nacc = 0;
    mx_fif fif;
    mx_wcs *w = NULL;
    mx_header *tmpl = NULL;
    mx_stack *s = NULL;
    mx_tile *tiles = NULL;
    char *path = NULL;
    coadd_ctx c;
    memset(&c, 0, sizeof c);
    if (res) memset(res, 0, sizeof *res);
    if (!in || in->n < 1 || !in->images) return mx_seterr(MX_ERR_PARAM, "coadd: no interpolated images");
    if (!dirs || !dirs->coadd || !*dirs->coadd) return mx_seterr(MX_ERR_PARAM, "coadd: no output directory");
    if (o->tilemax_x < 1 || o->tilemax_y < 1)
        return mx_seterr(MX_ERR_PARAM, "coadd: TILEMAX_X/TILEMAX_Y = %ld/%ld must be >= 1", o->tilemax_x,
                         o->tilemax_y);
    if (o->sigma_weighted && !in->sigmas)
        return mx_seterr(MX_ERR_PARAM,
                         "coadd: sigma_weighted_coadd needs the interpolated uncertainty images");
    c.o = o;
    c.have_sig = in->sigmas != NULL;
    c.sigma_w = o->sigma_weighted;
    c.time_w = o->time_keyword && *o->time_keyword;
    if (c.sigma_w && c.time_w)
        mx_warn("coadd: sigma_weighted_coadd and INTEG_TIME_KWD '%s' both set; sigma weighting is used "
                "(the time keyword still gives the exposure-time tiles and the std weights)",
                o->time_keyword);
    if ((st = mx_fif_read(fif_path, &fif)) != MX_OK) goto exit;
    c.crpix[0] = fif.crpix[0];
    c.crpix[1] = fif.crpix[1];
    if ((st = mx_fif_wcs(&fif, &w)) != MX_OK) goto exit;
    if (!(tmpl = mx_header_new())) {
        st = mx_seterr(MX_ERR_NOMEM, "header");
        goto exit;
    }
    if ((st = mx_wcs_to_header(w, tmpl)) != MX_OK) goto exit;
    c.tmpl = tmpl;

    mx_stack_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = in->n;
    spec.images = in->images;
    spec.coverages = in->coverages;
    spec.sigmas = in->sigmas;
    spec.time_keyword = c.time_w ? o->time_keyword : NULL;
    spec.naxis1 = fif.naxis[0];
    spec.naxis2 = fif.naxis[1];
    c.extra_outlier = c.extra_dual = -1;
    if (o->create_outlier && in->outliers) {
        c.extra_outlier = spec.nextra;
        spec.extra_names[spec.nextra] = "outlier map";
        spec.extras[spec.nextra++] = in->outliers;
    }
    if (o->create_dual_outlier && in->dual_outliers) {
        c.extra_dual = spec.nextra;
        spec.extra_names[spec.nextra] = "dual outlier map";
        spec.extras[spec.nextra++] = in->dual_outliers;
    }
    if ((st = mx_stack_open(&spec, &s)) != MX_OK) goto exit;
    c.bunit = mx_stack_bunit(s);
    if ((st = identity_cards(in->images[0], tmpl)) != MX_OK) goto exit;

    c.want = (1u << MX_PRODUCT_IMAGE) | (1u << MX_PRODUCT_COV);
    if (c.have_sig && o->create_unc) c.want |= 1u << MX_PRODUCT_UNC;
    if (o->create_std) c.want |= 1u << MX_PRODUCT_STD;
    if (c.time_w) c.want |= 1u << MX_PRODUCT_TIME;
    if (o->create_median) c.want |= 1u << MX_PRODUCT_MEDIAN;
    if (c.extra_outlier >= 0) c.want |= 1u << MX_PRODUCT_OUTLIER;
    if (c.extra_dual >= 0) c.want |= 1u << MX_PRODUCT_DUAL_OUTLIER;
    c.layers = MX_STACK_IMAGE | MX_STACK_COVERAGE;
    if (c.have_sig && (c.sigma_w || (c.want & (1u << MX_PRODUCT_UNC)) || o->absolute_minimum))
        c.layers |= MX_STACK_SIGMA;
    c.have_sig = (c.layers & MX_STACK_SIGMA) != 0;
    if (c.extra_outlier >= 0) c.layers |= MX_STACK_EXTRA(c.extra_outlier);
    if (c.extra_dual >= 0) c.layers |= MX_STACK_EXTRA(c.extra_dual);
    c.acc_bytes = accum_bytes(&c);

    for (int p = 0; p < MX_PRODUCT_COUNT; p++) c.dir[p] = dirs->coadd;
    c.dir[MX_PRODUCT_OUTLIER] = dirs->outlier;
    c.dir[MX_PRODUCT_DUAL_OUTLIER] = dirs->dual_outlier;
    for (int p = 0; p < MX_PRODUCT_COUNT; p++) {
        if (!(c.want & (1u << p))) continue;
        if (!c.dir[p] || !*c.dir[p]) {
            st = mx_seterr(MX_ERR_PARAM, "coadd: no output directory for the %s tiles", mx_product_token(p));
            goto exit;
        }
        if ((st = mx_mkdir_p(c.dir[p])) != MX_OK) goto exit;
    }
    /* a failed run must not leave an older manifest pointing at new tiles */
    if ((st = write_in(dirs->coadd, "coadd_tiles.tbl", &path)) != MX_OK) goto exit;
    if (mx_file_exists(path)) remove(path);
    free(path);
    path = NULL;

    if ((st = mx_stack_tiling(s, o->tilemax_x, o->tilemax_y, &tiles, &ntiles)) != MX_OK) goto exit;
    nacc = mx_threads();
    if (!(c.acc = calloc((size_t)nacc, sizeof *c.acc))) {
        st = mx_seterr(MX_ERR_NOMEM, "coadd: %d work sets", nacc);
        goto exit;
    }
    double t0 = now_seconds();
    st = mx_stack_run_tiles(s, tiles, ntiles, o->memory_budget,
                            o->program && *o->program ? o->program : "coadd", coadd_tile, &c);
    if (st != MX_OK) goto exit;
    double t1 = now_seconds();

    /* tables: per product set, then the manifest last */
    const char *prog = o->program && *o->program ? o->program : "mosaic_coadder";
    if (c.want & (1u << MX_PRODUCT_MEDIAN)) {
        if ((st = write_in(dirs->coadd, "coadd_median_tile_bcd.txt", &path)) != MX_OK) goto exit;
        if ((st = write_bcd(s, tiles, ntiles, path)) != MX_OK) goto exit;
        free(path);
        if ((st = write_in(dirs->coadd, "coadd_median_tiles.tbl", &path)) != MX_OK) goto exit;
        if ((st = write_tiles_table(tiles, ntiles, "coadd_median_", prog, "Image", path)) != MX_OK) goto exit;
        free(path);
        path = NULL;
    }
    for (int p = MX_PRODUCT_OUTLIER; p <= MX_PRODUCT_DUAL_OUTLIER; p++) {
        if (!(c.want & (1u << p))) continue;
        if ((st = write_in(c.dir[p], "tile_bcd.txt", &path)) != MX_OK) goto exit;
        if ((st = write_bcd(s, tiles, ntiles, path)) != MX_OK) goto exit;
        free(path);
        if ((st = write_in(c.dir[p], "tiles.tbl", &path)) != MX_OK) goto exit;
        if ((st = write_tiles_table(tiles, ntiles, "", prog, "Image", path)) != MX_OK) goto exit;
        free(path);
        path = NULL;
    }
    if ((st = write_in(dirs->coadd, "coadd_tile_bcd.txt", &path)) != MX_OK) goto exit;
    if ((st = write_bcd(s, tiles, ntiles, path)) != MX_OK) goto exit;
    free(path);
    char products[160] = "";
    for (int p = 0; p < MX_PRODUCT_COUNT; p++) {
        if (!(c.want & (1u << p))) continue;
        if (products[0]) strcat(products, " ");
        strcat(products, mx_product_token(p));
    }
    if ((st = write_in(dirs->coadd, "coadd_tiles.tbl", &path)) != MX_OK) goto exit;
    if ((st = write_tiles_table(tiles, ntiles, "coadd_", prog, products, path)) != MX_OK) goto exit;
    mx_info("%s: %d frames, %d tiles (%ld x %ld grid) in %.2f s", prog, in->n, ntiles, fif.naxis[0],
            fif.naxis[1], t1 - t0);
    if (res) {
        res->ntiles = ntiles;
        res->products = c.want;
        res->seconds = t1 - t0;
    }
exit:
    for (int k = 0; k < nacc && c.acc; k++) accum_free(&c.acc[k]);
    free(c.acc);
    free(path);
    free(tiles);
    mx_stack_free(s);
    mx_header_free(tmpl);
    mx_wcs_free(w);
    return st;
}

/* ---- Fix Coverage --------------------------------------------------------------------- */

int mx_fix_coverage(const float *in, long nx, long ny, double min_single, double min_block, float *out) {
    if (!in || !out || nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "fix coverage: map of %ld x %ld pixels", nx, ny);
    if (in == out) return mx_seterr(MX_ERR_PARAM, "fix coverage: output must not alias the input");
    /* column sums of 3 rows (y-1, y, y+1), then 3-wide row sums: the block
     * sum in a fixed order of additions */
    double *col = malloc((size_t)nx * sizeof *col);
    if (!col) return mx_seterr(MX_ERR_NOMEM, "fix coverage: %ld columns", nx);
    double thr = 9.0 * min_block;
    for (long y = 0; y < ny; y++) {
        for (long x = 0; x < nx; x++) {
            double sum = 0.0;
            for (long yy = y - 1; yy <= y + 1; yy++) {
                if (yy < 0 || yy >= ny) continue;
                float v = in[(size_t)yy * (size_t)nx + (size_t)x];
                if (isfinite(v)) sum += v;
            }
            col[x] = sum;
        }
        for (long x = 0; x < nx; x++) {
            double block = col[x] + (x > 0 ? col[x - 1] : 0.0) + (x + 1 < nx ? col[x + 1] : 0.0);
            float v = in[(size_t)y * (size_t)nx + (size_t)x];
            float r = isfinite(v) ? v : 0.0f;
            if ((double)r < min_single || block < thr) r = 0.0f;
            out[(size_t)y * (size_t)nx + (size_t)x] = r;
        }
    }
    free(col);
    return MX_OK;
}

typedef struct {
    const char *const *in, *const *out;
    double min_single, min_block;
} fix_ctx;

static int fix_one(long i, void *vctx, int thread) {
    (void)thread;
    fix_ctx *c = vctx;
    mx_image *img = NULL, *res = NULL;
    int st = mx_image_read(c->in[i], &img);
    if (st == MX_OK) st = mx_image_dup(img, &res);
    if (st == MX_OK) st = mx_fix_coverage(img->data, img->nx, img->ny, c->min_single, c->min_block, res->data);
    if (st == MX_OK) {
        char buf[160];
        snprintf(buf, sizeof buf, "fix_coverage: Min_Single_Coverage %g, Min_Block_Coverage %g",
                 c->min_single, c->min_block);
        st = mx_header_add_history(res->hdr, buf);
    }
    if (st == MX_OK) st = mx_image_write(res, c->out[i]);
    mx_image_free(img);
    mx_image_free(res);
    return st;
}

int mx_fix_coverage_run(int n, const char *const *in, const char *const *out, double min_single,
                        double min_block) {
    if (n < 0 || (n > 0 && (!in || !out))) return mx_seterr(MX_ERR_PARAM, "fix coverage: no maps");
    fix_ctx c = {in, out, min_single, min_block};
    return mx_parallel_for(n, fix_one, &c);
}
