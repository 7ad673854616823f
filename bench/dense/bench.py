#!/usr/bin/python3
"""bench/dense/bench.py: silt_dense against sqlite-vec, sqlite-vss and sqlite-vector, in one
run, on the same vectors and queries (run through bench/dense/run.sh, which fetches the
peers).

For each engine, in its own process (so that RSS is its own): bulk insert of N x 384
float32 vectors in one transaction into a file database (WAL, synchronous=NORMAL), the
resident memory after it, single-row autocommit insert latency at N rows, then k=10
queries one at a time through SQL: queries per second and recall@10 against exact search
(numpy). Three data sets: a Gaussian mixture with low intrinsic dimension (64 clusters in a
16-d latent space projected to 384-d, plus noise), random-normal vectors, which are the
worst case for graph indexes, and real embeddings: rows of the FiveThirtyEight lake turned
into text ("column: value; ...") and embedded with silt's default model (USE-Lite, 512-d),
--real-n rows (default 20,000: the model embeds ~130 texts/s on this 2-core machine) plus
200 held-out rows as queries; the embeddings are cached in --out (gitignored).

Usage: bench.py --build build [--n 100000] [--real-n 20000] [--lake DIR] [--peers bench/.peers]
                [--out bench/out] [--only LABEL] [--skip 'LABEL/DATA;...']
Needs /usr/bin/python3 (its sqlite3 module can load extensions) and numpy.
"""
import argparse
import csv
import glob
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time

import numpy as np
import random

DIM = 384
K = 10


def make_data(kind, n, nq, seed):
    rng = np.random.default_rng(seed)
    if kind == "random":
        x = rng.standard_normal((n + nq, DIM), dtype=np.float32)
    else:
        latent, clusters = 16, 64
        centers = rng.standard_normal((clusters, latent)) * 3.0
        proj = rng.standard_normal((latent, DIM)) / np.sqrt(latent)
        c = rng.integers(0, clusters, n + nq)
        z = centers[c] + rng.standard_normal((n + nq, latent))
        x = (z @ proj + 0.05 * rng.standard_normal((n + nq, DIM))).astype(np.float32)
    return np.ascontiguousarray(x[:n]), np.ascontiguousarray(x[n:])


def lake_texts(lake):
    """Every data row of every CSV under lake as 'column: value; ...' (empty values left
    out, 400 characters at most: the model reads 128 tokens), in sorted file order."""
    texts = []
    for path in sorted(glob.glob(os.path.join(lake, "**", "*.csv"), recursive=True)):
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            rows = csv.reader(f)
            head = next(rows, None) or []
            for row in rows:
                t = "; ".join(f"{h}: {v}" for h, v in zip(head, row) if v.strip())
                if t:
                    texts.append(t[:400])
    return texts


def make_real(args, n, nq):
    """n + nq lake rows (a fixed-seed sample) embedded with silt's default model through a
    silt_dense table with model=default (texts embedded in batches at commit). Cached."""
    cache = os.path.join(args.out, f"lake_use_lite_{n}_{nq}.npy")
    if os.path.exists(cache):
        x = np.load(cache)
    else:
        texts = lake_texts(args.lake)
        if len(texts) < n + nq:
            raise SystemExit(f"bench/dense: {args.lake} has {len(texts)} rows, need {n + nq}")
        pick = random.Random(538).sample(range(len(texts)), n + nq)
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.enable_load_extension(True)
        db.load_extension(os.path.join(args.build, "silt"))
        db.execute("CREATE VIRTUAL TABLE e USING silt_dense(dim=512, model=default)")
        t = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO e(rowid, content) VALUES (?, ?)",
                       ((i + 1, texts[j]) for i, j in enumerate(pick)))
        db.execute("COMMIT")
        el = time.perf_counter() - t
        print(f"# embedded {n + nq} lake rows with the default model in {el:.0f} s "
              f"({(n + nq) / el:.0f} texts/s)", flush=True)
        x = np.stack([np.frombuffer(b, dtype=np.float32) for (b,) in
                      db.execute("SELECT embedding FROM e ORDER BY rowid")])
        db.close()
        np.save(cache, x)
    return np.ascontiguousarray(x[:n]), np.ascontiguousarray(x[n:])


