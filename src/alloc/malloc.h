/* src/alloc/malloc.h - the allocator's internal interface (Go: malloc.go,
 * sizeclasses.go, mheap.go, mcentral.go, mcache.go). Design essays at the
 * top of each file in src/alloc/. */
#ifndef GORT_MALLOC_H
#define GORT_MALLOC_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>

#include "../asm/arch.h" /* the thread's mcache slot */

/* ---- sizeclasses.c: Go's size classes, computed at start-up ---------------- */

#define RT_PAGE_SHIFT 13                       /* runtime pages: 8 KiB */
#define RT_PAGE_SIZE ((size_t)1 << RT_PAGE_SHIFT)
#define RT_MAX_SMALL_SIZE 32768                /* larger objects get their own span */
#define RT_SMALL_SIZE_DIV 8
#define RT_SMALL_SIZE_MAX 1024
#define RT_LARGE_SIZE_DIV 128
#define RT_NUM_SIZE_CLASSES 68                 /* including class 0 (large objects) */

extern uint16_t rt_class_to_size[RT_NUM_SIZE_CLASSES];
extern uint8_t rt_class_to_allocnpages[RT_NUM_SIZE_CLASSES];
extern uint32_t rt_class_to_divmagic[RT_NUM_SIZE_CLASSES];
extern uint16_t rt_class_to_nelems[RT_NUM_SIZE_CLASSES]; /* objects in a span of the class */
extern uint8_t rt_size_to_class8[RT_SMALL_SIZE_MAX / RT_SMALL_SIZE_DIV + 1];
extern uint8_t rt_size_to_class128[(RT_MAX_SMALL_SIZE - RT_SMALL_SIZE_MAX) / RT_LARGE_SIZE_DIV + 1];

/* Compute the tables (idempotent). Must run before any allocation. */
void rt_sizeclasses_init(void);

/* Size class for a small size (1 <= size <= RT_MAX_SMALL_SIZE). */
static inline int rt_size_to_class(size_t size)
{
    if (size <= RT_SMALL_SIZE_MAX - 8)
        return rt_size_to_class8[(size + RT_SMALL_SIZE_DIV - 1) / RT_SMALL_SIZE_DIV];
    return rt_size_to_class128[(size - RT_SMALL_SIZE_MAX + RT_LARGE_SIZE_DIV - 1) / RT_LARGE_SIZE_DIV];
}

/* ---- spans (mheap.c) ---------------------------------------------------------- */

#define RT_NUM_SPAN_CLASSES (RT_NUM_SIZE_CLASSES * 2) /* size class x {scan, noscan} */
#define RT_MAX_OBJS_PER_SPAN 1024                   /* 8 KiB / 8 B */
#define RT_SPAN_BITS_WORDS (RT_MAX_OBJS_PER_SPAN / 64)
#define RT_TINY_SIZE 16                              /* Go's maxTinySize */
#define RT_TINY_SPANCLASS (2 * 2 + 1)                /* size class 2 (16 B), noscan */

static inline uint8_t rt_spanclass(int sizeclass, bool noscan) { return (uint8_t)(sizeclass << 1 | (noscan ? 1 : 0)); }
static inline int rt_spanclass_size(uint8_t spc) { return spc >> 1; }
static inline bool rt_spanclass_noscan(uint8_t spc) { return spc & 1; }

enum { SPAN_DEAD = 0, SPAN_INUSE = 1, SPAN_MANUAL = 2 };
enum { IN_NONE = 0, IN_MCACHE = 1, IN_PARTIAL = 2, IN_FULL = 3 };

/* An mspan: a run of pages holding objects of one span class (or one large
 * object). Who may touch what:
 *   base, npages, spanclass, elemsize, nelems, divmagic: set when the span is
 *     made, read by anyone;
 *   freeindex, allocCache, allocBits (setting), allocCount: the owner (the
 *     mcache holding it, or mcentral under its lock);
 *   freeBits, nfreed: any thread, atomically (gort_free): a freed object's
 *     bit is set here and merged into allocBits by the owner (mspan_merge);
 *   where, next/prev: under the mcentral lock.
 * Invariant (owner's view): live objects = allocCount - popcount(freeBits);
 * an object i is free iff allocBits bit i is clear. */
