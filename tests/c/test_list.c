/* test_list.c - list files (formats.md 3), path resolution, path helpers. */
#include "mxtest.h"

#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    MXT_CHECK(f != NULL, "cannot create '%s'", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char *scratch(const char *name) {
    return mx_path_join(mxt_tmp_dir("test_list"), name);
}

static void test_parse_rules(void) {
    char *lp = scratch("rules.lst");
    write_file(lp, "# a comment\r\n"
                   "\r\n"
                   "  /abs/one.fits  \r\n"
                   "\t/abs/two words.fits\t\n"
                   "   \n"
                   "#/abs/skipped.fits\n"
                   "rel/three.fits"); /* no final newline */
    mx_list *l = NULL;
    MXT_OK(mx_list_read(lp, 0, &l));
    if (l) {
        MXT_EQ_INT(l->n, 3);
        MXT_EQ_STR(l->raw[0], "/abs/one.fits");
        MXT_EQ_STR(l->paths[0], "/abs/one.fits");
        MXT_EQ_STR(l->raw[1], "/abs/two words.fits");
        MXT_EQ_STR(l->raw[2], "rel/three.fits");
        MXT_EQ_STR(l->paths[2], "rel/three.fits"); /* unresolved: as written */
        MXT_EQ_INT(l->lineno[0], 3);
        MXT_EQ_INT(l->lineno[1], 4);
        MXT_EQ_INT(l->lineno[2], 7);
        MXT_EQ_STR(l->source, lp);
    }
    mx_list_free(l);
    l = NULL;
    MXT_FAILS(mx_list_read(lp, MX_LIST_CHECK_EXISTS, &l), MX_ERR_IO, "line 3: file '/abs/one.fits' does not exist");
    MXT_TRUE(strstr(mx_errmsg(), lp) != NULL);
    MXT_TRUE(l == NULL);
    MXT_FAILS(mx_list_read("/nonexistent/x.lst", 0, &l), MX_ERR_IO, "cannot open list '/nonexistent/x.lst'");
    /* An empty list is a list of zero entries. */
    char *ep = scratch("empty.lst");
    write_file(ep, "# nothing\n\n");
    MXT_OK(mx_list_read(ep, MX_LIST_CHECK_EXISTS, &l));
    MXT_EQ_INT(l ? l->n : -1, 0);
    mx_list_free(l);
    free(ep);
    free(lp);
}

/* Working directory first, then the list's directory. */
static void test_resolution(void) {
    char cwd[4096];
    MXT_TRUE(getcwd(cwd, sizeof cwd) != NULL);
    char *root = scratch("res");
    char *data = mx_path_join(root, "data");
    mx_mkdir_p(data);
    char *a = mx_path_join(data, "a.fits"), *b = mx_path_join(data, "b.fits");
    char *both_cwd = mx_path_join(root, "both.fits"), *both_dir = mx_path_join(data, "both.fits");
    write_file(a, "x");
    write_file(b, "x");
    write_file(both_cwd, "x");
    write_file(both_dir, "x");
    char *lp = mx_path_join(data, "list.txt");
    write_file(lp, "a.fits\ndata/b.fits\nboth.fits\nmissing.fits\n");
    MXT_TRUE(chdir(root) == 0);
    mx_list *l = NULL;
    /* The list named relatively: resolution through its directory still
     * gives a path valid from anywhere. */
    MXT_OK(mx_list_read("data/list.txt", 0, &l));
    if (l && l->n == 4) {
        char *want_a = mx_path_join(root, "data/a.fits");
        MXT_EQ_STR(l->paths[0], want_a);          /* only beside the list */
        MXT_TRUE(l->paths[0][0] == '/');
        MXT_EQ_STR(l->paths[1], "data/b.fits");   /* in the working directory */
        MXT_EQ_STR(l->paths[2], "both.fits");     /* both: the working directory wins */
        MXT_EQ_STR(l->paths[3], "missing.fits");
        MXT_EQ_STR(l->raw[0], "a.fits");
        free(want_a);
    } else {
        MXT_CHECK(0, "expected 4 entries");
    }
    mx_list_free(l);
    l = NULL;
    MXT_FAILS(mx_list_read("data/list.txt", MX_LIST_CHECK_EXISTS, &l), MX_ERR_IO,
              "list 'data/list.txt' line 4: file 'missing.fits' does not exist (looked in the "
              "working directory and in 'data')");
    MXT_TRUE(chdir(cwd) == 0);
    free(lp);
    free(a);
    free(b);
    free(both_cwd);
    free(both_dir);
    free(data);
    free(root);
}

