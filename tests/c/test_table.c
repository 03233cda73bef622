/* test_table.c - mx_table: cells, keywords, IPAC reading of the guide's
 * printed tables, lossless round trips, astropy interoperability, speed. */
#include "mxtest.h"

#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the process (all threads): the speed checks use it so that a
 * loaded test machine does not make them fail. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *fixture(const char *name) {
    static char buf[4096];
    const char *src = getenv("MOPEX_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/tests/data/tables/%s", src && *src ? src : ".", name);
    return buf;
}

/* Static buffer: copy the result before the next call. */
static const char *tmpfile_path(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", mxt_tmp_dir("test_table"), name);
    return buf;
}

static int col(const mx_table *t, const char *name) {
    int c = mx_table_find_column(t, name);
    MXT_CHECK(c >= 0, "column '%s' missing", name);
    return c;
}

static double getd(const mx_table *t, const char *name, long row) {
    double v = NAN;
    int c = mx_table_find_column(t, name);
    if (c < 0 || mx_table_get_double(t, c, row, &v) != MX_OK) return -12345.678;
    return v;
}

static long long geti(const mx_table *t, const char *name, long row) {
    int64_t v = -987654321;
    int c = mx_table_find_column(t, name);
    if (c >= 0) mx_table_get_int(t, c, row, &v);
    return (long long)v;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    if (len) *len = got;
    return b;
}

static mx_table *parse(const char *text) {
    mx_table *t = NULL;
    MXT_OK(mx_table_parse_ipac(text, strlen(text), "inline.tbl", &t));
    return t;
}

/* ---- cells, columns, keywords ------------------------------------------- */

static void test_cells(void) {
    mx_table *t = mx_table_new();
    int ci, cd, cs, cchi;
    MXT_OK(mx_table_add_column(t, "srcid", MX_COL_INT, NULL, &ci));
    MXT_OK(mx_table_add_column(t, "x", MX_COL_DOUBLE, "pix", &cd));
    MXT_OK(mx_table_set_nrows(t, 3));
    /* A column added after rows exist starts null. */
    MXT_OK(mx_table_add_column(t, "name", MX_COL_STRING, NULL, &cs));
    MXT_OK(mx_table_add_column(t, "chi2/dof", MX_COL_DOUBLE, NULL, &cchi));
    MXT_EQ_INT(cs, 2);
    MXT_EQ_INT(mx_table_is_null(t, cs, 2), 1);
    MXT_FAILS(mx_table_add_column(t, "SRCID", MX_COL_INT, NULL, NULL), MX_ERR_PARAM, "already exists");
    MXT_FAILS(mx_table_add_column(t, "a|b", MX_COL_INT, NULL, NULL), MX_ERR_PARAM, "'|'");
    MXT_FAILS(mx_table_add_column(t, "", MX_COL_INT, NULL, NULL), MX_ERR_PARAM, "empty");
    MXT_EQ_INT(mx_table_find_column(t, "CHI2/DOF"), cchi);
    MXT_EQ_INT(mx_table_find_column(t, "nope"), -1);

    /* Conversions between the types. */
    MXT_OK(mx_table_set_int(t, ci, 0, 42));
    MXT_OK(mx_table_set_double(t, ci, 1, 6.6));           /* rounds to nearest */
    MXT_OK(mx_table_set_string(t, ci, 2, " 17 "));
    MXT_EQ_INT(geti(t, "srcid", 0), 42);
    MXT_EQ_INT(geti(t, "srcid", 1), 7);
    MXT_EQ_INT(geti(t, "srcid", 2), 17);
    MXT_FAILS(mx_table_set_string(t, ci, 2, "abc"), MX_ERR_FORMAT, "not an integer");
    MXT_OK(mx_table_set_double(t, ci, 2, NAN));           /* NaN -> null */
    MXT_EQ_INT(mx_table_is_null(t, ci, 2), 1);
    int64_t iv = 5;
    MXT_FAILS(mx_table_get_int(t, ci, 2, &iv), MX_ERR_NOTFOUND, "null");
    MXT_EQ_INT(iv, 5);

    MXT_OK(mx_table_set_double(t, cd, 0, 2.5));
    MXT_OK(mx_table_set_int(t, cd, 1, -3));
    MXT_OK(mx_table_set_string(t, cd, 2, "1.5D+02"));     /* Fortran exponent */
    MXT_NEAR(getd(t, "x", 0), 2.5, 0);
    MXT_NEAR(getd(t, "x", 1), -3, 0);
    MXT_NEAR(getd(t, "X", 2), 150, 0);
    MXT_EQ_INT(geti(t, "x", 0), 3);                       /* llround(2.5) */

    MXT_OK(mx_table_set_string(t, cs, 0, "a b c"));
    MXT_OK(mx_table_set_double(t, cs, 1, 0.1));
    MXT_OK(mx_table_set_int(t, cs, 2, -9));
    char buf[64];
    MXT_EQ_STR(mx_table_get_string(t, cs, 0, buf, sizeof buf), "a b c");
    MXT_EQ_STR(mx_table_get_string(t, cs, 1, buf, sizeof buf), "0.1");
    MXT_NEAR(getd(t, "name", 2), -9, 0);
    MXT_FAILS(mx_table_set_string(t, cs, 0, "two\nlines"), MX_ERR_PARAM, "line break");
    MXT_OK(mx_table_set_null(t, cs, 0));
    MXT_TRUE(mx_table_get_string(t, cs, 0, buf, sizeof buf) == NULL);
    MXT_EQ_STR(mx_table_get_string(t, ci, 0, buf, sizeof buf), "42");
    MXT_EQ_STR(mx_table_get_string(t, cd, 1, buf, sizeof buf), "-3");
    t->cols[cd].format = strdup("%.3f");
    MXT_EQ_STR(mx_table_get_string(t, cd, 0, buf, sizeof buf), "2.500");

    MXT_FAILS(mx_table_set_int(t, ci, 3, 1), MX_ERR_PARAM, "row 3 out of range");
    MXT_FAILS(mx_table_set_int(t, 9, 0, 1), MX_ERR_PARAM, "column index 9");
    long r;
    MXT_OK(mx_table_append_row(t, &r));
    MXT_EQ_INT(r, 3);
    MXT_EQ_INT(mx_table_is_null(t, cd, 3), 1);
    MXT_OK(mx_table_set_nrows(t, 1)); /* shrinking frees strings (ASan checks) */
    MXT_EQ_INT(t->nrows, 1);
    MXT_OK(mx_table_set_nrows(t, 2));
    MXT_EQ_INT(mx_table_is_null(t, cs, 1), 1);
    mx_table_free(t);
}

