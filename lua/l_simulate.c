/* l_simulate.c - binding of the simulator: core.simulate(opts).
 *
 * `opts` is the table validated by lua/mopex/modules/simulate.lua (defaults
 * filled there, per-channel values included); this file only converts it
 * into an mx_sim_config and the result back into Lua. Arrays handed to C
 * (sources, pointings, offsets) live in Lua userdata, so an error raised
 * half-way frees them with the rest of the stack.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mxl.h"

static int enum_index(lua_State *L, int opts, const char *name, const char *const *values) {
    const char *v = mxl_opt_str_req(L, opts, name);
    for (int i = 0; values[i]; i++)
        if (strcmp(v, values[i]) == 0) return i;
    return luaL_error(L, "option '%s': unknown value '%s'", name, v);
}

/* Number field of an entry table: named key, or position `pos`. */
static int entry_number(lua_State *L, int t, const char *key, const char *alt, int pos, double *out) {
    int ty = lua_getfield(L, t, key);
    if (ty == LUA_TNIL && alt) {
        lua_pop(L, 1);
        ty = lua_getfield(L, t, alt);
    }
    if (ty == LUA_TNIL && pos > 0) {
        lua_pop(L, 1);
        ty = lua_geti(L, t, pos);
    }
    int isnum = 0;
    *out = (double)lua_tonumberx(L, -1, &isnum);
    lua_pop(L, 1);
    if (ty == LUA_TNIL) return 0;
    return isnum ? 1 : -1;
}

static void read_sources(lua_State *L, int opts, mx_sim_config *c) {
    opts = lua_absindex(L, opts);
    int ty = lua_getfield(L, opts, "sources");
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    mx_sim_source *tmp = NULL;
    long n = 0;
    int st = MX_OK;
    if (ty == LUA_TSTRING) {
        const char *path = lua_tostring(L, -1);
        mx_table *t = NULL;
        st = mx_table_read_ipac(path, &t);
        if (st == MX_OK) st = mx_sim_sources_from_table(t, path, &tmp, &n);
        mx_table_free(t);
        mxl_check(L, st);
    } else if (ty == LUA_TUSERDATA && luaL_testudata(L, -1, MXL_TABLE)) {
        mx_table *t = mxl_check_table(L, -1);
        mxl_check(L, mx_sim_sources_from_table(t, "sources", &tmp, &n));
    } else if (ty == LUA_TTABLE) {
        n = (long)luaL_len(L, -1);
        mx_sim_source *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n > 0 ? n : 1), 0);
        for (long k = 0; k < n; k++) {
            if (lua_geti(L, -2, k + 1) != LUA_TTABLE)
                luaL_error(L, "option 'sources': entry %d must be a table {ra=, dec=, flux=}", (int)k + 1);
            int e = lua_gettop(L);
            if (entry_number(L, e, "ra", NULL, 1, &v[k].ra) != 1 ||
                entry_number(L, e, "dec", NULL, 2, &v[k].dec) != 1 ||
                entry_number(L, e, "flux", "flux_ujy", 3, &v[k].flux_ujy) != 1)
                luaL_error(L, "option 'sources': entry %d needs numbers ra, dec and flux (microJy)",
                           (int)k + 1);
            lua_pop(L, 1);
        }
        c->sources = v;
        c->nsources_given = n;
        lua_remove(L, -2); /* the userdata stays on the stack until we return */
        return;
    } else {
        luaL_error(L, "option 'sources' must be an array of {ra=, dec=, flux=}, an IPAC table path or a Table");
    }
    /* from a table: copy into Lua-owned memory at once */
    mx_sim_source *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n > 0 ? n : 1), 0);
    if (n > 0) memcpy(v, tmp, sizeof *v * (size_t)n);
    free(tmp);
    c->sources = v;
    c->nsources_given = n;
    lua_remove(L, -2); /* the userdata stays on the stack until we return */
}

