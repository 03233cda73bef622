/* l_fif.c - bindings of the output-frame and input-preparation modules:
 * Fiducial Image Frame, Mosaic Geometry, S/N Estimator, FIF tables, tiling
 * and celestial systems.
 *
 *   core.fiducial_frame(opts)        -> frame, info   (writes FIF.tbl, header_list.tbl)
 *   core.mosaic_geometry(opts)       -> { selected 1-based indices }  (writes geom_*.tbl)
 *   core.sn_estimator(opts)          -> nothing       (writes the sigma images)
 *   core.read_fif(path)              -> frame
 *   core.write_fif(path, frame [, program])
 *   core.mosaic_fif(frame|path, {pixel_size_x=, pixel_size_y=, pixel_ratio_x=, pixel_ratio_y=})
 *                                    -> frame at the output pixel size (mosaic_fif.tbl rule)
 *   core.fif_wcs(frame|path)         -> Wcs
 *   core.tiling(naxis1, naxis2, tilemax_x [, tilemax_y]) -> { {tile_id=, naxis1=, naxis2=,
 *                                       offset_x=, offset_y=}, ... }  (offsets 0-based, as
 *                                       in the tile tables)
 *   core.spitzer_gain(path|Image)    -> gain, read_noise  (the guide's Eq 4.1:
 *                                       EXPTIME * GAIN / FLUXCONV in e- per MJy/sr, and
 *                                       RONOISE or nil)
 *   core.sky_convert(from, to, lon, lat) -> lon, lat  (numbers or arrays; systems
 *                                       "J2000", "Galactic", "Ecliptic", "FK5")
 *
 * A frame is a plain table: crval1, crval2, crpix1, crpix2 (FITS 1-based),
 * cdelt1, cdelt2, crota2, naxis1, naxis2, equinox, projection, system,
 * ctype1, ctype2, extent_x, extent_y. Frames given to these functions are
 * read like hand-edited FIF tables (mx_fif_from_table): missing crpix,
 * crota2, equinox, system and projection are defaulted, ctype decides.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mxl.h"

static void push_frame(lua_State *L, const mx_fif *f) {
    lua_createtable(L, 0, 16);
    const struct {
        const char *k;
        double v;
    } nums[] = {{"crval1", f->crval[0]}, {"crval2", f->crval[1]}, {"crpix1", f->crpix[0]},
                {"crpix2", f->crpix[1]}, {"cdelt1", f->cdelt[0]}, {"cdelt2", f->cdelt[1]},
                {"crota2", f->crota2},   {"equinox", f->equinox},
                {"extent_x", (double)f->naxis[0] * fabs(f->cdelt[0])},
                {"extent_y", (double)f->naxis[1] * fabs(f->cdelt[1])}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        lua_pushnumber(L, nums[i].v);
        lua_setfield(L, -2, nums[i].k);
    }
    lua_pushinteger(L, f->naxis[0]);
    lua_setfield(L, -2, "naxis1");
    lua_pushinteger(L, f->naxis[1]);
    lua_setfield(L, -2, "naxis2");
    lua_pushstring(L, f->projection);
    lua_setfield(L, -2, "projection");
    lua_pushstring(L, mx_sky_name(f->system));
    lua_setfield(L, -2, "system");
    lua_pushstring(L, f->ctype[0]);
    lua_setfield(L, -2, "ctype1");
    lua_pushstring(L, f->ctype[1]);
    lua_setfield(L, -2, "ctype2");
}

/* A frame argument: a FIF table path or a frame table (read leniently, as a
 * hand-edited FIF). */
