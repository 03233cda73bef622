/* l_framemods.c - bindings of the per-frame modules (mx_framemods.h):
 *
 *   core.medfilter_files(opts)   core.detect_files(opts)   core.radhit_files(opts)
 *   core.project_detmaps(opts)   core.level_files(opts)    core.array_corr_files(opts)
 *   core.level_map(img, ratio)   (in place on a float Image: clusters, changed)
 *
 * `opts` is the table validated by the schema of the module
 * (lua/mopex/modules/{medfilter,detect,detect_radhit,projection,level,
 * array_corr_files}.lua), with list options already resolved to arrays of
 * paths and out_dir to the module's directory. Each *_files function
 * returns
 *   { outputs = { written paths, input order }, list = path, table = path|nil,
 *     frames = { { input =, output = (nil: nothing written), seconds =,
 *                  nan_pixels =, clusters =, pixels =, mean =, sigma =,
 *                  threshold =, xoff =, yoff =, naxis1 =, naxis2 = }, ... } }
 * (xoff, yoff 0-based like MINTOFFX/Y). Path arrays handed to C live in Lua
 * userdata and point into the options table's strings, so a raise half-way
 * leaks nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mxl.h"

/* The array of strings opts[name] as a const char* array owned by a
 * userdata left on the stack (valid while opts lives); NULL and *n = 0 when
 * the field is nil. `want` >= 0 requires that many entries. */
static const char **strlist(lua_State *L, int opts, const char *name, int want, int *n) {
    opts = lua_absindex(L, opts);
    *n = 0;
    int ty = lua_getfield(L, opts, name);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushnil(L); /* keep the stack shape: one slot per list */
        return NULL;
    }
    if (ty != LUA_TTABLE) luaL_error(L, "option '%s' must be an array of paths", name);
    lua_Integer len = luaL_len(L, -1);
    if (len < 1 || len > 10000000) luaL_error(L, "option '%s' has %d entries", name, (int)len);
    if (want >= 0 && len != want)
        luaL_error(L, "option '%s' has %d entries, images has %d", name, (int)len, want);
    const char **v = lua_newuserdatauv(L, sizeof *v * (size_t)len, 0);
    for (lua_Integer k = 1; k <= len; k++) {
        if (lua_geti(L, -2, k) != LUA_TSTRING)
            luaL_error(L, "option '%s': entry %d is not a path", name, (int)k);
        v[k - 1] = lua_tostring(L, -1); /* the string stays referenced by opts */
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    *n = (int)len;
    return v;
}

static const char *optstr(lua_State *L, int opts, const char *name) {
    const char *s = mxl_opt_str_opt(L, opts, name);
    return (s && *s) ? s : NULL;
}

static int enum_of(lua_State *L, int opts, const char *name, const char *const *names,
                   const int *values) {
    const char *v = mxl_opt_str_req(L, opts, name);
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0) return values[i];
    return luaL_error(L, "option '%s': unknown value '%s'", name, v);
}

static uint32_t pattern(lua_State *L, int opts, const char *name) {
    lua_Integer v = mxl_opt_int_opt(L, opts, name, 0);
    if (v < 0 || v > 0xFFFFFFFFLL) luaL_error(L, "option '%s' must be a bit pattern", name);
    return (uint32_t)v;
}

static void setnum(lua_State *L, const char *k, double v) {
    if (isfinite(v)) {
        lua_pushnumber(L, v);
        lua_setfield(L, -2, k);
    }
}

/* Raise on failure, else push the result table and free it. */
static int push_result(lua_State *L, int st, mx_fm_result *r, const char *const *inputs) {
    mxl_check(L, st);
    lua_createtable(L, 0, 4);
    lua_createtable(L, r->nwritten, 0);
    int k = 0;
    for (int i = 0; i < r->n; i++)
        if (r->frames[i].output) {
            lua_pushstring(L, r->frames[i].output);
            lua_seti(L, -2, ++k);
        }
    lua_setfield(L, -2, "outputs");
    if (r->list) {
        lua_pushstring(L, r->list);
        lua_setfield(L, -2, "list");
    }
    if (r->table) {
        lua_pushstring(L, r->table);
        lua_setfield(L, -2, "table");
    }
    lua_createtable(L, r->n, 0);
    for (int i = 0; i < r->n; i++) {
        const mx_fm_frame *f = &r->frames[i];
        lua_createtable(L, 0, 12);
        lua_pushstring(L, inputs[i]);
        lua_setfield(L, -2, "input");
        if (f->output) {
            lua_pushstring(L, f->output);
            lua_setfield(L, -2, "output");
        }
        setnum(L, "seconds", f->seconds);
        lua_pushinteger(L, f->n_nan);
        lua_setfield(L, -2, "nan_pixels");
        lua_pushinteger(L, f->n_clusters);
        lua_setfield(L, -2, "clusters");
        lua_pushinteger(L, f->n_pixels);
        lua_setfield(L, -2, "pixels");
        setnum(L, "mean", f->mean);
        setnum(L, "sigma", f->sigma);
        setnum(L, "threshold", f->threshold);
        lua_pushinteger(L, f->box.x0);
        lua_setfield(L, -2, "xoff");
        lua_pushinteger(L, f->box.y0);
        lua_setfield(L, -2, "yoff");
        lua_pushinteger(L, f->box.w);
        lua_setfield(L, -2, "naxis1");
        lua_pushinteger(L, f->box.h);
        lua_setfield(L, -2, "naxis2");
        lua_seti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "frames");
    mx_fm_result_free(r);
    return 1;
}

