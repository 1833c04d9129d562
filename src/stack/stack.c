/* stack.c - goroutine stacks (Go: stack.go stackalloc/stackfree,
 * stackpool, stackcache).
 *
 * C cannot move a stack (no pointer maps), so Go's copy-and-double growth
 * is out. Instead every stack is a *reservation*: virtual memory the kernel
 * commits page by page as it is touched. A goroutine that parks after a
 * shallow call chain costs one 4 KiB page of RSS, yet can recurse to the
 * full reservation (256 KiB by default, GORTSTACKSIZE or gort_go_stack to
 * change). These stacks do not come from the gort heap: their guard scheme
 * needs a region of their own (one VMA for thousands of stacks).
 *
 * Layout. Stacks come in orders: slot = 16 KiB << order (order 0..16, up to
 * 1 GiB). The lowest page of each slot is its guard; usable memory is
 * [lo, hi) = [slot + page, slot + size). Slots are carved from chunks of at
 * least 256 MiB, mapped read-write with MAP_NORESERVE | MAP_STACK
 * (rt_sysAlloc, src/os/os.h) and MADV_NOHUGEPAGE (a transparent huge page
 * would commit 2 MiB for eight goroutines' first pages). Chunks are never
 * unmapped.
 *
 * Guard modes (docs/stacks.md), chosen when a slot is first carved:
 *   madvise   Linux 6.13+ MADV_GUARD_INSTALL: the guard page faults on any
 *             access, and the VMA is not split, so a million guarded stacks
 *             stay within vm.max_map_count (65530 by default).
 *   mprotect  older kernels: PROT_NONE on the guard page. Each splits the
 *             chunk's VMA (+2 mappings), so only a budget of stacks (half
 *             of vm.max_map_count / 2, 16K by default) get one.
 *   canary    beyond the budget: the guard page is left unused (a soft gap
 *             that absorbs small overflows) and two canary words at lo are
 *             checked on every switch away from the goroutine. Detection is
 *             after the fact: an overflow past the gap can corrupt the
 *             stacks below it before it is seen; the lowest page of every
 *             chunk is a real PROT_NONE guard, so a runaway recursion
 *             faults inside the stack region at the latest there, and the
 *             SIGSEGV handler names the goroutine whose canary is gone.
 * Overflow into a guard page raises SIGSEGV; the handler (on the M's
 * alternate signal stack, src/debug/fatal.c) reports "fatal error: stack
 * overflow" naming the goroutine.
 *
 * Caching hierarchy (Go's stackcache over stackpool):
 *   1. per-P cache, orders 0..5 (<= 512 KiB): up to 16 slots per order,
 *      no lock. Refill / release 8 at a time from/to the global pool.
 *   2. global pool per order, under one lock: three deques of slots,
 *        dirty  freed recently, pages probably resident: reused first
 *               (reusing warm pages costs no page faults);
 *        clean  pages returned to the OS (MADV_DONTNEED);
 *        deep   freed after a call chain went deeper than 2 pages: reused
 *               only after dirty and clean, and released first.
 *   3. carve a new slot from the order's current chunk.
 * Pages are returned off the hot path: rt_stack_scavenge (from sysmon,
 * every 100 ms) madvises at most SCAVENGE_MAX (256) slots per call: deep
 * ones first, then dirty ones that sat in the pool for a whole period.
 * A dead goroutine's stack comes back here at once (gfput in proc.c puts
 * it in the P's cache; unlike Go, a dead G does not keep its stack), so a
 * burst of new goroutines reuses the few warm stacks.
 *
 * Invariants: a slot is in exactly one place (a G, a P cache, one deque);
 * pool entries carry their guard mode in the low bits of the slot address
 * (slots are 16 KiB aligned relative to page-aligned chunks: the low 12
 * bits are free). Locks (ranks in src/sched/lock.h): nothing is taken
 * under the pool lock; it may be taken under a channel, sched.lock or a
 * semaphore root. */
