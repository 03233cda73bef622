/* test_resample.c - the resampling kernels on exact affine mappings
 * (oracles O-8 to O-12 and O-20 of algorithms.md section 12), flux
 * conservation, bad pixels, and on a real TAN-SIP frame mapped to a rotated
 * 0.6" TAN grid (flux conservation in solid angle, speed). */
#define _GNU_SOURCE
#include <time.h>
#include "mxtest.h"
#include "mopex/mx_resample.h"

/* ---- affine test mapping: out = A in + b -------------------------------- */
typedef struct {
    double a[2][2], b[2], ai[2][2], bi[2];
} affine;

static int aff_apply(const double m[2][2], const double t[2], size_t n, const double *x,
                     const double *y, double *xo, double *yo) {
    for (size_t k = 0; k < n; k++) {
        double u = x[k], v = y[k];
        xo[k] = m[0][0] * u + m[0][1] * v + t[0];
        yo[k] = m[1][0] * u + m[1][1] * v + t[1];
    }
    return MX_OK;
}
static int aff_fwd(void *ctx, size_t n, const double *x, const double *y, double *xo, double *yo) {
    affine *A = ctx;
    return aff_apply(A->a, A->b, n, x, y, xo, yo);
}
static int aff_inv(void *ctx, size_t n, const double *x, const double *y, double *xo, double *yo) {
    affine *A = ctx;
    return aff_apply(A->ai, A->bi, n, x, y, xo, yo);
}

/* out = s R(theta) in + (tx, ty): s output pixels per input pixel. */
static mx_map affine_map(affine *A, double s, double theta_deg, double tx, double ty) {
    double th = theta_deg * M_PI / 180, c = cos(th), sn = sin(th);
    if (theta_deg == 0) c = 1, sn = 0;
    A->a[0][0] = s * c, A->a[0][1] = -s * sn, A->a[1][0] = s * sn, A->a[1][1] = s * c;
    A->b[0] = tx, A->b[1] = ty;
    double det = A->a[0][0] * A->a[1][1] - A->a[0][1] * A->a[1][0];
    A->ai[0][0] = A->a[1][1] / det, A->ai[0][1] = -A->a[0][1] / det;
    A->ai[1][0] = -A->a[1][0] / det, A->ai[1][1] = A->a[0][0] / det;
    A->bi[0] = -(A->ai[0][0] * tx + A->ai[0][1] * ty);
    A->bi[1] = -(A->ai[1][0] * tx + A->ai[1][1] * ty);
    /* exact inverses for the simple scales used here */
    if (theta_deg == 0) A->ai[0][0] = A->ai[1][1] = 1.0 / s, A->bi[0] = -tx / s, A->bi[1] = -ty / s;
    mx_map m = {aff_fwd, aff_inv, A, NULL};
    return m;
}

static mx_resample_opts opts(int method) {
    mx_resample_opts o = {method, 0, 1.0, 4, -0.5, 0};
    return o;
}

typedef struct {
    mx_box box;
    double *img, *cov, *sig;
    float *fimg, *fcov;
} result;

static void result_free(result *r) {
    free(r->img);
    free(r->cov);
    free(r->sig);
    free(r->fimg);
    free(r->fcov);
}

static int run(const mx_resample_opts *o, const mx_frame *in, const mx_map *m, mx_box box,
               result *r) {
    size_t n = (size_t)box.w * (size_t)box.h;
    r->box = box;
    r->img = malloc(n * sizeof(double));
    r->cov = malloc(n * sizeof(double));
    r->sig = malloc(n * sizeof(double));
    r->fimg = malloc(n * sizeof(float));
    r->fcov = malloc(n * sizeof(float));
    mx_resample_out out = {r->fimg, r->fcov, NULL, r->img, r->cov, r->sig};
    return mx_resample(o, in, m, &box, &out);
}

static double at(const double *a, const result *r, long X, long Y) {
    return a[(size_t)(Y - r->box.y0) * (size_t)r->box.w + (size_t)(X - r->box.x0)];
}

static mx_box footprint(const mx_map *m, long nx, long ny) {
    mx_box b;
    int st = mx_map_footprint_box(m, nx, ny, 100000, 100000, &b);
    MXT_OK(st);
    return b;
}

/* A box around the footprint even when it lies at negative output pixels. */
static mx_box box_around(const mx_map *m, long nx, long ny, long margin) {
    double xs[4] = {-0.5, nx - 0.5, nx - 0.5, -0.5}, ys[4] = {-0.5, -0.5, ny - 0.5, ny - 0.5};
    m->fwd(m->ctx, 4, xs, ys, xs, ys);
    double x0 = xs[0], x1 = xs[0], y0 = ys[0], y1 = ys[0];
    for (int k = 1; k < 4; k++) {
        x0 = fmin(x0, xs[k]), x1 = fmax(x1, xs[k]);
        y0 = fmin(y0, ys[k]), y1 = fmax(y1, ys[k]);
    }
    mx_box b = {(long)floor(x0) - margin, (long)floor(y0) - margin, 0, 0};
    b.w = (long)ceil(x1) + margin - b.x0 + 1;
    b.h = (long)ceil(y1) + margin - b.y0 + 1;
    return b;
}

