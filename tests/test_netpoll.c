/* test_netpoll.c - blocking I/O that parks only the goroutine (gort/io.h):
 * every call, partial reads and writes, EOF and resets, blocking fds,
 * deadlines, gort_close while parked, GOMAXPROCS changes under I/O, calls
 * from foreign threads, signals delivered to channels, and timers re-armed
 * while the timer watcher polls.
 *
 * Loopback and local fds only. ctest runs each test twice (CMakeLists.txt):
 * netpoll.X on the default poller (io_uring where the kernel has it) and
 * netpoll_epoll.X with GORTDEBUG=netpoll=epoll. The process-level cases
 * (deadlock detector, SIGQUIT dump, SIGPIPE on fd 1/2, 10,000
 * connections) are in e2e_netpoll.c.
 *
 * Failures print every failed check on stderr (call, got and want, with
 * errno names); a test still running after 30 s sends itself SIGQUIT, so
 * a hang ends in gort's goroutine dump instead of ctest's timeout. */
#define _GNU_SOURCE /* pipe2, ptsname, F_SETPIPE_SZ */
#include "check.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>

static int64_t ms(int64_t n) { return n * 1000 * 1000; }
static int64_t now(void) { return gort_nanotime(); }

/* Timing bounds: a timed-out call returns at its deadline or after, and at
 * most LATE after it. */
#define LATE ms(200)

/* ---- checks that say what they got ----------------------------------------- */

static const char *ename(long long v)
{
    switch (-v) {
    case EBADF: return " -EBADF";
    case ETIMEDOUT: return " -ETIMEDOUT";
    case EPIPE: return " -EPIPE";
    case ECONNRESET: return " -ECONNRESET";
    case ECONNREFUSED: return " -ECONNREFUSED";
    case EAGAIN: return " -EAGAIN";
    case EINVAL: return " -EINVAL";
    case ESPIPE: return " -ESPIPE";
    case ENOTSOCK: return " -ENOTSOCK";
    case EADDRINUSE: return " -EADDRINUSE";
    case EINPROGRESS: return " -EINPROGRESS";
    case EINTR: return " -EINTR";
    case ENOTCONN: return " -ENOTCONN";
    case ECANCELED: return " -ECANCELED";
    case EFAULT: return " -EFAULT";
    case ENOENT: return " -ENOENT";
    case EPERM: return " -EPERM";
    case EISCONN: return " -EISCONN";
    case EALREADY: return " -EALREADY";
    default: return "";
    }
}

static const char *backend(void)
{
    const char *d = getenv("GORTDEBUG");
    return d && strstr(d, "netpoll=epoll") ? "epoll" : "default";
}

#define FAILF(...)                                                                              \
    do {                                                                                        \
        char m_[400];                                                                           \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                   \
        fprintf(stderr, "FAIL [%s] %s:%d: %s\n", backend(), __FILE__, __LINE__, m_);            \
        if (__atomic_fetch_add(&check_nfail, 1, __ATOMIC_SEQ_CST) == 0)                         \
            snprintf(check_failed, sizeof check_failed, "[%s] %s:%d: %s", backend(), __FILE__,  \
                     __LINE__, m_);                                                             \
    } while (0)

/* EQ(call, want): the call's result, with errno names */
#define EQ(got, want)                                                                           \
    do {                                                                                        \
        long long g_ = (long long)(got), w_ = (long long)(want);                                \
        if (g_ != w_)                                                                           \
            FAILF("%s = %lld%s, want %lld%s", #got, g_, ename(g_), w_, ename(w_));              \
    } while (0)
#define TRUE(c)                                                                                 \
    do {                                                                                        \
        if (!(c))                                                                               \
            FAILF("CHECK(%s)", #c);                                                             \
    } while (0)
#define TRUEF(c, ...)                                                                           \
    do {                                                                                        \
        if (!(c))                                                                               \
            FAILF(__VA_ARGS__);                                                                 \
    } while (0)
/* a result that must be >= 0 (an fd, a count) */
#define OK(x)                                                                                   \
    ({                                                                                          \
        long long v_ = (long long)(x);                                                          \
        if (v_ < 0)                                                                             \
            FAILF("%s = %lld%s, want >= 0", #x, v_, ename(v_));                                 \
        v_;                                                                                     \
    })
/* a timed-out call: returned at deadline dl or after, and not LATE after it */
#define IN_WINDOW(t, dl)                                                                        \
    do {                                                                                        \
        int64_t t_ = (t), d_ = (dl);                                                            \
        TRUEF(t_ >= d_, "returned %.3f ms before its deadline", (double)(d_ - t_) / 1e6);       \
        TRUEF(t_ - d_ < LATE, "returned %.3f ms after its deadline", (double)(t_ - d_) / 1e6);  \
    } while (0)

/* ---- a watchdog per test process ----------------------------------------------- */

static void *watchdog(void *arg)
{
    (void)arg;
    struct timespec ts = {30, 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
    fprintf(stderr, "FAIL [%s]: watchdog: still running after 30 s, sending SIGQUIT for a dump\n", backend());
    kill(getpid(), SIGQUIT);
    return NULL;
}

static void start_watchdog(void)
{
    static int started;
    if (started++)
        return;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &a, watchdog, NULL);
    pthread_attr_destroy(&a);
}

static void run_np(void (*fn)(void *))
{
    start_watchdog();
    run_main(fn, NULL);
}

/* ---- fds ------------------------------------------------------------------------ */

static void unix_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        FAILF("socketpair: %s", strerror(errno));
        sv[0] = sv[1] = -1;
    }
}

static void make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0) {
        FAILF("pipe: %s", strerror(errno));
        p[0] = p[1] = -1;
    }
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* a listener on 127.0.0.1, any port */
static int listener(int *port)
{
    int l = (int)OK(gort_listen_tcp("127.0.0.1", 0, 0));
    *port = port_of(l);
    return l;
}

/* a connected TCP pair over loopback: p[0] dialled, p[1] accepted */
static void tcp_pair(int p[2])
{
    int port, l = listener(&port);
    p[0] = (int)OK(gort_dial_tcp("127.0.0.1", port, ms(5000)));
    p[1] = (int)OK(gort_accept(l, NULL, NULL));
    EQ(gort_close(l), 0);
}

/* a port on 127.0.0.1 where nothing listens: bound, not listening, kept
 * open so that no one else takes it (a connect there is refused) */
static int refusing_port(int *holder)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0)
        FAILF("bind: %s", strerror(errno));
    *holder = s;
    return port_of(s);
}

/* A listener whose accept queue is full (backlog 0, never accepted), so
 * that the kernel drops further SYNs: a connect to it waits (the SYN is
 * retried after 1 s, 3 s, ...). fillers[] are the connections that fill it. */
#define NFILL 3
static int full_listener(int *port, int fillers[NFILL])
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 0) != 0)
        FAILF("listener: %s", strerror(errno));
    *port = port_of(l);
    a = loopback(*port);
    for (int i = 0; i < NFILL; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (connect(fillers[i], (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
            FAILF("filler connect: %s", strerror(errno));
    }
    gort_sleep(ms(20));
    return l;
}

/* fd moved to a number >= 256. A call that begins after gort_close
 * returned may reach whatever file has the number by then (gort/io.h); a
 * test that closes while another goroutine may still call in keeps the
 * number out of the way of the lowest-free numbers that other opens in
 * the process take (the runtime's, hwloc's at start-up), so that such a
 * late call finds the number unused (-EBADF). Where fds cannot go that
 * high, fd stays as it is. The number is found with F_DUPFD and then
 * made again with dup3, which ThreadSanitizer intercepts (fcntl it does
 * not, and its race reports on fds made by fcntl crashed in
 * AddLocation: "CHECK failed ... ((i)) < ((size_))"). */
static int high_fd(int fd)
{
    if (fd < 0)
        return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 256);
    if (h < 0)
        return fd;
    if (dup3(fd, h, O_CLOEXEC) != h) {
        close(h);
        return fd;
    }
    close(fd);
    return h;
}

/* An unlinked temporary file, open for reading and writing; made with
 * open(2), which ThreadSanitizer intercepts (mkstemp it does not). */
static int temp_fd(void)
{
    static uint32_t seq;
    char path[64];
    unsigned n = __atomic_fetch_add(&seq, 1, __ATOMIC_SEQ_CST);
    snprintf(path, sizeof path, "/tmp/gort_netpoll_%d_%u", (int)getpid(), n);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        FAILF("open %s: %s", path, strerror(errno));
    else
        unlink(path);
    return fd;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void set_bufs(int fd, int bytes)
{
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

/* fill fd's send buffer (and the peer's receive buffer) without gort */
static size_t fill(int fd)
{
    static char junk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = send(fd, junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r <= 0)
            break;
        total += (size_t)r;
    }
    for (;;) { /* unix sockets take small writes after a big one fails */
        ssize_t r = send(fd, junk, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r <= 0)
            break;
        total += (size_t)r;
    }
    return total;
}

static int count_dir(const char *path, bool skip_iou)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (skip_iou) { /* io_uring's kernel workers are threads of the process */
            char p[300], comm[32] = "";
            snprintf(p, sizeof p, "%s/%s/comm", path, e->d_name);
            FILE *f = fopen(p, "r");
            if (f) {
                if (!fgets(comm, sizeof comm, f))
                    comm[0] = 0;
                fclose(f);
            }
            if (!strncmp(comm, "iou-", 4))
                continue;
        }
        n++;
    }
    closedir(d);
    return n;
}

static int fd_count(void) { return count_dir("/proc/self/fd", false) - 1; /* the DIR's own fd */ }
static int thread_count(void) { return count_dir("/proc/self/task", true); }

/* a byte pattern that is not periodic in 256 or 65536 */
static uint8_t pat(size_t i) { return (uint8_t)(i + (i >> 8) * 7 + (i >> 16) * 13 + (i >> 24) * 29); }

/* ---- operations run by a goroutine, awaited with a bound --------------------------- */

enum { OP_READ, OP_WRITE, OP_ACCEPT, OP_POLLIN, OP_RECVFROM, OP_CONNECT, OP_READV, OP_RECV, OP_CHANRECV };

typedef struct aop {
    int kind, fd;
    void *buf;
    size_t n;
    struct sockaddr_storage addr;
    socklen_t alen;
    gort_chan_t *ch; /* OP_CHANRECV */
    int val;          /* OP_CHANRECV: the value */
    ssize_t r;
    int64_t t0, t1;
    gort_chan_t *done;
} aop;

static void aop_body(void *arg)
{
    aop *o = arg;
    o->t0 = now();
    switch (o->kind) {
    case OP_READ: o->r = gort_read(o->fd, o->buf, o->n); break;
    case OP_RECV: o->r = gort_recv(o->fd, o->buf, o->n, 0); break;
    case OP_WRITE: o->r = gort_write(o->fd, o->buf, o->n); break;
    case OP_ACCEPT:
        o->alen = sizeof o->addr;
        o->r = gort_accept(o->fd, (struct sockaddr *)&o->addr, &o->alen);
        break;
    case OP_POLLIN: o->r = gort_poll_fd(o->fd, POLLIN, -1); break;
    case OP_RECVFROM:
        o->alen = sizeof o->addr;
        o->r = gort_recvfrom(o->fd, o->buf, o->n, 0, (struct sockaddr *)&o->addr, &o->alen);
        break;
    case OP_CONNECT: o->r = gort_connect(o->fd, (struct sockaddr *)&o->addr, o->alen); break;
    case OP_READV: {
        struct iovec iov[2] = {{o->buf, o->n / 2}, {(char *)o->buf + o->n / 2, o->n - o->n / 2}};
        o->r = gort_readv(o->fd, iov, 2);
        break;
    }
    case OP_CHANRECV: o->r = gort_chan_recv(o->ch, &o->val) ? 1 : 0; break;
    }
    o->t1 = now();
    int one = 1;
    gort_chan_send(o->done, &one);
}

/* start op kind on fd in a new goroutine (buf: n bytes, allocated) */
static aop *aop_go(int kind, int fd, size_t n)
{
    aop *o = calloc(1, sizeof *o);
    o->kind = kind;
    o->fd = fd;
    o->n = n;
    o->buf = calloc(1, n ? n : 1);
    o->done = gort_chan_make(sizeof(int), 1);
    gort_go(aop_body, o);
    return o;
}

static bool aop_finished(aop *o) { return gort_chan_len(o->done) != 0; }

/* wait up to ns for o; true when it finished (then o->r is its result).
 * On a timeout o is leaked: its goroutine still owns it. */
static bool aop_wait(aop *o, int64_t ns)
{
    gort_chan_t *t = gort_after(ns);
    int x;
    gort_select_case_t cs[2] = {{.chan = o->done, .dir = GORT_SELECT_RECV, .elem = &x},
                                {.chan = t, .dir = GORT_SELECT_RECV}};
    int i = gort_select(cs, 2, true);
    gort_chan_free(t);
    return i == 0;
}

static void aop_free(aop *o)
{
    gort_chan_free(o->done);
    free(o->buf);
    free(o);
}

/* the op must be parked (not finished) after settling for 20 ms */
#define PARKED(o)                                                                               \
    do {                                                                                        \
        gort_sleep(ms(20));                                                                     \
        TRUEF(!aop_finished(o), "op %d on fd %d returned %zd%s at once, want it parked",        \
              (o)->kind, (o)->fd, (o)->r, ename((o)->r));                                       \
    } while (0)

/* wait for o, check its result, free it */
#define AWAIT(o, want)                                                                          \
    do {                                                                                        \
        if (!aop_wait(o, ms(2000))) {                                                           \
            FAILF("op %d on fd %d still parked 2 s later, want %lld%s", (o)->kind, (o)->fd,     \
                  (long long)(want), ename(want));                                              \
        } else {                                                                                \
            EQ((o)->r, want);                                                                   \
        }                                                                                       \
    } while (0)

/* ==== 1. every call ============================================================== */

static void rw_on(const char *what, int r, int w)
{
    char b[100] = {0};
    /* a short count is not an error: 10 bytes for a read of 100 */
    EQ(gort_write(w, "0123456789", 10), 10);
    EQ(gort_read(r, b, sizeof b), 10);
    TRUEF(!memcmp(b, "0123456789", 10), "%s: read the wrong bytes", what);
    /* a read of 4 of 6 bytes, then the other 2 */
    EQ(gort_write(w, "abcdef", 6), 6);
    EQ(gort_read(r, b, 4), 4);
    EQ(gort_read(r, b + 4, 4), 2);
    TRUEF(!memcmp(b, "abcdef", 6), "%s: read the wrong bytes", what);
    /* a read parks until the write */
    aop *o = aop_go(OP_READ, r, 100);
    PARKED(o);
    EQ(gort_write(w, "xyz", 3), 3);
    AWAIT(o, 3);
    TRUEF(!memcmp(o->buf, "xyz", 3), "%s: parked read got the wrong bytes", what);
    aop_free(o);
    /* gort_write of 0 bytes */
    EQ(gort_write(w, "", 0), 0);
}

static void read_write_body(void *arg)
{
    (void)arg;
    int sv[2], p[2], t[2];
    unix_pair(sv);
    rw_on("socketpair", sv[0], sv[1]);
    rw_on("socketpair reversed", sv[1], sv[0]);
    make_pipe(p);
    rw_on("pipe", p[0], p[1]);
    tcp_pair(t);
    rw_on("tcp", t[0], t[1]);
    rw_on("tcp reversed", t[1], t[0]);
    int all[] = {sv[0], sv[1], p[0], p[1], t[0], t[1]};
    for (int i = 0; i < 6; i++)
        EQ(gort_close(all[i]), 0);
}

