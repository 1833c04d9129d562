/* chanparked.c - N goroutines parked on one channel receive, then all
 * released by close: resident bytes per parked goroutine, and a check that
 * every one was released. Peer: bench/go/chanparked (Go 1.19). */
#include <gort.h>
#include "bench_util.h"

static gort_chan_t *gate;
static gort_waitgroup_t started, done;
static long released;

static void parked(void *arg)
{
    (void)arg;
    gort_wg_done(&started);
    if (!gort_chan_recv(gate, NULL))
        __atomic_add_fetch(&released, 1, __ATOMIC_RELAXED);
    gort_wg_done(&done);
}

int gort_main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    gate = gort_chan_make(0, 0);
    long rss0 = rss_bytes(), pte0 = status_bytes("VmPTE");
    gort_wg_add(&started, n);
    gort_wg_add(&done, n);
    for (long i = 0; i < n; i++)
        gort_go(parked, NULL);
    gort_wg_wait(&started);
    gort_sleep(1000000); /* let the last ones reach the receive */
    long rss1 = rss_bytes(), pte1 = status_bytes("VmPTE");
    double t0 = now_ns();
    gort_chan_close(gate);
    gort_wg_wait(&done);
    double t1 = now_ns();
    if (released != n) {
        printf("released %ld of %ld\n", released, n);
        return 1;
    }
    RESULT("chanparked_rss_bytes_per_goroutine", (double)(rss1 - rss0) / n, "B");
    /* kernel memory outside RSS: one page-table page per 8 stacks at the
     * default 256 KiB spacing */
    RESULT("chanparked_pte_bytes_per_goroutine", (double)(pte1 - pte0) / n, "B");
    RESULT("chanparked_release_ns_per_goroutine", (t1 - t0) / n, "ns");
    return 0;
}
