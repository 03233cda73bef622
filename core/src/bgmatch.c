/* bgmatch.c - background matching (mx_bgmatch.h): pair statistics, the
 * tile kernel, the offsets solver, offsets.tbl, corrected copies and the
 * zodiacal subtraction of the Overlap Settings. The sparse linear algebra
 * is in sparse.c. */
#include "mopex/mopex.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ======================================================================
 * Pair statistics: open addressing over an insertion-ordered entry array
 * ====================================================================== */
typedef struct bg_entry {
    uint32_t m, n; /* m < n */
    double w, d;   /* W_mn, D_mn */
} bg_entry;

struct mx_bgpairs {
    long nframes;
    long count, cap;
    bg_entry *e;
    uint32_t *slot; /* 0 empty, else entry index + 1 */
    size_t nslots;  /* power of two */
};

static inline size_t pair_hash(uint32_t m, uint32_t n, size_t mask) {
    uint64_t z = ((uint64_t)m << 32 | n) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (size_t)(z ^ (z >> 31)) & mask;
}

int mx_bgpairs_new(long nframes, mx_bgpairs **out) {
    *out = NULL;
    if (nframes < 1 || nframes > 0x7FFFFFFFL)
        return mx_seterr(MX_ERR_PARAM, "pair statistics: %ld frames (need 1 .. 2^31-1)", nframes);
    mx_bgpairs *p = calloc(1, sizeof *p);
    if (!p) return mx_seterr(MX_ERR_NOMEM, "pair statistics");
    p->nframes = nframes;
    p->nslots = 64;
    p->slot = calloc(p->nslots, sizeof *p->slot);
    if (!p->slot) {
        free(p);
        return mx_seterr(MX_ERR_NOMEM, "pair statistics");
    }
    *out = p;
    return MX_OK;
}

void mx_bgpairs_free(mx_bgpairs *p) {
    if (!p) return;
    free(p->e);
    free(p->slot);
    free(p);
}

long mx_bgpairs_nframes(const mx_bgpairs *p) { return p->nframes; }
long mx_bgpairs_count(const mx_bgpairs *p) { return p->count; }

static int rehash(mx_bgpairs *p, size_t nslots) {
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s) return mx_seterr(MX_ERR_NOMEM, "pair statistics: hash of %zu slots", nslots);
    size_t mask = nslots - 1;
    for (long k = 0; k < p->count; k++) {
        size_t h = pair_hash(p->e[k].m, p->e[k].n, mask);
        while (s[h]) h = (h + 1) & mask;
        s[h] = (uint32_t)(k + 1);
    }
    free(p->slot);
    p->slot = s;
    p->nslots = nslots;
    return MX_OK;
}

/* The entry of (m, n), m < n, created when absent. */
static int find_or_insert(mx_bgpairs *p, uint32_t m, uint32_t n, bg_entry **out) {
    size_t mask = p->nslots - 1, h = pair_hash(m, n, mask);
    for (;;) {
        uint32_t s = p->slot[h];
        if (!s) break;
        bg_entry *e = &p->e[s - 1];
        if (e->m == m && e->n == n) {
            *out = e;
            return MX_OK;
        }
        h = (h + 1) & mask;
    }
    if (p->count >= 0xFFFFFFFEL) return mx_seterr(MX_ERR_NOMEM, "pair statistics: too many pairs");
    if (p->count == p->cap) {
        long cap = p->cap ? p->cap * 2 : 64;
        bg_entry *e = realloc(p->e, sizeof *e * (size_t)cap);
        if (!e) return mx_seterr(MX_ERR_NOMEM, "pair statistics: %ld pairs", cap);
        p->e = e;
        p->cap = cap;
    }
    bg_entry *e = &p->e[p->count];
    e->m = m;
    e->n = n;
    e->w = 0.0;
    e->d = 0.0;
    p->slot[h] = (uint32_t)(++p->count);
    /* keep the load under 1/2: short probe runs */
    if ((size_t)p->count * 2 > p->nslots) {
        int st = rehash(p, p->nslots * 2);
        if (st != MX_OK) return st;
    }
    *out = &p->e[p->count - 1];
    return MX_OK;
}

int mx_bgpairs_add(mx_bgpairs *p, long m, long n, double w, double d) {
    if (m == n || m < 0 || n < 0 || m >= p->nframes || n >= p->nframes)
        return mx_seterr(MX_ERR_PARAM, "pair statistics: invalid pair (%ld, %ld) of %ld frames", m,
                         n, p->nframes);
    if (w < 0)
        return mx_seterr(MX_ERR_PARAM, "pair statistics: negative weight %g for the pair (%ld, %ld)",
                         w, m + 1, n + 1);
    if (m > n) {
        long t = m;
        m = n;
        n = t;
        d = -d;
    }
    bg_entry *e;
    int st = find_or_insert(p, (uint32_t)m, (uint32_t)n, &e);
    if (st != MX_OK) return st;
    e->w += w;
    e->d += d;
    return MX_OK;
}

int mx_bgpairs_merge(mx_bgpairs *dst, const mx_bgpairs *src) {
    if (dst->nframes != src->nframes)
        return mx_seterr(MX_ERR_MISMATCH, "pair statistics: merging %ld frames into %ld",
                         src->nframes, dst->nframes);
    for (long k = 0; k < src->count; k++) {
        bg_entry *e;
        int st = find_or_insert(dst, src->e[k].m, src->e[k].n, &e);
        if (st != MX_OK) return st;
        e->w += src->e[k].w;
        e->d += src->e[k].d;
    }
    return MX_OK;
}

int mx_bgpairs_get(const mx_bgpairs *p, long m, long n, double *w, double *d) {
    *w = 0.0;
    *d = 0.0;
    if (m == n || m < 0 || n < 0 || m >= p->nframes || n >= p->nframes) return 0;
    int flip = m > n;
    uint32_t a = (uint32_t)(flip ? n : m), b = (uint32_t)(flip ? m : n);
    size_t mask = p->nslots - 1, h = pair_hash(a, b, mask);
    for (;;) {
        uint32_t s = p->slot[h];
        if (!s) return 0;
        const bg_entry *e = &p->e[s - 1];
        if (e->m == a && e->n == b) {
            *w = e->w;
            *d = flip ? -e->d : e->d;
            return 1;
        }
        h = (h + 1) & mask;
    }
}

void mx_bgpairs_entry(const mx_bgpairs *p, long k, long *m, long *n, double *w, double *d) {
    const bg_entry *e = &p->e[k];
    *m = e->m;
    *n = e->n;
    *w = e->w;
    *d = e->d;
}

/* ======================================================================
 * The tile kernel
 * ====================================================================== */
#define BG_SUB 128      /* sub-block side: keeps the frames per sub-block few */
#define BG_DENSE_K 1024 /* local dense pair arrays up to this many frames */

typedef struct kern_scratch {
    long kcap;           /* frames the dense arrays hold */
    double *W, *D;       /* K(K-1)/2 each */
    unsigned char *hit;  /* touched flags */
    long *touched;
    long ntouched;
} kern_scratch;

static int scratch_reserve(kern_scratch *s, long k) {
    if (k <= s->kcap) return MX_OK;
    size_t np = (size_t)k * (size_t)(k - 1) / 2;
    double *W = realloc(s->W, sizeof *W * (np ? np : 1));
    if (W) s->W = W;
    double *D = realloc(s->D, sizeof *D * (np ? np : 1));
    if (D) s->D = D;
    unsigned char *hit = realloc(s->hit, np ? np : 1);
    if (hit) s->hit = hit;
    long *t = realloc(s->touched, sizeof *t * (np ? np : 1));
    if (t) s->touched = t;
    if (!W || !D || !hit || !t) return mx_seterr(MX_ERR_NOMEM, "pair statistics: %ld frames in one block", k);
    memset(s->hit, 0, np ? np : 1);
    s->kcap = k;
    return MX_OK;
}

