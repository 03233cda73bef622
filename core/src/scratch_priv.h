/* scratch_priv.h - per-thread reuse of the large per-item buffers of a
 * parallel loop (frame lattices, interpolated planes, source copies).
 *
 * Why: a frame's buffers are a few MB each; malloc hands such blocks back to
 * the kernel on free, so every frame paid ~3,000 page faults (zeroed pages)
 * for memory it had just released - a third of the system time of a mosaic.
 * Inside a scratch scope (mx_parallel_for opens one on every thread it
 * runs), mx_scratch_free keeps a large block in its thread's cache and the
 * next mx_scratch_alloc of at most that size takes it back, pages still
 * mapped. Leaving the outermost scope empties the cache, so memory stays
 * bounded by what one item of each thread needs, never by the item count.
 * Outside a scope both calls are plain malloc/free.
 *
 * A block from mx_scratch_alloc is released with mx_scratch_free (never
 * free()); its contents are undefined, as malloc's. */
#ifndef MX_SCRATCH_PRIV_H
#define MX_SCRATCH_PRIV_H

#include <stddef.h>

void *mx_scratch_alloc(size_t bytes);
void mx_scratch_free(void *p);

/* Scopes nest per thread; leaving the outermost frees the cached blocks. */
void mx_scratch_enter(void);
void mx_scratch_leave(void);

#endif
