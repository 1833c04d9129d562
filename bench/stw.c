/* stw.c - stop-the-world latency while every P runs a goroutine that calls
 * nothing (issue 11): one spinner per P, then the main goroutine changes
 * GOMAXPROCS between n-1 and n, N times. Each change stops the world,
 * which has to reach the spinners through async preemption. Prints the
 * median and worst time of one gort_maxprocs call, and the whole run's wall
 * time (spawn, warm-up and all); also the median and worst of the changes
 * down (n -> n-1: the stop must preempt a spinner on every other P) and up
 * (n-1 -> n: the start wakes an M for the new P) apart. Peer: bench/go/stw
 * (runtime.GOMAXPROCS).
 * Run with GORTMAXPROCS = GOMAXPROCS = the P count to measure. */
#include <gort.h>
#include "bench_util.h"

static volatile int stop;
static volatile long spins[256];
static gort_waitgroup_t wg;

static void spinner(void *arg)
{
    long i = (long)arg & 255;
    while (!stop)
        spins[i]++;
    gort_wg_done(&wg);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int gort_main(int argc, char **argv)
{
    double start = now_ns();
    int n = argc > 1 ? atoi(argv[1]) : 200;
    int procs = gort_maxprocs(0);
    if (procs < 2)
        gort_maxprocs(procs = 2);
    double *t = malloc(sizeof(double) * (size_t)n);
    gort_wg_add(&wg, procs);
    for (long i = 0; i < procs; i++)
        gort_go(spinner, (void *)i);
    gort_sleep(20 * 1000 * 1000); /* every P busy */
    for (int i = 0; i < n; i++) {
        double t0 = now_ns();
        gort_maxprocs(i % 2 == 0 ? procs - 1 : procs);
        t[i] = (now_ns() - t0) / 1e3;
        gort_sleep(1000 * 1000); /* the spinners run again */
    }
    stop = 1;
    gort_wg_wait(&wg);
    double *dn = malloc(sizeof(double) * (size_t)n), *up = malloc(sizeof(double) * (size_t)n);
    int nd = 0, nu = 0;
    for (int i = 0; i < n; i++) {
        if (i % 2 == 0)
            dn[nd++] = t[i];
        else
            up[nu++] = t[i];
    }
    qsort(t, (size_t)n, sizeof(double), cmpd);
    qsort(dn, (size_t)nd, sizeof(double), cmpd);
    qsort(up, (size_t)nu, sizeof(double), cmpd);
    printf("RESULT stw_median_us %.1f us\n", t[n / 2]);
    printf("RESULT stw_max_us %.1f us\n", t[n - 1]);
    printf("RESULT stw_down_median_us %.1f us\n", dn[nd / 2]);
    printf("RESULT stw_down_max_us %.1f us\n", dn[nd - 1]);
    printf("RESULT stw_up_median_us %.1f us\n", up[nu / 2]);
    printf("RESULT stw_up_max_us %.1f us\n", up[nu - 1]);
    free(dn);
    free(up);
    printf("RESULT stw_wall_ms %.1f ms\n", (now_ns() - start) / 1e6);
    free(t);
    return 0;
}