static double total_flux(const result *r, double area_q) {
    double s = 0;
    for (long k = 0; k < r->box.w * r->box.h; k++)
        if (r->cov[k] > 0) s += r->img[k] * r->cov[k] * area_q;
    return s;
}

/* ---- O-8 default method ---------------------------------------------------- */
static void test_o8_constant(void) {
    float img[100];
    for (int k = 0; k < 100; k++) img[k] = 5.0f;
    mx_frame in = {10, 10, img, NULL, NULL};
    affine A;
    mx_resample_opts o = opts(1);
    /* output 2x finer nested in the input pixels: X = 2x + 0.5 */
    mx_map m = affine_map(&A, 2, 0, 0.5, 0.5);
    mx_box b = footprint(&m, 10, 10);
    MXT_EQ_INT(b.x0, 0);
    MXT_EQ_INT(b.w, 20);
    MXT_EQ_INT(b.h, 20);
    result r;
    MXT_OK(run(&o, &in, &m, b, &r));
    double mn = 1e9, mx = -1e9, cmin = 1e9;
    for (int k = 0; k < 400; k++) mn = fmin(mn, r.img[k]), mx = fmax(mx, r.img[k]), cmin = fmin(cmin, r.cov[k]);
    MXT_NEAR(mn, 5, 0);
    MXT_NEAR(mx, 5, 0);
    MXT_NEAR(cmin, 1, 1e-15);
    MXT_NEAR(total_flux(&r, 0.25), 500, 1e-12);
    result_free(&r);
    /* shifted by a quarter input pixel: X = 2x + 1; 441 pixels */
    m = affine_map(&A, 2, 0, 1.0, 1.0);
    b = footprint(&m, 10, 10);
    MXT_EQ_INT(b.w * b.h, 441);
    MXT_OK(run(&o, &in, &m, b, &r));
    int n1 = 0, n05 = 0, n025 = 0;
    double plain = 0;
    for (int k = 0; k < 441; k++) {
        MXT_NEAR(r.img[k], 5, 1e-15);
        n1 += fabs(r.cov[k] - 1) < 1e-15;
        n05 += fabs(r.cov[k] - 0.5) < 1e-15;
        n025 += fabs(r.cov[k] - 0.25) < 1e-15;
        plain += r.img[k] * 0.25;
    }
    MXT_EQ_INT(n1 + n05 + n025, 441);
    MXT_EQ_INT(n025, 4);
    MXT_EQ_INT(n05, 4 * 19);
    MXT_NEAR(total_flux(&r, 0.25), 500, 1e-12);
    MXT_NEAR(plain, 551.25, 1e-12);
    /* float outputs hold the same */
    MXT_NEAR(r.fimg[0], 5.0f, 0);
    MXT_NEAR(r.fcov[0], 0.25f, 0);
    result_free(&r);
}

static void test_o8_small_images(void) {
    float img16[16];
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++) img16[j * 4 + i] = (float)(i + 4 * j + 1);
    mx_frame in = {4, 4, img16, NULL, NULL};
    mx_resample_opts o = opts(1);
    affine A;
    result r;
    mx_map m = affine_map(&A, 2, 0, 1.0, 1.0);
    MXT_OK(run(&o, &in, &m, footprint(&m, 4, 4), &r));
    MXT_NEAR(total_flux(&r, 0.25), 136, 1e-12);
    result_free(&r);
    /* same pixel size, shift 0.3: output (1,1) centred at input (1.3, 1.3) */
    m = affine_map(&A, 1, 0, -0.3, -0.3);
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 4, 4}, &r));
    MXT_NEAR(at(r.img, &r, 1, 1), 7.5, 1e-14);
    MXT_NEAR(at(r.cov, &r, 1, 1), 1.0, 1e-15);
    result_free(&r);
    /* bad pixel (1,1) (weight 0.49): coverage drops by exactly its share */
    uint8_t bad[16] = {0};
    bad[1 * 4 + 1] = 1;
    mx_frame inb = {4, 4, img16, NULL, bad};
    MXT_OK(run(&o, &inb, &m, (mx_box){0, 0, 4, 4}, &r));
    MXT_NEAR(at(r.cov, &r, 1, 1), 0.51, 1e-15);
    MXT_NEAR(at(r.img, &r, 1, 1), (0.21 * 7 + 0.21 * 10 + 0.09 * 11) / 0.51, 1e-14);
    result_free(&r);
    /* A NaN value is unusable too, without a mask. */
    img16[5] = NAN;
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 4, 4}, &r));
    MXT_NEAR(at(r.cov, &r, 1, 1), 0.51, 1e-15);
    result_free(&r);
    img16[5] = 6;

    float img4[4] = {1, 2, 3, 4}; /* rows {1,2} (y=0), {3,4} (y=1) */
    mx_frame in4 = {2, 2, img4, NULL, NULL};
    m = affine_map(&A, 1, 0, -0.5, -0.5); /* output (0,0) centred on the common corner */
    MXT_OK(run(&o, &in4, &m, (mx_box){-1, -1, 3, 3}, &r));
    MXT_NEAR(at(r.img, &r, 0, 0), 2.5, 1e-15);
    MXT_NEAR(at(r.cov, &r, 0, 0), 1.0, 1e-15);
    MXT_NEAR(at(r.cov, &r, -1, -1), 0.25, 1e-15);
    MXT_NEAR(at(r.img, &r, -1, -1), 1.0, 1e-15);
    result_free(&r);
    /* half-size pixel x in [0.25, 0.75], y in [-0.5, 0]: X = 2x - 1, Y = 2y + 0.5 */
    A.a[0][0] = 2, A.a[0][1] = 0, A.a[1][0] = 0, A.a[1][1] = 2, A.b[0] = -1, A.b[1] = 0.5;
    A.ai[0][0] = 0.5, A.ai[0][1] = 0, A.ai[1][0] = 0, A.ai[1][1] = 0.5, A.bi[0] = 0.5, A.bi[1] = -0.25;
    MXT_OK(run(&o, &in4, &m, (mx_box){0, 0, 1, 1}, &r));
    MXT_NEAR(r.img[0], 1.5, 1e-15);
    MXT_NEAR(r.cov[0], 1.0, 1e-15);
    result_free(&r);
}