#include "stack.h"
#include "../sched/sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../os/os.h"

#include <stdlib.h>
#include <string.h>

#if defined(GORT_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(GORT_VALGRIND)
#include <valgrind/valgrind.h>
#endif

#define CHUNK_MIN ((size_t)256 << 20)
#define REFILL 8
#define SCAVENGE_MAX 256
#define PAGE 4096u

int rt_stack_default_order = RT_STACK_DEFAULT_ORDER;

typedef struct entry {
    uintptr_t slot; /* | guard mode in the low bits */
    int64_t gen;    /* scavenge generation when it entered the deque */
} entry;

/* A ring deque: push/pop at the tail (newest), scavenge from the head. */
typedef struct deque {
    entry *a;
    size_t head, n, cap; /* cap: power of two */
} deque;

typedef struct pool {
    deque dirty, clean, deep;
    uintptr_t carve_next, carve_end;
} pool;

static rt_lock poollock = {0, RT_RANK_STACKPOOL};
static pool pools[RT_STACK_NORDERS];
static int guard_mode;        /* mode for newly carved slots */
static int64_t guard_budget;  /* mprotect guards left */
static int64_t scav_gen;

/* Chunk ranges, for the overflow check in the signal handler (read
 * without the lock: entries are written before nchunks is published). */
#define MAXCHUNKS 16384
static uintptr_t chunk_lo[MAXCHUNKS], chunk_hi[MAXCHUNKS];
static uint32_t nchunks;

uintptr_t rt_stack_chunk_base(uintptr_t addr)
{
    uint32_t n = rt_load_acq(&nchunks);
    for (uint32_t i = 0; i < n; i++)
        if (addr >= chunk_lo[i] && addr < chunk_hi[i])
            return chunk_lo[i];
    return 0;
}
static int64_t inuse_global;  /* atomic: stacks allocated without a cache */

static size_t slot_size(int order) { return (size_t)1 << (RT_STACK_MIN_SHIFT + order); }
size_t rt_stack_order_size(int order) { return slot_size(order) - PAGE; }

int rt_stack_order_for(size_t size)
{
    if (size < RT_STACK_MIN_SIZE || size > RT_STACK_MAX_SIZE)
        return -1;
    for (int o = 0; o < RT_STACK_NORDERS; o++)
        if (size <= slot_size(o))
            return o;
    return -1;
}

const char *rt_stack_guard_name(int guard)
{
    switch (guard) {
    case RT_GUARD_MADVISE:
        return "madvise";
    case RT_GUARD_MPROTECT:
        return "mprotect";
    case RT_GUARD_CANARY:
        return "canary";
    default:
        return "?";
    }
}

int rt_stack_guard_mode(void) { return rt_load_relaxed(&guard_mode); }
/* Bytes of stack slots handed out: the global part plus each P's (a P's
 * count may go negative when its stacks were allocated elsewhere). */
int64_t rt_stack_inuse_bytes(const rt_stackcache *c) { return c ? rt_load_relaxed(&c->inuse) : rt_load_relaxed(&inuse_global); }

/* ---- deques ------------------------------------------------------------------ */

static void dq_push(deque *d, uintptr_t slot, int64_t gen)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 256;
        entry *na = malloc(ncap * sizeof(entry));
        if (na == NULL)
            rt_throw("out of memory growing the stack pool");
        for (size_t i = 0; i < d->n; i++)
            na[i] = d->a[(d->head + i) & (d->cap - 1)];
        free(d->a);
        d->a = na;
        d->head = 0;
        d->cap = ncap;
    }
    d->a[(d->head + d->n) & (d->cap - 1)] = (entry){slot, gen};
    d->n++;
}

static bool dq_pop_tail(deque *d, uintptr_t *slot)
{
    if (d->n == 0)
        return false;
    d->n--;
    *slot = d->a[(d->head + d->n) & (d->cap - 1)].slot;
    return true;
}

