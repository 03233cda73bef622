/* image.c - mx_image life cycle and FITS image I/O on cfitsio.
 *
 * Files are opened with fits_open_diskfile / fits_create_diskfile, which do
 * not interpret cfitsio's extended file-name syntax: a path is a path, even
 * with '[' or '!' in it. Pixels move in whole blocks (fits_read_pixll,
 * fits_read_subset, fits_write_pixll), never pixel by pixel.
 *
 * cfitsio state lives in each fitsfile; the library is built reentrant
 * (fits_is_reentrant() is checked by the tests), so threads may read and
 * write different files at once. The only shared variable here is the
 * atomic counter that makes temporary names unique.
 *
 * Float reads of uncompressed BITPIX -32 pass no null value to cfitsio, so
 * pixels arrive bit for bit (cfitsio's null check would also turn Inf into
 * NaN and flush denormals to zero). Every other BITPIX, and tile-compressed
 * floats, are read with NaN as the null value: that is how BLANK (ZBLANK)
 * becomes NaN.
 */
#include "mopex/mx_image.h"
#include "mopex/mx_error.h"
#include "scratch_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_AXES 9

/* ---- life cycle ------------------------------------------------------- */

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* An image with its pixel buffer allocated but not initialised. */
static int alloc_image(long nx, long ny, mx_image_kind kind, int bitpix, mx_image **out) {
    *out = NULL;
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "image size %ld x %ld: both must be at least 1", nx, ny);
    if ((unsigned long)nx > SIZE_MAX / 4 / (unsigned long)ny)
        return mx_seterr(MX_ERR_NOMEM, "image of %ld x %ld pixels is too large", nx, ny);
    size_t n = (size_t)nx * (size_t)ny;
    mx_image *img = calloc(1, sizeof *img);
    if (!img) return mx_seterr(MX_ERR_NOMEM, "image structure");
    img->nx = nx;
    img->ny = ny;
    img->kind = kind;
    img->bitpix = bitpix;
    img->hdr = mx_header_new();
    if (kind == MX_IMG_FLOAT) img->data = malloc(n * sizeof *img->data);
    else img->mask = malloc(n * sizeof *img->mask);
    if (!img->hdr || (!img->data && !img->mask)) {
        mx_image_free(img);
        return mx_seterr(MX_ERR_NOMEM, "image of %ld x %ld pixels (%zu MB)", nx, ny,
                         n * 4 >> 20);
    }
    *out = img;
    return MX_OK;
}

int mx_image_new(long nx, long ny, mx_image_kind kind, int bitpix, float fill, mx_image **out) {
    *out = NULL;
    if (kind != MX_IMG_FLOAT && kind != MX_IMG_INT)
        return mx_seterr(MX_ERR_PARAM, "image kind %d is neither float nor int", (int)kind);
    if (kind == MX_IMG_FLOAT) {
        bitpix = -32;
    } else {
        if (bitpix == 0) bitpix = 32;
        if (bitpix != 8 && bitpix != 16 && bitpix != 32)
            return mx_seterr(MX_ERR_PARAM, "integer image bitpix %d: must be 8, 16 or 32", bitpix);
    }
    mx_image *img;
    int st = alloc_image(nx, ny, kind, bitpix, &img);
    if (st != MX_OK) return st;
    size_t n = (size_t)nx * (size_t)ny;
    if (kind == MX_IMG_FLOAT)
        for (size_t k = 0; k < n; k++) img->data[k] = fill;
    else
        memset(img->mask, 0, n * sizeof *img->mask);
    *out = img;
    return MX_OK;
}

int mx_image_dup(const mx_image *src, mx_image **out) {
    *out = NULL;
    if (!src) return mx_seterr(MX_ERR_PARAM, "mx_image_dup: no source image");
    mx_image *img;
    int st = alloc_image(src->nx, src->ny, src->kind, src->bitpix, &img);
    if (st != MX_OK) return st;
    size_t n = (size_t)src->nx * (size_t)src->ny;
    if (src->kind == MX_IMG_FLOAT) memcpy(img->data, src->data, n * sizeof *img->data);
    else memcpy(img->mask, src->mask, n * sizeof *img->mask);
    mx_header_free(img->hdr);
    img->hdr = mx_header_dup(src->hdr);
    img->path = dup_str(src->path);
    if (!img->hdr || (src->path && !img->path)) {
        mx_image_free(img);
        return mx_seterr(MX_ERR_NOMEM, "copy of an image header");
    }
    *out = img;
    return MX_OK;
}

void mx_image_free(mx_image *img) {
    if (!img) return;
    free(img->data);
    free(img->mask);
    mx_header_free(img->hdr);
    free(img->path);
    free(img);
}

/* ---- cfitsio errors --------------------------------------------------- */

static int fits_status_code(int status) {
    switch (status) {
    case MEMORY_ALLOCATION: return MX_ERR_NOMEM;
    case FILE_NOT_OPENED:
    case FILE_NOT_CREATED:
    case WRITE_ERROR:
    case READ_ERROR:
    case FILE_NOT_CLOSED:
    case READONLY_FILE:
    case SEEK_ERROR: return MX_ERR_IO;
    default: return MX_ERR_FORMAT;
    }
}

/* "<doing> '<path>': <cfitsio's reason> (cfitsio status N)", and cfitsio's
 * own message stack emptied so that it does not grow or leak into later
 * diagnostics. */
static int fits_fail(int status, const char *doing, const char *path) {
    char reason[FLEN_STATUS];
    fits_get_errstatus(status, reason);
    fits_clear_errmsg();
    if (status == END_OF_FILE || status == READ_ERROR)
        return mx_seterr(MX_ERR_FORMAT, "%s '%s': the file is truncated or damaged (%s, cfitsio status %d)",
                         doing, path, reason, status);
    if (status == NUM_OVERFLOW)
        return mx_seterr(MX_ERR_FORMAT, "%s '%s': a pixel value does not fit the data type (%s, cfitsio status %d)",
                         doing, path, reason, status);
    return mx_seterr(fits_status_code(status), "%s '%s': %s (cfitsio status %d)", doing, path,
                     reason, status);
}

/* ---- opening ---------------------------------------------------------- */

/* An open image HDU and what we know about it. */
typedef struct {
    fitsfile *f;
    const char *path;
    int bitpix;           /* of the stored image (ZBITPIX when tile-compressed) */
    int naxis;            /* as in the file, degenerate axes included */
    long nx, ny;
    int compressed;
    int gz;               /* gzip file, decompressed by cfitsio */
    /* raw mode (readers of plain BITPIX -32 data, see raw_read_block): f is
     * closed and the pixels are read with pread from raw_fd */
    int raw_fd;
    long long data;       /* offset of the first pixel */
} fits_in;

