/* medfilter.c - MedFilter background subtraction (Median and Sbkg modes) and
 * the exact sliding-window order statistics behind the Median mode.
 *
 * Window engine. The image is cut into square output tiles; a tile needs
 * the source pixels its windows reach. Those good pixels are radix-sorted
 * once, so every pixel carries a rank (ties broken arbitrarily: equal
 * values give equal answers). The window is then a set of ranks kept in a
 * bitset; it slides over the tile in serpentine order (right along one row,
 * one row down, left along the next), so each step adds and removes one
 * column (or, at the row ends, one row). For each requested quantile a
 * pointer rank with the count of window elements below it is maintained
 * through the updates; the k-th smallest is found by walking the pointer to
 * it, a few word scans because the order statistic moves little from one
 * pixel to the next. The answer is the exact k-th value, so results do not
 * depend on the tiling or on the thread count.
 */
#include "mopex/mx_medfilter.h"
#include "mopex/mx_error.h"
#include "mopex/mx_parallel.h"
#include "mopex/mx_stats.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- float <-> order-preserving unsigned key ---------------------------- */

static inline uint32_t float_key(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float key_float(uint32_t k) {
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* LSD radix sort of 64-bit items on their upper 32 bits (11 + 11 + 10 bit
 * digits). Digits on which all items agree are skipped. Returns the array
 * that holds the result (a or tmp). */
static uint64_t *radix_sort_hi32(uint64_t *a, uint64_t *tmp, size_t n) {
    static const int shift[3] = {32, 43, 54};
    size_t hist[3][2048];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = a[i];
        hist[0][(v >> 32) & 2047]++;
        hist[1][(v >> 43) & 2047]++;
        hist[2][(v >> 54) & 1023]++;
    }
    uint64_t *src = a, *dst = tmp;
    for (int p = 0; p < 3; p++) {
        size_t *h = hist[p];
        int nb = p == 2 ? 1024 : 2048;
        int trivial = 0;
        for (int b = 0; b < nb; b++)
            if (h[b] == n) trivial = 1;
        if (trivial) continue;
        size_t sum = 0;
        for (int b = 0; b < nb; b++) {
            size_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        int sh = shift[p];
        uint64_t msk = (uint64_t)(nb - 1);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = src[i];
            dst[h[(v >> sh) & msk]++] = v;
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* ---- window state: a set of ranks ---------------------------------------- */

typedef struct {
    uint64_t *bits;   /* bit r set: rank r is in the window */
    size_t nw;
    /* int, not long: a type that cannot alias the uint64_t words, so the
     * compiler keeps these in registers across the bit updates. */
    int count;
    int nptr;
    int ptr[MX_WQ_MAX];
    int below[MX_WQ_MAX]; /* window elements with rank < ptr */
} wstate;

/* Branch-free updates: whether a rank lies below a pointer is a coin flip
 * on noisy data, and mispredictions would dominate. */
static inline __attribute__((always_inline)) void ws_add(wstate *s, int r, const int np) {
    s->bits[(size_t)r >> 6] |= 1ull << (r & 63);
    s->count++;
    for (int i = 0; i < np; i++) s->below[i] += (r < s->ptr[i]);
}

static inline __attribute__((always_inline)) void ws_remove(wstate *s, int r, const int np) {
    s->bits[(size_t)r >> 6] &= ~(1ull << (r & 63));
    s->count--;
    for (int i = 0; i < np; i++) s->below[i] -= (r < s->ptr[i]);
}

/* Smallest rank >= r in the window, -1 if none. A plain word scan: the
 * window holds about one rank in (tile pixels / window pixels), a few
 * words apart, and the order statistic moves by a few elements per step;
 * a summary level would cost a dependent read-modify-write per update. */
static long ws_next(const wstate *s, long r) {
    size_t w = (size_t)r >> 6;
    if (w >= s->nw) return -1;
    uint64_t x = s->bits[w] & (~0ull << (r & 63));
    while (!x) {
        if (++w >= s->nw) return -1;
        x = s->bits[w];
    }
    return (long)((w << 6) + (size_t)__builtin_ctzll(x));
}

static inline uint64_t low_mask(unsigned b) { /* bits 0..b inclusive */
    return b >= 63 ? ~0ull : ((1ull << (b + 1)) - 1);
}

/* Largest rank < r in the window, -1 if none. */
static long ws_prev(const wstate *s, long r) {
    if (r <= 0) return -1;
    size_t q = (size_t)r - 1, w = q >> 6;
    uint64_t x = s->bits[w] & low_mask((unsigned)(q & 63));
    while (!x) {
        if (w == 0) return -1;
        x = s->bits[--w];
    }
    return (long)((w << 6) + 63 - (size_t)__builtin_clzll(x));
}

/* Rank of the k-th smallest (0-based) window element; k < count. Moves
 * pointer i there. */
static int ws_select(wstate *s, int i, int k) {
    long r = s->ptr[i];
    int b = s->below[i];
    while (b > k) {
        r = ws_prev(s, r);
        b--;
    }
    for (;;) {
        long p = ws_next(s, r);
        if (b == k) {
            r = p;
            break;
        }
        b++;
        r = p + 1;
    }
    s->ptr[i] = (int)r;
    s->below[i] = b;
    return (int)r;
}

/* ---- mx_window_quantiles ------------------------------------------------- */

/* Output tiles are TILE x TILE pixels; a tile ranks the (TILE + window - 1)^2
 * source pixels its windows reach. Small rank spaces keep the bitset in L1
 * and the walks short; the price is re-sorting the overlap, which is cheap. */
#define TILE 128

typedef struct {
    uint64_t *keys, *tmp;
    float *vals;     /* rank -> value */
    int32_t *rk;     /* ranks, transposed: rk[(x - cx0) * R + (y - r0)], -1 = bad */
    uint64_t *bits;
} wq_scratch;

typedef struct {
    const float *img;
    const uint8_t *bad;
    long nx, ny;
    const mx_window_opts *o;
    float *const *out;
    uint8_t *missing;
    int lox, hix, loy, hiy;
    long ntx;            /* tiles across */
    size_t cap, capw;    /* source pixels and bitset words of the largest tile */
    wq_scratch *scratch; /* one per thread */
} wq_ctx;

static void wq_scratch_free(wq_scratch *s) {
    free(s->keys);
    free(s->tmp);
    free(s->vals);
    free(s->rk);
    free(s->bits);
    memset(s, 0, sizeof *s);
}

static int wq_scratch_alloc(wq_ctx *c, wq_scratch *s) {
    s->keys = malloc(c->cap * sizeof *s->keys);
    s->tmp = malloc(c->cap * sizeof *s->tmp);
    s->vals = malloc(c->cap * sizeof *s->vals);
    s->rk = malloc(c->cap * sizeof *s->rk);
    s->bits = calloc(c->capw, sizeof *s->bits);
    if (!s->keys || !s->tmp || !s->vals || !s->rk || !s->bits) {
        wq_scratch_free(s);
        return mx_seterr(MX_ERR_NOMEM, "medfilter window: scratch for %zu pixels", c->cap);
    }
    return MX_OK;
}

static inline void emit(const wq_ctx *c, wstate *ws, const float *vals, long x, long y) {
    const mx_window_opts *o = c->o;
    size_t p = (size_t)y * (size_t)c->nx + (size_t)x;
    int n = ws->count;
    if (n < o->min_good || n <= o->n_drop_high || n < 1) {
        for (int i = 0; i < o->nq; i++) c->out[i][p] = NAN;
        if (c->missing) c->missing[p] = 1;
        return;
    }
    if (c->missing) c->missing[p] = 0;
    int m = n - o->n_drop_high;
    for (int i = 0; i < o->nq; i++) {
        double q = o->q[i];
        if (!o->interpolate) {
            int k = (int)floor(q * (double)m);
            if (k > m - 1) k = m - 1;
            if (k < 0) k = 0;
            c->out[i][p] = vals[ws_select(ws, i, k)];
        } else {
            double h = q * (double)(m - 1);
            int k = (int)floor(h);
            if (k > m - 1) k = m - 1;
            if (k < 0) k = 0;
            double f = h - (double)k;
            int r = ws_select(ws, i, k);
            double v = vals[r];
            if (f > 0 && k + 1 < m) {
                double v1 = vals[ws_next(ws, r + 1)];
                v = v + f * (v1 - v);
            }
            c->out[i][p] = (float)v;
        }
    }
}

/* The tile's geometry: outputs [x0, x1) x [y0, y1); ranked source columns
 * [cx0, cx1) and rows [r0, r0 + R). */
typedef struct {
    long x0, x1, y0, y1, cx0, cx1, r0, R;
} tile_geom;

/* Serpentine walk over the tile (right along the first row, down, left
 * along the next, ...). `np` is a compile-time constant at the call sites. */
static inline __attribute__((always_inline)) void slide(const wq_ctx *c, wstate *ws,
                                                        const wq_scratch *sc, const tile_geom *g,
                                                        const int np) {
    const long nx = c->nx, ny = c->ny;
    const int lox = c->lox, hix = c->hix, loy = c->loy, hiy = c->hiy;
    const long R = g->R, r0 = g->r0, cx0 = g->cx0;
    const int32_t *rk = sc->rk;
    /* Current window rows, local to r0, inclusive. */
    long wr0 = (g->y0 - loy > 0 ? g->y0 - loy : 0) - r0;
    long wr1 = (g->y0 + hiy < ny - 1 ? g->y0 + hiy : ny - 1) - r0;

#define COL_OP(col, OP)                                                                \
    do {                                                                               \
        const int32_t *cp_ = rk + (size_t)((col) - cx0) * (size_t)R;                   \
        for (long r_ = wr0; r_ <= wr1; r_++)                                           \
            if (cp_[r_] >= 0) OP(ws, cp_[r_], np);                                     \
    } while (0)
#define ROW_OP(lrow, xa, xb, OP)                                                       \
    do {                                                                               \
        for (long c_ = (xa); c_ <= (xb); c_++) {                                       \
            int32_t v_ = rk[(size_t)(c_ - cx0) * (size_t)R + (size_t)(lrow)];          \
            if (v_ >= 0) OP(ws, v_, np);                                               \
        }                                                                              \
    } while (0)

    long x = g->x0;
    {
        long xa = x - lox > 0 ? x - lox : 0;
        long xb = x + hix < nx - 1 ? x + hix : nx - 1;
        for (long col = xa; col <= xb; col++) COL_OP(col, ws_add);
    }
    for (long y = g->y0; y < g->y1; y++) {
        int right = ((y - g->y0) & 1) == 0;
        for (;;) {
            emit(c, ws, sc->vals, x, y);
            if (right) {
                if (x == g->x1 - 1) break;
                if (x + 1 + hix < nx) COL_OP(x + 1 + hix, ws_add);
                if (x - lox >= 0) COL_OP(x - lox, ws_remove);
                x++;
            } else {
                if (x == g->x0) break;
                if (x - 1 - lox >= 0) COL_OP(x - 1 - lox, ws_add);
                if (x + hix < nx) COL_OP(x + hix, ws_remove);
                x--;
            }
        }
        if (y + 1 < g->y1) {
            long xa = x - lox > 0 ? x - lox : 0;
            long xb = x + hix < nx - 1 ? x + hix : nx - 1;
            if (y - loy >= 0) {
                ROW_OP(y - loy - r0, xa, xb, ws_remove);
                wr0 = y + 1 - loy - r0;
            }
            if (y + 1 + hiy < ny) {
                ROW_OP(y + 1 + hiy - r0, xa, xb, ws_add);
                wr1 = y + 1 + hiy - r0;
            }
        }
    }
#undef COL_OP
#undef ROW_OP
}

static int wq_tile(long tile, void *vctx, int thread) {
    wq_ctx *c = vctx;
    wq_scratch *sc = &c->scratch[thread];
    if (!sc->keys) {
        int st = wq_scratch_alloc(c, sc);
        if (st != MX_OK) return st;
    }
    const long nx = c->nx, ny = c->ny;
    tile_geom g;
    g.x0 = (tile % c->ntx) * TILE;
    g.y0 = (tile / c->ntx) * TILE;
    g.x1 = g.x0 + TILE < nx ? g.x0 + TILE : nx;
    g.y1 = g.y0 + TILE < ny ? g.y0 + TILE : ny;
    g.cx0 = g.x0 - c->lox > 0 ? g.x0 - c->lox : 0;
    g.cx1 = g.x1 + c->hix < nx ? g.x1 + c->hix : nx;
    g.r0 = g.y0 - c->loy > 0 ? g.y0 - c->loy : 0;
    long r1 = g.y1 + c->hiy < ny ? g.y1 + c->hiy : ny;
    g.R = r1 - g.r0;

    /* Rank the good pixels the tile's windows reach. */
    size_t M = 0;
    for (long row = g.r0; row < r1; row++) {
        const float *src = c->img + (size_t)row * (size_t)nx;
        const uint8_t *bd = c->bad ? c->bad + (size_t)row * (size_t)nx : NULL;
        for (long x = g.cx0; x < g.cx1; x++) {
            float v = src[x];
            uint32_t t = (uint32_t)((x - g.cx0) * g.R + (row - g.r0));
            if (isfinite(v) && !(bd && bd[x]))
                sc->keys[M++] = ((uint64_t)float_key(v) << 32) | t;
            else
                sc->rk[t] = -1;
        }
    }
    uint64_t *sorted = radix_sort_hi32(sc->keys, sc->tmp, M);
    for (size_t i = 0; i < M; i++) {
        uint64_t v = sorted[i];
        sc->rk[(uint32_t)v] = (int32_t)i;
        sc->vals[i] = key_float((uint32_t)(v >> 32));
    }

    wstate ws;
    memset(&ws, 0, sizeof ws);
    ws.bits = sc->bits;
    ws.nw = (M + 63) / 64;
    if (ws.nw == 0) ws.nw = 1;
    ws.nptr = c->o->nq;
    memset(ws.bits, 0, ws.nw * sizeof *ws.bits);

    if (ws.nptr == 1)
        slide(c, &ws, sc, &g, 1);
    else
        slide(c, &ws, sc, &g, ws.nptr);
    return MX_OK;
}

int mx_window_quantiles(const float *img, const uint8_t *bad, long nx, long ny,
                        const mx_window_opts *o, float *const *out, uint8_t *missing) {
    if (!img || !o || !out) return mx_seterr(MX_ERR_PARAM, "window quantiles: NULL argument");
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "window quantiles: image size %ldx%ld", nx, ny);
    if (o->window_x < 1 || o->window_y < 1)
        return mx_seterr(MX_ERR_PARAM, "Window_X/Window_Y = %d/%d: must be >= 1", o->window_x,
                         o->window_y);
    if (o->n_drop_high < 0)
        return mx_seterr(MX_ERR_PARAM, "N_Outliers_Per_Window = %d: must be >= 0", o->n_drop_high);
    if (o->nq < 1 || o->nq > MX_WQ_MAX)
        return mx_seterr(MX_ERR_PARAM, "window quantiles: %d quantiles requested (1..%d)", o->nq,
                         MX_WQ_MAX);
    for (int i = 0; i < o->nq; i++) {
        if (!out[i]) return mx_seterr(MX_ERR_PARAM, "window quantiles: output %d is NULL", i);
        if (!(o->q[i] >= 0.0 && o->q[i] <= 1.0))
            return mx_seterr(MX_ERR_PARAM, "window quantiles: q[%d] = %g outside [0, 1]", i,
                             o->q[i]);
    }
    wq_ctx c;
    memset(&c, 0, sizeof c);
    c.img = img;
    c.bad = bad;
    c.nx = nx;
    c.ny = ny;
    c.o = o;
    c.out = out;
    c.missing = missing;
    /* Offsets beyond the image change no window; clamping keeps them small. */
    c.lox = (o->window_x - 1) / 2;
    c.hix = o->window_x / 2;
    c.loy = (o->window_y - 1) / 2;
    c.hiy = o->window_y / 2;
    if (c.lox > nx) c.lox = (int)nx;
    if (c.hix > nx) c.hix = (int)nx;
    if (c.loy > ny) c.loy = (int)ny;
    if (c.hiy > ny) c.hiy = (int)ny;
    long tw = TILE + c.lox + c.hix, th = TILE + c.loy + c.hiy;
    if (tw > nx) tw = nx;
    if (th > ny) th = ny;
    double cap = (double)tw * (double)th;
    if (cap > (double)INT32_MAX)
        return mx_seterr(MX_ERR_PARAM,
                         "window quantiles: Window_X x Window_Y = %d x %d is too large (a tile "
                         "would rank %.0f pixels, at most 2^31)",
                         o->window_x, o->window_y, cap);
    c.cap = (size_t)cap;
    c.capw = (c.cap + 63) / 64 + 1;
    c.ntx = (nx + TILE - 1) / TILE;
    long ntiles = c.ntx * ((ny + TILE - 1) / TILE);
    int nt = mx_threads();
    if (nt > ntiles) nt = (int)ntiles;
    if (nt < 1) nt = 1;
    c.scratch = calloc((size_t)nt, sizeof *c.scratch);
    if (!c.scratch) return mx_seterr(MX_ERR_NOMEM, "window quantiles: %d thread slots", nt);
    int status = mx_parallel_for_n(ntiles, nt, wq_tile, &c);
    for (int t = 0; t < nt; t++) wq_scratch_free(&c.scratch[t]);
    free(c.scratch);
    return status;
}

/* ---- missing-pixel fill -------------------------------------------------- */

typedef struct {
    float *img;
    const uint8_t *missing, *skip;
    long nx, ny;
    int minn;
} fill_ctx;

static inline void ring_take(const fill_ctx *c, long x, long y, double *sum, long *cnt) {
    size_t p = (size_t)y * (size_t)c->nx + (size_t)x;
    if (!c->missing[p]) {
        float v = c->img[p];
        if (isfinite(v)) {
            *sum += v;
            (*cnt)++;
        }
    }
}

static int fill_row(long y, void *vctx, int thread) {
    (void)thread;
    fill_ctx *c = vctx;
    const long nx = c->nx, ny = c->ny;
    for (long x = 0; x < nx; x++) {
        size_t p = (size_t)y * (size_t)nx + (size_t)x;
        if (!c->missing[p] || (c->skip && c->skip[p])) continue;
        double sum = 0.0;
        long cnt = 0;
        long rmax = x;
        if (nx - 1 - x > rmax) rmax = nx - 1 - x;
        if (y > rmax) rmax = y;
        if (ny - 1 - y > rmax) rmax = ny - 1 - y;
        float result = NAN;
        for (long r = 1; r <= rmax; r++) {
            long xa = x - r, xb = x + r, ya = y - r, yb = y + r;
            long cxa = xa < 0 ? 0 : xa, cxb = xb > nx - 1 ? nx - 1 : xb;
            if (ya >= 0)
                for (long xx = cxa; xx <= cxb; xx++) ring_take(c, xx, ya, &sum, &cnt);
            if (yb <= ny - 1)
                for (long xx = cxa; xx <= cxb; xx++) ring_take(c, xx, yb, &sum, &cnt);
            long cya = ya + 1 < 0 ? 0 : ya + 1, cyb = yb - 1 > ny - 1 ? ny - 1 : yb - 1;
            if (xa >= 0)
                for (long yy = cya; yy <= cyb; yy++) ring_take(c, xa, yy, &sum, &cnt);
            if (xb <= nx - 1)
                for (long yy = cya; yy <= cyb; yy++) ring_take(c, xb, yy, &sum, &cnt);
            if (cnt >= c->minn) {
                result = (float)(sum / (double)cnt);
                break;
            }
        }
        c->img[p] = result;
    }
    return MX_OK;
}

int mx_fill_missing(float *img, const uint8_t *missing, const uint8_t *skip, long nx, long ny,
                    int min_neighbors) {
    if (!img || !missing) return mx_seterr(MX_ERR_PARAM, "fill missing: NULL argument");
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "fill missing: image size %ldx%ld", nx, ny);
    size_t n = (size_t)nx * (size_t)ny;
    /* With no source value anywhere the ring scan would visit the whole image
     * for every missing pixel: answer NaN at once. */
    int any_src = 0, any_missing = 0;
    for (size_t p = 0; p < n; p++) {
        if (missing[p]) {
            any_missing = 1;
        } else if (isfinite(img[p])) {
            any_src = 1;
        }
        if (any_src && any_missing) break;
    }
    if (!any_missing) return MX_OK;
    if (!any_src) {
        for (size_t p = 0; p < n; p++)
            if (missing[p] && !(skip && skip[p])) img[p] = NAN;
        return MX_OK;
    }
    fill_ctx c = {img, missing, skip, nx, ny, min_neighbors < 1 ? 1 : min_neighbors};
    return mx_parallel_for(ny, fill_row, &c);
}

/* ---- Sbkg ---------------------------------------------------------------- */

/* Panel boundaries along one axis: edges[0..np] (edges[np] = n). */
static long *panel_edges(long n, int w, long *np_out) {
    long np = n / w, rem = n % w;
    if (np == 0)
        np = 1;
    else if (rem > 0 && 2 * rem >= w)
        np++;
    long *e = malloc((size_t)(np + 1) * sizeof *e);
    if (!e) return NULL;
    for (long i = 0; i < np; i++) e[i] = i * (long)w;
    e[np] = n;
    *np_out = np;
    return e;
}

typedef struct {
    const float *img;
    const uint8_t *bad;
    long nx, ny, npx, npy;
    const long *ex, *ey;
    int min_good;
    double *pv;       /* panel values */
    uint8_t *valid;
} panel_ctx;

static int panel_row(long j, void *vctx, int thread) {
    (void)thread;
    panel_ctx *c = vctx;
    long maxw = 0;
    for (long i = 0; i < c->npx; i++)
        if (c->ex[i + 1] - c->ex[i] > maxw) maxw = c->ex[i + 1] - c->ex[i];
    long h = c->ey[j + 1] - c->ey[j];
    float *buf = malloc((size_t)(maxw * h) * sizeof *buf);
    if (!buf) return mx_seterr(MX_ERR_NOMEM, "Sbkg: panel buffer of %ld pixels", maxw * h);
    int status = MX_OK;
    for (long i = 0; i < c->npx; i++) {
        size_t m = 0;
        for (long y = c->ey[j]; y < c->ey[j + 1]; y++) {
            size_t row = (size_t)y * (size_t)c->nx;
            for (long x = c->ex[i]; x < c->ex[i + 1]; x++) {
                float v = c->img[row + (size_t)x];
                if (isfinite(v) && !(c->bad && c->bad[row + (size_t)x])) buf[m++] = v;
            }
        }
        size_t k = (size_t)(j * c->npx + i);
        c->valid[k] = 0;
        c->pv[k] = NAN;
        if (m < (size_t)c->min_good || m == 0) continue;
        double mode;
        status = mx_mode_estimate(buf, NULL, m, &mode);
        if (status != MX_OK) break;
        c->pv[k] = mode;
        c->valid[k] = 1;
    }
    free(buf);
    return status;
}

/* Natural cubic spline second derivatives of f at knots t (n values). */
static void spline_d2(const double *t, const double *f, long n, double *d2, double *work) {
    if (n < 3) {
        for (long i = 0; i < n; i++) d2[i] = 0.0;
        return;
    }
    /* Thomas algorithm on the interior equations. work: n values. */
    d2[0] = 0.0;
    work[0] = 0.0;
    for (long i = 1; i < n - 1; i++) {
        double hl = t[i] - t[i - 1], hr = t[i + 1] - t[i];
        double sig = hl / (hl + hr);
        double p = sig * d2[i - 1] + 2.0;
        d2[i] = (sig - 1.0) / p;
        double rhs = (f[i + 1] - f[i]) / hr - (f[i] - f[i - 1]) / hl;
        work[i] = (6.0 * rhs / (hl + hr) - sig * work[i - 1]) / p;
    }
    d2[n - 1] = 0.0;
    for (long i = n - 2; i >= 1; i--) d2[i] = d2[i] * d2[i + 1] + work[i];
    d2[0] = 0.0;
}

/* Evaluate at s: spline (d2 != NULL) or piecewise linear (d2 == NULL);
 * linear extrapolation with the end slope beyond the outer knots. */
static double interp_eval(const double *t, const double *f, const double *d2, long n, double s,
                          long *hint) {
    if (n == 1) return f[0];
    if (s <= t[0]) {
        double h = t[1] - t[0];
        double slope = (f[1] - f[0]) / h;
        if (d2) slope -= h * (2.0 * d2[0] + d2[1]) / 6.0;
        return f[0] + slope * (s - t[0]);
    }
    if (s >= t[n - 1]) {
        double h = t[n - 1] - t[n - 2];
        double slope = (f[n - 1] - f[n - 2]) / h;
        if (d2) slope += h * (2.0 * d2[n - 1] + d2[n - 2]) / 6.0;
        return f[n - 1] + slope * (s - t[n - 1]);
    }
    long i = *hint;
    if (i < 0 || i > n - 2 || s < t[i]) i = 0;
    while (i < n - 2 && s > t[i + 1]) i++;
    *hint = i;
    double h = t[i + 1] - t[i];
    double a = (t[i + 1] - s) / h, b = (s - t[i]) / h;
    double v = a * f[i] + b * f[i + 1];
    if (d2) v += ((a * a * a - a) * d2[i] + (b * b * b - b) * d2[i + 1]) * h * h / 6.0;
    return v;
}

typedef struct {
    const float *img;
    const uint8_t *bad;
    long nx, ny, npx, npy;
    const double *cx, *cy;
    const double *grid;    /* npy x npx */
    const double *d2y;     /* per panel column second derivatives along y (npy x npx) */
    int spline;
    float *bkg;            /* may be NULL */
    float *sub;            /* may be NULL */
} interp_ctx;

#define INTERP_ROWS 16

static int interp_rows(long blk, void *vctx, int thread) {
    (void)thread;
    interp_ctx *c = vctx;
    long npx = c->npx, npy = c->npy;
    double *buf = malloc((size_t)(6 * (npx > npy ? npx : npy) + 2) * sizeof *buf);
    if (!buf) return mx_seterr(MX_ERR_NOMEM, "Sbkg interpolation: %ld nodes", npx);
    double *node = buf, *d2x = node + npx, *work = d2x + npx, *colf = work + npx,
           *cold2 = colf + (npx > npy ? npx : npy);
    long ya = blk * INTERP_ROWS, yb = ya + INTERP_ROWS < c->ny ? ya + INTERP_ROWS : c->ny;
    for (long y = ya; y < yb; y++) {
        for (long i = 0; i < npx; i++) {
            for (long j = 0; j < npy; j++) {
                colf[j] = c->grid[j * npx + i];
                cold2[j] = c->d2y[j * npx + i];
            }
            long hint = 0;
            node[i] = interp_eval(c->cy, colf, c->spline ? cold2 : NULL, npy, (double)y, &hint);
        }
        if (c->spline) spline_d2(c->cx, node, npx, d2x, work);
        long hint = 0;
        size_t row = (size_t)y * (size_t)c->nx;
        for (long x = 0; x < c->nx; x++) {
            float b =
                (float)interp_eval(c->cx, node, c->spline ? d2x : NULL, npx, (double)x, &hint);
            size_t p = row + (size_t)x;
            if (c->bkg) c->bkg[p] = b;
            if (c->sub) {
                float v = c->img[p];
                c->sub[p] = (isfinite(v) && !(c->bad && c->bad[p])) ? v - b : NAN;
            }
        }
    }
    free(buf);
    return MX_OK;
}

static int sbkg(const float *img, const uint8_t *bad, long nx, long ny, const mx_medfilter_opts *o,
                float *sub, float *bkg) {
    int status = MX_OK;
    long npx = 0, npy = 0;
    long *ex = panel_edges(nx, o->window_x, &npx);
    long *ey = panel_edges(ny, o->window_y, &npy);
    double *pv = NULL, *filt = NULL, *d2y = NULL, *cx = NULL, *cy = NULL, *tmp = NULL;
    uint8_t *valid = NULL;
    float *mbuf = NULL;
    if (!ex || !ey) {
        status = mx_seterr(MX_ERR_NOMEM, "Sbkg: panel edges");
        goto exit;
    }
    size_t np = (size_t)(npx * npy);
    pv = malloc(np * sizeof *pv);
    filt = malloc(np * sizeof *filt);
    d2y = malloc(np * sizeof *d2y);
    valid = malloc(np);
    cx = malloc((size_t)npx * sizeof *cx);
    cy = malloc((size_t)npy * sizeof *cy);
    tmp = malloc((size_t)(2 * (npx > npy ? npx : npy)) * sizeof *tmp);
    if (!pv || !filt || !d2y || !valid || !cx || !cy || !tmp) {
        status = mx_seterr(MX_ERR_NOMEM, "Sbkg: %zu panels", np);
        goto exit;
    }
    for (long i = 0; i < npx; i++) cx[i] = 0.5 * (double)(ex[i] + ex[i + 1] - 1);
    for (long j = 0; j < npy; j++) cy[j] = 0.5 * (double)(ey[j] + ey[j + 1] - 1);

    panel_ctx pc = {img, bad, nx,  ny, npx, npy, ex, ey, o->min_good < 1 ? 1 : o->min_good,
                    pv,  valid};
    if ((status = mx_parallel_for(npy, panel_row, &pc)) != MX_OK) goto exit;

    /* Panels without enough good pixels: mean of the nearest valid panels. */
    int nvalid = 0;
    for (size_t k = 0; k < np; k++) nvalid += valid[k];
    if (nvalid == 0) {
        size_t n = (size_t)nx * (size_t)ny;
        for (size_t p = 0; p < n; p++) {
            if (bkg) bkg[p] = NAN;
            if (sub) sub[p] = NAN;
        }
        goto exit;
    }
    for (long j = 0; j < npy; j++)
        for (long i = 0; i < npx; i++) {
            size_t k = (size_t)(j * npx + i);
            filt[k] = pv[k];
            if (valid[k]) continue;
            double best = INFINITY, acc = 0.0;
            long cnt = 0;
            for (long jj = 0; jj < npy; jj++)
                for (long ii = 0; ii < npx; ii++) {
                    size_t kk = (size_t)(jj * npx + ii);
                    if (!valid[kk]) continue;
                    double d2 = (double)((ii - i) * (ii - i) + (jj - j) * (jj - j));
                    if (d2 < best) {
                        best = d2;
                        acc = pv[kk];
                        cnt = 1;
                    } else if (d2 == best) {
                        acc += pv[kk];
                        cnt++;
                    }
                }
            filt[k] = acc / (double)cnt;
        }
    memcpy(pv, filt, np * sizeof *pv);

    int fs = o->sbkg_filter_size;
    long pmin = npx < npy ? npx : npy;
    if (fs > pmin) fs = (int)pmin;
    if (fs >= 2) {
        int half = fs / 2;
        mbuf = malloc((size_t)((2 * half + 1) * (2 * half + 1)) * sizeof *mbuf);
        if (!mbuf) {
            status = mx_seterr(MX_ERR_NOMEM, "Sbkg: filter box %d", fs);
            goto exit;
        }
        for (long j = 0; j < npy; j++)
            for (long i = 0; i < npx; i++) {
                long hx = half, hy = half;
                if (hx > i) hx = i;
                if (hx > npx - 1 - i) hx = npx - 1 - i;
                if (hy > j) hy = j;
                if (hy > npy - 1 - j) hy = npy - 1 - j;
                size_t m = 0;
                for (long jj = j - hy; jj <= j + hy; jj++)
                    for (long ii = i - hx; ii <= i + hx; ii++) mbuf[m++] = (float)pv[jj * npx + ii];
                filt[j * npx + i] = mx_median_inplace(
                    mbuf, m, o->median_average ? MX_MEDIAN_AVERAGE : MX_MEDIAN_UPPER);
            }
        memcpy(pv, filt, np * sizeof *pv);
    }

    int spline = o->sbkg_interp == MX_SBKG_SPLINE;
    for (size_t k = 0; k < np; k++) d2y[k] = 0.0;
    if (spline && npy >= 3) {
        double *f = tmp, *d2 = filt, *work = tmp + npy;
        for (long i = 0; i < npx; i++) {
            for (long j = 0; j < npy; j++) f[j] = pv[j * npx + i];
            spline_d2(cy, f, npy, d2, work);
            for (long j = 0; j < npy; j++) d2y[j * npx + i] = d2[j];
        }
    }
    interp_ctx ic = {img, bad, nx, ny, npx, npy, cx, cy, pv, d2y, spline, bkg, sub};
    status = mx_parallel_for((ny + INTERP_ROWS - 1) / INTERP_ROWS, interp_rows, &ic);
exit:
    free(ex);
    free(ey);
    free(pv);
    free(filt);
    free(d2y);
    free(valid);
    free(cx);
    free(cy);
    free(tmp);
    free(mbuf);
    return status;
}

/* ---- mx_medfilter -------------------------------------------------------- */

int mx_medfilter(const float *img, const uint8_t *bad, long nx, long ny,
                 const mx_medfilter_opts *o, float *sub, float *bkg, long *n_nan) {
    if (!img || !o) return mx_seterr(MX_ERR_PARAM, "medfilter: NULL image or options");
    if (!sub && !bkg) return mx_seterr(MX_ERR_PARAM, "medfilter: neither output requested");
    if (nx < 1 || ny < 1) return mx_seterr(MX_ERR_PARAM, "medfilter: image size %ldx%ld", nx, ny);
    if (o->window_x < 1 || o->window_y < 1)
        return mx_seterr(MX_ERR_PARAM, "medfilter: Window_X/Window_Y = %d/%d: must be >= 1",
                         o->window_x, o->window_y);
    if (o->n_outliers < 0)
        return mx_seterr(MX_ERR_PARAM, "medfilter: N_Outliers_Per_Window = %d: must be >= 0",
                         o->n_outliers);
    if (o->use_sbkg == 1 && o->sbkg_interp != MX_SBKG_SPLINE && o->sbkg_interp != MX_SBKG_BILINEAR)
        return mx_seterr(MX_ERR_PARAM, "medfilter: Sbkg interpolation %d unknown", o->sbkg_interp);
    size_t n = (size_t)nx * (size_t)ny;
    int status = MX_OK;
    float *bk = bkg;
    uint8_t *missing = NULL, *skip = NULL;

    if (o->use_sbkg == 1) {
        status = sbkg(img, bad, nx, ny, o, sub, bkg);
        if (status != MX_OK) goto exit;
    } else {
        if (!bk && !(bk = malloc(n * sizeof *bk))) {
            status = mx_seterr(MX_ERR_NOMEM, "medfilter: background of %ldx%ld", nx, ny);
            goto exit;
        }
        missing = malloc(n);
        skip = malloc(n);
        if (!missing || !skip) {
            status = mx_seterr(MX_ERR_NOMEM, "medfilter: flags of %ldx%ld", nx, ny);
            goto exit;
        }
        mx_window_opts wo;
        memset(&wo, 0, sizeof wo);
        wo.window_x = o->window_x;
        wo.window_y = o->window_y;
        wo.n_drop_high = o->n_outliers;
        wo.min_good = o->min_good < 1 ? 1 : o->min_good;
        wo.nq = 1;
        wo.q[0] = 0.5;
        wo.interpolate = o->median_average ? 1 : 0;
        float *outs[1] = {bk};
        if ((status = mx_window_quantiles(img, bad, nx, ny, &wo, outs, missing)) != MX_OK)
            goto exit;
        for (size_t p = 0; p < n; p++) skip[p] = !isfinite(img[p]) || (bad && bad[p]);
        if ((status = mx_fill_missing(bk, missing, skip, nx, ny, o->min_good_neighbors)) != MX_OK)
            goto exit;
        if (sub)
            for (size_t p = 0; p < n; p++) sub[p] = skip[p] ? NAN : img[p] - bk[p];
    }
    if (n_nan) {
        long cnt = 0;
        if (sub) {
            for (size_t p = 0; p < n; p++) cnt += isnan(sub[p]) ? 1 : 0;
        } else {
            for (size_t p = 0; p < n; p++)
                cnt += (!isfinite(img[p]) || (bad && bad[p]) || isnan(bkg[p])) ? 1 : 0;
        }
        *n_nan = cnt;
    }
exit:
    if (bk != bkg) free(bk);
    free(missing);
    free(skip);
    return status;
}
