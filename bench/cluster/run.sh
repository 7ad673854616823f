#!/usr/bin/env bash
# A 3-node silt cluster (silt-node + silt-sql over loopback) against the same statements on a
# local database file (sqlite3 shell with silt loaded, WAL mode), in one run:
#   - write throughput: N precomputed DIM-d float32 vectors in INSERTs of BATCH rows, into a
#     silt_dense table (index INDEX) when the build has silt_dense, else a plain table of
#     silt_vec BLOBs (brute-force queries);
#   - query latency: Q KNN queries (k = 10) over one connection; the cost of the first query
#     (loading the index on a new connection) is reported apart;
#   - failover: TRIALS times, SIGKILL of the leader, then the time until a new leader answers
#     SELECT 1 and until it answers the first KNN query (election + index load).
# KEEP=1 keeps the work dir (node logs) for a look afterwards.
# Knobs (environment): N=20000 DIM=384 BATCH=200 Q=100 ROUNDS=3 TRIALS=3 LATENCY_MS=50
#   INDEX=Flat (any FAISS index_factory string)
#   bash bench/cluster/run.sh build
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
N=${N:-20000}; DIM=${DIM:-384}; BATCH=${BATCH:-200}; Q=${Q:-100}; TRIALS=${TRIALS:-3}
LATENCY_MS=${LATENCY_MS:-50}; INDEX=${INDEX:-Flat}
for b in silt-node silt-sql silt.so; do
  [ -e "$BUILD/$b" ] || { echo "bench/cluster: $BUILD/$b missing (libdqlite-dev installed? make)"; exit 1; }
done
. cluster/cluster_lib.sh
# A connection's first KNN query loads the index: seconds at 100k vectors on a busy machine.
bsql() { cl_sql --timeout-ms 600000 "$@"; }
OUT=$(mktemp -d /tmp/silt-bench-cluster.XXXXXX)
cl_init "$BUILD" "$OUT/cluster" 3 "$LATENCY_MS"
CL_KEEP=${KEEP:-0}
trap 'cl_cleanup; [ "$CL_KEEP" = 1 ] && echo "kept $OUT" || rm -rf "$OUT"' EXIT

