/* test_stats.c - selection, medians, MAD, clipping, Detect threshold, mode.
 * Oracles from spec/algorithms_oracles.py (O-2, O-3, O-6). */
#include "mxtest.h"

#include <stdint.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64*: deterministic, independent of the C library's rand(). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
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

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* O-2: temporal stack; M = 10 under both median conventions, MAD = 1. */
static void test_o2_temporal_stack(void) {
    const float st[8] = {10, 11, 9, 10, 12, 50, 10, 8};
    float v[8];
    memcpy(v, st, sizeof v);
    MXT_NEAR(mx_median_inplace(v, 8, MX_MEDIAN_UPPER), 10.0, 0);
    memcpy(v, st, sizeof v);
    MXT_NEAR(mx_median_inplace(v, 8, MX_MEDIAN_AVERAGE), 10.0, 0);
    mx_stats s;
    MXT_OK(mx_stats_compute(st, NULL, 8, 1, &s));
    MXT_EQ_INT(s.n, 8);
    MXT_NEAR(s.median, 10.0, 0);
    MXT_NEAR(s.mad_sigma, 1.4825796887, 1e-9);
    MXT_NEAR((50 - s.median) / s.mad_sigma, 26.98, 1e-9);
    MXT_NEAR((8 - s.median) / s.mad_sigma, -1.349, 1e-9);
    MXT_NEAR(s.mean, 15.0, 1e-12);
    MXT_NEAR(s.min, 8, 0);
    MXT_NEAR(s.max, 50, 0);
    /* Stack {10, 30}: upper median 30, averaging median 20. */
    float two[2] = {30, 10};
    MXT_NEAR(mx_median_inplace(two, 2, MX_MEDIAN_UPPER), 30.0, 0);
    float two2[2] = {30, 10};
    MXT_NEAR(mx_median_inplace(two2, 2, MX_MEDIAN_AVERAGE), 20.0, 0);
    double dd[4] = {4, 1, 3, 2};
    MXT_NEAR(mx_median_inplace_d(dd, 4, MX_MEDIAN_UPPER), 3.0, 0);
    double dd2[5] = {4, NAN, 1, 3, 2};
    MXT_NEAR(mx_median_inplace_d(dd2, 5, MX_MEDIAN_AVERAGE), 2.5, 0);
}

/* O-3: the box stack of 18 values; Bias 1 -> 0-based index 8. */
static void test_o3_biased_median(void) {
    const float box[18] = {10.0f, 10.2f, 9.9f, 10.1f, 10.0f, 9.8f, 10.3f, 10.1f, 10.2f,
                           60, 75, 80, 90, 100, 85, 70, 65, 95};
    float v[18], dev[18];
    memcpy(v, box, sizeof v);
    float M = mx_biased_median_inplace(v, 18, 1);
    MXT_NEAR(M, 10.3f, 0);
    for (int i = 0; i < 18; i++) dev[i] = fabsf(box[i] - M);
    float d = mx_biased_median_inplace(dev, 18, 1);
    MXT_NEAR(d, 0.5, 1e-6); /* 10.3 - 9.8 in float */
    double sg = d / MX_MAD_SCALE;
    MXT_NEAR(sg, 0.7412898443, 1e-6);
    MXT_NEAR((10.0 - M) / sg, -0.4047, 1e-4);
    MXT_NEAR((100.0 - M) / sg, 121.0053, 2e-4);
    /* Bias 0: M = 60, deviation 49.7, O_B = 0.5429 (the radhit is missed). */
    memcpy(v, box, sizeof v);
    M = mx_biased_median_inplace(v, 18, 0);
    MXT_NEAR(M, 60.0, 0);
    for (int i = 0; i < 18; i++) dev[i] = fabsf(box[i] - M);
    d = mx_biased_median_inplace(dev, 18, 0);
    MXT_NEAR(d, 49.7, 1e-5);
    MXT_NEAR((100.0 - M) / (d / MX_MAD_SCALE), 0.5429, 1e-4);
    /* Clamping: a bias larger than N/2 gives the minimum, a negative one
     * beyond the top gives the maximum; NaN are ignored. */
    float w[5] = {5, NAN, 1, 3, 2};
    MXT_NEAR(mx_biased_median_inplace(w, 5, 10), 1.0, 0);
    float w2[5] = {5, NAN, 1, 3, 2};
    MXT_NEAR(mx_biased_median_inplace(w2, 5, -10), 5.0, 0);
    float none[2] = {NAN, INFINITY};
    MXT_TRUE(isnan(mx_biased_median_inplace(none, 2, 0)));
}

