#!/usr/bin/env bash
# silt_ingest over HTTP against a loopback server this script starts (ingest_http_server.py):
# 200, 404, redirect chains and their limit, redirects to refused schemes, gzip
# Content-Encoding, a .gz file, format from the Content-Type, a connection dropped mid-body,
# a slow server and timeout_ms, an interrupt while waiting for data, change detection with
# ETag / If-None-Match, late values ("007") that make the load run again (one second GET,
# however many columns) with their columns TEXT, and https refusing a self-signed certificate. After every failure:
# no table and no silt_sources row left. The servers are stopped on exit.
# Usage: tests/shell/ingest_http.sh BUILD
set -u
BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/silt-ingest-http.XXXXXX)
SERVER=; TLS_SERVER=
cleanup() {
  local p
  for p in $SERVER $TLS_SERVER; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

python3 "$HERE/ingest_http_server.py" --port-file "$TMP/port" &
SERVER=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || { echo "FAIL ingest_http: the test server did not start"; exit 1; }
PORT=$(cat "$TMP/port")
U="http://127.0.0.1:$PORT"
DB="$TMP/t.db"
# The tests must not go through a proxy configured in the environment.
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

pass=0; fail=0
q() { sqlite3 -batch -noheader "$DB" -cmd ".load $BUILD/silt" "$@" 2>&1; }
# check NAME SQL EXPECTED: the output of SQL must equal EXPECTED
check() {
  local got
  got=$(q "$2")
  if [ "$got" == "$3" ]; then pass=$((pass+1)); else
    fail=$((fail+1)); printf 'FAIL ingest_http %s\n  sql: %s\n  got: %s\n  want: %s\n' "$1" "$2" "$got" "$3"; fi
}
# check_err NAME SQL FRAGMENT TABLE: SQL fails with a message containing FRAGMENT, and
# neither TABLE nor a silt_sources row for it exists afterwards
check_err() {
  local got left
  got=$(q "$2")
  left=$(q "SELECT count(*) FROM sqlite_schema WHERE name = '$4'" "SELECT count(*) FROM silt_sources WHERE tbl = '$4'")
  left=$(echo $left)
  if [[ "$got" == *"$3"* ]] && [ "$left" == "0 0" ]; then pass=$((pass+1)); else
    fail=$((fail+1)); printf 'FAIL ingest_http %s\n  sql: %s\n  got: %s (left behind: %s)\n  want: ...%s...\n' "$1" "$2" "$got" "$left" "$3"
  fi
}

check ok "SELECT silt_ingest('$U/data.csv', 'd'); SELECT sum(id), typeof(score) FROM d WHERE id < 3;" $'3\n3|real'
check provenance "SELECT url, rows, bytes, etag, last_modified, length(sha256) FROM silt_sources WHERE tbl = 'd'" \
  "$U/data.csv|3|44|\"v1\"|Mon, 02 Jan 2023 10:00:00 GMT|64"
check not_modified_skips "SELECT silt_ingest('$U/data.csv', 'd'); SELECT count(*) FROM d;" $'3\n3'
check same_etag_skips "SELECT silt_ingest('$U/same-etag.csv', 'se'); SELECT silt_ingest('$U/same-etag.csv', 'se');" $'3\n3'
check no_validators_hash_decides "SELECT silt_ingest('$U/no-validators.csv', 'nv'); SELECT silt_ingest('$U/no-validators.csv', 'nv'); SELECT silt_ingest('$U/no-validators.csv', 'nv', '{\"if_exists\":\"append\"}'); SELECT count(*) FROM nv;" $'3\n3\n3\n3'
check content_type_format "SELECT silt_ingest('$U/noext', 'ne'); SELECT silt_ingest('$U/events', 'ev'); SELECT sql FROM sqlite_schema WHERE name = 'ev';" $'3\n2\nCREATE TABLE "ev"("id" INTEGER, "kind" TEXT, "extra" INTEGER)'
check late_text_refetches "SELECT silt_ingest('$U/late-zero.csv', 'lz', '{\"infer_rows\":5}'); SELECT v, typeof(v) FROM lz WHERE id = 12; SELECT typeof(v), rows FROM lz, silt_sources WHERE id = 1 AND tbl = 'lz';" $'12\n007|text\ntext|12'
check late_text_one_rerun "SELECT silt_ingest('$U/late-many.csv', 'lm', '{\"infer_rows\":5}'); SELECT group_concat(a || b || c, ',') FROM lm WHERE id > 20; SELECT sql FROM sqlite_schema WHERE name = 'lm'; SELECT silt_ingest('$U/late-many-gets.csv', 'lmg'); SELECT gets FROM lmg;" $'23\n00711,1+51,11 12\nCREATE TABLE "lm"("id" INTEGER, "a" TEXT, "b" TEXT, "c" TEXT)\n1\n2'
check redirects "SELECT silt_ingest('$U/redirect/3', 'r3');" "3"
check_err too_many_redirects "SELECT silt_ingest('$U/redirect/3', 'r3b', '{\"max_redirects\":2}')" "more than 2 redirects (max_redirects)" r3b
check_err no_redirects "SELECT silt_ingest('$U/redirect/1', 'r0', '{\"max_redirects\":0}')" "more than 0 redirects" r0
check_err redirect_loop "SELECT silt_ingest('$U/loop', 'loop')" "redirects (max_redirects)" loop
check_err redirect_to_file "SELECT silt_ingest('$U/to-file', 'tofile')" "not allowed" tofile
check_err redirect_to_ftp "SELECT silt_ingest('$U/to-ftp', 'toftp')" "not allowed" toftp
check_err not_found "SELECT silt_ingest('$U/missing.csv', 'nf')" "HTTP status 404" nf
check gzip_encoding "SELECT silt_ingest('$U/gzip.csv', 'gz'); SELECT bytes FROM silt_sources WHERE tbl = 'gz';" $'3\n44'
check gzip_file "SELECT silt_ingest('$U/file.csv.gz', 'gzf'); SELECT name FROM gzf WHERE id = 2;" $'3\nbeta'
check_err dropped "SELECT silt_ingest('$U/drop.csv', 'dropped')" "transfer ended early" dropped
check_err dropped_chunked_msg "SELECT silt_ingest('$U/drop-chunked.csv', 'dropped3')" "silt_ingest('$U/drop-chunked.csv'): transfer" dropped3
check_err timeout "SELECT silt_ingest('$U/slow.csv', 'slow', '{\"timeout_ms\":1500}')" "timed out after 1500 ms (timeout_ms)" slow
check_err max_bytes "SELECT silt_ingest('$U/data.csv', 'mb', '{\"max_bytes\":10}')" "larger than max_bytes (10 bytes)" mb
check_err refused_connection "SELECT silt_ingest('http://127.0.0.1:1/x.csv', 'refused', '{\"connect_timeout_ms\":2000}')" "transfer failed (curl error 7)" refused
check_err replace_failure_keeps_old "SELECT silt_ingest('$U/drop.csv', 'nobody', '{\"if_exists\":\"replace\"}')" "transfer ended early" nobody
check_err failed_replace "SELECT silt_ingest('$U/drop.csv', 'd', '{\"if_exists\":\"replace\",\"force\":true}')" "transfer ended early" nothing
check failed_replace_keeps_table "SELECT count(*) FROM d; SELECT count(*) FROM silt_sources WHERE tbl = 'd';" $'3\n1'

# https verifies certificates: a self-signed one is refused.
if command -v openssl > /dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" > /dev/null 2>&1
  python3 "$HERE/ingest_http_server.py" --port-file "$TMP/tls-port" --tls "$TMP/cert.pem" "$TMP/key.pem" &
  TLS_SERVER=$!
  for _ in $(seq 100); do [ -s "$TMP/tls-port" ] && break; sleep 0.05; done
  check_err https_self_signed "SELECT silt_ingest('https://127.0.0.1:$(cat "$TMP/tls-port")/data.csv', 'tls')" "certificate" tls
  kill "$TLS_SERVER" 2>/dev/null; wait "$TLS_SERVER" 2>/dev/null; TLS_SERVER=
else
  echo "SKIP ingest_http https: no openssl to make a certificate"
fi

# An interrupt (Ctrl-C in the shell, sqlite3_interrupt) while the server sends nothing stops
# the load within a fraction of a second. /usr/bin/python3 can load extensions.
if /usr/bin/python3 -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' 2>/dev/null; then
  got=$(/usr/bin/python3 - "$BUILD/silt" "$U/slow.csv" "$DB" <<'EOF'
import sqlite3, sys, threading, time
con = sqlite3.connect(sys.argv[3])
con.enable_load_extension(True)
con.load_extension(sys.argv[1])
threading.Timer(1.0, con.interrupt).start()
t0 = time.time()
try:
    con.execute("SELECT silt_ingest(?, 'interrupted')", (sys.argv[2],)).fetchall()
    print("no error")
except sqlite3.OperationalError as e:
    print("%s|%d" % (e, time.time() - t0 < 3))
print(con.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'interrupted'").fetchone()[0])
EOF
)
  want=$'silt_ingest(\''"$U"$'/slow.csv\'): interrupted|1\n0'
  if [ "$got" == "$want" ]; then pass=$((pass+1)); else
    fail=$((fail+1)); printf 'FAIL ingest_http interrupt\n  got: %s\n  want: %s\n' "$got" "$want"; fi
else
  echo "SKIP ingest_http interrupt: /usr/bin/python3 cannot load SQLite extensions"
fi

echo "ingest_http: $pass passed, $fail failed"
[ $fail -eq 0 ]
