/* test_medfilter.c - MedFilter (Median and Sbkg) and the window engine.
 *
 * The Median mode is checked for exact equality against a brute-force
 * implementation of the definition (sort of every window) on random images
 * with NaNs, masked pixels, duplicates, edges, odd/even windows and windows
 * larger than the image; the fill of missing pixels against a hand-worked
 * row; Sbkg against linear gradients and a hot panel. Timings are printed
 * (and bounded when the build is not sanitized). */
#include "mxtest.h"

#include <stdint.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;
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
 * machine is (single-threaded runs only). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int sanitized(void) {
    const char *s = getenv("MOPEX_SANITIZED");
    return s && strcmp(s, "1") == 0;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The definition, literally: gather, sort, drop the highest, pick. One
 * sort per pixel serves `nc` option sets that share the window size
 * (out[c][i] is quantile i of option set c). */
static void naive_multi(const float *img, const uint8_t *bad, long nx, long ny,
                        const mx_window_opts *o, int nc, float ***out, uint8_t **missing) {
    int lox = (o[0].window_x - 1) / 2, hix = o[0].window_x / 2;
    int loy = (o[0].window_y - 1) / 2, hiy = o[0].window_y / 2;
    float *buf = malloc((size_t)(nx * ny) * sizeof *buf);
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++) {
            long n = 0;
            for (long yy = y - loy; yy <= y + hiy; yy++)
                for (long xx = x - lox; xx <= x + hix; xx++) {
                    if (xx < 0 || yy < 0 || xx >= nx || yy >= ny) continue;
                    size_t p = (size_t)(yy * nx + xx);
                    if (!isfinite(img[p]) || (bad && bad[p])) continue;
                    buf[n++] = img[p];
                }
            qsort(buf, (size_t)n, sizeof *buf, cmp_float);
            size_t p = (size_t)(y * nx + x);
            for (int c = 0; c < nc; c++) {
                const mx_window_opts *oc = &o[c];
                int mg = oc->min_good < 1 ? 1 : oc->min_good;
                if (n < mg || n <= oc->n_drop_high) {
                    for (int i = 0; i < oc->nq; i++) out[c][i][p] = NAN;
                    missing[c][p] = 1;
                    continue;
                }
                missing[c][p] = 0;
                long m = n - oc->n_drop_high;
                for (int i = 0; i < oc->nq; i++) {
                    if (!oc->interpolate) {
                        long k = (long)floor(oc->q[i] * (double)m);
                        if (k > m - 1) k = m - 1;
                        out[c][i][p] = buf[k];
                    } else {
                        double h = oc->q[i] * (double)(m - 1);
                        long k = (long)floor(h);
                        double f = h - (double)k;
                        double v = buf[k];
                        if (f > 0 && k + 1 < m) v = v + f * ((double)buf[k + 1] - v);
                        out[c][i][p] = (float)v;
                    }
                }
            }
        }
    free(buf);
}

static void naive_quantiles(const float *img, const uint8_t *bad, long nx, long ny,
                            const mx_window_opts *o, float **out, uint8_t *missing) {
    naive_multi(img, bad, nx, ny, o, 1, &out, &missing);
}

static int same_bits(const float *a, const float *b, size_t n, size_t *where) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (a[i] != b[i]) {
            if (where) *where = i;
            return 0;
        }
    }
    return 1;
}

static float *random_image(long nx, long ny, double nan_frac, int integer_values) {
    float *img = malloc((size_t)(nx * ny) * sizeof *img);
    for (long i = 0; i < nx * ny; i++) {
        if (rng_uniform() < nan_frac)
            img[i] = rng_uniform() < 0.5 ? NAN : INFINITY;
        else if (integer_values)
            img[i] = (float)(rng_next() % 7);
        else
            img[i] = (float)(100.0 + 10.0 * rng_gauss() + (rng_uniform() < 0.05 ? 500.0 : 0.0));
    }
    return img;
}