/* O-6: {0..9, 100}, D = 2. */
static void test_o6_iterative_threshold(void) {
    float v[11];
    for (int i = 0; i < 10; i++) v[i] = (float)i;
    v[10] = 100;
    double M, s, T;
    MXT_OK(mx_iterative_threshold(v, NULL, 11, 2.0, 1, &M, &s, &T));
    MXT_NEAR(M, 4.5, 1e-12);
    MXT_NEAR(s, 3.027650, 5e-7);
    MXT_NEAR(T, 10.555301, 5e-7);
    MXT_OK(mx_iterative_threshold(v, NULL, 11, 2.0, 0, &M, &s, &T));
    MXT_NEAR(M, 4.5, 1e-12);
    MXT_NEAR(s, 2.872281, 5e-7);
    MXT_NEAR(T, 10.244563, 5e-7);
    /* Masked and NaN entries are ignored: the same answer with junk added. */
    float w[14];
    uint8_t mask[14] = {0};
    memcpy(w, v, sizeof v);
    w[11] = NAN;
    w[12] = -INFINITY;
    w[13] = 1e6f;
    mask[13] = 1;
    MXT_OK(mx_iterative_threshold(w, mask, 14, 2.0, 1, &M, &s, &T));
    MXT_NEAR(T, 10.555301, 5e-7);
    float nan1[1] = {NAN};
    MXT_FAILS(mx_iterative_threshold(nan1, NULL, 1, 2.0, 1, &M, &s, &T), MX_ERR_NUMERIC,
              "no finite");
}

static void test_stats_ddof_mask(void) {
    const float v[6] = {1, 2, 3, 4, NAN, 1000};
    const uint8_t mask[6] = {0, 0, 0, 0, 0, 1};
    mx_stats s;
    MXT_OK(mx_stats_compute(v, mask, 6, 0, &s));
    MXT_EQ_INT(s.n, 4);
    MXT_NEAR(s.mean, 2.5, 1e-12);
    MXT_NEAR(s.stddev, sqrt(1.25), 1e-12);
    MXT_NEAR(s.median, 3.0, 0); /* upper median of {1,2,3,4} */
    MXT_NEAR(s.mad_sigma, 1.0 / 0.6745, 1e-12); /* |v-3| = {2,1,0,1} -> upper median 1 */
    MXT_OK(mx_stats_compute(v, mask, 6, 1, &s));
    MXT_NEAR(s.stddev, sqrt(5.0 / 3.0), 1e-12);
    /* One value with ddof 1: no spread defined. */
    MXT_OK(mx_stats_compute(v, NULL, 1, 1, &s));
    MXT_EQ_INT(s.n, 1);
    MXT_TRUE(isnan(s.stddev));
    MXT_OK(mx_stats_compute(v + 4, NULL, 1, 0, &s));
    MXT_EQ_INT(s.n, 0);
    MXT_TRUE(isnan(s.median));
    MXT_FAILS(mx_stats_compute(v, NULL, 6, -1, &s), MX_ERR_PARAM, "ddof");
    /* Large offset: the two-pass formula keeps the variance exact. */
    float big[4] = {1e6f + 1, 1e6f + 2, 1e6f + 3, 1e6f + 4};
    MXT_OK(mx_stats_compute(big, NULL, 4, 0, &s));
    MXT_NEAR(s.stddev, sqrt(1.25), 1e-9);
}

