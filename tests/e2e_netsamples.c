/* e2e_netsamples.c - end-to-end tests of the network samples (echo_server,
 * http_server, proxy, client), run as a user runs them: each sample is a
 * process listening on 127.0.0.1 port 0 (its "listening on" line gives the
 * port), this program talks to it over loopback with plain blocking sockets,
 * stops it with a signal, and checks its exit status and output.
 *
 *   e2e_netsamples <scenario> <dir of the samples> [netpoll=epoll] [nosignals]
 *
 * Scenarios: echo, echo_drain, http, proxy, proxy_idle, client,
 * client_refused. netpoll=epoll is added to the samples' GORTDEBUG.
 * nosignals leaves out the shutdown checks (SIGINT, SIGTERM) and kills the
 * samples at the end instead, checking that none died before and that no
 * sanitizer reported anything: the ThreadSanitizer build uses it (see
 * tests/CMakeLists.txt). Exits 0 on success; otherwise 1, with a FAIL line and
 * every sample's output. Nothing waits for ever: sockets have receive and
 * send timeouts, every wait is bounded, and an alarm kills the samples and
 * fails the test after ALARM_S.
 *
 * Plain POSIX C on purpose: the test does not lean on the runtime it tests. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ALARM_S 100        /* the whole scenario */
#define IO_TIMEOUT_S 10    /* any one send or receive */
#define EXIT_MS 10000      /* a sample told to stop must be gone by then (sanitizer builds are slow) */

static const char *dir;    /* where the samples are */
static bool no_signals;    /* nosignals: skip the shutdown checks */

/* ---- processes ------------------------------------------------------------ */

struct proc {
    const char *name;
    pid_t pid;
    int out;               /* read end of its stdout + stderr */
    bool exited;
    bool expected;         /* its exit was waited for (expect_exit) */
    int status;
    size_t len;
    char log[1 << 16];
};
static struct proc procs[4];
static int nprocs;
static volatile pid_t alarm_pids[4]; /* what the alarm handler kills */

static void drain_output(struct proc *p, int timeout_ms);

