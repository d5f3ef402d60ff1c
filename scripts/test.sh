#!/usr/bin/env bash
# The test command (README: `npm install && npm test`): lint, the native C
# tests and the addon under AddressSanitizer, then the node:test suite on
# every backend. Every stage runs even after another failed; the run fails
# at the end if any did. Every node:test run leaves a TAP copy in
# build/test-reports/ and the run ends (also after a failure) with the list
# of skipped tests (test/skip-report.ts). With CI=true a skip that
# test/skips.ts does not allow fails the run: this machine (root, io_uring
# allowed) can run them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build/Release/iouring_net.node ] && [ -z "${IOURING_NET_ALLOW_NO_ADDON:-}" ]; then
  echo "The native addon was not built (build/Release/iouring_net.node missing)." >&2
  echo "Run 'npm run build' to see why." >&2
  exit 1
fi

export IOURING_NET_TEST_REPORTS="$PWD/build/test-reports"
rm -rf "$IOURING_NET_TEST_REPORTS"
mkdir -p "$IOURING_NET_TEST_REPORTS"

# The skip list, at the end of every run; fails a CI run on a skip that is
# not allowed (and keeps a failure's status otherwise).
skip_report() {
  local rc=$?
  node dist/test/skip-report.js "$IOURING_NET_TEST_REPORTS" || rc=1
  exit "$rc"
}
trap skip_report EXIT

# node --test, one file at a time (socket stress tests measure fds and RSS
# of their own process): the usual output on stdout, and a TAP copy named
# after the run for the skip report. $1 names the run, the rest are files.
node_test() {
  local pass=$1
  shift
  local human=tap
  [ -t 1 ] && human=spec
  IOURING_NET_TEST_PASS=$pass node --test --test-concurrency=1 \
    --test-reporter="$human" --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$IOURING_NET_TEST_REPORTS/$pass.tap" "$@"
}

# A command with IOURING_NET_BACKEND set (for shell functions too).
with_backend() {
  local backend=$1
  shift
  IOURING_NET_BACKEND=$backend "$@"
}

# Every stage runs even after another failed (a CI log then shows all of
# them); the run fails at the end if any did.
FAILED=()
stage() { # name, then the command
  local name=$1
  shift
  if ! "$@"; then
    FAILED+=("$name")
    echo "== FAILED: $name" >&2
  fi
}

echo "== lint"
stage lint npx --no-install eslint .

echo "== tools for the TUN tests (iproute2, ping)"
bash scripts/ensure-tools.sh

echo "== native tests (ASan/UBSan)"
native_tests() { bash scripts/test-native.sh | tee "$IOURING_NET_TEST_REPORTS/native.log"; }
stage native native_tests

echo "== the addon under ASan/UBSan (UDP, TUN and file suites)"
stage asan bash scripts/test-asan-addon.sh

echo "== node:test suite (backend: auto)"
stage main node_test main dist/test/*.test.js

# The UDP and dgram-layer suites again on each fallback backend.
for backend in mmsg dgram; do
  echo "== UDP suites on the $backend backend"
  stage "udp-$backend" with_backend "$backend" node_test "udp-$backend" \
    dist/test/udp-*.test.js dist/test/lifecycle.test.js dist/test/dgram-*.test.js
done

# The TUN and file suites again on their fallback: IOURING_NET_BACKEND=mmsg
# means the poll backend for TUN devices and files (src/core/backend.ts).
echo "== TUN and file suites on the poll backend (IOURING_NET_BACKEND=mmsg)"
stage poll with_backend mmsg node_test poll dist/test/tun-*.test.js dist/test/file-*.test.js

# The WireGuard data-path suites again on OpenSSL's EVP path (the main run
# takes the low-level one where node exports it; src/native/wg/aead.h).
echo "== WireGuard data-path suites on OpenSSL's EVP path (IOURING_NET_WG_CRYPTO=evp)"
with_evp() { IOURING_NET_WG_CRYPTO=evp "$@"; }
stage wg-evp with_evp node_test wg-evp dist/test/wg-*.test.js

if [ "${#FAILED[@]}" -ne 0 ]; then
  echo "== FAILED stages: ${FAILED[*]}" >&2
  exit 1
fi
echo "== all stages passed"