static void check_frame(lua_State *L, int idx, mx_fif *f) {
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        mxl_check(L, mx_fif_read(lua_tostring(L, idx), f));
        return;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    static const char *const keys[] = {"CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2",
                                       "CROTA2", "NAXIS1", "NAXIS2", "EQUINOX", "PROJTYPE",
                                       "COORDINATE_SYSTEM", "CTYPE1", "CTYPE2", NULL};
    static const char *const lkeys[] = {"crval1", "crval2", "crpix1", "crpix2", "cdelt1", "cdelt2",
                                        "crota2", "naxis1", "naxis2", "equinox", "projection",
                                        "system", "ctype1", "ctype2", NULL};
    /* collect the values as strings first (raising is safe: nothing allocated) */
    const char *vals[14];
    for (int k = 0; keys[k]; k++) {
        int t = lua_getfield(L, idx, lkeys[k]);
        if (t == LUA_TNIL) {
            lua_pop(L, 1);
            t = lua_getfield(L, idx, keys[k]);
        }
        if (t == LUA_TNIL) {
            vals[k] = NULL;
        } else if (t == LUA_TNUMBER) {
            char buf[40];
            if (lua_isinteger(L, -1))
                snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, -1));
            else
                snprintf(buf, sizeof buf, "%.17g", (double)lua_tonumber(L, -1));
            lua_pushstring(L, buf);
            lua_replace(L, -2);
            vals[k] = lua_tostring(L, -1);
        } else if (t == LUA_TSTRING) {
            vals[k] = lua_tostring(L, -1);
        } else {
            luaL_error(L, "frame field '%s' must be a number or a string", lkeys[k]);
        }
        /* keep the strings on the stack until the table is built */
    }
    mx_table *t = mx_table_new();
    int st = t ? MX_OK : mx_seterr(MX_ERR_NOMEM, "frame table");
    for (int k = 0; keys[k] && st == MX_OK; k++)
        if (vals[k]) st = mx_table_set_keyword(t, keys[k], vals[k], 'c');
    if (st == MX_OK) st = mx_fif_from_table(t, "frame table", f);
    mx_table_free(t);
    lua_pop(L, 14);
    mxl_check(L, st);
}

static double opt_crota2(lua_State *L, int opts, int *average) {
    int t = lua_getfield(L, opts, "crota2");
    double v = 0.0;
    *average = 0;
    if (t == LUA_TNIL || (t == LUA_TSTRING && (strcmp(lua_tostring(L, -1), "A") == 0 ||
                                               strcmp(lua_tostring(L, -1), "a") == 0))) {
        *average = 1;
    } else if (t == LUA_TNUMBER) {
        v = lua_tonumber(L, -1);
    } else {
        luaL_error(L, "option 'crota2' must be an angle in degrees or \"A\"");
    }
    lua_pop(L, 1);
    return v;
}

static int c_fiducial_frame(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_fif_opts o;
    o.edge_padding = mxl_opt_num_req(L, 1, "edge_padding");
    o.projection = mxl_opt_str_req(L, 1, "projection");
    o.system = mxl_opt_str_req(L, 1, "system");
    o.crota2 = opt_crota2(L, 1, &o.crota2_average);
    o.margin = (long)mxl_opt_int_opt(L, 1, "margin", 0);
    o.moving_object = (long)mxl_opt_int_opt(L, 1, "moving_object", 0);
    const char *fif_path = mxl_opt_str_opt(L, 1, "fif_path");
    const char *hl_path = mxl_opt_str_opt(L, 1, "header_list_path");
    int n = 0;
    const char **paths = mxl_opt_strlist(L, 1, "images", &n);
    if (!paths || n == 0) {
        free(paths);
        return luaL_error(L, "option 'images' must be a non-empty array of paths");
    }
    mx_fif f;
    mx_fif_info info;
    int st = mx_fif_run(n, paths, &o, fif_path, hl_path, &f, &info);
    free(paths);
    mxl_check(L, st);
    push_frame(L, &f);
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, info.pixel_scale);
    lua_setfield(L, -2, "pixel_scale");
    lua_pushnumber(L, info.crota2_mean);
    lua_setfield(L, -2, "crota2_mean");
    lua_pushnumber(L, info.max_distance);
    lua_setfield(L, -2, "max_distance");
    lua_pushinteger(L, info.iterations);
    lua_setfield(L, -2, "iterations");
    return 2;
}

