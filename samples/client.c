/* client.c - N concurrent client goroutines against an echo server.
 *
 *   client host port N [seconds]      (default 3 seconds)
 *
 * Each goroutine dials host:port (gort_dial_tcp, at most ROUND_NS), then
 * does request/response rounds until the time is up: it writes a message
 * and reads until the whole echo is back, checking every byte. Each round
 * has a deadline for its reads and writes (gort_set_deadline); a round
 * that misses it counts as a timeout. After a timeout or an error the
 * goroutine closes its connection and dials again.
 *
 * Each goroutine counts into its own struct, so nothing is shared while
 * they run; the main goroutine adds the counts up after the WaitGroup says
 * all are done. Exits 0 if every round succeeded, 1 otherwise.
 *
 * Try it:  build/samples/echo_server 7000 &   build/samples/client localhost 7000 100 3 */
#include <gort.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUND_NS (2 * 1000000000LL)    /* a dial, or a round's write + reads */
#define RETRY_NS (100 * 1000000LL)     /* pause before dialling again after a failure */

struct worker {
    int id;
    const char *host;
    int port;
    int64_t end;               /* stop starting rounds at this gort_nanotime() */
    gort_waitgroup_t *done;
    /* results, read by main after done */
    unsigned long long ok, timeouts, errors, dials;
    int64_t total_ns;          /* time spent in successful rounds */
    char first_error[128];     /* the first timeout or error, for the summary */
};

static void failed(struct worker *w, const char *what, long rc)
{
    if (rc == -ETIMEDOUT)
        w->timeouts++;
    else
        w->errors++;
    if (w->first_error[0] == '\0')
        snprintf(w->first_error, sizeof w->first_error, "%s: %s", what,
                 rc < 0 ? strerror((int)-rc) : "the reply differs from the request");
}

/* One round on fd: write a message, read its echo back. 0, or -errno
 * (-EPROTO if the echo differs, -ECONNRESET if the server closed). */
static int round_trip(int fd, const char *msg, size_t len, char *buf, const char **what)
{
    int64_t d = gort_nanotime() + ROUND_NS;
    gort_set_deadline(fd, d, d);
    *what = "write";
    ssize_t n = gort_write(fd, msg, len);
    if (n != (ssize_t)len)
        return n < 0 ? (int)n : -EIO;
    *what = "read";
    size_t got = 0;
    while (got < len) { /* the echo may come back in pieces */
        n = gort_read(fd, buf + got, len - got);
        if (n == 0)
            return -ECONNRESET; /* the server closed before echoing all of it */
        if (n < 0)
            return (int)n;
        got += (size_t)n;
    }
    *what = "echo";
    return memcmp(buf, msg, len) == 0 ? 0 : -EPROTO;
}

static void run_worker(void *arg)
{
    struct worker *w = arg;
    char msg[512], buf[512];
    int fd = -1;
    for (unsigned long long seq = 0; gort_nanotime() < w->end; seq++) {
        if (fd < 0) {
            w->dials++;
            fd = gort_dial_tcp(w->host, w->port, ROUND_NS);
            if (fd < 0) {
                failed(w, "dial", fd);
                gort_sleep(RETRY_NS);
                continue;
            }
        }
        /* Messages of varying length (up to 400 bytes of padding), so that
         * the echo sometimes comes back in more than one read. */
        int len = snprintf(msg, sizeof msg, "client %d round %llu ", w->id, seq);
        size_t pad = (size_t)(seq * 37 % 400);
        memset(msg + len, '.', pad);
        msg[(size_t)len + pad] = '\n';
        size_t msg_len = (size_t)len + pad + 1;
        const char *what;
        int64_t t0 = gort_nanotime();
        int rc = round_trip(fd, msg, msg_len, buf, &what);
        if (rc == 0) {
            w->ok++;
            w->total_ns += gort_nanotime() - t0;
            continue;
        }
        failed(w, what, rc);
        gort_close(fd); /* start again on a fresh connection */
        fd = -1;
    }
    if (fd >= 0) {
        int rc = gort_close(fd);
        if (rc < 0)
            failed(w, "close", rc);
    }
    gort_wg_done(w->done);
}

int gort_main(int argc, char **argv)
{
    char *e;
    long port = argc >= 3 ? strtol(argv[2], &e, 10) : -1;
    long n = argc >= 4 ? strtol(argv[3], &e, 10) : -1;
    double seconds = argc == 5 ? strtod(argv[4], &e) : 3;
    if (argc < 4 || argc > 5 || port < 1 || port > 65535 || n < 1 || n > 1000000 || !(seconds > 0 && seconds < 1e6)) {
        fprintf(stderr, "usage: client host port N [seconds]   (N concurrent connections; default 3 seconds)\n");
        return 2;
    }

    struct worker *ws = calloc((size_t)n, sizeof *ws);
    if (ws == NULL) {
        fprintf(stderr, "client: out of memory\n");
        return 1;
    }
    gort_waitgroup_t done = {0};
    int64_t t0 = gort_nanotime(), end = t0 + (int64_t)(seconds * 1e9);
    gort_wg_add(&done, n);
    for (long i = 0; i < n; i++) {
        ws[i] = (struct worker){.id = (int)i, .host = argv[1], .port = (int)port, .end = end, .done = &done};
        gort_go(run_worker, &ws[i]);
    }
    gort_wg_wait(&done);
    double elapsed = (double)(gort_nanotime() - t0) / 1e9;

    unsigned long long ok = 0, timeouts = 0, errors = 0, dials = 0;
    int64_t total_ns = 0;
    const char *first = NULL;
    for (long i = 0; i < n; i++) {
        ok += ws[i].ok;
        timeouts += ws[i].timeouts;
        errors += ws[i].errors;
        dials += ws[i].dials;
        total_ns += ws[i].total_ns;
        if (first == NULL && ws[i].first_error[0] != '\0')
            first = ws[i].first_error;
    }
    printf("client: %ld connection(s) to %s:%ld for %.1f s: %llu ok, %llu timeouts, %llu errors, %llu dials; "
           "%.0f rounds/s, %.1f us per round\n",
           n, argv[1], port, elapsed, ok, timeouts, errors, dials, (double)ok / elapsed,
           ok > 0 ? (double)total_ns / (double)ok / 1e3 : 0.0);
    if (first != NULL)
        printf("client: first failure: %s\n", first);
    int status = timeouts == 0 && errors == 0 && ok > 0 ? 0 : 1;
    free(ws);
    return status;
}
