/* sparse.c - the sparse SPD toolkit of the background-matching solver
 * (mx_bgmatch.h): CSR products, Jacobi-preconditioned conjugate gradients,
 * reverse Cuthill-McKee ordering, envelope Cholesky and the Takahashi
 * recurrences for the diagonal of the inverse.
 *
 * Determinism: every reduction (dot products, norms) is summed per block of
 * MX_SP_BLOCK rows and the block partials are added in block order, whether
 * the blocks ran on one thread or many: the same bits for any thread count.
 */
#include "mopex/mopex.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MX_SP_BLOCK 4096
/* Below this many stored entries a product is cheaper than starting threads. */
#define MX_SP_PARALLEL_NNZ 400000L

void mx_csr_free(mx_csr *a) {
    if (!a) return;
    free(a->rowptr);
    free(a->col);
    free(a->val);
    memset(a, 0, sizeof *a);
}

/* ---- block-parallel kernels ------------------------------------------- */
typedef struct sp_job {
    const mx_csr *a;
    long n, nblocks;
    /* pass 1: q = A p, partial[blk] = p.q */
    const double *p;
    double *q;
    /* pass 2: x += alpha p, r -= alpha q, z = dinv r; partials r.z and r.r */
    double alpha;
    double *x, *r, *z;
    const double *dinv;
    double *part1, *part2;
    /* |A| |x| for the rounding floor */
    const double *absx;
    double *absq;
} sp_job;

static int sp_matvec_block(long blk, void *vctx, int thread) {
    (void)thread;
    sp_job *j = vctx;
    const mx_csr *a = j->a;
    long i0 = blk * MX_SP_BLOCK, i1 = i0 + MX_SP_BLOCK < j->n ? i0 + MX_SP_BLOCK : j->n;
    double dot = 0.0;
    for (long i = i0; i < i1; i++) {
        double s = 0.0;
        for (long k = a->rowptr[i]; k < a->rowptr[i + 1]; k++) s += a->val[k] * j->p[a->col[k]];
        j->q[i] = s;
        dot += s * j->p[i];
    }
    if (j->part1) j->part1[blk] = dot;
    return MX_OK;
}

static int sp_update_block(long blk, void *vctx, int thread) {
    (void)thread;
    sp_job *j = vctx;
    long i0 = blk * MX_SP_BLOCK, i1 = i0 + MX_SP_BLOCK < j->n ? i0 + MX_SP_BLOCK : j->n;
    double rz = 0.0, rr = 0.0;
    const double al = j->alpha;
    for (long i = i0; i < i1; i++) {
        j->x[i] += al * j->p[i];
        double ri = j->r[i] - al * j->q[i];
        j->r[i] = ri;
        double zi = ri * j->dinv[i];
        j->z[i] = zi;
        rz += ri * zi;
        rr += ri * ri;
    }
    j->part1[blk] = rz;
    j->part2[blk] = rr;
    return MX_OK;
}

static int sp_absmatvec_block(long blk, void *vctx, int thread) {
    (void)thread;
    sp_job *j = vctx;
    const mx_csr *a = j->a;
    long i0 = blk * MX_SP_BLOCK, i1 = i0 + MX_SP_BLOCK < j->n ? i0 + MX_SP_BLOCK : j->n;
    for (long i = i0; i < i1; i++) {
        double s = 0.0;
        for (long k = a->rowptr[i]; k < a->rowptr[i + 1]; k++)
            s += fabs(a->val[k]) * j->absx[a->col[k]];
        j->absq[i] = s;
    }
    return MX_OK;
}

static int sp_run(sp_job *j, mx_parallel_fn fn) {
    if (j->a->rowptr[j->n] >= MX_SP_PARALLEL_NNZ && j->nblocks > 1)
        return mx_parallel_for(j->nblocks, fn, j);
    for (long b = 0; b < j->nblocks; b++) fn(b, j, 0);
    return MX_OK;
}

static double sum_blocks(const double *part, long nb) {
    double s = 0.0;
    for (long b = 0; b < nb; b++) s += part[b];
    return s;
}

