/* buffered.c - a buffered channel (cap 128), 4 producers x 4 consumers,
 * N items in all, ns per item. Peer: bench/go/buffered (Go 1.19). */
#include <gort.h>
#include "bench_util.h"

static gort_chan_t *c;
static gort_waitgroup_t prod, cons;
static long per;
static long sums[4];

static void producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < per; i++)
        gort_chan_send(c, &i);
    gort_wg_done(&prod);
}

static void consumer(void *arg)
{
    long k = (long)arg, v, s = 0;
    while (gort_chan_recv(c, &v))
        s += v;
    sums[k] = s;
    gort_wg_done(&cons);
}

int gort_main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    per = n / 4;
    c = gort_chan_make(sizeof(long), 128);
    gort_wg_add(&prod, 4);
    gort_wg_add(&cons, 4);
    double t0 = now_ns();
    for (long i = 0; i < 4; i++) {
        gort_go(consumer, (void *)i);
        gort_go(producer, NULL);
    }
    gort_wg_wait(&prod);
    gort_chan_close(c);
    gort_wg_wait(&cons);
    double t1 = now_ns();
    long total = sums[0] + sums[1] + sums[2] + sums[3];
    if (total != 4 * (per * (per - 1) / 2)) {
        printf("wrong sum %ld\n", total);
        return 1;
    }
    RESULT("buffered_ns_per_item", (t1 - t0) / (4.0 * per), "ns");
    return 0;
}
