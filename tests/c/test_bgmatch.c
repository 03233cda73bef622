/* test_bgmatch.c - background matching: the tile kernel, the solver (oracle
 * O-14 of algorithms_oracles.py, dense and sparse), synthetic graphs with
 * known offsets, disconnected groups, the sparse toolkit, failures, and the
 * file outputs (offsets.tbl, corrected copies, zodiacal subtraction). */
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <stdint.h>
#include <unistd.h>

#include "mxtest.h"

static mx_bgmatch_opts opts(double top, double bottom, int minimg, double weight, int sparse,
                            int rule) {
    mx_bgmatch_opts o = {top, bottom, minimg, weight, sparse, rule};
    return o;
}

/* The oracle's match(): pairs of pixel lists (Im, In, sm, sn). */
typedef struct px { double im, in, sm, sn; } px;

static void add_pixels(mx_bgpairs *p, long m, long n, const px *v, int k) {
    for (int i = 0; i < k; i++) {
        double w = 1.0 / (v[i].sm * v[i].sm + v[i].sn * v[i].sn);
        MXT_OK(mx_bgpairs_add(p, m, n, w, w * (v[i].im - v[i].in)));
    }
}

static const double BT[3] = {1.0, 3.0, -2.0};
static const double SKY[4] = {7.0, 8.5, 6.0, 9.0};

static void pp(px *v, int m, int n, double sm, double sn) {
    for (int k = 0; k < 4; k++) {
        v[k].im = SKY[k] + BT[m];
        v[k].in = SKY[k] + BT[n];
        v[k].sm = sm;
        v[k].sn = sn;
    }
}

static mx_bgpairs *three_frames(int chain, double s2) {
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_new(3, &p));
    px v[4];
    pp(v, 0, 1, 1, 1);
    add_pixels(p, 0, 1, v, 4);
    if (!chain) {
        pp(v, 0, 2, 1, s2);
        add_pixels(p, 0, 2, v, 4);
    }
    pp(v, 1, 2, 1, s2);
    add_pixels(p, 1, 2, v, 4);
    return p;
}

/* ---- O-14 -------------------------------------------------------------- */
static void test_o14_three_frames(void) {
    for (int sparse = 0; sparse <= 1; sparse++) {
        mx_bgpairs *p = three_frames(0, 1.0);
        double w, d;
        MXT_TRUE(mx_bgpairs_get(p, 0, 1, &w, &d));
        MXT_NEAR(w, 2.0, 1e-15);   /* L_01 = -2 */
        MXT_NEAR(d, -4.0, 1e-15);
        MXT_TRUE(mx_bgpairs_get(p, 2, 1, &w, &d));
        MXT_NEAR(d, -10.0, 1e-15); /* D_21 = -D_12 */
        mx_bgmatch_opts o = opts(3, 3, 4, 0, sparse, MX_BG_OUTLIER_STD);
        mx_bgmatch_result r;
        MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
        const double fin[3] = {1.0 / 3, 7.0 / 3, -8.0 / 3};
        for (int i = 0; i < 3; i++) {
            MXT_NEAR(r.offset[i], fin[i], 1e-12);
            MXT_EQ_INT(r.outlier[i], 0);
            MXT_EQ_INT(r.group[i], 1);
            /* Cov = P Mred^-1 P^T: 1/9 on the diagonal by symmetry */
            MXT_NEAR(r.del[i], 1.0 / 3.0, 1e-12);
        }
        /* raw e = {3, 5, 0}: the pinned gauge */
        MXT_NEAR(r.offset[0] - r.offset[2], 3.0, 1e-12);
        MXT_NEAR(r.offset[1] - r.offset[2], 5.0, 1e-12);
        MXT_NEAR(r.del_raw[0], 0.57735026918962573, 1e-12);
        MXT_NEAR(r.del_raw[1], 0.57735026918962573, 1e-12);
        MXT_NEAR(r.del_raw[2], 0.0, 1e-15);
        MXT_EQ_INT(r.ngroups, 1);
        MXT_EQ_INT(r.used_sparse, sparse);
        MXT_EQ_INT(r.del_approx, 0);
        mx_bgmatch_result_clear(&r);
        mx_bgpairs_free(p);
    }
}

static void test_o14_chain_and_sigmas(void) {
    for (int sparse = 0; sparse <= 1; sparse++) {
        mx_bgpairs *p = three_frames(1, 1.0);
        mx_bgmatch_opts o = opts(3, 3, 4, 0, sparse, MX_BG_OUTLIER_STD);
        mx_bgmatch_result r;
        MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
        const double fin[3] = {1.0 / 3, 7.0 / 3, -8.0 / 3};
        for (int i = 0; i < 3; i++) MXT_NEAR(r.offset[i], fin[i], 1e-12);
        MXT_NEAR(r.del_raw[0], 1.0, 1e-12);
        MXT_NEAR(r.del_raw[1], 0.70710678118654752, 1e-12);
        /* C = [[1, .5], [.5, .5]] padded; r = C 1 = {1.5, 1, 0}, t = 2.5:
         * Cov_00 = 1 - 1 + 2.5/9, Cov_11 = .5 - 2/3 + 2.5/9, Cov_22 = 2.5/9 */
        MXT_NEAR(r.del[0], sqrt(2.5 / 9.0), 1e-12);
        MXT_NEAR(r.del[1], 1.0 / 3.0, 1e-12);
        MXT_NEAR(r.del[2], sqrt(2.5 / 9.0), 1e-12);
        mx_bgmatch_result_clear(&r);
        mx_bgpairs_free(p);

        /* unequal sigmas (1 and 2), noise-free: same final offsets */
        p = three_frames(0, 2.0);
        double w, d;
        mx_bgpairs_get(p, 1, 2, &w, &d);
        MXT_NEAR(w, 4 * 0.2, 1e-15);
        MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
        for (int i = 0; i < 3; i++) MXT_NEAR(r.offset[i], fin[i], 1e-12);
        mx_bgmatch_result_clear(&r);
        mx_bgpairs_free(p);
    }
}

