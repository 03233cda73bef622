/* test_segment.c - Detect (segmentation) and Detect Radhit.
 * Oracles O-5 and O-6 from spec/algorithms_oracles.py, hand-computed shape
 * numbers, and a synthetic field of Gaussian sources with known positions. */
#include "mxtest.h"

#include <stdint.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x13198A2E03707344ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static double rng_uniform(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }
static double rng_gauss(void) {
    double u1 = rng_uniform(), u2 = rng_uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* CPU time of the process: the bound must not depend on how loaded the
 * machine is (Detect is single-threaded). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int sanitized(void) {
    const char *s = getenv("MOPEX_SANITIZED");
    return s && strcmp(s, "1") == 0;
}

/* Options with every field set: simple, 4-connected, nothing special. */
static mx_detect_opts base_opts(double D, long min_area, long max_area, int type) {
    mx_detect_opts o;
    memset(&o, 0, sizeof o);
    o.threshold = D;
    o.min_area = min_area;
    o.max_area = max_area;
    o.threshold_type = type;
    o.extended_area = 0;
    o.peaks_radius = 1;
    o.max_seg_level = 50;
    o.min_coverage = 0;
    o.connectivity = 4;
    o.n_edge = 0;
    o.min_peak_fraction = 0;
    o.probability_threshold = 0;
    o.input_type = MX_INPUT_IMAGE;
    o.attenuate = 1;
    o.ddof = 1;
    o.impose_stats = 0;
    return o;
}

/* O-6: iterative threshold on {0..9, 100}, D = 2. */
static void test_o6_initial_threshold(void) {
    float img[11];
    for (int i = 0; i < 10; i++) img[i] = (float)i;
    img[10] = 100;
    for (int ddof = 1; ddof >= 0; ddof--) {
        mx_detect_opts o = base_opts(2, 1, 1000, MX_THRESH_SIMPLE);
        o.ddof = ddof;
        mx_detect_result r;
        int32_t lab[11];
        MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 11, 1, &o, &r, lab, NULL, NULL));
        MXT_NEAR(r.mean, 4.5, 1e-12);
        MXT_NEAR(r.sigma, ddof ? 3.027650 : 2.872281, 1e-6);
        MXT_NEAR(r.threshold, ddof ? 10.555301 : 10.244563, 1e-6);
        MXT_NEAR(r.t_min, r.threshold - 0.0, 1e-12);
        MXT_EQ_INT(r.n, 1);
        if (r.n == 1) {
            MXT_NEAR(r.det[0].x, 10, 0);
            MXT_NEAR(r.det[0].flux, 100, 0);
            MXT_EQ_INT(r.det[0].blend_id, 0);
            MXT_EQ_INT(r.det[0].blend_size, 0);
            MXT_EQ_INT(r.det[0].level, 1);
        }
        MXT_EQ_INT(lab[10], 1);
        MXT_EQ_INT(lab[9], 0);
        mx_detect_result_free(&r);
    }
}

/* O-6: the one-row cluster {4, 6, 20, 6, 4, 5, 18, 5, 4} at x = 1..9 of row 1
 * of an 11x3 zero image (min 0); M = 0 and s = 3 imposed with D = 1 give
 * T = 3 and T_min = 3. Every rule splits it into the 20 (x = 3) and the
 * 18 (x = 7): two detections, one blend of size 2. */
static void make_row_image(float *img, const float *row, int nrow) {
    memset(img, 0, 11 * 3 * sizeof *img);
    for (int i = 0; i < nrow; i++) img[11 + 1 + i] = row[i];
}

