/* test_stack.c - mx_stack: headers only at open, boxes from MINTOFFX/Y,
 * selection, region loads in stack order with the right pixels, synthetic
 * coverage, missing layers, band heights under a byte budget, parallel
 * tiles giving the same result for any thread count. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>

#include "mxtest.h"

static char dir[4096];

/* Pixel values that tell frame and grid position apart (exact in float). */
static float val(int f, long gx, long gy) { return (float)(100000 * f + 100 * gy + gx); }

static void write_frame(const char *name, int f, long x0, long y0, long nx, long ny, int offsets,
                        double exptime, const char *bunit, float constant) {
    mx_image *img = NULL;
    MXT_OK(mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &img));
    for (long j = 0; j < ny; j++)
        for (long i = 0; i < nx; i++)
            MX_PIX(img, i, j) = isnan(constant) ? val(f, x0 + i, y0 + j) : constant;
    if (offsets) {
        MXT_OK(mx_header_set_long(img->hdr, "MINTOFFX", x0, NULL));
        MXT_OK(mx_header_set_long(img->hdr, "MINTOFFY", y0, NULL));
    }
    if (exptime > 0) MXT_OK(mx_header_set_double(img->hdr, "EXPTIME", exptime, NULL));
    if (bunit) MXT_OK(mx_header_set_string(img->hdr, "BUNIT", bunit, NULL));
    char *p = mx_path_join(dir, name);
    MXT_OK(mx_image_write(img, p));
    free(p);
    mx_image_free(img);
}

static char *P(const char *name) { return mx_path_join(dir, name); }