/* Exact equality with the brute force over many shapes and parameters. */
static void test_window_exact_vs_naive(void) {
    static const int wins[][2] = {{1, 1}, {3, 3}, {3, 5}, {4, 4}, {7, 6}, {2, 9},
                                  {11, 11}, {45, 45}, {80, 3}, {1, 20}};
    static const int drops[] = {0, 1, 5, 30};
    static const int mgood[] = {1, 9};
    enum { NC = 4 * 2 * 2 };
    long sizes[][2] = {{37, 29}, {1, 17}, {19, 1}, {64, 70}, {5, 140}};
    int ncases = 0, nbad = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        long nx = sizes[si][0], ny = sizes[si][1];
        size_t n = (size_t)(nx * ny);
        for (int integer = 0; integer < 2; integer++) {
            float *img = random_image(nx, ny, 0.15, integer);
            uint8_t *bad = malloc(n);
            for (size_t i = 0; i < n; i++) bad[i] = rng_uniform() < 0.05;
            float *a = malloc(n * sizeof *a), *a2 = malloc(n * sizeof *a2);
            uint8_t *ma = malloc(n);
            float *store = malloc((size_t)NC * 2 * n * sizeof *store);
            uint8_t *mstore = malloc((size_t)NC * n);
            float *ptrs[NC][2], **outs[NC];
            uint8_t *miss[NC];
            for (int c = 0; c < NC; c++) {
                ptrs[c][0] = store + (size_t)(2 * c) * n;
                ptrs[c][1] = store + (size_t)(2 * c + 1) * n;
                outs[c] = ptrs[c];
                miss[c] = mstore + (size_t)c * n;
            }
            for (size_t wi = 0; wi < sizeof wins / sizeof wins[0]; wi++) {
                mx_window_opts o[NC];
                int c = 0;
                for (size_t di = 0; di < sizeof drops / sizeof drops[0]; di++)
                    for (size_t gi = 0; gi < 2; gi++)
                        for (int interp = 0; interp < 2; interp++, c++) {
                            memset(&o[c], 0, sizeof o[c]);
                            o[c].window_x = wins[wi][0];
                            o[c].window_y = wins[wi][1];
                            o[c].n_drop_high = drops[di];
                            o[c].min_good = mgood[gi];
                            o[c].nq = 2;
                            o[c].q[0] = 0.5;
                            o[c].q[1] = interp ? 0.8413 : 0.1587;
                            o[c].interpolate = interp;
                        }
                const uint8_t *bd = (wi % 2) ? bad : NULL;
                naive_multi(img, bd, nx, ny, o, NC, outs, miss);
                for (c = 0; c < NC; c++) {
                    float *oa[2] = {a, a2};
                    int st = mx_window_quantiles(img, bd, nx, ny, &o[c], oa, ma);
                    size_t where = 0;
                    int ok = st == MX_OK && same_bits(a, ptrs[c][0], n, &where) &&
                             same_bits(a2, ptrs[c][1], n, &where) && memcmp(ma, miss[c], n) == 0;
                    ncases++;
                    if (!ok && ++nbad < 5)
                        fprintf(stderr,
                                "mismatch %ldx%ld win %dx%d drop %d min %d interp %d at %zu: "
                                "%g vs %g\n",
                                nx, ny, o[c].window_x, o[c].window_y, o[c].n_drop_high,
                                o[c].min_good, o[c].interpolate, where, a[where],
                                ptrs[c][0][where]);
                }
            }
            free(img);
            free(bad);
            free(a);
            free(a2);
            free(ma);
            free(store);
            free(mstore);
        }
    }
    MXT_EQ_INT(nbad, 0);
    MXT_EQ_INT(ncases, 5 * 2 * 10 * NC);
}

/* The same numbers for 1, 2 and 7 threads (and against the brute force on
 * an image tall enough for several bands). */
