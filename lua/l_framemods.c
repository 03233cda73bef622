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

/* opts[name] as paths (mxl_opt_paths: one stack slot, NULL when nil); a
 * given list must be non-empty and, when want >= 0, have want entries. */
static const char *const *paths(lua_State *L, const char *name, int want, int *n) {
    const char *const *v = mxl_opt_paths(L, 1, name, n);
    if (v && *n < 1) luaL_error(L, "option '%s' has %d entries", name, *n);
    if (v && want >= 0 && *n != want)
        luaL_error(L, "option '%s' has %d entries, images has %d", name, *n, want);
    return v;
}

/* The inputs of every *_files call: the required images; the optional
 * per-frame lists are added by the caller. */
static void frame_inputs(lua_State *L, mx_fm_inputs *in) {
    memset(in, 0, sizeof *in);
    in->images = paths(L, "images", -1, &in->n);
    if (!in->images) luaL_error(L, "option 'images' is required");
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

/* Statistics of frames that had none (NaN) stay nil. */
static void setnum(lua_State *L, const char *k, double v) {
    if (isfinite(v)) mxl_setnum(L, k, v);
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
    mxl_setstr(L, "list", r->list);
    mxl_setstr(L, "table", r->table);
    lua_createtable(L, r->n, 0);
    for (int i = 0; i < r->n; i++) {
        const mx_fm_frame *f = &r->frames[i];
        lua_createtable(L, 0, 12);
        mxl_setstr(L, "input", inputs[i]);
        mxl_setstr(L, "output", f->output);
        setnum(L, "seconds", f->seconds);
        mxl_setint(L, "nan_pixels", f->n_nan);
        mxl_setint(L, "clusters", f->n_clusters);
        mxl_setint(L, "pixels", f->n_pixels);
        setnum(L, "mean", f->mean);
        setnum(L, "sigma", f->sigma);
        setnum(L, "threshold", f->threshold);
        mxl_setint(L, "xoff", f->box.x0);
        mxl_setint(L, "yoff", f->box.y0);
        mxl_setint(L, "naxis1", f->box.w);
        mxl_setint(L, "naxis2", f->box.h);
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
    frame_inputs(L, &in);
    int nm;
    in.dce_masks = paths(L, "dce_masks", in.n, &nm);
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
    frame_inputs(L, &in);
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
    frame_inputs(L, &in);
    int nm;
    in.dce_masks = paths(L, "dce_masks", in.n, &nm);
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
    frame_inputs(L, &in);
    int nw;
    in.wcs_sources = paths(L, "wcs_images", in.n, &nw);
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
    frame_inputs(L, &in);
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
    frame_inputs(L, &in);
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
