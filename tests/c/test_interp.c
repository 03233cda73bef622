/* test_interp.c - Mosaic Interpolate and Mosaic Reinterpolate at file level
 * (mx_interp.h) on the 30 real IRAC ch1 frames of
 * $MOPEX_TEST_DATA/gammit_grb120119a (cbcd + cbunc + bimsk, DCE fatal
 * pattern 32520 as in the author's namelist), on a FIF computed over them
 * at 0.6" pixels.
 *
 * Independent checks: the usable-pixel count is made here from the files;
 * flux conservation uses pixel solid angles from the WCS Jacobian
 * (mx_wcs_pixel_area) of the input frame and of the written image's own
 * header; Reinterpolate is compared byte for byte with a fresh run.
 * Without the data folder only the name tests run.
 */
#include "mxtest.h"

#include <sys/stat.h>
#include <time.h>

#define DCE_FATAL 32520u /* bits 3, 8-14: 000's namelist for this AOR */
#define NFR 30

static char data_dir[4096], tmp_dir[4096];
static char *frames[NFR], *sigmas[NFR], *masks[NFR];
static mx_fif grid;

/* ---- helpers ----------------------------------------------------------------- */

static char *tpath(const char *name) { return mx_path_join(tmp_dir, name); }

static double wall_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

static mx_image *read_f(const char *path) {
    mx_image *img = NULL;
    MXT_OK(mx_image_read(path, &img));
    return img;
}

static mx_interp_opts opts_for(int method, const char *dir) {
    mx_interp_opts o;
    memset(&o, 0, sizeof o);
    o.method = method;
    o.fineres = 0;
    o.driz_fac = 1.0;
    o.grid_ratio = 4;
    o.alpha = -0.5;
    o.dce_fatal = DCE_FATAL;
    o.pmask_fatal = 32767;
    o.rmask_fatal = 7;
    o.mask_bright = 0;
    o.out_dir = dir;
    return o;
}

static mx_interp_inputs inputs_for(int n, char **img, char **sig, char **msk) {
    mx_interp_inputs in;
    memset(&in, 0, sizeof in);
    in.n = n;
    in.images = (const char *const *)img;
    in.sigmas = (const char *const *)sig;
    in.dce_masks = (const char *const *)msk;
    return in;
}

/* Usable pixels of frame k counted from the files: finite value, finite
 * positive sigma, no fatal DCE bit, plus an optional extra mask. */
static long count_usable(int k, const int32_t *rmask, uint32_t rfatal) {
    mx_image *img = read_f(frames[k]), *sig = read_f(sigmas[k]), *m = NULL;
    MXT_OK(mx_mask_read(masks[k], &m));
    long n = 0;
    for (long p = 0; p < img->nx * img->ny; p++) {
        float v = img->data[p], s = sig->data[p];
        if (!isfinite(v) || !isfinite(s) || !(s > 0)) continue;
        if ((uint32_t)m->mask[p] & DCE_FATAL) continue;
        if (rmask && ((uint32_t)rmask[p] & rfatal)) continue;
        n++;
    }
    mx_image_free(img);
    mx_image_free(sig);
    mx_image_free(m);
    return n;
}

/* sum_i I_i Omega_i over the usable input pixels of frame k (arcsec^2 units). */
static double input_flux(int k, double *sum_plain) {
    mx_image *img = read_f(frames[k]), *sig = read_f(sigmas[k]), *m = NULL;
    MXT_OK(mx_mask_read(masks[k], &m));
    mx_wcs *w = NULL;
    MXT_OK(mx_wcs_from_header(img->hdr, frames[k], &w));
    double s = 0, sp = 0;
    long nfail = 0;
    for (long j = 0; j < img->ny; j++)
        for (long i = 0; i < img->nx; i++) {
            size_t p = (size_t)j * (size_t)img->nx + (size_t)i;
            float v = img->data[p], sg = sig->data[p];
            if (!isfinite(v) || !isfinite(sg) || !(sg > 0) || ((uint32_t)m->mask[p] & DCE_FATAL)) continue;
            double a;
            nfail += mx_wcs_pixel_area(w, (double)i, (double)j, &a) != MX_OK;
            s += v * a;
            sp += v;
        }
    MXT_EQ_INT(nfail, 0);
    if (sum_plain) *sum_plain = sp;
    mx_wcs_free(w);
    mx_image_free(img);
    mx_image_free(sig);
    mx_image_free(m);
    return s;
}

/* sum_j O_j cov_j Omega_j of an interpolated image, Omega from its own WCS;
 * *sum_oc gets sum_j O_j cov_j. */
static double output_flux(const char *img_path, const char *cov_path, double *sum_oc) {
    mx_image *o = read_f(img_path), *c = read_f(cov_path);
    mx_wcs *w = NULL;
    MXT_OK(mx_wcs_from_header(o->hdr, img_path, &w));
    double s = 0, soc = 0;
    long nfail = 0;
    for (long q = 0; q < o->ny; q++)
        for (long p = 0; p < o->nx; p++) {
            size_t k = (size_t)q * (size_t)o->nx + (size_t)p;
            if (!(c->data[k] > 0)) continue;
            double a;
            nfail += mx_wcs_pixel_area(w, (double)p, (double)q, &a) != MX_OK;
            s += (double)o->data[k] * c->data[k] * a;
            soc += (double)o->data[k] * c->data[k];
        }
    MXT_EQ_INT(nfail, 0);
    if (sum_oc) *sum_oc = soc;
    mx_wcs_free(w);
    mx_image_free(o);
    mx_image_free(c);
    return s;
}

static double median_of(float *v, long n) { return mx_median_inplace(v, (size_t)n, 0); }