static entry *dq_head(deque *d) { return d->n ? &d->a[d->head] : NULL; }

static void dq_pop_head(deque *d)
{
    d->head = (d->head + 1) & (d->cap - 1);
    d->n--;
}

/* ---- carving and guards ---------------------------------------------------------- */

static int64_t default_budget(void)
{
    long maxmap = rt_sysMaxMapCount();
    if (maxmap < 0)
        maxmap = 65530;
    /* Each mprotect'ed guard adds two mappings; stacks may use half of the
     * limit, the rest stays for the program. */
    int64_t b = (maxmap / 2) / 2;
    return b > 0 ? b : 0;
}

void rt_stackinit(void)
{
    if (rt_pagesize != PAGE)
        rt_throwf("stackinit: gort's stacks assume 4 KiB pages (have %lu)", (unsigned long)rt_pagesize);
    if (rt_debug.stacksize > 0) {
        int o = rt_stack_order_for((size_t)rt_debug.stacksize);
        if (o >= 0)
            rt_stack_default_order = o;
    }
    guard_budget = rt_debug.stackguardbudget >= 0 ? rt_debug.stackguardbudget : default_budget();
    switch (rt_debug.stackguard) {
    case 1:
        guard_mode = RT_GUARD_MADVISE;
        break;
    case 2:
        guard_mode = RT_GUARD_MPROTECT;
        break;
    case 3:
        guard_mode = RT_GUARD_CANARY;
        break;
    default:
        guard_mode = RT_GUARD_MADVISE; /* falls back on first EINVAL */
        break;
    }
}

/* Two canary words at the low end of the usable stack: a frame that
 * skips one (a large uninitialised array) rarely skips both. */
#if defined(__clang__) || defined(__GNUC__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

/* (The canary words sit in memory ASan may have poisoned as stack.) */
NO_ASAN static void write_canaries(uintptr_t lo)
{
    *(volatile uint64_t *)lo = RT_STACK_CANARY ^ lo;
    *(volatile uint64_t *)(lo + 64) = RT_STACK_CANARY ^ (lo + 64);
}

NO_ASAN bool rt_stack_canary_ok(const rt_stack *s)
{
    return *(volatile uint64_t *)s->lo == (RT_STACK_CANARY ^ s->lo) &&
           *(volatile uint64_t *)(s->lo + 64) == (RT_STACK_CANARY ^ (s->lo + 64));
}

/* Install guards on n freshly carved slots of one order (pool lock held,
 * which serialises rt_sysGuardInstall); out[i] gets slot | mode. One
 * process_madvise call covers the whole batch (0.8 us per guard here,
 * against 3 us for one madvise each). */
static void install_guards(uintptr_t *slots, int n)
{
    int i = 0;
    if (guard_mode == RT_GUARD_MADVISE) {
        int err = rt_sysGuardInstall(slots, n, PAGE, &i);
        for (int k = 0; k < i; k++)
            slots[k] |= RT_GUARD_MADVISE;
        if (err == 0)
            return;
        if (rt_debug.stackguard == 1)
            rt_throwf("stackguard=madvise: MADV_GUARD_INSTALL failed (errno %d); needs Linux 6.13+", -err);
        guard_mode = RT_GUARD_MPROTECT; /* kernel without guard regions */
    }
    for (; i < n; i++) {
        if (guard_mode == RT_GUARD_MPROTECT) {
            if (guard_budget > 0 && rt_sysFault((void *)slots[i], PAGE) == 0) {
                guard_budget--;
                slots[i] |= RT_GUARD_MPROTECT;
                continue;
            }
            guard_mode = RT_GUARD_CANARY; /* budget spent or map count exhausted */
        }
        slots[i] |= RT_GUARD_CANARY;
    }
}

/* Carve up to n new slots of order into out[]; returns how many. When a
 * new chunk cannot be mapped, *err gets the negative errno. */