static void test_thread_invariance(void) {
    long nx = 150, ny = 300;
    size_t n = (size_t)(nx * ny);
    float *img = random_image(nx, ny, 0.1, 0);
    float *r[3];
    mx_medfilter_opts o = {15, 9, 10, 9, 4, 0, 0, MX_SBKG_SPLINE, 0};
    int th[3] = {1, 2, 7};
    for (int t = 0; t < 3; t++) {
        r[t] = malloc(n * sizeof *r[t]);
        mx_set_threads(th[t]);
        MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, r[t], NULL, NULL));
    }
    mx_set_threads(0);
    MXT_TRUE(same_bits(r[0], r[1], n, NULL));
    MXT_TRUE(same_bits(r[0], r[2], n, NULL));
    /* Brute force of the background. */
    mx_window_opts w = {15, 9, 10, 9, 1, {0.5}, 0};
    float *nb = malloc(n * sizeof *nb);
    uint8_t *miss = malloc(n);
    float *outs[1] = {nb};
    naive_quantiles(img, NULL, nx, ny, &w, outs, miss);
    long nmiss = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (miss[i]) {
            nmiss++;
            continue;
        }
        float want = isfinite(img[i]) ? img[i] - nb[i] : NAN;
        if (!(isnan(want) && isnan(r[0][i])) && want != r[0][i]) bad++;
    }
    MXT_EQ_INT(nmiss, 0);
    MXT_EQ_INT(bad, 0);
    for (int t = 0; t < 3; t++) free(r[t]);
    free(nb);
    free(miss);
    free(img);
}

static void test_constant_image(void) {
    long nx = 60, ny = 50;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img), *sub = malloc(n * sizeof *sub),
          *bkg = malloc(n * sizeof *bkg);
    for (size_t i = 0; i < n; i++) img[i] = 42.5f;
    img[7] = NAN;
    for (int sb = 0; sb < 2; sb++)
        for (int interp = 0; interp < 2; interp++) {
            mx_medfilter_opts o = {9, 7, 3, 9, 4, sb, 3, interp, 0};
            long nnan = -1;
            MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, sub, bkg, &nnan));
            double maxabs = 0, bmax = 0;
            for (size_t i = 0; i < n; i++) {
                if (i == 7) continue;
                if (fabs(sub[i]) > maxabs) maxabs = fabs(sub[i]);
                if (fabs(bkg[i] - 42.5) > bmax) bmax = fabs(bkg[i] - 42.5);
            }
            MXT_NEAR(maxabs, 0.0, sb ? 1e-5 : 0.0);
            MXT_NEAR(bmax, 0.0, sb ? 1e-5 : 0.0);
            MXT_TRUE(isnan(sub[7]));
            MXT_EQ_INT(nnan, 1);
        }
    free(img);
    free(sub);
    free(bkg);
}

/* A 5x5 star of 25 pixels on a flat background 10: with 15x15 windows and
 * N_Outliers = 30 >= 25 the background is exactly 10 everywhere and the
 * subtracted star keeps its full height; with a 9x9 star (81 pixels) and no
 * outliers dropped, the median inside the star is the star itself. */
static void test_bright_star(void) {
    long nx = 64, ny = 64;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img), *sub = malloc(n * sizeof *sub),
          *bkg = malloc(n * sizeof *bkg);
    for (size_t i = 0; i < n; i++) img[i] = 10.0f;
    for (long y = 30; y < 35; y++)
        for (long x = 20; x < 25; x++) img[y * nx + x] = 1000.0f + (float)(x + y);
    mx_medfilter_opts o = {15, 15, 30, 9, 4, 0, 0, MX_SBKG_SPLINE, 0};
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, sub, bkg, NULL));
    double bdev = 0;
    for (size_t i = 0; i < n; i++) bdev = fmax(bdev, fabs(bkg[i] - 10.0));
    MXT_NEAR(bdev, 0.0, 0.0);
    MXT_NEAR(sub[32 * nx + 22], 1000.0 + 54 - 10.0, 0.0);
    MXT_NEAR(sub[5 * nx + 5], 0.0, 0.0);
    /* Big star, nothing dropped: the centre's 15x15 window holds 81 star
     * pixels of 225 - not a majority, background still 10; with 11x11
     * windows (121) it is a majority and the background is star-valued. */
    for (long y = 26; y < 35; y++)
        for (long x = 16; x < 25; x++) img[y * nx + x] = 500.0f;
    mx_medfilter_opts o2 = {11, 11, 0, 9, 4, 0, 0, MX_SBKG_SPLINE, 0};
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o2, sub, bkg, NULL));
    MXT_NEAR(bkg[30 * nx + 20], 500.0, 0.0);
    mx_medfilter_opts o3 = {11, 11, 81, 9, 4, 0, 0, MX_SBKG_SPLINE, 0};
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o3, sub, bkg, NULL));
    MXT_NEAR(bkg[30 * nx + 20], 10.0, 0.0);
    MXT_NEAR(sub[30 * nx + 20], 490.0, 0.0);
    free(img);
    free(sub);
    free(bkg);
}

