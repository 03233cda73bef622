/* fif.c - the Fiducial Image Frame: table I/O, pixel-size derivation,
 * tiling, input frames (moving objects, CDELT/CROTA2 form), the FIF
 * computation and the Mosaic Geometry selection (mx_fif.h). */
#include "mopex/mopex.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define D2R (M_PI / 180.0)
#define R2D (180.0 / M_PI)

/* Points per edge between the corners of a footprint: IRAC's distortion
 * bends the edges by well under a pixel between 9 samples. */
#define FOOT_NEDGE 8
#define FOOT_NPT (4 * (FOOT_NEDGE + 1))

/* ---- small helpers ------------------------------------------------------ */

/* Fewest significant digits that read back as the same double, so that a
 * hand-editable table still round-trips exactly ("264.5", not
 * "264.50000000000000"). */
static void fmt_double(char *buf, size_t n, double v) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static int set_real(mx_table *t, const char *key, double v) {
    char buf[40];
    fmt_double(buf, sizeof buf, v);
    return mx_table_set_keyword(t, key, buf, 'r');
}

static double wrap180(double d) {
    d = fmod(d, 360.0);
    if (d > 180.0) d -= 360.0;
    if (d <= -180.0) d += 360.0;
    return d;
}

static double wrap360(double d) {
    d = fmod(d, 360.0);
    if (d < 0) d += 360.0;
    if (d >= 360.0) d -= 360.0;
    return d;
}

static void unit_vector(double lon, double lat, double v[3]) {
    double c = cos(lat * D2R);
    v[0] = c * cos(lon * D2R);
    v[1] = c * sin(lon * D2R);
    v[2] = sin(lat * D2R);
}

/* Length in bytes of a typographic dash at s (UTF-8 hyphens, en/em dash,
 * minus sign; cp1252 en/em dash), 0 if none. */
static int typo_dash(const unsigned char *s) {
    if (s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x90 && s[2] <= 0x95) return 3;
    if (s[0] == 0xE2 && s[1] == 0x88 && s[2] == 0x92) return 3;
    if (s[0] == 0x96 || s[0] == 0x97) return 1;
    return 0;
}

/* Split a FIF CTYPE ("RA---TAN", "DEC—TAN", "glat-sin") into its axis name
 * (upper case, "RA", "DEC", "GLON", ...) and projection code. 0 when it
 * does not look like a celestial CTYPE. */
static int split_ctype(const char *in, char name[5], char code[4]) {
    char s[40];
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && k + 1 < sizeof s;) {
        int d = typo_dash(p);
        if (d) {
            s[k++] = '-';
            p += d;
        } else {
            if (!isspace(*p)) s[k++] = (char)toupper(*p);
            p++;
        }
    }
    s[k] = '\0';
    size_t nl = strcspn(s, "-");
    if (nl == 0 || nl > 4 || s[nl] != '-') return 0;
    const char *p = s + nl;
    while (*p == '-') p++;
    if (strlen(p) != 3) return 0;
    memcpy(name, s, nl);
    name[nl] = '\0';
    memcpy(code, p, 4);
    return 1;
}

/* System of a CTYPE axis name; -1 when not a celestial longitude/latitude
 * pair name the FIF knows. *lat = 1 for the latitude axis. */
static int system_of_axis(const char *name, int *lat) {
    static const struct {
        const char *name;
        int sys, lat;
    } axes[] = {{"RA", MX_SKY_ICRS, 0},       {"DEC", MX_SKY_ICRS, 1},
                {"GLON", MX_SKY_GALACTIC, 0}, {"GLAT", MX_SKY_GALACTIC, 1},
                {"ELON", MX_SKY_ECLIPTIC, 0}, {"ELAT", MX_SKY_ECLIPTIC, 1}};
    for (size_t i = 0; i < sizeof axes / sizeof axes[0]; i++)
        if (strcmp(name, axes[i].name) == 0) {
            *lat = axes[i].lat;
            return axes[i].sys;
        }
    return -1;
}

/* ---- frame description ---------------------------------------------------- */

int mx_fif_set_type(mx_fif *f, mx_sky_system system, const char *projection) {
    char code[4];
    size_t n = projection ? strlen(projection) : 0;
    while (n > 0 && isspace((unsigned char)projection[n - 1])) n--;
    size_t s = 0;
    while (s < n && isspace((unsigned char)projection[s])) s++;
    if (n - s != 3)
        return mx_seterr(MX_ERR_PARAM, "projection '%s' is not a 3-letter WCS code (TAN, SIN, ...)",
                         projection ? projection : "(null)");
    for (int i = 0; i < 3; i++) {
        unsigned char c = (unsigned char)projection[s + (size_t)i];
        if (!isalpha(c))
            return mx_seterr(MX_ERR_PARAM, "projection '%s' is not a 3-letter WCS code", projection);
        code[i] = (char)toupper(c);
    }
    code[3] = '\0';
    if (strcmp(code, "STR") == 0) {
        mx_warn("projection 'STR' is not a FITS code; using stereographic 'STG'");
        memcpy(code, "STG", 4);
    }
    const char *lon, *lat;
    switch (system) {
    case MX_SKY_ICRS: lon = "RA--", lat = "DEC-"; break;
    case MX_SKY_GALACTIC: lon = "GLON", lat = "GLAT"; break;
    case MX_SKY_ECLIPTIC: lon = "ELON", lat = "ELAT"; break;
    default:
        return mx_seterr(MX_ERR_PARAM, "coordinate system %s has no FIF form (J2000, Galactic, "
                         "Ecliptic)", mx_sky_name(system));
    }
    f->system = system;
    memcpy(f->projection, code, 4);
    snprintf(f->ctype[0], sizeof f->ctype[0], "%s-%s", lon, code);
    snprintf(f->ctype[1], sizeof f->ctype[1], "%s-%s", lat, code);
    return MX_OK;
}

int mx_fif_wcs(const mx_fif *f, mx_wcs **out) {
    int st = mx_wcs_new_simple(f->ctype[0], f->ctype[1], f->crval, f->crpix, f->cdelt, f->crota2,
                               f->equinox > 0 ? f->equinox : 2000.0, out);
    if (st != MX_OK) return mx_preferr(st, "FIF (%s, %s)", f->ctype[0], f->ctype[1]);
    return MX_OK;
}