/* Checks cfitsio cannot phrase well: missing, a directory, empty, not FITS.
 * Sets *gz when the file is gzip-compressed (cfitsio inflates those). */
static int check_input_file(const char *path, long long *size, int *gz) {
    if (!path || !*path) return mx_seterr(MX_ERR_PARAM, "no FITS file name given");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mx_seterr(MX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return mx_seterr(MX_ERR_IO, "cannot read '%s': it is a directory", path);
    if (!S_ISREG(sb.st_mode)) return mx_seterr(MX_ERR_IO, "cannot read '%s': not a regular file", path);
    if (sb.st_size == 0)
        return mx_seterr(MX_ERR_FORMAT, "'%s' is empty (0 bytes), not a FITS file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return mx_seterr(MX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char magic[9] = {0};
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    *gz = got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (!*gz && (got < 9 || memcmp(magic, "SIMPLE  =", 9) != 0))
        return mx_seterr(MX_ERR_FORMAT, "'%s' is not a FITS file (it does not start with a SIMPLE card)",
                         path);
    *size = (long long)sb.st_size;
    return MX_OK;
}

/* Image parameters of the current HDU; *has_data = 0 when it holds no pixels. */
static int hdu_image(fits_in *in, long naxes[MAX_AXES], int *has_data) {
    int status = 0;
    fits_get_img_param(in->f, MAX_AXES, &in->bitpix, &in->naxis, naxes, &status);
    if (status) return fits_fail(status, "cannot read the image parameters of", in->path);
    *has_data = in->naxis > 0;
    for (int k = 0; k < in->naxis && k < MAX_AXES; k++)
        if (naxes[k] <= 0) *has_data = 0;
    return MX_OK;
}

/* The data of a FITS image end before the end of the file; cfitsio itself
 * would only notice when reading the missing pixels. */
static int check_not_truncated(fits_in *in, long naxes[MAX_AXES], long long file_size) {
    int status = 0;
    LONGLONG head, data, end;
    fits_get_hduaddrll(in->f, &head, &data, &end, &status);
    if (status) return fits_fail(status, "cannot locate the data of", in->path);
    long long need;
    if (in->compressed) {
        /* the table that holds the tiles: NAXIS1 x NAXIS2 bytes plus the heap */
        LONGLONG n1 = 0, n2 = 0, pcount = 0;
        fits_read_key(in->f, TLONGLONG, "NAXIS1", &n1, NULL, &status);
        fits_read_key(in->f, TLONGLONG, "NAXIS2", &n2, NULL, &status);
        fits_read_key(in->f, TLONGLONG, "PCOUNT", &pcount, NULL, &status);
        if (status) return fits_fail(status, "cannot read the compressed table of", in->path);
        need = (long long)data + (long long)n1 * n2 + pcount;
    } else {
        long long npix = 1;
        for (int k = 0; k < in->naxis; k++) npix *= naxes[k];
        need = (long long)data + npix * ((in->bitpix < 0 ? -in->bitpix : in->bitpix) / 8);
    }
    if (need > file_size)
        return mx_seterr(MX_ERR_FORMAT,
                         "'%s' is truncated: its image data need %lld bytes but the file has %lld",
                         in->path, need, file_size);
    return MX_OK;
}

/* Open `path` at the HDU holding the image: the primary HDU, or the first
 * image extension with data when the primary is empty. */
static int open_image(const char *path, fits_in *in) {
    memset(in, 0, sizeof *in);
    in->path = path;
    in->raw_fd = -1;
    long long size = 0;
    int gz = 0, status = 0, st;
    if ((st = check_input_file(path, &size, &gz)) != MX_OK) return st;
    fits_open_diskfile(&in->f, path, READONLY, &status);
    if (status) {
        in->f = NULL;
        return fits_fail(status, "cannot open FITS file", path);
    }
    long naxes[MAX_AXES];
    int has_data = 0;
    if ((st = hdu_image(in, naxes, &has_data)) != MX_OK) goto fail;
    if (!has_data) {
        int hdutype, ext = 0;
        for (;;) {
            fits_movrel_hdu(in->f, 1, &hdutype, &status);
            if (status == END_OF_FILE) {
                status = 0;
                fits_clear_errmsg();
                break;
            }
            if (status) {
                st = fits_fail(status, "cannot read the extensions of", path);
                goto fail;
            }
            ext++;
            if (hdutype != IMAGE_HDU) continue; /* tile-compressed images count as images */
            if ((st = hdu_image(in, naxes, &has_data)) != MX_OK) goto fail;
            if (has_data) break;
        }
        if (!has_data) {
            st = mx_seterr(MX_ERR_FORMAT, "'%s' has no image data (empty primary HDU and no image extension)",
                           path);
            goto fail;
        }
        in->compressed = fits_is_compressed_image(in->f, &status);
        status = 0;
        mx_warn("'%s': the primary HDU has no data; reading the %simage in extension %d", path,
                in->compressed ? "tile-compressed " : "", ext);
    }
    if (in->naxis == 1) {
        st = mx_seterr(MX_ERR_UNSUPPORTED, "'%s' holds a 1-D array (NAXIS = 1); images must be 2-D", path);
        goto fail;
    }
    if (in->naxis > MAX_AXES) {
        st = mx_seterr(MX_ERR_UNSUPPORTED, "'%s': NAXIS = %d is not supported", path, in->naxis);
        goto fail;
    }
    for (int k = 2; k < in->naxis; k++)
        if (naxes[k] != 1) {
            st = mx_seterr(MX_ERR_UNSUPPORTED,
                           "'%s': data cubes are not supported (NAXIS = %d, NAXIS%d = %ld)", path,
                           in->naxis, k + 1, naxes[k]);
            goto fail;
        }
    in->nx = naxes[0];
    in->ny = naxes[1];
    fits_get_img_type(in->f, &in->bitpix, &status);
    if (status) {
        st = fits_fail(status, "cannot read BITPIX of", path);
        goto fail;
    }
    if (!gz && (st = check_not_truncated(in, naxes, size)) != MX_OK) goto fail;
    in->gz = gz;
    return MX_OK;
fail:
    status = 0;
    fits_close_file(in->f, &status);
    fits_clear_errmsg();
    in->f = NULL;
    return st;
}

static void close_image(fits_in *in) {
    if (in->raw_fd >= 0) close(in->raw_fd);
    in->raw_fd = -1;
    int status = 0;
    if (in->f) fits_close_file(in->f, &status);
    if (status) fits_clear_errmsg();
    in->f = NULL;
}

/* The header of the open HDU (as an uncompressed image's header when the
 * HDU is tile-compressed); NAXIS cards describe the image as held in memory
 * once degenerate axes are dropped. */
static int read_header_cards(fits_in *in, mx_header **out) {
    *out = NULL;
    char *text = NULL;
    int ncards = 0, status = 0, st = MX_OK;
    mx_header *h = mx_header_new();
    if (!h) return mx_seterr(MX_ERR_NOMEM, "header of '%s'", in->path);
    fits_convert_hdr2str(in->f, 0, NULL, 0, &text, &ncards, &status);
    if (status) {
        st = fits_fail(status, "cannot read the header of", in->path);
        goto exit;
    }
    for (int i = 0; i < ncards; i++) {
        const char *card = text + (size_t)i * 80;
        if (strncmp(card, "END     ", 8) == 0) break;
        char c[MX_CARD_LEN + 1];
        memcpy(c, card, MX_CARD_LEN);
        c[MX_CARD_LEN] = '\0';
        if ((st = mx_header_append_card(h, c)) != MX_OK) goto exit;
    }
    if (in->naxis > 2) {
        char key[16];
        for (int k = 3; k <= in->naxis; k++) {
            snprintf(key, sizeof key, "NAXIS%d", k);
            mx_header_delete(h, key);
        }
        if ((st = mx_header_set_long(h, "NAXIS", 2, NULL)) != MX_OK) goto exit;
    }
exit:
    if (text) fits_free_memory(text, &status);
    if (st != MX_OK) {
        mx_header_free(h);
        return st;
    }
    *out = h;
    return MX_OK;
}

/* BSCALE and BZERO of a header (1 and 0 when absent). */
static void header_scaling(const mx_header *h, double *bscale, double *bzero) {
    *bscale = 1.0;
    *bzero = 0.0;
    if (mx_header_has(h, "BSCALE") && mx_header_get_double(h, "BSCALE", bscale) != MX_OK) *bscale = 1.0;
    if (mx_header_has(h, "BZERO") && mx_header_get_double(h, "BZERO", bzero) != MX_OK) *bzero = 0.0;
}

/* Can the image be read as integers without losing anything? */
static int is_integer_data(int bitpix, double bscale, double bzero) {
    return bitpix > 0 && bscale == 1.0 && bzero == floor(bzero);
}

/* A mask must be stored as integers, unscaled but for an integer offset. */
static int check_mask_type(const char *path, int bitpix, double bscale, double bzero) {
    if (bitpix < 0)
        return mx_seterr(MX_ERR_FORMAT, "mask '%s' has BITPIX %d; masks must be integer", path, bitpix);
    if (!is_integer_data(bitpix, bscale, bzero))
        return mx_seterr(MX_ERR_FORMAT,
                         "mask '%s' has BSCALE %.17g, BZERO %.17g; masks must be unscaled integers",
                         path, bscale, bzero);
    return MX_OK;
}

/* ---- reading pixels --------------------------------------------------- */

/* The rectangle [x0, x0+w) x [y0, y0+h), entirely inside the image, into
 * `buf` (w*h values, row-major) as float (as_int = 0) or int32. */
/* The null value cfitsio is to check: none for plain -32 (bit-exact);
 * tile-compressed floats need it, as their NaNs travel as a ZBLANK code. */
static void *null_value(const fits_in *in, int as_int, float *nanval) {
    return (as_int || (in->bitpix == -32 && !in->compressed)) ? NULL : nanval;
}

/* Whole rows y0 .. y0+m-1 into dst (m x nx values). Raw mode (see
 * mx_fits_reader_open): pread and byte swap - a kept-open reader then costs
 * a file descriptor, not cfitsio's 115 kB of record buffers. Else cfitsio,
 * one sequential read. */
static int read_rows(fits_in *in, long y0, long m, int as_int, void *dst) {
    if (in->raw_fd >= 0) {
        if (as_int) return mx_seterr(MX_ERR_FORMAT, "'%s' holds floating-point pixels", in->path);
        size_t n = (size_t)m * (size_t)in->nx * 4, got = 0;
        long long at = in->data + (long long)y0 * (long long)in->nx * 4;
        while (got < n) {
            ssize_t k = pread(in->raw_fd, (char *)dst + got, n - got, (off_t)(at + (long long)got));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0)
                return mx_seterr(k < 0 ? MX_ERR_IO : MX_ERR_FORMAT, "cannot read the pixels of '%s': %s", in->path,
                                 k < 0 ? strerror(errno) : "the file is truncated");
            got += (size_t)k;
        }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint32_t *u = dst;
        for (size_t k = 0; k < n / 4; k++) u[k] = __builtin_bswap32(u[k]);
#endif
        return MX_OK;
    }
    int status = 0, anynul = 0;
    float nanval = NAN;
    void *nulval = null_value(in, as_int, &nanval);
    LONGLONG first[MAX_AXES];
    for (int k = 0; k < MAX_AXES; k++) first[k] = 1;
    first[1] = y0 + 1;
    fits_read_pixll(in->f, as_int ? TINT : TFLOAT, first, (LONGLONG)in->nx * m, nulval, dst, &anynul, &status);
    if (status) return fits_fail(status, "cannot read the pixels of", in->path);
    return MX_OK;
}

static int read_block(fits_in *in, long x0, long y0, long w, long h, int as_int, void *buf) {
    /* whole rows are contiguous in the file: one sequential read */
    if (x0 == 0 && w == in->nx) return read_rows(in, y0, h, as_int, buf);
    if (in->raw_fd >= 0 || (!in->compressed && (w >= in->nx / 4 || (size_t)in->nx * sizeof(float) <= 4 * 2880))) {
        /* Part of each row: cfitsio would fetch every row piece through its
         * 2880-byte records (one 4 kB read() each, ~40,000 per CoAdder run
         * at N = 50). Whole rows in chunks are few large sequential reads -
         * no more bytes when a row spans a few records or the part is a good
         * share of it; the columns are picked out here. */
        size_t es = as_int ? sizeof(int32_t) : sizeof(float);
        long chunk = (long)(((size_t)1 << 20) / ((size_t)in->nx * es));
        if (chunk < 1) chunk = 1;
        if (chunk > h) chunk = h;
        char *rows = mx_scratch_alloc((size_t)chunk * (size_t)in->nx * es), *out = buf;
        if (!rows) return mx_seterr(MX_ERR_NOMEM, "rows of '%s'", in->path);
        int st = MX_OK;
        for (long r0 = 0; r0 < h && st == MX_OK; r0 += chunk) {
            long m = h - r0 < chunk ? h - r0 : chunk;
            if ((st = read_rows(in, y0 + r0, m, as_int, rows)) != MX_OK) break;
            for (long j = 0; j < m; j++)
                memcpy(out + (size_t)(r0 + j) * (size_t)w * es, rows + ((size_t)j * (size_t)in->nx + (size_t)x0) * es,
                       (size_t)w * es);
        }
        mx_scratch_free(rows);
        return st;
    }
    int status = 0, anynul = 0;
    float nanval = NAN;
    void *nulval = null_value(in, as_int, &nanval);
    long blc[MAX_AXES], trc[MAX_AXES], inc[MAX_AXES];
    for (int k = 0; k < MAX_AXES; k++) blc[k] = trc[k] = inc[k] = 1;
    blc[0] = x0 + 1;
    trc[0] = x0 + w;
    blc[1] = y0 + 1;
    trc[1] = y0 + h;
    fits_read_subset(in->f, as_int ? TINT : TFLOAT, blc, trc, inc, nulval, buf, &anynul, &status);
    if (status) return fits_fail(status, "cannot read the pixels of", in->path);
    return MX_OK;
}

/* Rectangle read with the parts outside the image filled with NaN / 0. The
 * inside block is read into the front of `buf` and then spread out in
 * place, last row first, so no scratch memory is needed: row r moves from
 * r*cw to (r+oy)*nx+ox, never below where rows still unread lie. */
static int read_region(fits_in *in, long x0, long y0, long nx, long ny, int as_int, void *buf) {
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "region of '%s': size %ld x %ld must be positive", in->path, nx, ny);
    if (!buf) return mx_seterr(MX_ERR_PARAM, "region of '%s': no output buffer", in->path);
    if (x0 > LONG_MAX - nx || y0 > LONG_MAX - ny || x0 < LONG_MIN / 2 || y0 < LONG_MIN / 2)
        return mx_seterr(MX_ERR_PARAM, "region of '%s': origin (%ld, %ld) out of range", in->path, x0, y0);
    size_t es = as_int ? sizeof(int32_t) : sizeof(float);
    char *b = buf;
    long cx0 = x0 > 0 ? x0 : 0, cy0 = y0 > 0 ? y0 : 0;
    long cx1 = x0 + nx < in->nx ? x0 + nx : in->nx, cy1 = y0 + ny < in->ny ? y0 + ny : in->ny;
    size_t total = (size_t)nx * (size_t)ny;
    if (cx0 >= cx1 || cy0 >= cy1) {
        /* entirely outside */
        if (as_int) memset(buf, 0, total * es);
        else for (size_t k = 0; k < total; k++) ((float *)buf)[k] = NAN;
        return MX_OK;
    }
    long cw = cx1 - cx0, ch = cy1 - cy0, ox = cx0 - x0, oy = cy0 - y0;
    int st = read_block(in, cx0, cy0, cw, ch, as_int, buf);
    if (st != MX_OK) return st;
    if (cw == nx && ch == ny) return MX_OK;
    for (long r = ch - 1; r >= 0; r--)
        memmove(b + ((size_t)(r + oy) * nx + ox) * es, b + (size_t)r * cw * es, (size_t)cw * es);
    /* fill what lies outside: whole rows above and below, margins beside */
    for (long j = 0; j < ny; j++) {
        long spans[2][2] = {{0, nx}, {nx, nx}};
        if (j >= oy && j < oy + ch) {
            spans[0][1] = ox;
            spans[1][0] = ox + cw;
        }
        for (int s = 0; s < 2; s++) {
            size_t o = (size_t)j * nx + spans[s][0];
            long len = spans[s][1] - spans[s][0];
            if (len <= 0) continue;
            if (as_int) memset((int32_t *)buf + o, 0, (size_t)len * es);
            else for (long i = 0; i < len; i++) ((float *)buf)[o + i] = NAN;
        }
    }
    return MX_OK;
}

