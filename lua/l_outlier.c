/* l_outlier.c - bindings of the multi-frame outlier modules (mx_outlier.h):
 *
 *   core.mosaic_coverage(opts)     -> { covg_map =, table =, tiles = {...}, ntiles =, max = }
 *   core.mosaic_outlier(opts)      -> { outputs = {...}, list =, flagged =, pixels =, max =, ntiles = }
 *   core.mosaic_box_outlier(opts)  -> same, plus fallback = grid pixels that used the temporal method
 *   core.mosaic_dual_outlier(opts) -> same (flagged = values negated)
 *   core.mosaic_rmask(opts)        -> { rmasks = {...}, list =, counts = {radhit=, temporal=, dual=, box=} }
 *   core.rmask_mosaic(opts)        -> path of Rmask-mosaic/mosaic.fits
 * and the per-pixel kernels, for tests and exploration:
 *   core.temporal_stack(values, sigmas|nil, {bottom=, top=, min_pix_num=, median="upper"|"average"})
 *                                  -> outs, M, sigma   (M, sigma nil when no test is possible)
 *   core.box_stack(main, sigmas|nil, box, bias) -> outs, M, sigma, fallback
 *   core.dual_stack(values, max_image, max_frac) -> values (NaN kept), negated
 *
 * `opts` are validated by lua/mopex/modules/{coverage,outlier,box_outlier,
 * dual_outlier,rmask,rmask_mosaic}.lua (defaults live there); lists arrive
 * as arrays of existing paths.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mxl.h"
#include "mopex/mx_outlier.h"

static int median_mode(lua_State *L, int opts) {
    const char *m = mxl_opt_str_opt(L, opts, "median");
    if (!m || strcmp(m, "upper") == 0) return MX_MEDIAN_UPPER;
    if (strcmp(m, "average") == 0) return MX_MEDIAN_AVERAGE;
    return luaL_error(L, "option 'median' must be \"upper\" or \"average\"");
}

/* The options every stack driver reads (missing ones raise before any C
 * allocation). */
static void run_opts(lua_State *L, int o, mx_outlier_run_opts *r) {
    memset(r, 0, sizeof *r);
    r->temporal.bottom = mxl_opt_num_opt(L, o, "bottom", 0);
    r->temporal.top = mxl_opt_num_opt(L, o, "top", 0);
    r->temporal.min_pix_num = (int)mxl_opt_int_opt(L, o, "min_pix_num", 0);
    r->temporal.median_mode = median_mode(L, o);
    r->thresh_option = (int)mxl_opt_int_opt(L, o, "thresh_option", 1);
    r->box_x = (int)mxl_opt_int_opt(L, o, "box_x", 1);
    r->box_y = (int)mxl_opt_int_opt(L, o, "box_y", 1);
    r->box_bias = (int)mxl_opt_int_opt(L, o, "bias", 0);
    r->max_outl_image = (int)mxl_opt_int_opt(L, o, "max_image", 0);
    r->max_outl_frac = mxl_opt_num_opt(L, o, "max_frac", 0);
    r->min_cover = mxl_opt_num_opt(L, o, "min_cover", 0);
    double mb = mxl_opt_num_opt(L, o, "memory_mb", 0);
    if (!(mb >= 0)) luaL_error(L, "option 'memory_mb' must be >= 0");
    r->memory_budget = (size_t)(mb * 1048576.0);
    r->tile_x = (long)mxl_opt_int_req(L, o, "tile_x");
    r->tile_y = (long)mxl_opt_int_req(L, o, "tile_y");
    r->out_dir = mxl_opt_str_req(L, o, "out_dir");
}

typedef int (*driver_fn)(const mx_outlier_inputs *, const char *, const mx_outlier_run_opts *,
                         mx_outlier_result **);

static int stack_driver(lua_State *L, driver_fn fn, int box) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_outlier_run_opts ro;
    run_opts(L, 1, &ro);
    const char *fif = mxl_opt_str_req(L, 1, "fif");
    int n = 0, nc = 0, ns = 0;
    const char *const *images = mxl_opt_paths(L, 1, "images", &n);
    const char *const *covs = mxl_opt_paths(L, 1, "coverages", &nc);
    const char *const *sigs = mxl_opt_paths(L, 1, "sigmas", &ns);
    if (!images || n == 0) return luaL_error(L, "option 'images' must be a non-empty array of paths");
    if ((covs && nc != n) || (sigs && ns != n))
        return luaL_error(L, "options 'coverages'/'sigmas' have %d/%d entries, 'images' %d", nc, ns, n);
    mx_outlier_inputs in = {n, images, covs, sigs};
    mx_outlier_result *r = NULL;
    mxl_check(L, fn(&in, fif, &ro, &r));
    lua_createtable(L, 0, 8);
    mxl_pushstrings(L, r->outputs, r->n);
    lua_setfield(L, -2, "outputs");
    mxl_setstr(L, "list", r->list);
    mxl_setint(L, "flagged", r->nflagged);
    mxl_setint(L, "pixels", r->npixels);
    mxl_setint(L, "ntiles", r->ntiles);
    mxl_setnum(L, "max", r->max);
    if (box) mxl_setint(L, "fallback", r->nfallback);
    mx_outlier_result_free(r);
    return 1;
}

