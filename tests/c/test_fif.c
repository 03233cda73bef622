/* test_fif.c - Fiducial Image Frame, FIF tables, pixel-size derivation,
 * tiling, celestial systems and Mosaic Geometry (mx_fif.h, mx_sky.h).
 *
 * Sky references were computed with /usr/bin/python3, astropy 5.2.1:
 *   c = SkyCoord(ra*u.deg, dec*u.deg, frame='icrs')
 *   c.galactic                                   -> ICRS_GAL
 *   c.transform_to(CustomBarycentricEcliptic())  -> ICRS_ECL (obliquity 84381.448")
 *   c.transform_to(FK5(equinox='J2000'))         -> ICRS_FK5
 *   SkyCoord(l=ra, b=dec, frame='galactic').icrs -> GAL_ICRS
 *   SkyCoord(lon=ra, lat=dec, frame=CustomBarycentricEcliptic()).transform_to(Galactic())
 *                                                -> ECL_GAL
 * Real data: the 30 IRAC ch1 frames of $MOPEX_TEST_DATA/gammit_grb120119a
 * (those tests are skipped when the folder is absent; the others run).
 */
#include "mxtest.h"

#include <dirent.h>

static const char *data_dir;

/* ---- helpers ------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted paths of dir/ *suffix (malloc'ed, caller frees with free_paths). */
static char **list_dir(const char *dir, const char *suffix, int *n) {
    char **v = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *e;
    size_t ls = strlen(suffix);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < ls || strcmp(e->d_name + l - ls, suffix) != 0) continue;
        v = realloc(v, (size_t)(*n + 1) * sizeof *v);
        v[*n] = mx_path_join(dir, e->d_name);
        (*n)++;
    }
    closedir(d);
    qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

static void free_paths(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static char **ch1_frames(int *n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/gammit_grb120119a/ch1/bcd", data_dir);
    return list_dir(dir, "_cbcd.fits", n);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* A small synthetic frame on disk: nx x ny, TAN, given centre and rotation. */
static void write_frame(const char *path, long nx, long ny, double ra, double dec, double scale_arcsec,
                        double crota2, const char *extra_key, double extra_val, const char *extra_key2,
                        double extra_val2) {
    mx_image *img = NULL;
    mx_wcs *w = NULL;
    double crval[2] = {ra, dec}, crpix[2] = {(nx + 1) / 2.0, (ny + 1) / 2.0},
           cdelt[2] = {-scale_arcsec / 3600.0, scale_arcsec / 3600.0};
    MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, 0, 1.0f, &img));
    MXT_OK(mx_wcs_new_simple("RA---TAN", "DEC--TAN", crval, crpix, cdelt, crota2, 2000.0, &w));
    MXT_OK(mx_wcs_to_header(w, img->hdr));
    if (extra_key) MXT_OK(mx_header_set_double(img->hdr, extra_key, extra_val, NULL));
    if (extra_key2) MXT_OK(mx_header_set_double(img->hdr, extra_key2, extra_val2, NULL));
    MXT_OK(mx_image_write(img, path));
    mx_wcs_free(w);
    mx_image_free(img);
}

/* Footprint (corners + 8 points per edge) of a frame in FIF pixels (0-based). */
static int frame_in_fif(const char *path, mx_wcs *fw, mx_sky_system fsys, double *x, double *y) {
    mx_wcs *w = NULL;
    long nx, ny;
    if (mx_frame_wcs_read(path, NULL, &w, &nx, &ny, NULL) != MX_OK) return 0;
    double lon[36], lat[36];
    mx_wcs_footprint(w, nx, ny, 8, lon, lat);
    mx_sky_convert(MX_SKY_ICRS, fsys, 36, lon, lat);
    mx_wcs_sky2pix(fw, 36, lon, lat, x, y);
    mx_wcs_free(w);
    return 36;
}

/* ---- tiling (oracle O-1) -------------------------------------------------- */

static void test_tiling_oracle(void) {
    long n, tl, l;
    MXT_OK(mx_tiling_axis(4450, 500, &n, &tl, &l));
    MXT_EQ_INT(n, 9); MXT_EQ_INT(tl, 494); MXT_EQ_INT(l, 498);
    MXT_OK(mx_tiling_axis(1024, 500, &n, &tl, &l));
    MXT_EQ_INT(n, 2); MXT_EQ_INT(tl, 512); MXT_EQ_INT(l, 512);
    MXT_OK(mx_tiling_axis(749, 500, &n, &tl, &l));
    MXT_EQ_INT(n, 1); MXT_EQ_INT(tl, 749); MXT_EQ_INT(l, 749);
    MXT_OK(mx_tiling_axis(751, 500, &n, &tl, &l));
    MXT_EQ_INT(n, 2); MXT_EQ_INT(tl, 375); MXT_EQ_INT(l, 376);
    MXT_OK(mx_tiling_axis(200, 500, &n, &tl, &l)); /* guard: literal rule gives 0 tiles */
    MXT_EQ_INT(n, 1); MXT_EQ_INT(tl, 200); MXT_EQ_INT(l, 200);
    MXT_OK(mx_tiling_axis(1000, 500, &n, &tl, &l));
    MXT_EQ_INT(n, 2); MXT_EQ_INT(tl, 500); MXT_EQ_INT(l, 500);
    MXT_FAILS(mx_tiling_axis(100, 0, &n, &tl, &l), MX_ERR_PARAM, "tiles of at most 0");

    mx_tile *tiles = NULL;
    int nt = 0;
    MXT_OK(mx_tiling(4450, 1024, 500, 500, &tiles, &nt));
    MXT_EQ_INT(nt, 18);
    long sumx = 0;
    for (int k = 0; k < 9; k++) {
        MXT_EQ_INT(tiles[k].x0, k * 494);
        MXT_EQ_INT(tiles[k].y0, 0);
        MXT_EQ_INT(tiles[k].nx, k == 8 ? 498 : 494);
        MXT_EQ_INT(tiles[k].ny, 512);
        sumx += tiles[k].nx;
    }
    MXT_EQ_INT(sumx, 4450);
    MXT_EQ_INT(tiles[9].id, 10); MXT_EQ_INT(tiles[9].x0, 0); MXT_EQ_INT(tiles[9].y0, 512);
    MXT_EQ_INT(tiles[17].x0 + tiles[17].nx, 4450); MXT_EQ_INT(tiles[17].y0 + tiles[17].ny, 1024);
    mx_table *t = NULL;
    MXT_OK(mx_tiles_table(tiles, nt, "coadd_", "_Image.fits", "mosaic_coadder", &t));
    MXT_EQ_INT(t->nrows, 18);
    char buf[64];
    MXT_EQ_STR(mx_table_get_string(t, mx_table_find_column(t, "fname"), 17, buf, sizeof buf),
               "coadd_Tile_018_Image.fits");
    int64_t v;
    MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "xoff"), 8, &v));
    MXT_EQ_INT(v, 8 * 494);
    MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "naxis1"), 8, &v));
    MXT_EQ_INT(v, 498);
    mx_table_free(t);
    free(tiles);
}

/* ---- celestial systems vs astropy ----------------------------------------- */

static const double PTS[7][2] = {{0.0, 0.0},       {120.0289, -9.0816}, {266.40499, -28.93617},
                                 {10.68, 41.27},   {300.0, -89.5},      {359.9, 89.9},
                                 {45.0, 60.0}};
static const double ICRS_GAL[7][2] = {
    {96.337283369690, -60.188551946914}, {229.092412327269, 10.804390989995},
    {0.000007406297, 0.000002764202},    {121.170575024878, -21.571930965029},
    {303.469484090869, -27.274586798299}, {122.906748869244, 27.030797279111},
    {138.360823917595, 1.036921186425}};