static void test_o14_inconsistent(void) {
    for (int sparse = 0; sparse <= 1; sparse++) {
        mx_bgpairs *p = NULL;
        MXT_OK(mx_bgpairs_new(3, &p));
        px a = {0.0, 1.9, 1, 1}, b = {3.0, 0.0, 1, 1}, c = {5.2, 0.0, 1, 1};
        add_pixels(p, 0, 1, &a, 1);
        add_pixels(p, 0, 2, &b, 1);
        add_pixels(p, 1, 2, &c, 1);
        mx_bgmatch_opts o = opts(3, 3, 4, 0, sparse, MX_BG_OUTLIER_STD);
        mx_bgmatch_result r;
        MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
        MXT_NEAR(r.offset[0] - r.offset[2], 3.1, 1e-12);
        MXT_NEAR(r.offset[1] - r.offset[2], 5.1, 1e-12);
        MXT_NEAR(r.offset[0], 0.366667, 1e-6);
        MXT_NEAR(r.offset[1], 2.366667, 1e-6);
        MXT_NEAR(r.offset[2], -2.733333, 1e-6);
        MXT_NEAR(r.offset[0] + r.offset[1] + r.offset[2], 0.0, 1e-12);
        mx_bgmatch_result_clear(&r);
        mx_bgpairs_free(p);
    }
}

/* 10 frames in a chain, one pixel per pair, frame 9 raised by 10 */
static mx_bgpairs *ten_chain(void) {
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_new(10, &p));
    double bo[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 10};
    for (int m = 0; m < 9; m++) {
        px v = {5 + bo[m], 5 + bo[m + 1], 1, 1};
        add_pixels(p, m, m + 1, &v, 1);
    }
    return p;
}

static void test_o14_outliers(void) {
    mx_bgpairs *p = ten_chain();
    for (int sparse = 0; sparse <= 1; sparse++) {
        /* TOP = BOTTOM = 2.5: z = 2.846 (N-1) and 3.0 (N) both flag frame 9; d = 10 */
        for (int rule = MX_BG_OUTLIER_STD; rule <= MX_BG_OUTLIER_STD_N; rule++) {
            mx_bgmatch_opts o = opts(2.5, 2.5, 4, 0, sparse, rule);
            mx_bgmatch_result r;
            MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
            for (int i = 0; i < 9; i++) {
                MXT_NEAR(r.offset[i], 0.0, 1e-12);
                MXT_EQ_INT(r.outlier[i], 0);
            }
            MXT_NEAR(r.offset[9], 10.0, 1e-12);
            MXT_EQ_INT(r.outlier[9], 1);
            mx_bgmatch_result_clear(&r);
        }
        /* 3 sigma: z = 3.0 is not > 3 (N std), 2.846 neither (N-1): no
         * outlier, final {-1 x 9, 9} */
        for (int rule = MX_BG_OUTLIER_STD; rule <= MX_BG_OUTLIER_STD_N; rule++) {
            mx_bgmatch_opts o = opts(3, 3, 4, 0, sparse, rule);
            mx_bgmatch_result r;
            MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
            for (int i = 0; i < 9; i++) MXT_NEAR(r.offset[i], -1.0, 1e-12);
            MXT_NEAR(r.offset[9], 9.0, 1e-12);
            for (int i = 0; i < 10; i++) MXT_EQ_INT(r.outlier[i], 0);
            mx_bgmatch_result_clear(&r);
        }
        /* the MAD rule flags it at 3 sigma (MAD = 0) */
        mx_bgmatch_opts o = opts(3, 3, 4, 0, sparse, MX_BG_OUTLIER_MAD);
        mx_bgmatch_result r;
        MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
        MXT_EQ_INT(r.outlier[9], 1);
        MXT_NEAR(r.offset[9], 10.0, 1e-12);
        mx_bgmatch_result_clear(&r);
        /* fewer frames than MIN_IMG_NUM: no rejection, zero sum over all */
        o = opts(2.5, 2.5, 11, 0, sparse, MX_BG_OUTLIER_STD);
        MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
        double s = 0;
        for (int i = 0; i < 10; i++) {
            MXT_EQ_INT(r.outlier[i], 0);
            s += r.offset[i];
        }
        MXT_NEAR(s, 0.0, 1e-12);
        MXT_NEAR(r.offset[9], 9.0, 1e-12);
        mx_bgmatch_result_clear(&r);
    }
    mx_bgpairs_free(p);
}

static void test_o14_weight(void) {
    for (int sparse = 0; sparse <= 1; sparse++) {
        mx_bgpairs *p = three_frames(0, 1.0);
        mx_bgmatch_opts o = opts(3, 3, 4, 1.0, sparse, MX_BG_OUTLIER_STD);
        mx_bgmatch_result r;
        MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
        /* (L + I) e = b: e = {2/7, 2, -16/7} */
        MXT_NEAR(r.offset[0], 2.0 / 7.0, 1e-12);
        MXT_NEAR(r.offset[1], 2.0, 1e-12);
        MXT_NEAR(r.offset[2], -16.0 / 7.0, 1e-12);
        /* del = sqrt(diag((L + I)^-1)): (L+I) = 7I - 2J, inverse = (I + 2J)/7 -> 3/7 */
        for (int i = 0; i < 3; i++) MXT_NEAR(r.del[i], sqrt(3.0 / 7.0), 1e-12);
        mx_bgmatch_result_clear(&r);
        mx_bgpairs_free(p);
    }
}

/* ---- the tile kernel ---------------------------------------------------- */
/* Figure 8.21: frame 1 is 10 x 4, frame 2 starts at (6, 3): they share the
 * four pixels k1 = {36..39}, k2 = {0..3}. */
static void test_kernel_fig821(void) {
    float a[40], b[12], sa[40], sb[12];
    for (int k = 0; k < 40; k++) {
        a[k] = 10.0f + (float)k;
        sa[k] = 1.0f;
    }
    for (int k = 0; k < 12; k++) {
        b[k] = 10.0f + (float)(36 + k) - 2.0f; /* frame 2 = frame 1 - 2 where they overlap */
        sb[k] = 2.0f;
    }
    mx_bgtile_frame f[2] = {
        {0, 0, 0, 10, 4, 10, a, NULL, sa},
        {1, 6, 3, 4, 3, 4, b, NULL, sb},
    };
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_new(2, &p));
    long use[2];
    MXT_OK(mx_bgpairs_accumulate_block(p, 10, 6, 2, f, use));
    MXT_EQ_INT(use[0], 40);
    MXT_EQ_INT(use[1], 12);
    double w, d;
    MXT_TRUE(mx_bgpairs_get(p, 0, 1, &w, &d));
    MXT_NEAR(w, 4 * 0.2, 1e-12);
    MXT_NEAR(d, 4 * 0.2 * 2.0, 1e-12);
    MXT_EQ_INT(mx_bgpairs_count(p), 1);
    /* a NaN pixel, a zero-coverage pixel and a bad sigma remove pixels */
    mx_bgpairs_free(p);
    MXT_OK(mx_bgpairs_new(2, &p));
    float cov[12];
    for (int k = 0; k < 12; k++) cov[k] = 0.5f;
    cov[1] = 0.0f;
    a[36] = NAN;
    sb[2] = 0.0f;
    f[1].coverage = cov;
    MXT_OK(mx_bgpairs_accumulate_block(p, 10, 6, 2, f, use));
    MXT_TRUE(mx_bgpairs_get(p, 0, 1, &w, &d));
    MXT_NEAR(w, 1 * 0.2, 1e-12); /* only k1 = 39 is left */
    MXT_EQ_INT(use[0], 39);
    MXT_EQ_INT(use[1], 10);
    mx_bgpairs_free(p);
    /* mixing frames with and without sigma is a misuse */
    MXT_OK(mx_bgpairs_new(2, &p));
    f[1].sigma = NULL;
    MXT_FAILS(mx_bgpairs_accumulate_block(p, 10, 6, 2, f, NULL), MX_ERR_PARAM, "uncertainty");
    mx_bgpairs_free(p);
}