static int c_mosaic_outlier(lua_State *L) { return stack_driver(L, mx_outlier_run, 0); }
static int c_mosaic_box_outlier(lua_State *L) { return stack_driver(L, mx_box_outlier_run, 1); }
static int c_mosaic_dual_outlier(lua_State *L) { return stack_driver(L, mx_dual_outlier_run, 0); }

static int c_mosaic_coverage(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_outlier_run_opts ro;
    run_opts(L, 1, &ro);
    const char *fif = mxl_opt_str_req(L, 1, "fif");
    const char *map = mxl_opt_str_req(L, 1, "covg_map");
    int n = 0;
    const char *const *covs = mxl_opt_paths(L, 1, "coverages", &n);
    if (!covs || n == 0) return luaL_error(L, "option 'coverages' must be a non-empty array of paths");
    mx_outlier_inputs in = {n, covs, covs, NULL};
    mx_outlier_result *r = NULL;
    mxl_check(L, mx_coverage_run(&in, fif, &ro, map, &r));
    lua_createtable(L, 0, 6);
    mxl_setstr(L, "covg_map", r->map);
    mxl_setstr(L, "table", r->list);
    mxl_setint(L, "ntiles", r->ntiles);
    mxl_setint(L, "pixels", r->npixels);
    mxl_setnum(L, "max", r->max);
    lua_createtable(L, r->ntiles, 0);
    for (int t = 1; t <= r->ntiles; t++) {
        char name[64];
        snprintf(name, sizeof name, "covg_Tile_%03d.fits", t);
        char *p = mx_path_join(ro.out_dir, name);
        lua_pushstring(L, p ? p : name);
        free(p);
        lua_seti(L, -2, t);
    }
    lua_setfield(L, -2, "tiles");
    mx_outlier_result_free(r);
    return 1;
}

static int c_mosaic_rmask(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_rmask_opts o;
    memset(&o, 0, sizeof o);
    o.rm_thresh = mxl_opt_num_req(L, 1, "rm_thresh");
    o.bottom = mxl_opt_num_req(L, 1, "bottom");
    o.top = mxl_opt_num_req(L, 1, "top");
    o.min_coverage = mxl_opt_num_req(L, 1, "min_coverage");
    o.max_coverage = mxl_opt_num_req(L, 1, "max_coverage");
    o.refine = mxl_opt_bool_opt(L, 1, "refine", 0);
    o.refine_thresh = mxl_opt_num_req(L, 1, "refine_thresh");
    o.box_bottom = mxl_opt_num_req(L, 1, "box_bottom");
    o.box_top = mxl_opt_num_req(L, 1, "box_top");
    o.box_min_coverage = mxl_opt_num_req(L, 1, "box_min_coverage");
    o.use_outlier = mxl_opt_bool_opt(L, 1, "use_outlier", 0);
    o.use_dual = mxl_opt_bool_opt(L, 1, "use_dual", 0);
    o.use_box = mxl_opt_bool_opt(L, 1, "use_box", 0);
    o.radhit_bit = (int)mxl_opt_int_opt(L, 1, "radhit_bit", -1);
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    mx_rmask_inputs in;
    memset(&in, 0, sizeof in);
    in.coverage_map = mxl_opt_str_opt(L, 1, "coverage_map");
    in.fif_path = mxl_opt_str_opt(L, 1, "fif");
    int nd = 0;
    in.images = mxl_opt_paths(L, 1, "images", &in.n);
    in.dmasks = mxl_opt_paths(L, 1, "dmasks", &nd);
    in.outlier_maps = mxl_opt_paths(L, 1, "outlier_maps", &in.n_outlier);
    in.dual_maps = mxl_opt_paths(L, 1, "dual_maps", &in.n_dual);
    in.box_maps = mxl_opt_paths(L, 1, "box_maps", &in.n_box);
    if (!in.images || in.n == 0) return luaL_error(L, "option 'images' must be a non-empty array of paths");
    if (in.dmasks && nd != in.n)
        return luaL_error(L, "option 'dmasks' has %d entries, 'images' %d", nd, in.n);
    mx_rmask_result *r = NULL;
    mxl_check(L, mx_rmask_run(&in, &o, &r));
    lua_createtable(L, 0, 3);
    mxl_pushstrings(L, r->rmasks, r->n);
    lua_setfield(L, -2, "rmasks");
    mxl_setstr(L, "list", r->list);
    lua_createtable(L, 0, 4);
    mxl_setint(L, "radhit", r->counts[0]);
    mxl_setint(L, "temporal", r->counts[1]);
    mxl_setint(L, "dual", r->counts[2]);
    mxl_setint(L, "box", r->counts[3]);
    lua_setfield(L, -2, "counts");
    mx_rmask_result_free(r);
    return 1;
}

