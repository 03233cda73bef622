/* mx_segment.h - image segmentation (Detect) and single-frame radhit
 * detection (Detect Radhit).
 *
 * In-memory kernels on float arrays, no file I/O. Callers:
 *   Mosaic Detect (outlier) and Overlap Detect: the label map is the
 *     detection map (cluster number 1..N, background 0);
 *   APEX Detect: the detection list (x, y, flux, BlendId, BlendSize) plus
 *     optional level / peak maps; APEX Bright Detect: the same run with the
 *     shape columns (moments, perimeter, linearity) and the level map;
 *   Mosaic Detect Radhit: mx_detect_radhit.
 *
 * Images are row-major, nx by ny, pixel (x, y) at y*nx + x, 0-based; the
 * centre of pixel (x, y) is at (x, y) (algorithms.md section 0). Tables add
 * 1 at the binding. A pixel is unusable when its value is not finite, when
 * `bad` (optional) is non-zero, or when a coverage map is given and its
 * coverage is < Minimum_Coverage (or not finite). Unusable pixels never
 * enter a statistic or a cluster.
 *
 * ALGORITHM (algorithms.md section 3, apex.md 3.9.2):
 *  1. If a coverage map is given and `attenuate` is set, the image is
 *     multiplied by sqrt(coverage); this attenuated image is the one
 *     segmented and centroided.
 *  2. Initial threshold: image input, T = M + D s from the iterative Eq 8.5
 *     (mx_iterative_threshold, ddof as given) over the usable pixels, those
 *     above Probability_Threshold excluded when it is > 0; SNR input, T = D.
 *     Test hook: impose_stats replaces M and s (oracle O-5).
 *     T_min = T - min(usable image).
 *  3. Components of usable pixels with value > T (4- or 8-connected;
 *     explicit queue, no recursion); those with area < Detection_Min_Area
 *     are dropped (n_initial counts the others).
 *  4. Re-segmentation, per component, depth first; a component carries the
 *     threshold that produced it:
 *     simple: needs it when area > Max_Area; T_cl = M_cl + D s_cl (cluster
 *       mean and std with ddof); if no pixel falls, the cluster is final.
 *     combo: needs it when area > Max_Area; T_cl = sqrt((L T_min + Min_cl)
 *       M_cl) for SegLevel L = 1, 2, ... Max_Segmentation_Level, the first L
 *       that drops a pixel wins (children start again at L = 1); if the
 *       product is <= 0 that step uses the simple rule; no effect up to the
 *       limit: final.
 *     peak: needs it when area > Max_Area or when it holds more than one
 *       counted peak. A peak pixel is strictly greater than every usable
 *       pixel within Peaks_Radius (square; equal values: the lowest index
 *       wins); it counts when its height above the cluster's threshold is
 *       >= Detection_Min_Peak_Fraction x the height of the cluster maximum.
 *       P_min = the lowest counted peak; T_cl = P_min - T_min, and if that
 *       drops nothing and area <= Extended_Object_Area, T_cl = P_min -
 *       T_min / L for L = 2 .. Max_Segmentation_Level; no effect: final.
 *     A threshold keeps the pixels > T_cl, which are relabelled into the
 *     children. Detection_Min_Area applies to the initial components only
 *     (as the manual states it): the peak rule's T_cl = P_min - T_min leaves
 *     one or two pixels of a bright companion, which a size cut would erase.
 *     If nothing is left above T_cl (a flat cluster under the simple or
 *     combo rule) the cluster is final as it was.
 *  5. Final clusters whose centroid is closer than N_Edge pixel centres to
 *     the border (x < N_Edge or x > nx-1-N_Edge, same for y) are dropped.
 *  6. Blends: when one initial component ends as k > 1 final clusters they
 *     get BlendId = 1, 2, ... (running, in list order) and BlendSize = k;
 *     others 0 and 0.
 *  7. Order: initial components in raster order of their first pixel
 *     (row-major), the final clusters of one component depth first, so the
 *     members of a blend are consecutive. Label = list index + 1.
 *
 * PER DETECTION (the Detect and Bright Detect columns):
 *  x, y       intensity-weighted centroid (Eq 8.10) with the segmented
 *             values; if their sum is <= 0, the unweighted mean;
 *  flux       Detect "flux": the cluster maximum of `flux_img` when given
 *             (APEX: the background-subtracted data when detection ran on a
 *             PSP / SNR / filtered image), else of the segmented image;
 *  flux_sum   Bright Detect "flux": the sum of the segmented values;
 *  second moments (SExtractor definitions, same weights as the centroid)
 *             x2 = sum w (x - xc)^2 / sum w, y2, xy; when x2 y2 - xy^2 < 1/144
 *             both x2 and y2 get 1/12 added (SExtractor's guard for
 *             single-row clusters); maj_ax, min_ax = sqrt of the eigenvalues,
 *             theta = 0.5 atan2(2 xy, x2 - y2) in degrees (from +x towards
 *             +y), elongation = maj/min, ellipticity = 1 - min/maj;
 *  errors     with sigma_i from `sigma_img` when given, else the global s of
 *             step 2 (the std of the background pixels):
 *             errx2 = sum sigma^2 (x - xc)^2 / (sum w)^2, erry2, errxy;
 *             delta_x = sqrt(errx2), delta_y = sqrt(erry2), delta_xy = errxy;
 *             delta_maj, delta_min, delta_theta = axes and angle of the error
 *             ellipse (SExtractor ERRA/ERRB/ERRTHETA, which is what MOPEX's
 *             example rows show: delta_maj^2 + delta_min^2 = delta_x^2 +
 *             delta_y^2); delta_flux = sqrt(sum sigma^2);
 *  perimeter  pixel edges between the cluster and anything else (image edge
 *             included); linearity = 0.25 perimeter / sqrt(npix);
 *  level      segmentation level: 1 + the number of re-thresholdings that
 *             changed the cluster's ancestry (1 = never re-segmented); the
 *             Bright Detect mask value.
 */