static void test_sigma_clip(void) {
    /* 20 values 10 +- 1 and one 100: the outlier goes in one pass. */
    float v[21];
    for (int i = 0; i < 20; i++) v[i] = (i % 2) ? 11.0f : 9.0f;
    v[20] = 100;
    mx_stats s;
    MXT_OK(mx_sigma_clip(v, NULL, 21, 3, 3, 10, 0, 0, &s));
    MXT_EQ_INT(s.n, 20);
    MXT_NEAR(s.mean, 10.0, 1e-12);
    MXT_NEAR(s.stddev, 1.0, 1e-12);
    MXT_NEAR(s.median, 11.0, 0);
    MXT_NEAR(s.max, 11.0, 0);
    /* maxiter 0: nothing clipped. */
    MXT_OK(mx_sigma_clip(v, NULL, 21, 3, 3, 0, 0, 0, &s));
    MXT_EQ_INT(s.n, 21);
    /* Asymmetric limits with the mean as centre: {0,0,0,0,10}: mean 2,
     * std(N) 4; hi = 2 + 1*4 = 6 drops 10; lo = 2 - 100*4 keeps the zeros. */
    float a[5] = {0, 0, 0, 0, 10};
    MXT_OK(mx_sigma_clip(a, NULL, 5, 100, 1, 5, 1, 0, &s));
    MXT_EQ_INT(s.n, 4);
    MXT_NEAR(s.mean, 0.0, 0);
    MXT_FAILS(mx_sigma_clip(a, NULL, 5, 0, 1, 5, 1, 0, &s), MX_ERR_PARAM, "clipping");
}

