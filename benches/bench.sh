#!/usr/bin/env bash
# Side-by-side benchmark: the reference peer kit (../shared/peers/node-oidc-provider, OpenID-certified node
# oidc-provider) measured on its own server and on Tessera, in one run, on loopback only.
#
#   benches/bench.sh                  # about 15 minutes; writes bench-results/<UTC time>/ and prints the tables
#   DURATION=10 WARMUP=3 CONNS="16 64" benches/bench.sh
#   CONFIGS="postgres sqlite" PEER=1 benches/bench.sh
#   DURATION=3 WARMUP=1 CONNS=16 FLOW_DURATION=3 FLOW_CONCURRENCY=16 benches/bench.sh   # a short smoke run
#
# Besides the kit's single-request scenarios (wrk), the multi-step scenarios of benches/flows.rs run on every
# server: flow_session (code + PKCE flow with an existing session and remembered consent), refresh (refresh
# token rotation) and login (password sign-in with a fresh cookie jar). For those, this script starts each
# server itself (peer: `node server.mjs` in the kit copy; Tessera: the generated serve.sh), waits for discovery,
# runs the driver with the server's PID, and stops that PID. Knobs: FLOW_DURATION (10), FLOW_WARMUP (WARMUP),
# FLOW_CONCURRENCY ("1 16"), FLOW_SCENARIOS ("flow_session refresh login"), FLOWS=0 skips them, PORT (3000).
# After the Postgres configuration, benches/growth.sh "$out" "$bin" runs when it exists (GROWTH=0 skips it).
# Next to `openssl speed`, benches/signing.rs records the in-process ceiling: Tessera's signing path on one
# thread per core, no HTTP (inprocess-sign.txt).
#
# Every load loop is bounded in time (wrk -d, the driver's --duration). Servers are started in the background
# and only the PIDs started here are stopped. Nothing here asserts on speed: figures are for
# docs/benchmarks.md. The exit status is 1 when a multi-step scenario had failures or growth.sh failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
peer_src="${PEER_DIR:-$root/../shared/peers/node-oidc-provider}"
configs="${CONFIGS:-postgres sqlite}"
run_peer="${PEER:-1}"
export DURATION="${DURATION:-10}" WARMUP="${WARMUP:-3}" THREADS="${THREADS:-2}" CONNS="${CONNS:-16 64}"
run_flows="${FLOWS:-1}"
flow_duration="${FLOW_DURATION:-10}"
flow_warmup="${FLOW_WARMUP:-$WARMUP}"
flow_concurrency="${FLOW_CONCURRENCY:-1 16}"
flow_scenarios="${FLOW_SCENARIOS:-flow_session refresh login}"
port="${PORT:-3000}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$root/bench-results/$stamp"
mkdir -p "$out"
log() { printf '[tessera-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

scripts/services.sh
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
log "building release"
cargo build --release --quiet
bin="$root/target/release/tessera"
# The bench binaries are built here once and run directly, so nothing compiles during a measurement.
bench_bin() {
  cargo build --release --quiet --bench "$1" --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])
' "$1"
}
flows_bin="$(bench_bin flows)"
[[ -x "$flows_bin" ]] || { echo "could not find the flows driver binary" >&2; exit 1; }
signing_bin="$(bench_bin signing)"
[[ -x "$signing_bin" ]] || { echo "could not find the signing bench binary" >&2; exit 1; }
clk_tck="$(getconf CLK_TCK)"

# The one server this script has running for the multi-step scenarios (the kit starts and stops its own).
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid" 2>/dev/null || true; fi
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT
base="http://127.0.0.1:$port"

# start_server LOG DIR CMD...: runs CMD in DIR with PORT set (CMD execs the server, so $! is its PID) and
# waits until discovery answers.
start_server() {
  local server_log="$1" cwd="$2"
  shift 2
  if curl -s -o /dev/null --max-time 1 "$base/"; then
    echo "something already listens on 127.0.0.1:$port; set PORT=..." >&2
    exit 1
  fi
  (cd "$cwd" && PORT="$port" exec "$@") >"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null --max-time 1 "$base/.well-known/openid-configuration" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not become ready; log:" >&2
  cat "$server_log" >&2
  exit 1
}

