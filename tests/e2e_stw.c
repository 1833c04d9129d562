/* e2e_stw.c - stop-the-world and SIGQUIT while every P runs a goroutine
 * that never calls gort (issue 11, faults 1 and 2).
 *
 *   maxprocs      one spinner per P (loops that call nothing); main changes
 *                 GOMAXPROCS down and up 20 times. Each change stops the
 *                 world, which must reach the spinners by async preemption;
 *                 prints the worst and median time of one change
 *   maxprocs coop the same, but the spinners call gort_nanotime now and then
 *                 (for builds and settings without async preemption: the
 *                 stop must complete at the next cooperative point)
 *   maxprocs off  main keeps a P and n-1 spinners bracket their first
 *                 50 ms with gort_preempt_off: the first stop starts inside
 *                 the bracket, keeps signalling, and completes once the
 *                 bracket ends (then plain spinning, as above)
 *   sigquit       spinners on every P and main asleep; a plain thread sends
 *                 SIGQUIT to the process: "SIGQUIT: quit", a dump that
 *                 marks the spinners as running, exit status 2
 *   sigquit ign   the same in a process started with SIGQUIT ignored (as a
 *                 background job of a non-interactive shell is): Go
 *                 installs its handler all the same, and so does gort */
#include <gort.h>

#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int stop; /* atomic */
static volatile long spins[64];
static gort_waitgroup_t wg;
static const char *mode = "";
static int started;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void spinner(void *arg)
{
    long i = (long)arg & 63;
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    if (!strcmp(mode, "off")) {
        int64_t until = now_ns() + 50 * 1000 * 1000;
        gort_preempt_off();
        while (now_ns() < until) /* the clock is vDSO code: no safe point anyway */
            for (int k = 0; k < 100000; k++)
                spins[i]++;
        gort_preempt_on();
    }
    if (!strcmp(mode, "coop")) {
        while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
            for (int k = 0; k < 100000 && !__atomic_load_n(&stop, __ATOMIC_RELAXED); k++)
                spins[i]++;
            (void)gort_nanotime(); /* a cooperative preemption point */
        }
    } else {
        while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
            spins[i]++;
    }
    gort_wg_done(&wg);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void *watchdog(void *arg)
{
    (void)arg;
    sleep(20);
    printf("stop-the-world hung\n");
    fflush(stdout);
    _exit(1);
}

static void *quitter(void *arg)
{
    (void)arg;
    usleep(200 * 1000);
    kill(getpid(), SIGQUIT);
    sleep(10);
    printf("still alive 10 s after SIGQUIT\n");
    fflush(stdout);
    _exit(1);
}

int gort_main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    mode = argc > 2 ? argv[2] : "";
    int n = gort_maxprocs(0);
    if (!strcmp(c, "maxprocs")) {
        if (n < 2)
            gort_maxprocs(n = 2);
        pthread_t wd;
        pthread_create(&wd, NULL, watchdog, NULL);
        bool off = !strcmp(mode, "off");
        int ns = off ? n - 1 : n;
        gort_wg_add(&wg, ns);
        int64_t t0 = now_ns();
        for (long i = 0; i < ns; i++)
            gort_go(spinner, (void *)i);
        if (off) {
            while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < ns)
                gort_yield(); /* main keeps its P */
        } else {
            gort_sleep(20 * 1000 * 1000); /* every P busy */
        }
        enum { N = 20 };
        int64_t t[N];
        for (int i = 0; i < N; i++) {
            int64_t t1 = now_ns();
            gort_maxprocs(i % 2 == 0 ? n - 1 : n);
            t[i] = now_ns() - t1;
            if (i == 0 && off) {
                printf("first stop completed %.1f ms after the spawn\n", (t1 + t[0] - t0) / 1e6);
                if (t1 + t[0] - t0 < 45 * 1000 * 1000) {
                    printf("stopped inside gort_preempt_off\n");
                    return 1;
                }
                t[0] = 0; /* the bracket's wait is not a latency */
            }
        }
        __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
        gort_wg_wait(&wg);
        qsort(t, N, sizeof(t[0]), cmp64);
        printf("gort_maxprocs with %d spinners: median %.1f us, worst %.1f us\n", n, t[N / 2] / 1e3,
               t[N - 1] / 1e3);
        printf("maxprocs ok\n");
    } else if (!strcmp(c, "sigquit")) {
        if (!strcmp(mode, "ign")) {
            signal(SIGQUIT, SIG_IGN); /* inherited across exec */
            char *args[] = {argv[0], "sigquit", "ignored", NULL};
            execv("/proc/self/exe", args);
            perror("execv");
            return 1;
        }
        gort_wg_add(&wg, n);
        for (long i = 0; i < n; i++)
            gort_go(spinner, (void *)i);
        pthread_t th;
        pthread_create(&th, NULL, quitter, NULL);
        gort_sleep(30LL * 1000 * 1000 * 1000);
        printf("main woke up: SIGQUIT did nothing\n");
        return 1;
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 100;
    }
    return 0;
}