int mx_fif_to_table(const mx_fif *f, const char *program, mx_table **out) {
    int st = MX_OK;
    *out = NULL;
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "FIF table");
    char buf[160];
    snprintf(buf, sizeof buf, "Output from %s, mopexlua %s",
             program && *program ? program : "fiducial_image_frame", mx_version());
    st = mx_table_set_keyword(t, "comment", buf, 'c');
    time_t now = time(NULL);
    struct tm tmv;
    if (st == MX_OK && localtime_r(&now, &tmv) && strftime(buf, sizeof buf, "%b %d, %Y, %H:%M:%S", &tmv))
        st = mx_table_set_keyword(t, "Date-Time", buf, 'c');
    if (st == MX_OK) st = set_real(t, "CRVAL1", f->crval[0]);
    if (st == MX_OK) st = set_real(t, "CRVAL2", f->crval[1]);
    if (st == MX_OK) st = set_real(t, "CRPIX1", f->crpix[0]);
    if (st == MX_OK) st = set_real(t, "CRPIX2", f->crpix[1]);
    if (st == MX_OK) st = set_real(t, "CROTA2", f->crota2);
    if (st == MX_OK) st = set_real(t, "CDELT1", f->cdelt[0]);
    if (st == MX_OK) st = set_real(t, "CDELT2", f->cdelt[1]);
    if (st == MX_OK) st = mx_table_set_keyword_long(t, "NAXIS1", f->naxis[0]);
    if (st == MX_OK) st = mx_table_set_keyword_long(t, "NAXIS2", f->naxis[1]);
    if (st == MX_OK) st = mx_table_set_keyword_long(t, "EQUINOX", lround(f->equinox > 0 ? f->equinox : 2000.0));
    if (st == MX_OK) st = mx_table_set_keyword(t, "PROJTYPE", f->projection, 'c');
    if (st == MX_OK) st = mx_table_set_keyword(t, "COORDINATE_SYSTEM", mx_sky_name(f->system), 'c');
    if (st == MX_OK) st = mx_table_set_keyword(t, "CTYPE1", f->ctype[0], 'c');
    if (st == MX_OK) st = mx_table_set_keyword(t, "CTYPE2", f->ctype[1], 'c');
    if (st == MX_OK) st = set_real(t, "EXTENT_X", (double)f->naxis[0] * fabs(f->cdelt[0]));
    if (st == MX_OK) st = set_real(t, "EXTENT_Y", (double)f->naxis[1] * fabs(f->cdelt[1]));
    if (st != MX_OK) {
        mx_table_free(t);
        return st;
    }
    *out = t;
    return MX_OK;
}

int mx_fif_write(const mx_fif *f, const char *program, const char *path) {
    mx_table *t = NULL;
    int st = mx_fif_to_table(f, program, &t);
    if (st == MX_OK) st = mx_table_write_ipac(t, path);
    mx_table_free(t);
    if (st != MX_OK) return mx_preferr(st, "writing FIF '%s'", path);
    return MX_OK;
}

/* A required numeric keyword of a FIF table. */
static int fif_num(const mx_table *t, const char *src, const char *key, double *v) {
    const char *s = mx_table_get_keyword(t, key);
    if (!s) return mx_seterr(MX_ERR_NOTFOUND, "FIF '%s': keyword %s is missing", src, key);
    int st = mx_table_get_keyword_double(t, key, v);
    if (st != MX_OK) return mx_seterr(st, "FIF '%s': %s = '%s' is not a number", src, key, s);
    if (!isfinite(*v)) return mx_seterr(MX_ERR_FORMAT, "FIF '%s': %s = '%s' is not finite", src, key, s);
    return MX_OK;
}

/* An optional one: 0 when absent, 1 when read, <0 status on a bad value. */
static int fif_num_opt(const mx_table *t, const char *src, const char *key, double *v, int *st) {
    *st = MX_OK;
    if (!mx_table_get_keyword(t, key)) return 0;
    *st = fif_num(t, src, key, v);
    return *st == MX_OK;
}

int mx_fif_from_table(const mx_table *t, const char *source, mx_fif *out) {
    const char *src = source && *source ? source : "table";
    mx_fif f;
    int st;
    memset(&f, 0, sizeof f);
    double v;
    if ((st = fif_num(t, src, "CRVAL1", &f.crval[0])) != MX_OK) return st;
    if ((st = fif_num(t, src, "CRVAL2", &f.crval[1])) != MX_OK) return st;
    for (int i = 0; i < 2; i++) {
        char key[16];
        snprintf(key, sizeof key, "NAXIS%d", i + 1);
        if ((st = fif_num(t, src, key, &v)) != MX_OK) return st;
        if (v != floor(v) || v < 1 || v > 1e9)
            return mx_seterr(MX_ERR_FORMAT, "FIF '%s': %s = %s must be a positive integer", src, key,
                             mx_table_get_keyword(t, key));
        f.naxis[i] = (long)v;
    }
    if (fabs(f.crval[1]) > 90.0)
        return mx_seterr(MX_ERR_FORMAT, "FIF '%s': CRVAL2 = %g is not a latitude", src, f.crval[1]);
    /* linear part: CDELT/CROTA2, or a CD matrix someone pasted in */
    int have_cdelt = mx_table_get_keyword(t, "CDELT1") || mx_table_get_keyword(t, "CDELT2");
    if (have_cdelt || !mx_table_get_keyword(t, "CD1_1")) {
        if ((st = fif_num(t, src, "CDELT1", &f.cdelt[0])) != MX_OK) return st;
        if ((st = fif_num(t, src, "CDELT2", &f.cdelt[1])) != MX_OK) return st;
        f.crota2 = 0.0;
        if (!fif_num_opt(t, src, "CROTA2", &f.crota2, &st) && st != MX_OK) return st;
    } else {
        mx_header *h = mx_header_new();
        if (!h) return mx_seterr(MX_ERR_NOMEM, "FIF '%s'", src);
        static const char *const cd[4] = {"CD1_1", "CD1_2", "CD2_1", "CD2_2"};
        for (int k = 0; k < 4 && st == MX_OK; k++) {
            if ((st = fif_num(t, src, cd[k], &v)) == MX_OK) st = mx_header_set_double(h, cd[k], v, NULL);
        }
        if (st == MX_OK) st = mx_header_cdelt_crota2(h, src, f.cdelt, &f.crota2);
        mx_header_free(h);
        if (st != MX_OK) return st;
        mx_warn("FIF '%s': CD matrix converted to CDELT1 = %.10g, CDELT2 = %.10g, CROTA2 = %.8g",
                src, f.cdelt[0], f.cdelt[1], f.crota2);
    }
    for (int i = 0; i < 2; i++)
        if (f.cdelt[i] == 0.0) return mx_seterr(MX_ERR_FORMAT, "FIF '%s': CDELT%d is zero", src, i + 1);
    if (f.cdelt[0] > 0)
        mx_warn("FIF '%s': CDELT1 = %g > 0: the frame is mirrored (east to the right)", src, f.cdelt[0]);
    if (f.cdelt[1] < 0)
        mx_warn("FIF '%s': CDELT2 = %g < 0: the frame is mirrored (north down)", src, f.cdelt[1]);
    for (int i = 0; i < 2; i++) {
        char key[16];
        snprintf(key, sizeof key, "CRPIX%d", i + 1);
        if (!fif_num_opt(t, src, key, &f.crpix[i], &st)) {
            if (st != MX_OK) return st;
            f.crpix[i] = (f.naxis[i] + 1) / 2.0;
        }
    }
    f.equinox = 2000.0;
    if (!fif_num_opt(t, src, "EQUINOX", &f.equinox, &st) && st != MX_OK) return st;

    /* system and projection: CTYPE first, then the descriptive keywords */
    const char *c1 = mx_table_get_keyword(t, "CTYPE1"), *c2 = mx_table_get_keyword(t, "CTYPE2");
    const char *sysname = mx_table_get_keyword(t, "COORDINATE_SYSTEM");
    const char *proj = mx_table_get_keyword(t, "PROJTYPE");
    mx_sky_system sys = MX_SKY_ICRS;
    char code[4] = "TAN";
    if (sysname && *sysname) {
        if ((st = mx_sky_parse(sysname, &sys)) != MX_OK)
            return mx_preferr(st, "FIF '%s': COORDINATE_SYSTEM", src);
    }
    if (proj && *proj) snprintf(code, sizeof code, "%.3s", proj);
    if (c1 || c2) {
        char n1[5], n2[5], p1[4], p2[4];
        int lat1 = 0, lat2 = 0;
        if (!c1 || !c2)
            return mx_seterr(MX_ERR_FORMAT, "FIF '%s': CTYPE%d is missing (the other CTYPE is given)",
                             src, c1 ? 2 : 1);
        if (!split_ctype(c1, n1, p1) || !split_ctype(c2, n2, p2))
            return mx_seterr(MX_ERR_FORMAT, "FIF '%s': CTYPE1 = '%s', CTYPE2 = '%s' are not celestial "
                             "types like RA---TAN, DEC--TAN", src, c1, c2);
        int s1 = system_of_axis(n1, &lat1), s2 = system_of_axis(n2, &lat2);
        if (s1 < 0 || s2 < 0 || s1 != s2 || lat1 || !lat2 || strcmp(p1, p2) != 0)
            return mx_seterr(MX_ERR_FORMAT, "FIF '%s': CTYPE1 = '%s', CTYPE2 = '%s' are not a "
                             "longitude/latitude pair of J2000, Galactic or Ecliptic with one "
                             "projection", src, c1, c2);
        if (sysname && *sysname && (mx_sky_system)s1 != sys)
            mx_warn("FIF '%s': COORDINATE_SYSTEM = %s disagrees with CTYPE1 = '%s'; CTYPE wins", src,
                    sysname, c1);
        if (proj && *proj && strncasecmp(proj, p1, 3) != 0)
            mx_warn("FIF '%s': PROJTYPE = %s disagrees with CTYPE1 = '%s'; CTYPE wins", src, proj, c1);
        sys = (mx_sky_system)s1;
        memcpy(code, p1, 4);
    }
    if ((st = mx_fif_set_type(&f, sys, code)) != MX_OK) return mx_preferr(st, "FIF '%s'", src);
    *out = f;
    return MX_OK;
}

