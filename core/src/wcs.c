/* wcs.c - celestial WCS on wcslib: header parsing (TAN-SIP, TPV, every
 * wcslib projection), vectorised pixel <-> sky in the 0-based convention,
 * local scale/area/orientation, footprints, CDELT/CROTA2 output and the
 * gnomonic fast path for the mosaic engine.
 *
 * wcslib is 1-based: every public function adds 1 to pixel coordinates on
 * the way in and subtracts it on the way out; CRPIX stays 1-based as in the
 * header.
 *
 * THREADS: wcsp2s/wcss2p write into the wcsprm (and the scratch tmpmem of
 * its disprm for SIP/TPV), so one mx_wcs must never be used by two threads
 * at once; mx_wcs_dup gives an independent deep copy (wcssub) per thread.
 * Parsing is thread-safe: wcspih's scanner is reentrant, wcslib's error
 * messaging is switched on once (pthread_once), and the report of rejected
 * keywords, which goes through wcsprintf's global buffer, is captured under
 * `wcslib_lock`.
 *
 * Accuracy (tests/c/test_wcs.c): pix -> sky matches astropy's
 * all_pix2world to < 1 microarcsec on the IRAC TAN-SIP headers; wcslib's
 * own iterative SIP inverse already round-trips to ~1e-10 px, so sky2pix
 * needs no refinement here (mx_sip_inverse serves the fast path).
 */
#include "mopex/mx_wcs.h"
#include "mopex/mx_error.h"
#include "mopex/mx_header.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cel.h>
#include <dis.h>
#include <lin.h>
#include <prj.h>
#include <wcs.h>
#include <wcserr.h>
#include <wcsfix.h>
#include <wcshdr.h>
#include <wcsmath.h>
#include <wcsprintf.h>
#include <wcsutil.h>

#define RAD2ARCSEC (180.0 * 3600.0 / M_PI)
#define CHUNK 256 /* points per wcslib call: stack buffers, no allocation */

struct mx_wcs {
    struct wcsprm wcs;  /* two axes, pixel axes 1 and 2 of the image, wcsset done */
    int lng, lat;       /* world axis index of longitude / latitude (0 or 1) */
    char source[256];
    char ctype[2][72];  /* CTYPE1/2 as read (normalised), e.g. "RA---TAN-SIP" */
    char proj[4];       /* projection code of the header ("TAN", "TPV", ...) */
    int has_dist;
    int tp_status;      /* MX_OK when the gnomonic fast path applies */
    char tp_why[160];   /* why it does not */
    mx_tanplane tp;
};

static pthread_mutex_t wcslib_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t wcslib_once = PTHREAD_ONCE_INIT;
static void wcslib_init(void) { wcserr_enable(1); }

static const char *src_name(const char *source) { return source && *source ? source : "header"; }

/* ---- CTYPE helpers ------------------------------------------------------ */

/* Coordinate-type part (before the projection) as wcslib classifies it:
 * 1 = celestial longitude, 2 = latitude, 0 = neither. */
static int celestial_kind(const char *name, size_t len) {
    if (len == 2 && strncmp(name, "RA", 2) == 0) return 1;
    if (len == 3 && strncmp(name, "DEC", 3) == 0) return 2;
    if (len == 4) {
        if (strncmp(name + 1, "LON", 3) == 0) return 1;
        if (strncmp(name + 1, "LAT", 3) == 0) return 2;
        if (strncmp(name + 2, "LN", 2) == 0) return 1;
        if (strncmp(name + 2, "LT", 2) == 0) return 2;
    }
    return 0;
}

/* A wcsprm CTYPE ("RA---TAN", "DEC--TAN-SIP"): 1 longitude, 2 latitude. */
static int ctype_kind(const char *ctype) {
    if (strlen(ctype) < 8 || ctype[4] != '-') return 0;
    size_t len = 4;
    while (len > 0 && ctype[len - 1] == '-') len--;
    return celestial_kind(ctype, len);
}

/* Length in bytes of a typographic dash at s (UTF-8 hyphen/figure/en/em
 * dash, minus sign, or a cp1252 en/em dash), 0 if none. Word processors turn
 * "--" into these; the guide itself prints 'DEC—TAN' (000 l.1954). */
static int typo_dash(const unsigned char *s) {
    if (s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x90 && s[2] <= 0x95) return 3;
    if (s[0] == 0xE2 && s[1] == 0x88 && s[2] == 0x92) return 3;
    if (s[0] == 0x96 || s[0] == 0x97) return 1;
    return 0;
}

/* Normalise a celestial CTYPE value: typographic dashes, wrong '-' padding
 * ('DEC-TAN'), and the guide's 'STR' for stereographic (formats.md 1.1).
 * Writes the canonical form ("DEC--TAN", "RA---STG-SIP") to out and returns
 * 1 when it differs from `in` (with the reason in why), else 0. Values that
 * do not look like a celestial type are left alone. */
static int normalise_ctype(const char *in, char *out, size_t n, char *why, size_t wn) {
    char s[80];
    size_t k = 0;
    int typo = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && k + 1 < sizeof s;) {
        int d = typo_dash(p);
        if (d) {
            /* one typographic dash stands for the run of '-' it replaced */
            s[k++] = '-';
            p += d;
            typo = 1;
        } else {
            s[k++] = (char)toupper(*p);
            p++;
        }
    }
    s[k] = '\0';
    size_t nl = strcspn(s, "-");
    if (nl == 0 || nl > 4 || !celestial_kind(s, nl)) return 0;
    const char *p = s + nl;
    while (*p == '-') p++;
    size_t cl = strcspn(p, "-");
    if (cl != 3) return 0;
    char code[4];
    memcpy(code, p, 3);
    code[3] = '\0';
    const char *rest = p + 3;
    int str = strcmp(code, "STR") == 0;
    if (str) memcpy(code, "STG", 4);
    char canon[80];
    int m = snprintf(canon, sizeof canon, "%.*s", (int)nl, s);
    while (m < 4) canon[m++] = '-';
    canon[m] = '\0';
    if (*rest) {
        while (*rest == '-') rest++;
        snprintf(canon + m, sizeof canon - (size_t)m, "-%s-%s", code, rest);
    } else {
        snprintf(canon + m, sizeof canon - (size_t)m, "-%s", code);
    }
    if (strcmp(canon, in) == 0) return 0;
    snprintf(out, n, "%s", canon);
    if (str)
        snprintf(why, wn, "'STR' is not a FITS projection code; read as stereographic 'STG'");
    else if (typo)
        snprintf(why, wn, "typographic dash replaced");
    else
        snprintf(why, wn, "normalised to the FITS form");
    return 1;
}

