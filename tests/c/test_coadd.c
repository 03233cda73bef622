/* test_coadd.c - Mosaic CoAdder, Combine, Fix Coverage and Mosaic MedFilter
 * against hand computations (mosaic.md 5.6.18-5.6.21 and checklist 1-10,
 * 33-35): constant stacks, the straight average with coverages and its
 * uncertainty, time and sigma weighting, std, median, absolute minimum,
 * outlier mosaics, the 4450 x 1024 tiling, tile-size / band / thread
 * invariance (bit for bit), an in-memory reference, streaming memory of the
 * combine (measured in a child process), timings. */
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mxtest.h"

static char root[4096];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *J(const char *d, const char *name) { return mx_path_join(d, name); }

static char *mkdir_case(const char *name) {
    char *d = J(root, name);
    mx_mkdir_p(d);
    return d;
}

static void write_fif(const char *path, long n1, long n2) {
    mx_fif f;
    memset(&f, 0, sizeof f);
    f.crval[0] = 120.0;
    f.crval[1] = -9.0;
    f.crpix[0] = (double)(n1 + 1) / 2.0;
    f.crpix[1] = (double)(n2 + 1) / 2.0;
    f.cdelt[0] = -1.0 / 3600.0;
    f.cdelt[1] = 1.0 / 3600.0;
    f.crota2 = 0.0;
    f.naxis[0] = n1;
    f.naxis[1] = n2;
    f.equinox = 2000.0;
    MXT_OK(mx_fif_set_type(&f, MX_SKY_ICRS, "TAN"));
    MXT_OK(mx_fif_write(&f, NULL, path));
}

/* An interpolated-image-like file: data (nx*ny) or a constant, MINTOFFX/Y,
 * optional EXPTIME and BUNIT. Returns the path (caller frees). */
static char *write_img(const char *dir, const char *name, long x0, long y0, long nx, long ny,
                       const float *data, float c, double exptime, const char *bunit) {
    mx_image *img = NULL;
    MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, -32, c, &img));
    if (data) memcpy(img->data, data, (size_t)nx * ny * sizeof(float));
    MXT_OK(mx_header_set_long(img->hdr, "MINTOFFX", x0, NULL));
    MXT_OK(mx_header_set_long(img->hdr, "MINTOFFY", y0, NULL));
    if (exptime > 0) MXT_OK(mx_header_set_double(img->hdr, "EXPTIME", exptime, NULL));
    if (bunit) MXT_OK(mx_header_set_string(img->hdr, "BUNIT", bunit, NULL));
    char *p = J(dir, name);
    MXT_OK(mx_image_write(img, p));
    mx_image_free(img);
    return p;
}

static mx_coadd_opts defopts(void) {
    mx_coadd_opts o;
    memset(&o, 0, sizeof o);
    o.tilemax_x = o.tilemax_y = 1000;
    o.create_unc = 1;
    o.program = "mosaic_coadder";
    return o;
}

/* coadd + combine into <dir>/Coadd-mosaic and <dir>/Combine-mosaic */
static int run_all(const char *dir, const mx_coadd_inputs *in, const mx_coadd_opts *o, mx_coadd_result *r,
                   unsigned *combined) {
    char *fif = J(dir, "mosaic_fif.tbl"), *cd = J(dir, "Coadd-mosaic"), *cm = J(dir, "Combine-mosaic");
    char *od = J(dir, "Outlier-mosaic"), *dd = J(dir, "DualOutlier-mosaic");
    mx_coadd_dirs dirs = {cd, od, dd};
    int st = mx_coadd_run(in, fif, o, &dirs, r);
    if (st == MX_OK) {
        mx_combine_opts co = {od, dd, 0};
        st = mx_combine_run(cd, fif, cm, &co, combined);
    }
    free(fif);
    free(cd);
    free(cm);
    free(od);
    free(dd);
    return st;
}

static mx_image *read_out(const char *dir, const char *sub, const char *name) {
    char *d = J(dir, sub), *p = J(d, name);
    mx_image *img = NULL;
    int st = mx_image_read(p, &img);
    MXT_CHECK(st == MX_OK, "reading %s: %s", p, mx_errmsg());
    free(d);
    free(p);
    return img;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = malloc((size_t)n + 1);
    size_t got = fread(t, 1, (size_t)n, f);
    t[got] = '\0';
    fclose(f);
    return t;
}

static void free_paths(char **p, int n) {
    for (int k = 0; k < n; k++) free(p[k]);
}

