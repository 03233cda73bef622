/* segment.c - Detect (image segmentation with simple / combo / peak
 * re-thresholding, blends, centroids, shapes) and Detect Radhit.
 *
 * Data layout. The segmented values live in one float array where unusable
 * pixels are NaN. Connected components are found with an explicit FIFO that
 * doubles as the component's pixel list (no recursion). One uint32 `mark`
 * per pixel tells, through ever-increasing stamps, which pixels belong to
 * the set being labelled and which were visited, so nothing is ever cleared.
 *
 * Re-segmentation is depth first over a stack of clusters whose pixel lists
 * are stacked in one pool in the same order: the cluster on top of the stack
 * owns the top region of the pool. Popping a cluster and splitting it writes
 * the children above it, then moves them down over the parent (they are a
 * subset of its pixels), so the pool never needs more than twice the largest
 * initial component. A cluster is finalised (centroid, moments, label map)
 * the moment it needs no further splitting, so the list comes out grouped by
 * initial component, which is what the blend bookkeeping needs.
 */
#include "mopex/mx_segment.h"
#include "mopex/mx_error.h"
#include "mopex/mx_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RAD2DEG (180.0 / 3.14159265358979323846)

/* ---- neighbourhoods -------------------------------------------------------- */

static const int dx8[8] = {1, -1, 0, 0, 1, -1, 1, -1};
static const int dy8[8] = {0, 0, 1, -1, 1, 1, -1, -1};

/* ---- Detect ------------------------------------------------------------------ */

typedef struct {
    size_t off, n;   /* pixel list: pool[off .. off + n) */
    double thr;      /* threshold that produced the cluster */
    int level;
} cluster;

typedef struct {
    size_t off, n;
} span;

typedef struct {
    const mx_detect_opts *o;
    long nx, ny;
    const float *w;          /* segmented values, NaN = unusable */
    const float *flux_img, *sigma_img;
    double sigma_global;
    double Tmin;
    uint32_t *mark;
    uint32_t stamp;          /* last stamp used */
    const uint8_t *peak;
    size_t *pool;
    size_t pool_cap;
    cluster *stack;
    size_t nstack, cap_stack;
    span *kids;
    size_t cap_kids;
    mx_detection *det;
    long ndet, cap_det;
    int32_t *labels, *levels;
} seg_ctx;

static int new_stamps(seg_ctx *c, int k, uint32_t *first) {
    if (c->stamp > UINT32_MAX - (uint32_t)k - 1)
        return mx_seterr(MX_ERR_INTERNAL, "Detect: more than 4e9 labelling passes");
    *first = c->stamp + 1;
    c->stamp += (uint32_t)k;
    return MX_OK;
}

static int push_cluster(seg_ctx *c, cluster k) {
    if (c->nstack == c->cap_stack) {
        size_t nc = c->cap_stack ? 2 * c->cap_stack : 64;
        cluster *ns = realloc(c->stack, nc * sizeof *ns);
        if (!ns) return mx_seterr(MX_ERR_NOMEM, "Detect: cluster stack of %zu", nc);
        c->stack = ns;
        c->cap_stack = nc;
    }
    c->stack[c->nstack++] = k;
    return MX_OK;
}

/* Breadth-first labelling of the pixels whose mark is `in`, starting at p,
 * appending to pool[*cursor ..]; visited pixels get `vis`. */
static void flood(seg_ctx *c, size_t p, uint32_t in, uint32_t vis, size_t *cursor) {
    const long nx = c->nx, ny = c->ny;
    const int nn = c->o->connectivity == 8 ? 8 : 4;
    size_t head = *cursor, tail = *cursor;
    c->pool[tail++] = p;
    c->mark[p] = vis;
    while (head < tail) {
        size_t q = c->pool[head++];
        long x = (long)(q % (size_t)nx), y = (long)(q / (size_t)nx);
        for (int k = 0; k < nn; k++) {
            long xx = x + dx8[k], yy = y + dy8[k];
            if (xx < 0 || yy < 0 || xx >= nx || yy >= ny) continue;
            size_t r = (size_t)yy * (size_t)nx + (size_t)xx;
            if (c->mark[r] == in) {
                c->mark[r] = vis;
                c->pool[tail++] = r;
            }
        }
    }
    *cursor = tail;
}

