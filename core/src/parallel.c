/* parallel.c - mx_parallel_for over pthreads with dynamic hand-out. */
#include "mopex/mx_parallel.h"
#include "mopex/mx_error.h"
#include "scratch_priv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic int configured_threads = 0; /* 0 = not yet decided */
/* Set inside a worker: a nested mx_parallel_for (a kernel that parallelises
 * itself, called from a loop over frames) runs serially instead of starting
 * threads^2 threads. */
static _Thread_local int in_worker = 0;

int mx_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void mx_set_threads(int n) { atomic_store(&configured_threads, n > 0 ? n : mx_cpu_count()); }

int mx_threads(void) {
    int n = atomic_load(&configured_threads);
    if (n > 0) return n;
    const char *env = getenv("MOPEX_THREADS");
    n = env ? atoi(env) : 0;
    if (n <= 0) n = mx_cpu_count();
    atomic_store(&configured_threads, n);
    return n;
}

typedef struct {
    long n;
    mx_parallel_fn fn;
    void *ctx;
    _Atomic long next;
    _Atomic int stop;
    pthread_mutex_t lock;
    long err_index;   /* lowest failing index, or n */
    int err_status;
    char err_msg[2048];
} job;

typedef struct {
    job *j;
    int thread;
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    job *j = w->j;
    int was_in_worker = in_worker;
    in_worker = 1;
    mx_scratch_enter();
    for (;;) {
        if (atomic_load(&j->stop)) break;
        if (mx_interrupt_requested()) {
            pthread_mutex_lock(&j->lock);
            if (j->err_status == MX_OK) {
                j->err_status = MX_ERR_INTERRUPTED;
                j->err_index = j->n;
                strcpy(j->err_msg, "interrupted by user");
            }
            pthread_mutex_unlock(&j->lock);
            atomic_store(&j->stop, 1);
            break;
        }
        long i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        int st = j->fn(i, j->ctx, w->thread);
        if (st != MX_OK) {
            pthread_mutex_lock(&j->lock);
            if (j->err_status == MX_OK || i < j->err_index) {
                j->err_status = st;
                j->err_index = i;
                strncpy(j->err_msg, mx_errmsg(), sizeof j->err_msg - 1);
                j->err_msg[sizeof j->err_msg - 1] = '\0';
            }
            pthread_mutex_unlock(&j->lock);
            atomic_store(&j->stop, 1);
        }
    }
    mx_scratch_leave();
    in_worker = was_in_worker;
    return NULL;
}

int mx_parallel_for_n(long n, int max_threads, mx_parallel_fn fn, void *ctx) {
    if (n <= 0) return MX_OK;
    int nt = in_worker ? 1 : mx_threads();
    if (max_threads > 0 && nt > max_threads) nt = max_threads;
    if (nt > n) nt = (int)n;
    if (nt <= 1) {
        int st = MX_OK;
        mx_scratch_enter();
        for (long i = 0; i < n && st == MX_OK; i++)
            if ((st = mx_check_interrupt()) == MX_OK) st = fn(i, ctx, 0);
        mx_scratch_leave();
        return st;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.n = n;
    j.fn = fn;
    j.ctx = ctx;
    j.err_index = n;
    atomic_init(&j.next, 0);
    atomic_init(&j.stop, 0);
    pthread_mutex_init(&j.lock, NULL);

    pthread_t *tids = calloc((size_t)nt, sizeof *tids);
    worker_arg *args = calloc((size_t)nt, sizeof *args);
    if (!tids || !args) {
        free(tids);
        free(args);
        pthread_mutex_destroy(&j.lock);
        return mx_seterr(MX_ERR_NOMEM, "parallel_for: %d threads", nt);
    }
    int started = 0;
    for (int t = 1; t < nt; t++) {
        args[t].j = &j;
        args[t].thread = t;
        if (pthread_create(&tids[t], NULL, worker, &args[t]) != 0) break;
        started = t;
    }
    args[0].j = &j;
    args[0].thread = 0;
    worker(&args[0]);
    for (int t = 1; t <= started; t++) pthread_join(tids[t], NULL);
    free(tids);
    free(args);
    pthread_mutex_destroy(&j.lock);
    if (j.err_status != MX_OK) return mx_seterr(j.err_status, "%s", j.err_msg);
    return MX_OK;
}

int mx_parallel_for(long n, mx_parallel_fn fn, void *ctx) {
    return mx_parallel_for_n(n, 0, fn, ctx);
}