static void test_mode_and_histogram(void) {
    /* Symmetric data: Pearson mode = median = mean. */
    float sym[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    double mode;
    MXT_OK(mx_mode_estimate(sym, NULL, 9, &mode));
    MXT_NEAR(mode, 5.0, 1e-12);
    /* Skewed {0,0,1,1,1,2,2,3,4}: mean 14/9, upper median 1, std(N-1) 1.3333;
     * |mean - median|/sigma = 0.417 > 0.3 -> the median. */
    float sk[9] = {0, 0, 1, 1, 1, 2, 2, 3, 4};
    MXT_OK(mx_mode_estimate(sk, NULL, 9, &mode));
    MXT_NEAR(mode, 1.0, 0);
    /* A gently skewed sample where the Pearson formula applies:
     * {0, 1, 1, 2, 2, 2, 3, 3, 4, 5}: median (upper) 2, mean 2.3,
     * std(N-1) = sqrt(20.1/9) = 1.4944; 0.3/1.4944 = 0.2007 <= 0.3
     * -> mode = 5 - 3.45 = 1.55. */
    float g[10] = {0, 1, 1, 2, 2, 2, 3, 3, 4, 5};
    MXT_OK(mx_mode_estimate(g, NULL, 10, &mode));
    MXT_NEAR(mode, 2.5 * 2.0 - 1.5 * 2.3, 1e-6);
    /* Strongly skewed: the median. {0 x 6, 10 x 4}: median 0, mean 4,
     * std(N-1) 5.164 -> 0.775 > 0.3 -> median 0 (3-sigma clip keeps all). */
    float st[10] = {0, 0, 0, 0, 0, 0, 10, 10, 10, 10};
    MXT_OK(mx_mode_estimate(st, NULL, 10, &mode));
    MXT_NEAR(mode, 0.0, 0);

    /* Histogram of a Gaussian N(3, 1), 1e5 values: peak within 0.05. */
    size_t n = 100000;
    float *gs = malloc(n * sizeof *gs);
    for (size_t i = 0; i < n; i++) gs[i] = (float)(3.0 + rng_gauss());
    double peak;
    MXT_OK(mx_histogram_peak(gs, NULL, n, 100, &peak));
    MXT_NEAR(peak, 3.0, 0.05);
    MXT_OK(mx_mode_estimate(gs, NULL, n, &mode));
    MXT_NEAR(mode, 3.0, 0.03);
    free(gs);
    /* Exact parabola: 0.25, 1.25, ..., 100.25 plus extra values so that,
     * with the 1st/99th percentiles at sorted[1] = 1.25 and sorted[108] =
     * 99.25 and 98 bins of width 1, bins 48, 49, 50 hold 3, 5, 4 values:
     * offset 0.5 (3 - 4) / (3 - 10 + 4) = 1/6 -> 1.25 + 49.5 + 1/6. */
    float h[120];
    int k = 0;
    for (int i = 0; i <= 100; i++) h[k++] = (float)i + 0.25f;
    h[k++] = 49.5f; h[k++] = 49.5f;
    h[k++] = 50.5f; h[k++] = 50.5f; h[k++] = 50.5f; h[k++] = 50.5f;
    h[k++] = 51.5f; h[k++] = 51.5f; h[k++] = 51.5f;
    MXT_OK(mx_histogram_peak(h, NULL, (size_t)k, 98, &peak));
    MXT_NEAR(peak, 1.25 + 49.5 + 1.0 / 6.0, 1e-9);
    float flat[3] = {2, 2, 2};
    MXT_OK(mx_histogram_peak(flat, NULL, 3, 10, &peak));
    MXT_NEAR(peak, 2.0, 0);
    MXT_FAILS(mx_histogram_peak(flat, NULL, 3, 0, &peak), MX_ERR_PARAM, "nbins");
}

/* Selection against qsort on many random arrays with duplicates and NaN. */
static void test_select_random(void) {
    enum { NSMALL = 100000, MAXN = 40 };
    float a[MAXN], b[MAXN], c[MAXN];
    long bad = 0, badpart = 0;
    for (int t = 0; t < NSMALL; t++) {
        size_t n = 1 + rng_next() % MAXN;
        int levels = 1 + (int)(rng_next() % 8); /* few levels -> many duplicates */
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rng_next();
            a[i] = (r % 10 == 0) ? NAN : (float)(int)((r >> 8) % (uint64_t)levels) - 3.0f;
        }
        memcpy(b, a, n * sizeof *a);
        size_t m = mx_compact_finite(b, n);
        memcpy(c, b, m * sizeof *b);
        qsort(c, m, sizeof *c, cmp_float);
        if (m == 0) {
            memcpy(b, a, n * sizeof *a);
            if (!isnan(mx_median_inplace(b, n, MX_MEDIAN_UPPER))) bad++;
            continue;
        }
        size_t k = rng_next() % m;
        float x = mx_select_inplace(b, m, k);
        if (x != c[k]) bad++;
        for (size_t i = 0; i < m; i++)
            if ((i < k && b[i] > x) || (i > k && b[i] < x)) badpart++;
        memcpy(b, a, n * sizeof *a);
        float med = mx_median_inplace(b, n, MX_MEDIAN_UPPER);
        if (med != c[m / 2]) bad++;
        memcpy(b, a, n * sizeof *a);
        float avg = mx_median_inplace(b, n, MX_MEDIAN_AVERAGE);
        float want = (m % 2) ? c[m / 2] : (float)(0.5 * ((double)c[m / 2 - 1] + c[m / 2]));
        if (avg != want) bad++;
    }
    MXT_EQ_INT(bad, 0);
    MXT_EQ_INT(badpart, 0);

    /* A few large arrays, float and double, continuous and discrete. */
    size_t n = 100000;
    float *f = malloc(n * sizeof *f), *fs = malloc(n * sizeof *fs);
    double *d = malloc(n * sizeof *d), *ds = malloc(n * sizeof *ds);
    for (int t = 0; t < 8; t++) {
        for (size_t i = 0; i < n; i++) {
            double r = (t % 2) ? rng_gauss() : (double)(rng_next() % 50);
            f[i] = (float)r;
            d[i] = r;
            if (rng_next() % 100 == 0) f[i] = NAN, d[i] = NAN;
        }
        if (t == 6) /* sorted input (a classic quickselect worst case) */
            for (size_t i = 0; i < n; i++) f[i] = (float)i, d[i] = (double)(n - i);
        if (t == 7) /* all equal */
            for (size_t i = 0; i < n; i++) f[i] = 1.5f, d[i] = -2.0;
        memcpy(fs, f, n * sizeof *f);
        memcpy(ds, d, n * sizeof *d);
        size_t mf = mx_compact_finite(fs, n);
        size_t md = 0;
        for (size_t i = 0; i < n; i++)
            if (isfinite(ds[i])) ds[md++] = ds[i];
        qsort(fs, mf, sizeof *fs, cmp_float);
        qsort(ds, md, sizeof *ds, cmp_double);
        for (int q = 0; q < 3; q++) {
            size_t k = (q == 0) ? 0 : (q == 1) ? mf / 2 : mf - 1;
            float *w = malloc(n * sizeof *w);
            memcpy(w, f, n * sizeof *f);
            size_t m = mx_compact_finite(w, n);
            MXT_EQ_INT(m, mf);
            MXT_NEAR(mx_select_inplace(w, m, k), fs[k], 0);
            free(w);
            double *wd = malloc(n * sizeof *wd);
            memcpy(wd, d, n * sizeof *d);
            size_t kd = (q == 0) ? 0 : (q == 1) ? md / 2 : md - 1;
            size_t m2 = 0;
            for (size_t i = 0; i < n; i++)
                if (isfinite(wd[i])) wd[m2++] = wd[i];
            MXT_NEAR(mx_select_inplace_d(wd, m2, kd), ds[kd], 0);
            free(wd);
        }
        double *wd = malloc(n * sizeof *wd);
        memcpy(wd, d, n * sizeof *d);
        MXT_NEAR(mx_median_inplace_d(wd, n, MX_MEDIAN_UPPER), ds[md / 2], 0);
        free(wd);
    }
    MXT_TRUE(isnan(mx_select_inplace(f, 0, 0)));
    MXT_TRUE(isnan(mx_select_inplace(f, 3, 3)));
    free(f);
    free(fs);
    free(d);
    free(ds);
}

