/* combine.c - Mosaic Combine (streaming tile paste) and Mosaic MedFilter
 * (mx_coadd.h; mosaic.md 5.6.20-5.6.21). */
#include "mopex/mopex.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long x0, y0, nx, ny;
    char *fname;
} ctile;

static void free_tiles(ctile *t, long n) {
    if (!t) return;
    for (long k = 0; k < n; k++) free(t[k].fname);
    free(t);
}

static int find_col(const mx_table *t, const char *a, const char *b) {
    int c = mx_table_find_column(t, a);
    return c >= 0 || !b ? c : mx_table_find_column(t, b);
}

static int cmp_tiles(const void *pa, const void *pb) {
    const ctile *a = pa, *b = pb;
    if (a->y0 != b->y0) return a->y0 < b->y0 ? -1 : 1;
    if (a->x0 != b->x0) return a->x0 < b->x0 ? -1 : 1;
    return 0;
}

/* The tiles of a table, sorted by (yoff, xoff). */
static int read_tiles(const char *path, ctile **out, long *nout) {
    mx_table *t = NULL;
    ctile *tl = NULL;
    long n = 0;
    int st = mx_table_read_ipac(path, &t);
    if (st != MX_OK) return st;
    int cf = find_col(t, "fname", "file"), cx = find_col(t, "xoff", "offset_x");
    int cy = find_col(t, "yoff", "offset_y"), cw = find_col(t, "naxis1", NULL), ch = find_col(t, "naxis2", NULL);
    if (cf < 0 || cx < 0 || cy < 0 || cw < 0 || ch < 0) {
        st = mx_seterr(MX_ERR_NOTFOUND,
                       "tile table '%s' needs the columns fname, xoff, yoff, naxis1, naxis2", path);
        goto exit;
    }
    n = t->nrows;
    if (n < 1) {
        st = mx_seterr(MX_ERR_FORMAT, "tile table '%s' lists no tiles", path);
        goto exit;
    }
    if (!(tl = calloc((size_t)n, sizeof *tl))) {
        st = mx_seterr(MX_ERR_NOMEM, "tiles of '%s'", path);
        goto exit;
    }
    for (long r = 0; r < n; r++) {
        int64_t v[4];
        int cols[4] = {cx, cy, cw, ch};
        for (int k = 0; k < 4; k++)
            if (mx_table_get_int(t, cols[k], r, &v[k]) != MX_OK) {
                st = mx_seterr(MX_ERR_FORMAT, "tile table '%s', row %ld: %s is not an integer", path, r + 1,
                               t->cols[cols[k]].name);
                goto exit;
            }
        char buf[1024];
        const char *f = mx_table_get_string(t, cf, r, buf, sizeof buf);
        if (!f || !*f) {
            st = mx_seterr(MX_ERR_FORMAT, "tile table '%s', row %ld: no file name", path, r + 1);
            goto exit;
        }
        tl[r].x0 = (long)v[0];
        tl[r].y0 = (long)v[1];
        tl[r].nx = (long)v[2];
        tl[r].ny = (long)v[3];
        if (!(tl[r].fname = strdup(f))) {
            st = mx_seterr(MX_ERR_NOMEM, "tiles of '%s'", path);
            goto exit;
        }
    }
    qsort(tl, (size_t)n, sizeof *tl, cmp_tiles);
exit:
    mx_table_free(t);
    if (st != MX_OK) {
        free_tiles(tl, n);
        return st;
    }
    *out = tl;
    *nout = n;
    return MX_OK;
}

/* The tiles must partition the grid: rows of tiles with one height, each
 * spanning [0, naxis1) without gap or overlap, the rows spanning
 * [0, naxis2). Returns the number of bands in *nbands. */
