#!/usr/bin/env bash
# make demo: the main job on the default model, as a short sqlite3 session. Each statement
# is shown before its result.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
DB=$(mktemp -d)/demo.db
trap 'rm -rf "$(dirname "$DB")"' EXIT
echo "silt demo: database $DB"
sqlite3 -batch -header -column -cmd ".load $BUILD/silt" -cmd ".echo on" "$DB" < scripts/demo.sql
