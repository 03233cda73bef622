/* test_framemods.c - the per-frame module drivers (mx_framemods.h):
 * MedFilter against the in-memory kernel on a real IRAC frame, Detect and
 * Detect Radhit on synthetic frames with known content, Mosaic Projection
 * (oracle O-20) and Level (oracle O-4) through files, array correction
 * frames from the real SSC correction image. Timings per frame printed. */
#include "mxtest.h"

#include <stdint.h>
#include <time.h>

static char TMP[4096];
static const char *DATA = NULL;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rng_uniform(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}
static double rng_gauss(void) {
    double u1 = rng_uniform(), u2 = rng_uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void print_times(const char *what, const mx_fm_result *r) {
    for (int i = 0; i < r->n; i++)
        printf("  %s frame %d: %.4f s\n", what, i + 1, r->frames[i].seconds);
}

/* A simple TAN header: CRVAL (150, 2), given CRPIX (FITS) and rotation. */
static mx_header *tan_header(double crpix1, double crpix2, double cdelt, double crota2) {
    mx_wcs *w = NULL;
    double crval[2] = {150.0, 2.0}, crpix[2] = {crpix1, crpix2}, cd[2] = {-cdelt, cdelt};
    mx_header *h = mx_header_new();
    if (mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cd, crota2, 2000.0, &w) != MX_OK ||
        mx_wcs_to_header(w, h) != MX_OK) {
        fprintf(stderr, "tan_header: %s\n", mx_errmsg());
        exit(1);
    }
    mx_wcs_free(w);
    return h;
}

static void write_fif(const char *path, double crpix, double cdelt, long naxis) {
    mx_fif f;
    memset(&f, 0, sizeof f);
    f.crval[0] = 150.0;
    f.crval[1] = 2.0;
    f.crpix[0] = f.crpix[1] = crpix;
    f.cdelt[0] = -cdelt;
    f.cdelt[1] = cdelt;
    f.crota2 = 0.0;
    f.naxis[0] = f.naxis[1] = naxis;
    f.equinox = 2000.0;
    MXT_OK(mx_fif_set_type(&f, MX_SKY_ICRS, "TAN"));
    MXT_OK(mx_fif_write(&f, NULL, path));
}

/* ---- names ---------------------------------------------------------------- */
static void test_names_duplicates(void) {
    /* Two inputs with the same file name in different directories must not
     * overwrite each other's detection maps; the _minback suffix goes. */
    char dir[4200], p1[4400], p2[4400], p3[4400];
    snprintf(dir, sizeof dir, "%s/names", TMP);
    MXT_OK(mx_mkdir_p(dir));
    snprintf(p1, sizeof p1, "%s/a", dir);
    snprintf(p2, sizeof p2, "%s/b", dir);
    MXT_OK(mx_mkdir_p(p1));
    MXT_OK(mx_mkdir_p(p2));
    snprintf(p1, sizeof p1, "%s/a/f_minback.fits", dir);
    snprintf(p2, sizeof p2, "%s/b/f_minback.fits", dir);
    snprintf(p3, sizeof p3, "%s/a/g_minback.fits", dir);
    const char *paths[3] = {p1, p2, p3};
    for (int k = 0; k < 3; k++) {
        mx_image *img = NULL;
        MXT_OK(mx_image_new(16, 16, MX_IMG_FLOAT, -32, 0.0f, &img));
        for (long i = 0; i < 256; i++) img->data[i] = (float)rng_gauss();
        img->data[8 * 16 + 8] = 100.0f;
        MXT_OK(mx_image_write(img, paths[k]));
        mx_image_free(img);
    }
    char out[4400];
    snprintf(out, sizeof out, "%s/names/out", TMP);
    mx_detect_files_opts o;
    memset(&o, 0, sizeof o);
    o.detect.threshold = 3;
    o.detect.min_area = 0;
    o.detect.max_area = 1000;
    o.detect.threshold_type = MX_THRESH_SIMPLE;
    o.detect.extended_area = 500;
    o.detect.peaks_radius = 1;
    o.detect.max_seg_level = 50;
    o.detect.connectivity = 4;
    o.detect.input_type = MX_INPUT_IMAGE;
    o.detect.ddof = 1;
    o.out_dir = out;
    mx_fm_inputs in = {3, paths, NULL, NULL, NULL};
    mx_fm_result *r = NULL;
    MXT_OK(mx_detect_files(&in, &o, &r));
    if (!r) return;
    MXT_TRUE(strstr(r->frames[0].output, "/1_f_detmap.fits") != NULL);
    MXT_TRUE(strstr(r->frames[1].output, "/2_f_detmap.fits") != NULL);
    MXT_TRUE(strstr(r->frames[2].output, "/g_detmap.fits") != NULL);
    mx_list *l = NULL;
    MXT_OK(mx_list_read(r->list, MX_LIST_CHECK_EXISTS, &l));
    if (l) {
        MXT_EQ_INT(l->n, 3);
        MXT_EQ_STR(l->paths[2], r->frames[2].output);
    }
    mx_list_free(l);
    mx_fm_result_free(r);
}

/* ---- MedFilter -------------------------------------------------------------- */
static void medfilter_opts(mx_medfilter_files_opts *o, const char *out_dir) {
    memset(o, 0, sizeof *o);
    o->filter.window_x = 45;
    o->filter.window_y = 45;
    o->filter.n_outliers = 50;
    o->filter.min_good = 9;
    o->filter.min_good_neighbors = 4;
    o->filter.use_sbkg = 0;
    o->filter.sbkg_filter_size = 1;
    o->filter.sbkg_interp = MX_SBKG_SPLINE;
    o->filter.median_average = 0;
    o->max_bad_pixels = 100;
    o->dce_fatal = 32544;
    o->pmask_fatal = 32767;
    o->out_dir = out_dir;
}