/* ---- names (no data needed) ---------------------------------------------------- */

static void test_names(void) {
    const char *a[] = {"d1/x_cbcd.fits", "d2/x_cbcd.fits", "y.fits.gz", "z"};
    char **nm = NULL;
    MXT_OK(mx_interp_names(4, a, &nm));
    MXT_EQ_STR(nm[0], "1_x_cbcd");
    MXT_EQ_STR(nm[1], "2_x_cbcd");
    MXT_EQ_STR(nm[2], "y");
    MXT_EQ_STR(nm[3], "z");
    for (int i = 0; i < 4; i++) free(nm[i]);
    free(nm);
    const char *b[] = {"d1/x.fits", "d2/x.fits", "2_x.fits"};
    MXT_FAILS(mx_interp_names(3, b, &nm), MX_ERR_PARAM, "would both be written as interp_2_x.fits");
    MXT_TRUE(nm == NULL);
}

/* ---- the whole AOR: 30 frames, threads 1 and 2 ------------------------------------ */

static void test_full_run(void) {
    char *d1 = tpath("run_t1"), *d2 = tpath("run_t2");
    mx_interp_inputs in = inputs_for(NFR, frames, sigmas, masks);
    mx_interp_opts o1 = opts_for(1, d1), o2 = opts_for(1, d2);
    mx_interp_result *r1 = NULL, *r2 = NULL;
    int saved = mx_threads();

    mx_set_threads(1);
    double w0 = wall_now();
    clock_t c0 = clock();
    MXT_OK(mx_interp_run(&in, &grid, &o1, &r1));
    double wall1 = wall_now() - w0, cpu1 = (double)(clock() - c0) / CLOCKS_PER_SEC;
    mx_set_threads(2);
    w0 = wall_now();
    c0 = clock();
    MXT_OK(mx_interp_run(&in, &grid, &o2, &r2));
    double wall2 = wall_now() - w0, cpu2 = (double)(clock() - c0) / CLOCKS_PER_SEC;
    mx_set_threads(saved);
    printf("interpolate 30 ch1 frames at 0.6\" (grid %ld x %ld), method 1 with sigmas:\n"
           "  1 thread : %.2f s wall, %.2f s CPU  (%.3f s wall, %.3f s CPU per frame)\n"
           "  2 threads: %.2f s wall, %.2f s CPU  (speed-up %.2f)\n",
           grid.naxis[0], grid.naxis[1], wall1, cpu1, wall1 / NFR, cpu1 / NFR, wall2, cpu2,
           wall1 / wall2);
    if (!r1 || !r2) goto exit;

    MXT_EQ_INT(r1->nwritten, NFR);
    MXT_EQ_INT(r2->nwritten, NFR);
    MXT_EQ_INT(r1->nreused, 0);
    /* bit-identical files for 1 and 2 threads */
    int same = 1;
    for (int i = 0; i < NFR; i++)
        same &= files_equal(r1->frames[i].image, r2->frames[i].image) &&
                files_equal(r1->frames[i].coverage, r2->frames[i].coverage) &&
                files_equal(r1->frames[i].sigma, r2->frames[i].sigma);
    MXT_TRUE(same);
    MXT_TRUE(files_equal(r1->table, r2->table) == 0); /* the tables name their own directory */

    /* the table, the headers and the result agree */
    mx_table *t = NULL;
    MXT_OK(mx_table_read_ipac(r2->table, &t));
    MXT_EQ_INT(t ? t->nrows : 0, NFR);
    int cid = t ? mx_table_find_column(t, "image_id") : -1, cf = t ? mx_table_find_column(t, "fname") : -1;
    int cx = t ? mx_table_find_column(t, "xoff") : -1, cy = t ? mx_table_find_column(t, "yoff") : -1;
    int c1 = t ? mx_table_find_column(t, "naxis1") : -1, c2 = t ? mx_table_find_column(t, "naxis2") : -1;
    MXT_TRUE(cid >= 0 && cf >= 0 && cx >= 0 && cy >= 0 && c1 >= 0 && c2 >= 0);
    long max_mismatch = 0;
    for (int i = 0; t && cid >= 0 && cf >= 0 && cx >= 0 && cy >= 0 && c1 >= 0 && c2 >= 0 && i < NFR; i++) {
        int64_t id, x, y, n1, n2;
        mx_table_get_int(t, cid, i, &id);
        mx_table_get_int(t, cx, i, &x);
        mx_table_get_int(t, cy, i, &y);
        mx_table_get_int(t, c1, i, &n1);
        mx_table_get_int(t, c2, i, &n2);
        const mx_interp_frame *f = &r2->frames[i];
        MXT_EQ_INT(id, i + 1);
        MXT_EQ_STR(t->cols[cf].s[i], f->image);
        mx_header *h = NULL;
        long nx, ny, mx = -1, my = -1;
        int bp;
        MXT_OK(mx_fits_read_header(f->image, &h, &nx, &ny, &bp));
        mx_header_get_long(h, "MINTOFFX", &mx);
        mx_header_get_long(h, "MINTOFFY", &my);
        if (mx != x || my != y || nx != n1 || ny != n2 || f->box.x0 != x || f->box.y0 != y ||
            f->box.w != n1 || f->box.h != n2)
            max_mismatch++;
        mx_header_free(h);
    }
    MXT_EQ_INT(max_mismatch, 0);
    mx_table_free(t);

    /* usable pixels: the driver's count equals ours on every frame */
    long bad_count = 0;
    for (int i = 0; i < NFR; i++) bad_count += r2->frames[i].nusable != count_usable(i, NULL, 0);
    MXT_EQ_INT(bad_count, 0);
    MXT_TRUE(r2->frames[0].nusable > 60000 && r2->frames[0].nusable < 65536);

    /* the written lists */
    mx_list *l = NULL;
    MXT_OK(mx_list_read(r2->image_list, MX_LIST_CHECK_EXISTS, &l));
    MXT_EQ_INT(l ? l->n : 0, NFR);
    if (l) MXT_EQ_STR(l->paths[7], r2->frames[7].image);
    mx_list_free(l);
    MXT_OK(mx_list_read(r2->sigma_list, MX_LIST_CHECK_EXISTS, &l));
    MXT_EQ_INT(l ? l->n : 0, NFR);
    mx_list_free(l);

    /* the header of one product: a valid image of its own on the grid */
    mx_image *im = read_f(r2->frames[3].image);
    mx_header *h = im->hdr;
    double crpix1, crpix2, exptime = 0;
    char bunit[32] = "", hist[4096] = "";
    long mth = 0;
    MXT_OK(mx_header_get_double(h, "CRPIX1", &crpix1));
    MXT_OK(mx_header_get_double(h, "CRPIX2", &crpix2));
    MXT_NEAR(crpix1, grid.crpix[0] - (double)r2->frames[3].box.x0, 1e-9);
    MXT_NEAR(crpix2, grid.crpix[1] - (double)r2->frames[3].box.y0, 1e-9);
    MXT_OK(mx_header_get_double(h, "EXPTIME", &exptime));
    MXT_NEAR(exptime, 93.6, 0);
    MXT_OK(mx_header_get_string(h, "BUNIT", bunit, sizeof bunit));
    MXT_EQ_STR(bunit, "MJy/sr");
    MXT_OK(mx_header_get_long(h, "INTRPMTH", &mth));
    MXT_EQ_INT(mth, 1);
    MXT_TRUE(!mx_header_has(h, "A_ORDER") && !mx_header_has(h, "CD1_1") && !mx_header_has(h, "AP_3_0"));
    MXT_TRUE(mx_header_has(h, "GAIN") && mx_header_has(h, "FLUXCONV") && mx_header_has(h, "DATE_OBS"));
    for (int k = 0; k < h->ncards; k++)
        if (strncmp(h->cards[k], "HISTORY", 7) == 0 && strstr(h->cards[k], "Mosaic Interpolate"))
            snprintf(hist, sizeof hist, "%s", h->cards[k]);
    MXT_TRUE(strstr(hist, "Mosaic Interpolate") != NULL);
    /* pixel (10, 20) of the product is grid pixel (x0+10, y0+20) */
    mx_wcs *wp = NULL, *wg = NULL;
    MXT_OK(mx_wcs_from_header(h, "product", &wp));
    MXT_OK(mx_fif_wcs(&grid, &wg));
    double px = 10, py = 20, gx = 10 + (double)r2->frames[3].box.x0, gy = 20 + (double)r2->frames[3].box.y0;
    double ra1, de1, ra2, de2;
    mx_wcs_pix2sky(wp, 1, &px, &py, &ra1, &de1);
    mx_wcs_pix2sky(wg, 1, &gx, &gy, &ra2, &de2);
    MXT_NEAR(ra1, ra2, 1e-12);
    MXT_NEAR(de1, de2, 1e-12);
    mx_wcs_free(wp);
    mx_wcs_free(wg);
    mx_image_free(im);
    mx_image *cv = read_f(r2->frames[3].coverage);
    MXT_TRUE(!mx_header_has(cv->hdr, "BUNIT"));
    mx_image_free(cv);

    /* flux conservation, method 1: sum_j O cov Omega_out = sum_i I Omega_in */
    static const int pick[] = {0, 11, 29};
    for (int s = 0; s < 3; s++) {
        int k = pick[s];
        double fin = input_flux(k, NULL), fout = output_flux(r2->frames[k].image, r2->frames[k].coverage, NULL);
        printf("  frame %2d: sum I Omega_in = %.9g, sum O cov Omega_out = %.9g (rel %.2e)\n", k + 1, fin,
               fout, fout / fin - 1);
        MXT_NEAR(fout / fin, 1.0, 1e-6);
    }
exit:
    mx_interp_result_free(r1);
    mx_interp_result_free(r2);
    free(d1);
    free(d2);
}