int mx_fif_read(const char *path, mx_fif *out) {
    mx_table *t = NULL;
    int st = mx_table_read_ipac(path, &t);
    if (st == MX_OK) st = mx_fif_from_table(t, path, out);
    mx_table_free(t);
    return st;
}

/* ---- pixel size ----------------------------------------------------------- */

int mx_fif_rescale(const mx_fif *in, double size_x, double size_y, double ratio_x,
                   double ratio_y, mx_fif *out) {
    const double size[2] = {size_x, size_y}, ratio[2] = {ratio_x, ratio_y};
    static const char *const axis[2] = {"X", "Y"};
    mx_fif f = *in;
    for (int i = 0; i < 2; i++) {
        double cd;
        if (!isnan(size[i])) {
            if (!isfinite(size[i]) || size[i] == 0.0)
                return mx_seterr(MX_ERR_PARAM, "MOSAIC_PIXEL_SIZE_%s = %g must be a finite, non-zero "
                                 "size in degrees", axis[i], size[i]);
            if (i == 0 && size[i] > 0)
                return mx_seterr(MX_ERR_PARAM, "MOSAIC_PIXEL_SIZE_X = %g must be negative (RA "
                                 "increases to the left)", size[i]);
            if (i == 1 && size[i] < 0)
                return mx_seterr(MX_ERR_PARAM, "MOSAIC_PIXEL_SIZE_Y = %g must be positive", size[i]);
            cd = copysign(fabs(size[i]), in->cdelt[i]);
        } else {
            double r = isnan(ratio[i]) ? 1.0 : ratio[i];
            if (!(r > 0) || !isfinite(r))
                return mx_seterr(MX_ERR_PARAM, "MOSAIC_PIXEL_RATIO_%s = %g must be positive", axis[i], r);
            cd = in->cdelt[i] / r;
        }
        double fac = fabs(in->cdelt[i] / cd);
        double nn = (double)in->naxis[i] * fac;
        double nr = nearbyint(nn);
        double naxis = fabs(nn - nr) <= 1e-9 * fmax(1.0, nn) ? nr : ceil(nn);
        if (naxis < 1 || naxis > 2e9)
            return mx_seterr(MX_ERR_PARAM, "pixel size %s: %ld FIF pixels become %.0f output pixels",
                             axis[i], in->naxis[i], naxis);
        f.naxis[i] = (long)naxis;
        f.cdelt[i] = cd;
        f.crpix[i] = (in->crpix[i] - 0.5) * fac + 0.5;
    }
    *out = f;
    return MX_OK;
}

/* ---- tiling --------------------------------------------------------------- */

int mx_tiling_axis(long naxis, long tilemax, long *ntiles, long *tile, long *last) {
    if (naxis < 1 || tilemax < 1)
        return mx_seterr(MX_ERR_PARAM, "tiling: axis of %ld pixels with tiles of at most %ld", naxis,
                         tilemax);
    long n = naxis / tilemax;
    if (naxis % tilemax > tilemax / 2) n++;
    if (n == 0) n = 1; /* guard: the literal rule divides by zero below tilemax/2 */
    *ntiles = n;
    *tile = naxis / n;
    *last = *tile + naxis % n;
    return MX_OK;
}

int mx_tiling(long naxis1, long naxis2, long tilemax_x, long tilemax_y, mx_tile **tiles,
              int *ntiles) {
    long nx, tx, lx, ny, ty, ly;
    int st;
    *tiles = NULL;
    *ntiles = 0;
    if ((st = mx_tiling_axis(naxis1, tilemax_x, &nx, &tx, &lx)) != MX_OK) return st;
    if ((st = mx_tiling_axis(naxis2, tilemax_y, &ny, &ty, &ly)) != MX_OK) return st;
    if (nx * ny > 1000000)
        return mx_seterr(MX_ERR_PARAM, "tiling %ld x %ld with tiles of %ld x %ld gives %ld tiles",
                         naxis1, naxis2, tilemax_x, tilemax_y, nx * ny);
    mx_tile *t = malloc((size_t)(nx * ny) * sizeof *t);
    if (!t) return mx_seterr(MX_ERR_NOMEM, "%ld tiles", nx * ny);
    int k = 0;
    for (long j = 0; j < ny; j++)
        for (long i = 0; i < nx; i++, k++) {
            t[k].id = k + 1;
            t[k].x0 = i * tx;
            t[k].y0 = j * ty;
            t[k].nx = i == nx - 1 ? lx : tx;
            t[k].ny = j == ny - 1 ? ly : ty;
        }
    *tiles = t;
    *ntiles = k;
    return MX_OK;
}