static void test_o8_rotated(void) {
    /* output pixel = unit square rotated 45 degrees centred on input (2, 2) */
    float img[25] = {0};
    img[2 * 5 + 2] = 10, img[2 * 5 + 3] = 1, img[2 * 5 + 1] = 2, img[3 * 5 + 2] = 3, img[1 * 5 + 2] = 4;
    mx_frame in = {5, 5, img, NULL, NULL};
    mx_resample_opts o = opts(1);
    affine A;
    result r;
    /* X = R(45)(x - 2): output (0,0) is centred on input pixel (2,2) */
    double c = sqrt(0.5);
    mx_map m = affine_map(&A, 1, 45, -c * 2 + c * 2, -c * 2 - c * 2);
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 1, 1}, &r));
    MXT_NEAR(r.img[0], 8.713203436, 1e-9);
    MXT_NEAR(r.cov[0], 1.0, 1e-14);
    result_free(&r);
    /* centred on the corner (2.5, 2.5): four weights of 0.25 */
    m = affine_map(&A, 1, 45, -c * 2.5 + c * 2.5, -c * 2.5 - c * 2.5);
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 1, 1}, &r));
    MXT_NEAR(r.img[0], (10 + 1 + 3 + 0) / 4.0, 1e-14);
    result_free(&r);
    /* Flux conservation under 45 degrees, 1.5 output pixels per input pixel,
     * and a general rotation at a coarser output scale. */
    float big[12 * 9];
    unsigned s = 7;
    double tot = 0;
    for (int k = 0; k < 12 * 9; k++) {
        s = s * 1103515245u + 12345u;
        big[k] = (float)((s >> 8) % 1000) / 10.0f;
        tot += big[k];
    }
    mx_frame inb = {12, 9, big, NULL, NULL};
    const double scales[3] = {1.5, 1.0, 0.37}, angles[3] = {45, 30, -107.3};
    for (int t = 0; t < 3; t++) {
        m = affine_map(&A, scales[t], angles[t], 3.21, -7.7);
        mx_box b = box_around(&m, 12, 9, 2);
        MXT_OK(run(&o, &inb, &m, b, &r));
        double aq = 1.0 / (scales[t] * scales[t]);
        MXT_NEAR(total_flux(&r, aq) / tot, 1.0, 1e-12);
        result_free(&r);
    }
}

/* ---- O-9 FINERES --------------------------------------------------------- */
static void test_o9_fineres(void) {
    float img4[4] = {1, 2, 3, 4};
    mx_frame in4 = {2, 2, img4, NULL, NULL};
    mx_resample_opts o = opts(1);
    o.fineres = 2;
    affine A;
    result r;
    mx_map m = affine_map(&A, 2, 0, 0.5, 0.5); /* output = the fine grid */
    MXT_OK(run(&o, &in4, &m, (mx_box){0, 0, 4, 4}, &r));
    MXT_NEAR(at(r.img, &r, 1, 1), 1.75, 1e-15); /* sub-pixel centred at (0.25, 0.25) */
    MXT_NEAR(at(r.img, &r, 2, 2), 1 + 0.75 + 2 * 0.75, 1e-15);
    /* corner sub-pixel: out-of-frame neighbours dropped -> the pixel value */
    MXT_NEAR(at(r.img, &r, 0, 0), 1.0, 1e-15);
    MXT_NEAR(at(r.cov, &r, 0, 0), 1.0, 1e-15);
    result_free(&r);
    /* constant image stays constant with any shift and FINERES 3 */
    float c[36];
    for (int k = 0; k < 36; k++) c[k] = 2.5f;
    mx_frame inc = {6, 6, c, NULL, NULL};
    o.fineres = 3;
    m = affine_map(&A, 1.7, 20, 0.3, 0.9);
    mx_box b = box_around(&m, 6, 6, 1);
    MXT_OK(run(&o, &inc, &m, b, &r));
    double worst = 0, tot = 0;
    for (long k = 0; k < b.w * b.h; k++)
        if (r.cov[k] > 0) worst = fmax(worst, fabs(r.img[k] - 2.5)), tot += r.img[k] * r.cov[k];
    MXT_TRUE(worst < 1e-14);
    MXT_NEAR(tot / (1.7 * 1.7), 36 * 2.5, 1e-10);
    result_free(&r);
    /* a bad pixel removes the sub-pixels it contributes to (half a pixel around) */
    uint8_t bad[36] = {0};
    bad[2 * 6 + 2] = 1;
    inc.bad = bad;
    o.fineres = 2;
    m = affine_map(&A, 2, 0, 0.5, 0.5);
    MXT_OK(run(&o, &inc, &m, (mx_box){0, 0, 12, 12}, &r));
    int nbad = 0;
    for (int k = 0; k < 144; k++) nbad += r.cov[k] == 0;
    MXT_EQ_INT(nbad, 16); /* fine pixels 3..6 in x and y */
    MXT_NEAR(at(r.cov, &r, 3, 3), 0.0, 0);
    MXT_NEAR(at(r.cov, &r, 2, 3), 1.0, 0);
    result_free(&r);
}