void mx_csr_matvec(const mx_csr *a, const double *x, double *y) {
    sp_job j;
    memset(&j, 0, sizeof j);
    j.a = a;
    j.n = a->n;
    j.nblocks = (a->n + MX_SP_BLOCK - 1) / MX_SP_BLOCK;
    j.p = x;
    j.q = y;
    /* the kernels cannot fail; only thread start-up could, then go serial */
    if (sp_run(&j, sp_matvec_block) != MX_OK)
        for (long b = 0; b < j.nblocks; b++) sp_matvec_block(b, &j, 0);
}

/* ---- conjugate gradients ---------------------------------------------- */
/* q = A x and the true relative residual |b - A x| / |b|, plus the level of
 * rounding a double product can resolve: about eps (|A| |x| + |b|) per row.
 * Asking for less than that is asking for noise. */
static int true_residual(sp_job *j, const double *b, double bnorm, double *x, double *q,
                         double *w1, double *w2, double *rel, double *floor_rel) {
    const long n = j->n, nb = j->nblocks;
    int st;
    j->p = x;
    j->q = q;
    double *save = j->part1;
    j->part1 = NULL;
    st = sp_run(j, sp_matvec_block);
    j->part1 = save;
    if (st != MX_OK) return st;
    for (long i = 0; i < n; i++) w1[i] = fabs(x[i]);
    j->absx = w1;
    j->absq = w2;
    if ((st = sp_run(j, sp_absmatvec_block)) != MX_OK) return st;
    double tr = 0.0, fl = 0.0;
    for (long bl = 0; bl < nb; bl++) {
        double s1 = 0.0, s2 = 0.0;
        for (long i = bl * MX_SP_BLOCK; i < n && i < (bl + 1) * MX_SP_BLOCK; i++) {
            double d = b[i] - q[i];
            s1 += d * d;
            double f = w2[i] + fabs(b[i]);
            s2 += f * f;
        }
        tr += s1;
        fl += s2;
    }
    *rel = sqrt(tr) / bnorm;
    *floor_rel = 64.0 * DBL_EPSILON * sqrt(fl) / bnorm;
    return MX_OK;
}

