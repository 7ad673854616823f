#!/usr/bin/env bash
# Block-Max Pruning prototype (bmp_proto.c) against the exact and the current fast mode of one
# segment, on bench_sparse.c's synthetic collection, settings interleaved per query.
#   bash bench/sparse/bmp.sh BUILD                 (1,000,000 docs, 200 queries: ~8 minutes, ~3.5 GB)
#   N_DOCS=100000 N_QUERIES=100 bash bench/sparse/bmp.sh BUILD   (a quick look)
#   BLOCKS=8,16 ALPHAS=1,0.8 TERMS=1,0.5 SCORE=f ORDER=heavy bash bench/sparse/bmp.sh BUILD
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
OUT="$BUILD/bench"
mkdir -p "$OUT"
cc -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I. -o "$OUT/bmp_proto" bench/sparse/bmp_proto.c \
  index/sparse_segment.c index/sparse_segment_io.c index/sparse_bmp.c core/err.c core/sparse_vec.c -lcjson -lm -lpthread
uptime
"$OUT/bmp_proto" "${N_DOCS:-1000000}" "${N_QUERIES:-200}" "${BLOCKS:-4,8,16,32,64}" \
  "${ALPHAS:-1,0.95,0.9,0.85,0.8}" "${TERMS:-1}" "${SCORE:-q}" "${ORDER:-generated}"
uptime
