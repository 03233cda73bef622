/* mopexlua.c - the mopexlua host: scripts, -e one-liners, the REPL and the
 * classic entry points (overlap.pl, mosaic.pl, ...).
 *
 * Modelled on Lua 5.4's own lua.c: every chunk runs under a message handler
 * that appends a traceback; a SIGINT handler sets a hook that stops pure Lua
 * code, and also raises the engine's interrupt flag so that C kernels stop
 * between rows/tiles and return "interrupted by user"; a second Ctrl-C
 * kills the process. The whole program body runs in protected mode (pmain).
 *
 *   mopexlua [options] [script [args]]
 *     -e stat   execute string 'stat'         -l mod    require mod into global mod
 *     -i        REPL after the script         -v, --version   print versions
 *     -h, --help                              --        stop handling options
 *     -         run standard input as a script
 *   mopexlua --translate x.nl [...]   require("classic").translate(args)
 *   mopexlua --templates [...]        require("classic").templates(args)
 *   <name>.pl args (argv[0])          require("classic").main("<name>.pl", args)
 *
 * A script name that is not a file in the working directory is looked up in
 * MOPEXLUA_PATH (':'-separated), then in <root>/scripts for the data roots
 * <exe_dir>/../share/mopexlua, MOPEX_INSTALL_DATADIR, MOPEX_SOURCE_DIR (a
 * build-tree executable prefers its source tree). package.path gains
 * <root>/scripts/lib/?.lua and <root>/namelist-compat/?.lua (and ?/init.lua)
 * for the first root that exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <fitsio.h>
#include <gsl/gsl_version.h>
#include <wcs.h>

#include "mxl.h"

#ifdef MOPEX_HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#ifndef MOPEX_VERSION
#define MOPEX_VERSION "unknown"
#endif
#ifndef MOPEX_INSTALL_DATADIR
#define MOPEX_INSTALL_DATADIR "/usr/local/share/mopexlua"
#endif
#ifndef MOPEX_SOURCE_DIR
#define MOPEX_SOURCE_DIR ""
#endif

int luaopen_mopex(lua_State *L);

#define PROMPT1 "> "
#define PROMPT2 ">> "
#define HISTORY_LINES 1000

static lua_State *globalL = NULL;
static const char *progname = "mopexlua";

static const char *const classic_names[] = {
    "overlap.pl", "mosaic.pl", "apex.pl", "apex_1frame.pl", "apex_user_list.pl",
    "apex_user_list_1frame.pl", "apex_qa.pl", "prf_estimate.pl", NULL};

/* ---- files and places ------------------------------------------------- */
static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char exe_dir[PATH_MAX];

static void find_exe_dir(const char *argv0) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
    } else if (!realpath(argv0, buf)) {
        exe_dir[0] = '\0';
        return;
    }
    char *slash = strrchr(buf, '/');
    if (slash) *slash = '\0';
    snprintf(exe_dir, sizeof exe_dir, "%s", buf);
}

/* Data roots in search order, computed once; returns their count (roots
 * that do not exist are skipped). A build-tree executable (CMakeCache.txt
 * beside it) puts its source tree first, so that a stale installation does
 * not shadow it. */
#define MAX_ROOTS 3
static char roots[MAX_ROOTS][PATH_MAX];
static int nroots = -1;

