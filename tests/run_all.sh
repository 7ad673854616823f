#!/usr/bin/env bash
# make test: unit tests (Criterion), SQL-level tests (sqlite3 shell), the example program
# linked against libsilt.a, and shell-level checks. Prints one closing line
# "N passed, N failed" counting the suites.
set -u
BUILD=${1:-build}
pass=0; fail=0
run() {
  local name=$1; shift
  echo "== $name"
  if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "== $name FAILED"; fi
}
run unit "$BUILD/test_unit" -j2
run sql bash tests/sql/run.sh "$BUILD"
run example "$BUILD/example"
for t in tests/shell/*.sh; do
  [ -f "$t" ] && run "$(basename "$t" .sh)" bash "$t" "$BUILD"
done
echo
echo "suites: $pass passed, $fail failed"
[ $fail -eq 0 ]
