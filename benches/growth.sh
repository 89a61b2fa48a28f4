#!/usr/bin/env bash
# Growth scenario of the benchmark: the cost of refresh-token rotation and of introspection must not grow with
# the amount of stored data. Measures both on a Postgres database holding 1,000 refresh tokens, then again after
# growing it to 1,000,000 tokens (and 100,000 more users), and writes the 1M/1k ratios.
#
#   benches/growth.sh                          # standalone: takes target/release/tessera (builds nothing),
#                                              # writes bench-results/<UTC time>/growth/
#   benches/growth.sh "$out" "$bin"            # from bench.sh: results folder, release binary
#   DURATION=3 WARMUP=1 GROWTH_TOKENS=100000 benches/growth.sh    # a short development run
#
# Knobs (defaults): DURATION (10) and WARMUP (3) seconds per wrk run, THREADS (2), GROWTH_CONNS (the first value
# of CONNS, else 16: bench.sh exports CONNS="16 64" for its own scenarios), GROWTH_SMALL (1000 tokens),
# GROWTH_TOKENS (1000000), GROWTH_SMALL_USERS (100), GROWTH_USERS (100000 added for the large database),
# GROWTH_PORT (3917), GROWTH_SCOPE ("api:read offline_access": no openid, so a rotation signs one JWT; with
# openid it signs an ID token too and RSA hides the database even more), PEER_DIR (the kit, for wrk-report.lua).
#
# Loopback only: Postgres 127.0.0.1:5432 (user postgres, trust), Redis 127.0.0.1:6379, Tessera 127.0.0.1:PORT.
# Every load loop is bounded in time (wrk -d), every wait loop in count. The server is restarted between the two
# sizes (each size gets a fresh process, so VmHWM and caches compare like with like); only the PID started here
# is stopped. The database it creates (bench_growth_<stamp>) and its Redis keys (its own prefix) are dropped on
# exit. Nothing here asserts on speed: figures are for docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="${1:-$root/bench-results/$stamp}"
bin="${2:-$root/target/release/tessera}"
dir="$out/growth"

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
THREADS="${THREADS:-2}"
conns="${GROWTH_CONNS:-${CONNS:-16}}"
conns="${conns%% *}"
small="${GROWTH_SMALL:-1000}"
large="${GROWTH_TOKENS:-1000000}"
small_users="${GROWTH_SMALL_USERS:-100}"
more_users="${GROWTH_USERS:-100000}"
port="${GROWTH_PORT:-3917}"
scope_raw="${GROWTH_SCOPE:-api:read offline_access}"
peer_src="${PEER_DIR:-$root/../shared/peers/node-oidc-provider}"
# Extra tokens per thread beyond its connections: a few errors must not starve a thread.
spare=2