static const double ICRS_ECL[7][2] = {
    {0.000000000000, 0.000000000000},     {124.404412698626, -29.004872009799},
    {266.839519828398, -5.536310832572},  {27.846101370856, 33.351367640247},
    {270.617716188200, -66.126461086764}, {89.748602933543, 66.560682139621},
    {62.139613999213, 40.838362961688}};
static const double ICRS_FK5[7][2] = {
    {0.000006361111, 0.000002527777},     {120.028906453473, -9.081606050794},
    {266.404997947477, -28.936164641600}, {10.680011539338, 41.270001459562},
    {299.999940499814, -89.499993948915}, {359.903171089123, 89.900002537269},
    {45.000016227110, 59.999997878679}};
static const double GAL_ICRS[7][2] = {
    {266.404988286545, -28.936177761791}, {8.015796657754, 53.680903660353},
    {90.942289260090, -57.834310518936},  {236.999993740216, 2.720444608551},
    {12.888343530925, -27.627594966599},  {192.953631809142, 27.073710398476},
    {226.926022261570, 29.204624891986}};
static const double ECL_GAL[7][2] = {
    {96.337283369690, -60.188551946914},  {210.480585651876, 20.487208212819},
    {339.267578280639, -11.105514909238}, {104.799087486542, -18.238670699505},
    {276.884398836746, -30.060321695750}, {96.383729854212, 29.711440076623},
    {117.247506224804, 7.102889499918}};

static void check_conversion(mx_sky_system from, mx_sky_system to, const double ref[7][2]) {
    double lon[7], lat[7];
    for (int i = 0; i < 7; i++) lon[i] = PTS[i][0], lat[i] = PTS[i][1];
    MXT_OK(mx_sky_convert(from, to, 7, lon, lat));
    for (int i = 0; i < 7; i++) {
        /* the references carry 1e-12 deg; the angle between the two points
         * must be below 1e-9 deg (also meaningful next to the poles) */
        double d = mx_sky_distance(lon[i], lat[i], ref[i][0], ref[i][1]);
        MXT_CHECK(d < 1e-9, "%s -> %s point %d: (%.12f, %.12f) vs astropy (%.12f, %.12f), %.3g deg",
                  mx_sky_name(from), mx_sky_name(to), i, lon[i], lat[i], ref[i][0], ref[i][1], d);
        MXT_TRUE(lon[i] >= 0 && lon[i] < 360);
    }
    /* and back */
    MXT_OK(mx_sky_convert(to, from, 7, lon, lat));
    for (int i = 0; i < 7; i++) MXT_TRUE(mx_sky_distance(lon[i], lat[i], PTS[i][0], PTS[i][1]) < 1e-11);
}

static void test_sky_astropy(void) {
    check_conversion(MX_SKY_ICRS, MX_SKY_GALACTIC, ICRS_GAL);
    check_conversion(MX_SKY_ICRS, MX_SKY_ECLIPTIC, ICRS_ECL);
    check_conversion(MX_SKY_ICRS, MX_SKY_FK5, ICRS_FK5);
    check_conversion(MX_SKY_GALACTIC, MX_SKY_ICRS, GAL_ICRS);
    check_conversion(MX_SKY_ECLIPTIC, MX_SKY_GALACTIC, ECL_GAL);
    /* the matrix is a rotation */
    double R[3][3];
    mx_sky_matrix(MX_SKY_ICRS, MX_SKY_GALACTIC, R);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double s = R[a][0] * R[b][0] + R[a][1] * R[b][1] + R[a][2] * R[b][2];
            MXT_NEAR(s, a == b ? 1.0 : 0.0, 1e-15);
        }
    double l = 1.0, b = NAN;
    MXT_OK(mx_sky_convert(MX_SKY_ICRS, MX_SKY_GALACTIC, 1, &l, &b));
    MXT_TRUE(isnan(l) && isnan(b));
    mx_sky_system s;
    MXT_OK(mx_sky_parse(" galactic", &s));
    MXT_EQ_INT(s, MX_SKY_GALACTIC);
    MXT_OK(mx_sky_parse("J2000", &s));
    MXT_EQ_INT(s, MX_SKY_ICRS);
    MXT_OK(mx_sky_parse("ECLIPTIC", &s));
    MXT_EQ_INT(s, MX_SKY_ECLIPTIC);
    MXT_FAILS(mx_sky_parse("B1950", &s), MX_ERR_PARAM, "'B1950' is not one of J2000, Galactic, Ecliptic");
    MXT_NEAR(mx_sky_distance(10, 20, 10, 20), 0.0, 0);
    MXT_NEAR(mx_sky_distance(0, 0, 180, 0), 180.0, 1e-12);
    MXT_NEAR(mx_sky_distance(0, 89, 180, 89), 2.0, 1e-12);
}

/* ---- FIF tables ------------------------------------------------------------- */

/* The guide's FIF.tbl (000 l.1937-1954), with its typographic dash and
 * negative CDELT2. */
static const char *GUIDE_FIF =
    "\\char comment = Output from fiducial_image_frame, version 1.4 \n"
    "\\char Date-Time = Mar 12, 2012, 09:21:44 \n"
    "\\real CRVAL1 = 329.129598 \n"
    "\\real CRVAL2 = 64.662007 \n"
    "\\real CRPIX1 = 264.50 \n"
    "\\real CRPIX2 = 382.50 \n"
    "\\real CROTA2 = -71.01896 \n"
    "\\real CDELT1 = -3.39817E-04 \n"
    "\\real CDELT2 =  -3.39801E-04 \n"
    "\\int  NAXIS1 = 528 \n"
    "\\int  NAXIS2 = 764 \n"
    "\\int  EQUINOX = 2000 \n"
    "\\char PROJTYPE = TAN \n"
    "\\char COORDINATE_SYSTEM = J2000 \n"
    "\\char CTYPE1 = RA---TAN \n"
    "\\char CTYPE2 = DEC\xE2\x80\x94TAN \n"
    "\\real EXTENT_X = 0.179423 \n"
    "\\real EXTENT_Y = 0.259608 \n";

