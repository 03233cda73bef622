/* mx_image.h - 2-D images (float32 pixels or integer masks) and FITS I/O.
 *
 * Pixel (i, j) with i along NAXIS1 (x, fastest) and j along NAXIS2 (y) is
 * stored at index j*nx + i, both 0-based. FITS/WCS pixel coordinates are
 * these plus 1.
 *
 * Two kinds share one struct:
 *   MX_IMG_FLOAT: `data` holds float32 values. Integer files read this way get
 *                 BSCALE/BZERO applied and BLANK turned into NaN.
 *   MX_IMG_INT:   `mask` holds int32 values (status masks: DCE, PMask, RMask).
 *                 Written back with `bitpix` 8, 16 or 32.
 *
 * Reading: the primary HDU, or the first image extension when the primary
 * has no data (tile-compressed images included; a warning says so).
 * Degenerate axes of length 1 beyond the second are dropped; real cubes are
 * rejected (MX_ERR_UNSUPPORTED). Every error message names the file.
 *
 * Writing is atomic: data go to "<path>.tmp-<pid>-<n>" which is renamed over
 * <path> only when complete; on failure the temporary file is removed and
 * <path> is untouched. Headers are preserved card by card (structural cards
 * regenerated). Float images are written as BITPIX -32.
 *
 * Ownership: every mx_image returned through an out-pointer belongs to the
 * caller, who frees it with mx_image_free (NULL-safe).
 */
#ifndef MX_IMAGE_H
#define MX_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "mx_header.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MX_IMG_FLOAT = 0, MX_IMG_INT = 1 } mx_image_kind;

typedef struct mx_image {
    long nx, ny;          /* NAXIS1, NAXIS2 */
    mx_image_kind kind;
    int bitpix;           /* BITPIX it was read with; written with (-32 for float) */
    float *data;          /* MX_IMG_FLOAT: nx*ny values, else NULL */
    int32_t *mask;        /* MX_IMG_INT:   nx*ny values, else NULL */
    mx_header *hdr;       /* never NULL */
    char *path;           /* file it came from, for messages; may be NULL */
} mx_image;

#define MX_PIX(img, i, j) ((img)->data[(size_t)(j) * (size_t)(img)->nx + (size_t)(i)])
#define MX_MPIX(img, i, j) ((img)->mask[(size_t)(j) * (size_t)(img)->nx + (size_t)(i)])

/* New image filled with `fill` (float) or 0 (int); empty header.
 * For MX_IMG_INT, bitpix is 8, 16 or 32 (default 32 if 0). */
int mx_image_new(long nx, long ny, mx_image_kind kind, int bitpix, float fill, mx_image **out);
int mx_image_dup(const mx_image *src, mx_image **out);
void mx_image_free(mx_image *img);

/* ---- reading ----------------------------------------------------------- */
/* Read as float (any BITPIX, scaling applied, BLANK -> NaN). */
int mx_image_read(const char *path, mx_image **out);
/* Read as integer mask: BITPIX must be 8/16/32 (or 64 with values that fit);
 * BZERO offsets (unsigned 16-bit) are applied; a floating-point BITPIX is
 * MX_ERR_FORMAT ("mask 'x.fits' has BITPIX -32; masks must be integer"). */
int mx_mask_read(const char *path, mx_image **out);
/* Choose: integer BITPIX without BSCALE/fractional BZERO -> MX_IMG_INT,
 * otherwise MX_IMG_FLOAT. */
int mx_image_read_auto(const char *path, mx_image **out);

/* Header and size only (no pixels). */
int mx_fits_read_header(const char *path, mx_header **hdr, long *nx, long *ny, int *bitpix);

/* Read the rectangle [x0, x0+nx) x [y0, y0+ny) (0-based) of the image in
 * `path` into `buf` (nx*ny floats, row-major) with scaling/BLANK applied.
 * Parts of the rectangle outside the image are filled with NaN. */
int mx_fits_read_region(const char *path, long x0, long y0, long nx, long ny, float *buf);
/* Same for an integer mask (outside filled with 0). */
int mx_fits_read_region_int(const char *path, long x0, long y0, long nx, long ny, int32_t *buf);

/* A reader that keeps the file open, for streaming many regions of one file
 * (coaddition tile by tile). Not thread-safe; one per thread. */
typedef struct mx_fits_reader mx_fits_reader;
int mx_fits_reader_open(const char *path, mx_fits_reader **out);
int mx_fits_reader_size(const mx_fits_reader *r, long *nx, long *ny);
int mx_fits_reader_region(mx_fits_reader *r, long x0, long y0, long nx, long ny, float *buf);
int mx_fits_reader_region_int(mx_fits_reader *r, long x0, long y0, long nx, long ny, int32_t *buf);
void mx_fits_reader_close(mx_fits_reader *r);

/* ---- writing ----------------------------------------------------------- */
/* Atomic write of the whole image (kind decides float32 or integer bitpix).
 * The directory must exist (see mx_mkdir_p). */
int mx_image_write(const mx_image *img, const char *path);

/* Streaming writer: create an nx*ny image with `hdr`, write rows in any order
 * (each row band exactly once), then commit (rename into place) or abort
 * (remove the temporary). Memory stays bounded by what the caller passes.
 * bitpix -32 writes float rows (put_rows); 8/16/32 write int rows. */
typedef struct mx_fits_writer mx_fits_writer;
int mx_fits_writer_open(const char *path, long nx, long ny, int bitpix, const mx_header *hdr,
                        mx_fits_writer **out);
int mx_fits_writer_put_rows(mx_fits_writer *w, long y0, long nrows, const float *rows);
int mx_fits_writer_put_rows_int(mx_fits_writer *w, long y0, long nrows, const int32_t *rows);
int mx_fits_writer_commit(mx_fits_writer *w); /* closes and frees w in all cases */
void mx_fits_writer_abort(mx_fits_writer *w);  /* closes, removes temp, frees w */

/* ---- helpers ----------------------------------------------------------- */
/* Atomic-write helpers for other file kinds (tables, text lists): returns a
 * temporary name next to `path` (caller frees) and renames it into place. */
char *mx_temp_name_for(const char *path);
int mx_commit_temp(const char *tmp, const char *path);
/* mkdir -p */
int mx_mkdir_p(const char *dir);
/* File exists and is a regular file. */
int mx_file_exists(const char *path);

/* Bit test used everywhere masks meet fatal patterns (000 l.9150-9179). */
static inline int mx_mask_is_fatal(int32_t value, uint32_t pattern) {
    return ((uint32_t)value & pattern) != 0;
}

/* Surface-brightness units of BUNIT (formats.md 1.3). */
typedef enum {
    MX_UNIT_COUNTS = 0,        /* unrecognised: dimensionless counts */
    MX_UNIT_MJY_SR = 1,
    MX_UNIT_UJY_ARCSEC2 = 2,
    MX_UNIT_MJY_ARCSEC2 = 3    /* "mJy/arcsec2": factor 1000 vs microJy, warned */
} mx_unit;
/* Silent for counts (callers warn naming the file); "mJy/arcsec2" warns. */
mx_unit mx_unit_parse(const char *bunit);
/* microJy per (image unit x pixel) for a pixel of `area_arcsec2`;
 * 0 for counts. MJy/sr: 1e12/(180*3600/pi)^2 * A = 23.5044305 * A. */
double mx_unit_to_ujy(mx_unit u, double area_arcsec2);

#ifdef __cplusplus
}
#endif
#endif
