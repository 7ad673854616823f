#!/usr/bin/env bash
# run_valgrind.sh: make valgrind — the unit tests under valgrind's memcheck. Criterion runs
# each test in a child process and does not fail a run on a valgrind report (facts.md), so
# every process logs to its own file and the logs are searched: any memcheck error (invalid
# read/write, use of uninitialised values, invalid free, definite leak) fails the run.
#   bash tests/run_valgrind.sh BUILD [criterion options, e.g. --filter 'vec/*']
set -u
BUILD=${1:-build}; shift || true
LOGS="$BUILD/valgrind"
rm -rf "$LOGS" && mkdir -p "$LOGS"
# OpenBLAS/OpenMP threads only slow valgrind down; results do not depend on them.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Tests that only repeat compute-heavy work for numerical coverage do less of it under
# memcheck (test_int8.c's long texts): the memory they touch is the same.
export SILT_UNDER_VALGRIND=1
# A private copy of the binary: a rebuild during the (long) run must not swap it underneath.
cp "$BUILD/test_unit" "$LOGS/test_unit"
start=$(date +%s)
valgrind --trace-children=yes --error-exitcode=99 --track-origins=no \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --suppressions="$(dirname "$0")/valgrind.supp" \
  --log-file="$LOGS/vg.%p.log" "$LOGS/test_unit" -j2 "$@" > "$LOGS/criterion.out" 2>&1
rc=$?
tail -1 "$LOGS/criterion.out"
n_logs=$(ls "$LOGS"/vg.*.log 2>/dev/null | wc -l)
bad=$(grep -L "ERROR SUMMARY: 0 errors" "$LOGS"/vg.*.log 2>/dev/null | xargs -r grep -l "ERROR SUMMARY" 2>/dev/null)
secs=$(( $(date +%s) - start ))
if [ -n "$bad" ]; then
  for f in $bad; do
    echo "== $f"; grep -m1 "ERROR SUMMARY" "$f"; grep -m1 -A25 -E "Invalid|uninitialised|definitely lost|Mismatched|Syscall param" "$f"
  done
  echo "valgrind: errors in $(echo "$bad" | wc -w) of $n_logs processes (${secs}s); logs in $LOGS"
  exit 1
fi
if [ $rc -ne 0 ]; then
  echo "valgrind: the tests failed under valgrind (exit $rc, ${secs}s); see $LOGS/criterion.out"
  exit 1
fi
echo "valgrind: clean, $n_logs processes, 0 errors (${secs}s)"
