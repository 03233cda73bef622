/* mopexlua.c - placeholder host: runs one script. Replaced by the full host. */
#include <stdio.h>
#include "mxl.h"
int luaopen_mopex(lua_State *L);
int main(int argc, char **argv) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "mopex", luaopen_mopex, 0);
    lua_pop(L, 1);
    int st = argc > 1 ? luaL_dofile(L, argv[1]) : LUA_OK;
    if (st != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_close(L);
    return st == LUA_OK ? 0 : 1;
}
