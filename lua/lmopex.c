/* lmopex.c - luaopen_mopex: the `mopex` Lua module, and the helpers of mxl.h.
 *
 * Loading order: a `core` table receives every binding (mxl_open_all, one
 * mxl_open_<area> per lua/l_<area>.c); the Lua layer compiled into this
 * module (lua/mopex/ (all .lua files)) is registered in package.preload; finally the
 * chunk of lua/mopex/init.lua runs with (core, list of embedded module
 * names) and its result is the module.
 */
#include <stdlib.h>
#include <string.h>

#include "mx_embedded.h"
#include "mxl.h"

/* ---- mxl.h helpers ---------------------------------------------------- */
void mxl_check(lua_State *L, int status) {
    if (status == MX_OK) return;
    lua_pushinteger(L, status);
    lua_setfield(L, LUA_REGISTRYINDEX, "mopex.last_status");
    const char *msg = mx_errmsg();
    luaL_error(L, "%s", (msg && *msg) ? msg : mx_status_name(status));
}

static int opt_field(lua_State *L, int opts, const char *name) {
    luaL_checktype(L, opts, LUA_TTABLE);
    return lua_getfield(L, opts, name);
}

lua_Integer mxl_opt_int_req(lua_State *L, int opts, const char *name) {
    opts = lua_absindex(L, opts);
    int t = opt_field(L, opts, name);
    if (t == LUA_TNIL) luaL_error(L, "option '%s' is required", name);
    int isnum = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "option '%s' must be an integer", name);
    lua_pop(L, 1);
    return v;
}

lua_Integer mxl_opt_int_opt(lua_State *L, int opts, const char *name, lua_Integer def) {
    opts = lua_absindex(L, opts);
    if (opt_field(L, opts, name) == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    lua_pop(L, 1);
    return mxl_opt_int_req(L, opts, name);
}

double mxl_opt_num_req(lua_State *L, int opts, const char *name) {
    opts = lua_absindex(L, opts);
    int t = opt_field(L, opts, name);
    if (t == LUA_TNIL) luaL_error(L, "option '%s' is required", name);
    int isnum = 0;
    double v = (double)lua_tonumberx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "option '%s' must be a number", name);
    lua_pop(L, 1);
    return v;
}

double mxl_opt_num_opt(lua_State *L, int opts, const char *name, double def) {
    opts = lua_absindex(L, opts);
    if (opt_field(L, opts, name) == LUA_TNIL) {
        lua_pop(L, 1);
        return def;
    }
    lua_pop(L, 1);
    return mxl_opt_num_req(L, opts, name);
}

int mxl_opt_bool_opt(lua_State *L, int opts, const char *name, int def) {
    opts = lua_absindex(L, opts);
    int t = opt_field(L, opts, name);
    int v = def;
    if (t == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (t == LUA_TNUMBER)
        v = lua_tonumber(L, -1) != 0;
    else if (t != LUA_TNIL)
        luaL_error(L, "option '%s' must be a boolean", name);
    lua_pop(L, 1);
    return v;
}

const char *mxl_opt_str_opt(lua_State *L, int opts, const char *name) {
    opts = lua_absindex(L, opts);
    int t = opt_field(L, opts, name);
    const char *s = NULL;
    if (t == LUA_TSTRING)
        s = lua_tostring(L, -1); /* anchored in the options table */
    else if (t != LUA_TNIL)
        luaL_error(L, "option '%s' must be a string", name);
    lua_pop(L, 1);
    return s;
}

const char *mxl_opt_str_req(lua_State *L, int opts, const char *name) {
    const char *s = mxl_opt_str_opt(L, opts, name);
    if (!s) luaL_error(L, "option '%s' is required", name);
    return s;
}

const char **mxl_opt_strlist(lua_State *L, int opts, const char *name, int *n) {
    opts = lua_absindex(L, opts);
    *n = 0;
    int t = opt_field(L, opts, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t != LUA_TTABLE) luaL_error(L, "option '%s' must be an array of strings", name);
    lua_Integer len = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
        if (lua_geti(L, -1, i) != LUA_TSTRING)
            luaL_error(L, "option '%s': entry %d is not a string", name, (int)i);
        lua_pop(L, 1);
    }
    const char **arr = malloc(sizeof *arr * (size_t)(len > 0 ? len : 1));
    if (!arr) luaL_error(L, "out of memory");
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, -1, i);
        arr[i - 1] = lua_tostring(L, -1); /* anchored in the array, itself in opts */
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    *n = (int)len;
    return arr;
}