/* ---- fatal and non-fatal bits: one pixel ---------------------------------------- */

static void test_one_pixel(void) {
    const long PI = 100, PJ = 120; /* a usable pixel of frame 1 */
    char *dbase = tpath("px_base"), *dfat = tpath("px_fatal"), *dnf = tpath("px_nonfatal");
    char *mfat = tpath("px_fatal_bimsk.fits"), *mnf = tpath("px_nonfatal_bimsk.fits");
    mx_image *m = NULL;
    MXT_OK(mx_mask_read(masks[0], &m));
    int32_t orig = MX_MPIX(m, PI, PJ);
    MXT_EQ_INT((uint32_t)orig & DCE_FATAL, 0);
    MX_MPIX(m, PI, PJ) = orig | 256; /* bit 8: fatal in 32520 */
    MXT_OK(mx_image_write(m, mfat));
    MX_MPIX(m, PI, PJ) = orig | 32; /* bit 5: not in 32520 */
    MXT_OK(mx_image_write(m, mnf));
    mx_image_free(m);

    char *mk_f[1] = {mfat}, *mk_n[1] = {mnf};
    mx_interp_inputs ib = inputs_for(1, frames, sigmas, masks);
    mx_interp_inputs ifat = inputs_for(1, frames, sigmas, mk_f);
    mx_interp_inputs inf = inputs_for(1, frames, sigmas, mk_n);
    mx_interp_opts ob = opts_for(1, dbase), of = opts_for(1, dfat), on = opts_for(1, dnf);
    mx_interp_result *rb = NULL, *rf = NULL, *rn = NULL;
    MXT_OK(mx_interp_run(&ib, &grid, &ob, &rb));
    MXT_OK(mx_interp_run(&ifat, &grid, &of, &rf));
    MXT_OK(mx_interp_run(&inf, &grid, &on, &rn));
    if (!rb || !rf || !rn) goto exit;
    MXT_EQ_INT(rf->frames[0].nusable, rb->frames[0].nusable - 1);
    MXT_EQ_INT(rn->frames[0].nusable, rb->frames[0].nusable);
    /* non-fatal bit: the same bytes */
    MXT_TRUE(files_equal(rb->frames[0].image, rn->frames[0].image));
    MXT_TRUE(files_equal(rb->frames[0].coverage, rn->frames[0].coverage));
    MXT_TRUE(files_equal(rb->frames[0].sigma, rn->frames[0].sigma));

    /* fatal bit: the coverage loses exactly one input pixel, near its image */
    mx_image *cb = read_f(rb->frames[0].coverage), *cf = read_f(rf->frames[0].coverage);
    mx_image *ob_ = read_f(rb->frames[0].image), *of_ = read_f(rf->frames[0].image);
    mx_image *in = read_f(frames[0]);
    mx_wcs *win = NULL, *wout = NULL;
    MXT_OK(mx_wcs_from_header(in->hdr, frames[0], &win));
    MXT_OK(mx_wcs_from_header(cb->hdr, "coverage", &wout));
    double x = (double)PI, y = (double)PJ, ra, de, ox, oy;
    mx_wcs_pix2sky(win, 1, &x, &y, &ra, &de);
    mx_wcs_sky2pix(wout, 1, &ra, &de, &ox, &oy);
    double drop = 0, far = 0;
    long changed = 0, img_far = 0;
    for (long q = 0; q < cb->ny; q++)
        for (long p = 0; p < cb->nx; p++) {
            size_t k = (size_t)q * (size_t)cb->nx + (size_t)p;
            double d = (double)cb->data[k] - (double)cf->data[k];
            double dist = hypot((double)p - ox, (double)q - oy);
            int img_same = (ob_->data[k] == of_->data[k]) || (isnan(ob_->data[k]) && isnan(of_->data[k]));
            if (d != 0) changed++;
            if (dist > 2.5) {
                far += fabs(d);
                img_far += !img_same;
            } else {
                drop += d;
            }
        }
    double ain, aout;
    MXT_OK(mx_wcs_pixel_area(win, x, y, &ain));
    MXT_OK(mx_wcs_pixel_area(wout, ox, oy, &aout));
    printf("one fatal pixel: coverage drop %.6f output pixels over %ld pixels (Omega_in/Omega_out %.6f)\n",
           drop, changed, ain / aout);
    MXT_NEAR(drop, ain / aout, 2e-3 * ain / aout);
    MXT_NEAR(far, 0, 0);
    MXT_EQ_INT(img_far, 0);
    MXT_TRUE(changed >= 4 && changed <= 16);
    mx_wcs_free(win);
    mx_wcs_free(wout);
    mx_image_free(cb);
    mx_image_free(cf);
    mx_image_free(ob_);
    mx_image_free(of_);
    mx_image_free(in);
exit:
    mx_interp_result_free(rb);
    mx_interp_result_free(rf);
    mx_interp_result_free(rn);
    free(dbase);
    free(dfat);
    free(dnf);
    free(mfat);
    free(mnf);
}

