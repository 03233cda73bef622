/* test_header.c - mx_header: typed cards, quoting, wrapping, text layouts, merge. */
#include "mxtest.h"

#include <fitsio.h>
#include <float.h>
#include <stdint.h>

/* The 80-character card of keyword `key`, or "" */
static const char *card_of(const mx_header *h, const char *key) {
    int i = mx_header_find(h, key);
    return i >= 0 ? h->cards[i] : "";
}

static void test_typed_get_set(void) {
    mx_header *h = mx_header_new();
    MXT_OK(mx_header_set_double(h, "EXPTIME", 93.6, "[sec] exposure"));
    MXT_OK(mx_header_set_long(h, "NFRAMES", 30, NULL));
    MXT_OK(mx_header_set_bool(h, "DONE", 1, "flag"));
    MXT_OK(mx_header_set_string(h, "BUNIT", "MJy/sr", "units"));
    MXT_EQ_INT(h->ncards, 4);
    /* fixed format: '=' in column 9, numbers right-justified to column 30 */
    MXT_EQ_STR(card_of(h, "EXPTIME"),
               "EXPTIME =                 93.6 / [sec] exposure                                 ");
    MXT_EQ_STR(card_of(h, "BUNIT"),
               "BUNIT   = 'MJy/sr  '           / units                                          ");
    MXT_EQ_INT(strlen(card_of(h, "DONE")), 80);

    double d;
    long l;
    int b;
    char s[80], c[80];
    MXT_OK(mx_header_get_double(h, "exptime", &d)); /* case-insensitive */
    MXT_TRUE(d == 93.6);
    MXT_OK(mx_header_get_long(h, "NFRAMES", &l));
    MXT_EQ_INT(l, 30);
    MXT_OK(mx_header_get_double(h, "NFRAMES", &d)); /* integers are numbers too */
    MXT_TRUE(d == 30.0);
    MXT_OK(mx_header_get_bool(h, "DONE", &b));
    MXT_EQ_INT(b, 1);
    MXT_OK(mx_header_get_string(h, "BUNIT", s, sizeof s));
    MXT_EQ_STR(s, "MJy/sr");
    MXT_OK(mx_header_get_raw(h, "BUNIT", s, sizeof s, c, sizeof c));
    MXT_EQ_STR(s, "'MJy/sr  '");
    MXT_EQ_STR(c, "units");

    /* replace in place: position kept, old comment kept when comment == NULL */
    MXT_OK(mx_header_set_double(h, "EXPTIME", 10.4, NULL));
    MXT_EQ_INT(h->ncards, 4);
    MXT_EQ_INT(mx_header_find(h, "EXPTIME"), 0);
    MXT_OK(mx_header_get_raw(h, "EXPTIME", s, sizeof s, c, sizeof c));
    MXT_EQ_STR(s, "10.4");
    MXT_EQ_STR(c, "[sec] exposure");
    MXT_OK(mx_header_set_bool(h, "DONE", 0, NULL));
    MXT_OK(mx_header_get_bool(h, "DONE", &b));
    MXT_EQ_INT(b, 0);

    /* errors name the keyword */
    MXT_FAILS(mx_header_get_double(h, "NOSUCH", &d), MX_ERR_NOTFOUND, "NOSUCH");
    MXT_FAILS(mx_header_get_double(h, "BUNIT", &d), MX_ERR_FORMAT, "BUNIT");
    MXT_FAILS(mx_header_get_long(h, "EXPTIME", &l), MX_ERR_FORMAT, "EXPTIME");
    MXT_FAILS(mx_header_get_bool(h, "NFRAMES", &b), MX_ERR_FORMAT, "NFRAMES");
    MXT_FAILS(mx_header_set_long(h, "TOOLONGKEY", 1, NULL), MX_ERR_PARAM, "TOOLONGKEY");
    MXT_FAILS(mx_header_set_double(h, "BAD", NAN, NULL), MX_ERR_PARAM, "BAD");
    MXT_FAILS(mx_header_set_double(h, "BAD", INFINITY, NULL), MX_ERR_PARAM, "BAD");
    MXT_TRUE(!mx_header_has(h, "BAD"));

    /* Fortran exponents, integers beyond 2^53 exact, undefined values */
    MXT_OK(mx_header_append_card(h, "FORTRAN =              1.5D+03 / Fortran style"));
    MXT_OK(mx_header_get_double(h, "FORTRAN", &d));
    MXT_TRUE(d == 1500.0);
    MXT_OK(mx_header_append_card(h, "BIGINT  =     9007199254740993"));
    MXT_OK(mx_header_get_long(h, "BIGINT", &l));
    MXT_TRUE(l == 9007199254740993L);
    MXT_OK(mx_header_append_card(h, "HUGE    =               1.0E30"));
    MXT_FAILS(mx_header_get_long(h, "HUGE", &l), MX_ERR_FORMAT, "HUGE");
    MXT_OK(mx_header_append_card(h, "UNDEF   =                      / no value"));
    MXT_FAILS(mx_header_get_double(h, "UNDEF", &d), MX_ERR_FORMAT, "undefined");
    MXT_OK(mx_header_append_card(h, "COMMENT   a comment"));
    MXT_FAILS(mx_header_get_string(h, "COMMENT", s, sizeof s), MX_ERR_FORMAT, "no value");
    /* a bare (unquoted) value as string */
    MXT_OK(mx_header_get_string(h, "NFRAMES", s, sizeof s));
    MXT_EQ_STR(s, "30");

    /* delete removes every card of that keyword */
    MXT_OK(mx_header_append_card(h, "NFRAMES =                   31"));
    MXT_EQ_INT(mx_header_delete(h, "NFRAMES"), 2);
    MXT_EQ_INT(mx_header_delete(h, "NFRAMES"), 0);
    MXT_TRUE(!mx_header_has(h, "NFRAMES"));
    mx_header_free(h);
}

