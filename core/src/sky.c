/* sky.c - fixed rotations between ICRS ("J2000"), FK5 J2000, Galactic and
 * Ecliptic coordinates (mx_sky.h). The matrices are built from their
 * defining angles with astropy's conventions (passive rotations, the same
 * products as astropy.coordinates.builtin_frames), so that the numbers agree
 * with astropy to rounding. */
#include "mopex/mx_sky.h"
#include "mopex/mx_error.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#define D2R (M_PI / 180.0)
#define R2D (180.0 / M_PI)

/* Passive rotation by `deg` about axis 0 (x), 1 (y) or 2 (z), as
 * astropy.coordinates.matrix_utilities.rotation_matrix. */
static void rot(int axis, double deg, double M[3][3]) {
    double c = cos(deg * D2R), s = sin(deg * D2R);
    memset(M, 0, 9 * sizeof(double));
    int i = (axis + 1) % 3, j = (axis + 2) % 3;
    M[axis][axis] = 1.0;
    M[i][i] = c;
    M[j][j] = c;
    M[i][j] = s;
    M[j][i] = -s;
}

static void mul(const double A[3][3], const double B[3][3], double C[3][3]) {
    double T[3][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) T[r][c] = A[r][0] * B[0][c] + A[r][1] * B[1][c] + A[r][2] * B[2][c];
    memcpy(C, T, sizeof T);
}

/* ICRS -> FK5 J2000 frame bias (USNO Circular 179), angles in mas. */
static void icrs_to_fk5(double M[3][3]) {
    const double eta0 = -19.9 / 3.6e6, xi0 = 9.1 / 3.6e6, da0 = -22.9 / 3.6e6;
    double A[3][3], B[3][3], C[3][3];
    rot(0, -eta0, A);
    rot(1, xi0, B);
    rot(2, da0, C);
    mul(A, B, M);
    mul(M, C, M);
}

/* FK5 J2000 -> Galactic (IAU 1958 pole and origin precessed to J2000). */
static void fk5_to_gal(double M[3][3]) {
    const double ra_ngp = 192.8594812065348, dec_ngp = 27.12825118085622,
                 lon0 = 122.9319185680026;
    double A[3][3], B[3][3], C[3][3];
    rot(2, 180.0 - lon0, A);
    rot(1, 90.0 - dec_ngp, B);
    rot(2, ra_ngp, C);
    mul(A, B, M);
    mul(M, C, M);
}

/* Matrix taking ICRS unit vectors to system s; 0 for an unknown enum. */
static int from_icrs(mx_sky_system s, double M[3][3]) {
    switch (s) {
    case MX_SKY_ICRS:
        rot(2, 0.0, M);
        return 1;
    case MX_SKY_FK5:
        icrs_to_fk5(M);
        return 1;
    case MX_SKY_GALACTIC: {
        double B[3][3];
        icrs_to_fk5(B);
        fk5_to_gal(M);
        mul(M, B, M);
        return 1;
    }
    case MX_SKY_ECLIPTIC:
        rot(0, 84381.448 / 3600.0, M);
        return 1;
    }
    return 0;
}

int mx_sky_parse(const char *name, mx_sky_system *out) {
    if (!name) return mx_seterr(MX_ERR_PARAM, "coordinate system: no name given");
    char s[32];
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < sizeof s; p++)
        if (!isspace((unsigned char)*p)) s[k++] = (char)tolower((unsigned char)*p);
    s[k] = '\0';
    static const struct {
        const char *name;
        mx_sky_system sys;
    } names[] = {{"j2000", MX_SKY_ICRS},     {"icrs", MX_SKY_ICRS},       {"equatorial", MX_SKY_ICRS},
                 {"equ", MX_SKY_ICRS},       {"radec", MX_SKY_ICRS},      {"fk5", MX_SKY_FK5},
                 {"galactic", MX_SKY_GALACTIC}, {"gal", MX_SKY_GALACTIC}, {"ecliptic", MX_SKY_ECLIPTIC},
                 {"ecl", MX_SKY_ECLIPTIC}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].sys;
            return MX_OK;
        }
    return mx_seterr(MX_ERR_PARAM, "coordinate system '%s' is not one of J2000, Galactic, Ecliptic",
                     name);
}

