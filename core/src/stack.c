/* stack.c - frames on the mosaic grid, read tile by tile (mx_stack.h). */
#include "mopex/mopex.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct {
    long x0, y0, nx, ny;
} box;

struct mx_stack {
    int n;
    long naxis1, naxis2;
    char **paths[MX_LAYER_COUNT];  /* NULL when the stack lacks the layer */
    box *boxes[MX_LAYER_COUNT];    /* per frame; unused entries zero */
    char names[MX_LAYER_COUNT][48];
    mx_stack_frame *frames;
    char time_keyword[72];
    char bunit[72];
};

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void mx_stack_free(mx_stack *s) {
    if (!s) return;
    for (int l = 0; l < MX_LAYER_COUNT; l++) {
        if (s->paths[l]) {
            for (int i = 0; i < s->n; i++) free(s->paths[l][i]);
            free(s->paths[l]);
        }
        free(s->boxes[l]);
    }
    free(s->frames);
    free(s);
}

int mx_stack_count(const mx_stack *s) { return s ? s->n : 0; }
long mx_stack_naxis1(const mx_stack *s) { return s->naxis1; }
long mx_stack_naxis2(const mx_stack *s) { return s->naxis2; }
const mx_stack_frame *mx_stack_frame_at(const mx_stack *s, int i) {
    return (s && i >= 0 && i < s->n) ? &s->frames[i] : NULL;
}
const char *mx_stack_path(const mx_stack *s, int layer, int i) {
    if (!s || layer < 0 || layer >= MX_LAYER_COUNT || !s->paths[layer] || i < 0 || i >= s->n)
        return NULL;
    return s->paths[layer][i];
}
int mx_stack_has(const mx_stack *s, int layer) {
    return s && layer >= 0 && layer < MX_LAYER_COUNT && s->paths[layer] != NULL;
}
const char *mx_stack_bunit(const mx_stack *s) { return s ? s->bunit : ""; }

/* ---- opening -------------------------------------------------------------- */

typedef struct {
    mx_stack *s;
    char (*bunits)[72];
} open_ctx;

/* An offset keyword: integral value, or absent (returns MX_ERR_NOTFOUND
 * without a message of consequence). */
static int offset_key(const mx_header *h, const char *key, const char *path, long *v) {
    if (!mx_header_has(h, key)) return MX_ERR_NOTFOUND;
    double d;
    int st = mx_header_get_double(h, key, &d);
    if (st != MX_OK) return mx_preferr(st, "'%s'", path);
    if (!(d == floor(d)) || fabs(d) > 1e12)
        return mx_seterr(MX_ERR_FORMAT, "'%s': %s = %g is not a whole pixel offset", path, key, d);
    *v = (long)d;
    return MX_OK;
}

static int open_frame(long i, void *vctx, int thread) {
    (void)thread;
    open_ctx *c = vctx;
    mx_stack *s = c->s;
    int st = MX_OK;
    for (int l = 0; l < MX_LAYER_COUNT; l++) {
        if (!s->paths[l] || !s->paths[l][i]) continue;
        const char *path = s->paths[l][i];
        mx_header *h = NULL;
        long nx = 0, ny = 0;
        int bitpix = 0;
        if ((st = mx_fits_read_header(path, &h, &nx, &ny, &bitpix)) != MX_OK) return st;
        box b = {0, 0, nx, ny};
        long ox = 0, oy = 0;
        int sx = offset_key(h, "MINTOFFX", path, &ox);
        int sy = sx == MX_OK ? offset_key(h, "MINTOFFY", path, &oy) : sx;
        if (sx == MX_OK && sy == MX_OK) {
            b.x0 = ox;
            b.y0 = oy;
        } else if ((sx != MX_OK && sx != MX_ERR_NOTFOUND) || (sy != MX_OK && sy != MX_ERR_NOTFOUND)) {
            st = sx != MX_OK ? sx : sy;
        } else if (l != MX_LAYER_IMAGE && nx == s->boxes[MX_LAYER_IMAGE][i].nx &&
                   ny == s->boxes[MX_LAYER_IMAGE][i].ny) {
            b = s->boxes[MX_LAYER_IMAGE][i];
        } else if (nx == s->naxis1 && ny == s->naxis2) {
            /* a frame of the whole grid */
        } else {
            st = mx_seterr(MX_ERR_NOTFOUND,
                           "%s '%s' (frame %ld): no MINTOFFX/MINTOFFY offsets, and its size %ld x %ld "
                           "is neither its image's (%ld x %ld) nor the mosaic grid's (%ld x %ld)",
                           s->names[l], path, i + 1, nx, ny, s->boxes[MX_LAYER_IMAGE][i].nx,
                           s->boxes[MX_LAYER_IMAGE][i].ny, s->naxis1, s->naxis2);
        }
        if (st == MX_OK) s->boxes[l][i] = b;
        if (st == MX_OK && l == MX_LAYER_IMAGE) {
            mx_stack_frame *f = &s->frames[i];
            f->x0 = b.x0;
            f->y0 = b.y0;
            f->nx = b.nx;
            f->ny = b.ny;
            f->time = NAN;
            if (s->time_keyword[0]) {
                if (!mx_header_has(h, s->time_keyword))
                    st = mx_seterr(MX_ERR_NOTFOUND,
                                   "'%s' (frame %ld) has no %s keyword for the time-weighted coadd "
                                   "(INTEG_TIME_KWD)",
                                   path, i + 1, s->time_keyword);
                else if ((st = mx_header_get_double(h, s->time_keyword, &f->time)) != MX_OK)
                    mx_preferr(st, "'%s' (frame %ld), INTEG_TIME_KWD", path, i + 1);
                else if (!isfinite(f->time) || f->time < 0)
                    st = mx_seterr(MX_ERR_FORMAT, "'%s' (frame %ld): %s = %g is not a valid time",
                                   path, i + 1, s->time_keyword, f->time);
            }
            c->bunits[i][0] = '\0';
            if (st == MX_OK && mx_header_has(h, "BUNIT") &&
                mx_header_get_string(h, "BUNIT", c->bunits[i], sizeof c->bunits[i]) != MX_OK) {
                c->bunits[i][0] = '\0';
                mx_clearerr();
            }
        }
        mx_header_free(h);
        if (st != MX_OK) return st;
    }
    return MX_OK;
}

