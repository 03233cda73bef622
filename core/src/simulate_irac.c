/* simulate_irac.c - the real IRAC distortion, as the simulator's default.
 *
 * SIP coefficients (A, B: detector -> sky; AP, BP: sky -> detector; order 5)
 * copied from the S19.2 pipeline headers of AORKEY 46291456 (channel 1 EXPID
 * 56, channel 2 EXPID 3; ../shared/data/gammit_grb120119a, the same values
 * as gbrammer/golfir's bcd_ch1/ch2.header). They describe the array, not a
 * pointing, so they hold for any CRVAL and rotation.
 */
#include "mopex/mx_error.h"
#include "simulate_priv.h"

#include <string.h>

typedef struct { int p, q; double c; } sip_term;

static const sip_term irac_ch1_a[] = {
    {0, 2, 3.0882e-06}, {0, 3, 6.54e-09}, {0, 4, 3.4787e-11},
    {0, 5, -1.1354e-13}, {1, 1, 2.0844e-05}, {1, 2, -2.1434e-07},
    {1, 3, -3.1804e-11}, {1, 4, 1.535e-12}, {2, 0, -1.8056e-05},
    {2, 1, 1.3568e-08}, {2, 2, -4.4371e-11}, {2, 3, -3.5879e-13},
    {3, 0, -2.0787e-07}, {3, 1, 8.3137e-11}, {3, 2, 1.7807e-12},
    {4, 0, -3.594e-10}, {4, 1, -1.1255e-12}, {5, 0, 3.5288e-12},
};
static const sip_term irac_ch1_b[] = {
    {0, 2, 2.4494e-05}, {0, 3, -1.6723e-07}, {0, 4, -7.9325e-11},
    {0, 5, -3.9338e-13}, {1, 1, -2.306e-05}, {1, 2, -6.8347e-10},
    {1, 3, -5.5814e-11}, {1, 4, -9.3255e-14}, {2, 0, -1.9548e-06},
    {2, 1, -1.8908e-07}, {2, 2, -3.5398e-11}, {2, 3, 2.2959e-12},
    {3, 0, 2.9749e-08}, {3, 1, -3.9458e-11}, {3, 2, -2.3376e-13},
    {4, 0, 2.2713e-10}, {4, 1, -3.0168e-13}, {5, 0, -2.7808e-12},
};
static const sip_term irac_ch1_ap[] = {
    {0, 1, 6.6096e-07}, {0, 2, -3.0748e-06}, {0, 3, -6.4289e-09},
    {0, 4, -3.7802e-11}, {0, 5, 1.184e-13}, {1, 0, -4.0087e-06},
    {1, 1, -2.0916e-05}, {1, 2, 2.1616e-07}, {1, 3, 1.5615e-11},
    {1, 4, -1.5028e-12}, {2, 0, 1.8081e-05}, {2, 1, -1.5661e-08},
    {2, 2, 6.203e-11}, {2, 3, 3.7178e-13}, {3, 0, 2.0979e-07},
    {3, 1, -9.4784e-11}, {3, 2, -1.6838e-12}, {4, 0, 3.7551e-10},
    {4, 1, 1.1137e-12}, {5, 0, -3.488e-12},
};
static const sip_term irac_ch1_bp[] = {
    {0, 1, -1.3737e-06}, {0, 2, -2.4517e-05}, {0, 3, 1.686e-07},
    {0, 4, 6.1176e-11}, {0, 5, 4.6583e-13}, {1, 0, 2.1186e-06},
    {1, 1, 2.31e-05}, {1, 2, -1.8514e-09}, {1, 3, 7.4183e-11},
    {1, 4, 9.777e-14}, {2, 0, 1.9457e-06}, {2, 1, 1.9043e-07},
    {2, 2, 1.7116e-11}, {2, 3, -2.1729e-12}, {3, 0, -3.0437e-08},
    {3, 1, 5.5266e-11}, {3, 2, 2.8199e-13}, {4, 0, -2.2607e-10},
    {4, 1, 4.21e-13}, {5, 0, 2.8215e-12},
};
static const sip_term irac_ch2_a[] = {
    {0, 2, 6.3419e-07}, {0, 3, -2.4851e-09}, {0, 4, 7.4353e-13},
    {0, 5, -7.7919e-14}, {1, 1, 3.04e-05}, {1, 2, -1.9759e-07},
    {1, 3, -4.1504e-11}, {1, 4, 4.2184e-13}, {2, 0, 2.1231e-05},
    {2, 1, 6.9765e-09}, {2, 2, -3.1891e-11}, {2, 3, -1.0864e-13},
    {3, 0, -1.6079e-07}, {3, 1, 2.1279e-11}, {3, 2, 1.2951e-13},
    {4, 0, -1.2411e-10}, {4, 1, 2.167e-14}, {5, 0, -4.0834e-13},
};
static const sip_term irac_ch2_b[] = {
    {0, 2, 3.5372e-05}, {0, 3, -1.6567e-07}, {0, 4, -2.5109e-11},
    {0, 5, -8.132e-13}, {1, 1, 1.8711e-05}, {1, 2, -1.7651e-10},
    {1, 3, -8.6718e-12}, {1, 4, 3.4181e-13}, {2, 0, 3.8984e-06},
    {2, 1, -2.057e-07}, {2, 2, -2.5154e-11}, {2, 3, 6.99e-13},
    {3, 0, -2.9019e-09}, {3, 1, 8.8986e-13}, {3, 2, -5.0511e-14},
    {4, 0, 1.81e-11}, {4, 1, 9.3724e-13}, {5, 0, 1.5535e-13},
};
static const sip_term irac_ch2_ap[] = {
    {0, 1, 9.2542e-08}, {0, 2, -6.3441e-07}, {0, 3, 2.5166e-09},
    {0, 4, -1.7427e-12}, {0, 5, 8.2936e-14}, {1, 0, 7.5978e-08},
    {1, 1, -3.04e-05}, {1, 2, 1.9975e-07}, {1, 3, 1.1478e-11},
    {1, 4, -3.3048e-13}, {2, 0, -2.1248e-05}, {2, 1, -4.4764e-09},
    {2, 2, 1.454e-11}, {2, 3, 1.0456e-13}, {3, 0, 1.6169e-07},
    {3, 1, -4.9803e-11}, {3, 2, 7.3712e-14}, {4, 0, 1.0922e-10},
    {4, 1, -4.1098e-14}, {5, 0, 4.8996e-13},
};
static const sip_term irac_ch2_bp[] = {
    {0, 1, -8.569e-08}, {0, 2, -3.5361e-05}, {0, 3, 1.6798e-07},
    {0, 4, -8.1491e-12}, {0, 5, 9.2745e-13}, {1, 0, -2.2769e-07},
    {1, 1, -1.8727e-05}, {1, 2, 2.8463e-09}, {1, 3, -7.5609e-12},
    {1, 4, -3.5417e-13}, {2, 0, -3.912e-06}, {2, 1, 2.0734e-07},
    {2, 2, -7.7834e-12}, {2, 3, -5.1008e-13}, {3, 0, 3.1962e-09},
    {3, 1, -1.7172e-11}, {3, 2, 4.6967e-14}, {4, 0, -1.9585e-11},
    {4, 1, -8.6274e-13}, {5, 0, -1.5746e-13},
};

