/* l_core.c - engine-wide bindings: version, threads, logging (warnings
 * collected for Lua), interrupts, list files, path helpers and robust
 * statistics over a Lua array or an Image.
 *
 * Added to `core`:
 *   version()                      -> "0.1.0"
 *   threads([n])                   -> current thread count (n sets it; n <= 0 automatic)
 *   cpu_count()                    -> online CPUs
 *   log_level([lvl])               -> "error"|"warn"|"info"|"debug" (lvl sets it, name or 0..3)
 *   warnings()                     -> array of warning texts since the last call (cleared)
 *   last_status()                  -> status name of the last failed call ("io", ...) or nil
 *   interrupt_requested(), clear_interrupt(), request_interrupt(), check_interrupt()
 *   read_list(path[, check])       -> array of resolved paths, array of line numbers
 *   write_list(path, paths)
 *   check_lists(a, aname, b, bname) raises when the two lists differ in length
 *   basename_noext(path), path_join(dir, name), mkdir_p(dir), file_exists(path)
 *   stats(x[, opts])               -> {n, mean, stddev, median, mad_sigma, min, max}
 *   median(x[, "average"]), mean(x), std(x[, ddof]), mad_sigma(x)
 *   sigma_clip(x[, opts])          -> stats table of the kept values
 * where x is a Lua array of numbers or an Image, and opts may hold
 *   mask   = Image (integer or float, same size) or array of numbers/booleans,
 *   fatal  = bit pattern applied to an integer mask (default: any bit),
 *   ddof   = 0 or 1,
 *   lo, hi, nsig, maxiter, center = "median"|"mean"   (sigma_clip).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <time.h>

#include "mxl.h"

/* ---- version, threads ------------------------------------------------- */
static int c_version(lua_State *L) {
    lua_pushstring(L, mx_version());
    return 1;
}

static int c_threads(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        if (n > 4096) return luaL_argerror(L, 1, "more than 4096 threads");
        mx_set_threads((int)n);
    }
    lua_pushinteger(L, mx_threads());
    return 1;
}

/* core.log(level, message): a message through the engine's logger, so Lua
 * modules and C kernels share one verbosity setting and one warning list. */
static int c_log(lua_State *L) {
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    int lv = luaL_checkoption(L, 1, NULL, levels);
    mx_log((mx_log_level)lv, "%s", luaL_checkstring(L, 2));
    return 0;
}

/* core.wallclock() -> seconds on a monotonic clock (for step timings). */
static int c_wallclock(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + 1e-9 * (lua_Number)ts.tv_nsec);
    return 1;
}

/* core.setpriority(n): the classic NICE = 1 runs at nice 19 (000 l.9425-9426). */
static int c_setpriority(lua_State *L) {
    int n = (int)luaL_checkinteger(L, 1);
    if (setpriority(PRIO_PROCESS, 0, n) != 0)
        return luaL_error(L, "setpriority(%d): %s", n, strerror(errno));
    return 0;
}

static int c_getpriority(lua_State *L) {
    errno = 0;
    int n = getpriority(PRIO_PROCESS, 0);
    if (n == -1 && errno != 0) return luaL_error(L, "getpriority: %s", strerror(errno));
    lua_pushinteger(L, n);
    return 1;
}

static int c_cpu_count(lua_State *L) {
    lua_pushinteger(L, mx_cpu_count());
    return 1;
}

/* ---- logging ---------------------------------------------------------- */
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};

static int c_log_level(lua_State *L) {
    if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 0 && n <= 3, 1, "log level must be 0..3 (error..debug)");
        mx_log_set_level((mx_log_level)n);
    } else if (!lua_isnoneornil(L, 1)) {
        mx_log_set_level((mx_log_level)luaL_checkoption(L, 1, NULL, level_names));
    }
    lua_pushstring(L, level_names[mx_log_get_level()]);
    return 1;
}

/* Warnings are produced by any thread (under the core's log lock), so they
 * go to a C list of their own, drained by warnings() on the Lua thread.
 * The list is bounded: a run that warns for every pixel must not eat the
 * memory; what is dropped is counted and reported as one last entry. */
#define WARN_MAX 1000
static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;
static char *warn_list[WARN_MAX];
static int warn_count = 0;
static long warn_dropped = 0;
static int handler_users = 0; /* Lua states that have this module open */