typedef struct {
    double mean, std, vmin, vmax;
} cl_stats;

static cl_stats cluster_stats(const seg_ctx *c, const cluster *k) {
    const size_t *px = c->pool + k->off;
    cl_stats s;
    double sum = 0.0;
    s.vmin = INFINITY;
    s.vmax = -INFINITY;
    for (size_t i = 0; i < k->n; i++) {
        double v = c->w[px[i]];
        sum += v;
        if (v < s.vmin) s.vmin = v;
        if (v > s.vmax) s.vmax = v;
    }
    s.mean = sum / (double)k->n;
    double ss = 0.0;
    for (size_t i = 0; i < k->n; i++) {
        double d = c->w[px[i]] - s.mean;
        ss += d * d;
    }
    long dof = (long)k->n - c->o->ddof;
    s.std = dof > 0 ? sqrt(ss / (double)dof) : NAN;
    return s;
}

/* Counted peaks of a cluster (header: fraction rule); the cluster maximum
 * stands in when no peak pixel lies inside. Returns the count and the
 * lowest counted peak value. */
static long count_peaks(const seg_ctx *c, const cluster *k, double vmax, double *pmin) {
    const size_t *px = c->pool + k->off;
    double floor_h = c->o->min_peak_fraction * (vmax - k->thr);
    long np = 0;
    double lo = INFINITY;
    for (size_t i = 0; i < k->n; i++) {
        size_t p = px[i];
        if (!c->peak[p]) continue;
        double v = c->w[p];
        if (v - k->thr < floor_h) continue;
        np++;
        if (v < lo) lo = v;
    }
    if (np == 0) {
        np = 1;
        lo = vmax;
    }
    *pmin = lo;
    return np;
}

/* Threshold the cluster at t (keep > t) and label what is left. Children
 * are not held to Detection_Min_Area: the manual states that rule for the
 * first pass only, and the peak rule isolates the lowest peak with
 * T_cl = P_min - T_min, which for a bright companion leaves one or two
 * pixels - dropping those would erase every bright member of a blend.
 * Sets *nkids (0 when nothing is left above t) and c->kids. */
static int split(seg_ctx *c, const cluster *k, double t, size_t *nkids) {
    uint32_t s = 0;
    int st = new_stamps(c, 2, &s);
    if (st != MX_OK) return st;
    const uint32_t in = s, vis = s + 1;
    size_t *px = c->pool + k->off;
    for (size_t i = 0; i < k->n; i++)
        if (c->w[px[i]] > t) c->mark[px[i]] = in;
    size_t top = k->off + k->n, cursor = top, nk = 0;
    for (size_t i = 0; i < k->n; i++) {
        size_t p = px[i];
        if (c->mark[p] != in) continue;
        size_t start = cursor;
        flood(c, p, in, vis, &cursor);
        if (nk == c->cap_kids) {
            size_t ncap = c->cap_kids ? 2 * c->cap_kids : 64;
            span *nkp = realloc(c->kids, ncap * sizeof *nkp);
            if (!nkp) return mx_seterr(MX_ERR_NOMEM, "Detect: %zu sub-clusters", ncap);
            c->kids = nkp;
            c->cap_kids = ncap;
        }
        c->kids[nk].off = start;
        c->kids[nk].n = cursor - start;
        nk++;
    }
    *nkids = nk;
    return MX_OK;
}

