/* spawn.c - spawn N goroutines that each call wg_done, then wg_wait.
 * Peer: bench/go/spawn.go (same loop), pthread_spawn.c. */
#include <gort.h>
#include "bench_util.h"

static gort_waitgroup_t wg;

static void worker(void *arg)
{
    (void)arg;
    gort_wg_done(&wg);
}

int gort_main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        gort_wg_add(&wg, 1);
        gort_go(worker, NULL);
    }
    gort_wg_wait(&wg);
    double t1 = now_ns();
    RESULT("spawn_ns_per_goroutine", (t1 - t0) / n, "ns");
    return 0;
}
