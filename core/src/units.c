/* units.c - BUNIT recognition and surface brightness to microJy
 * (formats.md 1.3, 000 l.451-455, 2763-2767, 8932-8933).
 *
 * The spec's regular expressions are matched by hand on the normalised
 * string (lower case; blanks, '*', '^' and '_' deleted):
 *   MJy/sr          ^mjy(/|\.)?(sr|ster|steradian)(-1)?$
 *   microJy/arcsec2 ^(micro|u|µ)jy(/|\.)?(arcsec2|sq\.?arcsec|squarearcsec|arcsec-2)$
 *   mJy/arcsec2     the same with "mjy": its own unit, 1000 microJy/arcsec2, warned
 */
#include "mopex/mx_image.h"
#include "mopex/mx_error.h"

#include <stdio.h>
#include <string.h>

/* Consume `word` at *s if it is there. */
static int eat(const char **s, const char *word) {
    size_t n = strlen(word);
    if (strncmp(*s, word, n) != 0) return 0;
    *s += n;
    return 1;
}

/* (/|\.)? */
static void eat_separator(const char **s) {
    if (**s == '/' || **s == '.') (*s)++;
}

/* (sr|ster|steradian)(-1)?$ */
static int is_per_steradian(const char *s) {
    if (!(eat(&s, "steradian") || eat(&s, "ster") || eat(&s, "sr"))) return 0;
    eat(&s, "-1");
    return *s == '\0';
}

/* (arcsec2|sq\.?arcsec|squarearcsec|arcsec-2)$ */
static int is_per_arcsec2(const char *s) {
    if (eat(&s, "squarearcsec")) return *s == '\0';
    if (eat(&s, "sq")) {
        if (*s == '.') s++;
        return strcmp(s, "arcsec") == 0;
    }
    return strcmp(s, "arcsec2") == 0 || strcmp(s, "arcsec-2") == 0;
}

mx_unit mx_unit_parse(const char *bunit) {
    char norm[80];
    size_t n = 0;
    for (const char *p = bunit ? bunit : ""; *p && n < sizeof norm - 1; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\t' || c == '*' || c == '^' || c == '_') continue;
        norm[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    norm[n] = '\0';

    const char *s = norm;
    if (eat(&s, "mjy")) {
        eat_separator(&s);
        if (is_per_steradian(s)) return MX_UNIT_MJY_SR;
        if (is_per_arcsec2(s)) {
            mx_warn("BUNIT '%s' is read as milliJy/arcsec2 (1000 microJy/arcsec2); "
                    "if microJy/arcsec2 is meant, write 'microJy/arcsec2'", bunit);
            return MX_UNIT_MJY_ARCSEC2;
        }
    }
    s = norm;
    /* micro sign in UTF-8 (C2 B5), Greek mu in UTF-8 (CE BC), micro in Latin-1 (B5) */
    if (eat(&s, "micro") || eat(&s, "u") || eat(&s, "\xc2\xb5") || eat(&s, "\xce\xbc") ||
        eat(&s, "\xb5")) {
        if (eat(&s, "jy")) {
            eat_separator(&s);
            if (is_per_arcsec2(s)) return MX_UNIT_UJY_ARCSEC2;
        }
    }
    /* Counts: the caller warns, naming the file (it knows which one). */
    return MX_UNIT_COUNTS;
}

double mx_unit_to_ujy(mx_unit u, double area_arcsec2) {
    /* arcsec^2 per steradian: (180 * 3600 / pi)^2 */
    const double arcsec_per_rad = 180.0 * 3600.0 / 3.14159265358979323846;
    switch (u) {
    case MX_UNIT_MJY_SR: return 1e12 / (arcsec_per_rad * arcsec_per_rad) * area_arcsec2;
    case MX_UNIT_UJY_ARCSEC2: return area_arcsec2;
    case MX_UNIT_MJY_ARCSEC2: return 1000.0 * area_arcsec2;
    case MX_UNIT_COUNTS:
    default: return 0.0;
    }
}
