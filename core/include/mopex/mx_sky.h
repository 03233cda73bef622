/* mx_sky.h - celestial coordinate systems of output frames: fixed rotations
 * between equatorial J2000, Galactic and Ecliptic coordinates.
 *
 * The FIF module may build a frame in another system than its inputs
 * (Coordinate_System = Galactic or Ecliptic, 000 l.1393-1394); every input
 * position is then rotated into the output system with these matrices.
 * All systems here are fixed (no precession, no epoch, no aberration):
 *
 *   MX_SKY_ICRS      "J2000": what MOPEX calls J2000. Spitzer headers say
 *                    RADESYS = 'ICRS'; an FK5 J2000 header is read as ICRS
 *                    too (the two differ by the 0.02" frame bias, far below
 *                    a mosaic pixel).
 *   MX_SKY_FK5       FK5, equinox J2000, for callers that need the
 *                    distinction: ICRS -> FK5 is the frame-bias rotation
 *                    of USNO Circular 179 (eta0 = -19.9 mas, xi0 = 9.1 mas,
 *                    da0 = -22.9 mas), the one astropy uses.
 *   MX_SKY_GALACTIC  IAU 1958 Galactic coordinates as realised in FK5 J2000:
 *                    north Galactic pole at FK5 (192.8594812065348,
 *                    27.12825118085622) deg, longitude of the north celestial
 *                    pole 122.9319185680026 deg (astropy's constants, from
 *                    the B1950 definition). ICRS -> Galactic goes through
 *                    the frame bias, exactly as astropy's
 *                    SkyCoord(..., frame='icrs').galactic: agreement to
 *                    1e-12 deg (tests/c/test_fif.c hard-codes astropy 5.2
 *                    numbers). The Hipparcos/SOFA matrix (iauIcrs2g) uses
 *                    rounded pole constants and differs by up to 7e-6 deg.
 *   MX_SKY_ECLIPTIC  mean ecliptic and equinox of J2000 with the IAU 1976
 *                    obliquity 84381.448" = 23.4392911 deg, a plain
 *                    rotation of ICRS about x: astropy's
 *                    CustomBarycentricEcliptic() (default obliquity), to
 *                    1e-12 deg. astropy's BarycentricMeanEcliptic (IAU 2006
 *                    obliquity 84381.406" plus frame bias) differs by up to
 *                    0.04"; GeocentricMeanEcliptic adds annual aberration
 *                    (up to 20") and is not a fixed rotation.
 *
 * Longitudes come back in [0, 360), latitudes in [-90, 90], degrees.
 * Non-finite input gives NaN output.
 */
#ifndef MX_SKY_H
#define MX_SKY_H

#include <stddef.h>
#include "mx_wcs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MX_SKY_ICRS = 0,
    MX_SKY_FK5 = 1,
    MX_SKY_GALACTIC = 2,
    MX_SKY_ECLIPTIC = 3
} mx_sky_system;

/* Parse a system name, case-insensitive: "J2000", "ICRS", "Equatorial",
 * "Equ", "RADEC" -> ICRS; "FK5" -> FK5; "Galactic", "Gal" -> GALACTIC;
 * "Ecliptic", "Ecl" -> ECLIPTIC. MX_ERR_PARAM naming the value otherwise. */
int mx_sky_parse(const char *name, mx_sky_system *out);
/* Canonical name: "J2000", "FK5", "Galactic", "Ecliptic". */
const char *mx_sky_name(mx_sky_system s);
/* The system of a WCS (mx_wcs_system: "J2000" -> ICRS, "Galactic",
 * "Ecliptic"); MX_ERR_UNSUPPORTED for anything else (B1950, planetary, ...),
 * naming the CTYPE. */
int mx_sky_of_wcs(const mx_wcs *w, mx_sky_system *out);

/* Rotation taking unit vectors of `from` to unit vectors of `to`
 * (v_to = R v_from). */
void mx_sky_matrix(mx_sky_system from, mx_sky_system to, double R[3][3]);

/* Convert n positions in place from `from` to `to` (degrees). Identity
 * systems leave the values untouched. MX_ERR_PARAM for an unknown enum. */
int mx_sky_convert(mx_sky_system from, mx_sky_system to, size_t n, double *lon, double *lat);

/* Angular distance between two positions of one system, degrees (accurate
 * for tiny and for large separations). */
double mx_sky_distance(double lon1, double lat1, double lon2, double lat2);

#ifdef __cplusplus
}
#endif
#endif
