#!/usr/bin/env bash
# The native C tests (test/native/ring_test.c) against the plain-C sources in
# src/native (every *.c except the Node-API glue, addon*.c):
#   1. ASan + LSan + UBSan build at -O0, any report fails the run;
#   2. a plain -O2 build, run once (catches code that only breaks optimised).
# The test binary itself skips (exit 0) when io_uring is unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-gcc}
OUT=build/native-test
mkdir -p "$OUT"

# Everything but the addon glue, so a new plain-C file is picked up as is.
SRCS=()
for f in src/native/*.c; do
  case "$(basename "$f")" in
    addon*.c) ;;
    *) SRCS+=("$f") ;;
  esac
done

WARN=(-std=gnu11 -Wall -Wextra -Werror -Isrc/native)

echo "== native tests: build (ASan/UBSan, -O0) -> $OUT/ring_test-asan"
echo "   sources: ${SRCS[*]}"
"$CC" "${WARN[@]}" -g -O0 -fsanitize=address,undefined -fno-omit-frame-pointer \
  -fno-sanitize-recover=all \
  -o "$OUT/ring_test-asan" test/native/ring_test.c "${SRCS[@]}"

echo "== native tests: run (ASan/UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$OUT/ring_test-asan"

echo "== native tests: build (-O2, no sanitizers) -> $OUT/ring_test-O2"
"$CC" "${WARN[@]}" -g -O2 \
  -o "$OUT/ring_test-O2" test/native/ring_test.c "${SRCS[@]}"

echo "== native tests: run (-O2)"
"$OUT/ring_test-O2"

echo "== native tests: all passed"
