/* mgcmark.c - marking: roots, conservative scanning, the mark stack (Go:
 * mgcmark.go markroot, scanstack, scanConservative, scanobject, greyobject;
 * mgcwork.go for the work queue). The cycle that calls it is in mgc.c.
 *
 * Conservative marking. C gives no pointer maps, so every word of a root
 * or of a scan-class object is a candidate pointer: a word keeps an object
 * alive when rt_findobject maps it to an object whose allocBits bit is set
 * (a free slot is never marked, as Go's scanConservative skips them), and
 * pointers to any byte of an object count. A noscan object is marked and
 * never read. A tiny object is marked as its whole 16-byte block.
 *
 * Grey objects are (base, length) pairs on a LIFO mark stack reserved
 * NORESERVE once (pages are committed as it deepens). A large object is
 * scanned in pieces of at most SCAN_CHUNK bytes, so a huge array does not
 * keep the marker from the rest of the graph for long.
 *
 * The roots (rt_gc_markroots), with the world stopped:
 *   - every goroutine's stack, from its saved SP (or for the collecting
 *     goroutine, from the marker's own frame) to the top. The saved context
 *     of a parked goroutine, and the registers and vector state async
 *     preemption pushed, lie above that SP, so they are scanned with it;
 *   - a goroutine in a system call bracket: from the SP entersyscall saved,
 *     and the callee-saved registers it saved (rt_entersyscall_regs);
 *   - every G struct (the argument of a goroutine not yet started, the
 *     waker's param, channel wait elements, a sync wait's address), and the
 *     goroutine-local value arrays, which live in libc memory;
 *   - the writable segments of every loaded module (dl_iterate_phdr):
 *     data, bss and relro of the program and of every library;
 *   - the buffers of buffered channels (libc memory, chan.c);
 *   - ranges registered with gort_gc_add_roots, and the stack of a thread
 *     waiting in gort_run above its gort_run frame.
 * Not roots: memory from malloc, mmap or any other allocator, threads that
 * are not goroutines (see docs/gc.md: keep such pointers reachable from a
 * root), thread-local variables.
 *
 * The marker reads stacks and objects that it does not own, racily by
 * design (a goroutine in a system call keeps running): its loads are
 * outside the sanitizers' view (no_sanitize), as bdwgc's are. */
#include "gc.h"
#include "../sched/sched.h"
#include "../os/os.h"
#include "../debug/debug.h"

#include <gort.h>

#include <link.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_CHUNK (128 * 1024)            /* a large object is scanned in pieces */
#define MARKSTACK_BYTES ((size_t)1 << 32)  /* reserved, committed as used */

/* ---- the mark stack -------------------------------------------------------------- */

static void markstack_init(rt_gcwork *w)
{
    if (w->stack != NULL)
        return;
    int err = 0;
    w->stack = rt_sysAlloc(MARKSTACK_BYTES, RT_SYS_NORESERVE, &err);
    if (w->stack == NULL)
        rt_throwf("gc: cannot reserve the mark stack (errno %d)", -err);
    w->cap = MARKSTACK_BYTES / (2 * sizeof(uintptr_t));
}

static inline void push(rt_gcwork *w, uintptr_t base, uintptr_t len)
{
    if (__builtin_expect(w->n == w->cap, 0))
        rt_throw("gc: mark stack overflow");
    w->stack[2 * w->n] = base;
    w->stack[2 * w->n + 1] = len;
    w->n++;
}

/* ---- marking one candidate pointer --------------------------------------------- */

/* greyobject: v is a word found in a root or object. If it points into an
 * allocated, unmarked object, mark it and (scan class) queue it. */