static int c_rmask_mosaic(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_rmask_mosaic_opts o;
    o.method = (int)mxl_opt_int_req(L, 1, "method");
    o.fineres = (int)mxl_opt_int_req(L, 1, "fineres");
    o.driz_fac = mxl_opt_num_req(L, 1, "driz_fac");
    o.grid_ratio = (int)mxl_opt_int_req(L, 1, "grid_ratio");
    o.alpha = mxl_opt_num_req(L, 1, "alpha");
    o.tilemax_x = (long)mxl_opt_int_req(L, 1, "tile_x");
    o.tilemax_y = (long)mxl_opt_int_req(L, 1, "tile_y");
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    const char *fif = mxl_opt_str_req(L, 1, "fif");
    int n = 0;
    const char *const *rm = mxl_opt_paths(L, 1, "rmasks", &n);
    if (!rm || n == 0) return luaL_error(L, "option 'rmasks' must be a non-empty array of paths");
    char *path = NULL;
    mxl_check(L, mx_rmask_mosaic_run(n, rm, fif, &o, &path));
    lua_pushstring(L, path);
    free(path);
    return 1;
}

/* ---- kernels ---------------------------------------------------------------- */

/* A Lua array of numbers as floats in a userdata left on the stack. */
static float *floats(lua_State *L, int idx, size_t *n) {
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer len = luaL_len(L, idx);
    if (len < 0 || len > 100000000) luaL_error(L, "array of %d values", (int)len);
    float *v = lua_newuserdatauv(L, sizeof *v * (size_t)(len > 0 ? len : 1), 0);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, idx, i);
        int ok;
        lua_Number x = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "entry %d is not a number", (int)i);
        v[i - 1] = (float)x;
        lua_pop(L, 1);
    }
    *n = (size_t)len;
    return v;
}

static void push_floats(lua_State *L, const float *v, size_t n) {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_seti(L, -2, (lua_Integer)i + 1);
    }
}

static int c_temporal_stack(lua_State *L) {
    size_t n, ns = 0;
    float *v = floats(L, 1, &n), *s = NULL;
    if (!lua_isnoneornil(L, 2)) {
        s = floats(L, 2, &ns);
        if (ns != n) return luaL_error(L, "sigmas have %d entries, values %d", (int)ns, (int)n);
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    mx_temporal_opts o;
    o.bottom = mxl_opt_num_opt(L, 3, "bottom", 0);
    o.top = mxl_opt_num_opt(L, 3, "top", 0);
    o.min_pix_num = (int)mxl_opt_int_opt(L, 3, "min_pix_num", 3);
    o.median_mode = median_mode(L, 3);
    float *work = lua_newuserdatauv(L, sizeof *work * (n ? n : 1), 0);
    float *out = lua_newuserdatauv(L, sizeof *out * (n ? n : 1), 0);
    double m, sg;
    int ok = mx_temporal_stats(v, s, n, &o, work, &m, &sg);
    mx_temporal_outliers(v, s, n, &o, work, out);
    push_floats(L, out, n);
    if (ok) {
        lua_pushnumber(L, m);
        lua_pushnumber(L, sg);
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
    }
    return 3;
}

static int c_box_stack(lua_State *L) {
    size_t n, ns = 0, nb;
    float *v = floats(L, 1, &n), *s = NULL;
    if (!lua_isnoneornil(L, 2)) {
        s = floats(L, 2, &ns);
        if (ns != n) return luaL_error(L, "sigmas have %d entries, values %d", (int)ns, (int)n);
    }
    float *b = floats(L, 3, &nb);
    int bias = (int)luaL_checkinteger(L, 4);
    size_t nw = nb > n ? nb : n;
    float *work = lua_newuserdatauv(L, sizeof *work * (nw ? nw : 1), 0);
    float *out = lua_newuserdatauv(L, sizeof *out * (n ? n : 1), 0);
    double m, sg;
    int fb;
    int ok = mx_box_outlier_pixel(v, s, n, b, nb, bias, work, out, &m, &sg, &fb);
    push_floats(L, out, n);
    if (ok) {
        lua_pushnumber(L, m);
        lua_pushnumber(L, sg);
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
    }
    lua_pushboolean(L, fb);
    return 4;
}

static int c_dual_stack(lua_State *L) {
    size_t n;
    float *v = floats(L, 1, &n);
    int max_image = (int)luaL_checkinteger(L, 2);
    double max_frac = luaL_checknumber(L, 3);
    size_t neg = mx_dual_outlier_pixel(v, n, max_image, max_frac);
    push_floats(L, v, n);
    lua_pushinteger(L, (lua_Integer)neg);
    return 2;
}

static const luaL_Reg funcs[] = {
    {"mosaic_coverage", c_mosaic_coverage},
    {"mosaic_outlier", c_mosaic_outlier},
    {"mosaic_box_outlier", c_mosaic_box_outlier},
    {"mosaic_dual_outlier", c_mosaic_dual_outlier},
    {"mosaic_rmask", c_mosaic_rmask},
    {"rmask_mosaic", c_rmask_mosaic},
    {"temporal_stack", c_temporal_stack},
    {"box_stack", c_box_stack},
    {"dual_stack", c_dual_stack},
    {NULL, NULL},
};

int mxl_open_outlier(lua_State *L) {
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