#define NTERMS(a) (sizeof(a) / sizeof((a)[0]))

static void fill(double dst[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1], const sip_term *t, size_t n) {
    for (size_t k = 0; k < n; k++) dst[t[k].p][t[k].q] = t[k].c;
}

int mx_sim_irac_sip(int channel, mx_sip *out, double dmax[2]) {
    if (channel != 1 && channel != 2)
        return mx_seterr(MX_ERR_PARAM,
                         "simulate: no built-in IRAC SIP distortion for channel %d (have 1 and 2)",
                         channel);
    memset(out, 0, sizeof *out);
    out->a_order = out->b_order = out->ap_order = out->bp_order = 5;
    if (channel == 1) {
        fill(out->a, irac_ch1_a, NTERMS(irac_ch1_a));
        fill(out->b, irac_ch1_b, NTERMS(irac_ch1_b));
        fill(out->ap, irac_ch1_ap, NTERMS(irac_ch1_ap));
        fill(out->bp, irac_ch1_bp, NTERMS(irac_ch1_bp));
        if (dmax) { dmax[0] = 1.32; dmax[1] = 1.442; }
    } else {
        fill(out->a, irac_ch2_a, NTERMS(irac_ch2_a));
        fill(out->b, irac_ch2_b, NTERMS(irac_ch2_b));
        fill(out->ap, irac_ch2_ap, NTERMS(irac_ch2_ap));
        fill(out->bp, irac_ch2_bp, NTERMS(irac_ch2_bp));
        if (dmax) { dmax[0] = 1.552; dmax[1] = 1.681; }
    }
    return MX_OK;
}
