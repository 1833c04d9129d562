/* mcentral.c - central free lists, one per span class (Go: mcentral.go).
 *
 * An mcentral holds the spans of its class that no mcache is using:
 *   partial  spans with free slots (or frees pending in freeBits);
 *   full     spans with no free slot when they were put there.
 * Go splits each list into swept and unswept span sets for its concurrent
 * sweeper; gort's collector sweeps every span with the world stopped
 * (rt_mcentral_sweep; the swept/unswept generations come with lazy
 * sweeping), and explicit frees move a span between lists when one lands
 * on it:
 *
 *   gort_free sets the object's bit in span.freeBits (atomic OR), counts it
 *   in span.nfreed, and if the span sits in `full`, claims span.hasfree
 *   (CAS 0->1) and moves it to `partial` (rt_mcentral_freed). Only the first
 *   free of a full span takes the lock.
 *
 * Handing a span to an mcache (cacheSpan) folds its pending frees into
 * allocBits (mspan_merge) first. Taking one back (uncacheSpan) files it as
 * full, partial, or - when nothing in it is live any more - returns its
 * pages to the mheap. The race between "span goes to full" and "a free
 * arrives" is closed by ordering: uncache publishes where = IN_FULL, then
 * reads nfreed; a freer adds to nfreed, then reads where. Both are seq_cst,
 * so at least one of them sees the other and the span is moved to partial.
 *
 * rt_mcentral_reclaim (sysmon, bounded) returns partial spans that became
 * entirely free to the mheap, so an unused size class does not pin memory.
 *
 * Locks (ranks in src/sched/lock.h): mcentral.lock < mheap.lock; the mheap
 * is called without an mcentral lock held. */
#include "malloc.h"
#include "../sched/sched.h"
#include "../debug/debug.h"
#include "../gc/gc.h"

#include <stdlib.h>
#include <string.h>

typedef struct mcentral {
    rt_lock lock;
    rt_mspan *partial, *full;
    uint32_t npartial, nfull;
} __attribute__((aligned(RT_CACHELINE))) mcentral;

static mcentral central[RT_NUM_SPAN_CLASSES] = {[0 ... RT_NUM_SPAN_CLASSES - 1] = {.lock = {0, RT_RANK_MCENTRAL}}};

static void push(rt_mspan **list, rt_mspan *s)
{
    s->prev = NULL;
    s->next = *list;
    if (*list != NULL)
        (*list)->prev = s;
    *list = s;
}