static int c_mosaic_geometry(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_geom_opts o;
    o.margin = (long)mxl_opt_int_opt(L, 1, "margin", 0);
    o.moving_object = (long)mxl_opt_int_opt(L, 1, "moving_object", 0);
    o.tilemax_x = (long)mxl_opt_int_req(L, 1, "tile_max_x");
    o.tilemax_y = (long)mxl_opt_int_req(L, 1, "tile_max_y");
    const char *fif = mxl_opt_str_req(L, 1, "fif");
    const char *outdir = mxl_opt_str_req(L, 1, "out_dir");
    int n = 0;
    const char **paths = mxl_opt_strlist(L, 1, "images", &n);
    if (!paths || n == 0) {
        free(paths);
        return luaL_error(L, "option 'images' must be a non-empty array of paths");
    }
    int *sel = malloc((size_t)n * sizeof *sel);
    int st = sel ? mx_geom_run(n, paths, fif, &o, outdir, sel, NULL) : mx_seterr(MX_ERR_NOMEM, "selection");
    free(paths);
    if (st != MX_OK) {
        free(sel);
        mxl_check(L, st);
    }
    /* copy out before any Lua allocation can raise */
    int m = 0;
    for (int i = 0; i < n; i++)
        if (sel[i]) sel[m++] = i + 1;
    int *idx = lua_newuserdatauv(L, sizeof *idx * (size_t)(m > 0 ? m : 1), 0);
    memcpy(idx, sel, sizeof *idx * (size_t)m);
    free(sel);
    lua_createtable(L, m, 0);
    for (int k = 0; k < m; k++) {
        lua_pushinteger(L, idx[k]);
        lua_seti(L, -2, k + 1);
    }
    return 1;
}

static int c_sn_estimator(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_snest_opts o;
    o.gain = mxl_opt_num_req(L, 1, "gain");
    o.read_noise = mxl_opt_num_req(L, 1, "read_noise");
    o.confusion_sigma = mxl_opt_num_req(L, 1, "confusion_sigma");
    /* both lists are checked by mxl_opt_strlist before it allocates; the
     * second call may raise, so it must not hold the first one yet */
    int n = 0, m = 0;
    const char **outs = mxl_opt_strlist(L, 1, "outputs", &m);
    free(outs);
    const char **ins = mxl_opt_strlist(L, 1, "images", &n);
    if (!ins || n == 0) {
        free(ins);
        return luaL_error(L, "option 'images' must be a non-empty array of paths");
    }
    if (m != n) {
        free(ins);
        return luaL_error(L, "option 'outputs' has %d entries, 'images' has %d", m, n);
    }
    outs = malloc(sizeof *outs * (size_t)n);
    if (!outs) {
        free(ins);
        return luaL_error(L, "out of memory");
    }
    lua_getfield(L, 1, "outputs");
    for (int i = 0; i < n; i++) {
        lua_geti(L, -1, i + 1);
        outs[i] = lua_tostring(L, -1); /* anchored in the outputs array */
        lua_pop(L, 1);
    }
    int st = mx_snest_run(n, ins, outs, &o);
    free(ins);
    free(outs);
    mxl_check(L, st);
    return 0;
}

static int c_read_fif(lua_State *L) {
    mx_fif f;
    mxl_check(L, mx_fif_read(luaL_checkstring(L, 1), &f));
    push_frame(L, &f);
    return 1;
}

static int c_write_fif(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    const char *program = luaL_optstring(L, 3, NULL);
    mx_fif f;
    check_frame(L, 2, &f);
    mxl_check(L, mx_fif_write(&f, program, path));
    return 0;
}

static double opt_nan(lua_State *L, int opts, const char *name) {
    if (lua_isnoneornil(L, opts)) return NAN;
    return mxl_opt_num_opt(L, opts, name, NAN);
}

static int c_mosaic_fif(lua_State *L) {
    mx_fif f, g;
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    double sx = opt_nan(L, 2, "pixel_size_x"), sy = opt_nan(L, 2, "pixel_size_y");
    double rx = opt_nan(L, 2, "pixel_ratio_x"), ry = opt_nan(L, 2, "pixel_ratio_y");
    check_frame(L, 1, &f);
    mxl_check(L, mx_fif_rescale(&f, sx, sy, rx, ry, &g));
    push_frame(L, &g);
    return 1;
}

static int c_fif_wcs(lua_State *L) {
    mx_fif f;
    mx_wcs *w = NULL;
    check_frame(L, 1, &f);
    mxl_check(L, mx_fif_wcs(&f, &w));
    mxl_push_wcs(L, w);
    return 1;
}

