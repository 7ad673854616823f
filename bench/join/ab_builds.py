#!/usr/bin/python3
"""bench/join/ab_builds.py: two builds of silt against each other on the synthetic lake, in one
process, so that machine load and the OS page cache affect both alike.

Each build gets its own connection to the same lake database (the two silt.so files are
separate copies, each with its own state). For every query column (the same 200 as
synth_lake.py draws: seed 42) the four searches (equi and exact = 1 of each build) run once,
in an order that rotates from query to query, so that no build or mode always finds the query
table in SQLite's page cache. Reports mean / median / p99 of each, the exact / equi ratios
within each build, and whether the two builds' equi answers agree.

Usage: /usr/bin/python3 bench/join/ab_builds.py BUILD_A BUILD_B [--queries N] [--dir DIR]
(the lake must exist: synth_lake.py builds it; default --dir /work/cache/join is where the
100,000-column lake is kept on the project machine)
"""
import argparse, math, os, random, sqlite3, time

EXACT = "SELECT tbl, col, containment FROM lj WHERE query_table = ? AND query_column = ? AND exact = 1 AND k = 10"
EQUI = "SELECT tbl, col, containment FROM lj WHERE query_table = ? AND query_column = ? AND k = 10"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs=2)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dir", default="/work/cache/join")
    ap.add_argument("--db", default="synth_100000_s7.db")
    a = ap.parse_args()
    path = os.path.join(a.dir, a.db)
    dbs = []
    for b in a.builds:
        db = sqlite3.connect(path, isolation_level=None)
        db.enable_load_extension(True)
        db.load_extension(os.path.join(os.path.abspath(b), "silt"))
        dbs.append(db)
    cols = dbs[0].execute("SELECT tbl, col FROM lj_cols ORDER BY id").fetchall()
    queries = random.Random(42).sample(cols, min(a.queries, len(cols)))
    # Warm-up outside the timings: the model, the ANN index and the in-memory copies load.
    for db in dbs:
        for sql in (EQUI, EXACT):
            db.execute(sql, queries[0]).fetchall()
        db.execute(EQUI, cols[-1]).fetchall()
        db.execute(EQUI + " AND mode = 'semantic'", queries[0]).fetchall()  # always opens the ANN index
    runs = [(b, m) for b in range(2) for m in ("equi", "exact")]
    lat = {r: [] for r in runs}
    same = same_containment = 0
    for i, q in enumerate(queries):
        order = runs[i % 4:] + runs[:i % 4]
        if (i // 4) % 2:
            order = order[::-1]
        got = {}
        for b, m in order:
            s = time.perf_counter()
            got[(b, m)] = dbs[b].execute(EQUI if m == "equi" else EXACT, q).fetchall()
            lat[(b, m)].append(time.perf_counter() - s)
        same += got[(0, "equi")] == got[(1, "equi")]
        same_containment += [r[2] for r in got[(0, "equi")]] == [r[2] for r in got[(1, "equi")]]
    mean = lambda xs: 1000 * sum(xs) / len(xs)
    med = lambda xs: 1000 * sorted(xs)[len(xs) // 2]
    p99 = lambda xs: 1000 * sorted(xs)[min(len(xs) - 1, int(math.ceil(0.99 * len(xs))) - 1)]
    print("| build | equi mean | median | p99 | exact mean | median | p99 | ratio of means | of medians |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b in range(2):
        e, x = lat[(b, "equi")], lat[(b, "exact")]
        print(f"| {a.builds[b]} | {mean(e):.2f} | {med(e):.2f} | {p99(e):.2f} | {mean(x):.2f} | {med(x):.2f} | "
              f"{p99(x):.2f} | {mean(x) / mean(e):.1f}x | {med(x) / med(e):.1f}x |")
    print(f"equi answers identical: {same}/{len(queries)}; identical containments: {same_containment}/{len(queries)}")


if __name__ == "__main__":
    main()