static int cmp_frame_id(const void *a, const void *b) {
    const mx_bgtile_frame *fa = *(const mx_bgtile_frame *const *)a, *fb = *(const mx_bgtile_frame *const *)b;
    return (fa->id > fb->id) - (fa->id < fb->id);
}

int mx_bgpairs_accumulate_block(mx_bgpairs *p, long w, long h, int nf, const mx_bgtile_frame *f,
                                long *usable) {
    int st = MX_OK;
    if (usable)
        for (int k = 0; k < nf; k++) usable[k] = 0;
    if (nf <= 0 || w <= 0 || h <= 0) return MX_OK;
    const mx_bgtile_frame **ord = malloc(sizeof *ord * (size_t)nf);
    long *uidx = malloc(sizeof *uidx * (size_t)nf);   /* sorted position -> caller index */
    int *act = malloc(sizeof *act * (size_t)nf);      /* frames of the sub-block */
    int *row = malloc(sizeof *row * (size_t)nf);      /* ... that cover the row */
    int *loc = malloc(sizeof *loc * (size_t)nf);
    double *val = malloc(sizeof *val * (size_t)nf), *var = malloc(sizeof *var * (size_t)nf);
    long *cnt = calloc((size_t)nf, sizeof *cnt);
    kern_scratch ks;
    memset(&ks, 0, sizeof ks);
    mx_bgpairs *hp = NULL; /* fallback for very deep sub-blocks */
    if (!ord || !uidx || !act || !row || !loc || !val || !var || !cnt) {
        st = mx_seterr(MX_ERR_NOMEM, "pair statistics: %d frames", nf);
        goto exit;
    }
    int with_sigma = f[0].sigma != NULL;
    for (int k = 0; k < nf; k++) {
        if ((f[k].sigma != NULL) != with_sigma) {
            st = mx_seterr(MX_ERR_PARAM, "pair statistics: frame %ld has %s uncertainty image but "
                           "frame %ld %s", f[k].id + 1, f[k].sigma ? "an" : "no", f[0].id + 1,
                           with_sigma ? "has one" : "has none");
            goto exit;
        }
        if (!f[k].value || f[k].stride < f[k].nx || f[k].id < 0 || f[k].id >= p->nframes) {
            st = mx_seterr(MX_ERR_PARAM, "pair statistics: frame %d of the block is malformed "
                           "(id %ld, stride %ld, width %ld)", k, f[k].id, f[k].stride, f[k].nx);
            goto exit;
        }
        ord[k] = &f[k];
    }
    qsort(ord, (size_t)nf, sizeof *ord, cmp_frame_id);
    for (int k = 0; k < nf; k++) {
        uidx[k] = ord[k] - f;
        if (k > 0 && ord[k]->id == ord[k - 1]->id) {
            st = mx_seterr(MX_ERR_PARAM, "pair statistics: frame %ld appears twice in one block",
                           ord[k]->id + 1);
            goto exit;
        }
    }
    for (long by = 0; by < h; by += BG_SUB) {
        long ey = by + BG_SUB < h ? by + BG_SUB : h;
        for (long bx = 0; bx < w; bx += BG_SUB) {
            long ex = bx + BG_SUB < w ? bx + BG_SUB : w;
            int K = 0;
            for (int k = 0; k < nf; k++) {
                const mx_bgtile_frame *g = ord[k];
                if (g->x0 < ex && g->x0 + g->nx > bx && g->y0 < ey && g->y0 + g->ny > by) act[K++] = k;
            }
            if (K == 0) continue;
            int dense = K <= BG_DENSE_K;
            if (dense) {
                if ((st = scratch_reserve(&ks, K)) != MX_OK) goto exit;
                ks.ntouched = 0;
            } else if (!hp && (st = mx_bgpairs_new(p->nframes, &hp)) != MX_OK) {
                goto exit;
            }
            for (long y = by; y < ey; y++) {
                int R = 0;
                for (int a = 0; a < K; a++) {
                    const mx_bgtile_frame *g = ord[act[a]];
                    if (y >= g->y0 && y < g->y0 + g->ny) row[R++] = a;
                }
                if (R == 0) continue;
                for (long x = bx; x < ex; x++) {
                    int c = 0;
                    for (int r = 0; r < R; r++) {
                        const int a = row[r];
                        const mx_bgtile_frame *g = ord[act[a]];
                        if (x < g->x0 || x >= g->x0 + g->nx) continue;
                        size_t idx = (size_t)(y - g->y0) * (size_t)g->stride + (size_t)(x - g->x0);
                        float v = g->value[idx];
                        if (!isfinite(v)) continue;
                        if (g->coverage && !(g->coverage[idx] > 0)) continue;
                        double s2 = 0.0;
                        if (with_sigma) {
                            float s = g->sigma[idx];
                            if (!(s > 0) || !isfinite(s)) continue;
                            s2 = (double)s * (double)s;
                        }
                        cnt[act[a]]++;
                        loc[c] = a;
                        val[c] = v;
                        var[c] = s2;
                        c++;
                    }
                    for (int b = 1; b < c; b++) {
                        const size_t base = (size_t)loc[b] * (size_t)(loc[b] - 1) / 2;
                        for (int a = 0; a < b; a++) {
                            const double wk = with_sigma ? 1.0 / (var[a] + var[b]) : 1.0;
                            const double dk = wk * (val[a] - val[b]);
                            if (dense) {
                                size_t t = base + (size_t)loc[a];
                                if (!ks.hit[t]) {
                                    ks.hit[t] = 1;
                                    ks.W[t] = 0.0;
                                    ks.D[t] = 0.0;
                                    ks.touched[ks.ntouched++] = (long)t;
                                }
                                ks.W[t] += wk;
                                ks.D[t] += dk;
                            } else if ((st = mx_bgpairs_add(hp, ord[act[loc[a]]]->id,
                                                            ord[act[loc[b]]]->id, wk, dk)) != MX_OK) {
                                goto exit;
                            }
                        }
                    }
                }
            }
            if (dense) {
                /* flush in first-touch order (fixed by the pixels) */
                for (long q = 0; q < ks.ntouched; q++) {
                    size_t t = (size_t)ks.touched[q];
                    /* invert t = b(b-1)/2 + a */
                    long b = (long)((1.0 + sqrt(1.0 + 8.0 * (double)t)) / 2.0);
                    while ((size_t)b * (size_t)(b - 1) / 2 > t) b--;
                    while ((size_t)(b + 1) * (size_t)b / 2 <= t) b++;
                    long a = (long)(t - (size_t)b * (size_t)(b - 1) / 2);
                    ks.hit[t] = 0;
                    if ((st = mx_bgpairs_add(p, ord[act[a]]->id, ord[act[b]]->id, ks.W[t], ks.D[t])) != MX_OK)
                        goto exit;
                }
            } else {
                if ((st = mx_bgpairs_merge(p, hp)) != MX_OK) goto exit;
                mx_bgpairs_free(hp);
                hp = NULL;
            }
        }
    }
    if (usable)
        for (int k = 0; k < nf; k++) usable[uidx[k]] = cnt[k];
exit:
    free(ord);
    free(uidx);
    free(act);
    free(row);
    free(loc);
    free(val);
    free(var);
    free(cnt);
    free(ks.W);
    free(ks.D);
    free(ks.hit);
    free(ks.touched);
    mx_bgpairs_free(hp);
    return st;
}

/* ======================================================================
 * Synthetic pair statistics
 * ====================================================================== */
long mx_bgsyn_nframes(const mx_bgsyn_opts *o) {
    if (o->kind == MX_BGSYN_RANDOM) return o->n;
    return o->rows * o->cols * (long)o->ndither;
}

static int syn_pair(mx_bgpairs *p, mx_rng *rng, const mx_bgsyn_opts *o, const double *e, long m,
                    long n, long npix) {
    if (npix <= 0) return MX_OK;
    double w = 1.0 / (2.0 * o->sigma * o->sigma);
    double W = (double)npix * w;
    double D = W * (e[m] - e[n]);
    if (o->noise) D += sqrt(W) * mx_rng_gauss(rng);
    return mx_bgpairs_add(p, m, n, W, D);
}

