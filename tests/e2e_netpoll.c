/* e2e_netpoll.c - the poller (gort/io.h) at the level of the process, run
 * by ctest through expect.sh (tests/CMakeLists.txt, "netpoll.*" and
 * "netpoll_epoll.*": each case on the default poller and on epoll).
 *
 *   thread_wakes       main waits on a channel that a goroutine fills after a
 *                      gort_read that completes only when a plain pthread
 *                      writes, 200 ms later: no deadlock report, exit 0
 *   io_forever         every goroutine waits on I/O that never completes
 *                      (read, accept, gort_poll_fd) and no timer is
 *                      pending: the deadlock detector must not fire; the
 *                      test kills the process after 1.5 s
 *   deadlock_after_io  I/O that completed, then main blocks on a channel for
 *                      ever: the detector still fires (exit 2; a watchdog
 *                      thread ends a hang after 10 s with status 3)
 *   sigquit            a goroutine parked in gort_read; another raises
 *                      SIGQUIT: the dump shows it as [IO wait]
 *   sigpipe_fd1/fd2    gort_write to fd 1 (2), a pipe whose reader is gone:
 *                      the process dies of SIGPIPE, as in Go
 *   pipe_epipe         the same on another fd: -EPIPE, the process lives
 *   parked_epipe pipe|socket  a gort_write parked on a full pipe (socket)
 *                      whose reader then closes: a partial count, the next
 *                      write -EPIPE, and the process lives (gort's own
 *                      SIGPIPE disposition)
 *   conns N            N concurrent TCP connections over loopback: one
 *                      acceptor, an echo goroutine each, N client goroutines
 *                      with a round trip each; all open at once. Raises
 *                      RLIMIT_NOFILE to its hard limit; if that is below 2N
 *                      the clients run in a child process (each side needs
 *                      N fds); below N, exit 77 (skipped)
 *   conns_client PORT N  that child
 *   probe_uring        exit 0 if io_uring_setup works here, 1 if not */
#include <gort.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/io_uring.h>

extern char **environ;

static int64_t ms(int64_t n) { return n * 1000 * 1000; }

/* ---- thread_wakes ---------------------------------------------------------------- */

static int pfd[2];
static gort_chan_t *done;

static void *late_writer(void *arg)
{
    (void)arg;
    usleep(200 * 1000);
    if (write(pfd[1], "wake", 4) != 4)
        perror("write");
    return NULL;
}

static void pipe_reader(void *arg)
{
    (void)arg;
    char b[16];
    int n = (int)gort_read(pfd[0], b, sizeof b);
    gort_chan_send(done, &n);
}

static int thread_wakes(void)
{
    if (pipe(pfd) != 0)
        return 1;
    done = gort_chan_make(sizeof(int), 0);
    gort_go(pipe_reader, NULL);
    pthread_t t;
    pthread_create(&t, NULL, late_writer, NULL);
    int64_t t0 = gort_nanotime();
    int n = 0;
    gort_chan_recv(done, &n);
    double el = (double)(gort_nanotime() - t0) / 1e6;
    pthread_join(t, NULL);
    if (n != 4 || el < 150) {
        printf("thread_wakes: gort_read = %d after %.1f ms, want 4 after 200 ms\n", n, el);
        return 1;
    }
    printf("thread_wakes ok\n");
    return 0;
}

/* ---- io_forever / deadlock_after_io ------------------------------------------------ */

static void forever_read(void *arg)
{
    char b[4];
    ssize_t r = gort_read((int)(intptr_t)arg, b, sizeof b);
    printf("io_forever: a read returned %zd\n", r);
    fflush(stdout);
}

static void forever_accept(void *arg)
{
    int r = gort_accept((int)(intptr_t)arg, NULL, NULL);
    printf("io_forever: accept returned %d\n", r);
    fflush(stdout);
}

static void forever_poll(void *arg)
{
    int r = gort_poll_fd((int)(intptr_t)arg, POLLIN, -1);
    printf("io_forever: gort_poll_fd returned %d\n", r);
    fflush(stdout);
}

