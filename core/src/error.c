/* error.c - per-thread error messages, logging, interrupts, progress. */
#include "mopex/mx_error.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MX_ERRMSG_LEN 2048

static _Thread_local char errbuf[MX_ERRMSG_LEN];

const char *mx_version(void) { return MOPEX_VERSION; }

const char *mx_status_name(int status) {
    switch (status) {
    case MX_OK: return "ok";
    case MX_ERR_NOMEM: return "out of memory";
    case MX_ERR_IO: return "i/o";
    case MX_ERR_FORMAT: return "format";
    case MX_ERR_WCS: return "wcs";
    case MX_ERR_PARAM: return "parameter";
    case MX_ERR_NOTFOUND: return "not found";
    case MX_ERR_MISMATCH: return "mismatch";
    case MX_ERR_UNSUPPORTED: return "unsupported";
    case MX_ERR_NUMERIC: return "numeric";
    case MX_ERR_INTERRUPTED: return "interrupted";
    case MX_ERR_NOTIMPL: return "not implemented";
    case MX_ERR_INTERNAL: return "internal";
    default: return "unknown";
    }
}

int mx_vseterr(int status, const char *fmt, va_list ap) {
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    return status;
}

int mx_seterr(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mx_vseterr(status, fmt, ap);
    va_end(ap);
    return status;
}

int mx_preferr(int status, const char *fmt, ...) {
    char prefix[MX_ERRMSG_LEN], old[MX_ERRMSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    if (old[0])
        snprintf(errbuf, sizeof errbuf, "%s: %s", prefix, old);
    else
        snprintf(errbuf, sizeof errbuf, "%s", prefix);
    return status;
}

const char *mx_errmsg(void) { return errbuf; }
void mx_clearerr(void) { errbuf[0] = '\0'; }

/* ---- logging ---------------------------------------------------------- */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int log_level = MX_LOG_INFO;
static mx_log_handler log_fn = NULL;
static void *log_ud = NULL;

void mx_log_set_level(mx_log_level level) { atomic_store(&log_level, (int)level); }
mx_log_level mx_log_get_level(void) { return (mx_log_level)atomic_load(&log_level); }

void mx_log_set_handler(mx_log_handler fn, void *ud) {
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_ud = ud;
    pthread_mutex_unlock(&log_lock);
}

static int progress_line_open = 0; /* a TTY bar is on screen: break the line first */

void mx_log(mx_log_level level, const char *fmt, ...) {
    if ((int)level > atomic_load(&log_level)) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (progress_line_open) { /* finish the progress bar's line first */
        fputc('\n', stderr);
        progress_line_open = 0;
    }
    if (log_fn) {
        log_fn(level, msg, log_ud);
    } else {
        static const char *prefix[] = {"error: ", "warning: ", "", "debug: "};
        fprintf(stderr, "%s%s\n", prefix[level], msg);
    }
    pthread_mutex_unlock(&log_lock);
}

/* ---- interrupts ------------------------------------------------------- */
static volatile sig_atomic_t interrupt_flag = 0;

void mx_request_interrupt(void) { interrupt_flag = 1; }
void mx_clear_interrupt(void) { interrupt_flag = 0; }
int mx_interrupt_requested(void) { return interrupt_flag != 0; }
int mx_check_interrupt(void) {
    if (interrupt_flag) return mx_seterr(MX_ERR_INTERRUPTED, "interrupted by user");
    return MX_OK;
}

/* ---- progress --------------------------------------------------------- */
struct mx_progress {
    char label[64];
    char unit[24];
    long total;
    _Atomic long done;
    int tty;
    int last_shown;          /* percent (TTY) or decile (plain) last printed */
    double t0;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

mx_progress *mx_progress_start(const char *label, long total, const char *unit) {
    mx_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total > 0 ? total : 0;
    p->tty = isatty(STDERR_FILENO) && getenv("MOPEX_NO_PROGRESS_BAR") == NULL;
    p->last_shown = -1;
    p->t0 = now_seconds();
    return p;
}

static void progress_show(mx_progress *p, long done, int final) {
    if (mx_log_get_level() < MX_LOG_INFO || p->total == 0) return;
    pthread_mutex_lock(&log_lock);
    int pct = (int)(100.0 * (double)done / (double)p->total);
    if (p->tty) {
        if (pct != p->last_shown || final) {
            int width = 30, fill = pct * width / 100;
            char bar[64];
            for (int k = 0; k < width; k++) bar[k] = k < fill ? '#' : '.';
            bar[width] = '\0';
            fprintf(stderr, "\r%s [%s] %ld/%ld %s %.1fs%s", p->label, bar, done, p->total,
                    p->unit, now_seconds() - p->t0, final ? "\n" : "");
            fflush(stderr);
            progress_line_open = !final;
            p->last_shown = pct;
        }
    } else {
        int decile = pct / 10;
        if (final || decile > p->last_shown) {
            if (!final || p->last_shown < 10)
                fprintf(stderr, "%s: %ld/%ld %s (%.1fs)\n", p->label, done, p->total, p->unit,
                        now_seconds() - p->t0);
            p->last_shown = final ? 10 : decile;
        }
    }
    pthread_mutex_unlock(&log_lock);
}

void mx_progress_step(mx_progress *p, long n) {
    if (!p) return;
    long done = atomic_fetch_add(&p->done, n) + n;
    progress_show(p, done, 0);
}

void mx_progress_done(mx_progress *p) {
    if (!p) return;
    progress_show(p, atomic_load(&p->done), 1);
    free(p);
}
