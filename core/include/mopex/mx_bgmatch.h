/* mx_bgmatch.h - background matching: Compute Overlap Correction and its
 * companions (000 l.883-960, l.1704-1794, l.8580-8703; algorithms.md 5;
 * overlap.md 4.3.2 and 4.3.8).
 *
 * MODEL. Each interpolated frame n gets one additive constant e_n; the
 * corrected frame is O_n = I_n - e_n (Eq 8.16). The metric (Eq 8.17,
 * reconstructed) is
 *
 *     C(e) = sum_{m<n} sum_{k in O_mn} w_k [(I_m(k) - e_m) - (I_n(k) - e_n)]^2
 *            (+ WEIGHT sum_n e_n^2),     w_k = 1/(s_m(k)^2 + s_n(k)^2)
 *
 * (w_k = 1 without uncertainty images), O_mn = mosaic-grid pixels usable in
 * both frames: value finite, coverage > 0 and, with uncertainties, sigma
 * finite and > 0 (bright objects are already NaN in the interpolated frames
 * when Mosaic Interpolate ran with mask_bright). dC/de = 0 is the graph
 * Laplacian system L e = b with
 *
 *     W_mn = sum_k w_k,  D_mn = sum_k w_k (I_m(k) - I_n(k))  (D_nm = -D_mn),
 *     L_mm = sum_n W_mn,  L_mn = -W_mn,  b_m = sum_n D_mn.
 *
 * PAIR STATISTICS (mx_bgpairs). W and D of every overlapping pair live in a
 * hash map keyed by (m, n), m < n: memory O(pairs), never O(N^2). They are
 * accumulated in one streaming pass over the mosaic grid (mx_bgmatch_
 * accumulate, tile by tile through mx_stack): each pixel covered by c usable
 * frames adds its c(c-1)/2 pair terms. Sums are formed per tile in raster
 * order and tiles are merged in tile order, so the statistics - and every
 * number derived from them - are bit-identical for any thread count.
 *
 * SOLVER (mx_bgmatch_solve). Connected components of the overlap graph
 * (union-find over the pairs with W > 0); every component of two or more
 * frames is solved on its own:
 *   WEIGHT = 0: its last frame (highest list index) is pinned to 0 and the
 *     reduced system (SPD for a connected component) is solved: dense
 *     Cholesky (GSL) when the component has at most MX_BG_DENSE_MAX frames
 *     and use_sparse is off; otherwise preconditioned conjugate gradients
 *     (Jacobi) on the CSR matrix until |b - A x| <= 1e-12 |b|. Then, when
 *     the component has at least min_img_num frames, outliers among its
 *     offsets are flagged (e < mu - BOTTOM s or e > mu + TOP s, one pass;
 *     mu, s per outlier_rule) and the offsets are shifted so that the
 *     non-outliers sum to zero (outliers are shifted too: 000 l.1772-1778,
 *     l.8688-8696). Adding a constant to every frame changes no offset.
 *   WEIGHT > 0: (L + WEIGHT I) e = b over the component, no pinning and no
 *     shift (000 l.927-933); outliers are still flagged for the table.
 * Frames in no pair (isolated): offset 0, del_Offset NaN, outlier 0, and a
 * warning naming them. Several components: a warning with their number and
 * sizes; each gets its own zero-sum level.
 *
 * del_Offset. With C(e) a chi^2, the covariance of the pinned solution is
 * Mred^-1 (zero row and column for the pinned frame); the zero-sum shift is
 * the projection P = I - (1/K) 1 s^T (s: indicator of the K non-outliers),
 * so Cov = P Mred^-1 P^T and del_n = sqrt(Cov_nn) (WEIGHT > 0: the diagonal
 * of (L + WEIGHT I)^-1). The dense path gets it from the Cholesky factor.
 * The sparse path computes the same exact diagonal for components of at
 * most MX_BG_EXACT_DEL_MAX frames, from a sparse Cholesky factor in
 * envelope form after a reverse Cuthill-McKee ordering and the Takahashi
 * recurrences (the exact entries of the inverse inside the envelope, no
 * n^2 storage); above that size, or when the envelope would exceed
 * MX_BG_ENVELOPE_MAX entries, it uses the approximation 1/sqrt(L_nn (+
 * WEIGHT)), flags del_approx, and the offsets table says so in its header.
 * Caveat (the guide's metric, kept as specified): a pixel covered by c
 * frames enters c(c-1)/2 pair terms but carries only c-1 independent
 * differences, so with deep overlaps del_Offset understates the real
 * scatter of the offsets by up to sqrt(c/2) (12-frame simulated dithers:
 * the scatter is 2-2.6 times del_Offset). The offsets are unbiased.
 *
 * FAILURES: a matrix that is not positive definite, a non-finite solution
 * or conjugate gradients that do not converge give MX_ERR_NUMERIC with the
 * message "UNSUCCESSFUL_SOLUTION: <reason>" (the guide's string, 000
 * l.955-959).
 *
 * OUTPUTS: offsets.tbl (mx_bgmatch_write_offsets: Image_id 1-based, Offset,
 * del_Offset, outliers; one row per input frame in list order; formats.md
 * 4.9); corrected copies of the original inputs (mx_bgmatch_apply: input -
 * Offset, NaN stays NaN, keywords OVRLPDC, OVRLPDCD, OVRLPOUT); zodiacal
 * subtraction of the Overlap Settings (mx_zodi_subtract).
 *
 * Frame numbers are 0-based here; Image_id in tables and in Lua is 1-based.
 */