/* ---- checklist 3, 4: constant stack ----------------------------------------------- */
static void test_constant(void) {
    char *d = mkdir_case("constant");
    char *fif = J(d, "mosaic_fif.tbl");
    write_fif(fif, 30, 20);
    long box[4][4] = {{0, 0, 12, 10}, {5, 3, 15, 12}, {20, 10, 10, 10}, {8, 8, 6, 6}};
    float covv[4] = {0.3f, 1.0f, 0.55f, 0.8f};
    char *img[4], *cov[4];
    for (int f = 0; f < 4; f++) {
        char name[32];
        long n = box[f][2] * box[f][3];
        float *c = malloc((size_t)n * sizeof *c), *v = malloc((size_t)n * sizeof *v);
        for (long k = 0; k < n; k++) {
            c[k] = covv[f];
            v[k] = 3.25f;
        }
        c[0] = 0.0f; /* first pixel uncovered (value NaN, as Interpolate writes it) */
        v[0] = NAN;
        snprintf(name, sizeof name, "interp_f%d.fits", f);
        img[f] = write_img(d, name, box[f][0], box[f][1], box[f][2], box[f][3], v, 0, 0, "MJy/sr");
        snprintf(name, sizeof name, "interp_f%d_covg.fits", f);
        cov[f] = write_img(d, name, box[f][0], box[f][1], box[f][2], box[f][3], c, 0, 0, NULL);
        free(c);
        free(v);
    }
    mx_image *first = NULL; /* the instrument's identity travels to the mosaic */
    MXT_OK(mx_image_read(img[0], &first));
    MXT_OK(mx_header_set_string(first->hdr, "INSTRUME", "IRAC", NULL));
    MXT_OK(mx_header_set_long(first->hdr, "CHNLNUM", 2, NULL));
    MXT_OK(mx_image_write(first, img[0]));
    mx_image_free(first);
    mx_coadd_inputs in = {4, (const char *const *)img, (const char *const *)cov, NULL, NULL, NULL};
    mx_coadd_opts o = defopts();
    mx_coadd_result r;
    unsigned comb = 0;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    MXT_EQ_INT(r.ntiles, 1);
    MXT_EQ_INT(r.products, (1u << MX_PRODUCT_IMAGE) | (1u << MX_PRODUCT_COV)); /* no sigmas: no Unc */
    MXT_EQ_INT(comb, (1u << MX_PRODUCT_IMAGE) | (1u << MX_PRODUCT_COV));
    mx_image *m = read_out(d, "Combine-mosaic", "mosaic.fits");
    mx_image *cv = read_out(d, "Combine-mosaic", "mosaic_cov.fits");
    int bad = 0, covered = 0;
    for (long y = 0; y < 20; y++)
        for (long x = 0; x < 30; x++) {
            double csum = 0;
            for (int f = 0; f < 4; f++) {
                long i = x - box[f][0], j = y - box[f][1];
                if (i < 0 || j < 0 || i >= box[f][2] || j >= box[f][3] || (i == 0 && j == 0)) continue;
                csum += covv[f];
            }
            float mv = MX_PIX(m, x, y), cc = MX_PIX(cv, x, y);
            if (fabs(cc - csum) > 1e-6) bad++;
            if (csum > 0) {
                covered++;
                if (mv != 3.25f) bad++;
            } else if (!isnan(mv) || cc != 0.0f) {
                bad++;
            }
        }
    MXT_EQ_INT(bad, 0);
    MXT_TRUE(covered > 300);
    /* coverage of a fully covered pixel = number of images (checklist 4) */
    MXT_NEAR(MX_PIX(cv, 10, 9), 0.3 + 1.0 + 0.8, 1e-6);
    char buf[80];
    MXT_OK(mx_header_get_string(m->hdr, "BUNIT", buf, sizeof buf));
    MXT_EQ_STR(buf, "MJy/sr");
    MXT_OK(mx_header_get_string(m->hdr, "CTYPE1", buf, sizeof buf));
    MXT_EQ_STR(buf, "RA---TAN");
    double crpix;
    MXT_OK(mx_header_get_double(m->hdr, "CRPIX1", &crpix));
    MXT_NEAR(crpix, 15.5, 0);
    MXT_TRUE(!mx_header_has(m->hdr, "MINTOFFX"));
    MXT_OK(mx_header_get_string(m->hdr, "INSTRUME", buf, sizeof buf));
    MXT_EQ_STR(buf, "IRAC");
    long chn = 0;
    MXT_OK(mx_header_get_long(m->hdr, "CHNLNUM", &chn));
    MXT_EQ_INT(chn, 2);
    MXT_TRUE(!mx_header_has(cv->hdr, "BUNIT"));
    mx_image_free(m);
    mx_image_free(cv);
    /* bcd file and tile table */
    char *cd = J(d, "Coadd-mosaic"), *bcd = J(cd, "coadd_tile_bcd.txt"), *tt = J(cd, "coadd_tiles.tbl");
    char *text = read_text(bcd);
    MXT_EQ_STR(text, "1 4 0 1 2 3\n");
    free(text);
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(tt, &t));
    if (t) {
        MXT_EQ_STR(mx_table_get_keyword(t, "products"), "Image Cov");
        MXT_EQ_INT(t->nrows, 1);
        MXT_EQ_STR(mx_table_get_string(t, mx_table_find_column(t, "fname"), 0, buf, sizeof buf), "coadd_Tile_001");
        int64_t v;
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "naxis1"), 0, &v));
        MXT_EQ_INT(v, 30);
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "naxis2"), 0, &v));
        MXT_EQ_INT(v, 20);
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "xoff"), 0, &v));
        MXT_EQ_INT(v, 0);
    }
    mx_table_free(t);
    /* tile header: WCS shifted to the tile (one tile: unshifted), offsets */
    char *tile = J(cd, "coadd_Tile_001_Image.fits");
    mx_header *h = NULL;
    long nx, ny;
    int bp;
    MXT_OK(mx_fits_read_header(tile, &h, &nx, &ny, &bp));
    long off;
    MXT_OK(mx_header_get_long(h, "MINTOFFX", &off));
    MXT_EQ_INT(off, 0);
    mx_header_free(h);
    free(tile);
    free(cd);
    free(bcd);
    free(tt);
    free_paths(img, 4);
    free_paths(cov, 4);
    free(fif);
    free(d);
}

/* ---- checklist 1, 4, 5, 8: hand-computed O, U, C, S ----------------------------------- */
static void test_hand(void) {
    char *d = mkdir_case("hand");
    char *fif = J(d, "mosaic_fif.tbl");
    write_fif(fif, 6, 2);
    /* A: x 0..3 value 1 cov 0.5 sigma 0.1; B: x 1..4 value 2 cov 1 sigma 0.2;
     * C: x 2..5 value 4 cov 0.25 sigma 0.4 (each 4 x 2) */
    float v[3] = {1, 2, 4}, c[3] = {0.5f, 1.0f, 0.25f}, s[3] = {0.1f, 0.2f, 0.4f};
    char *img[3], *cov[3], *sig[3];
    for (int f = 0; f < 3; f++) {
        char name[40];
        snprintf(name, sizeof name, "interp_%c.fits", 'a' + f);
        img[f] = write_img(d, name, f, 0, 4, 2, NULL, v[f], 0, "MJy/sr");
        snprintf(name, sizeof name, "interp_%c_covg.fits", 'a' + f);
        cov[f] = write_img(d, name, f, 0, 4, 2, NULL, c[f], 0, NULL);
        snprintf(name, sizeof name, "interp_unc_%c_sigma.fits", 'a' + f);
        sig[f] = write_img(d, name, f, 0, 4, 2, NULL, s[f], 0, "MJy/sr");
    }
    mx_coadd_inputs in = {3, (const char *const *)img, (const char *const *)cov, (const char *const *)sig, NULL, NULL};
    mx_coadd_opts o = defopts();
    o.create_std = 1;
    mx_coadd_result r;
    unsigned comb = 0;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    MXT_EQ_INT(comb, (1u << MX_PRODUCT_IMAGE) | (1u << MX_PRODUCT_COV) | (1u << MX_PRODUCT_UNC) |
                         (1u << MX_PRODUCT_STD));
    mx_image *m = read_out(d, "Combine-mosaic", "mosaic.fits");
    mx_image *u = read_out(d, "Combine-mosaic", "mosaic_unc.fits");
    mx_image *cv = read_out(d, "Combine-mosaic", "mosaic_cov.fits");
    mx_image *sd = read_out(d, "Combine-mosaic", "mosaic_std.fits");
    /* columns: 0 A; 1 A B; 2,3 A B C; 4 B C; 5 C */
    double O[6] = {1, 2.5 / 1.5, 2.0, 2.0, 3.0 / 1.25, 4};
    double U[6] = {0.1, sqrt(0.0425) / 1.5, sqrt(0.0525) / 1.75, sqrt(0.0525) / 1.75, sqrt(0.05) / 1.25, 0.4};
    double C[6] = {0.5, 1.5, 1.75, 1.75, 1.25, 0.25};
    /* S^2 = sum c (I - O)^2 / sum c */
    double S[6] = {0, sqrt((0.5 * (1 - O[1]) * (1 - O[1]) + (2 - O[1]) * (2 - O[1])) / 1.5), sqrt(1.5 / 1.75),
                   sqrt(1.5 / 1.75), sqrt(((2 - 2.4) * (2 - 2.4) + 0.25 * (4 - 2.4) * (4 - 2.4)) / 1.25), 0};
    for (long y = 0; y < 2; y++)
        for (long x = 0; x < 6; x++) {
            MXT_NEAR(MX_PIX(m, x, y), O[x], 1e-6 * O[x]);
            MXT_NEAR(MX_PIX(u, x, y), U[x], 1e-6 * U[x]);
            MXT_NEAR(MX_PIX(cv, x, y), C[x], 1e-7);
            MXT_NEAR(MX_PIX(sd, x, y), S[x], 1e-6);
        }
    MXT_NEAR(MX_PIX(sd, 0, 0), 0.0, 0);
    mx_image_free(m);
    mx_image_free(u);
    mx_image_free(cv);
    mx_image_free(sd);
    char *cd = J(d, "Coadd-mosaic"), *t1 = J(cd, "coadd_Tile_001_Unc.fits"), *t2 = J(cd, "coadd_Tile_001_Std_Unc.fits");
    MXT_TRUE(mx_file_exists(t1));
    MXT_TRUE(mx_file_exists(t2));
    free(t1);
    free(t2);
    free(cd);

    /* sigma weighting: w = c / s^2: at column 2, w = 50, 25, 1.5625 */
    o = defopts();
    o.sigma_weighted = 1;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    m = read_out(d, "Combine-mosaic", "mosaic.fits");
    u = read_out(d, "Combine-mosaic", "mosaic_unc.fits");
    cv = read_out(d, "Combine-mosaic", "mosaic_cov.fits");
    double W = 50 + 25 + 1.5625;
    MXT_NEAR(MX_PIX(m, 2, 1), (50 * 1 + 25 * 2 + 1.5625 * 4) / W, 1e-6);
    MXT_NEAR(MX_PIX(u, 2, 1), 1 / sqrt(W), 1e-7);
    MXT_NEAR(MX_PIX(cv, 2, 1), 1.75, 1e-7);
    MXT_NEAR(MX_PIX(m, 5, 0), 4.0, 1e-6);
    MXT_NEAR(MX_PIX(u, 5, 0), 0.4 / sqrt(0.25), 1e-6);
    mx_image_free(m);
    mx_image_free(u);
    mx_image_free(cv);
    /* sigma weighting without uncertainties is refused */
    mx_coadd_inputs in2 = in;
    in2.sigmas = NULL;
    MXT_FAILS(run_all(d, &in2, &o, &r, &comb), MX_ERR_PARAM, "sigma_weighted_coadd needs");
    free_paths(img, 3);
    free_paths(cov, 3);
    free_paths(sig, 3);
    free(fif);
    free(d);
}

