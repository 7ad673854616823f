# cluster_lib.sh: shell helpers to run a local silt cluster on loopback ports, sourced by
# scripts/cluster-demo.sh, tests/shell/cluster_failover.sh and bench/cluster/run.sh.
#
#   . cluster/cluster_lib.sh
#   cl_init "$BUILD" "$(mktemp -d)" 3 50      # build dir, work dir, nodes, latency in ms
#   trap cl_cleanup EXIT
#   cl_start 1 --bootstrap; cl_start 2 --join "$(cl_addr 1)"; cl_start 3 --join "$(cl_addr 1)"
#   cl_wait_voters 3 20
#   cl_sql "SELECT silt_version()"
#
# Every process started here is recorded by pid in $CL_DIR/<id>.pid and stopped by
# cl_cleanup (SIGTERM, then SIGKILL after 5 s), which also removes $CL_DIR unless CL_KEEP=1.
# The helpers are safe under `set -e` (a trap that stops halfway would leave nodes running).

# cl_init BUILD DIR N LATENCY_MS: picks N free loopback ports and sets CL_* variables.
cl_init() {
  CL_BUILD=$1; CL_DIR=$2; CL_N=$3; CL_LATENCY_MS=${4:-50}
  mkdir -p "$CL_DIR"
  CL_PORTS=($(cl_free_ports "$CL_N"))
  CL_SERVERS=""
  local i
  for ((i = 1; i <= CL_N; i++)); do
    CL_SERVERS+="${CL_SERVERS:+,}$(cl_addr "$i")"
  done
}

# cl_free_ports N: N distinct ports below the ephemeral range that nothing listens on.
cl_free_ports() {
  local n=$1 out=() p used
  used=$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://')
  while [ ${#out[@]} -lt "$n" ]; do
    p=$((20000 + RANDOM % 12000))
    if ! grep -qx "$p" <<<"$used" && [[ " ${out[*]} " != *" $p "* ]]; then out+=("$p"); fi
  done
  echo "${out[@]}"
}

cl_addr() { echo "127.0.0.1:${CL_PORTS[$(($1 - 1))]}"; }

# cl_start ID [silt-node options...]: starts node ID in the background, log in $CL_DIR/ID.log.
cl_start() {
  local id=$1; shift
  "$CL_BUILD/silt-node" --id "$id" --address "$(cl_addr "$id")" --dir "$CL_DIR/node$id" \
    --latency-ms "$CL_LATENCY_MS" "$@" >>"$CL_DIR/$id.log" 2>&1 &
  echo $! >"$CL_DIR/$id.pid"
}

cl_pid() { cat "$CL_DIR/$1.pid" 2>/dev/null; }

# cl_kill9 ID: SIGKILL node ID and reap it.
cl_kill9() {
  local pid; pid=$(cl_pid "$1")
  [ -n "$pid" ] || return 0
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$CL_DIR/$1.pid"
}

# cl_stop ID: SIGTERM node ID, SIGKILL if it has not stopped within 5 s.
cl_stop() {
  local pid i; pid=$(cl_pid "$1")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$CL_DIR/$1.pid"
}

# cl_cleanup: stops every node still recorded, then removes the work dir (trap target).
cl_cleanup() {
  local f
  [ -n "${CL_DIR:-}" ] && [ -d "$CL_DIR" ] || return 0
  for f in "$CL_DIR"/*.pid; do
    [ -f "$f" ] && cl_stop "$(basename "$f" .pid)"
  done
  [ "${CL_KEEP:-0}" = 1 ] || rm -rf "$CL_DIR"
}

# cl_sql [silt-sql options] [SQL...]: runs silt-sql against the whole cluster.
cl_sql() { "$CL_BUILD/silt-sql" -s "$CL_SERVERS" "$@"; }

# cl_leader: id of the current leader (empty when there is none).
cl_leader() { cl_sql --timeout-ms "${1:-5000}" --leader 2>/dev/null | cut -d' ' -f1; }

# cl_wait_voters N SECONDS: waits until the leader lists N voters that each know the leader.
cl_wait_voters() {
  local n=$1 deadline=$((SECONDS + $2)) id addr
  while [ $SECONDS -lt $deadline ]; do
    if [ "$(cl_sql --timeout-ms 1000 --cluster 2>/dev/null | grep -c ' voter$')" = "$n" ]; then
      local ok=1
      for ((id = 1; id <= CL_N; id++)); do
        "$CL_BUILD/silt-sql" -s "$(cl_addr "$id")" --timeout-ms 500 --leader >/dev/null 2>&1 || ok=0
      done
      [ $ok = 1 ] && return 0
    fi
    sleep 0.2
  done
  echo "cluster: fewer than $n voters after $2 s" >&2
  return 1
}

# cl_now_ms: wall clock in milliseconds.
cl_now_ms() { date +%s%3N; }
