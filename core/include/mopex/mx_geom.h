/* mx_geom.h - exact 2-D geometry for resampling and photometry.
 *
 * Pure functions on doubles: no allocation, no global state, reentrant.
 *
 * PIXEL CONVENTION (algorithms.md section 0): pixel (i, j) is the unit square
 * [i-0.5, i+0.5] x [j-0.5, j+0.5], centred at (i, j), 0-based.
 *
 * Polygons are arrays of vertices in order around the boundary; either
 * orientation is accepted unless a function says otherwise, and areas are
 * returned as absolute values. The clipping functions are exact to rounding
 * for convex polygons (oracle O-7); non-convex subjects are not supported.
 *
 * The hot kernel is mx_poly_cells: every pixel a convex polygon overlaps,
 * with the exact overlap area (algorithms.md 4.2). Coordinates are first
 * shifted to the polygon's own first cell, so the arithmetic happens on
 * small numbers (no cancellation far from the origin). Then:
 *  - inside a single pixel: one shoelace;
 *  - over at most 4 x 4 pixels (any resampled pixel not much larger than
 *    the grid's): no clipping; by Green's theorem the area of the polygon
 *    left of x = X and below y = Y is the sum over its edges of the
 *    integral of min(x, X) dy along their parts with y <= Y, and the cells
 *    follow from these cumulative areas by inclusion-exclusion;
 *  - larger: strip clipping, the polygon cut by the lines x = c + 0.5 into
 *    column strips, each strip by y = r + 0.5 into cells, each cell's area
 *    by the shoelace formula.
 * All three agree with clipping against each pixel square to ~1e-14.
 */
#ifndef MX_GEOM_H
#define MX_GEOM_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_vec2 {
    double x, y;
} mx_vec2;

/* Largest polygon the clipping functions accept as input (either operand). */
#define MX_POLY_MAXIN 16

/* Shoelace area: signed (> 0 counter-clockwise) and absolute. n >= 3, else 0. */
double mx_poly_area_signed(const mx_vec2 *p, int n);
double mx_poly_area(const mx_vec2 *p, int n);

/* Sutherland-Hodgman against one half-plane: keeps the points p with
 * cross(b - a, p - a) >= 0, i.e. left of the directed line a -> b. `out`
 * needs n + 1 slots. Returns the number of output vertices (0 when
 * nothing is left). */
int mx_poly_clip_halfplane(const mx_vec2 *p, int n, mx_vec2 a, mx_vec2 b, mx_vec2 *out);

/* Intersection of polygon p with the convex polygon q (either orientation
 * each; 3 <= np, nq <= MX_POLY_MAXIN). `out` needs np + nq slots; the result
 * has the orientation of p made counter-clockwise. Returns the vertex count
 * (0: no overlap), or -1 when np or nq is out of range. */
int mx_poly_clip_convex(const mx_vec2 *p, int np, const mx_vec2 *q, int nq, mx_vec2 *out);

/* Overlap area of two convex polygons (oracle O-7: unit squares offset by
 * half a side -> 0.25; unit square vs the diamond |x|+|y| <= 1 -> 0.5).
 * NaN when np or nq is out of range. */
double mx_overlap_convex(const mx_vec2 *p, int np, const mx_vec2 *q, int nq);

/* ---- polygon against the pixel grid (the resampling kernel) ------------ */
typedef struct mx_cell {
    long i, j;      /* pixel column (x) and row (y) */
    double area;    /* exact overlap area, > 0, in pixel units */
} mx_cell;

/* Inclusive window of pixels to report (e.g. the image bounds); cells
 * outside are neither reported nor cost any clipping beyond one cut. */
typedef struct mx_cellwin {
    long i0, i1, j0, j1;
} mx_cellwin;

/* Every pixel of `win` (NULL: unbounded) that the convex polygon p (3 <= n
 * <= MX_POLY_MAXIN vertices, either orientation, finite coordinates)
 * overlaps with non-zero area, written to cells[0..count) column by column,
 * rows ascending within a column. The areas of all cells sum to the
 * polygon's area when the window contains it. Returns:
 *   count >= 0  on success;
 *   -need < 0   when `cap` may be too small: `need` is an upper bound of the
 *               count (cells of the polygon's bounding box inside the
 *               window); nothing was written;
 * (also returns 0 for n out of range or non-finite vertices). */
int mx_poly_cells(const mx_vec2 *p, int n, const mx_cellwin *win, mx_cell *cells, int cap);

/* The same, calling fn(i, j, area, ud) for each cell instead of storing
 * (no capacity limit). Returns the number of cells. */
typedef void (*mx_cell_fn)(long i, long j, double area, void *ud);
int mx_poly_cells_foreach(const mx_vec2 *p, int n, const mx_cellwin *win, mx_cell_fn fn,
                          void *ud);

/* ---- circles (aperture photometry) ------------------------------------ */
/* Exact area of the disc of radius r centred at the origin intersected with
 * the rectangle [x0, x1] x [y0, y1] (algorithms.md section 8): the
 * integral of the chord height clipped to [y0, y1], split at the points
 * where the circle crosses y0 and y1, with the closed-form primitive
 * G(t) = (t sqrt(r^2 - t^2) + r^2 asin(t / r)) / 2. 0 for r <= 0 or an
 * empty rectangle. */
double mx_circle_rect_area(double r, double x0, double x1, double y0, double y1);

/* Area of the disc (xc, yc, r) inside pixel (i, j) (oracle O-15: r = 1 on
 * a pixel centre -> 1 for that pixel, 0.456611477491 for an edge
 * neighbour, 0.078786685907 for a corner neighbour). Works in disc-centred
 * coordinates; whole pixels inside or outside are decided without
 * integration. */
double mx_circle_pixel_area(double xc, double yc, double r, long i, long j);

#ifdef __cplusplus
}
#endif
#endif