/* Hand-worked row: [1 2 3 NaN NaN NaN NaN NaN 9], window 3x1, min good 2.
 * Backgrounds: p0 {1,2} -> 2, p1 {1,2,3} -> 2, p2 {2,3} -> 3, p3..p7 missing
 * (bad input: stay NaN), p8 {9} n = 1 -> missing at a good pixel: the rings
 * reach p2 (value 3) at radius 6, so with 1 neighbour needed b = 3, sub = 6;
 * with 2 neighbours radius 7 adds p1 (2): b = 2.5, sub = 6.5. */
static void test_missing_fill(void) {
    float img[9] = {1, 2, 3, NAN, NAN, NAN, NAN, NAN, 9};
    float sub[9], bkg[9];
    mx_medfilter_opts o = {3, 1, 0, 2, 1, 0, 0, MX_SBKG_SPLINE, 0};
    long nnan = 0;
    MXT_OK(mx_medfilter(img, NULL, 9, 1, &o, sub, bkg, &nnan));
    MXT_NEAR(bkg[0], 2, 0);
    MXT_NEAR(bkg[1], 2, 0);
    MXT_NEAR(bkg[2], 3, 0);
    MXT_TRUE(isnan(bkg[5]));
    MXT_NEAR(bkg[8], 3, 0);
    MXT_NEAR(sub[8], 6, 0);
    MXT_NEAR(sub[0], -1, 0);
    MXT_EQ_INT(nnan, 5);
    o.min_good_neighbors = 2;
    MXT_OK(mx_medfilter(img, NULL, 9, 1, &o, sub, bkg, NULL));
    MXT_NEAR(bkg[8], 2.5, 0);
    MXT_NEAR(sub[8], 6.5, 0);
    /* The averaging median on p0 {1,2} -> 1.5. */
    o.median_average = 1;
    MXT_OK(mx_medfilter(img, NULL, 9, 1, &o, sub, bkg, NULL));
    MXT_NEAR(bkg[0], 1.5, 0);
    MXT_NEAR(bkg[1], 2, 0);
    /* Nothing computable anywhere: NaN, no error. */
    float nanimg[4] = {NAN, 5, NAN, NAN};
    float s4[4];
    mx_medfilter_opts o4 = {3, 3, 0, 9, 4, 0, 0, MX_SBKG_SPLINE, 0};
    MXT_OK(mx_medfilter(nanimg, NULL, 2, 2, &o4, s4, NULL, &nnan));
    MXT_TRUE(isnan(s4[1]));
    MXT_EQ_INT(nnan, 4);
    /* Ring fill of a 2-D hole: 11x11 image of value (x + 100 y), a 5x5
     * window with min good 25 leaves the edge pixels missing; each is the mean
     * of the first ring holding 8 computed values. Check (0,0): computed
     * pixels are those with x, y in 2..8; ring 2 around (0,0) holds (2,2),
     * (2,0..1) are missing... only (2,2) is computed -> count 1 < 8; ring 3
     * adds (3,2),(3,3),(2,3) -> 4; ring 4: (4,2),(4,3),(4,4),(2,4),(3,4) -> 9 >= 8. */
    float g[121], gs[121], gb[121];
    for (int y = 0; y < 11; y++)
        for (int x = 0; x < 11; x++) g[y * 11 + x] = (float)(x + 100 * y);
    mx_medfilter_opts og = {5, 5, 0, 25, 8, 0, 0, MX_SBKG_SPLINE, 0};
    MXT_OK(mx_medfilter(g, NULL, 11, 11, &og, gs, gb, NULL));
    /* Computed background at (x, y) in 2..8 is the median of a full 5x5 box
     * of a plane = the centre value. */
    MXT_NEAR(gb[5 * 11 + 5], 505, 0);
    double want = 0;
    int pts[9][2] = {{2, 2}, {3, 2}, {3, 3}, {2, 3}, {4, 2}, {4, 3}, {4, 4}, {2, 4}, {3, 4}};
    for (int i = 0; i < 9; i++) want += pts[i][0] + 100 * pts[i][1];
    MXT_NEAR(gb[0], (float)(want / 9), 1e-3);
}