typedef struct rt_mspan {
    uintptr_t base;
    uintptr_t limit;            /* base + nelems * elemsize */
    uint32_t npages;
    uint8_t spanclass;
    uint8_t state;              /* SPAN_* */
    uint8_t where;              /* IN_*: under the mcentral lock */
    bool needzero;              /* may contain non-zero free slots */
    uint32_t elemsize;
    uint32_t nelems;
    uint32_t divmagic;
    uint32_t freeindex;         /* slots below it are not considered by nextFreeFast */
    uint32_t allocCount;        /* set allocBits bits */
    uint32_t nfreed;            /* atomic: bits set in freeBits since the last merge */
    uint32_t hasfree;           /* atomic: a free hit this span while it was full */
    uint32_t freeing;           /* atomic: frees in progress from non-owners; while
                                 * non-zero the span must not go back to the heap */
    uint64_t allocCache;        /* ~allocBits from freeindex (rounded down to 64) */
    struct rt_mspan *next, *prev;
    uint64_t allocBits[RT_SPAN_BITS_WORDS];
    uint64_t freeBits[RT_SPAN_BITS_WORDS];
    uint64_t gcmarkBits[RT_SPAN_BITS_WORDS]; /* for the collector */
} rt_mspan;

/* Object index of address p in s: (p - base) / elemsize via divmagic. */
static inline uint32_t rt_span_objindex(const rt_mspan *s, uintptr_t p)
{
    return (uint32_t)(((uint64_t)(uint32_t)(p - s->base) * s->divmagic) >> 32);
}

/* The arena map (mheap.c): rt_arenamap[addr >> 26] -> the heaparena of a
 * 64 MiB arena, or NULL. spans[] maps each page to its in-use span;
 * pageinfo[] is the compact copy gort_free reads instead of the span:
 * spanclass << 8 | page offset within the span for a page of an in-use
 * small span, 0 otherwise (small span classes are >= 2, so never 0). */
#define RT_ARENA_SHIFT 26
#define RT_ARENA_SIZE ((uintptr_t)1 << RT_ARENA_SHIFT)
#define RT_PAGES_PER_ARENA (RT_ARENA_SIZE >> RT_PAGE_SHIFT)
typedef struct rt_heaparena {
    uint16_t pageinfo[RT_PAGES_PER_ARENA];
    uint32_t *tinystate;        /* per 16-byte block of the arena (reserved, touched
                                 * only under tiny spans): RT_TINY_* below */
    rt_mspan *whole;            /* a large span covering the whole arena: its
                                 * spans[] entries stay NULL, so a huge object
                                 * costs O(1) per arena, not a store per page */
    rt_mspan *spans[RT_PAGES_PER_ARENA];
} rt_heaparena;

/* The in-use span holding page pg of arena a, or NULL. */
static inline rt_mspan *rt_arenaspan(rt_heaparena *a, uint32_t pg)
{
    rt_mspan *s = __atomic_load_n(&a->spans[pg], __ATOMIC_ACQUIRE);
    return s != NULL ? s : __atomic_load_n(&a->whole, __ATOMIC_ACQUIRE);
}
extern rt_heaparena **rt_arenamap;

/* Tiny block state (mcache.c): bit o (0..15) = a live tiny object starts
 * at offset o; bit 16+e (e = 0..14) = one ends at offset e (an object that
 * ends at 15 needs no bit); RT_TINY_CURRENT = the block is some mcache's
 * current block. 0 for every block that is not a live tiny block. Updated
 * atomically (the owner allocates, any thread frees); whoever turns it to 0
 * frees the block. */
