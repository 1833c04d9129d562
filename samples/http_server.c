/* http_server.c - a minimal HTTP/1.1 server with keep-alive: one goroutine
 * per connection, one read and one write per request, no allocation.
 *
 *   http_server [[host:]port]     default: port 8080 on every address;
 *                                 port 0 picks a free port (printed)
 *
 *   GET / and HEAD /     200, "Hello, World!\n"
 *   other methods on /   405
 *   any other path       404
 *   a malformed request  400, then the connection closes
 *
 * Connections stay open between requests (HTTP/1.1's default) unless the
 * client sends "Connection: close", or speaks HTTP/1.0 without
 * "Connection: keep-alive". Pipelined requests (several sent before the
 * first answer) are answered in order, all of one read's answers in one
 * write. It is the server bench/ runs against Go's net/http with wrk, so
 * the per-request path is lean: the request is parsed in place in a
 * per-connection buffer on the goroutine's stack, the response is built in
 * another, and the Date header is formatted once a second per connection.
 *
 * Graceful shutdown on SIGINT or SIGTERM, as Go's http.Server.Shutdown: the
 * listener is closed (gort_close wakes the accept loop with -EBADF); idle
 * keep-alive connections are closed at once; a request in progress gets
 * GRACE_NS to finish and its response says "Connection: close"; the main
 * goroutine waits for every connection goroutine and exits 0.
 *
 * Try it:  build/samples/http_server 8080   then   curl -v localhost:8080/
 *          wrk -c100 -d10s http://127.0.0.1:8080/ */
#include <gort.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define DEFAULT_PORT 8080
#define IN_SIZE 8192                  /* the largest request head we take (as nginx's default) */
#define OUT_SIZE 8192                 /* responses waiting for one write */
#define MAX_REPLY 512                 /* the longest response reply() builds */
#define MAX_DISCARD (1 << 20)         /* request bodies we read past to keep a connection */
#define GRACE_NS (2 * 1000000000LL)   /* what a busy connection gets after a shutdown signal */
#define LINGER_NS (500 * 1000000LL)   /* how long a closing connection waits for the client's FIN */
/* A deadline that has long passed: setting it makes a parked read return
 * -ETIMEDOUT at once (Go's net/http uses time.Unix(1, 0), "aLongTimeAgo").
 * Not 0, which clears the deadline. */
#define A_LONG_TIME_AGO ((int64_t)1)

/* ---- the server ---------------------------------------------------------- */

/* One open connection, on the stack of its goroutine, linked into
 * srv.conns while open so that shutdown can find it. */
struct conn {
    int fd;
    atomic_bool idle; /* between requests, parked in read with nothing buffered */
    struct conn *prev, *next;
};

/* What the goroutines share. lfd is set before any other goroutine starts;
 * shutting is atomic (each request reads it); mu guards the rest; the
 * WaitGroup synchronises itself. */
static struct server {
    int lfd;
    gort_waitgroup_t handlers; /* one count per connection goroutine */
    atomic_bool shutting;      /* set (under mu) when the shutdown signal came */
    gort_mutex_t mu;
    struct conn conns;         /* circular list of open connections (mu) */
    int64_t grace_deadline;    /* 0 while serving (mu) */
    int signal;                /* the signal that stopped the server (mu) */
} srv;

static void track(struct conn *c)
{
    gort_mutex_lock(&srv.mu);
    c->next = &srv.conns;
    c->prev = srv.conns.prev;
    c->prev->next = c;
    srv.conns.prev = c;
    int64_t grace = srv.grace_deadline;
    gort_mutex_unlock(&srv.mu);
    if (grace != 0) /* accepted as shutdown began: shutdown's walk may have missed us */
        gort_set_deadline(c->fd, grace, grace);
}

