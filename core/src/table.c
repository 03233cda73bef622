/* table.c - typed tables with units and nulls; IPAC table reading and writing.
 *
 * Reading accepts what IRSA and astropy write and the looser variants
 * printed in the MOPEX guide (formats.md 4.1): a name line without its
 * leading '|', header lines of unequal layout, rows that are not aligned
 * with the name line (split on whitespace then), type aliases, keywords
 * with or without a type word ("\char KEY = v", "\KEY = v"), quoted values.
 *
 * Writing produces standard aligned IPAC: every '|' of the header lines sits
 * over a blank column of the data rows, values fit between the bars, and
 * doubles are printed with the fewest of 15, 16 or 17 significant digits
 * that read back to the same bits (so output is lossless and still short).
 */
#include "mopex/mx_table.h"
#include "mopex/mx_error.h"
#include "mopex/mx_image.h"
#include "mopex/mx_parallel.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NULL_DEFAULT "null"

/* ---- small helpers ------------------------------------------------------ */

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* Trim blanks from both ends of [*s, *s + *n). */
static void trim_span(const char **s, size_t *n) {
    const char *p = *s;
    size_t len = *n;
    while (len && is_blank(*p)) p++, len--;
    while (len && is_blank(p[len - 1])) len--;
    *s = p;
    *n = len;
}

static int has_control_or_bar(const char *s, int allow_bar) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) return 1;
        if (!allow_bar && c == '|') return 1;
    }
    return 0;
}

static int span_eq(const char *s, size_t n, const char *z) {
    size_t zl = strlen(z);
    return n == zl && memcmp(s, z, n) == 0;
}

/* A growing text buffer. */
typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static int sb_reserve(sbuf *b, size_t extra) {
    if (b->failed) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (sb_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_pad(sbuf *b, char c, size_t n) {
    if (sb_reserve(b, n)) return;
    memset(b->p + b->len, c, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* ---- number parsing and formatting -------------------------------------- */

/* Parse a double from a span: the whole (trimmed) text must be consumed.
 * Fortran 'D' exponents are accepted. */
static int parse_double_span(const char *s, size_t n, double *out) {
    char buf[128];
    trim_span(&s, &n);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    for (size_t i = 1; i + 1 < n; i++)
        if ((buf[i] == 'D' || buf[i] == 'd') && (isdigit((unsigned char)buf[i - 1]) || buf[i - 1] == '.') &&
            (isdigit((unsigned char)buf[i + 1]) || buf[i + 1] == '+' || buf[i + 1] == '-'))
            buf[i] = 'e';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0') return -1;
    /* Underflow to a denormal/zero is fine; overflow to inf from finite text is not. */
    if (errno == ERANGE && isinf(v)) return -1;
    *out = v;
    return 0;
}

/* Parse an int64 from a span; integral floating text ("3.0", "1e3") is
 * accepted when exactly representable. */
static int parse_int_span(const char *s, size_t n, int64_t *out) {
    char buf[128];
    trim_span(&s, &n);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (end != buf && *end == '\0' && errno == 0) {
        *out = (int64_t)v;
        return 0;
    }
    double d;
    if (parse_double_span(buf, n, &d) == 0 && isfinite(d) && d == floor(d) && fabs(d) < 9.2e18) {
        *out = (int64_t)d;
        return 0;
    }
    return -1;
}

/* %.Pg layout of the significant digits dig[0..nd) with decimal exponent
 * exp10 (trailing zeros dropped, exponent form outside [-4, P)). */
static int put_g(char *out, size_t size, int neg, const char *dig, int nd, int exp10, int P) {
    char tmp[64];
    int k = 0;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    if (neg) tmp[k++] = '-';
    if (exp10 < -4 || exp10 >= P) {
        tmp[k++] = dig[0];
        if (nd > 1) {
            tmp[k++] = '.';
            memcpy(tmp + k, dig + 1, (size_t)nd - 1);
            k += nd - 1;
        }
        int e = exp10 < 0 ? -exp10 : exp10;
        tmp[k++] = 'e';
        tmp[k++] = exp10 < 0 ? '-' : '+';
        if (e >= 100) tmp[k++] = (char)('0' + e / 100);
        tmp[k++] = (char)('0' + (e / 10) % 10);
        tmp[k++] = (char)('0' + e % 10);
    } else if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++) tmp[k++] = i < nd ? dig[i] : '0';
        if (nd > exp10 + 1) {
            tmp[k++] = '.';
            memcpy(tmp + k, dig + exp10 + 1, (size_t)(nd - exp10 - 1));
            k += nd - exp10 - 1;
        }
    } else {
        tmp[k++] = '0';
        tmp[k++] = '.';
        for (int i = 0; i < -exp10 - 1; i++) tmp[k++] = '0';
        memcpy(tmp + k, dig, (size_t)nd);
        k += nd;
    }
    if (size == 0) return k;
    size_t n = (size_t)k < size ? (size_t)k : size - 1;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return k;
}

/* The same text as the first of printf("%.15g"), "%.16g", "%.17g" that
 * reads back to v: lossless, and 0.1 stays "0.1".
 *
 * Why not just call printf three times: glibc's %g costs about a
 * microsecond per call and dominated writing big tables. Instead one "%.16e"
 * gives the correctly rounded 17 digits, and the 15- and 16-digit forms are
 * rounded from them in decimal. That equals rounding v itself unless the 17
 * digits sit exactly on a rounding midpoint ("5" then zeros), where printf
 * decides. A candidate N x 10^k is checked exactly without strtod when
 * N < 2^53 and |k| <= 22: one IEEE multiply or divide of two exact doubles
 * is correctly rounded (Clinger's fast path). */
static int fmt_double_rt(double v, char *buf, size_t size) {
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (isnan(v)) return snprintf(buf, size, "nan");
    if (isinf(v)) return snprintf(buf, size, v < 0 ? "-inf" : "inf");
    if (v == 0) return snprintf(buf, size, signbit(v) ? "-0" : "0");
    if (fabs(v) < 1e15 && v == trunc(v)) return snprintf(buf, size, "%lld", (long long)v);
    char e17[48];
    snprintf(e17, sizeof e17, "%.16e", v);
    const char *p = e17;
    int neg = 0;
    if (*p == '-') neg = 1, p++;
    char dig[17];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < 17) dig[nd++] = *p;
    if (nd != 17 || *p != 'e') return snprintf(buf, size, "%.17g", v);
    int exp10 = atoi(p + 1);
    for (int P = 15; P <= 16; P++) {
        int tie = dig[P] == '5';
        for (int i = P + 1; i < 17 && tie; i++)
            if (dig[i] != '0') tie = 0;
        if (tie) {
            int n = snprintf(buf, size, "%.*g", P, v);
            if (strtod(buf, NULL) == v) return n;
            continue;
        }
        char r[17];
        int ex = exp10;
        memcpy(r, dig, (size_t)P);
        if (dig[P] >= '5') {
            int i = P - 1;
            while (i >= 0 && r[i] == '9') r[i--] = '0';
            if (i >= 0) {
                r[i]++;
            } else {
                r[0] = '1'; /* 99..9 rounds up to 10..0: one more decade */
                ex++;
            }
        }
        uint64_t N = 0;
        for (int i = 0; i < P; i++) N = N * 10 + (uint64_t)(r[i] - '0');
        int k = ex - (P - 1);
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
        if (N < (UINT64_C(1) << 53) && k >= -22 && k <= 22) {
            double x = k >= 0 ? (double)N * p10[k] : (double)N / p10[-k];
            if ((neg ? -x : x) == v) return put_g(buf, size, neg, r, P, ex, P);
            continue;
        }
#else
        (void)p10;
#endif
        int n = put_g(buf, size, neg, r, P, ex, P);
        if (strtod(buf, NULL) == v) return n;
    }
    return put_g(buf, size, neg, dig, 17, exp10, 17);
}

/* A user format for doubles must hold exactly one floating conversion. */
static int valid_double_format(const char *f) {
    int conv = 0;
    for (const char *p = f; *p; p++) {
        if (*p != '%') {
            if ((unsigned char)*p < 0x20 || *p == '|') return 0;
            continue;
        }
        if (p[1] == '%') {
            p++;
            continue;
        }
        p++;
        while (*p && strchr("-+ #0", *p)) p++;
        while (isdigit((unsigned char)*p)) p++;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) p++;
        }
        if (!*p || !strchr("eEfFgGaA", *p)) return 0;
        conv++;
    }
    return conv == 1;
}

