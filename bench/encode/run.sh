#!/usr/bin/env bash
# Encoder throughput: a MiniLM-L6-shaped BERT (6 layers, hidden 384, 12 heads, FFN 1536,
# vocab 30522; random weights, fixed seed, generated into build/bench/encode-minilm, not
# committed) run by silt (C encoder API, float32 and {"int8":true}), by PyTorch 1.13
# (/usr/bin/python3, Debian python3-torch) and by onnxruntime-node 1.30 (npm, the same weights
# exported with torch.onnx.export), on one batch of 32 texts x 128 tokens, with 1 and 2
# threads, interleaved in one run, against the sgemm peak measured in the same run.
#
#   bash bench/encode/run.sh [BUILD]          (~10 minutes on the shared 2-core machine)
#   BENCH_ENCODE_ROUNDS=3 BENCH_ENCODE_THREADS=2 bash bench/encode/run.sh build   quicker
#
# BUILD must hold libsilt.a and silt.pc (`make`). driver.py says how the workers are run.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
ROUNDS=${BENCH_ENCODE_ROUNDS:-5}
THREADS=${BENCH_ENCODE_THREADS:-"1 2"}
OUT=build/bench; mkdir -p "$OUT"
MODEL=$OUT/encode-minilm
PY=/usr/bin/python3
ROOT=$PWD

# The model and its ONNX export are remade when model.py changes.
stamp=$(sha256sum bench/encode/model.py | cut -c1-16)
if [ "$(cat "$MODEL/.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "encode: generating the MiniLM-shaped model into $MODEL (about a minute)..." >&2
  rm -rf "$MODEL"; mkdir -p "$MODEL"
  $PY bench/encode/model.py make "$MODEL" 2>"$OUT/encode_export.log"
  echo "$stamp" > "$MODEL/.stamp"
fi

ORT=bench/.peers/onnxruntime
if [ ! -f "$ORT/node_modules/onnxruntime-node/package.json" ]; then
  echo "encode: installing onnxruntime-node 1.30.0 into $ORT..." >&2
  mkdir -p "$ORT"
  (cd "$ORT" && { [ -f package.json ] || npm init -y >/dev/null; } &&
   ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi

cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -I. -o "$OUT/silt_worker" bench/encode/silt_worker.c \
  $(PKG_CONFIG_PATH=$BUILD pkg-config --static --libs silt) -lsqlite3
cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -o "$OUT/sgemm_peak" bench/encode/sgemm_peak.c -lopenblas
cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -I. -DSILT_SGEMM -o "$OUT/sgemm_peak_silt" bench/encode/sgemm_peak.c \
  $(PKG_CONFIG_PATH=$BUILD pkg-config --static --libs silt) -lsqlite3

$PY bench/encode/driver.py "$MODEL" "$OUT" "$ROOT/bench/.peers" "$ROUNDS" $THREADS