/* After this, shutdown no longer touches c->fd: it is safe to close. */
static void untrack(struct conn *c)
{
    gort_mutex_lock(&srv.mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    gort_mutex_unlock(&srv.mu);
}

/* ---- parsing a request ------------------------------------------------------ */

struct request {
    const char *method, *target; /* into the input buffer; not NUL-terminated */
    size_t method_len, target_len;
    int minor;                   /* HTTP/1.minor */
    bool conn_close, conn_keep_alive, has_host, has_te, has_length;
    uint64_t content_length;
};

/* RFC 9110's tchar: the characters of a method or a header name. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool all_tchars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return n > 0;
}

static bool name_is(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

/* A Connection header's value: a comma-separated list of options. */
static void parse_connection(const char *v, size_t n, struct request *rq)
{
    while (n > 0) {
        const char *comma = memchr(v, ',', n);
        size_t len = comma != NULL ? (size_t)(comma - v) : n;
        size_t b = 0, e = len;
        while (b < e && (v[b] == ' ' || v[b] == '\t'))
            b++;
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (name_is(v + b, e - b, "close"))
            rq->conn_close = true;
        else if (name_is(v + b, e - b, "keep-alive"))
            rq->conn_keep_alive = true;
        if (comma == NULL)
            break;
        n -= len + 1;
        v = comma + 1;
    }
}

/* Parse the request head (request line and header lines, through the empty
 * line) at the start of p[0..n). Returns its length; 0 if it is not all
 * there yet (read more); -1 if it is malformed. Lines may end in CRLF or,
 * as most servers accept, a bare LF. */
static long parse_request(const char *p, size_t n, struct request *rq)
{
    memset(rq, 0, sizeof *rq);
    const char *q = p, *end = p + n;
    /* RFC 9112 2.2: ignore an empty line before the request line (left
     * over from a previous request's body, say). */
    if (q < end && *q == '\r')
        q++;
    if (q < end && *q == '\n')
        q++;

    /* The request line: METHOD SP TARGET SP HTTP/1.x */
    const char *nl = memchr(q, '\n', (size_t)(end - q));
    if (nl == NULL)
        return 0;
    const char *le = nl > q && nl[-1] == '\r' ? nl - 1 : nl;
    const char *sp1 = memchr(q, ' ', (size_t)(le - q));
    if (sp1 == NULL)
        return -1;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(le - t));
    if (sp2 == NULL)
        return -1;
    rq->method = q;
    rq->method_len = (size_t)(sp1 - q);
    rq->target = t;
    rq->target_len = (size_t)(sp2 - t);
    const char *v = sp2 + 1;
    if (!all_tchars(rq->method, rq->method_len) || rq->target_len == 0 || le - v != 8 ||
        memcmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1'))
        return -1;
    for (size_t i = 0; i < rq->target_len; i++)
        if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f)
            return -1;
    rq->minor = v[7] - '0';

    /* Header lines, "Name: value", up to an empty line. */
    for (q = nl + 1;; q = nl + 1) {
        nl = memchr(q, '\n', (size_t)(end - q));
        if (nl == NULL)
            return 0;
        le = nl > q && nl[-1] == '\r' ? nl - 1 : nl;
        if (le == q)
            return (long)(nl + 1 - p); /* the empty line: the head is complete */
        const char *colon = memchr(q, ':', (size_t)(le - q));
        if (colon == NULL || !all_tchars(q, (size_t)(colon - q)))
            return -1; /* also rejects obsolete line folding (a line starting with a space) */
        size_t name_len = (size_t)(colon - q);
        const char *val = colon + 1, *ve = le;
        while (val < ve && (*val == ' ' || *val == '\t'))
            val++;
        while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (name_is(q, name_len, "host")) {
            rq->has_host = true;
        } else if (name_is(q, name_len, "connection")) {
            parse_connection(val, (size_t)(ve - val), rq);
        } else if (name_is(q, name_len, "transfer-encoding")) {
            rq->has_te = true;
        } else if (name_is(q, name_len, "content-length")) {
            uint64_t len = 0;
            if (val == ve || ve - val > 18)
                return -1;
            for (const char *d = val; d < ve; d++) {
                if (*d < '0' || *d > '9')
                    return -1;
                len = len * 10 + (uint64_t)(*d - '0');
            }
            if (rq->has_length && len != rq->content_length)
                return -1; /* two different lengths: which one frames the body? */
            rq->has_length = true;
            rq->content_length = len;
        }
    }
}

/* ---- building a response ------------------------------------------------------ */

