/* stats.c - robust statistics: selection, medians, MAD, clipping, mode.
 *
 * Selection is Floyd-Rivest SELECT, linear on average and on arrays full
 * of duplicates. A budget of partition passes turns it into an
 * introselect: should a pathological input make the partitions unbalanced,
 * the remaining range is heap-sorted, bounding the worst case at
 * O(N log N). On return the array is partitioned around k:
 * v[0..k) <= v[k] <= v(k..n), which the averaging median relies on.
 */
#include "mopex/mx_stats.h"
#include "mopex/mx_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- selection ---------------------------------------------------------- */

#define MX_DEFINE_HEAPSORT(NAME, T)                                                     \
    static void NAME(T *a, size_t n) {                                                  \
        if (n < 2) return;                                                              \
        for (size_t start = n / 2; start-- > 0;) {                                      \
            size_t root = start;                                                        \
            for (;;) {                                                                  \
                size_t child = 2 * root + 1;                                            \
                if (child >= n) break;                                                  \
                if (child + 1 < n && a[child] < a[child + 1]) child++;                  \
                if (!(a[root] < a[child])) break;                                       \
                T t = a[root]; a[root] = a[child]; a[child] = t;                        \
                root = child;                                                           \
            }                                                                           \
        }                                                                               \
        for (size_t end = n - 1; end > 0; end--) {                                      \
            T t = a[0]; a[0] = a[end]; a[end] = t;                                      \
            size_t root = 0;                                                            \
            for (;;) {                                                                  \
                size_t child = 2 * root + 1;                                            \
                if (child >= end) break;                                                \
                if (child + 1 < end && a[child] < a[child + 1]) child++;                \
                if (!(a[root] < a[child])) break;                                       \
                t = a[root]; a[root] = a[child]; a[child] = t;                          \
                root = child;                                                           \
            }                                                                           \
        }                                                                               \
    }

#define MX_SWAP(T, a, b) do { T t_ = (a); (a) = (b); (b) = t_; } while (0)

/* Floyd-Rivest SELECT (CACM 18, 1975, Algorithm 489) on arr[left..right].
 * For ranges above 600 elements it first selects within a small sample
 * around the expected position of k, so the partition pivot lands next to
 * the answer and the range shrinks to about N^(2/3) in one pass: close to
 * N + min(k, N-k) comparisons. Scans stop on elements equal to the pivot,
 * which keeps arrays full of duplicates linear. `budget` counts partition
 * passes; when exhausted the range is heap-sorted (introselect guard). */
#define MX_DEFINE_SELECT(NAME, HEAPSORT, T)                                             \
    static void NAME##_range(T *arr, long left, long right, long k, int budget) {       \
        while (right > left) {                                                          \
            if (--budget < 0) {                                                         \
                HEAPSORT(arr + left, (size_t)(right - left + 1));                       \
                return;                                                                 \
            }                                                                           \
            if (right - left > 600) {                                                   \
                double n = (double)(right - left + 1);                                  \
                double i = (double)(k - left + 1);                                      \
                double z = log(n);                                                      \
                double s = 0.5 * exp(2.0 * z / 3.0);                                    \
                double sd = 0.5 * sqrt(z * s * (n - s) / n) * (i - n / 2 < 0 ? -1 : 1); \
                long nl = (long)fmax((double)left, (double)k - i * s / n + sd);         \
                long nr = (long)fmin((double)right, (double)k + (n - i) * s / n + sd);  \
                NAME##_range(arr, nl, nr, k, budget);                                   \
            }                                                                           \
            T t = arr[k];                                                               \
            long i = left, j = right;                                                   \
            MX_SWAP(T, arr[left], arr[k]);                                              \
            if (arr[right] > t) MX_SWAP(T, arr[right], arr[left]);                      \
            while (i < j) {                                                             \
                MX_SWAP(T, arr[i], arr[j]);                                             \
                i++;                                                                    \
                j--;                                                                    \
                while (arr[i] < t) i++;                                                 \
                while (arr[j] > t) j--;                                                 \
            }                                                                           \
            if (arr[left] == t) {                                                       \
                MX_SWAP(T, arr[left], arr[j]);                                          \
            } else {                                                                    \
                j++;                                                                    \
                MX_SWAP(T, arr[j], arr[right]);                                         \
            }                                                                           \
            if (j <= k) left = j + 1;                                                   \
            if (k <= j) right = j - 1;                                                  \
        }                                                                               \
    }                                                                                   \
    /* Caller guarantees n > 0, k < n and no NaN (the scans rely on a total  */       \
    /* order for their sentinels).                                            */       \
    static T NAME(T *arr, size_t n, size_t k) {                                         \
        int budget = 16;                                                                \
        for (size_t m = n; m > 1; m >>= 1) budget += 2;                                 \
        NAME##_range(arr, 0, (long)n - 1, (long)k, budget);                             \
        return arr[k];                                                                  \
    }

