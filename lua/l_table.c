/* l_table.c - the Table userdata (mopex.Table) over mx_table (IPAC tables).
 *
 * Rows and columns seen from Lua are 1-based; a column is named or given by
 * its 1-based index. A null cell reads as nil from get() and rows(); column()
 * returns two arrays, the values (null cells hold NaN, 0 or "" by type, so
 * the array has no holes) and the null flags.
 *
 * Added to `core`:
 *   read_table(path), table()   (a new empty table)
 *   Table, metatables.Table
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mxl.h"

MXL_BOXED(mx_table, table, MXL_TABLE, "Table", mx_table_free)

static int tbl_tostring(lua_State *L) {
    mx_table **p = luaL_checkudata(L, 1, MXL_TABLE);
    if (!*p) {
        lua_pushliteral(L, "Table (closed)");
        return 1;
    }
    mx_table *t = *p;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "Table %d rows x %d columns", (int)t->nrows, t->ncols);
    luaL_addvalue(&b);
    for (int c = 0; c < t->ncols && c < 12; c++) {
        luaL_addstring(&b, c == 0 ? ": " : ", ");
        luaL_addstring(&b, t->cols[c].name);
    }
    if (t->ncols > 12) luaL_addstring(&b, ", ...");
    luaL_pushresult(&b);
    return 1;
}

static int tbl_len(lua_State *L) {
    lua_pushinteger(L, mxl_check_table(L, 1)->nrows);
    return 1;
}

/* ---- arguments -------------------------------------------------------- */
/* Column by name or 1-based index -> 0-based index; raises naming it. */
static int col_arg(lua_State *L, mx_table *t, int arg) {
    if (lua_type(L, arg) == LUA_TNUMBER) {
        lua_Integer c = luaL_checkinteger(L, arg);
        if (c < 1 || c > t->ncols)
            luaL_argerror(L, arg, lua_pushfstring(L, "column %I is outside 1..%d", c, t->ncols));
        return (int)c - 1;
    }
    const char *name = luaL_checkstring(L, arg);
    int c = mx_table_find_column(t, name);
    if (c < 0) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int i = 0; i < t->ncols; i++) {
            if (i) luaL_addstring(&b, ", ");
            luaL_addstring(&b, t->cols[i].name);
        }
        luaL_pushresult(&b);
        luaL_error(L, "no column '%s' (columns: %s)", name, lua_tostring(L, -1));
    }
    return c;
}

static long row_arg(lua_State *L, mx_table *t, int arg) {
    lua_Integer r = luaL_checkinteger(L, arg);
    if (r < 1 || r > t->nrows)
        luaL_argerror(L, arg, lua_pushfstring(L, "row %I is outside 1..%d", r, (int)t->nrows));
    return (long)(r - 1);
}

static const char *const type_names[] = {"int", "double", "string", NULL};

static mx_coltype type_arg(lua_State *L, int arg) {
    const char *s = luaL_checkstring(L, arg);
    static const struct {
        const char *name;
        mx_coltype type;
    } aliases[] = {{"int", MX_COL_INT},       {"integer", MX_COL_INT},   {"long", MX_COL_INT},
                   {"i", MX_COL_INT},         {"double", MX_COL_DOUBLE}, {"real", MX_COL_DOUBLE},
                   {"float", MX_COL_DOUBLE},  {"number", MX_COL_DOUBLE}, {"r", MX_COL_DOUBLE},
                   {"d", MX_COL_DOUBLE},      {"f", MX_COL_DOUBLE},      {"string", MX_COL_STRING},
                   {"char", MX_COL_STRING},   {"c", MX_COL_STRING},      {"s", MX_COL_STRING}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(s, aliases[i].name) == 0) return aliases[i].type;
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown column type '%s' (int, double or string)",
                                           s));
    return MX_COL_DOUBLE;
}

/* ---- cells ------------------------------------------------------------ */
static void push_cell(lua_State *L, const mx_table *t, int c, long r) {
    if (mx_table_is_null(t, c, r)) {
        lua_pushnil(L);
        return;
    }
    const mx_column *col = &t->cols[c];
    switch (col->type) {
    case MX_COL_INT: lua_pushinteger(L, (lua_Integer)col->i[r]); break;
    case MX_COL_DOUBLE: lua_pushnumber(L, (lua_Number)col->d[r]); break;
    default: lua_pushstring(L, col->s[r] ? col->s[r] : ""); break;
    }
}

/* Store the Lua value at `arg` into cell (c, r); nil stores null. Returns a
 * status; misuse (a table, a function) raises before touching the table. */