/* Keyword (upper case, blanks stripped) of an 80-character card. */
static void card_keyword(const char *card, char key[9]) {
    int n = 0;
    while (n < 8 && card[n] && card[n] != ' ' && card[n] != '=') {
        key[n] = (char)toupper((unsigned char)card[n]);
        n++;
    }
    key[n] = '\0';
}

/* The quoted string value of a card (quotes removed, '' unescaped, trailing
 * blanks stripped); 0 if the card has no string value. */
static int card_string(const char *card, char *out, size_t n) {
    if (card[8] != '=') return 0;
    const char *p = card + 9;
    const char *end = card + strnlen(card, MX_CARD_LEN);
    while (p < end && *p == ' ') p++;
    if (p >= end || *p != '\'') return 0;
    p++;
    size_t k = 0;
    while (p < end) {
        if (*p == '\'') {
            if (p + 1 < end && p[1] == '\'') {
                p++;
            } else {
                break;
            }
        }
        if (k + 1 < n) out[k++] = *p;
        p++;
    }
    while (k > 0 && out[k - 1] == ' ') k--;
    out[k] = '\0';
    return 1;
}

/* CTYPEn[a] keyword? */
static int is_ctype_key(const char *key) {
    if (strncmp(key, "CTYPE", 5) != 0) return 0;
    const char *p = key + 5;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return *p == '\0' || (p[0] >= 'A' && p[0] <= 'Z' && p[1] == '\0');
}

/* ---- keyword check for the error message -------------------------------- */

/* Describe what is missing or malformed among the keywords MOPEX requires
 * (000 l.763-765): CTYPE1/2, CRVAL1/2, CRPIX1/2 and a CD matrix or
 * CDELT1/2, for alternate `alt` (' ' = primary). Returns the number of
 * problems; the text goes to buf ("missing CTYPE2, CRVAL2"). */
static int keyword_problems(const mx_header *h, char alt, char *buf, size_t n) {
    char missing[256] = "", bad[256] = "";
    int nprob = 0;
    char key[16], sbuf[72];
    double d;
    const char *names[] = {"CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2"};
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "%s%c", names[i], alt == ' ' ? '\0' : alt);
        int st = i < 2 ? mx_header_get_string(h, key, sbuf, sizeof sbuf)
                       : mx_header_get_double(h, key, &d);
        char *dst = st == MX_ERR_NOTFOUND ? missing : st != MX_OK ? bad : NULL;
        if (!dst) continue;
        size_t l = strlen(dst);
        snprintf(dst + l, sizeof missing - l, "%s%s", l ? ", " : "", key);
        nprob++;
    }
    int have_cd = 0;
    for (int i = 1; i <= 2; i++)
        for (int j = 1; j <= 2; j++) {
            snprintf(key, sizeof key, "CD%d_%d%c", i, j, alt == ' ' ? '\0' : alt);
            if (!mx_header_has(h, key)) continue;
            have_cd = 1;
            if (mx_header_get_double(h, key, &d) != MX_OK) {
                size_t l = strlen(bad);
                snprintf(bad + l, sizeof bad - l, "%s%s", l ? ", " : "", key);
                nprob++;
            }
        }
    if (!have_cd) {
        char lst[64] = "";
        for (int i = 1; i <= 2; i++) {
            snprintf(key, sizeof key, "CDELT%d%c", i, alt == ' ' ? '\0' : alt);
            int st = mx_header_get_double(h, key, &d);
            if (st == MX_OK) continue;
            char *dst = st == MX_ERR_NOTFOUND ? lst : bad;
            size_t l = strlen(dst);
            snprintf(dst + l, (dst == lst ? sizeof lst : sizeof bad) - l, "%s%s", l ? ", " : "",
                     key);
            nprob++;
        }
        if (*lst) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s%s (or a CD matrix)", l ? ", " : "",
                     lst);
        }
    }
    buf[0] = '\0';
    if (*missing) snprintf(buf, n, "missing %s", missing);
    if (*bad) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%snon-numeric or malformed %s", l ? "; " : "", bad);
    }
    return nprob;
}

/* ---- wcspih report ------------------------------------------------------ */

/* wcspih counted rejected keyrecords: parse once more with ctrl = 2 under
 * the lock, its report captured in wcsprintf's buffer, and pass each line
 * on as a warning. Rejected keywords are tolerated (wcslib ignores them). */
static void report_rejects(const char *text, int ncards, int nreject, const char *src) {
    char *copy = malloc((size_t)ncards * MX_CARD_LEN + 1);
    if (!copy) {
        mx_warn("'%s': wcslib rejected %d WCS keyword(s)", src, nreject);
        return;
    }
    memcpy(copy, text, (size_t)ncards * MX_CARD_LEN + 1);
    pthread_mutex_lock(&wcslib_lock);
    wcsprintf_set(NULL);
    int nrej = 0, nwcs = 0;
    struct wcsprm *arr = NULL;
    wcspih(copy, ncards, WCSHDR_all, 2, &nrej, &nwcs, &arr);
    wcsvfree(&nwcs, &arr);
    const char *rep = wcsprintf_buf();
    int lines = 0;
    if (rep) {
        const char *p = rep;
        while (*p) {
            size_t l = strcspn(p, "\n");
            size_t a = 0;
            while (a < l && p[a] == ' ') a++;
            if (l > a) {
                mx_warn("'%s': wcspih: %.*s", src, (int)(l - a), p + a);
                lines++;
            }
            p += l;
            if (*p) p++;
        }
    }
    wcsprintf_set(stdout); /* frees the buffer, restores wcslib's default */
    pthread_mutex_unlock(&wcslib_lock);
    if (!lines) mx_warn("'%s': wcslib rejected %d WCS keyword(s)", src, nreject);
    free(copy);
}

/* ---- SIP coefficients from the header ----------------------------------- */

