/* mgcsweep.c - getting the heap ready for marking, and sweeping after it
 * (Go: mgcsweep.go sweepone / mspan.sweep, mcache.go prepareForSweep and
 * releaseAll, mgc.go gcResetMarkState).
 *
 * Before marking (rt_gc_prepare, world stopped):
 *   1. every mcache (each P's and the shared one) gives its spans back to
 *      mcentral, retires its tiny block and flushes its free caches: so
 *      every object is either allocated in its span's allocBits or free
 *      there, none is half-way in a cache (a cached object is garbage that
 *      allocBits still calls allocated, and must not be marked through);
 *   2. every listed span folds its pending frees (freeBits) into
 *      allocBits, so the marker sees exactly the allocated objects.
 * Spans are then in mcentral's lists (small) or on the mheap's large list.
 *
 * Sweeping (rt_gc_sweep, world stopped; the background, lazy sweeper is
 * the next step of issue 14): for a small span, allocBits &= gcmarkBits
 * (an unmarked allocated object is garbage), the counts follow, gcmarkBits
 * is cleared for the next cycle, and a span with nothing live goes back to
 * the heap (mcentral.c fixes the lists). A freed tiny block also clears
 * its tinystate word, counting the tiny objects that lived in it. A large
 * span that is not marked goes back to the heap.
 *
 * Stats: what the sweeper frees is counted in rt_gc_stats (per size class,
 * tiny, large), which gort_read_memstats adds to the mcaches' counters, so
 * HeapAlloc and HeapObjects stay exact. */
#include "gc.h"
#include "../sched/sched.h"
#include "../debug/debug.h"

#include <string.h>

rt_gcstats rt_gc_stats;

static void merge(rt_mspan *s, void *arg)
{
    (void)arg;
    rt_mspan_merge(s);
}

void rt_gc_prepare(void)
{
    for (int32_t i = 0; i < rt_procs(); i++)
        rt_mcache_release(rt_allp[i]->mcache);
    rt_mcache_release(rt_foreign_lock());
    rt_foreign_unlock();
    rt_mcentral_walk(merge, NULL);
}

typedef struct sweepstate {
    uint64_t livebytes;
    uint64_t freedobjs;
} sweepstate;

/* One small span: free what the mark left white. Returns its live objects. */
static uint32_t sweepspan(rt_mspan *s, void *arg)
{
    sweepstate *ss = arg;
    rt_mspan_merge(s); /* frees since prepare (none with the world stopped, but cheap) */
    int sc = rt_spanclass_size(s->spanclass);
    bool tiny = s->spanclass == RT_TINY_SPANCLASS;
    uint32_t words = (s->nelems + 63) / 64;
    uint32_t freed = 0;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t dead = s->allocBits[w] & ~s->gcmarkBits[w];
        s->gcmarkBits[w] = 0;
        if (dead == 0)
            continue;
        rt_store_relaxed(&s->allocBits[w], s->allocBits[w] & ~dead);
        uint32_t n = (uint32_t)__builtin_popcountll(dead);
        freed += n;
        if (!tiny) {
            __atomic_add_fetch(&rt_gc_stats.nfree[sc], n, __ATOMIC_RELAXED);
            continue;
        }
        /* 16-byte noscan slots: tiny blocks (a state word) or plain objects */
        for (uint64_t d = dead; d != 0; d &= d - 1) {
            uintptr_t block = s->base + (uintptr_t)(w * 64 + (uint32_t)__builtin_ctzll(d)) * s->elemsize;
            uint32_t *st = rt_tinystate(block);
            uint32_t v = rt_load_relaxed(st);
            if (v == 0) {
                __atomic_add_fetch(&rt_gc_stats.nfree[sc], 1, __ATOMIC_RELAXED);
            } else {
                __atomic_add_fetch(&rt_gc_stats.tinyfrees, (uint64_t)__builtin_popcount(v & 0xffffu), __ATOMIC_RELAXED);
                __atomic_add_fetch(&rt_gc_stats.tinyblockfrees, 1, __ATOMIC_RELAXED);
                rt_store(st, 0);
            }
        }
    }
    if (freed != 0) {
        s->allocCount -= freed;
        s->needzero = true;
        s->freeindex = 0;
        s->allocCache = ~s->allocBits[0];
        ss->freedobjs += freed;
    }
    ss->livebytes += (uint64_t)s->allocCount * s->elemsize;
    return s->allocCount;
}

static bool largedead(rt_mspan *s, void *arg)
{
    sweepstate *ss = arg;
    if (s->gcmarkBits[0] & 1) {
        s->gcmarkBits[0] = 0;
        ss->livebytes += (uint64_t)s->npages << RT_PAGE_SHIFT;
        return false;
    }
    __atomic_add_fetch(&rt_gc_stats.largefree, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&rt_gc_stats.largefreebytes, (uint64_t)s->npages << RT_PAGE_SHIFT, __ATOMIC_RELAXED);
    ss->freedobjs++;
    return true;
}

uint64_t rt_gc_sweep(void)
{
    sweepstate ss = {0, 0};
    rt_mcentral_sweep(sweepspan, &ss);
    rt_mheap_sweeplarge(largedead, &ss);
    return ss.livebytes;
}
