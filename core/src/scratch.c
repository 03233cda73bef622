/* scratch.c - per-thread cache of large freed blocks (see scratch_priv.h). */
#include "scratch_priv.h"

#include <stdint.h>
#include <stdlib.h>

/* Blocks below this go straight back to malloc (its own bins reuse them
 * without page faults); the cache holds at most SLOTS blocks and CAP bytes
 * per thread - a frame of the exact-overlap method frees about 10 large
 * blocks, 12 MB in all, at 0.6" from IRAC. */
#define SCRATCH_MIN ((size_t)64 << 10)
#define SCRATCH_SLOTS 16
#define SCRATCH_CAP ((size_t)256 << 20)

/* The block's capacity sits in front of the caller's pointer; blocks are
 * 64-byte aligned and so is the caller's pointer (a cache line). */
#define HEADER 64

typedef struct {
    void *blk[SCRATCH_SLOTS]; /* header addresses */
    size_t cap[SCRATCH_SLOTS];
    int n;
    size_t bytes;
    int depth;
} cache;

static _Thread_local cache tc;

static inline size_t *header_of(void *p) { return (size_t *)((char *)p - HEADER); }

void *mx_scratch_alloc(size_t bytes) {
    if (bytes > SIZE_MAX - HEADER) return NULL;
    if (tc.depth > 0 && bytes >= SCRATCH_MIN) {
        /* best fit: the smallest cached block that holds the request */
        int best = -1;
        for (int k = 0; k < tc.n; k++)
            if (tc.cap[k] >= bytes && (best < 0 || tc.cap[k] < tc.cap[best])) best = k;
        if (best >= 0) {
            char *h = tc.blk[best];
            tc.bytes -= tc.cap[best];
            tc.n--;
            tc.blk[best] = tc.blk[tc.n];
            tc.cap[best] = tc.cap[tc.n];
            return h + HEADER;
        }
    }
    size_t cap = bytes;
    if (tc.depth > 0 && bytes >= SCRATCH_MIN) {
        /* Frames differ by a pixel or two: capacities in steps of 1/8 of a
         * power of two let the next frame's buffer fit this one. A cached
         * block of the same class that is still too small will not be
         * taken again: free it rather than keep it beside the new one. */
        size_t step = (size_t)1 << (63 - __builtin_clzll((unsigned long long)bytes) - 3);
        if (bytes <= SIZE_MAX - HEADER - step) cap = (bytes + step - 1) / step * step;
        for (int k = 0; k < tc.n;) {
            if (tc.cap[k] < bytes && tc.cap[k] >= bytes / 2) {
                free(tc.blk[k]);
                tc.bytes -= tc.cap[k];
                tc.n--;
                tc.blk[k] = tc.blk[tc.n];
                tc.cap[k] = tc.cap[tc.n];
            } else {
                k++;
            }
        }
    }
    void *m = NULL;
    if (posix_memalign(&m, HEADER, cap + HEADER) != 0) return NULL;
    char *h = m;
    *(size_t *)h = cap;
    return h + HEADER;
}

void mx_scratch_free(void *p) {
    if (!p) return;
    size_t *h = header_of(p);
    size_t cap = *h;
    if (tc.depth > 0 && cap >= SCRATCH_MIN && cap <= SCRATCH_CAP) {
        /* make room: drop the smallest cached blocks first */
        while (tc.n > 0 && (tc.n == SCRATCH_SLOTS || tc.bytes + cap > SCRATCH_CAP)) {
            int small = 0;
            for (int k = 1; k < tc.n; k++)
                if (tc.cap[k] < tc.cap[small]) small = k;
            if (tc.cap[small] > cap) break; /* everything cached is larger: keep it */
            free(tc.blk[small]);
            tc.bytes -= tc.cap[small];
            tc.n--;
            tc.blk[small] = tc.blk[tc.n];
            tc.cap[small] = tc.cap[tc.n];
        }
        if (tc.n < SCRATCH_SLOTS && tc.bytes + cap <= SCRATCH_CAP) {
            tc.blk[tc.n] = h;
            tc.cap[tc.n] = cap;
            tc.n++;
            tc.bytes += cap;
            return;
        }
    }
    free(h);
}

void mx_scratch_enter(void) { tc.depth++; }

void mx_scratch_leave(void) {
    if (tc.depth > 0) tc.depth--;
    if (tc.depth > 0) return;
    for (int k = 0; k < tc.n; k++) free(tc.blk[k]);
    tc.n = 0;
    tc.bytes = 0;
}