int mx_stack_open(const mx_stack_spec *spec, mx_stack **out) {
    int st = MX_OK;
    *out = NULL;
    if (!spec || spec->n < 1 || !spec->images)
        return mx_seterr(MX_ERR_PARAM, "stack: no frames");
    if (spec->naxis1 < 1 || spec->naxis2 < 1)
        return mx_seterr(MX_ERR_PARAM, "stack: grid of %ld x %ld pixels", spec->naxis1, spec->naxis2);
    if (spec->nextra < 0 || spec->nextra > MX_STACK_MAX_EXTRA)
        return mx_seterr(MX_ERR_PARAM, "stack: %d extra layers (at most %d)", spec->nextra,
                         MX_STACK_MAX_EXTRA);
    if (spec->time_keyword && strlen(spec->time_keyword) >= 72)
        return mx_seterr(MX_ERR_PARAM, "stack: time keyword '%s' is too long", spec->time_keyword);
    mx_stack *s = calloc(1, sizeof *s);
    char(*bunits)[72] = NULL;
    if (!s) return mx_seterr(MX_ERR_NOMEM, "stack");
    s->n = spec->n;
    s->naxis1 = spec->naxis1;
    s->naxis2 = spec->naxis2;
    if (spec->time_keyword) snprintf(s->time_keyword, sizeof s->time_keyword, "%s", spec->time_keyword);
    const char *const *lists[MX_LAYER_COUNT] = {spec->images, spec->coverages, spec->sigmas};
    static const char *const base_names[3] = {"image", "coverage map", "uncertainty image"};
    for (int l = 0; l < MX_LAYER_COUNT; l++) {
        if (l < 3) {
            snprintf(s->names[l], sizeof s->names[l], "%s", base_names[l]);
        } else if (l - 3 < spec->nextra) {
            lists[l] = spec->extras[l - 3];
            snprintf(s->names[l], sizeof s->names[l], "%s",
                     spec->extra_names[l - 3] ? spec->extra_names[l - 3] : "extra layer");
        }
        s->boxes[l] = calloc((size_t)s->n, sizeof *s->boxes[l]);
        if (!s->boxes[l]) {
            st = mx_seterr(MX_ERR_NOMEM, "stack of %d frames", s->n);
            goto exit;
        }
        if (!lists[l]) continue;
        s->paths[l] = calloc((size_t)s->n, sizeof *s->paths[l]);
        if (!s->paths[l]) {
            st = mx_seterr(MX_ERR_NOMEM, "stack of %d frames", s->n);
            goto exit;
        }
        for (int i = 0; i < s->n; i++) {
            if (!lists[l][i]) {
                if (l < 3) {
                    st = mx_seterr(MX_ERR_PARAM, "stack: %s of frame %d is missing", s->names[l], i + 1);
                    goto exit;
                }
                continue;
            }
            if (!(s->paths[l][i] = dup_str(lists[l][i]))) {
                st = mx_seterr(MX_ERR_NOMEM, "stack paths");
                goto exit;
            }
        }
    }
    s->frames = calloc((size_t)s->n, sizeof *s->frames);
    bunits = calloc((size_t)s->n, sizeof *bunits);
    if (!s->frames || !bunits) {
        st = mx_seterr(MX_ERR_NOMEM, "stack of %d frames", s->n);
        goto exit;
    }
    open_ctx c = {s, bunits};
    if ((st = mx_parallel_for(s->n, open_frame, &c)) != MX_OK) goto exit;
    int differ = 0, first = -1;
    for (int i = 0; i < s->n; i++) {
        if (!bunits[i][0]) continue;
        if (first < 0) {
            first = i;
            snprintf(s->bunit, sizeof s->bunit, "%s", bunits[i]);
        } else if (strcmp(bunits[i], s->bunit) != 0) {
            differ++;
        }
    }
    if (differ)
        mx_warn("stack: %d frame(s) have a BUNIT other than '%s' of '%s'; the mosaic is labelled '%s'",
                differ, s->bunit, s->paths[MX_LAYER_IMAGE][first], s->bunit);
exit:
    free(bunits);
    if (st != MX_OK) {
        mx_stack_free(s);
        return st;
    }
    *out = s;
    return MX_OK;
}

