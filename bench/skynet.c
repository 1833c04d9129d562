/* skynet.c - the skynet benchmark: 1,111,111 goroutines in a 10-ary tree,
 * leaves send their number up over unbuffered channels, each node sums its
 * ten children. Result 499999500000. Wall time in ms.
 * Peer: bench/go/skynet (Go 1.19). */
#include <gort.h>
#include "bench_util.h"

typedef struct node {
    gort_chan_t *out;
    long num, size;
} node;

static void skynet(void *arg)
{
    node *n = arg;
    long sum;
    if (n->size == 1) {
        sum = n->num;
    } else {
        gort_chan_t *rc = gort_chan_make(sizeof(long), 0);
        node kids[10];
        long sz = n->size / 10;
        for (int i = 0; i < 10; i++) {
            kids[i] = (node){rc, n->num + i * sz, sz};
            gort_go(skynet, &kids[i]);
        }
        sum = 0;
        for (int i = 0; i < 10; i++) {
            long v;
            gort_chan_recv(rc, &v);
            sum += v;
        }
        gort_chan_free(rc);
    }
    gort_chan_send(n->out, &sum);
}

int gort_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    gort_chan_t *c = gort_chan_make(sizeof(long), 0);
    node root = {c, 0, 1000000};
    double t0 = now_ns();
    gort_go(skynet, &root);
    long r = 0;
    gort_chan_recv(c, &r);
    double t1 = now_ns();
    if (r != 499999500000L) {
        printf("wrong result %ld\n", r);
        return 1;
    }
    RESULT("skynet_ms", (t1 - t0) / 1e6, "ms");
    return 0;
}