enum { READ_FLOAT, READ_MASK, READ_AUTO };

static int read_image(const char *path, int mode, mx_image **out) {
    *out = NULL;
    fits_in in;
    mx_header *hdr = NULL;
    mx_image *img = NULL;
    int st = open_image(path, &in);
    if (st != MX_OK) return st;
    if ((st = read_header_cards(&in, &hdr)) != MX_OK) goto exit;
    double bscale, bzero;
    header_scaling(hdr, &bscale, &bzero);
    mx_image_kind kind = MX_IMG_FLOAT;
    if (mode == READ_MASK) {
        if ((st = check_mask_type(path, in.bitpix, bscale, bzero)) != MX_OK) goto exit;
        kind = MX_IMG_INT;
    } else if (mode == READ_AUTO && is_integer_data(in.bitpix, bscale, bzero)) {
        kind = MX_IMG_INT;
    }
    int bitpix = kind == MX_IMG_INT ? (in.bitpix == 64 ? 32 : in.bitpix) : in.bitpix;
    if ((st = alloc_image(in.nx, in.ny, kind, bitpix, &img)) != MX_OK) {
        mx_preferr(st, "reading '%s'", path);
        goto exit;
    }
    st = read_block(&in, 0, 0, in.nx, in.ny, kind == MX_IMG_INT,
                    kind == MX_IMG_INT ? (void *)img->mask : (void *)img->data);
    if (st != MX_OK && kind == MX_IMG_INT && mode == READ_AUTO) {
        /* values beyond int32 (BITPIX 64, unsigned 32): fall back to float */
        mx_image_free(img);
        img = NULL;
        if ((st = alloc_image(in.nx, in.ny, MX_IMG_FLOAT, in.bitpix, &img)) != MX_OK) goto exit;
        st = read_block(&in, 0, 0, in.nx, in.ny, 0, img->data);
    } else if (st != MX_OK && kind == MX_IMG_INT) {
        mx_preferr(st, "mask '%s' must hold 32-bit integers", path);
    }
    if (st != MX_OK) goto exit;
    mx_header_free(img->hdr);
    img->hdr = hdr;
    hdr = NULL;
    if (!(img->path = dup_str(path))) {
        st = mx_seterr(MX_ERR_NOMEM, "reading '%s'", path);
        goto exit;
    }
exit:
    close_image(&in);
    mx_header_free(hdr);
    if (st != MX_OK) {
        mx_image_free(img);
        return st;
    }
    *out = img;
    return MX_OK;
}

