/* test_outlier.c - the multi-frame outlier kernels against the oracles of
 * algorithms.md 12 (O-2 temporal, O-3 box, O-4 dual, O-18 fatal bits, O-20
 * RMask back-projection), and the file-level drivers: tile-size and
 * thread-count invariance, output layout, RMask bits. */
#include "mxtest.h"
#include "mopex/mx_outlier.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- O-2: temporal ------------------------------------------------------ */

static const float O2[8] = {10, 11, 9, 10, 12, 50, 10, 8};

static void test_temporal_o2(void) {
    float work[8], out[8];
    double m, s;
    for (int mode = 0; mode < 2; mode++) {
        mx_temporal_opts o = {3, 3, 3, mode};
        MXT_TRUE(mx_temporal_stats(O2, NULL, 8, &o, work, &m, &s));
        MXT_NEAR(m, 10.0, 1e-12);
        MXT_NEAR(s, 1.4825796887, 1e-9);
        size_t nf = mx_temporal_outliers(O2, NULL, 8, &o, work, out);
        MXT_EQ_INT(nf, 1);
        MXT_NEAR(out[5], 26.98, 1e-5);
        for (int k = 0; k < 8; k++)
            if (k != 5) MXT_NEAR(out[k], 0.0, 0.0);
        /* thresholds 0: every value other than M is stored; 8 -> -1.349 */
        mx_temporal_opts z = {0, 0, 3, mode};
        nf = mx_temporal_outliers(O2, NULL, 8, &z, work, out);
        MXT_EQ_INT(nf, 5);
        MXT_NEAR(out[7], -1.349, 1e-5);
        MXT_NEAR(out[0], 0.0, 0.0);
    }
    /* uncertainty floor: min sigma_k 2.0 -> sigma 2, O(50) = 20 */
    float sg[8] = {2.5f, 2.0f, 3.0f, 2.2f, 2.1f, 4.0f, 2.6f, 2.9f};
    mx_temporal_opts o = {3, 3, 3, MX_MEDIAN_UPPER};
    MXT_TRUE(mx_temporal_stats(O2, sg, 8, &o, work, &m, &s));
    MXT_NEAR(s, 2.0, 1e-12);
    mx_temporal_outliers(O2, sg, 8, &o, work, out);
    MXT_NEAR(out[5], 20.0, 1e-6);
    /* the floor never lowers a larger scatter */
    float small[8] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
    MXT_TRUE(mx_temporal_stats(O2, small, 8, &o, work, &m, &s));
    MXT_NEAR(s, 1.4825796887, 1e-9);
    /* stack {10, 30}, MIN_PIX_NUM 3, sigma_k 1: sigma = 1 */
    const float v2[2] = {10, 30}, s2[2] = {1, 1};
    mx_temporal_opts up = {0, 0, 3, MX_MEDIAN_UPPER}, av = {0, 0, 3, MX_MEDIAN_AVERAGE};
    MXT_TRUE(mx_temporal_stats(v2, s2, 2, &up, work, &m, &s));
    MXT_NEAR(s, 1.0, 0.0);
    MXT_NEAR(m, 30.0, 0.0);
    mx_temporal_outliers(v2, s2, 2, &up, work, out);
    MXT_NEAR(out[0], -20.0, 1e-6);
    MXT_NEAR(out[1], 0.0, 0.0);
    mx_temporal_outliers(v2, s2, 2, &av, work, out);
    MXT_NEAR(out[0], -10.0, 1e-6);
    MXT_NEAR(out[1], 10.0, 1e-6);
    /* without uncertainties a stack below MIN_PIX_NUM is not tested */
    MXT_TRUE(!mx_temporal_stats(v2, NULL, 2, &up, work, &m, &s));
    MXT_EQ_INT(mx_temporal_outliers(v2, NULL, 2, &up, work, out), 0);
    MXT_NEAR(out[0], 0.0, 0.0);
    /* identical values, no uncertainties: sigma 0, no outliers */
    const float same[4] = {5, 5, 5, 5};
    MXT_TRUE(!mx_temporal_stats(same, NULL, 4, &up, work, &m, &s));
    /* one value: M = I, O = 0 */
    const float one[1] = {7};
    const float s1[1] = {1};
    MXT_EQ_INT(mx_temporal_outliers(one, s1, 1, &o, work, out), 0);
    MXT_NEAR(out[0], 0.0, 0.0);
}

/* ---- O-3: box ------------------------------------------------------------ */

static const float O3A[9] = {10.0f, 10.2f, 9.9f, 10.1f, 10.0f, 9.8f, 10.3f, 10.1f, 10.2f};
static const float O3B[9] = {60, 75, 80, 90, 100, 85, 70, 65, 95};

static void test_box_o3(void) {
    float box[18], work[18], out[3];
    const float mainv[2] = {10.0f, 100.0f};
    double m, s;
    int fb;
    memcpy(box, O3A, sizeof O3A);
    memcpy(box + 9, O3B, sizeof O3B);
    MXT_TRUE(mx_box_outlier_pixel(mainv, NULL, 2, box, 18, 1, work, out, &m, &s, &fb));
    MXT_NEAR(m, 10.3, 1e-6);
    MXT_NEAR(s, 0.7412898443, 2e-6);
    MXT_EQ_INT(fb, 0);
    MXT_NEAR(out[0], -0.4047, 1e-4);
    MXT_NEAR(out[1], 121.0053, 2e-3);
    /* bias 0: the radhit is missed */
    memcpy(box, O3A, sizeof O3A);
    memcpy(box + 9, O3B, sizeof O3B);
    MXT_TRUE(mx_box_outlier_pixel(mainv, NULL, 2, box, 18, 0, work, out, &m, &s, &fb));
    MXT_NEAR(m, 60.0, 0.0);
    MXT_NEAR(s, 73.6842105263, 1e-4);
    MXT_NEAR(out[1], 0.5429, 1e-4);
    MXT_NEAR(out[0], -0.6786, 1e-4);
    MXT_EQ_INT(fb, 0);
    /* a bias beyond n/2 clamps to the smallest value */
    memcpy(box, O3A, sizeof O3A);
    memcpy(box + 9, O3B, sizeof O3B);
    const float atmin[2] = {9.8f, 100.0f};
    MXT_TRUE(!mx_box_outlier_pixel(atmin, NULL, 2, box, 18, 50, work, out, &m, &s, &fb));
    MXT_NEAR(m, 9.8, 1e-6); /* deviation index 0 too: sigma 0, no test */
    MXT_EQ_INT(fb, 0);
    /* fallback: both main values outside M +- sigma of a flat box */
    float flat[18];
    for (int k = 0; k < 18; k++) flat[k] = 1.0f + 0.01f * (float)(k % 5);
    const float mv3[3] = {20.0f, 22.0f, 60.0f};
    const float ms3[3] = {0.5f, 0.5f, 0.5f};
    MXT_TRUE(mx_box_outlier_pixel(mv3, ms3, 3, flat, 18, 1, work, out, &m, &s, &fb));
    MXT_EQ_INT(fb, 1);
    /* temporal on {20, 22, 60}: M = 22, MAD = 2 -> sigma 2/0.6745 */
    MXT_NEAR(m, 22.0, 0.0);
    MXT_NEAR(s, 2.0 / 0.6745, 1e-9);
    MXT_NEAR(out[2], 38.0 * 0.6745 / 2.0, 1e-4);
    /* sigma 0 in the box (flat background, no uncertainties): no test */
    float zero[9];
    for (int k = 0; k < 9; k++) zero[k] = 3.0f;
    const float mv1[1] = {3.0f};
    MXT_TRUE(!mx_box_outlier_pixel(mv1, NULL, 1, zero, 9, 1, work, out, &m, &s, &fb));
    MXT_NEAR(out[0], 0.0, 0.0);
    /* ... with uncertainties sigma = their minimum */
    const float ms1[1] = {0.25f};
    float zero2[9];
    for (int k = 0; k < 9; k++) zero2[k] = 3.0f;
    zero2[4] = 3.0f;
    MXT_TRUE(mx_box_outlier_pixel(mv1, ms1, 1, zero2, 9, 1, work, out, &m, &s, &fb));
    MXT_NEAR(s, 0.25, 0.0);
}