MX_DEFINE_HEAPSORT(heapsort_f, float)
MX_DEFINE_HEAPSORT(heapsort_d, double)
MX_DEFINE_SELECT(select_f, heapsort_f, float)
MX_DEFINE_SELECT(select_d, heapsort_d, double)

float mx_select_inplace(float *v, size_t n, size_t k) {
    if (!v || n == 0 || k >= n) return NAN;
    return select_f(v, n, k);
}

double mx_select_inplace_d(double *v, size_t n, size_t k) {
    if (!v || n == 0 || k >= n) return NAN;
    return select_d(v, n, k);
}

size_t mx_compact_finite(float *v, size_t n) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) v[m++] = v[i];
    return m;
}

static size_t compact_finite_d(double *v, size_t n) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) v[m++] = v[i];
    return m;
}

/* After select(k) every element below k is <= v[k], so the lower middle
 * element of an even-sized set is the maximum of that prefix. */
static float max_prefix_f(const float *v, size_t k) {
    float m = v[0];
    for (size_t i = 1; i < k; i++)
        if (v[i] > m) m = v[i];
    return m;
}

static double max_prefix_d(const double *v, size_t k) {
    double m = v[0];
    for (size_t i = 1; i < k; i++)
        if (v[i] > m) m = v[i];
    return m;
}

float mx_median_inplace(float *v, size_t n, int mode) {
    size_t m = v ? mx_compact_finite(v, n) : 0;
    if (m == 0) return NAN;
    size_t k = m / 2;
    float upper = select_f(v, m, k);
    if (mode == MX_MEDIAN_AVERAGE && m % 2 == 0)
        return (float)(0.5 * ((double)max_prefix_f(v, k) + (double)upper));
    return upper;
}

double mx_median_inplace_d(double *v, size_t n, int mode) {
    size_t m = v ? compact_finite_d(v, n) : 0;
    if (m == 0) return NAN;
    size_t k = m / 2;
    double upper = select_d(v, m, k);
    if (mode == MX_MEDIAN_AVERAGE && m % 2 == 0) return 0.5 * (max_prefix_d(v, k) + upper);
    return upper;
}

float mx_biased_median_inplace(float *v, size_t n, int bias) {
    size_t m = v ? mx_compact_finite(v, n) : 0;
    if (m == 0) return NAN;
    long long idx = (long long)(m / 2) - (long long)bias;
    if (idx < 0) idx = 0;
    if (idx > (long long)m - 1) idx = (long long)m - 1;
    return select_f(v, m, (size_t)idx);
}

/* ---- plain statistics --------------------------------------------------- */

/* Copy the finite, unmasked values of v into buf; returns their count. */
static size_t gather(const float *v, const uint8_t *mask, size_t n, float *buf) {
    size_t m = 0;
    if (mask) {
        for (size_t i = 0; i < n; i++)
            if (!mask[i] && isfinite(v[i])) buf[m++] = v[i];
    } else {
        for (size_t i = 0; i < n; i++)
            if (isfinite(v[i])) buf[m++] = v[i];
    }
    return m;
}

static float *alloc_work(size_t n, const char *who) {
    float *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!buf) mx_seterr(MX_ERR_NOMEM, "%s: work buffer of %zu floats", who, n);
    return buf;
}

/* Two-pass mean and standard deviation (the second pass removes the
 * cancellation of the naive sum-of-squares formula). */