static inline void greyobject(rt_gcwork *w, uintptr_t v)
{
    rt_mspan *s;
    uint32_t idx;
    uintptr_t base = rt_findobject(v, &s, &idx);
    if (base == 0)
        return;
    uint32_t wd = idx / 64;
    uint64_t bit = 1ull << (idx % 64);
    uintptr_t size;
    if (rt_spanclass_size(s->spanclass) == 0) {
        size = (uintptr_t)s->npages << RT_PAGE_SHIFT; /* large: in use is allocated */
    } else {
        if (!(s->allocBits[wd] & bit))
            return; /* a free slot: stale data, not an object */
        size = s->elemsize;
    }
    if (s->gcmarkBits[wd] & bit)
        return;
    s->gcmarkBits[wd] |= bit;
    w->markedbytes += size;
    if (!rt_spanclass_noscan(s->spanclass))
        push(w, base, size);
}

/* Scan [lo, hi) word by word (lo rounded up to a word). */
__attribute__((no_sanitize("address", "thread"))) void rt_gc_scanrange(rt_gcwork *w, uintptr_t lo, uintptr_t hi)
{
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (hi <= lo)
        return;
    w->scannedbytes += hi - lo;
    uintptr_t heaplo = rt_heap_lo(), span = rt_heap_hi() - heaplo;
    for (const uintptr_t *p = (const uintptr_t *)lo; (uintptr_t)(p + 1) <= hi; p++) {
        uintptr_t v = *p;
        if (v - heaplo < span) /* one compare turns most words away */
            greyobject(w, v);
    }
}

/* Drain the mark stack: scan grey objects until none is left. */
void rt_gc_drain(rt_gcwork *w)
{
    while (w->n != 0) {
        w->n--;
        uintptr_t base = w->stack[2 * w->n], len = w->stack[2 * w->n + 1];
        if (len > SCAN_CHUNK) { /* the rest goes back first */
            push(w, base + SCAN_CHUNK, len - SCAN_CHUNK);
            len = SCAN_CHUNK;
        }
        rt_gc_scanrange(w, base, base + len);
    }
}

/* ---- registered roots ------------------------------------------------------------- */

typedef struct rootrange {
    uintptr_t lo, len;
} rootrange;

static rt_lock rootslock = {0, RT_RANK_LEAF};
static rootrange *roots;
static size_t nroots, rootscap;

static void addroot(uintptr_t lo, size_t len)
{
    rt_lock_acquire(&rootslock);
    if (nroots == rootscap) {
        size_t ncap = rootscap ? rootscap * 2 : 16;
        rootrange *nr = realloc(roots, ncap * sizeof(*nr));
        if (nr == NULL) {
            rt_lock_release(&rootslock);
            rt_throw("gort_gc_add_roots: out of memory");
        }
        roots = nr;
        rootscap = ncap;
    }
    roots[nroots++] = (rootrange){lo, len};
    rt_lock_release(&rootslock);
}

static bool removeroot(uintptr_t lo)
{
    bool found = false;
    rt_lock_acquire(&rootslock);
    for (size_t i = nroots; i-- > 0;) {
        if (roots[i].lo == lo) {
            roots[i] = roots[--nroots];
            found = true;
            break;
        }
    }
    rt_lock_release(&rootslock);
    return found;
}

GORT_API void gort_gc_add_roots(void *p, size_t len)
{
    if (p == NULL || len == 0)
        return;
    addroot((uintptr_t)p, len);
}

GORT_API void gort_gc_remove_roots(void *p)
{
    if (p == NULL)
        return;
    if (!removeroot((uintptr_t)p))
        rt_throwf("gort_gc_remove_roots(%p): no range registered at this address", p);
}

/* gort_run's caller (boot.c): the part of its thread's stack above its
 * gort_run frame is a root while it waits. */
void rt_gc_addroot_internal(void *p, size_t len) { addroot((uintptr_t)p, len); }
void rt_gc_removeroot_internal(void *p) { (void)removeroot((uintptr_t)p); }

/* ---- the roots --------------------------------------------------------------------- */

typedef struct rootscan {
    rt_gcwork *w;
    rt_g *me;
    uintptr_t mysp;
} rootscan;

