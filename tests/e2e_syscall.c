/* e2e_syscall.c - blocking calls and the P (gort_entersyscall /
 * gort_exitsyscall / gort_syscall_block; sysmon's retake). Each case is a
 * subcommand; tests/CMakeLists.txt runs them (most with GORTMAXPROCS=1,
 * where a blocked P would stop every other goroutine) and checks the
 * output and exit status.
 *
 *   pipe      a goroutine blocks in read() on a pipe; another goroutine
 *             must run meanwhile and is the one that writes to the pipe
 *   parallel  8 goroutines each block 100 ms in nanosleep: with the P handed
 *             off, they overlap (well under 8 x 100 ms)
 *   fast      a million short calls (getppid) bracketed: the fast path keeps
 *             the P; other goroutines still get their turn
 *   stw       gort_maxprocs changes (stop the world) while a goroutine is
 *             blocked in a call
 *   foreign   the calls from a thread gort does not run: no-ops (and
 *             gort_syscall_block still calls its function)
 *   nested / unpaired / block_inside: misuse, fatal errors */
#include <gort.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static gort_waitgroup_t wg;
static int fds[2];
static atomic_long progress;

static void *blocking_read(void *arg)
{
    char c;
    long n = read(fds[0], &c, 1);
    (void)arg;
    return (void *)n;
}

static void reader(void *arg)
{
    (void)arg;
    void *r = gort_syscall_block(blocking_read, NULL);
    if ((long)r != 1) {
        printf("read returned %ld\n", (long)r);
        exit(1);
    }
    printf("reader: got the byte after %ld steps of the other goroutine\n", atomic_load(&progress));
    gort_wg_done(&wg);
}

static void writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) { /* runs only if the reader's P was handed off */
        atomic_fetch_add(&progress, 1);
        gort_yield();
    }
    if (write(fds[1], "x", 1) != 1)
        exit(1);
    gort_wg_done(&wg);
}

static void *sleep100ms(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return NULL;
}

static void sleeper(void *arg)
{
    (void)arg;
    gort_syscall_block(sleep100ms, NULL);
    gort_wg_done(&wg);
}

static void *ppid(void *arg)
{
    (void)arg;
    return (void *)(long)getppid();
}

static void fastcaller(void *arg)
{
    long n = (long)arg;
    long want = (long)getppid();
    for (long i = 0; i < n; i++) {
        gort_entersyscall();
        long r = (long)getppid();
        gort_exitsyscall();
        if (r != want)
            exit(1);
        if (i % 1000 == 0)
            gort_yield();
    }
    if ((long)gort_syscall_block(ppid, NULL) != want)
        exit(1);
    gort_wg_done(&wg);
}

static void counter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        atomic_fetch_add(&progress, 1);
        gort_yield();
    }
    gort_wg_done(&wg);
}

static void blocked_pipe_reader(void *arg)
{
    (void)arg;
    gort_syscall_block(blocking_read, NULL);
    gort_wg_done(&wg);
}

static void *foreign_thread(void *arg)
{
    (void)arg;
    gort_entersyscall();
    gort_exitsyscall();
    return (long)gort_syscall_block(ppid, NULL) == (long)getppid() ? (void *)1 : NULL;
}

static double ms_since(struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int gort_main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!strcmp(c, "pipe")) {
        if (pipe(fds) != 0)
            return 1;
        gort_wg_add(&wg, 2);
        gort_go(reader, NULL);
        gort_go(writer, NULL);
        gort_wg_wait(&wg);
        printf("pipe ok\n");
    } else if (!strcmp(c, "parallel")) {
        gort_wg_add(&wg, 8);
        for (int i = 0; i < 8; i++)
            gort_go(sleeper, NULL);
        gort_wg_wait(&wg);
        double ms = ms_since(&t0);
        printf("8 x 100 ms blocking calls took %.0f ms\n", ms);
        if (ms > 500) {
            printf("not overlapped\n");
            return 1;
        }
        printf("parallel ok\n");
    } else if (!strcmp(c, "fast")) {
        gort_wg_add(&wg, 2);
        gort_go(fastcaller, (void *)1000000L);
        gort_go(counter, NULL);
        gort_wg_wait(&wg);
        printf("fast ok (%ld)\n", atomic_load(&progress));
    } else if (!strcmp(c, "stw")) {
        if (pipe(fds) != 0)
            return 1;
        gort_wg_add(&wg, 1);
        gort_go(blocked_pipe_reader, NULL);
        gort_sleep(20 * 1000 * 1000); /* it is in read() now */
        int old = gort_maxprocs(2);
        gort_maxprocs(1);
        gort_maxprocs(old);
        if (write(fds[1], "x", 1) != 1)
            return 1;
        gort_wg_wait(&wg);
        printf("stw ok\n");
    } else if (!strcmp(c, "nested")) {
        gort_entersyscall();
        gort_entersyscall();
    } else if (!strcmp(c, "unpaired")) {
        gort_exitsyscall();
    } else if (!strcmp(c, "block_inside")) {
        gort_mutex_t mu = {0};
        gort_mutex_lock(&mu);
        gort_entersyscall();
        gort_sleep(1000);
    } else if (!strcmp(c, "foreign")) {
        pthread_t th; /* a thread gort does not run: the brackets are no-ops */
        void *ok = NULL;
        if (pthread_create(&th, NULL, foreign_thread, NULL) != 0 || pthread_join(th, &ok) != 0 || ok == NULL)
            return 1;
        printf("foreign ok\n");
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 100;
    }
    return 0;
}