int mx_offsets_table_new(const char *id_column, const char *program, const char *unit,
                         mx_table **out) {
    *out = NULL;
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "offsets table of %s", program);
    char buf[512];
    snprintf(buf, sizeof buf, "Output from %s, mopexlua %s", program, mx_version());
    int st = mx_table_set_keyword(t, "comment", buf, 'c');
    const char *const names[6] = {id_column, "fname", "xoff", "yoff", "naxis1", "naxis2"};
    for (int c = 0; c < 6 && st == MX_OK; c++)
        st = mx_table_add_column(t, names[c], c == 1 ? MX_COL_STRING : MX_COL_INT,
                                 c >= 2 ? unit : NULL, NULL);
    if (st != MX_OK) {
        mx_table_free(t);
        return st;
    }
    *out = t;
    return MX_OK;
}

int mx_offsets_table_add(mx_table *t, long id, const char *fname, long xoff, long yoff,
                         long naxis1, long naxis2) {
    long r;
    int st = mx_table_append_row(t, &r);
    if (st == MX_OK) st = mx_table_set_int(t, 0, r, id);
    if (st == MX_OK) st = mx_table_set_string(t, 1, r, fname);
    if (st == MX_OK) st = mx_table_set_int(t, 2, r, xoff);
    if (st == MX_OK) st = mx_table_set_int(t, 3, r, yoff);
    if (st == MX_OK) st = mx_table_set_int(t, 4, r, naxis1);
    if (st == MX_OK) st = mx_table_set_int(t, 5, r, naxis2);
    return st;
}

int mx_tiles_table(const mx_tile *tiles, int ntiles, const char *prefix, const char *suffix,
                   const char *program, mx_table **out) {
    mx_table *t = NULL;
    *out = NULL;
    int st = mx_offsets_table_new("tile_id", program && *program ? program : "tiling", "pixels", &t);
    for (int k = 0; k < ntiles && st == MX_OK; k++) {
        char name[512];
        snprintf(name, sizeof name, "%sTile_%03d%s", prefix ? prefix : "", tiles[k].id,
                 suffix ? suffix : "");
        st = mx_offsets_table_add(t, tiles[k].id, name, tiles[k].x0, tiles[k].y0, tiles[k].nx,
                                  tiles[k].ny);
    }
    if (st != MX_OK) {
        mx_table_free(t);
        return st;
    }
    *out = t;
    return MX_OK;
}

/* ---- input frames --------------------------------------------------------- */

static int ref_keys(const mx_header *h, const char *src, double *ra, double *dec) {
    int st = mx_header_get_double(h, "RA_REF", ra);
    if (st == MX_OK) st = mx_header_get_double(h, "DEC_REF", dec);
    if (st != MX_OK)
        return mx_seterr(st, "'%s': moving-object mosaic needs RA_REF and DEC_REF (000 l.1996-2016): "
                         "%s", src, mx_errmsg());
    return MX_OK;
}

int mx_moving_ref_read(int n, const char *const *paths, long frame, mx_moving_ref *out) {
    memset(out, 0, sizeof *out);
    if (frame == 0) return MX_OK;
    if (frame < 0 || frame > n)
        return mx_seterr(MX_ERR_PARAM, "MOVING_OBJECT_MOSAIC = %ld: the image list has %d frames",
                         frame, n);
    mx_header *h = NULL;
    int st = mx_fits_read_header(paths[frame - 1], &h, NULL, NULL, NULL);
    if (st == MX_OK) st = ref_keys(h, paths[frame - 1], &out->ra_ref, &out->dec_ref);
    mx_header_free(h);
    if (st == MX_OK) out->on = 1;
    return st;
}

int mx_moving_apply(const mx_moving_ref *m, mx_header *h, const char *source) {
    if (!m || !m->on) return MX_OK;
    const char *src = source ? source : "header";
    double ra, dec, c1, c2;
    int st = ref_keys(h, src, &ra, &dec);
    if (st != MX_OK) return st;
    if ((st = mx_header_get_double(h, "CRVAL1", &c1)) != MX_OK ||
        (st = mx_header_get_double(h, "CRVAL2", &c2)) != MX_OK)
        return mx_preferr(st, "'%s'", src);
    c1 = wrap360(c1 + wrap180(m->ra_ref - ra));
    c2 += m->dec_ref - dec;
    if (fabs(c2) > 90.0)
        return mx_seterr(MX_ERR_PARAM, "'%s': moving-object shift takes CRVAL2 to %g", src, c2);
    st = mx_header_set_double(h, "CRVAL1", c1, NULL);
    if (st == MX_OK) st = mx_header_set_double(h, "CRVAL2", c2, NULL);
    return st;
}

int mx_frame_wcs_read(const char *path, const mx_moving_ref *m, mx_wcs **w, long *nx, long *ny,
                      mx_header **hdr) {
    mx_header *h = NULL;
    *w = NULL;
    if (hdr) *hdr = NULL;
    int st = mx_fits_read_header(path, &h, nx, ny, NULL);
    if (st == MX_OK) st = mx_moving_apply(m, h, path);
    if (st == MX_OK) st = mx_wcs_from_header(h, path, w);
    if (st == MX_OK && hdr) {
        *hdr = h;
        h = NULL;
    }
    mx_header_free(h);
    return st;
}

int mx_header_cdelt_crota2(const mx_header *h, const char *source, double cdelt[2],
                           double *crota2) {
    const char *src = source ? source : "header";
    double cd[2][2];
    int have_cd = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            char key[16];
            snprintf(key, sizeof key, "CD%d_%d", i + 1, j + 1);
            cd[i][j] = 0.0;
            if (mx_header_has(h, key)) {
                int st = mx_header_get_double(h, key, &cd[i][j]);
                if (st != MX_OK) return st;
                have_cd = 1;
            }
        }
    if (!have_cd) {
        double cdl[2], pc[2][2] = {{1, 0}, {0, 1}}, rho = 0.0;
        int have_pc = 0;
        for (int i = 0; i < 2; i++) {
            char key[16];
            snprintf(key, sizeof key, "CDELT%d", i + 1);
            int st = mx_header_get_double(h, key, &cdl[i]);
            if (st != MX_OK)
                return mx_seterr(st, "'%s': neither a CD matrix nor CDELT%d (%s)", src, i + 1, mx_errmsg());
            for (int j = 0; j < 2; j++) {
                snprintf(key, sizeof key, "PC%d_%d", i + 1, j + 1);
                if (mx_header_has(h, key)) {
                    if ((st = mx_header_get_double(h, key, &pc[i][j])) != MX_OK) return st;
                    have_pc = 1;
                }
            }
        }
        if (!have_pc) {
            if (mx_header_has(h, "CROTA2")) {
                int st = mx_header_get_double(h, "CROTA2", &rho);
                if (st != MX_OK) return st;
            }
            cdelt[0] = cdl[0];
            cdelt[1] = cdl[1];
            *crota2 = rho;
            return MX_OK;
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) cd[i][j] = cdl[i] * pc[i][j];
    }
    double c2 = hypot(cd[0][1], cd[1][1]), c1 = hypot(cd[0][0], cd[1][0]);
    if (!(c1 > 0) || !(c2 > 0))
        return mx_seterr(MX_ERR_WCS, "'%s': the CD matrix is singular", src);
    double det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
    cdelt[1] = c2;
    cdelt[0] = det < 0 ? -c1 : c1;
    *crota2 = atan2(-cd[0][1], cd[1][1]) * R2D;
    return MX_OK;
}