static void unlink_span(rt_mspan **list, rt_mspan *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        *list = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* The one list move: take s off the list s->where names (partial, full or
 * none) and file it as `to`: IN_PARTIAL or IN_FULL go on that list,
 * IN_MCACHE or IN_NONE on none; the counts follow. c->lock held. The
 * seq_cst store of s->where comes last: uncachespan's race with a free
 * (the essay above) needs it before uncachespan reads nfreed. */
static void move(mcentral *c, rt_mspan *s, uint8_t to)
{
    switch (rt_load_relaxed(&s->where)) {
    case IN_PARTIAL:
        unlink_span(&c->partial, s);
        rt_store_relaxed(&c->npartial, c->npartial - 1);
        break;
    case IN_FULL:
        unlink_span(&c->full, s);
        rt_store_relaxed(&c->nfull, c->nfull - 1);
        break;
    }
    if (to == IN_PARTIAL) {
        push(&c->partial, s);
        rt_store_relaxed(&c->npartial, c->npartial + 1);
    } else if (to == IN_FULL) {
        push(&c->full, s);
        rt_store_relaxed(&c->nfull, c->nfull + 1);
    }
    rt_store(&s->where, to);
}

/* Initialise a fresh span of a small size class. */
void rt_mspan_init_small(rt_mspan *s, uint8_t spanclass)
{
    int sc = rt_spanclass_size(spanclass);
    s->spanclass = spanclass;
    s->elemsize = rt_class_to_size[sc];
    s->nelems = (uint32_t)((s->npages << RT_PAGE_SHIFT) / s->elemsize);
    s->divmagic = rt_class_to_divmagic[sc];
    s->limit = s->base + (uintptr_t)s->nelems * s->elemsize;
    s->freeindex = 0;
    s->allocCount = 0;
    s->allocCache = ~0ull;
    memset(s->allocBits, 0, sizeof(s->allocBits));
    memset(s->freeBits, 0, sizeof(s->freeBits));
}

/* Owner (or mcentral under its lock): fold pending frees into allocBits.
 * Returns the number of objects freed. */
uint32_t rt_mspan_merge(rt_mspan *s)
{
    if (rt_load(&s->nfreed) == 0)
        return 0;
    uint32_t n = 0;
    uint32_t words = (s->nelems + 63) / 64;
    for (uint32_t w = 0; w < words; w++) {
        if (rt_load_relaxed(&s->freeBits[w]) == 0)
            continue;
        uint64_t f = rt_xchg(&s->freeBits[w], 0);
        rt_store_relaxed(&s->allocBits[w], s->allocBits[w] & ~f);
        n += (uint32_t)__builtin_popcountll(f);
    }
    if (n != 0) {
        __atomic_sub_fetch(&s->nfreed, n, __ATOMIC_SEQ_CST);
        s->allocCount -= n;
        s->needzero = true; /* freed slots hold old data */
    }
    return n;
}

rt_mspan *rt_mcentral_cachespan(uint8_t spanclass)
{
    mcentral *c = &central[spanclass];
    for (;;) {
        rt_lock_acquire(&c->lock);
        rt_mspan *s = c->partial;
        if (s == NULL) {
            rt_lock_release(&c->lock);
            break;
        }
        move(c, s, IN_MCACHE);
        rt_lock_release(&c->lock);
        /* The pacer counts a listed span's allocated objects and a cached
         * span's every slot (gc.h): the frees merged here stop counting,
         * and the slots become allocatable. */
        uint32_t before = s->allocCount;
        rt_mspan_merge(s);
        rt_gc_noteheap((int64_t)(s->nelems - before) * s->elemsize);
        if (s->allocCount < s->nelems) {
            s->freeindex = 0;
            s->allocCache = ~s->allocBits[0];
            return s;
        }
        rt_mcentral_uncachespan(s); /* nothing free after all: back to full */
    }
    /* Grow: a fresh span from the heap. */
    int sc = rt_spanclass_size(spanclass);
    rt_mspan *s = rt_mheap_alloc(rt_class_to_allocnpages[sc], spanclass, false);
    rt_mspan_init_small(s, spanclass);
    rt_store(&s->where, IN_MCACHE);
    rt_gc_noteheap((int64_t)s->nelems * s->elemsize);
    return s;
}

void rt_mcentral_uncachespan(rt_mspan *s)
{
    mcentral *c = &central[s->spanclass];
    rt_mspan_merge(s);
    rt_gc_noteheap(-(int64_t)(s->nelems - s->allocCount) * s->elemsize); /* only its objects count now */
    if (s->allocCount == 0 && rt_load(&s->freeing) == 0) {
        rt_store(&s->where, IN_NONE);
        rt_mheap_free(s); /* nothing live, nobody still in free_small: nobody can touch it */
        return;
    }
    rt_lock_acquire(&c->lock);
    if (s->allocCount < s->nelems || rt_load(&s->nfreed) != 0) {
        move(c, s, IN_PARTIAL);
    } else {
        rt_store(&s->hasfree, 0);
        move(c, s, IN_FULL);
        if (rt_load(&s->nfreed) != 0 && rt_cas(&s->hasfree, 0, 1))
            move(c, s, IN_PARTIAL); /* a free landed between the merge and now */
    }
    rt_lock_release(&c->lock);
}

/* A free hit s (after counting itself in s->nfreed): if s is in the full
 * list, the first such free moves it to partial. */
void rt_mcentral_freed(rt_mspan *s)
{
    if (rt_load(&s->where) != IN_FULL || !rt_cas(&s->hasfree, 0, 1))
        return;
    mcentral *c = &central[s->spanclass];
    rt_lock_acquire(&c->lock);
    if (s->where == IN_FULL)
        move(c, s, IN_PARTIAL);
    rt_lock_release(&c->lock);
}

/* Return partial spans with no live object to the heap; examines at most
 * maxspans spans (Go's sweepone, minus the marking). */
int64_t rt_mcentral_reclaim(int64_t maxspans)
{
    int64_t seen = 0, freed = 0;
    for (int spc = 0; spc < RT_NUM_SPAN_CLASSES && seen < maxspans; spc++) {
        mcentral *c = &central[spc];
        if (rt_load_relaxed(&c->npartial) == 0)
            continue;
        rt_lock_acquire(&c->lock);
        rt_mspan *empty = NULL;
        for (rt_mspan *s = c->partial, *next; s != NULL && seen < maxspans; s = next) {
            next = s->next;
            seen++;
            uint32_t n = rt_mspan_merge(s); /* no owner while on the list: the lock makes us it */
            rt_gc_noteheap(-(int64_t)n * s->elemsize);
            if (s->allocCount == 0 && rt_load(&s->freeing) == 0) {
                move(c, s, IN_NONE);
                s->next = empty;
                empty = s;
            }
        }
        rt_lock_release(&c->lock);
        while (empty != NULL) {
            rt_mspan *s = empty;
            empty = s->next;
            rt_mheap_free(s);
            freed++;
        }
    }
    return freed;
}

/* ---- the collector (src/gc/mgcsweep.c) --------------------------------------------- */

/* Every span on the lists, under its class's lock, for fn to read or
 * update in place (it may not move spans between lists). */
void rt_mcentral_walk(void (*fn)(rt_mspan *s, void *arg), void *arg)
{
    for (int spc = 0; spc < RT_NUM_SPAN_CLASSES; spc++) {
        mcentral *c = &central[spc];
        rt_lock_acquire(&c->lock);
        for (rt_mspan *s = c->partial; s != NULL; s = s->next)
            fn(s, arg);
        for (rt_mspan *s = c->full; s != NULL; s = s->next)
            fn(s, arg);
        rt_lock_release(&c->lock);
    }
}

/* Sweep every span of every class (world stopped, so every span with
 * objects is on a list: the caches were released): sweep(s) frees what
 * the mark left white and returns s's live objects; a span left with
 * none goes back to the heap, one left with free slots to partial. */
void rt_mcentral_sweep(uint32_t (*sweep)(rt_mspan *s, void *arg), void *arg)
{
    for (int spc = 0; spc < RT_NUM_SPAN_CLASSES; spc++) {
        mcentral *c = &central[spc];
        rt_mspan *empty = NULL;
        rt_lock_acquire(&c->lock);
        rt_mspan *lists[2] = {c->partial, c->full};
        for (int l = 0; l < 2; l++) {
            for (rt_mspan *s = lists[l], *next; s != NULL; s = next) {
                next = s->next;
                uint32_t live = sweep(s, arg);
                if (live == 0 && rt_load(&s->freeing) == 0) {
                    move(c, s, IN_NONE);
                    s->next = empty;
                    empty = s;
                } else if (live < s->nelems && s->where == IN_FULL) {
                    move(c, s, IN_PARTIAL);
                }
            }
        }
        rt_lock_release(&c->lock);
        while (empty != NULL) {
            rt_mspan *s = empty;
            empty = s->next;
            rt_mheap_free(s);
        }
    }
}

/* ---- consistency checks (malloc.h) ---------------------------------------------- */

/* A broken span: the fatal error names it. */
#define spanbad(s, fmt, ...)                                                                   \
    rt_throwf("rt_mheap_check: span 0x%lx (%u pages, span class %d): " fmt, (unsigned long)(s)->base, \
              (s)->npages, (s)->spanclass, ##__VA_ARGS__)

/* Under the span's mcentral lock: sysmon's reclaim merges spans on the
 * partial list even while the world is stopped. */
void rt_mspan_check(rt_mspan *s)
{
    mcentral *c = &central[s->spanclass];
    rt_lock_acquire(&c->lock);
    rt_mspan_check_as(s, true);
    rt_lock_release(&c->lock);
}

/* stopped: no free of s's objects may be under way, so nfreed is exact;
 * else (other Ps run) frees may set freeBits meanwhile, and nfreed, counted
 * first, only bounds what the bits show. The caller owns s either way. */
void rt_mspan_check_as(rt_mspan *s, bool stopped)
{
    if (rt_load(&s->state) != SPAN_INUSE)
        spanbad(s, "state %d, not in use", rt_load(&s->state));
    if (s->npages == 0 || (s->base & (RT_PAGE_SIZE - 1)) != 0)
        spanbad(s, "bad base or size");
    int sc = rt_spanclass_size(s->spanclass);
    uintptr_t end = s->base + ((uintptr_t)s->npages << RT_PAGE_SHIFT);
    if (sc == 0) { /* large: one object, the whole span */
        if (s->nelems != 1 || s->elemsize != 0 || s->limit != end)
            spanbad(s, "large span with nelems %u, elemsize %u, limit 0x%lx", s->nelems, s->elemsize,
                    (unsigned long)s->limit);
        return;
    }
    if (s->npages != rt_class_to_allocnpages[sc] || s->elemsize != rt_class_to_size[sc] ||
        s->nelems != rt_class_to_nelems[sc] || s->divmagic != rt_class_to_divmagic[sc] ||
        s->limit != s->base + (uintptr_t)s->nelems * s->elemsize)
        spanbad(s, "geometry (elemsize %u, nelems %u, limit 0x%lx) does not match size class %d", s->elemsize,
                s->nelems, (unsigned long)s->limit, sc);
    uint32_t nalloc = 0, npending = 0;
    for (uint32_t w = 0; w < RT_SPAN_BITS_WORDS; w++) {
        uint64_t valid = w * 64 >= s->nelems ? 0 : s->nelems - w * 64 >= 64 ? ~0ull : (1ull << (s->nelems - w * 64)) - 1;
        uint64_t a = rt_load_relaxed(&s->allocBits[w]), f = rt_load(&s->freeBits[w]);
        if ((a | f) & ~valid)
            spanbad(s, "bitmap bits set past its %u objects (word %u)", s->nelems, w);
        if (f & ~a) {
            uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(f & ~a);
            spanbad(s, "object %u (0x%lx) pending in freeBits but not allocated in allocBits", i,
                    (unsigned long)(s->base + (uintptr_t)i * s->elemsize));
        }
        nalloc += (uint32_t)__builtin_popcountll(a);
        npending += (uint32_t)__builtin_popcountll(f);
    }
    /* allocCount counts allocBits; frees pending in freeBits are counted in
     * nfreed and leave both alone until the owner merges them. */
    if (s->allocCount != nalloc)
        spanbad(s, "allocCount %u, but %u objects allocated in allocBits", s->allocCount, nalloc);
    uint32_t nfreed = rt_load(&s->nfreed);
    if (stopped ? nfreed != npending : nfreed < npending)
        spanbad(s, "nfreed %u, but %u frees pending in freeBits", nfreed, npending);
    if (s->freeindex > s->nelems)
        spanbad(s, "freeindex %u past its %u objects", s->freeindex, s->nelems);
    if (rt_load(&s->where) == IN_MCACHE) {
        /* allocCache: bit b stands for slot freeindex + b, and a set bit
         * must be a free slot (nextFreeFast hands it out unchecked). */
        for (uint64_t cache = s->allocCache; cache != 0; cache &= cache - 1) {
            uint32_t i = s->freeindex + (uint32_t)__builtin_ctzll(cache);
            if (i < s->nelems && (rt_load_relaxed(&s->allocBits[i / 64]) >> (i % 64) & 1))
                spanbad(s, "allocCache offers object %u, which is allocated", i);
        }
    }
}

/* One list of an mcentral (its lock held): links, count, where, class. */
static void checklist(int spc, rt_mspan *list, uint32_t count, uint8_t where, bool stopped)
{
    uint32_t n = 0;
    for (rt_mspan *s = list, *prev = NULL; s != NULL; prev = s, s = s->next) {
        if (++n > count)
            rt_throwf("rt_mheap_check: mcentral %d: %s list longer than its count %u", spc,
                      where == IN_FULL ? "full" : "partial", count);
        if (s->prev != prev)
            spanbad(s, "bad prev link on mcentral %d's list", spc);
        if (rt_load(&s->where) != where || s->spanclass != spc)
            spanbad(s, "on mcentral %d's %s list, but where = %d", spc, where == IN_FULL ? "full" : "partial",
                    rt_load(&s->where));
        rt_mspan_check_as(s, stopped);
        /* full: nothing free when filed, and the first free since moves
         * it to partial; partial: something free, or pending. */
        if (where == IN_FULL && (s->allocCount != s->nelems || (stopped && rt_load(&s->nfreed) != 0)))
            spanbad(s, "on the full list with %u of %u allocated and %u frees pending", s->allocCount, s->nelems,
                    rt_load(&s->nfreed));
        if (where == IN_PARTIAL && stopped && s->allocCount == s->nelems && rt_load(&s->nfreed) == 0)
            spanbad(s, "on the partial list with nothing free");
    }
    if (n != count)
        rt_throwf("rt_mheap_check: mcentral %d: %s list has %u spans, its count says %u", spc,
                  where == IN_FULL ? "full" : "partial", n, count);
}

void rt_mcentral_check(bool stopped)
{
    for (int spc = 0; spc < RT_NUM_SPAN_CLASSES; spc++) {
        mcentral *c = &central[spc];
        rt_lock_acquire(&c->lock);
        checklist(spc, c->partial, c->npartial, IN_PARTIAL, stopped);
        checklist(spc, c->full, c->nfull, IN_FULL, stopped);
        rt_lock_release(&c->lock);
    }
}