static int data_roots(void) {
    if (nroots >= 0) return nroots;
    char cand[MAX_ROOTS][PATH_MAX];
    int nc = 0;
    char cache[PATH_MAX + 32];
    snprintf(cache, sizeof cache, "%s/CMakeCache.txt", exe_dir);
    int build_tree = exe_dir[0] && is_file(cache);
    if (build_tree && MOPEX_SOURCE_DIR[0]) snprintf(cand[nc++], PATH_MAX, "%s", MOPEX_SOURCE_DIR);
    if (exe_dir[0]) snprintf(cand[nc++], PATH_MAX, "%s/../share/mopexlua", exe_dir);
    if (nc < MAX_ROOTS) snprintf(cand[nc++], PATH_MAX, "%s", MOPEX_INSTALL_DATADIR);
    if (!build_tree && nc < MAX_ROOTS && MOPEX_SOURCE_DIR[0])
        snprintf(cand[nc++], PATH_MAX, "%s", MOPEX_SOURCE_DIR);
    nroots = 0;
    for (int i = 0; i < nc; i++) {
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof probe, "%s/scripts", cand[i]);
        int ok = is_dir(probe);
        snprintf(probe, sizeof probe, "%s/namelist-compat", cand[i]);
        ok = ok || is_dir(probe);
        if (!ok) continue;
        char *r = realpath(cand[i], NULL);
        snprintf(roots[nroots++], PATH_MAX, "%s", r ? r : cand[i]);
        free(r);
    }
    return nroots;
}

/* Try dir/name and dir/name.lua. */
static int try_dir(const char *dir, const char *name, char *out, size_t outsize) {
    snprintf(out, outsize, "%s/%s", dir, name);
    if (is_file(out)) return 1;
    size_t len = strlen(name);
    if (len < 4 || strcmp(name + len - 4, ".lua") != 0) {
        snprintf(out, outsize, "%s/%s.lua", dir, name);
        if (is_file(out)) return 1;
    }
    return 0;
}

/* Resolve a script name; returns 0 and fills `searched` when not found. */
static int find_script(const char *name, char *out, size_t outsize, char *searched,
                       size_t ssize) {
    if (is_file(name) || strchr(name, '/')) {
        snprintf(out, outsize, "%s", name);
        return 1;
    }
    size_t used = (size_t)snprintf(searched, ssize, "the working directory");
    const char *env = getenv("MOPEXLUA_PATH");
    if (env && *env) {
        char *copy = strdup(env);
        if (copy) {
            char *save = NULL;
            for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                if (try_dir(d, name, out, outsize)) {
                    free(copy);
                    return 1;
                }
                if (used < ssize) used += (size_t)snprintf(searched + used, ssize - used, ", %s", d);
            }
            free(copy);
        }
    }
    int nr = data_roots();
    for (int i = 0; i < nr; i++) {
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/scripts", roots[i]);
        if (try_dir(dir, name, out, outsize)) return 1;
        if (used < ssize) used += (size_t)snprintf(searched + used, ssize - used, ", %s", dir);
    }
    return 0;
}

