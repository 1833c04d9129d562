/* proxy.c - a TCP proxy: two goroutines per connection, one per direction.
 *
 *   proxy [host:]listen_port target_host target_port [idle_seconds]
 *
 * Each accepted client gets a goroutine that dials the target
 * (gort_dial_tcp, bounded by DIAL_NS), starts a second goroutine to copy
 * target -> client, and copies client -> target itself. Both copies are
 * plain read/write loops; the reads and writes park only their goroutine.
 *
 * Half-closes propagate: when one direction reads end of file, it shuts
 * down the write side of the other socket (shutdown(SHUT_WR)), so the peer
 * sees the FIN while the other direction keeps flowing (a client that sends
 * a request and then shuts down its side still gets the whole answer).
 * Any other end of a direction (an error, the idle timeout) ends the whole
 * connection: the other direction is woken with shutdown(SHUT_RDWR). Both
 * sockets are closed once both directions have finished.
 *
 * Idle timeout: a connection that carries no data in either direction for
 * idle_seconds (default 60) is closed. Every read that returns data pushes
 * the read and write deadlines of both sockets idle_seconds ahead
 * (gort_set_deadline); a read parked past its deadline returns -ETIMEDOUT.
 *
 * Graceful shutdown on SIGINT or SIGTERM: the listener is closed (which
 * wakes the accept loop), the idle timeout drops to GRACE_NS for every open
 * connection - those still moving data go on, quiet ones end within
 * GRACE_NS - and the main goroutine waits for all of them, then exits 0.
 *
 * Try it:  build/samples/echo_server 7000 &
 *          build/samples/proxy 7001 localhost 7000
 *          build/samples/client localhost 7001 50 3 */
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
#include <sys/socket.h>

#define DIAL_NS (5 * 1000000000LL)  /* connecting to the target */
#define GRACE_NS (1 * 1000000000LL) /* the idle timeout once shutdown has begun */
#define BUF_SIZE 32768

/* One proxied connection, on the stack of the goroutine that accepted it
 * (which outlives the second copier: it waits for it). Linked into
 * srv.conns while both sockets are open. */
struct conn {
    int client, target;
    gort_waitgroup_t copier;  /* the target -> client goroutine */
    struct conn *prev, *next;
};

/* One direction of a connection: read from, write to. */
struct half {
    struct conn *c;
    int from, to;
    const char *name;  /* "client -> target" */
    ssize_t end;       /* how it ended: 0 at end of file, or -errno */
};

/* What the goroutines share. The target and lfd are set before any other
 * goroutine starts; idle_ns and shutting are atomic; mu guards the rest. */
static struct server {
    const char *target_host;
    int target_port;
    int lfd;
    atomic_llong idle_ns;       /* the idle timeout; GRACE_NS after shutdown */
    atomic_bool shutting;
    gort_waitgroup_t handlers;  /* one count per connection */
    gort_mutex_t mu;
    struct conn conns;          /* circular list of open connections (mu) */
    int signal;                 /* (mu) */
} srv;

/* ---- deadlines ------------------------------------------------------------ */

/* Push both sockets' read and write deadlines idle_ns ahead. If shutdown
 * shortens idle_ns meanwhile, set them again: shutdown sets the short
 * deadline itself too, but its call may land before ours, and ours would
 * undo it. */
static void renew_deadlines(struct conn *c)
{
    for (;;) {
        long long idle = atomic_load(&srv.idle_ns);
        int64_t d = gort_nanotime() + idle;
        gort_set_deadline(c->client, d, d);
        gort_set_deadline(c->target, d, d);
        if (atomic_load(&srv.idle_ns) == idle)
            return;
    }
}

/* ---- the connection list -------------------------------------------------- */

static void track(struct conn *c)
{
    gort_mutex_lock(&srv.mu);
    c->next = &srv.conns;
    c->prev = srv.conns.prev;
    c->prev->next = c;
    srv.conns.prev = c;
    gort_mutex_unlock(&srv.mu);
}

