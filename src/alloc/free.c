/* free.c - gort_free and everything that takes a pointer back (gort_free,
 * gort_usable_size, the free caches' flush, double-free detection). Go has
 * only the collector; this is the optional early free the API offers.
 * mimalloc keeps its free path in free.c too.
 *
 * Structures, and who owns what
 * -----------------------------
 *   per-P free caches (rt_mcache.fc[spanclass], mcache.c): up to 64 freed
 *     objects per span class, pushed and popped by the P's owner only, no
 *     lock, no atomic; threads without a P push on the shared mcache's
 *     caches under its lock (rt_lockcache). A cached object still counts as
 *     allocated in its span (allocBits bit set, freeBits bit clear).
 *   span bitmaps (rt_mspan, malloc.h): a flush clears allocBits directly
 *     when the flushing P owns the span (it is the P's current span for the
 *     class), else sets the object's freeBits bit with an atomic OR after
 *     counting it in nfreed; the owner merges freeBits into allocBits later
 *     (rt_mspan_merge). While such a free is under way span.freeing pins
 *     the span, so it cannot go back to the heap under the freer's feet.
 *   tiny block state (heaparena.tinystate, mcache.c): one atomic AND per
 *     free; whoever clears the last bit frees the 16-byte block.
 *   large objects: their span goes back to the heap at once.
 *
 * The fast path, three steps (gort_free):
 *   1. the heap's address range, then pageinfo (arena map -> 2 bytes a
 *      page) gives the span class and the span's base without touching the
 *      mspan: rt_findobject's decoding (malloc.h), the one place a pointer
 *      is decoded;
 *   2. divmagic gives the object index; the pointer must be an object's
 *      start (else a fatal error naming it);
 *   3. the object goes on the freeing P's free cache for its class, where
 *      that P's next allocation of the class takes it.
 * A full cache flushes its older half to the spans' bitmaps. Every other
 * case (a large object, a tiny one, 8 bytes, no P, a bad pointer) takes
 * free_notfast, out of line.
 *
 * Pointers gort did not allocate. gort_free and gort_usable_size of a
 * pointer in no object of an in-use span (another allocator's, a stack
 * address, free pages, the tail of a span past its last object) are fatal
 * errors naming the pointer: "gort_free(0x...): pointer not allocated by
 * gort". gort_free of a pointer inside an object but not at its start is
 * one too, as glibc's "free(): invalid pointer" ("not the start of an
 * object"); gort_usable_size accepts it (the bytes from it to the end of
 * the object), except inside a tiny block.
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
 *   - at reuse (rt_freecache_pop): word 0 must be the cookie and word 1 not
 *     the flush mark, else the object was freed twice (or written after
 *     its free) and it is a fatal error, before anyone gets it;
 *   - at flush: the span's bitmaps refuse an object already free there;
 *   - when gort_main returns: this P's caches and the shared one are
 *     checked (cookies, and no object cached twice), so a double free that
 *     nothing reused is still reported.
 *
 * Invariants (rt_mheap_check verifies them, malloc.h):
 *   - an object is in at most one free cache, at most once;
 *   - a cached object is allocated in its span's allocBits and not pending
 *     in its freeBits, and carries the cookie (and no flush mark);
 *   - for a small span, nfreed == popcount(freeBits) once no free is under
 *     way, and freeBits is a subset of allocBits. */
#include "malloc.h"
#include "../sched/sched.h"
#include "../debug/debug.h"
#include "../gc/gc.h"
#include "../boot/boot.h"

#include <gort.h>

#include <stdlib.h>
#include <string.h>

/* Cookies in a freed object (the essay at the top): rt_freekey in word 0
 * while it sits in a free cache; rt_freekey ^ FLUSHED in word 0 and
 * rt_flushkey in word 1 once flushed to its span. Every allocation clears
 * word 0 (and 1), so a live object carries one only if its owner put it
 * there. */
#define FLUSHED 2
uint64_t rt_freekey, rt_flushkey;

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
                        : rt_arenaspan(a, pg) == NULL ? " (or already freed)"
                                                             : " (past the last object of its span)";
    rt_throwf("%s(0x%lx): pointer not allocated by gort%s", fn, (unsigned long)p, where);
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

/* ---- to the spans ------------------------------------------------------------------------ */