static void test_keywords(void) {
    mx_table *t = mx_table_new();
    MXT_OK(mx_table_set_keyword(t, "comment", "Output from test", 'c'));
    MXT_OK(mx_table_set_keyword_double(t, "CRVAL1", 329.129598));
    MXT_OK(mx_table_set_keyword_long(t, "NAXIS1", 528));
    MXT_OK(mx_table_set_keyword(t, "naxis1", "600", 'i')); /* replaces, case-insensitive */
    MXT_EQ_INT(t->nkeys, 3);
    long l = 0;
    double d = 0;
    MXT_OK(mx_table_get_keyword_long(t, "NAXIS1", &l));
    MXT_EQ_INT(l, 600);
    MXT_OK(mx_table_get_keyword_double(t, "crval1", &d));
    MXT_NEAR(d, 329.129598, 0);
    MXT_OK(mx_table_get_keyword_double(t, "naxis1", &d));
    MXT_NEAR(d, 600, 0);
    MXT_FAILS(mx_table_get_keyword_double(t, "comment", &d), MX_ERR_FORMAT, "'comment'");
    MXT_FAILS(mx_table_get_keyword_long(t, "missing", &l), MX_ERR_NOTFOUND, "'missing'");
    MXT_TRUE(mx_table_get_keyword(t, "missing") == NULL);
    MXT_FAILS(mx_table_set_keyword(t, "bad key", "v", 'c'), MX_ERR_PARAM, "bad key");
    MXT_FAILS(mx_table_set_keyword(t, "k", "v", 'x'), MX_ERR_PARAM, "type");
    MXT_OK(mx_table_add_comment(t, "free text"));
    MXT_EQ_INT(t->ncomments, 1);
    mx_table_free(t);
}

/* ---- writing ------------------------------------------------------------ */

/* The exact layout: bars over blank data columns, strings left-aligned,
 * unit and null lines only when needed. */
static void test_format_layout(void) {
    mx_table *t = mx_table_new();
    int a, b, c;
    mx_table_add_column(t, "srcid", MX_COL_INT, NULL, &a);
    mx_table_add_column(t, "x", MX_COL_DOUBLE, "pix", &b);
    mx_table_add_column(t, "name", MX_COL_STRING, NULL, &c);
    mx_table_set_nrows(t, 2);
    mx_table_set_int(t, a, 0, 1);
    mx_table_set_double(t, b, 0, 2.5);
    mx_table_set_string(t, c, 0, "abc");
    mx_table_set_int(t, a, 1, 12);
    mx_table_set_double(t, b, 1, 0.1);
    mx_table_set_string(t, c, 1, "a long name");
    mx_table_set_keyword(t, "comment", "Output from test, mopexlua", 'c');
    mx_table_set_keyword_long(t, "Number_PRF", 5);
    mx_table_set_keyword(t, "padded", " x ", 'c');
    char *text = NULL;
    size_t len = 0;
    MXT_OK(mx_table_format_ipac(t, &text, &len));
    const char *want =
        "\\char comment = Output from test, mopexlua\n"
        "\\int Number_PRF = 5\n"
        "\\char padded = \" x \"\n"
        "|srcid|     x|name       |\n"
        "|  int|double|char       |\n"
        "|     |   pix|           |\n"
        "     1    2.5 abc         \n"
        "    12    0.1 a long name \n";
    MXT_EQ_STR(text, want);
    MXT_EQ_INT(len, strlen(want));
    free(text);
    /* One null adds the null line. */
    mx_table_set_null(t, b, 1);
    MXT_OK(mx_table_format_ipac(t, &text, &len));
    MXT_TRUE(strstr(text, "|     |   pix|           |\n| null|  null|null       |\n") != NULL);
    MXT_TRUE(strstr(text, "    12   null a long name \n") != NULL);
    free(text);
    /* A bad user format is refused before anything is written. */
    t->cols[b].format = strdup("%d");
    MXT_FAILS(mx_table_format_ipac(t, &text, &len), MX_ERR_PARAM, "format '%d'");
    free(t->cols[b].format);
    t->cols[b].format = strdup("%.2e");
    MXT_OK(mx_table_format_ipac(t, &text, &len));
    MXT_TRUE(strstr(text, "2.50e+00") != NULL);
    free(text);
    mx_table_free(t);
}

