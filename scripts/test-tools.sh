#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, only when missing:
# cargo-nextest, the Python tools (cfn-lint for the CloudFormation templates, boto3 and pytest
# for the emulator's boto3 tests) and buf (through npm, see scripts/buf.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

if ! python3 - <<'PY' >/dev/null 2>&1
import importlib.metadata as md, pathlib, sys
wanted = {}
for line in pathlib.Path("scripts/requirements-test.txt").read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if "==" in line:
        name, version = line.split("==", 1)
        wanted[name] = version
sys.exit(0 if all(md.version(n) == v for n, v in wanted.items()) else 1)
PY
then
  echo "==> installing Python test tools (scripts/requirements-test.txt)"
  python3 -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