static void test_o6_resegmentation(void) {
    const float row[9] = {4, 6, 20, 6, 4, 5, 18, 5, 4};
    float img[33];
    make_row_image(img, row, 9);
    const double want_t[3][2] = {{14.304760, 13.944185}, {7.483315, 7.483315}, {15, 15}};
    for (int type = 0; type < 3; type++)
        for (int ddof = 1; ddof >= 0; ddof--) {
            mx_detect_opts o = base_opts(1, 1, 5, type);
            o.ddof = ddof;
            o.impose_stats = 1;
            o.imposed_mean = 0;
            o.imposed_sigma = 3;
            mx_detect_result r;
            int32_t lab[33], lev[33];
            uint8_t pk[33];
            MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 11, 3, &o, &r, lab, lev, pk));
            MXT_NEAR(r.threshold, 3, 0);
            MXT_NEAR(r.t_min, 3, 0);
            MXT_EQ_INT(r.n_initial, 1);
            MXT_EQ_INT(r.n, 2);
            if (r.n != 2) continue;
            MXT_NEAR(r.det[0].x, 3, 0);
            MXT_NEAR(r.det[0].y, 1, 0);
            MXT_NEAR(r.det[0].flux, 20, 0);
            MXT_NEAR(r.det[1].x, 7, 0);
            MXT_NEAR(r.det[1].flux, 18, 0);
            for (int i = 0; i < 2; i++) {
                MXT_EQ_INT(r.det[i].blend_id, 1);
                MXT_EQ_INT(r.det[i].blend_size, 2);
                MXT_EQ_INT(r.det[i].npix, 1);
                MXT_EQ_INT(r.det[i].level, 2);
                MXT_NEAR(r.det[i].threshold, want_t[type][1 - ddof], 1e-6);
            }
            /* Label map: cluster numbers at the two survivors only. */
            int nz = 0;
            for (int p = 0; p < 33; p++) nz += lab[p] != 0;
            MXT_EQ_INT(nz, 2);
            MXT_EQ_INT(lab[11 + 3], 1);
            MXT_EQ_INT(lab[11 + 7], 2);
            MXT_EQ_INT(lev[11 + 7], 2);
            /* Peaks: 20 and 18 are the only peaks above T. */
            int npk = 0;
            for (int p = 0; p < 33; p++) npk += pk[p];
            MXT_EQ_INT(npk, 2);
            MXT_EQ_INT(pk[11 + 3], 1);
            MXT_EQ_INT(pk[11 + 7], 1);
            mx_detect_result_free(&r);
        }
}

/* Peak rule raises: P_min = 18, T_min = 3. {16, 20, 16.2, 18, 16}: 15 changes
 * nothing, the first raise 18 - 3/2 = 16.5 splits. {16, 20, 16.7, 18, 16}:
 * 16.5 only trims the 16s (one child, two peaks), then 15, 16.5 again do
 * nothing and 18 - 3/3 = 17 splits: level 3. Max_Segmentation_Level 2
 * stops before: one detection with both peaks. */
static void peak_case(float mid, int max_level, long ext, double frac, long *n, double *t0,
                      int *lvl0, long *np0) {
    const float row[5] = {16, 20, mid, 18, 16};
    float img[33];
    make_row_image(img, row, 5);
    mx_detect_opts o = base_opts(1, 1, 100, MX_THRESH_PEAK);
    o.impose_stats = 1;
    o.imposed_mean = 0;
    o.imposed_sigma = 3;
    o.max_seg_level = max_level;
    o.extended_area = ext;
    o.min_peak_fraction = frac;
    mx_detect_result r;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 11, 3, &o, &r, NULL, NULL, NULL));
    *n = r.n;
    *t0 = r.n ? r.det[0].threshold : NAN;
    *lvl0 = r.n ? r.det[0].level : -1;
    *np0 = r.n ? r.det[0].npix : -1;
    mx_detect_result_free(&r);
}

static void test_peak_rule(void) {
    long n, np;
    double t;
    int lvl;
    peak_case(16.2f, 50, 0, 0, &n, &t, &lvl, &np);
    MXT_EQ_INT(n, 2);
    MXT_NEAR(t, 16.5, 1e-12);
    MXT_EQ_INT(lvl, 2);
    peak_case(16.7f, 50, 0, 0, &n, &t, &lvl, &np);
    MXT_EQ_INT(n, 2);
    MXT_NEAR(t, 17, 1e-12);
    MXT_EQ_INT(lvl, 3);
    peak_case(16.7f, 2, 0, 0, &n, &t, &lvl, &np);
    MXT_EQ_INT(n, 1);
    MXT_NEAR(t, 16.5, 1e-12);
    MXT_EQ_INT(np, 3);
    /* Extended_Object_Area 4 < 5 pixels: left as it is after the first try. */
    peak_case(16.2f, 50, 4, 0, &n, &t, &lvl, &np);
    MXT_EQ_INT(n, 1);
    MXT_EQ_INT(np, 5);
    MXT_EQ_INT(lvl, 1);
    /* Min peak fraction: heights above T = 3 are 17 and 15; 15 >= 0.8 x 17
     * counts, 15 < 0.9 x 17 does not (then one peak, area <= Max_Area). */
    peak_case(16.2f, 50, 0, 0.8, &n, &t, &lvl, &np);
    MXT_EQ_INT(n, 2);
    peak_case(16.2f, 50, 0, 0.9, &n, &t, &lvl, &np);
    MXT_EQ_INT(n, 1);
    MXT_EQ_INT(np, 5);
}

/* A flat cluster {5 x 6} larger than Max_Area 5: every rule's threshold
 * removes all of it (simple: T_cl = 5; combo: sqrt(8 x 5) = 6.32), which
 * ends its segmentation as it was: one detection of 6 pixels. */