static int c_medfilter_files(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const interp_names[] = {"spline", "bilinear", NULL};
    static const int interp_values[] = {MX_SBKG_SPLINE, MX_SBKG_BILINEAR};
    mx_medfilter_files_opts o;
    memset(&o, 0, sizeof o);
    o.filter.window_x = (int)mxl_opt_int_req(L, 1, "window_x");
    o.filter.window_y = (int)mxl_opt_int_req(L, 1, "window_y");
    o.filter.n_outliers = (int)mxl_opt_int_req(L, 1, "n_outliers");
    o.filter.min_good = (int)mxl_opt_int_req(L, 1, "min_good");
    o.filter.min_good_neighbors = (int)mxl_opt_int_req(L, 1, "min_good_neighbors");
    o.filter.use_sbkg = mxl_opt_bool_opt(L, 1, "use_sbkg", 0);
    o.filter.sbkg_filter_size = (int)mxl_opt_int_req(L, 1, "sbkg_filter_size");
    o.filter.sbkg_interp = enum_of(L, 1, "sbkg_interp", interp_names, interp_values);
    o.filter.median_average = mxl_opt_bool_opt(L, 1, "median_average", 0);
    o.max_bad_pixels = (long)mxl_opt_int_req(L, 1, "max_bad_pixels");
    o.dce_fatal = pattern(L, 1, "dce_fatal");
    o.pmask_fatal = pattern(L, 1, "pmask_fatal");
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    mx_fm_inputs in;
    memset(&in, 0, sizeof in);
    in.images = strlist(L, 1, "images", -1, &in.n);
    if (!in.images) return luaL_error(L, "option 'images' is required");
    int nm;
    in.dce_masks = strlist(L, 1, "dce_masks", in.n, &nm);
    in.pmask = optstr(L, 1, "pmask");
    mx_fm_result *r = NULL;
    int st = mx_medfilter_files(&in, &o, &r);
    return push_result(L, st, r, in.images);
}

static void detect_opts(lua_State *L, mx_detect_opts *d) {
    static const char *const types[] = {"simple", "combo", "peak", NULL};
    static const int type_values[] = {MX_THRESH_SIMPLE, MX_THRESH_COMBO, MX_THRESH_PEAK};
    static const char *const inputs[] = {"image_input", "snr_input", NULL};
    static const int input_values[] = {MX_INPUT_IMAGE, MX_INPUT_SNR};
    static const char *const neigh[] = {"sides_only", "sides_and_corners", NULL};
    static const int neigh_values[] = {4, 8};
    memset(d, 0, sizeof *d);
    d->threshold = mxl_opt_num_req(L, 1, "threshold");
    d->min_area = (long)mxl_opt_int_req(L, 1, "min_area");
    d->max_area = (long)mxl_opt_int_req(L, 1, "max_area");
    d->threshold_type = enum_of(L, 1, "threshold_type", types, type_values);
    d->extended_area = (long)mxl_opt_int_req(L, 1, "extended_area");
    d->peaks_radius = (int)mxl_opt_int_req(L, 1, "peaks_radius");
    d->max_seg_level = (int)mxl_opt_int_req(L, 1, "max_seg_level");
    d->connectivity = enum_of(L, 1, "neighbor_type", neigh, neigh_values);
    d->n_edge = (int)mxl_opt_int_req(L, 1, "n_edge");
    d->min_peak_fraction = mxl_opt_num_req(L, 1, "min_peak_fraction");
    d->input_type = enum_of(L, 1, "input_type", inputs, input_values);
    d->ddof = (int)mxl_opt_int_req(L, 1, "ddof");
    /* no coverage map and no probability cut in these pipelines */
    d->min_coverage = 0.0;
    d->probability_threshold = 0.0;
    d->attenuate = 0;
    d->impose_stats = 0;
}