int mx_bgpairs_synthetic(const mx_bgsyn_opts *o, mx_bgpairs **out, double *truth) {
    *out = NULL;
    long N = mx_bgsyn_nframes(o);
    if (o->kind == MX_BGSYN_MAP && (o->rows < 1 || o->cols < 1 || o->ndither < 1))
        return mx_seterr(MX_ERR_PARAM, "synthetic pairs: map of %ld x %ld pointings x %d dithers",
                         o->rows, o->cols, o->ndither);
    if (N < 1) return mx_seterr(MX_ERR_PARAM, "synthetic pairs: %ld frames", N);
    if (!(o->sigma > 0)) return mx_seterr(MX_ERR_PARAM, "synthetic pairs: sigma must be > 0");
    mx_bgpairs *p = NULL;
    double *e = malloc(sizeof *e * (size_t)N);
    int st = e ? mx_bgpairs_new(N, &p) : mx_seterr(MX_ERR_NOMEM, "synthetic pairs");
    if (st != MX_OK) goto exit;
    mx_rng rng;
    mx_rng_seed(&rng, o->seed, 1);
    for (long i = 0; i < N; i++) e[i] = o->offset_sigma * mx_rng_gauss(&rng);
    mx_rng_seed(&rng, o->seed, 2);
    if (o->kind == MX_BGSYN_MAP) {
        const long nd = o->ndither;
        for (long r = 0; r < o->rows && st == MX_OK; r++)
            for (long c = 0; c < o->cols && st == MX_OK; c++) {
                long base = (r * o->cols + c) * nd;
                for (long a = 0; a < nd && st == MX_OK; a++)
                    for (long b = a + 1; b < nd && st == MX_OK; b++)
                        st = syn_pair(p, &rng, o, e, base + a, base + b, o->same);
                /* neighbours: right, down, down-right, down-left */
                const long nr[4] = {r, r + 1, r + 1, r + 1}, nc[4] = {c + 1, c, c + 1, c - 1};
                for (int k = 0; k < 4 && st == MX_OK; k++) {
                    if (nr[k] >= o->rows || nc[k] < 0 || nc[k] >= o->cols) continue;
                    long npix = k < 2 ? o->side : o->corner;
                    long nbase = (nr[k] * o->cols + nc[k]) * nd;
                    for (long a = 0; a < nd && st == MX_OK; a++)
                        for (long b = 0; b < nd && st == MX_OK; b++)
                            st = syn_pair(p, &rng, o, e, base + a, nbase + b, npix);
                }
            }
    } else {
        long same = o->same > 0 ? o->same : 1;
        for (long i = 1; i < N && st == MX_OK; i++) {
            long j = (long)(mx_rng_uniform(&rng) * (double)i);
            long npix = 1 + (long)(mx_rng_uniform(&rng) * (double)same);
            st = syn_pair(p, &rng, o, e, j, i, npix);
        }
        for (long k = 0; k < o->extra && st == MX_OK && N > 1; k++) {
            long a = (long)(mx_rng_uniform(&rng) * (double)N);
            long b = (long)(mx_rng_uniform(&rng) * (double)(N - 1));
            if (b >= a) b++;
            long npix = 1 + (long)(mx_rng_uniform(&rng) * (double)same);
            st = syn_pair(p, &rng, o, e, a, b, npix);
        }
    }
    if (st == MX_OK && truth) memcpy(truth, e, sizeof *e * (size_t)N);
exit:
    free(e);
    if (st != MX_OK) {
        mx_bgpairs_free(p);
        p = NULL;
    }
    *out = p;
    return st;
}

/* ======================================================================
 * The solver
 * ====================================================================== */
int mx_bgmatch_check(const mx_bgmatch_opts *o) {
    if (!o) return mx_seterr(MX_ERR_PARAM, "overlap correction: no options");
    if (!(o->top_threshold >= 0) || !isfinite(o->top_threshold))
        return mx_seterr(MX_ERR_PARAM, "overlap correction: TOP_THRESHOLD = %g must be >= 0",
                         o->top_threshold);
    if (!(o->bottom_threshold >= 0) || !isfinite(o->bottom_threshold))
        return mx_seterr(MX_ERR_PARAM, "overlap correction: BOTTOM_THRESHOLD = %g must be >= 0",
                         o->bottom_threshold);
    if (o->min_img_num < 0)
        return mx_seterr(MX_ERR_PARAM, "overlap correction: MIN_IMG_NUM = %d must be >= 0",
                         o->min_img_num);
    if (!(o->weight >= 0) || !isfinite(o->weight))
        return mx_seterr(MX_ERR_PARAM, "overlap correction: WEIGHT = %g must be >= 0", o->weight);
    if (o->outlier_rule < MX_BG_OUTLIER_STD || o->outlier_rule > MX_BG_OUTLIER_MAD)
        return mx_seterr(MX_ERR_PARAM, "overlap correction: unknown outlier rule %d", o->outlier_rule);
    return MX_OK;
}

void mx_bgmatch_result_clear(mx_bgmatch_result *r) {
    if (!r) return;
    free(r->offset);
    free(r->del);
    free(r->del_raw);
    free(r->outlier);
    free(r->group);
    free(r->group_size);
    memset(r, 0, sizeof *r);
}

/* The overlap graph: symmetric adjacency with W and D seen from each row. */
typedef struct bg_graph {
    long n;
    long *rowptr;
    int32_t *col;
    double *w, *d;
    double *ldiag, *b; /* L_mm and b_m */
} bg_graph;

static void graph_free(bg_graph *g) {
    free(g->rowptr);
    free(g->col);
    free(g->w);
    free(g->d);
    free(g->ldiag);
    free(g->b);
}

static int build_graph(const mx_bgpairs *p, const unsigned char *drop, bg_graph *g) {
    const long N = p->nframes;
    memset(g, 0, sizeof *g);
    g->n = N;
    g->rowptr = calloc((size_t)N + 1, sizeof *g->rowptr);
    g->ldiag = calloc((size_t)N, sizeof *g->ldiag);
    g->b = calloc((size_t)N, sizeof *g->b);
    if (!g->rowptr || !g->ldiag || !g->b) return mx_seterr(MX_ERR_NOMEM, "overlap graph of %ld frames", N);
    for (long k = 0; k < p->count; k++) {
        const bg_entry *e = &p->e[k];
        if (!isfinite(e->w) || !isfinite(e->d))
            return mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: non-finite pair statistics for "
                             "Image_id %u and %u (W = %g, D = %g)", e->m + 1, e->n + 1, e->w, e->d);
        if (!(e->w > 0) || (drop && (drop[e->m] || drop[e->n]))) continue;
        g->rowptr[e->m + 1]++;
        g->rowptr[e->n + 1]++;
    }
    for (long i = 0; i < N; i++) g->rowptr[i + 1] += g->rowptr[i];
    long nnz = g->rowptr[N];
    g->col = malloc(sizeof *g->col * (size_t)(nnz ? nnz : 1));
    g->w = malloc(sizeof *g->w * (size_t)(nnz ? nnz : 1));
    g->d = malloc(sizeof *g->d * (size_t)(nnz ? nnz : 1));
    long *fill = malloc(sizeof *fill * (size_t)N);
    if (!g->col || !g->w || !g->d || !fill) {
        free(fill);
        return mx_seterr(MX_ERR_NOMEM, "overlap graph: %ld adjacency entries", nnz);
    }
    memcpy(fill, g->rowptr, sizeof *fill * (size_t)N);
    for (long k = 0; k < p->count; k++) {
        const bg_entry *e = &p->e[k];
        if (!(e->w > 0) || (drop && (drop[e->m] || drop[e->n]))) continue;
        long a = fill[e->m]++, c = fill[e->n]++;
        g->col[a] = (int32_t)e->n;
        g->w[a] = e->w;
        g->d[a] = e->d;
        g->col[c] = (int32_t)e->m;
        g->w[c] = e->w;
        g->d[c] = -e->d;
    }
    free(fill);
    /* columns ascending in each row (rows are short: insertion sort), then
     * L_mm and b_m summed in that order */
    for (long i = 0; i < N; i++) {
        long r0 = g->rowptr[i], r1 = g->rowptr[i + 1];
        for (long k = r0 + 1; k < r1; k++) {
            int32_t c = g->col[k];
            double w = g->w[k], d = g->d[k];
            long t = k;
            while (t > r0 && g->col[t - 1] > c) {
                g->col[t] = g->col[t - 1];
                g->w[t] = g->w[t - 1];
                g->d[t] = g->d[t - 1];
                t--;
            }
            g->col[t] = c;
            g->w[t] = w;
            g->d[t] = d;
        }
        double L = 0.0, b = 0.0;
        for (long k = r0; k < r1; k++) {
            L += g->w[k];
            b += g->d[k];
        }
        g->ldiag[i] = L;
        g->b[i] = b;
    }
    return MX_OK;
}