static int read_sip_poly(const mx_header *h, const char *name, int *order,
                         double c[MX_SIP_MAXORDER + 1][MX_SIP_MAXORDER + 1]) {
    char key[16];
    long ord = 0;
    *order = 0;
    memset(c, 0, sizeof(double) * (MX_SIP_MAXORDER + 1) * (MX_SIP_MAXORDER + 1));
    snprintf(key, sizeof key, "%s_ORDER", name);
    int st = mx_header_get_long(h, key, &ord);
    if (st == MX_ERR_NOTFOUND) return MX_OK;
    if (st != MX_OK) return st;
    if (ord < 0 || ord > MX_SIP_MAXORDER)
        return mx_seterr(MX_ERR_UNSUPPORTED, "%s = %ld: SIP orders 0..%d are supported", key, ord,
                         MX_SIP_MAXORDER);
    for (int p = 0; p <= ord; p++)
        for (int q = 0; p + q <= ord; q++) {
            snprintf(key, sizeof key, "%s_%d_%d", name, p, q);
            double v;
            st = mx_header_get_double(h, key, &v);
            if (st == MX_ERR_NOTFOUND) continue;
            if (st != MX_OK) return st;
            c[p][q] = v;
        }
    *order = (int)ord;
    return MX_OK;
}

/* Decide whether the gnomonic fast path applies and fill w->tp. */
static void setup_tanplane(mx_wcs *w, const mx_header *h, int primary) {
    struct wcsprm *wp = &w->wcs;
    w->tp_status = MX_ERR_UNSUPPORTED;
    memset(&w->tp, 0, sizeof w->tp);
    if (strcmp(wp->cel.prj.code, "TAN") != 0) {
        snprintf(w->tp_why, sizeof w->tp_why, "projection is %s, not TAN", w->proj);
        return;
    }
    if (w->lng != 0 || w->lat != 1) {
        snprintf(w->tp_why, sizeof w->tp_why, "latitude is on pixel axis 1");
        return;
    }
    if (fabs(wp->cel.ref[2] - 180.0) > 1e-12 || wp->cel.offset || wp->cel.phi0 != 0.0 ||
        wp->cel.theta0 != 90.0) {
        snprintf(w->tp_why, sizeof w->tp_why,
                 "non-standard native pole (LONPOLE %.10g) or fiducial point", wp->cel.ref[2]);
        return;
    }
    if (wp->lin.disseq) {
        snprintf(w->tp_why, sizeof w->tp_why, "%s has a sequent distortion (%s)",
                 strcmp(w->proj, "TPV") == 0 ? "TPV" : "the WCS", wp->lin.disseq->dtype[0]);
        return;
    }
    int sip = 0;
    if (wp->lin.dispre) {
        const struct disprm *d = wp->lin.dispre;
        for (int i = 0; i < d->naxis; i++) {
            if (d->dtype[i][0] == '\0') continue;
            if (strcmp(d->dtype[i], "SIP") != 0 || !primary) {
                snprintf(w->tp_why, sizeof w->tp_why, "prior distortion '%s' is not SIP",
                         d->dtype[i]);
                return;
            }
            sip = 1;
        }
    }
    mx_tanplane *t = &w->tp;
    t->crval[0] = wp->crval[0];
    t->crval[1] = wp->crval[1];
    t->crpix[0] = wp->crpix[0];
    t->crpix[1] = wp->crpix[1];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) t->cd[i][j] = wp->cdelt[i] * wp->pc[2 * i + j];
    if (sip) {
        mx_sip *s = &t->sip;
        if (read_sip_poly(h, "A", &s->a_order, s->a) != MX_OK ||
            read_sip_poly(h, "B", &s->b_order, s->b) != MX_OK ||
            read_sip_poly(h, "AP", &s->ap_order, s->ap) != MX_OK ||
            read_sip_poly(h, "BP", &s->bp_order, s->bp) != MX_OK) {
            snprintf(w->tp_why, sizeof w->tp_why, "SIP keywords: %s", mx_errmsg());
            return;
        }
        t->has_sip = s->a_order > 0 || s->b_order > 0;
    }
    w->tp_status = MX_OK;
}

/* wcslib 7.12's wcserr_set allocates a new message on every failing point
 * transform without freeing the previous one; drop the error records after
 * each failing call so that out-of-domain points do not leak. */
static void clear_errors(struct wcsprm *wp) {
    wcserr_clear(&wp->err);
    wcserr_clear(&wp->lin.err);
    wcserr_clear(&wp->cel.err);
    wcserr_clear(&wp->cel.prj.err);
    wcserr_clear(&wp->spc.err);
    if (wp->lin.dispre) wcserr_clear(&wp->lin.dispre->err);
    if (wp->lin.disseq) wcserr_clear(&wp->lin.disseq->err);
}

static void fix_report(struct wcsprm *wp, const char *src, const char *name, int st) {
    const char *m = wp->err && wp->err->msg && *wp->err->msg ? wp->err->msg : NULL;
    if (st > 0)
        mx_warn("'%s': wcsfix %s: %s", src, name, m ? m : "failed");
    else if (st == 0)
        mx_debug("'%s': wcsfix %s: %s", src, name, m ? m : "applied");
    clear_errors(wp);
}

/* The fixes of wcsfix() except cylfix (which needs NAXISn and only widens
 * cylindrical ranges); failures are reported and tolerated. */
static void fix_all(struct wcsprm *wp, const char *src) {
    fix_report(wp, src, "cdfix", cdfix(wp));
    fix_report(wp, src, "datfix", datfix(wp));
    fix_report(wp, src, "obsfix", obsfix(0, wp));
    fix_report(wp, src, "unitfix", unitfix(0, wp));
    fix_report(wp, src, "spcfix", spcfix(wp));
    fix_report(wp, src, "celfix", celfix(wp));
}

/* ---- construction ------------------------------------------------------- */

static const char *system_of(const struct wcsprm *wp) {
    if (strcmp(wp->lngtyp, "RA") == 0) {
        if (strncmp(wp->radesys, "ICRS", 4) == 0) return "J2000";
        if (wp->radesys[0] == '\0' && (undefined(wp->equinox) || wp->equinox == 2000.0))
            return "J2000";
        if (strncmp(wp->radesys, "FK5", 3) == 0 &&
            (undefined(wp->equinox) || fabs(wp->equinox - 2000.0) < 1e-9))
            return "J2000";
        return "Other";
    }
    if (strcmp(wp->lngtyp, "GLON") == 0) return "Galactic";
    if (strcmp(wp->lngtyp, "ELON") == 0) return "Ecliptic";
    return "Other";
}