/* ---- checklist 5: exposure-time weighting ------------------------------------------ */
static void test_time(void) {
    char *d = mkdir_case("time");
    char *fif = J(d, "mosaic_fif.tbl");
    write_fif(fif, 5, 4);
    double T[3] = {0.4, 10.4, 96.8};
    char *img[3], *sig[3];
    for (int f = 0; f < 3; f++) {
        char name[40];
        snprintf(name, sizeof name, "interp_t%d.fits", f);
        img[f] = write_img(d, name, 0, 0, 5, 4, NULL, (float)(f + 1), T[f], "MJy/sr");
        snprintf(name, sizeof name, "interp_unc_t%d_sigma.fits", f);
        sig[f] = write_img(d, name, 0, 0, 5, 4, NULL, 1.0f, 0, NULL);
    }
    mx_coadd_inputs in = {3, (const char *const *)img, NULL, (const char *const *)sig, NULL, NULL};
    mx_coadd_opts o = defopts();
    o.time_keyword = "EXPTIME";
    o.create_std = 1;
    mx_coadd_result r;
    unsigned comb = 0;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    MXT_TRUE(r.products & (1u << MX_PRODUCT_TIME));
    MXT_TRUE(!(comb & (1u << MX_PRODUCT_TIME))); /* exposure time stays per tile (000 l.3731-3734) */
    mx_image *m = read_out(d, "Combine-mosaic", "mosaic.fits");
    mx_image *u = read_out(d, "Combine-mosaic", "mosaic_unc.fits");
    mx_image *cv = read_out(d, "Combine-mosaic", "mosaic_cov.fits");
    mx_image *sd = read_out(d, "Combine-mosaic", "mosaic_std.fits");
    mx_image *tt = read_out(d, "Coadd-mosaic", "coadd_Tile_001_Time.fits");
    double W = 0.4 + 10.4 + 96.8, O = (0.4 * 1 + 10.4 * 2 + 96.8 * 3) / W;
    MXT_NEAR(O, 311.6 / 107.6, 1e-12);
    MXT_NEAR(MX_PIX(m, 3, 2), O, 2e-7);
    MXT_TRUE(MX_PIX(m, 3, 2) > 2.0f); /* the long exposure pulls the mean towards 3 */
    MXT_NEAR(MX_PIX(u, 3, 2), sqrt(0.4 * 0.4 + 10.4 * 10.4 + 96.8 * 96.8) / W, 1e-7);
    MXT_NEAR(MX_PIX(cv, 3, 2), 3.0, 0); /* coverage stays the number of good pixels */
    MXT_NEAR(MX_PIX(tt, 3, 2), 107.6, 1e-5);
    double S2 = (0.4 * (1 - O) * (1 - O) + 10.4 * (2 - O) * (2 - O) + 96.8 * (3 - O) * (3 - O)) / W;
    MXT_NEAR(MX_PIX(sd, 3, 2), sqrt(S2), 1e-6);
    mx_image_free(m);
    mx_image_free(u);
    mx_image_free(cv);
    mx_image_free(sd);
    mx_image_free(tt);
    /* a frame without the keyword: error naming the file */
    free(img[1]);
    img[1] = write_img(d, "interp_t1.fits", 0, 0, 5, 4, NULL, 2.0f, 0, "MJy/sr");
    MXT_FAILS(run_all(d, &in, &o, &r, &comb), MX_ERR_NOTFOUND, "interp_t1.fits' (frame 2) has no EXPTIME");
    free_paths(img, 3);
    free_paths(sig, 3);
    free(fif);
    free(d);
}