static int carve(int order, uintptr_t *out, int n, int *err)
{
    pool *pl = &pools[order];
    size_t sz = slot_size(order);
    int got = 0;
    while (got < n) {
        if (pl->carve_next == 0 || pl->carve_end - pl->carve_next < sz) {
            size_t chunk = sz > CHUNK_MIN ? sz : CHUNK_MIN;
            void *p = rt_sysAlloc(chunk, RT_SYS_NORESERVE | RT_SYS_STACK, err);
            if (p == NULL)
                break;
            rt_sysNoHugePage(p, chunk);
            /* Without guard regions, the chunk's lowest page always gets a
             * real guard, so an overflow in canary mode faults inside the
             * stack region instead of running into another mapping. */
            if (guard_mode != RT_GUARD_MADVISE)
                rt_sysFault(p, PAGE);
            if (nchunks < MAXCHUNKS) {
                chunk_lo[nchunks] = (uintptr_t)p;
                chunk_hi[nchunks] = (uintptr_t)p + chunk;
                rt_store_rel(&nchunks, nchunks + 1);
            }
            pl->carve_next = (uintptr_t)p;
            pl->carve_end = (uintptr_t)p + chunk;
        }
        out[got++] = pl->carve_next;
#if defined(GORT_VALGRIND)
        VALGRIND_STACK_REGISTER(pl->carve_next + PAGE, pl->carve_next + sz);
#endif
        pl->carve_next += sz;
    }
    install_guards(out, got);
    return got;
}

/* Take up to n slots of order from the global pool into out[] (lock held):
 * warm ones first, then released ones, then deep ones, then new ones.
 * *err: as carve's. */
static int pool_get(int order, uintptr_t *out, int n, int *err)
{
    pool *pl = &pools[order];
    int got = 0;
    while (got < n && (dq_pop_tail(&pl->dirty, &out[got]) || dq_pop_tail(&pl->clean, &out[got]) ||
                       dq_pop_tail(&pl->deep, &out[got])))
        got++;
    if (got < n)
        got += carve(order, out + got, n - got, err);
    return got;
}

static void fill(rt_stack *out, uintptr_t e, int order)
{
    uintptr_t slot = e & ~(uintptr_t)(PAGE - 1);
    out->lo = slot + PAGE;
    out->hi = slot + slot_size(order);
    out->order = (uint8_t)order;
    out->guard = (uint8_t)(e & (PAGE - 1));
    if (out->guard == RT_GUARD_CANARY)
        write_canaries(out->lo);
#if defined(GORT_ASAN)
    /* The previous owner exited through a noreturn call (goexit), where
     * ASan unpoisons the frames it leaves; clear the top of the stack in
     * case a frame skipped that, without touching the whole reservation's
     * shadow on every goroutine start. */
    size_t clean = out->hi - out->lo < 32768 ? out->hi - out->lo : 32768;
    __asan_unpoison_memory_region((void *)(out->hi - clean), clean);
#endif
}

void rt_stackalloc(rt_stackcache *c, int order, rt_stack *out)
{
    uintptr_t e = 0;
    int err = 0;
    if (c != NULL && order < RT_STACK_CACHED_ORDERS) {
        if (c->n[order] == 0) {
            rt_lock_acquire(&poollock);
            c->n[order] = (uint32_t)pool_get(order, c->slot[order], REFILL, &err);
            rt_lock_release(&poollock);
        }
        if (c->n[order] > 0)
            e = c->slot[order][--c->n[order]];
    } else {
        rt_lock_acquire(&poollock);
        if (pool_get(order, &e, 1, &err) != 1)
            e = 0;
        rt_lock_release(&poollock);
    }
    if (e == 0)
        rt_throwf("out of memory: cannot reserve a %zu-byte goroutine stack (errno %d)",
                  slot_size(order), -err);
    if (c != NULL)
        rt_store_relaxed(&c->inuse, c->inuse + (int64_t)slot_size(order)); /* owner only: no atomic RMW */
    else
        rt_xadd(&inuse_global, (int64_t)slot_size(order));
    fill(out, e, order);
}