static long uf_find(long *parent, long x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Flag outliers among v[0..n) (one pass). */
static int flag_outliers(const double *v, long n, const mx_bgmatch_opts *o, int *flag) {
    for (long i = 0; i < n; i++) flag[i] = 0;
    if (n < 2 || n < o->min_img_num) return MX_OK;
    double mu, s;
    if (o->outlier_rule == MX_BG_OUTLIER_MAD) {
        double *t = malloc(sizeof *t * (size_t)n);
        if (!t) return mx_seterr(MX_ERR_NOMEM, "outlier statistics of %ld offsets", n);
        memcpy(t, v, sizeof *t * (size_t)n);
        mu = mx_median_inplace_d(t, (size_t)n, MX_MEDIAN_UPPER);
        for (long i = 0; i < n; i++) t[i] = fabs(v[i] - mu);
        s = mx_median_inplace_d(t, (size_t)n, MX_MEDIAN_UPPER) / MX_MAD_SCALE;
        free(t);
    } else {
        double sum = 0.0;
        for (long i = 0; i < n; i++) sum += v[i];
        mu = sum / (double)n;
        double ss = 0.0;
        for (long i = 0; i < n; i++) ss += (v[i] - mu) * (v[i] - mu);
        s = sqrt(ss / (double)(o->outlier_rule == MX_BG_OUTLIER_STD ? n - 1 : n));
    }
    /* An offset within rounding of a threshold is inside it: 1e-9 sigma
     * (and 1e-12 of the offsets' scale) must not decide a strict '>'. */
    double scale = 0.0;
    for (long i = 0; i < n; i++) scale = fmax(scale, fabs(v[i]));
    const double guard = 1e-9 * s + 1e-12 * scale;
    for (long i = 0; i < n; i++)
        flag[i] = v[i] > mu + o->top_threshold * s + guard ||
                  v[i] < mu - o->bottom_threshold * s - guard;
    return MX_OK;
}

typedef struct bg_solver {
    const bg_graph *g;
    const mx_bgmatch_opts *o;
    mx_bgmatch_result *r;
    long *loc; /* frame -> index inside its group */
} bg_solver;

/* Reduced matrix of a group in CSR (local numbering; the pinned frame, if
 * any, left out). */
static int group_csr(const bg_solver *sv, const long *mem, long nc, long pinned, mx_csr *a) {
    const bg_graph *g = sv->g;
    const long nred = pinned >= 0 ? nc - 1 : nc;
    memset(a, 0, sizeof *a);
    a->n = nred;
    long nnz = 0;
    for (long k = 0; k < nc; k++)
        if (k != pinned) nnz += g->rowptr[mem[k] + 1] - g->rowptr[mem[k]] + 1;
    a->rowptr = malloc(sizeof *a->rowptr * (size_t)(nred + 1));
    a->col = malloc(sizeof *a->col * (size_t)(nnz ? nnz : 1));
    a->val = malloc(sizeof *a->val * (size_t)(nnz ? nnz : 1));
    if (!a->rowptr || !a->col || !a->val) {
        mx_csr_free(a);
        return mx_seterr(MX_ERR_NOMEM, "sparse matrix of %ld frames (%ld entries)", nc, nnz);
    }
    long q = 0, row = 0;
    for (long k = 0; k < nc; k++) {
        if (k == pinned) continue;
        long m = mem[k];
        a->rowptr[row] = q;
        int diag_done = 0;
        for (long t = g->rowptr[m]; t < g->rowptr[m + 1]; t++) {
            long c = sv->loc[g->col[t]];
            if (!diag_done && c > k) {
                a->col[q] = (int32_t)row;
                a->val[q++] = g->ldiag[m] + sv->o->weight;
                diag_done = 1;
            }
            if (c == pinned) continue;
            a->col[q] = (int32_t)(pinned >= 0 && c > pinned ? c - 1 : c);
            a->val[q++] = -g->w[t];
        }
        if (!diag_done) {
            a->col[q] = (int32_t)row;
            a->val[q++] = g->ldiag[m] + sv->o->weight;
        }
        row++;
    }
    a->rowptr[nred] = q;
    return MX_OK;
}

/* "UNSUCCESSFUL_SOLUTION: <reason>" stays the start of the message (the
 * guide's string); the group goes after it. */
static void add_group_context(int st, const long *mem, long nc) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mx_errmsg());
    mx_seterr(st, "%s (group of %ld frames starting at Image_id %ld)", msg, nc, mem[0] + 1);
}

