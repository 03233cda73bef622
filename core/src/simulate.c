/* simulate.c - the simulator: configuration checks, pattern layout, truth
 * catalogue, frame rendering (sky, sources, noise, defects, cosmic rays),
 * headers, and the files and truth tables on disk. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mopex/mx_error.h"
#include "mopex/mx_list.h"
#include "mopex/mx_parallel.h"
#include "mopex/mx_table.h"
#include "simulate_priv.h"

/* Random stream purposes: every kind of draw has its own stream so that one
 * option never shifts the draws of another (noise on/off changes only the
 * noise). Per-frame streams combine the frame index with the purpose. */
enum {
    RNG_POINTING = 1,
    RNG_OFFSETS = 2,
    RNG_SOURCES = 3,
    RNG_DEFECTS = 4,
    RNG_NOISE = 16,
    RNG_COSMICS = 17,
    RNG_HOT = 18
};
#define FRAME_STREAM(i, purpose) ((((uint64_t)(i) + 1) << 8) | (uint64_t)(purpose))

/* Fixed detector defects, one byte per pixel in the plan. */
enum { DEF_NONE = 0, DEF_NAN = 1, DEF_DEAD = 2, DEF_COLUMN = 3, DEF_STRAY = 4 };

#define BIT_STRAY (1 << 3)
#define BIT_RADHIT (1 << 9)
#define BIT_LATENT (1 << 10)
#define BIT_BAD (1 << 14)
#define BAD_COLUMN_DROP 1.0 /* MJy/sr subtracted along a bad column */

struct mx_sim_plan {
    mx_sim_config cfg;        /* copy; borrowed pointers cleared */
    long nframes;
    mx_sim_frame_info *frames;
    double (*fX)[2];          /* frame centres in the global plane (radians) */
    long nsrc;
    mx_sim_source *src;
    double (*svec)[3];        /* unit vectors of the sources */
    double *sX, *sY;          /* global plane position, sorted by sX */
    long *sidx;               /* source index of each sorted entry */
    long nindexed;            /* entries in sX/sY/sidx (sources in front of the plane) */
    double gbasis[3][3];      /* tangent basis at the pattern centre */
    double gcenter[2];        /* pattern centre (ra, dec) */
    int has_sip;
    mx_sip sip;
    double dmax[2];
    sim_psf_eval psf;
    double reach;             /* frame centre to farthest rendered source, radians */
    double blob_X, blob_Y;    /* blob centre in the global plane (radians) */
    unsigned char *defects;   /* nx*ny DEF_* codes */
    char prefix[200];
};

/* ---- configuration ----------------------------------------------------- */
#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (!(cond)) return mx_seterr(MX_ERR_PARAM, __VA_ARGS__);  \
    } while (0)

int mx_sim_config_check(const mx_sim_config *c) {
    CHECK(c, "simulate: no configuration");
    CHECK(c->nx >= 8 && c->ny >= 8 && c->nx <= 16384 && c->ny <= 16384,
          "simulate: nx and ny must be between 8 and 16384 (got %ld x %ld)", c->nx, c->ny);
    CHECK(c->channel >= 1 && c->channel <= 4, "simulate: channel must be 1-4 (got %d)", c->channel);
    CHECK(!c->distortion || c->channel <= 2,
          "simulate: distortion: the built-in IRAC SIP tables cover channels 1 and 2 (got channel %d)",
          c->channel);
    CHECK(c->pixel_scale > 0 && c->pixel_scale < 3600,
          "simulate: pixel_scale must be > 0 arcsec (got %g)", c->pixel_scale);
    CHECK(c->exptime > 0 && c->framtime > 0,
          "simulate: exptime and framtime must be > 0 s (got %g, %g)", c->exptime, c->framtime);
    CHECK(c->fluxconv > 0, "simulate: fluxconv must be > 0 (got %g)", c->fluxconv);
    CHECK(c->gain > 0, "simulate: gain must be > 0 e/DN (got %g)", c->gain);
    CHECK(c->ronoise >= 0, "simulate: ronoise must be >= 0 e (got %g)", c->ronoise);
    if (c->hdr) {
        CHECK(c->exptime_short > 0 && c->framtime_short > 0,
              "simulate: exptime_short and framtime_short must be > 0 s (got %g, %g)",
              c->exptime_short, c->framtime_short);
        CHECK(c->ronoise_short >= 0, "simulate: ronoise_short must be >= 0 e (got %g)",
              c->ronoise_short);
    }
    CHECK(c->aorkey >= 0, "simulate: aorkey must be >= 0 (got %ld)", c->aorkey);
    CHECK(isfinite(c->mjd_start), "simulate: mjd_start must be finite");
    CHECK(c->pattern >= MX_SIM_DITHER && c->pattern <= MX_SIM_LIST,
          "simulate: unknown pattern %d", (int)c->pattern);
    if (c->pattern == MX_SIM_LIST) {
        CHECK(c->pointings && c->npointings >= 1,
              "simulate: pattern 'list' needs at least one pointing");
        for (long k = 0; k < c->npointings; k++)
            CHECK(isfinite(c->pointings[k].ra) && c->pointings[k].dec >= -90 &&
                      c->pointings[k].dec <= 90,
                  "simulate: pointing %ld has an invalid position (%g, %g)", k + 1,
                  c->pointings[k].ra, c->pointings[k].dec);
    } else {
        CHECK(c->nframes >= 1, "simulate: nframes must be >= 1 (got %ld)", c->nframes);
        CHECK(!c->hdr || c->nframes % 2 == 0,
              "simulate: nframes must be even with hdr (short/long pairs; got %ld)", c->nframes);
        CHECK(c->pattern != MX_SIM_TWO_GROUPS || c->nframes >= (c->hdr ? 4 : 2),
              "simulate: pattern 'two_groups' needs at least one pointing per group (nframes %ld)",
              c->nframes);
    }
    CHECK(isfinite(c->ra) && c->dec >= -90 && c->dec <= 90,
          "simulate: ra/dec must be a valid position (got %g, %g)", c->ra, c->dec);
    CHECK(isfinite(c->rotation), "simulate: rotation must be finite");
    CHECK(c->rotation_jitter >= 0 && c->pointing_jitter >= 0,
          "simulate: rotation_jitter and pointing_jitter must be >= 0");
    CHECK(c->dither_mode == MX_SIM_DITHER_RANDOM || c->dither_mode == MX_SIM_DITHER_CYCLE,
          "simulate: unknown dither mode %d", (int)c->dither_mode);
    CHECK(c->dither_scale >= 0, "simulate: dither_scale must be >= 0 arcsec (got %g)", c->dither_scale);
    CHECK(c->ndither >= 1, "simulate: ndither must be >= 1 (got %d)", c->ndither);
    CHECK(c->map_rows >= 0 && c->map_cols >= 0, "simulate: map_rows/map_cols must be >= 0");
    CHECK(c->map_overlap >= 0 && c->map_overlap <= 0.9,
          "simulate: map_overlap must be within [0, 0.9] (got %g)", c->map_overlap);
    CHECK(c->pattern != MX_SIM_TWO_GROUPS || c->group_separation > 0,
          "simulate: group_separation must be > 0 arcmin (got %g)", c->group_separation);
    CHECK(isfinite(c->sky) && isfinite(c->sky_gradient[0]) && isfinite(c->sky_gradient[1]),
          "simulate: sky and sky_gradient must be finite");
    CHECK(isfinite(c->zody_est) && isfinite(c->zody_step) && isfinite(c->skydrkzb),
          "simulate: zody_est, zody_step and skydrkzb must be finite");
    CHECK(c->offset_sigma >= 0, "simulate: offset_sigma must be >= 0 (got %g)", c->offset_sigma);
    CHECK(!c->offsets || c->noffsets >= 1, "simulate: offsets given but empty");
    CHECK(isfinite(c->blob_peak), "simulate: blob_peak must be finite");
    CHECK(c->blob_peak == 0 || c->blob_fwhm > 0,
          "simulate: blob_fwhm must be > 0 arcsec when blob_peak is set (got %g)", c->blob_fwhm);
    if (c->sources) {
        CHECK(c->nsources_given >= 0, "simulate: negative explicit source count");
        for (long k = 0; k < c->nsources_given; k++)
            CHECK(isfinite(c->sources[k].ra) && c->sources[k].dec >= -90 &&
                      c->sources[k].dec <= 90 && isfinite(c->sources[k].flux_ujy),
                  "simulate: source %ld has an invalid position or flux", k + 1);
    } else {
        CHECK(c->nsources >= 0 || c->source_density >= 0,
              "simulate: source_density must be >= 0 per arcmin^2 (got %g)", c->source_density);
        CHECK(c->flux_min > 0 && c->flux_max >= c->flux_min,
              "simulate: need 0 < flux_min <= flux_max microJy (got %g, %g)", c->flux_min,
              c->flux_max);
        CHECK(isfinite(c->flux_slope), "simulate: flux_slope must be finite");
    }
    CHECK(c->cosmics >= 0, "simulate: cosmics must be >= 0 hits per frame (got %g)", c->cosmics);
    CHECK(c->cosmic_min_sigma > 0 && c->cosmic_max_sigma >= c->cosmic_min_sigma,
          "simulate: need 0 < cosmic_min_sigma <= cosmic_max_sigma (got %g, %g)",
          c->cosmic_min_sigma, c->cosmic_max_sigma);
    CHECK(c->cosmic_flag_fraction >= 0 && c->cosmic_flag_fraction <= 1,
          "simulate: cosmic_flag_fraction must be within [0, 1] (got %g)", c->cosmic_flag_fraction);
    CHECK(c->nan_pixels >= 0 && c->dead_pixels >= 0 && c->hot_pixels >= 0 && c->bad_columns >= 0 &&
              c->stray_pixels >= 0,
          "simulate: defect counts must be >= 0");
    CHECK(c->bad_columns <= c->nx / 4, "simulate: bad_columns must be <= nx/4 (got %ld)",
          c->bad_columns);
    CHECK((double)(c->nan_pixels + c->dead_pixels + c->stray_pixels + c->hot_pixels) <=
              0.1 * (double)c->nx * (double)c->ny,
          "simulate: nan/dead/stray/hot pixels must cover at most 10%% of the frame");
    CHECK(isfinite(c->hot_level), "simulate: hot_level must be finite");
    return MX_OK;
}