static int known_projection(const char *code) {
    for (int i = 0; i < 28; i++)
        if (strncmp(code, prj_codes[i], 3) == 0) return 1;
    /* translated by wcsfix/wcsset: GLS -> SFL, NCP -> SIN with PV, TPV ->
     * TAN with a sequent polynomial, TNX/ZPX -> TAN/ZPN (with the WAT
     * polynomial wcspih read, if any) */
    static const char *const alias[] = {"GLS", "NCP", "TPV", "TNX", "ZPX", NULL};
    for (int i = 0; alias[i]; i++)
        if (strncmp(code, alias[i], 3) == 0) return 1;
    return 0;
}

int mx_wcs_from_header(const mx_header *h, const char *source, mx_wcs **out) {
    int status = MX_OK;
    const char *src = src_name(source);
    char *text = NULL;
    struct wcsprm *arr = NULL;
    int nwcs = 0, nreject = 0;
    mx_wcs *w = NULL;
    char msg[512];

    *out = NULL;
    if (!h) return mx_seterr(MX_ERR_PARAM, "'%s': no header", src);
    pthread_once(&wcslib_once, wcslib_init);

    /* The header as wcspih wants it, with CTYPE values normalised. */
    int ncards = h->ncards;
    text = malloc((size_t)ncards * MX_CARD_LEN + 1);
    if (!text) {
        status = mx_seterr(MX_ERR_NOMEM, "'%s': header text of %d cards", src, ncards);
        goto exit;
    }
    for (int i = 0; i < ncards; i++) {
        char *c = text + (size_t)i * MX_CARD_LEN;
        memset(c, ' ', MX_CARD_LEN);
        memcpy(c, h->cards[i], strnlen(h->cards[i], MX_CARD_LEN));
        char key[9], val[80], canon[80], why[128];
        card_keyword(h->cards[i], key);
        if (!is_ctype_key(key) || !card_string(h->cards[i], val, sizeof val)) continue;
        if (!normalise_ctype(val, canon, sizeof canon, why, sizeof why)) continue;
        mx_warn("'%s': %s = '%s' read as '%s' (%s)", src, key, val, canon, why);
        char card[MX_CARD_LEN + 8];
        snprintf(card, sizeof card, "%-8s= '%-8s'", key, canon);
        memset(c, ' ', MX_CARD_LEN);
        memcpy(c, card, strlen(card) < MX_CARD_LEN ? strlen(card) : MX_CARD_LEN);
    }
    text[(size_t)ncards * MX_CARD_LEN] = '\0';

    int st = wcspih(text, ncards, WCSHDR_all, 0, &nreject, &nwcs, &arr);
    if (st) {
        status = mx_seterr(st == 2 ? MX_ERR_NOMEM : MX_ERR_WCS, "'%s': wcspih failed (status %d)",
                           src, st);
        goto exit;
    }
    if (nreject > 0) report_rejects(text, ncards, nreject, src);

    /* The celestial representation: the primary one if celestial, else the
     * first alternate that is. */
    int pick = -1, ilng = -1, ilat = -1;
    for (int pass = 0; pass < 2 && pick < 0; pass++)
        for (int k = 0; k < nwcs && pick < 0; k++) {
            int primary = arr[k].alt[0] == ' ' || arr[k].alt[0] == '\0';
            if ((pass == 0) != primary) continue;
            int a = -1, b = -1;
            for (int i = 0; i < arr[k].naxis; i++) {
                int kind = ctype_kind(arr[k].ctype[i]);
                if (kind == 1 && a < 0) a = i;
                if (kind == 2 && b < 0) b = i;
            }
            if (a >= 0 && b >= 0) {
                pick = k;
                ilng = a;
                ilat = b;
            }
        }
    char alt = ' ';
    if (pick >= 0 && arr[pick].alt[0] >= 'A' && arr[pick].alt[0] <= 'Z') alt = arr[pick].alt[0];
    int dss = mx_header_has(h, "PLTRAH"); /* DSS plate solution, translated by wcspih */
    if (pick < 0 || (!dss && keyword_problems(h, alt, msg, sizeof msg) > 0)) {
        if (pick >= 0 || keyword_problems(h, ' ', msg, sizeof msg) > 0) {
            status = mx_seterr(MX_ERR_WCS, "'%s': no celestial WCS: %s", src, msg);
        } else {
            char c1[72] = "", c2[72] = "";
            mx_header_get_string(h, "CTYPE1", c1, sizeof c1);
            mx_header_get_string(h, "CTYPE2", c2, sizeof c2);
            status = mx_seterr(MX_ERR_WCS,
                               "'%s': no celestial WCS: CTYPE1 = '%s', CTYPE2 = '%s' are not a "
                               "celestial longitude/latitude pair",
                               src, c1, c2);
        }
        goto exit;
    }
    struct wcsprm *sel = &arr[pick];
    const char *lct = sel->ctype[ilng], *bct = sel->ctype[ilat];
    if (!known_projection(lct + 5)) {
        status = mx_seterr(MX_ERR_UNSUPPORTED,
                           "'%s': unsupported projection '%.3s' (CTYPE%d = '%s'): not a wcslib "
                           "projection code",
                           src, lct + 5, ilng + 1, lct);
        goto exit;
    }
    if (strncmp(lct + 5, bct + 5, 3) != 0) {
        status = mx_seterr(MX_ERR_WCS, "'%s': CTYPE%d = '%s' and CTYPE%d = '%s' use different "
                           "projections", src, ilng + 1, lct, ilat + 1, bct);
        goto exit;
    }
    if (ilng > 1 || ilat > 1) {
        status = mx_seterr(MX_ERR_UNSUPPORTED,
                           "'%s': celestial axes are axes %d and %d; only axes 1 and 2 of a 2-D "
                           "image are supported",
                           src, ilng + 1, ilat + 1);
        goto exit;
    }

    w = calloc(1, sizeof *w);
    if (!w) {
        status = mx_seterr(MX_ERR_NOMEM, "'%s': WCS", src);
        goto exit;
    }
    snprintf(w->source, sizeof w->source, "%s", src);
    w->wcs.flag = -1;
    /* CTYPE as written (before wcspih's TPV/TNX translation), for the accessors */
    for (int i = 0; i < 2; i++) {
        char key[16];
        snprintf(key, sizeof key, "CTYPE%d%c", i + 1, alt == ' ' ? '\0' : alt);
        int idx = mx_header_find(h, key);
        char val[80];
        /* card_string stops at 80 characters: the text needs no separators */
        if (idx >= 0 && card_string(text + (size_t)idx * MX_CARD_LEN, val, sizeof val))
            snprintf(w->ctype[i], sizeof w->ctype[i], "%s", val);
        else
            snprintf(w->ctype[i], sizeof w->ctype[i], "%s", sel->ctype[i]);
    }
    snprintf(w->proj, sizeof w->proj, "%.3s",
             strlen(w->ctype[ilng]) >= 8 && w->ctype[ilng][4] == '-' ? w->ctype[ilng] + 5
                                                                      : lct + 5);

    int nsub = 2, axes[2] = {1, 2};
    st = wcssub(1, sel, &nsub, axes, &w->wcs);
    if (st) {
        status = mx_seterr(st == 2 ? MX_ERR_NOMEM : MX_ERR_UNSUPPORTED,
                           "'%s': cannot separate the celestial axes 1-2: %s", src,
                           w->wcs.err && w->wcs.err->msg ? w->wcs.err->msg : "wcssub failed");
        goto exit;
    }

    /* Translate non-standard usage; tolerated, reported. The fixes are run
     * one by one rather than through wcsfixi so that each one's error record
     * can be read and dropped (wcslib 7.12 leaks a record overwritten by the
     * next failure). */
    fix_all(&w->wcs, src);

    st = wcsset(&w->wcs);
    if (st) {
        const char *em = w->wcs.err && w->wcs.err->msg ? w->wcs.err->msg : "wcsset failed";
        if (st == WCSERR_BAD_CTYPE)
            status = mx_seterr(MX_ERR_UNSUPPORTED, "'%s': %s (CTYPE1 = '%s', CTYPE2 = '%s')", src,
                               em, w->ctype[0], w->ctype[1]);
        else
            status = mx_seterr(st == 2 ? MX_ERR_NOMEM : MX_ERR_WCS,
                               "'%s': invalid %s WCS: %s", src, w->proj, em);
        goto exit;
    }
    if (w->wcs.lng < 0 || w->wcs.lat < 0) {
        status = mx_seterr(MX_ERR_WCS, "'%s': no celestial axes after wcsset", src);
        goto exit;
    }
    w->lng = w->wcs.lng;
    w->lat = w->wcs.lat;
    w->has_dist = w->wcs.lin.dispre != NULL || w->wcs.lin.disseq != NULL;
    setup_tanplane(w, h, alt == ' ');
    *out = w;
    w = NULL;

exit:
    if (w) mx_wcs_free(w);
    if (arr) wcsvfree(&nwcs, &arr);
    free(text);
    return status;
}

