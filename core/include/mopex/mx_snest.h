/* mx_snest.h - the S/N Estimator: uncertainty images from a gain and
 * read-noise model when no uncertainty images exist (000 l.1228-1345,
 * l.2323-2429; overlap.md 4.3.3, mosaic.md 5.6.3).
 *
 * Per pixel with value I (image units, e.g. MJy/sr):
 *
 *     sigma = sqrt( Read_Noise^2 / Gain^2 + Confusion_Sigma^2 / Gain^2 + max(I, 0) / Gain )
 *
 * (the guide's Eq 4.2, garbled in the text; the square root follows from
 * sigma being a standard deviation). Gain is in electrons per image unit,
 * the noises in electrons. A negative I contributes no Poisson term; a
 * non-finite I gives NaN. Gain <= 0 or a negative noise is MX_ERR_PARAM.
 *
 * Spitzer (the guide's Eq 4.1, 000 l.1250-1277): the header's GAIN is in
 * e-/DN and FLUXCONV converts DN/s into MJy/sr, so the MOPEX gain in
 * e-/(MJy/sr) is
 *
 *     Gain = EXPTIME * GAIN / FLUXCONV        (read noise: RONOISE)
 *
 * e.g. IRAC ch1, EXPTIME 93.6 s, GAIN 3.7, FLUXCONV 0.1257: 2755.13.
 * The module does not read headers; mx_snest_spitzer_gain helps the user
 * find the numbers (Lua: mopex.core.spitzer_gain(path)).
 */
#ifndef MX_SNEST_H
#define MX_SNEST_H

#include <stddef.h>
#include "mx_header.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every field must be set (defaults live in lua/mopex/modules/sn_estimator.lua). */
typedef struct mx_snest_opts {
    double gain;            /* e- per image unit, > 0 */
    double read_noise;      /* e-, >= 0 */
    double confusion_sigma; /* e-, >= 0 */
} mx_snest_opts;

int mx_snest_check(const mx_snest_opts *o);

/* The kernel on n pixels (out may alias in). */
int mx_snest_sigma(const float *in, float *out, size_t n, const mx_snest_opts *o);

/* Read each image, write its uncertainty image to outputs[i] (float32,
 * same size and header as the input: WCS, BUNIT and every other card, plus
 * a HISTORY line with the model), atomically; parallel over frames, one
 * frame in memory per thread. */
int mx_snest_run(int n, const char *const *images, const char *const *outputs,
                 const mx_snest_opts *o);

/* Eq 4.1 from a Spitzer header: *gain = EXPTIME * GAIN / FLUXCONV and
 * *read_noise = RONOISE (NaN when the header has none). MX_ERR_NOTFOUND
 * naming the missing keyword, MX_ERR_PARAM for non-positive values. */
int mx_snest_spitzer_gain(const mx_header *h, const char *source, double *gain,
                          double *read_noise);

#ifdef __cplusplus
}
#endif
#endif