/* Values that stress lossless output. */
static mx_table *make_hard_table(void) {
    static const double dv[] = {0.1, 1.0 / 3.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308,
                                123456789.123456789, NAN, INFINITY, -INFINITY, 2.5, -1e22};
    static const int64_t iv[] = {0, -1, INT64_MAX, INT64_MIN + 1, 2147483648LL, 7};
    mx_table *t = mx_table_new();
    int ci, cd, cs, cchi;
    mx_table_add_column(t, "srcid", MX_COL_INT, NULL, &ci);
    mx_table_add_column(t, "flux", MX_COL_DOUBLE, "microJy", &cd);
    mx_table_add_column(t, "deblend", MX_COL_STRING, NULL, &cs);
    mx_table_add_column(t, "chi2/dof", MX_COL_DOUBLE, NULL, &cchi);
    long n = 12;
    mx_table_set_nrows(t, n);
    for (long r = 0; r < n; r++) {
        mx_table_set_int(t, ci, r, iv[r % 6]);
        mx_table_set_double(t, cd, r, dv[r]);
        mx_table_set_string(t, cs, r, (r % 3 == 0) ? "PAO" : (r % 3 == 1) ? "two words" : "N");
        mx_table_set_double(t, cchi, r, r * 0.7);
    }
    mx_table_set_null(t, ci, 3);
    mx_table_set_null(t, cd, 4);
    mx_table_set_null(t, cs, 5);
    mx_table_set_keyword(t, "comment", "Output from test_table, mopexlua", 'c');
    mx_table_set_keyword_double(t, "Effective_Threshold", 0.259142);
    mx_table_set_keyword(t, "quoted", "'kept'", 'c');
    mx_table_set_keyword(t, "empty", "", 'c');
    mx_table_add_comment(t, "a comment line");
    return t;
}

static int same_double(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static void test_roundtrip(void) {
    mx_table *t = make_hard_table();
    const char *p1 = tmpfile_path("hard.tbl");
    MXT_OK(mx_table_write_ipac(t, p1));
    mx_table *u = NULL;
    MXT_OK(mx_table_read_ipac(p1, &u));
    if (!u) {
        mx_table_free(t);
        return;
    }
    MXT_EQ_INT(u->ncols, 4);
    MXT_EQ_INT(u->nrows, t->nrows);
    long bad = 0;
    for (int c = 0; c < 4; c++) {
        MXT_EQ_STR(u->cols[c].name, t->cols[c].name);
        MXT_EQ_INT(u->cols[c].type, t->cols[c].type);
        for (long r = 0; r < t->nrows; r++) {
            if (t->cols[c].isnull[r] != u->cols[c].isnull[r]) bad++;
            if (t->cols[c].isnull[r]) continue;
            if (t->cols[c].type == MX_COL_INT && t->cols[c].i[r] != u->cols[c].i[r]) bad++;
            if (t->cols[c].type == MX_COL_DOUBLE && !same_double(t->cols[c].d[r], u->cols[c].d[r]))
                bad++;
            if (t->cols[c].type == MX_COL_STRING && strcmp(t->cols[c].s[r], u->cols[c].s[r])) bad++;
        }
    }
    MXT_EQ_INT(bad, 0);
    MXT_EQ_STR(u->cols[1].unit, "microJy");
    MXT_TRUE(u->cols[0].unit == NULL);
    MXT_EQ_STR(mx_table_get_keyword(u, "quoted"), "'kept'");
    MXT_EQ_STR(mx_table_get_keyword(u, "empty"), "");
    MXT_EQ_STR(mx_table_get_keyword(u, "Effective_Threshold"), "0.259142");
    MXT_EQ_INT(u->keys[1].type, 'r');
    MXT_EQ_INT(u->ncomments, 1);
    MXT_EQ_STR(u->comments[0], "a comment line");
    /* INT64_MAX does not fit IPAC "int": the column is typed "long". */
    char *a = slurp(p1, NULL);
    MXT_TRUE(a && strstr(a, "|               srcid|") && strstr(a, "|                long|"));
    /* write -> read -> write gives the same text. */
    const char *p2 = tmpfile_path("hard2.tbl");
    MXT_OK(mx_table_write_ipac(u, p2));
    char *b = slurp(p2, NULL);
    MXT_TRUE(a && b && strcmp(a, b) == 0);
    free(a);
    free(b);
    mx_table_free(u);
    mx_table_free(t);
    /* Atomic write: a failed write leaves no file and no temporary behind. */
    mx_table *e = mx_table_new();
    MXT_FAILS(mx_table_write_ipac(e, "/nonexistent-dir/x.tbl"), MX_ERR_IO, "/nonexistent-dir/x.tbl");
    mx_table_free(e);
}

/* ---- the guide's printed tables ----------------------------------------- */

static void test_guide_detect(void) {
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(fixture("detect_single_frame.tbl"), &t));
    if (!t) return;
    MXT_EQ_INT(t->ncols, 6);
    MXT_EQ_INT(t->nrows, 9);
    MXT_EQ_STR(t->cols[0].name, "srcid");
    MXT_EQ_STR(t->cols[5].name, "BlendSize");
    MXT_EQ_INT(t->cols[0].type, MX_COL_INT);
    MXT_EQ_INT(t->cols[1].type, MX_COL_DOUBLE);
    MXT_EQ_INT(t->cols[4].type, MX_COL_INT);
    MXT_EQ_STR(mx_table_get_keyword(t, "comment"), "Output from DETECT, version 1.00");
    MXT_EQ_INT(geti(t, "srcid", 0), 0);
    MXT_NEAR(getd(t, "x", 0), 2.50, 0);
    MXT_NEAR(getd(t, "y", 0), 229.50, 0);
    MXT_NEAR(getd(t, "flux", 0), 1328, 0);
    MXT_NEAR(getd(t, "flux", 5), 12750, 0);
    MXT_NEAR(getd(t, "y", 2), 190.55, 0);
    MXT_EQ_INT(geti(t, "blendid", 5), 2);
    MXT_EQ_INT(geti(t, "BlendSize", 7), 3);
    MXT_EQ_INT(geti(t, "srcid", 8), 8);
    MXT_NEAR(getd(t, "y", 8), 127.50, 0);
    mx_table_free(t);
}