/* ---- selection and tiling ---------------------------------------------------- */

static int intersect(const mx_stack_frame *f, long x0, long y0, long nx, long ny, box *o) {
    long ax = f->x0 > x0 ? f->x0 : x0, ay = f->y0 > y0 ? f->y0 : y0;
    long bx = f->x0 + f->nx < x0 + nx ? f->x0 + f->nx : x0 + nx;
    long by = f->y0 + f->ny < y0 + ny ? f->y0 + f->ny : y0 + ny;
    if (ax >= bx || ay >= by) return 0;
    if (o) {
        o->x0 = ax;
        o->y0 = ay;
        o->nx = bx - ax;
        o->ny = by - ay;
    }
    return 1;
}

int mx_stack_select(const mx_stack *s, long x0, long y0, long nx, long ny, int *idx) {
    int k = 0;
    for (int i = 0; i < s->n; i++)
        if (intersect(&s->frames[i], x0, y0, nx, ny, NULL)) idx[k++] = i;
    return k;
}

int mx_stack_tiling(const mx_stack *s, long tilemax_x, long tilemax_y, mx_tile **tiles, int *ntiles) {
    return mx_tiling(s->naxis1, s->naxis2, tilemax_x, tilemax_y, tiles, ntiles);
}

/* ---- loading -------------------------------------------------------------------- */

void mx_stack_load_init(mx_stack_load *ld) { memset(ld, 0, sizeof *ld); }

/* Files a load keeps open for the next one, at most: a deep stack (coverage
 * in the hundreds, three layers, a load per thread) would otherwise run
 * into the descriptor limit (often 1024). A quarter of what the limit
 * leaves, shared by the threads, and never more than 128. */
static int keep_open_limit(void) {
    struct rlimit rl;
    long lim = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) lim = (long)rl.rlim_cur;
    long k = (lim - 64) / (4L * mx_threads());
    return k < 0 ? 0 : (k > 128 ? 128 : (int)k);
}

struct mx_stack_open {
    int frame, layer;
    mx_fits_reader *r;
};

static void close_open(mx_stack_load *ld) {
    for (int k = 0; k < ld->nopen; k++) mx_fits_reader_close(ld->open[k].r);
    ld->nopen = 0;
}

void mx_stack_load_release(mx_stack_load *ld) {
    if (!ld) return;
    close_open(ld);
    free(ld->open);
    free(ld->buf);
    free(ld->slices);
    free(ld->idx);
    memset(ld, 0, sizeof *ld);
}

/* Layers a load really fills: requested and present; coverage always when
 * requested (synthesised as 1 without coverage maps). */
static unsigned effective_layers(const mx_stack *s, unsigned layers) {
    unsigned e = 0;
    for (int l = 0; l < MX_LAYER_COUNT; l++) {
        if (!(layers & MX_STACK_BIT(l))) continue;
        if (s->paths[l] || l == MX_LAYER_COVERAGE) e |= MX_STACK_BIT(l);
    }
    return e;
}

static int popcount_layers(unsigned e) {
    int k = 0;
    for (int l = 0; l < MX_LAYER_COUNT; l++)
        if (e & MX_STACK_BIT(l)) k++;
    return k;
}

