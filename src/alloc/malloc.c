/* malloc.c - the gort heap (Go: malloc.go).
 *
 * Objects up to 32 KiB come from 67 size classes (computed at start-up as
 * Go's mksizeclasses does, sizeclasses.c); each size class x {scan, noscan}
 * is a span class (136). Larger objects get a span of their own.
 *
 * Allocating a small object proceeds up a hierarchy of caches:
 *
 *   1. Round the size up to its class and find the P's mcache span for the
 *      span class. Take the next free slot with nextFreeFast (ctz over a
 *      64-bit cache of the allocation bitmap). No lock, no atomic.
 *   2. If the cache word is used up, scan the span's allocBits; at the end
 *      of the span fold in objects freed meanwhile (freeBits) and go round.
 *   3. If the span is full, give it to its mcentral and take one with free
 *      slots from it (mcentral lock).
 *   4. If mcentral has none, allocate a run of pages from the mheap (mheap
 *      lock), growing the heap by a 64 MiB arena when no run fits.
 *   5. Zero the object unless its span is made of pages known to be zero
 *      and the slot has never been used (Go's needzero).
 * Noscan objects under 16 bytes are packed into 16-byte blocks (the tiny
 * allocator, mcache.c). Large objects go to step 4 directly.
 *
 * Freeing (gort_free, and the double-free checks): free.c.
 *
 * Invariants: for every in-use small span,
 *   live objects == allocCount - nfreed(pending) and
 *   allocCount == popcount(allocBits);
 * HeapAlloc == sum over classes of (mallocs - frees) * size + large bytes.
 *
 * Threads that are not running a goroutine (no P) allocate through a shared
 * mcache under a lock (ranks in src/sched/lock.h: it < mcentral < mheap).
 *
 * Errors: a size that cannot be satisfied (overflow, beyond the address
 * space) returns NULL; otherwise running out of memory is
 * "fatal error: out of memory" (Go's throw). No errno. */
#include "malloc.h"
#include "../os/os.h"
#include "../sched/sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../stack/stack.h"
#include "../gc/gc.h"

#include <gort.h>

#include <stdlib.h>
#include <string.h>

uint64_t rt_zerobase; /* every 0-byte allocation returns its address */

/* The largest object gort_alloc tries to make (rt_mallocinit_all): what
 * the kernel would let one mapping commit (RAM + swap, or CommitLimit
 * under strict overcommit), at most 2^46 bytes. A larger request returns
 * NULL at once: serving it would only fail later, after the heap's
 * metadata for it had been set up (a 4 TiB request took 29 s and 4.7 GB). */
uint64_t rt_maxalloc = (uint64_t)1 << 46;

/* Threads without a P share one mcache, under foreignlock. */
static rt_lock foreignlock = {0, RT_RANK_MCACHE_SHARED};
rt_mcache *rt_foreign_mcache;

rt_mcache *rt_foreign_lock(void)
{
    rt_lock_acquire(&foreignlock);
    return rt_foreign_mcache;
}

void rt_foreign_unlock(void) { rt_lock_release(&foreignlock); }

int32_t rt_mcaches(rt_mcache **cs, int32_t max, bool allps)
{
    int32_t n = 0;
    rt_mcache *mine = rt_mycache();
    if (!allps && mine != NULL && n < max)
        cs[n++] = mine;
    for (int32_t i = 0; allps && i < GORT_MAXPROCS_LIMIT && n < max; i++) {
        rt_p *pp = rt_load_acq(&rt_allp[i]);
        if (pp == NULL)
            break;
        if (pp->mcache != NULL)
            cs[n++] = pp->mcache;
    }
    if (rt_foreign_mcache != NULL && n < max)
        cs[n++] = rt_foreign_mcache;
    return n;
}

/* ---- the fast path -------------------------------------------------------------- */

static inline uintptr_t nextfreefast(rt_mspan *s)
{
    uint64_t cache = s->allocCache;
    if (cache == 0)
        return 0;
    uint32_t bit = (uint32_t)__builtin_ctzll(cache);
    uint32_t idx = s->freeindex + bit;
    if (idx >= s->nelems)
        return 0;
    s->allocCache = bit == 63 ? 0 : cache >> (bit + 1);
    s->freeindex = idx + 1;
    if (s->freeindex % 64 == 0)
        s->allocCache = 0; /* the word is used up */
    rt_store_relaxed(&s->allocBits[idx / 64], s->allocBits[idx / 64] | (1ull << (idx % 64)));
    s->allocCount++;
    return s->base + (uintptr_t)idx * s->elemsize;
}

