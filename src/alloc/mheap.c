/* mheap.c - the page heap (Go: mheap.go, mpagealloc.go, mfixalloc.go,
 * persistentalloc in malloc.go, mgcscavenge.go).
 *
 * Address space
 * -------------
 * The heap lives in regions of whole 64 MiB arenas, reserved PROT_NONE with
 * MAP_NORESERVE and committed (PROT_READ|WRITE) 4 MiB chunk by chunk as the
 * page allocator first hands out pages in a chunk. An ordinary region is one
 * arena; an allocation bigger than an arena gets a region of as many
 * contiguous arenas as it needs. Runtime pages are 8 KiB.
 *
 * Arena map: arenamap[addr >> 26] -> heaparena, whose spans[] maps each of
 * its 8192 pages to the mspan using it (NULL for free pages), and pageinfo[]
 * to its small span's class and page offset. With [heap_lo, heap_hi) (the
 * range every arena lies in, rt_heaprange), that is how rt_findobject (malloc.h)
 * finds the object of any pointer: a compare, then two or three loads; the
 * map (4M entries, 32 MiB of address space) is reserved NORESERVE and only
 * touched where arenas exist.
 *
 * Page allocator (Go's mpagealloc is the model, with two levels instead of
 * a radix tree of five)
 * ------------------------------------------------------------------------
 * Per 4 MiB chunk (512 pages): three bitmaps (allocated, scavenged =
 * returned to the OS, zero = known to read as zeros) and a summary of its
 * free runs: {start, max, end} (free pages at the start, the longest run,
 * free pages at the end). Per region: the longest free run over all its
 * chunks, merged across chunk boundaries. To allocate n pages:
 *   1. skip regions whose max < n;
 *   2. walk the region's chunk summaries, carrying a free run across
 *      boundaries (end of one chunk + start of the next): a run that
 *      reaches n, or a chunk whose max >= n, locates the pages; only that
 *      chunk's bitmap is searched (first fit, lowest address);
 *   3. nothing fits: reserve a new region (grow).
 * Summaries of the chunks touched are recomputed from their bitmaps (eight
 * 64-bit words each); the region max is re-merged from its chunk summaries.
 * Invariant: chunk.sum == summarize(chunk.alloc); region.max == merge of its
 * chunk summaries; a page is scavenged or zero only while free.
 *
 * Zeroing: pages never used, or returned to the OS, read as zeros; a span
 * made only of such pages has needzero == false, and its objects are not
 * cleared on their first allocation (Go's needzero).
 *
 * Scavenging (returning memory): rt_mheap_scavenge releases free pages that
 * stayed free since the previous call (sysmon, every 100 ms; at most 1024
 * pages = 8 MiB per call), or every free page (gort_free_os_memory). The
 * pages are taken out of the allocator while madvise(MADV_DONTNEED) runs
 * without the lock, then returned marked scavenged + zero. HeapReleased
 * counts them; reusing them costs a page fault each (~12 us here), which is
 * why warm free pages are kept for a period first.
 *
 * Runtime metadata: mspans come from a fixalloc (free list over chunks from
 * persistentalloc) under the mheap lock; persistentalloc hands out
 * never-freed memory from 256 KiB mmap'd chunks, per P where the caller has
 * one (as Go's p.palloc), else from a global chunk under its lock.
 * Goroutine stacks do not come from here: their guard pages need a region of
 * their own (src/stack/stack.c explains).
 *
 * Locks (ranks in src/sched/lock.h): mcentral locks < mheap.lock <
 * persistentalloc lock (leaf). */
#include "malloc.h"
#include "../sched/sched.h"
#include "../debug/debug.h"
#include "../os/os.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_SIZE RT_ARENA_SIZE                         /* 64 MiB */
#define ARENA_SHIFT RT_ARENA_SHIFT
#define PAGES_PER_ARENA RT_PAGES_PER_ARENA                /* 8192 */
#define CHUNK_PAGES 512                                  /* 4 MiB */
#define CHUNK_WORDS (CHUNK_PAGES / 64)
#define ARENA_MAP_BITS (48 - ARENA_SHIFT)                /* 48-bit user address space */
#define SCAVENGE_MAX_PAGES 1024

typedef rt_heaparena heaparena;

typedef struct chunk {
    uint64_t alloc[CHUNK_WORDS];
    uint64_t scav[CHUNK_WORDS];
    uint64_t zero[CHUNK_WORDS];
    uint64_t idle[CHUNK_WORDS];  /* free and unscavenged at the last scavenge pass */
    uint16_t start, max, end;
    bool committed;
} chunk;