def exact_topk(x, q, k):
    xx = (x * x).sum(1)
    out = np.empty((len(q), k), dtype=np.int64)
    for i in range(0, len(q), 64):
        d = xx[None, :] - 2 * q[i:i + 64] @ x.T
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, 1).argsort(1)
        out[i:i + 64] = np.take_along_axis(part, order, 1)
    return out + 1  # rowids start at 1


def rss_mb():
    vals = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                vals[k] = int(v.split()[0]) / 1024
    return vals.get("VmRSS", 0), vals.get("VmHWM", 0)


# ---- engines: each knows how to create, insert and query --------------------------------

class Engine:
    name = ""
    def __init__(self, args, conf):
        self.args, self.conf = args, conf
        self.dim = DIM  # the worker sets the data set's
    def connect(self, path):
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.enable_load_extension(True)
        for so in self.libs():
            db.load_extension(so)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        return db
    def insert_sql(self):
        return "INSERT INTO v(rowid, embedding) VALUES (?, ?)"


class Silt(Engine):
    def libs(self):
        return [os.path.join(self.args.build, "silt")]
    def create(self, db):
        db.execute(f"CREATE VIRTUAL TABLE v USING silt_dense(dim={self.dim}, index='{self.conf['index']}')")
    def settings(self):
        return self.conf.get("settings", [None])
    def query(self, db, q, setting):
        extra = ""
        if setting is not None:
            extra = f" AND {self.conf['param']} = {setting}"
        return [r[0] for r in db.execute(
            f"SELECT rowid FROM v WHERE embedding MATCH ? AND k = {K}{extra}", (q.tobytes(),))]


class SqliteVec(Engine):
    def libs(self):
        return [os.path.join(self.args.peers, "node_modules/sqlite-vec-linux-x64/vec0")]
    def create(self, db):
        db.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{self.dim}])")
    def settings(self):
        return [None]
    def query(self, db, q, setting):
        return [r[0] for r in db.execute(
            f"SELECT rowid FROM v WHERE embedding MATCH ? AND k = {K}", (q.tobytes(),))]


class SqliteVss(Engine):
    def libs(self):
        d = os.path.join(self.args.peers, "node_modules/sqlite-vss-linux-x64/lib")
        return [os.path.join(d, "vector0"), os.path.join(d, "vss0")]
    def create(self, db):
        db.execute(f"CREATE VIRTUAL TABLE v USING vss0(embedding({self.dim}))")
    def settings(self):
        return [None]
    def query(self, db, q, setting):
        # SQLite 3.40 cannot push LIMIT into vss0: its documented form for < 3.41
        return [r[0] for r in db.execute(
            "SELECT rowid FROM v WHERE vss_search(embedding, vss_search_params(?, ?))",
            (q.tobytes(), K))]


class SqliteVector(Engine):
    def libs(self):
        return [os.path.join(self.args.peers, "node_modules/@sqliteai/sqlite-vector-linux-x86_64/vector")]
    def create(self, db):
        db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, embedding BLOB)")
        db.execute(f"SELECT vector_init('v', 'embedding', 'type=FLOAT32,dimension={self.dim},distance=L2')")
    def insert_sql(self):
        return "INSERT INTO v(id, embedding) VALUES (?, ?)"
    def after_load(self, db):
        db.execute("SELECT vector_quantize('v', 'embedding')").fetchall()
        db.execute("SELECT vector_quantize_preload('v', 'embedding')").fetchall()
    def settings(self):
        return [None]
    def query(self, db, q, setting):
        return [r[0] for r in db.execute(
            f"SELECT rowid FROM vector_quantize_scan('v', 'embedding', ?, {K})", (q.tobytes(),))]


ENGINES = {"silt": Silt, "sqlite-vec": SqliteVec, "sqlite-vss": SqliteVss, "sqlite-vector": SqliteVector}


