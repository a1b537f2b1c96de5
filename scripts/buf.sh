#!/usr/bin/env bash
# Runs the pinned buf (tools/package.json) from the repository root, installing it on first use.
#   scripts/buf.sh lint
#   scripts/buf.sh format --diff --exit-code
#   scripts/buf.sh breaking --against '.git#branch=main'
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

buf_bin="tools/node_modules/.bin/buf"
if [[ ! -x "$buf_bin" ]]; then
  npm ci --prefix tools --no-audit --no-fund >&2
fi

exec "$buf_bin" "$@"