#ifndef MX_BGMATCH_H
#define MX_BGMATCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Components larger than this always use the sparse solver (~3000 frames:
 * the dense (n-1)^2 matrix is then 72 MB and its Cholesky a few seconds). */
#define MX_BG_DENSE_MAX 3000
/* Sparse path: exact del_Offset up to this component size. */
#define MX_BG_EXACT_DEL_MAX 20000
/* Sparse path: largest envelope (doubles) of the exact del_Offset factor. */
#define MX_BG_ENVELOPE_MAX 60000000L
/* Conjugate gradients stop at |b - A x| <= MX_BG_CG_RTOL |b|. */
#define MX_BG_CG_RTOL 1e-12

/* ======================================================================
 * Pair statistics
 * ====================================================================== */
typedef struct mx_bgpairs mx_bgpairs;

/* An empty map for frames 0..nframes-1 (nframes >= 1, < 2^31). */
int mx_bgpairs_new(long nframes, mx_bgpairs **out);
void mx_bgpairs_free(mx_bgpairs *p);
long mx_bgpairs_nframes(const mx_bgpairs *p);
/* Number of distinct pairs stored. */
long mx_bgpairs_count(const mx_bgpairs *p);
/* Add to the pair (m, n), m != n: W += w, D_mn += d where d is a sum of
 * w (I_m - I_n) (stored under (min, max), d negated when m > n).
 * MX_ERR_PARAM for m == n, a frame outside 0..nframes-1 or w < 0. */
int mx_bgpairs_add(mx_bgpairs *p, long m, long n, double w, double d);
/* dst += src pair by pair (src's insertion order); same nframes required. */
int mx_bgpairs_merge(mx_bgpairs *dst, const mx_bgpairs *src);
/* W and D_mn of (m, n) (D of the order asked for): 1 if present, else 0
 * with *w = *d = 0. */
int mx_bgpairs_get(const mx_bgpairs *p, long m, long n, double *w, double *d);
/* Entry k (0 <= k < count) in insertion order, with *m < *n. */
void mx_bgpairs_entry(const mx_bgpairs *p, long k, long *m, long *n, double *w, double *d);