static void test_medfilter_real(void) {
    if (!DATA) {
        printf("  (skipped: no MOPEX_TEST_DATA)\n");
        return;
    }
    char img1[4200], img2[4200], msk1[4200], msk2[4200], out[4200], out1[4200];
    const char *bcd = "gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_00";
    snprintf(img1, sizeof img1, "%s/%s56_0000_2_cbcd.fits", DATA, bcd);
    snprintf(img2, sizeof img2, "%s/%s57_0000_2_cbcd.fits", DATA, bcd);
    snprintf(msk1, sizeof msk1, "%s/%s56_0000_2_bimsk.fits", DATA, bcd);
    snprintf(msk2, sizeof msk2, "%s/%s57_0000_2_bimsk.fits", DATA, bcd);
    snprintf(out, sizeof out, "%s/medfilter", TMP);
    snprintf(out1, sizeof out1, "%s/medfilter1", TMP);
    const char *images[2] = {img1, img2}, *masks[2] = {msk1, msk2};
    mx_medfilter_files_opts o;
    medfilter_opts(&o, out);
    mx_fm_inputs in = {2, images, masks, NULL, NULL};
    mx_fm_result *r = NULL, *r1 = NULL;
    double t0 = now_s();
    MXT_OK(mx_medfilter_files(&in, &o, &r));
    printf("  medfilter: 2 real 256x256 frames, 45x45 window: %.3f s\n", now_s() - t0);
    /* the same with one thread: identical pixels (determinism) */
    int nt = mx_threads();
    mx_set_threads(1);
    o.out_dir = out1;
    MXT_OK(mx_medfilter_files(&in, &o, &r1));
    mx_set_threads(nt);
    if (!r || !r1) goto exit;
    print_times("medfilter", r);
    MXT_EQ_INT(r->nwritten, 2);
    for (int f = 0; f < 2; f++) {
        mx_image *img = NULL, *msk = NULL, *sub = NULL, *sub1 = NULL;
        MXT_OK(mx_image_read(images[f], &img));
        MXT_OK(mx_mask_read(masks[f], &msk));
        MXT_OK(mx_image_read(r->frames[f].output, &sub));
        MXT_OK(mx_image_read(r1->frames[f].output, &sub1));
        if (!img || !msk || !sub || !sub1) continue;
        size_t np = (size_t)img->nx * (size_t)img->ny;
        uint8_t *bad = malloc(np);
        float *ref = malloc(np * sizeof *ref);
        long nbad = 0, nnan_in = 0;
        for (size_t k = 0; k < np; k++) {
            bad[k] = mx_mask_is_fatal(msk->mask[k], 32544);
            nbad += bad[k] || !isfinite(img->data[k]);
            nnan_in += !isfinite(img->data[k]);
        }
        long n_nan = -1;
        MXT_OK(mx_medfilter(img->data, bad, img->nx, img->ny, &o.filter, ref, NULL, &n_nan));
        long diff = 0, diff1 = 0, nan_at_bad = 0, nan_out = 0;
        for (size_t k = 0; k < np; k++) {
            int same = (isnan(ref[k]) && isnan(sub->data[k])) || ref[k] == sub->data[k];
            int same1 = (isnan(sub1->data[k]) && isnan(sub->data[k])) || sub1->data[k] == sub->data[k];
            diff += !same;
            diff1 += !same1;
            nan_out += isnan(sub->data[k]);
            if (bad[k] || !isfinite(img->data[k])) nan_at_bad += isnan(sub->data[k]);
        }
        MXT_EQ_INT(diff, 0);      /* the file holds exactly the kernel's result */
        MXT_EQ_INT(diff1, 0);     /* 1 thread = N threads */
        MXT_EQ_INT(nan_at_bad, nbad);
        MXT_EQ_INT(nan_out, nbad); /* NaN exactly at the bad pixels */
        MXT_EQ_INT(r->frames[f].n_nan, n_nan);
        MXT_EQ_INT(n_nan, nbad);
        MXT_TRUE(nnan_in == 9);    /* the long frames have 9 NaN pixels (PROVENANCE.md) */
        MXT_TRUE(nbad > nnan_in);  /* and fatal DCE bits add more */
        /* header kept card for card: WCS, BUNIT */
        double c1 = 0, c2 = 0;
        MXT_OK(mx_header_get_double(img->hdr, "CRVAL1", &c1));
        MXT_OK(mx_header_get_double(sub->hdr, "CRVAL1", &c2));
        MXT_NEAR(c1, c2, 0);
        char bu[80] = "";
        MXT_OK(mx_header_get_string(sub->hdr, "BUNIT", bu, sizeof bu));
        MXT_EQ_STR(bu, "MJy/sr");
        /* background subtracted: the median goes from the sky (0.07-0.10
         * MJy/sr, frames.csv) to ~0 */
        double *fin = malloc(np * sizeof *fin), *raw = malloc(np * sizeof *raw);
        size_t nf = 0, nr = 0;
        for (size_t k = 0; k < np; k++) {
            if (isfinite(sub->data[k])) fin[nf++] = sub->data[k];
            if (isfinite(img->data[k]) && !bad[k]) raw[nr++] = img->data[k];
        }
        MXT_EQ_INT(nf, np - (size_t)nbad);
        MXT_NEAR(mx_median_inplace_d(fin, nf, 0), 0.0, 0.002);
        double sky = mx_median_inplace_d(raw, nr, 0);
        MXT_CHECK(sky > 0.06 && sky < 0.11, "sky %g", sky);
        free(fin);
        free(raw);
        free(bad);
        free(ref);
        mx_image_free(img);
        mx_image_free(msk);
        mx_image_free(sub);
        mx_image_free(sub1);
    }
    mx_list *l = NULL;
    MXT_OK(mx_list_read(r->list, MX_LIST_CHECK_EXISTS, &l));
    if (l) MXT_EQ_INT(l->n, 2);
    mx_list_free(l);
    MXT_TRUE(strstr(r->list, "medfilter_ImageList.txt") != NULL);
    MXT_TRUE(strstr(r->frames[0].output, "SPITZER_I1_46291456_0056_0000_2_cbcd_minback.fits") != NULL);
exit:
    mx_fm_result_free(r);
    mx_fm_result_free(r1);
}