/* ---- plan -------------------------------------------------------------- */
void mx_sim_plan_free(mx_sim_plan *p) {
    if (!p) return;
    free(p->frames);
    free(p->fX);
    free(p->src);
    free(p->svec);
    free(p->sX);
    free(p->sY);
    free(p->sidx);
    free(p->defects);
    sim_psf_free(&p->psf);
    free(p);
}

long mx_sim_plan_nframes(const mx_sim_plan *p) { return p->nframes; }
const mx_sim_frame_info *mx_sim_plan_frame(const mx_sim_plan *p, long i) {
    return (i >= 0 && i < p->nframes) ? &p->frames[i] : NULL;
}
long mx_sim_plan_nsources(const mx_sim_plan *p) { return p->nsrc; }
const mx_sim_source *mx_sim_plan_sources(const mx_sim_plan *p) { return p->src; }

int mx_sim_plan_tanplane(const mx_sim_plan *p, long i, mx_tanplane *out) {
    if (i < 0 || i >= p->nframes)
        return mx_seterr(MX_ERR_PARAM, "simulate: frame %ld out of range 0..%ld", i, p->nframes - 1);
    memset(out, 0, sizeof *out);
    out->crval[0] = p->frames[i].crval[0];
    out->crval[1] = p->frames[i].crval[1];
    out->crpix[0] = (double)(p->cfg.nx / 2);
    out->crpix[1] = (double)(p->cfg.ny / 2);
    mx_sim_cd_matrix(p->cfg.pixel_scale, p->frames[i].rotation, out->cd);
    out->has_sip = p->has_sip;
    if (p->has_sip) out->sip = p->sip;
    return MX_OK;
}

void mx_sim_plan_filename(const mx_sim_plan *p, long i, const char *kind, char *buf, size_t size) {
    snprintf(buf, size, "%s_%04ld_0000_1_%s.fits", p->prefix, p->frames[i].expid, kind);
}

/* Offset of dither k (arcsec, east/north) for a cycle of n positions. */
static void dither_offset(const mx_sim_config *c, long k, long n, mx_rng *r, double *de, double *dn) {
    double rad, phi;
    if (c->dither_mode == MX_SIM_DITHER_CYCLE) {
        /* Vogel spiral: n well-spread positions filling the disc, repeated */
        long m = n > 0 ? k % n : 0;
        rad = c->dither_scale * sqrt(((double)m + 0.5) / (double)(n > 0 ? n : 1));
        phi = (double)m * 2.39996322972865332; /* golden angle */
    } else {
        rad = c->dither_scale * sqrt(mx_rng_uniform(r));
        phi = 2.0 * SIM_PI * mx_rng_uniform(r);
    }
    *de = rad * cos(phi);
    *dn = rad * sin(phi);
}

/* Pointings of one map block of `np` pointings centred at (gx, gy) (radians in
 * the global plane). Writes X, Y, dither position. */
static int layout_map(const mx_sim_config *c, long np, double gx, double gy, mx_rng *r, double *X,
                      double *Y, int *dith) {
    long cells = (np + c->ndither - 1) / c->ndither;
    long rows = c->map_rows, cols = c->map_cols;
    if (rows > 0 && cols > 0) {
        if (rows * cols < cells)
            return mx_seterr(MX_ERR_PARAM,
                             "simulate: map_rows x map_cols = %ld x %ld positions cannot hold %ld "
                             "pointings with ndither %d",
                             rows, cols, np, c->ndither);
    } else if (rows > 0) {
        cols = (cells + rows - 1) / rows;
    } else if (cols > 0) {
        rows = (cells + cols - 1) / cols;
    } else {
        cols = (long)ceil(sqrt((double)cells));
        rows = (cells + cols - 1) / cols;
    }
    double cd[2][2];
    mx_sim_cd_matrix(c->pixel_scale, c->rotation, cd);
    double sx = (double)c->nx * (1.0 - c->map_overlap), sy = (double)c->ny * (1.0 - c->map_overlap);
    for (long k = 0; k < np; k++) {
        long cell = k / c->ndither, row = cell / cols, col = cell % cols;
        if (row % 2 == 1) col = cols - 1 - col; /* boustrophedon, like a raster scan */
        double dxp = ((double)col - 0.5 * (double)(cols - 1)) * sx;
        double dyp = ((double)row - 0.5 * (double)(rows - 1)) * sy;
        double de, dn;
        dither_offset(c, k % c->ndither, c->ndither, r, &de, &dn);
        X[k] = gx + (cd[0][0] * dxp + cd[0][1] * dyp) * SIM_D2R + de / SIM_R2AS;
        Y[k] = gy + (cd[1][0] * dxp + cd[1][1] * dyp) * SIM_D2R + dn / SIM_R2AS;
        dith[k] = (int)(k % c->ndither) + 1;
    }
    return MX_OK;
}


/* Bounding box (global plane, radians) of frame i's outline, widened by m. */
static void frame_box(const mx_sim_plan *p, long i, double m, double box[4]) {
    mx_tanplane tp;
    sim_geom g;
    mx_sim_plan_tanplane(p, i, &tp);
    sim_geom_init(&g, &tp);
    box[0] = box[2] = INFINITY;
    box[1] = box[3] = -INFINITY;
    double nx = (double)p->cfg.nx, ny = (double)p->cfg.ny;
    for (int e = 0; e < 16; e++) { /* 4 points per edge follow the distortion */
        double t = (double)(e % 4) / 4.0, x, y;
        switch (e / 4) {
        case 0: x = -0.5 + t * nx; y = -0.5; break;
        case 1: x = nx - 0.5; y = -0.5 + t * ny; break;
        case 2: x = nx - 0.5 - t * nx; y = ny - 0.5; break;
        default: x = -0.5; y = ny - 0.5 - t * ny; break;
        }
        double xi, eta, v[3], X, Y;
        sim_pix2plane(&g, x, y, &xi, &eta, NULL);
        sim_plane2vec(g.basis, xi, eta, v);
        if (!sim_vec2plane(p->gbasis, v, &X, &Y)) continue;
        if (X < box[0]) box[0] = X;
        if (X > box[1]) box[1] = X;
        if (Y < box[2]) box[2] = Y;
        if (Y > box[3]) box[3] = Y;
    }
    box[0] -= m;
    box[1] += m;
    box[2] -= m;
    box[3] += m;
}

static void group_box(const mx_sim_plan *p, long first, long count, double m, double box[4]) {
    box[0] = box[2] = INFINITY;
    box[1] = box[3] = -INFINITY;
    for (long i = first; i < first + count; i++) {
        double b[4];
        frame_box(p, i, m, b);
        if (b[0] < box[0]) box[0] = b[0];
        if (b[1] > box[1]) box[1] = b[1];
        if (b[2] < box[2]) box[2] = b[2];
        if (b[3] > box[3]) box[3] = b[3];
    }
}

