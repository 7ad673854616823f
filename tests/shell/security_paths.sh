#!/usr/bin/env bash
# security_paths: the allowed-paths list (sqlext/pathguard.h). With SILT_ALLOWED_PATHS or
# silt_config('allowed_paths', ...) in force, models and data files outside the list are
# refused by silt_model_register, by loading a registered model, by silt_model_import, by
# silt_ingest (paths and file: URLs) and by silt_ingest_dir; '..' and symbolic links do not
# get around it; SQL can narrow the list but never widen it, and not from a view. Also: the
# URL schemes silt_ingest refuses, and the application-wide fetch limits of silt_config
# (fetch_max_bytes, fetch_timeout_ms) over http and file. Usage: security_paths.sh BUILD
set -u
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0

# run NAME ENV EXPECTED SQL...: runs the SQL lines in one sqlite3 process (env ENV, "-" for
# none) and compares stdout+stderr with EXPECTED (a glob pattern: only a trailing * is used).
run() {
  local name=$1 envs=$2 want=$3; shift 3
  local got
  got=$(cd "$TMP" && { [ "$envs" = - ] || export $envs; printf '%s\n' "$@" | sqlite3 -batch -cmd ".load $BUILD/silt" "$TMP/lake.db" 2>&1; })
  # shellcheck disable=SC2053 # EXPECTED may end in a * (a glob) for variable tails
  if [[ "$got" == $want ]]; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL $name"; diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -20
  fi
}

mkdir -p "$TMP/allowed/models" "$TMP/allowed/data" "$TMP/outside"
cp -r "$ROOT/tests/data/tiny-bert" "$TMP/allowed/models/tb"
cp -r "$ROOT/tests/data/tiny-bert" "$TMP/outside/tb"
printf 'a,b\n1,2\n' > "$TMP/allowed/data/ok.csv"
seq 1 100 | sed 's/.*/&,x/' > "$TMP/allowed/data/big.csv"
printf 'secret,x\n1,2\n' > "$TMP/outside/secret.csv"
ln -s "$TMP/outside/secret.csv" "$TMP/allowed/data/link.csv"
# A model directory inside the list whose weights are a link to a file outside it.
cp -r "$ROOT/tests/data/tiny-bert" "$TMP/allowed/models/sneaky"
rm "$TMP/allowed/models/sneaky/model.safetensors"
ln -s "$TMP/outside/tb/model.safetensors" "$TMP/allowed/models/sneaky/model.safetensors"
A="$TMP/allowed"
ENV="SILT_ALLOWED_PATHS=$A"
msg() { echo "reading '$1' is not allowed: it is outside the allowed paths '$A' (silt_config('allowed_paths'))"; }

# Before any restriction: a model outside, registered (a database built elsewhere).
run register_unrestricted - "out" "SELECT silt_model_register('out', '$TMP/outside/tb');"
run list_unrestricted - "1" "SELECT silt_config('allowed_paths') IS NULL;"

run list_from_env "$ENV" "$A" "SELECT silt_config('allowed_paths');"
run register_inside "$ENV" "in" "SELECT silt_model_register('in', '$A/models/tb');"
run register_outside "$ENV" "Runtime error near line 1: silt_model_register: $(msg "$TMP/outside/tb")" \
  "SELECT silt_model_register('x', '$TMP/outside/tb');"
run register_dotdot "$ENV" "Runtime error near line 1: silt_model_register: $(msg "$A/../outside/tb")" \
  "SELECT silt_model_register('x', '$A/../outside/tb');"
run register_symlinked_file "$ENV" "Runtime error near line 1: silt_model_register: $(msg "$A/models/sneaky/model.safetensors")" \
  "SELECT silt_model_register('x', '$A/models/sneaky');"
run register_missing_outside "$ENV" "Runtime error near line 1: silt_model_register: $(msg /nonexistent/m.gguf)" \
  "SELECT silt_model_register('x', '/nonexistent/m.gguf');"
run load_registered_outside "$ENV" "Runtime error near line 1: silt_embed: model 'out': $(msg "$TMP/outside/tb")" \
  "SELECT length(silt_embed('out', 'hello'));"
run import_registered_outside "$ENV" "Runtime error near line 1: silt_model_import: model 'out': cannot import: $(msg "$TMP/outside/tb")" \
  "SELECT silt_model_import('out');"
run load_inside "$ENV" "128" "SELECT length(silt_embed('in', 'hello'));"
run default_model_exempt "$ENV" "2048" "SELECT length(silt_embed('hello'));"
run ingest_inside "$ENV" "1" "SELECT silt_ingest('$A/data/ok.csv', 'ok');"
run ingest_outside "$ENV" "Runtime error near line 1: silt_ingest('$TMP/outside/secret.csv'): $(msg "$TMP/outside/secret.csv")" \
  "SELECT silt_ingest('$TMP/outside/secret.csv', 's1');"
run ingest_file_url "$ENV" "Runtime error near line 1: silt_ingest('file://$TMP/outside/secret.csv'): $(msg "$TMP/outside/secret.csv")" \
  "SELECT silt_ingest('file://$TMP/outside/secret.csv', 's2');"