log() { printf '[tessera-growth %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for knob in DURATION WARMUP THREADS conns small large small_users more_users port; do
  [[ "${!knob}" =~ ^[0-9]+$ ]] || die "$knob must be a whole number, not '${!knob}'"
done
((THREADS > 0 && conns >= THREADS && conns % THREADS == 0)) || die "GROWTH_CONNS ($conns) must be a multiple of THREADS ($THREADS)"
((DURATION > 0)) || die "DURATION must be at least 1"
((small_users >= 1 && more_users >= 0)) || die "GROWTH_SMALL_USERS must be at least 1"
[[ -x "$bin" ]] || die "no release binary at $bin (cargo build --release first; this script builds nothing)"
for tool in wrk psql redis-cli curl python3 openssl; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
report_lua="$out/kit/wrk-report.lua"          # the copy bench.sh made, when called from there
[[ -f "$report_lua" ]] || report_lua="$peer_src/wrk-report.lua"
[[ -f "$report_lua" ]] || die "the kit's wrk-report.lua is not at $report_lua (set PEER_DIR)"
rotate_lua="$root/benches/growth-rotate.lua"
if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
  die "something already listens on 127.0.0.1:$port; set GROWTH_PORT"
fi

# Tessera prints scopes sorted (a BTreeSet): store them the same way.
scope="$(tr ' ' '\n' <<<"$scope_raw" | grep -v '^$' | LC_ALL=C sort -u | paste -sd' ')"
offline=false
if [[ " $scope " == *" offline_access "* ]]; then offline=true; fi
per_thread=$((conns / THREADS + spare))
batch=$((per_thread * THREADS))    # tokens for one wrk run
known=$((2 * batch + 1))           # per size: warm-up batch, measured batch, one for an access token
((small > known)) || die "GROWTH_SMALL ($small) must exceed the $known tokens the script itself needs"
((large > small)) || die "GROWTH_TOKENS ($large) must exceed GROWTH_SMALL ($small)"

db="bench_growth_${stamp,,}"
prefix="bench-growth:$stamp:$$:"
base="http://127.0.0.1:$port"
pg=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
CLK_TCK="$(getconf CLK_TCK)"

server_pid=""
db_created=0
tmp=""
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid" 2>/dev/null || true; fi
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  local rc=$?
  stop_server
  if ((db_created)); then
    "${pg[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || log "could not drop $db"
  fi
  # Only this run's prefix (it holds the PID, so no other run shares it); SCAN ends after one pass.
  redis-cli -h 127.0.0.1 -p 6379 --scan --pattern "${prefix}*" 2>/dev/null |
    xargs -r -n 500 redis-cli -h 127.0.0.1 -p 6379 DEL >/dev/null 2>&1 || true
  if [[ -n "$tmp" ]]; then rm -rf "$tmp"; fi
  rm -rf "$dir/state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$dir"
tmp="$(mktemp -d "$dir/tmp.XXXXXX")"   # secrets of this run only (client secret, token plaintexts): deleted on exit
# Both sizes must run the same binary, and engineers rebuild target/release while this runs: take a copy.
cp "$bin" "$tmp/tessera"
bin="$tmp/tessera"

# ------------------------------------------------------------------------------------------------ helpers
proc_jiffies() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
vm_kb() { awk -v k="$1:" '$1==k{print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
db_backends() {  # the Postgres backends serving this database (the server's pool), not this query's own
  "${pg[@]}" -d postgres -Atc "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()"
}
# CPU of the database side over a window: backends the pool opens during the window count from zero, backends
# that close during it are left out (their last reading is gone with them).
declare -A db_start=()
db_cpu_begin() {
  local p
  db_start=()
  for p in $(db_backends); do db_start[$p]="$(proc_jiffies "$p")"; done
}
db_cpu_end() {  # prints "jiffies backends"
  local p j total=0 n=0
  for p in $(db_backends); do
    j="$(proc_jiffies "$p")"
    ((j > 0)) || continue
    total=$((total + j - ${db_start[$p]:-0}))
    n=$((n + 1))
  done
  echo "$total $n"
}
sql() { "${pg[@]}" -d "$db" "$@"; }
count_tokens() { sql -Atc "SELECT count(*) FROM refresh_tokens"; }
count_users() { sql -Atc "SELECT count(*) FROM users"; }
json_field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v if not isinstance(v,bool) else str(v).lower())' "$1" "$2"; }

# ------------------------------------------------------------------------------------------------ database, client, user
log "database $db, redis prefix $prefix, results in $dir"
"${pg[@]}" -d postgres -c "CREATE DATABASE $db" >/dev/null
db_created=1
mkdir -p "$dir/state"
secret="$(openssl rand -hex 24)"
# The configuration is exactly what is set below: nothing inherited from the caller's shell.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^TESSERA(_CONFIG$|__)' || true)
export TESSERA__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
export TESSERA__REDIS__URL="redis://127.0.0.1:6379" TESSERA__REDIS__PREFIX="$prefix"
export TESSERA__KEYS__DIR="$dir/state/keys"
TESSERA__KEYS__KEK="$(openssl rand -base64 32)"
export TESSERA__KEYS__KEK
# One client hammering the token endpoint from one IP: the abuse limits would stop it.
export TESSERA__LIMITS__TOKEN_CLIENT_REQUESTS=0 TESSERA__LIMITS__TOKEN_IP_REQUESTS=0
export TESSERA__LOG__LEVEL=warn
export TESSERA__HTTP__BIND="127.0.0.1:$port" TESSERA__ISSUER="$base"

"$bin" migrate >/dev/null
client_scope="$(printf '%s\n' openid profile email offline_access api:read "$scope" | tr ' ' '\n' | LC_ALL=C sort -u | paste -sd' ')"
printf '%s\n' "$secret" | "$bin" clients add --name "Benchmark growth" --client-id bench-client --client-secret-stdin \
  --grant-type authorization_code --grant-type refresh_token --grant-type client_credentials \
  --redirect-uri http://127.0.0.1:9999/cb --scope "$client_scope" --resource https://api.example.test >/dev/null
openssl rand -hex 16 | "$bin" users add bench-user --password-stdin >/dev/null
# A real argon2 PHC string from Tessera itself, for every seeded user (they never sign in).
pwhash="$(sql -Atc "SELECT password_hash FROM users WHERE username = 'bench-user'")"
[[ "$pwhash" == "\$argon2"* ]] || die "unexpected password hash format from tessera users add"
BASIC="Basic $(printf '%s' "bench-client:$secret" | base64 -w0)"

# ------------------------------------------------------------------------------------------------ seeding (SQL)
# Seeded token i (1-based, never reused) belongs to a family laid out by a 28-token pattern of chains of length
# 1..7: every member but the last of a chain was rotated (used_at set), so three quarters of the rows are used;
# one family in ten was revoked (reuse detected, or logout); half are offline, half bound to a session; all are
# unexpired (created within the last 10 days, 30-day life, 14-day idle limit). Ids, families and hashes are
# derived from i, so a later batch continues the chains of the earlier one. Users are spread by a multiplicative
# hash over the users that exist at the time; one user in a hundred is disabled.
seed_users() {  # first last
  sql -v lo="$1" -v hi="$2" -v now="$(date +%s)" -v pwhash="$pwhash" <<'SQL'
INSERT INTO users (id, username, username_key, password_hash, email, email_verified, name, disabled, created_at, updated_at, revoked_before)
SELECT md5('growth-user-' || g)::uuid::text, 'growth-user-' || g, 'growth-user-' || g, :'pwhash', 'growth-user-' || g || '@example.test',
       g % 3 = 0, 'Growth User ' || g, g % 100 = 0, :now - g % 8640000, :now - g % 864000, NULL
FROM generate_series(:lo::bigint, :hi::bigint) AS g;
SQL
}

seed_tokens() {  # first last users
  sql -v lo="$1" -v hi="$2" -v users="$3" -v now="$(date +%s)" <<'SQL'
WITH pattern AS (
  SELECT (row_number() OVER (ORDER BY len, pos) - 1)::bigint AS o, len::bigint, pos::bigint
  FROM generate_series(1, 7) AS len, generate_series(1, len) AS pos
), s AS (
  SELECT i, ((i - 1) / 28) * 7 + p.len AS fam, p.pos, p.len
  FROM generate_series(:lo::bigint, :hi::bigint) AS i JOIN pattern AS p ON p.o = (i - 1) % 28
), f AS (
  SELECT s.*, fam % 2 = 0 AS offline, :now - 7 * 3600 - (fam * 104729) % 864000 AS start FROM s
)
INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, user_id, session_id, scope, resource,
  auth_time, offline, created_at, expires_at, idle_expires_at, used_at, revoked, access_jti, access_expires_at)
SELECT md5('growth-rt-' || i)::uuid::text,
       rtrim(translate(encode(sha256(convert_to('growth-rt-' || i, 'UTF8')), 'base64'), '+/', '-_'), '='),
       rtrim(translate(encode(sha256(convert_to('growth-fam-' || fam, 'UTF8')), 'base64'), '+/', '-_'), '='),
       CASE WHEN pos > 1 THEN md5('growth-rt-' || (i - 1))::uuid::text END,
       'bench-client',
       md5('growth-user-' || (1 + (fam * 7919) % :users))::uuid::text,
       CASE WHEN NOT offline THEN rtrim(translate(encode(sha256(convert_to('growth-sid-' || fam, 'UTF8')), 'base64'), '+/', '-_'), '=') END,
       CASE WHEN offline THEN 'api:read offline_access openid' ELSE 'email openid profile' END,
       CASE WHEN fam % 3 = 0 THEN 'https://api.example.test' END,
       start, offline,
       start + (pos - 1) * 3600,
       start + 30 * 86400,
       least(start + (pos - 1) * 3600 + 14 * 86400, start + 30 * 86400),
       CASE WHEN pos < len THEN start + pos * 3600 - 60 END,
       fam % 10 = 0,
       left(rtrim(translate(encode(sha256(convert_to('growth-jti-' || i, 'UTF8')), 'base64'), '+/', '-_'), '='), 22),
       start + (pos - 1) * 3600 + 600
FROM f;
SQL
}

