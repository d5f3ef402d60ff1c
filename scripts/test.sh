#!/usr/bin/env bash
# The test command (README: `npm install && npm test`): lint, the native C
# tests and the addon under AddressSanitizer, then the node:test suite on
# every backend.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build/Release/iouring_net.node ] && [ -z "${IOURING_NET_ALLOW_NO_ADDON:-}" ]; then
  echo "The native addon was not built (build/Release/iouring_net.node missing)." >&2
  echo "Run 'npm run build' to see why." >&2
  exit 1
fi

echo "== lint"
npx --no-install eslint .

echo "== tools for the TUN tests (iproute2, ping)"
bash scripts/ensure-tools.sh

echo "== native tests (ASan/UBSan)"
bash scripts/test-native.sh

echo "== the addon under ASan/UBSan (UDP, TUN and file suites)"
bash scripts/test-asan-addon.sh

echo "== node:test suite (backend: auto)"
# One file at a time: socket stress tests measure fds and RSS of their own process.
node --test --test-concurrency=1 dist/test/*.test.js

# The UDP and dgram-layer suites again on each fallback backend.
for backend in mmsg dgram; do
  echo "== UDP suites on the $backend backend"
  IOURING_NET_BACKEND=$backend node --test --test-concurrency=1 \
    dist/test/udp-*.test.js dist/test/lifecycle.test.js dist/test/dgram-*.test.js
done

# The TUN and file suites again on their fallback: IOURING_NET_BACKEND=mmsg
# means the poll backend for TUN devices and files (src/core/backend.ts).
echo "== TUN and file suites on the poll backend (IOURING_NET_BACKEND=mmsg)"
IOURING_NET_BACKEND=mmsg node --test --test-concurrency=1 \
  dist/test/tun-*.test.js dist/test/file-*.test.js