/* ---- checklist 6, 7, 8: median, absolute minimum, std of identical frames ---------------- */
static void test_median_absmin(void) {
    char *d = mkdir_case("median");
    char *fif = J(d, "mosaic_fif.tbl");
    write_fif(fif, 3, 3);
    float mv[5] = {5, 1, 3, 2, -7}, mc[5] = {1, 0.5f, 0.7f, 1, 0};
    char *img[5], *cov[5], *sig[5];
    for (int f = 0; f < 5; f++) {
        char name[40];
        snprintf(name, sizeof name, "interp_m%d.fits", f);
        img[f] = write_img(d, name, 0, 0, 3, 3, NULL, mv[f], 0, NULL);
        snprintf(name, sizeof name, "interp_m%d_covg.fits", f);
        cov[f] = write_img(d, name, 0, 0, 3, 3, NULL, mc[f], 0, NULL);
        snprintf(name, sizeof name, "interp_unc_m%d_sigma.fits", f);
        sig[f] = write_img(d, name, 0, 0, 3, 3, NULL, 0.1f * (float)(f + 1), 0, NULL);
    }
    mx_coadd_inputs in = {5, (const char *const *)img, (const char *const *)cov, (const char *const *)sig, NULL, NULL};
    mx_coadd_opts o = defopts();
    o.create_median = 1;
    mx_coadd_result r;
    unsigned comb = 0;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    MXT_TRUE(comb & (1u << MX_PRODUCT_MEDIAN));
    mx_image *md = read_out(d, "Combine-mosaic", "median_mosaic.fits");
    MXT_NEAR(MX_PIX(md, 1, 1), 3.0, 0); /* counted 5 1 3 2 -> 1 2 3 5 -> upper median 3 */
    mx_image_free(md);
    char *cd = J(d, "Coadd-mosaic"), *p1 = J(cd, "coadd_median_tile_bcd.txt"), *p2 = J(cd, "coadd_median_tiles.tbl");
    char *text = read_text(p1);
    MXT_EQ_STR(text, "1 5 0 1 2 3 4\n");
    free(text);
    MXT_TRUE(mx_file_exists(p2));
    free(p1);
    free(p2);

    /* absolute minimum: 5 -1.5 3 1.5 and an uncovered 0.1: -1.5 wins the tie (stack order) */
    float av[5] = {5, -1.5f, 3, 1.5f, 0.1f};
    for (int f = 0; f < 5; f++) {
        char name[40];
        snprintf(name, sizeof name, "interp_m%d.fits", f);
        free(img[f]);
        img[f] = write_img(d, name, 0, 0, 3, 3, NULL, av[f], 0, NULL);
    }
    o = defopts();
    o.absolute_minimum = 1;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    mx_image *m = read_out(d, "Combine-mosaic", "mosaic.fits");
    mx_image *u = read_out(d, "Combine-mosaic", "mosaic_unc.fits");
    mx_image *cv = read_out(d, "Combine-mosaic", "mosaic_cov.fits");
    MXT_NEAR(MX_PIX(m, 2, 0), -1.5, 0);
    MXT_NEAR(MX_PIX(u, 2, 0), 0.2f, 0);
    MXT_NEAR(MX_PIX(cv, 2, 0), 3.2, 1e-6);
    mx_image_free(m);
    mx_image_free(u);
    mx_image_free(cv);

    /* identical frames: std exactly 0, mosaic exactly the frame */
    float pat[9] = {0.1f, -3.7f, 12.5f, 1e-3f, 7.25f, 2.2f, -0.3f, 5.5f, 9.75f};
    for (int f = 0; f < 5; f++) {
        char name[40];
        snprintf(name, sizeof name, "interp_m%d.fits", f);
        free(img[f]);
        img[f] = write_img(d, name, 0, 0, 3, 3, pat, 0, 0, NULL);
    }
    o = defopts();
    o.create_std = 1;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    mx_image *sd = read_out(d, "Combine-mosaic", "mosaic_std.fits");
    m = read_out(d, "Combine-mosaic", "mosaic.fits");
    int bad = 0;
    for (int k = 0; k < 9; k++) {
        if (sd->data[k] != 0.0f) bad++;
        if (m->data[k] != pat[k]) bad++;
    }
    MXT_EQ_INT(bad, 0);
    mx_image_free(sd);
    mx_image_free(m);
    free(cd);
    free_paths(img, 5);
    free_paths(cov, 5);
    free_paths(sig, 5);
    free(fif);
    free(d);
}

/* ---- checklist 34: outlier and dual outlier mosaics ----------------------------------- */
static void test_outlier_mosaics(void) {
    char *d = mkdir_case("outlier");
    char *fif = J(d, "mosaic_fif.tbl");
    write_fif(fif, 4, 3);
    char *img[2], *cov[2], *om[2], *dm[2];
    img[0] = write_img(d, "interp_o0.fits", 0, 0, 4, 3, NULL, 1.0f, 0, NULL);
    img[1] = write_img(d, "interp_o1.fits", 0, 0, 4, 3, NULL, 2.0f, 0, NULL);
    cov[0] = write_img(d, "interp_o0_covg.fits", 0, 0, 4, 3, NULL, 1.0f, 0, NULL);
    cov[1] = write_img(d, "interp_o1_covg.fits", 0, 0, 4, 3, NULL, 0.5f, 0, NULL);
    om[0] = write_img(d, "interp_o0_outlier.fits", 0, 0, 4, 3, NULL, 0.0f, 0, NULL);
    om[1] = write_img(d, "interp_o1_outlier.fits", 0, 0, 4, 3, NULL, 4.0f, 0, NULL);
    dm[0] = write_img(d, "proj_o0_dual.fits", 0, 0, 4, 3, NULL, -3.0f, 0, NULL);
    dm[1] = write_img(d, "proj_o1_dual.fits", 0, 0, 4, 3, NULL, NAN, 0, NULL);
    mx_coadd_inputs in = {2, (const char *const *)img, (const char *const *)cov, NULL,
                          (const char *const *)om, (const char *const *)dm};
    mx_coadd_opts o = defopts();
    o.create_outlier = o.create_dual_outlier = 1;
    mx_coadd_result r;
    unsigned comb = 0;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    MXT_TRUE(comb & (1u << MX_PRODUCT_OUTLIER));
    MXT_TRUE(comb & (1u << MX_PRODUCT_DUAL_OUTLIER));
    mx_image *a = read_out(d, "Combine-mosaic", "mosaic_outlier.fits");
    mx_image *b = read_out(d, "Combine-mosaic", "mosaic_dual_outlier.fits");
    MXT_NEAR(MX_PIX(a, 1, 1), 2.0 / 1.5, 1e-7);
    MXT_NEAR(MX_PIX(b, 1, 1), -3.0, 0);
    mx_image_free(a);
    mx_image_free(b);
    const char *subs[2] = {"Outlier-mosaic", "DualOutlier-mosaic"};
    for (int k = 0; k < 2; k++) {
        char *od = J(d, subs[k]), *p1 = J(od, "tile_bcd.txt"), *p2 = J(od, "tiles.tbl"), *p3 = J(od, "Tile_001_Image.fits");
        char *text = read_text(p1);
        MXT_EQ_STR(text, "1 2 0 1\n");
        free(text);
        MXT_TRUE(mx_file_exists(p2));
        MXT_TRUE(mx_file_exists(p3));
        free(od);
        free(p1);
        free(p2);
        free(p3);
    }
    /* not requested: no outlier tiles in the manifest */
    o.create_outlier = o.create_dual_outlier = 0;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    MXT_EQ_INT(comb, (1u << MX_PRODUCT_IMAGE) | (1u << MX_PRODUCT_COV));
    free_paths(img, 2);
    free_paths(cov, 2);
    free_paths(om, 2);
    free_paths(dm, 2);
    free(fif);
    free(d);
}

