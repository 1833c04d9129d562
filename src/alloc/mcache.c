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
 * blocks (Go's maxTinySize). Each block has a 32-bit state word in its
 * arena's tinystate table (4 bytes per 16, reserved per arena and touched
 * only under tiny spans): bit o set = a live tiny object starts at offset
 * o, bit 16+e = one ends at offset e < 15; RT_TINY_CURRENT = the block is
 * an mcache's current block. Allocating in the current block is one atomic
 * OR; gort_free clears the object's bits (one atomic AND; a clear start bit
 * is a double free), and whoever turns the word to 0 - the last free, or
 * retiring the block - gives the block to the free cache of the 16-byte
 * noscan class, where the next new block comes from. gort_free accepts only
 * start addresses, and gort_usable_size reports the exact size.
 *
 * The free cache: gort_free on this P pushes the object on fc[spanclass]
 * (up to 64), and allocation pops from there first, so a free followed by
 * an allocation of the same class costs no atomic and no span metadata.
 * A cached object still counts as allocated in its span's bitmap; its first
 * word holds the process's random free cookie, checked when the object is
 * handed out again (malloc.c explains how double frees are caught). When a
 * class's cache is full, the older half is flushed to the spans' bitmaps.
 * The collector flushes every cache before it marks (src/gc/mgcsweep.c):
 * a cached object is garbage that allocBits still calls allocated.
 *
 * Threads without a P share one mcache under a lock (the "foreign" path). */
#include "malloc.h"
#include "../sched/sched.h"
#include "../debug/debug.h"

#include <string.h>


rt_mcache *rt_mcache_new(void)
{
    rt_mcache *c = rt_persistentalloc(sizeof(rt_mcache), 64);
    memset(c, 0, sizeof(*c));
    return c;
}


static void retire_tiny(rt_mcache *c, bool foreign)
{
    if (c->tiny == 0)
        return;
    uint32_t left = __atomic_and_fetch(c->tinyst, ~RT_TINY_CURRENT, __ATOMIC_ACQ_REL);
    uintptr_t block = c->tiny;
    c->tiny = 0;
    c->tinyst = NULL;
    if (left == 0)
        rt_free_tinyblock(c, block, foreign);
}

void rt_mcache_release(rt_mcache *c)
{
    retire_tiny(c, false);
    for (int i = 0; i < RT_NUM_SPAN_CLASSES; i++)
        rt_freecache_flush(c, (uint8_t)i, 0); /* incl. the block retire_tiny may have cached */
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
uintptr_t rt_tinyalloc(rt_mcache *c, size_t size, bool foreign)
{
    uintptr_t off = c->tinyoffset;
    if ((size & 7) == 0)
        off = (off + 7) & ~(uintptr_t)7;
    else if ((size & 3) == 0)
        off = (off + 3) & ~(uintptr_t)3;
    else if ((size & 1) == 0)
        off = (off + 1) & ~(uintptr_t)1;
    if (c->tiny != 0 && off + size <= RT_TINY_SIZE) {
        __atomic_fetch_or(c->tinyst, rt_tinybits((uint32_t)off, (uint32_t)size), __ATOMIC_RELEASE); /* frees race with it */
        c->tinyoffset = off + size;
        c->tinyallocs++;
        return c->tiny + off;
    }
    /* A new block (a 16-byte noscan object: a freed one from the free
     * cache, else the next free slot), then retire the old one. */
    uintptr_t v;
    rt_freecache *f = &c->fc[RT_TINY_SPANCLASS];
    if (f->n != 0) {
        v = (uintptr_t)rt_freecache_pop(f, rt_spanclass_size(RT_TINY_SPANCLASS), RT_TINY_SIZE);
    } else {
        rt_mspan *s;
        bool needzero;
        v = rt_nextfree(c, RT_TINY_SPANCLASS, &s, &needzero);
        if (needzero)
            memset((void *)v, 0, RT_TINY_SIZE);
    }
    c->tinyblocks++;
    uint32_t *st = rt_tinystate(v);
    __atomic_store_n(st, RT_TINY_CURRENT | rt_tinybits(0, (uint32_t)size), __ATOMIC_RELEASE);
    retire_tiny(c, foreign);
    c->tiny = v;
    c->tinyst = st;
    c->tinyoffset = size;
    c->tinyallocs++;
    return v;
}

/* ---- consistency check (malloc.h) ------------------------------------------------ */

/* c's spans and its tiny block, as c's owner sees them: the owner is
 * stopped, or is the caller (this P's mcache, or the shared one with its
 * lock held). Returns how many spans c holds. */
uint32_t rt_mcache_check(rt_mcache *c, bool stopped)
{
    uint32_t n = 0;
    for (int spc = 0; spc < RT_NUM_SPAN_CLASSES; spc++) {
        rt_mspan *s = c->alloc[spc];
        if (s == NULL)
            continue;
        n++;
        if (s->spanclass != spc || rt_load(&s->where) != IN_MCACHE)
            rt_throwf("rt_mheap_check: mcache %p holds span 0x%lx for span class %d, but the span has class %d "
                      "and where = %d",
                      (void *)c, (unsigned long)s->base, spc, s->spanclass, rt_load(&s->where));
        rt_mspan_check_as(s, stopped);
    }
    if (c->tiny != 0) {
        rt_mspan *s;
        uint32_t idx;
        if (rt_findobject(c->tiny, &s, &idx) != c->tiny || s->spanclass != RT_TINY_SPANCLASS ||
            !(rt_load_relaxed(&s->allocBits[idx / 64]) >> (idx % 64) & 1) || c->tinyst != rt_tinystate(c->tiny) ||
            !(rt_load(c->tinyst) & RT_TINY_CURRENT) || c->tinyoffset > RT_TINY_SIZE)
            rt_throwf("rt_mheap_check: mcache %p: its tiny block 0x%lx is not an allocated 16-byte block marked "
                      "current (state 0x%x)",
                      (void *)c, (unsigned long)c->tiny, c->tinyst != NULL ? rt_load(c->tinyst) : 0);
    }
    return n;
}