static void test_flat_cluster_kept(void) {
    const float row[6] = {5, 5, 5, 5, 5, 5};
    float img[33];
    make_row_image(img, row, 6);
    for (int type = 0; type < 3; type++) {
        mx_detect_opts o = base_opts(1, 1, 5, type);
        o.impose_stats = 1;
        o.imposed_mean = 0;
        o.imposed_sigma = 3;
        mx_detect_result r;
        MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 11, 3, &o, &r, NULL, NULL, NULL));
        MXT_EQ_INT(r.n, 1);
        if (r.n) {
            MXT_EQ_INT(r.det[0].npix, 6);
            MXT_NEAR(r.det[0].x, 3.5, 1e-12);
            MXT_EQ_INT(r.det[0].blend_size, 0);
        }
        mx_detect_result_free(&r);
    }
}

/* O-6 centroid: {(10,20):1, (11,20):3, (10,21):1, (11,21):3} -> (10.75, 20.5),
 * flux 3. Shapes by hand: x2 = 0.1875, y2 = 0.25, xy = 0 -> maj 0.5,
 * min 0.4330127, theta 90 deg; with sigma 1: delta_x^2 = 1.25/64,
 * delta_y^2 = 1/64, delta_flux 2; perimeter 8, linearity 1. */
static void test_o6_centroid_and_shape(void) {
    long nx = 20, ny = 30;
    float *img = calloc((size_t)(nx * ny), sizeof *img);
    img[20 * nx + 10] = 1;
    img[20 * nx + 11] = 3;
    img[21 * nx + 10] = 1;
    img[21 * nx + 11] = 3;
    mx_detect_opts o = base_opts(0.5, 1, 1000, MX_THRESH_SIMPLE);
    o.impose_stats = 1;
    o.imposed_mean = 0;
    o.imposed_sigma = 1;
    mx_detect_result r;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, nx, ny, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 1);
    if (r.n == 1) {
        mx_detection *d = &r.det[0];
        MXT_NEAR(d->x, 10.75, 1e-12);
        MXT_NEAR(d->y, 20.5, 1e-12);
        MXT_NEAR(d->flux, 3, 0);
        MXT_NEAR(d->flux_sum, 8, 1e-12);
        MXT_EQ_INT(d->npix, 4);
        MXT_NEAR(d->x2, 0.1875, 1e-12);
        MXT_NEAR(d->y2, 0.25, 1e-12);
        MXT_NEAR(d->xy, 0, 1e-12);
        MXT_NEAR(d->maj_ax, 0.5, 1e-12);
        MXT_NEAR(d->min_ax, 0.4330127019, 1e-9);
        MXT_NEAR(fabs(d->theta), 90, 1e-9);
        MXT_NEAR(d->elongation, d->maj_ax / d->min_ax, 1e-12);
        MXT_NEAR(d->ellipticity, 1 - d->min_ax / d->maj_ax, 1e-12);
        MXT_NEAR(d->delta_x, sqrt(1.25 / 64), 1e-12);
        MXT_NEAR(d->delta_y, 0.125, 1e-12);
        MXT_NEAR(d->delta_xy, 0, 1e-12);
        MXT_NEAR(d->delta_flux, 2, 1e-12);
        MXT_NEAR(d->delta_maj * d->delta_maj + d->delta_min * d->delta_min,
                 d->delta_x * d->delta_x + d->delta_y * d->delta_y, 1e-12);
        MXT_EQ_INT(d->perimeter, 8);
        MXT_NEAR(d->linearity, 1.0, 1e-12);
        MXT_EQ_INT(d->xmin, 10);
        MXT_EQ_INT(d->ymax, 21);
        MXT_EQ_INT(d->peak_x, 11);
        MXT_EQ_INT(d->peak_y, 20);
    }
    mx_detect_result_free(&r);
    /* A separate flux image supplies the flux column; a sigma image the errors. */
    float *flux = calloc((size_t)(nx * ny), sizeof *flux);
    float *sig = malloc((size_t)(nx * ny) * sizeof *sig);
    for (long i = 0; i < nx * ny; i++) sig[i] = 2;
    flux[21 * nx + 10] = 77;
    MXT_OK(mx_detect(img, NULL, NULL, flux, sig, nx, ny, &o, &r, NULL, NULL, NULL));
    if (r.n == 1) {
        MXT_NEAR(r.det[0].flux, 77, 0);
        MXT_NEAR(r.det[0].delta_flux, 4, 1e-12);
        MXT_NEAR(r.det[0].delta_y, 0.25, 1e-12);
    }
    mx_detect_result_free(&r);
    free(img);
    free(flux);
    free(sig);
}

