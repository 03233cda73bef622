#!/bin/sh
# The mopexlua host: options, script arguments and lookup, errors and exit
# status, the REPL driven through a pipe, help, Ctrl-C, classic entry points.
# Environment from tests/CMakeLists.txt: MOPEX_BUILD_DIR, MOPEX_TEST_TMP.
BIN="${MOPEX_BUILD_DIR:?MOPEX_BUILD_DIR is not set}/mopexlua"
TMP="${MOPEX_TEST_TMP:-/tmp}/test_host_sh"
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
[ -x "$BIN" ] || { echo "no $BIN"; exit 1; }
# no readline history from these runs
MOPEXLUA_HISTORY=""
export MOPEXLUA_HISTORY

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect_eq NAME GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok; else bad "$1: got [$2], want [$3]"; fi; }
# expect_match NAME TEXT GREP-PATTERN
expect_match() {
    if printf '%s\n' "$2" | grep -q -- "$3"; then ok; else bad "$1: [$2] does not match /$3/"; fi
}

# -v / --version
out=$("$BIN" -v); st=$?
expect_eq "-v status" "$st" 0
expect_match "-v" "$out" '^mopexlua [0-9][0-9.]* (libmopex .*Lua 5\.4.*cfitsio .*wcslib .*GSL '
expect_eq "--version" "$("$BIN" --version)" "$out"

# -h / --help
out=$("$BIN" -h); st=$?
expect_eq "-h status" "$st" 0
expect_match "-h usage" "$out" '^usage: mopexlua \[options\] \[script \[args\]\]'
expect_match "-h help()" "$out" 'help(mopex.<module>)'
expect_match "-h pipelines" "$out" '^Installed pipelines'
expect_eq "--help" "$("$BIN" --help | head -1)" "$(printf '%s\n' "$out" | head -1)"
"$BIN" -x >/dev/null 2>"$TMP/err"; st=$?
expect_eq "bad option status" "$st" 1
expect_match "bad option" "$(head -1 "$TMP/err")" "mopexlua: unrecognized option '-x'"
"$BIN" -e >/dev/null 2>"$TMP/err"; st=$?
expect_eq "-e without argument" "$st" 1
expect_match "-e without argument" "$(head -1 "$TMP/err")" "'-e' needs an argument"

# -e one-liners, in order, with the mopex global preloaded
expect_eq "-e" "$("$BIN" -e 'print(1+2)')" 3
expect_eq "-e twice" "$("$BIN" -e 'x = 20' -e 'print(x + 1)')" 21
expect_eq "-e mopex" "$("$BIN" -e 'print(mopex == require("mopex"), type(help))')" "true	table"
expect_eq "-e stats" "$("$BIN" -e 'print(mopex.median{5, 1, 3})')" 3.0

# help() output names the functions and the modules
out=$("$BIN" -e 'help()')
expect_match "help() functions" "$out" '^  functions: .*read_table'
expect_match "help() modules" "$out" '^  modules: '
expect_match "help(x)" "$("$BIN" -e 'help(mopex.read)')" '^mopex.read(path) -> Image'