static void test_read_write(void **state)
{
    (void)state;
    run_np(read_write_body);
}

/* Regular files (never wait in epoll: the syscall bracket), /dev/null and
 * /dev/zero (character devices without poll support), eventfd, a pty. */
static void files_body(void *arg)
{
    (void)arg;
    char path[] = "/tmp/gort_netpoll_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        FAILF("mkstemp: %s", strerror(errno));
        return;
    }
    unlink(path);
    char b[256];
    EQ(gort_pwrite(fd, "hello", 5, 100), 5);
    EQ(gort_pread(fd, b, 5, 100), 5);
    TRUE(!memcmp(b, "hello", 5));
    EQ(gort_pread(fd, b, 10, 103), 2); /* short at end of file */
    TRUE(!memcmp(b, "lo", 2));
    EQ(gort_pread(fd, b, 10, 200), 0); /* past the end */
    memset(b, 1, sizeof b);
    EQ(gort_pread(fd, b, 100, 0), 100); /* the hole reads as zeros */
    bool zeros = true;
    for (int i = 0; i < 100; i++)
        zeros &= b[i] == 0;
    TRUE(zeros);
    EQ(lseek(fd, 0, SEEK_CUR), 0); /* pread and pwrite leave the offset alone */
    EQ(gort_pread(fd, b, 1, -1), -EINVAL);
    EQ(gort_pwrite(fd, b, 1, -1), -EINVAL);

    /* gort_read / gort_write use and move the file offset */
    EQ(gort_write(fd, "ABC", 3), 3);
    EQ(lseek(fd, 0, SEEK_CUR), 3);
    EQ(gort_read(fd, b, 2), 2);
    EQ(lseek(fd, 0, SEEK_CUR), 5);
    EQ(gort_read(fd, b, sizeof b), 100); /* offsets 5..104 */
    EQ(gort_read(fd, b, sizeof b), 0);   /* end of file */

    /* 4 MiB through pwrite, back through sequential reads */
    size_t big = 4 << 20;
    uint8_t *w = malloc(big), *rd = malloc(big);
    for (size_t i = 0; i < big; i++)
        w[i] = pat(i);
    EQ(gort_pwrite(fd, w, big, 0), (ssize_t)big);
    EQ(lseek(fd, 0, SEEK_SET), 0);
    size_t got = 0;
    while (got < big) {
        ssize_t r = gort_read(fd, rd + got, 100000);
        if (r <= 0) {
            EQ(r, 100000);
            break;
        }
        got += (size_t)r;
    }
    TRUE(got == big && !memcmp(w, rd, big));
    memset(rd, 0, big);
    EQ(gort_pread(fd, rd, big, 0), (ssize_t)big);
    TRUE(!memcmp(w, rd, big));
    free(w);
    free(rd);
    EQ(gort_close(fd), 0);

    /* pread / pwrite on an fd without offsets */
    int sv[2];
    unix_pair(sv);
    EQ(gort_write(sv[1], "d", 1), 1); /* (data there: a wrong answer, not a hang) */
    EQ(gort_pread(sv[0], b, 1, 0), -ESPIPE);
    EQ(gort_pwrite(sv[0], b, 1, 0), -ESPIPE);
    int pp[2];
    make_pipe(pp);
    EQ(gort_write(pp[1], "d", 1), 1);
    EQ(gort_pread(pp[0], b, 1, 0), -ESPIPE);
    EQ(gort_pwrite(pp[1], b, 1, 0), -ESPIPE);
    EQ(gort_close(pp[0]), 0);
    EQ(gort_close(pp[1]), 0);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);

    /* character devices without poll */
    int dn = open("/dev/null", O_RDWR | O_CLOEXEC), dz = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    TRUE(dn >= 0 && dz >= 0);
    EQ(gort_write(dn, "x", 1), 1);
    EQ(gort_read(dn, b, sizeof b), 0);
    memset(b, 1, sizeof b);
    EQ(gort_read(dz, b, sizeof b), (ssize_t)sizeof b);
    TRUE(b[0] == 0 && b[sizeof b - 1] == 0);
    EQ(gort_close(dn), 0);
    EQ(gort_close(dz), 0);

    /* eventfd: any pollable fd parks */
    int ev = eventfd(0, EFD_CLOEXEC);
    TRUE(ev >= 0);
    aop *o = aop_go(OP_READ, ev, 8);
    PARKED(o);
    uint64_t one = 5;
    EQ(gort_write(ev, &one, 8), 8);
    AWAIT(o, 8);
    TRUE(*(uint64_t *)o->buf == 5);
    aop_free(o);
    EQ(gort_close(ev), 0);
}

static void test_files(void **state)
{
    (void)state;
    run_np(files_body);
}

/* a pty in raw mode: a terminal fd */
static void pty_body(void *arg)
{
    (void)arg;
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
        fprintf(stderr, "no pty (%s): skipped\n", strerror(errno));
        return;
    }
    int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
    TRUE(s >= 0);
    struct termios tio;
    tcgetattr(s, &tio);
    cfmakeraw(&tio);
    tcsetattr(s, TCSANOW, &tio);
    aop *o = aop_go(OP_READ, m, 64);
    PARKED(o);
    EQ(gort_write(s, "tty", 3), 3);
    AWAIT(o, 3);
    TRUE(!memcmp(o->buf, "tty", 3));
    aop_free(o);
    o = aop_go(OP_READ, s, 64);
    PARKED(o);
    EQ(gort_write(m, "back", 4), 4);
    AWAIT(o, 4);
    aop_free(o);
    EQ(gort_close(s), 0);
    EQ(gort_close(m), 0);
}

static void test_pty(void **state)
{
    (void)state;
    if (access("/dev/ptmx", R_OK | W_OK) != 0)
        skip();
    run_np(pty_body);
}

static void readv_writev_body(void *arg)
{
    (void)arg;
    int sv[2];
    unix_pair(sv);
    struct iovec w[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    EQ(gort_writev(sv[1], w, 3), 8);
    char x[3], y[10];
    struct iovec r[2] = {{x, sizeof x}, {y, sizeof y}};
    EQ(gort_readv(sv[0], r, 2), 8);
    TRUE(!memcmp(x, "abc", 3) && !memcmp(y, "defgh", 5));
    /* a short readv */
    EQ(gort_write(sv[1], "1234", 4), 4);
    EQ(gort_readv(sv[0], r, 2), 4);
    TRUE(!memcmp(x, "123", 3) && y[0] == '4');
    /* a parked readv */
    aop *o = aop_go(OP_READV, sv[0], 8);
    PARKED(o);
    EQ(gort_writev(sv[1], w, 3), 8);
    AWAIT(o, 8);
    TRUE(!memcmp(o->buf, "abcdefgh", 8));
    aop_free(o);
    /* on a pipe and on a regular file */
    int p[2];
    make_pipe(p);
    EQ(gort_writev(p[1], w, 3), 8);
    EQ(gort_readv(p[0], r, 2), 8);
    TRUE(!memcmp(x, "abc", 3) && !memcmp(y, "defgh", 5));
    FILE *f = tmpfile();
    int fd = fileno(f);
    EQ(gort_writev(fd, w, 3), 8);
    EQ(lseek(fd, 0, SEEK_SET), 0);
    EQ(gort_readv(fd, r, 2), 8);
    TRUE(!memcmp(x, "abc", 3) && !memcmp(y, "defgh", 5));
    fclose(f);
    EQ(gort_close(p[0]), 0);
    EQ(gort_close(p[1]), 0);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
}

static void test_readv_writev(void **state)
{
    (void)state;
    run_np(readv_writev_body);
}

static void accept_body(void *arg)
{
    (void)arg;
    int port, l = listener(&port);
    /* a parked accept, with the peer's address */
    aop *o = aop_go(OP_ACCEPT, l, 0);
    PARKED(o);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(port);
    EQ(gort_connect(c, (struct sockaddr *)&a, sizeof a), 0);
    if (!aop_wait(o, ms(2000))) {
        FAILF("accept still parked 2 s after a connect");
        return;
    }
    int s = (int)OK(o->r);
    EQ(o->alen, sizeof(struct sockaddr_in));
    struct sockaddr_in *pa = (struct sockaddr_in *)&o->addr;
    EQ(pa->sin_family, AF_INET);
    EQ(ntohl(pa->sin_addr.s_addr), INADDR_LOOPBACK);
    EQ(ntohs(pa->sin_port), port_of(c));
    TRUEF(fcntl(s, F_GETFD) & FD_CLOEXEC, "accepted fd is not close-on-exec");
    EQ(gort_write(c, "ping", 4), 4);
    char b[8];
    EQ(gort_read(s, b, sizeof b), 4);
    aop_free(o);
    /* without addr and len; the connection already waits */
    int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EQ(gort_connect(c2, (struct sockaddr *)&a, sizeof a), 0);
    int s2 = (int)OK(gort_accept(l, NULL, NULL));
    TRUEF(fcntl(s2, F_GETFD) & FD_CLOEXEC, "accepted fd is not close-on-exec");
    EQ(gort_write(s2, "pong", 4), 4);
    EQ(gort_read(c2, b, sizeof b), 4);
    /* a small len: the address is truncated, len says the full size */
    int c3 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EQ(gort_connect(c3, (struct sockaddr *)&a, sizeof a), 0);
    struct sockaddr_in small;
    socklen_t slen = 4;
    int s3 = (int)OK(gort_accept(l, (struct sockaddr *)&small, &slen));
    EQ(slen, sizeof(struct sockaddr_in));
    /* accept on what is not a listener */
    int p[2];
    make_pipe(p);
    EQ(gort_accept(p[0], NULL, NULL), -ENOTSOCK);
    EQ(gort_accept(c, NULL, NULL), -EINVAL);
    int fds[] = {c, s, c2, s2, c3, s3, p[0], p[1], l};
    for (int i = 0; i < 9; i++)
        EQ(gort_close(fds[i]), 0);
}

static void test_accept(void **state)
{
    (void)state;
    run_np(accept_body);
}

static void connect_body(void *arg)
{
    (void)arg;
    int port, l = listener(&port);
    struct sockaddr_in a = loopback(port);
    char b[8];
    /* a blocking socket, and a non-blocking one: 0, never -EINPROGRESS */
    int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EQ(gort_connect(c1, (struct sockaddr *)&a, sizeof a), 0);
    int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    EQ(gort_connect(c2, (struct sockaddr *)&a, sizeof a), 0);
    int s1 = (int)OK(gort_accept(l, NULL, NULL)), s2 = (int)OK(gort_accept(l, NULL, NULL));
    /* accepted TCP connections have TCP_NODELAY, as Go's */
    int nd = 0;
    socklen_t ndl = sizeof nd;
    EQ(getsockopt(s1, IPPROTO_TCP, TCP_NODELAY, &nd, &ndl), 0);
    EQ(nd, 1);
    EQ(gort_write(c1, "one", 3), 3);
    EQ(gort_read(s1, b, sizeof b), 3);
    EQ(gort_write(c2, "two", 3), 3);
    EQ(gort_read(s2, b, sizeof b), 3);
    /* the connection is usable at once, both ways */
    EQ(gort_write(s2, "back", 4), 4);
    EQ(gort_read(c2, b, sizeof b), 4);
    /* connecting a connected socket: -EISCONN (or 0 on Linux, once, after
     * a non-blocking connect completed) */
    int rc = gort_connect(c1, (struct sockaddr *)&a, sizeof a);
    TRUEF(rc == -EISCONN || rc == 0, "gort_connect of a connected socket = %d%s", rc, ename(rc));
    /* refused, on a blocking and a non-blocking socket */
    int holder, rport = refusing_port(&holder);
    struct sockaddr_in ra = loopback(rport);
    int c3 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EQ(gort_connect(c3, (struct sockaddr *)&ra, sizeof ra), -ECONNREFUSED);
    int c4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    EQ(gort_connect(c4, (struct sockaddr *)&ra, sizeof ra), -ECONNREFUSED);
    /* a unix socket */
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in bad = loopback(port);
    EQ(gort_connect(u, (struct sockaddr *)&bad, sizeof bad), -EINVAL);
    int fds[] = {c1, c2, s1, s2, c3, c4, u, l};
    for (int i = 0; i < 8; i++)
        EQ(gort_close(fds[i]), 0);
    close(holder);
}

static void test_connect(void **state)
{
    (void)state;
    run_np(connect_body);
}

static void recv_send_body(void *arg)
{
    (void)arg;
    int sv[2], t[2];
    unix_pair(sv);
    tcp_pair(t);
    int pairs[2][2] = {{sv[0], sv[1]}, {t[0], t[1]}};
    for (int k = 0; k < 2; k++) {
        int a = pairs[k][0], b = pairs[k][1];
        char buf[100];
        EQ(gort_send(a, "hello", 5, 0), 5);
        EQ(gort_recv(b, buf, sizeof buf, MSG_PEEK), 5);
        EQ(gort_recv(b, buf, sizeof buf, 0), 5);
        TRUE(!memcmp(buf, "hello", 5));
        aop *o = aop_go(OP_RECV, b, 100);
        PARKED(o);
        EQ(gort_send(a, "later", 5, 0), 5);
        AWAIT(o, 5);
        TRUE(!memcmp(o->buf, "later", 5));
        aop_free(o);
        /* MSG_PEEK of a parked recv: the data stays */
        EQ(gort_send(a, "pk", 2, 0), 2);
        EQ(gort_recv(b, buf, 1, MSG_PEEK), 1);
        EQ(gort_recv(b, buf, sizeof buf, 0), 2);
    }
    /* on a stream socket gort_sendto without an address writes it all */
    EQ(gort_sendto(t[0], "stream", 6, 0, NULL, 0), 6);
    char buf[16];
    EQ(gort_recvfrom(t[1], buf, sizeof buf, 0, NULL, NULL), 6);
    for (int k = 0; k < 2; k++) {
        EQ(gort_close(pairs[k][0]), 0);
        EQ(gort_close(pairs[k][1]), 0);
    }
}

static void test_recv_send(void **state)
{
    (void)state;
    run_np(recv_send_body);
}

static int udp_socket(void)
{
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(0);
    if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof a) != 0)
        FAILF("udp socket: %s", strerror(errno));
    return u;
}

