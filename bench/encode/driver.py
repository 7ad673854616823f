#!/usr/bin/python3
"""driver.py: runs bench/encode's workers interleaved and prints the results table.

    driver.py MODEL_DIR BUILD_BENCH_DIR PEERS_DIR ROUNDS THREADS...

Every implementation runs in its own long-lived worker process (model loaded once), one per
thread count: the sgemm peak probes (OpenBLAS as it loads, OpenBLAS with
OPENBLAS_CORETYPE=SkylakeX, its AVX-512 kernels, and silt's own product; the peak is the best
of the three), silt float32, silt int8, PyTorch 1.13 and onnxruntime-node 1.30. A round
asks every worker in turn for one timed batch (32 texts x 128 tokens), starting each round at a
different worker, so that the machine's load (it is shared) falls on all of them alike; the
table reports each one's best and median round and its ratio to onnxruntime in the same run.
One-thread workers are pinned to one CPU with taskset (silt's pool and OpenBLAS then have one
core, as the peers' one-thread settings give them); all get OMP_WAIT_POLICY=PASSIVE.

Worker protocol (stdin/stdout, one JSON line per answer): a {"ready": ...} line after loading,
"time N" -> {"sec": [...]} (or {"gflops": ..., "peak": ...} for the probe), "emb PATH" ->
the batch's embeddings, float32 [32, 384], written to PATH, "quit".
"""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH, TOKENS, H, F, LAYERS = 32, 128, 384, 1536, 6
# Multiply-adds x 2 of one batch: the dense products (QKV, attention output, FFN up and down)
# and attention's two products (QKᵀ and AV over 128 keys); element-wise work is not counted.
FLOP = BATCH * TOKENS * LAYERS * (2 * (4 * H * H + 2 * H * F) + 4 * TOKENS * H)