flow_failed=0
# flows NAME RESULTS SERVER [driver args...]: the multi-step scenarios against the running server; JSON lines
# are appended to RESULTS/runs.jsonl next to the kit's; the driver's output (the same lines, its summaries and
# the first few failures of each run) goes to RESULTS/flows.log.
flows() {
  local name="$1" results="$2" kind="$3"
  shift 3
  log "$name: ${flow_scenarios// /, } at concurrency ${flow_concurrency// /, } (${flow_duration} s each)"
  CLK_TCK="$clk_tck" "$flows_bin" --base "$base" --server "$kind" --scenarios "${flow_scenarios// /,}" \
    --concurrency "${flow_concurrency// /,}" --duration "$flow_duration" --warmup "$flow_warmup" \
    --server-pid "$server_pid" --json-out "$results/runs.jsonl" "$@" >>"$results/flows.log" 2>&1 \
    || { flow_failed=1; log "$name: FAILED operations, see $results/flows.log"; }
  grep '^flows: ' "$results/flows.log" | tail -n 20 >&2 || true
}

{
  echo "date: $(date -u)"; echo "uptime: $(uptime)"; echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "tessera: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"; rustc --version; openssl version
} >"$out/conditions.txt"
# openssl_speed FILE: `openssl speed -multi <cores> rsa2048`, the physical limit for RS256 issuance, into FILE.
openssl_speed() {
  openssl speed -seconds 5 -multi "$(nproc)" rsa2048 2>/dev/null | tail -n 2 >"$1"
  cat "$1" >&2
}
log "openssl speed -multi $(nproc) rsa2048 (the physical limit for RS256 issuance)"
openssl_speed "$out/openssl-speed.txt"
log "in-process RS256 ceiling: Tessera's signing path on $(nproc) threads, no HTTP (benches/signing.rs)"
"$signing_bin" --threads "$(nproc)" --duration 5 | tee "$out/inprocess-sign.txt" >&2

# The kit writes into its own folder (node_modules, key, results): run a copy.
kit="$out/kit"
mkdir -p "$kit"
cp "$peer_src"/{bench.sh,flow.mjs,jwtcheck.mjs,package.json,package-lock.json,server.mjs,wrk-report.lua} "$kit/"

if [[ "$run_peer" == 1 ]]; then
  log "peer: node oidc-provider"
  (cd "$kit" && FLOW_N=0 RESULTS="$out/peer" bash bench.sh) >"$out/peer.log" 2>&1 || { cat "$out/peer.log" >&2; exit 1; }
  if [[ "$run_flows" == 1 ]]; then
    start_server "$out/peer/flows-server.log" "$kit" node server.mjs
    # The kit's client secret; devInteractions accepts any login name and checks no password.
    FLOW_CLIENT_SECRET=bench-secret flows "peer" "$out/peer" peer \
      --note "node oidc-provider, in-memory adapter (LRU), devInteractions pages"
    stop_server
  fi
fi

