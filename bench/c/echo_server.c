/*
 * echo_server: the C reference UDP echo server for the benchmark.
 *
 * It is the "best plain-syscall" baseline the io_uring library is compared
 * against: one blocking recvmmsg (MSG_WAITFORONE: sleep for the first
 * datagram, then take whatever else is already queued, up to BATCH) followed
 * by one sendmmsg that echoes every datagram back to its sender.  Socket
 * buffers are left at the system defaults, like the other servers.
 *
 * Prints "READY <port>" (flushed) once bound; exits on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DGRAM 65536

/* _exit is async-signal-safe, and exiting straight from the handler avoids
 * the race between checking a flag and blocking in recvmmsg. */
static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

static int parse_port(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 0 || v > 65535) {
        fprintf(stderr, "echo_server: bad --port '%s'\n", s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = parse_port(argv[++i]);
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            host = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--host 127.0.0.1] [--port P]\n", argv[0]);
            return 2;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_server: --host must be an IPv4 address: %s\n", host);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("echo_server: socket");
        return 1;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("echo_server: bind");
        return 1;
    }
    socklen_t alen = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("echo_server: getsockname");
        return 1;
    }
    printf("READY %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    /* Static: BATCH * 64 KiB is too much for the stack. */
    static unsigned char bufs[BATCH][MAX_DGRAM];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in peers[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }

    for (;;) {
        /* recvmmsg updates lengths in place, so reset them every round. */
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = MAX_DGRAM;
            msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("echo_server: recvmmsg");
            return 1;
        }
        /* Echo exactly the received length back to the received address. */
        for (int i = 0; i < n; i++)
            iov[i].iov_len = msgs[i].msg_len;
        int done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                /* A send error concerns only the first remaining datagram
                 * (e.g. ENOBUFS); drop it, as UDP would, and go on. */
                done++;
                continue;
            }
            done += r;
        }
    }
}