static void test_medfilter_errors(void) {
    char img[4200], msk[4200], out[4200];
    snprintf(out, sizeof out, "%s/mf_err", TMP);
    MXT_OK(mx_mkdir_p(out));
    snprintf(img, sizeof img, "%s/mf_err/i.fits", TMP);
    snprintf(msk, sizeof msk, "%s/mf_err/m.fits", TMP);
    mx_image *a = NULL, *m = NULL;
    MXT_OK(mx_image_new(20, 10, MX_IMG_FLOAT, -32, 1.0f, &a));
    MXT_OK(mx_image_new(10, 20, MX_IMG_INT, 16, 0.0f, &m));
    MXT_OK(mx_image_write(a, img));
    MXT_OK(mx_image_write(m, msk));
    mx_image_free(a);
    mx_image_free(m);
    const char *images[1] = {img}, *masks[1] = {msk};
    mx_medfilter_files_opts o;
    medfilter_opts(&o, out);
    mx_fm_inputs in = {1, images, masks, NULL, NULL};
    mx_fm_result *r = NULL;
    MXT_FAILS(mx_medfilter_files(&in, &o, &r), MX_ERR_MISMATCH, "m.fits' is 10 x 20, image");
    MXT_TRUE(r == NULL);
    in.dce_masks = NULL;
    in.pmask = msk;
    MXT_FAILS(mx_medfilter_files(&in, &o, &r), MX_ERR_MISMATCH, "PMask");
    in.pmask = NULL;
    o.filter.window_x = 0;
    MXT_FAILS(mx_medfilter_files(&in, &o, &r), MX_ERR_PARAM, "Window_X = 0");
    in.n = 0;
    MXT_FAILS(mx_medfilter_files(&in, &o, &r), MX_ERR_PARAM, "no input images");
}

/* ---- Detect ------------------------------------------------------------------ */
static void test_detect_synthetic(void) {
    /* Gaussian noise (sigma 1) and five Gaussian sources of peak 40..200 at
     * known places: each becomes one cluster, nothing else reaches the
     * bright threshold; the file equals mx_detect's labels. */
    const long nx = 96, ny = 80;
    const double sx[5] = {20.3, 70.6, 45.0, 15.2, 80.1}, sy[5] = {15.4, 20.2, 40.7, 65.5, 60.3};
    const double amp[5] = {200, 120, 80, 60, 40};
    mx_image *img = NULL;
    MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &img));
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++) {
            double v = rng_gauss();
            for (int s = 0; s < 5; s++) {
                double dx = x - sx[s], dy = y - sy[s];
                v += amp[s] * exp(-(dx * dx + dy * dy) / (2 * 1.5 * 1.5));
            }
            MX_PIX(img, x, y) = (float)v;
        }
    MX_PIX(img, 3, 3) = NAN;
    MXT_OK(mx_header_set_string(img->hdr, "BUNIT", "MJy/sr", NULL));
    MXT_OK(mx_header_set_double(img->hdr, "EXPTIME", 93.6, NULL));
    char path[4200], out[4200];
    snprintf(out, sizeof out, "%s/detect", TMP);
    MXT_OK(mx_mkdir_p(out));
    snprintf(path, sizeof path, "%s/detect/frame_minback.fits", TMP);
    MXT_OK(mx_image_write(img, path));
    mx_detect_files_opts o;
    memset(&o, 0, sizeof o);
    o.detect.threshold = 5; /* well above the noise: only the sources */
    o.detect.min_area = 0;
    o.detect.max_area = 1000;
    o.detect.threshold_type = MX_THRESH_SIMPLE;
    o.detect.extended_area = 500;
    o.detect.peaks_radius = 1;
    o.detect.max_seg_level = 50;
    o.detect.connectivity = 4;
    o.detect.input_type = MX_INPUT_IMAGE;
    o.detect.ddof = 1;
    o.out_dir = out;
    const char *images[1] = {path};
    mx_fm_inputs in = {1, images, NULL, NULL, NULL};
    mx_fm_result *r = NULL;
    MXT_OK(mx_detect_files(&in, &o, &r));
    if (!r) goto exit;
    print_times("detect", r);
    MXT_TRUE(strstr(r->frames[0].output, "/frame_detmap.fits") != NULL);
    MXT_EQ_INT(r->frames[0].n_clusters, 5);
    mx_image *map = NULL;
    MXT_OK(mx_image_read_auto(r->frames[0].output, &map));
    if (map) {
        MXT_EQ_INT(map->kind, MX_IMG_INT);
        MXT_EQ_INT(map->bitpix, 32);
        int32_t lab[5];
        for (int s = 0; s < 5; s++) {
            lab[s] = MX_MPIX(map, lround(sx[s]), lround(sy[s]));
            MXT_TRUE(lab[s] >= 1 && lab[s] <= 5);
            for (int t = 0; t < s; t++) MXT_TRUE(lab[s] != lab[t]);
        }
        /* raster order of the first pixel: source 0 (y 15) before 1 (y 20) */
        MXT_EQ_INT(lab[0], 1);
        MXT_EQ_INT(lab[1], 2);
        /* the file is the kernel's label map */
        int32_t *ref = calloc((size_t)(nx * ny), sizeof *ref);
        mx_detect_result dr;
        MXT_OK(mx_detect(img->data, NULL, NULL, NULL, NULL, nx, ny, &o.detect, &dr, ref, NULL, NULL));
        long diff = 0, npix = 0;
        for (long k = 0; k < nx * ny; k++) diff += ref[k] != map->mask[k], npix += map->mask[k] != 0;
        MXT_EQ_INT(diff, 0);
        MXT_EQ_INT(npix, r->frames[0].n_pixels);
        long nd = 0;
        double thr = 0, c1 = 0;
        char bu[40] = "";
        MXT_OK(mx_header_get_long(map->hdr, "NDETECT", &nd));
        MXT_OK(mx_header_get_double(map->hdr, "DETTHRSH", &thr));
        MXT_OK(mx_header_get_double(map->hdr, "EXPTIME", &c1));
        MXT_EQ_INT(nd, 5);
        MXT_NEAR(thr, dr.threshold, 1e-12);
        MXT_NEAR(c1, 93.6, 0);
        MXT_TRUE(mx_header_get_string(map->hdr, "BUNIT", bu, sizeof bu) == MX_ERR_NOTFOUND);
        mx_detect_result_free(&dr);
        free(ref);
    }
    mx_image_free(map);
