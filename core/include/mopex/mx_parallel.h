/* mx_parallel.h - one small parallel-for over frames, tiles or rows.
 *
 * mx_parallel_for runs fn(i, ctx, thread) for i in [0, n) on up to
 * mx_threads() pthreads (the caller's thread is one of them). Items are
 * handed out dynamically, so each fn must write only its own outputs: results
 * are then identical for any thread count (reductions happen afterwards, in
 * index order, in the caller). `thread` is 0..nthreads-1, for per-thread
 * scratch space.
 *
 * Errors: the first failing item (lowest i) wins: its status is returned and
 * its mx_errmsg() text is copied to the caller's thread. Once an item fails
 * or an interrupt is requested, no new items start.
 *
 * Thread count: mx_set_threads(n) (n <= 0: automatic); default from the
 * MOPEX_THREADS environment variable, else the number of online CPUs.
 */
#ifndef MX_PARALLEL_H
#define MX_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*mx_parallel_fn)(long i, void *ctx, int thread);

int mx_parallel_for(long n, mx_parallel_fn fn, void *ctx);
/* Same with an explicit cap on threads (e.g. 1 to force serial). */
int mx_parallel_for_n(long n, int max_threads, mx_parallel_fn fn, void *ctx);

void mx_set_threads(int n);
int mx_threads(void);
int mx_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
