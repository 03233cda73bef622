/* header.c - ordered FITS header cards with typed access.
 *
 * Values are parsed and cards formatted with cfitsio's own card routines
 * (ffpsvc, ffmkky, ffdtyp...) so that what we write is what cfitsio and
 * every other FITS reader expects, quoting rules included.
 */
#include "mopex/mx_header.h"
#include "mopex/mx_error.h"

#include <ctype.h>
#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const structural[] = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "PCOUNT",
                                         "GCOUNT", "XTENSION", "END", NULL};

int mx_header_is_structural(const char *key) {
    for (int i = 0; structural[i]; i++)
        if (strcasecmp(key, structural[i]) == 0) return 1;
    /* NAXISn */
    if (strncasecmp(key, "NAXIS", 5) == 0 && key[5] && isdigit((unsigned char)key[5])) return 1;
    return 0;
}

mx_header *mx_header_new(void) { return calloc(1, sizeof(mx_header)); }

void mx_header_free(mx_header *h) {
    if (!h) return;
    free(h->cards);
    free(h);
}

mx_header *mx_header_dup(const mx_header *h) {
    mx_header *d = mx_header_new();
    if (!d) return NULL;
    if (h && h->ncards > 0) {
        d->cards = malloc((size_t)h->ncards * sizeof *d->cards);
        if (!d->cards) {
            free(d);
            return NULL;
        }
        memcpy(d->cards, h->cards, (size_t)h->ncards * sizeof *d->cards);
        d->ncards = d->capacity = h->ncards;
    }
    return d;
}

/* Keyword of a card (up to 8 chars before '=' or blank), upper-cased. */
static void card_key(const char *card, char key[9]) {
    int n = 0;
    while (n < 8 && card[n] && card[n] != ' ' && card[n] != '=') {
        key[n] = (char)toupper((unsigned char)card[n]);
        n++;
    }
    key[n] = '\0';
}

static int card_has_value(const char *card) { return card[8] == '=' && card[9] == ' '; }

int mx_header_find(const mx_header *h, const char *key) {
    if (!h) return -1;
    char want[72];
    snprintf(want, sizeof want, "%s", key);
    for (char *p = want; *p; p++) *p = (char)toupper((unsigned char)*p);
    char k[9];
    for (int i = 0; i < h->ncards; i++) {
        card_key(h->cards[i], k);
        if (strcmp(k, want) == 0) return i;
    }
    return -1;
}

int mx_header_has(const mx_header *h, const char *key) { return mx_header_find(h, key) >= 0; }

static int grow(mx_header *h) {
    if (h->ncards < h->capacity) return MX_OK;
    int cap = h->capacity ? 2 * h->capacity : 64;
    void *p = realloc(h->cards, (size_t)cap * sizeof *h->cards);
    if (!p) return mx_seterr(MX_ERR_NOMEM, "header of %d cards", cap);
    h->cards = p;
    h->capacity = cap;
    return MX_OK;
}

static void set_card(char dst[MX_CARD_LEN + 1], const char *card) {
    size_t n = strlen(card);
    if (n > MX_CARD_LEN) n = MX_CARD_LEN;
    memcpy(dst, card, n);
    memset(dst + n, ' ', MX_CARD_LEN - n);
    dst[MX_CARD_LEN] = '\0';
}

int mx_header_append_card(mx_header *h, const char *card) {
    int st = grow(h);
    if (st != MX_OK) return st;
    set_card(h->cards[h->ncards++], card);
    return MX_OK;
}

/* Value and comment fields of card i, via cfitsio's parser. */
static int card_value(const mx_header *h, const char *key, char *value, char *comment) {
    int i = mx_header_find(h, key);
    if (i < 0) return mx_seterr(MX_ERR_NOTFOUND, "keyword %s not found", key);
    int status = 0;
    char card[MX_CARD_LEN + 1];
    memcpy(card, h->cards[i], sizeof card);
    if (!card_has_value(card))
        return mx_seterr(MX_ERR_FORMAT, "keyword %s has no value", key);
    ffpsvc(card, value, comment, &status);
    if (status) return mx_seterr(MX_ERR_FORMAT, "keyword %s: cannot parse value", key);
    if (value[0] == '\0') return mx_seterr(MX_ERR_FORMAT, "keyword %s has an undefined value", key);
    return MX_OK;
}

int mx_header_get_raw(const mx_header *h, const char *key, char *value, size_t vsize,
                      char *comment, size_t csize) {
    char v[FLEN_VALUE], c[FLEN_COMMENT];
    int st = card_value(h, key, v, c);
    if (st != MX_OK) return st;
    if (value) snprintf(value, vsize, "%s", v);
    if (comment) snprintf(comment, csize, "%s", c);
    return MX_OK;
}