/* ---- O-4: dual ---------------------------------------------------------- */

static void test_dual_o4(void) {
    float a[6] = {0, 0, 12, 0, 0, NAN};
    MXT_EQ_INT(mx_dual_outlier_pixel(a, 6, 3, 0.5), 1);
    MXT_NEAR(a[2], -12.0, 0.0);
    MXT_TRUE(isnan(a[5]));
    MXT_NEAR(a[0], 0.0, 0.0);
    float b[10] = {1, 0, 12, 0, 5, 0, 8, 0, 0, 0};
    MXT_EQ_INT(mx_dual_outlier_pixel(b, 10, 3, 0.5), 0);
    MXT_NEAR(b[0] + b[2] + b[4] + b[6], 26.0, 0.0);
    float c[5] = {3, 3, 0, 3, 0};
    MXT_EQ_INT(mx_dual_outlier_pixel(c, 5, 3, 0.5), 0);
    MXT_NEAR(c[0], 3.0, 0.0);
    float d[4] = {7, 7, 7, 7};
    MXT_EQ_INT(mx_dual_outlier_pixel(d, 4, 3, 0.5), 0);
    MXT_NEAR(d[3], 7.0, 0.0);
    /* exactly MAX_OUTL_FRAC and MAX_OUTL_IMAGE: still an outlier (<=) */
    float e[6] = {4, 0, 9, 0, 2, 0};
    MXT_EQ_INT(mx_dual_outlier_pixel(e, 6, 3, 0.5), 3);
    MXT_NEAR(e[0] + e[2] + e[4], -15.0, 0.0);
    /* defaults (2, 0.95): a pair in a stack of 3 */
    float f[3] = {5, 5, 0};
    MXT_EQ_INT(mx_dual_outlier_pixel(f, 3, 2, 0.95), 2);
    float g[3] = {NAN, NAN, NAN};
    MXT_EQ_INT(mx_dual_outlier_pixel(g, 3, 2, 0.95), 0);
}

/* ---- O-18: fatal bits ---------------------------------------------------- */

static uint32_t pattern_of(const int *bits, int n) {
    uint32_t p = 0;
    for (int k = 0; k < n; k++) p |= 1u << bits[k];
    return p;
}

static void test_fatal_o18(void) {
    const int dce[] = {5, 8, 9, 10, 11, 12, 13, 14};
    MXT_EQ_INT(pattern_of(dce, 8), 32544);
    const int dce_no11[] = {5, 8, 9, 10, 12, 13, 14};
    MXT_EQ_INT(pattern_of(dce_no11, 7), 30496);
    const int ex[] = {7, 8, 9, 10, 14};
    MXT_EQ_INT(pattern_of(ex, 5), 18304);
    MXT_TRUE(mx_mask_is_fatal(512, 32544));
    MXT_TRUE(!mx_mask_is_fatal(16, 32544));
    MXT_TRUE(mx_mask_is_fatal(2048, 32544));
    /* the RMask bits: box outliers (bit 3) pass pattern 7, not 15 */
    MXT_TRUE(!mx_mask_is_fatal(MX_RMASK_BOX, 7));
    MXT_TRUE(mx_mask_is_fatal(MX_RMASK_BOX, 15));
    MXT_TRUE(mx_mask_is_fatal(MX_RMASK_TEMPORAL, 7));
    MXT_TRUE(mx_mask_is_fatal(MX_RMASK_RADHIT, 7));
    MXT_TRUE(mx_mask_is_fatal(MX_RMASK_DUAL, 7));
    MXT_EQ_INT(MX_RMASK_RADHIT | MX_RMASK_TEMPORAL | MX_RMASK_DUAL, 7);
    MXT_EQ_INT(MX_RMASK_RADHIT | MX_RMASK_TEMPORAL | MX_RMASK_DUAL | MX_RMASK_BOX, 15);
}

/* ---- O-20: RMask flags and back-projection --------------------------------- */

/* input pixel (x, y) -> output (2x + 0.5, 2y + 0.5): a 2x finer, aligned
 * grid (input pixel i covers output pixels 2i and 2i+1). */
static int fine_fwd(void *ctx, size_t n, const double *x, const double *y, double *xo, double *yo) {
    (void)ctx;
    for (size_t k = 0; k < n; k++) {
        double a = x[k], b = y[k];
        xo[k] = 2.0 * a + 0.5;
        yo[k] = 2.0 * b + 0.5;
    }
    return MX_OK;
}
static int fine_inv(void *ctx, size_t n, const double *x, const double *y, double *xo, double *yo) {
    (void)ctx;
    for (size_t k = 0; k < n; k++) {
        double a = x[k], b = y[k];
        xo[k] = (a - 0.5) / 2.0;
        yo[k] = (b - 0.5) / 2.0;
    }
    return MX_OK;
}

