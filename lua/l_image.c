/* l_image.c - the Image userdata (mopex.Image) over mx_image.
 *
 * Life cycle as in Lua's liolib.c: the userdata is created empty (NULL) with
 * its metatable, then the core fills it; __gc and __close free the pixels,
 * close() frees them at once, and every method rejects a closed Image.
 *
 * Coordinates seen from Lua are FITS 1-based: pixel (1,1) is the first
 * pixel; the core is 0-based, the conversion happens here and nowhere else.
 *
 * Added to `core`:
 *   read(path)             float or integer image (mx_image_read_auto)
 *   read_float(path), read_mask(path)
 *   image(nx, ny[, fill])  new float image
 *   mask(nx, ny[, bitpix]) new integer image (bitpix 8, 16 or 32)
 *   read_header(path)      table key -> value (COMMENT/HISTORY as arrays), nx, ny, bitpix
 *   Image                  the method table (objects.lua adds Lua methods and docs)
 *   metatables.Image       the metatable (help() looks docs up there)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mxl.h"

/* ---- userdata plumbing ------------------------------------------------ */
MXL_BOXED(mx_image, image, MXL_IMAGE, "Image", mx_image_free)

mx_image *mxl_test_image(lua_State *L, int idx) {
    mx_image **p = luaL_testudata(L, idx, MXL_IMAGE);
    return p ? *p : NULL;
}

static int img_tostring(lua_State *L) {
    mx_image **p = luaL_checkudata(L, 1, MXL_IMAGE);
    mx_image *img = *p;
    if (!img) {
        lua_pushliteral(L, "Image (closed)");
        return 1;
    }
    char kind[16];
    if (img->kind == MX_IMG_FLOAT)
        strcpy(kind, "float");
    else
        snprintf(kind, sizeof kind, "int%d", img->bitpix > 0 ? img->bitpix : 32);
    if (img->path)
        lua_pushfstring(L, "Image %dx%d %s '%s'", (int)img->nx, (int)img->ny, kind, img->path);
    else
        lua_pushfstring(L, "Image %dx%d %s", (int)img->nx, (int)img->ny, kind);
    return 1;
}

/* ---- coordinates ------------------------------------------------------ */
/* 1-based coordinate argument -> 0-based index, with a message naming the
 * coordinate and the valid range. */
static long coord_arg(lua_State *L, int arg, const char *name, long n) {
    lua_Integer v = luaL_checkinteger(L, arg);
    if (v < 1 || v > n)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s = %I is outside the image (1..%d)", name, v,
                                               (int)n));
    return (long)(v - 1);
}

static void push_pixel(lua_State *L, const mx_image *img, size_t k) {
    if (img->kind == MX_IMG_FLOAT)
        lua_pushnumber(L, (lua_Number)img->data[k]);
    else
        lua_pushinteger(L, (lua_Integer)img->mask[k]);
}

/* Value for an integer image: must be an integer that fits the BITPIX. */
static int32_t int_value_arg(lua_State *L, int arg, const mx_image *img) {
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, arg, &isint);
    if (!isint)
        luaL_argerror(L, arg, lua_pushfstring(L, "integer expected for a mask, got %s",
                                               luaL_tolstring(L, arg, NULL)));
    lua_Integer lo = INT32_MIN, hi = INT32_MAX;
    if (img->bitpix == 8) lo = 0, hi = 255;
    if (img->bitpix == 16) lo = INT16_MIN, hi = 65535; /* unsigned 16-bit via BZERO too */
    if (v < lo || v > hi)
        luaL_argerror(L, arg, lua_pushfstring(L, "value %I does not fit BITPIX %d", v,
                                               img->bitpix));
    return (int32_t)v;
}

static void store_pixel(lua_State *L, mx_image *img, size_t k, int arg) {
    if (img->kind == MX_IMG_FLOAT)
        img->data[k] = (float)luaL_checknumber(L, arg);
    else
        img->mask[k] = int_value_arg(L, arg, img);
}

/* ---- pixel methods ---------------------------------------------------- */
static int m_size(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    lua_pushinteger(L, img->nx);
    lua_pushinteger(L, img->ny);
    return 2;
}

