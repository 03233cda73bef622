/* test_pixmap.c - plane-to-plane mapping (oracle O-13), celestial
 * rotations, the gnomonic fast path against the two-step wcslib path on a
 * synthetic SIP header and on real IRAC TAN-SIP headers ($MOPEX_TEST_DATA,
 * those cases are skipped with a note when absent), corner lattices and
 * footprint boxes. */
#include "mxtest.h"
#include "mopex/mx_pixmap.h"

static unsigned long long rng_state = 42;
static double urand(void) {
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static void test_o13_homography(void) {
    const double a[2] = {150.0, 2.0}, b[2] = {150.05, 2.03};
    const double want[3][3] = {{0.999999619228, 0.000030455552, -0.000872132912},
                               {-0.000030912196, 0.999999862451, -0.000523585272},
                               {0.000872116846, 0.000523612032, 0.999999482621}};
    double H[3][3];
    mx_tan_homography(a, b, NULL, H);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) MXT_NEAR(H[r][c], want[r][c], 6e-13);
    const double pts[4][2] = {{0, 0}, {0.001, -0.002}, {-0.003, 0.0025}, {0.01, 0.01}};
    const double res[4][2] = {{-0.000872133363, -0.000523585543},
                              {0.000127805885, -0.002523617657},
                              {-0.003872062696, 0.001976510727},
                              {0.009128045156, 0.009475976874}};
    for (int k = 0; k < 4; k++) {
        double x = pts[k][0], y = pts[k][1];
        double W = H[2][0] * x + H[2][1] * y + H[2][2];
        MXT_NEAR((H[0][0] * x + H[0][1] * y + H[0][2]) / W, res[k][0], 6e-13);
        MXT_NEAR((H[1][0] * x + H[1][1] * y + H[1][2]) / W, res[k][1], 6e-13);
    }
    /* H is a rotation: H H^T = I */
    double worst = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += H[r][k] * H[c][k];
            worst = fmax(worst, fabs(s - (r == c)));
        }
    MXT_TRUE(worst < 1e-15);
}

static void rot_apply(const double R[3][3], double lon, double lat, double *lo, double *la) {
    double a = lon * M_PI / 180, d = lat * M_PI / 180;
    double p[3] = {cos(d) * cos(a), cos(d) * sin(a), sin(d)}, q[3];
    for (int r = 0; r < 3; r++) q[r] = R[r][0] * p[0] + R[r][1] * p[1] + R[r][2] * p[2];
    *lo = fmod(atan2(q[1], q[0]) * 180 / M_PI + 360, 360);
    *la = asin(q[2]) * 180 / M_PI;
}

static void test_celestial_rotation(void) {
    double R[3][3], l, b;
    /* The galactic centre (l, b) = (0, 0) lies at ICRS (266.404988, -28.936178)
     * (astropy; its FK5-based galactic frame differs from the Hipparcos
     * matrix by tens of milliarcseconds). */
    MXT_OK(mx_celestial_rotation("J2000", "Galactic", R));
    rot_apply(R, 266.40498829, -28.93617776, &l, &b);
    MXT_NEAR(fmod(l + 180, 360) - 180, 0, 2e-5);
    MXT_NEAR(b, 0, 2e-5);
    /* The north galactic pole: astropy puts it at ICRS (192.859478, 27.128252). */
    rot_apply(R, 192.85947789, 27.12825241, &l, &b);
    MXT_NEAR(b, 90, 2e-5);
    /* Ecliptic: RA 90, Dec 0 is at ecliptic latitude -obliquity. */
    MXT_OK(mx_celestial_rotation("J2000", "Ecliptic", R));
    rot_apply(R, 90, 0, &l, &b);
    MXT_NEAR(l, 90, 1e-12);
    MXT_NEAR(b, -84381.448 / 3600, 1e-12);
    /* Galactic -> Ecliptic composes through J2000 and round-trips. */
    double R1[3][3], R2[3][3];
    MXT_OK(mx_celestial_rotation("Galactic", "Ecliptic", R1));
    MXT_OK(mx_celestial_rotation("Ecliptic", "Galactic", R2));
    double l2, b2;
    rot_apply(R1, 33.3, -12.1, &l, &b);
    rot_apply(R2, l, b, &l2, &b2);
    MXT_NEAR(l2, 33.3, 1e-11);
    MXT_NEAR(b2, -12.1, 1e-11);
    MXT_OK(mx_celestial_rotation("Other", "Other", R));
    MXT_NEAR(R[0][0] + R[1][1] + R[2][2], 3, 0);
    MXT_FAILS(mx_celestial_rotation("J2000", "Other", R), MX_ERR_UNSUPPORTED, "Other");
}

