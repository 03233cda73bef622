/* l_bgmatch.c - bindings of background matching (mx_bgmatch.h):
 *
 *   core.bgpairs_new(n) -> BgPairs             pair statistics of n frames
 *     pairs:add(m, n, w, d)  pairs:get(m, n) -> w, d  pairs:count()  pairs:nframes()
 *     (frames 1-based; d is a sum of w (I_m - I_n))
 *   core.bgpairs_synthetic{ kind = "map"|"random", rows, cols, ndither, n, extra,
 *                           same, side, corner, sigma, offset_sigma, noise, seed }
 *     -> BgPairs, truth offsets (array)
 *   core.bgmatch_accumulate{ images, coverages, sigmas, ids, nframes, naxis1,
 *                            naxis2, tile, budget, bad_image_check }
 *     -> BgPairs, usable (array of pixel counts), drop (array of booleans)
 *   core.bgmatch_solve(pairs, opts[, drop]) -> result
 *     opts: top_threshold, bottom_threshold, min_img_num, weight, use_sparse,
 *           outlier_rule ("std" | "std_n" | "mad"), offsets_path (optional:
 *           writes offsets.tbl)
 *     result: { offset = {...}, del = {...}, del_raw = {...}, outlier = {...} (0/1),
 *               group = {...}, group_sizes = {...}, ngroups, nisolated, ndropped,
 *               del_approx, used_sparse, cg_iterations, cg_residual, rms_before, rms_after }
 *   core.bgmatch_apply{ images, outputs, offset, del, outlier }
 *   core.zodi_subtract{ images, outputs (optional) } -> values (array)
 *
 * Options come validated from lua/mopex/modules/overlap_correction.lua and
 * zodi_subtract.lua; this file converts, calls core and converts back.
 * C arrays live in userdata on the stack, so a raised error frees them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mxl.h"

#define MXL_BGPAIRS "mopex.BgPairs"

typedef struct {
    mx_bgpairs *p;
} lbgpairs;

static void push_pairs(lua_State *L, mx_bgpairs *p) {
    lbgpairs *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->p = NULL;
    luaL_setmetatable(L, MXL_BGPAIRS);
    u->p = p;
}

static mx_bgpairs *check_pairs(lua_State *L, int idx) {
    lbgpairs *u = luaL_checkudata(L, idx, MXL_BGPAIRS);
    if (!u->p) luaL_argerror(L, idx, "pair statistics already closed");
    return u->p;
}

static int pairs_gc(lua_State *L) {
    lbgpairs *u = luaL_checkudata(L, 1, MXL_BGPAIRS);
    mx_bgpairs_free(u->p);
    u->p = NULL;
    return 0;
}

static int pairs_tostring(lua_State *L) {
    lbgpairs *u = luaL_checkudata(L, 1, MXL_BGPAIRS);
    if (!u->p)
        lua_pushliteral(L, "BgPairs (closed)");
    else
        lua_pushfstring(L, "BgPairs (%d frames, %d pairs)", (int)mx_bgpairs_nframes(u->p),
                        (int)mx_bgpairs_count(u->p));
    return 1;
}

static long frame_arg(lua_State *L, mx_bgpairs *p, int idx) {
    lua_Integer v = luaL_checkinteger(L, idx);
    if (v < 1 || v > mx_bgpairs_nframes(p))
        luaL_argerror(L, idx, lua_pushfstring(L, "frame %d outside 1..%d", (int)v,
                                              (int)mx_bgpairs_nframes(p)));
    return (long)v - 1;
}

static int pairs_add(lua_State *L) {
    mx_bgpairs *p = check_pairs(L, 1);
    long m = frame_arg(L, p, 2), n = frame_arg(L, p, 3);
    double w = luaL_checknumber(L, 4), d = luaL_checknumber(L, 5);
    if (m == n) return luaL_argerror(L, 3, "a pair needs two different frames");
    mxl_check(L, mx_bgpairs_add(p, m, n, w, d));
    return 0;
}

static int pairs_get(lua_State *L) {
    mx_bgpairs *p = check_pairs(L, 1);
    long m = frame_arg(L, p, 2), n = frame_arg(L, p, 3);
    double w, d;
    mx_bgpairs_get(p, m, n, &w, &d);
    lua_pushnumber(L, w);
    lua_pushnumber(L, d);
    return 2;
}

static int pairs_count(lua_State *L) {
    lua_pushinteger(L, mx_bgpairs_count(check_pairs(L, 1)));
    return 1;
}

static int pairs_nframes(lua_State *L) {
    lua_pushinteger(L, mx_bgpairs_nframes(check_pairs(L, 1)));
    return 1;
}

static int c_bgpairs_new(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 1 || n > 0x7FFFFFFF) return luaL_argerror(L, 1, "number of frames must be >= 1");
    mx_bgpairs *p = NULL;
    mxl_check(L, mx_bgpairs_new((long)n, &p));
    push_pairs(L, p);
    return 1;
}

/* A numeric array option into a userdata of doubles left on the stack. */
static double *numlist(lua_State *L, int opts, const char *name, long n) {
    opts = lua_absindex(L, opts);
    if (lua_getfield(L, opts, name) != LUA_TTABLE)
        luaL_error(L, "option '%s' must be an array of %d numbers", name, (int)n);
    if (luaL_len(L, -1) != n)
        luaL_error(L, "option '%s' has %d entries, expected %d", name, (int)luaL_len(L, -1), (int)n);
    double *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n > 0 ? n : 1), 0);
    for (long i = 0; i < n; i++) {
        int t = lua_geti(L, -2, i + 1);
        if (t == LUA_TBOOLEAN)
            v[i] = lua_toboolean(L, -1);
        else if (t == LUA_TNUMBER)
            v[i] = lua_tonumber(L, -1);
        else
            luaL_error(L, "option '%s': entry %d is not a number", name, (int)i + 1);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    return v;
}

