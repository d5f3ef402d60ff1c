#!/usr/bin/env bash
# The native C tests (every test/native/*_test.c: ring_test.c for the ring
# layer and reactor, mmsg_test.c for the poll backend, ...) against the
# plain-C sources in src/native (every *.c except the Node-API glue,
# addon*.c). Each test file is built and run twice:
#   1. ASan + LSan + UBSan build at -O0, any report fails the run;
#   2. a plain -O2 build, run once (catches code that only breaks optimised).
# Every binary runs even after another failed; the script fails at the end
# if any build or run failed. A test binary skips (exit 0) what the kernel
# here cannot do (ring_test.c: everything when io_uring is unavailable).
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-gcc}
OUT=build/native-test
mkdir -p "$OUT"

# Everything but the addon glue, so a new plain-C file is picked up as is
# (src/native/tun/: the TUN offload engine).
SRCS=()
for f in src/native/*.c src/native/tun/*.c; do
  case "$(basename "$f")" in
    addon*.c) ;;
    *) SRCS+=("$f") ;;
  esac
done

TESTS=(test/native/*_test.c)
if [ ! -e "${TESTS[0]}" ]; then
  echo "== native tests: no test/native/*_test.c found" >&2
  exit 1
fi

WARN=(-std=gnu11 -Wall -Wextra -Werror -Isrc/native -Itest/native)
ASAN=(-g -O0 -fsanitize=address,undefined -fno-omit-frame-pointer
  -fno-sanitize-recover=all)

echo "   sources: ${SRCS[*]}"
echo "   tests: ${TESTS[*]}"

FAILED=()
for t in "${TESTS[@]}"; do
  name=$(basename "$t" .c)

  echo "== $name: build (ASan/UBSan, -O0) -> $OUT/$name-asan"
  if "$CC" "${WARN[@]}" "${ASAN[@]}" -o "$OUT/$name-asan" "$t" "${SRCS[@]}"; then
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
  if "$CC" "${WARN[@]}" -g -O2 -o "$OUT/$name-O2" "$t" "${SRCS[@]}"; then
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