/* ---- FIF computation ------------------------------------------------------- */

typedef struct frame_geo {
    long nx, ny;
    double lon[FOOT_NPT], lat[FOOT_NPT];  /* footprint in the output system */
    double crota2;                         /* orientation in the output system */
    double scale;                          /* arcsec/pixel */
    double crpix[2], crval[2], cdelt[2], crota2_hdr;
    char ctype[2][72];
    double xmin, xmax, ymin, ymax;         /* projected box, per iteration */
} frame_geo;

typedef struct fif_ctx {
    const char *const *paths;
    const mx_moving_ref *moving;
    mx_sky_system sys;
    frame_geo *g;
    mx_wcs **tw;       /* per-thread copies of the trial frame */
    const mx_wcs *trial;
    mx_progress *prog;
} fif_ctx;

/* Position angle (E of N) at (lon1, lat1) of the direction to (lon2, lat2). */
static double position_angle(double lon1, double lat1, double lon2, double lat2) {
    double da = (lon2 - lon1) * D2R, d1 = lat1 * D2R, d2 = lat2 * D2R;
    return atan2(sin(da) * cos(d2), cos(d1) * sin(d2) - sin(d1) * cos(d2) * cos(da)) * R2D;
}

static int fif_frame(long i, void *vctx, int thread) {
    (void)thread;
    fif_ctx *c = vctx;
    frame_geo *g = &c->g[i];
    const char *path = c->paths[i];
    mx_wcs *w = NULL;
    mx_header *h = NULL;
    int st = mx_frame_wcs_read(path, c->moving, &w, &g->nx, &g->ny, &h);
    if (st != MX_OK) goto exit;
    mx_sky_system in;
    if ((st = mx_sky_of_wcs(w, &in)) != MX_OK) {
        st = mx_preferr(st, "'%s'", path);
        goto exit;
    }
    if ((st = mx_wcs_footprint(w, g->nx, g->ny, FOOT_NEDGE, g->lon, g->lat)) != MX_OK) goto exit;
    for (int k = 0; k < FOOT_NPT; k++)
        if (!isfinite(g->lon[k]) || !isfinite(g->lat[k])) {
            st = mx_seterr(MX_ERR_WCS, "'%s': a footprint point is outside the projection's domain",
                           path);
            goto exit;
        }
    double xc = (g->nx - 1) / 2.0, yc = (g->ny - 1) / 2.0, sx, sy, rho;
    if ((st = mx_wcs_pixel_scale(w, xc, yc, &sx, &sy)) != MX_OK) goto exit;
    if ((st = mx_wcs_orientation(w, xc, yc, &rho, NULL)) != MX_OK) goto exit;
    g->scale = 0.5 * (sx + sy);
    if (in != c->sys) {
        /* the output system's north is turned by theta from the input's at
         * this place: +y keeps its direction, its position angle changes */
        double lo[2], la[2];
        if ((st = mx_wcs_pix2sky(w, 1, &xc, &yc, lo, la)) != MX_OK) goto exit;
        double step = la[0] > 89.0 ? -1e-3 : 1e-3;
        lo[1] = lo[0];
        la[1] = la[0] + step;
        if ((st = mx_sky_convert(in, c->sys, 2, lo, la)) != MX_OK) goto exit;
        double theta = position_angle(lo[0], la[0], lo[1], la[1]);
        if (step < 0) theta += 180.0;
        rho -= theta;
        if ((st = mx_sky_convert(in, c->sys, FOOT_NPT, g->lon, g->lat)) != MX_OK) goto exit;
    }
    g->crota2 = wrap180(rho);
    /* header_list.tbl: the header's own WCS in CDELT/CROTA2 form */
    if ((st = mx_header_cdelt_crota2(h, path, g->cdelt, &g->crota2_hdr)) != MX_OK) goto exit;
    double crval[2], crpix[2];
    mx_wcs_reference(w, crval, crpix);
    for (int k = 0; k < 2; k++) {
        g->crval[k] = crval[k];
        g->crpix[k] = crpix[k];
        char key[16];
        snprintf(key, sizeof key, "CTYPE%d", k + 1);
        if (mx_header_get_string(h, key, g->ctype[k], sizeof g->ctype[k]) != MX_OK)
            snprintf(g->ctype[k], sizeof g->ctype[k], "%s", mx_wcs_ctype(w, k));
    }
    mx_clearerr();
    mx_progress_step(c->prog, 1);
exit:
    mx_wcs_free(w);
    mx_header_free(h);
    return st;
}

/* Project one frame's footprint with this thread's copy of the trial frame. */
static int fif_project(long i, void *vctx, int thread) {
    fif_ctx *c = vctx;
    frame_geo *g = &c->g[i];
    int st;
    if (!c->tw[thread] && (st = mx_wcs_dup(c->trial, &c->tw[thread])) != MX_OK) return st;
    double x[FOOT_NPT], y[FOOT_NPT];
    if ((st = mx_wcs_sky2pix(c->tw[thread], FOOT_NPT, g->lon, g->lat, x, y)) != MX_OK) return st;
    g->xmin = g->ymin = INFINITY;
    g->xmax = g->ymax = -INFINITY;
    for (int k = 0; k < FOOT_NPT; k++) {
        if (!isfinite(x[k]) || !isfinite(y[k]))
            return mx_seterr(MX_ERR_WCS, "'%s': footprint cannot be projected onto the output "
                             "frame (beyond the projection's domain)", c->paths[i]);
        g->xmin = fmin(g->xmin, x[k]);
        g->xmax = fmax(g->xmax, x[k]);
        g->ymin = fmin(g->ymin, y[k]);
        g->ymax = fmax(g->ymax, y[k]);
    }
    return MX_OK;
}

