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
 * Freeing (gort_free; Go has only the collector, this is the optional early
 * free the API offers), the fast path in three steps:
 *   1. the heap's address range, then pageinfo (arena map -> 2 bytes a
 *      page) gives the span class and the span's base without touching the
 *      mspan (rt_findobject's decoding, malloc.h);
 *   2. divmagic gives the object index; the pointer must be an object's
 *      start (else a fatal error naming it);
 *   3. the object goes on the freeing P's free cache for its class
 *      (mcache.c), where that P's next allocation of the class takes it.
 * A full cache flushes its older half to the spans: the owner of the span
 * clears allocBits directly, anyone else sets freeBits (atomic OR), merged
 * by the owner later. Large objects give their pages back at once.
 *
 * Double frees. Reading the freed object to check it would cost a cache
 * miss on every free of a cold object, so the free path only writes:
 *   - a cached object holds rt_freekey (random, per process) in word 0;
 *   - a flushed object holds rt_freekey ^ FLUSHED in word 0 and (16 bytes
 *     and up) rt_flushkey in word 1, until it is allocated again (which
 *     clears both words, zeroing or not).
 * The checks, which together never let one object reach two owners:
 *   - at free: the object equal to the top of this P's cache for the class
 *     (freed twice in a row) is reported at once; 8-byte objects, with no
 *     room for word 1, read word 0 and confirm a cookie against the caches
 *     and bitmaps (so user data that equals it is not misreported);
 *   - at reuse (popcached): word 0 must be the cookie and word 1 not the
 *     flush mark, else the object was freed twice (or written after its
 *     free) and it is a fatal error, before anyone gets it;
 *   - at flush: the span's bitmaps refuse an object already free there;
 *   - when gort_main returns: this P's caches and the shared one are
 *     checked (cookies, and no object cached twice), so a double free that
 *     nothing reused is still reported.
 *
 * Invariants: for every in-use small span,
 *   live objects == allocCount - nfreed(pending) and
 *   allocCount == popcount(allocBits);
 * HeapAlloc == sum over classes of (mallocs - frees) * size + large bytes.
 *
 * Threads that are not running a goroutine (no P) allocate through a shared
 * mcache under a lock. Lock order: foreign mcache lock < mcentral < mheap.
 *
 * Errors: a size that cannot be satisfied (overflow, beyond the address
 * space) returns NULL; otherwise running out of memory is
 * "fatal error: out of memory" (Go's throw). No errno. */
#include "malloc.h"
#include "../sched/sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../stack/stack.h"

#include <gort.h>

#include <stdlib.h>
#include <string.h>

static uint64_t zerobase; /* every 0-byte allocation returns its address */

static rt_lock foreignlock = {0, RT_RANK_INIT};
static rt_mcache *foreign_mcache;

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

static inline rt_mcache *mycache(void)
{
    /* The P's mcache when this thread holds a P (acquirep sets the slot). */
    return (rt_mcache *)rt_arch_getmcache();
}

/* This P's mcache, or (a thread without a P) the shared one, locked:
 * *foreign says which, for unlockcache. */
static inline rt_mcache *lockcache(bool *foreign)
{
    rt_mcache *c = mycache();
    *foreign = c == NULL;
    if (c != NULL)
        return c;
    rt_lock_acquire(&foreignlock);
    return foreign_mcache;
}

static inline void unlockcache(bool foreign)
{
    if (foreign)
        rt_lock_release(&foreignlock);
}

/* An object from a free cache must still carry the free cookie in its first
 * word, and (16 bytes and up) not the flush mark in its second: otherwise it
 * was freed twice (or written after it was freed), and handing it out would
 * give it to two owners. */
__attribute__((noreturn, cold, noinline)) void rt_reusefail(uintptr_t p)
{
    rt_throwf("gort_free(0x%lx): double free (or a write after free), found when the object was reused",
              (unsigned long)p);
}

static inline void *popcached(rt_mcache *c, rt_freecache *f, int sc, bool zero)
{
    uintptr_t x = f->obj[--f->n];
    uint64_t *w = (uint64_t *)x;
    if (rt_unlikely(!rt_cookie_intact(x, sc)))
        rt_reusefail(x);
    if (zero)
        memset(w, 0, rt_class_to_size[sc]);
    else
        w[0] = 0; /* the cookie: a second pop of this object must fail */
    c->nmalloc[sc]++;
    return w;
}

__attribute__((noinline)) static void *mallocgc_slow(size_t size, bool noscan, bool zero)
{
    rt_preemptpoint(); /* an allocation loop; the cached fast path has no check */
    if (rt_unlikely(size == 0))
        return &zerobase;
    if (rt_unlikely(!rt_load_relaxed(&rt_booted)))
        rt_mallocinit_early();
    bool foreign;
    rt_mcache *c = lockcache(&foreign);
    void *x;
    if (size <= RT_MAX_SMALL_SIZE) {
        if (noscan && size < RT_TINY_SIZE) {
            x = (void *)rt_tinyalloc(c, size, foreign);
        } else {
            int sc = rt_size_to_class(size);
            uint8_t spc = rt_spanclass(sc, noscan);
            rt_freecache *f = &c->fc[spc];
            if (f->n != 0) { /* an object freed on this P */
                x = popcached(c, f, sc, zero);
                unlockcache(foreign);
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
                    memset((void *)v, 0, s->elemsize);
                else /* a used slot may hold a cookie or flush mark: not for the new owner */
                    memset((void *)v, 0, s->elemsize < 16 ? s->elemsize : 16);
            }
            c->nmalloc[sc]++;
            x = (void *)v;
        }
    } else {
        if (size > (SIZE_MAX >> 1)) {
            unlockcache(foreign);
            return NULL;
        }
        uint64_t npages = (size + RT_PAGE_SIZE - 1) >> RT_PAGE_SHIFT;
        if (npages > UINT32_MAX || npages > ((uint64_t)1 << (47 - RT_PAGE_SHIFT))) {
            unlockcache(foreign);
            return NULL;
        }
        rt_mspan *s = rt_mheap_alloc((uint32_t)npages, rt_spanclass(0, noscan), true);
        if (s->needzero && zero)
            memset((void *)s->base, 0, (size_t)npages << RT_PAGE_SHIFT);
        c->largealloc++;
        c->largeallocbytes += npages << RT_PAGE_SHIFT;
        x = (void *)s->base;
    }
    unlockcache(foreign);
    return x;
}

/* The fast path: this thread runs a goroutine (so the runtime is up and
 * there is a P), the size is small and not tiny, and the free cache has an
 * object of the class. Everything else: mallocgc_slow. */
static inline void *mallocgc(size_t size, bool noscan, bool zero)
{
    rt_mcache *c = mycache();
    if (rt_likely(c != NULL) && size - 1 < RT_MAX_SMALL_SIZE && !(noscan && size < RT_TINY_SIZE)) {
        int sc = rt_size_to_class(size);
        rt_freecache *f = &c->fc[rt_spanclass(sc, noscan)];
        if (rt_likely(f->n != 0))
            return popcached(c, f, sc, zero);
    }
    return mallocgc_slow(size, noscan, zero);
}

GORT_API void *gort_alloc(size_t n) { return mallocgc(n, false, true); }
GORT_API void *gort_alloc_noscan(size_t n) { return mallocgc(n, true, true); }
GORT_API void *gort_alloc_uninit(size_t n) { return mallocgc(n, false, false); }
GORT_API void *gort_alloc_noscan_uninit(size_t n) { return mallocgc(n, true, false); }

/* ---- free ---------------------------------------------------------------------------- */

__attribute__((noreturn, cold)) static void badfree(uintptr_t p, const char *why)
{
    rt_throwf("gort_free(0x%lx): %s", (unsigned long)p, why);
}

/* p is in no object of an in-use span (rt_findobject said 0): fn, the
 * call, dies naming it and saying where p is. A pointer into the heap's
 * free pages may be one freed already (a large object, or a small one
 * whose span went back to the heap). */
__attribute__((noreturn, cold, noinline)) static void badpointer(const char *fn, uintptr_t p)
{
    uint32_t pg;
    rt_heaparena *a = rt_heaparenaof(p, &pg);
    const char *where = a == NULL ? ""
                        : rt_load_acq(&a->spans[pg]) == NULL ? " (or already freed)"
                                                             : " (past the last object of its span)";
    rt_throwf("%s(0x%lx): pointer not allocated by gort%s", fn, (unsigned long)p, where);
}

/* Free object idx of small span s (validated by the caller). */
static void free_small(rt_mspan *s, uint32_t idx, uintptr_t p)
{
    uint32_t w = idx / 64;
    uint64_t bit = 1ull << (idx % 64);
    if (!(rt_load_relaxed(&s->allocBits[w]) & bit))
        badfree(p, "double free (the object is not allocated)");
    rt_mcache *c = mycache();
    if (c != NULL && c->alloc[s->spanclass] == s) {
        /* Our own current span: clear the bit now; the slot is reused at
         * once if it lies before where allocation has got to. */
        if (rt_load_relaxed(&s->freeBits[w]) & bit)
            badfree(p, "double free");
        rt_store_relaxed(&s->allocBits[w], s->allocBits[w] & ~bit);
        s->allocCount--;
        s->needzero = true;
        if (idx < s->freeindex) {
            s->freeindex = w * 64;
            s->allocCache = ~s->allocBits[w];
        } else if (w == s->freeindex / 64) {
            s->allocCache = ~s->allocBits[w] >> (s->freeindex % 64);
        }
    } else {
        /* Pin the span first: once the bit is set its owner may merge it,
         * find the span empty and free it, while we still look at it in
         * rt_mcentral_freed (found by TSan). Then count, then set the bit:
         * nfreed never under-counts the bits a merge can find. */
        __atomic_add_fetch(&s->freeing, 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&s->nfreed, 1, __ATOMIC_SEQ_CST);
        uint64_t old = __atomic_fetch_or(&s->freeBits[w], bit, __ATOMIC_SEQ_CST);
        if (old & bit)
            badfree(p, "double free");
        rt_mcentral_freed(s);
        __atomic_sub_fetch(&s->freeing, 1, __ATOMIC_SEQ_CST);
    }
}


static inline void cachefree(uint8_t spc, uintptr_t p);

/* Cookies in a freed object (the essay at the top): rt_freekey in word 0
 * while it sits in a free cache; rt_freekey ^ FLUSHED in word 0 and
 * rt_flushkey in word 1 once flushed to its span. Every allocation clears
 * word 0 (and 1), so a live object carries one only if its owner put it
 * there. */
#define FLUSHED 2
uint64_t rt_freekey, rt_flushkey;

/* A large object's pages went back to the heap: count it. */
static void countfree_large(uint64_t bytes)
{
    bool foreign;
    rt_mcache *c = lockcache(&foreign);
    c->largefree++;
    c->largefreebytes += bytes;
    unlockcache(foreign);
}

static inline void cachefree_locked(rt_mcache *c, uint8_t spc, uintptr_t p, bool foreign, bool count);

/* A tiny block whose objects are all freed and that is no longer any
 * mcache's current block goes to c's free cache (c: this P's, or the
 * foreign one with its lock held), where the next new tiny block or 16-byte
 * noscan object is taken from. */
void rt_free_tinyblock(rt_mcache *c, uintptr_t block, bool foreign)
{
    cachefree_locked(c, RT_TINY_SPANCLASS, block, foreign, false);
    c->tinyblockfrees++;
}

/* gort_free of a pointer whose page is not a small span's (pageinfo 0):
 * a large object's start, or a fatal error. */
__attribute__((noinline)) static void free_large(uintptr_t p)
{
    rt_mspan *s;
    uint32_t idx;
    uintptr_t base = rt_findobject(p, &s, &idx);
    if (base == 0 || rt_spanclass_size(s->spanclass) != 0) /* (small: a span made meanwhile) */
        badpointer("gort_free", p);
    if (p != base)
        badfree(p, "not the start of an object");
    uint64_t bytes = (uint64_t)s->npages << RT_PAGE_SHIFT;
    rt_mheap_free(s);
    countfree_large(bytes);
}

/* A tiny object (or a 16-byte noscan one: same span class) in block. */
static void freetiny(uintptr_t p, uintptr_t block)
{
    uint32_t *st = rt_tinystate(block);
    if (rt_load(st) == 0) { /* not a live tiny block: a 16-byte object */
        if (p != block)
            badfree(p, "double free, or not the start of an object");
        cachefree(RT_TINY_SPANCLASS, p);
        return;
    }
    uint32_t off = (uint32_t)(p - block), now = rt_load(st);
    if (!(now & (1u << off)))
        badfree(p, "double free, or not the start of a tiny object");
    /* Its end bit is stable: objects allocated later lie beyond it. */
    uint32_t bits = rt_tinybits(off, rt_tinysize(now, off));
    uint32_t was = __atomic_fetch_and(st, ~bits, __ATOMIC_ACQ_REL);
    if (!(was & (1u << off)))
        badfree(p, "double free of a tiny object");
    bool foreign;
    rt_mcache *c = lockcache(&foreign);
    c->tinyfrees++;
    if ((was & ~bits) == 0) /* the last one, and not current: the block is free */
        rt_free_tinyblock(c, block, foreign);
    unlockcache(foreign);
}

/* Everything but the common case of gort_free: kept out of line so that
 * the fast path below needs no stack frame to speak of. */
__attribute__((noinline)) static void free_notfast(uintptr_t p, uint32_t pi)
{
    if (pi == 0) {
        if (p == 0 || p == (uintptr_t)&zerobase)
            return;
        free_large(p);
        return;
    }
    uint8_t spc = (uint8_t)(pi >> 8);
    uint32_t idx;
    uintptr_t start = rt_pageinfo_object(p, pi, &idx);
    if (idx >= rt_class_to_nelems[rt_spanclass_size(spc)]) /* past the span's last object */
        badpointer("gort_free", p);
    if (spc == RT_TINY_SPANCLASS) {
        freetiny(p, start);
        return;
    }
    if (start != p)
        badfree(p, "not the start of an object");
    cachefree(spc, p);
}

/* gort_free, the fast path (a small object), rt_findobject's decoding:
 *   1. the heap's range, then pageinfo (arena map -> 2 bytes per page)
 *      gives the span class and the span's base without touching the span;
 *   2. divmagic gives the object index; p must be an object's start;
 *   3. it goes on this P's free cache (tiny objects: freetiny).
 * Anything else (large, not ours, a freed span, no P) takes free_notfast. */
GORT_API void gort_free(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    uint32_t pi = rt_pageinfo(p);
    uint8_t spc = (uint8_t)(pi >> 8);
    rt_mcache *c = mycache();
    /* not ours / large / tiny / 8-byte / no P: the general path */
    if (rt_unlikely(pi == 0 || spc == RT_TINY_SPANCLASS || spc < 2 * 2 || c == NULL)) {
        free_notfast(p, pi);
        return;
    }
    uint32_t idx;
    uintptr_t start = rt_pageinfo_object(p, pi, &idx);
    rt_freecache *f = &c->fc[spc];
    uint32_t n = f->n;
    if (rt_unlikely(start != p || idx >= rt_class_to_nelems[rt_spanclass_size(spc)] || n == RT_FREECACHE ||
                    (n != 0 && f->obj[n - 1] == p))) {
        free_notfast(p, pi); /* bad pointer, full cache or freed twice in a row: say which there */
        return;
    }
    *(uint64_t *)p = rt_freekey;
    f->obj[n] = p;
    f->n = n + 1;
    c->nfree[rt_spanclass_size(spc)]++;
}

/* Flush the oldest objects of a class's free cache to their spans'
 * bitmaps, keeping `keep`. */
void rt_freecache_flush(rt_mcache *c, uint8_t spc, uint32_t keep)
{
    rt_freecache *f = &c->fc[spc];
    if (f->n <= keep)
        return;
    uint32_t n = f->n - keep;
    for (uint32_t i = 0; i < n; i++) {
        uintptr_t q = f->obj[i];
        *(uint64_t *)q = rt_freekey ^ FLUSHED; /* free in its span now: the other cookie */
        if (rt_class_to_size[rt_spanclass_size(spc)] >= 16)
            ((uint64_t *)q)[1] = rt_flushkey;  /* ... and the mark a pop looks for */
        rt_mspan *s;
        uint32_t idx;
        uintptr_t base = rt_findobject(q, &s, &idx);
        rt_assert(base == q); /* checked when it was freed */
        free_small(s, idx, q);
    }
    memmove(f->obj, f->obj + n, keep * sizeof(f->obj[0]));
    f->n = keep;
}

static bool incache(rt_mcache *c, uint8_t spc, uintptr_t p)
{
    rt_freecache *f = &c->fc[spc];
    uint32_t n = rt_load_relaxed(&f->n);
    for (uint32_t i = 0; i < n && i < RT_FREECACHE; i++)
        if (rt_load_relaxed(&f->obj[i]) == p)
            return true;
    return false;
}

/* Other Ps' free caches, read racily: only on the way to a fatal error (or
 * for user data that equals the cookie), so TSan is told to look away. */
__attribute__((no_sanitize("thread"))) static bool inothercache(rt_mcache *mine, uint8_t spc, uintptr_t p)
{
    for (int32_t i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        rt_p *pp = rt_load_acq(&rt_allp[i]);
        if (pp == NULL)
            break;
        if (pp->mcache != NULL && pp->mcache != mine && incache(pp->mcache, spc, p))
            return true;
    }
    return foreign_mcache != mine && incache(foreign_mcache, spc, p);
}

/* The object's first word is a free cookie: it was freed already, or the
 * user's data happens to equal the cookie. Tell which (this P's cache, the
 * span's bitmaps, the other Ps' caches) and die on a double free. */
__attribute__((noinline, cold)) static void checkdoublefree(rt_mcache *c, uint8_t spc, uintptr_t p, bool foreign)
{
    rt_mspan *s;
    uint32_t idx;
    if (rt_findobject(p, &s, &idx) != p) /* checked by the caller */
        badpointer("gort_free", p);
    uint32_t w = idx / 64;
    uint64_t bit = 1ull << (idx % 64);
    if (incache(c, spc, p) || !(rt_load_relaxed(&s->allocBits[w]) & bit) ||
        (rt_load_relaxed(&s->freeBits[w]) & bit) || inothercache(c, spc, p)) {
        unlockcache(foreign);
        badfree(p, "double free");
    }
}

static inline void cachefree_locked(rt_mcache *c, uint8_t spc, uintptr_t p, bool foreign, bool count)
{
    rt_freecache *f = &c->fc[spc];
    if (rt_unlikely(spc < 2 * 2)) {
        /* 8-byte objects have no room for the flush mark: read the cookie. */
        uint64_t word = *(uint64_t *)p;
        if (rt_unlikely((word | FLUSHED) == (rt_freekey | FLUSHED)))
            checkdoublefree(c, spc, p, foreign);
    } else if (rt_unlikely(f->n != 0 && f->obj[f->n - 1] == p)) {
        /* freed twice in a row: say so now (other double frees are caught
         * when the object is reused, or at exit: see the essay above) */
        unlockcache(foreign);
        badfree(p, "double free");
    }
    if (rt_unlikely(f->n == RT_FREECACHE))
        rt_freecache_flush(c, spc, RT_FREECACHE / 2);
    *(uint64_t *)p = rt_freekey;
    f->obj[f->n++] = p;
    if (count)
        c->nfree[rt_spanclass_size(spc)]++;
}

/* A small object (validated) goes to the freeing P's cache for its class. */
static inline void cachefree(uint8_t spc, uintptr_t p)
{
    rt_mcache *c = mycache();
    if (rt_likely(c != NULL)) {
        cachefree_locked(c, spc, p, false, true);
        return;
    }
    rt_lock_acquire(&foreignlock);
    cachefree_locked(foreign_mcache, spc, p, true, true);
    rt_lock_release(&foreignlock);
}

/* ---- the exit check ------------------------------------------------------------------- */

static int cmpptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static size_t checkcache(rt_mcache *c, uintptr_t *all, size_t n)
{
    for (int spc = 2; spc < RT_NUM_SPAN_CLASSES; spc++) {
        rt_freecache *f = &c->fc[spc];
        int sc = rt_spanclass_size((uint8_t)spc);
        for (uint32_t i = 0; i < f->n; i++) {
            if (!rt_cookie_intact(f->obj[i], sc))
                badfree(f->obj[i], "double free (or a write after free), found at exit");
            all[n++] = f->obj[i];
        }
    }
    return n;
}

/* When gort_main returns: a double free the free path could not see at once
 * (on another thread, or after the object left the cache) and that no
 * allocation has reused since is reported now rather than never. Checks
 * this P's free caches and the shared one (other Ps may still be running):
 * every cached object must carry the cookie, and none may be cached twice. */
void rt_malloc_exitcheck(void)
{
    rt_mcache *c = mycache();
    if (c == NULL || foreign_mcache == NULL)
        return;
    size_t max = 2 * (size_t)RT_NUM_SPAN_CLASSES * RT_FREECACHE;
    uintptr_t *all = malloc(max * sizeof(uintptr_t));
    if (all == NULL)
        return;
    rt_lock_acquire(&foreignlock);
    size_t n = checkcache(c, all, 0);
    n = checkcache(foreign_mcache, all, n);
    rt_lock_release(&foreignlock);
    qsort(all, n, sizeof(all[0]), cmpptr);
    for (size_t i = 1; i < n; i++)
        if (all[i] == all[i - 1])
            badfree(all[i], "double free, found at exit");
    free(all);
}

GORT_API size_t gort_usable_size(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    if (ptr == NULL || ptr == &zerobase)
        return 0;
    rt_mspan *s;
    uint32_t idx;
    uintptr_t start = rt_findobject(p, &s, &idx);
    if (start == 0)
        badpointer("gort_usable_size", p);
    if (rt_spanclass_size(s->spanclass) == 0)
        return ((size_t)s->npages << RT_PAGE_SHIFT) - (p - start);
    uint32_t st = s->spanclass == RT_TINY_SPANCLASS ? rt_load(rt_tinystate(start)) : 0;
    if (st != 0) { /* a tiny object: its exact size */
        uint32_t off = (uint32_t)(p - start);
        if (!(st & (1u << off)))
            rt_throwf("gort_usable_size(0x%lx): not the start of an object", (unsigned long)p);
        return rt_tinysize(st, off);
    }
    return start + s->elemsize - p;
}

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
    rt_lock_acquire(&foreignlock);
    addcache(ms, foreign_mcache, &heapalloc);
    rt_lock_release(&foreignlock);
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
    ms->EnableGC = false; /* until the collector issue lands */
}

/* ---- init ---------------------------------------------------------------------------------- */

void rt_mallocinit_all(void)
{
    rt_mallocinit();
    if (rt_freekey == 0) {
        uint64_t r = rt_arch_cputicks() ^ (uint64_t)(uintptr_t)&zerobase;
        rt_freekey = ((r * 0x9e3779b97f4a7c15ull) ^ 0x5bd1e9955bd1e995ull) | 1; /* odd: never a plausible pointer, never zero */
        rt_flushkey = ((r * 0xc2b2ae3d27d4eb4full) ^ 0x165667b19e3779f9ull) | 1;
    }
    if (foreign_mcache == NULL)
        foreign_mcache = rt_mcache_new();
}

/* gort_alloc before the runtime booted (an ELF constructor, say): set the
 * heap up on the spot; the scheduler is not needed for it. */
void rt_mallocinit_early(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, rt_mallocinit_all);
}