static int m_kind(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    lua_pushstring(L, img->kind == MX_IMG_FLOAT ? "float" : "int");
    return 1;
}

static int m_bitpix(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    lua_pushinteger(L, img->kind == MX_IMG_FLOAT ? -32 : img->bitpix);
    return 1;
}

static int m_path(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    if (img->path)
        lua_pushstring(L, img->path);
    else
        lua_pushnil(L);
    return 1;
}

static int m_get(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    long i = coord_arg(L, 2, "x", img->nx);
    long j = coord_arg(L, 3, "y", img->ny);
    push_pixel(L, img, (size_t)j * (size_t)img->nx + (size_t)i);
    return 1;
}

static int m_set(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    long i = coord_arg(L, 2, "x", img->nx);
    long j = coord_arg(L, 3, "y", img->ny);
    store_pixel(L, img, (size_t)j * (size_t)img->nx + (size_t)i, 4);
    return 0;
}

static int m_row(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    long j = coord_arg(L, 2, "y", img->ny);
    lua_createtable(L, (int)img->nx, 0);
    size_t base = (size_t)j * (size_t)img->nx;
    for (long i = 0; i < img->nx; i++) {
        push_pixel(L, img, base + (size_t)i);
        lua_seti(L, -2, i + 1);
    }
    return 1;
}

static int m_set_row(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    long j = coord_arg(L, 2, "y", img->ny);
    luaL_checktype(L, 3, LUA_TTABLE);
    if (luaL_len(L, 3) != img->nx)
        return luaL_argerror(L, 3, lua_pushfstring(L, "row of %d values expected, got %d",
                                                    (int)img->nx, (int)luaL_len(L, 3)));
    size_t base = (size_t)j * (size_t)img->nx;
    for (long i = 0; i < img->nx; i++) {
        lua_geti(L, 3, i + 1);
        if (lua_type(L, -1) != LUA_TNUMBER)
            return luaL_error(L, "set_row: entry %d is not a number", (int)i + 1);
        store_pixel(L, img, base + (size_t)i, lua_gettop(L));
        lua_pop(L, 1);
    }
    return 0;
}

static int m_fill(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    size_t n = (size_t)img->nx * (size_t)img->ny;
    if (img->kind == MX_IMG_FLOAT) {
        float v = (float)luaL_checknumber(L, 2);
        for (size_t k = 0; k < n; k++) img->data[k] = v;
    } else {
        int32_t v = int_value_arg(L, 2, img);
        for (size_t k = 0; k < n; k++) img->mask[k] = v;
    }
    lua_settop(L, 1);
    return 1;
}

/* region(x0, y0, x1, y1): inclusive, 1-based; the header follows the cut
 * (CRPIX shifted) so that the WCS of the piece stays right. */
static int m_region(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    long x0 = coord_arg(L, 2, "x0", img->nx), y0 = coord_arg(L, 3, "y0", img->ny);
    long x1 = coord_arg(L, 4, "x1", img->nx), y1 = coord_arg(L, 5, "y1", img->ny);
    if (x1 < x0) return luaL_argerror(L, 4, "x1 must be >= x0");
    if (y1 < y0) return luaL_argerror(L, 5, "y1 must be >= y0");
    long nx = x1 - x0 + 1, ny = y1 - y0 + 1;
    mx_image **slot = new_image_slot(L);
    mx_image *out = NULL;
    mx_header *hdr = NULL;
    int st = mx_image_new(nx, ny, img->kind, img->kind == MX_IMG_INT ? img->bitpix : 0, 0.0f,
                          &out);
    if (st != MX_OK) goto exit;
    *slot = out; /* owned by Lua from here on */
    for (long j = 0; j < ny; j++) {
        size_t src = (size_t)(y0 + j) * (size_t)img->nx + (size_t)x0;
        size_t dst = (size_t)j * (size_t)nx;
        if (img->kind == MX_IMG_FLOAT)
            memcpy(out->data + dst, img->data + src, (size_t)nx * sizeof(float));
        else
            memcpy(out->mask + dst, img->mask + src, (size_t)nx * sizeof(int32_t));
    }
    hdr = mx_header_dup(img->hdr);
    if (!hdr) {
        st = mx_seterr(MX_ERR_NOMEM, "header copy of a region");
        goto exit;
    }
    mx_header_free(out->hdr);
    out->hdr = hdr;
    static const char *const crpix[2] = {"CRPIX1", "CRPIX2"};
    const long shift[2] = {x0, y0};
    for (int a = 0; a < 2; a++) {
        double c;
        if (shift[a] == 0 || mx_header_get_double(hdr, crpix[a], &c) != MX_OK) continue;
        st = mx_header_set_double(hdr, crpix[a], c - (double)shift[a], NULL);
        if (st != MX_OK) goto exit;
    }
    mx_clearerr();
exit:
    mxl_check(L, st);
    return 1;
}