static int c_bgpairs_synthetic(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const kinds[] = {"map", "random", NULL};
    mx_bgsyn_opts o;
    memset(&o, 0, sizeof o);
    lua_getfield(L, 1, "kind");
    o.kind = (mx_bgsyn_kind)luaL_checkoption(L, -1, "map", kinds);
    lua_pop(L, 1);
    o.rows = (long)mxl_opt_int_opt(L, 1, "rows", 1);
    o.cols = (long)mxl_opt_int_opt(L, 1, "cols", 1);
    o.ndither = (int)mxl_opt_int_opt(L, 1, "ndither", 1);
    o.n = (long)mxl_opt_int_opt(L, 1, "n", 0);
    o.extra = (long)mxl_opt_int_opt(L, 1, "extra", 0);
    o.same = (long)mxl_opt_int_opt(L, 1, "same", 1000);
    o.side = (long)mxl_opt_int_opt(L, 1, "side", 200);
    o.corner = (long)mxl_opt_int_opt(L, 1, "corner", 20);
    o.sigma = mxl_opt_num_opt(L, 1, "sigma", 1.0);
    o.offset_sigma = mxl_opt_num_opt(L, 1, "offset_sigma", 1.0);
    o.noise = mxl_opt_bool_opt(L, 1, "noise", 1);
    o.seed = (uint64_t)mxl_opt_int_opt(L, 1, "seed", 1);
    long n = mx_bgsyn_nframes(&o);
    if (n < 1 || n > 0x7FFFFFFF) return luaL_error(L, "bgpairs_synthetic: %d frames", (int)n);
    double *truth = lua_newuserdatauv(L, sizeof *truth * (size_t)n, 0);
    mx_bgpairs *p = NULL;
    mxl_check(L, mx_bgpairs_synthetic(&o, &p, truth));
    push_pairs(L, p);
    mxl_pushnumarray(L, truth, (size_t)n);
    return 2;
}

