#!/usr/bin/env bash
# Real data: every CSV file of the FiveThirtyEight lake (../shared/data/lake/fivethirtyeight,
# 489 files) through silt_ingest_dir in one call. Every file must load, and each table must
# hold as many rows as Python's csv module reads records (minus the header), except the files
# known to have no header row. Prints any file that fails and why. Skips when the lake is
# not there. Usage: tests/shell/ingest_lake.sh BUILD
set -u
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/../.."
LAKE=${SILT_LAKE:-../shared/data/lake/fivethirtyeight}
if [ ! -d "$LAKE" ]; then
  echo "SKIP ingest_lake: $LAKE not found (set SILT_LAKE to the fivethirtyeight directory)"
  exit 0
fi
LAKE=$(cd "$LAKE" && pwd)
TMP=$(mktemp -d /tmp/silt-ingest-lake.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
START=$SECONDS

# One connection: load everything, then list per-file results (path, table, rows, status).
sqlite3 -batch -noheader -separator $'\t' :memory: -cmd ".load $BUILD/silt" \
  "SELECT path, tbl, rows, status FROM silt_ingest_dir('$LAKE', '*.csv');" > "$TMP/res.tsv" 2> "$TMP/err.txt"
if [ -s "$TMP/err.txt" ]; then echo "FAIL ingest_lake: $(cat "$TMP/err.txt")"; exit 1; fi

python3 - "$TMP/res.tsv" "$LAKE" <<'EOF'
import csv, sys
# Files whose first row is data, not a header (silt's header detection says so too).
HEADERLESS = {"pew-religions/current.csv"}
res, lake = sys.argv[1], sys.argv[2]
n = loaded = 0
problems = []
for line in open(res, encoding="utf-8", errors="surrogateescape"):
    path, tbl, rows, status = line.rstrip("\n").split("\t", 3)
    n += 1
    rel = path[len(lake) + 1:]
    if status != "loaded":
        problems.append("%s: %s" % (rel, status))
        continue
    loaded += 1
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        records = sum(1 for r in csv.reader(f) if r)
    want = records if rel in HEADERLESS else records - 1
    if int(rows) != want:
        problems.append("%s: %s rows, expected %d" % (rel, rows, want))
print("ingest_lake: %d files, %d loaded" % (n, loaded))
for p in problems:
    print("FAIL ingest_lake " + p)
sys.exit(1 if problems or n != 489 else 0)
EOF
rc=$?
echo "ingest_lake: $((SECONDS - START)) s"
exit $rc
