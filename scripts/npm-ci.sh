#!/usr/bin/env bash
# Installs the npm packages the tests use, from each directory's committed lock file, and only when needed:
# node_modules is missing or older than package-lock.json. Installs node and npm with apt-get (Debian) when they
# are missing, as scripts/services.sh does for its packages. scripts/test.sh runs it for
#   tests/browser        axe-core, which the browser tests run in every page (tests/api/browser/accessibility.rs)
#   tests/interop/node   node's openid-client, the relying party of tests/api/interop_node.rs
# Usage: scripts/npm-ci.sh DIR...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'npm-ci: %s\n' "$*" >&2; }
die() { printf 'npm-ci: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n -E "$@"
  else
    die "need root to run: $* (install node and npm yourself)"
  fi
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "node and npm not found and no apt-get; install them by hand"
  export DEBIAN_FRONTEND=noninteractive
  out=$(mktemp)
  log "apt-get install nodejs npm"
  { as_root apt-get -qq -o DPkg::Lock::Timeout=300 update &&
    as_root apt-get -qq -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install nodejs npm; } >"$out" 2>&1 ||
    { cat "$out" >&2; die "apt-get install nodejs npm failed"; }
  rm -f "$out"
fi

# npm ci writes node_modules/.package-lock.json last, so its age tells whether the install finished after the lock
# file last changed.
for dir in "$@"; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/node_modules/.package-lock.json" -ot "$dir/package-lock.json" ]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund >&2)
  fi
done
