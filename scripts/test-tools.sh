#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, only when missing:
# cargo-nextest, the Python tools (cfn-lint for the CloudFormation templates, boto3 and pytest
# for the emulator's boto3 tests), Debian's chromium (the buyer's browser of
# tests/e2e/fulfilment.rs). buf comes through npm in scripts/buf.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing chromium (apt)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends chromium) >/dev/null
fi

# Pinned versions; pip does nothing (and asks no index) when they are already installed.
echo "==> Python test tools (scripts/requirements-test.txt)"
PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

# Deploy checks (checkov, kubernetes-validate) in their own virtualenv: their pins conflict with
# the tools above. Reinstalled only when scripts/requirements-deploy-checks.txt changes.
DEPLOY_TOOLS="${SOUK_DEPLOY_TOOLS:-${HOME:-/tmp}/.cache/souk/deploy-checks}"
if ! cmp -s scripts/requirements-deploy-checks.txt "$DEPLOY_TOOLS/requirements.txt" 2>/dev/null \
  || [ ! -x "$DEPLOY_TOOLS/bin/checkov" ]; then
  echo "==> deploy check tools (scripts/requirements-deploy-checks.txt) into $DEPLOY_TOOLS"
  python3 -m venv "$DEPLOY_TOOLS"
  "$DEPLOY_TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/requirements-deploy-checks.txt
  cp scripts/requirements-deploy-checks.txt "$DEPLOY_TOOLS/requirements.txt"
fi
