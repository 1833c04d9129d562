/* alloc.c - allocator workloads, one source built three times:
 *   bench_alloc           gort_alloc / gort_alloc_noscan / gort_free, workers
 *                         are goroutines on the Ps (GORTMAXPROCS)
 *   bench_alloc_glibc     malloc / free, workers are pthreads
 *   bench_alloc_mimalloc  mi_malloc / mi_free, workers are pthreads
 * Peer in Go: bench/go/alloc (same pattern; Go has no free, the slot's old
 * object becomes garbage).
 *
 *   bench_alloc a [ops]   one worker, random sizes 8-1024 B, a window of
 *                         10,000 live objects: each op frees a random slot's
 *                         object and allocates a new one into it
 *   bench_alloc b [ops]   4 workers (on 2 Ps / 2 cores), each with a window
 *                         of 2,500 objects; every 1,000 ops a worker swaps its
 *                         window with a shared mailbox, so objects are freed
 *                         by a different worker than the one that allocated
 *                         them (larson-like)
 *   bench_alloc_glibc a [ops] zero   (and _mimalloc): calloc / mi_zalloc,
 *                         which zero like gort_alloc does
 *   bench_alloc a [ops] uninit   gort_alloc_uninit (_noscan_uninit for c):
 *                         malloc's contract, no zeroing
 *   bench_alloc c [ops]   tiny-object storm: as (a) with sizes 1-16 B and a
 *                         window of 100,000 (gort: noscan, the tiny allocator)
 *
 * Every allocation writes its first and last byte, as a program would. Each
 * run prints ns per operation (loop included; (a) and (c): the median of ten
 * equal chunks of the run, (b): wall time / total ops) and the peak RSS
 * (VmHWM). gort_alloc zeroes (as Go does) and is compared with
 * calloc and mi_zalloc; gort_alloc_uninit does not, and is compared with
 * malloc and mi_malloc. */
#include "bench_util.h"

#include <stdint.h>
#include <stdbool.h>

#if defined(BENCH_GORT)
#include <gort.h>
static int zero = 1; /* "uninit": gort_alloc_uninit, malloc's contract */
#define ALLOC(n) (zero ? gort_alloc(n) : gort_alloc_uninit(n))
#define ALLOC_TINY(n) (zero ? gort_alloc_noscan(n) : gort_alloc_noscan_uninit(n))
#define FREE(p) gort_free(p)
/* The slot arrays hold gort pointers: gort memory the collector scans (as
 * a Go program's slices are), not calloc'd memory it cannot see. */
#define SLOTS(n) ((void **)gort_alloc((n) * sizeof(void *)))
#define FREESLOTS(p) gort_free(p)
#define NAME (zero ? "gort" : "gort (uninit)")
#elif defined(BENCH_MIMALLOC)
#include <mimalloc.h>
#include <pthread.h>
static int zero; /* "zero": mi_zalloc, the same contract as gort_alloc */
#define ALLOC(n) (zero ? mi_zalloc(n) : mi_malloc(n))
#define ALLOC_TINY(n) ALLOC(n)
#define FREE(p) mi_free(p)
#define SLOTS(n) ((void **)calloc((n), sizeof(void *)))
#define FREESLOTS(p) free(p)
#define NAME (zero ? "mimalloc (mi_zalloc)" : "mimalloc")
#else
#include <pthread.h>
static int zero; /* "zero": calloc, the same contract as gort_alloc */
#define ALLOC(n) (zero ? calloc(1, n) : malloc(n))
#define ALLOC_TINY(n) ALLOC(n)
#define FREE(p) free(p)
#define SLOTS(n) ((void **)calloc((n), sizeof(void *)))
#define FREESLOTS(p) free(p)
#define NAME (zero ? "glibc (calloc)" : "glibc")
#endif