# The tokens this script presents, in the form the server issues (FamilySecret::issue_token): base64url without
# padding of a 256-bit family secret s and 32 random bytes, stored as base64url(SHA-256(token)) without padding
# (SecretHash::of), each the live head of its own family, whose id is derived from s (FamilySecret::family_id),
# for users that exist and are enabled. Writes the plaintexts, one a line, to $1 and the INSERT to $2.
make_known() {  # tokens_file sql_file count users
  python3 - "$@" "$(date +%s)" "$scope" "$offline" <<'PY'
import base64, hashlib, secrets, sys, uuid
tokens_file, sql_file, count, users, now, scope, offline = sys.argv[1:8]
count, users, now, offline = int(count), int(users), int(now), offline == "true"
rows, plain = [], []
for k in range(count):
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
    family_secret = secrets.token_bytes(32)
    token = b64(family_secret + secrets.token_bytes(32))  # 86 characters
    digest = b64(hashlib.sha256(token.encode()).digest())
    family = b64(hashlib.sha256(b"tessera refresh family v2\0" + family_secret).digest())
    u = 1 + (k * 7919 + int.from_bytes(secrets.token_bytes(4), "big")) % users
    if u % 100 == 0:  # seeded user u is disabled: take its neighbour
        u -= 1
    user = f"md5('growth-user-{u}')::uuid::text"
    session = "NULL" if offline else f"'{secrets.token_urlsafe(32)}'"
    scope_sql = scope.replace("'", "''")
    created = now - 60
    jti = secrets.token_urlsafe(16)
    rows.append(
        f"('{uuid.uuid4()}', '{digest}', '{family}', NULL, 'bench-client', {user}, {session}, '{scope_sql}', "
        f"'https://api.example.test', {created}, {str(offline).lower()}, {created}, {created + 30 * 86400}, "
        f"{created + 14 * 86400}, NULL, false, '{jti}', {created + 600})"
    )
    plain.append(token)
with open(tokens_file, "w") as f:
    f.write("\n".join(plain) + "\n")
with open(sql_file, "w") as f:
    f.write(
        "INSERT INTO refresh_tokens (id, token_hash, family_id, parent_id, client_id, user_id, session_id, scope, "
        "resource, auth_time, offline, created_at, expires_at, idle_expires_at, used_at, revoked, access_jti, "
        "access_expires_at) VALUES\n" + ",\n".join(rows) + ";\n"
    )
PY
}

