/* test_image.c - FITS image I/O: real IRAC frames, every BITPIX with scaling,
 * bad input, atomic writes, regions, the streaming writer, tile compression,
 * threads, and BUNIT units.
 *
 * Pixel values of the real frame were checked independently with astropy:
 *   from astropy.io import fits
 *   d = fits.getdata('SPITZER_I1_46291456_0056_0000_2_cbcd.fits')
 *   d[10, 20], d[128, 127], ...   (numpy is [y, x], 0-based)
 */
#include "mxtest.h"

#include <dirent.h>
#include <errno.h>
#include <fitsio.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[4096];
static const char *data_dir;
static char cbcd[4096], cbunc[4096], bimsk[4096];

static const char *tpath(const char *name) {
    static _Thread_local char buf[8][4096];
    static _Thread_local int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Number of directory entries whose name contains `needle`. */
static int count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

static int write_bytes(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(buf, 1, n, f) : 0;
    fclose(f);
    return w == n ? 0 : -1;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
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

/* Warnings collected through the log handler. */
static struct {
    int n;
    char last[1024];
} warned;
static void collect(mx_log_level level, const char *msg, void *ud) {
    if (level != MX_LOG_WARN) return;
    warned.n++;
    snprintf(warned.last, sizeof warned.last, "%s", msg);
}

/* A 2-D (or n-D) image of `bitpix` holding the raw values `raw`, with BSCALE,
 * BZERO and BLANK cards when asked, written by cfitsio itself. */
static int make_fits(const char *path, int bitpix, int naxis, const long *naxes, const double *raw,
                     double bscale, double bzero, int has_blank, long long blank) {
    remove(path);
    fitsfile *f;
    int st = 0;
    long n = naxis > 0;
    for (int k = 0; k < naxis; k++) n *= naxes[k];
    fits_create_diskfile(&f, path, &st);
    fits_create_img(f, bitpix, naxis, (long *)naxes, &st);
    if (bscale != 1.0) fits_write_key(f, TDOUBLE, "BSCALE", &bscale, "scale", &st);
    if (bzero != 0.0) fits_write_key(f, TDOUBLE, "BZERO", &bzero, "offset", &st);
    if (has_blank) fits_write_key(f, TLONGLONG, "BLANK", &blank, "null", &st);
    fits_write_key_str(f, "BUNIT", "MJy/sr", "units", &st);
    if (n > 0) {
        fits_set_hdustruc(f, &st);
        fits_set_bscale(f, 1.0, 0.0, &st); /* the values given are the raw stored ones */
        fits_write_img(f, TDOUBLE, 1, n, (void *)raw, &st);
    }
    fits_close_file(f, &st);
    return st;
}

static long count_nan(const float *d, size_t n) {
    long k = 0;
    for (size_t i = 0; i < n; i++) k += isnan(d[i]) != 0;
    return k;
}

/* ---- the real triple ---------------------------------------------------- */

static uint32_t bits(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static void test_real_triple(void) {
    mx_image *d = NULL, *u = NULL, *m = NULL, *a = NULL, *mf = NULL;
    MXT_OK(mx_image_read(cbcd, &d));
    MXT_OK(mx_image_read(cbunc, &u));
    MXT_OK(mx_mask_read(bimsk, &m));
    if (!d || !u || !m) goto exit;
    MXT_EQ_INT(d->bitpix, -32);
    MXT_EQ_INT(u->bitpix, -32);
    MXT_EQ_INT(m->bitpix, 16);
    MXT_EQ_INT(d->kind, MX_IMG_FLOAT);
    MXT_EQ_INT(m->kind, MX_IMG_INT);
    MXT_TRUE(d->nx == 256 && d->ny == 256 && u->nx == 256 && u->ny == 256 && m->nx == 256 && m->ny == 256);
    MXT_EQ_STR(d->path, cbcd);
    char s[80];
    double v;
    MXT_OK(mx_header_get_string(d->hdr, "BUNIT", s, sizeof s));
    MXT_EQ_STR(s, "MJy/sr");
    MXT_OK(mx_header_get_string(u->hdr, "BUNIT", s, sizeof s));
    MXT_EQ_STR(s, "MJy/sr");
    MXT_OK(mx_header_get_double(d->hdr, "EXPTIME", &v));
    MXT_TRUE(v == 93.6);
    MXT_OK(mx_header_get_double(d->hdr, "FLUXCONV", &v));
    MXT_TRUE(v == 0.1257);
    MXT_OK(mx_header_get_double(d->hdr, "CRVAL1", &v));
    MXT_TRUE(v == 120.036320246642);
    MXT_EQ_INT(d->hdr->ncards, 367); /* astropy's len(header), END not counted */
    MXT_EQ_INT(m->hdr->ncards, 88);

    /* frames.csv: 9 NaN pixels, 3979 non-zero mask pixels */
    size_t n = 256 * 256;
    MXT_EQ_INT(count_nan(d->data, n), 9);
    long nz = 0, nz_fatal = 0;
    for (size_t k = 0; k < n; k++) {
        nz += m->mask[k] != 0;
        nz_fatal += mx_mask_is_fatal(m->mask[k], 32520);
    }
    MXT_EQ_INT(nz, 3979);
    MXT_TRUE(nz_fatal > 0 && nz_fatal <= nz);
    /* NaN positions (astropy: y=0, x=4..7, 47, 231..233; y=246, x=6) */
    MXT_TRUE(isnan(MX_PIX(d, 4, 0)) && isnan(MX_PIX(d, 7, 0)) && isnan(MX_PIX(d, 47, 0)) &&
             isnan(MX_PIX(d, 233, 0)) && isnan(MX_PIX(d, 6, 246)));
    /* pixel values, bit for bit as astropy reads them */
    MXT_EQ_INT(bits(MX_PIX(d, 0, 0)), 1024861185u);     /* 0.03665542975068092 */
    MXT_EQ_INT(bits(MX_PIX(d, 20, 10)), 1037912633u);   /* 0.10805172473192215 */
    MXT_EQ_INT(bits(MX_PIX(d, 127, 128)), 1041058508u); /* 0.1379806399345398 */
    MXT_EQ_INT(bits(MX_PIX(d, 255, 255)), 1039588930u); /* 0.12054111063480377 */
    MXT_EQ_INT(bits(MX_PIX(d, 37, 200)), 1035157850u);  /* 0.08752699196338654 */
    MXT_NEAR(MX_PIX(d, 20, 10), 0.10805172473192215, 0);
    MXT_NEAR(MX_PIX(u, 20, 10), 0.019608819857239723, 0);
    MXT_NEAR(MX_PIX(u, 127, 128), 0.01998552680015564, 0);
    MXT_EQ_INT(MX_MPIX(m, 0, 0), 18432);
    MXT_EQ_INT(MX_MPIX(m, 4, 0), 2048);
    MXT_EQ_INT(MX_MPIX(m, 12, 207), 19456); /* the maximum */
    double sum = 0;
    for (size_t k = 0; k < n; k++)
        if (!isnan(d->data[k])) sum += d->data[k];
    MXT_NEAR(sum, 9375.113200308944, 1e-9); /* numpy nansum in float64 */

    /* read_auto: BITPIX 16 unscaled -> int, -32 -> float; a mask read as float */
    MXT_OK(mx_image_read_auto(bimsk, &a));
    MXT_TRUE(a && a->kind == MX_IMG_INT && a->bitpix == 16 && a->mask[0] == 18432);
    mx_image_free(a);
    a = NULL;
    MXT_OK(mx_image_read_auto(cbcd, &a));
    MXT_TRUE(a && a->kind == MX_IMG_FLOAT && bits(a->data[0]) == 1024861185u);
    MXT_OK(mx_image_read(bimsk, &mf));
    MXT_TRUE(mf && mf->kind == MX_IMG_FLOAT && mf->bitpix == 16 && mf->data[0] == 18432.0f);

    /* header without pixels */
    mx_header *h = NULL;
    long nx = 0, ny = 0;
    int bp = 0;
    MXT_OK(mx_fits_read_header(bimsk, &h, &nx, &ny, &bp));
    MXT_TRUE(nx == 256 && ny == 256 && bp == 16 && h && h->ncards == m->hdr->ncards);
    mx_header_free(h);
    MXT_OK(mx_fits_read_header(cbcd, NULL, &nx, &ny, &bp));
    MXT_EQ_INT(bp, -32);

    /* the mask of a float file is refused, naming the file and BITPIX */
    mx_image *bad = (mx_image *)1;
    MXT_FAILS(mx_mask_read(cbcd, &bad), MX_ERR_FORMAT, "BITPIX -32");
    MXT_TRUE(strstr(mx_errmsg(), cbcd) != NULL && bad == NULL);
    int32_t ib[4];
    MXT_FAILS(mx_fits_read_region_int(cbunc, 0, 0, 2, 2, ib), MX_ERR_FORMAT, "BITPIX -32");
exit:
    mx_image_free(d);
    mx_image_free(u);
    mx_image_free(m);
    mx_image_free(a);
    mx_image_free(mf);
}

/* Is this card one the writer regenerates or drops (structural, and a
 * standard string-valued CHECKSUM/DATASUM, which the new data would void)? */
static int regenerated(const char *card) {
    char k[9];
    snprintf(k, sizeof k, "%.8s", card);
    char *sp = strchr(k, ' ');
    if (sp) *sp = '\0';
    if (!k[0]) return 0;
    if (strcmp(k, "CHECKSUM") == 0 || strcmp(k, "DATASUM") == 0) {
        const char *p = card + 10;
        while (*p == ' ') p++;
        return *p == '\'';
    }
    return mx_header_is_structural(k);
}

static int count_kept(const mx_header *h) {
    int n = 0;
    for (int i = 0; i < h->ncards; i++) n += !regenerated(h->cards[i]);
    return n;
}

/* Non-structural cards of a header, in order, as one list. */
static int same_nonstructural_cards(const mx_header *a, const mx_header *b) {
    int i = 0, j = 0;
    for (;;) {
        while (i < a->ncards && regenerated(a->cards[i])) i++;
        while (j < b->ncards && regenerated(b->cards[j])) j++;
        if (i == a->ncards || j == b->ncards) return i == a->ncards && j == b->ncards;
        if (strcmp(a->cards[i], b->cards[j]) != 0) {
            fprintf(stderr, "card differs:\n  '%s'\n  '%s'\n", a->cards[i], b->cards[j]);
            return 0;
        }
        i++;
        j++;
    }
}

static void test_real_round_trip(void) {
    mx_image *d = NULL, *d2 = NULL, *m = NULL, *m2 = NULL;
    const char *out = tpath("copy_cbcd.fits"), *mout = tpath("copy_bimsk.fits");
    MXT_OK(mx_image_read(cbcd, &d));
    MXT_OK(mx_mask_read(bimsk, &m));
    if (!d || !m) goto exit;
    MXT_OK(mx_image_write(d, out));
    MXT_OK(mx_image_write(m, mout));
    MXT_OK(mx_image_read(out, &d2));
    MXT_OK(mx_mask_read(mout, &m2));
    if (!d2 || !m2) goto exit;
    size_t n = 256 * 256;
    MXT_TRUE(d2->nx == 256 && d2->ny == 256 && d2->bitpix == -32);
    MXT_TRUE(memcmp(d->data, d2->data, n * sizeof(float)) == 0); /* bitwise, NaNs included */
    MXT_EQ_INT(count_nan(d2->data, n), 9);
    MXT_TRUE(m2->bitpix == 16 && memcmp(m->mask, m2->mask, n * sizeof(int32_t)) == 0);
    MXT_TRUE(same_nonstructural_cards(d->hdr, d2->hdr));
    MXT_TRUE(same_nonstructural_cards(m->hdr, m2->hdr));
    /* nothing added: no cfitsio COMMENT cards, no duplicate cards; the
     * MIPL CHECKSUM (a number, not the FITS convention) is kept */
    MXT_EQ_INT(count_kept(d2->hdr), count_kept(d->hdr));
    MXT_EQ_INT(count_kept(m2->hdr), count_kept(m->hdr));
    MXT_TRUE(mx_header_has(d2->hdr, "CHECKSUM"));
    /* and a second generation is byte-identical to the first */
    const char *out2 = tpath("copy2_cbcd.fits");
    MXT_OK(mx_image_write(d2, out2));
    MXT_TRUE(same_file(out, out2));
    /* astropy-independent: cfitsio reads the copy's BUNIT and values */
    fitsfile *f;
    int st = 0, anynul = 0;
    char bunit[FLEN_VALUE];
    float px[3];
    fits_open_diskfile(&f, out, READONLY, &st);
    fits_read_key(f, TSTRING, "BUNIT", bunit, NULL, &st);
    fits_read_img(f, TFLOAT, 1, 3, NULL, px, &anynul, &st);
    fits_close_file(f, &st);
    MXT_EQ_INT(st, 0);
    MXT_EQ_STR(bunit, "MJy/sr");
    MXT_EQ_INT(bits(px[0]), 1024861185u);
    MXT_EQ_INT(count_entries(tmpdir, ".tmp-"), 0);
exit:
    mx_image_free(d);
    mx_image_free(d2);
    mx_image_free(m);
    mx_image_free(m2);
}

/* Read and write time of a real 256x256 frame (printed, not asserted). */
static void test_speed(void) {
    const int reps = 50;
    mx_image *d = NULL;
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        mx_image_free(d);
        d = NULL;
        MXT_OK(mx_image_read(cbcd, &d));
    }
    double t1 = now();
    const char *out = tpath("speed_cbcd.fits");
    for (int r = 0; r < reps && d; r++) MXT_OK(mx_image_write(d, out));
    double t2 = now();
    mx_header *h = NULL;
    for (int r = 0; r < reps; r++) {
        mx_header_free(h);
        h = NULL;
        MXT_OK(mx_fits_read_header(cbcd, &h, NULL, NULL, NULL));
    }
    double t3 = now();
    mx_image *m = NULL;
    for (int r = 0; r < reps; r++) {
        mx_image_free(m);
        m = NULL;
        MXT_OK(mx_mask_read(bimsk, &m));
    }
    double t4 = now();
    printf("timing (256x256 real IRAC frame, mean of %d): read cbcd %.3f ms, write cbcd %.3f ms, "
           "header only %.3f ms, read bimsk %.3f ms\n",
           reps, 1e3 * (t1 - t0) / reps, 1e3 * (t2 - t1) / reps, 1e3 * (t3 - t2) / reps,
           1e3 * (t4 - t3) / reps);
    mx_header_free(h);
    mx_image_free(d);
    mx_image_free(m);
}

/* ---- every BITPIX with scaling ------------------------------------------ */

static void test_bitpix_scaling(void) {
    long naxes[2] = {3, 2};
    struct {
        int bitpix;
        double bscale, bzero;
        int has_blank;
        long long blank;
        double raw[6];
    } c[] = {
        {8, 2.0, -10.0, 1, 255, {0, 1, 100, 254, 255, 7}},
        {16, 0.5, 100.0, 1, -32768, {-32768, -32767, -1, 0, 32767, 12345}},
        {32, 1e-3, 5.0, 1, -1, {-1, 0, 2147483647, -2147483647, 123456789, 42}},
        {64, 1.0, 0.0, 1, -999, {-999, 0, 1e15, -123456789012.0, 16777217, 3}},
        {-64, 2.0, 1.0, 0, 0, {NAN, 0.1, -1e30, 1e-40, 3.25, -7.5}},
        {-32, 1.0, 0.0, 0, 0, {NAN, 0.1, -1e30, 3e38, 3.25, -7.5}},
    };
    for (size_t t = 0; t < sizeof c / sizeof c[0]; t++) {
        char name[64];
        snprintf(name, sizeof name, "bitpix%d.fits", c[t].bitpix);
        const char *p = tpath(name);
        MXT_EQ_INT(make_fits(p, c[t].bitpix, 2, naxes, c[t].raw, c[t].bscale, c[t].bzero, c[t].has_blank,
                             c[t].blank), 0);
        mx_image *img = NULL;
        MXT_OK(mx_image_read(p, &img));
        if (!img) continue;
        MXT_EQ_INT(img->bitpix, c[t].bitpix);
        MXT_TRUE(img->kind == MX_IMG_FLOAT && img->nx == 3 && img->ny == 2);
        for (int k = 0; k < 6; k++) {
            double raw = c[t].raw[k];
            int is_blank = c[t].has_blank && raw == (double)c[t].blank;
            float want = is_blank ? NAN : (float)(c[t].bitpix == -32 ? (double)(float)raw * c[t].bscale + c[t].bzero
                                                                      : raw * c[t].bscale + c[t].bzero);
            MXT_CHECK((isnan(want) && isnan(img->data[k])) || img->data[k] == want,
                      "BITPIX %d pixel %d: %.9g, want %.9g", c[t].bitpix, k, img->data[k], want);
        }
        /* read_auto: integer data only when unscaled and within int32 (the
         * BITPIX 64 case holds 1e15): float for every file here */
        mx_image *a = NULL;
        MXT_OK(mx_image_read_auto(p, &a));
        MXT_EQ_INT(a ? (int)a->kind : -1, (int)MX_IMG_FLOAT);
        mx_image_free(a);
        /* masks: a float BITPIX is refused naming file and BITPIX; scaled ints too */
        mx_image *mk = (mx_image *)1;
        if (c[t].bitpix < 0) {
            char want[64];
            snprintf(want, sizeof want, "has BITPIX %d; masks must be integer", c[t].bitpix);
            MXT_FAILS(mx_mask_read(p, &mk), MX_ERR_FORMAT, want);
            MXT_TRUE(strstr(mx_errmsg(), p) != NULL && mk == NULL);
        } else if (c[t].bitpix != 64) {
            MXT_FAILS(mx_mask_read(p, &mk), MX_ERR_FORMAT, "masks must be unscaled integers");
            MXT_TRUE(strstr(mx_errmsg(), p) != NULL && mk == NULL);
        } else {
            /* BITPIX 64 with a value beyond int32 cannot be a mask */
            MXT_FAILS(mx_mask_read(p, &mk), MX_ERR_FORMAT, "32-bit integers");
            MXT_TRUE(strstr(mx_errmsg(), p) != NULL && mk == NULL);
        }
        /* the float copy holds the physical values, unscaled */
        const char *cp = tpath("bitpix_copy.fits");
        MXT_OK(mx_image_write(img, cp));
        mx_image *back = NULL;
        MXT_OK(mx_image_read(cp, &back));
        if (back) {
            MXT_EQ_INT(back->bitpix, -32);
            MXT_TRUE(memcmp(back->data, img->data, 6 * sizeof(float)) == 0);
            MXT_TRUE(!mx_header_has(back->hdr, "BSCALE") && !mx_header_has(back->hdr, "BZERO") &&
                     !mx_header_has(back->hdr, "BLANK"));
            MXT_TRUE(mx_header_has(img->hdr, "BUNIT") && mx_header_has(back->hdr, "BUNIT"));
        }
        mx_image_free(back);
        mx_image_free(img);
    }
    /* -32 keeps Inf, denormals and NaN payloads as stored (no null check on float data) */
    mx_image *f32 = NULL, *f32b = NULL;
    MXT_OK(mx_image_new(4, 1, MX_IMG_FLOAT, 0, 0, &f32));
    if (f32) {
        const uint32_t pattern[4] = {0x7f800000u, 0xff800000u, 0x00000001u, 0xffc00001u};
        memcpy(f32->data, pattern, sizeof pattern);
        MXT_OK(mx_image_write(f32, tpath("special.fits")));
        MXT_OK(mx_image_read(tpath("special.fits"), &f32b));
        MXT_TRUE(f32b && memcmp(f32b->data, pattern, sizeof pattern) == 0);
    }
    mx_image_free(f32);
    mx_image_free(f32b);

    /* BITPIX 64 that fits int32 is a mask of bitpix 32 */
    double raw64[6] = {0, 1, -5, 2147483647, -2147483648.0, 32520};
    const char *p64 = tpath("bitpix64_small.fits");
    MXT_EQ_INT(make_fits(p64, 64, 2, naxes, raw64, 1.0, 0.0, 0, 0), 0);
    mx_image *m64 = NULL;
    MXT_OK(mx_mask_read(p64, &m64));
    MXT_TRUE(m64 && m64->bitpix == 32 && m64->mask[3] == 2147483647 && m64->mask[4] == INT32_MIN &&
             m64->mask[5] == 32520);
    mx_image_free(m64);
}

/* Unsigned 16-bit masks (BZERO 32768) and other integer widths round-trip. */
static void test_mask_widths(void) {
    long naxes[2] = {4, 2};
    const char *p = tpath("ushort.fits");
    remove(p);
    fitsfile *f;
    int st = 0;
    int vals[8] = {0, 1, 32767, 32768, 40000, 65535, 2048, 18304};
    fits_create_diskfile(&f, p, &st);
    fits_create_img(f, USHORT_IMG, 2, naxes, &st);
    fits_write_img(f, TINT, 1, 8, vals, &st);
    fits_close_file(f, &st);
    MXT_EQ_INT(st, 0);
    mx_image *m = NULL, *m2 = NULL, *a = NULL;
    MXT_OK(mx_mask_read(p, &m));
    if (!m) return;
    MXT_EQ_INT(m->bitpix, 16);
    for (int k = 0; k < 8; k++) MXT_EQ_INT(m->mask[k], vals[k]);
    MXT_OK(mx_image_read_auto(p, &a)); /* integer BZERO: still an integer image */
    MXT_TRUE(a && a->kind == MX_IMG_INT && a->mask[5] == 65535);
    mx_image_free(a);
    const char *q = tpath("ushort_copy.fits");
    MXT_OK(mx_image_write(m, q));
    MXT_OK(mx_mask_read(q, &m2));
    MXT_TRUE(m2 && memcmp(m->mask, m2->mask, sizeof vals) == 0 && m2->bitpix == 16);
    /* stored as it was: BITPIX 16, BZERO 32768 */
    int bitpix = 0;
    double bzero = 0;
    fits_open_diskfile(&f, q, READONLY, &st);
    fits_read_key(f, TINT, "BITPIX", &bitpix, NULL, &st);
    fits_read_key(f, TDOUBLE, "BZERO", &bzero, NULL, &st);
    fits_close_file(f, &st);
    MXT_TRUE(st == 0 && bitpix == 16 && bzero == 32768.0);
    mx_image_free(m2);
    m2 = NULL;

    /* BLANK is a stored (raw) value: kept across a round trip of the same
     * offset, moved when the offset changes, and still NaN for float reads */
    {
        const char *pb = tpath("ushort_blank.fits"), *qb = tpath("ushort_blank_copy.fits");
        double rawb[4] = {-32768, -32767, 0, 32767}; /* physical 0, 1, 32768, 65535 */
        long bax[2] = {4, 1};
        MXT_EQ_INT(make_fits(pb, 16, 2, bax, rawb, 1.0, 32768.0, 1, -32768), 0);
        mx_image *mb = NULL, *fb = NULL;
        MXT_OK(mx_mask_read(pb, &mb));
        MXT_TRUE(mb && mb->mask[0] == 0 && mb->mask[1] == 1 && mb->mask[3] == 65535);
        if (mb) MXT_OK(mx_image_write(mb, qb));
        MXT_OK(mx_image_read(qb, &fb));
        MXT_TRUE(fb && isnan(fb->data[0]) && fb->data[1] == 1.0f && fb->data[3] == 65535.0f);
        long blank = 0;
        if (fb) MXT_OK(mx_header_get_long(fb->hdr, "BLANK", &blank));
        MXT_EQ_INT(blank, -32768);
        mx_image_free(fb);
        fb = NULL;
        /* the same mask with small values written signed: BLANK moves to 0 */
        if (mb) {
            mb->mask[3] = 7;
            mb->mask[2] = 2;
            mx_header_delete(mb->hdr, "BZERO");
            mx_header_set_double(mb->hdr, "BZERO", 32768.0, NULL); /* header says unsigned... */
            mb->mask[0] = -1; /* ...but -1 does not fit: written signed */
            MXT_OK(mx_image_write(mb, qb));
            MXT_OK(mx_image_read(qb, &fb));
            MXT_TRUE(fb && fb->data[0] == -1.0f && fb->data[1] == 1.0f && fb->data[3] == 7.0f);
            if (fb) MXT_OK(mx_header_get_long(fb->hdr, "BLANK", &blank));
            MXT_EQ_INT(blank, 0); /* physical 0 stays the null value */
            MXT_TRUE(fb && !mx_header_has(fb->hdr, "BZERO"));
        }
        mx_image_free(fb);
        mx_image_free(mb);
    }

    /* a fresh 16-bit mask: signed when the values allow, unsigned above 32767 */
    mx_image *n16 = NULL;
    MXT_OK(mx_image_new(4, 2, MX_IMG_INT, 16, 0, &n16));
    n16->mask[0] = -5;
    n16->mask[1] = 32767;
    MXT_OK(mx_image_write(n16, q));
    MXT_OK(mx_mask_read(q, &m2));
    MXT_TRUE(m2 && m2->mask[0] == -5 && m2->mask[1] == 32767 && !mx_header_has(m2->hdr, "BZERO"));
    mx_image_free(m2);
    m2 = NULL;
    n16->mask[0] = 50000;
    MXT_OK(mx_image_write(n16, q));
    MXT_OK(mx_mask_read(q, &m2));
    MXT_TRUE(m2 && m2->mask[0] == 50000 && m2->mask[1] == 32767);
    mx_image_free(m2);
    m2 = NULL;
    /* beyond 16 bits: refused before anything is written, old file kept */
    size_t before = 0;
    char *old = slurp(q, &before);
    n16->mask[0] = -1;
    n16->mask[1] = 40000;
    MXT_FAILS(mx_image_write(n16, q), MX_ERR_PARAM, "do not fit BITPIX 16");
    size_t after = 0;
    char *now_ = slurp(q, &after);
    MXT_TRUE(old && now_ && before == after && memcmp(old, now_, before) == 0);
    free(old);
    free(now_);
    /* 8-bit: unsigned, or signed with BZERO -128 for negative values */
    mx_image *n8 = NULL;
    MXT_OK(mx_image_new(3, 1, MX_IMG_INT, 8, 0, &n8));
    n8->mask[0] = 255;
    n8->mask[2] = 7;
    MXT_OK(mx_image_write(n8, q));
    MXT_OK(mx_mask_read(q, &m2));
    MXT_TRUE(m2 && m2->bitpix == 8 && m2->mask[0] == 255 && m2->mask[2] == 7);
    mx_image_free(m2);
    m2 = NULL;
    n8->mask[0] = -100;
    MXT_OK(mx_image_write(n8, q));
    MXT_OK(mx_mask_read(q, &m2));
    MXT_TRUE(m2 && m2->bitpix == 8 && m2->mask[0] == -100 && m2->mask[2] == 7);
    mx_image_free(m2);
    m2 = NULL;
    n8->mask[1] = 300;
    MXT_FAILS(mx_image_write(n8, q), MX_ERR_PARAM, "do not fit BITPIX 8");
    /* 32-bit */
    mx_image *n32 = NULL;
    MXT_OK(mx_image_new(2, 1, MX_IMG_INT, 0, 0, &n32));
    MXT_EQ_INT(n32 ? n32->bitpix : 0, 32);
    n32->mask[0] = INT32_MIN;
    n32->mask[1] = INT32_MAX;
    MXT_OK(mx_image_write(n32, q));
    MXT_OK(mx_mask_read(q, &m2));
    MXT_TRUE(m2 && m2->bitpix == 32 && m2->mask[0] == INT32_MIN && m2->mask[1] == INT32_MAX);
    mx_image_free(m2);
    mx_image_free(n32);
    mx_image_free(n8);
    mx_image_free(n16);
    mx_image_free(m);
}

/* ---- bad input ------------------------------------------------------------ */

/* Every entry point fails the same way for a bad file, and leaves no object. */
static void expect_bad(const char *p, int code, const char *why) {
    mx_image *img = (mx_image *)1;
    MXT_FAILS(mx_image_read(p, &img), code, why);
    MXT_CHECK(strstr(mx_errmsg(), p) != NULL && img == NULL, "message '%s' should name '%s'", mx_errmsg(), p);
    img = (mx_image *)1;
    MXT_FAILS(mx_mask_read(p, &img), code, why);
    MXT_TRUE(img == NULL);
    img = (mx_image *)1;
    MXT_FAILS(mx_image_read_auto(p, &img), code, why);
    MXT_TRUE(img == NULL);
    mx_header *h = (mx_header *)1;
    MXT_FAILS(mx_fits_read_header(p, &h, NULL, NULL, NULL), code, why);
    MXT_TRUE(h == NULL);
    mx_fits_reader *r = (mx_fits_reader *)1;
    MXT_FAILS(mx_fits_reader_open(p, &r), code, why);
    MXT_TRUE(r == NULL);
    float buf[4];
    MXT_FAILS(mx_fits_read_region(p, 0, 0, 2, 2, buf), code, why);
    printf("  bad input '%s' -> %s: %s\n", strrchr(p, '/') + 1, mx_status_name(code), mx_errmsg());
}

static void test_bad_inputs(void) {
    expect_bad(tpath("does_not_exist.fits"), MX_ERR_IO, "No such file or directory");

    const char *empty = tpath("empty.fits");
    MXT_TRUE(write_bytes(empty, "", 0) == 0);
    expect_bad(empty, MX_ERR_FORMAT, "is empty (0 bytes)");

    const char *text = tpath("text.fits");
    const char *words = "This is a plain text file, not a FITS image.\n";
    MXT_TRUE(write_bytes(text, words, strlen(words)) == 0);
    expect_bad(text, MX_ERR_FORMAT, "is not a FITS file");

    expect_bad(tmpdir, MX_ERR_IO, "is a directory");

    /* a real frame cut short: header complete, data missing */
    size_t n = 0;
    char *whole = slurp(cbcd, &n);
    MXT_TRUE(whole && n == 11 * 2880 + 92 * 2880); /* header, then 256*256*4 bytes padded */
    const char *trunc = tpath("truncated_data.fits");
    MXT_TRUE(write_bytes(trunc, whole, n - 100000) == 0);
    expect_bad(trunc, MX_ERR_FORMAT, "is truncated");
    /* cut inside the header */
    const char *trunch = tpath("truncated_header.fits");
    MXT_TRUE(write_bytes(trunch, whole, 20000) == 0);
    expect_bad(trunch, MX_ERR_FORMAT, "truncated_header.fits");
    /* a SIMPLE card followed by rubbish */
    char junk[2880];
    memset(junk, 'Q', sizeof junk);
    memcpy(junk, "SIMPLE  =                    T", 30);
    const char *rubbish = tpath("rubbish.fits");
    MXT_TRUE(write_bytes(rubbish, junk, sizeof junk) == 0);
    expect_bad(rubbish, MX_ERR_FORMAT, "rubbish.fits");
    free(whole);

    /* no image data: an empty primary HDU alone, and followed by a table */
    long zero[1] = {0};
    const char *nodata = tpath("nodata.fits");
    MXT_EQ_INT(make_fits(nodata, 16, 0, zero, NULL, 1.0, 0.0, 0, 0), 0);
    expect_bad(nodata, MX_ERR_FORMAT, "has no image data");
    const char *tab = tpath("table_only.fits");
    remove(tab);
    fitsfile *f;
    int st = 0;
    char *ttype[] = {"X"}, *tform[] = {"1E"}, *tunit[] = {""};
    fits_create_diskfile(&f, tab, &st);
    fits_create_img(f, 8, 0, zero, &st);
    fits_create_tbl(f, BINARY_TBL, 0, 1, ttype, tform, tunit, "T", &st);
    fits_close_file(f, &st);
    MXT_EQ_INT(st, 0);
    expect_bad(tab, MX_ERR_FORMAT, "has no image data");

    /* a cube and a 1-D array */
    long cube[3] = {4, 3, 2}, line[1] = {5};
    double vals[24] = {0};
    const char *pc = tpath("cube.fits"), *pl = tpath("line.fits");
    MXT_EQ_INT(make_fits(pc, -32, 3, cube, vals, 1.0, 0.0, 0, 0), 0);
    expect_bad(pc, MX_ERR_UNSUPPORTED, "data cubes are not supported");
    MXT_EQ_INT(make_fits(pl, -32, 1, line, vals, 1.0, 0.0, 0, 0), 0);
    expect_bad(pl, MX_ERR_UNSUPPORTED, "images must be 2-D");

    MXT_FAILS(mx_image_read(NULL, &(mx_image *){NULL}), MX_ERR_PARAM, "no FITS file name");
    mx_clearerr();
}

/* Degenerate axes beyond NAXIS2 are dropped. */
static void test_degenerate_axes(void) {
    long ax3[3] = {4, 3, 1}, ax4[4] = {4, 3, 1, 1};
    double vals[12];
    for (int k = 0; k < 12; k++) vals[k] = k * 1.5;
    const char *p3 = tpath("naxis3.fits"), *p4 = tpath("naxis4.fits");
    MXT_EQ_INT(make_fits(p3, -32, 3, ax3, vals, 1.0, 0.0, 0, 0), 0);
    MXT_EQ_INT(make_fits(p4, 16, 4, ax4, vals, 1.0, 0.0, 0, 0), 0);
    mx_image *a = NULL, *b = NULL;
    MXT_OK(mx_image_read(p3, &a));
    MXT_OK(mx_mask_read(p4, &b));
    if (!a || !b) goto exit;
    MXT_TRUE(a->nx == 4 && a->ny == 3 && b->nx == 4 && b->ny == 3);
    MXT_TRUE(MX_PIX(a, 3, 2) == 16.5f && MX_MPIX(b, 0, 2) == 12);
    long naxis = 0;
    MXT_OK(mx_header_get_long(a->hdr, "NAXIS", &naxis));
    MXT_EQ_INT(naxis, 2);
    MXT_TRUE(!mx_header_has(a->hdr, "NAXIS3") && !mx_header_has(b->hdr, "NAXIS4"));
    float reg[4];
    MXT_OK(mx_fits_read_region(p4, 2, 1, 2, 2, reg));
    MXT_TRUE(reg[0] == MX_MPIX(b, 2, 1) && reg[1] == MX_MPIX(b, 3, 1) && reg[2] == MX_MPIX(b, 2, 2) &&
             reg[3] == MX_MPIX(b, 3, 2));
    MXT_OK(mx_fits_read_region(p3, 2, 1, 2, 2, reg));
    MXT_TRUE(reg[0] == 9.0f && reg[1] == 10.5f && reg[2] == 15.0f && reg[3] == 16.5f);
exit:
    mx_image_free(a);
    mx_image_free(b);
}

/* Regions of a wide image (rows of 16 kB, longer than four FITS records):
 * narrow parts go through cfitsio's subset reader, wide ones through whole
 * rows read in chunks of rows (several chunks here); both give the pixels. */
static void test_wide_regions(void) {
    const long W = 4000, H = 300;
    mx_image *img = NULL;
    MXT_OK(mx_image_new(W, H, MX_IMG_FLOAT, 0, 0, &img));
    if (!img) return;
    for (long y = 0; y < H; y++)
        for (long x = 0; x < W; x++) MX_PIX(img, x, y) = (float)(x + 10000 * y);
    const char *p = tpath("wide.fits");
    MXT_OK(mx_image_write(img, p));
    mx_image_free(img);
    const long rects[][4] = {{5, 3, 10, 290}, {100, 0, 1500, 300}, {2500, 17, 1500, 200}, {-7, 250, 3000, 60}};
    int bad = 0;
    for (size_t t = 0; t < sizeof rects / sizeof rects[0]; t++) {
        long x0 = rects[t][0], y0 = rects[t][1], w = rects[t][2], h = rects[t][3];
        float *buf = malloc((size_t)(w * h) * sizeof *buf);
        if (!buf) continue;
        MXT_OK(mx_fits_read_region(p, x0, y0, w, h, buf));
        for (long j = 0; j < h; j++)
            for (long i = 0; i < w; i++) {
                long x = x0 + i, y = y0 + j;
                float want = x >= 0 && x < W && y >= 0 && y < H ? (float)(x + 10000 * y) : NAN;
                float got = buf[j * w + i];
                if (!(got == want || (isnan(got) && isnan(want)))) bad++;
            }
        free(buf);
    }
    MXT_EQ_INT(bad, 0);
}

/* ---- atomic writes ------------------------------------------------------- */

static void test_write_failures(void) {
    mx_image *img = NULL;
    MXT_OK(mx_image_new(16, 8, MX_IMG_FLOAT, 0, 2.5f, &img));
    if (!img) return;
    MXT_OK(mx_header_set_string(img->hdr, "BUNIT", "MJy/sr", NULL));

    /* directory does not exist */
    const char *nodir = tpath("no/such/dir/out.fits");
    MXT_FAILS(mx_image_write(img, nodir), MX_ERR_IO, "No such file or directory");
    MXT_TRUE(strstr(mx_errmsg(), nodir) != NULL);
    MXT_TRUE(!mx_file_exists(nodir));

    /* destination is a directory: the rename fails after the data were
     * written; the temporary must go */
    const char *sub = tpath("wf");
    MXT_OK(mx_mkdir_p(sub));
    char isdir[4096];
    snprintf(isdir, sizeof isdir, "%s/target.fits", sub);
    MXT_OK(mx_mkdir_p(isdir));
    MXT_FAILS(mx_image_write(img, isdir), MX_ERR_IO, "target.fits");
    MXT_EQ_INT(count_entries(sub, ".tmp-"), 0);
    struct stat sb;
    MXT_TRUE(stat(isdir, &sb) == 0 && S_ISDIR(sb.st_mode));

    /* a path whose parent is a file */
    char under_file[4096];
    snprintf(under_file, sizeof under_file, "%s/x.fits", cbcd);
    MXT_FAILS(mx_image_write(img, under_file), MX_ERR_IO, "not a directory");

    /* read-only directory (meaningless for root, who may write anyway) */
    char ro[4096];
    snprintf(ro, sizeof ro, "%s/readonly", sub);
    MXT_OK(mx_mkdir_p(ro));
    if (geteuid() != 0) {
        chmod(ro, 0555);
        char rop[4096];
        snprintf(rop, sizeof rop, "%s/out.fits", ro);
        MXT_FAILS(mx_image_write(img, rop), MX_ERR_IO, "Permission denied");
        MXT_EQ_INT(count_entries(ro, ""), 2); /* "." and ".." */
        chmod(ro, 0755);
    } else {
        printf("note: running as root: the read-only directory case cannot fail and is skipped\n");
    }

    /* overwrite: success replaces; a failed streaming write leaves the old file */
    char dest[4096];
    snprintf(dest, sizeof dest, "%s/dest.fits", sub);
    MXT_OK(mx_image_write(img, dest));
    size_t n0 = 0;
    char *old = slurp(dest, &n0);
    mx_fits_writer *w = NULL;
    MXT_OK(mx_fits_writer_open(dest, 16, 8, -32, img->hdr, &w));
    MXT_EQ_INT(count_entries(sub, ".tmp-"), 1);
    MXT_OK(mx_fits_writer_put_rows(w, 0, 4, img->data));
    MXT_FAILS(mx_fits_writer_put_rows(w, 6, 4, img->data), MX_ERR_PARAM, "outside the image");
    MXT_FAILS(mx_fits_writer_put_rows_int(w, 4, 1, (const int32_t *)img->data), MX_ERR_PARAM, "integer rows");
    MXT_FAILS(mx_fits_writer_commit(w), MX_ERR_PARAM, "rows 4..7 were never written");
    size_t n1 = 0;
    char *kept = slurp(dest, &n1);
    MXT_TRUE(old && kept && n0 == n1 && memcmp(old, kept, n0) == 0);
    MXT_EQ_INT(count_entries(sub, ".tmp-"), 0);
    free(kept);
    /* abort removes the temporary and keeps the old file */
    MXT_OK(mx_fits_writer_open(dest, 16, 8, -32, img->hdr, &w));
    MXT_OK(mx_fits_writer_put_rows(w, 0, 8, img->data));
    mx_fits_writer_abort(w);
    MXT_EQ_INT(count_entries(sub, ".tmp-"), 0);
    kept = slurp(dest, &n1);
    MXT_TRUE(kept && n0 == n1 && memcmp(old, kept, n0) == 0);
    free(kept);
    free(old);
    /* the streaming writer into a missing directory fails at open */
    MXT_FAILS(mx_fits_writer_open(nodir, 16, 8, -32, NULL, &w), MX_ERR_IO, "No such file or directory");
    MXT_TRUE(w == NULL);
    MXT_FAILS(mx_fits_writer_open(dest, 16, 8, 64, NULL, &w), MX_ERR_PARAM, "bitpix 64");
    mx_image_free(img);
}

/* ---- regions ------------------------------------------------------------- */

static void test_regions(void) {
    mx_image *d = NULL, *m = NULL;
    MXT_OK(mx_image_read(cbcd, &d));
    MXT_OK(mx_mask_read(bimsk, &m));
    if (!d || !m) goto exit;
    mx_fits_reader *r = NULL, *rm = NULL;
    MXT_OK(mx_fits_reader_open(cbcd, &r));
    MXT_OK(mx_fits_reader_open(bimsk, &rm));
    if (!r || !rm) goto exit;
    long nx = 0, ny = 0;
    MXT_OK(mx_fits_reader_size(r, &nx, &ny));
    MXT_TRUE(nx == 256 && ny == 256);
    const long rects[][4] = {
        {0, 0, 256, 256},   {10, 20, 30, 40},   {0, 100, 256, 7},  {-5, -7, 20, 30},
        {240, 250, 40, 30}, {-10, 50, 300, 10}, {300, 0, 10, 10},  {-50, -50, 10, 10},
        {-3, -3, 262, 262}, {255, 255, 1, 1},   {128, -20, 1, 300}, {5, 0, 250, 256},
    };
    int bad = 0;
    for (size_t t = 0; t < sizeof rects / sizeof rects[0]; t++) {
        long x0 = rects[t][0], y0 = rects[t][1], w = rects[t][2], h = rects[t][3];
        float *buf = malloc((size_t)(w * h) * sizeof *buf), *buf2 = malloc((size_t)(w * h) * sizeof *buf);
        int32_t *ib = malloc((size_t)(w * h) * sizeof *ib);
        MXT_OK(mx_fits_reader_region(r, x0, y0, w, h, buf));
        MXT_OK(mx_fits_reader_region_int(rm, x0, y0, w, h, ib));
        MXT_OK(mx_fits_read_region(cbcd, x0, y0, w, h, buf2));
        for (long j = 0; j < h; j++)
            for (long i = 0; i < w; i++) {
                long x = x0 + i, y = y0 + j;
                int in = x >= 0 && x < 256 && y >= 0 && y < 256;
                float want = in ? MX_PIX(d, x, y) : NAN;
                int32_t iwant = in ? MX_MPIX(m, x, y) : 0;
                float got = buf[j * w + i];
                if (bits(got) != bits(want) && !(isnan(got) && isnan(want))) bad++;
                if (bits(buf2[j * w + i]) != bits(got)) bad++;
                if (ib[j * w + i] != iwant) bad++;
            }
        free(buf);
        free(buf2);
        free(ib);
    }
    MXT_EQ_INT(bad, 0);
    float one;
    MXT_FAILS(mx_fits_reader_region(r, 0, 0, 0, 5, &one), MX_ERR_PARAM, "must be positive");
    MXT_FAILS(mx_fits_reader_region(r, 0, 0, 1, 1, NULL), MX_ERR_PARAM, "no output buffer");
    /* the float reader of a mask gives its values as floats */
    float mf[2];
    MXT_OK(mx_fits_read_region(bimsk, 0, 0, 2, 1, mf));
    MXT_TRUE(mf[0] == 18432.0f);
    int32_t ib2[1];
    MXT_OK(mx_fits_read_region_int(bimsk, 12, 207, 1, 1, ib2));
    MXT_EQ_INT(ib2[0], 19456);
    mx_fits_reader_close(r);
    mx_fits_reader_close(rm);
    mx_fits_reader_close(NULL);
exit:
    mx_image_free(d);
    mx_image_free(m);
}

/* ---- the streaming writer ------------------------------------------------ */

static void test_streaming_writer(void) {
    mx_image *d = NULL, *m = NULL, *back = NULL;
    MXT_OK(mx_image_read(cbcd, &d));
    MXT_OK(mx_mask_read(bimsk, &m));
    if (!d || !m) goto exit;
    const char *whole = tpath("whole_cbcd.fits"), *streamed = tpath("streamed_cbcd.fits");
    MXT_OK(mx_image_write(d, whole));
    mx_fits_writer *w = NULL;
    MXT_OK(mx_fits_writer_open(streamed, 256, 256, -32, d->hdr, &w));
    if (!w) goto exit;
    /* bands of 37 rows, last band first */
    long starts[8];
    int nb = 0;
    for (long y = 0; y < 256; y += 37) starts[nb++] = y;
    for (int b = nb - 1; b >= 0; b--) {
        long y0 = starts[b], nr = y0 + 37 <= 256 ? 37 : 256 - y0;
        MXT_OK(mx_fits_writer_put_rows(w, y0, nr, d->data + y0 * 256));
    }
    MXT_OK(mx_fits_writer_commit(w));
    MXT_TRUE(same_file(whole, streamed)); /* byte for byte */
    MXT_OK(mx_image_read(streamed, &back));
    MXT_TRUE(back && memcmp(back->data, d->data, 256 * 256 * sizeof(float)) == 0);
    mx_image_free(back);
    back = NULL;

    const char *mwhole = tpath("whole_bimsk.fits"), *mstreamed = tpath("streamed_bimsk.fits");
    MXT_OK(mx_image_write(m, mwhole));
    MXT_OK(mx_fits_writer_open(mstreamed, 256, 256, 16, m->hdr, &w));
    if (!w) goto exit;
    for (long y = 0; y < 256; y += 64) MXT_OK(mx_fits_writer_put_rows_int(w, y, 64, m->mask + y * 256));
    MXT_FAILS(mx_fits_writer_put_rows(w, 0, 1, d->data), MX_ERR_PARAM, "float rows");
    MXT_OK(mx_fits_writer_commit(w));
    MXT_TRUE(same_file(mwhole, mstreamed));
    MXT_OK(mx_mask_read(mstreamed, &back));
    MXT_TRUE(back && back->bitpix == 16 && memcmp(back->mask, m->mask, 256 * 256 * sizeof(int32_t)) == 0);
    mx_image_free(back);
    back = NULL;

    /* values beyond the BITPIX of an integer writer */
    int32_t big[4] = {1, 2, 70000, 4};
    MXT_OK(mx_fits_writer_open(mstreamed, 4, 1, 16, NULL, &w));
    MXT_FAILS(mx_fits_writer_put_rows_int(w, 0, 1, big), MX_ERR_PARAM, "do not fit BITPIX 16");
    mx_fits_writer_abort(w);
    MXT_EQ_INT(count_entries(tmpdir, ".tmp-"), 0);
exit:
    mx_image_free(d);
    mx_image_free(m);
}

/* ---- tile compression ---------------------------------------------------- */

static void test_compressed(void) {
    const long nx = 300, ny = 200;
    long naxes[2] = {nx, ny};
    short *iv = malloc((size_t)(nx * ny) * sizeof *iv);
    float *fv = malloc((size_t)(nx * ny) * sizeof *fv);
    for (long k = 0; k < nx * ny; k++) {
        iv[k] = (short)((k * 7919) % 65536 - 32768);
        fv[k] = (float)(k % 1000) * 0.25f - 17.0f;
    }
    fv[5] = NAN;
    const char *pi = tpath("rice16.fits"), *pf = tpath("gzipfloat.fits"), *pq = tpath("quantized.fits");
    char spec[4200];
    fitsfile *f;
    int st = 0;
    remove(pi);
    snprintf(spec, sizeof spec, "%s[compress]", pi);
    fits_create_file(&f, spec, &st);
    fits_create_img(f, SHORT_IMG, 2, naxes, &st);
    fits_write_key_str(f, "BUNIT", "counts", "units", &st);
    fits_write_img(f, TSHORT, 1, nx * ny, iv, &st);
    fits_close_file(f, &st);
    remove(pf);
    snprintf(spec, sizeof spec, "%s[compress GZIP; q 0]", pf); /* lossless floats */
    fits_create_file(&f, spec, &st);
    fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
    fits_write_img(f, TFLOAT, 1, nx * ny, fv, &st);
    fits_close_file(f, &st);
    remove(pq);
    snprintf(spec, sizeof spec, "%s[compress]", pq); /* default: quantized floats, NaN as ZBLANK */
    fits_create_file(&f, spec, &st);
    fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
    fits_write_img(f, TFLOAT, 1, nx * ny, fv, &st);
    fits_close_file(f, &st);
    MXT_EQ_INT(st, 0);

    mx_image *a = NULL, *b = NULL, *c = NULL;
    mx_log_set_handler(collect, NULL);
    warned.n = 0;
    MXT_OK(mx_image_read(pi, &a));
    MXT_EQ_INT(warned.n, 1);
    MXT_TRUE(strstr(warned.last, "tile-compressed") && strstr(warned.last, pi));
    MXT_OK(mx_mask_read(pi, &b));
    MXT_OK(mx_image_read(pf, &c));
    mx_log_set_handler(NULL, NULL);
    if (!a || !b || !c) goto exit;
    MXT_TRUE(a->nx == nx && a->ny == ny && a->bitpix == 16 && b->bitpix == 16 && c->bitpix == -32);
    int bad = 0;
    for (long k = 0; k < nx * ny; k++) {
        bad += a->data[k] != (float)iv[k];
        bad += b->mask[k] != iv[k];
        bad += k != 5 && c->data[k] != fv[k];
    }
    MXT_EQ_INT(bad, 0);
    MXT_TRUE(isnan(c->data[5]));
    /* quantized: NaN stays NaN (whole image and region), the rest within the quantization step */
    mx_image *q = NULL;
    mx_log_set_handler(collect, NULL);
    MXT_OK(mx_image_read(pq, &q));
    mx_log_set_handler(NULL, NULL);
    if (q) {
        double worst = 0;
        for (long k = 0; k < nx * ny; k++)
            if (k != 5) worst = fmax(worst, fabs(q->data[k] - fv[k]));
        MXT_TRUE(isnan(q->data[5]) && worst < 0.25);
        float qr[3];
        MXT_OK(mx_fits_read_region(pq, 4, 0, 3, 1, qr));
        MXT_TRUE(isnan(qr[1]) && qr[0] == q->data[4] && qr[2] == q->data[6]);
    }
    mx_image_free(q);
    /* the header is the image's, not the compressed table's */
    char s[80];
    long l = 0;
    MXT_OK(mx_header_get_string(a->hdr, "BUNIT", s, sizeof s));
    MXT_EQ_STR(s, "counts");
    MXT_OK(mx_header_get_long(a->hdr, "NAXIS1", &l));
    MXT_EQ_INT(l, nx);
    MXT_TRUE(!mx_header_has(a->hdr, "ZIMAGE") && !mx_header_has(a->hdr, "TFORM1"));
    /* regions and header-only reads go through the same door */
    float reg[12];
    int32_t ireg[12];
    MXT_OK(mx_fits_read_region(pi, 298, 10, 4, 3, reg));
    MXT_OK(mx_fits_read_region_int(pi, 298, 10, 4, 3, ireg));
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 4; i++) {
            long x = 298 + i, y = 10 + j;
            if (x < nx) {
                MXT_TRUE(reg[j * 4 + i] == (float)iv[y * nx + x] && ireg[j * 4 + i] == iv[y * nx + x]);
            } else {
                MXT_TRUE(isnan(reg[j * 4 + i]) && ireg[j * 4 + i] == 0);
            }
        }
    long hx = 0, hy = 0;
    int hb = 0;
    MXT_OK(mx_fits_read_header(pf, NULL, &hx, &hy, &hb));
    MXT_TRUE(hx == nx && hy == ny && hb == -32);
    /* a compressed unsigned 16-bit mask: BZERO 32768 lives in the table header */
    {
        const char *pu = tpath("rice_ushort.fits");
        unsigned short uv[100];
        for (int k = 0; k < 100; k++) uv[k] = (unsigned short)(k * 600);
        long ua[2] = {10, 10};
        remove(pu);
        snprintf(spec, sizeof spec, "%s[compress]", pu);
        fits_create_file(&f, spec, &st);
        fits_create_img(f, USHORT_IMG, 2, ua, &st);
        fits_write_img(f, TUSHORT, 1, 100, uv, &st); /* cfitsio compresses TUSHORT, not TINT */
        fits_close_file(f, &st);
        MXT_EQ_INT(st, 0);
        mx_image *um = NULL;
        int32_t ur[4];
        MXT_OK(mx_mask_read(pu, &um));
        MXT_TRUE(um && um->bitpix == 16 && um->mask[99] == 59400 && um->mask[55] == 33000);
        MXT_OK(mx_fits_read_region_int(pu, 8, 9, 2, 1, ur));
        MXT_TRUE(ur[0] == 58800 && ur[1] == 59400);
        mx_image_free(um);
    }
    /* written back uncompressed, the same pixels */
    mx_image *d = NULL;
    MXT_OK(mx_image_write(b, tpath("decompressed.fits")));
    MXT_OK(mx_mask_read(tpath("decompressed.fits"), &d));
    MXT_TRUE(d && memcmp(d->mask, b->mask, (size_t)(nx * ny) * sizeof(int32_t)) == 0);
    mx_image_free(d);
exit:
    mx_log_set_handler(NULL, NULL);
    mx_image_free(a);
    mx_image_free(b);
    mx_image_free(c);
    free(iv);
    free(fv);
}

/* ---- threads ------------------------------------------------------------- */

#define NTHREAD_ITEMS 24
static char frame_paths[NTHREAD_ITEMS][4096];
static mx_image *reference[NTHREAD_ITEMS];

static int thread_item(long i, void *ctx, int thread) {
    (void)ctx;
    (void)thread;
    mx_image *img = NULL, *back = NULL;
    char out[4096];
    snprintf(out, sizeof out, "%s/thread_%ld.fits", tmpdir, i);
    int st = mx_image_read(frame_paths[i], &img);
    if (st == MX_OK) st = mx_image_write(img, out);
    if (st == MX_OK) st = mx_image_read(out, &back);
    double crval = 0, want = 1;
    if (st == MX_OK) {
        mx_header_get_double(back->hdr, "CRVAL1", &crval);
        mx_header_get_double(reference[i]->hdr, "CRVAL1", &want);
    }
    if (st == MX_OK && (memcmp(back->data, reference[i]->data, 256 * 256 * sizeof(float)) != 0 || crval != want))
        st = mx_seterr(MX_ERR_INTERNAL, "thread copy of '%s' differs", frame_paths[i]);
    mx_image_free(img);
    mx_image_free(back);
    return st;
}

static void test_threads(void) {
    int re = fits_is_reentrant();
    float version = 0;
    fits_get_version(&version);
    printf("cfitsio %.3f: fits_is_reentrant() = %d\n", version, re);
    MXT_EQ_INT(re, 1);
    /* frames 0056..0079 of ch1 */
    for (int i = 0; i < NTHREAD_ITEMS; i++) {
        snprintf(frame_paths[i], sizeof frame_paths[i],
                 "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_%04d_0000_2_cbcd.fits", data_dir, 56 + i);
        MXT_OK(mx_image_read(frame_paths[i], &reference[i]));
        if (!reference[i]) return;
    }
    /* the frames differ, so a mix-up between threads would show */
    MXT_TRUE(memcmp(reference[0]->data, reference[1]->data, 256 * 256 * sizeof(float)) != 0);
    MXT_OK(mx_parallel_for_n(NTHREAD_ITEMS, 4, thread_item, NULL));
    /* a failing item reports its own file, from any thread */
    snprintf(frame_paths[7], sizeof frame_paths[7], "%s/missing_frame.fits", tmpdir);
    MXT_FAILS(mx_parallel_for_n(NTHREAD_ITEMS, 4, thread_item, NULL), MX_ERR_IO, "missing_frame.fits");
    for (int i = 0; i < NTHREAD_ITEMS; i++) {
        mx_image_free(reference[i]);
        reference[i] = NULL;
    }
}

/* ---- helpers --------------------------------------------------------------- */

static void test_helpers(void) {
    char *t1 = mx_temp_name_for("/a/b/out.fits"), *t2 = mx_temp_name_for("/a/b/out.fits");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/a/b/out.fits.tmp-%ld-", (long)getpid());
    MXT_TRUE(t1 && t2 && strncmp(t1, prefix, strlen(prefix)) == 0 && strncmp(t2, prefix, strlen(prefix)) == 0);
    MXT_TRUE(t1 && t2 && strcmp(t1, t2) != 0);
    free(t1);
    free(t2);

    char deep[4096];
    snprintf(deep, sizeof deep, "%s/mk/a/b//c/", tmpdir);
    MXT_OK(mx_mkdir_p(deep));
    MXT_OK(mx_mkdir_p(deep)); /* exists already: fine */
    struct stat sb;
    MXT_TRUE(stat(deep, &sb) == 0 && S_ISDIR(sb.st_mode));
    char blocked[4096];
    snprintf(blocked, sizeof blocked, "%s/sub", cbcd);
    MXT_FAILS(mx_mkdir_p(blocked), MX_ERR_IO, "is not a directory");
    MXT_FAILS(mx_mkdir_p(""), MX_ERR_PARAM, "empty");

    MXT_TRUE(mx_file_exists(cbcd));
    MXT_TRUE(!mx_file_exists(tmpdir));
    MXT_TRUE(!mx_file_exists(tpath("nope")));
    MXT_TRUE(!mx_file_exists(NULL));

    /* commit_temp for other file kinds */
    const char *dst = tpath("list.txt");
    char *tmp = mx_temp_name_for(dst);
    MXT_TRUE(write_bytes(tmp, "a\nb\n", 4) == 0);
    MXT_OK(mx_commit_temp(tmp, dst));
    MXT_TRUE(mx_file_exists(dst) && !mx_file_exists(tmp));
    MXT_FAILS(mx_commit_temp(tmp, dst), MX_ERR_IO, "No such file");
    free(tmp);

    /* new / dup */
    mx_image *a = NULL, *b = NULL;
    MXT_OK(mx_image_new(5, 4, MX_IMG_FLOAT, 0, 1.5f, &a));
    MXT_TRUE(a && a->bitpix == -32 && a->data[19] == 1.5f && a->mask == NULL && a->hdr && a->hdr->ncards == 0);
    MXT_OK(mx_header_set_long(a->hdr, "K", 1, NULL));
    MXT_OK(mx_image_dup(a, &b));
    MXT_TRUE(b && b->data != a->data && b->hdr != a->hdr && b->data[7] == 1.5f && mx_header_has(b->hdr, "K"));
    mx_image_free(b);
    mx_image_free(a);
    MXT_FAILS(mx_image_new(0, 4, MX_IMG_FLOAT, 0, 0, &a), MX_ERR_PARAM, "at least 1");
    MXT_FAILS(mx_image_new(2, 2, MX_IMG_INT, 12, 0, &a), MX_ERR_PARAM, "bitpix 12");
    MXT_TRUE(a == NULL);
    mx_image_free(NULL);
}

/* ---- units (formats.md 1.3) ---------------------------------------------- */

static void test_units(void) {
    mx_log_set_handler(collect, NULL);
    warned.n = 0;
    const char *mjysr[] = {"MJy/sr", "MJy/ster", "mjy/steradian", "MJy sr-1", "MJy.sr-1", "MJy*sr^-1",
                           "MJY/SR", "MJysr-1", "MJy / sr"};
    for (size_t i = 0; i < sizeof mjysr / sizeof mjysr[0]; i++)
        MXT_CHECK(mx_unit_parse(mjysr[i]) == MX_UNIT_MJY_SR, "'%s'", mjysr[i]);
    const char *ujy[] = {"microJy/arcsec2", "uJy/arcsec2", "\xc2\xb5Jy/arcsec2", "microJy/sq.arcsec",
                         "microJy/sqarcsec", "microJy/square_arcsec", "microJy/arcsec**2", "uJy arcsec-2",
                         "microJy/arcsec^2", "UJY/ARCSEC2"};
    for (size_t i = 0; i < sizeof ujy / sizeof ujy[0]; i++)
        MXT_CHECK(mx_unit_parse(ujy[i]) == MX_UNIT_UJY_ARCSEC2, "'%s'", ujy[i]);
    MXT_EQ_INT(warned.n, 0);
    MXT_EQ_INT(mx_unit_parse("mJy/sq.arcsec"), MX_UNIT_MJY_ARCSEC2);
    MXT_EQ_INT(warned.n, 1);
    MXT_TRUE(strstr(warned.last, "mJy/sq.arcsec") != NULL);
    const char *counts[] = {"DN", "electrons", "Jy", "MJy/sr/s", "mjy/srr", "microJy/arcsec3", "", "MJy/",
                            "Jy/pixel"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        MXT_CHECK(mx_unit_parse(counts[i]) == MX_UNIT_COUNTS, "'%s'", counts[i]);
    MXT_EQ_INT(mx_unit_parse(NULL), MX_UNIT_COUNTS);
    MXT_EQ_INT(warned.n, 1); /* counts are silent: the callers warn, naming the file */
    mx_log_set_handler(NULL, NULL);

    /* worked numbers: microJy per (MJy/sr) per pixel of side s arcsec */
    const double side[] = {0.6, 1.22, 1.2, 1.8, 2.45, 4.0, 8.0};
    const double want[] = {8.461595, 34.983994, 33.846380, 76.154355, 141.08534, 376.07089, 1504.2836};
    for (int i = 0; i < 7; i++) {
        double got = mx_unit_to_ujy(MX_UNIT_MJY_SR, side[i] * side[i]);
        MXT_CHECK(fabs(got / want[i] - 1) < 1e-6, "%.2f arcsec: %.9g vs %.9g", side[i], got, want[i]);
    }
    MXT_NEAR(mx_unit_to_ujy(MX_UNIT_MJY_SR, 1.0), 23.5044305, 1e-7);
    MXT_NEAR(mx_unit_to_ujy(MX_UNIT_UJY_ARCSEC2, 0.36), 0.36, 0);
    MXT_NEAR(mx_unit_to_ujy(MX_UNIT_MJY_ARCSEC2, 0.36), 360.0, 1e-12);
    MXT_NEAR(mx_unit_to_ujy(MX_UNIT_COUNTS, 0.36), 0.0, 0);
}

int main(void) {
    data_dir = mxt_data_dir();
    if (!data_dir) mxt_skip("MOPEX_TEST_DATA not set");
    snprintf(cbcd, sizeof cbcd, "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbcd.fits", data_dir);
    snprintf(cbunc, sizeof cbunc, "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_cbunc.fits", data_dir);
    snprintf(bimsk, sizeof bimsk, "%s/gammit_grb120119a/ch1/bcd/SPITZER_I1_46291456_0056_0000_2_bimsk.fits", data_dir);
    if (!mx_file_exists(cbcd)) mxt_skip("real IRAC frames not found under MOPEX_TEST_DATA");
    snprintf(tmpdir, sizeof tmpdir, "%s", mxt_tmp_dir("test_image"));
    MXT_RUN(test_real_triple);
    MXT_RUN(test_real_round_trip);
    MXT_RUN(test_speed);
    MXT_RUN(test_bitpix_scaling);
    MXT_RUN(test_mask_widths);
    MXT_RUN(test_bad_inputs);
    MXT_RUN(test_degenerate_axes);
    MXT_RUN(test_write_failures);
    MXT_RUN(test_regions);
    MXT_RUN(test_wide_regions);
    MXT_RUN(test_streaming_writer);
    MXT_RUN(test_compressed);
    MXT_RUN(test_threads);
    MXT_RUN(test_helpers);
    MXT_RUN(test_units);
    return mxt_summary();
}
