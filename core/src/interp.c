/* interp.c - Mosaic Interpolate and Mosaic Reinterpolate at file level
 * (contract in mx_interp.h; mosaic.md 5.6.8, 5.6.17; overlap.md 4.3.7). */
#include "mopex/mx_interp.h"
#include "mopex/mopex.h"
#include "scratch_priv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "mosaic_interp"

/* ---- small helpers -------------------------------------------------------- */

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* "<dir>/<a><b><c>", caller frees; NULL when out of memory. */
static char *out_path(const char *dir, const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *name = malloc(n);
    if (!name) return NULL;
    snprintf(name, n, "%s%s%s", a, b, c);
    char *p = mx_path_join(dir, name);
    free(name);
    return p;
}

/* Keyword of a card, upper case, without padding ("" for blank cards). */
static void card_key(const char *card, char key[9]) {
    int n = 0;
    while (n < 8 && card[n] && card[n] != ' ' && card[n] != '=') {
        key[n] = (char)toupper((unsigned char)card[n]);
        n++;
    }
    key[n] = '\0';
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* "<digits>" optionally followed by one alternate-WCS letter. */
static int axis_suffix(const char *s) {
    size_t n = strlen(s);
    if (n == 0) return 0;
    if (isupper((unsigned char)s[n - 1]) && n > 1) n--;
    for (size_t k = 0; k < n; k++)
        if (!isdigit((unsigned char)s[k])) return 0;
    return 1;
}

/* "<digits>_<digits>" optionally followed by an alternate-WCS letter. */
static int pair_suffix(const char *s) {
    const char *u = strchr(s, '_');
    if (!u || u == s) return 0;
    for (const char *p = s; p < u; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return axis_suffix(u + 1);
}

/* Cards of the input header that must not reach the output: its WCS and
 * distortion (the output has the grid's own), data scaling and range, and
 * checksums (they describe the input's pixels). */
static int dropped_key(const char *k) {
    static const char *const exact[] = {
        "WCSAXES", "WCSNAME", "LONPOLE", "LATPOLE", "RADESYS", "RADECSYS", "EQUINOX", "EPOCH",
        "A_ORDER", "B_ORDER", "AP_ORDER", "BP_ORDER", "A_DMAX",  "B_DMAX",   "BSCALE",  "BZERO",
        "BLANK",   "DATAMIN", "DATAMAX", "CHECKSUM", "DATASUM", "MINTOFFX", "MINTOFFY", "INTRPMTH",
        "FINERES", "DRIZFAC", "GRIDRAT", "INTALPHA", "NUSABLE", "INHASH",   NULL};
    for (int i = 0; exact[i]; i++)
        if (strcmp(k, exact[i]) == 0) return 1;
    static const char *const axis[] = {"CTYPE", "CRVAL", "CRPIX", "CDELT", "CROTA",
                                       "CUNIT", "CRDER", "CSYER", "CNAME", NULL};
    for (int i = 0; axis[i]; i++) {
        size_t n = strlen(axis[i]);
        if (strncmp(k, axis[i], n) == 0 && axis_suffix(k + n)) return 1;
    }
    static const char *const pair[] = {"CD", "PC", "PV", "PS", NULL};
    for (int i = 0; pair[i]; i++)
        if (strncmp(k, pair[i], 2) == 0 && pair_suffix(k + 2)) return 1;
    /* SIP coefficients A_p_q, B_p_q, AP_p_q, BP_p_q */
    const char *r = NULL;
    if (strncmp(k, "AP_", 3) == 0 || strncmp(k, "BP_", 3) == 0)
        r = k + 3;
    else if (strncmp(k, "A_", 2) == 0 || strncmp(k, "B_", 2) == 0)
        r = k + 2;
    if (r) {
        const char *u = strchr(r, '_');
        if (u && u > r) {
            char a[9];
            size_t n = (size_t)(u - r);
            if (n < sizeof a) {
                memcpy(a, r, n);
                a[n] = '\0';
                if (all_digits(a) && all_digits(u + 1)) return 1;
            }
        }
    }
    return 0;
}

/* Append the input's cards (minus the dropped ones) after the generated
 * ones, in their order (a keyword the input repeats stays repeated, as it
 * was); a keyword the generated part already has keeps the generated value.
 * Only the generated cards are searched: a few dozen, not the whole header
 * per card. */
static int carry_input_cards(mx_header *dst, const mx_header *src) {
    int ngen = dst->ncards;
    char k[9], g[9];
    for (int i = 0; i < src->ncards; i++) {
        const char *card = src->cards[i];
        card_key(card, k);
        if (k[0] && mx_header_is_structural(k)) continue;
        int commentary = k[0] == '\0' || !strcmp(k, "COMMENT") || !strcmp(k, "HISTORY") ||
                         !strcmp(k, "CONTINUE") || card[8] != '=';
        if (!commentary) {
            if (dropped_key(k)) continue;
            int have = 0;
            for (int j = 0; j < ngen && !have; j++) {
                card_key(dst->cards[j], g);
                have = strcmp(g, k) == 0;
            }
            if (have) continue;
        }
        int st = mx_header_append_card(dst, card);
        if (st != MX_OK) return st;
    }
    return MX_OK;
}

/* 64-bit FNV-1a, fed little-endian words so the fingerprint does not depend
 * on the machine. */
typedef struct {
    uint64_t h;
} fnv;
static inline void fnv_byte(fnv *f, unsigned char b) {
    f->h ^= b;
    f->h *= 0x100000001b3ULL;
}
static inline void fnv_u32(fnv *f, uint32_t v) {
    for (int s = 0; s < 32; s += 8) fnv_byte(f, (unsigned char)(v >> s));
}
/* Bulk data go in whole 32-bit words (a float's bit pattern; four flag
 * bytes little-endian) over four independent lanes folded at the end: a
 * frame's fingerprint costs ~0.1 ms instead of ~1 ms. */
static void fnv_words(fnv *f, const uint32_t *w, size_t n) {
    const uint64_t P = 0x100000001b3ULL;
    uint64_t h[4] = {f->h, f->h ^ 1, f->h ^ 2, f->h ^ 3};
    size_t k = 0;
    for (; k + 4 <= n; k += 4)
        for (int l = 0; l < 4; l++) h[l] = (h[l] ^ w[k + (size_t)l]) * P;
    for (; k < n; k++) h[0] = (h[0] ^ w[k]) * P;
    f->h = h[0];
    for (int l = 1; l < 4; l++) {
        fnv_u32(f, (uint32_t)h[l]);
        fnv_u32(f, (uint32_t)(h[l] >> 32));
    }
}
static void fnv_floats(fnv *f, const float *v, size_t n) {
    uint32_t w[256];
    for (size_t k0 = 0; k0 < n; k0 += 256) {
        size_t m = n - k0 < 256 ? n - k0 : 256;
        memcpy(w, v + k0, m * sizeof *w);
        fnv_words(f, w, m);
    }
}
static void fnv_flags(fnv *f, const uint8_t *b, size_t n) {
    uint32_t w[256];
    size_t nw = n / 4;
    for (size_t k0 = 0; k0 < nw; k0 += 256) {
        size_t m = nw - k0 < 256 ? nw - k0 : 256;
        for (size_t k = 0; k < m; k++) {
            const uint8_t *p = b + 4 * (k0 + k);
            w[k] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        }
        fnv_words(f, w, m);
    }
    for (size_t k = 4 * nw; k < n; k++) fnv_byte(f, b[k]);
}

/* Byte copy of a file through a temporary name (atomic). */
static int copy_file(const char *from, const char *to) {
    int st = MX_OK;
    FILE *in = NULL, *out = NULL;
    char *tmp = NULL, *buf = NULL;
    if (!(in = fopen(from, "rb"))) {
        st = mx_seterr(MX_ERR_IO, "cannot open '%s': %s", from, strerror(errno));
        goto exit;
    }
    if (!(tmp = mx_temp_name_for(to)) || !(buf = malloc(1 << 20))) {
        st = mx_seterr(MX_ERR_NOMEM, "copying '%s'", from);
        goto exit;
    }
    if (!(out = fopen(tmp, "wb"))) {
        st = mx_seterr(MX_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto exit;
    }
    size_t got;
    while ((got = fread(buf, 1, 1 << 20, in)) > 0) {
        if (fwrite(buf, 1, got, out) != got) {
            st = mx_seterr(MX_ERR_IO, "writing '%s': %s", tmp, strerror(errno));
            goto exit;
        }
    }
    if (ferror(in)) {
        st = mx_seterr(MX_ERR_IO, "reading '%s': %s", from, strerror(errno));
        goto exit;
    }
    int e = fclose(out);
    out = NULL;
    if (e != 0) {
        st = mx_seterr(MX_ERR_IO, "writing '%s': %s", tmp, strerror(errno));
        goto exit;
    }
    st = mx_commit_temp(tmp, to);
exit:
    if (out) fclose(out);
    if (in) fclose(in);
    if (st != MX_OK && tmp) remove(tmp);
    free(tmp);
    free(buf);
    return st;
}

/* ---- names ----------------------------------------------------------------- */

static void free_names(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

typedef struct {
    char **names;
    int idx;
} name_ref;

static int cmp_names(const void *a, const void *b) {
    const name_ref *x = a, *y = b;
    int c = strcmp(x->names[x->idx], y->names[y->idx]);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Index of the first pair of equal names, or -1 (pair in *a, *b). */
static int find_duplicate(char **names, int n, name_ref *refs, int *a, int *b) {
    for (int i = 0; i < n; i++) refs[i].names = names, refs[i].idx = i;
    qsort(refs, (size_t)n, sizeof *refs, cmp_names);
    for (int i = 1; i < n; i++)
        if (strcmp(names[refs[i - 1].idx], names[refs[i].idx]) == 0) {
            *a = refs[i - 1].idx;
            *b = refs[i].idx;
            return i;
        }
    return -1;
}

int mx_interp_names(int n, const char *const *images, char ***out) {
    int st = MX_OK;
    char **names = NULL;
    name_ref *refs = NULL;
    unsigned char *dup = NULL;
    *out = NULL;
    if (n < 1 || !images) return mx_seterr(MX_ERR_PARAM, "mosaic interpolate: no input images");
    names = calloc((size_t)n, sizeof *names);
    refs = malloc((size_t)n * sizeof *refs);
    dup = calloc((size_t)n, 1);
    if (!names || !refs || !dup) {
        st = mx_seterr(MX_ERR_NOMEM, "names of %d images", n);
        goto exit;
    }
    for (int i = 0; i < n; i++) {
        char b[1024];
        mx_path_basename_noext(images[i], b, sizeof b);
        if (!b[0]) {
            st = mx_seterr(MX_ERR_PARAM, "image %d ('%s') has no file name", i + 1, images[i]);
            goto exit;
        }
        if (!(names[i] = dup_str(b))) {
            st = mx_seterr(MX_ERR_NOMEM, "image names");
            goto exit;
        }
    }
    /* mark every member of a group of equal names, then prefix them all */
    for (int i = 0; i < n; i++) refs[i].names = names, refs[i].idx = i;
    qsort(refs, (size_t)n, sizeof *refs, cmp_names);
    for (int i = 1; i < n; i++)
        if (strcmp(names[refs[i - 1].idx], names[refs[i].idx]) == 0)
            dup[refs[i - 1].idx] = dup[refs[i].idx] = 1;
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!dup[i]) continue;
        any = 1;
        size_t len = strlen(names[i]) + 16;
        char *p = malloc(len);
        if (!p) {
            st = mx_seterr(MX_ERR_NOMEM, "image names");
            goto exit;
        }
        snprintf(p, len, "%d_%s", i + 1, names[i]);
        free(names[i]);
        names[i] = p;
    }
    if (any) {
        int a, b;
        if (find_duplicate(names, n, refs, &a, &b) >= 0) {
            st = mx_seterr(MX_ERR_PARAM, "images %d ('%s') and %d ('%s') would both be written as "
                           "interp_%s.fits; rename one of them", a + 1, images[a], b + 1,
                           images[b], names[a]);
            goto exit;
        }
    }
    *out = names;
    names = NULL;
exit:
    free_names(names, n);
    free(refs);
    free(dup);
    return st;
}

/* ---- the output grid --------------------------------------------------------- */

int mx_interp_grid(const char *fif_path, double size_x, double size_y, double ratio_x,
                   double ratio_y, const char *mosaic_fif_path, mx_fif *grid) {
    mx_fif fif;
    int st;
    if (!fif_path || !grid) return mx_seterr(MX_ERR_PARAM, "mx_interp_grid: FIF path and result required");
    if ((st = mx_fif_read(fif_path, &fif)) != MX_OK) return st;
    if ((st = mx_fif_rescale(&fif, size_x, size_y, ratio_x, ratio_y, grid)) != MX_OK)
        return mx_preferr(st, "FIF '%s'", fif_path);
    if (mosaic_fif_path && (st = mx_fif_write(grid, PROGRAM, mosaic_fif_path)) != MX_OK) return st;
    return MX_OK;
}

/* ---- the run --------------------------------------------------------------- */

typedef struct {
    const mx_interp_inputs *in;
    const mx_fif *grid;
    mx_wcs **gwcs;          /* one grid WCS per thread */
    const mx_image *pmask;
    mx_resample_opts ro;    /* counts decided per frame */
    uint32_t dce_fatal, pmask_fatal, rmask_fatal;
    int use_bright;
    const char *out_dir;
    const char *first_dir;  /* Reinterpolate: the first pass; NULL otherwise */
    int allow_copy;
    char **names;
    char **img_path, **cov_path, **sig_path; /* per frame, owned here until moved */
    mx_interp_frame *frames;
    mx_progress *progress;
} run_ctx;

static int size_check(const mx_image *m, const mx_image *img, const char *what, const char *path,
                      const char *ipath) {
    if (m->nx == img->nx && m->ny == img->ny) return MX_OK;
    return mx_seterr(MX_ERR_MISMATCH, "%s '%s' is %ld x %ld pixels, image '%s' is %ld x %ld", what,
                     path, m->nx, m->ny, ipath, img->nx, img->ny);
}

/* OR the fatal bits of one integer mask file into the bad map. */
static int apply_mask_file(const char *path, const mx_image *img, const char *ipath, uint32_t fatal,
                           const char *what, uint8_t *bad) {
    mx_image *m = NULL;
    int st = mx_mask_read(path, &m);
    if (st == MX_OK) st = size_check(m, img, what, path, ipath);
    if (st == MX_OK && fatal) {
        size_t n = (size_t)img->nx * (size_t)img->ny;
        for (size_t k = 0; k < n; k++) bad[k] |= mx_mask_is_fatal(m->mask[k], fatal);
    }
    mx_image_free(m);
    return st;
}

/* The header a fresh interpolation writes for this frame. */
static int build_header(const run_ctx *c, int i, const mx_image *img, const mx_box *box,
                        long nusable, uint64_t hash, mx_header **out) {
    int st;
    mx_wcs *w = NULL;
    mx_header *h = mx_header_new();
    *out = NULL;
    if (!h) return mx_seterr(MX_ERR_NOMEM, "header of the interpolated '%s'", c->in->images[i]);
    mx_fif f = *c->grid;
    f.crpix[0] -= (double)box->x0;
    f.crpix[1] -= (double)box->y0;
    f.naxis[0] = box->w;
    f.naxis[1] = box->h;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    if ((st = mx_fif_wcs(&f, &w)) != MX_OK) goto exit;
    if ((st = mx_wcs_to_header(w, h)) != MX_OK) goto exit;
    const mx_resample_opts *r = &c->ro;
    if ((st = mx_header_set_long(h, "MINTOFFX", box->x0, "x offset in the mosaic grid (pixels)")) ||
        (st = mx_header_set_long(h, "MINTOFFY", box->y0, "y offset in the mosaic grid (pixels)")) ||
        (st = mx_header_set_long(h, "INTRPMTH", r->method, "1 default 2 drizzle 3 grid 4 cubic")) ||
        (st = mx_header_set_long(h, "FINERES", r->fineres, "sub-pixels per axis (method 1)")) ||
        (st = mx_header_set_double(h, "DRIZFAC", r->driz_fac, "drizzle factor (method 2)")) ||
        (st = mx_header_set_long(h, "GRIDRAT", r->grid_ratio, "grid points per axis (method 3)")) ||
        (st = mx_header_set_double(h, "INTALPHA", r->alpha, "cubic kernel alpha (method 4)")) ||
        (st = mx_header_set_long(h, "NUSABLE", nusable, "usable input pixels")) ||
        (st = mx_header_set_string(h, "INHASH", hex, "FNV-1a of input values, sigmas, bad map")))
        goto exit;
    char hist[4200];
    snprintf(hist, sizeof hist, "mopexlua %s Mosaic Interpolate of %s", mx_version(),
             c->in->images[i]);
    if ((st = mx_header_add_history(h, hist)) != MX_OK) goto exit;
    if ((st = carry_input_cards(h, img->hdr)) != MX_OK) goto exit;
    *out = h;
    h = NULL;
exit:
    mx_wcs_free(w);
    mx_header_free(h);
    return st;
}

/* Same non-structural cards in the same order. */
static int same_cards(const mx_header *a, const mx_header *b) {
    int i = 0, j = 0;
    char k[9];
    for (;;) {
        while (i < a->ncards && (card_key(a->cards[i], k), k[0] && mx_header_is_structural(k))) i++;
        while (j < b->ncards && (card_key(b->cards[j], k), k[0] && mx_header_is_structural(k))) j++;
        if (i >= a->ncards || j >= b->ncards) return i >= a->ncards && j >= b->ncards;
        if (memcmp(a->cards[i], b->cards[j], MX_CARD_LEN) != 0) return 0;
        i++, j++;
    }
}

/* Reinterpolate: copy the first pass's files when they are what a fresh run
 * would write. *done = 1 when copied. */
static int try_reuse(const run_ctx *c, int i, const mx_header *hdr, const mx_box *box, int *done) {
    int st = MX_OK;
    char *fi = NULL, *fc = NULL, *fs = NULL;
    mx_header *old = NULL;
    *done = 0;
    fi = out_path(c->first_dir, "interp_", c->names[i], ".fits");
    fc = out_path(c->first_dir, "interp_", c->names[i], "_covg.fits");
    fs = c->in->sigmas ? out_path(c->first_dir, "interp_unc_", c->names[i], "_sigma.fits") : NULL;
    if (!fi || !fc || (c->in->sigmas && !fs)) {
        st = mx_seterr(MX_ERR_NOMEM, "first-pass file names");
        goto exit;
    }
    if (!mx_file_exists(fi) || !mx_file_exists(fc) || (fs && !mx_file_exists(fs))) goto exit;
    long nx, ny;
    int bitpix;
    if (mx_fits_read_header(fi, &old, &nx, &ny, &bitpix) != MX_OK) {
        mx_clearerr(); /* unreadable first pass: interpolate afresh */
        goto exit;
    }
    if (nx != box->w || ny != box->h || bitpix != -32 || !same_cards(hdr, old)) goto exit;
    if ((st = copy_file(fi, c->img_path[i])) != MX_OK) goto exit;
    if ((st = copy_file(fc, c->cov_path[i])) != MX_OK) goto exit;
    if (fs && (st = copy_file(fs, c->sig_path[i])) != MX_OK) goto exit;
    *done = 1;
exit:
    mx_header_free(old);
    free(fi);
    free(fc);
    free(fs);
    return st;
}

static int write_float(float *data, long w, long h, mx_header *hdr, const char *path) {
    /* wrap the caller's buffers without copying them */
    mx_image img;
    memset(&img, 0, sizeof img);
    img.nx = w;
    img.ny = h;
    img.kind = MX_IMG_FLOAT;
    img.bitpix = -32;
    img.data = data;
    img.hdr = hdr;
    return mx_image_write(&img, path);
}

static void remove_stale(const run_ctx *c, int i) {
    remove(c->img_path[i]);
    remove(c->cov_path[i]);
    if (c->sig_path[i]) remove(c->sig_path[i]);
}

static int frame_work(long li, void *vctx, int thread) {
    run_ctx *c = vctx;
    int i = (int)li, st;
    const mx_interp_inputs *in = c->in;
    const char *ipath = in->images[i];
    mx_interp_frame *fr = &c->frames[i];
    mx_image *img = NULL, *sig = NULL, *det = NULL;
    uint8_t *bad = NULL;
    mx_wcs *win = NULL;
    mx_pixmap *pm = NULL;
    mx_header *hdr = NULL, *chdr = NULL;
    float *oi = NULL, *oc = NULL, *os = NULL;

    if ((st = mx_check_interrupt()) != MX_OK) goto exit;
    if ((st = mx_image_read(ipath, &img)) != MX_OK) goto exit;
    size_t n = (size_t)img->nx * (size_t)img->ny;
    if (!(bad = malloc(n))) {
        st = mx_seterr(MX_ERR_NOMEM, "bad-pixel map of '%s'", ipath);
        goto exit;
    }
    for (size_t k = 0; k < n; k++) bad[k] = !isfinite(img->data[k]);
    if (in->sigmas) {
        if ((st = mx_image_read(in->sigmas[i], &sig)) != MX_OK) goto exit;
        if ((st = size_check(sig, img, "uncertainty image", in->sigmas[i], ipath)) != MX_OK) goto exit;
        for (size_t k = 0; k < n; k++) {
            float s = sig->data[k];
            bad[k] |= !(isfinite(s) && s > 0);
        }
    }
    if (in->dce_masks &&
        (st = apply_mask_file(in->dce_masks[i], img, ipath, c->dce_fatal, "DCE status mask", bad)))
        goto exit;
    if (in->rmasks && (st = apply_mask_file(in->rmasks[i], img, ipath, c->rmask_fatal, "RMask", bad)))
        goto exit;
    if (c->pmask) {
        if ((st = size_check(c->pmask, img, "PMask", in->pmask, ipath)) != MX_OK) goto exit;
        if (c->pmask_fatal)
            for (size_t k = 0; k < n; k++) bad[k] |= mx_mask_is_fatal(c->pmask->mask[k], c->pmask_fatal);
    }
    if (c->use_bright) {
        if ((st = mx_image_read(in->bright_masks[i], &det)) != MX_OK) goto exit;
        if ((st = size_check(det, img, "detection map", in->bright_masks[i], ipath)) != MX_OK) goto exit;
        for (size_t k = 0; k < n; k++) bad[k] |= det->data[k] > 0;
        mx_image_free(det);
        det = NULL;
    }
    long nusable = 0;
    for (size_t k = 0; k < n; k++) nusable += !bad[k];
    fr->nusable = nusable;

    if ((st = mx_wcs_from_header(img->hdr, ipath, &win)) != MX_OK) goto exit;
    if ((st = mx_pixmap_new(win, c->gwcs[thread], MX_PIXMAP_AUTO, &pm)) != MX_OK) {
        st = mx_preferr(st, "'%s'", ipath);
        goto exit;
    }
    mx_map map = mx_pixmap_map(pm);
    mx_box box;
    if ((st = mx_map_footprint_box(&map, img->nx, img->ny, c->grid->naxis[0], c->grid->naxis[1],
                                   &box)) != MX_OK)
        goto exit;
    fr->box = box;
    if (box.w == 0 || box.h == 0) {
        mx_warn("'%s' does not overlap the mosaic grid (%ld x %ld pixels around %.6f, %.6f): "
                "not interpolated", ipath, c->grid->naxis[0], c->grid->naxis[1], c->grid->crval[0],
                c->grid->crval[1]);
        remove_stale(c, i);
        goto exit;
    }

    char bunit[72] = "";
    if (mx_header_get_string(img->hdr, "BUNIT", bunit, sizeof bunit) != MX_OK) mx_clearerr();
    mx_resample_opts ro = c->ro;
    ro.counts = mx_unit_parse(bunit) == MX_UNIT_COUNTS;
    fr->counts = ro.counts;
    if (ro.counts)
        mx_warn("'%s': BUNIT '%s' is not a surface brightness (MJy/sr, microJy/arcsec2): "
                "interpolated as counts", ipath, bunit);

    fnv hs = {0xcbf29ce484222325ULL};
    fnv_u32(&hs, (uint32_t)img->nx);
    fnv_u32(&hs, (uint32_t)img->ny);
    fnv_u32(&hs, (uint32_t)ro.counts);
    fnv_floats(&hs, img->data, n);
    fnv_u32(&hs, sig != NULL);
    if (sig) fnv_floats(&hs, sig->data, n);
    fnv_flags(&hs, bad, n);
    if ((st = build_header(c, i, img, &box, nusable, hs.h, &hdr)) != MX_OK) goto exit;

    if (c->allow_copy) {
        int done = 0;
        if ((st = try_reuse(c, i, hdr, &box, &done)) != MX_OK) goto exit;
        if (done) {
            fr->reused = 1;
            fr->written = 1;
            goto exit;
        }
    }

    size_t no = (size_t)box.w * (size_t)box.h;
    oi = mx_scratch_alloc(no * sizeof *oi);
    oc = mx_scratch_alloc(no * sizeof *oc);
    if (sig) os = mx_scratch_alloc(no * sizeof *os);
    if (!oi || !oc || (sig && !os)) {
        st = mx_seterr(MX_ERR_NOMEM, "interpolated images of '%s' (%ld x %ld)", ipath, box.w, box.h);
        goto exit;
    }
    mx_frame fm = {img->nx, img->ny, img->data, sig ? sig->data : NULL, bad};
    mx_resample_out ro_out = {oi, oc, os, NULL, NULL, NULL};
    if ((st = mx_resample(&ro, &fm, &map, &box, &ro_out)) != MX_OK) {
        st = mx_preferr(st, "interpolating '%s'", ipath);
        goto exit;
    }
    /* the arrays are done with: free the inputs before writing */
    mx_image_free(sig);
    sig = NULL;
    free(bad);
    bad = NULL;
    if ((st = write_float(oi, box.w, box.h, hdr, c->img_path[i])) != MX_OK) goto exit;
    if (!(chdr = mx_header_dup(hdr))) {
        st = mx_seterr(MX_ERR_NOMEM, "coverage header");
        goto exit;
    }
    mx_header_delete(chdr, "BUNIT");
    if ((st = write_float(oc, box.w, box.h, chdr, c->cov_path[i])) != MX_OK) goto exit;
    if (os && (st = write_float(os, box.w, box.h, hdr, c->sig_path[i])) != MX_OK) goto exit;
    fr->written = 1;
exit:
    if (c->progress) mx_progress_step(c->progress, 1);
    mx_image_free(img);
    mx_image_free(sig);
    mx_image_free(det);
    free(bad);
    mx_pixmap_free(pm);
    mx_wcs_free(win);
    mx_header_free(hdr);
    mx_header_free(chdr);
    mx_scratch_free(oi);
    mx_scratch_free(oc);
    mx_scratch_free(os);
    return st;
}

void mx_interp_result_free(mx_interp_result *r) {
    if (!r) return;
    if (r->frames)
        for (int i = 0; i < r->n; i++) {
            free(r->frames[i].image);
            free(r->frames[i].coverage);
            free(r->frames[i].sigma);
        }
    free(r->frames);
    free(r->image_list);
    free(r->coverage_list);
    free(r->sigma_list);
    free(r->table);
    free(r);
}

static int check_method(const mx_resample_opts *r) {
    switch (r->method) {
    case MX_INTERP_DEFAULT:
        if (r->fineres < 0 || r->fineres > 16)
            return mx_seterr(MX_ERR_PARAM, "FINERES must be 0..16 (got %d)", r->fineres);
        break;
    case MX_INTERP_DRIZZLE:
        if (!(r->driz_fac > 0 && r->driz_fac <= 1))
            return mx_seterr(MX_ERR_PARAM, "DRIZ_FAC must be in (0, 1] (got %g)", r->driz_fac);
        break;
    case MX_INTERP_GRID:
        if (r->grid_ratio < 1 || r->grid_ratio > 64)
            return mx_seterr(MX_ERR_PARAM, "GRID_RATIO must be 1..64 (got %d)", r->grid_ratio);
        break;
    case MX_INTERP_CUBIC:
        if (!isfinite(r->alpha)) return mx_seterr(MX_ERR_PARAM, "ALPHA must be finite (got %g)", r->alpha);
        break;
    default:
        return mx_seterr(MX_ERR_PARAM, "INTERP_METHOD must be 1 (default), 2 (drizzle), 3 (grid) or "
                         "4 (cubic) (got %d)", r->method);
    }
    return MX_OK;
}

static int write_table(const run_ctx *c, int n, const char *path) {
    mx_table *t = NULL;
    int st = mx_offsets_table_new("image_id", PROGRAM, "pixels", &t);
    for (int i = 0; i < n && st == MX_OK; i++) {
        const mx_interp_frame *f = &c->frames[i];
        if (f->written)
            st = mx_offsets_table_add(t, i + 1, f->image, f->box.x0, f->box.y0, f->box.w, f->box.h);
    }
    if (st == MX_OK) st = mx_table_write_ipac(t, path);
    mx_table_free(t);
    return st;
}

static void warn_pattern(int given, uint32_t fatal, const char *what, const char *key) {
    if (given && fatal == 0)
        mx_warn("%s given but %s is 0: the masks have no effect", what, key);
}

/* Shared by Interpolate and Reinterpolate. */
static int run_frames(const mx_interp_inputs *in, const mx_fif *grid, const mx_resample_opts *ro,
                      uint32_t dce_fatal, uint32_t pmask_fatal, uint32_t rmask_fatal, int mask_bright,
                      const char *out_dir, const char *first_dir, int allow_copy, char **names,
                      const char *label, mx_interp_result **out) {
    int st = MX_OK, n = in->n, nth = 0;
    run_ctx c;
    memset(&c, 0, sizeof c);
    mx_image *pmask = NULL;
    mx_interp_result *res = NULL;
    const char **li = NULL, **lc = NULL, **ls = NULL;
    if (out) *out = NULL;
    if (!out_dir || !*out_dir) return mx_seterr(MX_ERR_PARAM, "%s: no output directory", label);
    if ((st = check_method(ro)) != MX_OK) return st;
    warn_pattern(in->dce_masks != NULL, dce_fatal, "DCE status masks", "DCE_Status_Mask_Fatal_BitPattern");
    warn_pattern(in->pmask != NULL, pmask_fatal, "a PMask", "PMask_Fatal_BitPattern");
    warn_pattern(in->rmasks != NULL, rmask_fatal, "RMasks", "RMask_Fatal_BitPattern");
    if (mask_bright && !in->bright_masks)
        mx_warn("mask_bright = 1 but no detection maps were given: no bright object is masked");

    c.in = in;
    c.grid = grid;
    c.ro = *ro;
    c.ro.counts = 0;
    c.dce_fatal = dce_fatal;
    c.pmask_fatal = pmask_fatal;
    c.rmask_fatal = rmask_fatal;
    c.use_bright = mask_bright && in->bright_masks;
    c.out_dir = out_dir;
    c.first_dir = first_dir;
    c.allow_copy = allow_copy;
    c.names = names;
    if (!(res = calloc(1, sizeof *res)) || !(res->frames = calloc((size_t)n, sizeof *res->frames)) ||
        !(c.img_path = calloc((size_t)n, sizeof(char *))) ||
        !(c.cov_path = calloc((size_t)n, sizeof(char *))) ||
        !(c.sig_path = calloc((size_t)n, sizeof(char *)))) {
        st = mx_seterr(MX_ERR_NOMEM, "%s: bookkeeping of %d frames", label, n);
        goto exit;
    }
    res->n = n;
    c.frames = res->frames;
    for (int i = 0; i < n; i++) {
        c.img_path[i] = out_path(out_dir, "interp_", names[i], ".fits");
        c.cov_path[i] = out_path(out_dir, "interp_", names[i], "_covg.fits");
        if (in->sigmas) c.sig_path[i] = out_path(out_dir, "interp_unc_", names[i], "_sigma.fits");
        if (!c.img_path[i] || !c.cov_path[i] || (in->sigmas && !c.sig_path[i])) {
            st = mx_seterr(MX_ERR_NOMEM, "%s: output names", label);
            goto exit;
        }
    }
    if (in->pmask && (st = mx_mask_read(in->pmask, &pmask)) != MX_OK) goto exit;
    c.pmask = pmask;
    if ((st = mx_mkdir_p(out_dir)) != MX_OK) goto exit;

    nth = mx_threads();
    if (nth < 1) nth = 1;
    if (!(c.gwcs = calloc((size_t)nth, sizeof *c.gwcs))) {
        st = mx_seterr(MX_ERR_NOMEM, "%s: grid WCS copies", label);
        goto exit;
    }
    if ((st = mx_fif_wcs(grid, &c.gwcs[0])) != MX_OK) goto exit;
    for (int t = 1; t < nth; t++)
        if ((st = mx_wcs_dup(c.gwcs[0], &c.gwcs[t])) != MX_OK) goto exit;

    c.progress = mx_progress_start(label, n, "frames");
    st = mx_parallel_for_n(n, nth, frame_work, &c);
    mx_progress_done(c.progress);
    c.progress = NULL;
    if (st != MX_OK) goto exit;

    /* move the names of what was written into the result, in input order */
    li = malloc((size_t)n * sizeof *li);
    lc = malloc((size_t)n * sizeof *lc);
    ls = malloc((size_t)n * sizeof *ls);
    if (!li || !lc || !ls) {
        st = mx_seterr(MX_ERR_NOMEM, "%s: lists", label);
        goto exit;
    }
    int nw = 0;
    for (int i = 0; i < n; i++) {
        mx_interp_frame *f = &res->frames[i];
        if (!f->written) continue;
        f->image = c.img_path[i], c.img_path[i] = NULL;
        f->coverage = c.cov_path[i], c.cov_path[i] = NULL;
        f->sigma = c.sig_path[i], c.sig_path[i] = NULL;
        li[nw] = f->image;
        lc[nw] = f->coverage;
        ls[nw] = f->sigma;
        nw++;
        res->nreused += f->reused;
    }
    res->nwritten = nw;
    if (nw == 0) {
        st = mx_seterr(MX_ERR_PARAM, "%s: none of the %d images overlaps the mosaic grid (%ld x %ld "
                       "pixels around %.6f, %.6f)", label, n, grid->naxis[0], grid->naxis[1],
                       grid->crval[0], grid->crval[1]);
        goto exit;
    }
    res->image_list = mx_path_join(out_dir, "interp_ImageList.txt");
    res->coverage_list = mx_path_join(out_dir, "interp_covg_ImageList.txt");
    if (in->sigmas) res->sigma_list = mx_path_join(out_dir, "interp_unc_ImageList.txt");
    res->table = mx_path_join(out_dir, "interp_ImageList.txt.tbl");
    if (!res->image_list || !res->coverage_list || (in->sigmas && !res->sigma_list) || !res->table) {
        st = mx_seterr(MX_ERR_NOMEM, "%s: list names", label);
        goto exit;
    }
    if ((st = mx_list_write_paths(nw, li, res->image_list)) != MX_OK) goto exit;
    if ((st = mx_list_write_paths(nw, lc, res->coverage_list)) != MX_OK) goto exit;
    if (in->sigmas && (st = mx_list_write_paths(nw, ls, res->sigma_list)) != MX_OK) goto exit;
    if ((st = write_table(&c, n, res->table)) != MX_OK) goto exit;
    res->method = c.ro;
    if (out) *out = res, res = NULL;
exit:
    if (c.gwcs)
        for (int t = 0; t < nth; t++) mx_wcs_free(c.gwcs[t]);
    free(c.gwcs);
    for (int i = 0; i < n; i++) {
        if (c.img_path) free(c.img_path[i]);
        if (c.cov_path) free(c.cov_path[i]);
        if (c.sig_path) free(c.sig_path[i]);
    }
    free(c.img_path);
    free(c.cov_path);
    free(c.sig_path);
    free(li);
    free(lc);
    free(ls);
    mx_image_free(pmask);
    mx_interp_result_free(res);
    return st;
}

static int check_inputs(const mx_interp_inputs *in, const mx_fif *grid, const char *label) {
    if (!in || !grid) return mx_seterr(MX_ERR_PARAM, "%s: inputs and grid required", label);
    if (in->n < 1 || !in->images) return mx_seterr(MX_ERR_PARAM, "%s: no input images", label);
    return MX_OK;
}

int mx_interp_run(const mx_interp_inputs *in, const mx_fif *grid, const mx_interp_opts *o,
                  mx_interp_result **out) {
    int st;
    char **names = NULL;
    if (out) *out = NULL;
    if (!o) return mx_seterr(MX_ERR_PARAM, "mosaic interpolate: options required");
    if ((st = check_inputs(in, grid, "interpolate")) != MX_OK) return st;
    if ((st = mx_interp_names(in->n, in->images, &names)) != MX_OK) return st;
    mx_resample_opts ro = {o->method, o->fineres, o->driz_fac, o->grid_ratio, o->alpha, 0};
    st = run_frames(in, grid, &ro, o->dce_fatal, o->pmask_fatal, o->rmask_fatal, o->mask_bright,
                    o->out_dir, NULL, 0, names, "interpolate", out);
    free_names(names, in->n);
    return st;
}

/* The method of the first pass, from the first interpolated image found. */
static int first_pass_method(const mx_interp_inputs *in, char **names, const char *dir,
                             mx_resample_opts *ro, int *found) {
    int st = MX_OK;
    *found = 0;
    for (int i = 0; i < in->n && !*found; i++) {
        char *p = out_path(dir, "interp_", names[i], ".fits");
        if (!p) return mx_seterr(MX_ERR_NOMEM, "first-pass file name");
        if (mx_file_exists(p)) {
            mx_header *h = NULL;
            long nx, ny, m = 0, f = 0, g = 0;
            int bp;
            double d = 0, a = 0;
            st = mx_fits_read_header(p, &h, &nx, &ny, &bp);
            if (st == MX_OK &&
                ((st = mx_header_get_long(h, "INTRPMTH", &m)) || (st = mx_header_get_long(h, "FINERES", &f)) ||
                 (st = mx_header_get_double(h, "DRIZFAC", &d)) || (st = mx_header_get_long(h, "GRIDRAT", &g)) ||
                 (st = mx_header_get_double(h, "INTALPHA", &a))))
                st = mx_preferr(MX_ERR_FORMAT, "first-pass image '%s' lacks the interpolation "
                                "keywords Mosaic Interpolate writes", p);
            mx_header_free(h);
            if (st == MX_OK) {
                ro->method = (int)m;
                ro->fineres = (int)f;
                ro->driz_fac = d;
                ro->grid_ratio = (int)g;
                ro->alpha = a;
                ro->counts = 0;
                if ((st = check_method(ro)) != MX_OK) st = mx_preferr(st, "first-pass image '%s'", p);
                *found = 1;
            }
        }
        free(p);
        if (st != MX_OK) return st;
    }
    return st;
}

int mx_reinterp_run(const mx_interp_inputs *in, const mx_fif *grid, const mx_reinterp_opts *o,
                    mx_interp_result **out) {
    int st, found = 0;
    char **names = NULL;
    if (out) *out = NULL;
    if (!o || !o->interp_dir) return mx_seterr(MX_ERR_PARAM, "mosaic reinterpolate: options and the "
                                                             "first-pass directory required");
    if ((st = check_inputs(in, grid, "reinterpolate")) != MX_OK) return st;
    if ((st = mx_interp_names(in->n, in->images, &names)) != MX_OK) return st;
    mx_resample_opts ro;
    if ((st = first_pass_method(in, names, o->interp_dir, &ro, &found)) != MX_OK) goto exit;
    if (!found) {
        st = mx_seterr(MX_ERR_NOTFOUND, "mosaic reinterpolate: '%s' holds no interpolated image of "
                       "the %d inputs (interp_<name>.fits); run Mosaic Interpolate first",
                       o->interp_dir, in->n);
        goto exit;
    }
    int allow_copy = 1;
    if (ro.method == MX_INTERP_DRIZZLE || ro.method == MX_INTERP_GRID) {
        mx_warn("Mosaic Reinterpolate is not allowed after %s interpolation (000 l.3553-3555): every "
                "frame is interpolated again in full with the RMasks",
                ro.method == MX_INTERP_DRIZZLE ? "Drizzle" : "Grid");
        allow_copy = 0;
    }
    st = run_frames(in, grid, &ro, o->dce_fatal, o->pmask_fatal, o->rmask_fatal, o->mask_bright,
                    o->out_dir, o->interp_dir, allow_copy, names, "reinterpolate", out);
exit:
    free_names(names, in->n);
    return st;
}
