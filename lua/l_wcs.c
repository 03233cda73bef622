/* l_wcs.c - the Wcs userdata (mopex.Wcs) over mx_wcs.
 *
 * Pixel coordinates seen from Lua are FITS 1-based (the centre of the first
 * pixel is (1,1)); the core is 0-based. Sky coordinates are degrees in the
 * WCS's own celestial frame.
 *
 * Added to `core`:
 *   wcs_from_header(x)   x: a table key -> value, or header text (80-char
 *                        cards or one card per line)
 *   read_wcs(path)       WCS of a FITS file or of a header text file
 *   wcs_simple{ctype = {"RA---TAN", "DEC--TAN"}, crval = {ra, dec},
 *              crpix = {x, y}, cdelt = {dx, dy}, crota2 = 0, equinox = 2000}
 *   Wcs, metatables.Wcs
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mxl.h"

MXL_BOXED(mx_wcs, wcs, MXL_WCS, "Wcs", mx_wcs_free)

static int wcs_tostring(lua_State *L) {
    mx_wcs **p = luaL_checkudata(L, 1, MXL_WCS);
    if (!*p) {
        lua_pushliteral(L, "Wcs (closed)");
        return 1;
    }
    double crval[2], crpix[2];
    mx_wcs_reference(*p, crval, crpix);
    char buf[256];
    snprintf(buf, sizeof buf, "Wcs %s/%s %s crval=(%.8g, %.8g) crpix=(%.6g, %.6g)%s",
             mx_wcs_ctype(*p, 0), mx_wcs_ctype(*p, 1), mx_wcs_system(*p), crval[0], crval[1],
             crpix[0], crpix[1], mx_wcs_has_distortion(*p) ? " distorted" : "");
    lua_pushstring(L, buf);
    return 1;
}

/* ---- transforms ------------------------------------------------------- */
/* Two coordinate arguments, scalars or two arrays of equal length, copied
 * into one Lua-owned scratch block laid out as in0 | in1 | out0 | out1
 * (each `stride` doubles), so that an error half-way leaks nothing. */
typedef struct {
    double *in0, *in1, *out0, *out1;
    size_t n;
    int arrays;
} coords;

static void coord_pair(lua_State *L, int arg, coords *c) {
    c->arrays = lua_type(L, arg) == LUA_TTABLE;
    if (c->arrays) {
        luaL_checktype(L, arg + 1, LUA_TTABLE);
        lua_Integer na = luaL_len(L, arg), nb = luaL_len(L, arg + 1);
        if (na != nb)
            luaL_error(L, "coordinate arrays differ in length (%d and %d)", (int)na, (int)nb);
        c->n = (size_t)na;
    } else {
        c->n = 1;
    }
    size_t stride = c->n > 0 ? c->n : 1;
    double *buf = lua_newuserdatauv(L, 4 * stride * sizeof(double), 0);
    c->in0 = buf;
    c->in1 = buf + stride;
    c->out0 = buf + 2 * stride;
    c->out1 = buf + 3 * stride;
    if (!c->arrays) {
        c->in0[0] = (double)luaL_checknumber(L, arg);
        c->in1[0] = (double)luaL_checknumber(L, arg + 1);
        return;
    }
    for (int k = 0; k < 2; k++) {
        double *dst = k == 0 ? c->in0 : c->in1;
        for (size_t i = 0; i < c->n; i++) {
            int isnum = 0;
            lua_geti(L, arg + k, (lua_Integer)i + 1);
            dst[i] = (double)lua_tonumberx(L, -1, &isnum);
            lua_pop(L, 1);
            if (!isnum)
                luaL_error(L, "argument #%d: entry %d is not a number", arg + k - 1, (int)i + 1);
        }
    }
}

static int push_coords(lua_State *L, const coords *c) {
    if (!c->arrays) {
        lua_pushnumber(L, c->out0[0]);
        lua_pushnumber(L, c->out1[0]);
    } else {
        mxl_pushnumarray(L, c->out0, c->n);
        mxl_pushnumarray(L, c->out1, c->n);
    }
    return 2;
}