static void udp_body(void *arg)
{
    (void)arg;
    int u1 = udp_socket(), u2 = udp_socket();
    struct sockaddr_in a2 = loopback(port_of(u2));
    static char big[1000];
    memset(big, 'q', sizeof big);
    EQ(gort_sendto(u1, "a", 1, 0, (struct sockaddr *)&a2, sizeof a2), 1);
    EQ(gort_sendto(u1, "bbbb", 4, 0, (struct sockaddr *)&a2, sizeof a2), 4);
    EQ(gort_sendto(u1, big, sizeof big, 0, (struct sockaddr *)&a2, sizeof a2), (ssize_t)sizeof big);
    char buf[2000];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    EQ(gort_recvfrom(u2, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), 1);
    EQ(flen, sizeof from);
    EQ(ntohs(from.sin_port), port_of(u1));
    EQ(ntohl(from.sin_addr.s_addr), INADDR_LOOPBACK);
    EQ(gort_recvfrom(u2, buf, sizeof buf, 0, NULL, NULL), 4); /* boundaries kept */
    TRUE(!memcmp(buf, "bbbb", 4));
    EQ(gort_recv(u2, buf, sizeof buf, 0), (ssize_t)sizeof big);
    /* a datagram longer than the buffer is truncated, the next is whole */
    EQ(gort_sendto(u1, big, 100, 0, (struct sockaddr *)&a2, sizeof a2), 100);
    EQ(gort_sendto(u1, "z", 1, 0, (struct sockaddr *)&a2, sizeof a2), 1);
    EQ(gort_recvfrom(u2, buf, 10, 0, NULL, NULL), 10);
    EQ(gort_recvfrom(u2, buf, sizeof buf, 0, NULL, NULL), 1);
    TRUE(buf[0] == 'z');
    /* a parked recvfrom */
    aop *o = aop_go(OP_RECVFROM, u2, 64);
    PARKED(o);
    EQ(gort_sendto(u1, "late", 4, 0, (struct sockaddr *)&a2, sizeof a2), 4);
    AWAIT(o, 4);
    TRUE(!memcmp(o->buf, "late", 4));
    EQ(ntohs(((struct sockaddr_in *)&o->addr)->sin_port), port_of(u1));
    aop_free(o);
    /* a connected UDP socket: gort_write / gort_read */
    struct sockaddr_in a1 = loopback(port_of(u1));
    EQ(connect(u2, (struct sockaddr *)&a1, sizeof a1), 0);
    EQ(gort_write(u2, "dgram", 5), 5);
    EQ(gort_read(u1, buf, sizeof buf), 5);
    EQ(gort_close(u1), 0);
    EQ(gort_close(u2), 0);
}

static void test_udp(void **state)
{
    (void)state;
    run_np(udp_body);
}

static void close_body(void *arg)
{
    (void)arg;
    int sv[2];
    unix_pair(sv);
    char b[4];
    /* a high number: the runtime's own threads open fds too (at the
     * lowest free number), so a low closed number may be reused at once */
    int hi = fcntl(sv[0], F_DUPFD_CLOEXEC, 900);
    TRUE(hi >= 900);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(hi), 0);
    EQ(gort_close(hi), -EBADF);
    EQ(gort_read(hi, b, 1), -EBADF);
    EQ(gort_write(hi, "x", 1), -EBADF);
    /* (poll(2) itself would say POLLNVAL: either is an answer) */
    int pr = gort_poll_fd(hi, POLLIN, 0);
    TRUEF(pr == -EBADF || pr == POLLNVAL, "gort_poll_fd on a closed fd = %d%s", pr, ename(pr));
    EQ(gort_read(sv[1], b, 1), 0); /* the peer sees the close */
    EQ(gort_close(sv[1]), 0);
    /* negative fds */
    EQ(gort_close(-1), -EBADF);
    EQ(gort_read(-1, b, 1), -EBADF);
    EQ(gort_write(-1, "x", 1), -EBADF);
    EQ(gort_accept(-1, NULL, NULL), -EBADF);
    EQ(gort_set_deadline(-1, 0, 0), -EBADF);
    EQ(gort_set_deadline(-5, GORT_DEADLINE_KEEP, GORT_DEADLINE_KEEP), -EBADF);
    /* errno is left as it was (on one thread: a parked call may move) */
    gort_lock_os_thread();
    errno = 4242;
    EQ(gort_read(-1, b, 1), -EBADF);
    EQ(errno, 4242);
    unix_pair(sv);
    errno = 4343;
    EQ(gort_write(sv[1], "x", 1), 1);
    EQ(gort_read(sv[0], b, 1), 1);
    EQ(errno, 4343);
    gort_unlock_os_thread();
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
}

static void test_close(void **state)
{
    (void)state;
    run_np(close_body);
}

static void poll_fd_body(void *arg)
{
    (void)arg;
    int sv[2];
    unix_pair(sv);
    char b[8];
    EQ(gort_poll_fd(sv[0], POLLIN, 0), 0);
    int r = gort_poll_fd(sv[0], POLLOUT, 0);
    TRUEF(r > 0 && (r & POLLOUT), "gort_poll_fd(POLLOUT, 0) = %d, want POLLOUT", r);
    /* a timeout that expires returns 0, not early, not late */
    int64_t t0 = now();
    EQ(gort_poll_fd(sv[0], POLLIN, ms(50)), 0);
    IN_WINDOW(now(), t0 + ms(50));
    /* ready */
    EQ(gort_write(sv[1], "x", 1), 1);
    r = gort_poll_fd(sv[0], POLLIN, -1);
    TRUEF(r > 0 && (r & POLLIN), "gort_poll_fd(POLLIN, -1) on a readable fd = %d", r);
    r = gort_poll_fd(sv[0], POLLIN, 0);
    TRUEF(r > 0 && (r & POLLIN), "gort_poll_fd(POLLIN, 0) on a readable fd = %d", r);
    EQ(gort_read(sv[0], b, sizeof b), 1);
    /* parked, no timeout, until a write */
    aop *o = aop_go(OP_POLLIN, sv[0], 0);
    PARKED(o);
    EQ(gort_write(sv[1], "y", 1), 1);
    AWAIT(o, POLLIN);
    aop_free(o);
    EQ(gort_read(sv[0], b, sizeof b), 1);
    /* a long timeout ends at the write, not at the timeout */
    t0 = now();
    o = aop_go(OP_POLLIN, sv[0], 0);
    gort_sleep(ms(20));
    EQ(gort_write(sv[1], "z", 1), 1);
    AWAIT(o, POLLIN);
    TRUEF(now() - t0 < ms(1000), "a poll woken by a write took %.1f ms", (double)(now() - t0) / 1e6);
    aop_free(o);
    EQ(gort_read(sv[0], b, sizeof b), 1);
    /* the peer's close makes it ready (POLLIN or POLLHUP) */
    EQ(gort_close(sv[1]), 0);
    t0 = now();
    r = gort_poll_fd(sv[0], POLLIN, ms(1000));
    TRUEF(r > 0 && (r & (POLLIN | POLLHUP)), "poll after the peer's close = %d", r);
    TRUEF(now() - t0 < ms(100), "poll after the peer's close waited %.1f ms", (double)(now() - t0) / 1e6);
    EQ(gort_close(sv[0]), 0);
}

static void test_poll_fd(void **state)
{
    (void)state;
    run_np(poll_fd_body);
}

static void round_trip(int l, int c)
{
    int s = (int)OK(gort_accept(l, NULL, NULL));
    char b[8];
    EQ(gort_write(c, "rt", 2), 2);
    EQ(gort_read(s, b, sizeof b), 2);
    EQ(gort_write(s, "tr", 2), 2);
    EQ(gort_read(c, b, sizeof b), 2);
    EQ(gort_close(s), 0);
}

static void listen_tcp_body(void *arg)
{
    (void)arg;
    const char *hosts[] = {NULL, "", "127.0.0.1", "localhost"};
    for (int i = 0; i < 4; i++) {
        int l = gort_listen_tcp(hosts[i], 0, 0);
        TRUEF(l >= 0, "gort_listen_tcp(%s%s%s, 0, 0) = %d%s", hosts[i] ? "\"" : "",
              hosts[i] ? hosts[i] : "NULL", hosts[i] ? "\"" : "", l, ename(l));
        if (l < 0)
            continue;
        int port = port_of(l);
        TRUEF(port > 0, "getsockname port %d", port);
        int v = 0;
        socklen_t vl = sizeof v;
        getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, &vl);
        TRUEF(v != 0, "no SO_REUSEADDR on the listener");
        getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
        TRUEF(v != 0, "the socket does not listen");
        TRUEF(fcntl(l, F_GETFD) & FD_CLOEXEC, "the listener is not close-on-exec");
        if (i == 2) { /* bound to 127.0.0.1 itself */
            struct sockaddr_in sa;
            socklen_t sl = sizeof sa;
            getsockname(l, (struct sockaddr *)&sa, &sl);
            EQ(sa.sin_family, AF_INET);
            EQ(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
            /* the port is taken while it listens */
            EQ(gort_listen_tcp("127.0.0.1", port, 0), -EADDRINUSE);
        }
        { /* all addresses or 127.0.0.1: IPv4 loopback connects; localhost: by name */
            int c = gort_dial_tcp(i == 3 ? "localhost" : "127.0.0.1", port, ms(2000));
            TRUEF(c >= 0, "dial port %d for host %s: %d%s", port, hosts[i] ? hosts[i] : "NULL", c, ename(c));
            if (c >= 0) {
                round_trip(l, c);
                EQ(gort_close(c), 0);
            }
        }
        EQ(gort_close(l), 0);
    }
    EQ(gort_listen_tcp("no-such-host.invalid", 0, 0), -EINVAL);
    /* a fixed port, free again after the close (SO_REUSEADDR) */
    int l = (int)OK(gort_listen_tcp("127.0.0.1", 0, 5));
    int port = port_of(l);
    int c = (int)OK(gort_dial_tcp("127.0.0.1", port, 0));
    round_trip(l, c);
    EQ(gort_close(l), 0);
    EQ(gort_close(c), 0); /* TIME_WAIT on the port */
    l = gort_listen_tcp("127.0.0.1", port, 5);
    TRUEF(l >= 0, "listen again on port %d: %d%s", port, l, ename(l));
    if (l >= 0)
        EQ(gort_close(l), 0);
}

static void test_listen_tcp(void **state)
{
    (void)state;
    run_np(listen_tcp_body);
}

static void listen_tcp6_body(void *arg)
{
    (void)arg;
    int l = gort_listen_tcp("::1", 0, 0);
    TRUEF(l >= 0, "gort_listen_tcp(\"::1\") = %d%s", l, ename(l));
    if (l < 0)
        return;
    struct sockaddr_in6 sa;
    socklen_t sl = sizeof sa;
    getsockname(l, (struct sockaddr *)&sa, &sl);
    EQ(sa.sin6_family, AF_INET6);
    TRUE(!memcmp(&sa.sin6_addr, &in6addr_loopback, sizeof in6addr_loopback));
    int port = ntohs(sa.sin6_port);
    int c = (int)OK(gort_dial_tcp("::1", port, ms(2000)));
    if (c >= 0) {
        round_trip(l, c);
        EQ(gort_close(c), 0);
    }
    /* gort_connect on an IPv6 socket */
    int c6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EQ(gort_connect(c6, (struct sockaddr *)&sa, sl), 0);
    round_trip(l, c6);
    EQ(gort_close(c6), 0);
    EQ(gort_close(l), 0);
}

static bool have_ipv6_loopback(void)
{
    int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

static void test_listen_tcp6(void **state)
{
    (void)state;
    if (!have_ipv6_loopback()) {
        fprintf(stderr, "no IPv6 loopback: skipped\n");
        skip();
    }
    run_np(listen_tcp6_body);
}

static void dial_tcp_body(void *arg)
{
    (void)arg;
    int port, l = listener(&port);
    int c = (int)OK(gort_dial_tcp("127.0.0.1", port, 0));
    int v = 0;
    socklen_t vl = sizeof v;
    getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
    TRUEF(v != 0, "no TCP_NODELAY on a dialled socket");
    round_trip(l, c);
    EQ(gort_close(c), 0);
    c = (int)OK(gort_dial_tcp("127.0.0.1", port, ms(1000)));
    round_trip(l, c);
    EQ(gort_close(c), 0);
    /* a name; if it resolves to ::1 first, that attempt is refused and the
     * next address is tried */
    c = gort_dial_tcp("localhost", port, ms(1000));
    TRUEF(c >= 0, "gort_dial_tcp(\"localhost\") = %d%s", c, ename(c));
    if (c >= 0) {
        round_trip(l, c);
        EQ(gort_close(c), 0);
    }
    EQ(gort_close(l), 0);
    /* refused, with and without a bound */
    int holder, rport = refusing_port(&holder);
    EQ(gort_dial_tcp("127.0.0.1", rport, 0), -ECONNREFUSED);
    EQ(gort_dial_tcp("127.0.0.1", rport, ms(1000)), -ECONNREFUSED);
    close(holder);
    EQ(gort_dial_tcp("no-such-host.invalid", 80, ms(1000)), -EINVAL);
    /* a bound that expires: a listener whose queue is full drops the SYN */
    int fillers[NFILL], fport, fl = full_listener(&fport, fillers);
    int64_t t0 = now();
    EQ(gort_dial_tcp("127.0.0.1", fport, ms(100)), -ETIMEDOUT);
    IN_WINDOW(now(), t0 + ms(100));
    close_all(fillers, NFILL);
    close(fl);
}

static void test_dial_tcp(void **state)
{
    (void)state;
    run_np(dial_tcp_body);
}

/* The epoll poller sets O_NONBLOCK on the fds it uses (and leaves it set);
 * io_uring leaves the flags alone. */
static bool io_uring_works(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(__NR_io_uring_setup, 8, &p);
    if (fd < 0)
        return false;
    close((int)fd);
    return true;
}

static int want_nonblock; /* 1 epoll, 0 io_uring */

static void fd_flags_body(void *arg)
{
    (void)arg;
    int sv[2], p[2];
    unix_pair(sv);
    make_pipe(p);
    char b[4];
    EQ(gort_write(sv[1], "x", 1), 1);
    EQ(gort_read(sv[0], b, 1), 1);
    EQ(gort_write(p[1], "x", 1), 1);
    EQ(gort_read(p[0], b, 1), 1);
    int fds[] = {sv[0], sv[1], p[0], p[1]};
    for (int i = 0; i < 4; i++) {
        int nb = (fcntl(fds[i], F_GETFL) & O_NONBLOCK) != 0;
        TRUEF(nb == want_nonblock, "fd %d (%s) after use: O_NONBLOCK %s, want %s", fds[i],
              i < 2 ? "socket" : "pipe", nb ? "set" : "clear", want_nonblock ? "set" : "clear");
        EQ(gort_close(fds[i]), 0);
    }
}

static void test_fd_flags(void **state)
{
    (void)state;
    if (!strcmp(backend(), "epoll"))
        want_nonblock = 1;
    else if (io_uring_works())
        want_nonblock = 0;
    else
        skip(); /* no io_uring here: the default is epoll too */
    run_np(fd_flags_body);
}

/* ==== 2. partial reads and writes, EOF, resets, SIGPIPE ======================== */

#define BIG (8u << 20)

typedef struct stream {
    int fd;
    size_t got, short_reads;
    bool bad;
    size_t bad_at;
    gort_chan_t *done;
} stream;

/* read until EOF in small chunks, slowly, checking every byte */
static void slow_reader(void *arg)
{
    stream *s = arg;
    uint8_t b[1000];
    for (size_t k = 0;; k++) {
        ssize_t r = gort_read(s->fd, b, sizeof b);
        if (r <= 0) {
            if (r < 0)
                FAILF("slow reader: gort_read = %zd%s after %zu bytes", r, ename(r), s->got);
            break;
        }
        if ((size_t)r < sizeof b)
            s->short_reads++;
        for (ssize_t i = 0; i < r && !s->bad; i++)
            if (b[i] != pat(s->got + (size_t)i)) {
                s->bad = true;
                s->bad_at = s->got + (size_t)i;
            }
        s->got += (size_t)r;
        if (k % 512 == 511)
            gort_sleep(ms(1));
    }
    int one = 1;
    gort_chan_send(s->done, &one);
}

static void big_write_on(const char *what, int w, int r)
{
    set_bufs(w, 65536);
    set_bufs(r, 65536);
    uint8_t *buf = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pat(i);
    stream s = {.fd = r, .done = gort_chan_make(sizeof(int), 1)};
    gort_go(slow_reader, &s);
    int64_t t0 = now();
    ssize_t n = gort_write(w, buf, BIG);
    TRUEF(n == (ssize_t)BIG, "%s: gort_write of %u bytes = %zd%s", what, BIG, n, ename(n));
    EQ(gort_close(w), 0);
    int x;
    gort_chan_recv(s.done, &x);
    TRUEF(s.got == BIG, "%s: reader got %zu bytes, want %u", what, s.got, BIG);
    TRUEF(!s.bad, "%s: byte %zu differs", what, s.bad_at);
    TRUEF(s.short_reads > 0, "%s: no short read in %zu bytes", what, s.got);
    (void)t0;
    EQ(gort_close(r), 0);
    gort_chan_free(s.done);
    free(buf);
}

static void large_write_body(void *arg)
{
    (void)arg;
    int t[2], sv[2], p[2];
    tcp_pair(t);
    big_write_on("tcp", t[0], t[1]);
    unix_pair(sv);
    big_write_on("socketpair", sv[0], sv[1]);
    make_pipe(p);
    big_write_on("pipe", p[1], p[0]);
}

static void test_large_write(void **state)
{
    (void)state;
    run_np(large_write_body);
}

/* gort_writev writes everything too (4 MiB in 64 pieces, a slow reader) */
static void writev_large_body(void *arg)
{
    (void)arg;
    int t[2];
    tcp_pair(t);
    set_bufs(t[0], 65536);
    set_bufs(t[1], 65536);
    size_t total = 4u << 20, piece = total / 64;
    uint8_t *buf = malloc(total);
    for (size_t i = 0; i < total; i++)
        buf[i] = pat(i);
    struct iovec iov[64];
    for (int i = 0; i < 64; i++)
        iov[i] = (struct iovec){buf + (size_t)i * piece, piece};
    stream s = {.fd = t[1], .done = gort_chan_make(sizeof(int), 1)};
    gort_go(slow_reader, &s);
    EQ(gort_writev(t[0], iov, 64), (ssize_t)total);
    EQ(gort_close(t[0]), 0);
    int x;
    gort_chan_recv(s.done, &x);
    TRUEF(s.got == total, "reader got %zu bytes, want %zu", s.got, total);
    TRUEF(!s.bad, "byte %zu differs", s.bad_at);
    /* gort_send too */
    int u[2];
    unix_pair(u);
    set_bufs(u[0], 65536);
    stream s2 = {.fd = u[1], .done = s.done};
    gort_go(slow_reader, &s2);
    EQ(gort_send(u[0], buf, total, 0), (ssize_t)total);
    EQ(gort_close(u[0]), 0);
    gort_chan_recv(s.done, &x);
    TRUEF(s2.got == total && !s2.bad, "gort_send: reader got %zu bytes (bad %d at %zu), want %zu", s2.got,
          s2.bad, s2.bad_at, total);
    EQ(gort_close(u[1]), 0);
    EQ(gort_close(t[1]), 0);
    gort_chan_free(s.done);
    free(buf);
}

static void test_writev_large(void **state)
{
    (void)state;
    run_np(writev_large_body);
}

static void eof_body(void *arg)
{
    (void)arg;
    char b[16];
    int sv[2];
    unix_pair(sv);
    EQ(gort_write(sv[1], "tail!", 5), 5);
    EQ(gort_close(sv[1]), 0);
    EQ(gort_read(sv[0], b, sizeof b), 5);
    EQ(gort_read(sv[0], b, sizeof b), 0);
    EQ(gort_read(sv[0], b, sizeof b), 0);
    EQ(gort_close(sv[0]), 0);
    /* a parked read ends with 0 at the peer's close */
    unix_pair(sv);
    aop *o = aop_go(OP_READ, sv[0], 16);
    PARKED(o);
    EQ(gort_close(sv[1]), 0);
    AWAIT(o, 0);
    aop_free(o);
    EQ(gort_close(sv[0]), 0);
    /* pipe */
    int p[2];
    make_pipe(p);
    o = aop_go(OP_READ, p[0], 16);
    PARKED(o);
    EQ(gort_close(p[1]), 0);
    AWAIT(o, 0);
    aop_free(o);
    EQ(gort_close(p[0]), 0);
    /* TCP half close: EOF one way, the other way still works */
    int t[2];
    tcp_pair(t);
    o = aop_go(OP_READ, t[1], 16);
    PARKED(o);
    EQ(shutdown(t[0], SHUT_WR), 0);
    AWAIT(o, 0);
    aop_free(o);
    EQ(gort_write(t[1], "after", 5), 5);
    EQ(gort_read(t[0], b, sizeof b), 5);
    EQ(gort_close(t[0]), 0);
    EQ(gort_close(t[1]), 0);
}

static void test_eof(void **state)
{
    (void)state;
    run_np(eof_body);
}

static void reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    EQ(gort_close(fd), 0);
}

