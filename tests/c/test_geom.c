/* test_geom.c - polygon clipping, polygon-grid overlap, circle overlap
 * (oracles O-7 and O-15 of algorithms.md section 12). */
#include "mxtest.h"
#include "mopex/mx_geom.h"

static void square(double cx, double cy, double h, mx_vec2 *q) {
    q[0] = (mx_vec2){cx - h, cy - h};
    q[1] = (mx_vec2){cx + h, cy - h};
    q[2] = (mx_vec2){cx + h, cy + h};
    q[3] = (mx_vec2){cx - h, cy + h};
}

/* Deterministic uniform numbers in [0, 1) (splitmix64). */
static unsigned long long rng_state = 12345;
static double urand(void) {
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static void test_area_and_clip_o7(void) {
    mx_vec2 a[4], b[4], far[4];
    square(0.5, 0.5, 0.5, a);
    square(1.0, 1.0, 0.5, b);
    MXT_NEAR(mx_poly_area_signed(a, 4), 1.0, 0);
    MXT_NEAR(mx_overlap_convex(a, 4, b, 4), 0.25, 1e-15);
    mx_vec2 diamond[4] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
    MXT_NEAR(mx_overlap_convex(a, 4, diamond, 4), 0.5, 1e-15);
    square(3, 3, 0.5, far);
    MXT_NEAR(mx_overlap_convex(a, 4, far, 4), 0.0, 0);
    /* Clockwise operands give the same areas. */
    mx_vec2 cw[4] = {a[3], a[2], a[1], a[0]};
    MXT_NEAR(mx_poly_area_signed(cw, 4), -1.0, 0);
    MXT_NEAR(mx_overlap_convex(cw, 4, b, 4), 0.25, 1e-15);
    MXT_NEAR(mx_overlap_convex(b, 4, cw, 4), 0.25, 1e-15);
    /* Far from the origin the answer does not degrade. */
    mx_vec2 a2[4], b2[4];
    square(1e7 + 0.5, -3e6 + 0.5, 0.5, a2);
    square(1e7 + 1.0, -3e6 + 1.0, 0.5, b2);
    MXT_NEAR(mx_overlap_convex(a2, 4, b2, 4), 0.25, 1e-9);
    /* Touching squares share an edge only. */
    mx_vec2 t[4];
    square(1.5, 0.5, 0.5, t);
    MXT_NEAR(mx_overlap_convex(a, 4, t, 4), 0.0, 0);
    /* Half-plane clip: the left of an upward line at x = 0.3 is x <= 0.3. */
    mx_vec2 out[5];
    int n = mx_poly_clip_halfplane(a, 4, (mx_vec2){0.3, 0}, (mx_vec2){0.3, 1}, out);
    MXT_EQ_INT(n, 4);
    MXT_NEAR(mx_poly_area(out, n), 0.3, 1e-15);
    n = mx_poly_clip_halfplane(a, 4, (mx_vec2){0.3, 1}, (mx_vec2){0.3, 0}, out);
    MXT_EQ_INT(n, 4);
    MXT_NEAR(mx_poly_area(out, n), 0.7, 1e-15);
    /* Out of range sizes. */
    MXT_TRUE(isnan(mx_overlap_convex(a, 2, b, 4)));
    MXT_EQ_INT(mx_poly_clip_convex(a, 4, b, MX_POLY_MAXIN + 1, out), -1);
    /* Triangle inside a square: its own area. */
    mx_vec2 tri[3] = {{0.1, 0.1}, {0.9, 0.2}, {0.4, 0.8}};
    MXT_NEAR(mx_overlap_convex(tri, 3, a, 4), mx_poly_area(tri, 3), 1e-15);
    MXT_NEAR(mx_poly_area(tri, 3), 0.5 * fabs(0.8 * 0.7 - 0.3 * 0.1), 1e-15);
}

/* Brute force: clip against every pixel square of the bounding box. */
static double brute_cell(const mx_vec2 *p, int n, long i, long j) {
    mx_vec2 sq[4];
    square((double)i, (double)j, 0.5, sq);
    return mx_overlap_convex(p, n, sq, 4);
}

static void random_convex_quad(double cx, double cy, double size, mx_vec2 *q) {
    /* A jittered, rotated, sheared square: always convex. */
    double th = 2 * M_PI * urand(), sh = 0.6 * (urand() - 0.5);
    double sx = size * (0.5 + urand()), sy = size * (0.5 + urand());
    double base[4][2] = {{-0.5, -0.5}, {0.5, -0.5}, {0.5, 0.5}, {-0.5, 0.5}};
    for (int k = 0; k < 4; k++) {
        double u = base[k][0] * sx + sh * base[k][1] * sy, v = base[k][1] * sy;
        q[k].x = cx + cos(th) * u - sin(th) * v;
        q[k].y = cy + sin(th) * u + cos(th) * v;
    }
}

static void test_poly_cells_vs_brute_force(void) {
    mx_cell cells[256];
    double worst = 0, worst_sum = 0;
    int missing = 0, window_bad = 0;
    for (int trial = 0; trial < 400; trial++) {
        mx_vec2 q[4];
        double size = trial < 200 ? 0.1 + 0.6 * urand() : 0.5 + 4.0 * urand();
        random_convex_quad(100 * urand() - 50, 100 * urand() - 50, size, q);
        int n = mx_poly_cells(q, 4, NULL, cells, 256);
        MXT_TRUE(n > 0);
        double sum = 0;
        for (int k = 0; k < n; k++) {
            sum += cells[k].area;
            double b = brute_cell(q, 4, cells[k].i, cells[k].j);
            worst = fmax(worst, fabs(b - cells[k].area));
        }
        worst_sum = fmax(worst_sum, fabs(sum - mx_poly_area(q, 4)));
        /* A window reports exactly the cells inside it, with the same areas. */
        mx_cell wc[256];
        long ci = cells[0].i, cj = cells[0].j;
        mx_cellwin win = {ci + (trial % 3) - 1, ci + (trial % 2), cj - (trial % 2), cj + 1};
        int nw = mx_poly_cells(q, 4, &win, wc, 256), expect = 0;
        for (int k = 0; k < n; k++) {
            int in = cells[k].i >= win.i0 && cells[k].i <= win.i1 && cells[k].j >= win.j0 &&
                     cells[k].j <= win.j1;
            if (!in) continue;
            expect++;
            int found = 0;
            for (int m = 0; m < nw; m++)
                if (wc[m].i == cells[k].i && wc[m].j == cells[k].j)
                    found = fabs(wc[m].area - cells[k].area) < 1e-15;
            window_bad += !found;
        }
        window_bad += nw != expect;
        /* No cell with a real overlap is missing. */
        long i0 = (long)floor(q[0].x) - 6, j0 = (long)floor(q[0].y) - 6;
        for (long i = i0; i < i0 + 13; i++)
            for (long j = j0; j < j0 + 13; j++) {
                double b = brute_cell(q, 4, i, j);
                if (b <= 1e-13) continue;
                int found = 0;
                for (int k = 0; k < n; k++) found |= cells[k].i == i && cells[k].j == j;
                missing += !found;
            }
    }
    MXT_TRUE(worst < 1e-13);
    MXT_TRUE(worst_sum < 1e-13);
    MXT_EQ_INT(missing, 0);
    MXT_EQ_INT(window_bad, 0);
    fprintf(stderr, "  poly_cells vs brute force: max cell diff %.2e, max sum diff %.2e\n", worst,
            worst_sum);
}

static void test_poly_cells_exact_cases(void) {
    mx_cell cells[64];
    /* A pixel-sized square aligned with the grid: exactly one cell, no slivers. */
    mx_vec2 q[4];
    square(3, 4, 0.5, q);
    int n = mx_poly_cells(q, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 1);
    MXT_EQ_INT(cells[0].i, 3);
    MXT_EQ_INT(cells[0].j, 4);
    MXT_NEAR(cells[0].area, 1.0, 0);
    /* Centred on a corner: four quarters. */
    square(3.5, 4.5, 0.5, q);
    n = mx_poly_cells(q, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 4);
    for (int k = 0; k < n; k++) MXT_NEAR(cells[k].area, 0.25, 1e-15);
    /* O-8: shift 0.3 -> 0.49, 0.21, 0.21, 0.09. */
    square(1.3, 1.3, 0.5, q);
    n = mx_poly_cells(q, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 4);
    double w[2][2] = {{0}};
    for (int k = 0; k < n; k++) w[cells[k].i - 1][cells[k].j - 1] = cells[k].area;
    MXT_NEAR(w[0][0], 0.49, 1e-15);
    MXT_NEAR(w[1][0], 0.21, 1e-15);
    MXT_NEAR(w[0][1], 0.21, 1e-15);
    MXT_NEAR(w[1][1], 0.09, 1e-15);
    /* O-8: unit square rotated 45 degrees on a pixel centre: centre 2 sqrt2 - 2,
     * edge neighbours (3 - 2 sqrt2)/4, no corner cells. */
    double rt = sqrt(0.5);
    mx_vec2 dia[4] = {{rt, 0}, {0, rt}, {-rt, 0}, {0, -rt}};
    n = mx_poly_cells(dia, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 5);
    for (int k = 0; k < n; k++) {
        if (cells[k].i == 0 && cells[k].j == 0) MXT_NEAR(cells[k].area, 0.828427125, 1e-9);
        else {
            MXT_NEAR(cells[k].area, 0.042893219, 1e-9);
            MXT_EQ_INT(labs(cells[k].i) + labs(cells[k].j), 1);
        }
    }
    /* Rotated on a corner: four cells of 0.25. */
    mx_vec2 dia2[4] = {{0.5 + rt, 0.5}, {0.5, 0.5 + rt}, {0.5 - rt, 0.5}, {0.5, 0.5 - rt}};
    n = mx_poly_cells(dia2, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 4);
    for (int k = 0; k < n; k++) MXT_NEAR(cells[k].area, 0.25, 1e-15);
    /* Tiny quad inside one pixel: the single-cell path. */
    square(7.1, -2.2, 0.1, q);
    n = mx_poly_cells(q, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 1);
    MXT_EQ_INT(cells[0].i, 7);
    MXT_EQ_INT(cells[0].j, -2);
    MXT_NEAR(cells[0].area, 0.04, 1e-15);
    /* Far from the origin: exact areas still. */
    square(1e6 + 1.3, 2e6 + 1.3, 0.5, q);
    n = mx_poly_cells(q, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 4);
    double s = 0;
    for (int k = 0; k < n; k++)
        if (cells[k].i == 1000001 && cells[k].j == 2000001) s = cells[k].area;
    MXT_NEAR(s, 0.49, 1e-9);
}

static void test_poly_cells_window_and_capacity(void) {
    mx_cell cells[64];
    mx_vec2 q[4];
    square(0, 0, 2.0, q); /* covers [-2, 2]^2: 25 cells (edge ones halves/quarters) */
    int n = mx_poly_cells(q, 4, NULL, cells, 64);
    MXT_EQ_INT(n, 25);
    double s = 0;
    for (int k = 0; k < n; k++) s += cells[k].area;
    MXT_NEAR(s, 16.0, 1e-13);
    mx_cellwin win = {0, 10, -1, 0};
    n = mx_poly_cells(q, 4, &win, cells, 64);
    MXT_EQ_INT(n, 6); /* columns 0..2, rows -1..0 */
    s = 0;
    for (int k = 0; k < n; k++) {
        MXT_TRUE(cells[k].i >= 0 && cells[k].i <= 2 && cells[k].j >= -1 && cells[k].j <= 0);
        s += cells[k].area;
    }
    MXT_NEAR(s, 2.5 * 2.0, 1e-13); /* x in [-0.5, 2], y in [-1.5, 0.5] */
    MXT_EQ_INT(mx_poly_cells(q, 4, NULL, cells, 10), -25);
    mx_cellwin off = {5, 9, 5, 9};
    MXT_EQ_INT(mx_poly_cells(q, 4, &off, cells, 64), 0);
    mx_vec2 bad[4] = {{0, 0}, {NAN, 0}, {1, 1}, {0, 1}};
    MXT_EQ_INT(mx_poly_cells(bad, 4, NULL, cells, 64), 0);
}

static void sum_cb(long i, long j, double a, void *ud) {
    double *acc = ud;
    acc[0] += a;
    acc[1] += 1;
    acc[2] += (double)(i * 1000 + j) * a;
}

static void test_poly_cells_foreach(void) {
    mx_vec2 q[4];
    random_convex_quad(10.2, -3.7, 9.0, q);
    double acc[3] = {0, 0, 0};
    int n = mx_poly_cells_foreach(q, 4, NULL, sum_cb, acc);
    MXT_TRUE(n > 40);
    MXT_EQ_INT(acc[1], n);
    MXT_NEAR(acc[0], mx_poly_area(q, 4), 1e-12);
    mx_cell *cells = malloc(400 * sizeof *cells);
    int m = mx_poly_cells(q, 4, NULL, cells, 400);
    MXT_EQ_INT(m, n);
    double chk = 0;
    for (int k = 0; k < m; k++) chk += (double)(cells[k].i * 1000 + cells[k].j) * cells[k].area;
    MXT_NEAR(chk, acc[2], 1e-6);
    free(cells);
}

static void test_circle_o15(void) {
    MXT_NEAR(mx_circle_pixel_area(0, 0, 1, 0, 0), 1.0, 1e-15);
    MXT_NEAR(mx_circle_pixel_area(0, 0, 1, 1, 0), 0.456611477491, 1e-12);
    MXT_NEAR(mx_circle_pixel_area(0, 0, 1, 0, -1), 0.456611477491, 1e-12);
    MXT_NEAR(mx_circle_pixel_area(0, 0, 1, 1, 1), 0.078786685907, 1e-12);
    MXT_NEAR(mx_circle_pixel_area(0, 0, 1, -1, 1), 0.078786685907, 1e-12);
    MXT_NEAR(mx_circle_pixel_area(0, 0, 0.5, 0, 0), M_PI / 4, 1e-15);
    for (int i = 0; i <= 1; i++)
        for (int j = 0; j <= 1; j++) MXT_NEAR(mx_circle_pixel_area(0.5, 0.5, 1, i, j), M_PI / 4, 1e-14);
    MXT_NEAR(mx_circle_pixel_area(0, 0, 1, 2, 0), 0.0, 0);
    /* r = 3 at (10.3, 10.7): 9 pi. */
    double s = 0;
    for (int i = 0; i < 21; i++)
        for (int j = 0; j < 21; j++) s += mx_circle_pixel_area(10.3, 10.7, 3, i, j);
    MXT_NEAR(s, 28.274333882308, 1e-12);
    /* Random discs: the pixel areas sum to pi r^2. */
    double worst = 0;
    for (int t = 0; t < 200; t++) {
        double xc = 5 + urand(), yc = 5 + urand(), r = 0.1 + 3.9 * urand();
        double sum = 0;
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 12; j++) sum += mx_circle_pixel_area(xc, yc, r, i, j);
        worst = fmax(worst, fabs(sum - M_PI * r * r));
    }
    MXT_TRUE(worst < 1e-12);
    /* A large disc far from the origin. */
    double xc = 1234.37, yc = -876.21, r = 25;
    double sum = 0;
    for (long i = 1200; i <= 1270; i++)
        for (long j = -910; j <= -840; j++) sum += mx_circle_pixel_area(xc, yc, r, i, j);
    MXT_NEAR(sum, M_PI * r * r, 1e-10);
    fprintf(stderr, "  circle: max |sum - pi r^2| over 200 discs %.2e, r=25: %.2e\n", worst,
            fabs(sum - M_PI * r * r));
    /* Rectangle form: quarter disc, and a strip through the middle. */
    MXT_NEAR(mx_circle_rect_area(2, 0, 5, 0, 5), M_PI, 1e-14);
    MXT_NEAR(mx_circle_rect_area(1, -0.5, 0.5, -2, 2),
             2 * (0.5 * sqrt(0.75) + asin(0.5)), 1e-14);
    MXT_NEAR(mx_circle_rect_area(0, -1, 1, -1, 1), 0.0, 0);
}

int main(void) {
    MXT_RUN(test_area_and_clip_o7);
    MXT_RUN(test_poly_cells_vs_brute_force);
    MXT_RUN(test_poly_cells_exact_cases);
    MXT_RUN(test_poly_cells_window_and_capacity);
    MXT_RUN(test_poly_cells_foreach);
    MXT_RUN(test_circle_o15);
    return mxt_summary();
}