exit:
    mx_fm_result_free(r);
    mx_image_free(img);
}

/* ---- Detect Radhit ---------------------------------------------------------- */
static void test_radhit_synthetic(void) {
    const long nx = 64, ny = 64;
    mx_image *img = NULL, *msk = NULL;
    MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &img));
    MXT_OK(mx_image_new(nx, ny, MX_IMG_INT, 8, 0.0f, &msk));
    for (long k = 0; k < nx * ny; k++) img->data[k] = (float)(0.3 * rng_gauss());
    /* noise 0.3: pixels above 3 are hits and stars only */
    MX_PIX(img, 10, 10) = 30.0f;                               /* single-pixel radhit */
    MX_PIX(img, 30, 30) = 25.0f, MX_PIX(img, 31, 30) = 6.0f;  /* two-pixel radhit */
    MX_PIX(img, 50, 10) = 1.5f, MX_PIX(img, 50, 11) = 2.0f;   /* faint: 5-7 sigma, not 10 */
    for (long y = 40; y < 52; y++)                              /* a bright star: large area */
        for (long x = 40; x < 52; x++) {
            double dx = x - 45.6, dy = y - 46.2;
            MX_PIX(img, x, y) += (float)(400.0 * exp(-(dx * dx + dy * dy) / (2 * 1.2 * 1.2)));
        }
    MX_MPIX(msk, 10, 10) = 4;
    MX_MPIX(msk, 5, 5) = 16;
    MXT_OK(mx_header_set_string(msk->hdr, "BIT04", "a mask keyword", NULL));
    char ip[4200], mp[4200], out[4200], out2[4200];
    snprintf(out, sizeof out, "%s/radhit", TMP);
    snprintf(out2, sizeof out2, "%s/radhit_nomask", TMP);
    MXT_OK(mx_mkdir_p(out));
    snprintf(ip, sizeof ip, "%s/radhit/f_minback.fits", TMP);
    snprintf(mp, sizeof mp, "%s/radhit/f_bimsk.fits", TMP);
    MXT_OK(mx_image_write(img, ip));
    MXT_OK(mx_image_write(msk, mp));
    mx_radhit_files_opts o;
    memset(&o, 0, sizeof o);
    o.radhit.seg_threshold = 3;
    o.radhit.radhit_threshold = 10;
    o.radhit.max_area = 3;
    o.radhit.bit = 9;
    o.radhit.ddof = 1;
    o.out_dir = out;
    const char *images[1] = {ip}, *masks[1] = {mp};
    mx_fm_inputs in = {1, images, masks, NULL, NULL};
    mx_fm_result *r = NULL, *r2 = NULL;
    MXT_OK(mx_radhit_files(&in, &o, &r));
    in.dce_masks = NULL;
    o.out_dir = out2;
    MXT_OK(mx_radhit_files(&in, &o, &r2));
    if (!r || !r2) goto exit;
    print_times("detect_radhit", r);
    MXT_EQ_INT(r->frames[0].n_clusters, 2);
    MXT_EQ_INT(r->frames[0].n_pixels, 3);
    MXT_NEAR(r->frames[0].sigma, 0.3, 0.02);
    MXT_TRUE(strstr(r->frames[0].output, "/f_dmask.fits") != NULL);
    MXT_TRUE(strstr(r->list, "dmask_ImageList.txt") != NULL);
    mx_image *d = NULL, *d2 = NULL;
    MXT_OK(mx_mask_read(r->frames[0].output, &d));
    MXT_OK(mx_mask_read(r2->frames[0].output, &d2));
    if (d && d2) {
        MXT_EQ_INT(d->bitpix, 16); /* 4 | 512 does not fit BITPIX 8: widened */
        MXT_EQ_INT(d2->bitpix, 16);
        MXT_EQ_INT(MX_MPIX(d, 10, 10), 4 | 512);
        MXT_EQ_INT(MX_MPIX(d, 30, 30), 512);
        MXT_EQ_INT(MX_MPIX(d, 31, 30), 512);
        MXT_EQ_INT(MX_MPIX(d, 5, 5), 16);
        MXT_EQ_INT(MX_MPIX(d, 50, 10), 0);
        MXT_EQ_INT(MX_MPIX(d2, 10, 10), 512);
        long n512 = 0, other = 0;
        for (long k = 0; k < nx * ny; k++) {
            n512 += (d->mask[k] & 512) != 0;
            other += (d->mask[k] & ~512) != msk->mask[k];
        }
        MXT_EQ_INT(n512, 3);   /* the star's core is not a radhit */
        MXT_EQ_INT(other, 0);  /* every other bit is the input mask's */
        char v[80] = "";
        MXT_OK(mx_header_get_string(d->hdr, "BIT04", v, sizeof v));
        MXT_EQ_STR(v, "a mask keyword");
        long nr = 0;
        MXT_OK(mx_header_get_long(d->hdr, "NRADHIT", &nr));
        MXT_EQ_INT(nr, 3);
    }
    mx_image_free(d);
    mx_image_free(d2);
