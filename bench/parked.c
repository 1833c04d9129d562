/* parked.c - resident bytes per parked goroutine: N goroutines blocked on a
 * WaitGroup at once, RSS measured before and while parked.
 * Peer: bench/go/parked.go (RSS the same way, and MemStats.Sys). */
#include <gort.h>
#include "bench_util.h"

static gort_waitgroup_t started, gate, done;

static void parked(void *arg)
{
    (void)arg;
    gort_wg_done(&started);
    gort_wg_wait(&gate);
    gort_wg_done(&done);
}

int gort_main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long rss0 = rss_bytes(), pte0 = status_bytes("VmPTE");
    gort_wg_add(&gate, 1);
    gort_wg_add(&started, n);
    gort_wg_add(&done, n);
    for (long i = 0; i < n; i++)
        gort_go(parked, NULL);
    gort_wg_wait(&started);
    long rss1 = rss_bytes(), pte1 = status_bytes("VmPTE");
    gort_wg_done(&gate);
    gort_wg_wait(&done);
    RESULT("parked_rss_bytes_per_goroutine", (double)(rss1 - rss0) / n, "B");
    /* kernel memory outside RSS: one page-table page per 8 stacks at the
     * default 256 KiB spacing */
    RESULT("parked_pte_bytes_per_goroutine", (double)(pte1 - pte0) / n, "B");
    return 0;
}
