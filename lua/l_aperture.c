/* l_aperture.c - binding of exact aperture photometry: core.aperture.
 *
 *   core.aperture(img, x, y, {r = 5, annulus = {12, 20}, mask = m, fatal = 32520})
 *     -> { sum =, sum_raw =, area =, area_bad =, area_out =, nbad =,
 *          background =, nbackground =, edge =, bad =, nobkg = }
 *   core.aperture(img, {x1, x2, ...}, {y1, y2, ...}, opts) -> array of such tables
 *
 * x, y are FITS 1-based pixel positions. `img` is a float Image; `mask` an
 * integer Image of the same size whose pixels with (mask & fatal) ~= 0 are
 * bad (fatal defaults to every bit). NaN pixels are always bad. Semantics
 * of every field: core/include/mopex/mx_aperture.h.
 */
#include <math.h>
#include <stdlib.h>

#include "mopex/mx_aperture.h"
#include "mxl.h"

static void setnum(lua_State *L, const char *k, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void push_result(lua_State *L, const mx_aperture_result *r) {
    lua_createtable(L, 0, 11);
    setnum(L, "sum", r->sum);
    setnum(L, "sum_raw", r->sum_raw);
    setnum(L, "area", r->area);
    setnum(L, "area_bad", r->area_bad);
    setnum(L, "area_out", r->area_out);
    setnum(L, "background", r->background);
    lua_pushinteger(L, r->nbad);
    lua_setfield(L, -2, "nbad");
    lua_pushinteger(L, r->nbackground);
    lua_setfield(L, -2, "nbackground");
    lua_pushboolean(L, (r->flags & MX_APER_EDGE) != 0);
    lua_setfield(L, -2, "edge");
    lua_pushboolean(L, (r->flags & MX_APER_BAD) != 0);
    lua_setfield(L, -2, "bad");
    lua_pushboolean(L, (r->flags & MX_APER_NOBKG) != 0);
    lua_setfield(L, -2, "nobkg");
}

static void read_opts(lua_State *L, int opts, const mx_image *img, mx_aperture_opts *o) {
    o->radius = mxl_opt_num_req(L, opts, "r");
    o->annulus_in = o->annulus_out = 0.0;
    if (lua_getfield(L, opts, "annulus") != LUA_TNIL) {
        if (!lua_istable(L, -1)) luaL_error(L, "option 'annulus' must be {inner, outer} (pixels)");
        lua_geti(L, -1, 1);
        lua_geti(L, -2, 2);
        int ok1 = 0, ok2 = 0;
        o->annulus_in = lua_tonumberx(L, -2, &ok1);
        o->annulus_out = lua_tonumberx(L, -1, &ok2);
        if (!ok1 || !ok2) luaL_error(L, "option 'annulus' must be {inner, outer} (pixels)");
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    o->mask = NULL;
    o->mask_fatal = (uint32_t)mxl_opt_int_opt(L, opts, "fatal", (lua_Integer)0xFFFFFFFFu);
    if (lua_getfield(L, opts, "mask") != LUA_TNIL) {
        mx_image *m = mxl_check_image(L, -1);
        if (m->kind != MX_IMG_INT)
            luaL_error(L, "option 'mask' must be an integer image (read it with mopex.read_mask)");
        if (m->nx != img->nx || m->ny != img->ny)
            luaL_error(L, "option 'mask' is %dx%d, the image is %dx%d", (int)m->nx, (int)m->ny,
                       (int)img->nx, (int)img->ny);
        o->mask = m->mask; /* the mask stays referenced by the options table */
    }
    lua_pop(L, 1);
}

static void measure(lua_State *L, const mx_image *img, double x, double y,
                    const mx_aperture_opts *o) {
    mx_aperture_result r;
    mxl_check(L, mx_aperture(img->data, img->nx, img->ny, x - 1.0, y - 1.0, o, &r));
    push_result(L, &r);
}

static int l_aperture(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    if (img->kind != MX_IMG_FLOAT) return luaL_argerror(L, 1, "a float image is needed, not a mask");
    luaL_checktype(L, 4, LUA_TTABLE);
    mx_aperture_opts o;
    read_opts(L, 4, img, &o);
    if (lua_type(L, 2) == LUA_TTABLE) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_Integer n = luaL_len(L, 2);
        if (luaL_len(L, 3) != n)
            return luaL_error(L, "x has %d positions, y has %d", (int)n, (int)luaL_len(L, 3));
        lua_createtable(L, (int)n, 0);
        for (lua_Integer k = 1; k <= n; k++) {
            lua_geti(L, 2, k);
            lua_geti(L, 3, k);
            int okx = 0, oky = 0;
            double x = lua_tonumberx(L, -2, &okx), y = lua_tonumberx(L, -1, &oky);
            if (!okx || !oky) return luaL_error(L, "position %d is not a pair of numbers", (int)k);
            lua_pop(L, 2);
            measure(L, img, x, y, &o);
            lua_seti(L, -2, k);
        }
        return 1;
    }
    double x = luaL_checknumber(L, 2), y = luaL_checknumber(L, 3);
    measure(L, img, x, y, &o);
    return 1;
}

int mxl_open_aperture(lua_State *L) {
    lua_pushcfunction(L, l_aperture);
    lua_setfield(L, -2, "aperture");
    return 0;
}