/* Doubles come back exactly, through the card text and through a FITS file. */
static void test_double_round_trip(void) {
    /* (denormals are left out: cfitsio's reader reports them as an underflow) */
    const double v[] = {0.1, 0.1 + 0.2, 93.6, 0.1257, -7.7540364852633e-05, 120.036320246642,
                        1e-300, -2.2250738585072014e-308, 1.0 / 3.0, DBL_MAX,
                        3.141592653589793, 123456789012345678.0, 1e22, -0.0, 2.0, 100.0};
    const int n = (int)(sizeof v / sizeof v[0]);
    mx_header *h = mx_header_new();
    char key[16];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "DBL%d", i);
        MXT_OK(mx_header_set_double(h, key, v[i], "round trip"));
    }
    /* readable when possible; always a real, never an integer */
    char raw[80];
    MXT_OK(mx_header_get_raw(h, "DBL2", raw, sizeof raw, NULL, 0));
    MXT_EQ_STR(raw, "93.6");
    MXT_OK(mx_header_get_raw(h, "DBL15", raw, sizeof raw, NULL, 0));
    MXT_EQ_STR(raw, "100.");
    MXT_OK(mx_header_get_raw(h, "DBL1", raw, sizeof raw, NULL, 0));
    MXT_EQ_STR(raw, "0.30000000000000004"); /* 17 digits where 15 and 16 do not suffice */
    MXT_OK(mx_header_get_raw(h, "DBL8", raw, sizeof raw, NULL, 0));
    MXT_EQ_STR(raw, "0.3333333333333333"); /* 16 suffice */

    /* through a FITS file written with the header's cards and read by cfitsio */
    const char *dir = mxt_tmp_dir("test_header");
    char path[4096];
    snprintf(path, sizeof path, "%s/doubles.fits", dir);
    mx_image *img;
    MXT_OK(mx_image_new(4, 3, MX_IMG_FLOAT, 0, 1.0f, &img));
    MXT_OK(mx_header_merge(img->hdr, h));
    MXT_OK(mx_image_write(img, path));
    fitsfile *f;
    int status = 0;
    fits_open_diskfile(&f, path, READONLY, &status);
    for (int i = 0; i < n; i++) {
        double got = 0, fromhdr = 0;
        snprintf(key, sizeof key, "DBL%d", i);
        status = 0;
        fits_read_key(f, TDOUBLE, key, &got, NULL, &status);
        MXT_EQ_INT(status, 0);
        MXT_OK(mx_header_get_double(h, key, &fromhdr));
        MXT_CHECK(memcmp(&got, &v[i], sizeof got) == 0 && memcmp(&fromhdr, &v[i], sizeof got) == 0,
                  "%s: wrote %.17g, cfitsio read %.17g, header gave %.17g", key, v[i], got, fromhdr);
    }
    fits_close_file(f, &status);
    mx_image_free(img);
    mx_header_free(h);
}