/* ---- messages, signals, calls (after lua.c) --------------------------- */
static void l_message(const char *pname, const char *msg) {
    if (pname) fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

static int report(lua_State *L, int status) {
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        l_message(progname, msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return status;
}

static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* The hook set by the signal handler: stops Lua code at the next call,
 * return, line or instruction. When the error is already on its way (a
 * kernel returned "interrupted by user" and the message handler is being
 * called), it only removes itself. */
static void lstop(lua_State *L, lua_Debug *ar) {
    lua_sethook(L, NULL, 0, 0);
    if (ar->event == LUA_HOOKCALL && lua_getinfo(L, "f", ar)) {
        int in_handler = lua_tocfunction(L, -1) == msghandler;
        lua_pop(L, 1);
        if (in_handler) return;
    }
    luaL_error(L, "interrupted by user");
}

static void setsignal(int sig, void (*handler)(int)) {
    struct sigaction sa;
    sa.sa_handler = handler;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void laction(int sig) {
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    setsignal(sig, SIG_DFL); /* a second Ctrl-C terminates the process */
    mx_request_interrupt();  /* C kernels check this between rows/tiles */
    lua_sethook(globalL, lstop, flag, 1);
}

static int docall(lua_State *L, int narg, int nres) {
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    globalL = L;
    mx_clear_interrupt();
    setsignal(SIGINT, laction);
    int status = lua_pcall(L, narg, nres, base);
    setsignal(SIGINT, SIG_DFL);
    lua_sethook(L, NULL, 0, 0); /* a Ctrl-C that arrived at the very end */
    mx_clear_interrupt();
    lua_remove(L, base);
    return status;
}

static int dochunk(lua_State *L, int status) {
    if (status == LUA_OK) status = docall(L, 0, 0);
    return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l g=mod or -l mod: g = require(mod) */
static int dolibrary(lua_State *L, char *globname) {
    char *modname = strchr(globname, '=');
    if (modname == NULL) {
        modname = globname;
    } else {
        *modname = '\0';
        modname++;
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, modname);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) lua_setglobal(L, globname);
    return report(L, status);
}

/* ---- version and usage ------------------------------------------------ */
static void print_version(void) {
    float fv = 0;
    ffvers(&fv);
    int wv[3] = {0, 0, 0};
    wcslib_version(wv);
    printf("mopexlua %s (libmopex %s; %s; cfitsio %.2f; wcslib %d.%d; GSL %s)\n", MOPEX_VERSION,
           mx_version(), LUA_RELEASE, (double)fv, wv[0], wv[1], gsl_version);
    fflush(stdout);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_pipelines(FILE *out) {
    if (data_roots() == 0) {
        fprintf(out, "No pipeline directory found (set MOPEXLUA_PATH).\n");
        return;
    }
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/scripts", roots[0]); /* the root in use */
    DIR *d = opendir(dir);
    char *names[256];
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < 256) {
            size_t len = strlen(e->d_name);
            if (len > 4 && strcmp(e->d_name + len - 4, ".lua") == 0) {
                char *copy = strdup(e->d_name);
                if (copy) names[n++] = copy;
            }
        }
        closedir(d);
    }
    qsort(names, (size_t)n, sizeof names[0], cmp_names);
    fprintf(out, "Installed pipelines (%s):\n ", dir);
    for (int a = 0; a < n; a++) {
        fprintf(out, " %s", names[a]);
        free(names[a]);
    }
    fprintf(out, "%s\n", n ? "" : " (none yet)");
}

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: %s [options] [script [args]]\n"
            "Run a mopexlua pipeline or your own Lua script, or start the REPL.\n"
            "Options:\n"
            "  -e stat        execute string 'stat'\n"
            "  -l mod         require library 'mod' into global 'mod' (-l g=mod: into 'g')\n"
            "  -i             enter the REPL after running 'script'\n"
            "  -v, --version  show version information\n"
            "  -h, --help     show this help\n"
            "  -W             turn Lua warnings on\n"
            "  --             stop handling options\n"
            "  -              stop handling options and run standard input\n"
            "  --translate x.nl   print a classic namelist as an equivalent Lua script\n"
            "  --templates        list or write the classic namelist templates\n"
            "A script that is not a file here is looked up in MOPEXLUA_PATH, then among the\n"
            "installed pipelines ('mopexlua mosaic.lua -n mosaic.nl' or just 'mosaic').\n"
            "Classic commands (overlap.pl, mosaic.pl, apex.pl, apex_1frame.pl,\n"
            "apex_user_list.pl, apex_user_list_1frame.pl, apex_qa.pl, prf_estimate.pl) are\n"
            "links to mopexlua and take the classic flags.\n"
            "In the REPL (and in scripts) the global 'mopex' is the API and help() describes\n"
            "it: help() lists functions and modules, help(mopex.<module>) shows a module's\n"
            "options, help(img) an object's methods.\n"
            "Environment: MOPEX_THREADS (worker threads), MOPEXLUA_PATH (script dirs),\n"
            "MOPEXLUA_HISTORY (REPL history file, default ~/.mopexlua_history).\n",
            progname);
    list_pipelines(out);
}