int mx_pcg(const mx_csr *a, const double *b, double *x, double rtol, long maxiter, long *iters,
           double *relres) {
    const long n = a->n;
    int st = MX_OK;
    long it_total = 0;
    double rel = NAN;
    double *r = NULL, *z = NULL, *p = NULL, *q = NULL, *dinv = NULL, *part = NULL;
    if (n <= 0) goto exit;
    const long nb = (n + MX_SP_BLOCK - 1) / MX_SP_BLOCK;
    r = malloc(sizeof *r * (size_t)n);
    z = malloc(sizeof *z * (size_t)n);
    p = malloc(sizeof *p * (size_t)n);
    q = malloc(sizeof *q * (size_t)n);
    dinv = malloc(sizeof *dinv * (size_t)n);
    part = malloc(sizeof *part * (size_t)(2 * nb));
    if (!r || !z || !p || !q || !dinv || !part) {
        st = mx_seterr(MX_ERR_NOMEM, "conjugate gradients: vectors of %ld unknowns", n);
        goto exit;
    }
    for (long i = 0; i < n; i++) {
        double d = 0.0;
        for (long k = a->rowptr[i]; k < a->rowptr[i + 1]; k++)
            if (a->col[k] == i) d = a->val[k];
        if (!(d > 0) || !isfinite(d)) {
            st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: diagonal element %ld of the "
                           "matrix is %g (the matrix must be positive definite)", i + 1, d);
            goto exit;
        }
        dinv[i] = 1.0 / d;
        if (!isfinite(x[i])) x[i] = 0.0;
    }
    double bb = 0.0;
    for (long bl = 0; bl < nb; bl++) {
        double s = 0.0;
        for (long i = bl * MX_SP_BLOCK; i < n && i < (bl + 1) * MX_SP_BLOCK; i++) s += b[i] * b[i];
        bb += s;
    }
    const double bnorm = sqrt(bb);
    if (!isfinite(bnorm)) {
        st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: the right-hand side is not finite");
        goto exit;
    }
    if (bnorm == 0.0) {
        for (long i = 0; i < n; i++) x[i] = 0.0;
        rel = 0.0;
        goto exit;
    }
    sp_job j;
    memset(&j, 0, sizeof j);
    j.a = a;
    j.n = n;
    j.nblocks = nb;
    j.part1 = part;
    j.part2 = part + nb;
    j.dinv = dinv;
    j.x = x;
    j.r = r;
    j.z = z;
    double floor_rel = 0.0;
    if ((st = true_residual(&j, b, bnorm, x, q, p, z, &rel, &floor_rel)) != MX_OK) goto exit;
    /* The recurrence residual drifts from the true one in long runs; each
     * attempt restarts from the true residual of the current x. */
    for (int attempt = 0; attempt < 6 && !(rel <= rtol || rel <= floor_rel); attempt++) {
        double rz = 0.0;
        for (long bl = 0; bl < nb; bl++) {
            double s1 = 0.0;
            for (long i = bl * MX_SP_BLOCK; i < n && i < (bl + 1) * MX_SP_BLOCK; i++) {
                r[i] = b[i] - q[i];
                z[i] = r[i] * dinv[i];
                p[i] = z[i];
                s1 += r[i] * z[i];
            }
            rz += s1;
        }
        long it = 0;
        while (it < maxiter) {
            if ((it & 63) == 63 && (st = mx_check_interrupt()) != MX_OK) goto exit;
            j.p = p;
            j.q = q;
            if ((st = sp_run(&j, sp_matvec_block)) != MX_OK) goto exit;
            double pq = sum_blocks(part, nb);
            if (!(pq > 0) || !isfinite(pq)) {
                st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: conjugate gradients broke "
                               "down (p.Ap = %g after %ld iterations: the matrix is not positive "
                               "definite)", pq, it_total + it);
                goto exit;
            }
            j.alpha = rz / pq;
            if ((st = sp_run(&j, sp_update_block)) != MX_OK) goto exit;
            it++;
            double rz_new = sum_blocks(part, nb);
            double rr = sum_blocks(part + nb, nb);
            double rrel = sqrt(rr) / bnorm;
            if (!isfinite(rrel)) {
                st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: non-finite residual in "
                               "conjugate gradients after %ld iterations", it_total + it);
                goto exit;
            }
            if (rrel <= rtol) break;
            double beta = rz_new / rz;
            rz = rz_new;
            for (long i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
        }
        it_total += it;
        if ((st = true_residual(&j, b, bnorm, x, q, p, z, &rel, &floor_rel)) != MX_OK) goto exit;
        if (!isfinite(rel)) break;
    }
    if (!(rel <= rtol || rel <= floor_rel)) {
        st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: conjugate gradients did not "
                       "converge: relative residual %.3g after %ld iterations (%ld unknowns, "
                       "tolerance %.3g)", rel, it_total, n, rtol);
        goto exit;
    }
    for (long i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: non-finite solution from "
                           "conjugate gradients (unknown %ld)", i + 1);
            goto exit;
        }
exit:
    if (iters) *iters = it_total;
    if (relres) *relres = rel;
    free(r);
    free(z);
    free(p);
    free(q);
    free(dinv);
    free(part);
    return st;
}

/* ---- reverse Cuthill-McKee -------------------------------------------- */
static long degree_of(const mx_csr *a, long i) {
    long d = 0;
    for (long k = a->rowptr[i]; k < a->rowptr[i + 1]; k++)
        if (a->col[k] != i) d++;
    return d;
}

/* BFS from s over unvisited nodes; returns the number reached, their order
 * in q and their level in lev (stamp-based: lev valid where mark == stamp). */
static long bfs_levels(const mx_csr *a, long s, const unsigned char *visited, long *mark, long stamp,
                       long *lev, long *q, long *depth) {
    long head = 0, tail = 0;
    q[tail++] = s;
    mark[s] = stamp;
    lev[s] = 0;
    long maxl = 0;
    while (head < tail) {
        long u = q[head++];
        for (long k = a->rowptr[u]; k < a->rowptr[u + 1]; k++) {
            long v = a->col[k];
            if (v == u || visited[v] || mark[v] == stamp) continue;
            mark[v] = stamp;
            lev[v] = lev[u] + 1;
            if (lev[v] > maxl) maxl = lev[v];
            q[tail++] = v;
        }
    }
    *depth = maxl;
    return tail;
}

