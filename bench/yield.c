/* yield.c - two goroutines alternating with gort_yield on one P (run with
 * GORTMAXPROCS=1). ns per switch = time / total yields.
 * Peer: bench/go/gosched.go with GOMAXPROCS=1. */
#include <gort.h>
#include "bench_util.h"

static gort_waitgroup_t wg;
static long n;

static void yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < n; i++)
        gort_yield();
    gort_wg_done(&wg);
}

int gort_main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 10000000;
    gort_wg_add(&wg, 2);
    double t0 = now_ns();
    gort_go(yielder, NULL);
    gort_go(yielder, NULL);
    gort_wg_wait(&wg);
    double t1 = now_ns();
    RESULT("yield_ns_per_switch", (t1 - t0) / (2.0 * n), "ns");
    return 0;
}