static uintptr_t entry_of(const rt_stack *s) { return (s->lo - PAGE) | s->guard; }

void rt_stackfree(rt_stackcache *c, rt_stack *s, bool deep)
{
    int order = s->order;
    if (s->hi == 0)
        return;
    if (c != NULL)
        rt_store_relaxed(&c->inuse, c->inuse - (int64_t)slot_size(order));
    else
        rt_xadd(&inuse_global, -(int64_t)slot_size(order));
    uintptr_t e = entry_of(s);
    if (!deep && c != NULL && order < RT_STACK_CACHED_ORDERS) {
        if (c->n[order] == RT_STACK_CACHE_MAX) {
            rt_lock_acquire(&poollock);
            while (c->n[order] > RT_STACK_CACHE_MAX - REFILL)
                dq_push(&pools[order].dirty, c->slot[order][--c->n[order]], scav_gen);
            rt_lock_release(&poollock);
        }
        c->slot[order][c->n[order]++] = e;
        return;
    }
    rt_lock_acquire(&poollock);
    dq_push(deep ? &pools[order].deep : &pools[order].dirty, e, scav_gen);
    rt_lock_release(&poollock);
}

void rt_stackcache_flush(rt_stackcache *c)
{
    rt_lock_acquire(&poollock);
    for (int o = 0; o < RT_STACK_CACHED_ORDERS; o++)
        while (c->n[o] > 0)
            dq_push(&pools[o].dirty, c->slot[o][--c->n[o]], scav_gen);
    rt_lock_release(&poollock);
}

/* sysmon, before it sleeps with every P idle: deep slots, or dirty ones
 * (released once they have sat a whole period), mean work is left. */
bool rt_stack_scavenge_pending(void)
{
    bool pending = false;
    rt_lock_acquire(&poollock);
    for (int o = 0; o < RT_STACK_NORDERS && !pending; o++)
        pending = pools[o].deep.n != 0 || pools[o].dirty.n != 0;
    rt_lock_release(&poollock);
    return pending;
}

/* Return pages to the OS: deep slots first, then dirty slots that were in
 * the pool before the previous call. At most SCAVENGE_MAX madvise calls;
 * slots are taken out in small batches so the madvise calls run without
 * the pool lock (allocation never waits for the kernel). */
int64_t rt_stack_scavenge(void)
{
    int64_t done = 0;
    rt_lock_acquire(&poollock);
    int64_t gen = scav_gen++;
    rt_lock_release(&poollock);
    for (int o = 0; o < RT_STACK_NORDERS && done < SCAVENGE_MAX; o++) {
        for (int pass = 0; pass < 2 && done < SCAVENGE_MAX; pass++) {
            for (;;) {
                uintptr_t batch[32];
                int n = 0;
                rt_lock_acquire(&poollock);
                deque *d = pass == 0 ? &pools[o].deep : &pools[o].dirty;
                entry *h;
                while (n < 32 && done + n < SCAVENGE_MAX && (h = dq_head(d)) != NULL && h->gen < gen + (pass == 0)) {
                    batch[n++] = h->slot;
                    dq_pop_head(d);
                }
                rt_lock_release(&poollock);
                if (n == 0)
                    break;
                for (int i = 0; i < n; i++) {
                    uintptr_t slot = batch[i] & ~(uintptr_t)(PAGE - 1);
                    rt_sysUnused((void *)(slot + PAGE), slot_size(o) - PAGE);
                }
                rt_lock_acquire(&poollock);
                for (int i = 0; i < n; i++)
                    dq_push(&pools[o].clean, batch[i], gen);
                rt_lock_release(&poollock);
                done += n;
            }
        }
    }
    return done;
}

