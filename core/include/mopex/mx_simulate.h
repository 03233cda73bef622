/* mx_simulate.h - Spitzer/IRAC-like frames with known truth (the guide's
 * simulate.pl idea): the test, demo and benchmark data of mopexlua.
 *
 * What a simulated frame is
 * -------------------------
 * A BCD-like triple per frame: <prefix>_<EXPID>_0000_1_cbcd.fits (float32,
 * MJy/sr), _cbunc.fits (float32, 1-sigma, MJy/sr) and _bimsk.fits (BITPIX 16
 * DCE status mask, IRAC bit meanings in BIT00..BIT14). The WCS is TAN-SIP with
 * a CD matrix (rotation = CROTA2 = PA, east left), CRPIX = (nx/2, ny/2) like
 * IRAC (128,128 for 256x256), and by default the real 5th-order IRAC SIP
 * A/B/AP/BP coefficients of the S19.2 pipeline (copied from a real ch1 or ch2
 * header, see mx_sim_irac_sip). Headers carry the keywords the modules read:
 * BUNIT, EXPTIME, FRAMTIME, FLUXCONV, GAIN, RONOISE, CHNLNUM, INSTRUME,
 * DATE_OBS, MJD_OBS, AORKEY, EXPID, RA_REF/DEC_REF, ZODY_EST, SKYDRKZB,
 * PXSCAL1/2, PA, DITHPOS, HDRMODE and (HDR only) HDRFRAME.
 *
 * Pixel values (noise-free part), in MJy/sr:
 *   I(x,y) = sky + gx*X + gy*Y + (ZODY_EST_i - SKYDRKZB) + offset_i + blob(X,Y)
 *          + sum_sources F_s * P_s(pixel) / (23.5044305 * A(x,y))
 * where (X,Y) are the pixel centre's standard coordinates (degrees, east and
 * north) in the tangent plane of the pattern centre (ra, dec), A(x,y) is the
 * pixel's local solid angle in arcsec^2 (mx_sim_pixel_area: the Jacobian of
 * the full TAN-SIP mapping) and P_s(pixel) is the fraction of source s's flux
 * that falls in the pixel's exact (distorted) sky footprint: the PSF is
 * integrated on an n x n grid of sub-samples per pixel, each mapped through
 * SIP + CD + the exact gnomonic homography into the source's own tangent
 * plane (per pixel, SIP is linearised about the pixel centre: < 1e-5 px).
 * The fractions of a source are normalised so that they sum to exactly 1 over
 * its whole render box (also the part off the frame): sum(I*A)/23.5044305 over
 * a large aperture equals the truth flux F_s in microJy.
 *
 * Noise: sigma^2 = (RONOISE/g)^2 + max(I,0)/g with g = EXPTIME*GAIN/FLUXCONV
 * electrons per MJy/sr (000 l.1250-1277), computed from the noise-free I; the
 * _cbunc file holds that sigma; the noisy value is I + sigma*N(0,1) (or I when
 * noise is off: same sigmas, same cosmics, same masks).
 *
 * Cosmic rays: Poisson(cosmics * FRAMTIME/framtime) hits per frame, each 1
 * pixel, a 2-pixel cluster or a 3-4 pixel track; each pixel's significance
 * is drawn log-uniformly in [cosmic_min_sigma, cosmic_max_sigma] (secondary
 * pixels of a hit: 0.3-1 times the primary, at least the minimum) and its
 * amplitude is significance*sigma. Hits never share a pixel nor land on a
 * flagged/NaN pixel. They are NOT flagged in the bimsk, except a fraction
 * cosmic_flag_fraction of the hits which get bit 9 (radhit).
 *
 * Status masks: fixed detector defects (the same pixels in every frame):
 * nan_pixels (value and sigma NaN, bit 14), dead_pixels (value 0, bit 14),
 * bad_columns (whole columns, value lowered by 1 MJy/sr, bit 14),
 * stray_pixels (bit 3 stray light, values untouched: fatal only for patterns
 * that include bit 3); per frame: hot_pixels (latent, bit 10, value raised by
 * hot_level).
 *
 * Determinism: every random draw comes from xoshiro256** streams seeded from
 * (seed, frame, purpose), so a seed gives identical files for any thread
 * count, and switching noise on/off changes nothing but the noise.
 *
 * Coordinates: 0-based pixels in C (FITS = ours + 1); truth tables written to
 * disk use FITS 1-based x/y like every user-facing table.
 */