/* Connectivity: two diagonal pixels are one cluster with 8, two with 4. */
static void test_connectivity_and_edges(void) {
    float img[25] = {0};
    img[1 * 5 + 1] = 10;
    img[2 * 5 + 2] = 9;
    mx_detect_opts o = base_opts(1, 1, 100, MX_THRESH_SIMPLE);
    o.impose_stats = 1;
    o.imposed_mean = 0;
    o.imposed_sigma = 1;
    mx_detect_result r;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 5, 5, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 2);
    mx_detect_result_free(&r);
    o.connectivity = 8;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 5, 5, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 1);
    mx_detect_result_free(&r);
    /* Min area 2 drops the single pixels under 4-connectivity. */
    o.connectivity = 4;
    o.min_area = 2;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 5, 5, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 0);
    MXT_EQ_INT(r.n_initial, 0);
    mx_detect_result_free(&r);
    /* N_Edge 2: (1,1) is dropped, (2,2) kept. A bad-pixel mask removes a
     * pixel from everything. */
    o.min_area = 1;
    o.n_edge = 2;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 5, 5, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 1);
    if (r.n) MXT_NEAR(r.det[0].x, 2, 0);
    mx_detect_result_free(&r);
    uint8_t bad[25] = {0};
    bad[12] = 1;
    MXT_OK(mx_detect(img, bad, NULL, NULL, NULL, 5, 5, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 0);
    mx_detect_result_free(&r);
}

/* Coverage: pixels below Minimum_Coverage are unusable; others are scaled
 * by sqrt(coverage) before segmentation (2 x sqrt(16) = 8 > T = 5, while
 * 2 x sqrt(1) = 2 is not detected). */
static void test_coverage(void) {
    float img[16], cov[16];
    for (int i = 0; i < 16; i++) {
        img[i] = 0;
        cov[i] = 1;
    }
    img[5] = 2;
    cov[5] = 16;
    img[10] = 2;
    img[15] = 50;
    cov[15] = 0.5;
    mx_detect_opts o = base_opts(5, 1, 100, MX_THRESH_SIMPLE);
    o.impose_stats = 1;
    o.imposed_mean = 0;
    o.imposed_sigma = 1;
    o.min_coverage = 1;
    mx_detect_result r;
    MXT_OK(mx_detect(img, NULL, cov, NULL, NULL, 4, 4, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 1);
    if (r.n) {
        MXT_NEAR(r.det[0].x, 1, 0);
        MXT_NEAR(r.det[0].flux, 8, 1e-6);
    }
    mx_detect_result_free(&r);
    o.attenuate = 0;
    MXT_OK(mx_detect(img, NULL, cov, img, NULL, 4, 4, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 0);
    mx_detect_result_free(&r);
}

/* Probability_Threshold: a PSP-like image (background 0.1, noise 0.01) with
 * a saturated block near 1 over a quarter of it. Without it the clipped
 * statistics include the block (mean 0.33, std 0.39 with D = 5: nothing is
 * above T, so nothing is removed) and T lands above 1: no detection. With
 * 0.9 the statistics come from the background and both the block and a
 * point source of height 0.4 are found. */
static void test_probability_threshold(void) {
    long nx = 100, ny = 100;
    float *img = malloc((size_t)(nx * ny) * sizeof *img);
    for (long i = 0; i < nx * ny; i++) img[i] = (float)(0.1 + 0.01 * rng_gauss());
    for (long y = 5; y < 55; y++)
        for (long x = 5; x < 55; x++) img[y * nx + x] = (float)(0.999 + 0.0005 * rng_uniform());
    for (long y = 72; y < 79; y++)
        for (long x = 72; x < 79; x++)
            img[y * nx + x] +=
                (float)(0.4 * exp(-((x - 75) * (x - 75) + (y - 75) * (y - 75)) / 2.0));
    mx_detect_opts o = base_opts(5, 1, 100000, MX_THRESH_SIMPLE);
    mx_detect_result r;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, nx, ny, &o, &r, NULL, NULL, NULL));
    MXT_TRUE(r.threshold > 1.0);
    MXT_EQ_INT(r.n, 0);
    mx_detect_result_free(&r);
    o.probability_threshold = 0.9;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, nx, ny, &o, &r, NULL, NULL, NULL));
    MXT_NEAR(r.mean, 0.1, 0.002);
    MXT_NEAR(r.threshold, 0.15, 0.005);
    MXT_EQ_INT(r.n, 2);
    if (r.n == 2) {
        MXT_EQ_INT(r.det[0].npix, 2500);
        MXT_NEAR(r.det[1].x, 75, 0.2);
        MXT_NEAR(r.det[1].y, 75, 0.2);
    }
    mx_detect_result_free(&r);
    free(img);
}

