/* test_simulate.c - the simulator: random streams, TAN-SIP math against
 * astropy, PSF integration (flux, centroid, analytic pixel values), pattern
 * layout, noise, cosmic rays, masks, written headers read back through
 * wcslib, files and truth tables on disk, determinism. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxtest.h"

#define UJY 23.5044305 /* microJy per MJy/sr per arcsec^2 (formats.md 1.3) */

/* The real header of SPITZER_I1_46291456_0056_0000_2_cbcd.fits (CRVAL, CD);
 * its SIP is the built-in channel-1 table. */
static void gammit_0056(mx_tanplane *tp) {
    memset(tp, 0, sizeof *tp);
    tp->crval[0] = 120.036320246642;
    tp->crval[1] = -9.06387408541353;
    tp->crpix[0] = 128.0;
    tp->crpix[1] = 128.0;
    tp->cd[0][0] = -7.7540364852633E-05;
    tp->cd[0][1] = -0.000330690690275673;
    tp->cd[1][0] = -0.00033093054611049;
    tp->cd[1][1] = 7.78643121493064E-05;
    tp->has_sip = 1;
    mx_sim_irac_sip(1, &tp->sip, NULL);
}

/* A complete configuration; each test changes what it needs. */
static mx_sim_config base_config(void) {
    mx_sim_config c;
    memset(&c, 0, sizeof c);
    c.out_dir = NULL;
    c.prefix = NULL;
    c.nx = 256;
    c.ny = 256;
    c.channel = 1;
    c.distortion = 1;
    c.pixel_scale = 1.223;
    c.exptime = 93.6;
    c.framtime = 100.0;
    c.fluxconv = 0.1257;
    c.gain = 3.7;
    c.ronoise = 21.0;
    c.hdr = 0;
    c.exptime_short = 0.4;
    c.framtime_short = 0.6;
    c.ronoise_short = 23.7;
    c.aorkey = 40000000;
    c.mjd_start = 56293.7847044;
    c.pattern = MX_SIM_DITHER;
    c.nframes = 6;
    c.ra = 120.03;
    c.dec = -9.07;
    c.rotation = -76.75;
    c.rotation_jitter = 0.005;
    c.pointing_jitter = 0.1;
    c.dither_mode = MX_SIM_DITHER_RANDOM;
    c.dither_scale = 30.0;
    c.ndither = 5;
    c.map_rows = 0;
    c.map_cols = 0;
    c.map_overlap = 0.2;
    c.group_separation = 20.0;
    c.pointings = NULL;
    c.npointings = 0;
    c.sky = 0.05;
    c.sky_gradient[0] = 0.0;
    c.sky_gradient[1] = 0.0;
    c.zody_est = 0.0858;
    c.zody_step = 0.0;
    c.skydrkzb = 0.0339;
    c.offset_sigma = 0.01;
    c.offsets = NULL;
    c.noffsets = 0;
    c.blob_peak = 0.0;
    c.blob_fwhm = 30.0;
    c.blob_ra = NAN;
    c.blob_dec = NAN;
    c.sources = NULL;
    c.nsources_given = 0;
    c.nsources = -1;
    c.source_density = 2.0;
    c.flux_min = 20.0;
    c.flux_max = 20000.0;
    c.flux_slope = 2.0;
    c.psf.kind = MX_SIM_PSF_GAUSSIAN;
    c.psf.fwhm = 1.66;
    c.psf.wing_fwhm = 5.0;
    c.psf.wing_fraction = 0.1;
    c.psf.radius = 4.0;
    c.psf.oversample = 8;
    c.noise = 1;
    c.cosmics = 10.0;
    c.cosmic_min_sigma = 8.0;
    c.cosmic_max_sigma = 500.0;
    c.cosmic_flag_fraction = 0.0;
    c.nan_pixels = 9;
    c.dead_pixels = 4;
    c.hot_pixels = 4;
    c.bad_columns = 0;
    c.stray_pixels = 0;
    c.hot_level = 5.0;
    c.seed = 12345;
    return c;
}

/* ---- random numbers ---------------------------------------------------- */
static void test_rng_reference(void) {
    /* xoshiro256** from state {1,2,3,4}: the reference C code's first outputs */
    static const uint64_t want[6] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL,
                                     1216172134540287360ULL, 607988272756665600ULL};
    const uint64_t s[4] = {1, 2, 3, 4};
    mx_rng r;
    mx_rng_set_state(&r, s);
    for (int i = 0; i < 6; i++) MXT_TRUE(mx_rng_next(&r) == want[i]);
}

static void test_rng_streams(void) {
    mx_rng a, b, c;
    mx_rng_seed(&a, 42, 7);
    mx_rng_seed(&b, 42, 7);
    mx_rng_seed(&c, 42, 8);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = mx_rng_next(&a), y = mx_rng_next(&b), z = mx_rng_next(&c);
        if (x != y) same = 0;
        if (x != z) differ++;
    }
    MXT_TRUE(same);
    MXT_EQ_INT(differ, 1000);
    /* uniform in [0, 1): mean 1/2, variance 1/12 */
    double m = 0, v = 0;
    const int n = 1000000;
    for (int i = 0; i < n; i++) {
        double u = mx_rng_uniform(&a);
        MXT_CHECK(u >= 0.0 && u < 1.0, "u = %g", u);
        m += u;
        v += u * u;
    }
    m /= n;
    v = v / n - m * m;
    MXT_NEAR(m, 0.5, 0.002);
    MXT_NEAR(v, 1.0 / 12.0, 0.001);
}

static void test_gauss_poisson(void) {
    mx_rng r;
    mx_rng_seed(&r, 1, 2);
    const int n = 1000000;
    double s1 = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        double g = mx_rng_gauss(&r);
        s1 += g;
        s2 += g * g;
        s4 += g * g * g * g;
    }
    /* 1-sigma errors: mean 0.001, variance 0.0014, kurtosis ~0.01 */
    MXT_NEAR(s1 / n, 0.0, 0.005);
    MXT_NEAR(s2 / n, 1.0, 0.006);
    MXT_NEAR(s4 / n, 3.0, 0.05);
    const double means[3] = {3.7, 29.5, 120.0};
    for (int k = 0; k < 3; k++) {
        double m = 0, v = 0;
        const int np = 200000;
        for (int i = 0; i < np; i++) {
            long x = mx_rng_poisson(&r, means[k]);
            m += (double)x;
            v += (double)x * (double)x;
        }
        m /= np;
        v = v / np - m * m;
        MXT_NEAR(m / means[k], 1.0, 0.005);
        MXT_NEAR(v / means[k], 1.0, 0.02);
    }
    MXT_EQ_INT(mx_rng_poisson(&r, 0.0), 0);
    /* the PTRS branch against exact probabilities: P(k = 30 | 30) */
    long hit = 0;
    for (int i = 0; i < 400000; i++) hit += mx_rng_poisson(&r, 30.0) == 30;
    MXT_NEAR(hit / 400000.0, exp(30 * log(30.0) - 30 - lgamma(31.0)), 0.0015);
}

