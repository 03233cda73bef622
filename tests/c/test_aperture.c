/* test_aperture.c - exact aperture photometry (mx_aperture.h) against hand
 * computations and the circle/pixel oracle O-15 (algorithms_oracles.py). */
#include "mxtest.h"
#include "mopex/mx_aperture.h"

#define NX 41
#define NY 41

static float img[NX * NY];
static int32_t msk[NX * NY];

static void fill(float v) {
    for (int k = 0; k < NX * NY; k++) img[k] = v;
}

static mx_aperture_opts opts(double r) {
    mx_aperture_opts o = {0};
    o.radius = r;
    return o;
}

/* A constant image: the sum is value x pi r^2 (the overlaps tile the disc
 * exactly), for any centre inside the image. */
static void test_constant(void) {
    fill(2.0f);
    mx_aperture_opts o = opts(5.0);
    mx_aperture_result r;
    const double xs[] = {20.0, 20.5, 19.73, 20.25};
    const double ys[] = {20.0, 20.5, 21.11, 19.6};
    for (int t = 0; t < 4; t++) {
        MXT_OK(mx_aperture(img, NX, NY, xs[t], ys[t], &o, &r));
        MXT_NEAR(r.area, M_PI * 25.0, 1e-11);
        MXT_NEAR(r.sum, 2.0 * M_PI * 25.0, 1e-10);
        MXT_NEAR(r.area_out, 0.0, 1e-11);
        MXT_EQ_INT(r.flags, 0);
        MXT_EQ_INT(r.nbad, 0);
    }
}

/* O-15: r = 1 centred on a pixel: the pixel itself weighs 1, an edge
 * neighbour 0.456611477491, a corner neighbour 0.078786685907. */
static void test_oracle_o15(void) {
    mx_aperture_opts o = opts(1.0);
    mx_aperture_result r;
    fill(0.0f);
    img[10 * NX + 11] = 1.0f; /* edge neighbour of (10, 10) */
    MXT_OK(mx_aperture(img, NX, NY, 10.0, 10.0, &o, &r));
    MXT_NEAR(r.sum, 0.456611477491, 1e-11);
    fill(0.0f);
    img[11 * NX + 11] = 1.0f; /* corner neighbour */
    MXT_OK(mx_aperture(img, NX, NY, 10.0, 10.0, &o, &r));
    MXT_NEAR(r.sum, 0.078786685907, 1e-11);
    fill(0.0f);
    img[10 * NX + 10] = 1.0f;
    MXT_OK(mx_aperture(img, NX, NY, 10.0, 10.0, &o, &r));
    MXT_NEAR(r.sum, 1.0, 1e-14);
    MXT_NEAR(r.area, M_PI, 1e-12);
}

/* NaN pixels and fatal mask bits are bad: their overlap goes to area_bad. */
static void test_bad_pixels(void) {
    fill(1.0f);
    img[20 * NX + 20] = NAN;
    mx_aperture_opts o = opts(4.0);
    mx_aperture_result r;
    MXT_OK(mx_aperture(img, NX, NY, 20.0, 20.0, &o, &r));
    MXT_EQ_INT(r.nbad, 1);
    MXT_NEAR(r.area_bad, 1.0, 1e-14);
    MXT_NEAR(r.area, M_PI * 16.0 - 1.0, 1e-11);
    MXT_NEAR(r.sum, M_PI * 16.0 - 1.0, 1e-10);
    MXT_TRUE(r.flags & MX_APER_BAD);

    fill(1.0f);
    memset(msk, 0, sizeof msk);
    msk[20 * NX + 21] = 8;     /* bit 3: fatal below */
    msk[19 * NX + 20] = 16;    /* bit 4: not fatal */
    o.mask = msk;
    o.mask_fatal = 8;
    MXT_OK(mx_aperture(img, NX, NY, 20.0, 20.0, &o, &r));
    MXT_EQ_INT(r.nbad, 1);
    MXT_NEAR(r.sum, M_PI * 16.0 - 1.0, 1e-10);
    o.mask_fatal = 8 | 16;
    MXT_OK(mx_aperture(img, NX, NY, 20.0, 20.0, &o, &r));
    MXT_EQ_INT(r.nbad, 2);
    MXT_NEAR(r.area_bad, 2.0, 1e-14);
}