exit:
    mx_fm_result_free(r);
    mx_fm_result_free(r2);
    mx_image_free(img);
    mx_image_free(msk);
}

/* ---- Mosaic Projection (oracle O-20) -------------------------------------------- */
static void test_projection_o20(void) {
    char dir[4200], mp[4200], fif[4200], out[4200];
    snprintf(dir, sizeof dir, "%s/proj", TMP);
    MXT_OK(mx_mkdir_p(dir));
    snprintf(mp, sizeof mp, "%s/proj/a_detmap.fits", TMP);
    snprintf(fif, sizeof fif, "%s/proj/mosaic_fif.tbl", TMP);
    snprintf(out, sizeof out, "%s/proj/DualOutlier-mosaic", TMP);
    /* 2x2 map, cluster 7 at (0,0); map pixel (0,0) is at CRVAL; the grid has
     * the same pixels with CRVAL at its pixel (1.5, 1.5): grid = map + 1.5 */
    mx_image *m = NULL;
    MXT_OK(mx_image_new(2, 2, MX_IMG_INT, 32, 0.0f, &m));
    m->mask[0] = 7;
    mx_header_free(m->hdr);
    m->hdr = tan_header(1.0, 1.0, 1e-4, 0.0);
    MXT_OK(mx_image_write(m, mp));
    mx_image_free(m);
    write_fif(fif, 2.5, 1e-4, 6);
    mx_projection_opts o = {fif, 0, out};
    const char *images[1] = {mp};
    mx_fm_inputs in = {1, images, NULL, NULL, NULL};
    mx_fm_result *r = NULL;
    MXT_OK(mx_project_detmaps(&in, &o, &r));
    if (!r) return;
    print_times("projection", r);
    const mx_box *b = &r->frames[0].box;
    MXT_EQ_INT(b->x0, 1);
    MXT_EQ_INT(b->y0, 1);
    MXT_EQ_INT(b->w, 3);
    MXT_EQ_INT(b->h, 3);
    MXT_TRUE(strstr(r->frames[0].output, "/proj_a_detmap.fits") != NULL);
    mx_image *p = NULL;
    MXT_OK(mx_image_read(r->frames[0].output, &p));
    if (p) {
        /* grid (2,2) centred on map (0.5, 0.5) -> 7 (O-20); grid (3,3) on
         * map (1.5, 1.5) overlaps only map pixel (1,1) = 0 -> 0; grid (1,1)
         * overlaps a quarter of map pixel (0,0) -> 7 */
        static const float want[9] = {7, 7, 0, 7, 7, 0, 0, 0, 0};
        for (int k = 0; k < 9; k++) MXT_NEAR(p->data[k], want[k], 0);
        long mx = -1, my = -1;
        double c1 = 0, c2 = 0;
        MXT_OK(mx_header_get_long(p->hdr, "MINTOFFX", &mx));
        MXT_OK(mx_header_get_long(p->hdr, "MINTOFFY", &my));
        MXT_OK(mx_header_get_double(p->hdr, "CRPIX1", &c1));
        MXT_OK(mx_header_get_double(p->hdr, "CRPIX2", &c2));
        MXT_EQ_INT(mx, 1);
        MXT_EQ_INT(my, 1);
        MXT_NEAR(c1, 1.5, 1e-12);
        MXT_NEAR(c2, 1.5, 1e-12);
    }
    mx_image_free(p);
    /* the table of offsets and sizes */
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(r->table, &t));
    if (t) {
        MXT_EQ_INT(t->nrows, 1);
        int64_t v = -1;
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "image_id"), 0, &v));
        MXT_EQ_INT(v, 1);
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "xoff"), 0, &v));
        MXT_EQ_INT(v, 1);
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "naxis2"), 0, &v));
        MXT_EQ_INT(v, 3);
        MXT_TRUE(mx_table_find_column(t, "fname") >= 0);
    }
    mx_table_free(t);
    MXT_TRUE(strstr(r->list, "interp_detmap_ImageList.txt") != NULL);
    char stale[4400];
    snprintf(stale, sizeof stale, "%s", r->frames[0].output);
    mx_fm_result_free(r);

    /* a grid that misses the map: nothing written, an error naming the grid */
    char fif2[4200];
    snprintf(fif2, sizeof fif2, "%s/proj/far_fif.tbl", TMP);
    write_fif(fif2, 500.0, 1e-4, 6);
    o.fif_path = fif2;
    MXT_FAILS(mx_project_detmaps(&in, &o, &r), MX_ERR_PARAM, "far_fif.tbl");
    MXT_TRUE(!mx_file_exists(stale)); /* the first run's map is not left behind as current */
}