/* ---- O-10 drizzle, O-11 grid ------------------------------------------------- */
static void test_o10_o11(void) {
    float g[36];
    for (int j = 0; j < 6; j++)
        for (int i = 0; i < 6; i++) g[j * 6 + i] = (float)(i + 10 * j);
    mx_frame in = {6, 6, g, NULL, NULL};
    affine A;
    result r;
    mx_resample_opts o = opts(2);
    o.driz_fac = 0.5;
    mx_map m = affine_map(&A, 1, 0, 0, 0);
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 6, 6}, &r));
    MXT_NEAR(at(r.img, &r, 2, 2), 22, 1e-13);
    MXT_NEAR(at(r.img, &r, 3, 3), 33, 1e-13);
    MXT_NEAR(at(r.cov, &r, 3, 3), 0.25, 1e-15);
    result_free(&r);
    m = affine_map(&A, 1, 0, 0.5, 0.5);
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 7, 7}, &r));
    MXT_NEAR(at(r.img, &r, 3, 3), 27.5, 1e-13);
    MXT_NEAR(at(r.cov, &r, 3, 3), 0.25, 1e-15);
    result_free(&r);
    o.driz_fac = 1.0;
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 7, 7}, &r));
    MXT_NEAR(at(r.img, &r, 3, 3), 27.5, 1e-13);
    MXT_NEAR(at(r.cov, &r, 3, 3), 1.0, 1e-15);
    MXT_NEAR(at(r.cov, &r, 0, 0), 0.25, 1e-15);
    /* drizzle with f = 1 and no distortion equals the default method */
    result r1;
    mx_resample_opts o1 = opts(1);
    MXT_OK(run(&o1, &in, &m, (mx_box){0, 0, 7, 7}, &r1));
    double worst = 0;
    for (int k = 0; k < 49; k++) worst = fmax(worst, fabs(r.img[k] - r1.img[k]) + fabs(r.cov[k] - r1.cov[k]));
    MXT_TRUE(worst < 1e-13);
    result_free(&r1);
    result_free(&r);
    /* drizzle conserves flux: sum O cov = sum I f^2 (output pixels = input pixels) */
    o.driz_fac = 0.6;
    m = affine_map(&A, 1.3, 33, 2, 1);
    mx_box b = box_around(&m, 6, 6, 1);
    MXT_OK(run(&o, &in, &m, b, &r));
    double s = 0;
    for (long k = 0; k < b.w * b.h; k++)
        if (r.cov[k] > 0) s += r.img[k] * r.cov[k];
    MXT_NEAR(s, 0.36 * 1.3 * 1.3 * 990, 1e-10); /* sum of i + 10 j over 6x6 = 990 */
    result_free(&r);

    mx_resample_opts og = opts(3);
    og.grid_ratio = 2;
    m = affine_map(&A, 1, 0, 0, 0);
    MXT_OK(run(&og, &in, &m, (mx_box){0, 0, 6, 6}, &r));
    MXT_NEAR(at(r.img, &r, 3, 3), 33, 1e-13);
    MXT_NEAR(at(r.cov, &r, 3, 3), 1.0, 1e-15);
    result_free(&r);
    m = affine_map(&A, 1, 0, 0.5, 0.5);
    MXT_OK(run(&og, &in, &m, (mx_box){0, 0, 7, 7}, &r));
    MXT_NEAR(at(r.img, &r, 3, 3), 27.5, 1e-13);
    MXT_NEAR(at(r.cov, &r, 3, 3), 1.0, 1e-15);
    result_free(&r);
    og.grid_ratio = 1;
    m = affine_map(&A, 1, 0, 0.5, 0);
    MXT_OK(run(&og, &in, &m, (mx_box){0, 0, 7, 6}, &r));
    MXT_NEAR(at(r.img, &r, 3, 3), 32, 0); /* tie to the higher index */
    MXT_NEAR(at(r.cov, &r, 0, 3), 0.0, 0);
    MXT_TRUE(isnan(at(r.img, &r, 0, 3)));
    result_free(&r);
    /* 2x finer output, G = 4: each output pixel gets 4 points of one input
     * pixel -> coverage 4 x (1/16 x 4) = 1 */
    og.grid_ratio = 4;
    m = affine_map(&A, 2, 0, 0.5, 0.5);
    MXT_OK(run(&og, &in, &m, (mx_box){0, 0, 12, 12}, &r));
    MXT_NEAR(at(r.img, &r, 5, 7), 2 + 30, 0);
    MXT_NEAR(at(r.cov, &r, 5, 7), 1.0, 1e-15);
    result_free(&r);
}

