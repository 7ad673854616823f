#!/usr/bin/env bash
# run.sh: runs libFuzzer targets for a bounded time each (make fuzz-smoke, and longer
# campaigns by hand) and prints one summary line per target: executions, coverage (cov:),
# corpus size, and the crash file when there is one. Exits non-zero when any target crashed,
# leaked, timed out or hit the memory limit.
#
#   bash tests/fuzz/run.sh build-fuzz/fuzz 15 gguf csv ...        (seconds per target)
#   FUZZ_JOBS=2 bash tests/fuzz/run.sh build-fuzz/fuzz 300 gguf    (a longer campaign)
#
# New inputs go to $FUZZ_BUILD/corpus/<target> (kept between runs, never committed); the seed
# corpus tests/fuzz/corpus/<target> is only read. Crash reproducers land in
# $FUZZ_BUILD/artifacts/<target>/ and logs in $FUZZ_BUILD/logs/<target>.log.
set -u
FUZZ_BUILD=${1:?usage: run.sh FUZZ_BUILD SECONDS TARGET...}
SECONDS_EACH=${2:?seconds per target}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_odr_violation=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# OpenBLAS and the silt thread pool: one thread each keeps runs reproducible and light.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 SILT_THREADS=${SILT_THREADS:-1}
fail=0
for t in "$@"; do
  bin="$FUZZ_BUILD/fuzz_$t"
  work="$FUZZ_BUILD/corpus/$t"
  art="$FUZZ_BUILD/artifacts/$t"
  log="$FUZZ_BUILD/logs/$t.log"
  mkdir -p "$work" "$art" "$(dirname "$log")"
  if [ ! -x "$bin" ]; then
    echo "fuzz $t: $bin missing (make fuzz)"; fail=1; continue
  fi
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_JOBS:+-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS} \
    "$work" "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  # The last status line ("#123 DONE cov: 456 ft: ... corp: 12/3Kb ...") and the final stats.
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
  cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  corp=$(printf '%s\n' "$last" | sed -n 's/.*corp: \([0-9]*\)\/.*/\1/p')
  if [ $rc -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    echo "fuzz $t: ok, ${execs} execs, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, ${SECONDS_EACH}s"
  else
    crash=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
    echo "fuzz $t: FAILED (rc $rc) after ${execs} execs, cov ${cov:-?}; reproducer ${crash:-none}; log $log"
    grep -m3 -E 'ERROR: |runtime error:|fuzz oracle failed' "$log" | sed 's/^/    /'
    fail=1
  fi
done
exit $fail
