#!/usr/bin/env bash
# silt_join against its own exact search on the fivethirtyeight lake, and Auto-Join ranks.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
shift || true
/usr/bin/python3 bench/join/join_bench.py "$BUILD" "$@"