static int fmt_double_col(const mx_column *c, double v, char *buf, size_t size) {
    if (isnan(v)) return snprintf(buf, size, "nan");
    if (isinf(v)) return snprintf(buf, size, v < 0 ? "-inf" : "inf");
    if (c->format && valid_double_format(c->format)) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        return snprintf(buf, size, c->format, v);
#pragma GCC diagnostic pop
    }
    return fmt_double_rt(v, buf, size);
}

/* ---- table life cycle --------------------------------------------------- */

mx_table *mx_table_new(void) {
    mx_table *t = calloc(1, sizeof *t);
    if (!t) mx_seterr(MX_ERR_NOMEM, "new table");
    return t;
}

static void column_free(mx_column *c, long nrows) {
    free(c->name);
    free(c->unit);
    free(c->null_text);
    free(c->format);
    free(c->i);
    free(c->d);
    if (c->s)
        for (long r = 0; r < nrows; r++) free(c->s[r]);
    free(c->s);
    free(c->isnull);
}

void mx_table_free(mx_table *t) {
    if (!t) return;
    for (int c = 0; c < t->ncols; c++) column_free(&t->cols[c], t->nrows);
    free(t->cols);
    for (int k = 0; k < t->nkeys; k++) {
        free(t->keys[k].key);
        free(t->keys[k].value);
    }
    free(t->keys);
    for (int k = 0; k < t->ncomments; k++) free(t->comments[k]);
    free(t->comments);
    free(t);
}

/* Grow one column's arrays to `cap` rows. */
static int column_grow(mx_column *c, long cap) {
    size_t n = (size_t)cap;
    unsigned char *nu = realloc(c->isnull, n);
    if (!nu) return -1;
    c->isnull = nu;
    if (c->type == MX_COL_INT) {
        int64_t *p = realloc(c->i, n * sizeof *p);
        if (!p) return -1;
        c->i = p;
    } else if (c->type == MX_COL_DOUBLE) {
        double *p = realloc(c->d, n * sizeof *p);
        if (!p) return -1;
        c->d = p;
    } else {
        char **p = realloc(c->s, n * sizeof *p);
        if (!p) return -1;
        c->s = p;
    }
    return 0;
}

static int ensure_cap(mx_table *t, long need) {
    if (need <= t->caprows) return MX_OK;
    long cap = t->caprows ? t->caprows : 16;
    while (cap < need) cap = cap > (1L << 40) ? need : cap * 2;
    /* A failure leaves some columns larger than caprows: harmless. */
    for (int c = 0; c < t->ncols; c++)
        if (column_grow(&t->cols[c], cap))
            return mx_seterr(MX_ERR_NOMEM, "table of %ld rows", need);
    t->caprows = cap;
    return MX_OK;
}

static void cell_make_null(mx_column *c, long r) {
    c->isnull[r] = 1;
    if (c->type == MX_COL_INT) c->i[r] = 0;
    else if (c->type == MX_COL_DOUBLE) c->d[r] = NAN;
    else {
        free(c->s[r]);
        c->s[r] = NULL;
    }
}

int mx_table_set_nrows(mx_table *t, long n) {
    if (!t || n < 0) return mx_seterr(MX_ERR_PARAM, "table: invalid row count %ld", n);
    if (n > t->nrows) {
        int st = ensure_cap(t, n);
        if (st) return st;
        for (int c = 0; c < t->ncols; c++) {
            mx_column *col = &t->cols[c];
            memset(col->isnull + t->nrows, 1, (size_t)(n - t->nrows));
            for (long r = t->nrows; r < n; r++) {
                if (col->type == MX_COL_INT) col->i[r] = 0;
                else if (col->type == MX_COL_DOUBLE) col->d[r] = NAN;
                else col->s[r] = NULL;
            }
        }
    } else {
        for (int c = 0; c < t->ncols; c++)
            if (t->cols[c].type == MX_COL_STRING)
                for (long r = n; r < t->nrows; r++) {
                    free(t->cols[c].s[r]);
                    t->cols[c].s[r] = NULL;
                }
    }
    t->nrows = n;
    return MX_OK;
}

int mx_table_append_row(mx_table *t, long *row) {
    if (!t) return mx_seterr(MX_ERR_PARAM, "table: NULL");
    int st = mx_table_set_nrows(t, t->nrows + 1);
    if (st == MX_OK && row) *row = t->nrows - 1;
    return st;
}

/* ---- columns ------------------------------------------------------------ */

int mx_table_find_column(const mx_table *t, const char *name) {
    if (!t || !name) return -1;
    for (int c = 0; c < t->ncols; c++)
        if (strcasecmp(t->cols[c].name, name) == 0) return c;
    return -1;
}