# a script with arguments: arg table and ... like lua
cat >"$TMP/args.lua" <<'EOF'
print(#arg, arg[1], arg[2], select('#', ...), ...)
print(arg[0] == (...) and "" or arg[0]:match("args%.lua$"), arg[-1] ~= nil)
EOF
out=$("$BIN" "$TMP/args.lua" a "b c"); st=$?
expect_eq "script status" "$st" 0
expect_eq "script args" "$(printf '%s\n' "$out" | head -1)" "2	a	b c	2	a	b c"
expect_eq "arg[0]" "$(printf '%s\n' "$out" | sed -n 2p)" "args.lua	true"
expect_eq "-- then script" "$("$BIN" -- "$TMP/args.lua" x | head -1)" "1	x	nil	1	x"

# a script that is not here is looked up on MOPEXLUA_PATH (with or without .lua)
mkdir -p "$TMP/p1" "$TMP/p2"
echo 'print("hello from p2", ...)' >"$TMP/p2/hello.lua"
cd "$TMP" || exit 1
expect_eq "MOPEXLUA_PATH" "$(MOPEXLUA_PATH="$TMP/p1:$TMP/p2" "$BIN" hello.lua 1)" "hello from p2	1"
expect_eq "MOPEXLUA_PATH no .lua" "$(MOPEXLUA_PATH="$TMP/p2" "$BIN" hello)" "hello from p2"
cd - >/dev/null || exit 1

# a missing script: message, exit 1
"$BIN" no_such_script.lua >"$TMP/out" 2>"$TMP/err"; st=$?
expect_eq "missing script status" "$st" 1
expect_match "missing script" "$(head -1 "$TMP/err")" "^mopexlua: cannot find script 'no_such_script.lua' (looked in the working directory"
expect_eq "missing script stdout" "$(cat "$TMP/out")" ""

# an error: message on the first line, then the traceback, exit 1
printf 'local function f()\n  error("boom")\nend\nf()\n' >"$TMP/boom.lua"
"$BIN" "$TMP/boom.lua" 2>"$TMP/err"; st=$?
expect_eq "error status" "$st" 1
expect_match "error message" "$(head -1 "$TMP/err")" "^mopexlua: .*boom.lua:2: boom$"
expect_eq "traceback" "$(sed -n 2p "$TMP/err")" "stack traceback:"
expect_match "traceback names f" "$(cat "$TMP/err")" "in local 'f'"
# an engine error: the file and the reason
"$BIN" -e 'mopex.read("'"$TMP"'/nothing.fits")' 2>"$TMP/err"; st=$?
expect_eq "engine error status" "$st" 1
expect_match "engine error" "$(head -1 "$TMP/err")" "^mopexlua: .*nothing.fits"
expect_match "syntax error" "$("$BIN" -e 'x = = 1' 2>&1)" "^mopexlua: (command line):1: unexpected symbol"

# -l loads a module into a global
mkdir -p "$TMP/mods"
echo 'return { answer = 42 }' >"$TMP/mods/mymod.lua"
expect_eq "-l" "$(LUA_PATH="$TMP/mods/?.lua;;" "$BIN" -l mymod -e 'print(mymod.answer)')" 42
expect_eq "-l g=mod" "$(LUA_PATH="$TMP/mods/?.lua;;" "$BIN" -l m=mymod -e 'print(m.answer)')" 42

# the REPL through a pipe: no prompts, values printed like lua 5.4
expect_eq "repl 1+2" "$(echo '1+2' | "$BIN")" 3
out=$(printf 'x = 0\nfor i = 1, 4 do\n  x = x + i\nend\nx\n=2*21\nreturn "s", nil, true\n' | "$BIN")
expect_eq "repl multi-line" "$out" "$(printf '10\n42\ns\tnil\ttrue')"
expect_eq "repl tables" "$(echo '{1, 2, a = {b = "x"}}' | "$BIN")" '{1, 2, a = {b = "x"}}'
expect_eq "repl objects" "$(echo 'mopex.image(3, 2)' | "$BIN")" "Image 3x2 float"
expect_eq "repl statements print nothing" "$(printf 'local y = 3\nprint("p")\n' | "$BIN")" "p"
expect_match "repl help" "$(echo 'help' | "$BIN")" '^help(): the mopex API'
printf 'error("e1")\n5\n' | "$BIN" >"$TMP/out" 2>"$TMP/err"; st=$?
expect_eq "repl goes on after an error" "$(cat "$TMP/out")" 5
expect_eq "piped repl with errors: status 1" "$st" 1
expect_match "repl error text" "$(head -1 "$TMP/err")" '^stdin:1: e1$'
# -i: the REPL after a script (prints the version first, like lua -i)
echo 'y = 7' >"$TMP/sety.lua"
out=$(echo 'y * 6' | "$BIN" -i "$TMP/sety.lua")
expect_match "-i version" "$(printf '%s\n' "$out" | head -1)" '^mopexlua '
expect_eq "-i value" "$(printf '%s\n' "$out" | tail -1)" 42
# standard input as a script
expect_eq "- (stdin script)" "$(echo 'print(#arg, ...)' | "$BIN" - q)" "1	q"

# Ctrl-C stops a pure Lua loop with "interrupted by user", exit 1
# --foreground: timeout sends the signal to the child only (without it, it also
# signals its process group: a second SIGINT may kill the host before its hook runs)
timeout --foreground 60 "$BIN" -e 'while true do end' 2>"$TMP/err" &
pid=$!
sleep 1
kill -INT $pid
wait $pid; st=$?
expect_eq "SIGINT status" "$st" 1
expect_match "SIGINT message" "$(head -1 "$TMP/err")" '^mopexlua: interrupted by user'
# ... and inside a script: pcall sees it, the engine flag is raised
# (system() ignores SIGINT while it waits: the kill comes from a background job)
out=$(timeout 60 "$BIN" -e 'local ok, e = pcall(function() os.execute("(sleep 0.5; kill -INT $PPID) &") while true do end end)
print(ok, e, mopex.interrupt_requested())')
expect_match "SIGINT in pcall" "$out" "^false	.*interrupted by user	true$"

# classic entry points dispatch on argv[0] to require("classic")
ln -sf "$BIN" "$TMP/mosaic.pl"
out=$("$TMP/mosaic.pl" --help); st=$?
expect_eq "mosaic.pl --help status" "$st" 0
expect_match "mosaic.pl --help" "$out" "mosaic"
"$TMP/mosaic.pl" -Z 2>"$TMP/err" >/dev/null; st=$?
expect_eq "mosaic.pl bad flag status" "$st" 2
ln -sf "$BIN" "$TMP/overlap.pl"
"$TMP/overlap.pl" -n no_such.nl 2>"$TMP/err" >/dev/null; st=$?
expect_eq "overlap.pl missing namelist status" "$st" 1
out=$("$BIN" --templates); st=$?
expect_eq "--templates status" "$st" 0
expect_match "--templates" "$out" "mosaic"
"$BIN" --translate "$TMP/no_such.nl" >/dev/null 2>"$TMP/err"; st=$?
expect_eq "--translate missing file" "$st" 1
expect_match "--translate message" "$(cat "$TMP/err")" "no_such.nl"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