seed_stats() {  # label
  sql -Atc "SELECT count(*), count(*) FILTER (WHERE used_at IS NOT NULL), count(*) FILTER (WHERE revoked),
                   count(*) FILTER (WHERE used_at IS NULL AND NOT revoked), count(DISTINCT family_id),
                   count(DISTINCT user_id), pg_size_pretty(pg_total_relation_size('refresh_tokens'))
            FROM refresh_tokens" |
    awk -F'|' -v l="$1" '{printf "%s: %s tokens (%s used, %s revoked, %s live), %s families, %s users with tokens, refresh_tokens %s with indexes\n", l, $1, $2, $3, $4, $5, $6, $7}'
}

next_i=1          # next seeded token index
users_now=0
# seed_to TOTAL_TOKENS ADD_USERS LABEL: adds users, then seeded tokens and this size's known tokens up to TOTAL.
seed_to() {
  local total="$1" add_users="$2" label="$3" t0 t1 have n
  t0="$(date +%s.%N)"
  if ((add_users > 0)); then
    seed_users $((users_now + 1)) $((users_now + add_users))
    users_now=$((users_now + add_users))
  fi
  have="$(count_tokens)"
  n=$((total - have - known))
  ((n >= 0)) || die "the database already holds $have tokens, more than $total"
  if ((n > 0)); then
    seed_tokens "$next_i" $((next_i + n - 1)) "$users_now"
    next_i=$((next_i + n))
  fi
  make_known "$tmp/known-$label.txt" "$tmp/known-$label.sql" "$known" "$users_now"
  sql -f "$tmp/known-$label.sql"
  # VACUUM as well as ANALYZE: it sets hint bits and the visibility map now rather than during the measurement
  # (autovacuum may be off on the test cluster, and would otherwise start in the middle of a run).
  sql -c "VACUUM (ANALYZE) users" -c "VACUUM (ANALYZE) refresh_tokens"
  t1="$(date +%s.%N)"
  {
    printf 'seeding %s: +%s users (%s in all), +%s seeded + %s known tokens in %.1f s\n' \
      "$label" "$add_users" "$(count_users)" "$n" "$known" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')"
    seed_stats "  $label"
  } | tee -a "$dir/seeding.txt" >&2
  # Split this size's known tokens: the warm-up batch, the measured batch, one for the access token.
  sed -n "1,${batch}p" "$tmp/known-$label.txt" >"$tmp/warmup-$label.txt"
  sed -n "$((batch + 1)),$((2 * batch))p" "$tmp/known-$label.txt" >"$tmp/measure-$label.txt"
  sed -n "$((2 * batch + 1))p" "$tmp/known-$label.txt" >"$tmp/single-$label.txt"
}

# ------------------------------------------------------------------------------------------------ server and runs
start_server() {  # label
  "$bin" serve >"$dir/server-$1.log" 2>&1 &
  server_pid=$!
  local ready=0
  for _ in $(seq 1 150); do
    if curl -sf -o /dev/null --max-time 1 "$base/.well-known/openid-configuration"; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  ((ready)) || { cat "$dir/server-$1.log" >&2; die "tessera did not answer discovery"; }
  log "server pid $server_pid ready on $base"
}

endpoint_path() {  # discovery field -> path (must be on this server)
  python3 - "$1" "$base" <<'PY'
import json, sys, urllib.parse, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[2] + "/.well-known/openid-configuration", timeout=5))
u = urllib.parse.urlsplit(d[sys.argv[1]])
assert f"{u.scheme}://{u.netloc}" == sys.argv[2], d[sys.argv[1]]
print(u.path)
PY
}

post() {  # path body -> prints "status body"
  curl -s --max-time 10 -w '\n%{http_code}' -H "Authorization: $BASIC" -d "$2" "$base$1"
}