/* The part of the disc beyond the image is reported, not summed. Centred on
 * the corner pixel (0, 0) with r = 2: the image holds the disc's part with
 * x > -0.5 and y > -0.5. By symmetry that is pi r^2 / 4 plus two strips of
 * the half-disc of width 0.5, plus the 0.5 x 0.5 corner square:
 * pi r^2/4 + 2 * A_strip + 0.25 with A_strip = integral_0^0.5 sqrt(r^2-t^2)
 * dt... computed here through mx_circle_rect_area as an independent path
 * (one rectangle instead of per-pixel sums). */
static void test_edge(void) {
    fill(1.0f);
    mx_aperture_opts o = opts(2.0);
    mx_aperture_result r;
    MXT_OK(mx_aperture(img, NX, NY, 0.0, 0.0, &o, &r));
    double inside = mx_circle_rect_area(2.0, -0.5, NX - 0.5, -0.5, NY - 0.5);
    /* closed form: quarter disc + 2 strips 0 < t < 0.5 + corner square */
    double strip = 0.5 * (0.5 * sqrt(4.0 - 0.25) + 4.0 * asin(0.25));
    MXT_NEAR(inside, M_PI + 2.0 * strip + 0.25, 1e-12);
    MXT_NEAR(r.area, inside, 1e-11);
    MXT_NEAR(r.area_out, 4.0 * M_PI - inside, 1e-11);
    MXT_TRUE(r.flags & MX_APER_EDGE);
    /* entirely off the image: nothing, no error */
    MXT_OK(mx_aperture(img, NX, NY, -100.0, 3.0, &o, &r));
    MXT_NEAR(r.area, 0.0, 0.0);
    MXT_NEAR(r.area_out, 4.0 * M_PI, 1e-12);
    MXT_TRUE(r.flags & MX_APER_EDGE);
    MXT_OK(mx_aperture(img, NX, NY, 1e300, -1e300, &o, &r));
    MXT_NEAR(r.sum, 0.0, 0.0);
}

/* Background: the median of the annulus pixels is removed per unit of good
 * aperture area. A delta of 100 on a sky of 3 gives exactly 100. */
