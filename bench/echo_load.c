/* echo_load.c - the load generator of bench/run echo: a separate process
 * from the echo server under test (gort, Go or libuv). C connections to
 * 127.0.0.1:PORT, each one a ping-pong: send one 64-byte message, wait for
 * all 64 bytes of the echo, send the next. Nonblocking sockets in one
 * level-triggered epoll per thread (T threads, default 1), so that the
 * generator costs little next to the server.
 *
 *   echo_load PORT [CONNS [SECONDS [THREADS]]]   run (defaults 100, 5, 1)
 *   echo_load -w PORT [SECONDS]                  wait until PORT accepts (default 10 s)
 *   echo_load -p                                 print a free port
 *
 * The run lasts SECONDS from before the first connect: the headline rate
 * (echo_rps) is every completed round trip over the whole run, connect
 * phase included; echo_rps_steady counts only the round trips completed
 * after the first second. Latency is one round trip, from the send to the
 * last byte of its echo (CLOCK_MONOTONIC), over the whole run; percentiles
 * from a log-linear histogram (buckets 1/64 of an octave wide, ~1.6%). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bench_util.h"

#define MSG 64
#define NBUCKET 4096
#define WARMUP_NS 1e9

struct conn {
    int fd;
    int connected;
    int sent;   /* bytes of the current message written */
    int got;    /* bytes of its echo read */
    double t_send;
};

struct worker {
    pthread_t th;
    int port, nconn;
    double start, deadline, stop;
    struct conn *c;
    uint64_t done, done_steady, errors, connect_errors, connected;
    double connected_at; /* when its last connection was made */
    uint64_t hist[NBUCKET];
};

static int bucket_of(uint64_t v)
{
    if (v < 128)
        return (int)v;
    int e = 63 - __builtin_clzll(v);
    return 128 + (e - 7) * 64 + (int)((v >> (e - 6)) & 63);
}

static double value_of(int idx) /* the middle of the bucket */
{
    if (idx < 128)
        return idx;
    int e = (idx - 128) / 64 + 7, s = (idx - 128) % 64;
    double lo = (double)((uint64_t)(64 + s) << (e - 6));
    return lo + (double)((uint64_t)1 << (e - 6)) / 2;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static const char msg[MSG] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";

static void drop(struct worker *w, int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    w->errors++;
}

/* Write what is left of the current message; 0, or -1 on error. */
static int send_rest(struct worker *w, int ep, struct conn *c)
{
    while (c->sent < MSG) {
        ssize_t n = send(c->fd, msg + c->sent, (size_t)(MSG - c->sent), MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (int)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 0;
        }
        drop(w, ep, c);
        return -1;
    }
    return 0;
}

static void start_request(struct worker *w, int ep, struct conn *c)
{
    c->sent = 0;
    c->got = 0;
    c->t_send = now_ns();
    send_rest(w, ep, c);
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        exit(1);
    }
    struct sockaddr_in a = loopback(w->port);
    for (int i = 0; i < w->nconn; i++) {
        struct conn *c = &w->c[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            perror("socket");
            exit(1);
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
            close(c->fd);
            c->fd = -1;
            w->connect_errors++;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    struct epoll_event evs[256];
    char buf[4096];
    double warm = w->start + WARMUP_NS;
    for (;;) {
        double now = now_ns();
        if (now >= w->deadline)
            break;
        int ms = (int)((w->deadline - now) / 1e6) + 1;
        int n = epoll_wait(ep, evs, 256, ms);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (!c->connected) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->fd = -1;
                    w->connect_errors++;
                    continue;
                }
                c->connected = 1;
                w->connected++;
                w->connected_at = now_ns();
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                start_request(w, ep, c);
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && c->sent < MSG) {
                if (send_rest(w, ep, c) < 0)
                    continue;
                if (c->sent == MSG) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                continue;
            if (r <= 0 || c->got + r > MSG) { /* closed, reset, or more than was sent */
                drop(w, ep, c);
                continue;
            }
            c->got += (int)r;
            if (c->got < MSG)
                continue;
            double t = now_ns();
            w->hist[bucket_of((uint64_t)(t - c->t_send))]++;
            w->done++;
            if (t >= warm)
                w->done_steady++;
            start_request(w, ep, c);
        }
    }
    w->stop = now_ns();
    for (int i = 0; i < w->nconn; i++)
        if (w->c[i].fd >= 0)
            close(w->c[i].fd);
    close(ep);
    return NULL;
}

