#!/usr/bin/python3
"""bench/join/synth_lake.py: a synthetic data lake for silt_join at scale, and its benchmark.

The lake: N columns (default 100,000) in tables of 100 columns (s00000.c0 ... c99), every
column a set of values drawn from one of 1,000 shared domains, so that columns of the same
domain join and the posting lists of popular values are long, as in real lakes:
  - domain sizes are log-uniform in [20, 20,000]; 60% of the domains are words of 2 to 4
    random syllables (different domains can share a short word), 40% are integers from a
    range of 10^2 to 10^7 (small ranges overlap each other, like years and counts do);
  - a column picks its domain with Zipf-like popularity (weight 1 / rank), so some domains
    hold thousands of columns; its size is log-uniform in [5, min(500, domain size)];
  - within a domain, values are drawn with skew (index = domain size * u^2), so a few values
    appear in most of the domain's columns.
Column names say nothing about the domain, so the embedding sees only the values.
Everything follows from the seed (default 7).

Steps (each cached under bench/out/join/, or the directory --dir names; rerun to resume):
  1. generate: writes the tables into synth_<N>.db;
  2. index:    CREATE VIRTUAL TABLE lj USING silt_join(model=default); every column
               inserted, one table (100 columns, embedded as one batch) per statement,
               timed (the build time reported);
  3. query:    50 query columns (seed 42): latency of equi mode and of exact = 1 (which runs
               first alternates), and
               NDCG@10 / precision@10 of equi against exact;
  4. blocks:   the same queries again, every one in one mode, then every one in the other,
               --blocks times (which mode goes first alternates): each mode's latency when
               its searches follow each other, as a user's do. In step 3 each search follows
               a search of the other mode, which leaves its own data out of the CPU caches
               (exact reads ~1,000 pages a query), and equi's smaller working set loses more
               from that (bench/README.md, join, session 9).

Usage: /usr/bin/python3 bench/join/synth_lake.py BUILD [--columns N] [--seed S] [--queries Q] [--dir DIR]
       [--mmap BYTES] [--cache-mb MB] [--os-cache warm|cold|asis]

--os-cache sets the state of the lake file in the OS page cache before the queries: warm (the
default) reads the whole file once, cold drops its pages (posix_fadvise DONTNEED), asis leaves
whatever earlier jobs left. On the shared VMs the page cache is trimmed from outside (a fully
read lake was down to 688 MB of 1.1 GB ten minutes later), so "asis" measures an unknown mix.
Warm is the harder case for the ratio: the exact search gains more from cached pages.
"""
import argparse, math, os, random, sqlite3, sys, time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.path.join(ROOT, "bench", "out", "join")
COLS_PER_TABLE = 100
N_DOMAINS = 1000
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]  # 70 syllables


def make_domains(rng):
    """Each domain: a list of distinct value strings."""
    domains = []
    for d in range(N_DOMAINS):
        size = int(round(math.exp(rng.uniform(math.log(20), math.log(20000)))))
        if rng.random() < 0.6:
            vals = set()
            while len(vals) < size:
                vals.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
            vals = sorted(vals)
            rng.shuffle(vals)  # popularity (the skewed index) must not follow the spelling
        else:
            hi = 10 ** rng.randint(2, 7)
            size = min(size, hi)
            vals = [str(x) for x in rng.sample(range(hi), size)]
        domains.append(vals)
    return domains


def generate(path, n_cols, seed):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    domains = make_domains(rng)
    weights = np.array([1.0 / (r + 1) for r in range(N_DOMAINS)])
    weights /= weights.sum()
    order = list(range(N_DOMAINS))
    rng.shuffle(order)  # the popular domains are not the first ones generated
    cols = []
    for _ in range(n_cols):
        d = order[int(nrng.choice(N_DOMAINS, p=weights))]
        dom = domains[d]
        hi = min(500, len(dom))
        size = int(round(math.exp(nrng.uniform(math.log(5), math.log(max(hi, 5))))))
        size = max(1, min(size, len(dom)))
        # Skewed draws, deduplicated in draw order; topped up uniformly if short.
        idx = (len(dom) * nrng.random(size * 3) ** 2).astype(np.int64)
        _, first = np.unique(idx, return_index=True)
        pick = idx[np.sort(first)][:size]
        if len(pick) < size:
            rest = np.setdiff1d(np.arange(len(dom)), pick)
            pick = np.concatenate([pick, nrng.choice(rest, size - len(pick), replace=False)])
        cols.append([dom[i] for i in pick])
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    for t in range(0, n_cols, COLS_PER_TABLE):
        group = cols[t:t + COLS_PER_TABLE]
        name = f"s{t // COLS_PER_TABLE:05d}"
        db.execute(f"CREATE TABLE {name}(" + ", ".join(f"c{i} TEXT" for i in range(len(group))) + ")")
        n_rows = max(len(c) for c in group)
        rows = [tuple(c[r] if r < len(c) else None for c in group) for r in range(n_rows)]
        db.executemany(f"INSERT INTO {name} VALUES (" + ",".join("?" * len(group)) + ")", rows)
    db.execute("COMMIT")
    db.close()
    return sum(len(c) for c in cols)