static void test_open_select_load(void) {
    /* grid 40 x 30; frames: A (2,3) 10x8, B (5,0) 20x20, C (30,25) 10x5 */
    write_frame("a.fits", 0, 2, 3, 10, 8, 1, 10.0, "MJy/sr", NAN);
    write_frame("b.fits", 1, 5, 0, 20, 20, 1, 20.0, "MJy/sr", NAN);
    write_frame("c.fits", 2, 30, 25, 10, 5, 1, 30.0, "MJy/sr", NAN);
    /* coverage of b without offsets but with b's size: shares b's box */
    write_frame("b_cov.fits", 0, 0, 0, 20, 20, 0, 0, NULL, 0.5f);
    write_frame("a_cov.fits", 0, 2, 3, 10, 8, 1, 0, NULL, 0.25f);
    write_frame("c_cov.fits", 0, 30, 25, 10, 5, 1, 0, NULL, 1.0f);
    char *img[3] = {P("a.fits"), P("b.fits"), P("c.fits")};
    char *cov[3] = {P("a_cov.fits"), P("b_cov.fits"), P("c_cov.fits")};
    char *ex[3] = {NULL, P("b.fits"), NULL};
    mx_stack_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = 3;
    sp.images = (const char *const *)img;
    sp.coverages = (const char *const *)cov;
    sp.nextra = 1;
    sp.extra_names[0] = "outlier map";
    sp.extras[0] = (const char *const *)ex;
    sp.time_keyword = "EXPTIME";
    sp.naxis1 = 40;
    sp.naxis2 = 30;
    mx_stack *s = NULL;
    MXT_OK(mx_stack_open(&sp, &s));
    MXT_EQ_INT(mx_stack_count(s), 3);
    const mx_stack_frame *f = mx_stack_frame_at(s, 1);
    MXT_EQ_INT(f->x0, 5); MXT_EQ_INT(f->y0, 0); MXT_EQ_INT(f->nx, 20); MXT_EQ_INT(f->ny, 20);
    MXT_NEAR(f->time, 20.0, 0);
    MXT_NEAR(mx_stack_frame_at(s, 2)->time, 30.0, 0);
    MXT_EQ_STR(mx_stack_bunit(s), "MJy/sr");
    MXT_TRUE(mx_stack_has(s, MX_LAYER_COVERAGE));
    MXT_TRUE(!mx_stack_has(s, MX_LAYER_SIGMA));
    MXT_TRUE(mx_stack_frame_at(s, 3) == NULL);

    int idx[3];
    MXT_EQ_INT(mx_stack_select(s, 0, 0, 5, 30, idx), 1);  /* only A reaches x < 5 */
    MXT_EQ_INT(idx[0], 0);
    MXT_EQ_INT(mx_stack_select(s, 8, 5, 2, 2, idx), 2);
    MXT_EQ_INT(idx[0], 0); MXT_EQ_INT(idx[1], 1);
    MXT_EQ_INT(mx_stack_select(s, 25, 20, 5, 5, idx), 0);  /* gap between B and C */
    MXT_EQ_INT(mx_stack_select(s, 0, 0, 40, 30, idx), 3);

    /* bytes: A∩R, B∩R for R = [0,10) x [0,10): A 8x7, B 5x10, 3 layers loaded */
    MXT_EQ_INT(mx_stack_rect_bytes(s, 0, 0, 10, 10, MX_STACK_IMAGE | MX_STACK_COVERAGE | MX_STACK_EXTRA(0)),
               (8 * 7 + 5 * 10) * 3 * 4);
    /* sigma requested but absent: not counted */
    MXT_EQ_INT(mx_stack_rect_bytes(s, 0, 0, 10, 10, MX_STACK_IMAGE | MX_STACK_SIGMA), (8 * 7 + 5 * 10) * 4);

    mx_stack_load ld;
    mx_stack_load_init(&ld);
    MXT_OK(mx_stack_load_rect(s, 0, 0, 10, 10, MX_STACK_IMAGE | MX_STACK_COVERAGE | MX_STACK_SIGMA |
                                                    MX_STACK_EXTRA(0), &ld));
    MXT_EQ_INT(ld.n, 2);
    MXT_EQ_INT(ld.slices[0].frame, 0);
    MXT_EQ_INT(ld.slices[0].x0, 2); MXT_EQ_INT(ld.slices[0].y0, 3);
    MXT_EQ_INT(ld.slices[0].nx, 8); MXT_EQ_INT(ld.slices[0].ny, 7);
    MXT_EQ_INT(ld.slices[1].frame, 1);
    MXT_EQ_INT(ld.slices[1].x0, 5); MXT_EQ_INT(ld.slices[1].y0, 0);
    MXT_EQ_INT(ld.slices[1].nx, 5); MXT_EQ_INT(ld.slices[1].ny, 10);
    MXT_TRUE(ld.slices[0].layer[MX_LAYER_SIGMA] == NULL);
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        const mx_stack_slice *sl = &ld.slices[k];
        for (long j = 0; j < sl->ny; j++)
            for (long i = 0; i < sl->nx; i++) {
                size_t q = (size_t)j * sl->nx + i;
                if (sl->layer[MX_LAYER_IMAGE][q] != val(sl->frame, sl->x0 + i, sl->y0 + j)) bad++;
                if (sl->layer[MX_LAYER_COVERAGE][q] != (k == 0 ? 0.25f : 0.5f)) bad++;
                float e = sl->layer[MX_LAYER_EXTRA0][q];
                if (k == 0 ? !isnan(e) : e != val(1, sl->x0 + i, sl->y0 + j)) bad++;
            }
    }
    MXT_EQ_INT(bad, 0);
    MXT_NEAR(ld.slices[1].time, 20.0, 0);
    /* the same load object serves another rectangle */
    MXT_OK(mx_stack_load_rect(s, 31, 26, 2, 2, MX_STACK_IMAGE, &ld));
    MXT_EQ_INT(ld.n, 1);
    MXT_EQ_INT(ld.slices[0].frame, 2);
    MXT_NEAR(ld.slices[0].layer[MX_LAYER_IMAGE][3], val(2, 32, 27), 0);
    MXT_TRUE(ld.slices[0].layer[MX_LAYER_COVERAGE] == NULL);
    MXT_OK(mx_stack_load_rect(s, 25, 20, 5, 5, MX_STACK_IMAGE, &ld));
    MXT_EQ_INT(ld.n, 0);
    MXT_FAILS(mx_stack_load_rect(s, 0, 0, 0, 5, MX_STACK_IMAGE, &ld), MX_ERR_PARAM, "0 x 5");
    mx_stack_load_release(&ld);

    /* band heights: tile 10 x 10 at 0,0: per row A 8 + B 5 = 13 px x 2 layers x 4 B = 104 B */
    mx_tile t = {1, 0, 0, 10, 10};
    unsigned L2 = MX_STACK_IMAGE | MX_STACK_COVERAGE;
    MXT_EQ_INT(mx_stack_band_rows(s, &t, L2, 0, 0), 10);
    MXT_EQ_INT(mx_stack_band_rows(s, &t, L2, 0, 104 * 3), 3);
    MXT_EQ_INT(mx_stack_band_rows(s, &t, L2, 0, 50), 1);
    MXT_EQ_INT(mx_stack_band_rows(s, &t, L2, 0, 1000000), 10);
    MXT_EQ_INT(mx_stack_band_rows(s, &t, L2, 8, (104 + 80) * 4), 4); /* + 8 B per band pixel */
    /* the whole grid: the fullest rows (3-10) hold A 10 + B 20 px; C (rows
     * 25-29) never shares a row with B, so it does not count: 30 px x 8 B */
    mx_tile whole = {2, 0, 0, 40, 30};
    MXT_EQ_INT(mx_stack_band_rows(s, &whole, L2, 0, 240 * 5), 5);
    MXT_EQ_INT(mx_stack_band_rows(s, &whole, L2, 0, 240 * 5 - 1), 4);

    mx_tile *tiles = NULL;
    int nt = 0;
    MXT_OK(mx_stack_tiling(s, 15, 15, &tiles, &nt));
    MXT_EQ_INT(nt, 6); /* 40/15 = 2 r 10 > 7 -> 3 tiles of 13 (last 14); 30/15 = 2 tiles */
    MXT_EQ_INT(tiles[2].nx, 14);
    free(tiles);
    mx_stack_free(s);
    for (int k = 0; k < 3; k++) {
        free(img[k]);
        free(cov[k]);
        free(ex[k]);
    }
}