static int parse_double(const char *key, const char *v, double *out) {
    char buf[FLEN_VALUE];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *p = buf; *p; p++)
        if (*p == 'D' || *p == 'd') *p = 'E'; /* Fortran exponents */
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    while (*end == ' ') end++;
    if (end == buf || *end) return mx_seterr(MX_ERR_FORMAT, "keyword %s: '%s' is not a number", key, v);
    *out = d;
    return MX_OK;
}

int mx_header_get_double(const mx_header *h, const char *key, double *out) {
    char v[FLEN_VALUE], c[FLEN_COMMENT];
    int st = card_value(h, key, v, c);
    if (st != MX_OK) return st;
    return parse_double(key, v, out);
}

int mx_header_get_long(const mx_header *h, const char *key, long *out) {
    char v[FLEN_VALUE], c[FLEN_COMMENT];
    int st = card_value(h, key, v, c);
    if (st != MX_OK) return st;
    /* Integers first, so that values beyond 2^53 are not rounded through a double. */
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    while (*end == ' ') end++;
    if (end != v && *end == '\0') {
        if (errno == ERANGE) return mx_seterr(MX_ERR_FORMAT, "keyword %s: %s is out of range", key, v);
        *out = l;
        return MX_OK;
    }
    double d;
    if ((st = parse_double(key, v, &d)) != MX_OK) return st;
    /* the bounds are powers of two, hence exact doubles; the cast below is then defined */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
        return mx_seterr(MX_ERR_FORMAT, "keyword %s: %.17g is not an integer", key, d);
    *out = (long)d;
    return MX_OK;
}

int mx_header_get_bool(const mx_header *h, const char *key, int *out) {
    char v[FLEN_VALUE], c[FLEN_COMMENT];
    int st = card_value(h, key, v, c);
    if (st != MX_OK) return st;
    if (strcmp(v, "T") == 0) *out = 1;
    else if (strcmp(v, "F") == 0) *out = 0;
    else return mx_seterr(MX_ERR_FORMAT, "keyword %s: '%s' is not a logical (T/F)", key, v);
    return MX_OK;
}

int mx_header_get_string(const mx_header *h, const char *key, char *buf, size_t bufsize) {
    char v[FLEN_VALUE], c[FLEN_COMMENT];
    int st = card_value(h, key, v, c);
    if (st != MX_OK) return st;
    if (v[0] == '\'') {
        /* remove the quotes and un-double embedded '' */
        char s[FLEN_VALUE];
        size_t n = 0;
        for (size_t i = 1; v[i] && n < sizeof s - 1; i++) {
            if (v[i] == '\'') {
                if (v[i + 1] == '\'') {
                    s[n++] = '\'';
                    i++;
                    continue;
                }
                break;
            }
            s[n++] = v[i];
        }
        s[n] = '\0';
        while (n > 0 && s[n - 1] == ' ') s[--n] = '\0';
        snprintf(buf, bufsize, "%s", s);
    } else {
        snprintf(buf, bufsize, "%s", v);
    }
    return MX_OK;
}

/* Replace key's card (keeping its comment when comment==NULL) or append. */
static int put(mx_header *h, const char *key, const char *value_field, const char *comment) {
    if (strlen(key) > 8)
        return mx_seterr(MX_ERR_PARAM, "keyword '%s' longer than 8 characters", key);
    char oldc[FLEN_COMMENT] = "";
    int i = mx_header_find(h, key);
    if (i >= 0 && !comment) {
        char v[FLEN_VALUE];
        int status = 0;
        char card[MX_CARD_LEN + 1];
        memcpy(card, h->cards[i], sizeof card);
        if (card_has_value(card)) ffpsvc(card, v, oldc, &status);
        if (status) oldc[0] = '\0';
        comment = oldc;
    }
    char card[FLEN_CARD];
    int status = 0;
    char ukey[16];
    snprintf(ukey, sizeof ukey, "%s", key);
    for (char *p = ukey; *p; p++) *p = (char)toupper((unsigned char)*p);
    ffmkky(ukey, (char *)value_field, comment ? comment : "", card, &status);
    if (status) return mx_seterr(MX_ERR_PARAM, "cannot format keyword %s", key);
    if (i >= 0) {
        set_card(h->cards[i], card);
        return MX_OK;
    }
    return mx_header_append_card(h, card);
}

