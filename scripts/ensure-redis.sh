#!/usr/bin/env bash
# The cross-process pub/sub tests (packages/redis/test) start Debian's redis-server themselves on a
# free loopback port. Install the `redis-server` package when it is missing (needs root); the
# service it would start is not used.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends redis-server