/* ---- checklist 10: the guide's tiling example ------------------------------------------ */
static void test_tiling_4450(void) {
    char *d = mkdir_case("tiling");
    char *fif = J(d, "mosaic_fif.tbl");
    write_fif(fif, 4450, 1024);
    char *img = write_img(d, "interp_x.fits", 2000, 600, 10, 10, NULL, 6.5f, 0, NULL);
    mx_coadd_inputs in = {1, (const char *const *)&img, NULL, NULL, NULL, NULL};
    mx_coadd_opts o = defopts();
    o.tilemax_x = o.tilemax_y = 500;
    mx_coadd_result r;
    unsigned comb = 0;
    double t0 = now();
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    printf("4450 x 1024, 18 tiles: coadd + combine %.3f s\n", now() - t0);
    MXT_EQ_INT(r.ntiles, 18);
    char *cd = J(d, "Coadd-mosaic"), *tt = J(cd, "coadd_tiles.tbl"), *bcd = J(cd, "coadd_tile_bcd.txt");
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(tt, &t));
    if (t) {
        MXT_EQ_INT(t->nrows, 18);
        int cw = mx_table_find_column(t, "naxis1"), ch = mx_table_find_column(t, "naxis2");
        int cx = mx_table_find_column(t, "xoff"), cy = mx_table_find_column(t, "yoff");
        int bad = 0;
        for (long k = 0; k < 18; k++) {
            int64_t w, h, x, y;
            mx_table_get_int(t, cw, k, &w);
            mx_table_get_int(t, ch, k, &h);
            mx_table_get_int(t, cx, k, &x);
            mx_table_get_int(t, cy, k, &y);
            if (w != (k % 9 == 8 ? 498 : 494) || h != 512 || x != (k % 9) * 494 || y != (k / 9) * 512) bad++;
        }
        MXT_EQ_INT(bad, 0);
        char buf[64];
        MXT_EQ_STR(mx_table_get_string(t, mx_table_find_column(t, "fname"), 17, buf, sizeof buf), "coadd_Tile_018");
    }
    mx_table_free(t);
    /* the frame at (2000..2009, 600..609) lies in tile 14 (x 1976..2469, y 512..1023) */
    char *text = read_text(bcd);
    MXT_TRUE(text && strstr(text, "\n14 1 0\n") != NULL);
    MXT_TRUE(text && strncmp(text, "1 0\n2 0\n", 8) == 0);
    free(text);
    mx_image *m = read_out(d, "Combine-mosaic", "mosaic.fits");
    MXT_EQ_INT(m->nx, 4450);
    MXT_EQ_INT(m->ny, 1024);
    MXT_NEAR(MX_PIX(m, 2005, 605), 6.5, 0);
    MXT_TRUE(isnan(MX_PIX(m, 1999, 605)));
    mx_image_free(m);
    free(cd);
    free(tt);
    free(bcd);
    free(img);
    free(fif);
    free(d);
}

/* ---- checklist 10: tile size, band height and threads do not change a bit ----------------- */
static int same_bits(const mx_image *a, const mx_image *b) {
    if (!a || !b || a->nx != b->nx || a->ny != b->ny) return 0;
    for (long k = 0; k < a->nx * a->ny; k++) {
        float x = a->data[k], y = b->data[k];
        if (isnan(x) && isnan(y)) continue;
        if (memcmp(&x, &y, sizeof x) != 0) return 0;
    }
    return 1;
}

static void test_invariance(void) {
    char *d = mkdir_case("invariance");
    char *fif = J(d, "mosaic_fif.tbl");
    enum { N = 12, NX = 157, NY = 133 };
    write_fif(fif, NX, NY);
    char *img[N], *cov[N], *sig[N];
    long bx[N][4];
    unsigned seed = 12345;
#define RND() (seed = seed * 1664525u + 1013904223u, (double)(seed >> 8) / 16777216.0)
    float *vals[N], *covs[N];
    for (int f = 0; f < N; f++) {
        long nx = 40 + (long)(RND() * 60), ny = 30 + (long)(RND() * 60);
        long x0 = (long)(RND() * (NX - nx + 1)), y0 = (long)(RND() * (NY - ny + 1));
        bx[f][0] = x0, bx[f][1] = y0, bx[f][2] = nx, bx[f][3] = ny;
        float *v = malloc((size_t)(nx * ny) * sizeof *v), *c = malloc((size_t)(nx * ny) * sizeof *c),
              *s = malloc((size_t)(nx * ny) * sizeof *s);
        for (long k = 0; k < nx * ny; k++) {
            v[k] = (float)(10.0 + 3.0 * RND() + (f % 3));
            c[k] = (float)RND();
            if (c[k] < 0.1f) c[k] = 0.0f;
            s[k] = (float)(0.5 + RND());
        }
        v[nx + 3] = NAN; /* a NaN with coverage: never counted */
        char name[48];
        snprintf(name, sizeof name, "interp_r%02d.fits", f);
        img[f] = write_img(d, name, x0, y0, nx, ny, v, 0, 10.0 + f, "MJy/sr");
        snprintf(name, sizeof name, "interp_r%02d_covg.fits", f);
        cov[f] = write_img(d, name, x0, y0, nx, ny, c, 0, 0, NULL);
        snprintf(name, sizeof name, "interp_unc_r%02d_sigma.fits", f);
        sig[f] = write_img(d, name, x0, y0, nx, ny, s, 0, 0, NULL);
        vals[f] = v;
        covs[f] = c;
        free(s);
    }
    mx_coadd_inputs in = {N, (const char *const *)img, (const char *const *)cov, (const char *const *)sig, NULL, NULL};
    static const char *const outs[5] = {"mosaic.fits", "mosaic_cov.fits", "mosaic_unc.fits", "mosaic_std.fits",
                                        "median_mosaic.fits"};
    mx_image *ref[5] = {0};
    struct {
        int threads;
        long tx, ty;
        size_t budget;
    } cfg[4] = {{1, 1000, 1000, 0}, {4, 13, 17, 0}, {3, 40, 9, 2048}, {2, 157, 133, 1}};
    for (int time_w = 0; time_w < 2; time_w++) {
        for (int k = 0; k < 4; k++) {
            mx_set_threads(cfg[k].threads);
            mx_coadd_opts o = defopts();
            o.tilemax_x = cfg[k].tx;
            o.tilemax_y = cfg[k].ty;
            o.memory_budget = cfg[k].budget;
            o.create_std = o.create_median = 1;
            o.time_keyword = time_w ? "EXPTIME" : NULL;
            mx_coadd_result r;
            unsigned comb = 0;
            double t0 = now();
            MXT_OK(run_all(d, &in, &o, &r, &comb));
            printf("invariance: %d threads, tiles %ld x %ld (%d), budget %zu, time %d: %.3f s\n", cfg[k].threads,
                   cfg[k].tx, cfg[k].ty, r.ntiles, cfg[k].budget, time_w, now() - t0);
            for (int p = 0; p < 5; p++) {
                mx_image *m = read_out(d, "Combine-mosaic", outs[p]);
                if (k == 0) {
                    mx_image_free(ref[p]);
                    ref[p] = m;
                } else {
                    MXT_CHECK(same_bits(ref[p], m), "%s differs: config %d, time %d", outs[p], k, time_w);
                    mx_image_free(m);
                }
            }
        }
        /* in-memory reference of the straight (or time-weighted) average and coverage */
        int bad = 0;
        for (long y = 0; y < NY; y++)
            for (long x = 0; x < NX; x++) {
                double sw = 0, swi = 0, sc = 0;
                for (int f = 0; f < N; f++) {
                    long i = x - bx[f][0], j = y - bx[f][1];
                    if (i < 0 || j < 0 || i >= bx[f][2] || j >= bx[f][3]) continue;
                    float c = covs[f][j * bx[f][2] + i], v = vals[f][j * bx[f][2] + i];
                    if (!(c > 0) || !isfinite(v)) continue;
                    double w = c * (time_w ? 10.0 + f : 1.0);
                    sw += w;
                    swi += w * v;
                    sc += c;
                }
                float mo = MX_PIX(ref[0], x, y), co = MX_PIX(ref[1], x, y);
                if (fabs(co - sc) > 1e-5) bad++;
                if (sc > 0 ? fabs(mo - swi / sw) > 2e-6 * fabs(swi / sw) : !isnan(mo)) bad++;
            }
        MXT_EQ_INT(bad, 0);
    }
    mx_set_threads(0);
    /* the combined mosaic is the tiles pasted: tile 5 of the last run (157 x 133 / 1 tile) */
    for (int p = 0; p < 5; p++) mx_image_free(ref[p]);
    for (int f = 0; f < N; f++) {
        free(vals[f]);
        free(covs[f]);
    }
    free_paths(img, N);
    free_paths(cov, N);
    free_paths(sig, N);
    free(fif);
    free(d);
#undef RND
}