static int c_bgmatch_accumulate(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = 0, nc = 0, ns = 0;
    const char *const *images = mxl_opt_paths(L, 1, "images", &n);
    if (!images || n < 1) return luaL_error(L, "option 'images' (interpolated images) is required");
    const char *const *covs = mxl_opt_paths(L, 1, "coverages", &nc);
    const char *const *sigs = mxl_opt_paths(L, 1, "sigmas", &ns);
    if (covs && nc != n)
        return luaL_error(L, "option 'coverages' has %d entries, 'images' has %d", nc, n);
    if (sigs && ns != n)
        return luaL_error(L, "option 'sigmas' has %d entries, 'images' has %d", ns, n);
    long nframes = (long)mxl_opt_int_opt(L, 1, "nframes", n);
    if (nframes < 1 || nframes > 0x7FFFFFFF) return luaL_error(L, "option 'nframes' must be >= 1");
    long *ids = NULL;
    if (lua_getfield(L, 1, "ids") != LUA_TNIL) {
        double *v = numlist(L, 1, "ids", n);
        ids = lua_newuserdatauv(L, sizeof *ids * (size_t)n, 0);
        for (int i = 0; i < n; i++) {
            if (v[i] != floor(v[i]) || v[i] < 1 || v[i] > (double)nframes)
                return luaL_error(L, "option 'ids': entry %d (%f) is not an Image_id in 1..%d", i + 1,
                                  v[i], (int)nframes);
            ids[i] = (long)v[i] - 1;
        }
    }
    lua_pop(L, 1);
    mx_bgaccum_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = n;
    sp.images = images;
    sp.coverages = covs;
    sp.sigmas = sigs;
    sp.ids = ids;
    sp.nframes = nframes;
    sp.naxis1 = (long)mxl_opt_int_opt(L, 1, "naxis1", 0);
    sp.naxis2 = (long)mxl_opt_int_opt(L, 1, "naxis2", 0);
    sp.tile = (long)mxl_opt_int_opt(L, 1, "tile", 0);
    lua_Integer budget = mxl_opt_int_opt(L, 1, "budget", 0);
    sp.budget = budget > 0 ? (size_t)budget : 0;
    sp.bad_image_check = mxl_opt_bool_opt(L, 1, "bad_image_check", 1);
    long *usable = lua_newuserdatauv(L, sizeof *usable * (size_t)nframes, 0);
    unsigned char *drop = lua_newuserdatauv(L, (size_t)nframes, 0);
    mx_bgpairs *p = NULL;
    mxl_check(L, mx_bgmatch_accumulate(&sp, &p, usable, drop));
    push_pairs(L, p);
    lua_createtable(L, (int)nframes, 0);
    for (long i = 0; i < nframes; i++) {
        lua_pushinteger(L, usable[i]);
        lua_seti(L, -2, i + 1);
    }
    lua_createtable(L, (int)nframes, 0);
    for (long i = 0; i < nframes; i++) {
        lua_pushboolean(L, drop[i]);
        lua_seti(L, -2, i + 1);
    }
    return 3;
}

static void push_longs(lua_State *L, const long *v, long n) {
    lua_createtable(L, (int)n, 0);
    for (long i = 0; i < n; i++) {
        lua_pushinteger(L, v[i]);
        lua_seti(L, -2, i + 1);
    }
}

