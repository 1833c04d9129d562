/* src/gc/gc.h - the garbage collector's internal interface (Go: mgc.go,
 * mgcmark.go, mgcsweep.go, mgcpacer.go). The design essay is at the top of
 * src/gc/mgc.c. */
#ifndef GORT_GC_H
#define GORT_GC_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#include "../alloc/malloc.h"

/* ---- mgc.c: the cycle, the pacer, the API ----------------------------------- */

void rt_gcinit(void);   /* schedinit: GORTGC, GORTMEMLIMIT, the pacer's first goal */
void rt_gcenable(void); /* runtime main: collections may start from now on */

/* Bytes the heap may hold before the next cycle starts (the pacer's trigger;
 * UINT64_MAX while the collector is off or not yet enabled). */
extern uint64_t rt_gc_trigger;
/* The pacer's running estimate of the heap (Go's heapLive): every slot of
 * a span an mcache holds, the allocated objects of every other span, and
 * every large object. mcentral.c keeps it (rt_gc_noteheap) as spans are
 * cached and uncached and merge explicit frees; a cycle resets it to the
 * bytes it marked (no span is cached then). Explicit frees are counted
 * when merged, so a program that frees what it allocates does not collect
 * for nothing. Atomic. */
extern uint64_t rt_gc_heaplive;

/* Count bytes made allocatable: a span's free slots given to an mcache, or
 * a large object. Cheap (one atomic add); the caller checks the trigger. */
static inline void rt_gc_noteheap(int64_t bytes)
{
    __atomic_add_fetch(&rt_gc_heaplive, (uint64_t)bytes, __ATOMIC_RELAXED);
}

/* The heap reached the trigger: the allocating goroutine runs a cycle
 * (mallocgc_slow, after the object is made; x is kept alive across it). */
static inline bool rt_gc_shouldstart(void)
{
    return __atomic_load_n(&rt_gc_heaplive, __ATOMIC_RELAXED) >= __atomic_load_n(&rt_gc_trigger, __ATOMIC_RELAXED);
}
void rt_gc_alloctrigger(void *x);

/* Threads without a P (foreign threads, goroutines between entersyscall
 * and exitsyscall) allocate and free through the shared mcache; while a
 * cycle runs they wait here (Go: allocation in a syscall waits for the
 * world). enter/exit bracket each such allocation or free. */
extern uint32_t rt_gc_gate;
void rt_gc_foreign_wait(void);
extern uint32_t rt_gc_foreign_inside;
static inline void rt_gc_foreign_enter(void)
{
    __atomic_add_fetch(&rt_gc_foreign_inside, 1, __ATOMIC_SEQ_CST);
    if (__builtin_expect(__atomic_load_n(&rt_gc_gate, __ATOMIC_SEQ_CST) != 0, 0))
        rt_gc_foreign_wait();
}
void rt_gc_foreign_exit_slow(void);
static inline void rt_gc_foreign_exit(void)
{
    if (__atomic_sub_fetch(&rt_gc_foreign_inside, 1, __ATOMIC_SEQ_CST) == 0 &&
        __builtin_expect(__atomic_load_n(&rt_gc_gate, __ATOMIC_SEQ_CST) != 0, 0))
        rt_gc_foreign_exit_slow();
}

/* sysmon's heap housekeeping (mcentral reclaim) must not run during a
 * cycle: rt_gc_sysmon_begin returns false while one runs; else the cycle
 * waits for rt_gc_sysmon_end before it sweeps. */
bool rt_gc_sysmon_begin(void);
void rt_gc_sysmon_end(void);
int64_t rt_gc_sysmon_force(int64_t now); /* sysmon: a forced cycle after 2 min without one */

/* Collector statistics merged into gort_read_memstats (malloc.c). */
typedef struct rt_gcstats {
    uint64_t nfree[RT_NUM_SIZE_CLASSES]; /* small objects the sweeper freed, by size class */
    uint64_t tinyfrees, tinyblockfrees;  /* tiny objects, and their 16-byte blocks */
    uint64_t largefree, largefreebytes;
} rt_gcstats;
extern rt_gcstats rt_gc_stats;
struct gort_memstats;
void rt_gc_readstats(struct gort_memstats *ms);

/* ---- mgcmark.c -------------------------------------------------------------- */

typedef struct rt_gcwork {
    struct rt_wbuf *buf;       /* this marker's work buffer (mgcmark.c) */
    uint64_t markedbytes;      /* bytes of objects marked this cycle */
    uint64_t scannedbytes;     /* bytes scanned (roots + objects) */
    uint64_t stackbytes, globalbytes;
} rt_gcwork;

void rt_gc_listmodules(void); /* before rt_gc_stopthreads: dl_iterate_phdr's lock */
void rt_gc_markroots(rt_gcwork *w, uintptr_t mysp);
void rt_gc_drain(rt_gcwork *w);                    /* this marker's buffer and the full list */
void rt_gc_parallel_drain(rt_gcwork *w, int n);     /* to completion, n markers (helper threads) */
uint64_t rt_gc_wbufsys(void);
void rt_gc_scanrange(rt_gcwork *w, uintptr_t lo, uintptr_t hi);

/* A root range for the runtime's own use (gort_run's waiting caller). */
void rt_gc_addroot_internal(void *p, size_t len);
void rt_gc_removeroot_internal(void *p);

/* ---- mfinal.c: finalizers ---------------------------------------------------- */

void rt_gc_markfinalizers(rt_gcwork *w); /* with the roots: referents of finalizable objects, the queue */
size_t rt_gc_queuefinalizers(void);      /* after the drain: unreachable ones queued (and kept) */
void rt_gc_wakefing(void);               /* after the cycle: run what is queued */
bool rt_gc_hasfinalizer(uintptr_t p);
uint64_t rt_gc_finalizers_run(void);

/* ---- mgcthreads.c: threads that are not goroutines ------------------------- */

void rt_gc_autoregister(void);       /* a thread without an M allocates or frees */
bool rt_gc_thread_registered(void);
void rt_gc_stopthreads(void);        /* world stopped, gate closed */
void rt_gc_scanthreads(rt_gcwork *w);
void rt_gc_startthreads(void);

/* ---- mgcsweep.c ------------------------------------------------------------- */

void rt_gc_prepare(void);              /* world stopped: caches to mcentral, pending frees merged */
uint64_t rt_gc_sweep(void);            /* world stopped: free what mark left white; returns live bytes */

#endif /* GORT_GC_H */
