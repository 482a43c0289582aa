#!/usr/bin/env bash
# Every test: Chromium check, type check, then the whole bun:test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-chromium.sh
echo "== type check"
node_modules/.bin/tsc --noEmit -p .
echo "== tests"
node_modules/.bin/bun test "$@"
