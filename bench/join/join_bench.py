#!/usr/bin/python3
"""bench/join: silt_join quality and latency against its own exact search.

1. fivethirtyeight lake (../shared/data/lake/fivethirtyeight): every CSV ingested with
   silt_ingest_dir; every column with >= 5 distinct values indexed; 50 query columns drawn
   with a fixed seed. Precision@10 and NDCG@10 of the default (equi) mode against the exact
   top-10 by containment (exact = 1, DeepJoin's protocol: gain = containment), and per-query
   latency of both.
2. Auto-Join (../shared/data/joins/autojoin): for each case, both tables ingested and indexed;
   the rank at which the target's joining column is returned for the source's key column in
   equi and semantic mode. The key columns are read from the ground truth file's header.

Usage: /usr/bin/python3 bench/join/join_bench.py BUILD [lake] [autojoin]   (default: both)
"""
import csv, math, os, random, sqlite3, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
LAKE = os.path.join(ROOT, "..", "shared", "data", "lake", "fivethirtyeight")
AUTOJOIN = os.path.join(ROOT, "..", "shared", "data", "joins", "autojoin", "autojoin-Benchmark")
WORK = os.path.join(ROOT, "bench", "out", "join")  # gitignored cache: the ingested, indexed lake


def connect(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(os.path.join(BUILD, "silt"))
    return db


def quality(exact, got):
    """Precision@10 and NDCG@10 (gain = containment) of got against the exact top-10.
    Ties at the 10th containment make several exact top-10s valid: a returned column counts
    as relevant when its containment reaches the 10th exact value."""
    truth = {(a, b) for a, b, _ in exact}
    tenth = exact[-1][2]
    hits = sum(1 for a, b, c in got if (a, b) in truth or c >= tenth)
    p = hits / 10 if len(exact) >= 10 else hits / len(exact)
    dcg = sum(c / math.log2(i + 2) for i, (_, _, c) in enumerate(got))
    idcg = sum(c / math.log2(i + 2) for i, (_, _, c) in enumerate(exact))
    return p, (dcg / idcg if idcg else 1.0)


def lake_bench():
    if not os.path.isdir(LAKE):
        print(f"join: SKIP lake: {LAKE} is absent")
        return
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "lake.db")
    fresh = not os.path.exists(path)
    db = connect(path)
    if fresh:
        t = time.time()
        res = db.execute("SELECT status, count(*) FROM silt_ingest_dir(?, '*.csv') GROUP BY status", (LAKE,)).fetchall()
        print(f"ingested the lake in {time.time() - t:.1f} s: {res}", flush=True)
        db.execute("CREATE VIRTUAL TABLE lj USING silt_join(model=default)")
        tables = [r[0] for r in db.execute(
            "SELECT tbl FROM silt_sources WHERE tbl IS NOT NULL")]
        t = time.time()
        n = 0
        skipped = 0
        db.execute("BEGIN")
        for tb in tables:
            db.text_factory = bytes
            names = [r[0] for r in db.execute('SELECT name FROM pragma_table_info(?)', (tb,)).fetchall()]
            db.text_factory = str
            for raw in names:
                try:
                    col = raw.decode("utf-8")
                except UnicodeDecodeError:  # a header that was not UTF-8: not addressable as text
                    skipped += 1
                    continue
                q = lambda ident: '"' + ident.replace('"', '""') + '"'
                nd = db.execute(f'SELECT count(DISTINCT {q(col)}) FROM {q(tb)}').fetchone()[0]
                if nd >= 5:
                    db.execute("INSERT INTO lj(tbl, col) VALUES (?, ?)", (tb, col))
                    n += 1
        db.execute("COMMIT")
        print(f"indexed {n} columns in {time.time() - t:.1f} s ({skipped} columns skipped: name not UTF-8)", flush=True)
    cols = db.execute("SELECT tbl, col FROM lj_cols ORDER BY id").fetchall()
    rnd = random.Random(42)
    queries = rnd.sample(cols, min(50, len(cols)))
    p10 = nd10 = 0.0
    p10_emb = nd10_emb = 0.0  # ablation: embedding candidates only, re-ranked by containment
    t_fast = t_exact = 0.0
    counted = 0
    db.execute("SELECT count(*) FROM lj WHERE query_table = ? AND query_column = ?", queries[0]).fetchall()  # warm-up
    for tb, col in queries:
        t = time.time()
        exact = db.execute("SELECT tbl, col, containment FROM lj WHERE query_table = ? AND query_column = ? "
                           "AND exact = 1 AND k = 10", (tb, col)).fetchall()
        t_exact += time.time() - t
        t = time.time()
        fast = db.execute("SELECT tbl, col, containment FROM lj WHERE query_table = ? AND query_column = ? AND k = 10",
                          (tb, col)).fetchall()
        t_fast += time.time() - t
        if not exact:
            continue
        counted += 1
        # The 100 most similar columns by embedding (semantic mode reports their exact
        # containment), re-ranked by containment: equi mode without its rare-value candidates.
        emb = db.execute("SELECT tbl, col, containment, score FROM lj WHERE query_table = ? AND query_column = ? "
                         "AND mode = 'semantic' AND k = 100", (tb, col)).fetchall()
        emb = [(a, b, c) for a, b, c, _ in sorted(emb, key=lambda r: (-r[2], -r[3])) if c > 0][:10]
        p, n = quality(exact, fast)
        p10 += p
        nd10 += n
        p, n = quality(exact, emb)
        p10_emb += p
        nd10_emb += n
    print("\n| lake: 50 query columns | value |\n|---|---|")
    print(f"| indexed columns | {len(cols)} |")
    print(f"| queries with a non-empty exact answer | {counted} |")
    print(f"| precision@10 (equi vs exact top-10) | {p10 / max(counted, 1):.3f} |")
    print(f"| NDCG@10 (gain = containment) | {nd10 / max(counted, 1):.3f} |")
    print(f"| precision@10 / NDCG@10, embedding candidates only (top 100 by similarity, re-ranked) | "
          f"{p10_emb / max(counted, 1):.3f} / {nd10_emb / max(counted, 1):.3f} |")
    print(f"| mean latency, equi (ms) | {1000 * t_fast / len(queries):.1f} |")
    print(f"| mean latency, exact = 1 (ms) | {1000 * t_exact / len(queries):.1f} |")


