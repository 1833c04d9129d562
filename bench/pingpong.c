/* pingpong.c - unbuffered ping-pong between two goroutines, ns per round
 * trip. Peer: bench/go/pingpong (Go 1.19), pthread_pingpong.c. */
#include <gort.h>
#include "bench_util.h"

static gort_chan_t *ping, *pong;
static gort_waitgroup_t wg;

static void ponger(void *arg)
{
    (void)arg;
    long v;
    while (gort_chan_recv(ping, &v))
        gort_chan_send(pong, &v);
    gort_wg_done(&wg);
}

int gort_main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    ping = gort_chan_make(sizeof(long), 0);
    pong = gort_chan_make(sizeof(long), 0);
    gort_wg_add(&wg, 1);
    gort_go(ponger, NULL);
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        long r;
        gort_chan_send(ping, &i);
        gort_chan_recv(pong, &r);
    }
    double t1 = now_ns();
    gort_chan_close(ping);
    gort_wg_wait(&wg);
    RESULT("pingpong_ns_per_roundtrip", (t1 - t0) / n, "ns");
    return 0;
}