run ingest_symlink "$ENV" "Runtime error near line 1: silt_ingest('$A/data/link.csv'): $(msg "$TMP/outside/secret.csv")" \
  "SELECT silt_ingest('$A/data/link.csv', 's3');"
run ingest_dir_outside "$ENV" "Runtime error near line 1: silt_ingest_dir: $(msg "$TMP/outside")" \
  "SELECT * FROM silt_ingest_dir('$TMP/outside', '*.csv');"
run nothing_loaded "$ENV" "0" "SELECT count(*) FROM sqlite_schema WHERE name LIKE 's_';"
run narrow "$ENV" "$A/data" "SELECT silt_config('allowed_paths', '$A/data');"
run narrow_then_refuse "$ENV" "$A/data
Runtime error near line 2: silt_model_register: reading '$A/models/tb' is not allowed: it is outside the allowed paths '$A/data' (silt_config('allowed_paths'))" \
  "SELECT silt_config('allowed_paths', '$A/data');" "SELECT silt_model_register('y', '$A/models/tb');"
run widen_refused "$ENV" "Runtime error near line 1: silt_config: allowed_paths can only be narrowed: '/' is outside the allowed paths '$A'" \
  "SELECT silt_config('allowed_paths', '/');"
run widen_dotdot_refused "$ENV" "Runtime error near line 1: silt_config: allowed_paths can only be narrowed: '$A/..' is outside the allowed paths '$A'" \
  "SELECT silt_config('allowed_paths', '$A/..');"
run not_from_view - "Parse error near line 2: unsafe use of silt_config()" \
  "CREATE VIEW v AS SELECT silt_config('allowed_paths', '/tmp') AS x;" "SELECT x FROM v;"
run relative_refused - "Runtime error near line 1: silt_config: allowed_paths: 'data' is not an absolute path (expected '/dir1:/dir2')" \
  "SELECT silt_config('allowed_paths', 'data');"
run unknown_setting - "Runtime error near line 1: silt_config: unknown setting 'colour' (expected 'allowed_paths', 'fetch_max_bytes' or 'fetch_timeout_ms')" \
  "SELECT silt_config('colour');"
run bad_env_allows_nothing "SILT_ALLOWED_PATHS=relative/dir" "Runtime error near line 1: silt_ingest('$A/data/ok.csv'): reading '$A/data/ok.csv' is not allowed: \$SILT_ALLOWED_PATHS is invalid (allowed_paths: 'relative/dir' is not an absolute path (expected '/dir1:/dir2'))" \
  "SELECT silt_ingest('$A/data/ok.csv', 'ok2');"
# Schemes (api.md: http, https, file), also when spelled in upper case.
for s in ftp gopher dict ldap smb scp sftp telnet tftp imap pop3 smtp rtsp mqtt ws FTP; do
  run "scheme_$s" - "Runtime error near line 1: silt_ingest('$s://127.0.0.1/x.csv'): URL scheme '$s' is not allowed (expected http, https or file)" \
    "SELECT silt_ingest('$s://127.0.0.1/x.csv', 'x');"
done
# Application-wide fetch limits (silt_config) bound every fetch, whatever the call asks for.
python3 "$ROOT/tests/shell/ingest_http_server.py" --port-file "$TMP/port" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
U="http://127.0.0.1:$(cat "$TMP/port")"
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
run fetch_max_bytes_http - "10
Runtime error near line 2: silt_ingest('$U/data.csv'): larger than max_bytes (10 bytes)" \
  "SELECT silt_config('fetch_max_bytes', 10);" "SELECT silt_ingest('$U/data.csv', 'f1', '{\"max_bytes\":100000}');"
run fetch_max_bytes_file - "10
Runtime error near line 2: silt_ingest('$A/data/big.csv'): larger than max_bytes (10 bytes)" \
  "SELECT silt_config('fetch_max_bytes', 10);" "SELECT silt_ingest('$A/data/big.csv', 'f2');"
run fetch_timeout - "1500
Runtime error near line 2: silt_ingest('$U/slow.csv'): timed out after 1500 ms (timeout_ms)*" \
  "SELECT silt_config('fetch_timeout_ms', 1500);" "SELECT silt_ingest('$U/slow.csv', 'f3', '{\"timeout_ms\":600000}');"
run fetch_limit_not_raised - "100
Runtime error near line 2: silt_config: fetch_max_bytes can only be lowered (it is 100)" \
  "SELECT silt_config('fetch_max_bytes', 100);" "SELECT silt_config('fetch_max_bytes', 1000);"
run fetch_limit_bad - "Runtime error near line 1: silt_config: fetch_timeout_ms must be a positive integer up to 2147483647, got '0'" \
  "SELECT silt_config('fetch_timeout_ms', 0);"
run db_unchanged - "ok|in,out" "SELECT (SELECT group_concat(name) FROM sqlite_schema WHERE name IN ('ok','ok2','s1','s2','s3','x','f1','f2','f3')), (SELECT group_concat(name) FROM silt_models WHERE name <> 'default');"
echo "security_paths: $pass passed, $fail failed"
[ $fail -eq 0 ]