static bool is_gone(ssize_t r) { return r == -EPIPE || r == -ECONNRESET; }

static void reset_body(void *arg)
{
    (void)arg;
    char b[16];
    int t[2];
    /* read after a reset */
    tcp_pair(t);
    reset(t[1]);
    gort_sleep(ms(5));
    EQ(gort_read(t[0], b, sizeof b), -ECONNRESET);
    EQ(gort_close(t[0]), 0);
    /* a parked read sees the reset */
    tcp_pair(t);
    aop *o = aop_go(OP_READ, t[0], 16);
    PARKED(o);
    reset(t[1]);
    AWAIT(o, -ECONNRESET);
    aop_free(o);
    EQ(gort_close(t[0]), 0);
    /* write after a reset: -ECONNRESET, then -EPIPE (either may come first) */
    tcp_pair(t);
    reset(t[1]);
    gort_sleep(ms(5));
    ssize_t r = gort_write(t[0], "x", 1);
    TRUEF(is_gone(r), "write after reset = %zd%s, want -EPIPE or -ECONNRESET", r, ename(r));
    r = gort_write(t[0], "x", 1);
    TRUEF(is_gone(r), "second write after reset = %zd%s, want -EPIPE or -ECONNRESET", r, ename(r));
    EQ(gort_close(t[0]), 0);
    /* a write parked on a full buffer sees the reset */
    tcp_pair(t);
    set_bufs(t[0], 65536);
    set_bufs(t[1], 65536);
    fill(t[0]);
    o = aop_go(OP_WRITE, t[0], 1 << 20);
    PARKED(o);
    reset(t[1]);
    if (!aop_wait(o, ms(2000))) {
        FAILF("write parked on a full buffer: still parked 2 s after the peer's reset");
    } else {
        TRUEF(is_gone(o->r) || o->r > 0, "parked write after reset = %zd%s", o->r, ename(o->r));
        if (o->r > 0) { /* part written: the next call reports the error */
            r = gort_write(t[0], "x", 1);
            TRUEF(is_gone(r), "write after a partial write and a reset = %zd%s", r, ename(r));
        }
        aop_free(o);
    }
    EQ(gort_close(t[0]), 0);
}

static void test_reset(void **state)
{
    (void)state;
    run_np(reset_body);
}

/* Writes to a socket whose peer has gone: -EPIPE or -ECONNRESET, and no
 * SIGPIPE at all. A handler of ours counts SIGPIPEs (gort's own handler
 * could hide one). */
static int sigpipes;
static void count_sigpipe(int sig)
{
    (void)sig;
    __atomic_fetch_add(&sigpipes, 1, __ATOMIC_SEQ_CST);
}

enum { W_WRITE, W_SEND, W_WRITEV, W_SENDTO, W_COUNT };
static const char *wname[] = {"gort_write", "gort_send", "gort_writev", "gort_sendto"};

static ssize_t write_with(int how, int fd, const void *b, size_t n)
{
    struct iovec iov = {(void *)b, n};
    switch (how) {
    case W_WRITE: return gort_write(fd, b, n);
    case W_SEND: return gort_send(fd, b, n, 0);
    case W_WRITEV: return gort_writev(fd, &iov, 1);
    default: return gort_sendto(fd, b, n, 0, NULL, 0);
    }
}

static void closed_peer_body(void *arg)
{
    (void)arg;
    int sv[2], t[2];
    /* first some I/O, so that whatever gort sets up is set up */
    unix_pair(sv);
    EQ(gort_write(sv[0], "x", 1), 1);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
    struct sigaction sa = {.sa_handler = count_sigpipe}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, &old);
    int seen = 0;
#define NO_SIGPIPE(...)                                                                         \
    do {                                                                                        \
        int n_ = __atomic_load_n(&sigpipes, __ATOMIC_SEQ_CST);                                  \
        if (n_ != seen) {                                                                       \
            char w_[120];                                                                       \
            snprintf(w_, sizeof w_, __VA_ARGS__);                                               \
            FAILF("%s raised SIGPIPE (%d)", w_, n_ - seen);                                    \
            seen = n_;                                                                          \
        }                                                                                       \
    } while (0)
    for (int how = 0; how < W_COUNT; how++) {
        unix_pair(sv);
        EQ(gort_close(sv[1]), 0);
        ssize_t r = write_with(how, sv[0], "x", 1);
        TRUEF(r == -EPIPE, "socketpair: %s to a closed peer = %zd%s, want -EPIPE", wname[how], r, ename(r));
        NO_SIGPIPE("socketpair: %s to a closed peer", wname[how]);
        EQ(gort_close(sv[0]), 0);
        /* TCP: the first write may still go (the peer answers with a reset) */
        tcp_pair(t);
        EQ(gort_close(t[1]), 0);
        int k;
        for (k = 0; k < 100; k++) {
            r = write_with(how, t[0], "data", 4);
            if (r < 0)
                break;
            gort_sleep(ms(2));
        }
        TRUEF(is_gone(r), "tcp: %s to a closed peer = %zd%s after %d writes, want -EPIPE or -ECONNRESET",
              wname[how], r, ename(r), k);
        r = write_with(how, t[0], "data", 4);
        TRUEF(is_gone(r), "tcp: %s again = %zd%s", wname[how], r, ename(r));
        NO_SIGPIPE("tcp: %s to a closed peer", wname[how]);
        EQ(gort_close(t[0]), 0);
    }
    /* a big write parked on a full buffer when the peer goes */
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            unix_pair(sv);
        else
            tcp_pair(sv);
        set_bufs(sv[0], 65536);
        set_bufs(sv[1], 65536);
        aop *o = aop_go(OP_WRITE, sv[0], 4 << 20);
        PARKED(o);
        EQ(gort_close(sv[1]), 0);
        if (aop_wait(o, ms(2000))) {
            TRUEF(o->r > 0 && o->r < (4 << 20),
                  "%s: parked big gort_write whose peer closed = %zd%s, want a partial count", k ? "tcp" : "socketpair",
                  o->r, ename(o->r));
            ssize_t r = gort_write(sv[0], "x", 1);
            TRUEF(k ? is_gone(r) : r == -EPIPE, "%s: write after that = %zd%s, want -EPIPE", k ? "tcp" : "socketpair",
                  r, ename(r));
            aop_free(o);
        } else {
            FAILF("%s: a big write still parked 2 s after the peer's close", k ? "tcp" : "socketpair");
        }
        NO_SIGPIPE("%s: a gort_write parked on a full buffer when the peer closed", k ? "tcp" : "socketpair");
        EQ(gort_close(sv[0]), 0);
    }
#undef NO_SIGPIPE
    EQ(__atomic_load_n(&sigpipes, __ATOMIC_SEQ_CST), 0);
    struct sigaction now_sa;
    sigaction(SIGPIPE, NULL, &now_sa);
    TRUEF(now_sa.sa_handler == count_sigpipe, "gort replaced the program's SIGPIPE handler while running");
    sigaction(SIGPIPE, &old, NULL);
}

static void test_write_closed_peer(void **state)
{
    (void)state;
    run_np(closed_peer_body);
}

/* a pipe whose reader has gone, on an fd other than 1 and 2: -EPIPE, and
 * the process lives (with gort's SIGPIPE disposition, whatever it is) */
static void pipe_epipe_body(void *arg)
{
    (void)arg;
    int p[2];
    make_pipe(p);
    EQ(gort_close(p[0]), 0);
    EQ(gort_write(p[1], "x", 1), -EPIPE);
    struct iovec iov = {"y", 1};
    EQ(gort_writev(p[1], &iov, 1), -EPIPE);
    EQ(gort_close(p[1]), 0);
    /* a writer parked on a full pipe when the reader goes */
    make_pipe(p);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    char junk[4096] = {0};
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    while (write(p[1], junk, sizeof junk) > 0)
        ;
    fcntl(p[1], F_SETFL, 0);
    aop *o = aop_go(OP_WRITE, p[1], 8192);
    PARKED(o);
    EQ(gort_close(p[0]), 0);
    AWAIT(o, -EPIPE);
    aop_free(o);
    EQ(gort_close(p[1]), 0);
}

static void test_pipe_epipe(void **state)
{
    (void)state;
    run_np(pipe_epipe_body);
}

/* ==== 3. blocking fds park only the goroutine (one P) ======================== */

#define NBLK 32
static int blk_written[NBLK];

typedef struct blkreader {
    int i, fd;
    char got;
    ssize_t r;
    bool before_write;
    gort_chan_t *done;
} blkreader;

static void blk_read(void *arg)
{
    blkreader *b = arg;
    b->r = gort_read(b->fd, &b->got, 1);
    b->before_write = !__atomic_load_n(&blk_written[b->i], __ATOMIC_SEQ_CST);
    gort_chan_send(b->done, &b->i);
}

static void blocking_body(void *arg)
{
    (void)arg;
    int old = gort_maxprocs(1);
    int threads0 = thread_count();
    int fds[NBLK][2];
    static blkreader rd[NBLK];
    gort_chan_t *done = gort_chan_make(sizeof(int), NBLK);
    for (int i = 0; i < NBLK; i++) {
        if (i % 2)
            make_pipe(fds[i]);
        else
            unix_pair(fds[i]);
        int fl = fcntl(fds[i][0], F_GETFL);
        TRUEF(!(fl & O_NONBLOCK), "fd %d is not blocking", fds[i][0]);
        rd[i] = (blkreader){.i = i, .fd = fds[i][0], .done = done};
        gort_go(blk_read, &rd[i]);
    }
    /* this goroutine runs on the one P while all the readers wait */
    long steps = 0;
    for (int k = 0; k < 200; k++) {
        gort_yield();
        steps++;
    }
    gort_sleep(ms(30));
    EQ(gort_chan_len(done), 0);
    int threads1 = thread_count();
    TRUEF(threads1 - threads0 < 8, "%d threads before %d readers parked on blocking fds, %d while (a thread each?)",
          threads0, NBLK, threads1);
    TRUE(steps == 200);
    for (int i = 0; i < NBLK; i++) {
        __atomic_store_n(&blk_written[i], 1, __ATOMIC_SEQ_CST);
        char c = (char)('A' + i);
        EQ(gort_write(fds[i][1], &c, 1), 1);
    }
    for (int k = 0; k < NBLK; k++) {
        int i;
        gort_chan_t *t = gort_after(ms(2000));
        gort_select_case_t cs[2] = {{.chan = done, .dir = GORT_SELECT_RECV, .elem = &i},
                                    {.chan = t, .dir = GORT_SELECT_RECV}};
        int w = gort_select(cs, 2, true);
        gort_chan_free(t);
        if (w != 0) {
            FAILF("only %d of %d readers on blocking fds returned after the writes", k, NBLK);
            return; /* leaks: the test failed */
        }
        EQ(rd[i].r, 1);
        TRUEF(rd[i].got == 'A' + i, "reader %d got %c", i, rd[i].got);
        TRUEF(!rd[i].before_write, "reader %d returned before the write", i);
    }
    for (int i = 0; i < NBLK; i++) {
        EQ(gort_close(fds[i][0]), 0);
        EQ(gort_close(fds[i][1]), 0);
    }
    gort_chan_free(done);
    gort_maxprocs(old);
}

