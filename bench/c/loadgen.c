/*
 * loadgen: closed-loop UDP load generator for the echo benchmark.
 *
 * Keeps --window datagrams in flight against an echo server: every echo that
 * comes back is replaced by a new datagram, so the achieved rate is limited by
 * the server (and the loopback path), not by an arbitrary send rate.  Batches
 * of up to BATCH datagrams go through sendmmsg/recvmmsg so the generator's own
 * syscall cost stays far below the server's.
 *
 * Phases: --warmup seconds (not counted, lets JITs and caches settle), then
 * --seconds of measurement.  "MEASURE_START" / "MEASURE_END" lines go to
 * stderr exactly at the phase boundaries so a supervising process can sample
 * the server's CPU time over the same interval.  One JSON line with the
 * measured-phase counters goes to stdout at the end, including the generator's
 * own CPU time (getrusage), which shows whether the generator rather than the
 * server was the bottleneck.
 *
 * Loss: UDP may drop (e.g. a server socket buffer overflow).  A dropped
 * datagram would shrink the window forever, so if nothing has come back for
 * STALL_NS the whole outstanding window is declared lost and re-sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define STALL_NS (200LL * 1000 * 1000)
#define MAX_PAYLOAD 65507
/* Ask for large socket buffers so the generator itself never drops; the
 * kernel silently caps this at net.core.{r,w}mem_max. */
#define SOCK_BUF (4 * 1024 * 1024)

struct options {
    const char *host;
    int port;
    int size;
    int window;
    double seconds;
    double warmup;
};

struct counters {
    uint64_t echoes;     /* echoes with the expected length */
    uint64_t mismatched; /* echoes with a wrong length or truncated */
    uint64_t sent;
    uint64_t lost;       /* datagrams written off by stall recovery */
    uint64_t refused;    /* ICMP port unreachable reported on send/recv */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --port P [--host 127.0.0.1] [--size BYTES] [--window N]\n"
            "          [--seconds S] [--warmup S]\n",
            argv0);
    exit(2);
}

/* Strict numeric parsing: a typo in the harness must fail loudly rather than
 * silently benchmark with 0. */
static double parse_num(const char *name, const char *s, double lo, double hi)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "loadgen: bad value for %s: '%s' (allowed %g..%g)\n", name, s, lo, hi);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    o->host = "127.0.0.1";
    o->port = -1;
    o->size = 64;
    o->window = 256;
    o->seconds = 5;
    o->warmup = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage(argv[0]);
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0)
            o->port = (int)parse_num(a, v, 1, 65535);
        else if (strcmp(a, "--host") == 0)
            o->host = v;
        else if (strcmp(a, "--size") == 0)
            o->size = (int)parse_num(a, v, 1, MAX_PAYLOAD);
        else if (strcmp(a, "--window") == 0)
            o->window = (int)parse_num(a, v, 1, 1 << 20);
        else if (strcmp(a, "--seconds") == 0)
            o->seconds = parse_num(a, v, 0.001, 86400);
        else if (strcmp(a, "--warmup") == 0)
            o->warmup = parse_num(a, v, 0, 86400);
        else
            usage(argv[0]);
    }
    if (o->port < 0)
        usage(argv[0]);
}