static void untrack(struct conn *c)
{
    gort_mutex_lock(&srv.mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    gort_mutex_unlock(&srv.mu);
}

/* ---- copying ---------------------------------------------------------------- */

/* Copy h->from to h->to until end of file or an error. */
static void copy(struct half *h)
{
    char buf[BUF_SIZE];
    for (;;) {
        ssize_t n = gort_read(h->from, buf, sizeof buf);
        if (n <= 0) {
            h->end = n;
            break;
        }
        renew_deadlines(h->c); /* data moved: the connection is not idle */
        ssize_t w = gort_write(h->to, buf, (size_t)n);
        if (w != n) {
            h->end = w < 0 ? w : -EIO; /* a partial count: an error stopped the write */
            break;
        }
    }
    if (h->end == 0) {
        /* End of file: pass the half-close on. The other direction goes on. */
        if (shutdown(h->to, SHUT_WR) != 0 && errno != ENOTCONN)
            fprintf(stderr, "proxy: %s: shutdown: %s\n", h->name, strerror(errno));
    } else {
        /* An error or the idle timeout: end the other direction too. Its
         * read of h->to returns end of file at once. (shutdown, not
         * gort_close: the other goroutine still uses the fd, and a closed
         * fd number can be reused under it.) */
        shutdown(h->to, SHUT_RDWR);
    }
}

static void copy_goroutine(void *arg)
{
    struct half *h = arg;
    copy(h);
    gort_wg_done(&h->c->copier);
}

static void report(const struct half *h)
{
    if (h->end == 0 || h->end == -ECONNRESET || h->end == -EPIPE || h->end == -ENOTCONN)
        return;
    if (h->end == -ETIMEDOUT)
        fprintf(stderr, "proxy: %s: idle for %g s, closing the connection\n", h->name,
                (double)atomic_load(&srv.idle_ns) / 1e9);
    else
        fprintf(stderr, "proxy: %s: %s\n", h->name, strerror((int)-h->end));
}

/* The goroutine of one client connection. */
static void serve(void *arg)
{
    struct conn c = {.client = (int)(intptr_t)arg, .target = -1};
    c.target = gort_dial_tcp(srv.target_host, srv.target_port, DIAL_NS);
    if (c.target < 0) {
        fprintf(stderr, "proxy: dial %s:%d: %s\n", srv.target_host, srv.target_port, strerror(-c.target));
        gort_close(c.client);
        gort_wg_done(&srv.handlers);
        return;
    }
    /* Tracked before the first deadline is set: shutdown either finds us
     * in the list or has already shortened idle_ns (before taking mu). */
    track(&c);
    renew_deadlines(&c);

    struct half up = {&c, c.client, c.target, "client -> target", 0};
    struct half down = {&c, c.target, c.client, "target -> client", 0};
    gort_wg_add(&c.copier, 1);
    gort_go(copy_goroutine, &down);
    copy(&up);
    gort_wg_wait(&c.copier); /* down (on our stack) is finished with */

    report(&up);
    if (down.end != -ETIMEDOUT || up.end != -ETIMEDOUT)
        report(&down); /* one idle line per connection is enough */
    untrack(&c);
    int rc1 = gort_close(c.client), rc2 = gort_close(c.target);
    if (rc1 < 0 || rc2 < 0)
        fprintf(stderr, "proxy: close: %s\n", strerror(rc1 < 0 ? -rc1 : -rc2));
    gort_wg_done(&srv.handlers);
}

/* ---- shutdown ---------------------------------------------------------------- */

static void shutdown_on_signal(void *arg)
{
    gort_chan_t *sigs = arg;
    int sig;
    gort_chan_recv(sigs, &sig);

    atomic_store(&srv.shutting, true);
    atomic_store(&srv.idle_ns, GRACE_NS); /* before mu: see serve() */
    int64_t d = gort_nanotime() + GRACE_NS;
    gort_mutex_lock(&srv.mu);
    srv.signal = sig;
    for (struct conn *c = srv.conns.next; c != &srv.conns; c = c->next) {
        gort_set_deadline(c->client, d, d);
        gort_set_deadline(c->target, d, d);
    }
    gort_mutex_unlock(&srv.mu);

    int rc = gort_close(srv.lfd); /* wakes the accept loop with -EBADF */
    if (rc < 0)
        fprintf(stderr, "proxy: close listener: %s\n", strerror(-rc));
}

/* ---- main -------------------------------------------------------------------- */

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
    char host[256];
    int port;
    char *e;
    long tport = argc >= 4 ? strtol(argv[3], &e, 10) : -1;
    double idle_s = argc == 5 ? strtod(argv[4], &e) : 60;
    if (argc < 4 || argc > 5 || !parse_addr(argv[1], host, sizeof host, &port) || tport < 1 || tport > 65535 ||
        !(idle_s > 0 && idle_s < 1e9)) {
        fprintf(stderr, "usage: proxy [host:]listen_port target_host target_port [idle_seconds]\n"
                        "  (listen port 0 = any free port; idle_seconds > 0, default 60)\n");
        return 2;
    }
    srv.target_host = argv[2];
    srv.target_port = (int)tport;
    atomic_init(&srv.idle_ns, (long long)(idle_s * 1e9));
    atomic_init(&srv.shutting, false);
    srv.conns.next = srv.conns.prev = &srv.conns;

    srv.lfd = gort_listen_tcp(host, port, 0);
    if (srv.lfd < 0) {
        fprintf(stderr, "proxy: listen on %s:%d: %s\n", host, port, strerror(-srv.lfd));
        return 1;
    }
    gort_chan_t *sigs = gort_chan_make(sizeof(int), 2);
    if (sigs == NULL) {
        fprintf(stderr, "proxy: out of memory\n");
        return 1;
    }
    int rc;
    if ((rc = gort_signal_notify(sigs, SIGINT)) < 0 || (rc = gort_signal_notify(sigs, SIGTERM)) < 0) {
        fprintf(stderr, "proxy: gort_signal_notify: %s\n", strerror(-rc));
        return 1;
    }
    gort_go(shutdown_on_signal, sigs);
    print_listening("proxy", srv.lfd);

    unsigned long long accepted = 0;
    int64_t backoff = 0;
    for (;;) {
        int fd = gort_accept(srv.lfd, NULL, NULL);
        if (fd < 0) {
            /* -EBADF once shutdown has closed the listener. Ask the server,
             * not the code: the connection goroutines dial, so the closed
             * listener's fd number may already be a new target socket (and
             * accept on that says -EINVAL). */
            if (atomic_load(&srv.shutting))
                break;
            if (fd == -ECONNABORTED || fd == -EINTR)
                continue;
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                backoff = backoff == 0 ? 5000000 : backoff * 2 > 1000000000 ? 1000000000 : backoff * 2;
                fprintf(stderr, "proxy: accept: %s; retrying in %lld ms\n", strerror(-fd),
                        (long long)(backoff / 1000000));
                gort_sleep(backoff);
                continue;
            }
            fprintf(stderr, "proxy: accept: %s\n", strerror(-fd));
            return 1;
        }
        backoff = 0;
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            fprintf(stderr, "proxy: TCP_NODELAY: %s\n", strerror(errno));
        accepted++;
        gort_wg_add(&srv.handlers, 1);
        gort_go(serve, (void *)(intptr_t)fd);
    }

    gort_wg_wait(&srv.handlers);
    gort_mutex_lock(&srv.mu);
    int sig = srv.signal;
    gort_mutex_unlock(&srv.mu);
    printf("proxy: %s: stopped after %llu connection(s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM", accepted);
    return 0;
}