static void read_pointings(lua_State *L, int opts, mx_sim_config *c) {
    opts = lua_absindex(L, opts);
    int ty = lua_getfield(L, opts, "pointings");
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (ty != LUA_TTABLE) luaL_error(L, "option 'pointings' must be an array of {ra=, dec=[, rotation=]}");
    long n = (long)luaL_len(L, -1);
    mx_sim_pointing *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n > 0 ? n : 1), 0);
    for (long k = 0; k < n; k++) {
        if (lua_geti(L, -2, k + 1) != LUA_TTABLE)
            luaL_error(L, "option 'pointings': entry %d must be a table {ra=, dec=[, rotation=]}", (int)k + 1);
        int e = lua_gettop(L);
        if (entry_number(L, e, "ra", NULL, 1, &v[k].ra) != 1 ||
            entry_number(L, e, "dec", NULL, 2, &v[k].dec) != 1)
            luaL_error(L, "option 'pointings': entry %d needs numbers ra and dec (degrees)", (int)k + 1);
        int r = entry_number(L, e, "rotation", NULL, 3, &v[k].rotation);
        if (r < 0) luaL_error(L, "option 'pointings': entry %d: rotation must be a number", (int)k + 1);
        if (r == 0) v[k].rotation = NAN;
        lua_pop(L, 1);
    }
    c->pointings = v;
    c->npointings = n;
    lua_remove(L, -2); /* the userdata stays on the stack until we return */
}

static void read_offsets(lua_State *L, int opts, mx_sim_config *c) {
    opts = lua_absindex(L, opts);
    int ty = lua_getfield(L, opts, "offsets");
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (ty != LUA_TTABLE) luaL_error(L, "option 'offsets' must be an array of numbers (MJy/sr)");
    long n = (long)luaL_len(L, -1);
    double *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n > 0 ? n : 1), 0);
    for (long k = 0; k < n; k++) {
        int isnum = 0;
        lua_geti(L, -2, k + 1);
        v[k] = (double)lua_tonumberx(L, -1, &isnum);
        if (!isnum) luaL_error(L, "option 'offsets': entry %d is not a number", (int)k + 1);
        lua_pop(L, 1);
    }
    c->offsets = v;
    c->noffsets = n;
    lua_remove(L, -2); /* the userdata stays on the stack until we return */
}

