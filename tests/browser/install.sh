#!/usr/bin/env bash
# Installs the scripts the browser tests load into pages (package-lock.json: axe-core) when node_modules is
# missing or older than the lock file; npm comes from Debian when the machine has none.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ -d node_modules && ! package-lock.json -nt node_modules ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
touch node_modules
