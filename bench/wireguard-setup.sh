#!/usr/bin/env bash
# Tools of the WireGuard benchmark (npm run bench:wireguard): `ip`
# (iproute2), iperf3, `wg` (wireguard-tools) and Debian's wireguard-go.
# Installs the missing ones with apt-get; that needs root, as the benchmark
# itself does (network namespaces, TUN devices). Exits non-zero, saying
# why, when a tool is missing and cannot be installed. The upstream
# wireguard-go (../shared/anchors/) is never installed: the benchmark uses
# it when it is there.
set -euo pipefail

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
command -v wg >/dev/null 2>&1 || missing+=(wireguard-tools)
command -v wireguard-go >/dev/null 2>&1 || missing+=(wireguard-go)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench:wireguard needs ${missing[*]}: install it (Debian: apt-get install ${missing[*]}) and run as root" >&2
  exit 1
fi
echo "wireguard-setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
