#!/usr/bin/env bash
# make bench: every benchmark, each against its peer measured in the same run.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
bash bench/distance/run.sh "$BUILD"
for b in bench/*/run.sh; do
  [ "$b" = bench/distance/run.sh ] && continue
  bash "$b" "$BUILD"
done