/* ---- synthetic SIP frame -------------------------------------------------- */
static mx_wcs *synthetic_sip(void) {
    /* A 200x180 frame, 1.2"/px, rotated ~25 deg, 3rd-order SIP of a few
     * pixels at the corners; no AP/BP (the inverse is pure Newton). */
    const char *cards =
        "NAXIS   =                    2\n"
        "NAXIS1  =                  200\n"
        "NAXIS2  =                  180\n"
        "CTYPE1  = 'RA---TAN-SIP'\n"
        "CTYPE2  = 'DEC--TAN-SIP'\n"
        "CRVAL1  =               210.31\n"
        "CRVAL2  =               54.302\n"
        "CRPIX1  =                 95.5\n"
        "CRPIX2  =                 92.0\n"
        "CD1_1   =     -3.0211022552E-4\n"
        "CD1_2   =      1.4087542642E-4\n"
        "CD2_1   =      1.4087542642E-4\n"
        "CD2_2   =      3.0211022552E-4\n"
        "RADESYS = 'ICRS'\n"
        "EQUINOX =               2000.0\n"
        "A_ORDER =                    3\n"
        "A_2_0   =               2.1E-5\n"
        "A_1_1   =              -1.3E-5\n"
        "A_0_2   =               0.8E-5\n"
        "A_3_0   =              -4.0E-8\n"
        "A_1_2   =               2.5E-8\n"
        "B_ORDER =                    3\n"
        "B_2_0   =              -0.7E-5\n"
        "B_1_1   =               1.9E-5\n"
        "B_0_2   =               1.1E-5\n"
        "B_2_1   =               3.0E-8\n"
        "B_0_3   =              -2.0E-8\n";
    mx_header *h = NULL;
    mx_wcs *w = NULL;
    if (mx_header_from_text(cards, strlen(cards), "synthetic", &h) != MX_OK) return NULL;
    if (mx_wcs_from_header(h, "synthetic", &w) != MX_OK) fprintf(stderr, "%s\n", mx_errmsg());
    mx_header_free(h);
    return w;
}

/* Fast path against the two-step path: random points both ways, and whole
 * lattice rows (the warm-started inverse). Returns the worst difference. */