/* Many frames on a 300 x 300 block: the statistics equal a direct O(N^2)
 * sum per pixel, and splitting the block into bands of 128-row multiples
 * gives the same bits. */
static void test_kernel_bands(void) {
    enum { NF = 40, B = 300 };
    mx_rng rng;
    mx_rng_seed(&rng, 11, 0);
    float *val[NF], *sig[NF];
    mx_bgtile_frame f[NF];
    for (int k = 0; k < NF; k++) {
        long nx = 40 + (long)(mx_rng_uniform(&rng) * 120), ny = 40 + (long)(mx_rng_uniform(&rng) * 120);
        long x0 = -20 + (long)(mx_rng_uniform(&rng) * (B - nx + 40));
        long y0 = -20 + (long)(mx_rng_uniform(&rng) * (B - ny + 40));
        val[k] = malloc(sizeof(float) * (size_t)(nx * ny));
        sig[k] = malloc(sizeof(float) * (size_t)(nx * ny));
        for (long i = 0; i < nx * ny; i++) {
            val[k][i] = (float)(k * 0.1 + mx_rng_gauss(&rng));
            sig[k][i] = (float)(0.5 + mx_rng_uniform(&rng));
            if (mx_rng_uniform(&rng) < 0.02) val[k][i] = NAN;
        }
        mx_bgtile_frame t = {NF - 1 - k, x0, y0, nx, ny, nx, val[k], NULL, sig[k]};
        f[k] = t;
    }
    mx_bgpairs *whole = NULL, *bands = NULL;
    MXT_OK(mx_bgpairs_new(NF, &whole));
    MXT_OK(mx_bgpairs_new(NF, &bands));
    MXT_OK(mx_bgpairs_accumulate_block(whole, B, B, NF, f, NULL));
    /* bands of 128 rows, then 256 + 44: the kernel's partition is the same */
    for (long by = 0; by < B; by += 128) {
        long bh = by + 128 <= B ? 128 : B - by;
        mx_bgtile_frame g[NF];
        for (int k = 0; k < NF; k++) {
            g[k] = f[k];
            g[k].y0 = f[k].y0 - by;
        }
        MXT_OK(mx_bgpairs_accumulate_block(bands, B, bh, NF, g, NULL));
    }
    MXT_EQ_INT(mx_bgpairs_count(whole), mx_bgpairs_count(bands));
    int same = 1;
    for (long k = 0; k < mx_bgpairs_count(whole); k++) {
        long m, n;
        double w, d, w2, d2;
        mx_bgpairs_entry(whole, k, &m, &n, &w, &d);
        mx_bgpairs_get(bands, m, n, &w2, &d2);
        if (w != w2 || d != d2) same = 0;
    }
    MXT_TRUE(same);
    /* direct sums */
    double maxrel = 0;
    for (int a = 0; a < NF; a++)
        for (int b = a + 1; b < NF; b++) {
            double W = 0, D = 0;
            for (long y = 0; y < B; y++)
                for (long x = 0; x < B; x++) {
                    const mx_bgtile_frame *fa = &f[a], *fb = &f[b];
                    if (x < fa->x0 || x >= fa->x0 + fa->nx || y < fa->y0 || y >= fa->y0 + fa->ny) continue;
                    if (x < fb->x0 || x >= fb->x0 + fb->nx || y < fb->y0 || y >= fb->y0 + fb->ny) continue;
                    long ia = (y - fa->y0) * fa->nx + x - fa->x0, ib = (y - fb->y0) * fb->nx + x - fb->x0;
                    if (!isfinite(fa->value[ia]) || !isfinite(fb->value[ib])) continue;
                    double sa = fa->sigma[ia], sb = fb->sigma[ib], w = 1.0 / (sa * sa + sb * sb);
                    W += w;
                    D += w * ((double)fa->value[ia] - (double)fb->value[ib]);
                }
            double w, d;
            mx_bgpairs_get(whole, f[a].id, f[b].id, &w, &d);
            if (W == 0) {
                MXT_NEAR(w, 0.0, 0);
                continue;
            }
            double rel = fabs(w - W) / W + fabs(d - D) / (fabs(D) + W);
            if (rel > maxrel) maxrel = rel;
        }
    MXT_TRUE(maxrel < 1e-12);
    for (int k = 0; k < NF; k++) {
        free(val[k]);
        free(sig[k]);
    }
    mx_bgpairs_free(whole);
    mx_bgpairs_free(bands);
}