static void kill_all(void)
{
    for (int i = 0; i < nprocs; i++)
        if (!procs[i].exited && procs[i].pid > 0) {
            kill(procs[i].pid, SIGKILL);
            waitpid(procs[i].pid, &procs[i].status, 0);
            procs[i].exited = true;
        }
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    kill_all();
    for (int i = 0; i < nprocs; i++) {
        drain_output(&procs[i], 200);
        printf("---- output of %s (pid %d):\n%.*s----\n", procs[i].name, (int)procs[i].pid, (int)procs[i].len,
               procs[i].log);
    }
    fflush(stdout);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: the scenario took too long; killing the samples\n";
    for (int i = 0; i < 4; i++)
        if (alarm_pids[i] > 0)
            kill(alarm_pids[i], SIGKILL);
    (void)!write(1, msg, sizeof msg - 1);
    _exit(1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Start dir/name with the given arguments (NULL-terminated), its stdout and
 * stderr into a pipe we read. */
static struct proc *start(const char *name, ...)
{
    if (nprocs == 4)
        fail("too many processes");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *argv[16];
    int argc = 0;
    argv[argc++] = path;
    va_list ap;
    va_start(ap, name);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        fail("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        fail("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        /* The samples must see SIGINT and SIGTERM whatever started us (a
         * shell's background job ignores SIGINT). */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(path, argv);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    struct proc *p = &procs[nprocs];
    p->name = name;
    p->pid = pid;
    p->out = fds[0];
    alarm_pids[nprocs++] = pid;
    return p;
}

/* Read what p has written, waiting up to timeout_ms for something. false
 * at end of file. */
static bool pump(struct proc *p, int timeout_ms)
{
    if (p->out < 0)
        return false;
    struct pollfd pf = {p->out, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms) <= 0)
        return true;
    for (;;) {
        char tmp[4096];
        ssize_t n = read(p->out, tmp, sizeof tmp);
        if (n > 0) {
            size_t room = sizeof p->log - 1 - p->len;
            size_t k = (size_t)n < room ? (size_t)n : room;
            memcpy(p->log + p->len, tmp, k);
            p->len += k;
            p->log[p->len] = '\0';
            continue;
        }
        if (n == 0) {
            close(p->out);
            p->out = -1;
            return false;
        }
        return true; /* EAGAIN: all read for now */
    }
}

static void drain_output(struct proc *p, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (p->out >= 0 && now_ms() < end)
        if (!pump(p, 20))
            break;
}

static void wait_output(struct proc *p, const char *what, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (strstr(p->log, what) == NULL) {
        if (now_ms() > end)
            fail("%s did not print \"%s\" within %d ms", p->name, what, timeout_ms);
        if (!pump(p, 20) && strstr(p->log, what) == NULL)
            fail("%s ended its output without printing \"%s\"", p->name, what);
    }
}

/* The port of a sample's "listening on HOST:PORT" line. */
static int port_of(struct proc *p)
{
    wait_output(p, "listening on ", 10000);
    const char *l = strstr(p->log, "listening on ");
    int64_t end = now_ms() + 5000;
    while (strchr(l, '\n') == NULL) {
        if (now_ms() > end)
            fail("%s: incomplete listening line", p->name);
        pump(p, 20);
        l = strstr(p->log, "listening on ");
    }
    const char *nl = strchr(l, '\n');
    const char *colon = NULL;
    for (const char *c = l; c < nl; c++)
        if (*c == ':')
            colon = c;
    int port = colon != NULL ? atoi(colon + 1) : 0;
    if (port <= 0 || port > 65535)
        fail("%s: no port in its listening line", p->name);
    return port;
}

static bool running(struct proc *p)
{
    if (p->exited)
        return false;
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid) {
        p->exited = true;
        alarm_pids[p - procs] = 0;
        return false;
    }
    return true;
}

/* p must exit within timeout_ms with status want; its output must then
 * contain each of the NULL-terminated strings. */
static void expect_exit(struct proc *p, int want, int timeout_ms, ...)
{
    int64_t end = now_ms() + timeout_ms;
    p->expected = true;
    while (running(p)) {
        if (now_ms() > end)
            fail("%s did not exit within %d ms", p->name, timeout_ms);
        pump(p, 10);
    }
    drain_output(p, 3000);
    if (WIFSIGNALED(p->status))
        fail("%s was killed by signal %d (%s)", p->name, WTERMSIG(p->status), strsignal(WTERMSIG(p->status)));
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != want)
        fail("%s exited with status %d, want %d", p->name, WEXITSTATUS(p->status), want);
    va_list ap;
    va_start(ap, timeout_ms);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL)
        if (strstr(p->log, s) == NULL)
            fail("%s's output lacks \"%s\"", p->name, s);
    va_end(ap);
}

/* nosignals: the scenario ends here. Every sample not waited for must
 * still run; it is killed, and no output may hold a sanitizer's report. */
static bool end_without_signals(void)
{
    if (!no_signals)
        return false;
    for (int i = 0; i < nprocs; i++)
        if (!procs[i].expected && !running(&procs[i]))
            fail("%s exited before the end (status 0x%x)", procs[i].name, procs[i].status);
    kill_all();
    for (int i = 0; i < nprocs; i++) {
        drain_output(&procs[i], 3000);
        if (strstr(procs[i].log, "Sanitizer") != NULL)
            fail("%s: a sanitizer report", procs[i].name);
    }
    return true;
}

static void signal_proc(struct proc *p, int sig)
{
    if (kill(p->pid, sig) != 0)
        fail("kill %s: %s", p->name, strerror(errno));
}

/* ---- sockets ------------------------------------------------------------------ */

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket: %s", strerror(errno));
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fail("connect to port %d: %s", port, strerror(errno));
    return fd;
}

/* Whether a connection to port is refused (nothing listens) within timeout_ms. */
static bool refused_within(int port, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        int e = errno;
        close(fd);
        if (rc != 0 && e == ECONNREFUSED)
            return true;
        if (now_ms() > end)
            return false;
        sleep_ms(20);
    }
}

static void send_all(int fd, const void *buf, size_t n, const char *what)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            fail("%s: send: %s", what, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s, const char *what)
{
    send_all(fd, s, strlen(s), what);
}