static mx_rmask_opts rm_opts(double thresh) {
    mx_rmask_opts o;
    memset(&o, 0, sizeof o);
    o.rm_thresh = thresh;
    o.bottom = o.top = 10;
    o.min_coverage = 3;
    o.max_coverage = 100;
    o.refine = 1;
    o.refine_thresh = 30;
    o.box_bottom = o.box_top = 10;
    o.box_min_coverage = 1;
    o.use_outlier = o.use_dual = o.use_box = 1;
    o.radhit_bit = 9;
    return o;
}

static void test_backproject_o20(void) {
    mx_map map = {fine_fwd, fine_inv, NULL, NULL};
    mx_box box = {0, 0, 4, 4}; /* the 2x2 input frame on a 4x4 grid */
    for (int nflag = 0; nflag <= 4; nflag++) {
        uint8_t flags[16] = {0};
        /* the sub-pixels of input pixel (1, 0): output (2..3, 0..1) */
        const int sub[4][2] = {{2, 0}, {3, 0}, {2, 1}, {3, 1}};
        for (int k = 0; k < nflag; k++) flags[sub[k][1] * 4 + sub[k][0]] = MX_RMASK_TEMPORAL;
        for (int t = 0; t < 2; t++) {
            mx_rmask_opts o = rm_opts(t == 0 ? 0.3 : 1.0);
            int32_t rm[4] = {0, 0, 0, 0};
            long counts[4];
            MXT_OK(mx_rmask_backproject(&o, flags, &box, &map, 2, 2, rm, counts));
            int marked = (rm[1] & MX_RMASK_TEMPORAL) != 0;
            int want = t == 0 ? nflag >= 2 : nflag == 4;
            MXT_EQ_INT(marked, want);
            MXT_EQ_INT(counts[1], want);
            MXT_EQ_INT(rm[0] | rm[2] | rm[3], 0);
        }
    }
    /* lowering RM_THRESH never flags fewer pixels (checklist 30); bits
     * stay separate, bit 0 is kept */
    uint8_t flags[16];
    for (int k = 0; k < 16; k++) flags[k] = (uint8_t)((k * 7) % 3 == 0 ? MX_RMASK_BOX : 0);
    flags[5] |= MX_RMASK_DUAL;
    long prev = -1;
    for (int t = 10; t >= 0; t--) {
        mx_rmask_opts o = rm_opts(t / 10.0);
        int32_t rm[4] = {1, 0, 0, 0};
        long counts[4];
        MXT_OK(mx_rmask_backproject(&o, flags, &box, &map, 2, 2, rm, counts));
        MXT_TRUE(counts[3] >= prev);
        MXT_EQ_INT(counts[0], 1);
        MXT_EQ_INT(counts[1], 0);
        MXT_EQ_INT(counts[2], t <= 2 ? 1 : 0); /* output (1,1) is 1/4 of input (0,0) */
        prev = counts[3];
    }
}

static void test_rmask_flags(void) {
    mx_rmask_opts o = rm_opts(0.3);
    /* pixel: covg, outlier, dual, box */
    const float covg[8] = {5, 5, 2, 5, 200, 5, NAN, 5};
    const float outl[8] = {12, 12, 12, -11, 0, 25, 12, NAN};
    const float dual[8] = {0, 3, 0, 0, -2, 0, -1, -4};
    const float boxm[8] = {0, 0, 11, 0, -20, 0, 0, 9};
    uint8_t f[8];
    mx_rmask_flags(&o, 8, covg, outl, dual, boxm, f);
    MXT_EQ_INT(f[0], MX_RMASK_TEMPORAL);               /* 12 > 10 */
    MXT_EQ_INT(f[1], 0);                               /* confirmed source: 12 < 30 */
    MXT_EQ_INT(f[2], MX_RMASK_BOX);                    /* covg 2 < 3: no temporal */
    MXT_EQ_INT(f[3], MX_RMASK_TEMPORAL);               /* -11 < -10 */
    MXT_EQ_INT(f[4], MX_RMASK_BOX);                    /* dual gated by MAX_COVERAGE 100 */
    MXT_EQ_INT(f[5], MX_RMASK_TEMPORAL);
    MXT_EQ_INT(f[6], MX_RMASK_DUAL);                   /* NaN coverage = 0 <= 100 */
    MXT_EQ_INT(f[7], MX_RMASK_DUAL);
    o.refine = 0;
    mx_rmask_flags(&o, 8, covg, outl, dual, boxm, f);
    MXT_EQ_INT(f[1], MX_RMASK_TEMPORAL);
    o.use_outlier = o.use_dual = 0;
    mx_rmask_flags(&o, 8, covg, outl, dual, boxm, f);
    MXT_EQ_INT(f[0] | f[1] | f[3] | f[5] | f[6] | f[7], 0);
    MXT_EQ_INT(f[2], MX_RMASK_BOX);
    MXT_NEAR(mx_coverage_sum(covg, 8), 227.0, 0.0);
}


/* ========================================================================
 * File-level drivers on a synthetic stack: 8 frames of 30 x 26 pixels on
 * a 64 x 48 grid, same tangent point and pixel size, integer offsets (the
 * interpolation is then an exact shift); sky 1 + noise 0.01, a star in
 * every frame, one cosmic ray (+1.0 = 100 sigma) in frame 3.
 * ====================================================================== */

#define NF 8
#define FNX 30
#define FNY 26
#define CR_FRAME 3
#define CR_GX 30
#define CR_GY 20

static char tmp_dir[4096];
static char fif_path[4200];
static char *frames[NF], *sigmas[NF], *interp[NF], *covgs[NF], *uncs[NF], *projs[NF], *dmasks[NF];
static mx_fif grid;

static long ox_of(int k) { return 4 + 3 * k; }
static long oy_of(int k) { return 3 + 2 * k; }

static char *tpath(const char *name) { return mx_path_join(tmp_dir, name); }

/* xorshift + Box-Muller: deterministic noise */
static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double grand(void) { return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand()); }

static mx_header *frame_header(int k, long nx, long ny) {
    mx_fif f = grid;
    f.crpix[0] = grid.crpix[0] - (double)ox_of(k);
    f.crpix[1] = grid.crpix[1] - (double)oy_of(k);
    f.naxis[0] = nx;
    f.naxis[1] = ny;
    mx_wcs *w = NULL;
    mx_header *h = mx_header_new();
    MXT_OK(mx_fif_wcs(&f, &w));
    MXT_OK(mx_wcs_to_header(w, h));
    mx_wcs_free(w);
    return h;
}