static int c_bgmatch_solve(lua_State *L) {
    mx_bgpairs *p = check_pairs(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const long N = mx_bgpairs_nframes(p);
    static const char *const rules[] = {"std", "std_n", "mad", NULL};
    mx_bgmatch_opts o;
    o.top_threshold = mxl_opt_num_req(L, 2, "top_threshold");
    o.bottom_threshold = mxl_opt_num_req(L, 2, "bottom_threshold");
    o.min_img_num = (int)mxl_opt_int_req(L, 2, "min_img_num");
    o.weight = mxl_opt_num_req(L, 2, "weight");
    o.use_sparse = mxl_opt_bool_opt(L, 2, "use_sparse", 0);
    lua_getfield(L, 2, "outlier_rule");
    o.outlier_rule = luaL_checkoption(L, -1, "std", rules);
    lua_pop(L, 1);
    const char *path = mxl_opt_str_opt(L, 2, "offsets_path");
    unsigned char *drop = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        if (luaL_len(L, 3) != N)
            return luaL_error(L, "drop has %d entries, the pairs have %d frames", (int)luaL_len(L, 3),
                              (int)N);
        drop = lua_newuserdatauv(L, (size_t)N, 0);
        for (long i = 0; i < N; i++) {
            lua_geti(L, 3, i + 1);
            drop[i] = lua_isnumber(L, -1) ? lua_tonumber(L, -1) != 0 : lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
    }
    mx_bgmatch_result r;
    int st = mx_bgmatch_solve(p, drop, &o, &r);
    if (st == MX_OK && path) st = mx_bgmatch_write_offsets(&r, &o, path);
    if (st != MX_OK) {
        mx_bgmatch_result_clear(&r);
        mxl_check(L, st);
    }
    /* Lua tables can fail to allocate: copy the result into a userdata that
     * owns nothing, free the C result, then build the tables. */
    double *dv = lua_newuserdatauv(L, sizeof *dv * (size_t)N * 3, 0);
    long *lv = lua_newuserdatauv(L, sizeof *lv * (size_t)(2 * N + r.ngroups + 1), 0);
    memcpy(dv, r.offset, sizeof *dv * (size_t)N);
    memcpy(dv + N, r.del, sizeof *dv * (size_t)N);
    memcpy(dv + 2 * N, r.del_raw, sizeof *dv * (size_t)N);
    for (long i = 0; i < N; i++) {
        lv[i] = r.outlier[i];
        lv[N + i] = r.group[i];
    }
    for (long g = 0; g < r.ngroups; g++) lv[2 * N + g] = r.group_size[g];
    mx_bgmatch_result res = r;
    mx_bgmatch_result_clear(&r);
    lua_createtable(L, 0, 14);
    mxl_pushnumarray(L, dv, (size_t)N);
    lua_setfield(L, -2, "offset");
    mxl_pushnumarray(L, dv + N, (size_t)N);
    lua_setfield(L, -2, "del");
    mxl_pushnumarray(L, dv + 2 * N, (size_t)N);
    lua_setfield(L, -2, "del_raw");
    push_longs(L, lv, N);
    lua_setfield(L, -2, "outlier");
    push_longs(L, lv + N, N);
    lua_setfield(L, -2, "group");
    push_longs(L, lv + 2 * N, res.ngroups);
    lua_setfield(L, -2, "group_sizes");
    mxl_setint(L, "ngroups", res.ngroups);
    mxl_setint(L, "nisolated", res.nisolated);
    mxl_setint(L, "ndropped", res.ndropped);
    lua_pushboolean(L, res.del_approx);
    lua_setfield(L, -2, "del_approx");
    lua_pushboolean(L, res.used_sparse);
    lua_setfield(L, -2, "used_sparse");
    mxl_setint(L, "cg_iterations", res.cg_iterations);
    mxl_setnum(L, "cg_residual", res.cg_residual);
    mxl_setnum(L, "rms_before", res.rms_before);
    mxl_setnum(L, "rms_after", res.rms_after);
    return 1;
}

static int c_bgmatch_apply(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = 0, no = 0;
    const char *const *images = mxl_opt_paths(L, 1, "images", &n);
    const char *const *outputs = mxl_opt_paths(L, 1, "outputs", &no);
    if (!images || !outputs) return luaL_error(L, "options 'images' and 'outputs' are required");
    if (no != n) return luaL_error(L, "option 'outputs' has %d entries, 'images' has %d", no, n);
    double *off = numlist(L, 1, "offset", n);
    double *del = numlist(L, 1, "del", n);
    double *outl = numlist(L, 1, "outlier", n);
    int *flag = lua_newuserdatauv(L, sizeof *flag * (size_t)(n > 0 ? n : 1), 0);
    for (int i = 0; i < n; i++) flag[i] = outl[i] != 0;
    mxl_check(L, mx_bgmatch_apply(n, images, outputs, off, del, flag));
    return 0;
}

static int c_zodi_subtract(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = 0, no = 0;
    const char *const *images = mxl_opt_paths(L, 1, "images", &n);
    const char *const *outputs = mxl_opt_paths(L, 1, "outputs", &no);
    if (!images) return luaL_error(L, "option 'images' is required");
    if (outputs && no != n) return luaL_error(L, "option 'outputs' has %d entries, 'images' has %d", no, n);
    double *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n > 0 ? n : 1), 0);
    mxl_check(L, mx_zodi_subtract(n, images, outputs, v));
    mxl_pushnumarray(L, v, (size_t)n);
    return 1;
}

static const luaL_Reg pairs_methods[] = {
    {"add", pairs_add},   {"get", pairs_get},     {"count", pairs_count},
    {"nframes", pairs_nframes}, {"close", pairs_gc}, {NULL, NULL}};

static const luaL_Reg pairs_meta[] = {
    {"__gc", pairs_gc}, {"__close", pairs_gc}, {"__tostring", pairs_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"bgpairs_new", c_bgpairs_new},
    {"bgpairs_synthetic", c_bgpairs_synthetic},
    {"bgmatch_accumulate", c_bgmatch_accumulate},
    {"bgmatch_solve", c_bgmatch_solve},
    {"bgmatch_apply", c_bgmatch_apply},
    {"zodi_subtract", c_zodi_subtract},
    {NULL, NULL}};

int mxl_open_bgmatch(lua_State *L);
int mxl_open_bgmatch(lua_State *L) {
    if (luaL_newmetatable(L, MXL_BGPAIRS)) {
        luaL_setfuncs(L, pairs_meta, 0);
        luaL_newlib(L, pairs_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
