/* l_interp.c - bindings of Mosaic Interpolate and Mosaic Reinterpolate:
 * core.interpolate(opts) and core.reinterpolate(opts).
 *
 * `opts` comes from lua/mopex/modules/{interpolate,reinterpolate}.lua, which
 * validated it, filled the defaults and resolved every list into an array
 * of existing paths. This file converts it into mx_interp_* structures and
 * the result into the product table:
 *
 *   { images = {...}, coverages = {...}, sigmas = {...} or nil,
 *     lists = { images = ..., coverages = ..., sigmas = ... or nil },
 *     table = ".../interp_ImageList.txt.tbl", mosaic_fif = ".../mosaic_fif.tbl",
 *     fif = (the same path: the grid the next modules take as `fif`),
 *     offsets = { {image_id =, x =, y =, w =, h =, nusable =, counts =}, ... },
 *     image_ids = {...}, skipped = { image ids off the grid }, reused = n,
 *     method = { method =, fineres =, driz_fac =, grid_ratio =, alpha = } }
 *
 * offsets[k] belongs to images[k]; x and y are MINTOFFX/MINTOFFY, the
 * 0-based offsets of the image in the mosaic grid (its pixel (1, 1) is
 * mosaic pixel (x + 1, y + 1)).
 */
#include <math.h>
#include <string.h>

#include "mxl.h"

static uint32_t pattern(lua_State *L, int opts, const char *name) {
    lua_Integer v = mxl_opt_int_req(L, opts, name);
    if (v < 0 || v > 0xFFFFFFFFLL) luaL_error(L, "option '%s' must be a bit pattern between 0 and 2^32-1", name);
    return (uint32_t)v;
}

static void read_inputs(lua_State *L, int o, mx_interp_inputs *in) {
    int n, ns, nd, nr, nb;
    memset(in, 0, sizeof *in);
    in->images = mxl_opt_paths(L, o, "images", &n);
    if (!in->images || n < 1) luaL_error(L, "option 'images' is required (an array of paths)");
    in->n = n;
    in->sigmas = mxl_opt_paths(L, o, "sigmas", &ns);
    in->dce_masks = mxl_opt_paths(L, o, "dce_masks", &nd);
    in->rmasks = mxl_opt_paths(L, o, "rmasks", &nr);
    in->bright_masks = mxl_opt_paths(L, o, "bright_masks", &nb);
    const struct { const void *p; int n; const char *name; } lists[] = {
        {in->sigmas, ns, "sigmas"}, {in->dce_masks, nd, "dce_masks"},
        {in->rmasks, nr, "rmasks"}, {in->bright_masks, nb, "bright_masks"}};
    for (int k = 0; k < 4; k++)
        if (lists[k].p && lists[k].n != n)
            luaL_error(L, "option '%s' has %d entries, 'images' has %d", lists[k].name, lists[k].n, n);
    in->pmask = mxl_opt_str_opt(L, o, "pmask");
}

