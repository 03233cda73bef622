/* snest.c - the S/N Estimator (mx_snest.h). */
#include "mopex/mopex.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int mx_snest_check(const mx_snest_opts *o) {
    if (!o) return mx_seterr(MX_ERR_PARAM, "S/N estimator: no options");
    if (!(o->gain > 0) || !isfinite(o->gain))
        return mx_seterr(MX_ERR_PARAM, "S/N estimator: Gain = %g must be > 0 (electrons per image "
                         "unit)", o->gain);
    if (!(o->read_noise >= 0) || !isfinite(o->read_noise))
        return mx_seterr(MX_ERR_PARAM, "S/N estimator: Read_Noise = %g must be >= 0 electrons",
                         o->read_noise);
    if (!(o->confusion_sigma >= 0) || !isfinite(o->confusion_sigma))
        return mx_seterr(MX_ERR_PARAM, "S/N estimator: Confusion_Sigma = %g must be >= 0 electrons",
                         o->confusion_sigma);
    return MX_OK;
}

int mx_snest_sigma(const float *in, float *out, size_t n, const mx_snest_opts *o) {
    int st = mx_snest_check(o);
    if (st != MX_OK) return st;
    const double g = o->gain;
    const double base = (o->read_noise * o->read_noise + o->confusion_sigma * o->confusion_sigma) / (g * g);
    const double ig = 1.0 / g;
    for (size_t i = 0; i < n; i++) {
        double v = in[i];
        /* NaN and Inf: the pixel has no uncertainty */
        if (!isfinite(v)) {
            out[i] = NAN;
            continue;
        }
        out[i] = (float)sqrt(base + (v > 0 ? v * ig : 0.0));
    }
    return MX_OK;
}

typedef struct snest_ctx {
    const char *const *images, *const *outputs;
    const mx_snest_opts *o;
    mx_progress *prog;
} snest_ctx;

static int snest_frame(long i, void *vctx, int thread) {
    (void)thread;
    snest_ctx *c = vctx;
    mx_image *img = NULL;
    int st = mx_image_read(c->images[i], &img);
    if (st != MX_OK) return st;
    size_t n = (size_t)img->nx * (size_t)img->ny;
    if ((st = mx_snest_sigma(img->data, img->data, n, c->o)) != MX_OK) goto exit;
    char hist[200];
    snprintf(hist, sizeof hist,
             "mopexlua sn_estimator: sigma = sqrt((RN^2 + CS^2)/G^2 + max(I,0)/G), G = %.9g, "
             "RN = %.9g, CS = %.9g", c->o->gain, c->o->read_noise, c->o->confusion_sigma);
    if ((st = mx_header_add_history(img->hdr, hist)) != MX_OK) goto exit;
    if ((st = mx_image_write(img, c->outputs[i])) != MX_OK) goto exit;
    mx_progress_step(c->prog, 1);
exit:
    mx_image_free(img);
    return st;
}

int mx_snest_run(int n, const char *const *images, const char *const *outputs,
                 const mx_snest_opts *o) {
    int st = mx_snest_check(o);
    if (st != MX_OK) return st;
    if (n < 1 || !images || !outputs) return mx_seterr(MX_ERR_PARAM, "S/N estimator: no input images");
    snest_ctx c = {images, outputs, o, mx_progress_start("sn_estimator", n, "frames")};
    st = mx_parallel_for(n, snest_frame, &c);
    mx_progress_done(c.prog);
    return st;
}

int mx_snest_spitzer_gain(const mx_header *h, const char *source, double *gain,
                          double *read_noise) {
    const char *src = source ? source : "header";
    static const char *const keys[3] = {"EXPTIME", "GAIN", "FLUXCONV"};
    double v[3];
    for (int k = 0; k < 3; k++) {
        int st = mx_header_get_double(h, keys[k], &v[k]);
        if (st != MX_OK)
            return mx_seterr(st, "'%s': Gain = EXPTIME * GAIN / FLUXCONV needs %s (%s)", src, keys[k],
                             mx_errmsg());
        if (!(v[k] > 0) || !isfinite(v[k]))
            return mx_seterr(MX_ERR_PARAM, "'%s': %s = %g must be positive for the gain", src,
                             keys[k], v[k]);
    }
    *gain = v[0] * v[1] / v[2];
    if (read_noise) {
        double rn;
        if (mx_header_has(h, "RONOISE") && mx_header_get_double(h, "RONOISE", &rn) == MX_OK)
            *read_noise = rn;
        else
            *read_noise = NAN;
        mx_clearerr();
    }
    return MX_OK;
}
