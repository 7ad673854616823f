#!/usr/bin/env bash
# A 3-node silt cluster on loopback ports (silt-node + silt-sql, see cluster/): formation,
# writes replicated through silt functions (and silt_dense / silt_embed / silt_ingest when
# this build has them), leadership moved away and back to a live node, leader failover by
# SIGKILL with no committed row lost, a clear error once the cluster has no quorum, and
# every row found again once the nodes are back. Every process it starts is stopped on exit.
# Usage: tests/shell/cluster_failover.sh BUILD
set -u
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."

if [ ! -e /usr/include/dqlite.h ] && ! ldconfig -p 2>/dev/null | grep -q 'libdqlite\.so'; then
  echo "SKIP cluster_failover: libdqlite is not installed (scripts/setup.sh installs libdqlite-dev)"
  exit 0
fi
for b in silt-node silt-sql; do
  [ -x "$BUILD/$b" ] || { echo "FAIL cluster_failover: $BUILD/$b not built (make BUILD=$BUILD)"; exit 1; }
done

. cluster/cluster_lib.sh
# 100 ms: a 1.5 s election timeout, so that a busy shared machine does not cause elections.
cl_init "$BUILD" "$(mktemp -d /tmp/silt-cluster-test.XXXXXX)" 3 100
trap cl_cleanup EXIT
START=$SECONDS
checks=0