#define RT_TINY_CURRENT (1u << 31)
static inline uint32_t rt_tinybits(uint32_t off, uint32_t size) /* an object's bits */
{
    uint32_t end = off + size - 1;
    return (1u << off) | (end < 15 ? 1u << (16 + end) : 0);
}
/* The size of the live tiny object at off, from the state word. */
static inline uint32_t rt_tinysize(uint32_t st, uint32_t off)
{
    uint32_t ends = (st >> 16) & 0x7fffu & ~((1u << off) - 1);
    return (ends != 0 ? (uint32_t)__builtin_ctz(ends) : 15u) - off + 1;
}
static inline uint32_t *rt_tinystate(uintptr_t p)
{
    rt_heaparena *a = __atomic_load_n(&rt_arenamap[p >> RT_ARENA_SHIFT], __ATOMIC_ACQUIRE);
    return &a->tinystate[(p & (RT_ARENA_SIZE - 1)) >> 4];
}

/* ---- pointer lookup: every lookup of a pointer decodes it here ------------
 *
 * [heap_lo, heap_hi) covers every arena (mheap.c grows it when it adds one,
 * never shrinks it; empty before the first), so one compare turns away most
 * pointers that are not the heap's before the arena map is read. It is kept
 * in arena numbers (address >> 26, under 2^22) in one word, rt_heaprange =
 * lo | (hi - lo) << 32, so that one load gives a consistent pair. */
extern uint64_t rt_heaprange;
static inline uintptr_t rt_heap_lo(void)
{
    return (uintptr_t)(uint32_t)__atomic_load_n(&rt_heaprange, __ATOMIC_ACQUIRE) << RT_ARENA_SHIFT;
}
static inline uintptr_t rt_heap_hi(void)
{
    uint64_t r = __atomic_load_n(&rt_heaprange, __ATOMIC_ACQUIRE);
    return (uintptr_t)((uint32_t)r + (r >> 32)) << RT_ARENA_SHIFT;
}

/* The arena holding p and p's page in it; NULL outside the heap's range or
 * in a hole between its regions. */
static inline rt_heaparena *rt_heaparenaof(uintptr_t p, uint32_t *page)
{
    *page = (uint32_t)((p & (RT_ARENA_SIZE - 1)) >> RT_PAGE_SHIFT);
    uint64_t r = __atomic_load_n(&rt_heaprange, __ATOMIC_ACQUIRE);
    uintptr_t arena = p >> RT_ARENA_SHIFT;
    if (arena - (uint32_t)r >= r >> 32)
        return NULL;
    return __atomic_load_n(&rt_arenamap[arena], __ATOMIC_ACQUIRE);
}

/* The pageinfo of p's page: 0 unless p is in a page of an in-use small span. */
static inline uint32_t rt_pageinfo(uintptr_t p)
{
    uint32_t pg;
    rt_heaparena *a = rt_heaparenaof(p, &pg);
    return a != NULL ? __atomic_load_n(&a->pageinfo[pg], __ATOMIC_RELAXED) : 0;
}

/* The object of a small span that p points into, from p's pageinfo pi
 * (!= 0), without reading the span: its base, and its index in the span in
 * *idx, which is >= the class's nelems when p lies at or past the span's
 * limit (the tail no object uses). */
static inline uintptr_t rt_pageinfo_object(uintptr_t p, uint32_t pi, uint32_t *idx)
{
    int sc = rt_spanclass_size((uint8_t)(pi >> 8));
    uintptr_t base = (p & ~(uintptr_t)(RT_PAGE_SIZE - 1)) - ((uintptr_t)(pi & 0xff) << RT_PAGE_SHIFT);
    uint32_t i = (uint32_t)(((uint64_t)(uint32_t)(p - base) * rt_class_to_divmagic[sc]) >> 32);
    *idx = i;
    return base + (uintptr_t)i * rt_class_to_size[sc];
}