/* Solve one connected group of nc >= 2 frames (mem ascending). */
static int solve_group(bg_solver *sv, const long *mem, long nc) {
    const bg_graph *g = sv->g;
    const mx_bgmatch_opts *o = sv->o;
    mx_bgmatch_result *r = sv->r;
    const int zero_sum = !(o->weight > 0);
    const long pinned = zero_sum ? nc - 1 : -1;
    const long nred = zero_sum ? nc - 1 : nc;
    const int dense = !o->use_sparse && nc <= MX_BG_DENSE_MAX;
    int st = MX_OK;
    double *e = calloc((size_t)nc, sizeof *e), *cdiag = calloc((size_t)nc, sizeof *cdiag);
    double *rhs = malloc(sizeof *rhs * (size_t)nred), *cs = calloc((size_t)nc, sizeof *cs);
    double *sred = malloc(sizeof *sred * (size_t)nred), *tmp = malloc(sizeof *tmp * (size_t)nred);
    int *flag = malloc(sizeof *flag * (size_t)nc);
    gsl_matrix *A = NULL;
    mx_csr csr;
    memset(&csr, 0, sizeof csr);
    mx_envchol ef;
    memset(&ef, 0, sizeof ef);
    int have_env = 0, exact = 1;
    if (!e || !cdiag || !rhs || !cs || !sred || !tmp || !flag) {
        st = mx_seterr(MX_ERR_NOMEM, "overlap correction: group of %ld frames", nc);
        goto exit;
    }
    for (long k = 0, q = 0; k < nc; k++)
        if (k != pinned) rhs[q++] = g->b[mem[k]];

    if (dense) {
        A = gsl_matrix_calloc((size_t)nred, (size_t)nred);
        if (!A) {
            st = mx_seterr(MX_ERR_NOMEM, "overlap correction: dense matrix of %ld frames", nred);
            goto exit;
        }
        for (long k = 0, q = 0; k < nc; k++) {
            if (k == pinned) continue;
            long m = mem[k];
            gsl_matrix_set(A, (size_t)q, (size_t)q, g->ldiag[m] + o->weight);
            for (long t = g->rowptr[m]; t < g->rowptr[m + 1]; t++) {
                long c = sv->loc[g->col[t]];
                if (c == pinned) continue;
                if (pinned >= 0 && c > pinned) c--;
                gsl_matrix_set(A, (size_t)q, (size_t)c, -g->w[t]);
            }
            q++;
        }
        /* GSL reports a non-positive-definite matrix through its error
         * handler, which aborts by default: off for this call only. */
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        int gs = gsl_linalg_cholesky_decomp1(A);
        if (gs == GSL_SUCCESS) {
            gsl_vector_view bv = gsl_vector_view_array(rhs, (size_t)nred);
            gsl_vector_view xv = gsl_vector_view_array(tmp, (size_t)nred);
            gs = gsl_linalg_cholesky_solve(A, &bv.vector, &xv.vector);
        }
        /* L^-1 in the lower triangle: diag(Mred^-1)_j = sum_k (L^-1)_kj^2 */
        if (gs == GSL_SUCCESS) gs = gsl_linalg_tri_invert(CblasLower, CblasNonUnit, A);
        gsl_set_error_handler(old);
        if (gs != GSL_SUCCESS) {
            st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: the overlap matrix is not "
                           "positive definite (GSL: %s)", gsl_strerror(gs));
            add_group_context(st, mem, nc);
            goto exit;
        }
        for (long k = 0, q = 0; k < nc; k++)
            if (k != pinned) e[k] = tmp[q++];
        for (long j = 0; j < nred; j++) {
            double s = 0.0;
            for (long k = j; k < nred; k++) {
                double v = gsl_matrix_get(A, (size_t)k, (size_t)j);
                s += v * v;
            }
            tmp[j] = s;
        }
        for (long k = 0, q = 0; k < nc; k++)
            if (k != pinned) cdiag[k] = tmp[q++];
    } else {
        if ((st = group_csr(sv, mem, nc, pinned, &csr)) != MX_OK) goto exit;
        for (long q = 0; q < nred; q++) tmp[q] = 0.0;
        long iters = 0;
        double rel = 0.0;
        st = mx_pcg(&csr, rhs, tmp, MX_BG_CG_RTOL, 2 * nred + 1000, &iters, &rel);
        if (st != MX_OK) {
            add_group_context(st, mem, nc);
            goto exit;
        }
        r->used_sparse = 1;
        if (iters > r->cg_iterations) r->cg_iterations = iters;
        if (rel > r->cg_residual) r->cg_residual = rel;
        for (long k = 0, q = 0; k < nc; k++)
            if (k != pinned) e[k] = tmp[q++];
        /* exact del_Offset from an envelope factor when it fits */
        exact = 0;
        if (nc <= MX_BG_EXACT_DEL_MAX) {
            long *perm = malloc(sizeof *perm * (size_t)(nred > 0 ? nred : 1));
            if (!perm) {
                st = mx_seterr(MX_ERR_NOMEM, "overlap correction: ordering of %ld frames", nred);
                goto exit;
            }
            if ((st = mx_rcm(&csr, perm)) == MX_OK && mx_envelope_size(&csr, perm) <= (size_t)MX_BG_ENVELOPE_MAX) {
                st = mx_envchol_factor(&csr, perm, &ef);
                if (st == MX_OK) have_env = exact = 1;
            }
            free(perm);
            if (st != MX_OK) {
                add_group_context(st, mem, nc);
                goto exit;
            }
        }
    }
    for (long k = 0; k < nc; k++)
        if (!isfinite(e[k])) {
            st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: non-finite offset for Image_id "
                           "%ld", mem[k] + 1);
            goto exit;
        }

    /* outliers, then the zero-sum shift over the non-outliers */
    if ((st = flag_outliers(e, nc, o, flag)) != MX_OK) goto exit;
    long K = 0;
    for (long k = 0; k < nc; k++) K += !flag[k];
    if (K == 0) {
        mx_warn("overlap correction: every offset of the group starting at Image_id %ld is an "
                "outlier; the zero-sum level uses all of them", mem[0] + 1);
        for (long k = 0; k < nc; k++) flag[k] = 0;
        K = nc;
    }
    if (zero_sum) {
        double s = 0.0;
        for (long k = 0; k < nc; k++)
            if (!flag[k]) s += e[k];
        double d = -s / (double)K;
        for (long k = 0; k < nc; k++) e[k] += d;
    }

    /* del_Offset: Cov = P C P^T, C = Mred^-1 padded with the pinned zero */
    if (exact && zero_sum) {
        for (long k = 0, q = 0; k < nc; k++)
            if (k != pinned) sred[q++] = flag[k] ? 0.0 : 1.0;
        if (dense) {
            gsl_vector_view u = gsl_vector_view_array(sred, (size_t)nred);
            gsl_blas_dtrmv(CblasLower, CblasNoTrans, CblasNonUnit, A, &u.vector);
            gsl_blas_dtrmv(CblasLower, CblasTrans, CblasNonUnit, A, &u.vector);
            memcpy(tmp, sred, sizeof *tmp * (size_t)nred);
        } else if ((st = mx_envchol_solve(&ef, sred, tmp)) != MX_OK) {
            goto exit;
        }
        for (long k = 0, q = 0; k < nc; k++)
            if (k != pinned) cs[k] = tmp[q++];
    }
    if (have_env) {
        if ((st = mx_envchol_invdiag(&ef, tmp)) != MX_OK) goto exit;
        for (long k = 0, q = 0; k < nc; k++)
            if (k != pinned) cdiag[k] = tmp[q++];
    }
    double t = 0.0;
    for (long k = 0; k < nc; k++)
        if (!flag[k]) t += cs[k];
    for (long k = 0; k < nc; k++) {
        long m = mem[k];
        r->offset[m] = e[k];
        r->outlier[m] = flag[k];
        if (!exact) {
            r->del[m] = 1.0 / sqrt(g->ldiag[m] + o->weight);
            r->del_raw[m] = NAN;
            continue;
        }
        if (zero_sum) {
            double cov = cdiag[k] - 2.0 * cs[k] / (double)K + t / ((double)K * K);
            r->del[m] = sqrt(cov > 0 ? cov : 0.0);
            r->del_raw[m] = sqrt(cdiag[k] > 0 ? cdiag[k] : 0.0);
        } else {
            r->del[m] = sqrt(cdiag[k] > 0 ? cdiag[k] : 0.0);
            r->del_raw[m] = NAN;
        }
    }
    if (!exact) r->del_approx = 1;
exit:
    free(e);
    free(cdiag);
    free(rhs);
    free(cs);
    free(sred);
    free(tmp);
    free(flag);
    if (A) gsl_matrix_free(A);
    mx_csr_free(&csr);
    mx_envchol_free(&ef);
    return st;
}

/* "3, 5, 9" of up to `max` numbers, then ", ..." */
static void list_numbers(char *buf, size_t size, const long *v, long n, long add, int max) {
    size_t len = 0;
    buf[0] = '\0';
    for (long i = 0; i < n && len + 24 < size; i++) {
        if (i == max) {
            snprintf(buf + len, size - len, ", ...");
            return;
        }
        len += (size_t)snprintf(buf + len, size - len, "%s%ld", i ? ", " : "", v[i] + add);
    }
}