static void test_blocking_fd_one_p(void **state)
{
    (void)state;
    run_np(blocking_body);
}

/* A and B on one P: A waits in gort_read on a blocking socket, B (another
 * goroutine) runs meanwhile and is the one that writes. */
static int b_ran;
static void goroutine_b(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < 100; i++) {
        __atomic_fetch_add(&b_ran, 1, __ATOMIC_SEQ_CST);
        gort_yield();
    }
    gort_sleep(ms(20));
    EQ(gort_write(fd, "from B", 6), 6);
}

static void one_p_ab_body(void *arg)
{
    (void)arg;
    int old = gort_maxprocs(1);
    int sv[2];
    unix_pair(sv);
    gort_go(goroutine_b, &sv[1]);
    char b[16] = {0};
    EQ(gort_read(sv[0], b, sizeof b), 6); /* A: the main goroutine */
    TRUE(!memcmp(b, "from B", 6));
    EQ(__atomic_load_n(&b_ran, __ATOMIC_SEQ_CST), 100);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
    gort_maxprocs(old);
}

static void test_one_p_read_write(void **state)
{
    (void)state;
    run_np(one_p_ab_body);
}

/* ==== 4. deadlines =============================================================== */

static void deadline_read_body(void *arg)
{
    (void)arg;
    int sv[2];
    unix_pair(sv);
    char b[8];
    int64_t dl = now() + ms(50);
    EQ(gort_set_deadline(sv[0], dl, GORT_DEADLINE_KEEP), 0);
    EQ(gort_read(sv[0], b, sizeof b), -ETIMEDOUT);
    IN_WINDOW(now(), dl);
    /* passed: the next calls time out at once, even with data waiting */
    int64_t t0 = now();
    EQ(gort_read(sv[0], b, sizeof b), -ETIMEDOUT);
    EQ(gort_write(sv[1], "d", 1), 1);
    EQ(gort_read(sv[0], b, sizeof b), -ETIMEDOUT);
    EQ(gort_recv(sv[0], b, sizeof b, 0), -ETIMEDOUT);
    struct iovec iov = {b, sizeof b};
    EQ(gort_readv(sv[0], &iov, 1), -ETIMEDOUT);
    EQ(gort_recvfrom(sv[0], b, sizeof b, 0, NULL, NULL), -ETIMEDOUT);
    TRUEF(now() - t0 < ms(50), "calls after the deadline took %.1f ms", (double)(now() - t0) / 1e6);
    /* the read deadline is not the write deadline */
    EQ(gort_write(sv[0], "w", 1), 1);
    /* cleared: the data is there */
    EQ(gort_set_deadline(sv[0], 0, GORT_DEADLINE_KEEP), 0);
    EQ(gort_read(sv[0], b, sizeof b), 1);
    /* a deadline in the past from the start */
    EQ(gort_set_deadline(sv[0], now() - ms(1), GORT_DEADLINE_KEEP), 0);
    t0 = now();
    EQ(gort_read(sv[0], b, sizeof b), -ETIMEDOUT);
    TRUEF(now() - t0 < ms(20), "a read with a past deadline took %.1f ms", (double)(now() - t0) / 1e6);
    EQ(gort_set_deadline(sv[0], 1, GORT_DEADLINE_KEEP), 0); /* 1 ns: long past */
    EQ(gort_read(sv[0], b, sizeof b), -ETIMEDOUT);
    /* a deadline far ahead does not fire */
    EQ(gort_set_deadline(sv[0], now() + ms(10000), GORT_DEADLINE_KEEP), 0);
    EQ(gort_write(sv[1], "e", 1), 1);
    EQ(gort_read(sv[0], b, sizeof b), 1);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
    /* UDP and a pipe */
    int u = udp_socket(), p[2];
    dl = now() + ms(30);
    EQ(gort_set_deadline(u, dl, 0), 0);
    EQ(gort_recvfrom(u, b, sizeof b, 0, NULL, NULL), -ETIMEDOUT);
    IN_WINDOW(now(), dl);
    EQ(gort_close(u), 0);
    make_pipe(p);
    dl = now() + ms(30);
    EQ(gort_set_deadline(p[0], dl, 0), 0);
    EQ(gort_read(p[0], b, sizeof b), -ETIMEDOUT);
    IN_WINDOW(now(), dl);
    EQ(gort_close(p[0]), 0);
    EQ(gort_close(p[1]), 0);
}

static void test_deadline_read(void **state)
{
    (void)state;
    run_np(deadline_read_body);
}

/* a deadline set while the read is parked applies to it */
static void deadline_pending_body(void *arg)
{
    (void)arg;
    int sv[2];
    unix_pair(sv);
    aop *o = aop_go(OP_READ, sv[0], 8);
    PARKED(o);
    int64_t dl = now() + ms(30);
    EQ(gort_set_deadline(sv[0], dl, GORT_DEADLINE_KEEP), 0);
    AWAIT(o, -ETIMEDOUT);
    IN_WINDOW(o->t1, dl);
    aop_free(o);
    /* far ahead, then moved into the past while parked */
    EQ(gort_set_deadline(sv[0], now() + ms(10000), GORT_DEADLINE_KEEP), 0);
    o = aop_go(OP_READ, sv[0], 8);
    PARKED(o);
    int64_t t = now();
    EQ(gort_set_deadline(sv[0], 1, GORT_DEADLINE_KEEP), 0);
    AWAIT(o, -ETIMEDOUT);
    TRUEF(o->t1 - t < LATE, "a pending read timed out %.1f ms after its deadline was set in the past",
          (double)(o->t1 - t) / 1e6);
    aop_free(o);
    /* extended while parked: not at the old deadline. (If this goroutine
     * got here too late, the old one may have passed already: then a
     * timeout there is right, and nothing can be concluded.) */
    int64_t old_dl = now() + ms(150);
    EQ(gort_set_deadline(sv[0], old_dl, GORT_DEADLINE_KEEP), 0);
    o = aop_go(OP_READ, sv[0], 8);
    PARKED(o);
    int64_t tset = now();
    dl = now() + ms(250);
    EQ(gort_set_deadline(sv[0], dl, GORT_DEADLINE_KEEP), 0);
    AWAIT(o, -ETIMEDOUT);
    if (tset < old_dl - ms(30))
        IN_WINDOW(o->t1, dl);
    else
        fprintf(stderr, "(extended deadline: set %.1f ms before the old one, not checked)\n",
                (double)(old_dl - tset) / 1e6);
    aop_free(o);
    /* cleared while parked: waits for the data */
    old_dl = now() + ms(150);
    EQ(gort_set_deadline(sv[0], old_dl, GORT_DEADLINE_KEEP), 0);
    o = aop_go(OP_READ, sv[0], 8);
    PARKED(o);
    tset = now();
    EQ(gort_set_deadline(sv[0], 0, GORT_DEADLINE_KEEP), 0);
    gort_sleep(ms(200));
    if (tset < old_dl - ms(30))
        TRUEF(!aop_finished(o), "a read whose deadline was cleared returned %zd%s", o->r, ename(o->r));
    if (!aop_finished(o)) {
        EQ(gort_write(sv[1], "ok", 2), 2);
        AWAIT(o, 2);
    } else {
        fprintf(stderr, "(cleared deadline: set %.1f ms before the old one, not checked)\n",
                (double)(old_dl - tset) / 1e6);
        AWAIT(o, -ETIMEDOUT);
    }
    aop_free(o);
    /* an accept, the same way */
    int port, l = listener(&port);
    o = aop_go(OP_ACCEPT, l, 0);
    PARKED(o);
    dl = now() + ms(30);
    EQ(gort_set_deadline(l, dl, GORT_DEADLINE_KEEP), 0);
    AWAIT(o, -ETIMEDOUT);
    IN_WINDOW(o->t1, dl);
    aop_free(o);
    EQ(gort_close(l), 0);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
}

static void test_deadline_pending(void **state)
{
    (void)state;
    run_np(deadline_pending_body);
}

static void deadline_keep_body(void *arg)
{
    (void)arg;
    int sv[2];
    unix_pair(sv);
    char b[8];
    EQ(gort_set_deadline(sv[0], 1, GORT_DEADLINE_KEEP), 0);
    EQ(gort_read(sv[0], b, sizeof b), -ETIMEDOUT);
    /* cleared (0): a read waits again, beyond any old deadline */
    EQ(gort_set_deadline(sv[0], 0, GORT_DEADLINE_KEEP), 0);
    aop *o = aop_go(OP_READ, sv[0], 8);
    gort_sleep(ms(100));
    TRUEF(!aop_finished(o), "a read after clearing the deadline returned %zd%s", o->r, ename(o->r));
    EQ(gort_write(sv[1], "c", 1), 1);
    AWAIT(o, 1);
    aop_free(o);
    /* KEEP leaves the other one as it is */
    EQ(gort_set_deadline(sv[0], 1, 0), 0);                  /* read past, write none */
    EQ(gort_set_deadline(sv[0], GORT_DEADLINE_KEEP, 1), 0); /* write past, read kept */
    EQ(gort_read(sv[0], b, sizeof b), -ETIMEDOUT);
    EQ(gort_write(sv[0], "w", 1), -ETIMEDOUT);
    EQ(gort_set_deadline(sv[0], 0, GORT_DEADLINE_KEEP), 0); /* read cleared, write kept */
    EQ(gort_write(sv[0], "w", 1), -ETIMEDOUT);
    EQ(gort_write(sv[1], "r", 1), 1);
    EQ(gort_read(sv[0], b, sizeof b), 1);
    EQ(gort_set_deadline(sv[0], GORT_DEADLINE_KEEP, 0), 0); /* write cleared */
    EQ(gort_write(sv[0], "w", 1), 1);
    EQ(gort_read(sv[1], b, sizeof b), 1);
    EQ(gort_set_deadline(sv[0], GORT_DEADLINE_KEEP, GORT_DEADLINE_KEEP), 0);
    EQ(gort_set_deadline(sv[0], -5, -100), 0); /* any negative value keeps */
    EQ(gort_write(sv[0], "w", 1), 1);
    EQ(gort_read(sv[1], b, sizeof b), 1);
    /* gort_close forgets the deadlines: a new fd with the same number has none */
    EQ(gort_set_deadline(sv[0], 1, 1), 0);
    int num = sv[0];
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
    unix_pair(sv);
    if (sv[0] == num || sv[1] == num) {
        int a = sv[0] == num ? sv[0] : sv[1], z = a == sv[0] ? sv[1] : sv[0];
        EQ(gort_write(a, "n", 1), 1);
        EQ(gort_write(z, "m", 1), 1);
        EQ(gort_read(a, b, sizeof b), 1);
    }
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
}

static void test_deadline_keep(void **state)
{
    (void)state;
    run_np(deadline_keep_body);
}

static void deadline_write_body(void *arg)
{
    (void)arg;
    int sv[2];
    /* a full buffer: nothing written, -ETIMEDOUT at the deadline */
    unix_pair(sv);
    set_bufs(sv[0], 65536);
    fill(sv[0]);
    int64_t dl = now() + ms(50);
    EQ(gort_set_deadline(sv[0], GORT_DEADLINE_KEEP, dl), 0);
    EQ(gort_write(sv[0], "x", 1), -ETIMEDOUT);
    IN_WINDOW(now(), dl);
    EQ(gort_write(sv[0], "x", 1), -ETIMEDOUT); /* at once now */
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
    /* part written: the count, then -ETIMEDOUT; the peer has exactly the count */
    for (int k = 0; k < 2; k++) {
        int t[2];
        if (k == 0)
            unix_pair(t);
        else
            tcp_pair(t);
        set_bufs(t[0], 65536);
        set_bufs(t[1], 65536);
        size_t n = 4u << 20;
        uint8_t *buf = malloc(n);
        for (size_t i = 0; i < n; i++)
            buf[i] = pat(i);
        dl = now() + ms(50);
        EQ(gort_set_deadline(t[0], GORT_DEADLINE_KEEP, dl), 0);
        ssize_t w = gort_write(t[0], buf, n);
        IN_WINDOW(now(), dl);
        TRUEF(w > 0 && (size_t)w < n, "%s: a write stopped by its deadline = %zd%s, want a partial count",
              k ? "tcp" : "socketpair", w, ename(w));
        EQ(gort_write(t[0], buf, n), -ETIMEDOUT);
        size_t got = 0;
        bool same = true;
        uint8_t *rb = malloc(65536);
        for (;;) { /* until nothing more comes for 50 ms (plain poll: not under test here) */
            struct pollfd pf = {t[1], POLLIN, 0};
            if (poll(&pf, 1, 50) != 1)
                break;
            ssize_t r = recv(t[1], rb, 65536, MSG_DONTWAIT);
            if (r <= 0)
                break;
            for (ssize_t i = 0; i < r; i++)
                same &= rb[i] == pat(got + (size_t)i);
            got += (size_t)r;
        }
        TRUEF(w < 0 || got == (size_t)w, "%s: gort_write said %zd bytes, the peer read %zu", k ? "tcp" : "socketpair",
              w, got);
        TRUE(same);
        free(rb);
        free(buf);
        EQ(gort_close(t[0]), 0);
        EQ(gort_close(t[1]), 0);
    }
}

static void test_deadline_write(void **state)
{
    (void)state;
    run_np(deadline_write_body);
}

static void deadline_accept_connect_body(void *arg)
{
    (void)arg;
    int port, l = listener(&port);
    int64_t dl = now() + ms(50);
    EQ(gort_set_deadline(l, dl, GORT_DEADLINE_KEEP), 0);
    EQ(gort_accept(l, NULL, NULL), -ETIMEDOUT);
    IN_WINDOW(now(), dl);
    EQ(gort_set_deadline(l, 0, GORT_DEADLINE_KEEP), 0);
    /* the write deadline does not bound accept */
    EQ(gort_set_deadline(l, GORT_DEADLINE_KEEP, 1), 0);
    int c = (int)OK(gort_dial_tcp("127.0.0.1", port, ms(1000)));
    int s = (int)OK(gort_accept(l, NULL, NULL));
    EQ(gort_close(s), 0);
    EQ(gort_close(c), 0);
    /* connect: the write deadline */
    int fillers[NFILL], fport, fl = full_listener(&fport, fillers);
    struct sockaddr_in fa = loopback(fport);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    dl = now() + ms(50);
    EQ(gort_set_deadline(c, GORT_DEADLINE_KEEP, dl), 0);
    EQ(gort_connect(c, (struct sockaddr *)&fa, sizeof fa), -ETIMEDOUT);
    IN_WINDOW(now(), dl);
    EQ(gort_close(c), 0);
    /* a parked connect, its deadline set while it waits */
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    aop *o = calloc(1, sizeof *o);
    o->kind = OP_CONNECT;
    o->fd = c;
    memcpy(&o->addr, &fa, sizeof fa);
    o->alen = sizeof fa;
    o->done = gort_chan_make(sizeof(int), 1);
    gort_go(aop_body, o);
    PARKED(o);
    dl = now() + ms(30);
    EQ(gort_set_deadline(c, GORT_DEADLINE_KEEP, dl), 0);
    AWAIT(o, -ETIMEDOUT);
    IN_WINDOW(o->t1, dl);
    aop_free(o);
    EQ(gort_close(c), 0);
    /* the read deadline does not bound connect */
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EQ(gort_set_deadline(c, 1, 0), 0);
    struct sockaddr_in a = loopback(port);
    EQ(gort_connect(c, (struct sockaddr *)&a, sizeof a), 0);
    s = (int)OK(gort_accept(l, NULL, NULL));
    EQ(gort_close(s), 0);
    EQ(gort_close(c), 0);
    EQ(gort_close(l), 0);
    close_all(fillers, NFILL);
    close(fl);
}

