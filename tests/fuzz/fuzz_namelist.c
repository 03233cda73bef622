/* fuzz_namelist.c - libFuzzer harness for the classic namelist parser
 * (namelist-compat/namelist.lua).
 *
 * One Lua state loads namelist.lua once; every input is handed to
 * N.parse(input, {file = "fuzz", quiet = true, strict = <odd size>}) under
 * lua_pcall. A parse that succeeds is fine; a Lua error is fine only when it is
 * the parser's own diagnosis, i.e. every line reads "fuzz:<line>: E1xx ..."; any
 * other error (an internal "attempt to index a nil value", a non-string error)
 * aborts, as do crashes, hangs (-timeout) and memory errors (ASan).
 *
 * The system liblua is not instrumented, so coverage comes from a Lua line hook:
 * each (previous line, current line) pair of the parser bumps a libFuzzer extra
 * counter, which gives the fuzzer edge-like feedback inside namelist.lua.
 *
 * Build: tests/fuzz/CMakeLists.txt (-DMOPEX_FUZZ=ON, clang) or
 * tests/sh/test_fuzz_namelist.sh; NAMELIST_DIR names the namelist-compat directory.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifndef NAMELIST_DIR
#error "define NAMELIST_DIR as the path of the namelist-compat directory"
#endif

#define NCOUNTERS 8192

__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t lua_counters[NCOUNTERS];

static lua_State *L;
static int parse_ref = LUA_NOREF;
static unsigned prev_line;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* liblua is not instrumented, so ASan checks only this harness and the allocator
 * interceptors; recording a stack trace for each of Lua's many small allocations
 * (and a large quarantine) made a run ten times slower for no added checking. */
const char *__asan_default_options(void) {
    return "malloc_context_size=0:quarantine_size_mb=16";
}

static void line_hook(lua_State *Ls, lua_Debug *ar) {
    (void)Ls;
    unsigned cur = (unsigned)ar->currentline;
    lua_counters[((prev_line * 2654435761u) ^ cur) % NCOUNTERS]++;
    prev_line = cur;
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "fuzz_namelist: %s: %s\n", what, msg ? msg : "(no message)");
    abort();
}

static void setup(void) {
    L = luaL_newstate();
    if (!L) die("setup", "cannot create a Lua state");
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, NAMELIST_DIR "/?.lua");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_loadfile(L, NAMELIST_DIR "/namelist.lua") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
        die("loading namelist.lua", lua_tostring(L, -1));
    if (lua_getfield(L, -1, "parse") != LUA_TFUNCTION) die("setup", "namelist.lua has no parse()");
    parse_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
}

/* Every line of msg must be "fuzz:<digits>: E1<digit><digit> ...". */
static int clean_error(const char *msg) {
    const char *p = msg;
    for (;;) {
        if (strncmp(p, "fuzz:", 5) != 0) return 0;
        p += 5;
        if (*p < '0' || *p > '9') return 0;
        while (*p >= '0' && *p <= '9') p++;
        if (strncmp(p, ": E1", 4) != 0) return 0;
        p += 4;
        if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != ' ') return 0;
        const char *nl = strchr(p, '\n');
        if (!nl) return 1;
        p = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!L) setup();
    prev_line = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, parse_ref);
    lua_pushlstring(L, (const char *)data, size);
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "fuzz");
    lua_setfield(L, -2, "file");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "quiet");
    lua_pushboolean(L, (int)(size & 1));
    lua_setfield(L, -2, "strict");
    int st = lua_pcall(L, 2, 1, 0);
    if (st == LUA_ERRRUN) {
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!msg || !clean_error(msg)) die("unclean error", msg);
    } else if (st != LUA_OK) {
        die("lua_pcall failed", lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return 0;
}