class Worker:
    def __init__(self, name, threads, argv, env=None):
        self.name, self.threads = name, threads
        e = dict(os.environ)
        e.update({"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
                  "OMP_WAIT_POLICY": "PASSIVE"})
        e.update(env or {})
        if threads == 1:
            argv = ["taskset", "-c", "1"] + argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=e,
                                  text=True, bufsize=1)
        self.ready = self.answer()
        self.samples = []
        self.shape_best = {}

    def answer(self):
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit(f"encode bench: worker {self.name}/{self.threads} died")
        return json.loads(line)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.answer()

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=60)


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def main():
    model, out, peers, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    thread_counts = [int(t) for t in sys.argv[5:]] or [1, 2]
    py, silt = "/usr/bin/python3", os.path.join(out, "silt_worker")
    here = os.path.dirname(os.path.abspath(__file__))
    impls = [
        ("silt float32", lambda t: [silt, model, ""], None),
        ("silt int8", lambda t: [silt, model, '{"int8":true}'], None),
        ("PyTorch 1.13", lambda t: [py, os.path.join(here, "model.py"), "torch", model, str(t)], None),
        ("onnxruntime 1.30", lambda t: ["node", os.path.join(here, "ort_worker.cjs"), peers, model, str(t)], None),
    ]
    probes = [("sgemm (OpenBLAS default)", "sgemm_peak", {}),
              ("sgemm (OpenBLAS SkylakeX)", "sgemm_peak", {"OPENBLAS_CORETYPE": "SkylakeX"}),
              ("sgemm (silt_ops_matmul)", "sgemm_peak_silt", {})]
    workers = []
    for t in thread_counts:
        for name, exe, env in probes:
            workers.append(Worker(name, t, [os.path.join(out, exe)], env))
        for name, argv, env in impls:
            try:
                workers.append(Worker(name, t, argv(t), env))
            except SystemExit as e:  # reported, and the others still run
                print(e, file=sys.stderr)
                continue
            print(f"encode bench: {name} ({t} thread{'s' if t > 1 else ''}) ready: {workers[-1].ready}",
                  file=sys.stderr)
    for w in workers:  # warm-up: first-touch of weights, thread pools, allocator
        w.ask("time 1")
    for r in range(rounds):
        order = workers[r % len(workers):] + workers[:r % len(workers)]
        for w in order:
            a = w.ask("time 1")
            w.samples.append(a["peak"] if "peak" in a else a["sec"][0])
            for shape, gf in a.get("gflops", {}).items():  # facts.md's shapes, for reference
                w.shape_best[shape] = max(gf, w.shape_best.get(shape, 0))
            time.sleep(0.2)  # let spinning BLAS/OpenMP threads of the last worker go idle
        print(f"encode bench: round {r + 1}/{rounds} done", file=sys.stderr)

    # Accuracy: embeddings of the same batch from every 2-thread (else last) worker.
    ref = np.fromfile(os.path.join(model, "ref.bin"), dtype="<f4").reshape(BATCH, H)
    emb = {}
    t_acc = max(thread_counts)
    for w in workers:
        if w.threads == t_acc and not w.name.startswith("sgemm"):
            path = os.path.join(out, "encode_emb_%s.bin" % w.name.replace(" ", "_"))
            w.ask("emb " + path)
            emb[w.name] = np.fromfile(path, dtype="<f4").reshape(BATCH, H)
    for w in workers:
        w.close()
    # CLS pooling (one token's final state, no averaging over 128 tokens) is the stricter
    # test of int8 against float32.
    cls = {}
    for name, opts in (("float32", '{"pooling":"cls"}'), ("int8", '{"pooling":"cls","int8":true}')):
        try:
            w = Worker("silt cls " + name, t_acc, [silt, model, opts])
        except SystemExit as e:
            print(e, file=sys.stderr)
            continue
        path = os.path.join(out, "encode_emb_cls_%s.bin" % name)
        w.ask("emb " + path)
        w.close()
        cls[name] = np.fromfile(path, dtype="<f4").reshape(BATCH, H)

    rows = []
    for t in thread_counts:
        peak = max(max(w.samples) for w in workers if w.threads == t and w.name.startswith("sgemm"))
        base = None
        for w in workers:
            if w.threads != t:
                continue
            if w.name.startswith("sgemm"):
                rows.append({"impl": w.name, "threads": t, "gflops_best": max(w.samples),
                             "gflops_median": statistics.median(w.samples), "shapes": w.shape_best})
                continue
            best, med = min(w.samples), statistics.median(w.samples)
            row = {"impl": w.name, "threads": t, "sec_best": best, "sec_median": med,
                   "texts_per_s": BATCH / best, "tokens_per_s": BATCH * TOKENS / best,
                   "gflops": FLOP / best * 1e-9, "peak_gflops": peak,
                   "tokens_per_s_median": BATCH * TOKENS / med}
            rows.append(row)
            if w.name.startswith("onnxruntime"):
                base = row
        for row in rows:
            if row["threads"] == t and "sec_best" in row and base:
                row["vs_ort"] = base["sec_best"] / row["sec_best"]
                row["vs_ort_median"] = base["sec_median"] / row["sec_median"]
    with open(os.path.join(out, "encode_results.jsonl"), "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")

    print(f"\n## encode: MiniLM-L6-shaped BERT (random weights), batch {BATCH} x {TOKENS} tokens, "
          f"{FLOP / 1e9:.1f} GFLOP per batch, best (median) of {rounds} interleaved rounds")
    print("| encoder | threads | s/batch | texts/s | tokens/s | GFLOP/s | % of sgemm peak | vs onnxruntime |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "sec_best" not in row:
            continue
        print(f"| {row['impl']} | {row['threads']} | {row['sec_best']:.3f} ({row['sec_median']:.3f}) | "
              f"{row['texts_per_s']:.1f} | {row['tokens_per_s']:.0f} ({row['tokens_per_s_median']:.0f}) | "
              f"{row['gflops']:.1f} | {100 * row['gflops'] / row['peak_gflops']:.0f}% | "
              f"{row.get('vs_ort', 0):.2f}x ({row.get('vs_ort_median', 0):.2f}x) |")
    print("\nsgemm peak probe: the model's dense products of one batch (6 x QKV, attention output, "
          "FFN up, FFN down on 4096 rows), GFLOP/s best (median) over the rounds; the peak is the best probe:")
    for row in rows:
        if "gflops_best" in row:
            shapes = ", ".join(f"{k} {v:.0f}" for k, v in row["shapes"].items())
            print(f"- {row['impl']}, {row['threads']} thread(s): {row['gflops_best']:.1f} ({row['gflops_median']:.1f}); "
                  f"facts.md's shapes, best: {shapes}")
    print("\nAccuracy on the benchmark batch (min cosine over the 32 texts):")
    for name, e in emb.items():
        print(f"- {name} vs float64 PyTorch reference: {cosines(e, ref).min():.6f}")
    if "silt int8" in emb and "silt float32" in emb:
        print(f"- silt int8 vs silt float32, mean pooling: {cosines(emb['silt int8'], emb['silt float32']).min():.6f}")
    if len(cls) == 2:
        print(f"- silt int8 vs silt float32, CLS pooling (one token, stricter): "
              f"{cosines(cls['int8'], cls['float32']).min():.6f}")


if __name__ == "__main__":
    main()
