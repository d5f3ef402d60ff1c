#!/usr/bin/env bash
# Installs the tools the tests use when they are missing: `ip` (iproute2)
# and `ping` (iputils-ping) for the TUN tests, `wg` and `wg-quick`
# (wireguard-tools) for the WireGuard UAPI tests, and Debian's
# `wireguard-go` for the WireGuard interop tests. Only as root, and only with apt-get;
# otherwise it says what is missing and leaves it to the tests to skip.
# Safe to run many times: it does nothing when every tool is present, and
# it always exits 0 (scripts/test.sh can call it before the node:test suite).
set -euo pipefail

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
command -v wg >/dev/null 2>&1 || missing+=(wireguard-tools)
command -v wireguard-go >/dev/null 2>&1 || missing+=(wireguard-go)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: missing ${missing[*]}; not root or no apt-get, so the tests that need them will skip" >&2
  exit 0
fi
echo "ensure-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A failed install must not fail the test run: the tests then skip and say why.
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "ensure-tools: could not install ${missing[*]}; the tests that need them will skip" >&2
fi
exit 0