static void mean_std(const float *v, size_t m, int ddof, double *mean, double *std) {
    double s = 0.0;
    for (size_t i = 0; i < m; i++) s += v[i];
    double mu = m ? s / (double)m : NAN;
    double ss = 0.0, c = 0.0;
    for (size_t i = 0; i < m; i++) {
        double d = v[i] - mu;
        ss += d * d;
        c += d;
    }
    /* c is the rounding residue of the mean; subtracting c^2/m corrects it. */
    if (mean) *mean = mu;
    if (std) {
        double dof = (double)m - (double)ddof;
        *std = dof > 0 ? sqrt(fmax(0.0, (ss - c * c / (double)m) / dof)) : NAN;
    }
}

/* Fill out from the m values in buf (reordered): mean, std, min, max,
 * upper median and MAD sigma. */
static void describe(float *buf, size_t m, int ddof, mx_stats *out) {
    out->n = m;
    if (m == 0) {
        out->mean = out->stddev = out->median = out->mad_sigma = out->min = out->max = NAN;
        return;
    }
    mean_std(buf, m, ddof, &out->mean, &out->stddev);
    float lo = buf[0], hi = buf[0];
    for (size_t i = 1; i < m; i++) {
        if (buf[i] < lo) lo = buf[i];
        if (buf[i] > hi) hi = buf[i];
    }
    out->min = lo;
    out->max = hi;
    float med = select_f(buf, m, m / 2);
    out->median = med;
    for (size_t i = 0; i < m; i++) buf[i] = fabsf(buf[i] - med);
    out->mad_sigma = select_f(buf, m, m / 2) / MX_MAD_SCALE;
}

int mx_stats_compute(const float *v, const uint8_t *mask, size_t n, int ddof, mx_stats *out) {
    if (!out || (!v && n)) return mx_seterr(MX_ERR_PARAM, "mx_stats_compute: NULL argument");
    if (ddof < 0) return mx_seterr(MX_ERR_PARAM, "mx_stats_compute: ddof %d is negative", ddof);
    float *buf = alloc_work(n, "mx_stats_compute");
    if (!buf) return MX_ERR_NOMEM;
    describe(buf, gather(v, mask, n, buf), ddof, out);
    free(buf);
    return MX_OK;
}

/* ---- clipping ----------------------------------------------------------- */

int mx_sigma_clip(const float *v, const uint8_t *mask, size_t n, double nsig_lo, double nsig_hi,
                  int maxiter, int center_mean, int ddof, mx_stats *out) {
    if (!out || (!v && n)) return mx_seterr(MX_ERR_PARAM, "mx_sigma_clip: NULL argument");
    if (!(nsig_lo > 0) || !(nsig_hi > 0))
        return mx_seterr(MX_ERR_PARAM, "mx_sigma_clip: clipping limits (%g, %g) must be > 0",
                         nsig_lo, nsig_hi);
    if (ddof < 0) return mx_seterr(MX_ERR_PARAM, "mx_sigma_clip: ddof %d is negative", ddof);
    /* Two buffers: `keep` holds the current set in input order; `tmp` is
     * scratch for the median selection, which must not reorder `keep`. */
    float *keep = alloc_work(n, "mx_sigma_clip");
    float *tmp = keep ? alloc_work(n, "mx_sigma_clip") : NULL;
    if (!tmp) {
        free(keep);
        return MX_ERR_NOMEM;
    }
    size_t m = gather(v, mask, n, keep);
    for (int it = 0; it < maxiter && m > 1; it++) {
        double mean, std, center;
        mean_std(keep, m, ddof, &mean, &std);
        if (!(std > 0)) break;
        if (center_mean) {
            center = mean;
        } else {
            memcpy(tmp, keep, m * sizeof *tmp);
            center = select_f(tmp, m, m / 2);
        }
        double lo = center - nsig_lo * std, hi = center + nsig_hi * std;
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (keep[i] >= lo && keep[i] <= hi) keep[w++] = keep[i];
        if (w == m || w == 0) break;
        m = w;
    }
    describe(keep, m, ddof, out);
    free(keep);
    free(tmp);
    return MX_OK;
}