int mx_table_add_column(mx_table *t, const char *name, mx_coltype type, const char *unit,
                        int *index) {
    if (!t || !name) return mx_seterr(MX_ERR_PARAM, "table column: NULL name");
    size_t nl = strlen(name);
    if (nl == 0 || is_blank(name[0]) || is_blank(name[nl - 1]) || has_control_or_bar(name, 0))
        return mx_seterr(MX_ERR_PARAM,
                         "table column name '%s' is empty, has surrounding blanks, a control "
                         "character or '|'", name);
    if (type != MX_COL_INT && type != MX_COL_DOUBLE && type != MX_COL_STRING)
        return mx_seterr(MX_ERR_PARAM, "table column '%s': unknown type %d", name, (int)type);
    if (unit && has_control_or_bar(unit, 0))
        return mx_seterr(MX_ERR_PARAM, "table column '%s': unit '%s' has '|' or a control character",
                         name, unit);
    if (mx_table_find_column(t, name) >= 0)
        return mx_seterr(MX_ERR_PARAM, "table column '%s' already exists", name);

    mx_column *cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *cols);
    if (!cols) return mx_seterr(MX_ERR_NOMEM, "table column '%s'", name);
    t->cols = cols;
    mx_column *c = &cols[t->ncols];
    memset(c, 0, sizeof *c);
    c->type = type;
    c->name = xstrdup(name);
    c->unit = (unit && *unit) ? xstrdup(unit) : NULL;
    c->null_text = xstrdup(NULL_DEFAULT);
    int bad = !c->name || (unit && *unit && !c->unit) || !c->null_text;
    if (!bad && t->caprows > 0) bad = column_grow(c, t->caprows);
    if (bad) {
        column_free(c, 0);
        return mx_seterr(MX_ERR_NOMEM, "table column '%s'", name);
    }
    for (long r = 0; r < t->nrows; r++) {
        c->isnull[r] = 1;
        if (type == MX_COL_INT) c->i[r] = 0;
        else if (type == MX_COL_DOUBLE) c->d[r] = NAN;
        else c->s[r] = NULL;
    }
    if (index) *index = t->ncols;
    t->ncols++;
    return MX_OK;
}

/* ---- cells -------------------------------------------------------------- */

static int check_cell(const mx_table *t, int col, long row) {
    if (!t) return mx_seterr(MX_ERR_PARAM, "table: NULL");
    if (col < 0 || col >= t->ncols)
        return mx_seterr(MX_ERR_PARAM, "table column index %d out of range (%d columns)", col,
                         t->ncols);
    if (row < 0 || row >= t->nrows)
        return mx_seterr(MX_ERR_PARAM, "table row %ld out of range (%ld rows) in column '%s'", row,
                         t->nrows, t->cols[col].name);
    return MX_OK;
}

static const char *type_word(mx_coltype t) {
    return t == MX_COL_INT ? "int" : t == MX_COL_DOUBLE ? "double" : "char";
}

static int set_string_cell(mx_column *c, long row, const char *v) {
    char *s = xstrdup(v);
    if (!s) return mx_seterr(MX_ERR_NOMEM, "table cell in column '%s'", c->name);
    free(c->s[row]);
    c->s[row] = s;
    c->isnull[row] = 0;
    return MX_OK;
}

static int double_to_int(const mx_column *c, double v, int64_t *out) {
    if (!isfinite(v) || fabs(v) >= 9.2e18)
        return mx_seterr(MX_ERR_FORMAT, "column '%s': %g does not fit an integer", c->name, v);
    *out = (int64_t)llround(v);
    return MX_OK;
}

int mx_table_set_int(mx_table *t, int col, long row, int64_t v) {
    int st = check_cell(t, col, row);
    if (st) return st;
    mx_column *c = &t->cols[col];
    if (c->type == MX_COL_INT) c->i[row] = v;
    else if (c->type == MX_COL_DOUBLE) c->d[row] = (double)v;
    else {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRId64, v);
        return set_string_cell(c, row, buf);
    }
    c->isnull[row] = 0;
    return MX_OK;
}

int mx_table_set_double(mx_table *t, int col, long row, double v) {
    int st = check_cell(t, col, row);
    if (st) return st;
    mx_column *c = &t->cols[col];
    if (c->type == MX_COL_DOUBLE) {
        c->d[row] = v;
    } else if (c->type == MX_COL_INT) {
        /* NaN is "no value": the natural integer counterpart is null. */
        if (isnan(v)) {
            cell_make_null(c, row);
            return MX_OK;
        }
        int64_t iv = 0;
        if ((st = double_to_int(c, v, &iv)) != MX_OK) return mx_preferr(st, "row %ld", row);
        c->i[row] = iv;
    } else {
        char buf[64];
        fmt_double_rt(v, buf, sizeof buf);
        return set_string_cell(c, row, buf);
    }
    c->isnull[row] = 0;
    return MX_OK;
}

int mx_table_set_string(mx_table *t, int col, long row, const char *v) {
    int st = check_cell(t, col, row);
    if (st) return st;
    mx_column *c = &t->cols[col];
    if (!v) {
        cell_make_null(c, row);
        return MX_OK;
    }
    if (c->type == MX_COL_STRING) {
        for (const char *p = v; *p; p++)
            if (*p == '\n' || *p == '\r')
                return mx_seterr(MX_ERR_PARAM, "column '%s' row %ld: string holds a line break",
                                 c->name, row);
        return set_string_cell(c, row, v);
    }
    if (c->type == MX_COL_INT) {
        int64_t iv;
        if (parse_int_span(v, strlen(v), &iv))
            return mx_seterr(MX_ERR_FORMAT, "column '%s' (int) row %ld: '%s' is not an integer",
                             c->name, row, v);
        c->i[row] = iv;
    } else {
        double dv;
        if (parse_double_span(v, strlen(v), &dv))
            return mx_seterr(MX_ERR_FORMAT, "column '%s' (double) row %ld: '%s' is not a number",
                             c->name, row, v);
        c->d[row] = dv;
    }
    c->isnull[row] = 0;
    return MX_OK;
}

int mx_table_set_null(mx_table *t, int col, long row) {
    int st = check_cell(t, col, row);
    if (st) return st;
    cell_make_null(&t->cols[col], row);
    return MX_OK;
}

int mx_table_is_null(const mx_table *t, int col, long row) {
    if (check_cell(t, col, row)) return -1;
    return t->cols[col].isnull[row] ? 1 : 0;
}

int mx_table_get_int(const mx_table *t, int col, long row, int64_t *v) {
    int st = check_cell(t, col, row);
    if (st) return st;
    const mx_column *c = &t->cols[col];
    if (c->isnull[row])
        return mx_seterr(MX_ERR_NOTFOUND, "column '%s' row %ld is null", c->name, row);
    int64_t out = 0;
    if (c->type == MX_COL_INT) {
        out = c->i[row];
    } else if (c->type == MX_COL_DOUBLE) {
        if ((st = double_to_int(c, c->d[row], &out)) != MX_OK) return mx_preferr(st, "row %ld", row);
    } else if (parse_int_span(c->s[row], strlen(c->s[row]), &out)) {
        return mx_seterr(MX_ERR_FORMAT, "column '%s' row %ld: '%s' is not an integer", c->name, row,
                         c->s[row]);
    }
    if (v) *v = out;
    return MX_OK;
}

int mx_table_get_double(const mx_table *t, int col, long row, double *v) {
    int st = check_cell(t, col, row);
    if (st) return st;
    const mx_column *c = &t->cols[col];
    if (c->isnull[row])
        return mx_seterr(MX_ERR_NOTFOUND, "column '%s' row %ld is null", c->name, row);
    double out;
    if (c->type == MX_COL_DOUBLE) out = c->d[row];
    else if (c->type == MX_COL_INT) out = (double)c->i[row];
    else if (parse_double_span(c->s[row], strlen(c->s[row]), &out))
        return mx_seterr(MX_ERR_FORMAT, "column '%s' row %ld: '%s' is not a number", c->name, row,
                         c->s[row]);
    if (v) *v = out;
    return MX_OK;
}