static int c_tiling(lua_State *L) {
    lua_Integer n1 = luaL_checkinteger(L, 1), n2 = luaL_checkinteger(L, 2);
    lua_Integer tx = luaL_checkinteger(L, 3), ty = luaL_optinteger(L, 4, tx);
    mx_tile *tiles = NULL;
    int nt = 0;
    mxl_check(L, mx_tiling((long)n1, (long)n2, (long)tx, (long)ty, &tiles, &nt));
    mx_tile *copy = lua_newuserdatauv(L, sizeof *copy * (size_t)(nt > 0 ? nt : 1), 0);
    memcpy(copy, tiles, sizeof *copy * (size_t)nt);
    free(tiles);
    lua_createtable(L, nt, 0);
    for (int k = 0; k < nt; k++) {
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, copy[k].id);
        lua_setfield(L, -2, "tile_id");
        lua_pushinteger(L, copy[k].nx);
        lua_setfield(L, -2, "naxis1");
        lua_pushinteger(L, copy[k].ny);
        lua_setfield(L, -2, "naxis2");
        lua_pushinteger(L, copy[k].x0);
        lua_setfield(L, -2, "offset_x");
        lua_pushinteger(L, copy[k].y0);
        lua_setfield(L, -2, "offset_y");
        lua_seti(L, -2, k + 1);
    }
    return 1;
}

static int c_spitzer_gain(lua_State *L) {
    double gain, rn;
    mx_image *img = mxl_test_image(L, 1);
    if (img) {
        mxl_check(L, mx_snest_spitzer_gain(img->hdr, img->path, &gain, &rn));
    } else {
        const char *path = luaL_checkstring(L, 1);
        mx_header *h = NULL;
        int st = mx_fits_read_header(path, &h, NULL, NULL, NULL);
        if (st == MX_OK) st = mx_snest_spitzer_gain(h, path, &gain, &rn);
        mx_header_free(h);
        mxl_check(L, st);
    }
    lua_pushnumber(L, gain);
    if (isnan(rn)) lua_pushnil(L);
    else lua_pushnumber(L, rn);
    return 2;
}

static int c_sky_convert(lua_State *L) {
    mx_sky_system from, to;
    mxl_check(L, mx_sky_parse(luaL_checkstring(L, 1), &from));
    mxl_check(L, mx_sky_parse(luaL_checkstring(L, 2), &to));
    if (lua_type(L, 3) == LUA_TNUMBER) {
        double lon = luaL_checknumber(L, 3), lat = luaL_checknumber(L, 4);
        mxl_check(L, mx_sky_convert(from, to, 1, &lon, &lat));
        lua_pushnumber(L, lon);
        lua_pushnumber(L, lat);
        return 2;
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 3);
    if (luaL_len(L, 4) != n) return luaL_error(L, "sky_convert: lon and lat differ in length");
    double *v = lua_newuserdatauv(L, sizeof *v * 2 * (size_t)(n > 0 ? n : 1), 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_geti(L, 3, i + 1);
        lua_geti(L, 4, i + 1);
        int ok1, ok2;
        v[i] = lua_tonumberx(L, -2, &ok1);
        v[n + i] = lua_tonumberx(L, -1, &ok2);
        if (!ok1 || !ok2) return luaL_error(L, "sky_convert: entry %d is not a number", (int)i + 1);
        lua_pop(L, 2);
    }
    mxl_check(L, mx_sky_convert(from, to, (size_t)n, v, v + n));
    mxl_pushnumarray(L, v, (size_t)n);
    mxl_pushnumarray(L, v + n, (size_t)n);
    return 2;
}

static const luaL_Reg fif_funcs[] = {
    {"fiducial_frame", c_fiducial_frame},
    {"mosaic_geometry", c_mosaic_geometry},
    {"sn_estimator", c_sn_estimator},
    {"read_fif", c_read_fif},
    {"write_fif", c_write_fif},
    {"mosaic_fif", c_mosaic_fif},
    {"fif_wcs", c_fif_wcs},
    {"tiling", c_tiling},
    {"spitzer_gain", c_spitzer_gain},
    {"sky_convert", c_sky_convert},
    {NULL, NULL}};

int mxl_open_fif(lua_State *L);
int mxl_open_fif(lua_State *L) {
    luaL_setfuncs(L, fif_funcs, 0);
    return 0;
}