static void test_guide_prf_map(void) {
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(fixture("prf_map.tbl"), &t));
    if (!t) return;
    MXT_EQ_INT(t->nkeys, 11);
    long l = 0;
    MXT_OK(mx_table_get_keyword_long(t, "Number_PRF", &l));
    MXT_EQ_INT(l, 5);
    MXT_OK(mx_table_get_keyword_long(t, "ImageY", &l));
    MXT_EQ_INT(l, 256);
    /* File names tagged \int keep their raw text; the indented line counts. */
    MXT_EQ_STR(mx_table_get_keyword(t, "PRF_Filename_1"), "/home/joe/Mopex/PRFs/IRAC.3.8um.PRF.12.fits");
    MXT_EQ_STR(mx_table_get_keyword(t, "PRFSigma_Filename_3"),
               "/home/joe/Mopex/PRFs/IRAC.3.8um.PRF.12.Sigma.fits");
    MXT_EQ_INT(t->ncols, 5);
    MXT_EQ_INT(t->nrows, 5);
    static const int want[5][5] = {{1, 100, 200, 1, 1},
                                   {2, 256, 56, 1, 201},
                                   {3, 50, 50, 101, 1},
                                   {2, 156, 150, 101, 51},
                                   {1, 106, 50, 151, 1}};
    long bad = 0;
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            MXT_EQ_INT(t->cols[c].type, MX_COL_INT);
            if (t->cols[c].i[r] != want[r][c]) bad++;
        }
    MXT_EQ_INT(bad, 0);
    MXT_EQ_STR(t->cols[3].name, "PRFPos1");
    mx_table_free(t);
}

static void test_guide_fif(void) {
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(fixture("fif.tbl"), &t));
    if (!t) return;
    MXT_EQ_INT(t->ncols, 0);
    MXT_EQ_INT(t->nrows, 0);
    MXT_EQ_INT(t->nkeys, 18);
    double d = 0;
    long l = 0;
    MXT_OK(mx_table_get_keyword_double(t, "CRPIX1", &d));
    MXT_NEAR(d, 264.5, 0);
    MXT_OK(mx_table_get_keyword_double(t, "CRPIX2", &d));
    MXT_NEAR(d, 382.5, 0);
    MXT_OK(mx_table_get_keyword_double(t, "CDELT2", &d));
    MXT_NEAR(d, -3.39801e-4, 0);
    MXT_OK(mx_table_get_keyword_long(t, "NAXIS1", &l));
    MXT_EQ_INT(l, 528);
    MXT_OK(mx_table_get_keyword_long(t, "naxis2", &l));
    MXT_EQ_INT(l, 764);
    MXT_EQ_STR(mx_table_get_keyword(t, "Date-Time"), "Mar 12, 2012, 09:21:44");
    MXT_EQ_STR(mx_table_get_keyword(t, "CTYPE2"), "DEC\xE2\x80\x94TAN"); /* em dash kept raw */
    MXT_EQ_INT(t->keys[2].type, 'r');
    MXT_EQ_INT(t->keys[9].type, 'i');
    MXT_EQ_INT(t->keys[0].type, 'c');
    /* Writing it back yields the same keyword set in the same order. */
    char *text = NULL;
    MXT_OK(mx_table_format_ipac(t, &text, NULL));
    mx_table *u = parse(text);
    MXT_EQ_INT(u ? u->nkeys : -1, 18);
    long bad = 0;
    for (int k = 0; u && k < 18; k++)
        if (strcmp(u->keys[k].key, t->keys[k].key) || strcmp(u->keys[k].value, t->keys[k].value) ||
            u->keys[k].type != t->keys[k].type)
            bad++;
    MXT_EQ_INT(bad, 0);
    MXT_TRUE(text && strncmp(text, "\\char comment = Output from fiducial_image_frame, version 1.4\n"
                                   "\\char Date-Time = Mar 12, 2012, 09:21:44\n"
                                   "\\real CRVAL1 = 329.129598\n", 120) == 0);
    free(text);
    mx_table_free(u);
    mx_table_free(t);
}