size_t mx_stack_rect_bytes(const mx_stack *s, long x0, long y0, long nx, long ny, unsigned layers) {
    int nl = popcount_layers(effective_layers(s, layers));
    size_t px = 0;
    box b;
    for (int i = 0; i < s->n; i++)
        if (intersect(&s->frames[i], x0, y0, nx, ny, &b)) px += (size_t)b.nx * (size_t)b.ny;
    return px * (size_t)nl * sizeof(float);
}

long mx_stack_band_rows(const mx_stack *s, const mx_tile *t, unsigned layers,
                        size_t extra_per_pixel, size_t budget) {
    if (budget == 0) return t->ny;
    int nl = popcount_layers(effective_layers(s, layers));
    /* Stack pixels in each row of the tile (a difference array over the
     * frames' boxes); a band of h rows loads at most h times the fullest
     * row. Summing every frame's width instead would count frames that
     * never share a band, and the band height - so the memory used - would
     * then shrink as the map grows. */
    long *d = calloc((size_t)t->ny + 1, sizeof *d);
    size_t widest = 0;
    box b;
    if (d) {
        for (int i = 0; i < s->n; i++)
            if (intersect(&s->frames[i], t->x0, t->y0, t->nx, t->ny, &b)) {
                d[b.y0 - t->y0] += b.nx;
                d[b.y0 - t->y0 + b.ny] -= b.nx;
            }
        long run = 0;
        for (long r = 0; r < t->ny; r++)
            if ((run += d[r]) > 0 && (size_t)run > widest) widest = (size_t)run;
        free(d);
    } else { /* no room for the rows: the bound that needs none */
        for (int i = 0; i < s->n; i++)
            if (intersect(&s->frames[i], t->x0, t->y0, t->nx, t->ny, &b)) widest += (size_t)b.nx;
    }
    size_t per_row = widest * (size_t)nl * sizeof(float) + extra_per_pixel * (size_t)t->nx;
    if (per_row == 0) return t->ny;
    size_t rows = budget / per_row;
    if (rows < 1) rows = 1;
    return rows > (size_t)t->ny ? t->ny : (long)rows;
}

static void fill(float *p, size_t n, float v) {
    for (size_t k = 0; k < n; k++) p[k] = v;
}

