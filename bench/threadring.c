/* threadring.c - 503 goroutines in a ring of unbuffered channels pass a
 * token N times (benchmarks game thread-ring), ns per hop.
 * Peer: bench/go/threadring (Go 1.19). */
#include <gort.h>
#include "bench_util.h"

#define RING 503

static gort_chan_t *ch[RING];
static gort_chan_t *done;

static void member(void *arg)
{
    long id = (long)arg;
    gort_chan_t *in = ch[id], *out = ch[(id + 1) % RING];
    for (;;) {
        long token;
        gort_chan_recv(in, &token);
        if (token == 0) {
            gort_chan_send(done, &id);
            return;
        }
        token--;
        gort_chan_send(out, &token);
    }
}

int gort_main(int argc, char **argv)
{
    long hops = argc > 1 ? atol(argv[1]) : 10000000;
    for (int i = 0; i < RING; i++)
        ch[i] = gort_chan_make(sizeof(long), 0);
    done = gort_chan_make(sizeof(long), 0);
    for (long i = 0; i < RING; i++)
        gort_go(member, (void *)i);
    double t0 = now_ns();
    gort_chan_send(ch[0], &hops);
    long who;
    gort_chan_recv(done, &who);
    double t1 = now_ns();
    RESULT("threadring_ns_per_hop", (t1 - t0) / hops, "ns");
    return 0;
}