: >"$dir/runs.jsonl"
# measure SCENARIO LABEL TOKENS_NOMINAL -- WRK ARGS: one measured wrk window, with the server's and its
# database backends' CPU over it, appended to runs.jsonl.
measure() {
  local scenario="$1" label="$2" nominal="$3"
  shift 4
  local json="$dir/wrk-$scenario-$label.json" rows0 rows1 srv0 srv1 d_db n_backends wrkcpu stats0 stats1
  rows0="$(count_tokens)"
  stats0="$(table_stats)"
  db_cpu_begin
  srv0="$(proc_jiffies "$server_pid")"
  # subshell: once wrk is reaped its CPU time shows in the subshell's cutime+cstime
  wrkcpu="$(
    GROWTH_JSON_OUT="$json" WRK_JSON_OUT="$json" "$@" >"$dir/wrk-$scenario-$label.txt"
    awk '{print $16+$17}' "/proc/$BASHPID/stat"
  )"
  srv1="$(proc_jiffies "$server_pid")"
  read -r d_db n_backends < <(db_cpu_end)
  stats1="$(table_stats)"
  rows1="$(count_tokens)"
  python3 - "$json" "$scenario" "$conns" "$THREADS" "$nominal" "$rows0" "$rows1" "$(count_users)" \
    "$((srv1 - srv0))" "$d_db" "$n_backends" "$wrkcpu" "$CLK_TCK" "$(vm_kb VmHWM)" "$(vm_kb VmRSS)" \
    "$(cut -d' ' -f1 /proc/loadavg)" "$(reuse_events)" "$stats0" "$stats1" >>"$dir/runs.jsonl" <<'PY'
import json, sys
(file, scenario, conns, threads, nominal, rows0, rows1, users, d_srv, d_db, n_backends, d_wrk, tck, hwm, rss,
 load, reuse, stats0, stats1) = sys.argv[1:]
r = json.load(open(file))
s0, s1 = json.loads(stats0), json.loads(stats1)
scans = {t: {k: s1[t][k] - s0[t][k] for k in s1[t]} for t in sorted(s1)}
# the counter that moves once per request, published in the same flushes as the others (see table_stats)
per = {"refresh_rotate": scans["refresh_tokens"]["n_tup_ins"],
       "introspect_refresh": scans["refresh_tokens"]["idx_scan"]}.get(scenario)
secs = r["duration_s"]
cores = lambda j: round(int(j) / int(tck) / secs, 2)
r.setdefault("non_2xx", r["status_ge_400"])  # wrk-report.lua counts >= 400 only; no 3xx is expected here
print(json.dumps({
    "scenario": scenario, "conns": int(conns), "threads": int(threads), "tokens": int(nominal),
    "tokens_at_start": int(rows0), "tokens_at_end": int(rows1), "users": int(users), **r,
    "server_cpu_cores": cores(d_srv), "db_cpu_cores": cores(d_db), "db_backends": int(n_backends),
    "wrk_cpu_cores": cores(d_wrk), "vmhwm_kb": int(hwm), "vmrss_kb": int(rss), "load1": float(load),
    "reuse_events": int(reuse), "table_scans": scans, "table_scans_per": per or r["requests"],
}))
PY
  log "$(tail -n 1 "$dir/runs.jsonl")"
}
reuse_events() { sql -Atc "SELECT count(*) FROM audit_events WHERE kind = 'refresh_token_reuse'"; }
# Scans of the tables on the request paths, as counted by Postgres. A backend publishes its counts at most once a
# second and, once idle, up to 10 s later, all counters at once: the summary divides by a counter that moves
# once per request in the same flushes (refresh_tokens inserts for rotation, refresh_tokens index scans for
# introspection of a refresh token), so the shifted seconds cancel out of the ratios.
table_stats() {
  sql -Atc "SELECT json_object_agg(t.relname, json_build_object('seq_scan', t.seq_scan, 'seq_tup_read', t.seq_tup_read,
                   'idx_scan', coalesce(t.idx_scan, 0), 'n_tup_ins', t.n_tup_ins,
                   'n_tup_upd', t.n_tup_upd, 'n_tup_hot_upd', t.n_tup_hot_upd,
                   'blks_read', coalesce(io.heap_blks_read, 0) + coalesce(io.idx_blks_read, 0),
                   'blks_hit', coalesce(io.heap_blks_hit, 0) + coalesce(io.idx_blks_hit, 0)))
            FROM pg_stat_user_tables AS t JOIN pg_statio_user_tables AS io USING (relid)
            WHERE t.relname IN ('refresh_tokens', 'users', 'clients', 'revocations')"
}

wrk_rotate() {  # tokens_file seconds [--latency]
  GROWTH_TOKENS_FILE="$1" GROWTH_THREADS="$THREADS" GROWTH_CONNS="$conns" GROWTH_AUTH="$BASIC" \
    wrk -t"$THREADS" -c"$conns" -d"$2s" --timeout 5s "${@:3}" -s "$rotate_lua" "$base$token_path"
}
wrk_fixed() {  # body seconds [--latency]
  WRK_METHOD=POST WRK_BODY="$1" WRK_AUTH="$BASIC" \
    wrk -t"$THREADS" -c"$conns" -d"$2s" --timeout 5s "${@:3}" -s "$report_lua" "$base$intro_path"
}