/* Finalise: measure, apply N_Edge, append, paint the maps. */
static int finalize(seg_ctx *c, const cluster *k) {
    const size_t *px = c->pool + k->off;
    const long nx = c->nx, ny = c->ny;
    const size_t n = k->n;
    uint32_t s = 0;
    int st = new_stamps(c, 1, &s);
    if (st != MX_OK) return st;
    /* Coordinates relative to the first pixel keep the sums small. */
    const long x0 = (long)(px[0] % (size_t)nx), y0 = (long)(px[0] / (size_t)nx);
    double sw = 0, swx = 0, swy = 0, swxx = 0, swyy = 0, swxy = 0;
    double su = 0, sux = 0, suy = 0, suxx = 0, suyy = 0, suxy = 0;
    double vmax = -INFINITY, fluxmax = -INFINITY;
    size_t pmax = px[0];
    long xmin = nx, xmax = -1, ymin = ny, ymax = -1;
    for (size_t i = 0; i < n; i++) {
        size_t p = px[i];
        c->mark[p] = s;
        double v = c->w[p];
        long x = (long)(p % (size_t)nx), y = (long)(p / (size_t)nx);
        double X = (double)(x - x0), Y = (double)(y - y0);
        sw += v;
        swx += v * X;
        swy += v * Y;
        swxx += v * X * X;
        swyy += v * Y * Y;
        swxy += v * X * Y;
        su += 1;
        sux += X;
        suy += Y;
        suxx += X * X;
        suyy += Y * Y;
        suxy += X * Y;
        if (v > vmax || (v == vmax && p < pmax)) {
            vmax = v;
            pmax = p;
        }
        if (c->flux_img) {
            float f = c->flux_img[p];
            if (isfinite(f) && f > fluxmax) fluxmax = f;
        }
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
    }
    /* Eq 8.10 with the fallback to unweighted sums when the weights do not
     * sum to a positive number (SNR images with negative pixels). */
    if (!(sw > 0)) {
        sw = su;
        swx = sux;
        swy = suy;
        swxx = suxx;
        swyy = suyy;
        swxy = suxy;
    }
    double mx = swx / sw, my = swy / sw;
    double xc = (double)x0 + mx, yc = (double)y0 + my;
    if (c->o->n_edge > 0) {
        double e = (double)c->o->n_edge;
        if (xc < e || xc > (double)(nx - 1) - e || yc < e || yc > (double)(ny - 1) - e)
            return MX_OK;
    }
    mx_detection d;
    memset(&d, 0, sizeof d);
    d.x = xc;
    d.y = yc;
    d.npix = (long)n;
    d.level = k->level;
    d.threshold = k->thr;
    d.xmin = xmin;
    d.xmax = xmax;
    d.ymin = ymin;
    d.ymax = ymax;
    d.peak_x = (long)(pmax % (size_t)nx);
    d.peak_y = (long)(pmax / (size_t)nx);
    d.flux = c->flux_img ? (fluxmax > -INFINITY ? fluxmax : NAN) : vmax;

    double x2 = swxx / sw - mx * mx, y2 = swyy / sw - my * my, xy = swxy / sw - mx * my;
    if (x2 < 0) x2 = 0;
    if (y2 < 0) y2 = 0;
    if (x2 * y2 - xy * xy < 1.0 / 144.0) { /* SExtractor's guard for thin clusters */
        x2 += 1.0 / 12.0;
        y2 += 1.0 / 12.0;
    }
    d.x2 = x2;
    d.y2 = y2;
    d.xy = xy;
    double t1 = 0.5 * (x2 + y2), t2 = sqrt(0.25 * (x2 - y2) * (x2 - y2) + xy * xy);
    d.maj_ax = sqrt(t1 + t2);
    d.min_ax = sqrt(fmax(0.0, t1 - t2));
    d.theta = 0.5 * atan2(2.0 * xy, x2 - y2) * RAD2DEG;
    d.elongation = d.min_ax > 0 ? d.maj_ax / d.min_ax : INFINITY;
    d.ellipticity = d.maj_ax > 0 ? 1.0 - d.min_ax / d.maj_ax : 0.0;

    /* Errors and the summed flux, second pass (needs the centroid). */
    double fsum = 0, s2 = 0, ex2 = 0, ey2 = 0, exy = 0;
    long perim = 0;
    for (size_t i = 0; i < n; i++) {
        size_t p = px[i];
        fsum += c->w[p];
        double sg = c->sigma_global;
        if (c->sigma_img) {
            float e = c->sigma_img[p];
            if (isfinite(e)) sg = e;
        }
        double s2i = sg * sg;
        long x = (long)(p % (size_t)nx), y = (long)(p / (size_t)nx);
        double X = (double)(x - x0) - mx, Y = (double)(y - y0) - my;
        s2 += s2i;
        ex2 += s2i * X * X;
        ey2 += s2i * Y * Y;
        exy += s2i * X * Y;
        for (int j = 0; j < 4; j++) {
            long xx = x + dx8[j], yy = y + dy8[j];
            if (xx < 0 || yy < 0 || xx >= nx || yy >= ny ||
                c->mark[(size_t)yy * (size_t)nx + (size_t)xx] != s)
                perim++;
        }
    }
    double sw2 = sw * sw;
    ex2 /= sw2;
    ey2 /= sw2;
    exy /= sw2;
    d.flux_sum = fsum;
    d.delta_flux = sqrt(s2);
    d.delta_x = sqrt(ex2);
    d.delta_y = sqrt(ey2);
    d.delta_xy = exy;
    double e1 = 0.5 * (ex2 + ey2), e2 = sqrt(0.25 * (ex2 - ey2) * (ex2 - ey2) + exy * exy);
    d.delta_maj = sqrt(e1 + e2);
    d.delta_min = sqrt(fmax(0.0, e1 - e2));
    d.delta_theta = 0.5 * atan2(2.0 * exy, ex2 - ey2) * RAD2DEG;
    d.perimeter = perim;
    d.linearity = 0.25 * (double)perim / sqrt((double)n);

    if (c->ndet == c->cap_det) {
        long nc = c->cap_det ? 2 * c->cap_det : 256;
        mx_detection *nd = realloc(c->det, (size_t)nc * sizeof *nd);
        if (!nd) return mx_seterr(MX_ERR_NOMEM, "Detect: %ld detections", nc);
        c->det = nd;
        c->cap_det = nc;
    }
    c->det[c->ndet++] = d;
    int32_t label = (int32_t)c->ndet;
    for (size_t i = 0; i < n; i++) {
        if (c->labels) c->labels[px[i]] = label;
        if (c->levels) c->levels[px[i]] = k->level;
    }
    return MX_OK;
}