#ifndef MX_SIMULATE_H
#define MX_SIMULATE_H

#include <stdint.h>
#include "mx_image.h"
#include "mx_wcs.h"
#include "mx_table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- random numbers ---------------------------------------------------- */
/* xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64 from a
 * (seed, stream) pair: independent, reproducible streams. */
typedef struct mx_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} mx_rng;

void mx_rng_seed(mx_rng *r, uint64_t seed, uint64_t stream);
/* Seed the raw state directly (reference test vectors). */
void mx_rng_set_state(mx_rng *r, const uint64_t s[4]);
uint64_t mx_rng_next(mx_rng *r);
double mx_rng_uniform(mx_rng *r);        /* [0, 1), 53 random bits */
double mx_rng_gauss(mx_rng *r);          /* N(0, 1), Marsaglia polar method */
long mx_rng_poisson(mx_rng *r, double mean); /* inversion below 30, PTRS above */

/* ---- geometry (exact TAN-SIP math, no wcslib: thread-safe) -------------- */
/* The real S19.2 IRAC SIP distortion (A, B, AP, BP, order 5) of channel 1 or
 * 2, as found in the headers of AORKEY 46291456; dmax gets A_DMAX, B_DMAX
 * (may be NULL). MX_ERR_PARAM for another channel. */
int mx_sim_irac_sip(int channel, mx_sip *out, double dmax[2]);

/* A frame's CD matrix (degrees/pixel) for pixel scale `scale` (arcsec) and
 * position angle `rotation` (degrees east of north of the +y axis), east left:
 * CD = scale/3600 * [[-cos r, sin r], [sin r, cos r]]. */
void mx_sim_cd_matrix(double scale_arcsec, double rotation_deg, double cd[2][2]);

/* Pixel (0-based) -> sky (degrees) through SIP (if tp->has_sip), CD and the
 * gnomonic projection about tp->crval. */
void mx_sim_pix2sky(const mx_tanplane *tp, double x, double y, double *ra, double *dec);
/* Sky -> pixel (0-based), SIP inverted by Newton iteration (< 1e-10 px).
 * MX_ERR_WCS when the point is 90 degrees or more from the tangent point or
 * the inversion fails. */
int mx_sim_sky2pix(const mx_tanplane *tp, double ra, double dec, double *x, double *y);
/* Local solid angle of pixel (x, y) in arcsec^2 (Jacobian of pix2sky). */
double mx_sim_pixel_area(const mx_tanplane *tp, double x, double y);

/* ---- PSF --------------------------------------------------------------- */
typedef enum {
    MX_SIM_PSF_GAUSSIAN = 0,        /* exp(-r^2/2s^2), FWHM = fwhm */
    MX_SIM_PSF_DOUBLE_GAUSSIAN = 1, /* (1-f) core(fwhm) + f wing(wing_fwhm) */
    MX_SIM_PSF_AIRY = 2             /* [2 J1(kr)/kr]^2 with the given FWHM */
} mx_sim_psf_kind;

typedef struct mx_sim_psf {
    mx_sim_psf_kind kind;
    double fwhm;          /* arcsec (core FWHM) */
    double wing_fwhm;     /* arcsec, double Gaussian only */
    double wing_fraction; /* flux fraction of the wing, double Gaussian only */
    double radius;        /* render radius in units of the widest FWHM (> 0) */
    int oversample;       /* n: n x n sub-samples per pixel (1..64) */
} mx_sim_psf;

/* Add a point source of `flux_ujy` microJy at (ra, dec) to the nx*ny MJy/sr
 * image `img` of the frame `tp` (pixels outside the frame are skipped, their
 * share of the flux is lost from the image, not renormalised). *x, *y (may
 * be NULL) receive the source's 0-based pixel position. A source whose
 * render box misses the frame is no error (nothing is added). */
int mx_sim_render_source(const mx_tanplane *tp, const mx_sim_psf *psf, double ra, double dec,
                         double flux_ujy, long nx, long ny, float *img, double *x, double *y);

/* ---- configuration ----------------------------------------------------- */
typedef enum {
    MX_SIM_DITHER = 0,     /* dithered stare at (ra, dec) */
    MX_SIM_MAP = 1,        /* raster map with n dithers per pointing */
    MX_SIM_TWO_GROUPS = 2, /* two maps group_separation apart (disconnected) */
    MX_SIM_LIST = 3        /* explicit pointings */
} mx_sim_pattern;

typedef enum { MX_SIM_DITHER_RANDOM = 0, MX_SIM_DITHER_CYCLE = 1 } mx_sim_dither_mode;