static void test_errors(void) {
    write_frame("d.fits", 0, 0, 0, 7, 5, 0, 0, NULL, 1.0f);         /* no offsets, not grid size */
    write_frame("e.fits", 0, 1, 1, 7, 5, 1, 0, NULL, 1.0f);         /* no EXPTIME */
    write_frame("e_cov.fits", 0, 0, 0, 6, 5, 0, 0, NULL, 1.0f);     /* wrong size, no offsets */
    char *d = P("d.fits"), *e = P("e.fits"), *ec = P("e_cov.fits"), *none = P("none.fits");
    mx_stack_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = 1;
    sp.naxis1 = 20;
    sp.naxis2 = 20;
    mx_stack *s = NULL;
    sp.images = (const char *const *)&d;
    MXT_FAILS(mx_stack_open(&sp, &s), MX_ERR_NOTFOUND, "d.fits' (frame 1): no MINTOFFX/MINTOFFY");
    sp.images = (const char *const *)&e;
    sp.time_keyword = "EXPTIME";
    MXT_FAILS(mx_stack_open(&sp, &s), MX_ERR_NOTFOUND, "e.fits' (frame 1) has no EXPTIME keyword");
    sp.time_keyword = NULL;
    sp.coverages = (const char *const *)&ec;
    MXT_FAILS(mx_stack_open(&sp, &s), MX_ERR_NOTFOUND, "coverage map");
    sp.coverages = NULL;
    sp.images = (const char *const *)&none;
    MXT_FAILS(mx_stack_open(&sp, &s), MX_ERR_IO, "none.fits");
    /* a grid-sized frame without offsets sits at 0, 0 */
    write_frame("g.fits", 0, 0, 0, 20, 20, 0, 0, NULL, 2.0f);
    char *g = P("g.fits");
    sp.images = (const char *const *)&g;
    MXT_OK(mx_stack_open(&sp, &s));
    MXT_EQ_INT(mx_stack_frame_at(s, 0)->x0, 0);
    MXT_EQ_INT(mx_stack_frame_at(s, 0)->nx, 20);
    MXT_TRUE(isnan(mx_stack_frame_at(s, 0)->time));
    /* no coverage maps: coverage loads as 1 */
    mx_stack_load ld;
    mx_stack_load_init(&ld);
    MXT_OK(mx_stack_load_rect(s, 18, 18, 5, 5, MX_STACK_IMAGE | MX_STACK_COVERAGE, &ld));
    MXT_EQ_INT(ld.n, 1);
    MXT_EQ_INT(ld.slices[0].nx, 2);
    MXT_NEAR(ld.slices[0].layer[MX_LAYER_COVERAGE][3], 1.0, 0);
    MXT_NEAR(ld.slices[0].layer[MX_LAYER_IMAGE][3], 2.0, 0);
    mx_stack_load_release(&ld);
    mx_stack_free(s);
    free(d);
    free(e);
    free(ec);
    free(none);
    free(g);
}