static void log_handler(mx_log_level level, const char *msg, void *ud) {
    (void)ud;
    static const char *prefix[] = {"error: ", "warning: ", "", "debug: "};
    fprintf(stderr, "%s%s\n", prefix[level], msg); /* still printed */
    if (level != MX_LOG_WARN) return;
    pthread_mutex_lock(&warn_lock);
    char *copy = warn_count < WARN_MAX ? strdup(msg) : NULL;
    if (copy)
        warn_list[warn_count++] = copy;
    else
        warn_dropped++;
    pthread_mutex_unlock(&warn_lock);
}

static void warn_clear_locked(void) {
    for (int i = 0; i < warn_count; i++) free(warn_list[i]);
    warn_count = 0;
    warn_dropped = 0;
}

static int c_warnings(lua_State *L) {
    /* Take the list out under the lock, then build Lua strings (which may
     * raise on memory errors) from a private copy. */
    char *mine[WARN_MAX];
    pthread_mutex_lock(&warn_lock);
    int n = warn_count;
    long dropped = warn_dropped;
    memcpy(mine, warn_list, sizeof mine[0] * (size_t)n);
    warn_count = 0;
    warn_dropped = 0;
    pthread_mutex_unlock(&warn_lock);
    lua_createtable(L, n + (dropped > 0), 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, mine[i]);
        free(mine[i]);
        mine[i] = NULL;
        lua_seti(L, -2, i + 1);
    }
    if (dropped > 0) {
        lua_pushfstring(L, "(%d more warnings not kept)", (int)dropped);
        lua_seti(L, -2, n + 1);
    }
    return 1;
}

/* Finaliser of a registry sentinel: when the last Lua state using the
 * module closes, logging goes back to plain stderr (the handler may live in
 * a shared object that is about to be unloaded). */
static int handler_sentinel_gc(lua_State *L) {
    (void)L;
    pthread_mutex_lock(&warn_lock);
    int last = --handler_users == 0;
    if (last) warn_clear_locked();
    pthread_mutex_unlock(&warn_lock);
    if (last) mx_log_set_handler(NULL, NULL);
    return 0;
}

static void install_handler(lua_State *L) {
    pthread_mutex_lock(&warn_lock);
    handler_users++;
    pthread_mutex_unlock(&warn_lock);
    mx_log_set_handler(log_handler, NULL);
    lua_newuserdatauv(L, 1, 0);
    lua_newtable(L);
    lua_pushcfunction(L, handler_sentinel_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "mopex.log_sentinel");
}

/* Name of the status of the last failed core call ("io", "format", ...),
 * kept by mxl_check; nil before any failure. */
static int c_last_status(lua_State *L) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, "mopex.last_status") != LUA_TNUMBER) {
        lua_pushnil(L);
        return 1;
    }
    int st = (int)lua_tointeger(L, -1);
    lua_pushstring(L, mx_status_name(st));
    return 1;
}

/* ---- interrupts ------------------------------------------------------- */
static int c_interrupt_requested(lua_State *L) {
    lua_pushboolean(L, mx_interrupt_requested());
    return 1;
}
static int c_clear_interrupt(lua_State *L) {
    (void)L;
    mx_clear_interrupt();
    return 0;
}
static int c_request_interrupt(lua_State *L) {
    (void)L;
    mx_request_interrupt();
    return 0;
}
static int c_check_interrupt(lua_State *L) {
    mxl_check(L, mx_check_interrupt());
    return 0;
}

/* ---- lists and paths -------------------------------------------------- */
static int c_read_list(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int flags = (lua_isnoneornil(L, 2) || lua_toboolean(L, 2)) ? MX_LIST_CHECK_EXISTS : 0;
    mx_list *l = NULL;
    mxl_check(L, mx_list_read(path, flags, &l));
    /* Only a Lua memory error could raise before the free below. */
    lua_createtable(L, l->n, 0);
    lua_createtable(L, l->n, 0);
    for (int i = 0; i < l->n; i++) {
        lua_pushstring(L, l->paths[i]);
        lua_seti(L, -3, i + 1);
        lua_pushinteger(L, l->lineno[i]);
        lua_seti(L, -2, i + 1);
    }
    mx_list_free(l);
    return 2;
}

/* Collect a Lua array of strings into a malloc'ed pointer array (strings
 * stay anchored in the array). Raises before allocating. */
static const char **string_array(lua_State *L, int idx, int *n, const char *what) {
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer len = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= len; i++) {
        if (lua_geti(L, idx, i) != LUA_TSTRING)
            luaL_error(L, "%s: entry %d is not a string", what, (int)i);
        lua_pop(L, 1);
    }
    const char **arr = malloc(sizeof *arr * (size_t)(len > 0 ? len : 1));
    if (!arr) luaL_error(L, "out of memory");
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, idx, i);
        arr[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    *n = (int)len;
    return arr;
}

