/* gclatency.c - latency under the collector (issue 14): a goroutine sleeps
 * 1 ms in a loop and records how late each wake-up is, while 4 goroutines
 * churn a heap with a fixed amount live. Concurrent marking shows here: a
 * long stop-the-world pause, or marking that starves the mutator, makes
 * ticks late. Peer: bench/go/gclatency (Go 1.19, the same program).
 *
 *   bench_gclatency [live_mb] [secs]   500 MB live, 10 s by default (both
 *                                      may be fractional)
 *
 * The heap: a slot array of live_mb MiB / 1120 slots (~468K for 500 MB),
 * itself gort_alloc'd (scan) and reached from a global, as a Go program's
 * global slice. Each slot points to an object of 64..2048 bytes (a multiple
 * of 8, uniform, 1056 B on average; scan class) whose word 0 points to a
 * 64-byte child object and word 1 into its own middle (an interior pointer),
 * the rest zero: 1120 B per slot with the child.
 *
 * The run:
 *   1. the main goroutine fills every slot (not measured);
 *   2. 4 churner goroutines each replace a random slot's object with a new
 *      one, over and over: the old object and its child become garbage. Each
 *      yields every 100 replacements, so that on a machine with fewer Ps
 *      than churners the ticker waits for a free P only briefly rather than
 *      a whole 10 ms time slice; what is left is the collector's doing;
 *   3. the main goroutine (the ticker) measures secs seconds of
 *      t0 = now; sleep(1 ms); late = now - t0 - 1 ms;
 *   4. stop the churners, print.
 *
 * RESULT lines: gclat_p50_us, gclat_p99_us, gclat_p999_us, gclat_max_us
 * (lateness; the sorted list's element floor(p * n), as the peer),
 * gclat_numgc (collections during step 3), gclat_ticks (ticks measured),
 * gclat_heap_mb (HeapAlloc after step 1: the live heap as allocated). */
#include <gort.h>
#include "bench_util.h"

#include <stdint.h>

#define NCHURN 4
#define YIELD_EVERY 100
#define CHILD_BYTES 64
#define SLOT_BYTES 1120 /* average object (1056) + its child */
#define TICK_NS 1000000

/* The slot array: a scan-class gort object reached from this global. */
static void **slots;
static long nslots;
static int stop;
static gort_waitgroup_t wg;

static void *new_object(uint64_t r)
{
    size_t words = (64 + 8 * (r % 249)) / 8; /* 64..2048 bytes */
    void **o = gort_alloc(words * 8);
    o[0] = gort_alloc(CHILD_BYTES);
    o[1] = &o[words / 2];
    return o;
}

static void churner(void *arg)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull * ((uint64_t)(uintptr_t)arg + 1);
    for (long k = 1; !__atomic_load_n(&stop, __ATOMIC_RELAXED); k++) {
        uint64_t r = rnd(&seed);
        long i = (long)((r >> 32) % (uint64_t)nslots);
        /* two churners may hit one slot: one store wins, as in Go */
        __atomic_store_n(&slots[i], new_object(r & 0xffffffff), __ATOMIC_RELAXED);
        if (k % YIELD_EVERY == 0)
            gort_yield();
    }
    gort_wg_done(&wg);
}

static int cmpi(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int gort_main(int argc, char **argv)
{
    double mb = argc > 1 ? atof(argv[1]) : 500;
    double secs = argc > 2 ? atof(argv[2]) : 10;
    nslots = (long)(mb * 1048576 / SLOT_BYTES);
    if (nslots < 1 || secs <= 0) {
        fprintf(stderr, "usage: %s [live_mb] [secs]\n", argv[0]);
        return 2;
    }
    static gort_memstats_t ms; /* 4 KiB of rings: not on the stack */

    slots = gort_alloc((size_t)nslots * sizeof(void *));
    uint64_t seed = 88172645463325252ull;
    for (long i = 0; i < nslots; i++)
        slots[i] = new_object(rnd(&seed) & 0xffffffff);
    gort_read_memstats(&ms);
    double heap_mb = (double)ms.HeapAlloc / 1048576;

    long max_ticks = (long)(secs * 1e9 / TICK_NS) + 1;
    int64_t *late = malloc(sizeof(int64_t) * (size_t)max_ticks);
    gort_wg_add(&wg, NCHURN);
    for (long c = 0; c < NCHURN; c++)
        gort_go(churner, (void *)(uintptr_t)c);

    gort_read_memstats(&ms);
    uint32_t gc0 = ms.NumGC;
    int64_t end = gort_nanotime() + (int64_t)(secs * 1e9);
    long n = 0;
    while (n < max_ticks) {
        int64_t t0 = gort_nanotime();
        if (t0 >= end)
            break;
        gort_sleep(TICK_NS);
        late[n++] = gort_nanotime() - t0 - TICK_NS;
    }
    gort_read_memstats(&ms);
    uint32_t gcs = ms.NumGC - gc0;
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    gort_wg_wait(&wg);

    qsort(late, (size_t)n, sizeof(late[0]), cmpi);
    printf("RESULT gclat_p50_us %.1f us\n", (double)late[(long)(0.50 * n)] / 1e3);
    printf("RESULT gclat_p99_us %.1f us\n", (double)late[(long)(0.99 * n)] / 1e3);
    printf("RESULT gclat_p999_us %.1f us\n", (double)late[(long)(0.999 * n)] / 1e3);
    printf("RESULT gclat_max_us %.1f us\n", (double)late[n - 1] / 1e3);
    printf("RESULT gclat_numgc %u\n", gcs);
    printf("RESULT gclat_ticks %ld\n", n);
    printf("RESULT gclat_heap_mb %.1f MB\n", heap_mb);
    printf("# gort, %d Ps, %ld slots\n", gort_maxprocs(0), nslots);
    free(late);
    return 0;
}