/* Parallel tiles: each tile sums its image values per pixel in stack order
 * (the pattern every module follows); any thread count, same bits. */
typedef struct {
    double *out; /* grid */
    long naxis1;
} sum_ctx;

static int sum_tile(const mx_stack *s, const mx_tile *t, mx_stack_load *ld, size_t budget, int thread,
                    void *vctx) {
    (void)thread;
    sum_ctx *c = vctx;
    long rows = mx_stack_band_rows(s, t, MX_STACK_IMAGE, 0, budget);
    for (long by = 0; by < t->ny; by += rows) {
        long h = rows < t->ny - by ? rows : t->ny - by;
        int st = mx_stack_load_rect(s, t->x0, t->y0 + by, t->nx, h, MX_STACK_IMAGE, ld);
        if (st != MX_OK) return st;
        for (int k = 0; k < ld->n; k++) {
            const mx_stack_slice *sl = &ld->slices[k];
            for (long j = 0; j < sl->ny; j++)
                for (long i = 0; i < sl->nx; i++) {
                    double v = sl->layer[MX_LAYER_IMAGE][j * sl->nx + i];
                    c->out[(sl->y0 + j) * c->naxis1 + sl->x0 + i] += v * 1e-3 + 0.1;
                }
        }
    }
    return MX_OK;
}

static void test_run_tiles(void) {
    enum { N = 9 };
    char *img[N];
    unsigned seed = 7;
    for (int f = 0; f < N; f++) {
        char name[32];
        snprintf(name, sizeof name, "r%d.fits", f);
        seed = seed * 1103515245u + 12345u;
        long x0 = (long)(seed >> 16) % 50, y0 = (long)(seed >> 8) % 40;
        write_frame(name, f, x0, y0, 23 + f, 17 + 2 * f, 1, 0, NULL, NAN);
        img[f] = P(name);
    }
    mx_stack_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = N;
    sp.images = (const char *const *)img;
    sp.naxis1 = 77;
    sp.naxis2 = 61;
    mx_stack *s = NULL;
    MXT_OK(mx_stack_open(&sp, &s));
    double *ref = calloc(77 * 61, sizeof *ref), *got = calloc(77 * 61, sizeof *got);
    /* reference: frames one by one in order, whole frame */
    for (int f = 0; f < N; f++) {
        const mx_stack_frame *fr = mx_stack_frame_at(s, f);
        for (long j = 0; j < fr->ny; j++)
            for (long i = 0; i < fr->nx; i++) {
                long gx = fr->x0 + i, gy = fr->y0 + j;
                if (gx < 77 && gy < 61) ref[gy * 77 + gx] += (double)val(f, gx, gy) * 1e-3 + 0.1;
            }
    }
    int configs[3][3] = {{1, 1000, 1000}, {4, 10, 13}, {3, 30, 7}};
    for (int c = 0; c < 3; c++) {
        mx_set_threads(configs[c][0]);
        memset(got, 0, 77 * 61 * sizeof *got);
        mx_tile *tiles = NULL;
        int nt = 0;
        MXT_OK(mx_stack_tiling(s, configs[c][1], configs[c][2], &tiles, &nt));
        sum_ctx sc = {got, 77};
        /* a budget of 200 bytes per thread forces bands of a row or two */
        MXT_OK(mx_stack_run_tiles(s, tiles, nt, c == 0 ? 0 : 200 * (size_t)configs[c][0], NULL, sum_tile, &sc));
        MXT_TRUE(memcmp(ref, got, 77 * 61 * sizeof *got) == 0);
        free(tiles);
    }
    mx_set_threads(0);
    free(ref);
    free(got);
    mx_stack_free(s);
    for (int f = 0; f < N; f++) free(img[f]);
}