const char *mx_table_get_string(const mx_table *t, int col, long row, char *buf, size_t bufsize) {
    if (check_cell(t, col, row)) return NULL;
    const mx_column *c = &t->cols[col];
    if (c->isnull[row]) return NULL;
    if (c->type == MX_COL_STRING) return c->s[row];
    if (!buf || bufsize == 0) {
        mx_seterr(MX_ERR_PARAM, "column '%s': no buffer to format a number into", c->name);
        return NULL;
    }
    if (c->type == MX_COL_INT) snprintf(buf, bufsize, "%" PRId64, c->i[row]);
    else fmt_double_col(c, c->d[row], buf, bufsize);
    return buf;
}

/* ---- keywords and comments ---------------------------------------------- */

static int valid_key(const char *key) {
    if (!key || !*key) return 0;
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == '=' || *p == 0x7f) return 0;
    return 1;
}

static int append_keyword(mx_table *t, const char *key, size_t keylen, const char *value,
                          size_t vallen, char type) {
    mx_table_keyword *k = realloc(t->keys, (size_t)(t->nkeys + 1) * sizeof *k);
    if (!k) return mx_seterr(MX_ERR_NOMEM, "table keyword");
    t->keys = k;
    char *kk = xstrndup(key, keylen), *vv = xstrndup(value, vallen);
    if (!kk || !vv) {
        free(kk);
        free(vv);
        return mx_seterr(MX_ERR_NOMEM, "table keyword");
    }
    k[t->nkeys].key = kk;
    k[t->nkeys].value = vv;
    k[t->nkeys].type = type;
    t->nkeys++;
    return MX_OK;
}

int mx_table_set_keyword(mx_table *t, const char *key, const char *value, char type) {
    if (!t) return mx_seterr(MX_ERR_PARAM, "table: NULL");
    if (!valid_key(key))
        return mx_seterr(MX_ERR_PARAM, "table keyword name '%s' is empty or holds blanks or '='",
                         key ? key : "(null)");
    if (type != 'c' && type != 'i' && type != 'r')
        return mx_seterr(MX_ERR_PARAM, "table keyword '%s': type '%c' is not 'c', 'i' or 'r'", key,
                         type);
    if (!value) value = "";
    if (has_control_or_bar(value, 1))
        return mx_seterr(MX_ERR_PARAM, "table keyword '%s': value holds a control character", key);
    for (int k = 0; k < t->nkeys; k++)
        if (strcasecmp(t->keys[k].key, key) == 0) {
            char *v = xstrdup(value);
            if (!v) return mx_seterr(MX_ERR_NOMEM, "table keyword '%s'", key);
            free(t->keys[k].value);
            t->keys[k].value = v;
            t->keys[k].type = type;
            return MX_OK;
        }
    return append_keyword(t, key, strlen(key), value, strlen(value), type);
}

int mx_table_set_keyword_double(mx_table *t, const char *key, double value) {
    char buf[64];
    fmt_double_rt(value, buf, sizeof buf);
    return mx_table_set_keyword(t, key, buf, 'r');
}

int mx_table_set_keyword_long(mx_table *t, const char *key, long value) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", value);
    return mx_table_set_keyword(t, key, buf, 'i');
}

const char *mx_table_get_keyword(const mx_table *t, const char *key) {
    if (!t || !key) return NULL;
    for (int k = 0; k < t->nkeys; k++)
        if (strcasecmp(t->keys[k].key, key) == 0) return t->keys[k].value;
    return NULL;
}

int mx_table_get_keyword_double(const mx_table *t, const char *key, double *v) {
    const char *s = mx_table_get_keyword(t, key);
    if (!s) return mx_seterr(MX_ERR_NOTFOUND, "table keyword '%s' not found", key ? key : "(null)");
    double d;
    if (parse_double_span(s, strlen(s), &d))
        return mx_seterr(MX_ERR_FORMAT, "table keyword '%s' = '%s' is not a number", key, s);
    if (v) *v = d;
    return MX_OK;
}

int mx_table_get_keyword_long(const mx_table *t, const char *key, long *v) {
    const char *s = mx_table_get_keyword(t, key);
    if (!s) return mx_seterr(MX_ERR_NOTFOUND, "table keyword '%s' not found", key ? key : "(null)");
    int64_t i;
    if (parse_int_span(s, strlen(s), &i) || i < (int64_t)LONG_MIN || i > (int64_t)LONG_MAX)
        return mx_seterr(MX_ERR_FORMAT, "table keyword '%s' = '%s' is not an integer", key, s);
    if (v) *v = (long)i;
    return MX_OK;
}

static int append_comment(mx_table *t, const char *text, size_t n) {
    char **c = realloc(t->comments, (size_t)(t->ncomments + 1) * sizeof *c);
    if (!c) return mx_seterr(MX_ERR_NOMEM, "table comment");
    t->comments = c;
    if (!(c[t->ncomments] = xstrndup(text, n))) return mx_seterr(MX_ERR_NOMEM, "table comment");
    t->ncomments++;
    return MX_OK;
}

int mx_table_add_comment(mx_table *t, const char *text) {
    if (!t) return mx_seterr(MX_ERR_PARAM, "table: NULL");
    if (!text) text = "";
    if (has_control_or_bar(text, 1))
        return mx_seterr(MX_ERR_PARAM, "table comment holds a control character or line break");
    return append_comment(t, text, strlen(text));
}

/* ---- IPAC reading ------------------------------------------------------- */

typedef struct {
    const char *src;
    const char *text;
    size_t len, pos;
    long lineno;
} line_reader;

/* Next line: start and length without the newline and trailing blanks
 * (CRLF included). Returns 0 at the end. */
static int next_line(line_reader *lr, const char **line, size_t *n) {
    if (lr->pos >= lr->len) return 0;
    const char *s = lr->text + lr->pos;
    const char *nl = memchr(s, '\n', lr->len - lr->pos);
    size_t l = nl ? (size_t)(nl - s) : lr->len - lr->pos;
    lr->pos += l + (nl ? 1 : 0);
    lr->lineno++;
    while (l && is_blank(s[l - 1])) l--;
    *line = s;
    *n = l;
    return 1;
}

