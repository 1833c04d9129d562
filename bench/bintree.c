/* bintree.c - binary-trees from the Computer Language Benchmarks Game, on
 * the gort heap and collector (issue 14). Every node is gort_alloc'd (two
 * child pointers: a scan-class object) and never freed: the collector has to
 * find the dead trees. Peers: bench/go/bintree (Go 1.19, the same algorithm
 * and output) and bench/bintree_boehm.c (Boehm GC's GC_MALLOC).
 *
 *   bench_bintree [depth]      depth 21 by default. The classic sequence:
 *                              1. a stretch tree of depth+1, built, checked
 *                                 and dropped;
 *                              2. a long-lived tree of depth `depth`, kept
 *                                 (in a local of gort_main, as Go keeps it)
 *                                 until the end;
 *                              3. for d = 4, 6, .., depth: 1 << (depth-d+4)
 *                                 trees of depth d, each built, checked and
 *                                 dropped;
 *                              4. the long-lived tree checked.
 *   bench_bintree -p [depth]   step 3 with one goroutine per depth, as Go's
 *                              parallel binary-trees does (a WaitGroup; the
 *                              lines are printed in depth order at the end)
 *
 * The benchmarks-game lines come first, byte for byte as Go's, so the two
 * outputs can be compared with diff; then the RESULT lines:
 *   bintree_s             wall seconds of steps 1-4 (heap growth included)
 *   bintree_maxrss_mb     getrusage's ru_maxrss / 1024
 *   bintree_numgc         MemStats.NumGC at the end
 *   bintree_pause_max_us  the longest and the 99th-percentile stop-the-world
 *   bintree_pause_p99_us  pause over the min(NumGC, 256) most recent cycles
 *                         (the PauseNs ring; a cycle's entry is the sum of
 *                         its pauses, as in Go)
 *   bintree_pause_total_ms  MemStats.PauseTotalNs
 * The percentile is the sorted list's element floor(p * n), as in every
 * peer. Nothing here frees or asserts. */
#include <gort.h>
#include "bench_util.h"

#include <stdint.h>
#include <sys/resource.h>

#define MIN_DEPTH 4

typedef struct node {
    struct node *left, *right;
} node;

/* Children first, then the parent, as Go's &Node{bottomUpTree(d-1),
 * bottomUpTree(d-1)}: the left subtree lives in a local while the right one
 * is built. */
static node *bottom_up(int depth)
{
    node *l = NULL, *r = NULL;
    if (depth > 0) {
        l = bottom_up(depth - 1);
        r = bottom_up(depth - 1);
    }
    node *n = gort_alloc(sizeof(node));
    n->left = l;
    n->right = r;
    return n;
}

static long check(const node *n)
{
    if (n->left == NULL)
        return 1;
    return 1 + check(n->left) + check(n->right);
}

static long iterations_of(int max_depth, int d) { return 1L << (max_depth - d + MIN_DEPTH); }

/* The -p variant: one goroutine per depth; results by depth, no pointers. */
static int par_max_depth;
static long par_iters[64], par_check[64];
static gort_waitgroup_t par_wg;

static void depth_worker(void *arg)
{
    int d = (int)(intptr_t)arg;
    long it = iterations_of(par_max_depth, d), sum = 0;
    for (long i = 0; i < it; i++)
        sum += check(bottom_up(d));
    par_iters[d] = it;
    par_check[d] = sum;
    gort_wg_done(&par_wg);
}

static int cmpu(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The pause figures of the RESULT lines, from the PauseNs ring: entry
 * (NumGC - 1) % 256 is the latest. */
static void print_pauses(const char *prefix)
{
    static gort_memstats_t ms; /* 4 KiB of rings: not on the stack */
    gort_read_memstats(&ms);
    uint32_t n = ms.NumGC < 256 ? ms.NumGC : 256;
    uint64_t p[256];
    for (uint32_t k = 0; k < n; k++)
        p[k] = ms.PauseNs[(ms.NumGC - 1 - k) % 256];
    qsort(p, n, sizeof(p[0]), cmpu);
    uint32_t i99 = (uint32_t)(0.99 * n);
    printf("RESULT %s_numgc %u\n", prefix, ms.NumGC);
    printf("RESULT %s_pause_max_us %.1f us\n", prefix, n ? (double)p[n - 1] / 1e3 : 0.0);
    printf("RESULT %s_pause_p99_us %.1f us\n", prefix, n ? (double)p[i99 < n ? i99 : n - 1] / 1e3 : 0.0);
    printf("RESULT %s_pause_total_ms %.3f ms\n", prefix, (double)ms.PauseTotalNs / 1e6);
}

int gort_main(int argc, char **argv)
{
    int par = 0, n = 21;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0)
            par = 1;
        else
            n = atoi(argv[i]);
    }
    int max_depth = n < MIN_DEPTH + 2 ? MIN_DEPTH + 2 : n;
    if (max_depth > 40) {
        fprintf(stderr, "usage: %s [-p] [depth <= 40]\n", argv[0]);
        return 2;
    }
    double t0 = now_ns();

    int stretch = max_depth + 1;
    printf("stretch tree of depth %d\t check: %ld\n", stretch, check(bottom_up(stretch)));

    node *long_lived = bottom_up(max_depth);

    if (par) {
        par_max_depth = max_depth;
        for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
            gort_wg_add(&par_wg, 1);
            gort_go(depth_worker, (void *)(intptr_t)d);
        }
        gort_wg_wait(&par_wg);
        for (int d = MIN_DEPTH; d <= max_depth; d += 2)
            printf("%ld\t trees of depth %d\t check: %ld\n", par_iters[d], d, par_check[d]);
    } else {
        for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
            long it = iterations_of(max_depth, d), sum = 0;
            for (long i = 0; i < it; i++)
                sum += check(bottom_up(d));
            printf("%ld\t trees of depth %d\t check: %ld\n", it, d, sum);
        }
    }
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
    double t1 = now_ns();

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT bintree_s %.3f s\n", (t1 - t0) / 1e9);
    printf("RESULT bintree_maxrss_mb %.1f MB\n", (double)ru.ru_maxrss / 1024);
    print_pauses("bintree");
    printf("# gort%s, %d Ps\n", par ? " -p" : "", gort_maxprocs(0));
    return 0;
}