static void test_projection_rotated(void) {
    /* A 2x2 map rotated by 45 deg onto a grid of half its pixel size: the
     * box around the diamond has corners that overlap no map pixel (NaN);
     * the pixels holding the map pixels' centres take their labels. */
    char mp[4200], fif[4200], out[4200];
    snprintf(mp, sizeof mp, "%s/proj/rot_detmap.fits", TMP);
    snprintf(fif, sizeof fif, "%s/proj/rot_fif.tbl", TMP);
    snprintf(out, sizeof out, "%s/proj/rot", TMP);
    mx_image *m = NULL;
    MXT_OK(mx_image_new(2, 2, MX_IMG_FLOAT, -32, 0.0f, &m)); /* float map: NaN counts as 0 */
    m->data[0] = 7.0f;
    m->data[1] = NAN;
    m->data[3] = 3.0f;
    mx_header_free(m->hdr);
    m->hdr = tan_header(1.5, 1.5, 2e-4, 45.0);
    MXT_OK(mx_image_write(m, mp));
    mx_image_free(m);
    write_fif(fif, 10.0, 1e-4, 19); /* CRVAL at grid pixel (9, 9) */
    mx_projection_opts o = {fif, 0, out};
    const char *images[1] = {mp};
    mx_fm_inputs in = {1, images, NULL, NULL, NULL};
    mx_fm_result *r = NULL;
    MXT_OK(mx_project_detmaps(&in, &o, &r));
    if (!r) return;
    const mx_box b = r->frames[0].box;
    /* half-diagonal 2 sqrt(2) = 2.83 grid pixels around (9, 9): pixels 6..12 */
    MXT_EQ_INT(b.x0, 6);
    MXT_EQ_INT(b.w, 7);
    MXT_EQ_INT(b.y0, 6);
    MXT_EQ_INT(b.h, 7);
    mx_image *p = NULL;
    MXT_OK(mx_image_read(r->frames[0].output, &p));
    if (p && p->nx == b.w && p->ny == b.h) {
        MXT_TRUE(isnan(MX_PIX(p, 0, 0)) && isnan(MX_PIX(p, 6, 0)) && isnan(MX_PIX(p, 0, 6)) &&
                 isnan(MX_PIX(p, 6, 6)));
        /* the grid pixel holding each map pixel's centre */
        mx_wcs *mw = NULL, *gw = NULL;
        mx_header *mh = tan_header(1.5, 1.5, 2e-4, 45.0);
        MXT_OK(mx_wcs_from_header(mh, "map", &mw));
        MXT_OK(mx_wcs_from_header(p->hdr, "proj", &gw));
        static const double want[4] = {7, 0, 0, 3};
        long nnan = 0;
        for (int k = 0; k < 4; k++) {
            double x = k % 2, y = k / 2, ra, dec, gx, gy;
            MXT_OK(mx_wcs_pix2sky(mw, 1, &x, &y, &ra, &dec));
            MXT_OK(mx_wcs_sky2pix(gw, 1, &ra, &dec, &gx, &gy));
            long px = lround(gx), py = lround(gy);
            MXT_NEAR(MX_PIX(p, px, py), want[k], 0);
        }
        for (long k = 0; k < b.w * b.h; k++) nnan += isnan(p->data[k]);
        /* pixel (a, b) from the centre misses the diamond |dx| + |dy| <= 2 sqrt(2)
         * when max(|a| - 0.5, 0) + max(|b| - 0.5, 0) >= 2.83: 24 of the 49 */
        MXT_EQ_INT(nnan, 24);
        mx_wcs_free(mw);
        mx_wcs_free(gw);
        mx_header_free(mh);
    }
    mx_image_free(p);
    mx_fm_result_free(r);
}

