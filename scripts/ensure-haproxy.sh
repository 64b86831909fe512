#!/usr/bin/env bash
# The HTTP/2 peer tests (packages/node/test/http2-peers.test.ts) put Debian's HAProxy (2.6 on
# bookworm, RFC 8441 on both sides) between our client and our servers. Install the `haproxy`
# package when it is missing (needs root); quick when it is there.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends haproxy