typedef struct { double X; long i; } xkey;
static int cmp_xkey(const void *a, const void *b) {
    const xkey *x = a, *y = b;
    if (x->X < y->X) return -1;
    if (x->X > y->X) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* `given` is the caller's configuration: the plan's copy has no borrowed
 * pointers. */
static int place_sources(mx_sim_plan *p, const mx_sim_config *given, int ngroups,
                         const long *gfirst, const long *gcount) {
    const mx_sim_config *c = &p->cfg;
    if (given->sources) {
        p->nsrc = given->nsources_given;
        p->src = malloc(sizeof *p->src * (size_t)(p->nsrc > 0 ? p->nsrc : 1));
        if (!p->src) return mx_seterr(MX_ERR_NOMEM, "simulate: catalogue of %ld sources", p->nsrc);
        if (p->nsrc > 0) memcpy(p->src, given->sources, sizeof *p->src * (size_t)p->nsrc);
    } else {
        /* uniform within each group's footprint widened by the render radius,
         * so that frame edges are as crowded as frame centres */
        mx_rng r;
        mx_rng_seed(&r, c->seed, RNG_SOURCES);
        double boxes[2][4], area[2] = {0, 0}, total = 0.0;
        for (int g = 0; g < ngroups; g++) {
            group_box(p, gfirst[g], gcount[g], p->psf.rmax / SIM_R2AS, boxes[g]);
            area[g] = (boxes[g][1] - boxes[g][0]) * (boxes[g][3] - boxes[g][2]);
            total += area[g];
        }
        double arcmin2 = total * (SIM_R2AS / 60.0) * (SIM_R2AS / 60.0);
        p->nsrc = c->nsources >= 0 ? c->nsources : lround(c->source_density * arcmin2);
        p->src = malloc(sizeof *p->src * (size_t)(p->nsrc > 0 ? p->nsrc : 1));
        if (!p->src) return mx_seterr(MX_ERR_NOMEM, "simulate: catalogue of %ld sources", p->nsrc);
        double a = 1.0 - c->flux_slope;
        double lo = pow(c->flux_min, a), hi = pow(c->flux_max, a);
        for (long k = 0; k < p->nsrc; k++) {
            int g = (ngroups > 1 && mx_rng_uniform(&r) * total >= area[0]) ? 1 : 0;
            double X = boxes[g][0] + mx_rng_uniform(&r) * (boxes[g][1] - boxes[g][0]);
            double Y = boxes[g][2] + mx_rng_uniform(&r) * (boxes[g][3] - boxes[g][2]);
            double u = mx_rng_uniform(&r), f;
            if (fabs(a) < 1e-12)
                f = c->flux_min * pow(c->flux_max / c->flux_min, u);
            else
                f = pow(lo + u * (hi - lo), 1.0 / a); /* inverse CDF of F^-slope */
            double v[3];
            sim_plane2vec(p->gbasis, X, Y, v);
            sim_vec2radec(v, &p->src[k].ra, &p->src[k].dec);
            p->src[k].flux_ujy = f;
        }
    }
    /* index for the per-frame look-up: sorted by global X; a source behind the
     * global plane's horizon cannot reach any frame */
    size_t n = (size_t)(p->nsrc > 0 ? p->nsrc : 1);
    int st = MX_OK;
    xkey *keys = malloc(sizeof *keys * n);
    double *Y = malloc(sizeof *Y * n);
    p->svec = malloc(sizeof *p->svec * n);
    p->sX = malloc(sizeof *p->sX * n);
    p->sY = malloc(sizeof *p->sY * n);
    p->sidx = malloc(sizeof *p->sidx * n);
    if (!keys || !Y || !p->svec || !p->sX || !p->sY || !p->sidx) {
        st = mx_seterr(MX_ERR_NOMEM, "simulate: index of %ld sources", p->nsrc);
        goto exit;
    }
    long nk = 0;
    for (long k = 0; k < p->nsrc; k++) {
        double X;
        sim_radec2vec(p->src[k].ra, p->src[k].dec, p->svec[k]);
        if (!sim_vec2plane(p->gbasis, p->svec[k], &X, &Y[k])) continue;
        keys[nk].X = X;
        keys[nk].i = k;
        nk++;
    }
    qsort(keys, (size_t)nk, sizeof *keys, cmp_xkey);
    for (long k = 0; k < nk; k++) {
        p->sX[k] = keys[k].X;
        p->sidx[k] = keys[k].i;
        p->sY[k] = Y[keys[k].i];
    }
    p->nindexed = nk;
exit:
    free(keys);
    free(Y);
    return st;
}

/* Fixed detector defects: the same pixels in every frame, like a pmask. */
static int place_defects(mx_sim_plan *p) {
    const mx_sim_config *c = &p->cfg;
    size_t npix = (size_t)c->nx * (size_t)c->ny;
    p->defects = calloc(npix, 1);
    if (!p->defects) return mx_seterr(MX_ERR_NOMEM, "simulate: defect map of %zu pixels", npix);
    mx_rng r;
    mx_rng_seed(&r, c->seed, RNG_DEFECTS);
    for (long k = 0; k < c->bad_columns; k++) {
        long col;
        do col = (long)(mx_rng_uniform(&r) * (double)c->nx);
        while (p->defects[col] == DEF_COLUMN);
        for (long j = 0; j < c->ny; j++) p->defects[(size_t)j * (size_t)c->nx + (size_t)col] = DEF_COLUMN;
    }
    const long counts[3] = {c->nan_pixels, c->dead_pixels, c->stray_pixels};
    const unsigned char kinds[3] = {DEF_NAN, DEF_DEAD, DEF_STRAY};
    for (int t = 0; t < 3; t++) {
        for (long k = 0; k < counts[t]; k++) {
            size_t pix;
            do pix = (size_t)(mx_rng_uniform(&r) * (double)npix);
            while (p->defects[pix] != DEF_NONE);
            p->defects[pix] = kinds[t];
        }
    }
    return MX_OK;
}

int mx_sim_plan_new(const mx_sim_config *cfg, mx_sim_plan **out) {
    *out = NULL;
    int st = mx_sim_config_check(cfg);
    if (st != MX_OK) return st;
    mx_sim_plan *p = calloc(1, sizeof *p);
    double *PX = NULL, *PY = NULL, *PR = NULL;
    int *PD = NULL, *PG = NULL;
    if (!p) return mx_seterr(MX_ERR_NOMEM, "simulate: plan");
    p->cfg = *cfg;
    p->cfg.sources = NULL;
    p->cfg.pointings = NULL;
    p->cfg.offsets = NULL;
    p->cfg.out_dir = NULL;
    p->cfg.prefix = NULL;
    const mx_sim_config *c = &p->cfg;
    if (cfg->prefix && *cfg->prefix) {
        if (strchr(cfg->prefix, '/') || strlen(cfg->prefix) >= sizeof p->prefix) {
            st = mx_seterr(MX_ERR_PARAM, "simulate: prefix '%s' must be a plain name of < %zu characters",
                           cfg->prefix, sizeof p->prefix);
            goto exit;
        }
        snprintf(p->prefix, sizeof p->prefix, "%s", cfg->prefix);
    } else {
        snprintf(p->prefix, sizeof p->prefix, "SPITZER_I%d_%ld", c->channel, c->aorkey);
    }
    if ((st = sim_psf_init(&p->psf, &c->psf)) != MX_OK) goto exit;
    if (c->distortion) {
        if ((st = mx_sim_irac_sip(c->channel, &p->sip, p->dmax)) != MX_OK) goto exit;
        p->has_sip = 1;
    }

    /* ---- pointings in the global tangent plane ---- */
    int factor = c->hdr ? 2 : 1;
    long np = c->pattern == MX_SIM_LIST ? cfg->npointings : c->nframes / factor;
    if (np < 1 || np > 10000000L) {
        st = mx_seterr(MX_ERR_PARAM, "simulate: %ld pointings (must be 1 to 10^7)", np);
        goto exit;
    }
    PX = malloc(sizeof *PX * (size_t)np);
    PY = malloc(sizeof *PY * (size_t)np);
    PR = malloc(sizeof *PR * (size_t)np);
    PD = malloc(sizeof *PD * (size_t)np);
    PG = malloc(sizeof *PG * (size_t)np);
    if (!PX || !PY || !PR || !PD || !PG) {
        st = mx_seterr(MX_ERR_NOMEM, "simulate: %ld pointings", np);
        goto exit;
    }
    mx_rng r;
    mx_rng_seed(&r, c->seed, RNG_POINTING);
    long gfirst[2] = {0, 0}, gcount[2] = {0, 0};
    int ngroups = 1;
    if (c->pattern == MX_SIM_LIST) {
        /* the global plane touches the sphere at the pointings' mean direction */
        double m[3] = {0, 0, 0}, v[3];
        for (long k = 0; k < np; k++) {
            sim_radec2vec(cfg->pointings[k].ra, cfg->pointings[k].dec, v);
            for (int a = 0; a < 3; a++) m[a] += v[a];
        }
        double nrm = sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]);
        if (!(nrm > 1e-6 * (double)np)) {
            st = mx_seterr(MX_ERR_PARAM, "simulate: the listed pointings surround the sphere");
            goto exit;
        }
        for (int a = 0; a < 3; a++) m[a] /= nrm;
        sim_vec2radec(m, &p->gcenter[0], &p->gcenter[1]);
        sim_basis(p->gcenter[0], p->gcenter[1], p->gbasis);
        for (long k = 0; k < np; k++) {
            sim_radec2vec(cfg->pointings[k].ra, cfg->pointings[k].dec, v);
            if (!sim_vec2plane(p->gbasis, v, &PX[k], &PY[k]) ||
                hypot(PX[k], PY[k]) > 1.0) { /* 45 degrees */
                st = mx_seterr(MX_ERR_PARAM,
                               "simulate: pointing %ld is more than 45 degrees from the others' mean",
                               k + 1);
                goto exit;
            }
            PR[k] = isnan(cfg->pointings[k].rotation) ? c->rotation : cfg->pointings[k].rotation;
            PD[k] = 1;
            PG[k] = 1;
        }
        gcount[0] = np * factor;
    } else {
        p->gcenter[0] = c->ra;
        p->gcenter[1] = c->dec;
        sim_basis(c->ra, c->dec, p->gbasis);
        if (c->pattern == MX_SIM_DITHER) {
            for (long k = 0; k < np; k++) {
                double de, dn;
                dither_offset(c, k, np, &r, &de, &dn);
                PX[k] = de / SIM_R2AS;
                PY[k] = dn / SIM_R2AS;
                PD[k] = (int)(k + 1);
                PG[k] = 1;
            }
            gcount[0] = np * factor;
        } else if (c->pattern == MX_SIM_MAP) {
            if ((st = layout_map(c, np, 0.0, 0.0, &r, PX, PY, PD)) != MX_OK) goto exit;
            for (long k = 0; k < np; k++) PG[k] = 1;
            gcount[0] = np * factor;
        } else {
            long n1 = (np + 1) / 2, n2 = np / 2;
            double half = 0.5 * c->group_separation * 60.0 / SIM_R2AS;
            if ((st = layout_map(c, n1, -half, 0.0, &r, PX, PY, PD)) != MX_OK) goto exit;
            if ((st = layout_map(c, n2, half, 0.0, &r, PX + n1, PY + n1, PD + n1)) != MX_OK) goto exit;
            for (long k = 0; k < np; k++) PG[k] = k < n1 ? 1 : 2;
            ngroups = 2;
            gcount[0] = n1 * factor;
            gfirst[1] = n1 * factor;
            gcount[1] = n2 * factor;
        }
        for (long k = 0; k < np; k++) {
            PX[k] += mx_rng_gauss(&r) * c->pointing_jitter / SIM_R2AS;
            PY[k] += mx_rng_gauss(&r) * c->pointing_jitter / SIM_R2AS;
            PR[k] = c->rotation + mx_rng_gauss(&r) * c->rotation_jitter;
        }
    }

    /* ---- frames ---- */
    p->nframes = np * factor;
    p->frames = calloc((size_t)p->nframes, sizeof *p->frames);
    p->fX = calloc((size_t)p->nframes, sizeof *p->fX);
    if (!p->frames || !p->fX) {
        st = mx_seterr(MX_ERR_NOMEM, "simulate: %ld frames", p->nframes);
        goto exit;
    }
    double t = 0.0; /* seconds since the first frame's start */
    for (long k = 0; k < np; k++) {
        double v[3], ra, dec;
        sim_plane2vec(p->gbasis, PX[k], PY[k], v);
        sim_vec2radec(v, &ra, &dec);
        for (int h = 0; h < factor; h++) {
            long i = k * factor + h;
            mx_sim_frame_info *f = &p->frames[i];
            f->expid = i;
            f->crval[0] = ra;
            f->crval[1] = dec;
            f->rotation = PR[k];
            f->hdr_short = c->hdr && h == 0;
            f->exptime = f->hdr_short ? c->exptime_short : c->exptime;
            f->framtime = f->hdr_short ? c->framtime_short : c->framtime;
            f->ronoise = f->hdr_short ? c->ronoise_short : c->ronoise;
            f->group = PG[k];
            f->pointing = k;
            f->dithpos = PD[k];
            f->zody_est = c->zody_est + c->zody_step * (double)i;
            f->mjd = c->mjd_start + t / 86400.0;
            t += f->framtime + 12.0; /* IRAC's typical frame delay */
            p->fX[i][0] = PX[k];
            p->fX[i][1] = PY[k];
        }
    }
    if (cfg->offsets) {
        if (cfg->noffsets != p->nframes) {
            st = mx_seterr(MX_ERR_MISMATCH, "simulate: %ld offsets given for %ld frames",
                           cfg->noffsets, p->nframes);
            goto exit;
        }
        for (long i = 0; i < p->nframes; i++) p->frames[i].offset = cfg->offsets[i];
    } else if (c->offset_sigma > 0.0) {
        /* zero mean, like the offsets the overlap module solves for */
        mx_rng ro;
        mx_rng_seed(&ro, c->seed, RNG_OFFSETS);
        double mean = 0.0;
        for (long i = 0; i < p->nframes; i++) {
            p->frames[i].offset = mx_rng_gauss(&ro) * c->offset_sigma;
            mean += p->frames[i].offset;
        }
        mean /= (double)p->nframes;
        if (p->nframes > 1)
            for (long i = 0; i < p->nframes; i++) p->frames[i].offset -= mean;
    }
    if (ngroups == 2) { /* the groups must not touch, or they are not disconnected */
        double b1[4], b2[4];
        group_box(p, gfirst[0], gcount[0], 0.0, b1);
        group_box(p, gfirst[1], gcount[1], 0.0, b2);
        if (!(b1[1] < b2[0])) {
            st = mx_seterr(MX_ERR_PARAM,
                           "simulate: two_groups: the groups overlap; group_separation must exceed "
                           "%.2f arcmin",
                           c->group_separation + (b1[1] - b2[0]) * SIM_R2AS / 60.0);
            goto exit;
        }
    }
    /* largest distance from a frame's centre to a source that can touch it:
     * half diagonal (+2% for distortion and plane scale) + SIP + PSF radius */
    p->reach = (0.51 * hypot((double)c->nx, (double)c->ny) + 4.0) * c->pixel_scale * 1.02 / SIM_R2AS +
               p->psf.rmax / SIM_R2AS;
    if ((st = place_sources(p, cfg, ngroups, gfirst, gcount)) != MX_OK) goto exit;
    {
        double bra = isnan(c->blob_ra) ? p->gcenter[0] : c->blob_ra;
        double bdec = isnan(c->blob_dec) ? p->gcenter[1] : c->blob_dec;
        double v[3];
        sim_radec2vec(bra, bdec, v);
        if (c->blob_peak != 0.0 && !sim_vec2plane(p->gbasis, v, &p->blob_X, &p->blob_Y)) {
            st = mx_seterr(MX_ERR_PARAM, "simulate: the blob centre is 90 degrees from the pattern");
            goto exit;
        }
    }
    st = place_defects(p);
exit:
    free(PX);
    free(PY);
    free(PR);
    free(PD);
    free(PG);
    if (st != MX_OK) {
        mx_sim_plan_free(p);
        return st;
    }
    *out = p;
    return MX_OK;
}

/* ---- headers ----------------------------------------------------------- */
/* ISO date of an MJD, milliseconds, like IRAC's DATE_OBS. */
static void mjd_to_iso(double mjd, char *buf, size_t size) {
    long long ms = llround(mjd * 86400000.0);
    long long day = ms / 86400000LL, rem = ms % 86400000LL;
    if (rem < 0) { rem += 86400000LL; day--; }
    /* days since 1970-01-01 -> civil date (H. Hinnant's algorithm) */
    long long z = day - 40587 + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    snprintf(buf, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lld", y, m, d, rem / 3600000,
             rem / 60000 % 60, rem / 1000 % 60, rem % 1000);
}

static int put_sip(mx_header *h, const char *name, int order,
                   const double c[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1], const char *what) {
    char key[16];
    int st;
    snprintf(key, sizeof key, "%s_ORDER", name);
    if ((st = mx_header_set_long(h, key, order, what)) != MX_OK) return st;
    for (int p = 0; p <= order; p++)
        for (int q = 0; p + q <= order; q++) {
            if (c[p][q] == 0.0) continue;
            snprintf(key, sizeof key, "%s_%d_%d", name, p, q);
            if ((st = mx_header_set_double(h, key, c[p][q], "distortion coefficient")) != MX_OK)
                return st;
        }
    return MX_OK;
}