/* ---- O-12 bicubic ---------------------------------------------------------- */
static void test_o12_cubic(void) {
    MXT_NEAR(mx_keys_kernel(0, -0.5), 1, 0);
    MXT_NEAR(mx_keys_kernel(1, -0.5), 0, 0);
    MXT_NEAR(mx_keys_kernel(2, -0.5), 0, 0);
    MXT_NEAR(mx_keys_kernel(0.5, -0.5), 0.5625, 1e-15);
    MXT_NEAR(mx_keys_kernel(-1.5, -0.5), -0.0625, 1e-15);
    /* h'(1) = -0.5 from both sides */
    double e = 1e-7;
    MXT_NEAR((mx_keys_kernel(1, -0.5) - mx_keys_kernel(1 - e, -0.5)) / e, -0.5, 1e-6);
    MXT_NEAR((mx_keys_kernel(1 + e, -0.5) - mx_keys_kernel(1, -0.5)) / e, -0.5, 1e-6);
    const double t25[4] = {-0.0703125, 0.8671875, 0.2265625, -0.0234375};
    for (int k = 0; k < 4; k++) MXT_NEAR(mx_keys_kernel(0.25 - (k - 1), -0.5), t25[k], 1e-15);
    /* reproduction of x, x^2 and x + 10 y at offset 0.5 (taps -1..2 around 0) */
    float fx[64], fx2[64], fxy[64];
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 8; i++) {
            fx[j * 8 + i] = (float)(i - 3);
            fx2[j * 8 + i] = (float)((i - 3) * (i - 3));
            fxy[j * 8 + i] = (float)((i - 3) + 10 * (j - 3));
        }
    mx_resample_opts o = opts(4);
    affine A;
    result r;
    mx_map m = affine_map(&A, 1, 0, -3.5, -3.5); /* output (0,0) at input (3.5, 3.5) */
    mx_frame in = {8, 8, fx, NULL, NULL};
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 1, 1}, &r));
    MXT_NEAR(r.img[0], 0.5, 1e-15);
    MXT_NEAR(r.cov[0], 1.0, 1e-15);
    result_free(&r);
    in.image = fx2;
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 1, 1}, &r));
    MXT_NEAR(r.img[0], 0.25, 1e-15);
    result_free(&r);
    in.image = fxy;
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 1, 1}, &r));
    MXT_NEAR(r.img[0], 5.5, 1e-14);
    result_free(&r);
    /* a bad far tap: renormalised over the other 15 */
    uint8_t bad[64] = {0};
    bad[2 * 8 + 2] = 1; /* tap (-1,-1) relative: weight 0.0625^2 */
    in.bad = bad;
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 1, 1}, &r));
    double w = 0.0625 * 0.0625;
    MXT_NEAR(r.cov[0], 1 - w, 1e-15);
    MXT_NEAR(r.img[0], (5.5 - w * (-1 + 10 * -1)) / (1 - w), 1e-13);
    result_free(&r);
    /* the nearest pixel bad -> NaN, coverage 0 */
    memset(bad, 0, sizeof bad);
    bad[4 * 8 + 4] = 1; /* nearest to (3.5, 3.5) is (4, 4): tie goes up */
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 1, 1}, &r));
    MXT_TRUE(isnan(r.img[0]));
    MXT_NEAR(r.cov[0], 0, 0);
    result_free(&r);
    /* ALPHA enters: a = -0.75 gives h(0.5) = 0.59375 */
    MXT_NEAR(mx_keys_kernel(0.5, -0.75), 0.59375, 1e-15);
}