static void test_guide_offsets_userlist(void) {
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(fixture("offsets.tbl"), &t));
    if (t) {
        MXT_EQ_INT(t->ncols, 4);
        MXT_EQ_INT(t->nrows, 3);
        MXT_EQ_STR(t->cols[2].name, "del_Offset");
        MXT_EQ_INT(t->cols[1].type, MX_COL_DOUBLE); /* "real" */
        MXT_EQ_INT(t->cols[3].type, MX_COL_INT);
        MXT_EQ_INT(geti(t, "Image_id", 2), 3);
        MXT_NEAR(getd(t, "Offset", 0), 0.13305403, 0);
        MXT_NEAR(getd(t, "del_offset", 1), 0.00963296, 0);
        MXT_EQ_INT(geti(t, "outliers", 0), 1);
        MXT_EQ_INT(geti(t, "outliers", 2), 0);
        mx_table_free(t);
    }
    /* The APEX User List minimum: rows start under the first '|', so they
     * are split on whitespace. */
    t = NULL;
    MXT_OK(mx_table_read_ipac(fixture("user_list.tbl"), &t));
    if (t) {
        MXT_EQ_INT(t->ncols, 2);
        MXT_EQ_INT(t->nrows, 2);
        MXT_EQ_STR(t->cols[0].name, "RA");
        MXT_EQ_STR(t->cols[1].name, "Dec");
        MXT_NEAR(getd(t, "ra", 0), 274.072341, 0);
        MXT_NEAR(getd(t, "dec", 0), -2.544706, 0);
        MXT_NEAR(getd(t, "RA", 1), 274.072895, 0);
        MXT_NEAR(getd(t, "Dec", 1), -2.531989, 0);
        mx_table_free(t);
    }
}

/* ---- reader variants and errors ----------------------------------------- */

static void test_reader_variants(void) {
    /* CRLF, untyped and quoted keywords, comments, dashes, abbreviations,
     * null line with custom markers, blank numeric cells. */
    mx_table *t = parse("\\fixlen = T\r\n"
                        "\\ORIGIN  = 'IPAC Infrared Science Archive'\r\n"
                        "\\ This is a comment\r\n"
                        "|--id--|  ra     |   n  | name   |\r\n"
                        "| long | dou     | i    | ch     |\r\n"
                        "|      | deg     |      |        |\r\n"
                        "| -999 | NaN_val | null | none   |\r\n"
                        "    1    10.5       3    A B     \r\n"
                        "  -999   NaN_val          none   \r\n"
                        "    3    -1.25e-3   null  null   \r\n");
    if (t) {
        MXT_EQ_INT(t->nrows, 3);
        MXT_EQ_STR(t->cols[0].name, "id");
        MXT_EQ_INT(t->cols[0].type, MX_COL_INT);
        MXT_EQ_INT(t->cols[1].type, MX_COL_DOUBLE);
        MXT_EQ_INT(t->cols[3].type, MX_COL_STRING);
        MXT_EQ_STR(t->cols[1].unit, "deg");
        MXT_EQ_STR(t->cols[0].null_text, "-999");
        MXT_EQ_STR(mx_table_get_keyword(t, "ORIGIN"), "IPAC Infrared Science Archive");
        MXT_EQ_STR(mx_table_get_keyword(t, "fixlen"), "T");
        MXT_EQ_INT(t->ncomments, 1);
        MXT_EQ_STR(t->comments[0], "This is a comment");
        MXT_EQ_STR(t->cols[3].s[0], "A B");
        MXT_EQ_INT(mx_table_is_null(t, 0, 1), 1);
        MXT_EQ_INT(mx_table_is_null(t, 1, 1), 1);
        MXT_EQ_INT(mx_table_is_null(t, 2, 1), 1); /* blank numeric cell */
        MXT_EQ_INT(mx_table_is_null(t, 3, 1), 1);
        MXT_EQ_INT(mx_table_is_null(t, 2, 2), 1); /* "null" in a numeric column */
        MXT_EQ_INT(mx_table_is_null(t, 3, 2), 0); /* a string "null" when the marker is "none" */
        MXT_EQ_STR(t->cols[3].s[2], "null");
        MXT_NEAR(getd(t, "ra", 2), -1.25e-3, 0);
        mx_table_free(t);
    }
    /* No type line: int, double and char inferred. Unaligned rows. */
    t = parse("|a|b|c|\n1 2.5 x\n-4 7 yy\n");
    if (t) {
        MXT_EQ_INT(t->cols[0].type, MX_COL_INT);
        MXT_EQ_INT(t->cols[1].type, MX_COL_DOUBLE);
        MXT_EQ_INT(t->cols[2].type, MX_COL_STRING);
        MXT_EQ_INT(geti(t, "a", 1), -4);
        MXT_NEAR(getd(t, "b", 1), 7, 0);
        mx_table_free(t);
    }
    /* Header lines without the trailing bar, keyword between header and data. */
    t = parse("|a   |b\n|int |char\n\\ between\n  1   text with spaces\n");
    if (t) {
        MXT_EQ_INT(t->ncols, 2);
        MXT_EQ_STR(t->cols[1].s[0], "text with spaces");
        MXT_EQ_INT(t->ncomments, 1);
        mx_table_free(t);
    }
    /* Nothing but columns, no rows. */
    t = parse("|a|\n|r|\n");
    if (t) {
        MXT_EQ_INT(t->ncols, 1);
        MXT_EQ_INT(t->nrows, 0);
        mx_table_free(t);
    }
    /* NaN/inf values in a double column are values, not nulls. */
    t = parse("|x   |\n|d   |\n nan \n -inf\n");
    if (t) {
        MXT_EQ_INT(mx_table_is_null(t, 0, 0), 0);
        MXT_TRUE(isnan(getd(t, "x", 0)));
        MXT_TRUE(isinf(getd(t, "x", 1)) && getd(t, "x", 1) < 0);
        mx_table_free(t);
    }
}

