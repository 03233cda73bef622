/* mx_stats.h - robust statistics on float arrays with NaN and masks.
 *
 * Conventions (algorithms.md section 0):
 *  - median(v) = sorted(v)[floor(N/2)] (0-based; the upper middle element for
 *    even N), unless MX_MEDIAN_AVERAGE is requested;
 *  - sigma_MAD = median(|v - median|) / 0.6745 (the literal MOPEX constant);
 *  - standard deviations take ddof (0: divide by N, 1: by N-1).
 * Selection (quickselect / nth_element) is used, never a full sort, so every
 * function is O(N) on average. Functions whose name ends in _inplace reorder
 * their input; the others copy into `work` (N floats) when given, or
 * allocate. NaN/Inf values, and values whose mask byte is non-zero, are
 * ignored everywhere.
 */
#ifndef MX_STATS_H
#define MX_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MX_MAD_SCALE 0.6745

/* k-th smallest (0-based) of v[0..n) of finite values; reorders v. */
float mx_select_inplace(float *v, size_t n, size_t k);
double mx_select_inplace_d(double *v, size_t n, size_t k);
/* Move the finite values of v to the front; returns their count. */
size_t mx_compact_finite(float *v, size_t n);

enum { MX_MEDIAN_UPPER = 0, MX_MEDIAN_AVERAGE = 1 };
/* Median of the finite values (NaN when none); reorders v. */
float mx_median_inplace(float *v, size_t n, int mode);
double mx_median_inplace_d(double *v, size_t n, int mode);
/* Biased median sorted[max(0, min(N-1, N/2 - bias))] (000 l.8070-8080). */
float mx_biased_median_inplace(float *v, size_t n, int bias);

typedef struct mx_stats {
    size_t n;          /* values used */
    double mean, stddev, median, mad_sigma, min, max;
} mx_stats;
/* Plain statistics of finite, unmasked values (mask may be NULL). */
int mx_stats_compute(const float *v, const uint8_t *mask, size_t n, int ddof, mx_stats *out);

/* Iterative sigma clipping around the median (or mean when
 * center_mean != 0), at most maxiter passes or until no value is removed.
 * out->n is the number kept; mean/stddev/median describe the kept set. */
int mx_sigma_clip(const float *v, const uint8_t *mask, size_t n, double nsig_lo,
                  double nsig_hi, int maxiter, int center_mean, int ddof, mx_stats *out);

/* MOPEX Detect initial threshold (Eq 8.5): repeat { M = mean, s = std,
 * T = M + D s, drop v > T } until stable. Returns M, s and T. */
int mx_iterative_threshold(const float *v, const uint8_t *mask, size_t n, double D, int ddof,
                           double *mean, double *std, double *threshold);

/* Mode estimate (SExtractor/Pearson): 3-sigma clip, then
 * 2.5 median - 1.5 mean, or the median when |mean - median|/sigma > 0.3. */
int mx_mode_estimate(const float *v, const uint8_t *mask, size_t n, double *mode);
/* Peak of a histogram of the finite values with `nbins` bins between the
 * 1st and 99th percentiles, refined by a parabola through the top 3 bins. */
int mx_histogram_peak(const float *v, const uint8_t *mask, size_t n, int nbins, double *peak);

#ifdef __cplusplus
}
#endif
#endif