/* ---- geometry ---------------------------------------------------------- */
static void test_sip_reference(void) {
    mx_tanplane tp;
    gammit_0056(&tp);
    /* A(u,v), B(u,v) of the real header at 0-based pixels (0,0), (255,255),
     * (10,200), (200,30), u = x - 127: astropy 5.2.1 sip_pix2foc(origin=0)
     * minus u - 1, equal to a direct evaluation of the header's terms */
    static const double ref[4][4] = {{0, 0, 0.6624595038910843, 0.7161676011526588},
                                     {255, 255, -0.6519879352346216, -0.7419938071379968},
                                     {10, 200, -0.11914752613184945, 0.11493901405498626},
                                     {200, 30, -0.43662401516667176, 0.6334821865194841}};
    for (int k = 0; k < 4; k++) {
        double u = ref[k][0] - 127.0, v = ref[k][1] - 127.0, U, V;
        mx_sip_forward(&tp.sip, u, v, &U, &V); /* the core's SIP, same table */
        MXT_NEAR(U - u, ref[k][2], 1e-11);
        MXT_NEAR(V - v, ref[k][3], 1e-11);
    }
    /* pixel -> sky against wcs_reference_astropy.csv (all_pix2world, FITS
     * 1-based x, y) for frame 0056 */
    static const double sky[8][4] = {{1, 1, 120.0885246484, -9.0318944540},
                                     {128, 1, 120.0786018458, -9.0737198708},
                                     {1, 64, 120.0676380422, -9.0268826431},
                                     {128, 64, 120.0577034712, -9.0688494778},
                                     {1, 128, 120.0462775670, -9.0218162366},
                                     {128, 128, 120.0363202466, -9.0638740854},
                                     {1, 225, 120.0137704089, -9.0142396890},
                                     {128, 225, 120.0038128384, -9.0563268504}};
    for (int k = 0; k < 8; k++) {
        double ra, dec, x, y;
        mx_sim_pix2sky(&tp, sky[k][0] - 1, sky[k][1] - 1, &ra, &dec);
        MXT_NEAR(ra, sky[k][2], 2e-10);
        MXT_NEAR(dec, sky[k][3], 2e-10);
        MXT_OK(mx_sim_sky2pix(&tp, sky[k][2], sky[k][3], &x, &y));
        MXT_NEAR(x, sky[k][0] - 1, 2e-6); /* the CSV's 10 decimals: 3.6e-7 arcsec */
        MXT_NEAR(y, sky[k][1] - 1, 2e-6);
    }
    /* exact round trip and the real AP/BP as an approximate inverse */
    double worst = 0, worst_ap = 0;
    for (double x = -10; x <= 265; x += 25)
        for (double y = -10; y <= 265; y += 25) {
            double ra, dec, bx, by;
            mx_sim_pix2sky(&tp, x, y, &ra, &dec);
            MXT_OK(mx_sim_sky2pix(&tp, ra, dec, &bx, &by));
            worst = fmax(worst, hypot(bx - x, by - y));
            double U, V, u, v;
            mx_sip_forward(&tp.sip, x - 127, y - 127, &U, &V);
            u = U, v = V;
            for (int p = 0; p <= 5; p++)
                for (int q = 0; p + q <= 5; q++) {
                    u += tp.sip.ap[p][q] * pow(U, p) * pow(V, q);
                    v += tp.sip.bp[p][q] * pow(U, p) * pow(V, q);
                }
            worst_ap = fmax(worst_ap, hypot(u - (x - 127), v - (y - 127)));
        }
    MXT_CHECK(worst < 1e-9, "round trip %g px", worst);
    MXT_CHECK(worst_ap < 0.05, "AP/BP inverse off by %g px", worst_ap);
    MXT_FAILS(mx_sim_irac_sip(3, &tp.sip, NULL), MX_ERR_PARAM, "channel 3");
    /* CD matrix convention: the real frame's PA and scale give its CD */
    double cd[2][2];
    mx_sim_cd_matrix(1.2233, -76.7505, cd);
    /* (the real matrix has a 0.05% skew that a pure rotation does not) */
    MXT_NEAR(cd[0][0], -7.754e-05, 5e-7);
    MXT_NEAR(cd[0][1], -3.3069e-4, 5e-7);
    MXT_NEAR(cd[1][0], -3.3093e-4, 5e-7);
    MXT_NEAR(cd[1][1], 7.786e-05, 5e-7);
}

static void test_pixel_area(void) {
    mx_tanplane tp;
    gammit_0056(&tp);
    const double pts[3][2] = {{127, 127}, {3, 250}, {250, 10}};
    for (int k = 0; k < 3; k++) {
        double x = pts[k][0], y = pts[k][1], h = 1e-3, r[4], d[4];
        mx_sim_pix2sky(&tp, x + h, y, &r[0], &d[0]);
        mx_sim_pix2sky(&tp, x - h, y, &r[1], &d[1]);
        mx_sim_pix2sky(&tp, x, y + h, &r[2], &d[2]);
        mx_sim_pix2sky(&tp, x, y - h, &r[3], &d[3]);
        double c = cos(d[0] * M_PI / 180.0) * 3600.0 / (2 * h);
        double a = (r[0] - r[1]) * c, b = (d[0] - d[1]) * 3600.0 / (2 * h);
        double e = (r[2] - r[3]) * c, f = (d[2] - d[3]) * 3600.0 / (2 * h);
        double area = fabs(a * f - b * e);
        MXT_NEAR(mx_sim_pixel_area(&tp, x, y) / area, 1.0, 1e-6);
    }
    /* undistorted: scale^2 at the tangent point */
    tp.has_sip = 0;
    mx_sim_cd_matrix(1.2, 30.0, tp.cd);
    MXT_NEAR(mx_sim_pixel_area(&tp, 127, 127), 1.44, 1e-9);
}