static void read_config(lua_State *L, int o, mx_sim_config *c) {
    static const char *const patterns[] = {"dither", "map", "two_groups", "list", NULL};
    static const char *const dithers[] = {"random", "cycle", NULL};
    static const char *const psfs[] = {"gaussian", "double_gaussian", "airy", NULL};
    static const char *const distortions[] = {"none", "irac", NULL};
    memset(c, 0, sizeof *c);
    c->out_dir = mxl_opt_str_opt(L, o, "out_dir");
    c->prefix = mxl_opt_str_opt(L, o, "prefix");
    c->nx = (long)mxl_opt_int_req(L, o, "nx");
    c->ny = (long)mxl_opt_int_req(L, o, "ny");
    c->channel = (int)mxl_opt_int_req(L, o, "channel");
    c->distortion = enum_index(L, o, "distortion", distortions);
    c->pixel_scale = mxl_opt_num_req(L, o, "pixel_scale");
    c->exptime = mxl_opt_num_req(L, o, "exptime");
    c->framtime = mxl_opt_num_req(L, o, "framtime");
    c->fluxconv = mxl_opt_num_req(L, o, "fluxconv");
    c->gain = mxl_opt_num_req(L, o, "gain");
    c->ronoise = mxl_opt_num_req(L, o, "ronoise");
    c->hdr = mxl_opt_bool_opt(L, o, "hdr", 0);
    c->exptime_short = mxl_opt_num_req(L, o, "exptime_short");
    c->framtime_short = mxl_opt_num_req(L, o, "framtime_short");
    c->ronoise_short = mxl_opt_num_req(L, o, "ronoise_short");
    c->aorkey = (long)mxl_opt_int_req(L, o, "aorkey");
    c->mjd_start = mxl_opt_num_req(L, o, "mjd_start");
    c->pattern = (mx_sim_pattern)enum_index(L, o, "pattern", patterns);
    c->nframes = (long)mxl_opt_int_req(L, o, "nframes");
    c->ra = mxl_opt_num_req(L, o, "ra");
    c->dec = mxl_opt_num_req(L, o, "dec");
    c->rotation = mxl_opt_num_req(L, o, "rotation");
    c->rotation_jitter = mxl_opt_num_req(L, o, "rotation_jitter");
    c->pointing_jitter = mxl_opt_num_req(L, o, "pointing_jitter");
    c->dither_mode = (mx_sim_dither_mode)enum_index(L, o, "dither", dithers);
    c->dither_scale = mxl_opt_num_req(L, o, "dither_scale");
    c->ndither = (int)mxl_opt_int_req(L, o, "ndither");
    c->map_rows = (int)mxl_opt_int_req(L, o, "map_rows");
    c->map_cols = (int)mxl_opt_int_req(L, o, "map_cols");
    c->map_overlap = mxl_opt_num_req(L, o, "map_overlap");
    c->group_separation = mxl_opt_num_req(L, o, "group_separation");
    c->sky = mxl_opt_num_req(L, o, "sky");
    c->sky_gradient[0] = mxl_opt_num_req(L, o, "sky_gradient_ra");
    c->sky_gradient[1] = mxl_opt_num_req(L, o, "sky_gradient_dec");
    c->zody_est = mxl_opt_num_req(L, o, "zody_est");
    c->zody_step = mxl_opt_num_req(L, o, "zody_step");
    c->skydrkzb = mxl_opt_num_req(L, o, "skydrkzb");
    c->offset_sigma = mxl_opt_num_req(L, o, "offset_sigma");
    c->blob_peak = mxl_opt_num_req(L, o, "blob_peak");
    c->blob_fwhm = mxl_opt_num_req(L, o, "blob_fwhm");
    c->blob_ra = mxl_opt_num_opt(L, o, "blob_ra", NAN);
    c->blob_dec = mxl_opt_num_opt(L, o, "blob_dec", NAN);
    c->nsources = (long)mxl_opt_int_opt(L, o, "nsources", -1);
    c->source_density = mxl_opt_num_req(L, o, "source_density");
    c->flux_min = mxl_opt_num_req(L, o, "flux_min");
    c->flux_max = mxl_opt_num_req(L, o, "flux_max");
    c->flux_slope = mxl_opt_num_req(L, o, "flux_slope");
    c->psf.kind = (mx_sim_psf_kind)enum_index(L, o, "psf", psfs);
    c->psf.fwhm = mxl_opt_num_req(L, o, "fwhm");
    c->psf.wing_fwhm = mxl_opt_num_req(L, o, "wing_fwhm");
    c->psf.wing_fraction = mxl_opt_num_req(L, o, "wing_fraction");
    c->psf.radius = mxl_opt_num_req(L, o, "psf_radius");
    c->psf.oversample = (int)mxl_opt_int_req(L, o, "oversample");
    c->noise = mxl_opt_bool_opt(L, o, "noise", 1);
    c->cosmics = mxl_opt_num_req(L, o, "cosmics");
    c->cosmic_min_sigma = mxl_opt_num_req(L, o, "cosmic_min_sigma");
    c->cosmic_max_sigma = mxl_opt_num_req(L, o, "cosmic_max_sigma");
    c->cosmic_flag_fraction = mxl_opt_num_req(L, o, "cosmic_flag_fraction");
    c->nan_pixels = (long)mxl_opt_int_req(L, o, "nan_pixels");
    c->dead_pixels = (long)mxl_opt_int_req(L, o, "dead_pixels");
    c->hot_pixels = (long)mxl_opt_int_req(L, o, "hot_pixels");
    c->bad_columns = (long)mxl_opt_int_req(L, o, "bad_columns");
    c->stray_pixels = (long)mxl_opt_int_req(L, o, "stray_pixels");
    c->hot_level = mxl_opt_num_req(L, o, "hot_level");
    c->seed = (uint64_t)mxl_opt_int_req(L, o, "seed");
    read_sources(L, o, c);
    read_pointings(L, o, c);
    read_offsets(L, o, c);
}