static int header_list_table(int n, const char *const *paths, const frame_geo *g, mx_table **out) {
    static const struct {
        const char *name;
        mx_coltype type;
        const char *unit;
    } cols[13] = {{"image_id", MX_COL_INT, NULL},   {"fname", MX_COL_STRING, NULL},
                  {"naxis1", MX_COL_INT, NULL},     {"naxis2", MX_COL_INT, NULL},
                  {"crpix1", MX_COL_DOUBLE, "pix"}, {"crpix2", MX_COL_DOUBLE, "pix"},
                  {"crval1", MX_COL_DOUBLE, "deg"}, {"crval2", MX_COL_DOUBLE, "deg"},
                  {"cdelt1", MX_COL_DOUBLE, "deg"}, {"cdelt2", MX_COL_DOUBLE, "deg"},
                  {"crota2", MX_COL_DOUBLE, "deg"}, {"ctype1", MX_COL_STRING, NULL},
                  {"ctype2", MX_COL_STRING, NULL}};
    int st = MX_OK;
    *out = NULL;
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "header list table");
    char buf[160];
    snprintf(buf, sizeof buf, "Output from fiducial_image_frame, mopexlua %s", mx_version());
    st = mx_table_set_keyword(t, "comment", buf, 'c');
    for (int c = 0; c < 13 && st == MX_OK; c++)
        st = mx_table_add_column(t, cols[c].name, cols[c].type, cols[c].unit, NULL);
    if (st == MX_OK) st = mx_table_set_nrows(t, n);
    for (int i = 0; i < n && st == MX_OK; i++) {
        const frame_geo *f = &g[i];
        const double d[7] = {f->crpix[0], f->crpix[1], f->crval[0], f->crval[1],
                             f->cdelt[0], f->cdelt[1], f->crota2_hdr};
        st = mx_table_set_int(t, 0, i, i + 1);
        if (st == MX_OK) st = mx_table_set_string(t, 1, i, paths[i]);
        if (st == MX_OK) st = mx_table_set_int(t, 2, i, f->nx);
        if (st == MX_OK) st = mx_table_set_int(t, 3, i, f->ny);
        for (int k = 0; k < 7 && st == MX_OK; k++) st = mx_table_set_double(t, 4 + k, i, d[k]);
        if (st == MX_OK) st = mx_table_set_string(t, 11, i, f->ctype[0]);
        if (st == MX_OK) st = mx_table_set_string(t, 12, i, f->ctype[1]);
    }
    if (st != MX_OK) {
        mx_table_free(t);
        return st;
    }
    *out = t;
    return MX_OK;
}

int mx_fif_compute(int n, const char *const *paths, const mx_fif_opts *o, mx_fif *out,
                   mx_table **header_list, mx_fif_info *info) {
    int st = MX_OK;
    frame_geo *g = NULL;
    mx_wcs *trial = NULL;
    mx_wcs **tw = NULL;
    int nt = mx_threads();
    mx_moving_ref moving;
    mx_fif f;
    mx_fif_info inf;
    memset(&f, 0, sizeof f);
    memset(&inf, 0, sizeof inf);
    if (header_list) *header_list = NULL;
    if (n < 1 || !paths) return mx_seterr(MX_ERR_PARAM, "fiducial image frame: no input images");
    if (!(o->edge_padding >= 0) || !isfinite(o->edge_padding))
        return mx_seterr(MX_ERR_PARAM, "Edge_Padding = %g must be >= 0 arcsec", o->edge_padding);
    if (!o->crota2_average && !isfinite(o->crota2))
        return mx_seterr(MX_ERR_PARAM, "CROTA2 = %g is not an angle", o->crota2);
    mx_sky_system sys;
    if ((st = mx_sky_parse(o->system, &sys)) != MX_OK) return mx_preferr(st, "Coordinate_System");
    if ((st = mx_fif_set_type(&f, sys, o->projection)) != MX_OK) return mx_preferr(st, "Projection_Type");
    f.equinox = 2000.0;
    if ((st = mx_moving_ref_read(n, paths, o->moving_object, &moving)) != MX_OK) return st;

    g = calloc((size_t)n, sizeof *g);
    tw = calloc((size_t)nt, sizeof *tw);
    if (!g || !tw) {
        st = mx_seterr(MX_ERR_NOMEM, "footprints of %d frames", n);
        goto exit;
    }
    fif_ctx ctx = {paths, &moving, sys, g, tw, NULL, NULL};
    ctx.prog = mx_progress_start("fiducial_frame", n, "headers");
    st = mx_parallel_for_n(n, nt, fif_frame, &ctx);
    mx_progress_done(ctx.prog);
    if (st != MX_OK) goto exit;

    /* reductions in index order: identical for any thread count */
    double ss = 0, sc = 0, ssc = 0, vsum[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        ss += sin(g[i].crota2 * D2R);
        sc += cos(g[i].crota2 * D2R);
        ssc += g[i].scale;
        for (int k = 0; k < FOOT_NPT; k++) {
            double v[3];
            unit_vector(g[i].lon[k], g[i].lat[k], v);
            vsum[0] += v[0], vsum[1] += v[1], vsum[2] += v[2];
        }
    }
    inf.pixel_scale = ssc / n;
    if (hypot(ss, sc) < 1e-9 * n) {
        mx_warn("fiducial image frame: the input orientations cancel out; average CROTA2 taken as 0");
        inf.crota2_mean = 0.0;
    } else {
        inf.crota2_mean = atan2(ss, sc) * R2D;
    }
    f.crota2 = o->crota2_average ? inf.crota2_mean : o->crota2;
    double s = inf.pixel_scale / 3600.0;
    if (!(s > 0) || !isfinite(s)) {
        st = mx_seterr(MX_ERR_WCS, "fiducial image frame: mean input pixel scale %g arcsec",
                       inf.pixel_scale);
        goto exit;
    }
    f.cdelt[0] = -s;
    f.cdelt[1] = s;
    double norm = sqrt(vsum[0] * vsum[0] + vsum[1] * vsum[1] + vsum[2] * vsum[2]);
    if (!(norm > 1e-9 * n * FOOT_NPT)) {
        st = mx_seterr(MX_ERR_PARAM, "the %d input images do not fit in one hemisphere (their "
                       "footprints surround the sphere; 000 l.771-773)", n);
        goto exit;
    }
    double T[2] = {wrap360(atan2(vsum[1], vsum[0]) * R2D), atan2(vsum[2], hypot(vsum[0], vsum[1])) * R2D};
    /* the inputs must fit in a hemisphere around the centre */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < FOOT_NPT; k++) {
            double d = mx_sky_distance(T[0], T[1], g[i].lon[k], g[i].lat[k]);
            if (d > 90.0) {
                st = mx_seterr(MX_ERR_PARAM, "the input images do not fit in one hemisphere: '%s' "
                               "reaches %.2f deg from their centre (%.6f, %.6f); at most 90 deg "
                               "(000 l.771-773)", paths[i], d, T[0], T[1]);
                goto exit;
            }
        }
    const double crpix0[2] = {1.0, 1.0};
    double xmin = 0, xmax = 0, ymin = 0, ymax = 0;
    for (int it = 1; it <= 50; it++) {
        mx_wcs_free(trial);
        trial = NULL;
        for (int t = 0; t < nt; t++) {
            mx_wcs_free(tw[t]);
            tw[t] = NULL;
        }
        if ((st = mx_wcs_new_simple(f.ctype[0], f.ctype[1], T, crpix0, f.cdelt, f.crota2, 2000.0,
                                    &trial)) != MX_OK) {
            st = mx_preferr(st, "output frame %s/%s", f.ctype[0], f.ctype[1]);
            goto exit;
        }
        ctx.trial = trial;
        if ((st = mx_parallel_for_n(n, nt, fif_project, &ctx)) != MX_OK) goto exit;
        xmin = ymin = INFINITY;
        xmax = ymax = -INFINITY;
        for (int i = 0; i < n; i++) {
            xmin = fmin(xmin, g[i].xmin);
            xmax = fmax(xmax, g[i].xmax);
            ymin = fmin(ymin, g[i].ymin);
            ymax = fmax(ymax, g[i].ymax);
        }
        inf.iterations = it;
        double cx = 0.5 * (xmin + xmax), cy = 0.5 * (ymin + ymax);
        if (hypot(cx, cy) < 1e-6) break;
        double lo, la;
        if ((st = mx_wcs_pix2sky(trial, 1, &cx, &cy, &lo, &la)) != MX_OK) goto exit;
        if (!isfinite(lo) || !isfinite(la)) {
            st = mx_seterr(MX_ERR_WCS, "fiducial image frame: the box centre (%g, %g) px has no sky "
                           "position in projection %s", cx, cy, f.projection);
            goto exit;
        }
        T[0] = wrap360(lo);
        T[1] = la;
    }
    double pad = o->edge_padding / 3600.0 / s;
    double hx = fmax(-xmin, xmax), hy = fmax(-ymin, ymax);
    /* a millionth of a pixel over a whole number is rounding in the scale
     * estimate (central differences), not sky to cover */
    double nx = ceil(2.0 * (hx + pad) - 1e-6), ny = ceil(2.0 * (hy + pad) - 1e-6);
    if (o->margin > 0) {
        nx += 2.0 * (double)o->margin;
        ny += 2.0 * (double)o->margin;
    }
    if (nx > 2e9 || ny > 2e9) {
        st = mx_seterr(MX_ERR_PARAM, "fiducial image frame of %.0f x %.0f pixels is too large", nx, ny);
        goto exit;
    }
    f.naxis[0] = nx < 1 ? 1 : (long)nx;
    f.naxis[1] = ny < 1 ? 1 : (long)ny;
    f.crpix[0] = (f.naxis[0] + 1) / 2.0;
    f.crpix[1] = (f.naxis[1] + 1) / 2.0;
    f.crval[0] = T[0];
    f.crval[1] = T[1];
    inf.max_distance = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < FOOT_NPT; k++)
            inf.max_distance = fmax(inf.max_distance, mx_sky_distance(T[0], T[1], g[i].lon[k], g[i].lat[k]));
    if (inf.max_distance > 90.0) {
        st = mx_seterr(MX_ERR_PARAM, "the input images do not fit in one hemisphere: a footprint "
                       "reaches %.2f deg from the frame centre (000 l.771-773)", inf.max_distance);
        goto exit;
    }
    if (header_list && (st = header_list_table(n, paths, g, header_list)) != MX_OK) goto exit;
    *out = f;
    if (info) *info = inf;