int mx_wcs_new_simple(const char *ctype1, const char *ctype2, const double crval[2],
                      const double crpix[2], const double cdelt[2], double crota2,
                      double equinox, mx_wcs **out) {
    int status = MX_OK;
    mx_header *h = NULL;
    *out = NULL;
    if (!ctype1 || !ctype2 || !crval || !crpix || !cdelt)
        return mx_seterr(MX_ERR_PARAM, "mx_wcs_new_simple: NULL argument");
    for (int i = 0; i < 2; i++) {
        if (!isfinite(crval[i]) || !isfinite(crpix[i]) || !isfinite(cdelt[i]))
            return mx_seterr(MX_ERR_PARAM, "mx_wcs_new_simple: non-finite CRVAL/CRPIX/CDELT%d",
                             i + 1);
        if (cdelt[i] == 0.0)
            return mx_seterr(MX_ERR_PARAM, "mx_wcs_new_simple: CDELT%d is zero", i + 1);
    }
    if (!isfinite(crota2)) return mx_seterr(MX_ERR_PARAM, "mx_wcs_new_simple: CROTA2 not finite");
    const char *ct[2] = {ctype1, ctype2};
    char norm[2][80];
    for (int i = 0; i < 2; i++) {
        char why[128];
        if (normalise_ctype(ct[i], norm[i], sizeof norm[i], why, sizeof why))
            mx_warn("CTYPE%d = '%s' read as '%s' (%s)", i + 1, ct[i], norm[i], why);
        else
            snprintf(norm[i], sizeof norm[i], "%s", ct[i]);
        for (const char *p = norm[i]; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                return mx_seterr(MX_ERR_PARAM, "CTYPE%d = '%s': not printable ASCII", i + 1,
                                 ct[i]);
    }
    h = mx_header_new();
    if (!h) return mx_seterr(MX_ERR_NOMEM, "header");
    char key[16];
    for (int i = 0; i < 2 && status == MX_OK; i++) {
        snprintf(key, sizeof key, "CTYPE%d", i + 1);
        status = mx_header_set_string(h, key, norm[i], NULL);
        snprintf(key, sizeof key, "CRVAL%d", i + 1);
        if (status == MX_OK) status = mx_header_set_double(h, key, crval[i], NULL);
        snprintf(key, sizeof key, "CRPIX%d", i + 1);
        if (status == MX_OK) status = mx_header_set_double(h, key, crpix[i], NULL);
        snprintf(key, sizeof key, "CDELT%d", i + 1);
        if (status == MX_OK) status = mx_header_set_double(h, key, cdelt[i], NULL);
    }
    if (status == MX_OK) status = mx_header_set_double(h, "CROTA2", crota2, NULL);
    int kind = ctype_kind(norm[0]);
    int equatorial = strncmp(norm[0], "RA-", 3) == 0 || strncmp(norm[0], "DEC-", 4) == 0;
    int ecliptic = kind && norm[0][1] == 'L' && norm[0][0] == 'E';
    if (status == MX_OK && equinox > 0 && (equatorial || ecliptic)) {
        status = mx_header_set_double(h, "EQUINOX", equinox, NULL);
        const char *sys = equinox == 2000.0 ? "ICRS" : equinox < 1984.0 ? "FK4" : "FK5";
        if (status == MX_OK) status = mx_header_set_string(h, "RADESYS", sys, NULL);
    }
    if (status != MX_OK) goto exit;
    status = mx_wcs_from_header(h, "simple WCS", out);
exit:
    mx_header_free(h);
    return status;
}

int mx_wcs_dup(const mx_wcs *w, mx_wcs **out) {
    *out = NULL;
    if (!w) return mx_seterr(MX_ERR_PARAM, "mx_wcs_dup: NULL WCS");
    mx_wcs *d = malloc(sizeof *d);
    if (!d) return mx_seterr(MX_ERR_NOMEM, "'%s': WCS copy", w->source);
    memcpy(d, w, sizeof *d);
    memset(&d->wcs, 0, sizeof d->wcs);
    d->wcs.flag = -1;
    /* deep copy of the parameters (distortions included), then our own set-up */
    int st = wcssub(1, &w->wcs, NULL, NULL, &d->wcs);
    if (!st) st = wcsset(&d->wcs);
    if (st) {
        int status = mx_seterr(st == 2 ? MX_ERR_NOMEM : MX_ERR_WCS, "'%s': copying the WCS: %s",
                               w->source,
                               d->wcs.err && d->wcs.err->msg ? d->wcs.err->msg : "wcssub failed");
        wcsfree(&d->wcs);
        free(d);
        return status;
    }
    *out = d;
    return MX_OK;
}

void mx_wcs_free(mx_wcs *w) {
    if (!w) return;
    wcsfree(&w->wcs);
    free(w);
}

/* ---- transforms --------------------------------------------------------- */

int mx_wcs_pix2sky(mx_wcs *w, size_t n, const double *x, const double *y, double *lon,
                   double *lat) {
    double pix[2 * CHUNK], img[2 * CHUNK], wor[2 * CHUNK], phi[CHUNK], th[CHUNK];
    int stat[CHUNK];
    size_t idx[CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK, k = 0;
        for (size_t i = i0; i < i0 + m; i++) {
            double xx = x[i], yy = y[i];
            if (isfinite(xx) && isfinite(yy)) {
                pix[2 * k] = xx + 1.0;
                pix[2 * k + 1] = yy + 1.0;
                idx[k++] = i;
            } else {
                lon[i] = lat[i] = NAN;
            }
        }
        if (!k) continue;
        int st = wcsp2s(&w->wcs, (int)k, 2, pix, img, phi, th, wor, stat);
        if (st) clear_errors(&w->wcs);
        if (st == WCSERR_MEMORY) return mx_seterr(MX_ERR_NOMEM, "'%s': pix2sky", w->source);
        if (st != 0 && st != WCSERR_BAD_PIX) {
            /* e.g. a distortion failing on one point: isolate it, NaN for that one */
            for (size_t j = 0; j < k; j++) {
                if (wcsp2s(&w->wcs, 1, 2, pix + 2 * j, img, phi, th, wor + 2 * j, stat + j)) {
                    clear_errors(&w->wcs);
                    if (!stat[j]) stat[j] = 1;
                }
            }
        }
        for (size_t j = 0; j < k; j++) {
            size_t i = idx[j];
            if (stat[j]) {
                lon[i] = lat[i] = NAN;
            } else {
                lon[i] = wor[2 * j + w->lng];
                lat[i] = wor[2 * j + w->lat];
            }
        }
    }
    return MX_OK;
}

int mx_wcs_sky2pix(mx_wcs *w, size_t n, const double *lon, const double *lat, double *x,
                   double *y) {
    double pix[2 * CHUNK], img[2 * CHUNK], wor[2 * CHUNK], phi[CHUNK], th[CHUNK];
    int stat[CHUNK];
    size_t idx[CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK, k = 0;
        for (size_t i = i0; i < i0 + m; i++) {
            double a = lon[i], b = lat[i];
            if (isfinite(a) && isfinite(b) && fabs(b) <= 90.0) {
                wor[2 * k + w->lng] = a;
                wor[2 * k + w->lat] = b;
                idx[k++] = i;
            } else {
                x[i] = y[i] = NAN;
            }
        }
        if (!k) continue;
        int st = wcss2p(&w->wcs, (int)k, 2, wor, phi, th, img, pix, stat);
        if (st) clear_errors(&w->wcs);
        if (st == WCSERR_MEMORY) return mx_seterr(MX_ERR_NOMEM, "'%s': sky2pix", w->source);
        if (st != 0 && st != WCSERR_BAD_WORLD) {
            for (size_t j = 0; j < k; j++) {
                if (wcss2p(&w->wcs, 1, 2, wor + 2 * j, phi, th, img, pix + 2 * j, stat + j)) {
                    clear_errors(&w->wcs);
                    if (!stat[j]) stat[j] = 1;
                }
            }
        }
        for (size_t j = 0; j < k; j++) {
            size_t i = idx[j];
            if (stat[j] || !isfinite(pix[2 * j]) || !isfinite(pix[2 * j + 1])) {
                x[i] = y[i] = NAN;
            } else {
                x[i] = pix[2 * j] - 1.0;
                y[i] = pix[2 * j + 1] - 1.0;
            }
        }
    }
    return MX_OK;
}

/* ---- local geometry ----------------------------------------------------- */

static void unit_vector(double lon, double lat, double v[3]) {
    double cl = cos(lat * D2R);
    v[0] = cl * cos(lon * D2R);
    v[1] = cl * sin(lon * D2R);
    v[2] = sin(lat * D2R);
}

/* Angle between two unit vectors, accurate for tiny separations. */
static double ang_dist(const double a[3], const double b[3]) {
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return 2.0 * asin(0.5 * sqrt(dx * dx + dy * dy + dz * dz));
}

/* Central differences (step 0.5 px) of pix2sky at (x, y): the spherical
 * lengths of the pixel steps (rad/px) and the Jacobian in the local east,
 * north tangent plane, J[0][*] east, J[1][*] north, columns d/dx, d/dy. */
static int local_jacobian(mx_wcs *w, double x, double y, double *sx, double *sy,
                          double J[2][2]) {
    const double hs = 0.5;
    double px[5] = {x, x - hs, x + hs, x, x}, py[5] = {y, y, y, y - hs, y + hs};
    double lo[5], la[5], v[5][3];
    int st = mx_wcs_pix2sky(w, 5, px, py, lo, la);
    if (st != MX_OK) return st;
    for (int i = 0; i < 5; i++) {
        if (!isfinite(lo[i]) || !isfinite(la[i]))
            return mx_seterr(MX_ERR_WCS,
                             "'%s': pixel (%g, %g) is outside the projection's domain",
                             w->source, x, y);
        unit_vector(lo[i], la[i], v[i]);
    }
    double a = lo[0] * D2R, d = la[0] * D2R;
    double e[3] = {-sin(a), cos(a), 0.0};
    double nn[3] = {-sin(d) * cos(a), -sin(d) * sin(a), cos(d)};
    double E[5], N[5];
    for (int i = 1; i < 5; i++) {
        E[i] = v[i][0] * e[0] + v[i][1] * e[1] + v[i][2] * e[2];
        N[i] = v[i][0] * nn[0] + v[i][1] * nn[1] + v[i][2] * nn[2];
    }
    J[0][0] = (E[2] - E[1]) / (2 * hs);
    J[1][0] = (N[2] - N[1]) / (2 * hs);
    J[0][1] = (E[4] - E[3]) / (2 * hs);
    J[1][1] = (N[4] - N[3]) / (2 * hs);
    if (sx) *sx = ang_dist(v[1], v[2]) / (2 * hs);
    if (sy) *sy = ang_dist(v[3], v[4]) / (2 * hs);
    return MX_OK;
}

int mx_wcs_pixel_scale(mx_wcs *w, double x, double y, double *sx_arcsec, double *sy_arcsec) {
    double sx, sy, J[2][2];
    int st = local_jacobian(w, x, y, &sx, &sy, J);
    if (st != MX_OK) return st;
    *sx_arcsec = sx * RAD2ARCSEC;
    *sy_arcsec = sy * RAD2ARCSEC;
    return MX_OK;
}

int mx_wcs_pixel_area(mx_wcs *w, double x, double y, double *area_arcsec2) {
    double J[2][2];
    int st = local_jacobian(w, x, y, NULL, NULL, J);
    if (st != MX_OK) return st;
    *area_arcsec2 = fabs(J[0][0] * J[1][1] - J[0][1] * J[1][0]) * RAD2ARCSEC * RAD2ARCSEC;
    return MX_OK;
}

/* With CDELT2 > 0, a CROTA2 of rho sends the +y axis to the position angle
 * -rho (east of north): CD1_2 = -CDELT2 sin(rho) is the east component,
 * CD2_2 = CDELT2 cos(rho) the north one (Calabretta & Greisen 2002, eq.
 * 188). So the CROTA2 of the aligned undistorted frame is minus the
 * position angle of +y, whatever the handedness (CDELT1 < 0 or > 0).
 * Spitzer's PA keyword ("position angle of axis 2, E of N") is that
 * position angle: frame 0056 of the GammIT AOR has PA = -76.7505 and
 * CD1_2 < 0, CD2_2 > 0, i.e. CROTA2 = +76.7505 (astropy: CDELT = (-s, s)
 * with CROTA2 = +76.7505 reproduces its CD matrix). */
int mx_wcs_orientation(mx_wcs *w, double x, double y, double *crota2_deg, int *flipped) {
    double J[2][2];
    int st = local_jacobian(w, x, y, NULL, NULL, J);
    if (st != MX_OK) return st;
    double pa_y = atan2(J[0][1], J[1][1]) * R2D;
    double rho = -pa_y;
    if (rho <= -180.0) rho += 360.0;
    if (rho > 180.0) rho -= 360.0;
    *crota2_deg = rho;
    /* sky seen from inside: +x to the west of +y is the usual east-left
     * orientation, with a negative east-north determinant */
    if (flipped) *flipped = (J[0][0] * J[1][1] - J[0][1] * J[1][0]) > 0.0;
    return MX_OK;
}

int mx_wcs_footprint(mx_wcs *w, long nx, long ny, int nedge, double *lon, double *lat) {
    if (nx <= 0 || ny <= 0 || nedge < 0)
        return mx_seterr(MX_ERR_PARAM, "'%s': footprint of %ld x %ld with %d edge points",
                         w->source, nx, ny, nedge);
    const double cx[5] = {-0.5, nx - 0.5, nx - 0.5, -0.5, -0.5};
    const double cy[5] = {-0.5, -0.5, ny - 0.5, ny - 0.5, -0.5};
    size_t n = 4 * ((size_t)nedge + 1), k = 0;
    double *px = malloc(2 * n * sizeof *px);
    if (!px) return mx_seterr(MX_ERR_NOMEM, "'%s': footprint of %zu points", w->source, n);
    double *py = px + n;
    for (int e = 0; e < 4; e++)
        for (int t = 0; t <= nedge; t++) {
            double f = (double)t / (nedge + 1);
            px[k] = cx[e] + f * (cx[e + 1] - cx[e]);
            py[k] = cy[e] + f * (cy[e + 1] - cy[e]);
            k++;
        }
    int st = mx_wcs_pix2sky(w, n, px, py, lon, lat);
    free(px);
    return st;
}

/* ---- output in CDELT/CROTA2 form ---------------------------------------- */

/* digits '_' digits and nothing else (the "i_j" of CDi_j, PVi_m, A_p_q) */
static int index_pair(const char *p) {
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != '_' || !isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return *p == '\0';
}

/* Primary-WCS keywords to remove before writing: the linear-transformation
 * alternatives, SIP, PV/PROJP, distortion records, units and the frame
 * (rewritten). Alternate descriptions (CD1_1A, ...) are left alone. */
static int stale_key(const char *k) {
    static const char *const fixed[] = {"CROTA1", "CROTA2", "LONPOLE", "LATPOLE", "CUNIT1",
                                        "CUNIT2", "RADESYS", "RADECSYS", "EQUINOX", "A_ORDER",
                                        "B_ORDER", "AP_ORDER", "BP_ORDER", "A_DMAX", "B_DMAX",
                                        "CPDIS1", "CPDIS2", "CQDIS1", "CQDIS2", "DP1", "DP2",
                                        "DQ1", "DQ2", "CPERR1", "CPERR2", "CQERR1", "CQERR2",
                                        "DVERR", NULL};
    for (int i = 0; fixed[i]; i++)
        if (strcmp(k, fixed[i]) == 0) return 1;
    if (strncmp(k, "CD", 2) == 0 || strncmp(k, "PC", 2) == 0 || strncmp(k, "PV", 2) == 0) {
        if (index_pair(k + 2)) return 1;
        /* the old CD00i00j / PC00i00j forms */
        if (strlen(k) == 8 && strncmp(k + 2, "00", 2) == 0 && isdigit((unsigned char)k[4]) &&
            strncmp(k + 5, "00", 2) == 0 && isdigit((unsigned char)k[7]))
            return 1;
    }
    if (strncmp(k, "PROJP", 5) == 0 && isdigit((unsigned char)k[5]) && k[6] == '\0') return 1;
    /* SIP A_p_q, B_p_q, AP_p_q, BP_p_q */
    if ((k[0] == 'A' || k[0] == 'B') && k[1] == '_' && index_pair(k + 2)) return 1;
    if ((k[0] == 'A' || k[0] == 'B') && k[1] == 'P' && k[2] == '_' && index_pair(k + 3)) return 1;
    return 0;
}

int mx_wcs_to_header(const mx_wcs *w, mx_header *h) {
    const struct wcsprm *wp = &w->wcs;
    if (!h) return mx_seterr(MX_ERR_PARAM, "'%s': no header to write the WCS into", w->source);
    if (w->has_dist)
        return mx_seterr(MX_ERR_PARAM,
                         "'%s': the WCS has a distortion (%s); CDELT/CROTA2 form is for "
                         "undistorted frames",
                         w->source, w->ctype[0]);
    if (w->lng != 0)
        return mx_seterr(MX_ERR_PARAM,
                         "'%s': latitude on axis 1 cannot be written in CDELT/CROTA2 form",
                         w->source);
    double cdelt[2], rho;
    if ((wp->altlin & 4) && !(wp->altlin & 3)) {
        /* already CDELT/CROTA2: write the very numbers we were given */
        cdelt[0] = wp->cdelt[0];
        cdelt[1] = wp->cdelt[1];
        rho = wp->crota[1];
    } else {
        /* M = diag(CDELT) PC = [[c1 cos r, -c2 sin r], [c1 sin r, c2 cos r]],
         * with c2 > 0 by convention */
        double m00 = wp->cdelt[0] * wp->pc[0], m01 = wp->cdelt[0] * wp->pc[1];
        double m10 = wp->cdelt[1] * wp->pc[2], m11 = wp->cdelt[1] * wp->pc[3];
        double det = m00 * m11 - m01 * m10;
        cdelt[1] = hypot(m01, m11);
        double r = atan2(-m01, m11);
        cdelt[0] = (det < 0 ? -1.0 : 1.0) * hypot(m00, m10);
        double res = fabs(m00 - cdelt[0] * cos(r)) + fabs(m10 - cdelt[0] * sin(r));
        if (!(res <= 1e-10 * fabs(cdelt[0])))
            return mx_seterr(MX_ERR_PARAM,
                             "'%s': the linear transformation is skewed by %.3g deg; "
                             "CDELT/CROTA2 cannot represent it",
                             w->source, res / fabs(cdelt[0]) * R2D);
        rho = r * R2D;
    }
    /* remove the alternatives first; mx_header_delete takes every card of
     * that keyword, so the cards before i are never touched */
    for (int i = 0; i < h->ncards;) {
        char key[9];
        card_keyword(h->cards[i], key);
        if (stale_key(key))
            mx_header_delete(h, key);
        else
            i++;
    }
    int st = MX_OK;
    char key[16];
    const char *proj = wp->cel.prj.code;
    for (int i = 0; i < 2 && st == MX_OK; i++) {
        char ct[72];
        /* the coordinate type with the projection wcslib uses (NCP -> SIN,
         * GLS -> SFL translated by celfix) and no distortion suffix */
        const char *typ = i == 0 ? wp->lngtyp : wp->lattyp;
        snprintf(ct, sizeof ct, "%s", typ);
        size_t l = strlen(ct);
        while (l < 4) ct[l++] = '-';
        snprintf(ct + l, sizeof ct - l, "-%s", proj);
        snprintf(key, sizeof key, "CTYPE%d", i + 1);
        st = mx_header_set_string(h, key, ct, NULL);
        snprintf(key, sizeof key, "CRVAL%d", i + 1);
        if (st == MX_OK) st = mx_header_set_double(h, key, wp->crval[i], NULL);
        snprintf(key, sizeof key, "CRPIX%d", i + 1);
        if (st == MX_OK) st = mx_header_set_double(h, key, wp->crpix[i], NULL);
        snprintf(key, sizeof key, "CDELT%d", i + 1);
        if (st == MX_OK) st = mx_header_set_double(h, key, cdelt[i], NULL);
    }
    if (st == MX_OK) st = mx_header_set_double(h, "CROTA2", rho, NULL);
    /* projection parameters (PVi_m), e.g. ZPN, conics, slant SIN */
    for (int k = 0; k < wp->npv && st == MX_OK; k++) {
        snprintf(key, sizeof key, "PV%d_%d", wp->pv[k].i, wp->pv[k].m);
        st = mx_header_set_double(h, key, wp->pv[k].value, NULL);
    }
    if (st == MX_OK) st = mx_header_set_double(h, "LONPOLE", wp->cel.ref[2], NULL);
    if (st == MX_OK) st = mx_header_set_double(h, "LATPOLE", wp->cel.ref[3], NULL);
    int eq = strcmp(wp->lngtyp, "RA") == 0 || strcmp(wp->lngtyp, "ELON") == 0;
    if (st == MX_OK && eq && !undefined(wp->equinox))
        st = mx_header_set_double(h, "EQUINOX", wp->equinox, NULL);
    if (st == MX_OK && eq && wp->radesys[0])
        st = mx_header_set_string(h, "RADESYS", wp->radesys, NULL);
    if (st != MX_OK) return mx_preferr(st, "'%s': writing the WCS", w->source);
    return MX_OK;
}

/* ---- accessors ---------------------------------------------------------- */

const char *mx_wcs_ctype(const mx_wcs *w, int axis) {
    return axis == 0 || axis == 1 ? w->ctype[axis] : "";
}
const char *mx_wcs_projection(const mx_wcs *w) { return w->proj; }
const char *mx_wcs_system(const mx_wcs *w) { return system_of(&w->wcs); }
int mx_wcs_has_distortion(const mx_wcs *w) { return w->has_dist; }

void mx_wcs_reference(const mx_wcs *w, double crval[2], double crpix[2]) {
    if (crval) {
        crval[0] = w->wcs.crval[w->lng];
        crval[1] = w->wcs.crval[w->lat];
    }
    if (crpix) {
        crpix[0] = w->wcs.crpix[0];
        crpix[1] = w->wcs.crpix[1];
    }
}

int mx_wcs_tanplane(const mx_wcs *w, mx_tanplane *out) {
    if (w->tp_status != MX_OK)
        return mx_seterr(MX_ERR_UNSUPPORTED, "'%s': no gnomonic fast path: %s", w->source,
                         w->tp_why);
    *out = w->tp;
    return MX_OK;
}
