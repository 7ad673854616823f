#!/usr/bin/env bash
# Fetches the peers' Linux x64 builds from npm into bench/.peers (gitignored, never
# committed) and prints the path of the requested one.
#   bench/peers.sh sqlite-vec   -> path of vec0.so (sqlite-vec 0.1.9)
set -euo pipefail
cd "$(dirname "$0")"
P=$PWD/.peers
mkdir -p "$P"
want=$1
case "$want" in
  sqlite-vec) pkg=sqlite-vec-linux-x64@0.1.9; file=node_modules/sqlite-vec-linux-x64/vec0.so ;;
  *) echo "unknown peer $want" >&2; exit 2 ;;
esac
if [ ! -f "$P/$file" ]; then
  (cd "$P" && npm install --silent --no-audit --no-fund --no-save "$pkg" >/dev/null 2>&1) ||
    { echo "peers: npm install $pkg failed" >&2; exit 1; }
fi
echo "$P/${file%.so}"