/* The threshold of try number `level` (SegLevel) for a cluster with
 * statistics s (header, step 4); NaN when the rule cannot give one. */
static double rule_threshold(const seg_ctx *c, const cl_stats *s, double pmin, int level) {
    const mx_detect_opts *o = c->o;
    switch (o->threshold_type) {
    case MX_THRESH_COMBO: {
        double prod = ((double)level * c->Tmin + s->vmin) * s->mean;
        if (prod > 0) return sqrt(prod);
        return s->mean + o->threshold * s->std;
    }
    case MX_THRESH_PEAK:
        return level == 1 ? pmin - c->Tmin : pmin - c->Tmin / (double)level;
    default:
        return s->mean + o->threshold * s->std;
    }
}

/* Process one initial component (already on the stack). */
static int process_root(seg_ctx *c) {
    const mx_detect_opts *o = c->o;
    int status = MX_OK;
    while (c->nstack > 0) {
        cluster k = c->stack[--c->nstack];
        cl_stats s = cluster_stats(c, &k);
        double pmin = s.vmax;
        long npk = 1;
        if (o->threshold_type == MX_THRESH_PEAK) npk = count_peaks(c, &k, s.vmax, &pmin);
        int needs = (long)k.n > o->max_area || npk > 1;
        size_t nk = 0;
        if (needs) {
            int maxl = o->threshold_type == MX_THRESH_SIMPLE ? 1 : o->max_seg_level;
            for (int level = 1; level <= maxl; level++) {
                double t = rule_threshold(c, &s, pmin, level);
                if (!isfinite(t) || !(s.vmin <= t)) {
                    /* Nothing falls below t: no effect. Peak protects the
                     * wings of extended objects after the first try. */
                    if (o->threshold_type == MX_THRESH_PEAK && level == 1 && o->extended_area > 0 &&
                        (long)k.n > o->extended_area)
                        break;
                    continue;
                }
                if ((status = split(c, &k, t, &nk)) != MX_OK) return status;
                if (nk > 0) {
                    /* Children sit above the parent; move them down over it
                     * in reverse order so the first child ends on top. */
                    size_t dst = k.off;
                    for (size_t j = nk; j-- > 0;) {
                        memcpy(c->pool + dst, c->pool + c->kids[j].off,
                               c->kids[j].n * sizeof *c->pool);
                        cluster ch = {dst, c->kids[j].n, t, k.level + 1};
                        if ((status = push_cluster(c, ch)) != MX_OK) return status;
                        dst += c->kids[j].n;
                    }
                }
                /* A raise that erased everything ends this cluster's
                 * segmentation as it was. */
                break;
            }
        }
        if (nk == 0 && (status = finalize(c, &k)) != MX_OK) return status;
    }
    return status;
}