/* Open descriptors of this process (/proc/self/fd entries). */
static int open_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

/* A deep stack: 70 frames x 2 layers over the same rectangle. Loads keep
 * the files of the last one open for the next, but never more than the
 * descriptor limit allows: with the soft limit at 64 nothing is kept and
 * two loads still read every pixel. */
static void test_deep_stack_descriptors(void) {
    enum { NF = 70 };
    char *img[NF], *cov[NF];
    for (int f = 0; f < NF; f++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "deep_%02d.fits", f);
        snprintf(b, sizeof b, "deep_%02d_cov.fits", f);
        write_frame(a, f, 1, 1, 12, 10, 1, 0, "MJy/sr", NAN);
        write_frame(b, 0, 1, 1, 12, 10, 1, 0, NULL, 1.0f);
        img[f] = P(a);
        cov[f] = P(b);
    }
    mx_stack_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = NF;
    sp.images = (const char *const *)img;
    sp.coverages = (const char *const *)cov;
    sp.naxis1 = 14;
    sp.naxis2 = 12;
    mx_stack *s = NULL;
    MXT_OK(mx_stack_open(&sp, &s));
    struct rlimit old, low;
    MXT_TRUE(getrlimit(RLIMIT_NOFILE, &old) == 0);
    for (int pass = 0; pass < 2 && s; pass++) {
        if (pass == 1) { /* a tight limit: 64 descriptors in all */
            low = old;
            low.rlim_cur = 64;
            MXT_TRUE(setrlimit(RLIMIT_NOFILE, &low) == 0);
        }
        int before = open_fds();
        mx_stack_load ld;
        mx_stack_load_init(&ld);
        int bad = 0;
        for (int band = 0; band < 2; band++) {
            MXT_OK(mx_stack_load_rect(s, 0, 5 * band, 14, 5, MX_STACK_IMAGE | MX_STACK_COVERAGE, &ld));
            MXT_EQ_INT(ld.n, NF);
            for (int k = 0; k < ld.n; k++) {
                const mx_stack_slice *sl = &ld.slices[k];
                for (long j = 0; j < sl->ny; j++)
                    for (long i = 0; i < sl->nx; i++) {
                        size_t q = (size_t)j * sl->nx + i;
                        if (sl->layer[MX_LAYER_IMAGE][q] != val(sl->frame, sl->x0 + i, sl->y0 + j)) bad++;
                        if (sl->layer[MX_LAYER_COVERAGE][q] != 1.0f) bad++;
                    }
            }
            int kept = open_fds() - before;
            MXT_CHECK(kept <= (pass == 0 ? 128 : 0), "pass %d: %d files kept open", pass, kept);
        }
        MXT_EQ_INT(bad, 0);
        mx_stack_load_release(&ld);
        MXT_EQ_INT(open_fds(), before);
    }
    MXT_TRUE(setrlimit(RLIMIT_NOFILE, &old) == 0);
    mx_stack_free(s);
    for (int f = 0; f < NF; f++) free(img[f]), free(cov[f]);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", mxt_tmp_dir("test_stack"));
    MXT_RUN(test_open_select_load);
    MXT_RUN(test_errors);
    MXT_RUN(test_run_tiles);
    MXT_RUN(test_deep_stack_descriptors);
    return mxt_summary();
}
