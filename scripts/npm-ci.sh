#!/usr/bin/env bash
# Installs the npm packages the tests use, from each directory's committed lock file, and only when needed:
# node_modules is missing or older than package-lock.json (node and npm come from scripts/services.sh).
# scripts/test.sh runs it for
#   tests/browser        axe-core, which the browser tests run in every page (tests/api/browser/accessibility.rs)
#   tests/interop/node   node's openid-client, the relying party of tests/api/interop_node.rs
# Usage: scripts/npm-ci.sh DIR...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'npm-ci: %s\n' "$*" >&2; }
die() { printf 'npm-ci: error: %s\n' "$*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found: scripts/services.sh installs it"

# npm ci writes node_modules/.package-lock.json last, so its age tells whether the install finished after the lock
# file last changed.
for dir in "$@"; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/node_modules/.package-lock.json" -ot "$dir/package-lock.json" ]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund >&2)
  fi
done