static void test_deadline_accept_connect(void **state)
{
    (void)state;
    run_np(deadline_accept_connect_body);
}

/* ==== 5. gort_close while parked ================================================== */

static void close_parked_body(void *arg)
{
    (void)arg;
    int sv[2];
    /* read */
    unix_pair(sv);
    aop *o = aop_go(OP_READ, sv[0], 8);
    PARKED(o);
    int64_t t = now();
    EQ(gort_close(sv[0]), 0);
    AWAIT(o, -EBADF);
    TRUEF(o->t1 - t < LATE, "read woke %.1f ms after gort_close", (double)(o->t1 - t) / 1e6);
    aop_free(o);
    EQ(gort_close(sv[1]), 0);
    /* accept */
    int port, l = listener(&port);
    o = aop_go(OP_ACCEPT, l, 0);
    PARKED(o);
    EQ(gort_close(l), 0);
    AWAIT(o, -EBADF);
    aop_free(o);
    /* write on a full buffer */
    unix_pair(sv);
    set_bufs(sv[0], 65536);
    fill(sv[0]);
    o = aop_go(OP_WRITE, sv[0], 65536);
    PARKED(o);
    EQ(gort_close(sv[0]), 0);
    AWAIT(o, -EBADF);
    aop_free(o);
    EQ(gort_close(sv[1]), 0);
    /* gort_poll_fd, a readv and a recv together on one fd: all wake */
    unix_pair(sv);
    aop *o1 = aop_go(OP_POLLIN, sv[0], 0), *o2 = aop_go(OP_READV, sv[0], 8), *o3 = aop_go(OP_RECV, sv[0], 8);
    PARKED(o1);
    TRUE(!aop_finished(o2) && !aop_finished(o3));
    EQ(gort_close(sv[0]), 0);
    AWAIT(o1, -EBADF);
    AWAIT(o2, -EBADF);
    AWAIT(o3, -EBADF);
    aop_free(o1);
    aop_free(o2);
    aop_free(o3);
    EQ(gort_close(sv[1]), 0);
    /* recvfrom on UDP; read on a pipe */
    int u = udp_socket();
    o = aop_go(OP_RECVFROM, u, 8);
    PARKED(o);
    EQ(gort_close(u), 0);
    AWAIT(o, -EBADF);
    aop_free(o);
    int p[2];
    make_pipe(p);
    o = aop_go(OP_READ, p[0], 8);
    PARKED(o);
    EQ(gort_close(p[0]), 0);
    AWAIT(o, -EBADF);
    aop_free(o);
    EQ(gort_close(p[1]), 0);
    /* a connect */
    int fillers[NFILL], fport, fl = full_listener(&fport, fillers);
    struct sockaddr_in fa = loopback(fport);
    o = calloc(1, sizeof *o);
    o->kind = OP_CONNECT;
    o->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memcpy(&o->addr, &fa, sizeof fa);
    o->alen = sizeof fa;
    o->done = gort_chan_make(sizeof(int), 1);
    gort_go(aop_body, o);
    PARKED(o);
    EQ(gort_close(o->fd), 0);
    AWAIT(o, -EBADF);
    aop_free(o);
    close_all(fillers, NFILL);
    close(fl);
    /* the fd number, reused at once, is not read by the old reader */
    unix_pair(sv);
    o = aop_go(OP_READ, sv[0], 8);
    PARKED(o);
    int old = sv[0];
    EQ(gort_close(sv[0]), 0);
    int nv[2];
    unix_pair(nv);
    EQ(gort_write(nv[1], "new", 3), 3);
    EQ(gort_write(nv[0], "NEW", 3), 3);
    AWAIT(o, -EBADF);
    char b[8];
    EQ(gort_read(nv[0], b, sizeof b), 3);
    EQ(gort_read(nv[1], b, sizeof b), 3);
    (void)old;
    aop_free(o);
    EQ(gort_close(nv[0]), 0);
    EQ(gort_close(nv[1]), 0);
    EQ(gort_close(sv[1]), 0);
}

static void test_close_parked(void **state)
{
    (void)state;
    run_np(close_parked_body);
}

/* 1000 times: a fresh socketpair (or listener), a parked reader (acceptor),
 * gort_close: -EBADF, 0, and the process's fd count stays bounded */
typedef struct looper {
    int fd, kind;
    gort_chan_t *started, *done;
} looper;

static void loop_reader(void *arg)
{
    looper *lp = arg;
    int one = 1;
    char b[8];
    gort_chan_send(lp->started, &one);
    ssize_t r = lp->kind ? gort_accept(lp->fd, NULL, NULL) : gort_read(lp->fd, b, sizeof b);
    gort_chan_send(lp->done, &r);
}

static void close_loop_body(void *arg)
{
    (void)arg;
    int base = fd_count(), most = base;
    looper lp = {.started = gort_chan_make(sizeof(int), 1), .done = gort_chan_make(sizeof(ssize_t), 1)};
    int bad = 0;
    for (int i = 0; i < 1000 && !bad; i++) {
        int sv[2] = {-1, -1}, port;
        lp.kind = i % 4 == 3;
        if (lp.kind)
            lp.fd = high_fd(listener(&port)); /* the reader may call in after the close: high_fd */
        else {
            unix_pair(sv);
            lp.fd = sv[0] = high_fd(sv[0]);
        }
        gort_go(loop_reader, &lp);
        int x;
        gort_chan_recv(lp.started, &x);
        gort_sleep(i % 2 ? 100000 : 0);
        int c = gort_close(lp.fd);
        if (c != 0) {
            FAILF("iteration %d: gort_close = %d%s", i, c, ename(c));
            bad = 1;
        }
        ssize_t r;
        gort_chan_t *t = gort_after(ms(1000));
        gort_select_case_t cs[2] = {{.chan = lp.done, .dir = GORT_SELECT_RECV, .elem = &r},
                                    {.chan = t, .dir = GORT_SELECT_RECV}};
        int w = gort_select(cs, 2, true);
        gort_chan_free(t);
        if (w != 0) {
            FAILF("iteration %d: %s still parked 1 s after gort_close", i, lp.kind ? "accept" : "read");
            return; /* leaks */
        }
        if (r != -EBADF) {
            FAILF("iteration %d: %s = %zd%s after gort_close, want -EBADF", i, lp.kind ? "accept" : "read", r,
                  ename(r));
            bad = 1;
        }
        if (sv[1] >= 0)
            EQ(gort_close(sv[1]), 0);
        if (i % 50 == 0) {
            int n = fd_count();
            if (n > most)
                most = n;
        }
    }
    int64_t t0 = now();
    int n;
    while ((n = fd_count()) > base + 4 && now() - t0 < ms(1000))
        gort_sleep(ms(10));
    TRUEF(n <= base + 4, "fd count %d after 1000 closes, %d before", n, base);
    TRUEF(most <= base + 32, "fd count reached %d during the loop, %d before", most, base);
    gort_chan_free(lp.started);
    gort_chan_free(lp.done);
}

static void test_close_loop(void **state)
{
    (void)state;
    run_np(close_loop_body);
}

/* two readers on one fd: each byte wakes one, none is lost; a reader and a
 * writer on one fd at once (full duplex) */
static void two_readers_body(void *arg)
{
    (void)arg;
    int sv[2];
    unix_pair(sv);
    aop *a = aop_go(OP_READ, sv[0], 1), *b = aop_go(OP_READ, sv[0], 1);
    PARKED(a);
    TRUE(!aop_finished(b));
    EQ(gort_write(sv[1], "1", 1), 1);
    gort_sleep(ms(20));
    int n = aop_finished(a) + aop_finished(b);
    EQ(n, 1);
    EQ(gort_write(sv[1], "2", 1), 1);
    AWAIT(a, 1);
    AWAIT(b, 1);
    TRUE((*(char *)a->buf == '1' && *(char *)b->buf == '2') || (*(char *)a->buf == '2' && *(char *)b->buf == '1'));
    aop_free(a);
    aop_free(b);
    /* duplex: a read parked on sv[0] does not hold up writes on sv[0] */
    aop *r = aop_go(OP_READ, sv[0], 8);
    PARKED(r);
    for (int i = 0; i < 100; i++) {
        char c;
        EQ(gort_write(sv[0], "w", 1), 1);
        EQ(gort_read(sv[1], &c, 1), 1);
    }
    TRUE(!aop_finished(r));
    EQ(gort_write(sv[1], "in", 2), 2);
    AWAIT(r, 2);
    aop_free(r);
    /* and a write parked on sv[0] does not hold up reads on sv[0] */
    set_bufs(sv[0], 65536);
    size_t filled = fill(sv[0]);
    aop *w = aop_go(OP_WRITE, sv[0], 1000);
    PARKED(w);
    char c;
    EQ(gort_write(sv[1], "r", 1), 1);
    EQ(gort_read(sv[0], &c, 1), 1);
    TRUE(!aop_finished(w));
    /* drain: the write goes */
    char *junk = malloc(1 << 16);
    size_t got = 0;
    while (got < filled + 1000) {
        ssize_t k = gort_read(sv[1], junk, 1 << 16);
        if (k <= 0) {
            EQ(k, 1);
            break;
        }
        got += (size_t)k;
    }
    free(junk);
    AWAIT(w, 1000);
    aop_free(w);
    EQ(gort_close(sv[0]), 0);
    EQ(gort_close(sv[1]), 0);
}

static void test_two_readers_duplex(void **state)
{
    (void)state;
    run_np(two_readers_body);
}

/* gort_close against calls that make their system calls on the
 * goroutine's own thread and so never park in the fd's op list: the
 * fstat that learns the fd's type, a regular-file pread or pwrite
 * (io_uring: RWF_NOWAIT), a read at the file offset, a pipe write, a
 * socket read with data waiting and a send with room (epoll), a
 * gort_poll_fd that does not wait. Four goroutines loop on one call each
 * while the test goroutine closes the fd. Every call must be over before
 * the close(2): ThreadSanitizer, which models fds, reports one that is
 * not ordered before it as a data race on the fd (netpoll.close_loop
 * caught an fstat from io_uring's try that way). Each result must be one
 * of the old file, or -EBADF. */
enum { CR_FILE, CR_PIPE, CR_SOCK, CR_NKINDS };
enum { CR_PREAD, CR_PWRITE, CR_READ, CR_POLL, CR_WRITE, CR_RECV, CR_SEND };
#define CR_WORKERS 4
#define CR_BURST 64 /* calls between yields */

typedef struct crworker {
    int fd, call;
    uint32_t *stop, *entered; /* entered: a first call is about to begin */
    gort_chan_t *going, *done; /* going: after the first call */
} crworker;

static bool all_a(const char *b, ssize_t n)
{
    for (ssize_t i = 0; i < n; i++)
        if (b[i] != 'A')
            return false;
    return true;
}

static void cr_worker(void *arg)
{
    crworker *w = arg;
    char b[64];
    memset(b, 'A', sizeof b);
    int bad = 0;
    bool counted = false;
    __atomic_fetch_add(w->entered, 1, __ATOMIC_SEQ_CST);
    for (uint32_t n = 1; !__atomic_load_n(w->stop, __ATOMIC_SEQ_CST); n++) {
        ssize_t r;
        bool good;
        switch (w->call) {
        case CR_PREAD:
            r = gort_pread(w->fd, b, sizeof b, 0);
            good = r == (ssize_t)sizeof b && all_a(b, r);
            break;
        case CR_PWRITE:
            r = gort_pwrite(w->fd, "AAAAAAAA", 8, 8); /* the file stays all 'A' */
            good = r == 8;
            break;
        case CR_READ:
            r = gort_read(w->fd, b, sizeof b);
            good = r >= 0 && all_a(b, r);
            break;
        case CR_POLL:
            r = gort_poll_fd(w->fd, POLLIN, 0);
            good = r >= 0 && !(r & POLLNVAL);
            if (r > 0 && (r & POLLNVAL))
                r = -EBADF; /* closed */
            break;
        case CR_WRITE:
            r = gort_write(w->fd, "A", 1);
            good = r == 1;
            break;
        case CR_RECV:
            r = gort_recv(w->fd, b, 1, 0);
            good = r == 1 && b[0] == 'A';
            break;
        default: /* CR_SEND */
            r = gort_send(w->fd, "A", 1, 0);
            good = r == 1;
            break;
        }
        if (r == -EBADF)
            break;
        if (!good) {
            FAILF("call %d on fd %d = %zd%s: not a result of the open file, nor -EBADF", w->call, w->fd, r, ename(r));
            bad = 1;
            break;
        }
        if (!counted) {
            counted = true;
            gort_chan_send(w->going, &bad);
        }
        /* Four goroutines that never park, on as few as 2 Ps, would keep
         * the test goroutine and its timers waiting for preemption (up to
         * seconds, measured); a yield after every call would order most
         * calls before the close through the scheduler, and hide from
         * ThreadSanitizer the calls that are not. */
        if (n % CR_BURST == 0)
            gort_yield();
    }
    if (!counted)
        gort_chan_send(w->going, &bad);
    gort_chan_send(w->done, &bad);
}

/* the pipe's other end, read until EOF */
static void cr_drain(void *arg)
{
    crworker *w = arg;
    char b[4096];
    ssize_t r;
    while ((r = gort_read(w->fd, b, sizeof b)) > 0)
        ;
    if (r != 0)
        FAILF("drain: read = %zd%s, want EOF", r, ename(r));
    int bad = r != 0;
    gort_chan_send(w->done, &bad);
}