static void make_stack(void) {
    memset(&grid, 0, sizeof grid);
    grid.crval[0] = 150.0;
    grid.crval[1] = 2.0;
    grid.cdelt[0] = -1.2 / 3600.0;
    grid.cdelt[1] = 1.2 / 3600.0;
    grid.naxis[0] = 64;
    grid.naxis[1] = 48;
    grid.crpix[0] = 32.5;
    grid.crpix[1] = 24.5;
    grid.equinox = 2000.0;
    MXT_OK(mx_fif_set_type(&grid, MX_SKY_ICRS, "TAN"));
    char *p = tpath("mosaic_fif.tbl");
    snprintf(fif_path, sizeof fif_path, "%s", p);
    free(p);
    MXT_OK(mx_fif_write(&grid, "test", fif_path));
    for (int k = 0; k < NF; k++) {
        char name[64];
        mx_image *img = NULL, *sig = NULL, *dm = NULL;
        MXT_OK(mx_image_new(FNX, FNY, MX_IMG_FLOAT, 0, 0.0f, &img));
        MXT_OK(mx_image_new(FNX, FNY, MX_IMG_FLOAT, 0, 0.01f, &sig));
        MXT_OK(mx_image_new(FNX, FNY, MX_IMG_INT, 16, 0.0f, &dm));
        for (long y = 0; y < FNY; y++)
            for (long x = 0; x < FNX; x++) {
                double gx = (double)(x + ox_of(k)), gy = (double)(y + oy_of(k));
                double r2 = (gx - 33) * (gx - 33) + (gy - 24) * (gy - 24);
                double v = 1.0 + 2.0 * exp(-r2 / (2 * 1.5 * 1.5)) + 0.01 * grand();
                if (k == CR_FRAME && gx == CR_GX && gy == CR_GY) v += 1.0;
                MX_PIX(img, x, y) = (float)v;
            }
        mx_header_free(img->hdr);
        img->hdr = frame_header(k, FNX, FNY);
        MXT_OK(mx_header_set_string(img->hdr, "BUNIT", "MJy/sr", NULL));
        mx_header_free(sig->hdr);
        sig->hdr = mx_header_dup(img->hdr);
        if (k == 0) {
            MX_MPIX(dm, 2, 2) = 512 | 16;
            MX_MPIX(dm, 5, 7) = 16;
            MXT_OK(mx_header_set_long(dm->hdr, "RADHBIT", 9, NULL));
        }
        snprintf(name, sizeof name, "f%02d.fits", k);
        frames[k] = tpath(name);
        snprintf(name, sizeof name, "f%02d_sig.fits", k);
        sigmas[k] = tpath(name);
        snprintf(name, sizeof name, "f%02d_dmask.fits", k);
        dmasks[k] = tpath(name);
        MXT_OK(mx_image_write(img, frames[k]));
        MXT_OK(mx_image_write(sig, sigmas[k]));
        MXT_OK(mx_image_write(dm, dmasks[k]));
        mx_image_free(img);
        mx_image_free(sig);
        mx_image_free(dm);
    }
    /* the interpolated stack, by Mosaic Interpolate itself */
    char *idir = tpath("Interp-mosaic");
    mx_interp_inputs in;
    memset(&in, 0, sizeof in);
    in.n = NF;
    in.images = (const char *const *)frames;
    in.sigmas = (const char *const *)sigmas;
    mx_interp_opts io;
    memset(&io, 0, sizeof io);
    io.method = 1;
    io.driz_fac = 1.0;
    io.grid_ratio = 1;
    io.alpha = -0.5;
    io.out_dir = idir;
    mx_interp_result *r = NULL;
    MXT_OK(mx_interp_run(&in, &grid, &io, &r));
    for (int k = 0; k < NF && r; k++) {
        MXT_TRUE(r->frames[k].written);
        interp[k] = strdup(r->frames[k].image);
        covgs[k] = strdup(r->frames[k].coverage);
        uncs[k] = strdup(r->frames[k].sigma);
    }
    mx_interp_result_free(r);
    free(idir);
    /* projected detection maps on the interpolated boxes: the star (cluster
     * 1, 3 x 3) in every frame, the cosmic (cluster 2) in frame 3, NaN in
     * the first column (a map that does not cover it) */
    for (int k = 0; k < NF; k++) {
        mx_image *im = NULL, *pm = NULL;
        MXT_OK(mx_image_read(interp[k], &im));
        MXT_OK(mx_image_new(im->nx, im->ny, MX_IMG_FLOAT, 0, 0.0f, &pm));
        long mx = 0, my = 0;
        MXT_OK(mx_header_get_long(im->hdr, "MINTOFFX", &mx));
        MXT_OK(mx_header_get_long(im->hdr, "MINTOFFY", &my));
        for (long y = 0; y < im->ny; y++)
            for (long x = 0; x < im->nx; x++) {
                long gx = x + mx, gy = y + my;
                float v = 0.0f;
                if (labs(gx - 33) <= 1 && labs(gy - 24) <= 1) v = 1.0f;
                if (k == CR_FRAME && gx == CR_GX && gy == CR_GY) v = 2.0f;
                if (x == 0) v = NAN;
                MX_PIX(pm, x, y) = v;
            }
        mx_header_free(pm->hdr);
        pm->hdr = mx_header_dup(im->hdr);
        mx_header_delete(pm->hdr, "BUNIT");
        char name[64];
        snprintf(name, sizeof name, "proj_f%02d_detmap.fits", k);
        projs[k] = tpath(name);
        MXT_OK(mx_image_write(pm, projs[k]));
        mx_image_free(im);
        mx_image_free(pm);
    }
}

static mx_outlier_run_opts run_opts(const char *dir, long tx, long ty) {
    mx_outlier_run_opts o;
    memset(&o, 0, sizeof o);
    o.temporal.bottom = 5;
    o.temporal.top = 5;
    o.temporal.min_pix_num = 3;
    o.temporal.median_mode = MX_MEDIAN_UPPER;
    o.thresh_option = 1;
    o.box_x = 3;
    o.box_y = 3;
    o.box_bias = 1;
    o.max_outl_image = 2;
    o.max_outl_frac = 0.95;
    o.tile_x = tx;
    o.tile_y = ty;
    o.out_dir = dir;
    return o;
}