static void test_reader_errors(void) {
    mx_table *t = NULL;
    const char *s1 = "\\char k = v\n|a|b|\n|i|i|\n 1 2\n 1 2 3\n";
    MXT_FAILS(mx_table_parse_ipac(s1, strlen(s1), "bad.tbl", &t), MX_ERR_FORMAT,
              "'bad.tbl' line 5: 3 values for 2 columns");
    MXT_TRUE(t == NULL);
    const char *s2 = "|a  |b  |\n|i  |i  |\n 1   2\n 1.5 2\n";
    MXT_FAILS(mx_table_parse_ipac(s2, strlen(s2), "bad.tbl", &t), MX_ERR_FORMAT,
              "'bad.tbl' line 4: column 'a' (int): '1.5' is not an integer");
    const char *s3 = "|a|b|\n|i|q|\n";
    MXT_FAILS(mx_table_parse_ipac(s3, strlen(s3), "bad.tbl", &t), MX_ERR_FORMAT,
              "line 2: column 'b': unknown type 'q'");
    const char *s4 = "|a|b|\n|i|i|\n||\n|x|y|\n|u|v|\n";
    MXT_FAILS(mx_table_parse_ipac(s4, strlen(s4), "bad.tbl", &t), MX_ERR_FORMAT, "line 3");
    const char *s5 = "|a|b|\n|i|i|i|\n";
    MXT_FAILS(mx_table_parse_ipac(s5, strlen(s5), "bad.tbl", &t), MX_ERR_FORMAT,
              "'bad.tbl' line 2: 3 types for 2 columns");
    const char *s6 = "just some text\n";
    MXT_FAILS(mx_table_parse_ipac(s6, strlen(s6), "bad.tbl", &t), MX_ERR_FORMAT,
              "'bad.tbl' line 1: expected a '|' line of column names");
    const char *s7 = "|a|A|\n|i|i|\n";
    MXT_FAILS(mx_table_parse_ipac(s7, strlen(s7), "bad.tbl", &t), MX_ERR_FORMAT, "already exists");
    const char *s8 = "|a|b|\n|i|i|\n 1 2\n|c|d|\n";
    MXT_FAILS(mx_table_parse_ipac(s8, strlen(s8), "bad.tbl", &t), MX_ERR_FORMAT,
              "'bad.tbl' line 4: a '|' header line among the data rows");
    MXT_FAILS(mx_table_read_ipac("/nonexistent/t.tbl", &t), MX_ERR_IO, "'/nonexistent/t.tbl'");
    MXT_TRUE(t == NULL);
}

/* ---- astropy ------------------------------------------------------------ */

static int have_astropy(void) {
    static int known = -1; /* importing astropy takes seconds: ask once */
    if (known < 0)
        known = access("/usr/bin/python3", X_OK) == 0 &&
                system("/usr/bin/python3 -c 'import astropy.io.ascii' >/dev/null 2>&1") == 0;
    return known;
}

static void test_astropy_reads_ours(void) {
    if (!have_astropy()) {
        printf("SKIPPED test_astropy_reads_ours: /usr/bin/python3 with astropy not available\n");
        return;
    }
    mx_table *t = make_hard_table();
    char tbl[4096], py[4096], outp[4096], cmd[12288];
    snprintf(tbl, sizeof tbl, "%s", tmpfile_path("for_astropy.tbl"));
    MXT_OK(mx_table_write_ipac(t, tbl));
    snprintf(py, sizeof py, "%s", tmpfile_path("check_ipac.py"));
    snprintf(outp, sizeof outp, "%s", tmpfile_path("check_ipac.out"));
    FILE *f = fopen(py, "w");
    /* Each file: warnings are errors; print names, dtype kinds, units,
     * masked rows and every unmasked value. */
    fputs("import sys, warnings\n"
          "from astropy.io import ascii\n"
          "for path in sys.argv[1:]:\n"
          "  print('FILE|' + path)\n"
          "  with warnings.catch_warnings():\n"
          "    warnings.simplefilter('error')\n"
          "    t = ascii.read(path, format='ipac')\n"
          "  for c in t.colnames:\n"
          "    col = t[c]\n"
          "    mask = getattr(col, 'mask', None)\n"
          "    masked = [str(i) for i in range(len(col)) if mask is not None and bool(mask[i])]\n"
          "    print('COL|%s|%s|%s|%s' % (c, col.dtype.kind, col.unit if col.unit is not None else '-',\n"
          "          ','.join(masked) or '-'))\n"
          "    for i in range(len(col)):\n"
          "        if mask is not None and bool(mask[i]): continue\n"
          "        v = col[i]\n"
          "        s = repr(float(v)) if col.dtype.kind == 'f' else str(v)\n"
          "        print('VAL|%s|%d|%s' % (c, i, s))\n"
          "  print('COMMENTS|' + '|'.join(t.meta.get('comments', [])))\n",
          f);
    fclose(f);
    /* MOPEX's own "real" type (the guide's offsets.tbl) goes along. */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' > '%s' 2>&1", py, tbl,
             fixture("offsets.tbl"), outp);
    int rc = system(cmd);
    char *out = slurp(outp, NULL);
    MXT_CHECK(rc == 0, "python failed (%d):\n%s", rc, out ? out : "");
    if (out) {
        /* "real" is a float to astropy, silently. */
        MXT_TRUE(strstr(out, "COL|Offset|f|-|-\n") && strstr(out, "COL|Image_id|i|-|-\n") &&
                 strstr(out, "VAL|del_Offset|2|0.00964912\n"));
        MXT_TRUE(strstr(out, "COL|srcid|i|-|3\n") != NULL);
        MXT_TRUE(strstr(out, "COL|flux|f|microJy|4\n") != NULL);
        MXT_TRUE(strstr(out, "COL|deblend|U|-|5\n") != NULL);
        MXT_TRUE(strstr(out, "COL|chi2/dof|f|-|-\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|srcid|2|9223372036854775807\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|srcid|4|2147483648\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|flux|0|0.1\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|flux|1|0.3333333333333333\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|flux|2|-0.0\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|flux|5|1.7976931348623157e+308\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|flux|7|nan\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|flux|9|-inf\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|deblend|1|two words\n") != NULL);
        MXT_TRUE(strstr(out, "VAL|chi2/dof|3|2.0999999999999996\n") != NULL);
        MXT_TRUE(strstr(out, "COMMENTS|a comment line\n") != NULL);
        MXT_TRUE(strstr(out, "Warning") == NULL && strstr(out, "Error") == NULL);
    }
    free(out);
    mx_table_free(t);
}