static int w_pix2sky(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    coords c;
    coord_pair(L, 2, &c);
    for (size_t i = 0; i < c.n; i++) {
        c.in0[i] -= 1.0;
        c.in1[i] -= 1.0;
    }
    mxl_check(L, mx_wcs_pix2sky(w, c.n, c.in0, c.in1, c.out0, c.out1));
    return push_coords(L, &c);
}

static int w_sky2pix(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    coords c;
    coord_pair(L, 2, &c);
    mxl_check(L, mx_wcs_sky2pix(w, c.n, c.in0, c.in1, c.out0, c.out1));
    for (size_t i = 0; i < c.n; i++) {
        c.out0[i] += 1.0;
        c.out1[i] += 1.0;
    }
    return push_coords(L, &c);
}

/* Optional pixel (x, y) 1-based -> 0-based; default: the reference pixel. */
static void pixel_or_crpix(lua_State *L, mx_wcs *w, int arg, double *x, double *y) {
    if (lua_isnoneornil(L, arg)) {
        double crval[2], crpix[2];
        mx_wcs_reference(w, crval, crpix);
        *x = crpix[0] - 1.0;
        *y = crpix[1] - 1.0;
        return;
    }
    *x = (double)luaL_checknumber(L, arg) - 1.0;
    *y = (double)luaL_checknumber(L, arg + 1) - 1.0;
}

static int w_pixel_scale(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    double x, y, sx, sy;
    pixel_or_crpix(L, w, 2, &x, &y);
    mxl_check(L, mx_wcs_pixel_scale(w, x, y, &sx, &sy));
    lua_pushnumber(L, sx);
    lua_pushnumber(L, sy);
    return 2;
}

static int w_pixel_area(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    double x, y, area;
    pixel_or_crpix(L, w, 2, &x, &y);
    mxl_check(L, mx_wcs_pixel_area(w, x, y, &area));
    lua_pushnumber(L, area);
    return 1;
}

static int w_orientation(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    double x, y, crota2;
    int flipped = 0;
    pixel_or_crpix(L, w, 2, &x, &y);
    mxl_check(L, mx_wcs_orientation(w, x, y, &crota2, &flipped));
    lua_pushnumber(L, crota2);
    lua_pushboolean(L, flipped);
    return 2;
}

static int w_footprint(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    lua_Integer nx = luaL_checkinteger(L, 2), ny = luaL_checkinteger(L, 3);
    lua_Integer nedge = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, nx >= 1, 2, "nx must be >= 1");
    luaL_argcheck(L, ny >= 1, 3, "ny must be >= 1");
    luaL_argcheck(L, nedge >= 0 && nedge <= 100000, 4, "nedge must be between 0 and 100000");
    size_t n = 4 * ((size_t)nedge + 1);
    double *buf = lua_newuserdatauv(L, 2 * n * sizeof(double), 0);
    mxl_check(L, mx_wcs_footprint(w, (long)nx, (long)ny, (int)nedge, buf, buf + n));
    mxl_pushnumarray(L, buf, n);
    mxl_pushnumarray(L, buf + n, n);
    return 2;
}

static int w_ctype(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    luaL_argcheck(L, i == 1 || i == 2, 2, "axis must be 1 or 2");
    lua_pushstring(L, mx_wcs_ctype(w, (int)i - 1));
    return 1;
}

static int w_projection(lua_State *L) {
    lua_pushstring(L, mx_wcs_projection(mxl_check_wcs(L, 1)));
    return 1;
}

static int w_system(lua_State *L) {
    lua_pushstring(L, mx_wcs_system(mxl_check_wcs(L, 1)));
    return 1;
}

static int w_has_distortion(lua_State *L) {
    lua_pushboolean(L, mx_wcs_has_distortion(mxl_check_wcs(L, 1)));
    return 1;
}