/* ---- Combine: pasting, partition checks, deletion ------------------------------------------ */
static void test_combine(void) {
    char *d = mkdir_case("combine");
    char *fif = J(d, "mosaic_fif.tbl");
    write_fif(fif, 23, 19);
    float v[23 * 19];
    for (int k = 0; k < 23 * 19; k++) v[k] = (float)k * 0.5f - 7.0f;
    char *img = write_img(d, "interp_full.fits", 0, 0, 23, 19, v, 0, 0, NULL);
    mx_coadd_inputs in = {1, (const char *const *)&img, NULL, NULL, NULL, NULL};
    mx_coadd_opts o = defopts();
    o.tilemax_x = 7;
    o.tilemax_y = 5;
    mx_coadd_result r;
    unsigned comb = 0;
    MXT_OK(run_all(d, &in, &o, &r, &comb));
    MXT_EQ_INT(r.ntiles, 3 * 4);
    mx_image *m = read_out(d, "Combine-mosaic", "mosaic.fits");
    MXT_TRUE(m && memcmp(m->data, v, sizeof v) == 0); /* in-memory reference: the frame itself */
    mx_image_free(m);
    char *cd = J(d, "Coadd-mosaic"), *tt = J(cd, "coadd_tiles.tbl"), *out = J(d, "x.fits");
    remove(out);
    /* every tile equals its region of the mosaic */
    m = read_out(d, "Combine-mosaic", "mosaic.fits");
    mx_image *t7 = read_out(d, "Coadd-mosaic", "coadd_Tile_004_Image.fits"); /* tile (0, 1): x 0..6, y 4..7 */
    int bad = 0;
    for (long j = 0; t7 && j < t7->ny; j++)
        for (long i = 0; i < t7->nx; i++)
            if (MX_PIX(t7, i, j) != MX_PIX(m, i, j + 4)) bad++;
    MXT_EQ_INT(bad, 0);
    MXT_EQ_INT(t7 ? t7->nx : 0, 7);
    MXT_EQ_INT(t7 ? t7->ny : 0, 4);
    mx_image_free(t7);
    mx_image_free(m);
    /* a table whose tiles leave a gap */
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(tt, &t));
    char *bad_tt = J(cd, "bad_tiles.tbl");
    mx_table_set_int(t, mx_table_find_column(t, "naxis1"), 1, 5);
    MXT_OK(mx_table_write_ipac(t, bad_tt));
    MXT_FAILS(mx_combine_tiles(bad_tt, "_Image.fits", fif, out), MX_ERR_FORMAT, "does not continue the band");
    mx_table_free(t);
    MXT_TRUE(!mx_file_exists(out));
    /* the formats.md spelling of the columns is read too */
    mx_tile *tiles = NULL;
    int nt = 0;
    MXT_OK(mx_tiling(23, 19, 7, 5, &tiles, &nt));
    MXT_OK(mx_tiles_table(tiles, nt, "coadd_", NULL, "test", &t));
    char *alt = J(cd, "alt_tiles.tbl");
    MXT_OK(mx_table_write_ipac(t, alt));
    MXT_OK(mx_combine_tiles(alt, "_Image.fits", fif, out));
    mx_image *x = NULL;
    MXT_OK(mx_image_read(out, &x));
    MXT_TRUE(x && memcmp(x->data, v, sizeof v) == 0);
    mx_image_free(x);
    mx_table_free(t);
    free(tiles);
    /* deletion of the tiles */
    char *cm = J(d, "Combine-mosaic"), *gone = J(cd, "coadd_Tile_012_Cov.fits");
    mx_combine_opts co = {NULL, NULL, 1};
    MXT_TRUE(mx_file_exists(gone));
    MXT_OK(mx_combine_run(cd, fif, cm, &co, &comb));
    MXT_TRUE(!mx_file_exists(gone));
    MXT_TRUE(mx_file_exists(tt));
    char *mos = J(cm, "mosaic.fits");
    MXT_TRUE(mx_file_exists(mos));
    free(mos);
    /* no tiles table */
    char *empty = J(d, "nothing");
    MXT_FAILS(mx_combine_run(empty, fif, cm, &co, &comb), MX_ERR_IO, "run the Mosaic CoAdder first");
    free(empty);
    free(cm);
    free(gone);
    free(alt);
    free(bad_tt);
    free(cd);
    free(tt);
    free(out);
    free(img);
    free(fif);
    free(d);
}