/* ---- PSF ----------------------------------------------------------------- */
/* Render one source on the real-geometry frame and measure it. */
static void measure(const mx_sim_psf *psf, double ra, double dec, double flux, double *sum_ujy,
                    double *cx, double *cy, double *x, double *y) {
    mx_tanplane tp;
    gammit_0056(&tp);
    long n = 256;
    float *img = calloc((size_t)(n * n), sizeof *img);
    MXT_OK(mx_sim_render_source(&tp, psf, ra, dec, flux, n, n, img, x, y));
    double s = 0, sx = 0, sy = 0;
    for (long j = 0; j < n; j++)
        for (long i = 0; i < n; i++) {
            double v = img[j * n + i];
            if (v == 0.0) continue;
            double f = v * mx_sim_pixel_area(&tp, (double)i, (double)j) * UJY;
            s += f;
            sx += f * (double)i;
            sy += f * (double)j;
        }
    *sum_ujy = s;
    *cx = sx / s;
    *cy = sy / s;
    free(img);
}

static void test_psf_flux_centroid(void) {
    mx_tanplane tp;
    gammit_0056(&tp);
    double ra, dec;
    /* near a corner, where the distortion is largest */
    mx_sim_pix2sky(&tp, 30.37, 221.81, &ra, &dec);
    for (int kind = 0; kind < 3; kind++) {
        mx_sim_psf psf = {(mx_sim_psf_kind)kind, 1.66, 5.0, 0.15, 4.0, 8};
        double s, cx, cy, x, y;
        measure(&psf, ra, dec, 1000.0, &s, &cx, &cy, &x, &y);
        MXT_NEAR(s, 1000.0, 0.1); /* 1e-4: the test bar is 0.1% */
        MXT_NEAR(x, 30.37, 1e-8);
        MXT_NEAR(y, 221.81, 1e-8);
        /* the pixelised, distorted image's centroid: well within 0.01 px */
        MXT_NEAR(cx, 30.37, 0.005);
        MXT_NEAR(cy, 221.81, 0.005);
    }
    /* a source at the edge keeps only its on-frame share */
    {
        mx_sim_psf psf = {MX_SIM_PSF_GAUSSIAN, 1.66, 5.0, 0.15, 4.0, 8};
        double s, cx, cy, x, y;
        mx_sim_pix2sky(&tp, -0.5, 100.3, &ra, &dec);
        measure(&psf, ra, dec, 1000.0, &s, &cx, &cy, &x, &y);
        MXT_NEAR(s, 500.0, 5.0);
    }
}

static void test_psf_analytic(void) {
    /* undistorted frame, 1.2" pixels, source on a pixel centre: the pixel
     * holds F * erf(h/(s sqrt 2))^2 with h = 0.6", s = FWHM/2.3548 */
    mx_tanplane tp;
    memset(&tp, 0, sizeof tp);
    tp.crval[0] = 10.0;
    tp.crval[1] = 20.0;
    tp.crpix[0] = 33.0;
    tp.crpix[1] = 33.0;
    mx_sim_cd_matrix(1.2, 0.0, tp.cd);
    mx_sim_psf psf = {MX_SIM_PSF_GAUSSIAN, 1.66, 0, 0, 5.0, 32};
    long n = 64;
    float *img = calloc((size_t)(n * n), sizeof *img);
    double x, y;
    MXT_OK(mx_sim_render_source(&tp, &psf, 10.0, 20.0, 1000.0, n, n, img, &x, &y));
    MXT_NEAR(x, 32.0, 1e-9);
    MXT_NEAR(y, 32.0, 1e-9);
    double s = 1.66 / (2 * sqrt(2 * log(2.0)));
    double e = erf(0.6 / (s * sqrt(2.0))), e1 = 0.5 * (erf(1.8 / (s * sqrt(2.0))) - e);
    double area = 1.44;
    MXT_NEAR(img[32 * n + 32] * area * UJY / 1000.0, e * e, 3e-4);
    MXT_NEAR(img[32 * n + 33] * area * UJY / 1000.0, e * e1, 3e-4);
    MXT_NEAR(img[33 * n + 33] * area * UJY / 1000.0, e1 * e1, 3e-4);
    free(img);
    mx_sim_psf bad = {MX_SIM_PSF_GAUSSIAN, 0.0, 0, 0, 5.0, 8};
    float one = 0;
    MXT_FAILS(mx_sim_render_source(&tp, &bad, 10, 20, 1, 1, 1, &one, NULL, NULL), MX_ERR_PARAM,
              "fwhm");
}

/* ---- plan ---------------------------------------------------------------- */
static void radec_vec(double ra, double dec, double v[3]) {
    double a = ra * M_PI / 180, d = dec * M_PI / 180;
    v[0] = cos(d) * cos(a);
    v[1] = cos(d) * sin(a);
    v[2] = sin(d);
}
/* great-circle distance, arcsec */
static double dist_as(double ra1, double dec1, double ra2, double dec2) {
    double a[3], b[3];
    radec_vec(ra1, dec1, a);
    radec_vec(ra2, dec2, b);
    double c[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    return atan2(sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]), a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) *
           180 / M_PI * 3600;
}

static int frame_contains(const mx_sim_plan *p, long i, double ra, double dec, long nx, long ny) {
    mx_tanplane tp;
    double x, y;
    mx_sim_plan_tanplane(p, i, &tp);
    if (mx_sim_sky2pix(&tp, ra, dec, &x, &y) != MX_OK) return 0;
    return x >= -0.5 && y >= -0.5 && x < nx - 0.5 && y < ny - 0.5;
}