static int store_cell(lua_State *L, mx_table *t, int c, long r, int arg) {
    switch (lua_type(L, arg)) {
    case LUA_TNIL:
    case LUA_TNONE: return mx_table_set_null(t, c, r);
    case LUA_TNUMBER:
        if (lua_isinteger(L, arg)) return mx_table_set_int(t, c, r, (int64_t)lua_tointeger(L, arg));
        return mx_table_set_double(t, c, r, (double)lua_tonumber(L, arg));
    case LUA_TSTRING: return mx_table_set_string(t, c, r, lua_tostring(L, arg));
    case LUA_TBOOLEAN: return mx_table_set_int(t, c, r, lua_toboolean(L, arg));
    default:
        return luaL_error(L, "column '%s': a %s cannot be stored in a table cell",
                          t->cols[c].name, luaL_typename(L, arg));
    }
}

static int storable(lua_State *L, int idx) {
    int ty = lua_type(L, idx);
    return ty == LUA_TNIL || ty == LUA_TNUMBER || ty == LUA_TSTRING || ty == LUA_TBOOLEAN;
}

/* ---- methods ---------------------------------------------------------- */
static int t_nrows(lua_State *L) { return tbl_len(L); }

static int t_ncols(lua_State *L) {
    lua_pushinteger(L, mxl_check_table(L, 1)->ncols);
    return 1;
}

static int t_columns(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    lua_createtable(L, t->ncols, 0);
    for (int c = 0; c < t->ncols; c++) {
        lua_pushstring(L, t->cols[c].name);
        lua_seti(L, -2, c + 1);
    }
    return 1;
}

static int t_has_column(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    lua_pushboolean(L, mx_table_find_column(t, luaL_checkstring(L, 2)) >= 0);
    return 1;
}

static int t_column(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    int c = col_arg(L, t, 2);
    const mx_column *col = &t->cols[c];
    lua_createtable(L, (int)t->nrows, 0);
    lua_createtable(L, (int)t->nrows, 0);
    for (long r = 0; r < t->nrows; r++) {
        int isnull = mx_table_is_null(t, c, r);
        if (!isnull) {
            push_cell(L, t, c, r);
        } else if (col->type == MX_COL_INT) {
            lua_pushinteger(L, 0);
        } else if (col->type == MX_COL_DOUBLE) {
            lua_pushnumber(L, NAN);
        } else {
            lua_pushliteral(L, "");
        }
        lua_seti(L, -3, r + 1);
        lua_pushboolean(L, isnull);
        lua_seti(L, -2, r + 1);
    }
    return 2;
}

static int t_type(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    lua_pushstring(L, type_names[t->cols[col_arg(L, t, 2)].type]);
    return 1;
}

static int t_unit(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    const char *u = t->cols[col_arg(L, t, 2)].unit;
    if (u && *u)
        lua_pushstring(L, u);
    else
        lua_pushnil(L);
    return 1;
}

/* add_column(name, type[, values[, unit]]): values is an array (nil entries
 * are nulls) of at most nrows entries; a table without rows takes its row
 * count from the first column given values. */
