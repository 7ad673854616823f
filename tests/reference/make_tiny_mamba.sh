#!/usr/bin/env bash
# make_tiny_mamba.sh: regenerates the Mamba and byte-level BPE test data:
#
#   tests/data/tiny-mamba/{config.json,model.safetensors,tokenizer.json}, tests/data/tiny-mamba.gguf
#       a tiny random Mamba (make_tiny_mamba.py model)
#   tests/data/tiny_mamba_gold.json
#       texts, their token ids from @huggingface/tokenizers (npm, pure JS) on the tiny
#       tokenizer.json + EOS, and the pooled embedding of a plain-PyTorch float64 forward pass
#   tests/data/bpe_neox_hf.json
#       texts and their ids from @huggingface/tokenizers on GPT-NeoX's full tokenizer.json,
#       rebuilt from llama.cpp's ggml-vocab-gpt-neox.gguf (make_tiny_mamba.py neox-tokenizer)
#
#   bash tests/reference/make_tiny_mamba.sh     (needs /usr/bin/python3 with torch, node, npm)
#
# The npm package goes into a temporary directory, never into the repository.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
script=$repo/tests/reference/make_tiny_mamba.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$py "$script" model "$repo/tests/data/tiny-mamba"
$py "$script" texts "$work/texts.json"
$py "$script" bpe-texts "$work/bpe_texts.json"
$py "$script" neox-tokenizer "$work/neox-tokenizer.json"

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --cache "$repo/build/npm-cache" @huggingface/tokenizers@0.2.0 >/dev/null
# texts.json: [string]; writes [{text, ids}] with ids = Tokenizer.encode(text) without specials.
tokenize() {
  node --input-type=module -e '
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";
const [tj, texts, out] = process.argv.slice(1);
const tok = new Tokenizer(JSON.parse(fs.readFileSync(tj, "utf8")), {});
const res = JSON.parse(fs.readFileSync(texts, "utf8")).map(
  (text) => ({ text, ids: tok.encode(text, { add_special_tokens: false }).ids }));
fs.writeFileSync(out, JSON.stringify(res));
' "$@"
}
tokenize "$repo/tests/data/tiny-mamba/tokenizer.json" texts.json ids.json
tokenize neox-tokenizer.json bpe_texts.json bpe_ids.json

$py "$script" gold "$repo/tests/data/tiny-mamba" ids.json "$repo/tests/data/tiny_mamba_gold.json"
$py "$script" bpe-gold bpe_ids.json "$repo/tests/data/bpe_neox_hf.json"
echo "wrote tests/data/tiny-mamba, tiny-mamba.gguf, tiny_mamba_gold.json, bpe_neox_hf.json"