static double compare_paths(mx_wcs *in, mx_wcs *out, long nx, long ny, int expect_fast) {
    mx_pixmap *fast = NULL, *slow = NULL;
    MXT_OK(mx_pixmap_new(in, out, MX_PIXMAP_AUTO, &fast));
    MXT_OK(mx_pixmap_new(in, out, MX_PIXMAP_FORCE_SLOW, &slow));
    if (!fast || !slow) return INFINITY;
    MXT_EQ_INT(mx_pixmap_is_fast(fast), expect_fast);
    MXT_EQ_INT(mx_pixmap_is_fast(slow), 0);
    enum { N = 4000 };
    static double x[N], y[N], xf[N], yf[N], xs[N], ys[N], xb[N], yb[N];
    for (int k = 0; k < N; k++) x[k] = -0.5 + nx * urand(), y[k] = -0.5 + ny * urand();
    MXT_OK(mx_pixmap_forward(fast, N, x, y, xf, yf));
    MXT_OK(mx_pixmap_forward(slow, N, x, y, xs, ys));
    double worst = 0;
    for (int k = 0; k < N; k++) worst = fmax(worst, fmax(fabs(xf[k] - xs[k]), fabs(yf[k] - ys[k])));
    /* inverse from the slow images of random points (in random order) */
    MXT_OK(mx_pixmap_inverse(fast, N, xs, ys, xb, yb));
    for (int k = 0; k < N; k++) worst = fmax(worst, fmax(fabs(xb[k] - x[k]), fabs(yb[k] - y[k])));
    MXT_OK(mx_pixmap_inverse(slow, N, xs, ys, xb, yb));
    for (int k = 0; k < N; k++) worst = fmax(worst, fmax(fabs(xb[k] - x[k]), fabs(yb[k] - y[k])));
    /* a corner lattice of the output region, both paths */
    mx_box box;
    mx_map mf = mx_pixmap_map(fast), ms = mx_pixmap_map(slow);
    MXT_OK(mx_map_footprint_box(&mf, nx, ny, 100000, 100000, &box));
    MXT_TRUE(box.w > 0 && box.h > 0);
    size_t np = (size_t)(box.w + 1) * (size_t)(box.h + 1);
    double *lf = malloc(np * sizeof *lf), *mf2 = malloc(np * sizeof *mf2);
    double *ls = malloc(np * sizeof *ls), *ms2 = malloc(np * sizeof *ms2);
    mx_map mrows = mf; /* the row-by-row inverse (warm-started, exact) */
    mrows.lattice_inv = NULL;
    MXT_OK(mx_map_corners(&mrows, MX_MAP_INV, box.x0, box.y0, box.w, box.h, lf, mf2));
    MXT_OK(mx_map_corners(&ms, MX_MAP_INV, box.x0, box.y0, box.w, box.h, ls, ms2));
    double wl = 0;
    for (size_t k = 0; k < np; k++) wl = fmax(wl, fmax(fabs(lf[k] - ls[k]), fabs(mf2[k] - ms2[k])));
    worst = fmax(worst, wl);
    /* the lattice inverse (SIP solved on coarse nodes, cubic between them)
     * on the same lattice with ragged rows, against the two-step path */
    long lw = box.w + 1, lh = box.h + 1;
    long *lo = malloc((size_t)lh * sizeof *lo), *hi = malloc((size_t)lh * sizeof *hi);
    for (long b = 0; b < lh; b++) lo[b] = (b * 7) % 5, hi[b] = lw - 1 - (b * 3) % 4;
    lo[lh / 2] = 1, hi[lh / 2] = 0; /* an empty row */
    for (size_t k = 0; k < np; k++) lf[k] = mf2[k] = -1.0;
    MXT_TRUE(mf.lattice_inv != NULL);
    MXT_OK(mf.lattice_inv(mf.ctx, box.x0 - 0.5, box.y0 - 0.5, lw, lh, lo, hi, lf, mf2));
    double wn = 0;
    long untouched = 0;
    for (long b = 0; b < lh; b++)
        for (long a = 0; a < lw; a++) {
            size_t k = (size_t)b * (size_t)lw + (size_t)a;
            if (a < lo[b] || a > hi[b]) untouched += lf[k] == -1.0 && mf2[k] == -1.0;
            else wn = fmax(wn, fmax(fabs(lf[k] - ls[k]), fabs(mf2[k] - ms2[k])));
        }
    long outside = 0;
    for (long b = 0; b < lh; b++) outside += lo[b] > hi[b] ? lw : lw - (hi[b] - lo[b] + 1);
    MXT_EQ_INT(untouched, outside);
    MXT_TRUE(wn < 1e-7);
    fprintf(stderr, "  fast vs two-step: %ld x %ld frame, box %ld x %ld at (%ld, %ld), "
            "max |diff| %.2e px (lattice %.2e, coarse-node lattice %.2e)\n", nx, ny, box.w, box.h,
            box.x0, box.y0, worst, wl, wn);
    free(lo), free(hi);
    free(lf), free(mf2), free(ls), free(ms2);
    mx_pixmap_free(fast);
    mx_pixmap_free(slow);
    return worst;
}