int mx_image_read(const char *path, mx_image **out) { return read_image(path, READ_FLOAT, out); }
int mx_mask_read(const char *path, mx_image **out) { return read_image(path, READ_MASK, out); }
int mx_image_read_auto(const char *path, mx_image **out) { return read_image(path, READ_AUTO, out); }

int mx_fits_read_header(const char *path, mx_header **hdr, long *nx, long *ny, int *bitpix) {
    if (hdr) *hdr = NULL;
    fits_in in;
    int st = open_image(path, &in);
    if (st != MX_OK) return st;
    if (hdr) st = read_header_cards(&in, hdr);
    if (st == MX_OK) {
        if (nx) *nx = in.nx;
        if (ny) *ny = in.ny;
        if (bitpix) *bitpix = in.bitpix;
    }
    close_image(&in);
    return st;
}

/* ---- region reads and the reader -------------------------------------- */

struct mx_fits_reader {
    fits_in in;
    char *path;
    double bscale, bzero;
};

int mx_fits_reader_open(const char *path, mx_fits_reader **out) {
    *out = NULL;
    mx_fits_reader *r = calloc(1, sizeof *r);
    if (!r) return mx_seterr(MX_ERR_NOMEM, "reader for '%s'", path ? path : "");
    r->path = dup_str(path);
    if (path && !r->path) {
        free(r);
        return mx_seterr(MX_ERR_NOMEM, "reader for '%s'", path);
    }
    int st = open_image(r->path, &r->in);
    if (st == MX_OK) {
        /* the scaling keywords only, to vet integer reads */
        int status = 0;
        r->bscale = 1.0;
        r->bzero = 0.0;
        fits_read_key(r->in.f, TDOUBLE, "BSCALE", &r->bscale, NULL, &status);
        if (status) r->bscale = 1.0;
        status = 0;
        fits_read_key(r->in.f, TDOUBLE, "BZERO", &r->bzero, NULL, &status);
        if (status) r->bzero = 0.0;
        fits_clear_errmsg();
    }
    if (st != MX_OK) {
        free(r->path);
        free(r);
        return st;
    }
    r->in.path = r->path;
    if (r->in.bitpix == -32 && !r->in.compressed && !r->in.gz && r->bscale == 1.0 && r->bzero == 0.0) {
        /* plain float data: read raw (kept-open readers stay small) */
        LONGLONG head = 0, data = 0, end = 0;
        int status = 0;
        fits_get_hduaddrll(r->in.f, &head, &data, &end, &status);
        int fd = status ? -1 : open(r->path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            close_image(&r->in);
            r->in.raw_fd = fd;
            r->in.data = (long long)data;
        }
        fits_clear_errmsg();
    }
    *out = r;
    return MX_OK;
}