int mx_sim_frame_header(const mx_sim_plan *p, long i, mx_header **out) {
    *out = NULL;
    if (i < 0 || i >= p->nframes)
        return mx_seterr(MX_ERR_PARAM, "simulate: frame %ld out of range 0..%ld", i, p->nframes - 1);
    const mx_sim_config *c = &p->cfg;
    const mx_sim_frame_info *f = &p->frames[i];
    mx_tanplane tp;
    mx_sim_plan_tanplane(p, i, &tp);
    mx_header *h = mx_header_new();
    if (!h) return mx_seterr(MX_ERR_NOMEM, "simulate: header");
    char date[40], text[96];
    mjd_to_iso(f->mjd, date, sizeof date);
    int st = MX_OK;
#define S(call) do { if (st == MX_OK) st = (call); } while (0)
    S(mx_header_set_string(h, "ORIGIN", "mopexlua", "simulated data"));
    S(mx_header_set_string(h, "CREATOR", "mopexlua simulate", "SW that created this file"));
    S(mx_header_set_string(h, "TELESCOP", "Spitzer", "simulated SPITZER Space Telescope"));
    S(mx_header_set_string(h, "INSTRUME", "IRAC", "SPITZER Space Telescope instrument ID"));
    S(mx_header_set_long(h, "CHNLNUM", c->channel, "1 digit instrument channel number"));
    S(mx_header_set_string(h, "EXPTYPE", "sci", "Exposure Type"));
    S(mx_header_set_string(h, "OBJECT", "SIMULATION", "Target Name"));
    S(mx_header_set_string(h, "DATE_OBS", date, "Date & time (UTC) at DCE start"));
    S(mx_header_set_double(h, "MJD_OBS", f->mjd, "[days] MJD in UTC at DCE start"));
    S(mx_header_set_double(h, "FRAMTIME", f->framtime, "[sec] Time spent integrating (whole array)"));
    S(mx_header_set_double(h, "EXPTIME", f->exptime, "[sec] Effective integration time per pixel"));
    S(mx_header_set_bool(h, "HDRMODE", c->hdr, "DCE taken in High Dynamic Range mode"));
    if (c->hdr) S(mx_header_set_string(h, "HDRFRAME", f->hdr_short ? "short" : "long", "HDR frame"));
    S(mx_header_set_double(h, "CRPIX1", tp.crpix[0], "Reference pixel along axis 1"));
    S(mx_header_set_double(h, "CRPIX2", tp.crpix[1], "Reference pixel along axis 2"));
    S(mx_header_set_double(h, "CRVAL1", tp.crval[0], "[deg] RA at CRPIX1,CRPIX2"));
    S(mx_header_set_double(h, "CRVAL2", tp.crval[1], "[deg] DEC at CRPIX1,CRPIX2"));
    S(mx_header_set_string(h, "RADESYS", "ICRS", "International Celestial Reference System"));
    S(mx_header_set_double(h, "EQUINOX", 2000.0, "Equinox for ICRS celestial coord. system"));
    S(mx_header_set_double(h, "CD1_1", tp.cd[0][0], "CD matrix element"));
    S(mx_header_set_double(h, "CD1_2", tp.cd[0][1], "CD matrix element"));
    S(mx_header_set_double(h, "CD2_1", tp.cd[1][0], "CD matrix element"));
    S(mx_header_set_double(h, "CD2_2", tp.cd[1][1], "CD matrix element"));
    S(mx_header_set_string(h, "CTYPE1", p->has_sip ? "RA---TAN-SIP" : "RA---TAN",
                           p->has_sip ? "RA---TAN with distortion in pixel space" : "RA---TAN"));
    S(mx_header_set_string(h, "CTYPE2", p->has_sip ? "DEC--TAN-SIP" : "DEC--TAN",
                           p->has_sip ? "DEC--TAN with distortion in pixel space" : "DEC--TAN"));
    S(mx_header_set_double(h, "PXSCAL1", -c->pixel_scale, "[arcsec/pix] Scale for axis 1 at CRPIX"));
    S(mx_header_set_double(h, "PXSCAL2", c->pixel_scale, "[arcsec/pix] Scale for axis 2 at CRPIX"));
    S(mx_header_set_double(h, "PA", f->rotation, "[deg] Position angle of axis 2 (E of N)"));
    S(mx_header_set_double(h, "RA_REF", c->pattern == MX_SIM_LIST ? p->gcenter[0] : c->ra,
                           "[deg] Commanded RA (J2000) of ref. position"));
    S(mx_header_set_double(h, "DEC_REF", c->pattern == MX_SIM_LIST ? p->gcenter[1] : c->dec,
                           "[deg] Commanded Dec (J2000) of ref. position"));
    if (p->has_sip) {
        S(put_sip(h, "A", p->sip.a_order, p->sip.a, "polynomial order, axis 1, detector to sky"));
        S(mx_header_set_double(h, "A_DMAX", p->dmax[0], "[pixel] maximum correction"));
        S(put_sip(h, "B", p->sip.b_order, p->sip.b, "polynomial order, axis 2, detector to sky"));
        S(mx_header_set_double(h, "B_DMAX", p->dmax[1], "[pixel] maximum correction"));
        S(put_sip(h, "AP", p->sip.ap_order, p->sip.ap, "polynomial order, axis 1, sky to detector"));
        S(put_sip(h, "BP", p->sip.bp_order, p->sip.bp, "polynomial order, axis 2, sky to detector"));
    }
    S(mx_header_set_string(h, "BUNIT", "MJy/sr", "Units of image data"));
    S(mx_header_set_double(h, "FLUXCONV", c->fluxconv, "Flux Conv. factor (MJy/sr per DN/sec)"));
    S(mx_header_set_double(h, "GAIN", c->gain, "e/DN conversion"));
    S(mx_header_set_double(h, "RONOISE", f->ronoise, "[Electrons] Readout Noise from Array"));
    S(mx_header_set_double(h, "ZODY_EST", f->zody_est, "[MJy/sr] Zodiacal Background Estimate"));
    S(mx_header_set_double(h, "SKYDRKZB", c->skydrkzb,
                           "[MJy/sr] Zodiacal Background Est of Subtracted Skydark"));
    S(mx_header_set_long(h, "DITHPOS", f->dithpos, "Current dither position"));
    S(mx_header_set_long(h, "AORKEY", c->aorkey, "AOR or EIR key"));
    S(mx_header_set_long(h, "EXPID", f->expid, "Exposure ID (0-9999)"));
    S(mx_header_set_long(h, "DCENUM", 0, "DCE number (0-9999)"));
    snprintf(text, sizeof text, "simulated by mopexlua simulate, seed %llu, frame %ld of %ld",
             (unsigned long long)c->seed, i + 1, p->nframes);
    S(mx_header_add_history(h, text));
#undef S
    if (st != MX_OK) {
        mx_header_free(h);
        return mx_preferr(st, "simulate: header of frame %ld", i + 1);
    }
    *out = h;
    return MX_OK;
}

static const char *const bit_doc[15] = {
    "Overall data quality of imask pixel", "Reserved for future use",
    "Set if optical ghost present", "Set if stray light present",
    "Set if saturation corrected in pipeline", "Set if muxbleed/bandwidth effect present",
    "Set if banding present", "Set if column pulldown present", "Set if crosstalk present",
    "Set if pixel contains radhit", "Set if pixel contains latent image",
    "Set if flat field was not applied", "Set if pixel is not linear",
    "Set if pixel is uncorrected saturation", "Set if data is bad or missing"};

/* ---- one frame --------------------------------------------------------- */
void mx_sim_frame_clear(mx_sim_frame *f) {
    if (!f) return;
    mx_image_free(f->image);
    mx_image_free(f->sigma);
    mx_image_free(f->mask);
    free(f->cosmics);
    memset(f, 0, sizeof *f);
}

static int replace_header(mx_image *img, const mx_header *h) {
    mx_header *d = mx_header_dup(h);
    if (!d) return mx_seterr(MX_ERR_NOMEM, "simulate: header copy");
    mx_header_free(img->hdr);
    img->hdr = d;
    return MX_OK;
}

/* Noise-free sky of the global plane position (radians). */
static double sky_at(const mx_sim_plan *p, double base, double X, double Y) {
    const mx_sim_config *c = &p->cfg;
    double v = base + (c->sky_gradient[0] * X + c->sky_gradient[1] * Y) / SIM_D2R;
    if (c->blob_peak != 0.0) {
        double s = c->blob_fwhm / (2.0 * sqrt(2.0 * log(2.0))) / SIM_R2AS;
        double dx = X - p->blob_X, dy = Y - p->blob_Y;
        v += c->blob_peak * exp(-(dx * dx + dy * dy) / (2.0 * s * s));
    }
    return v;
}