struct status {
    const char *line, *body;
    size_t line_len, body_len;
};
#define STATUS(line, body) {line, body, sizeof line - 1, sizeof body - 1}
static const struct status st_ok = STATUS("200 OK", "Hello, World!\n");
static const struct status st_bad = STATUS("400 Bad Request", "400 Bad Request\n");
static const struct status st_not_found = STATUS("404 Not Found", "404 page not found\n");
static const struct status st_not_allowed = STATUS("405 Method Not Allowed", "405 method not allowed\n");
static const struct status st_too_large = STATUS("431 Request Header Fields Too Large", "431 Request Header Fields Too Large\n");
static const struct status st_not_impl = STATUS("501 Not Implemented", "501 Transfer-Encoding not implemented\n");

/* The Date header's value, formatted again when the second changes. Each
 * connection has its own (nothing shared, nothing to lock). */
struct date {
    time_t sec;
    char text[32]; /* "Mon, 02 Jan 2006 15:04:05 GMT" */
};

static const char *date_now(struct date *d)
{
    time_t now = time(NULL);
    if (now != d->sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(d->text, sizeof d->text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        d->sec = now;
    }
    return d->text;
}

static char *append(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}
#define APPEND_LIT(o, lit) append(o, lit, sizeof lit - 1)

static char *append_uint(char *o, size_t v)
{
    char digits[24];
    int i = (int)sizeof digits;
    do
        digits[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return append(o, digits + i, sizeof digits - (size_t)i);
}

/* Append one response (at most MAX_REPLY bytes) at o; returns its end. */
static char *reply(char *o, const struct status *st, int minor, bool keep_alive, bool head, struct date *date)
{
    o = APPEND_LIT(o, "HTTP/1.1 ");
    o = append(o, st->line, st->line_len);
    o = APPEND_LIT(o, "\r\nDate: ");
    o = append(o, date_now(date), 29);
    o = APPEND_LIT(o, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    o = append_uint(o, st->body_len);
    if (st == &st_not_allowed)
        o = APPEND_LIT(o, "\r\nAllow: GET, HEAD");
    if (!keep_alive)
        o = APPEND_LIT(o, "\r\nConnection: close");
    else if (minor == 0)
        o = APPEND_LIT(o, "\r\nConnection: keep-alive"); /* HTTP/1.0 keeps it only when told */
    o = APPEND_LIT(o, "\r\n\r\n");
    if (!head)
        o = append(o, st->body, st->body_len);
    return o;
}

/* ---- one connection ------------------------------------------------------------- */

static void report(int fd, const char *what, long rc)
{
    if (rc == -ECONNRESET || rc == -EPIPE)
        return; /* the client went away: routine */
    if (rc == -ETIMEDOUT && atomic_load(&srv.shutting))
        return; /* shutdown's deadline: expected */
    fprintf(stderr, "http_server: fd %d: %s: %s\n", fd, what, rc < 0 ? strerror((int)-rc) : "stopped part-way");
}

/* Closing a socket that still has unread input makes the kernel send a
 * reset, which can destroy the last response before the client reads it.
 * So when we are the one closing, send our FIN first and read what the
 * client still sends until its FIN, for at most LINGER_NS (Go's net/http:
 * closeWriteAndWait). */
static void linger(int fd, char *buf, size_t size)
{
    if (shutdown(fd, SHUT_WR) != 0)
        return;
    gort_set_deadline(fd, gort_nanotime() + LINGER_NS, GORT_DEADLINE_KEEP);
    while (gort_read(fd, buf, size) > 0)
        ;
}

static void serve(void *arg)
{
    struct conn c = {.fd = (int)(intptr_t)arg};
    atomic_init(&c.idle, false);
    track(&c);

    char in[IN_SIZE];   /* unparsed input is in[pos..end) */
    char out[OUT_SIZE]; /* responses not yet written are out[0..o) */
    size_t pos = 0, end = 0;
    uint64_t discard = 0; /* body bytes of the last request still to skip */
    unsigned long served = 0;
    bool closing = false; /* true once we have decided to close after this write */
    struct date date = {0};

    for (;;) {
        /* 1. Answer every complete request in the buffer: usually one, more
         *    when the client pipelines. */
        char *o = out;
        while (!closing) {
            if (discard > 0) {
                size_t k = end - pos < discard ? end - pos : (size_t)discard;
                pos += k;
                discard -= k;
                if (discard > 0)
                    break; /* the body goes on in the next read */
            }
            if (pos == end)
                break;
            struct request rq;
            long r = parse_request(in + pos, end - pos, &rq);
            if (r == 0)
                break; /* a partial request: read the rest */
            if (o - out > OUT_SIZE - MAX_REPLY) { /* many pipelined requests: write what we have */
                ssize_t w = gort_write(c.fd, out, (size_t)(o - out));
                if (w != o - out) {
                    report(c.fd, "write", w);
                    goto done;
                }
                o = out;
            }
            if (r < 0) {
                o = reply(o, &st_bad, 1, false, false, &date);
                closing = true;
                break;
            }
            pos += (size_t)r;
            served++;

            bool keep = rq.minor == 1 ? !rq.conn_close : rq.conn_keep_alive && !rq.conn_close;
            bool head = rq.method_len == 4 && memcmp(rq.method, "HEAD", 4) == 0;
            const struct status *st;
            if (rq.has_te) {
                st = &st_not_impl; /* chunked bodies are not supported: we cannot find the next request */
                keep = false;
            } else if (rq.minor == 1 && !rq.has_host) {
                st = &st_bad; /* HTTP/1.1 requires Host (Go's net/http checks it too) */
                keep = false;
            } else if (!(rq.target_len == 1 && rq.target[0] == '/') &&
                       !(rq.target_len > 1 && rq.target[0] == '/' && rq.target[1] == '?')) {
                st = &st_not_found;
            } else if (head || (rq.method_len == 3 && memcmp(rq.method, "GET", 3) == 0)) {
                st = &st_ok;
            } else {
                st = &st_not_allowed;
            }
            if (rq.content_length > MAX_DISCARD)
                keep = false; /* not worth reading past: close instead */
            if (atomic_load(&srv.shutting))
                keep = false; /* shutting down: tell the client this is the last answer */
            o = reply(o, st, rq.minor, keep, head, &date);
            discard = rq.content_length;
            closing = !keep;
        }

        /* 2. One write for the answers. */
        if (o > out) {
            ssize_t w = gort_write(c.fd, out, (size_t)(o - out));
            if (w != o - out) {
                report(c.fd, "write", w);
                break;
            }
        }
        if (closing) {
            linger(c.fd, in, sizeof in);
            break;
        }

        /* 3. Move a partial request to the front and read more. */
        if (pos > 0) {
            memmove(in, in + pos, end - pos);
            end -= pos;
            pos = 0;
        }
        if (end == sizeof in) { /* a request head that does not fit */
            o = reply(out, &st_too_large, 1, false, false, &date);
            if (gort_write(c.fd, out, (size_t)(o - out)) == o - out)
                linger(c.fd, in, sizeof in);
            break;
        }
        bool idle = served > 0 && end == 0 && discard == 0;
        if (idle) {
            /* Between requests. Say so before checking for shutdown, which
             * sets shutting before it looks at idle: one of the two sees
             * the other (both are sequentially consistent atomics), so an
             * idle connection never sleeps through a shutdown. */
            atomic_store(&c.idle, true);
            if (atomic_load(&srv.shutting))
                break;
        }
        ssize_t n = gort_read(c.fd, in + end, sizeof in - end);
        if (idle)
            atomic_store(&c.idle, false);
        if (n == 0)
            break; /* the client closed the connection */
        if (n < 0) {
            report(c.fd, "read", n);
            break;
        }
        end += (size_t)n;
    }
done:
    untrack(&c);
    int rc = gort_close(c.fd);
    if (rc < 0)
        fprintf(stderr, "http_server: close: %s\n", strerror(-rc));
    gort_wg_done(&srv.handlers);
}

/* ---- shutdown ------------------------------------------------------------------- */

static void shutdown_on_signal(void *arg)
{
    gort_chan_t *sigs = arg;
    int sig;
    gort_chan_recv(sigs, &sig);

    gort_mutex_lock(&srv.mu);
    srv.signal = sig;
    srv.grace_deadline = gort_nanotime() + GRACE_NS;
    atomic_store(&srv.shutting, true);
    for (struct conn *c = srv.conns.next; c != &srv.conns; c = c->next) {
        if (atomic_load(&c->idle)) /* parked between requests: wake it now */
            gort_set_deadline(c->fd, A_LONG_TIME_AGO, GORT_DEADLINE_KEEP);
        else /* a request in progress: let it finish, within the grace time */
            gort_set_deadline(c->fd, srv.grace_deadline, srv.grace_deadline);
    }
    gort_mutex_unlock(&srv.mu);

    int rc = gort_close(srv.lfd); /* wakes the accept loop with -EBADF */
    if (rc < 0)
        fprintf(stderr, "http_server: close listener: %s\n", strerror(-rc));
}

/* ---- main ------------------------------------------------------------------------ */

/* "8080", ":8080", "127.0.0.1:8080", "[::1]:8080" -> host ("" = every
 * address) and port. */
static bool parse_addr(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *p = colon != NULL ? colon + 1 : s;
    size_t hl = colon != NULL ? (size_t)(colon - s) : 0;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= hostlen)
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *e;
    long v = strtol(p, &e, 10);
    if (*p == '\0' || *e != '\0' || v < 0 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

static void print_listening(const char *prog, int lfd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getsockname(lfd, (struct sockaddr *)&ss, &len) != 0) {
        fprintf(stderr, "%s: getsockname: %s\n", prog, strerror(errno));
        return;
    }
    int rc = getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                         NI_NUMERICHOST | NI_NUMERICSERV);
    if (rc != 0) {
        fprintf(stderr, "%s: getnameinfo: %s\n", prog, gai_strerror(rc));
        return;
    }
    printf(ss.ss_family == AF_INET6 ? "%s: listening on [%s]:%s\n" : "%s: listening on %s:%s\n", prog, host, port);
    fflush(stdout);
}

int gort_main(int argc, char **argv)
{
    char host[256] = "";
    int port = DEFAULT_PORT;
    if (argc > 2 || (argc == 2 && !parse_addr(argv[1], host, sizeof host, &port))) {
        fprintf(stderr, "usage: http_server [[host:]port]   (default port %d; 0 = any free port)\n", DEFAULT_PORT);
        return 2;
    }
    srv.conns.next = srv.conns.prev = &srv.conns;
    atomic_init(&srv.shutting, false);

    srv.lfd = gort_listen_tcp(host, port, 0);
    if (srv.lfd < 0) {
        fprintf(stderr, "http_server: listen on %s:%d: %s\n", host, port, strerror(-srv.lfd));
        return 1;
    }
    gort_chan_t *sigs = gort_chan_make(sizeof(int), 2);
    if (sigs == NULL) {
        fprintf(stderr, "http_server: out of memory\n");
        return 1;
    }
    int rc;
    if ((rc = gort_signal_notify(sigs, SIGINT)) < 0 || (rc = gort_signal_notify(sigs, SIGTERM)) < 0) {
        fprintf(stderr, "http_server: gort_signal_notify: %s\n", strerror(-rc));
        return 1;
    }
    gort_go(shutdown_on_signal, sigs);
    print_listening("http_server", srv.lfd);

    unsigned long long accepted = 0;
    int64_t backoff = 0;
    for (;;) {
        int fd = gort_accept(srv.lfd, NULL, NULL);
        if (fd < 0) {
            /* -EBADF once shutdown has closed the listener; we ask the
             * server, not the code alone (see echo_server.c). */
            if (atomic_load(&srv.shutting))
                break;
            if (fd == -ECONNABORTED || fd == -EINTR)
                continue;
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                backoff = backoff == 0 ? 5000000 : backoff * 2 > 1000000000 ? 1000000000 : backoff * 2;
                fprintf(stderr, "http_server: accept: %s; retrying in %lld ms\n", strerror(-fd),
                        (long long)(backoff / 1000000));
                gort_sleep(backoff);
                continue;
            }
            fprintf(stderr, "http_server: accept: %s\n", strerror(-fd));
            return 1;
        }
        backoff = 0;
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            fprintf(stderr, "http_server: TCP_NODELAY: %s\n", strerror(errno));
        accepted++;
        gort_wg_add(&srv.handlers, 1);
        gort_go(serve, (void *)(intptr_t)fd);
    }

    gort_wg_wait(&srv.handlers);
    gort_mutex_lock(&srv.mu);
    int sig = srv.signal;
    gort_mutex_unlock(&srv.mu);
    printf("http_server: %s: stopped after %llu connection(s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM", accepted);
    return 0;
}