# ---- data: a Gaussian mixture (structured, like real embeddings), fixed seed ------------------
/usr/bin/python3 - "$OUT" "$N" "$DIM" "$BATCH" "$Q" <<'PY'
import sys, numpy as np
out, n, dim, batch, q = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = np.random.default_rng(7)
centers = rng.normal(size=(64, dim)).astype(np.float32)
def draw(m):
    x = centers[rng.integers(0, 64, m)] + 0.3 * rng.normal(size=(m, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype('<f4')
x, qs = draw(n), draw(q)
for kind in ("dense", "plain"):
    with open(f"{out}/writes_{kind}.sql", "w") as f:
        for s in range(0, n, batch):
            rows = []
            for i in range(s, min(n, s + batch)):
                lit = "X'" + x[i].tobytes().hex() + "'"
                rows.append(f"({i + 1}, {lit})" if kind == "dense" else f"({i + 1}, silt_vec({lit}))")
            table = "vecs(rowid, embedding)" if kind == "dense" else "vecs(id, v)"
            f.write(f"INSERT INTO {table} VALUES {', '.join(rows)};\n")
    with open(f"{out}/queries_{kind}.sql", "w") as f:
        for v in qs:
            lit = "X'" + v.tobytes().hex() + "'"
            if kind == "dense":
                f.write(f"SELECT rowid FROM vecs WHERE embedding MATCH {lit} AND k = 10;\n")
            else:
                f.write(f"SELECT id FROM vecs ORDER BY silt_distance_l2(v, {lit}) LIMIT 10;\n")
PY
if sqlite3 -cmd ".load $BUILD/silt" :memory: "SELECT count(*) FROM pragma_module_list WHERE name = 'silt_dense'" | grep -qx 1; then
  KIND=dense; DDL="CREATE VIRTUAL TABLE vecs USING silt_dense(dim=$DIM, metric=l2, index='$INDEX')"
  COUNT="SELECT count(*) FROM vecs_data" # the truth table: counting through vecs would load the index
  WHAT="silt_dense(dim=$DIM, index='$INDEX')"
else
  KIND=plain; DDL="CREATE TABLE vecs(id INTEGER PRIMARY KEY, v BLOB)"
  COUNT="SELECT count(*) FROM vecs"
  WHAT="plain table of silt_vec BLOBs (no silt_dense in this build: brute-force KNN)"
fi
head -n 1 "$OUT/queries_$KIND.sql" >"$OUT/warm.sql"
cat "$OUT/warm.sql" "$OUT/queries_$KIND.sql" >"$OUT/warm_queries.sql"
sec() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Statement times come from the clients themselves (sqlite3's .timer, silt-sql --timer), so
# process start-up is not counted. first_ms: the first of the file's statements; rest_ms: the
# mean of the others.
first_ms() { awk '/^Run Time: real/ { print $4 * 1000; exit }'; }
rest_ms() { awk '/^Run Time: real/ { if (n++) { s += $4 } } END { printf "%.3f", (n > 1 ? s * 1000 / (n - 1) : 0) }'; }
sum_s() { awk '/^Run Time: real/ { s += $4 } END { printf "%.3f", s }'; }

best() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 < a + 0) print b; else print a }'; }

# ---- local database ---------------------------------------------------------------------------------
LDB=$OUT/local.db
# Passive OpenMP waiting, as silt-node sets for itself: with libgomp's default (spinning) a
# busy 2-core machine made single KNN queries 10-25x slower, in both processes.
local_sql() { OMP_WAIT_POLICY=PASSIVE sqlite3 -batch -cmd ".load $BUILD/silt" -cmd ".timer on" "$LDB" "$@"; }
local_sql "PRAGMA journal_mode=WAL" "$DDL" >/dev/null
local_write=$(local_sql <"$OUT/writes_$KIND.sql" | sum_s)

# ---- cluster ------------------------------------------------------------------------------------------
cl_start 1 --bootstrap
cl_start 2 --join "$(cl_addr 1)"
cl_start 3 --join "$(cl_addr 1)"
cl_wait_voters 3 60
bsql "$DDL"
cluster_write=$(bsql --timer <"$OUT/writes_$KIND.sql" | sum_s)
[ "$(bsql "$COUNT")" = "$N" ] || { echo "bench/cluster: row count mismatch"; exit 1; }
rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$(cl_pid "$1")/status"; }
rss="$(rss_mb 1) / $(rss_mb 2) / $(rss_mb 3)"

# Queries: ROUNDS rounds alternating local and cluster (the machine is shared: noise hits
# both alike), best of each. The first query of a connection loads the index.
local_first=""; local_q=""; cluster_first=""; cluster_q=""; cluster_p50=""
p50_ms() { awk '/^Run Time: real/ { if (n++) print $4 * 1000 }' | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", (NR ? v[int((NR + 1) / 2)] : 0) }'; }
for ((r = 0; r < ${ROUNDS:-3}; r++)); do
  out=$(local_sql <"$OUT/warm_queries.sql")
  local_first=$(best "$local_first" "$(first_ms <<<"$out")"); local_q=$(best "$local_q" "$(rest_ms <<<"$out")")
  local_p50=$(best "${local_p50:-}" "$(p50_ms <<<"$out")")
  out=$(bsql --timer <"$OUT/warm_queries.sql")
  cluster_first=$(best "$cluster_first" "$(first_ms <<<"$out")"); cluster_q=$(best "$cluster_q" "$(rest_ms <<<"$out")")
  cluster_p50=$(best "$cluster_p50" "$(p50_ms <<<"$out")")
done
# Same answers from both (exact searches only): the cluster runs the same SQLite and silt.
if [ "$KIND" = plain ] || [ "$INDEX" = Flat ]; then
  diff <(sqlite3 -batch -cmd ".load $BUILD/silt" "$LDB" <"$OUT/queries_$KIND.sql") \
       <(bsql <"$OUT/queries_$KIND.sql") >/dev/null || { echo "bench/cluster: local and cluster answers differ"; exit 1; }
fi
# One round trip with nothing to compute: the protocol and the leader's read barrier.
printf 'SELECT 1;\n%.0s' $(seq 1 201) >"$OUT/ones.sql"
rtt_ms=$(bsql --timer <"$OUT/ones.sql" | rest_ms)

# ---- failover ----------------------------------------------------------------------------------------
fo_select=(); fo_knn=()
for ((t = 1; t <= TRIALS; t++)); do
  L=$(cl_leader)
  cl_kill9 "$L"
  t0=$EPOCHREALTIME
  bsql "SELECT 1" >/dev/null; t1=$EPOCHREALTIME
  bsql <"$OUT/warm.sql" >/dev/null; t2=$EPOCHREALTIME
  fo_select+=("$(sec "$t0" "$t1")"); fo_knn+=("$(sec "$t0" "$t2")")
  cl_start "$L"
  cl_wait_voters 3 120
done
[ "$(bsql "$COUNT")" = "$N" ] || { echo "bench/cluster: rows lost in failovers"; exit 1; }

# ---- report ------------------------------------------------------------------------------------------
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
printf '\n## cluster: 3 silt-node processes on loopback vs a local database (%s)\n' "$(date +%F)"
printf '%s rows of %s, %s rows per INSERT, network latency setting %s ms, %s queries (k = 10)\n\n' \
  "$N" "$WHAT" "$BATCH" "$LATENCY_MS" "$Q"
printf '| measure | local file (WAL) | 3-node cluster |\n|---|---|---|\n'
printf '| write: rows/s | %s | %s |\n' "$(rate "$N" "$local_write")" "$(rate "$N" "$cluster_write")"
printf '| write: s in statements | %s | %s |\n' "$local_write" "$cluster_write"
printf '| KNN query: mean ms, warm connection (best of %s rounds) | %s | %s |\n' "${ROUNDS:-3}" "$local_q" "$cluster_q"
printf '| KNN query: median ms, warm connection | %s | %s |\n' "$local_p50" "$cluster_p50"
printf '| first KNN query of a connection (loads the index): ms | %s | %s |\n' "$local_first" "$cluster_first"
printf '| SELECT 1 round trip: ms | - | %s |\n' "$rtt_ms"
printf '| memory after the writes | %s MB database file | %s MB RSS per node |\n' \
  "$(du -m "$LDB" | cut -f1)" "$rss"
printf '\nfailover (SIGKILL of the leader), %s trials: first answer to SELECT 1 after %s s; ' "$TRIALS" "${fo_select[*]}"
printf 'first KNN answer (election + index load) after %s s\n' "${fo_knn[*]}"