/* ---- checklist 33: Fix Coverage ------------------------------------------------------------ */
static void test_fix_coverage(void) {
    enum { W = 7, H = 6 };
    float in[W * H], out[W * H];
    for (int k = 0; k < W * H; k++) in[k] = 1.0f;
    in[2 * W + 2] = 0.9f;                                     /* below Min_Single: 0 */
    in[3 * W + 5] = 0.5f;                                     /* neighbours of (4, 3) etc. */
    MXT_OK(mx_fix_coverage(in, W, H, 0.95, 0.83, out));
    MXT_NEAR(out[2 * W + 2], 0.0, 0);
    /* (3, 2): block holds 0.9 -> 8.9 >= 7.47: kept (tests use the original map) */
    MXT_NEAR(out[2 * W + 3], 1.0, 0);
    /* corners (block 4 of 9) and edges (6 of 9) fall below 9 x 0.83 */
    MXT_NEAR(out[0], 0.0, 0);
    MXT_NEAR(out[3 * W + 0], 0.0, 0);
    MXT_NEAR(out[3 * W + 3], 1.0, 0);
    /* (5, 3) itself 0.5 < 0.95: 0; (4, 3) block 8.5: kept */
    MXT_NEAR(out[3 * W + 5], 0.0, 0);
    MXT_NEAR(out[3 * W + 4], 1.0, 0);
    /* four neighbours at 0.5: 7.0 < 7.47 -> 0, although the pixel is 1 */
    float in2[25], out2[25];
    for (int k = 0; k < 25; k++) in2[k] = 1.0f;
    in2[1 * 5 + 1] = in2[1 * 5 + 2] = in2[1 * 5 + 3] = in2[2 * 5 + 1] = 0.5f;
    MXT_OK(mx_fix_coverage(in2, 5, 5, 0.95, 0.83, out2));
    MXT_NEAR(out2[2 * 5 + 2], 0.0, 0);
    in2[2 * 5 + 1] = 1.0f; /* three: 7.5 -> kept */
    MXT_OK(mx_fix_coverage(in2, 5, 5, 0.95, 0.83, out2));
    MXT_NEAR(out2[2 * 5 + 2], 1.0, 0);
    in2[0] = NAN;
    MXT_OK(mx_fix_coverage(in2, 5, 5, 0.95, 0.83, out2));
    MXT_NEAR(out2[0], 0.0, 0);
    MXT_FAILS(mx_fix_coverage(in2, 5, 5, 0.95, 0.83, in2), MX_ERR_PARAM, "alias");
    /* files: header (offsets) kept */
    char *d = mkdir_case("fixcov");
    char *p = write_img(d, "interp_a_covg.fits", 3, 4, W, H, in, 0, 0, NULL);
    char *q = J(d, "fixed_covg_a.fits");
    const char *pi[1] = {p}, *po[1] = {q};
    MXT_OK(mx_fix_coverage_run(1, pi, po, 0.95, 0.83));
    mx_image *img = NULL;
    MXT_OK(mx_image_read(q, &img));
    if (img) {
        MXT_TRUE(memcmp(img->data, out, sizeof out) == 0);
        long v;
        MXT_OK(mx_header_get_long(img->hdr, "MINTOFFX", &v));
        MXT_EQ_INT(v, 3);
    }
    mx_image_free(img);
    free(p);
    free(q);
    free(d);
}

/* ---- checklist 35: Mosaic MedFilter of a flat mosaic ------------------------------------------ */
static void test_mosaic_medfilter(void) {
    char *d = mkdir_case("medfilter");
    enum { W = 60, H = 50 };
    float *m = malloc(W * H * sizeof *m), *c = malloc(W * H * sizeof *c);
    for (int k = 0; k < W * H; k++) {
        m[k] = 7.0f;
        c[k] = (k % W) < 10 ? 0.0f : 2.0f;
    }
    m[5] = NAN;
    m[30 * W + 20] = 1000.0f; /* a source does not move the background */
    char *mp = write_img(d, "mosaic.fits", 0, 0, W, H, m, 0, 0, "MJy/sr");
    char *cp = write_img(d, "mosaic_cov.fits", 0, 0, W, H, c, 0, 0, NULL);
    char *op = J(d, "mosaic_minback.fits");
    mx_medfilter_opts o;
    memset(&o, 0, sizeof o);
    o.window_x = o.window_y = 45;
    o.n_outliers = 500;
    o.min_good = 1;
    o.min_good_neighbors = 4;
    MXT_OK(mx_mosaic_medfilter_run(mp, cp, &o, op));
    mx_image *r = NULL;
    MXT_OK(mx_image_read(op, &r));
    int bad = 0;
    for (int k = 0; r && k < W * H; k++) {
        float e = (k % W) < 10 ? NAN : (k == 30 * W + 20 ? 993.0f : 0.0f);
        if (isnan(e) ? !isnan(r->data[k]) : r->data[k] != e) bad++;
    }
    MXT_EQ_INT(bad, 0);
    char buf[32];
    if (r) {
        MXT_OK(mx_header_get_string(r->hdr, "BUNIT", buf, sizeof buf));
        MXT_EQ_STR(buf, "MJy/sr");
    }
    mx_image_free(r);
    free(m);
    free(c);
    free(mp);
    free(cp);
    free(op);
    free(d);
}

/* ---- streaming memory of the combine (child process) --------------------------------------- */
/* Peak resident set of this process image in kB: VmHWM (Linux), which
 * starts afresh at exec, unlike ru_maxrss, which keeps the pre-exec peak of
 * the forking test. */
static long maxrss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb;
}

static int combine_child(const char *table, const char *fif, const char *out) {
    long before = maxrss_kb();
    double t0 = now();
    int st = mx_combine_tiles(table, "_Image.fits", fif, out);
    double dt = now() - t0;
    long after = maxrss_kb();
    printf("%ld %ld %.4f\n", before, after, dt);
    if (st != MX_OK) fprintf(stderr, "combine: %s\n", mx_errmsg());
    return st == MX_OK ? 0 : 1;
}