static int c_write_list(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int n = 0;
    const char **arr = string_array(L, 2, &n, "write_list");
    int st = mx_list_write_paths(n, arr, path);
    free(arr);
    mxl_check(L, st);
    return 0;
}

/* A list argument: a list file path (read without the existence check, the
 * length is what matters) or an array of paths. Validated before anything
 * is allocated, so that no error is raised while a list is held. */
static void check_list_arg(lua_State *L, int idx, const char *role) {
    if (lua_type(L, idx) == LUA_TSTRING) return;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "%s must be a list file name or an array of paths", role);
    lua_Integer len = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= len; i++) {
        if (lua_geti(L, idx, i) != LUA_TSTRING)
            luaL_error(L, "%s: entry %d is not a string", role, (int)i);
        lua_pop(L, 1);
    }
}

static int list_arg(lua_State *L, int idx, const char *role, mx_list **out) {
    *out = NULL;
    if (lua_type(L, idx) == LUA_TSTRING) return mx_list_read(lua_tostring(L, idx), 0, out);
    int n = 0;
    const char **arr = string_array(L, idx, &n, role);
    int st = mx_list_from_paths(n, arr, NULL, out);
    free(arr);
    return st;
}

static int c_check_lists(lua_State *L) {
    const char *aname = luaL_optstring(L, 2, "ImageList");
    const char *bname = luaL_optstring(L, 4, "list");
    if (lua_isnoneornil(L, 3)) return 0; /* no second list: nothing to compare */
    check_list_arg(L, 1, aname);
    check_list_arg(L, 3, bname);
    mx_list *a = NULL, *b = NULL;
    int st = list_arg(L, 1, aname, &a);
    if (st == MX_OK) st = list_arg(L, 3, bname, &b);
    if (st == MX_OK) st = mx_list_check_same_length(a, aname, b, bname);
    mx_list_free(a);
    mx_list_free(b);
    mxl_check(L, st);
    return 0;
}