static void test_synthetic_sip(void) {
    mx_wcs *in = synthetic_sip(), *out = NULL;
    MXT_TRUE(in != NULL);
    if (!in) return;
    MXT_TRUE(mx_wcs_has_distortion(in));
    /* 0.6" TAN grid rotated by 37 degrees, tangent point 4' away */
    const double crval[2] = {210.36, 54.33}, crpix[2] = {500.5, 480.0};
    const double cdelt[2] = {-0.6 / 3600, 0.6 / 3600};
    MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cdelt, 37.0, 2000, &out));
    MXT_TRUE(compare_paths(in, out, 200, 180, 1) < 1e-9);
    mx_wcs_free(out);
    /* a galactic TAN grid: the fast path folds the rotation into H */
    double l, b;
    {
        double R[3][3];
        mx_celestial_rotation("J2000", "Galactic", R);
        rot_apply(R, 210.3, 54.3, &l, &b);
    }
    const double gval[2] = {l, b};
    MXT_OK(mx_wcs_new_simple("GLON-TAN", "GLAT-TAN", gval, crpix, cdelt, 0.0, 2000, &out));
    MXT_EQ_STR(mx_wcs_system(out), "Galactic");
    MXT_TRUE(compare_paths(in, out, 200, 180, 1) < 1e-9);
    mx_wcs_free(out);
    /* the other way round: an undistorted frame onto a SIP grid (the SIP
     * inverse on the output side) */
    {
        mx_wcs *tan = NULL;
        const double c2[2] = {210.30, 54.31}, p2[2] = {60.5, 50.5};
        const double d2[2] = {-1.0 / 3600, 1.0 / 3600};
        MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", c2, p2, d2, -12.0, 2000, &tan));
        MXT_TRUE(compare_paths(tan, in, 120, 100, 1) < 1e-9);
        mx_wcs_free(tan);
    }
    /* a SIN grid takes the slow path on both */
    MXT_OK(mx_wcs_new_simple("RA---SIN", "DEC--SIN", crval, crpix, cdelt, 10.0, 2000, &out));
    mx_pixmap *pm = NULL;
    MXT_OK(mx_pixmap_new(in, out, 0, &pm));
    MXT_EQ_INT(mx_pixmap_is_fast(pm), 0);
    double G[3][3];
    MXT_FAILS(mx_pixmap_homography(pm, G), MX_ERR_UNSUPPORTED, "gnomonic");
    double x[3] = {0, 100, 199}, y[3] = {0, 50, 179}, X[3], Y[3], xb[3], yb[3];
    MXT_OK(mx_pixmap_forward(pm, 3, x, y, X, Y));
    MXT_OK(mx_pixmap_inverse(pm, 3, X, Y, xb, yb));
    for (int k = 0; k < 3; k++) {
        MXT_NEAR(xb[k], x[k], 1e-9);
        MXT_NEAR(yb[k], y[k], 1e-9);
    }
    mx_pixmap_free(pm);
    mx_wcs_free(out);
    mx_wcs_free(in);
}

/* TPV (a sequent distortion) is not a gnomonic fast-path case: the slow
 * path must still map both ways consistently. */
