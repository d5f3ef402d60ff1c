#!/usr/bin/env bash
# Makes the N-API prebuilds the npm package carries, in node-gyp-build's
# layout: prebuilds/linux-x64/node.napi.glibc.node and
# prebuilds/linux-arm64/node.napi.glibc.node (one file per platform serves
# every Node version with N-API 8, i.e. Node >= 12.22).
#
#   bash scripts/prebuild.sh [--arch x64,arm64] [--out DIR] [--no-test]
#   npm run build:prebuilds            # same, both arches
#
# Each arch is built by node-gyp from binding.gyp (the flags of the source
# build) in a scratch copy, so build/ of the checkout is left alone:
#   x64    the host's gcc (this script runs on an x86-64 Debian host)
#   arm64  Debian's cross compiler aarch64-linux-gnu-gcc (apt package
#          gcc-aarch64-linux-gnu; scripts/prebuild-tools.sh installs it)
# against Node's own headers (node_api.h and openssl/, which selects the
# target's OpenSSL configuration by __aarch64__/__x86_64__). The addon is
# linked as a shared object with undefined symbols allowed (no -z defs):
# Node-API functions, and any OpenSSL function the addon calls, stay
# undefined and are resolved from the node binary when it loads the addon.
#
# Then each prebuild is load-tested by scripts/prebuild-smoke.cjs (load,
# probe, a UDP echo through the library): x64 with this node, arm64 under
# qemu-user with Debian's arm64 nodejs from the sysroot that
# scripts/prebuild-tools.sh makes (IOURING_NET_ARM64_SYSROOT, default
# ~/.cache/iouring-net/arm64-sysroot). Without qemu or that sysroot the arm64 test fails
# the script, unless --no-test. A SOURCES.sha256 beside each file records
# the sources it was built from (scripts/check-prebuilds.cjs compares it
# before `npm pack`).
set -euo pipefail
GLIBC_MAX=2.33 # the oldest glibc the prebuilds must load on (README, Install)
cd "$(dirname "$0")/.."
root=$PWD

arches=x64,arm64
out=$root/prebuilds
test=1
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arches=$2; shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --no-test) test=0; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "prebuild: unknown option $1" >&2; exit 2 ;;
  esac
done

# npm's bundled node-gyp (npm run sets npm_config_node_gyp; plain bash does not).
node_gyp=${npm_config_node_gyp:-$(dirname "$(realpath "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
[ -f "$node_gyp" ] || { echo "prebuild: node-gyp not found (looked for $node_gyp)" >&2; exit 1; }
# Node's headers: next to the node binary (Debian's and NodeSource's packages
# put them in /usr/include/node), else node-gyp's own cache or download.
nodedir=$(realpath -m "$(dirname "$(command -v node)")/..")
nodedir_args=()
[ -f "$nodedir/include/node/node_api.h" ] && nodedir_args=(--nodedir="$nodedir")
inc=$nodedir/include/node
[ -f "$inc/node_api.h" ] || inc=$HOME/.cache/node-gyp/$(node -p 'process.versions.node')/include/node

sysroot=${IOURING_NET_ARM64_SYSROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/iouring-net/arm64-sysroot}
sources_hash=$(node scripts/check-prebuilds.cjs --hash)
checks=$(mktemp -d)
trap 'rm -rf "$checks"' EXIT

# cross-compiler prefix per arch ('' = the host's compiler)
prefix_of() {
  if [ "$1" = "$(native_arch)" ]; then echo ""; return; fi
  case "$1" in
    x64) echo x86_64-linux-gnu- ;;
    arm64) echo aarch64-linux-gnu- ;;
    *) echo "prebuild: unsupported arch $1 (x64, arm64)" >&2; return 1 ;;
  esac
}

native_arch() {
  case "$(uname -m)" in x86_64) echo x64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac
}

elf_machine() { # what the ELF header says, e.g. "AArch64"
  LC_ALL=C readelf -h "$1" | sed -n 's/^ *Machine: *//p'
}