static void test_fif_guide_example(void) {
    mx_table *t = NULL;
    mx_fif f;
    MXT_OK(mx_table_parse_ipac(GUIDE_FIF, strlen(GUIDE_FIF), "guide FIF", &t));
    MXT_OK(mx_fif_from_table(t, "guide FIF", &f));
    mx_table_free(t);
    MXT_NEAR(f.crval[0], 329.129598, 0); MXT_NEAR(f.crval[1], 64.662007, 0);
    MXT_NEAR(f.crpix[0], 264.5, 0); MXT_NEAR(f.crpix[1], 382.5, 0);
    MXT_NEAR(f.crota2, -71.01896, 0);
    MXT_NEAR(f.cdelt[0], -3.39817e-4, 0); MXT_NEAR(f.cdelt[1], -3.39801e-4, 0); /* flip kept */
    MXT_EQ_INT(f.naxis[0], 528); MXT_EQ_INT(f.naxis[1], 764);
    MXT_EQ_STR(f.ctype[0], "RA---TAN"); MXT_EQ_STR(f.ctype[1], "DEC--TAN");
    MXT_EQ_STR(f.projection, "TAN");
    MXT_EQ_INT(f.system, MX_SKY_ICRS);
    MXT_NEAR(f.equinox, 2000, 0);
    /* the guide's EXTENT_X is NAXIS1 |CDELT1| */
    MXT_NEAR(528 * 3.39817e-4, 0.179423, 5e-7);
    mx_wcs *w = NULL;
    MXT_OK(mx_fif_wcs(&f, &w));
    double x = 263.5, y = 381.5, lon, lat;
    MXT_OK(mx_wcs_pix2sky(w, 1, &x, &y, &lon, &lat));
    MXT_NEAR(lon, 329.129598, 1e-10); MXT_NEAR(lat, 64.662007, 1e-10);
    /* mirrored in y: one pixel up is one pixel of sky "down" the +y axis */
    double ori;
    int flipped;
    MXT_OK(mx_wcs_orientation(w, x, y, &ori, &flipped));
    MXT_EQ_INT(flipped, 1);
    mx_wcs_free(w);

    /* hand-edited sub-frame (000 l.1962-1971) */
    const char *tmp = mxt_tmp_dir("fif_tables");
    char path[4096];
    snprintf(path, sizeof path, "%s/edited.tbl", tmp);
    char *text = malloc(strlen(GUIDE_FIF) + 200);
    strcpy(text, GUIDE_FIF);
    char *p;
    p = strstr(text, "CROTA2 = -71.01896"), memcpy(p, "CROTA2 = -45.0    ", 18);
    p = strstr(text, "CRPIX1 = 264.50"), memcpy(p, "CRPIX1 =  50.50", 15);
    p = strstr(text, "CRPIX2 = 382.50"), memcpy(p, "CRPIX2 =  50.50", 15);
    p = strstr(text, "NAXIS1 = 528"), memcpy(p, "NAXIS1 = 100", 12);
    p = strstr(text, "NAXIS2 = 764"), memcpy(p, "NAXIS2 = 100", 12);
    write_text(path, text);
    free(text);
    MXT_OK(mx_fif_read(path, &f));
    MXT_NEAR(f.crota2, -45.0, 0); MXT_NEAR(f.crpix[0], 50.5, 0); MXT_NEAR(f.crpix[1], 50.5, 0);
    MXT_EQ_INT(f.naxis[0], 100); MXT_EQ_INT(f.naxis[1], 100);
    MXT_NEAR(f.crval[0], 329.129598, 0);

    /* a minimal hand-written frame: optional keys defaulted */
    snprintf(path, sizeof path, "%s/minimal.tbl", tmp);
    write_text(path, "\\real crval1 = 10.5\n\\real CRVAL2 = -3\n\\real CDELT1 = -0.001\n"
                     "\\real CDELT2 = 0.001\n\\int NAXIS1 = 101\n\\int NAXIS2 = 50\n"
                     "\\char COORDINATE_SYSTEM = galactic\n\\char PROJTYPE = sin\n");
    MXT_OK(mx_fif_read(path, &f));
    MXT_NEAR(f.crpix[0], 51.0, 0); MXT_NEAR(f.crpix[1], 25.5, 0);
    MXT_NEAR(f.crota2, 0.0, 0); MXT_NEAR(f.equinox, 2000, 0);
    MXT_EQ_INT(f.system, MX_SKY_GALACTIC);
    MXT_EQ_STR(f.ctype[0], "GLON-SIN"); MXT_EQ_STR(f.ctype[1], "GLAT-SIN");
    /* a CD matrix instead of CDELT/CROTA2: CROTA2 30, CDELT (-0.001, 0.001) */
    snprintf(path, sizeof path, "%s/cd.tbl", tmp);
    {
        double c = cos(30 * M_PI / 180), s = sin(30 * M_PI / 180);
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "\\real CRVAL1 = 1\n\\real CRVAL2 = 2\n\\real CD1_1 = %.17g\n\\real CD1_2 = %.17g\n"
                 "\\real CD2_1 = %.17g\n\\real CD2_2 = %.17g\n\\int NAXIS1 = 10\n\\int NAXIS2 = 10\n"
                 "\\char CTYPE1 = 'ELON-CAR'\n\\char CTYPE2 = 'ELAT-CAR'\n",
                 -0.001 * c, -0.001 * s, -0.001 * s, 0.001 * c);
        write_text(path, buf);
    }
    MXT_OK(mx_fif_read(path, &f));
    MXT_NEAR(f.cdelt[0], -0.001, 1e-15); MXT_NEAR(f.cdelt[1], 0.001, 1e-15);
    MXT_NEAR(f.crota2, 30.0, 1e-12);
    MXT_EQ_INT(f.system, MX_SKY_ECLIPTIC); MXT_EQ_STR(f.projection, "CAR");
    /* errors name the file and keyword */
    snprintf(path, sizeof path, "%s/bad.tbl", tmp);
    write_text(path, "\\real CRVAL1 = 1\n\\real CRVAL2 = 2\n\\real CDELT1 = -0.001\n"
                     "\\real CDELT2 = 0.001\n\\int NAXIS1 = 10\n");
    MXT_FAILS(mx_fif_read(path, &f), MX_ERR_NOTFOUND, "keyword NAXIS2 is missing");
    write_text(path, "\\real CRVAL1 = 1\n\\real CRVAL2 = 2\n\\real CDELT1 = -0.001\n"
                     "\\real CDELT2 = 0.001\n\\int NAXIS1 = 10\n\\int NAXIS2 = 10.5\n");
    MXT_FAILS(mx_fif_read(path, &f), MX_ERR_FORMAT, "NAXIS2 = 10.5 must be a positive integer");
    write_text(path, "\\real CRVAL1 = 1\n\\real CRVAL2 = 2\n\\real CDELT1 = -0.001\n"
                     "\\real CDELT2 = 0.001\n\\int NAXIS1 = 10\n\\int NAXIS2 = 10\n"
                     "\\char CTYPE1 = RA---TAN\n\\char CTYPE2 = GLAT-TAN\n");
    MXT_FAILS(mx_fif_read(path, &f), MX_ERR_FORMAT, "not a longitude/latitude pair");
}