int mx_bgmatch_solve(const mx_bgpairs *p, const unsigned char *drop, const mx_bgmatch_opts *o,
                     mx_bgmatch_result *res) {
    memset(res, 0, sizeof *res);
    int st = mx_bgmatch_check(o);
    if (st != MX_OK) return st;
    const long N = p->nframes;
    bg_graph g;
    memset(&g, 0, sizeof g);
    long *parent = NULL, *gid = NULL, *gstart = NULL, *mem = NULL, *loc = NULL, *iso = NULL;
    res->n = N;
    res->offset = calloc((size_t)N, sizeof *res->offset);
    res->del = malloc(sizeof *res->del * (size_t)N);
    res->del_raw = malloc(sizeof *res->del_raw * (size_t)N);
    res->outlier = calloc((size_t)N, sizeof *res->outlier);
    res->group = calloc((size_t)N, sizeof *res->group);
    parent = malloc(sizeof *parent * (size_t)N);
    gid = malloc(sizeof *gid * (size_t)N);
    loc = malloc(sizeof *loc * (size_t)N);
    if (!res->offset || !res->del || !res->del_raw || !res->outlier || !res->group || !parent ||
        !gid || !loc) {
        st = mx_seterr(MX_ERR_NOMEM, "overlap correction: %ld frames", N);
        goto exit;
    }
    for (long i = 0; i < N; i++) {
        res->del[i] = NAN;
        res->del_raw[i] = NAN;
        parent[i] = i;
    }
    if ((st = build_graph(p, drop, &g)) != MX_OK) goto exit;
    /* components: union by smaller index, so every root is its group's first frame */
    for (long i = 0; i < N; i++)
        for (long k = g.rowptr[i]; k < g.rowptr[i + 1]; k++) {
            long a = uf_find(parent, i), b = uf_find(parent, g.col[k]);
            if (a < b) parent[b] = a;
            else if (b < a) parent[a] = b;
        }
    long ngroups = 0;
    for (long i = 0; i < N; i++) gid[i] = -1;
    for (long i = 0; i < N; i++) {
        if (drop && drop[i]) {
            res->group[i] = -1;
            res->ndropped++;
            continue;
        }
        if (g.rowptr[i + 1] == g.rowptr[i]) {
            res->group[i] = 0;
            res->nisolated++;
            continue;
        }
        long rt = uf_find(parent, i);
        if (gid[rt] < 0) gid[rt] = ++ngroups;
        res->group[i] = gid[rt];
    }
    res->ngroups = ngroups;
    res->group_size = calloc((size_t)(ngroups > 0 ? ngroups : 1), sizeof *res->group_size);
    gstart = calloc((size_t)ngroups + 2, sizeof *gstart);
    mem = malloc(sizeof *mem * (size_t)N);
    iso = malloc(sizeof *iso * (size_t)(res->nisolated > 0 ? res->nisolated : 1));
    if (!res->group_size || !gstart || !mem || !iso) {
        st = mx_seterr(MX_ERR_NOMEM, "overlap correction: %ld groups", ngroups);
        goto exit;
    }
    for (long i = 0; i < N; i++)
        if (res->group[i] > 0) res->group_size[res->group[i] - 1]++;
    for (long k = 0; k < ngroups; k++) gstart[k + 1] = gstart[k] + res->group_size[k];
    {
        long *fill = gid; /* reuse: the roots are no longer needed */
        for (long k = 0; k < ngroups; k++) fill[k] = gstart[k];
        long ni = 0;
        for (long i = 0; i < N; i++) {
            long gi = res->group[i];
            if (gi > 0) {
                loc[i] = fill[gi - 1] - gstart[gi - 1];
                mem[fill[gi - 1]++] = i;
            } else if (gi == 0) {
                iso[ni++] = i;
            }
        }
    }
    bg_solver sv = {&g, o, res, loc};
    for (long k = 0; k < ngroups; k++) {
        if ((st = mx_check_interrupt()) != MX_OK) goto exit;
        if ((st = solve_group(&sv, mem + gstart[k], res->group_size[k])) != MX_OK) goto exit;
    }
    /* Diagnostic: weighted RMS of the pairs' mean differences d = D/W before
     * and after the correction (d - (e_m - e_n)), over the pairs that entered
     * the solve. Tells a user how much the matching improved the overlaps. */
    {
        double sw = 0, sb = 0, sa = 0;
        long np = mx_bgpairs_count(p);
        for (long k = 0; k < np; k++) {
            long m, n;
            double w, d;
            mx_bgpairs_entry(p, k, &m, &n, &w, &d);
            if (!(w > 0) || (drop && (drop[m] || drop[n]))) continue;
            double mean = d / w, corr = mean - (res->offset[m] - res->offset[n]);
            sw += w;
            sb += w * mean * mean;
            sa += w * corr * corr;
        }
        res->rms_before = sw > 0 ? sqrt(sb / sw) : NAN;
        res->rms_after = sw > 0 ? sqrt(sa / sw) : NAN;
    }
    char buf[400];
    if (ngroups > 1) {
        list_numbers(buf, sizeof buf, res->group_size, ngroups, 0, 20);
        mx_warn("overlap correction: the overlap graph has %ld disconnected groups (sizes %s); "
                "each group gets its own %s", ngroups, buf,
                o->weight > 0 ? "level from the WEIGHT term" : "zero-sum level");
    }
    if (res->nisolated > 0) {
        list_numbers(buf, sizeof buf, iso, res->nisolated, 1, 20);
        mx_warn("overlap correction: %ld frame%s overlap%s no other frame (Image_id %s): offset 0, "
                "del_Offset NaN", res->nisolated, res->nisolated == 1 ? "" : "s",
                res->nisolated == 1 ? "s" : "", buf);
    }
exit:
    graph_free(&g);
    free(parent);
    free(gid);
    free(gstart);
    free(mem);
    free(loc);
    free(iso);
    return st;
}

/* ======================================================================
 * The streaming pass over the interpolated stack
 * ====================================================================== */
typedef struct accum_ctx {
    const mx_bgaccum_spec *spec;
    const mx_tile *tiles;
    int ntiles;
    unsigned layers;
    long **usable_thr;      /* per thread, per stack frame: integer sums, any order */
    pthread_mutex_t lock;   /* guards the ordered merge */
    mx_bgpairs *global;
    mx_bgpairs **pending;   /* finished tiles waiting for their turn */
    int next;               /* next tile to merge */
} accum_ctx;

static int accum_tile(const mx_stack *s, const mx_tile *t, mx_stack_load *ld, size_t budget,
                      int thread, void *vctx) {
    accum_ctx *c = vctx;
    const mx_bgaccum_spec *sp = c->spec;
    const int ti = (int)(t - c->tiles);
    int st = MX_OK;
    mx_bgpairs *tp = NULL;
    mx_bgtile_frame *fr = NULL;
    long *cnt = NULL;
    int cap = 0;
    if ((st = mx_bgpairs_new(sp->nframes, &tp)) != MX_OK) return st;
    /* bands of whole 128-row sub-blocks: the kernel's partition, hence the
     * sums, stay the same whatever the band height */
    long rows = mx_stack_band_rows(s, t, c->layers, 0, budget);
    if (rows < t->ny) {
        rows = rows / BG_SUB * BG_SUB;
        if (rows < BG_SUB) rows = BG_SUB;
    }
    for (long by = t->y0; by < t->y0 + t->ny; by += rows) {
        long bh = by + rows <= t->y0 + t->ny ? rows : t->y0 + t->ny - by;
        if ((st = mx_stack_load_rect(s, t->x0, by, t->nx, bh, c->layers, ld)) != MX_OK) goto exit;
        if (ld->n > cap) {
            free(fr);
            free(cnt);
            cap = ld->n;
            fr = malloc(sizeof *fr * (size_t)cap);
            cnt = malloc(sizeof *cnt * (size_t)cap);
            if (!fr || !cnt) {
                st = mx_seterr(MX_ERR_NOMEM, "overlap correction: %d frames in a tile", cap);
                goto exit;
            }
        }
        for (int k = 0; k < ld->n; k++) {
            const mx_stack_slice *sl = &ld->slices[k];
            fr[k].id = sp->ids ? sp->ids[sl->frame] : sl->frame;
            fr[k].x0 = sl->x0 - t->x0;
            fr[k].y0 = sl->y0 - by;
            fr[k].nx = sl->nx;
            fr[k].ny = sl->ny;
            fr[k].stride = sl->nx;
            fr[k].value = sl->layer[MX_LAYER_IMAGE];
            fr[k].coverage = sl->layer[MX_LAYER_COVERAGE];
            fr[k].sigma = sp->sigmas ? sl->layer[MX_LAYER_SIGMA] : NULL;
        }
        if ((st = mx_bgpairs_accumulate_block(tp, t->nx, bh, ld->n, fr, cnt)) != MX_OK) goto exit;
        for (int k = 0; k < ld->n; k++) c->usable_thr[thread][ld->slices[k].frame] += cnt[k];
    }
    /* hand the tile over; merge every finished tile that is next in order */
    pthread_mutex_lock(&c->lock);
    c->pending[ti] = tp;
    tp = NULL;
    while (st == MX_OK && c->next < c->ntiles && c->pending[c->next]) {
        st = mx_bgpairs_merge(c->global, c->pending[c->next]);
        mx_bgpairs_free(c->pending[c->next]);
        c->pending[c->next++] = NULL;
    }
    pthread_mutex_unlock(&c->lock);
exit:
    mx_bgpairs_free(tp);
    free(fr);
    free(cnt);
    return st;
}

