#!/usr/bin/env bash
# crash_sigkill_writers: crash consistency of silt_dense, silt_sparse, silt_join and
# silt_ingest under SIGKILL. A writer process commits batches, each one transaction holding
# dense rows (HNSW, so snapshots get written), sparse rows, a new ordinary table indexed by
# silt_join, then loads one CSV file with silt_ingest (its own transaction). After every
# commit it appends the batch to a log file and fsyncs it before going on. The harness kills
# the writer with SIGKILL at a random moment, reopens the database and checks: PRAGMA
# integrity_check, each table's 'integrity-check' command, and that exactly the logged
# batches are present (the batch in flight when the kill came may be present entirely or
# not at all; nothing partial, nothing that was never written), by plain reads and by
# k-NN / MATCH / join queries. The journal mode alternates between WAL and rollback.
#
#   bash tests/shell/crash_sigkill_writers.sh BUILD             (make test: CRASH_SECONDS=20)
#   CRASH_SECONDS=60 CRASH_TRIALS=1000 bash tests/shell/crash_sigkill_writers.sh BUILD
set -eu
BUILD=$(cd "${1:-build}" && pwd)
# One thread in OpenMP and OpenBLAS: the writers are forked from the harness, and a fork
# keeps only the calling thread (silt's own pool handles fork; libgomp's does not).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 - "$BUILD/silt.so" "$ROOT" "$TMP" "${CRASH_SECONDS:-20}" "${CRASH_TRIALS:-100000}" <<'PY'
import os, random, signal, sqlite3, struct, sys, time
so, root, tmp, seconds, max_trials = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
DIM, DENSE, SPARSE, CSV_ROWS = 8, 20, 20, 200
rng = random.Random(int(os.environ.get("CRASH_SEED", "20240611")))

# CSV files for silt_ingest: batch b loads csv/(b % 4).csv into table ing_<b>.
os.makedirs(os.path.join(tmp, "csv"))
for f in range(4):
    with open(os.path.join(tmp, "csv", "%d.csv" % f), "w") as out:
        out.write("id,name,score\n")
        for i in range(CSV_ROWS * (f + 1)):
            out.write("%d,name%d,%d.5\n" % (i, i, i % 97))

def connect(path):
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.enable_load_extension(True)
    db.load_extension(so)
    return db

def vec(rowid):
    r = random.Random(rowid)
    return struct.pack("%df" % DIM, *[r.gauss(0, 1) for _ in range(DIM)])

def terms(rowid):
    return '{"%d": 1.5, "%d": 0.5, "%d": 2}' % (rowid % 50, 100 + rowid % 7, 1000 + rowid)

# The writer, in a forked child (cheap: the extension and the model are already loaded):
# runs until killed; the log gets "tx <b>" / "ingest <b>" after each commit, fsynced.
def writer(path, log_path, first):
    try:
        db = connect(path)
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        def note(s):
            os.write(log, (s + "\n").encode())
            os.fsync(log)
        db.execute("SELECT count(*) FROM j_cols").fetchone()
        note("ready")
        b = first
        while True:
            db.execute("BEGIN")
            for i in range(DENSE):
                r = b * 1000 + i
                db.execute("INSERT INTO dv(rowid, embedding) VALUES (?, ?)", (r, vec(r)))
            for i in range(SPARSE):
                r = b * 1000 + i
                db.execute("INSERT INTO sp(rowid, terms) VALUES (?, ?)", (r, terms(r)))
            db.execute('CREATE TABLE "t_%d"(city TEXT, code TEXT)' % b)
            db.executemany('INSERT INTO "t_%d" VALUES (?, ?)' % b,
                           [("city%d" % ((b + i) % 30), "c%d" % i) for i in range(20)])
            db.execute("INSERT INTO j(tbl) VALUES (?)", ("t_%d" % b,))
            db.execute("COMMIT")
            note("tx %d" % b)
            db.execute("SELECT silt_ingest(?, ?)", (os.path.join(tmp, "csv", "%d.csv" % (b % 4)),
                                                    "ing_%d" % b)).fetchone()
            note("ingest %d" % b)
            b += 1
    except BaseException as e:  # a writer error is a test failure: say it and stop
        sys.stderr.write("writer failed: %r\n" % (e,))
        os._exit(3)

def setup(path, mode):
    db = connect(path)
    db.execute("PRAGMA journal_mode = %s" % mode)
    db.execute("SELECT silt_model_register('tb', ?)", (os.path.join(root, "tests/data/tiny-bert"),))
    db.execute("CREATE VIRTUAL TABLE dv USING silt_dense(dim=%d, metric=cosine, index='HNSW16')" % DIM)
    db.execute("CREATE VIRTUAL TABLE sp USING silt_sparse(block_docs=8)")
    db.execute("CREATE VIRTUAL TABLE j USING silt_join(model=tb)")
    db.close()

def read_log(log_path):
    tx, ing = [], []
    if os.path.exists(log_path):
        for line in open(log_path).read().split("\n"):
            p = line.split()
            if len(p) == 2 and p[0] == "tx": tx.append(int(p[1]))
            if len(p) == 2 and p[0] == "ingest": ing.append(int(p[1]))
    return tx, ing