static int t_add_column(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    const char *name = luaL_checkstring(L, 2);
    mx_coltype type = type_arg(L, 3);
    int has_values = !lua_isnoneornil(L, 4);
    const char *unit = luaL_optstring(L, 5, NULL);
    lua_Integer n = 0;
    if (has_values) {
        luaL_checktype(L, 4, LUA_TTABLE);
        n = luaL_len(L, 4);
        if (t->nrows > 0 && n > t->nrows)
            return luaL_error(L, "add_column '%s': %d values for a table of %d rows", name, (int)n,
                              (int)t->nrows);
        for (lua_Integer r = 1; r <= n; r++) {
            lua_geti(L, 4, r);
            if (!storable(L, -1))
                return luaL_error(L, "add_column '%s': entry %d is a %s", name, (int)r,
                                  luaL_typename(L, -1));
            lua_pop(L, 1);
        }
    }
    if (mx_table_find_column(t, name) >= 0)
        return luaL_error(L, "add_column: the table already has a column '%s'", name);
    int c = -1;
    mxl_check(L, mx_table_add_column(t, name, type, unit, &c));
    if (n > t->nrows) mxl_check(L, mx_table_set_nrows(t, (long)n));
    for (lua_Integer r = 1; r <= n; r++) {
        lua_geti(L, 4, r);
        int st = store_cell(L, t, c, (long)r - 1, lua_gettop(L));
        if (st != MX_OK) {
            mx_preferr(st, "add_column '%s' row %d", name, (int)r);
            mxl_check(L, st);
        }
        lua_pop(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

static int t_get(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    long r = row_arg(L, t, 2);
    int c = col_arg(L, t, 3);
    push_cell(L, t, c, r);
    return 1;
}

static int t_set(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    long r = row_arg(L, t, 2);
    int c = col_arg(L, t, 3);
    int st = store_cell(L, t, c, r, 4);
    if (st != MX_OK) mx_preferr(st, "column '%s' row %ld", t->cols[c].name, r + 1);
    mxl_check(L, st);
    return 0;
}

static void push_row(lua_State *L, const mx_table *t, long r) {
    lua_createtable(L, 0, t->ncols);
    for (int c = 0; c < t->ncols; c++) {
        push_cell(L, t, c, r);
        lua_setfield(L, -2, t->cols[c].name);
    }
}

static int t_row(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    push_row(L, t, row_arg(L, t, 2));
    return 1;
}

static int rows_iter(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    lua_Integer r = luaL_checkinteger(L, 2) + 1;
    if (r > t->nrows) return 0;
    lua_pushinteger(L, r);
    push_row(L, t, (long)r - 1);
    return 2;
}

static int t_rows(lua_State *L) {
    mxl_check_table(L, 1);
    lua_pushcfunction(L, rows_iter);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

/* append{...}: a row by column names (or by position, 1-based). Every value
 * is checked before the row is added, so a bad row leaves the table as it was. */
static int t_append(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Integer c = lua_tointeger(L, -2);
            if (c < 1 || c > t->ncols)
                return luaL_error(L, "append: column %d is outside 1..%d", (int)c, t->ncols);
        } else if (lua_type(L, -2) == LUA_TSTRING) {
            lua_pushvalue(L, -2);
            col_arg(L, t, lua_gettop(L));
            lua_pop(L, 1);
        } else {
            return luaL_error(L, "append: keys must be column names or indices");
        }
        if (!storable(L, -1))
            return luaL_error(L, "append: a %s cannot be stored in a table cell",
                              luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    long r = 0;
    mxl_check(L, mx_table_append_row(t, &r));
    int st = MX_OK;
    lua_pushnil(L);
    while (st == MX_OK && lua_next(L, 2)) {
        int c;
        if (lua_type(L, -2) == LUA_TNUMBER)
            c = (int)lua_tointeger(L, -2) - 1;
        else
            c = mx_table_find_column(t, lua_tostring(L, -2));
        st = store_cell(L, t, c, r, lua_gettop(L));
        if (st != MX_OK) mx_preferr(st, "append: column '%s'", t->cols[c].name);
        lua_pop(L, 1);
    }
    if (st != MX_OK) {
        lua_settop(L, 2);
        /* keep the message: shrinking must not overwrite it */
        lua_pushstring(L, mx_errmsg());
        mx_table_set_nrows(t, r);
        return lua_error(L);
    }
    lua_pushinteger(L, r + 1);
    return 1;
}

static int t_keyword(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    const char *key = luaL_checkstring(L, 2);
    for (int k = 0; k < t->nkeys; k++) {
        if (strcasecmp(t->keys[k].key, key) == 0) {
            lua_pushstring(L, t->keys[k].value);
            char ty[2] = {t->keys[k].type ? t->keys[k].type : 'c', 0};
            lua_pushstring(L, ty);
            return 2;
        }
    }
    lua_pushnil(L);
    return 1;
}

static int t_keywords(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    lua_createtable(L, t->nkeys, 0);
    for (int k = 0; k < t->nkeys; k++) {
        lua_pushstring(L, t->keys[k].key);
        lua_seti(L, -2, k + 1);
    }
    return 1;
}

static int t_set_keyword(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    const char *key = luaL_checkstring(L, 2);
    if (!*key || strpbrk(key, " =\t\n"))
        return luaL_argerror(L, 2, "keyword must be a non-empty word");
    int st;
    if (!lua_isnoneornil(L, 4)) {
        static const char *const tys[] = {"c", "i", "r", "char", "int", "real", NULL};
        static const char tyc[] = {'c', 'i', 'r', 'c', 'i', 'r'};
        char ty = tyc[luaL_checkoption(L, 4, NULL, tys)];
        luaL_checkany(L, 3);
        if (!lua_isstring(L, 3))
            return luaL_argerror(L, 3, "number or string expected");
        st = mx_table_set_keyword(t, key, lua_tostring(L, 3), ty);
    } else if (lua_isinteger(L, 3)) {
        st = mx_table_set_keyword_long(t, key, (long)lua_tointeger(L, 3));
    } else if (lua_type(L, 3) == LUA_TNUMBER) {
        st = mx_table_set_keyword_double(t, key, (double)lua_tonumber(L, 3));
    } else {
        st = mx_table_set_keyword(t, key, luaL_checkstring(L, 3), 'c');
    }
    mxl_check(L, st);
    lua_settop(L, 1);
    return 1;
}

static int t_comments(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    lua_createtable(L, t->ncomments, 0);
    for (int k = 0; k < t->ncomments; k++) {
        lua_pushstring(L, t->comments[k]);
        lua_seti(L, -2, k + 1);
    }
    return 1;
}

static int t_add_comment(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    mxl_check(L, mx_table_add_comment(t, luaL_checkstring(L, 2)));
    lua_settop(L, 1);
    return 1;
}

static int t_set_format(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    int c = col_arg(L, t, 2);
    const char *fmt = luaL_optstring(L, 3, NULL);
    if (fmt) {
        /* one double conversion and nothing else: the writer passes it to printf */
        const char *p = strchr(fmt, '%');
        int ok = p && !strchr(p + 1, '%');
        if (ok) {
            p++;
            while (*p && strchr("-+ #0", *p)) p++;
            while (*p >= '0' && *p <= '9') p++;
            if (*p == '.') p++;
            while (*p >= '0' && *p <= '9') p++;
            ok = *p && strchr("fFeEgG", *p) && p[1] == '\0';
        }
        if (!ok)
            return luaL_argerror(L, 3, "format must be one printf conversion for a double "
                                       "(\"%.6f\", \"%12.4e\", ...)");
        if (t->cols[c].type != MX_COL_DOUBLE)
            return luaL_argerror(L, 2, "formats apply to double columns only");
    }
    char *copy = fmt ? strdup(fmt) : NULL;
    if (fmt && !copy) return luaL_error(L, "out of memory");
    free(t->cols[c].format);
    t->cols[c].format = copy;
    lua_settop(L, 1);
    return 1;
}

static int t_write(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    mxl_check(L, mx_table_write_ipac(t, luaL_checkstring(L, 2)));
    lua_settop(L, 1);
    return 1;
}

static int t_text(lua_State *L) {
    mx_table *t = mxl_check_table(L, 1);
    char *text = NULL;
    size_t len = 0;
    mxl_check(L, mx_table_format_ipac(t, &text, &len));
    lua_pushlstring(L, text, len);
    free(text);
    return 1;
}

/* ---- constructors ----------------------------------------------------- */
static int c_read_table(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    mx_table **slot = new_table_slot(L);
    mxl_check(L, mx_table_read_ipac(path, slot));
    return 1;
}

static int c_parse_table(lua_State *L) {
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *source = luaL_optstring(L, 2, "table text");
    mx_table **slot = new_table_slot(L);
    mxl_check(L, mx_table_parse_ipac(text, len, source, slot));
    return 1;
}

static int c_table(lua_State *L) {
    mx_table **slot = new_table_slot(L);
    *slot = mx_table_new();
    if (!*slot) return luaL_error(L, "out of memory (new table)");
    return 1;
}

static const luaL_Reg table_methods[] = {
    {"nrows", t_nrows},
    {"ncols", t_ncols},
    {"columns", t_columns},
    {"has_column", t_has_column},
    {"column", t_column},
    {"type", t_type},
    {"unit", t_unit},
    {"add_column", t_add_column},
    {"get", t_get},
    {"set", t_set},
    {"row", t_row},
    {"rows", t_rows},
    {"append", t_append},
    {"keyword", t_keyword},
    {"keywords", t_keywords},
    {"set_keyword", t_set_keyword},
    {"comments", t_comments},
    {"add_comment", t_add_comment},
    {"set_format", t_set_format},
    {"write", t_write},
    {"text", t_text},
    {"close", table_gc},
    {NULL, NULL}};

static const luaL_Reg table_meta[] = {{"__gc", table_gc},
                                      {"__close", table_gc},
                                      {"__tostring", tbl_tostring},
                                      {"__len", tbl_len},
                                      {NULL, NULL}};

static const luaL_Reg table_funcs[] = {
    {"read_table", c_read_table}, {"parse_table", c_parse_table}, {"table", c_table}, {NULL, NULL}};

int mxl_open_table(lua_State *L);
int mxl_open_table(lua_State *L) {
    int core = lua_gettop(L);
    luaL_setfuncs(L, table_funcs, 0);
    mxl_register_type(L, core, MXL_TABLE, "Table", table_meta, table_methods);
    return 0;
}