build_one() {
  local arch=$1 prefix cc work dest
  prefix=$(prefix_of "$arch")
  cc=${prefix}gcc
  command -v "$cc" >/dev/null || { echo "prebuild: $cc not found (bash scripts/prebuild-tools.sh installs it)" >&2; return 1; }
  # The OpenSSL headers the addon may include must resolve for the target,
  # and OpenSSL calls must stay undefined (resolved from node at load time).
  "$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -DNAPI_VERSION=8 -I"$inc" \
    scripts/openssl-link-check.c -o "$checks/openssl-$arch.node" ||
    { echo "prebuild: $cc cannot build against <openssl/evp.h> from $inc" >&2; return 1; }
  work=$(mktemp -d)
  cp -r binding.gyp src "$work/"
  echo "== prebuild linux-$arch: node-gyp with ${cc}"
  (cd "$work" && CC=$cc CXX=${prefix}g++ LINK=$cc AR=${prefix}ar \
    node "$node_gyp" rebuild --arch="$arch" "${nodedir_args[@]}" --jobs=2 >"$work/log" 2>&1) ||
    { tail -30 "$work/log" >&2; echo "prebuild: linux-$arch build failed (log: $work/log)" >&2; return 1; }
  dest=$out/linux-$arch
  mkdir -p "$dest"
  "${prefix}strip" --strip-unneeded -o "$dest/node.napi.glibc.node" "$work/build/Release/iouring_net.node"
  echo "$sources_hash" >"$dest/SOURCES.sha256"
  rm -rf "$work"
  local glibc
  glibc=$(LC_ALL=C "${prefix}objdump" -T "$dest/node.napi.glibc.node" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  echo "   $(elf_machine "$dest/node.napi.glibc.node"), needs $glibc, $(stat -c %s "$dest/node.napi.glibc.node") bytes -> ${dest#"$root"/}/node.napi.glibc.node"
  # The README promises the prebuilds load on glibc 2.33 and newer: a newer
  # symbol version (pthread_once is GLIBC_2.34 when linked here) would make
  # them fail to load on older systems, which should build from source.
  if [ "$(printf '%s\n%s\n' "$glibc" "GLIBC_$GLIBC_MAX" | sort -V | tail -1)" != "GLIBC_$GLIBC_MAX" ]; then
    echo "prebuild: linux-$arch needs $glibc, newer than the GLIBC_$GLIBC_MAX the README promises:" >&2
    LC_ALL=C "${prefix}objdump" -T "$dest/node.napi.glibc.node" | grep -F "($glibc)" >&2
    return 1
  fi
}

test_one() {
  local arch=$1 file=$out/linux-$1/node.napi.glibc.node
  echo "== load test linux-$arch"
  local run=(node)
  if [ "$arch" != "$(native_arch)" ]; then
    [ "$arch" = arm64 ] || { echo "prebuild: no way to run linux-$arch here" >&2; return 1; }
    command -v qemu-aarch64 >/dev/null && [ -x "$sysroot/usr/bin/node" ] ||
      { echo "prebuild: qemu-aarch64 or Debian's arm64 node ($sysroot) missing: bash scripts/prebuild-tools.sh" >&2; return 1; }
    # -L: the arm64 node finds its loader, libraries and /usr/share/nodejs in the sysroot.
    run=(qemu-aarch64 -L "$sysroot" "$sysroot/usr/bin/node")
  fi
  "${run[@]}" scripts/prebuild-smoke.cjs "$file"
  "${run[@]}" -e 'const n = require(process.argv[1]).keylen();
    if (n !== 32) throw new Error(`EVP key length ${n}`);
    console.log(`openssl-link-check: ok: EVP_* resolved from node ${process.version} (${process.arch})`);' "$checks/openssl-$arch.node"
}

IFS=, read -r -a list <<<"$arches"
for a in "${list[@]}"; do build_one "$a"; done
if [ "$test" = 1 ]; then
  for a in "${list[@]}"; do test_one "$a"; done
fi
echo "== prebuilds in ${out#"$root"/}: ${list[*]}"