/* A Gaussian star (sigma_psf) of amplitude a at (x0, y0), point-sampled. */
static void add_star(float *img, long nx, long ny, double x0, double y0, double a, double s) {
    long r = (long)ceil(6 * s);
    for (long y = (long)y0 - r; y <= (long)y0 + r; y++)
        for (long x = (long)x0 - r; x <= (long)x0 + r; x++) {
            if (x < 0 || y < 0 || x >= nx || y >= ny) continue;
            double d2 = (x - x0) * (x - x0) + (y - y0) * (y - y0);
            img[y * nx + x] += (float)(a * exp(-d2 / (2 * s * s)));
        }
}

/* Synthetic field: 15 x 15 sources on a 34-pixel grid with random sub-pixel
 * offsets and amplitudes 25..2000 (noise 1). Every source is found exactly
 * once; bright ones (>= 200) are centred to 0.05 px; a pure-noise image of
 * the same size gives no more than the expected count of 5-sigma peaks
 * (N x P(z > 5) = 0.075 for 512^2 pixels; we allow 2). */
static void test_synthetic_field(void) {
    long nx = 512, ny = 512;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img);
    for (size_t i = 0; i < n; i++) img[i] = (float)rng_gauss();
    mx_detect_opts o = base_opts(5, 1, 1000, MX_THRESH_SIMPLE);
    mx_detect_result r;
    int32_t *lab = malloc(n * sizeof *lab);
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, nx, ny, &o, &r, lab, NULL, NULL));
    MXT_NEAR(r.mean, 0, 0.01);
    MXT_NEAR(r.sigma, 1, 0.01);
    MXT_CHECK(r.n <= 2, "%ld detections on pure noise", r.n);
    mx_detect_result_free(&r);

    enum { G = 15 };
    double sx[G * G], sy[G * G], sa[G * G];
    for (int j = 0; j < G; j++)
        for (int i = 0; i < G; i++) {
            int k = j * G + i;
            sx[k] = 18 + 34 * i + rng_uniform();
            sy[k] = 18 + 34 * j + rng_uniform();
            sa[k] = 25 * pow(80.0, rng_uniform());
            add_star(img, nx, ny, sx[k], sy[k], sa[k], 1.1);
        }
    for (int type = 0; type < 3; type++) {
        mx_detect_opts ot = base_opts(5, 2, type == MX_THRESH_SIMPLE ? 1000 : 40, type);
        MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, nx, ny, &ot, &r, lab, NULL, NULL));
        int matched[G * G] = {0};
        long unmatched = 0, worst_bright_k = -1;
        double worst_bright = 0;
        for (long d = 0; d < r.n; d++) {
            int best = -1;
            double bd = 2.0;
            for (int k = 0; k < G * G; k++) {
                double dd = hypot(r.det[d].x - sx[k], r.det[d].y - sy[k]);
                if (dd < bd) {
                    bd = dd;
                    best = k;
                }
            }
            if (best < 0) {
                unmatched++;
                continue;
            }
            matched[best]++;
            if (sa[best] >= 200 && type == MX_THRESH_SIMPLE) {
                double e = fmax(fabs(r.det[d].x - sx[best]), fabs(r.det[d].y - sy[best]));
                if (e > worst_bright) {
                    worst_bright = e;
                    worst_bright_k = best;
                }
            }
        }
        int once = 0;
        for (int k = 0; k < G * G; k++) once += matched[k] == 1;
        MXT_CHECK(once == G * G, "type %d: %d of %d sources found exactly once", type, once, G * G);
        MXT_CHECK(unmatched <= 2, "type %d: %ld detections away from every source", type,
                  unmatched);
        if (type == MX_THRESH_SIMPLE)
            MXT_CHECK(worst_bright < 0.05, "worst bright centroid error %.4f px (amplitude %.0f)",
                      worst_bright, worst_bright_k >= 0 ? sa[worst_bright_k] : 0.0);
        /* The label map agrees with the list. */
        long labelled = 0, npix = 0;
        for (size_t i = 0; i < n; i++) labelled += lab[i] != 0;
        for (long d = 0; d < r.n; d++) npix += r.det[d].npix;
        MXT_EQ_INT(labelled, npix);
        mx_detect_result_free(&r);
    }
    free(img);
    free(lab);
}

/* Two close stars form one initial cluster; peak and simple split it into
 * a blend of two. */