/* ---- state set-up ----------------------------------------------------- */
static void setup_paths(lua_State *L) {
    if (data_roots() == 0) return;
    const char *r = roots[0];
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/scripts/lib/?.lua;%s/namelist-compat/?.lua;%s/namelist-compat/?/init.lua;%s",
                    r, r, r, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* help: a callable global (help(x) = mopex.help(x)) that describes itself
 * when printed, so that typing `help` in the REPL is useful too. */
static const char help_chunk[] =
    "local mopex = ...\n"
    "return setmetatable({}, {\n"
    "  __call = function(_, ...) mopex.help(...) end,\n"
    "  __tostring = function() return 'help(): the mopex API and its modules; '\n"
    "    .. 'help(mopex.<module>) or help(\"<name>\"): one module or function; '\n"
    "    .. 'help(obj): the methods of an Image, Table or Wcs' end,\n"
    "})\n";

/* The REPL's printer: values as Lua 5.4 prints them, except that plain
 * tables are shown (two levels deep, 40 entries) instead of their address. */
static const char repr_chunk[] =
    "local function key_repr(k)\n"
    "  if type(k) == 'string' and k:match('^[%a_][%w_]*$') then return k end\n"
    "  return '[' .. (type(k) == 'string' and string.format('%q', k) or tostring(k)) .. ']'\n"
    "end\n"
    "local function repr(v, depth, seen)\n"
    "  if type(v) == 'string' then return string.format('%q', v) end\n"
    "  if type(v) ~= 'table' then return tostring(v) end\n"
    "  local mt = getmetatable(v)\n"
    "  if mt and mt.__tostring then return tostring(v) end\n"
    "  if seen[v] or depth > 2 then return tostring(v) end\n"
    "  seen[v] = true\n"
    "  local parts, len = {}, #v\n"
    "  for i = 1, len do\n"
    "    if #parts >= 40 then parts[#parts + 1] = '... (' .. (len - i + 1) .. ' more)'; break end\n"
    "    parts[#parts + 1] = repr(v[i], depth + 1, seen)\n"
    "  end\n"
    "  local keys = {}\n"
    "  for k in pairs(v) do\n"
    "    if not (math.type(k) == 'integer' and k >= 1 and k <= len) then keys[#keys + 1] = k end\n"
    "  end\n"
    "  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)\n"
    "  for i, k in ipairs(keys) do\n"
    "    if #parts >= 40 then parts[#parts + 1] = '... (' .. (#keys - i + 1) .. ' more)'; break end\n"
    "    parts[#parts + 1] = key_repr(k) .. ' = ' .. repr(v[k], depth + 1, seen)\n"
    "  end\n"
    "  seen[v] = nil\n"
    "  return '{' .. table.concat(parts, ', ') .. '}'\n"
    "end\n"
    "return function(...)\n"
    "  local out = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    out[i] = type(v) == 'string' and v or repr(v, 1, {})\n"
    "  end\n"
    "  io.write(table.concat(out, '\\t'), '\\n')\n"
    "end\n";

/* Load mopex into the global `mopex`, define `help`, extend package.path. */
static int open_mopex(lua_State *L) {
    setup_paths(L);
    luaL_requiref(L, "mopex", luaopen_mopex, 1);
    if (data_roots() > 0) {
        lua_pushstring(L, roots[0]);
        lua_setfield(L, -2, "root");
    }
    if (luaL_loadbuffer(L, help_chunk, sizeof help_chunk - 1, "=help") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);
    lua_setglobal(L, "help");
    lua_pop(L, 1);
    return 0;
}

static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
    lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int push_args(lua_State *L) {
    if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    int i;
    for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

/* ---- the REPL --------------------------------------------------------- */
static int interactive = 0;     /* stdin is a terminal: prompts, readline */
static char history_path[PATH_MAX];

static void history_init(void) {
#ifdef MOPEX_HAVE_READLINE
    rl_readline_name = "mopexlua";
    const char *env = getenv("MOPEXLUA_HISTORY");
    if (env) {
        snprintf(history_path, sizeof history_path, "%s", env); /* "" disables it */
    } else {
        const char *home = getenv("HOME");
        if (home && *home) snprintf(history_path, sizeof history_path, "%s/.mopexlua_history", home);
    }
    if (!history_path[0]) return;
    int fd = open(history_path, O_WRONLY | O_CREAT | O_APPEND, 0600); /* append_history needs it */
    if (fd >= 0) close(fd);
    history_truncate_file(history_path, HISTORY_LINES);
    read_history(history_path);
#endif
}

static void history_save(const char *line) {
#ifdef MOPEX_HAVE_READLINE
    if (!interactive || !line[0]) return;
    add_history(line);
    if (history_path[0]) append_history(1, history_path); /* survives a second Ctrl-C */
#else
    (void)line;
#endif
}

#ifdef MOPEX_HAVE_READLINE
/* Completion of global names and fields: "mopex.re<TAB>", "img:ro<TAB>". */
static char **completion_list = NULL;
static int completion_n = 0, completion_next = 0;

static void completion_clear(void) {
    for (int i = 0; i < completion_n; i++) free(completion_list[i]);
    free(completion_list);
    completion_list = NULL;
    completion_n = completion_next = 0;
}

static void completion_add(const char *s) {
    char **p = realloc(completion_list, sizeof *p * (size_t)(completion_n + 1));
    if (!p) return;
    completion_list = p;
    char *copy = strdup(s);
    if (copy) completion_list[completion_n++] = copy;
}

/* Add the string keys of the table at the top (and of its __index tables)
 * that start with `partial`, prefixed by `prefix`. */
static void collect_keys(lua_State *L, const char *prefix, const char *partial, int depth) {
    size_t plen = strlen(partial);
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *k = lua_tostring(L, -2);
                if (strncmp(k, partial, plen) == 0 && (k[0] != '_' || partial[0] == '_')) {
                    char buf[512];
                    snprintf(buf, sizeof buf, "%s%s%s", prefix, k,
                             lua_type(L, -1) == LUA_TFUNCTION ? "(" : "");
                    completion_add(buf);
                }
            }
            lua_pop(L, 1);
        }
    }
    if (depth < 3 && lua_getmetatable(L, -1)) {
        if (lua_getfield(L, -1, "__index") == LUA_TTABLE)
            collect_keys(L, prefix, partial, depth + 1);
        lua_pop(L, 2);
    }
}