typedef struct region {
    uintptr_t base;
    uint32_t npages;
    uint32_t nchunks;
    uint32_t maxrun;
    struct region *next;
    chunk chunks[];
} region;

rt_heaparena **rt_arenamap;
uint64_t rt_heaprange; /* malloc.h: the arenas' range, lo | (hi - lo) << 32 in arenas */

static struct {
    rt_lock lock;
    region *regions;             /* address-ordered list */
    rt_mspan *spanfree;          /* fixalloc free list */
    rt_mspan *large;             /* in-use large spans (linked by next/prev), for the sweeper */
    uint64_t sys, inuse_pages, free_pages, released_pages;
    uint64_t scav_inflight;      /* free pages the scavenger has taken out for madvise */
    uint64_t spans_inuse, spans_sys;
    uint64_t large_alloc_bytes, large_free_bytes, large_allocs, large_frees;
} h = {.lock = {0, RT_RANK_MHEAP}};

/* ---- persistentalloc ----------------------------------------------------------- */

#define PERSISTENT_CHUNK (256 * 1024)

typedef struct palloc {
    uintptr_t next, end;
} palloc;

static rt_lock plock = {0, RT_RANK_LEAF};
static palloc pglobal;
static uint64_t persistent_sys;

static void *palloc_from(palloc *pa, size_t size, size_t align)
{
    uintptr_t p = (pa->next + align - 1) & ~(uintptr_t)(align - 1);
    if (pa->next == 0 || p + size > pa->end) {
        size_t sz = size + align > PERSISTENT_CHUNK ? (size + align + 4095) & ~(size_t)4095 : PERSISTENT_CHUNK;
        void *m = rt_sysAlloc(sz, 0, NULL);
        if (m == NULL)
            rt_throw("out of memory (persistentalloc)");
        __atomic_add_fetch(&persistent_sys, sz, __ATOMIC_RELAXED);
        if (sz > PERSISTENT_CHUNK)
            return m; /* big: its own mapping */
        pa->next = (uintptr_t)m;
        pa->end = (uintptr_t)m + sz;
        p = (pa->next + align - 1) & ~(uintptr_t)(align - 1);
    }
    pa->next = p + size;
    return (void *)p;
}

/* Never-freed, zeroed runtime memory (mmap'd pages are zero). Per P when the
 * caller holds one: no lock. */
void *rt_persistentalloc(size_t size, size_t align)
{
    if (align == 0)
        align = 8;
    rt_g *g = rt_getg();
    rt_p *pp = (g != NULL && g->m != NULL) ? g->m->p : NULL;
    if (pp != NULL)
        return palloc_from((palloc *)&pp->palloc, size, align);
    rt_lock_acquire(&plock);
    void *p = palloc_from(&pglobal, size, align);
    rt_lock_release(&plock);
    return p;
}

/* ---- arena map ----------------------------------------------------------------- */

/* Point every page of [base, base+npages) at s (NULL when freeing), and
 * set its pageinfo: spanclass and page offset for a small span, else 0. An
 * arena a large span covers entirely gets one store (heaparena.whole)
 * instead of one per page, so that a huge allocation touches metadata in
 * proportion to its arenas (64 MiB each), not to its pages. */
static void setspans(uintptr_t base, uint32_t npages, rt_mspan *s, bool small)
{
    uintptr_t end = base + ((uintptr_t)npages << RT_PAGE_SHIFT);
    for (uintptr_t p = base; p < end;) {
        heaparena *a = rt_arenamap[p >> ARENA_SHIFT];
        if (!small && (p & (ARENA_SIZE - 1)) == 0 && end - p >= ARENA_SIZE) {
            rt_store_rel(&a->whole, s); /* a small span never shares this arena meanwhile */
            p += ARENA_SIZE;
            continue;
        }
        uint32_t pg = (uint32_t)((p & (ARENA_SIZE - 1)) >> RT_PAGE_SHIFT);
        if (s == NULL)
            rt_store_rel(&a->pageinfo[pg], (uint16_t)0); /* before the span can be reused */
        rt_store_rel(&a->spans[pg], s);
        if (s != NULL && small)
            rt_store_rel(&a->pageinfo[pg], (uint16_t)((uint32_t)s->spanclass << 8 | (uint32_t)((p - base) >> RT_PAGE_SHIFT)));
        p += RT_PAGE_SIZE;
    }
}