int mx_fits_reader_size(const mx_fits_reader *r, long *nx, long *ny) {
    if (!r) return mx_seterr(MX_ERR_PARAM, "mx_fits_reader_size: no reader");
    if (nx) *nx = r->in.nx;
    if (ny) *ny = r->in.ny;
    return MX_OK;
}

int mx_fits_reader_region(mx_fits_reader *r, long x0, long y0, long nx, long ny, float *buf) {
    if (!r) return mx_seterr(MX_ERR_PARAM, "mx_fits_reader_region: no reader");
    return read_region(&r->in, x0, y0, nx, ny, 0, buf);
}

int mx_fits_reader_region_int(mx_fits_reader *r, long x0, long y0, long nx, long ny, int32_t *buf) {
    if (!r) return mx_seterr(MX_ERR_PARAM, "mx_fits_reader_region_int: no reader");
    int st = check_mask_type(r->path, r->in.bitpix, r->bscale, r->bzero);
    if (st != MX_OK) return st;
    st = read_region(&r->in, x0, y0, nx, ny, 1, buf);
    if (st != MX_OK) mx_preferr(st, "mask '%s' must hold 32-bit integers", r->path);
    return st;
}

void mx_fits_reader_close(mx_fits_reader *r) {
    if (!r) return;
    close_image(&r->in);
    free(r->path);
    free(r);
}

int mx_fits_read_region(const char *path, long x0, long y0, long nx, long ny, float *buf) {
    mx_fits_reader *r;
    int st = mx_fits_reader_open(path, &r);
    if (st != MX_OK) return st;
    st = mx_fits_reader_region(r, x0, y0, nx, ny, buf);
    mx_fits_reader_close(r);
    return st;
}

int mx_fits_read_region_int(const char *path, long x0, long y0, long nx, long ny, int32_t *buf) {
    mx_fits_reader *r;
    int st = mx_fits_reader_open(path, &r);
    if (st != MX_OK) return st;
    st = mx_fits_reader_region_int(r, x0, y0, nx, ny, buf);
    mx_fits_reader_close(r);
    return st;
}

/* ---- files and directories -------------------------------------------- */

char *mx_temp_name_for(const char *path) {
    static atomic_ulong counter;
    if (!path) return NULL;
    unsigned long n = atomic_fetch_add(&counter, 1) + 1;
    size_t len = strlen(path) + 64;
    char *t = malloc(len);
    if (t) snprintf(t, len, "%s.tmp-%ld-%lu", path, (long)getpid(), n);
    return t;
}

int mx_commit_temp(const char *tmp, const char *path) {
    if (!tmp || !path) return mx_seterr(MX_ERR_PARAM, "mx_commit_temp: missing file name");
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return mx_seterr(MX_ERR_IO, "cannot move '%s' into place as '%s': %s", tmp, path, strerror(e));
    }
    return MX_OK;
}

int mx_mkdir_p(const char *dir) {
    if (!dir || !*dir) return mx_seterr(MX_ERR_PARAM, "mx_mkdir_p: empty directory name");
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return mx_seterr(MX_ERR_NOMEM, "directory name '%s'", dir);
    memcpy(p, dir, n + 1);
    int st = MX_OK;
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char save = p[i];
        p[i] = '\0';
        if (p[i - 1] != '/' && mkdir(p, 0777) != 0) {
            int e = errno;
            struct stat sb;
            if (e != EEXIST) {
                st = mx_seterr(MX_ERR_IO, "cannot create directory '%s': %s", p, strerror(e));
            } else if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                st = mx_seterr(MX_ERR_IO, "cannot create directory '%s': '%s' exists and is not a directory",
                               dir, p);
            }
        }
        p[i] = save;
        if (st != MX_OK) break;
    }
    free(p);
    return st;
}