static int check_opts(const mx_detect_opts *o) {
    if (o->threshold_type < MX_THRESH_SIMPLE || o->threshold_type > MX_THRESH_PEAK)
        return mx_seterr(MX_ERR_PARAM, "Detect: Threshold_Type %d unknown (simple, combo, peak)",
                         o->threshold_type);
    if (o->connectivity != 4 && o->connectivity != 8)
        return mx_seterr(MX_ERR_PARAM,
                         "Detect: Neighbor_Type connectivity %d (4 = sides_only, 8 = "
                         "sides_and_corners)",
                         o->connectivity);
    if (o->peaks_radius < 1)
        return mx_seterr(MX_ERR_PARAM, "Detect: Peaks_Radius = %d: must be >= 1", o->peaks_radius);
    if (o->max_seg_level < 1)
        return mx_seterr(MX_ERR_PARAM, "Detect: Max_Segmentation_Level = %d: must be >= 1",
                         o->max_seg_level);
    if (o->min_area < 0 || o->max_area < 0)
        return mx_seterr(MX_ERR_PARAM,
                         "Detect: Detection_Min_Area/Max_Area = %ld/%ld: must be >= 0",
                         o->min_area, o->max_area);
    if (!(o->min_peak_fraction >= 0.0 && o->min_peak_fraction <= 1.0))
        return mx_seterr(MX_ERR_PARAM,
                         "Detect: Detection_Min_Peak_Fraction = %g: must be in [0, 1]",
                         o->min_peak_fraction);
    if (o->input_type != MX_INPUT_IMAGE && o->input_type != MX_INPUT_SNR)
        return mx_seterr(MX_ERR_PARAM, "Detect: Input_Type %d unknown (image_input, snr_input)",
                         o->input_type);
    if (o->ddof != 0 && o->ddof != 1)
        return mx_seterr(MX_ERR_PARAM, "Detect: ddof %d (0 or 1)", o->ddof);
    if (!isfinite(o->threshold))
        return mx_seterr(MX_ERR_PARAM, "Detect: Detection_Threshold is not finite");
    if (o->impose_stats && !(isfinite(o->imposed_mean) && isfinite(o->imposed_sigma)))
        return mx_seterr(MX_ERR_PARAM, "Detect: imposed statistics are not finite");
    return MX_OK;
}