static char *completion_generator(const char *text, int state) {
    (void)text;
    if (state == 0) completion_next = 0;
    if (completion_next < completion_n) return strdup(completion_list[completion_next++]);
    return NULL;
}

static char **mopexlua_completion(const char *text, int start, int end) {
    (void)start;
    (void)end;
    lua_State *L = globalL;
    rl_attempted_completion_over = 1; /* no file-name completion */
    rl_completion_append_character = '\0';
    if (!L) return NULL;
    completion_clear();
    int top = lua_gettop(L);
    /* walk a.b.c (or a.b:c) with raw gets: completion must never run code */
    char expr[512];
    snprintf(expr, sizeof expr, "%s", text);
    char *last = strrchr(expr, '.');
    char *colon = strrchr(expr, ':');
    if (colon && (!last || colon > last)) last = colon;
    lua_pushglobaltable(L);
    const char *partial = expr;
    char prefix[512] = "";
    if (last) {
        char sep = *last;
        *last = '\0';
        partial = last + 1;
        snprintf(prefix, sizeof prefix, "%s%c", expr, sep);
        char *save = NULL;
        for (char *name = strtok_r(expr, ".:", &save); name; name = strtok_r(NULL, ".:", &save)) {
            int t = lua_type(L, -1);
            if (t == LUA_TTABLE) {
                lua_pushstring(L, name);
                lua_rawget(L, -2);
            } else if (lua_getmetatable(L, -1)) { /* userdata: its method table */
                lua_getfield(L, -1, "__index");
                if (lua_type(L, -1) == LUA_TTABLE) {
                    lua_pushstring(L, name);
                    lua_rawget(L, -2);
                } else {
                    lua_pushnil(L);
                }
            } else {
                lua_pushnil(L);
            }
            if (lua_isnil(L, -1)) break;
        }
    }
    if (!lua_isnil(L, -1)) collect_keys(L, prefix, partial, 0);
    lua_settop(L, top);
    if (completion_n == 0) return NULL;
    return rl_completion_matches(text, completion_generator);
}
#endif

