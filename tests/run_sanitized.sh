#!/usr/bin/env bash
# make sanitize: the unit tests, SQL tests and the example built with ASan+UBSan (in
# build-san), failing on any sanitizer report. Criterion runs tests in forked children and
# does not fail a run on a leak report (facts.md), so the output itself is searched. (Criterion
# 2.4.1 itself leaks 48 bytes in the runner for a test with .timeout: keep tests without it.)
set -u
BUILD=${1:-build-san}
log=$(mktemp)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_odr_violation=0
export UBSAN_OPTIONS=print_stacktrace=1
# The sqlite3 shell is not instrumented: preload the runtime so silt.so can be loaded.
ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
status=0
{
  "$BUILD/test_unit" -j2 || status=1
  SQL_RUNNER="env LD_PRELOAD=$ASAN_LIB:$UBSAN_LIB" bash tests/sql/run.sh "$BUILD" || status=1
  "$BUILD/example" || status=1
} > "$log" 2>&1
cat "$log"
if grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log"; then
  echo "sanitize: sanitizer reports found (see above)"
  status=1
fi
rm -f "$log"
[ $status -eq 0 ] && echo "sanitize: 1 passed, 0 failed" || echo "sanitize: 0 passed, 1 failed"
exit $status