/* ---- Reinterpolate == fresh Interpolate with the RMasks -------------------------- */

/* RMasks for 4 frames: none flagged; bit 1 (fatal in 7) on a 3x3 patch; bit 3
 * (not fatal in 7) on the same patch; bit 1 on a pixel that is NaN anyway. */
static void make_rmasks(char **rm, int32_t **keep) {
    for (int k = 0; k < 4; k++) {
        mx_image *img = read_f(frames[k]), *r = NULL;
        MXT_OK(mx_image_new(img->nx, img->ny, MX_IMG_INT, 16, 0, &r));
        if (k == 1 || k == 2)
            for (int j = 140; j < 143; j++)
                for (int i = 60; i < 63; i++) MX_MPIX(r, i, j) = k == 1 ? 2 : 8;
        if (k == 3) {
            long nanpix = -1;
            for (long p = 0; p < img->nx * img->ny && nanpix < 0; p++)
                if (isnan(img->data[p])) nanpix = p;
            MXT_TRUE(nanpix >= 0);
            if (nanpix >= 0) r->mask[nanpix] = 2;
        }
        char name[64];
        snprintf(name, sizeof name, "rmask_%d.fits", k);
        rm[k] = tpath(name);
        MXT_OK(mx_image_write(r, rm[k]));
        keep[k] = malloc((size_t)(r->nx * r->ny) * sizeof(int32_t));
        memcpy(keep[k], r->mask, (size_t)(r->nx * r->ny) * sizeof(int32_t));
        mx_image_free(r);
        mx_image_free(img);
    }
}