def autojoin_bench():
    if not os.path.isdir(AUTOJOIN):
        print(f"join: SKIP autojoin: {AUTOJOIN} is absent")
        return
    cases = sorted(d for d in os.listdir(AUTOJOIN) if os.path.isdir(os.path.join(AUTOJOIN, d)))
    ranks = {"equi": [], "semantic": []}
    for case in cases:
        d = os.path.join(AUTOJOIN, case)
        gt = os.path.join(d, "ground truth.csv")
        if not (os.path.exists(gt) and os.path.exists(os.path.join(d, "source.csv"))):
            continue
        with open(gt, newline="", encoding="utf-8", errors="replace") as f:
            header = next(csv.reader(f), [])
        db = connect(":memory:")
        try:
            db.execute("SELECT silt_ingest(?, 'source')", (os.path.join(d, "source.csv"),))
            db.execute("SELECT silt_ingest(?, 'target')", (os.path.join(d, "target.csv"),))
        except sqlite3.Error as e:
            print(f"  {case}: ingest failed: {e}")
            continue
        scols = [r[0] for r in db.execute("SELECT name FROM pragma_table_info('source')")]
        tcols = [r[0] for r in db.execute("SELECT name FROM pragma_table_info('target')")]
        db.execute("CREATE VIRTUAL TABLE lj USING silt_join(model=default)")
        db.execute("INSERT INTO lj(tbl) VALUES ('target')")
        # The ground truth header starts with source-<key>, target-<key>; ingest may have
        # made the names valid identifiers, so they are matched on letters and digits.
        norm = lambda x: "".join(ch for ch in x.lower() if ch.isalnum())
        want_s = norm(header[0][len("source-"):]) if header else ""
        want_t = norm(header[1][len("target-"):]) if len(header) > 1 else ""
        skey = next((c for c in scols if norm(c) == want_s), scols[0])
        tkey = next((c for c in tcols if norm(c) == want_t), tcols[0])
        for mode in ranks:
            got = [r[0] for r in db.execute(
                "SELECT col FROM lj WHERE query_table = 'source' AND query_column = ? AND mode = ? AND k = 10",
                (skey, mode))]
            ranks[mode].append(got.index(tkey) + 1 if tkey in got else None)
    print(f"\n| Auto-Join ({len(ranks['equi'])} cases) | found in top 10 | rank 1 | mean reciprocal rank |\n|---|---|---|---|")
    for mode, r in ranks.items():
        found = [x for x in r if x]
        mrr = sum(1 / x for x in found) / max(len(r), 1)
        print(f"| {mode} | {len(found)}/{len(r)} | {sum(1 for x in found if x == 1)} | {mrr:.3f} |")


if __name__ == "__main__":
    parts = sys.argv[2:] or ["lake", "autojoin"]
    if "lake" in parts:
        lake_bench()
    if "autojoin" in parts:
        autojoin_bench()