static void test_we_read_astropy(void) {
    if (!have_astropy()) {
        printf("SKIPPED test_we_read_astropy: /usr/bin/python3 with astropy not available\n");
        return;
    }
    char tbl[4096], py[4096], cmd[12288];
    snprintf(tbl, sizeof tbl, "%s", tmpfile_path("from_astropy.tbl"));
    snprintf(py, sizeof py, "%s", tmpfile_path("write_ipac.py"));
    FILE *f = fopen(py, "w");
    fputs("import sys\n"
          "import numpy as np\n"
          "from astropy.table import Table, MaskedColumn\n"
          "t = Table()\n"
          "t['id'] = MaskedColumn([1, 2, 3000000000], mask=[False, True, False], dtype=np.int64)\n"
          "t['flux'] = MaskedColumn([0.1, np.nan, -1.5e-300], mask=[False, False, True], unit='uJy')\n"
          "t['x'] = [1.0/3.0, 2.5, 1e22]\n"
          "t['name'] = MaskedColumn(['a b', 'xyz', 'q'], mask=[False, False, True])\n"
          "t.meta['keywords'] = {'TELESCOP': {'value': 'Spitzer'}, 'NUM': {'value': 5}}\n"
          "t.meta['comments'] = ['hello world']\n"
          "t.write(sys.argv[1], format='ascii.ipac', overwrite=True)\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' >/dev/null 2>&1", py, tbl);
    MXT_EQ_INT(system(cmd), 0);
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(tbl, &t));
    if (!t) return;
    MXT_EQ_INT(t->ncols, 4);
    MXT_EQ_INT(t->nrows, 3);
    MXT_EQ_INT(t->cols[col(t, "id")].type, MX_COL_INT);
    MXT_EQ_INT(t->cols[col(t, "flux")].type, MX_COL_DOUBLE);
    MXT_EQ_INT(t->cols[col(t, "name")].type, MX_COL_STRING);
    MXT_EQ_STR(t->cols[col(t, "flux")].unit, "uJy");
    MXT_EQ_INT(geti(t, "id", 2), 3000000000LL);
    MXT_EQ_INT(mx_table_is_null(t, col(t, "id"), 1), 1);
    MXT_NEAR(getd(t, "flux", 0), 0.1, 0);
    MXT_EQ_INT(mx_table_is_null(t, col(t, "flux"), 1), 0);
    MXT_TRUE(isnan(getd(t, "flux", 1)));
    MXT_EQ_INT(mx_table_is_null(t, col(t, "flux"), 2), 1);
    MXT_NEAR(getd(t, "x", 0), 1.0 / 3.0, 0);
    MXT_NEAR(getd(t, "x", 2), 1e22, 0);
    MXT_EQ_STR(t->cols[col(t, "name")].s[0], "a b");
    MXT_EQ_INT(mx_table_is_null(t, col(t, "name"), 2), 1);
    MXT_EQ_STR(mx_table_get_keyword(t, "TELESCOP"), "Spitzer");
    long l = 0;
    MXT_OK(mx_table_get_keyword_long(t, "NUM", &l));
    MXT_EQ_INT(l, 5);
    MXT_EQ_INT(t->ncomments, 1);
    MXT_EQ_STR(t->ncomments ? t->comments[0] : "", "hello world");
    mx_table_free(t);
}

/* The writer's doubles are the first of %.15g/%.16g/%.17g that reads back
 * exactly (what printf would give), checked over many kinds of values. */
