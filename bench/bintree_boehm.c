/* bintree_boehm.c - peer of bench/bintree.c on Boehm GC (bdwgc, Debian's
 * libgc-dev): the same binary-trees, every node from GC_MALLOC, never freed,
 * the collector as Debian builds it, with threads and parallel marking. The
 * marker threads (GC_MARKERS, or one per CPU) are started at once with
 * GC_start_mark_threads: Boehm otherwise starts them with the program's
 * first thread, and the sequential run would mark on one core where Go marks
 * on every P. The same output lines and RESULT
 * names as bench/bintree.c; -p runs one pthread per depth (GC_THREADS: the
 * threads are registered with the collector through gc.h's pthread_create).
 *
 * Boehm keeps no pause ring, so the figures are made here:
 *   bintree_numgc         GC_get_gc_no(): collections run, GC_INIT's included
 *   bintree_pause_max_us  from GC_set_on_collection_event: the time from
 *   bintree_pause_p99_us  GC_EVENT_PRE_STOP_WORLD to GC_EVENT_POST_START_WORLD,
 *                         the world-stopped window of a collection (Boehm's
 *                         mark runs inside it), over the 256 most recent
 *                         collections, as Go's PauseNs ring
 *   bintree_pause_total_ms  the sum of those windows over the whole run
 *   bintree_gc_max_us     GC_EVENT_START to GC_EVENT_END, the longest whole
 *                         collection: it adds the reclaim setup after the
 *                         world restarts, which the allocating thread, and
 *                         any other that allocates, still waits for (the
 *                         allocation lock is held)
 *   bintree_gc_total_ms   GC_get_full_gc_total_time(): Boehm's own total of
 *                         full-collection time, in whole milliseconds */
#define GC_THREADS
#include <gc.h>
#include "bench_util.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>

#define MIN_DEPTH 4

typedef struct node {
    struct node *left, *right;
} node;

static node *bottom_up(int depth)
{
    node *l = NULL, *r = NULL;
    if (depth > 0) {
        l = bottom_up(depth - 1);
        r = bottom_up(depth - 1);
    }
    node *n = GC_MALLOC(sizeof(node));
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

/* The collection-event log. The callback runs with the allocation lock held,
 * one collection at a time, so plain variables do; main reads them after
 * the last collection it can see (all workers joined). */
static uint64_t pause_ring[256], pause_count, pause_total_ns, gc_max_ns;
static double stop_t0, gc_t0;

static void on_gc_event(GC_EventType e)
{
    switch (e) {
    case GC_EVENT_START: gc_t0 = now_ns(); break;
    case GC_EVENT_END: {
        uint64_t d = (uint64_t)(now_ns() - gc_t0);
        if (d > gc_max_ns)
            gc_max_ns = d;
        break;
    }
    case GC_EVENT_PRE_STOP_WORLD: stop_t0 = now_ns(); break;
    case GC_EVENT_POST_START_WORLD: {
        uint64_t d = (uint64_t)(now_ns() - stop_t0);
        pause_ring[pause_count++ % 256] = d;
        pause_total_ns += d;
        break;
    }
    default: break;
    }
}

static int par_max_depth;
static long par_iters[64], par_check[64];

static void *depth_worker(void *arg)
{
    int d = (int)(intptr_t)arg;
    long it = iterations_of(par_max_depth, d), sum = 0;
    for (long i = 0; i < it; i++)
        sum += check(bottom_up(d));
    par_iters[d] = it;
    par_check[d] = sum;
    return NULL;
}

static int cmpu(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
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
    GC_INIT();
    GC_start_mark_threads();
    GC_start_performance_measurement();
    GC_set_on_collection_event(on_gc_event);
    double t0 = now_ns();

    int stretch = max_depth + 1;
    printf("stretch tree of depth %d\t check: %ld\n", stretch, check(bottom_up(stretch)));

    node *long_lived = bottom_up(max_depth);

    if (par) {
        pthread_t th[64];
        int nt = 0;
        par_max_depth = max_depth;
        for (int d = MIN_DEPTH; d <= max_depth; d += 2)
            pthread_create(&th[nt++], NULL, depth_worker, (void *)(intptr_t)d);
        for (int i = 0; i < nt; i++)
            pthread_join(th[i], NULL);
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
    GC_set_on_collection_event(0); /* takes the allocation lock: no event runs past here */
    unsigned m = pause_count < 256 ? (unsigned)pause_count : 256;
    uint64_t p[256];
    for (unsigned k = 0; k < m; k++)
        p[k] = pause_ring[(pause_count - 1 - k) % 256];
    qsort(p, m, sizeof(p[0]), cmpu);
    unsigned i99 = (unsigned)(0.99 * m);
    printf("RESULT bintree_s %.3f s\n", (t1 - t0) / 1e9);
    printf("RESULT bintree_maxrss_mb %.1f MB\n", (double)ru.ru_maxrss / 1024);
    printf("RESULT bintree_numgc %lu\n", (unsigned long)GC_get_gc_no());
    printf("RESULT bintree_pause_max_us %.1f us\n", m ? (double)p[m - 1] / 1e3 : 0.0);
    printf("RESULT bintree_pause_p99_us %.1f us\n", m ? (double)p[i99 < m ? i99 : m - 1] / 1e3 : 0.0);
    printf("RESULT bintree_pause_total_ms %.3f ms\n", (double)pause_total_ns / 1e6);
    printf("RESULT bintree_gc_max_us %.1f us\n", (double)gc_max_ns / 1e3);
    printf("RESULT bintree_gc_total_ms %lu ms\n", GC_get_full_gc_total_time());
    printf("# boehm %d.%d.%d%s, %d markers\n", GC_VERSION_MAJOR, GC_VERSION_MINOR, GC_VERSION_MICRO,
           par ? " -p" : "", GC_get_parallel() + 1);
    return 0;
}