static int c_basename_noext(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    char buf[4096];
    mx_path_basename_noext(path, buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

static int c_path_join(lua_State *L) {
    const char *dir = luaL_checkstring(L, 1);
    const char *name = luaL_checkstring(L, 2);
    char *p = mx_path_join(dir, name);
    if (!p) return luaL_error(L, "out of memory");
    lua_pushstring(L, p);
    free(p);
    return 1;
}

static int c_mkdir_p(lua_State *L) {
    mxl_check(L, mx_mkdir_p(luaL_checkstring(L, 1)));
    return 0;
}

static int c_file_exists(lua_State *L) {
    lua_pushboolean(L, mx_file_exists(luaL_checkstring(L, 1)));
    return 1;
}

/* ---- statistics ------------------------------------------------------- */
/* Values and mask of a stats call, in Lua-owned scratch userdata so that an
 * argument error raised half-way leaks nothing. */
typedef struct {
    const float *v; /* n values: a float Image's own pixels, or a private copy */
    float *copy;    /* the private copy (NULL when v points into an Image) */
    uint8_t *m;     /* NULL or n mask bytes (non-zero: ignore) */
    size_t n;
} stat_input;

static void *scratch(lua_State *L, size_t bytes) {
    return lua_newuserdatauv(L, bytes > 0 ? bytes : 1, 0);
}

/* Leaves its scratch userdata (if any) on the stack, anchoring the
 * buffers. A float Image is used in place (the core functions taking
 * `const float *` do not modify it); `need_copy` asks for a private copy
 * that may be reordered. */
static void stat_values(lua_State *L, int idx, stat_input *in, int need_copy) {
    mx_image *img = mxl_test_image(L, idx);
    in->copy = NULL;
    if (img) {
        in->n = (size_t)img->nx * (size_t)img->ny;
        if (img->kind == MX_IMG_FLOAT && !need_copy) {
            in->v = img->data;
            return;
        }
        in->copy = scratch(L, in->n * sizeof(float));
        if (img->kind == MX_IMG_FLOAT)
            memcpy(in->copy, img->data, in->n * sizeof(float));
        else
            for (size_t i = 0; i < in->n; i++) in->copy[i] = (float)img->mask[i];
        in->v = in->copy;
        return;
    }
    if (lua_type(L, idx) == LUA_TUSERDATA && luaL_testudata(L, idx, MXL_IMAGE))
        mxl_check_image(L, idx); /* closed image: raises the usual message */
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_argerror(L, idx, lua_pushfstring(L, "array of numbers or Image expected, got %s",
                                               luaL_typename(L, idx)));
    lua_Integer len = luaL_len(L, idx);
    in->n = (size_t)(len > 0 ? len : 0);
    in->copy = scratch(L, in->n * sizeof(float));
    for (size_t i = 0; i < in->n; i++) {
        int isnum = 0;
        lua_geti(L, idx, (lua_Integer)i + 1);
        lua_Number x = lua_tonumberx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum) luaL_error(L, "array entry %d is not a number", (int)i + 1);
        in->copy[i] = (float)x;
    }
    in->v = in->copy;
}

static void stat_mask(lua_State *L, int opts, stat_input *in) {
    in->m = NULL;
    if (opts == 0 || lua_getfield(L, opts, "mask") == LUA_TNIL) {
        if (opts) lua_pop(L, 1);
        return;
    }
    int midx = lua_gettop(L);
    uint32_t fatal = (uint32_t)mxl_opt_int_opt(L, opts, "fatal", (lua_Integer)0xFFFFFFFFu);
    in->m = scratch(L, in->n);
    mx_image *mimg = NULL;
    if (luaL_testudata(L, midx, MXL_IMAGE)) mimg = mxl_check_image(L, midx);
    if (mimg) {
        if ((size_t)mimg->nx * (size_t)mimg->ny != in->n)
            luaL_error(L, "option 'mask' has %d values (%dx%d), the data have %d",
                       (int)(mimg->nx * mimg->ny), (int)mimg->nx, (int)mimg->ny, (int)in->n);
        for (size_t i = 0; i < in->n; i++) {
            if (mimg->kind == MX_IMG_INT)
                in->m[i] = mx_mask_is_fatal(mimg->mask[i], fatal);
            else
                in->m[i] = mimg->data[i] != 0.0f && !isnan(mimg->data[i]);
        }
    } else if (lua_type(L, midx) == LUA_TTABLE) {
        if ((size_t)luaL_len(L, midx) != in->n)
            luaL_error(L, "option 'mask' has %d entries, the data have %d",
                       (int)luaL_len(L, midx), (int)in->n);
        for (size_t i = 0; i < in->n; i++) {
            int t = lua_geti(L, midx, (lua_Integer)i + 1);
            if (t == LUA_TBOOLEAN || t == LUA_TNIL)
                in->m[i] = (uint8_t)lua_toboolean(L, -1);
            else if (t == LUA_TNUMBER)
                in->m[i] = mx_mask_is_fatal((int32_t)lua_tointeger(L, -1), fatal);
            else
                luaL_error(L, "option 'mask': entry %d is not a number or boolean", (int)i + 1);
            lua_pop(L, 1);
        }
    } else {
        luaL_error(L, "option 'mask' must be an Image or an array");
    }
}

static int opts_index(lua_State *L, int idx) {
    if (lua_isnoneornil(L, idx)) return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    return lua_absindex(L, idx);
}

static void push_stats(lua_State *L, const mx_stats *s) {
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, (lua_Integer)s->n);
    lua_setfield(L, -2, "n");
    lua_pushnumber(L, s->mean);
    lua_setfield(L, -2, "mean");
    lua_pushnumber(L, s->stddev);
    lua_setfield(L, -2, "stddev");
    lua_pushnumber(L, s->median);
    lua_setfield(L, -2, "median");
    lua_pushnumber(L, s->mad_sigma);
    lua_setfield(L, -2, "mad_sigma");
    lua_pushnumber(L, s->min);
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, s->max);
    lua_setfield(L, -2, "max");
}

static int get_ddof(lua_State *L, int opts) {
    lua_Integer ddof = opts ? mxl_opt_int_opt(L, opts, "ddof", 0) : 0;
    if (ddof != 0 && ddof != 1) luaL_error(L, "option 'ddof' must be 0 or 1");
    return (int)ddof;
}

static void compute(lua_State *L, int xidx, int opts, int ddof, mx_stats *s) {
    stat_input in;
    stat_values(L, xidx, &in, 0);
    stat_mask(L, opts, &in);
    mxl_check(L, mx_stats_compute(in.v, in.m, in.n, ddof, s));
}

static int c_stats(lua_State *L) {
    int opts = opts_index(L, 2);
    mx_stats s;
    compute(L, 1, opts, get_ddof(L, opts), &s);
    push_stats(L, &s);
    return 1;
}

static int c_mean(lua_State *L) {
    int opts = opts_index(L, 2);
    mx_stats s;
    compute(L, 1, opts, 0, &s);
    lua_pushnumber(L, s.n ? s.mean : NAN);
    return 1;
}