kek="$(openssl rand -base64 32)"
secret="$(openssl rand -hex 24)"
user_password="$(openssl rand -hex 16)"
for config in $configs; do
  dir="$out/tessera-$config"
  mkdir -p "$dir/state"
  env_file="$dir/env"
  {
    echo "export TESSERA__KEYS__DIR='$dir/state/keys'"
    echo "export TESSERA__KEYS__KEK='$kek'"
    # The benchmark is one client hammering the token endpoint: the abuse limits would stop it. The sign-in
    # limits stay on, so that the login scenario pays for their cache look-ups, but high: a sign-in counts as a
    # failure until its password proves right, and sixteen browsers signing in at once as one user from one IP
    # would be refused past the defaults (5), as parallel guesses are meant to be.
    echo "export TESSERA__LIMITS__TOKEN_CLIENT_REQUESTS=0 TESSERA__LIMITS__TOKEN_IP_REQUESTS=0"
    echo "export TESSERA__LIMITS__LOGIN_IP_FAILURES=1000 TESSERA__LIMITS__LOGIN_USER_FAILURES=1000"
    # Every sign-in of the login scenario starts a new pending sign-in from the one loopback address.
    echo "export TESSERA__LIMITS__AUTHORIZE_IP_REQUESTS=0"
    echo "export TESSERA__LOG__LEVEL=warn"
    if [[ "$config" == postgres ]]; then
      db="bench_${stamp,,}"
      psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" >/dev/null
      echo "export TESSERA__DATABASE__URL='postgres://postgres@127.0.0.1:5432/$db'"
      echo "export TESSERA__REDIS__URL='redis://127.0.0.1:6379' TESSERA__REDIS__PREFIX='bench:$stamp:'"
    else
      echo "export TESSERA__DATABASE__URL='sqlite://$dir/state/tessera.db'"
    fi
  } >"$env_file"
  # shellcheck disable=SC1090
  (
    source "$env_file"
    "$bin" migrate >/dev/null
    # client_credentials for the kit's scenarios; the code flow and refresh tokens for flows.rs, with the
    # peer's redirect URI and scopes (a refresh token comes with every code: the client may refresh).
    printf '%s\n' "$secret" | "$bin" clients add --name "Benchmark" --client-id bench-client --client-secret-stdin \
      --grant-type client_credentials --grant-type authorization_code --grant-type refresh_token \
      --redirect-uri http://127.0.0.1:9999/cb --scope api:read --scope "openid email offline_access" \
      --resource https://api.example.test >/dev/null 2>&1
    # The login scenario's user, hashed at the configured argon2 cost ([passwords]: the production defaults).
    printf '%s\n' "$user_password" | "$bin" users add bench-user --password-stdin --email bench-user@example.test \
      >/dev/null
  )
  # The cost recorded in the user's hash: its parameters only, never the salt or the hash.
  if [[ "$config" == postgres ]]; then
    phc="$(psql -Atq -h 127.0.0.1 -U postgres -d "$db" -c "SELECT password_hash FROM users WHERE username = 'bench-user'")"
  elif command -v sqlite3 >/dev/null; then
    phc="$(sqlite3 "$dir/state/tessera.db" "SELECT password_hash FROM users WHERE username = 'bench-user'")"
  else
    phc=""
  fi
  cost="$(printf '%s' "$phc" | cut -d'$' -f2-4 | tr '$' ' ')"
  cost_note="password hash ${cost:-unknown}, passwords.max_concurrent ${TESSERA__PASSWORDS__MAX_CONCURRENT:-2}"
  log "tessera on $config: $cost_note"
  # The kit starts the server itself with PORT set; the issuer must be that address.
  cat >"$dir/serve.sh" <<SERVE
#!/usr/bin/env bash
source '$env_file'
export TESSERA__HTTP__BIND="127.0.0.1:\$PORT" TESSERA__ISSUER="http://127.0.0.1:\$PORT"
exec '$bin' serve
SERVE
  chmod +x "$dir/serve.sh"
  log "tessera on $config"
  # The kit's client is bench-client:bench-secret; ours has a random secret, so the kit's auth header is
  # rewritten for this run (a copy of bench.sh in the results folder).
  sed "s/bench-client:bench-secret/bench-client:$secret/" "$kit/bench.sh" >"$kit/bench-tessera.sh"
  body='grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.test&scope=api%3Aread'
  # A VM's RSA speed can drift by a quarter within the hour: the limit is measured again right before and
  # right after this configuration's single-request scenarios, and its client_credentials rows are read
  # against the mean of the two.
  log "openssl speed before tessera on $config"
  openssl_speed "$dir/openssl-before.txt"
  (cd "$kit" && FLOW_N=0 SERVER_CMD="$dir/serve.sh" CC_JWT_BODY="$body" CC_OPAQUE_BODY="$body" \
    SCENARIOS="discovery jwks token_cc_jwt introspect" RESULTS="$dir/results" bash bench-tessera.sh) \
    >"$dir/bench.log" 2>&1 || { cat "$dir/bench.log" >&2; exit 1; }
  log "openssl speed after tessera on $config"
  openssl_speed "$dir/openssl-after.txt"
  if [[ "$run_flows" == 1 ]]; then
    start_server "$dir/results/flows-server.log" "$dir" "$dir/serve.sh"
    FLOW_CLIENT_SECRET="$secret" FLOW_PASSWORD="$user_password" flows "tessera on $config" "$dir/results" tessera \
      --username bench-user --note "$cost_note"
    stop_server
  fi
  # Hook for the growth scenario (another script): it may use $dir's env and serve.sh; the database is still
  # there, no server is running, and the database is dropped when it returns.
  if [[ "$config" == postgres && "${GROWTH:-1}" != 0 && -f "$root/benches/growth.sh" ]]; then
    log "growth: benches/growth.sh"
    bash "$root/benches/growth.sh" "$out" "$bin" || { flow_failed=1; log "growth.sh FAILED"; }
  fi
  if [[ "$config" == postgres ]]; then
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  fi
done

log "summary"
python3 "$root/benches/compare.py" "$out" | tee "$out/summary.md"
[[ "$flow_failed" == 0 ]] || { log "some multi-step scenarios failed (see the flows.log files)"; exit 1; }