static void test_double_text(void) {
    mx_table *t = mx_table_new();
    int c;
    mx_table_add_column(t, "v", MX_COL_DOUBLE, NULL, &c);
    mx_table_set_nrows(t, 1);
    uint64_t x = 0x853c49e6748fea9bull;
    long n = 200000, diff = 0, lossy = 0;
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        switch (i % 7) {
        case 0: memcpy(&v, &x, sizeof v); break;                     /* any bit pattern */
        case 1: v = (double)(x % 100000) / 77.0; break;              /* 16-17 digits */
        case 2: v = (double)(x % 1000000) * 1e-3; break;             /* short decimals */
        case 3: v = (double)(int64_t)(x >> 11) * pow(10, (int)(x % 60) - 30) / 1e15; break;
        case 4: v = (double)(x % 1000003) * 1.37e-2; break;
        case 5: v = (double)(x % 2000) - 1000.0; break;              /* integers */
        default: v = ldexp((double)(x >> 11), (int)(x % 200) - 100); break;
        }
        if (!isfinite(v)) continue;
        char want[64], got[64];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(want, sizeof want, "%.*g", prec, v);
            if (prec == 17 || strtod(want, NULL) == v) break;
        }
        mx_table_set_double(t, c, 0, v);
        const char *s = mx_table_get_string(t, c, 0, got, sizeof got);
        if (!s || strcmp(s, want)) {
            if (diff++ < 5) fprintf(stderr, "  %.17g: got '%s' want '%s'\n", v, s ? s : "(null)", want);
        }
        double back = s ? strtod(s, NULL) : NAN;
        if (memcmp(&back, &v, sizeof v)) lossy++;
    }
    MXT_EQ_INT(diff, 0);
    MXT_EQ_INT(lossy, 0);
    static const double edge[] = {-0.0, 1e15, 1e16, 1e22, 1e23, 9007199254740993.0, 5e-324,
                                  2.2250738585072014e-308, 1.7976931348623157e308, 0.5, 1e-5};
    static const char *const edge_text[] = {"-0", "1e+15", "1e+16", "1e+22", "1e+23",
                                            "9007199254740992", "4.94065645841247e-324",
                                            "2.2250738585072014e-308", "1.7976931348623157e+308",
                                            "0.5", "1e-05"};
    char buf[64];
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        mx_table_set_double(t, c, 0, edge[i]);
        MXT_EQ_STR(mx_table_get_string(t, c, 0, buf, sizeof buf), edge_text[i]);
    }
    mx_table_free(t);
}

/* ---- speed -------------------------------------------------------------- */

static void test_speed(void) {
    long n = 100000;
    mx_table *t = mx_table_new();
    int ci, cx, cy, cf, cs;
    mx_table_add_column(t, "srcid", MX_COL_INT, NULL, &ci);
    mx_table_add_column(t, "x", MX_COL_DOUBLE, "pix", &cx);
    mx_table_add_column(t, "y", MX_COL_DOUBLE, "pix", &cy);
    mx_table_add_column(t, "flux", MX_COL_DOUBLE, "microJy", &cf);
    mx_table_add_column(t, "deblend", MX_COL_STRING, NULL, &cs);
    mx_table_set_nrows(t, n);
    uint64_t s = 88172645463325252ull;
    for (long r = 0; r < n; r++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        mx_table_set_int(t, ci, r, r);
        mx_table_set_double(t, cx, r, (double)(s % 100000) / 77.0);
        mx_table_set_double(t, cy, r, (double)(s >> 40) * 1e-3);
        mx_table_set_double(t, cf, r, (double)(s % 1000003) * 1.37e-2);
        mx_table_set_string(t, cs, r, (r % 7) ? "N" : "PA");
    }
    const char *p = tmpfile_path("big.tbl");
    double t0 = now_s(), c0 = cpu_s();
    MXT_OK(mx_table_write_ipac(t, p));
    double tw = now_s() - t0, cw = cpu_s() - c0;
    mx_table *u = NULL;
    t0 = now_s();
    c0 = cpu_s();
    MXT_OK(mx_table_read_ipac(p, &u));
    double tr = now_s() - t0, cr = cpu_s() - c0;
    printf("1e5-row table (5 columns): write %.0f ms (cpu %.0f ms), read %.0f ms (cpu %.0f ms)\n",
           tw * 1e3, cw * 1e3, tr * 1e3, cr * 1e3);
    const char *san = getenv("MOPEX_SANITIZED");
    double limit = (san && san[0] == '1') ? 5.0 : 1.0;
    MXT_TRUE(cw < limit);
    MXT_TRUE(cr < limit);
    if (u) {
        MXT_EQ_INT(u->nrows, n);
        long bad = 0;
        for (long r = 0; r < n; r++)
            if (u->cols[1].d[r] != t->cols[1].d[r] || u->cols[3].d[r] != t->cols[3].d[r] ||
                u->cols[0].i[r] != r)
                bad++;
        MXT_EQ_INT(bad, 0);
    }
    mx_table_free(u);
    mx_table_free(t);
}

int main(void) {
    MXT_RUN(test_cells);
    MXT_RUN(test_keywords);
    MXT_RUN(test_format_layout);
    MXT_RUN(test_roundtrip);
    MXT_RUN(test_guide_detect);
    MXT_RUN(test_guide_prf_map);
    MXT_RUN(test_guide_fif);
    MXT_RUN(test_guide_offsets_userlist);
    MXT_RUN(test_reader_variants);
    MXT_RUN(test_reader_errors);
    MXT_RUN(test_astropy_reads_ours);
    MXT_RUN(test_we_read_astropy);
    MXT_RUN(test_double_text);
    MXT_RUN(test_speed);
    return mxt_summary();
}