int mx_file_exists(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ---- writing ---------------------------------------------------------- */

/* Why `path` cannot be created when its directory is the reason (missing,
 * not a directory, not writable): the error, else MX_OK. */
static int directory_fail(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return mx_seterr(MX_ERR_IO, "cannot write '%s': directory '%s': %s", path, dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return mx_seterr(MX_ERR_IO, "cannot write '%s': '%s' is not a directory", path, dir);
    if (access(dir, W_OK) != 0)
        return mx_seterr(MX_ERR_IO, "cannot write '%s': directory '%s': %s", path, dir, strerror(errno));
    return MX_OK;
}

/* Why the file could not be created, in words better than cfitsio's. */
static int create_fail(int status, const char *path, const char *tmp) {
    fits_clear_errmsg();
    int st = directory_fail(path);
    return st != MX_OK ? st : fits_fail(status, "cannot create", tmp);
}

/* cfitsio image type for an integer image of nominal `bitpix`; the header's
 * BZERO chooses the unsigned/signed variant when the values allow, so that
 * an unsigned 16-bit mask is written back as it was read. have_range = 0
 * (streaming) trusts the header alone. */
static int int_image_type(const char *path, int bitpix, const mx_header *hdr, int have_range,
                          int32_t lo, int32_t hi, int *type, long *offset) {
    double bscale, bzero;
    header_scaling(hdr, &bscale, &bzero);
    *offset = 0;
    switch (bitpix) {
    case 8: {
        int want_signed = bzero == -128.0;
        int fits_u = !have_range || (lo >= 0 && hi <= 255);
        int fits_s = !have_range || (lo >= -128 && hi <= 127);
        if (fits_u && (!want_signed || !fits_s)) *type = BYTE_IMG;
        else if (fits_s) { *type = SBYTE_IMG; *offset = -128; }
        else
            return mx_seterr(MX_ERR_PARAM, "writing '%s': values %d..%d do not fit BITPIX 8", path,
                             (int)lo, (int)hi);
        return MX_OK;
    }
    case 16: {
        int want_unsigned = bzero == 32768.0;
        int fits_s = !have_range || (lo >= -32768 && hi <= 32767);
        int fits_u = !have_range || (lo >= 0 && hi <= 65535);
        if (fits_u && (want_unsigned || !fits_s)) { *type = USHORT_IMG; *offset = 32768; }
        else if (fits_s) *type = SHORT_IMG;
        else
            return mx_seterr(MX_ERR_PARAM, "writing '%s': values %d..%d do not fit BITPIX 16", path,
                             (int)lo, (int)hi);
        return MX_OK;
    }
    case 32: *type = LONG_IMG; return MX_OK;
    default:
        return mx_seterr(MX_ERR_PARAM, "writing '%s': integer bitpix %d is not 8, 16 or 32", path, bitpix);
    }
}

/* Copy the header's cards after the structural ones cfitsio wrote. Scaling
 * cards are not copied: float data are written unscaled and an integer
 * image's offset was chosen above (a BLANK is moved by the change of offset);
 * FITS checksums would no longer match. A card cfitsio refuses is skipped with a
 * warning rather than losing the whole image. */
static int write_cards(fitsfile *f, const mx_header *hdr, int is_int, long offset, const char *path) {
    if (!hdr) return MX_OK;
    double bscale, old_zero;
    header_scaling(hdr, &bscale, &old_zero);
    for (int i = 0; i < hdr->ncards; i++) {
        const char *card = hdr->cards[i];
        char key[9];
        int n = 0;
        while (n < 8 && card[n] && card[n] != ' ' && card[n] != '=') {
            key[n] = card[n] >= 'a' && card[n] <= 'z' ? (char)(card[n] - 32) : card[n];
            n++;
        }
        key[n] = '\0';
        if (n > 0 && mx_header_is_structural(key)) continue;
        if (strcmp(key, "BSCALE") == 0 || strcmp(key, "BZERO") == 0) continue;
        if (strcmp(key, "CHECKSUM") == 0 || strcmp(key, "DATASUM") == 0) {
            /* the FITS checksum convention (string values) would no longer
             * match; other uses of the names (MIPL writes a number) stay */
            const char *v = card + 10;
            while (*v == ' ') v++;
            if (*v == '\'') continue;
        }
        char moved[FLEN_CARD];
        if (strcmp(key, "BLANK") == 0) {
            long blank;
            if (!is_int || mx_header_get_long(hdr, "BLANK", &blank) != MX_OK) continue;
            /* BLANK is a raw stored value: physical = raw + BZERO */
            double raw = (double)blank + old_zero - (double)offset;
            if (raw != floor(raw) || fabs(raw) > 2147483647.0) continue;
            snprintf(moved, sizeof moved, "BLANK   = %20ld / value of undefined pixels", (long)raw);
            card = moved;
        }
        int status = 0;
        fits_write_record(f, card, &status);
        if (status) {
            char reason[FLEN_STATUS];
            fits_get_errstatus(status, reason);
            fits_clear_errmsg();
            mx_warn("writing '%s': header card '%.80s' is not valid FITS and was left out (%s)", path,
                    card, reason);
        }
    }
    return MX_OK;
}

/* Create the image HDU (nx x ny, cfitsio type) with the header's cards. */
static int create_image_hdu(fitsfile *f, long nx, long ny, int type, const mx_header *hdr, int is_int,
                            long offset, const char *path) {
    int status = 0;
    long naxes[2] = {nx, ny};
    fits_create_img(f, type, 2, naxes, &status);
    if (status) return fits_fail(status, "cannot create the image in", path);
    /* cfitsio adds two COMMENT cards citing the FITS paper; the source
     * header's own cards follow, so drop them lest they pile up each time an
     * image is read and written again */
    while (!status) fits_delete_key(f, "COMMENT", &status);
    status = 0;
    fits_clear_errmsg();
    return write_cards(f, hdr, is_int, offset, path);
}

/* ---- float pixels without cfitsio's record buffers ----------------------
 * cfitsio writes data through 2880-byte records and stdio: one 4 kB write()
 * per record, ~26,000 calls for a 50-frame mosaic. BITPIX -32 data need no
 * conversion but the byte order, so they go out here in large pwrite()s,
 * behind the header block cfitsio formats (in memory, from the same cards
 * as before): the files are byte for byte what cfitsio wrote. */
typedef struct {
    int fd;
    long long data; /* offset of the first pixel */
    long nx, ny;
} raw_out;

static int raw_create_fail(int err, const char *path, const char *tmp) {
    int st = directory_fail(path);
    return st != MX_OK ? st : mx_seterr(MX_ERR_IO, "cannot write '%s': cannot create '%s': %s", path, tmp, strerror(err));
}

static int pwrite_all(int fd, const void *buf, size_t n, long long at, const char *path) {
    const char *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, (off_t)at);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return mx_seterr(MX_ERR_IO, "cannot write '%s': %s", path, k < 0 ? strerror(errno) : "no progress");
        p += k, n -= (size_t)k, at += k;
    }
    return MX_OK;
}

