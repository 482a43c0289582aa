#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through playwright-core (no browser downloads here).
# Installs it when missing and we may (root with apt-get); otherwise says how and fails.
set -euo pipefail
CHROMIUM="${HUBBUB_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium not found at $CHROMIUM: installing Debian's chromium package (once)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] && exit 0
fi
cat >&2 <<MSG
The browser tests need Chromium at $CHROMIUM and it is missing.
Install it with:   sudo apt-get update && sudo apt-get install -y chromium
or point HUBBUB_CHROMIUM at a Chromium binary, then run npm test again.
MSG
exit 1