/* ---- synthetic graphs ---------------------------------------------------- */
static double max_abs_diff(const double *a, const double *b, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

/* A random connected graph of 2000 frames: dense Cholesky and sparse CG
 * agree to 1e-9 (offsets and exact del_Offset); noise-free they recover
 * the truth minus its mean. */
static void test_random_2000_dense_vs_sparse(void) {
    for (int noise = 0; noise <= 1; noise++) {
        mx_bgsyn_opts so = {MX_BGSYN_RANDOM, 0, 0, 0, 2000, 6000, 200, 0, 0, 0.1, 1.0, noise, 42};
        long n = mx_bgsyn_nframes(&so);
        MXT_EQ_INT(n, 2000);
        double *truth = malloc(sizeof *truth * (size_t)n);
        mx_bgpairs *p = NULL;
        MXT_OK(mx_bgpairs_synthetic(&so, &p, truth));
        mx_bgmatch_opts od = opts(3, 3, 4, 0, 0, MX_BG_OUTLIER_STD);
        mx_bgmatch_opts os = opts(3, 3, 4, 0, 1, MX_BG_OUTLIER_STD);
        mx_bgmatch_result rd, rs;
        MXT_OK(mx_bgmatch_solve(p, NULL, &od, &rd));
        MXT_OK(mx_bgmatch_solve(p, NULL, &os, &rs));
        MXT_EQ_INT(rd.used_sparse, 0);
        MXT_EQ_INT(rs.used_sparse, 1);
        MXT_EQ_INT(rs.del_approx, 0);
        MXT_TRUE(rs.cg_residual <= 1e-12);
        MXT_TRUE(max_abs_diff(rd.offset, rs.offset, n) < 1e-9);
        MXT_TRUE(max_abs_diff(rd.del, rs.del, n) < 1e-9);
        MXT_TRUE(max_abs_diff(rd.del_raw, rs.del_raw, n) < 1e-9);
        long nout = 0;
        for (long i = 0; i < n; i++) {
            nout += rd.outlier[i];
            MXT_EQ_INT(rd.outlier[i], rs.outlier[i]);
        }
        /* the truth, levelled like the solution (zero sum over non-outliers) */
        double mu = 0;
        for (long i = 0; i < n; i++)
            if (!rd.outlier[i]) mu += truth[i];
        mu /= (double)(n - nout);
        double maxz = 0, maxerr = 0;
        for (long i = 0; i < n; i++) {
            double err = rd.offset[i] - (truth[i] - mu);
            if (fabs(err) > maxerr) maxerr = fabs(err);
            if (fabs(err) / rd.del[i] > maxz) maxz = fabs(err) / rd.del[i];
        }
        if (noise) {
            /* errors consistent with del_Offset: no 6-sigma deviation in 2000 */
            MXT_TRUE(maxz < 6.0);
            MXT_TRUE(maxz > 1.0);
        } else {
            MXT_TRUE(maxerr < 1e-9);
        }
        mx_bgmatch_result_clear(&rd);
        mx_bgmatch_result_clear(&rs);
        mx_bgpairs_free(p);
        free(truth);
    }
}

/* Two disconnected maps, an isolated frame and a dropped frame. */
static void test_groups(void) {
    mx_bgsyn_opts a = {MX_BGSYN_MAP, 5, 4, 3, 0, 0, 500, 100, 20, 0.05, 1.0, 0, 7};
    mx_bgsyn_opts b = {MX_BGSYN_MAP, 3, 3, 2, 0, 0, 500, 100, 0, 0.05, 1.0, 0, 8};
    long na = mx_bgsyn_nframes(&a), nb = mx_bgsyn_nframes(&b);
    MXT_EQ_INT(na, 60);
    MXT_EQ_INT(nb, 18);
    double ta[60], tb[18];
    mx_bgpairs *pa = NULL, *pb = NULL, *p = NULL;
    MXT_OK(mx_bgpairs_synthetic(&a, &pa, ta));
    MXT_OK(mx_bgpairs_synthetic(&b, &pb, tb));
    /* frames: group B first (0..17), then the isolated frame 18, group A
     * (19..78), then frame 79 dropped by the bad-image check, which has a
     * pair with A that must be ignored */
    const long N = 80;
    MXT_OK(mx_bgpairs_new(N, &p));
    for (long k = 0; k < mx_bgpairs_count(pb); k++) {
        long m, n;
        double w, d;
        mx_bgpairs_entry(pb, k, &m, &n, &w, &d);
        MXT_OK(mx_bgpairs_add(p, m, n, w, d));
    }
    for (long k = 0; k < mx_bgpairs_count(pa); k++) {
        long m, n;
        double w, d;
        mx_bgpairs_entry(pa, k, &m, &n, &w, &d);
        MXT_OK(mx_bgpairs_add(p, m + 19, n + 19, w, d));
    }
    MXT_OK(mx_bgpairs_add(p, 79, 20, 100.0, 5000.0));
    unsigned char drop[80] = {0};
    drop[79] = 1;
    for (int sparse = 0; sparse <= 1; sparse++) {
        mx_bgmatch_opts o = opts(3, 3, 4, 0, sparse, MX_BG_OUTLIER_STD);
        mx_bgmatch_result r;
        MXT_OK(mx_bgmatch_solve(p, drop, &o, &r));
        MXT_EQ_INT(r.ngroups, 2);
        MXT_EQ_INT(r.group_size[0], 18);
        MXT_EQ_INT(r.group_size[1], 60);
        MXT_EQ_INT(r.nisolated, 1);
        MXT_EQ_INT(r.ndropped, 1);
        MXT_EQ_INT(r.group[0], 1);
        MXT_EQ_INT(r.group[18], 0);
        MXT_EQ_INT(r.group[19], 2);
        MXT_EQ_INT(r.group[79], -1);
        MXT_NEAR(r.offset[18], 0.0, 0);
        MXT_TRUE(isnan(r.del[18]));
        MXT_NEAR(r.offset[79], 0.0, 0);
        MXT_TRUE(isnan(r.del[79]));
        /* each group: zero sum over its non-outliers, truth minus its mean
         * over the same frames */
        double sb = 0, sa = 0, mb = 0, ma = 0;
        long kb = 0, ka = 0;
        for (int i = 0; i < 18; i++)
            if (!r.outlier[i]) {
                mb += tb[i];
                kb++;
            }
        for (int i = 0; i < 60; i++)
            if (!r.outlier[19 + i]) {
                ma += ta[i];
                ka++;
            }
        mb /= (double)kb;
        ma /= (double)ka;
        MXT_TRUE(kb >= 17 && ka >= 57);
        double eb = 0, ea = 0;
        for (int i = 0; i < 18; i++) {
            if (!r.outlier[i]) sb += r.offset[i];
            eb = fmax(eb, fabs(r.offset[i] - (tb[i] - mb)));
        }
        for (int i = 0; i < 60; i++) {
            if (!r.outlier[19 + i]) sa += r.offset[19 + i];
            ea = fmax(ea, fabs(r.offset[19 + i] - (ta[i] - ma)));
        }
        MXT_NEAR(sb, 0.0, 1e-10);
        MXT_NEAR(sa, 0.0, 1e-10);
        MXT_TRUE(eb < 1e-9);
        MXT_TRUE(ea < 1e-9);
        mx_bgmatch_result_clear(&r);
    }
    mx_bgpairs_free(pa);
    mx_bgpairs_free(pb);
    mx_bgpairs_free(p);
}

/* Checklist 18: adding one constant to every frame changes no offset
 * (D is unchanged by construction); checklist 17: two identical frames,
 * one raised by d: offsets +d/2 and -d/2. */
static void test_two_frames(void) {
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_new(2, &p));
    const double dlev = 0.8;
    for (int k = 0; k < 100; k++) {
        double v = sin(k * 0.3);
        MXT_OK(mx_bgpairs_add(p, 0, 1, 0.5, 0.5 * ((v + dlev) - v)));
    }
    mx_bgmatch_opts o = opts(3, 3, 4, 0, 0, MX_BG_OUTLIER_STD);
    mx_bgmatch_result r;
    MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
    MXT_NEAR(r.offset[0], dlev / 2, 1e-12);
    MXT_NEAR(r.offset[1], -dlev / 2, 1e-12);
    /* W = 50: Mred = 50, Cov = 1/50 * (1/2)^2 for both */
    MXT_NEAR(r.del[0], sqrt(1.0 / 50.0) / 2, 1e-12);
    MXT_NEAR(r.del[1], sqrt(1.0 / 50.0) / 2, 1e-12);
    mx_bgmatch_result_clear(&r);
    mx_bgpairs_free(p);
}