static int w_reference(lua_State *L) {
    double crval[2], crpix[2];
    mx_wcs_reference(mxl_check_wcs(L, 1), crval, crpix);
    mxl_pushnumarray(L, crval, 2);
    mxl_pushnumarray(L, crpix, 2);
    return 2;
}

static int w_copy(lua_State *L) {
    mx_wcs *w = mxl_check_wcs(L, 1);
    mx_wcs **slot = new_wcs_slot(L);
    mxl_check(L, mx_wcs_dup(w, slot));
    return 1;
}

/* ---- constructors ----------------------------------------------------- */
/* Header from a key -> value table; keys sorted so that the result does not
 * depend on table traversal order. Returns a status (message set). */
static int header_from_table(lua_State *L, int idx, mx_header **out) {
    *out = NULL;
    /* collect and validate first: nothing below may raise once h exists */
    lua_newtable(L);
    int keys = lua_gettop(L);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "header table: keys must be keyword strings");
        int t = lua_type(L, -1);
        if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN)
            luaL_error(L, "header table: keyword %s has a %s value", lua_tostring(L, -2),
                       luaL_typename(L, -1));
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_seti(L, keys, ++n);
    }
    lua_getglobal(L, "table");
    if (lua_getfield(L, -1, "sort") == LUA_TFUNCTION) {
        lua_pushvalue(L, keys);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    mx_header *h = mx_header_new();
    if (!h) return mx_seterr(MX_ERR_NOMEM, "header");
    int st = MX_OK;
    for (int i = 1; i <= n && st == MX_OK; i++) {
        lua_rawgeti(L, keys, i);
        const char *k = lua_tostring(L, -1);
        lua_pushvalue(L, -1);
        lua_rawget(L, idx); /* raw: no metamethod may raise while h is held */
        switch (lua_type(L, -1)) {
        case LUA_TBOOLEAN: st = mx_header_set_bool(h, k, lua_toboolean(L, -1), NULL); break;
        case LUA_TSTRING: st = mx_header_set_string(h, k, lua_tostring(L, -1), NULL); break;
        default:
            if (lua_isinteger(L, -1))
                st = mx_header_set_long(h, k, (long)lua_tointeger(L, -1), NULL);
            else
                st = mx_header_set_double(h, k, (double)lua_tonumber(L, -1), NULL);
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1); /* keys */
    if (st != MX_OK) {
        mx_header_free(h);
        return st;
    }
    *out = h;
    return MX_OK;
}

static int c_wcs_from_header(lua_State *L) {
    mx_header *h = NULL;
    int st;
    const char *source = "header";
    mx_wcs **slot = new_wcs_slot(L); /* before the header: nothing raises while h is held */
    if (lua_type(L, 1) == LUA_TTABLE) {
        source = "header table";
        st = header_from_table(L, 1, &h);
    } else if (lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *text = lua_tolstring(L, 1, &len);
        source = "header text";
        st = mx_header_from_text(text, len, source, &h);
    } else {
        return luaL_argerror(L, 1, "header table or header text expected");
    }
    if (st == MX_OK) st = mx_wcs_from_header(h, source, slot);
    mx_header_free(h);
    mxl_check(L, st);
    return 1;
}

/* A FITS file or a header text file. FITS: the first card is SIMPLE, the
 * first 80 bytes hold no newline and the size is a multiple of 2880 (a
 * bare dump of 80-character cards is text, as is a .hdr with one card per
 * line even when it starts with SIMPLE). */
static int looks_like_fits(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char first[80];
    size_t got = fread(first, 1, sizeof first, f);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    fclose(f);
    return got == sizeof first && memcmp(first, "SIMPLE  =", 9) == 0 &&
           !memchr(first, '\n', sizeof first) && size > 0 && size % 2880 == 0;
}

static int c_read_wcs(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    mx_header *h = NULL;
    int st;
    mx_wcs **slot = new_wcs_slot(L);
    if (looks_like_fits(path)) {
        long nx, ny;
        int bitpix;
        st = mx_fits_read_header(path, &h, &nx, &ny, &bitpix);
    } else {
        st = mx_header_read_text(path, &h);
    }
    if (st == MX_OK) st = mx_wcs_from_header(h, path, slot);
    mx_header_free(h);
    mxl_check(L, st);
    return 1;
}

static void pair_opt(lua_State *L, int opts, const char *name, double v[2], int required,
                     const double def[2]) {
    int n = 0;
    double *arr = mxl_opt_numlist(L, opts, name, &n);
    if (!arr) {
        if (required) luaL_error(L, "wcs_simple: option '%s' is required", name);
        v[0] = def[0];
        v[1] = def[1];
        return;
    }
    double a = n > 0 ? arr[0] : 0, b = n > 1 ? arr[1] : 0;
    free(arr);
    if (n != 2) luaL_error(L, "wcs_simple: option '%s' must hold 2 numbers (got %d)", name, n);
    v[0] = a;
    v[1] = b;
}

static int c_wcs_simple(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const known[] = {"ctype", "crval", "crpix", "cdelt", "crota2", "equinox",
                                        NULL};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        int ok = 0;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (int i = 0; known[i]; i++)
                if (strcmp(lua_tostring(L, -2), known[i]) == 0) ok = 1;
        if (!ok)
            luaL_error(L, "wcs_simple: unknown option '%s'; valid options: ctype, crval, crpix, "
                          "cdelt, crota2, equinox",
                       luaL_tolstring(L, -2, NULL));
        lua_pop(L, 1);
    }
    const char *c1 = "RA---TAN", *c2 = "DEC--TAN";
    if (lua_getfield(L, 1, "ctype") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TTABLE || lua_geti(L, -1, 1) != LUA_TSTRING ||
            lua_geti(L, -2, 2) != LUA_TSTRING)
            luaL_error(L, "wcs_simple: option 'ctype' must be two strings, e.g. "
                          "{\"RA---TAN\", \"DEC--TAN\"}");
        c1 = lua_tostring(L, -2); /* anchored in the options table */
        c2 = lua_tostring(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    static const double zero[2] = {0, 0};
    double crval[2], crpix[2], cdelt[2];
    pair_opt(L, 1, "crval", crval, 1, zero);
    pair_opt(L, 1, "crpix", crpix, 1, zero);
    pair_opt(L, 1, "cdelt", cdelt, 1, zero);
    double crota2 = mxl_opt_num_opt(L, 1, "crota2", 0.0);
    double equinox = mxl_opt_num_opt(L, 1, "equinox", 2000.0);
    mx_wcs **slot = new_wcs_slot(L);
    mxl_check(L, mx_wcs_new_simple(c1, c2, crval, crpix, cdelt, crota2, equinox, slot));
    return 1;
}

static const luaL_Reg wcs_methods[] = {
    {"pix2sky", w_pix2sky},
    {"sky2pix", w_sky2pix},
    {"pixel_scale", w_pixel_scale},
    {"pixel_area", w_pixel_area},
    {"orientation", w_orientation},
    {"footprint", w_footprint},
    {"ctype", w_ctype},
    {"projection", w_projection},
    {"system", w_system},
    {"has_distortion", w_has_distortion},
    {"reference", w_reference},
    {"copy", w_copy},
    {"close", wcs_gc},
    {NULL, NULL}};

static const luaL_Reg wcs_meta[] = {
    {"__gc", wcs_gc}, {"__close", wcs_gc}, {"__tostring", wcs_tostring}, {NULL, NULL}};

static const luaL_Reg wcs_funcs[] = {{"wcs_from_header", c_wcs_from_header},
                                     {"read_wcs", c_read_wcs},
                                     {"wcs_simple", c_wcs_simple},
                                     {NULL, NULL}};

int mxl_open_wcs(lua_State *L);
int mxl_open_wcs(lua_State *L) {
    int core = lua_gettop(L);
    luaL_setfuncs(L, wcs_funcs, 0);
    mxl_register_type(L, core, MXL_WCS, "Wcs", wcs_meta, wcs_methods);
    return 0;
}
