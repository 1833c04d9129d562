/* src/stack/stack.h - goroutine stacks (Go: stack.go). Design in stack.c. */
#ifndef GORT_STACK_H
#define GORT_STACK_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* Stack size classes ("orders"): slot size 16 KiB << order, the lowest
 * page of each slot being the guard. Order 4 (256 KiB) is the default. */
#define RT_STACK_MIN_SHIFT 14
#define RT_STACK_NORDERS 17 /* 16 KiB .. 1 GiB */
#define RT_STACK_DEFAULT_ORDER 4
#define RT_STACK_CACHED_ORDERS 6 /* orders 0..5 (<= 512 KiB) have per-P caches */
#define RT_STACK_CACHE_MAX 16    /* per order per P; refill/release half */
#define RT_STACK_MIN_SIZE ((size_t)1 << RT_STACK_MIN_SHIFT)                          /* 16 KiB */
#define RT_STACK_MAX_SIZE ((size_t)1 << (RT_STACK_MIN_SHIFT + RT_STACK_NORDERS - 1)) /* 1 GiB */

/* How a stack's overflow is caught (see docs/stacks.md). */
enum {
    RT_GUARD_MADVISE = 1,  /* MADV_GUARD_INSTALL page: fault on touch, no VMA split */
    RT_GUARD_MPROTECT = 2, /* PROT_NONE page: fault on touch, costs 2 VMAs */
    RT_GUARD_CANARY = 3,   /* canary word at the low end, checked on every switch */
};

/* A stack: usable memory [lo, hi); the guard page is [lo - page, lo). */
typedef struct rt_stack {
    uintptr_t lo, hi;
    uint8_t order;
    uint8_t guard; /* RT_GUARD_* */
} rt_stack;

/* Per-P stack cache (Go: p.mcache.stackcache). Owned by its P: only the
 * M holding the P touches it, without locks. */
typedef struct rt_stackcache {
    int64_t inuse; /* bytes allocated minus freed through this cache (atomic reads) */
    uint32_t n[RT_STACK_CACHED_ORDERS];
    uintptr_t slot[RT_STACK_CACHED_ORDERS][RT_STACK_CACHE_MAX];
} rt_stackcache;

#define RT_STACK_CANARY 0x9e3779b97f4a7c15ull

/* stack.c */
void rt_stackinit(void);
/* The order of a stack of `size` bytes: its reservation (guard page
 * included) rounded up to a power of two. -1 outside RT_STACK_MIN_SIZE ..
 * RT_STACK_MAX_SIZE (GORTSTACKSIZE and gort_go_stack share this range). */
int rt_stack_order_for(size_t size);
size_t rt_stack_order_size(int order);          /* usable bytes of an order */
void rt_stackalloc(rt_stackcache *c, int order, rt_stack *out); /* c may be NULL; fatal on OOM */
void rt_stackfree(rt_stackcache *c, rt_stack *s, bool deep);    /* c may be NULL */
void rt_stackcache_flush(rt_stackcache *c);
int64_t rt_stack_scavenge(void);                /* bounded background work; returns stacks released */
bool rt_stack_scavenge_pending(void);           /* the pool holds slots a later rt_stack_scavenge would release */
bool rt_stack_canary_ok(const rt_stack *s);
const char *rt_stack_guard_name(int guard);
int rt_stack_guard_mode(void);                  /* mode new stacks get now */
int64_t rt_stack_inuse_bytes(const rt_stackcache *c); /* c == NULL: the uncached part */
uintptr_t rt_stack_chunk_base(uintptr_t addr);   /* start of the stack chunk holding addr, or 0 */
/* Debug tier 2 (world stopped): every slot is in one place only (a G, one
 * of these caches, one pool deque), inside a stack chunk, aligned to its
 * order, with a valid guard mode; every live G's stack has its order's
 * size and, in canary mode, its canary. Throws with what it found. */
void rt_stack_check(rt_stackcache *const *caches, int ncaches);
extern int rt_stack_default_order;              /* GORTSTACKSIZE, default RT_STACK_DEFAULT_ORDER */

#endif /* GORT_STACK_H */