static void test_plan_dither(void) {
    mx_sim_config c = base_config();
    c.nframes = 24;
    mx_sim_plan *p = NULL;
    MXT_OK(mx_sim_plan_new(&c, &p));
    MXT_EQ_INT(mx_sim_plan_nframes(p), 24);
    /* the dithers stay within dither_scale (+ jitter) of the target, so the
     * target and the centre are covered 24 times */
    int cover = 0;
    for (long i = 0; i < 24; i++) {
        const mx_sim_frame_info *f = mx_sim_plan_frame(p, i);
        double d = hypot((f->crval[0] - c.ra) * cos(c.dec * M_PI / 180), f->crval[1] - c.dec) * 3600;
        MXT_CHECK(d <= 30.0 + 1.0, "frame %ld is %g arcsec from the target", i, d);
        MXT_NEAR(f->rotation, -76.75, 0.03);
        MXT_EQ_INT(f->expid, i);
        cover += frame_contains(p, i, c.ra, c.dec, 256, 256);
    }
    MXT_EQ_INT(cover, 24);
    /* offsets: zero mean, about offset_sigma */
    double m = 0, v = 0;
    for (long i = 0; i < 24; i++) m += mx_sim_plan_frame(p, i)->offset;
    for (long i = 0; i < 24; i++) v += pow(mx_sim_plan_frame(p, i)->offset, 2);
    MXT_NEAR(m, 0.0, 1e-12);
    MXT_CHECK(sqrt(v / 24) > 0.005 && sqrt(v / 24) < 0.015, "offset rms %g", sqrt(v / 24));
    /* random sources: density x footprint, fluxes within limits, median of a
     * F^-2 law = 2/(1/fmin + 1/fmax) */
    long ns = mx_sim_plan_nsources(p);
    MXT_CHECK(ns > 50 && ns < 150, "%ld sources", ns);
    mx_sim_plan_free(p);
    c.nsources = 20000;
    MXT_OK(mx_sim_plan_new(&c, &p));
    const mx_sim_source *s = mx_sim_plan_sources(p);
    float *f = malloc(sizeof *f * 20000);
    for (long k = 0; k < 20000; k++) {
        MXT_CHECK(s[k].flux_ujy >= 20.0 && s[k].flux_ujy <= 20000.0, "flux %g", s[k].flux_ujy);
        f[k] = (float)s[k].flux_ujy;
    }
    MXT_NEAR(mx_median_inplace(f, 20000, MX_MEDIAN_AVERAGE) / (2.0 / (1.0 / 20 + 1.0 / 20000)), 1.0,
             0.03);
    free(f);
    mx_sim_plan_free(p);
    /* cycling dither: distinct positions on a spiral, deterministic */
    c.dither_mode = MX_SIM_DITHER_CYCLE;
    c.pointing_jitter = 0;
    c.nframes = 9;
    MXT_OK(mx_sim_plan_new(&c, &p));
    double dmin = 1e9;
    for (long i = 0; i < 9; i++)
        for (long j = 0; j < i; j++) {
            const mx_sim_frame_info *a = mx_sim_plan_frame(p, i), *b = mx_sim_plan_frame(p, j);
            dmin = fmin(dmin, hypot((a->crval[0] - b->crval[0]) * cos(c.dec * M_PI / 180),
                                    a->crval[1] - b->crval[1]) * 3600);
        }
    MXT_CHECK(dmin > 5.0, "closest cycle positions %g arcsec apart", dmin);
    mx_sim_plan_free(p);
}

static void test_plan_map_groups(void) {
    mx_sim_config c = base_config();
    c.pattern = MX_SIM_MAP;
    c.nframes = 60;
    c.ndither = 3;
    c.pointing_jitter = 0;
    c.rotation_jitter = 0;
    c.dither_scale = 0;
    c.rotation = 0;
    c.map_overlap = 0.25;
    c.distortion = 0;
    mx_sim_plan *p = NULL;
    MXT_OK(mx_sim_plan_new(&c, &p));
    /* 20 positions -> 5 columns x 4 rows, boustrophedon; neighbours
     * 256*0.75 px apart; cells 0 and 15 are opposite corners */
    const mx_sim_frame_info *f0 = mx_sim_plan_frame(p, 0), *f3 = mx_sim_plan_frame(p, 3);
    const mx_sim_frame_info *f45 = mx_sim_plan_frame(p, 45);
    MXT_EQ_INT(f0->dithpos, 1);
    MXT_EQ_INT(mx_sim_plan_frame(p, 2)->dithpos, 3);
    MXT_EQ_INT(mx_sim_plan_frame(p, 59)->pointing, 59);
    double sep = dist_as(f0->crval[0], f0->crval[1], f3->crval[0], f3->crval[1]);
    MXT_NEAR(sep, 192 * 1.223, 0.005); /* plane distance vs arc: 1e-5 */
    /* 15 is in the last row, 4 columns and 3 rows from 0 */
    MXT_NEAR(dist_as(f0->crval[0], f0->crval[1], f45->crval[0], f45->crval[1]),
             hypot(4, 3) * 192 * 1.223, 0.01);
    MXT_NEAR(dist_as(f0->crval[0], f0->crval[1], c.ra, c.dec),
             0.5 * hypot(4, 3) * 192 * 1.223, 0.01);
    MXT_NEAR(dist_as(f45->crval[0], f45->crval[1], c.ra, c.dec),
             0.5 * hypot(4, 3) * 192 * 1.223, 0.01);
    /* a point in the overlap of 4 positions is seen ndither * 4 times */
    double ra = 0.5 * (f0->crval[0] + f3->crval[0]);
    const mx_sim_frame_info *up = mx_sim_plan_frame(p, 27); /* next row */
    double dec = 0.5 * (f0->crval[1] + up->crval[1]);
    int cover = 0;
    for (long i = 0; i < 60; i++) cover += frame_contains(p, i, ra, dec, 256, 256);
    MXT_EQ_INT(cover, 12);
    mx_sim_plan_free(p);

    c.map_rows = 2;
    c.map_cols = 3;
    MXT_FAILS(mx_sim_plan_new(&c, &p), MX_ERR_PARAM, "cannot hold");

    /* two groups: separated, disconnected, half the frames each */
    c = base_config();
    c.pattern = MX_SIM_TWO_GROUPS;
    c.nframes = 20;
    c.ndither = 2;
    c.group_separation = 20.0;
    MXT_OK(mx_sim_plan_new(&c, &p));
    /* groups of 10 frames; their centres 20' apart, each 10' from the target */
    int n1 = 0;
    double m1[3] = {0, 0, 0}, m2[3] = {0, 0, 0};
    for (long i = 0; i < 20; i++) {
        const mx_sim_frame_info *f = mx_sim_plan_frame(p, i);
        double v[3];
        radec_vec(f->crval[0], f->crval[1], v);
        for (int k = 0; k < 3; k++) (f->group == 1 ? m1 : m2)[k] += v[k];
        n1 += f->group == 1;
        MXT_EQ_INT(f->group, i < 10 ? 1 : 2);
    }
    MXT_EQ_INT(n1, 10);
    double ra1 = atan2(m1[1], m1[0]) * 180 / M_PI, de1 = atan2(m1[2], hypot(m1[0], m1[1])) * 180 / M_PI;
    double ra2 = atan2(m2[1], m2[0]) * 180 / M_PI, de2 = atan2(m2[2], hypot(m2[0], m2[1])) * 180 / M_PI;
    /* (random dithers of 30" move the mean by a few arcsec) */
    MXT_NEAR(dist_as(ra1, de1, ra2, de2) / 60, 20.0, 0.2);
    MXT_NEAR(dist_as(ra1, de1, c.ra, c.dec) / 60, 10.0, 0.1);
    for (long i = 0; i < 10; i++)
        for (long j = 10; j < 20; j++) {
            const mx_sim_frame_info *b = mx_sim_plan_frame(p, j);
            MXT_TRUE(!frame_contains(p, i, b->crval[0], b->crval[1], 256, 256));
        }
    mx_sim_plan_free(p);
    c.group_separation = 3.0;
    MXT_FAILS(mx_sim_plan_new(&c, &p), MX_ERR_PARAM, "groups overlap");

    /* explicit list, HDR pairs */
    c = base_config();
    mx_sim_pointing pts[3] = {{10.0, 20.0, NAN}, {10.01, 20.0, 45.0}, {10.0, 20.01, NAN}};
    c.pattern = MX_SIM_LIST;
    c.pointings = pts;
    c.npointings = 3;
    c.hdr = 1;
    MXT_OK(mx_sim_plan_new(&c, &p));
    MXT_EQ_INT(mx_sim_plan_nframes(p), 6);
    for (long k = 0; k < 3; k++) {
        const mx_sim_frame_info *s = mx_sim_plan_frame(p, 2 * k), *l = mx_sim_plan_frame(p, 2 * k + 1);
        MXT_NEAR(s->crval[0], pts[k].ra, 1e-10);
        MXT_NEAR(s->crval[1], pts[k].dec, 1e-10);
        MXT_NEAR(l->crval[0], pts[k].ra, 1e-10);
        MXT_TRUE(s->hdr_short && !l->hdr_short);
        MXT_NEAR(s->exptime, 0.4, 0);
        MXT_NEAR(l->exptime, 93.6, 0);
        MXT_NEAR(s->ronoise, 23.7, 0);
        MXT_NEAR(l->rotation, k == 1 ? 45.0 : -76.75, 0);
    }
    /* frames start FRAMTIME + 12 s apart */
    MXT_NEAR((mx_sim_plan_frame(p, 2)->mjd - mx_sim_plan_frame(p, 0)->mjd) * 86400, 0.6 + 100 + 24, 1e-4);
    mx_sim_plan_free(p);

    /* explicit offsets and the errors that name the field */
    c = base_config();
    double offs[6] = {0.1, -0.2, 0.3, 0, 0, 0.05};
    c.offsets = offs;
    c.noffsets = 6;
    MXT_OK(mx_sim_plan_new(&c, &p));
    MXT_NEAR(mx_sim_plan_frame(p, 2)->offset, 0.3, 0);
    mx_sim_plan_free(p);
    c.noffsets = 5;
    MXT_FAILS(mx_sim_plan_new(&c, &p), MX_ERR_MISMATCH, "5 offsets given for 6 frames");
    c = base_config();
    c.hdr = 1;
    c.nframes = 5;
    MXT_FAILS(mx_sim_plan_new(&c, &p), MX_ERR_PARAM, "even");
    c = base_config();
    c.map_overlap = 0.95;
    MXT_FAILS(mx_sim_plan_new(&c, &p), MX_ERR_PARAM, "map_overlap");
    c = base_config();
    c.psf.oversample = 0;
    MXT_FAILS(mx_sim_plan_new(&c, &p), MX_ERR_PARAM, "oversample");
    c = base_config();
    c.flux_min = 0;
    MXT_FAILS(mx_sim_plan_new(&c, &p), MX_ERR_PARAM, "flux_min");
    MXT_TRUE(p == NULL);
}