static int type_from_word(const char *w, size_t n, mx_coltype *out) {
    static const struct { const char *name; mx_coltype t; } exact[] = {
        {"i", MX_COL_INT},       {"int", MX_COL_INT},      {"integer", MX_COL_INT},
        {"long", MX_COL_INT},    {"r", MX_COL_DOUBLE},     {"real", MX_COL_DOUBLE},
        {"float", MX_COL_DOUBLE}, {"f", MX_COL_DOUBLE},    {"d", MX_COL_DOUBLE},
        {"double", MX_COL_DOUBLE}, {"c", MX_COL_STRING},   {"char", MX_COL_STRING},
        {"s", MX_COL_STRING},    {"string", MX_COL_STRING}, {"date", MX_COL_STRING},
    };
    for (size_t k = 0; k < sizeof exact / sizeof exact[0]; k++)
        if (strlen(exact[k].name) == n && strncasecmp(exact[k].name, w, n) == 0) {
            *out = exact[k].t;
            return 0;
        }
    /* IPAC allows abbreviations ("dou", "ch"), matched in the order astropy uses. */
    static const struct { const char *name; mx_coltype t; } pref[] = {
        {"integer", MX_COL_INT}, {"long", MX_COL_INT},     {"double", MX_COL_DOUBLE},
        {"float", MX_COL_DOUBLE}, {"real", MX_COL_DOUBLE}, {"char", MX_COL_STRING},
        {"date", MX_COL_STRING},
    };
    for (size_t k = 0; k < sizeof pref / sizeof pref[0]; k++)
        if (n > 0 && n <= strlen(pref[k].name) && strncasecmp(pref[k].name, w, n) == 0) {
            *out = pref[k].t;
            return 0;
        }
    return -1;
}

static char keyword_type_from_word(const char *w, size_t n) {
    mx_coltype t;
    if (type_from_word(w, n, &t)) return 0;
    return t == MX_COL_INT ? 'i' : t == MX_COL_DOUBLE ? 'r' : 'c';
}

/* A "\..." line: comment ("\ text") or keyword ("\type KEY = value" or
 * "\KEY = value"). `s` points just after the backslash. */
static int parse_backslash_line(mx_table *t, const char *s, size_t n) {
    if (n == 0 || is_blank(s[0])) {
        trim_span(&s, &n);
        return append_comment(t, s, n);
    }
    const char *eq = memchr(s, '=', n);
    if (!eq) return append_comment(t, s, n);
    const char *left = s;
    size_t ln = (size_t)(eq - s);
    trim_span(&left, &ln);
    const char *val = eq + 1;
    size_t vn = n - (size_t)(val - s);
    trim_span(&val, &vn);
    if (vn >= 2 && (val[0] == '\'' || val[0] == '"') && val[vn - 1] == val[0]) {
        val++;
        vn -= 2;
    }
    char type = 0;
    size_t w = 0;
    while (w < ln && !is_blank(left[w])) w++;
    if (w < ln) {
        char ty = keyword_type_from_word(left, w);
        if (ty) {
            type = ty;
            left += w;
            ln -= w;
            trim_span(&left, &ln);
        }
    }
    if (ln == 0) return append_comment(t, s, n);
    if (!type) {
        /* Untyped IPAC keyword: the type is informational; guess it. */
        int64_t iv;
        double dv;
        type = parse_int_span(val, vn, &iv) == 0 ? 'i' : parse_double_span(val, vn, &dv) == 0 ? 'r' : 'c';
    }
    return append_keyword(t, left, ln, val, vn, type);
}

/* Fields of a '|' line. `lead` tells whether the line starts with '|'
 * (after blanks). Positions are offsets in the line. */
typedef struct {
    size_t start, end;  /* column span for fixed-width rows: [start, end) */
    size_t fs, fn;      /* trimmed field text */
} field;

static int split_bar_line(const char *line, size_t n, field **out, int *nout) {
    size_t p = 0;
    while (p < n && is_blank(line[p])) p++;
    int lead = p < n && line[p] == '|';
    int cap = 8, k = 0;
    field *f = malloc((size_t)cap * sizeof *f);
    if (!f) return -1;
    size_t start = lead ? p + 1 : 0;
    for (size_t i = start;; i++) {
        if (i == n || line[i] == '|') {
            const char *fs = line + start;
            size_t fn = i - start;
            trim_span(&fs, &fn);
            /* A blank remainder after the last '|' is no field. */
            if (!(i == n && fn == 0 && start > 0)) {
                if (k == cap) {
                    cap *= 2;
                    field *g = realloc(f, (size_t)cap * sizeof *g);
                    if (!g) {
                        free(f);
                        return -1;
                    }
                    f = g;
                }
                f[k].start = start;
                f[k].end = (i == n) ? (size_t)-1 : i;
                f[k].fs = (size_t)(fs - line);
                f[k].fn = fn;
                k++;
            }
            if (i == n) break;
            start = i + 1;
        }
    }
    *out = f;
    *nout = k;
    return 0;
}

/* Strip the '-' fill some writers put around names and types. */
static void strip_dashes(const char *line, field *f) {
    while (f->fn && line[f->fs] == '-') f->fs++, f->fn--;
    while (f->fn && line[f->fs + f->fn - 1] == '-') f->fn--;
    const char *s = line + f->fs;
    size_t n = f->fn;
    trim_span(&s, &n);
    f->fs = (size_t)(s - line);
    f->fn = n;
}

typedef struct {
    const char *s;
    size_t n;
} cell;

typedef struct {
    int ncols;
    field *spans;        /* from the name line */
    mx_coltype *types;
    char **nulls;        /* from the null line, or NULL */
    int have_nulls;
} layout;

/* Split one data row into cells. Fixed width by the name line's bars when
 * every non-blank character falls inside a column and numeric cells hold
 * one token; otherwise whitespace tokens, exactly one per column. */
static int split_row(const layout *L, const char *line, size_t n, cell *cells, int *ntok) {
    int ok = 1;
    size_t pos = 0;
    for (int c = 0; c < L->ncols && ok; c++) {
        size_t s = L->spans[c].start, e = L->spans[c].end;
        for (; pos < s && pos < n; pos++)
            if (!is_blank(line[pos])) ok = 0;
        if (!ok) break;
        const char *cs = line + (s < n ? s : n);
        size_t cn = (s < n) ? ((e < n ? e : n) - s) : 0;
        trim_span(&cs, &cn);
        if (L->types[c] != MX_COL_STRING)
            for (size_t i = 0; i < cn; i++)
                if (is_blank(cs[i])) ok = 0;
        cells[c].s = cs;
        cells[c].n = cn;
        pos = e;
    }
    for (; ok && pos < n; pos++)
        if (!is_blank(line[pos])) ok = 0;
    if (ok) return 0;

    int k = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_blank(line[i])) i++;
        if (i == n) break;
        size_t b = i;
        while (i < n && !is_blank(line[i])) i++;
        if (k < L->ncols) {
            cells[k].s = line + b;
            cells[k].n = i - b;
        }
        k++;
    }
    *ntok = k;
    return k == L->ncols ? 0 : -1;
}

static int cell_is_null(const layout *L, int c, const cell *v) {
    if (L->have_nulls && span_eq(v->s, v->n, L->nulls[c])) return 1;
    if (L->types[c] == MX_COL_STRING) return !L->have_nulls && span_eq(v->s, v->n, NULL_DEFAULT);
    return v->n == 0 || span_eq(v->s, v->n, NULL_DEFAULT);
}

/* Walk the data rows from `lr`. With `t` NULL only infer the types of
 * columns (can_int/can_dbl); otherwise store the rows in t. */