static int io_forever(void)
{
    int p[2], sv[2], sv2[2];
    if (pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) != 0)
        return 1;
    int l = gort_listen_tcp("127.0.0.1", 0, 0);
    if (l < 0) {
        printf("io_forever: gort_listen_tcp = %d\n", l);
        return 1;
    }
    gort_go(forever_read, (void *)(intptr_t)p[0]);
    gort_go(forever_accept, (void *)(intptr_t)l);
    gort_go(forever_poll, (void *)(intptr_t)sv2[0]);
    printf("waiting\n");
    fflush(stdout);
    char b[4];
    ssize_t r = gort_read(sv[0], b, sizeof b);
    printf("io_forever: main's read returned %zd\n", r);
    return 1;
}

static void *no_report(void *arg)
{
    (void)arg;
    sleep(10);
    printf("deadlock_after_io: no deadlock report 10 s later\n");
    fflush(stdout);
    _exit(3);
}

static int deadlock_after_io(void)
{
    if (pipe(pfd) != 0)
        return 1;
    pthread_t wd;
    pthread_create(&wd, NULL, no_report, NULL); /* a plain thread: not a goroutine, not counted */
    done = gort_chan_make(sizeof(int), 0);
    gort_go(pipe_reader, NULL);
    pthread_t t;
    pthread_create(&t, NULL, late_writer, NULL);
    int n = 0;
    gort_chan_recv(done, &n);
    pthread_join(t, NULL);
    printf("read %d\n", n);
    fflush(stdout);
    gort_chan_t *never = gort_chan_make(sizeof(int), 0);
    gort_chan_recv(never, &n); /* nothing else can run: a deadlock */
    printf("deadlock_after_io: the receive returned\n");
    return 1;
}

/* ---- sigquit ------------------------------------------------------------------------ */

static void quitter(void *arg)
{
    (void)arg;
    gort_sleep(ms(100));
    raise(SIGQUIT);
    gort_sleep(ms(10000));
    printf("still alive 10 s after SIGQUIT\n");
    fflush(stdout);
    exit(1);
}

static int sigquit(void)
{
    if (pipe(pfd) != 0)
        return 1;
    done = gort_chan_make(sizeof(int), 0);
    gort_go(pipe_reader, NULL);
    gort_go(quitter, NULL);
    int n;
    gort_chan_recv(done, &n);
    printf("sigquit: the read returned %d\n", n);
    return 1;
}

/* ---- SIGPIPE ---------------------------------------------------------------------- */

static int sigpipe_fd(int fd)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    close(p[0]);
    int other = fd == 1 ? 2 : 1;
    if (dup2(p[1], fd) < 0)
        return 1;
    close(p[1]);
    ssize_t r = gort_write(fd, "x", 1);
    dprintf(other, "survived: gort_write(%d) to a pipe without reader returned %zd\n", fd, r);
    return 1;
}

static int pipe_epipe(void)
{
    int p[2];
    if (pipe(p) != 0)
        return 1;
    close(p[0]);
    ssize_t r = gort_write(p[1], "x", 1);
    struct iovec iov = {"y", 1};
    ssize_t rv = gort_writev(p[1], &iov, 1);
    if (r != -EPIPE || rv != -EPIPE) {
        printf("pipe_epipe: gort_write = %zd, gort_writev = %zd, want -EPIPE (%d)\n", r, rv, -EPIPE);
        return 1;
    }
    printf("pipe_epipe ok\n");
    return 0;
}

static int pw_fds[2];
static void parked_writer(void *arg)
{
    (void)arg;
    static char big[1 << 20];
    ssize_t r = gort_write(pw_fds[1], big, sizeof big);
    ssize_t r2 = gort_write(pw_fds[1], big, 1);
    printf("parked gort_write = %zd, then %zd\n", r, r2);
    fflush(stdout);
    int ok = r > 0 && r < (ssize_t)sizeof big && r2 == -EPIPE;
    gort_chan_send(done, &ok);
}

