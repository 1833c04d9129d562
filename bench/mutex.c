/* mutex.c - gort_mutex contended by 4 goroutines (default GORTMAXPROCS: 2
 * Ps), each doing N lock / increment / unlock. ns per lock+unlock.
 * Peer: bench/go/mutex.go (sync.Mutex, same shape). */
#include <gort.h>
#include "bench_util.h"

/* As the Go peer: the mutex and the counter it guards side by side (Go's
 * escape analysis puts both on the heap, adjacent), the WaitGroup and the
 * loop bound elsewhere. */
static struct {
    gort_mutex_t mu;
    long counter;
} shared __attribute__((aligned(64)));
static gort_waitgroup_t wg __attribute__((aligned(64)));
static long n;

static void locker(void *arg)
{
    (void)arg;
    const long iters = n;
    for (long i = 0; i < iters; i++) {
        gort_mutex_lock(&shared.mu);
        shared.counter++;
        gort_mutex_unlock(&shared.mu);
    }
    gort_wg_done(&wg);
}

int gort_main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 2000000;
    const int g = 4;
    gort_wg_add(&wg, g);
    double t0 = now_ns();
    for (int i = 0; i < g; i++)
        gort_go(locker, NULL);
    gort_wg_wait(&wg);
    double t1 = now_ns();
    if (shared.counter != g * n)
        return 1;
    RESULT("mutex_ns_per_op", (t1 - t0) / (double)(g * n), "ns");
    return 0;
}