#ifndef MX_SEGMENT_H
#define MX_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MX_THRESH_SIMPLE = 0, MX_THRESH_COMBO = 1, MX_THRESH_PEAK = 2 } mx_threshold_type;
typedef enum { MX_INPUT_IMAGE = 0, MX_INPUT_SNR = 1 } mx_input_type;

/* Every field must be set (defaults live in the Lua schema). */
typedef struct mx_detect_opts {
    double threshold;              /* Detection_Threshold D */
    long min_area;                 /* Detection_Min_Area */
    long max_area;                 /* Detection_Max_Area */
    int threshold_type;            /* mx_threshold_type */
    long extended_area;            /* Extended_Object_Area (peak); <= 0: no limit */
    int peaks_radius;              /* Peaks_Radius (>= 1) */
    int max_seg_level;             /* Max_Segmentation_Level (>= 1) */
    double min_coverage;           /* Minimum_Coverage, used when coverage is given */
    int connectivity;              /* 4 (sides_only) or 8 (sides_and_corners) */
    int n_edge;                    /* N_Edge */
    double min_peak_fraction;      /* Detection_Min_Peak_Fraction, 0..1 */
    double probability_threshold;  /* > 0: pixels above it excluded from the statistics */
    int input_type;                /* mx_input_type */
    int attenuate;                 /* multiply by sqrt(coverage) when coverage is given */
    int ddof;                      /* standard deviations: 1 (N-1, spec default) or 0 */
    int impose_stats;              /* test hook: use the two values below as M and s */
    double imposed_mean, imposed_sigma;
} mx_detect_opts;