def worker(args):
    conf = json.loads(args.conf)
    eng = ENGINES[conf["engine"]](args, conf)
    data = np.load(os.path.join(args.out, f"{conf['data']}_x.npy"), mmap_mode="r")
    queries = np.load(os.path.join(args.out, f"{conf['data']}_q.npy"))
    truth = np.load(os.path.join(args.out, f"{conf['data']}_truth.npy"))
    eng.dim = data.shape[1]
    n = conf.get("n", len(data))
    path = os.path.join(args.out, f"bench_{os.getpid()}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    res = {"label": conf["label"], "data": conf["data"], "n": n}
    db = eng.connect(path)
    eng.create(db)
    rows = [(i + 1, data[i].tobytes()) for i in range(n)]
    rss0 = rss_mb()[0]
    c = time.process_time()
    t = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(eng.insert_sql(), rows)
    db.execute("COMMIT")
    if hasattr(eng, "after_load"):
        eng.after_load(db)
    res["build_s"] = time.perf_counter() - t
    res["insert_rows_per_s"] = n / res["build_s"]
    del rows
    # first query after a build hands buffered rows to the index: count it in the build
    eng.query(db, queries[0], eng.settings()[0])
    res["build_s"] = time.perf_counter() - t
    # CPU seconds of this process (all its threads): on a shared, overloaded machine the
    # wall clock mostly measures waiting for a core
    res["build_cpu_s"] = time.process_time() - c
    rss, hwm = rss_mb()
    res["rss_mb"], res["peak_rss_mb"], res["rss_growth_mb"] = rss, hwm, rss - rss0
    # single-row autocommit inserts at n rows (new rowids past n)
    lat = []
    n_single = conf.get("single", 100)
    for i in range(n_single):
        v = data[i % n].tobytes()
        t = time.perf_counter()
        db.execute(eng.insert_sql(), (n + 1 + i, v))
        lat.append((time.perf_counter() - t) * 1000)
    if lat:
        res["single_insert_ms_median"] = statistics.median(lat)
        res["single_insert_ms_p95"] = sorted(lat)[int(0.95 * (len(lat) - 1))]
    for i in range(n_single):  # back to exactly n rows for recall
        db.execute("DELETE FROM v WHERE rowid = ?" if conf["engine"] != "sqlite-vector"
                   else "DELETE FROM v WHERE id = ?", (n + 1 + i,))
    if hasattr(eng, "after_load") and n_single:
        eng.after_load(db)
    # queries
    nq = conf.get("nq", 200)
    res["runs"] = []
    for s in eng.settings():
        eng.query(db, queries[0], s)  # warm
        c = time.process_time()
        t = time.perf_counter()
        got = [eng.query(db, queries[i], s) for i in range(nq)]
        el = time.perf_counter() - t
        cpu = time.process_time() - c
        rec = np.mean([len(set(g) & set(truth[i][:K].tolist())) / K for i, g in enumerate(got)])
        res["runs"].append({"setting": s, "qps": nq / el, "ms": el / nq * 1000,
                            "cpu_ms": cpu / nq * 1000, "recall": float(rec)})
    if conf["engine"] == "silt" and conf.get("reopen", True):
        db.close()
        t = time.perf_counter()
        db = eng.connect(path)
        eng.query(db, queries[1], eng.settings()[0])
        res["reopen_first_query_s"] = time.perf_counter() - t
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    print(json.dumps(res))


def baseline_commit(args):
    """Single-row autocommit insert of a 1536-byte BLOB into a plain table at the same
    settings: the floor any engine's single-row commit stands on."""
    path = os.path.join(args.out, "plain.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, e BLOB)")
    blob = bytes(DIM * 4)
    lat = []
    for i in range(200):
        t = time.perf_counter()
        db.execute("INSERT INTO t VALUES (?, ?)", (i + 1, blob))
        lat.append((time.perf_counter() - t) * 1000)
    db.close()
    return statistics.median(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--peers", default="bench/.peers")
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--vss-n", type=int, default=20000)
    ap.add_argument("--real-n", type=int, default=20000,
                    help="lake rows to embed for the real-embeddings set (0: leave it out)")
    ap.add_argument("--lake", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "../../../shared/data/lake/fivethirtyeight"))
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--conf")
    ap.add_argument("--only", default="")
    ap.add_argument("--skip", default="", help="';'-separated 'label/data' pairs to leave out")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.peers = os.path.abspath(args.peers)
    args.out = os.path.abspath(args.out)
    if args.worker:
        return worker(args)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    sets = [("mixture", 1), ("random", 2)] + ([("real", 0)] if args.real_n > 0 else [])
    for kind, seed in sets:
        x, q = make_data(kind, args.n, 200, seed) if kind != "real" else make_real(args, args.real_n, 200)
        np.save(os.path.join(args.out, f"{kind}_x.npy"), x)
        np.save(os.path.join(args.out, f"{kind}_q.npy"), q)
        np.save(os.path.join(args.out, f"{kind}_truth.npy"), exact_topk(x, q, K))
        # brute force in numpy, single thread-ish reference: queries one at a time
        t = time.perf_counter()
        for i in range(50):
            d = (x * x).sum(1) if i == 0 else d
            s = d - 2 * (x @ q[i])
            np.argpartition(s, K)[:K]
        print(f"# numpy brute force ({kind}): {50 / (time.perf_counter() - t):.1f} queries/s", flush=True)
    hnsw = {"param": "ef_search", "settings": [16, 32, 64, 128, 256]}
    ivf = {"param": "nprobe", "settings": [4, 16, 32, 64, 128]}
    confs = []
    for data in ("mixture", "random"):
        confs += [
            dict(engine="silt", label="silt Flat", index="Flat", nq=50, data=data),
            dict(engine="silt", label="silt HNSW32", index="HNSW32", data=data, **hnsw),
            dict(engine="silt", label="silt IVF1024,Flat", index="IVF1024,Flat", data=data, **ivf),
            dict(engine="sqlite-vec", label="sqlite-vec 0.1.9", nq=20, data=data),
            dict(engine="sqlite-vector", label="sqlite-vector 1.1.2 (quantize_scan)", nq=50, data=data),
        ]
    if args.real_n > 0:
        # IVF256: IVF1024 would need 40k training vectors (39 per list), more than the set.
        confs += [
            dict(engine="silt", label="silt Flat", index="Flat", nq=100, data="real"),
            dict(engine="silt", label="silt HNSW32", index="HNSW32", data="real", **hnsw),
            dict(engine="silt", label="silt IVF256,Flat", index="IVF256,Flat", data="real", **ivf),
            dict(engine="sqlite-vec", label="sqlite-vec 0.1.9", nq=50, data="real"),
            dict(engine="sqlite-vector", label="sqlite-vector 1.1.2 (quantize_scan)", nq=100, data="real"),
        ]
    confs.append(dict(engine="sqlite-vss", label="sqlite-vss 0.1.2", nq=50, single=5,
                      n=args.vss_n, data="mixture"))
    if args.only:
        confs = [c for c in confs if args.only in c["label"]]
    skip = [x for x in args.skip.split(";") if x]
    confs = [c for c in confs if not any(x == f"{c['label']}/{c['data']}" for x in skip)]
    results = []
    for c in confs:
        p = subprocess.run([sys.executable, __file__, "--worker", "--build", args.build, "--peers",
                            args.peers, "--out", args.out, "--conf", json.dumps(c)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print(f"# {c['label']} ({c['data']}) failed: {p.stderr.strip()[-400:]}", flush=True)
            continue
        r = json.loads(p.stdout.strip().splitlines()[-1])
        results.append(r)
        print(json.dumps(r), flush=True)
    base = baseline_commit(args)
    with open(os.path.join(args.out, "dense_results.json"), "w") as f:
        json.dump({"results": results, "plain_commit_ms": base}, f, indent=1)
    # markdown
    lines = []
    lines.append(f"Plain SQLite single-row commit (1536-byte BLOB, WAL, synchronous=NORMAL): "
                 f"{base:.2f} ms median")
    lines.append("")
    lines.append("| engine | data | rows | build s (CPU s) | insert rows/s | RSS MB (growth) | 1-row commit ms (median / p95) | reopen + 1st query s |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in results:
        lines.append(f"| {r['label']} | {r['data']} | {r['n']} | {r['build_s']:.1f} ({r.get('build_cpu_s', float('nan')):.1f}) | {r['insert_rows_per_s']:.0f} | "
                     f"{r['rss_mb']:.0f} ({r['rss_growth_mb']:.0f}) | "
                     f"{r.get('single_insert_ms_median', float('nan')):.2f} / {r.get('single_insert_ms_p95', float('nan')):.2f} | "
                     f"{r.get('reopen_first_query_s', float('nan')):.2f} |")
    lines.append("")
    lines.append("| engine | data | setting | queries/s | ms/query (CPU ms) | recall@10 |")
    lines.append("|---|---|---|---|---|---|")
    for r in results:
        for run in r["runs"]:
            s = "" if run["setting"] is None else str(run["setting"])
            lines.append(f"| {r['label']} | {r['data']} | {s} | {run['qps']:.1f} | {run['ms']:.2f} ({run.get('cpu_ms', float('nan')):.2f}) | {run['recall']:.3f} |")
    md = "\n".join(lines)
    with open(os.path.join(args.out, "dense_results.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    print(f"# total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