static void test_blend(void) {
    long nx = 64, ny = 64;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img);
    for (size_t i = 0; i < n; i++) img[i] = (float)(0.5 * rng_gauss());
    add_star(img, nx, ny, 30.2, 31.0, 400, 1.2);
    add_star(img, nx, ny, 35.1, 31.3, 250, 1.2);
    add_star(img, nx, ny, 10, 50, 300, 1.2);
    mx_detect_opts o = base_opts(5, 2, 5, MX_THRESH_PEAK);
    mx_detect_result r;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, nx, ny, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 3);
    MXT_EQ_INT(r.n_initial, 2);
    int nblend = 0;
    for (long d = 0; d < r.n; d++)
        if (r.det[d].blend_size == 2) {
            nblend++;
            MXT_EQ_INT(r.det[d].blend_id, 1);
            MXT_TRUE(fabs(r.det[d].y - 31.1) < 0.5);
        } else {
            MXT_EQ_INT(r.det[d].blend_id, 0);
            MXT_NEAR(r.det[d].x, 10, 0.2);
        }
    MXT_EQ_INT(nblend, 2);
    mx_detect_result_free(&r);
    free(img);
}

static void test_detect_errors(void) {
    float img[4] = {1, 2, 3, 4};
    mx_detect_result r;
    mx_detect_opts o = base_opts(3, 1, 10, 7);
    MXT_FAILS(mx_detect(img, NULL, NULL, NULL, NULL, 2, 2, &o, &r, NULL, NULL, NULL), MX_ERR_PARAM,
              "Threshold_Type");
    o = base_opts(3, 1, 10, MX_THRESH_SIMPLE);
    o.connectivity = 6;
    MXT_FAILS(mx_detect(img, NULL, NULL, NULL, NULL, 2, 2, &o, &r, NULL, NULL, NULL), MX_ERR_PARAM,
              "Neighbor_Type");
    o.connectivity = 4;
    o.peaks_radius = 0;
    MXT_FAILS(mx_detect(img, NULL, NULL, NULL, NULL, 2, 2, &o, &r, NULL, NULL, NULL), MX_ERR_PARAM,
              "Peaks_Radius");
    o.peaks_radius = 1;
    float nan4[4] = {NAN, NAN, NAN, NAN};
    MXT_FAILS(mx_detect(nan4, NULL, NULL, NULL, NULL, 2, 2, &o, &r, NULL, NULL, NULL),
              MX_ERR_NUMERIC, "usable");
    /* SNR input: T = D, no statistics needed. */
    o.input_type = MX_INPUT_SNR;
    o.threshold = 2.5;
    MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, 2, 2, &o, &r, NULL, NULL, NULL));
    MXT_NEAR(r.threshold, 2.5, 0);
    MXT_EQ_INT(r.n, 1);
    if (r.n) MXT_EQ_INT(r.det[0].npix, 2);
    mx_detect_result_free(&r);
    /* Weights summing to <= 0 (an SNR image cut at -1): the centroid falls
     * back to the unweighted mean, x = (1 + 2 + 3) / 3 = 2, not -0.3-weighted. */
    float neg[5] = {-5, -0.5f, -0.2f, 0.4f, -5};
    o.threshold = -1;
    MXT_OK(mx_detect(neg, NULL, NULL, NULL, NULL, 5, 1, &o, &r, NULL, NULL, NULL));
    MXT_EQ_INT(r.n, 1);
    if (r.n) {
        MXT_NEAR(r.det[0].x, 2, 1e-12);
        MXT_NEAR(r.det[0].flux, 0.4, 1e-7);
    }
    mx_detect_result_free(&r);
}

/* O-5: M = 0, s = 1 imposed; thresholds 3 / 10, max area 3. Cluster A {15, 4}
 * is a radhit; B {40, 12, 9, 8, 3.5} (area 5) and C {5, 6} (max 6) are not. */