static void test_fif_round_trip(void) {
    mx_fif f, g;
    memset(&f, 0, sizeof f);
    MXT_OK(mx_fif_set_type(&f, MX_SKY_ICRS, "tan"));
    f.crval[0] = 120.03412345678912, f.crval[1] = -9.0712345678901234;
    f.crpix[0] = 264.5, f.crpix[1] = 382.5;
    f.cdelt[0] = -3.3975846e-4 / 3.0, f.cdelt[1] = 3.3975846e-4 / 3.0;
    f.crota2 = 76.750123456789;
    f.naxis[0] = 528, f.naxis[1] = 764;
    f.equinox = 2000;
    const char *tmp = mxt_tmp_dir("fif_tables");
    char path[4096];
    snprintf(path, sizeof path, "%s/FIF.tbl", tmp);
    MXT_OK(mx_fif_write(&f, NULL, path));
    MXT_OK(mx_fif_read(path, &g));
    MXT_TRUE(memcmp(f.crval, g.crval, sizeof f.crval) == 0);
    MXT_TRUE(memcmp(f.crpix, g.crpix, sizeof f.crpix) == 0);
    MXT_TRUE(memcmp(f.cdelt, g.cdelt, sizeof f.cdelt) == 0);
    MXT_TRUE(f.crota2 == g.crota2);
    MXT_EQ_INT(g.naxis[0], 528); MXT_EQ_INT(g.naxis[1], 764);
    MXT_EQ_STR(g.ctype[0], "RA---TAN"); MXT_EQ_STR(g.ctype[1], "DEC--TAN");
    MXT_EQ_INT(g.system, MX_SKY_ICRS);
    /* exact keyword order and names of the guide (000 l.1937-1954) */
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(path, &t));
    static const char *const order[18] = {
        "comment", "Date-Time", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CROTA2", "CDELT1", "CDELT2",
        "NAXIS1", "NAXIS2", "EQUINOX", "PROJTYPE", "COORDINATE_SYSTEM", "CTYPE1", "CTYPE2",
        "EXTENT_X", "EXTENT_Y"};
    MXT_EQ_INT(t->nkeys, 18);
    MXT_EQ_INT(t->ncols, 0);
    for (int k = 0; k < 18 && k < t->nkeys; k++) MXT_EQ_STR(t->keys[k].key, order[k]);
    MXT_TRUE(strncmp(t->keys[0].value, "Output from fiducial_image_frame, mopexlua ", 43) == 0);
    MXT_EQ_STR(mx_table_get_keyword(t, "CRPIX1"), "264.5");
    MXT_EQ_STR(mx_table_get_keyword(t, "EQUINOX"), "2000");
    MXT_EQ_STR(mx_table_get_keyword(t, "COORDINATE_SYSTEM"), "J2000");
    double ex;
    MXT_OK(mx_table_get_keyword_double(t, "EXTENT_X", &ex));
    MXT_NEAR(ex, 528 * 3.3975846e-4 / 3.0, 1e-15);
    MXT_TRUE(t->keys[2].type == 'r' && t->keys[9].type == 'i' && t->keys[14].type == 'c');
    mx_table_free(t);
    /* Date-Time looks like the guide's "Mar 12, 2012, 09:21:44" */
    FILE *fp = fopen(path, "r");
    char line[256] = "";
    (void)!fgets(line, sizeof line, fp);
    (void)!fgets(line, sizeof line, fp);
    fclose(fp);
    char mon[8];
    int day, year, hh, mm, ss;
    MXT_EQ_INT(sscanf(line, "\\char Date-Time = %3s %d, %d, %d:%d:%d", mon, &day, &year, &hh, &mm, &ss), 6);
}

static void test_fif_rescale(void) {
    mx_fif f, g;
    memset(&f, 0, sizeof f);
    MXT_OK(mx_fif_set_type(&f, MX_SKY_ICRS, "TAN"));
    f.crval[0] = 329.129598, f.crval[1] = 64.662007;
    f.crpix[0] = 264.5, f.crpix[1] = 382.5;
    f.cdelt[0] = -3.39817e-4, f.cdelt[1] = 3.39801e-4;
    f.crota2 = -71.01896;
    f.naxis[0] = 528, f.naxis[1] = 764;
    f.equinox = 2000;
    /* ratio 2: twice the pixels on each axis, same corner */
    MXT_OK(mx_fif_rescale(&f, NAN, NAN, 2.0, 2.0, &g));
    MXT_EQ_INT(g.naxis[0], 1056); MXT_EQ_INT(g.naxis[1], 1528);
    MXT_NEAR(g.cdelt[0], -3.39817e-4 / 2, 1e-20); MXT_NEAR(g.cdelt[1], 3.39801e-4 / 2, 1e-20);
    MXT_NEAR(g.crpix[0], (264.5 - 0.5) * 2 + 0.5, 1e-12); MXT_NEAR(g.crpix[1], 764.5, 1e-12);
    MXT_NEAR(g.crval[0], f.crval[0], 0); MXT_NEAR(g.crota2, f.crota2, 0);
    /* the lower-left corner of the grid is the same sky point */
    mx_wcs *wf = NULL, *wg = NULL;
    MXT_OK(mx_fif_wcs(&f, &wf));
    MXT_OK(mx_fif_wcs(&g, &wg));
    double x = -0.5, y = -0.5, l1, b1, l2, b2;
    MXT_OK(mx_wcs_pix2sky(wf, 1, &x, &y, &l1, &b1));
    MXT_OK(mx_wcs_pix2sky(wg, 1, &x, &y, &l2, &b2));
    MXT_TRUE(mx_sky_distance(l1, b1, l2, b2) < 1e-10);
    mx_wcs_free(wg);
    wg = NULL;
    /* ratio 1: unchanged */
    MXT_OK(mx_fif_rescale(&f, NAN, NAN, 1.0, 1.0, &g));
    MXT_EQ_INT(g.naxis[0], 528); MXT_NEAR(g.crpix[0], 264.5, 0); MXT_NEAR(g.cdelt[1], 3.39801e-4, 0);
    /* ratio 0.5: half the pixels; odd counts round up */
    MXT_OK(mx_fif_rescale(&f, NAN, NAN, 0.5, 0.5, &g));
    MXT_EQ_INT(g.naxis[0], 264); MXT_EQ_INT(g.naxis[1], 382);
    MXT_NEAR(g.crpix[0], 132.5, 1e-12);
    /* size 0.4" (the real namelist's 1.1111E-4): f = 3.0584106... */
    MXT_OK(mx_fif_rescale(&f, -1.1111e-4, 1.1111e-4, 2.0, 2.0, &g)); /* size wins over ratio */
    double fx = 3.39817e-4 / 1.1111e-4, fy = 3.39801e-4 / 1.1111e-4;
    MXT_EQ_INT(g.naxis[0], (long)ceil(528 * fx)); MXT_EQ_INT(g.naxis[0], 1615);
    MXT_EQ_INT(g.naxis[1], (long)ceil(764 * fy)); MXT_EQ_INT(g.naxis[1], 2337);
    MXT_NEAR(g.cdelt[0], -1.1111e-4, 0); MXT_NEAR(g.cdelt[1], 1.1111e-4, 0);
    MXT_NEAR(g.crpix[0], 264.0 * fx + 0.5, 1e-9);
    /* size on one axis, ratio on the other */
    MXT_OK(mx_fif_rescale(&f, -1.1111e-4, NAN, 1.0, 3.0, &g));
    MXT_NEAR(g.cdelt[1], 3.39801e-4 / 3, 1e-20); MXT_EQ_INT(g.naxis[1], 2292);
    MXT_FAILS(mx_fif_rescale(&f, 1.1111e-4, NAN, 1.0, 1.0, &g), MX_ERR_PARAM,
              "MOSAIC_PIXEL_SIZE_X = 0.00011111 must be negative");
    MXT_FAILS(mx_fif_rescale(&f, NAN, -1e-4, 1.0, 1.0, &g), MX_ERR_PARAM, "MOSAIC_PIXEL_SIZE_Y");
    MXT_FAILS(mx_fif_rescale(&f, NAN, NAN, 0.0, 1.0, &g), MX_ERR_PARAM, "MOSAIC_PIXEL_RATIO_X = 0");
    /* a mirrored FIF stays mirrored */
    f.cdelt[1] = -3.39801e-4;
    MXT_OK(mx_fif_rescale(&f, NAN, 1e-4, 1.0, 1.0, &g));
    MXT_NEAR(g.cdelt[1], -1e-4, 0);
    mx_wcs_free(wf);
}

/* ---- moving objects ----------------------------------------------------------- */

