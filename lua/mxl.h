/* mxl.h - shared helpers for the Lua bindings (lua/l_*.c).
 *
 * Each binding file l_<area>.c defines one entry point
 *
 *     int mxl_open_<area>(lua_State *L);
 *
 * which receives the `core` table at the top of the stack and adds its
 * functions (and metatables) to it. cmake/embed_lua.cmake generates the
 * registry that calls every mxl_open_* found in lua/l_*.c, so adding a
 * binding file needs no other edit. The public Lua API (lua/mopex/)
 * is built on `core`; bindings stay thin: check arguments, call core,
 * convert the status. No numerics here.
 *
 * Errors: misuse (wrong type, missing option) raises through luaL_error /
 * luaL_argerror naming the argument or option. An environmental failure
 * raises mx_errmsg(). Free C memory BEFORE raising (lua_error longjmps).
 */
#ifndef MXL_H
#define MXL_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "mopex/mopex.h"

/* Userdata type names (metatable registry keys). */
#define MXL_IMAGE "mopex.Image"
#define MXL_TABLE "mopex.Table"
#define MXL_WCS "mopex.Wcs"

/* Raise a Lua error with mx_errmsg() if status != MX_OK; returns otherwise.
 * The error value is a string "<message>"; the status name is available to
 * Lua code through mopex.last_status(). */
void mxl_check(lua_State *L, int status);

/* ---- userdata: ownership passes to Lua (freed by __gc/__close) ----------
 *
 * MXL_BOXED(T, name, TNAME, LABEL, FREE) defines, for a core object type T
 * kept in a userdata holding one T* (Lua's liolib.c life cycle):
 *
 *   static T **new_<name>_slot(L)   push an empty (NULL) box with its
 *                                   metatable; fill it once the core has
 *                                   produced the object, so that an error in
 *                                   between leaks nothing
 *   void mxl_push_<name>(L, T *)    box an existing object (Lua owns it)
 *   T *mxl_check_<name>(L, idx)     the object, raising "attempt to use a
 *                                   closed <LABEL>" on a closed box
 *   static int <name>_gc(L)         __gc, __close and close(): FREE the
 *                                   object and leave the box closed
 *
 * mxl_push_<name> and mxl_check_<name> are declared below. */
#define MXL_BOXED(T, name, TNAME, LABEL, FREE)                                 \
    static T **new_##name##_slot(lua_State *L) {                               \
        T **p = lua_newuserdatauv(L, sizeof *p, 0);                            \
        *p = NULL;                                                             \
        luaL_setmetatable(L, TNAME);                                           \
        return p;                                                              \
    }                                                                          \
    void mxl_push_##name(lua_State *L, T *obj) { *new_##name##_slot(L) = obj; } \
    T *mxl_check_##name(lua_State *L, int idx) {                               \
        T **p = luaL_checkudata(L, idx, TNAME);                                \
        if (*p == NULL) luaL_error(L, "attempt to use a closed " LABEL);       \
        return *p;                                                             \
    }                                                                          \
    static int name##_gc(lua_State *L) {                                       \
        T **p = luaL_checkudata(L, 1, TNAME);                                  \
        FREE(*p);                                                              \
        *p = NULL;                                                             \
        return 0;                                                              \
    }

/* Register a boxed type in mxl_open_<area>: the metatable TNAME gets `meta`
 * (__gc, __close, __tostring, ...) and __index = a new table of `methods`;
 * the method table becomes core[name], the metatable core.metatables[name]
 * (help() looks the docs up there). core is the index of the `core` table;
 * the stack is left as it was. */
void mxl_register_type(lua_State *L, int core, const char *tname, const char *name,
                       const luaL_Reg *meta, const luaL_Reg *methods);

void mxl_push_image(lua_State *L, mx_image *img);
mx_image *mxl_check_image(lua_State *L, int idx);   /* raises on a closed image */
mx_image *mxl_test_image(lua_State *L, int idx);    /* NULL if not an open image */
void mxl_push_table(lua_State *L, mx_table *t);
mx_table *mxl_check_table(lua_State *L, int idx);
void mxl_push_wcs(lua_State *L, mx_wcs *w);
mx_wcs *mxl_check_wcs(lua_State *L, int idx);

/* ---- option tables: opts is the index of a Lua table of validated options.
 * *_req raise "option 'name' is required" / "option 'name' must be a number";
 * *_opt return `def` when the field is nil. */
lua_Integer mxl_opt_int_req(lua_State *L, int opts, const char *name);
lua_Integer mxl_opt_int_opt(lua_State *L, int opts, const char *name, lua_Integer def);
double mxl_opt_num_req(lua_State *L, int opts, const char *name);
double mxl_opt_num_opt(lua_State *L, int opts, const char *name, double def);
int mxl_opt_bool_opt(lua_State *L, int opts, const char *name, int def);
/* Strings are valid while the options table is alive. NULL when nil (opt). */
const char *mxl_opt_str_req(lua_State *L, int opts, const char *name);
const char *mxl_opt_str_opt(lua_State *L, int opts, const char *name);
/* A list of strings: a Lua array of strings. Returns a malloc'ed array of
 * pointers into Lua strings (free the array only), count in *n; NULL and 0
 * when the field is nil. */
const char **mxl_opt_strlist(lua_State *L, int opts, const char *name, int *n);
/* An array of numbers into a malloc'ed double array (caller frees). */
double *mxl_opt_numlist(lua_State *L, int opts, const char *name, int *n);

/* opts[name], an array of paths, as a C array of borrowed strings kept in a
 * userdata left on the stack, so that a later raise leaks nothing (the
 * strings stay anchored in opts). Every call leaves exactly one stack slot:
 * nil, with NULL returned and *n = 0, when the option is absent. Raises
 * "option 'name' must be an array of paths" / "option 'name': entry i is
 * not a string" / "option 'name': N entries" (over 10^7). */
const char *const *mxl_opt_paths(lua_State *L, int opts, const char *name, int *n);

/* ---- result tables: t[key] = v on the table at the stack top ----------- */
void mxl_setint(lua_State *L, const char *key, lua_Integer v);
void mxl_setnum(lua_State *L, const char *key, double v);
void mxl_setstr(lua_State *L, const char *key, const char *v); /* nothing when v is NULL */
/* Push n C strings (e.g. a result's output paths) as a Lua array. */
void mxl_pushstrings(lua_State *L, char *const *v, int n);

/* Read a Lua array of numbers at idx into a malloc'ed double array. */
double *mxl_tonumarray(lua_State *L, int idx, size_t *n);
/* Push a C double array as a Lua array. */
void mxl_pushnumarray(lua_State *L, const double *v, size_t n);

/* Registry entry points generated by CMake (mx_bindings_registry.c). */
void mxl_open_all(lua_State *L);

#endif