introspect_active() {  # token -> exits non-zero unless the server says active:true
  local resp
  resp="$(post "$intro_path" "token=$1")"
  [[ "${resp##*$'\n'}" == 200 && "$(json_field "${resp%$'\n'*}" active)" == true ]] ||
    die "introspection of a live token answered: ${resp//$'\n'/ }"
}

run_size() {  # label nominal_tokens
  local label="$1" nominal="$2" resp body access refresh
  start_server "$label"
  token_path="$(endpoint_path token_endpoint)"
  intro_path="$(endpoint_path introspection_endpoint)"

  # A user-bound access token and a live refresh token from one refresh: introspecting them reads the
  # revocation list, the client and the users table, the refresh token also refresh_tokens.
  resp="$(post "$token_path" "grant_type=refresh_token&refresh_token=$(cat "$tmp/single-$label.txt")")"
  [[ "${resp##*$'\n'}" == 200 ]] || die "refresh of a seeded token answered: ${resp//$'\n'/ }"
  body="${resp%$'\n'*}"
  access="$(json_field "$body" access_token)"
  refresh="$(json_field "$body" refresh_token)"
  [[ -n "$access" && -n "$refresh" ]] || die "no tokens in the refresh response"

  # Introspection first: rotation inserts a row per request, so it runs last to keep the database at its size.
  # The access token first: it reads no SQL, so the table counts of the next runs start clean.
  local scenario tok
  for scenario in introspect_access introspect_refresh; do
    tok="$refresh"; [[ "$scenario" == introspect_access ]] && tok="$access"
    introspect_active "$tok"
    if ((WARMUP > 0)); then WRK_JSON_OUT="" wrk_fixed "token=$tok" "$WARMUP" >/dev/null; fi
    measure "$scenario" "$label" "$nominal" -- wrk_fixed "token=$tok" "$DURATION" --latency
    introspect_active "$tok"   # still live after the run: a 200 with active:false would have been cheaper
  done

  if ((WARMUP > 0)); then GROWTH_JSON_OUT="" wrk_rotate "$tmp/warmup-$label.txt" "$WARMUP" >/dev/null; fi
  measure refresh_rotate "$label" "$nominal" -- wrk_rotate "$tmp/measure-$label.txt" "$DURATION" --latency
  stop_server
}

{
  echo "date: $(date -u)"; echo "uptime: $(uptime)"; echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "tessera: $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(git status --porcelain 2>/dev/null | grep -q . && echo '(dirty tree)')"
  echo "postgres: $("${pg[@]}" -d postgres -Atc 'SELECT version()' | cut -d, -f1); shared_buffers $("${pg[@]}" -d postgres -Atc 'SHOW shared_buffers')"
  echo "params: DURATION=$DURATION WARMUP=$WARMUP THREADS=$THREADS GROWTH_CONNS=$conns GROWTH_SMALL=$small GROWTH_TOKENS=$large GROWTH_SMALL_USERS=$small_users GROWTH_USERS=$more_users scope='$scope'"
  echo "server: restarted between the two sizes"
} >"$dir/conditions.txt"

: >"$dir/seeding.txt"
seed_to "$small" "$small_users" small
run_size small "$small"
seed_to "$large" "$more_users" large