/* ---- frames in memory -------------------------------------------------- */
static long count_bits(const mx_image *m, int32_t bit) {
    long n = 0;
    for (long k = 0; k < m->nx * m->ny; k++) n += (m->mask[k] & bit) != 0;
    return n;
}

static void test_frame_background_masks(void) {
    /* noise-free, no sources, no cosmics: every good pixel holds exactly
     * sky + ZODY_EST - SKYDRKZB + offset, so the median recovers the offset */
    mx_sim_config c = base_config();
    c.noise = 0;
    c.nsources = 0;
    c.cosmics = 0;
    c.hot_pixels = 3;
    c.bad_columns = 2;
    c.stray_pixels = 5;
    c.zody_step = 0.001;
    mx_sim_plan *p = NULL;
    MXT_OK(mx_sim_plan_new(&c, &p));
    for (long i = 0; i < mx_sim_plan_nframes(p); i++) {
        mx_sim_frame f;
        MXT_OK(mx_sim_render_frame(p, i, &f));
        const mx_sim_frame_info *fi = mx_sim_plan_frame(p, i);
        long n = f.image->nx * f.image->ny;
        float *tmp = malloc(sizeof *tmp * (size_t)n);
        memcpy(tmp, f.image->data, sizeof *tmp * (size_t)n);
        double med = mx_median_inplace(tmp, (size_t)n, MX_MEDIAN_UPPER);
        float want = (float)(0.05 + (0.0858 + 0.001 * i - 0.0339) + fi->offset);
        MXT_NEAR(med, want, 0);
        MXT_NEAR(med - (0.05 + fi->zody_est - 0.0339), fi->offset, 1e-8);
        free(tmp);
        /* masks: 9 NaN, 4 dead + 2 columns with bit 14, 3 latent, 5 stray */
        long nnan = 0;
        for (long k = 0; k < n; k++) nnan += isnan(f.image->data[k]);
        MXT_EQ_INT(nnan, 9);
        MXT_EQ_INT(count_bits(f.mask, 1 << 14), 9 + 4 + 2 * 256);
        MXT_EQ_INT(count_bits(f.mask, 1 << 10), 3);
        MXT_EQ_INT(count_bits(f.mask, 1 << 3), 5);
        MXT_EQ_INT(count_bits(f.mask, 1 << 9), 0);
        MXT_EQ_INT(f.mask->bitpix, 16);
        /* the sigma follows the noise model from the noise-free value */
        double ge = 93.6 * 3.7 / 0.1257, S = want;
        for (long k = 0; k < n; k++) {
            if (f.mask->mask[k]) continue;
            MXT_NEAR(f.sigma->data[k], sqrt(pow(21.0 / ge, 2) + S / ge), 1e-7);
            break;
        }
        mx_sim_frame_clear(&f);
    }
    mx_sim_plan_free(p);
}