/* ---- Level (oracle O-4) ------------------------------------------------------ */
static void test_level_o4(void) {
    /* cluster 1: 8 pixels, 2 negative -> all positive; cluster 2: 10, 9
     * negative -> all negative; cluster 3: 4/4 -> unchanged; cluster 4 in
     * two pieces, 3 negative + 1 positive -> all negative; NaN and 0 stay. */
    float v[40];
    int k = 0;
    for (int i = 0; i < 8; i++) v[k++] = i < 2 ? -1.0f : 1.0f;
    for (int i = 0; i < 10; i++) v[k++] = i < 9 ? -2.0f : 2.0f;
    for (int i = 0; i < 8; i++) v[k++] = i < 4 ? -3.0f : 3.0f;
    v[k++] = -4, v[k++] = NAN, v[k++] = -4, v[k++] = 0, v[k++] = -4, v[k++] = 0, v[k++] = 4;
    while (k < 40) v[k++] = 0.0f;
    float w[40];
    memcpy(w, v, sizeof v);
    long ncl = 0, nch = 0;
    MXT_OK(mx_level_map(w, 8, 5, 0.5, "o4", &ncl, &nch));
    MXT_EQ_INT(ncl, 4);
    MXT_EQ_INT(nch, 2 + 1 + 1);
    for (int i = 0; i < 8; i++) MXT_NEAR(w[i], 1.0, 0);
    for (int i = 8; i < 18; i++) MXT_NEAR(w[i], -2.0, 0);
    for (int i = 18; i < 26; i++) MXT_NEAR(w[i], v[i], 0);
    MXT_NEAR(w[26], -4, 0);
    MXT_TRUE(isnan(w[27]));
    MXT_NEAR(w[29], 0, 0);
    MXT_NEAR(w[32], -4, 0);
    /* ratio 0.8, sequential tests: 7 of 10 negative -> Eq 8.2 makes it all
     * positive, after which N+/N = 1 is not < 0.8 (documented order) */
    float s[10];
    for (int i = 0; i < 10; i++) s[i] = i < 7 ? -5.0f : 5.0f;
    MXT_OK(mx_level_map(s, 10, 1, 0.8, "seq", &ncl, &nch));
    for (int i = 0; i < 10; i++) MXT_NEAR(s[i], 5.0, 0);
    /* ratio 0: nothing changes */
    memcpy(w, v, sizeof v);
    MXT_OK(mx_level_map(w, 8, 5, 0.0, "zero", &ncl, &nch));
    MXT_EQ_INT(nch, 0);
    float bad[2] = {1.5f, 0};
    MXT_FAILS(mx_level_map(bad, 2, 1, 0.5, "x.fits", NULL, NULL), MX_ERR_FORMAT,
              "'x.fits' pixel (1, 1) = 1.5 is not a cluster number");

    /* through files */
    char dir[4200], ip[4200];
    snprintf(dir, sizeof dir, "%s/level", TMP);
    MXT_OK(mx_mkdir_p(dir));
    snprintf(ip, sizeof ip, "%s/level/proj_a_detmap_dual_outlier.fits", TMP);
    mx_image *img = NULL;
    MXT_OK(mx_image_new(8, 5, MX_IMG_FLOAT, -32, 0.0f, &img));
    memcpy(img->data, v, sizeof v);
    MXT_OK(mx_header_set_long(img->hdr, "MINTOFFX", 12, NULL));
    MXT_OK(mx_image_write(img, ip));
    mx_image_free(img);
    mx_level_opts o = {0.5, dir};
    const char *images[1] = {ip};
    mx_fm_inputs in = {1, images, NULL, NULL, NULL};
    mx_fm_result *r = NULL;
    MXT_OK(mx_level_files(&in, &o, &r));
    if (!r) return;
    print_times("level", r);
    MXT_TRUE(strstr(r->frames[0].output, "/proj_a_detmap_dual_outlier_level.fits") != NULL);
    MXT_EQ_INT(r->frames[0].n_clusters, 4);
    MXT_EQ_INT(r->frames[0].n_pixels, 4);
    mx_image *out = NULL;
    MXT_OK(mx_image_read(r->frames[0].output, &out));
    if (out) {
        memcpy(w, v, sizeof v);
        MXT_OK(mx_level_map(w, 8, 5, 0.5, "ref", NULL, NULL));
        long diff = 0;
        for (int i = 0; i < 40; i++)
            diff += !((isnan(w[i]) && isnan(out->data[i])) || w[i] == out->data[i]);
        MXT_EQ_INT(diff, 0);
        long mx = 0;
        MXT_OK(mx_header_get_long(out->hdr, "MINTOFFX", &mx));
        MXT_EQ_INT(mx, 12);
    }
    mx_image_free(out);
    mx_fm_result_free(r);
}