typedef struct mx_sim_source {
    double ra, dec;    /* degrees */
    double flux_ujy;   /* microJy */
} mx_sim_source;

typedef struct mx_sim_pointing {
    double ra, dec;    /* degrees: CRVAL of the frame(s) */
    double rotation;   /* degrees (PA); NaN: the config's rotation */
} mx_sim_pointing;

/* Every field is used; there are no defaults here (the Lua schema
 * lua/mopex/modules/simulate.lua holds them). Pointers are borrowed. */
typedef struct mx_sim_config {
    /* output (mx_simulate only) */
    const char *out_dir;     /* created if missing */
    const char *prefix;      /* file prefix; NULL or "": "SPITZER_I<channel>_<aorkey>" */

    /* detector and exposure */
    long nx, ny;             /* frame size */
    int channel;             /* CHNLNUM, and the SIP table when distortion is on */
    int distortion;          /* 1: real IRAC SIP of `channel`; 0: plain TAN */
    double pixel_scale;      /* arcsec/pixel */
    double exptime, framtime;/* seconds (long frames) */
    double fluxconv;         /* MJy/sr per DN/s */
    double gain;             /* e/DN */
    double ronoise;          /* electrons (long frames) */
    int hdr;                 /* 1: frames come in short/long pairs at each pointing */
    double exptime_short, framtime_short, ronoise_short; /* HDR short frames */
    long aorkey;
    double mjd_start;        /* MJD_OBS of the first frame */

    /* pattern */
    mx_sim_pattern pattern;
    long nframes;            /* frames written (ignored by MX_SIM_LIST); even when hdr */
    double ra, dec;          /* target = pattern centre (degrees), RA_REF/DEC_REF */
    double rotation;         /* PA of the frames, degrees */
    double rotation_jitter;  /* rms per pointing, degrees */
    double pointing_jitter;  /* rms per axis per pointing, arcsec */
    mx_sim_dither_mode dither_mode;
    double dither_scale;     /* arcsec: radius of the dither disc / spiral */
    int ndither;             /* dithers per map position (>= 1) */
    int map_rows, map_cols;  /* 0: chosen from the frame count (near square) */
    double map_overlap;      /* fraction of a frame shared by neighbours (0..0.9) */
    double group_separation; /* arcmin between the two group centres */
    const mx_sim_pointing *pointings; /* MX_SIM_LIST */
    long npointings;

    /* sky, in MJy/sr */
    double sky;              /* constant level */
    double sky_gradient[2];  /* MJy/sr per degree along east (X) and north (Y) */
    double zody_est;         /* ZODY_EST of the first frame */
    double zody_step;        /* ZODY_EST change per frame */
    double skydrkzb;         /* SKYDRKZB */
    double offset_sigma;     /* rms of the per-frame offsets (made zero-mean) */
    const double *offsets;   /* explicit per-frame offsets (noffsets == frames) or NULL */
    long noffsets;
    double blob_peak;        /* extended Gaussian blob peak (0 = none) */
    double blob_fwhm;        /* arcsec */
    double blob_ra, blob_dec;/* NaN: the pattern centre */

    /* point sources */
    const mx_sim_source *sources; /* explicit catalogue (used when non-NULL) */
    long nsources_given;
    long nsources;           /* random catalogue size; < 0: from source_density */
    double source_density;   /* per arcmin^2 of the footprint */
    double flux_min, flux_max; /* microJy */
    double flux_slope;       /* dN/dF ~ F^-slope */
    mx_sim_psf psf;

    /* noise and defects */
    int noise;               /* 0: noise-free values (sigmas still written) */
    double cosmics;          /* mean hits per frame of FRAMTIME framtime */
    double cosmic_min_sigma, cosmic_max_sigma;
    double cosmic_flag_fraction; /* hits flagged with bit 9 */
    long nan_pixels, dead_pixels, hot_pixels, bad_columns, stray_pixels;
    double hot_level;        /* MJy/sr added to hot pixels */

    uint64_t seed;
} mx_sim_config;

/* Check a configuration: MX_ERR_PARAM naming the field and the reason. */
int mx_sim_config_check(const mx_sim_config *cfg);