static int m_copy(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    mx_image **slot = new_image_slot(L);
    mxl_check(L, mx_image_dup(img, slot));
    return 1;
}

static int m_write(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    mxl_check(L, mx_image_write(img, luaL_checkstring(L, 2)));
    lua_settop(L, 1);
    return 1;
}

/* ---- header ----------------------------------------------------------- */
static int is_commentary(const char *key) {
    return strcasecmp(key, "COMMENT") == 0 || strcasecmp(key, "HISTORY") == 0 ||
           key[0] == '\0';
}

/* Keyword of a card, upper-cased, without trailing blanks. */
static void card_keyword(const char *card, char key[9]) {
    int n = 0;
    while (n < 8 && card[n] && card[n] != ' ' && card[n] != '=') {
        char c = card[n];
        key[n] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        n++;
    }
    key[n] = '\0';
}

/* Text of a commentary card (columns 9-80) without trailing blanks. */
static void push_commentary_text(lua_State *L, const char *card) {
    size_t len = strlen(card);
    size_t start = len > 8 ? 8 : len;
    size_t end = len;
    while (end > start && card[end - 1] == ' ') end--;
    lua_pushlstring(L, card + start, end - start);
}

/* Push the value of keyword `key` typed from its card: string, boolean,
 * integer or number; nil for an undefined value. Returns 0 when the
 * keyword is absent (nothing pushed). */
static int push_header_value(lua_State *L, const mx_header *h, const char *key) {
    char raw[128], comment[128];
    if (mx_header_get_raw(h, key, raw, sizeof raw, comment, sizeof comment) != MX_OK) {
        mx_clearerr();
        return 0;
    }
    if (raw[0] == '\'') {
        char buf[128];
        if (mx_header_get_string(h, key, buf, sizeof buf) != MX_OK)
            lua_pushstring(L, raw); /* malformed quotes: the raw text is the best answer */
        else
            lua_pushstring(L, buf);
    } else if (strcmp(raw, "T") == 0 || strcmp(raw, "F") == 0) {
        lua_pushboolean(L, raw[0] == 'T');
    } else if (raw[0] == '\0') {
        lua_pushnil(L);
    } else {
        char *end;
        long long iv = strtoll(raw, &end, 10);
        while (*end == ' ') end++;
        double d;
        if (*end == '\0')
            lua_pushinteger(L, (lua_Integer)iv);
        else if (mx_header_get_double(h, key, &d) == MX_OK)
            lua_pushnumber(L, d);
        else
            lua_pushstring(L, raw); /* complex values and the like: raw text */
    }
    mx_clearerr();
    return 1;
}

static void push_commentary(lua_State *L, const mx_header *h, const char *key) {
    lua_newtable(L);
    int k = 0;
    char want[9], kw[9];
    card_keyword(key, want);
    for (int i = 0; i < h->ncards; i++) {
        card_keyword(h->cards[i], kw);
        if (strcmp(kw, want) != 0) continue;
        push_commentary_text(L, h->cards[i]);
        lua_seti(L, -2, ++k);
    }
}

static int m_header(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    const char *key = luaL_checkstring(L, 2);
    if (is_commentary(key) && key[0]) {
        push_commentary(L, img->hdr, key);
        return 1;
    }
    if (!push_header_value(L, img->hdr, key)) {
        lua_pushnil(L);
        return 1;
    }
    char raw[128], comment[128];
    if (mx_header_get_raw(img->hdr, key, raw, sizeof raw, comment, sizeof comment) == MX_OK &&
        comment[0]) {
        lua_pushstring(L, comment);
        return 2;
    }
    mx_clearerr();
    return 1;
}