/* ~10,000 frames through the sparse path: exact del_Offset from the
 * envelope factor, and the same bits with 1 and 2 threads (the CG products
 * run in parallel at this size). */
static void test_sparse_10000_threads(void) {
    mx_bgsyn_opts so = {MX_BGSYN_MAP, 45, 45, 5, 0, 0, 3000, 400, 40, 0.05, 0.02, 1, 99};
    long n = mx_bgsyn_nframes(&so);
    MXT_EQ_INT(n, 10125);
    double *truth = malloc(sizeof *truth * (size_t)n);
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_synthetic(&so, &p, truth));
    mx_bgmatch_opts o = opts(3, 3, 4, 0, 1, MX_BG_OUTLIER_STD);
    mx_bgmatch_result r1, r2;
    mx_set_threads(1);
    MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r1));
    mx_set_threads(2);
    MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r2));
    mx_set_threads(0);
    MXT_EQ_INT(r1.del_approx, 0);
    MXT_TRUE(memcmp(r1.offset, r2.offset, sizeof(double) * (size_t)n) == 0);
    MXT_TRUE(memcmp(r1.del, r2.del, sizeof(double) * (size_t)n) == 0);
    /* errors against the truth are consistent with del_Offset */
    double mu = 0, chi2 = 0;
    long k = 0;
    for (long i = 0; i < n; i++)
        if (!r1.outlier[i]) {
            mu += truth[i];
            k++;
        }
    mu /= (double)k;
    for (long i = 0; i < n; i++) {
        double z = (r1.offset[i] - (truth[i] - mu)) / r1.del[i];
        chi2 += z * z;
    }
    chi2 /= (double)n;
    MXT_TRUE(chi2 > 0.8 && chi2 < 1.2);
    mx_bgmatch_result_clear(&r1);
    mx_bgmatch_result_clear(&r2);
    mx_bgpairs_free(p);
    free(truth);
}

/* ---- sparse toolkit ------------------------------------------------------ */
/* A random SPD matrix: Laplacian of a random graph + a positive diagonal. */
static void random_spd(long n, long extra, uint64_t seed, mx_csr *a, gsl_matrix **dense) {
    mx_bgsyn_opts so = {MX_BGSYN_RANDOM, 0, 0, 0, n, extra, 10, 0, 0, 1.0, 1.0, 0, seed};
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_synthetic(&so, &p, NULL));
    gsl_matrix *m = gsl_matrix_calloc((size_t)n, (size_t)n);
    mx_rng rng;
    mx_rng_seed(&rng, seed, 5);
    for (long i = 0; i < n; i++) gsl_matrix_set(m, (size_t)i, (size_t)i, 0.1 + mx_rng_uniform(&rng));
    for (long k = 0; k < mx_bgpairs_count(p); k++) {
        long u, v;
        double w, d;
        mx_bgpairs_entry(p, k, &u, &v, &w, &d);
        *gsl_matrix_ptr(m, (size_t)u, (size_t)u) += w;
        *gsl_matrix_ptr(m, (size_t)v, (size_t)v) += w;
        *gsl_matrix_ptr(m, (size_t)u, (size_t)v) -= w;
        *gsl_matrix_ptr(m, (size_t)v, (size_t)u) -= w;
    }
    mx_bgpairs_free(p);
    long nnz = 0;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) nnz += gsl_matrix_get(m, (size_t)i, (size_t)j) != 0;
    a->n = n;
    a->rowptr = malloc(sizeof *a->rowptr * (size_t)(n + 1));
    a->col = malloc(sizeof *a->col * (size_t)nnz);
    a->val = malloc(sizeof *a->val * (size_t)nnz);
    long q = 0;
    for (long i = 0; i < n; i++) {
        a->rowptr[i] = q;
        for (long j = 0; j < n; j++) {
            double v = gsl_matrix_get(m, (size_t)i, (size_t)j);
            if (v != 0) {
                a->col[q] = (int32_t)j;
                a->val[q++] = v;
            }
        }
    }
    a->rowptr[n] = q;
    *dense = m;
}

static void test_sparse_toolkit(void) {
    const long n = 300;
    mx_csr a;
    gsl_matrix *m;
    random_spd(n, 400, 3, &a, &m);
    double *b = malloc(sizeof *b * n), *x = calloc(n, sizeof *x), *y = malloc(sizeof *y * n);
    double *diag = malloc(sizeof *diag * n), *ref = malloc(sizeof *ref * n);
    for (long i = 0; i < n; i++) b[i] = sin(0.1 * (double)i) + 0.3;
    long iters;
    double rel;
    MXT_OK(mx_pcg(&a, b, x, 1e-12, 10000, &iters, &rel));
    MXT_TRUE(rel <= 1e-12);
    MXT_TRUE(iters > 0 && iters < 1000);
    /* dense reference: GSL Cholesky and inverse */
    gsl_matrix *c = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_matrix_memcpy(c, m);
    gsl_linalg_cholesky_decomp1(c);
    gsl_vector_view bv = gsl_vector_view_array(b, (size_t)n), yv = gsl_vector_view_array(ref, (size_t)n);
    gsl_linalg_cholesky_solve(c, &bv.vector, &yv.vector);
    MXT_TRUE(max_abs_diff(x, ref, n) < 1e-10);
    gsl_linalg_cholesky_invert(c);
    for (long i = 0; i < n; i++) ref[i] = gsl_matrix_get(c, (size_t)i, (size_t)i);
    /* RCM is a permutation and shrinks the envelope of this random graph */
    long *perm = malloc(sizeof *perm * n);
    MXT_OK(mx_rcm(&a, perm));
    unsigned char *seen = calloc(n, 1);
    int okperm = 1;
    for (long i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= n || seen[perm[i]]) okperm = 0;
        else seen[perm[i]] = 1;
    }
    MXT_TRUE(okperm);
    MXT_TRUE(mx_envelope_size(&a, perm) < mx_envelope_size(&a, NULL));
    for (int withperm = 0; withperm <= 1; withperm++) {
        mx_envchol f;
        MXT_OK(mx_envchol_factor(&a, withperm ? perm : NULL, &f));
        MXT_OK(mx_envchol_solve(&f, b, y));
        gsl_vector_view xv = gsl_vector_view_array(x, (size_t)n);
        (void)xv;
        double e = 0;
        for (long i = 0; i < n; i++) e = fmax(e, fabs(y[i] - x[i]));
        MXT_TRUE(e < 1e-10);
        MXT_OK(mx_envchol_invdiag(&f, diag));
        MXT_TRUE(max_abs_diff(diag, ref, n) < 1e-12);
        MXT_FAILS(mx_envchol_solve(&f, b, y), MX_ERR_PARAM, "inverse");
        mx_envchol_free(&f);
    }
    /* y = A x */
    mx_csr_matvec(&a, x, y);
    MXT_TRUE(max_abs_diff(y, b, n) < 1e-9);
    free(perm);
    free(seen);
    free(b);
    free(x);
    free(y);
    free(diag);
    free(ref);
    gsl_matrix_free(c);
    gsl_matrix_free(m);
    mx_csr_free(&a);
}