static void recv_exact(int fd, void *buf, size_t n, const char *what)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            fail("%s: end of file with %zu bytes still expected", what, n);
        if (r < 0)
            fail("%s: recv: %s", what, strerror(errno));
        p += r;
        n -= (size_t)r;
    }
}

/* Send s, expect it back. */
static void echo_round(int fd, const char *s, const char *what)
{
    size_t n = strlen(s);
    char buf[4096];
    if (n > sizeof buf)
        fail("echo_round: message too long");
    send_all(fd, s, n, what);
    recv_exact(fd, buf, n, what);
    if (memcmp(buf, s, n) != 0)
        fail("%s: the echo differs: sent \"%s\", got \"%.*s\"", what, s, (int)n, buf);
}

/* The peer must close: recv returns 0 (a reset counts too, if allowed)
 * within timeout_ms. Returns how long it took. */
static int64_t expect_eof(int fd, int timeout_ms, bool reset_ok, const char *what)
{
    int64_t t0 = now_ms();
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int left = (int)(t0 + timeout_ms - now_ms());
        if (left <= 0 || poll(&pf, 1, left) == 0)
            fail("%s: the connection was not closed within %d ms", what, timeout_ms);
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0)
            return now_ms() - t0;
        if (r < 0 && errno == ECONNRESET && reset_ok)
            return now_ms() - t0;
        if (r < 0 && errno != EINTR)
            fail("%s: recv: %s (want end of file)", what, strerror(errno));
        if (r > 0)
            fail("%s: %zd unexpected bytes (want end of file): \"%.*s\"", what, r, (int)(r > 80 ? 80 : r), buf);
    }
}

/* Send size bytes of a pattern and read them back, both at once (an echo
 * of 1 MiB does not fit in the socket buffers), then check them. */
static void echo_bulk(int fd, size_t size, const char *what)
{
    char *out = malloc(size), *in = malloc(size);
    if (out == NULL || in == NULL)
        fail("out of memory");
    for (size_t i = 0; i < size; i++)
        out[i] = (char)(i * 131 + i / 4096);
    size_t sent = 0, got = 0;
    int64_t end = now_ms() + IO_TIMEOUT_S * 3000;
    while (got < size) {
        struct pollfd pf = {fd, (short)(POLLIN | (sent < size ? POLLOUT : 0)), 0};
        if (now_ms() > end)
            fail("%s: %zu of %zu bytes back after %d s", what, got, size, IO_TIMEOUT_S * 3);
        if (poll(&pf, 1, 100) < 0 && errno != EINTR)
            fail("%s: poll: %s", what, strerror(errno));
        if ((pf.revents & POLLOUT) && sent < size) {
            ssize_t w = send(fd, out + sent, size - sent > 65536 ? 65536 : size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                fail("%s: send: %s", what, strerror(errno));
            if (w > 0)
                sent += (size_t)w;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, in + got, size - got, MSG_DONTWAIT);
            if (r == 0)
                fail("%s: end of file after %zu of %zu bytes", what, got, size);
            if (r < 0 && errno != EAGAIN && errno != EINTR)
                fail("%s: recv: %s", what, strerror(errno));
            if (r > 0)
                got += (size_t)r;
        }
    }
    if (memcmp(in, out, size) != 0)
        fail("%s: %zu bytes came back different", what, size);
    free(in);
    free(out);
}

/* ---- HTTP ------------------------------------------------------------------------ */

struct reader {
    int fd;
    size_t len;
    char buf[32768];
};

struct response {
    int status;
    long content_length;   /* -1 if absent */
    bool conn_close, conn_keep_alive;
    char body[256];
};

/* Read one response from r (HEAD: no body). The bytes after it stay in r
 * (a pipelined response). */
