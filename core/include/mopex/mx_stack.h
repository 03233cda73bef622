/* mx_stack.h - a stack of frames on the mosaic grid, read tile by tile.
 *
 * The reusable core of every module that combines many frames pixel by
 * pixel on the mosaic (FIF) grid: Mosaic CoAdder and Quicklook now, the
 * temporal, box and dual outlier modules, Mosaic Coverage and the
 * pairwise overlap matching later (guide 8.1, 000 l.7693-7734;
 * algorithms.md 1).
 *
 * FRAMES AND LAYERS. A stack holds n frames in a fixed order (the stack
 * order: index 0 .. n-1, as in the input lists). Each frame has an image
 * layer and optional parallel layers: coverage, uncertainty (sigma) and up
 * to MX_STACK_MAX_EXTRA extra float layers (outlier maps, detection maps,
 * ...). Every layer file is a sub-rectangle of the mosaic grid: its box is
 * (MINTOFFX, MINTOFFY) = 0-based offset of its first pixel in the grid,
 * (NAXIS1, NAXIS2) = its size, as Mosaic Interpolate writes them
 * (000 l.2829-2856, l.8402-8405). A layer file without MINTOFFX/MINTOFFY
 * is accepted when it has the size of its frame's image (it then shares
 * the image's box) or of the whole grid (box at 0, 0); anything else is
 * MX_ERR_NOTFOUND naming the file. A frame's box is its image's box; the
 * other layers are read over it through their own boxes, and what lies
 * outside a layer's file reads as NaN. Every layer is read as float
 * (scaling applied, BLANK -> NaN), so integer maps such as detection maps
 * or masks come through exactly up to 2^24.
 *
 * OPENING reads headers only (in parallel over frames): boxes, BUNIT and,
 * on request, one numeric keyword per frame (INTEG_TIME_KWD, e.g.
 * EXPTIME; missing is MX_ERR_NOTFOUND naming the file and the keyword).
 * No pixel is read until a rectangle is loaded.
 *
 * LOADING a rectangle R of the grid (a tile or a band of a tile) lists the
 * contributing frames (boxes intersecting R) in stack order and reads, for
 * each, the requested layers over box ∩ R with one region read per layer
 * (mx_fits_reader: one file open per frame, layer and rectangle). Missing
 * layers are filled: coverage 1 everywhere when the stack has no coverage
 * maps; extra layers NaN for a frame whose path is NULL.
 *
 * MEMORY. A load holds  4 bytes x L x sum_j |box_j ∩ R|  of pixels, L the
 * number of layers loaded; this is at most 4 L |R| D, D the stack depth
 * (number of frames overlapping R), and never depends on the number of
 * frames in the stack. mx_stack_band_rows() picks a band height so that a
 * load stays within a byte budget (at least one row), and
 * mx_stack_run_tiles() gives each thread one reusable load, so the peak is
 * about  threads x min(budget / threads, 4 L |R| D)  plus what the
 * per-tile function allocates for its outputs (typically a few floats per
 * tile pixel). The whole stack is never in memory. A load keeps its files
 * open for the next rectangle (one descriptor each: plain float images are
 * read with pread), so the bands of a tile do not reopen their frames.
 *
 * DETERMINISM. Slices come in stack order. A per-pixel reduction that
 * visits the slices in that order gives the same bits for any tiling, band
 * height and thread count, because each pixel sees the same values in the
 * same order.
 *
 * Ownership: mx_stack_open returns a stack freed with mx_stack_free; the
 * paths are copied. An mx_stack_load is caller storage: init, use for any
 * number of rectangles, release. Reading a stack from several threads at
 * once is safe (each load opens its own readers).
 */
#ifndef MX_STACK_H
#define MX_STACK_H

#include <stddef.h>
#include "mx_fif.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MX_STACK_MAX_EXTRA 4

/* Layer numbers (index into mx_stack_slice.layer) and the bit of each for
 * the `layers` argument of the loaders. */
enum {
    MX_LAYER_IMAGE = 0,
    MX_LAYER_COVERAGE = 1,
    MX_LAYER_SIGMA = 2,
    MX_LAYER_EXTRA0 = 3,
    MX_LAYER_COUNT = 3 + MX_STACK_MAX_EXTRA
};
#define MX_STACK_BIT(layer) (1u << (layer))
#define MX_STACK_IMAGE MX_STACK_BIT(MX_LAYER_IMAGE)
#define MX_STACK_COVERAGE MX_STACK_BIT(MX_LAYER_COVERAGE)
#define MX_STACK_SIGMA MX_STACK_BIT(MX_LAYER_SIGMA)
#define MX_STACK_EXTRA(k) MX_STACK_BIT(MX_LAYER_EXTRA0 + (k))

