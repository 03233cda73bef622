/* test_snest.c - the S/N Estimator (mx_snest.h).
 *
 * Hand numbers (python3, math.sqrt in double):
 *   Gain 66.8, Read_Noise 8.8: I = 100 -> 1.2305935561978922, I = 0 or < 0 ->
 *   8.8/66.8 = 0.1317365269461078, I = 2.5 -> 0.23405055486458773;
 *   with Confusion_Sigma 20, I = 100 -> 1.2664918387747146.
 *   Spitzer ch1 header: 93.6 * 3.7 / 0.1257 = 2755.1312649164674.
 */
#include "mxtest.h"

static void test_kernel(void) {
    mx_snest_opts o = {66.8, 8.8, 0.0};
    float in[6] = {100.0f, 0.0f, -5.0f, 2.5f, NAN, INFINITY}, out[6];
    MXT_OK(mx_snest_sigma(in, out, 6, &o));
    MXT_NEAR(out[0], 1.2305935561978922, 1e-6);
    MXT_NEAR(out[1], 0.1317365269461078, 1e-7);
    MXT_NEAR(out[2], 0.1317365269461078, 1e-7);
    MXT_NEAR(out[3], 0.23405055486458773, 1e-7);
    MXT_TRUE(isnan(out[4]) && isnan(out[5]));
    o.confusion_sigma = 20.0;
    MXT_OK(mx_snest_sigma(in, out, 1, &o));
    MXT_NEAR(out[0], 1.2664918387747146, 1e-6);
    /* in place */
    o.confusion_sigma = 0.0;
    MXT_OK(mx_snest_sigma(in, in, 2, &o));
    MXT_NEAR(in[0], 1.2305935561978922, 1e-6);
    o.gain = 0.0;
    MXT_FAILS(mx_snest_sigma(in, out, 1, &o), MX_ERR_PARAM, "Gain = 0 must be > 0");
    o.gain = -3.0;
    MXT_FAILS(mx_snest_sigma(in, out, 1, &o), MX_ERR_PARAM, "Gain = -3");
    o.gain = 66.8;
    o.read_noise = -1.0;
    MXT_FAILS(mx_snest_sigma(in, out, 1, &o), MX_ERR_PARAM, "Read_Noise = -1");
    o.read_noise = 8.8;
    o.confusion_sigma = NAN;
    MXT_FAILS(mx_snest_sigma(in, out, 1, &o), MX_ERR_PARAM, "Confusion_Sigma");
}