static void test_moving_object(void) {
    const char *tmp = mxt_tmp_dir("fif_moving");
    char p[3][4096];
    const char *paths[3] = {p[0], p[1], p[2]};
    /* reference (frame 2) at RA_REF 359.99; frame 1 target at 0.02 -> shift -0.03 deg (wrapped) */
    snprintf(p[0], sizeof p[0], "%s/m1.fits", tmp);
    snprintf(p[1], sizeof p[1], "%s/m2.fits", tmp);
    snprintf(p[2], sizeof p[2], "%s/m3.fits", tmp);
    write_frame(p[0], 20, 20, 10.0, 5.0, 1.0, 0.0, "RA_REF", 0.02, "DEC_REF", 1.5);
    write_frame(p[1], 20, 20, 10.0, 5.0, 1.0, 0.0, "RA_REF", 359.99, "DEC_REF", 1.0);
    write_frame(p[2], 20, 20, 10.0, 5.0, 1.0, 0.0, NULL, 0, NULL, 0);
    mx_moving_ref m;
    MXT_OK(mx_moving_ref_read(2, paths, 2, &m));
    MXT_EQ_INT(m.on, 1); MXT_NEAR(m.ra_ref, 359.99, 0); MXT_NEAR(m.dec_ref, 1.0, 0);
    mx_wcs *w = NULL;
    long nx, ny;
    MXT_OK(mx_frame_wcs_read(p[0], &m, &w, &nx, &ny, NULL));
    double crval[2], crpix[2];
    mx_wcs_reference(w, crval, crpix);
    MXT_NEAR(crval[0], 10.0 - 0.03, 1e-9); MXT_NEAR(crval[1], 5.0 - 0.5, 1e-12);
    mx_wcs_free(w);
    MXT_OK(mx_frame_wcs_read(p[1], &m, &w, &nx, &ny, NULL)); /* the reference does not move */
    mx_wcs_reference(w, crval, crpix);
    MXT_NEAR(crval[0], 10.0, 1e-12); MXT_NEAR(crval[1], 5.0, 1e-12);
    mx_wcs_free(w);
    MXT_FAILS(mx_frame_wcs_read(p[2], &m, &w, &nx, &ny, NULL), MX_ERR_NOTFOUND, "m3.fits");
    MXT_FAILS(mx_moving_ref_read(2, paths, 3, &m), MX_ERR_PARAM, "MOVING_OBJECT_MOSAIC = 3");
    MXT_OK(mx_moving_ref_read(2, paths, 0, &m));
    MXT_EQ_INT(m.on, 0);
    /* the FIF follows the moved frame: frames 1 and 2 then sit 0.03 deg apart in RA */
    mx_fif_opts o = {0, "TAN", "J2000", 0, 0.0, 0, 2};
    mx_fif f0, f1;
    MXT_OK(mx_fif_compute(2, paths, &o, &f1, NULL, NULL));
    o.moving_object = 0;
    MXT_OK(mx_fif_compute(2, paths, &o, &f0, NULL, NULL));
    MXT_TRUE(f1.naxis[0] > f0.naxis[0] + 100); /* 0.03 deg cos(5 deg) = 107.6 px of 1" */
}

/* ---- header-derived WCS form ----------------------------------------------------- */

static void test_cdelt_crota2(void) {
    mx_header *h = mx_header_new();
    /* frame 0056's CD matrix (PA -76.7505) */
    mx_header_set_double(h, "CD1_1", -7.7540364852633e-05, NULL);
    mx_header_set_double(h, "CD1_2", -0.000330690690275673, NULL);
    mx_header_set_double(h, "CD2_1", -0.00033093054611049, NULL);
    mx_header_set_double(h, "CD2_2", 7.78643121493064e-05, NULL);
    double cd[2], rho;
    MXT_OK(mx_header_cdelt_crota2(h, "t", cd, &rho));
    MXT_NEAR(rho, 76.7505, 5e-4);
    MXT_NEAR(cd[1], hypot(0.000330690690275673, 7.78643121493064e-05), 1e-18);
    MXT_TRUE(cd[0] < 0);
    MXT_NEAR(cd[0], -hypot(7.7540364852633e-05, 0.00033093054611049), 1e-18);
    mx_header_free(h);
    h = mx_header_new();
    mx_header_set_double(h, "CDELT1", -2e-4, NULL);
    mx_header_set_double(h, "CDELT2", 2e-4, NULL);
    mx_header_set_double(h, "CROTA2", 12.5, NULL);
    MXT_OK(mx_header_cdelt_crota2(h, "t", cd, &rho));
    MXT_NEAR(cd[0], -2e-4, 0); MXT_NEAR(cd[1], 2e-4, 0); MXT_NEAR(rho, 12.5, 0);
    /* PC form, rotation 30 */
    mx_header_delete(h, "CROTA2");
    double c = cos(30 * M_PI / 180), s = sin(30 * M_PI / 180);
    mx_header_set_double(h, "PC1_1", c, NULL);
    /* CD = diag(CDELT) PC: CD1_2 = -CDELT2 sin, CD2_1 = CDELT1 sin */
    mx_header_set_double(h, "PC1_2", s, NULL);
    mx_header_set_double(h, "PC2_1", -s, NULL);
    mx_header_set_double(h, "PC2_2", c, NULL);
    MXT_OK(mx_header_cdelt_crota2(h, "t", cd, &rho));
    MXT_NEAR(cd[0], -2e-4, 1e-18); MXT_NEAR(cd[1], 2e-4, 1e-18); MXT_NEAR(rho, 30.0, 1e-12);
    mx_header_free(h);
}

/* ---- the FIF over the real frames ------------------------------------------------ */

static double circular_mean_orientation(char **paths, int n) {
    double ss = 0, sc = 0;
    for (int i = 0; i < n; i++) {
        mx_wcs *w = NULL;
        long nx, ny;
        double r;
        MXT_OK(mx_frame_wcs_read(paths[i], NULL, &w, &nx, &ny, NULL));
        MXT_OK(mx_wcs_orientation(w, (nx - 1) / 2.0, (ny - 1) / 2.0, &r, NULL));
        ss += sin(r * M_PI / 180);
        sc += cos(r * M_PI / 180);
        mx_wcs_free(w);
    }
    return atan2(ss, sc) * 180 / M_PI;
}

/* Every footprint point inside the frame at least `pad` px from the edges,
 * and the box tight: some point within pad + 1 px of each edge. */
static void check_contains(char **paths, int n, const mx_fif *f, double pad) {
    mx_wcs *fw = NULL;
    MXT_OK(mx_fif_wcs(f, &fw));
    double lo[4] = {INFINITY, INFINITY, INFINITY, INFINITY}; /* left, right, bottom, top slack */
    int bad = 0;
    for (int i = 0; i < n; i++) {
        double x[36], y[36];
        MXT_EQ_INT(frame_in_fif(paths[i], fw, f->system, x, y), 36);
        for (int k = 0; k < 36; k++) {
            double s[4] = {x[k] + 0.5, f->naxis[0] - 0.5 - x[k], y[k] + 0.5, f->naxis[1] - 0.5 - y[k]};
            for (int e = 0; e < 4; e++) {
                if (!(s[e] >= pad - 1e-6)) bad++;
                lo[e] = fmin(lo[e], s[e]);
            }
        }
    }
    MXT_CHECK(bad == 0, "%d footprint points closer than %g px to the FIF edge", bad, pad);
    for (int e = 0; e < 4; e++)
        MXT_CHECK(lo[e] >= pad - 1e-6 && lo[e] <= pad + 1.0, "edge %d: slack %.6f px, padding %.6f px",
                  e, lo[e], pad);
    mx_wcs_free(fw);
}