static void close_direct_body(void *arg)
{
    (void)arg;
    static const int calls[CR_NKINDS][CR_WORKERS] = {
        [CR_FILE] = {CR_PREAD, CR_PWRITE, CR_READ, CR_POLL},
        [CR_PIPE] = {CR_WRITE, CR_WRITE, CR_POLL, CR_WRITE},
        [CR_SOCK] = {CR_RECV, CR_SEND, CR_POLL, CR_RECV},
    };
    char *fill_a = malloc(1 << 16);
    memset(fill_a, 'A', 1 << 16);
    gort_chan_t *done = gort_chan_make(sizeof(int), CR_WORKERS + 1);
    gort_chan_t *going = gort_chan_make(sizeof(int), CR_WORKERS);
    int bad = 0;
    for (int i = 0; i < 600 && !bad; i++) {
        int kind = i % CR_NKINDS, other = -1, fd = -1;
        if (kind == CR_FILE) {
            if ((fd = temp_fd()) < 0)
                break;
            if (write(fd, fill_a, 4096) != 4096)
                FAILF("write: %s", strerror(errno));
            lseek(fd, 0, SEEK_SET);
        } else if (kind == CR_PIPE) {
            int p[2];
            make_pipe(p);
            fd = p[1];
            other = p[0];
        } else {
            int sv[2];
            unix_pair(sv);
            set_bufs(sv[0], 1 << 18);
            set_bufs(sv[1], 1 << 18);
            if (send(sv[1], fill_a, 1 << 16, MSG_DONTWAIT) != 1 << 16) /* for the recvs */
                FAILF("send: %s", strerror(errno));
            fd = sv[0];
            other = sv[1];
        }
        fd = high_fd(fd); /* callers may come in after the close */
        uint32_t stop = 0, entered = 0;
        crworker w[CR_WORKERS + 1];
        int nw = CR_WORKERS;
        for (int k = 0; k < CR_WORKERS; k++) {
            w[k] = (crworker){
                .fd = fd, .call = calls[kind][k], .stop = &stop, .entered = &entered, .going = going, .done = done};
            gort_go(cr_worker, &w[k]);
        }
        if (kind == CR_PIPE) {
            w[nw] = (crworker){.fd = other, .done = done};
            gort_go(cr_drain, &w[nw++]);
        }
        /* Close while they loop, or (odd i) as they make their first calls,
         * the ones that fstat the fd (ThreadSanitizer models fstat and
         * read as accesses to the fd, but not preadv2 and pwritev2). */
        bool early = i % 2;
        for (int k = 0; k < CR_WORKERS && !early; k++) {
            int b;
            gort_chan_recv(going, &b);
        }
        while (early && __atomic_load_n(&entered, __ATOMIC_SEQ_CST) == 0)
            gort_yield();
        if (i % 4 == 2)
            gort_sleep(20000);
        int c = gort_close(fd);
        if (c != 0) {
            FAILF("iteration %d: gort_close = %d%s", i, c, ename(c));
            bad = 1;
        }
        __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
        for (int k = 0; k < nw; k++) {
            int b = 0;
            gort_chan_t *t = gort_after(ms(5000));
            gort_select_case_t cs[2] = {{.chan = done, .dir = GORT_SELECT_RECV, .elem = &b},
                                        {.chan = t, .dir = GORT_SELECT_RECV}};
            int which = gort_select(cs, 2, true);
            gort_chan_free(t);
            if (which != 0) {
                FAILF("iteration %d (kind %d): a caller still running 5 s after gort_close", i, kind);
                return; /* leaks */
            }
            bad |= b;
        }
        for (int k = 0; k < CR_WORKERS && early; k++) {
            int b;
            gort_chan_recv(going, &b);
        }
        if (other >= 0)
            EQ(gort_close(other), 0);
    }
    gort_chan_free(done);
    gort_chan_free(going);
    free(fill_a);
}

static void test_close_direct(void **state)
{
    (void)state;
    run_np(close_direct_body);
}

/* A write that began before gort_close never reaches the file that gets
 * the number after it. The write goes in many steps: a gort_write of
 * 1 MiB into a pipe of 4 KiB or a socket with small buffers, drained by
 * another goroutine; a gort_writev of 1024 iovecs of 4 KiB into a regular
 * file (16 batches, none of which parks). Once its first bytes arrived
 * the call is surely running, and the test closes the fd and at once puts
 * an empty regular file at the same number (dup2). What the write still
 * does after the close must fail: the new file stays empty, and the old
 * one got exactly the count the write returned. */
enum { RU_PIPE, RU_SOCK, RU_FILE, RU_NKINDS };
#define RU_IOVS 1024

typedef struct staler {
    int fd;
    size_t len;
    const char *buf;
    const struct iovec *iov; /* writev, when set */
    uint64_t drained;
    gort_chan_t *done;
} staler;

static void stale_writer(void *arg)
{
    staler *s = arg;
    ssize_t r = s->iov != NULL ? gort_writev(s->fd, s->iov, RU_IOVS) : gort_write(s->fd, s->buf, s->len);
    gort_chan_send(s->done, &r);
}

static void stale_drain(void *arg)
{
    staler *s = arg;
    char b[4096];
    ssize_t r;
    while ((r = gort_read(s->fd, b, sizeof b)) > 0)
        __atomic_fetch_add(&s->drained, (uint64_t)r, __ATOMIC_SEQ_CST);
    gort_chan_send(s->done, &r);
}

static bool recv_ssize(gort_chan_t *c, ssize_t *v)
{
    gort_chan_t *t = gort_after(ms(5000));
    gort_select_case_t cs[2] = {{.chan = c, .dir = GORT_SELECT_RECV, .elem = v},
                                {.chan = t, .dir = GORT_SELECT_RECV}};
    int i = gort_select(cs, 2, true);
    gort_chan_free(t);
    return i == 0;
}