fail() {
  echo "FAIL cluster_failover: $*"
  local f
  for f in "$CL_DIR"/*.log; do echo "--- $f"; tail -n 15 "$f"; done
  exit 1
}
# expect DESCRIPTION EXPECTED ACTUAL
expect() {
  checks=$((checks + 1))
  [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"
}
q() { cl_sql "$@" 2>&1; }

# ---- bad options: clear messages, exit 64, nothing started --------------------------------
# usage_error WHAT EXPECTED-SUBSTRING COMMAND...
usage_error() {
  local what=$1 want=$2 out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  expect "$what: exit status" 64 "$rc"
  case "$out" in *"$want"*) checks=$((checks + 1)) ;; *) fail "$what: message lacks '$want': $out" ;; esac
}
N="$BUILD/silt-node"
usage_error "bootstrap needs id 1" "--bootstrap needs --id 1" "$N" --id 2 --address 127.0.0.1:1 --dir "$CL_DIR/x" --bootstrap
usage_error "id 1 cannot join" "--id 1 cannot --join" "$N" --id 1 --address 127.0.0.1:1 --dir "$CL_DIR/x" --join 127.0.0.1:2
usage_error "bootstrap xor join" "exclude each other" "$N" --id 1 --address 127.0.0.1:1 --dir "$CL_DIR/x" --bootstrap --join 127.0.0.1:2
usage_error "latency range" "--latency-ms '0': expected 1..3600000" "$N" --id 1 --address 127.0.0.1:1 --dir "$CL_DIR/x" --latency-ms 0
usage_error "id must be a number" "--id 'one': expected a positive integer" "$N" --id one --address 127.0.0.1:1 --dir "$CL_DIR/x"
usage_error "required options" "--id, --address and --dir are required" "$N" --id 1
usage_error "servers required" "-s HOST:PORT[,...] is required" "$BUILD/silt-sql" "SELECT 1"
usage_error "timeout range" "--timeout-ms 'x': expected 1..3600000" "$BUILD/silt-sql" -s 127.0.0.1:1 --timeout-ms x
usage_error "transfer id" "--transfer '0': expected a node id" "$BUILD/silt-sql" -s 127.0.0.1:1 --transfer 0
out=$("$BUILD/silt-sql" -s nohostport --timeout-ms 300 "SELECT 1" 2>&1); rc=$?
expect "bad address: exit status" 2 "$rc"
case "$out" in *"bad address 'nohostport': expected host:port"*) checks=$((checks + 1)) ;; *) fail "bad address: $out" ;; esac
[ ! -e "$CL_DIR/x" ] || fail "a refused silt-node created its directory"

# ---- formation ------------------------------------------------------------------------------
cl_start 1 --bootstrap
cl_start 2 --join "$(cl_addr 1)"
cl_start 3 --join "$(cl_addr 1)"
cl_wait_voters 3 20 || fail "cluster did not form"
expect "members" "$(printf '1 %s voter\n2 %s voter\n3 %s voter' "$(cl_addr 1)" "$(cl_addr 2)" "$(cl_addr 3)")" \
  "$(q --cluster | sort)"
expect "first leader" 1 "$(cl_leader)"
grep -q "joined the cluster as a voter" "$CL_DIR/2.log" || fail "node 2 did not log its join"
grep -q "role leader" "$CL_DIR/1.log" || fail "node 1 did not log its role"

has_module() { [ "$(q "SELECT count(*) FROM pragma_module_list WHERE name = '$1'")" = 1 ]; }
has_function() { [ "$(q "SELECT count(*) FROM pragma_function_list WHERE name = '$1'")" -ge 1 ]; }
HAVE_DENSE=0; has_module silt_dense && HAVE_DENSE=1
HAVE_EMBED=0; has_function silt_embed && HAVE_EMBED=1
HAVE_INGEST=0; has_function silt_ingest && HAVE_INGEST=1
echo "cluster_failover: silt_dense=$HAVE_DENSE silt_embed=$HAVE_EMBED silt_ingest=$HAVE_INGEST"

# ---- replicated writes through silt ---------------------------------------------------------
# Vectors are computed by silt on the leader; the followers receive the pages.
docs_insert() { # FIRST LAST
  q "INSERT INTO docs(id, body, v) WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
     SELECT i, 'doc ' || i, silt_normalize(silt_vec(json_array(i % 7, i % 11, i % 13, 1))) FROM n"
}
expect "create docs" "" "$(q "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, v BLOB)")"
expect "insert 1..200" "" "$(docs_insert 1 200)"
out=$(q "INSERT INTO docs(id, v) VALUES (9999, silt_vec('[]'))"); rc=$?
expect "silt error exit status" 1 "$rc"
case "$out" in
  "silt-sql: error: "*silt_vec*) checks=$((checks + 1)) ;;
  *) fail "silt's error did not come back through the cluster: $out" ;;
esac
expect "failed write left nothing" 0 "$(q "SELECT count(*) FROM docs WHERE id = 9999")"

QVEC="silt_normalize(silt_vec('[3,5,7,1]'))"
KNN_BRUTE="SELECT id, round(silt_distance_l2(v, $QVEC), 6) AS d FROM docs ORDER BY d, id LIMIT 5"
SUMMARY="SELECT count(*), sum(id), sum(length(v)), sum(silt_vec_dim(v)) FROM docs"
if [ $HAVE_DENSE = 1 ]; then
  expect "create silt_dense" "" "$(q "CREATE VIRTUAL TABLE dv USING silt_dense(dim=4, metric=l2)")"
  expect "fill silt_dense" "" "$(q "INSERT INTO dv(rowid, embedding) SELECT id, v FROM docs WHERE id <= 200")"
  KNN_DENSE="SELECT rowid, round(distance, 6) FROM dv WHERE embedding MATCH $QVEC AND k = 5"
  DENSE_COUNT="SELECT count(*) FROM (SELECT rowid FROM dv WHERE embedding MATCH $QVEC AND k = 100000)"
else
  KNN_DENSE="SELECT 'no silt_dense'"
  DENSE_COUNT="SELECT 200"
fi
if [ $HAVE_EMBED = 1 ]; then
  expect "embed on the leader" "" "$(q "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, e BLOB);
    INSERT INTO notes VALUES (1, 'the cat sat on the mat', silt_embed('the cat sat on the mat')),
                             (2, 'stock markets fell', silt_embed('stock markets fell'))")"
  NOTES="SELECT id, silt_vec_dim(e), hex(e) FROM notes ORDER BY id"
else
  NOTES="SELECT 'no silt_embed'"
fi
# Commits dqlite would not replicate are refused by silt-node (libdqlite 1.11 would abort the
# node at its next write); --raw sends the statements as they are, as a naive client would.
out=$(q --raw "INSERT INTO docs(id, body) VALUES (5000, 'returning') RETURNING id"); rc=$?
expect "raw RETURNING refused" 1 "$rc"
grep -q "refused a commit (INSERT INTO docs(id, body) VALUES (5000" "$CL_DIR/1.log" || fail "guard did not log RETURNING: $out"
out=$(q "INSERT INTO docs(id, body) VALUES (5001, 'returning') RETURNING id"); rc=$?
expect "silt-sql refuses RETURNING itself" "1 silt-sql: error: RETURNING cannot run in a cluster" "$rc ${out%%: libdqlite*}"
if [ $HAVE_INGEST = 1 ]; then
  printf 'city,country,population\nLyon,FR,522250\nOsaka,JP,2753862\nPorto,PT,231800\n' >"$CL_DIR/cities.csv"
  out=$(q --raw "SELECT silt_ingest('file://$CL_DIR/cities.csv', 'cities_direct')"); rc=$?
  expect "raw writing SELECT refused" 1 "$rc"
  grep -q "refused a commit (SELECT silt_ingest" "$CL_DIR/1.log" || fail "guard did not log the SELECT: $out"
  expect "refused ingest left no table" 0 "$(q "SELECT count(*) FROM sqlite_master WHERE name = 'cities_direct'")"
  # silt-sql runs it inside BEGIN ... COMMIT: the load is one replicated transaction.
  expect "ingest through the leader" 3 "$(q "SELECT silt_ingest('file://$CL_DIR/cities.csv', 'cities')")"
  out=$(q "SELECT silt_ingest('file://$CL_DIR/none.csv', 'x')"); rc=$?
  expect "ingest error: exit status" 1 "$rc"
  case "$out" in
    "silt-sql: error: silt_ingest("*"cannot open '$CL_DIR/none.csv'"*) checks=$((checks + 1)) ;;
    *) fail "ingest error did not come back: $out" ;;
  esac
  CITIES="SELECT city, country, population FROM cities ORDER BY city"
else
  CITIES="SELECT 'no silt_ingest'"
fi
expect "leader survived the refused commits" "1" "$(q "SELECT silt_node_id()")"
expect "refused writes left nothing" 0 "$(q "SELECT count(*) FROM docs WHERE id >= 5000")"
snapshot() { q "$SUMMARY; $KNN_BRUTE; $KNN_DENSE; $DENSE_COUNT; $NOTES; $CITIES"; }
BEFORE=$(snapshot)
expect "rows before failover" "200|20100|3200|800" "$(q "$SUMMARY")"

# ---- leadership moved away and back (node 1 stays up as a follower meanwhile) ---------------
expect "transfer to 2" "" "$(q --transfer 2)"
expect "leader after transfer" 2 "$(cl_leader)"
expect "insert 201..250 via node 2" "" "$(docs_insert 201 250)"
[ $HAVE_DENSE = 1 ] && expect "dense rows via node 2" "" \
  "$(q "INSERT INTO dv(rowid, embedding) SELECT id, v FROM docs WHERE id > 200")"
expect "transfer back to 1" "" "$(q --transfer 1)"
expect "leader after transfer back" 1 "$(cl_leader)"
# Node 1 served queries before; it must see what node 2 wrote meanwhile.
expect "rows seen by node 1 again" "250|31375|4000|1000" "$(q "$SUMMARY")"
[ $HAVE_DENSE = 1 ] && expect "silt_dense on node 1 sees node 2's rows" 250 "$(q "$DENSE_COUNT")"
BEFORE=$(snapshot)

# ---- failover: SIGKILL the leader -------------------------------------------------------------
cl_kill9 1
t0=$(cl_now_ms)
AFTER=$(snapshot)
t1=$(cl_now_ms)
NEW=$(cl_leader)
[ "$NEW" = 2 ] || [ "$NEW" = 3 ] || fail "no new leader after SIGKILL of node 1 (got '$NEW')"
expect "same answers from the new leader ($NEW)" "$BEFORE" "$AFTER"
echo "cluster_failover: leader 1 killed, node $NEW answered after $((t1 - t0)) ms"
expect "write after failover" "" "$(docs_insert 251 260)"

# ---- no quorum: kill the new leader too, one node of three is left ---------------------------
cl_kill9 "$NEW"
out=$(cl_sql --timeout-ms 2000 "INSERT INTO docs(id, body) VALUES (1000, 'lost?')" 2>&1); rc=$?
expect "exit status without quorum" 2 "$rc"
case "$out" in
  *"no leader found within 2000 ms"*"majority of its voters"*) checks=$((checks + 1)) ;;
  *) fail "no-quorum message unclear: $out" ;;
esac
out=$(cl_sql --timeout-ms 1000 "SELECT count(*) FROM docs" 2>&1); rc=$?
expect "reads without quorum fail too" 2 "$rc"

# ---- nodes back: every committed row is there --------------------------------------------------
cl_start 1
cl_start "$NEW"
cl_wait_voters 3 20 || fail "cluster did not recover after restarting nodes 1 and $NEW"
# libdqlite 1.11 can answer the first read on a just-elected leader before it has replayed its
# Raft log (seen once in ~10 runs: "no such table: docs"; upstream dqlite#210, go-dqlite#78).
# A write makes it replay everything it holds; what is checked is that nothing was lost.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  out=$(q "SELECT count(*) FROM docs"); case "$out" in *"no such table"*) ;; *) break ;; esac
  q "CREATE TABLE IF NOT EXISTS replay_probe(x)" >/dev/null; sleep 0.5
done
expect "all committed rows after restart" "260|33930|4160|1040" "$(q "$SUMMARY")"
expect "row written without quorum was not applied" 0 "$(q "SELECT count(*) FROM docs WHERE id = 1000")"

# ---- go-dqlite's shell speaks to the same nodes ----------------------------------------------
if command -v dqlite >/dev/null; then
  expect "dqlite shell" "260" "$(timeout 10 dqlite -s "$CL_SERVERS" silt "SELECT count(*) FROM docs" 2>&1 | tr -d ' ')"
fi

# ---- clean shutdown ----------------------------------------------------------------------------
for id in 1 2 3; do cl_stop "$id"; done
for id in 1 2 3; do
  grep -q "silt-node $id: stopped" "$CL_DIR/$id.log" || fail "node $id did not stop cleanly on SIGTERM"
done
checks=$((checks + 1))
echo "cluster_failover: $checks checks passed in $((SECONDS - START)) s"