static void test_tpv_slow(void) {
    const char *cards =
        "NAXIS   =                    2\n"
        "NAXIS1  =                  100\n"
        "NAXIS2  =                  100\n"
        "CTYPE1  = 'RA---TPV'\n"
        "CTYPE2  = 'DEC--TPV'\n"
        "CRVAL1  =                 30.0\n"
        "CRVAL2  =                -10.0\n"
        "CRPIX1  =                 50.0\n"
        "CRPIX2  =                 50.0\n"
        "CD1_1   =              -2.0E-4\n"
        "CD1_2   =                  0.0\n"
        "CD2_1   =                  0.0\n"
        "CD2_2   =               2.0E-4\n"
        "PV1_1   =                  1.0\n"
        "PV1_4   =               3.0E-3\n"
        "PV2_1   =                  1.0\n"
        "PV2_5   =              -2.0E-3\n";
    mx_header *h = NULL;
    mx_wcs *in = NULL, *out = NULL;
    MXT_OK(mx_header_from_text(cards, strlen(cards), "tpv", &h));
    MXT_OK(mx_wcs_from_header(h, "tpv", &in));
    mx_header_free(h);
    if (!in) return;
    const double crval[2] = {30.0, -10.0}, crpix[2] = {100.5, 100.5};
    const double cdelt[2] = {-1e-4, 1e-4};
    MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cdelt, 5.0, 2000, &out));
    mx_pixmap *pm = NULL;
    MXT_OK(mx_pixmap_new(in, out, 0, &pm));
    MXT_EQ_INT(mx_pixmap_is_fast(pm), 0);
    double x[4] = {0, 99, 10, 73.5}, y[4] = {0, 99, 80, 20.25}, X[4], Y[4], xb[4], yb[4];
    MXT_OK(mx_pixmap_forward(pm, 4, x, y, X, Y));
    MXT_OK(mx_pixmap_inverse(pm, 4, X, Y, xb, yb));
    for (int k = 0; k < 4; k++) {
        MXT_NEAR(xb[k], x[k], 1e-8);
        MXT_NEAR(yb[k], y[k], 1e-8);
        MXT_TRUE(fabs(X[k] - (100.5 - 1 + 2 * (x[k] - 49))) < 20); /* about 2x the scale */
    }
    mx_pixmap_free(pm);
    mx_wcs_free(in);
    mx_wcs_free(out);
}

/* A pure TAN pair with the same tangent point and scale: the mapping is the
 * identity, G the unit matrix. Standard coordinates are radians of order 1
 * in the homogeneous vector, so rounding (1e-16 rad) shows as ~1e-10 px on
 * 0.36" pixels: far below the 1e-9 px the engine promises. */
static void test_identity_and_box(void) {
    const double crval[2] = {10, -20}, crpix[2] = {50.5, 40.5}, cdelt[2] = {-1e-4, 1e-4};
    mx_wcs *a = NULL, *b = NULL;
    MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cdelt, 0, 2000, &a));
    MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cdelt, 0, 2000, &b));
    mx_pixmap *pm = NULL;
    MXT_OK(mx_pixmap_new(a, b, 0, &pm));
    double G[3][3];
    MXT_OK(mx_pixmap_homography(pm, G));
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) MXT_NEAR(G[r][c], r == c, c == 2 ? 1e-10 : 1e-15);
    mx_map m = mx_pixmap_map(pm);
    /* footprint of a 100x80 frame on a 60x200 grid: clipped in x */
    mx_box box;
    MXT_OK(mx_map_footprint_box(&m, 100, 80, 60, 200, &box));
    MXT_EQ_INT(box.x0, 0);
    MXT_EQ_INT(box.y0, 0);
    MXT_EQ_INT(box.w, 60);
    MXT_EQ_INT(box.h, 80);
    /* corner lattice: the identity */
    double cx[12], cy[12];
    MXT_OK(mx_map_corners(&m, MX_MAP_FWD, 3, 7, 3, 2, cx, cy));
    MXT_NEAR(cx[0], 2.5, 1e-10);
    MXT_NEAR(cy[0], 6.5, 1e-10);
    MXT_NEAR(cx[11], 5.5, 1e-10);
    MXT_NEAR(cy[11], 8.5, 1e-10);
    mx_pixmap_free(pm);
    /* shifted grid: CRPIX of the output 10.25 larger -> pixels move by +10.25 */
    mx_wcs_free(b);
    const double crpix2[2] = {60.75, 40.5};
    MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix2, cdelt, 0, 2000, &b));
    MXT_OK(mx_pixmap_new(a, b, 0, &pm));
    m = mx_pixmap_map(pm);
    MXT_OK(mx_map_footprint_box(&m, 100, 80, 1000, 1000, &box));
    /* x from -0.5 + 10.25 = 9.75 -> pixel 10; to 99.5 + 10.25 = 109.75 -> 110 */
    MXT_EQ_INT(box.x0, 10);
    MXT_EQ_INT(box.w, 101);
    MXT_EQ_INT(box.y0, 0);
    MXT_EQ_INT(box.h, 80);
    MXT_OK(mx_map_footprint_box(&m, 100, 80, 5, 5, &box));
    MXT_EQ_INT(box.w, 0);
    MXT_FAILS(mx_map_footprint_box(&m, 0, 80, 5, 5, &box), MX_ERR_PARAM, "positive sizes");
    mx_pixmap_free(pm);
    mx_wcs_free(a);
    mx_wcs_free(b);
}