int mx_iterative_threshold(const float *v, const uint8_t *mask, size_t n, double D, int ddof,
                           double *mean, double *std, double *threshold) {
    if (!v && n) return mx_seterr(MX_ERR_PARAM, "mx_iterative_threshold: NULL argument");
    if (ddof < 0)
        return mx_seterr(MX_ERR_PARAM, "mx_iterative_threshold: ddof %d is negative", ddof);
    float *buf = alloc_work(n, "mx_iterative_threshold");
    if (!buf) return MX_ERR_NOMEM;
    int status = MX_OK;
    size_t m = gather(v, mask, n, buf);
    double M = NAN, s = NAN, T = NAN;
    if (m == 0) {
        status = mx_seterr(MX_ERR_NUMERIC, "iterative threshold: no finite, unmasked values");
        goto exit;
    }
    /* The set shrinks strictly on every pass that does not stop, so the
     * loop ends after at most m passes. */
    for (;;) {
        mean_std(buf, m, ddof, &M, &s);
        if (!isfinite(s)) s = 0.0; /* a single value with ddof 1: nothing to spread */
        T = M + D * s;
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (buf[i] <= T) buf[w++] = buf[i];
        if (w == m || w == 0) break;
        m = w;
    }
exit:
    if (mean) *mean = M;
    if (std) *std = s;
    if (threshold) *threshold = T;
    free(buf);
    return status;
}

/* ---- mode estimates ----------------------------------------------------- */

int mx_mode_estimate(const float *v, const uint8_t *mask, size_t n, double *mode) {
    mx_stats st;
    /* Clip to convergence; 100 passes is far beyond what real data need and
     * only bounds pathological inputs. */
    int status = mx_sigma_clip(v, mask, n, 3.0, 3.0, 100, 0, 1, &st);
    if (status != MX_OK) return status;
    if (st.n == 0) return mx_seterr(MX_ERR_NUMERIC, "mode estimate: no finite, unmasked values");
    double est = st.median;
    if (st.n > 1 && st.stddev > 0 && fabs(st.mean - st.median) / st.stddev <= 0.3)
        est = 2.5 * st.median - 1.5 * st.mean;
    if (mode) *mode = est;
    return MX_OK;
}

int mx_histogram_peak(const float *v, const uint8_t *mask, size_t n, int nbins, double *peak) {
    if (!v && n) return mx_seterr(MX_ERR_PARAM, "mx_histogram_peak: NULL argument");
    if (nbins < 1) return mx_seterr(MX_ERR_PARAM, "histogram peak: nbins %d must be >= 1", nbins);
    float *buf = alloc_work(n, "mx_histogram_peak");
    long *hist = buf ? calloc((size_t)nbins, sizeof *hist) : NULL;
    int status = MX_OK;
    if (!hist) {
        status = mx_seterr(MX_ERR_NOMEM, "histogram peak: %d bins", nbins);
        goto exit;
    }
    size_t m = gather(v, mask, n, buf);
    if (m == 0) {
        status = mx_seterr(MX_ERR_NUMERIC, "histogram peak: no finite, unmasked values");
        goto exit;
    }
    /* Percentile p is sorted[round(p (m - 1))]. */
    size_t klo = (size_t)floor(0.01 * (double)(m - 1) + 0.5);
    size_t khi = (size_t)floor(0.99 * (double)(m - 1) + 0.5);
    double lo = select_f(buf, m, klo);
    double hi = select_f(buf, m, khi);
    if (!(hi > lo)) {
        if (peak) *peak = lo;
        goto exit;
    }
    double width = (hi - lo) / nbins;
    for (size_t i = 0; i < m; i++) {
        double x = buf[i];
        if (x < lo || x > hi) continue;
        long b = (long)((x - lo) / width);
        if (b >= nbins) b = nbins - 1;
        hist[b]++;
    }
    int best = 0;
    for (int b = 1; b < nbins; b++)
        if (hist[b] > hist[best]) best = b;
    double offset = 0.0;
    if (best > 0 && best < nbins - 1) {
        double cm = (double)hist[best - 1], c0 = (double)hist[best], cp = (double)hist[best + 1];
        double den = cm - 2.0 * c0 + cp;
        if (den < 0) offset = 0.5 * (cm - cp) / den;
        if (offset > 0.5) offset = 0.5;
        if (offset < -0.5) offset = -0.5;
    }
    if (peak) *peak = lo + (best + 0.5 + offset) * width;
exit:
    free(hist);
    free(buf);
    return status;
}