const char *mx_sky_name(mx_sky_system s) {
    switch (s) {
    case MX_SKY_ICRS: return "J2000";
    case MX_SKY_FK5: return "FK5";
    case MX_SKY_GALACTIC: return "Galactic";
    case MX_SKY_ECLIPTIC: return "Ecliptic";
    }
    return "unknown";
}

int mx_sky_of_wcs(const mx_wcs *w, mx_sky_system *out) {
    const char *s = mx_wcs_system(w);
    if (strcmp(s, "J2000") == 0) *out = MX_SKY_ICRS;
    else if (strcmp(s, "Galactic") == 0) *out = MX_SKY_GALACTIC;
    else if (strcmp(s, "Ecliptic") == 0) *out = MX_SKY_ECLIPTIC;
    else
        return mx_seterr(MX_ERR_UNSUPPORTED,
                         "celestial system of CTYPE1 = '%s' (%s) is not J2000 (ICRS/FK5 equinox "
                         "2000), Galactic or Ecliptic",
                         mx_wcs_ctype(w, 0), s);
    return MX_OK;
}

void mx_sky_matrix(mx_sky_system from, mx_sky_system to, double R[3][3]) {
    double A[3][3], B[3][3];
    if (!from_icrs(from, A) || !from_icrs(to, B) || from == to) {
        rot(2, 0.0, R);
        return;
    }
    /* R = B A^T: back to ICRS, then on to `to` */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) R[r][c] = B[r][0] * A[c][0] + B[r][1] * A[c][1] + B[r][2] * A[c][2];
}

int mx_sky_convert(mx_sky_system from, mx_sky_system to, size_t n, double *lon, double *lat) {
    double A[3][3];
    if (!from_icrs(from, A) || !from_icrs(to, A))
        return mx_seterr(MX_ERR_PARAM, "mx_sky_convert: unknown coordinate system (%d -> %d)",
                         (int)from, (int)to);
    if (from == to) return MX_OK;
    double R[3][3];
    mx_sky_matrix(from, to, R);
    for (size_t i = 0; i < n; i++) {
        double a = lon[i], d = lat[i];
        if (!isfinite(a) || !isfinite(d)) {
            lon[i] = lat[i] = NAN;
            continue;
        }
        double cd = cos(d * D2R);
        double v[3] = {cd * cos(a * D2R), cd * sin(a * D2R), sin(d * D2R)};
        double w[3];
        for (int r = 0; r < 3; r++) w[r] = R[r][0] * v[0] + R[r][1] * v[1] + R[r][2] * v[2];
        double l = atan2(w[1], w[0]) * R2D;
        if (l < 0) l += 360.0;
        if (l >= 360.0) l -= 360.0;
        lon[i] = l;
        /* atan2 keeps full precision near the poles, unlike asin */
        lat[i] = atan2(w[2], hypot(w[0], w[1])) * R2D;
    }
    return MX_OK;
}

double mx_sky_distance(double lon1, double lat1, double lon2, double lat2) {
    double c1 = cos(lat1 * D2R), c2 = cos(lat2 * D2R);
    double dx = c1 * cos(lon1 * D2R) - c2 * cos(lon2 * D2R);
    double dy = c1 * sin(lon1 * D2R) - c2 * sin(lon2 * D2R);
    double dz = sin(lat1 * D2R) - sin(lat2 * D2R);
    double chord = sqrt(dx * dx + dy * dy + dz * dz);
    return 2.0 * asin(fmin(1.0, 0.5 * chord)) * R2D;
}