static mx_outlier_inputs stack_inputs(int with_sigma) {
    mx_outlier_inputs in = {NF, (const char *const *)interp, (const char *const *)covgs,
                            with_sigma ? (const char *const *)uncs : NULL};
    return in;
}

static mx_image *read_f(const char *path) {
    mx_image *img = NULL;
    MXT_OK(mx_image_read(path, &img));
    return img;
}

/* Same bits (NaN included) in every output of two runs. */
static int same_outputs(const mx_outlier_result *a, const mx_outlier_result *b) {
    int same = a && b && a->n == b->n;
    for (int i = 0; same && i < a->n; i++) {
        mx_image *x = read_f(a->outputs[i]), *y = read_f(b->outputs[i]);
        same = x && y && x->nx == y->nx && x->ny == y->ny &&
               memcmp(x->data, y->data, (size_t)x->nx * (size_t)x->ny * sizeof(float)) == 0;
        mx_image_free(x);
        mx_image_free(y);
    }
    return same;
}

static void test_temporal_driver(void) {
    char *d1 = tpath("Outlier-a"), *d2 = tpath("Outlier-b"), *d3 = tpath("Outlier-c");
    mx_outlier_inputs in = stack_inputs(1);
    mx_outlier_result *r1 = NULL, *r2 = NULL, *r3 = NULL;
    mx_outlier_run_opts o1 = run_opts(d1, 500, 500), o2 = run_opts(d2, 7, 5), o3 = run_opts(d3, 13, 11);
    mx_set_threads(1);
    MXT_OK(mx_outlier_run(&in, fif_path, &o1, &r1));
    mx_set_threads(4);
    MXT_OK(mx_outlier_run(&in, fif_path, &o2, &r2));
    o3.thresh_option = 2; /* warned about, computed as option 1 */
    o3.memory_budget = 4 * 30000; /* bands of a few rows per tile, 4 threads */
    MXT_OK(mx_outlier_run(&in, fif_path, &o3, &r3));
    char *d4 = tpath("Outlier-d");
    mx_outlier_run_opts o4 = run_opts(d4, 500, 500);
    mx_outlier_result *r4 = NULL;
    MXT_OK(mx_outlier_run(&in, fif_path, &o4, &r4)); /* one tile: its rows in parallel */
    mx_set_threads(0);
    MXT_TRUE(same_outputs(r1, r4));
    mx_outlier_result_free(r4);
    free(d4);
    if (!r1 || !r2 || !r3) goto exit;
    MXT_EQ_INT(r1->ntiles, 1);
    MXT_EQ_INT(r2->ntiles, 9 * 10); /* 64/7 -> 9, 48/5 -> 9 + 1 (48 % 5 = 3 > 2) */
    MXT_TRUE(same_outputs(r1, r2));
    MXT_TRUE(same_outputs(r1, r3));
    MXT_EQ_INT(r1->nflagged, 1);
    MXT_EQ_INT(r2->nflagged, 1);
    MXT_EQ_INT(r1->npixels, r2->npixels);
    /* the cosmic: +1.0 over sigma >= 0.01 (the uncertainty floor) */
    char *want = tpath("Outlier-a/interp_f03_outlier.fits");
    MXT_EQ_STR(r1->outputs[CR_FRAME], want);
    free(want);
    mx_image *m = read_f(r1->outputs[CR_FRAME]);
    long mx0 = 0, my0 = 0;
    MXT_OK(mx_header_get_long(m->hdr, "MINTOFFX", &mx0));
    MXT_OK(mx_header_get_long(m->hdr, "MINTOFFY", &my0));
    MXT_EQ_INT(mx0, ox_of(CR_FRAME));
    MXT_TRUE(!mx_header_has(m->hdr, "BUNIT"));
    double ocr = MX_PIX(m, CR_GX - mx0, CR_GY - my0);
    MXT_TRUE(ocr > 60 && ocr <= 100.5);
    long nz = 0, nnan = 0;
    for (long q = 0; q < m->nx * m->ny; q++) {
        nz += m->data[q] != 0.0f && !isnan(m->data[q]);
        nnan += isnan(m->data[q]) != 0;
    }
    MXT_EQ_INT(nz, 1);
    MXT_EQ_INT(nnan, 0);
    /* recompute the cosmic's O from the stack by hand */
    float v[NF], s[NF], work[NF];
    int nv = 0;
    for (int k = 0; k < NF; k++) {
        mx_image *im = read_f(interp[k]), *un = read_f(uncs[k]);
        long ax = CR_GX - ox_of(k), ay = CR_GY - oy_of(k);
        if (ax >= 0 && ay >= 0 && ax < im->nx && ay < im->ny) {
            v[nv] = MX_PIX(im, ax, ay);
            s[nv++] = MX_PIX(un, ax, ay);
        }
        mx_image_free(im);
        mx_image_free(un);
    }
    MXT_EQ_INT(nv, NF);
    double M, sg;
    mx_temporal_opts to = {5, 5, 3, MX_MEDIAN_UPPER};
    MXT_TRUE(mx_temporal_stats(v, s, (size_t)nv, &to, work, &M, &sg));
    MXT_NEAR(ocr, (v[CR_FRAME] - M) / sg, 1e-4);
    mx_image_free(m);
    /* the list */
    mx_list *l = NULL;
    MXT_OK(mx_list_read(r1->list, MX_LIST_CHECK_EXISTS, &l));
    if (l) MXT_EQ_INT(l->n, NF);
    mx_list_free(l);
exit:
    mx_outlier_result_free(r1);
    mx_outlier_result_free(r2);
    mx_outlier_result_free(r3);
    free(d1);
    free(d2);
    free(d3);
}