def verify(path, tx_logged, ing_logged, tx_state, ing_state):
    """Checks the reopened database; returns the batches now known committed."""
    db = connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for t in ("dv", "sp", "j"):
        db.execute("INSERT INTO %s(%s) VALUES ('integrity-check')" % (t, t))
    # Which transactions are in: every logged one; the one in flight is all or nothing.
    dense_ids = {r for (r,) in db.execute("SELECT rowid FROM dv")}
    present = sorted({r // 1000 for r in dense_ids})
    known = set(tx_state) | set(tx_logged)
    extra = [b for b in present if b not in known]
    assert len(extra) <= 1, ("batches never logged are present", extra)
    if extra:
        assert extra[0] == max(known | {-1}) + 1, ("unexpected batch", extra, sorted(known)[-3:])
    committed = sorted(known | set(extra))
    want = {b * 1000 + i for b in committed for i in range(DENSE)}
    assert dense_ids == want, ("dense rows", len(dense_ids), len(want))
    sparse_ids = {r for (r,) in db.execute("SELECT rowid FROM sp")}
    assert sparse_ids == {b * 1000 + i for b in committed for i in range(SPARSE)}, "sparse rows"
    cols = sorted(t for (t,) in db.execute("SELECT DISTINCT tbl FROM j_cols"))
    assert cols == sorted("t_%d" % b for b in committed), ("join columns", cols[-3:])
    tables = {n for (n,) in db.execute("SELECT name FROM sqlite_schema WHERE name GLOB 't_*'")}
    assert tables == {"t_%d" % b for b in committed}, "join source tables"
    # The indexes answer for exactly those rows.
    n = len(want)
    if n:
        got = db.execute("SELECT count(*) FROM dv WHERE embedding MATCH ? AND k = 100000000",
                         (vec(0),)).fetchone()[0]
        assert got == n, ("dense k-NN sees", got, "rows of", n)
        for b in committed[-2:]:
            r = b * 1000 + (b % DENSE)
            hit = db.execute("SELECT rowid FROM dv WHERE embedding MATCH ? AND k = 1", (vec(r),)).fetchone()
            assert hit and hit[0] == r, ("dense nearest", r, hit)
            hit = db.execute("SELECT rowid FROM sp WHERE terms MATCH ? AND k = 1",
                             ('{"%d": 1}' % (1000 + r),)).fetchone()
            assert hit and hit[0] == r, ("sparse match", r, hit)
        total = db.execute("SELECT count(*) FROM sp WHERE terms MATCH '{\"100\":1,\"101\":1,"
                           "\"102\":1,\"103\":1,\"104\":1,\"105\":1,\"106\":1}' AND exact = 1").fetchone()[0]
        assert total == len(sparse_ids), ("sparse exact match sees", total, len(sparse_ids))
        b = committed[-1]
        rows = db.execute("SELECT tbl, containment FROM j WHERE query_table = ? AND query_column = "
                          "'city' AND k = 3 AND exact = 1", ("t_%d" % b,)).fetchall()
        assert all(t != "t_%d" % b for t, _ in rows), "join returned the query column itself"
    # Ingested tables: whole files or nothing; the provenance row iff the table.
    ing_known = set(ing_state) | set(ing_logged)
    loaded = {}
    for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE name GLOB 'ing_*'"):
        b = int(name[4:])
        loaded[b] = db.execute('SELECT count(*), sum(id) FROM "%s"' % name).fetchone()
    extra = [b for b in loaded if b not in ing_known]
    assert len(extra) <= 1, ("ingests never logged", extra)
    for b in ing_known:
        assert b in loaded, ("logged ingest missing", b)
    for b, (cnt, s) in loaded.items():
        m = CSV_ROWS * (b % 4 + 1)
        assert cnt == m and s == m * (m - 1) // 2, ("partial ingest", b, cnt, m)
    has_src = db.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'silt_sources'").fetchone()[0]
    src = {t for (t,) in db.execute("SELECT tbl FROM silt_sources")} if has_src else set()
    assert src == {"ing_%d" % b for b in loaded}, "silt_sources out of step with the tables"
    db.close()
    return committed, sorted(loaded)

# A connection of the harness holds the model, so forked writers find it loaded (models are
# shared by all connections of a process) and start writing at once.
keep = connect(":memory:")
keep.execute("SELECT silt_model_register('tb', ?)", (os.path.join(root, "tests/data/tiny-bert"),))
keep.execute("CREATE VIRTUAL TABLE jj USING silt_join(model=tb)")

start = time.time()
trials = 0
runs = 0
while time.time() - start < seconds and trials < max_trials:
    # A fresh database every few trials keeps verification cheap; the others continue one.
    mode = ("wal", "delete")[runs % 2]
    path = os.path.join(tmp, "crash%d.db" % runs)
    log_path = path + ".log"
    setup(path, mode)
    tx_state, ing_state = [], []
    for k in range(8):
        if time.time() - start >= seconds or trials >= max_trials:
            break
        if os.path.exists(log_path):
            os.unlink(log_path)
        first = (max(tx_state) + 1) if tx_state else 0
        pid = os.fork()
        if pid == 0:
            writer(path, log_path, first)
            os._exit(0)
        t0 = time.time()
        while not (os.path.exists(log_path) and open(log_path).read().startswith("ready")):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                raise SystemExit("writer died before it was ready (status %d)" % status)
            if time.time() - t0 > 60:
                os.kill(pid, signal.SIGKILL)
                raise SystemExit("writer not ready after 60 s")
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.6))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            raise SystemExit("the writer stopped by itself (status %d) before the kill" % status)
        tx_logged, ing_logged = read_log(log_path)
        tx_state, ing_state = verify(path, tx_logged, ing_logged, tx_state, ing_state)
        trials += 1
    runs += 1
    for suffix in ("", "-wal", "-shm", "-journal", ".log"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
print("crash_sigkill_writers: %d SIGKILL trials on %d databases in %.0f s: every logged batch "
      "present, no partial or invented batch, integrity checks ok" % (trials, runs, time.time() - start))
PY