/* One frame's share of a block of the mosaic grid (the tile kernel's input).
 * The frame covers the rectangle [x0, x0+nx) x [y0, y0+ny) in the block's
 * coordinates (it may be partly or wholly outside the block: only the
 * intersection is used); pixel (x, y) of the rectangle is element
 * (y - y0) * stride + (x - x0) of each array. */
typedef struct mx_bgtile_frame {
    long id;               /* frame number in the stack (0-based) */
    long x0, y0, nx, ny;
    long stride;           /* >= nx */
    const float *value;    /* interpolated image */
    const float *coverage; /* NULL: every pixel with a finite value is covered */
    const float *sigma;    /* NULL: w = 1 */
} mx_bgtile_frame;

/* The tile kernel: add the pair statistics of a w x h block covered by nf
 * frames (distinct ids) to `p`. Pixels are visited in raster order inside
 * 128 x 128 sub-blocks taken in raster order, each flushed into `p` in a
 * fixed order, so the result depends only on the block and the frames.
 * `usable` (nf entries, may be NULL) receives the number of usable pixels of
 * each frame in the block (the bad-image check). A frame with a sigma array
 * uses w = 1/(s_m^2 + s_n^2); all frames must agree (all with or all
 * without sigma: MX_ERR_PARAM otherwise). */
int mx_bgpairs_accumulate_block(mx_bgpairs *p, long w, long h, int nf, const mx_bgtile_frame *f,
                                long *usable);

/* Synthetic pair statistics with known offsets (tests and benchmarks):
 *   MX_BGSYN_MAP: a raster of rows x cols pointings with ndither frames each;
 *     frames at one pointing overlap by `same` pixels, frames at 4-adjacent
 *     pointings by `side` pixels, at diagonal pointings by `corner` pixels
 *     (0: none);
 *   MX_BGSYN_RANDOM: n frames, a random spanning tree plus `extra` random
 *     edges, each pair overlapping by a uniform 1..`same` pixels.
 * Per pixel w = 1/(2 sigma^2); W = npix w; D = W (e_m - e_n) + noise, the
 * noise being N(0, W) when `noise` is set (the exact distribution of D for
 * Gaussian pixel noise of sigma). Truth offsets e ~ N(0, offset_sigma),
 * written to truth[n] when truth is non-NULL. Frame order: pointing-major.
 * Deterministic for a seed. */
typedef enum { MX_BGSYN_MAP = 0, MX_BGSYN_RANDOM = 1 } mx_bgsyn_kind;
typedef struct mx_bgsyn_opts {
    mx_bgsyn_kind kind;
    long rows, cols;
    int ndither;
    long n, extra;         /* MX_BGSYN_RANDOM */
    long same, side, corner;
    double sigma, offset_sigma;
    int noise;
    uint64_t seed;
} mx_bgsyn_opts;
/* Number of frames the options describe. */
long mx_bgsyn_nframes(const mx_bgsyn_opts *o);
int mx_bgpairs_synthetic(const mx_bgsyn_opts *o, mx_bgpairs **out, double *truth);

/* ======================================================================
 * The solver
 * ====================================================================== */
typedef enum {
    MX_BG_OUTLIER_STD = 0,   /* mean and sample standard deviation (N-1): the default */
    MX_BG_OUTLIER_STD_N = 1, /* mean and population standard deviation (N) */
    MX_BG_OUTLIER_MAD = 2    /* median and MAD/0.6745 (robust variant) */
} mx_bg_outlier_rule;

/* Every field must be set (defaults live in the Lua schema
 * lua/mopex/modules/overlap_correction.lua). */
typedef struct mx_bgmatch_opts {
    double top_threshold;    /* TOP_THRESHOLD, sigma, >= 0 */
    double bottom_threshold; /* BOTTOM_THRESHOLD, sigma, >= 0 */
    int min_img_num;         /* MIN_IMG_NUM: flag outliers only in components this large */
    double weight;           /* WEIGHT >= 0 */
    int use_sparse;          /* USE_SPARSE_FOR_MANY_FILES */
    int outlier_rule;        /* mx_bg_outlier_rule */
} mx_bgmatch_opts;