exit:
    if (tw)
        for (int t = 0; t < nt; t++) mx_wcs_free(tw[t]);
    free(tw);
    mx_wcs_free(trial);
    free(g);
    return st;
}

int mx_fif_run(int n, const char *const *paths, const mx_fif_opts *opts, const char *fif_path,
               const char *header_list_path, mx_fif *out, mx_fif_info *info) {
    mx_table *hl = NULL;
    mx_fif f;
    int st = mx_fif_compute(n, paths, opts, &f, header_list_path ? &hl : NULL, info);
    if (st == MX_OK && header_list_path) st = mx_table_write_ipac(hl, header_list_path);
    if (st == MX_OK && fif_path) st = mx_fif_write(&f, "fiducial_image_frame", fif_path);
    mx_table_free(hl);
    if (st == MX_OK && out) *out = f;
    return st;
}

/* ---- Mosaic Geometry ---------------------------------------------------------- */

/* Area of polygon p (n vertices, any simple polygon) inside the rectangle
 * [x0, x1] x [y0, y1], by Sutherland-Hodgman against its four sides. a and
 * b are scratch arrays of cap points each (cap >= 2 n + 8). */
static double poly_rect_area(const double *px, const double *py, int n, double x0, double x1,
                             double y0, double y1, double *ax, double *ay, double *bx, double *by) {
    int m = n;
    memcpy(ax, px, (size_t)n * sizeof *ax);
    memcpy(ay, py, (size_t)n * sizeof *ay);
    for (int side = 0; side < 4 && m > 0; side++) {
        /* keep sgn * (coordinate - limit) >= 0 */
        int useY = side >= 2;
        double lim = side == 0 ? x0 : side == 1 ? x1 : side == 2 ? y0 : y1;
        double sgn = (side == 0 || side == 2) ? 1.0 : -1.0;
        int k = 0;
        for (int i = 0; i < m; i++) {
            int j = (i + 1) % m;
            double ci = sgn * ((useY ? ay[i] : ax[i]) - lim);
            double cj = sgn * ((useY ? ay[j] : ax[j]) - lim);
            if (ci >= 0) {
                bx[k] = ax[i], by[k] = ay[i], k++;
            }
            if ((ci >= 0) != (cj >= 0)) {
                double t = ci / (ci - cj);
                bx[k] = ax[i] + t * (ax[j] - ax[i]);
                by[k] = ay[i] + t * (ay[j] - ay[i]);
                if (useY) by[k] = lim; else bx[k] = lim;
                k++;
            }
        }
        m = k;
        memcpy(ax, bx, (size_t)m * sizeof *ax);
        memcpy(ay, by, (size_t)m * sizeof *ay);
    }
    if (m < 3) return 0.0;
    double a = 0;
    for (int i = 0; i < m; i++) {
        int j = (i + 1) % m;
        a += (ax[i] - ax[0]) * (ay[j] - ay[0]) - (ax[j] - ax[0]) * (ay[i] - ay[0]);
    }
    return 0.5 * fabs(a);
}

typedef struct geom_ctx {
    const char *const *paths;
    const mx_moving_ref *moving;
    const mx_fif *fif;
    const mx_wcs *fw;
    mx_wcs **tw;
    long margin;
    int *selected;
    mx_box *boxes;
    mx_progress *prog;
} geom_ctx;

