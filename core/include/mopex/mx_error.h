/* mx_error.h - status codes, error messages, logging, progress and interrupts.
 *
 * Every core function that can fail returns an int status: MX_OK (0) on
 * success, one of the MX_ERR_* codes otherwise. The human-readable detail
 * ("cannot open 'a.fits': No such file or directory") is kept per thread and
 * read with mx_errmsg(). A function that fails sets the message with
 * mx_seterr(); callers may add context with mx_preferr(). Clean-up goes
 * through one exit label:
 *
 *     int status = MX_OK;
 *     float *buf = malloc(n * sizeof *buf);
 *     if (!buf) { status = mx_seterr(MX_ERR_NOMEM, "buffer of %zu floats", n); goto exit; }
 *     if ((status = mx_something(buf)) != MX_OK) goto exit;
 *   exit:
 *     free(buf);
 *     return status;
 *
 * Messages name the file, the keyword or the parameter concerned and the
 * reason; they never end with a newline.
 */
#ifndef MX_ERROR_H
#define MX_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MX_OK = 0,
    MX_ERR_NOMEM = 1,       /* allocation failed */
    MX_ERR_IO = 2,          /* file missing, unreadable, unwritable, disk full */
    MX_ERR_FORMAT = 3,      /* not FITS / not an IPAC table / truncated / malformed */
    MX_ERR_WCS = 4,         /* no usable celestial WCS, projection failure */
    MX_ERR_PARAM = 5,       /* invalid argument or parameter value (caller's misuse) */
    MX_ERR_NOTFOUND = 6,    /* keyword / column / file entry not present */
    MX_ERR_MISMATCH = 7,    /* lists of different lengths, image sizes differ */
    MX_ERR_UNSUPPORTED = 8, /* valid input we do not handle (cube, projection code) */
    MX_ERR_NUMERIC = 9,     /* solver failed, no convergence, non-finite result */
    MX_ERR_INTERRUPTED = 10,/* user interrupt (Ctrl-C) */
    MX_ERR_NOTIMPL = 11,    /* module not implemented: message names it */
    MX_ERR_INTERNAL = 12    /* a bug */
};

/* Short name of a status code ("io", "format", ...). */
const char *mx_status_name(int status);

/* Set the calling thread's error message; returns `status` so that
 * `return mx_seterr(MX_ERR_IO, "...")` reads naturally. */
int mx_seterr(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mx_vseterr(int status, const char *fmt, va_list ap);
/* Prefix the current message with context: "reading 'x.fits': <old message>". */
int mx_preferr(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's last message ("" if none). Valid until the next mx_seterr
 * on this thread. */
const char *mx_errmsg(void);
void mx_clearerr(void);

/* ---- logging ------------------------------------------------------------ */
typedef enum {
    MX_LOG_ERROR = 0,
    MX_LOG_WARN = 1,
    MX_LOG_INFO = 2,   /* default verbosity shows up to here */
    MX_LOG_DEBUG = 3
} mx_log_level;

void mx_log(mx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define mx_warn(...) mx_log(MX_LOG_WARN, __VA_ARGS__)
#define mx_info(...) mx_log(MX_LOG_INFO, __VA_ARGS__)
#define mx_debug(...) mx_log(MX_LOG_DEBUG, __VA_ARGS__)
void mx_log_set_level(mx_log_level level);
mx_log_level mx_log_get_level(void);
/* Route messages elsewhere (the Lua layer collects warnings this way). The
 * handler is called with a complete message without trailing newline, under
 * a lock, so it need not be thread-safe itself. NULL restores stderr. */
typedef void (*mx_log_handler)(mx_log_level level, const char *msg, void *ud);
void mx_log_set_handler(mx_log_handler fn, void *ud);

/* ---- interrupts --------------------------------------------------------- */
/* The host's SIGINT handler calls mx_request_interrupt(); long kernels call
 * mx_check_interrupt() between rows/tiles/frames and return its status. */
void mx_request_interrupt(void);
void mx_clear_interrupt(void);
int mx_interrupt_requested(void);
/* MX_OK, or sets "interrupted by user" and returns MX_ERR_INTERRUPTED. */
int mx_check_interrupt(void);

/* ---- progress ----------------------------------------------------------- */
/* A progress reporter for long modules: a bar on a TTY, plain lines
 * ("interpolate: 40/200 frames") otherwise; silent below MX_LOG_INFO.
 * mx_progress_step is thread-safe. */
typedef struct mx_progress mx_progress;
mx_progress *mx_progress_start(const char *label, long total, const char *unit);
void mx_progress_step(mx_progress *p, long n);
void mx_progress_done(mx_progress *p);

#ifdef __cplusplus
}
#endif
#endif