static void test_o5_radhit(void) {
    long nx = 12, ny = 5;
    float img[60] = {0};
    img[1 * nx + 1] = 15;
    img[1 * nx + 2] = 4;
    const float b[5] = {40, 12, 9, 8, 3.5};
    for (int i = 0; i < 5; i++) img[3 * nx + 1 + i] = b[i];
    img[1 * nx + 8] = 5;
    img[1 * nx + 9] = 6;
    mx_radhit_opts o = {3, 10, 3, 9, 1, 1, 0, 1};
    int32_t mask[60] = {0};
    mask[1 * nx + 1] = 16;
    mask[0] = 2048;
    uint8_t map[60];
    mx_radhit_result r;
    MXT_OK(mx_detect_radhit(img, NULL, nx, ny, &o, mask, map, 1, &r));
    MXT_EQ_INT(r.n_clusters, 3);
    MXT_EQ_INT(r.n_radhits, 1);
    MXT_EQ_INT(r.n_pixels, 2);
    if (r.n_pixels == 2) {
        MXT_EQ_INT(r.pixels[0], 1 * nx + 1);
        MXT_EQ_INT(r.pixels[1], 1 * nx + 2);
    }
    MXT_EQ_INT(mask[1 * nx + 1], 16 | 512);
    MXT_EQ_INT(mask[1 * nx + 2], 512);
    MXT_EQ_INT(mask[3 * nx + 1], 0);
    MXT_EQ_INT(mask[0], 2048);
    int nmap = 0;
    for (int i = 0; i < 60; i++) nmap += map[i];
    MXT_EQ_INT(nmap, 2);
    mx_radhit_result_free(&r);
    /* Max area 5 makes B a radhit too (40 > 10). */
    o.max_area = 5;
    MXT_OK(mx_detect_radhit(img, NULL, nx, ny, &o, NULL, NULL, 0, &r));
    MXT_EQ_INT(r.n_radhits, 2);
    MXT_EQ_INT(r.n_pixels, 7);
    MXT_TRUE(r.pixels == NULL);
    o.bit = 31;
    MXT_FAILS(mx_detect_radhit(img, NULL, nx, ny, &o, NULL, NULL, 0, &r), MX_ERR_PARAM, "bit");
}

/* Radhits in real-looking data: noise 1, a bright star (many pixels above
 * 3 sigma) and three cosmic rays of 1-2 pixels; only the rays are flagged. */
static void test_radhit_field(void) {
    long nx = 128, ny = 128;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img);
    for (size_t i = 0; i < n; i++) img[i] = (float)rng_gauss();
    add_star(img, nx, ny, 64.3, 40.6, 500, 1.3);
    img[100 * nx + 20] += 80;
    img[10 * nx + 110] += 60;
    img[10 * nx + 111] += 30;
    img[90 * nx + 90] += 200;
    mx_radhit_opts o = {3, 10, 3, 9, 1, 0, 0, 0};
    int32_t *mask = calloc(n, sizeof *mask);
    mx_radhit_result r;
    MXT_OK(mx_detect_radhit(img, NULL, nx, ny, &o, mask, NULL, 1, &r));
    MXT_NEAR(r.mean, 0, 0.05);
    MXT_NEAR(r.sigma, 1, 0.05);
    MXT_EQ_INT(r.n_radhits, 3);
    MXT_EQ_INT(mask[100 * nx + 20], 512);
    MXT_EQ_INT(mask[10 * nx + 111], 512);
    MXT_EQ_INT(mask[90 * nx + 90], 512);
    MXT_EQ_INT(mask[40 * nx + 64], 0);
    mx_radhit_result_free(&r);
    free(mask);
    free(img);
}

/* A real IRAC frame (ch1, AOR 46291456, EXPID 0056, 100 s; shared/data) with
 * its bimsk under the namelist's fatal pattern 32520: MedFilter 45x45, 50
 * outliers, then Detect and Detect Radhit on the subtracted image. The
 * numbers come from an independent numpy/scipy implementation of the same
 * definitions (window sort per pixel; iterative mean/std with ddof 1;
 * scipy.ndimage.label, 4-connected):
 *   2634 bad pixels, no missing background; background at (0,0), (128,128),
 *   (255,100), (17,240) = 0.0999439135, 0.101858512, 0.101571299,
 *   0.107109219 MJy/sr; D = 5: T = 0.102399247, 641 components of which 239
 *   have >= 3 pixels; radhit (3 / 10 sigma, area <= 3): M = -1.7230982e-06,
 *   s = 0.0149834966, 947 clusters, 175 radhits, 334 pixels. */