static int parked_epipe(const char *kind)
{
    if (!strcmp(kind, "socket") ? socketpair(AF_UNIX, SOCK_STREAM, 0, pw_fds) != 0 : pipe(pw_fds) != 0)
        return 1;
    done = gort_chan_make(sizeof(int), 1);
    gort_go(parked_writer, NULL);
    gort_sleep(ms(50)); /* it fills the buffer and parks */
    printf("closing the reader\n");
    fflush(stdout);
    gort_close(pw_fds[0]);
    int ok = 0;
    gort_chan_recv(done, &ok);
    printf(ok ? "parked_epipe ok\n" : "parked_epipe: wrong results\n");
    return ok ? 0 : 1;
}

/* ---- conns ---------------------------------------------------------------------------- */

static int nconn, lport;
static int accepted, echoed, served, echo_errs, cl_ok, cl_eof, cl_fail, first_err, first_err_stage;
static gort_waitgroup_t rt_wg, cl_wg, echo_wg, srv_wg;
static gort_chan_t *release;

static void note_err(int stage, long err)
{
    __atomic_fetch_add(&cl_fail, 1, __ATOMIC_SEQ_CST);
    int zero = 0;
    if (__atomic_compare_exchange_n(&first_err, &zero, (int)err, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        __atomic_store_n(&first_err_stage, stage, __ATOMIC_SEQ_CST);
}

/* The server side closes first (after every echo is done), so that the
 * TIME_WAIT connections are on the listener's port, not on ephemeral ports
 * a repeated run needs. */
static void echo(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char b[8];
    ssize_t got = 0, r = 0;
    while (got < 8 && (r = gort_read(fd, b + got, (size_t)(8 - got))) > 0)
        got += r;
    if (got != 8 || gort_write(fd, b, 8) != 8)
        __atomic_fetch_add(&echo_errs, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_add(&echoed, 1, __ATOMIC_SEQ_CST);
    gort_wg_done(&echo_wg);
    gort_chan_recv(release, NULL); /* every connection stays open until all are echoed */
    gort_close(fd);
    __atomic_fetch_add(&served, 1, __ATOMIC_SEQ_CST);
    gort_wg_done(&srv_wg);
}

static void acceptor(void *arg)
{
    int l = (int)(intptr_t)arg;
    for (int i = 0; i < nconn; i++) {
        int fd = gort_accept(l, NULL, NULL);
        if (fd < 0) {
            printf("conns: accept %d = %d (%s)\n", i, fd, strerror(-fd));
            fflush(stdout);
            for (; i < nconn; i++) {
                gort_wg_done(&echo_wg);
                gort_wg_done(&srv_wg);
            }
            return;
        }
        __atomic_fetch_add(&accepted, 1, __ATOMIC_SEQ_CST);
        gort_go(echo, (void *)(intptr_t)fd);
    }
}

/* a connection, a round trip, then a read that ends at the server's close */
static void client(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg, v = id * 2654435761u + 1, back = 0;
    int fd = gort_dial_tcp("127.0.0.1", lport, ms(30000));
    if (fd < 0) {
        note_err(1, fd);
    } else {
        ssize_t w = gort_write(fd, &v, 8), got = 0;
        if (w != 8) {
            note_err(2, w);
        } else {
            while (got < 8) {
                ssize_t r = gort_read(fd, (char *)&back + got, (size_t)(8 - got));
                if (r <= 0) {
                    note_err(3, r ? r : -1000);
                    break;
                }
                got += r;
            }
            if (got == 8 && back != v)
                note_err(4, -2000);
            else if (got == 8)
                __atomic_fetch_add(&cl_ok, 1, __ATOMIC_SEQ_CST);
        }
    }
    gort_wg_done(&rt_wg);
    if (fd >= 0) {
        char c;
        ssize_t r = gort_read(fd, &c, 1);
        if (r == 0)
            __atomic_fetch_add(&cl_eof, 1, __ATOMIC_SEQ_CST);
        else
            note_err(5, r ? r : -3000);
        gort_close(fd);
    }
    gort_wg_done(&cl_wg);
}

static void wg_closer(void *arg)
{
    void **a = arg;
    gort_wg_wait(a[0]);
    gort_chan_close(a[1]);
}

/* wait for wg at most ns; false on timeout */
static bool wg_wait_for(gort_waitgroup_t *wg, int64_t ns)
{
    gort_chan_t *c = gort_chan_make(0, 0);
    void **args = malloc(2 * sizeof(void *)); /* (leaks: the closer may outlive a timeout) */
    args[0] = wg;
    args[1] = c;
    gort_go(wg_closer, args);
    gort_chan_t *t = gort_after(ns);
    gort_select_case_t cs[2] = {{.chan = c, .dir = GORT_SELECT_RECV}, {.chan = t, .dir = GORT_SELECT_RECV}};
    int i = gort_select(cs, 2, true);
    gort_chan_free(t);
    return i == 0; /* (c leaks on a timeout: the closer still holds it) */
}

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

static void stats(const char *when)
{
    printf("conns: %s: accepted %d, echoed %d, closed %d, echo errors %d, clients ok %d, EOF %d, failed %d "
           "(first error %d at stage %d: 1 dial, 2 write, 3 read, 4 wrong bytes, 5 no EOF), fds %d, goroutines %lld\n",
           when, __atomic_load_n(&accepted, __ATOMIC_SEQ_CST), __atomic_load_n(&echoed, __ATOMIC_SEQ_CST),
           __atomic_load_n(&served, __ATOMIC_SEQ_CST), __atomic_load_n(&echo_errs, __ATOMIC_SEQ_CST),
           __atomic_load_n(&cl_ok, __ATOMIC_SEQ_CST), __atomic_load_n(&cl_eof, __ATOMIC_SEQ_CST),
           __atomic_load_n(&cl_fail, __ATOMIC_SEQ_CST), __atomic_load_n(&first_err, __ATOMIC_SEQ_CST),
           __atomic_load_n(&first_err_stage, __ATOMIC_SEQ_CST), fd_count(), (long long)gort_num_goroutine());
    fflush(stdout);
}

/* the clients: n goroutines, each a connection and a round trip, then
 * waiting for the server's close */
static int run_clients(void)
{
    gort_wg_add(&rt_wg, nconn);
    gort_wg_add(&cl_wg, nconn);
    for (int i = 0; i < nconn; i++)
        gort_go(client, (void *)(uintptr_t)i);
    if (!wg_wait_for(&rt_wg, ms(60000))) {
        stats("round trips not done after 60 s");
        return 1;
    }
    if (__atomic_load_n(&cl_ok, __ATOMIC_SEQ_CST) != nconn) {
        stats("round trips failed");
        return 1;
    }
    printf("conns: %d round trips done, %d fds open\n", nconn, fd_count());
    fflush(stdout);
    if (!wg_wait_for(&cl_wg, ms(60000))) {
        stats("clients saw no EOF 60 s after their round trips");
        return 1;
    }
    if (__atomic_load_n(&cl_eof, __ATOMIC_SEQ_CST) != nconn) {
        stats("EOF failed");
        return 1;
    }
    return 0;
}

/* the server side once every connection is echoed: all open at once, then closed */
static int release_servers(void)
{
    if (!wg_wait_for(&echo_wg, ms(60000))) {
        stats("echoes not done after 60 s");
        return 1;
    }
    int open = fd_count();
    if (__atomic_load_n(&echoed, __ATOMIC_SEQ_CST) != nconn) {
        stats("echo failed");
        return 1;
    }
    printf("conns: %d connections echoed, %d fds open at once\n", nconn, open);
    fflush(stdout);
    gort_chan_close(release);
    if (!wg_wait_for(&srv_wg, ms(30000))) {
        stats("server side not closed after 30 s");
        return 1;
    }
    return 0;
}

static void server_releaser(void *arg)
{
    *(int *)arg = release_servers();
    gort_wg_done(&cl_wg);
}

static void raise_nofile(struct rlimit *rl)
{
    getrlimit(RLIMIT_NOFILE, rl);
    rl->rlim_cur = rl->rlim_max;
    setrlimit(RLIMIT_NOFILE, rl);
    getrlimit(RLIMIT_NOFILE, rl);
}

static int conns_client(int port, int n)
{
    struct rlimit rl;
    raise_nofile(&rl);
    nconn = n;
    lport = port;
    return run_clients();
}

static int conns(int n)
{
    nconn = n;
    struct rlimit rl;
    raise_nofile(&rl);
    long need_one = 2L * n + 100, need_split = (long)n + 100;
    bool split = (long)rl.rlim_cur < need_one;
    if ((long)rl.rlim_cur < need_split) {
        printf("SKIP: RLIMIT_NOFILE hard limit %llu is below %ld, the fds of %d connections\n",
               (unsigned long long)rl.rlim_max, need_split, n);
        return 77;
    }
    int64_t t0 = gort_nanotime();
    int l = gort_listen_tcp("127.0.0.1", 0, 0);
    if (l < 0) {
        printf("conns: gort_listen_tcp = %d\n", l);
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(l, (struct sockaddr *)&ss, &sl);
    lport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    gort_wg_add(&echo_wg, n);
    gort_wg_add(&srv_wg, n);
    release = gort_chan_make(0, 0);
    gort_go(acceptor, (void *)(intptr_t)l);
    int rc, src = 0;
    if (!split) {
        printf("conns: %d connections in one process (RLIMIT_NOFILE %llu)\n", n, (unsigned long long)rl.rlim_cur);
        gort_wg_add(&cl_wg, 1);
        gort_go(server_releaser, &src);
        rc = run_clients(); /* waits for cl_wg: the clients and the releaser */
    } else {
        printf("conns: clients in a child process (RLIMIT_NOFILE %llu < %ld)\n", (unsigned long long)rl.rlim_cur,
               need_one);
        fflush(stdout);
        char ps[16], ns[16];
        snprintf(ps, sizeof ps, "%d", lport);
        snprintf(ns, sizeof ns, "%d", n);
        char *args[] = {"e2e_netpoll", "conns_client", ps, ns, NULL};
        pid_t pid;
        int e = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ);
        if (e != 0) {
            printf("conns: posix_spawn: %s\n", strerror(e));
            return 1;
        }
        src = release_servers();
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int pr = gort_poll_fd(pidfd, POLLIN, ms(100000));
        int st = 0;
        if (pr <= 0) {
            printf("conns: the client process did not end (gort_poll_fd on its pidfd = %d)\n", pr);
            kill(pid, SIGKILL);
        }
        waitpid(pid, &st, 0);
        close(pidfd);
        rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
        if (rc)
            printf("conns: the client process ended with status %d\n", st);
    }
    if (rc || src) {
        stats("failed");
        return rc ? rc : src;
    }
    if (__atomic_load_n(&accepted, __ATOMIC_SEQ_CST) != n || __atomic_load_n(&echo_errs, __ATOMIC_SEQ_CST)) {
        stats("server side failed");
        return 1;
    }
    gort_close(l);
    printf("conns ok %d in %.0f ms\n", n, (double)(gort_nanotime() - t0) / 1e6);
    return 0;
}

static int probe_uring(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(__NR_io_uring_setup, 8, &p);
    if (fd < 0)
        return 1;
    close((int)fd);
    return 0;
}

int gort_main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "thread_wakes"))
        return thread_wakes();
    if (!strcmp(c, "io_forever"))
        return io_forever();
    if (!strcmp(c, "deadlock_after_io"))
        return deadlock_after_io();
    if (!strcmp(c, "sigquit"))
        return sigquit();
    if (!strcmp(c, "sigpipe_fd1"))
        return sigpipe_fd(1);
    if (!strcmp(c, "sigpipe_fd2"))
        return sigpipe_fd(2);
    if (!strcmp(c, "pipe_epipe"))
        return pipe_epipe();
    if (!strcmp(c, "parked_epipe") && argc > 2)
        return parked_epipe(argv[2]);
    if (!strcmp(c, "conns"))
        return conns(argc > 2 ? atoi(argv[2]) : 10000);
    if (!strcmp(c, "conns_client") && argc > 3)
        return conns_client(atoi(argv[2]), atoi(argv[3]));
    if (!strcmp(c, "probe_uring"))
        return probe_uring();
    printf("usage: e2e_netpoll thread_wakes|io_forever|deadlock_after_io|sigquit|sigpipe_fd1|sigpipe_fd2|"
           "pipe_epipe|conns [N]|probe_uring\n");
    return 2;
}
