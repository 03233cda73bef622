/* mx_fif.h - the Fiducial Image Frame (FIF): the output grid of every
 * mosaic, its table format, its derivation for another pixel size, the
 * tiling of it, and the selection of the frames that touch it.
 *
 * Guide: Fiducial Image Frame 000 l.1346-1461 and l.2430-2546, FIF table
 * l.1934-1971, Mosaic Geometry l.2547-2594 and l.1921-1993, moving objects
 * l.1994-2020, tiling l.7693-7734. Specs: overlap.md 4.3.4, mosaic.md
 * 5.6.2/5.6.4/5.6.5/5.6.8, formats.md 4.2, 4.3, 4.10, algorithms.md 1.
 *
 * FIF TABLE (FIF.tbl, mosaic_fif.tbl, geom_fif.tbl): an IPAC table of
 * keywords only, written in exactly this order:
 *   \char comment = Output from fiducial_image_frame, mopexlua <version>
 *   \char Date-Time = Mar 12, 2012, 09:21:44
 *   \real CRVAL1, CRVAL2, CRPIX1, CRPIX2, CROTA2, CDELT1, CDELT2
 *   \int  NAXIS1, NAXIS2, EQUINOX (2000)
 *   \char PROJTYPE (TAN), COORDINATE_SYSTEM (J2000|Galactic|Ecliptic),
 *         CTYPE1 (RA---TAN|GLON-TAN|ELON-TAN), CTYPE2 (DEC--TAN|GLAT-TAN|ELAT-TAN)
 *   \real EXTENT_X = NAXIS1 |CDELT1|, EXTENT_Y = NAXIS2 |CDELT2| (degrees)
 * always in CDELT/CROTA2 form, never a CD matrix (000 l.1450-1452). Real
 * values are written with the fewest digits that read back to the same
 * double, so a written frame round-trips exactly.
 *
 * READING accepts hand-edited tables (000 l.1962-1971): only CRVAL1/2,
 * CDELT1/2 (or a CD matrix, converted with a warning) and NAXIS1/2 are
 * required; CRPIX defaults to (NAXIS + 1)/2, CROTA2 to 0, EQUINOX to 2000;
 * CTYPE, when present, decides system and projection (a conflicting
 * COORDINATE_SYSTEM or PROJTYPE is warned about), otherwise they come from
 * COORDINATE_SYSTEM (J2000) and PROJTYPE (TAN); typographic dashes
 * ('DEC—TAN', as the guide prints it) and short padding ('DEC-TAN') are
 * normalised; a negative CDELT2 (or positive CDELT1) is kept as a mirrored
 * frame, with a warning; EXTENT_X/Y are ignored. Keywords match
 * case-insensitively; unknown keywords are ignored.
 *
 * PIXELS: crpix is FITS 1-based as in the table; everything else in this
 * header (tile offsets, boxes) is 0-based, pixel (i, j) covering
 * [i-0.5, i+0.5] x [j-0.5, j+0.5].
 */
#ifndef MX_FIF_H
#define MX_FIF_H

#include "mx_header.h"
#include "mx_pixmap.h"
#include "mx_sky.h"
#include "mx_table.h"
#include "mx_wcs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_fif {
    double crval[2];       /* degrees, in `system` */
    double crpix[2];       /* FITS 1-based */
    double cdelt[2];       /* degrees per pixel; CDELT1 < 0, CDELT2 > 0 unless mirrored */
    double crota2;         /* degrees, E of N (FITS CROTA2) */
    long naxis[2];
    double equinox;        /* 2000 */
    char projection[4];    /* "TAN", "SIN", ... (upper case) */
    mx_sky_system system;  /* MX_SKY_ICRS ("J2000"), MX_SKY_GALACTIC, MX_SKY_ECLIPTIC */
    char ctype[2][9];      /* "RA---TAN"/"DEC--TAN", "GLON-TAN"/"GLAT-TAN", "ELON-.."/"ELAT-.." */
} mx_fif;