static double frame_base(const mx_sim_plan *p, long i) {
    const mx_sim_frame_info *f = &p->frames[i];
    return p->cfg.sky + (f->zody_est - p->cfg.skydrkzb) + f->offset;
}

static int add_cosmic(mx_sim_frame *out, long *cap, const mx_sim_cosmic *c) {
    if (out->ncosmics == *cap) {
        long n = *cap ? 2 * *cap : 32;
        mx_sim_cosmic *v = realloc(out->cosmics, sizeof *v * (size_t)n);
        if (!v) return mx_seterr(MX_ERR_NOMEM, "simulate: cosmic-ray list of %ld entries", n);
        out->cosmics = v;
        *cap = n;
    }
    out->cosmics[out->ncosmics++] = *c;
    return MX_OK;
}

static int render_cosmics(const mx_sim_plan *p, long i, mx_sim_frame *out, unsigned char *used) {
    const mx_sim_config *c = &p->cfg;
    const mx_sim_frame_info *f = &p->frames[i];
    long nx = c->nx, ny = c->ny, cap = 0, nhit = 0;
    float *d = out->image->data;
    const float *s = out->sigma->data;
    int32_t *m = out->mask->mask;
    mx_rng r;
    mx_rng_seed(&r, c->seed, FRAME_STREAM(i, RNG_COSMICS));
    long n = mx_rng_poisson(&r, c->cosmics * f->framtime / c->framtime);
    double lratio = log(c->cosmic_max_sigma / c->cosmic_min_sigma);
    static const int nb[8][2] = {{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}};
    for (long h = 0; h < n; h++) {
        /* every hit draws the same numbers in the same order */
        double ut = mx_rng_uniform(&r), ud = mx_rng_uniform(&r), us = mx_rng_uniform(&r);
        double uf = mx_rng_uniform(&r), ulen = mx_rng_uniform(&r);
        long x0 = -1, y0 = -1;
        for (int attempt = 0; attempt < 100; attempt++) {
            long x = (long)(mx_rng_uniform(&r) * (double)nx), y = (long)(mx_rng_uniform(&r) * (double)ny);
            size_t k = (size_t)y * (size_t)nx + (size_t)x;
            if (m[k] == 0 && !used[k] && isfinite(d[k])) {
                x0 = x;
                y0 = y;
                break;
            }
        }
        if (x0 < 0) continue;
        int len = ut < 0.4 ? 1 : ut < 0.7 ? 2 : (ulen < 0.5 ? 3 : 4);
        long px[4], py[4];
        px[0] = x0;
        py[0] = y0;
        if (len == 2) {
            int dd = (int)(ud * 8.0);
            px[1] = x0 + nb[dd][0];
            py[1] = y0 + nb[dd][1];
        } else if (len > 2) { /* a short straight track */
            double th = 2.0 * SIM_PI * ud;
            for (int k = 1; k < len; k++) {
                px[k] = x0 + lround(k * cos(th));
                py[k] = y0 + lround(k * sin(th));
            }
        }
        double s0 = c->cosmic_min_sigma * exp(us * lratio);
        int flagged = uf < c->cosmic_flag_fraction;
        int got = 0;
        for (int k = 0; k < len; k++) {
            double sig = s0;
            if (k > 0) { /* secondary pixels: weaker, never below the minimum */
                sig = s0 * (0.3 + 0.7 * mx_rng_uniform(&r));
                if (sig < c->cosmic_min_sigma) sig = c->cosmic_min_sigma;
            }
            if (px[k] < 0 || py[k] < 0 || px[k] >= nx || py[k] >= ny) continue;
            size_t q = (size_t)py[k] * (size_t)nx + (size_t)px[k];
            if (used[q] || m[q] != 0 || !isfinite(d[q])) continue;
            if (!got) nhit++;
            got = 1;
            mx_sim_cosmic e = {i + 1, nhit, px[k], py[k], sig * (double)s[q], sig, flagged};
            float before = d[q];
            d[q] = (float)((double)before + e.amplitude);
            e.amplitude = (double)d[q] - (double)before; /* the raise as stored in float */
            used[q] = 1;
            if (flagged) m[q] |= BIT_RADHIT;
            int st = add_cosmic(out, &cap, &e);
            if (st != MX_OK) return st;
        }
    }
    return MX_OK;
}

int mx_sim_render_frame(const mx_sim_plan *p, long i, mx_sim_frame *out) {
    memset(out, 0, sizeof *out);
    if (i < 0 || i >= p->nframes)
        return mx_seterr(MX_ERR_PARAM, "simulate: frame %ld out of range 0..%ld", i, p->nframes - 1);
    const mx_sim_config *c = &p->cfg;
    const mx_sim_frame_info *f = &p->frames[i];
    long nx = c->nx, ny = c->ny;
    size_t npix = (size_t)nx * (size_t)ny;
    mx_header *hdr = NULL;
    unsigned char *used = NULL;
    sim_scratch scr = {NULL, 0};
    mx_tanplane tp;
    sim_geom g;
    int st;
    if ((st = mx_sim_frame_header(p, i, &hdr)) != MX_OK) goto exit;
    if ((st = mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &out->image)) != MX_OK) goto exit;
    if ((st = mx_image_new(nx, ny, MX_IMG_FLOAT, -32, 0.0f, &out->sigma)) != MX_OK) goto exit;
    if ((st = mx_image_new(nx, ny, MX_IMG_INT, 16, 0.0f, &out->mask)) != MX_OK) goto exit;
    if ((st = replace_header(out->image, hdr)) != MX_OK) goto exit;
    if ((st = replace_header(out->sigma, hdr)) != MX_OK) goto exit;
    if ((st = replace_header(out->mask, hdr)) != MX_OK) goto exit;
    mx_header_set_string(out->sigma->hdr, "BUNIT", "MJy/sr", "Units of the 1-sigma uncertainty");
    mx_header_delete(out->mask->hdr, "BUNIT");
    for (int b = 0; b < 15 && st == MX_OK; b++) {
        char key[9];
        snprintf(key, sizeof key, "BIT%02d", b);
        st = mx_header_set_long(out->mask->hdr, key, 1L << b, bit_doc[b]);
    }
    if (st != MX_OK) goto exit;
    mx_sim_plan_tanplane(p, i, &tp);
    sim_geom_init(&g, &tp);
    float *d = out->image->data, *s = out->sigma->data;
    int32_t *m = out->mask->mask;

    /* sky */
    double base = frame_base(p, i);
    if (c->sky_gradient[0] != 0.0 || c->sky_gradient[1] != 0.0 || c->blob_peak != 0.0) {
        for (long y = 0; y < ny; y++) {
            sim_row row;
            sim_row_init(&row, &g, (double)y);
            for (long x = 0; x < nx; x++) {
                double xi, eta, v[3], X = 0, Y = 0;
                sim_row_pix2plane(&row, (double)x, &xi, &eta, NULL);
                sim_plane2vec(g.basis, xi, eta, v);
                sim_vec2plane(p->gbasis, v, &X, &Y);
                d[(size_t)y * (size_t)nx + (size_t)x] = (float)sky_at(p, base, X, Y);
            }
        }
    } else {
        for (size_t k = 0; k < npix; k++) d[k] = (float)base;
    }

    /* point sources near the frame: binary search on the sorted global X */
    {
        double Xc = p->fX[i][0], Yc = p->fX[i][1], R = p->reach * 1.01;
        long lo = 0, hi = p->nindexed;
        while (lo < hi) {
            long mid = lo + (hi - lo) / 2;
            if (p->sX[mid] < Xc - R) lo = mid + 1; else hi = mid;
        }
        for (long k = lo; k < p->nindexed && p->sX[k] <= Xc + R; k++) {
            if (fabs(p->sY[k] - Yc) > R) continue;
            long si = p->sidx[k];
            double xs, ys;
            st = sim_render_source(&g, &p->psf, p->svec[si], p->src[si].ra, p->src[si].dec,
                                   p->src[si].flux_ujy, nx, ny, d, &scr, &xs, &ys);
            if (st != MX_OK) {
                mx_preferr(st, "simulate: frame %ld, source %ld", i + 1, si + 1);
                goto exit;
            }
        }
    }

    /* uncertainty from the noise-free signal (000 l.1250-1277), then noise */
    {
        double ge = f->exptime * c->gain / c->fluxconv; /* electrons per MJy/sr */
        double ro = f->ronoise / ge;
        for (size_t k = 0; k < npix; k++) {
            double S = d[k] > 0.0f ? (double)d[k] : 0.0;
            s[k] = (float)sqrt(ro * ro + S / ge);
        }
        if (c->noise) {
            mx_rng r;
            mx_rng_seed(&r, c->seed, FRAME_STREAM(i, RNG_NOISE));
            for (size_t k = 0; k < npix; k++) d[k] = (float)((double)d[k] + (double)s[k] * mx_rng_gauss(&r));
        }
    }

    /* detector defects, then this frame's hot (latent) pixels */
    for (size_t k = 0; k < npix; k++) {
        switch (p->defects[k]) {
        case DEF_NAN: d[k] = NAN; s[k] = NAN; m[k] |= BIT_BAD; break;
        case DEF_DEAD: d[k] = 0.0f; m[k] |= BIT_BAD; break;
        case DEF_COLUMN: d[k] = (float)((double)d[k] - BAD_COLUMN_DROP); m[k] |= BIT_BAD; break;
        case DEF_STRAY: m[k] |= BIT_STRAY; break;
        default: break;
        }
    }
    if (c->hot_pixels > 0) {
        mx_rng r;
        mx_rng_seed(&r, c->seed, FRAME_STREAM(i, RNG_HOT));
        for (long h = 0; h < c->hot_pixels; h++) {
            size_t k;
            do k = (size_t)(mx_rng_uniform(&r) * (double)npix);
            while (m[k] != 0);
            d[k] = (float)((double)d[k] + c->hot_level);
            m[k] |= BIT_LATENT;
        }
    }

    /* cosmic rays last: they sit on top of everything, unflagged */
    if (c->cosmics > 0.0) {
        used = calloc(npix, 1);
        if (!used) {
            st = mx_seterr(MX_ERR_NOMEM, "simulate: cosmic-ray map of %zu pixels", npix);
            goto exit;
        }
        if ((st = render_cosmics(p, i, out, used)) != MX_OK) goto exit;
    }