/* Free object idx of small span s (validated by the caller). */
static void free_small(rt_mspan *s, uint32_t idx, uintptr_t p)
{
    uint32_t w = idx / 64;
    uint64_t bit = 1ull << (idx % 64);
    if (!(rt_load_relaxed(&s->allocBits[w]) & bit))
        badfree(p, "double free (the object is not allocated)");
    rt_mcache *c = rt_mycache();
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

/* ---- the free cache ---------------------------------------------------------------------- */

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
    return rt_foreign_mcache != mine && incache(rt_foreign_mcache, spc, p);
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
        rt_unlockcache(foreign);
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
        rt_unlockcache(foreign);
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
    bool foreign;
    rt_mcache *c = rt_lockcache(&foreign);
    cachefree_locked(c, spc, p, foreign, true);
    rt_unlockcache(foreign);
}

/* ---- tiny and large objects ------------------------------------------------------------- */

/* A tiny block whose objects are all freed and that is no longer any
 * mcache's current block goes to c's free cache (c: this P's, or the
 * foreign one with its lock held), where the next new tiny block or 16-byte
 * noscan object is taken from. */
void rt_free_tinyblock(rt_mcache *c, uintptr_t block, bool foreign)
{
    cachefree_locked(c, RT_TINY_SPANCLASS, block, foreign, false);
    c->tinyblockfrees++;
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
    rt_mcache *c = rt_lockcache(&foreign);
    c->tinyfrees++;
    if ((was & ~bits) == 0) /* the last one, and not current: the block is free */
        rt_free_tinyblock(c, block, foreign);
    rt_unlockcache(foreign);
}