int mx_rcm(const mx_csr *a, long *perm) {
    const long n = a->n;
    int st = MX_OK;
    long *deg = malloc(sizeof *deg * (size_t)(n > 0 ? n : 1));
    long *mark = malloc(sizeof *mark * (size_t)(n > 0 ? n : 1));
    long *lev = malloc(sizeof *lev * (size_t)(n > 0 ? n : 1));
    long *q = malloc(sizeof *q * (size_t)(n > 0 ? n : 1));
    long *nb = NULL;
    unsigned char *visited = calloc((size_t)(n > 0 ? n : 1), 1);
    long maxdeg = 0;
    if (!deg || !mark || !lev || !q || !visited) {
        st = mx_seterr(MX_ERR_NOMEM, "RCM ordering of %ld unknowns", n);
        goto exit;
    }
    for (long i = 0; i < n; i++) {
        deg[i] = degree_of(a, i);
        if (deg[i] > maxdeg) maxdeg = deg[i];
        mark[i] = -1;
    }
    nb = malloc(sizeof *nb * (size_t)(maxdeg > 0 ? maxdeg : 1));
    if (!nb) {
        st = mx_seterr(MX_ERR_NOMEM, "RCM ordering of %ld unknowns", n);
        goto exit;
    }
    long out = 0, stamp = 0;
    for (long seed = 0; seed < n; seed++) {
        if (visited[seed]) continue;
        /* the component, then its lowest-degree node as the first start */
        long depth;
        long cnt = bfs_levels(a, seed, visited, mark, stamp++, lev, q, &depth);
        long start = seed;
        for (long t = 0; t < cnt; t++)
            if (deg[q[t]] < deg[start] || (deg[q[t]] == deg[start] && q[t] < start)) start = q[t];
        /* George-Liu pseudo-peripheral node: move to a lowest-degree node of
         * the last level while the eccentricity grows */
        long ecc;
        bfs_levels(a, start, visited, mark, stamp++, lev, q, &ecc);
        for (int guard = 0; guard < 32; guard++) {
            long best = -1;
            for (long t = 0; t < cnt; t++) {
                long v = q[t];
                if (lev[v] != ecc) continue;
                if (best < 0 || deg[v] < deg[best] || (deg[v] == deg[best] && v < best)) best = v;
            }
            long e2;
            bfs_levels(a, best, visited, mark, stamp++, lev, q, &e2);
            if (e2 <= ecc) {
                bfs_levels(a, start, visited, mark, stamp++, lev, q, &ecc);
                break;
            }
            start = best;
            ecc = e2;
        }
        /* Cuthill-McKee from start: neighbours by increasing degree */
        long head = out, tail = out;
        perm[tail++] = start;
        visited[start] = 1;
        while (head < tail) {
            long u = perm[head++];
            long m = 0;
            for (long k = a->rowptr[u]; k < a->rowptr[u + 1]; k++) {
                long v = a->col[k];
                if (v == u || visited[v]) continue;
                visited[v] = 1;
                /* insertion sort by (degree, index): neighbour lists are short */
                long t = m++;
                while (t > 0 && (deg[nb[t - 1]] > deg[v] || (deg[nb[t - 1]] == deg[v] && nb[t - 1] > v))) {
                    nb[t] = nb[t - 1];
                    t--;
                }
                nb[t] = v;
            }
            for (long t = 0; t < m; t++) perm[tail++] = nb[t];
        }
        out = tail;
    }
    /* reverse */
    for (long i = 0, k = n - 1; i < k; i++, k--) {
        long t = perm[i];
        perm[i] = perm[k];
        perm[k] = t;
    }
exit:
    free(deg);
    free(mark);
    free(lev);
    free(q);
    free(nb);
    free(visited);
    return st;
}

/* ---- envelope Cholesky ------------------------------------------------- */
static int env_first(const mx_csr *a, const long *perm, long *first, long *iperm) {
    const long n = a->n;
    for (long k = 0; k < n; k++) iperm[perm ? perm[k] : k] = k;
    for (long i = 0; i < n; i++) {
        long old = perm ? perm[i] : i, f = i;
        for (long k = a->rowptr[old]; k < a->rowptr[old + 1]; k++) {
            long c = iperm[a->col[k]];
            if (c < f) f = c;
        }
        first[i] = f;
    }
    return MX_OK;
}