static void reinterp_case(int method, char **rm, int32_t **keep) {
    char n1[64], n2[64], n3[64];
    snprintf(n1, sizeof n1, "ri%d_first", method);
    snprintf(n2, sizeof n2, "ri%d_reint", method);
    snprintf(n3, sizeof n3, "ri%d_fresh", method);
    char *dfirst = tpath(n1), *dre = tpath(n2), *dfresh = tpath(n3);
    mx_interp_inputs in0 = inputs_for(4, frames, sigmas, masks), in1 = in0;
    in1.rmasks = (const char *const *)rm;
    mx_interp_opts o0 = opts_for(method, dfirst), o2 = opts_for(method, dfresh);
    mx_reinterp_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.dce_fatal = DCE_FATAL;
    ro.pmask_fatal = 32767;
    ro.rmask_fatal = 7;
    ro.interp_dir = dfirst;
    ro.out_dir = dre;
    mx_interp_result *r0 = NULL, *r1 = NULL, *r2 = NULL;
    MXT_OK(mx_interp_run(&in0, &grid, &o0, &r0));
    double w0 = wall_now();
    MXT_OK(mx_reinterp_run(&in1, &grid, &ro, &r1));
    double wre = wall_now() - w0;
    w0 = wall_now();
    MXT_OK(mx_interp_run(&in1, &grid, &o2, &r2));
    double wfr = wall_now() - w0;
    printf("reinterpolate (method %d), 4 frames: %.3f s; fresh interpolate: %.3f s\n", method, wre, wfr);
    if (!r0 || !r1 || !r2) goto exit;
    MXT_EQ_INT(r1->method.method, method);
    /* copied where the RMask adds no newly fatal pixel (not after Grid) */
    int want[4] = {1, 0, 1, 1};
    int copies = method == MX_INTERP_DEFAULT || method == MX_INTERP_CUBIC;
    for (int k = 0; k < 4; k++) MXT_EQ_INT(r1->frames[k].reused, copies ? want[k] : 0);
    MXT_EQ_INT(r1->frames[1].nusable, count_usable(1, keep[1], 7));
    MXT_EQ_INT(r1->frames[1].nusable, r0->frames[1].nusable - 9);
    /* the contract: the same bytes as a fresh run with the RMasks */
    int same = 1;
    for (int k = 0; k < 4; k++)
        same &= files_equal(r1->frames[k].image, r2->frames[k].image) &&
                files_equal(r1->frames[k].coverage, r2->frames[k].coverage) &&
                files_equal(r1->frames[k].sigma, r2->frames[k].sigma);
    MXT_TRUE(same);
    /* checklist 32: pixels untouched by the flagged input pixels keep their values */
    mx_image *a = read_f(r0->frames[1].image), *b = read_f(r1->frames[1].image);
    mx_image *in = read_f(frames[1]);
    mx_wcs *win = NULL, *wout = NULL;
    MXT_OK(mx_wcs_from_header(in->hdr, frames[1], &win));
    MXT_OK(mx_wcs_from_header(a->hdr, "first pass", &wout));
    double x = 61, y = 141, ra, de, ox, oy;
    mx_wcs_pix2sky(win, 1, &x, &y, &ra, &de);
    mx_wcs_sky2pix(wout, 1, &ra, &de, &ox, &oy);
    long diff_near = 0, diff_far = 0;
    /* the 3x3 input patch spans about 3 x 2.04 = 6.1 output pixels */
    double reach = method == 4 ? 3 * 2.04 + 2 * 2.04 * 1.5 : 3 * 2.04 * 0.75 + 1.5;
    for (long q = 0; q < a->ny; q++)
        for (long p = 0; p < a->nx; p++) {
            size_t k = (size_t)q * (size_t)a->nx + (size_t)p;
            int eq = a->data[k] == b->data[k] || (isnan(a->data[k]) && isnan(b->data[k]));
            if (eq) continue;
            if (hypot((double)p - ox, (double)q - oy) <= reach)
                diff_near++;
            else
                diff_far++;
        }
    MXT_TRUE(diff_near > 9);
    MXT_EQ_INT(diff_far, 0);
    mx_wcs_free(win);
    mx_wcs_free(wout);
    mx_image_free(a);
    mx_image_free(b);
    mx_image_free(in);
exit:
    mx_interp_result_free(r0);
    mx_interp_result_free(r1);
    mx_interp_result_free(r2);
    free(dfirst);
    free(dre);
    free(dfresh);
}

static int warn_hits;
static char warn_last[1024];
static void count_warn(mx_log_level level, const char *msg, void *ud) {
    (void)ud;
    if (level == MX_LOG_WARN) {
        warn_hits++;
        if (getenv("INTERP_TEST_VERBOSE")) fprintf(stderr, "warning: %s\n", msg);
        snprintf(warn_last, sizeof warn_last, "%s", msg);
    }
}

static void test_reinterp(void) {
    char *rm[4];
    int32_t *keep[4];
    make_rmasks(rm, keep);
    reinterp_case(1, rm, keep);
    reinterp_case(4, rm, keep);
    /* Grid: not allowed; a warning and a full re-interpolation */
    warn_hits = 0;
    mx_log_set_handler(count_warn, NULL);
    reinterp_case(3, rm, keep);
    mx_log_set_handler(NULL, NULL);
    MXT_TRUE(warn_hits >= 1);

    /* no first pass at all */
    char *empty = tpath("ri_empty"), *out = tpath("ri_none");
    mx_mkdir_p(empty);
    mx_interp_inputs in = inputs_for(4, frames, sigmas, masks);
    mx_reinterp_opts ro = {DCE_FATAL, 32767, 7, 0, empty, out};
    MXT_FAILS(mx_reinterp_run(&in, &grid, &ro, NULL), MX_ERR_NOTFOUND, "holds no interpolated image");
    free(empty);
    free(out);
    for (int k = 0; k < 4; k++) {
        free(rm[k]);
        free(keep[k]);
    }
}

/* ---- the other methods on a real frame: the sky level is kept ------------------- */