static inline void *mallocgc_cache(size_t size, bool noscan, bool zero)
{
    bool foreign;
    rt_mcache *c = rt_lockcache(&foreign);
    void *x;
    if (size <= RT_MAX_SMALL_SIZE) {
        if (noscan && size < RT_TINY_SIZE) {
            x = (void *)rt_tinyalloc(c, size, foreign);
        } else {
            int sc = rt_size_to_class(size);
            uint8_t spc = rt_spanclass(sc, noscan);
            rt_freecache *f = &c->fc[spc];
            if (f->n != 0) { /* an object freed on this P */
                c->nmalloc[sc]++;
                x = rt_freecache_pop(f, sc, zero ? rt_class_to_size[sc] : 0);
                rt_unlockcache(foreign);
                return x;
            }
            rt_mspan *s = c->alloc[spc];
            uintptr_t v = s != NULL ? nextfreefast(s) : 0;
            bool needzero;
            if (rt_likely(v != 0))
                needzero = s->needzero;
            else
                v = rt_nextfree(c, spc, &s, &needzero);
            if (needzero) {
                if (zero)
                    rt_zeroobj((void *)v, s->elemsize);
                else /* a used slot may hold a cookie or flush mark: not for the new owner */
                    memset((void *)v, 0, s->elemsize < 16 ? s->elemsize : 16);
            }
            c->nmalloc[sc]++;
            x = (void *)v;
        }
    } else {
        if (size > rt_maxalloc) { /* <= 2^46: the page count below cannot wrap */
            rt_unlockcache(foreign);
            return NULL; /* no machine here could back it: say so at once */
        }
        uint64_t npages = (size + RT_PAGE_SIZE - 1) >> RT_PAGE_SHIFT;
        if (npages > UINT32_MAX) {
            rt_unlockcache(foreign);
            return NULL;
        }
        rt_mspan *s = rt_mheap_alloc((uint32_t)npages, rt_spanclass(0, noscan), true);
        rt_gc_noteheap((int64_t)(npages << RT_PAGE_SHIFT));
        if (s->needzero && zero)
            memset((void *)s->base, 0, (size_t)npages << RT_PAGE_SHIFT);
        c->largealloc++;
        c->largeallocbytes += npages << RT_PAGE_SHIFT;
        x = (void *)s->base;
    }
    rt_unlockcache(foreign);
    return x;
}

/* Everything but a free-cache hit. Threads without a P pass the
 * collector's gate (they cannot be stopped with the world); a goroutine
 * whose allocation took the heap past the trigger runs a cycle. */
__attribute__((noinline)) static void *mallocgc_slow(size_t size, bool noscan, bool zero)
{
    rt_preemptpoint(); /* an allocation loop; the cached fast path has no check */
    if (rt_unlikely(size == 0))
        return &rt_zerobase;
    if (rt_unlikely(!rt_load_relaxed(&rt_booted)))
        rt_mallocinit_early();
    if (rt_unlikely(rt_mycache() == NULL)) {
        if (!rt_gc_thread_registered())
            rt_gc_autoregister(); /* its stack may now hold gort pointers */
        rt_gc_foreign_enter();
        void *x = mallocgc_cache(size, noscan, zero);
        rt_gc_foreign_exit();
        return x;
    }
    void *x = mallocgc_cache(size, noscan, zero);
    if (rt_unlikely(rt_gc_shouldstart()))
        rt_gc_alloctrigger(x);
    return x;
}

/* The fast path: this thread runs a goroutine (so the runtime is up and
 * there is a P), the size is small and not tiny, and the free cache has an
 * object of the class. Everything else: mallocgc_slow. */
static inline void *mallocgc(size_t size, bool noscan, bool zero)
{
    rt_mcache *c = rt_mycache();
    if (rt_likely(c != NULL) && size - 1 < RT_MAX_SMALL_SIZE && !(noscan && size < RT_TINY_SIZE)) {
        int sc = rt_size_to_class(size);
        uint8_t spc = rt_spanclass(sc, noscan);
        rt_freecache *f = &c->fc[spc];
        if (rt_likely(f->n != 0)) {
            c->nmalloc[sc]++;
            return rt_freecache_pop(f, sc, zero ? rt_class_to_size[sc] : 0);
        }
        /* The span's allocation cache (what the collector frees comes
         * back here, not through the free cache). */
        rt_mspan *s = c->alloc[spc];
        if (rt_likely(s != NULL)) {
            uintptr_t v = nextfreefast(s);
            if (rt_likely(v != 0)) {
                c->nmalloc[sc]++;
                if (s->needzero)
                    rt_zeroobj((void *)v, zero ? s->elemsize : (s->elemsize < 16 ? s->elemsize : 16));
                return (void *)v;
            }
        }
    }
    return mallocgc_slow(size, noscan, zero);
}

GORT_API void *gort_alloc(size_t n) { return mallocgc(n, false, true); }
GORT_API void *gort_alloc_noscan(size_t n) { return mallocgc(n, true, true); }
GORT_API void *gort_alloc_uninit(size_t n) { return mallocgc(n, false, false); }
GORT_API void *gort_alloc_noscan_uninit(size_t n) { return mallocgc(n, true, false); }

/* ---- memstats ---------------------------------------------------------------------------- */