static int check_partition(const char *path, const ctile *t, long n, long naxis1, long naxis2) {
    long y = 0, k = 0;
    while (k < n) {
        if (t[k].y0 != y)
            return mx_seterr(MX_ERR_FORMAT, "tile table '%s': rows %ld..%ld of the %ld x %ld grid are %s",
                             path, y, t[k].y0 - 1, naxis1, naxis2, t[k].y0 > y ? "not covered" : "covered twice");
        long x = 0, h = t[k].ny;
        for (; k < n && t[k].y0 == y; k++) {
            if (t[k].ny != h || t[k].x0 != x || t[k].nx < 1 || h < 1)
                return mx_seterr(MX_ERR_FORMAT,
                                 "tile table '%s': tile '%s' at (%ld, %ld), %ld x %ld, does not continue "
                                 "the band of rows %ld..%ld",
                                 path, t[k].fname, t[k].x0, t[k].y0, t[k].nx, t[k].ny, y, y + h - 1);
            x += t[k].nx;
        }
        if (x != naxis1)
            return mx_seterr(MX_ERR_FORMAT, "tile table '%s': the band at row %ld spans %ld of %ld columns",
                             path, y, x, naxis1);
        y += h;
    }
    if (y != naxis2)
        return mx_seterr(MX_ERR_FORMAT, "tile table '%s': the tiles span %ld of %ld rows", path, y, naxis2);
    return MX_OK;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static char *tile_path(const char *dir, const char *fname, const char *suffix) {
    size_t n = strlen(fname) + strlen(suffix) + 1;
    char *name = malloc(n);
    if (!name) return NULL;
    snprintf(name, n, "%s%s", fname, suffix);
    char *p = mx_path_join(dir, name);
    free(name);
    return p;
}

/* Mosaic rows per read-copy-write step of mx_combine_tiles. */
#define COMBINE_ROWS 64

int mx_combine_tiles(const char *tiles_table, const char *suffix, const char *fif_path,
                     const char *out_path) {
    int st = MX_OK;
    ctile *t = NULL;
    long n = 0;
    mx_fif fif;
    mx_wcs *w = NULL;
    mx_header *hdr = NULL, *th = NULL;
    mx_fits_writer *wr = NULL;
    char *dir = NULL, *path = NULL;
    float *band = NULL, *tile = NULL;
    mx_fits_reader **rd = NULL;
    if (!suffix) suffix = "";
    if ((st = mx_fif_read(fif_path, &fif)) != MX_OK) goto exit;
    long naxis1 = fif.naxis[0], naxis2 = fif.naxis[1];
    if ((st = read_tiles(tiles_table, &t, &n)) != MX_OK) goto exit;
    if ((st = check_partition(tiles_table, t, n, naxis1, naxis2)) != MX_OK) goto exit;
    if (!(dir = dir_of(tiles_table))) {
        st = mx_seterr(MX_ERR_NOMEM, "path");
        goto exit;
    }
    /* header: the FIF's WCS, then the first tile's other cards */
    if ((st = mx_fif_wcs(&fif, &w)) != MX_OK) goto exit;
    if (!(hdr = mx_header_new())) {
        st = mx_seterr(MX_ERR_NOMEM, "header");
        goto exit;
    }
    if ((st = mx_wcs_to_header(w, hdr)) != MX_OK) goto exit;
    if (!(path = tile_path(dir, t[0].fname, suffix))) {
        st = mx_seterr(MX_ERR_NOMEM, "path");
        goto exit;
    }
    long tnx, tny;
    int bitpix;
    if ((st = mx_fits_read_header(path, &th, &tnx, &tny, &bitpix)) != MX_OK) goto exit;
    mx_header_delete(th, "HISTORY");
    mx_header_delete(th, "MINTOFFX");
    mx_header_delete(th, "MINTOFFY");
    if ((st = mx_header_merge(hdr, th)) != MX_OK) goto exit;
    char hist[200];
    snprintf(hist, sizeof hist, "mosaic_combiner: %ld tiles *%s of %s, mopexlua %s", n, suffix, tiles_table,
             mx_version());
    if ((st = mx_header_add_history(hdr, hist)) != MX_OK) goto exit;
    free(path);
    path = NULL;

    /* Rows stream through a band of COMBINE_ROWS mosaic rows: memory does not
     * grow with the mosaic's width or its tiles' height. */
    long maxn = 0;
    for (long k = 0; k < n; k++) {
        long m = 1;
        while (k + m < n && t[k + m].y0 == t[k].y0) m++;
        if (m > maxn) maxn = m;
    }
    band = malloc((size_t)naxis1 * COMBINE_ROWS * sizeof *band);
    tile = malloc((size_t)naxis1 * COMBINE_ROWS * sizeof *tile);
    rd = calloc((size_t)maxn, sizeof *rd);
    if (!band || !tile || !rd) {
        st = mx_seterr(MX_ERR_NOMEM, "combine: band of %ld x %d pixels", naxis1, COMBINE_ROWS);
        goto exit;
    }
    if ((st = mx_fits_writer_open(out_path, naxis1, naxis2, -32, hdr, &wr)) != MX_OK) goto exit;
    for (long k = 0; k < n && st == MX_OK;) {
        /* tiles k .. k+m-1 share rows y0 .. y0+h-1 (check_partition made sure) */
        long y0 = t[k].y0, h = t[k].ny, m = 0;
        for (; k + m < n && t[k + m].y0 == y0 && st == MX_OK; m++) {
            const ctile *tk = &t[k + m];
            long rx = 0, ry = 0;
            if (!(path = tile_path(dir, tk->fname, suffix))) {
                st = mx_seterr(MX_ERR_NOMEM, "path");
                break;
            }
            st = mx_fits_reader_open(path, &rd[m]);
            if (st == MX_OK) st = mx_fits_reader_size(rd[m], &rx, &ry);
            if (st == MX_OK && (rx != tk->nx || ry != tk->ny))
                st = mx_seterr(MX_ERR_MISMATCH, "tile '%s' is %ld x %ld, its table '%s' says %ld x %ld", path,
                               rx, ry, tiles_table, tk->nx, tk->ny);
            free(path);
            path = NULL;
        }
        for (long r0 = 0; r0 < h && st == MX_OK; r0 += COMBINE_ROWS) {
            long rh = h - r0 < COMBINE_ROWS ? h - r0 : COMBINE_ROWS;
            if ((st = mx_check_interrupt()) != MX_OK) break;
            for (long q = 0; q < m && st == MX_OK; q++) {
                const ctile *tk = &t[k + q];
                if ((st = mx_fits_reader_region(rd[q], 0, r0, tk->nx, rh, tile)) != MX_OK) break;
                for (long j = 0; j < rh; j++)
                    memcpy(band + (size_t)j * (size_t)naxis1 + (size_t)tk->x0, tile + (size_t)j * (size_t)tk->nx,
                           (size_t)tk->nx * sizeof *band);
            }
            if (st == MX_OK) st = mx_fits_writer_put_rows(wr, y0 + r0, rh, band);
        }
        for (long q = 0; q < m; q++) {
            mx_fits_reader_close(rd[q]);
            rd[q] = NULL;
        }
        k += m;
    }
    if (st == MX_OK) {
        st = mx_fits_writer_commit(wr);
    } else {
        mx_fits_writer_abort(wr);
    }
    wr = NULL;
exit:
    free(band);
    free(tile);
    free(rd);
    free(path);
    free(dir);
    mx_header_free(hdr);
    mx_header_free(th);
    mx_wcs_free(w);
    free_tiles(t, n);
    return st;
}

typedef struct {
    const char *fif_path, *outdir;
    const char *table[MX_PRODUCT_COUNT];
    int n;
    int product[MX_PRODUCT_COUNT];
} combine_job;

static int combine_one(long k, void *vjob, int thread) {
    const combine_job *j = vjob;
    int p = j->product[k];
    char *out = mx_path_join(j->outdir, mx_product_mosaic(p));
    if (!out) return mx_seterr(MX_ERR_NOMEM, "path");
    int st = mx_combine_tiles(j->table[k], mx_product_suffix(p), j->fif_path, out);
    free(out);
    return st;
}

/* Products listed in the manifest keyword (space or comma separated). */
static int manifest_products(const char *table_path, unsigned *out) {
    mx_table *t = NULL;
    int st = mx_table_read_ipac(table_path, &t);
    if (st != MX_OK) return st;
    const char *v = mx_table_get_keyword(t, "products");
    unsigned bits = 0;
    if (!v) {
        bits = (1u << MX_PRODUCT_IMAGE) | (1u << MX_PRODUCT_COV);
        mx_warn("'%s' has no products keyword; combining the Image and Cov tiles", table_path);
    } else {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", v);
        for (char *save = NULL, *tok = strtok_r(buf, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
            int p;
            for (p = 0; p < MX_PRODUCT_COUNT; p++)
                if (strcmp(tok, mx_product_token(p)) == 0) break;
            if (p == MX_PRODUCT_COUNT) {
                st = mx_seterr(MX_ERR_FORMAT, "'%s': unknown product '%s' in the products keyword", table_path,
                               tok);
                break;
            }
            bits |= 1u << p;
        }
    }
    mx_table_free(t);
    *out = bits;
    return st;
}

/* Remove the tile files of one product. */
static void delete_tiles(const char *table, const char *suffix) {
    ctile *t = NULL;
    long n = 0;
    if (read_tiles(table, &t, &n) != MX_OK) {
        mx_warn("cannot delete the tiles of '%s': %s", table, mx_errmsg());
        return;
    }
    char *dir = dir_of(table);
    for (long k = 0; dir && k < n; k++) {
        char *p = tile_path(dir, t[k].fname, suffix);
        if (p && mx_file_exists(p) && remove(p) != 0) mx_warn("cannot delete tile '%s'", p);
        free(p);
    }
    free(dir);
    free_tiles(t, n);
}

int mx_combine_run(const char *coadd_dir, const char *fif_path, const char *outdir,
                   const mx_combine_opts *o, unsigned *products) {
    int st = MX_OK;
    unsigned bits = 0, done = 0;
    char *table = NULL, *tables[MX_PRODUCT_COUNT] = {0};
    if (products) *products = 0;
    if (!coadd_dir || !outdir) return mx_seterr(MX_ERR_PARAM, "combine: no directory");
    if (!(table = mx_path_join(coadd_dir, "coadd_tiles.tbl"))) return mx_seterr(MX_ERR_NOMEM, "path");
    if (!mx_file_exists(table)) {
        st = mx_seterr(MX_ERR_IO, "combine: '%s' does not exist (run the Mosaic CoAdder first)", table);
        goto exit;
    }
    if ((st = manifest_products(table, &bits)) != MX_OK) goto exit;
    if ((st = mx_mkdir_p(outdir)) != MX_OK) goto exit;
    for (int p = 0; p < MX_PRODUCT_COUNT; p++) {
        if (!(bits & (1u << p))) continue;
        if (p == MX_PRODUCT_MEDIAN) tables[p] = mx_path_join(coadd_dir, "coadd_median_tiles.tbl");
        else if (p == MX_PRODUCT_OUTLIER || p == MX_PRODUCT_DUAL_OUTLIER) {
            const char *d = p == MX_PRODUCT_OUTLIER ? o->outlier_dir : o->dual_outlier_dir;
            if (!d) {
                mx_warn("combine: the %s tiles were made but no directory is given for them; skipped",
                        mx_product_token(p));
                continue;
            }
            tables[p] = mx_path_join(d, "tiles.tbl");
        } else {
            tables[p] = strdup(table);
        }
        if (!tables[p]) {
            st = mx_seterr(MX_ERR_NOMEM, "path");
            goto exit;
        }
    }
    combine_job job = {fif_path, outdir, {0}, 0, {0}};
    for (int p = 0; p < MX_PRODUCT_COUNT; p++)
        if (tables[p] && mx_product_mosaic(p)) {
            job.table[job.n] = tables[p];
            job.product[job.n++] = p;
        }
    /* the products are independent files: one thread each */
    if ((st = mx_parallel_for(job.n, combine_one, &job)) != MX_OK) goto exit;
    for (int k = 0; k < job.n; k++) done |= 1u << job.product[k];
    if (o->delete_tiles)
        for (int p = 0; p < MX_PRODUCT_COUNT; p++)
            if (tables[p]) delete_tiles(tables[p], mx_product_suffix(p));
    if (products) *products = done;
exit:
    free(table);
    for (int p = 0; p < MX_PRODUCT_COUNT; p++) free(tables[p]);
    return st;
}

/* ---- Mosaic MedFilter -------------------------------------------------------------- */

int mx_mosaic_medfilter_run(const char *mosaic_path, const char *coverage_path,
                            const mx_medfilter_opts *opts, const char *out_path) {
    int st = MX_OK;
    mx_image *img = NULL, *cov = NULL, *res = NULL;
    uint8_t *bad = NULL;
    if ((st = mx_image_read(mosaic_path, &img)) != MX_OK) goto exit;
    size_t n = (size_t)img->nx * (size_t)img->ny;
    if (!(bad = malloc(n))) {
        st = mx_seterr(MX_ERR_NOMEM, "mask of '%s'", mosaic_path);
        goto exit;
    }
    for (size_t k = 0; k < n; k++) bad[k] = !isfinite(img->data[k]);
    if (coverage_path) {
        if ((st = mx_image_read(coverage_path, &cov)) != MX_OK) goto exit;
        if (cov->nx != img->nx || cov->ny != img->ny) {
            st = mx_seterr(MX_ERR_MISMATCH, "coverage '%s' is %ld x %ld, mosaic '%s' is %ld x %ld", coverage_path,
                           cov->nx, cov->ny, mosaic_path, img->nx, img->ny);
            goto exit;
        }
        for (size_t k = 0; k < n; k++)
            if (!(cov->data[k] > 0.0f)) bad[k] = 1;
        mx_image_free(cov);
        cov = NULL;
    }
    if ((st = mx_image_new(img->nx, img->ny, MX_IMG_FLOAT, -32, 0.0f, &res)) != MX_OK) goto exit;
    mx_header_free(res->hdr);
    if (!(res->hdr = mx_header_dup(img->hdr))) {
        st = mx_seterr(MX_ERR_NOMEM, "header");
        goto exit;
    }
    long nnan = 0;
    if ((st = mx_medfilter(img->data, bad, img->nx, img->ny, opts, res->data, NULL, &nnan)) != MX_OK) {
        mx_preferr(st, "Mosaic MedFilter of '%s'", mosaic_path);
        goto exit;
    }
    char hist[200];
    snprintf(hist, sizeof hist,
             "mosaic_medfilter: %s background, window %d x %d, %d outliers per window subtracted",
             opts->use_sbkg ? "Sbkg" : "median", opts->window_x, opts->window_y, opts->n_outliers);
    if ((st = mx_header_add_history(res->hdr, hist)) != MX_OK) goto exit;
    st = mx_image_write(res, out_path);
exit:
    free(bad);
    mx_image_free(img);
    mx_image_free(cov);
    mx_image_free(res);
    return st;
}
