/* mcache.c - the per-P allocation cache (Go: mcache.go).
 *
 * Each P owns one mcache: for every span class, the span it allocates from
 * (alloc[spc]). Only the M holding the P touches it, so the fast path takes
 * no lock and no atomic instruction:
 *
 *   nextFreeFast: allocCache holds the complement of allocBits starting at
 *   freeindex; ctz finds the next free slot; the cache is shifted past it,
 *   freeindex advances, the slot's allocBits bit is set (a plain store: only
 *   the owner sets allocBits bits; frees go to freeBits).
 *
 * When the cache word runs out, nextfree scans allocBits for the next free
 * slot; at the end of the span it folds pending frees (freeBits) in and, if
 * that freed anything, starts again from slot 0 (Go's sweep does this
 * reset); a span with nothing free goes back to mcentral and another comes.
 *
 * The tiny allocator packs noscan objects under 16 bytes into 16-byte
 * blocks (Go's maxTinySize). A block's live sub-objects are counted in
 * span.tinycount (bit 7: the block is some mcache's current block), so
 * gort_free of a tiny object returns the block once all of its objects are
 * freed and it is no longer current; exactly one party sees the count reach
 * zero. span.tinymask marks where each live sub-object starts and ends (16
 * + 16 bits a block): gort_free accepts only those start addresses (and
 * catches most double frees), and gort_usable_size reports its exact size.
 *
 * The free cache: gort_free on this P pushes the object on fc[spanclass]
 * (up to 64), and allocation pops from there first, so a free followed by
 * an allocation of the same class costs no atomic and no span metadata.
 * A cached object still counts as allocated in its span's bitmap; its first
 * word holds the process's random free key, so a second free of it, on
 * any P, is caught (and confirmed by looking in the caches). When a class's cache is full,
 * the older half is flushed to the spans' bitmaps. The collector (a later
 * issue) must flush the caches before it sweeps.
 *
 * Threads without a P share one mcache under a lock (the "foreign" path). */
#include "malloc.h"
#include "../sched/sched.h"
#include "../debug/debug.h"

#include <string.h>

#define TINY_CURRENT 0x80

rt_mcache *rt_mcache_new(void)
{
    rt_mcache *c = rt_persistentalloc(sizeof(rt_mcache), 64);
    memset(c, 0, sizeof(*c));
    return c;
}


static void retire_tiny(rt_mcache *c)
{
    if (c->tiny == 0)
        return;
    rt_mspan *s = c->tinyspan;
    uint32_t idx = rt_span_objindex(s, c->tiny);
    uint8_t left = __atomic_and_fetch(&s->tinycount[idx], (uint8_t)~TINY_CURRENT, __ATOMIC_SEQ_CST);
    c->tiny = 0;
    c->tinyspan = NULL;
    if (left == 0)
        rt_free_tinyblock(s, idx);
}

void rt_mcache_release(rt_mcache *c)
{
    for (int i = 0; i < RT_NUM_SPAN_CLASSES; i++)
        rt_freecache_flush(c, (uint8_t)i, 0);
    retire_tiny(c);
    for (int i = 0; i < RT_NUM_SPAN_CLASSES; i++) {
        if (c->alloc[i] != NULL) {
            rt_mcentral_uncachespan(c->alloc[i]);
            c->alloc[i] = NULL;
        }
    }
}

/* Position freeindex/allocCache at the next free slot at or after
 * freeindex; returns false if the span has none there. */
static bool seek_free(rt_mspan *s)
{
    uint32_t i = s->freeindex;
    while (i < s->nelems) {
        uint32_t w = i / 64, o = i % 64;
        uint64_t bits = ~rt_load_relaxed(&s->allocBits[w]) >> o;
        if (bits != 0) {
            uint32_t at = i + (uint32_t)__builtin_ctzll(bits);
            if (at >= s->nelems)
                break;
            s->freeindex = at;
            s->allocCache = bits >> (at - i);
            return true;
        }
        i = (w + 1) * 64;
    }
    s->freeindex = s->nelems;
    s->allocCache = 0;
    return false;
}

/* nextFreeFast, mcache.h-style inline in malloc.c calls this on a miss. */
uintptr_t rt_nextfree(rt_mcache *c, uint8_t spc, rt_mspan **sp, bool *needzero)
{
    rt_mspan *s = c->alloc[spc];
    for (;;) {
        if (s != NULL) {
            if (seek_free(s)) {
                uint32_t idx = s->freeindex;
                s->allocCache >>= 1;
                s->freeindex = idx + 1;
                if (s->freeindex % 64 == 0)
                    s->allocCache = 0; /* next word: reload on the next call */
                rt_store_relaxed(&s->allocBits[idx / 64], s->allocBits[idx / 64] | (1ull << (idx % 64)));
                s->allocCount++;
                *sp = s;
                *needzero = s->needzero;
                return s->base + (uintptr_t)idx * s->elemsize;
            }
            /* End of the span: take pending frees, and go round again. */
            rt_mspan_merge(s);
            if (s->allocCount < s->nelems) {
                s->freeindex = 0;
                continue;
            }
            rt_mcentral_uncachespan(s);
        }
        s = rt_mcentral_cachespan(spc);
        c->alloc[spc] = s;
    }
}

/* Tiny: a noscan object under 16 bytes, packed with others. */
uintptr_t rt_tinyalloc(rt_mcache *c, size_t size)
{
    uintptr_t off = c->tinyoffset;
    if ((size & 7) == 0)
        off = (off + 7) & ~(uintptr_t)7;
    else if ((size & 3) == 0)
        off = (off + 3) & ~(uintptr_t)3;
    else if ((size & 1) == 0)
        off = (off + 1) & ~(uintptr_t)1;
    if (c->tiny != 0 && off + size <= RT_TINY_SIZE) {
        rt_mspan *s = c->tinyspan;
        uint32_t idx = rt_span_objindex(s, c->tiny);
        __atomic_fetch_or(&s->tinymask[idx], (1u << off) | (1u << (16 + off + size - 1)), __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&s->tinycount[idx], 1, __ATOMIC_SEQ_CST);
        c->tinyoffset = off + size;
        c->tinyallocs++;
        return c->tiny + off;
    }
    /* A new block (a 16-byte noscan object), then retire the old one. */
    rt_mspan *s;
    bool needzero;
    uintptr_t v = rt_nextfree(c, RT_TINY_SPANCLASS, &s, &needzero);
    if (needzero)
        memset((void *)v, 0, RT_TINY_SIZE);
    c->tinyblocks++;
    uint32_t idx = rt_span_objindex(s, v);
    __atomic_store_n(&s->tinymask[idx], 1u | (1u << (16 + size - 1)), __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->tinycount[idx], TINY_CURRENT | 1, __ATOMIC_SEQ_CST);
    retire_tiny(c);
    c->tiny = v;
    c->tinyspan = s;
    c->tinyoffset = size;
    c->tinyallocs++;
    return v;
}