/* Fill ctype[] from system and projection (3 letters; "STR" is read as
 * "STG" with a warning, lower case accepted). MX_ERR_PARAM for a code
 * that is not 3 letters or a system without a FIF form (FK5). */
int mx_fif_set_type(mx_fif *f, mx_sky_system system, const char *projection);

/* The WCS of the frame (mx_wcs_new_simple): MX_ERR_UNSUPPORTED for a
 * projection wcslib does not know, MX_ERR_WCS for one that needs PV
 * parameters (ZPN, COP, ...), which a FIF table cannot carry. */
int mx_fif_wcs(const mx_fif *f, mx_wcs **out);

/* Table <-> frame. `program` names the writer in the comment keyword
 * ("fiducial_image_frame", "mosaic_interp", "mosaic_geom"); NULL means
 * "fiducial_image_frame". */
int mx_fif_to_table(const mx_fif *f, const char *program, mx_table **out);
int mx_fif_from_table(const mx_table *t, const char *source, mx_fif *out);
int mx_fif_read(const char *path, mx_fif *out);
int mx_fif_write(const mx_fif *f, const char *program, const char *path);

/* The output frame at another pixel size (mosaic_fif.tbl; mosaic.md 5.6.8,
 * 000 l.1158-1209, l.2296-2298). Per axis: CDELT_new = size when given
 * (not NaN), else CDELT_fif / ratio (ratio NaN means 1); size wins over
 * ratio. size_x must be negative (a positive MOSAIC_PIXEL_SIZE_X is an
 * error, 000 l.1162-1164) and size_y positive; the signs of the FIF's
 * CDELTs are kept, so a mirrored FIF stays mirrored. With
 * f = |CDELT_fif / CDELT_new|: NAXIS_new = ceil(NAXIS_fif f) (a product
 * within a relative 1e-9 of an integer counts as that integer), CRPIX_new =
 * (CRPIX_fif - 0.5) f + 0.5; CRVAL, CROTA2, system and projection are
 * kept, so the new grid covers the same sky from the same corner. */
int mx_fif_rescale(const mx_fif *in, double size_x, double size_y, double ratio_x,
                   double ratio_y, mx_fif *out);

/* ---- tiling (algorithms.md 1, 000 l.7716-7729) -------------------------- */
/* One axis: n = naxis / tilemax, +1 when naxis % tilemax > tilemax / 2,
 * at least 1; tiles of naxis / n pixels, the last one naxis / n +
 * naxis % n (oracle O-1: 4450/500 -> 9 tiles of 494, last 498). */
int mx_tiling_axis(long naxis, long tilemax, long *ntiles, long *tile, long *last);

typedef struct mx_tile {
    int id;          /* 1-based, x fastest (Tile_001 is the lower-left tile) */
    long x0, y0;     /* 0-based offset of the tile's first pixel in the frame */
    long nx, ny;
} mx_tile;

/* Tiles of an naxis1 x naxis2 frame; *tiles is malloc'ed (caller frees). */
int mx_tiling(long naxis1, long naxis2, long tilemax_x, long tilemax_y, mx_tile **tiles,
              int *ntiles);
/* The tile table (coadd_tiles.tbl, geom_Tile.tbl; formats.md 4.10): the
 * offsets table below with id column tile_id and unit "pixels"; fname is
 * "<prefix>Tile_<NNN><suffix>" (prefix/suffix may be NULL, e.g. "coadd_"
 * and "_Image.fits"). The comment keyword names `program` ("tiling" when
 * NULL or empty). */
int mx_tiles_table(const mx_tile *tiles, int ntiles, const char *prefix, const char *suffix,
                   const char *program, mx_table **out);

/* ---- offsets tables ------------------------------------------------------
 * Every table that places pieces on the mosaic grid (tiles, interpolated
 * images, projected maps: coadd_tiles.tbl, geom_Tile.tbl, covg_TilesList.tbl,
 * interp_ImageList.txt.tbl, geom_Int_Img.tbl, interp_detmap_ImageList.txt.tbl)
 * has the columns
 *   <id_column> (int: tile_id or image_id, 1-based) | fname (string) |
 *   xoff | yoff (int: 0-based offset of the piece's first pixel in the grid) |
 *   naxis1 | naxis2 (int: the piece's size)
 * with `unit` (NULL: none) on xoff..naxis2, and the comment keyword
 * "Output from <program>, mopexlua <version>".
 * mx_offsets_table_new makes the empty table (*out: free with
 * mx_table_free); mx_offsets_table_add appends one row. */