/* PARTIAL PIXELS: with min_cover, a partly covered entry leaves the stack. */
static void test_min_cover(void) {
    char *d1 = tpath("Outlier-mc"), *cpath = tpath("covg_partial.fits");
    const char *covs[NF];
    mx_image *c = NULL;
    MXT_OK(mx_image_read(covgs[CR_FRAME], &c));
    if (!c) goto exit;
    MX_PIX(c, CR_GX - ox_of(CR_FRAME), CR_GY - oy_of(CR_FRAME)) = 0.3f;
    MXT_OK(mx_image_write(c, cpath));
    mx_image_free(c);
    for (int k = 0; k < NF; k++) covs[k] = k == CR_FRAME ? cpath : covgs[k];
    mx_outlier_inputs in = {NF, (const char *const *)interp, covs, (const char *const *)uncs};
    for (int pass = 0; pass < 2; pass++) {
        mx_outlier_run_opts o = run_opts(d1, 500, 500);
        o.min_cover = pass == 0 ? 0.0 : 0.5;
        mx_outlier_result *r = NULL;
        MXT_OK(mx_outlier_run(&in, fif_path, &o, &r));
        if (!r) continue;
        mx_image *m = read_f(r->outputs[CR_FRAME]);
        double v = MX_PIX(m, CR_GX - ox_of(CR_FRAME), CR_GY - oy_of(CR_FRAME));
        if (pass == 0) {
            MXT_TRUE(v > 60);
            MXT_EQ_INT(r->nflagged, 1);
        } else {
            MXT_TRUE(isnan(v));
            MXT_EQ_INT(r->nflagged, 0);
            MXT_NEAR(MX_PIX(m, CR_GX + 1 - ox_of(CR_FRAME), CR_GY - oy_of(CR_FRAME)), 0.0, 0.0);
            MXT_OK(mx_header_get_double(m->hdr, "MINCOVER", &v));
            MXT_NEAR(v, 0.5, 0);
        }
        mx_image_free(m);
        mx_outlier_result_free(r);
    }
    mx_outlier_run_opts bad = run_opts(d1, 500, 500);
    bad.min_cover = 1.5;
    MXT_FAILS(mx_outlier_run(&in, fif_path, &bad, NULL), MX_ERR_PARAM, "min_cover");
exit:
    free(d1);
    free(cpath);
}

static void test_box_driver(void) {
    char *d1 = tpath("Box-a"), *d2 = tpath("Box-b");
    mx_outlier_inputs in = stack_inputs(1);
    mx_outlier_result *r1 = NULL, *r2 = NULL;
    mx_outlier_run_opts o1 = run_opts(d1, 64, 48), o2 = run_opts(d2, 6, 7);
    o1.memory_budget = 60000; /* one thread: bands of about 10 rows, halos between them */
    mx_set_threads(1);
    MXT_OK(mx_box_outlier_run(&in, fif_path, &o1, &r1));
    mx_set_threads(3);
    MXT_OK(mx_box_outlier_run(&in, fif_path, &o2, &r2));
    char *d3 = tpath("Box-c");
    mx_outlier_run_opts o3 = run_opts(d3, 64, 48);
    o3.memory_budget = 3 * 50000; /* one tile in bands, each band's rows in parallel */
    mx_outlier_result *r3 = NULL;
    MXT_OK(mx_box_outlier_run(&in, fif_path, &o3, &r3));
    mx_set_threads(0);
    MXT_TRUE(same_outputs(r1, r3));
    mx_outlier_result_free(r3);
    free(d3);
    if (!r1 || !r2) goto exit;
    MXT_TRUE(same_outputs(r1, r2));
    MXT_EQ_INT(r1->nflagged, r2->nflagged);
    MXT_EQ_INT(r1->nfallback, r2->nfallback);
    mx_image *m = read_f(r1->outputs[CR_FRAME]);
    double ocr = MX_PIX(m, CR_GX - ox_of(CR_FRAME), CR_GY - oy_of(CR_FRAME));
    MXT_TRUE(ocr > 30);
    /* the other frames at the cosmic's pixel stay well inside 10 sigma */
    for (int k = 0; k < NF; k++) {
        if (k == CR_FRAME) continue;
        mx_image *o = read_f(r1->outputs[k]);
        MXT_TRUE(fabs(MX_PIX(o, CR_GX - ox_of(k), CR_GY - oy_of(k))) < 10);
        mx_image_free(o);
    }
    /* every usable pixel has a value */
    long nnan = 0;
    for (long q = 0; q < m->nx * m->ny; q++) nnan += isnan(m->data[q]) != 0;
    MXT_EQ_INT(nnan, 0);
    MXT_TRUE(r1->nflagged >= 1);
    mx_image_free(m);
    /* an independent recomputation of one pixel (a box stack by hand) */
    {
        const long gx = 20, gy = 15;
        float mv[NF], ms[NF], bx[NF * 9], work[NF * 9], res[NF];
        int who[NF];
        size_t nm = 0, nb = 0;
        for (int k = 0; k < NF; k++) {
            mx_image *im = read_f(interp[k]), *un = read_f(uncs[k]);
            long ax = gx - ox_of(k), ay = gy - oy_of(k);
            if (ax >= 0 && ay >= 0 && ax < im->nx && ay < im->ny) {
                who[nm] = k;
                mv[nm] = MX_PIX(im, ax, ay);
                ms[nm++] = MX_PIX(un, ax, ay);
                for (long yy = ay - 1; yy <= ay + 1; yy++)
                    for (long xx = ax - 1; xx <= ax + 1; xx++)
                        if (xx >= 0 && yy >= 0 && xx < im->nx && yy < im->ny) bx[nb++] = MX_PIX(im, xx, yy);
            }
            mx_image_free(im);
            mx_image_free(un);
        }
        MXT_TRUE(nm >= 3);
        mx_box_outlier_pixel(mv, ms, nm, bx, nb, 1, work, res, NULL, NULL, NULL);
        for (size_t q = 0; q < nm; q++) {
            mx_image *o = read_f(r1->outputs[who[q]]);
            MXT_NEAR(MX_PIX(o, gx - ox_of(who[q]), gy - oy_of(who[q])), res[q], 0.0);
            mx_image_free(o);
        }
    }
exit:
    mx_outlier_result_free(r1);
    mx_outlier_result_free(r2);
    free(d1);
    free(d2);
}

static void test_dual_driver(void) {
    char *d1 = tpath("Dual-a"), *d2 = tpath("Dual-b");
    mx_outlier_inputs in = {NF, (const char *const *)projs, NULL, NULL};
    mx_outlier_result *r1 = NULL, *r2 = NULL;
    mx_outlier_run_opts o1 = run_opts(d1, 500, 500), o2 = run_opts(d2, 5, 9);
    mx_set_threads(2);
    MXT_OK(mx_dual_outlier_run(&in, fif_path, &o1, &r1));
    MXT_OK(mx_dual_outlier_run(&in, fif_path, &o2, &r2));
    mx_set_threads(0);
    if (!r1 || !r2) goto exit;
    MXT_TRUE(same_outputs(r1, r2));
    MXT_EQ_INT(r1->nflagged, 1);
    char *want = tpath("Dual-a/proj_f03_detmap_dual_outlier.fits");
    MXT_EQ_STR(r1->outputs[CR_FRAME], want);
    free(want);
    for (int k = 0; k < NF; k++) {
        mx_image *o = read_f(r1->outputs[k]), *p = read_f(projs[k]);
        long ax = CR_GX - ox_of(k), ay = CR_GY - oy_of(k);
        MXT_NEAR(MX_PIX(o, ax, ay), k == CR_FRAME ? -2.0 : 0.0, 0.0);
        MXT_NEAR(MX_PIX(o, 33 - ox_of(k), 24 - oy_of(k)), 1.0, 0.0); /* the star stays positive */
        long diff = 0;
        for (long q = 0; q < o->nx * o->ny; q++) {
            float a = o->data[q], b = p->data[q];
            if (isnan(a) != isnan(b) || (!isnan(a) && a != b && !(a == -b && k == CR_FRAME))) diff++;
        }
        MXT_EQ_INT(diff, 0);
        MXT_TRUE(isnan(MX_PIX(o, 0, 3)));
        mx_image_free(o);
        mx_image_free(p);
    }
exit:
    mx_outlier_result_free(r1);
    mx_outlier_result_free(r2);
    free(d1);
    free(d2);
}