/* Go's findObject: the base of the object p points into (any byte of it),
 * with its span in *sp and its index there in *idx; 0 (*sp NULL, *idx 0)
 * when p is outside the heap, in free pages, in a span that is not
 * in use (dead, manual), or at or past the span's limit. It does not say
 * whether the object is allocated: the caller's bitmaps do. A tiny object
 * is found as its 16-byte block.
 *
 * For the collector's marker (every word it scans) and every path that
 * takes a pointer back (gort_free, gort_usable_size, the free caches'
 * flush): no lock, no store; the range compare, the arena map, the page's
 * span and pageinfo, and for a small span the divmagic division without
 * reading the span (a large one is checked against its state and limit).
 * Concurrent with an allocation or free of the span itself the answer may
 * be either; no valid pointer can be in such a span. */
static inline uintptr_t rt_findobject(uintptr_t p, rt_mspan **sp, uint32_t *idx)
{
    *sp = NULL;
    *idx = 0;
    uint32_t pg;
    rt_heaparena *a = rt_heaparenaof(p, &pg);
    if (a == NULL)
        return 0;
    rt_mspan *s = rt_arenaspan(a, pg);
    if (s == NULL)
        return 0;
    uint32_t pi = __atomic_load_n(&a->pageinfo[pg], __ATOMIC_RELAXED);
    uintptr_t base;
    uint32_t i;
    if (pi != 0) {
        base = rt_pageinfo_object(p, pi, &i);
        if (i >= rt_class_to_nelems[rt_spanclass_size((uint8_t)(pi >> 8))])
            return 0;
    } else {
        if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) != SPAN_INUSE || p >= s->limit)
            return 0;
        base = s->base;
        i = 0;
    }
    *sp = s;
    *idx = i;
    return base;
}

void rt_mallocinit(void);
rt_mspan *rt_mheap_alloc(uint32_t npages, uint8_t spanclass, bool large); /* fatal on OOM */
void rt_mheap_free(rt_mspan *s);
uint64_t rt_mheap_sweeplarge(bool (*dead)(rt_mspan *s, void *arg), void *arg); /* the collector */
void rt_mspan_init_small(rt_mspan *s, uint8_t spanclass);
uint32_t rt_mspan_merge(rt_mspan *s);       /* owner: fold freeBits into allocBits; returns freed count */
int64_t rt_mheap_scavenge(int64_t maxpages, bool all); /* returns pages released */
void *rt_persistentalloc(size_t size, size_t align); /* never freed; zeroed */

typedef struct rt_heapstats {
    uint64_t sys;               /* bytes committed for the heap */
    uint64_t inuse_pages;       /* pages in in-use spans */
    uint64_t free_pages;        /* pages free in the page allocator */
    uint64_t released_pages;    /* free pages returned to the OS */
    uint64_t spans_inuse, spans_sys;
    uint64_t persistent_sys;
    uint64_t large_alloc_bytes, large_free_bytes, large_allocs, large_frees;
} rt_heapstats;
void rt_mheap_stats(rt_heapstats *hs);

/* ---- mcentral.c ------------------------------------------------------------- */

rt_mspan *rt_mcentral_cachespan(uint8_t spanclass);   /* a span with free slots */
void rt_mcentral_uncachespan(rt_mspan *s);            /* an mcache gives it back */
void rt_mcentral_freed(rt_mspan *s);                  /* a free hit a full span */
int64_t rt_mcentral_reclaim(int64_t maxspans);        /* background: empty spans to mheap */
void rt_mcentral_walk(void (*fn)(rt_mspan *s, void *arg), void *arg);    /* the collector: every listed span */
void rt_mcentral_sweep(uint32_t (*sweep)(rt_mspan *s, void *arg), void *arg); /* ... swept, lists fixed */

/* ---- mcache.c ---------------------------------------------------------------- */

