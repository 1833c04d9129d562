/* preempt.c - preemption latency with GORTMAXPROCS=1: a goroutine spins in
 * a loop that calls nothing; the main goroutine sleeps 1 ms, N times, and
 * measures how late it wakes (it needs the P the spinner holds). Prints the
 * worst and the median lateness. Peer: bench/go/preempt (GOMAXPROCS=1). */
#include <gort.h>
#include "bench_util.h"

static volatile int stop;
static volatile long spins;
static gort_waitgroup_t wg;

static void spinner(void *arg)
{
    (void)arg;
    while (!stop)
        spins++;
    gort_wg_done(&wg);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int gort_main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    double *late = malloc(sizeof(double) * (size_t)n);
    gort_wg_add(&wg, 1);
    gort_go(spinner, NULL);
    for (int i = 0; i < n; i++) {
        double t0 = now_ns();
        gort_sleep(1000 * 1000);
        late[i] = (now_ns() - t0 - 1e6) / 1e6;
    }
    stop = 1;
    gort_wg_wait(&wg);
    qsort(late, (size_t)n, sizeof(double), cmpd);
    RESULT("preempt_max_ms", late[n - 1], "ms");
    printf("RESULT preempt_median_ms %.2f ms\n", late[n / 2]);
    free(late);
    return 0;
}