static void addcache(gort_memstats_t *ms, rt_mcache *c, uint64_t *heapalloc)
{
    for (int sc = 1; sc < RT_NUM_SIZE_CLASSES; sc++) {
        uint64_t m = rt_load_relaxed(&c->nmalloc[sc]), f = rt_load_relaxed(&c->nfree[sc]);
        ms->Mallocs += m;
        ms->Frees += f;
        ms->TotalAlloc += m * rt_class_to_size[sc];
        *heapalloc += (m - f) * rt_class_to_size[sc];
        if (sc < 61) {
            ms->BySize[sc].Mallocs += m;
            ms->BySize[sc].Frees += f;
        }
    }
    /* Tiny objects count once each; their blocks count as 16-byte bytes. */
    uint64_t tb = rt_load_relaxed(&c->tinyblocks), tbf = rt_load_relaxed(&c->tinyblockfrees);
    ms->Mallocs += rt_load_relaxed(&c->tinyallocs) + rt_load_relaxed(&c->largealloc);
    ms->Frees += rt_load_relaxed(&c->tinyfrees) + rt_load_relaxed(&c->largefree);
    ms->TotalAlloc += rt_load_relaxed(&c->largeallocbytes) + tb * RT_TINY_SIZE;
    *heapalloc += rt_load_relaxed(&c->largeallocbytes) - rt_load_relaxed(&c->largefreebytes) + (tb - tbf) * RT_TINY_SIZE;
    ms->BySize[2].Mallocs += tb;
    ms->BySize[2].Frees += tbf;
}

GORT_API void gort_read_memstats(gort_memstats_t *ms)
{
    if (ms == NULL)
        return;
    memset(ms, 0, sizeof(*ms));
    if (!rt_load_relaxed(&rt_booted))
        return;
    /* Per-P counters are summed racily, as Go's ReadMemStats would without
     * stopping the world: a concurrent allocation may be half counted. */
    uint64_t heapalloc = 0;
    int64_t stack = rt_stack_inuse_bytes(NULL);
    for (int32_t i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        rt_p *pp = rt_load_acq(&rt_allp[i]);
        if (pp == NULL)
            break;
        if (pp->mcache != NULL)
            addcache(ms, pp->mcache, &heapalloc);
        stack += rt_stack_inuse_bytes(&pp->stackcache);
    }
    addcache(ms, rt_foreign_lock(), &heapalloc);
    rt_foreign_unlock();
    /* what the collector's sweeps freed */
    for (int sc = 1; sc < RT_NUM_SIZE_CLASSES; sc++) {
        uint64_t f = rt_load_relaxed(&rt_gc_stats.nfree[sc]);
        ms->Frees += f;
        heapalloc -= f * rt_class_to_size[sc];
        if (sc < 61)
            ms->BySize[sc].Frees += f;
    }
    uint64_t tbf = rt_load_relaxed(&rt_gc_stats.tinyblockfrees);
    ms->Frees += rt_load_relaxed(&rt_gc_stats.tinyfrees) + rt_load_relaxed(&rt_gc_stats.largefree);
    heapalloc -= rt_load_relaxed(&rt_gc_stats.largefreebytes) + tbf * RT_TINY_SIZE;
    ms->BySize[2].Frees += tbf;
    for (int sc = 0; sc < 61; sc++)
        ms->BySize[sc].Size = rt_class_to_size[sc];
    rt_heapstats hs;
    rt_mheap_stats(&hs);
    ms->HeapAlloc = ms->Alloc = heapalloc;
    ms->HeapObjects = ms->Mallocs - ms->Frees;
    ms->HeapSys = hs.sys;
    ms->HeapInuse = hs.inuse_pages << RT_PAGE_SHIFT;
    ms->HeapIdle = ms->HeapSys > ms->HeapInuse ? ms->HeapSys - ms->HeapInuse : 0;
    ms->HeapReleased = hs.released_pages << RT_PAGE_SHIFT;
    ms->StackInuse = stack > 0 ? (uint64_t)stack : 0;
    ms->StackSys = ms->StackInuse;
    ms->MSpanInuse = hs.spans_inuse;
    ms->MSpanSys = hs.spans_sys;
    ms->MCacheInuse = ms->MCacheSys = (uint64_t)rt_procs() * sizeof(rt_mcache);
    ms->OtherSys = hs.persistent_sys;
    ms->Sys = ms->HeapSys + ms->StackSys + ms->MSpanSys + ms->OtherSys;
    rt_gc_readstats(ms);
}

/* ---- init ---------------------------------------------------------------------------------- */

void rt_mallocinit_all(void)
{
    rt_mallocinit();
    uint64_t lim = rt_sysCommitLimit();
    if (lim != 0 && lim < rt_maxalloc)
        rt_maxalloc = lim;
    if (rt_freekey == 0) {
        uint64_t r = rt_arch_cputicks() ^ (uint64_t)(uintptr_t)&rt_zerobase;
        rt_freekey = ((r * 0x9e3779b97f4a7c15ull) ^ 0x5bd1e9955bd1e995ull) | 1; /* odd: never a plausible pointer, never zero */
        rt_flushkey = ((r * 0xc2b2ae3d27d4eb4full) ^ 0x165667b19e3779f9ull) | 1;
    }
    if (rt_foreign_mcache == NULL)
        rt_foreign_mcache = rt_mcache_new();
}

/* gort_alloc before the runtime booted (an ELF constructor, say): set the
 * heap up on the spot; the scheduler is not needed for it. */
void rt_mallocinit_early(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, rt_mallocinit_all);
}