/* ---- chunk bitmaps and summaries --------------------------------------------------- */

static inline bool bit(const uint64_t *b, uint32_t i) { return (b[i / 64] >> (i % 64)) & 1; }

static void setrange(uint64_t *b, uint32_t from, uint32_t n, bool v)
{
    for (uint32_t i = from; i < from + n;) {
        uint32_t w = i / 64, o = i % 64;
        uint32_t k = 64 - o < from + n - i ? 64 - o : from + n - i;
        uint64_t m = (k == 64 ? ~0ull : ((1ull << k) - 1)) << o;
        if (v)
            b[w] |= m;
        else
            b[w] &= ~m;
        i += k;
    }
}

/* chunk.{start, max, end} from its bitmap: a walk over the free runs, a
 * ctz to the end of each free run and one to the end of each allocated
 * one. */
static void summarize(chunk *c)
{
    uint32_t start = 0, max = 0, run = 0;
    bool leading = true;
    for (uint32_t w = 0; w < CHUNK_WORDS; w++) {
        uint64_t a = c->alloc[w];
        uint32_t i = 0;
        while (i < 64) {
            uint64_t rest = a >> i;
            if (rest == 0) { /* free to the end of the word */
                run += 64 - i;
                break;
            }
            uint32_t nfree = (uint32_t)__builtin_ctzll(rest);
            run += nfree; /* ... then an allocated page ends the run */
            if (leading) {
                start = run;
                leading = false;
            }
            if (run > max)
                max = run;
            run = 0;
            i += nfree;
            uint64_t freebits = ~a >> i; /* skip the allocated pages */
            if (freebits == 0)
                break;
            i += (uint32_t)__builtin_ctzll(freebits);
        }
    }
    if (leading)
        start = run; /* entirely free */
    if (run > max)
        max = run;
    c->start = (uint16_t)start;
    c->max = (uint16_t)max;
    c->end = (uint16_t)run;
}

static void region_remax(region *r)
{
    uint32_t max = 0, run = 0;
    for (uint32_t i = 0; i < r->nchunks; i++) {
        chunk *c = &r->chunks[i];
        if (c->max == CHUNK_PAGES) {
            run += CHUNK_PAGES;
            continue;
        }
        if (run + c->start > max)
            max = run + c->start;
        if (c->max > max)
            max = c->max;
        run = c->end;
    }
    if (run > max)
        max = run;
    r->maxrun = max;
}

/* First fit of n free pages inside one chunk; -1 if none. */
static int32_t chunk_find(chunk *c, uint32_t n)
{
    uint32_t run = 0;
    for (uint32_t i = 0; i < CHUNK_PAGES; i++) {
        if (i % 64 == 0 && c->alloc[i / 64] == ~0ull) {
            run = 0;
            i += 63;
            continue;
        }
        if (bit(c->alloc, i)) {
            run = 0;
        } else if (++run == n) {
            return (int32_t)(i + 1 - n);
        }
    }
    return -1;
}

/* Find n free pages in r: page index within r, or -1. */
static int64_t region_find(region *r, uint32_t n)
{
    if (r->maxrun < n)
        return -1;
    uint64_t runstart = 0, run = 0;
    for (uint32_t i = 0; i < r->nchunks; i++) {
        chunk *c = &r->chunks[i];
        uint64_t cbase = (uint64_t)i * CHUNK_PAGES;
        if (run + c->start >= n)
            return (int64_t)runstart;
        if (c->max >= n) {
            int32_t at = chunk_find(c, n);
            if (at >= 0)
                return (int64_t)(cbase + (uint64_t)at);
        }
        if (c->max == CHUNK_PAGES) {
            if (run == 0)
                runstart = cbase;
            run += CHUNK_PAGES;
        } else {
            run = c->end;
            runstart = cbase + CHUNK_PAGES - c->end;
        }
    }
    return -1;
}

/* The piece of pages [i, end) of r that lies in i's chunk: the chunk, the
 * piece's first page in it (*off) and its length (*k). */
static inline chunk *chunkpiece(region *r, uint64_t i, uint64_t end, uint32_t *off, uint32_t *k)
{
    *off = (uint32_t)(i % CHUNK_PAGES);
    *k = CHUNK_PAGES - *off < end - i ? CHUNK_PAGES - *off : (uint32_t)(end - i);
    return &r->chunks[i / CHUNK_PAGES];
}