static inline void *touch(void *p, size_t n)
{
    ((volatile char *)p)[0] = 1;
    ((volatile char *)p)[n - 1] = 1;
    return p;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* (a) and (c): one worker, window of w slots, sizes lo..hi. */
static void window_run(long ops, long w, size_t lo, size_t hi, bool tiny)
{
    void **slot = SLOTS((size_t)w);
    uint64_t seed = 88172645463325252ull;
    size_t span = hi - lo + 1;
    for (long i = 0; i < w; i++) {
        size_t n = lo + rnd(&seed) % span;
        slot[i] = touch(tiny ? ALLOC_TINY(n) : ALLOC(n), n);
    }
    /* Ten chunks, timed apart; the figure is the median chunk's ns/op, so a
     * burst of interference from this VM's neighbours does not decide it
     * (the same for every allocator: it is one source). */
    enum { CHUNKS = 10 };
    double per[CHUNKS];
    long chunk = ops / CHUNKS;
    for (int ch = 0; ch < CHUNKS; ch++) {
        double t0 = now_ns();
        for (long k = 0; k < chunk; k++) {
            uint64_t r = rnd(&seed);
            long i = (long)((r >> 32) % (uint64_t)w);
            size_t n = lo + (r & 0xffffffff) % span;
            FREE(slot[i]);
            slot[i] = touch(tiny ? ALLOC_TINY(n) : ALLOC(n), n);
        }
        per[ch] = (now_ns() - t0) / (double)chunk;
    }
    for (long i = 0; i < w; i++)
        FREE(slot[i]);
    FREESLOTS(slot);
    qsort(per, CHUNKS, sizeof(per[0]), cmpd);
    printf("RESULT %s_ns_per_op %.2f ns\n", tiny ? "alloc_c" : "alloc_a", (per[CHUNKS / 2 - 1] + per[CHUNKS / 2]) / 2);
}

/* (b): NW workers exchanging windows through one mailbox. */
#define NW 4
#define BW 2500
#define XCHG_EVERY 1000
static void **mailbox;
static long b_ops;

static void b_worker(void *arg)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull * ((uint64_t)(uintptr_t)arg + 1);
    void **win = SLOTS(BW);
    for (long i = 0; i < BW; i++) {
        size_t n = 8 + rnd(&seed) % 1017;
        win[i] = touch(ALLOC(n), n);
    }
    for (long k = 0; k < b_ops; k++) {
        uint64_t r = rnd(&seed);
        long i = (long)((r >> 32) % BW);
        size_t n = 8 + (r & 0xffffffff) % 1017;
        FREE(win[i]);
        win[i] = touch(ALLOC(n), n);
        if (k % XCHG_EVERY == XCHG_EVERY - 1) {
            win = __atomic_exchange_n(&mailbox, win, __ATOMIC_ACQ_REL);
#ifdef BENCH_GORT
            gort_yield(); /* let the other goroutines on this P take turns */
#endif
        }
    }
    for (long i = 0; i < BW; i++)
        FREE(win[i]);
    FREESLOTS(win);
}

#ifdef BENCH_GORT
static gort_waitgroup_t b_wg;
static void b_goroutine(void *arg)
{
    b_worker(arg);
    gort_wg_done(&b_wg);
}
#else
static void *b_thread(void *arg)
{
    b_worker(arg);
    return NULL;
}
#endif

static void xfer_run(long ops)
{
    b_ops = ops / NW;
    mailbox = SLOTS(BW);
    for (long i = 0; i < BW; i++)
        mailbox[i] = touch(ALLOC(64), 64);
    double t0 = now_ns();
#ifdef BENCH_GORT
    gort_wg_add(&b_wg, NW);
    for (long t = 0; t < NW; t++)
        gort_go(b_goroutine, (void *)(uintptr_t)t);
    gort_wg_wait(&b_wg);
#else
    pthread_t th[NW];
    for (long t = 0; t < NW; t++)
        pthread_create(&th[t], NULL, b_thread, (void *)(uintptr_t)t);
    for (long t = 0; t < NW; t++)
        pthread_join(th[t], NULL);
#endif
    double t1 = now_ns();
    for (long i = 0; i < BW; i++)
        FREE(mailbox[i]);
    FREESLOTS(mailbox);
    printf("RESULT alloc_b_ns_per_op %.2f ns\n", (t1 - t0) / (double)(b_ops * NW));
}

#ifdef BENCH_GORT
int gort_main(int argc, char **argv)
#else
int main(int argc, char **argv)
#endif
{
    const char *w = argc > 1 ? argv[1] : "a";
    long ops = argc > 2 ? atol(argv[2]) : 50000000;
#ifndef BENCH_GORT
    zero = argc > 3 && strcmp(argv[3], "zero") == 0;
#else
    zero = !(argc > 3 && strcmp(argv[3], "uninit") == 0);
#endif
    switch (w[0]) {
    case 'a': window_run(ops, 10000, 8, 1024, false); break;
    case 'b': xfer_run(ops); break;
    case 'c': window_run(ops, 100000, 1, 16, true); break;
    default: fprintf(stderr, "usage: %s a|b|c [ops]\n", argv[0]); return 2;
    }
    printf("RESULT alloc_%c_peak_rss_kb %ld kB\n", w[0], status_bytes("VmHWM") / 1024);
    printf("# %s\n", NAME);
    return 0;
}
