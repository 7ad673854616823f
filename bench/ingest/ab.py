#!/usr/bin/env python3
"""Interleaved A/B of silt builds on one file: each round loads the file once with every
given silt.so (order alternating between rounds) and once with the sqlite3 shell's
`.import`, each into a new database, and measures starting sqlite3 alone (with and without
silt loaded) next to them; start-up is subtracted from every load.

    python3 bench/ingest/ab.py FILE ROUNDS BUILD_A/silt [BUILD_B/silt ...]

The argument is what `.load` takes (a path without .so). Prints the best and median time of
each build and its ratio to `.import`."""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def fresh_run(times, key, db, cmd, env=None):
    """Runs cmd (which writes database file db, removed first) and appends its wall time to
    times[key]. Also used by http_ab.py."""
    for ext in ("", "-journal"):
        if os.path.exists(db + ext):
            os.remove(db + ext)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    times.setdefault(key, []).append(time.perf_counter() - t)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    path, rounds, sos = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    db = os.path.join(tempfile.mkdtemp(prefix="silt-ab-"), "ab.db")
    times = {}

    def run(key, cmd):
        fresh_run(times, key, db, cmd)

    for r in range(rounds):
        order = list(range(len(sos)))
        if r % 2:
            order.reverse()
        for i in order:
            load = ["sqlite3", "-cmd", ".load " + sos[i], db]
            run(("base", i), load + ["SELECT 1"])
            run(("load", i), load + ["SELECT silt_ingest('%s', 't')" % path.replace("'", "''")])
        run("ibase", ["sqlite3", db, "SELECT 1"])
        run("import", ["sqlite3", db, ".import --csv '%s' t" % path])
    ib = min(times["ibase"])
    imp_best = min(times["import"]) - ib
    imp_med = statistics.median(times["import"]) - ib
    print("load average %.2f; .import best %.1f ms, median %.1f ms (start-up subtracted)"
          % (os.getloadavg()[0], imp_best * 1e3, imp_med * 1e3))
    for i, so in enumerate(sos):
        b = min(times[("base", i)])
        best = min(times[("load", i)]) - b
        med = statistics.median(times[("load", i)]) - b
        print("%s: best %.1f ms (%.2fx), median %.1f ms (%.2fx)"
              % (so, best * 1e3, imp_best / best, med * 1e3, imp_med / med))


if __name__ == "__main__":
    main()