static void test_same_length_and_write(void) {
    const char *paths[100];
    char names[100][32];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "/d/frame_%03d.fits", i);
        paths[i] = names[i];
    }
    mx_list *a = NULL, *b = NULL, *c = NULL;
    MXT_OK(mx_list_from_paths(100, paths, "a.txt", &a));
    MXT_OK(mx_list_from_paths(99, paths, "b.txt", &b));
    MXT_OK(mx_list_from_paths(99, paths, NULL, &c));
    MXT_FAILS(mx_list_check_same_length(a, "ImageList", b, "SigmaList"), MX_ERR_MISMATCH,
              "SigmaList 'b.txt' has 99 entries, ImageList 'a.txt' has 100");
    MXT_EQ_STR(mx_errmsg(), "SigmaList 'b.txt' has 99 entries, ImageList 'a.txt' has 100");
    MXT_FAILS(mx_list_check_same_length(a, "ImageList", c, "DCEStatusMaskList"), MX_ERR_MISMATCH,
              "DCEStatusMaskList has 99 entries, ImageList 'a.txt' has 100");
    MXT_OK(mx_list_check_same_length(a, "ImageList", NULL, "SigmaList"));
    MXT_OK(mx_list_check_same_length(b, "ImageList", c, "SigmaList"));
    MXT_EQ_INT(a->lineno[99], 100);

    char *wp = scratch("written.lst");
    MXT_OK(mx_list_write(a, wp));
    mx_list *r = NULL;
    MXT_OK(mx_list_read(wp, 0, &r));
    MXT_EQ_INT(r ? r->n : -1, 100);
    if (r) {
        MXT_EQ_STR(r->paths[57], "/d/frame_057.fits");
        MXT_EQ_INT(r->lineno[57], 58);
    }
    mx_list_free(r);
    const char *badp[2] = {"ok.fits", "two\nlines.fits"};
    MXT_FAILS(mx_list_write_paths(2, badp, wp), MX_ERR_PARAM, "entry 2");
    /* The failed write left the previous file intact. */
    MXT_OK(mx_list_read(wp, 0, &r));
    MXT_EQ_INT(r ? r->n : -1, 100);
    mx_list_free(r);
    MXT_FAILS(mx_list_write_paths(1, badp, "/nonexistent-dir/l.txt"), MX_ERR_IO, "/nonexistent-dir/l.txt");
    free(wp);
    mx_list_free(a);
    mx_list_free(b);
    mx_list_free(c);
}

static void test_path_helpers(void) {
    char buf[256];
    mx_path_basename_noext("ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits", buf, sizeof buf);
    MXT_EQ_STR(buf, "SPITZER_I1_46291456_0056_0000_2_cbcd");
    mx_path_basename_noext("/a/b/img.FITS", buf, sizeof buf);
    MXT_EQ_STR(buf, "img");
    mx_path_basename_noext("img.fits.gz", buf, sizeof buf);
    MXT_EQ_STR(buf, "img");
    mx_path_basename_noext("x/img.fits.fz", buf, sizeof buf);
    MXT_EQ_STR(buf, "img");
    mx_path_basename_noext("img.fit", buf, sizeof buf);
    MXT_EQ_STR(buf, "img");
    mx_path_basename_noext("img.fts", buf, sizeof buf);
    MXT_EQ_STR(buf, "img");
    mx_path_basename_noext("table.tbl", buf, sizeof buf);
    MXT_EQ_STR(buf, "table.tbl");
    mx_path_basename_noext("dir/", buf, sizeof buf);
    MXT_EQ_STR(buf, "");
    mx_path_basename_noext(".fits", buf, sizeof buf);
    MXT_EQ_STR(buf, ".fits");
    mx_path_basename_noext("abcdef.fits", buf, 4); /* truncated to the buffer */
    MXT_EQ_STR(buf, "abc");

    char *j = mx_path_join("dir", "f.fits");
    MXT_EQ_STR(j, "dir/f.fits");
    free(j);
    j = mx_path_join("dir/", "f.fits");
    MXT_EQ_STR(j, "dir/f.fits");
    free(j);
    j = mx_path_join("dir", "/abs/f.fits");
    MXT_EQ_STR(j, "/abs/f.fits");
    free(j);
    j = mx_path_join("", "f.fits");
    MXT_EQ_STR(j, "f.fits");
    free(j);
    j = mx_path_join(NULL, "f.fits");
    MXT_EQ_STR(j, "f.fits");
    free(j);
    j = mx_path_join("/", "f.fits");
    MXT_EQ_STR(j, "/f.fits");
    free(j);
}