static void test_fif_real(void) {
    if (!data_dir) return;
    int n = 0;
    char **paths = ch1_frames(&n);
    MXT_EQ_INT(n, 30);
    if (n != 30) {
        free_paths(paths, n);
        return;
    }
    const char *tmp = mxt_tmp_dir("fif_real");
    char fifp[4096], hlp[4096];
    snprintf(fifp, sizeof fifp, "%s/FIF.tbl", tmp);
    snprintf(hlp, sizeof hlp, "%s/header_list.tbl", tmp);
    double mean_rho = circular_mean_orientation(paths, n);
    double mean_pxscal = 0;
    for (int i = 0; i < n; i++) {
        mx_header *h = NULL;
        double p1 = 0, p2 = 0;
        MXT_OK(mx_fits_read_header(paths[i], &h, NULL, NULL, NULL));
        MXT_OK(mx_header_get_double(h, "PXSCAL1", &p1));
        MXT_OK(mx_header_get_double(h, "PXSCAL2", &p2));
        mean_pxscal += 0.5 * (fabs(p1) + fabs(p2)) / n;
        mx_header_free(h);
    }
    MXT_NEAR(mean_rho, 76.75, 0.01);

    for (int avg = 0; avg <= 1; avg++) {
        mx_fif_opts o = {10.0, "TAN", "J2000", avg, 0.0, 0, 0};
        mx_fif f, g;
        mx_fif_info info;
        MXT_OK(mx_fif_run(n, (const char *const *)paths, &o, fifp, hlp, &f, &info));
        fprintf(stderr, "  CROTA2 %s: CRVAL (%.8f, %.8f) NAXIS %ld x %ld CROTA2 %.6f scale %.6f\" "
                "iterations %d max distance %.4f deg\n", avg ? "A" : "0", f.crval[0], f.crval[1],
                f.naxis[0], f.naxis[1], f.crota2, info.pixel_scale, info.iterations, info.max_distance);
        MXT_NEAR(f.crota2, avg ? mean_rho : 0.0, 1e-9);
        MXT_NEAR(info.crota2_mean, mean_rho, 1e-9);
        /* mean of (sx + sy)/2 at the frame centres: 1.223332"; the headers'
         * own centre scales PXSCAL1/2 (-1.22361, 1.22304) average the same */
        MXT_NEAR(fabs(f.cdelt[0]) * 3600, 1.223332, 2e-6);
        MXT_NEAR(info.pixel_scale, fabs(f.cdelt[0]) * 3600, 1e-12);
        MXT_NEAR(fabs(f.cdelt[0]) * 3600, mean_pxscal, 2e-5);
        MXT_NEAR(f.cdelt[0], -f.cdelt[1], 0);
        MXT_TRUE(f.cdelt[0] < 0);
        MXT_NEAR(f.crpix[0], (f.naxis[0] + 1) / 2.0, 0); MXT_NEAR(f.crpix[1], (f.naxis[1] + 1) / 2.0, 0);
        MXT_EQ_STR(f.ctype[0], "RA---TAN"); MXT_EQ_STR(f.ctype[1], "DEC--TAN");
        MXT_TRUE(info.iterations < 10);
        /* the frames sit around the GRB field (RA_REF/DEC_REF 120.0289, -9.0816) */
        MXT_TRUE(mx_sky_distance(f.crval[0], f.crval[1], 120.0289, -9.0816) < 0.05);
        check_contains(paths, n, &f, 10.0 / 3600 / fabs(f.cdelt[0]));
        /* the written table reads back as the same frame */
        MXT_OK(mx_fif_read(fifp, &g));
        MXT_TRUE(memcmp(f.crval, g.crval, sizeof f.crval) == 0 && f.crota2 == g.crota2 &&
                 memcmp(f.cdelt, g.cdelt, sizeof f.cdelt) == 0 &&
                 memcmp(f.crpix, g.crpix, sizeof f.crpix) == 0 && f.naxis[0] == g.naxis[0] &&
                 f.naxis[1] == g.naxis[1] && f.system == g.system && strcmp(f.ctype[1], g.ctype[1]) == 0);
        /* more padding: the frame grows by 2 x padding on each axis (within rounding) */
        o.edge_padding = 40.0;
        MXT_OK(mx_fif_compute(n, (const char *const *)paths, &o, &g, NULL, NULL));
        double dpx = 2 * 30.0 / 3600 / fabs(f.cdelt[0]);
        MXT_TRUE(fabs(g.naxis[0] - f.naxis[0] - dpx) <= 1.0 && fabs(g.naxis[1] - f.naxis[1] - dpx) <= 1.0);
        /* MARGIN adds whole pixels on each side */
        o.edge_padding = 10.0;
        o.margin = 7;
        MXT_OK(mx_fif_compute(n, (const char *const *)paths, &o, &g, NULL, NULL));
        MXT_EQ_INT(g.naxis[0], f.naxis[0] + 14); MXT_EQ_INT(g.naxis[1], f.naxis[1] + 14);
        MXT_TRUE(mx_sky_distance(g.crval[0], g.crval[1], f.crval[0], f.crval[1]) < 1e-9);
        /* same result for any thread count */
        int threads = mx_threads();
        mx_set_threads(1);
        o.margin = 0;
        MXT_OK(mx_fif_compute(n, (const char *const *)paths, &o, &g, NULL, NULL));
        mx_set_threads(threads);
        MXT_TRUE(memcmp(&f.crval, &g.crval, sizeof f.crval) == 0 && f.naxis[0] == g.naxis[0] &&
                 f.naxis[1] == g.naxis[1] && f.cdelt[0] == g.cdelt[0] && f.crota2 == g.crota2);
    }
    /* header_list.tbl: one row per frame, its WCS in CDELT/CROTA2 form */
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(hlp, &t));
    MXT_EQ_INT(t->nrows, 30);
    static const char *const cols[13] = {"image_id", "fname", "naxis1", "naxis2", "crpix1", "crpix2",
                                         "crval1", "crval2", "cdelt1", "cdelt2", "crota2", "ctype1",
                                         "ctype2"};
    MXT_EQ_INT(t->ncols, 13);
    for (int c = 0; c < 13 && c < t->ncols; c++) MXT_EQ_STR(t->cols[c].name, cols[c]);
    double v;
    char buf[4096];
    MXT_OK(mx_table_get_double(t, mx_table_find_column(t, "crval1"), 0, &v));
    MXT_NEAR(v, 120.036320246642, 1e-12);
    MXT_OK(mx_table_get_double(t, mx_table_find_column(t, "crota2"), 0, &v));
    MXT_NEAR(v, 76.7505, 5e-4);
    MXT_OK(mx_table_get_double(t, mx_table_find_column(t, "cdelt1"), 0, &v));
    MXT_NEAR(v * 3600, -1.2236, 2e-3);
    MXT_OK(mx_table_get_double(t, mx_table_find_column(t, "crpix2"), 0, &v));
    MXT_NEAR(v, 128.0, 0);
    MXT_EQ_STR(mx_table_get_string(t, mx_table_find_column(t, "ctype1"), 29, buf, sizeof buf),
               "RA---TAN-SIP");
    MXT_EQ_STR(mx_table_get_string(t, mx_table_find_column(t, "fname"), 29, buf, sizeof buf), paths[29]);
    int64_t iv;
    MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "image_id"), 29, &iv));
    MXT_EQ_INT(iv, 30);
    mx_table_free(t);

    /* a Galactic frame over the same inputs: every corner, rotated with
     * mx_sky_convert, lands inside with the padding */
    {
        mx_fif_opts o = {10.0, "TAN", "Galactic", 1, 0.0, 0, 0};
        mx_fif f;
        mx_fif_info info;
        MXT_OK(mx_fif_compute(n, (const char *const *)paths, &o, &f, NULL, &info));
        MXT_EQ_STR(f.ctype[0], "GLON-TAN"); MXT_EQ_STR(f.ctype[1], "GLAT-TAN");
        MXT_EQ_INT(f.system, MX_SKY_GALACTIC);
        double l = 120.0289, b = -9.0816;
        mx_sky_convert(MX_SKY_ICRS, MX_SKY_GALACTIC, 1, &l, &b);
        MXT_TRUE(mx_sky_distance(f.crval[0], f.crval[1], l, b) < 0.05);
        check_contains(paths, n, &f, 10.0 / 3600 / fabs(f.cdelt[0]));
        /* the average orientation follows the inputs in the Galactic system:
         * their +y axes are aligned with the FIF's +y axis */
        mx_wcs *fw = NULL, *w = NULL;
        MXT_OK(mx_fif_wcs(&f, &fw));
        long nx, ny;
        MXT_OK(mx_frame_wcs_read(paths[0], NULL, &w, &nx, &ny, NULL));
        double px[2] = {127.5, 127.5}, py[2] = {127.5, 177.5}, lo[2], la[2], fx[2], fy[2];
        MXT_OK(mx_wcs_pix2sky(w, 2, px, py, lo, la));
        mx_sky_convert(MX_SKY_ICRS, MX_SKY_GALACTIC, 2, lo, la);
        MXT_OK(mx_wcs_sky2pix(fw, 2, lo, la, fx, fy));
        double ang = atan2(-(fx[1] - fx[0]), fy[1] - fy[0]) * 180 / M_PI;
        MXT_NEAR(ang, 0.0, 0.05); /* frames differ by ~0.01 deg among themselves */
        mx_wcs_free(w);
        mx_wcs_free(fw);
        fprintf(stderr, "  Galactic: CRVAL (%.8f, %.8f) NAXIS %ld x %ld CROTA2 %.6f\n", f.crval[0],
                f.crval[1], f.naxis[0], f.naxis[1], f.crota2);
        /* other projections */
        o.system = "J2000";
        o.projection = "SIN";
        MXT_OK(mx_fif_compute(n, (const char *const *)paths, &o, &f, NULL, NULL));
        check_contains(paths, n, &f, 10.0 / 3600 / fabs(f.cdelt[0]));
        o.projection = "CAR";
        MXT_OK(mx_fif_compute(n, (const char *const *)paths, &o, &f, NULL, NULL));
        check_contains(paths, n, &f, 10.0 / 3600 / fabs(f.cdelt[0]));
        MXT_EQ_STR(f.ctype[0], "RA---CAR");
        o.projection = "XYZ";
        MXT_FAILS(mx_fif_compute(n, (const char *const *)paths, &o, &f, NULL, NULL),
                  MX_ERR_UNSUPPORTED, "XYZ");
        o.projection = "TA";
        MXT_FAILS(mx_fif_compute(n, (const char *const *)paths, &o, &f, NULL, NULL), MX_ERR_PARAM,
                  "Projection_Type");
        o.projection = "TAN";
        o.system = "FK4";
        MXT_FAILS(mx_fif_compute(n, (const char *const *)paths, &o, &f, NULL, NULL), MX_ERR_PARAM,
                  "Coordinate_System");
    }
    free_paths(paths, n);
}