static void test_real_irac(void) {
    const char *dir = mxt_data_dir();
    if (!dir) {
        fprintf(stderr, "  real IRAC headers: MOPEX_TEST_DATA not set, skipped\n");
        return;
    }
    const char *frames[3] = {"ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits",
                             "ch1/bcd/SPITZER_I1_46291456_0070_0000_2_cbcd.fits",
                             "ch2/bcd/SPITZER_I2_46291456_0005_0000_2_cbcd.fits"};
    for (int f = 0; f < 3; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/gammit_grb120119a/%s", dir, frames[f]);
        mx_header *h = NULL;
        long nx, ny;
        int bp;
        if (mx_fits_read_header(path, &h, &nx, &ny, &bp) != MX_OK) {
            fprintf(stderr, "  %s: %s (skipped)\n", path, mx_errmsg());
            continue;
        }
        mx_wcs *in = NULL, *out = NULL;
        MXT_OK(mx_wcs_from_header(h, path, &in));
        mx_header_free(h);
        if (!in) continue;
        /* 0.6" TAN grid, north up (the frames are at PA ~ -77), tangent
         * point 2' from the frame centre, plus a rotated variant */
        double cv[2], cp[2];
        mx_wcs_reference(in, cv, cp);
        const double crval[2] = {cv[0] + 0.02, cv[1] - 0.03}, crpix[2] = {600.0, 610.5};
        const double cdelt[2] = {-0.6 / 3600, 0.6 / 3600};
        MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cdelt, f * 23.0, 2000, &out));
        MXT_TRUE(compare_paths(in, out, nx, ny, 1) < 1e-9);
        if (f == 0) {
            /* pixel (100, 50) onto a galactic grid; astropy gives
             * (l, b) = (229.09195739, 10.844871) for it (ICRS -> Galactic) */
            mx_wcs *gal = NULL;
            const double gval[2] = {229.08, 10.85}, gpix[2] = {300, 300};
            MXT_OK(mx_wcs_new_simple("GLON-TAN", "GLAT-TAN", gval, gpix, cdelt, 0, 2000, &gal));
            mx_pixmap *pm = NULL;
            MXT_OK(mx_pixmap_new(in, gal, 0, &pm));
            double x = 100, y = 50, X, Y, l, b;
            MXT_OK(mx_pixmap_forward(pm, 1, &x, &y, &X, &Y));
            MXT_OK(mx_wcs_pix2sky(gal, 1, &X, &Y, &l, &b));
            MXT_NEAR(l, 229.09195739, 3e-5);
            MXT_NEAR(b, 10.844871, 3e-5);
            MXT_TRUE(compare_paths(in, gal, nx, ny, 1) < 1e-9);
            mx_pixmap_free(pm);
            mx_wcs_free(gal);
        }
        mx_wcs_free(in);
        mx_wcs_free(out);
    }
}

int main(void) {
    MXT_RUN(test_o13_homography);
    MXT_RUN(test_celestial_rotation);
    MXT_RUN(test_synthetic_sip);
    MXT_RUN(test_identity_and_box);
    MXT_RUN(test_tpv_slow);
    MXT_RUN(test_real_irac);
    return mxt_summary();
}