void mx_detect_result_free(mx_detect_result *res) {
    if (!res) return;
    free(res->det);
    res->det = NULL;
    res->n = 0;
}

int mx_detect(const float *img, const uint8_t *bad, const float *coverage, const float *flux_img,
              const float *sigma_img, long nx, long ny, const mx_detect_opts *o,
              mx_detect_result *res, int32_t *labels, int32_t *levels, uint8_t *peaks) {
    if (!img || !o || !res) return mx_seterr(MX_ERR_PARAM, "Detect: NULL image, options or result");
    if (nx < 1 || ny < 1) return mx_seterr(MX_ERR_PARAM, "Detect: image size %ldx%ld", nx, ny);
    memset(res, 0, sizeof *res);
    int status = check_opts(o);
    if (status != MX_OK) return status;
    const size_t n = (size_t)nx * (size_t)ny;
    seg_ctx c;
    memset(&c, 0, sizeof c);
    float *w = malloc(n * sizeof *w);
    uint8_t *statmask = NULL, *pk = NULL;
    c.mark = NULL;
    if (!w) {
        status = mx_seterr(MX_ERR_NOMEM, "Detect: working copy of %ldx%ld", nx, ny);
        goto exit;
    }
    /* 1. Usable pixels and attenuation. */
    double vmin = INFINITY;
    for (size_t p = 0; p < n; p++) {
        float v = img[p];
        int ok = isfinite(v) && !(bad && bad[p]);
        if (ok && coverage) {
            float cv = coverage[p];
            ok = isfinite(cv) && cv >= o->min_coverage;
            if (ok && o->attenuate) v = v * sqrtf(cv > 0 ? cv : 0.0f);
        }
        w[p] = ok ? v : NAN;
        if (ok && v < vmin) vmin = v;
    }
    /* 2. Statistics and threshold. */
    double M = NAN, S = NAN, T;
    if (o->impose_stats) {
        M = o->imposed_mean;
        S = o->imposed_sigma;
    } else if (vmin < INFINITY) {
        if (o->probability_threshold > 0) {
            if (!(statmask = malloc(n))) {
                status = mx_seterr(MX_ERR_NOMEM, "Detect: statistics mask");
                goto exit;
            }
            for (size_t p = 0; p < n; p++) statmask[p] = w[p] > o->probability_threshold;
        }
        status = mx_iterative_threshold(w, statmask, n, o->threshold, o->ddof, &M, &S, NULL);
        if (status != MX_OK) {
            mx_preferr(status, "Detect: initial threshold (Probability_Threshold %g)",
                       o->probability_threshold);
            goto exit;
        }
    }
    if (o->input_type == MX_INPUT_SNR) {
        T = o->threshold;
    } else {
        if (vmin == INFINITY && !o->impose_stats) {
            status = mx_seterr(MX_ERR_NUMERIC,
                               "Detect: no usable pixel (all NaN, masked or below "
                               "Minimum_Coverage %g)",
                               o->min_coverage);
            goto exit;
        }
        T = M + o->threshold * S;
    }
    res->mean = M;
    res->sigma = S;
    res->threshold = T;
    res->image_min = vmin < INFINITY ? vmin : NAN;
    res->t_min = T - res->image_min;
    if (labels) memset(labels, 0, n * sizeof *labels);
    if (levels) memset(levels, 0, n * sizeof *levels);
    if (peaks) memset(peaks, 0, n);
    if (vmin == INFINITY) goto exit;

    /* 3. Candidates, peaks. */
    c.mark = malloc(n * sizeof *c.mark);
    pk = calloc(n, 1);
    if (!c.mark || !pk) {
        status = mx_seterr(MX_ERR_NOMEM, "Detect: label buffers for %ldx%ld", nx, ny);
        goto exit;
    }
    size_t nabove = 0;
    for (size_t p = 0; p < n; p++) {
        int above = w[p] > T;
        c.mark[p] = above ? 1u : 0u;
        nabove += (size_t)above;
    }
    const int R = o->peaks_radius;
    for (size_t p = 0; p < n; p++) {
        if (!c.mark[p]) continue;
        long x = (long)(p % (size_t)nx), y = (long)(p / (size_t)nx);
        float v = w[p];
        int is_peak = 1;
        for (long yy = y - R; yy <= y + R && is_peak; yy++) {
            if (yy < 0 || yy >= ny) continue;
            for (long xx = x - R; xx <= x + R; xx++) {
                if (xx < 0 || xx >= nx) continue;
                size_t q = (size_t)yy * (size_t)nx + (size_t)xx;
                if (q == p) continue;
                float u = w[q];
                /* NaN compares false: unusable neighbours are ignored. */
                if (u > v || (u == v && q < p)) {
                    is_peak = 0;
                    break;
                }
            }
        }
        pk[p] = (uint8_t)is_peak;
    }
    if (peaks) memcpy(peaks, pk, n);

    c.o = o;
    c.nx = nx;
    c.ny = ny;
    c.w = w;
    c.flux_img = flux_img;
    c.sigma_img = sigma_img;
    c.sigma_global = isfinite(S) ? S : 0.0;
    c.Tmin = res->t_min;
    c.stamp = 2; /* 1 = candidate, 2 = labelled by the initial pass */
    c.peak = pk;
    c.labels = labels;
    c.levels = levels;
    c.pool_cap = 2 * nabove + 1;
    c.pool = malloc(c.pool_cap * sizeof *c.pool);
    if (!c.pool) {
        status = mx_seterr(MX_ERR_NOMEM, "Detect: pixel lists for %zu pixels", nabove);
        goto exit;
    }

    /* 4-7. Initial components in raster order, each segmented to the end. */
    int blend = 0;
    long nroots = 0;
    for (size_t p = 0; p < n; p++) {
        if (c.mark[p] != 1u) continue;
        size_t cursor = 0;
        flood(&c, p, 1u, 2u, &cursor);
        if ((long)cursor < o->min_area) continue;
        if ((++nroots & 255) == 0 && (status = mx_check_interrupt()) != MX_OK) goto exit;
        long first = c.ndet;
        cluster root = {0, cursor, T, 1};
        if ((status = push_cluster(&c, root)) != MX_OK) goto exit;
        if ((status = process_root(&c)) != MX_OK) goto exit;
        long k = c.ndet - first;
        if (k > 1) {
            blend++;
            for (long i = first; i < c.ndet; i++) {
                c.det[i].blend_id = blend;
                c.det[i].blend_size = (int)k;
            }
        }
    }
    res->n_initial = nroots;
    res->n = c.ndet;
    res->det = c.det;
    c.det = NULL;
exit:
    free(w);
    free(statmask);
    free(pk);
    free(c.mark);
    free(c.pool);
    free(c.stack);
    free(c.kids);
    free(c.det);
    return status;
}