/* Frames on opposite sides of the sky do not fit in a hemisphere. */
static void test_fif_hemisphere(void) {
    const char *tmp = mxt_tmp_dir("fif_hemi");
    char p[3][4096];
    const char *paths[3] = {p[0], p[1], p[2]};
    snprintf(p[0], sizeof p[0], "%s/a.fits", tmp);
    snprintf(p[1], sizeof p[1], "%s/b.fits", tmp);
    snprintf(p[2], sizeof p[2], "%s/c.fits", tmp);
    write_frame(p[0], 16, 16, 10.0, 0.0, 10.0, 0.0, NULL, 0, NULL, 0);
    write_frame(p[1], 16, 16, 130.0, 0.0, 10.0, 0.0, NULL, 0, NULL, 0);
    write_frame(p[2], 16, 16, 250.0, 0.0, 10.0, 0.0, NULL, 0, NULL, 0);
    mx_fif_opts o = {10.0, "TAN", "J2000", 1, 0.0, 0, 0};
    mx_fif f;
    MXT_FAILS(mx_fif_compute(3, paths, &o, &f, NULL, NULL), MX_ERR_PARAM, "hemisphere");
    /* two of them (120 deg apart) do fit a hemisphere, not a TAN plane of
     * reasonable size: 60 deg from the centre each */
    MXT_OK(mx_fif_compute(2, paths, &o, &f, NULL, NULL));
    MXT_NEAR(f.crval[0], 70.0, 1e-6); MXT_NEAR(f.crval[1], 0.0, 1e-6);
    MXT_FAILS(mx_fif_compute(0, paths, &o, &f, NULL, NULL), MX_ERR_PARAM, "no input images");
    o.edge_padding = -1;
    MXT_FAILS(mx_fif_compute(2, paths, &o, &f, NULL, NULL), MX_ERR_PARAM, "Edge_Padding = -1");
    /* a synthetic frame with known geometry: 16 px of 10" at CROTA2 0,
     * padding 10" -> 16 + 2 = 18 px, centred on the frame */
    o.edge_padding = 10.0;
    o.crota2_average = 1;
    MXT_OK(mx_fif_compute(1, paths, &o, &f, NULL, NULL));
    MXT_EQ_INT(f.naxis[0], 18); MXT_EQ_INT(f.naxis[1], 18);
    MXT_NEAR(f.crval[0], 10.0, 1e-9); MXT_NEAR(f.crval[1], 0.0, 1e-9);
    MXT_NEAR(f.cdelt[1] * 3600, 10.0, 1e-6);
    MXT_NEAR(f.crota2, 0.0, 1e-9);
    MXT_NEAR(f.crpix[0], 9.5, 0);
}

/* ---- Mosaic Geometry ---------------------------------------------------------------- */

/* Independent overlap test: the frame's pixel boundary sampled every 0.25
 * px (a sample inside the FIF rectangle: overlap, unless thinner than the
 * sampling) and the FIF's four corners mapped into the frame (a corner
 * inside the frame: the FIF pokes into or lies inside the frame). */
static int overlaps_sampled(const char *path, mx_wcs *fw, const mx_fif *f) {
    mx_wcs *w = NULL;
    long nx, ny;
    MXT_OK(mx_frame_wcs_read(path, NULL, &w, &nx, &ny, NULL));
    int hit = 0;
    size_t m = (size_t)(8 * (nx + ny)) + 4;
    double *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y), *lo = malloc(m * sizeof *lo),
           *la = malloc(m * sizeof *la);
    size_t k = 0;
    for (long i = 0; i < 4 * nx; i++) {
        x[k] = -0.5 + i * 0.25, y[k++] = -0.5;
        x[k] = nx - 0.5 - i * 0.25, y[k++] = ny - 0.5;
    }
    for (long j = 0; j < 4 * ny; j++) {
        x[k] = nx - 0.5, y[k++] = -0.5 + j * 0.25;
        x[k] = -0.5, y[k++] = ny - 0.5 - j * 0.25;
    }
    mx_wcs_pix2sky(w, k, x, y, lo, la);
    mx_wcs_sky2pix(fw, k, lo, la, x, y);
    for (size_t q = 0; q < k && !hit; q++)
        hit = x[q] > -0.5 && x[q] < f->naxis[0] - 0.5 && y[q] > -0.5 && y[q] < f->naxis[1] - 0.5;
    double cx[4] = {-0.5, f->naxis[0] - 0.5, f->naxis[0] - 0.5, -0.5},
           cy[4] = {-0.5, -0.5, f->naxis[1] - 0.5, f->naxis[1] - 0.5};
    mx_wcs_pix2sky(fw, 4, cx, cy, lo, la);
    mx_wcs_sky2pix(w, 4, lo, la, x, y);
    for (int q = 0; q < 4 && !hit; q++) hit = x[q] > -0.5 && x[q] < nx - 0.5 && y[q] > -0.5 && y[q] < ny - 0.5;
    free(x), free(y), free(lo), free(la);
    mx_wcs_free(w);
    return hit;
}

