#!/usr/bin/env bash
# Learned-sparse retrieval: the silt_sparse index on a synthetic SPLADE-like collection
# (bench_sparse.c says how it is generated), then silt_sparse through SQL (bulk load,
# single-row commits, queries) and FTS5 bm25 on Cranfield as a reference point.
#   bash bench/sparse/run.sh BUILD            (about 4 minutes on 2 idle cores; ~1.3 GB RAM)
#   N_DOCS=200000 N_QUERIES=300 bash bench/sparse/run.sh BUILD   (a quicker look)
#   BLOCK_MAX=1,0.9 ... : Block-Max Pruning settings (block_max values; empty: none)
# Everything generated goes to build/bench, nothing into the repository.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
N_DOCS=${N_DOCS:-1000000}
N_QUERIES=${N_QUERIES:-1000}
PRUNE=${PRUNE:-0.01}
HEAP_FACTORS=${HEAP_FACTORS:-0.6,0.5,0.45}
QUERY_CUT=${QUERY_CUT:-8}
BLOCK_MAX=${BLOCK_MAX:-1,0.95,0.91,0.905,0.9}
OUT=build/bench
mkdir -p "$OUT"
cc -std=c11 -O2 -D_GNU_SOURCE -I. -o "$OUT/bench_sparse" bench/sparse/bench_sparse.c \
  index/sparse_index.c index/sparse_segment.c index/sparse_segment_io.c index/sparse_bmp.c core/err.c \
  core/sparse_vec.c -lcjson -lm -lpthread
printf '\n## sparse: %s docs x ~120 non-zeros (Zipf over 30,522 terms), %s queries x ~40\n\n' \
  "$N_DOCS" "$N_QUERIES"
"$OUT/bench_sparse" "$N_DOCS" "$N_QUERIES" 64 "$PRUNE" "$HEAP_FACTORS" "$QUERY_CUT" "$BLOCK_MAX"
/usr/bin/python3 -c "import numpy" 2>/dev/null ||
  { echo "bench/sparse: the SQL part needs numpy for /usr/bin/python3 (apt-get install python3-numpy)" >&2; exit 1; }
/usr/bin/python3 bench/sparse/sql_bench.py --build "$BUILD" --n "${SQL_N:-100000}" --work "$OUT"
