/*
 * Shared harness of the native C tests (test/native/NAME_test.c): TAP output,
 * the CHECK macros, a byte pattern and plain UDP peers on 127.0.0.1.
 *
 * Each test is `static int t_x(void)` returning PASS, FAIL or SKIP, with a
 * local `int st = FAIL;` and a cleanup label `out:`; a failed CHECK records
 * why (line, condition, optional details) in g_why and jumps to `out`.
 * run_tests() prints "ok N - name", "not ok N - name: reason" or
 * "ok N - name # SKIP reason", then one "# skipped: ..." line per skipped
 * test and a last line "N passed, M failed"; it returns the exit status
 * (0 only when nothing failed).
 *
 * Everything here is static (inline), so each test binary includes it once.
 */
#ifndef ION_TEST_UTIL_H
#define ION_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- harness ---- */

enum { PASS, FAIL, SKIP };
static char g_why[512];

static inline void set_why(int line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void set_why(int line, const char *what, const char *fmt, ...) {
  int n = snprintf(g_why, sizeof(g_why), "line %d: %s", line, what);
  if (fmt && n > 0 && (size_t)n < sizeof(g_why)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_why + n, sizeof(g_why) - (size_t)n, fmt, ap);
    va_end(ap);
  }
}

/* Each test has a local `st` (starts FAIL) and a cleanup label `out`. */
#define CHECK(cond)                          \
  do {                                       \
    if (!(cond)) {                           \
      set_why(__LINE__, #cond, NULL);        \
      goto out;                              \
    }                                        \
  } while (0)
#define CHECKF(cond, fmt, ...)                              \
  do {                                                      \
    if (!(cond)) {                                          \
      set_why(__LINE__, #cond, " (" fmt ")", __VA_ARGS__); \
      goto out;                                             \
    }                                                       \
  } while (0)
#define SKIP_IF(cond, ...)                               \
  do {                                                   \
    if (cond) {                                          \
      snprintf(g_why, sizeof(g_why), __VA_ARGS__);       \
      st = SKIP;                                         \
      goto out;                                          \
    }                                                    \
  } while (0)

typedef struct test_case {
  const char *name;
  int (*fn)(void);
} test_case;

/* Run every test in order, print TAP, return the exit status. */
static inline int run_tests(const test_case *tests, size_t ntests) {
  char(*skipped)[sizeof(g_why) + 64] = calloc(ntests ? ntests : 1,
                                              sizeof(*skipped));
  int passed = 0, failed = 0, nskip = 0;
  printf("1..%zu\n", ntests);
  for (size_t i = 0; i < ntests; i++) {
    g_why[0] = '\0';
    int st = tests[i].fn();
    if (st == PASS) {
      passed++;
      printf("ok %zu - %s\n", i + 1, tests[i].name);
    } else if (st == SKIP) {
      printf("ok %zu - %s # SKIP %s\n", i + 1, tests[i].name, g_why);
      if (skipped)
        snprintf(skipped[nskip++], sizeof(skipped[0]), "%s: %s",
                 tests[i].name, g_why);
    } else {
      failed++;
      printf("not ok %zu - %s: %s\n", i + 1, tests[i].name, g_why);
    }
  }
  for (int i = 0; i < nskip; i++) printf("# skipped: %s\n", skipped[i]);
  printf("%d passed, %d failed\n", passed, failed);
  free(skipped);
  return failed ? 1 : 0;
}

/* ---- helpers ---- */

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A deterministic byte pattern, different per datagram (seed). */
static inline void fill(uint8_t *p, size_t len, unsigned seed) {
  for (size_t i = 0; i < len; i++) p[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

static inline bool same(const uint8_t *p, size_t len, unsigned seed) {
  uint8_t want[2048];
  if (len > sizeof(want)) return false;
  fill(want, len, seed);
  return memcmp(p, want, len) == 0;
}

/* A UDP socket on 127.0.0.1, ephemeral port, with a receive timeout so a
 * lost datagram fails the test rather than blocking it. */
static inline int udp_bound(struct sockaddr_in *addr) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  struct timeval tv = {2, 0};
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
    close(fd);
    return -1;
  }
  if (addr) *addr = a;
  return fd;
}

static inline bool send_pattern(int fd, const struct sockaddr_in *to,
                                size_t len, unsigned seed) {
  uint8_t buf[2048];
  if (len > sizeof(buf)) return false;
  fill(buf, len, seed);
  return sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)) ==
         (ssize_t)len;
}

#endif