static int read_rows(line_reader lr, const layout *L, mx_table *t, unsigned char *can_int,
                     unsigned char *can_dbl) {
    int status = MX_OK;
    cell *cells = malloc((size_t)(L->ncols ? L->ncols : 1) * sizeof *cells);
    if (!cells) return mx_seterr(MX_ERR_NOMEM, "reading '%s'", lr.src);
    const char *line;
    size_t n;
    while (next_line(&lr, &line, &n)) {
        size_t p = 0;
        while (p < n && is_blank(line[p])) p++;
        if (p == n) continue;
        if (line[p] == '\\') {
            if (t && (status = parse_backslash_line(t, line + p + 1, n - p - 1)) != MX_OK) break;
            continue;
        }
        if (line[p] == '|') {
            status = mx_seterr(MX_ERR_FORMAT,
                               "'%s' line %ld: a '|' header line among the data rows "
                               "(IPAC allows at most four header lines)", lr.src, lr.lineno);
            break;
        }
        int ntok = 0;
        if (split_row(L, line, n, cells, &ntok)) {
            status = mx_seterr(MX_ERR_FORMAT,
                               "'%s' line %ld: %d values for %d columns (and the row is not "
                               "aligned with the '|' of the name line)", lr.src, lr.lineno, ntok,
                               L->ncols);
            break;
        }
        if (!t) {
            for (int c = 0; c < L->ncols; c++) {
                if (cell_is_null(L, c, &cells[c]) || cells[c].n == 0) continue;
                int64_t iv;
                double dv;
                if (can_int[c] && parse_int_span(cells[c].s, cells[c].n, &iv)) can_int[c] = 0;
                if (can_dbl[c] && parse_double_span(cells[c].s, cells[c].n, &dv)) can_dbl[c] = 0;
            }
            continue;
        }
        long r;
        if ((status = mx_table_append_row(t, &r)) != MX_OK) break;
        for (int c = 0; c < L->ncols && status == MX_OK; c++) {
            mx_column *col = &t->cols[c];
            const cell *v = &cells[c];
            if (cell_is_null(L, c, v)) continue; /* append_row made it null */
            if (col->type == MX_COL_STRING) {
                if (!(col->s[r] = xstrndup(v->s, v->n)))
                    status = mx_seterr(MX_ERR_NOMEM, "reading '%s'", lr.src);
                col->isnull[r] = 0;
            } else if (col->type == MX_COL_INT) {
                if (parse_int_span(v->s, v->n, &col->i[r]))
                    status = mx_seterr(MX_ERR_FORMAT, "'%s' line %ld: column '%s' (int): '%.*s' is "
                                       "not an integer", lr.src, lr.lineno, col->name,
                                       (int)v->n, v->s);
                col->isnull[r] = 0;
            } else {
                if (parse_double_span(v->s, v->n, &col->d[r]))
                    status = mx_seterr(MX_ERR_FORMAT, "'%s' line %ld: column '%s' (double): '%.*s' "
                                       "is not a number", lr.src, lr.lineno, col->name,
                                       (int)v->n, v->s);
                col->isnull[r] = 0;
            }
        }
        if (status) break;
    }
    free(cells);
    return status;
}

int mx_table_parse_ipac(const char *text, size_t len, const char *source, mx_table **out) {
    if (!out) return mx_seterr(MX_ERR_PARAM, "mx_table_parse_ipac: NULL output");
    *out = NULL;
    if (!text && len) return mx_seterr(MX_ERR_PARAM, "mx_table_parse_ipac: NULL text");
    const char *src = source ? source : "(text)";
    int status = MX_OK;
    field *bars[4] = {NULL, NULL, NULL, NULL};
    int nbars[4] = {0, 0, 0, 0}, nlines = 0;
    long barline[4] = {0, 0, 0, 0};
    const char *barsrc[4] = {NULL, NULL, NULL, NULL};
    layout L = {0};
    unsigned char *can_int = NULL, *can_dbl = NULL;
    mx_table *t = mx_table_new();
    if (!t) return MX_ERR_NOMEM;

    line_reader lr = {src, text, len, 0, 0};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) lr.pos = 3; /* UTF-8 BOM */
    line_reader data_start = lr;
    const char *line;
    size_t n;
    /* Header: keywords and comments, then up to four '|' lines. */
    for (;;) {
        line_reader before = lr;
        if (!next_line(&lr, &line, &n)) {
            data_start = lr;
            break;
        }
        size_t p = 0;
        while (p < n && is_blank(line[p])) p++;
        if (p == n) continue;
        if (line[p] == '\\' && nlines == 0) {
            if ((status = parse_backslash_line(t, line + p + 1, n - p - 1)) != MX_OK) goto exit;
            continue;
        }
        int is_bar = line[p] == '|' || (nlines == 0 && memchr(line, '|', n));
        if (!is_bar || nlines == 4) {
            if (nlines == 0) {
                status = mx_seterr(MX_ERR_FORMAT,
                                   "'%s' line %ld: expected a '|' line of column names, found '%.*s'",
                                   src, lr.lineno, (int)(n > 60 ? 60 : n), line);
                goto exit;
            }
            data_start = before;
            break;
        }
        if (split_bar_line(line, n, &bars[nlines], &nbars[nlines])) {
            status = mx_seterr(MX_ERR_NOMEM, "reading '%s'", src);
            goto exit;
        }
        barline[nlines] = lr.lineno;
        barsrc[nlines] = line;
        nlines++;
    }
    if (nlines == 0) goto done; /* keywords only, like FIF.tbl */

    L.ncols = nbars[0];
    L.spans = bars[0];
    if (L.ncols == 0) {
        status = mx_seterr(MX_ERR_FORMAT, "'%s' line %ld: a '|' line without column names", src,
                           barline[0]);
        goto exit;
    }
    for (int c = 0; c < L.ncols; c++) {
        strip_dashes(barsrc[0], &L.spans[c]);
        if (L.spans[c].fn == 0) {
            status = mx_seterr(MX_ERR_FORMAT, "'%s' line %ld: column %d has no name", src,
                               barline[0], c + 1);
            goto exit;
        }
    }
    for (int k = 1; k < nlines; k++)
        if (nbars[k] != L.ncols) {
            static const char *what[] = {"names", "types", "units", "nulls"};
            status = mx_seterr(MX_ERR_FORMAT, "'%s' line %ld: %d %s for %d columns", src, barline[k],
                               nbars[k], what[k], L.ncols);
            goto exit;
        }
    L.types = calloc((size_t)L.ncols, sizeof *L.types);
    L.nulls = calloc((size_t)L.ncols, sizeof *L.nulls);
    if (!L.types || !L.nulls) {
        status = mx_seterr(MX_ERR_NOMEM, "reading '%s'", src);
        goto exit;
    }
    if (nlines >= 2) {
        for (int c = 0; c < L.ncols; c++) {
            field *f = &bars[1][c];
            strip_dashes(barsrc[1], f);
            if (type_from_word(barsrc[1] + f->fs, f->fn, &L.types[c])) {
                status = mx_seterr(MX_ERR_FORMAT, "'%s' line %ld: column '%.*s': unknown type '%.*s'",
                                   src, barline[1], (int)L.spans[c].fn, barsrc[0] + L.spans[c].fs,
                                   (int)f->fn, barsrc[1] + f->fs);
                goto exit;
            }
        }
    } else {
        /* No type line: int if every value is an integer, else double if
         * every value is a number, else char. */
        can_int = malloc((size_t)L.ncols);
        can_dbl = malloc((size_t)L.ncols);
        if (!can_int || !can_dbl) {
            status = mx_seterr(MX_ERR_NOMEM, "reading '%s'", src);
            goto exit;
        }
        memset(can_int, 1, (size_t)L.ncols);
        memset(can_dbl, 1, (size_t)L.ncols);
        for (int c = 0; c < L.ncols; c++) L.types[c] = MX_COL_STRING; /* one token not required */
        if ((status = read_rows(data_start, &L, NULL, can_int, can_dbl)) != MX_OK) goto exit;
        for (int c = 0; c < L.ncols; c++)
            L.types[c] = can_int[c] ? MX_COL_INT : can_dbl[c] ? MX_COL_DOUBLE : MX_COL_STRING;
    }
    if (nlines >= 4) {
        L.have_nulls = 1;
        for (int c = 0; c < L.ncols; c++) {
            field *f = &bars[3][c];
            if (!(L.nulls[c] = xstrndup(barsrc[3] + f->fs, f->fn))) {
                status = mx_seterr(MX_ERR_NOMEM, "reading '%s'", src);
                goto exit;
            }
        }
    }
    for (int c = 0; c < L.ncols; c++) {
        char *name = xstrndup(barsrc[0] + L.spans[c].fs, L.spans[c].fn);
        char *unit = (nlines >= 3 && bars[2][c].fn) ? xstrndup(barsrc[2] + bars[2][c].fs, bars[2][c].fn)
                                                    : NULL;
        if (!name || (nlines >= 3 && bars[2][c].fn && !unit)) {
            free(name);
            free(unit);
            status = mx_seterr(MX_ERR_NOMEM, "reading '%s'", src);
            goto exit;
        }
        status = mx_table_add_column(t, name, L.types[c], unit, NULL);
        free(name);
        free(unit);
        if (status) {
            status = mx_preferr(MX_ERR_FORMAT, "'%s' line %ld", src, barline[0]);
            goto exit;
        }
        if (L.have_nulls) {
            char *nt = xstrdup(L.nulls[c]);
            if (!nt) {
                status = mx_seterr(MX_ERR_NOMEM, "reading '%s'", src);
                goto exit;
            }
            free(t->cols[c].null_text);
            t->cols[c].null_text = nt;
        }
    }
    if ((status = read_rows(data_start, &L, t, NULL, NULL)) != MX_OK) goto exit;