/* ---- Detect Radhit ------------------------------------------------------------ */

void mx_radhit_result_free(mx_radhit_result *res) {
    if (!res) return;
    free(res->pixels);
    res->pixels = NULL;
}

int mx_detect_radhit(const float *img, const uint8_t *bad, long nx, long ny,
                     const mx_radhit_opts *o, int32_t *mask, uint8_t *map, int want_list,
                     mx_radhit_result *res) {
    if (!img || !o) return mx_seterr(MX_ERR_PARAM, "Detect Radhit: NULL image or options");
    if (nx < 1 || ny < 1)
        return mx_seterr(MX_ERR_PARAM, "Detect Radhit: image size %ldx%ld", nx, ny);
    if (o->bit < 0 || o->bit > 30)
        return mx_seterr(MX_ERR_PARAM, "Detect Radhit: mask bit %d outside 0..30", o->bit);
    if (o->ddof != 0 && o->ddof != 1)
        return mx_seterr(MX_ERR_PARAM, "Detect Radhit: ddof %d (0 or 1)", o->ddof);
    if (!isfinite(o->seg_threshold) || !isfinite(o->radhit_threshold))
        return mx_seterr(MX_ERR_PARAM,
                         "Detect Radhit: Segmentation_Threshold/Radhit_Threshold not finite");
    const size_t n = (size_t)nx * (size_t)ny;
    int status = MX_OK;
    uint8_t *state = NULL, *hit = map;
    size_t *queue = NULL;
    mx_radhit_result r;
    memset(&r, 0, sizeof r);
    double M, S;
    if (o->impose_stats) {
        M = o->imposed_mean;
        S = o->imposed_sigma;
    } else {
        status = mx_iterative_threshold(img, bad, n, o->seg_threshold, o->ddof, &M, &S, NULL);
        if (status != MX_OK) {
            mx_preferr(status, "Detect Radhit: image statistics");
            goto exit;
        }
    }
    r.mean = M;
    r.sigma = S;
    const double tseg = M + o->seg_threshold * S, trad = M + o->radhit_threshold * S;
    /* state: 0 below / unusable, 1 candidate, 2 labelled. */
    state = malloc(n);
    if (!hit) hit = malloc(n);
    if (!state || !hit) {
        status = mx_seterr(MX_ERR_NOMEM, "Detect Radhit: flags for %ldx%ld", nx, ny);
        goto exit;
    }
    memset(hit, 0, n);
    size_t nabove = 0;
    for (size_t p = 0; p < n; p++) {
        float v = img[p];
        int c = isfinite(v) && !(bad && bad[p]) && v > tseg;
        state[p] = (uint8_t)c;
        nabove += (size_t)c;
    }
    queue = malloc((nabove ? nabove : 1) * sizeof *queue);
    if (!queue) {
        status = mx_seterr(MX_ERR_NOMEM, "Detect Radhit: queue of %zu pixels", nabove);
        goto exit;
    }
    for (size_t p0 = 0; p0 < n; p0++) {
        if (state[p0] != 1) continue;
        size_t head = 0, tail = 0;
        queue[tail++] = p0;
        state[p0] = 2;
        float vmax = img[p0];
        while (head < tail) {
            size_t q = queue[head++];
            long x = (long)(q % (size_t)nx), y = (long)(q / (size_t)nx);
            if (img[q] > vmax) vmax = img[q];
            for (int k = 0; k < 4; k++) {
                long xx = x + dx8[k], yy = y + dy8[k];
                if (xx < 0 || yy < 0 || xx >= nx || yy >= ny) continue;
                size_t s = (size_t)yy * (size_t)nx + (size_t)xx;
                if (state[s] == 1) {
                    state[s] = 2;
                    queue[tail++] = s;
                }
            }
        }
        r.n_clusters++;
        if ((long)tail <= o->max_area && vmax > trad) {
            r.n_radhits++;
            for (size_t i = 0; i < tail; i++) hit[queue[i]] = 1;
        }
    }
    for (size_t p = 0; p < n; p++) r.n_pixels += hit[p];
    if (want_list) {
        r.pixels = malloc((r.n_pixels ? (size_t)r.n_pixels : 1) * sizeof *r.pixels);
        if (!r.pixels) {
            status = mx_seterr(MX_ERR_NOMEM, "Detect Radhit: list of %ld pixels", r.n_pixels);
            goto exit;
        }
        long k = 0;
        for (size_t p = 0; p < n; p++)
            if (hit[p]) r.pixels[k++] = (long)p;
    }
    if (mask) {
        const int32_t b = (int32_t)(1u << o->bit);
        for (size_t p = 0; p < n; p++)
            if (hit[p]) mask[p] |= b;
    }
exit:
    free(state);
    free(queue);
    if (hit != map) free(hit);
    if (status == MX_OK && res)
        *res = r;
    else
        free(r.pixels);
    return status;
}
