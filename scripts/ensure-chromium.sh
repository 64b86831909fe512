#!/usr/bin/env bash
# The browser tests (packages/browser/test) drive Debian's Chromium with playwright-core, which
# never downloads a browser. Install the `chromium` package when it is missing (needs root).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium
