#!/usr/bin/python3
"""sql_bench.py: silt_sparse through SQL (sqlite3 with silt loaded, a database file):
bulk load, single-row commit latency, query latency with exact = 1 and the fast default;
and FTS5 bm25 query latency on the Cranfield collection as a familiar reference point.

    /usr/bin/python3 bench/sparse/sql_bench.py --build BUILD [--n 100000] [--work build/bench]

Documents are SPLADE-like as in bench_sparse.c (Zipf(1) term ranks over 30,522 ids, ~120
terms, weights growing with rarity), generated with numpy from a fixed seed. Prints markdown.
"""
import argparse
import math
import os
import re
import sqlite3
import struct
import sys
import time

import numpy as np

VOCAB = 30522


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def connect(path, build):
    c = sqlite3.connect(path, isolation_level=None)
    c.enable_load_extension(True)
    c.load_extension(os.path.join(build, "silt"))
    return c


class Gen:
    """SPLADE-like sparse BLOBs (silt format: uint32 n, n uint32 ids, n float32 weights)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        p = 1.0 / np.arange(1, VOCAB + 1)
        self.cdf = np.cumsum(p / p.sum())
        self.rank_to_id = self.rng.permutation(VOCAB)
        self.g = 0.2 + 2.8 * np.log(2.0 + np.arange(VOCAB)) / math.log(VOCAB)

    def blob(self, lo, hi):
        n = int(self.rng.integers(lo, hi + 1))
        ranks = np.unique(np.minimum(np.searchsorted(self.cdf, self.rng.random(2 * n)), VOCAB - 1))
        while len(ranks) < n:
            more = np.minimum(np.searchsorted(self.cdf, self.rng.random(2 * n)), VOCAB - 1)
            ranks = np.unique(np.concatenate([ranks, more]))
        ranks = self.rng.permutation(ranks)[:n]
        ranks = ranks[np.argsort(self.rank_to_id[ranks])]
        ids = self.rank_to_id[ranks].astype("<u4")
        w = (self.g[ranks] * (0.1 + 0.9 * self.rng.random(len(ranks)))).astype("<f4")
        return struct.pack("<I", len(ids)) + ids.tobytes() + w.tobytes()


def bench_sparse(args):
    path = os.path.join(args.work, "sparse_sql.db")
    for suffix in ("", "-wal", "-journal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    c = connect(path, args.build)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=NORMAL")
    c.execute(f"CREATE VIRTUAL TABLE sp USING silt_sparse(prune={args.prune})")
    gen = Gen(7)
    docs = [gen.blob(60, 180) for _ in range(args.n)]
    t0 = time.perf_counter()
    c.execute("BEGIN")
    c.executemany("INSERT INTO sp(rowid, terms) VALUES (?, ?)", enumerate(docs, 1))
    c.execute("COMMIT")
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    c.execute("INSERT INTO sp(sp) VALUES ('optimize')")
    t_opt = time.perf_counter() - t0
    db_mb = os.path.getsize(path) / 1e6
    snap_mb = c.execute("SELECT coalesce(sum(length(data)), 0) FROM sp_snapshot").fetchone()[0] / 1e6
    # Single-row commits (autocommit): inserts of new rows, then deletes.
    ins, dele = [], []
    extra = [gen.blob(60, 180) for _ in range(args.commits)]
    for i, b in enumerate(extra):
        t0 = time.perf_counter()
        c.execute("INSERT INTO sp(rowid, terms) VALUES (?, ?)", (args.n + 1 + i, b))
        ins.append((time.perf_counter() - t0) * 1e3)
    for i in range(args.commits):
        t0 = time.perf_counter()
        c.execute("DELETE FROM sp WHERE rowid = ?", (1 + i * 7,))
        dele.append((time.perf_counter() - t0) * 1e3)
    # A second connection catching up with those commits (log replay).
    t0 = time.perf_counter()
    c2 = connect(path, args.build)
    q = gen.blob(20, 60)
    c2.execute("SELECT count(*) FROM sp WHERE terms MATCH ? AND k = 10", (q,)).fetchone()
    t_open = time.perf_counter() - t0
    # Queries through SQL, exact and the fast default, interleaved.
    lat = {"exact": [], "fast": []}
    recall = []
    for _ in range(args.queries):
        q = gen.blob(20, 60)
        t0 = time.perf_counter()
        ex = [r[0] for r in c.execute("SELECT rowid FROM sp WHERE terms MATCH ? AND k = 10 AND exact = 1", (q,))]
        lat["exact"].append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        fa = [r[0] for r in c.execute("SELECT rowid FROM sp WHERE terms MATCH ? AND k = 10", (q,))]
        lat["fast"].append((time.perf_counter() - t0) * 1e3)
        recall.append(len(set(ex) & set(fa)) / max(1, len(ex)))
    print(f"\n### silt_sparse through SQL: {args.n:,} rows, prune={args.prune} "
          f"(file database, WAL, synchronous=NORMAL)\n")
    print("| what | value |\n|---|---|")
    print(f"| bulk INSERT of {args.n:,} rows in one transaction | {t_load:.1f} s "
          f"({args.n / t_load:,.0f} rows/s) |")
    print(f"| 'optimize' (one segment + snapshot) | {t_opt:.1f} s |")
    print(f"| database file / snapshot | {db_mb:.0f} MB / {snap_mb:.0f} MB |")
    print(f"| single-row INSERT commit, p50 / p99 | {pct(ins, .5):.2f} / {pct(ins, .99):.2f} ms |")
    print(f"| single-row DELETE commit, p50 / p99 | {pct(dele, .5):.2f} / {pct(dele, .99):.2f} ms |")
    print(f"| new connection: load snapshot + replay {2 * args.commits} log rows + first query "
          f"| {t_open * 1e3:.0f} ms |")
    for k in ("exact", "fast"):
        print(f"| query k=10, {k}: p50 / p99 | {pct(lat[k], .5):.2f} / {pct(lat[k], .99):.2f} ms |")
    print(f"| fast default recall@10 vs exact ({args.queries} queries) | {np.mean(recall):.3f} |")
    c2.close()
    c.close()


def read_cranfield(d):
    def parse(path):
        recs, cur, field = [], None, None
        for line in open(path, encoding="utf-8", errors="replace"):
            if line.startswith(".I"):
                cur = {"W": []}
                recs.append(cur)
                field = None
            elif line.startswith(".") and len(line) >= 2 and line[1] in "TABW":
                field = line[1]
            elif cur is not None and field == "W":
                cur["W"].append(line.strip())
        return [" ".join(r["W"]) for r in recs]
    return parse(os.path.join(d, "cran.all.1400")), parse(os.path.join(d, "cran.qry"))


def bench_fts5(args):
    d = args.cranfield
    if not os.path.exists(os.path.join(d, "cran.all.1400")):
        print(f"\n(FTS5 Cranfield reference skipped: {d} absent)")
        return
    docs, queries = read_cranfield(d)
    c = sqlite3.connect(":memory:")
    c.execute("CREATE VIRTUAL TABLE cran USING fts5(body)")
    c.executemany("INSERT INTO cran(rowid, body) VALUES (?, ?)", enumerate(docs, 1))
    qs = []
    for q in queries:
        words = re.findall(r"[a-z0-9]+", q.lower())
        qs.append(" OR ".join(f'"{w}"' for w in words))
    lat = []
    for _ in range(3):
        for q in qs:
            t0 = time.perf_counter()
            c.execute("SELECT rowid FROM cran WHERE cran MATCH ? ORDER BY bm25(cran) LIMIT 10", (q,)).fetchall()
            lat.append((time.perf_counter() - t0) * 1e3)
    print(f"\n### FTS5 bm25 on Cranfield ({len(docs)} abstracts, {len(qs)} queries x 3, "
          f"OR of the query's words, top 10)\n")
    print(f"p50 {pct(lat, .5):.3f} ms, p99 {pct(lat, .99):.3f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--prune", type=float, default=0.02)
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", default="build/bench")
    ap.add_argument("--cranfield", default="../shared/data/ir/cranfield")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    bench_sparse(args)
    bench_fts5(args)


if __name__ == "__main__":
    sys.exit(main())
