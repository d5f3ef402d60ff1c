#!/usr/bin/env bash
# Tools for scripts/prebuild.sh on an x86-64 Debian 12 host (root, apt):
#   - gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu: Debian's cross compiler,
#     with libc6-dev-arm64-cross and linux-libc-dev-arm64-cross (only
#     "recommended" by it, but without them it silently falls back to the
#     host's /usr/include and fails on x86-64 headers)
#   - qemu-user: runs arm64 programs here (qemu-aarch64)
#   - an arm64 sysroot with Debian's arm64 nodejs (default ~/.cache/iouring-net/arm64-sysroot,
#     or IOURING_NET_ARM64_SYSROOT; not under build/, which node-gyp rebuild wipes), to load-test the arm64 prebuild in.
#
# Why a sysroot and not `apt-get install nodejs:arm64` after
# `dpkg --add-architecture arm64`: nodejs is not "Multi-Arch: same", so apt
# installs nodejs:arm64 only by removing the host's nodejs (and libnode108:arm64
# pulls node-acorn, node-undici... which need a nodejs too): it would replace
# the node this project runs on. So the arm64 packages are fetched with
# `apt-get download` and unpacked with dpkg-deb into a directory that
# `qemu-aarch64 -L DIR` uses as the root for the arm64 node's loader,
# libraries and /usr/share/nodejs. Nothing of the host's is changed beyond
# the added dpkg architecture.
set -euo pipefail
cd "$(dirname "$0")/.."
sysroot=${IOURING_NET_ARM64_SYSROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/iouring-net/arm64-sysroot}

[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
  { echo "prebuild-tools: needs root and apt-get (Debian)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null ||
  [ ! -f /usr/aarch64-linux-gnu/include/stdio.h ] || [ ! -f /usr/aarch64-linux-gnu/include/linux/if_tun.h ]; then
  echo "== apt: cross compiler and qemu-user"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu \
    libc6-dev-arm64-cross linux-libc-dev-arm64-cross qemu-user >/dev/null
fi

if [ -x "$sysroot/usr/bin/node" ]; then
  echo "== arm64 sysroot: $sysroot (present)"
  exit 0
fi
echo "== arm64 sysroot with Debian's nodejs: $sysroot"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
apt-get update -qq
debs=$(mktemp -d)
chmod 755 "$debs" # apt-get download fetches as the _apt user
# nodejs:arm64 and what it needs at run time (apt-cache depends nodejs:arm64 libnode108:arm64).
(cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root nodejs:arm64 libnode108:arm64 libc6:arm64 libgcc-s1:arm64 \
  libstdc++6:arm64 libuv1:arm64 libicu72:arm64 libssl3:arm64 libbrotli1:arm64 libc-ares2:arm64 \
  libnghttp2-14:arm64 zlib1g:arm64 gcc-12-base:arm64 node-acorn node-cjs-module-lexer node-undici)
mkdir -p "$sysroot"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
rm -rf "$debs"
qemu-aarch64 -L "$sysroot" "$sysroot/usr/bin/node" -p '`arm64 node ${process.version} runs under qemu`'