/* Objects freed on this P, kept for reuse by the next allocation of their
 * span class (glibc's tcache idea): a free and a later allocation of the
 * same class cost no atomic instruction and touch no span metadata. */
#define RT_FREECACHE 64
typedef struct rt_freecache {
    uint32_t n;
    uintptr_t obj[RT_FREECACHE];
} rt_freecache;

typedef struct rt_mcache {
    rt_mspan *alloc[RT_NUM_SPAN_CLASSES];
    rt_freecache fc[RT_NUM_SPAN_CLASSES];
    uintptr_t tiny;             /* current tiny block, or 0 */
    uintptr_t tinyoffset;
    uint32_t *tinyst;           /* its state word */
    /* statistics, written by the owner only, read racily */
    uint64_t nmalloc[RT_NUM_SIZE_CLASSES];
    uint64_t nfree[RT_NUM_SIZE_CLASSES];
    uint64_t tinyallocs, tinyfrees;          /* tiny objects (each counted once) */
    uint64_t tinyblocks, tinyblockfrees;     /* the 16-byte blocks they live in */
    uint64_t largealloc, largeallocbytes, largefree, largefreebytes;
} rt_mcache;

rt_mcache *rt_mcache_new(void);
void rt_mcache_release(rt_mcache *c);      /* give every cached span back (procresize, exit) */
rt_mspan *rt_mcache_refill(rt_mcache *c, uint8_t spanclass);
uintptr_t rt_nextfree(rt_mcache *c, uint8_t spanclass, rt_mspan **sp, bool *needzero);
uintptr_t rt_tinyalloc(rt_mcache *c, size_t size, bool foreign); /* foreign: c is the shared cache, locked */

/* ---- malloc.c ------------------------------------------------------------------- */

void rt_mallocinit_all(void);   /* schedinit: heap, size classes, the foreign mcache */
void rt_mallocinit_early(void); /* an allocation before boot */
extern uint64_t rt_zerobase;    /* what every 0-byte allocation returns */
extern uint64_t rt_maxalloc;    /* larger requests return NULL (malloc.c) */

/* The mcache of the P this thread holds (acquirep sets the slot), or NULL. */
static inline rt_mcache *rt_mycache(void) { return (rt_mcache *)rt_arch_getmcache(); }

/* Threads without a P share rt_foreign_mcache under a lock (rank MCACHE_SHARED:
 * below mcentral and mheap). rt_foreign_lock returns it locked. */
extern rt_mcache *rt_foreign_mcache;
rt_mcache *rt_foreign_lock(void);
void rt_foreign_unlock(void);

/* This P's mcache, or (a thread without a P) the shared one, locked:
 * *foreign says which, for rt_unlockcache. */
static inline rt_mcache *rt_lockcache(bool *foreign)
{
    rt_mcache *c = rt_mycache();
    *foreign = c == NULL;
    return c != NULL ? c : rt_foreign_lock();
}

static inline void rt_unlockcache(bool foreign)
{
    if (foreign)
        rt_foreign_unlock();
}

/* Every P's mcache (allps) or only this P's, then the shared one, into
 * cs[0..max); returns how many. For the checks below. */
int32_t rt_mcaches(rt_mcache **cs, int32_t max, bool allps);

