#!/usr/bin/env bash
# A/B check of two release builds on the hot paths, alternated so that a VM's drift hits both alike: what a change
# costs, without the peer kit or the full benchmark.
#
#   benches/ab.sh OLD_BIN NEW_BIN [ROUNDS]     # e.g. a worktree's target/release/tessera and ours; ROUNDS 2
#
# Each binary gets its own fresh embedded-default state (SQLite, in-process cache) with the benchmark client and
# user, and serves on 127.0.0.1:PORT (3000) in turn. With AB_POSTGRES=1 each gets instead a database of its own on
# the Postgres of 127.0.0.1:5432 (user postgres) and a Redis prefix of its own on 127.0.0.1:6379, both removed at
# the end. Per round and binary: wrk -t2 -c16, WARMUP (3) s, then DURATION (10) s of client_credentials (Basic,
# RS256 JWT); then benches/flows.rs's FLOW_SCENARIOS (flow_session; a comma-separated list, e.g.
# flow_session,refresh) at 1 and 16 browsers, FLOW_DURATION (8) s each. The flows driver must be built first
# (`cargo build --release --bench flows`).
# Prints one line per round and binary (with the server's peak RSS, VmHWM, over the round), and `openssl speed
# -multi 2 rsa2048` before and after. Loopback only;
# every loop is bounded. Nothing here asserts on speed: figures are for docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
old="$(realpath "$1")" new="$(realpath "$2")" rounds="${3:-2}"
port="${PORT:-3000}" warmup="${WARMUP:-3}" duration="${DURATION:-10}" flow_duration="${FLOW_DURATION:-8}"
flow_scenarios="${FLOW_SCENARIOS:-flow_session}"
flows="$(ls -t "$root"/target/release/deps/flows-* 2>/dev/null | grep -v '\.d$' | head -n 1)"
[[ -x "$flows" ]] || { echo "build the flows driver first: cargo build --release --bench flows" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

work="$(mktemp -d)"
server=""
run_id="ab_$$" kek="$(openssl rand -base64 32)"
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null
  if [[ -n "${AB_POSTGRES:-}" ]]; then
    for name in old new; do
      psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS ${run_id}_$name WITH (FORCE)" >/dev/null || true
      redis-cli -h 127.0.0.1 --scan --pattern "${run_id}_$name:*" | xargs -r -n 500 redis-cli -h 127.0.0.1 del >/dev/null
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# backend NAME: the settings of NAME's storage (nothing for the embedded default), one per line.
backend() {
  [[ -n "${AB_POSTGRES:-}" ]] || return 0
  echo "TESSERA__DATABASE__URL=postgres://postgres@127.0.0.1:5432/${run_id}_$1"
  echo "TESSERA__REDIS__URL=redis://127.0.0.1:6379"
  echo "TESSERA__REDIS__PREFIX=${run_id}_$1:"
  echo "TESSERA__KEYS__KEK=$kek"
}
secret="ab-secret-$(openssl rand -hex 16)" password="ab-password-$(openssl rand -hex 8)"
basic="$(printf 'bench-client:%s' "$secret" | base64 -w0)"
cat >"$work/cc.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api%3Aread"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA

# setup NAME BIN: a fresh state in $work/NAME with the benchmark client and user.
setup() {
  mkdir -p "$work/$1"
  if [[ -n "${AB_POSTGRES:-}" ]]; then
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE ${run_id}_$1" >/dev/null
  fi
  (
    cd "$work/$1"
    mapfile -t settings < <(backend "$1")
    [[ ${#settings[@]} -eq 0 ]] || export "${settings[@]}"
    "$2" migrate >/dev/null
    printf '%s\n' "$secret" | "$2" clients add --name Benchmark --client-id bench-client --client-secret-stdin \
      --grant-type client_credentials --grant-type authorization_code --grant-type refresh_token \
      --redirect-uri http://127.0.0.1:9999/cb --scope api:read --scope "openid email offline_access" >/dev/null
    printf '%s\n' "$password" | "$2" users add bench-user --password-stdin >/dev/null
  )
}

# measure NAME BIN: one round on one binary.
measure() {
  cd "$work/$1"
  mapfile -t settings < <(backend "$1")
  env ${settings[@]+"${settings[@]}"} TESSERA__HTTP__BIND="127.0.0.1:$port" TESSERA__ISSUER="http://127.0.0.1:$port" \
    TESSERA__LIMITS__TOKEN_CLIENT_REQUESTS=0 TESSERA__LIMITS__TOKEN_IP_REQUESTS=0 \
    TESSERA__LIMITS__LOGIN_IP_FAILURES=1000 TESSERA__LIMITS__LOGIN_USER_FAILURES=1000 "$2" serve >>server.log 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  wrk -t2 -c16 -d"${warmup}s" -s "$work/cc.lua" "http://127.0.0.1:$port/token" >/dev/null
  local cc
  cc="$(wrk -t2 -c16 -d"${duration}s" -s "$work/cc.lua" "http://127.0.0.1:$port/token" \
    | awk '/Requests\/sec/ {r=$2} /Non-2xx/ {n=$NF} END {printf "%s tokens/s, non-2xx %s", r, n+0}')"
  local fl
  fl="$(FLOW_CLIENT_SECRET="$secret" FLOW_PASSWORD="$password" "$flows" --base "http://127.0.0.1:$port" \
    --server tessera --scenarios "$flow_scenarios" --concurrency 1,16 --duration "$flow_duration" --warmup 2 \
    --server-pid "$server" 2>/dev/null \
    | python3 -c 'import json, sys
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
print(", ".join("%s at %s: %.0f/s (failed %s)" % (r["scenario"], r["conns"], r["rps"], r["status_ge_400"]) for r in rows))')"
  local peak
  peak="$(awk '/^VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status")"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  echo "$1: $cc; $fl; peak RSS $peak; load $(cut -d' ' -f1 /proc/loadavg)"
}

setup old "$old"
setup new "$new"
echo "openssl before: $(openssl speed -multi 2 -seconds 3 rsa2048 2>/dev/null | tail -n 1)"
for round in $(seq "$rounds"); do
  echo "round $round"
  measure old "$old"
  measure new "$new"
done
echo "openssl after: $(openssl speed -multi 2 -seconds 3 rsa2048 2>/dev/null | tail -n 1)"
