#!/usr/bin/env bash
# The addon itself under AddressSanitizer/UBSan: build every src/native/*/*.c
# into build/asan/iouring_net.node, preload libasan into node, and run the
# UDP, TUN and file suites through it on the io_uring and mmsg backends. This checks the
# real JS <-> C paths (shared memory, teardown, workers) for memory errors,
# not only the C layers the plain C tests reach.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/asan
mkdir -p "$out"
# Node's headers: next to the node binary (Debian's nodejs), else node-gyp's cache.
inc="$(dirname "$(command -v node)")/../include/node"
[ -f "$inc/node_api.h" ] || inc="$HOME/.cache/node-gyp/$(node -p 'process.versions.node')/include/node"
[ -f "$inc/node_api.h" ] || { echo "node_api.h not found (looked next to node and in node-gyp's cache)" >&2; exit 1; }
echo "== addon under ASan/UBSan: build -> $out/iouring_net.node"
gcc -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter \
  -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
  -fPIC -shared -DNAPI_VERSION=8 -I"$inc" -Isrc/native \
  src/native/*/*.c -o "$out/iouring_net.node"

libasan=$(gcc -print-file-name=libasan.so)
# Node's own allocations are not freed at exit, so leak checking is off here;
# the C tests (scripts/test-native.sh) run with LeakSanitizer on. The
# quarantine (freed memory held back to catch use-after-free) is ASan's
# default, said explicitly: tests that bound RSS add it (udp-close.test.ts).
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=256
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# A TAP copy of each run for the skip report (scripts/test.sh sets the
# directory; run alone, this script keeps them in build/test-reports).
reports=${IOURING_NET_TEST_REPORTS:-$PWD/build/test-reports}
mkdir -p "$reports"
human=tap
[ -t 1 ] && human=spec
# Both backends run even if the first fails; the script fails at the end.
failed=()
for backend in io_uring mmsg; do
  echo "== UDP, TUN and file suites through the ASan addon, backend $backend"
  IOURING_NET_BACKEND=$backend IOURING_NET_ADDON_PATH="$PWD/$out/iouring_net.node" LD_PRELOAD="$libasan" \
    IOURING_NET_TEST_REPORTS="$reports" IOURING_NET_TEST_PASS="asan-$backend" \
    node --test --test-concurrency=1 \
    --test-reporter="$human" --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$reports/asan-$backend.tap" \
    dist/test/udp-*.test.js dist/test/lifecycle.test.js \
    dist/test/tun-*.test.js dist/test/file-*.test.js || failed+=("$backend")
done
# The WireGuard exports do not depend on the backend: once. The data path
# (src/native/wg), and the crypto primitives (src/native/crypto) with their
# known-answer tests and the handshake that uses them.
echo "== WireGuard data path, crypto and handshake suites through the ASan addon"
IOURING_NET_ADDON_PATH="$PWD/$out/iouring_net.node" LD_PRELOAD="$libasan" \
  IOURING_NET_TEST_REPORTS="$reports" IOURING_NET_TEST_PASS="asan-wireguard" \
  node --test --test-concurrency=1 \
  --test-reporter="$human" --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$reports/asan-wireguard.tap" \
  dist/test/wg-*.test.js dist/test/wireguard-crypto.test.js \
  dist/test/wireguard-noise.test.js || failed+=("wireguard")

if [ "${#failed[@]}" -ne 0 ]; then
  echo "== the ASan addon run failed on: ${failed[*]}" >&2
  exit 1
fi
