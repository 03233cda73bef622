/* test_scratch.c - the per-thread block cache of the parallel loops
 * (core/src/scratch.c): reuse inside a scope, plain malloc outside, one
 * block per thread across the items of mx_parallel_for. Leaks would show in
 * the AddressSanitizer build (LeakSanitizer). */
#include "mxtest.h"
#include "../../core/src/scratch_priv.h"

#include <stdint.h>

static void test_outside_scope(void) {
    /* no scope: malloc/free, nothing kept (a second block is not the first) */
    unsigned char *a = mx_scratch_alloc(1 << 20);
    MXT_TRUE(a != NULL);
    memset(a, 7, 1 << 20);
    MXT_TRUE(((uintptr_t)a & 63) == 0); /* aligned for vector loads */
    mx_scratch_free(a);
    mx_scratch_free(NULL);
}

static void test_reuse_in_scope(void) {
    mx_scratch_enter();
    char *a = mx_scratch_alloc(1000000);
    memset(a, 1, 1000000);
    mx_scratch_free(a);
    char *b = mx_scratch_alloc(900000); /* smaller: the same block */
    MXT_TRUE(b == a);
    mx_scratch_free(b);
    char *c = mx_scratch_alloc(1000100); /* a few rows more: still fits (capacity rounded up) */
    MXT_TRUE(c == a);
    char *d = mx_scratch_alloc(1000000); /* a is taken: a new block */
    MXT_TRUE(d != NULL && d != a);
    memset(d, 2, 1000000);
    mx_scratch_free(c);
    mx_scratch_free(d);
    char *small = mx_scratch_alloc(100); /* below the cache's minimum: not from the cache */
    MXT_TRUE(small != a && small != d);
    mx_scratch_free(small);
    /* nested scopes keep the cache until the outermost ends */
    mx_scratch_enter();
    char *e = mx_scratch_alloc(500000);
    MXT_TRUE(e == a || e == d);
    mx_scratch_free(e);
    mx_scratch_leave();
    char *f = mx_scratch_alloc(500000); /* the inner scope's end kept them */
    MXT_TRUE(f == a || f == d);
    mx_scratch_free(f);
    mx_scratch_leave(); /* frees everything cached */
}

/* Each item takes and returns two blocks; a thread should use the same two
 * for all of its items. */
typedef struct {
    void *seen[8][4];
    int nseen[8];
    int bad;
} loop_ctx;

static int item(long i, void *vctx, int thread) {
    loop_ctx *c = vctx;
    size_t n = (size_t)(300000 + (i % 3) * 1000); /* sizes vary a little, as frames do */
    char *p = mx_scratch_alloc(n), *q = mx_scratch_alloc(2 * n);
    if (!p || !q) return mx_seterr(MX_ERR_NOMEM, "item %ld", i);
    memset(p, (int)i, n);
    memset(q, (int)i, 2 * n);
    if (thread < 8) {
        void *both[2] = {p, q};
        for (int b = 0; b < 2; b++) {
            int known = 0;
            for (int k = 0; k < c->nseen[thread]; k++) known |= c->seen[thread][k] == both[b];
            if (!known) {
                if (c->nseen[thread] < 4) c->seen[thread][c->nseen[thread]++] = both[b];
                else c->bad++;
            }
        }
    }
    mx_scratch_free(q);
    mx_scratch_free(p);
    return MX_OK;
}

static void test_parallel_loop(void) {
    loop_ctx c;
    memset(&c, 0, sizeof c);
    MXT_OK(mx_parallel_for(200, item, &c));
    MXT_EQ_INT(c.bad, 0);
    for (int t = 0; t < 8; t++) MXT_TRUE(c.nseen[t] <= 2);
}

int main(void) {
    MXT_RUN(test_outside_scope);
    MXT_RUN(test_reuse_in_scope);
    MXT_RUN(test_parallel_loop);
    return mxt_summary();
}