size_t mx_envelope_size(const mx_csr *a, const long *perm) {
    const long n = a->n;
    long *first = malloc(sizeof *first * (size_t)(n > 0 ? n : 1));
    long *iperm = malloc(sizeof *iperm * (size_t)(n > 0 ? n : 1));
    size_t s = 0;
    if (first && iperm) {
        env_first(a, perm, first, iperm);
        for (long i = 0; i < n; i++) s += (size_t)(i - first[i] + 1);
    } else {
        s = (size_t)-1;
    }
    free(first);
    free(iperm);
    return s;
}

void mx_envchol_free(mx_envchol *f) {
    if (!f) return;
    free(f->first);
    free(f->start);
    free(f->val);
    free(f->perm);
    memset(f, 0, sizeof *f);
}

/* Four partial sums: the compiler may not reorder a single floating-point
 * sum, and these loops are the whole cost of the exact del_Offset. */
static double dot(const double *x, const double *y, long n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    long k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += x[k] * y[k];
        s1 += x[k + 1] * y[k + 1];
        s2 += x[k + 2] * y[k + 2];
        s3 += x[k + 3] * y[k + 3];
    }
    for (; k < n; k++) s0 += x[k] * y[k];
    return (s0 + s1) + (s2 + s3);
}

int mx_envchol_factor(const mx_csr *a, const long *perm, mx_envchol *f) {
    const long n = a->n;
    int st = MX_OK;
    long *iperm = NULL;
    memset(f, 0, sizeof *f);
    f->n = n;
    f->first = malloc(sizeof *f->first * (size_t)(n > 0 ? n : 1));
    f->start = malloc(sizeof *f->start * (size_t)(n + 1));
    f->perm = calloc((size_t)(n > 0 ? n : 1), sizeof *f->perm);
    iperm = malloc(sizeof *iperm * (size_t)(n > 0 ? n : 1));
    if (!f->first || !f->start || !f->perm || !iperm) {
        st = mx_seterr(MX_ERR_NOMEM, "envelope Cholesky of %ld unknowns", n);
        goto exit;
    }
    for (long k = 0; k < n; k++) f->perm[k] = perm ? perm[k] : k;
    env_first(a, f->perm, f->first, iperm);
    size_t s = 0;
    for (long i = 0; i < n; i++) {
        f->start[i] = s;
        s += (size_t)(i - f->first[i] + 1);
    }
    f->start[n] = s;
    f->size = s;
    f->val = calloc(s > 0 ? s : 1, sizeof *f->val);
    if (!f->val) {
        st = mx_seterr(MX_ERR_NOMEM, "envelope Cholesky: %zu entries (%.1f MB)", s,
                       (double)s * 8.0 / 1048576.0);
        goto exit;
    }
    for (long i = 0; i < n; i++) {
        long old = f->perm[i];
        for (long k = a->rowptr[old]; k < a->rowptr[old + 1]; k++) {
            long c = iperm[a->col[k]];
            if (c <= i) f->val[f->start[i] + (size_t)(c - f->first[i])] = a->val[k];
        }
    }
    for (long i = 0; i < n; i++) {
        if ((i & 255) == 255 && (st = mx_check_interrupt()) != MX_OK) goto exit;
        const long fi = f->first[i];
        double *Li = f->val + f->start[i];
        for (long j = fi; j < i; j++) {
            const long fj = f->first[j];
            const double *Lj = f->val + f->start[j];
            long k0 = fi > fj ? fi : fj;
            double sum = Li[j - fi] - dot(Li + (k0 - fi), Lj + (k0 - fj), j - k0);
            Li[j - fi] = sum / Lj[j - fj];
        }
        double d = Li[i - fi] - dot(Li, Li, i - fi);
        if (!(d > 0) || !isfinite(d)) {
            st = mx_seterr(MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: the matrix is not positive "
                           "definite (pivot %ld of %ld is %g)", i + 1, n, d);
            goto exit;
        }
        Li[i - fi] = sqrt(d);
    }
exit:
    free(iperm);
    if (st != MX_OK) mx_envchol_free(f);
    return st;
}