int mx_header_set_double(mx_header *h, const char *key, double value, const char *comment) {
    char v[40];
    if (!isfinite(value))
        return mx_seterr(MX_ERR_PARAM, "keyword %s: %g is not a FITS value", key, value);
    /* The shortest of 15..17 significant digits that reads back as the same
     * double: exact round trip, and 93.6 stays "93.6" for human readers. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(v, sizeof v, "%.*G", prec, value);
        if (strtod(v, NULL) == value) break;
    }
    if (!strchr(v, '.') && !strchr(v, 'E')) strcat(v, "."); /* keep it a real */
    return put(h, key, v, comment);
}

int mx_header_set_long(mx_header *h, const char *key, long value, const char *comment) {
    char v[32];
    snprintf(v, sizeof v, "%ld", value);
    return put(h, key, v, comment);
}

int mx_header_set_bool(mx_header *h, const char *key, int value, const char *comment) {
    return put(h, key, value ? "T" : "F", comment);
}

int mx_header_set_string(mx_header *h, const char *key, const char *value, const char *comment) {
    /* quote, double embedded quotes, pad to 8 characters (FITS fixed format);
     * a value field holds at most 68 characters between the quotes */
    char quoted[FLEN_VALUE];
    size_t n = 0;
    quoted[n++] = '\'';
    for (const char *p = value; *p; p++) {
        size_t need = (*p == '\'') ? 2 : 1;
        if (n - 1 + need > 68)
            return mx_seterr(MX_ERR_PARAM,
                             "keyword %s: string value longer than 68 characters (quotes doubled)",
                             key);
        if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
            return mx_seterr(MX_ERR_PARAM, "keyword %s: string value has a non-ASCII character",
                             key);
        if (*p == '\'') quoted[n++] = '\'';
        quoted[n++] = *p;
    }
    while (n < 9) quoted[n++] = ' ';
    quoted[n++] = '\'';
    quoted[n] = '\0';
    return put(h, key, quoted, comment);
}

int mx_header_delete(mx_header *h, const char *key) {
    int removed = 0, i;
    while ((i = mx_header_find(h, key)) >= 0) {
        memmove(h->cards[i], h->cards[i + 1], (size_t)(h->ncards - i - 1) * sizeof *h->cards);
        h->ncards--;
        removed++;
    }
    return removed;
}

/* Long text is wrapped over several cards of 72 characters, at the last blank
 * of each piece when there is one in its second half (otherwise the word is
 * cut); the blank at a break is dropped. A newline starts a new card. */
static int add_commentary(mx_header *h, const char *kw, const char *text) {
    size_t n = strlen(text), off = 0;
    do {
        size_t nl = off;
        while (nl < n && text[nl] != '\n') nl++;
        size_t take = nl - off > 72 ? 72 : nl - off, next = off + take;
        if (take == 72 && next < nl && text[next] != ' ') {
            size_t b = take;
            while (b > 36 && text[off + b - 1] != ' ') b--;
            if (b > 36) {
                take = b - 1;
                next = off + b;
            }
        } else if (take == 72 && next < nl) {
            next++; /* the break falls on a blank */
        }
        if (next == nl && nl < n) next++; /* consume the newline */
        char card[MX_CARD_LEN + 1];
        snprintf(card, sizeof card, "%-8s%.*s", kw, (int)take, text + off);
        for (char *p = card + 8; *p; p++)
            if ((unsigned char)*p < 32 || (unsigned char)*p > 126) *p = ' ';
        int st = mx_header_append_card(h, card);
        if (st != MX_OK) return st;
        off = next;
    } while (off < n);
    return MX_OK;
}

int mx_header_add_history(mx_header *h, const char *text) { return add_commentary(h, "HISTORY", text); }
int mx_header_add_comment(mx_header *h, const char *text) { return add_commentary(h, "COMMENT", text); }

int mx_header_merge(mx_header *dst, const mx_header *src) {
    char k[9];
    for (int i = 0; i < src->ncards; i++) {
        card_key(src->cards[i], k);
        if (k[0] && mx_header_is_structural(k)) continue;
        int commentary = (strcmp(k, "COMMENT") == 0 || strcmp(k, "HISTORY") == 0 || k[0] == '\0');
        if (!commentary && mx_header_has(dst, k)) continue;
        int st = mx_header_append_card(dst, src->cards[i]);
        if (st != MX_OK) return st;
    }
    return MX_OK;
}

