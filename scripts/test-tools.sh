#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, only when missing:
# cargo-nextest, the Python tools (cfn-lint for the CloudFormation templates, boto3 and pytest
# for the emulator's boto3 tests). buf comes through npm in scripts/buf.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# Pinned versions; pip does nothing (and asks no index) when they are already installed.
echo "==> Python test tools (scripts/requirements-test.txt)"
PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