static int raw_open(const char *tmp, const char *path, long nx, long ny, const mx_header *hdr, raw_out *r) {
    r->fd = -1;
    r->nx = nx;
    r->ny = ny;
    /* the header block: cfitsio formats the cards in a memory file */
    fitsfile *m = NULL;
    int status = 0, st = MX_OK, nk = 0;
    char *cards = NULL;
    fits_create_file(&m, "mem://", &status);
    if (status) return fits_fail(status, "cannot format the header of", path);
    if ((st = create_image_hdu(m, nx, ny, FLOAT_IMG, hdr, 0, 0, path)) == MX_OK) {
        fits_hdr2str(m, 0, NULL, 0, &cards, &nk, &status);
        if (status) st = fits_fail(status, "cannot format the header of", path);
    }
    size_t n = (size_t)nk * 80, len = (n + 2879) / 2880 * 2880;
    char *block = st == MX_OK ? malloc(len) : NULL;
    if (st == MX_OK && !block) st = mx_seterr(MX_ERR_NOMEM, "header of '%s'", path);
    if (block) {
        memcpy(block, cards, n);
        memset(block + n, ' ', len - n);
    }
    if (cards) {
        int s2 = 0;
        fits_free_memory(cards, &s2);
    }
    /* closing would fill the memory file's data unit (nx ny 4 bytes of
     * zeros): shrink the image to one pixel first */
    int s3 = 0;
    fits_update_key_lng(m, "NAXIS1", 1, NULL, &s3);
    fits_update_key_lng(m, "NAXIS2", 1, NULL, &s3);
    s3 = 0;
    fits_close_file(m, &s3);
    fits_clear_errmsg();
    if (st != MX_OK) {
        free(block);
        return st;
    }
    r->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (r->fd < 0) {
        st = raw_create_fail(errno, path, tmp);
        free(block);
        return st;
    }
    st = pwrite_all(r->fd, block, len, 0, path);
    free(block);
    r->data = (long long)len;
    if (st != MX_OK) {
        close(r->fd);
        r->fd = -1;
        remove(tmp);
    }
    return st;
}

/* Rows y0 .. y0+nrows-1, big-endian, in chunks of at most 1 MB. */
static int raw_put(raw_out *r, long y0, long nrows, const float *rows, const char *path) {
    size_t total = (size_t)r->nx * (size_t)nrows, chunk = total < ((size_t)1 << 18) ? total : ((size_t)1 << 18);
    uint32_t *buf = mx_scratch_alloc(chunk * sizeof *buf);
    if (!buf) return mx_seterr(MX_ERR_NOMEM, "writing '%s'", path);
    int st = MX_OK;
    long long at = r->data + (long long)y0 * r->nx * 4;
    for (size_t k0 = 0; k0 < total && st == MX_OK; k0 += chunk) {
        size_t m = total - k0 < chunk ? total - k0 : chunk;
        for (size_t k = 0; k < m; k++) { /* copy and byte order in one pass */
            uint32_t u;
            memcpy(&u, rows + k0 + k, sizeof u);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            u = __builtin_bswap32(u);
#endif
            buf[k] = u;
        }
        st = pwrite_all(r->fd, buf, m * sizeof *buf, at + (long long)k0 * 4, path);
    }
    mx_scratch_free(buf);
    return st;
}

/* Zero fill to the end of the last 2880-byte record, then close. */
static int raw_finish(raw_out *r, const char *path) {
    long long end = r->data + (long long)r->nx * r->ny * 4, pad = (2880 - end % 2880) % 2880;
    static const char zeros[2880];
    int st = pad ? pwrite_all(r->fd, zeros, (size_t)pad, end, path) : MX_OK;
    if (close(r->fd) != 0 && st == MX_OK) st = mx_seterr(MX_ERR_IO, "cannot finish writing '%s': %s", path, strerror(errno));
    r->fd = -1;
    return st;
}

