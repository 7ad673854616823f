#!/usr/bin/env bash
# SQL-level tests: each tests/sql/NAME.sql runs in the sqlite3 shell with silt loaded,
# in a fresh temporary directory (so `ATTACH 'x.db'` and files stay local), and its
# stdout+stderr must equal tests/sql/NAME.expected. Errors are part of the expected output
# (the shell prints them and goes on). Usage: run.sh BUILD [NAME...]
# The checkout's path reads $SILT_ROOT in the output, so expected files hold no machine's path.
# SILT_UPDATE_EXPECTED=1 rewrites the .expected files (review the diff before committing).
set -u
BUILD=$(cd "${1:-build}" && pwd); shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in "$HERE"/*.sql; do names+=("$(basename "$f" .sql)"); done
fi
pass=0; fail=0
for n in "${names[@]}"; do
  tmp=$(mktemp -d)
  out=$(cd "$tmp" && SILT_ROOT="$ROOT" ${SQL_RUNNER:-} sqlite3 -batch -noheader -cmd ".load $BUILD/silt" :memory: < "$HERE/$n.sql" 2>&1)
  rm -rf "$tmp"
  # Errors may name files under the checkout; the checkout's place differs between machines.
  out=${out//"$ROOT"/\$SILT_ROOT}
  if [ "${SILT_UPDATE_EXPECTED:-}" = 1 ]; then printf '%s\n' "$out" > "$HERE/$n.expected"; fi
  if [ "$out" == "$(cat "$HERE/$n.expected" 2>/dev/null)" ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1))
    echo "FAIL sql/$n:"
    diff <(printf '%s\n' "$out") "$HERE/$n.expected" | head -30
  fi
done
echo "sql: $pass passed, $fail failed"
[ $fail -eq 0 ]