/* Mark [pi, pi+n) of r allocated; commit chunks as needed; returns whether
 * every page was known zero, and how many were scavenged. */
static bool region_take(region *r, uint64_t pi, uint32_t n, uint32_t *nscav)
{
    bool allzero = true;
    *nscav = 0;
    uint32_t off, k;
    for (uint64_t i = pi; i < pi + n; i += k) {
        chunk *c = chunkpiece(r, i, pi + n, &off, &k);
        if (!c->committed) {
            uintptr_t cb = r->base + ((uintptr_t)(i / CHUNK_PAGES * CHUNK_PAGES) << RT_PAGE_SHIFT);
            int err = rt_sysMap((void *)cb, (size_t)CHUNK_PAGES << RT_PAGE_SHIFT);
            if (err != 0)
                rt_throwf("out of memory: cannot commit heap memory (errno %d)", -err);
            c->committed = true;
            h.sys += (uint64_t)CHUNK_PAGES << RT_PAGE_SHIFT;
        }
        for (uint32_t j = off; j < off + k; j++) {
            if (!bit(c->zero, j))
                allzero = false;
            if (bit(c->scav, j))
                (*nscav)++;
        }
        setrange(c->alloc, off, k, true);
        setrange(c->scav, off, k, false);
        setrange(c->zero, off, k, false);
        setrange(c->idle, off, k, false);
        summarize(c);
    }
    region_remax(r);
    return allzero;
}

static void region_give(region *r, uint64_t pi, uint32_t n, bool scavenged)
{
    uint32_t off, k;
    for (uint64_t i = pi; i < pi + n; i += k) {
        chunk *c = chunkpiece(r, i, pi + n, &off, &k);
        setrange(c->alloc, off, k, false);
        if (scavenged) {
            setrange(c->scav, off, k, true);
            setrange(c->zero, off, k, true);
        }
        summarize(c);
    }
    region_remax(r);
}

/* Reserve a new region of at least npages (h.lock held); NULL with *err
 * (a negative errno) when the address space cannot be had. */
static region *grow(uint32_t npages, int *err)
{
    uintptr_t bytes = ((uintptr_t)npages << RT_PAGE_SHIFT);
    uintptr_t arenas = (bytes + ARENA_SIZE - 1) / ARENA_SIZE;
    uintptr_t size = arenas * ARENA_SIZE;
    /* Over-reserve by one arena to align the region to an arena boundary. */
    void *m = rt_sysReserve(NULL, size + ARENA_SIZE, err);
    if (m == NULL)
        return NULL;
    uintptr_t base = ((uintptr_t)m + ARENA_SIZE - 1) & ~(ARENA_SIZE - 1);
    if (base > (uintptr_t)m)
        rt_sysFree(m, base - (uintptr_t)m);
    uintptr_t tail = (uintptr_t)m + size + ARENA_SIZE - (base + size);
    if (tail > 0)
        rt_sysFree((void *)(base + size), tail);
    if ((base + size - 1) >> 48) {
        rt_sysFree((void *)base, size);
        *err = -ENOMEM;
        return NULL;
    }
    uint32_t np = (uint32_t)(size >> RT_PAGE_SHIFT);
    uint32_t nchunks = np / CHUNK_PAGES;
    region *r = rt_persistentalloc(sizeof(region) + nchunks * sizeof(chunk), 64);
    r->base = base;
    r->npages = np;
    r->nchunks = nchunks;
    for (uint32_t i = 0; i < nchunks; i++) {
        memset(r->chunks[i].zero, 0xff, sizeof(r->chunks[i].zero)); /* fresh memory reads zero */
        summarize(&r->chunks[i]);
    }
    region_remax(r);
    for (uintptr_t a = 0; a < arenas; a++) {
        heaparena *ha = rt_persistentalloc(sizeof(heaparena), 64);
        /* 4 bytes per 16-byte block, reserved; only tiny spans' parts get touched */
        void *ts = rt_sysAlloc(ARENA_SIZE / 4, RT_SYS_NORESERVE, err);
        if (ts == NULL)
            return NULL;
        ha->tinystate = ts;
        rt_store_rel(&rt_arenamap[(base >> ARENA_SHIFT) + a], ha);
    }
    /* address-ordered insertion: lower addresses are preferred */
    region **link = &h.regions;
    while (*link != NULL && (*link)->base < base)
        link = &(*link)->next;
    r->next = *link;
    *link = r;
    h.free_pages += np;
    /* The lookups' range (malloc.h), one word */
    uint64_t lo = base >> ARENA_SHIFT, hi = (base + size) >> ARENA_SHIFT;
    if (rt_heaprange != 0) {
        uint64_t olo = (uint32_t)rt_heaprange, ohi = olo + (rt_heaprange >> 32);
        lo = olo < lo ? olo : lo;
        hi = ohi > hi ? ohi : hi;
    }
    rt_store_rel(&rt_heaprange, lo | (hi - lo) << 32);
    return r;
}