/* Sbkg on linear gradients (with holes): reproduced to < 1e-3 of the
 * amplitude, for both interpolations, with and without the panel filter. */
static void test_sbkg_gradient(void) {
    long nx = 256, ny = 256;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img), *sub = malloc(n * sizeof *sub),
          *bkg = malloc(n * sizeof *bkg);
    double a = 0.37, b = -0.21, c = 50.0;
    double amp = fabs(a) * (nx - 1) + fabs(b) * (ny - 1);
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++) img[y * nx + x] = (float)(a * x + b * y + c);
    for (int interp = 0; interp < 2; interp++)
        for (int fs = 0; fs <= 3; fs += 3) {
            mx_medfilter_opts o = {45, 45, 50, 9, 4, 1, fs, interp, 0};
            MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, sub, bkg, NULL));
            double worst = 0;
            for (long y = 0; y < ny; y++)
                for (long x = 0; x < nx; x++) {
                    double e = fabs(bkg[y * nx + x] - (a * x + b * y + c));
                    if (e > worst) worst = e;
                }
            MXT_CHECK(worst < 1e-3 * amp, "interp %d filter %d: worst %g (amp %g)", interp, fs,
                      worst, amp);
            MXT_NEAR(sub[100 * nx + 100], 0.0, 1e-3 * amp);
        }
    free(img);
    free(sub);
    free(bkg);
}

/* A hot panel (a bright extended object filling one panel) is removed by
 * the 3x3 panel filter; without the filter it shows. */
static void test_sbkg_filter(void) {
    long nx = 200, ny = 200;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img), *bkg = malloc(n * sizeof *bkg);
    for (size_t i = 0; i < n; i++) img[i] = (float)(20.0 + rng_gauss());
    for (long y = 80; y < 120; y++)
        for (long x = 80; x < 120; x++) img[y * nx + x] += 300.0f;
    /* Panels 40x40: 5x5 grid, the hot one is (2, 2), centre (99.5, 99.5). */
    mx_medfilter_opts o = {40, 40, 0, 9, 4, 1, 0, MX_SBKG_BILINEAR, 0};
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, NULL, bkg, NULL));
    MXT_TRUE(bkg[100 * nx + 100] > 250.0);
    o.sbkg_filter_size = 3;
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, NULL, bkg, NULL));
    MXT_NEAR(bkg[100 * nx + 100], 20.0, 0.3);
    MXT_NEAR(bkg[10 * nx + 190], 20.0, 0.3);
    /* A filter larger than the panel count is capped (still works). */
    o.sbkg_filter_size = 99;
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, NULL, bkg, NULL));
    MXT_NEAR(bkg[100 * nx + 100], 20.0, 0.3);
    /* Empty panel (all NaN): filled from the nearest valid panels. */
    for (long y = 0; y < 40; y++)
        for (long x = 0; x < 40; x++) img[y * nx + x] = NAN;
    o.sbkg_filter_size = 0;
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, NULL, bkg, NULL));
    MXT_NEAR(bkg[0], 20.0, 0.3);
    free(img);
    free(bkg);
}

/* Panel layout: 256 = 5 x 45 + 31 (31 >= 22.5: own panel); 240 = 5 x 45 +
 * 15 (merged). A step image whose left 31 columns differ shows the
 * partial panel as its own node. */
static void test_sbkg_partial_panel(void) {
    long nx = 256, ny = 45;
    size_t n = (size_t)(nx * ny);
    float *img = malloc(n * sizeof *img), *bkg = malloc(n * sizeof *bkg);
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++) img[y * nx + x] = x >= 225 ? 7.0f : 1.0f;
    mx_medfilter_opts o = {45, 45, 0, 9, 4, 1, 0, MX_SBKG_BILINEAR, 0};
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, NULL, bkg, NULL));
    /* Last centre at (225 + 255)/2 = 240: value 7 there. */
    MXT_NEAR(bkg[240], 7.0, 1e-6);
    MXT_NEAR(bkg[202], 1.0, 1e-6); /* centre of panel 4 */
    free(img);
    free(bkg);
    nx = 240;
    n = (size_t)(nx * ny);
    img = malloc(n * sizeof *img);
    bkg = malloc(n * sizeof *bkg);
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++) img[y * nx + x] = x >= 225 ? 7.0f : 1.0f;
    MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, NULL, bkg, NULL));
    /* Merged: the last panel is [180, 240), 60 columns, 15 of them 7: its
     * mode estimate is 1 (clipped), so nowhere near 7. */
    MXT_TRUE(bkg[239] < 2.0);
    free(img);
    free(bkg);
}