/* ---- Make Array Correction Files ----------------------------------------------- */
static void test_array_corr(void) {
    char out[4200], fake[4200];
    snprintf(out, sizeof out, "%s/arraycorr", TMP);
    MXT_OK(mx_mkdir_p(out));
    snprintf(fake, sizeof fake, "%s/arraycorr/small_cbcd.fits", TMP);
    mx_image *s = NULL;
    MXT_OK(mx_image_new(128, 128, MX_IMG_FLOAT, -32, 1.0f, &s));
    MXT_OK(mx_image_write(s, fake));
    mx_image_free(s);
    {
        /* a correction image whose path is longer than a FITS string value
         * (68 characters): the keyword holds its name, HISTORY the path */
        char deep[4200], cimg[4300], odir[4300];
        snprintf(deep, sizeof deep, "%s/arraycorr/a_directory_name_long_enough/to_push_the_path/past_68_characters", TMP);
        MXT_OK(mx_mkdir_p(deep));
        snprintf(cimg, sizeof cimg, "%s/photcorr.fits", deep);
        snprintf(odir, sizeof odir, "%s/out", deep);
        mx_image *ci = NULL;
        MXT_OK(mx_image_new(128, 128, MX_IMG_FLOAT, -32, 2.0f, &ci));
        MXT_OK(mx_image_write(ci, cimg));
        mx_image_free(ci);
        const char *one[1] = {fake};
        mx_array_corr_opts lo = {cimg, NULL, odir};
        mx_fm_inputs lin = {1, one, NULL, NULL, NULL};
        mx_fm_result *lr = NULL;
        MXT_TRUE(strlen(cimg) > 68);
        MXT_OK(mx_array_corr_files(&lin, &lo, &lr));
        mx_image *a = NULL;
        if (lr) MXT_OK(mx_image_read(lr->frames[0].output, &a));
        if (a) {
            char v[80] = "";
            MXT_OK(mx_header_get_string(a->hdr, "ARRCORR", v, sizeof v));
            MXT_EQ_STR(v, "photcorr.fits");
            MXT_NEAR(MX_PIX(a, 5, 7), 2.0, 0);
            int found = 0;
            for (int k = 0; k < a->hdr->ncards; k++) found |= strstr(a->hdr->cards[k], "ARRCORR = ") != NULL;
            MXT_TRUE(found);
        }
        mx_image_free(a);
        mx_fm_result_free(lr);
    }
    if (!DATA) {
        printf("  (skipped: no MOPEX_TEST_DATA)\n");
        return;
    }
    char corr[4200], b1[4200], b2[4200];
    snprintf(corr, sizeof corr, "%s/eas342_arrayloc/ch1_photcorr_rj.fits", DATA);
    snprintf(b1, sizeof b1, "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits", DATA);
    snprintf(b2, sizeof b2, "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0070_0000_2_cbcd.fits", DATA);
    const char *images[2] = {b1, b2};
    mx_array_corr_opts o = {corr, NULL, out};
    mx_fm_inputs in = {2, images, NULL, NULL, NULL};
    mx_fm_result *r = NULL;
    MXT_OK(mx_array_corr_files(&in, &o, &r));
    if (!r) return;
    print_times("array_corr_files", r);
    mx_image *c = NULL;
    MXT_OK(mx_image_read(corr, &c));
    for (int f = 0; f < 2 && c; f++) {
        mx_image *a = NULL;
        mx_header *bh = NULL;
        MXT_OK(mx_image_read(r->frames[f].output, &a));
        MXT_OK(mx_fits_read_header(images[f], &bh, NULL, NULL, NULL));
        if (!a || !bh) continue;
        MXT_TRUE(strstr(r->frames[f].output, f ? "/corr_SPITZER_I1_46291456_0070_0000_2_cbcd.fits"
                                               : "/corr_SPITZER_I1_46291456_0056_0000_2_cbcd.fits"));
        long diff = 0;
        double lo = 1e9, hi = -1e9;
        for (long k = 0; k < 256 * 256; k++) {
            diff += a->data[k] != c->data[k];
            lo = fmin(lo, a->data[k]);
            hi = fmax(hi, a->data[k]);
        }
        MXT_EQ_INT(diff, 0);
        MXT_TRUE(lo > 0.96 && hi < 1.02); /* 0.97 .. 1.01 (PROVENANCE.md) */
        static const char *const keys[] = {"CRVAL1", "CRVAL2", "CRPIX1", "CD1_1", "CD2_1", "A_2_0",
                                           "B_0_2", "AP_1_0", "EXPTIME", NULL};
        for (int k = 0; keys[k]; k++) {
            double x = NAN, y = NAN;
            MXT_OK(mx_header_get_double(bh, keys[k], &x));
            MXT_OK(mx_header_get_double(a->hdr, keys[k], &y));
            MXT_NEAR(x, y, 0);
        }
        char ct[80] = "";
        MXT_OK(mx_header_get_string(a->hdr, "CTYPE1", ct, sizeof ct));
        MXT_EQ_STR(ct, "RA---TAN-SIP");
        /* the correction frame maps pixels to the sky exactly as the BCD */
        mx_wcs *wa = NULL, *wb = NULL;
        MXT_OK(mx_wcs_from_header(a->hdr, "corr", &wa));
        MXT_OK(mx_wcs_from_header(bh, "bcd", &wb));
        if (wa && wb) {
            double x = 3.0, y = 250.0, ra1, de1, ra2, de2;
            MXT_OK(mx_wcs_pix2sky(wa, 1, &x, &y, &ra1, &de1));
            MXT_OK(mx_wcs_pix2sky(wb, 1, &x, &y, &ra2, &de2));
            MXT_NEAR(ra1, ra2, 0);
            MXT_NEAR(de1, de2, 0);
        }
        mx_wcs_free(wa);
        mx_wcs_free(wb);
        mx_image_free(a);
        mx_header_free(bh);
    }
    mx_image_free(c);
    mx_fm_result_free(r);
    /* size mismatch: the message names both files */
    const char *bad[2] = {b1, fake};
    mx_fm_inputs in2 = {2, bad, NULL, NULL, NULL};
    MXT_FAILS(mx_array_corr_files(&in2, &o, &r), MX_ERR_MISMATCH,
              "ch1_photcorr_rj.fits' is 256 x 256, image '");
    MXT_TRUE(strstr(mx_errmsg(), "small_cbcd.fits' is 128 x 128") != NULL);
    o.pixarea_image = fake;
    MXT_FAILS(mx_array_corr_files(&in, &o, &r), MX_ERR_MISMATCH, "ARRAY_PIXAREA_IMAGE");
    o.corr_image = NULL;
    MXT_FAILS(mx_array_corr_files(&in, &o, &r), MX_ERR_PARAM, "ARRAY_CORR_IMAGE is not set");
    /* the combination function: correction values unchanged (open question) */
    float cv[3] = {0.97f, 1.0f, 1.01f}, pa[3] = {1.1f, 0.9f, 1.0f}, ov[3];
    mx_array_corr_values(cv, pa, 3, ov);
    for (int k = 0; k < 3; k++) MXT_NEAR(ov[k], cv[k], 0);
}

int main(void) {
    snprintf(TMP, sizeof TMP, "%s", mxt_tmp_dir("framemods"));
    DATA = mxt_data_dir();
    if (DATA) {
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/eas342_arrayloc/ch1_photcorr_rj.fits", DATA);
        if (!mx_file_exists(probe)) DATA = NULL;
    }
    mx_log_set_level(MX_LOG_WARN);
    MXT_RUN(test_names_duplicates);
    MXT_RUN(test_medfilter_real);
    MXT_RUN(test_medfilter_errors);
    MXT_RUN(test_detect_synthetic);
    MXT_RUN(test_radhit_synthetic);
    MXT_RUN(test_projection_o20);
    MXT_RUN(test_projection_rotated);
    MXT_RUN(test_level_o4);
    MXT_RUN(test_array_corr);
    return mxt_summary();
}
