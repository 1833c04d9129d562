/* echo_server.c - a TCP echo server: one goroutine per connection.
 *
 *   echo_server [[host:]port]     default: port 7000 on every address;
 *                                 port 0 picks a free port (printed)
 *
 * The shape of every gort server, as in Go:
 *
 *   - the main goroutine accepts connections in a loop (gort_accept parks
 *     only this goroutine while nobody connects);
 *   - each connection gets its own goroutine (gort_go), which reads and
 *     writes as if the socket were blocking: gort_read and gort_write park
 *     the goroutine, not its thread, so 10 000 idle clients cost 10 000
 *     small stacks and no threads;
 *   - the goroutine closes its socket with gort_close when the client is
 *     done.
 *
 * Graceful shutdown on SIGINT (Ctrl-C) or SIGTERM: a goroutine waits on a
 * channel that gort_signal_notify feeds (Go's signal.Notify), and closes the
 * listener with gort_close. That wakes the accept loop (gort_accept returns
 * -EBADF). Connections still open may finish: they get DRAIN_NS more (a
 * deadline on each), and the main goroutine waits for their goroutines with
 * a WaitGroup before it exits 0 with one line on stdout.
 *
 * Try it:  build/samples/echo_server 7000     and, elsewhere,  nc localhost 7000 */
#include <gort.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_PORT 7000
#define DRAIN_NS (5 * 1000000000LL) /* what open connections get after a shutdown signal */

/* One open connection. It lives on the stack of the goroutine serving it
 * (goroutine stacks are cheap and stay put) and is linked into srv.conns
 * while the socket is open, so that shutdown can find it. */
struct conn {
    int fd;
    struct conn *prev, *next;
};

/* What the goroutines share. lfd is set before any other goroutine starts;
 * mu guards the rest; the WaitGroup synchronises itself. */
static struct server {
    int lfd;                    /* the listening socket */
    gort_waitgroup_t handlers;  /* one count per connection goroutine */
    gort_mutex_t mu;
    struct conn conns;          /* circular list of open connections (mu) */
    int64_t drain_deadline;     /* 0 while serving; set at shutdown (mu) */
    int signal;                 /* the signal that stopped the server (mu) */
} srv;

/* ---- the connection list -------------------------------------------------- */

/* Link c into srv.conns. A connection accepted just as shutdown began gets
 * the drain deadline here (shutdown's walk of the list may have missed it). */
static void track(struct conn *c)
{
    gort_mutex_lock(&srv.mu);
    c->next = &srv.conns;
    c->prev = srv.conns.prev;
    c->prev->next = c;
    srv.conns.prev = c;
    int64_t drain = srv.drain_deadline;
    gort_mutex_unlock(&srv.mu);
    if (drain != 0)
        gort_set_deadline(c->fd, drain, drain);
}

/* Unlink c: after this, shutdown no longer touches c->fd, so it is safe to
 * close (a closed fd number may be reused at once by another socket). */
