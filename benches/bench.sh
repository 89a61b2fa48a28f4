#!/usr/bin/env bash
# Side-by-side benchmark: the reference peer kit (../shared/peers/node-oidc-provider, OpenID-certified node
# oidc-provider) measured on its own server and on Tessera, in one run, on loopback only.
#
#   benches/bench.sh                  # about 10 minutes; writes bench-results/<UTC time>/ and prints the tables
#   DURATION=10 WARMUP=3 CONNS="16 64" benches/bench.sh
#   CONFIGS="postgres sqlite" PEER=1 benches/bench.sh
#
# Every load loop is bounded in time (wrk -d). Servers are started in the background and only the PIDs
# started here are stopped. Nothing here asserts on speed: figures are for docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
peer_src="${PEER_DIR:-$root/../shared/peers/node-oidc-provider}"
configs="${CONFIGS:-postgres sqlite}"
run_peer="${PEER:-1}"
export DURATION="${DURATION:-10}" WARMUP="${WARMUP:-3}" THREADS="${THREADS:-2}" CONNS="${CONNS:-16 64}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$root/bench-results/$stamp"
mkdir -p "$out"
log() { printf '[tessera-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

scripts/services.sh
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
log "building release"
cargo build --release --quiet
bin="$root/target/release/tessera"

{
  echo "date: $(date -u)"; echo "uptime: $(uptime)"; echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "tessera: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"; rustc --version; openssl version
} >"$out/conditions.txt"
log "openssl speed -multi $(nproc) rsa2048 (the physical limit for RS256 issuance)"
openssl speed -seconds 5 -multi "$(nproc)" rsa2048 2>/dev/null | tail -n 2 >"$out/openssl-speed.txt"
cat "$out/openssl-speed.txt" >&2

# The kit writes into its own folder (node_modules, key, results): run a copy.
kit="$out/kit"
mkdir -p "$kit"
cp "$peer_src"/{bench.sh,flow.mjs,jwtcheck.mjs,package.json,package-lock.json,server.mjs,wrk-report.lua} "$kit/"

if [[ "$run_peer" == 1 ]]; then
  log "peer: node oidc-provider"
  (cd "$kit" && FLOW_N=0 RESULTS="$out/peer" bash bench.sh) >"$out/peer.log" 2>&1 || { cat "$out/peer.log" >&2; exit 1; }
fi

kek="$(openssl rand -base64 32)"
secret="$(openssl rand -hex 24)"
for config in $configs; do
  dir="$out/tessera-$config"
  mkdir -p "$dir/state"
  env_file="$dir/env"
  {
    echo "export TESSERA__KEYS__DIR='$dir/state/keys'"
    echo "export TESSERA__KEYS__KEK='$kek'"
    # The benchmark is one client hammering the token endpoint: the abuse limits would stop it.
    echo "export TESSERA__LIMITS__TOKEN_CLIENT_REQUESTS=0 TESSERA__LIMITS__TOKEN_IP_REQUESTS=0"
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
    printf '%s\n' "$secret" | "$bin" clients add --name "Benchmark" --client-id bench-client --client-secret-stdin \
      --grant-type client_credentials --scope api:read --resource https://api.example.test >/dev/null 2>&1
  )
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
  (cd "$kit" && FLOW_N=0 SERVER_CMD="$dir/serve.sh" CC_JWT_BODY="$body" CC_OPAQUE_BODY="$body" \
    SCENARIOS="discovery jwks token_cc_jwt introspect" RESULTS="$dir/results" bash bench-tessera.sh) \
    >"$dir/bench.log" 2>&1 || { cat "$dir/bench.log" >&2; exit 1; }
  if [[ "$config" == postgres ]]; then
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  fi
done

log "summary"
python3 "$root/benches/compare.py" "$out" | tee "$out/summary.md"
