#!/usr/bin/env bash
# dense_sigkill_mid_bulk_insert_recovers: a process bulk-inserting into a silt_dense table
# in transactions (HNSW, so snapshots are written now and then) is killed with SIGKILL.
# Reopening must give a database that passes 'integrity-check' and answers k-NN queries
# for exactly the committed rows: whole transactions, nothing more, nothing less.
# Usage: dense_sigkill_mid_bulk_insert_recovers.sh BUILD
set -eu
BUILD=$(cd "${1:-build}" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 - "$BUILD/silt.so" "$TMP/kill.db" <<'PY'
import os, random, signal, sqlite3, struct, subprocess, sys, time
so, path = sys.argv[1], sys.argv[2]
DIM, BATCH = 16, 400

def connect():
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(so)
    return db

db = connect()
db.execute("CREATE VIRTUAL TABLE v USING silt_dense(dim=16, index='HNSW16')")
db.close()

child = r'''
import random, sqlite3, struct, sys
so, path, DIM, BATCH = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
db = sqlite3.connect(path, isolation_level=None)
db.enable_load_extension(True)
db.load_extension(so)
rnd = random.Random(5)
for b in range(1000000):
    db.execute("BEGIN")
    for i in range(BATCH):
        v = struct.pack("%df" % DIM, *[rnd.gauss(0, 1) for _ in range(DIM)])
        db.execute("INSERT INTO v(rowid, embedding) VALUES (?, ?)", (b * BATCH + i + 1, v))
    db.execute("COMMIT")
    print(b + 1, flush=True)
'''
for round_no in range(3):
    p = subprocess.Popen([sys.executable, "-c", child, so, path, str(DIM), str(BATCH)],
                         stdout=subprocess.PIPE)
    os.set_blocking(p.stdout.fileno(), False)
    out = b""
    deadline = time.time() + 1.0 + 0.4 * round_no
    while time.time() < deadline:
        time.sleep(0.01)
        try:
            out += os.read(p.stdout.fileno(), 65536)
        except BlockingIOError:
            pass
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    try:
        out += os.read(p.stdout.fileno(), 65536)
    except BlockingIOError:
        pass
    done = out.split()
    committed = int(done[-1]) if done else 0

    db = connect()
    db.execute("INSERT INTO v(v) VALUES ('integrity-check')")
    rows = db.execute("SELECT count(*) FROM v").fetchone()[0]
    # the child restarts numbering each round: rows hold the last round's batches
    assert rows % BATCH == 0, f"partial transaction visible: {rows} rows"
    assert rows // BATCH in (committed, committed + 1), (rows, committed)
    ids = [r[0] for r in db.execute("SELECT rowid FROM v ORDER BY rowid")]
    assert ids == list(range(1, rows + 1)), "rows are not exactly the committed batches"
    q = struct.pack("16f", *([0.0] * 16))
    knn = db.execute("SELECT count(*) FROM v WHERE embedding MATCH ? AND k = 100000000",
                     (q,)).fetchone()[0]
    assert knn == rows, (knn, rows)
    # every row is its own nearest neighbour
    for rowid, emb in db.execute("SELECT rowid, embedding FROM v WHERE rowid % 97 = 1").fetchall():
        got = db.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 1", (emb,)).fetchone()
        assert got and got[0] == rowid, (rowid, got)
    print(f"round {round_no}: {committed} commits reported, {rows} rows after SIGKILL: ok")
    db.execute("DELETE FROM v")
    db.close()
PY
echo "dense_sigkill_mid_bulk_insert_recovers: ok"