/* One goroutine's stack, G struct and local values. */
static bool scang(rt_g *gp, void *arg)
{
    rootscan *rs = arg;
    rt_gcwork *w = rs->w;
    uint32_t st = rt_readgstatus(gp);
    if (st == G_DEAD || st == G_IDLE)
        return true;
    rt_gc_scanrange(w, (uintptr_t)gp, (uintptr_t)(gp + 1));
    if (gp->gls != NULL)
        rt_gc_scanrange(w, (uintptr_t)gp->gls, (uintptr_t)(gp->gls + GORT_GLS_KEYS));
    if (gp->stk.hi == 0 || (!gp->started && gp != rs->me))
        return true; /* no frame yet: its argument is in the G */
    uintptr_t sp;
    if (gp == rs->me) {
        sp = rs->mysp;
    } else if (st == G_SYSCALL) {
        sp = gp->syscallsp;
        rt_gc_scanrange(w, (uintptr_t)gp->syscallregs, (uintptr_t)(gp->syscallregs + RT_SYSCALL_REGS));
    } else if (st == G_RUNNING) {
        rt_throwf("gc: goroutine %lld is running while the world is stopped", (long long)gp->goid);
    } else {
        sp = (uintptr_t)gp->sp;
    }
    if (sp < gp->stk.lo || sp > gp->stk.hi)
        rt_throwf("gc: goroutine %lld: saved stack pointer 0x%lx outside its stack [0x%lx, 0x%lx)",
                  (long long)gp->goid, (unsigned long)sp, (unsigned long)gp->stk.lo, (unsigned long)gp->stk.hi);
    w->stackbytes += gp->stk.hi - sp;
    rt_gc_scanrange(w, sp, gp->stk.hi);
    return true;
}

/* Writable PT_LOAD segments of every module (data, bss, relro), listed
 * before threads that are not goroutines are stopped: one of them may be
 * stopped inside the dynamic loader, holding the lock dl_iterate_phdr
 * takes. */
#define MAXSEGS 1024
static struct {
    uintptr_t lo, hi;
} segs[MAXSEGS];
static int nsegs;

static int listmodule(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        if (nsegs == MAXSEGS)
            rt_throw("gc: more than 1024 writable segments in loaded modules");
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        segs[nsegs].lo = lo;
        segs[nsegs].hi = lo + ph->p_memsz;
        nsegs++;
    }
    return 0;
}

void rt_gc_listmodules(void)
{
    nsegs = 0;
    dl_iterate_phdr(listmodule, NULL);
}

static void scanchanbuf(void *arg, uintptr_t lo, uintptr_t hi) { rt_gc_scanrange(arg, lo, hi); }

/* Mark everything the roots reach (world stopped). The caller flushed its
 * callee-saved registers to its frame (__builtin_unwind_init), which lies
 * above this one: the collecting goroutine's stack is scanned from here. */
__attribute__((noinline)) void rt_gc_markroots(rt_gcwork *w, uintptr_t mysp)
{
    markstack_init(w);
    rootscan rs = {w, rt_curg(), mysp != 0 ? mysp : (uintptr_t)__builtin_frame_address(0)};
    rt_foreachg(scang, &rs);
    rt_gc_drain(w);
    rt_gc_scanthreads(w);
    rt_gc_drain(w);
    for (int i = 0; i < nsegs; i++) {
        w->globalbytes += segs[i].hi - segs[i].lo;
        rt_gc_scanrange(w, segs[i].lo, segs[i].hi);
    }
    rt_gc_drain(w);
    rt_chan_gcscan(scanchanbuf, w);
    rt_lock_acquire(&rootslock);
    for (size_t i = 0; i < nroots; i++)
        rt_gc_scanrange(w, roots[i].lo, roots[i].lo + roots[i].len);
    rt_lock_release(&rootslock);
    rt_gc_drain(w);
}