static int open_socket(const struct options *o)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address: %s\n", o->host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("loadgen: socket");
        exit(1);
    }
    int buf = SOCK_BUF;
    /* Best effort: smaller buffers only mean more stall recoveries. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    /* connect() lets sendmmsg omit addresses and makes the kernel discard
     * datagrams from anyone but the server. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("loadgen: connect");
        exit(1);
    }
    return fd;
}

static void marker(const char *what)
{
    /* stderr is unbuffered, so the line leaves the process immediately. */
    fprintf(stderr, "%s\n", what);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);
    /* A vanished supervisor must not kill us mid-write with SIGPIPE on stderr;
     * the run is bounded anyway. */
    signal(SIGPIPE, SIG_IGN);

    int fd = open_socket(&o);

    /* Every datagram carries the same bytes; a fixed pattern makes a
     * corrupted or foreign echo stand out in a debugger. */
    unsigned char *payload = malloc((size_t)o.size);
    /* One spare byte per receive buffer: a longer-than-expected datagram then
     * shows up as a length mismatch instead of being silently cut to size. */
    size_t rx_cap = (size_t)o.size + 1;
    unsigned char *rx = malloc(rx_cap * BATCH);
    if (!payload || !rx) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    for (int i = 0; i < o.size; i++)
        payload[i] = (unsigned char)(i * 31 + 7);

    struct mmsghdr tx_msgs[BATCH], rx_msgs[BATCH];
    struct iovec tx_iov[BATCH], rx_iov[BATCH];
    memset(tx_msgs, 0, sizeof tx_msgs);
    memset(rx_msgs, 0, sizeof rx_msgs);
    for (int i = 0; i < BATCH; i++) {
        tx_iov[i].iov_base = payload;
        tx_iov[i].iov_len = (size_t)o.size;
        tx_msgs[i].msg_hdr.msg_iov = &tx_iov[i];
        tx_msgs[i].msg_hdr.msg_iovlen = 1;
        rx_iov[i].iov_base = rx + rx_cap * (size_t)i;
        rx_iov[i].iov_len = rx_cap;
        rx_msgs[i].msg_hdr.msg_iov = &rx_iov[i];
        rx_msgs[i].msg_hdr.msg_iovlen = 1;
    }

    /* Counters for the whole run; snapshots at MEASURE_START are subtracted. */
    struct counters all = {0, 0, 0, 0, 0}, base = {0, 0, 0, 0, 0};
    int64_t t0 = now_ns();
    int64_t t_measure = t0 + (int64_t)(o.warmup * 1e9);
    int64_t t_end = t_measure + (int64_t)(o.seconds * 1e9);
    int64_t t_start_actual = 0, t_end_actual = 0;
    double cpu_start = 0, cpu_end = 0;
    int measuring = 0;
    int64_t inflight = 0;
    int64_t last_progress = t0;
    int want_out = 0;

    for (;;) {
        int64_t now = now_ns();
        if (!measuring && now >= t_measure) {
            measuring = 1;
            t_start_actual = now;
            base = all;
            cpu_start = cpu_seconds();
            marker("MEASURE_START");
        }
        if (now >= t_end) {
            t_end_actual = now;
            cpu_end = cpu_seconds();
            marker("MEASURE_END");
            break;
        }
        if (inflight > 0 && now - last_progress >= STALL_NS) {
            all.lost += (uint64_t)inflight;
            inflight = 0;
            last_progress = now;
        }

        /* Refill the window. */
        want_out = 0;
        while (inflight < o.window) {
            int64_t gap = o.window - inflight;
            unsigned n = gap < BATCH ? (unsigned)gap : BATCH;
            int r = sendmmsg(fd, tx_msgs, n, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                    want_out = 1;
                    break;
                }
                if (errno == ECONNREFUSED) {
                    /* A previous datagram hit a closed port; the stall logic
                     * will recover if the server comes back. */
                    all.refused++;
                    break;
                }
                if (errno == EINTR)
                    continue;
                perror("loadgen: sendmmsg");
                return 1;
            }
            if (inflight == 0)
                last_progress = now; /* fresh window: restart the stall timer */
            inflight += r;
            all.sent += (uint64_t)r;
        }

        /* Drain whatever has arrived. */
        int got = recvmmsg(fd, rx_msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got > 0) {
            for (int i = 0; i < got; i++) {
                if (rx_msgs[i].msg_len == (unsigned)o.size && !(rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
                    all.echoes++;
                else
                    all.mismatched++;
                rx_msgs[i].msg_hdr.msg_flags = 0;
            }
            /* Late echoes of datagrams already written off can push this
             * below zero; clamping just means the next refill is a bit larger. */
            inflight -= got;
            if (inflight < 0)
                inflight = 0;
            last_progress = now;
            continue;
        }
        if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            if (errno == ECONNREFUSED) {
                all.refused++;
            } else {
                perror("loadgen: recvmmsg");
                return 1;
            }
        }

        /* Nothing to read: sleep until data, send space, the stall deadline
         * or the next phase boundary, whichever is first. */
        int64_t wake = measuring ? t_end : t_measure;
        if (inflight > 0 && last_progress + STALL_NS < wake)
            wake = last_progress + STALL_NS;
        /* Nothing outstanding yet the window is not full (sends refused):
         * retry after a stall period rather than at the next boundary. */
        if (inflight == 0 && !want_out && now + STALL_NS < wake)
            wake = now + STALL_NS;
        int64_t wait = wake - now;
        if (wait < 0)
            wait = 0;
        struct timespec ts = {(time_t)(wait / 1000000000LL), (long)(wait % 1000000000LL)};
        struct pollfd pfd = {fd, (short)(POLLIN | (want_out ? POLLOUT : 0)), 0};
        if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) {
            perror("loadgen: ppoll");
            return 1;
        }
    }

    double secs = (double)(t_end_actual - t_start_actual) / 1e9;
    uint64_t echoes = all.echoes - base.echoes;
    printf("{\"echoes\":%llu,\"seconds\":%.6f,\"echoesPerSec\":%.1f,\"lost\":%llu,\"sent\":%llu,"
           "\"mismatched\":%llu,\"refused\":%llu,\"cpuSeconds\":%.6f,\"size\":%d,\"window\":%d,\"warmup\":%.3f}\n",
           (unsigned long long)echoes, secs, secs > 0 ? (double)echoes / secs : 0.0,
           (unsigned long long)(all.lost - base.lost), (unsigned long long)(all.sent - base.sent),
           (unsigned long long)(all.mismatched - base.mismatched),
           (unsigned long long)(all.refused - base.refused), cpu_end - cpu_start, o.size, o.window, o.warmup);
    fflush(stdout);
    close(fd);
    free(payload);
    free(rx);
    /* No echoes at all means the server is not answering: say so in the
     * exit status as well as in the JSON. */
    return echoes > 0 ? 0 : 3;
}