static int c_std(lua_State *L) {
    int opts = 0, ddof = 0;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer d = luaL_checkinteger(L, 2);
        luaL_argcheck(L, d == 0 || d == 1, 2, "ddof must be 0 or 1");
        ddof = (int)d;
    } else {
        opts = opts_index(L, 2);
        ddof = get_ddof(L, opts);
    }
    mx_stats s;
    compute(L, 1, opts, ddof, &s);
    lua_pushnumber(L, s.stddev);
    return 1;
}

static int c_mad_sigma(lua_State *L) {
    int opts = opts_index(L, 2);
    mx_stats s;
    compute(L, 1, opts, 0, &s);
    lua_pushnumber(L, s.mad_sigma);
    return 1;
}

static int c_median(lua_State *L) {
    int mode = MX_MEDIAN_UPPER, opts = 0;
    if (lua_type(L, 2) == LUA_TSTRING) {
        static const char *const modes[] = {"upper", "average", NULL};
        mode = luaL_checkoption(L, 2, NULL, modes) == 1 ? MX_MEDIAN_AVERAGE : MX_MEDIAN_UPPER;
    } else {
        opts = opts_index(L, 2);
        if (opts && mxl_opt_bool_opt(L, opts, "average", 0)) mode = MX_MEDIAN_AVERAGE;
    }
    stat_input in;
    stat_values(L, 1, &in, 1);
    stat_mask(L, opts, &in);
    size_t n = in.n;
    if (in.m) { /* masked values out of the way: compact the kept ones */
        size_t k = 0;
        for (size_t i = 0; i < in.n; i++)
            if (!in.m[i]) in.copy[k++] = in.copy[i];
        n = k;
    }
    lua_pushnumber(L, (lua_Number)mx_median_inplace(in.copy, n, mode));
    return 1;
}

static int c_sigma_clip(lua_State *L) {
    int opts = opts_index(L, 2);
    double nsig = opts ? mxl_opt_num_opt(L, opts, "nsig", 3.0) : 3.0;
    double lo = opts ? mxl_opt_num_opt(L, opts, "lo", nsig) : nsig;
    double hi = opts ? mxl_opt_num_opt(L, opts, "hi", nsig) : nsig;
    lua_Integer maxiter = opts ? mxl_opt_int_opt(L, opts, "maxiter", 10) : 10;
    int center_mean = 0;
    if (opts) {
        const char *c = mxl_opt_str_opt(L, opts, "center");
        if (c && strcmp(c, "mean") == 0)
            center_mean = 1;
        else if (c && strcmp(c, "median") != 0)
            luaL_error(L, "option 'center' must be \"median\" or \"mean\" (got \"%s\")", c);
    }
    if (!(lo > 0) || !(hi > 0)) luaL_error(L, "sigma_clip: 'lo' and 'hi' must be positive");
    if (maxiter < 1) luaL_error(L, "option 'maxiter' must be >= 1");
    int ddof = get_ddof(L, opts);
    stat_input in;
    stat_values(L, 1, &in, 0);
    stat_mask(L, opts, &in);
    mx_stats s;
    mxl_check(L, mx_sigma_clip(in.v, in.m, in.n, lo, hi, (int)maxiter, center_mean, ddof, &s));
    push_stats(L, &s);
    return 1;
}

static const luaL_Reg core_funcs[] = {
    {"version", c_version},
    {"threads", c_threads},
    {"cpu_count", c_cpu_count},
    {"setpriority", c_setpriority},
    {"wallclock", c_wallclock},
    {"getpriority", c_getpriority},
    {"log_level", c_log_level},
    {"log", c_log},
    {"warnings", c_warnings},
    {"last_status", c_last_status},
    {"interrupt_requested", c_interrupt_requested},
    {"clear_interrupt", c_clear_interrupt},
    {"request_interrupt", c_request_interrupt},
    {"check_interrupt", c_check_interrupt},
    {"read_list", c_read_list},
    {"write_list", c_write_list},
    {"check_lists", c_check_lists},
    {"basename_noext", c_basename_noext},
    {"path_join", c_path_join},
    {"mkdir_p", c_mkdir_p},
    {"file_exists", c_file_exists},
    {"stats", c_stats},
    {"mean", c_mean},
    {"std", c_std},
    {"mad_sigma", c_mad_sigma},
    {"median", c_median},
    {"sigma_clip", c_sigma_clip},
    {NULL, NULL}};

int mxl_open_core(lua_State *L);
int mxl_open_core(lua_State *L) {
    luaL_setfuncs(L, core_funcs, 0);
    install_handler(L);
    return 0;
}
