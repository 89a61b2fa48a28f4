#!/usr/bin/env bash
# The test command (README, .ci/run): brings up local PostgreSQL and Redis (scripts/services.sh), then runs every test
# target on both backends. Extra arguments go to cargo test: `scripts/test.sh token -- --nocapture`.
# TESSERA_TEST_POSTGRES_URL and TESSERA_TEST_REDIS_URL may point elsewhere; the defaults are the local servers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/services.sh
scripts/npm-ci.sh tests/browser tests/interop/node
tests/interop/python/install.sh
export TESSERA_TEST_POSTGRES_URL="${TESSERA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
export TESSERA_TEST_REDIS_URL="${TESSERA_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
# Most tests wait (on their servers, timers, a browser) more than they compute: three per core run the suite in
# two thirds of the time one per core takes (docs/benchmarks.md, "The test suite's time").
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-$(( $(nproc) * 3 ))}"
exec cargo test --all-targets "$@"