static void test_methods_sky(void) {
    mx_image *img = read_f(frames[0]), *m = NULL;
    MXT_OK(mx_mask_read(masks[0], &m));
    long nu = 0;
    float *v = malloc((size_t)(img->nx * img->ny) * sizeof *v);
    for (long p = 0; p < img->nx * img->ny; p++)
        if (isfinite(img->data[p]) && !((uint32_t)m->mask[p] & DCE_FATAL)) v[nu++] = img->data[p];
    double sky_in = median_of(v, nu);
    free(v);
    mx_image_free(m);
    mx_image_free(img);
    printf("input sky (median) %.5f MJy/sr\n", sky_in);
    MXT_NEAR(sky_in, 0.1, 0.02);
    for (int method = 1; method <= 4; method++) {
        char name[32];
        snprintf(name, sizeof name, "sky_m%d", method);
        char *dir = tpath(name);
        mx_interp_inputs in = inputs_for(1, frames, sigmas, masks);
        mx_interp_opts o = opts_for(method, dir);
        o.driz_fac = 0.6;
        mx_interp_result *r = NULL;
        MXT_OK(mx_interp_run(&in, &grid, &o, &r));
        if (r) {
            mx_image *oi = read_f(r->frames[0].image), *oc = read_f(r->frames[0].coverage);
            long no = 0;
            float *w = malloc((size_t)(oi->nx * oi->ny) * sizeof *w);
            for (long p = 0; p < oi->nx * oi->ny; p++)
                if (oc->data[p] > 0.3 && isfinite(oi->data[p])) w[no++] = oi->data[p];
            double sky_out = median_of(w, no);
            printf("  method %d: output sky %.5f MJy/sr over %ld pixels (rel %.2e)\n", method, sky_out, no,
                   sky_out / sky_in - 1);
            MXT_NEAR(sky_out / sky_in, 1.0, 0.01);
            free(w);
            mx_image_free(oi);
            mx_image_free(oc);
        }
        mx_interp_result_free(r);
        free(dir);
    }
}

/* ---- counts: BUNIT changed to DN ---------------------------------------------------- */

static void test_counts(void) {
    char *dn = tpath("frame_dn.fits"), *dsb = tpath("cnt_sb"), *ddn = tpath("cnt_dn");
    mx_image *img = read_f(frames[0]);
    MXT_OK(mx_header_set_string(img->hdr, "BUNIT", "DN", NULL));
    MXT_OK(mx_image_write(img, dn));
    mx_image_free(img);
    char *dnv[1] = {dn};
    mx_interp_inputs isb = inputs_for(1, frames, sigmas, masks), idn = inputs_for(1, dnv, sigmas, masks);
    mx_interp_opts osb = opts_for(1, dsb), odn = opts_for(1, ddn);
    mx_interp_result *rsb = NULL, *rdn = NULL;
    warn_hits = 0;
    mx_log_set_handler(count_warn, NULL);
    MXT_OK(mx_interp_run(&isb, &grid, &osb, &rsb));
    MXT_EQ_INT(warn_hits, 0);
    MXT_OK(mx_interp_run(&idn, &grid, &odn, &rdn));
    mx_log_set_handler(NULL, NULL);
    /* ours names the file (mx_unit_parse may add its own) */
    MXT_TRUE(warn_hits >= 1);
    MXT_TRUE(strstr(warn_last, "frame_dn.fits': BUNIT 'DN'") && strstr(warn_last, "interpolated as counts"));
    if (!rsb || !rdn) goto exit;
    MXT_EQ_INT(rdn->frames[0].counts, 1);
    MXT_EQ_INT(rsb->frames[0].counts, 0);
    /* counts are conserved: sum_j O_j cov_j = sum_i I_i */
    double plain;
    input_flux(0, &plain);
    double soc;
    output_flux(rdn->frames[0].image, rdn->frames[0].coverage, &soc);
    printf("counts: sum I = %.9g, sum O cov = %.9g (rel %.2e)\n", plain, soc, soc / plain - 1);
    MXT_NEAR(soc / plain, 1.0, 1e-6);
    /* and each pixel is the surface brightness times Omega_out / Omega_in */
    mx_image *a = read_f(rsb->frames[0].image), *b = read_f(rdn->frames[0].image);
    mx_image *in = read_f(frames[0]);
    mx_wcs *win = NULL, *wout = NULL;
    MXT_OK(mx_wcs_from_header(in->hdr, frames[0], &win));
    MXT_OK(mx_wcs_from_header(a->hdr, "sb", &wout));
    long p = a->nx / 2, q = a->ny / 2;
    double xo = (double)p, yo = (double)q, ra, de, xi, yi, ain, aout;
    mx_wcs_pix2sky(wout, 1, &xo, &yo, &ra, &de);
    mx_wcs_sky2pix(win, 1, &ra, &de, &xi, &yi);
    mx_wcs_pixel_area(win, xi, yi, &ain);
    mx_wcs_pixel_area(wout, xo, yo, &aout);
    MXT_NEAR(MX_PIX(b, p, q) / MX_PIX(a, p, q), aout / ain, 2e-3 * aout / ain);
    mx_wcs_free(win);
    mx_wcs_free(wout);
    mx_image_free(a);
    mx_image_free(b);
    mx_image_free(in);
exit:
    mx_interp_result_free(rsb);
    mx_interp_result_free(rdn);
    free(dn);
    free(dsb);
    free(ddn);
}

/* ---- names, misses, PMask, bright masks, errors -------------------------------------- */