exit:
    free(scr.v);
    free(used);
    mx_header_free(hdr);
    if (st != MX_OK) mx_sim_frame_clear(out);
    return st;
}

/* ---- explicit sources from a table -------------------------------------- */
int mx_sim_sources_from_table(const mx_table *t, const char *source, mx_sim_source **out, long *n) {
    *out = NULL;
    *n = 0;
    const char *src = source ? source : "sources table";
    int cra = mx_table_find_column(t, "ra"), cdec = mx_table_find_column(t, "dec");
    int cf = mx_table_find_column(t, "flux_ujy");
    if (cf < 0) cf = mx_table_find_column(t, "flux");
    if (cra < 0 || cdec < 0 || cf < 0)
        return mx_seterr(MX_ERR_NOTFOUND, "'%s' needs columns ra, dec and flux_ujy (or flux)", src);
    mx_sim_source *v = malloc(sizeof *v * (size_t)(t->nrows > 0 ? t->nrows : 1));
    if (!v) return mx_seterr(MX_ERR_NOMEM, "'%s': %ld sources", src, t->nrows);
    for (long r = 0; r < t->nrows; r++) {
        if (mx_table_get_double(t, cra, r, &v[r].ra) != MX_OK ||
            mx_table_get_double(t, cdec, r, &v[r].dec) != MX_OK ||
            mx_table_get_double(t, cf, r, &v[r].flux_ujy) != MX_OK) {
            free(v);
            return mx_seterr(MX_ERR_FORMAT, "'%s' row %ld: ra, dec and flux must be numbers", src,
                             r + 1);
        }
    }
    *out = v;
    *n = t->nrows;
    return MX_OK;
}

/* ---- to disk ----------------------------------------------------------- */
typedef struct {
    const mx_sim_plan *p;
    const char *dir;
    mx_sim_cosmic **cos;
    long *ncos;
    mx_progress *prog;
} sim_job;

static int write_image(const mx_image *img, const char *dir, const char *name) {
    char *path = mx_path_join(dir, name);
    if (!path) return mx_seterr(MX_ERR_NOMEM, "simulate: path of '%s'", name);
    int st = mx_image_write(img, path);
    free(path);
    return st;
}

static int frame_job(long i, void *ctx, int thread) {
    (void)thread;
    sim_job *j = ctx;
    mx_sim_frame f;
    char name[256];
    int st = mx_check_interrupt();
    if (st != MX_OK) return st;
    if ((st = mx_sim_render_frame(j->p, i, &f)) != MX_OK) return st;
    mx_sim_plan_filename(j->p, i, "cbcd", name, sizeof name);
    if ((st = write_image(f.image, j->dir, name)) != MX_OK) goto exit;
    mx_sim_plan_filename(j->p, i, "cbunc", name, sizeof name);
    if ((st = write_image(f.sigma, j->dir, name)) != MX_OK) goto exit;
    mx_sim_plan_filename(j->p, i, "bimsk", name, sizeof name);
    if ((st = write_image(f.mask, j->dir, name)) != MX_OK) goto exit;
    j->cos[i] = f.cosmics; /* kept for the truth table, in frame order */
    j->ncos[i] = f.ncosmics;
    f.cosmics = NULL;
    mx_progress_step(j->prog, 1);
exit:
    mx_sim_frame_clear(&f);
    return st;
}

void mx_sim_result_clear(mx_sim_result *res) {
    if (!res) return;
    free(res->cbcd_list);
    free(res->cbunc_list);
    free(res->bimsk_list);
    free(res->sources_tbl);
    free(res->offsets_tbl);
    free(res->cosmics_tbl);
    free(res->frames_tbl);
    memset(res, 0, sizeof *res);
}

static int write_table(mx_table *t, const char *dir, const char *name, char **path_out) {
    char *path = mx_path_join(dir, name);
    if (!path) return mx_seterr(MX_ERR_NOMEM, "simulate: path of '%s'", name);
    int st = mx_table_write_ipac(t, path);
    if (st == MX_OK && path_out) *path_out = path; else free(path);
    return st;
}

#define TRY(call) do { if ((st = (call)) != MX_OK) goto exit; } while (0)

static int sources_table(const mx_sim_plan *p, mx_table **out) {
    int st = MX_OK, cid, cra, cdec, cf;
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "simulate: sources table");
    TRY(mx_table_add_column(t, "id", MX_COL_INT, NULL, &cid));
    TRY(mx_table_add_column(t, "ra", MX_COL_DOUBLE, "deg", &cra));
    TRY(mx_table_add_column(t, "dec", MX_COL_DOUBLE, "deg", &cdec));
    TRY(mx_table_add_column(t, "flux_ujy", MX_COL_DOUBLE, "microJy", &cf));
    TRY(mx_table_add_comment(t, "truth catalogue of mopexlua simulate"));
    TRY(mx_table_set_nrows(t, p->nsrc));
    for (long k = 0; k < p->nsrc; k++) {
        TRY(mx_table_set_int(t, cid, k, k + 1));
        TRY(mx_table_set_double(t, cra, k, p->src[k].ra));
        TRY(mx_table_set_double(t, cdec, k, p->src[k].dec));
        TRY(mx_table_set_double(t, cf, k, p->src[k].flux_ujy));
    }
exit:
    if (st != MX_OK) mx_table_free(t); else *out = t;
    return st;
}

static int offsets_table(const mx_sim_plan *p, mx_table **out) {
    int st = MX_OK, cid, co;
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "simulate: offsets table");
    TRY(mx_table_add_column(t, "Image_id", MX_COL_INT, NULL, &cid));
    TRY(mx_table_add_column(t, "Offset", MX_COL_DOUBLE, "MJy/sr", &co));
    TRY(mx_table_add_comment(t, "truth: additive offset of each frame (list order), zero mean "
                                "unless given explicitly"));
    TRY(mx_table_set_nrows(t, p->nframes));
    for (long i = 0; i < p->nframes; i++) {
        TRY(mx_table_set_int(t, cid, i, i + 1));
        TRY(mx_table_set_double(t, co, i, p->frames[i].offset));
    }
exit:
    if (st != MX_OK) mx_table_free(t); else *out = t;
    return st;
}