/* A large object's pages went back to the heap: count it. */
static void countfree_large(uint64_t bytes)
{
    bool foreign;
    rt_mcache *c = rt_lockcache(&foreign);
    c->largefree++;
    c->largefreebytes += bytes;
    rt_unlockcache(foreign);
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
    /* the pacer counted it when it was made */
    uint64_t live = rt_load_relaxed(&rt_gc_heaplive);
    while (!__atomic_compare_exchange_n(&rt_gc_heaplive, &live, live > bytes ? live - bytes : 0, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* ---- gort_free, gort_usable_size ---------------------------------------------------------- */

/* Everything but the common case of gort_free: kept out of line so that
 * the fast path below needs no stack frame to speak of. */
__attribute__((noinline)) static void free_notfast(uintptr_t p, uint32_t pi)
{
    if (pi == 0) {
        if (p == 0 || p == (uintptr_t)&rt_zerobase)
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
/* GORTDEBUG=checkfree=1: the object must be allocated in its span's
 * bitmap. A free cache does not read the span (the fast path's point), so
 * without this a free of an object the collector already reclaimed - a
 * pointer it could not see - would put a free slot in a cache. */
__attribute__((noinline, cold)) static void checkfree(uintptr_t p)
{
    if (p == 0 || p == (uintptr_t)&rt_zerobase)
        return;
    rt_mspan *s;
    uint32_t idx;
    uintptr_t base = rt_findobject(p, &s, &idx);
    if (base == 0)
        badpointer("gort_free", p);
    if (rt_spanclass_size(s->spanclass) != 0 &&
        !(rt_load_relaxed(&s->allocBits[idx / 64]) & (1ull << (idx % 64))))
        badfree(p, "double free (the object is not allocated: freed already, or reclaimed by the collector "
                   "because no pointer to it was visible)");
    if (base == p && rt_gc_hasfinalizer(p))
        badfree(p, "the object has a finalizer (clear it with gort_set_finalizer(p, NULL) first)");
}

GORT_API void gort_free(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    if (rt_unlikely(rt_debug.checkfree))
        checkfree(p);
    rt_mcache *c = rt_mycache();
    if (rt_unlikely(c == NULL)) {
        /* no P: a cycle cannot stop this thread, so it waits for one to end */
        if (!rt_gc_thread_registered())
            rt_gc_autoregister();
        rt_gc_foreign_enter();
        free_notfast(p, rt_pageinfo(p));
        rt_gc_foreign_exit();
        return;
    }
    uint32_t pi = rt_pageinfo(p);
    uint8_t spc = (uint8_t)(pi >> 8);
    /* not ours / large / tiny / 8-byte / no P: the general path */
    if (rt_unlikely(pi == 0 || spc == RT_TINY_SPANCLASS || spc < 2 * 2)) {
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

GORT_API size_t gort_usable_size(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    if (ptr == NULL || ptr == &rt_zerobase)
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

/* ---- the exit check, and the free caches' part of rt_mheap_check ---------------------- */

static int cmpptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Object p in a free cache of span class spc is as its free left it: its
 * cookie; and (full) it is an object of an in-use span of that class,
 * still allocated there (a cached object leaves its span's bitmaps alone),
 * and a 16-byte block with no live tiny object in it. */
static void checkcached(uintptr_t p, uint8_t spc, bool full, bool atexit)
{
    if (!rt_cookie_intact(p, rt_spanclass_size(spc))) {
        if (atexit)
            badfree(p, "double free (or a write after free), found at exit");
        rt_throwf("rt_mheap_check: object 0x%lx in a free cache lost its cookie (a double free, or a write after "
                  "free)",
                  (unsigned long)p);
    }
    if (!full)
        return;
    rt_mspan *s;
    uint32_t idx;
    if (rt_findobject(p, &s, &idx) != p || s->spanclass != spc)
        rt_throwf("rt_mheap_check: 0x%lx, in a free cache of span class %d, is not an object of an in-use span "
                  "of that class",
                  (unsigned long)p, spc);
    uint64_t bit = 1ull << (idx % 64);
    bool allocated = rt_load_relaxed(&s->allocBits[idx / 64]) & bit;
    if (!allocated || (rt_load(&s->freeBits[idx / 64]) & bit)) {
        const char *why = !allocated ? "free in its span's allocBits" : "pending in its span's freeBits";
        if (atexit)
            rt_throwf("gort_free(0x%lx): double free (cached, and %s), found at exit", (unsigned long)p, why);
        rt_throwf("rt_mheap_check: object 0x%lx is in a free cache and %s (a double free)", (unsigned long)p, why);
    }
    uint32_t st = spc == RT_TINY_SPANCLASS ? rt_load(rt_tinystate(p)) : 0;
    if (st != 0)
        rt_throwf("rt_mheap_check: 16-byte block 0x%lx is in a free cache but holds live tiny objects (state "
                  "0x%x)",
                  (unsigned long)p, st);
}

/* The free caches of cs[0..n) (the shared mcache's lock held, if it is
 * one of them): every object passes checkcached, and none is cached twice.
 * atexit: the exit check (cookies and duplicates, the rest at debug tier
 * 2; the messages of gort_free's double-free errors), else rt_mheap_check. */
void rt_freecache_check(rt_mcache **cs, int32_t n, bool atexit)
{
    bool full = !atexit || RT_DEBUG_CHECKS;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        for (int spc = 0; spc < RT_NUM_SPAN_CLASSES; spc++) {
            uint32_t k = cs[i]->fc[spc].n;
            if (k > RT_FREECACHE || (k != 0 && spc < 2))
                rt_throwf("rt_mheap_check: mcache %p: free cache of span class %d holds %u objects", (void *)cs[i],
                          spc, k);
            total += k;
        }
    }
    uintptr_t *all = malloc((total + 1) * sizeof(uintptr_t));
    if (all == NULL)
        return; /* (libc's malloc; only a check is lost) */
    size_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        for (int spc = 2; spc < RT_NUM_SPAN_CLASSES; spc++) {
            rt_freecache *f = &cs[i]->fc[spc];
            for (uint32_t j = 0; j < f->n; j++) {
                checkcached(f->obj[j], (uint8_t)spc, full, atexit);
                all[m++] = f->obj[j];
            }
        }
    }
    qsort(all, m, sizeof(all[0]), cmpptr);
    for (size_t i = 1; i < m; i++) {
        if (all[i] != all[i - 1])
            continue;
        if (atexit)
            badfree(all[i], "double free, found at exit");
        rt_throwf("rt_mheap_check: object 0x%lx is in the free caches twice (a double free)", (unsigned long)all[i]);
    }
    free(all);
}

/* When gort_main returns: a double free the free path could not see at once
 * (on another thread, or after the object left the cache) and that no
 * allocation has reused since is reported now rather than never. Checks
 * this P's free caches and the shared one (other Ps may still be running):
 * every cached object must carry the cookie, and none may be cached twice.
 * At debug tier 2, everything of rt_mheap_check that holds while other Ps
 * run (malloc.h). */
void rt_malloc_exitcheck(void)
{
    if (rt_mycache() == NULL || rt_foreign_mcache == NULL)
        return;
    if (RT_DEBUG_CHECKS) {
        rt_mheap_check_as(false);
        return;
    }
    rt_foreign_lock();
    rt_mcache *cs[2];
    int32_t n = rt_mcaches(cs, 2, false);
    rt_freecache_check(cs, n, true);
    rt_foreign_unlock();
}
