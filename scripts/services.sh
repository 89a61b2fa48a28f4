#!/usr/bin/env bash
# Brings up what the tests need on this machine, and only what is missing:
#   - PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth over TCP),
#   - Redis on 127.0.0.1:6379,
#   - build prerequisites (pkg-config, libssl-dev, libsqlite3-dev; libpq is built from source), Debian chromium,
#     and node, npm and Python's venv for the browser and interoperability tests' packages (scripts/npm-ci.sh,
#     tests/interop/python/install.sh).
# Idempotent and quick when everything is already there. Installs with apt-get (Debian); needs root (or sudo)
# only when something must be installed or started.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
WAIT_SECONDS="${TESSERA_SERVICES_WAIT_SECONDS:-60}"
PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n -E "$@"
  else
    die "need root to run: $* (run as root, or start the service yourself)"
  fi
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  local out
  out=$(mktemp)
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    as_root apt-get -qq -o DPkg::Lock::Timeout=300 update >"$out" 2>&1 || { cat "$out" >&2; die "apt-get update failed"; }
    apt_updated=1
  fi
  log "apt-get install $*"
  as_root apt-get -qq -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; die "apt-get install $* failed"; }
  rm -f "$out"
}

# wait_for NAME COMMAND...: retries COMMAND once a second for up to WAIT_SECONDS.
wait_for() {
  local name=$1
  shift
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 1
  done
  log "$name is up"
}

pg_ready() { pg_isready -q -t 5 -h "$PG_HOST" -p "$PG_PORT"; }
redis_ready() { [ "$(timeout 5 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

# --- packages: build prerequisites, the browser and script runtimes of the tests, servers not there -------------
missing=()
for pkg in pkg-config libssl-dev libsqlite3-dev; do
  installed "$pkg" || missing+=("$pkg")
done
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
{ command -v node && command -v npm; } >/dev/null 2>&1 || missing+=(nodejs npm)
# `venv` alone is not enough: Debian's python3 lacks ensurepip, which venv needs for pip, until python3-venv.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
pg_fresh=0
if ! pg_ready && ! { command -v pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres'; } >/dev/null 2>&1; then
  missing+=(postgresql)
  pg_fresh=1
fi
if ! redis_ready && ! { command -v redis-server && command -v redis-cli; } >/dev/null 2>&1; then
  missing+=(redis-server)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# --- PostgreSQL -----------------------------------------------------------------------------------------------------
# Makes TCP logins of user postgres from loopback trusted: a marked block at the top of pg_hba.conf (first match wins).
pg_trust_loopback() {
  local ver=$1 hba
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  [ -f "$hba" ] || die "no $hba"
  if ! grep -q '^# tessera scripts/services.sh' "$hba"; then
    log "pg_hba.conf: trust user postgres on 127.0.0.1/32 and ::1/128"
    as_root sed -i '1i # tessera scripts/services.sh: local test server, user postgres trusted over loopback TCP\nhost all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  fi
}

if [ "$pg_fresh" -eq 1 ] || ! pg_ready; then
  ver=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$ver" ]; then
    ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
    [ -n "$ver" ] || die "PostgreSQL is not installed (nothing under /usr/lib/postgresql)"
    log "creating cluster $ver/main"
    as_root pg_createcluster "$ver" main >/dev/null
    pg_fresh=1
  fi
  if [ "$pg_fresh" -eq 1 ]; then
    pg_trust_loopback "$ver"
  fi
  pglog="/var/log/postgresql/postgresql-$ver-main.log"
  if pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
    # Already running (the package may have started it, or it is still starting up): pick up pg_hba.conf.
    if [ "$pg_fresh" -eq 1 ]; then
      as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
    fi
  else
    log "starting PostgreSQL $ver/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
      die "pg_ctlcluster could not start PostgreSQL $ver/main (see $pglog)"
  fi
  wait_for "PostgreSQL on $PG_HOST:$PG_PORT" pg_ready ||
    die "PostgreSQL does not answer on $PG_HOST:$PG_PORT after ${WAIT_SECONDS}s (see $pglog)"
fi
# The tests connect as postgres://postgres@127.0.0.1:5432 without a password.
psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -Atqc 'select 1' >/dev/null 2>&1 ||
  die "PostgreSQL answers on $PG_HOST:$PG_PORT but user postgres cannot log in without a password: add
  'host all postgres 127.0.0.1/32 trust' at the top of pg_hba.conf and reload, or set TESSERA_TEST_POSTGRES_URL"

# --- Redis ----------------------------------------------------------------------------------------------------------
if ! redis_ready; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null ||
    die "redis-server did not start (see /var/log/redis/ci.log)"
  wait_for "Redis on $REDIS_HOST:$REDIS_PORT" redis_ready ||
    die "Redis does not answer on $REDIS_HOST:$REDIS_PORT after ${WAIT_SECONDS}s (see /var/log/redis/ci.log)"
fi