static const char *check_key(lua_State *L, int arg) {
    size_t len;
    const char *key = luaL_checklstring(L, arg, &len);
    if (len == 0 || len > 8)
        luaL_argerror(L, arg, lua_pushfstring(L, "keyword '%s' must have 1 to 8 characters", key));
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            luaL_argerror(L, arg, lua_pushfstring(L, "keyword '%s' has a character FITS does "
                                                     "not allow", key));
    }
    return key;
}

/* Set a typed keyword in a header (shared by images; tables have their own). */
static int set_header_value(lua_State *L, mx_header *h, int karg) {
    const char *key = check_key(L, karg);
    if (mx_header_is_structural(key))
        return luaL_argerror(L, karg, lua_pushfstring(L, "keyword %s is structural (written "
                                                         "from the image itself)", key));
    if (is_commentary(key))
        return luaL_argerror(L, karg, "use history(text) or comment(text) for commentary cards");
    const char *comment = luaL_optstring(L, karg + 2, NULL);
    int st;
    switch (lua_type(L, karg + 1)) {
    case LUA_TBOOLEAN:
        st = mx_header_set_bool(h, key, lua_toboolean(L, karg + 1), comment);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, karg + 1))
            st = mx_header_set_long(h, key, (long)lua_tointeger(L, karg + 1), comment);
        else
            st = mx_header_set_double(h, key, (double)lua_tonumber(L, karg + 1), comment);
        break;
    case LUA_TSTRING:
        st = mx_header_set_string(h, key, lua_tostring(L, karg + 1), comment);
        break;
    default:
        return luaL_argerror(L, karg + 1, lua_pushfstring(L, "number, string or boolean "
                                                             "expected for %s, got %s", key,
                                                             luaL_typename(L, karg + 1)));
    }
    mxl_check(L, st);
    return 0;
}

static int m_set_header(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    set_header_value(L, img->hdr, 2);
    lua_settop(L, 1);
    return 1;
}

static int m_delete_header(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    const char *key = luaL_checkstring(L, 2);
    lua_pushinteger(L, mx_header_delete(img->hdr, key));
    return 1;
}

static int m_history(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    mxl_check(L, mx_header_add_history(img->hdr, luaL_checkstring(L, 2)));
    lua_settop(L, 1);
    return 1;
}

static int m_comment(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    mxl_check(L, mx_header_add_comment(img->hdr, luaL_checkstring(L, 2)));
    lua_settop(L, 1);
    return 1;
}

static int m_cards(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    const mx_header *h = img->hdr;
    lua_createtable(L, h->ncards, 0);
    for (int i = 0; i < h->ncards; i++) {
        size_t end = strlen(h->cards[i]);
        while (end > 0 && h->cards[i][end - 1] == ' ') end--;
        lua_pushlstring(L, h->cards[i], end);
        lua_seti(L, -2, i + 1);
    }
    return 1;
}

static int m_bunit(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    char buf[80];
    if (mx_header_get_string(img->hdr, "BUNIT", buf, sizeof buf) == MX_OK) {
        lua_pushstring(L, buf);
    } else {
        mx_clearerr();
        lua_pushnil(L);
    }
    return 1;
}

static int m_wcs(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    mx_wcs *w = NULL;
    mxl_check(L, mx_wcs_from_header(img->hdr, img->path, &w));
    mxl_push_wcs(L, w);
    return 1;
}

static int m_set_wcs(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    mx_wcs *w = mxl_check_wcs(L, 2);
    mxl_check(L, mx_wcs_to_header(w, img->hdr));
    lua_settop(L, 1);
    return 1;
}

/* ---- constructors ----------------------------------------------------- */
typedef int (*reader_fn)(const char *, mx_image **);

static int read_with(lua_State *L, reader_fn fn) {
    const char *path = luaL_checkstring(L, 1);
    mx_image **slot = new_image_slot(L);
    mx_image *img = NULL;
    int st = fn(path, &img);
    if (st == MX_OK) *slot = img;
    mxl_check(L, st);
    return 1;
}