static region *regionof(uintptr_t p)
{
    for (region *r = h.regions; r != NULL; r = r->next)
        if (p >= r->base && p < r->base + ((uintptr_t)r->npages << RT_PAGE_SHIFT))
            return r;
    return NULL;
}

/* ---- spans: fixalloc and mheap alloc/free ---------------------------------------------- */

static rt_mspan *spanalloc(void)
{
    rt_mspan *s = h.spanfree;
    if (s != NULL) {
        h.spanfree = s->next;
    } else {
        s = rt_persistentalloc(sizeof(rt_mspan), 64);
        h.spans_sys += sizeof(rt_mspan);
    }
    memset(s, 0, sizeof(*s));
    h.spans_inuse += sizeof(rt_mspan);
    return s;
}

static void spanfree(rt_mspan *s)
{
    s->next = h.spanfree;
    h.spanfree = s;
    h.spans_inuse -= sizeof(rt_mspan);
}

rt_mspan *rt_mheap_alloc(uint32_t npages, uint8_t spanclass, bool large)
{
    if (npages == 0)
        rt_throw("mheap_alloc: zero pages");
    rt_lock_acquire(&h.lock);
    region *r;
    int64_t pi = -1;
    for (r = h.regions; r != NULL; r = r->next)
        if ((pi = region_find(r, npages)) >= 0)
            break;
    if (pi < 0) {
        int err;
        r = grow(npages, &err);
        if (r == NULL) {
            rt_lock_release(&h.lock);
            rt_throwf("out of memory: cannot reserve %lu bytes of heap address space (errno %d)",
                      (unsigned long)((uintptr_t)npages << RT_PAGE_SHIFT), -err);
        }
        pi = region_find(r, npages);
        if (pi < 0)
            rt_throw("mheap_alloc: fresh region has no room");
    }
    uint32_t nscav;
    bool zero = region_take(r, (uint64_t)pi, npages, &nscav);
    h.free_pages -= npages;
    h.released_pages -= nscav;
    h.inuse_pages += npages;
    rt_mspan *s = spanalloc();
    s->base = r->base + ((uintptr_t)pi << RT_PAGE_SHIFT);
    s->npages = npages;
    s->spanclass = spanclass;
    s->needzero = !zero;
    s->limit = s->base + ((uintptr_t)npages << RT_PAGE_SHIFT);
    if (large) {
        s->elemsize = 0;
        s->nelems = 1;
        s->next = h.large;
        if (h.large != NULL)
            h.large->prev = s;
        h.large = s;
        h.large_allocs++;
        h.large_alloc_bytes += (uint64_t)npages << RT_PAGE_SHIFT;
    }
    rt_store_rel(&s->state, SPAN_INUSE);
    setspans(s->base, npages, s, !large);
    rt_lock_release(&h.lock);
    return s;
}