/* ---- debug tier 2 -------------------------------------------------------------- */

typedef struct stackseen {
    uintptr_t *slot;
    size_t n, cap;
} stackseen;

static void seen_add(stackseen *ss, uintptr_t e, int order, const char *where)
{
    uintptr_t slot = e & ~(uintptr_t)(PAGE - 1);
    int guard = (int)(e & (PAGE - 1));
    if (guard < RT_GUARD_MADVISE || guard > RT_GUARD_CANARY)
        rt_throwf("stackcheck: slot %#lx in %s has guard mode %d", (unsigned long)slot, where, guard);
    uintptr_t base = rt_stack_chunk_base(slot);
    if (base == 0 || (slot - base) % slot_size(order) != 0 || rt_stack_chunk_base(slot + slot_size(order) - 1) != base)
        rt_throwf("stackcheck: slot %#lx of order %d in %s is not a slot of a stack chunk", (unsigned long)slot,
                  order, where);
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? ss->cap * 2 : 1024;
        ss->slot = realloc(ss->slot, ss->cap * sizeof(uintptr_t));
        if (ss->slot == NULL)
            rt_throw("stackcheck: out of memory");
    }
    ss->slot[ss->n++] = slot;
}

static void seen_deque(stackseen *ss, const deque *d, int order, const char *where)
{
    for (size_t i = 0; i < d->n; i++)
        seen_add(ss, d->a[(d->head + i) & (d->cap - 1)].slot, order, where);
}

static bool seen_g(rt_g *gp, void *arg)
{
    uint32_t s = rt_readgstatus(gp);
    if (s == G_DEAD || s == G_IDLE || gp->stk.hi == 0)
        return true;
    if (gp->stk.order >= RT_STACK_NORDERS || gp->stk.hi - gp->stk.lo != rt_stack_order_size(gp->stk.order))
        rt_throwf("stackcheck: goroutine %lld has stack [%#lx, %#lx) of order %d", (long long)gp->goid,
                  (unsigned long)gp->stk.lo, (unsigned long)gp->stk.hi, gp->stk.order);
    if (gp->stk.guard == RT_GUARD_CANARY && !rt_stack_canary_ok(&gp->stk))
        rt_throwf("stackcheck: goroutine %lld overflowed its stack (canary)", (long long)gp->goid);
    seen_add(arg, entry_of(&gp->stk), gp->stk.order, "a goroutine");
    return true;
}

static int cmpslot(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

void rt_stack_check(rt_stackcache *const *caches, int ncaches)
{
    stackseen ss = {NULL, 0, 0};
    rt_lock_acquire(&poollock);
    for (int o = 0; o < RT_STACK_NORDERS; o++) {
        seen_deque(&ss, &pools[o].dirty, o, "the dirty pool");
        seen_deque(&ss, &pools[o].clean, o, "the clean pool");
        seen_deque(&ss, &pools[o].deep, o, "the deep pool");
    }
    rt_lock_release(&poollock);
    for (int i = 0; i < ncaches; i++) {
        for (int o = 0; o < RT_STACK_CACHED_ORDERS; o++) {
            if (caches[i]->n[o] > RT_STACK_CACHE_MAX)
                rt_throwf("stackcheck: a P's stack cache holds %u slots of order %d", caches[i]->n[o], o);
            for (uint32_t k = 0; k < caches[i]->n[o]; k++)
                seen_add(&ss, caches[i]->slot[o][k], o, "a P's stack cache");
        }
    }
    rt_foreachg(seen_g, &ss);
    qsort(ss.slot, ss.n, sizeof(uintptr_t), cmpslot);
    for (size_t i = 1; i < ss.n; i++)
        if (ss.slot[i] == ss.slot[i - 1])
            rt_throwf("stackcheck: stack slot %#lx is in two places", (unsigned long)ss.slot[i]);
    free(ss.slot);
}
