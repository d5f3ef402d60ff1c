#!/usr/bin/env bash
# Tools of the tunnel benchmark (npm run bench:tunnel): `ip` (iproute2) and
# iperf3. Installs the missing ones with apt-get; that needs root, as the
# benchmark itself does (network namespaces, TUN devices). Exits non-zero,
# saying why, when a tool is missing and cannot be installed.
set -euo pipefail

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench:tunnel needs ${missing[*]}: install it (Debian: apt-get install ${missing[*]}) and run as root" >&2
  exit 1
fi
echo "tunnel-setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