typedef struct extent_ctx {
    const mx_bgaccum_spec *spec;
    long *x1, *y1;
} extent_ctx;

static int frame_extent(long i, void *vctx, int thread) {
    (void)thread;
    extent_ctx *c = vctx;
    const char *path = c->spec->images[i];
    mx_header *h = NULL;
    long nx, ny, ox = 0, oy = 0;
    int bp;
    int st = mx_fits_read_header(path, &h, &nx, &ny, &bp);
    if (st != MX_OK) return st;
    if (mx_header_has(h, "MINTOFFX")) st = mx_header_get_long(h, "MINTOFFX", &ox);
    if (st == MX_OK && mx_header_has(h, "MINTOFFY")) st = mx_header_get_long(h, "MINTOFFY", &oy);
    mx_header_free(h);
    if (st != MX_OK) return mx_preferr(st, "interpolated image '%s': ", path);
    if (ox < 0 || oy < 0)
        return mx_seterr(MX_ERR_FORMAT, "interpolated image '%s': MINTOFFX/MINTOFFY = %ld, %ld "
                         "lie before the grid origin", path, ox, oy);
    c->x1[i] = ox + nx;
    c->y1[i] = oy + ny;
    return MX_OK;
}

int mx_bgmatch_accumulate(const mx_bgaccum_spec *sp, mx_bgpairs **out, long *usable,
                          unsigned char *drop) {
    *out = NULL;
    if (!sp || sp->n < 1 || !sp->images)
        return mx_seterr(MX_ERR_PARAM, "overlap correction: no interpolated images");
    if (sp->nframes < sp->n && !sp->ids)
        return mx_seterr(MX_ERR_PARAM, "overlap correction: %d interpolated images for %ld frames",
                         sp->n, sp->nframes);
    int st = MX_OK;
    mx_stack *s = NULL;
    mx_tile *tiles = NULL;
    int ntiles = 0, nthr = mx_threads();
    long *x1 = NULL, *y1 = NULL, *total = NULL;
    unsigned char *seen = NULL;
    accum_ctx c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    seen = calloc((size_t)sp->nframes, 1);
    total = calloc((size_t)sp->nframes, sizeof *total);
    if (!seen || !total) {
        st = mx_seterr(MX_ERR_NOMEM, "overlap correction: %ld frames", sp->nframes);
        goto exit;
    }
    for (int i = 0; i < sp->n; i++) {
        long id = sp->ids ? sp->ids[i] : i;
        if (id < 0 || id >= sp->nframes) {
            st = mx_seterr(MX_ERR_PARAM, "overlap correction: interpolated image '%s' belongs to "
                           "Image_id %ld, outside 1..%ld", sp->images[i], id + 1, sp->nframes);
            goto exit;
        }
        if (seen[id]) {
            st = mx_seterr(MX_ERR_PARAM, "overlap correction: two interpolated images belong to "
                           "Image_id %ld ('%s' is the second)", id + 1, sp->images[i]);
            goto exit;
        }
        seen[id] = 1;
    }
    long naxis1 = sp->naxis1, naxis2 = sp->naxis2;
    if (naxis1 <= 0 || naxis2 <= 0) {
        x1 = calloc((size_t)sp->n, sizeof *x1);
        y1 = calloc((size_t)sp->n, sizeof *y1);
        if (!x1 || !y1) {
            st = mx_seterr(MX_ERR_NOMEM, "overlap correction: %d frames", sp->n);
            goto exit;
        }
        extent_ctx ec = {sp, x1, y1};
        if ((st = mx_parallel_for(sp->n, frame_extent, &ec)) != MX_OK) goto exit;
        naxis1 = naxis2 = 1;
        for (int i = 0; i < sp->n; i++) {
            if (x1[i] > naxis1) naxis1 = x1[i];
            if (y1[i] > naxis2) naxis2 = y1[i];
        }
    }
    mx_stack_spec ss;
    memset(&ss, 0, sizeof ss);
    ss.n = sp->n;
    ss.images = sp->images;
    ss.coverages = sp->coverages;
    ss.sigmas = sp->sigmas;
    ss.naxis1 = naxis1;
    ss.naxis2 = naxis2;
    if ((st = mx_stack_open(&ss, &s)) != MX_OK) goto exit;
    long tile = sp->tile > 0 ? sp->tile : 512;
    if ((st = mx_stack_tiling(s, tile, tile, &tiles, &ntiles)) != MX_OK) goto exit;
    c.spec = sp;
    c.tiles = tiles;
    c.ntiles = ntiles;
    c.layers = MX_STACK_IMAGE | MX_STACK_COVERAGE | (sp->sigmas ? MX_STACK_SIGMA : 0u);
    c.pending = calloc((size_t)ntiles, sizeof *c.pending);
    c.usable_thr = calloc((size_t)nthr, sizeof *c.usable_thr);
    if (!c.pending || !c.usable_thr) {
        st = mx_seterr(MX_ERR_NOMEM, "overlap correction: %d tiles", ntiles);
        goto exit;
    }
    for (int t = 0; t < nthr; t++)
        if (!(c.usable_thr[t] = calloc((size_t)sp->n, sizeof **c.usable_thr))) {
            st = mx_seterr(MX_ERR_NOMEM, "overlap correction: %d frames", sp->n);
            goto exit;
        }
    if ((st = mx_bgpairs_new(sp->nframes, &c.global)) != MX_OK) goto exit;
    st = mx_stack_run_tiles(s, tiles, ntiles, sp->budget, "overlap pairs", accum_tile, &c);
    if (st != MX_OK) goto exit;
    if (c.next != ntiles) {
        st = mx_seterr(MX_ERR_INTERNAL, "overlap correction: %d of %d tiles merged", c.next, ntiles);
        goto exit;
    }
    for (int t = 0; t < nthr; t++)
        for (int i = 0; i < sp->n; i++) total[sp->ids ? sp->ids[i] : i] += c.usable_thr[t][i];
    if (usable) memcpy(usable, total, sizeof *total * (size_t)sp->nframes);
    if (drop) {
        for (long f = 0; f < sp->nframes; f++) {
            drop[f] = sp->bad_image_check && total[f] == 0;
            if (!drop[f]) continue;
            if (!seen[f]) {
                mx_warn("overlap correction: bad image check: Image_id %ld has no interpolated "
                        "image (it misses the mosaic grid); dropped", f + 1);
                continue;
            }
            for (int i = 0; i < sp->n; i++)
                if ((sp->ids ? sp->ids[i] : i) == f)
                    mx_warn("overlap correction: bad image check: Image_id %ld ('%s') has no usable "
                            "pixel (all NaN or zero coverage); dropped", f + 1, sp->images[i]);
        }
    }
    *out = c.global;
    c.global = NULL;
exit:
    if (c.pending)
        for (int t = 0; t < ntiles; t++) mx_bgpairs_free(c.pending[t]);
    free(c.pending);
    if (c.usable_thr)
        for (int t = 0; t < nthr; t++) free(c.usable_thr[t]);
    free(c.usable_thr);
    mx_bgpairs_free(c.global);
    pthread_mutex_destroy(&c.lock);
    mx_stack_free(s);
    free(tiles);
    free(x1);
    free(y1);
    free(total);
    free(seen);
    return st;
}

/* ======================================================================
 * Files: offsets.tbl, corrected copies, zodiacal subtraction
 * ====================================================================== */