const char *const *mxl_opt_paths(lua_State *L, int opts, const char *name, int *n) {
    opts = lua_absindex(L, opts);
    *n = 0;
    int t = lua_getfield(L, opts, name);
    if (t == LUA_TNIL) return NULL; /* the nil stays as the slot */
    if (t != LUA_TTABLE) luaL_error(L, "option '%s' must be an array of paths", name);
    lua_Integer len = luaL_len(L, -1);
    if (len < 0 || len > 10000000) luaL_error(L, "option '%s': %d entries", name, (int)len);
    const char **v = lua_newuserdatauv(L, sizeof *v * (size_t)(len > 0 ? len : 1), 0);
    for (lua_Integer i = 1; i <= len; i++) {
        if (lua_geti(L, -2, i) != LUA_TSTRING)
            luaL_error(L, "option '%s': entry %d is not a string", name, (int)i);
        v[i - 1] = lua_tostring(L, -1); /* anchored: the array is in opts */
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    *n = (int)len;
    return v;
}

void mxl_setint(lua_State *L, const char *key, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}

void mxl_setnum(lua_State *L, const char *key, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

void mxl_setstr(lua_State *L, const char *key, const char *v) {
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

void mxl_pushstrings(lua_State *L, char *const *v, int n) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_seti(L, -2, i + 1);
    }
}

double *mxl_tonumarray(lua_State *L, int idx, size_t *n) {
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer len = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= len; i++) {
        int isnum = 0;
        lua_geti(L, idx, i);
        (void)lua_tonumberx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum) luaL_error(L, "array entry %d is not a number", (int)i);
    }
    double *v = malloc(sizeof *v * (size_t)(len > 0 ? len : 1));
    if (!v) luaL_error(L, "out of memory");
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, idx, i);
        v[i - 1] = (double)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    *n = (size_t)len;
    return v;
}

double *mxl_opt_numlist(lua_State *L, int opts, const char *name, int *n) {
    opts = lua_absindex(L, opts);
    *n = 0;
    int t = opt_field(L, opts, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t != LUA_TTABLE) luaL_error(L, "option '%s' must be an array of numbers", name);
    size_t len = 0;
    double *v = mxl_tonumarray(L, -1, &len);
    lua_pop(L, 1);
    *n = (int)len;
    return v;
}

void mxl_pushnumarray(lua_State *L, const double *v, size_t n) {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_seti(L, -2, (lua_Integer)i + 1);
    }
}

void mxl_register_type(lua_State *L, int core, const char *tname, const char *name,
                       const luaL_Reg *meta, const luaL_Reg *methods) {
    int top = lua_gettop(L);
    core = lua_absindex(L, core);
    luaL_newmetatable(L, tname);
    int mt = lua_gettop(L);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, mt, "__index");
    lua_setfield(L, core, name);
    /* core.metatables is shared by the object bindings: created on first use */
    if (lua_getfield(L, core, "metatables") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, core, "metatables");
    }
    lua_pushvalue(L, mt);
    lua_setfield(L, -2, name);
    lua_settop(L, top);
}

/* ---- module entry ----------------------------------------------------- */
static int load_embedded(lua_State *L) {
    const mx_embedded_chunk *c = lua_touserdata(L, lua_upvalueindex(1));
    char chunkname[256];
    snprintf(chunkname, sizeof chunkname, "@mopex:%s", c->path);
    if (luaL_loadbuffer(L, (const char *)c->source, c->len, chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, c->modname);
    lua_call(L, 1, 1);
    return 1;
}

int luaopen_mopex(lua_State *L);
int luaopen_mopex(lua_State *L) {
    /* core table with every binding */
    lua_newtable(L);
    int core = lua_gettop(L);
    mxl_open_all(L);
    lua_settop(L, core);

    /* package.preload entries for the embedded Lua modules */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    int preload = lua_gettop(L);
    lua_newtable(L); /* list of embedded module names, passed to init */
    int names = lua_gettop(L);
    const mx_embedded_chunk *init = NULL;
    int k = 0;
    for (const mx_embedded_chunk *c = mx_embedded_lua; c->modname; c++) {
        if (strcmp(c->modname, "mopex") == 0) {
            init = c;
            continue;
        }
        lua_pushlightuserdata(L, (void *)c);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, preload, c->modname);
        lua_pushstring(L, c->modname);
        lua_seti(L, names, ++k);
    }
    if (!init) return luaL_error(L, "mopex: embedded init.lua missing (broken build)");
    if (luaL_loadbuffer(L, (const char *)init->source, init->len, "@mopex:mopex/init.lua") !=
        LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, core);
    lua_pushvalue(L, names);
    lua_call(L, 2, 1);
    return 1;
}