# ------------------------------------------------------------------------------------------------ EXPLAIN at the large size
# The statements of one rotation (refresh_tokens.rs: lookup by hash; users.rs: user by id; the conditional UPDATE
# and the INSERT, in one transaction) and of introspection (revocations by jti, the client row), as diesel sends
# them, with literal values of a live seeded row, then the two hot ones as prepared statements with the generic
# plan (diesel prepares and caches its statements). Writes are rolled back. Then the statements off the hot path
# that scan by something else: reuse detection (family), and the expiry purge.
explain() {
  # Seeded token 28k is the last of a 7-long chain (unused); its family 7k is revoked when k is a multiple of 10.
  local k=$((next_i / 2 / 28)) row e_id e_hash e_family e_user e_revoked
  ((k % 10)) || k=$((k + 1))
  local live_i=$((k * 28))
  row="$(sql -Atc "SELECT id, token_hash, family_id, user_id, revoked FROM refresh_tokens WHERE id = md5('growth-rt-$live_i')::uuid::text")"
  IFS='|' read -r e_id e_hash e_family e_user e_revoked <<<"$row"
  [[ -n "$e_id" ]] || die "no seeded row $live_i for EXPLAIN"
  local now cols
  now="$(date +%s)"
  cols='"refresh_tokens"."id", "refresh_tokens"."token_hash", "refresh_tokens"."family_id", "refresh_tokens"."parent_id", "refresh_tokens"."client_id", "refresh_tokens"."user_id", "refresh_tokens"."session_id", "refresh_tokens"."scope", "refresh_tokens"."resource", "refresh_tokens"."auth_time", "refresh_tokens"."offline", "refresh_tokens"."created_at", "refresh_tokens"."expires_at", "refresh_tokens"."idle_expires_at", "refresh_tokens"."used_at", "refresh_tokens"."revoked", "refresh_tokens"."access_jti", "refresh_tokens"."access_expires_at"'
  seed_stats "database at EXPLAIN time"
  echo "literal values from seeded token $live_i (revoked: $e_revoked), user $e_user"
  sql -e <<SQL
\echo '=== refresh + introspection: refresh token by hash'
EXPLAIN (ANALYZE, BUFFERS) SELECT $cols FROM "refresh_tokens" WHERE ("refresh_tokens"."token_hash" = '$e_hash') LIMIT 1;
\echo '=== refresh + introspection: user by id'
EXPLAIN (ANALYZE, BUFFERS) SELECT "users"."id", "users"."username", "users"."password_hash", "users"."email", "users"."email_verified", "users"."name", "users"."disabled", "users"."created_at", "users"."updated_at", "users"."revoked_before" FROM "users" WHERE ("users"."id" = '$e_user') LIMIT 1;
\echo '=== refresh: rotation transaction (rolled back)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) UPDATE "refresh_tokens" SET "used_at" = $now WHERE ((("refresh_tokens"."id" = '$e_id') AND ("refresh_tokens"."used_at" IS NULL)) AND ("refresh_tokens"."revoked" = false));
EXPLAIN (ANALYZE, BUFFERS) INSERT INTO "refresh_tokens" ("id", "token_hash", "family_id", "parent_id", "client_id", "user_id", "session_id", "scope", "resource", "auth_time", "offline", "created_at", "expires_at", "idle_expires_at", "used_at", "revoked", "access_jti", "access_expires_at") VALUES ('$(python3 -c 'import uuid; print(uuid.uuid4())')', '$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')', '$e_family', '$e_id', 'bench-client', '$e_user', NULL, 'api:read offline_access', 'https://api.example.test', $now, true, $now, $((now + 2592000)), $((now + 1209600)), NULL, false, 'growth-explain-jti-0000', $((now + 600)));
ROLLBACK;
\echo '=== introspection of an access token: revocation by jti, client by id'
EXPLAIN (ANALYZE, BUFFERS) SELECT "revocations"."jti" FROM "revocations" WHERE ("revocations"."jti" = 'growth-explain-jti-0000') LIMIT 1;
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM "clients" WHERE ("clients"."id" = 'bench-client') LIMIT 1;
\echo '=== generic plans of the prepared statements (plan_cache_mode = force_generic_plan)'
SET plan_cache_mode = force_generic_plan;
PREPARE by_hash(text, bigint) AS SELECT $cols FROM "refresh_tokens" WHERE ("refresh_tokens"."token_hash" = \$1) LIMIT \$2;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE by_hash('$e_hash', 1);
BEGIN;
PREPARE mark_used(bigint, text, bool) AS UPDATE "refresh_tokens" SET "used_at" = \$1 WHERE ((("refresh_tokens"."id" = \$2) AND ("refresh_tokens"."used_at" IS NULL)) AND ("refresh_tokens"."revoked" = \$3));
EXPLAIN (ANALYZE, BUFFERS) EXECUTE mark_used($now, '$e_id', false);
ROLLBACK;
RESET plan_cache_mode;
\echo '=== off the hot path: reuse detection revokes the family (rolled back)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) UPDATE "refresh_tokens" SET "revoked" = false WHERE (("refresh_tokens"."family_id" = '$e_family') AND ("refresh_tokens"."revoked" = false));
EXPLAIN (ANALYZE, BUFFERS) SELECT "refresh_tokens"."access_jti", "refresh_tokens"."access_expires_at" FROM "refresh_tokens" WHERE (((("refresh_tokens"."family_id" = '$e_family') AND ("refresh_tokens"."revoked" = false)) AND ("refresh_tokens"."access_jti" IS NOT NULL)) AND ("refresh_tokens"."access_expires_at" > $now)) ORDER BY "refresh_tokens"."id" ASC;
ROLLBACK;
\echo '=== off the hot path: purge_expired_refresh_tokens (rolled back; not called by serve today)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS) DELETE FROM "refresh_tokens" WHERE ("refresh_tokens"."expires_at" < $now);
ROLLBACK;
SQL
}
explain >"$dir/explain.txt" 2>&1 || { cat "$dir/explain.txt" >&2; die "EXPLAIN failed"; }
if grep -q 'Seq Scan' "$dir/explain.txt"; then
  log "sequential scans in explain.txt:"
  awk '/^=== /{section=$0} /Seq Scan/{print "  " section ": " $0}' "$dir/explain.txt" | sed 's/  */ /g' >&2
else
  log "no sequential scan in explain.txt"
fi

run_size large "$large"

