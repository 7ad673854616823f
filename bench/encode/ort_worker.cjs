// ort_worker.cjs: onnxruntime-node worker of bench/encode (see driver.py for the protocol).
//
//   node bench/encode/ort_worker.cjs PEERS_DIR MODEL_DIR THREADS
//
// Runs MODEL_DIR/model.onnx (bench/encode/model.py's torch.onnx export) on the ids in
// MODEL_DIR/ids.bin with THREADS intra-op threads, one inter-op thread, sequential execution
// and every graph optimisation on: the settings a user serving embeddings would pick.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const [peers, dir, threadsArg] = process.argv.slice(2);
const ort = require(path.join(peers, 'onnxruntime', 'node_modules', 'onnxruntime-node'));
const BATCH = 32, TOKENS = 128;

async function main() {
  const threads = parseInt(threadsArg, 10);
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const raw = fs.readFileSync(path.join(dir, 'ids.bin'));
  const ids32 = new Int32Array(raw.buffer, raw.byteOffset, BATCH * TOKENS);
  const ids = new ort.Tensor('int64', BigInt64Array.from(ids32, (v) => BigInt(v)), [BATCH, TOKENS]);
  const run = async () => (await session.run({ input_ids: ids })).embedding;
  const pkg = require(path.join(peers, 'onnxruntime', 'node_modules', 'onnxruntime-node', 'package.json'));
  process.stdout.write(JSON.stringify({ ready: 'onnxruntime-node ' + pkg.version, threads }) + '\n');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const cmd = line.trim().split(/\s+/);
    if (cmd[0] === 'quit' || cmd[0] === '') break;
    if (cmd[0] === 'time') {
      const sec = [];
      for (let i = 0; i < parseInt(cmd[1], 10); i++) {
        const t0 = process.hrtime.bigint();
        await run();
        sec.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      process.stdout.write(JSON.stringify({ sec }) + '\n');
    } else if (cmd[0] === 'emb') {
      const out = await run();
      fs.writeFileSync(cmd[1], Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
      process.stdout.write(JSON.stringify({ ok: 1 }) + '\n');
    }
  }
  process.exit(0);
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