/* Read a line (without its newline) into a malloc'ed buffer; NULL at EOF. */
static char *read_line(const char *prompt) {
#ifdef MOPEX_HAVE_READLINE
    if (interactive) return readline(prompt);
#endif
    if (interactive) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getline(&buf, &cap, stdin);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = '\0';
    return buf;
}

static int pushline(lua_State *L, int firstline) {
    const char *prompt = firstline ? PROMPT1 : PROMPT2;
    int custom = lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") != LUA_TNIL;
    if (custom) prompt = luaL_tolstring(L, -1, NULL);
    char *b = read_line(prompt);
    lua_pop(L, custom ? 2 : 1); /* the prompt (and its string) */
    if (b == NULL) return 0;
    if (firstline && b[0] == '=')
        lua_pushfstring(L, "return %s", b + 1);
    else
        lua_pushstring(L, b);
    free(b);
    return 1;
}

static int incomplete(lua_State *L, int status) {
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        static const char mark[] = "<eof>";
        size_t ml = sizeof mark - 1;
        if (lmsg >= ml && strcmp(msg + lmsg - ml, mark) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* Compile "return <line>" so that expressions print their value. */
static int addreturn(lua_State *L) {
    const char *line = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    if (status == LUA_OK) {
        lua_remove(L, -2);
        history_save(line);
    } else {
        lua_pop(L, 2);
    }
    return status;
}

static int multiline(lua_State *L) {
    for (;;) {
        size_t len;
        const char *line = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, line, len, "=stdin");
        if (!incomplete(L, status) || !pushline(L, 0)) {
            history_save(line);
            return status;
        }
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* -1 at end of input; otherwise the status of compiling one statement,
 * with the chunk (or the error) on the stack. */
static int loadline(lua_State *L) {
    lua_settop(L, 0);
    if (!pushline(L, 1)) return -1;
    int status = addreturn(L);
    if (status != LUA_OK) status = multiline(L);
    lua_remove(L, 1);
    return status;
}

static void print_results(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) return;
    lua_getfield(L, LUA_REGISTRYINDEX, "mopexlua.repr");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        l_message(progname, lua_pushfstring(L, "error calling the printer (%s)",
                                             lua_tostring(L, -1)));
}

/* Returns the number of statements that failed. */
static int do_repl(lua_State *L) {
    const char *oldprogname = progname;
    progname = NULL; /* like lua.c: no program name in front of REPL errors */
    int failures = 0;
    if (luaL_loadbuffer(L, repr_chunk, sizeof repr_chunk - 1, "=repr") == LUA_OK) {
        lua_call(L, 0, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "mopexlua.repr");
    } else {
        lua_pop(L, 1);
    }
#ifdef MOPEX_HAVE_READLINE
    if (interactive) {
        history_init();
        globalL = L;
        rl_attempted_completion_function = mopexlua_completion;
        rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
    }
#endif
    int status;
    while ((status = loadline(L)) != -1) {
        if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            print_results(L);
        else {
            report(L, status);
            failures++;
        }
    }
    lua_settop(L, 0);
    if (interactive) {
        fputs("\n", stdout);
        fflush(stdout);
    }
#ifdef MOPEX_HAVE_READLINE
    completion_clear();
#endif
    progname = oldprogname;
    return failures;
}

/* ---- classic entry points --------------------------------------------- */
/* Call require("classic")[fn](first, args...) where args is the array of
 * argv[from..]; the function's result decides the exit status (a number is
 * the status, false is 1, anything else 0). */
static int run_classic(lua_State *L, const char *fn, const char *first, char **argv, int argc,
                       int from) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "classic");
    int status = docall(L, 1, 1);
    if (status != LUA_OK) {
        report(L, status);
        return 1;
    }
    if (lua_getfield(L, -1, fn) != LUA_TFUNCTION) {
        l_message(progname, lua_pushfstring(L, "module 'classic' has no function '%s'", fn));
        return 1;
    }
    lua_remove(L, -2);
    int nargs = 1;
    if (first)
        lua_pushstring(L, first);
    else
        nargs = 0;
    lua_createtable(L, argc - from > 0 ? argc - from : 0, 0);
    for (int i = from; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - from + 1);
    }
    nargs++;
    status = docall(L, nargs, 1);
    if (status != LUA_OK) {
        report(L, status);
        return 1;
    }
    int code = 0;
    if (lua_isinteger(L, -1))
        code = (int)lua_tointeger(L, -1);
    else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
        code = 1;
    lua_pop(L, 1);
    return code;
}