/* ---- sigma, counts, options --------------------------------------------------- */
static void test_sigma_counts_options(void) {
    float img[16], sig[16];
    for (int k = 0; k < 16; k++) img[k] = (float)(k + 1), sig[k] = (float)(0.5 + k);
    mx_frame in = {4, 4, img, sig, NULL};
    mx_resample_opts o = opts(1);
    affine A;
    result r;
    mx_map m = affine_map(&A, 1, 0, -0.3, -0.3);
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 4, 4}, &r));
    /* sigma: same weights as the data */
    MXT_NEAR(at(r.sig, &r, 1, 1), 0.49 * 5.5 + 0.21 * 6.5 + 0.21 * 9.5 + 0.09 * 10.5, 1e-14);
    result_free(&r);
    /* a non-positive sigma makes the pixel unusable */
    sig[5] = 0;
    MXT_OK(run(&o, &in, &m, (mx_box){0, 0, 4, 4}, &r));
    MXT_NEAR(at(r.cov, &r, 1, 1), 0.51, 1e-15);
    result_free(&r);
    sig[5] = 5.5f;
    /* counts: 2x finer output -> each output pixel holds a quarter of the counts */
    float c[16];
    for (int k = 0; k < 16; k++) c[k] = 8;
    mx_frame inc = {4, 4, c, NULL, NULL};
    o.counts = 1;
    m = affine_map(&A, 2, 0, 0.5, 0.5);
    MXT_OK(run(&o, &inc, &m, (mx_box){0, 0, 8, 8}, &r));
    MXT_NEAR(at(r.img, &r, 3, 3), 2.0, 1e-15);
    result_free(&r);
    for (int meth = 2; meth <= 4; meth++) {
        mx_resample_opts oc = opts(meth);
        oc.counts = 1;
        MXT_OK(run(&oc, &inc, &m, (mx_box){0, 0, 8, 8}, &r));
        MXT_NEAR(at(r.img, &r, 3, 3), 2.0, 1e-14);
        result_free(&r);
    }
    /* option checks name the parameter */
    mx_box b = {0, 0, 4, 4};
    float fo[16], fc[16];
    mx_resample_out out = {fo, fc, NULL, NULL, NULL, NULL};
    mx_resample_opts bad = opts(7);
    MXT_FAILS(mx_resample(&bad, &in, &m, &b, &out), MX_ERR_PARAM, "INTERP_METHOD");
    bad = opts(2), bad.driz_fac = 0;
    MXT_FAILS(mx_resample(&bad, &in, &m, &b, &out), MX_ERR_PARAM, "DRIZ_FAC");
    bad = opts(3), bad.grid_ratio = 0;
    MXT_FAILS(mx_resample(&bad, &in, &m, &b, &out), MX_ERR_PARAM, "GRID_RATIO");
    bad = opts(1), bad.fineres = -1;
    MXT_FAILS(mx_resample(&bad, &in, &m, &b, &out), MX_ERR_PARAM, "FINERES");
    bad = opts(4), bad.alpha = NAN;
    MXT_FAILS(mx_resample(&bad, &in, &m, &b, &out), MX_ERR_PARAM, "ALPHA");
    mx_resample_out none = {NULL, fc, NULL, NULL, NULL, NULL};
    MXT_FAILS(mx_resample(&o, &in, &m, &b, &none), MX_ERR_PARAM, "image");
    /* a frame that misses the box: all NaN, coverage 0 */
    mx_box far = {1000, 1000, 4, 4};
    mx_resample_opts od = opts(1);
    MXT_OK(mx_resample(&od, &in, &m, &far, &out));
    MXT_TRUE(isnan(fo[0]) && fc[15] == 0);
}

/* ---- O-20 label projection and RMask back-projection ---------------------- */
static void test_o20(void) {
    int32_t det[4] = {7, 0, 0, 0};
    affine A;
    mx_map m = affine_map(&A, 1, 0, -0.5, -0.5);
    float out[9];
    mx_box b = {0, 0, 3, 3};
    MXT_OK(mx_project_labels(det, 2, 2, &m, &b, out));
    MXT_NEAR(out[0], 7, 0);       /* centred on (0.5, 0.5) */
    MXT_NEAR(out[1 * 3 + 1], 0, 0); /* (1.5, 1.5): only pixel (1,1) = 0 */
    MXT_TRUE(isnan(out[2 * 3 + 2])); /* (2.5, 2.5): nothing */
    /* two clusters: the larger overlap wins; equal overlaps -> smaller number */
    int32_t two[4] = {5, 3, 0, 0};
    m = affine_map(&A, 1, 0, -0.3, -0.5); /* output (0,0) centred at (0.3, 0.5) */
    MXT_OK(mx_project_labels(two, 2, 2, &m, &b, out));
    MXT_NEAR(out[0], 5, 0); /* 0.35 of cluster 5 vs 0.15 of cluster 3 */
    m = affine_map(&A, 1, 0, -0.5, -0.5);
    MXT_OK(mx_project_labels(two, 2, 2, &m, &b, out));
    MXT_NEAR(out[0], 3, 0); /* 0.25 each */

    /* RMask: 2x finer aligned output grid */
    m = affine_map(&A, 2, 0, 0.5, 0.5);
    uint8_t flags[64] = {0};
    mx_box b8 = {0, 0, 8, 8};
    float frac[16];
    flags[2 * 8 + 2] = 1; /* one of the four sub-pixels of input (1,1) */
    MXT_OK(mx_backproject_flags(flags, &b8, &m, 4, 4, frac));
    MXT_NEAR(frac[1 * 4 + 1], 0.25, 0);
    MXT_NEAR(frac[0], 0.0, 0);
    flags[2 * 8 + 3] = 1;
    MXT_OK(mx_backproject_flags(flags, &b8, &m, 4, 4, frac));
    MXT_NEAR(frac[1 * 4 + 1], 0.5, 0);
    flags[3 * 8 + 2] = flags[3 * 8 + 3] = 1;
    MXT_OK(mx_backproject_flags(flags, &b8, &m, 4, 4, frac));
    MXT_NEAR(frac[1 * 4 + 1], 1.0, 0);
    double s = 0;
    for (int k = 0; k < 16; k++) s += frac[k];
    MXT_NEAR(s, 1.0, 0);
    /* a flagged output pixel straddling four input pixels (same size, shift 0.5) */
    m = affine_map(&A, 1, 0, -0.5, -0.5);
    uint8_t f1[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0};
    MXT_OK(mx_backproject_flags(f1, &b, &m, 4, 4, frac));
    MXT_NEAR(frac[0] + frac[1] + frac[4] + frac[5], 1.0, 1e-15);
    MXT_NEAR(frac[5], 0.25, 1e-15);
}

