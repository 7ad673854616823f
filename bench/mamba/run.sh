#!/usr/bin/env bash
# Mamba against a transformer as texts grow: embedding time of ONE text of 128, 512, 2048 and
# 8192 tokens for a mamba-130m-shaped Mamba and a BERT-base-shaped BERT (random weights,
# generated into build/bench/mamba-models, not committed), both in silt, and both models'
# plain-PyTorch float32 forward passes (bench/mamba/models.py) on the same ids, 2 threads each.
#
#   bash bench/mamba/run.sh build          (needs /usr/bin/python3 with torch; long: most of
# it is PyTorch, whose BERT at 8,192 tokens took 39 minutes on the loaded 2-core VM)
#
# LENGTHS="128 512" bash bench/mamba/run.sh build   runs fewer lengths;
# REUSE_TORCH=1 bash bench/mamba/run.sh build       reuses the last PyTorch timings.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
LENGTHS=${LENGTHS:-"128 512 2048 8192"}
OUT=build/bench; mkdir -p $OUT
MODELS=$OUT/mamba-models
PY=/usr/bin/python3
if [ ! -f $MODELS/bert-base/model.safetensors ] || [ ! -f $MODELS/mamba-130m/model.safetensors ]; then
  echo "generating random mamba-130m- and BERT-base-shaped models into $MODELS ..."
  $PY bench/mamba/models.py make $MODELS
fi
cc -std=c11 -O2 -D_GNU_SOURCE -I. -o $OUT/bench_mamba bench/mamba/bench_mamba.c \
  $(PKG_CONFIG_PATH=$BUILD pkg-config --static --libs silt) -lsqlite3
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE
# REUSE_TORCH=1 keeps the PyTorch timings of an earlier run (they take most of the time).
if [ "${REUSE_TORCH:-0}" != 1 ] || [ ! -s $OUT/mamba_torch.jsonl ]; then
  $PY bench/mamba/models.py torch $MODELS $LENGTHS > $OUT/mamba_torch.jsonl
fi
$OUT/bench_mamba $MODELS $LENGTHS > $OUT/mamba_silt.jsonl

$PY - $OUT/mamba_torch.jsonl $OUT/mamba_silt.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for p in sys.argv[1:] for l in open(p) if l.strip()]
t = {(r["impl"], r["model"], r["tokens"]): r for r in rows if "impl" in r}
lengths = sorted({r["tokens"] for r in rows if "impl" in r})
print("\n## mamba: embedding time of one text against its length (seconds, best of 2-5 runs)")
print("| tokens | silt Mamba | silt BERT | PyTorch Mamba | PyTorch BERT | silt Mamba tokens/s "
      "| Mamba vs BERT in silt | silt vs PyTorch (Mamba) | silt Mamba peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|")
for n in lengths:
    g = lambda i, m: t.get((i, m, n), {}).get("sec")
    sm, sb, tm, tb = g("silt", "mamba"), g("silt", "bert"), g("torch", "mamba"), g("torch", "bert")
    f = lambda x: "%.3f" % x if x else "-"
    ratio = lambda a, b: "%.2fx" % (a / b) if a and b else "-"
    rss = next((r["peak_rss_mb"] for r in rows if r.get("phase") == "memory" and r["tokens"] == n), "-")
    print(f"| {n} | {f(sm)} | {f(sb)} | {f(tm)} | {f(tb)} | {n / sm:.0f} | "
          f"{ratio(sb, sm)} faster | {ratio(tm, sm)} faster | {rss} |")
for r in rows:
    if "check" in r:
        print(f"\n{r['check']}: {r['value']}")
sm = {n: t[("silt", "mamba", n)]["sec"] for n in lengths if ("silt", "mamba", n) in t}
if len(sm) > 1:
    a, b = min(sm), max(sm)
    print(f"silt Mamba time per token at {b} vs {a} tokens: {sm[b] / b / (sm[a] / a):.2f}x "
          "(1.00 = linear growth)")
PY