static const char *classic_name(const char *argv0) {
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    for (int i = 0; classic_names[i]; i++)
        if (strcmp(base, classic_names[i]) == 0) return classic_names[i];
    return NULL;
}

/* ---- argument handling (after lua.c) ----------------------------------- */
#define has_error 1
#define has_i 2
#define has_v 4
#define has_e 8
#define has_h 16

/* Returns the option mask; *first is the index of the script (0: none),
 * or of the bad option on error. */
static int collect_args(char **argv, int *first) {
    int args = 0;
    for (int i = 1; argv[i] != NULL; i++) {
        *first = i;
        if (argv[i][0] != '-') return args;
        if (strcmp(argv[i], "--version") == 0) {
            args |= has_v;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0) {
            args |= has_h;
            continue;
        }
        switch (argv[i][1]) {
        case '-':
            if (argv[i][2] != '\0') return has_error;
            *first = argv[i + 1] ? i + 1 : 0;
            return args;
        case '\0': return args; /* "-": standard input */
        case 'W':
            if (argv[i][2] != '\0') return has_error;
            break;
        case 'h':
            if (argv[i][2] != '\0') return has_error;
            args |= has_h;
            break;
        case 'i':
            args |= has_i; /* fall through: -i implies -v as in lua */
            /* FALLTHROUGH */
        case 'v':
            if (argv[i][2] != '\0') return has_error;
            args |= has_v;
            break;
        case 'e':
            args |= has_e; /* FALLTHROUGH */
        case 'l':
            if (argv[i][2] == '\0') {
                i++;
                if (argv[i] == NULL || argv[i][0] == '-') return has_error;
            }
            break;
        default: return has_error;
        }
    }
    *first = 0;
    return args;
}

static int run_args(lua_State *L, char **argv, int n) {
    for (int i = 1; i < n; i++) {
        if (argv[i][0] != '-' || argv[i][1] == '-') continue; /* long options handled */
        int option = argv[i][1];
        if (option == 'e' || option == 'l') {
            char *extra = argv[i] + 2;
            if (*extra == '\0') extra = argv[++i];
            int status = option == 'e' ? dostring(L, extra, "=(command line)")
                                       : dolibrary(L, extra);
            if (status != LUA_OK) return 0;
        } else if (option == 'W') {
            lua_warning(L, "@on", 0);
        }
    }
    return 1;
}