/* ---- reentrancy: frames in parallel give the serial bits ----------------- */
typedef struct {
    const mx_frame *in;
    const mx_wcs *win, *wout; /* NULL: affine maps */
    affine A[4];
    mx_box box[4];
    double *img[4], *cov[4];
} par_ctx;

static int par_item(long i, void *ctx, int thread) {
    par_ctx *c = ctx;
    mx_resample_opts o = opts((int)(i % 4) + 1);
    mx_resample_out out = {NULL, NULL, NULL, c->img[i], c->cov[i], NULL};
    if (!c->win) {
        mx_map m = {aff_fwd, aff_inv, &c->A[i], NULL};
        return mx_resample(&o, c->in, &m, &c->box[i], &out);
    }
    mx_pixmap *pm = NULL; /* one pixmap per item: private WCS copies */
    int st = mx_pixmap_new(c->win, c->wout, 0, &pm);
    if (st == MX_OK) {
        mx_map m = mx_pixmap_map(pm);
        st = mx_resample(&o, c->in, &m, &c->box[i], &out);
    }
    mx_pixmap_free(pm);
    return st;
}

/* Run the 4 methods serially and on 4 threads; the results must be identical. */
static void check_parallel(par_ctx *c) {
    double *serial[4][2];
    for (int i = 0; i < 4; i++) {
        size_t n = (size_t)c->box[i].w * (size_t)c->box[i].h;
        c->img[i] = malloc(n * sizeof(double));
        c->cov[i] = malloc(n * sizeof(double));
        serial[i][0] = malloc(n * sizeof(double));
        serial[i][1] = malloc(n * sizeof(double));
    }
    MXT_OK(mx_parallel_for_n(4, 1, par_item, c));
    for (int i = 0; i < 4; i++) {
        size_t n = (size_t)c->box[i].w * (size_t)c->box[i].h;
        memcpy(serial[i][0], c->img[i], n * sizeof(double));
        memcpy(serial[i][1], c->cov[i], n * sizeof(double));
        for (size_t k = 0; k < n; k++) c->img[i][k] = c->cov[i][k] = -1;
    }
    MXT_OK(mx_parallel_for_n(4, 4, par_item, c));
    for (int i = 0; i < 4; i++) {
        size_t n = (size_t)c->box[i].w * (size_t)c->box[i].h;
        MXT_TRUE(memcmp(serial[i][0], c->img[i], n * sizeof(double)) == 0);
        MXT_TRUE(memcmp(serial[i][1], c->cov[i], n * sizeof(double)) == 0);
        free(serial[i][0]), free(serial[i][1]), free(c->img[i]), free(c->cov[i]);
    }
}

static void test_parallel_affine(void) {
    float img[20 * 15];
    for (int k = 0; k < 300; k++) img[k] = (float)((k * 37) % 101);
    mx_frame in = {20, 15, img, NULL, NULL};
    par_ctx c;
    memset(&c, 0, sizeof c);
    c.in = &in;
    for (int i = 0; i < 4; i++) {
        mx_map m = affine_map(&c.A[i], 1.3 + 0.2 * i, 17.0 * i, 3.0 + i, -2.0);
        c.box[i] = box_around(&m, 20, 15, 1);
    }
    check_parallel(&c);
}

/* ---- a real IRAC TAN-SIP frame onto a 0.6" TAN grid ------------------------ */
static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine may be busy */
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/* 1-minute load average per online CPU (0 when unknown). */