static void test_run_synthetic(void) {
    const char *tmp = mxt_tmp_dir("snest");
    char in[2][4096], out[2][4096];
    const char *ins[2] = {in[0], in[1]}, *outs[2] = {out[0], out[1]};
    for (int k = 0; k < 2; k++) {
        snprintf(in[k], sizeof in[k], "%s/img%d.fits", tmp, k);
        snprintf(out[k], sizeof out[k], "%s/sub/img%d_sigma.fits", tmp, k);
        mx_image *img = NULL;
        MXT_OK(mx_image_new(40, 30, MX_IMG_FLOAT, 0, 0.0f, &img));
        for (long j = 0; j < 30; j++)
            for (long i = 0; i < 40; i++) MX_PIX(img, i, j) = (float)(i - 5) * (k + 1) + 0.25f * (float)j;
        MX_PIX(img, 7, 3) = NAN;
        mx_header_set_string(img->hdr, "BUNIT", "MJy/sr", NULL);
        mx_header_set_double(img->hdr, "CRVAL1", 120.5 + k, NULL);
        mx_header_set_string(img->hdr, "CTYPE1", "RA---TAN", NULL);
        MXT_OK(mx_image_write(img, in[k]));
        mx_image_free(img);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sub", tmp);
    MXT_OK(mx_mkdir_p(dir));
    mx_snest_opts o = {66.8, 8.8, 3.0};
    MXT_OK(mx_snest_run(2, ins, outs, &o));
    for (int k = 0; k < 2; k++) {
        mx_image *s = NULL;
        MXT_OK(mx_image_read(out[k], &s));
        if (!s) continue;
        MXT_EQ_INT(s->nx, 40);
        MXT_EQ_INT(s->ny, 30);
        int bad = 0;
        for (long j = 0; j < 30; j++)
            for (long i = 0; i < 40; i++) {
                double v = (float)((float)(i - 5) * (k + 1) + 0.25f * (float)j);
                double e = sqrt((8.8 * 8.8 + 9.0) / (66.8 * 66.8) + (v > 0 ? v / 66.8 : 0.0));
                if (i == 7 && j == 3) {
                    bad += !isnan(MX_PIX(s, i, j));
                    continue;
                }
                if (fabs(MX_PIX(s, i, j) - e) > 2e-7 * e) bad++;
            }
        MXT_EQ_INT(bad, 0);
        char buf[80];
        double cv;
        MXT_OK(mx_header_get_string(s->hdr, "BUNIT", buf, sizeof buf));
        MXT_EQ_STR(buf, "MJy/sr");
        MXT_OK(mx_header_get_double(s->hdr, "CRVAL1", &cv));
        MXT_NEAR(cv, 120.5 + k, 0);
        MXT_EQ_INT(s->bitpix, -32);
        mx_image_free(s);
    }
    o.gain = 0;
    MXT_FAILS(mx_snest_run(2, ins, outs, &o), MX_ERR_PARAM, "Gain");
    o.gain = 66.8;
    const char *missing[1] = {"/nonexistent/x.fits"};
    MXT_FAILS(mx_snest_run(1, missing, outs, &o), MX_ERR_IO, "/nonexistent/x.fits");
}

static void test_real_frame(void) {
    const char *d = mxt_data_dir();
    if (!d) return;
    char in[4096], out[4096];
    snprintf(in, sizeof in, "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits", d);
    if (!mx_file_exists(in)) return;
    snprintf(out, sizeof out, "%s/real_sigma.fits", mxt_tmp_dir("snest"));
    mx_header *h = NULL;
    double gain, rn;
    MXT_OK(mx_fits_read_header(in, &h, NULL, NULL, NULL));
    MXT_OK(mx_snest_spitzer_gain(h, in, &gain, &rn));
    MXT_NEAR(gain, 2755.1312649164674, 1e-9);
    MXT_NEAR(rn, 21.0, 0);
    mx_header_delete(h, "FLUXCONV");
    MXT_FAILS(mx_snest_spitzer_gain(h, in, &gain, &rn), MX_ERR_NOTFOUND, "FLUXCONV");
    mx_header_free(h);
    gain = 2755.1312649164674;
    mx_snest_opts o = {gain, 21.0, 0.0};
    const char *ins[1] = {in}, *outs[1] = {out};
    MXT_OK(mx_snest_run(1, ins, outs, &o));
    mx_image *a = NULL, *s = NULL;
    MXT_OK(mx_image_read(in, &a));
    MXT_OK(mx_image_read(out, &s));
    if (!a || !s) {
        mx_image_free(a);
        mx_image_free(s);
        return;
    }
    long nan_in = 0, nan_out = 0, bad = 0;
    double maxrel = 0;
    for (long k = 0; k < a->nx * a->ny; k++) {
        double v = a->data[k];
        nan_in += isnan(v);
        nan_out += isnan(s->data[k]);
        if (isnan(v)) continue;
        double e = sqrt(21.0 * 21.0 / (gain * gain) + (v > 0 ? v / gain : 0));
        double r = fabs(s->data[k] - e) / e;
        maxrel = fmax(maxrel, r);
        bad += r > 1e-6;
    }
    MXT_EQ_INT(nan_in, 9); /* the long frames' 9 NaN pixels stay NaN */
    MXT_EQ_INT(nan_out, 9);
    MXT_EQ_INT(bad, 0);
    /* a pixel by hand: (128, 128) 1-based */
    double v = MX_PIX(a, 127, 127);
    MXT_NEAR(MX_PIX(s, 127, 127), sqrt(441.0 / (gain * gain) + (v > 0 ? v / gain : 0)), 1e-7);
    /* the WCS travels with the sigma image */
    mx_wcs *w1 = NULL, *w2 = NULL;
    MXT_OK(mx_wcs_from_header(a->hdr, in, &w1));
    MXT_OK(mx_wcs_from_header(s->hdr, out, &w2));
    double x = 10.3, y = 200.7, l1, b1, l2, b2;
    MXT_OK(mx_wcs_pix2sky(w1, 1, &x, &y, &l1, &b1));
    MXT_OK(mx_wcs_pix2sky(w2, 1, &x, &y, &l2, &b2));
    MXT_NEAR(l1, l2, 0);
    MXT_NEAR(b1, b2, 0);
    mx_wcs_free(w1);
    mx_wcs_free(w2);
    mx_image_free(a);
    mx_image_free(s);
}

int main(void) {
    mx_log_set_level(MX_LOG_ERROR);
    MXT_RUN(test_kernel);
    MXT_RUN(test_run_synthetic);
    MXT_RUN(test_real_frame);
    return mxt_summary();
}