int mx_bgmatch_write_offsets(const mx_bgmatch_result *r, const mx_bgmatch_opts *o,
                             const char *path) {
    int st = MX_OK;
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "offsets table '%s'", path);
    char buf[200];
    snprintf(buf, sizeof buf, "Output from compute_overlap_correction, mopexlua %s", mx_version());
    st = mx_table_set_keyword(t, "comment", buf, 'c');
    time_t now = time(NULL);
    struct tm tmv;
    if (st == MX_OK && localtime_r(&now, &tmv) && strftime(buf, sizeof buf, "%b %d, %Y, %H:%M:%S", &tmv))
        st = mx_table_set_keyword(t, "Date-Time", buf, 'c');
    if (st == MX_OK) st = mx_table_set_keyword_double(t, "TOP_THRESHOLD", o->top_threshold);
    if (st == MX_OK) st = mx_table_set_keyword_double(t, "BOTTOM_THRESHOLD", o->bottom_threshold);
    if (st == MX_OK) st = mx_table_set_keyword_long(t, "MIN_IMG_NUM", o->min_img_num);
    if (st == MX_OK) st = mx_table_set_keyword_double(t, "WEIGHT", o->weight);
    if (st == MX_OK) st = mx_table_set_keyword_long(t, "N_GROUPS", r->ngroups);
    if (st == MX_OK)
        st = mx_table_set_keyword(t, "SOLVER", r->used_sparse ? "conjugate gradients (Jacobi)" :
                                  "dense Cholesky", 'c');
    if (st == MX_OK)
        st = mx_table_set_keyword(t, "DEL_OFFSET", r->del_approx ?
            "approximate: 1/sqrt(L_mm) for groups too large for the exact diagonal" : "exact", 'c');
    if (st == MX_OK && r->del_approx)
        st = mx_table_add_comment(t, "del_Offset of large groups is approximated by 1/sqrt(L_mm) "
                                  "(the uncertainty if every other frame were exact)");
    int ci = -1, co = -1, cd = -1, cx = -1;
    if (st == MX_OK) st = mx_table_add_column(t, "Image_id", MX_COL_INT, NULL, &ci);
    if (st == MX_OK) st = mx_table_add_column(t, "Offset", MX_COL_DOUBLE, NULL, &co);
    if (st == MX_OK) st = mx_table_add_column(t, "del_Offset", MX_COL_DOUBLE, NULL, &cd);
    if (st == MX_OK) st = mx_table_add_column(t, "outliers", MX_COL_INT, NULL, &cx);
    if (st == MX_OK) st = mx_table_set_nrows(t, r->n);
    for (long i = 0; i < r->n && st == MX_OK; i++) {
        st = mx_table_set_int(t, ci, i, i + 1);
        if (st == MX_OK) st = mx_table_set_double(t, co, i, r->offset[i]);
        if (st == MX_OK) st = mx_table_set_double(t, cd, i, r->del[i]);
        if (st == MX_OK) st = mx_table_set_int(t, cx, i, r->outlier[i]);
    }
    if (st == MX_OK) st = mx_table_write_ipac(t, path);
    mx_table_free(t);
    return st;
}

typedef struct apply_ctx {
    const char *const *in, *const *out;
    const double *offset, *del;
    const int *outlier;
    mx_progress *prog;
} apply_ctx;

static int apply_frame(long i, void *vctx, int thread) {
    (void)thread;
    apply_ctx *c = vctx;
    mx_image *img = NULL;
    int st = mx_image_read(c->in[i], &img);
    if (st != MX_OK) return st;
    const size_t n = (size_t)img->nx * (size_t)img->ny;
    const double off = c->offset[i];
    for (size_t k = 0; k < n; k++) img->data[k] = (float)((double)img->data[k] - off);
    st = mx_header_set_double(img->hdr, "OVRLPDC", off, "overlap correction subtracted [image units]");
    if (st == MX_OK) {
        mx_header_delete(img->hdr, "OVRLPDCD");
        if (isfinite(c->del[i])) {
            st = mx_header_set_double(img->hdr, "OVRLPDCD", c->del[i], "uncertainty of OVRLPDC");
        } else {
            /* FITS has no NaN value: an undefined value field says "unknown" */
            st = mx_header_append_card(img->hdr, "OVRLPDCD=                      / uncertainty of "
                                       "OVRLPDC: undefined (no overlap)");
        }
    }
    if (st == MX_OK)
        st = mx_header_set_long(img->hdr, "OVRLPOUT", c->outlier[i] ? 1 : 0,
                                "1 if the offset is an outlier");
    if (st == MX_OK) st = mx_image_write(img, c->out[i]);
    if (st != MX_OK) mx_preferr(st, "overlap correction of '%s': ", c->in[i]);
    mx_progress_step(c->prog, 1);
    mx_image_free(img);
    return st;
}

int mx_bgmatch_apply(int n, const char *const *inputs, const char *const *outputs,
                     const double *offset, const double *del, const int *outlier) {
    if (n < 0 || (n > 0 && (!inputs || !outputs || !offset || !del || !outlier)))
        return mx_seterr(MX_ERR_PARAM, "overlap correction: apply needs inputs, outputs and offsets");
    apply_ctx c = {inputs, outputs, offset, del, outlier,
                   mx_progress_start("overlap_correction", n, "frames")};
    int st = mx_parallel_for(n, apply_frame, &c);
    mx_progress_done(c.prog);
    return st;
}

/* The zodiacal value of one header: ZODY_EST (or ZODI_EST) - SKYDRKZB. */
static int zodi_value(const mx_header *h, const char *src, double *v) {
    double z, dark = 0.0;
    const char *key = mx_header_has(h, "ZODY_EST") ? "ZODY_EST" : "ZODI_EST";
    if (!mx_header_has(h, key))
        return mx_seterr(MX_ERR_NOTFOUND, "zodiacal subtraction: '%s' has neither ZODY_EST nor "
                         "ZODI_EST", src);
    int st = mx_header_get_double(h, key, &z);
    if (st != MX_OK) return mx_preferr(st, "zodiacal subtraction: '%s': ", src);
    if (mx_header_has(h, "SKYDRKZB")) {
        st = mx_header_get_double(h, "SKYDRKZB", &dark);
        if (st != MX_OK) return mx_preferr(st, "zodiacal subtraction: '%s': ", src);
    }
    if (!isfinite(z) || !isfinite(dark))
        return mx_seterr(MX_ERR_FORMAT, "zodiacal subtraction: '%s': %s = %g, SKYDRKZB = %g", src,
                         key, z, dark);
    *v = z - dark;
    return MX_OK;
}

typedef struct zodi_ctx {
    const char *const *in, *const *out;
    double *values;
    mx_progress *prog;
} zodi_ctx;

static int zodi_frame(long i, void *vctx, int thread) {
    (void)thread;
    zodi_ctx *c = vctx;
    int st;
    double v = 0.0;
    if (!c->out) {
        mx_header *h = NULL;
        long nx, ny;
        int bp;
        st = mx_fits_read_header(c->in[i], &h, &nx, &ny, &bp);
        if (st == MX_OK) st = zodi_value(h, c->in[i], &v);
        mx_header_free(h);
    } else {
        mx_image *img = NULL;
        st = mx_image_read(c->in[i], &img);
        if (st == MX_OK) st = zodi_value(img->hdr, c->in[i], &v);
        if (st == MX_OK) {
            const size_t n = (size_t)img->nx * (size_t)img->ny;
            for (size_t k = 0; k < n; k++) img->data[k] = (float)((double)img->data[k] - v);
            st = mx_header_set_double(img->hdr, "ZODYSUB", v, "zodiacal value subtracted");
        }
        if (st == MX_OK) st = mx_image_write(img, c->out[i]);
        mx_image_free(img);
    }
    if (st == MX_OK && c->values) c->values[i] = v;
    mx_progress_step(c->prog, 1);
    return st;
}

int mx_zodi_subtract(int n, const char *const *inputs, const char *const *outputs,
                     double *values) {
    if (n < 0 || (n > 0 && !inputs))
        return mx_seterr(MX_ERR_PARAM, "zodiacal subtraction: no input images");
    zodi_ctx c = {inputs, outputs, values, mx_progress_start("zodi_subtract", n, "frames")};
    int st = mx_parallel_for(n, zodi_frame, &c);
    mx_progress_done(c.prog);
    return st;
}
