#!/usr/bin/env bash
# make demo: the main job on the default model and real public data (npm vega-datasets,
# fetched by scripts/setup.sh): ingest a small lake of CSV files, find joinable columns,
# build a semantic index with auto-embedding, answer natural-language queries, and fuse
# semantic and keyword search in one statement. Each step shows its SQL, its result and
# its time.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
DATA=$PWD/build/demo-data/vega
WORK=$(mktemp -d)
DB=$WORK/lake.db
trap 'rm -rf "$WORK"' EXIT

has_module() {
  [ "$(sqlite3 -cmd ".load $BUILD/silt" "$DB" "SELECT count(*) FROM pragma_module_list WHERE name = '$1'")" = 1 ]
}
step() { # title, then SQL on stdin
  local title=$1 sql t0 t1
  sql=$(cat)
  printf '\n\033[1m== %s\033[0m\n' "$title"
  printf '%s\n' "$sql" | sed 's/^/   sql> /'
  t0=$(date +%s.%N)
  printf '%s\n' "$sql" | sqlite3 -batch -box -cmd ".load $BUILD/silt" "$DB"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "   (%.2f s)\n", b - a }'
}

echo "silt $(sqlite3 -cmd ".load $BUILD/silt" :memory: 'SELECT silt_version()') demo — database $DB"

step "The default model needs no registration" <<'SQL'
SELECT name, arch, kind, dim, max_tokens FROM silt_models;
SQL

step "1. Ingest every CSV file of the lake (types inferred, one transaction per file)" <<SQL
SELECT tbl, rows, status FROM silt_ingest_dir('$DATA', '*.csv');
SQL

if has_module silt_join; then
  step "2. Which columns of the lake join with flights_airport.origin?" <<'SQL'
CREATE VIRTUAL TABLE lake_join USING silt_join(model=default);
INSERT INTO lake_join(tbl) SELECT name FROM sqlite_schema
 WHERE type = 'table' AND name NOT LIKE 'silt%' AND name NOT LIKE 'lake_join%' AND sql NOT LIKE 'CREATE VIRTUAL%';
SELECT tbl, col, round(score, 3) AS score, round(containment, 3) AS containment
  FROM lake_join WHERE query_table = 'flights_airport' AND query_column = 'origin' AND k = 5;
SELECT tbl, col, round(containment, 3) AS containment
  FROM lake_join WHERE query_table = 'lookup_groups' AND query_column = 'person' AND k = 3;
SQL
else
  step "2. Joinable columns (silt_join not built yet): exact containment of flights_airport.origin in airports.iata" <<'SQL'
SELECT count(DISTINCT origin) AS distinct_origins,
       round(1.0 * count(DISTINCT CASE WHEN origin IN (SELECT iata FROM airports) THEN origin END)
             / count(DISTINCT origin), 3) AS containment_in_airports_iata
  FROM flights_airport;
SQL
fi

step "3. A semantic index over 3,376 airports, embedded in-process with the default model" <<'SQL'
CREATE VIRTUAL TABLE airport_vec USING silt_dense(dim=512, metric=cosine, index='HNSW32', model=default);
INSERT INTO airport_vec(rowid, content)
  SELECT rowid, name || ', ' || city || ', ' || state FROM airports;
SELECT count(*) AS indexed FROM airport_vec;
SQL

step "4. Natural-language queries" <<'SQL'
SELECT a.iata, a.name, a.city, a.state, round(v.distance, 3) AS distance
  FROM airport_vec v JOIN airports a ON a.rowid = v.rowid
 WHERE v.content MATCH 'heliport downtown' AND k = 3;
SELECT a.iata, a.name, a.city, a.state, round(v.distance, 3) AS distance
  FROM airport_vec v JOIN airports a ON a.rowid = v.rowid
 WHERE v.content MATCH 'army airfield' AND k = 3;
SQL

step "5. Hybrid: semantic and keyword (FTS5 bm25) ranks fused by weighted reciprocal rank fusion" <<'SQL'
CREATE VIRTUAL TABLE airport_fts USING fts5(body);
INSERT INTO airport_fts(rowid, body) SELECT rowid, name || ', ' || city || ', ' || state FROM airports;
WITH q(text) AS (SELECT 'regional airport Denver Colorado'),
sem AS (SELECT rowid, row_number() OVER (ORDER BY distance) AS r
          FROM airport_vec WHERE content MATCH (SELECT text FROM q) AND k = 50),
kw AS (SELECT rowid, row_number() OVER (ORDER BY rank) AS r
         FROM airport_fts WHERE airport_fts MATCH 'denver OR colorado OR regional' LIMIT 50),
fused AS (SELECT rowid, sum(w / (60.0 + r)) AS score FROM (
            SELECT rowid, r, 0.5 AS w FROM sem UNION ALL SELECT rowid, r, 0.5 FROM kw)
          GROUP BY rowid)
SELECT a.iata, a.name, a.city, a.state, round(f.score * 1000, 2) AS rrf_x1000
  FROM fused f JOIN airports a ON a.rowid = f.rowid ORDER BY f.score DESC LIMIT 5;
SQL
echo
echo "demo: done"