int mx_bgmatch_check(const mx_bgmatch_opts *o);

typedef struct mx_bgmatch_result {
    long n;              /* frames */
    double *offset;      /* e_n */
    double *del;         /* del_Offset (NaN: isolated or dropped) */
    double *del_raw;     /* exact paths, WEIGHT = 0: sqrt((Mred^-1)_nn) before the
                            shift (0 for the pinned frame); NaN elsewhere */
    int *outlier;        /* 1 if flagged */
    long *group;         /* component 1..ngroups; 0 isolated; -1 dropped */
    long ngroups;        /* components of >= 2 frames, numbered by their first frame */
    long *group_size;    /* ngroups entries */
    long nisolated, ndropped;
    int del_approx;      /* 1: some del_Offset are 1/sqrt(L_nn) */
    int used_sparse;     /* 1: some component went through conjugate gradients */
    long cg_iterations;  /* largest iteration count of the sparse solves */
    double cg_residual;  /* largest final relative residual |b - A x| / |b| */
    double rms_before;   /* weighted RMS over overlapping pairs of their mean difference */
    double rms_after;    /* the same after subtracting the offsets */
} mx_bgmatch_result;

/* Solve for the offsets. `drop` (nframes bytes, may be NULL): frames
 * removed by the bad-image check (their pairs are ignored; group -1).
 * `res` is filled (free with mx_bgmatch_result_clear, also after a
 * failure). */
int mx_bgmatch_solve(const mx_bgpairs *p, const unsigned char *drop, const mx_bgmatch_opts *o,
                     mx_bgmatch_result *res);
void mx_bgmatch_result_clear(mx_bgmatch_result *res);

/* ======================================================================
 * Sparse SPD toolkit (used by the solver; public for tests)
 * ====================================================================== */
/* Symmetric matrix in CSR form, full pattern (both triangles and the
 * diagonal), columns ascending in each row. */
typedef struct mx_csr {
    long n;
    long *rowptr;   /* n + 1 */
    int32_t *col;   /* rowptr[n] */
    double *val;
} mx_csr;
void mx_csr_free(mx_csr *a);
/* y = A x (deterministic for any thread count). */
void mx_csr_matvec(const mx_csr *a, const double *x, double *y);

/* Jacobi-preconditioned conjugate gradients for SPD A, from x (initial
 * guess, overwritten by the solution), until |b - A x| <= rtol |b| (true
 * residual, checked at the end and restarted from it when the recurrence
 * drifted) or maxiter iterations. *iters and *relres (may be NULL) report.
 * MX_ERR_NUMERIC "UNSUCCESSFUL_SOLUTION: ..." on a breakdown (A not
 * positive definite), a non-finite value or no convergence. Parallel over
 * row blocks for large matrices, bit-identical for any thread count. */
int mx_pcg(const mx_csr *a, const double *b, double *x, double rtol, long maxiter, long *iters,
           double *relres);

/* Reverse Cuthill-McKee ordering of the pattern of A (all components):
 * perm[k] = the row placed k-th. */
int mx_rcm(const mx_csr *a, long *perm);

/* Cholesky factor of P A P^T in envelope (profile) form. */
typedef struct mx_envchol {
    long n;
    long *first;    /* first column of row i's envelope */
    size_t *start;  /* row i's entries first[i]..i at val[start[i] ...] */
    double *val;
    long *perm;     /* perm[k]: row of A placed k-th */
    size_t size;    /* entries stored */
    int inverted;   /* 1 after mx_envchol_invdiag: val holds inverse entries */
} mx_envchol;
/* Size of the envelope of P A P^T (entries), without allocating it. */
size_t mx_envelope_size(const mx_csr *a, const long *perm);
/* Factor (perm may be NULL: identity; copied). MX_ERR_NUMERIC
 * "UNSUCCESSFUL_SOLUTION: ..." if A is not positive definite. */