static void read_response(struct reader *r, bool head, struct response *resp, const char *what)
{
    char *eoh;
    while ((eoh = memmem(r->buf, r->len, "\r\n\r\n", 4)) == NULL) {
        if (r->len == sizeof r->buf)
            fail("%s: response head too long", what);
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (n == 0)
            fail("%s: end of file before a complete response (%zu bytes: \"%.*s\")", what, r->len, (int)r->len, r->buf);
        if (n < 0 && errno != EINTR)
            fail("%s: recv: %s", what, strerror(errno));
        if (n > 0)
            r->len += (size_t)n;
    }
    size_t head_len = (size_t)(eoh + 4 - r->buf);
    char h[8192];
    if (head_len >= sizeof h)
        fail("%s: response head too long", what);
    memcpy(h, r->buf, head_len);
    h[head_len] = '\0';
    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
    if (sscanf(h, "HTTP/1.1 %d ", &resp->status) != 1)
        fail("%s: bad status line in \"%s\"", what, h);
    for (char *line = strstr(h, "\r\n") + 2; *line != '\0' && strncmp(line, "\r\n", 2) != 0;
         line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            resp->content_length = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "Connection: close\r\n", 19) == 0)
            resp->conn_close = true;
        else if (strncasecmp(line, "Connection: keep-alive\r\n", 24) == 0)
            resp->conn_keep_alive = true;
    }
    if (resp->content_length < 0)
        fail("%s: no Content-Length in \"%s\"", what, h);
    size_t body = head ? 0 : (size_t)resp->content_length;
    if (body >= sizeof resp->body)
        fail("%s: body too long", what);
    while (r->len < head_len + body) {
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (n == 0)
            fail("%s: end of file in the body", what);
        if (n < 0 && errno != EINTR)
            fail("%s: recv: %s", what, strerror(errno));
        if (n > 0)
            r->len += (size_t)n;
    }
    memcpy(resp->body, r->buf + head_len, body);
    resp->body[body] = '\0';
    memmove(r->buf, r->buf + head_len + body, r->len - head_len - body);
    r->len -= head_len + body;
}

static void expect_response(struct reader *r, bool head, int status, const char *body, const char *what)
{
    struct response resp;
    read_response(r, head, &resp, what);
    if (resp.status != status)
        fail("%s: status %d, want %d", what, resp.status, status);
    if (body != NULL && strcmp(resp.body, body) != 0)
        fail("%s: body \"%s\", want \"%s\"", what, resp.body, body);
    if (head && resp.content_length != 14)
        fail("%s: HEAD's Content-Length %ld, want GET's 14", what, resp.content_length);
}

static struct reader *reader_new(int port)
{
    struct reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        fail("out of memory");
    r->fd = dial(port);
    return r;
}

static void reader_close(struct reader *r)
{
    close(r->fd);
    free(r);
}

#define HELLO "Hello, World!\n"
#define GET(path) "GET " path " HTTP/1.1\r\nHost: test\r\nUser-Agent: e2e\r\n\r\n"

/* ---- scenarios ------------------------------------------------------------------- */

/* echo_server echoes (also 1 MiB at once), and on SIGTERM stops accepting
 * but lets an open connection go on until its client closes it. */
static void scenario_echo(void)
{
    struct proc *es = start("echo_server", "127.0.0.1:0", NULL);
    int port = port_of(es);
    int a = dial(port);
    echo_round(a, "hello\n", "echo");
    int b = dial(port);
    echo_bulk(b, 1 << 20, "echo of 1 MiB");
    close(b);
    if (end_without_signals())
        return;

    signal_proc(es, SIGTERM);
    if (!refused_within(port, 5000))
        fail("echo_server still accepts connections after SIGTERM");
    if (!running(es))
        fail("echo_server exited with a connection still open");
    echo_round(a, "still here after the signal\n", "echo after SIGTERM");
    close(a);
    /* (2 connections, or 3 if one of refused_within's probes was accepted
     * before the listener closed) */
    expect_exit(es, 0, EXIT_MS, "echo_server: SIGTERM: stopped after ", NULL);
}

/* A connection that stays open after SIGTERM is cut when the drain time
 * (5 s) runs out, and the server still exits 0. */