static void test_real_sip_frame(void) {
    const char *dir = mxt_data_dir();
    if (!dir) {
        fprintf(stderr, "  real frame: MOPEX_TEST_DATA not set, skipped\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path,
             "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits", dir);
    mx_image *img = NULL;
    if (mx_image_read(path, &img) != MX_OK) {
        fprintf(stderr, "  real frame: %s (skipped)\n", mx_errmsg());
        return;
    }
    mx_wcs *in = NULL, *out = NULL;
    MXT_OK(mx_wcs_from_header(img->hdr, path, &in));
    double cv[2], cp[2];
    mx_wcs_reference(in, cv, cp);
    /* north up: the frame (PA -76.75) sits rotated in the grid */
    const long NX = 900, NY = 900;
    const double crval[2] = {cv[0] + 0.01, cv[1] + 0.005}, crpix[2] = {450.5, 450.5};
    const double cdelt[2] = {-0.6 / 3600, 0.6 / 3600};
    MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cdelt, 0.0, 2000, &out));
    if (!in || !out) goto exit;
    mx_frame fr = {img->nx, img->ny, img->data, NULL, NULL};
    mx_resample_opts o = opts(1);
    result r;
    memset(&r, 0, sizeof r);
    /* best of 5 in thread CPU time: the machine may be busy */
    double best = 1e30;
    mx_box box = {0, 0, 0, 0};
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ms();
        mx_pixmap *pm = NULL;
        MXT_OK(mx_pixmap_new(in, out, 0, &pm));
        mx_map m = mx_pixmap_map(pm);
        MXT_OK(mx_map_footprint_box(&m, img->nx, img->ny, NX, NY, &box));
        if (rep) result_free(&r);
        MXT_OK(run(&o, &fr, &m, box, &r));
        best = fmin(best, now_ms() - t0);
        MXT_EQ_INT(mx_pixmap_is_fast(pm), 1);
        mx_pixmap_free(pm);
    }
    fprintf(stderr, "  default method, 256x256 SIP frame 1.22\" -> 0.6\" (box %ld x %ld): "
            "%.1f ms single-threaded incl. mapping\n", box.w, box.h, best);
    /* Speed is measured by bench/, never asserted by a unit test (timings
     * depend on the machine's load); the time is printed for information. */

    /* Flux. O_j cov_j area(Q_j) = sum_i a_ji I_i and sum_j a_ji = 1 for every
     * input pixel inside the box, so sum_j O_j cov_j area(Q_j) = sum_i I_i
     * (usable i), area(Q_j) = output pixel area in input pixels. With solid
     * angles, area(Q_j) = Omega_out,j / Omega_in to first order across one
     * output pixel: sum_j O_j cov_j Omega_out,j = sum_i I_i Omega_in,i up to
     * the variation of the distortion within a pixel. */
    mx_pixmap *pm = NULL;
    MXT_OK(mx_pixmap_new(in, out, 0, &pm));
    mx_map m = mx_pixmap_map(pm);
    size_t np = (size_t)(box.w + 1) * (size_t)(box.h + 1);
    double *lx = malloc(np * sizeof *lx), *ly = malloc(np * sizeof *ly);
    MXT_OK(mx_map_corners(&m, MX_MAP_INV, box.x0, box.y0, box.w, box.h, lx, ly));
    double sum_in = 0, sum_in_sa = 0, sum_out = 0, sum_out_sa = 0;
    for (long j = 0; j < img->ny; j++)
        for (long i = 0; i < img->nx; i++) {
            double v = MX_PIX(img, i, j), a;
            if (!isfinite(v)) continue;
            MXT_OK(mx_wcs_pixel_area(in, (double)i, (double)j, &a));
            sum_in += v;
            sum_in_sa += v * a;
        }
    long ncov = 0;
    for (long q = 0; q < box.h; q++)
        for (long p = 0; p < box.w; p++) {
            size_t k = (size_t)q * (size_t)box.w + (size_t)p;
            if (!(r.cov[k] > 0)) continue;
            ncov++;
            size_t c0 = (size_t)q * (size_t)(box.w + 1) + (size_t)p, c1 = c0 + (size_t)box.w + 1;
            mx_vec2 Q[4] = {{lx[c0], ly[c0]}, {lx[c0 + 1], ly[c0 + 1]}, {lx[c1 + 1], ly[c1 + 1]},
                            {lx[c1], ly[c1]}};
            double a;
            MXT_OK(mx_wcs_pixel_area(out, (double)(box.x0 + p), (double)(box.y0 + q), &a));
            sum_out += r.img[k] * r.cov[k] * mx_poly_area(Q, 4);
            sum_out_sa += r.img[k] * r.cov[k] * a;
        }
    fprintf(stderr, "  flux: input-pixel units rel. diff %.2e, solid angle rel. diff %.2e "
            "(%ld covered output pixels)\n", sum_out / sum_in - 1, sum_out_sa / sum_in_sa - 1, ncov);
    MXT_NEAR(sum_out / sum_in, 1.0, 1e-12);
    MXT_NEAR(sum_out_sa / sum_in_sa, 1.0, 1e-6);
    free(lx);
    free(ly);

    /* The other methods on the same frame: timing, and the same flux for drizzle. */
    const char *names[4] = {"default", "drizzle", "grid", "cubic"};
    for (int meth = 2; meth <= 4; meth++) {
        mx_resample_opts om = opts(meth);
        result rm;
        double t0 = now_ms();
        MXT_OK(run(&om, &fr, &m, box, &rm));
        double dt = now_ms() - t0;
        double s = 0;
        for (long k = 0; k < box.w * box.h; k++)
            if (rm.cov[k] > 0) s += rm.img[k] * rm.cov[k];
        /* drizzle f = 1: sum O cov (output pixels) = sum_i I_i |P_i| (output pixels) */
        fprintf(stderr, "  %s: %.1f ms, sum O cov = %.6g\n", names[meth - 1], dt, s);
        result_free(&rm);
    }
    mx_pixmap_free(pm);
    result_free(&r);
    /* the four methods on four threads, each with its own pixmap */
    par_ctx pc;
    memset(&pc, 0, sizeof pc);
    pc.in = &fr;
    pc.win = in;
    pc.wout = out;
    for (int i = 0; i < 4; i++) pc.box[i] = box;
    check_parallel(&pc);
exit:
    mx_wcs_free(in);
    mx_wcs_free(out);
    mx_image_free(img);
}

int main(void) {
    MXT_RUN(test_o8_constant);
    MXT_RUN(test_o8_small_images);
    MXT_RUN(test_o8_rotated);
    MXT_RUN(test_o9_fineres);
    MXT_RUN(test_o10_o11);
    MXT_RUN(test_o12_cubic);
    MXT_RUN(test_sigma_counts_options);
    MXT_RUN(test_o20);
    MXT_RUN(test_parallel_affine);
    MXT_RUN(test_real_sip_frame);
    return mxt_summary();
}