int mx_image_write(const mx_image *img, const char *path) {
    if (!img || !path || !*path)
        return mx_seterr(MX_ERR_PARAM, "mx_image_write: %s", img ? "no file name" : "no image");
    int is_int = img->kind == MX_IMG_INT;
    if ((is_int && !img->mask) || (!is_int && !img->data))
        return mx_seterr(MX_ERR_PARAM, "writing '%s': the image has no pixels", path);
    size_t n = (size_t)img->nx * (size_t)img->ny;
    int type = FLOAT_IMG, status = 0, st = MX_OK;
    long offset = 0;
    if (is_int) {
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        for (size_t k = 0; k < n; k++) {
            int32_t v = img->mask[k];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if ((st = int_image_type(path, img->bitpix ? img->bitpix : 32, img->hdr, 1, lo, hi, &type,
                                 &offset)) != MX_OK)
            return st;
    }
    char *tmp = mx_temp_name_for(path);
    if (!tmp) return mx_seterr(MX_ERR_NOMEM, "writing '%s'", path);
    if (!is_int) {
        raw_out r;
        if ((st = raw_open(tmp, path, img->nx, img->ny, img->hdr, &r)) == MX_OK) {
            st = raw_put(&r, 0, img->ny, img->data, path);
            int st2 = raw_finish(&r, path);
            if (st == MX_OK) st = st2;
            if (st == MX_OK) st = mx_commit_temp(tmp, path);
            else remove(tmp);
        }
        free(tmp);
        return st;
    }
    fitsfile *f = NULL;
    fits_create_diskfile(&f, tmp, &status);
    if (status) {
        st = create_fail(status, path, tmp);
        free(tmp);
        return st;
    }
    if ((st = create_image_hdu(f, img->nx, img->ny, type, img->hdr, is_int, offset, path)) != MX_OK)
        goto fail;
    LONGLONG first[2] = {1, 1};
    fits_write_pixll(f, is_int ? TINT : TFLOAT, first, (LONGLONG)n,
                     is_int ? (void *)img->mask : (void *)img->data, &status);
    if (status) {
        st = fits_fail(status, "cannot write the pixels of", path);
        goto fail;
    }
    fits_close_file(f, &status);
    f = NULL;
    if (status) {
        st = fits_fail(status, "cannot finish writing", path);
        goto fail;
    }
    st = mx_commit_temp(tmp, path);
    free(tmp);
    return st;
fail:
    if (f) {
        status = 0;
        fits_close_file(f, &status);
        fits_clear_errmsg();
    }
    remove(tmp);
    free(tmp);
    return st;
}

/* ---- streaming writer ------------------------------------------------- */

struct mx_fits_writer {
    fitsfile *f;    /* integer images */
    raw_out raw;    /* BITPIX -32: raw.fd >= 0 */
    char *tmp, *path;
    long nx, ny;
    int bitpix;
    unsigned char *done; /* one flag per row */
};

static void writer_free(mx_fits_writer *w, int remove_tmp) {
    if (!w) return;
    if (w->raw.fd >= 0) close(w->raw.fd);
    if (w->f) {
        int status = 0;
        fits_close_file(w->f, &status);
        fits_clear_errmsg();
    }
    if (remove_tmp && w->tmp) remove(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->done);
    free(w);
}

int mx_fits_writer_open(const char *path, long nx, long ny, int bitpix, const mx_header *hdr,
                        mx_fits_writer **out) {
    *out = NULL;
    if (!path || !*path) return mx_seterr(MX_ERR_PARAM, "streaming writer: no file name");
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "writing '%s': size %ld x %ld must be positive", path, nx, ny);
    if (bitpix != -32 && bitpix != 8 && bitpix != 16 && bitpix != 32)
        return mx_seterr(MX_ERR_PARAM, "writing '%s': bitpix %d is not -32, 8, 16 or 32", path, bitpix);
    int type = FLOAT_IMG, status = 0, st;
    long offset = 0;
    if (bitpix > 0 && (st = int_image_type(path, bitpix, hdr, 0, 0, 0, &type, &offset)) != MX_OK) return st;
    mx_fits_writer *w = calloc(1, sizeof *w);
    if (!w) return mx_seterr(MX_ERR_NOMEM, "writer for '%s'", path);
    w->nx = nx;
    w->ny = ny;
    w->bitpix = bitpix;
    w->raw.fd = -1;
    w->path = dup_str(path);
    w->tmp = mx_temp_name_for(path);
    w->done = calloc((size_t)ny, 1);
    if (!w->path || !w->tmp || !w->done) {
        writer_free(w, 0);
        return mx_seterr(MX_ERR_NOMEM, "writer for '%s'", path);
    }
    if (bitpix == -32) {
        if ((st = raw_open(w->tmp, path, nx, ny, hdr, &w->raw)) != MX_OK) {
            writer_free(w, 0);
            return st;
        }
        *out = w;
        return MX_OK;
    }
    fits_create_diskfile(&w->f, w->tmp, &status);
    if (status) {
        w->f = NULL;
        st = create_fail(status, path, w->tmp);
        writer_free(w, 0);
        return st;
    }
    if ((st = create_image_hdu(w->f, nx, ny, type, hdr, bitpix > 0, offset, path)) != MX_OK) {
        writer_free(w, 1);
        return st;
    }
    *out = w;
    return MX_OK;
}

static int put_rows(mx_fits_writer *w, long y0, long nrows, const void *rows, int is_int) {
    if (!w) return mx_seterr(MX_ERR_PARAM, "streaming writer: no writer");
    if ((w->bitpix > 0) != is_int)
        return mx_seterr(MX_ERR_PARAM, "writing '%s': %s rows given to a BITPIX %d writer", w->path,
                         is_int ? "integer" : "float", w->bitpix);
    if (!rows) return mx_seterr(MX_ERR_PARAM, "writing '%s': no rows given", w->path);
    if (y0 < 0 || nrows < 1 || y0 > w->ny - nrows)
        return mx_seterr(MX_ERR_PARAM, "writing '%s': rows %ld..%ld outside the image rows 0..%ld",
                         w->path, y0, y0 + nrows - 1, w->ny - 1);
    if (w->raw.fd >= 0) {
        int st = raw_put(&w->raw, y0, nrows, rows, w->path);
        if (st == MX_OK) memset(w->done + y0, 1, (size_t)nrows);
        return st;
    }
    int status = 0;
    LONGLONG first[2] = {1, y0 + 1};
    fits_write_pixll(w->f, is_int ? TINT : TFLOAT, first, (LONGLONG)w->nx * nrows, (void *)rows, &status);
    if (status) {
        if (status == NUM_OVERFLOW) {
            fits_clear_errmsg();
            return mx_seterr(MX_ERR_PARAM, "writing '%s': values in rows %ld..%ld do not fit BITPIX %d",
                             w->path, y0, y0 + nrows - 1, w->bitpix);
        }
        return fits_fail(status, "cannot write rows of", w->path);
    }
    memset(w->done + y0, 1, (size_t)nrows);
    return MX_OK;
}

int mx_fits_writer_put_rows(mx_fits_writer *w, long y0, long nrows, const float *rows) {
    return put_rows(w, y0, nrows, rows, 0);
}

int mx_fits_writer_put_rows_int(mx_fits_writer *w, long y0, long nrows, const int32_t *rows) {
    return put_rows(w, y0, nrows, rows, 1);
}

int mx_fits_writer_commit(mx_fits_writer *w) {
    if (!w) return mx_seterr(MX_ERR_PARAM, "streaming writer: no writer");
    int st = MX_OK, status = 0;
    for (long y = 0; y < w->ny; y++)
        if (!w->done[y]) {
            long e = y;
            while (e + 1 < w->ny && !w->done[e + 1]) e++;
            st = mx_seterr(MX_ERR_PARAM, "writing '%s': rows %ld..%ld were never written", w->path, y, e);
            writer_free(w, 1);
            return st;
        }
    if (w->raw.fd >= 0) {
        if ((st = raw_finish(&w->raw, w->path)) != MX_OK) {
            writer_free(w, 1);
            return st;
        }
    } else {
        fits_close_file(w->f, &status);
        w->f = NULL;
        if (status) {
            st = fits_fail(status, "cannot finish writing", w->path);
            writer_free(w, 1);
            return st;
        }
    }
    st = mx_commit_temp(w->tmp, w->path);
    writer_free(w, 0);
    return st;
}

void mx_fits_writer_abort(mx_fits_writer *w) { writer_free(w, 1); }