static void scenario_echo_drain(void)
{
    struct proc *es = start("echo_server", "127.0.0.1:0", NULL);
    int port = port_of(es);
    int a = dial(port);
    echo_round(a, "hello\n", "echo");
    int64_t t0 = now_ms();
    signal_proc(es, SIGTERM);
    expect_eof(a, 5000 + EXIT_MS, true, "the connection after the drain time");
    if (now_ms() - t0 < 4000)
        fail("the open connection was closed %lld ms after SIGTERM, before the 5 s drain time",
             (long long)(now_ms() - t0));
    close(a);
    expect_exit(es, 0, EXIT_MS, "still open when the drain time ran out",
                "echo_server: SIGTERM: stopped after 1 connection(s)", NULL);
}

static void scenario_http(void)
{
    struct proc *hs = start("http_server", "127.0.0.1:0", NULL);
    int port = port_of(hs);

    /* Keep-alive: several requests on one connection. */
    struct reader *a = reader_new(port);
    send_str(a->fd, GET("/"), "GET /");
    expect_response(a, false, 200, HELLO, "GET /");
    send_str(a->fd, GET("/nope"), "GET /nope");
    expect_response(a, false, 404, NULL, "GET /nope on the same connection");
    send_str(a->fd, GET("/?q=1"), "GET /?q=1");
    expect_response(a, false, 200, HELLO, "GET /?q=1");
    /* Pipelined: two requests in one write, answered in order. */
    send_str(a->fd, GET("/") GET("/x"), "pipelined");
    expect_response(a, false, 200, HELLO, "first pipelined");
    expect_response(a, false, 404, NULL, "second pipelined");
    /* A request in pieces, with pauses: the server waits for the rest. */
    static const char *pieces[] = {"GE", "T / HTTP/1.1\r\nHo", "st: test\r\n", "\r", "\n"};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        send_str(a->fd, pieces[i], "partial request");
        sleep_ms(20);
    }
    expect_response(a, false, 200, HELLO, "request in pieces");
    /* A body is skipped, and the request after it is found. */
    send_str(a->fd, "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello" GET("/"), "POST");
    expect_response(a, false, 405, NULL, "POST /");
    expect_response(a, false, 200, HELLO, "GET after a POST body");
    send_str(a->fd, "HEAD / HTTP/1.1\r\nHost: test\r\n\r\n" GET("/"), "HEAD");
    expect_response(a, true, 200, "", "HEAD /");
    expect_response(a, false, 200, HELLO, "GET after HEAD");
    /* Connection: close is honoured. */
    send_str(a->fd, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", "Connection: close");
    struct response resp;
    read_response(a, false, &resp, "Connection: close");
    if (resp.status != 200 || !resp.conn_close)
        fail("Connection: close: status %d, Connection: close in the response: %d", resp.status, resp.conn_close);
    expect_eof(a->fd, 5000, false, "after Connection: close");
    reader_close(a);

    /* HTTP/1.0: closes after one response, unless asked to keep alive. */
    struct reader *b = reader_new(port);
    send_str(b->fd, "GET / HTTP/1.0\r\n\r\n", "HTTP/1.0");
    read_response(b, false, &resp, "HTTP/1.0");
    if (resp.status != 200 || strcmp(resp.body, HELLO) != 0 || !resp.conn_close)
        fail("HTTP/1.0: status %d, body \"%s\", Connection: close %d", resp.status, resp.body, resp.conn_close);
    expect_eof(b->fd, 5000, false, "after an HTTP/1.0 response");
    reader_close(b);
    b = reader_new(port);
    send_str(b->fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "HTTP/1.0 keep-alive");
    read_response(b, false, &resp, "HTTP/1.0 keep-alive");
    if (resp.status != 200 || !resp.conn_keep_alive)
        fail("HTTP/1.0 keep-alive: status %d, Connection: keep-alive %d", resp.status, resp.conn_keep_alive);
    send_str(b->fd, "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "HTTP/1.0 keep-alive");
    expect_response(b, false, 404, NULL, "second HTTP/1.0 keep-alive request");
    reader_close(b);

    /* Garbage: 400, and the connection closes. */
    static const char *bad[] = {"FOO\r\n\r\n", "GET / HTTP/1.1\r\nHost: test\r\nno colon\r\n\r\n",
                                "GET / HTTP/1.1\r\n\r\n" /* no Host */, "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
                                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct reader *c = reader_new(port);
        send_str(c->fd, bad[i], "bad request");
        read_response(c, false, &resp, bad[i]);
        if (resp.status != 400 || !resp.conn_close)
            fail("request \"%s\": status %d (want 400), Connection: close %d", bad[i], resp.status, resp.conn_close);
        expect_eof(c->fd, 5000, true, "after a 400");
        reader_close(c);
    }
    /* A head larger than the server's buffer: 431. */
    struct reader *c = reader_new(port);
    char big[12000];
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: test\r\nX-Big: ");
    memset(big + n, 'x', sizeof big - (size_t)n - 5);
    memcpy(big + sizeof big - 5, "\r\n\r\n", 5);
    send_all(c->fd, big, sizeof big - 1, "big request");
    read_response(c, false, &resp, "big request");
    if (resp.status != 431)
        fail("a 12 kB request head: status %d, want 431", resp.status);
    reader_close(c);

    if (end_without_signals())
        return;

    /* Shutdown: d is idle between requests, e is half-way through one. */
    struct reader *d = reader_new(port);
    send_str(d->fd, GET("/"), "idle connection");
    expect_response(d, false, 200, HELLO, "idle connection");
    struct reader *e = reader_new(port);
    send_str(e->fd, "GET / HTTP/1.1\r\nHost: test\r\n", "half a request");
    sleep_ms(100); /* let the server read it */
    signal_proc(hs, SIGINT);
    /* at once: not after the 2 s a busy connection gets */
    expect_eof(d->fd, 1500, true, "the idle keep-alive connection after SIGINT");
    if (!refused_within(port, 5000))
        fail("http_server still accepts connections after SIGINT");
    send_str(e->fd, "\r\n", "the rest of the request");
    read_response(e, false, &resp, "the request finished after SIGINT");
    if (resp.status != 200 || !resp.conn_close)
        fail("the request finished after SIGINT: status %d, Connection: close %d (want 200, 1)", resp.status,
             resp.conn_close);
    expect_eof(e->fd, 5000, true, "after the last response");
    reader_close(d);
    reader_close(e);
    expect_exit(hs, 0, EXIT_MS, "http_server: SIGINT: stopped after ", NULL);
}

/* The proxy forwards to echo_server, both ways, half-closes included;
 * the client sample works through it; SIGTERM ends an idle connection
 * within the 1 s grace time. */
static void scenario_proxy(void)
{
    struct proc *es = start("echo_server", "127.0.0.1:0", NULL);
    char eport[16];
    snprintf(eport, sizeof eport, "%d", port_of(es));
    struct proc *px = start("proxy", "127.0.0.1:0", "127.0.0.1", eport, "30", NULL);
    int port = port_of(px);
    char pport[16];
    snprintf(pport, sizeof pport, "%d", port);

    int a = dial(port);
    echo_round(a, "hello through the proxy\n", "proxy");
    echo_bulk(a, 1 << 20, "1 MiB through the proxy");
    echo_round(a, "and again\n", "proxy");

    /* Half-close: send, shut down our side; all of it comes back, then
     * end of file (echo_server closes after its EOF, and the proxy passes
     * both FINs on). */
    int b = dial(port);
    static char msg[100000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    send_all(b, msg, sizeof msg, "half-close");
    if (shutdown(b, SHUT_WR) != 0)
        fail("shutdown: %s", strerror(errno));
    static char back[sizeof msg];
    recv_exact(b, back, sizeof back, "half-close echo");
    if (memcmp(back, msg, sizeof msg) != 0)
        fail("half-close: the echo differs");
    expect_eof(b, 5000, false, "after the half-close");
    close(b);

    struct proc *cl = start("client", "127.0.0.1", pport, "10", "0.5", NULL);
    expect_exit(cl, 0, 30000, " 0 timeouts, 0 errors,", NULL);
    if (end_without_signals())
        return;

    signal_proc(px, SIGTERM);
    int64_t took = expect_eof(a, 5000, true, "the idle proxied connection after SIGTERM");
    if (took > 3000)
        fail("the idle connection lasted %lld ms after SIGTERM (grace: 1 s)", (long long)took);
    close(a);
    expect_exit(px, 0, EXIT_MS, "proxy: SIGTERM: stopped after 12 connection(s)", NULL);
    signal_proc(es, SIGTERM);
    expect_exit(es, 0, EXIT_MS, "echo_server: SIGTERM: stopped after 12 connection(s)", NULL);
}

/* The idle timeout: a quiet connection is closed after about idle_seconds,
 * one that keeps talking is not. */
static void scenario_proxy_idle(void)
{
    struct proc *es = start("echo_server", "127.0.0.1:0", NULL);
    char eport[16];
    snprintf(eport, sizeof eport, "%d", port_of(es));
    struct proc *px = start("proxy", "127.0.0.1:0", "127.0.0.1", eport, "0.5", NULL);
    int port = port_of(px);

    int a = dial(port), b = dial(port);
    echo_round(a, "a\n", "proxy");
    echo_round(b, "b\n", "proxy");
    for (int i = 0; i < 8; i++) { /* b talks every 0.2 s for 1.6 s: never idle for 0.5 s */
        sleep_ms(200);
        echo_round(b, "still talking\n", "the busy connection");
    }
    expect_eof(a, 3000, true, "the quiet connection"); /* idle since 1.6 s: long closed */
    int64_t took = expect_eof(b, 3000, true, "the busy connection once quiet");
    if (took < 300)
        fail("the connection was closed %lld ms after its last data (idle timeout: 500 ms)", (long long)took);
    close(a);
    close(b);
    wait_output(px, "idle for 0.5 s, closing", 5000);
    if (end_without_signals())
        return;
    signal_proc(px, SIGINT);
    expect_exit(px, 0, EXIT_MS, "idle for 0.5 s, closing", "proxy: SIGINT: stopped after 2 connection(s)", NULL);
    signal_proc(es, SIGINT);
    expect_exit(es, 0, EXIT_MS, "echo_server: SIGINT: stopped after 2 connection(s)", NULL);
}

static void scenario_client(void)
{
    struct proc *es = start("echo_server", "127.0.0.1:0", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", port_of(es));
    struct proc *cl = start("client", "127.0.0.1", port, "20", "1", NULL);
    expect_exit(cl, 0, 30000, "client: 20 connection(s) to 127.0.0.1:", " 0 timeouts, 0 errors, 20 dials", NULL);
    if (strstr(cl->log, " 0 ok,") != NULL)
        fail("the client did no round");
    if (end_without_signals())
        return;
    signal_proc(es, SIGTERM);
    expect_exit(es, 0, EXIT_MS, "echo_server: SIGTERM: stopped after 20 connection(s)", NULL);
}

/* Against a port where nothing listens, the client reports its errors
 * and exits 1. */
static void scenario_client_refused(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        fail("bind: %s", strerror(errno));
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
    close(fd); /* bound, never listening, now closed: connections are refused */
    struct proc *cl = start("client", "127.0.0.1", port, "3", "0.3", NULL);
    expect_exit(cl, 1, 30000, " 0 ok,", "first failure: dial: Connection refused", NULL);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: e2e_netsamples scenario samples_dir [netpoll=epoll] [nosignals]\n");
        return 2;
    }
    dir = argv[2];
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "nosignals") == 0) {
            no_signals = true;
        } else { /* a GORTDEBUG setting, added to what the environment says */
            const char *old = getenv("GORTDEBUG");
            char v[1024];
            snprintf(v, sizeof v, "%s%s%s", old != NULL ? old : "", old != NULL && *old != '\0' ? "," : "", argv[i]);
            setenv("GORTDEBUG", v, 1);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(ALARM_S);

    static const struct {
        const char *name;
        void (*fn)(void);
    } scenarios[] = {
        {"echo", scenario_echo},     {"echo_drain", scenario_echo_drain}, {"http", scenario_http},
        {"proxy", scenario_proxy},   {"proxy_idle", scenario_proxy_idle}, {"client", scenario_client},
        {"client_refused", scenario_client_refused},
    };
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (strcmp(argv[1], scenarios[i].name) == 0) {
            scenarios[i].fn();
            printf("%s ok\n", argv[1]);
            return 0;
        }
    fprintf(stderr, "e2e_netsamples: unknown scenario %s\n", argv[1]);
    return 2;
}