int mx_envchol_solve(const mx_envchol *f, const double *b, double *x) {
    const long n = f->n;
    if (f->inverted)
        return mx_seterr(MX_ERR_PARAM, "envelope Cholesky: the factor was turned into the inverse");
    double *y = malloc(sizeof *y * (size_t)(n > 0 ? n : 1));
    if (!y) return mx_seterr(MX_ERR_NOMEM, "envelope solve of %ld unknowns", n);
    for (long i = 0; i < n; i++) {
        const long fi = f->first[i];
        const double *Li = f->val + f->start[i];
        y[i] = (b[f->perm[i]] - dot(Li, y + fi, i - fi)) / Li[i - fi];
    }
    for (long i = n - 1; i >= 0; i--) {
        const long fi = f->first[i];
        const double *Li = f->val + f->start[i];
        double xi = y[i] / Li[i - fi];
        y[i] = xi;
        for (long c = fi; c < i; c++) y[c] -= Li[c - fi] * xi;
    }
    for (long i = 0; i < n; i++) x[f->perm[i]] = y[i];
    free(y);
    return MX_OK;
}

int mx_envchol_invdiag(mx_envchol *f, double *diag) {
    const long n = f->n;
    int st = MX_OK;
    if (f->inverted)
        return mx_seterr(MX_ERR_PARAM, "envelope Cholesky: already inverted");
    long *last = malloc(sizeof *last * (size_t)(n > 0 ? n : 1));
    double *l = malloc(sizeof *l * (size_t)(n > 0 ? n : 1));
    double *t = malloc(sizeof *t * (size_t)(n > 0 ? n : 1));
    if (!last || !l || !t) {
        st = mx_seterr(MX_ERR_NOMEM, "inverse diagonal of %ld unknowns", n);
        goto exit;
    }
    /* last[c] = the last row whose envelope reaches column c */
    for (long c = 0; c < n; c++) last[c] = -1;
    for (long k = 0; k < n; k++)
        if (k > last[f->first[k]]) last[f->first[k]] = k;
    long run = -1;
    for (long c = 0; c < n; c++) {
        if (last[c] > run) run = last[c];
        last[c] = run > c ? run : c;
    }
    /* Z = A^-1 from the last column back (Takahashi, Erisman & Tinney 1975):
     *   Z_ji = -(1/L_ii) sum_{k in S} L_ki Z_kj   (j in S)
     *   Z_ii = (1/L_ii - sum_{k in S} L_ki Z_ki) / L_ii
     * with S = {k > i : first[k] <= i}; every Z_kj needed lies inside the
     * envelope and belongs to a column already done. */
    for (long i = n - 1; i >= 0; i--) {
        if ((i & 255) == 0 && (st = mx_check_interrupt()) != MX_OK) goto exit;
        const long fi = f->first[i];
        double *Li = f->val + f->start[i];
        const double lii = Li[i - fi];
        const long len = last[i] - i;
        for (long m = 0; m < len; m++) {
            long k = i + 1 + m;
            l[m] = f->first[k] <= i ? f->val[f->start[k] + (size_t)(i - f->first[k])] : 0.0;
            t[m] = 0.0;
        }
        for (long m = 0; m < len; m++) {
            long k = i + 1 + m;
            if (f->first[k] > i) continue;
            const double lk = l[m];
            /* row k's columns i+1 .. k-1, then its diagonal */
            const double *zr = f->val + f->start[k] + (size_t)(i + 1 - f->first[k]);
            long c = 0;
            for (; c + 4 <= m; c += 4) {
                t[c] += lk * zr[c];
                t[c + 1] += lk * zr[c + 1];
                t[c + 2] += lk * zr[c + 2];
                t[c + 3] += lk * zr[c + 3];
            }
            for (; c < m; c++) t[c] += lk * zr[c];
            t[m] += dot(zr, l, m) + zr[m] * lk;
        }
        double s = 0.0;
        for (long m = 0; m < len; m++) {
            long k = i + 1 + m;
            if (f->first[k] > i) continue;
            double zki = -t[m] / lii;
            f->val[f->start[k] + (size_t)(i - f->first[k])] = zki;
            s += l[m] * zki;
        }
        Li[i - fi] = (1.0 / lii - s) / lii;
    }
    for (long i = 0; i < n; i++) diag[f->perm[i]] = f->val[f->start[i] + (size_t)(i - f->first[i])];
    f->inverted = 1;
exit:
    free(last);
    free(l);
    free(t);
    return st;
}