int mx_stack_load_rect(const mx_stack *s, long x0, long y0, long nx, long ny, unsigned layers,
                       mx_stack_load *ld) {
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "stack: rectangle of %ld x %ld pixels", nx, ny);
    if (!ld->idx && !(ld->idx = malloc((size_t)s->n * sizeof *ld->idx)))
        return mx_seterr(MX_ERR_NOMEM, "stack index of %d frames", s->n);
    unsigned e = effective_layers(s, layers);
    int nl = popcount_layers(e);
    int n = mx_stack_select(s, x0, y0, nx, ny, ld->idx);
    ld->x0 = x0;
    ld->y0 = y0;
    ld->nx = nx;
    ld->ny = ny;
    ld->n = 0;
    if (n > ld->slice_cap) {
        mx_stack_slice *sl = realloc(ld->slices, (size_t)n * sizeof *sl);
        if (!sl) return mx_seterr(MX_ERR_NOMEM, "stack: %d slices", n);
        ld->slices = sl;
        ld->slice_cap = n;
    }
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        mx_stack_slice *sl = &ld->slices[k];
        box b = {0, 0, 0, 0};
        intersect(&s->frames[ld->idx[k]], x0, y0, nx, ny, &b);
        sl->frame = ld->idx[k];
        sl->x0 = b.x0;
        sl->y0 = b.y0;
        sl->nx = b.nx;
        sl->ny = b.ny;
        sl->time = s->frames[ld->idx[k]].time;
        total += (size_t)b.nx * (size_t)b.ny * (size_t)nl;
    }
    if (total > ld->cap) {
        /* grow with headroom so that tiles of similar depth reuse the block */
        size_t want = total + total / 4;
        float *nb = realloc(ld->buf, want * sizeof *nb);
        if (!nb) return mx_seterr(MX_ERR_NOMEM, "stack: %zu pixels for %d frames", total, n);
        ld->buf = nb;
        ld->cap = want;
    }
    size_t off = 0;
    for (int k = 0; k < n; k++) {
        mx_stack_slice *sl = &ld->slices[k];
        size_t area = (size_t)sl->nx * (size_t)sl->ny;
        for (int l = 0; l < MX_LAYER_COUNT; l++) {
            if (!(e & MX_STACK_BIT(l))) {
                sl->layer[l] = NULL;
                continue;
            }
            sl->layer[l] = ld->buf + off;
            off += area;
        }
    }
    ld->n = n;
    /* Files of this load, (frame, layer) ascending like the last load's
     * list, so a reader still open is found by walking both together. The
     * new list is built behind the old one in the same array, then moved. */
    int nold = ld->nopen, need = n * nl, ncur = 0, w = 0, st = MX_OK, keep = keep_open_limit();
    if (nold + need > ld->open_cap) {
        struct mx_stack_open *o = realloc(ld->open, (size_t)(nold + need) * sizeof *o);
        if (!o) {
            close_open(ld);
            ld->n = 0;
            return mx_seterr(MX_ERR_NOMEM, "stack: %d open files", nold + need);
        }
        ld->open = o;
        ld->open_cap = nold + need;
    }
    struct mx_stack_open *old = ld->open, *cur = ld->open ? ld->open + nold : NULL;
    for (int k = 0; k < n && st == MX_OK; k++) {
        mx_stack_slice *sl = &ld->slices[k];
        size_t area = (size_t)sl->nx * (size_t)sl->ny;
        for (int l = 0; l < MX_LAYER_COUNT && st == MX_OK; l++) {
            if (!sl->layer[l]) continue;
            const char *path = s->paths[l] ? s->paths[l][sl->frame] : NULL;
            if (!path) {
                fill(sl->layer[l], area, l == MX_LAYER_COVERAGE ? 1.0f : NAN);
                continue;
            }
            while (w < nold && (old[w].frame < sl->frame || (old[w].frame == sl->frame && old[w].layer < l))) {
                mx_fits_reader_close(old[w].r); /* not needed any more */
                old[w++].r = NULL;
            }
            mx_fits_reader *r = NULL;
            if (w < nold && old[w].frame == sl->frame && old[w].layer == l) {
                r = old[w].r;
                old[w++].r = NULL;
            } else {
                st = mx_fits_reader_open(path, &r);
            }
            if (st == MX_OK) {
                const box *b = &s->boxes[l][sl->frame];
                st = mx_fits_reader_region(r, sl->x0 - b->x0, sl->y0 - b->y0, sl->nx, sl->ny, sl->layer[l]);
                if (ncur < keep) {
                    cur[ncur].frame = sl->frame;
                    cur[ncur].layer = l;
                    cur[ncur++].r = r;
                } else {
                    mx_fits_reader_close(r); /* a deep stack: not all of it stays open */
                }
            }
            if (st != MX_OK) mx_preferr(st, "%s of stack frame %d", s->names[l], sl->frame + 1);
        }
    }
    for (; w < nold; w++) mx_fits_reader_close(old[w].r);
    if (ncur > 0) memmove(ld->open, cur, (size_t)ncur * sizeof *cur);
    ld->nopen = ncur;
    if (st != MX_OK) {
        close_open(ld); /* a failed file is not kept */
        ld->n = 0;
        return st;
    }
    return MX_OK;
}

/* ---- tiles in parallel --------------------------------------------------------- */

typedef struct {
    const mx_stack *s;
    const mx_tile *tiles;
    mx_stack_load *loads;
    size_t budget;
    mx_stack_tile_fn fn;
    void *ctx;
    mx_progress *prog;
} run_ctx;

static int run_one(long i, void *vctx, int thread) {
    run_ctx *c = vctx;
    int st = c->fn(c->s, &c->tiles[i], &c->loads[thread], c->budget, thread, c->ctx);
    if (st == MX_OK) mx_progress_step(c->prog, 1);
    return st;
}

int mx_stack_run_tiles(const mx_stack *s, const mx_tile *tiles, int ntiles, size_t budget,
                       const char *label, mx_stack_tile_fn fn, void *ctx) {
    if (ntiles <= 0) return MX_OK;
    int nt = mx_threads();
    if (nt > ntiles) nt = ntiles;
    if (nt < 1) nt = 1;
    mx_stack_load *loads = calloc((size_t)nt, sizeof *loads);
    if (!loads) return mx_seterr(MX_ERR_NOMEM, "stack: %d loads", nt);
    run_ctx c = {s, tiles, loads, budget ? (budget / (size_t)nt ? budget / (size_t)nt : 1) : 0, fn,
                 ctx, label ? mx_progress_start(label, ntiles, "tiles") : NULL};
    int st = mx_parallel_for_n(ntiles, nt, run_one, &c);
    mx_progress_done(c.prog);
    for (int t = 0; t < nt; t++) mx_stack_load_release(&loads[t]);
    free(loads);
    return st;
}