static void test_string_quoting(void) {
    mx_header *h = mx_header_new();
    char s[128];
    MXT_OK(mx_header_set_string(h, "OBJECT", "it's", "quote inside"));
    MXT_EQ_STR(card_of(h, "OBJECT"),
               "OBJECT  = 'it''s   '           / quote inside                                   ");
    MXT_OK(mx_header_get_string(h, "OBJECT", s, sizeof s));
    MXT_EQ_STR(s, "it's");
    MXT_OK(mx_header_set_string(h, "EMPTY", "", NULL));
    MXT_OK(mx_header_get_string(h, "EMPTY", s, sizeof s));
    MXT_EQ_STR(s, "");
    MXT_OK(mx_header_set_string(h, "LEAD", "  lead", NULL)); /* leading blanks matter */
    MXT_OK(mx_header_get_string(h, "LEAD", s, sizeof s));
    MXT_EQ_STR(s, "  lead");

    /* the value field holds 68 characters between the quotes, doubled quotes included */
    char v[80];
    memset(v, 'x', 68);
    v[68] = '\0';
    MXT_OK(mx_header_set_string(h, "LONG68", v, NULL));
    MXT_OK(mx_header_get_string(h, "LONG68", s, sizeof s));
    MXT_EQ_STR(s, v);
    v[68] = 'x';
    v[69] = '\0';
    MXT_FAILS(mx_header_set_string(h, "LONG69", v, NULL), MX_ERR_PARAM, "LONG69");
    memset(v, 'y', 66);
    v[66] = '\'';
    v[67] = '\0'; /* 66 + 2 = 68: fits exactly */
    MXT_OK(mx_header_set_string(h, "QUOTE68", v, NULL));
    MXT_OK(mx_header_get_string(h, "QUOTE68", s, sizeof s));
    MXT_EQ_STR(s, v);
    memset(v, 'y', 67);
    v[67] = '\'';
    v[68] = '\0'; /* 67 + 2 = 69: too long (wrote past the buffer before the fix) */
    MXT_FAILS(mx_header_set_string(h, "QUOTE69", v, NULL), MX_ERR_PARAM, "QUOTE69");
    MXT_FAILS(mx_header_set_string(h, "CTRL", "a\tb", NULL), MX_ERR_PARAM, "CTRL");

    /* cfitsio reads the quoted value back the same way */
    const char *dir = mxt_tmp_dir("test_header");
    char path[4096];
    snprintf(path, sizeof path, "%s/strings.fits", dir);
    mx_image *img;
    MXT_OK(mx_image_new(2, 2, MX_IMG_FLOAT, 0, 0.0f, &img));
    MXT_OK(mx_header_merge(img->hdr, h));
    MXT_OK(mx_image_write(img, path));
    fitsfile *f;
    int status = 0;
    char got[FLEN_VALUE];
    fits_open_diskfile(&f, path, READONLY, &status);
    fits_read_key(f, TSTRING, "OBJECT", got, NULL, &status);
    MXT_EQ_STR(got, "it's");
    fits_read_key(f, TSTRING, "QUOTE68", got, NULL, &status);
    MXT_EQ_STR(got, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'");
    MXT_EQ_INT(status, 0);
    fits_close_file(f, &status);
    mx_image_free(img);
    mx_header_free(h);
}

static void test_history_wrapping(void) {
    mx_header *h = mx_header_new();
    /* 3 x 60-character words joined by blanks: 182 characters */
    char text[400] = "";
    for (int w = 0; w < 3; w++) {
        char word[61];
        memset(word, 'a' + w, 60);
        word[60] = '\0';
        if (w) strcat(text, " ");
        strcat(text, word);
    }
    MXT_OK(mx_header_add_history(h, text));
    /* breaks at blanks: one word per card */
    MXT_EQ_INT(h->ncards, 3);
    for (int i = 0; i < h->ncards && i < 3; i++) {
        MXT_TRUE(strncmp(h->cards[i], "HISTORY ", 8) == 0);
        MXT_TRUE(h->cards[i][8] == 'a' + i && h->cards[i][67] == 'a' + i && h->cards[i][68] == ' ');
    }
    /* no blank to break at: cut at 72 characters */
    char lng[200];
    memset(lng, 'z', 150);
    lng[150] = '\0';
    mx_header *g = mx_header_new();
    MXT_OK(mx_header_add_comment(g, lng));
    MXT_EQ_INT(g->ncards, 3);
    char joined[300] = "";
    for (int i = 0; i < g->ncards; i++) {
        char piece[81];
        memcpy(piece, g->cards[i] + 8, 72);
        piece[72] = '\0';
        for (int k = 71; k >= 0 && piece[k] == ' '; k--) piece[k] = '\0';
        strcat(joined, piece);
    }
    MXT_EQ_STR(joined, lng);
    MXT_TRUE(strncmp(g->cards[0], "COMMENT ", 8) == 0);
    /* a newline starts a new card; control characters become blanks */
    mx_header *k = mx_header_new();
    MXT_OK(mx_header_add_history(k, "first line\nsecond\tline"));
    MXT_EQ_INT(k->ncards, 2);
    MXT_TRUE(strncmp(k->cards[0], "HISTORY first line ", 19) == 0);
    MXT_TRUE(strncmp(k->cards[1], "HISTORY second line ", 20) == 0);
    MXT_OK(mx_header_add_history(k, ""));
    MXT_EQ_INT(k->ncards, 3);
    mx_header_free(h);
    mx_header_free(g);
    mx_header_free(k);
}

static int read_file(const char *path, char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    size_t got = fread(*buf, 1, *len, f);
    fclose(f);
    return got == *len ? 0 : -1;
}

static void test_text_layouts(void) {
    const char *data = mxt_data_dir();
    if (!data) {
        printf("note: MOPEX_TEST_DATA unset, text layout test on real headers skipped\n");
        return;
    }
    char pc[4096], pl[4096];
    snprintf(pc, sizeof pc, "%s/astropy_irac_sip/irac_sip_cards.hdr", data);
    snprintf(pl, sizeof pl, "%s/astropy_irac_sip/irac_sip_lines.hdr", data);
    mx_header *hc = NULL, *hl = NULL;
    MXT_OK(mx_header_read_text(pc, &hc));
    MXT_OK(mx_header_read_text(pl, &hl));
    if (!hc || !hl) return;
    /* 242 cards with END in the cards file, 241 lines without it */
    MXT_EQ_INT(hc->ncards, 241);
    MXT_EQ_INT(hl->ncards, 241);
    int same = hc->ncards == hl->ncards;
    for (int i = 0; same && i < hc->ncards; i++) same = strcmp(hc->cards[i], hl->cards[i]) == 0;
    MXT_TRUE(same);

    const char *keys[] = {"CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2",
                          "EQUINOX", "A_ORDER", "A_0_2", "A_1_1", "A_2_0", "B_ORDER", "B_0_2",
                          "B_1_1", "B_2_0", "AP_ORDER", "AP_0_1", "AP_1_0", "BP_0_1", "BP_2_0",
                          "A_DMAX", "B_DMAX", "NAXIS1", "NAXIS2"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double a = NAN, b = NAN;
        MXT_OK(mx_header_get_double(hc, keys[i], &a));
        MXT_OK(mx_header_get_double(hl, keys[i], &b));
        MXT_CHECK(a == b, "%s: %.17g vs %.17g", keys[i], a, b);
    }
    char s1[80], s2[80];
    MXT_OK(mx_header_get_string(hc, "CTYPE1", s1, sizeof s1));
    MXT_OK(mx_header_get_string(hl, "CTYPE1", s2, sizeof s2));
    MXT_EQ_STR(s1, "RA---TAN-SIP");
    MXT_EQ_STR(s2, "RA---TAN-SIP");
    MXT_OK(mx_header_get_string(hl, "CTYPE2", s2, sizeof s2));
    MXT_EQ_STR(s2, "DEC--TAN-SIP");
    MXT_OK(mx_header_get_string(hl, "RADESYS", s2, sizeof s2));
    MXT_EQ_STR(s2, "ICRS");
    /* values as astropy shows them */
    double d;
    MXT_OK(mx_header_get_double(hl, "CRVAL1", &d));
    MXT_TRUE(d == 6.15501347619052);
    MXT_OK(mx_header_get_double(hl, "CD1_1", &d));
    MXT_TRUE(d == -0.000147943581033529);
    MXT_OK(mx_header_get_double(hl, "AP_1_0", &d));
    MXT_TRUE(d == 1.14E-05);
    long l;
    MXT_OK(mx_header_get_long(hl, "A_ORDER", &l));
    MXT_EQ_INT(l, 2);

    /* the cards layout with an editor's final newline is still the cards layout */
    char *buf = NULL;
    size_t len = 0;
    MXT_TRUE(read_file(pc, &buf, &len) == 0);
    buf = realloc(buf, len + 2);
    buf[len] = '\n';
    mx_header *hn = NULL;
    MXT_OK(mx_header_from_text(buf, len + 1, "cards+newline", &hn));
    MXT_EQ_INT(hn ? hn->ncards : -1, 241);
    mx_header_free(hn);
    free(buf);

    /* to_string gives wcspih its input: ncards + END, 80 characters each */
    int n = 0;
    char *str = mx_header_to_string(hl, &n);
    MXT_EQ_INT(n, 242);
    MXT_EQ_INT(strlen(str), 242 * 80);
    MXT_TRUE(strncmp(str + 241 * 80, "END     ", 8) == 0);
    free(str);
    mx_header_free(hc);
    mx_header_free(hl);
}

static void test_text_sloppy_lines(void) {
    /* hand-written .hdr lines: short, lower case, '=' not in column 9, CRLF, empty lines */
    const char *txt = "SIMPLE  = T\r\n"
                      "naxis1 = 100\n"
                      "\n"
                      "CTYPE1= 'RA---TAN'  / projection\n"
                      "CRVAL1  =  10.5\n"
                      "COMMENT   keep = as is\n"
                      "END\n"
                      "IGNORED = 1\n";
    mx_header *h = NULL;
    MXT_OK(mx_header_from_text(txt, strlen(txt), "inline", &h));
    if (!h) return;
    MXT_EQ_INT(h->ncards, 5);
    long l = 0;
    double d = 0;
    char s[80];
    MXT_OK(mx_header_get_long(h, "NAXIS1", &l));
    MXT_EQ_INT(l, 100);
    MXT_EQ_STR(h->cards[1], "NAXIS1  = 100                                                                   ");
    MXT_OK(mx_header_get_string(h, "CTYPE1", s, sizeof s));
    MXT_EQ_STR(s, "RA---TAN");
    MXT_OK(mx_header_get_double(h, "CRVAL1", &d));
    MXT_TRUE(d == 10.5);
    MXT_TRUE(strncmp(h->cards[4], "COMMENT   keep = as is", 22) == 0);
    MXT_TRUE(!mx_header_has(h, "IGNORED"));
    mx_header_free(h);

    MXT_FAILS(mx_header_from_text("\n\n", 2, "blank.hdr", &h), MX_ERR_FORMAT, "blank.hdr");
    MXT_TRUE(h == NULL);
    MXT_FAILS(mx_header_read_text("/nonexistent/dir/x.hdr", &h), MX_ERR_IO, "/nonexistent/dir/x.hdr");
}

static void test_merge(void) {
    mx_header *dst = mx_header_new(), *src = mx_header_new();
    MXT_OK(mx_header_set_long(dst, "NAXIS", 2, NULL));
    MXT_OK(mx_header_set_string(dst, "BUNIT", "MJy/sr", NULL));
    MXT_OK(mx_header_add_history(dst, "dst history"));

    MXT_OK(mx_header_append_card(src, "SIMPLE  =                    T"));
    MXT_OK(mx_header_append_card(src, "BITPIX  =                  -32"));
    MXT_OK(mx_header_append_card(src, "NAXIS   =                    2"));
    MXT_OK(mx_header_append_card(src, "NAXIS1  =                  256"));
    MXT_OK(mx_header_append_card(src, "BUNIT   = 'counts  '"));
    MXT_OK(mx_header_append_card(src, "EXPTIME =                 93.6"));
    MXT_OK(mx_header_append_card(src, "HISTORY src history"));
    MXT_OK(mx_header_append_card(src, "COMMENT src comment"));
    MXT_OK(mx_header_append_card(src, ""));
    MXT_OK(mx_header_append_card(src, "FLUXCONV=               0.1257"));
    MXT_OK(mx_header_merge(dst, src));
    /* structural skipped, dst's BUNIT wins, the rest appended in order */
    MXT_EQ_INT(dst->ncards, 3 + 5);
    char s[80];
    MXT_OK(mx_header_get_string(dst, "BUNIT", s, sizeof s));
    MXT_EQ_STR(s, "MJy/sr");
    MXT_TRUE(!mx_header_has(dst, "SIMPLE") && !mx_header_has(dst, "BITPIX") && !mx_header_has(dst, "NAXIS1"));
    MXT_EQ_INT(mx_header_find(dst, "EXPTIME"), 3);
    MXT_TRUE(strncmp(dst->cards[4], "HISTORY src history", 19) == 0);
    MXT_TRUE(strncmp(dst->cards[5], "COMMENT src comment", 19) == 0);
    MXT_TRUE(dst->cards[6][0] == ' ');
    MXT_EQ_INT(mx_header_find(dst, "FLUXCONV"), 7);
    /* merging again adds only the commentary */
    MXT_OK(mx_header_merge(dst, src));
    MXT_EQ_INT(dst->ncards, 8 + 3);

    MXT_TRUE(mx_header_is_structural("NAXIS12"));
    MXT_TRUE(mx_header_is_structural("naxis"));
    MXT_TRUE(mx_header_is_structural("XTENSION"));
    MXT_TRUE(!mx_header_is_structural("NAXISA"));
    MXT_TRUE(!mx_header_is_structural("BSCALE"));

    mx_header *d2 = mx_header_dup(dst);
    MXT_EQ_INT(d2->ncards, dst->ncards);
    MXT_TRUE(memcmp(d2->cards, dst->cards, (size_t)dst->ncards * sizeof *dst->cards) == 0);
    mx_header_free(d2);
    mx_header_free(dst);
    mx_header_free(src);
}

int main(void) {
    MXT_RUN(test_typed_get_set);
    MXT_RUN(test_double_round_trip);
    MXT_RUN(test_string_quoting);
    MXT_RUN(test_history_wrapping);
    MXT_RUN(test_text_layouts);
    MXT_RUN(test_text_sloppy_lines);
    MXT_RUN(test_merge);
    return mxt_summary();
}