static int c_read(lua_State *L) { return read_with(L, mx_image_read_auto); }
static int c_read_float(lua_State *L) { return read_with(L, mx_image_read); }
static int c_read_mask(lua_State *L) { return read_with(L, mx_mask_read); }

static long size_arg(lua_State *L, int arg, const char *name) {
    lua_Integer v = luaL_checkinteger(L, arg);
    if (v < 1 || v > (lua_Integer)1 << 31)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s = %I must be between 1 and 2^31", name, v));
    return (long)v;
}

static int c_image(lua_State *L) {
    long nx = size_arg(L, 1, "nx"), ny = size_arg(L, 2, "ny");
    float fill = (float)luaL_optnumber(L, 3, 0.0);
    mx_image **slot = new_image_slot(L);
    mxl_check(L, mx_image_new(nx, ny, MX_IMG_FLOAT, -32, fill, slot));
    return 1;
}

static int c_mask(lua_State *L) {
    long nx = size_arg(L, 1, "nx"), ny = size_arg(L, 2, "ny");
    lua_Integer bitpix = luaL_optinteger(L, 3, 32);
    luaL_argcheck(L, bitpix == 8 || bitpix == 16 || bitpix == 32, 3,
                  "bitpix must be 8, 16 or 32");
    mx_image **slot = new_image_slot(L);
    mxl_check(L, mx_image_new(nx, ny, MX_IMG_INT, (int)bitpix, 0.0f, slot));
    return 1;
}

static int c_read_header(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    mx_header *h = NULL;
    long nx = 0, ny = 0;
    int bitpix = 0;
    mxl_check(L, mx_fits_read_header(path, &h, &nx, &ny, &bitpix));
    lua_newtable(L);
    int t = lua_gettop(L);
    char kw[9];
    for (int i = 0; i < h->ncards; i++) {
        card_keyword(h->cards[i], kw);
        if (kw[0] == '\0' || strcmp(kw, "END") == 0) continue;
        if (lua_getfield(L, t, kw) != LUA_TNIL) { /* first card wins, as in FITS readers */
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        if (is_commentary(kw))
            push_commentary(L, h, kw);
        else if (!push_header_value(L, h, kw))
            continue; /* a card without a value indicator: nothing to report */
        lua_setfield(L, t, kw);
    }
    mx_header_free(h);
    lua_pushinteger(L, nx);
    lua_setfield(L, t, "nx");
    lua_pushinteger(L, ny);
    lua_setfield(L, t, "ny");
    lua_pushinteger(L, bitpix);
    lua_setfield(L, t, "bitpix");
    return 1;
}

static const luaL_Reg image_methods[] = {
    {"size", m_size},
    {"kind", m_kind},
    {"bitpix", m_bitpix},
    {"path", m_path},
    {"get", m_get},
    {"set", m_set},
    {"row", m_row},
    {"set_row", m_set_row},
    {"fill", m_fill},
    {"region", m_region},
    {"copy", m_copy},
    {"close", image_gc},
    {"write", m_write},
    {"header", m_header},
    {"set_header", m_set_header},
    {"delete_header", m_delete_header},
    {"history", m_history},
    {"comment", m_comment},
    {"cards", m_cards},
    {"bunit", m_bunit},
    {"wcs", m_wcs},
    {"set_wcs", m_set_wcs},
    {NULL, NULL}};

static const luaL_Reg image_meta[] = {
    {"__gc", image_gc}, {"__close", image_gc}, {"__tostring", img_tostring}, {NULL, NULL}};

static const luaL_Reg image_funcs[] = {
    {"read", c_read},   {"read_float", c_read_float}, {"read_mask", c_read_mask},
    {"image", c_image}, {"mask", c_mask},             {"read_header", c_read_header},
    {NULL, NULL}};

int mxl_open_image(lua_State *L);
int mxl_open_image(lua_State *L) {
    int core = lua_gettop(L);
    luaL_setfuncs(L, image_funcs, 0);
    mxl_register_type(L, core, MXL_IMAGE, "Image", image_meta, image_methods);
    return 0;
}