/* ---- plan: pointings, offsets and the truth catalogue ------------------ */
typedef struct mx_sim_frame_info {
    long expid;              /* EXPID = 0-based frame index */
    double crval[2];         /* degrees */
    double rotation;         /* degrees */
    double exptime, framtime, ronoise;
    int hdr_short;           /* 1: short frame of an HDR pair */
    int group;               /* 1 or 2 */
    long pointing;           /* 0-based pointing index */
    int dithpos;             /* 1-based dither position at its map position */
    double offset;           /* additive truth offset, MJy/sr */
    double zody_est;
    double mjd;
} mx_sim_frame_info;

typedef struct mx_sim_plan mx_sim_plan; /* opaque */

/* Lay out the pattern and draw offsets and sources (no I/O). The plan keeps
 * a copy of cfg but borrows nothing: explicit sources/pointings/offsets are
 * copied. */
int mx_sim_plan_new(const mx_sim_config *cfg, mx_sim_plan **out);
void mx_sim_plan_free(mx_sim_plan *p);
long mx_sim_plan_nframes(const mx_sim_plan *p);
const mx_sim_frame_info *mx_sim_plan_frame(const mx_sim_plan *p, long i);
long mx_sim_plan_nsources(const mx_sim_plan *p);
const mx_sim_source *mx_sim_plan_sources(const mx_sim_plan *p); /* ids are index+1 */
/* The TAN(-SIP) geometry of frame i. */
int mx_sim_plan_tanplane(const mx_sim_plan *p, long i, mx_tanplane *out);
/* File base name of frame i with a kind suffix ("cbcd", "cbunc", "bimsk"),
 * e.g. "SPITZER_I1_40000000_0007_0000_1_cbcd.fits". */
void mx_sim_plan_filename(const mx_sim_plan *p, long i, const char *kind, char *buf, size_t size);

/* ---- one frame in memory ----------------------------------------------- */
typedef struct mx_sim_cosmic {
    long image_id;       /* 1-based frame number (list order) */
    long hit;            /* 1-based hit number within the frame */
    long x, y;           /* 0-based pixel */
    double amplitude;    /* MJy/sr added */
    double significance; /* amplitude / sigma */
    int flagged;         /* bit 9 set in the bimsk */
} mx_sim_cosmic;

typedef struct mx_sim_frame {
    mx_image *image;     /* cbcd: float, header with WCS and keywords */
    mx_image *sigma;     /* cbunc: float */
    mx_image *mask;      /* bimsk: int, bitpix 16 */
    mx_sim_cosmic *cosmics;
    long ncosmics;
} mx_sim_frame;

/* Render frame i of the plan. Fills *out (caller frees with
 * mx_sim_frame_clear). Thread-safe for distinct out structures. */
int mx_sim_render_frame(const mx_sim_plan *p, long i, mx_sim_frame *out);
void mx_sim_frame_clear(mx_sim_frame *f);

/* The frame's full FITS header (WCS, SIP, exposure and truth-free keywords). */
int mx_sim_frame_header(const mx_sim_plan *p, long i, mx_header **out);

/* ---- everything to disk ------------------------------------------------ */
typedef struct mx_sim_result {
    long nframes, nsources, ncosmics;
    char *cbcd_list, *cbunc_list, *bimsk_list;   /* paths of the three lists */
    char *sources_tbl, *offsets_tbl, *cosmics_tbl, *frames_tbl;
} mx_sim_result;

/* Write every frame (parallel over frames with mx_parallel_for), the lists
 * cbcd.lst, cbunc.lst, bimsk.lst (file names relative to out_dir) and the
 * truth tables (IPAC):
 *   sources.tbl  id, ra, dec, flux_ujy
 *   offsets.tbl  Image_id (1-based), Offset (MJy/sr added to the frame)
 *   cosmics.tbl  Image_id, hit, x, y (FITS 1-based), amplitude, significance, flagged
 *   frames.tbl   Image_id, file, expid, crval1, crval2, rotation, exptime,
 *                framtime, hdrframe, grp, pointing, dithpos, offset, zody_est,
 *                skydrkzb, background (noise-free sky level at the frame centre)
 * Memory stays flat in the number of frames. `res` (may be NULL) receives
 * counts and paths; free with mx_sim_result_clear. */
int mx_simulate(const mx_sim_config *cfg, mx_sim_result *res);
void mx_sim_result_clear(mx_sim_result *res);

/* Explicit sources from a table with columns ra, dec and flux_ujy (or flux),
 * case-insensitive. Caller frees *out. `source` names the table in messages. */
int mx_sim_sources_from_table(const mx_table *t, const char *source,
                              mx_sim_source **out, long *n);

#ifdef __cplusplus
}
#endif
#endif
