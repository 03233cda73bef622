/* l_coadd.c - bindings of the co-addition modules (mx_coadd.h):
 *   core.coadd(opts)            Mosaic CoAdder / Quicklook tiles
 *   core.combine(opts)          Mosaic Combine of a CoAdder run
 *   core.combine_tiles(table, suffix, fif, out)
 *   core.fix_coverage(opts)     Fix Coverage
 *   core.mosaic_medfilter(opts) Mosaic MedFilter
 *   core.coadd_tile_name(product, id)
 * `opts` are tables validated by the module schemas in lua/mopex/modules/
 * (defaults there); lists are arrays of paths resolved by the Lua layer.
 * Arrays handed to C live in userdata on the Lua stack, so a raised error
 * frees them. */
#include <math.h>
#include <string.h>

#include "mxl.h"

/* An array option of strings as a C array kept in a userdata left on the
 * stack (the strings stay anchored in opts). NULL (nothing pushed) when
 * the option is nil. */
static const char **strlist(lua_State *L, int opts, const char *name, int *n) {
    opts = lua_absindex(L, opts);
    *n = 0;
    int t = lua_getfield(L, opts, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t != LUA_TTABLE) luaL_error(L, "option '%s' must be an array of paths", name);
    lua_Integer len = luaL_len(L, -1);
    const char **arr = lua_newuserdatauv(L, sizeof *arr * (size_t)(len > 0 ? len : 1), 0);
    for (lua_Integer i = 1; i <= len; i++) {
        if (lua_geti(L, -2, i) != LUA_TSTRING)
            luaL_error(L, "option '%s': entry %d is not a string", name, (int)i);
        arr[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    *n = (int)len;
    return arr;
}

static double *numlist(lua_State *L, int opts, const char *name, int *n) {
    opts = lua_absindex(L, opts);
    *n = 0;
    int t = lua_getfield(L, opts, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t != LUA_TTABLE) luaL_error(L, "option '%s' must be an array of numbers", name);
    lua_Integer len = luaL_len(L, -1);
    double *arr = lua_newuserdatauv(L, sizeof *arr * (size_t)(len > 0 ? len : 1), 0);
    for (lua_Integer i = 1; i <= len; i++) {
        int isnum = 0;
        lua_geti(L, -2, i);
        arr[i - 1] = lua_tonumberx(L, -1, &isnum);
        if (!isnum) luaL_error(L, "option '%s': entry %d is not a number", name, (int)i);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    *n = (int)len;
    return arr;
}

static void same_length(lua_State *L, const char *name, int n, int nimages) {
    if (n != nimages)
        luaL_error(L, "option '%s' has %d entries, images has %d", name, n, nimages);
}

static void push_products(lua_State *L, unsigned bits) {
    lua_newtable(L);
    int k = 0;
    for (int p = 0; p < MX_PRODUCT_COUNT; p++)
        if (bits & (1u << p)) {
            lua_pushstring(L, mx_product_token(p));
            lua_seti(L, -2, ++k);
        }
}

/* core.coadd{ images=, coverages=, sigmas=, outliers=, dual_outliers=, fif=,
 *   out_dir=, outlier_dir=, dual_outlier_dir=, tilemax_x=, tilemax_y=,
 *   time_keyword=, sigma_weighted=, create_unc=, create_std=, create_median=,
 *   absolute_minimum=, create_outlier=, create_dual_outlier=, memory_mb=,
 *   offsets=, program= } -> { ntiles=, products={tokens}, seconds= } */
static int c_coadd(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = 0, k;
    mx_coadd_inputs in;
    memset(&in, 0, sizeof in);
    in.images = strlist(L, 1, "images", &n);
    if (!in.images || n < 1) return luaL_error(L, "option 'images' is required (an array of paths)");
    in.n = n;
    if ((in.coverages = strlist(L, 1, "coverages", &k))) same_length(L, "coverages", k, n);
    if ((in.sigmas = strlist(L, 1, "sigmas", &k))) same_length(L, "sigmas", k, n);
    if ((in.outliers = strlist(L, 1, "outliers", &k))) same_length(L, "outliers", k, n);
    if ((in.dual_outliers = strlist(L, 1, "dual_outliers", &k))) same_length(L, "dual_outliers", k, n);
    mx_coadd_opts o;
    memset(&o, 0, sizeof o);
    o.tilemax_x = (long)mxl_opt_int_req(L, 1, "tilemax_x");
    o.tilemax_y = (long)mxl_opt_int_req(L, 1, "tilemax_y");
    o.time_keyword = mxl_opt_str_opt(L, 1, "time_keyword");
    o.sigma_weighted = mxl_opt_bool_opt(L, 1, "sigma_weighted", 0);
    o.create_unc = mxl_opt_bool_opt(L, 1, "create_unc", 1);
    o.create_std = mxl_opt_bool_opt(L, 1, "create_std", 0);
    o.create_median = mxl_opt_bool_opt(L, 1, "create_median", 0);
    o.absolute_minimum = mxl_opt_bool_opt(L, 1, "absolute_minimum", 0);
    o.create_outlier = mxl_opt_bool_opt(L, 1, "create_outlier", 0);
    o.create_dual_outlier = mxl_opt_bool_opt(L, 1, "create_dual_outlier", 0);
    double mb = mxl_opt_num_opt(L, 1, "memory_mb", 0.0);
    if (!(mb >= 0) || mb > 1e9) return luaL_error(L, "option 'memory_mb' must be >= 0 (got %f)", mb);
    o.memory_budget = (size_t)(mb * 1048576.0);
    o.offsets = numlist(L, 1, "offsets", &k);
    if (o.offsets) same_length(L, "offsets", k, n);
    o.program = mxl_opt_str_opt(L, 1, "program");
    if (!o.program) o.program = "mosaic_coadder";
    const char *fif = mxl_opt_str_req(L, 1, "fif");
    mx_coadd_dirs dirs = {mxl_opt_str_req(L, 1, "out_dir"), mxl_opt_str_opt(L, 1, "outlier_dir"),
                          mxl_opt_str_opt(L, 1, "dual_outlier_dir")};
    mx_coadd_result r;
    mxl_check(L, mx_coadd_run(&in, fif, &o, &dirs, &r));
    lua_newtable(L);
    lua_pushinteger(L, r.ntiles);
    lua_setfield(L, -2, "ntiles");
    push_products(L, r.products);
    lua_setfield(L, -2, "products");
    lua_pushnumber(L, r.seconds);
    lua_setfield(L, -2, "seconds");
    return 1;
}

/* core.combine{ coadd_dir=, fif=, out_dir=, outlier_dir=, dual_outlier_dir=,
 *   delete_tiles= } -> { products = {tokens of the mosaics written} } */
static int c_combine(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_combine_opts o = {mxl_opt_str_opt(L, 1, "outlier_dir"), mxl_opt_str_opt(L, 1, "dual_outlier_dir"),
                         mxl_opt_bool_opt(L, 1, "delete_tiles", 0)};
    const char *cd = mxl_opt_str_req(L, 1, "coadd_dir"), *fif = mxl_opt_str_req(L, 1, "fif");
    const char *out = mxl_opt_str_req(L, 1, "out_dir");
    unsigned bits = 0;
    mxl_check(L, mx_combine_run(cd, fif, out, &o, &bits));
    lua_newtable(L);
    push_products(L, bits);
    lua_setfield(L, -2, "products");
    return 1;
}

static int c_combine_tiles(lua_State *L) {
    const char *table = luaL_checkstring(L, 1), *suffix = luaL_checkstring(L, 2);
    const char *fif = luaL_checkstring(L, 3), *out = luaL_checkstring(L, 4);
    mxl_check(L, mx_combine_tiles(table, suffix, fif, out));
    lua_pushstring(L, out);
    return 1;
}

/* core.fix_coverage{ inputs=, outputs=, min_single=, min_block= } */
static int c_fix_coverage(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = 0, m = 0;
    const char **in = strlist(L, 1, "inputs", &n);
    const char **out = strlist(L, 1, "outputs", &m);
    if (!in || !out) return luaL_error(L, "options 'inputs' and 'outputs' are required");
    same_length(L, "outputs", m, n);
    double s = mxl_opt_num_req(L, 1, "min_single"), b = mxl_opt_num_req(L, 1, "min_block");
    mxl_check(L, mx_fix_coverage_run(n, in, out, s, b));
    return 0;
}

/* core.mosaic_medfilter{ mosaic=, coverage=, out=, window_x=, window_y=,
 *   n_outliers=, min_good=, min_good_neighbors=, use_sbkg=,
 *   sbkg_filter_size=, sbkg_interp= ("spline"|"bilinear"), median_average= } */
static int c_mosaic_medfilter(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_medfilter_opts o;
    memset(&o, 0, sizeof o);
    o.window_x = (int)mxl_opt_int_req(L, 1, "window_x");
    o.window_y = (int)mxl_opt_int_req(L, 1, "window_y");
    o.n_outliers = (int)mxl_opt_int_req(L, 1, "n_outliers");
    o.min_good = (int)mxl_opt_int_req(L, 1, "min_good");
    o.min_good_neighbors = (int)mxl_opt_int_req(L, 1, "min_good_neighbors");
    o.use_sbkg = mxl_opt_bool_opt(L, 1, "use_sbkg", 0);
    o.sbkg_filter_size = (int)mxl_opt_int_req(L, 1, "sbkg_filter_size");
    const char *interp = mxl_opt_str_opt(L, 1, "sbkg_interp");
    if (!interp || strcmp(interp, "spline") == 0) o.sbkg_interp = MX_SBKG_SPLINE;
    else if (strcmp(interp, "bilinear") == 0) o.sbkg_interp = MX_SBKG_BILINEAR;
    else return luaL_error(L, "option 'sbkg_interp' must be \"spline\" or \"bilinear\" (got \"%s\")", interp);
    o.median_average = mxl_opt_bool_opt(L, 1, "median_average", 0);
    const char *mosaic = mxl_opt_str_req(L, 1, "mosaic"), *cov = mxl_opt_str_opt(L, 1, "coverage");
    const char *out = mxl_opt_str_req(L, 1, "out");
    mxl_check(L, mx_mosaic_medfilter_run(mosaic, cov, &o, out));
    lua_pushstring(L, out);
    return 1;
}

/* core.coadd_tile_name(token, id) -> "coadd_Tile_007_Std_Unc.fits" */
static int c_coadd_tile_name(lua_State *L) {
    const char *tok = luaL_checkstring(L, 1);
    lua_Integer id = luaL_checkinteger(L, 2);
    int p;
    for (p = 0; p < MX_PRODUCT_COUNT; p++)
        if (strcmp(tok, mx_product_token(p)) == 0) break;
    if (p == MX_PRODUCT_COUNT) return luaL_argerror(L, 1, "unknown product");
    char buf[96];
    mx_coadd_tile_name(p, (int)id, buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

int mxl_open_coadd(lua_State *L);
int mxl_open_coadd(lua_State *L) {
    static const luaL_Reg fns[] = {{"coadd", c_coadd},
                                   {"combine", c_combine},
                                   {"combine_tiles", c_combine_tiles},
                                   {"fix_coverage", c_fix_coverage},
                                   {"mosaic_medfilter", c_mosaic_medfilter},
                                   {"coadd_tile_name", c_coadd_tile_name},
                                   {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
    return 0;
}
