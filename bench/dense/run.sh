#!/usr/bin/env bash
# silt_dense against sqlite-vec 0.1.9, sqlite-vss 0.1.2 and @sqliteai/sqlite-vector 1.1.2 in
# one run (bench/dense/bench.py says what is measured). The peers' Linux x64 builds come
# from npm into bench/.peers (gitignored, never committed).
#   bash bench/dense/run.sh BUILD [bench.py options, e.g. --n 20000]
# Results: bench/out/dense_results.md and .json. Needs /usr/bin/python3 with numpy.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd); shift || true
cd "$(dirname "$0")/../.."
P=bench/.peers
mkdir -p "$P"
need=()
[ -f "$P/node_modules/sqlite-vec-linux-x64/vec0.so" ] || need+=(sqlite-vec-linux-x64@0.1.9)
[ -f "$P/node_modules/sqlite-vss-linux-x64/lib/vss0.so" ] || need+=(sqlite-vss-linux-x64@0.1.2)
[ -f "$P/node_modules/@sqliteai/sqlite-vector-linux-x86_64/vector.so" ] ||
  need+=(@sqliteai/sqlite-vector-linux-x86_64@1.1.2)
if [ ${#need[@]} -gt 0 ]; then
  (cd "$P" && npm install --silent --no-audit --no-fund --no-save "${need[@]}" >/dev/null 2>&1) ||
    { echo "bench/dense: npm install ${need[*]} failed" >&2; exit 1; }
fi
/usr/bin/python3 -c "import numpy" 2>/dev/null ||
  { echo "bench/dense: needs numpy for /usr/bin/python3 (apt-get install python3-numpy)" >&2; exit 1; }
exec /usr/bin/python3 bench/dense/bench.py --build "$BUILD" --peers "$P" --out bench/out "$@"