def connect(build, path):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(os.path.join(build, "silt"))
    return db


def set_os_cache(path, how):
    """Puts the lake file's pages in the OS page cache (warm), drops them (cold), or not."""
    if how == "asis":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if how == "cold":
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        else:
            while os.read(fd, 1 << 20):
                pass
    finally:
        os.close(fd)
    print(f"lake file {how} in the OS page cache before the queries", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--columns", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--mmap", type=int, default=0,
                    help="PRAGMA mmap_size for the query step (bytes; 0 = SQLite's default, no mmap)")
    ap.add_argument("--cache-mb", type=int, default=0,
                    help="PRAGMA cache_size for the query step, in MB (0 = SQLite's default, ~2 MB)")
    ap.add_argument("--blocks", type=int, default=4,
                    help="rounds of the block order: every query in one mode, then in the other (see the docstring)")
    ap.add_argument("--os-cache", choices=("warm", "cold", "asis"), default="warm",
                    help="the lake file in the OS page cache before the queries (see the docstring)")
    ap.add_argument("--dir", default=WORK,
                    help="where the lake database is kept (it takes ~40 minutes to index 100,000 "
                         "columns: keep it out of the worktree, e.g. /work/cache/join)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.makedirs(a.dir, exist_ok=True)
    path = os.path.join(a.dir, f"synth_{a.columns}_s{a.seed}.db")
    tables = (a.columns + COLS_PER_TABLE - 1) // COLS_PER_TABLE
    if not os.path.exists(path + ".generated"):
        if os.path.exists(path):
            os.remove(path)
        t = time.time()
        n_values = generate(path, a.columns, a.seed)
        print(f"generated {a.columns} columns ({n_values} values) in {time.time() - t:.1f} s", flush=True)
        open(path + ".generated", "w").close()
    db = connect(build, path)
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS lj USING silt_join(model=default)")
    done = {r[0] for r in db.execute("SELECT DISTINCT tbl FROM lj_cols")}
    log = os.path.join(path + ".index_seconds")
    spent = float(open(log).read()) if os.path.exists(log) else 0.0
    for t in range(tables):
        name = f"s{t:05d}"
        if name in done:
            continue
        s = time.time()
        db.execute("BEGIN")
        db.execute("INSERT INTO lj(tbl) VALUES (?)", (name,))
        db.execute("COMMIT")
        spent += time.time() - s
        with open(log, "w") as f:
            f.write(f"{spent:.1f}")
        if t % 20 == 0:
            print(f"  indexed {t + 1}/{tables} tables, {spent:.0f} s so far", flush=True)
    n_cols = db.execute("SELECT count(*) FROM lj_cols").fetchone()[0]
    print(f"index build: {n_cols} columns in {spent:.1f} s (summed over the INSERT statements)", flush=True)
    if not os.path.exists(path + ".optimized"):  # once: it rewrites the ANN snapshot
        db.execute("INSERT INTO lj(lj) VALUES ('optimize')")
        open(path + ".optimized", "w").close()

    if a.mmap:  # both modes read through the mapping: page reads cost no system call
        db.execute(f"PRAGMA mmap_size = {a.mmap}")
    if a.cache_mb:  # both modes keep more of the lake's pages between queries
        db.execute(f"PRAGMA cache_size = -{a.cache_mb * 1024}")
    cols = db.execute("SELECT tbl, col FROM lj_cols ORDER BY id").fetchall()
    queries = random.Random(42).sample(cols, min(a.queries, len(cols)))
    set_os_cache(path, a.os_cache)
    # Warm-up queries load the model, the in-memory copies and the ANN index outside the
    # timings: the semantic one always searches the ANN index, which an equi search whose
    # rare-value lists decide does not open.
    db.execute("SELECT count(*) FROM lj WHERE query_table = ? AND query_column = ?", queries[0]).fetchall()
    db.execute("SELECT count(*) FROM lj WHERE query_table = ? AND query_column = ? AND mode = 'semantic'",
               queries[0]).fetchall()
    lat = {"equi": [], "exact": []}
    p10 = nd10 = 0.0
    counted = 0
    def timed(sql, args):
        s = time.perf_counter()
        rows = db.execute(sql, args).fetchall()
        return rows, time.perf_counter() - s

    exact_sql = ("SELECT tbl, col, containment FROM lj WHERE query_table = ? AND query_column = ? "
                 "AND exact = 1 AND k = 10")
    equi_sql = "SELECT tbl, col, containment FROM lj WHERE query_table = ? AND query_column = ? AND k = 10"
    for i, (tb, col) in enumerate(queries):
        # Alternate which mode runs first: the second finds the query's table and posting
        # lists in SQLite's page cache, and neither mode should always get that.
        if i % 2 == 0:
            exact, te = timed(exact_sql, (tb, col))
            fast, tf = timed(equi_sql, (tb, col))
        else:
            fast, tf = timed(equi_sql, (tb, col))
            exact, te = timed(exact_sql, (tb, col))
        lat["exact"].append(te)
        lat["equi"].append(tf)
        if not exact:
            continue
        counted += 1
        truth = {(x, y) for x, y, _ in exact}
        tenth = exact[-1][2]
        hits = sum(1 for x, y, c in fast if (x, y) in truth or c >= tenth)
        p10 += hits / min(10, len(exact))
        dcg = sum(c / math.log2(i + 2) for i, (_, _, c) in enumerate(fast))
        idcg = sum(c / math.log2(i + 2) for i, (_, _, c) in enumerate(exact))
        nd10 += dcg / idcg if idcg else 1.0
    ms = lambda xs: 1000 * sum(xs) / len(xs)
    med = lambda xs: 1000 * sorted(xs)[len(xs) // 2]
    p99 = lambda xs: 1000 * sorted(xs)[min(len(xs) - 1, int(math.ceil(0.99 * len(xs))) - 1)]
    e, x = lat["equi"], lat["exact"]
    print(f"\n| synthetic lake: {n_cols} columns, {len(queries)} queries, interleaved | equi | exact = 1 | exact / equi |\n|---|---|---|---|")
    print(f"| mean latency (ms) | {ms(e):.2f} | {ms(x):.2f} | {ms(x) / ms(e):.1f}x |")
    print(f"| median latency (ms) | {med(e):.2f} | {med(x):.2f} | {med(x) / med(e):.1f}x |")
    print(f"| p99 latency (ms) | {p99(e):.2f} | {p99(x):.2f} | {p99(x) / p99(e):.1f}x |")
    print(f"| max latency (ms) | {1000 * max(e):.2f} | {1000 * max(x):.2f} | |")
    print(f"| precision@10 / NDCG@10 of equi vs exact ({counted} queries) | "
          f"{p10 / max(counted, 1):.3f} / {nd10 / max(counted, 1):.3f} | 1 / 1 | |")
    if a.blocks <= 0:
        return
    tot = {"equi": 0.0, "exact": 0.0}
    per_round = []
    for r in range(a.blocks):
        took = {}
        for mode in (("equi", "exact") if r % 2 == 0 else ("exact", "equi")):
            sql = equi_sql if mode == "equi" else exact_sql
            s = time.perf_counter()
            for q in queries:
                db.execute(sql, q).fetchall()
            took[mode] = time.perf_counter() - s
            tot[mode] += took[mode]
        per_round.append(took["exact"] / took["equi"])
    n = a.blocks * len(queries)
    print(f"\n| blocks: each mode's {len(queries)} queries back to back, {a.blocks} rounds | equi | exact = 1 | exact / equi |\n|---|---|---|---|")
    print(f"| mean latency (ms) | {1000 * tot['equi'] / n:.2f} | {1000 * tot['exact'] / n:.2f} | "
          f"{tot['exact'] / tot['equi']:.1f}x |")
    print(f"| ratio of each round | | | {', '.join(f'{x:.1f}x' for x in per_round)} |")

if __name__ == "__main__":
    main()
