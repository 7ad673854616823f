#!/usr/bin/env python3
"""Interleaved A/B of silt builds on the HTTP / local-file rate: each round loads FILE with
every given silt.so (order alternating between rounds) once from the local file and once over
loopback HTTP (tests/shell/ingest_http_server.py, sendfile), each into a new database, and
measures starting sqlite3 with silt loaded alone next to them; start-up is subtracted.

    python3 bench/ingest/http_ab.py FILE ROUNDS BUILD_A/silt [BUILD_B/silt ...]

The argument is what `.load` takes (a path without .so). Prints, per build, the best and
median time of each kind of load and the HTTP / file rate (file time / HTTP time) of the
bests and of the medians."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab import fresh_run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    path, rounds, sos = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    tmp = tempfile.mkdtemp(prefix="silt-http-ab-")
    db, port_file = os.path.join(tmp, "ab.db"), os.path.join(tmp, "port")
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/shell/ingest_http_server.py"),
                               "--port-file", port_file, "--files-dir", os.path.dirname(path)])
    try:
        for _ in range(200):
            if os.path.exists(port_file) and os.path.getsize(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            url = "http://127.0.0.1:%s/files/%s" % (f.read().strip(), os.path.basename(path))
        env = dict(os.environ, no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
        times = {}

        def run(key, cmd):
            fresh_run(times, key, db, cmd, env)

        for r in range(rounds):
            order = list(range(len(sos)))
            if r % 2:
                order.reverse()
            for i in order:
                load = ["sqlite3", "-cmd", ".load " + sos[i], db]
                run(("base", i), load + ["SELECT 1"])
                kinds = ("file", "http") if r % 2 == 0 else ("http", "file")
                for kind in kinds:
                    src = path if kind == "file" else url
                    run((kind, i), load + ["SELECT silt_ingest('%s', 't')" % src.replace("'", "''")])
        print("load average %.2f at the end, %d rounds" % (os.getloadavg()[0], rounds))
        for i, so in enumerate(sos):
            b = min(times[("base", i)])
            fb, hb = min(times[("file", i)]) - b, min(times[("http", i)]) - b
            fm = statistics.median(times[("file", i)]) - b
            hm = statistics.median(times[("http", i)]) - b
            print("%s: file best %.3f s, median %.3f; http best %.3f, median %.3f; "
                  "HTTP / file %.2fx (bests), %.2fx (medians)" % (so, fb, fm, hb, hm, fb / hb, fm / hm))
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