/* What a stack is made of. Arrays are n paths in stack order. */
typedef struct mx_stack_spec {
    int n;
    const char *const *images;     /* required */
    const char *const *coverages;  /* NULL: coverage 1 wherever a frame lies */
    const char *const *sigmas;     /* NULL: no uncertainties */
    int nextra;                    /* 0 .. MX_STACK_MAX_EXTRA */
    const char *extra_names[MX_STACK_MAX_EXTRA];        /* for messages, e.g. "outlier map" */
    const char *const *extras[MX_STACK_MAX_EXTRA];      /* n paths each; an entry may be NULL */
    const char *time_keyword;      /* NULL or "": no per-frame keyword */
    long naxis1, naxis2;           /* the grid (mosaic_fif NAXIS1/2) */
} mx_stack_spec;

typedef struct mx_stack_frame {
    long x0, y0, nx, ny;           /* the image's box in the grid */
    double time;                   /* value of time_keyword, NaN when not requested */
} mx_stack_frame;

typedef struct mx_stack mx_stack;

int mx_stack_open(const mx_stack_spec *spec, mx_stack **out);
void mx_stack_free(mx_stack *s);

int mx_stack_count(const mx_stack *s);
long mx_stack_naxis1(const mx_stack *s);
long mx_stack_naxis2(const mx_stack *s);
const mx_stack_frame *mx_stack_frame_at(const mx_stack *s, int i);
/* Path of a layer of frame i; NULL when the stack has no such layer. */
const char *mx_stack_path(const mx_stack *s, int layer, int i);
/* Does the stack have this layer (coverage/sigma/extra lists given)? */
int mx_stack_has(const mx_stack *s, int layer);
/* BUNIT of the first frame that has one ("" when none). Frames with a
 * different BUNIT were warned about when the stack was opened. */
const char *mx_stack_bunit(const mx_stack *s);

/* Indices (stack order) of the frames whose box intersects the rectangle
 * [x0, x0+nx) x [y0, y0+ny); `idx` must have room for mx_stack_count()
 * entries. Returns the count. */
int mx_stack_select(const mx_stack *s, long x0, long y0, long nx, long ny, int *idx);

/* Tiles of the grid (mx_tiling: the guide's rule), x fastest, ids from 1. */
int mx_stack_tiling(const mx_stack *s, long tilemax_x, long tilemax_y, mx_tile **tiles,
                    int *ntiles);

/* ---- loading ------------------------------------------------------------- */

/* One contributing frame over a loaded rectangle. */
typedef struct mx_stack_slice {
    int frame;                     /* stack index */
    long x0, y0, nx, ny;           /* box ∩ rectangle, in grid coordinates */
    float *layer[MX_LAYER_COUNT];  /* nx*ny values (row-major) each; NULL if not loaded */
    double time;                   /* the frame's time keyword value (NaN when none) */
} mx_stack_slice;

typedef struct mx_stack_load {
    long x0, y0, nx, ny;           /* the rectangle loaded */
    int n;                         /* contributing frames */
    mx_stack_slice *slices;        /* n slices in stack order */
    /* private: reused storage */
    float *buf;
    size_t cap;
    int slice_cap;
    int *idx;
    /* private: the files of the last load, kept open for the next one (the
     * bands of a tile share most frames; reopening cost a header parse per
     * frame, layer and band) */
    struct mx_stack_open *open;
    int nopen, open_cap;
} mx_stack_load;

void mx_stack_load_init(mx_stack_load *ld);
void mx_stack_load_release(mx_stack_load *ld);

/* Load `layers` (MX_STACK_* bits; bits of layers the stack lacks are
 * ignored, except coverage, which is filled with 1) of every frame
 * intersecting the rectangle. Errors name the file. */
int mx_stack_load_rect(const mx_stack *s, long x0, long y0, long nx, long ny, unsigned layers,
                       mx_stack_load *ld);

/* Bytes a load of these layers over the rectangle takes. */
size_t mx_stack_rect_bytes(const mx_stack *s, long x0, long y0, long nx, long ny,
                           unsigned layers);
/* Rows per band of tile t so that a load of `layers` over a band of that
 * many rows, plus `extra_per_pixel` bytes per band pixel for the caller's
 * own work arrays, takes at most `budget` bytes (at least 1; t->ny when
 * budget is 0 or the whole tile fits). The bound is the tile's fullest row
 * (the most stack pixels any one row holds) times the band height. */
long mx_stack_band_rows(const mx_stack *s, const mx_tile *t, unsigned layers,
                        size_t extra_per_pixel, size_t budget);

/* ---- tiles in parallel ----------------------------------------------------- */

/* fn is called once per tile with a load reserved for the calling thread
 * (empty or holding the previous rectangle; reload what you need) and the
 * per-thread byte budget (budget / threads). Each call must write only its
 * own outputs. Tiles go through mx_parallel_for (mx_threads() threads) with
 * a progress report labelled `label` (NULL: none); the first failing tile's
 * status is returned with its message. */
typedef int (*mx_stack_tile_fn)(const mx_stack *s, const mx_tile *tile, mx_stack_load *ld,
                                size_t budget, int thread, void *ctx);
int mx_stack_run_tiles(const mx_stack *s, const mx_tile *tiles, int ntiles, size_t budget,
                       const char *label, mx_stack_tile_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