static void test_frame_gradient_blob(void) {
    /* an undistorted frame at the pattern centre: its tangent plane is the
     * global one, so pixel (x, y) sits at X = -(x-127) s, Y = (y-127) s */
    mx_sim_config c = base_config();
    c.noise = 0;
    c.nsources = 0;
    c.cosmics = 0;
    c.nan_pixels = c.dead_pixels = c.hot_pixels = 0;
    c.distortion = 0;
    c.rotation = 0;
    c.rotation_jitter = 0;
    c.pointing_jitter = 0;
    c.dither_scale = 0;
    c.offset_sigma = 0;
    c.sky_gradient[0] = 0.5;  /* MJy/sr per degree */
    c.sky_gradient[1] = -0.25;
    c.blob_peak = 2.0;
    c.blob_fwhm = 20.0;
    mx_sim_plan *p = NULL;
    MXT_OK(mx_sim_plan_new(&c, &p));
    mx_sim_frame f;
    MXT_OK(mx_sim_render_frame(p, 0, &f));
    double base = 0.05 + 0.0858 - 0.0339, s = 1.223 / 3600.0, sig = 20.0 / 2.3548200450309493;
    const long pts[4][2] = {{127, 127}, {130, 125}, {10, 240}, {250, 3}};
    for (int k = 0; k < 4; k++) {
        double X = -(pts[k][0] - 127) * s, Y = (pts[k][1] - 127) * s;
        /* gnomonic standard coordinates: atan of the plane offset */
        double Xr = X * M_PI / 180, Yr = Y * M_PI / 180;
        double r = hypot(Xr, Yr) * 180 / M_PI * 3600;
        double want = base + 0.5 * X - 0.25 * Y + 2.0 * exp(-r * r / (2 * sig * sig));
        MXT_NEAR(MX_PIX(f.image, pts[k][0], pts[k][1]), want, 2e-7);
    }
    mx_sim_frame_clear(&f);
    mx_sim_plan_free(p);
}

static void test_hdr_cosmics_groups(void) {
    /* cosmic hits scale with FRAMTIME: 0.6 s short frames get ~1/167 */
    mx_sim_config c = base_config();
    c.hdr = 1;
    c.nframes = 8;
    c.cosmics = 300;
    c.nsources = 0;
    mx_sim_plan *p = NULL;
    MXT_OK(mx_sim_plan_new(&c, &p));
    long nshort = 0, nlong = 0;
    for (long i = 0; i < 8; i++) {
        mx_sim_frame f;
        MXT_OK(mx_sim_render_frame(p, i, &f));
        long hits = f.ncosmics ? f.cosmics[f.ncosmics - 1].hit : 0;
        if (i % 2 == 0) nshort += hits; else nlong += hits;
        char buf[16];
        MXT_OK(mx_header_get_string(f.image->hdr, "HDRFRAME", buf, sizeof buf));
        MXT_EQ_STR(buf, i % 2 == 0 ? "short" : "long");
        mx_sim_frame_clear(&f);
    }
    MXT_CHECK(nlong > 1000 && nlong < 1400, "%ld long-frame hits (4 x 300)", nlong);
    MXT_CHECK(nshort < 20, "%ld short-frame hits (4 x 1.8)", nshort);
    mx_sim_plan_free(p);
    /* two groups: random sources fill both footprints, none in the gap */
    c = base_config();
    c.pattern = MX_SIM_TWO_GROUPS;
    c.nframes = 8;
    c.ndither = 2;
    c.group_separation = 30.0;
    MXT_OK(mx_sim_plan_new(&c, &p));
    long n1 = 0, n2 = 0, ngap = 0;
    const mx_sim_source *s = mx_sim_plan_sources(p);
    for (long k = 0; k < mx_sim_plan_nsources(p); k++) {
        double east = (s[k].ra - c.ra) * cos(c.dec * M_PI / 180) * 60; /* arcmin */
        if (east < -5) n1++; else if (east > 5) n2++; else ngap++;
    }
    MXT_CHECK(n1 > 20 && n2 > 20, "%ld and %ld sources in the groups", n1, n2);
    MXT_EQ_INT(ngap, 0);
    mx_sim_plan_free(p);
}

static void test_frame_noise_cosmics(void) {
    /* noise on/off and cosmics on/off change nothing else */
    mx_sim_config c = base_config();
    c.source_density = 4.0;
    c.cosmics = 40;
    c.cosmic_flag_fraction = 0.25;
    mx_sim_config c0 = c, cc = c;
    c0.noise = 0;
    cc.noise = 0;
    cc.cosmics = 0;
    mx_sim_plan *p = NULL, *p0 = NULL, *pc = NULL;
    MXT_OK(mx_sim_plan_new(&c, &p));
    MXT_OK(mx_sim_plan_new(&c0, &p0));
    MXT_OK(mx_sim_plan_new(&cc, &pc));
    double s2 = 0;
    long npix = 0, ncos = 0, nflag = 0, nbelow10 = 0;
    for (long i = 0; i < 3; i++) {
        mx_sim_frame f, f0, fc;
        MXT_OK(mx_sim_render_frame(p, i, &f));
        MXT_OK(mx_sim_render_frame(p0, i, &f0));
        MXT_OK(mx_sim_render_frame(pc, i, &fc));
        long n = f.image->nx * f.image->ny;
        for (long k = 0; k < n; k++) {
            MXT_TRUE(f.sigma->data[k] == f0.sigma->data[k] || isnan(f.sigma->data[k]));
            MXT_TRUE(f.mask->mask[k] == f0.mask->mask[k]);
            if (f.mask->mask[k] || !isfinite(f.image->data[k])) continue;
            double z = (f.image->data[k] - f0.image->data[k]) / f.sigma->data[k];
            s2 += z * z;
            npix++;
        }
        /* cosmic truth: exactly the recorded raise at the recorded pixels,
         * nothing elsewhere */
        MXT_EQ_INT(f.ncosmics, f0.ncosmics);
        float *diff = malloc(sizeof *diff * (size_t)n);
        for (long k = 0; k < n; k++) diff[k] = f0.image->data[k] - fc.image->data[k];
        for (long k = 0; k < f0.ncosmics; k++) {
            const mx_sim_cosmic *e = &f0.cosmics[k];
            size_t q = (size_t)(e->y * 256 + e->x);
            MXT_EQ_INT(e->image_id, i + 1);
            MXT_NEAR((double)f0.image->data[q] - (double)fc.image->data[q], e->amplitude, 0);
            MXT_NEAR(e->amplitude / f0.sigma->data[q], e->significance, 1e-5 * e->significance);
            MXT_TRUE(e->significance >= 8.0 && e->significance <= 500.0);
            MXT_EQ_INT((f0.mask->mask[q] & (1 << 9)) != 0, e->flagged);
            MXT_TRUE(fc.mask->mask[q] == 0);
            diff[q] = 0;
            ncos++;
            nflag += e->flagged;
            nbelow10 += e->significance < 10;
        }
        long other = 0;
        for (long k = 0; k < n; k++) other += diff[k] != 0 && !isnan(diff[k]);
        MXT_EQ_INT(other, 0);
        free(diff);
        mx_sim_frame_clear(&f);
        mx_sim_frame_clear(&f0);
        mx_sim_frame_clear(&fc);
    }
    /* (frame - noise-free frame)/sigma has unit variance: 3 x ~65000 pixels,
     * cosmic pixels included (same raise in both) */
    MXT_NEAR(sqrt(s2 / (double)npix), 1.0, 0.02);
    /* ~40 hits x 1-4 pixels per frame; a quarter flagged; most above 10 sigma */
    MXT_CHECK(ncos > 150 && ncos < 450, "%ld cosmic pixels", ncos);
    MXT_CHECK(nflag > 0.1 * ncos && nflag < 0.45 * ncos, "%ld of %ld flagged", nflag, ncos);
    MXT_CHECK(nbelow10 < 0.2 * ncos, "%ld of %ld below 10 sigma", nbelow10, ncos);
    mx_sim_plan_free(p);
    mx_sim_plan_free(p0);
    mx_sim_plan_free(pc);
}

