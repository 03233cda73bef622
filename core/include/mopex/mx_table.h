/* mx_table.h - typed tables with units and nulls; IPAC table format I/O.
 *
 * A table has header keywords (ordered "\type KEY = value" lines, e.g. the
 * FIF.tbl has keywords and no columns), free comment lines ("\ text"), and
 * columns of one type each: MX_COL_INT (int64), MX_COL_DOUBLE, MX_COL_STRING.
 * Every cell may be null. Column lookups are case-insensitive; names may
 * contain '/' ("chi2/dof").
 *
 * IPAC format (as IRSA and astropy.io.ascii format='ipac' read it):
 *   \char comment = Output from fiducial_image_frame, mopexlua 0.1.0
 *   \int Number_PRF = 5
 *   |  srcid|          x|   name|       <- names
 *   |    int|     double|   char|       <- types
 *   |       |        pix|       |       <- units (written when any unit set)
 *   |   null|       null|   null|       <- null markers (written when any null)
 *        1       2.5000   abc          <- fixed-width rows
 * The reader also takes the unaligned variants found in the MOPEX guide
 * (name line without leading '|', whitespace-separated rows) and the type
 * aliases i, int, integer, long, r, real, float, f, d, double, c, char, s,
 * string. Keyword values keep their raw text (types are not trusted: the
 * guide tags file names as \int); numeric conversion happens on use.
 * Writing is atomic and round-trips losslessly: doubles with the shortest of
 * 15/16/17 significant digits that reads back exactly, unless a column sets a
 * format. Keywords are written in MOPEX's typed form (\char KEY = v), which
 * astropy skips silently (it reads only untyped \KEY = v keywords).
 *
 * Ownership: mx_table_free frees everything; strings passed in are copied;
 * pointers returned by getters stay valid until the table changes.
 */
#ifndef MX_TABLE_H
#define MX_TABLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MX_COL_INT = 0, MX_COL_DOUBLE = 1, MX_COL_STRING = 2 } mx_coltype;

typedef struct mx_column {
    char *name;
    mx_coltype type;
    char *unit;          /* may be NULL */
    char *null_text;     /* IPAC null marker, default "null" */
    char *format;        /* printf format for doubles ("%.6f"), NULL = %.17g */
    int64_t *i;          /* MX_COL_INT */
    double *d;           /* MX_COL_DOUBLE */
    char **s;            /* MX_COL_STRING (NULL entries are null) */
    unsigned char *isnull;
} mx_column;

typedef struct mx_table_keyword {
    char *key;
    char *value;         /* raw text, quotes removed */
    char type;           /* 'c' char, 'i' int, 'r' real (as tagged; informational) */
} mx_table_keyword;

typedef struct mx_table {
    int ncols;
    mx_column *cols;
    long nrows;
    long caprows;
    int nkeys;
    mx_table_keyword *keys;
    int ncomments;
    char **comments;
} mx_table;

mx_table *mx_table_new(void);
void mx_table_free(mx_table *t);

/* Columns. add_column returns the new index via *index (may be NULL);
 * a duplicate name (case-insensitive) is MX_ERR_PARAM. Existing rows get
 * nulls in the new column. */
int mx_table_add_column(mx_table *t, const char *name, mx_coltype type, const char *unit,
                        int *index);
int mx_table_find_column(const mx_table *t, const char *name); /* index or -1 */
/* Grow or shrink to n rows (new cells null). */
int mx_table_set_nrows(mx_table *t, long n);
/* Append one row of nulls, returning its index. */
int mx_table_append_row(mx_table *t, long *row);

/* Cells. Setting converts between numeric types; setting a string into a
 * numeric column parses it (MX_ERR_FORMAT if it does not parse). */
int mx_table_set_int(mx_table *t, int col, long row, int64_t v);
int mx_table_set_double(mx_table *t, int col, long row, double v);
int mx_table_set_string(mx_table *t, int col, long row, const char *v);
int mx_table_set_null(mx_table *t, int col, long row);
int mx_table_is_null(const mx_table *t, int col, long row);
/* Getters convert int<->double; strings are parsed for numeric getters.
 * A null cell gives MX_ERR_NOTFOUND for numeric getters (value untouched). */
int mx_table_get_int(const mx_table *t, int col, long row, int64_t *v);
int mx_table_get_double(const mx_table *t, int col, long row, double *v);
/* String view of any cell (formatted as the writer would); NULL for null. */
const char *mx_table_get_string(const mx_table *t, int col, long row, char *buf, size_t bufsize);

/* Keywords (header lines). set replaces the first with the same key
 * (case-insensitive) or appends; type 'c', 'i' or 'r'. */
int mx_table_set_keyword(mx_table *t, const char *key, const char *value, char type);
int mx_table_set_keyword_double(mx_table *t, const char *key, double value);
int mx_table_set_keyword_long(mx_table *t, const char *key, long value);
const char *mx_table_get_keyword(const mx_table *t, const char *key); /* NULL if absent */
int mx_table_get_keyword_double(const mx_table *t, const char *key, double *v);
int mx_table_get_keyword_long(const mx_table *t, const char *key, long *v);
int mx_table_add_comment(mx_table *t, const char *text);

/* IPAC I/O. The reader names the file and line number in every error. */
int mx_table_read_ipac(const char *path, mx_table **out);
int mx_table_parse_ipac(const char *text, size_t len, const char *source, mx_table **out);
int mx_table_write_ipac(const mx_table *t, const char *path);
/* Render to a malloc'ed string (caller frees). */
int mx_table_format_ipac(const mx_table *t, char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