static int handle_script(lua_State *L, char **argv, int script) {
    const char *name = argv[script];
    int status;
    if (strcmp(name, "-") == 0 && strcmp(argv[script - 1], "--") != 0) {
        status = luaL_loadfile(L, NULL);
    } else {
        char path[PATH_MAX], searched[4096];
        if (!find_script(name, path, sizeof path, searched, sizeof searched)) {
            lua_pushfstring(L, "cannot find script '%s' (looked in %s)", name, searched);
            return report(L, LUA_ERRFILE);
        }
        lua_getglobal(L, "arg");
        lua_pushstring(L, path); /* arg[0]: the file actually run */
        lua_rawseti(L, -2, 0);
        lua_pop(L, 1);
        status = luaL_loadfile(L, path);
    }
    if (status == LUA_OK) {
        int n = push_args(L);
        status = docall(L, n, LUA_MULTRET);
        if (status == LUA_OK) lua_settop(L, 0); /* results are not printed, as in lua */
    }
    return report(L, status);
}

/* Everything runs here, in protected mode; the result is the exit status. */
static int pmain(lua_State *L) {
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    lua_settop(L, 0);
    luaL_checkversion(L);
    luaL_openlibs(L);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);

    const char *classic = classic_name(argv[0]);
    if (classic || (argc > 1 && (strcmp(argv[1], "--translate") == 0 ||
                                 strcmp(argv[1], "--templates") == 0)))
        open_mopex(L);
    if (classic) {
        create_arg_table(L, argv, argc, 0);
        lua_pushinteger(L, run_classic(L, "main", classic, argv, argc, 1));
        return 1;
    }
    if (argc > 1 && (strcmp(argv[1], "--translate") == 0 || strcmp(argv[1], "--templates") == 0)) {
        create_arg_table(L, argv, argc, 1);
        const char *fn = argv[1][2] == 't' && argv[1][3] == 'r' ? "translate" : "templates";
        lua_pushinteger(L, run_classic(L, fn, NULL, argv, argc, 2));
        return 1;
    }

    int script = 0;
    int args = collect_args(argv, &script);
    if (args == has_error) {
        const char *bad = argv[script];
        if (bad[1] == 'e' || bad[1] == 'l')
            fprintf(stderr, "%s: '%s' needs an argument\n", progname, bad);
        else
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, bad);
        print_usage(stderr);
        lua_pushinteger(L, 1);
        return 1;
    }
    if (args & has_h) {
        print_usage(stdout);
        lua_pushinteger(L, 0);
        return 1;
    }
    if (args & has_v) print_version();
    /* after -h/-v: those work even when a module of the Lua layer is broken */
    open_mopex(L);
    create_arg_table(L, argv, argc, script);
    if (!run_args(L, argv, script > 0 ? script : argc)) {
        lua_pushinteger(L, 1);
        return 1;
    }
    if (script > 0 && handle_script(L, argv, script) != LUA_OK) {
        lua_pushinteger(L, 1);
        return 1;
    }
    int status = 0;
    interactive = isatty(0);
    if (args & has_i) {
        do_repl(L);
    } else if (script == 0 && !(args & (has_e | has_v))) {
        if (interactive) {
            print_version();
            printf("help() lists the API and the modules; help(x) describes x; Ctrl-D quits.\n");
        }
        /* piped input is a session too: prompts off, exit status 1 if any
         * statement failed */
        int failures = do_repl(L);
        if (!interactive && failures) status = 1;
    }
    lua_pushinteger(L, status);
    return 1;
}

int main(int argc, char **argv) {
    if (argv[0] && argv[0][0]) {
        const char *base = strrchr(argv[0], '/');
        progname = base ? base + 1 : argv[0];
        if (!classic_name(argv[0])) progname = "mopexlua";
    }
    find_exe_dir(argv[0] ? argv[0] : "mopexlua");
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        l_message(progname, "cannot create state: not enough memory");
        return 1;
    }
    lua_gc(L, LUA_GCSTOP);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int code = 1;
    if (status == LUA_OK)
        code = (int)lua_tointeger(L, -1);
    else
        report(L, status);
    lua_close(L);
    return code;
}