int mx_offsets_table_new(const char *id_column, const char *program, const char *unit,
                         mx_table **out);
int mx_offsets_table_add(mx_table *t, long id, const char *fname, long xoff, long yoff,
                         long naxis1, long naxis2);

/* ---- input frames --------------------------------------------------------- */
/* Moving-object mosaics (000 l.1994-2020, Eq 5.1): with reference frame s,
 * every frame's CRVAL moves by the reference's RA_REF/DEC_REF minus its
 * own: CRVAL1 += RA_REF_s - RA_REF_i (wrapped into (-180, 180]), CRVAL2 +=
 * DEC_REF_s - DEC_REF_i. on == 0: nothing changes. */
typedef struct mx_moving_ref {
    int on;
    double ra_ref, dec_ref;   /* degrees, from frame s */
} mx_moving_ref;

/* Read RA_REF/DEC_REF of frame `frame` (1-based; 0 = off) of the list.
 * MX_ERR_PARAM when frame > n, MX_ERR_NOTFOUND naming the file when a
 * keyword is missing. */
int mx_moving_ref_read(int n, const char *const *paths, long frame, mx_moving_ref *out);
/* Apply Eq 5.1 to a header in place (no-op when m is NULL or off). */
int mx_moving_apply(const mx_moving_ref *m, mx_header *h, const char *source);

/* Header (no pixels) and WCS of an input frame, moving-object adjustment
 * applied when m is on. hdr may be NULL when the caller needs only the
 * WCS; *hdr then belongs to the caller. */
int mx_frame_wcs_read(const char *path, const mx_moving_ref *m, mx_wcs **w, long *nx, long *ny,
                      mx_header **hdr);

/* The linear part of a header's WCS in CDELT/CROTA2 form, from a CD
 * matrix, PCi_j x CDELTi, or CDELTi + CROTA2 (in that order of
 * preference). A CD matrix is split as CDELT2 = |column 2|, CROTA2 =
 * atan2(-CD1_2, CD2_2), CDELT1 = -|column 1| (+|column 1| for a mirrored
 * frame, det CD > 0); a skewed matrix keeps its column lengths. */
int mx_header_cdelt_crota2(const mx_header *h, const char *source, double cdelt[2],
                           double *crota2);

/* ---- Fiducial Image Frame (overlap.md 4.3.4 [R]) -------------------------- */
/* Every field must be set (defaults live in lua/mopex/modules/fiducial_frame.lua). */
typedef struct mx_fif_opts {
    double edge_padding;       /* arcsec added beyond the inputs on every side, >= 0 */
    const char *projection;    /* "TAN", "SIN", any wcslib code without PV parameters */
    const char *system;        /* "J2000", "Galactic" or "Ecliptic" (mx_sky_parse) */
    int crota2_average;        /* 1: circular mean of the inputs' orientations */
    double crota2;             /* degrees E of N, used when crota2_average == 0 */
    long margin;               /* pixels added on every side when > 0 (MARGIN) */
    long moving_object;        /* MOVING_OBJECT_MOSAIC: 1-based reference frame, 0 = off */
} mx_fif_opts;

/* What the computation found, for logs and tests. */
typedef struct mx_fif_info {
    double pixel_scale;        /* arcsec: mean of the inputs' centre scales */
    double crota2_mean;        /* circular mean of the inputs' orientations (output system) */
    double max_distance;       /* degrees: farthest footprint point from CRVAL */
    int iterations;            /* tangent-point iterations */
} mx_fif_info;

