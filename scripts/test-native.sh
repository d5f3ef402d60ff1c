#!/usr/bin/env bash
# The native C tests (every test/native/*_test.c: ring_test.c for the ring
# layer, reactor_test.c for the reactor's failure paths, mmsg_test.c for the
# poll backend, wg_*_test.c for the WireGuard data path, offload_*_test.c
# for the TUN offloads, ...) against the plain-C sources in src/native/*/
# (every *.c except the Node-API glue, src/native/addon/). Each test runs
# twice:
#   1. ASan + LSan + UBSan build at -O0, any report fails the run;
#   2. a plain -O2 build, run once (catches code that only breaks optimised).
# The sources are compiled once per build (in parallel) and linked into
# every test. Every binary runs even after another failed; the script fails
# at the end if any build or run failed. A test binary skips (exit 0) what
# the kernel here cannot do, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-gcc}
OUT=build/native-test
mkdir -p "$OUT"
JOBS=$(nproc 2>/dev/null || echo 2)

# Everything but the Node-API glue (src/native/addon/), so a new plain-C
# file in any layer folder is picked up as is.
SRCS=()
for f in src/native/*/*.c; do
  case "$f" in
    src/native/addon/*) ;;
    *) SRCS+=("$f") ;;
  esac
done

TESTS=(test/native/*_test.c)
if [ ! -e "${TESTS[0]}" ]; then
  echo "== native tests: no test/native/*_test.c found" >&2
  exit 1
fi

# src/native/wg and crypto use OpenSSL through Node's own headers (as the
# addon does) and, outside node, the system's libcrypto.so.3 at run time:
# no libssl-dev.
NODE_INC="$(dirname "$(command -v node)")/../include/node"
[ -f "$NODE_INC/openssl/evp.h" ] ||
  NODE_INC="$HOME/.cache/node-gyp/$(node -p 'process.versions.node')/include/node"
[ -f "$NODE_INC/openssl/evp.h" ] || { echo "Node's openssl/evp.h not found" >&2; exit 1; }
LIBS=(-l:libcrypto.so.3)

WARN=(-std=gnu11 -Wall -Wextra -Werror -Isrc/native -Itest/native -I"$NODE_INC")
ASAN=(-g -O0 -fsanitize=address,undefined -fno-omit-frame-pointer
  -fno-sanitize-recover=all)
OPT=(-g -O2)

echo "   sources: ${SRCS[*]}"
echo "   tests: ${TESTS[*]}"

# Compile every source once per build, JOBS at a time; prints the objects.
compile() {
  local kind=$1
  shift
  rm -rf "$OUT/obj-$kind" && mkdir -p "$OUT/obj-$kind" # no stale objects
  printf '%s\n' "${SRCS[@]}" | CC="$CC" OBJDIR="$OUT/obj-$kind" \
    xargs -P "$JOBS" -I{} sh -c \
    'o="$OBJDIR/$(echo "{}" | tr / _ ).o"; "$CC" "$@" -c "{}" -o "$o"' _ "$@"
}

FAILED=()
echo "== compile the sources (ASan/UBSan, -O0; and -O2)"
compile asan "${WARN[@]}" "${ASAN[@]}" || FAILED+=("sources (ASan/UBSan build)")
compile O2 "${WARN[@]}" "${OPT[@]}" || FAILED+=("sources (-O2 build)")
OBJ_ASAN=("$OUT"/obj-asan/*.o)
OBJ_O2=("$OUT"/obj-O2/*.o)

for t in "${TESTS[@]}"; do
  name=$(basename "$t" .c)

  echo "== $name: build (ASan/UBSan, -O0) -> $OUT/$name-asan"
  if "$CC" "${WARN[@]}" "${ASAN[@]}" -o "$OUT/$name-asan" "$t" "${OBJ_ASAN[@]}" "${LIBS[@]}"; then
    echo "== $name: run (ASan/UBSan)"
    if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$OUT/$name-asan"; then
      FAILED+=("$name (ASan/UBSan run)")
    fi
  else
    FAILED+=("$name (ASan/UBSan build)")
  fi

  echo "== $name: build (-O2, no sanitizers) -> $OUT/$name-O2"
  if "$CC" "${WARN[@]}" "${OPT[@]}" -o "$OUT/$name-O2" "$t" "${OBJ_O2[@]}" "${LIBS[@]}"; then
    echo "== $name: run (-O2)"
    if ! "$OUT/$name-O2"; then
      FAILED+=("$name (-O2 run)")
    fi
  else
    FAILED+=("$name (-O2 build)")
  fi
done

if [ "${#FAILED[@]}" -ne 0 ]; then
  echo "== native tests: FAILED: ${FAILED[*]}" >&2
  exit 1
fi
echo "== native tests: all passed (${#TESTS[@]} test files, 2 builds each)"