static void test_background(void) {
    fill(3.0f);
    img[20 * NX + 20] = 103.0f;
    mx_aperture_opts o = opts(3.0);
    o.annulus_in = 8.0;
    o.annulus_out = 14.0;
    mx_aperture_result r;
    MXT_OK(mx_aperture(img, NX, NY, 20.0, 20.0, &o, &r));
    MXT_NEAR(r.background, 3.0, 0.0);
    MXT_NEAR(r.sum, 100.0, 1e-9);
    MXT_NEAR(r.sum_raw, 100.0 + 3.0 * 9.0 * M_PI, 1e-9);
    long count = 0;
    for (int j = 0; j < NY; j++)
        for (int i = 0; i < NX; i++) {
            double d2 = (i - 20.0) * (i - 20.0) + (j - 20.0) * (j - 20.0);
            if (d2 >= 64.0 && d2 < 196.0) count++;
        }
    MXT_EQ_INT(r.nbackground, count);

    /* Even count: the average of the two middle values. Annulus 1 <= d < 1.5
     * around (5, 5) holds the 8 neighbours; values 1..8 -> 4.5. NaN and
     * masked annulus pixels are left out: masking the 8 leaves 1..7 -> 4. */
    fill(0.0f);
    const int nb[8][2] = {{4, 5}, {6, 5}, {5, 4}, {5, 6}, {4, 4}, {6, 6}, {4, 6}, {6, 4}};
    for (int k = 0; k < 8; k++) img[nb[k][1] * NX + nb[k][0]] = (float)(k + 1);
    o = opts(0.5);
    o.annulus_in = 1.0;
    o.annulus_out = 1.5;
    MXT_OK(mx_aperture(img, NX, NY, 5.0, 5.0, &o, &r));
    MXT_EQ_INT(r.nbackground, 8);
    MXT_NEAR(r.background, 4.5, 0.0);
    memset(msk, 0, sizeof msk);
    msk[nb[7][1] * NX + nb[7][0]] = 1;
    o.mask = msk;
    o.mask_fatal = 1;
    MXT_OK(mx_aperture(img, NX, NY, 5.0, 5.0, &o, &r));
    MXT_EQ_INT(r.nbackground, 7);
    MXT_NEAR(r.background, 4.0, 0.0);
    /* an annulus with no good pixel */
    for (int k = 0; k < 8; k++) img[nb[k][1] * NX + nb[k][0]] = NAN;
    o.mask = NULL;
    MXT_OK(mx_aperture(img, NX, NY, 5.0, 5.0, &o, &r));
    MXT_EQ_INT(r.nbackground, 0);
    MXT_NEAR(r.background, 0.0, 0.0);
    MXT_TRUE(r.flags & MX_APER_NOBKG);
}

/* A pixel-integrated circular Gaussian off the pixel grid: over a disc of
 * 5 sigma the exact-overlap sum is the flux F (1 - exp(-R^2 / 2 s^2)) up to
 * the pixelisation of the few boundary pixels, where the profile is ~1e-5
 * of the peak: agreement to 1e-4 relative. */
static void test_gaussian(void) {
    const double s = 2.0, F = 1000.0, xc = 20.3, yc = 19.8;
    for (int j = 0; j < NY; j++)
        for (int i = 0; i < NX; i++) {
            /* pixel integral of the Gaussian: product of erf differences */
            double ex = erf((i + 0.5 - xc) / (s * M_SQRT2)) - erf((i - 0.5 - xc) / (s * M_SQRT2));
            double ey = erf((j + 0.5 - yc) / (s * M_SQRT2)) - erf((j - 0.5 - yc) / (s * M_SQRT2));
            img[j * NX + i] = (float)(F * 0.25 * ex * ey);
        }
    mx_aperture_opts o = opts(10.0);
    mx_aperture_result r;
    MXT_OK(mx_aperture(img, NX, NY, xc, yc, &o, &r));
    double truth = F * (1.0 - exp(-100.0 / (2.0 * s * s)));
    MXT_NEAR(r.sum / truth, 1.0, 1e-4);
}

static void test_errors(void) {
    fill(1.0f);
    mx_aperture_opts o = opts(0.0);
    mx_aperture_result r;
    MXT_FAILS(mx_aperture(img, NX, NY, 5, 5, &o, &r), MX_ERR_PARAM, "radius must be > 0");
    o = opts(2.0);
    o.annulus_in = 5;
    o.annulus_out = 4;
    MXT_FAILS(mx_aperture(img, NX, NY, 5, 5, &o, &r), MX_ERR_PARAM, "annulus needs");
    o = opts(2.0);
    MXT_FAILS(mx_aperture(img, NX, NY, NAN, 5, &o, &r), MX_ERR_PARAM, "not finite");
    MXT_FAILS(mx_aperture(img, 0, NY, 5, 5, &o, &r), MX_ERR_PARAM, "no image");
}

int main(void) {
    MXT_RUN(test_constant);
    MXT_RUN(test_oracle_o15);
    MXT_RUN(test_bad_pixels);
    MXT_RUN(test_edge);
    MXT_RUN(test_background);
    MXT_RUN(test_gaussian);
    MXT_RUN(test_errors);
    return mxt_summary();
}