# ------------------------------------------------------------------------------------------------ summary
echo "uptime_after: $(uptime)" >>"$dir/conditions.txt"
python3 - "$dir" <<'PY' | tee "$dir/summary.md"
import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
runs = [json.loads(l) for l in (d / "runs.jsonl").read_text().splitlines() if l.strip()]
by = {}
for r in runs:
    by.setdefault(r["scenario"], {})[r["tokens"]] = r
cond = (d / "conditions.txt").read_text()
print(f"## Growth: refresh rotation and introspection, {runs[0]['conns']} connections\n")
print("```\n" + cond.strip() + "\n" + (d / "seeding.txt").read_text().strip() + "\n```\n")
print("| scenario | tokens | users | req/s | p50 ms | p99 ms | non-2xx | server CPU | server µs/req | db CPU | db µs/req | VmHWM MiB | ratio large/small req/s | ratio large/small server µs/req |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
verdicts = []
for scenario in ("refresh_rotate", "introspect_refresh", "introspect_access"):
    sizes = by.get(scenario, {})
    keys = sorted(sizes)
    for n in keys:
        r = sizes[n]
        per = lambda c: c * 1e6 / r["rps"] if r["rps"] else float("nan")
        ratio = ratio_cpu = ""
        if n == keys[-1] and len(keys) == 2:
            s = sizes[keys[0]]
            ratio_v = r["rps"] / s["rps"]
            cpu_v = (r["server_cpu_cores"] / r["rps"]) / (s["server_cpu_cores"] / s["rps"])
            ratio, ratio_cpu = f"{ratio_v:.2f}", f"{cpu_v:.2f}"
            ok = abs(ratio_v - 1) <= 0.10
            verdicts.append(f"- {scenario}: {n:,}/{keys[0]:,} tokens, req/s ratio {ratio_v:.2f} "
                            f"({'within' if ok else 'OUTSIDE'} the 10% target), server CPU per request ratio {cpu_v:.2f}")
        rows = f"{r['tokens_at_start']:,}" + (f" → {r['tokens_at_end']:,}" if r["tokens_at_end"] != r["tokens_at_start"] else "")
        print(f"| {scenario} | {rows} | {r['users']:,} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['non_2xx']} | {r['server_cpu_cores']:.2f} | {per(r['server_cpu_cores']):.0f} | {r['db_cpu_cores']:.2f} | "
              f"{per(r['db_cpu_cores']):.0f} | {r['vmhwm_kb'] / 1024:.1f} | {ratio} | {ratio_cpu} |")
print()
print("\n".join(verdicts))
ctl = by.get("introspect_access", {})
if len(ctl) == 2 and all(sum(d["idx_scan"] + d["seq_scan"] for d in r["table_scans"].values()) < 0.01 * r["requests"] for r in ctl.values()):
    lo, hi = (ctl[k] for k in sorted(ctl))
    print(f"- control: introspect_access read no SQL at either size (the revocation epoch let it reuse its verdict), so its "
          f"ratio {hi['rps'] / lo['rps']:.2f} is the drift of the machine between the two measurements, not growth")
print("\nScans per request in the measured windows (pg_stat_user_tables; idx = index scans, seq = sequential scans")
print("with the rows each read; buffers = pages hit in shared_buffers / read from the OS, heap and indexes):\n")
for r in runs:
    n, parts = max(r["table_scans_per"], 1), []
    for t, d in r["table_scans"].items():
        i, q = d["idx_scan"] / n, d["seq_scan"] / n
        if i >= 0.01 or q >= 0.01:
            seq = f" + {q:.2f} seq ({d['seq_tup_read'] / max(d['seq_scan'], 1):.0f} rows each)" if q >= 0.01 else ""
            parts.append(f"{t} {i:.2f} idx{seq}, buffers {d['blks_hit'] / n:.1f} hit / {d['blks_read'] / n:.2f} read")
    rt = r["table_scans"]["refresh_tokens"]
    # A HOT update (used_at is not indexed) writes no index entries; any other writes one into each of the 6.
    hot = f" (refresh_tokens updates that were HOT: {rt['n_tup_hot_upd'] / rt['n_tup_upd']:.0%})" if rt["n_tup_upd"] else ""
    print(f"- {r['scenario']} @ {r['tokens']:,}: " + ("; ".join(parts) or "no SQL") + hot)
print()
bad = [r for r in runs if r["non_2xx"] or r.get("starved") or r.get("no_token_in_body") or r["reuse_events"]]
print(f"- non-2xx, starved or reuse: {'none' if not bad else ', '.join(r['scenario'] + '@' + str(r['tokens']) for r in bad)}")
print("\nRotation inserts a row per request, so its database grows during the run (tokens start → end). The server")
print("is restarted between the sizes. CPU columns are cores busy over the measured window (server: the tessera")
print("process; db: the Postgres backends of its pool). wrk runs on the same cores.")
PY
log "results in $dir"
