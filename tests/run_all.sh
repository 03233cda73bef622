#!/bin/sh
# The whole test suite, as the README promises:
#   1. install missing Debian packages (build + test tools),
#   2. a release build and its tests (C unit, Lua API, host, e2e, valgrind),
#   3. an AddressSanitizer + UndefinedBehaviorSanitizer build and its tests,
#   4. one summary line per build and an overall "N passed, N failed".
# Usage: tests/run_all.sh [ctest args...]   (e.g. -L c, -R wcs)
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
sh .ci/install-deps || { echo "dependency installation failed"; exit 1; }

total_pass=0; total_fail=0; status=0
run_build() {
  dir=$1; shift
  echo "=== build $dir ($*)"
  cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$ROOT/$dir.configure.log" 2>&1 \
    || { cat "$ROOT/$dir.configure.log"; return 1; }
  cmake --build "$ROOT/$dir" -j "$JOBS" >"$ROOT/$dir.build.log" 2>&1 \
    || { tail -50 "$ROOT/$dir.build.log"; return 1; }
  echo "=== tests $dir"
  ctest --test-dir "$ROOT/$dir" -j "$JOBS" --output-on-failure $CTEST_ARGS \
    | tee "$ROOT/$dir.test.log"
  line=$(grep -E "tests passed|tests failed" "$ROOT/$dir.test.log" | tail -1)
  n_total=$(echo "$line" | sed -n 's/.* out of \([0-9]*\).*/\1/p')
  n_fail=$(echo "$line" | sed -n 's/.*, \([0-9]*\) tests failed.*/\1/p')
  n_total=${n_total:-0}; n_fail=${n_fail:-1}
  total_pass=$((total_pass + n_total - n_fail)); total_fail=$((total_fail + n_fail))
  [ "$n_fail" -eq 0 ]
}
CTEST_ARGS="$*"
run_build build || status=1
run_build build-asan -DMOPEX_SANITIZE=ON || status=1
echo "=== summary (release + sanitizer builds; skipped tests count as passed)"
echo "$total_pass passed, $total_fail failed"
exit $status
