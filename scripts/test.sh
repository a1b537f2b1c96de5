#!/usr/bin/env bash
# The whole test suite: starts PostgreSQL and NATS when they are down, installs the test tools
# it needs, then runs every test of the workspace with cargo-nextest against the real services.
# Extra arguments go to `cargo nextest run` (for example a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh
scripts/test-tools.sh
# The end-to-end tests (tests/) run the real binary: build it with the same profile first.
cargo build -p souk --bin souk
exec cargo nextest run --workspace --no-fail-fast "$@"