typedef struct mx_detection {
    double x, y;                   /* centroid, 0-based pixel coordinates */
    double flux;                   /* peak value (see header) */
    double flux_sum, delta_flux;
    long npix;
    int blend_id, blend_size;
    int level;                     /* segmentation level */
    long xmin, xmax, ymin, ymax;   /* bounding box, inclusive */
    long peak_x, peak_y;           /* pixel of the maximum segmented value */
    double threshold;              /* threshold that produced the cluster */
    double x2, y2, xy;             /* second moments (px^2) */
    double maj_ax, min_ax, theta;  /* px, px, degrees */
    double elongation, ellipticity;
    double delta_x, delta_y, delta_xy;
    double delta_maj, delta_min, delta_theta;
    long perimeter;
    double linearity;
} mx_detection;

typedef struct mx_detect_result {
    long n;                        /* detections */
    mx_detection *det;             /* n entries, owned; mx_detect_result_free */
    double mean, sigma;            /* M and s of step 2 (image input; NaN-free) */
    double threshold;              /* T (Effective_Threshold) */
    double t_min;                  /* T - min(image) */
    double image_min;
    long n_initial;                /* initial components kept (area >= Min_Area) */
} mx_detect_result;

/* Segment `img` (nx*ny). Optional inputs (NULL = absent): bad, coverage,
 * flux_img (flux column), sigma_img (errors). Optional outputs (NULL = not
 * wanted), nx*ny each: labels (cluster number 1..n, 0 elsewhere), levels
 * (segmentation level of the cluster, 0 elsewhere), peaks (1 at every peak
 * pixel above T, as the Peaks image; computed for every threshold type).
 * `res` is filled on success and must be released with
 * mx_detect_result_free. No detection is not an error (n = 0).
 * Errors: MX_ERR_PARAM, MX_ERR_NOMEM, MX_ERR_NUMERIC (image input with no
 * usable pixel), MX_ERR_INTERRUPTED. */
int mx_detect(const float *img, const uint8_t *bad, const float *coverage, const float *flux_img,
              const float *sigma_img, long nx, long ny, const mx_detect_opts *opts,
              mx_detect_result *res, int32_t *labels, int32_t *levels, uint8_t *peaks);

void mx_detect_result_free(mx_detect_result *res);

/* ---- Detect Radhit (algorithms.md 2.1, mosaic.md 5.6.7) ------------------ */

typedef struct mx_radhit_opts {
    double seg_threshold;          /* Segmentation_Threshold (sigma) */
    double radhit_threshold;       /* Radhit_Threshold (sigma) */
    long max_area;                 /* Detection_Max_Area */
    int bit;                       /* mask bit to set (9 -> value 512) */
    int ddof;                      /* for M, s (iterative threshold) */
    int impose_stats;              /* test hook (oracle O-5) */
    double imposed_mean, imposed_sigma;
} mx_radhit_opts;

typedef struct mx_radhit_result {
    double mean, sigma;            /* M, s: iterative clipping with D = Segmentation_Threshold */
    long n_clusters;               /* 4-connected clusters above M + Segmentation_Threshold s */
    long n_radhits;                /* clusters that are radhits */
    long n_pixels;                 /* radhit pixels */
    long *pixels;                  /* their indices y*nx + x, ascending; owned, free() */
} mx_radhit_result;

/* A cluster is a radhit iff area <= max_area and its maximum > M +
 * radhit_threshold s. Outputs (all optional): `mask` (nx*ny int32, typically
 * a copy of the DCE mask, zeros if none) gets bit `bit` OR-ed into every
 * radhit pixel; `map` (nx*ny bytes) is 1 on radhit pixels, 0 elsewhere;
 * `res` receives counts and, if res->pixels is wanted, the pixel list (set
 * want_list). */
int mx_detect_radhit(const float *img, const uint8_t *bad, long nx, long ny,
                     const mx_radhit_opts *opts, int32_t *mask, uint8_t *map, int want_list,
                     mx_radhit_result *res);

void mx_radhit_result_free(mx_radhit_result *res);

#ifdef __cplusplus
}
#endif
#endif