static void test_edges(void) {
    /* two inputs with the same file name in different directories */
    char *sub = tpath("dup_dir");
    mx_mkdir_p(sub);
    char b[1024];
    mx_path_basename_noext(frames[0], b, sizeof b);
    char name[1100];
    snprintf(name, sizeof name, "%s.fits", b);
    char *copy = mx_path_join(sub, name);
    mx_image *img = read_f(frames[0]);
    MXT_OK(mx_image_write(img, copy));
    /* a frame moved 10 degrees away misses the grid */
    double crval1;
    MXT_OK(mx_header_get_double(img->hdr, "CRVAL1", &crval1));
    MXT_OK(mx_header_set_double(img->hdr, "CRVAL1", crval1 + 10, NULL));
    char *away = tpath("away_cbcd.fits");
    MXT_OK(mx_image_write(img, away));
    mx_image_free(img);

    char *dir = tpath("edges");
    char *imgs[3] = {frames[0], copy, away};
    char *sg[3] = {sigmas[0], sigmas[0], sigmas[0]}, *mk[3] = {masks[0], masks[0], masks[0]};
    mx_interp_inputs in = inputs_for(3, imgs, sg, mk);
    mx_interp_opts o = opts_for(1, dir);
    mx_interp_result *r = NULL;
    warn_hits = 0;
    mx_log_set_handler(count_warn, NULL);
    MXT_OK(mx_interp_run(&in, &grid, &o, &r));
    mx_log_set_handler(NULL, NULL);
    MXT_EQ_INT(warn_hits, 1);
    MXT_TRUE(strstr(warn_last, "away_cbcd.fits") && strstr(warn_last, "does not overlap"));
    if (r) {
        MXT_EQ_INT(r->nwritten, 2);
        MXT_EQ_INT(r->frames[2].written, 0);
        MXT_TRUE(r->frames[2].image == NULL);
        char want[1200];
        snprintf(want, sizeof want, "interp_1_%s.fits", b);
        MXT_TRUE(strstr(r->frames[0].image, want) != NULL);
        snprintf(want, sizeof want, "interp_2_%s.fits", b);
        MXT_TRUE(strstr(r->frames[1].image, want) != NULL);
        mx_image *x = read_f(r->frames[0].image), *y = read_f(r->frames[1].image);
        MXT_TRUE(memcmp(x->data, y->data, (size_t)(x->nx * x->ny) * sizeof(float)) == 0);
        mx_image_free(x);
        mx_image_free(y);
        mx_table *t = NULL;
        MXT_OK(mx_table_read_ipac(r->table, &t));
        MXT_EQ_INT(t ? t->nrows : 0, 2);
        mx_table_free(t);
    }
    mx_interp_result_free(r);
    /* only frames off the grid: an error */
    char *only[1] = {away};
    mx_interp_inputs ia = inputs_for(1, only, sg, mk);
    mx_log_set_handler(count_warn, NULL);
    MXT_FAILS(mx_interp_run(&ia, &grid, &o, NULL), MX_ERR_PARAM, "none of the 1 images overlaps");
    mx_log_set_handler(NULL, NULL);

    /* PMask: the wrong size is an error naming both files; a fatal bit masks */
    char *pm_small = tpath("pmask_small.fits"), *pm = tpath("pmask.fits");
    mx_image *p = NULL;
    MXT_OK(mx_image_new(128, 128, MX_IMG_INT, 16, 0, &p));
    MXT_OK(mx_image_write(p, pm_small));
    mx_image_free(p);
    MXT_OK(mx_image_new(256, 256, MX_IMG_INT, 16, 0, &p));
    for (int j = 0; j < 10; j++) MX_MPIX(p, 200, 50 + j) = 1024; /* bit 10: fatal in 32767 */
    MX_MPIX(p, 10, 10) = 32768;                                  /* bit 15: not fatal */
    MXT_OK(mx_image_write(p, pm));
    mx_image_free(p);
    mx_interp_inputs i1 = inputs_for(1, frames, sigmas, masks);
    i1.pmask = pm_small;
    MXT_FAILS(mx_interp_run(&i1, &grid, &o, NULL), MX_ERR_MISMATCH, "pmask_small.fits' is 128 x 128");
    i1.pmask = pm;
    r = NULL;
    MXT_OK(mx_interp_run(&i1, &grid, &o, &r));
    long base = count_usable(0, NULL, 0);
    if (r) MXT_EQ_INT(r->frames[0].nusable, base - 10);
    mx_interp_result_free(r);

    /* mask_bright: detection map > 0 is bad; without maps a warning */
    char *det = tpath("detmap.fits");
    mx_image *dm = NULL;
    MXT_OK(mx_image_new(256, 256, MX_IMG_FLOAT, -32, 0.0f, &dm));
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 5; i++) MX_PIX(dm, 30 + i, 200 + j) = 3.0f;
    MX_PIX(dm, 0, 0) = NAN;
    MXT_OK(mx_image_write(dm, det));
    mx_image_free(dm);
    char *dets[1] = {det};
    mx_interp_inputs i2 = inputs_for(1, frames, sigmas, masks);
    i2.bright_masks = (const char *const *)dets;
    o.mask_bright = 1;
    r = NULL;
    MXT_OK(mx_interp_run(&i2, &grid, &o, &r));
    if (r) MXT_EQ_INT(r->frames[0].nusable, base - 20);
    mx_interp_result_free(r);
    o.mask_bright = 0;
    r = NULL;
    MXT_OK(mx_interp_run(&i2, &grid, &o, &r));
    if (r) MXT_EQ_INT(r->frames[0].nusable, base);
    mx_interp_result_free(r);
    o.mask_bright = 1;
    i2.bright_masks = NULL;
    warn_hits = 0;
    mx_log_set_handler(count_warn, NULL);
    MXT_OK(mx_interp_run(&i2, &grid, &o, NULL));
    mx_log_set_handler(NULL, NULL);
    MXT_EQ_INT(warn_hits, 1);
    MXT_TRUE(strstr(warn_last, "mask_bright") != NULL);
    o.mask_bright = 0;

    /* a mask with a zero fatal pattern has no effect, and says so */
    mx_interp_opts oz = opts_for(1, dir);
    oz.dce_fatal = 0;
    r = NULL;
    warn_hits = 0;
    mx_log_set_handler(count_warn, NULL);
    MXT_OK(mx_interp_run(&i2, &grid, &oz, &r));
    mx_log_set_handler(NULL, NULL);
    MXT_EQ_INT(warn_hits, 1);
    MXT_TRUE(strstr(warn_last, "DCE_Status_Mask_Fatal_BitPattern is 0") != NULL);
    long finite = 0;
    mx_image *f0 = read_f(frames[0]), *s0 = read_f(sigmas[0]);
    for (long k = 0; k < f0->nx * f0->ny; k++)
        finite += isfinite(f0->data[k]) && isfinite(s0->data[k]) && s0->data[k] > 0;
    mx_image_free(f0);
    mx_image_free(s0);
    if (r) MXT_EQ_INT(r->frames[0].nusable, finite);
    mx_interp_result_free(r);

    /* Ctrl-C: the run stops before the next frame and writes no list */
    char *dint = tpath("interrupted");
    mx_interp_opts oi = opts_for(1, dint);
    mx_request_interrupt();
    MXT_FAILS(mx_interp_run(&i1, &grid, &oi, NULL), MX_ERR_INTERRUPTED, "interrupt");
    mx_clear_interrupt();
    char *lint = mx_path_join(dint, "interp_ImageList.txt");
    MXT_TRUE(!mx_file_exists(lint));
    free(lint);
    free(dint);

    /* a sigma of another size, and a bad method */
    char *sg2[1] = {pm_small};
    mx_interp_inputs i3 = inputs_for(1, frames, sg2, NULL);
    MXT_FAILS(mx_interp_run(&i3, &grid, &o, NULL), MX_ERR_MISMATCH, "uncertainty image");
    o.method = 5;
    MXT_FAILS(mx_interp_run(&i1, &grid, &o, NULL), MX_ERR_PARAM, "INTERP_METHOD");
    free(sub);
    free(copy);
    free(away);
    free(dir);
    free(pm_small);
    free(pm);
    free(det);
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int setup(void) {
    const char *d = getenv("MOPEX_TEST_DATA"), *t = getenv("MOPEX_TEST_TMP");
    if (!d) return 0;
    snprintf(data_dir, sizeof data_dir, "%s/gammit_grb120119a", d);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/interp", t ? t : "/tmp");
    struct stat sb;
    if (stat(data_dir, &sb) != 0) return 0;
    mx_mkdir_p(tmp_dir);
    const char *kinds[3] = {"cbcd", "cbunc", "bimsk"};
    char **dest[3] = {frames, sigmas, masks};
    for (int k = 0; k < 3; k++) {
        char lp[4200];
        snprintf(lp, sizeof lp, "%s/lists/ch1_%s.lst", data_dir, kinds[k]);
        /* the lists' entries are relative to the data folder */
        mx_list *l = NULL;
        if (mx_list_read(lp, 0, &l) != MX_OK || l->n != NFR) {
            fprintf(stderr, "cannot read %s: %s\n", lp, mx_errmsg());
            mx_list_free(l);
            return 0;
        }
        for (int i = 0; i < NFR; i++) dest[k][i] = mx_path_join(data_dir, l->raw[i]);
        mx_list_free(l);
    }
    /* the FIF over the 30 frames (north up), then the 0.6" grid */
    mx_fif fif;
    mx_fif_opts fo = {0.0, "TAN", "J2000", 0, 0.0, 0, 0};
    MXT_OK(mx_fif_compute(NFR, (const char *const *)frames, &fo, &fif, NULL, NULL));
    char *fp = tpath("FIF.tbl"), *mp = tpath("mosaic_fif.tbl");
    MXT_OK(mx_fif_write(&fif, NULL, fp));
    MXT_OK(mx_interp_grid(fp, -0.6 / 3600, 0.6 / 3600, NAN, NAN, mp, &grid));
    mx_fif back;
    MXT_OK(mx_fif_read(mp, &back));
    MXT_NEAR(back.cdelt[1], 0.6 / 3600, 1e-15);
    MXT_NEAR(back.cdelt[0], -0.6 / 3600, 1e-15);
    double f = fabs(fif.cdelt[1]) / (0.6 / 3600);
    MXT_EQ_INT(back.naxis[1], (long)ceil(fif.naxis[1] * f - 1e-9));
    MXT_NEAR(back.crpix[0], (fif.crpix[0] - 0.5) * fabs(fif.cdelt[0] / (0.6 / 3600)) + 0.5, 1e-9);
    printf("FIF %ld x %ld at %.4f\", mosaic grid %ld x %ld at 0.6\"\n", fif.naxis[0], fif.naxis[1],
           fif.cdelt[1] * 3600, grid.naxis[0], grid.naxis[1]);
    free(fp);
    free(mp);
    return 1;
}

int main(void) {
    MXT_RUN(test_names);
    mx_log_set_level(MX_LOG_WARN);
    if (!setup()) {
        mxt_skip("real data ($MOPEX_TEST_DATA/gammit_grb120119a) not found");
    }
    MXT_RUN(test_full_run);
    MXT_RUN(test_one_pixel);
    MXT_RUN(test_reinterp);
    MXT_RUN(test_methods_sky);
    MXT_RUN(test_counts);
    MXT_RUN(test_edges);
    for (int i = 0; i < NFR; i++) {
        free(frames[i]);
        free(sigmas[i]);
        free(masks[i]);
    }
    return mxt_summary();
}