static void test_combine_memory(void) {
    char *d = mkdir_case("memory");
    char *fif = J(d, "mosaic_fif.tbl");
    enum { NX = 4000, NY = 4000 };
    write_fif(fif, NX, NY);
    float *v = malloc(300 * 200 * sizeof *v);
    for (int k = 0; k < 300 * 200; k++) v[k] = (float)k;
    char *img = write_img(d, "interp_one.fits", 1234, 2345, 300, 200, v, 0, 0, NULL);
    free(v);
    mx_coadd_inputs in = {1, (const char *const *)&img, NULL, NULL, NULL, NULL};
    mx_coadd_opts o = defopts();
    o.tilemax_x = o.tilemax_y = 400;
    mx_coadd_result r;
    char *cd = J(d, "Coadd-mosaic"), *od = J(d, "o"), *dd = J(d, "dd");
    mx_coadd_dirs dirs = {cd, od, dd};
    double t0 = now();
    MXT_OK(mx_coadd_run(&in, fif, &o, &dirs, &r));
    printf("coadd of a %d x %d grid, %d tiles: %.3f s\n", NX, NY, r.ntiles, now() - t0);
    char *tt = J(cd, "coadd_tiles.tbl"), *out = J(d, "mosaic.fits");
    int fd[2];
    if (pipe(fd) != 0) {
        MXT_TRUE(0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        execl("/proc/self/exe", "test_coadd", "--combine-child", tt, fif, out, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[256] = "";
    ssize_t n = read(fd[0], buf, sizeof buf - 1);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    MXT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    long before = 0, after = 0;
    double dt = 0;
    MXT_TRUE(n > 0 && sscanf(buf, "%ld %ld %lf", &before, &after, &dt) == 3);
    double band_mb = (double)NX * 400 * 4 / 1048576.0, mosaic_mb = (double)NX * NY * 4 / 1048576.0;
    printf("combine %d x %d (%.0f MB) in tiles of 400: %.3f s, peak RSS %.1f MB -> %.1f MB (+%.1f MB; one band "
           "is %.1f MB)\n",
           NX, NY, mosaic_mb, dt, before / 1024.0, after / 1024.0, (after - before) / 1024.0, band_mb);
    if (!getenv("MOPEX_SANITIZED") || strcmp(getenv("MOPEX_SANITIZED"), "1") != 0)
        MXT_CHECK((after - before) / 1024.0 < 3 * band_mb + 4, "combine grew by %.1f MB", (after - before) / 1024.0);
    mx_image *m = NULL;
    MXT_OK(mx_image_read(out, &m));
    if (m) {
        MXT_NEAR(MX_PIX(m, 1234 + 17, 2345 + 11), 11 * 300 + 17, 0);
        MXT_TRUE(isnan(MX_PIX(m, 0, 0)));
    }
    mx_image_free(m);
    /* free the disk */
    for (int id = 1; id <= r.ntiles; id++)
        for (int p = MX_PRODUCT_IMAGE; p <= MX_PRODUCT_COV; p++) {
            char name[64];
            mx_coadd_tile_name(p, id, name, sizeof name);
            char *tp = J(cd, name);
            remove(tp);
            free(tp);
        }
    remove(out);
    free(tt);
    free(out);
    free(cd);
    free(od);
    free(dd);
    free(img);
    free(fif);
    free(d);
}

/* ---- timing of a realistic stack ------------------------------------------------------------- */
static void test_timing(void) {
    char *d = mkdir_case("timing");
    char *fif = J(d, "mosaic_fif.tbl");
    enum { N = 60, FX = 256, FY = 256, GX = 1200, GY = 1000 };
    write_fif(fif, GX, GY);
    char *img[N], *cov[N], *sig[N];
    float *v = malloc(FX * FY * sizeof *v), *c = malloc(FX * FY * sizeof *c), *s = malloc(FX * FY * sizeof *s);
    for (int k = 0; k < FX * FY; k++) {
        v[k] = (float)(k % 97) * 0.01f;
        c[k] = 0.8f + 0.2f * (float)((k * 7) % 11) / 10.0f;
        s[k] = 0.05f;
    }
    for (int f = 0; f < N; f++) {
        char name[48];
        long x0 = (f * 131) % (GX - FX), y0 = (f * 71) % (GY - FY);
        snprintf(name, sizeof name, "interp_%02d.fits", f);
        img[f] = write_img(d, name, x0, y0, FX, FY, v, 0, 50.0, "MJy/sr");
        snprintf(name, sizeof name, "interp_%02d_covg.fits", f);
        cov[f] = write_img(d, name, x0, y0, FX, FY, c, 0, 0, NULL);
        snprintf(name, sizeof name, "interp_unc_%02d_sigma.fits", f);
        sig[f] = write_img(d, name, x0, y0, FX, FY, s, 0, 0, NULL);
    }
    free(v);
    free(c);
    free(s);
    mx_coadd_inputs in = {N, (const char *const *)img, (const char *const *)cov, (const char *const *)sig, NULL, NULL};
    for (int threads = 1; threads <= 4; threads *= 4) {
        mx_set_threads(threads);
        mx_coadd_opts o = defopts();
        o.tilemax_x = o.tilemax_y = 500;
        o.create_std = 1;
        mx_coadd_result r;
        unsigned comb;
        char *cd = J(d, "Coadd-mosaic"), *cm = J(d, "Combine-mosaic");
        mx_coadd_dirs dirs = {cd, NULL, NULL};
        double t0 = now();
        MXT_OK(mx_coadd_run(&in, fif, &o, &dirs, &r));
        double t1 = now();
        mx_combine_opts co = {NULL, NULL, 0};
        MXT_OK(mx_combine_run(cd, fif, cm, &co, &comb));
        double t2 = now();
        printf("timing: %d frames of %dx%d (image, coverage, sigma) on %dx%d, %d tiles, %d thread(s): "
               "coadd %.3f s (%.1f Mpix/s of input), combine %.3f s\n",
               N, FX, FY, GX, GY, r.ntiles, threads, t1 - t0, (double)N * FX * FY / (t1 - t0) / 1e6, t2 - t1);
        free(cd);
        free(cm);
    }
    mx_set_threads(0);
    free_paths(img, N);
    free_paths(cov, N);
    free_paths(sig, N);
    free(fif);
    free(d);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--combine-child") == 0) return combine_child(argv[2], argv[3], argv[4]);
    mx_log_set_level(MX_LOG_WARN);
    snprintf(root, sizeof root, "%s", mxt_tmp_dir("test_coadd"));
    if (argc == 3 && strcmp(argv[1], "--only") == 0) { /* for profiling one case */
        if (strcmp(argv[2], "timing") == 0) MXT_RUN(test_timing);
        if (strcmp(argv[2], "memory") == 0) MXT_RUN(test_combine_memory);
        return mxt_summary();
    }
    MXT_RUN(test_constant);
    MXT_RUN(test_hand);
    MXT_RUN(test_time);
    MXT_RUN(test_median_absmin);
    MXT_RUN(test_outlier_mosaics);
    MXT_RUN(test_tiling_4450);
    MXT_RUN(test_invariance);
    MXT_RUN(test_combine);
    MXT_RUN(test_fix_coverage);
    MXT_RUN(test_mosaic_medfilter);
    MXT_RUN(test_combine_memory);
    MXT_RUN(test_timing);
    return mxt_summary();
}