static int c_detect_files(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_detect_files_opts o;
    detect_opts(L, &o.detect);
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    mx_fm_inputs in;
    memset(&in, 0, sizeof in);
    in.images = strlist(L, 1, "images", -1, &in.n);
    if (!in.images) return luaL_error(L, "option 'images' is required");
    mx_fm_result *r = NULL;
    int st = mx_detect_files(&in, &o, &r);
    return push_result(L, st, r, in.images);
}

static int c_radhit_files(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_radhit_files_opts o;
    memset(&o, 0, sizeof o);
    o.radhit.seg_threshold = mxl_opt_num_req(L, 1, "seg_threshold");
    o.radhit.radhit_threshold = mxl_opt_num_req(L, 1, "radhit_threshold");
    o.radhit.max_area = (long)mxl_opt_int_req(L, 1, "max_area");
    o.radhit.bit = (int)mxl_opt_int_req(L, 1, "radhit_bit");
    o.radhit.ddof = (int)mxl_opt_int_req(L, 1, "ddof");
    o.radhit.impose_stats = 0;
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    mx_fm_inputs in;
    memset(&in, 0, sizeof in);
    in.images = strlist(L, 1, "images", -1, &in.n);
    if (!in.images) return luaL_error(L, "option 'images' is required");
    int nm;
    in.dce_masks = strlist(L, 1, "dce_masks", in.n, &nm);
    mx_fm_result *r = NULL;
    int st = mx_radhit_files(&in, &o, &r);
    return push_result(L, st, r, in.images);
}

static int c_project_detmaps(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_projection_opts o;
    memset(&o, 0, sizeof o);
    o.fif_path = mxl_opt_str_req(L, 1, "fif");
    o.moving_object = (long)mxl_opt_int_opt(L, 1, "moving_object", 0);
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    mx_fm_inputs in;
    memset(&in, 0, sizeof in);
    in.images = strlist(L, 1, "images", -1, &in.n);
    if (!in.images) return luaL_error(L, "option 'images' is required");
    int nw;
    in.wcs_sources = strlist(L, 1, "wcs_images", in.n, &nw);
    mx_fm_result *r = NULL;
    int st = mx_project_detmaps(&in, &o, &r);
    return push_result(L, st, r, in.images);
}

static int c_level_files(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_level_opts o;
    o.threshold_ratio = mxl_opt_num_req(L, 1, "threshold_ratio");
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    mx_fm_inputs in;
    memset(&in, 0, sizeof in);
    in.images = strlist(L, 1, "images", -1, &in.n);
    if (!in.images) return luaL_error(L, "option 'images' is required");
    mx_fm_result *r = NULL;
    int st = mx_level_files(&in, &o, &r);
    return push_result(L, st, r, in.images);
}

static int c_array_corr_files(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_array_corr_opts o;
    o.corr_image = mxl_opt_str_req(L, 1, "corr_image");
    o.pixarea_image = optstr(L, 1, "pixarea_image");
    o.out_dir = mxl_opt_str_req(L, 1, "out_dir");
    mx_fm_inputs in;
    memset(&in, 0, sizeof in);
    in.images = strlist(L, 1, "images", -1, &in.n);
    if (!in.images) return luaL_error(L, "option 'images' is required");
    mx_fm_result *r = NULL;
    int st = mx_array_corr_files(&in, &o, &r);
    return push_result(L, st, r, in.images);
}

/* core.level_map(img, ratio) -> clusters, changed: Level in place on a
 * float Image (tests and interactive use). */
static int c_level_map(lua_State *L) {
    mx_image *img = mxl_check_image(L, 1);
    double ratio = luaL_checknumber(L, 2);
    if (img->kind != MX_IMG_FLOAT) return luaL_argerror(L, 1, "a float image is required");
    long ncl = 0, nch = 0;
    mxl_check(L, mx_level_map(img->data, img->nx, img->ny, ratio, img->path, &ncl, &nch));
    lua_pushinteger(L, ncl);
    lua_pushinteger(L, nch);
    return 2;
}

int mxl_open_framemods(lua_State *L);
int mxl_open_framemods(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"medfilter_files", c_medfilter_files},   {"detect_files", c_detect_files},
        {"radhit_files", c_radhit_files},         {"project_detmaps", c_project_detmaps},
        {"level_files", c_level_files},           {"array_corr_files", c_array_corr_files},
        {"level_map", c_level_map},               {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
    return 0;
}