static void test_real_frame(void) {
    const char *dd = mxt_data_dir();
    char pimg[4096], pmsk[4096];
    const char *stem = "gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2";
    snprintf(pimg, sizeof pimg, "%s/%s_cbcd.fits", dd ? dd : "", stem);
    snprintf(pmsk, sizeof pmsk, "%s/%s_bimsk.fits", dd ? dd : "", stem);
    if (!dd || !mx_file_exists(pimg) || !mx_file_exists(pmsk)) {
        printf("real data absent: test_real_frame skipped\n");
        return;
    }
    mx_image *im = NULL, *mk = NULL;
    MXT_OK(mx_image_read(pimg, &im));
    MXT_OK(mx_mask_read(pmsk, &mk));
    if (!im || !mk) goto done;
    long nx = im->nx, ny = im->ny;
    size_t n = (size_t)(nx * ny);
    MXT_EQ_INT(nx, 256);
    MXT_EQ_INT(ny, 256);
    uint8_t *bad = malloc(n);
    float *sub = malloc(n * sizeof *sub), *bkg = malloc(n * sizeof *bkg);
    for (size_t i = 0; i < n; i++) bad[i] = mx_mask_is_fatal(mk->mask[i], 32520u);
    mx_medfilter_opts mo = {45, 45, 50, 9, 4, 0, 0, MX_SBKG_SPLINE, 0};
    long nnan = 0;
    MXT_OK(mx_medfilter(im->data, bad, nx, ny, &mo, sub, bkg, &nnan));
    MXT_EQ_INT(nnan, 2634);
    MXT_TRUE(bkg[0] == 0.0999439135f);
    MXT_TRUE(bkg[128 * nx + 128] == 0.101858512f);
    MXT_TRUE(bkg[100 * nx + 255] == 0.101571299f);
    MXT_TRUE(bkg[240 * nx + 17] == 0.107109219f);
    mx_detect_opts o = base_opts(5, 3, 1000, MX_THRESH_SIMPLE);
    mx_detect_result r;
    MXT_OK(mx_detect(sub, NULL, NULL, NULL, NULL, nx, ny, &o, &r, NULL, NULL, NULL));
    MXT_NEAR(r.threshold, 0.102399247, 1e-9);
    MXT_EQ_INT(r.n_initial, 239);
    mx_detect_result_free(&r);
    mx_radhit_opts ro = {3, 10, 3, 9, 1, 0, 0, 0};
    mx_radhit_result rr;
    MXT_OK(mx_detect_radhit(sub, NULL, nx, ny, &ro, NULL, NULL, 0, &rr));
    MXT_NEAR(rr.mean, -1.7230982e-06, 1e-12);
    MXT_NEAR(rr.sigma, 0.0149834966, 1e-10);
    MXT_EQ_INT(rr.n_clusters, 947);
    MXT_EQ_INT(rr.n_radhits, 175);
    MXT_EQ_INT(rr.n_pixels, 334);
    free(bad);
    free(sub);
    free(bkg);
done:
    mx_image_free(im);
    mx_image_free(mk);
}

static void test_timing(void) {
    long nx = 2048, ny = 2048;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img);
    int32_t *lab = malloc(n * sizeof *lab);
    for (size_t i = 0; i < n; i++) img[i] = (float)rng_gauss();
    for (int k = 0; k < 3000; k++)
        add_star(img, nx, ny, 8 + rng_uniform() * (nx - 16), 8 + rng_uniform() * (ny - 16),
                 10 * pow(300.0, rng_uniform()), 1.2);
    for (int type = 0; type < 3; type++) {
        mx_detect_opts o = base_opts(4, 2, type == MX_THRESH_SIMPLE ? 1000 : 20, type);
        mx_detect_result r;
        double t0 = now_s(), c0 = cpu_s();
        MXT_OK(mx_detect(img, NULL, NULL, NULL, NULL, nx, ny, &o, &r, lab, NULL, NULL));
        double dt = now_s() - t0, dc = cpu_s() - c0;
        printf("timing: detect %ldx%ld, 3000 stars, %s: %.1f ms wall, %.1f ms cpu, %ld "
               "detections (%ld initial)\n",
               nx, ny, type == 0 ? "simple" : type == 1 ? "combo" : "peak", dt * 1e3, dc * 1e3,
               r.n, r.n_initial);
        MXT_TRUE(r.n > 2500);
        if (!sanitized()) MXT_CHECK(dc < 2.0, "detect took %.2f s cpu", dc);
        mx_detect_result_free(&r);
    }
    mx_radhit_opts ro = {3, 10, 3, 9, 1, 0, 0, 0};
    mx_radhit_result rr;
    double t0 = now_s();
    MXT_OK(mx_detect_radhit(img, NULL, nx, ny, &ro, NULL, NULL, 0, &rr));
    printf("timing: detect radhit %ldx%ld: %.1f ms, %ld clusters\n", nx, ny, (now_s() - t0) * 1e3,
           rr.n_clusters);
    free(img);
    free(lab);
}

int main(void) {
    MXT_RUN(test_o6_initial_threshold);
    MXT_RUN(test_o6_resegmentation);
    MXT_RUN(test_peak_rule);
    MXT_RUN(test_flat_cluster_kept);
    MXT_RUN(test_o6_centroid_and_shape);
    MXT_RUN(test_connectivity_and_edges);
    MXT_RUN(test_coverage);
    MXT_RUN(test_probability_threshold);
    MXT_RUN(test_synthetic_field);
    MXT_RUN(test_blend);
    MXT_RUN(test_detect_errors);
    MXT_RUN(test_o5_radhit);
    MXT_RUN(test_radhit_field);
    MXT_RUN(test_real_frame);
    MXT_RUN(test_timing);
    return mxt_summary();
}