static int wait_for(int port, double seconds)
{
    struct sockaddr_in a = loopback(port);
    double end = now_ns() + seconds * 1e9;
    while (now_ns() < end) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            perror("socket");
            return 1;
        }
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return 0;
        usleep(10000);
    }
    fprintf(stderr, "echo_load: nothing accepts on 127.0.0.1:%d after %.0f s\n", port, seconds);
    return 1;
}

static int free_port(void)
{
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("echo_load -p");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

static double percentile(const uint64_t *h, uint64_t total, double p)
{
    uint64_t want = (uint64_t)(p * (double)total), seen = 0;
    if (want >= total)
        want = total - 1;
    for (int i = 0; i < NBUCKET; i++) {
        seen += h[i];
        if (seen > want)
            return value_of(i);
    }
    return value_of(NBUCKET - 1);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-p") == 0)
        return free_port();
    if (argc > 2 && strcmp(argv[1], "-w") == 0)
        return wait_for(atoi(argv[2]), argc > 3 ? atof(argv[3]) : 10);
    if (argc < 2) {
        fprintf(stderr, "usage: echo_load PORT [CONNS [SECONDS [THREADS]]] | -w PORT [SECONDS] | -p\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int conns = argc > 2 ? atoi(argv[2]) : 100;
    double seconds = argc > 3 ? atof(argv[3]) : 5;
    int nth = argc > 4 ? atoi(argv[4]) : 1;
    if (port <= 0 || conns <= 0 || seconds <= 0 || nth <= 0) {
        fprintf(stderr, "echo_load: bad arguments\n");
        return 2;
    }
    if (nth > conns)
        nth = conns;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)conns + 16) {
        fprintf(stderr, "echo_load: %d connections need more fds than RLIMIT_NOFILE (%lu)\n", conns,
                (unsigned long)rl.rlim_cur);
        return 1;
    }

    struct worker *w = calloc((size_t)nth, sizeof(*w));
    struct conn *cs = calloc((size_t)conns, sizeof(*cs));
    if (w == NULL || cs == NULL) {
        perror("calloc");
        return 1;
    }
    double start = now_ns();
    for (int t = 0, off = 0; t < nth; t++) {
        int k = conns / nth + (t < conns % nth);
        w[t].port = port;
        w[t].nconn = k;
        w[t].c = cs + off;
        w[t].start = start;
        w[t].deadline = start + seconds * 1e9;
        off += k;
        if (pthread_create(&w[t].th, NULL, run_worker, &w[t]) != 0) {
            fprintf(stderr, "echo_load: pthread_create failed\n");
            return 1;
        }
    }
    uint64_t done = 0, steady = 0, errors = 0, cerr = 0, connected = 0;
    double stop = start, all_connected = start;
    static uint64_t hist[NBUCKET];
    for (int t = 0; t < nth; t++) {
        pthread_join(w[t].th, NULL);
        done += w[t].done;
        steady += w[t].done_steady;
        errors += w[t].errors;
        cerr += w[t].connect_errors;
        connected += w[t].connected;
        if (w[t].stop > stop)
            stop = w[t].stop;
        if (w[t].connected_at > all_connected)
            all_connected = w[t].connected_at;
        for (int i = 0; i < NBUCKET; i++)
            hist[i] += w[t].hist[i];
    }
    if (cerr || errors)
        fprintf(stderr, "echo_load: %lu of %d connections failed to connect, %lu dropped during the run\n",
                (unsigned long)cerr, conns, (unsigned long)errors);
    if (done == 0) {
        fprintf(stderr, "echo_load: no round trip completed\n");
        return 1;
    }
    double el = stop - start;
    RESULT("echo_rps", (double)done / (el / 1e9), "req/s");
    if (el > WARMUP_NS)
        RESULT("echo_rps_steady", (double)steady / ((el - WARMUP_NS) / 1e9), "req/s");
    RESULT("echo_p50_us", percentile(hist, done, 0.50) / 1e3, "us");
    RESULT("echo_p99_us", percentile(hist, done, 0.99) / 1e3, "us");
    RESULT("echo_p999_us", percentile(hist, done, 0.999) / 1e3, "us");
    RESULT("echo_connect_ms", (all_connected - start) / 1e6, "ms");
    RESULT("echo_connections", connected, "conns");
    RESULT("echo_errors", cerr + errors, "conns");
    RESULT("echo_wall_ms", el / 1e6, "ms");
    return 0;
}
