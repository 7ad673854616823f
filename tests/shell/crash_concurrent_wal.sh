#!/usr/bin/env bash
# crash_concurrent_wal: several processes, writers and readers, on one WAL database for a
# bounded time (CONC_SECONDS, default 10). Two writers insert and delete rows of a silt_dense
# (HNSW) and a silt_sparse table in small transactions and log each committed change after
# its COMMIT. Two readers loop over read transactions and check, inside each snapshot:
#   - the index answers for exactly the rows of the snapshot: the rowids found by k-NN
#     (dense) and by an exhaustive MATCH (sparse) equal those of a plain scan;
#   - nothing older than the snapshot: every insert logged before the read transaction
#     began is found by the index (unless its delete, announced in the log before its
#     COMMIT, was announced by the end of the read), and no row whose delete was logged
#     as committed before the read is.
# At the end a fresh connection must find every logged row (no lost entries) and the
# tables' integrity checks pass. The sqlite-vss failure this guards against: two
# connections writing silently lost index entries.
#   bash tests/shell/crash_concurrent_wal.sh BUILD        CONC_SECONDS=60 for a longer run
set -eu
BUILD=$(cd "${1:-build}" && pwd)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1   # forked processes: see crash_sigkill_writers
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 - "$BUILD/silt.so" "$TMP" "${CONC_SECONDS:-10}" <<'PY'
import os, random, signal, sqlite3, struct, sys, time
so, tmp, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
DIM = 8
path = os.path.join(tmp, "conc.db")

def connect():
    db = sqlite3.connect(path, isolation_level=None, timeout=60)
    db.enable_load_extension(True)
    db.load_extension(so)
    return db

def vec(rowid):
    r = random.Random(rowid)
    return struct.pack("%df" % DIM, *[r.gauss(0, 1) for _ in range(DIM)])

ALL_TERMS = '{' + ','.join('"%d": 1' % t for t in range(16)) + '}'

def log_state(w):
    """Rows inserted, deleted, and about to be deleted ("~", logged before the COMMIT)
    according to writer w's log (complete lines only)."""
    ins, dele, pending = set(), set(), set()
    try:
        data = open(os.path.join(tmp, "w%d.log" % w)).read()
    except FileNotFoundError:
        return ins, dele, pending
    for line in data.split("\n")[:-1]:
        op, r = line[0], int(line[1:])
        {"+": ins, "-": dele, "~": pending}[op].add(r)
    return ins, dele, pending

def writer(w, stop_at):
    db = connect()
    log = open(os.path.join(tmp, "w%d.log" % w), "a")
    rnd = random.Random(w)
    seq, mine, n_tx = 0, [], 0
    while time.time() < stop_at:
        db.execute("BEGIN IMMEDIATE")
        added, removed = [], []
        for _ in range(rnd.randint(1, 6)):
            seq += 1
            r = (w + 1) * 10**8 + seq
            db.execute("INSERT INTO dv(rowid, embedding) VALUES (?, ?)", (r, vec(r)))
            db.execute("INSERT INTO sp(rowid, terms) VALUES (?, ?)", (r, '{"%d": 1, "%d": 2}' % (r % 16, 100 + r % 5)))
            added.append(r)
        if mine and rnd.random() < 0.3:
            r = mine.pop(rnd.randrange(len(mine)))
            db.execute("DELETE FROM dv WHERE rowid = ?", (r,))
            db.execute("DELETE FROM sp WHERE rowid = ?", (r,))
            removed.append(r)
            log.write("~%d\n" % r)  # before the COMMIT: readers may miss r from now on
            log.flush()
        db.execute("COMMIT")
        mine += added
        log.write("".join("+%d\n" % r for r in added) + "".join("-%d\n" % r for r in removed))
        log.flush()
        n_tx += 1
    return n_tx

def reader(k, stop_at):
    db = connect()
    rnd = random.Random(100 + k)
    n = 0
    while time.time() < stop_at:
        before = [log_state(w) for w in (0, 1)]
        db.execute("BEGIN")
        plain = {r for (r,) in db.execute("SELECT rowid FROM dv")}
        knn = {r for (r,) in db.execute("SELECT rowid FROM dv WHERE embedding MATCH ? AND k = 100000000",
                                        (vec(rnd.randrange(10**6)),))}
        sp_plain = {r for (r,) in db.execute("SELECT rowid FROM sp")}
        sp_match = {r for (r,) in db.execute("SELECT rowid FROM sp WHERE terms MATCH ? AND exact = 1",
                                             (ALL_TERMS,))}
        db.execute("COMMIT")
        assert knn == plain, ("dense index vs snapshot", len(knn), len(plain), sorted(knn ^ plain)[:5])
        assert sp_match == sp_plain, ("sparse index vs snapshot", len(sp_match), len(sp_plain))
        assert plain == sp_plain, ("dense and sparse rows differ in one snapshot",)
        # A delete is committed before it is logged as done: judge inserts against the
        # deletes announced by the end of the read transaction.
        after = [log_state(w) for w in (0, 1)]
        for (ins, dele, _), (_, _, pending_after) in zip(before, after):
            missing = (ins - pending_after) - knn
            assert not missing, ("a row committed before the snapshot is missing", sorted(missing)[:5])
            stale = dele & knn
            assert not stale, ("a row deleted before the snapshot is still found", sorted(stale)[:5])
        n += 1
    return n

db = connect()
db.execute("PRAGMA journal_mode = wal")
db.execute("CREATE VIRTUAL TABLE dv USING silt_dense(dim=%d, index='HNSW16')" % DIM)
db.execute("CREATE VIRTUAL TABLE sp USING silt_sparse(block_docs=8)")
db.close()

stop_at = time.time() + seconds
pids = {}
for role, k in (("writer", 0), ("writer", 1), ("reader", 0), ("reader", 1)):
    r_fd, w_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r_fd)
        try:
            n = (writer if role == "writer" else reader)(k, stop_at)
            os.write(w_fd, str(n).encode())
            os._exit(0)
        except BaseException as e:
            sys.stderr.write("%s %d failed: %r\n" % (role, k, e))
            os._exit(1)
    os.close(w_fd)
    pids[pid] = (role, k, r_fd)
failed, counts = False, {}
for pid, (role, k, r_fd) in pids.items():
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        status = 1
    counts[(role, k)] = os.read(r_fd, 64).decode() or "?"
    if status != 0:
        failed = True
if failed:
    raise SystemExit("crash_concurrent_wal: a process failed (see above)")

db = connect()
expect = set()
for w in (0, 1):
    ins, dele, _ = log_state(w)
    expect |= ins - dele
rows = {r for (r,) in db.execute("SELECT rowid FROM dv WHERE embedding MATCH ? AND k = 100000000", (vec(1),))}
assert rows == expect, ("after the run: lost or extra rows", len(rows), len(expect))
sp_rows = {r for (r,) in db.execute("SELECT rowid FROM sp WHERE terms MATCH ? AND exact = 1", (ALL_TERMS,))}
assert sp_rows == expect, ("sparse: lost or extra rows", len(sp_rows), len(expect))
db.execute("INSERT INTO dv(dv) VALUES ('integrity-check')")
db.execute("INSERT INTO sp(sp) VALUES ('integrity-check')")
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
print("crash_concurrent_wal: %.0f s, writer transactions %s + %s, reader snapshots %s + %s checked, "
      "%d rows at the end, none lost" % (seconds, counts[("writer", 0)], counts[("writer", 1)],
                                          counts[("reader", 0)], counts[("reader", 1)], len(expect)))
PY