static void test_errors(void) {
    float img[4] = {1, 2, 3, 4}, out[4];
    mx_medfilter_opts o = {0, 3, 0, 1, 1, 0, 0, MX_SBKG_SPLINE, 0};
    MXT_FAILS(mx_medfilter(img, NULL, 2, 2, &o, out, NULL, NULL), MX_ERR_PARAM, "Window_X");
    o.window_x = 3;
    o.n_outliers = -1;
    MXT_FAILS(mx_medfilter(img, NULL, 2, 2, &o, out, NULL, NULL), MX_ERR_PARAM,
              "N_Outliers_Per_Window");
    o.n_outliers = 0;
    MXT_FAILS(mx_medfilter(img, NULL, 2, 2, &o, NULL, NULL, NULL), MX_ERR_PARAM, "output");
    MXT_FAILS(mx_medfilter(img, NULL, 0, 2, &o, out, NULL, NULL), MX_ERR_PARAM, "size");
}

static void test_timing(void) {
    int san = sanitized();
    long sizes[2] = {256, 2048};
    for (int s = 0; s < 2; s++) {
        long nx = sizes[s], ny = sizes[s];
        size_t n = (size_t)(nx * ny);
        float *img = malloc(n * sizeof *img), *sub = malloc(n * sizeof *sub);
        for (size_t i = 0; i < n; i++) img[i] = (float)(100.0 + 5.0 * rng_gauss());
        mx_medfilter_opts o = {45, 45, 50, 9, 4, 0, 0, MX_SBKG_SPLINE, 0};
        for (int th = 1; th <= 2; th++) {
            if (s == 1 && san && th == 1) continue;
            mx_set_threads(th);
            double t0 = now_s(), c0 = cpu_s();
            MXT_OK(mx_medfilter(img, NULL, nx, ny, &o, sub, NULL, NULL));
            double dt = now_s() - t0, dc = cpu_s() - c0;
            printf("timing: medfilter median %ldx%ld window 45x45 N_Outliers 50, %d thread(s): "
                   "%.1f ms wall, %.1f ms cpu\n",
                   nx, ny, th, dt * 1e3, dc * 1e3);
            if (!san && s == 0 && th == 1) MXT_CHECK(dc < 0.05, "256x256 took %.3f s cpu", dc);
            if (!san && s == 1 && th == 1) MXT_CHECK(dc < 3.0, "2048x2048 took %.3f s cpu", dc);
        }
        mx_set_threads(0);
        mx_medfilter_opts os = {45, 45, 50, 9, 4, 1, 3, MX_SBKG_SPLINE, 0};
        double t0 = now_s();
        MXT_OK(mx_medfilter(img, NULL, nx, ny, &os, sub, NULL, NULL));
        printf("timing: medfilter sbkg %ldx%ld panels 45x45: %.1f ms\n", nx, ny,
               (now_s() - t0) * 1e3);
        /* Noise 5 around 100: the subtracted image has mean ~0. */
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += sub[i];
        MXT_NEAR(sum / (double)n, 0.0, 0.1);
        free(img);
        free(sub);
    }
}

int main(void) {
    MXT_RUN(test_window_exact_vs_naive);
    MXT_RUN(test_thread_invariance);
    MXT_RUN(test_constant_image);
    MXT_RUN(test_bright_star);
    MXT_RUN(test_missing_fill);
    MXT_RUN(test_sbkg_gradient);
    MXT_RUN(test_sbkg_filter);
    MXT_RUN(test_sbkg_partial_panel);
    MXT_RUN(test_errors);
    MXT_RUN(test_timing);
    return mxt_summary();
}