/* The frame that contains every input (headers only, parallel over
 * frames):
 *  1. each footprint (4 corners and 8 points per edge through the full
 *     distortion, mx_wcs_footprint) is rotated into the output system;
 *  2. orientation: opts->crota2, or the circular mean of the inputs'
 *     CROTA2 at their centres (mx_wcs_orientation, turned into the output
 *     system by the angle between the two systems' north directions);
 *  3. pixel scale s: mean over inputs of (sx + sy)/2 of mx_wcs_pixel_scale
 *     at the frame centre (distortion included); CDELT = (-s, +s);
 *  4. tangent point: the normalised mean unit vector of all footprint
 *     points; every point must lie within 90 deg of it (the inputs must
 *     fit in a hemisphere, 000 l.771-773), else MX_ERR_PARAM;
 *  5. the projected points' bounding box; the tangent point moves to the
 *     sky position of the box centre until the centre is within 1e-6 pixel
 *     of it (at most 50 times), so the box is centred on CRVAL;
 *  6. NAXIS = ceil(box + 2 Edge_Padding / s) (+ 2 MARGIN when > 0; an
 *     excess below 1e-6 pixel over a whole number is not rounded up: it is
 *     rounding in the scale estimate), CRPIX = (NAXIS + 1)/2, CRVAL = the
 *     tangent point.
 * header_list (may be NULL) receives the header_list.tbl table: image_id
 * (1-based), fname, naxis1, naxis2, crpix1, crpix2, crval1, crval2
 * (moving-object adjusted), cdelt1, cdelt2, crota2 (mx_header_cdelt_crota2),
 * ctype1, ctype2 (as in the header). info may be NULL. */
int mx_fif_compute(int n, const char *const *paths, const mx_fif_opts *opts, mx_fif *out,
                   mx_table **header_list, mx_fif_info *info);

/* mx_fif_compute, then FIF.tbl and header_list.tbl written atomically
 * (either path may be NULL to skip it). */
int mx_fif_run(int n, const char *const *paths, const mx_fif_opts *opts, const char *fif_path,
               const char *header_list_path, mx_fif *out, mx_fif_info *info);

/* ---- Mosaic Geometry (mosaic.md 5.6.5) ------------------------------------ */
/* Every field must be set. */
typedef struct mx_geom_opts {
    long margin;               /* MARGIN, pixels: > 0 grows, < 0 shrinks the test rectangle */
    long moving_object;        /* MOVING_OBJECT_MOSAIC, 0 = off */
    long tilemax_x, tilemax_y; /* tiles of geom_Tile.tbl, >= 1 */
} mx_geom_opts;

/* Which frames touch the FIF: each frame's pixel boundary (every pixel
 * corner along its edges, through the full distortion, mx_pixmap) is
 * mapped onto the FIF grid and the frame is kept when that polygon
 * overlaps the rectangle [-0.5 - margin, NAXIS1 - 0.5 + margin] x
 * [-0.5 - margin, NAXIS2 - 0.5 + margin] (0-based) with non-zero area.
 * selected[i] = 1 or 0; boxes (may be NULL) get the predicted
 * interpolated-image box of each frame (mx_map_footprint_box: the pixels
 * containing the smallest and largest projected coordinates, clipped to the
 * FIF; w = h = 0 when it misses the FIF). A frame whose boundary cannot be
 * mapped completely (beyond the projection's horizon) is not selected and
 * a warning names it. */
int mx_geom_select(int n, const char *const *paths, const mx_fif *fif, long margin,
                   long moving_object, int *selected, mx_box *boxes);

/* mx_geom_select, then in outdir: geom_fif.tbl (the FIF), geom_Tile.tbl
 * (mx_tiling, files "Tile_NNN"), geom_Int_Img.tbl (per selected frame:
 * image_id (1-based position in the input list), file, naxis1, naxis2,
 * offset_x, offset_y of the predicted interpolated image). An empty
 * selection is MX_ERR_PARAM naming the FIF. The lists are written by the
 * caller, which knows the parallel lists. nselected may be NULL. */
int mx_geom_run(int n, const char *const *paths, const char *fif_path, const mx_geom_opts *opts,
                const char *outdir, int *selected, int *nselected);

#ifdef __cplusplus
}
#endif
#endif