int mx_envchol_factor(const mx_csr *a, const long *perm, mx_envchol *f);
/* Solve A x = b with the factor (before mx_envchol_invdiag). */
int mx_envchol_solve(const mx_envchol *f, const double *b, double *x);
/* Diagonal of A^-1 (in A's order) by the Takahashi recurrences; turns the
 * factor into the inverse's envelope entries (no further solves). */
int mx_envchol_invdiag(mx_envchol *f, double *diag);
void mx_envchol_free(mx_envchol *f);

/* ======================================================================
 * Files
 * ====================================================================== */
/* The streaming pass: the pair statistics of an interpolated stack in one
 * pass over the mosaic grid, tile by tile through mx_stack (never holding
 * the stack; memory: the per-thread loads within `budget`, plus O(pairs)).
 * Tiles are cut in bands of multiples of 128 rows, so the sub-blocks of the
 * tile kernel - and the sums - do not depend on the band height, the
 * budget or the thread count; finished tiles are merged in tile order. */
typedef struct mx_bgaccum_spec {
    int n;                         /* interpolated frames in the stack */
    const char *const *images;     /* interp_<b>.fits (MINTOFFX/MINTOFFY place them) */
    const char *const *coverages;  /* NULL: coverage 1 wherever a frame has a value */
    const char *const *sigmas;     /* NULL: w = 1 */
    const long *ids;               /* frame number (0-based input position) of each
                                      stack entry; NULL: 0 .. n-1 */
    long nframes;                  /* frames of the solution (> every id) */
    long naxis1, naxis2;           /* the grid; 0: the extent of the frames' boxes */
    long tile;                     /* tile side in pixels; 0: 512 */
    size_t budget;                 /* bytes for the loads of all threads; 0: whole tiles */
    int bad_image_check;           /* 1: drop frames without a usable pixel (warned) */
} mx_bgaccum_spec;

/* *out: the pair statistics (caller frees). usable (nframes entries, may be
 * NULL): usable pixels per frame. drop (nframes bytes, may be NULL): with
 * bad_image_check, 1 for frames with no usable pixel (all NaN, zero
 * coverage, or no interpolated image at all), each named in a warning;
 * all 0 without the check. */
int mx_bgmatch_accumulate(const mx_bgaccum_spec *spec, mx_bgpairs **out, long *usable,
                          unsigned char *drop);

/* Write offsets.tbl (IPAC): Image_id (int, 1-based), Offset (real),
 * del_Offset (real, nan where undefined), outliers (int); header keywords
 * name the method, the groups and whether del_Offset is approximate. */
int mx_bgmatch_write_offsets(const mx_bgmatch_result *r, const mx_bgmatch_opts *o,
                             const char *path);

/* Corrected copies: outputs[i] = inputs[i] - offset[i] on the input's own
 * grid (NaN stays NaN), header copied plus OVRLPDC = offset, OVRLPDCD =
 * del (an undefined value when del is NaN), OVRLPOUT = outlier flag.
 * Parallel over frames, one frame in memory per thread, atomic writes. */
int mx_bgmatch_apply(int n, const char *const *inputs, const char *const *outputs,
                     const double *offset, const double *del, const int *outlier);

/* Zodiacal subtraction (Overlap Settings, 000 l.1190-1196): the value of
 * each frame is ZODY_EST (or ZODI_EST when ZODY_EST is absent) minus
 * SKYDRKZB when that keyword is present (IRAC). values[i] (may be NULL)
 * receives it. With outputs (may be NULL: values only), outputs[i] =
 * inputs[i] - value, header copied plus ZODYSUB = value. A frame without
 * ZODY_EST/ZODI_EST is MX_ERR_NOTFOUND naming the file. */
int mx_zodi_subtract(int n, const char *const *inputs, const char *const *outputs,
                     double *values);

#ifdef __cplusplus
}
#endif
#endif