static void test_coverage_driver(void) {
    char *d1 = tpath("Rmask-a"), *d2 = tpath("Rmask-b"), *m1 = tpath("covg_map.fits"), *m2 = tpath("covg_map_b.fits");
    mx_outlier_inputs in = {NF, (const char *const *)interp, (const char *const *)covgs, NULL};
    mx_outlier_result *r1 = NULL, *r2 = NULL;
    mx_outlier_run_opts o1 = run_opts(d1, 2000, 2000), o2 = run_opts(d2, 20, 20);
    MXT_OK(mx_coverage_run(&in, fif_path, &o1, m1, &r1));
    MXT_OK(mx_coverage_run(&in, fif_path, &o2, m2, &r2));
    if (!r1 || !r2) goto exit;
    MXT_EQ_INT(r1->ntiles, 1);
    MXT_EQ_INT(r2->ntiles, 6);
    mx_image *a = read_f(m1), *b = read_f(m2);
    MXT_EQ_INT(a->nx, 64);
    MXT_EQ_INT(a->ny, 48);
    MXT_TRUE(memcmp(a->data, b->data, 64 * 48 * sizeof(float)) == 0);
    MXT_NEAR(MX_PIX(a, CR_GX, CR_GY), 8.0, 1e-6);
    MXT_NEAR(MX_PIX(a, 5, 4), 1.0, 1e-6);
    MXT_NEAR(MX_PIX(a, 0, 0), 0.0, 0.0);
    MXT_NEAR(r1->max, 8.0, 1e-6);
    /* independent: the sum of the coverage files */
    double want = 0, got = 0;
    for (int k = 0; k < NF; k++) {
        mx_image *c = read_f(covgs[k]);
        for (long q = 0; q < c->nx * c->ny; q++)
            if (c->data[q] > 0) want += c->data[q];
        mx_image_free(c);
    }
    for (long q = 0; q < 64 * 48; q++) got += a->data[q];
    MXT_NEAR(got, want, 1e-6 * want);
    char *tile = tpath("Rmask-b/covg_Tile_006.fits"), *tbl = tpath("Rmask-b/covg_TilesList.tbl");
    MXT_TRUE(mx_file_exists(tile));
    MXT_EQ_STR(r2->list, tbl);
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(tbl, &t));
    if (t) {
        MXT_EQ_INT(t->nrows, 6);
        MXT_TRUE(mx_table_find_column(t, "fname") >= 0 && mx_table_find_column(t, "xoff") >= 0);
    }
    mx_table_free(t);
    free(tile);
    free(tbl);
    mx_image_free(a);
    mx_image_free(b);
exit:
    mx_outlier_result_free(r1);
    mx_outlier_result_free(r2);
    free(d1);
    free(d2);
    free(m1);
    free(m2);
}

static mx_rmask_opts rmask_run_opts(const char *dir) {
    mx_rmask_opts o = rm_opts(0.3);
    o.bottom = o.top = 10;
    o.refine_thresh = 10;
    o.out_dir = dir;
    o.use_outlier = o.use_dual = o.use_box = 0;
    return o;
}