/* ---- consistency checks (debug tier 2, and tests) ------------------------
 *
 * Each verifies one structure's invariants and dies with a fatal error
 * naming what broke ("rt_mheap_check: ..."). O(heap); they take the
 * allocator's locks one at a time, so call them with no runtime lock held.
 *
 * rt_mheap_check: with the world stopped (rt_stoptheworld): no goroutine,
 * and no thread without a P, may allocate or free meanwhile (sysmon may
 * reclaim and scavenge: the checks take the locks it takes). It checks
 *   - every P's mcache and the shared one: their spans (rt_mspan_check),
 *     their tiny blocks, and every object in their free caches (its
 *     cookie; an allocated object of an in-use span of the cache's class;
 *     in no cache twice);
 *   - the mcentral lists: links, counts, span.where, span class, the
 *     full/partial rule, and each listed span (rt_mspan_check);
 *   - the page heap: every chunk's summary and every region's maximum
 *     recomputed from the bitmaps, scavenged and zero pages free, the arena
 *     map's span and pageinfo for every page, and the counters (free, in
 *     use, released, committed) recounted from the bitmaps and spans.
 * rt_mspan_check: one in-use span, with no free of its objects under way
 * (the world stopped; it takes the span's mcentral lock against sysmon's
 * reclaim): its geometry, allocCount == popcount(allocBits),
 * freeBits a subset of allocBits, nfreed == popcount(freeBits), and (in an
 * mcache) allocCache offering only free slots.
 *
 * The exit check at tier 2 (rt_malloc_exitcheck) runs what holds while
 * other Ps still run (stopped false): this P's mcache and the shared one,
 * the mcentral lists and the page heap under their locks, nfreed only as
 * an upper bound of popcount(freeBits). */
void rt_mheap_check(void);
void rt_mspan_check(rt_mspan *s);
void rt_mheap_check_as(bool stopped);           /* mheap.c */
void rt_mspan_check_as(rt_mspan *s, bool stopped); /* mcentral.c */
void rt_mcentral_check(bool stopped);           /* mcentral.c */
uint32_t rt_mcache_check(rt_mcache *c, bool stopped); /* mcache.c: returns its spans */
void rt_freecache_check(rt_mcache **cs, int32_t n, bool atexit); /* free.c */

/* ---- free.c -------------------------------------------------------------------- */

void rt_malloc_exitcheck(void); /* gort_main returned: late double-free check */
void rt_free_tinyblock(rt_mcache *c, uintptr_t block, bool foreign);
void rt_freecache_flush(rt_mcache *c, uint8_t spc, uint32_t keep);
extern uint64_t rt_freekey;     /* cookie in a cached object's first word */
extern uint64_t rt_flushkey;    /* mark in a flushed object's second word (>= 16 B) */
__attribute__((noreturn)) void rt_reusefail(uintptr_t p); /* a cached object lost its cookie */
/* A cached object of size class sc is as its free left it: the cookie in
 * word 0 and (16 bytes and up) no flush mark in word 1. */
static inline bool rt_cookie_intact(uintptr_t p, int sc)
{
    const uint64_t *w = (const uint64_t *)p;
    return w[0] == rt_freekey && (sc <= 1 || w[1] != rt_flushkey);
}

/* Zero a small object: the common small sizes with constant-size stores
 * the compiler inlines (a call to memset costs more than the stores). */
static inline void rt_zeroobj(void *p, size_t n)
{
    switch (n) {
    case 8: __builtin_memset(p, 0, 8); return;
    case 16: __builtin_memset(p, 0, 16); return;
    case 24: __builtin_memset(p, 0, 24); return;
    case 32: __builtin_memset(p, 0, 32); return;
    case 48: __builtin_memset(p, 0, 48); return;
    case 64: __builtin_memset(p, 0, 64); return;
    default: memset(p, 0, n); return;
    }
}

/* The one pop of a free cache (f->n > 0; objects of size class sc): the
 * object freed last, whose cookie must be intact (else the double-free
 * fatal error, before anyone gets it). Its first zero bytes are cleared
 * (its size, or less), or with zero 0 only its cookie, so that a second pop
 * of it fails. (A constant zero lets the compiler inline the memset.) The
 * caller counts the allocation. */
static inline void *rt_freecache_pop(rt_freecache *f, int sc, size_t zero)
{
    uintptr_t x = f->obj[--f->n];
    if (__builtin_expect(!rt_cookie_intact(x, sc), 0))
        rt_reusefail(x);
    if (zero != 0)
        rt_zeroobj((void *)x, zero);
    else
        *(uint64_t *)x = 0;
    return (void *)x;
}

#endif /* GORT_MALLOC_H */