/* Median of 1e6 floats: report the speed; selection must beat a sort. */
static void test_median_speed(void) {
    size_t n = 1000000;
    float *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) v[i] = (float)rng_gauss();
    int reps = 5;
    double best = 1e9, med = 0;
    for (int r = 0; r < reps; r++) {
        memcpy(w, v, n * sizeof *v);
        double t0 = now_s();
        med = mx_median_inplace(w, n, MX_MEDIAN_UPPER);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    memcpy(w, v, n * sizeof *v);
    double t0 = now_s();
    qsort(w, n, sizeof *w, cmp_float);
    double tsort = now_s() - t0;
    MXT_NEAR(med, w[n / 2], 0);
    printf("median of 1e6 floats: %.2f ms (qsort %.1f ms, %.1fx faster)\n", best * 1e3,
           tsort * 1e3, tsort / best);
    free(v);
    free(w);
}

int main(void) {
    MXT_RUN(test_o2_temporal_stack);
    MXT_RUN(test_o3_biased_median);
    MXT_RUN(test_o6_iterative_threshold);
    MXT_RUN(test_stats_ddof_mask);
    MXT_RUN(test_sigma_clip);
    MXT_RUN(test_mode_and_histogram);
    MXT_RUN(test_select_random);
    MXT_RUN(test_median_speed);
    return mxt_summary();
}