static void test_header_wcs_centroid(void) {
    /* a star at a known RA/Dec lands where wcslib, reading the written
     * header, says; and its flux through the header's WCS is the truth */
    mx_sim_config c = base_config();
    c.noise = 0;
    c.cosmics = 0;
    c.nan_pixels = c.dead_pixels = c.hot_pixels = 0;
    c.sky = 0;
    c.zody_est = c.skydrkzb = 0;
    c.offset_sigma = 0;
    c.nframes = 2;
    mx_sim_plan *p = NULL;
    MXT_OK(mx_sim_plan_new(&c, &p));
    mx_tanplane tp;
    mx_sim_plan_tanplane(p, 1, &tp);
    double ra, dec;
    mx_sim_pix2sky(&tp, 231.27, 18.64, &ra, &dec); /* a distorted corner */
    mx_sim_plan_free(p);
    mx_sim_source src[1] = {{ra, dec, 5000.0}};
    c.sources = src;
    c.nsources_given = 1;
    MXT_OK(mx_sim_plan_new(&c, &p));
    mx_sim_frame f;
    MXT_OK(mx_sim_render_frame(p, 1, &f));
    mx_wcs *w = NULL;
    MXT_OK(mx_wcs_from_header(f.image->hdr, "simulated frame", &w));
    if (w) {
        double x, y;
        MXT_TRUE(mx_wcs_has_distortion(w));
        MXT_OK(mx_wcs_sky2pix(w, 1, &ra, &dec, &x, &y));
        MXT_NEAR(x, 231.27, 1e-6);
        MXT_NEAR(y, 18.64, 1e-6);
        double s = 0, sx = 0, sy = 0;
        for (long j = 0; j < 256; j++)
            for (long i = 0; i < 256; i++) {
                double v = MX_PIX(f.image, i, j), a;
                if (v == 0.0) continue;
                MXT_OK(mx_wcs_pixel_area(w, (double)i, (double)j, &a));
                s += v * a * UJY;
                sx += v * a * UJY * (double)i;
                sy += v * a * UJY * (double)j;
            }
        MXT_NEAR(s / 5000.0, 1.0, 1e-3);
        MXT_NEAR(sx / s, x, 0.01);
        MXT_NEAR(sy / s, y, 0.01);
        mx_wcs_free(w);
    }
    /* keywords the modules read */
    double v;
    char buf[64];
    MXT_OK(mx_header_get_string(f.image->hdr, "BUNIT", buf, sizeof buf));
    MXT_EQ_STR(buf, "MJy/sr");
    MXT_OK(mx_header_get_double(f.image->hdr, "EXPTIME", &v));
    MXT_NEAR(v, 93.6, 0);
    MXT_OK(mx_header_get_double(f.image->hdr, "CRPIX1", &v));
    MXT_NEAR(v, 128, 0);
    MXT_OK(mx_header_get_double(f.image->hdr, "A_2_0", &v));
    MXT_NEAR(v, -1.8056e-05, 0);
    MXT_OK(mx_header_get_double(f.image->hdr, "RA_REF", &v));
    MXT_NEAR(v, 120.03, 0);
    MXT_OK(mx_header_get_string(f.image->hdr, "DATE_OBS", buf, sizeof buf));
    MXT_TRUE(strncmp(buf, "2013-01-01T18:", 14) == 0);
    MXT_OK(mx_header_get_string(f.mask->hdr, "BIT09", buf, sizeof buf));
    MXT_EQ_STR(buf, "512");
    mx_sim_frame_clear(&f);
    mx_sim_plan_free(p);
}