static void set_str(lua_State *L, const char *key, const char *v) {
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

/* core.simulate(opts) -> result table (files) or one frame in memory */
static int l_simulate(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    mx_sim_config c;
    read_config(L, 1, &c);
    lua_Integer frame = mxl_opt_int_opt(L, 1, "render_frame", 0);
    if (frame > 0) {
        mx_sim_plan *p = NULL;
        mx_sim_frame f;
        mxl_check(L, mx_sim_plan_new(&c, &p));
        if (frame > mx_sim_plan_nframes(p)) {
            long n = mx_sim_plan_nframes(p);
            mx_sim_plan_free(p);
            return luaL_error(L, "option 'render_frame': frame %d of %d", (int)frame, (int)n);
        }
        const mx_sim_frame_info fi = *mx_sim_plan_frame(p, (long)frame - 1);
        char name[256];
        mx_sim_plan_filename(p, (long)frame - 1, "cbcd", name, sizeof name);
        int st = mx_sim_render_frame(p, (long)frame - 1, &f);
        mx_sim_plan_free(p);
        mxl_check(L, st);
        /* ownership moves to Lua one object at a time; the cosmic list is
         * copied first so that nothing C-owned is left when a push raises */
        lua_createtable(L, 0, 8);
        lua_createtable(L, (int)f.ncosmics, 0);
        for (long k = 0; k < f.ncosmics; k++) {
            const mx_sim_cosmic *e = &f.cosmics[k];
            lua_createtable(L, 0, 7);
            set_int(L, "image_id", e->image_id);
            set_int(L, "hit", e->hit);
            set_int(L, "x", e->x + 1);
            set_int(L, "y", e->y + 1);
            set_num(L, "amplitude", e->amplitude);
            set_num(L, "significance", e->significance);
            lua_pushboolean(L, e->flagged);
            lua_setfield(L, -2, "flagged");
            lua_seti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "cosmics");
        free(f.cosmics);
        f.cosmics = NULL;
        mx_image *img = f.image, *sig = f.sigma, *msk = f.mask;
        f.image = f.sigma = f.mask = NULL;
        mxl_push_image(L, img);
        lua_setfield(L, -2, "image");
        mxl_push_image(L, sig);
        lua_setfield(L, -2, "sigma");
        mxl_push_image(L, msk);
        lua_setfield(L, -2, "mask");
        set_str(L, "file", name);
        set_num(L, "crval1", fi.crval[0]);
        set_num(L, "crval2", fi.crval[1]);
        set_num(L, "rotation", fi.rotation);
        set_num(L, "offset", fi.offset);
        set_num(L, "exptime", fi.exptime);
        set_int(L, "group", fi.group);
        return 1;
    }
    mx_sim_result r;
    int st = mx_simulate(&c, &r);
    mxl_check(L, st);
    lua_createtable(L, 0, 12);
    set_str(L, "images", r.cbcd_list);
    set_str(L, "sigmas", r.cbunc_list);
    set_str(L, "dce_masks", r.bimsk_list);
    set_str(L, "sources", r.sources_tbl);
    set_str(L, "offsets", r.offsets_tbl);
    set_str(L, "cosmics", r.cosmics_tbl);
    set_str(L, "frames", r.frames_tbl);
    set_str(L, "out_dir", c.out_dir);
    set_int(L, "nframes", r.nframes);
    set_int(L, "nsources", r.nsources);
    set_int(L, "ncosmics", r.ncosmics);
    mx_sim_result_clear(&r);
    return 1;
}

int mxl_open_simulate(lua_State *L);
int mxl_open_simulate(lua_State *L) {
    lua_pushcfunction(L, l_simulate);
    lua_setfield(L, -2, "simulate");
    return 0;
}
