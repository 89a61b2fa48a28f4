#!/usr/bin/env bash
# Installs the Authlib relying party of the interoperability tests (tests/api/interop_python.rs): a venv at
# tests/interop/python/.venv with the pinned requirements.txt. Does nothing when the venv is newer than
# requirements.txt; installs python3 and its venv module with apt-get (Debian) when they are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export DEBIAN_FRONTEND=noninteractive
log() { printf 'interop-python: %s\n' "$*" >&2; }
die() { printf 'interop-python: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n -E "$@"
  else
    die "need root to run: $* (or install python3 and python3-venv yourself)"
  fi
}

# `venv` alone is not enough: Debian's python3 lacks ensurepip, which venv needs for pip, until python3-venv.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "python3 with its venv module is missing; install it by hand"
  out=$(mktemp)
  log "apt-get install python3 python3-venv"
  { as_root apt-get -qq -o DPkg::Lock::Timeout=300 update &&
    as_root apt-get -qq -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install python3 python3-venv; } >"$out" 2>&1 ||
    { cat "$out" >&2; die "apt-get install python3 python3-venv failed"; }
  rm -f "$out"
fi

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
