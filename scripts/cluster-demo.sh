#!/usr/bin/env bash
# A replicated silt cluster in one minute: three silt-node processes on loopback ports form
# a dqlite (Raft) cluster; data is loaded through the leader (silt_ingest of a file:// CSV,
# a silt_dense table of precomputed vectors, and one embedded automatically by the default
# model); KNN queries run through the leader; then the leader is killed with SIGKILL and a
# new leader answers the same queries with the same results, every committed row present.
# Everything started here is stopped at the end (trap), even on failure or Ctrl-C.
#
#   bash scripts/cluster-demo.sh [BUILD]        (after `make`; KEEP=1 keeps the logs)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
for b in silt-node silt-sql; do
  [ -x "$BUILD/$b" ] || { echo "cluster-demo: $BUILD/$b missing: run scripts/setup.sh (libdqlite-dev) and make"; exit 1; }
done
. cluster/cluster_lib.sh
CL_KEEP=${KEEP:-0}
cl_init "$BUILD" "$(mktemp -d /tmp/silt-cluster-demo.XXXXXX)" 3 100
trap cl_cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf 'silt-sql> %s\n' "$*" | sed 's/^\(.\{160\}\).*/\1 .../'; cl_sql --header "$@"; }

say "starting 3 nodes on $CL_SERVERS (network latency 100 ms: election timeout 1.5 s)"
cl_start 1 --bootstrap
cl_start 2 --join "$(cl_addr 1)"
cl_start 3 --join "$(cl_addr 1)"
cl_wait_voters 3 30
cl_sql --cluster | sort
echo "leader: node $(cl_leader)"
has() { [ "$(cl_sql "SELECT count(*) FROM pragma_$1_list WHERE name = '$2'")" -ge 1 ]; }

say "loading data through the leader"
cat >"$CL_DIR/docs.csv" <<'CSV'
id,topic,body
1,pets,The cat sleeps on the warm windowsill all afternoon
2,pets,Dogs need a long walk every morning
3,pets,Feeding a kitten small meals several times a day
4,finance,Stock markets fell sharply after the interest rate decision
5,finance,The central bank kept interest rates unchanged
6,finance,Bond yields rose as investors sold government debt
7,space,The rocket reached orbit and deployed two satellites
8,space,Astronomers found water ice in a crater on the Moon
9,space,A new telescope photographed a distant galaxy
10,food,Slow-cooked tomato sauce with garlic and basil
11,food,Baking sourdough bread needs a lively starter
12,food,"A salad of lentils, feta and roasted peppers"
CSV
loaded=0
if has function silt_ingest; then
  # silt-sql runs it inside BEGIN ... COMMIT: dqlite replicates what write requests commit.
  # The file is read by the leader; the followers receive the pages.
  if run "SELECT silt_ingest('file://$CL_DIR/docs.csv', 'docs') AS rows_loaded"; then loaded=1; fi
fi
if [ $loaded = 0 ]; then
  run "CREATE TABLE docs(id INTEGER PRIMARY KEY, topic TEXT, body TEXT)"
  # The local sqlite3 shell turns the CSV into INSERT statements; silt-sql sends them.
  sqlite3 -batch :memory: -cmd ".import --csv $CL_DIR/docs.csv docs" -cmd ".mode insert docs" \
    "SELECT * FROM docs" | cl_sql
fi
# Precomputed vectors: one axis per topic plus a little per-row offset, normalised by silt.
VEC="silt_normalize(silt_vec(json_array(topic = 'pets', topic = 'finance', topic = 'space', topic = 'food', id / 10.0)))"
if has module silt_dense; then
  run "CREATE VIRTUAL TABLE doc_vec USING silt_dense(dim=5, metric=cosine)"
  run "INSERT INTO doc_vec(rowid, embedding) SELECT id, $VEC FROM docs"
  KNN_VEC="SELECT d.id, d.topic, round(v.distance, 6) AS distance FROM doc_vec v JOIN docs d ON d.id = v.rowid
           WHERE v.embedding MATCH silt_normalize(silt_vec('[0, 0, 1, 0, 0.8]')) AND v.k = 3 ORDER BY v.distance"
  if has function silt_embed && cl_sql "SELECT silt_vec_dim(silt_embed('probe'))" >/dev/null 2>&1; then
    run "CREATE VIRTUAL TABLE doc_text USING silt_dense(dim=512, metric=cosine, model=default)"
    echo "(each body is embedded once, on the leader; the followers receive the pages)"
    run "INSERT INTO doc_text(rowid, content) SELECT id, body FROM docs"
    KNN_TEXT="SELECT d.id, d.body, round(t.distance, 4) AS distance FROM doc_text t JOIN docs d ON d.id = t.rowid
              WHERE t.content MATCH 'my kitty naps in the sun' AND t.k = 3 ORDER BY t.distance"
  else
    KNN_TEXT="SELECT 'default model unavailable: no auto-embedding in this run' AS note"
  fi
else
  echo "(silt_dense not in this build: brute-force KNN with silt_distance_cosine)"
  run "CREATE TABLE doc_vec(id INTEGER PRIMARY KEY, embedding BLOB); INSERT INTO doc_vec SELECT id, $VEC FROM docs"
  KNN_VEC="SELECT d.id, d.topic, round(silt_distance_cosine(v.embedding, silt_normalize(silt_vec('[0, 0, 1, 0, 0.8]'))), 4) AS distance
           FROM doc_vec v JOIN docs d ON d.id = v.id ORDER BY distance, d.id LIMIT 3"
  KNN_TEXT="SELECT 'silt_dense unavailable: no auto-embedding in this run' AS note"
fi
COUNTS="SELECT (SELECT count(*) FROM docs) AS docs, (SELECT count(*) FROM doc_vec) AS vectors"

say "KNN queries through the leader (node $(cl_leader))"
queries() { run "$KNN_VEC"; run "$KNN_TEXT"; run "$COUNTS"; }
BEFORE=$(queries); echo "$BEFORE"

OLD=$(cl_leader)
say "SIGKILL of the leader, node $OLD"
cl_kill9 "$OLD"
t0=$(cl_now_ms)
cl_sql --timeout-ms 30000 "SELECT 1" >/dev/null
t1=$(cl_now_ms)
echo "node $(cl_leader) leads; first answer $((t1 - t0)) ms after the kill"

say "the same queries, answered by the new leader"
AFTER=$(queries); echo "$AFTER"
if [ "$BEFORE" == "$AFTER" ]; then
  echo; echo "same results before and after the failover; every committed row is there"
else
  echo; echo "RESULTS DIFFER:"; diff <(echo "$BEFORE") <(echo "$AFTER") || true; exit 1
fi

say "the killed node comes back as a follower and catches up"
cl_start "$OLD"
cl_wait_voters 3 30
cl_sql --cluster | sort
tail -n 2 "$CL_DIR/$OLD.log"
say "stopping the cluster"
