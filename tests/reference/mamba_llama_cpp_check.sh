#!/usr/bin/env bash
# mamba_llama_cpp_check.sh: a third opinion on the tiny Mamba goldens, from llama.cpp itself
# (the prebuilt CPU binary of npm node-llama-cpp@3.21.1, installed into a temporary
# directory). For every text of tests/data/tiny_mamba_gold.json it tokenizes the text with
# llama.cpp's tokenizer on tests/data/tiny-mamba.gguf, appends EOS (0), takes llama.cpp's
# embedding (the last position after the final norm, for a model without pooling), L2-normalises
# it and compares ids and values with the golden (made by @huggingface/tokenizers and PyTorch).
#
#   bash tests/reference/mamba_llama_cpp_check.sh     (needs node, npm and the npm registry)
#
# Last run: {"tokens_match":"11/11","max_abs_diff":6.7e-8}.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --cache "$repo/build/npm-cache" node-llama-cpp@3.21.1 >/dev/null
# A script file, not `node -e`: node-llama-cpp tests its binary in a child process that
# inherits node's arguments.
cat > check.mjs <<'JS'
import { getLlama } from "node-llama-cpp";
import fs from "fs";
const [gguf, goldPath] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: gguf });
const gold = JSON.parse(fs.readFileSync(goldPath, "utf8"));
const ctx = await model.createEmbeddingContext({ contextSize: 4096, batchSize: 4096 });
let maxd = 0, same = 0;
for (const c of gold.cases) {
  const ids = [...model.tokenize(c.text, false), 0];
  same += ids.length === c.ids.length && ids.every((v, i) => v === c.ids[i]);
  const v = Array.from((await ctx.getEmbeddingFor(ids)).vector);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  v.forEach((x, i) => { maxd = Math.max(maxd, Math.abs(x / norm - c.embedding[i])); });
}
console.log(JSON.stringify({ tokens_match: `${same}/${gold.cases.length}`, max_abs_diff: maxd }));
JS
node check.mjs "$repo/tests/data/tiny-mamba.gguf" "$repo/tests/data/tiny_mamba_gold.json"
