#!/bin/sh
# Fuzz the classic namelist parser for a fixed budget: builds tests/fuzz/fuzz_namelist.c
# with clang (-fsanitize=fuzzer,address) and runs it for FUZZ_SECONDS (default 60 s,
# -timeout=5 per input) on a seed corpus of the real namelists ($MOPEX_TEST_DATA), the
# templates and the fixtures. A crash, a hang, an ASan report or an error that is not
# the parser's own "file:line: E1xx" diagnosis fails the test. Skips (77) without clang
# or its libFuzzer runtime.
set -u
SRC=${MOPEX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BASE=${MOPEX_TEST_TMP:-${TMPDIR:-/tmp}}
WORK="$BASE/fuzz_namelist"
SECONDS_BUDGET=${FUZZ_SECONDS:-60}

CC=$(command -v clang || true)
if [ -z "$CC" ]; then echo "SKIP: clang not found"; exit 77; fi
if ! pkg-config --exists lua5.4; then echo "SKIP: pkg-config cannot find lua5.4"; exit 77; fi
LUA_CFLAGS=$(pkg-config --cflags lua5.4)
LUA_LIBS=$(pkg-config --libs lua5.4)

rm -rf "$WORK"
mkdir -p "$WORK/corpus" "$WORK/seeds" || exit 1
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$WORK/probe.c"
if ! "$CC" -fsanitize=fuzzer,address "$WORK/probe.c" -o "$WORK/probe" >/dev/null 2>&1; then
  echo "SKIP: $CC cannot link libFuzzer (libclang-rt missing)"; exit 77
fi

# shellcheck disable=SC2086
"$CC" -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address \
  -DNAMELIST_DIR="\"$SRC/namelist-compat\"" $LUA_CFLAGS \
  "$SRC/tests/fuzz/fuzz_namelist.c" $LUA_LIBS -o "$WORK/fuzz_namelist" || { echo "FAIL: build"; exit 1; }

cp "$SRC"/namelist-compat/templates/cdf/*.nl "$SRC"/tests/data/namelists/*.nl "$WORK/seeds/"
if [ -n "${MOPEX_TEST_DATA:-}" ] && [ -d "$MOPEX_TEST_DATA" ]; then
  find "$MOPEX_TEST_DATA" -name '*.nl' -exec cp {} "$WORK/seeds/" \;
fi
nseeds=$(ls "$WORK/seeds" | wc -l)

"$WORK/fuzz_namelist" -max_total_time="$SECONDS_BUDGET" -timeout=5 -rss_limit_mb=2048 \
  -dict="$SRC/tests/fuzz/namelist.dict" -print_final_stats=1 -artifact_prefix="$WORK/" \
  "$WORK/corpus" "$WORK/seeds" > "$WORK/log" 2>&1
rc=$?
tail -n 15 "$WORK/log"
if [ $rc -ne 0 ]; then
  echo "FAIL: the fuzzer found a crash, hang or unclean error (log and artifacts in $WORK)"
  exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$WORK/log")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' "$WORK/log" | tail -n 1)
echo "seeds: $nseeds, executed inputs: ${runs:-0}, coverage features (ft, incl. the Lua line-pair counters): ${ft:-0}"
# at least 10 inputs per second of budget, or the harness has become pathologically slow
if [ "${runs:-0}" -lt $((SECONDS_BUDGET * 10)) ]; then
  echo "FAIL: only ${runs:-0} inputs ran in $SECONDS_BUDGET s"; exit 1
fi
echo "1 passed, 0 failed"
