/* parallel_sum.c - divide and conquer over goroutines.
 *
 * Sums a mixing function of every element of a large array (enough work per
 * element that the sum is CPU-bound, not memory-bound) by splitting it in
 * halves, the left half in a new
 * goroutine and the right half in the current one, down to 64 Ki elements;
 * a WaitGroup joins each split. Spawning is cheap enough for this kind of
 * fine-grained parallelism. Compares with a plain loop on one thread.
 *
 *   parallel_sum [millions of elements]                             */
#include <gort.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LEAF (64 * 1024)

/* A few rounds of integer mixing: the per-element work. */
static inline uint64_t mix(uint64_t x)
{
    for (int r = 0; r < 4; r++) {
        x ^= x >> 31;
        x *= 0x7fb5d329728ea185ull;
        x ^= x >> 27;
    }
    return x;
}

typedef struct task {
    const uint32_t *a;
    size_t n;
    uint64_t sum;
    gort_waitgroup_t *done; /* signalled when this task finishes, or NULL */
} task;

static void sum_task(void *arg)
{
    task *t = arg;
    if (t->n <= LEAF) {
        uint64_t s = 0;
        for (size_t i = 0; i < t->n; i++)
            s += mix(t->a[i]);
        t->sum = s;
    } else {
        gort_waitgroup_t wg = {0};
        task left = {t->a, t->n / 2, 0, &wg};
        task right = {t->a + t->n / 2, t->n - t->n / 2, 0, NULL};
        gort_wg_add(&wg, 1);
        gort_go(sum_task, &left); /* the left half in parallel */
        sum_task(&right);         /* the right half here */
        gort_wg_wait(&wg);
        t->sum = left.sum + right.sum;
    }
    if (t->done != NULL)
        gort_wg_done(t->done);
}

int gort_main(int argc, char **argv)
{
    long millions = argc > 1 ? atol(argv[1]) : 64;
    if (millions < 1) {
        fprintf(stderr, "usage: parallel_sum [millions of elements >= 1]\n");
        return 2;
    }
    size_t n = (size_t)millions * 1000 * 1000;
    uint32_t *a = malloc(n * sizeof(*a));
    if (a == NULL) {
        fprintf(stderr, "parallel_sum: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        a[i] = (uint32_t)(i * 2654435761u) >> 8;

    int64_t t0 = gort_nanotime();
    uint64_t seq = 0;
    for (size_t i = 0; i < n; i++)
        seq += mix(a[i]);
    int64_t t1 = gort_nanotime();
    task root = {a, n, 0, NULL};
    sum_task(&root);
    int64_t t2 = gort_nanotime();

    printf("parallel_sum: %zu elements, GOMAXPROCS=%d, %zu leaf goroutines\n", n, gort_maxprocs(0),
           (n + LEAF - 1) / LEAF);
    printf("sequential %.1f ms, goroutines %.1f ms (%.2fx), sums %s\n", (t1 - t0) / 1e6, (t2 - t1) / 1e6,
           (double)(t1 - t0) / (double)(t2 - t1), seq == root.sum ? "match" : "DIFFER");
    free(a);
    return seq == root.sum ? 0 : 1;
}