static void test_rmask_driver(void) {
    char *od = tpath("Outlier-r"), *bd = tpath("Box-r"), *dd = tpath("Dual-r"), *cd = tpath("Rmask-c");
    char *covg = tpath("covg_map_r.fits"), *rd = tpath("Rmask-r"), *rd2 = tpath("Rmask-r2");
    mx_outlier_inputs in = stack_inputs(1), pin = {NF, (const char *const *)projs, NULL, NULL};
    mx_outlier_result *ro = NULL, *rb = NULL, *rdl = NULL, *rc = NULL;
    mx_rmask_result *rr = NULL, *rr2 = NULL;
    mx_outlier_run_opts oo = run_opts(od, 500, 500), ob = run_opts(bd, 500, 500);
    mx_outlier_run_opts odl = run_opts(dd, 500, 500), oc = run_opts(cd, 500, 500);
    oo.temporal.bottom = oo.temporal.top = 0; /* the decision left to RMask */
    MXT_OK(mx_outlier_run(&in, fif_path, &oo, &ro));
    MXT_OK(mx_box_outlier_run(&in, fif_path, &ob, &rb));
    MXT_OK(mx_dual_outlier_run(&pin, fif_path, &odl, &rdl));
    MXT_OK(mx_coverage_run(&in, fif_path, &oc, covg, &rc));
    if (!ro || !rb || !rdl || !rc) goto exit;
    /* maps in reverse order: matched by name */
    const char *omaps[NF], *bmaps[NF], *dmaps[NF];
    for (int k = 0; k < NF; k++) {
        omaps[k] = ro->outputs[NF - 1 - k];
        bmaps[k] = rb->outputs[NF - 1 - k];
        dmaps[k] = rdl->outputs[k];
    }
    mx_rmask_inputs ri;
    memset(&ri, 0, sizeof ri);
    ri.n = NF;
    ri.images = (const char *const *)frames;
    ri.dmasks = (const char *const *)dmasks;
    ri.n_outlier = NF;
    ri.outlier_maps = omaps;
    ri.n_dual = NF;
    ri.dual_maps = dmaps;
    ri.n_box = NF;
    ri.box_maps = bmaps;
    ri.coverage_map = covg;
    ri.fif_path = fif_path;
    mx_rmask_opts o = rmask_run_opts(rd);
    /* bit 0 only */
    MXT_OK(mx_rmask_run(&ri, &o, &rr));
    if (rr) {
        MXT_EQ_INT(rr->counts[0], 1);
        MXT_EQ_INT(rr->counts[1] + rr->counts[2] + rr->counts[3], 0);
    }
    mx_rmask_result_free(rr);
    rr = NULL;
    o.use_outlier = o.use_dual = o.use_box = 1;
    mx_set_threads(1);
    MXT_OK(mx_rmask_run(&ri, &o, &rr));
    mx_set_threads(4);
    mx_rmask_opts o2 = o;
    o2.out_dir = rd2;
    MXT_OK(mx_rmask_run(&ri, &o2, &rr2));
    mx_set_threads(0);
    if (!rr || !rr2) goto exit;
    MXT_EQ_INT(rr->counts[0], 1);
    MXT_EQ_INT(rr->counts[1], 1);
    MXT_EQ_INT(rr->counts[2], 1);
    MXT_TRUE(rr->counts[3] >= 1);
    for (int b = 0; b < 4; b++) MXT_EQ_INT(rr->counts[b], rr2->counts[b]);
    char *want = tpath("Rmask-r/f03_rmask.fits");
    MXT_EQ_STR(rr->rmasks[CR_FRAME], want);
    free(want);
    mx_image *m = NULL;
    MXT_OK(mx_mask_read(rr->rmasks[CR_FRAME], &m));
    if (m) {
        MXT_EQ_INT(m->nx, FNX);
        MXT_EQ_INT(m->ny, FNY);
        MXT_EQ_INT(m->bitpix, 16);
        int32_t v = MX_MPIX(m, CR_GX - ox_of(CR_FRAME), CR_GY - oy_of(CR_FRAME));
        MXT_EQ_INT(v & (MX_RMASK_TEMPORAL | MX_RMASK_DUAL | MX_RMASK_BOX),
                   MX_RMASK_TEMPORAL | MX_RMASK_DUAL | MX_RMASK_BOX);
        MXT_TRUE(mx_header_has(m->hdr, "CRVAL1")); /* the input's header */
    }
    mx_image_free(m);
    m = NULL;
    MXT_OK(mx_mask_read(rr->rmasks[0], &m));
    if (m) {
        MXT_EQ_INT(MX_MPIX(m, 2, 2), MX_RMASK_RADHIT);
        MXT_EQ_INT(MX_MPIX(m, 5, 7), 0);
    }
    mx_image_free(m);
    /* MIN_COVERAGE above the stack depth switches the temporal bit off,
     * MAX_COVERAGE below it the dual bit */
    mx_rmask_result_free(rr2);
    rr2 = NULL;
    o2.min_coverage = 9;
    o2.max_coverage = 7.5;
    o2.use_box = 0;
    MXT_OK(mx_rmask_run(&ri, &o2, &rr2));
    if (rr2) MXT_EQ_INT(rr2->counts[1] + rr2->counts[2] + rr2->counts[3], 0);
    /* errors: a missing map; a bit without its module */
    ri.n_outlier = NF - 1;
    ri.outlier_maps = (const char *const *)ro->outputs + 1;
    MXT_FAILS(mx_rmask_run(&ri, &o, NULL), MX_ERR_NOTFOUND, "interp_f00_outlier.fits");
    ri.outlier_maps = NULL;
    MXT_FAILS(mx_rmask_run(&ri, &o, NULL), MX_ERR_PARAM, "run Mosaic Outlier");
    ri.outlier_maps = omaps;
    ri.coverage_map = NULL;
    MXT_FAILS(mx_rmask_run(&ri, &o, NULL), MX_ERR_PARAM, "Mosaic Coverage");
    ri.coverage_map = covg;
    /* Create RMask Mosaic: the straight average of the interpolated RMasks;
     * at the cosmic 8 frames, one with 2 + 4 + 8 */
    mx_rmask_mosaic_opts mo = {1, 0, 1.0, 1, -0.5, 1000, 1000, rd};
    char *mos = NULL;
    MXT_OK(mx_rmask_mosaic_run(NF, (const char *const *)rr->rmasks, fif_path, &mo, &mos));
    if (mos) {
        char *wm = tpath("Rmask-r/mosaic.fits");
        MXT_EQ_STR(mos, wm);
        free(wm);
        mx_image *mm = read_f(mos);
        int32_t crv = 0;
        mx_image *m3 = NULL;
        MXT_OK(mx_mask_read(rr->rmasks[CR_FRAME], &m3));
        if (m3) crv = MX_MPIX(m3, CR_GX - ox_of(CR_FRAME), CR_GY - oy_of(CR_FRAME));
        mx_image_free(m3);
        MXT_NEAR(MX_PIX(mm, CR_GX, CR_GY), crv / 8.0, 1e-5);
        MXT_NEAR(MX_PIX(mm, 40, 30), 0.0, 1e-6);
        MXT_TRUE(isnan(MX_PIX(mm, 0, 0)));
        mx_image_free(mm);
        free(mos);
    }
exit:
    mx_rmask_result_free(rr);
    mx_rmask_result_free(rr2);
    mx_outlier_result_free(ro);
    mx_outlier_result_free(rb);
    mx_outlier_result_free(rdl);
    mx_outlier_result_free(rc);
    free(od);
    free(bd);
    free(dd);
    free(cd);
    free(covg);
    free(rd);
    free(rd2);
}

static void cleanup_stack(void) {
    for (int k = 0; k < NF; k++) {
        free(frames[k]);
        free(sigmas[k]);
        free(interp[k]);
        free(covgs[k]);
        free(uncs[k]);
        free(projs[k]);
        free(dmasks[k]);
    }
}

int main(void) {
    mx_log_set_level(MX_LOG_WARN);
    MXT_RUN(test_temporal_o2);
    MXT_RUN(test_box_o3);
    MXT_RUN(test_dual_o4);
    MXT_RUN(test_fatal_o18);
    MXT_RUN(test_backproject_o20);
    MXT_RUN(test_rmask_flags);
    const char *t = getenv("MOPEX_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/c_test_outlier", t && *t ? t : "/tmp"); /* tests/lua/test_outlier.lua has test_outlier */
    MXT_OK(mx_mkdir_p(tmp_dir));
    make_stack();
    MXT_RUN(test_temporal_driver);
    MXT_RUN(test_min_cover);
    MXT_RUN(test_box_driver);
    MXT_RUN(test_dual_driver);
    MXT_RUN(test_coverage_driver);
    MXT_RUN(test_rmask_driver);
    cleanup_stack();
    return mxt_summary();
}
