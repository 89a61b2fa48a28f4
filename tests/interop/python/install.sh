#!/usr/bin/env bash
# Installs the Authlib relying party of the interoperability tests (tests/api/interop_python.rs): a venv at
# tests/interop/python/.venv with the pinned requirements.txt. Does nothing when the venv is newer than
# requirements.txt (python3 and its venv module come from scripts/services.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

log() { printf 'interop-python: %s\n' "$*" >&2; }
die() { printf 'interop-python: error: %s\n' "$*" >&2; exit 1; }

python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  die "python3 with its venv module not found: scripts/services.sh installs it"

# The stamp is written last, so an install that failed half-way is done again.
stamp=.venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt requirements.txt ] && [ -x .venv/bin/python ]; then
  exit 0
fi
log "creating .venv and installing requirements.txt"
rm -rf .venv
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
touch "$stamp"