static uint64_t fsize(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void close_reuse_body(void *arg)
{
    (void)arg;
    static const char *const names[RU_NKINDS] = {"pipe", "socket", "regular file"};
    const size_t len = 1 << 20;
    char *buf = malloc((size_t)RU_IOVS * 4096);
    memset(buf, 'A', (size_t)RU_IOVS * 4096);
    struct iovec *iov = malloc(RU_IOVS * sizeof *iov);
    for (int k = 0; k < RU_IOVS; k++)
        iov[k] = (struct iovec){.iov_base = buf + (size_t)k * 4096, .iov_len = 4096};
    gort_chan_t *wdone = gort_chan_make(sizeof(ssize_t), 1), *ddone = gort_chan_make(sizeof(ssize_t), 1);
    int nf = temp_fd(); /* the new file */
    if (nf < 0)
        return;
    int cut[RU_NKINDS] = {0};
    for (int i = 0; i < 150; i++) {
        int kind = i % RU_NKINDS, ends[2]; /* [0] written, [1] read (a file: a second fd) */
        if (kind == RU_PIPE) {
            int p[2];
            make_pipe(p);
            fcntl(p[1], F_SETPIPE_SZ, 4096);
            ends[0] = p[1];
            ends[1] = p[0];
        } else if (kind == RU_SOCK) {
            unix_pair(ends);
            set_bufs(ends[0], 4096);
            set_bufs(ends[1], 4096);
        } else {
            if ((ends[0] = temp_fd()) < 0)
                break;
            ends[1] = dup(ends[0]);
        }
        int x = ends[0] = high_fd(ends[0]);
        staler w = {.fd = x, .len = len, .buf = buf, .iov = kind == RU_FILE ? iov : NULL, .done = wdone};
        staler d = {.fd = ends[1], .done = ddone};
        if (kind != RU_FILE)
            gort_go(stale_drain, &d);
        gort_go(stale_writer, &w);
        int64_t t0 = now();
        while ((kind == RU_FILE ? fsize(ends[1]) : __atomic_load_n(&d.drained, __ATOMIC_SEQ_CST)) == 0 &&
               now() - t0 < ms(5000))
            gort_yield();
        if (i % 4 == 1)
            gort_sleep(20000);
        EQ(gort_close(x), 0);
        int y = dup2(nf, x); /* the new file gets the number at once */
        if (y != x)
            FAILF("dup2 = %d (%s), want %d", y, strerror(errno), x);
        ssize_t wr = 0, dr = 0;
        if (!recv_ssize(wdone, &wr) || (kind != RU_FILE && !recv_ssize(ddone, &dr))) {
            FAILF("iteration %d (%s): still running 5 s after gort_close", i, names[kind]);
            return; /* leaks */
        }
        uint64_t got = kind == RU_FILE ? fsize(ends[1]) : __atomic_load_n(&d.drained, __ATOMIC_SEQ_CST);
        uint64_t stale = fsize(nf);
        if (stale != 0) {
            FAILF("iteration %d (%s): the write that began before gort_close put %llu bytes into the file that "
                  "got the number after it",
                  i, names[kind], (unsigned long long)stale);
            break;
        }
        if (wr <= 0 || (uint64_t)wr != got)
            FAILF("iteration %d (%s): the write = %zd%s, the old file got %llu", i, names[kind], wr, ename(wr),
                  (unsigned long long)got);
        EQ(dr, 0);
        cut[kind] += (size_t)wr < (kind == RU_FILE ? (size_t)RU_IOVS * 4096 : len);
        close(x); /* the new file's second number */
        if (kind == RU_FILE)
            close(ends[1]);
        else
            EQ(gort_close(ends[1]), 0);
    }
    if (getenv("GORT_TEST_VERBOSE"))
        fprintf(stderr, "close_reuse: writes cut short by the close: %d of 50 (pipe), %d (socket), %d (file)\n",
                cut[RU_PIPE], cut[RU_SOCK], cut[RU_FILE]);
    close(nf);
    gort_chan_free(wdone);
    gort_chan_free(ddone);
    free(iov);
    free(buf);
}

static void test_close_reuse(void **state)
{
    (void)state;
    run_np(close_reuse_body);
}

/* ==== 9. GOMAXPROCS changes while 100 goroutines ping-pong ===================== */

#define NPAIRS 50
#define ROUNDS 300

typedef struct pp {
    int fd;
    bool pinger;
    uint32_t last;
    int failed;
} pp;

static int pp_done;
static gort_waitgroup_t pp_wg;

static bool rd_full(int fd, void *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = gort_read(fd, (char *)b + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void pingpong(void *arg)
{
    pp *p = arg;
    for (uint32_t i = 0; i < ROUNDS; i++) {
        uint32_t v;
        if (p->pinger) {
            v = 2 * i;
            if (gort_write(p->fd, &v, 4) != 4 || !rd_full(p->fd, &v, 4) || v != 2 * i + 1) {
                p->failed = (int)i + 1;
                break;
            }
        } else {
            if (!rd_full(p->fd, &v, 4) || v != 2 * i) {
                p->failed = (int)i + 1;
                break;
            }
            v++;
            if (gort_write(p->fd, &v, 4) != 4) {
                p->failed = (int)i + 1;
                break;
            }
        }
        p->last = i;
    }
    __atomic_fetch_add(&pp_done, 1, __ATOMIC_SEQ_CST);
    gort_wg_done(&pp_wg);
}

static void maxprocs_body(void *arg)
{
    (void)arg;
    int old = gort_maxprocs(0);
    static pp ps[2 * NPAIRS];
    static int fds[NPAIRS][2];
    gort_wg_add(&pp_wg, 2 * NPAIRS);
    for (int i = 0; i < NPAIRS; i++) {
        if (i % 2)
            unix_pair(fds[i]);
        else
            tcp_pair(fds[i]);
        ps[2 * i] = (pp){.fd = fds[i][0], .pinger = true};
        ps[2 * i + 1] = (pp){.fd = fds[i][1], .pinger = false};
        gort_go(pingpong, &ps[2 * i]);
        gort_go(pingpong, &ps[2 * i + 1]);
    }
    int64_t t0 = now();
    int changes = 0;
    while (__atomic_load_n(&pp_done, __ATOMIC_SEQ_CST) < 2 * NPAIRS && now() - t0 < ms(20000)) {
        gort_maxprocs(changes % 2 ? 1 : 2);
        changes++;
        gort_sleep(500000);
    }
    int done = __atomic_load_n(&pp_done, __ATOMIC_SEQ_CST);
    TRUEF(done == 2 * NPAIRS, "%d of %d ping-pong goroutines finished in 20 s (%d GOMAXPROCS changes)", done,
          2 * NPAIRS, changes);
    if (done != 2 * NPAIRS)
        return;
    gort_wg_wait(&pp_wg);
    for (int i = 0; i < 2 * NPAIRS; i++)
        TRUEF(!ps[i].failed && ps[i].last == ROUNDS - 1, "goroutine %d (%s) failed at round %d", i,
              ps[i].pinger ? "ping" : "pong", ps[i].failed - 1);
    TRUEF(changes >= 2, "only %d GOMAXPROCS changes", changes);
    for (int i = 0; i < NPAIRS; i++) {
        EQ(gort_close(fds[i][0]), 0);
        EQ(gort_close(fds[i][1]), 0);
    }
    gort_maxprocs(old);
}

static void test_maxprocs_pingpong(void **state)
{
    (void)state;
    run_np(maxprocs_body);
}

/* ==== 8. calls from a thread that is not a goroutine ============================ */

static int late_fd;
static void *late_writer(void *arg)
{
    (void)arg;
    usleep(50000);
    if (write(late_fd, "late", 4) != 4)
        return NULL;
    return NULL;
}

static void *foreign_body(void *arg)
{
    (void)arg;
    TRUE(gort_goid() == 0);
    char b[16];
    errno = 777;
    EQ(gort_read(-1, b, 1), -EBADF);
    EQ(errno, 777);
    int sv[2];
    unix_pair(sv);
    EQ(gort_write(sv[0], "plain", 5), 5);
    EQ(gort_read(sv[1], b, sizeof b), 5);
    EQ(gort_send(sv[1], "s", 1, 0), 1);
    EQ(gort_recv(sv[0], b, sizeof b, 0), 1);
    struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
    EQ(gort_writev(sv[0], iov, 2), 4);
    struct iovec riov = {b, sizeof b};
    EQ(gort_readv(sv[1], &riov, 1), 4);
    /* a read that blocks this thread until another thread writes */
    late_fd = sv[0];
    pthread_t w;
    pthread_create(&w, NULL, late_writer, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EQ(gort_read(sv[1], b, sizeof b), 4);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(w, NULL);
    double el = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    TRUEF(el > 30, "a blocking read on a foreign thread returned after %.1f ms", el);
    /* poll */
    EQ(gort_poll_fd(sv[1], POLLIN, 0), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EQ(gort_poll_fd(sv[1], POLLIN, ms(30)), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    el = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    TRUEF(el >= 29, "gort_poll_fd(30 ms) on a foreign thread returned after %.1f ms", el);
    int r = gort_poll_fd(sv[1], POLLOUT, 0);
    TRUEF(r > 0 && (r & POLLOUT), "foreign gort_poll_fd(POLLOUT) = %d", r);
    /* peer gone */
    EQ(gort_close(sv[0]), 0);
    EQ(gort_read(sv[1], b, sizeof b), 0);
    ssize_t wr = gort_write(sv[1], "x", 1);
    TRUEF(wr == -EPIPE, "foreign write to a closed peer = %zd%s", wr, ename(wr));
    EQ(gort_close(sv[1]), 0);
    EQ(gort_close(sv[1]), -EBADF);
    /* TCP */
    int l = gort_listen_tcp("127.0.0.1", 0, 0);
    TRUE(l >= 0);
    int port = port_of(l);
    int c = gort_dial_tcp("127.0.0.1", port, ms(1000));
    TRUE(c >= 0);
    struct sockaddr_in pa;
    socklen_t pl = sizeof pa;
    int s = gort_accept(l, (struct sockaddr *)&pa, &pl);
    TRUE(s >= 0);
    EQ(pl, sizeof pa);
    EQ(gort_write(c, "tcp", 3), 3);
    EQ(gort_read(s, b, sizeof b), 3);
    int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(port);
    EQ(gort_connect(c2, (struct sockaddr *)&a, sizeof a), 0);
    int s2 = gort_accept(l, NULL, NULL);
    TRUE(s2 >= 0);
    int holder, rport = refusing_port(&holder);
    struct sockaddr_in ra = loopback(rport);
    int c3 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EQ(gort_connect(c3, (struct sockaddr *)&ra, sizeof ra), -ECONNREFUSED);
    EQ(gort_dial_tcp("127.0.0.1", rport, 0), -ECONNREFUSED);
    EQ(gort_dial_tcp("no-such-host.invalid", 1, 0), -EINVAL);
    EQ(gort_listen_tcp("no-such-host.invalid", 0, 0), -EINVAL);
    int fds[] = {l, c, s, c2, s2, c3};
    for (int i = 0; i < 6; i++)
        EQ(gort_close(fds[i]), 0);
    close(holder);
    /* UDP */
    int u1 = udp_socket(), u2 = udp_socket();
    struct sockaddr_in a2 = loopback(port_of(u2));
    EQ(gort_sendto(u1, "udp", 3, 0, (struct sockaddr *)&a2, sizeof a2), 3);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    EQ(gort_recvfrom(u2, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 3);
    EQ(ntohs(from.sin_port), port_of(u1));
    EQ(gort_close(u1), 0);
    EQ(gort_close(u2), 0);
    /* a file */
    FILE *f = tmpfile();
    EQ(gort_pwrite(fileno(f), "file", 4, 10), 4);
    EQ(gort_pread(fileno(f), b, 4, 10), 4);
    TRUE(!memcmp(b, "file", 4));
    fclose(f);
    return NULL;
}

static void boot(void *arg) { (void)arg; }

static void check_foreign(void)
{
    if (__atomic_load_n(&check_nfail, __ATOMIC_SEQ_CST) != 0)
        fail_msg("%s", check_failed);
}

/* a counting SIGPIPE handler around the calls: a write to a gone peer
 * raises none on sockets */
static void foreign_run(bool thread)
{
    struct sigaction sa = {.sa_handler = count_sigpipe}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, &old);
    if (thread) {
        pthread_t t;
        pthread_create(&t, NULL, foreign_body, NULL);
        pthread_join(t, NULL);
    } else {
        foreign_body(NULL);
    }
    sigaction(SIGPIPE, &old, NULL);
    int n = __atomic_load_n(&sigpipes, __ATOMIC_SEQ_CST);
    if (n)
        FAILF("%d SIGPIPEs raised by writes on sockets", n);
    check_foreign();
}

/* from a pthread, with the runtime running */
static void test_foreign_thread(void **state)
{
    (void)state;
    run_np(boot);
    foreign_run(true);
}

/* on the main thread before the runtime runs */
static void test_before_runtime(void **state)
{
    (void)state;
    start_watchdog();
    foreign_run(false);
    run_np(boot); /* and the runtime still starts after */
}

/* ==== 10. signals to channels ===================================================== */

/* Send sig to this process. Under ThreadSanitizer a signal's handler runs
 * only when the thread it landed on next calls an intercepted function,
 * so a signal sent to the whole process may wait for ever on a thread
 * asleep in a raw system call (an idle M in futex, the poller in
 * io_uring_enter): there the signal goes to the calling thread (raise),
 * whose handler TSan runs at once. */
static int sig_self(int sig)
{
#ifdef GORT_TSAN
    return raise(sig);
#else
    return kill(getpid(), sig);
#endif
}

static bool recv_int(gort_chan_t *c, int *v, int64_t ns)
{
    gort_chan_t *t = gort_after(ns);
    gort_select_case_t cs[2] = {{.chan = c, .dir = GORT_SELECT_RECV, .elem = v},
                                {.chan = t, .dir = GORT_SELECT_RECV}};
    int i = gort_select(cs, 2, true);
    gort_chan_free(t);
    return i == 0;
}

static void *kill_usr1(void *arg)
{
    (void)arg;
    usleep(20000);
    sig_self(SIGUSR1);
    return NULL;
}

static void signal_notify_body(void *arg)
{
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(int), 4);
    EQ(gort_signal_notify(c, SIGUSR1), 0);
    for (int k = 0; k < 3; k++) {
        EQ(sig_self(SIGUSR1), 0);
        int v = -1;
        TRUEF(recv_int(c, &v, ms(2000)), "SIGUSR1 %d: nothing on the channel in 2 s", k);
        EQ(v, SIGUSR1);
        EQ(v, 10);
    }
    /* a goroutine parked on the channel; the signal sent by another thread */
    aop *o = calloc(1, sizeof *o);
    o->kind = OP_CHANRECV;
    o->ch = c;
    o->done = gort_chan_make(sizeof(int), 1);
    gort_go(aop_body, o);
    PARKED(o);
    pthread_t t;
    pthread_create(&t, NULL, kill_usr1, NULL);
    if (aop_wait(o, ms(2000))) {
        EQ(o->r, 1);
        EQ(o->val, SIGUSR1);
        gort_chan_free(o->done);
        free(o);
    } else {
        FAILF("a goroutine parked on the channel got nothing 2 s after SIGUSR1 from another thread");
    }
    pthread_join(t, NULL);
    /* raise() on this thread, and a second channel for the same signal */
    gort_chan_t *c2 = gort_chan_make(sizeof(int), 4);
    EQ(gort_signal_notify(c2, SIGUSR1), 0);
    EQ(raise(SIGUSR1), 0);
    int v1 = -1, v2 = -1;
    TRUEF(recv_int(c, &v1, ms(2000)), "raise(SIGUSR1): nothing on the first channel");
    TRUEF(recv_int(c2, &v2, ms(2000)), "raise(SIGUSR1): nothing on the second channel");
    EQ(v1, SIGUSR1);
    EQ(v2, SIGUSR1);
    /* another signal on the same channel */
    EQ(gort_signal_notify(c, SIGUSR2), 0);
    EQ(sig_self(SIGUSR2), 0);
    TRUEF(recv_int(c, &v1, ms(2000)), "SIGUSR2: nothing on the channel");
    EQ(v1, SIGUSR2);
    gort_sleep(ms(20));
    EQ(gort_chan_len(c2), 0); /* c2 watches SIGUSR1 only */
}

static void test_signal_notify(void **state)
{
    (void)state;
    run_np(signal_notify_body);
}

static void signal_stop_body(void *arg)
{
    (void)arg;
    gort_chan_t *c1 = gort_chan_make(sizeof(int), 4), *c2 = gort_chan_make(sizeof(int), 4);
    EQ(gort_signal_notify(c1, SIGUSR1), 0);
    EQ(gort_signal_notify(c2, SIGUSR1), 0);
    EQ(sig_self(SIGUSR1), 0);
    int v;
    TRUE(recv_int(c1, &v, ms(2000)));
    TRUE(recv_int(c2, &v, ms(2000)));
    gort_signal_stop(c1);
    for (int k = 0; k < 3; k++) {
        EQ(sig_self(SIGUSR1), 0);
        TRUEF(recv_int(c2, &v, ms(2000)), "c2 got nothing after stopping c1");
    }
    gort_sleep(ms(50));
    EQ(gort_chan_len(c1), 0);
    /* notify again: delivery resumes */
    EQ(gort_signal_notify(c1, SIGUSR1), 0);
    EQ(sig_self(SIGUSR1), 0);
    TRUEF(recv_int(c1, &v, ms(2000)), "c1 got nothing after a new gort_signal_notify");
    TRUE(recv_int(c2, &v, ms(2000)));
    /* stop of a channel that watches nothing is harmless */
    gort_chan_t *c3 = gort_chan_make(sizeof(int), 1);
    gort_signal_stop(c3);
    gort_chan_free(c3);
}

static void test_signal_stop(void **state)
{
    (void)state;
    run_np(signal_stop_body);
}

static void signal_invalid_body(void *arg)
{
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(int), 1);
    int bad[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGURG, SIGPROF, 0, -1, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = gort_signal_notify(c, bad[i]);
        TRUEF(r == -EINVAL, "gort_signal_notify(c, %d) = %d%s, want -EINVAL", bad[i], r, ename(r));
    }
    EQ(gort_signal_notify(c, SIGUSR2), 0);
    EQ(gort_signal_notify(c, SIGHUP), 0);
    gort_signal_stop(c);
}

static void test_signal_invalid(void **state)
{
    (void)state;
    run_np(signal_invalid_body);
}

/* SIGINT and SIGTERM no longer end the process once notified */
static void signal_sigint_body(void *arg)
{
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(int), 4);
    EQ(gort_signal_notify(c, SIGINT), 0);
    EQ(gort_signal_notify(c, SIGTERM), 0);
    int v = -1;
    EQ(sig_self(SIGINT), 0);
    TRUEF(recv_int(c, &v, ms(2000)), "SIGINT: nothing on the channel");
    EQ(v, SIGINT);
    EQ(sig_self(SIGTERM), 0);
    TRUEF(recv_int(c, &v, ms(2000)), "SIGTERM: nothing on the channel");
    EQ(v, SIGTERM);
}

static void test_signal_sigint(void **state)
{
    (void)state;
    run_np(signal_sigint_body);
}

/* a full channel drops its signal; the others still get theirs */
static void signal_full_body(void *arg)
{
    (void)arg;
    gort_chan_t *full = gort_chan_make(sizeof(int), 1), *c = gort_chan_make(sizeof(int), 4);
    EQ(gort_signal_notify(full, SIGUSR1), 0);
    EQ(gort_signal_notify(c, SIGUSR1), 0);
    int v;
    for (int k = 0; k < 5; k++) {
        EQ(sig_self(SIGUSR1), 0);
        TRUEF(recv_int(c, &v, ms(2000)), "signal %d: nothing on the channel next to a full one", k);
    }
    EQ(gort_chan_len(full), 1);
    TRUE(recv_int(full, &v, ms(10)) && v == SIGUSR1);
    EQ(sig_self(SIGUSR1), 0);
    TRUEF(recv_int(full, &v, ms(2000)), "the emptied channel gets signals again");
    TRUE(recv_int(c, &v, ms(2000)));
    /* an unbuffered channel nobody receives on: dropped, no hang */
    gort_chan_t *unbuf = gort_chan_make(sizeof(int), 0);
    EQ(gort_signal_notify(unbuf, SIGUSR1), 0);
    EQ(sig_self(SIGUSR1), 0);
    TRUEF(recv_int(c, &v, ms(2000)), "nothing next to an unbuffered channel");
    gort_signal_stop(unbuf);
}

static void test_signal_full_chan(void **state)
{
    (void)state;
    run_np(signal_full_body);
}

/* ==== 11. timers re-armed while the timer watcher polls ======================== */

/* While goroutines wait on I/O the timer watcher sleeps in the poller
 * (proc.c, stopm_timers) and an earlier timer breaks the poll; a watcher
 * that watched timers only, on its note, is replaced by one that polls.
 * Sleepers add timers earlier than the watched one while pairs ping-pong
 * over socketpairs with short sleeps in between, so the watcher moves
 * between its note and the poller and rt_startm keeps taking idle Ms:
 * every sleep of an M still has one waker (the runtime throws on a
 * second), and no goroutine or byte is lost. Each pair runs for 500 ms
 * and 100 rounds at least, however slow the machine (the watchdog ends a
 * hang). More Ps than CPUs: more idle Ms. */
#define NREARM 4
#define REARM_ROUNDS 100

typedef struct rearm_pp {
    int fd;
    bool pinger;
    long rounds;
    int failed;
} rearm_pp;

static int64_t rearm_until;
static int rearm_stop;
static gort_waitgroup_t rearm_pairs, rearm_sleepers;

static void rearm_sleeper(void *arg)
{
    long seed = (long)arg;
    for (long i = 0; !__atomic_load_n(&rearm_stop, __ATOMIC_SEQ_CST); i++)
        gort_sleep((i + seed) % 4 == 0 ? ms(1) : ((i * 7 + seed) % 50 + 1) * 1000);
    gort_wg_done(&rearm_sleepers);
}

/* The pinger sends 0, 2, 4, ... and ends with UINT32_MAX; the ponger
 * answers each with one more. */
static void rearm_pingpong(void *arg)
{
    rearm_pp *p = arg;
    for (uint32_t i = 0;; i++) {
        uint32_t v;
        if (p->pinger) {
            gort_sleep((int64_t)(i % 40 + 1) * 1000);
            v = now() < rearm_until || i < REARM_ROUNDS ? 2 * i : UINT32_MAX;
            if (gort_write(p->fd, &v, 4) != 4) {
                p->failed = (int)i + 1;
                break;
            }
            if (v == UINT32_MAX)
                break;
            if (!rd_full(p->fd, &v, 4) || v != 2 * i + 1) {
                p->failed = (int)i + 1;
                break;
            }
        } else {
            if (!rd_full(p->fd, &v, 4)) {
                p->failed = (int)i + 1;
                break;
            }
            if (v == UINT32_MAX)
                break;
            v++;
            if (gort_write(p->fd, &v, 4) != 4) {
                p->failed = (int)i + 1;
                break;
            }
        }
        p->rounds++;
    }
    gort_wg_done(&rearm_pairs);
}

static void timer_rearm_body(void *arg)
{
    (void)arg;
    int old = gort_maxprocs(0);
    gort_maxprocs(old < 4 ? 4 : old);
    rearm_until = now() + ms(500);
    static rearm_pp ps[2 * NREARM];
    static int fds[NREARM][2];
    int nsleep = 2 * gort_maxprocs(0);
    gort_wg_add(&rearm_sleepers, nsleep);
    for (long i = 0; i < nsleep; i++)
        gort_go(rearm_sleeper, (void *)i);
    gort_wg_add(&rearm_pairs, 2 * NREARM);
    for (int i = 0; i < NREARM; i++) {
        unix_pair(fds[i]);
        ps[2 * i] = (rearm_pp){.fd = fds[i][0], .pinger = true};
        ps[2 * i + 1] = (rearm_pp){.fd = fds[i][1], .pinger = false};
        gort_go(rearm_pingpong, &ps[2 * i]);
        gort_go(rearm_pingpong, &ps[2 * i + 1]);
    }
    gort_wg_wait(&rearm_pairs);
    __atomic_store_n(&rearm_stop, 1, __ATOMIC_SEQ_CST);
    gort_wg_wait(&rearm_sleepers);
    for (int i = 0; i < 2 * NREARM; i++)
        TRUEF(!ps[i].failed && ps[i].rounds >= REARM_ROUNDS, "goroutine %d (%s): failed at round %d, %ld rounds", i,
              ps[i].pinger ? "ping" : "pong", ps[i].failed - 1, ps[i].rounds);
    for (int i = 0; i < NREARM; i++) {
        EQ(gort_close(fds[i][0]), 0);
        EQ(gort_close(fds[i][1]), 0);
    }
    gort_maxprocs(old);
}

static void test_timer_rearm_poller(void **state)
{
    (void)state;
    run_np(timer_rearm_body);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_write),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_pty),
        cmocka_unit_test(test_readv_writev),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_recv_send),
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_poll_fd),
        cmocka_unit_test(test_listen_tcp),
        cmocka_unit_test(test_listen_tcp6),
        cmocka_unit_test(test_dial_tcp),
        cmocka_unit_test(test_fd_flags),
        cmocka_unit_test(test_large_write),
        cmocka_unit_test(test_writev_large),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_write_closed_peer),
        cmocka_unit_test(test_pipe_epipe),
        cmocka_unit_test(test_blocking_fd_one_p),
        cmocka_unit_test(test_one_p_read_write),
        cmocka_unit_test(test_deadline_read),
        cmocka_unit_test(test_deadline_pending),
        cmocka_unit_test(test_deadline_keep),
        cmocka_unit_test(test_deadline_write),
        cmocka_unit_test(test_deadline_accept_connect),
        cmocka_unit_test(test_close_parked),
        cmocka_unit_test(test_close_loop),
        cmocka_unit_test(test_two_readers_duplex),
        cmocka_unit_test(test_close_direct),
        cmocka_unit_test(test_close_reuse),
        cmocka_unit_test(test_maxprocs_pingpong),
        cmocka_unit_test(test_foreign_thread),
        cmocka_unit_test(test_before_runtime),
        cmocka_unit_test(test_signal_notify),
        cmocka_unit_test(test_signal_stop),
        cmocka_unit_test(test_signal_invalid),
        cmocka_unit_test(test_signal_sigint),
        cmocka_unit_test(test_signal_full_chan),
        cmocka_unit_test(test_timer_rearm_poller),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