static int cosmics_table(const mx_sim_plan *p, mx_sim_cosmic *const *cos, const long *ncos,
                         mx_table **out, long *total) {
    int st = MX_OK, c[7];
    long n = 0, row = 0;
    for (long i = 0; i < p->nframes; i++) n += ncos[i];
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "simulate: cosmics table");
    TRY(mx_table_add_column(t, "Image_id", MX_COL_INT, NULL, &c[0]));
    TRY(mx_table_add_column(t, "hit", MX_COL_INT, NULL, &c[1]));
    TRY(mx_table_add_column(t, "x", MX_COL_INT, "pix", &c[2]));
    TRY(mx_table_add_column(t, "y", MX_COL_INT, "pix", &c[3]));
    TRY(mx_table_add_column(t, "amplitude", MX_COL_DOUBLE, "MJy/sr", &c[4]));
    TRY(mx_table_add_column(t, "significance", MX_COL_DOUBLE, "sigma", &c[5]));
    TRY(mx_table_add_column(t, "flagged", MX_COL_INT, NULL, &c[6]));
    TRY(mx_table_add_comment(t, "truth: cosmic-ray pixels (FITS 1-based x, y); flagged = bit 9 "
                                "set in the bimsk"));
    TRY(mx_table_set_nrows(t, n));
    for (long i = 0; i < p->nframes; i++)
        for (long k = 0; k < ncos[i]; k++, row++) {
            const mx_sim_cosmic *e = &cos[i][k];
            TRY(mx_table_set_int(t, c[0], row, e->image_id));
            TRY(mx_table_set_int(t, c[1], row, e->hit));
            TRY(mx_table_set_int(t, c[2], row, e->x + 1));
            TRY(mx_table_set_int(t, c[3], row, e->y + 1));
            TRY(mx_table_set_double(t, c[4], row, e->amplitude));
            TRY(mx_table_set_double(t, c[5], row, e->significance));
            TRY(mx_table_set_int(t, c[6], row, e->flagged));
        }
    *total = n;
exit:
    if (st != MX_OK) mx_table_free(t); else *out = t;
    return st;
}

static int frames_table(const mx_sim_plan *p, mx_table **out) {
    static const char *const names[] = {"Image_id", "file", "expid", "crval1", "crval2",
                                        "rotation", "exptime", "framtime", "hdrframe", "grp",
                                        "pointing", "dithpos", "offset", "zody_est", "skydrkzb",
                                        "background"};
    static const mx_coltype types[] = {MX_COL_INT, MX_COL_STRING, MX_COL_INT, MX_COL_DOUBLE,
                                       MX_COL_DOUBLE, MX_COL_DOUBLE, MX_COL_DOUBLE, MX_COL_DOUBLE,
                                       MX_COL_STRING, MX_COL_INT, MX_COL_INT, MX_COL_INT,
                                       MX_COL_DOUBLE, MX_COL_DOUBLE, MX_COL_DOUBLE, MX_COL_DOUBLE};
    static const char *const units[] = {NULL, NULL, NULL, "deg", "deg", "deg", "s", "s", NULL,
                                        NULL, NULL, NULL, "MJy/sr", "MJy/sr", "MJy/sr", "MJy/sr"};
    int st = MX_OK, c[16];
    mx_table *t = mx_table_new();
    if (!t) return mx_seterr(MX_ERR_NOMEM, "simulate: frames table");
    for (int k = 0; k < 16; k++) TRY(mx_table_add_column(t, names[k], types[k], units[k], &c[k]));
    TRY(mx_table_add_comment(t, "truth: one row per frame in list order; background = noise-free "
                                "sky at CRVAL (sky + gradient + blob + ZODY_EST - SKYDRKZB + offset)"));
    TRY(mx_table_set_nrows(t, p->nframes));
    for (long i = 0; i < p->nframes; i++) {
        const mx_sim_frame_info *f = &p->frames[i];
        char name[256];
        mx_sim_plan_filename(p, i, "cbcd", name, sizeof name);
        TRY(mx_table_set_int(t, c[0], i, i + 1));
        TRY(mx_table_set_string(t, c[1], i, name));
        TRY(mx_table_set_int(t, c[2], i, f->expid));
        TRY(mx_table_set_double(t, c[3], i, f->crval[0]));
        TRY(mx_table_set_double(t, c[4], i, f->crval[1]));
        TRY(mx_table_set_double(t, c[5], i, f->rotation));
        TRY(mx_table_set_double(t, c[6], i, f->exptime));
        TRY(mx_table_set_double(t, c[7], i, f->framtime));
        TRY(mx_table_set_string(t, c[8], i, p->cfg.hdr ? (f->hdr_short ? "short" : "long") : "-"));
        TRY(mx_table_set_int(t, c[9], i, f->group));
        TRY(mx_table_set_int(t, c[10], i, f->pointing + 1));
        TRY(mx_table_set_int(t, c[11], i, f->dithpos));
        TRY(mx_table_set_double(t, c[12], i, f->offset));
        TRY(mx_table_set_double(t, c[13], i, f->zody_est));
        TRY(mx_table_set_double(t, c[14], i, p->cfg.skydrkzb));
        TRY(mx_table_set_double(t, c[15], i, sky_at(p, frame_base(p, i), p->fX[i][0], p->fX[i][1])));
    }
exit:
    if (st != MX_OK) mx_table_free(t); else *out = t;
    return st;
}

static int write_list(const mx_sim_plan *p, const char *dir, const char *kind, const char *lname,
                      char **path_out) {
    int st = MX_OK;
    long n = p->nframes;
    char **names = calloc((size_t)n, sizeof *names);
    char *path = mx_path_join(dir, lname);
    if (!names || !path) {
        st = mx_seterr(MX_ERR_NOMEM, "simulate: list '%s'", lname);
        goto exit;
    }
    for (long i = 0; i < n; i++) {
        char name[256];
        mx_sim_plan_filename(p, i, kind, name, sizeof name);
        if (!(names[i] = strdup(name))) {
            st = mx_seterr(MX_ERR_NOMEM, "simulate: list '%s'", lname);
            goto exit;
        }
    }
    /* names relative to the list's directory: the list reader falls back to
     * it, so the set can be moved or read from any working directory */
    TRY(mx_list_write_paths((int)n, (const char *const *)names, path));
    *path_out = path;
    path = NULL;
exit:
    if (names)
        for (long i = 0; i < n; i++) free(names[i]);
    free(names);
    free(path);
    return st;
}

int mx_simulate(const mx_sim_config *cfg, mx_sim_result *res) {
    mx_sim_plan *p = NULL;
    mx_sim_result r;
    mx_table *t = NULL;
    sim_job job;
    memset(&r, 0, sizeof r);
    memset(&job, 0, sizeof job);
    if (res) memset(res, 0, sizeof *res);
    int st;
    if (!cfg || !cfg->out_dir || !*cfg->out_dir)
        return mx_seterr(MX_ERR_PARAM, "simulate: out_dir is required");
    TRY(mx_sim_plan_new(cfg, &p));
    if (p->nframes > 2147483647L) {
        st = mx_seterr(MX_ERR_PARAM, "simulate: too many frames (%ld)", p->nframes);
        goto exit;
    }
    TRY(mx_mkdir_p(cfg->out_dir));
    job.p = p;
    job.dir = cfg->out_dir;
    job.cos = calloc((size_t)p->nframes, sizeof *job.cos);
    job.ncos = calloc((size_t)p->nframes, sizeof *job.ncos);
    if (!job.cos || !job.ncos) {
        st = mx_seterr(MX_ERR_NOMEM, "simulate: truth of %ld frames", p->nframes);
        goto exit;
    }
    job.prog = mx_progress_start("simulate", p->nframes, "frames");
    st = mx_parallel_for(p->nframes, frame_job, &job);
    mx_progress_done(job.prog);
    if (st != MX_OK) goto exit;

    TRY(write_list(p, cfg->out_dir, "cbcd", "cbcd.lst", &r.cbcd_list));
    TRY(write_list(p, cfg->out_dir, "cbunc", "cbunc.lst", &r.cbunc_list));
    TRY(write_list(p, cfg->out_dir, "bimsk", "bimsk.lst", &r.bimsk_list));
    TRY(sources_table(p, &t));
    TRY(write_table(t, cfg->out_dir, "sources.tbl", &r.sources_tbl));
    mx_table_free(t);
    t = NULL;
    TRY(offsets_table(p, &t));
    TRY(write_table(t, cfg->out_dir, "offsets.tbl", &r.offsets_tbl));
    mx_table_free(t);
    t = NULL;
    TRY(cosmics_table(p, job.cos, job.ncos, &t, &r.ncosmics));
    TRY(write_table(t, cfg->out_dir, "cosmics.tbl", &r.cosmics_tbl));
    mx_table_free(t);
    t = NULL;
    TRY(frames_table(p, &t));
    TRY(write_table(t, cfg->out_dir, "frames.tbl", &r.frames_tbl));
    r.nframes = p->nframes;
    r.nsources = p->nsrc;
exit:
    mx_table_free(t);
    if (job.cos)
        for (long i = 0; i < p->nframes; i++) free(job.cos[i]);
    free(job.cos);
    free(job.ncos);
    mx_sim_plan_free(p);
    if (st != MX_OK || !res) mx_sim_result_clear(&r);
    if (st == MX_OK && res) *res = r;
    return st;
}