static void untrack(struct conn *c)
{
    gort_mutex_lock(&srv.mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    gort_mutex_unlock(&srv.mu);
}

static bool shutting_down(void)
{
    gort_mutex_lock(&srv.mu);
    bool s = srv.drain_deadline != 0;
    gort_mutex_unlock(&srv.mu);
    return s;
}

/* ---- one connection ------------------------------------------------------- */

/* The goroutine of one connection: echo until the client closes its side. */
static void serve(void *arg)
{
    struct conn c = {.fd = (int)(intptr_t)arg};
    track(&c);

    char buf[16384];
    for (;;) {
        ssize_t n = gort_read(c.fd, buf, sizeof buf); /* parks until data, EOF or error */
        if (n == 0)
            break; /* the client closed (or half-closed) its side: we are done */
        if (n < 0) {
            if (n == -ETIMEDOUT)
                fprintf(stderr, "echo_server: fd %d: still open when the drain time ran out; closing it\n", c.fd);
            else if (n != -ECONNRESET)
                fprintf(stderr, "echo_server: fd %d: read: %s\n", c.fd, strerror((int)-n));
            break;
        }
        /* gort_write writes all n bytes (retrying short writes, as Go's
         * Write); anything else means an error stopped it part-way. */
        ssize_t w = gort_write(c.fd, buf, (size_t)n);
        if (w != n) {
            if (w >= 0)
                fprintf(stderr, "echo_server: fd %d: write stopped after %zd of %zd bytes\n", c.fd, w, n);
            else if (w != -EPIPE && w != -ECONNRESET) /* the client went away: not worth a line */
                fprintf(stderr, "echo_server: fd %d: write: %s\n", c.fd, strerror((int)-w));
            break;
        }
    }

    untrack(&c);
    int rc = gort_close(c.fd);
    if (rc < 0)
        fprintf(stderr, "echo_server: close: %s\n", strerror(-rc));
    gort_wg_done(&srv.handlers);
}

/* ---- shutdown ------------------------------------------------------------- */

/* Waits for SIGINT or SIGTERM, then stops the server: no new connections,
 * DRAIN_NS for those open. */
static void shutdown_on_signal(void *arg)
{
    gort_chan_t *sigs = arg;
    int sig;
    gort_chan_recv(sigs, &sig);

    gort_mutex_lock(&srv.mu);
    srv.signal = sig;
    srv.drain_deadline = gort_nanotime() + DRAIN_NS;
    for (struct conn *c = srv.conns.next; c != &srv.conns; c = c->next)
        gort_set_deadline(c->fd, srv.drain_deadline, srv.drain_deadline); /* reads and writes */
    gort_mutex_unlock(&srv.mu);

    /* Wakes the accept loop: its gort_accept returns -EBADF. */
    int rc = gort_close(srv.lfd);
    if (rc < 0)
        fprintf(stderr, "echo_server: close listener: %s\n", strerror(-rc));
}

/* ---- main ----------------------------------------------------------------- */

/* "7000", ":7000", "127.0.0.1:7000", "[::1]:7000" -> host ("" = every
 * address) and port. false if it is not of that form. */
static bool parse_addr(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *p = colon != NULL ? colon + 1 : s;
    size_t hl = colon != NULL ? (size_t)(colon - s) : 0;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') { /* [v6 address] */
        s++;
        hl -= 2;
    }
    if (hl >= hostlen)
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long v = strtol(p, &end, 10);
    if (*p == '\0' || *end != '\0' || v < 0 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/* Print the address we listen on, port 0 resolved ("listening on
 * 127.0.0.1:40123"); flushed, as a script may be waiting for it. */
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
        fprintf(stderr, "usage: echo_server [[host:]port]   (default port %d; 0 = any free port)\n", DEFAULT_PORT);
        return 2;
    }
    srv.conns.next = srv.conns.prev = &srv.conns;

    srv.lfd = gort_listen_tcp(host, port, 0);
    if (srv.lfd < 0) {
        fprintf(stderr, "echo_server: listen on %s:%d: %s\n", host, port, strerror(-srv.lfd));
        return 1;
    }

    /* signal.Notify(sigs, SIGINT, SIGTERM), with a buffer so that a signal
     * arriving before the goroutine waits is not dropped. */
    gort_chan_t *sigs = gort_chan_make(sizeof(int), 2);
    if (sigs == NULL) {
        fprintf(stderr, "echo_server: out of memory\n");
        return 1;
    }
    int rc;
    if ((rc = gort_signal_notify(sigs, SIGINT)) < 0 || (rc = gort_signal_notify(sigs, SIGTERM)) < 0) {
        fprintf(stderr, "echo_server: gort_signal_notify: %s\n", strerror(-rc));
        return 1;
    }
    gort_go(shutdown_on_signal, sigs);
    print_listening("echo_server", srv.lfd);

    /* The accept loop. */
    unsigned long long served = 0;
    int64_t backoff = 0;
    for (;;) {
        int fd = gort_accept(srv.lfd, NULL, NULL);
        if (fd < 0) {
            /* After shutdown the listener is closed, and gort_accept says
             * -EBADF. Ask the server rather than trust the code alone: in a
             * program that opens other sockets, the closed listener's fd
             * number could already belong to one of them. */
            if (shutting_down())
                break;
            if (fd == -ECONNABORTED || fd == -EINTR)
                continue; /* that client gave up before we took it: next */
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                /* Out of fds or memory: wait for connections to end, as Go's
                 * net/http does (5 ms, doubling, up to 1 s). */
                backoff = backoff == 0 ? 5000000 : backoff * 2 > 1000000000 ? 1000000000 : backoff * 2;
                fprintf(stderr, "echo_server: accept: %s; retrying in %lld ms\n", strerror(-fd),
                        (long long)(backoff / 1000000));
                gort_sleep(backoff);
                continue;
            }
            fprintf(stderr, "echo_server: accept: %s\n", strerror(-fd));
            return 1; /* the process ends, and its connections with it */
        }
        backoff = 0;
        /* Small writes go out at once (Go sets TCP_NODELAY on every TCP
         * connection too). */
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            fprintf(stderr, "echo_server: TCP_NODELAY: %s\n", strerror(errno));
        served++;
        gort_wg_add(&srv.handlers, 1);
        gort_go(serve, (void *)(intptr_t)fd);
    }

    gort_wg_wait(&srv.handlers); /* every connection has finished */
    gort_mutex_lock(&srv.mu);
    int sig = srv.signal;
    gort_mutex_unlock(&srv.mu);
    printf("echo_server: %s: stopped after %llu connection(s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM", served);
    return 0;
}