static int geom_frame(long i, void *vctx, int thread) {
    geom_ctx *c = vctx;
    const char *path = c->paths[i];
    mx_wcs *w = NULL;
    mx_pixmap *pm = NULL;
    double *buf = NULL;
    long nx, ny;
    int st;
    c->selected[i] = 0;
    if (c->boxes) c->boxes[i] = (mx_box){0, 0, 0, 0};
    if (!c->tw[thread] && (st = mx_wcs_dup(c->fw, &c->tw[thread])) != MX_OK) goto exit;
    if ((st = mx_frame_wcs_read(path, c->moving, &w, &nx, &ny, NULL)) != MX_OK) goto exit;
    if ((st = mx_pixmap_new(w, c->tw[thread], MX_PIXMAP_AUTO, &pm)) != MX_OK) {
        st = mx_preferr(st, "'%s'", path);
        goto exit;
    }
    /* every pixel corner along the edges, counter-clockwise */
    int np = (int)(2 * (nx + ny));
    size_t cap = 2 * (size_t)np + 8;
    if (!(buf = malloc(6 * cap * sizeof *buf))) {
        st = mx_seterr(MX_ERR_NOMEM, "'%s': boundary of %d points", path, np);
        goto exit;
    }
    double *px = buf, *py = buf + cap, *ax = buf + 2 * cap, *ay = buf + 3 * cap,
           *bx = buf + 4 * cap, *by = buf + 5 * cap;
    int k = 0;
    for (long a = 0; a < nx; a++) px[k] = a - 0.5, py[k++] = -0.5;
    for (long b = 0; b < ny; b++) px[k] = nx - 0.5, py[k++] = b - 0.5;
    for (long a = nx; a > 0; a--) px[k] = a - 0.5, py[k++] = ny - 0.5;
    for (long b = ny; b > 0; b--) px[k] = -0.5, py[k++] = b - 0.5;
    if ((st = mx_pixmap_forward(pm, (size_t)np, px, py, px, py)) != MX_OK) goto exit;
    for (k = 0; k < np; k++)
        if (!isfinite(px[k]) || !isfinite(py[k])) {
            mx_warn("mosaic geometry: '%s' cannot be mapped completely onto the FIF (beyond the "
                    "projection's domain); not selected", path);
            goto exit;
        }
    double m = (double)c->margin;
    double area = poly_rect_area(px, py, np, -0.5 - m, c->fif->naxis[0] - 0.5 + m, -0.5 - m,
                                 c->fif->naxis[1] - 0.5 + m, ax, ay, bx, by);
    c->selected[i] = area > 0.0;
    if (c->boxes) {
        mx_map map = mx_pixmap_map(pm);
        st = mx_map_footprint_box(&map, nx, ny, c->fif->naxis[0], c->fif->naxis[1], &c->boxes[i]);
    }
    mx_progress_step(c->prog, 1);
exit:
    free(buf);
    mx_pixmap_free(pm);
    mx_wcs_free(w);
    return st;
}

int mx_geom_select(int n, const char *const *paths, const mx_fif *fif, long margin,
                   long moving_object, int *selected, mx_box *boxes) {
    int st;
    int nt = mx_threads();
    mx_wcs *fw = NULL;
    mx_wcs **tw = NULL;
    mx_moving_ref moving;
    if (n < 1 || !paths) return mx_seterr(MX_ERR_PARAM, "mosaic geometry: no input images");
    if (2 * margin <= -fif->naxis[0] || 2 * margin <= -fif->naxis[1])
        return mx_seterr(MX_ERR_PARAM, "MARGIN = %ld leaves nothing of a %ld x %ld FIF", margin,
                         fif->naxis[0], fif->naxis[1]);
    if ((st = mx_moving_ref_read(n, paths, moving_object, &moving)) != MX_OK) return st;
    if ((st = mx_fif_wcs(fif, &fw)) != MX_OK) return st;
    if (!(tw = calloc((size_t)nt, sizeof *tw))) {
        st = mx_seterr(MX_ERR_NOMEM, "mosaic geometry");
        goto exit;
    }
    geom_ctx ctx = {paths, &moving, fif, fw, tw, margin, selected, boxes, NULL};
    ctx.prog = mx_progress_start("mosaic_geometry", n, "frames");
    st = mx_parallel_for_n(n, nt, geom_frame, &ctx);
    mx_progress_done(ctx.prog);
exit:
    if (tw)
        for (int t = 0; t < nt; t++) mx_wcs_free(tw[t]);
    free(tw);
    mx_wcs_free(fw);
    return st;
}

int mx_geom_run(int n, const char *const *paths, const char *fif_path, const mx_geom_opts *o,
                const char *outdir, int *selected, int *nselected) {
    int st;
    mx_fif fif;
    mx_box *boxes = NULL;
    mx_tile *tiles = NULL;
    mx_table *t = NULL;
    char *path = NULL;
    int ntiles = 0, nsel = 0;
    if ((st = mx_fif_read(fif_path, &fif)) != MX_OK) return st;
    if (!(boxes = calloc((size_t)(n > 0 ? n : 1), sizeof *boxes)))
        return mx_seterr(MX_ERR_NOMEM, "mosaic geometry boxes");
    if ((st = mx_geom_select(n, paths, &fif, o->margin, o->moving_object, selected, boxes)) != MX_OK)
        goto exit;
    for (int i = 0; i < n; i++) nsel += selected[i] != 0;
    if (nsel == 0) {
        st = mx_seterr(MX_ERR_PARAM, "mosaic geometry: none of the %d images overlaps the FIF '%s' "
                       "(%ld x %ld pixels around %.6f, %.6f; MARGIN %ld)", n, fif_path, fif.naxis[0],
                       fif.naxis[1], fif.crval[0], fif.crval[1], o->margin);
        goto exit;
    }
    if ((st = mx_mkdir_p(outdir)) != MX_OK) goto exit;
#define OUT(name)                                                                  \
    do {                                                                           \
        free(path);                                                                \
        if (!(path = mx_path_join(outdir, name))) {                                \
            st = mx_seterr(MX_ERR_NOMEM, "path");                                  \
            goto exit;                                                             \
        }                                                                          \
    } while (0)
    OUT("geom_fif.tbl");
    if ((st = mx_fif_write(&fif, "mosaic_geom", path)) != MX_OK) goto exit;
    if ((st = mx_tiling(fif.naxis[0], fif.naxis[1], o->tilemax_x, o->tilemax_y, &tiles, &ntiles)) != MX_OK)
        goto exit;
    if ((st = mx_tiles_table(tiles, ntiles, NULL, NULL, "mosaic_geom", &t)) != MX_OK) goto exit;
    OUT("geom_Tile.tbl");
    if ((st = mx_table_write_ipac(t, path)) != MX_OK) goto exit;
    mx_table_free(t);
    t = NULL;
    /* predicted interpolated images: the same columns as interp_ImageList.txt.tbl */
    if ((st = mx_offsets_table_new("image_id", "mosaic_geom", "pixels", &t)) != MX_OK) goto exit;
    for (int i = 0; i < n && st == MX_OK; i++)
        if (selected[i])
            st = mx_offsets_table_add(t, i + 1, paths[i], boxes[i].x0, boxes[i].y0, boxes[i].w,
                                      boxes[i].h);
    if (st != MX_OK) goto exit;
    OUT("geom_Int_Img.tbl");
    st = mx_table_write_ipac(t, path);
#undef OUT
exit:
    if (st == MX_OK && nselected) *nselected = nsel;
    free(path);
    mx_table_free(t);
    free(tiles);
    free(boxes);
    return st;
}