static void test_geometry_real(void) {
    if (!data_dir) return;
    int n = 0;
    char **paths = ch1_frames(&n);
    if (n != 30) {
        free_paths(paths, n);
        return;
    }
    const char *tmp = mxt_tmp_dir("fif_geom");
    mx_fif_opts o = {10.0, "TAN", "J2000", 1, 0.0, 0, 0};
    mx_fif full, sub;
    MXT_OK(mx_fif_compute(n, (const char *const *)paths, &o, &full, NULL, NULL));
    /* a hand-edited sub-frame, the way 000 l.1962-1971 edits NAXIS: the
     * first 80 columns of the full frame. The frames' boxes in the full
     * frame start at columns 8 to 144 (18 of them before column 79, the
     * nearest others at 86), so about half overlap, none marginally. */
    sub = full;
    sub.naxis[0] = 80;
    char fifp[4096];
    snprintf(fifp, sizeof fifp, "%s/sub_fif.tbl", tmp);
    MXT_OK(mx_fif_write(&sub, NULL, fifp));
    MXT_OK(mx_fif_read(fifp, &sub));
    int sel[30];
    mx_box boxes[30];
    MXT_OK(mx_geom_select(n, (const char *const *)paths, &sub, 0, 0, sel, boxes));
    mx_wcs *fw = NULL;
    MXT_OK(mx_fif_wcs(&sub, &fw));
    int nsel = 0, agree = 0;
    for (int i = 0; i < n; i++) {
        int ref = overlaps_sampled(paths[i], fw, &sub);
        nsel += sel[i];
        agree += ref == sel[i];
        if (ref != sel[i]) fprintf(stderr, "  frame %d: selected %d, sampled %d\n", i, sel[i], ref);
        if (sel[i]) MXT_TRUE(boxes[i].w > 0 && boxes[i].h > 0 && boxes[i].x0 >= 0 &&
                             boxes[i].x0 + boxes[i].w <= 80 && boxes[i].y0 + boxes[i].h <= full.naxis[1]);
        else MXT_TRUE(boxes[i].w == 0);
    }
    fprintf(stderr, "  geometry: %d of 30 frames overlap the 80-column sub-frame\n", nsel);
    MXT_EQ_INT(agree, 30);
    MXT_EQ_INT(nsel, 18);
    /* the full frame selects everything; a negative MARGIN drops marginal frames */
    int all[30];
    MXT_OK(mx_geom_select(n, (const char *const *)paths, &full, 0, 0, all, NULL));
    int nall = 0;
    for (int i = 0; i < n; i++) nall += all[i];
    MXT_EQ_INT(nall, 30);
    int shr[30], nshr = 0;
    MXT_OK(mx_geom_select(n, (const char *const *)paths, &sub, -30, 0, shr, NULL));
    for (int i = 0; i < n; i++) {
        nshr += shr[i];
        if (shr[i]) MXT_TRUE(sel[i]); /* shrinking only removes */
    }
    MXT_TRUE(nshr < nsel);
    int grw[30], ngrw = 0;
    MXT_OK(mx_geom_select(n, (const char *const *)paths, &sub, 60, 0, grw, NULL));
    for (int i = 0; i < n; i++) {
        ngrw += grw[i];
        if (sel[i]) MXT_TRUE(grw[i]);
    }
    MXT_TRUE(ngrw >= nsel);
    fprintf(stderr, "  geometry: MARGIN -30 keeps %d, MARGIN +60 keeps %d\n", nshr, ngrw);
    MXT_FAILS(mx_geom_select(n, (const char *const *)paths, &sub, -60, 0, shr, NULL), MX_ERR_PARAM,
              "MARGIN = -60");

    /* the driver writes the three tables */
    char outdir[4096];
    snprintf(outdir, sizeof outdir, "%s/out", tmp);
    mx_geom_opts go = {0, 0, 50, 50};
    int sel2[30], ns2 = 0;
    MXT_OK(mx_geom_run(n, (const char *const *)paths, fifp, &go, outdir, sel2, &ns2));
    MXT_EQ_INT(ns2, nsel);
    MXT_TRUE(memcmp(sel, sel2, sizeof sel) == 0);
    char p[4096];
    mx_fif g;
    snprintf(p, sizeof p, "%s/geom_fif.tbl", outdir);
    MXT_OK(mx_fif_read(p, &g));
    MXT_TRUE(memcmp(g.crpix, sub.crpix, sizeof g.crpix) == 0 && g.naxis[0] == 80);
    mx_table *t = NULL;
    snprintf(p, sizeof p, "%s/geom_Tile.tbl", outdir);
    MXT_OK(mx_table_read_ipac(p, &t));
    /* 80 / 50: 2 tiles of 40; NAXIS2 / 50 tiles in y, the last one larger */
    long nty, tty, lty;
    MXT_OK(mx_tiling_axis(full.naxis[1], 50, &nty, &tty, &lty));
    MXT_EQ_INT(t->nrows, 2 * nty);
    int64_t v;
    MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "naxis1"), 1, &v));
    MXT_EQ_INT(v, 40);
    MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "xoff"), 1, &v));
    MXT_EQ_INT(v, 40);
    MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "yoff"), t->nrows - 1, &v));
    MXT_EQ_INT(v, (nty - 1) * tty);
    MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "naxis2"), t->nrows - 1, &v));
    MXT_EQ_INT(v, lty);
    mx_table_free(t);
    snprintf(p, sizeof p, "%s/geom_Int_Img.tbl", outdir);
    MXT_OK(mx_table_read_ipac(p, &t));
    MXT_EQ_INT(t->nrows, nsel);
    for (long r = 0, i = 0; r < t->nrows; r++) {
        while (!sel[i]) i++;
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "image_id"), r, &v));
        MXT_EQ_INT(v, i + 1);
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "xoff"), r, &v));
        MXT_EQ_INT(v, boxes[i].x0);
        MXT_OK(mx_table_get_int(t, mx_table_find_column(t, "naxis2"), r, &v));
        MXT_EQ_INT(v, boxes[i].h);
        i++;
    }
    mx_table_free(t);
    /* a FIF far away selects nothing: an error naming the FIF */
    sub.crval[0] += 1.0;
    snprintf(p, sizeof p, "%s/far_fif.tbl", tmp);
    MXT_OK(mx_fif_write(&sub, NULL, p));
    MXT_FAILS(mx_geom_run(n, (const char *const *)paths, p, &go, outdir, sel2, NULL), MX_ERR_PARAM,
              "far_fif.tbl");
    mx_wcs_free(fw);
    free_paths(paths, n);
}

int main(void) {
    data_dir = mxt_data_dir();
    if (data_dir) {
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/gammit_grb120119a/ch1/bcd", data_dir);
        DIR *d = opendir(probe);
        if (d) closedir(d);
        else data_dir = NULL;
    }
    mx_log_set_level(MX_LOG_ERROR);
    MXT_RUN(test_tiling_oracle);
    MXT_RUN(test_sky_astropy);
    MXT_RUN(test_fif_guide_example);
    MXT_RUN(test_fif_round_trip);
    MXT_RUN(test_fif_rescale);
    MXT_RUN(test_moving_object);
    MXT_RUN(test_cdelt_crota2);
    MXT_RUN(test_fif_hemisphere);
    MXT_RUN(test_fif_real);
    MXT_RUN(test_geometry_real);
    if (!data_dir) fprintf(stderr, "real-data cases skipped: MOPEX_TEST_DATA has no gammit_grb120119a\n");
    return mxt_summary();
}