/* The real lists of the GRB 120119A data: paths relative to that folder. */
static void test_real_lists(void) {
    const char *d = mxt_data_dir();
    char *g = d ? mx_path_join(d, "gammit_grb120119a") : NULL;
    struct stat sb;
    if (!g || stat(g, &sb) != 0) {
        printf("SKIPPED test_real_lists: $MOPEX_TEST_DATA/gammit_grb120119a not found\n");
        free(g);
        return;
    }
    char cwd[4096];
    MXT_TRUE(getcwd(cwd, sizeof cwd) != NULL);
    MXT_TRUE(chdir(g) == 0);
    mx_list *img = NULL, *unc = NULL, *msk = NULL, *img2 = NULL, *unc2 = NULL;
    MXT_OK(mx_list_read("lists/ch1_cbcd.lst", MX_LIST_CHECK_EXISTS, &img));
    MXT_OK(mx_list_read("lists/ch1_cbunc.lst", MX_LIST_CHECK_EXISTS, &unc));
    MXT_OK(mx_list_read("lists/ch1_bimsk.lst", MX_LIST_CHECK_EXISTS, &msk));
    MXT_OK(mx_list_read("lists/ch2_cbcd.lst", MX_LIST_CHECK_EXISTS, &img2));
    MXT_OK(mx_list_read("lists/ch2_cbunc.lst", MX_LIST_CHECK_EXISTS, &unc2));
    if (img && unc && msk && img2 && unc2) {
        MXT_EQ_INT(img->n, 30);
        MXT_EQ_INT(img2->n, 18);
        MXT_EQ_STR(img->paths[0], "ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits");
        MXT_EQ_STR(img->paths[29], "ch1/bcd/SPITZER_I1_46291456_0085_0000_2_cbcd.fits");
        MXT_EQ_STR(unc->paths[29], "ch1/bcd/SPITZER_I1_46291456_0085_0000_2_cbunc.fits");
        MXT_EQ_INT(img->lineno[29], 30);
        MXT_OK(mx_list_check_same_length(img, "ImageList", unc, "SigmaList"));
        MXT_OK(mx_list_check_same_length(img, "ImageList", msk, "DCEStatusMaskList"));
        MXT_FAILS(mx_list_check_same_length(img, "ImageList", unc2, "SigmaList"), MX_ERR_MISMATCH,
                  "SigmaList 'lists/ch2_cbunc.lst' has 18 entries, ImageList 'lists/ch1_cbcd.lst' has 30");
        /* Line k of every list is the same frame. */
        long bad = 0;
        for (int i = 0; i < img->n; i++) {
            char b1[256], b2[256], b3[256];
            mx_path_basename_noext(img->paths[i], b1, sizeof b1);
            mx_path_basename_noext(unc->paths[i], b2, sizeof b2);
            mx_path_basename_noext(msk->paths[i], b3, sizeof b3);
            if (strncmp(b1, b2, 31) || strncmp(b1, b3, 31)) bad++;
        }
        MXT_EQ_INT(bad, 0);
        char b[256];
        mx_path_basename_noext(img2->paths[17], b, sizeof b);
        MXT_EQ_STR(b, "SPITZER_I2_46291456_0017_0000_2_cbcd");
    }
    mx_list_free(img);
    mx_list_free(unc);
    mx_list_free(msk);
    mx_list_free(img2);
    mx_list_free(unc2);
    MXT_TRUE(chdir(cwd) == 0);

    /* From another directory the entries resolve neither against the
     * working directory nor against lists/: the error says where. */
    char *lp = mx_path_join(g, "lists/ch1_cbcd.lst");
    mx_list *l = NULL;
    MXT_FAILS(mx_list_read(lp, MX_LIST_CHECK_EXISTS, &l), MX_ERR_IO,
              "line 1: file 'ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits' does not exist");
    MXT_TRUE(strstr(mx_errmsg(), lp) != NULL);
    MXT_OK(mx_list_read(lp, 0, &l));
    MXT_EQ_INT(l ? l->n : -1, 30);
    mx_list_free(l);
    free(lp);
    free(g);
}

int main(void) {
    MXT_RUN(test_parse_rules);
    MXT_RUN(test_resolution);
    MXT_RUN(test_same_length_and_write);
    MXT_RUN(test_path_helpers);
    MXT_RUN(test_real_lists);
    return mxt_summary();
}