done:
    *out = t;
    t = NULL;
exit:
    for (int k = 0; k < 4; k++) free(bars[k]);
    if (L.nulls)
        for (int c = 0; c < L.ncols; c++) free(L.nulls[c]);
    free(L.nulls);
    free(L.types);
    free(can_int);
    free(can_dbl);
    mx_table_free(t);
    return status;
}

int mx_table_read_ipac(const char *path, mx_table **out) {
    if (!out || !path) return mx_seterr(MX_ERR_PARAM, "mx_table_read_ipac: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return mx_seterr(MX_ERR_IO, "cannot open table '%s': %s", path, strerror(errno));
    int status = MX_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 262144;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                status = mx_seterr(MX_ERR_NOMEM, "reading table '%s'", path);
                goto exit;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        status = mx_seterr(MX_ERR_IO, "reading table '%s': %s", path, strerror(errno));
        goto exit;
    }
    {
        /* A file with nothing but blanks is no table (a FIF has at least keywords). */
        size_t k = 0;
        while (k < len && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' || buf[k] == '\n')) k++;
        if (k == len) {
            status = mx_seterr(MX_ERR_FORMAT, "table '%s' is empty", path);
            goto exit;
        }
    }
    status = mx_table_parse_ipac(buf, len, path, out);
exit:
    fclose(f);
    free(buf);
    return status;
}

/* ---- IPAC writing ------------------------------------------------------- */

static int table_has_nulls(const mx_table *t) {
    for (int c = 0; c < t->ncols; c++)
        if (t->nrows > 0 && memchr(t->cols[c].isnull, 1, (size_t)t->nrows)) return 1;
    return 0;
}

static const char *col_type_word(const mx_column *c, long nrows) {
    if (c->type != MX_COL_INT) return type_word(c->type);
    /* IPAC "int" is 32-bit for IRSA's database tools: say "long" when needed. */
    for (long r = 0; r < nrows; r++)
        if (!c->isnull[r] && (c->i[r] > INT32_MAX || c->i[r] < INT32_MIN)) return "long";
    return "int";
}

static void put_field(sbuf *b, const char *s, size_t w, int left) {
    size_t n = strlen(s);
    if (left) {
        sb_add(b, s, n);
        sb_pad(b, ' ', w - n);
    } else {
        sb_pad(b, ' ', w - n);
        sb_add(b, s, n);
    }
}

/* Cells are formatted in chunks of rows, in parallel: printf of doubles
 * costs about a microsecond, which dominates writing big tables. Each chunk
 * owns its text buffer and widths, so the output does not depend on the
 * thread count. */
#define FMT_CHUNK 4096L

typedef struct {
    sbuf cells;   /* NUL-separated cell texts of this chunk */
    size_t *w;    /* widest cell per column in this chunk */
} fmt_chunk;

typedef struct {
    const mx_table *t;
    size_t *off;  /* off[c * nrows + r]: offset of the cell in its chunk's text */
    fmt_chunk *chunks;
} fmt_job;

static int format_chunk(long i, void *ctx, int thread) {
    fmt_job *j = ctx;
    const mx_table *t = j->t;
    fmt_chunk *ch = &j->chunks[i];
    long nr = t->nrows, r0 = i * FMT_CHUNK, r1 = r0 + FMT_CHUNK < nr ? r0 + FMT_CHUNK : nr;
    for (int c = 0; c < t->ncols; c++) {
        const mx_column *col = &t->cols[c];
        const char *nt = col->null_text ? col->null_text : NULL_DEFAULT;
        size_t w = 0;
        for (long r = r0; r < r1; r++) {
            char buf[512];
            const char *s;
            size_t sl;
            if (col->isnull[r]) {
                s = nt;
                sl = strlen(nt);
            } else if (col->type == MX_COL_STRING) {
                s = col->s[r] ? col->s[r] : "";
                sl = strlen(s);
            } else {
                int k = (col->type == MX_COL_INT) ? snprintf(buf, sizeof buf, "%" PRId64, col->i[r])
                                                  : fmt_double_col(col, col->d[r], buf, sizeof buf);
                s = buf;
                sl = (k < 0) ? 0 : ((size_t)k >= sizeof buf ? sizeof buf - 1 : (size_t)k);
            }
            j->off[(size_t)c * (size_t)nr + (size_t)r] = ch->cells.len;
            sb_add(&ch->cells, s, sl);
            sb_add(&ch->cells, "", 1);
            if (sl > w) w = sl;
        }
        ch->w[c] = w;
    }
    if (ch->cells.failed) return mx_seterr(MX_ERR_NOMEM, "formatting table rows %ld-%ld", r0, r1);
    return MX_OK;
}

int mx_table_format_ipac(const mx_table *t, char **text, size_t *len) {
    if (!t || !text) return mx_seterr(MX_ERR_PARAM, "mx_table_format_ipac: NULL argument");
    *text = NULL;
    if (len) *len = 0;
    int status = MX_OK;
    sbuf out = {0};
    size_t *off = NULL, *width = NULL, *chunkw = NULL;
    fmt_chunk *chunks = NULL;
    long nchunks = 0;
    const char **types = NULL;
    int nc = t->ncols;
    long nr = t->nrows;

    for (int c = 0; c < nc; c++)
        if (t->cols[c].type == MX_COL_DOUBLE && t->cols[c].format &&
            !valid_double_format(t->cols[c].format))
            return mx_seterr(MX_ERR_PARAM, "column '%s': format '%s' is not a single %%e/%%f/%%g "
                             "conversion", t->cols[c].name, t->cols[c].format);
    for (int k = 0; k < t->nkeys; k++) {
        char ty = t->keys[k].type;
        const char *tw = ty == 'i' ? "int" : ty == 'r' ? "real" : "char";
        const char *v = t->keys[k].value ? t->keys[k].value : "";
        size_t vl = strlen(v);
        /* Quote what would otherwise be trimmed or unquoted on reading. */
        int quote = vl == 0 || is_blank(v[0]) || is_blank(v[vl - 1]) ||
                    (vl >= 2 && (v[0] == '\'' || v[0] == '"') && v[vl - 1] == v[0]);
        sb_puts(&out, "\\");
        sb_puts(&out, tw);
        sb_puts(&out, " ");
        sb_puts(&out, t->keys[k].key);
        sb_puts(&out, " = ");
        if (quote) sb_puts(&out, "\"");
        sb_add(&out, v, vl);
        if (quote) sb_puts(&out, "\"");
        sb_puts(&out, "\n");
    }
    for (int k = 0; k < t->ncomments; k++) {
        sb_puts(&out, "\\ ");
        sb_puts(&out, t->comments[k]);
        sb_puts(&out, "\n");
    }
    if (nc == 0) goto done;

    /* Format every cell once, keeping offsets, so widths and rows come
     * from the same text. */
    nchunks = (nr + FMT_CHUNK - 1) / FMT_CHUNK;
    off = malloc((size_t)nc * (size_t)nr * sizeof *off + 1);
    width = calloc((size_t)nc, sizeof *width);
    types = calloc((size_t)nc, sizeof *types);
    chunks = calloc((size_t)nchunks + 1, sizeof *chunks);
    chunkw = calloc((size_t)(nchunks + 1) * (size_t)nc, sizeof *chunkw);
    if (!off || !width || !types || !chunks || !chunkw) {
        status = mx_seterr(MX_ERR_NOMEM, "formatting a table of %ld rows", nr);
        goto exit;
    }
    for (long i = 0; i < nchunks; i++) chunks[i].w = chunkw + (size_t)i * (size_t)nc;
    fmt_job job = {t, off, chunks};
    if ((status = mx_parallel_for(nchunks, format_chunk, &job)) != MX_OK) goto exit;
    int units = 0, nulls = table_has_nulls(t);
    for (int c = 0; c < nc; c++) {
        const mx_column *col = &t->cols[c];
        types[c] = col_type_word(col, nr);
        const char *nt = col->null_text ? col->null_text : NULL_DEFAULT;
        size_t w = strlen(col->name);
        if (strlen(types[c]) > w) w = strlen(types[c]);
        if (col->unit && *col->unit) {
            units = 1;
            if (strlen(col->unit) > w) w = strlen(col->unit);
        }
        if (nulls && strlen(nt) > w) w = strlen(nt);
        for (long i = 0; i < nchunks; i++)
            if (chunks[i].w[c] > w) w = chunks[i].w[c];
        width[c] = w ? w : 1;
    }
    /* Header lines: strings left-aligned like their data, numbers right. */
    for (int line = 0; line < 4; line++) {
        if ((line == 2 && !units) || (line == 3 && !nulls)) continue;
        sb_puts(&out, "|");
        for (int c = 0; c < nc; c++) {
            const mx_column *col = &t->cols[c];
            const char *s = line == 0   ? col->name
                            : line == 1 ? types[c]
                            : line == 2 ? (col->unit ? col->unit : "")
                                        : (col->null_text ? col->null_text : NULL_DEFAULT);
            put_field(&out, s, width[c], col->type == MX_COL_STRING);
            sb_puts(&out, "|");
        }
        sb_puts(&out, "\n");
    }
    for (long r = 0; r < nr; r++) {
        const char *ctext = chunks[r / FMT_CHUNK].cells.p;
        sb_puts(&out, " ");
        for (int c = 0; c < nc; c++) {
            put_field(&out, ctext + off[(size_t)c * (size_t)nr + (size_t)r], width[c],
                      t->cols[c].type == MX_COL_STRING);
            sb_puts(&out, " ");
        }
        sb_puts(&out, "\n");
    }
done:
    if (!out.p) sb_add(&out, "", 0); /* an empty table renders as empty text */
    if (out.failed) {
        status = mx_seterr(MX_ERR_NOMEM, "formatting a table of %ld rows", nr);
        goto exit;
    }
    *text = out.p;
    if (len) *len = out.len;
    out.p = NULL;
exit:
    free(out.p);
    if (chunks)
        for (long i = 0; i < nchunks; i++) free(chunks[i].cells.p);
    free(chunks);
    free(chunkw);
    free(off);
    free(width);
    free(types);
    return status;
}

int mx_table_write_ipac(const mx_table *t, const char *path) {
    if (!t || !path) return mx_seterr(MX_ERR_PARAM, "mx_table_write_ipac: NULL argument");
    char *text = NULL, *tmp = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int status = mx_table_format_ipac(t, &text, &len);
    if (status) {
        mx_preferr(status, "writing table '%s'", path);
        goto exit;
    }
    tmp = mx_temp_name_for(path);
    if (!tmp) {
        status = mx_seterr(MX_ERR_NOMEM, "writing table '%s'", path);
        goto exit;
    }
    f = fopen(tmp, "wb");
    if (!f) {
        status = mx_seterr(MX_ERR_IO, "cannot write table '%s': %s", path, strerror(errno));
        goto exit;
    }
    if (fwrite(text, 1, len, f) != len) {
        status = mx_seterr(MX_ERR_IO, "writing table '%s': %s", path, strerror(errno));
        goto exit;
    }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) {
        status = mx_seterr(MX_ERR_IO, "writing table '%s': %s", path, strerror(errno));
        goto exit;
    }
    status = mx_commit_temp(tmp, path);
exit:
    if (f) fclose(f);
    if (status && tmp) unlink(tmp);
    free(tmp);
    free(text);
    return status;
}