char *mx_header_to_string(const mx_header *h, int *ncards) {
    int n = h ? h->ncards : 0;
    char *s = malloc((size_t)(n + 1) * MX_CARD_LEN + 1);
    if (!s) return NULL;
    for (int i = 0; i < n; i++) memcpy(s + (size_t)i * MX_CARD_LEN, h->cards[i], MX_CARD_LEN);
    /* END card, so that wcspih sees a complete header */
    char end[MX_CARD_LEN + 1];
    set_card(end, "END");
    memcpy(s + (size_t)n * MX_CARD_LEN, end, MX_CARD_LEN);
    s[(size_t)(n + 1) * MX_CARD_LEN] = '\0';
    if (ncards) *ncards = n + 1;
    return s;
}

/* A text-file line "crval1 = 10.5" (keyword not padded to 8, '=' elsewhere
 * than column 9, lower case) is rewritten as the fixed-format card
 * "CRVAL1  = 10.5"; anything else is kept as it is. */
static void normalise_line(char card[MX_CARD_LEN + 1]) {
    size_t k = 0;
    while (k < 8 && (isalnum((unsigned char)card[k]) || card[k] == '_' || card[k] == '-')) k++;
    if (k == 0) return;
    size_t e = k;
    while (card[e] == ' ') e++;
    if (card[e] != '=' || (e == 8 && card[9] == ' ')) return;
    char key[9];
    for (size_t i = 0; i < k; i++) key[i] = (char)toupper((unsigned char)card[i]);
    key[k] = '\0';
    if (strcmp(key, "COMMENT") == 0 || strcmp(key, "HISTORY") == 0) return;
    const char *rest = card + e + 1;
    while (*rest == ' ') rest++;
    char out[MX_CARD_LEN + 16];
    snprintf(out, sizeof out, "%-8s= %s", key, rest);
    set_card(card, out);
}

int mx_header_from_text(const char *text, size_t len, const char *source, mx_header **out) {
    *out = NULL;
    mx_header *h = mx_header_new();
    if (!h) return mx_seterr(MX_ERR_NOMEM, "header");
    /* Lines layout when the first line ends within one card (80 characters,
     * perhaps + CR); a newline after a run of raw cards (an editor's final
     * newline) does not make it one. */
    const char *first_nl = memchr(text, '\n', len);
    int has_newline = first_nl && (size_t)(first_nl - text) <= MX_CARD_LEN + 1;
    size_t pos = 0;
    while (pos < len) {
        size_t end;
        if (has_newline) {
            const char *nl = memchr(text + pos, '\n', len - pos);
            end = nl ? (size_t)(nl - text) : len;
        } else {
            end = pos + MX_CARD_LEN < len ? pos + MX_CARD_LEN : len;
        }
        size_t n = end - pos;
        while (n > 0 && (text[pos + n - 1] == '\r' || (!has_newline && text[pos + n - 1] == '\n')))
            n--;
        char card[MX_CARD_LEN + 1];
        if (n > MX_CARD_LEN) n = MX_CARD_LEN;
        memcpy(card, text + pos, n);
        card[n] = '\0';
        pos = has_newline ? end + 1 : end;
        for (size_t i = 0; i < n; i++)
            if (card[i] == '\t' || card[i] == '\0') card[i] = ' ';
        char k[9];
        card_key(card, k);
        if (strcmp(k, "END") == 0 && (n == 3 || card[3] == ' ')) break;
        int blank = 1;
        for (size_t i = 0; i < n; i++)
            if (card[i] != ' ') blank = 0;
        /* an empty line in a text header is layout; a line of 80 blanks is a blank card */
        if (blank && has_newline && n < MX_CARD_LEN) continue;
        if (blank && !has_newline && n < MX_CARD_LEN) continue; /* trailing partial card */
        if (has_newline) normalise_line(card);
        int st = mx_header_append_card(h, card);
        if (st != MX_OK) {
            mx_header_free(h);
            return mx_preferr(st, "%s", source ? source : "header");
        }
    }
    if (h->ncards == 0) {
        mx_header_free(h);
        return mx_seterr(MX_ERR_FORMAT, "'%s': no header cards", source ? source : "header");
    }
    *out = h;
    return MX_OK;
}

int mx_header_read_text(const char *path, mx_header **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return mx_seterr(MX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int st = MX_OK;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *p = realloc(buf, cap);
            if (!p) {
                st = mx_seterr(MX_ERR_NOMEM, "reading '%s'", path);
                goto exit;
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        st = mx_seterr(MX_ERR_IO, "cannot read '%s'", path);
        goto exit;
    }
    st = mx_header_from_text(buf, len, path, out);
exit:
    free(buf);
    fclose(f);
    return st;
}
