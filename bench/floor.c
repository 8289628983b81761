/* The floor: the least work an HTTP/1.1 keep-alive load generator can do on this kernel.
 * N connections, one pre-rendered GET, level-triggered epoll, one write and one read per
 * request, no parsing beyond counting bytes against the first response's length, no
 * statistics but a per-microsecond latency count. stormlight is measured against it.
 *
 * Usage: sl_floor HOST PORT PATH CONNECTIONS SECONDS
 * Prints: requests=N seconds=S rps=R p50_us=A p99_us=B */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LAT_US 1000000

typedef struct floor_conn {
    int fd;
    size_t have;
    uint64_t sent_us;
} floor_conn_t;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int dial(const struct sockaddr_in *sa, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

/* Reads one whole response with a blocking socket to learn its exact length. */
static size_t response_length(const struct sockaddr_in *sa, const char *req, size_t req_len)
{
    int fd = dial(sa, 0);
    if (write(fd, req, req_len) != (ssize_t)req_len)
        exit(1);
    char buf[65536];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - have - 1);
        if (n <= 0)
            exit(1);
        have += (size_t)n;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strcasestr(buf, "content-length:");
        if (end && cl) {
            size_t total = (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10);
            if (have >= total) {
                close(fd);
                return total;
            }
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: sl_floor HOST PORT PATH CONNECTIONS SECONDS\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &sa.sin_addr);
    char req[1024];
    int req_len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", argv[3],
                           argv[1], argv[2]);
    int nconn = atoi(argv[4]);
    uint64_t dur_us = (uint64_t)(atof(argv[5]) * 1e6);
    size_t resp_len = response_length(&sa, req, (size_t)req_len);

    uint32_t *lat = calloc(MAX_LAT_US + 1, sizeof(uint32_t));
    floor_conn_t *conns = calloc((size_t)nconn, sizeof(*conns));
    int ep = epoll_create1(0);
    for (int i = 0; i < nconn; i++) {
        conns[i].fd = dial(&sa, 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    uint64_t start = now_us(), end = start + dur_us, done = 0;
    for (int i = 0; i < nconn; i++) {
        conns[i].sent_us = now_us();
        if (write(conns[i].fd, req, (size_t)req_len) != req_len)
            return 1;
    }
    static char buf[65536];
    struct epoll_event evs[256];
    uint64_t now = start;
    while (now < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        now = now_us();
        for (int i = 0; i < n; i++) {
            floor_conn_t *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, buf, sizeof(buf));
            if (r <= 0) {
                fprintf(stderr, "connection lost\n");
                return 1;
            }
            c->have += (size_t)r;
            if (c->have >= resp_len) {
                c->have -= resp_len;
                uint64_t l = now - c->sent_us;
                lat[l > MAX_LAT_US ? MAX_LAT_US : l]++;
                done++;
                c->sent_us = now;
                if (write(c->fd, req, (size_t)req_len) != req_len)
                    return 1;
            }
        }
    }
    double secs = (double)(now - start) / 1e6;
    uint64_t acc = 0, p50 = 0, p99 = 0;
    for (uint32_t v = 0; v <= MAX_LAT_US; v++) {
        acc += lat[v];
        if (!p50 && acc * 2 >= done)
            p50 = v;
        if (!p99 && acc * 100 >= done * 99) {
            p99 = v;
            break;
        }
    }
    printf("requests=%llu seconds=%.3f rps=%.1f p50_us=%llu p99_us=%llu\n",
           (unsigned long long)done, secs, (double)done / secs, (unsigned long long)p50,
           (unsigned long long)p99);
    return 0;
}
