#!/usr/bin/env bash
# Node's own dgram tests, unchanged, on node:dgram and on this library's
# node:dgram layer (each UDP backend): see scripts/node-dgram-tests.mjs.
# Not part of `npm test`: it needs Node's test files, which are Node's code
# and are never copied into this repository.
#
#   bash scripts/node-dgram-tests.sh [runner options, e.g. --only bind --verbose]
#
# Node's tests come from NODE_TEST_TREE, a directory holding Node v20's
# test/ folder (test/common, test/parallel, test/sequential,
# test/async-hooks): a checkout of https://github.com/nodejs/node at the
# v20.x branch (or the tag of the running Node), or
# https://github.com/denoland/node_test, which vendors Node's test/ folder
# (commit be779569, "vendor v20.11.1"). Without it, the script clones the
# v20.x branch into ~/.cache/iouring-net/node-v20 (sparse: test/ only).
set -euo pipefail
cd "$(dirname "$0")/.."

tree=${NODE_TEST_TREE:-${XDG_CACHE_HOME:-$HOME/.cache}/iouring-net/node-v20}
if [ ! -f "$tree/test/common/index.js" ]; then
  echo "== fetching Node v20's test/ into $tree" >&2
  rm -rf "$tree"
  mkdir -p "$(dirname "$tree")"
  if ! git clone --quiet --depth 1 --branch v20.x --filter=blob:none --sparse \
    https://github.com/nodejs/node "$tree" ||
    ! git -C "$tree" sparse-checkout set test/common test/parallel test/sequential test/async-hooks; then
    echo "cannot fetch Node's tests; set NODE_TEST_TREE to a Node v20 tree with test/" >&2
    exit 2
  fi
fi

if [ ! -f dist/src/dgram/entry.js ] || [ ! -f build/Release/iouring_net.node ]; then
  echo "build first: npm run build" >&2
  exit 2
fi

exec node scripts/node-dgram-tests.mjs --dir "$tree" "$@"