/* ---- failures ------------------------------------------------------------ */
static void test_failures(void) {
    /* an indefinite matrix */
    long rp[3] = {0, 2, 4};
    int32_t col[4] = {0, 1, 0, 1};
    double val[4] = {1, 2, 2, 1};
    mx_csr a = {2, rp, col, val};
    double b[2] = {1, 0}, x[2] = {0, 0};
    MXT_FAILS(mx_pcg(&a, b, x, 1e-12, 100, NULL, NULL), MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION");
    mx_envchol f;
    MXT_FAILS(mx_envchol_factor(&a, NULL, &f), MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION");
    /* non-finite statistics */
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_new(3, &p));
    MXT_OK(mx_bgpairs_add(p, 0, 1, 1.0, 1.0));
    MXT_OK(mx_bgpairs_add(p, 1, 2, INFINITY, 0.0));
    mx_bgmatch_opts o = opts(3, 3, 4, 0, 0, MX_BG_OUTLIER_STD);
    mx_bgmatch_result r;
    MXT_FAILS(mx_bgmatch_solve(p, NULL, &o, &r), MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION: ");
    MXT_TRUE(strncmp(mx_errmsg(), "UNSUCCESSFUL_SOLUTION: ", 23) == 0);
    mx_bgmatch_result_clear(&r);
    o.use_sparse = 1;
    MXT_FAILS(mx_bgmatch_solve(p, NULL, &o, &r), MX_ERR_NUMERIC, "UNSUCCESSFUL_SOLUTION");
    mx_bgmatch_result_clear(&r);
    mx_bgpairs_free(p);
    /* misuse */
    MXT_OK(mx_bgpairs_new(3, &p));
    MXT_FAILS(mx_bgpairs_add(p, 1, 1, 1.0, 0.0), MX_ERR_PARAM, "invalid pair");
    MXT_FAILS(mx_bgpairs_add(p, 0, 3, 1.0, 0.0), MX_ERR_PARAM, "invalid pair");
    MXT_FAILS(mx_bgpairs_add(p, 0, 1, -1.0, 0.0), MX_ERR_PARAM, "negative weight");
    o = opts(3, 3, 4, -1, 0, MX_BG_OUTLIER_STD);
    MXT_FAILS(mx_bgmatch_solve(p, NULL, &o, &r), MX_ERR_PARAM, "WEIGHT");
    mx_bgmatch_result_clear(&r);
    o = opts(-3, 3, 4, 0, 0, MX_BG_OUTLIER_STD);
    MXT_FAILS(mx_bgmatch_solve(p, NULL, &o, &r), MX_ERR_PARAM, "TOP_THRESHOLD");
    mx_bgmatch_result_clear(&r);
    /* a graph without pairs: every frame isolated, no failure */
    o = opts(3, 3, 4, 0, 0, MX_BG_OUTLIER_STD);
    MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
    MXT_EQ_INT(r.nisolated, 3);
    MXT_EQ_INT(r.ngroups, 0);
    mx_bgmatch_result_clear(&r);
    mx_bgpairs_free(p);
}

/* ---- files ----------------------------------------------------------------- */
static char tmpdir[1024];

static void make_tmp(void) {
    const char *base = getenv("MOPEX_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/bgmatch-c-%ld", base && *base ? base : "/tmp", (long)getpid());
    MXT_OK(mx_mkdir_p(tmpdir));
}

static char *tpath(const char *name) {
    static char buf[8][1200];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void test_files(void) {
    make_tmp();
    /* offsets.tbl of O-14 with an isolated fourth frame */
    mx_bgpairs *p = NULL;
    MXT_OK(mx_bgpairs_new(4, &p));
    px v[4];
    pp(v, 0, 1, 1, 1);
    add_pixels(p, 0, 1, v, 4);
    pp(v, 0, 2, 1, 1);
    add_pixels(p, 0, 2, v, 4);
    pp(v, 1, 2, 1, 1);
    add_pixels(p, 1, 2, v, 4);
    mx_bgmatch_opts o = opts(3, 3, 4, 0, 0, MX_BG_OUTLIER_STD);
    mx_bgmatch_result r;
    MXT_OK(mx_bgmatch_solve(p, NULL, &o, &r));
    const char *tbl = tpath("offsets.tbl");
    MXT_OK(mx_bgmatch_write_offsets(&r, &o, tbl));
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(tbl, &t));
    if (t) {
        MXT_EQ_INT(t->nrows, 4);
        int ci = mx_table_find_column(t, "Image_id"), co = mx_table_find_column(t, "Offset");
        int cd = mx_table_find_column(t, "del_Offset"), cx = mx_table_find_column(t, "outliers");
        MXT_TRUE(ci == 0 && co == 1 && cd == 2 && cx == 3);
        MXT_EQ_INT(t->cols[ci].type, MX_COL_INT);
        MXT_EQ_INT(t->cols[co].type, MX_COL_DOUBLE);
        MXT_EQ_INT(t->cols[cd].type, MX_COL_DOUBLE);
        MXT_EQ_INT(t->cols[cx].type, MX_COL_INT);
        const double fin[3] = {1.0 / 3, 7.0 / 3, -8.0 / 3};
        for (long i = 0; i < 3; i++) {
            int64_t id, out;
            double off, del;
            MXT_OK(mx_table_get_int(t, ci, i, &id));
            MXT_OK(mx_table_get_double(t, co, i, &off));
            MXT_OK(mx_table_get_double(t, cd, i, &del));
            MXT_OK(mx_table_get_int(t, cx, i, &out));
            MXT_EQ_INT(id, i + 1);
            MXT_NEAR(off, fin[i], 1e-15);
            MXT_NEAR(del, 1.0 / 3.0, 1e-15);
            MXT_EQ_INT(out, 0);
        }
        double off;
        MXT_OK(mx_table_get_double(t, co, 3, &off));
        MXT_NEAR(off, 0.0, 0);
        double del = 0;
        int st = mx_table_get_double(t, cd, 3, &del);
        MXT_TRUE(st != MX_OK || isnan(del)); /* nan: undefined */
        MXT_EQ_STR(mx_table_get_keyword(t, "DEL_OFFSET"), "exact");
        mx_table_free(t);
    }

    /* corrected copies */
    const char *in[4], *outp[4];
    char names[4][2][64];
    for (int i = 0; i < 4; i++) {
        snprintf(names[i][0], 64, "in%d.fits", i);
        snprintf(names[i][1], 64, "overlapCorrection_in%d.fits", i);
        mx_image *img = NULL;
        MXT_OK(mx_image_new(5, 4, MX_IMG_FLOAT, -32, 0.0f, &img));
        for (int k = 0; k < 20; k++) img->data[k] = (float)(i * 10 + k) * 0.25f;
        img->data[7] = NAN;
        MXT_OK(mx_header_set_string(img->hdr, "BUNIT", "MJy/sr", NULL));
        MXT_OK(mx_header_set_double(img->hdr, "ZODY_EST", 0.1 * (i + 1), NULL));
        if (i < 2) MXT_OK(mx_header_set_double(img->hdr, "SKYDRKZB", 0.03, NULL));
        if (i == 2) {
            mx_header_delete(img->hdr, "ZODY_EST");
            MXT_OK(mx_header_set_double(img->hdr, "ZODI_EST", 0.25, NULL));
        }
        if (i == 3) mx_header_delete(img->hdr, "ZODY_EST");
        in[i] = strdup(tpath(names[i][0]));
        outp[i] = strdup(tpath(names[i][1]));
        MXT_OK(mx_image_write(img, in[i]));
        mx_image_free(img);
    }
    r.outlier[1] = 1; /* as if flagged: the keyword must say so */
    MXT_OK(mx_bgmatch_apply(4, in, outp, r.offset, r.del, r.outlier));
    for (int i = 0; i < 4; i++) {
        mx_image *a = NULL, *c = NULL;
        MXT_OK(mx_image_read(in[i], &a));
        MXT_OK(mx_image_read(outp[i], &c));
        if (!a || !c) continue;
        double maxd = 0;
        for (int k = 0; k < 20; k++) {
            if (k == 7) {
                MXT_TRUE(isnan(c->data[k]));
                continue;
            }
            maxd = fmax(maxd, fabs((double)c->data[k] - ((double)a->data[k] - r.offset[i])));
        }
        MXT_TRUE(maxd < 1e-5);
        double dc, dd;
        long lo;
        MXT_OK(mx_header_get_double(c->hdr, "OVRLPDC", &dc));
        MXT_NEAR(dc, r.offset[i], 0);
        MXT_OK(mx_header_get_long(c->hdr, "OVRLPOUT", &lo));
        MXT_EQ_INT(lo, i == 1);
        MXT_TRUE(mx_header_has(c->hdr, "OVRLPDCD"));
        if (i < 3) {
            MXT_OK(mx_header_get_double(c->hdr, "OVRLPDCD", &dd));
            MXT_NEAR(dd, r.del[i], 0);
        } else {
            MXT_TRUE(mx_header_get_double(c->hdr, "OVRLPDCD", &dd) != MX_OK); /* undefined */
        }
        MXT_TRUE(mx_header_has(c->hdr, "ZODY_EST") || i >= 2); /* header carried over */
        mx_image_free(a);
        mx_image_free(c);
    }
    mx_bgmatch_result_clear(&r);
    mx_bgpairs_free(p);

    /* zodiacal subtraction: ZODY_EST - SKYDRKZB, ZODI_EST, missing */
    double val[4];
    const char *zo[3] = {strdup(tpath("zod0.fits")), strdup(tpath("zod1.fits")), strdup(tpath("zod2.fits"))};
    MXT_OK(mx_zodi_subtract(3, in, zo, val));
    MXT_NEAR(val[0], 0.1 - 0.03, 1e-15);
    MXT_NEAR(val[1], 0.2 - 0.03, 1e-15);
    MXT_NEAR(val[2], 0.25, 1e-15);
    for (int i = 0; i < 3; i++) {
        mx_image *a = NULL, *c = NULL;
        MXT_OK(mx_image_read(in[i], &a));
        MXT_OK(mx_image_read(zo[i], &c));
        if (!a || !c) continue;
        MXT_NEAR(c->data[0], a->data[0] - val[i], 1e-6);
        MXT_NEAR(c->data[19], a->data[19] - val[i], 1e-6);
        MXT_TRUE(isnan(c->data[7]));
        double z;
        MXT_OK(mx_header_get_double(c->hdr, "ZODYSUB", &z));
        MXT_NEAR(z, val[i], 0);
        mx_image_free(a);
        mx_image_free(c);
    }
    MXT_FAILS(mx_zodi_subtract(4, in, NULL, val), MX_ERR_NOTFOUND, "in3.fits");
    for (int i = 0; i < 4; i++) {
        free((char *)in[i]);
        free((char *)outp[i]);
    }
    for (int i = 0; i < 3; i++) free((char *)zo[i]);
}

/* ---- the streaming pass on files ----------------------------------------- */
/* Frames written as interpolated images (MINTOFFX/Y) with coverage and
 * sigma: the pairs equal those of the in-memory kernel, for 1 and 2
 * threads and any budget; a frame of NaN is dropped by the bad-image
 * check; an Image_id without any interpolated image too. */
static void test_accumulate_files(void) {
    make_tmp();
    enum { NF = 12 };
    const char *im[NF], *cv[NF], *sg[NF];
    long ids[NF];
    float *vals[NF], *covs[NF], *sigs[NF];
    mx_bgtile_frame f[NF];
    mx_rng rng;
    mx_rng_seed(&rng, 5, 0);
    for (int k = 0; k < NF; k++) {
        long nx = 150 + 10 * k, ny = 130 + 7 * k;
        long x0 = (k % 4) * 90, y0 = (k / 4) * 100;
        mx_image *a = NULL, *c = NULL, *s = NULL;
        MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &a));
        MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &c));
        MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &s));
        for (long i = 0; i < nx * ny; i++) {
            a->data[i] = (float)(0.1 * k + 0.01 * mx_rng_gauss(&rng));
            c->data[i] = mx_rng_uniform(&rng) < 0.05 ? 0.0f : 1.0f;
            s->data[i] = (float)(0.01 + 0.01 * mx_rng_uniform(&rng));
            if (k == 5) a->data[i] = NAN;
        }
        MXT_OK(mx_header_set_long(a->hdr, "MINTOFFX", x0, NULL));
        MXT_OK(mx_header_set_long(a->hdr, "MINTOFFY", y0, NULL));
        MXT_OK(mx_header_set_long(c->hdr, "MINTOFFX", x0, NULL));
        MXT_OK(mx_header_set_long(c->hdr, "MINTOFFY", y0, NULL));
        char nm[64];
        snprintf(nm, sizeof nm, "interp_f%d.fits", k);
        im[k] = strdup(tpath(nm));
        snprintf(nm, sizeof nm, "interp_f%d_covg.fits", k);
        cv[k] = strdup(tpath(nm));
        snprintf(nm, sizeof nm, "interp_unc_f%d_sigma.fits", k);
        sg[k] = strdup(tpath(nm));
        MXT_OK(mx_image_write(a, im[k]));
        MXT_OK(mx_image_write(c, cv[k]));
        MXT_OK(mx_image_write(s, sg[k]));
        ids[k] = k < 3 ? k : k + 1; /* Image_id 4 has no interpolated image */
        vals[k] = malloc(sizeof(float) * (size_t)(nx * ny));
        covs[k] = malloc(sizeof(float) * (size_t)(nx * ny));
        sigs[k] = malloc(sizeof(float) * (size_t)(nx * ny));
        memcpy(vals[k], a->data, sizeof(float) * (size_t)(nx * ny));
        memcpy(covs[k], c->data, sizeof(float) * (size_t)(nx * ny));
        memcpy(sigs[k], s->data, sizeof(float) * (size_t)(nx * ny));
        mx_bgtile_frame t = {ids[k], x0, y0, nx, ny, nx, vals[k], covs[k], sigs[k]};
        f[k] = t;
        mx_image_free(a);
        mx_image_free(c);
        mx_image_free(s);
    }
    const long N = NF + 1;
    mx_bgpairs *ref = NULL;
    MXT_OK(mx_bgpairs_new(N, &ref));
    MXT_OK(mx_bgpairs_accumulate_block(ref, 600, 600, NF, f, NULL));
    mx_bgpairs *got[4] = {NULL, NULL, NULL, NULL};
    const int thr[4] = {1, 2, 2, 1};
    const size_t bud[4] = {0, 0, 200000, 300000};
    const long tile[4] = {0, 0, 200, 333};
    for (int v = 0; v < 4; v++) {
        mx_set_threads(thr[v]);
        mx_bgaccum_spec sp = {NF, im, cv, sg, ids, N, 0, 0, tile[v], bud[v], 1};
        long usable[NF + 1];
        unsigned char drop[NF + 1];
        MXT_OK(mx_bgmatch_accumulate(&sp, &got[v], usable, drop));
        MXT_EQ_INT(drop[3], 1);  /* no interpolated image */
        MXT_EQ_INT(drop[6], 1);  /* frame k = 5: all NaN */
        MXT_EQ_INT(drop[0], 0);
        MXT_EQ_INT(usable[6], 0);
        MXT_TRUE(usable[0] > 0.9 * 150 * 130);
    }
    mx_set_threads(0);
    /* the tile layout changes the grouping of the sums (not the bits for a
     * given layout and any thread count) */
    for (int v = 0; v < 4; v++) {
        if (!got[v]) continue;
        MXT_EQ_INT(mx_bgpairs_count(got[v]), mx_bgpairs_count(ref));
        double maxrel = 0;
        int bits_same_as_0 = 1;
        for (long k = 0; k < mx_bgpairs_count(ref); k++) {
            long m, n;
            double w, d, w2, d2, w0, d0;
            mx_bgpairs_entry(ref, k, &m, &n, &w, &d);
            mx_bgpairs_get(got[v], m, n, &w2, &d2);
            maxrel = fmax(maxrel, fabs(w2 - w) / w + fabs(d2 - d) / (fabs(d) + w));
            if (got[0]) {
                mx_bgpairs_get(got[0], m, n, &w0, &d0);
                if (w0 != w2 || d0 != d2) bits_same_as_0 = 0;
            }
        }
        MXT_TRUE(maxrel < 1e-12);
        if (v == 1) MXT_TRUE(bits_same_as_0); /* same tiles, 2 threads */
    }
    /* the 512-pixel tiles with a small budget (bands of 128 rows) and 2
     * threads give the bits of the default run */
    mx_set_threads(2);
    {
        mx_bgaccum_spec sp = {NF, im, cv, sg, ids, N, 0, 0, 0, 100000, 0};
        mx_bgpairs *q = NULL;
        MXT_OK(mx_bgmatch_accumulate(&sp, &q, NULL, NULL));
        int same = q && got[0] && mx_bgpairs_count(q) == mx_bgpairs_count(got[0]);
        for (long k = 0; same && k < mx_bgpairs_count(got[0]); k++) {
            long m, n;
            double w, d, w2, d2;
            mx_bgpairs_entry(got[0], k, &m, &n, &w, &d);
            mx_bgpairs_get(q, m, n, &w2, &d2);
            if (w != w2 || d != d2) same = 0;
        }
        MXT_TRUE(same);
        mx_bgpairs_free(q);
    }
    mx_set_threads(0);
    for (int v = 0; v < 4; v++) mx_bgpairs_free(got[v]);
    mx_bgpairs_free(ref);
    for (int k = 0; k < NF; k++) {
        free((char *)im[k]);
        free((char *)cv[k]);
        free((char *)sg[k]);
        free(vals[k]);
        free(covs[k]);
        free(sigs[k]);
    }
}

int main(void) {
    mx_log_set_level(MX_LOG_ERROR);
    MXT_RUN(test_o14_three_frames);
    MXT_RUN(test_o14_chain_and_sigmas);
    MXT_RUN(test_o14_inconsistent);
    MXT_RUN(test_o14_outliers);
    MXT_RUN(test_o14_weight);
    MXT_RUN(test_kernel_fig821);
    MXT_RUN(test_kernel_bands);
    MXT_RUN(test_random_2000_dense_vs_sparse);
    MXT_RUN(test_groups);
    MXT_RUN(test_two_frames);
    MXT_RUN(test_sparse_10000_threads);
    MXT_RUN(test_sparse_toolkit);
    MXT_RUN(test_failures);
    MXT_RUN(test_files);
    MXT_RUN(test_accumulate_files);
    return mxt_summary();
}
