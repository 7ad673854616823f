#!/usr/bin/env bash
# Runs the SQL of the docs so they cannot rot: in each docs file (docs/tutorial.md unless
# others are given), every ```sql block must be followed by an ```output block holding
# exactly what the sqlite3 shell prints for it (-batch -noheader, list mode, stdout and
# stderr). All sql blocks of one file run in order in ONE sqlite3 session (:memory:, silt
# loaded, cwd = repo root), so later blocks see earlier tables. Error lines read "Runtime error: ..." (the shell's "near line N"
# is dropped, since N counts lines of the whole session, not of the block). Each sql block
# must end with a complete statement: the test appends a `.print` marker line after it.
# Usage: docs_tutorial.sh BUILD [DOC.md...]   Prints "docs: N passed, N failed" (blocks).
# SQL_RUNNER (as in tests/sql/run.sh) prefixes the sqlite3 command, e.g. for LD_PRELOAD.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-build}" && pwd); shift || true
docs=("$@")
[ ${#docs[@]} -eq 0 ] && docs=("$ROOT/docs/tutorial.md")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
MARK='@@silt-docs-block@@'
pass=0; fail=0
for doc in "${docs[@]}"; do
  name=$(basename "$doc")
  rm -f "$tmp"/exp.* "$tmp"/act.* "$tmp"/sql.*
  # Split the doc: sql.N and exp.N per block; complain about an sql block with no output.
  if ! awk -v dir="$tmp" -v doc="$name" '
    function fail(msg) { print doc ": line " NR ": " msg > "/dev/stderr"; bad = 1; exit 1 }
    /^```sql[ \t]*$/    { if (state == "want") fail("sql block without an output block after it")
                          n++; state = "sql"; f = dir "/sql." n; printf "" > f; next }
    /^```output[ \t]*$/ { if (state != "want") fail("output block without an sql block before it")
                          state = "out"; f = dir "/exp." n; printf "" > f; next }
    /^```/ && (state == "sql" || state == "out") {
                          close(f); state = (state == "sql") ? "want" : ""; next }
    state == "sql" || state == "out" { print > f; next }
    state == "want" && /^[ \t]*$/ { next }
    state == "want" { fail("text between an sql block and its output block") }
    END { if (bad) exit 1
          if (state == "want") fail("sql block without an output block after it")
          if (state == "sql" || state == "out") fail("unclosed code block")
          print n + 0 > (dir "/count") }
  ' "$doc"; then
    fail=$((fail+1)); continue
  fi
  n=$(cat "$tmp/count")
  : > "$tmp/script"
  for ((i = 1; i <= n + 1; i++)); do : > "$tmp/act.$i"; done  # a crash leaves them empty
  for ((i = 1; i <= n; i++)); do
    cat "$tmp/sql.$i" >> "$tmp/script"
    printf '.print %s%d\n' "$MARK" "$i" >> "$tmp/script"
  done
  (cd "$ROOT" && ${SQL_RUNNER:-} sqlite3 -batch -noheader -cmd ".load $BUILD/silt" :memory: \
     < "$tmp/script" > "$tmp/all" 2>&1)
  # Cut the session output at the markers into act.N.
  awk -v dir="$tmp" -v mark="$MARK" '
    BEGIN { i = 1; f = dir "/act.1"; printf "" > f }
    index($0, mark) == 1 { close(f); i = substr($0, length(mark) + 1) + 1
                           f = dir "/act." i; printf "" > f; next }
    { sub(/^Runtime error near line [0-9]+:/, "Runtime error:")
      sub(/^Parse error near line [0-9]+:/, "Parse error:")
      print > f }
  ' "$tmp/all"
  for ((i = 1; i <= n; i++)); do
    if diff -u --label "$name block $i: expected" --label "$name block $i: actual" \
         "$tmp/exp.$i" "$tmp/act.$i" > "$tmp/diff"; then
      pass=$((pass+1))
    else
      fail=$((fail+1))
      echo "FAIL $name block $i:"
      sed 's/^/    /' "$tmp/sql.$i" | head -20
      head -40 "$tmp/diff"
    fi
  done
  # Anything printed after the last block (e.g. a crash message) is a failure too.
  if [ -s "$tmp/act.$((n+1))" ]; then
    fail=$((fail+1)); echo "FAIL $name: output after the last block:"; head -20 "$tmp/act.$((n+1))"
  fi
done
echo "docs: $pass passed, $fail failed"
[ $fail -eq 0 ]