/* ---- on disk ------------------------------------------------------------- */
static char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, fp);
    fclose(fp);
    return b;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void test_simulate_files(void) {
    char d1[4096], d2[4096], d3[4096];
    snprintf(d1, sizeof d1, "%s/t1", mxt_tmp_dir("simulate"));
    snprintf(d2, sizeof d2, "%s/t2", mxt_tmp_dir("simulate"));
    snprintf(d3, sizeof d3, "%s/t3", mxt_tmp_dir("simulate"));
    mx_sim_config c = base_config();
    c.pattern = MX_SIM_MAP;
    c.nframes = 8;
    c.ndither = 2;
    c.cosmic_flag_fraction = 0.5;
    c.out_dir = d1;
    mx_sim_result r1, r2, r3;
    mx_set_threads(1);
    MXT_OK(mx_simulate(&c, &r1));
    mx_set_threads(2);
    c.out_dir = d2;
    MXT_OK(mx_simulate(&c, &r2));
    c.seed = 777;
    c.out_dir = d3;
    MXT_OK(mx_simulate(&c, &r3));
    mx_set_threads(0);
    MXT_EQ_INT(r1.nframes, 8);
    MXT_EQ_INT(r1.nsources, r2.nsources);
    MXT_EQ_INT(r1.ncosmics, r2.ncosmics);
    /* same seed, 1 or 2 threads: identical bytes; another seed differs */
    mx_list *l = NULL;
    MXT_OK(mx_list_read(r1.cbcd_list, MX_LIST_CHECK_EXISTS, &l));
    if (l) {
        MXT_EQ_INT(l->n, 8);
        MXT_EQ_STR(l->raw[3], "SPITZER_I1_40000000_0003_0000_1_cbcd.fits");
        const char *kinds[3] = {"cbcd", "cbunc", "bimsk"};
        for (int i = 0; i < 8; i++)
            for (int k = 0; k < 3; k++) {
                char a[8192], b[8192], e[8192];
                snprintf(a, sizeof a, "%s/SPITZER_I1_40000000_%04d_0000_1_%s.fits", d1, i, kinds[k]);
                snprintf(b, sizeof b, "%s/SPITZER_I1_40000000_%04d_0000_1_%s.fits", d2, i, kinds[k]);
                snprintf(e, sizeof e, "%s/SPITZER_I1_40000000_%04d_0000_1_%s.fits", d3, i, kinds[k]);
                MXT_CHECK(same_file(a, b), "%s differs between thread counts", a);
                if (k == 0) MXT_CHECK(!same_file(a, e), "%s same for another seed", a);
            }
        const char *tb[4] = {"sources.tbl", "offsets.tbl", "cosmics.tbl", "frames.tbl"};
        for (int k = 0; k < 4; k++) {
            char a[8192], b[8192];
            snprintf(a, sizeof a, "%s/%s", d1, tb[k]);
            snprintf(b, sizeof b, "%s/%s", d2, tb[k]);
            MXT_CHECK(same_file(a, b), "%s differs", tb[k]);
        }
        /* truth tables agree with the frames */
        mx_table *t = NULL;
        MXT_OK(mx_table_read_ipac(r1.cosmics_tbl, &t));
        if (t) {
            MXT_EQ_INT(t->nrows, r1.ncosmics);
            int cid = mx_table_find_column(t, "Image_id"), cx = mx_table_find_column(t, "x");
            int cy = mx_table_find_column(t, "y"), cf = mx_table_find_column(t, "flagged");
            for (long row = 0; row < t->nrows; row++) {
                int64_t id, x, y, fl;
                mx_table_get_int(t, cid, row, &id);
                mx_table_get_int(t, cx, row, &x);
                mx_table_get_int(t, cy, row, &y);
                mx_table_get_int(t, cf, row, &fl);
                mx_image *m = NULL;
                char mp[8192];
                snprintf(mp, sizeof mp, "%s/SPITZER_I1_40000000_%04d_0000_1_bimsk.fits", d1, (int)id - 1);
                MXT_OK(mx_mask_read(mp, &m));
                if (m) {
                    MXT_EQ_INT((MX_MPIX(m, x - 1, y - 1) & 512) != 0, fl);
                    mx_image_free(m);
                }
            }
            mx_table_free(t);
        }
        MXT_OK(mx_table_read_ipac(r1.offsets_tbl, &t));
        mx_table *fr = NULL;
        MXT_OK(mx_table_read_ipac(r1.frames_tbl, &fr));
        if (t && fr) {
            MXT_EQ_INT(t->nrows, 8);
            for (long row = 0; row < 8; row++) {
                double o, o2, bg;
                int64_t id;
                mx_table_get_int(t, mx_table_find_column(t, "Image_id"), row, &id);
                mx_table_get_double(t, mx_table_find_column(t, "Offset"), row, &o);
                mx_table_get_double(fr, mx_table_find_column(fr, "offset"), row, &o2);
                mx_table_get_double(fr, mx_table_find_column(fr, "background"), row, &bg);
                MXT_EQ_INT(id, row + 1);
                MXT_NEAR(o, o2, 0);
                MXT_NEAR(bg, 0.05 + 0.0858 - 0.0339 + o, 1e-15);
            }
        }
        mx_table_free(t);
        mx_table_free(fr);
        MXT_OK(mx_table_read_ipac(r1.sources_tbl, &t));
        if (t) {
            MXT_EQ_INT(t->nrows, r1.nsources);
            mx_sim_source *s = NULL;
            long ns = 0;
            MXT_OK(mx_sim_sources_from_table(t, "sources.tbl", &s, &ns));
            MXT_EQ_INT(ns, r1.nsources);
            free(s);
            mx_table_free(t);
        }
        /* a written frame reads back with its sigma and mask */
        mx_image *img = NULL, *sig = NULL, *msk = NULL;
        MXT_OK(mx_image_read(l->paths[5], &img));
        char sp[8192], mp[8192];
        snprintf(sp, sizeof sp, "%s/SPITZER_I1_40000000_0005_0000_1_cbunc.fits", d1);
        snprintf(mp, sizeof mp, "%s/SPITZER_I1_40000000_0005_0000_1_bimsk.fits", d1);
        MXT_OK(mx_image_read(sp, &sig));
        MXT_OK(mx_mask_read(mp, &msk));
        if (img && sig && msk) {
            MXT_EQ_INT(msk->bitpix, 16);
            long nnan = 0;
            for (long k = 0; k < 65536; k++) nnan += isnan(img->data[k]);
            MXT_EQ_INT(nnan, 9);
            MXT_EQ_INT(count_bits(msk, 1 << 14), 13);
        }
        mx_image_free(img);
        mx_image_free(sig);
        mx_image_free(msk);
        mx_list_free(l);
    }
    mx_sim_result_clear(&r1);
    mx_sim_result_clear(&r2);
    mx_sim_result_clear(&r3);
    c.out_dir = NULL;
    MXT_FAILS(mx_simulate(&c, NULL), MX_ERR_PARAM, "out_dir");
}

int main(void) {
    mx_log_set_level(MX_LOG_WARN);
    MXT_RUN(test_rng_reference);
    MXT_RUN(test_rng_streams);
    MXT_RUN(test_gauss_poisson);
    MXT_RUN(test_sip_reference);
    MXT_RUN(test_pixel_area);
    MXT_RUN(test_psf_flux_centroid);
    MXT_RUN(test_psf_analytic);
    MXT_RUN(test_plan_dither);
    MXT_RUN(test_plan_map_groups);
    MXT_RUN(test_frame_background_masks);
    MXT_RUN(test_frame_gradient_blob);
    MXT_RUN(test_hdr_cosmics_groups);
    MXT_RUN(test_frame_noise_cosmics);
    MXT_RUN(test_header_wcs_centroid);
    MXT_RUN(test_simulate_files);
    return mxt_summary();
}
