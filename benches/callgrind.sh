#!/usr/bin/env bash
# Where a client_credentials token's instructions go, by shared object: `valgrind --tool=callgrind` counts
# instructions, not seconds, so the split is the same on a loaded machine and between runs of one binary.
#
#   benches/callgrind.sh BIN [N]      # e.g. target/release/tessera; N requests (1000), after 50 not counted
#
# Serves BIN on a fresh embedded-default state (SQLite, in-process cache) at 127.0.0.1:PORT (3111) under
# callgrind, sends the token requests one after another on one keep-alive connection, and prints the share of
# each object and the top functions of the counted part. The kernel (sockets, scheduling) is not counted.
set -euo pipefail
bin="$(realpath "$1")" n="${2:-1000}" port="${PORT:-3111}"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
work="$(mktemp -d)"
server=""
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export TESSERA__KEYS__DIR="$work/keys" TESSERA__KEYS__KEK="$(openssl rand -base64 32)"
export TESSERA__DATABASE__URL="sqlite://$work/tessera.db" TESSERA__LOG__LEVEL=warn
export TESSERA__HTTP__BIND="127.0.0.1:$port" TESSERA__ISSUER="http://127.0.0.1:$port"
export TESSERA__LIMITS__TOKEN_CLIENT_REQUESTS=0 TESSERA__LIMITS__TOKEN_IP_REQUESTS=0
secret="$(openssl rand -hex 24)"
"$bin" migrate >/dev/null
printf '%s\n' "$secret" | "$bin" clients add --name Benchmark --client-id bench-client --client-secret-stdin \
  --grant-type client_credentials --scope api:read --resource https://api.example.test >/dev/null
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$bin" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -s -o /dev/null "http://127.0.0.1:$port/jwks" && break
  sleep 1
done

requests() {
  python3 - "$port" "$1" "$secret" <<'PY'
import base64, http.client, sys
port, n, secret = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
auth = "Basic " + base64.b64encode(f"bench-client:{secret}".encode()).decode()
body = "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.test&scope=api%3Aread"
headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
conn = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    conn.request("POST", "/token", body, headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"status {response.status}")
PY
}
requests 50
callgrind_control -z "$server" >/dev/null 2>&1
requests "$n"
callgrind_control -d "$server" >/dev/null 2>&1
kill -INT "$server"
wait "$server" || true
server=""

# Exclusive instructions per object and function, from the dump taken after the counted requests (the format's
# name compression: "(id) name" defines a name, "(id)" repeats it; the line after `calls=` is a callee's cost).
python3 - "$work/callgrind.out.1" "$n" <<'PY'
import collections, re, sys
names = {}
def name(kind, value):
    m = re.match(r"\((\d+)\)(?:\s+(.*))?", value)
    if not m:
        return value
    if m.group(2) is not None:
        names[(kind, m.group(1))] = m.group(2)
    return names.get((kind, m.group(1)), "?")
by_object, by_function, total = collections.Counter(), collections.Counter(), 0
obj = fn = None
callee_cost = False
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    key, _, value = line.partition("=")
    if key in ("ob", "cob"):
        current = name("ob", value)
        obj = current if key == "ob" else obj
    elif key in ("fn", "cfn"):
        current = name("fn", value)
        fn = current if key == "fn" else fn
    elif key in ("fl", "fi", "fe", "cfi", "cfl"):
        name("fl", value)
    elif key == "calls":
        callee_cost = True
    elif line[:1] in set("0123456789+-*"):
        parts = line.split()
        if len(parts) < 2:
            continue
        if callee_cost:
            callee_cost = False
            continue
        cost = int(parts[1])
        total += cost
        by_object[obj] += cost
        by_function[(obj.rsplit("/", 1)[-1] if obj else "?", fn)] += cost
n = int(sys.argv[2])
print(f"{total:,} instructions in {n} token requests: {total // n:,} per token")
for obj, cost in by_object.most_common(6):
    print(f"{cost / total * 100:6.2f}%  {obj}")
print()
for (obj, fn), cost in by_function.most_common(25):
    print(f"{cost / total * 100:6.2f}%  {obj}  {fn[:120]}")
PY