static void unlink_large(rt_mspan *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h.large = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* h.lock held; a large span is already off h.large. */
static void free_locked(rt_mspan *s)
{
    region *r = regionof(s->base);
    if (r == NULL || s->state != SPAN_INUSE)
        rt_throw("mheap_free: bad span");
    if (s->nelems == 1 && s->elemsize == 0) {
        h.large_frees++;
        h.large_free_bytes += (uint64_t)s->npages << RT_PAGE_SHIFT;
    }
    rt_store_rel(&s->state, SPAN_DEAD);
    setspans(s->base, s->npages, NULL, false);
    region_give(r, (uint64_t)((s->base - r->base) >> RT_PAGE_SHIFT), s->npages, false);
    h.free_pages += s->npages;
    h.inuse_pages -= s->npages;
    spanfree(s);
}

void rt_mheap_free(rt_mspan *s)
{
    rt_lock_acquire(&h.lock);
    if (s->nelems == 1 && s->elemsize == 0 && s->state == SPAN_INUSE)
        unlink_large(s);
    free_locked(s);
    rt_lock_release(&h.lock);
}

/* The collector's sweep of large objects (world stopped): every in-use
 * large span for which dead(s) says so goes back to the heap; the others
 * are left to dead() to reset. Returns the bytes freed. */
uint64_t rt_mheap_sweeplarge(bool (*dead)(rt_mspan *s, void *arg), void *arg)
{
    uint64_t bytes = 0;
    rt_lock_acquire(&h.lock);
    for (rt_mspan *s = h.large, *next; s != NULL; s = next) {
        next = s->next;
        if (!dead(s, arg))
            continue;
        bytes += (uint64_t)s->npages << RT_PAGE_SHIFT;
        unlink_large(s);
        free_locked(s);
    }
    rt_lock_release(&h.lock);
    return bytes;
}

/* ---- scavenging ----------------------------------------------------------------------- */

/* Release free pages to the OS: those free and unscavenged at the previous
 * call too (or all of them), at most maxpages. Returns pages released. */
int64_t rt_mheap_scavenge(int64_t maxpages, bool all)
{
    int64_t done = 0;
    rt_lock_acquire(&h.lock);
    for (region *r = h.regions; r != NULL && done < maxpages; r = r->next) {
        for (uint32_t ci = 0; ci < r->nchunks && done < maxpages; ci++) {
            chunk *c = &r->chunks[ci];
            if (!c->committed)
                continue;
            for (uint32_t w = 0; w < CHUNK_WORDS && done < maxpages; w++) {
                uint64_t cand = ~c->alloc[w] & ~c->scav[w];
                uint64_t now = cand;
                if (!all)
                    cand &= c->idle[w];
                c->idle[w] = now;
                while (cand != 0 && done < maxpages) {
                    /* one run of candidate pages within this word */
                    int lo = __builtin_ctzll(cand);
                    uint64_t rest = ~(cand >> lo);
                    int len = rest == 0 ? 64 - lo : __builtin_ctzll(rest);
                    if (lo + len > 64)
                        len = 64 - lo;
                    uint64_t pi = (uint64_t)ci * CHUNK_PAGES + (uint64_t)w * 64 + (uint64_t)lo;
                    h.scav_inflight += (uint64_t)len; /* allocated in the bitmap, in no span */
                    uint32_t nscav;
                    region_take(r, pi, (uint32_t)len, &nscav); /* nobody else can use them now */
                    rt_lock_release(&h.lock);
                    rt_sysUnused((void *)(r->base + ((uintptr_t)pi << RT_PAGE_SHIFT)),
                                 (size_t)len << RT_PAGE_SHIFT);
                    rt_lock_acquire(&h.lock);
                    region_give(r, pi, (uint32_t)len, true);
                    h.released_pages += (uint64_t)len;
                    h.scav_inflight -= (uint64_t)len;
                    done += len;
                    cand &= len == 64 ? 0 : ~(((1ull << len) - 1) << lo);
                    /* others may have taken pages of this word meanwhile */
                    cand &= ~c->alloc[w] & ~c->scav[w];
                }
            }
        }
    }
    rt_lock_release(&h.lock);
    return done;
}

GORT_API void gort_free_os_memory(void)
{
    rt_mcentral_reclaim(INT64_MAX); /* empty spans first: their pages become free */
    rt_mheap_scavenge(INT64_MAX, true);
}

void rt_mheap_stats(rt_heapstats *hs)
{
    rt_lock_acquire(&h.lock);
    hs->sys = h.sys;
    hs->inuse_pages = h.inuse_pages;
    hs->free_pages = h.free_pages;
    hs->released_pages = h.released_pages;
    hs->spans_inuse = h.spans_inuse;
    hs->spans_sys = h.spans_sys;
    hs->large_alloc_bytes = h.large_alloc_bytes;
    hs->large_free_bytes = h.large_free_bytes;
    hs->large_allocs = h.large_allocs;
    hs->large_frees = h.large_frees;
    rt_lock_release(&h.lock);
    hs->persistent_sys = rt_load_relaxed(&persistent_sys);
}

/* ---- consistency checks (malloc.h) ------------------------------------------------------ */

#define heapbad(fmt, ...) rt_throwf("rt_mheap_check: " fmt, ##__VA_ARGS__)

/* The page heap under h.lock: each region's chunks (summaries recomputed
 * from the bitmaps, scavenged/zero/idle pages free), the arena map's span
 * and pageinfo of every page, each span that no mcache or mcentral list
 * owns (large ones, and small ones on their way back to the heap), and the
 * counters. stopped: the world is stopped, and mcachespans (the spans the
 * mcaches hold) must be every span whose where says IN_MCACHE. */
static void checkpages(bool stopped, uint64_t mcachespans)
{
    rt_lock_acquire(&h.lock);
    uint64_t freepg = 0, scavpg = 0, inusepg = 0, nospan = 0, committed = 0, allpg = 0, inmcache = 0;
    uintptr_t prevend = 0;
    for (region *r = h.regions; r != NULL; r = r->next) {
        uintptr_t end = r->base + ((uintptr_t)r->npages << RT_PAGE_SHIFT);
        if (r->base < prevend || (r->base & (ARENA_SIZE - 1)) != 0 || r->nchunks * CHUNK_PAGES != r->npages ||
            r->base < rt_heap_lo() || end > rt_heap_hi())
            heapbad("region 0x%lx-0x%lx overlaps, is not arena-aligned or lies outside [heap_lo, heap_hi)",
                    (unsigned long)r->base, (unsigned long)end);
        prevend = end;
        allpg += r->npages;
        for (uint32_t ci = 0; ci < r->nchunks; ci++) {
            chunk *c = &r->chunks[ci], sum = *c;
            summarize(&sum);
            if (sum.start != c->start || sum.max != c->max || sum.end != c->end)
                heapbad("chunk 0x%lx: summary {start %u, max %u, end %u}, its bitmap says {%u, %u, %u}",
                        (unsigned long)(r->base + ((uintptr_t)ci * CHUNK_PAGES << RT_PAGE_SHIFT)), c->start, c->max,
                        c->end, sum.start, sum.max, sum.end);
            for (uint32_t w = 0; w < CHUNK_WORDS; w++) {
                if ((c->scav[w] | c->zero[w] | c->idle[w]) & c->alloc[w])
                    heapbad("chunk 0x%lx: an allocated page is marked scavenged, zero or idle",
                            (unsigned long)(r->base + ((uintptr_t)ci * CHUNK_PAGES << RT_PAGE_SHIFT)));
                if (!c->committed && c->alloc[w] != 0)
                    heapbad("chunk 0x%lx: pages allocated in an uncommitted chunk",
                            (unsigned long)(r->base + ((uintptr_t)ci * CHUNK_PAGES << RT_PAGE_SHIFT)));
                freepg += (uint64_t)__builtin_popcountll(~c->alloc[w]);
                scavpg += (uint64_t)__builtin_popcountll(c->scav[w]);
            }
            committed += c->committed ? (uint64_t)CHUNK_PAGES << RT_PAGE_SHIFT : 0;
        }
        uint32_t max = r->maxrun;
        region_remax(r);
        if (r->maxrun != max)
            heapbad("region 0x%lx: longest free run %u, its chunks say %u", (unsigned long)r->base, max, r->maxrun);
        /* every page: free (no span), taken by the scavenger (no span), or
         * one of an in-use span's pages, in order */
        for (uint32_t pg = 0; pg < r->npages;) {
            uintptr_t p = r->base + ((uintptr_t)pg << RT_PAGE_SHIFT);
            heaparena *a = rt_arenamap[p >> ARENA_SHIFT];
            if (a == NULL)
                heapbad("no arena map entry for region 0x%lx's page 0x%lx", (unsigned long)r->base, (unsigned long)p);
            uint32_t ap = (uint32_t)((p & (ARENA_SIZE - 1)) >> RT_PAGE_SHIFT);
            rt_mspan *s = rt_arenaspan(a, ap);
            uint16_t info = rt_load_relaxed(&a->pageinfo[ap]);
            bool allocated = bit(r->chunks[pg / CHUNK_PAGES].alloc, pg % CHUNK_PAGES);
            if (s == NULL) {
                if (info != 0)
                    heapbad("page 0x%lx has pageinfo 0x%x but no span", (unsigned long)p, info);
                nospan += allocated;
                pg++;
                continue;
            }
            if (s->base != p || s->npages > r->npages - pg)
                heapbad("page 0x%lx maps to span 0x%lx (%u pages), which does not start there or overruns its "
                        "region",
                        (unsigned long)p, (unsigned long)s->base, s->npages);
            if (rt_load(&s->state) != SPAN_INUSE)
                heapbad("page 0x%lx maps to span 0x%lx, which is not in use", (unsigned long)p, (unsigned long)s->base);
            /* small or large by the first page's pageinfo, set under h.lock
             * (the span's own fields are its owner's, unless stopped) */
            bool small = info != 0;
            if (stopped && (small ? info >> 8 != s->spanclass : rt_spanclass_size(s->spanclass) != 0))
                heapbad("span 0x%lx has span class %d, its pageinfo says %d", (unsigned long)s->base, s->spanclass,
                        info >> 8);
            for (uint32_t i = 0; i < s->npages; i++) {
                uintptr_t q = p + ((uintptr_t)i << RT_PAGE_SHIFT);
                heaparena *qa = rt_arenamap[q >> ARENA_SHIFT];
                uint32_t qp = (uint32_t)((q & (ARENA_SIZE - 1)) >> RT_PAGE_SHIFT);
                uint16_t want = small ? (uint16_t)((info & 0xff00u) | i) : 0;
                if (rt_arenaspan(qa, qp) != s || rt_load_relaxed(&qa->pageinfo[qp]) != want ||
                    !bit(r->chunks[(pg + i) / CHUNK_PAGES].alloc, (pg + i) % CHUNK_PAGES))
                    heapbad("span 0x%lx's page %u (0x%lx): not allocated, or its arena map entry or pageinfo "
                            "(0x%x, want 0x%x) is wrong",
                            (unsigned long)s->base, i, (unsigned long)q, rt_load_relaxed(&qa->pageinfo[qp]), want);
            }
            uint8_t where = rt_load(&s->where);
            inmcache += small && where == IN_MCACHE;
            if (!small || (stopped && where == IN_NONE)) /* no other check reaches these */
                rt_mspan_check_as(s, stopped);
            inusepg += s->npages;
            pg += s->npages;
        }
    }
    if (nospan != h.scav_inflight)
        heapbad("%lu allocated pages belong to no span, but the scavenger holds %lu", (unsigned long)nospan,
                (unsigned long)h.scav_inflight);
    if (freepg + h.scav_inflight != h.free_pages || inusepg != h.inuse_pages || scavpg != h.released_pages ||
        committed != h.sys || freepg + nospan + inusepg != allpg)
        heapbad("counters: free pages %lu (bitmaps: %lu + %lu being scavenged), in use %lu (spans: %lu), released "
                "%lu (bitmaps: %lu), committed %lu bytes (chunks: %lu), %lu pages in all",
                (unsigned long)h.free_pages, (unsigned long)freepg, (unsigned long)h.scav_inflight,
                (unsigned long)h.inuse_pages, (unsigned long)inusepg, (unsigned long)h.released_pages,
                (unsigned long)scavpg, (unsigned long)h.sys, (unsigned long)committed, (unsigned long)allpg);
    if (stopped && inmcache != mcachespans)
        heapbad("%lu spans say they are in an mcache, the mcaches hold %lu", (unsigned long)inmcache,
                (unsigned long)mcachespans);
    rt_lock_release(&h.lock);
}

void rt_mheap_check(void) { rt_mheap_check_as(true); }

/* The three passes, each under its own locks in rank order: the mcaches
 * (the shared one's lock), the mcentral lists, the page heap. */
void rt_mheap_check_as(bool stopped)
{
    if (rt_arenamap == NULL)
        return; /* no heap yet */
    int32_t max = stopped ? GORT_MAXPROCS_LIMIT + 1 : 2;
    rt_mcache **cs = malloc((size_t)max * sizeof(rt_mcache *));
    if (cs == NULL)
        return; /* (libc's malloc; only a check is lost) */
    rt_foreign_lock();
    int32_t n = rt_mcaches(cs, max, stopped);
    uint64_t spans = 0;
    for (int32_t i = 0; i < n; i++)
        spans += rt_mcache_check(cs[i], stopped);
    rt_freecache_check(cs, n, !stopped);
    rt_foreign_unlock();
    free(cs);
    rt_mcentral_check(stopped);
    checkpages(stopped, spans);
}

/* ---- init ---------------------------------------------------------------------------- */

void rt_mallocinit(void)
{
    if (rt_arenamap != NULL)
        return;
    rt_sizeclasses_init();
    size_t mapsize = sizeof(heaparena *) << ARENA_MAP_BITS;
    void *m = rt_sysAlloc(mapsize, RT_SYS_NORESERVE, NULL);
    if (m == NULL)
        rt_throw("mallocinit: cannot reserve the arena map");
    rt_arenamap = m;
}