static void set_str(lua_State *L, const char *key, const char *v) {
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}
static void set_int(lua_State *L, const char *key, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}
static void set_num(lua_State *L, const char *key, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

/* The product table; frees r. Only a Lua memory error could raise here. */
static void push_result(lua_State *L, mx_interp_result *r, const char *mosaic_fif) {
    int nw = r->nwritten, has_sigma = r->sigma_list != NULL;
    lua_createtable(L, 0, 12);
    lua_createtable(L, nw, 0); /* images */
    lua_createtable(L, nw, 0); /* coverages */
    if (has_sigma)
        lua_createtable(L, nw, 0);
    else
        lua_pushnil(L);
    lua_createtable(L, nw, 0); /* offsets */
    lua_createtable(L, nw, 0); /* image_ids */
    lua_newtable(L);           /* skipped */
    int top = lua_gettop(L);
    int ti = top - 5, tc = top - 4, ts = top - 3, to = top - 2, tid = top - 1, tsk = top;
    int k = 0, nsk = 0;
    for (int i = 0; i < r->n; i++) {
        const mx_interp_frame *f = &r->frames[i];
        if (!f->written) {
            lua_pushinteger(L, i + 1);
            lua_seti(L, tsk, ++nsk);
            continue;
        }
        k++;
        lua_pushstring(L, f->image);
        lua_seti(L, ti, k);
        lua_pushstring(L, f->coverage);
        lua_seti(L, tc, k);
        if (has_sigma) {
            lua_pushstring(L, f->sigma);
            lua_seti(L, ts, k);
        }
        lua_pushinteger(L, i + 1);
        lua_seti(L, tid, k);
        lua_createtable(L, 0, 7);
        set_int(L, "image_id", i + 1);
        set_int(L, "x", f->box.x0);
        set_int(L, "y", f->box.y0);
        set_int(L, "w", f->box.w);
        set_int(L, "h", f->box.h);
        set_int(L, "nusable", f->nusable);
        lua_pushboolean(L, f->counts);
        lua_setfield(L, -2, "counts");
        lua_seti(L, to, k);
    }
    lua_setfield(L, top - 6, "skipped");
    lua_setfield(L, top - 6, "image_ids");
    lua_setfield(L, top - 6, "offsets");
    lua_setfield(L, top - 6, "sigmas"); /* nil: no field */
    lua_setfield(L, top - 6, "coverages");
    lua_setfield(L, top - 6, "images");
    lua_createtable(L, 0, 3);
    set_str(L, "images", r->image_list);
    set_str(L, "coverages", r->coverage_list);
    set_str(L, "sigmas", r->sigma_list);
    lua_setfield(L, -2, "lists");
    set_str(L, "table", r->table);
    set_str(L, "mosaic_fif", mosaic_fif);
    set_str(L, "fif", mosaic_fif); /* the grid later modules take as their `fif` */
    set_int(L, "reused", r->nreused);
    lua_createtable(L, 0, 5);
    set_int(L, "method", r->method.method);
    set_int(L, "fineres", r->method.fineres);
    set_num(L, "driz_fac", r->method.driz_fac);
    set_int(L, "grid_ratio", r->method.grid_ratio);
    set_num(L, "alpha", r->method.alpha);
    lua_setfield(L, -2, "method");
    mx_interp_result_free(r);
}

/* core.interpolate(opts) -> product table */
static int l_interpolate(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_interp_inputs in;
    read_inputs(L, 1, &in);
    mx_interp_opts o;
    memset(&o, 0, sizeof o);
    o.method = (int)mxl_opt_int_req(L, 1, "method");
    o.fineres = (int)mxl_opt_int_req(L, 1, "fineres");
    o.driz_fac = mxl_opt_num_req(L, 1, "driz_fac");
    o.grid_ratio = (int)mxl_opt_int_req(L, 1, "grid_ratio");
    o.alpha = mxl_opt_num_req(L, 1, "alpha");
    o.dce_fatal = pattern(L, 1, "dce_fatal");
    o.pmask_fatal = pattern(L, 1, "pmask_fatal");
    o.rmask_fatal = pattern(L, 1, "rmask_fatal");
    o.mask_bright = mxl_opt_bool_opt(L, 1, "mask_bright", 0);
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    const char *fif = mxl_opt_str_req(L, 1, "fif");
    const char *mosaic_fif = mxl_opt_str_opt(L, 1, "mosaic_fif");
    double sx = mxl_opt_num_opt(L, 1, "pixel_size_x", NAN), sy = mxl_opt_num_opt(L, 1, "pixel_size_y", NAN);
    double rx = mxl_opt_num_opt(L, 1, "pixel_ratio_x", NAN), ry = mxl_opt_num_opt(L, 1, "pixel_ratio_y", NAN);
    mx_fif grid;
    mxl_check(L, mx_interp_grid(fif, sx, sy, rx, ry, mosaic_fif, &grid));
    mx_interp_result *r = NULL;
    mxl_check(L, mx_interp_run(&in, &grid, &o, &r));
    push_result(L, r, mosaic_fif);
    return 1;
}

/* core.reinterpolate(opts) -> product table */
static int l_reinterpolate(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_interp_inputs in;
    read_inputs(L, 1, &in);
    mx_reinterp_opts o;
    memset(&o, 0, sizeof o);
    o.dce_fatal = pattern(L, 1, "dce_fatal");
    o.pmask_fatal = pattern(L, 1, "pmask_fatal");
    o.rmask_fatal = pattern(L, 1, "rmask_fatal");
    o.mask_bright = mxl_opt_bool_opt(L, 1, "mask_bright", 0);
    o.interp_dir = mxl_opt_str_req(L, 1, "interp_dir");
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    const char *mosaic_fif = mxl_opt_str_req(L, 1, "mosaic_fif");
    mx_fif grid;
    mxl_check(L, mx_fif_read(mosaic_fif, &grid));
    mx_interp_result *r = NULL;
    mxl_check(L, mx_reinterp_run(&in, &grid, &o, &r));
    push_result(L, r, mosaic_fif);
    return 1;
}

int mxl_open_interp(lua_State *L);
int mxl_open_interp(lua_State *L) {
    lua_pushcfunction(L, l_interpolate);
    lua_setfield(L, -2, "interpolate");
    lua_pushcfunction(L, l_reinterpolate);
    lua_setfield(L, -2, "reinterpolate");
    return 0;
}
